//! The cose-wg/Examples vectors outside SUIT's profile (tests/vectors/cose-wg-examples, the
//! ones an independent review found uncopied in session 10): other hash sizes, curves and
//! key agreements. Each is refused with its typed reason and never a panic; the one inside
//! the profile (HMAC-ENC-01, a COSE_Mac0 with HMAC 256/256) verifies, and its negative twin
//! (HMAC-ENC-04) fails.

use crate::cose_wg_multi::{detached, key};
use suit_common::cose::{AuthBlock, CoseError};
use suit_common::encryption::{decrypt, CoseOptions, DecryptError, MemoryKeys};
use suit_test_support::{b64url as b64, cose_wg as load};

/// Parses the block as SUIT does and verifies every entry with the vector's key: the first
/// error, in the order parse, key, verify.
fn authenticate(name: &str) -> Result<(), CoseError> {
    let j = load(name);
    let (block, payload) = detached(&j);
    // A signature this engine cannot use is an entry's error: part of parsing here.
    let entries = AuthBlock::parse_signers(&block)?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let key = key(&j)?;
    for e in &entries {
        e.verify(&payload, &key)?;
    }
    Ok(())
}

#[test]
fn mac0_hmac_256_verifies_and_its_negative_twin_fails() {
    assert_eq!(authenticate("hmac-examples/HMac-enc-01"), Ok(()));
    assert_eq!(
        authenticate("hmac-examples/HMac-enc-04"),
        Err(CoseError::VerificationFailed)
    );
}

#[test]
fn other_hash_sizes_curves_and_truncations_are_refused_for_their_algorithm() {
    for (name, alg) in [
        // HMAC 384/384, 512/512 and 256/64 (COSE_Mac0), 512/512 (COSE_Mac).
        ("hmac-examples/HMac-enc-02", 6),
        ("hmac-examples/HMac-enc-03", 7),
        ("hmac-examples/HMac-enc-05", 4),
        ("hmac-examples/HMac-03", 7),
        // ES512 on P-521, and ES512 with a P-256 key (COSE_Sign1 and COSE_Sign).
        ("ecdsa-examples/ecdsa-sig-03", -36),
        ("ecdsa-examples/ecdsa-sig-04", -36),
        ("ecdsa-examples/ecdsa-03", -36),
        ("ecdsa-examples/ecdsa-04", -36),
    ] {
        let (block, _) = detached(&load(name));
        let parsed = AuthBlock::parse_signers(&block).map(|_| ());
        let r = parsed.and_then(|()| authenticate(name));
        assert_eq!(r, Err(CoseError::UnsupportedAlgorithm(alg)), "{name}");
    }
}

/// EdDSA is one COSE algorithm for both curves; SUIT's profiles use Ed25519 only, so an Ed448
/// key never loads and nothing verifies with it.
#[test]
fn ed448_is_refused() {
    for name in ["eddsa-examples/eddsa-sig-02", "eddsa-examples/eddsa-02"] {
        assert!(authenticate(name).is_err(), "{name}");
    }
}

/// ECDH-SS (static-static) key agreement (-32, ECDH-SS + A128KW; -34, + A256KW) is in no
/// SUIT profile: a COSE_Encrypt whose only recipient uses it does not open, in either
/// profile, even with the recipient's key held; the reason names the algorithm (or, where
/// unusable recipients are skipped, that none fits the device's keys).
#[test]
fn ecdh_static_static_recipients_are_refused() {
    for name in [
        "p256-ss-wrap-128-01",
        "p256-ss-wrap-128-02",
        "p256-ss-wrap-128-03",
        "p256-ss-wrap-256-01",
        "p256-ss-wrap-256-02",
        "p256-ss-wrap-256-03",
    ] {
        let j = load(&format!("ecdh-wrap-examples/{name}"));
        let msg = hex::decode(j["output"]["cbor"].as_str().unwrap()).unwrap();
        let Some(enveloped) = j["input"].get("enveloped") else {
            continue; // The MAC-key variants: no COSE_Encrypt to open.
        };
        let k = &enveloped["recipients"][0]["key"];
        let mut keys = MemoryKeys::new();
        let kid = k["kid"].as_str().unwrap().as_bytes();
        keys.add_ecdh_p256(Some(kid), &b64(&k["d"])).unwrap();
        for options in [&CoseOptions::COSE, &CoseOptions::SUIT] {
            let r = decrypt(&msg, None, &keys, options);
            assert!(
                matches!(
                    r,
                    Err(DecryptError::UnsupportedRecipientAlgorithm(-32 | -34)
                        | DecryptError::NoRecipientForKeys)
                ),
                "{name}: {:?}",
                r.map(|p| p.len())
            );
        }
    }
}
