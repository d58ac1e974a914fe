//! COSE authentication primitives beyond what the SUIT vectors exercise: Ed25519, HSS-LMS,
//! key/algorithm binding and COSE_Key import.

use coset::iana::{self, EnumI64};
use coset::{
    CborSerializable, CoseKeyBuilder, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable,
};
use suit_common::cose::{
    create_auth_block, verify_auth_block, Algorithm, CoseError, SigningKey, VerificationKey,
};

const PAYLOAD: &[u8] = b"\x82\x2f\x58\x20abcdefghijklmnopqrstuvwxyz012345";

/// A header naming `alg` and nothing else.
fn alg_header(alg: iana::Algorithm) -> coset::Header {
    HeaderBuilder::new().algorithm(alg).build()
}

/// A tagged COSE_Sign1 with `protected`, an attached `payload` if any, and a zero signature
/// of `len` bytes.
fn sign1(protected: coset::Header, payload: Option<&[u8]>, len: usize) -> Vec<u8> {
    let mut b = CoseSign1Builder::new().protected(protected);
    if let Some(p) = payload {
        b = b.payload(p.to_vec());
    }
    b.signature(vec![0; len]).build().to_tagged_vec().unwrap()
}

#[test]
fn ed25519_round_trip_and_tamper() {
    let key = SigningKey::ed25519(&[7u8; 32]).unwrap();
    for alg in [Algorithm::EdDsa, Algorithm::Ed25519] {
        let block = create_auth_block(&key, alg, b"ed", PAYLOAD).unwrap();
        assert_eq!(
            verify_auth_block(&block, PAYLOAD, &key.verification_key()),
            Ok(alg)
        );
        let mut other = PAYLOAD.to_vec();
        other[5] ^= 1;
        assert_eq!(
            verify_auth_block(&block, &other, &key.verification_key()),
            Err(CoseError::VerificationFailed)
        );
    }
}

#[test]
fn esp256_and_es256_round_trip() {
    let key = SigningKey::p256(&[0x42; 32]).unwrap();
    for alg in [Algorithm::Es256, Algorithm::Esp256] {
        let block = create_auth_block(&key, alg, b"", PAYLOAD).unwrap();
        assert_eq!(
            verify_auth_block(&block, PAYLOAD, &key.verification_key()),
            Ok(alg)
        );
    }
}

#[test]
fn key_and_algorithm_must_agree() {
    let p256 = SigningKey::p256(&[0x42; 32]).unwrap();
    let ed = SigningKey::ed25519(&[7u8; 32]).unwrap();
    let block = create_auth_block(&p256, Algorithm::Es256, b"", PAYLOAD).unwrap();
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &ed.verification_key()),
        Err(CoseError::KeyAlgorithmMismatch)
    );
    assert_eq!(
        create_auth_block(&p256, Algorithm::EdDsa, b"", PAYLOAD),
        Err(CoseError::KeyAlgorithmMismatch)
    );
    // A MAC algorithm inside a COSE_Sign1 is refused.
    let bogus = sign1(alg_header(iana::Algorithm::HMAC_256_256), None, 32);
    assert_eq!(
        verify_auth_block(
            &bogus,
            PAYLOAD,
            &VerificationKey::hmac256(&[1; 32]).unwrap()
        ),
        Err(CoseError::KeyAlgorithmMismatch)
    );
}

#[test]
fn algorithm_only_from_protected_header_and_payload_detached() {
    let key = SigningKey::p256(&[0x42; 32]).unwrap();
    let unprotected_alg = CoseSign1Builder::new()
        .unprotected(alg_header(iana::Algorithm::ES256))
        .signature(vec![0; 64])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(
        verify_auth_block(&unprotected_alg, PAYLOAD, &key.verification_key()),
        Err(CoseError::MissingAlgorithm)
    );
    let attached = sign1(alg_header(iana::Algorithm::ES256), Some(PAYLOAD), 64);
    assert_eq!(
        verify_auth_block(&attached, PAYLOAD, &key.verification_key()),
        Err(CoseError::PayloadNotDetached)
    );
}

#[test]
fn hss_lms_signature_verifies() {
    use hbs_lms::{HssParameter, LmotsAlgorithm, LmsAlgorithm, Seed, Sha256_256};
    let params = [HssParameter::<Sha256_256>::new(
        LmotsAlgorithm::LmotsW4,
        LmsAlgorithm::LmsH5,
    )];
    let seed = Seed::from([3u8; 32]);
    let (sk, vk) = hbs_lms::keygen::<Sha256_256>(&params, &seed, None).unwrap();
    let mut sk_bytes = sk.as_slice().to_vec();
    let block = CoseSign1Builder::new()
        .protected(alg_header(iana::Algorithm::HSS_LMS))
        .create_detached_signature(PAYLOAD, &[], |tbs| {
            let mut update = |new: &[u8]| {
                sk_bytes = new.to_vec();
                Ok(())
            };
            let key = sk.as_slice().to_vec();
            hbs_lms::sign::<Sha256_256>(tbs, &key, &mut update, None)
                .unwrap()
                .as_ref()
                .to_vec()
        })
        .build()
        .to_tagged_vec()
        .unwrap();
    let key = VerificationKey::hss_lms(vk.as_slice()).unwrap();
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &key),
        Ok(Algorithm::HssLms)
    );
    assert_eq!(
        verify_auth_block(&block, b"other", &key),
        Err(CoseError::VerificationFailed)
    );
    assert_eq!(
        Algorithm::HssLms.cose_id(),
        iana::Algorithm::HSS_LMS.to_i64()
    );
}

#[test]
fn cose_key_import() {
    let sk = SigningKey::p256(&[0x42; 32]).unwrap();
    let VerificationKey::P256(vk) = sk.verification_key() else {
        unreachable!()
    };
    let point = vk.to_sec1_point(false);
    let sec1 = point.as_bytes();
    let cose_key = suit_test_support::ec2_cose_key(sec1, b"k1");
    let (key, kid) = VerificationKey::from_cose_key(&cose_key).unwrap();
    assert_eq!(kid, b"k1");
    let block = create_auth_block(&sk, Algorithm::Esp256, b"k1", PAYLOAD).unwrap();
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &key),
        Ok(Algorithm::Esp256)
    );

    let sym = CoseKeyBuilder::new_symmetric_key(vec![0x61; 32])
        .build()
        .to_vec()
        .unwrap();
    let (key, _) = VerificationKey::from_cose_key(&sym).unwrap();
    assert!(key.supports(Algorithm::Hmac256));
    assert!(format!("{key:?}").contains("<secret>"));

    let short = CoseKeyBuilder::new_symmetric_key(vec![0x61; 16])
        .build()
        .to_vec()
        .unwrap();
    assert_eq!(
        VerificationKey::from_cose_key(&short).unwrap_err(),
        CoseError::InvalidKey
    );
}
