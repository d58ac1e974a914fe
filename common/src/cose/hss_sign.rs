//! HSS-LMS key generation and signing (RFC 8554) for the author tool: features `author` and
//! `hss-lms` together, so the TA (built without `author`) carries none of it.
//!
//! HSS-LMS is stateful: every signature uses a one-time key (a leaf), and signing twice from
//! the same private-key state reuses one, which lets anyone who sees both signatures forge.
//! This module keeps no state: [`hss_lms_sign`] hands the advanced private key to the
//! caller's `persist` before it returns the signature, and returns no signature unless
//! `persist` succeeded (the author tool writes it to disk durably there: host
//! `author::hss`).
//!
//! The private key is hbs-lms's form, which is the one of the hash-sigs reference
//! implementation (RFC 8554's authors'): `u64 count || 8 parameter bytes || 32-byte seed`,
//! 48 bytes, `count` being how many signatures were made (the leaf of each level follows from
//! it), each parameter byte `lms_type << 4 | lmots_type` for one level, top first, `0xff`
//! after the last. It is checked here before hbs-lms reads it (hbs-lms panics or overflows on
//! some malformed keys, as on malformed signatures: `hss_shape`).

use alloc::vec::Vec;

use hbs_lms::{HssParameter, LmotsAlgorithm, LmsAlgorithm, Seed};
use zeroize::Zeroizing;

use super::hss_sha256::Sha256M32;

/// Length of an HSS-LMS private key in hbs-lms's (the reference implementation's) form.
pub const HSS_PRIVATE_KEY_LEN: usize = 48;
/// Length of the HSS public key of a SHA-256/M32 parameter set (RFC 8554 §6.1: L, LMS type,
/// LM-OTS type, I, T[1]).
pub const HSS_PUBLIC_KEY_LEN: usize = 60;
/// Most levels of an HSS key (RFC 8554 §6: L is 1 to 8).
pub const HSS_MAX_LEVELS: usize = 8;
/// Most tree height all levels together may add up to: hbs-lms counts signatures in a `u64`
/// (2^60 signatures is beyond any use).
pub const HSS_MAX_TOTAL_HEIGHT: u32 = 60;

/// Where the parameter bytes end.
const PARAM_END: u8 = 0xff;
/// Offsets in the private key.
const COUNT_LEN: usize = 8;
const PARAMS_LEN: usize = 8;

/// One level of an HSS key: its LMS tree height (LMS_SHA256_M32_H`height`) and its LM-OTS
/// Winternitz parameter (LMOTS_SHA256_N32_W`winternitz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HssLevel {
    /// 5, 10, 15, 20 or 25.
    pub height: u8,
    /// 1, 2, 4 or 8.
    pub winternitz: u8,
}

impl HssLevel {
    /// The RFC 8554 LMS typecode (Table 2): 5 for H5 to 9 for H25.
    pub fn lms_type(self) -> Option<u32> {
        Some(match self.height {
            5 => 5,
            10 => 6,
            15 => 7,
            20 => 8,
            25 => 9,
            _ => return None,
        })
    }

    /// The RFC 8554 LM-OTS typecode (Table 1): 1 for W1 to 4 for W8.
    pub fn lmots_type(self) -> Option<u32> {
        Some(match self.winternitz {
            1 => 1,
            2 => 2,
            4 => 3,
            8 => 4,
            _ => return None,
        })
    }

    /// The level of the two typecodes, if both are SHA-256/M32 ones.
    fn from_types(lms: u8, lmots: u8) -> Option<Self> {
        let height = match lms {
            5 => 5,
            6 => 10,
            7 => 15,
            8 => 20,
            9 => 25,
            _ => return None,
        };
        let winternitz = match lmots {
            1 => 1,
            2 => 2,
            3 => 4,
            4 => 8,
            _ => return None,
        };
        Some(Self { height, winternitz })
    }

    fn parameter(self) -> Option<HssParameter<Sha256M32>> {
        let lms = match self.lms_type()? {
            5 => LmsAlgorithm::LmsH5,
            6 => LmsAlgorithm::LmsH10,
            7 => LmsAlgorithm::LmsH15,
            8 => LmsAlgorithm::LmsH20,
            _ => LmsAlgorithm::LmsH25,
        };
        let ots = match self.lmots_type()? {
            1 => LmotsAlgorithm::LmotsW1,
            2 => LmotsAlgorithm::LmotsW2,
            3 => LmotsAlgorithm::LmotsW4,
            _ => LmotsAlgorithm::LmotsW8,
        };
        Some(HssParameter::new(ots, lms))
    }
}

/// Why an HSS-LMS key could not be made or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HssSignError {
    /// The levels are not a parameter set this implementation signs with (1 to 8 levels of
    /// H5..H25 / W1..W8, heights adding up to at most [`HSS_MAX_TOTAL_HEIGHT`]).
    UnsupportedParameters,
    /// The private key is not one (wrong length, unknown typecodes, a count past its end).
    MalformedKey,
    /// Every one-time key is used: the key can sign no more.
    Exhausted,
    /// `persist` refused the advanced state: no signature was made available.
    NotPersisted,
    /// hbs-lms failed (nothing was persisted).
    Failed,
}

// The module is built only with `author`, which brings `explain`: no prose reaches the TA.
impl core::fmt::Display for HssSignError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            HssSignError::UnsupportedParameters => "unsupported parameter set",
            HssSignError::MalformedKey => "malformed private key",
            HssSignError::Exhausted => "every one-time key is used",
            HssSignError::NotPersisted => "the advanced state could not be stored",
            HssSignError::Failed => "hbs-lms failed",
        })
    }
}

impl core::error::Error for HssSignError {}

/// What a private key says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HssKeyState {
    /// Its levels, top first.
    pub levels: Vec<HssLevel>,
    /// Signatures made so far: the index of the next one-time key.
    pub used: u64,
    /// Signatures the key can make in all: 2^(sum of the heights).
    pub lifetime: u64,
}

impl HssKeyState {
    /// Signatures still possible.
    pub fn remaining(&self) -> u64 {
        self.lifetime.saturating_sub(self.used)
    }

    /// The leaf index (q, RFC 8554 §5.4) each level's tree signs with next, top first.
    pub fn leaves(&self) -> Vec<u32> {
        let mut count = self.used;
        let mut out: Vec<u32> = self
            .levels
            .iter()
            .rev()
            .map(|l| {
                let h = u32::from(l.height);
                let q = count & ((1u64 << h) - 1);
                count >>= h;
                u32::try_from(q).unwrap_or(u32::MAX)
            })
            .collect();
        out.reverse();
        out
    }
}

/// Checks `levels` and returns 2^(sum of their heights).
fn lifetime(levels: &[HssLevel]) -> Result<u64, HssSignError> {
    if levels.is_empty() || levels.len() > HSS_MAX_LEVELS {
        return Err(HssSignError::UnsupportedParameters);
    }
    let mut total = 0u32;
    for l in levels {
        if l.lms_type().is_none() || l.lmots_type().is_none() {
            return Err(HssSignError::UnsupportedParameters);
        }
        total += u32::from(l.height);
    }
    if total > HSS_MAX_TOTAL_HEIGHT {
        return Err(HssSignError::UnsupportedParameters);
    }
    Ok(1u64 << total)
}

/// Reads a private key (hbs-lms's 48-byte form; see the module documentation) without
/// using it: its levels and how many signatures it made. A key that made all of them is
/// [`HssSignError::Exhausted`] (hbs-lms wipes a key after its last signature: its parameter
/// bytes are all `0xff` then); anything else that is not a key is
/// [`HssSignError::MalformedKey`].
pub fn hss_lms_key_state(private_key: &[u8]) -> Result<HssKeyState, HssSignError> {
    let bad = HssSignError::MalformedKey;
    if private_key.len() != HSS_PRIVATE_KEY_LEN {
        return Err(bad);
    }
    let (count, rest) = private_key.split_first_chunk::<COUNT_LEN>().ok_or(bad)?;
    let (params, _seed) = rest.split_first_chunk::<PARAMS_LEN>().ok_or(bad)?;
    if params.iter().all(|b| *b == PARAM_END) {
        return Err(HssSignError::Exhausted);
    }
    let mut levels = Vec::new();
    let mut ended = false;
    for p in params {
        if *p == PARAM_END {
            ended = true;
            continue;
        }
        if ended {
            return Err(bad);
        }
        levels.push(HssLevel::from_types(p >> 4, p & 0x0f).ok_or(bad)?);
    }
    let lifetime = lifetime(&levels).map_err(|_| bad)?;
    let used = u64::from_be_bytes(*count);
    if used >= lifetime {
        return Err(bad);
    }
    Ok(HssKeyState {
        levels,
        used,
        lifetime,
    })
}

/// Generates an HSS-LMS key pair with `levels` (top first) from the 32-byte random `seed`:
/// the private key (48 bytes, wiped on drop) and the HSS public key (RFC 8554 §6.1). Takes as
/// long as computing the top tree (2^height one-time public keys).
pub fn hss_lms_keygen(
    levels: &[HssLevel],
    seed: &[u8; 32],
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), HssSignError> {
    lifetime(levels)?;
    let params = levels
        .iter()
        .map(|l| l.parameter())
        .collect::<Option<Vec<_>>>()
        .ok_or(HssSignError::UnsupportedParameters)?;
    let (sk, vk) = hbs_lms::keygen::<Sha256M32>(&params, &Seed::from(*seed), None)
        .map_err(|_| HssSignError::Failed)?;
    let mut sk = sk;
    let private = Zeroizing::new(sk.as_slice().to_vec());
    zeroize::Zeroize::zeroize(sk.as_mut_slice());
    Ok((private, vk.as_slice().to_vec()))
}

/// Signs `message` with `private_key` (hbs-lms's form), RFC 8554 §6.2's HSS signature.
///
/// The advanced private key (one signature more; wiped if that was the last one) goes to
/// `persist` after signing and before the signature is returned; if `persist` fails, the
/// signature is dropped and [`HssSignError::NotPersisted`] returned. A key that made every
/// signature it can is [`HssSignError::Exhausted`] before anything is computed.
pub fn hss_lms_sign(
    message: &[u8],
    private_key: &[u8],
    persist: &mut dyn FnMut(&[u8]) -> Result<(), ()>,
) -> Result<Vec<u8>, HssSignError> {
    hss_lms_key_state(private_key)?;
    let mut persisted = None;
    let mut update = |new: &[u8]| {
        let r = persist(new);
        persisted = Some(r.is_ok());
        r
    };
    let signature = hbs_lms::sign::<Sha256M32>(message, private_key, &mut update, None);
    match (signature, persisted) {
        (Ok(s), Some(true)) => Ok(s.as_ref().to_vec()),
        (_, Some(false)) => Err(HssSignError::NotPersisted),
        _ => Err(HssSignError::Failed),
    }
}

/// Verifies an HSS signature (RFC 8554 §6.3) over `message` with the HSS public key `public`,
/// both checked to have the RFC 8554 shape first (as the device does).
pub fn hss_lms_verify(
    message: &[u8],
    signature: &[u8],
    public: &[u8],
) -> Result<(), super::CoseError> {
    super::key::hss_verify(message, signature, public)
}
