//! The authenticated size bound of each detached payload, for the REE to stop a download early.
//!
//! A fetch stages at most suit-parameter-image-size bytes of the fetched component
//! (manifest-37 suit-directive-fetch; the interpreter refuses more, and a different size). Which
//! image-size applies to which URI is a matter of execution order, so this walks the
//! authenticated command sequences abstractly: per component, the set of values the URI and the
//! image size may have at each fetch (every branch of try-each and every soft failure kept, the
//! sections in any order, until nothing changes). A URI gets a bound only if every fetch that
//! may use it has an image size; anything this analysis cannot follow (dependencies, budgets
//! exceeded) gives no bound, and the REE falls back to its configured cap. The bound is only a
//! transport limit: the interpreter still enforces the exact size.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use crate::suit::command::{Action, Command, CommandSequence, IndexArg, Parameters};
use crate::suit::Manifest;

/// Abstract steps (commands visited) before the analysis gives up.
const MAX_STEPS: usize = 100_000;
/// Passes over the sections before the analysis gives up.
const MAX_PASSES: usize = 16;
/// Distinct possible values of one parameter (or current index) before it gives up.
const MAX_VALUES: usize = 64;

/// Per URI (in the order given), the largest image size any fetch of it may stage, or `None`
/// when a fetch may have no image size or the manifest is beyond this analysis.
pub fn fetch_bounds(manifest: &Manifest, uris: &[String]) -> Vec<Option<u64>> {
    let none = vec![None; uris.len()];
    if !manifest.common.dependencies.is_empty() {
        // A dependency's sequences run with their own parameters and may fetch the same URIs.
        return none;
    }
    let mut a = Analysis {
        count: manifest.index_count(),
        steps: 0,
        failed: false,
        seen: Vec::new(),
    };
    let sections: Vec<&CommandSequence> = manifest
        .sequences()
        .skip(usize::from(manifest.common.shared_sequence.is_some()))
        .collect();
    let shared = manifest.common.shared_sequence.as_ref();
    let start = (manifest.index_count() == 1).then(|| vec![0usize]);
    // Parameters persist across sections, which run in an order this cannot know: each
    // section starts from any state a section (or the initial one) may leave.
    let mut entry = State::new(a.count);
    for _ in 0..MAX_PASSES {
        let mut next = entry.clone();
        for s in &sections {
            let mut st = entry.clone();
            let mut top = Top { reached: &mut next };
            for seq in shared.into_iter().chain(core::iter::once(*s)) {
                let cur = vec![start.clone()];
                a.exec(seq, &mut st, &cur, Some(&mut top));
            }
        }
        if a.failed {
            return none;
        }
        if next == entry {
            return uris
                .iter()
                .map(|u| {
                    let mut bound: Option<u64> = None;
                    let mut any = false;
                    for (uri, size) in &a.seen {
                        if **uri == **u {
                            any = true;
                            bound = Some(bound.unwrap_or(0).max((*size)?));
                        }
                    }
                    bound.filter(|_| any)
                })
                .collect();
        }
        entry = next;
    }
    none
}

/// The possible values of one parameter; `None` is "not set".
#[derive(Clone, PartialEq, Debug)]
struct Val<T>(Vec<Option<T>>);

impl<T: Clone + PartialEq> Val<T> {
    fn join(&mut self, other: &Self) -> bool {
        for v in &other.0 {
            if !self.0.contains(v) {
                self.0.push(v.clone());
            }
        }
        self.0.len() <= MAX_VALUES
    }
    /// override-parameters (`overwrite`) or set-parameters with `new`.
    fn apply(&mut self, new: &Option<T>, overwrite: bool) {
        if let Some(v) = new {
            if overwrite {
                self.0 = vec![Some(v.clone())];
            } else if let Some(pos) = self.0.iter().position(Option::is_none) {
                self.0.remove(pos);
                if !self.0.contains(&Some(v.clone())) {
                    self.0.push(Some(v.clone()));
                }
            }
        }
    }
    /// copy-params from a source with the values `src`: set where the source is set.
    fn copy(&mut self, src: &Self) {
        let mut out: Vec<Option<T>> = src.0.iter().filter(|v| v.is_some()).cloned().collect();
        if src.0.iter().any(Option::is_none) {
            for v in &self.0 {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        }
        self.0 = out;
    }
}

#[derive(Clone, PartialEq, Debug)]
struct Comp {
    uri: Val<Arc<str>>,
    size: Val<u64>,
}

#[derive(Clone, PartialEq, Debug)]
struct State(Vec<Comp>);

impl State {
    fn new(count: usize) -> Self {
        State(vec![
            Comp {
                uri: Val(vec![None]),
                size: Val(vec![None]),
            };
            count
        ])
    }
    fn join(&mut self, other: &Self) -> bool {
        let mut ok = true;
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            ok &= a.uri.join(&b.uri);
            ok &= a.size.join(&b.size);
        }
        ok
    }
}

/// Collects every state reached at the top level of a section.
struct Top<'a> {
    reached: &'a mut State,
}

struct Analysis {
    count: usize,
    steps: usize,
    failed: bool,
    /// (URI, image size) at each fetch that may happen.
    seen: Vec<(Arc<str>, Option<u64>)>,
}

impl Analysis {
    fn join(&mut self, a: &mut State, b: &State) {
        if !a.join(b) {
            self.failed = true;
        }
    }

    fn index(&self, arg: &IndexArg) -> Option<Vec<usize>> {
        let ok = |i: u64| usize::try_from(i).ok().filter(|i| *i < self.count);
        match arg {
            IndexArg::All => Some((0..self.count).collect()),
            IndexArg::One(i) => ok(*i).map(|i| vec![i]),
            IndexArg::List(l) => l.iter().map(|i| ok(*i)).collect(),
        }
    }

    /// Applies `f` to the components of every possible current index: strongly when the
    /// index is certain, else joined with the state before.
    fn update(
        &mut self,
        st: &mut State,
        cur: &[Option<Vec<usize>>],
        f: &dyn Fn(&mut Comp, &State),
    ) {
        let before = st.clone();
        let mut out: Option<State> = None;
        for list in cur.iter().flatten() {
            let mut s = before.clone();
            for &c in list {
                if let Some(comp) = s.0.get_mut(c) {
                    f(comp, &before);
                }
            }
            match &mut out {
                None => out = Some(s),
                Some(o) => self.join(o, &s),
            }
        }
        if let Some(o) = out {
            *st = o;
            if cur.len() > 1 || cur.iter().any(Option::is_none) {
                self.join(st, &before);
            }
        }
    }

    /// Runs `seq` abstractly from `st` with the possible current indices `cur`.
    fn exec(
        &mut self,
        seq: &CommandSequence,
        st: &mut State,
        cur: &[Option<Vec<usize>>],
        mut top: Option<&mut Top<'_>>,
    ) {
        let mut cur: Vec<Option<Vec<usize>>> = cur.to_vec();
        for cmd in &seq.commands {
            self.steps += 1;
            if self.steps > MAX_STEPS || self.failed {
                self.failed = true;
                return;
            }
            match cmd {
                Command::SetComponentIndex(arg) => match self.index(arg) {
                    Some(list) => cur = vec![Some(list)],
                    // The interpreter aborts: nothing after runs.
                    None => return,
                },
                Command::OverrideParameters(p) | Command::SetParameters(p) => {
                    let ow = matches!(cmd, Command::OverrideParameters(_));
                    let p: &Parameters = p;
                    self.update(st, &cur, &|c, _| {
                        c.uri.apply(&p.uri, ow);
                        c.size.apply(&p.image_size, ow);
                    });
                }
                Command::OverrideMultiple(list) => {
                    for (i, p) in list {
                        let Some(one) = self.index(&IndexArg::One(*i)) else {
                            return;
                        };
                        self.update(st, &[Some(one)], &|c, _| {
                            c.uri.apply(&p.uri, true);
                            c.size.apply(&p.image_size, true);
                        });
                    }
                }
                Command::CopyParams(list) => {
                    for (i, labels) in list {
                        let Some(src) = self
                            .index(&IndexArg::One(*i))
                            .and_then(|v| v.first().copied())
                        else {
                            return;
                        };
                        let (uri, size) = (labels.contains(&21), labels.contains(&14));
                        self.update(st, &cur, &|c, before| {
                            if let Some(s) = before.0.get(src) {
                                if uri {
                                    c.uri.copy(&s.uri);
                                }
                                if size {
                                    c.size.copy(&s.size);
                                }
                            }
                        });
                    }
                }
                Command::TryEach { options, .. } => {
                    // Per component, in order; each option starts from the state before it
                    // (a failed option is undone) and may be the one that succeeds.
                    self.nested(st, &cur, options);
                }
                Command::RunSequence(inner) => {
                    self.nested(st, &cur, core::slice::from_ref(inner));
                }
                Command::Action(Action::Fetch, _) => {
                    for list in cur.iter().flatten() {
                        for &c in list {
                            let Some(comp) = st.0.get(c) else { continue };
                            for uri in comp.uri.0.iter().flatten() {
                                if uri.starts_with('#') {
                                    continue;
                                }
                                for size in &comp.size.0 {
                                    let e = (uri.clone(), *size);
                                    if !self.seen.contains(&e) {
                                        if self.seen.len() >= MAX_VALUES * MAX_VALUES {
                                            self.failed = true;
                                            return;
                                        }
                                        self.seen.push(e);
                                    }
                                }
                            }
                        }
                    }
                }
                Command::Condition(..) | Command::Action(..) | Command::Custom(..) => {}
            }
            if let Some(t) = top.as_mut() {
                let s = st.clone();
                self.join(t.reached, &s);
            }
        }
    }

    /// try-each / run-sequence: for each component of each possible current index, each
    /// option runs with that component current; the result joins the state before (soft
    /// failure undoes) with every option's end.
    fn nested(&mut self, st: &mut State, cur: &[Option<Vec<usize>>], options: &[CommandSequence]) {
        let before = st.clone();
        let mut out: Option<State> = None;
        for list in cur.iter().flatten() {
            let mut s = before.clone();
            for &c in list {
                let mut acc = s.clone();
                for o in options {
                    let mut inner = s.clone();
                    self.exec(o, &mut inner, &[Some(vec![c])], None);
                    self.join(&mut acc, &inner);
                }
                s = acc;
            }
            match &mut out {
                None => out = Some(s),
                Some(o) => self.join(o, &s),
            }
        }
        if let Some(o) = out {
            *st = o;
            if cur.len() > 1 {
                self.join(st, &before);
            }
        }
    }
}
