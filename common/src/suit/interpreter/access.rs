//! Disclosure and ownership: what a record may say about staged content, and who must have
//! signed before content is compared, moved or replaced.

use alloc::sync::Arc;

use crate::suit::component::ComponentId;
use crate::suit::decrypt::CopiedContent;
use crate::suit::error::{CommandErrorKind, PolicyError};
use crate::suit::platform::{Disclosure, Platform};
use crate::suit::policy::AnchorId;

use super::{ComponentParams, Failure, Frame, Machine, Origin, Plaintext};

// Named by the documentation only.
#[cfg(doc)]
use super::Staged;
#[cfg(doc)]
use crate::suit::decrypt::KeySource;

/// Whether a parameter set by a manifest whose own signers are `setter` speaks for a manifest
/// whose own signers are `signers`: every one of them signed the setter too (so a manifest's
/// own values, and a co-signed dependent's, do; another party's do not).
pub(super) fn set_by_all_of(setter: Option<&Arc<[AnchorId]>>, signers: &[AnchorId]) -> bool {
    setter.is_some_and(|by| signers.iter().all(|s| by.contains(s)))
}

/// The manifest's own signers that also chose the source of its copy or swap
/// (`source_component_by`): parameters are shared across the manifest tree, and a dependent
/// that set source-component first would otherwise aim a dependency's copy, signed by the
/// source's owner, at content of that owner's it never meant to move.
pub(super) fn source_choosers(frame: &Frame<'_, '_>, held: &ComponentParams) -> Arc<[AnchorId]> {
    frame
        .own_signers
        .iter()
        .copied()
        .filter(|s| {
            held.source_component_by
                .as_ref()
                .is_some_and(|by| by.contains(s))
        })
        .collect()
}

/// Refuses `idx`'s command unless the manifest's own signers include all of `owners` (none:
/// nothing is withheld, nothing to refuse).
fn own_signers_include(
    frame: &Frame<'_, '_>,
    idx: usize,
    owners: Option<Arc<[AnchorId]>>,
) -> Result<(), CommandErrorKind> {
    match owners {
        Some(owners) if !set_by_all_of(Some(&frame.own_signers), &owners) => Err(
            CommandErrorKind::Policy(PolicyError::PlaintextNotPermitted { component: idx }),
        ),
        _ => Ok(()),
    }
}

impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    /// The [`Disclosure`] gate: what a record about `id` may say about its content.
    pub(super) fn disclosure(&self, id: Option<&ComponentId>) -> Disclosure {
        let Some(id) = id else {
            return Disclosure::Installed;
        };
        match self.staged.iter().find(|s| &s.component == id) {
            Some(s) => s.disclosure(),
            None => Disclosure::Installed,
        }
    }

    /// The first component whose staged content will be committed (not a consumed ciphertext
    /// buffer) inside the TEE, as the platform says, without being vouched for
    /// ([`Staged::vouched`]).
    pub(crate) fn unvouched(&self) -> Option<&ComponentId> {
        self.staged
            .iter()
            .find(|s| {
                !s.consumed && !s.vouched() && self.platform.requires_vouched_content(&s.component)
            })
            .map(|s| &s.component)
    }

    /// The staged record of `id` in this run, if it holds content not yet authenticated.
    pub(super) fn unauthenticated(&self, id: &ComponentId) -> bool {
        self.staged
            .iter()
            .any(|s| &s.component == id && !s.authenticated())
    }

    /// Who must all have signed before the REE learns anything of `id`'s current content
    /// (whether it matches a value, or where a copy of it goes): its owners while its digest
    /// is withheld (staged in this run and not describable, or installed so), `None`
    /// otherwise.
    /// The REE reads every outcome, so a comparison is a disclosure: without this an anchor
    /// sharing the scope could test guesses of another's low-entropy secret, one per install.
    pub(super) fn confided(&self, id: &ComponentId) -> Option<Arc<[AnchorId]>> {
        match self.staged.iter().find(|s| &s.component == id) {
            Some(s) if s.disclosure() == Disclosure::Withheld => {
                // Its owners (by scope) let it out: content gets into such a component only
                // from where it could be let out too (`KeySource::may_copy`).
                self.keys.owners(id)?;
                s.owned_by.clone()
            }
            Some(_) => None,
            None if self.platform.installed_digest_withheld(id) => self.keys.owners(id),
            None => None,
        }
    }

    /// Refuses, before any content is read, to compare `id`'s content with a value set by a
    /// manifest whose own signers are `by` unless they include all its owners (`confided`):
    /// the refusal aborts, whatever the content, so neither try-each nor soft-failure turns it
    /// into an answer.
    pub(super) fn may_compare(
        &self,
        idx: usize,
        id: &ComponentId,
        by: Option<&Arc<[AnchorId]>>,
    ) -> Result<(), Failure> {
        match self.confided(id) {
            Some(owners) if !set_by_all_of(by, &owners) => Err(Failure::Hard(
                CommandErrorKind::Policy(PolicyError::PlaintextNotPermitted { component: idx }),
            )),
            _ => Ok(()),
        }
    }

    /// Whether a manifest whose own signers are `signers` may move `src`'s content into
    /// `dest` (a copy, decrypting if `decrypting`, or one side of a swap), checked before
    /// anything is read: the key source's ownership rule ([`KeySource::may_copy`]), and for
    /// content whose digest is withheld, all its owners (`confided`) signed, or own `dest`
    /// too (a plain copy into a component whose commit does not read it) so that no anchor
    /// may compare it there that could not where it is.
    /// Decrypting it makes content whose comparison says what it was: that takes the owners'
    /// signatures.
    pub(super) fn may_move(
        &self,
        signers: &Arc<[AnchorId]>,
        dest: &ComponentId,
        src: &ComponentId,
        idx: usize,
        decrypting: bool,
    ) -> Result<(), CommandErrorKind> {
        let refused =
            CommandErrorKind::Policy(PolicyError::PlaintextNotPermitted { component: idx });
        let content = match self.staged.iter().find(|s| &s.component == src) {
            Some(s) if s.plaintext != Plaintext::Clear => CopiedContent::Decrypted,
            Some(s) if matches!(s.origin, Origin::Served | Origin::Manifest) => {
                CopiedContent::Supplied
            }
            _ => CopiedContent::Held,
        };
        if self.keys.may_copy(signers, dest, src, content).is_err() {
            return Err(refused);
        }
        if let Some(owners) = self.confided(src) {
            let kept = !decrypting
                && !self.platform.interprets_content(dest)
                && set_by_all_of(self.keys.owners(dest).as_ref(), &owners);
            if !kept && !set_by_all_of(Some(signers), &owners) {
                return Err(refused);
            }
        }
        Ok(())
    }

    /// Content staged by a manifest with the sequence number that installed `id`'s content
    /// (a dependency, or an invocation, may repeat it) is committed only if it is the same
    /// (the platform's per-component rollback rule), so the outcome compares the two. Where
    /// the installed content's digest is withheld, that takes all its owners among the
    /// manifest's own signers ([`KeySource::owners`]), decided before anything is staged.
    pub(super) fn may_replace_at_its_number(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
        id: &ComponentId,
    ) -> Result<(), CommandErrorKind> {
        if !self.installed_at_its_number(frame, id)? || !self.platform.installed_digest_withheld(id)
        {
            return Ok(());
        }
        own_signers_include(frame, idx, self.keys.owners(id))
    }

    /// The mirror of [`Self::may_replace_at_its_number`] for the content moved in: a copy into
    /// `dest` under the number that installed `dest`'s content commits only if the two are the
    /// same, so when `src`'s digest is withheld the outcome would say whether it equals what
    /// `dest` holds (content the copier may have chosen): that takes all `src`'s owners'
    /// signatures.
    pub(super) fn may_copy_at_its_number(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
        dest: &ComponentId,
        src: &ComponentId,
    ) -> Result<(), CommandErrorKind> {
        if !self.installed_at_its_number(frame, dest)? {
            return Ok(());
        }
        own_signers_include(frame, idx, self.confided(src))
    }

    /// Whether `id`'s installed content carries this manifest's sequence number, so that
    /// content staged there now commits only if it is the same.
    fn installed_at_its_number(
        &self,
        frame: &Frame<'_, '_>,
        id: &ComponentId,
    ) -> Result<bool, CommandErrorKind> {
        let installed = self
            .platform
            .component_sequence_number(id)
            .map_err(CommandErrorKind::Platform)?;
        Ok(installed == Some(frame.manifest.sequence_number))
    }
}
