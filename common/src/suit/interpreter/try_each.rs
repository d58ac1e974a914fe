//! Try-each, and the snapshot / restore that undo a soft-failed try-each option or
//! run-sequence iteration.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use crate::suit::command::CommandSequence;
use crate::suit::component::ComponentId;
use crate::suit::error::{CommandErrorKind, Error};
use crate::suit::platform::Platform;

use super::{ComponentParams, Fail, Frame, Machine, SeqState, Staged, Unordered};

impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    pub(super) fn try_each(
        &mut self,
        frame: &mut Frame<'_, '_>,
        options: &[CommandSequence],
        empty_fallback: bool,
        idx: usize,
        path: &mut Vec<u16>,
    ) -> Result<Unordered, Fail> {
        for (n, option) in options.iter().enumerate() {
            self.charge(1)
                .map_err(|k| Fail::Abort(Self::err(frame, path, None, k)))?;
            let snapshot = self.snapshot(frame, path)?;
            let mut inner = SeqState::new(Some(vec![idx]), true, true);
            path.push(u16::try_from(n).unwrap_or(u16::MAX));
            let r = self.exec(frame, option, &mut inner, path);
            path.pop();
            match r {
                Ok(()) => {
                    self.keep(snapshot);
                    return Ok(inner.accessed);
                }
                Err(Fail::Condition(e)) if inner.soft_failure => {
                    self.restore(frame, snapshot, e, path)?
                }
                Err(f) => return Err(f),
            }
        }
        if empty_fallback {
            return Ok(Unordered::default());
        }
        Err(Fail::Condition(Self::err(
            frame,
            path,
            Some(idx),
            CommandErrorKind::TryEachExhausted,
        )))
    }

    /// What a try-each option or run-sequence iteration returns to if it fails softly. It
    /// copies what the run has set and staged so far, so it is charged a step per item
    /// copied: at one step each, options that fail at once would make an install take minutes
    /// within its budget.
    pub(super) fn snapshot(
        &mut self,
        frame: &Frame<'_, '_>,
        path: &[u16],
    ) -> Result<Snapshot, Fail> {
        let copies = self.params.len()
            + self.staged.len()
            + self.unlinked.len()
            + self.verified_dependencies.len()
            + frame.processed_dependencies.len();
        self.charge(copies as u64)
            .map_err(|k| Fail::Abort(Self::err(frame, path, None, k)))?;
        let snap = Snapshot {
            verified_dependencies: self.verified_dependencies.clone(),
            processed_dependencies: frame.processed_dependencies.clone(),
            params: self.params.clone(),
            staged: self.staged.clone(),
            dependencies: self.dependencies.len(),
            dependency_floor: self.dependency_floor,
            sequence_updates: self.sequence_updates.len(),
            unlinked: self.unlinked.clone(),
        };
        // The envelopes held now are what a restore returns to: a re-fetch adds, not replaces.
        self.dependency_floor = snap.dependencies;
        Ok(snap)
    }

    /// The sequence run under `snap` succeeded: its effects stand, and a dependency envelope
    /// it re-fetched now replaces the one fetched before it (no restore can need that one).
    pub(super) fn keep(&mut self, snap: Snapshot) {
        self.dependency_floor = snap.dependency_floor;
        let mut i = self.dependency_floor;
        while let Some(held) = self.dependencies.get(i) {
            let shadowed = (self.dependencies.iter().skip(i + 1)).any(|h| h.place == held.place);
            if shadowed {
                self.dependencies.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Undoes a failed (soft) sequence: parameters and staging return to the snapshot.
    /// A component staged before the snapshot and re-staged since cannot be restored by the
    /// platform, so that case is escalated to an abort rather than silently kept.
    /// Charged a step per comparison of what was staged or removed since with the snapshot.
    pub(super) fn restore(
        &mut self,
        frame: &mut Frame<'_, '_>,
        snap: Snapshot,
        cause: Error,
        path: &[u16],
    ) -> Result<(), Fail> {
        let compares =
            self.staged.len() * snap.staged.len() + self.unlinked.len() * snap.unlinked.len();
        self.charge(compares as u64)
            .map_err(|k| Fail::Abort(Self::err(frame, path, None, k)))?;
        self.params = snap.params;
        // A dependency verified or processed inside the failed sequence is not, once its
        // effects are undone (its envelope and number go below).
        self.verified_dependencies = snap.verified_dependencies;
        frame.processed_dependencies = snap.processed_dependencies;
        // Staged since the snapshot: by staging, not by content (re-staging the same bytes
        // must abort like any other, or the outcome would tell whether they were the same).
        let newly: Vec<ComponentId> = self.staged[..]
            .iter()
            .filter(|s| {
                !snap
                    .staged
                    .iter()
                    .any(|o| o.component == s.component && o.serial == s.serial)
            })
            .map(|s| s.component.clone())
            .collect();
        for c in &newly {
            if snap.staged.iter().any(|o| &o.component == c) {
                return Err(Fail::Abort(cause));
            }
            self.platform.stage_discard(c);
            // And what the key source noted for it (a release into the REE): undone too.
            self.keys.discarded(c);
        }
        // Removals staged since are cancelled; one that discarded content staged before the
        // snapshot cannot be undone, so that case aborts (as for re-staged content above).
        let cancelled: Vec<ComponentId> = self
            .unlinked
            .iter()
            .filter(|(c, _)| !snap.unlinked.iter().any(|(o, _)| o == c))
            .map(|(c, _)| c.clone())
            .collect();
        for c in &cancelled {
            if snap.staged.iter().any(|o| &o.component == c) {
                return Err(Fail::Abort(cause));
            }
            self.platform.stage_discard(c);
        }
        // Removals staged before the snapshot stand again (a write since may have cancelled one).
        for (c, _) in &snap.unlinked {
            if self.platform.unlink(c).is_err() {
                return Err(Fail::Abort(cause));
            }
        }
        self.unlinked = snap.unlinked;
        self.staged = snap.staged;
        self.dependencies.truncate(snap.dependencies);
        self.dependency_floor = snap.dependency_floor;
        // A dependency processed inside the failed sequence does not get its number stored.
        self.sequence_updates.truncate(snap.sequence_updates);
        Ok(())
    }
}

pub(super) struct Snapshot {
    verified_dependencies: Vec<Vec<u64>>,
    processed_dependencies: Vec<usize>,
    params: Vec<(ComponentId, Arc<ComponentParams>)>,
    staged: Vec<Staged>,
    dependencies: usize,
    dependency_floor: usize,
    sequence_updates: usize,
    unlinked: Vec<(ComponentId, u64)>,
}
