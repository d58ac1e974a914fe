//! Algorithms the TA's default build does not have (ta/Cargo.toml, CONFORMANCE.md "Algorithm
//! features") while the host's in-process service does (its `suit-common` is built with them):
//! `suit-author verify --process` and the agent's simulator (`--tee sim`) both run that
//! service, so both name what a run needs from this one list, and accept it only where the
//! user says the target TA has it (`--ta-features`, `--sim-ta-features`). Ed25519 is screened
//! by the anchors, never by an envelope's signatures: a TA without it skips such a signature
//! and accepts the envelope if another verifies (manifest-37 §8.3's algorithm migration), and
//! it holds no Ed25519 anchor to verify one with. Encryption info is read from the structure
//! only, nothing verified; errs towards naming the feature (encryption info in a branch a run
//! would not take still counts).

use ciborium::value::Value;

use crate::detect::decode_one;

/// An algorithm feature the TA's default build does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaFeature {
    /// Ed25519 / EdDSA signatures (COSE -19 / -8): TA feature `ed25519`, off by default.
    Ed25519,
    /// ChaCha20/Poly1305 payload decryption (COSE 24): never in this repository's TA.
    Chacha20,
}

/// COSE algorithm id of ChaCha20/Poly1305.
const CHACHA20_ALG: i64 = 24;

impl TaFeature {
    /// The name `--ta-features` / `--sim-ta-features` takes.
    pub fn name(self) -> &'static str {
        match self {
            TaFeature::Ed25519 => "ed25519",
            TaFeature::Chacha20 => "chacha20",
        }
    }

    /// The feature of `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [TaFeature::Ed25519, TaFeature::Chacha20]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// The features a comma-separated option (`option`, for the error) names.
    pub fn parse_list(names: &[String], option: &str) -> Result<Vec<Self>, String> {
        names
            .iter()
            .map(|n| {
                Self::parse(n.trim())
                    .ok_or_else(|| format!("{option} {n}: expected ed25519 or chacha20"))
            })
            .collect()
    }

    /// What it is, in words.
    pub fn algorithm(self) -> &'static str {
        match self {
            TaFeature::Ed25519 => {
                "Ed25519 signatures (EdDSA, COSE -19/-8; TA feature ed25519, off by default)"
            }
            TaFeature::Chacha20 => {
                "ChaCha20/Poly1305 payload encryption (COSE 24; the TA never decrypts it)"
            }
        }
    }
}

/// What an envelope (or a file a run fetched) needs of its own: ChaCha20/Poly1305 encryption
/// info (alg in either header bucket, as the engine takes it), also an integrated
/// dependency's. Its Ed25519 signatures need nothing: see [`anchors_need`].
pub fn envelope_needs(bytes: &[u8]) -> Vec<TaFeature> {
    let Ok(v) = decode_one(bytes) else {
        return Vec::new();
    };
    if uses_alg(&v, &[96, 16], CHACHA20_ALG, 0) {
        vec![TaFeature::Chacha20]
    } else {
        Vec::new()
    }
}

/// What a device holding these anchors (COSE_Keys) needs for any install: a TA without
/// Ed25519 cannot read its stored policy while it holds an Ed25519 anchor, and refuses every
/// install until the TPA removes it (README "Algorithm features").
pub fn anchors_need<'a>(cose_keys: impl IntoIterator<Item = &'a [u8]>) -> Vec<TaFeature> {
    if cose_keys.into_iter().any(is_ed25519_key) {
        vec![TaFeature::Ed25519]
    } else {
        Vec::new()
    }
}

/// Whether a provisioning message adds an Ed25519 anchor: a TA without the feature refuses
/// the whole message.
pub fn message_needs(bytes: &[u8]) -> Vec<TaFeature> {
    use suit_common::service::provision::Op;
    let Some(body) = crate::detect::message_body(bytes) else {
        return Vec::new();
    };
    anchors_need(body.ops.iter().filter_map(|op| match op {
        Op::AddAnchor(a) => Some(a.cose_key.as_slice()),
        _ => None,
    }))
}

/// Whether a COSE_Key is an Ed25519 public key.
pub fn is_ed25519_key(cose_key: &[u8]) -> bool {
    use suit_common::cose::{KeyMaterial, VerificationKey};
    VerificationKey::from_cose_key(cose_key)
        .is_ok_and(|(k, _)| matches!(k.material(), KeyMaterial::Ed25519(_)))
}

/// The integer `alg` (label 1) of a COSE header map.
fn header_alg(h: &Value) -> Option<i128> {
    match h {
        Value::Map(m) => m.iter().find_map(|(k, v)| match (k, v) {
            (Value::Integer(k), Value::Integer(v)) if i128::from(*k) == 1 => Some(i128::from(*v)),
            _ => None,
        }),
        _ => None,
    }
}

/// Whether a COSE structure's `[protected, unprotected, ...]` names `alg` in either bucket.
fn names_alg(items: &[Value], alg: i64) -> bool {
    let protected = match items.first() {
        Some(Value::Bytes(p)) => decode_one(p).ok().and_then(|h| header_alg(&h)),
        _ => None,
    };
    let unprotected = items.get(1).and_then(header_alg);
    let wanted = Some(i128::from(alg));
    protected == wanted || unprotected == wanted
}

/// Whether `v` holds a COSE structure tagged one of `tags` whose `alg` is `alg`, looking into
/// byte strings that hold CBOR (SUIT's wrapped structures), bounded in depth.
fn uses_alg(v: &Value, tags: &[u64], alg: i64, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match v {
        Value::Tag(t, inner) if tags.contains(t) => {
            let found = matches!(inner.as_ref(), Value::Array(a) if names_alg(a, alg));
            found || uses_alg(inner, tags, alg, depth + 1)
        }
        Value::Tag(_, inner) => uses_alg(inner, tags, alg, depth + 1),
        Value::Array(a) => a.iter().any(|x| uses_alg(x, tags, alg, depth + 1)),
        Value::Map(m) => m
            .iter()
            .any(|(k, x)| uses_alg(k, tags, alg, depth + 1) || uses_alg(x, tags, alg, depth + 1)),
        Value::Bytes(b) if b.len() > 1 && b.first().is_some_and(|h| matches!(h >> 5, 4..=6)) => {
            decode_one(b).is_ok_and(|inner| uses_alg(&inner, tags, alg, depth + 1))
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    /// A manifest-like map holding, bstr-wrapped, a COSE_Encrypt (tag 96) whose `alg` is in
    /// the unprotected bucket only (the engine takes it from there too).
    pub(crate) fn unprotected_alg(alg: i64) -> Vec<u8> {
        let info = Value::Tag(
            96,
            Box::new(Value::Array(vec![
                Value::Bytes(Vec::new()),
                Value::Map(vec![
                    (Value::Integer(1.into()), Value::Integer(alg.into())),
                    (Value::Integer(5.into()), Value::Bytes(vec![0; 12])),
                ]),
                Value::Null,
                Value::Array(Vec::new()),
            ])),
        );
        cbor(&Value::Map(vec![(
            Value::Integer(19.into()),
            Value::Bytes(cbor(&info)),
        )]))
    }

    // Review s27 (host tools 2), finding 2: alg 24 was looked for in the protected bucket only.
    #[test]
    fn chacha20_in_the_unprotected_bucket_is_seen() {
        assert_eq!(
            envelope_needs(&unprotected_alg(24)),
            vec![TaFeature::Chacha20]
        );
        // The same structure with A128GCM (1) is not ChaCha20.
        assert!(envelope_needs(&unprotected_alg(1)).is_empty());
    }

    /// An EdDSA signature needs nothing of the envelope's own: a TA without Ed25519 skips it
    /// and verifies the others (review s32; the anchors are screened instead).
    #[test]
    fn an_eddsa_signature_of_a_cose_sign_needs_no_feature() {
        let header = |alg: i64| {
            Value::Bytes(cbor(&Value::Map(vec![(
                Value::Integer(1.into()),
                Value::Integer(alg.into()),
            )])))
        };
        let sign = |alg: i64| {
            cbor(&Value::Tag(
                98,
                Box::new(Value::Array(vec![
                    Value::Bytes(Vec::new()),
                    Value::Map(Vec::new()),
                    Value::Null,
                    Value::Array(vec![
                        Value::Array(vec![
                            header(-9),
                            Value::Map(Vec::new()),
                            Value::Bytes(vec![1]),
                        ]),
                        Value::Array(vec![
                            header(alg),
                            Value::Map(Vec::new()),
                            Value::Bytes(vec![2]),
                        ]),
                    ]),
                ])),
            ))
        };
        for alg in [-19, -8, -7] {
            assert!(envelope_needs(&sign(alg)).is_empty(), "{alg}");
        }
    }
}
