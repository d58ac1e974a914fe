//! Envelope creation for the author tool and tests (feature `author`).

use alloc::vec::Vec;

use crate::cbor::Encoder;
use crate::cose::{create_auth_block, create_cose_sign, Algorithm, CoseError, SigningKey};
use crate::registry::EnvelopeKey;
use crate::suit::digest::Digest;

/// CBOR tag of SUIT_Envelope (manifest draft §8.2).
const TAG_ENVELOPE: u64 = 107;

/// One signer of an envelope.
pub struct Signer<'k> {
    /// The key.
    pub key: &'k SigningKey,
    /// Algorithm to sign (or MAC) with.
    pub alg: Algorithm,
    /// Key id placed in the unprotected header (empty for none).
    pub kid: &'k [u8],
}

/// Wraps an encoded SUIT_Manifest into a tagged SUIT_Envelope: SHA-256 digest over the
/// bstr-wrapped manifest, one authentication block per signer, then the severed members
/// (`(label, encoded content)`, whose digests the manifest must already hold) and
/// integrated payloads.
pub fn seal_envelope(
    manifest: &[u8],
    signers: &[Signer<'_>],
    severed: &[(u8, &[u8])],
    integrated: &[(&str, &[u8])],
) -> Result<Vec<u8>, CoseError> {
    seal_envelope_as(AuthForm::Sign1, manifest, signers, severed, integrated)
}

/// How signers become SUIT_Authentication_Blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthForm {
    /// One COSE_Sign1 (or COSE_Mac0) block per signer: the default.
    Sign1,
    /// One COSE_Sign holding every signature (RFC 9052 multi-signer form); MAC signers still
    /// get a COSE_Mac0 block each.
    CoseSign,
}

/// The authentication blocks `signers` make over the encoded SUIT_Digest `digest`.
pub fn authentication_blocks(
    form: AuthForm,
    signers: &[Signer<'_>],
    digest: &[u8],
) -> Result<Vec<Vec<u8>>, CoseError> {
    let mut blocks = Vec::new();
    let mut multi = Vec::new();
    for s in signers {
        if form == AuthForm::CoseSign && !s.alg.is_mac() {
            multi.push((s.key, s.alg, s.kid));
        } else {
            blocks.push(create_auth_block(s.key, s.alg, s.kid, digest)?);
        }
    }
    if !multi.is_empty() {
        blocks.insert(0, create_cose_sign(&multi, digest)?);
    }
    Ok(blocks)
}

/// [`seal_envelope`] with the authentication blocks in `form`.
pub fn seal_envelope_as(
    form: AuthForm,
    manifest: &[u8],
    signers: &[Signer<'_>],
    severed: &[(u8, &[u8])],
    integrated: &[(&str, &[u8])],
) -> Result<Vec<u8>, CoseError> {
    let mut manifest_bstr = Encoder::new();
    manifest_bstr.bytes(manifest);
    let manifest_bstr = manifest_bstr.into_bytes();
    let digest = Digest::sha256(&manifest_bstr).encode();

    let blocks = authentication_blocks(form, signers, &digest)?;
    let mut auth = Encoder::new();
    auth.array(1 + blocks.len());
    auth.bytes(&digest);
    for block in &blocks {
        auth.bytes(block);
    }

    let mut out = Encoder::new();
    out.tag(TAG_ENVELOPE);
    out.map(2 + severed.len() + integrated.len());
    out.uint(EnvelopeKey::AuthenticationWrapper.value().unsigned_abs());
    out.bytes(&auth.into_bytes());
    out.uint(EnvelopeKey::Manifest.value().unsigned_abs());
    out.raw(&manifest_bstr);
    // Deterministic CBOR (the manifest draft's MUST): map keys in bytewise order of their
    // encodings, i.e. by label for the severed members and length-first for the text keys.
    let mut severed = severed.to_vec();
    severed.sort_by_key(|(label, _)| *label);
    let mut integrated = integrated.to_vec();
    integrated.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
    for (label, content) in &severed {
        out.uint(u64::from(*label));
        out.bytes(content);
    }
    for (key, payload) in &integrated {
        out.text(key);
        out.bytes(payload);
    }
    Ok(out.into_bytes())
}
