//! The tools' standard output and error. `println!` panics when the stream is closed
//! (`suit-author ... --json | head -1`); these never do: what cannot be written is dropped and
//! the command carries on to its own exit status (an agent must not stop between the TA's
//! commit and the files it writes after it). And when a command writes an output file to its
//! own standard output (`-o /dev/stdout`), [`status_to_stderr`] keeps its human lines off it.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

static STATUS_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// From now on, what the tool prints for people goes to standard error: standard output
/// carries an output file.
pub fn status_to_stderr() {
    STATUS_TO_STDERR.store(true, Ordering::Relaxed);
}

/// Whether [`status_to_stderr`] was called.
pub fn stdout_is_taken() -> bool {
    STATUS_TO_STDERR.load(Ordering::Relaxed)
}

/// Writes to standard output (standard error after [`status_to_stderr`]); a closed stream is
/// ignored.
pub fn out(args: std::fmt::Arguments<'_>) {
    if stdout_is_taken() {
        return err(args);
    }
    let mut o = std::io::stdout().lock();
    let _ = o.write_fmt(args).and_then(|()| o.flush());
}

/// Writes to standard error; a closed stream is ignored.
pub fn err(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// [`out`] as a [`std::io::Write`], for code that prints into a writer.
pub struct Status;

impl std::io::Write for Status {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = if stdout_is_taken() {
            std::io::stderr().lock().write_all(buf)
        } else {
            std::io::stdout().lock().write_all(buf)
        };
        // A closed stream is not the command's failure.
        let _ = r;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stdout().lock().flush();
        Ok(())
    }
}

/// `println!` through [`out`].
#[macro_export]
macro_rules! outln {
    () => { $crate::stdio::out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::stdio::out(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!` through [`out`].
#[macro_export]
macro_rules! outp {
    ($($t:tt)*) => { $crate::stdio::out(format_args!($($t)*)) };
}

/// `eprintln!` through [`err`].
#[macro_export]
macro_rules! errln {
    () => { $crate::stdio::err(format_args!("\n")) };
    ($($t:tt)*) => { $crate::stdio::err(format_args!("{}\n", format_args!($($t)*))) };
}
