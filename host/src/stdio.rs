//! The tools' standard output and error. `println!` panics when the stream is closed
//! (`suit-author ... --json | head -1`); these never do. A closed stream (a reader that went
//! away: `BrokenPipe`) is ignored: the command carries on to its own exit status (an agent
//! must not stop between the TA's commit and the files it writes after it). Any other error
//! writing standard output (a full disk, an I/O error) is recorded, the command carries on,
//! and the tool's `main` exits non-zero after it ([`finish`]): output that was lost is never a
//! success. Lost diagnostics on standard error do not fail a command whose output was
//! written (its `--json` answer already said how it went).
//! Commands whose output *is* standard output (a key, a receipt, an inspection) use
//! [`try_out`] / [`Status`] and fail at once. And when a command writes an output file to its
//! own standard output (`-o /dev/stdout`), [`status_to_stderr`] keeps its human lines off it.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static STATUS_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// The first write error other than a closed stream, as "writing standard output failed: why".
static FAILED: OnceLock<String> = OnceLock::new();

/// From now on, what the tool prints for people goes to standard error: standard output
/// carries an output file.
pub fn status_to_stderr() {
    STATUS_TO_STDERR.store(true, Ordering::Relaxed);
}

/// Whether [`status_to_stderr`] was called.
pub fn stdout_is_taken() -> bool {
    STATUS_TO_STDERR.load(Ordering::Relaxed)
}

/// The stream [`out`] writes to, in words (for an error [`try_out`] returned).
pub fn out_name() -> &'static str {
    if stdout_is_taken() {
        "standard error"
    } else {
        STDOUT
    }
}

/// `r`, a write to `stream`: a closed stream (the reader went away) is success; another
/// failure is returned, and remembered for [`finish`] (the first one) if `stream` is standard
/// output.
fn noted(stream: &str, r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            if stream == STDOUT {
                let _ = FAILED.set(format!("writing {stream} failed: {e}"));
            }
            Err(e)
        }
        Ok(()) => Ok(()),
    }
}

const STDOUT: &str = "standard output";

fn write_out(buf: &[u8]) -> std::io::Result<()> {
    let r = if stdout_is_taken() {
        std::io::stderr().lock().write_all(buf)
    } else {
        let mut o = std::io::stdout().lock();
        o.write_all(buf).and_then(|()| o.flush())
    };
    noted(out_name(), r)
}

/// Writes to standard output (standard error after [`status_to_stderr`]) and returns a
/// write error other than a closed stream, for what the command exists to print.
pub fn try_out(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    write_out(std::fmt::format(args).as_bytes())
}

/// Writes to standard output (standard error after [`status_to_stderr`]); a closed stream is
/// ignored, another failure remembered for [`finish`].
pub fn out(args: std::fmt::Arguments<'_>) {
    let _ = try_out(args);
}

/// Writes to standard error (diagnostics); a failure is ignored.
pub fn err(args: std::fmt::Arguments<'_>) {
    let _ = noted("standard error", std::io::stderr().lock().write_fmt(args));
}

/// Flushes standard output and returns the first write failure other than a closed stream
/// (`writing standard output failed: why`), if any: the tool then exits non-zero.
pub fn finish() -> Option<&'static str> {
    let _ = noted(STDOUT, std::io::stdout().lock().flush());
    FAILED.get().map(String::as_str)
}

/// [`out`] as a [`std::io::Write`], for code that prints into a writer. A closed stream is
/// ignored; another failure is remembered for [`finish`] and returned, so a command that
/// propagates it fails at once.
pub struct Status;

impl std::io::Write for Status {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_out(buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if stdout_is_taken() {
            return Ok(());
        }
        noted(STDOUT, std::io::stdout().lock().flush())
    }
}

/// Parses the tool's command line. A usage error prints clap's message on standard error
/// and, when `--json` is among the arguments, first `failure(message)` on standard output,
/// the tool's JSON failure document: a `--json` caller gets one document whatever failed.
/// `Err` holds the exit status (2; 0 for `--help` and `--version`, printed as usual).
pub fn parse_args<C: clap::Parser>(
    failure: impl FnOnce(&str) -> String,
) -> Result<C, std::process::ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let e = match C::try_parse_from(&args) {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    let json = args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    if json && e.use_stderr() {
        // clap's text without styling: "error: WHAT\n\nUsage: ...": WHAT is the message.
        let rendered = e.render().to_string();
        let what = rendered.split("\n\n").next().unwrap_or_default();
        out(format_args!(
            "{}\n",
            failure(what.strip_prefix("error: ").unwrap_or(what))
        ));
    }
    let _ = e.print();
    Err(std::process::ExitCode::from(
        u8::try_from(e.exit_code()).unwrap_or(2),
    ))
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
