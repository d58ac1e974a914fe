//! Runs the built command-line tools (`suit-author`, `suit-agent --tee sim`) the way a user
//! does, and checks what every run must satisfy: an exit code and no panic.
//!
//! Cargo only tells the host crate's own tests where its binaries are
//! (`CARGO_BIN_EXE_*`), so [`cli_tools!`](crate::cli_tools) expands the runners there.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// One finished run of a tool.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Standard output followed by standard error, for checks that do not care where a
    /// message went.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `exe` in `dir` with `args`, feeding `stdin` (or an empty one). A tool that dies by a
/// signal or panics fails the test: refusals must be orderly.
pub fn run<S: AsRef<OsStr>>(exe: &str, dir: &Path, args: &[S], stdin: Option<&[u8]>) -> Out {
    let mut child = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{exe}: {e}"));
    let mut input = child.stdin.take().expect("piped stdin");
    if let Some(data) = stdin {
        input.write_all(data).expect("write stdin");
    }
    drop(input);
    let o = child.wait_with_output().expect("tool output");
    let r = Out {
        // A panic aborts (panic = "abort"): no exit code, never acceptable.
        code: o.status.code().unwrap_or_else(|| {
            let err = String::from_utf8_lossy(&o.stderr);
            panic!("{exe} died: {:?}\n{err}", o.status)
        }),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

/// `args` for `suit-agent` on the simulator whose state lives in `state` (below the run's
/// directory).
pub fn sim_args<'a>(state: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--tee", "sim", "--state", state];
    all.extend_from_slice(args);
    all
}

/// Asserts a run succeeded, showing both streams otherwise.
pub fn ok(r: Out) -> Out {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    r
}

/// Asserts a run failed with exit code `code` and said `expected` (on either stream);
/// returns everything it said.
pub fn fails(r: Out, code: i32, expected: &str) -> String {
    let all = r.text();
    assert_eq!(r.code, code, "{all}");
    assert!(all.contains(expected), "{all:?} lacks {expected:?}");
    all
}

/// An owned argument vector from strings and paths alike.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => { vec![$(::std::ffi::OsString::from($a)),*] };
}

/// Defines `author(dir, args)`, `agent(dir, args)` (simulator state `state`),
/// `agent_in(dir, args, stdin)` and `agent_state(dir, state, args)` in a test of the host
/// crate, bound to its built binaries.
#[macro_export]
macro_rules! cli_tools {
    () => {
        #[allow(dead_code)]
        fn author<S: AsRef<::std::ffi::OsStr>>(
            dir: &::std::path::Path,
            args: &[S],
        ) -> $crate::cli::Out {
            $crate::cli::run(env!("CARGO_BIN_EXE_suit-author"), dir, args, None)
        }
        #[allow(dead_code)]
        fn agent_state(dir: &::std::path::Path, state: &str, args: &[&str]) -> $crate::cli::Out {
            let all = $crate::cli::sim_args(state, args);
            $crate::cli::run(env!("CARGO_BIN_EXE_suit-agent"), dir, &all, None)
        }
        #[allow(dead_code)]
        fn agent_in(
            dir: &::std::path::Path,
            args: &[&str],
            stdin: Option<&[u8]>,
        ) -> $crate::cli::Out {
            let all = $crate::cli::sim_args("state", args);
            $crate::cli::run(env!("CARGO_BIN_EXE_suit-agent"), dir, &all, stdin)
        }
        #[allow(dead_code)]
        fn agent(dir: &::std::path::Path, args: &[&str]) -> $crate::cli::Out {
            agent_in(dir, args, None)
        }
        /// A simulated device in `dir` provisioned with the author anchor for `app`
        /// (`author.*.pem`, the device's identity key in `device.pub.pem`, class `board`).
        #[allow(dead_code)]
        fn provisioned_app_device(dir: &::std::path::Path) {
            $crate::cli::ok(agent(dir, &["device-key", "--out", "device.pub.pem"]));
            $crate::cli::ok(author(dir, &["keygen", "--type", "p256", "-o", "author"]));
            $crate::cli::write(dir, "p.json", $crate::cli::app_provisioning("board"));
            $crate::cli::ok(author(
                dir,
                &$crate::cli::provision_args("p.json", "p.cbor", &[]),
            ));
            $crate::cli::ok(agent(dir, &["provision", "p.cbor"]));
        }
    };
}

/// Defines `run(args)` and `ok(args)`: `suit-author` in the current directory (for tests whose
/// arguments are absolute paths), the second asserting success.
#[macro_export]
macro_rules! author_in_cwd {
    () => {
        #[allow(dead_code)]
        fn run<S: AsRef<::std::ffi::OsStr>>(args: &[S]) -> $crate::cli::Out {
            let here = ::std::path::Path::new(".");
            $crate::cli::run(env!("CARGO_BIN_EXE_suit-author"), here, args, None)
        }
        #[allow(dead_code)]
        fn ok<S: AsRef<::std::ffi::OsStr>>(args: &[S]) -> $crate::cli::Out {
            $crate::cli::ok(run(args))
        }
    };
}

/// A command line's arguments from one string split at white space, for the many runs whose
/// arguments are plain words: `words("create m.json -o m.suit")`.
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// `verify`'s arguments that run the envelope on a simulated device of the manifest-spec
/// examples' vendor and class (`--process --vendor-id .. --class-id ..`).
pub fn spec_device() -> Vec<std::ffi::OsString> {
    [
        "--process",
        "--vendor-id",
        crate::VENDOR_UUID,
        "--class-id",
        crate::CLASS_UUID,
    ]
    .map(std::ffi::OsString::from)
    .to_vec()
}

/// The TPA's provisioning description most tool tests use: for the device key
/// `device.pub.pem`, anchor 1 (`author.pub.pem`, author) for `app` and the identity
/// example.com / `class` (by name).
pub fn app_provisioning(class: &str) -> String {
    format!(
        r#"{{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}}}},
        {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "{class}"}}}}}}]}}"#
    )
}

/// A `suit-author create` description of release 1: component `app` from `fw.bin`, vendor
/// `example.com`, class `class` (by name).
pub fn app_description(class: &str) -> String {
    format!(
        r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "{class}"}},
        "components": [{{"id": ["app"], "file": "fw.bin"}}]}}"#
    )
}

/// [`app_description`] of class `board` with the payload encrypted to `recipients` (the
/// description's JSON list of recipients).
pub fn encrypted_app_description(recipients: &str) -> String {
    format!(
        r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
        "components": [{{"id": ["app"], "file": "fw.bin", "encryption": {{"recipients": {recipients}}}}}]}}"#
    )
}

/// Writes `contents` to `name` in `dir`.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), contents).unwrap_or_else(|e| panic!("{name}: {e}"));
}

/// A scratch directory for one test's files, removed when dropped.
pub struct Dir(pub tempfile::TempDir);

impl Dir {
    pub fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.path().join(name)
    }
}

impl Default for Dir {
    fn default() -> Self {
        Self::new()
    }
}

/// `suit-author provision JSON --tpa-key <the test TPA key> -o OUT`, then `extra`.
pub fn provision_args<'a>(json: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "provision",
        json,
        "--tpa-key",
        crate::keys::TPA_PRIV_PATH,
        "-o",
        out,
    ];
    v.extend_from_slice(extra);
    v
}
