//! The TA build's TPA-root decision (ta/tpa_root.rs, run by ta/build.rs), host-natively:
//! no TPA root and no test opt-in means no TA. The unit tests live in the included file.

#[path = "../../ta/tpa_root.rs"]
#[allow(dead_code)]
mod tpa_root;

#[test]
fn the_build_script_uses_the_decision() {
    let build = std::fs::read_to_string(suit_tests::repo_root().join("ta/build.rs")).unwrap();
    assert!(
        build.contains("tpa_root::choose(") && !build.contains("unwrap_or_else(|| test_key"),
        "ta/build.rs must decide through tpa_root::choose, with no silent fallback"
    );
}

/// Every P-256 key of the test material, whatever its form, needs the test opt-in; a key of
/// one's own does not.
#[test]
fn keys_of_the_test_material_are_recognised_in_every_form() {
    use base64::Engine as _;
    let tests = suit_tests::repo_root().join("tests");
    // PEM public keys (their private halves beside them).
    for rel in [
        "keys/tpa-test.pub.pem",
        "vectors/suit-manifest-spec/public_key.pem",
        "vectors/suit-firmware-encryption/signer_es256_pub.pem",
        "vectors/suit-firmware-encryption/dependent_manifest_signer_es256_pub.pem",
        "vectors/libcsuit/trust_anchor_secp256r1_pub.pem",
    ] {
        let point = suit_tests::keys::p256_point(rel);
        assert!(tpa_root::is_test_material(&tests, &point), "{rel}");
    }
    // A JWK in the COSE working group's examples (x and y in base64url, d beside them).
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut point = vec![4u8];
    point.extend(
        b64.decode("usWxHK2PmfnHKwXPS54m0kTcGJ90UiglWiGahtagnv8")
            .unwrap(),
    );
    point.extend(
        b64.decode("IBOL-C3BttVivg-lSreASjpkttcsz-1rb7btKLv8EX4")
            .unwrap(),
    );
    assert!(
        tpa_root::is_test_material(&tests, &point),
        "cose-wg ecdsa-sig-01"
    );
    // A fresh key is nobody's test material.
    let mut scalar = [0u8; 32];
    getrandom::fill(&mut scalar).unwrap();
    let fresh = p256::SecretKey::from_slice(&scalar).unwrap();
    let point = fresh.public_key().to_sec1_bytes();
    assert_eq!(point.len(), 65);
    assert!(!tpa_root::is_test_material(&tests, &point));
}
