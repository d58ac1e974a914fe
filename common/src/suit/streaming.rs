//! Which detached payloads may be decrypted as they arrive (issue 14): the firmware-encryption
//! draft's static form, proved on the authenticated manifest before any payload byte is
//! accepted.
//!
//! The form: one suit-directive-fetch of a URI into a buffer component, and one
//! suit-directive-copy from that buffer into a target with suit-parameter-encryption-info,
//! nothing else writing or reading either component. The update procedure's sections are run
//! here abstractly, in the engine's order and with its parameter rules
//! ([`Parameters::apply`]), but only over sequences without alternatives: any try-each,
//! run-sequence, soft failure, strict-order false, dependency, swap, unlink, override-multiple,
//! copy-params or custom command gives no plan, and the install takes the ordinary path. A
//! condition can only end the procedure here (there is nothing to absorb it), so it changes no
//! parameter the engine will see. The plan is a promise about the engine's run, which the
//! platform checks again when the engine asks for the streamed result.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::command::{Action, Command, CommandSequence, IndexArg, Parameters};
use super::component::ComponentId;
use super::error::ConditionKind;
use super::{Manifest, Procedure};

/// One payload the engine will fetch into `buffer` and then decrypt into `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlan {
    pub uri: String,
    /// Where the ciphertext is fetched (a download buffer, dropped at commit).
    pub buffer: ComponentId,
    /// Where the decrypting copy writes the plaintext.
    pub target: ComponentId,
    /// The exact suit-parameter-encryption-info bytes the copy decrypts with.
    pub encryption_info: Vec<u8>,
    /// suit-parameter-image-size of the target at the copy (the engine's plaintext limit).
    pub target_size: Option<u64>,
}

/// What a command did to a component, in the order the engine would do it.
enum Event {
    /// The action, its component, that component's parameters, and for a copy its source.
    Action(Action, ComponentId, Box<Parameters>, Option<ComponentId>),
    /// A condition that reads the component's content (check-content).
    Reads(ComponentId),
}

/// Commands visited before the analysis gives up (flat sequences: the manifest's own
/// command count bounds it already; this is a second fence).
const MAX_EVENTS: usize = 4096;

/// The payload URIs of `manifest` in the static fetch-then-decrypting-copy form, with what
/// the engine will do with each; empty when the manifest is not provably of that form.
pub fn stream_plans(manifest: &Manifest) -> Vec<StreamPlan> {
    simulate(manifest).map(|e| plans(&e)).unwrap_or_default()
}

fn simulate(manifest: &Manifest) -> Option<Vec<Event>> {
    if !manifest.common.dependencies.is_empty() {
        return None;
    }
    let count = manifest.index_count();
    let mut params: Vec<(ComponentId, Parameters)> = Vec::new();
    let mut events = Vec::new();
    for section in Procedure::Update.sections() {
        // As the engine: a section the manifest lacks runs nothing, not even shared.
        let Some(seq) = manifest.section(*section).ok()? else {
            continue;
        };
        let shared = manifest.common.shared_sequence.as_ref();
        for s in shared.into_iter().chain(core::iter::once(seq)) {
            run(manifest, count, s, &mut params, &mut events)?;
        }
    }
    Some(events)
}

fn run(
    manifest: &Manifest,
    count: usize,
    seq: &CommandSequence,
    params: &mut Vec<(ComponentId, Parameters)>,
    events: &mut Vec<Event>,
) -> Option<()> {
    let mut current: Option<Vec<usize>> = (count == 1).then(|| alloc::vec![0]);
    for cmd in &seq.commands {
        if events.len() >= MAX_EVENTS {
            return None;
        }
        match cmd {
            Command::SetComponentIndex(arg) => {
                let ok = |i: u64| usize::try_from(i).ok().filter(|i| *i < count);
                current = Some(match arg {
                    IndexArg::All => (0..count).collect(),
                    IndexArg::One(i) => alloc::vec![ok(*i)?],
                    IndexArg::List(l) => l.iter().map(|i| ok(*i)).collect::<Option<_>>()?,
                });
            }
            Command::OverrideParameters(p) | Command::SetParameters(p) => {
                if p.soft_failure.is_some() || p.strict_order == Some(false) {
                    return None;
                }
                let overwrite = matches!(cmd, Command::OverrideParameters(_));
                for idx in current.clone()? {
                    let id = manifest.component_id(idx)?;
                    let pos = match params.iter().position(|(c, _)| *c == id) {
                        Some(pos) => pos,
                        None => {
                            params.push((id, Parameters::default()));
                            params.len() - 1
                        }
                    };
                    params.get_mut(pos)?.1.apply(p, overwrite);
                }
            }
            Command::Condition(kind, _) => {
                if *kind == ConditionKind::CheckContent {
                    for idx in current.clone().unwrap_or_default() {
                        events.push(Event::Reads(manifest.component_id(idx)?));
                    }
                }
            }
            Command::Action(
                a @ (Action::Fetch | Action::Copy | Action::Write | Action::Invoke | Action::Wait),
                _,
            ) => {
                for idx in current.clone()? {
                    let id = manifest.component_id(idx)?;
                    let p = params
                        .iter()
                        .find(|(c, _)| *c == id)
                        .map(|(_, p)| p.clone())
                        .unwrap_or_default();
                    // A source index the manifest lacks aborts the engine: no plan.
                    let source = match (a, p.source_component) {
                        (Action::Copy, Some(s)) => {
                            Some(manifest.component_id(usize::try_from(s).ok()?)?)
                        }
                        (Action::Copy, None) => return None,
                        _ => None,
                    };
                    events.push(Event::Action(*a, id, Box::new(p), source));
                }
            }
            _ => return None,
        }
    }
    Some(())
}

fn plans(events: &[Event]) -> Vec<StreamPlan> {
    let mut out: Vec<StreamPlan> = Vec::new();
    for (at, e) in events.iter().enumerate() {
        let Event::Action(Action::Fetch, buffer, p, _) = e else {
            continue;
        };
        let Some(uri) = p.uri.as_ref().filter(|u| !u.starts_with('#')) else {
            continue;
        };
        if p.encryption_info.is_some() || out.iter().any(|o| &o.uri == uri) {
            continue;
        }
        if let Some(plan) = plan_for(events, at, uri, buffer) {
            out.push(plan);
        }
    }
    out
}

/// The plan for the fetch at `events[at]`, if nothing else fetches `uri` and the buffer and
/// the target are touched by exactly this fetch and one decrypting copy after it.
fn plan_for(events: &[Event], at: usize, uri: &str, buffer: &ComponentId) -> Option<StreamPlan> {
    let mut copy: Option<(usize, &ComponentId, &Parameters)> = None;
    for (i, e) in events.iter().enumerate() {
        match e {
            Event::Action(Action::Fetch, _, p, _) if i != at && p.uri.as_deref() == Some(uri) => {
                return None
            }
            Event::Action(Action::Copy, target, p, Some(source)) if source == buffer => {
                if copy.is_some() || i < at {
                    return None;
                }
                copy = Some((i, target, p));
            }
            _ => {}
        }
    }
    let (copy_at, target, p) = copy?;
    let encryption_info = p.encryption_info.clone()?;
    if target == buffer {
        return None;
    }
    for (i, e) in events.iter().enumerate() {
        let touches = match e {
            Event::Reads(c) => c == buffer || c == target,
            Event::Action(Action::Wait | Action::Invoke, c, _, _) => c == buffer || c == target,
            Event::Action(Action::Copy, c, _, source) => {
                i != copy_at && (c == buffer || c == target || source.as_ref() == Some(target))
            }
            Event::Action(_, c, _, _) => i != at && (c == buffer || c == target),
        };
        if touches {
            return None;
        }
    }
    Some(StreamPlan {
        uri: uri.into(),
        buffer: buffer.clone(),
        target: target.clone(),
        encryption_info,
        target_size: p.image_size,
    })
}
