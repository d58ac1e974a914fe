//! The one in-memory SUIT platform for tests: a device that records every effect the engine
//! asks for, so tests assert on what happened, not only on the result.

use std::collections::BTreeMap;

use suit_common::suit::error::{ConditionKind, Section};
use suit_common::suit::platform::{Event, IdentifierKind, Platform, PlatformError, Record};
use suit_common::suit::ComponentId;

use crate::vectors::{CLASS_ID, VENDOR_ID};

/// Everything the engine asked the platform to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Condition {
        depth: u8,
        section: Section,
        kind: ConditionKind,
        component: Option<ComponentId>,
        ok: bool,
    },
    Directive {
        depth: u8,
        section: Section,
        event: Event,
        component: ComponentId,
        ok: bool,
    },
    FetchOpen(String),
    StageOpen(ComponentId),
    StageDiscard(ComponentId),
    Swap(ComponentId, ComponentId),
    Invoke(ComponentId),
    Commit,
    Discard,
}

/// An in-memory device that records every effect. The fields after `discarded_staged` are
/// opt-in knobs (the fuzz targets use them); their defaults keep the unit tests' device.
#[derive(Debug, Default)]
pub struct RecordingPlatform {
    pub vendor: Vec<u8>,
    pub class: Vec<u8>,
    pub device: Option<Vec<u8>>,
    /// Slot each component currently occupies.
    pub slots: BTreeMap<ComponentId, u64>,
    pub installed: BTreeMap<ComponentId, Vec<u8>>,
    pub staged: BTreeMap<ComponentId, Vec<u8>>,
    /// Payloads reachable by URI.
    pub remote: BTreeMap<String, Vec<u8>>,
    open: Option<(Vec<u8>, usize)>,
    pub sequence: BTreeMap<Vec<u8>, u64>,
    staged_sequence: BTreeMap<Vec<u8>, u64>,
    pub log: Vec<Effect>,
    pub invocable: bool,
    /// What was staged when the engine discarded (to inspect refused work).
    pub discarded_staged: BTreeMap<ComponentId, Vec<u8>>,
    /// Most bytes one `fetch_read` returns: `None` gives 7-byte pieces (to exercise
    /// streaming); `Some(usize::MAX)` fills the engine's whole buffer, as a transport would.
    pub read_chunk: Option<usize>,
    /// Most bytes staged per component (`PlatformError::NoSpace` beyond); `None`: unbounded.
    pub max_staged: Option<usize>,
    /// Slot of every component not in `slots` (`None`: such a component is in no slot).
    pub default_slot: Option<u64>,
    /// Most effects kept in `log` (later ones are dropped, so a long fuzz run's log cannot
    /// grow with its input); `None`: all. `commits` and `discards` count regardless.
    pub log_limit: Option<usize>,
    pub commits: usize,
    pub discards: usize,
    /// Device policy [`Platform::requires_vouched_content`] for every component (the service's
    /// answer for content inside the TEE); `false`: the drafts' semantics.
    pub require_vouched: bool,
}

impl RecordingPlatform {
    /// A device matching the manifest-spec examples' vendor and class.
    pub fn spec_device() -> Self {
        RecordingPlatform {
            vendor: VENDOR_ID.to_vec(),
            class: CLASS_ID.to_vec(),
            invocable: true,
            ..Default::default()
        }
    }

    pub fn conditions(&self) -> Vec<(ConditionKind, bool)> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Condition { kind, ok, .. } => Some((*kind, *ok)),
                _ => None,
            })
            .collect()
    }

    pub fn directives(&self) -> Vec<(Event, ComponentId, bool)> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Directive {
                    event,
                    component,
                    ok,
                    ..
                } => Some((*event, component.clone(), *ok)),
                _ => None,
            })
            .collect()
    }

    pub fn committed(&self) -> bool {
        self.commits > 0
    }

    pub fn discarded(&self) -> bool {
        self.discards > 0
    }

    fn record(&mut self, e: Effect) {
        if self.log_limit.is_none_or(|max| self.log.len() < max) {
            self.log.push(e);
        }
    }
}

impl Platform for RecordingPlatform {
    fn identifier_matches(&self, kind: IdentifierKind, _c: &ComponentId, value: &[u8]) -> bool {
        match kind {
            IdentifierKind::Vendor => value == self.vendor.as_slice(),
            IdentifierKind::Class => value == self.class.as_slice(),
            IdentifierKind::Device => self.device.as_deref() == Some(value),
        }
    }

    fn slot_matches(&self, component: &ComponentId, slot: u64) -> Result<bool, PlatformError> {
        let current = self.slots.get(component).copied().or(self.default_slot);
        Ok(current == Some(slot))
    }

    fn fetch_open(&mut self, uri: &str, _args: Option<&[u8]>) -> Result<(), PlatformError> {
        self.record(Effect::FetchOpen(uri.into()));
        let data = self.remote.get(uri).ok_or(PlatformError::NotFound)?.clone();
        self.open = Some((data, 0));
        Ok(())
    }

    fn fetch_read(&mut self, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let (data, pos) = self.open.as_mut().ok_or(PlatformError::Io)?;
        let piece = self.read_chunk.unwrap_or(7).max(1);
        let n = (data.len() - *pos).min(buf.len()).min(piece);
        buf[..n].copy_from_slice(&data[*pos..*pos + n]);
        *pos += n;
        Ok(n)
    }

    fn stage_open(&mut self, c: &ComponentId) -> Result<(), PlatformError> {
        self.record(Effect::StageOpen(c.clone()));
        self.staged.insert(c.clone(), Vec::new());
        Ok(())
    }

    fn stage_write(&mut self, c: &ComponentId, data: &[u8]) -> Result<(), PlatformError> {
        let staged = self.staged.get_mut(c).ok_or(PlatformError::Io)?;
        if self
            .max_staged
            .is_some_and(|max| staged.len().saturating_add(data.len()) > max)
        {
            return Err(PlatformError::NoSpace);
        }
        staged.extend_from_slice(data);
        Ok(())
    }

    fn stage_discard(&mut self, c: &ComponentId) {
        self.record(Effect::StageDiscard(c.clone()));
        self.staged.remove(c);
    }

    fn read(&self, c: &ComponentId, offset: u64, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let data = self
            .staged
            .get(c)
            .or_else(|| self.installed.get(c))
            .ok_or(PlatformError::NotFound)?;
        let Ok(off) = usize::try_from(offset) else {
            return Ok(0);
        };
        if off >= data.len() {
            return Ok(0);
        }
        let n = (data.len() - off).min(buf.len());
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }

    fn swap(&mut self, a: &ComponentId, b: &ComponentId) -> Result<(), PlatformError> {
        self.record(Effect::Swap(a.clone(), b.clone()));
        Ok(())
    }

    fn requires_vouched_content(&self, _c: &ComponentId) -> bool {
        self.require_vouched
    }

    fn invoke(&mut self, c: &ComponentId, _args: Option<&[u8]>) -> Result<(), PlatformError> {
        self.record(Effect::Invoke(c.clone()));
        if self.invocable {
            Ok(())
        } else {
            Err(PlatformError::Unsupported)
        }
    }

    fn sequence_number(&self, key: &[u8]) -> Result<Option<u64>, PlatformError> {
        Ok(self.sequence.get(key).copied())
    }

    fn stage_sequence_number(
        &mut self,
        key: &[u8],
        value: u64,
        _signers: &[u32],
    ) -> Result<(), PlatformError> {
        self.staged_sequence.insert(key.to_vec(), value);
        Ok(())
    }

    fn commit(&mut self) -> Result<(), PlatformError> {
        self.commits += 1;
        self.record(Effect::Commit);
        let staged = std::mem::take(&mut self.staged);
        self.installed.extend(staged);
        let seq = std::mem::take(&mut self.staged_sequence);
        self.sequence.extend(seq);
        Ok(())
    }

    fn discard(&mut self) {
        self.discards += 1;
        self.record(Effect::Discard);
        self.discarded_staged = std::mem::take(&mut self.staged);
        self.staged_sequence.clear();
    }

    fn report(&mut self, r: &Record<'_>) {
        let e = match r.event {
            Event::Condition(kind) => Effect::Condition {
                depth: r.manifest_depth,
                section: r.section,
                kind,
                component: r.component.cloned(),
                ok: r.success,
            },
            event => Effect::Directive {
                depth: r.manifest_depth,
                section: r.section,
                event,
                component: r.component.cloned().unwrap_or_default(),
                ok: r.success,
            },
        };
        self.record(e);
    }
}

/// Implements `Platform` for a test device that wraps a [`RecordingPlatform`] in `$field`:
/// every storage, fetch and sequence-number method goes to the recording device, and the
/// methods given in the braces (the one thing each test device adds: `report` and any
/// update-management or per-component hooks) are written out as usual.
#[macro_export]
macro_rules! recording_platform_via {
    ($ty:ty, $field:ident, { $($extra:tt)* }) => {
        impl $crate::__suit_common::suit::platform::Platform for $ty {
            fn identifier_matches(
                &self,
                k: $crate::__suit_common::suit::platform::IdentifierKind,
                c: &$crate::__suit_common::suit::ComponentId,
                v: &[u8],
            ) -> bool {
                self.$field.identifier_matches(k, c, v)
            }
            fn slot_matches(
                &self,
                c: &$crate::__suit_common::suit::ComponentId,
                s: u64,
            ) -> Result<bool, $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.slot_matches(c, s)
            }
            fn fetch_open(
                &mut self,
                uri: &str,
                a: Option<&[u8]>,
            ) -> Result<(), $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.fetch_open(uri, a)
            }
            fn fetch_read(
                &mut self,
                buf: &mut [u8],
            ) -> Result<usize, $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.fetch_read(buf)
            }
            fn stage_open(
                &mut self,
                c: &$crate::__suit_common::suit::ComponentId,
            ) -> Result<(), $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.stage_open(c)
            }
            fn stage_write(
                &mut self,
                c: &$crate::__suit_common::suit::ComponentId,
                d: &[u8],
            ) -> Result<(), $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.stage_write(c, d)
            }
            fn stage_discard(&mut self, c: &$crate::__suit_common::suit::ComponentId) {
                self.$field.stage_discard(c)
            }
            fn read(
                &self,
                c: &$crate::__suit_common::suit::ComponentId,
                o: u64,
                buf: &mut [u8],
            ) -> Result<usize, $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.read(c, o, buf)
            }
            fn swap(
                &mut self,
                a: &$crate::__suit_common::suit::ComponentId,
                b: &$crate::__suit_common::suit::ComponentId,
            ) -> Result<(), $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.swap(a, b)
            }
            fn invoke(
                &mut self,
                c: &$crate::__suit_common::suit::ComponentId,
                a: Option<&[u8]>,
            ) -> Result<(), $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.invoke(c, a)
            }
            fn sequence_number(
                &self,
                k: &[u8],
            ) -> Result<Option<u64>, $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.sequence_number(k)
            }
            fn stage_sequence_number(
                &mut self,
                k: &[u8],
                v: u64,
                signers: &[u32],
            ) -> Result<(), $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.stage_sequence_number(k, v, signers)
            }
            fn commit(&mut self) -> Result<(), $crate::__suit_common::suit::platform::PlatformError> {
                self.$field.commit()
            }
            fn discard(&mut self) {
                self.$field.discard()
            }
            fn requires_vouched_content(
                &self,
                c: &$crate::__suit_common::suit::ComponentId,
            ) -> bool {
                self.$field.requires_vouched_content(c)
            }
            $($extra)*
        }
    };
}

/// The refusal of a manifest whose sequence number `offered` is not above the `stored` one.
pub fn rollback(stored: u64, offered: u64) -> suit_common::suit::error::Error {
    use suit_common::suit::error::{Error, PolicyError};
    Error::Policy(PolicyError::Rollback { stored, offered })
}

/// `suit::process` of `envelope` under [`spec_policy`](crate::spec_policy) with no device
/// keys: the manifest-spec examples' setting.
pub fn spec_process<P: Platform + ?Sized>(
    envelope: &[u8],
    procedure: suit_common::suit::Procedure,
    dev: &mut P,
) -> Result<suit_common::suit::Outcome, suit_common::suit::error::Error> {
    let keys = crate::vectors::no_keys();
    suit_common::suit::process(envelope, procedure, &crate::keys::spec_policy(), &keys, dev)
}
