//! `suit-author sign`: adds authentication blocks (signatures or MACs) to an existing envelope,
//! so signing can be a separate step (an unsigned `create --unsigned`, then an author's and an
//! operator's signature, each with their own key). The manifest is not touched: a new block
//! signs the digest already in the authentication wrapper, after checking that digest.

use ciborium::value::Value;

use suit_common::suit::author::{authentication_blocks, Signer};
use suit_common::suit::policy::{Permissions, Role, TrustAnchor};
use suit_common::suit::{Digest, Envelope};

use super::create::{auth_form, load_signers, SignOptions};
use super::{AuthorError, Result};

/// Most authentication blocks an envelope may carry after signing.
pub const MAX_BLOCKS: usize = 8;

/// Returns `envelope` with one more authentication block per key in `sign`.
pub fn sign_envelope(envelope: &[u8], sign: &SignOptions) -> Result<Vec<u8>> {
    let refused = |what: &str| AuthorError::Refused(format!("cannot sign: {what}"));
    let value = super::inspect::decode_one(envelope).map_err(|e| refused(&e))?;
    let (tagged, inner) = match value {
        Value::Tag(107, inner) => (true, *inner),
        Value::Tag(t, _) => return Err(refused(&format!("CBOR tag {t} is not an envelope (107)"))),
        other => (false, other),
    };
    let Value::Map(mut members) = inner else {
        return Err(refused("not a SUIT_Envelope (map)"));
    };
    let label =
        |v: &Value, n: i64| matches!(v, Value::Integer(i) if i128::from(*i) == i128::from(n));
    let manifest = members
        .iter()
        .find_map(|(k, v)| match v {
            Value::Bytes(b) if label(k, 3) => Some(b.clone()),
            _ => None,
        })
        .ok_or_else(|| refused("the envelope has no manifest"))?;
    let auth_at = members
        .iter()
        .position(|(k, v)| label(k, 2) && matches!(v, Value::Bytes(_)))
        .ok_or_else(|| refused("the envelope has no authentication wrapper"))?;
    let Value::Bytes(auth) = &members[auth_at].1 else {
        return Err(refused("the authentication wrapper is not a byte string"));
    };
    let Ok(Value::Array(mut items)) = super::inspect::decode_one(auth) else {
        return Err(refused("the authentication wrapper is not an array"));
    };
    let Some(Value::Bytes(digest)) = items.first().cloned() else {
        return Err(refused("the authentication wrapper has no digest"));
    };
    // The digest must be the manifest's: signing a digest of something else helps nobody.
    let mut manifest_bstr = Vec::new();
    ciborium::ser::into_writer(&Value::Bytes(manifest), &mut manifest_bstr)
        .map_err(|_| refused("encoding"))?;
    if Digest::sha256(&manifest_bstr).encode() != digest {
        return Err(refused(
            "the manifest does not match the digest in the authentication wrapper",
        ));
    }
    let signers = load_signers(sign)?;
    if items.len() - 1 + signers.len() > MAX_BLOCKS {
        return Err(AuthorError::Usage(format!(
            "an envelope carries at most {MAX_BLOCKS} authentication blocks"
        )));
    }
    let refs: Vec<Signer<'_>> = signers
        .iter()
        .map(|(key, alg, kid)| Signer {
            key,
            alg: *alg,
            kid,
        })
        .collect();
    let blocks = authentication_blocks(auth_form(sign), &refs, &digest)
        .map_err(|e| AuthorError::Create(format!("signing failed: {e}")))?;
    for block in blocks {
        items.push(Value::Bytes(block));
    }
    let mut auth = Vec::new();
    ciborium::ser::into_writer(&Value::Array(items), &mut auth).map_err(|_| refused("encoding"))?;
    members[auth_at].1 = Value::Bytes(auth);
    let map = Value::Map(members);
    let out_value = if tagged {
        Value::Tag(107, Box::new(map))
    } else {
        map
    };
    let mut out = Vec::new();
    ciborium::ser::into_writer(&out_value, &mut out).map_err(|_| refused("encoding"))?;

    // Self-check: every new block verifies with its key, through the device's engine.
    let anchors: Vec<TrustAnchor> = signers
        .iter()
        .zip(1u32..)
        .map(|((k, _, _), id)| TrustAnchor {
            id,
            kid: Vec::new(),
            key: k.verification_key(),
            role: Role::Author,
            permissions: Permissions::everything(),
        })
        .collect();
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
    Ok(out)
}
