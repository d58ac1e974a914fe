//! `verify --process --device-key` (review s36): the caller's key stands in for each anchor's
//! own payload keys, and everything else about decryption is the device's rule, from the same
//! code (`service::keys::AnchorKeySource`): an anchor without `"ree-plaintext"` gets no
//! decrypted content into an `['ree', ...]` component, and a KEK is offered only to the
//! anchors it was provisioned for. Before, the given key decrypted for every signer into any
//! component and the KEKs joined it, so `verify` said "OK: update applied" for updates the
//! device refuses.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;

use suit_test_support::cli::{fails, ok, provision_args, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// What `verify` prints after a default-device install into an `['ree', ...]` component.
const DEFAULT_NOTE: &str = "without --provisioning the simulated device's anchors are unrestricted";

/// What `verify` prints after a co-signed run with `--device-key`.
const COSIGNED_NOTE: &str = "--device-key stands in for the payload keys of every signing anchor";

/// A description adding anchor 1 (`author`) for `['ree']`, with `flag` after its components,
/// then `more` operations.
fn description(flag: &str, more: &str) -> String {
    format!(
        r#"{{"counter": 1, "device-key": "dev/identity.pub.pem",
        "key-statement": "dev/key-statement.cbor", "ops": [
        {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["ree"]]{flag}}}}},
        {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}}}}}}{more}]}}"#
    )
}

/// An envelope `name`.suit signed by `author` installing `c.conf` encrypted to `recipients`
/// as `['ree', 'etc', 'c.conf']`.
fn envelope(d: &Path, name: &str, recipients: &str) {
    write(
        d,
        &format!("{name}.json"),
        format!(
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["ree", "etc", "c.conf"], "file": "c.conf",
              "encryption": {{"recipients": {recipients}}}}}]}}"#
        ),
    );
    ok(author(
        d,
        &[
            "create",
            &format!("{name}.json"),
            "-o",
            &format!("{name}.suit"),
            "--sign-key",
            "author.priv.pem",
        ],
    ));
}

fn verify(d: &Path, envelope: &str, extra: &str) -> suit_test_support::cli::Out {
    let line = format!(
        "verify {envelope} --trust-anchor author.pub.pem --process --vendor-id example.com \
         --class-id board {extra}"
    );
    author(d, &words(&line))
}

#[test]
fn the_device_key_stands_in_for_anchor_keys_under_the_devices_rules() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type p256 -o other")));
    ok(author(d, &words("keygen --type p256 -o dk")));
    ok(agent(d, &words("device-key --out-dir dev")));
    write(d, "c.conf", "endpoint=x\n");
    std::fs::write(d.join("kek.bin"), [0x5a; 16]).unwrap();
    write(d, "plain.json", description("", ""));
    write(
        d,
        "flag.json",
        description(r#", "ree-plaintext": true"#, ""),
    );
    envelope(d, "dk", r#"[{"key": "dk.pub.pem", "mode": "hpke"}]"#);

    // The anchor lacks "ree-plaintext": refused, named, nothing written.
    let all = fails(
        verify(
            d,
            "dk.suit",
            "--provisioning plain.json --device-key dk.priv.pem --out out",
        ),
        1,
        "no signer's anchor may put",
    );
    assert!(all.contains("\"ree-plaintext\": true"), "{all}");
    says(&all, "nothing was installed");
    assert!(!all.contains("OK: update applied"), "{all}");
    assert!(!d.join("out").exists());

    // With the flag the same key decrypts it; no note about the default anchors.
    let r = ok(verify(
        d,
        "dk.suit",
        "--provisioning flag.json --device-key dk.priv.pem --out out",
    ));
    says(&r.stdout, "OK: update applied");
    assert!(!r.stdout.contains(DEFAULT_NOTE), "{}", r.stdout);
    assert!(!r.stdout.contains(COSIGNED_NOTE), "{}", r.stdout);
    assert_eq!(
        std::fs::read(d.join("out/component-0.bin")).unwrap(),
        b"endpoint=x\n"
    );

    // The same for ECDH-ES+A128KW: the rule is the key source's, not one algorithm's.
    envelope(d, "dk-es", r#"[{"key": "dk.pub.pem", "mode": "ecdh-es"}]"#);
    let all = fails(
        verify(
            d,
            "dk-es.suit",
            "--provisioning plain.json --device-key dk.priv.pem",
        ),
        1,
        "no signer's anchor may put",
    );
    assert!(all.contains("\"ree-plaintext\": true"), "{all}");
    says(
        &ok(verify(
            d,
            "dk-es.suit",
            "--provisioning flag.json --device-key dk.priv.pem",
        ))
        .stdout,
        "OK: update applied",
    );

    // Without --provisioning the anchors are unrestricted, ree-plaintext included: applied,
    // and the output says what a device's anchor may not allow.
    let r = ok(verify(d, "dk.suit", "--device-key dk.priv.pem"));
    says(&r.stdout, "OK: update applied");
    says(&r.stdout, DEFAULT_NOTE);
    says(&r.stdout, "\"ree-plaintext\"");

    // A KEK provisioned for anchor 2 only is not anchor 1's, --device-key or not.
    let kek = r#"[{"kek": "kek.bin", "kid": "kek-1"}]"#;
    envelope(d, "kek", kek);
    let more = r#",
        {"add-anchor": {"id": 2, "key": "other.pub.pem", "role": "author", "components": [["ree"]], "ree-plaintext": true}},
        {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [ANCHORS]}}"#;
    let flag = r#", "ree-plaintext": true"#;
    write(
        d,
        "kek2.json",
        description(flag, &more.replace("ANCHORS", "2")),
    );
    write(
        d,
        "kek1.json",
        description(flag, &more.replace("ANCHORS", "1")),
    );
    let all = fails(
        verify(
            d,
            "kek.suit",
            "--provisioning kek2.json --device-key dk.priv.pem",
        ),
        1,
        "nothing was installed",
    );
    assert!(!all.contains("OK: update applied"), "{all}");
    says(
        &ok(verify(
            d,
            "kek.suit",
            "--provisioning kek1.json --device-key dk.priv.pem",
        ))
        .stdout,
        "OK: update applied",
    );

    // Co-signed by anchor 1 (no flag) and anchor 2 (flag): the one key stands in for both, so
    // the run cannot tell whose key the payload was encrypted to (a device refuses it if it
    // was anchor 1's), and says so (re-review s36).
    ok(author(
        d,
        &words("create dk.json -o co.suit --sign-key author.priv.pem --sign-key other.priv.pem"),
    ));
    write(
        d,
        "co.json",
        description(
            "",
            r#",
        {"add-anchor": {"id": 2, "key": "other.pub.pem", "role": "author", "components": [["ree"]], "ree-plaintext": true}}"#,
        ),
    );
    let r = ok(verify(
        d,
        "co.suit",
        "--trust-anchor other.pub.pem --provisioning co.json --device-key dk.priv.pem",
    ));
    says(&r.stdout, "OK: update applied");
    says(&r.stdout, COSIGNED_NOTE);

    // The device (the agent's simulator) provisioned from the same description refuses the
    // same content encrypted to its anchor's own key, and takes it once the anchor has the flag.
    ok(author(d, &provision_args("plain.json", "plain.cbor", &[])));
    ok(agent(d, &words("provision plain.cbor")));
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
    envelope(
        d,
        "own",
        r#"[{"key": "keys/anchor-1.hpke.pub.pem", "mode": "hpke"}]"#,
    );
    let all = fails(
        agent(d, &words("install own.suit --ree-root ree")),
        1,
        "no signer's anchor may put",
    );
    assert!(all.contains("\"ree-plaintext\": true"), "{all}");
}
