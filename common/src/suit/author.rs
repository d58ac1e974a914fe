//! Envelope creation for the author tool and tests (feature `author`).

use alloc::vec::Vec;

use crate::cbor::{CborError, Decoder, Encoder};
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
    let manifest_bstr = bstr(manifest);
    let digest = Digest::sha256(&manifest_bstr).encode();

    let blocks = authentication_blocks(form, signers, &digest)?;
    let mut auth = Encoder::new();
    auth.array(1 + blocks.len());
    auth.bytes(&digest);
    for block in &blocks {
        auth.bytes(block);
    }

    let mut envelope = Members {
        tagged: true,
        members: Vec::with_capacity(2 + severed.len() + integrated.len()),
    };
    envelope.set_bstr(EnvelopeKey::AuthenticationWrapper, &auth.into_bytes());
    envelope.members.push((
        label(EnvelopeKey::Manifest.value().unsigned_abs()),
        manifest_bstr,
    ));
    for (key, content) in severed {
        envelope
            .members
            .push((label(u64::from(*key)), bstr(content)));
    }
    for (key, payload) in integrated {
        let mut k = Encoder::new();
        k.text(key);
        envelope.members.push((k.into_bytes(), bstr(payload)));
    }
    envelope.sort();
    Ok(envelope.encode())
}

/// An envelope's members as they are encoded, for the tools that add, replace or remove one
/// (`create`, `sign`, `sever`, `unsever`) and must leave every other byte as it was: one
/// reader and one writer of the envelope map instead of one per tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    /// Whether the envelope carries the SUIT_Envelope tag (107).
    pub tagged: bool,
    /// (encoded key, encoded value), in the order read or pushed.
    pub members: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Members {
    /// Reads a SUIT_Envelope map (tagged or not) under suit-cbor's rules: well-formed,
    /// definite lengths, no duplicate keys, nothing after it. Another tag than 107 is
    /// [`CborErrorKind::UnexpectedTag`](crate::cbor::CborErrorKind::UnexpectedTag).
    pub fn decode(bytes: &[u8]) -> Result<Self, CborError> {
        crate::cbor::check_well_formed(bytes)?;
        let mut d = Decoder::new(bytes);
        let tagged = d.optional_tag(TAG_ENVELOPE)?;
        let n = d.map()?;
        let mut members = Vec::new();
        for _ in 0..n {
            let key = d.skip()?.to_vec();
            members.push((key, d.skip()?.to_vec()));
        }
        d.finish()?;
        Ok(Self { tagged, members })
    }

    /// The integer label of an encoded key (`None` for a text or other key).
    pub fn label_of(key: &[u8]) -> Option<i64> {
        let mut d = Decoder::new(key);
        d.int().ok().filter(|_| d.is_empty())
    }

    /// The encoded value under the integer label `key`.
    pub fn get(&self, key: i64) -> Option<&[u8]> {
        self.members
            .iter()
            .find(|(k, _)| Self::label_of(k) == Some(key))
            .map(|(_, v)| v.as_slice())
    }

    /// The content of the byte string under `key` (`None` if absent or not a byte string).
    pub fn bstr(&self, key: EnvelopeKey) -> Option<&[u8]> {
        content_of(self.get(key.value())?)
    }

    /// Replaces the value under `key` with a byte string holding `content`, in place; appends
    /// the member if the envelope has none.
    pub fn set_bstr(&mut self, key: EnvelopeKey, content: &[u8]) {
        let value = bstr(content);
        match self
            .members
            .iter_mut()
            .find(|(k, _)| Self::label_of(k) == Some(key.value()))
        {
            Some(member) => member.1 = value,
            None => self
                .members
                .push((label(key.value().unsigned_abs()), value)),
        }
    }

    /// Orders the members as deterministic CBOR requires (the manifest draft's MUST): keys in
    /// bytewise order of their encodings (integer labels by value, then text keys
    /// shorter first).
    pub fn sort(&mut self) {
        self.members.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// The envelope: the tag if it had one, then the map with every member as it is held.
    pub fn encode(&self) -> Vec<u8> {
        let len = self
            .members
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
        let mut out = Encoder::with_capacity(len + 12);
        if self.tagged {
            out.tag(TAG_ENVELOPE);
        }
        out.map(self.members.len());
        for (key, value) in &self.members {
            out.raw(key).raw(value);
        }
        out.into_bytes()
    }
}

/// The content of an encoded byte string (`None` if `encoded` is anything else).
pub fn content_of(encoded: &[u8]) -> Option<&[u8]> {
    let mut d = Decoder::new(encoded);
    d.bytes().ok().filter(|_| d.is_empty())
}

/// `content` encoded as a byte string: what a severed member's digest and the manifest's
/// digest are computed over.
pub fn bstr(content: &[u8]) -> Vec<u8> {
    let mut e = Encoder::with_capacity(content.len() + 9);
    e.bytes(content);
    e.into_bytes()
}

fn label(value: u64) -> Vec<u8> {
    let mut e = Encoder::new();
    e.uint(value);
    e.into_bytes()
}
