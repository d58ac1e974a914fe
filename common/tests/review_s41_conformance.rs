//! Review s41 (conformance, as a peer implementation or an outside vector suite would probe
//! it): draft-allowed forms this engine refuses by documented device policy, pinned with the
//! typed reason CONFORMANCE.md gives.

use ciborium::Value;

use suit_common::cose::Algorithm;
use suit_common::suit::error::{Error, Unsupported};
use suit_common::suit::Envelope;

use suit_test_support::*;

fn enc(v: &Value) -> Vec<u8> {
    cbor(v)
}

fn spec_key() -> p256::ecdsa::SigningKey {
    match p256_private_from_pem("suit-manifest-spec/private_key.pem") {
        suit_common::cose::SigningKey::P256(k) => *k,
        _ => panic!("the examples' key is P-256"),
    }
}

/// A COSE_Sign1 (ESP256, the examples' key) over `payload`, detached.
fn sign1(payload: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer;
    let protected = enc(&map(vec![(1, int(-9))]));
    let tbs = enc(&Value::Array(vec![
        text("Signature1"),
        bytes(&protected),
        bytes(b""),
        bytes(payload),
    ]));
    let sig: p256::ecdsa::Signature = spec_key().sign(&tbs);
    enc(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            bytes(&protected),
            map(vec![]),
            Value::Null,
            bytes(&sig.to_bytes()),
        ])),
    ))
}

fn simple_manifest(install: Vec<Value>) -> Vec<u8> {
    suit_manifest(
        1,
        vec![Value::Array(vec![bytes(b"fw")])],
        &Value::Array(spec_id_checks()),
        &Value::Array(install),
    )
}

/// manifest-37 §"SUIT_Digest": SHA-256 (-16) is REQUIRED to implement, SHAKE128 (-18),
/// SHA-384 (-43), SHA-512 (-44) and SHAKE256 (-45) OPTIONAL. This device implements SHA-256
/// only (every MTI profile's digest; CONFORMANCE.md "Not yet supported"): a wrapper whose
/// manifest digest is SHA-512, correctly computed and signed, is refused by name before any
/// signature is checked, and an authenticated manifest naming a SHA-384 image digest is
/// refused when decoded, `Unsupported::DigestAlgorithm`, never read as a failed condition.
#[test]
fn optional_digest_algorithms_are_refused_by_name() {
    use sha2::Digest as _;
    // The wrapper: [SUIT_Digest(-44, SHA-512 over the bstr-wrapped manifest), COSE_Sign1].
    let m = simple_manifest(vec![int(20), map(vec![(14, int(1))])]);
    let wrapped = enc(&bytes(&m));
    let digest = enc(&Value::Array(vec![
        int(-44),
        bytes(&sha2::Sha512::digest(&wrapped)),
    ]));
    let wrapper = enc(&Value::Array(vec![bytes(&digest), bytes(&sign1(&digest))]));
    let env = enc(&Value::Tag(
        107,
        Box::new(map(vec![(2, bytes(&wrapper)), (3, bytes(&m))])),
    ));
    assert_eq!(
        Envelope::decode(&env).map(|_| ()),
        Err(Error::Unsupported(Unsupported::DigestAlgorithm(-44)))
    );

    // The same manifest with an image digest of SHA-384: authentic, refused when decoded.
    let sha384 = enc(&Value::Array(vec![int(-43), bytes(&[0x11; 48])]));
    let m = simple_manifest(vec![
        int(12),
        int(0),
        int(20),
        map(vec![(3, bytes(&sha384)), (14, int(1))]),
    ]);
    let env = seal_one(
        &m,
        &p256_private_from_pem("suit-manifest-spec/private_key.pem"),
        Algorithm::Esp256,
        &[],
        &[],
    );
    let refused = Envelope::decode(&env)
        .unwrap()
        .authenticate(&spec_policy().anchors)
        .map(|_| ());
    assert_eq!(
        refused,
        Err(Error::Unsupported(Unsupported::DigestAlgorithm(-43)))
    );
}
