//! Running command sequences: a section after the shared sequence, each command dispatched
//! in turn, the processor parameters, and the strict-order (unordered) access checks.

use alloc::vec;
use alloc::vec::Vec;

use crate::suit::command::{Action, Command, CommandSequence, IndexArg, Parameters};
use crate::suit::component::ComponentId;
use crate::suit::error::{CommandErrorKind, Error, Section};
use crate::suit::manifest::Manifest;
use crate::suit::platform::{Event, Platform, Record};

use super::{
    checked_index, component_id, push_once, Fail, Failure, Frame, Machine, SeqState, Unordered,
};

impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    /// Runs the shared sequence and then `section`, if the manifest has that section.
    pub(super) fn run_section(
        &mut self,
        frame: &mut Frame<'_, '_>,
        section: Section,
    ) -> Result<(), Error> {
        self.run_section_keep(frame, section)
            .map_err(Fail::into_error)
    }

    /// [`Self::run_section`] keeping whether a condition failed or the section aborted.
    pub(super) fn run_section_keep(
        &mut self,
        frame: &mut Frame<'_, '_>,
        section: Section,
    ) -> Result<(), Fail> {
        let Some(seq) = frame.manifest.section(section).map_err(Fail::Abort)? else {
            return Ok(());
        };
        frame.processed_dependencies.clear();
        if let Some(shared) = &frame.manifest.common.shared_sequence {
            frame.section = Section::Shared;
            self.run_top(frame, shared)?;
        }
        frame.section = section;
        self.run_top(frame, seq)?;
        frame.offset = None;
        self.check_dependencies_processed(frame, section)
            .map_err(Fail::Abort)
    }

    fn run_top(&mut self, frame: &mut Frame<'_, '_>, seq: &CommandSequence) -> Result<(), Fail> {
        let mut st = SeqState::new(default_index(frame.manifest), false, false);
        let mut path = Vec::new();
        self.exec(frame, seq, &mut st, &mut path)
    }

    pub(super) fn exec(
        &mut self,
        frame: &mut Frame<'_, '_>,
        seq: &CommandSequence,
        st: &mut SeqState,
        path: &mut Vec<u16>,
    ) -> Result<(), Fail> {
        let outer = frame.offset;
        for (i, cmd) in seq.commands.iter().enumerate() {
            frame.offset = seq.offsets.get(i).map(|o| u64::from(*o));
            path.push(u16::try_from(i).unwrap_or(u16::MAX));
            let on = st.current.as_ref().map_or(1, |c| c.len().max(1));
            let r = match self.charge(on as u64) {
                Ok(()) => self.exec_command(frame, cmd, st, path),
                Err(k) => Err(Fail::Abort(Self::err(frame, path, None, k))),
            };
            path.pop();
            if r.is_err() {
                // An error has its offset already; the enclosing command is current again.
                frame.offset = outer;
            }
            r?;
        }
        // Back to the command that ran this sequence (try-each / run-sequence).
        frame.offset = outer;
        Ok(())
    }

    /// strict-order and soft-failure, the processor parameters, as a parameter directive
    /// sets them: override-parameters and override-multiple (`overwrite`) always,
    /// set-parameters (trust domains: it "will skip setting" a set parameter) only while no
    /// directive of this sequence set it, the defaults at its start not counting as set. So
    /// `set-parameters{soft-failure: false}` opening a try-each option makes a failed
    /// condition abort, as the author asked (manifest-37) and as libcsuit reads it.
    /// strict-order true is a barrier (the sets start afresh).
    pub(super) fn set_processor_parameters(
        frame: &Frame<'_, '_>,
        st: &mut SeqState,
        path: &[u16],
        p: &Parameters,
        overwrite: bool,
    ) -> Result<(), Fail> {
        // Soft failure only inside try-each or run-sequence (manifest-37: it "MUST NOT be
        // set outside" them): named elsewhere by either directive, it aborts.
        if p.soft_failure.is_some() && !st.nested {
            return Err(Fail::Abort(Self::err(
                frame,
                path,
                None,
                CommandErrorKind::SoftFailureOutsideTryEach,
            )));
        }
        if let Some(strict) = p.strict_order.filter(|_| overwrite || !st.strict_order_set) {
            st.strict_order_set = true;
            if strict {
                st.unordered = None;
            } else if st.unordered.is_none() {
                st.unordered = Some(Unordered::default());
            }
        }
        if let Some(soft) = p.soft_failure.filter(|_| overwrite || !st.soft_failure_set) {
            st.soft_failure_set = true;
            st.soft_failure = soft;
        }
        Ok(())
    }

    fn exec_command(
        &mut self,
        frame: &mut Frame<'_, '_>,
        cmd: &Command,
        st: &mut SeqState,
        path: &mut Vec<u16>,
    ) -> Result<(), Fail> {
        match cmd {
            Command::SetComponentIndex(arg) => {
                let count = frame.manifest.index_count();
                let list: Vec<usize> = match arg {
                    IndexArg::All => (0..count).collect(),
                    IndexArg::One(i) => vec![checked_index(*i, count).ok_or_else(|| {
                        Fail::Abort(Self::err(
                            frame,
                            path,
                            None,
                            CommandErrorKind::ComponentIndexOutOfRange(*i),
                        ))
                    })?],
                    IndexArg::List(l) => {
                        let mut v = Vec::with_capacity(l.len());
                        for i in l {
                            v.push(checked_index(*i, count).ok_or_else(|| {
                                Fail::Abort(Self::err(
                                    frame,
                                    path,
                                    None,
                                    CommandErrorKind::ComponentIndexOutOfRange(*i),
                                ))
                            })?);
                        }
                        v
                    }
                };
                st.single_index = matches!(arg, IndexArg::One(_));
                st.all = matches!(arg, IndexArg::All);
                st.current = Some(list);
                st.barrier();
                Ok(())
            }
            Command::OverrideParameters(p) | Command::SetParameters(p) => {
                let overwrite = matches!(cmd, Command::OverrideParameters(_));
                if overwrite {
                    st.barrier();
                }
                Self::set_processor_parameters(frame, st, path, p, overwrite)?;
                for idx in Self::current(frame, st, path)? {
                    let id = Self::component_at(frame, path, idx)?;
                    self.params_mut(&id)
                        .and_then(|c| c.apply(p, overwrite, &frame.own_signers))
                        .map_err(|k| Fail::Abort(Self::err(frame, path, Some(idx), k)))?;
                }
                Ok(())
            }
            Command::TryEach {
                options,
                empty_fallback,
            } => {
                for idx in Self::current(frame, st, path)? {
                    let accessed = self.try_each(frame, options, *empty_fallback, idx, path)?;
                    Self::note_access(frame, st, accessed, Some(idx), path)?;
                }
                Ok(())
            }
            Command::RunSequence(seq) => {
                if st.unordered.is_some() {
                    // Issued while unordered: only a leading set-component-index, and only
                    // for an integer index (manifest-37 §6.7).
                    let allowed = usize::from(st.single_index);
                    let sets = |c: &Command| matches!(c, Command::SetComponentIndex(_));
                    let leads = seq.commands.first().is_some_and(sets);
                    if (st.single_index && !leads) || seq.commands.iter().skip(allowed).any(sets) {
                        return Err(Fail::Abort(Self::err(
                            frame,
                            path,
                            None,
                            CommandErrorKind::UnorderedRunSequenceIndex,
                        )));
                    }
                }
                for idx in Self::current(frame, st, path)? {
                    let snapshot = self.snapshot(frame, path)?;
                    // Each iteration runs with strict-order true (manifest-37 §6.7).
                    let mut inner = SeqState::new(Some(vec![idx]), false, true);
                    match self.exec(frame, seq, &mut inner, path) {
                        Ok(()) => {
                            self.keep(snapshot);
                            Self::note_access(frame, st, inner.accessed, Some(idx), path)?
                        }
                        // Soft failure: the sequence halts with no side effects.
                        Err(Fail::Condition(e)) if inner.soft_failure => {
                            self.restore(frame, snapshot, e, path)?
                        }
                        Err(f) => return Err(f),
                    }
                }
                Ok(())
            }
            Command::Condition(kind, policy) => {
                for idx in Self::condition_targets(st) {
                    let r = self.condition(frame, *kind, idx);
                    let id = idx
                        .map(|i| Self::component_at(frame, path, i))
                        .transpose()?;
                    let disclosure = self.disclosure(id.as_ref());
                    self.platform.report(&Record {
                        manifest_depth: frame.depth,
                        section: frame.section,
                        event: Event::Condition(*kind),
                        component: id.as_ref(),
                        success: r.is_ok(),
                        policy: *policy,
                        disclosure,
                        manifest_id: &frame.walk,
                        offset: frame.offset.unwrap_or(0),
                        component_index: idx,
                    });
                    match r {
                        Ok(()) => {}
                        Err(Failure::Soft(kind)) => {
                            return Err(Fail::Condition(Self::err(frame, path, idx, kind)))
                        }
                        Err(Failure::Hard(kind)) => {
                            return Err(Fail::Abort(Self::err(frame, path, idx, kind)))
                        }
                    }
                }
                Ok(())
            }
            Command::Action(action, policy) => {
                let indices = Self::current(frame, st, path)?;
                for idx in indices {
                    if *action == Action::ProcessDependency
                        && st.all
                        && frame.manifest.dependency(idx).is_none()
                    {
                        // Component index `true`: process-dependency applies to all dependencies
                        // (none, in a manifest without). Any other index must name one.
                        continue;
                    }
                    let id = Self::component_at(frame, path, idx)?;
                    let a = self.accesses(frame, *action, idx, &id);
                    Self::note_access(frame, st, a, Some(idx), path)?;
                    let r = self.action(frame, *action, idx, path);
                    let disclosure = self.disclosure(Some(&id));
                    self.platform.report(&Record {
                        manifest_depth: frame.depth,
                        section: frame.section,
                        event: event_of(*action),
                        component: Some(&id),
                        success: r.is_ok(),
                        policy: *policy,
                        disclosure,
                        manifest_id: &frame.walk,
                        offset: frame.offset.unwrap_or(0),
                        component_index: Some(idx),
                    });
                    if let Err(kind) = r {
                        let e = Self::err(frame, path, Some(idx), kind);
                        if core::mem::take(&mut self.dependency_condition_failed) {
                            return Err(Fail::Condition(e));
                        }
                        return Err(Fail::Abort(e));
                    }
                }
                Ok(())
            }
            // Custom labels are shared by conditions and directives, and the draft's only rule
            // for an unknown one is its condition rule ("If a Recipient encounters an unknown
            // condition, it MUST report a failure"): a failed condition, so try-each moves on.
            Command::Custom(label, _) => Err(Fail::Condition(Self::err(
                frame,
                path,
                None,
                CommandErrorKind::UnsupportedCommand(*label),
            ))),
            Command::OverrideMultiple(list) => self.override_multiple(frame, list, st, path),
            Command::CopyParams(list) => self.copy_params(frame, list, st, path),
        }
    }

    /// The components a condition runs on; with no index set it runs once without one
    /// (abort needs none; any other condition then fails for lack of a component).
    fn condition_targets(st: &SeqState) -> Vec<Option<usize>> {
        match &st.current {
            Some(l) => l.iter().map(|i| Some(*i)).collect(),
            None => vec![None],
        }
    }

    /// The components `action` on `idx` writes and reads as a source.
    fn accesses(
        &self,
        frame: &Frame<'_, '_>,
        action: Action,
        idx: usize,
        id: &ComponentId,
    ) -> Unordered {
        let id = id.clone();
        let source = match action {
            Action::Copy | Action::Swap => self
                .source_component(frame, idx, &self.params_of(&id).values)
                .ok()
                .map(|(_, c)| c),
            _ => None,
        };
        let mut a = Unordered::default();
        if !matches!(action, Action::Invoke | Action::ProcessDependency) {
            a.targets.push(id.clone());
        }
        a.sources.extend(source.clone());
        if action == Action::Swap {
            a.targets.extend(source);
            a.sources.push(id);
        }
        a
    }

    /// Records what a command (or a whole nested sequence) accessed; with strict-order false,
    /// refuses it if it writes a component an earlier command read as a source, or reads one
    /// an earlier command wrote, since the last barrier.
    fn note_access(
        frame: &Frame<'_, '_>,
        st: &mut SeqState,
        a: Unordered,
        idx: Option<usize>,
        path: &[u16],
    ) -> Result<(), Fail> {
        if let Some(u) = st.unordered.as_mut() {
            let conflict = a
                .targets
                .iter()
                .find(|t| u.sources.contains(t))
                .or_else(|| a.sources.iter().find(|s| u.targets.contains(s)));
            if let Some(c) = conflict {
                let component = (0..frame.manifest.index_count())
                    .find(|i| component_id(frame, *i).as_ref() == Ok(c))
                    .or(idx)
                    .unwrap_or_default();
                return Err(Fail::Abort(Self::err(
                    frame,
                    path,
                    idx,
                    CommandErrorKind::UnorderedSourceAndTarget { component },
                )));
            }
            add_new(&mut u.targets, a.targets.iter().cloned());
            add_new(&mut u.sources, a.sources.iter().cloned());
        }
        add_new(&mut st.accessed.targets, a.targets);
        add_new(&mut st.accessed.sources, a.sources);
        Ok(())
    }
}

/// Adds each of `ids` that `to` lacks: the access sets grow per component (at most a
/// manifest's 16), not per command run, however often a loop runs one.
fn add_new(to: &mut Vec<ComponentId>, ids: impl IntoIterator<Item = ComponentId>) {
    for id in ids {
        push_once(to, id);
    }
}

fn default_index(m: &Manifest) -> Option<Vec<usize>> {
    (m.index_count() == 1).then(|| vec![0])
}

fn event_of(a: Action) -> Event {
    match a {
        Action::Write => Event::Write,
        Action::Fetch => Event::Fetch,
        Action::Copy => Event::Copy,
        Action::Invoke => Event::Invoke,
        Action::Swap => Event::Swap,
        Action::ProcessDependency => Event::ProcessDependency,
        Action::Unlink => Event::Unlink,
        Action::Wait => Event::Wait,
    }
}
