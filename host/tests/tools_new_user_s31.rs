//! A new user's review of session 31 (all low), one test per finding, run against the built
//! binaries (the agent with `--tee sim`).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use suit_test_support::cli::{app_description, fails, ok, provision_args, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// A key (PEM), a description (JSON) or the TPA's device model given where an envelope or a
/// provisioning message is read is named, with what to do with it, as a usage error (exit 2)
/// before any check or TA call: not a byte offset of malformed CBOR ("truncated input at
/// byte 9", "not an array"). Hex-text envelopes still read as envelopes (F1).
#[test]
fn keys_descriptions_and_device_models_are_named_where_cbor_is_read() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    // The TPA's model of another device's first (empty) message.
    write(
        d,
        "p2.json",
        r#"{"counter": 1, "device-key": "author.pub.pem", "ops": []}"#,
    );
    ok(author(
        d,
        &provision_args("p2.json", "p2.cbor", &["--state", "model.cbor"]),
    ));
    // JSON after white space, and a JSON array, are JSON too.
    write(d, "list.json", " \n[1, 2]");
    let json = "this is a JSON document";
    let json_hint = "run `suit-author create` (or `provision`) on it first";
    let pem = "this is PEM text (a key file)";
    let model = "this is the TPA's device model";
    let model_hint = "`suit-author provision --state`/`verify-receipt --expect-state`";
    let cases: [(&str, &str, &str); 5] = [
        ("p.json", json, json_hint),
        ("list.json", json, json_hint),
        ("author.pub.pem", pem, "options that take them"),
        ("author.priv.pem", pem, "options that take them"),
        ("model.cbor", model, model_hint),
    ];
    let before = ok(agent(d, &words("status --json"))).stdout;
    for (file, what, hint) in cases {
        for line in [
            format!("verify {file} --trust-anchor author.pub.pem"),
            format!("verify-report {file} --device-key author.pub.pem"),
        ] {
            let all = fails(author(d, &words(&line)), 2, what);
            assert!(all.contains(hint), "{line}: {all}");
        }
        // inspect shows a device model (secrets redacted) but has nothing to show of text.
        if what == model {
            says(
                &ok(author(d, &words(&format!("inspect {file}")))).stdout,
                "the TPA's model of a device",
            );
        } else {
            let all = fails(author(d, &words(&format!("inspect {file}"))), 2, what);
            assert!(all.contains(hint), "inspect {file}: {all}");
        }
        for line in [format!("install {file}"), format!("provision {file}")] {
            let all = fails(agent(d, &words(&line)), 2, what);
            assert!(all.contains(hint), "{line}: {all}");
        }
    }
    assert_eq!(ok(agent(d, &words("status --json"))).stdout, before);
    // inspect's JSON names it too (one document, exit 2).
    let r = author(d, &words("inspect p.json --json"));
    assert_eq!(r.code, 2, "{}", r.text());
    says(&r.stdout, json);
    // Hex text of an envelope is still an envelope.
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let hex = hex::encode(std::fs::read(d.join("m.suit")).unwrap());
    write(d, "m.hex", format!("{}\n{}\n", &hex[..40], &hex[40..]));
    ok(author(
        d,
        &words("verify m.hex --trust-anchor author.pub.pem"),
    ));
    ok(author(d, &words("inspect m.hex")));
    ok(agent(d, &words("install m.hex")));
}

const TA_UUID: &str = "8aaaf200-2450-11e4-abe2-0002a5d5c51b";

fn ta_description(file: &str) -> String {
    format!(
        r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
        "components": [{{"ta-uuid": "{TA_UUID}", "file": "{file}"}}]}}"#
    )
}

/// A `ta-uuid` component's file must be an OP-TEE signed TA image of that UUID, checked by
/// `create` with the parser the TA uses (exit 2, nothing written), and `create` shows its
/// `ta_version` (F3). Without the check both mistakes showed only on the device.
#[test]
fn create_checks_a_ta_image_and_shows_its_version() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    let uuid = *uuid::Uuid::parse_str(TA_UUID).unwrap().as_bytes();
    let mut other = uuid;
    other[15] ^= 1;
    std::fs::write(d.join("elf.bin"), b"\x7fELF not signed").unwrap();
    std::fs::write(
        d.join("other.ta"),
        suit_test_support::service::ta_image(other, 3),
    )
    .unwrap();
    std::fs::write(
        d.join("good.ta"),
        suit_test_support::service::ta_image(uuid, 7),
    )
    .unwrap();
    for (file, what) in [
        ("elf.bin", "not an OP-TEE signed TA image"),
        ("other.ta", "the image is TA 8aaaf200-2450-11e4-abe2-0002a5d5c51a but \"ta-uuid\" is 8aaaf200-2450-11e4-abe2-0002a5d5c51b"),
    ] {
        write(d, "ta.json", ta_description(file));
        let all = fails(
            author(
                d,
                &words("create ta.json -o ta.suit --sign-key author.priv.pem"),
            ),
            2,
            what,
        );
        says(&all, file);
        assert!(!d.join("ta.suit").exists(), "{file}: written");
    }
    write(d, "ta.json", ta_description("good.ta"));
    let r = ok(author(
        d,
        &words("create ta.json -o ta.suit --sign-key author.priv.pem"),
    ));
    says(&r.stdout, "ta_version 7");
}

/// A lost provisioning receipt is recovered with an empty message at the next counter, sent
/// with `--receipt-out`, whose receipt `verify-receipt --expect-state` checks against the
/// TPA's model (F8, as host/README.md describes).
#[test]
fn a_lost_receipt_is_recovered_with_an_empty_message() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &words("device-key --out device.pub.pem")));
    ok(author(d, &words("keygen --type p256 -o author")));
    write(
        d,
        "p.json",
        suit_test_support::cli::app_provisioning("board"),
    );
    ok(author(
        d,
        &provision_args("p.json", "p.cbor", &["--state", "model.cbor"]),
    ));
    // Applied, its receipt printed and lost.
    ok(agent(d, &words("provision p.cbor")));
    write(
        d,
        "again.json",
        r#"{"counter": 2, "device-key": "device.pub.pem", "ops": []}"#,
    );
    ok(author(
        d,
        &provision_args("again.json", "again.cbor", &["--state", "model.cbor"]),
    ));
    ok(agent(
        d,
        &words("provision again.cbor --receipt-out receipt.cose"),
    ));
    let r = ok(author(
        d,
        &words("verify-receipt receipt.cose --identity-key device.pub.pem --expect-state model.cbor --message again.cbor"),
    ));
    says(&r.stdout, "receipt verified");
}

/// Refusals whose likely cause the host can see say it (F9): an envelope for a device with no
/// trust anchors at all, `create` without a key, a payload that does not open with the
/// anchor's HPKE key, and a provisioning message for another device (both key ids).
#[test]
fn refusals_hint_at_their_likely_cause() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o stranger")));
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    write(d, "m.json", app_description("board"));
    let all = fails(
        author(d, &words("create m.json -o m.suit")),
        2,
        "--unsigned",
    );
    says(&all, "suit-author sign");
    ok(author(
        d,
        &words("create m.json -o s.suit --sign-key stranger.priv.pem"),
    ));
    // A device nobody provisioned.
    let all = fails(
        agent(d, &words("install s.suit")),
        1,
        "no trust anchor fits any authentication block",
    );
    says(
        &all,
        "this device has no trust anchors yet: provision one with `suit-agent provision`",
    );
    // Provisioned, a signer it does not know gets no such hint.
    provisioned_app_device(d);
    let all = fails(agent(d, &words("install s.suit")), 1, "not authenticated");
    assert!(!all.contains("no trust anchors yet"), "{all}");

    // HPKE to the anchor's ECDH-ES key: the device cannot open it.
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
    write(
        d,
        "e.json",
        suit_test_support::cli::encrypted_app_description(
            r#"[{"key": "keys/anchor-1.ecdh.pub.pem", "mode": "hpke"}]"#,
        ),
    );
    ok(author(
        d,
        &words("create e.json -o e.suit --sign-key author.priv.pem"),
    ));
    let all = fails(agent(d, &words("install e.suit")), 1, "HPKE open failed");
    says(&all, "anchor-N.hpke.pub.pem");
    says(
        &all,
        "no other key (its ECDH-ES key, the identity key, another device's) opens it",
    );
    // The anchor's HPKE key opens it.
    write(
        d,
        "e.json",
        suit_test_support::cli::encrypted_app_description(
            r#"[{"key": "keys/anchor-1.hpke.pub.pem", "mode": "hpke"}]"#,
        ),
    );
    ok(author(
        d,
        &words("create e.json -o e.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &words("install e.suit")));

    // A message for another device names both devices' key ids.
    ok(author(d, &words("keygen --type p256 -o other")));
    write(
        d,
        "o.json",
        r#"{"counter": 2, "device-key": "other.pub.pem", "ops": []}"#,
    );
    ok(author(d, &provision_args("o.json", "o.cbor", &[])));
    let all = fails(
        agent(d, &words("provision o.cbor")),
        1,
        "message is bound to another device",
    );
    let kid = |status: &str| {
        let j: serde_json::Value = serde_json::from_str(status).unwrap();
        j["service"]["device-key-kid"].as_str().unwrap().to_string()
    };
    let ours = kid(&ok(agent(d, &words("status --json"))).stdout);
    says(&all, &format!("this device's is h'{ours}'"));
    says(
        &all,
        "the message is for the device whose identity key id is h'",
    );
}
