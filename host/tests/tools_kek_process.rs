//! `verify --process` with KEKs (issue 11): the simulated device is provisioned from the same
//! provisioning description the TPA uses for the real device (`--provisioning`), KEKs
//! included and bound to their anchors, so A128KW recipients are checked as the device checks
//! them; the device in the agent's simulator, provisioned by the real message, agrees.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use suit_test_support::cli::{encrypted_app_description, ok, provision_args, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

fn description(kek_anchors: &str) -> String {
    format!(
        r#"{{"counter": 1, "device-key": "dev/identity.pub.pem",
        "key-statement": "dev/key-statement.cbor", "ops": [
        {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}}}},
        {{"add-anchor": {{"id": 2, "key": "other.pub.pem", "role": "author", "components": [["app"]]}}}},
        {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}}}}}},
        {{"add-kek": {{"kek": "kek.bin", "kid": "kek-1", "anchors": {kek_anchors}}}}}]}}"#
    )
}

#[test]
fn process_checks_kek_recipients_with_the_devices_provisioning() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    ok(author(d, &["keygen", "--type", "p256", "-o", "other"]));
    std::fs::write(d.join("kek.bin"), [0x5a; 16]).unwrap();
    ok(agent(d, &["device-key", "--out-dir", "dev"]));
    std::fs::write(d.join("p.json"), description("[1]")).unwrap();
    std::fs::write(d.join("wrong.json"), description("[2]")).unwrap();
    std::fs::write(d.join("fw.bin"), b"firmware under a KEK").unwrap();
    write(
        d,
        "m.json",
        encrypted_app_description(r#"[{"kek": "kek.bin", "kid": "kek-1"}]"#),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));

    // The simulated device, provisioned from the description: the KEK is anchor 1's.
    ok(author(
        d,
        &words(
            "verify m.suit --trust-anchor author.pub.pem --process --provisioning p.json --out out",
        ),
    ));
    assert_eq!(
        std::fs::read(d.join("out/component-0.bin")).unwrap(),
        b"firmware under a KEK"
    );
    // The same KEK given to anchor 2 only: anchor 1's manifest cannot use it.
    let r = author(
        d,
        &words("verify m.suit --trust-anchor author.pub.pem --process --provisioning wrong.json --out out2"),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says(&r.stderr, "nothing was installed");
    assert!(!d.join("out2/component-0.bin").exists());

    // The real device (the agent's simulator), provisioned with the message made from the
    // same description, gives the same verdict.
    ok(author(d, &provision_args("p.json", "p.cbor", &[])));
    ok(agent(d, &["provision", "p.cbor"]));
    ok(agent(d, &["install", "m.suit"]));
}
