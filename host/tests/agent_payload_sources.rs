//! Payload URIs come from signed manifests, which any anchor can sign: `suit-agent install`
//! reads only local files the operator offered (`--payload URI=FILE`, `--payload-dir DIR`),
//! only regular ones, never a path a `file://` URI names; a refusal installs and writes
//! nothing. Approved REE files are written owner-only. (Session 11 review, F2.)

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use suit_test_support::cli::{provision_args, sim_args, words, Out};

const AGENT: &str = env!("CARGO_BIN_EXE_suit-agent");

fn run(exe: &str, dir: &Path, args: &[&str]) -> Out {
    suit_test_support::cli::run(exe, dir, args, None)
}

fn agent(dir: &Path, args: &[&str]) -> Out {
    run(AGENT, dir, &sim_args("state", args))
}

fn ok(o: Out) -> String {
    suit_test_support::cli::ok(o).text()
}

fn author(dir: &Path, args: &[&str]) -> String {
    ok(run(env!("CARGO_BIN_EXE_suit-author"), dir, args))
}

/// The agent, killed (and the test failed) if it has not finished within 60 s: a payload
/// that blocks the agent must fail the test, not hang it.
fn agent_within(dir: &Path, args: &[&str]) -> Out {
    let out = dir.join("agent.out");
    let err = dir.join("agent.err");
    let mut child = Command::new(AGENT)
        .args(sim_args("state", args))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("suit-agent {args:?} blocked for 60 s (killed)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Out {
        code: status.code().expect("the agent exited"),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(err).unwrap(),
    }
}

/// A simulated device whose author anchor may install `app` and REE files.
fn device(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    std::fs::write(
        d.join("provision.json"),
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"], ["ree"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    )
    .unwrap();
    author(d, &provision_args("provision.json", "provision.cbor", &[]));
    ok(agent(d, &["provision", "provision.cbor"]));
}

/// `name.suit`: one component `id` (JSON array) with the content of `file`, fetched from
/// `uri`.
fn envelope(d: &Path, name: &str, seq: u64, id: &str, file: &str, uri: &str) {
    std::fs::write(
        d.join(format!("{name}.json")),
        format!(
            r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": {id}, "file": "{file}", "uri": "{uri}"}}]}}"#
        ),
    )
    .unwrap();
    let (json, out) = (format!("{name}.json"), format!("{name}.suit"));
    author(
        d,
        &[
            "create",
            &json,
            "-o",
            &out,
            "--sign-key",
            "author.priv.pem",
            "--payload-out",
            "made",
        ],
    );
}

fn installed_components(d: &Path) -> u64 {
    let o = agent(d, &["status", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    j["service"]["installed-components"].as_u64().unwrap()
}

/// A refusal by the agent (exit 2) saying `needle`, after which nothing is installed and no
/// REE file exists.
fn refused_cleanly(d: &Path, o: Out, needle: &str) {
    let all = o.text();
    assert_eq!(o.code, 2, "{all}");
    assert!(all.contains(needle), "{all:?} lacks {needle:?}");
    assert_eq!(installed_components(d), 0, "{all}");
    assert!(!d.join("ree").exists(), "an REE file was written: {all}");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// The review's reproduction: a manifest names `file:///<any path>` and, with no option at
/// all, the agent read that file and the TA installed it as a world-readable REE file.
#[test]
fn a_file_uri_reads_nothing_the_operator_did_not_offer() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = elsewhere.path().join("shadow");
    std::fs::write(&secret, "root:$6$secret-hash:19000:0:99999:7:::\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The author needs the content only so that `create` can run.
    std::fs::copy(&secret, d.join("guess")).unwrap();
    let uri = format!("file://{}", secret.display());
    envelope(d, "m", 1, r#"["ree", "leak"]"#, "guess", &uri);
    let not_a_path = "a file:// URI is not opened as a path";
    refused_cleanly(
        d,
        agent(d, &words("install m.suit --ree-root ree")),
        not_a_path,
    );
    // --net does not change that (file:// is never fetched), nor a payload directory
    // without a file of that name.
    std::fs::create_dir(d.join("offered")).unwrap();
    refused_cleanly(
        d,
        agent(
            d,
            &words("install m.suit --net --payload-dir offered --ree-root ree"),
        ),
        not_a_path,
    );
    // The JSON form names the same refusal.
    let j = agent(d, &words("install m.suit --ree-root ree --json"));
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["exit-code"], 2);
    assert!(v["error"].as_str().unwrap().contains(not_a_path), "{v}");
}

/// A `file://` URI's last path segment is looked up in `--payload-dir` like any other URI's;
/// the directory it names elsewhere is never read.
#[test]
fn a_file_uri_is_served_from_the_payload_dir_by_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    std::fs::write(d.join("fw.bin"), "firmware v1\n").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("fw.bin"), "not what was signed\n").unwrap();
    let uri = format!("file://{}/fw.bin", elsewhere.path().display());
    envelope(d, "m", 1, r#"["app"]"#, "fw.bin", &uri);
    std::fs::create_dir(d.join("offered")).unwrap();
    std::fs::copy(d.join("fw.bin"), d.join("offered/fw.bin")).unwrap();
    let out = ok(agent(d, &words("install m.suit --payload-dir offered")));
    assert!(out.contains("installed m.suit (sequence number 1"), "{out}");
    assert_eq!(installed_components(d), 1);
    // --payload names the exact URI.
    envelope(d, "m2", 2, r#"["app"]"#, "fw.bin", &uri);
    let arg = format!("{uri}=offered/fw.bin");
    ok(agent(d, &["install", "m2.suit", "--payload", &arg]));
}

/// A `--payload-dir` entry that is a symbolic link (here to a file outside with the right
/// content) is refused, not followed.
#[test]
fn a_link_out_of_the_payload_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    std::fs::write(d.join("app.conf"), "mode=fast\n").unwrap();
    envelope(
        d,
        "m",
        1,
        r#"["ree", "app.conf"]"#,
        "app.conf",
        "https://updates.example.com/app.conf",
    );
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy(d.join("app.conf"), outside.path().join("app.conf")).unwrap();
    std::fs::create_dir(d.join("offered")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("app.conf"), d.join("offered/app.conf"))
        .unwrap();
    refused_cleanly(
        d,
        agent(
            d,
            &words("install m.suit --payload-dir offered --ree-root ree"),
        ),
        "a symbolic link in --payload-dir",
    );
}

/// A FIFO is refused at once, in the payload directory and named with --payload (where the
/// old agent blocked in open(2) holding the install lock), and so is a device.
#[test]
fn a_fifo_is_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    std::fs::write(d.join("fw.bin"), "firmware v1\n").unwrap();
    let uri = "https://updates.example.com/fw.bin";
    envelope(d, "m", 1, r#"["app"]"#, "fw.bin", uri);
    std::fs::create_dir(d.join("offered")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        d.join("offered/fw.bin"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let fifo_named = format!("{uri}=offered/fw.bin");
    for args in [
        vec!["install", "m.suit", "--payload", &fifo_named],
        vec!["install", "m.suit", "--payload-dir", "offered"],
    ] {
        refused_cleanly(d, agent_within(d, &args), "a FIFO, not a regular file");
    }
    let dev = format!("{uri}=/dev/zero");
    refused_cleanly(
        d,
        agent_within(d, &["install", "m.suit", "--payload", &dev]),
        "a character device, not a regular file",
    );
}

/// REE files are written owner-only (0600), also over an existing wider file.
#[test]
fn ree_files_are_written_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    std::fs::write(d.join("app.conf"), "mode=fast\n").unwrap();
    envelope(
        d,
        "m",
        1,
        r#"["ree", "etc", "app.conf"]"#,
        "app.conf",
        "https://updates.example.com/app.conf",
    );
    std::fs::create_dir_all(d.join("ree/etc")).unwrap();
    std::fs::write(d.join("ree/etc/app.conf"), "old\n").unwrap();
    std::fs::set_permissions(
        d.join("ree/etc/app.conf"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    ok(agent(
        d,
        &words("install m.suit --payload-dir made --ree-root ree"),
    ));
    let f = d.join("ree/etc/app.conf");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "mode=fast\n");
    assert_eq!(mode(&f), 0o600, "{:o}", mode(&f));
    std::fs::remove_file(&f).unwrap();
    ok(agent(d, &words("export etc/app.conf --ree-root ree")));
    assert_eq!(mode(&f), 0o600, "{:o}", mode(&f));
}
