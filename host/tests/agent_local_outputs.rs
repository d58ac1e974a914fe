//! The agent's local commands (review s28, local commands): outputs opened before the TA is
//! asked (a FIFO nobody reads refused at once, never waited for; a receipt never lost to an
//! unusable file), `device-key` files all or none, a payload URI nobody offered left to the
//! TA (a try-each may not fetch it), an export suggested for a signer's path shell-quoted,
//! a lock held too long transient (exit 3), a build that cannot reach any TA its own status
//! (exit 6), which the example systemd unit does not restart on.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use suit_test_support::cli::{provision_args, write};
use support::device::{
    agent, author, device, device_with_ree, fails, installed_components, ok, run, status,
};
use support::tryeach::{try_each_envelope, Uris};

/// The try-each envelope's URIs: never fetched here (no `--net`), only offered as files.
const URIS: Uris = (
    "https://x.example/p/delta.bin",
    "https://x.example/p/full.bin",
);

/// `suit-agent --tee sim --state state ARGS`, killed (and the test failed) if it has not
/// finished within 30 s: an output that blocks the agent must fail the test, not hang it.
fn agent_within(d: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_suit-agent"))
        .args(["--tee", "sim", "--state", "state"])
        .args(args)
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("suit-agent {args:?} blocked for 30 s (killed)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .unwrap()
        .file_type()
        .is_fifo()
}

/// `p.cbor`: the TPA's first message to the simulated device in `d` (its key exported to
/// `device.pub.pem`), adding `author`'s key (made here) for `app`.
fn provisioning_message(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    write(
        d,
        "p.json",
        suit_test_support::cli::app_provisioning("board"),
    );
    author(
        d,
        &suit_test_support::cli::provision_args("p.json", "p.cbor", &[]),
    );
}

fn provisioning_counter(d: &Path) -> u64 {
    let o = agent(d, &["anchors", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    j["provisioning-counter"].as_u64().unwrap()
}

/// The review's reproduction: `report -o FIFO` with no reader blocked for ever in open(2),
/// holding the lock and the TA session; `provision --receipt-out FIFO` did so after the TA had
/// applied the message, and the receipt (which the TA cannot give again) was lost. Now the
/// FIFO is refused at once (exit 2, nothing written, the FIFO left as it is), before the TA
/// is asked: the message is not applied, and the same message goes through afterwards.
#[test]
fn an_output_fifo_nobody_reads_is_refused_before_the_ta_is_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A refused attempt, so that there is a report to write.
    std::fs::write(d.join("junk.suit"), [0xd8, 0x6b, 0xa0]).unwrap();
    fails(agent(d, &["install", "junk.suit"]), 1);
    let fifo = d.join("out.fifo");
    mkfifo(&fifo);
    let nobody_reads =
        "a FIFO no process has open for reading (or a device with nothing behind it); start \
         the reader first";
    for args in [
        &["report", "--pre-auth", "-o", "out.fifo"][..],
        &["device-key", "--out", "out.fifo"],
        &["device-key", "--statement", "out.fifo"],
    ] {
        let t = fails(agent_within(d, args), 2);
        assert!(t.contains(nobody_reads), "{args:?}: {t}");
        assert!(is_fifo(&fifo));
    }

    provisioning_message(d);
    let t = fails(
        agent_within(d, &["provision", "p.cbor", "--receipt-out", "out.fifo"]),
        2,
    );
    assert!(t.contains(nobody_reads), "{t}");
    assert!(!t.contains("accepted"), "{t}");
    assert_eq!(provisioning_counter(d), 0, "the message was applied: {t}");
    // A FIFO someone reads is written through (the receipt arrives there). The reader end
    // is open before the agent starts (non-blocking: no writer yet) and read once it exited:
    // the receipt fits in the pipe's buffer, and EOF follows it.
    let reader = rustix::fs::open(
        &fifo,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let t = ok(agent_within(
        d,
        &["provision", "p.cbor", "--receipt-out", "out.fifo"],
    ));
    assert_eq!(provisioning_counter(d), 1);
    let mut receipt = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(reader), &mut receipt).unwrap();
    assert!(!receipt.is_empty(), "{t}");
    assert!(
        t.contains(&format!(
            "receipt (signed by the device identity key): {}",
            hex::encode(&receipt)
        )),
        "{t}"
    );
}

/// `device-key --out-dir` and `--out` with `--statement` write their files all or none: one
/// that cannot be written leaves every other as it was (before, the files before it were
/// written one at a time). The same file named twice is refused.
#[test]
fn device_key_writes_its_files_all_or_none() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("keys/report.pub.pem")).unwrap();
    let t = fails(agent(d, &["device-key", "--out-dir", "keys"]), 2);
    assert!(t.contains("report.pub.pem is a directory"), "{t}");
    let left: Vec<_> = std::fs::read_dir(d.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["report.pub.pem"], "{t}");

    std::fs::create_dir(d.join("k.pem")).unwrap();
    let t = fails(
        agent(
            d,
            &["device-key", "--statement", "s.cbor", "--out", "k.pem"],
        ),
        2,
    );
    assert!(t.contains("k.pem is a directory"), "{t}");
    assert!(!d.join("s.cbor").exists(), "{t}");

    let t = fails(
        agent(d, &["device-key", "--statement", "same", "--out", "same"]),
        2,
    );
    assert!(t.contains("to the same file"), "{t}");

    std::fs::remove_dir(d.join("keys/report.pub.pem")).unwrap();
    ok(agent(d, &["device-key", "--out-dir", "keys"]));
    for f in [
        "identity.pub.pem",
        "report.pub.pem",
        "provisioning.pub.pem",
        "key-statement.cbor",
    ] {
        assert!(
            std::fs::metadata(d.join("keys").join(f)).unwrap().len() > 0,
            "{f}"
        );
    }
}

/// The agent's outputs are one file however their paths spell it, by the author tool's
/// rule (`files::check_outputs`): `device-key --out ./k.pem --statement k.pem` compared the
/// strings, wrote the key, then failed on the statement's staged name and left k.pem holding
/// the statement (review s29). Refused now before anything is written, in a directory not
/// made yet too; a receipt is never written over the message it answers, which the TA then
/// does not apply.
#[test]
fn agent_outputs_naming_one_file_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::os::unix::fs::symlink(".", d.join("here")).unwrap();
    for args in [
        ["--out", "./k.pem", "--statement", "k.pem"],
        ["--out", "nd/k.pem", "--statement", "nd/x/../k.pem"],
        ["--out", "here/k.pem", "--statement", "k.pem"],
        ["--out-dir", "kd", "--statement", "kd/./key-statement.cbor"],
    ] {
        let mut all = vec!["device-key"];
        all.extend(args);
        let t = fails(agent(d, &all), 2);
        assert!(t.contains("to the same file"), "{args:?}: {t}");
        assert!(t.contains("nothing was written"), "{args:?}: {t}");
        for f in ["k.pem", "nd", "kd"] {
            assert!(!d.join(f).exists(), "{args:?}: {f} was written");
        }
    }
    device(d);
    let before = provisioning_counter(d);
    author(
        d,
        &provision_args("provision.json", "again.cbor", &["--counter", "2"]),
    );
    let message = std::fs::read(d.join("again.cbor")).unwrap();
    let t = fails(
        agent(
            d,
            &["provision", "again.cbor", "--receipt-out", "./again.cbor"],
        ),
        2,
    );
    assert!(t.contains("that file is an input"), "{t}");
    assert_eq!(std::fs::read(d.join("again.cbor")).unwrap(), message);
    assert_eq!(provisioning_counter(d), before);
}

/// The TA lists every URI a manifest may fetch; a try-each option whose condition fails never
/// fetches its own (manifest-37: the next option is started). A URI nobody offered is left
/// to the TA: the update installs when the manifest did not need it (before, the agent
/// refused it, exit 2, though `suit-author verify --process` applied it), and when the
/// manifest does fetch it the TA refuses and the agent names that URI (exit 2, nothing
/// installed).
#[test]
fn a_payload_nobody_offered_is_left_to_the_ta() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    let full: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::create_dir(d.join("offered")).unwrap();
    std::fs::write(d.join("offered/full.bin"), &full).unwrap();

    try_each_envelope(d, "v1", 1, &full, true, URIS);
    let t = ok(agent(
        d,
        &["install", "v1.suit", "--payload-dir", "offered"],
    ));
    assert!(t.contains("installed v1.suit (sequence number 1"), "{t}");
    assert!(t.contains("fetched https://x.example/p/full.bin"), "{t}");
    assert!(
        t.contains("not offered, not needed: https://x.example/p/delta.bin"),
        "{t}"
    );
    assert_eq!(installed_components(d), 1);

    // Option 1 unguarded: the manifest fetches delta.bin, which nothing provides.
    try_each_envelope(d, "v2", 2, &full, false, URIS);
    for json in [false, true] {
        let mut args = vec!["install", "v2.suit", "--payload-dir", "offered"];
        if json {
            args.push("--json");
        }
        let o = agent(d, &args);
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        let t = fails(o, 2);
        assert!(
            t.contains(
                "payload https://x.example/p/delta.bin: no --payload or --payload-dir file provides it"
            ),
            "{t}"
        );
        if json {
            let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(j["exit-code"], 2, "{t}");
        }
    }
    let components = &status(d)["service"]["components"];
    assert_eq!(components[0]["sequence-number"], 1, "{components}");
}

/// An approved REE path is the manifest signer's text: the `suit-agent export` the agent
/// suggests for it (listed without `--ree-root`, named in the error when it cannot be
/// written) quotes it, so a shell given the suggestion gets that path as one word and runs
/// nothing in it.
#[test]
fn an_export_suggested_for_a_signers_path_runs_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device_with_ree(d);
    let hostile = "x$(touch PWNED)'`touch PWNED2`";
    let envelope = |name: &str, seq: u64| {
        std::fs::write(d.join("conf.bin"), format!("release={seq}\n")).unwrap();
        let description = serde_json::json!({
            "sequence-number": seq,
            "vendor-id": {"name": "example.com"},
            "class-id": {"name": "board"},
            "components": [{"id": ["ree", "etc", hostile], "file": "conf.bin"}],
        });
        write(d, &format!("{name}.json"), description.to_string());
        author(
            d,
            &[
                "create",
                &format!("{name}.json"),
                "-o",
                &format!("{name}.suit"),
                "--sign-key",
                "author.priv.pem",
            ],
        );
    };
    // What a shell makes of a suggested command: its words (`printf` in place of the agent).
    let words_of = |command: &str| -> Vec<String> {
        let command = command
            .strip_prefix("suit-agent ")
            .unwrap_or_else(|| panic!("not a suit-agent command: {command}"));
        let o = Command::new("sh")
            .args(["-c", &format!("printf '%s\\n' {command}")])
            .current_dir(d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let path = format!("etc/{hostile}");

    envelope("v1", 1);
    let t = ok(agent(d, &["install", "v1.suit"]));
    let listed = t
        .lines()
        .find_map(|l| l.trim().strip_prefix("suit-agent export").map(|_| l.trim()))
        .unwrap_or_else(|| panic!("no export listed: {t}"));
    assert_eq!(
        words_of(listed),
        ["export", path.as_str(), "--ree-root", "DIR"],
        "{t}"
    );

    envelope("v2", 2);
    // Under the REE root, `etc` is a regular file: the approved file cannot be written.
    std::fs::create_dir(d.join("ree")).unwrap();
    write(d, "ree/etc", "not a directory");
    let t = fails(agent(d, &["install", "v2.suit", "--ree-root", "ree"]), 5);
    // The path has backquotes of its own: the suggestion ends where the sentence goes on.
    let suggested = t
        .split_once("run `")
        .and_then(|(_, rest)| rest.split_once("` to write it"))
        .map(|(command, _)| command)
        .unwrap_or_else(|| panic!("no export suggested: {t}"));
    let words = words_of(suggested);
    assert_eq!(words, ["export", path.as_str(), "--ree-root", "ree"], "{t}");
    assert!(!d.join("PWNED").exists() && !d.join("PWNED2").exists());
    // Those words write the file.
    let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
    args[3] = "ree2";
    ok(agent(d, &args));
    assert_eq!(
        std::fs::read_to_string(d.join("ree2").join(&path)).unwrap(),
        "release=2\n"
    );
}

/// Another agent holding the lock for the whole `--lock-wait` is transient, as a TEE that
/// cannot be reached (exit 3), not unusable input (it was 2, which the systemd unit does not
/// restart on).
#[test]
fn a_lock_held_for_the_whole_wait_is_transient() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let held = suit_host::transport::lock::AgentLock::acquire(
        &d.join("agent.lock"),
        Duration::from_secs(1),
    )
    .unwrap();
    let t = fails(
        agent(d, &["--lock", "agent.lock", "--lock-wait", "0", "status"]),
        3,
    );
    assert!(t.contains("another suit-agent holds"), "{t}");
    drop(held);
}

/// The simulator's lock is one file for one state directory however `--state` spells it:
/// `--state st/` locked `st/.lock` and `--state st` `st.lock`, so two agents on one state ran
/// at once (review s29). It is inside the directory: `--state .` put it in the parent, which
/// a user who may write only the state directory could not create (re-review s29 F4).
#[test]
fn one_state_directory_has_one_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir(d.join("st")).unwrap();
    std::os::unix::fs::symlink("st", d.join("alias")).unwrap();
    let held = suit_host::transport::lock::AgentLock::acquire(
        &d.join("st/.agent.lock"),
        Duration::from_secs(1),
    )
    .unwrap();
    let sim = |at: &Path, state: &str, more: &[&str]| {
        let mut args = vec!["--tee", "sim", "--state", state];
        args.extend(more);
        run(env!("CARGO_BIN_EXE_suit-agent"), at, &args, &[])
    };
    for state in ["st", "st/", "./st", "st/.", "alias", "alias/"] {
        let t = fails(sim(d, state, &["--lock-wait", "0", "status"]), 3);
        assert!(t.contains("another suit-agent holds"), "{state}: {t}");
    }
    let t = fails(sim(&d.join("st"), ".", &["--lock-wait", "0", "status"]), 3);
    assert!(t.contains("another suit-agent holds"), ".: {t}");
    drop(held);
    ok(sim(d, "alias/", &["status"]));
    let names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "a lock beside the state directory: {names:?}"
    );
}

/// `--state .` keeps the lock inside the state directory: it was `../NAME.lock`, which a
/// user who cannot write the parent could not create ("Permission denied", re-review s29
/// F4). The parent is made read-only, which stops only a run that is not root; as root the
/// test checks that nothing is made beside the state directory.
#[test]
fn the_state_directory_itself_holds_its_lock() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let parent = tmp.path().join("parent");
    let st = parent.join("st");
    std::fs::create_dir_all(&st).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o555)).unwrap();
    let r = run(
        env!("CARGO_BIN_EXE_suit-agent"),
        &st,
        &["--tee", "sim", "--state", ".", "status"],
        &[],
    );
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    ok(r);
    assert!(st.join(".agent.lock").is_file());
    assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 1);
}

/// A build without OP-TEE support cannot reach any TA: it says to rebuild with the feature
/// (`--tee sim` is for development only), and exits 6, also from `poll --interval`, which
/// stops on it; the example systemd unit does not restart on 6 (nor 2), and says so.
#[test]
fn an_agent_that_cannot_reach_any_ta_stops_with_its_own_status() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/suit-agent-poll.service"),
    )
    .unwrap();
    let prevent: Vec<&str> = unit
        .lines()
        .find_map(|l| l.strip_prefix("RestartPreventExitStatus="))
        .unwrap_or_else(|| panic!("no RestartPreventExitStatus=:\n{unit}"))
        .split_whitespace()
        .collect();
    assert_eq!(prevent, ["2", "6"]);
    assert!(!unit.contains("SupplementaryGroups="), "{unit}");
    assert!(unit.contains("\nCapabilityBoundingSet=\n"), "{unit}");
    if cfg!(feature = "optee") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let run = |args: &[&str]| {
        let mut all = vec!["--lock", "agent.lock"];
        all.extend_from_slice(args);
        support::device::run(env!("CARGO_BIN_EXE_suit-agent"), d, &all, &[])
    };
    let t = fails(run(&["status"]), 6);
    assert!(
        t.contains("rebuild it with `--features optee`") && t.contains("development only"),
        "{t}"
    );
    let start = Instant::now();
    let t = fails(
        run(&[
            "poll",
            "http://127.0.0.1:9/fw",
            "--interval",
            "60",
            "--rounds",
            "3",
        ]),
        6,
    );
    assert!(t.contains("stopping"), "{t}");
    assert!(start.elapsed() < Duration::from_secs(30), "{t}");
}

/// `.suit-tmp` names left in `dir`: an output opened and never written leaves none.
fn temporaries_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".suit-tmp"))
        .collect()
}

/// Review s35 (user) 1: an output in a directory the agent cannot create a file in
/// (`/sys`: no file can be made there, root or not) was opened as its directory only, and its
/// temporary file made after the TA answered: `provision --receipt-out` applied the message
/// (its counter spent, the receipt lost) and exited 5. The temporary file is made when the
/// output is opened, before the lock and the TA: refused (exit 2), nothing applied; `report
/// -o` and `device-key` outputs the same. An output opened for a command the TA then refuses
/// leaves no temporary file behind.
#[test]
fn s35_a_receipt_out_in_an_unwritable_directory_is_refused_before_the_message_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    provisioning_message(d);
    let o = agent_within(
        d,
        &["provision", "p.cbor", "--receipt-out", "/sys/receipt.cbor"],
    );
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        provisioning_counter(d),
        0,
        "applied (exit {:?}): {t}",
        o.status.code()
    );
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("/sys/receipt.cbor"), "{t}");
    assert!(!t.contains("accepted"), "{t}");

    // The other outputs of the agent the same (a refused attempt gives `report` one to sign).
    std::fs::write(d.join("junk.suit"), [0xd8, 0x6b, 0xa0]).unwrap();
    fails(agent(d, &["install", "junk.suit"]), 1);
    for args in [
        &["report", "--pre-auth", "-o", "/sys/report.cose"][..],
        &["device-key", "--out", "/sys/k.pem"],
        &["device-key", "--out", "k.pem", "--statement", "/sys/s.cbor"],
    ] {
        let t = fails(agent_within(d, args), 2);
        assert!(t.contains("/sys/"), "{args:?}: {t}");
    }
    assert!(!d.join("k.pem").exists());

    // Writable: the message applies and its receipt is written.
    ok(agent_within(
        d,
        &["provision", "p.cbor", "--receipt-out", "r.cbor"],
    ));
    assert_eq!(provisioning_counter(d), 1);
    assert!(std::fs::metadata(d.join("r.cbor")).unwrap().len() > 0);
    assert_eq!(temporaries_in(d), Vec::<String>::new());
    // The same message again, which the TA refuses (replayed counter): the receipt's
    // temporary file, made at the open, is removed again.
    fails(
        agent_within(d, &["provision", "p.cbor", "--receipt-out", "r2.cbor"]),
        1,
    );
    assert!(!d.join("r2.cbor").exists());
    assert_eq!(temporaries_in(d), Vec::<String>::new());
}

/// Review s35 (user) 7: `--state` naming a regular file said "simulator state: fw.bin: File
/// exists (os error 17)", exit 3 (a TEE trouble that may pass); it is the arguments' fault:
/// "not a directory", exit 2, for every command and `poll`. A `--sim-tpa-root` that cannot
/// be read left a new state directory holding only `.agent.lock` (the lock was taken first):
/// refused before the lock now, no directory made.
#[test]
fn s35_a_state_that_is_a_file_is_not_a_directory_and_a_failed_open_leaves_no_state() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    let sim = |state: &str, args: &[&str]| {
        let mut all = vec!["--tee", "sim", "--state", state];
        all.extend_from_slice(args);
        support::device::run(env!("CARGO_BIN_EXE_suit-agent"), d, &all, &[])
    };
    for state in ["fw.bin", "fw.bin/sub"] {
        for args in [
            &["status"][..],
            &["device-key"],
            &["poll", "http://127.0.0.1:9/fw"],
        ] {
            let t = fails(sim(state, args), 2);
            assert!(t.contains("not a directory"), "{state} {args:?}: {t}");
            assert!(!t.contains("File exists"), "{t}");
        }
    }
    assert_eq!(std::fs::read(d.join("fw.bin")).unwrap(), b"firmware");

    for root in ["missing.pem", "fw.bin"] {
        let mut args = vec!["--tee", "sim", "--state", "fresh", "--sim-tpa-root", root];
        args.push("status");
        let o = support::device::run(env!("CARGO_BIN_EXE_suit-agent"), d, &args, &[]);
        let t = fails(o, 2);
        assert!(t.contains(root) || t.contains("--sim-tpa-root"), "{t}");
        assert!(
            !d.join("fresh").exists(),
            "{root}: a state directory was left: {t}"
        );
    }
}
