//! COSE-HPKE (draft-ietf-cose-hpke) with the `hpke` crate: key encryption of the CEK in a
//! COSE_recipient, and integrated encryption (COSE_Encrypt0). Only the P-256 suites.

use alloc::vec::Vec;
use hpke::aead::{Aead, AeadTag, AesGcm128, AesGcm256};
use hpke::inout::InOutBuf;
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::{Deserializable, OpModeR, PskBundle};
use zeroize::Zeroizing;

use crate::encryption::algorithms::HpkeSuite;
use crate::encryption::cose::encoder;
use crate::encryption::error::{DecryptError, KeyError};
use crate::encryption::keys::{HpkeOpen, SecretBytes};

type Kem = DhP256HkdfSha256;
type PrivateKey = <Kem as hpke::Kem>::PrivateKey;
type EncappedKey = <Kem as hpke::Kem>::EncappedKey;

/// AES-GCM tag length of both P-256 suites.
const TAG_LEN: usize = 16;

/// `Recipient_structure = ["HPKE Recipient", next_layer_alg, recipient protected,
/// recipient_extra_info]`, the HPKE `info` of key encryption.
pub fn recipient_structure(
    next_layer_alg: i64,
    protected: &[u8],
    extra_info: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    let mut e = encoder();
    e.array(4)
        .text("HPKE Recipient")
        .int(next_layer_alg)
        .bytes(protected)
        .bytes(extra_info);
    Ok(e.into_bytes())
}

pub(crate) fn open_p256(
    sk: &p256::SecretKey,
    psk: Option<&[u8]>,
    op: &HpkeOpen<'_>,
) -> Result<SecretBytes, KeyError> {
    let scalar = Zeroizing::new(sk.to_bytes());
    let sk = PrivateKey::from_bytes(&scalar).map_err(|_| KeyError::InvalidKeyMaterial)?;
    let mode = match (op.psk_id, psk) {
        (None, _) => OpModeR::Base,
        (Some(id), Some(psk)) => {
            OpModeR::Psk(PskBundle::new(psk, id).map_err(|_| KeyError::UnknownPsk)?)
        }
        (Some(_), None) => return Err(KeyError::UnknownPsk),
    };
    match op.suite {
        HpkeSuite::Hpke0 => open_with::<AesGcm128>(&sk, &mode, op),
        HpkeSuite::Hpke7 => open_with::<AesGcm256>(&sk, &mode, op),
    }
}

fn open_with<A: Aead>(
    sk: &PrivateKey,
    mode: &OpModeR<'_, Kem>,
    op: &HpkeOpen<'_>,
) -> Result<SecretBytes, KeyError> {
    let enc = EncappedKey::from_bytes(op.enc).map_err(|_| KeyError::InvalidPeerKey)?;
    let split = op
        .ciphertext
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(KeyError::OperationFailed)?;
    let (ct, tag) = op.ciphertext.split_at(split);
    let tag = AeadTag::<A>::from_bytes(tag).map_err(|_| KeyError::OperationFailed)?;
    let mut buf = SecretBytes::from_slice(ct);
    hpke::single_shot_open_inout_detached::<A, HkdfSha256, Kem>(
        mode,
        sk,
        &enc,
        op.info,
        InOutBuf::from(buf.as_mut_bytes()),
        op.aad,
        &tag,
    )
    .map_err(|_| KeyError::OperationFailed)?;
    Ok(buf)
}

/// Sender side: HPKE single-shot seal to `recipient`; returns (`enc`, ciphertext || tag).
#[cfg(feature = "author")]
pub(crate) fn seal_p256(
    recipient: &p256::PublicKey,
    suite: HpkeSuite,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    psk: Option<(&[u8], &[u8])>,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<(Vec<u8>, Vec<u8>), crate::encryption::EncryptError> {
    match suite {
        HpkeSuite::Hpke0 => seal_with::<AesGcm128>(recipient, info, aad, plaintext, psk, rng),
        HpkeSuite::Hpke7 => seal_with::<AesGcm256>(recipient, info, aad, plaintext, psk, rng),
    }
}

#[cfg(feature = "author")]
fn seal_with<A: Aead>(
    recipient: &p256::PublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    psk: Option<(&[u8], &[u8])>,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<(Vec<u8>, Vec<u8>), crate::encryption::EncryptError> {
    use crate::encryption::EncryptError;
    use hpke::{OpModeS, Serializable};
    use p256::elliptic_curve::sec1::ToSec1Point;

    let pk_bytes = recipient.to_sec1_point(false);
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(pk_bytes.as_bytes())
        .map_err(|_| EncryptError::InvalidKey)?;
    let mode = match psk {
        None => OpModeS::Base,
        Some((id, psk)) => OpModeS::Psk(PskBundle::new(psk, id).map_err(|_| EncryptError::Hpke)?),
    };
    let mut buf = plaintext.to_vec();
    let (enc, tag) = hpke::single_shot_seal_inout_detached_with_rng::<A, HkdfSha256, Kem>(
        &mode,
        &pk,
        info,
        InOutBuf::from(buf.as_mut_slice()),
        aad,
        rng,
    )
    .map_err(|_| EncryptError::Hpke)?;
    buf.extend_from_slice(&tag.to_bytes());
    Ok((enc.to_bytes().to_vec(), buf))
}

/// Sender side for the TA (no `author` feature): HPKE-0 (DHKEM(P-256, HKDF-SHA256),
/// HKDF-SHA256, AES-128-GCM) single-shot seal, Base mode, of `buf` in place (`buf` then holds
/// the ciphertext followed by the tag). Returns the encapsulated key `enc` (65 bytes). The
/// ephemeral key pair is made from `rng` inside `hpke` and dropped (wiped) there; on failure
/// `buf` is wiped, so no plaintext is left behind.
pub(crate) fn seal_hpke0_in_place(
    recipient: &p256::PublicKey,
    info: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<Vec<u8>, KeyError> {
    use hpke::Serializable;
    use p256::elliptic_curve::sec1::ToSec1Point;

    let point = recipient.to_sec1_point(false);
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(point.as_bytes()).map_err(|_| {
        zeroize::Zeroize::zeroize(buf);
        KeyError::InvalidPeerKey
    })?;
    let sealed = hpke::single_shot_seal_inout_detached_with_rng::<AesGcm128, HkdfSha256, Kem>(
        &hpke::OpModeS::Base,
        &pk,
        info,
        InOutBuf::from(buf.as_mut_slice()),
        aad,
        rng,
    );
    match sealed {
        Ok((enc, tag)) => {
            buf.extend_from_slice(&tag.to_bytes());
            Ok(enc.to_bytes().to_vec())
        }
        Err(_) => {
            zeroize::Zeroize::zeroize(buf);
            Err(KeyError::OperationFailed)
        }
    }
}
