//! `suit-author sign`: adds authentication blocks (signatures or MACs) to an existing envelope,
//! so signing can be a separate step (an unsigned `create --unsigned`, then an author's and an
//! operator's signature, each with their own key). The manifest is not touched: a new block
//! signs the digest already in the authentication wrapper, after checking that digest. Only
//! the authentication wrapper is rewritten (suit-cbor's encoder); every other member keeps
//! its bytes.

use suit_common::cbor::{Decoder, Encoder};
use suit_common::registry::EnvelopeKey;
use suit_common::suit::author::{authentication_blocks, Members};
use suit_common::suit::{Digest, Envelope};

use super::create::{auth_form, author_anchors, load_signers, signer_refs, SignOptions};
use super::{AuthorError, Result};

/// Most authentication blocks an envelope may carry after signing.
pub const MAX_BLOCKS: usize = 8;

/// Refuses (before any key is opened: a stateful key's signature is spent once made) keys
/// that would give an envelope with `existing` blocks more than [`MAX_BLOCKS`]: COSE_Sign
/// puts every signature into one block, MACs keep a COSE_Mac0 each. `create` and `sign`
/// count alike.
pub fn check_block_count(existing: usize, sign: &SignOptions) -> Result<()> {
    let (signatures, macs) = (sign.sign_keys.len(), sign.hmac_keys.len());
    let adding = if sign.cose_sign {
        macs + usize::from(signatures > 0)
    } else {
        signatures + macs
    };
    if existing + adding > MAX_BLOCKS {
        return Err(AuthorError::Usage(format!(
            "an envelope carries at most {MAX_BLOCKS} authentication blocks ({} asked: {signatures} \
             --sign-key, {macs} --hmac-key{}{})",
            existing + adding,
            if sign.cose_sign {
                ", the signatures in one COSE_Sign"
            } else {
                ""
            },
            if existing > 0 {
                format!(", {existing} already there")
            } else {
                String::new()
            }
        )));
    }
    Ok(())
}

/// Returns `envelope` with one more authentication block per key in `sign`.
pub fn sign_envelope(envelope: &[u8], sign: &SignOptions) -> Result<Vec<u8>> {
    sign_envelope_noted(envelope, sign).map(|(signed, _)| signed)
}

/// [`sign_envelope`], and one line per HSS-LMS key that signed (its state now on disk).
pub fn sign_envelope_noted(envelope: &[u8], sign: &SignOptions) -> Result<(Vec<u8>, Vec<String>)> {
    sign_envelope_counted(envelope, sign).map(|s| (s.envelope, s.notes))
}

/// What [`sign_envelope_counted`] made.
pub struct Signed {
    /// The envelope with the new blocks.
    pub envelope: Vec<u8>,
    /// One line per HSS-LMS key that signed (its state now on disk).
    pub notes: Vec<String>,
    /// How many authentication blocks were added (one COSE_Sign holds every signature with
    /// `--cose-sign`).
    pub added: usize,
}

/// [`sign_envelope_noted`], with the number of blocks added.
pub fn sign_envelope_counted(envelope: &[u8], sign: &SignOptions) -> Result<Signed> {
    if sign.sign_keys.is_empty() && sign.hmac_keys.is_empty() {
        return Err(AuthorError::Usage(
            "sign needs at least one --sign-key or --hmac-key".into(),
        ));
    }
    let refused = |what: &str| AuthorError::Refused(format!("cannot sign: {what}"));
    let mut members =
        Members::decode(envelope).map_err(|e| refused(&super::explain::not_an_envelope(&e)))?;
    let manifest = members
        .get(EnvelopeKey::Manifest.value())
        .filter(|v| suit_common::suit::author::content_of(v).is_some())
        .ok_or_else(|| refused("the envelope has no manifest"))?;
    // The digest the manifest has (over its bstr as the envelope carries it).
    let manifest_digest = Digest::sha256(manifest).encode();
    let auth = members
        .bstr(EnvelopeKey::AuthenticationWrapper)
        .ok_or_else(|| refused("the envelope has no authentication wrapper"))?;
    let mut d = Decoder::new(auth);
    let count = d
        .array()
        .map_err(|_| refused("the authentication wrapper is not an array"))?;
    let digest = d
        .bytes()
        .map_err(|_| refused("the authentication wrapper has no digest"))?
        .to_vec();
    // The blocks already there, as they are encoded.
    let mut blocks = Vec::new();
    for _ in 1..count {
        blocks.push(
            d.skip()
                .map_err(|_| refused("the authentication wrapper is not an array"))?,
        );
    }
    if d.finish().is_err() {
        return Err(refused("the authentication wrapper is not an array"));
    }
    // The digest must be the manifest's: signing a digest of something else helps nobody.
    if manifest_digest != digest {
        return Err(refused(
            "the manifest does not match the digest in the authentication wrapper",
        ));
    }
    check_block_count(blocks.len(), sign)?;
    let signers = load_signers(sign)?;
    let new_blocks = authentication_blocks(auth_form(sign), &signer_refs(&signers.keys), &digest)
        .map_err(|e| signers.signing_failed(e))?;
    let mut wrapper = Encoder::new();
    wrapper.array(1 + blocks.len() + new_blocks.len());
    wrapper.bytes(&digest);
    for block in blocks {
        wrapper.raw(block);
    }
    for block in &new_blocks {
        wrapper.bytes(block);
    }
    members.set_bstr(EnvelopeKey::AuthenticationWrapper, &wrapper.into_bytes());
    let out = members.encode();

    // Self-check: every new block verifies with its key, through the device's engine.
    let anchors = author_anchors(&signers.keys);
    let env = Envelope::decode(&out).map_err(|e| {
        AuthorError::Create(format!("self-check failed: {}", super::explain::error(&e)))
    })?;
    let auth = env.authenticate(&anchors).map_err(|e| {
        AuthorError::Create(format!("self-check failed: {}", super::explain::error(&e)))
    })?;
    if auth.signers.len() < anchors.len() {
        return Err(AuthorError::Create(
            "self-check failed: not every new block verifies".into(),
        ));
    }
    Ok(Signed {
        envelope: out,
        notes: signers.notes(),
        added: new_blocks.len(),
    })
}
