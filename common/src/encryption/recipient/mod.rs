//! Content key distribution: recovering the CEK from one of the COSE_recipients.
//!
//! Recipients are tried in order. A `kid` is a hint (RFC 9052 §3.1), not an identity: a
//! recipient is tried first with the device keys of that id, then with the other keys of the
//! matching type (at most [`MAX_KEY_CANDIDATES`] keys in all), so an envelope made for this
//! device's key but labelled with another kid still opens. A recipient without a kid is tried
//! with every key of the type (same bound). The first recipient that opens yields the CEK.
//!
//! An AES-KW recipient may leave `alg` out (the firmware-encryption draft's CDDL,
//! `? 1 => int / tstr`): one shaped like it (`unlabelled_aes_kw`: no protected parameter, no
//! other method's parameters, a wrapped 128- or 256-bit CEK) is tried with the device's KEKs
//! of both sizes, the KEK's size deciding A128KW or A256KW, the kid a hint as above, and is
//! ranked like any AES-KW recipient. ECDH-ES and HPKE recipients are never tried without
//! their `alg`.
//!
//! A COSE_Encrypt may address several devices, so a recipient this device cannot use
//! (unreadable headers, no `alg` and not shaped like AES-KW, an unknown `alg`, an ephemeral
//! key of another curve, an invalid point, a key that fails) does not end the search: only
//! the outer structure is fatal. If no recipient opens, the error names the most specific
//! reason: a failure with a key the recipient named (or with any key, when it named none), or
//! an unusable recipient that names a device key, beats "no key", which beats the first
//! unusable recipient of a supported algorithm, which beats the first recipient of an unknown
//! one.

pub mod aes_kw;
pub mod ecdh_es;
pub mod hpke;

use alloc::vec::Vec;

use super::algorithms::{header, ContentAlgorithm, HpkeSuite, KeyWrap, RecipientAlgorithm};
use super::cose::{ec2_p256_coordinates, malformed, CoseEncrypt, Recipient};
use super::error::{DecryptError, KeyError, Location, Problem};
use super::keys::{DeviceKeys, HpkeOpen, KeyKind, KeyRef, SecretBytes};
use super::CoseOptions;

/// Most device keys tried for one recipient (each try is one ECDH / HPKE open / unwrap). As
/// many as the KEKs a device holds (`service::provision::MAX_KEKS`), so that a recipient
/// without a kid, or whose kid names none of them, still reaches every KEK (kid is a hint).
pub const MAX_KEY_CANDIDATES: usize = 16;

/// The keys of `kinds` to try for a recipient naming `kid`: those with that kid first (of
/// every kind, in the order given), then the others (flagged `false`: their failure is not
/// reported as the recipient's), bounded in all.
fn candidates(
    keys: &dyn DeviceKeys,
    kinds: &[KeyKind],
    kid: Option<&[u8]>,
) -> Vec<(KeyRef, KeyKind, bool)> {
    let mut out: Vec<(KeyRef, KeyKind, bool)> = Vec::new();
    if kid.is_some() {
        for &kind in kinds {
            out.extend(keys.find(kind, kid).into_iter().map(|k| (k, kind, true)));
        }
    }
    for &kind in kinds {
        for k in keys.find(kind, None) {
            if !out.iter().any(|(c, _, _)| *c == k) {
                out.push((k, kind, kid.is_none()));
            }
        }
    }
    out.truncate(MAX_KEY_CANDIDATES);
    out
}

enum Attempt {
    Opened(SecretBytes),
    Failed(DecryptError),
    NoKey,
}

/// Why no recipient has opened so far, by precedence (see the module doc).
#[derive(Default)]
struct Refusal {
    failed: Option<DecryptError>,
    no_key: bool,
    unusable: Option<DecryptError>,
    foreign: Option<DecryptError>,
}

impl Refusal {
    fn into_error(self) -> DecryptError {
        match self {
            Self {
                failed: Some(e), ..
            } => e,
            Self { no_key: true, .. } => DecryptError::NoRecipientForKeys,
            Self {
                unusable: Some(e), ..
            } => e,
            Self {
                foreign: Some(e), ..
            } => e,
            _ => DecryptError::NoRecipientForKeys,
        }
    }
}

fn key_kind(algorithm: RecipientAlgorithm) -> KeyKind {
    match algorithm {
        RecipientAlgorithm::AesKw(wrap) => KeyKind::AesKw(wrap),
        RecipientAlgorithm::EcdhEs(_) => KeyKind::EcdhEsP256,
        RecipientAlgorithm::Hpke(_) => KeyKind::HpkeP256,
    }
}

/// Tries recipient `i`; `Err` means it cannot be used at all (it may be another device's).
fn attempt(
    i: usize,
    r: &Recipient,
    algorithm: RecipientAlgorithm,
    content: ContentAlgorithm,
    keys: &dyn DeviceKeys,
    opts: &CoseOptions<'_>,
) -> Result<Attempt, DecryptError> {
    match algorithm {
        RecipientAlgorithm::AesKw(wrap) => aes_kw_recipient(i, r, wrap, keys),
        RecipientAlgorithm::EcdhEs(wrap) => ecdh_recipient(i, r, wrap, keys, opts),
        RecipientAlgorithm::Hpke(suite) => hpke_recipient(i, r, suite, content, keys, opts),
    }
}

pub(crate) fn recover_cek(
    msg: &CoseEncrypt,
    content: ContentAlgorithm,
    keys: &dyn DeviceKeys,
    opts: &CoseOptions<'_>,
) -> Result<SecretBytes, DecryptError> {
    let mut refusal = Refusal::default();
    for (i, r) in msg.recipients.iter().enumerate() {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                refusal.foreign.get_or_insert(*e);
                continue;
            }
        };
        let tried = match r.headers.alg() {
            Some(alg) => {
                let Some(algorithm) = RecipientAlgorithm::from_id(alg) else {
                    refusal
                        .foreign
                        .get_or_insert(DecryptError::UnsupportedRecipientAlgorithm(alg));
                    continue;
                };
                match attempt(i, r, algorithm, content, keys, opts) {
                    Ok(tried) => tried,
                    // Unusable, but addressed to a key this device holds: as telling as a
                    // failure.
                    Err(e)
                        if r.headers.kid().is_some_and(|kid| {
                            !keys.find(key_kind(algorithm), Some(kid)).is_empty()
                        }) =>
                    {
                        refusal.failed.get_or_insert(e);
                        continue;
                    }
                    Err(e) => {
                        refusal.unusable.get_or_insert(e);
                        continue;
                    }
                }
            }
            // The draft lets an AES-KW recipient omit `alg`.
            None if unlabelled_aes_kw(r) => unlabelled_aes_kw_recipient(r, keys),
            // COSE-HPKE does not strictly require `alg` either; without it, and not shaped
            // like AES-KW, this device cannot tell what the recipient is, so it is another
            // device's. (ECDH-ES and HPKE recipients are never tried without their `alg`.)
            None => {
                refusal.foreign.get_or_insert(malformed(
                    Location::Recipient(i),
                    Problem::MissingHeader(header::ALG),
                ));
                continue;
            }
        };
        match tried {
            Attempt::Opened(cek) if cek.len() == content.key_len() => return Ok(cek),
            // Anyone can make an ECDH-ES recipient for this device's key, so a wrong
            // length does not rule out a good recipient later.
            Attempt::Opened(cek) => {
                refusal
                    .failed
                    .get_or_insert(DecryptError::ContentKeyLength {
                        expected: content.key_len(),
                        found: cek.len(),
                    });
            }
            Attempt::Failed(e) => {
                refusal.failed.get_or_insert(e);
            }
            Attempt::NoKey => refusal.no_key = true,
        }
    }
    Err(refusal.into_error())
}

fn unwrap_with(kek: &SecretBytes, wrap: KeyWrap, wrapped: &[u8]) -> Attempt {
    if kek.len() != wrap.kek_len() {
        return Attempt::Failed(DecryptError::DeviceKey(KeyError::WrongKeyType));
    }
    match aes_kw::unwrap(kek.as_bytes(), wrapped) {
        Ok(cek) => Attempt::Opened(cek),
        Err(_) => Attempt::Failed(DecryptError::KeyUnwrapFailed),
    }
}

fn aes_kw_recipient(
    i: usize,
    r: &Recipient,
    wrap: KeyWrap,
    keys: &dyn DeviceKeys,
) -> Result<Attempt, DecryptError> {
    // RFC 9053 §6.2.1: AES-KW has no parameters to protect. The draft's CDDL allows the empty
    // bucket as h'' or h'a0'; a map with any label is refused.
    if !r.headers.protected_is_empty() {
        return Err(malformed(
            Location::RecipientProtected(i),
            Problem::ProtectedNotEmpty,
        ));
    }
    let wrapped = r.wrapped(i)?;
    Ok(unwrap_cek(r, wrapped, &[KeyKind::AesKw(wrap)], keys))
}

/// Whether a recipient without `alg` is taken for AES-KW (draft-ietf-suit-firmware-encryption
/// §5.1.3: `? 1 => int / tstr` in the AES-KW recipient): no protected header parameter (h''
/// or h'a0'), none of another method's parameters (ECDH-ES ephemeral key, HPKE `ek` or
/// `psk_id`), and a ciphertext of a wrapped 128- or 256-bit CEK (RFC 3394: the key plus an
/// 8-byte integrity block, so 24 or 40 bytes). Anything else without `alg` stays another
/// device's.
fn unlabelled_aes_kw(r: &Recipient) -> bool {
    let h = &r.headers;
    h.protected_is_empty()
        && h.ephemeral_key().is_none()
        && h.unprotected.ek.is_none()
        && h.unprotected.psk_id.is_none()
        && r.ciphertext
            .as_ref()
            .is_some_and(|c| matches!(c.len(), 24 | 40))
}

/// An AES-KW recipient without `alg`: the device's KEKs of both sizes are the candidates
/// (kid-matching ones first, at most [`MAX_KEY_CANDIDATES`] in all), each unwrapping with the
/// key wrap of its size (16 bytes A128KW, 32 bytes A256KW). The outcome is reported as for a
/// recipient naming A128KW or A256KW (the same three results, no new error).
fn unlabelled_aes_kw_recipient(r: &Recipient, keys: &dyn DeviceKeys) -> Attempt {
    unwrap_cek(
        r,
        r.ciphertext.as_deref().unwrap_or_default(),
        &[
            KeyKind::AesKw(KeyWrap::A128Kw),
            KeyKind::AesKw(KeyWrap::A256Kw),
        ],
        keys,
    )
}

/// Unwraps the recipient's ciphertext `wrapped` with the candidate KEKs of `kinds`.
fn unwrap_cek(r: &Recipient, wrapped: &[u8], kinds: &[KeyKind], keys: &dyn DeviceKeys) -> Attempt {
    first_open(keys, kinds, r.headers.kid(), |key, kind| {
        let KeyKind::AesKw(wrap) = kind else {
            return Attempt::Failed(DecryptError::DeviceKey(KeyError::WrongKeyType));
        };
        match keys.kek(key) {
            Ok(kek) => unwrap_with(&kek, wrap, wrapped),
            Err(e) => Attempt::Failed(DecryptError::DeviceKey(e)),
        }
    })
}

fn ecdh_recipient(
    i: usize,
    r: &Recipient,
    wrap: KeyWrap,
    keys: &dyn DeviceKeys,
    opts: &CoseOptions<'_>,
) -> Result<Attempt, DecryptError> {
    let h = &r.headers;
    let wrapped = r.wrapped(i)?;
    let epk = h.ephemeral_key().ok_or(malformed(
        Location::RecipientUnprotected(i),
        Problem::MissingHeader(header::EPHEMERAL_KEY),
    ))?;
    let (x, y) = ec2_p256_coordinates(epk, Location::EphemeralKey(i))?;
    let peer =
        crate::cose::p256_point(x, y).ok_or(DecryptError::InvalidPublicKey { recipient: i })?;
    let context = ecdh_es::KdfContext {
        wrap,
        party_u: ecdh_es::PartyInfo {
            identity: h.party(0),
            nonce: h.party(1),
            other: h.party(2),
        },
        party_v: ecdh_es::PartyInfo {
            identity: h.party(3),
            nonce: h.party(4),
            other: h.party(5),
        },
        protected: &h.protected_bytes,
        other: opts.ecdh_kdf_other,
    }
    .encode()?;
    Ok(first_open(
        keys,
        &[KeyKind::EcdhEsP256],
        h.kid(),
        |key, _| match keys.ecdh_p256(key, &peer) {
            Ok(z) => {
                let kek = ecdh_es::derive_kek(&z, h.salt(), &context, wrap);
                unwrap_with(&kek, wrap, wrapped)
            }
            Err(e) => Attempt::Failed(key_error(i, e)),
        },
    ))
}

fn hpke_recipient(
    i: usize,
    r: &Recipient,
    suite: HpkeSuite,
    content: ContentAlgorithm,
    keys: &dyn DeviceKeys,
    opts: &CoseOptions<'_>,
) -> Result<Attempt, DecryptError> {
    let h = &r.headers;
    let (at_p, at_u) = (
        Location::RecipientProtected(i),
        Location::RecipientUnprotected(i),
    );
    // draft-ietf-cose-hpke: alg and psk_id protected, ek unprotected.
    if h.protected.alg.is_none() {
        return Err(malformed(at_u, Problem::WrongBucket(header::ALG)));
    }
    if h.unprotected.psk_id.is_some() {
        return Err(malformed(at_u, Problem::WrongBucket(header::HPKE_PSK_ID)));
    }
    if h.protected.ek.is_some() {
        return Err(malformed(at_p, Problem::WrongBucket(header::HPKE_EK)));
    }
    let enc = h
        .unprotected
        .ek
        .as_deref()
        .ok_or(malformed(at_u, Problem::MissingHeader(header::HPKE_EK)))?;
    let info = hpke::recipient_structure(content.id(), &h.protected_bytes, opts.hpke_info)?;
    let op = HpkeOpen {
        suite,
        enc,
        info: &info,
        aad: opts.hpke_aad,
        ciphertext: r.wrapped(i)?,
        psk_id: h.protected.psk_id.as_deref(),
    };
    Ok(open_hpke(i, &op, h.kid(), keys))
}

/// Tries `op` with every matching HPKE key.
fn open_hpke(i: usize, op: &HpkeOpen<'_>, kid: Option<&[u8]>, keys: &dyn DeviceKeys) -> Attempt {
    first_open(keys, &[KeyKind::HpkeP256], kid, |key, _| {
        match keys.hpke_open(key, op) {
            Ok(pt) => Attempt::Opened(pt),
            Err(e) => Attempt::Failed(key_error(i, e)),
        }
    })
}

fn key_error(i: usize, e: KeyError) -> DecryptError {
    match e {
        KeyError::OperationFailed => DecryptError::HpkeOpenFailed,
        KeyError::UnknownPsk => DecryptError::UnknownPsk,
        KeyError::InvalidPeerKey => DecryptError::InvalidPublicKey { recipient: i },
        e => DecryptError::DeviceKey(e),
    }
}

/// Tries the candidate keys (see [`candidates`]) with `open` until one opens. A failure that
/// only says "wrong key" is the recipient's if it named that key; any other (device key
/// store, unknown PSK) is kept whichever key met it.
fn first_open(
    keys: &dyn DeviceKeys,
    kinds: &[KeyKind],
    kid: Option<&[u8]>,
    mut open: impl FnMut(KeyRef, KeyKind) -> Attempt,
) -> Attempt {
    let mut result = Attempt::NoKey;
    for (key, kind, named) in candidates(keys, kinds, kid) {
        match open(key, kind) {
            Attempt::Opened(cek) => return Attempt::Opened(cek),
            Attempt::Failed(e) if named || !wrong_key(&e) => result = Attempt::Failed(e),
            _ => {}
        }
    }
    result
}

fn wrong_key(e: &DecryptError) -> bool {
    matches!(
        e,
        DecryptError::KeyUnwrapFailed
            | DecryptError::HpkeOpenFailed
            | DecryptError::InvalidPublicKey { .. }
    )
}

/// Integrated mode: the HPKE open of a COSE_Encrypt0 (index 0 in errors).
pub(crate) fn open_integrated(
    op: &HpkeOpen<'_>,
    kid: Option<&[u8]>,
    keys: &dyn DeviceKeys,
) -> Result<SecretBytes, DecryptError> {
    match open_hpke(0, op, kid, keys) {
        Attempt::Opened(pt) => Ok(pt),
        Attempt::Failed(e) => Err(e),
        Attempt::NoKey => Err(DecryptError::NoRecipientForKeys),
    }
}
