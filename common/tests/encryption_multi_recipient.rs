//! A SUIT_Encryption_Info addressed to several devices: recipients this device cannot use
//! (another curve, no `alg`, a malformed or nested recipient) are another device's, so the
//! key search goes on to the next one; only when none opens is the payload refused, with the
//! most specific reason. Built from the draft's es-ecdh-aes-gcm vector
//! (tests/vectors/suit-firmware-encryption-payloads, see its README) by inserting foreign
//! recipients before the device's own.

use ciborium::Value;
use coset::{CoseEncrypt, CoseRecipient, Label, TaggedCborSerializable};
use suit_common::encryption::algorithms::id;
use suit_common::encryption::{decrypt, CoseOptions, DecryptError, Location, MemoryKeys, Problem};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/suit-firmware-encryption-payloads/"
);
const PLAINTEXT: &[u8] = b"This is a real firmware image.";
/// COSE_Key labels (RFC 9052 §7, RFC 9053 §7).
const KTY: i64 = 1;
const CRV: i64 = -1;
const EPHEMERAL_KEY: i64 = -1;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap()
}

fn device_keys() -> MemoryKeys {
    use base64::Engine;
    let jwk: serde_json::Value =
        serde_json::from_slice(&read("receiver_p256_ecdh_kid-2_private.jwk.json")).unwrap();
    let d = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwk["d"].as_str().unwrap())
        .unwrap();
    let mut keys = MemoryKeys::new();
    keys.add_ecdh_p256(Some(b"kid-2"), &d).unwrap();
    keys
}

fn vector() -> CoseEncrypt {
    let text = String::from_utf8(read("suit-encryption-info-es-ecdh-aes-gcm.hex")).unwrap();
    let info = hex::decode(text.split_whitespace().collect::<String>()).unwrap();
    CoseEncrypt::from_tagged_slice(&info).unwrap()
}

/// The vector's recipient, labelled for another device and changed by `change`.
fn foreign(change: impl Fn(&mut CoseRecipient)) -> CoseRecipient {
    let mut r = vector().recipients[0].clone();
    r.unprotected.key_id = b"someone-else".to_vec();
    change(&mut r);
    r
}

/// The vector with `before` inserted ahead of its recipient (`keep_own`) or replacing it.
fn info_with(before: Vec<CoseRecipient>, keep_own: bool) -> Vec<u8> {
    let mut e = vector();
    if !keep_own {
        e.recipients.clear();
    }
    e.recipients.splice(0..0, before);
    e.to_tagged_vec().unwrap()
}

fn decrypt_info(info: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let ct = read("encrypted-payload-es-ecdh-aes-gcm.bin");
    decrypt(info, Some(&ct), &device_keys(), &CoseOptions::SUIT).map(|p| p.to_vec())
}

fn set_ephemeral_key(r: &mut CoseRecipient, key: Value) {
    for (label, v) in r.unprotected.rest.iter_mut() {
        if *label == Label::Int(EPHEMERAL_KEY) {
            *v = key.clone();
        }
    }
}

/// Another device's X25519 (OKP) ephemeral key.
fn x25519(r: &mut CoseRecipient) {
    set_ephemeral_key(
        r,
        Value::Map(vec![
            (KTY.into(), 1.into()),
            (CRV.into(), 4.into()),
            ((-2).into(), Value::Bytes(vec![9; 32])),
        ]),
    );
}

/// Another device's P-384 ephemeral key.
fn p384(r: &mut CoseRecipient) {
    set_ephemeral_key(
        r,
        Value::Map(vec![
            (KTY.into(), 2.into()),
            (CRV.into(), 2.into()),
            ((-2).into(), Value::Bytes(vec![9; 48])),
            ((-3).into(), Value::Bytes(vec![9; 48])),
        ]),
    );
}

/// No `alg` (COSE-HPKE does not strictly require one).
fn no_alg(r: &mut CoseRecipient) {
    r.protected.header.alg = None;
    r.protected.original_data = None;
}

/// Used to abort the search with `Unsupported { at: EphemeralKey(0), label: Some(1) }`.
#[test]
fn a_foreign_x25519_recipient_first_is_skipped() {
    let info = info_with(vec![foreign(x25519)], true);
    assert_eq!(decrypt_info(&info).unwrap(), PLAINTEXT);
}

/// Used to abort the search with `Unsupported { at: EphemeralKey(0), label: Some(-1) }`.
#[test]
fn a_foreign_p384_recipient_first_is_skipped() {
    let info = info_with(vec![foreign(p384)], true);
    assert_eq!(decrypt_info(&info).unwrap(), PLAINTEXT);
}

/// Used to abort the search with `Malformed { Recipient(0), MissingHeader(1) }`.
#[test]
fn a_recipient_without_alg_first_is_skipped() {
    let info = info_with(vec![foreign(no_alg)], true);
    assert_eq!(decrypt_info(&info).unwrap(), PLAINTEXT);
}

/// The rest of the class: whatever makes one recipient unusable (alone, each is refused with
/// its own typed error), the device's own recipient after it still opens.
#[test]
fn every_kind_of_unusable_recipient_first_is_skipped() {
    let (protected, unprotected) = (
        Location::RecipientProtected(0),
        Location::RecipientUnprotected(0),
    );
    let unusable: [(&str, CoseRecipient, DecryptError); 10] = [
        (
            "no ephemeral key",
            foreign(|r| {
                r.unprotected
                    .rest
                    .retain(|(l, _)| *l != Label::Int(EPHEMERAL_KEY))
            }),
            DecryptError::Malformed {
                at: unprotected,
                problem: Problem::MissingHeader(EPHEMERAL_KEY),
            },
        ),
        (
            "ephemeral point off the curve",
            foreign(|r| {
                let mut key = vector().recipients[0].unprotected.rest[0].1.clone();
                if let Value::Map(m) = &mut key {
                    if let Some((_, Value::Bytes(x))) =
                        m.iter_mut().find(|(l, _)| *l == Value::from(-2))
                    {
                        x[31] ^= 1;
                    }
                }
                set_ephemeral_key(r, key);
            }),
            DecryptError::InvalidPublicKey { recipient: 0 },
        ),
        (
            "an algorithm the device lacks (ECDH-ES+A192KW)",
            foreign(|r| {
                r.protected.header.alg = Some(coset::RegisteredLabelWithPrivate::Assigned(
                    coset::iana::Algorithm::ECDH_ES_A192KW,
                ));
                r.protected.original_data = None;
            }),
            DecryptError::UnsupportedRecipientAlgorithm(-30),
        ),
        (
            "a critical header",
            foreign(|r| {
                r.protected.header.crit = vec![coset::RegisteredLabelWithPrivate::Text("x".into())];
                r.protected
                    .header
                    .rest
                    .push((Label::Text("x".into()), 1.into()));
                r.protected.original_data = None;
            }),
            DecryptError::Unsupported {
                at: protected,
                label: Some(2),
            },
        ),
        (
            "a text algorithm label",
            foreign(|r| {
                r.protected.header.alg = Some(coset::RegisteredLabelWithPrivate::Text("x".into()));
                r.protected.original_data = None;
            }),
            DecryptError::Unsupported {
                at: protected,
                label: Some(1),
            },
        ),
        (
            // RFC 9052's `ciphertext: bstr / nil`; Nordic's tools write a direct (-6)
            // recipient this way. Refused by its algorithm, not its shape.
            "a direct recipient with a nil ciphertext",
            foreign(|r| {
                r.protected.header.alg = Some(coset::RegisteredLabelWithPrivate::Assigned(
                    coset::iana::Algorithm::Direct,
                ));
                r.protected.original_data = None;
                r.unprotected.rest.clear();
                r.ciphertext = None;
            }),
            DecryptError::UnsupportedRecipientAlgorithm(-6),
        ),
        (
            "this device's algorithm with a nil ciphertext",
            foreign(|r| r.ciphertext = None),
            DecryptError::Malformed {
                at: Location::Recipient(0),
                problem: Problem::Shape,
            },
        ),
        (
            "nested recipients",
            foreign(|r| r.recipients.push(r.clone())),
            DecryptError::Unsupported {
                at: Location::Recipient(0),
                label: None,
            },
        ),
        (
            "HPKE with its ek in the protected bucket",
            foreign(|r| {
                // coset has no name for the provisional HPKE ids.
                r.protected.header.alg = None;
                r.protected
                    .header
                    .rest
                    .push((Label::Int(1), id::HPKE_0_KE.into()));
                r.protected
                    .header
                    .rest
                    .push((Label::Int(-4), Value::Bytes(vec![4; 65])));
                r.protected.original_data = None;
            }),
            DecryptError::Malformed {
                at: protected,
                problem: Problem::WrongBucket(-4),
            },
        ),
        (
            // COSE-HPKE: "If the 'alg' header parameter is present, it MUST be a protected
            // header parameter."
            "HPKE with its alg in the unprotected bucket",
            foreign(|r| {
                r.protected.header.alg = None;
                r.protected.original_data = None;
                r.unprotected
                    .rest
                    .retain(|(l, _)| *l != Label::Int(EPHEMERAL_KEY));
                r.unprotected
                    .rest
                    .push((Label::Int(1), id::HPKE_0_KE.into()));
                r.unprotected
                    .rest
                    .push((Label::Int(-4), Value::Bytes(vec![4; 65])));
            }),
            DecryptError::Malformed {
                at: Location::RecipientUnprotected(0),
                problem: Problem::WrongBucket(1),
            },
        ),
    ];
    for (what, r, alone) in unusable {
        let only = info_with(vec![r.clone()], false);
        assert_eq!(decrypt_info(&only).unwrap_err(), alone, "{what} alone");
        let first = info_with(vec![r], true);
        assert_eq!(
            decrypt_info(&first).as_deref(),
            Ok(PLAINTEXT),
            "{what} first"
        );
    }
}

/// No recipient is this device's: a typed refusal naming the first recipient of a supported
/// algorithm that could not be used (a recipient without `alg` ranks below it), or "no
/// recipient for this device's keys" once one was tried with the device's keys.
#[test]
fn only_foreign_recipients_are_refused_with_a_typed_error() {
    let all_foreign = info_with(vec![foreign(no_alg), foreign(x25519), foreign(p384)], false);
    assert_eq!(
        decrypt_info(&all_foreign).unwrap_err(),
        DecryptError::Unsupported {
            at: Location::EphemeralKey(1),
            label: Some(KTY)
        }
    );
    let only_no_alg = info_with(vec![foreign(no_alg)], false);
    assert_eq!(
        decrypt_info(&only_no_alg).unwrap_err(),
        DecryptError::Malformed {
            at: Location::Recipient(0),
            problem: Problem::MissingHeader(1)
        }
    );
    // The device's own recipient, wrapped for another P-256 key: its key is tried (a kid is a
    // hint) and does not open it.
    let other_p256 = foreign(|r| r.ciphertext.as_mut().unwrap()[0] ^= 1);
    let with_p256 = info_with(vec![foreign(x25519), other_p256], false);
    assert_eq!(
        decrypt_info(&with_p256).unwrap_err(),
        DecryptError::NoRecipientForKeys
    );
    // An unusable recipient whose kid names the device's key was meant for this device: its
    // reason is reported before "no key" and before other devices' recipients.
    let tampered_own = foreign(|r| {
        r.unprotected.key_id = b"kid-2".to_vec();
        set_ephemeral_key(
            r,
            Value::Map(vec![(KTY.into(), 2.into()), (CRV.into(), 1.into())]),
        );
    });
    let other_p256 = foreign(|r| r.ciphertext.as_mut().unwrap()[0] ^= 1);
    let mixed = info_with(vec![other_p256, foreign(x25519), tampered_own], false);
    assert_eq!(
        decrypt_info(&mixed).unwrap_err(),
        DecryptError::Malformed {
            at: Location::EphemeralKey(2),
            problem: Problem::MissingHeader(-2)
        }
    );
}
