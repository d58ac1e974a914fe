//! Algorithm features as device policy (issue 14 item 4): with `hss-lms` an HSS-LMS key is
//! accepted; without it (`cargo test -p suit-common --no-default-features --features author
//! --test size_algorithm_features`) the same key, as a raw key and as a COSE_Key, is refused
//! with the typed "algorithm not enabled on this device" error, and its wording says so.
// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use suit_common::cose::{Algorithm, AuthBlock, CoseError, VerificationKey};

/// An RFC 8554 HSS public key encoding (L = 1, LMS_SHA256_M32_H5, LMOTS_SHA256_N32_W8).
fn hss_public_key() -> Vec<u8> {
    let mut pk = vec![0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 4];
    pk.extend([0x11; 16]);
    pk.extend([0x22; 32]);
    pk
}

/// `{1: 5 (HSS-LMS), -1: pub}`.
fn hss_cose_key() -> Vec<u8> {
    let pk = hss_public_key();
    let mut k = vec![
        0xa2,
        0x01,
        0x05,
        0x20,
        0x58,
        u8::try_from(pk.len()).unwrap(),
    ];
    k.extend(pk);
    k
}

#[test]
fn hss_lms_keys_follow_the_feature() {
    let raw = VerificationKey::hss_lms(&hss_public_key());
    let cose = VerificationKey::from_cose_key(&hss_cose_key()).map(|(k, _)| k);
    if cfg!(feature = "hss-lms") {
        assert!(matches!(raw, Ok(VerificationKey::HssLms(_))));
        assert!(matches!(cose, Ok(VerificationKey::HssLms(_))));
    } else {
        assert_eq!(raw.unwrap_err(), CoseError::AlgorithmNotEnabled(-46));
        assert_eq!(cose.unwrap_err(), CoseError::AlgorithmNotEnabled(-46));
    }
    // Malformed keys stay malformed whatever the feature.
    assert_eq!(
        VerificationKey::hss_lms(&[0; 4]).unwrap_err(),
        CoseError::InvalidKey
    );
}

/// An authentication block naming HSS-LMS is refused at parsing when the feature is off,
/// before any key is looked up.
#[test]
fn hss_lms_blocks_follow_the_feature() {
    // 18([h'a1 01 38 2d' ({1: -46}), {}, nil, h''])
    let block = [0xd2, 0x84, 0x44, 0xa1, 0x01, 0x38, 0x2d, 0xa0, 0xf6, 0x40];
    let parsed = AuthBlock::parse(&block);
    if cfg!(feature = "hss-lms") {
        assert_eq!(parsed.unwrap().algorithm(), Algorithm::HssLms);
    } else {
        assert_eq!(parsed.unwrap_err(), CoseError::AlgorithmNotEnabled(-46));
    }
    assert_eq!(Algorithm::HssLms.enabled(), cfg!(feature = "hss-lms"));
    // ESP256 and HMAC are always on.
    assert!(Algorithm::Esp256.enabled() && Algorithm::Hmac256.enabled());
}

#[test]
fn the_refusal_is_worded_as_device_policy() {
    let text = CoseError::AlgorithmNotEnabled(-46).to_string();
    assert!(
        text.contains("not enabled on this device"),
        "wording: {text}"
    );
}

/// The device key's origin keeps its wording after `format!("{:?}").to_lowercase()` gave way
/// to a name (the Unicode case tables left the TA), and the signed key statement in the same
/// response, now written by the new COSE codec, verifies with the identity key.
#[test]
fn device_key_response_is_unchanged() {
    use suit_common::protocol::{Command, DeviceKeyRequest, DeviceKeyResponse};
    use suit_test_support::service::{call, device};
    let mut s = device();
    let r: DeviceKeyResponse =
        call(&mut s, Command::DeviceKey, &DeviceKeyRequest::default()).unwrap();
    assert_eq!(r.origin, "generated");
    let st = suit_common::service::statement::verify(&r.statement, &r.identity_key).unwrap();
    assert_eq!(st.device.as_slice(), r.identity_kid.as_slice());
}
