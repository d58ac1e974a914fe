//! Levelled log lines on standard error (`suit-agent: LEVEL: message`), for a daemon whose
//! output goes to the journal. Standard output stays for results.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line; control characters in `message` (a URI from a manifest, a server's text)
/// are escaped ([`crate::human::printable`]), so a line is one line and sets no terminal mode.
pub fn log(level: Level, message: &str) {
    if enabled(level) {
        let name = match level {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
        };
        crate::errln!("suit-agent: {name}: {}", crate::human::printable(message));
    }
}

pub fn error(message: &str) {
    log(Level::Error, message)
}
pub fn warn(message: &str) {
    log(Level::Warn, message)
}
pub fn info(message: &str) {
    log(Level::Info, message)
}
pub fn debug(message: &str) {
    log(Level::Debug, message)
}
