//! Envelope creation for the author tool and tests (feature `author`).

use alloc::vec::Vec;

use crate::cose::{create_auth_block, create_cose_sign, Algorithm, CoseError, SigningKey};
use crate::suit::component::push_header;
use crate::suit::digest::Digest;

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
    let mut manifest_bstr = Vec::new();
    push_bstr(&mut manifest_bstr, manifest);
    let digest = Digest::sha256(&manifest_bstr).encode();

    let blocks = authentication_blocks(form, signers, &digest)?;
    let mut auth = Vec::new();
    push_header(&mut auth, 4, 1 + blocks.len() as u64);
    push_bstr(&mut auth, &digest);
    for block in &blocks {
        push_bstr(&mut auth, block);
    }

    let mut out = Vec::new();
    out.extend_from_slice(&[0xd8, 107]);
    push_header(
        &mut out,
        5,
        2 + severed.len() as u64 + integrated.len() as u64,
    );
    out.push(0x02);
    push_bstr(&mut out, &auth);
    out.push(0x03);
    out.extend_from_slice(&manifest_bstr);
    // Deterministic CBOR (the manifest draft's MUST): map keys in bytewise order of their
    // encodings, i.e. by label for the severed members and length-first for the text keys.
    let mut severed = severed.to_vec();
    severed.sort_by_key(|(label, _)| *label);
    let mut integrated = integrated.to_vec();
    integrated.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
    for (label, content) in &severed {
        push_header(&mut out, 0, u64::from(*label));
        push_bstr(&mut out, content);
    }
    for (key, payload) in &integrated {
        push_header(&mut out, 3, key.len() as u64);
        out.extend_from_slice(key.as_bytes());
        push_bstr(&mut out, payload);
    }
    Ok(out)
}

fn push_bstr(out: &mut Vec<u8>, data: &[u8]) {
    push_header(out, 2, data.len() as u64);
    out.extend_from_slice(data);
}
