//! `suit-author sever` / `unsever` (suit-tool's terms): severable members (draft-ietf-suit-
//! manifest-37 §8.4.5: dependency resolution, payload fetch, candidate verification, install,
//! text) whose digests the manifest holds can leave the envelope and come back. Neither touches
//! the manifest, so every signature stays valid; `unsever` puts a member back only if its
//! digest is the one the manifest holds, so a tampered file is refused by the author tool
//! before a device would refuse it.

use ciborium::value::Value;

use suit_common::registry::{CoseAlg, EnvelopeKey};
use suit_common::suit::Digest;

use super::{AuthorError, Result};

/// The severable members: label and name (the member's name in the draft without `suit-`).
pub const SEVERABLE: [(u8, &str); 5] = [
    entry(EnvelopeKey::DependencyResolution),
    entry(EnvelopeKey::PayloadFetch),
    entry(EnvelopeKey::CandidateVerification),
    entry(EnvelopeKey::Install),
    entry(EnvelopeKey::Text),
];

/// A member's label and its registry name without `suit-`.
const fn entry(key: EnvelopeKey) -> (u8, &'static str) {
    let (_, short) = key.name().split_at("suit-".len());
    (key.value() as u8, short)
}

/// A member's name from its label.
pub fn name_of(label: u8) -> &'static str {
    SEVERABLE
        .iter()
        .find(|(l, _)| *l == label)
        .map_or("unknown", |(_, n)| n)
}

/// A member's label from its name (`install`, `suit-install`) or number.
pub fn label_of(name: &str) -> Option<u8> {
    let n = name.strip_prefix("suit-").unwrap_or(name);
    SEVERABLE
        .iter()
        .find(|(l, s)| *s == n || l.to_string() == n)
        .map(|(l, _)| *l)
}

/// One severed member: its label and its content (the CBOR inside the envelope's bstr).
#[derive(Debug, Clone)]
pub struct Member {
    pub label: u8,
    pub content: Vec<u8>,
}

struct Parsed {
    tagged: bool,
    members: Vec<(Value, Value)>,
    /// label -> the SHA-256 the manifest holds for the bstr-wrapped member.
    digests: Vec<(u8, Vec<u8>)>,
}

fn int_label(v: &Value) -> Option<i128> {
    match v {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

fn parse(envelope: &[u8]) -> Result<Parsed> {
    let refused = |what: &str| AuthorError::Refused(format!("not a usable envelope: {what}"));
    let value = super::inspect::decode_one(envelope).map_err(|e| refused(&e))?;
    let (tagged, inner) = match value {
        Value::Tag(107, inner) => (true, *inner),
        Value::Tag(t, _) => return Err(refused(&format!("CBOR tag {t} is not an envelope (107)"))),
        other => (false, other),
    };
    let Value::Map(members) = inner else {
        return Err(refused("not a SUIT_Envelope (map)"));
    };
    let manifest = members
        .iter()
        .find_map(|(k, v)| match v {
            Value::Bytes(b) if int_label(k) == Some(3) => Some(b.clone()),
            _ => None,
        })
        .ok_or_else(|| refused("the envelope has no manifest"))?;
    let Ok(Value::Map(m)) = super::inspect::decode_one(&manifest) else {
        return Err(refused("the manifest is not a map"));
    };
    let mut digests = Vec::new();
    for (k, v) in &m {
        let Some(label) = int_label(k).and_then(|l| u8::try_from(l).ok()) else {
            continue;
        };
        if !SEVERABLE.iter().any(|(l, _)| *l == label) {
            continue;
        }
        // Severed form: SUIT_Digest = [algorithm, bytes]; otherwise the member is inline.
        if let Value::Array(d) = v {
            match d.as_slice() {
                [Value::Integer(alg), Value::Bytes(bytes)]
                    if i128::from(*alg) == i128::from(CoseAlg::Sha256.value()) =>
                {
                    digests.push((label, bytes.clone()))
                }
                _ => {
                    return Err(refused(&format!(
                        "the manifest's digest of suit-{} is not a SHA-256 SUIT_Digest",
                        name_of(label)
                    )))
                }
            }
        }
    }
    Ok(Parsed {
        tagged,
        members,
        digests,
    })
}

/// SHA-256 over the bstr-wrapped content, as the manifest's digest of a severed member covers.
fn member_digest(content: &[u8]) -> Vec<u8> {
    let mut wrapped = Vec::new();
    let _ = ciborium::ser::into_writer(&Value::Bytes(content.to_vec()), &mut wrapped);
    Digest::sha256(&wrapped).0.to_vec()
}

/// Deterministic order of envelope keys (manifest draft: core deterministic encoding):
/// integers by value, then text keys shorter first, then bytewise.
fn sort_members(members: &mut [(Value, Value)]) {
    members.sort_by(|(a, _), (b, _)| match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => i128::from(*x).cmp(&i128::from(*y)),
        (Value::Integer(_), _) => std::cmp::Ordering::Less,
        (_, Value::Integer(_)) => std::cmp::Ordering::Greater,
        (Value::Text(x), Value::Text(y)) => (x.len(), x.as_bytes()).cmp(&(y.len(), y.as_bytes())),
        _ => std::cmp::Ordering::Equal,
    });
}

fn encode(tagged: bool, members: Vec<(Value, Value)>) -> Result<Vec<u8>> {
    let map = Value::Map(members);
    let v = if tagged {
        Value::Tag(107, Box::new(map))
    } else {
        map
    };
    let mut out = Vec::new();
    ciborium::ser::into_writer(&v, &mut out)
        .map_err(|e| AuthorError::Create(format!("encoding the envelope: {e}")))?;
    Ok(out)
}

/// Removes the severed members `which` (all the envelope carries when empty) and returns the
/// envelope without them and the removed members. Each removed member is checked against the
/// manifest's digest first: a member that does not match is refused, not written out.
pub fn sever(envelope: &[u8], which: &[u8]) -> Result<(Vec<u8>, Vec<Member>)> {
    let p = parse(envelope)?;
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for (k, v) in p.members {
        let label = int_label(&k).and_then(|l| u8::try_from(l).ok());
        match (label, &v) {
            (Some(l), Value::Bytes(content))
                if SEVERABLE.iter().any(|(s, _)| *s == l)
                    && (which.is_empty() || which.contains(&l)) =>
            {
                let Some((_, expected)) = p.digests.iter().find(|(d, _)| *d == l) else {
                    return Err(AuthorError::Refused(format!(
                        "the envelope carries suit-{} but the manifest holds it inline (not severable)",
                        name_of(l)
                    )));
                };
                if member_digest(content) != *expected {
                    return Err(AuthorError::Refused(format!(
                        "suit-{} in the envelope does not match its digest in the manifest (modified)",
                        name_of(l)
                    )));
                }
                removed.push(Member {
                    label: l,
                    content: content.clone(),
                });
            }
            _ => kept.push((k, v)),
        }
    }
    for l in which {
        if !removed.iter().any(|m| m.label == *l) {
            return Err(AuthorError::Refused(format!(
                "the envelope does not carry suit-{}{}",
                name_of(*l),
                if p.digests.iter().any(|(d, _)| d == l) {
                    " (already severed)"
                } else {
                    " (the manifest holds it inline or not at all: create it with --severable)"
                }
            )));
        }
    }
    if removed.is_empty() {
        return Err(AuthorError::Refused(
            "the envelope carries no severable member (create it with --severable)".into(),
        ));
    }
    Ok((encode(p.tagged, kept)?, removed))
}

/// Puts members back: each file's content must hash to the digest the manifest holds for one
/// severed member (its label is found that way), which the envelope does not carry yet.
/// `members`: (name for messages, content).
pub fn unsever(envelope: &[u8], members: &[(String, Vec<u8>)]) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut p = parse(envelope)?;
    let mut restored = Vec::new();
    for (name, content) in members {
        let d = member_digest(content);
        let Some((label, _)) = p.digests.iter().find(|(_, e)| *e == d) else {
            return Err(AuthorError::Refused(format!(
                "{name}: matches no digest of a severed member in the manifest (modified, or for another manifest)"
            )));
        };
        let label = *label;
        if p.members
            .iter()
            .any(|(k, _)| int_label(k) == Some(i128::from(label)))
        {
            return Err(AuthorError::Refused(format!(
                "the envelope already carries suit-{}",
                name_of(label)
            )));
        }
        p.members
            .push((Value::from(u64::from(label)), Value::Bytes(content.clone())));
        restored.push(label);
    }
    sort_members(&mut p.members);
    Ok((encode(p.tagged, p.members)?, restored))
}

/// The file name a severed member is written under: `suit-<name>.cbor`.
pub fn file_name(label: u8) -> String {
    format!("suit-{}.cbor", name_of(label))
}
