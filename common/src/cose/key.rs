//! Keys that verify SUIT authentication blocks.

use alloc::vec::Vec;
use core::fmt;

use coset::iana::{self, EnumI64};
use coset::{CborSerializable, KeyType, Label};
use zeroize::Zeroizing;

use super::{Algorithm, CoseError};

/// Shortest HMAC key accepted: HMAC 256/256 is only as strong as a 256-bit key.
const MIN_HMAC_KEY_LEN: usize = 32;
/// Longest HMAC key accepted (one SHA-256 block; longer keys are hashed anyway).
const MAX_HMAC_KEY_LEN: usize = 64;
/// Longest HSS-LMS public key accepted (levels + LMS type + OTS type + I + root).
const MAX_HSS_PUBLIC_KEY_LEN: usize = 60;

/// A key that can check an authentication block: a public key for signatures, or the shared
/// secret for COSE_Mac0 (held in memory that is wiped on drop).
#[derive(Clone)]
pub enum VerificationKey {
    /// NIST P-256 public key, for ES256 / ESP256.
    P256(p256::ecdsa::VerifyingKey),
    /// Ed25519 public key, for EdDSA / Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// HSS-LMS public key in RFC 8554 encoding, for HSS-LMS.
    HssLms(Vec<u8>),
    /// Shared HMAC-SHA-256 key, for HMAC 256/256.
    Hmac256(Zeroizing<Vec<u8>>),
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerificationKey::P256(_) => f.write_str("VerificationKey::P256(..)"),
            VerificationKey::Ed25519(_) => f.write_str("VerificationKey::Ed25519(..)"),
            VerificationKey::HssLms(_) => f.write_str("VerificationKey::HssLms(..)"),
            // Never print a secret.
            VerificationKey::Hmac256(_) => f.write_str("VerificationKey::Hmac256(<secret>)"),
        }
    }
}

impl VerificationKey {
    /// A P-256 public key from its SEC1 encoding (65-byte uncompressed or 33-byte compressed).
    pub fn p256_from_sec1(sec1: &[u8]) -> Result<Self, CoseError> {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
            .map(VerificationKey::P256)
            .map_err(|_| CoseError::InvalidKey)
    }

    /// A P-256 public key from its affine coordinates (32 bytes each).
    pub fn p256_from_xy(x: &[u8], y: &[u8]) -> Result<Self, CoseError> {
        if x.len() != 32 || y.len() != 32 {
            return Err(CoseError::InvalidKey);
        }
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(x);
        sec1[33..].copy_from_slice(y);
        Self::p256_from_sec1(&sec1)
    }

    /// An Ed25519 public key from its 32 raw bytes.
    pub fn ed25519(raw: &[u8]) -> Result<Self, CoseError> {
        let raw: &[u8; 32] = raw.try_into().map_err(|_| CoseError::InvalidKey)?;
        ed25519_dalek::VerifyingKey::from_bytes(raw)
            .map(VerificationKey::Ed25519)
            .map_err(|_| CoseError::InvalidKey)
    }

    /// An HSS-LMS public key (RFC 8554 §6.1 encoding). Checked for plausibility here; the
    /// parameter sets are checked when a signature is verified.
    pub fn hss_lms(public_key: &[u8]) -> Result<Self, CoseError> {
        if public_key.len() < 8 || public_key.len() > MAX_HSS_PUBLIC_KEY_LEN {
            return Err(CoseError::InvalidKey);
        }
        Ok(VerificationKey::HssLms(public_key.to_vec()))
    }

    /// A shared HMAC-SHA-256 key (32..=64 bytes).
    pub fn hmac256(secret: &[u8]) -> Result<Self, CoseError> {
        if !(MIN_HMAC_KEY_LEN..=MAX_HMAC_KEY_LEN).contains(&secret.len()) {
            return Err(CoseError::InvalidKey);
        }
        Ok(VerificationKey::Hmac256(Zeroizing::new(secret.to_vec())))
    }

    /// A key from a COSE_Key (RFC 9052 §7): EC2 P-256, OKP Ed25519, HSS-LMS or Symmetric.
    /// Returns the key and its `kid` (empty if absent).
    pub fn from_cose_key(bytes: &[u8]) -> Result<(Self, Vec<u8>), CoseError> {
        crate::cbor::check_well_formed(bytes).map_err(|_| CoseError::Malformed)?;
        let key = coset::CoseKey::from_slice(bytes).map_err(|_| CoseError::Malformed)?;
        let param = |label: i64| {
            key.params.iter().find_map(|(l, v)| match l {
                Label::Int(i) if *i == label => Some(v),
                _ => None,
            })
        };
        let bytes_param = |label: i64| param(label).and_then(|v| v.as_bytes());
        let parsed = match key.kty {
            KeyType::Assigned(iana::KeyType::EC2) => {
                let crv = param(iana::Ec2KeyParameter::Crv.to_i64())
                    .and_then(|v| v.as_integer())
                    .and_then(|i| i64::try_from(i).ok());
                if crv != Some(iana::EllipticCurve::P_256.to_i64()) {
                    return Err(CoseError::InvalidKey);
                }
                let x =
                    bytes_param(iana::Ec2KeyParameter::X.to_i64()).ok_or(CoseError::InvalidKey)?;
                let y =
                    bytes_param(iana::Ec2KeyParameter::Y.to_i64()).ok_or(CoseError::InvalidKey)?;
                Self::p256_from_xy(x, y)?
            }
            KeyType::Assigned(iana::KeyType::OKP) => {
                let crv = param(iana::OkpKeyParameter::Crv.to_i64())
                    .and_then(|v| v.as_integer())
                    .and_then(|i| i64::try_from(i).ok());
                if crv != Some(iana::EllipticCurve::Ed25519.to_i64()) {
                    return Err(CoseError::InvalidKey);
                }
                let x =
                    bytes_param(iana::OkpKeyParameter::X.to_i64()).ok_or(CoseError::InvalidKey)?;
                Self::ed25519(x)?
            }
            KeyType::Assigned(iana::KeyType::HSS_LMS) => {
                let pk = bytes_param(iana::HssLmsKeyParameter::Pub.to_i64())
                    .ok_or(CoseError::InvalidKey)?;
                Self::hss_lms(pk)?
            }
            KeyType::Assigned(iana::KeyType::Symmetric) => {
                let k = bytes_param(iana::SymmetricKeyParameter::K.to_i64())
                    .ok_or(CoseError::InvalidKey)?;
                Self::hmac256(k)?
            }
            _ => return Err(CoseError::InvalidKey),
        };
        // A COSE_Key may restrict itself to one algorithm; honour that restriction.
        if let Some(alg) = &key.alg {
            let id = match alg {
                coset::RegisteredLabelWithPrivate::Assigned(a) => a.to_i64(),
                coset::RegisteredLabelWithPrivate::PrivateUse(i) => *i,
                coset::RegisteredLabelWithPrivate::Text(_) => return Err(CoseError::InvalidKey),
            };
            let alg = Algorithm::from_cose_id(id).ok_or(CoseError::UnsupportedAlgorithm(id))?;
            if !parsed.supports(alg) {
                return Err(CoseError::KeyAlgorithmMismatch);
            }
        }
        Ok((parsed, key.key_id))
    }

    /// Whether this key can verify blocks made with `alg`.
    pub fn supports(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (
                VerificationKey::P256(_),
                Algorithm::Es256 | Algorithm::Esp256
            ) | (
                VerificationKey::Ed25519(_),
                Algorithm::EdDsa | Algorithm::Ed25519
            ) | (VerificationKey::HssLms(_), Algorithm::HssLms)
                | (VerificationKey::Hmac256(_), Algorithm::Hmac256)
        )
    }

    /// Checks `signature` (or MAC tag) over `message` with this key.
    pub(crate) fn check(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CoseError> {
        if !self.supports(alg) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        match self {
            VerificationKey::P256(vk) => {
                // ES256 = ECDSA over SHA-256(message), both from the installed provider.
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| CoseError::VerificationFailed)?;
                let crypto = crate::crypto::provider();
                let digest = crate::crypto::sha256(message);
                if crypto.ecdsa_p256.verify_prehash(vk, &digest, &sig) {
                    Ok(())
                } else {
                    Err(CoseError::VerificationFailed)
                }
            }
            VerificationKey::Ed25519(vk) => {
                let sig: &[u8; 64] = signature
                    .try_into()
                    .map_err(|_| CoseError::VerificationFailed)?;
                let sig = ed25519_dalek::Signature::from_bytes(sig);
                vk.verify_strict(message, &sig)
                    .map_err(|_| CoseError::VerificationFailed)
            }
            VerificationKey::HssLms(pk) => hss_verify(message, signature, pk),
            VerificationKey::Hmac256(secret) => {
                use hmac::{KeyInit, Mac};
                let mut mac = hmac::Hmac::<sha2_0_11::Sha256>::new_from_slice(secret)
                    .map_err(|_| CoseError::InvalidKey)?;
                mac.update(message);
                // Constant-time comparison of the full 32-byte tag.
                if signature.len() != 32 {
                    return Err(CoseError::VerificationFailed);
                }
                mac.verify_slice(signature)
                    .map_err(|_| CoseError::VerificationFailed)
            }
        }
    }
}

#[cfg(feature = "hss-lms")]
fn hss_verify(message: &[u8], signature: &[u8], public_key: &[u8]) -> Result<(), CoseError> {
    hbs_lms::verify::<hbs_lms::Sha256_256>(message, signature, public_key)
        .map_err(|_| CoseError::VerificationFailed)
}

#[cfg(not(feature = "hss-lms"))]
fn hss_verify(_message: &[u8], _signature: &[u8], _public_key: &[u8]) -> Result<(), CoseError> {
    Err(CoseError::UnsupportedAlgorithm(Algorithm::HssLms.cose_id()))
}

/// Key id of a P-256 public key: the first 16 bytes of SHA-256 over its uncompressed SEC1
/// point. Derived here only: the device keys, the TPA root, reports, statements and the author
/// tool all name keys this way. Authors may put it in a recipient's `kid`; recipients without
/// one are tried anyway.
pub fn key_id(sec1: &[u8]) -> alloc::vec::Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(sec1)
        .iter()
        .take(16)
        .copied()
        .collect()
}
