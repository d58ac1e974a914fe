//! Provisioning through the real tools against the simulator (`--tee sim`): secrets (an HMAC
//! anchor key, a KEK) encrypted to the device's provisioning key, the device's signed
//! receipt checked by `suit-author verify-receipt` against the TPA's model of the device, and
//! a KEK recipient made by `suit-author create` decrypting on the device.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;

use suit_test_support::cli::{fails, provision_args, words, Out};
use suit_test_support::TPA_PRIV_PATH as TPA_PRIV;

suit_test_support::cli_tools!();

/// Everything a successful run said.
fn ok(o: Out) -> String {
    suit_test_support::cli::ok(o).text()
}

const HMAC_KEY: &[u8; 32] = b"cli-test-hmac-anchor-key-32bytes";
const KEK: &[u8; 16] = b"cli-test-kek-16b";

/// The device's identity and provisioning public keys, as the agent exports them, and its key
/// statement (`key-statement.cbor`: what descriptions take the provisioning key from).
fn export_keys(d: &Path) {
    for (which, file) in [
        ("identity", "identity.pub.pem"),
        ("provisioning", "provisioning.pub.pem"),
    ] {
        ok(agent(d, &["device-key", "--which", which, "--out", file]));
    }
    ok(agent(
        d,
        &["device-key", "--statement", "key-statement.cbor"],
    ));
}

fn provision(d: &Path, json: &str, out: &str) -> String {
    std::fs::write(d.join("p.json"), json).unwrap();
    ok(author(
        d,
        &[
            "provision",
            "p.json",
            "--tpa-key",
            TPA_PRIV,
            "-o",
            out,
            "--state",
            "model.cbor",
        ],
    ))
}

#[test]
fn secrets_travel_encrypted_receipts_verify_and_a_kek_recipient_installs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    export_keys(d);
    std::fs::write(d.join("operator.key"), HMAC_KEY).unwrap();
    std::fs::write(d.join("kek.bin"), KEK).unwrap();

    // Authoring refuses what the device would: a secret without the provisioning key, and an
    // HMAC key in the TPA role.
    std::fs::write(
        d.join("bad.json"),
        r#"{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [2],
                         "anchor-keys": {"2": {"key": "identity.pub.pem"}}}}]}"#,
    )
    .unwrap();
    fails(
        author(d, &provision_args("bad.json", "x.cbor", &[])),
        2,
        "key-statement",
    );
    std::fs::write(
        d.join("bad.json"),
        r#"{"counter": 1, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
            "ops": [{"add-anchor": {"id": 9, "hmac-key": "operator.key", "role": "tpa", "components": [[]]}}]}"#,
    )
    .unwrap();
    fails(
        author(d, &provision_args("bad.json", "x.cbor", &[])),
        2,
        "cannot hold the TPA role",
    );

    let out = provision(
        d,
        r#"{"counter": 1, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
            "ops": [
              {"add-anchor": {"id": 2, "hmac-key": "operator.key", "role": "author", "components": [["mac"]]}},
              {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [2]}},
              {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
        "p1.cbor",
    );
    assert!(out.contains("expected state digest: "), "{out}");
    let message = std::fs::read(d.join("p1.cbor")).unwrap();
    for secret in [&HMAC_KEY[..], &KEK[..]] {
        assert!(
            !message.windows(secret.len()).any(|w| w == secret),
            "the message carries a secret in clear"
        );
    }
    let applied = ok(agent(
        d,
        &["provision", "p1.cbor", "--receipt-out", "r1.cose"],
    ));
    // Key ids by the tools' one rule: text when it prints as text, else h'hex'.
    assert!(applied.contains("added KEK 'kek-1'"), "{applied}");
    let status = ok(agent(d, &["status"]));
    assert!(status.contains("device key kid:      h'"), "{status}");

    // The TPA checks what the device applied.
    let verified = ok(author(
        d,
        &words("verify-receipt r1.cose --identity-key identity.pub.pem --message p1.cbor --expect-state model.cbor"),
    ));
    assert!(
        verified.contains("applied provisioning message 1"),
        "{verified}"
    );
    let mut tampered = std::fs::read(d.join("r1.cose")).unwrap();
    let i = tampered.len() - 40;
    tampered[i] ^= 1;
    std::fs::write(d.join("bad.cose"), &tampered).unwrap();
    fails(
        author(
            d,
            &words("verify-receipt bad.cose --identity-key identity.pub.pem"),
        ),
        1,
        "REFUSED",
    );
    fails(
        author(
            d,
            &words("verify-receipt r1.cose --identity-key provisioning.pub.pem"),
        ),
        1,
        "REFUSED",
    );

    // Message 2 is made (the model moves on) but the REE drops it and relays 3: refused;
    // the old receipt no longer matches the model.
    provision(
        d,
        r#"{"counter": 2, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 2}]}"#,
        "p2.cbor",
    );
    fails(
        author(
            d,
            &words(
                "verify-receipt r1.cose --identity-key identity.pub.pem --expect-state model.cbor",
            ),
        ),
        1,
        "counter 1, the model at 2",
    );
    std::fs::write(
        d.join("p3.json"),
        r#"{"counter": 3, "device-key": "identity.pub.pem", "ops": [{"set-rules": []}]}"#,
    )
    .unwrap();
    ok(author(d, &provision_args("p3.json", "p3.cbor", &[])));
    fails(
        agent(d, &["provision", "p3.cbor"]),
        1,
        "skips message(s) 2..=2",
    );

    // A KEK recipient made by the author tool decrypts on the device; the envelope is
    // MAC'd with the provisioned HMAC anchor key.
    std::fs::write(d.join("fw.bin"), b"firmware for the KEK recipient").unwrap();
    let manifest = |kek: &str| {
        format!(
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["mac"], "file": "fw.bin", "uri": "https://example.com/fw.bin",
              "encryption": {{"content-alg": "A128GCM", "recipients": [{{"kek": "{kek}", "kid": "kek-1"}}]}}}}]}}"#
        )
    };
    std::fs::write(d.join("wrong.bin"), [0x11u8; 16]).unwrap();
    std::fs::write(d.join("wrong.json"), manifest("wrong.bin")).unwrap();
    ok(author(
        d,
        &words("create wrong.json -o wrong.suit --hmac-key operator.key --payload-out pw"),
    ));
    let wrong = agent(d, &["install", "wrong.suit", "--payload-dir", "pw"]);
    assert!(
        wrong.code != 0
            && wrong
                .text()
                .contains("AES key unwrap integrity check failed"),
        "{}",
        wrong.text()
    );
    std::fs::write(d.join("m.json"), manifest("kek.bin")).unwrap();
    ok(author(
        d,
        &words("create m.json -o m.suit --hmac-key operator.key --payload-out pk"),
    ));
    let installed = ok(agent(d, &["install", "m.suit", "--payload-dir", "pk"]));
    assert!(installed.contains("'mac'"), "{installed}");
}

/// Review s16 (R2; s16-prov): a delegated TPA anchor's messages run on the delegates' own
/// counter, on the device and in the TPA's model alike; it cannot manage TPA anchors; the
/// root's counter is untouched by it, and the root revokes it.
#[test]
fn a_delegate_counts_on_its_own_counter_and_the_model_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    export_keys(d);
    ok(author(d, &["keygen", "--type", "p256", "-o", "delegate"]));
    provision(
        d,
        r#"{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {"add-anchor": {"id": 5, "key": "delegate.pub.pem", "role": "tpa", "components": [[]]}}]}"#,
        "p1.cbor",
    );
    ok(agent(d, &["provision", "p1.cbor"]));
    // The delegate's first message carries counter 1 (the root is at 1 too: separate counters).
    let by_delegate = |json: &str, out: &str| {
        std::fs::write(d.join("q.json"), json).unwrap();
        author(
            d,
            &[
                "provision",
                "q.json",
                "--tpa-key",
                "delegate.priv.pem",
                "-o",
                out,
                "--state",
                "model.cbor",
            ],
        )
    };
    ok(by_delegate(
        r#"{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
        "q1.cbor",
    ));
    let applied = ok(agent(
        d,
        &["provision", "q1.cbor", "--receipt-out", "rq1.cose"],
    ));
    assert!(applied.contains("signed by TPA anchor 5"), "{applied}");
    let verified = ok(author(
        d,
        &words("verify-receipt rq1.cose --identity-key identity.pub.pem --message q1.cbor --expect-state model.cbor"),
    ));
    assert!(verified.contains("signed by TPA anchor 5"), "{verified}");
    // The model refuses what the device would: a delegate removing a TPA anchor (itself).
    fails(
        by_delegate(
            r#"{"counter": 2, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 5}]}"#,
            "q2.cbor",
        ),
        1,
        "only the TPA root",
    );
    let anchors = ok(agent(d, &["anchors"]));
    assert!(
        anchors.contains("provisioning counter: 1 (TPA root); delegated TPA anchors: 1"),
        "{anchors}"
    );
    // A PEM key carries no kid: the listing says so instead of showing empty bytes.
    assert!(
        anchors.contains("anchor 5 (tpa, P-256, no kid)"),
        "{anchors}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&suit_test_support::cli::ok(agent(d, &["anchors", "--json"])).stdout)
            .unwrap();
    assert_eq!(
        (&j["provisioning-counter"], &j["delegate-counter"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{j}"
    );
    // The signed report's device state carries both counters (session 18), and
    // `verify-report` shows both.
    ok(agent(
        d,
        &["device-key", "--which", "report", "--out", "report.pub.pem"],
    ));
    // (A report needs an install attempt: one refused before authentication will do.)
    std::fs::write(d.join("junk.suit"), [0xa0]).unwrap();
    assert_ne!(agent(d, &["install", "junk.suit"]).code, 0);
    ok(agent(
        d,
        &["report", "--pre-auth", "--nonce", "01", "--out", "r.cose"],
    ));
    let shown = ok(author(
        d,
        &words("verify-report r.cose --device-key report.pub.pem"),
    ));
    assert!(
        shown.contains(
            "device state: provisioning counters 1 (TPA root), 1 (delegated TPA anchors)"
        ),
        "{shown}"
    );
    let j: serde_json::Value = serde_json::from_str(
        &suit_test_support::cli::ok(author(
            d,
            &words("verify-report r.cose --device-key report.pub.pem --json"),
        ))
        .stdout,
    )
    .unwrap();
    let state = &j["device-state"];
    assert_eq!(
        (&state["provisioning-counter"], &state["delegate-counter"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{j}"
    );
    // The root's next message is 2, and it revokes the delegate.
    provision(
        d,
        r#"{"counter": 2, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 5}]}"#,
        "p2.cbor",
    );
    ok(agent(
        d,
        &["provision", "p2.cbor", "--receipt-out", "r2.cose"],
    ));
    ok(author(
        d,
        &words("verify-receipt r2.cose --identity-key identity.pub.pem --expect-state model.cbor"),
    ));
}

/// Session 18 (s18-keyowner): one key, one holder. The TPA's model refuses what the device
/// refuses: an anchor holding the TPA root's key, added by the root itself or by a delegate
/// once the model learnt the root's key from a message the root signed, and a KEK whose bytes
/// another KEK holds; the device refuses the same messages when made without the model.
#[test]
fn the_model_and_the_device_refuse_the_roots_key_as_an_anchor_and_a_kek_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    export_keys(d);
    ok(author(d, &["keygen", "--type", "p256", "-o", "delegate"]));
    std::fs::copy(
        Path::new(TPA_PRIV).with_file_name("tpa-test.pub.pem"),
        d.join("root.pub.pem"),
    )
    .unwrap();
    std::fs::write(d.join("kek.bin"), KEK).unwrap();
    let root_anchor = |counter: u64, id: u32| {
        format!(
            r#"{{"counter": {counter}, "device-key": "identity.pub.pem", "ops": [
            {{"add-anchor": {{"id": {id}, "key": "root.pub.pem", "role": "author", "components": [["app"]]}}}}]}}"#
        )
    };
    let by = |key: &str, json: &str, model: bool| {
        std::fs::write(d.join("m.json"), json).unwrap();
        let mut args = vec!["provision", "m.json", "--tpa-key", key, "-o", "m.cbor"];
        if model {
            args.extend(["--state", "model.cbor"]);
        }
        author(d, &args)
    };
    let held = "anchor 3: its key is already held by the TPA root";
    // The root adding its own key: the model refuses it, and so does the device.
    fails(by(TPA_PRIV, &root_anchor(1, 3), true), 1, held);
    ok(by(TPA_PRIV, &root_anchor(1, 3), false));
    fails(agent(d, &["provision", "m.cbor"]), 1, held);
    provision(
        d,
        r#"{"counter": 1, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
            "ops": [
              {"add-anchor": {"id": 5, "key": "delegate.pub.pem", "role": "tpa", "components": [[]]}},
              {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [5]}}]}"#,
        "p1.cbor",
    );
    ok(agent(d, &["provision", "p1.cbor"]));
    // A delegate adding the root's key (the model knows it from message 1).
    fails(by("delegate.priv.pem", &root_anchor(1, 3), true), 1, held);
    ok(by("delegate.priv.pem", &root_anchor(1, 3), false));
    fails(agent(d, &["provision", "m.cbor"]), 1, held);
    // The same KEK bytes under another id.
    let twin = r#"{"counter": 2, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
        "ops": [{"add-kek": {"kek": "kek.bin", "kid": "kek-2", "anchors": [5],
                             "anchor-keys": {"5": {"key": "delegate.pub.pem"}}}}]}"#;
    let kek_held = "KEK 'kek-2': its key is already held by KEK 'kek-1'";
    fails(by(TPA_PRIV, twin, true), 1, kek_held);
    ok(by(TPA_PRIV, twin, false));
    fails(agent(d, &["provision", "m.cbor"]), 1, kek_held);
    // Neither counter moved.
    let anchors = ok(agent(d, &["anchors"]));
    assert!(
        anchors.contains("provisioning counter: 1 (TPA root); delegated TPA anchors: 0"),
        "{anchors}"
    );
}

/// Review s27, findings 1 and 4: a KEK's wrap names the key each anchor holds, which the tool
/// takes from the description, the device model or `anchor-keys` (and refuses to guess);
/// secrets go only to the provisioning key of a key statement verified against the device.
#[test]
fn a_kek_is_bound_to_its_anchors_keys_and_secrets_go_to_a_verified_provisioning_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    export_keys(d);
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    ok(author(d, &["keygen", "--type", "p256", "-o", "other"]));
    std::fs::write(d.join("kek.bin"), KEK).unwrap();
    provision(
        d,
        r#"{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}}]}"#,
        "p1.cbor",
    );
    ok(agent(d, &["provision", "p1.cbor"]));
    let kek = |anchor_keys: &str| {
        format!(
            r#"{{"counter": 2, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
            "ops": [{{"add-kek": {{"kek": "kek.bin", "kid": "kek-1", "anchors": [1]{anchor_keys}}}}}]}}"#
        )
    };
    let make = |json: &str, model: bool| {
        std::fs::write(d.join("k.json"), json).unwrap();
        let mut args = vec!["provision", "k.json", "--tpa-key", TPA_PRIV, "-o", "k.cbor"];
        if model {
            args.extend(["--state", "model.cbor"]);
        }
        author(d, &args)
    };
    // Neither the description, a model nor anchor-keys says which key anchor 1 holds.
    let unknown = make(&kek(""), false);
    fails(unknown, 2, "which key anchor 1 holds is not known");
    // The model knows it; anchor-keys naming another key contradicts it.
    fails(
        make(
            &kek(r#", "anchor-keys": {"1": {"key": "other.pub.pem"}}"#),
            true,
        ),
        2,
        "names another key for anchor 1",
    );
    // Bound to a key anchor 1 does not hold: the device does not open the KEK.
    ok(make(
        &kek(r#", "anchor-keys": {"1": {"key": "other.pub.pem"}}"#),
        false,
    ));
    fails(agent(d, &["provision", "k.cbor"]), 1, "does not open");
    // Bound to the key it holds (the private key file names it as well): applied.
    ok(make(
        &kek(r#", "anchor-keys": {"1": {"key": "author.priv.pem"}}"#),
        false,
    ));
    let applied = ok(agent(d, &["provision", "k.cbor"]));
    assert!(applied.contains("added KEK"), "{applied}");

    // Finding 4: no bare provisioning key PEM; a statement of another device is refused.
    let secret = |keys: &str| {
        format!(
            r#"{{"counter": 3, "device-key": "identity.pub.pem", {keys}
            "ops": [{{"add-kek": {{"kek": "kek.bin", "kid": "kek-2", "anchors": [1],
                      "anchor-keys": {{"1": {{"key": "author.pub.pem"}}}}}}}}]}}"#
        )
    };
    fails(
        make(
            &secret(r#""provisioning-key": "provisioning.pub.pem","#),
            false,
        ),
        2,
        "\"provisioning-key\" is no longer taken",
    );
    ok(agent_state(
        d,
        "other-device",
        &["device-key", "--out-dir", "other-dev"],
    ));
    fails(
        make(
            &secret(r#""key-statement": "other-dev/key-statement.cbor","#),
            false,
        ),
        1,
        "names another identity key",
    );
}

/// Review s27, finding 2: `verify-key-statement` writes an anchor's payload keys only if the
/// statement says the anchor holds the caller's key, and refuses `--anchor` otherwise.
#[test]
fn an_anchors_stated_keys_are_taken_only_for_the_callers_own_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    export_keys(d);
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    ok(author(d, &["keygen", "--type", "p256", "-o", "other"]));
    provision(
        d,
        r#"{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}}]}"#,
        "p1.cbor",
    );
    ok(agent(d, &["provision", "p1.cbor"]));
    ok(agent(
        d,
        &["device-key", "--anchor", "1", "--statement", "a1.cbor"],
    ));
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify-key-statement",
            "a1.cbor",
            "--identity-key",
            "identity.pub.pem",
        ];
        args.extend_from_slice(extra);
        author(d, &args)
    };
    // --anchor needs the key the anchor must hold.
    fails(verify(&["--anchor", "1"]), 2, "--anchor-key");
    // Another key: refused, nothing written.
    fails(
        verify(&[
            "--anchor",
            "1",
            "--anchor-key",
            "other.pub.pem",
            "--out-dir",
            "x",
        ]),
        1,
        "anchor 1 holds another key",
    );
    assert!(!d.join("x").join("anchor-1.hpke.pub.pem").exists());
    // Without --anchor-key, the device keys are written but not the anchor's.
    let out = ok(verify(&["--out-dir", "y"]));
    assert!(out.contains("not written"), "{out}");
    assert!(d.join("y").join("identity.pub.pem").is_file());
    assert!(!d.join("y").join("anchor-1.hpke.pub.pem").exists());
    // The author's own key (public or private file): written.
    for key in ["author.pub.pem", "author.priv.pem"] {
        let dir = format!("z-{key}");
        ok(verify(&[
            "--anchor",
            "1",
            "--anchor-key",
            key,
            "--out-dir",
            &dir,
        ]));
        assert!(d.join(&dir).join("anchor-1.hpke.pub.pem").is_file());
        assert!(d.join(&dir).join("anchor-1.ecdh.pub.pem").is_file());
    }
}

/// Review s27 follow-up: a statement names an HMAC anchor by a keyed check value for that
/// device and key scope, never by SHA-256 of `[4, key]` (public, the same on every device
/// holding the operator's key). `verify-key-statement --anchor-key` computes it from the key
/// file and takes the anchor's keys for the operator's key only; two devices given the same
/// key state different values.
#[test]
fn an_hmac_anchor_is_stated_by_a_per_device_check_value_only_its_key_gives() {
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    use p256::pkcs8::DecodePublicKey as _;
    use sha2::Digest as _;
    let tmp = tempfile::tempdir().unwrap();
    // SHA-256 of the deterministic CBOR [4, key]: the unkeyed digest the wrap AADs use.
    let unkeyed = sha2::Sha256::digest([&[0x82, 0x04, 0x58, 0x20][..], HMAC_KEY].concat());
    let mut stated = Vec::new();
    for device in ["a", "b"] {
        let d = &tmp.path().join(device);
        std::fs::create_dir(d).unwrap();
        export_keys(d);
        std::fs::write(d.join("operator.key"), HMAC_KEY).unwrap();
        std::fs::write(d.join("other.key"), b"cli-test-another-hmac-key-32byte").unwrap();
        provision(
            d,
            r#"{"counter": 1, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
                "ops": [{"add-anchor": {"id": 2, "hmac-key": "operator.key", "role": "author", "components": [["mac"]]}}]}"#,
            "p1.cbor",
        );
        ok(agent(d, &["provision", "p1.cbor"]));
        ok(agent(
            d,
            &["device-key", "--anchor", "2", "--statement", "a2.cbor"],
        ));
        let bytes = std::fs::read(d.join("a2.cbor")).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == unkeyed.as_slice()),
            "the statement carries SHA-256 of the HMAC key"
        );
        let verify = |key: &str, dir: &str| {
            author(
                d,
                &[
                    "verify-key-statement",
                    "a2.cbor",
                    "--identity-key",
                    "identity.pub.pem",
                    "--anchor",
                    "2",
                    "--anchor-key",
                    key,
                    "--out-dir",
                    dir,
                ],
            )
        };
        fails(verify("other.key", "x"), 1, "anchor 2 holds another key");
        assert!(!d.join("x").join("anchor-2.hpke.pub.pem").exists());
        ok(verify("operator.key", "z"));
        assert!(d.join("z").join("anchor-2.hpke.pub.pem").is_file());
        assert!(d.join("z").join("anchor-2.ecdh.pub.pem").is_file());
        let pem = std::fs::read_to_string(d.join("identity.pub.pem")).unwrap();
        let identity = p256::PublicKey::from_public_key_pem(&pem).unwrap();
        let st = suit_common::service::statement::verify(
            &bytes,
            identity.to_sec1_point(false).as_bytes(),
        )
        .unwrap();
        let hpke = st.keys.iter().find(|k| k.purpose == "hpke").unwrap();
        stated.push(hpke.anchor_key.clone().unwrap());
    }
    assert_ne!(
        stated[0], stated[1],
        "the same key states alike on two devices"
    );
}

/// Runs the agent on the simulator (state `state` in `d`) with standard output on /dev/full:
/// every write fails with ENOSPC. Returns the exit code and standard error.
fn agent_to_full(d: &Path, args: &[&str]) -> (Option<i32>, String) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_suit-agent"))
        .current_dir(d)
        .args(suit_test_support::cli::sim_args("state", args))
        .stdin(std::process::Stdio::null())
        .stdout(full)
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into())
}

/// Review s27 (host tools 2), finding 1: printing to a full disk was dropped with exit 0; a
/// message applied without `--receipt-out` lost its receipt silently.
#[test]
fn a_receipt_or_key_that_cannot_be_printed_fails_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, err) = agent_to_full(d, &["device-key"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("standard output: No space left"), "{err}");
    assert_eq!(agent_to_full(d, &["device-key", "--json"]).0, Some(2));
    assert_eq!(agent_to_full(d, &["status"]).0, Some(2));
    export_keys(d);
    let message = |counter: u32, out: &str| {
        provision(
            d,
            &format!(
                r#"{{"counter": {counter}, "device-key": "identity.pub.pem", "ops": [
                {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "b{counter}"}}}}}}]}}"#
            ),
            out,
        );
    };
    message(1, "p1.cbor");
    // Applied, the receipt only printed, the print failed: after the commit (exit 5).
    let (code, err) = agent_to_full(d, &["provision", "p1.cbor"]);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("printing its receipt failed"), "{err}");
    let anchors = ok(agent(d, &["anchors"]));
    assert!(anchors.contains("provisioning counter: 1"), "{anchors}");
    // With --receipt-out the receipt is kept, and the lost status lines still fail it.
    message(2, "p2.cbor");
    let (code, err) = agent_to_full(
        d,
        &["provision", "p2.cbor", "--receipt-out", "r2.cose", "--json"],
    );
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("the TA committed"), "{err}");
    ok(author(
        d,
        &words("verify-receipt r2.cose --identity-key identity.pub.pem --message p2.cbor"),
    ));
}
