//! Review s40 (review2): conformance and interoperability probes against the drafts, in the
//! forms a peer implementation may send. Each test names the draft text it follows and pins
//! behaviour found conformant or documented as device policy.

use ciborium::Value;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::Generate;

use suit_common::cose::SigningKey;
use suit_common::encryption::algorithms::KeyWrap;
use suit_common::encryption::recipient::{aes_kw, ecdh_es};
use suit_common::encryption::{decrypt, CoseOptions, DecryptError, EcdhSecret, MemoryKeys};
use suit_common::registry::EnvelopeKey;
use suit_common::suit::author::Members;
use suit_common::suit::Envelope;

use suit_test_support::*;

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn enc(v: &Value) -> Vec<u8> {
    cbor(v)
}

/// `Enc_structure = ["Encrypt", protected, h'']` (RFC 9052 §5.3, SUIT: empty external_aad).
fn enc_structure(protected: &[u8]) -> Vec<u8> {
    enc(&Value::Array(vec![
        text("Encrypt"),
        bytes(protected),
        bytes(b""),
    ]))
}

/// An ECDH-ES+A128KW recipient made by hand, as a peer would: the KEK from HKDF-SHA256 over
/// the SUIT COSE_KDF_Context whose SuppPubInfo.protected is `recipient_protected` (the bytes
/// the recipient carries), then A128KW of `cek`. Returns the recipient array.
fn peer_esdh_recipient(
    device: &p256::PublicKey,
    recipient_protected: &[u8],
    kid: Option<&[u8]>,
    cek: &[u8],
) -> Value {
    let eph = p256::SecretKey::generate_from_rng(&mut rng());
    let z = p256::ecdh::diffie_hellman(eph.to_nonzero_scalar(), device.as_affine());
    let z = EcdhSecret::from_slice(z.raw_secret_bytes()).unwrap();
    // COSE_KDF_Context = [-3, [nil,nil,nil], [nil,nil,nil], [128, protected, 'SUIT Payload
    // Encryption']], written independently of the engine's encoder.
    let context = enc(&Value::Array(vec![
        int(-3),
        Value::Array(vec![Value::Null, Value::Null, Value::Null]),
        Value::Array(vec![Value::Null, Value::Null, Value::Null]),
        Value::Array(vec![
            int(128),
            bytes(recipient_protected),
            bytes(b"SUIT Payload Encryption"),
        ]),
    ]));
    let kek = ecdh_es::derive_kek(&z, None, &context, KeyWrap::A128Kw);
    let wrapped = aes_kw::wrap(kek.as_bytes(), cek).unwrap();
    let point = eph.public_key().to_sec1_point(false);
    let p = point.as_bytes();
    let epk = map(vec![
        (1, int(2)),
        (-1, int(1)),
        (-2, bytes(&p[1..33])),
        (-3, bytes(&p[33..65])),
    ]);
    let mut unprotected = Vec::new();
    if let Some(kid) = kid {
        unprotected.push((4, bytes(kid)));
    }
    unprotected.push((-1, epk));
    Value::Array(vec![
        bytes(recipient_protected),
        map(unprotected),
        bytes(&wrapped),
    ])
}

/// A SUIT_Encryption_Info (A128GCM, detached) with `recipient`, and the ciphertext of
/// `plaintext` under `cek`.
fn gcm_info(recipient: Value, cek: &[u8], plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let protected = enc(&map(vec![(1, int(1))]));
    let iv = [7u8; 12];
    let ct = aes_gcm::Aes128Gcm::new_from_slice(cek)
        .unwrap()
        .encrypt(
            (&iv).into(),
            Payload {
                msg: plaintext,
                aad: &enc_structure(&protected),
            },
        )
        .unwrap();
    let info = enc(&Value::Tag(
        96,
        Box::new(Value::Array(vec![
            bytes(&protected),
            map(vec![(5, bytes(&iv))]),
            Value::Null,
            Value::Array(vec![recipient]),
        ])),
    ));
    (info, ct)
}

fn device() -> (MemoryKeys, p256::PublicKey) {
    let sk = p256::SecretKey::generate_from_rng(&mut rng());
    let public = sk.public_key();
    let mut keys = MemoryKeys::new();
    keys.add_ecdh_p256(Some(b"dev"), &sk.to_bytes()).unwrap();
    (keys, public)
}

/// Control for the next test: the same hand-made recipient with `alg` protected (`{1: -29}`)
/// opens, so the construction above is the draft's.
#[test]
fn a_peer_made_esdh_recipient_with_protected_alg_opens() {
    let (keys, public) = device();
    let cek = [0x11u8; 16];
    let protected = enc(&map(vec![(1, int(-29))]));
    let r = peer_esdh_recipient(&public, &protected, Some(b"dev"), &cek);
    let (info, ct) = gcm_info(r, &cek, b"firmware image");
    let pt = decrypt(&info, Some(&ct), &keys, &CoseOptions::SUIT).unwrap();
    assert_eq!(&pt[..], b"firmware image");
}

/// An ES-DH recipient without `alg` (protected h''): refused as another device's, the device
/// policy CONFORMANCE.md gives with its reason (the draft's KDF context protects the
/// recipient's header map "which contains ... the identifier of the content key distribution
/// method"; review s40 F1 asked for both key wraps to be tried instead).
#[test]
fn a_peer_made_esdh_recipient_without_alg_is_refused_by_policy() {
    let (keys, public) = device();
    let cek = [0x22u8; 16];
    let r = peer_esdh_recipient(&public, b"", Some(b"dev"), &cek);
    let (info, ct) = gcm_info(r, &cek, b"firmware image");
    let e = decrypt(&info, Some(&ct), &keys, &CoseOptions::SUIT).unwrap_err();
    assert!(
        matches!(e, DecryptError::Malformed { .. }),
        "refused as another device's recipient without alg: {e:?}"
    );
}

// ----- authentication blocks a peer may write -----

fn spec_key() -> p256::ecdsa::SigningKey {
    match p256_private_from_pem("suit-manifest-spec/private_key.pem") {
        SigningKey::P256(k) => *k,
        _ => panic!("the examples' key is P-256"),
    }
}

/// The envelope of `manifest` whose wrapper holds the digest and `blocks`, each made by
/// `block` from the encoded SUIT_Digest (the detached payload).
fn envelope_with(manifest: &[u8], block: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let base = seal_one(
        manifest,
        &p256_private_from_pem("suit-manifest-spec/private_key.pem"),
        suit_common::cose::Algorithm::Esp256,
        &[],
        &[],
    );
    let mut members = Members::decode(&base).unwrap();
    let wrapper = members
        .bstr(EnvelopeKey::AuthenticationWrapper)
        .unwrap()
        .to_vec();
    let items: Vec<Value> = ciborium::de::from_reader(&wrapper[..]).unwrap();
    let Value::Bytes(digest) = &items[0] else {
        panic!()
    };
    let new = enc(&Value::Array(vec![bytes(digest), bytes(&block(digest))]));
    members.set_bstr(EnvelopeKey::AuthenticationWrapper, &new);
    members.encode()
}

/// A COSE_Sign1 (tag 18) over `payload` detached, with `protected` bytes as given.
fn sign1_raw(protected: &[u8], unprotected: Value, payload: &[u8]) -> Vec<u8> {
    use p256::ecdsa::signature::Signer;
    let tbs = enc(&Value::Array(vec![
        text("Signature1"),
        bytes(protected),
        bytes(b""),
        bytes(payload),
    ]));
    let sig: p256::ecdsa::Signature = spec_key().sign(&tbs);
    enc(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            bytes(protected),
            unprotected,
            Value::Null,
            bytes(&sig.to_bytes()),
        ])),
    ))
}

fn simple_manifest() -> Vec<u8> {
    let shared = Value::Array(spec_id_checks());
    suit_manifest(
        1,
        vec![Value::Array(vec![bytes(b"fw")])],
        &shared,
        &Value::Array(vec![int(20), map(vec![(14, int(1))])]),
    )
}

fn authenticates(env: &[u8]) -> Result<(), suit_common::suit::error::Error> {
    Envelope::decode(env)?
        .authenticate(&spec_policy().anchors)
        .map(|_| ())
}

/// RFC 9052 §3 sets no order for a header map (COSE's deterministic-encoding rule, §9,
/// covers only the Sig/Enc/MAC structures, which carry the protected bytes as received):
/// a protected bucket `{4: kid, 1: -9}` written in insertion order verifies.
#[test]
fn a_protected_header_in_insertion_order_with_the_kid_verifies() {
    let m = simple_manifest();
    // a2 04 43 'k' 'i' 'd' 01 28: {4: h'6b6964', 1: -9}, kid first.
    let protected = [0xa2, 0x04, 0x43, b'k', b'i', b'd', 0x01, 0x28];
    let env = envelope_with(&m, |d| sign1_raw(&protected, map(vec![]), d));
    authenticates(&env).unwrap();
}

/// RFC 9052 §9 restricts definite lengths to the Sig_structure, Enc_structure and
/// MAC_structure only; a COSE_Sign1 array of indefinite length is valid CBOR and valid COSE.
/// The engine refuses indefinite lengths everywhere (CONFORMANCE.md "CBOR": "definite lengths
/// only"), a device policy that manifest-37 ("canonical CBOR ordering") does not ask of the
/// COSE structures inside SUIT_Authentication. Pinned: refused (finding F2, info).
#[test]
fn an_indefinite_length_cose_sign1_is_refused_by_policy() {
    let m = simple_manifest();
    let protected = [0xa1, 0x01, 0x28];
    let env = envelope_with(&m, |d| {
        let b = sign1_raw(&protected, map(vec![]), d);
        // d2 84 ... -> d2 9f ... ff
        assert_eq!(&b[..2], &[0xd2, 0x84]);
        [&[0xd2, 0x9f][..], &b[2..], &[0xff]].concat()
    });
    assert!(authenticates(&env).is_err());
}
