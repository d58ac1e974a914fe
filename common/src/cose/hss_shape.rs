//! The shape of HSS-LMS public keys and signatures (RFC 8554), checked before hbs-lms reads
//! them.
//!
//! hbs-lms 0.1 parses with unchecked slicing and `unwrap` (`InMemoryHssSignature::new`,
//! `InMemoryLmsSignature::new`, `InMemoryLmotsSignature::new`, `InMemoryLmsPublicKey::new`,
//! `InMemoryHssPublicKey::new`), and verification runs before anything is authenticated: a
//! malformed signature would panic it, which aborts the TA. So every field it reads is checked
//! here first, for the parameter sets it implements with a 32-byte hash: typecodes known, a
//! leaf index inside its tree, as many levels as the key says, each tree's typecodes those of
//! the key that verifies it, and every length exact (nothing left over). This is parsing
//! only: hashing and comparing stay in hbs-lms.

use super::CoseError;

/// n (LM-OTS) and m (LMS) of the parameter sets verified here: SHA-256 with 32-byte outputs,
/// the only `HashChain` given to hbs-lms (`hss_sha256::Sha256M32`, `OUTPUT_SIZE` 32).
const N: usize = 32;
/// Length of a u32str (RFC 8554 §3.1).
const U32_LEN: usize = 4;
/// Length of I, the LMS key pair identifier (RFC 8554 §5.3).
const I_LEN: usize = 16;
/// Most levels of an HSS tree (RFC 8554 §6: L is 1 to 8). hbs-lms is built for as many
/// (its default `MAX_ALLOWED_HSS_LEVELS`, 8): it holds L - 1 signed public keys in an array
/// of 7 and panics past it, so `HBS_LMS_MAX_ALLOWED_HSS_LEVELS` must not be set lower (the
/// crate's build.rs refuses to build with it, or hbs-lms's other array sizes, set).
const MAX_LEVELS: u32 = 8;

/// The typecodes of one LMS tree, both known: its LMS type and its LM-OTS type.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TreeTypes {
    lms: u32,
    ots: u32,
}

/// h for an LMS typecode: LMS_SHA256_M32_H5 to _H25 (RFC 8554 §5.1 Table 2, m = 32), which
/// are hbs-lms's `LmsAlgorithm::LmsH5` to `LmsH25`.
fn tree_height(lms_type: u32) -> Option<u32> {
    match lms_type {
        5 => Some(5),
        6 => Some(10),
        7 => Some(15),
        8 => Some(20),
        9 => Some(25),
        _ => None,
    }
}

/// p for an LM-OTS typecode: LMOTS_SHA256_N32_W1 to _W8 (RFC 8554 §4.1 Table 1, n = 32),
/// which are hbs-lms's `LmotsAlgorithm::LmotsW1` to `LmotsW8`.
fn chain_count(ots_type: u32) -> Option<usize> {
    match ots_type {
        1 => Some(265),
        2 => Some(133),
        3 => Some(67),
        4 => Some(34),
        _ => None,
    }
}

/// Reads fields off the front of a byte string; `None` once a field runs past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (field, rest) = self.0.split_first_chunk::<U32_LEN>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*field))
    }

    /// Skips `count` fields of `len` bytes each.
    fn skip(&mut self, count: usize, len: usize) -> Option<()> {
        let (_, rest) = self.0.split_at_checked(count.checked_mul(len)?)?;
        self.0 = rest;
        Some(())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads an LMS public key (RFC 8554 §5.3: u32str(type) || u32str(otstype) || I || T[1]):
/// its typecodes, if both are known.
fn lms_public_key(r: &mut Reader<'_>) -> Option<TreeTypes> {
    let lms = r.u32()?;
    let ots = r.u32()?;
    tree_height(lms)?;
    chain_count(ots)?;
    r.skip(1, I_LEN)?;
    r.skip(1, N)?;
    Some(TreeTypes { lms, ots })
}

/// Reads an HSS public key (RFC 8554 §6.1: u32str(L) || LMS public key), exactly: L (1 to 8)
/// and the top tree's typecodes.
fn hss_public_key(key: &[u8]) -> Option<(u32, TreeTypes)> {
    let mut r = Reader(key);
    let levels = r.u32()?;
    if !(1..=MAX_LEVELS).contains(&levels) {
        return None;
    }
    let top = lms_public_key(&mut r)?;
    r.is_empty().then_some((levels, top))
}

/// Checks that `key` is an HSS public key hbs-lms can use (RFC 8554 §6.1; see
/// [`hss_public_key`]), so that no provisioned key can make verification panic later.
pub(super) fn check_public_key(key: &[u8]) -> Result<(), CoseError> {
    hss_public_key(key).map(|_| ()).ok_or(CoseError::InvalidKey)
}

/// Reads an LMS signature (RFC 8554 §5.4) to be verified by a key of typecodes `key`:
/// u32str(q) || lmots_signature || u32str(type) || path[h], where the LM-OTS signature
/// (§4.5) is u32str(otstype) || C || y[p]. Both typecodes must be the key's and q below 2^h
/// (§5.4.2).
#[cfg(feature = "hss-lms")]
fn lms_signature(r: &mut Reader<'_>, key: TreeTypes) -> Option<()> {
    let q = r.u32()?;
    if r.u32()? != key.ots {
        return None;
    }
    r.skip(1, N)?;
    r.skip(chain_count(key.ots)?, N)?;
    if r.u32()? != key.lms {
        return None;
    }
    let h = tree_height(key.lms)?;
    if q >= 1u32.checked_shl(h)? {
        return None;
    }
    r.skip(usize::try_from(h).ok()?, N)
}

/// Reads an HSS signature (RFC 8554 §6.2) for the HSS public key `key`, exactly:
/// u32str(Nspk) || signed_pub_key[0..Nspk] || sig[Nspk], each signed_pub_key an LMS
/// signature then the LMS public key it signs. Nspk is L - 1 (§6.3); the top LMS
/// signature is checked against `key`'s typecodes, each other against those of the public
/// key before it.
#[cfg(feature = "hss-lms")]
fn hss_signature(signature: &[u8], levels: u32, top: TreeTypes) -> Option<()> {
    let mut r = Reader(signature);
    let signed_keys = r.u32()?;
    if Some(signed_keys) != levels.checked_sub(1) {
        return None;
    }
    let mut key = top;
    for _ in 0..signed_keys {
        lms_signature(&mut r, key)?;
        key = lms_public_key(&mut r)?;
    }
    lms_signature(&mut r, key)?;
    r.is_empty().then_some(())
}

/// Checks the shape of `signature` against the HSS public key `key` before hbs-lms reads
/// either: [`CoseError::InvalidKey`] for a key that is not one (see [`check_public_key`]),
/// [`CoseError::VerificationFailed`] for a signature that is not one for that key.
#[cfg(feature = "hss-lms")]
pub(super) fn check_signature(signature: &[u8], key: &[u8]) -> Result<(), CoseError> {
    let (levels, top) = hss_public_key(key).ok_or(CoseError::InvalidKey)?;
    hss_signature(signature, levels, top).ok_or(CoseError::VerificationFailed)
}
