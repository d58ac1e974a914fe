//! Keys that verify SUIT authentication blocks.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use crate::cbor::{Decoder, Item};

use super::wire::ToBeSigned;
use super::{Algorithm, CoseError};

/// Shortest HMAC key accepted: HMAC 256/256 is only as strong as a 256-bit key.
const MIN_HMAC_KEY_LEN: usize = 32;
/// Longest HMAC key accepted (one SHA-256 block; longer keys are hashed anyway).
const MAX_HMAC_KEY_LEN: usize = 64;
// `same_key` compares zero-padded blocks: a key longer than the block would be hashed first.
const _: () = assert!(MAX_HMAC_KEY_LEN <= 64);

/// A key that can check an authentication block, and the one algorithm its COSE_Key
/// restricts it to, if it declares one (RFC 9052 §7.1: the application MUST check that the
/// algorithm a key is used for matches its `alg`).
#[derive(Clone, Debug)]
pub struct VerificationKey {
    material: KeyMaterial,
    alg: Option<Algorithm>,
}

/// The key itself: a public key for signatures, or the shared secret for COSE_Mac0 (held in
/// memory that is wiped on drop).
#[derive(Clone)]
pub enum KeyMaterial {
    /// NIST P-256 public key, for ES256 / ESP256.
    P256(p256::ecdsa::VerifyingKey),
    /// Ed25519 public key, for EdDSA / Ed25519 (uninhabited without the `ed25519` feature).
    Ed25519(Ed25519Key),
    /// HSS-LMS public key in RFC 8554 encoding, for HSS-LMS.
    HssLms(Vec<u8>),
    /// Shared HMAC-SHA-256 key, for HMAC 256/256.
    Hmac256(Zeroizing<Vec<u8>>),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::P256(_) => f.write_str("KeyMaterial::P256(..)"),
            KeyMaterial::Ed25519(_) => f.write_str("KeyMaterial::Ed25519(..)"),
            KeyMaterial::HssLms(_) => f.write_str("KeyMaterial::HssLms(..)"),
            // Never print a secret.
            KeyMaterial::Hmac256(_) => f.write_str("KeyMaterial::Hmac256(<secret>)"),
        }
    }
}

impl KeyMaterial {
    /// Whether this kind of key can verify blocks made with `alg`.
    fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (KeyMaterial::P256(_), Algorithm::Es256 | Algorithm::Esp256)
                | (
                    KeyMaterial::Ed25519(_),
                    Algorithm::EdDsa | Algorithm::Ed25519
                )
                | (KeyMaterial::HssLms(_), Algorithm::HssLms)
                | (KeyMaterial::Hmac256(_), Algorithm::Hmac256)
        )
    }
}

/// A key without an algorithm restriction.
impl From<KeyMaterial> for VerificationKey {
    fn from(material: KeyMaterial) -> Self {
        Self {
            material,
            alg: None,
        }
    }
}

impl VerificationKey {
    /// A P-256 public key from its SEC1 encoding (65-byte uncompressed or 33-byte compressed).
    pub fn p256_from_sec1(sec1: &[u8]) -> Result<Self, CoseError> {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
            .map(|k| KeyMaterial::P256(k).into())
            .map_err(|_| CoseError::InvalidKey)
    }

    /// A P-256 public key from its affine coordinates (32 bytes each).
    pub fn p256_from_xy(x: &[u8], y: &[u8]) -> Result<Self, CoseError> {
        p256_point(x, Ec2Y::Coordinate(y))
            .map(|k| KeyMaterial::P256(k.into()).into())
            .ok_or(CoseError::InvalidKey)
    }

    /// An Ed25519 public key from its 32 raw bytes.
    /// Without the `ed25519` feature: [`CoseError::AlgorithmNotEnabled`].
    pub fn ed25519(raw: &[u8]) -> Result<Self, CoseError> {
        let raw: &[u8; 32] = raw.try_into().map_err(|_| CoseError::InvalidKey)?;
        #[cfg(feature = "ed25519")]
        return ed25519_dalek::VerifyingKey::from_bytes(raw)
            .map(|k| KeyMaterial::Ed25519(k).into())
            .map_err(|_| CoseError::InvalidKey);
        #[cfg(not(feature = "ed25519"))]
        {
            let _ = raw;
            Err(CoseError::AlgorithmNotEnabled(Algorithm::Ed25519.cose_id()))
        }
    }

    /// An HSS-LMS public key (RFC 8554 §6.1 encoding), checked to be exactly one of a
    /// parameter set this engine verifies (L of 1 to 8, LMS_SHA256_M32_H5..H25,
    /// LMOTS_SHA256_N32_W1..W8; `hss_shape`), else [`CoseError::InvalidKey`]. Without the
    /// `hss-lms` feature, a well-formed key: [`CoseError::AlgorithmNotEnabled`].
    pub fn hss_lms(public_key: &[u8]) -> Result<Self, CoseError> {
        super::hss_shape::check_public_key(public_key)?;
        if cfg!(not(feature = "hss-lms")) {
            return Err(CoseError::AlgorithmNotEnabled(Algorithm::HssLms.cose_id()));
        }
        Ok(KeyMaterial::HssLms(public_key.to_vec()).into())
    }

    /// A shared HMAC-SHA-256 key (32..=64 bytes).
    pub fn hmac256(secret: &[u8]) -> Result<Self, CoseError> {
        if !(MIN_HMAC_KEY_LEN..=MAX_HMAC_KEY_LEN).contains(&secret.len()) {
            return Err(CoseError::InvalidKey);
        }
        Ok(KeyMaterial::Hmac256(Zeroizing::new(secret.to_vec())).into())
    }

    /// The same key restricted to `alg`, as a COSE_Key declaring it is;
    /// [`CoseError::KeyAlgorithmMismatch`] if the key cannot be used with `alg` at all.
    pub fn restricted_to(self, alg: Algorithm) -> Result<Self, CoseError> {
        if !self.supports(alg) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        Ok(Self {
            alg: Some(alg),
            ..self
        })
    }

    /// The key itself.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// The only algorithm this key may be used with, if its COSE_Key declared one.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// Whether this is a shared (HMAC) key rather than a public one.
    pub fn is_symmetric(&self) -> bool {
        matches!(self.material, KeyMaterial::Hmac256(_))
    }

    /// Whether both are the same key, whatever their COSE_Key encodings (kid, labels' order,
    /// `alg`: a restriction does not make another key).
    pub fn same_key(&self, other: &Self) -> bool {
        use KeyMaterial as K;
        match (&self.material, &other.material) {
            (K::P256(a), K::P256(b)) => a == b,
            #[cfg(feature = "ed25519")]
            (K::Ed25519(a), K::Ed25519(b)) => a == b,
            (K::HssLms(a), K::HssLms(b)) => a == b,
            // HMAC zero-pads a key to SHA-256's 64-byte block (RFC 2104 §2), so `K` and
            // `K || 00` are one key: compare the padded blocks.
            (K::Hmac256(a), K::Hmac256(b)) => {
                let block = |k: &[u8]| {
                    let mut padded = Zeroizing::new([0u8; MAX_HMAC_KEY_LEN]);
                    if let Some(dst) = padded.get_mut(..k.len()) {
                        dst.copy_from_slice(k);
                    }
                    padded
                };
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    block(a).as_slice(),
                    block(b).as_slice(),
                ))
            }
            _ => false,
        }
    }

    /// A key from a COSE_Key (RFC 9052 §7): EC2 P-256, OKP Ed25519, HSS-LMS or Symmetric.
    /// Returns the key, restricted to the COSE_Key's `alg` if it has one, and its `kid`
    /// (empty if absent).
    pub fn from_cose_key(bytes: &[u8]) -> Result<(Self, Vec<u8>), CoseError> {
        // RFC 9052 §7: `* label => values`, `any` for the parameters this code does not read.
        crate::cbor::check_well_formed_any(bytes).map_err(|_| CoseError::Malformed)?;
        let key = CoseKey::read(bytes)?;
        let int_param = |i: usize| match key.params.get(i).copied().flatten() {
            Some(Item::Uint(u)) => i64::try_from(u).ok(),
            Some(Item::Nint(u)) => i64::try_from(u).ok().map(|u| -1 - u),
            _ => None,
        };
        let bytes_param = |i: usize| match key.params.get(i).copied().flatten() {
            Some(Item::Bytes(b)) => Some(b),
            _ => None,
        };
        // Parameters -1, -2, -3 are at index 0, 1, 2 (RFC 9053 §7.1, §7.2, §7.3; RFC 8778).
        let parsed = match key.kty {
            KTY_EC2 => {
                if int_param(0) != Some(CRV_P256) {
                    return Err(CoseError::InvalidKey);
                }
                let x = bytes_param(1).ok_or(CoseError::InvalidKey)?;
                let y = match key.params.get(2).copied().flatten() {
                    Some(Item::Bytes(y)) => Ec2Y::Coordinate(y),
                    Some(Item::Bool(odd)) => Ec2Y::Sign(odd),
                    _ => return Err(CoseError::InvalidKey),
                };
                p256_point(x, y)
                    .map(|k| KeyMaterial::P256(k.into()).into())
                    .ok_or(CoseError::InvalidKey)?
            }
            KTY_OKP => {
                if int_param(0) != Some(CRV_ED25519) {
                    return Err(CoseError::InvalidKey);
                }
                Self::ed25519(bytes_param(1).ok_or(CoseError::InvalidKey)?)?
            }
            KTY_HSS_LMS => Self::hss_lms(bytes_param(0).ok_or(CoseError::InvalidKey)?)?,
            KTY_SYMMETRIC => Self::hmac256(bytes_param(0).ok_or(CoseError::InvalidKey)?)?,
            _ => return Err(CoseError::InvalidKey),
        };
        // A COSE_Key may restrict itself to one algorithm: kept, and checked at every use.
        let parsed = match key.alg {
            Some(alg) => {
                let id = alg.ok_or(CoseError::InvalidKey)?;
                let alg = Algorithm::from_cose_id(id).ok_or(CoseError::UnsupportedAlgorithm(id))?;
                parsed.restricted_to(alg)?
            }
            None => parsed,
        };
        Ok((parsed, key.kid.to_vec()))
    }

    /// Whether this key may verify blocks made with `alg`: its type fits, and `alg` is the
    /// algorithm its COSE_Key declared, if it declared one.
    pub fn supports(&self, alg: Algorithm) -> bool {
        self.material.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }

    /// Checks `signature` (or MAC tag) over the prepared signing input with this key.
    pub(crate) fn check(
        &self,
        alg: Algorithm,
        input: &Prepared<'_>,
        signature: &[u8],
    ) -> Result<(), CoseError> {
        if !self.supports(alg) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        match &self.material {
            KeyMaterial::P256(vk) => {
                // ES256 = ECDSA over SHA-256(message), both from the installed provider.
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| CoseError::VerificationFailed)?;
                let digest = match input.form {
                    Form::Digest(d) => d,
                    _ => input.tbs.sha256(),
                };
                if crate::crypto::provider()
                    .ecdsa_p256
                    .verify_prehash(vk, &digest, &sig)
                {
                    Ok(())
                } else {
                    Err(CoseError::VerificationFailed)
                }
            }
            #[cfg(not(feature = "ed25519"))]
            KeyMaterial::Ed25519(never) => match *never {},
            #[cfg(feature = "ed25519")]
            KeyMaterial::Ed25519(vk) => {
                let sig: &[u8; 64] = signature
                    .try_into()
                    .map_err(|_| CoseError::VerificationFailed)?;
                let sig = ed25519_dalek::Signature::from_bytes(sig);
                vk.verify_strict(&input.whole(), &sig)
                    .map_err(|_| CoseError::VerificationFailed)
            }
            KeyMaterial::HssLms(pk) => hss_verify(&input.whole(), signature, pk),
            KeyMaterial::Hmac256(secret) => {
                use hmac::{KeyInit, Mac};
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret)
                    .map_err(|_| CoseError::InvalidKey)?;
                input.tbs.write(&mut |c| mac.update(c));
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

/// A signing input prepared once for every key tried with one algorithm: ECDSA needs only
/// its SHA-256 (hashed as it is encoded, never built), Ed25519 and HSS-LMS the whole message
/// (built once), HMAC nothing (its hash is keyed, so each key streams the input again).
pub(crate) struct Prepared<'a> {
    tbs: ToBeSigned<'a>,
    form: Form,
}

enum Form {
    Digest([u8; 32]),
    Whole(Vec<u8>),
    Streamed,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(alg: Algorithm, tbs: ToBeSigned<'a>) -> Self {
        let form = match alg {
            Algorithm::Es256 | Algorithm::Esp256 => Form::Digest(tbs.sha256()),
            Algorithm::EdDsa | Algorithm::Ed25519 | Algorithm::HssLms => Form::Whole(tbs.encoded()),
            Algorithm::Hmac256 => Form::Streamed,
        };
        Self { tbs, form }
    }

    /// The whole message: as prepared, or built now if prepared for another algorithm.
    fn whole(&self) -> Cow<'_, [u8]> {
        match &self.form {
            Form::Whole(m) => Cow::Borrowed(m),
            _ => Cow::Owned(self.tbs.encoded()),
        }
    }
}

use super::label::key::{CRV_ED25519, CRV_P256, KTY_EC2, KTY_HSS_LMS, KTY_OKP, KTY_SYMMETRIC};

/// The parts of a COSE_Key (RFC 9052 §7) this engine reads, borrowed from the input, with
/// the common parameters' types checked.
struct CoseKey<'a> {
    kty: i64,
    kid: &'a [u8],
    /// `alg`: `Some(Some(id))` for an integer, `Some(None)` for a text name.
    alg: Option<Option<i64>>,
    /// Key-type parameters -1, -2, -3 (data items; strings borrowed).
    params: [Option<Item<'a>>; 3],
}

impl<'a> CoseKey<'a> {
    /// Reads one COSE_Key map; the caller has checked it is well-formed. A label it reads
    /// twice is refused by value (an overlong integer passes the encoded-key check).
    fn read(bytes: &'a [u8]) -> Result<Self, CoseError> {
        let bad = |_| CoseError::Malformed;
        let mut d = Decoder::new(bytes);
        let n = d.map().map_err(bad)?;
        let mut key = CoseKey {
            kty: 0,
            kid: &[],
            alg: None,
            params: [None, None, None],
        };
        let mut kty = None;
        let mut seen = 0u16;
        for _ in 0..n {
            let label = match d.item().map_err(bad)? {
                Item::Uint(u) => i64::try_from(u).unwrap_or(i64::MAX),
                Item::Nint(u) => i64::try_from(u).map_or(i64::MIN, |u| -1 - u),
                Item::Text(_) => {
                    d.skip_any().map_err(bad)?;
                    continue;
                }
                _ => return Err(CoseError::Malformed),
            };
            if let Some(bit) = [1, 2, 3, 4, 5, -1, -2, -3].iter().position(|l| *l == label) {
                if seen & (1 << bit) != 0 {
                    return Err(CoseError::Malformed);
                }
                seen |= 1 << bit;
            }
            match label {
                // kty: int or tstr (no text key type is implemented).
                1 => {
                    kty = Some(match d.item().map_err(bad)? {
                        Item::Uint(u) => i64::try_from(u).map_err(|_| CoseError::Malformed)?,
                        Item::Nint(u) => -1 - i64::try_from(u).map_err(|_| CoseError::Malformed)?,
                        Item::Text(_) => 0,
                        _ => return Err(CoseError::Malformed),
                    })
                }
                2 => key.kid = d.bytes().map_err(bad)?,
                3 => {
                    key.alg = Some(match d.item().map_err(bad)? {
                        Item::Uint(u) => Some(i64::try_from(u).map_err(|_| CoseError::Malformed)?),
                        Item::Nint(u) => {
                            Some(-1 - i64::try_from(u).map_err(|_| CoseError::Malformed)?)
                        }
                        Item::Text(_) => None,
                        _ => return Err(CoseError::Malformed),
                    })
                }
                // key_ops: a non-empty array; Base IV: bstr.
                4 => {
                    if d.peek().map_err(bad)? == Item::Array(0)
                        || !matches!(d.peek(), Ok(Item::Array(_)))
                    {
                        return Err(CoseError::Malformed);
                    }
                    d.skip().map_err(bad)?;
                }
                5 => {
                    d.bytes().map_err(bad)?;
                }
                -3..=-1 => {
                    // Only scalars and strings are read; a container is kept as its header.
                    let item = d.peek().map_err(bad)?;
                    d.skip().map_err(bad)?;
                    let slot = usize::try_from(-1 - label).unwrap_or(usize::MAX);
                    if let Some(slot) = key.params.get_mut(slot) {
                        *slot = Some(item);
                    }
                }
                _ => {
                    d.skip_any().map_err(bad)?;
                }
            }
        }
        d.finish().map_err(bad)?;
        key.kty = kty.ok_or(CoseError::Malformed)?;
        Ok(key)
    }
}

/// The `y` of an EC2 COSE_Key (RFC 9053 §7.1.1, `y: bstr / bool`): the coordinate, or the
/// sign bit of a point given in compressed form.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ec2Y<'a> {
    /// The y-coordinate (32 bytes for P-256).
    Coordinate(&'a [u8]),
    /// Compressed: whether y is odd.
    Sign(bool),
}

/// The P-256 point of an EC2 COSE_Key's `x` and `y`, the one reading of both for trust anchors
/// and ECDH ephemeral keys: the SEC1 encoding (uncompressed, or compressed when `y` is a
/// sign), decoded by `p256`, which decompresses and refuses a point not on the curve, the
/// identity and coordinates of any other length (`None`).
pub(crate) fn p256_point(x: &[u8], y: Ec2Y<'_>) -> Option<p256::PublicKey> {
    if x.len() != 32 {
        return None;
    }
    let mut sec1 = [0u8; 65];
    let len = match y {
        Ec2Y::Coordinate(y) if y.len() == 32 => {
            sec1[0] = 0x04;
            sec1[33..].copy_from_slice(y);
            65
        }
        Ec2Y::Coordinate(_) => return None,
        Ec2Y::Sign(odd) => {
            sec1[0] = if odd { 0x03 } else { 0x02 };
            33
        }
    };
    sec1[1..33].copy_from_slice(x);
    p256::PublicKey::from_sec1_bytes(sec1.get(..len)?).ok()
}

/// HSS-LMS verification by hbs-lms, which panics on input of the wrong shape: the key and the
/// (unauthenticated) signature are checked to have the exact RFC 8554 shape first (the key
/// again, as `KeyMaterial::HssLms` can be built without [`VerificationKey::hss_lms`]).
#[cfg(feature = "hss-lms")]
pub(super) fn hss_verify(
    message: &[u8],
    signature: &[u8],
    public_key: &[u8],
) -> Result<(), CoseError> {
    super::hss_shape::check_signature(signature, public_key)?;
    hbs_lms::verify::<super::hss_sha256::Sha256M32>(message, signature, public_key)
        .map_err(|_| CoseError::VerificationFailed)
}

#[cfg(not(feature = "hss-lms"))]
pub(super) fn hss_verify(
    _message: &[u8],
    _signature: &[u8],
    _public_key: &[u8],
) -> Result<(), CoseError> {
    Err(CoseError::AlgorithmNotEnabled(Algorithm::HssLms.cose_id()))
}

/// The Ed25519 public key type; without the `ed25519` feature no such key can exist.
#[cfg(feature = "ed25519")]
pub type Ed25519Key = ed25519_dalek::VerifyingKey;
/// The Ed25519 public key type; without the `ed25519` feature no such key can exist.
#[cfg(not(feature = "ed25519"))]
#[derive(Debug, Clone)]
pub enum Ed25519Key {}

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
