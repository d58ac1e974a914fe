//! `suit-author inspect`: a readable, JSON or CBOR-diagnostic view of an envelope.
//!
//! Inspection decodes without verifying anything (it must work without keys); every view
//! says so. The structure is read with a generic CBOR decoder, so even an envelope the
//! engine refuses can be looked at; parts that do not follow the SUIT CDDL are shown as
//! `{"error": ...}` instead of aborting the whole view.

use ciborium::value::Value;
use serde_json::{json, Map, Value as Json};

use suit_common::cbor::Encoder;
use suit_common::encryption::algorithms::header;
use suit_common::registry::{
    Command, CommonKey, ComponentTextKey, CoseAlg, DependencyMetadataKey, EnvelopeKey, ManifestKey,
    MetadataKey, Parameter, WaitEventKind,
};
use suit_common::suit::Digest;

use crate::detect::{detect, text_member, Format};
use crate::human::printable;

/// Deepest nesting of embedded envelopes / sequences the views descend into.
const MAX_NESTING: usize = 8;

pub use crate::detect::decode_one;

fn get(map: &[(Value, Value)], key: i64) -> Option<&Value> {
    map.iter().find_map(|(k, v)| match k {
        Value::Integer(i) if i128::from(*i) == i128::from(key) => Some(v),
        _ => None,
    })
}

fn int(v: &Value) -> Option<i128> {
    match v {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

/// A CBOR integer (-2^64..2^64) as JSON: a number where it fits `i64` or `u64`, else its
/// decimal text (never a wrapped value).
fn int_json(i: i128) -> Json {
    if let Ok(n) = i64::try_from(i) {
        json!(n)
    } else if let Ok(n) = u64::try_from(i) {
        json!(n)
    } else {
        json!(i.to_string())
    }
}

fn err(msg: impl Into<String>) -> Json {
    json!({ "error": msg.into() })
}

fn uuid_or_hex(b: &[u8]) -> Json {
    match <[u8; 16]>::try_from(b) {
        Ok(u) => Json::String(uuid::Uuid::from_bytes(u).to_string()),
        Err(_) => Json::String(format!("h'{}'", hex::encode(b))),
    }
}

/// The JSON model of an envelope (what `inspect --json` prints).
pub fn model(bytes: &[u8]) -> Result<Json, String> {
    envelope_model(bytes, 0)
}

fn envelope_model(bytes: &[u8], depth: usize) -> Result<Json, String> {
    let v = decode_one(bytes)?;
    let (tag, inner) = match v {
        Value::Tag(107, inner) => (Some(107), *inner),
        Value::Tag(1070, _) => return Err("bare SUIT_Manifest (tag 1070), not an envelope".into()),
        Value::Tag(t, _) => return Err(format!("unexpected CBOR tag {t} (expected 107)")),
        other => (None, other),
    };
    let Value::Map(members) = inner else {
        return Err("SUIT_Envelope is not a map".into());
    };
    let mut out = Map::new();
    out.insert("verified".into(), json!(false));
    out.insert("tagged".into(), json!(tag.is_some()));
    out.insert("size".into(), json!(bytes.len()));
    let mut severed = Map::new();
    let mut integrated = Vec::new();
    for (k, v) in &members {
        match (k, v) {
            (Value::Integer(i), Value::Bytes(b))
                if is(*i, EnvelopeKey::AuthenticationWrapper.value()) =>
            {
                out.insert("authentication".into(), auth_model(b));
            }
            (Value::Integer(i), Value::Bytes(b)) if is(*i, EnvelopeKey::Manifest.value()) => {
                let mut m = match decode_one(b) {
                    Ok(Value::Map(m)) => manifest_model(&m, depth),
                    Ok(_) => err("SUIT_Manifest is not a map"),
                    Err(e) => err(e),
                };
                if let Json::Object(o) = &mut m {
                    let mut wrapped = Encoder::new();
                    wrapped.bytes(b);
                    let wrapped = wrapped.into_bytes();
                    o.insert(
                        "digest".into(),
                        json!(hex::encode(Digest::sha256(&wrapped).0)),
                    );
                }
                out.insert("manifest".into(), m);
            }
            (Value::Integer(i), Value::Bytes(b)) => {
                let label = i128::from(*i);
                let member = i64::try_from(label)
                    .ok()
                    .and_then(EnvelopeKey::from_value)
                    .filter(|m| m.is_severable());
                let name = member.map_or("unknown", EnvelopeKey::short_name);
                let content = match member {
                    Some(EnvelopeKey::Text | EnvelopeKey::Coswid) => text_model(b),
                    _ => sequence_from_bytes(b, depth),
                };
                severed.insert(
                    name.to_string(),
                    json!({ "label": label, "size": b.len(), "content": content }),
                );
            }
            (Value::Text(key), Value::Bytes(b)) => {
                let mut p = Map::new();
                p.insert("key".into(), json!(key));
                p.insert("size".into(), json!(b.len()));
                p.insert("sha256".into(), json!(hex::encode(Digest::sha256(b).0)));
                if b.starts_with(&[0xd8, 107]) && depth < MAX_NESTING {
                    p.insert(
                        "envelope".into(),
                        envelope_model(b, depth + 1).unwrap_or_else(err),
                    );
                }
                integrated.push(Json::Object(p));
            }
            (k, _) => {
                out.insert(format!("unknown member {k:?}"), json!("present"));
            }
        }
    }
    if !severed.is_empty() {
        out.insert("severed-members".into(), Json::Object(severed));
    }
    if !integrated.is_empty() {
        out.insert("integrated-payloads".into(), Json::Array(integrated));
    }
    if !out.contains_key("manifest") {
        return Err("SUIT_Envelope has no suit-manifest (3)".into());
    }
    Ok(Json::Object(out))
}

/// Whether the CBOR integer `i` is `label`.
fn is(i: ciborium::value::Integer, label: i64) -> bool {
    i128::from(i) == i128::from(label)
}

fn digest_model(v: &Value) -> Json {
    match v {
        Value::Array(a) if a.len() >= 2 => {
            let [alg, bytes, ..] = a.as_slice() else {
                return err("not a SUIT_Digest");
            };
            let alg = int(alg);
            let bytes = match bytes {
                Value::Bytes(b) => hex::encode(b),
                _ => return err("digest bytes are not a bstr"),
            };
            json!({
                "algorithm": match alg {
                    Some(a) => i64::try_from(a)
                        .ok()
                        .and_then(crate::human::digest_alg_name)
                        .map_or_else(|| a.to_string(), str::to_string),
                    None => "?".into(),
                },
                "bytes": bytes,
            })
        }
        _ => err("not a SUIT_Digest"),
    }
}

/// The registered name of a COSE algorithm id.
fn alg_name(id: i128) -> &'static str {
    i64::try_from(id)
        .ok()
        .and_then(CoseAlg::from_value)
        .map_or("unknown", CoseAlg::name)
}

fn headers(protected: &Value, unprotected: &Value) -> (Option<i128>, Option<Vec<u8>>) {
    let mut alg = None;
    let mut kid = None;
    let mut scan = |m: &[(Value, Value)]| {
        if let Some(a) = get(m, header::ALG).and_then(int) {
            alg = Some(a);
        }
        if let Some(Value::Bytes(k)) = get(m, header::KID) {
            kid = Some(k.clone());
        }
    };
    if let Value::Map(m) = unprotected {
        scan(m);
    }
    if let Value::Bytes(p) = protected {
        if let Ok(Value::Map(m)) = decode_one(p) {
            scan(&m);
        }
    }
    (alg, kid)
}

fn auth_model(bytes: &[u8]) -> Json {
    let Ok(Value::Array(items)) = decode_one(bytes) else {
        return err("SUIT_Authentication is not an array");
    };
    let mut blocks = Vec::new();
    let mut digest = Json::Null;
    for (i, item) in items.iter().enumerate() {
        let Value::Bytes(b) = item else {
            blocks.push(err("not a bstr"));
            continue;
        };
        if i == 0 {
            digest = decode_one(b).map(|d| digest_model(&d)).unwrap_or_else(err);
            continue;
        }
        let block = match decode_one(b) {
            Ok(Value::Tag(t, inner)) => {
                let structure = match t {
                    18 => "COSE_Sign1",
                    17 => "COSE_Mac0",
                    98 => "COSE_Sign",
                    97 => "COSE_Mac",
                    _ => "unknown",
                };
                match *inner {
                    Value::Array(a) if a.len() >= 3 => {
                        let [protected, unprotected, payload, ..] = a.as_slice() else {
                            return err(format!("{structure} is not an array"));
                        };
                        let (alg, kid) = headers(protected, unprotected);
                        let mut block = json!({
                            "structure": structure,
                            "algorithm": alg.map(alg_name),
                            "algorithm-id": alg.map(int_json),
                            "kid": kid.map(|k| super::kid_str(&k)),
                            "payload-detached": matches!(payload, Value::Null),
                        });
                        // A COSE_Sign's algorithms and kids are its signatures' (RFC 9052
                        // §4.1: COSE_Signature = [protected, unprotected, signature]).
                        if let (98, Json::Object(fields)) = (t, &mut block) {
                            let signatures = match a.get(3) {
                                Some(Value::Array(sigs)) => Json::Array(
                                    sigs.iter()
                                        .map(|sig| match sig {
                                            Value::Array(parts) if parts.len() == 3 => {
                                                let [p, u, _] = parts.as_slice() else {
                                                    return err("COSE_Signature is malformed");
                                                };
                                                let (alg, kid) = headers(p, u);
                                                json!({
                                                    "algorithm": alg.map(alg_name),
                                                    "algorithm-id": alg.map(int_json),
                                                    "kid": kid.map(|k| super::kid_str(&k)),
                                                })
                                            }
                                            _ => err("COSE_Signature is not a 3-element array"),
                                        })
                                        .collect(),
                                ),
                                _ => err("COSE_Sign has no array of signatures"),
                            };
                            fields.insert("signatures".into(), signatures);
                        }
                        block
                    }
                    _ => err(format!("{structure} is not an array")),
                }
            }
            Ok(_) => err("authentication block is not a tagged COSE structure"),
            Err(e) => err(e),
        };
        blocks.push(block);
    }
    json!({ "digest": digest, "blocks": blocks })
}

/// A component identifier as every JSON output of the tools shows one: a list of its
/// segments in lower-case hex.
fn component_model(v: &Value) -> Json {
    match v {
        Value::Array(segs) => Json::Array(
            segs.iter()
                .map(|s| match s {
                    Value::Bytes(b) => json!(hex::encode(b)),
                    _ => json!("?not a bstr"),
                })
                .collect(),
        ),
        _ => err("component identifier is not an array"),
    }
}

fn manifest_model(m: &[(Value, Value)], depth: usize) -> Json {
    let mut out = Map::new();
    for (k, v) in m {
        let Some(label) = int(k) else {
            out.insert(format!("{k:?}"), err("non-integer manifest key"));
            continue;
        };
        let key = i64::try_from(label).ok().and_then(ManifestKey::from_value);
        let (name, value) = match key {
            Some(ManifestKey::Version) => (
                "version",
                int(v).map(int_json).unwrap_or_else(|| err("not an int")),
            ),
            Some(ManifestKey::SequenceNumber) => (
                "sequence-number",
                int(v).map(int_json).unwrap_or_else(|| err("not an int")),
            ),
            Some(ManifestKey::Common) => ("common", common_model(v, depth)),
            Some(ManifestKey::ReferenceUri) => (
                "reference-uri",
                match v {
                    Value::Text(t) => json!(t),
                    _ => err("not text"),
                },
            ),
            Some(ManifestKey::ManifestComponentId) => ("manifest-component-id", component_model(v)),
            Some(ManifestKey::SetVersion) => (
                "set-version",
                match v {
                    Value::Bytes(b) => decode_one(b)
                        .map(|v| json!(version_text(&v)))
                        .unwrap_or_else(err),
                    _ => err("not a bstr"),
                },
            ),
            Some(ManifestKey::Coswid) => (
                "coswid",
                match v {
                    Value::Bytes(b) => text_model(b),
                    d => json!({ "severed": digest_model(d) }),
                },
            ),
            Some(ManifestKey::Text) => (
                "text",
                match v {
                    Value::Bytes(b) => text_model(b),
                    d => json!({ "severed": digest_model(d) }),
                },
            ),
            Some(sequence) => (
                sequence.short_name(),
                match v {
                    Value::Bytes(b) => sequence_from_bytes(b, depth),
                    d => json!({ "severed": digest_model(d) }),
                },
            ),
            None => {
                out.insert(format!("unknown-{label}"), json!("present"));
                continue;
            }
        };
        out.insert(name.into(), value);
    }
    Json::Object(out)
}

/// The model's key for a member shown in CBOR diagnostic notation ([`diag_value`]).
const DIAG: &str = "diag";

/// suit-text: `{ language tag => { key => text, component => { key => text } } }`.
fn text_model(b: &[u8]) -> Json {
    match decode_one(b) {
        Ok(v) => {
            let mut out = json!({ DIAG: diag_value(&v, 0) });
            // Update management's per-component text (draft -14 §3.3-3.4), per language:
            // named, shown escaped (display-only, never interpreted).
            let mut languages = Map::new();
            for (language, lmap) in v.as_map().into_iter().flatten() {
                let (Value::Text(language), Value::Map(lmap)) = (language, lmap) else {
                    continue;
                };
                let named = component_versions(lmap);
                if !named.is_empty() {
                    languages.insert(language.escape_debug().to_string(), Json::Object(named));
                }
            }
            if let (false, Some(o)) = (languages.is_empty(), out.as_object_mut()) {
                o.insert("component-versions".into(), Json::Object(languages));
            }
            out
        }
        Err(e) => err(e),
    }
}

/// The version texts of one language's SUIT_Text_LMap, by component.
fn component_versions(lmap: &[(Value, Value)]) -> Map<String, Json> {
    let mut named = Map::new();
    for (k, entries) in lmap {
        let (Value::Array(_), Value::Map(e)) = (k, entries) else {
            continue;
        };
        let mut versions = Map::new();
        for key in [
            ComponentTextKey::VersionRequired,
            ComponentTextKey::CurrentVersion,
        ] {
            if let Some(Value::Text(t)) = get(e, key.value()) {
                versions.insert(key.short_name().into(), json!(format!("{t:?}")));
            }
        }
        if !versions.is_empty() {
            named.insert(
                diag_value(k, 0).replace(['\n', ' '], ""),
                Json::Object(versions),
            );
        }
    }
    named
}

/// SUIT parameter names (the drafts' names without `suit-parameter-`).
fn parameter_name(label: i128) -> &'static str {
    match i64::try_from(label).ok().and_then(Parameter::from_value) {
        Some(p) => p.short_name(),
        None if label < 0 => "custom",
        None => "unknown",
    }
}

fn version_text(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|i| int(i).map_or("?".into(), |i| i.to_string()))
            .collect::<Vec<_>>()
            .join("."),
        _ => "?".into(),
    }
}

/// `[type, [ints]]` as `>= 1.2.3`.
fn version_match_text(m: &Value) -> String {
    match m {
        Value::Array(a) if a.len() == 2 => {
            let [op, version] = a.as_slice() else {
                return "malformed".into();
            };
            let op = match int(op) {
                Some(1) => ">",
                Some(2) => ">=",
                Some(3) => "=",
                Some(4) => "<=",
                Some(5) => "<",
                _ => "?",
            };
            format!("{op} {}", version_text(version))
        }
        _ => "malformed".into(),
    }
}

fn wait_event_name(label: i128) -> &'static str {
    i64::try_from(label)
        .ok()
        .and_then(WaitEventKind::from_value)
        .map_or("unknown", WaitEventKind::short_name)
}

fn wait_info_model(v: &Value) -> Json {
    named_map(v, wait_event_name)
}

fn metadata_member(label: i128) -> &'static str {
    i64::try_from(label)
        .ok()
        .and_then(MetadataKey::from_value)
        .map_or("unknown", MetadataKey::short_name)
}

/// A map with integer keys, keys named by `name`, values in diagnostic notation.
fn named_map(v: &Value, name: fn(i128) -> &'static str) -> Json {
    let Value::Map(m) = v else {
        return err("not a map");
    };
    let mut out = Map::new();
    for (k, v) in m {
        let key = match int(k) {
            Some(l) => format!("{} ({l})", name(l)),
            None => diag_value(k, 0),
        };
        out.insert(key, json!(diag_value(v, 0)));
    }
    Json::Object(out)
}

fn common_model(v: &Value, depth: usize) -> Json {
    let Value::Bytes(b) = v else {
        return err("suit-common is not a bstr");
    };
    let Ok(Value::Map(m)) = decode_one(b) else {
        return err("suit-common is not a CBOR map");
    };
    let mut out = Map::new();
    for (k, v) in &m {
        let key = int(k)
            .and_then(|l| i64::try_from(l).ok())
            .and_then(CommonKey::from_value);
        match key {
            Some(CommonKey::Dependencies) => {
                let deps = match v {
                    Value::Map(d) => d
                        .iter()
                        .map(|(i, meta)| {
                            let prefix = match meta {
                                Value::Map(mm) => get(mm, DependencyMetadataKey::Prefix.value())
                                    .map(component_model),
                                _ => None,
                            };
                            json!({ "index": int(i).map(int_json), "prefix": prefix })
                        })
                        .collect(),
                    _ => vec![err("not a map")],
                };
                out.insert(
                    CommonKey::Dependencies.short_name().into(),
                    Json::Array(deps),
                );
            }
            Some(CommonKey::Components) => {
                let comps = match v {
                    Value::Array(a) => a.iter().map(component_model).collect(),
                    _ => vec![err("not an array")],
                };
                out.insert(
                    CommonKey::Components.short_name().into(),
                    Json::Array(comps),
                );
            }
            Some(CommonKey::SharedSequence) => {
                let seq = match v {
                    Value::Bytes(b) => sequence_from_bytes(b, depth),
                    _ => err("not a bstr"),
                };
                out.insert(CommonKey::SharedSequence.short_name().into(), seq);
            }
            _ => {
                out.insert(format!("unknown-{:?}", int(k)), json!("present"));
            }
        }
    }
    Json::Object(out)
}

fn sequence_from_bytes(b: &[u8], depth: usize) -> Json {
    match decode_one(b) {
        Ok(Value::Array(items)) => sequence_model(&items, depth),
        Ok(_) => err("command sequence is not an array"),
        Err(e) => err(e),
    }
}

/// SUIT command names (the drafts' names without `suit-`).
fn command_name(label: i128) -> &'static str {
    match i64::try_from(label).ok().and_then(Command::from_value) {
        Some(c) => c.short_name(),
        None if label < 0 => "custom",
        None => "unknown",
    }
}

fn sequence_model(items: &[Value], depth: usize) -> Json {
    if depth > MAX_NESTING {
        return err("nested too deeply to show");
    }
    if !items.len().is_multiple_of(2) {
        return err("odd number of elements in a command sequence");
    }
    let mut cmds = Vec::new();
    for pair in items.chunks_exact(2) {
        let [label, arg] = pair else {
            continue;
        };
        let Some(label) = int(label) else {
            cmds.push(err("command label is not an integer"));
            continue;
        };
        let mut c = Map::new();
        c.insert("command".into(), json!(command_name(label)));
        match i64::try_from(label).ok().and_then(Command::from_value) {
            Some(Command::SetComponentIndex) => {
                c.insert(
                    "index".into(),
                    match arg {
                        Value::Integer(i) => int_json(i128::from(*i)),
                        Value::Bool(true) => json!("all"),
                        Value::Array(a) => {
                            Json::Array(a.iter().map(|x| json!(int(x).map(int_json))).collect())
                        }
                        _ => err("bad index argument"),
                    },
                );
            }
            Some(Command::SetParameters | Command::OverrideParameters) => {
                c.insert("parameters".into(), parameters_model(arg, depth));
            }
            Some(Command::OverrideMultiple) => {
                let mut per = Map::new();
                if let Value::Map(m) = arg {
                    for (k, v) in m {
                        per.insert(
                            format!("component-{}", diag_value(k, 0)),
                            parameters_model(v, depth),
                        );
                    }
                }
                c.insert("parameters-per-component".into(), Json::Object(per));
            }
            Some(Command::CopyParams) => {
                let mut per = Map::new();
                if let Value::Map(m) = arg {
                    for (k, v) in m {
                        let labels = match v {
                            Value::Array(a) => a
                                .iter()
                                .map(|l| json!(int(l).map_or("?", parameter_name)))
                                .collect(),
                            _ => vec![err("not an array of labels")],
                        };
                        per.insert(
                            format!("from-component-{}", diag_value(k, 0)),
                            Json::Array(labels),
                        );
                    }
                }
                c.insert("copy".into(), Json::Object(per));
            }
            Some(Command::TryEach) => {
                let opts = match arg {
                    Value::Array(a) => a
                        .iter()
                        .map(|o| match o {
                            Value::Bytes(b) => sequence_from_bytes(b, depth + 1),
                            Value::Null => json!("nil (succeed if every option failed)"),
                            _ => err("option is not a bstr"),
                        })
                        .collect(),
                    _ => vec![err("not an array")],
                };
                c.insert("options".into(), Json::Array(opts));
            }
            Some(Command::RunSequence) => {
                c.insert(
                    "sequence".into(),
                    match arg {
                        Value::Bytes(b) => sequence_from_bytes(b, depth + 1),
                        _ => err("not a bstr"),
                    },
                );
            }
            None if label < 0 => {
                c.insert("label".into(), int_json(label));
                c.insert("argument".into(), json!(diag_value(arg, 0)));
            }
            _ => {
                c.insert(
                    "reporting-policy".into(),
                    int(arg)
                        .map(int_json)
                        .unwrap_or_else(|| json!(diag_value(arg, 0))),
                );
            }
        }
        cmds.push(Json::Object(c));
    }
    Json::Array(cmds)
}

fn parameters_model(v: &Value, depth: usize) -> Json {
    let Value::Map(m) = v else {
        return err("parameters are not a map");
    };
    let mut out = Map::new();
    for (k, v) in m {
        let Some(label) = int(k) else { continue };
        use Parameter as P;
        let param = i64::try_from(label).ok().and_then(Parameter::from_value);
        let value = match (param, v) {
            (Some(P::VendorIdentifier), Value::Bytes(b)) => uuid_or_hex(b),
            (Some(P::VendorIdentifier), Value::Tag(112, inner)) => {
                json!(format!("PEN {}", diag_value(inner, 0)))
            }
            (Some(P::ClassIdentifier | P::DeviceIdentifier), Value::Bytes(b)) => uuid_or_hex(b),
            (Some(P::ImageDigest), Value::Bytes(b)) => {
                decode_one(b).map(|d| digest_model(&d)).unwrap_or_else(err)
            }
            (Some(P::ComponentSlot | P::SourceComponent | P::UpdatePriority), v) => {
                json!(int(v).map(int_json))
            }
            (Some(P::StrictOrder | P::SoftFailure), Value::Bool(b)) => json!(b),
            (Some(P::ImageSize | P::UseBefore | P::MinimumBattery), v) => {
                json!(int(v).map(int_json))
            }
            (Some(P::Content), Value::Bytes(b)) => {
                json!({ "size": b.len(), "sha256": hex::encode(Digest::sha256(b).0) })
            }
            (Some(P::EncryptionInfo), Value::Bytes(b)) => encryption_info_model(b),
            (Some(P::Uri), Value::Text(t)) => json!(t),
            (Some(P::InvokeArgs | P::FetchArguments), Value::Bytes(b)) => json!(super::kid_str(b)),
            (Some(P::Version), Value::Bytes(b)) => decode_one(b)
                .map(|m| json!(version_match_text(&m)))
                .unwrap_or_else(err),
            (Some(P::WaitInfo), Value::Bytes(b)) => decode_one(b)
                .map(|w| wait_info_model(&w))
                .unwrap_or_else(err),
            (Some(P::ComponentMetadata), Value::Bytes(b)) => decode_one(b)
                .map(|m| named_map(&m, metadata_member))
                .unwrap_or_else(err),
            _ => {
                out.insert(format!("parameter-{label}"), json!(diag_value(v, depth)));
                continue;
            }
        };
        let name = param.map_or("unknown", Parameter::short_name);
        out.insert(name.into(), value);
    }
    Json::Object(out)
}

/// Summary of a SUIT_Encryption_Info: content algorithm and recipients (algorithm, kid).
pub fn encryption_info_model(b: &[u8]) -> Json {
    let v = match decode_one(b) {
        Ok(v) => v,
        Err(e) => return err(e),
    };
    let (structure, inner) = match v {
        Value::Tag(96, i) => ("COSE_Encrypt", *i),
        Value::Tag(16, i) => ("COSE_Encrypt0", *i),
        _ => return err("not a tagged COSE_Encrypt / COSE_Encrypt0"),
    };
    let Value::Array(a) = inner else {
        return err("COSE structure is not an array");
    };
    let [protected, unprotected, ciphertext, ..] = a.as_slice() else {
        return err("COSE structure too short");
    };
    let (alg, _) = headers(protected, unprotected);
    let mut out = Map::new();
    out.insert("structure".into(), json!(structure));
    out.insert("algorithm".into(), json!(alg.map(alg_name)));
    out.insert(
        "ciphertext".into(),
        json!(if matches!(ciphertext, Value::Null) {
            "detached"
        } else {
            "attached"
        }),
    );
    if let Some(Value::Array(recipients)) = a.get(3) {
        let rs = recipients
            .iter()
            .map(|r| match r {
                Value::Array(ra) if ra.len() >= 3 => {
                    let [protected, unprotected, ..] = ra.as_slice() else {
                        return err("malformed recipient");
                    };
                    let (alg, kid) = headers(protected, unprotected);
                    json!({ "algorithm": alg.map(alg_name), "kid": kid.map(|k| super::kid_str(&k)) })
                }
                _ => err("malformed recipient"),
            })
            .collect();
        out.insert("recipients".into(), Json::Array(rs));
    }
    Json::Object(out)
}

/// The readable text view of a model; its text (URIs, integrated payload keys: anyone's
/// envelope) escaped ([`printable`]), while JSON keeps it exact.
pub fn render_text(model: &Json) -> String {
    let mut out = String::new();
    render(&mut out, model, 0);
    out
}

fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::Null => Some("-".into()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.to_string()),
        Json::String(s) => Some(printable(s).into_owned()),
        Json::Array(a)
            if a.iter()
                .all(|x| matches!(x, Json::String(_) | Json::Number(_))) =>
        {
            Some(format!(
                "[{}]",
                a.iter()
                    .map(|x| scalar(x).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        _ => None,
    }
}

/// A component identifier of the model (a list of hex segments, [`component_model`]) as the
/// text outputs show one, in diagnostic notation: `['ree', 'etc']`.
fn component_text(v: &Json) -> Option<String> {
    let segments = v
        .as_array()?
        .iter()
        .map(|s| hex::decode(s.as_str()?).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(suit_common::text::component(&segments))
}

/// Members of the model holding one component identifier, and the one holding a list of them.
const COMPONENT_ID_KEYS: [&str; 2] = ["manifest-component-id", "prefix"];
const COMPONENT_LIST_KEY: &str = "components";

/// Display order of well-known keys (JSON objects are sorted by name; humans read the
/// manifest in its own order).
fn key_rank(k: &str) -> usize {
    const ORDER: &[&str] = &[
        "verified",
        "tagged",
        "size",
        "authentication",
        "manifest",
        "version",
        "sequence-number",
        "digest",
        "reference-uri",
        "manifest-component-id",
        "common",
        "dependencies",
        "components",
        "shared-sequence",
        "dependency-resolution",
        "payload-fetch",
        "candidate-verification",
        "install",
        "validate",
        "load",
        "invoke",
        "uninstall",
        "text",
        "severed-members",
        "integrated-payloads",
    ];
    ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len())
}

fn render(out: &mut String, v: &Json, indent: usize) {
    let pad = "  ".repeat(indent);
    match v {
        Json::Object(o) => {
            let mut entries: Vec<(&String, &Json)> = o.iter().collect();
            entries.sort_by_key(|(k, _)| key_rank(k));
            for (k, v) in entries {
                // Diagnostic notation is the tool's own text, laid out in lines (the texts
                // it quotes are escaped in it): shown as those lines, each still escaped.
                if let (DIAG, Json::String(text)) = (k.as_str(), v) {
                    out.push_str(&format!("{pad}{DIAG}:\n"));
                    for line in text.lines() {
                        out.push_str(&format!("{pad}  {}\n", printable(line)));
                    }
                    continue;
                }
                // Component identifiers in the notation of every other text output.
                if let Some(id) = COMPONENT_ID_KEYS
                    .contains(&k.as_str())
                    .then(|| component_text(v))
                    .flatten()
                {
                    out.push_str(&format!("{pad}{k}: {id}\n"));
                    continue;
                }
                let ids = (k == COMPONENT_LIST_KEY)
                    .then(|| {
                        v.as_array()?
                            .iter()
                            .map(component_text)
                            .collect::<Option<Vec<_>>>()
                    })
                    .flatten();
                if let Some(ids) = ids {
                    out.push_str(&format!("{pad}{k}:\n"));
                    for id in ids {
                        out.push_str(&format!("{pad}  - {id}\n"));
                    }
                    continue;
                }
                let k = printable(k);
                match scalar(v) {
                    Some(s) => out.push_str(&format!("{pad}{k}: {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render(out, v, indent + 1);
                    }
                }
            }
        }
        Json::Array(a) => {
            for item in a {
                match item {
                    Json::Object(o) if o.contains_key("command") => {
                        let mut line = format!("{pad}- {}", o["command"].as_str().unwrap_or("?"));
                        let mut nested = Vec::new();
                        for (k, v) in o.iter().filter(|(k, _)| k.as_str() != "command") {
                            let k = printable(k);
                            match scalar(v) {
                                Some(s) => line.push_str(&format!(" {k}={s}")),
                                None => nested.push((k, v)),
                            }
                        }
                        out.push_str(&line);
                        out.push('\n');
                        for (k, v) in nested {
                            out.push_str(&format!("{pad}    {k}:\n"));
                            render(out, v, indent + 3);
                        }
                    }
                    other => match scalar(other) {
                        Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                        None => {
                            out.push_str(&format!("{pad}-\n"));
                            render(out, other, indent + 1);
                        }
                    },
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other).unwrap_or_default())),
    }
}

/// CBOR diagnostic notation (RFC 8949 §8) of a whole file, with byte strings that hold
/// embedded CBOR (SUIT's bstr-wrapped structures) shown as `<< ... >>`.
pub fn diag(bytes: &[u8]) -> Result<String, String> {
    let v = decode_one(bytes)?;
    let mut s = diag_value(&v, 0);
    s.push('\n');
    Ok(s)
}

/// Deepest indentation (in levels) diagnostic notation shows: deeper items are shown at this
/// one, so the text grows with the items, not with the items times their depth (CBOR may
/// nest 256 levels deep).
const MAX_DIAG_INDENT: usize = 32;

fn diag_value(v: &Value, indent: usize) -> String {
    let mut out = String::new();
    diag_into(&mut out, v, indent);
    out
}

/// [`diag_value`] appended to `out`: one buffer for the whole text, so no level copies what
/// the levels below it wrote.
fn diag_into(out: &mut String, v: &Value, indent: usize) {
    use std::fmt::Write as _;
    let pad = |out: &mut String, levels: usize| {
        for _ in 0..levels.min(MAX_DIAG_INDENT) {
            out.push_str("  ");
        }
    };
    match v {
        Value::Integer(i) => {
            let _ = write!(out, "{}", i128::from(*i));
        }
        Value::Bytes(b) => {
            // A bstr holding a complete array, map or tagged item is shown expanded: that is
            // how SUIT wraps its structures. Payload bytes rarely parse that way; when they
            // do, the raw bytes are still recoverable from the expansion.
            let embedded = b.len() > 1
                && b.first().is_some_and(|h| matches!(h >> 5, 4..=6))
                && indent < 4 * MAX_NESTING;
            match embedded.then(|| decode_one(b).ok()).flatten() {
                Some(inner) => {
                    out.push_str("<< ");
                    diag_into(out, &inner, indent);
                    out.push_str(" >>");
                }
                None => {
                    out.push_str("h'");
                    out.push_str(&hex::encode(b));
                    out.push('\'');
                }
            }
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Text(t) => {
            let _ = write!(out, "{t:?}");
        }
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Null => out.push_str("null"),
        Value::Tag(t, inner) => {
            let _ = write!(out, "{t}(");
            diag_into(out, inner, indent);
            out.push(')');
        }
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                pad(out, indent + 1);
                diag_into(out, x, indent + 1);
            }
            out.push('\n');
            pad(out, indent);
            out.push(']');
        }
        Value::Map(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                pad(out, indent + 1);
                diag_into(out, k, indent + 1);
                out.push_str(": ");
                if is_secret_entry(m, k) {
                    out.push_str(&redacted(v));
                } else {
                    diag_into(out, v, indent + 1);
                }
            }
            out.push('\n');
            pad(out, indent);
            out.push('}');
        }
        _ => out.push_str("undefined"),
    }
}

/// Whether `key` of `map` holds private key material, which no view ever prints: `d` of an
/// OKP/EC2 COSE_Key, `k` of a symmetric one, the private RSA parameters, the keys of a
/// provisioning message's `ImportDeviceKeys` operation, and the secrets of the tool's and the
/// TA's own records, recognised by their fields wherever they occur: a KEK (`{kid, anchors,
/// key}`: the TPA's device model, the TA's KEK object), the device keys' master secret
/// (`{format, master}`) and an HSS-LMS key file's body (`private-key`).
fn is_secret_entry(map: &[(Value, Value)], key: &Value) -> bool {
    if let Value::Text(t) = key {
        let has = |name: &str| text_member(map, name);
        return match t.as_str() {
            "ImportDeviceKeys" | "private-key" => true,
            "key" => has("kid") && has("anchors"),
            "master" => has("format"),
            _ => false,
        };
    }
    let (Some(kty), Some(label)) = (get(map, 1).and_then(int), int(key)) else {
        return false;
    };
    match kty {
        1 | 2 => label == -4,
        3 => label <= -3,
        4 => label == -1,
        _ => false,
    }
}

/// What the views show instead of a secret: its shape only.
fn redacted(v: &Value) -> String {
    match v {
        Value::Bytes(b) => format!("h'' / private key material redacted ({} bytes) /", b.len()),
        _ => "null / private key material redacted /".into(),
    }
}

/// What a file is, for the tool's formats other than envelopes (`None`: not one of them).
/// Recognised from the structure only; nothing is verified.
pub fn identify(bytes: &[u8]) -> Option<&'static str> {
    let v = decode_one(bytes).ok()?;
    match &v {
        Value::Tag(107, _) => None,
        Value::Tag(1070, _) => Some("a bare SUIT_Manifest (tag 1070): no authentication wrapper"),
        Value::Tag(96, _) => Some("a COSE_Encrypt (SUIT_Encryption_Info, tag 96)"),
        Value::Tag(16, _) => Some("a COSE_Encrypt0 (tag 16)"),
        Value::Tag(18, inner) => match (detect(bytes), inner.as_ref()) {
            (Some(Format::SignedReport), _) => {
                Some("a signed SUIT report (COSE_Sign1 over a SUIT_Report)")
            }
            (Some(Format::KeyStatement), _) => {
                Some("a key statement (COSE_Sign1; suit-author verify-key-statement)")
            }
            (Some(Format::ProvisioningReceipt), _) => {
                Some("a provisioning receipt (COSE_Sign1; suit-author verify-receipt)")
            }
            (_, Value::Array(a)) if a.len() == 4 => Some("a COSE_Sign1 (tag 18)"),
            _ => None,
        },
        Value::Array(_) if detect(bytes) == Some(Format::ProvisioningMessage) => {
            Some("a TPA-signed provisioning message (body, COSE_Sign1)")
        }
        Value::Array(_) if detect(bytes) == Some(Format::SeveredMember) => Some(
            "a SUIT_Command_Sequence (a member `suit-author sever` moved out of an envelope; \
             `unsever --member` puts it back)",
        ),
        Value::Array(a)
            if a.len() == 4 && matches!(a.get(2), Some(Value::Bytes(_) | Value::Null)) =>
        {
            Some("a COSE_Encrypt or COSE_Sign1 without tag")
        }
        // Label 1 (kty) never occurs in an envelope.
        Value::Map(m) if get(m, 1).and_then(int).is_some() => Some("a COSE_Key"),
        Value::Map(_) if detect(bytes) == Some(Format::DeviceModel) => {
            Some("the TPA's model of a device (provision --state; its secrets are not shown)")
        }
        Value::Map(m) if text_member(m, "master") && text_member(m, "format") => {
            Some("the TA's device keys object (the master secret is not shown)")
        }
        Value::Map(m)
            if ["counter", "current", "previous"]
                .iter()
                .all(|f| text_member(m, f)) =>
        {
            Some("the TA's KEK object (the KEKs are not shown)")
        }
        Value::Map(m) if text_member(m, "private-key") => {
            Some("an HSS-LMS private key body (the private key is not shown)")
        }
        Value::Map(_) if suit_common::report::Report::decode(bytes).is_ok() => {
            Some("an unsigned SUIT report")
        }
        _ => None,
    }
}
