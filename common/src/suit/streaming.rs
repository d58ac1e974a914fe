//! Which detached payloads may be decrypted as they arrive: the firmware-encryption
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
//! platform checks again when the engine asks for the streamed result. It decides nothing:
//! the engine asks only once its own checks passed (policy, keys, who set the encryption info:
//! `CommandErrorKind::ForeignEncryptionInfo`), and checks the result as it checks its own.

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

/// A component, by the first index whose identifier it has (the engine keys parameters and
/// content by identifier, so two indices naming the same component are one).
type Slot = usize;

/// What a command did to a component, in the order the engine would do it. Only what the
/// plan needs is kept, bounded by [`MAX_FACT_BYTES`] in all: the events are at most
/// [`MAX_EVENTS`], and cloning whole parameter sets per event would let one small signed
/// manifest ask for many megabytes here.
enum Event {
    Fetch {
        slot: Slot,
        uri: Option<String>,
        encrypted: bool,
    },
    Copy {
        slot: Slot,
        source: Slot,
        encryption_info: Option<Vec<u8>>,
        image_size: Option<u64>,
    },
    /// Write, invoke or wait on the component.
    Other(Slot),
    /// A condition that reads the component's content (check-content).
    Reads(Slot),
}

/// Commands visited before the analysis gives up (flat sequences: the manifest's own
/// command count bounds it already; this is a second fence).
const MAX_EVENTS: usize = 4096;

/// URI and encryption-info bytes the events may copy in all before the analysis gives up
/// (the ordinary path then applies): a few plans' worth.
const MAX_FACT_BYTES: usize = 64 * 1024;

/// The payload URIs of `manifest` in the static fetch-then-decrypting-copy form, with what
/// the engine will do with each; empty when the manifest is not provably of that form.
pub fn stream_plans(manifest: &Manifest) -> Vec<StreamPlan> {
    simulate(manifest)
        .and_then(|e| plans(manifest, &e))
        .unwrap_or_default()
}

/// The slot of component index `idx`, if the manifest has it.
fn slot(manifest: &Manifest, idx: usize) -> Option<Slot> {
    let id = manifest.component_id(idx)?;
    (0..=idx).find(|j| manifest.component_id(*j).as_ref() == Some(&id))
}

fn simulate(manifest: &Manifest) -> Option<Vec<Event>> {
    if !manifest.common.dependencies.is_empty() {
        return None;
    }
    let count = manifest.index_count();
    let mut sim = Simulation {
        manifest,
        count,
        params: Vec::new(),
        events: Vec::new(),
        fact_bytes: 0,
    };
    for section in Procedure::Update.sections() {
        // As the engine: a section the manifest lacks runs nothing, not even shared.
        let Some(seq) = manifest.section(*section).ok()? else {
            continue;
        };
        let shared = manifest.common.shared_sequence.as_ref();
        for s in shared.into_iter().chain(core::iter::once(seq)) {
            sim.run(s)?;
        }
    }
    Some(sim.events)
}

struct Simulation<'m> {
    manifest: &'m Manifest,
    count: usize,
    /// Per slot, its parameters as the engine would hold them (at most one per component).
    params: Vec<(Slot, Parameters)>,
    events: Vec<Event>,
    fact_bytes: usize,
}

impl Simulation<'_> {
    /// Counts bytes an event copies; `None` (no plan) past the budget.
    fn spend(&mut self, n: usize) -> Option<()> {
        self.fact_bytes = self.fact_bytes.checked_add(n)?;
        (self.fact_bytes <= MAX_FACT_BYTES).then_some(())
    }

    fn run(&mut self, seq: &CommandSequence) -> Option<()> {
        let manifest = self.manifest;
        let count = self.count;
        let mut current: Option<Vec<usize>> = (count == 1).then(|| alloc::vec![0]);
        for cmd in &seq.commands {
            if self.events.len() >= MAX_EVENTS {
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
                        let at = slot(manifest, idx)?;
                        let pos = match self.params.iter().position(|(c, _)| *c == at) {
                            Some(pos) => pos,
                            None => {
                                self.params.push((at, Parameters::default()));
                                self.params.len() - 1
                            }
                        };
                        // Past the custom-parameter bound: no plan (the run refuses it).
                        self.params.get_mut(pos)?.1.apply(p, overwrite).ok()?;
                    }
                }
                Command::Condition(kind, _) => {
                    if *kind == ConditionKind::CheckContent {
                        for idx in current.clone().unwrap_or_default() {
                            let at = slot(manifest, idx)?;
                            self.events.push(Event::Reads(at));
                        }
                    }
                }
                Command::Action(
                    a @ (Action::Fetch
                    | Action::Copy
                    | Action::Write
                    | Action::Invoke
                    | Action::Wait),
                    _,
                ) => {
                    for idx in current.clone()? {
                        let at = slot(manifest, idx)?;
                        let event = self.event(*a, at)?;
                        self.events.push(event);
                    }
                }
                _ => return None,
            }
        }
        Some(())
    }

    /// What action `a` on `slot` does, with the facts the plan needs from its parameters.
    fn event(&mut self, a: Action, at: Slot) -> Option<Event> {
        let p = self.params.iter().find(|(c, _)| *c == at).map(|(_, p)| p);
        Some(match a {
            Action::Fetch => {
                let uri = p.and_then(|p| p.uri.as_deref()).map(String::from);
                let encrypted = p.is_some_and(|p| p.encryption_info.is_some());
                self.spend(uri.as_ref().map_or(0, String::len))?;
                Event::Fetch {
                    slot: at,
                    uri,
                    encrypted,
                }
            }
            Action::Copy => {
                // A copy without a source, or from an index the manifest lacks, aborts the
                // engine: no plan.
                let p = p?;
                let source = slot(self.manifest, usize::try_from(p.source_component?).ok()?)?;
                let encryption_info = p.encryption_info.as_deref().map(<[u8]>::to_vec);
                let image_size = p.image_size;
                self.spend(encryption_info.as_ref().map_or(0, Vec::len))?;
                Event::Copy {
                    slot: at,
                    source,
                    encryption_info,
                    image_size,
                }
            }
            _ => Event::Other(at),
        })
    }
}

fn plans(manifest: &Manifest, events: &[Event]) -> Option<Vec<StreamPlan>> {
    let mut out: Vec<StreamPlan> = Vec::new();
    for (at, e) in events.iter().enumerate() {
        let Event::Fetch {
            slot: buffer,
            uri: Some(uri),
            encrypted: false,
        } = e
        else {
            continue;
        };
        if uri.starts_with('#') || out.iter().any(|o| &o.uri == uri) {
            continue;
        }
        if let Some(plan) = plan_for(manifest, events, at, uri, *buffer) {
            out.push(plan);
        }
    }
    Some(out)
}

/// The plan for the fetch at `events[at]`, if nothing else fetches `uri` and the buffer and
/// the target are touched by exactly this fetch and one decrypting copy after it.
fn plan_for(
    manifest: &Manifest,
    events: &[Event],
    at: usize,
    uri: &str,
    buffer: Slot,
) -> Option<StreamPlan> {
    let mut copy: Option<usize> = None;
    for (i, e) in events.iter().enumerate() {
        match e {
            Event::Fetch { uri: Some(u), .. } if i != at && u == uri => return None,
            Event::Copy { source, .. } if *source == buffer => {
                if copy.is_some() || i < at {
                    return None;
                }
                copy = Some(i);
            }
            _ => {}
        }
    }
    let copy_at = copy?;
    let Some(Event::Copy {
        slot: target,
        encryption_info: Some(encryption_info),
        image_size: target_size,
        ..
    }) = events.get(copy_at)
    else {
        return None;
    };
    let (target, target_size) = (*target, *target_size);
    if target == buffer {
        return None;
    }
    let ours = |c: Slot| c == buffer || c == target;
    for (i, e) in events.iter().enumerate() {
        let touches = match e {
            Event::Reads(c) | Event::Other(c) => ours(*c),
            Event::Copy { slot, source, .. } => i != copy_at && (ours(*slot) || *source == target),
            Event::Fetch { slot, .. } => i != at && ours(*slot),
        };
        if touches {
            return None;
        }
    }
    Some(StreamPlan {
        uri: uri.into(),
        buffer: manifest.component_id(buffer)?,
        target: manifest.component_id(target)?,
        encryption_info: encryption_info.clone(),
        target_size,
    })
}
