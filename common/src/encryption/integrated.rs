//! COSE-HPKE integrated encryption: a COSE_Encrypt0 whose `alg` is an HPKE suite and whose
//! ciphertext is the HPKE ciphertext of the payload itself. One-shot only: HPKE's single-shot
//! AEAD cannot release plaintext before the whole ciphertext is authenticated.

use alloc::vec::Vec;
use zeroize::Zeroizing;

use super::algorithms::{header, HpkeSuite};
use super::cose::{enc_structure, malformed, CoseEncrypt0};
use super::error::{DecryptError, Location, Problem};
use super::keys::{DeviceKeys, HpkeOpen};
use super::recipient::open_integrated;
use super::CoseOptions;

/// Decrypts a COSE_Encrypt0 (tag 16 or untagged) in HPKE integrated mode (HPKE-0, HPKE-7).
/// The ciphertext is attached or given as `detached` (exactly one). Uses
/// `options.external_aad` in the Enc_structure and `options.hpke_info` as HPKE `info`.
pub fn decrypt_integrated(
    cose_encrypt0: &[u8],
    detached: Option<&[u8]>,
    keys: &dyn DeviceKeys,
    options: &CoseOptions<'_>,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let msg = CoseEncrypt0::decode(cose_encrypt0)?;
    let h = &msg.headers;
    let alg = match (h.protected.alg, h.unprotected.alg) {
        (Some(alg), _) => alg,
        (None, Some(_)) => {
            return Err(malformed(
                Location::Unprotected,
                Problem::WrongBucket(header::ALG),
            ))
        }
        (None, None) => {
            return Err(malformed(
                Location::Protected,
                Problem::MissingHeader(header::ALG),
            ))
        }
    };
    let suite =
        HpkeSuite::from_integrated_id(alg).ok_or(DecryptError::UnsupportedContentAlgorithm(alg))?;
    if h.unprotected.psk_id.is_some() {
        return Err(malformed(
            Location::Unprotected,
            Problem::WrongBucket(header::HPKE_PSK_ID),
        ));
    }
    if h.protected.ek.is_some() {
        return Err(malformed(
            Location::Protected,
            Problem::WrongBucket(header::HPKE_EK),
        ));
    }
    let enc = h.unprotected.ek.as_deref().ok_or(malformed(
        Location::Unprotected,
        Problem::MissingHeader(header::HPKE_EK),
    ))?;
    let ciphertext = match (&msg.ciphertext, detached) {
        (Some(c), None) => c.as_slice(),
        (None, Some(d)) => d,
        _ => {
            return Err(malformed(
                Location::Ciphertext,
                Problem::CiphertextPlacement,
            ))
        }
    };
    let aad = enc_structure("Encrypt0", &h.protected_bytes, options.external_aad)?;
    let op = HpkeOpen {
        suite,
        enc,
        info: options.hpke_info,
        aad: &aad,
        ciphertext,
        psk_id: h.protected.psk_id.as_deref(),
    };
    Ok(open_integrated(&op, h.kid(), keys)?.into_zeroizing())
}

/// Seals `plaintext` as a COSE_Encrypt0 in HPKE integrated mode, HPKE-0 (draft-ietf-cose-hpke
/// §3.1.1): protected `{1: HPKE-0}`, unprotected `{-4: ek}` (a fresh ephemeral key per call),
/// HPKE `info` empty (the draft's default), HPKE `aad` the Enc_structure `["Encrypt0",
/// protected, external_aad]`, the ciphertext attached; untagged (`COSE_Encrypt0`, as the
/// report draft's `SUIT_Report_COSE_Encrypt0` is). The sender side the TA links (its reports,
/// [`crate::report`]): the plaintext is encrypted in place and never copied.
pub fn seal_integrated_hpke0(
    mut plaintext: Vec<u8>,
    recipient: &p256::PublicKey,
    external_aad: &[u8],
    rng: &mut impl rand_core::CryptoRng,
) -> Result<Vec<u8>, crate::encryption::KeyError> {
    let mut protected = super::cose::encoder();
    protected
        .map(1)
        .int(header::ALG)
        .int(HpkeSuite::Hpke0.integrated_id());
    let protected = protected.into_bytes();
    let aad = match enc_structure("Encrypt0", &protected, external_aad) {
        Ok(aad) => aad,
        Err(_) => {
            zeroize::Zeroize::zeroize(&mut plaintext);
            return Err(crate::encryption::KeyError::OperationFailed);
        }
    };
    // `plaintext` is the ciphertext from here on (wiped by the seal if it fails).
    let enc =
        super::recipient::hpke::seal_hpke0_in_place(recipient, b"", &aad, &mut plaintext, rng)?;
    let ciphertext = plaintext;
    let mut e = crate::cbor::Encoder::with_capacity(ciphertext.len() + protected.len() + 96);
    e.array(3).bytes(&protected);
    e.map(1).int(header::HPKE_EK).bytes(&enc);
    e.bytes(&ciphertext);
    Ok(e.into_bytes())
}
