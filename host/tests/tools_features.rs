//! Features users of suit-tool expect (issue 11): a separate `sign` step.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use suit_test_support::cli::{app_description, ok, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

#[test]
fn create_unsigned_then_sign_in_separate_steps() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    ok(author(
        d,
        &["keygen", "--type", "ed25519", "-o", "operator"],
    ));
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    write(d, "m.json", app_description("b"));
    ok(author(
        d,
        &["create", "m.json", "-o", "m.suit", "--unsigned"],
    ));
    let r = author(d, &["verify", "m.suit", "--trust-anchor", "author.pub.pem"]);
    assert_eq!(r.code, 1);
    says(&r.stderr, "unsigned envelope");

    ok(author(
        d,
        &words("sign m.suit -o a.suit --sign-key author.priv.pem"),
    ));
    let r = ok(author(
        d,
        &["verify", "a.suit", "--trust-anchor", "author.pub.pem"],
    ));
    says(&r.stdout, "1 authentication block(s)");
    // A second signer, in place.
    ok(author(
        d,
        &words("sign a.suit -o a.suit --sign-key operator.priv.pem"),
    ));
    let r = ok(author(
        d,
        &words("verify a.suit --trust-anchor author.pub.pem --trust-anchor operator.pub.pem"),
    ));
    says(&r.stdout, "2 authentication block(s)");
    says(&r.stdout, "signed by trust anchor #1");
    says(&r.stdout, "trust anchor #2");
    // The device installs it (same verdict as create's own signature would get).
    let r = ok(author(
        d,
        &words("verify a.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id b --out out"),
    ));
    says(&r.stdout, "OK: update applied");
    assert_eq!(
        std::fs::read(d.join("out/component-0.bin")).unwrap(),
        b"firmware"
    );

    // A manifest that no longer matches its digest is not signed.
    let mut bytes = std::fs::read(d.join("m.suit")).unwrap();
    let at = bytes.windows(3).position(|w| w == b"app").unwrap();
    bytes[at] ^= 1;
    std::fs::write(d.join("t.suit"), &bytes).unwrap();
    let r = author(
        d,
        &words("sign t.suit -o t2.suit --sign-key author.priv.pem"),
    );
    assert_eq!(r.code, 1);
    says(&r.stderr, "the manifest does not match the digest");
    assert!(!d.join("t2.suit").exists());
    // --unsigned with keys is a usage error.
    let r = author(
        d,
        &words("create m.json -o x.suit --unsigned --sign-key author.priv.pem"),
    );
    assert_eq!(r.code, 2);
}

/// `verify --process` runs the simulator, which has every algorithm; an update that needs one
/// the default TA build lacks (Ed25519 signatures, ChaCha20/Poly1305 payloads) is refused
/// (exit 1) naming it, in words and in JSON, unless `--ta-features` says the target has it.
#[test]
fn verify_process_refuses_what_the_default_ta_build_refuses() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (kind, name) in [("ed25519", "ed"), ("p256", "author"), ("p256", "device")] {
        ok(author(d, &["keygen", "--type", kind, "-o", name]));
    }
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    write(d, "m.json", app_description("b"));
    write(
        d,
        "c.json",
        app_description("b").replace(
            r#""file": "fw.bin""#,
            r#""file": "fw.bin", "encryption": {"content-alg": "ChaCha20/Poly1305", "recipients": [{"key": "device.pub.pem"}]}"#,
        ),
    );
    ok(author(
        d,
        &words("create m.json -o ed.suit --sign-key ed.priv.pem"),
    ));
    ok(author(
        d,
        &words("create c.json -o cc.suit --sign-key author.priv.pem"),
    ));
    let device = "--process --vendor-id example.com --class-id b";
    let cases = [
        (
            "ed.suit --trust-anchor ed.pub.pem",
            "ed25519",
            "Ed25519 signatures",
        ),
        (
            "cc.suit --trust-anchor author.pub.pem --device-key device.priv.pem",
            "chacha20",
            "ChaCha20/Poly1305",
        ),
    ];
    for (args, feature, words_) in cases {
        let line = format!("verify {args} {device}");
        let r = author(d, &words(&line));
        assert_eq!(r.code, 1, "{line}: {}{}", r.stdout, r.stderr);
        says(&r.stderr, words_);
        says(&r.stderr, &format!("--ta-features {feature}"));
        assert!(!r.stdout.contains("OK: update applied"), "{}", r.stdout);
        let r = author(d, &words(&format!("{line} --json")));
        assert_eq!(r.code, 1);
        let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(j["refused"], true, "{j}");
        assert_eq!(j["not-in-default-ta"]["features"][0], feature, "{j}");
        // The target TA has it: applied, and said why it passes.
        let r = ok(author(
            d,
            &words(&format!("{line} --ta-features {feature}")),
        ));
        says(&r.stdout, "OK: update applied");
        says(&r.stdout, &format!("--ta-features {feature} says"));
    }
    // What the default TA has (ESP256, AES-GCM) needs no flag.
    ok(author(
        d,
        &words("create m.json -o p.suit --sign-key author.priv.pem"),
    ));
    let r = ok(author(
        d,
        &words(&format!(
            "verify p.suit --trust-anchor author.pub.pem {device}"
        )),
    ));
    assert!(!r.stdout.contains("--ta-features"), "{}", r.stdout);
    assert_eq!(
        author(
            d,
            &words(&format!(
                "verify p.suit --trust-anchor author.pub.pem {device} --ta-features rsa"
            ))
        )
        .code,
        2
    );
}

/// `sign` counts the blocks it added (one COSE_Sign for several keys) and names itself when
/// given no key.
#[test]
fn sign_counts_the_blocks_it_added() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &["keygen", "--type", "p256", "-o", "a"]));
    ok(author(d, &["keygen", "--type", "ed25519", "-o", "b"]));
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    write(d, "m.json", app_description("b"));
    ok(author(
        d,
        &["create", "m.json", "-o", "m.suit", "--unsigned"],
    ));
    let r = ok(author(
        d,
        &words("sign m.suit -o s.suit --sign-key a.priv.pem --sign-key b.priv.pem --cose-sign"),
    ));
    says(&r.stdout, "1 new authentication block(s)");
    let r = ok(author(
        d,
        &words("sign m.suit -o s1.suit --sign-key a.priv.pem --sign-key b.priv.pem"),
    ));
    says(&r.stdout, "2 new authentication block(s)");
    let r = author(d, &words("sign m.suit -o x.suit"));
    assert_eq!(r.code, 2);
    says(&r.stderr, "sign needs at least one --sign-key");
}

/// Review s27 (host tools 2), finding 2: with `--provisioning` the device gets the
/// description's anchors, not `--trust-anchor`: an Ed25519 anchor there makes the default TA
/// refuse the whole provisioning message, though the update is signed with P-256.
#[test]
fn verify_process_sees_an_ed25519_anchor_of_the_provisioning_description() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (kind, name) in [("ed25519", "ed"), ("p256", "author"), ("p256", "other")] {
        ok(author(d, &["keygen", "--type", kind, "-o", name]));
    }
    ok(agent(d, &["device-key", "--out-dir", "dev"]));
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    write(d, "m.json", app_description("b"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let description = |second: &str| {
        format!(
            r#"{{"counter": 1, "device-key": "dev/identity.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [[]]}}}},
            {{"add-anchor": {{"id": 2, "key": "{second}", "role": "operator", "components": [[]]}}}},
            {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "b"}}}}}}]}}"#
        )
    };
    write(d, "ed.json", description("ed.pub.pem"));
    write(d, "p.json", description("other.pub.pem"));
    let line = "verify m.suit --trust-anchor author.pub.pem --process --provisioning";
    let r = author(d, &words(&format!("{line} ed.json")));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    says(&r.stderr, "--ta-features ed25519");
    says(
        &ok(author(
            d,
            &words(&format!("{line} ed.json --ta-features ed25519")),
        ))
        .stdout,
        "OK: update applied",
    );
    // Only P-256 anchors: nothing to name (and an Ed25519 --trust-anchor the device never
    // gets is not named either).
    let r = ok(author(
        d,
        &words(&format!("{line} p.json --trust-anchor ed.pub.pem")),
    ));
    assert!(!r.stdout.contains("--ta-features"), "{}", r.stdout);
}
