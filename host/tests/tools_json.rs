//! `--json` on every command that prints (issue 11): each prints exactly one JSON document on
//! standard output, with kebab-case keys, on success and on failure (`"ok": false` and the
//! exit code).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;
use std::process::Command;
use suit_test_support::cli::{provision_args, words};

fn run(exe: &str, d: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let o = Command::new(exe)
        .args(args)
        .current_dir(d)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{stdout}\n{stderr}"));
    kebab(&v, &format!("{args:?}"));
    (o.status.code().unwrap(), v)
}

/// Every object key is kebab-case (lower-case letters, digits, hyphens).
fn kebab(v: &serde_json::Value, what: &str) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                assert!(
                    k.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{what}: key {k:?} is not kebab-case"
                );
                kebab(x, what);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| kebab(x, what)),
        _ => {}
    }
}

fn author(d: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = args.to_vec();
    a.push("--json");
    run(env!("CARGO_BIN_EXE_suit-author"), d, &a)
}

fn agent(d: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut a = vec!["--tee", "sim", "--state", "state"];
    a.extend_from_slice(args);
    a.push("--json");
    run(env!("CARGO_BIN_EXE_suit-agent"), d, &a)
}

fn ok(r: (i32, serde_json::Value)) -> serde_json::Value {
    assert_eq!(r.0, 0, "{}", r.1);
    assert_ne!(r.1["ok"], false, "{}", r.1);
    r.1
}

fn fails(r: (i32, serde_json::Value)) {
    assert_ne!(r.0, 0, "{}", r.1);
    assert_eq!(r.1["ok"], false, "{}", r.1);
    assert_eq!(r.1["exit-code"], r.0, "{}", r.1);
    assert!(
        r.1["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        r.1
    );
}

#[test]
fn every_printing_command_speaks_json_on_success_and_failure() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // Author tool.
    ok(author(d, &["keygen", "--type", "p256", "-o", "a"]));
    fails(author(d, &["keygen", "--type", "p256", "-o", "a"]));
    std::fs::write(d.join("fw.bin"), b"fw").unwrap();
    ok(author(
        d,
        &words("encrypt --payload fw.bin --recipient a.pub.pem --info-out i --ciphertext-out c"),
    ));
    fails(author(
        d,
        &words("encrypt --payload missing --recipient a.pub.pem --info-out i2 --ciphertext-out c2"),
    ));
    std::fs::write(
        d.join("m.json"),
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "b"},
        "text": {"manifest-description": "json"},
        "components": [{"id": ["app"], "file": "fw.bin"}]}"#,
    )
    .unwrap();
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key a.priv.pem --severable"),
    ));
    fails(author(
        d,
        &words("create nothing.json -o x.suit --sign-key a.priv.pem"),
    ));
    ok(author(
        d,
        &["create", "m.json", "-o", "u.suit", "--unsigned"],
    ));
    ok(author(
        d,
        &["sign", "u.suit", "-o", "s.suit", "--sign-key", "a.priv.pem"],
    ));
    fails(author(
        d,
        &["sign", "u.suit", "-o", "s2.suit", "--sign-key", "fw.bin"],
    ));
    ok(author(
        d,
        &["verify", "m.suit", "--trust-anchor", "a.pub.pem"],
    ));
    fails(author(d, &["verify", "m.suit", "--trust-anchor", "i"]));
    ok(author(d, &["inspect", "m.suit"]));
    fails(author(d, &["inspect", "fw.bin"]));
    ok(author(
        d,
        &["sever", "m.suit", "-o", "sev.suit", "--members-out", "mem"],
    ));
    fails(author(
        d,
        &words("sever sev.suit -o sev2.suit --members-out mem2"),
    ));
    ok(author(
        d,
        &words("unsever sev.suit -o un.suit --member mem/suit-text.cbor --member mem/suit-install.cbor"),
    ));
    fails(author(
        d,
        &[
            "unsever", "sev.suit", "-o", "un2.suit", "--member", "fw.bin",
        ],
    ));

    // Agent and the author's checks of what it exports.
    let keys = ok(agent(d, &["device-key", "--out-dir", "dev"]));
    assert_eq!(
        keys["identity"]["key"].as_str().map(str::len),
        Some(130),
        "{keys}"
    );
    fails(agent(d, &["device-key", "--anchor", "9"]));
    ok(author(
        d,
        &words("verify-key-statement dev/key-statement.cbor --identity-key dev/identity.pub.pem"),
    ));
    fails(author(
        d,
        &words("verify-key-statement dev/key-statement.cbor --identity-key a.pub.pem"),
    ));
    ok(agent(d, &["status"]));
    ok(agent(d, &["anchors"]));
    std::fs::write(
        d.join("p.json"),
        r#"{"counter": 1, "device-key": "dev/identity.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "a.pub.pem", "role": "author", "components": [[]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "b"}}}]}"#,
    )
    .unwrap();
    ok(author(d, &provision_args("p.json", "p.cbor", &[])));
    fails(author(
        d,
        &["provision", "p.json", "--tpa-key", "fw.bin", "-o", "q.cbor"],
    ));
    ok(agent(
        d,
        &["provision", "p.cbor", "--receipt-out", "r.cbor"],
    ));
    fails(agent(d, &["provision", "p.cbor"]));
    ok(author(
        d,
        &words("verify-receipt r.cbor --identity-key dev/identity.pub.pem"),
    ));
    fails(author(
        d,
        &["verify-receipt", "r.cbor", "--identity-key", "a.pub.pem"],
    ));
    ok(author(
        d,
        &words(
            "verify m.suit --trust-anchor a.pub.pem --process --vendor-id example.com --class-id b",
        ),
    ));
    ok(agent(d, &["install", "m.suit"]));
    fails(agent(d, &["install", "m.suit"]));
    let nothing = ok(agent(d, &["resume"]));
    assert_eq!(nothing["resumed"], false, "{nothing}");
    fails(agent(d, &["abandon", &"ab".repeat(32)]));
    fails(agent(d, &["abandon", "12ab"]));
    ok(agent(
        d,
        &["report", "--nonce", "0011", "-o", "report.cbor"],
    ));
    fails(agent(d, &["report", "--nonce", "zz"]));
    ok(author(
        d,
        &words("verify-report report.cbor --device-key dev/report.pub.pem"),
    ));
    fails(author(
        d,
        &["verify-report", "report.cbor", "--device-key", "a.pub.pem"],
    ));
    fails(agent(d, &["perso-get"]));
    fails(agent(
        d,
        &["export", "nothing/approved", "--ree-root", "ree"],
    ));
}
