//! Description fields for draft-ietf-suit-update-management-14, turned into the draft's exact
//! forms: parameters in one override-parameters before the component is fetched, followed by
//! the matching conditions and suit-directive-wait, and suit-text version entries.

use std::collections::BTreeMap;
use std::sync::Arc;

use suit_common::cbor::Encoder;
use suit_common::registry::ComponentTextKey;
use suit_common::suit::command::{Action, Command, IndexArg, Parameters};
use suit_common::suit::error::ConditionKind;
use suit_common::suit::update_management::{
    is_display_text, ActorId, Comparison, ComponentMetadata, FileType, VersionMatch, WaitEvent,
    WaitInfo, MAX_VERSION_INTS,
};

use super::create::{ComponentSpec, MetadataDesc};

/// Reporting policy on the emitted commands (record and report everything, as create does).
const REPORT_ALL: u64 = 15;

/// What one component asks of the update-management draft.
#[derive(Debug, Default)]
pub(crate) struct ComponentUm {
    /// The parameters of the one override-parameters (all unset: no update management).
    params: Parameters,
    /// The conditions after the parameters, and suit-directive-wait.
    commands: Vec<Command>,
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
    // A release of 1 to 3 integers, then at most one pre-release indicator (-1 RC, -2 beta,
    // -3 alpha) and its non-negative integers. Without an indicator, more integers are
    // another numbering scheme's, which the draft allows when they keep release order.
    let mut indicators = v.iter().enumerate().filter(|(_, n)| **n < 0);
    if let Some((at, &n)) = indicators.next() {
        if at == 0 {
            return Err("a pre-release indicator (negative) may not come first".into());
        }
        if at > 3 {
            return Err("a pre-release indicator follows a release of 1 to 3 integers".into());
        }
        if !(-3..=-1).contains(&n) {
            return Err(format!(
                "pre-release indicator {n}: only -1 (RC), -2 (beta) and -3 (alpha) are defined"
            ));
        }
        if indicators.next().is_some() {
            return Err("a version has at most one pre-release indicator (negative)".into());
        }
    }
    Ok(())
}

fn comparison(op: &str) -> Option<Comparison> {
    Some(match op {
        ">" => Comparison::Greater,
        ">=" => Comparison::GreaterEqual,
        "=" => Comparison::Equal,
        "<=" => Comparison::LesserEqual,
        "<" => Comparison::Lesser,
        _ => return None,
    })
}

fn display_text(what: &str, t: &str) -> std::result::Result<(), String> {
    if t.is_empty() || t.len() > 256 || !is_display_text(t) {
        return Err(format!(
            "{what} must be 1 to 256 bytes of printable text (Unicode L, M, N, P, S, Zs)"
        ));
    }
    Ok(())
}

/// The wait event `name` with argument `v` (the time events take non-negative values).
fn wait_event(name: &str, v: i64) -> std::result::Result<WaitEvent, String> {
    let time = |v: i64| {
        u64::try_from(v).map_err(|_| format!("wait: \"{name}\" is a non-negative integer"))
    };
    Ok(match name {
        "authorization" => WaitEvent::Authorization(v),
        "power" => WaitEvent::Power(v),
        "network" => WaitEvent::Network(v),
        "time" => WaitEvent::Time(time(v)?),
        "time-of-day" => WaitEvent::TimeOfDay(time(v)?),
        "day-of-week" => WaitEvent::DayOfWeek(time(v)?),
        "time-of-day-utc" => WaitEvent::TimeOfDayUtc(time(v)?),
        "day-of-week-utc" => WaitEvent::DayOfWeekUtc(time(v)?),
        _ => return Err(format!("wait: unknown event \"{name}\" (authorization, power, network, time, time-of-day, day-of-week, time-of-day-utc, day-of-week-utc)")),
    })
}

/// A permission map: named actors (display text) => permission bits.
fn permissions(
    what: &str,
    m: &BTreeMap<String, u64>,
) -> std::result::Result<Vec<(ActorId, u64)>, String> {
    if m.is_empty() {
        return Err(format!("{what} needs at least one actor"));
    }
    m.iter()
        .map(|(k, v)| {
            display_text(what, k)?;
            Ok((ActorId::Text(k.clone()), *v))
        })
        .collect()
}

fn metadata(m: &MetadataDesc) -> std::result::Result<ComponentMetadata, String> {
    let mut out = ComponentMetadata {
        default_permissions: m.default_permissions,
        modification_time: m.modification_time,
        creation_time: m.creation_time,
        ..ComponentMetadata::default()
    };
    if let Some(map) = &m.user_permissions {
        out.user_permissions = permissions("user-permissions", map)?;
    }
    if let Some(map) = &m.group_permissions {
        out.group_permissions = permissions("group-permissions", map)?;
    }
    if let Some(map) = &m.role_permissions {
        out.role_permissions = permissions("role-permissions", map)?;
    }
    if let Some(t) = &m.file_type {
        out.file_type = Some(match t.as_str() {
            "regular" => FileType::Regular,
            "directory" => FileType::Directory,
            "symlink" => FileType::Symlink,
            _ => return Err(format!("file-type \"{t}\" (regular, directory, symlink)")),
        });
    }
    if let Some(c) = &m.creator {
        display_text("creator", c)?;
        out.creator = Some(ActorId::Text(c.clone()));
    }
    if out == ComponentMetadata::default() {
        return Err("metadata is empty".into());
    }
    Ok(out)
}

/// Reads a component's update-management fields.
pub(crate) fn component(c: &ComponentSpec) -> std::result::Result<ComponentUm, String> {
    let mut um = ComponentUm::default();
    let condition = |kind| Command::Condition(kind, REPORT_ALL);
    if let Some(t) = c.use_before {
        um.params.use_before = Some(t);
        um.commands.push(condition(ConditionKind::UseBefore));
    }
    if let Some(b) = c.minimum_battery {
        um.params.minimum_battery = Some(b);
        um.commands.push(condition(ConditionKind::MinimumBattery));
    }
    if let Some(p) = c.update_priority {
        um.params.update_priority = Some(p);
        um.commands.push(condition(ConditionKind::UpdateAuthorized));
    }
    if let Some(v) = &c.version {
        let comparison = comparison(&v.compare).ok_or_else(|| {
            format!(
                "version: compare \"{}\" (one of >, >=, =, <=, <)",
                v.compare
            )
        })?;
        check_version(&v.value).map_err(|e| format!("version: {e}"))?;
        um.params.version = Some(Arc::new(VersionMatch {
            comparison,
            value: v.value.clone(),
        }));
        um.commands.push(condition(ConditionKind::Version));
    }
    if let Some(w) = &c.wait {
        if w.is_empty() {
            return Err("wait: needs at least one event".into());
        }
        let mut events = w
            .iter()
            .map(|(name, v)| wait_event(name, *v))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        events.sort_by_key(|e| e.kind().value());
        um.params.wait_info = Some(Arc::new(WaitInfo { events }));
        um.commands.push(Command::Action(Action::Wait, REPORT_ALL));
    }
    if let Some(m) = &c.metadata {
        um.params.component_metadata =
            Some(Arc::new(metadata(m).map_err(|e| format!("metadata: {e}"))?));
    }
    if let Some(t) = &c.version_required_text {
        display_text("version-required-text", t)?;
        um.version_required = Some(t.clone());
    }
    if let Some(t) = &c.current_version_text {
        display_text("current-version-text", t)?;
        um.current_version = Some(t.clone());
    }
    Ok(um)
}

impl ComponentUm {
    /// `set-component-index i, override-parameters {..}, conditions.., wait` (empty if the
    /// component asks nothing of this draft). Conditions in label order; the wait last, so
    /// a device waits only for an update it would accept.
    pub(crate) fn install_prefix(&self, index: u64) -> Vec<Command> {
        if self.params == Parameters::default() {
            return Vec::new();
        }
        let mut out = vec![
            Command::SetComponentIndex(IndexArg::One(index)),
            Command::OverrideParameters(Box::new(self.params.clone())),
        ];
        // Conditions in label order, the wait last.
        let mut commands = self.commands.clone();
        commands.sort_by_key(|c| match c {
            Command::Condition(kind, _) => (false, kind.command().value()),
            _ => (true, 0),
        });
        out.extend(commands);
        out
    }
}

/// One component's suit-text entries: its encoded identifier (the map key) and the entries.
pub(crate) type ComponentText = (Vec<u8>, Vec<(ComponentTextKey, String)>);

/// suit-text's per-component entries (update management: 7 version-required, 8
/// current-version): `(encoded component identifier, entries)`, in canonical order (by the
/// identifier's encoding), components without any left out.
pub(crate) fn text_entries<'a>(
    components: impl Iterator<Item = (&'a Vec<Vec<u8>>, &'a ComponentUm)>,
) -> Vec<ComponentText> {
    let mut entries = Vec::new();
    for (id, um) in components {
        let mut inner = Vec::new();
        if let Some(t) = &um.version_required {
            inner.push((ComponentTextKey::VersionRequired, t.clone()));
        }
        if let Some(t) = &um.current_version {
            inner.push((ComponentTextKey::CurrentVersion, t.clone()));
        }
        if inner.is_empty() {
            continue;
        }
        let mut key = Encoder::new();
        key.array(id.len());
        for seg in id {
            key.bytes(seg);
        }
        entries.push((key.into_bytes(), inner));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}
