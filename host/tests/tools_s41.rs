//! A demanding new user's session with the host tools (session 41): each test fails without
//! its fix, run against the built binaries (the agent with `--tee sim`).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;

use suit_test_support::cli::{
    app_description, encrypted_app_description, fails, ok, words, write, Out,
};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// Standard output as the one JSON document `--json` promises (a second document, or text
/// around it, fails to parse).
fn one_document(r: &Out) -> serde_json::Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", r.stdout))
}

/// A provisioned device (anchor 1 = `author.*.pem` for `['app']`) whose provisioning receipt
/// is `r.cbor`.
fn device_with_receipt(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(author(d, &words("keygen --type p256 -o author")));
    write(
        d,
        "p.json",
        suit_test_support::cli::app_provisioning("board"),
    );
    ok(author(
        d,
        &suit_test_support::cli::provision_args("p.json", "p.cbor", &[]),
    ));
    ok(agent(d, &words("provision p.cbor --receipt-out r.cbor")));
}

/// `verify-receipt --json` printed its own JSON as a string inside the wrapper's
/// "messages" (`"messages": ["{\"counter\":1,...}"]`): now one document with the receipt's
/// fields, `"ok"` and `"exit-code"`, as a failure's.
#[test]
fn s41_1_verify_receipt_json_is_one_structured_document() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_with_receipt(d);
    let r = ok(author(
        d,
        &words("verify-receipt r.cbor --identity-key device.pub.pem --message p.cbor --json"),
    ));
    let j = one_document(&r);
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["exit-code"], 0, "{j}");
    assert_eq!(j["verified"], true, "{j}");
    assert_eq!(j["counter"], 1, "{j}");
    assert_eq!(j["signer"], 0, "{j}");
    assert!(j.get("messages").is_none(), "{j}");
    // A refusal: the same keys, false.
    let r = author(
        d,
        &words("verify-receipt r.cbor --identity-key author.pub.pem --json"),
    );
    assert_eq!(r.code, 1, "{}", r.text());
    let j = one_document(&r);
    assert_eq!(j["ok"], false, "{j}");
    assert_eq!(j["refused"], true, "{j}");
}

/// `verify-report DIR --json` with a report that does not verify printed the collection's
/// document and then the error's: two documents on standard output. Now one, the
/// collection's, marked failed; inspect and verify-report documents say `"ok"` too.
#[test]
fn s41_2_report_collection_json_is_one_document() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_with_receipt(d);
    ok(agent(d, &words("device-key --out-dir keys")));
    write(d, "fw.bin", b"firmware");
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &words("install m.suit")));
    std::fs::create_dir(d.join("reports")).unwrap();
    ok(agent(d, &words("report --nonce 0011 -o reports/1.cose")));
    write(d, "reports/2.cose", b"not a report");
    let r = author(
        d,
        &words("verify-report reports --device-key keys/report.pub.pem --json"),
    );
    assert_eq!(r.code, 1, "{}", r.text());
    let j = one_document(&r);
    assert_eq!(j["ok"], false, "{j}");
    assert_eq!(j["exit-code"], 1, "{j}");
    assert_eq!(j["refused"], true, "{j}");
    assert_eq!(j["verified"], 1, "{j}");
    assert_eq!(j["failed"], 1, "{j}");
    assert_eq!(j["reports"].as_array().map(Vec::len), Some(2), "{j}");
    says(
        j["error"].as_str().unwrap(),
        "1 report(s) in reports do not verify",
    );
    // Successes: marked as every other command's document is.
    std::fs::remove_file(d.join("reports/2.cose")).unwrap();
    for args in [
        "verify-report reports --device-key keys/report.pub.pem --json",
        "verify-report reports/1.cose --device-key keys/report.pub.pem --nonce 0011 --json",
        "inspect p.cbor --json",
    ] {
        let j = one_document(&ok(author(d, &words(args))));
        assert_eq!(j["ok"], true, "{args}: {j}");
        assert_eq!(j["exit-code"], 0, "{args}: {j}");
    }
    let j = one_document(&ok(author(d, &words("inspect m.suit --json"))));
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["verified"], false, "{j}");
}

/// The agent's success documents of status, anchors, install, provision and report had no
/// `"ok"`, while device-key's, export's, resume's and abandon's (and every failure's) had
/// one: `.ok` now tells success from failure in every document.
#[test]
fn s41_3_agent_success_documents_say_ok() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_with_receipt(d);
    write(d, "fw.bin", b"firmware");
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    // An empty message at the next counter (changes nothing but the counter).
    write(
        d,
        "p2.json",
        r#"{"counter": 2, "device-key": "device.pub.pem", "ops": []}"#,
    );
    ok(author(
        d,
        &suit_test_support::cli::provision_args("p2.json", "p2.cbor", &[]),
    ));
    for args in [
        "install m.suit --json",
        "provision p2.cbor --json",
        "status --json",
        "anchors --json",
        "report --nonce 00 --json",
    ] {
        let j = one_document(&ok(agent(d, &words(args))));
        assert_eq!(j["ok"], true, "{args}: {j}");
    }
}

/// `device-key --which report -o identity.pub.pem` (or `--statement` there) replaced the
/// device's enrolment record with another key, silently: the TPA's next message was then
/// bound to the report key and refused by the device as another device's. Refused now
/// unless `--force`, as the identity key of another device there already is.
#[test]
fn s41_4_device_key_keeps_this_devices_enrolment_record() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &words("device-key --out identity.pub.pem")));
    let enrolled = std::fs::read(d.join("identity.pub.pem")).unwrap();
    for args in [
        "device-key --which report --out identity.pub.pem",
        "device-key --which provisioning --format cose --out identity.pub.pem",
        "device-key --statement identity.pub.pem",
    ] {
        let all = fails(
            agent(d, &words(args)),
            2,
            "identity.pub.pem: holds this device's identity key",
        );
        says(&all, "--force to replace it");
        assert_eq!(
            std::fs::read(d.join("identity.pub.pem")).unwrap(),
            enrolled,
            "{args}"
        );
    }
    // The identity key again, another file, or --force: written.
    ok(agent(d, &words("device-key --out identity.pub.pem")));
    ok(agent(
        d,
        &words("device-key --which report --out report.pub.pem"),
    ));
    ok(agent(
        d,
        &words("device-key --which report --out report.pub.pem"),
    ));
    ok(agent(
        d,
        &words("device-key --which report --out identity.pub.pem --force"),
    ));
    assert_ne!(std::fs::read(d.join("identity.pub.pem")).unwrap(), enrolled);
}

/// One key given twice: `sign` failed with its internal "self-check failed: not every new
/// block verifies" and `create` made two blocks of the one key. Both refuse it now, naming
/// both options, before anything is signed.
#[test]
fn s41_5_one_signing_key_given_twice_is_named() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    write(d, "fw.bin", b"firmware");
    write(d, "m.json", app_description("board"));
    write(d, "hmac.key", [7u8; 32]);
    let all = fails(
        author(
            d,
            &words(
                "create m.json -o m.suit --sign-key author.priv.pem --sign-key ./author.priv.pem",
            ),
        ),
        2,
        "--sign-key author.priv.pem and --sign-key ./author.priv.pem are the same key",
    );
    assert!(!d.join("m.suit").exists(), "{all}");
    fails(
        author(
            d,
            &words("create m.json -o m.suit --hmac-key hmac.key --hmac-key hmac.key"),
        ),
        2,
        "--hmac-key hmac.key and --hmac-key hmac.key are the same key",
    );
    ok(author(d, &words("create m.json -o u.suit --unsigned")));
    // Two files of one key.
    std::fs::copy(d.join("author.priv.pem"), d.join("copy.priv.pem")).unwrap();
    let all = fails(
        author(
            d,
            &words("sign u.suit -o s.suit --sign-key author.priv.pem --sign-key copy.priv.pem"),
        ),
        2,
        "--sign-key author.priv.pem and --sign-key copy.priv.pem are the same key",
    );
    assert!(!all.contains("self-check"), "{all}");
    // Two different keys: two blocks.
    ok(author(d, &words("keygen --type p256 -o operator")));
    ok(author(
        d,
        &words("sign u.suit -o s.suit --sign-key author.priv.pem --sign-key operator.priv.pem"),
    ));
}

/// An ECDH-ES recipient the device cannot unwrap (here: encrypted to the anchor's HPKE key,
/// `"mode"` left out, which is ECDH-ES) was refused with the bare "AES key unwrap integrity
/// check failed", where an HPKE one names the key to use: now both do.
#[test]
fn s41_6_key_unwrap_failure_names_the_keys_to_use() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_with_receipt(d);
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
    write(d, "fw.bin", b"secret firmware");
    write(
        d,
        "m.json",
        encrypted_app_description(r#"[{"key": "keys/anchor-1.hpke.pub.pem"}]"#),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let all = fails(
        agent(d, &words("install m.suit")),
        1,
        "AES key unwrap integrity check failed",
    );
    says(
        &all,
        "an ECDH-ES recipient opens only with anchor-N.ecdh.pub.pem of the anchor that signs the manifest",
    );
    says(&all, "a recipient without \"mode\" is ECDH-ES");
    // The key the hint names installs.
    write(
        d,
        "m.json",
        encrypted_app_description(r#"[{"key": "keys/anchor-1.ecdh.pub.pem"}]"#),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &words("install m.suit")));
}

/// `verify --process` with an Ed25519 trust anchor beside the P-256 one that signed said
/// "the update uses Ed25519 signatures": the update uses none; the device's anchors need
/// the feature (the TA refuses the whole provisioning that adds such an anchor).
#[test]
fn s41_7_default_ta_refusal_names_the_anchors_not_the_update() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type ed25519 -o other")));
    write(d, "fw.bin", b"firmware");
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let all = fails(
        author(
            d,
            &words(
                "verify m.suit --trust-anchor author.pub.pem --trust-anchor other.pub.pem \
                 --process --vendor-id example.com --class-id board",
            ),
        ),
        1,
        "REFUSED by the default TA build: the update or the device's trust anchors \
         (--trust-anchor, --provisioning) need Ed25519 signatures",
    );
    assert!(!all.contains("the update uses"), "{all}");
    ok(author(
        d,
        &words(
            "verify m.suit --trust-anchor author.pub.pem --trust-anchor other.pub.pem \
             --process --vendor-id example.com --class-id board --ta-features ed25519",
        ),
    ));
}

/// `report --nonce ""` had the TA sign a report over an empty nonce (shown as `nonce: `),
/// which proves no freshness and which `verify-report --nonce` cannot be asked to check:
/// refused now (exit 2), as verify-report refuses it; the nonce is read as verify-report
/// reads it (white space around it ignored).
#[test]
fn s41_8_an_empty_report_nonce_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    device_with_receipt(d);
    write(d, "fw.bin", b"firmware");
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &words("install m.suit")));
    ok(agent(d, &words("device-key --out-dir keys")));
    for nonce in ["", "  "] {
        fails(
            agent(d, &["report", "--nonce", nonce, "-o", "r.cose"]),
            2,
            "--nonce: empty",
        );
        assert!(!d.join("r.cose").exists());
    }
    ok(agent(d, &["report", "--nonce", " 00aa ", "-o", "r.cose"]));
    ok(author(
        d,
        &words("verify-report r.cose --device-key keys/report.pub.pem --nonce 00aa"),
    ));
}

/// `verify --process --out DIR` was the one `--out` naming a directory (every other output
/// directory is `--out-dir`: `device-key`, `verify-key-statement`, `provision --devices`):
/// `--out-dir` now, `--out` still taken.
#[test]
fn s41_9_verify_names_its_output_directory_out_dir() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    write(d, "fw.bin", b"firmware");
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let process = "verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com \
                   --class-id board";
    ok(author(d, &words(&format!("{process} --out-dir a"))));
    assert_eq!(
        std::fs::read(d.join("a/component-0.bin")).unwrap(),
        b"firmware"
    );
    ok(author(d, &words(&format!("{process} --out b"))));
    assert_eq!(
        std::fs::read(d.join("b/component-0.bin")).unwrap(),
        b"firmware"
    );
    fails(
        author(
            d,
            &words("verify m.suit --trust-anchor author.pub.pem --out-dir c"),
        ),
        2,
        "--out-dir needs --process",
    );
}

/// `keygen -o keys/` wrote `keys/.priv.pem` and `keys/.pub.pem` (hidden files, shown by no
/// plain listing), `-o .` wrote `..priv.pem`: a prefix naming a directory is refused.
#[test]
fn s41_10_keygen_refuses_a_directory_as_its_prefix() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::create_dir(d.join("keys")).unwrap();
    for (kind, prefix) in [
        ("p256", "keys/"),
        ("ed25519", "."),
        ("p256", ".."),
        ("hss-lms", "keys/."),
    ] {
        fails(
            author(d, &["keygen", "--type", kind, "-o", prefix]),
            2,
            "not a directory: give a name in it, such as",
        );
    }
    assert_eq!(std::fs::read_dir(d.join("keys")).unwrap().count(), 0);
    assert!(!d.join("..priv.pem").exists());
    ok(author(d, &words("keygen --type p256 -o keys/author")));
    assert!(d.join("keys/author.priv.pem").is_file());
}
