//! Description fields for draft-ietf-suit-update-management-14, turned into the draft's exact
//! forms: parameters in one override-parameters before the component is fetched, followed by
//! the matching conditions and suit-directive-wait, and suit-text version entries.

use ciborium::Value;
use std::collections::BTreeMap;

use suit_common::suit::update_management::{is_display_text, MAX_VERSION_INTS};

use super::create::{ComponentSpec, MetadataDesc};
use super::{AuthorError, Result};

/// Reporting policy on the emitted commands (record and report everything, as create does).
const REPORT_ALL: u64 = 15;

/// What one component asks of the update-management draft.
#[derive(Debug, Default)]
pub(crate) struct ComponentUm {
    /// Parameters (label, value), canonical (ascending) order.
    params: Vec<(i64, Value)>,
    /// Commands after the parameters: (label, reporting policy).
    commands: Vec<i64>,
    /// suit-text-version-required.
    version_required: Option<String>,
    /// suit-text-current-version.
    current_version: Option<String>,
}

/// Checks a version value as the draft's encoding guidelines require.
pub(crate) fn check_version(v: &[i64]) -> std::result::Result<(), String> {
    if v.is_empty() || v.len() > MAX_VERSION_INTS {
        return Err(format!("a version has 1 to {MAX_VERSION_INTS} integers"));
    }
    if v[0] < 0 {
        return Err("a pre-release indicator (negative) may not come first".into());
    }
    Ok(())
}

fn comparison(op: &str) -> Option<u64> {
    Some(match op {
        ">" => 1,
        ">=" => 2,
        "=" => 3,
        "<=" => 4,
        "<" => 5,
        _ => return None,
    })
}

fn encode(v: &Value) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn display_text(what: &str, t: &str) -> std::result::Result<(), String> {
    if t.is_empty() || t.len() > 256 || !is_display_text(t) {
        return Err(format!(
            "{what} must be 1 to 256 bytes of printable text (Unicode L, M, N, P, S, Zs)"
        ));
    }
    Ok(())
}

fn wait_label(name: &str) -> Option<i64> {
    Some(match name {
        "authorization" => 1,
        "power" => 2,
        "network" => 3,
        "time" => 5,
        "time-of-day" => 6,
        "day-of-week" => 7,
        "time-of-day-utc" => 8,
        "day-of-week-utc" => 9,
        _ => return None,
    })
}

/// Permission maps: canonical order of text keys is by encoded bytes (length, then bytes).
fn permissions(what: &str, m: &BTreeMap<String, u64>) -> std::result::Result<Value, String> {
    if m.is_empty() {
        return Err(format!("{what} needs at least one actor"));
    }
    let mut entries: Vec<(&String, &u64)> = m.iter().collect();
    for (k, _) in &entries {
        display_text(what, k)?;
    }
    entries.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
    Ok(Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.clone()), Value::from(*v)))
            .collect(),
    ))
}

fn metadata(m: &MetadataDesc) -> std::result::Result<Value, String> {
    let mut e: Vec<(i64, Value)> = Vec::new();
    if let Some(p) = m.default_permissions {
        e.push((1, Value::from(p)));
    }
    for (label, name, map) in [
        (2, "user-permissions", &m.user_permissions),
        (3, "group-permissions", &m.group_permissions),
        (4, "role-permissions", &m.role_permissions),
    ] {
        if let Some(map) = map {
            e.push((label, permissions(name, map)?));
        }
    }
    if let Some(t) = &m.file_type {
        let v = match t.as_str() {
            "regular" => 1,
            "directory" => 2,
            "symlink" => 3,
            _ => return Err(format!("file-type \"{t}\" (regular, directory, symlink)")),
        };
        e.push((5, Value::from(v)));
    }
    if let Some(t) = m.modification_time {
        e.push((6, Value::Tag(1, Box::new(Value::from(t)))));
    }
    if let Some(t) = m.creation_time {
        e.push((7, Value::Tag(1, Box::new(Value::from(t)))));
    }
    if let Some(c) = &m.creator {
        display_text("creator", c)?;
        e.push((8, Value::Text(c.clone())));
    }
    if e.is_empty() {
        return Err("metadata is empty".into());
    }
    Ok(Value::Map(
        e.into_iter().map(|(k, v)| (Value::from(k), v)).collect(),
    ))
}

/// Reads a component's update-management fields.
pub(crate) fn component(c: &ComponentSpec) -> std::result::Result<ComponentUm, String> {
    let mut um = ComponentUm::default();
    if let Some(t) = c.use_before {
        um.params.push((4, Value::from(t)));
        um.commands.push(4);
    }
    if let Some(b) = c.minimum_battery {
        um.params.push((26, Value::from(b)));
        um.commands.push(26);
    }
    if let Some(p) = c.update_priority {
        um.params.push((27, Value::from(p)));
        um.commands.push(27);
    }
    if let Some(v) = &c.version {
        let cmp = comparison(&v.compare).ok_or_else(|| {
            format!(
                "version: compare \"{}\" (one of >, >=, =, <=, <)",
                v.compare
            )
        })?;
        check_version(&v.value).map_err(|e| format!("version: {e}"))?;
        let m = Value::Array(vec![
            Value::from(cmp),
            Value::Array(v.value.iter().map(|i| Value::from(*i)).collect()),
        ]);
        um.params.push((28, Value::Bytes(encode(&m)?)));
        um.commands.push(28);
    }
    if let Some(w) = &c.wait {
        if w.is_empty() {
            return Err("wait: needs at least one event".into());
        }
        let mut events = Vec::new();
        for (name, v) in w {
            let label = wait_label(name).ok_or_else(|| {
                format!("wait: unknown event \"{name}\" (authorization, power, network, time, time-of-day, day-of-week, time-of-day-utc, day-of-week-utc)")
            })?;
            if label >= 5 && *v < 0 {
                return Err(format!("wait: \"{name}\" is a non-negative integer"));
            }
            events.push((label, Value::from(*v)));
        }
        events.sort_by_key(|(k, _)| *k);
        let m = Value::Map(
            events
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        );
        um.params.push((29, Value::Bytes(encode(&m)?)));
        um.commands.push(29);
    }
    if let Some(m) = &c.metadata {
        um.params.push((
            30,
            Value::Bytes(encode(&metadata(m).map_err(|e| format!("metadata: {e}"))?)?),
        ));
    }
    if let Some(t) = &c.version_required_text {
        display_text("version-required-text", t)?;
        um.version_required = Some(t.clone());
    }
    if let Some(t) = &c.current_version_text {
        display_text("current-version-text", t)?;
        um.current_version = Some(t.clone());
    }
    um.params.sort_by_key(|(k, _)| *k);
    Ok(um)
}

impl ComponentUm {
    /// `set-component-index i, override-parameters {..}, conditions.., wait` (empty if the
    /// component asks nothing of this draft). Conditions in label order; the wait last, so
    /// a device waits only for an update it would accept.
    pub(crate) fn install_prefix(&self, index: &Value) -> Result<Vec<Value>> {
        if self.params.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = vec![
            Value::from(12),
            index.clone(),
            Value::from(20),
            Value::Map(
                self.params
                    .iter()
                    .map(|(k, v)| (Value::from(*k), v.clone()))
                    .collect(),
            ),
        ];
        let mut cmds = self.commands.clone();
        cmds.sort_by_key(|l| (*l == 29, *l));
        for l in cmds {
            out.extend([Value::from(l), Value::from(REPORT_ALL)]);
        }
        Ok(out)
    }
}

/// suit-text with each component's version entries (7 version-required, 8 current-version),
/// or `None` if no component has any. Keys in canonical order (by encoded bytes).
pub(crate) fn text_map<'a>(
    components: impl Iterator<Item = (&'a Vec<Vec<u8>>, &'a ComponentUm)>,
) -> Result<Option<Value>> {
    let mut entries: Vec<(Vec<u8>, Value, Value)> = Vec::new();
    for (id, um) in components {
        let mut inner = Vec::new();
        if let Some(t) = &um.version_required {
            inner.push((Value::from(7), Value::Text(t.clone())));
        }
        if let Some(t) = &um.current_version {
            inner.push((Value::from(8), Value::Text(t.clone())));
        }
        if inner.is_empty() {
            continue;
        }
        let key = Value::Array(id.iter().map(|s| Value::Bytes(s.clone())).collect());
        let enc = encode(&key).map_err(AuthorError::Create)?;
        entries.push((enc, key, Value::Map(inner)));
    }
    if entries.is_empty() {
        return Ok(None);
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(Value::Map(
        entries.into_iter().map(|(_, k, v)| (k, v)).collect(),
    )))
}
