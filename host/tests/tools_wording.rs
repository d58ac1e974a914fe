//! Refusals speak sentences, never Rust's Debug text (issue 11, item 7): the error types the
//! service and the tools put into user-facing messages have Display wording from
//! `suit_common::suit::explain`, and a representative set of refusals from both tools is
//! checked end to end.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use suit_common::cbor::{CborError, CborErrorKind};
use suit_common::cose::CoseError;
use suit_common::protocol::CodecError;
use suit_common::service::keys::KeyStoreError;
use suit_common::service::state::StateError;
use suit_common::service::store::StoreError;
use suit_test_support::cli::{app_description, provision_args, write, Out};

suit_test_support::cli_tools!();

/// Debug text of an enum or struct: a CamelCase identifier (two humps or more), a capitalised
/// identifier directly followed by `(` (a tuple variant), or `Name { field:` struct syntax.
fn debug_syntax(s: &str) -> Option<String> {
    let words: Vec<&str> = s
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    for w in &words {
        let b = w.as_bytes();
        let camel = b[0].is_ascii_uppercase()
            && b.windows(2)
                .any(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase());
        if camel && !w.contains('_') {
            return Some(format!("CamelCase {w:?}"));
        }
    }
    let bytes = s.as_bytes();
    for (i, c) in bytes.iter().enumerate() {
        if *c == b'(' && i > 0 && bytes[i - 1].is_ascii_alphabetic() {
            let start = s[..i]
                .rfind(|c: char| !c.is_ascii_alphanumeric())
                .map_or(0, |p| p + 1);
            if s[start..].starts_with(|c: char| c.is_ascii_uppercase()) {
                return Some(format!("tuple variant at {:?}", &s[start..]));
            }
        }
    }
    if s.contains(" { ") && s.contains(": ") && s.contains(" }") {
        return Some("struct syntax".into());
    }
    None
}

fn assert_sentence(what: &str, s: &str) {
    if let Some(why) = debug_syntax(s) {
        panic!("{what}: Debug text ({why}) in {s:?}");
    }
}

#[test]
fn the_detector_catches_debug_text() {
    // The check must be able to fail: these are what the messages used to say.
    assert!(debug_syntax("device key store: Store(Io(5))").is_some());
    assert!(
        debug_syntax("not signed by the TPA root or a TPA anchor (VerificationFailed)").is_some()
    );
    assert!(debug_syntax("bad: Limit { what: 3 }").is_some());
    assert!(debug_syntax("UnexpectedType { expected: \"map\" } at byte 3").is_some());
    assert!(debug_syntax("the signature or MAC does not verify (COSE_Sign1, ESP256)").is_none());
}

#[test]
fn service_error_types_display_as_sentences() {
    let stores = [
        StoreError::Io(5),
        StoreError::NoSpace,
        StoreError::Corrupt,
        StoreError::BadName,
        StoreError::OutOfMemory,
        StoreError::NotCommitted,
        StoreError::Unordered,
    ];
    for s in stores {
        assert_sentence("StoreError", &s.to_string());
        assert_sentence("StateError", &StateError::Store(s).to_string());
        assert_sentence("KeyStoreError", &KeyStoreError::Store(s).to_string());
    }
    for e in [
        StateError::Corrupt,
        StateError::BadAnchorKey(3),
        StateError::KeksNotCommitted,
    ] {
        assert_sentence("StateError", &e.to_string());
    }
    for e in [
        KeyStoreError::Corrupt,
        KeyStoreError::Rng,
        KeyStoreError::Derivation,
        KeyStoreError::NoKeyScope,
    ] {
        assert_sentence("KeyStoreError", &e.to_string());
    }
    for e in [
        CoseError::Malformed,
        CoseError::UnsupportedStructure(98),
        CoseError::MissingAlgorithm,
        CoseError::UnsupportedAlgorithm(-35),
        CoseError::KeyAlgorithmMismatch,
        CoseError::PayloadNotDetached,
        CoseError::VerificationFailed,
        CoseError::InvalidKey,
        CoseError::UnknownCriticalHeader,
        CoseError::SigningFailed,
    ] {
        assert_sentence("CoseError", &e.to_string());
    }
    for kind in [
        CborErrorKind::Truncated,
        CborErrorKind::UnexpectedType { expected: "map" },
        CborErrorKind::NonCanonicalOrder,
        CborErrorKind::UnexpectedTag { found: 18 },
    ] {
        assert_sentence("CborError", &CborError { kind, offset: 4 }.to_string());
    }
    for e in [
        CodecError::TooLarge,
        CodecError::Malformed,
        CodecError::TrailingBytes,
    ] {
        assert_sentence("CodecError", &e.to_string());
    }
}

fn refused(what: &str, r: Out, expected: &str) {
    assert_ne!(r.code, 0, "{what}: {}", r.stdout);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains(expected), "{what}: {all:?} lacks {expected:?}");
    for line in all.lines() {
        assert_sentence(what, line);
    }
}

#[test]
fn representative_refusals_are_sentences() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    assert_eq!(
        author(d, &["keygen", "--type", "p256", "-o", "rogue"]).code,
        0
    );
    assert_eq!(author(d, &["keygen", "--type", "p256", "-o", "a"]).code, 0);
    assert_eq!(agent(d, &["device-key", "--out", "device.pub.pem"]).code, 0);
    std::fs::write(
        d.join("p.json"),
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "a.pub.pem", "role": "author", "components": [["app"]]}}]}"#,
    )
    .unwrap();
    // Provisioning signed by a key that is not the TPA's: the COSE failure in words.
    assert_eq!(
        author(
            d,
            &[
                "provision",
                "p.json",
                "--tpa-key",
                "rogue.priv.pem",
                "-o",
                "rogue.cbor"
            ]
        )
        .code,
        0
    );
    refused(
        "provision by a rogue TPA",
        agent(d, &["provision", "rogue.cbor"]),
        "signature or MAC does not verify",
    );
    refused(
        "provision by a rogue TPA, JSON",
        agent(d, &["provision", "rogue.cbor", "--json"]),
        "signature or MAC does not verify",
    );
    assert_eq!(author(d, &provision_args("p.json", "p.cbor", &[])).code, 0);
    assert_eq!(agent(d, &["provision", "p.cbor"]).code, 0);
    // The envelope signed by a key the device does not trust (verify, offline).
    std::fs::write(d.join("fw.bin"), b"fw").unwrap();
    write(d, "m.json", app_description("b"));
    assert_eq!(
        author(
            d,
            &[
                "create",
                "m.json",
                "-o",
                "m.suit",
                "--sign-key",
                "rogue.priv.pem"
            ]
        )
        .code,
        0
    );
    refused(
        "verify with the wrong anchor",
        author(d, &["verify", "m.suit", "--trust-anchor", "a.pub.pem"]),
        "not",
    );
    refused(
        "install signed by an unknown key",
        agent(d, &["install", "m.suit"]),
        "",
    );
    // A corrupt state record and a corrupt key object: storage failures in words.
    // Overwrites the simulator's stored object `name` with bytes that are not CBOR.
    let corrupt = |name: &str| {
        let obj = d.join("state").join(hex::encode(name));
        assert!(obj.exists(), "the simulator's object {name} moved");
        std::fs::write(&obj, b"\xff\xffnot cbor").unwrap();
    };
    corrupt("suit/state");
    refused(
        "anchors with a corrupt state",
        agent(d, &["anchors"]),
        "state record does not decode",
    );
    corrupt("suit/device-keys");
    refused(
        "device-key with a corrupt key object",
        agent(d, &["device-key"]),
        "device key object does not decode",
    );
}
