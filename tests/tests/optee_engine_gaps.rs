//! Issue 10 item 7 inside OP-TEE on QEMU: a COSE_Sign envelope (author and operator in one
//! block) satisfies a rule requiring both, one signer alone does not; suit-directive-unlink
//! removes a secure-storage component, and a TA's removal is refused. The unlink envelope's
//! COSE_Sign also carries two signatures the TA cannot use (Ed25519, not enabled in its
//! default build, and one whose kid exceeds the header cap): each signature is judged on its
//! own, so they do not void the other two.

use ciborium::Value;
use suit_common::cose::{Algorithm, SigningKey};
use suit_common::suit::author::{seal_envelope_as, AuthForm, Signer};
use suit_test_support::cbor::{bytes, check_vendor_class, int, suit_manifest};
use suit_tests::keys::p256_signer;
use suit_tests::{author, boot, enrolled_device, sign_provisioning, write_text, Boot};

const VENDOR: &str = "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe";
const CLASS: &str = "1492af14-2569-5e48-bf42-9b2d51f2ab45";
const AUTHOR: &str = "vectors/suit-manifest-spec/private_key.pem";
const OPERATOR: &str = "vectors/suit-firmware-encryption/dependent_manifest_signer_es256_priv.pem";
/// A TA the device does not hold (its removal is refused whatever it holds).
const SOME_TA: [u8; 16] = [0x5e; 16];

fn uuid(s: &str) -> Vec<u8> {
    hex::decode(s.replace('-', "")).unwrap()
}

/// A manifest (sequence `seq`) unlinking `component`, signed in one COSE_Sign by an Ed25519
/// key, by a P-256 key under a 300-byte kid (over the TA's 256-byte cap), then by author and
/// operator.
fn unlink_envelope(seq: u64, component: &[&[u8]]) -> Vec<u8> {
    let shared = Value::Array(check_vendor_class(
        vec![int(12), int(0)],
        bytes(&uuid(VENDOR)),
        bytes(&uuid(CLASS)),
        vec![],
        15,
    ));
    let install = Value::Array(vec![int(12), int(0), int(33), int(15)]);
    let components = vec![Value::Array(component.iter().map(|s| bytes(s)).collect())];
    let manifest = suit_manifest(seq as i64, components, &shared, &install);
    let (a, o) = (p256_signer(AUTHOR), p256_signer(OPERATOR));
    let ed = SigningKey::ed25519(&[7; 32]).unwrap();
    let stranger = SigningKey::p256(&[9; 32]).unwrap();
    let long_kid = [b'k'; 300];
    seal_envelope_as(
        AuthForm::CoseSign,
        &manifest,
        &[
            Signer {
                key: &ed,
                alg: Algorithm::Ed25519,
                kid: b"ed",
            },
            Signer {
                key: &stranger,
                alg: Algorithm::Esp256,
                kid: &long_kid,
            },
            Signer {
                key: &a,
                alg: Algorithm::Esp256,
                kid: b"",
            },
            Signer {
                key: &o,
                alg: Algorithm::Esp256,
                kid: b"",
            },
        ],
        &[],
        &[],
    )
    .unwrap()
}

#[test]
fn cose_sign_signers_and_unlink_in_the_ta() {
    let (dir, disk) = enrolled_device();
    let d = dir.path();

    for (name, rel) in [
        ("author.priv.pem", AUTHOR),
        ("operator.priv.pem", OPERATOR),
        (
            "author.pub.pem",
            "vectors/suit-manifest-spec/public_key.pem",
        ),
        (
            "operator.pub.pem",
            "vectors/suit-firmware-encryption/dependent_manifest_signer_es256_pub.pem",
        ),
    ] {
        std::fs::copy(suit_tests::keys::path(rel), d.join(name)).unwrap();
    }
    sign_provisioning(
        d,
        &format!(
            r#"{{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"], ["hex:{ta}"]]}}}},
            {{"add-anchor": {{"id": 2, "key": "operator.pub.pem", "role": "operator", "components": [["app"], ["hex:{ta}"]]}}}},
            {{"set-rules": [{{"prefix": ["app"], "require-roles": ["author", "operator"], "require-anchors": []}}]}},
            {{"set-identity": {{"vendor-id": "{VENDOR}", "class-id": "{CLASS}"}}}}]}}"#,
            ta = hex::encode(SOME_TA)
        ),
    );
    std::fs::write(d.join("data.bin"), b"secure data, removed later").unwrap();
    let description = |seq: u64| {
        format!(
            r#"{{"sequence-number": {seq}, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
                "components": [{{"id": ["app", "data"], "file": "data.bin"}}]}}"#
        )
    };
    // The same description twice: signed by both in one COSE_Sign, then by the author alone.
    let both: &[&str] = &[
        "--sign-key",
        "author.priv.pem",
        "--sign-key",
        "operator.priv.pem",
        "--cose-sign",
    ];
    let alone: &[&str] = &["--sign-key", "author.priv.pem"];
    for (name, seq, signers) in [("both", 1, both), ("alone", 2, alone)] {
        let (json, out) = (format!("{name}.json"), format!("{name}.suit"));
        write_text(d, &json, &description(seq));
        let mut args = vec!["create", json.as_str(), "-o", out.as_str()];
        args.extend_from_slice(signers);
        author(d, &args);
    }
    std::fs::write(
        d.join("unlink.suit"),
        unlink_envelope(3, &[b"app", b"data"]),
    )
    .unwrap();
    std::fs::write(d.join("unlink-ta.suit"), unlink_envelope(4, &[&SOME_TA])).unwrap();

    let puts: Vec<String> = [
        "provision.cbor",
        "both.suit",
        "alone.suit",
        "unlink.suit",
        "unlink-ta.suit",
    ]
    .iter()
    .map(|f| format!("{}=/up/{f}", d.join(f).display()))
    .collect();
    let put_refs: Vec<&str> = puts.iter().map(String::as_str).collect();
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: put_refs,
            ..Default::default()
        },
        &[
            "suit-agent provision /up/provision.cbor",
            "suit-agent install /up/both.suit",
            "! suit-agent install /up/alone.suit 2>&1",
            "suit-agent status",
            "suit-agent install /up/unlink.suit",
            "suit-agent status",
            "! suit-agent install /up/unlink-ta.suit 2>&1",
        ],
    );
    run.assert_ok();
    for (n, expected, why) in [
        (1, "signed by anchor(s) 1, 2", "one COSE_Sign, both signers"),
        (
            2,
            "a required signer is missing",
            "the author alone lacks the operator the rule requires",
        ),
        (3, "installed:           1 component(s)", "installed"),
        (
            4,
            "signed by anchor(s) 1, 2",
            "two unusable signatures beside author and operator",
        ),
        (5, "installed:           0 component(s)", "unlinked"),
        (6, "removing a TA is not supported", "a TA is not removed"),
    ] {
        let out = &run.command(n).output;
        assert!(out.contains(expected), "command {n} ({why}): {out}");
    }
}
