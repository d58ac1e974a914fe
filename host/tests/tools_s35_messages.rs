//! A user's review of session 35 (findings 4, 5, 6, 8, 9, 10, 11; all low): each test fails
//! without its fix, run against the built binaries (the agent with `--tee sim`).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use suit_test_support::cli::{app_description, fails, ok, provision_args, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// A provisioned device (anchor 1 for `app`) and `m.suit` installing `fw.bin` as `['app']`.
fn device_and_envelope(d: &Path) {
    provisioned_app_device(d);
    write(d, "fw.bin", "firmware v1\n");
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
}

fn agent_os(d: &Path, args: &[OsString]) -> suit_test_support::cli::Out {
    let mut all: Vec<OsString> = ["--tee", "sim", "--state", "state"]
        .map(OsString::from)
        .to_vec();
    all.extend_from_slice(args);
    suit_test_support::cli::run(env!("CARGO_BIN_EXE_suit-agent"), d, &all, None)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// F4: an envelope file (and a `--payload` FILE) whose name is not UTF-8 installs, as
/// `suit-author` reads such names; a URL is only UTF-8 text starting with http(s)://.
#[test]
fn s35_4_install_takes_paths_that_are_not_utf8() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_and_envelope(d);
    let name = OsStr::from_bytes(b"o\xfe.suit");
    std::fs::copy(d.join("m.suit"), d.join(name)).unwrap();
    let r = ok(agent_os(
        d,
        &[OsString::from("install"), name.to_os_string()],
    ));
    says(&r.stdout, "installed o\u{fffd}.suit (sequence number 1");

    // A detached payload offered under a name that is not UTF-8.
    write(
        d,
        "m2.json",
        r#"{"sequence-number": 2, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["app"], "file": "fw.bin", "uri": "https://x.example/fw.bin"}]}"#,
    );
    ok(author(
        d,
        &words("create m2.json -o m2.suit --sign-key author.priv.pem --payload-out made"),
    ));
    let payload = OsStr::from_bytes(b"made/f\xfe.bin");
    std::fs::rename(d.join("made/fw.bin"), d.join(payload)).unwrap();
    let mut offer = OsString::from("https://x.example/fw.bin=");
    offer.push(payload);
    let r = ok(agent_os(
        d,
        &[
            "install".into(),
            "m2.suit".into(),
            "--payload".into(),
            offer,
        ],
    ));
    says(&r.stdout, "fetched https://x.example/fw.bin");
}

/// F5: a component id is a list of lower-case hex strings in every JSON output: status,
/// anchors, install, report (agent) and inspect, verify-report (author).
#[test]
fn s35_5_component_ids_are_lists_of_hex_in_every_json_output() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_and_envelope(d);
    let app = serde_json::json!(["617070"]);
    let installed = json(&ok(agent(d, &words("install m.suit --json"))).stdout);
    assert_eq!(installed["components"][0], app, "{installed}");
    let status = json(&ok(agent(d, &words("status --json"))).stdout);
    assert_eq!(status["service"]["components"][0]["id"], app, "{status}");
    let anchors = json(&ok(agent(d, &words("anchors --json"))).stdout);
    assert_eq!(
        anchors["anchors"][0]["component-prefixes"][0], app,
        "{anchors}"
    );
    let report = json(&ok(agent(d, &words("report --json"))).stdout);
    assert_eq!(
        report["device-state"]["components"][0]["component"], app,
        "{report}"
    );
    let inspected = json(&ok(author(d, &words("inspect m.suit --json"))).stdout);
    assert_eq!(
        inspected["manifest"]["common"]["components"][0], app,
        "{inspected}"
    );
}

/// F6: a decrypted payload refused for an `['ree', ...]` component names the anchor flag
/// that allows it (`"ree-plaintext": true` in the provisioning description), and `anchors`
/// shows whether an anchor has it.
#[test]
fn s35_6_a_plaintext_refusal_for_an_ree_file_names_ree_plaintext() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &words("device-key --out device.pub.pem")));
    ok(author(d, &words("keygen --type p256 -o author")));
    let provision = |counter: u32, op: &str, flag: &str| {
        let json = format!("p{counter}.json");
        let out = format!("p{counter}.cbor");
        write(
            d,
            &json,
            format!(
                r#"{{"counter": {counter}, "device-key": "device.pub.pem", "ops": [
                {{"{op}": {{"id": 1, {key}"components": [["ree"]]{flag}}}}},
                {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}}}}}}]}}"#,
                key = if op == "add-anchor" {
                    r#""key": "author.pub.pem", "role": "author", "#
                } else {
                    ""
                }
            ),
        );
        ok(author(d, &provision_args(&json, &out, &[])));
        ok(agent(d, &["provision", &out]));
    };
    provision(1, "add-anchor", "");
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
    write(d, "conf.bin", "mode=fast\n");
    write(
        d,
        "m.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["ree", "app.conf"], "file": "conf.bin",
          "encryption": {"recipients": [{"key": "keys/anchor-1.hpke.pub.pem", "mode": "hpke"}]}}]}"#,
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let all = fails(
        agent(d, &words("install m.suit")),
        1,
        "no signer's anchor may put",
    );
    assert!(all.contains("\"ree-plaintext\": true"), "{all}");
    // `anchors` shows the flag (session 36; the TA did not send it before).
    let flag = |d: &std::path::Path| {
        let text = ok(agent(d, &["anchors"])).stdout;
        let listed = json(&ok(agent(d, &words("anchors --json"))).stdout);
        (
            text.contains("components ['ree']; ree-plaintext"),
            listed["anchors"][0]["ree-plaintext"].clone(),
        )
    };
    assert_eq!(flag(d), (false, serde_json::json!(false)));
    provision(2, "rescope", r#", "ree-plaintext": true"#);
    assert_eq!(flag(d), (true, serde_json::json!(true)));
    ok(agent(d, &words("install m.suit")));
}

/// F8: `status` of a device whose state does not load shows its counts as unknown, not as
/// a fresh device's zeros, and the state error before them.
#[test]
fn s35_8_status_of_an_unreadable_state_says_unknown() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_and_envelope(d);
    ok(agent(d, &words("install m.suit")));
    // The TA's state object ("suit/state") in the simulator's directory.
    let state = d.join("state").join(hex::encode("suit/state"));
    assert!(state.exists(), "{}", state.display());
    std::fs::write(&state, b"").unwrap();
    let out = ok(agent(d, &["status"])).stdout;
    for line in [
        "provisioning count:  unknown",
        "trust anchors:       unknown",
        "installed:           unknown",
    ] {
        says(&out, line);
    }
    assert!(!out.contains("trust anchors:       0"), "{out}");
    assert!(!out.contains("one counter for the TPA root"), "{out}");
    let error_at = out.find("STATE ERROR").expect("a state error");
    assert!(error_at < out.find("provisioning count").unwrap(), "{out}");
}

/// F9: two components with one identifier are refused at creation, naming both.
#[test]
fn s35_9_create_refuses_a_component_id_given_twice() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    write(d, "a.bin", "a");
    write(d, "b.bin", "b");
    let create = |components: &str| {
        write(
            d,
            "m.json",
            format!(
                r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
                "components": {components}}}"#
            ),
        );
        author(
            d,
            &words("create m.json -o m.suit --sign-key author.priv.pem"),
        )
    };
    let all = fails(
        create(r#"[{"id": ["a"], "file": "a.bin"}, {"id": ["a"], "file": "b.bin"}]"#),
        2,
        "components[0] and components[1] have the same \"id\" ['a']",
    );
    assert!(!d.join("m.suit").exists(), "{all}");
    // Another component's ciphertext buffer is taken too.
    ok(author(d, &words("keygen --type p256 -o device")));
    fails(
        create(
            r#"[{"id": ["a"], "file": "a.bin", "encryption": {"recipients": [{"key": "device.pub.pem"}]}},
                {"id": ["a", "encrypted"], "file": "b.bin"}]"#,
        ),
        2,
        "is the ciphertext buffer of components[0]",
    );
    ok(create(
        r#"[{"id": ["a"], "file": "a.bin"}, {"id": ["b"], "file": "b.bin"}]"#,
    ));
}

/// F10: messages that named the wrong thing, or not the thing that is wrong.
#[test]
fn s35_10_messages_name_what_is_wrong() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_and_envelope(d);

    // An HMAC key of the wrong length: the allowed range, not 33 alternatives.
    write(d, "short.key", [7u8; 5]);
    let all = fails(
        author(d, &words("create m.json -o h.suit --hmac-key short.key")),
        2,
        "must be 32 to 64 bytes long, the file holds 5",
    );
    assert!(!all.contains("32 or 33"), "{all}");

    // A member given twice is named so, not as one the envelope carries.
    ok(author(
        d,
        &words("create m.json -o s.suit --sign-key author.priv.pem --severable"),
    ));
    ok(author(
        d,
        &words("sever s.suit -o bare.suit --members-out mem"),
    ));
    let all = fails(
        author(
            d,
            &words(
                "unsever bare.suit -o full.suit --member mem/suit-install.cbor --member mem/suit-install.cbor",
            ),
        ),
        2,
        "suit-install is given twice",
    );
    assert!(!all.contains("already carries"), "{all}");

    // A --payload-dir that is a file is named, before the TA is asked (one that does not
    // exist: rrh_4_... below).
    let all = fails(
        agent(d, &words("install m.suit --payload-dir fw.bin")),
        2,
        "--payload-dir fw.bin: not a directory",
    );
    assert!(!all.contains("no --payload or --payload-dir file"), "{all}");

    // Nine signers: create says the limit as sign does.
    let mut line = "create m.json -o nine.suit".to_string();
    for _ in 0..9 {
        line.push_str(" --sign-key author.priv.pem");
    }
    let all = fails(
        author(d, &words(&line)),
        2,
        "an envelope carries at most 8 authentication blocks (9 asked",
    );
    assert!(!all.contains("self-check failed"), "{all}");

    // An empty report file is not named as "not an envelope".
    std::fs::create_dir(d.join("reports")).unwrap();
    write(d, "reports/r.cose", "");
    let all = fails(
        author(
            d,
            &words("verify-report reports --device-key author.pub.pem"),
        ),
        1,
        "empty file (not a signed SUIT report)",
    );
    assert!(!all.contains("not an envelope"), "{all}");

    // An empty recipient list names the description and the component.
    write(
        d,
        "e.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["app"], "file": "fw.bin", "encryption": {"recipients": []}}]}"#,
    );
    let all = fails(
        author(
            d,
            &words("create e.json -o e.suit --sign-key author.priv.pem"),
        ),
        2,
        "components[0]: \"encryption\" has no recipient",
    );
    says(&all, "e.json");
}

/// F11: options that do nothing in the mode given are named; `poll --interval 0` is refused.
#[test]
fn s35_11_ignored_options_are_named() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_and_envelope(d);
    let r = ok(agent(
        d,
        &words(
            "install m.suit --retries 2 --ca-file none.pem --allow-url-prefix https://x.example/ \
             --payload https://nowhere.example/x.bin=fw.bin",
        ),
    ));
    for flag in ["--retries", "--ca-file", "--allow-url-prefix"] {
        says(
            &r.stderr,
            &format!("warning: {flag} is ignored: nothing is fetched over the network"),
        );
    }
    says(
        &r.stderr,
        "warning: --payload https://nowhere.example/x.bin=...: the manifest lists no such URI",
    );
    // Nothing to name: no warning.
    write(
        d,
        "m.json",
        app_description("board").replace("\"sequence-number\": 1", "\"sequence-number\": 2"),
    );
    ok(author(
        d,
        &words("create m.json -o m2.suit --sign-key author.priv.pem"),
    ));
    let r = ok(agent(d, &words("install m2.suit")));
    assert!(!r.stderr.contains("warning: --"), "{}", r.stderr);

    let all = fails(
        agent(d, &words("poll http://127.0.0.1:9/ --interval 0")),
        2,
        "--interval",
    );
    says(&all, "0");
}

/// Re-review of session 35, finding 3: the warning for a `--payload` whose URI the manifest
/// does not list was built from the URIs fetched so far, so when an earlier payload failed
/// a later, listed one was named as "no such URI". It compares with every URI the TA listed.
#[test]
fn rrh_3_an_unlisted_payload_warning_names_only_unlisted_uris() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    write(d, "a.bin", "A\n");
    write(d, "b.bin", "B\n");
    write(
        d,
        "m.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["app", "a"], "file": "a.bin", "uri": "https://x.example/a.bin"},
                       {"id": ["app", "b"], "file": "b.bin", "uri": "https://x.example/b.bin"}]}"#,
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem --payload-out made"),
    ));
    // The first payload's file is missing: the install fails there (exit 2).
    let all = fails(
        agent(
            d,
            &words(
                "install m.suit --payload https://x.example/a.bin=missing.bin \
                 --payload https://x.example/b.bin=made/b.bin \
                 --payload https://x.example/c.bin=made/b.bin",
            ),
        ),
        2,
        "missing.bin",
    );
    assert!(
        !all.contains("b.bin=...: the manifest lists no such URI"),
        "a listed URI named as unlisted: {all}"
    );
    says(
        &all,
        "warning: --payload https://x.example/c.bin=...: the manifest lists no such URI",
    );
    // With the file there, the same install succeeds, and names only c.bin.
    let r = ok(agent(
        d,
        &words(
            "install m.suit --payload https://x.example/a.bin=made/a.bin \
             --payload https://x.example/b.bin=made/b.bin \
             --payload https://x.example/c.bin=made/b.bin",
        ),
    ));
    says(&r.stderr, "https://x.example/c.bin=...");
    assert!(!r.stderr.contains("b.bin=..."), "{}", r.stderr);
    assert!(!r.stderr.contains("a.bin=..."), "{}", r.stderr);
}

/// Re-review of session 35, finding 4: a `--payload-dir` that does not exist was refused
/// (exit 2) even for an install that reads nothing from it (integrated payloads; qemu's
/// demo passes one always). It is accepted again with a warning naming it, and named in the
/// error for a payload nothing provides.
#[test]
fn rrh_4_a_missing_payload_dir_is_named_not_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_and_envelope(d);
    // Integrated payload: nothing needed from the directory.
    let r = ok(agent(
        d,
        &words("install m.suit --payload-dir /nonexistent/payloads"),
    ));
    says(
        &r.stderr,
        "warning: --payload-dir /nonexistent/payloads: no such directory",
    );
    says(&r.stdout, "installed m.suit");
    // A payload the manifest fetches, which the directory would have provided: the error
    // says the directory does not exist.
    write(
        d,
        "u.json",
        r#"{"sequence-number": 2, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["app"], "file": "fw.bin", "uri": "https://x.example/fw.bin"}]}"#,
    );
    ok(author(
        d,
        &words("create u.json -o u.suit --sign-key author.priv.pem --payload-out made"),
    ));
    let all = fails(
        agent(
            d,
            &words("install u.suit --payload-dir /nonexistent/payloads"),
        ),
        2,
        "no --payload or --payload-dir file provides it (--payload-dir /nonexistent/payloads \
         does not exist)",
    );
    says(&all, "https://x.example/fw.bin");
    // Every payload given by --payload: the missing directory does not matter.
    let r = ok(agent(
        d,
        &words(
            "install u.suit --payload-dir /nonexistent/payloads \
             --payload https://x.example/fw.bin=made/fw.bin",
        ),
    ));
    says(&r.stdout, "installed u.suit");
    // A file is still no directory: refused before the TA is asked.
    fails(
        agent(d, &words("install u.suit --payload-dir fw.bin")),
        2,
        "--payload-dir fw.bin: not a directory",
    );
}

/// Re-review of session 35, finding 5: an output's temporary file was created when the
/// output was opened, before the agent's lock: a run stopped while it waits for the lock
/// (Ctrl-C, `systemctl stop`) left an empty mode-0 temporary file behind. Opening only
/// probes the directory now (a temporary created and removed at once). Stopped with SIGTERM
/// (`systemctl stop`): SIGINT is ignored by a process a non-interactive shell started in the
/// background, and the test must not hang there.
#[test]
fn rrh_5_a_run_stopped_while_it_waits_leaves_no_temporary_file() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_and_envelope(d);
    ok(agent(d, &words("install m.suit")));
    std::fs::create_dir(d.join("out")).unwrap();
    let support::device::WaitingAgent {
        mut child,
        said,
        lock,
        stderr: _stderr,
    } = support::device::agent_waiting_for_the_lock(d, &words("report -o out/r.cose"));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}\n{said}");
    // The lock free again, the same command writes its output, and only it.
    drop(lock);
    ok(agent(d, &words("report -o out/r.cose")));
    let left: Vec<_> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [OsString::from("r.cose")]);
}
