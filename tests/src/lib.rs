//! Harness for tests that run inside the guest: boots OP-TEE on QEMU through `qemu/run.sh`
//! and hands back what each guest command printed and returned.
//!
//! These tests need the environment that `qemu/setup.sh` and `qemu/build.sh` produce. When
//! it is missing they fail and say so; they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn qemu_build_dir() -> PathBuf {
    std::env::var_os("SUIT_QEMU_BUILD")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("build/qemu"))
}

/// One guest command's result.
#[derive(Debug)]
pub struct CommandRun {
    pub command: String,
    pub output: String,
    pub status: i32,
}

/// A finished guest boot.
#[derive(Debug)]
pub struct GuestRun {
    /// `qemu/run.sh`'s exit status: the guest's first failing status, 124 timeout, 125 no status,
    /// 126 a secure-world panic.
    pub status: i32,
    pub normal_log: String,
    pub secure_log: String,
    pub commands: Vec<CommandRun>,
    pub log_dir: PathBuf,
}

impl GuestRun {
    pub fn command(&self, n: usize) -> &CommandRun {
        self.commands.get(n).unwrap_or_else(|| {
            panic!(
                "guest command {n} did not run; console:\n{}",
                self.normal_log
            )
        })
    }

    /// Panics with both logs unless the whole run succeeded.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.status, 0,
            "guest run failed (status {}), logs in {}\n--- normal world ---\n{}\n--- secure world (tail) ---\n{}",
            self.status,
            self.log_dir.display(),
            self.normal_log,
            tail(&self.secure_log, 40)
        );
        self
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Options for one boot.
#[derive(Default)]
pub struct Boot<'a> {
    /// Persistent disk image (secure storage); reused across boots to test persistence.
    pub disk: Option<&'a Path>,
    pub timeout_secs: Option<u32>,
}

/// Boots the guest once and runs `commands` in order.
pub fn boot(opts: Boot<'_>, commands: &[&str]) -> GuestRun {
    let out = qemu_build_dir().join("out");
    for f in ["qemu_fw.bios", "Image", "initrd.cpio.gz"] {
        assert!(
            out.join(f).is_file(),
            "{} is missing: the QEMU tests need `qemu/setup.sh && qemu/build.sh` (as root) first",
            out.join(f).display()
        );
    }
    let logs = tempfile::Builder::new()
        .prefix("suit-guest-")
        .tempdir()
        .expect("temp dir")
        .keep();
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("qemu/run.sh"))
        .arg("--quiet")
        .arg("--logs")
        .arg(&logs);
    cmd.arg("--timeout")
        .arg(opts.timeout_secs.unwrap_or(240).to_string());
    if let Some(disk) = opts.disk {
        cmd.arg("--disk").arg(disk);
    }
    cmd.arg("--").args(commands);
    let result = cmd.output().expect("running qemu/run.sh");
    let normal_log = std::fs::read_to_string(logs.join("normal.log")).unwrap_or_default();
    let secure_log =
        String::from_utf8_lossy(&std::fs::read(logs.join("secure.log")).unwrap_or_default())
            .into_owned();
    let run = GuestRun {
        status: result.status.code().unwrap_or(-1),
        commands: parse_commands(&normal_log),
        normal_log,
        secure_log,
        log_dir: logs,
    };
    if run.status != 0 {
        eprintln!(
            "qemu/run.sh stderr:\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
    }
    run
}

/// Splits the console into per-command sections using the markers `qemu/guest/init` prints.
fn parse_commands(log: &str) -> Vec<CommandRun> {
    let mut runs = Vec::new();
    let mut current: Option<CommandRun> = None;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("SUIT-GUEST-RUN[") {
            let command = rest
                .split_once("]: ")
                .map(|(_, c)| c.to_string())
                .unwrap_or_default();
            current = Some(CommandRun {
                command,
                output: String::new(),
                status: -1,
            });
        } else if let Some(rest) = line.strip_prefix("SUIT-GUEST-RC[") {
            if let Some(mut run) = current.take() {
                run.status = rest
                    .split_once("]=")
                    .and_then(|(_, s)| s.trim().parse().ok())
                    .unwrap_or(-1);
                runs.push(run);
            }
        } else if let Some(run) = current.as_mut() {
            run.output.push_str(line);
            run.output.push('\n');
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_markers_split_into_commands() {
        let log = "noise\nSUIT-GUEST-RUN[1]: a b\nout1\nSUIT-GUEST-RC[1]=0\nSUIT-GUEST-RUN[2]: c\nx\ny\nSUIT-GUEST-RC[2]=3\nSUIT-GUEST-EXIT=3\n";
        let runs = parse_commands(log);
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (
                runs[0].command.as_str(),
                runs[0].output.as_str(),
                runs[0].status
            ),
            ("a b", "out1\n", 0)
        );
        assert_eq!((runs[1].output.as_str(), runs[1].status), ("x\ny\n", 3));
    }
}
