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
