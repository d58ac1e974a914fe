//! cose-wg/Examples COSE_Sign and COSE_Mac vectors (tests/vectors/cose-wg-examples, copied
//! from /work/shared with their README) against the SUIT authentication-block parser: the
//! multi-signer / multi-recipient structures built by another implementation verify with
//! their keys (payload moved out, as SUIT detaches it), the negative vector fails, and the
//! algorithms outside SUIT's profile are refused for that reason.

use ciborium::value::Value;
use suit_common::cose::{AuthBlock, CoseError, VerificationKey};
use suit_test_support::{b64url as b64, cose_wg as load};

/// The single-signer (COSE_Sign1 or the first COSE_Sign signer) or MAC key, as SUIT loads it.
pub(crate) fn key(j: &serde_json::Value) -> Result<VerificationKey, CoseError> {
    let i = &j["input"];
    let k = match (i.get("sign0"), i.get("sign"), i.get("mac0"), i.get("mac")) {
        (Some(s), ..) => &s["key"],
        (_, Some(s), ..) => &s["signers"][0]["key"],
        (_, _, Some(m), _) | (_, _, _, Some(m)) => &m["recipients"][0]["key"],
        _ => panic!("not an authentication vector"),
    };
    match k["kty"].as_str().unwrap() {
        "EC" => {
            let mut sec1 = vec![4u8];
            sec1.extend(b64(&k["x"]));
            sec1.extend(b64(&k["y"]));
            VerificationKey::p256_from_sec1(&sec1)
        }
        "OKP" => VerificationKey::ed25519(&hex::decode(k["x_hex"].as_str().unwrap()).unwrap()),
        _ => VerificationKey::hmac256(&b64(&k["k"])),
    }
}

/// `(structure with nil payload, payload)`: the signed / MACed data does not change.
pub(crate) fn detached(j: &serde_json::Value) -> (Vec<u8>, Vec<u8>) {
    let bytes = hex::decode(j["output"]["cbor"].as_str().unwrap()).unwrap();
    let Value::Tag(tag, inner) = ciborium::de::from_reader(bytes.as_slice()).unwrap() else {
        panic!("untagged")
    };
    let Value::Array(mut items) = *inner else {
        panic!()
    };
    let Value::Bytes(payload) = std::mem::replace(&mut items[2], Value::Null) else {
        panic!()
    };
    let mut out = Vec::new();
    ciborium::ser::into_writer(&Value::Tag(tag, Box::new(Value::Array(items))), &mut out).unwrap();
    (out, payload)
}

fn verify(name: &str) -> Result<Vec<u8>, CoseError> {
    let j = load(name);
    let (block, payload) = detached(&j);
    let entries = AuthBlock::parse_signers(&block)?;
    assert_eq!(entries.len(), 1, "{name}: one signer / one MAC");
    // A signature with an algorithm this engine lacks is an unusable entry, not a block error.
    let entry = entries[0].clone()?;
    entry.verify(&payload, &key(&j)?)?;
    Ok(entry.key_id().to_vec())
}

#[test]
fn cose_sign_and_cose_mac_vectors_verify() {
    assert_eq!(verify("ecdsa-examples/ecdsa-01"), Ok(b"11".to_vec()));
    assert_eq!(verify("eddsa-examples/eddsa-01"), Ok(b"11".to_vec()));
    // The direct recipient's kid is the key hint.
    assert_eq!(verify("hmac-examples/HMac-01"), Ok(b"our-secret".to_vec()));
}

#[test]
fn the_negative_vector_fails_and_others_are_refused_for_their_algorithm() {
    assert_eq!(
        verify("hmac-examples/HMac-04"),
        Err(CoseError::VerificationFailed)
    );
    // ES384 (-35), HMAC 384/384 (6), HMAC 256/64 (4): outside SUIT's MTI profiles.
    assert_eq!(
        verify("ecdsa-examples/ecdsa-02"),
        Err(CoseError::UnsupportedAlgorithm(-35))
    );
    assert_eq!(
        verify("hmac-examples/HMac-02"),
        Err(CoseError::UnsupportedAlgorithm(6))
    );
    assert_eq!(
        verify("hmac-examples/HMac-05"),
        Err(CoseError::UnsupportedAlgorithm(4))
    );
    // A payload other than the signed one does not verify.
    let j = load("ecdsa-examples/ecdsa-01");
    let (block, _) = detached(&j);
    let entries = AuthBlock::parse_signers(&block).unwrap();
    let e = entries[0].as_ref().unwrap();
    assert_eq!(
        e.verify(b"another payload", &key(&j).unwrap()),
        Err(CoseError::VerificationFailed)
    );
}
