//! The seam between the interpreter and payload decryption (`crate::encryption`).
//!
//! The interpreter only ever names these items, so the payload pipeline can change
//! behind them without touching command semantics. Contract: plaintext from
//! [`PayloadDecryptor::update`] is staged only, and the interpreter commits it only after
//! [`PayloadDecryptor::finish`] succeeded *and* the component matched its image digest.
//!
//! Which keys may decrypt is local policy, decided after authentication: the interpreter
//! asks a [`KeySource`] for the keys of the anchors that signed the manifest whose command
//! writes the payload, so a manifest signed by one tenant cannot open another tenant's
//! ciphertext (it has no key for it). The SUIT and COSE formats are unchanged.

use alloc::sync::Arc;

use crate::suit::component::ComponentId;
use crate::suit::policy::AnchorId;

pub use crate::encryption::{DecryptError, DeviceKeys, MemoryKeys, PayloadDecryptor};

/// Keys chosen for one decryption.
pub enum SelectedKeys<'a> {
    /// The same keys for every signer (tools and tests with one key set).
    Shared(&'a dyn DeviceKeys),
    /// Keys assembled for these signers.
    Own(MemoryKeys),
}

impl SelectedKeys<'_> {
    pub fn get(&self) -> &dyn DeviceKeys {
        match self {
            SelectedKeys::Shared(k) => *k,
            SelectedKeys::Own(k) => k,
        }
    }
}

/// Local policy refused confidential content in a component (e.g. plaintext into a
/// normal-world file when no signer's anchor allows that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaintextRefused;

/// What a copy (or one side of a swap) reads, as far as who may learn it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopiedContent {
    /// Staged in this run from what the REE served (a fetch, an integrated payload) or the
    /// manifest holds: nothing the REE and the signers do not already have.
    Supplied,
    /// Decrypted in this run.
    Decrypted,
    /// Installed content, or a copy of it staged in this run: its owners' (by scope).
    Held,
}

/// Chooses decryption keys by who signed.
pub trait KeySource {
    /// The keys for decrypting a payload into `component`, for a manifest authenticated by
    /// `signers` (that manifest's own signers, not its dependents').
    fn keys_for(
        &self,
        signers: &[AnchorId],
        component: &ComponentId,
    ) -> Result<SelectedKeys<'_>, PlaintextRefused>;

    /// Whether `signers` may copy `source` (holding `content`) into `component`. Copying is
    /// how decrypted or secure content could otherwise reach a place decryption into it is
    /// refused, or a party its owners did not let read it.
    fn may_copy(
        &self,
        _signers: &[AnchorId],
        _component: &ComponentId,
        _source: &ComponentId,
        _content: CopiedContent,
    ) -> Result<(), PlaintextRefused> {
        Ok(())
    }

    /// The anchors that own `component`'s content when its digest is withheld (confidential
    /// content no signed digest names), all of whom must have signed before the REE learns
    /// anything of it: whether it matches a value, where it may be copied. `None`: no one
    /// need, the content may reach the REE anyway (or this source knows no owners).
    fn owners(&self, _component: &ComponentId) -> Option<Arc<[AnchorId]>> {
        None
    }

    /// New content is now staged for `component`: the one the last [`Self::keys_for`] or
    /// [`Self::may_copy`] into it answered for, if any (none: content that needed neither).
    /// It replaces what was staged there before.
    fn staged(&self, _component: &ComponentId) {}

    /// What this run staged for `component` is gone (an undone try-each option or
    /// run-sequence, an unlink): its installed content stands again, or none.
    fn discarded(&self, _component: &ComponentId) {}
}

/// One key set for everyone, with no rule on who signed or where content goes: tests and
/// fuzzing. (The author tool's simulated device keeps the service's rules: its keys stand in
/// for the anchors' own, `service::keys::StandInKeys`.)
impl<T: DeviceKeys> KeySource for T {
    fn keys_for(
        &self,
        _signers: &[AnchorId],
        _component: &ComponentId,
    ) -> Result<SelectedKeys<'_>, PlaintextRefused> {
        Ok(SelectedKeys::Shared(self))
    }
}
