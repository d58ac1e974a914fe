//! `suit-author sever` / `unsever` (suit-tool's terms): severable members (manifest-37 §8.4.5,
//! trust domains, update management's CoSWID: those [`EnvelopeKey::is_severable`] names)
//! whose digests the manifest holds can leave the envelope and come back. Neither touches
//! the manifest, so every signature stays valid; `unsever` puts a member back only if its
//! digest is the one the manifest holds, so a tampered file is refused by the author tool
//! before a device would refuse it.

use suit_common::cbor::{Decoder, Encoder, Item};
use suit_common::registry::{CoseAlg, EnvelopeKey};
use suit_common::suit::author::{bstr, content_of, Members};
use suit_common::suit::Digest;

use super::{AuthorError, Result};

/// The severable members, as the registry marks them (so the tool cannot fall behind the
/// engine, which accepts exactly these in an envelope).
fn severable_keys() -> impl Iterator<Item = EnvelopeKey> {
    EnvelopeKey::ALL
        .iter()
        .copied()
        .filter(|k| k.is_severable())
}

/// Every severable member's name without `suit-`, for the help and usage messages.
pub fn names() -> String {
    severable_keys()
        .map(EnvelopeKey::short_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--member`'s help: the names come from the registry, not from a list written here.
pub fn member_help() -> String {
    format!(
        "Member to sever: {}. Repeatable; default: every one the envelope carries",
        names()
    )
}

/// The severable member under `label`.
fn key_of(label: u8) -> Option<EnvelopeKey> {
    EnvelopeKey::from_value(i64::from(label)).filter(|k| k.is_severable())
}

/// A member's name from its label.
pub fn name_of(label: u8) -> &'static str {
    key_of(label).map_or("unknown", EnvelopeKey::short_name)
}

/// A member's label from its name (`install`, `suit-install`) or number.
pub fn label_of(name: &str) -> Option<u8> {
    let n = name.strip_prefix("suit-").unwrap_or(name);
    severable_keys()
        .find(|k| k.short_name() == n || k.value().to_string() == n)
        .and_then(|k| u8::try_from(k.value()).ok())
}

/// One severed member: its label and its content (the CBOR inside the envelope's bstr).
#[derive(Debug, Clone)]
pub struct Member {
    pub label: u8,
    pub content: Vec<u8>,
}

struct Parsed {
    envelope: Members,
    /// label -> the SHA-256 the manifest holds for the bstr-wrapped member.
    digests: Vec<(u8, Vec<u8>)>,
}

/// A member's label if it is a severable one.
fn severable(key: &[u8]) -> Option<u8> {
    let label = Members::label_of(key).and_then(|l| u8::try_from(l).ok())?;
    key_of(label).map(|_| label)
}

fn parse(envelope: &[u8]) -> Result<Parsed> {
    let refused = |what: &str| AuthorError::Refused(format!("not a usable envelope: {what}"));
    let envelope =
        Members::decode(envelope).map_err(|e| refused(&super::explain::not_an_envelope(&e)))?;
    let manifest = envelope
        .bstr(EnvelopeKey::Manifest)
        .ok_or_else(|| refused("the envelope has no manifest"))?;
    let not_a_map = || refused("the manifest is not a map");
    suit_common::cbor::check_well_formed(manifest).map_err(|_| not_a_map())?;
    let mut m = Decoder::new(manifest);
    let count = m.map().map_err(|_| not_a_map())?;
    let mut digests = Vec::new();
    for _ in 0..count {
        let key = m.skip().map_err(|_| not_a_map())?;
        let value = m.skip().map_err(|_| not_a_map())?;
        let Some(label) = severable(key) else {
            continue;
        };
        // Severed form: SUIT_Digest = [algorithm, bytes]; otherwise the member is inline.
        if !matches!(Decoder::new(value).peek(), Ok(Item::Array(_))) {
            continue;
        }
        let mut d = Decoder::new(value);
        match (d.array(), d.int(), d.bytes(), d.finish()) {
            (Ok(2), Ok(alg), Ok(bytes), Ok(())) if alg == CoseAlg::Sha256.value() => {
                digests.push((label, bytes.to_vec()))
            }
            _ => {
                return Err(refused(&format!(
                    "the manifest's digest of suit-{} is not a SHA-256 SUIT_Digest",
                    name_of(label)
                )))
            }
        }
    }
    Ok(Parsed { envelope, digests })
}

/// SHA-256 over the bstr-wrapped content, as the manifest's digest of a severed member covers.
fn member_digest(content: &[u8]) -> Vec<u8> {
    Digest::sha256(&bstr(content)).0.to_vec()
}

/// Removes the severed members `which` (all the envelope carries when empty) and returns the
/// envelope without them and the removed members. Each removed member is checked against the
/// manifest's digest first: a member that does not match is refused, not written out.
pub fn sever(envelope: &[u8], which: &[u8]) -> Result<(Vec<u8>, Vec<Member>)> {
    let p = parse(envelope)?;
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for (k, v) in p.envelope.members {
        match (severable(&k), content_of(&v)) {
            (Some(l), Some(content)) if which.is_empty() || which.contains(&l) => {
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
                    content: content.to_vec(),
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
        // A manifest holding members' digests was made severable: they are severed already.
        return Err(AuthorError::Refused(if p.digests.is_empty() {
            "the envelope carries no severable member (create it with --severable)".into()
        } else {
            format!(
                "the envelope carries no severable member: already severed ({}: the \
                 manifest holds the digest, the envelope does not carry the member)",
                p.digests
                    .iter()
                    .map(|(l, _)| format!("suit-{}", name_of(*l)))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        }));
    }
    let envelope = Members {
        tagged: p.envelope.tagged,
        members: kept,
    };
    Ok((envelope.encode(), removed))
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
            // Another of the tools' formats (a key, a report, the envelope itself) is a
            // mistaken argument, named as such (exit 2), not a member that was modified.
            if let Some(found) = crate::detect::detect(content)
                .filter(|f| *f != crate::detect::Format::SeveredMember)
            {
                return Err(AuthorError::Usage(format!(
                    "--member {name}: this is {}, not a severed member (`suit-author sever` \
                     writes them: suit-install.cbor, ...)",
                    found.name()
                )));
            }
            return Err(AuthorError::Refused(format!(
                "{name}: matches no digest of a severed member in the manifest (modified, or for another manifest)"
            )));
        };
        let label = *label;
        // The same member given twice (under one name or two): named so, not as a member
        // the envelope carried.
        if let Some((first, _)) = members
            .iter()
            .zip(&restored)
            .find_map(|((n, _), l)| (*l == label).then_some((n, l)))
        {
            return Err(AuthorError::Usage(format!(
                "{name}: suit-{} is given twice (also as {first}); give each member once",
                name_of(label)
            )));
        }
        if p.envelope.get(i64::from(label)).is_some() {
            return Err(AuthorError::Refused(format!(
                "the envelope already carries suit-{}",
                name_of(label)
            )));
        }
        let mut key = Encoder::new();
        key.uint(u64::from(label));
        p.envelope.members.push((key.into_bytes(), bstr(content)));
        restored.push(label);
    }
    p.envelope.sort();
    Ok((p.envelope.encode(), restored))
}

/// The file name a severed member is written under: `suit-<name>.cbor`.
pub fn file_name(label: u8) -> String {
    format!("suit-{}.cbor", name_of(label))
}
