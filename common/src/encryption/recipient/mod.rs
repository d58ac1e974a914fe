//! Content key distribution: recovering the CEK from one of the COSE_recipients.
//!
//! Recipients are tried in order. A `kid` is a hint (RFC 9052 §3.1), not an identity: a
//! recipient is tried first with the device keys of that id, then with the other keys of the
//! matching type (at most [`MAX_KEY_CANDIDATES`] keys in all), so an envelope made for this
//! device's key but labelled with another kid still opens. A recipient without a kid is tried
//! with every key of the type (same bound). The first recipient that opens yields the CEK. If
//! none does, the error names the most specific reason: a failed unwrap/open with a key the
//! recipient named (or with any key, when it named none) beats "no key", which beats
//! "unsupported algorithm".

pub mod aes_kw;
pub mod ecdh_es;
pub mod hpke;

use alloc::vec::Vec;

use super::algorithms::{header, ContentAlgorithm, HpkeSuite, KeyWrap, RecipientAlgorithm};
use super::cose::{ec2_p256_point, malformed, CoseEncrypt, Recipient};
use super::error::{DecryptError, KeyError, Location, Problem};
use super::keys::{DeviceKeys, HpkeOpen, KeyKind, KeyRef, SecretBytes};
use super::CoseOptions;

/// Most device keys tried for one recipient (each try is one ECDH / HPKE open / unwrap).
pub const MAX_KEY_CANDIDATES: usize = 8;

/// The keys of `kind` to try for a recipient naming `kid`: those with that kid first, then
/// the others (flagged `false`: their failure is not reported as the recipient's), bounded.
fn candidates(keys: &dyn DeviceKeys, kind: KeyKind, kid: Option<&[u8]>) -> Vec<(KeyRef, bool)> {
    let mut out: Vec<(KeyRef, bool)> = Vec::new();
    if kid.is_some() {
        out.extend(keys.find(kind, kid).into_iter().map(|k| (k, true)));
    }
    for k in keys.find(kind, None) {
        if !out.iter().any(|(c, _)| *c == k) {
            out.push((k, kid.is_none()));
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

pub(crate) fn recover_cek(
    msg: &CoseEncrypt,
    content: ContentAlgorithm,
    keys: &dyn DeviceKeys,
    opts: &CoseOptions<'_>,
) -> Result<SecretBytes, DecryptError> {
    let mut failure = None;
    let mut unsupported = None;
    let mut saw_supported = false;
    for (i, r) in msg.recipients.iter().enumerate() {
        let alg = r.headers.alg().ok_or(malformed(
            Location::Recipient(i),
            Problem::MissingHeader(header::ALG),
        ))?;
        let Some(algorithm) = RecipientAlgorithm::from_id(alg) else {
            unsupported.get_or_insert(DecryptError::UnsupportedRecipientAlgorithm(alg));
            continue;
        };
        saw_supported = true;
        let attempt = match algorithm {
            RecipientAlgorithm::AesKw(wrap) => aes_kw_recipient(i, r, wrap, keys)?,
            RecipientAlgorithm::EcdhEs(wrap) => ecdh_recipient(i, r, wrap, keys, opts)?,
            RecipientAlgorithm::Hpke(suite) => hpke_recipient(i, r, suite, content, keys, opts)?,
        };
        match attempt {
            Attempt::Opened(cek) if cek.len() == content.key_len() => return Ok(cek),
            // The recipient authenticated this key, so the sender got the length wrong.
            Attempt::Opened(cek) => {
                return Err(DecryptError::ContentKeyLength {
                    expected: content.key_len(),
                    found: cek.len(),
                })
            }
            Attempt::Failed(e) => {
                failure.get_or_insert(e);
            }
            Attempt::NoKey => {}
        }
    }
    Err(match (failure, unsupported) {
        (Some(e), _) => e,
        (None, Some(e)) if !saw_supported => e,
        _ => DecryptError::NoRecipientForKeys,
    })
}

fn unwrap_with(kek: &SecretBytes, wrap: KeyWrap, wrapped: &[u8]) -> Result<Attempt, DecryptError> {
    if kek.len() != wrap.kek_len() {
        return Err(DecryptError::DeviceKey(KeyError::WrongKeyType));
    }
    Ok(match aes_kw::unwrap(kek.as_bytes(), wrapped) {
        Ok(cek) => Attempt::Opened(cek),
        Err(_) => Attempt::Failed(DecryptError::KeyUnwrapFailed),
    })
}

fn aes_kw_recipient(
    i: usize,
    r: &Recipient,
    wrap: KeyWrap,
    keys: &dyn DeviceKeys,
) -> Result<Attempt, DecryptError> {
    // RFC 9053 §6.2.1: AES-KW has no parameters to protect.
    if !r.headers.protected_bytes.is_empty() {
        return Err(malformed(
            Location::RecipientProtected(i),
            Problem::ProtectedNotEmpty,
        ));
    }
    let mut result = Attempt::NoKey;
    for (key, named) in candidates(keys, KeyKind::AesKw(wrap), r.headers.kid()) {
        let kek = keys.kek(key).map_err(DecryptError::DeviceKey)?;
        match unwrap_with(&kek, wrap, &r.ciphertext)? {
            Attempt::Opened(cek) => return Ok(Attempt::Opened(cek)),
            other if named => result = other,
            _ => {}
        }
    }
    Ok(result)
}

fn ecdh_recipient(
    i: usize,
    r: &Recipient,
    wrap: KeyWrap,
    keys: &dyn DeviceKeys,
    opts: &CoseOptions<'_>,
) -> Result<Attempt, DecryptError> {
    let h = &r.headers;
    let epk = h.ephemeral_key().ok_or(malformed(
        Location::RecipientUnprotected(i),
        Problem::MissingHeader(header::EPHEMERAL_KEY),
    ))?;
    let sec1 = ec2_p256_point(epk, Location::EphemeralKey(i))?;
    let peer = p256::PublicKey::from_sec1_bytes(&sec1)
        .map_err(|_| DecryptError::InvalidPublicKey { recipient: i })?;
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
    let mut result = Attempt::NoKey;
    for (key, named) in candidates(keys, KeyKind::EcdhEsP256, h.kid()) {
        let z = keys.ecdh_p256(key, &peer).map_err(|e| match e {
            KeyError::InvalidPeerKey => DecryptError::InvalidPublicKey { recipient: i },
            e => DecryptError::DeviceKey(e),
        })?;
        let kek = ecdh_es::derive_kek(&z, h.salt(), &context, wrap);
        match unwrap_with(&kek, wrap, &r.ciphertext)? {
            Attempt::Opened(cek) => return Ok(Attempt::Opened(cek)),
            other if named => result = other,
            _ => {}
        }
    }
    Ok(result)
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
        ciphertext: &r.ciphertext,
        psk_id: h.protected.psk_id.as_deref(),
    };
    open_hpke(i, &op, h.kid(), keys)
}

/// Tries `op` with every matching HPKE key.
fn open_hpke(
    i: usize,
    op: &HpkeOpen<'_>,
    kid: Option<&[u8]>,
    keys: &dyn DeviceKeys,
) -> Result<Attempt, DecryptError> {
    let mut result = Attempt::NoKey;
    for (key, named) in candidates(keys, KeyKind::HpkeP256, kid) {
        match keys.hpke_open(key, op) {
            Ok(pt) => return Ok(Attempt::Opened(pt)),
            Err(KeyError::OperationFailed | KeyError::InvalidPeerKey) if !named => {}
            Err(KeyError::OperationFailed) => {
                result = Attempt::Failed(DecryptError::HpkeOpenFailed)
            }
            Err(KeyError::UnknownPsk) => result = Attempt::Failed(DecryptError::UnknownPsk),
            Err(KeyError::InvalidPeerKey) => {
                result = Attempt::Failed(DecryptError::InvalidPublicKey { recipient: i })
            }
            Err(e) => return Err(DecryptError::DeviceKey(e)),
        }
    }
    Ok(result)
}

/// Integrated mode: the HPKE open of a COSE_Encrypt0 (index 0 in errors).
pub(crate) fn open_integrated(
    op: &HpkeOpen<'_>,
    kid: Option<&[u8]>,
    keys: &dyn DeviceKeys,
) -> Result<SecretBytes, DecryptError> {
    match open_hpke(0, op, kid, keys)? {
        Attempt::Opened(pt) => Ok(pt),
        Attempt::Failed(e) => Err(e),
        Attempt::NoKey => Err(DecryptError::NoRecipientForKeys),
    }
}
