//! cose-wg/Examples COSE_Sign1 / COSE_Mac0 vectors (tests/vectors/cose-wg-examples) against the
//! authentication-block verifier: the vectors that fit SUIT verify, every negative vector
//! fails, and the vectors SUIT's profile excludes are refused for the stated reason.

use ciborium::value::Value;
use suit_common::cose::{AuthBlock, CoseError};

use crate::cose_wg_multi::key;
use suit_test_support::cose_wg as load;

/// Moves the attached payload out: `(block with nil payload, payload)`. The signed structure
/// does not change, so neither does the signature's validity.
fn detached(j: &serde_json::Value) -> (Vec<u8>, Vec<u8>) {
    let bytes = hex::decode(j["output"]["cbor"].as_str().unwrap()).unwrap();
    let v: Value = ciborium::de::from_reader(bytes.as_slice()).unwrap();
    let (tag, items) = match v {
        Value::Tag(t, inner) => (Some(t), *inner),
        other => (None, other),
    };
    let Value::Array(mut items) = items else {
        panic!()
    };
    let Value::Bytes(payload) = std::mem::replace(&mut items[2], Value::Null) else {
        panic!()
    };
    let body = Value::Array(items);
    let v = match tag {
        Some(t) => Value::Tag(t, Box::new(body)),
        None => body,
    };
    let mut out = Vec::new();
    ciborium::ser::into_writer(&v, &mut out).unwrap();
    (out, payload)
}

fn verify(name: &str) -> Result<(), CoseError> {
    let j = load(name);
    let (block, payload) = detached(&j);
    AuthBlock::parse(&block)?.verify(&payload, &key(&j).unwrap())
}

#[test]
fn vectors_that_fit_suit_verify() {
    for name in [
        "ecdsa-examples/ecdsa-sig-01",
        "eddsa-examples/eddsa-sig-01",
        "mac0-tests/HMac-01",
    ] {
        assert_eq!(verify(name), Ok(()), "{name}");
    }
}

#[test]
fn negative_vectors_fail() {
    for (name, want) in [
        // Tag 998 / 992 instead of 18 / 17.
        ("sign1-tests/sign-fail-01", CoseError::Malformed),
        ("mac0-tests/mac-fail-01", CoseError::Malformed),
        // Signature / tag changed.
        ("sign1-tests/sign-fail-02", CoseError::VerificationFailed),
        ("mac0-tests/mac-fail-02", CoseError::VerificationFailed),
        // A protected attribute added or removed after signing.
        ("sign1-tests/sign-fail-06", CoseError::VerificationFailed),
        ("mac0-tests/mac-fail-06", CoseError::VerificationFailed),
        ("sign1-tests/sign-fail-07", CoseError::VerificationFailed),
        ("mac0-tests/mac-fail-07", CoseError::VerificationFailed),
    ] {
        assert_eq!(verify(name), Err(want), "{name}");
    }
    // alg -999 and alg "unknown" (a text label): refused before any key is used.
    for name in [
        "sign1-tests/sign-fail-03",
        "mac0-tests/mac-fail-03",
        "sign1-tests/sign-fail-04",
        "mac0-tests/mac-fail-04",
    ] {
        let (block, _) = detached(&load(name));
        assert!(
            matches!(
                AuthBlock::parse(&block).map(|_| ()),
                Err(CoseError::Malformed | CoseError::UnsupportedAlgorithm(_))
            ),
            "{name}"
        );
    }
}

#[test]
fn vectors_outside_the_suit_profile_are_refused_for_their_reason() {
    for (name, want) in [
        // alg only in the unprotected bucket: SUIT takes the algorithm from the protected
        // header only, so an attacker cannot choose it.
        ("sign1-tests/sign-pass-01", CoseError::MissingAlgorithm),
        ("mac0-tests/mac-pass-01", CoseError::MissingAlgorithm),
        ("mac0-tests/mac-pass-02", CoseError::MissingAlgorithm),
        // Untagged: SUIT_Authentication_Block is COSE_Sign1_Tagged / COSE_Mac0_Tagged.
        ("sign1-tests/sign-pass-03", CoseError::Malformed),
        ("mac0-tests/mac-pass-03", CoseError::Malformed),
        // External AAD: SUIT has none, so the signature over "11aa22..." does not verify.
        ("sign1-tests/sign-pass-02", CoseError::VerificationFailed),
        // ES384 (P-384) is in no SUIT MTI profile.
        (
            "ecdsa-examples/ecdsa-sig-02",
            CoseError::UnsupportedAlgorithm(-35),
        ),
    ] {
        let j = load(name);
        let (block, payload) = detached(&j);
        let r = AuthBlock::parse(&block).and_then(|b| {
            // ES384's P-384 key cannot be loaded as P-256; the algorithm check comes first.
            if name.contains("ecdsa-sig-02") {
                return Ok(());
            }
            b.verify(&payload, &key(&j).unwrap())
        });
        assert_eq!(r, Err(want), "{name}");
    }
}
