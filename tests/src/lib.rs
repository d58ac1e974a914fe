//! Harness for tests that run inside the guest: boots OP-TEE on QEMU through `qemu/run.sh`
//! and hands back what each guest command printed and returned.
//!
//! These tests need the environment that `qemu/setup.sh` and `qemu/build.sh` produce. When
//! it is missing they fail and say so; they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod fw_server;

/// A boot that passes takes 30-120 s on an idle 2-core machine but up to ~4 min when other
/// builds share the cores; the limit only ends a hung guest, so it is generous.
const DEFAULT_TIMEOUT_SECS: u32 = 600;

/// Repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The QEMU build directory: `$SUIT_QEMU_BUILD`, else `build/qemu` (as qemu/lib.sh).
pub fn qemu_build_dir() -> PathBuf {
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

    /// Panics unless the secure log is free of what `qemu/run.sh` counts as a secure-world
    /// panic (its pattern, on error lines): a TA or the TEE core panicking or aborting.
    pub fn assert_no_secure_panic(&self) -> &Self {
        let panics: Vec<&str> = self
            .secure_log
            .lines()
            .map(str::trim_end)
            .filter(|l| {
                ["TA panicked", "Panic", "panicked at", "abort", "Abort"]
                    .iter()
                    .any(|p| l.contains(p))
            })
            .filter(|l| l.starts_with("E/"))
            .collect();
        assert!(panics.is_empty(), "{panics:?}\n{}", self.secure_log);
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
    /// Host files to place in the guest, as `HOST=GUEST` (see `qemu/run.sh --put`).
    pub puts: Vec<&'a str>,
    /// Simulated power cut: once this regex appears in the guest console, QEMU is killed
    /// (`qemu/run.sh --kill-on`, which then exits [`KILLED`]).
    pub kill_on: Option<&'a str>,
    /// Network to one host server: `qemu/run.sh --net-to PORT` (the guest reaches
    /// http://10.0.2.100/ = 127.0.0.1:PORT and nothing else; guest command 0 is the
    /// interface setup run.sh adds).
    pub net_to: Option<u16>,
}

/// `qemu/run.sh`'s status when `--kill-on` killed the guest.
pub const KILLED: i32 = 123;

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
    cmd.arg("--timeout").arg(
        opts.timeout_secs
            .unwrap_or(DEFAULT_TIMEOUT_SECS)
            .to_string(),
    );
    if let Some(disk) = opts.disk {
        cmd.arg("--disk").arg(disk);
    }
    for put in &opts.puts {
        cmd.arg("--put").arg(put);
    }
    if let Some(marker) = opts.kill_on {
        cmd.arg("--kill-on").arg(marker);
    }
    if let Some(port) = opts.net_to {
        cmd.arg("--net-to").arg(port.to_string());
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

    #[test]
    fn a_heap_scan_that_finds_the_earlier_control_on_the_stack_is_not_clean() {
        let scan = |earlier: &str| {
            format!("control: heap 1, dead stack 1\n{earlier}/plain/a.bin@0+32: 0\n")
        };
        let clean = |output: String| {
            std::panic::catch_unwind(|| assert_heap_scan_clean(&output, 1)).is_ok()
        };
        assert!(clean(scan("earlier control: dead stack 0\n")));
        assert!(!clean(scan("earlier control: dead stack 1\n")));
        assert!(!clean(scan("")));
    }
}

/// Test keys and key encodings shared by the end-to-end tests.
pub mod keys {
    use ciborium::Value;
    use suit_common::cose::SigningKey;

    use super::repo_root;

    /// Path of a file under tests/ (keys, vectors).
    pub fn path(rel: &str) -> std::path::PathBuf {
        repo_root().join("tests").join(rel)
    }

    /// Uncompressed point of a P-256 SubjectPublicKeyInfo PEM.
    pub fn p256_point(rel: &str) -> Vec<u8> {
        suit_test_support::sec1_from_pem(&format!("../{rel}"))
    }

    /// Signing key from a PKCS#8/SEC1 P-256 private key PEM.
    pub fn p256_signer(rel: &str) -> SigningKey {
        suit_test_support::p256_private_from_pem(&format!("../{rel}"))
    }

    fn encode(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).expect("CBOR");
        out
    }

    /// COSE_Key (EC2, P-256) for a public key PEM.
    pub fn p256_cose_key(rel: &str) -> Vec<u8> {
        let p = p256_point(rel);
        let int = |i: i64| Value::Integer(i.into());
        encode(&Value::Map(vec![
            (int(1), int(2)),
            (int(-1), int(1)),
            (int(-2), Value::Bytes(p[1..33].to_vec())),
            (int(-3), Value::Bytes(p[33..].to_vec())),
        ]))
    }

    /// COSE_Key (Symmetric) holding `secret`.
    pub fn symmetric_cose_key(secret: &[u8]) -> Vec<u8> {
        let int = |i: i64| Value::Integer(i.into());
        encode(&Value::Map(vec![
            (int(1), int(4)),
            (int(-1), Value::Bytes(secret.to_vec())),
        ]))
    }
}

/// Copies a directory out of a guest disk image (ext4) without booting, as the REE (or an
/// attacker with the disk) would see it. Uses e2fsprogs' debugfs.
pub fn copy_out_of_disk(disk: &Path, guest_dir: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("temp dir");
    let status = Command::new("debugfs")
        .arg("-R")
        .arg(format!("rdump {guest_dir} {}", out.path().display()))
        .arg(disk)
        .output()
        .expect("running debugfs (e2fsprogs)");
    assert!(
        status.status.success(),
        "debugfs failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    out
}

/// Every file below `dir`, with its bytes.
pub fn files_below(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read");
                out.push((p, bytes));
            }
        }
    }
    out
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

/// The host-side author tool, built on first use (`cargo build -p suit-host`).
pub fn suit_author() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "suit-host",
                    "--bin",
                    "suit-author",
                ])
                .current_dir(repo_root())
                .status()
                .expect("running cargo build");
            assert!(status.success(), "building suit-author failed");
            let exe = std::env::current_exe().expect("test executable path");
            // Tests run from target/<profile>/deps, binaries (qemu-bench) from target/<profile>.
            let dir = exe
                .parent()
                .filter(|d| !d.ends_with("deps"))
                .or_else(|| exe.parent().and_then(Path::parent))
                .expect("target/<profile>");
            let tool = dir.join("suit-author");
            assert!(tool.is_file(), "{} missing after build", tool.display());
            tool
        })
        .clone()
}

/// Runs the author tool in `dir`; panics with its output unless it succeeds.
pub fn author(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(suit_author())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running suit-author");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "suit-author {args:?} failed:\n{text}");
    text
}

/// The example consumer TA A's images as qemu/build.sh signed them: version 1 and version 2.
pub fn consumer_tas() -> (PathBuf, PathBuf) {
    let out = qemu_build_dir().join("out");
    (
        out.join("perso-consumer-A.ta"),
        out.join("perso-consumer-A-v2.ta"),
    )
}

/// The OP-TEE dev kit qemu/build.sh unpacked (signing script and the default TA key).
pub fn devkit_dir() -> PathBuf {
    qemu_build_dir().join("pkgs/optee-os-dev/usr/lib/optee-os-dev/vexpress-qemu_armv8a")
}

/// Signs the stripped TA ELF `elf` as `ta_version` of `uuid` into `out`, as qemu/build.sh
/// signs TAs: with the dev kit's key (the one OP-TEE verifies), or with `key` (a PEM RSA
/// private key OP-TEE does not know).
pub fn sign_ta(elf: &Path, uuid: &str, ta_version: u32, key: Option<&Path>, out: &Path) {
    let default_key = devkit_dir().join("keys/default_ta.pem");
    let st = Command::new("/usr/bin/python3")
        .arg(devkit_dir().join("scripts/sign_encrypt.py"))
        .args(["sign-enc", "--uuid", uuid, "--ta-version"])
        .arg(ta_version.to_string())
        .arg("--key")
        .arg(key.unwrap_or(&default_key))
        .arg("--in")
        .arg(elf)
        .arg("--out")
        .arg(out)
        .status()
        .expect("run sign_encrypt.py");
    assert!(st.success(), "signing {} failed", elf.display());
}

/// A fresh RSA-2048 private key (PEM) at `path`, made with the `cryptography` module the
/// dev kit's signing script needs anyway.
pub fn rsa_key(path: &Path) {
    let script = "import sys\n\
from cryptography.hazmat.primitives.asymmetric import rsa\n\
from cryptography.hazmat.primitives import serialization as s\n\
k = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n\
open(sys.argv[1], 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()))\n";
    let st = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(path)
        .status()
        .expect("run python3");
    assert!(st.success(), "making an RSA key failed");
}

/// UUIDs of the example consumer TA: A (delivered through SUIT by the tests) and B (installed
/// normally, the "wrong TA"), as qemu/build.sh recorded them.
pub fn consumer_uuids() -> (String, String) {
    let env = qemu_build_dir().join("out/perso-consumer.env");
    let text = std::fs::read_to_string(&env)
        .unwrap_or_else(|e| panic!("{}: {e} (run qemu/build.sh)", env.display()));
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {}", env.display()))
            .trim()
            .to_string()
    };
    (get("PERSO_CONSUMER_UUID_A"), get("PERSO_CONSUMER_UUID_B"))
}

/// The first PEM public key in a guest command's output (e.g. `suit-agent device-key`).
pub fn pem_from(output: &str) -> String {
    let start = output
        .find("-----BEGIN PUBLIC KEY-----")
        .expect("PEM in the guest output");
    let end = output[start..]
        .find("-----END PUBLIC KEY-----")
        .expect("PEM end")
        + start
        + "-----END PUBLIC KEY-----".len();
    format!("{}\n", &output[start..end])
}

/// Writes `name` in `dir`.
pub fn write_text(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
}

/// Writes the description `NAME.json`, runs `suit-author create` signed with
/// `author.priv.pem` in `dir`, and returns the `--put` specs that place `NAME.suit` at
/// `/up/NAME.suit` and its detached payloads under `/up/NAME/` in the guest.
pub fn create_envelope(dir: &Path, name: &str, description: &str) -> Vec<String> {
    create_envelope_signed(dir, name, description, &["author.priv.pem"])
}

/// The files a provision-then-install boot puts into the guest: the TPA's message
/// `provision.cbor` (in `dir`) as /up/provision.cbor, then each case's envelope and payloads
/// ([`create_envelope`] under the case's name).
pub fn provision_and_envelopes(dir: &Path, cases: &[(&str, String)]) -> Vec<String> {
    let mut puts = vec![format!(
        "{}=/up/provision.cbor",
        dir.join("provision.cbor").display()
    )];
    for (name, json) in cases {
        puts.extend(create_envelope(dir, name, json));
    }
    puts
}

/// [`create_envelope`] with explicit signer key files (each becomes one authentication block).
pub fn create_envelope_signed(
    dir: &Path,
    name: &str,
    description: &str,
    signers: &[&str],
) -> Vec<String> {
    write_text(dir, &format!("{name}.json"), description);
    let (json, suit) = (format!("{name}.json"), format!("{name}.suit"));
    let mut args = vec![
        "create",
        json.as_str(),
        "-o",
        suit.as_str(),
        "--payload-out",
        name,
    ];
    for s in signers {
        args.extend_from_slice(&["--sign-key", s]);
    }
    author(dir, &args);
    let mut puts = vec![format!("{}=/up/{suit}", dir.join(&suit).display())];
    if let Ok(entries) = std::fs::read_dir(dir.join(name)) {
        for e in entries.flatten() {
            puts.push(format!(
                "{}=/up/{name}/{}",
                e.path().display(),
                e.file_name().to_string_lossy()
            ));
        }
    }
    puts
}

/// Boots once on `disk` and writes the device's public identity key (created inside the TA
/// on first use; what `suit-agent device-key` exports by default) to `dir/device.pub.pem` and
/// `identity.pub.pem`, its provisioning key to `provisioning.pub.pem` and its key statement
/// to `key-statement.cbor` (what provisioning descriptions take the provisioning key from).
/// Tests treat this first export as the factory enrolment: it binds provisioning messages to
/// the device and checks the key statements of [`provision_and_export_anchor_keys`].
pub fn export_device_key(disk: &Path, dir: &Path) {
    export_device_key_between(disk, dir, &[], &[]);
}

/// [`export_device_key`] with guest commands `before` and `after` the export in the same
/// boot (numbered from 0 and from `before.len() + 4`); returns that boot.
pub fn export_device_key_between(
    disk: &Path,
    dir: &Path,
    before: &[&str],
    after: &[&str],
) -> GuestRun {
    let export = [
        "suit-agent device-key",
        "suit-agent device-key --which identity",
        "suit-agent device-key --which provisioning",
        "suit-agent device-key --out-dir /data/enrol",
    ];
    let cmds: Vec<&str> = before.iter().chain(&export).chain(after).copied().collect();
    let run = boot(
        Boot {
            disk: Some(disk),
            ..Default::default()
        },
        &cmds,
    );
    run.assert_ok();
    let enrol = copy_out_of_disk(disk, "/enrol");
    std::fs::copy(
        enrol.path().join("enrol/key-statement.cbor"),
        dir.join("key-statement.cbor"),
    )
    .expect("the device's key statement");
    let n = before.len();
    write_text(dir, "device.pub.pem", &pem_from(&run.command(n).output));
    write_text(
        dir,
        "identity.pub.pem",
        &pem_from(&run.command(n + 1).output),
    );
    write_text(
        dir,
        "provisioning.pub.pem",
        &pem_from(&run.command(n + 2).output),
    );
    run
}

/// Writes `provision.json` in `dir` and signs it with the repository's test TPA key into
/// `provision.cbor` (`suit-author provision`).
pub fn sign_provisioning(dir: &Path, description: &str) {
    write_text(dir, "provision.json", description);
    let tpa = keys::path("keys/tpa-test.priv.pem");
    let tpa = tpa.to_str().expect("UTF-8 repository path");
    author(
        dir,
        &[
            "provision",
            "provision.json",
            "--tpa-key",
            tpa,
            "-o",
            "provision.cbor",
        ],
    );
}

/// Boots once on `disk`: applies `dir/provision.cbor`, then exports each anchor's payload
/// keys with the TA's signed key statement. On the host, every statement is checked against
/// the enrolled identity key (`dir/device.pub.pem`, from [`export_device_key`]) with
/// `suit-author verify-key-statement`, which writes the verified `anchor-N.ecdh.pub.pem`
/// (ECDH-ES recipients) and `anchor-N.hpke.pub.pem` (HPKE recipients) into `dir`, checking
/// that anchor N holds the key `dir/provision.json` gave it (`--anchor-key`).
pub fn provision_and_export_anchor_keys(disk: &Path, dir: &Path, anchors: &[u32]) {
    let put = format!(
        "{}=/up/provision.cbor",
        dir.join("provision.cbor").display()
    );
    let mut cmds = vec!["suit-agent provision /up/provision.cbor".to_string()];
    for a in anchors {
        cmds.push(format!(
            "suit-agent device-key --anchor {a} --out-dir /data/keys"
        ));
    }
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    boot(
        Boot {
            disk: Some(disk),
            puts: vec![&put],
            ..Default::default()
        },
        &refs,
    )
    .assert_ok();
    let keys = copy_out_of_disk(disk, "/keys");
    let description: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("provision.json")).expect("provision.json"),
    )
    .expect("provision.json is JSON");
    for a in anchors {
        let statement = keys.path().join(format!("keys/anchor-{a}.statement.cbor"));
        let statement = statement.to_str().expect("UTF-8 temp path");
        let anchor_key = description["ops"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|op| op.get("add-anchor"))
            .find(|add| add["id"] == *a)
            .and_then(|add| add.get("key").or_else(|| add.get("hmac-key")))
            .and_then(|k| k.as_str())
            .unwrap_or_else(|| panic!("provision.json adds no anchor {a}"));
        author(
            dir,
            &[
                "verify-key-statement",
                statement,
                "--identity-key",
                "device.pub.pem",
                "--anchor",
                &a.to_string(),
                "--anchor-key",
                anchor_key,
                "--out-dir",
                ".",
            ],
        );
    }
}

/// `suit-author verify-report --json` of the report `name` the guest wrote (copied out of
/// its disk into `reports`), verified in `dir` with the device's report key `report.pub.pem`.
pub fn verified_report(dir: &Path, reports: &Path, name: &str) -> serde_json::Value {
    let path = reports.join(name);
    assert!(path.is_file(), "the guest wrote no {name}");
    let out = author(
        dir,
        &[
            "verify-report",
            path.to_str().expect("UTF-8 temp path"),
            "--device-key",
            "report.pub.pem",
            "--json",
        ],
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: {e}: {out}"))
}

impl GuestRun {
    /// Asserts guest command `n`'s output contains `needle`, showing that output otherwise.
    #[track_caller]
    pub fn says(&self, n: usize, needle: &str) -> &Self {
        let out = &self.command(n).output;
        assert!(
            out.contains(needle),
            "{out}\n(command {n} lacks {needle:?})"
        );
        self
    }
}

/// A scratch directory with a new data disk (`data.img`) whose device has exported its keys
/// ([`export_device_key`]: one boot).
pub fn enrolled_device() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("data.img");
    export_device_key(&disk, dir.path());
    (dir, disk)
}

/// [`enrolled_device`] with an author key (`author.priv.pem`) and the TPA's signed message
/// `provision.cbor` (not sent yet): it adds the author as anchor 1 for the consumer TA
/// `uuid`'s components (and the REE's files with `ree`) and sets the identity the consumer
/// tests use (example.com / qemu-armv8).
pub fn consumer_author_device(uuid: &str, ree: bool) -> (tempfile::TempDir, PathBuf) {
    let (dir, disk) = enrolled_device();
    let d = dir.path();
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    let ree = if ree { r#", ["ree"]"# } else { "" };
    sign_provisioning(
        d,
        &format!(
            r#"{{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["hex:{}"]{ree}]}}}},
            {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}}}}}}]}}"#,
            uuid.replace('-', "")
        ),
    );
    (dir, disk)
}

/// Checks the output of `suit-agent heap-scan` with `needles` needles: the control was found
/// both in the TA's heap and in the dead part of its stack (so the scan saw both), the control
/// an earlier scan left on the stack was wiped with the rest of that command's stack, and no
/// needle was found in either.
pub fn assert_heap_scan_clean(output: &str, needles: usize) {
    let mut lines = output.lines();
    let control = lines
        .next()
        .and_then(|l| l.strip_prefix("control: heap "))
        .and_then(|l| l.split_once(", dead stack "))
        .and_then(|(h, s)| Some((h.parse::<u32>().ok()?, s.parse::<u32>().ok()?)));
    assert!(
        matches!(control, Some((h, s)) if h >= 1 && s >= 1),
        "the scan did not find its own control in the heap and on the stack:\n{output}"
    );
    let earlier = lines
        .next()
        .and_then(|l| l.strip_prefix("earlier control: dead stack "))
        .and_then(|s| s.parse::<u32>().ok());
    assert_eq!(
        earlier,
        Some(0),
        "the control an earlier scan left on the TA's stack outlived its command \
         (the entry points' stack scrub, ta/src/heap.rs):\n{output}"
    );
    let counts: Vec<(&str, Option<u32>)> = lines
        .filter_map(|l| l.rsplit_once(": "))
        .map(|(what, n)| (what, n.trim().parse().ok()))
        .collect();
    assert_eq!(counts.len(), needles, "{output}");
    for (what, n) in counts {
        assert_eq!(n, Some(0), "{what} is in the update TA's memory:\n{output}");
    }
}
