//! One encoder for envelopes (issue 13 item 1): `sign`, `sever`, `unsever` and `create`
//! rewrite envelopes through suit-cbor's encoder (`suit::author::Members`), no longer through
//! ciborium `Value`s. Their output is byte for byte what the ciborium-based tool wrote
//! (host/tests/golden/one-encoder, written by that tool; its README says how).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;
use suit_test_support::cli::Out;
use suit_test_support::{vector_path, AUTHOR_PRIV, OPERATOR_PRIV, SPEC_SIGNED, SPEC_UNSIGNED};

suit_test_support::cli_tools!();

/// The signed firmware-encryption manifests (tests/vectors/suit-firmware-encryption).
const FE_SIGNED: [&str; 5] = [
    "suit-manifest-aes-kw-content.hex.signed",
    "suit-manifest-aes-kw-slot.hex.signed",
    "suit-manifest-aes-kw.hex.signed",
    "suit-manifest-es-ecdh-content.hex.signed",
    "suit-manifest-es-ecdh-dependency.hex.signed",
];

fn golden_path(name: &str) -> String {
    format!(
        "{}/tests/golden/one-encoder/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn golden(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(golden_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    hex::decode(text.trim()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs the author tool in `d`, requires success, and compares the file `out` it wrote with
/// the golden file `expected`.
fn same_as_before(d: &Path, args: &[&str], out: &str, expected: &str) {
    let r: Out = author(d, args);
    assert_eq!(r.code, 0, "{expected}: {}", r.stderr);
    let written = std::fs::read(d.join(out)).unwrap();
    assert_eq!(
        hex::encode(&written),
        hex::encode(golden(expected)),
        "{expected}: {args:?} wrote other bytes than before"
    );
}

#[test]
fn sign_writes_what_it_wrote_before() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let key = vector_path(AUTHOR_PRIV);
    let spec = SPEC_SIGNED.iter().chain(&SPEC_UNSIGNED).map(|n| {
        (
            format!("suit-manifest-spec/{n}"),
            n.trim_end_matches(".hex"),
        )
    });
    let fe = FE_SIGNED.iter().map(|n| {
        let rel = format!("suit-firmware-encryption/{n}");
        (rel, n.trim_end_matches(".hex.signed"))
    });
    let mut cases = 0;
    for (rel, name) in spec.chain(fe) {
        let input = vector_path(&rel);
        let args = ["sign", &input, "-o", "out.suit", "--sign-key", &key];
        same_as_before(d, &args, "out.suit", &format!("{name}.sign.hex"));
        cases += 1;
    }
    assert_eq!(cases, 18);

    // Three blocks in the COSE_Sign form (two signatures in one block, one MAC).
    let input = vector_path("suit-manifest-spec/example3.unsigned.hex");
    let (operator, mac) = (
        vector_path(OPERATOR_PRIV),
        vector_path("suit-firmware-encryption/hmac256_key.bin"),
    );
    let args = [
        "sign",
        &input,
        "-o",
        "multi.suit",
        "--sign-key",
        &key,
        "--sign-key",
        &operator,
        "--hmac-key",
        &mac,
        "--cose-sign",
    ];
    same_as_before(d, &args, "multi.suit", "example3.unsigned.cose-sign.hex");
}

#[test]
fn sever_and_unsever_write_what_they_wrote_before() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let example2 = vector_path("suit-manifest-spec/example2.signed.hex");
    let args = ["sever", &example2, "-o", "sev.suit", "--members-out", "all"];
    same_as_before(d, &args, "sev.suit", "example2.signed.sever.hex");
    for member in ["suit-install", "suit-text"] {
        let written = std::fs::read(d.join(format!("all/{member}.cbor"))).unwrap();
        assert_eq!(
            written,
            golden(&format!("example2.signed.sever.{member}.hex")),
            "{member}"
        );
    }
    let args = [
        "sever",
        &example2,
        "-o",
        "text.suit",
        "--members-out",
        "text",
        "--member",
        "text",
    ];
    same_as_before(d, &args, "text.suit", "example2.signed.sever-text.hex");
    let written = std::fs::read(d.join("text/suit-text.cbor")).unwrap();
    assert_eq!(written, golden("example2.signed.sever-text.suit-text.hex"));

    // Both members back: the example's own bytes again (its keys in deterministic order).
    let args = [
        "unsever",
        "sev.suit",
        "-o",
        "back.suit",
        "--member",
        "all/suit-text.cbor",
        "--member",
        "all/suit-install.cbor",
    ];
    let r = author(d, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read(d.join("back.suit")).unwrap(),
        suit_test_support::hex_file("suit-manifest-spec/example2.signed.hex")
    );
}

#[test]
fn create_writes_what_it_wrote_before() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (from, to) in [
        ("create.json", "m.json"),
        ("create-app.bin", "app.bin"),
        ("create-conf.bin", "conf.bin"),
    ] {
        std::fs::copy(golden_path(from), d.join(to)).unwrap();
    }
    let key = vector_path(AUTHOR_PRIV);
    let args = [
        "create",
        "m.json",
        "-o",
        "m.suit",
        "--severable",
        "--sign-key",
        &key,
        "--payload-out",
        "out",
    ];
    same_as_before(d, &args, "m.suit", "create.hex");
}
