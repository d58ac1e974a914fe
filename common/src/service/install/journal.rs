//! The install journal: what an unfinished install may have left behind, named before it
//! exists, and the recovery that runs on it ([`reconcile`] rolls an interrupted TA commit
//! forward; [`cleanup`] empties or deletes exactly the objects the committed state does not
//! use).
//!
//! Once written, the journal object stays: a finished install leaves it empty (no bytes:
//! on OP-TEE one truncation of the open object) instead of deleting it. On OP-TEE's REE FS,
//! looking up a missing object and creating an object under a new name each read the whole
//! object directory (`dirf.db`, one entry per object of every TA: slower as it grows), and a
//! failed look-up also closes the directory, which the next operation reopens and reads
//! again; overwriting an existing object reads the directory only up to its entry.

use alloc::string::String;
use alloc::vec::Vec;

use super::super::components::{classify, Kind};
use super::super::state::{component_from, State, StateError};
use super::super::store::{SecureStore, StoreError};
use super::super::TaStore;
use super::{MAX_PAYLOADS, MAX_SERIAL, MAX_STAGED, MAX_TA_IMAGE};

/// Object holding the install [`Journal`].
pub const JOURNAL_OBJECT: &str = "suit/journal";
/// Largest journal accepted (a pending commit carries a whole state record).
const MAX_JOURNAL: usize = 320 * 1024;
/// Most objects a journal lists: payloads, staging objects and replaced components.
const MAX_JOURNAL_OBJECTS: usize = MAX_PAYLOADS + MAX_SERIAL + super::state::MAX_COMPONENTS + 1;

/// What an unfinished install may have left behind, written before it happens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journal {
    /// Objects that are garbage unless the committed state uses them: payloads and staging
    /// objects (named before they are created) and the components a commit replaces (named
    /// before the state switches).
    pub objects: Vec<String>,
    /// A commit that has started handing a TA image to OP-TEE.
    pub pending: Option<PendingCommit>,
}

/// The state a commit switches to, and how the TA image OP-TEE must hold before it does is
/// found again: kept as a plaintext object in secure storage until installed (`tas`), or,
/// for an image the TA held in memory only, the envelope that brings it (`envelope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCommit {
    pub state: State,
    pub tas: Vec<String>,
    /// SHA-256 of the envelope whose install this commit finishes, when `tas` is empty: the
    /// image is in no object, so only that envelope, installed again over the same state,
    /// ends the commit (or an abandonment, see [`abandon`]).
    pub envelope: Option<crate::protocol::ByteBuf>,
}

crate::cbor::struct_codec!(Journal { objects, pending });
crate::cbor::struct_codec!(PendingCommit {
    state,
    tas,
    envelope = default
});

impl PendingCommit {
    /// The envelope this commit awaits, if it kept no image object.
    pub fn awaited(&self) -> Option<[u8; 32]> {
        match self.tas.is_empty() {
            true => <[u8; 32]>::try_from(self.envelope.as_ref()?.as_slice()).ok(),
            false => None,
        }
    }
}

impl Journal {
    /// The stored journal, if any (none: nothing to recover). Missing while the device keys
    /// exist, it was deleted ([`super::super::keys::established`]): a commit it held pending
    /// would otherwise be forgotten.
    pub fn load<S: SecureStore + ?Sized>(store: &S) -> Result<Option<Journal>, StateError> {
        let Some(bytes) = store.get(JOURNAL_OBJECT)? else {
            if super::super::keys::established(store)? {
                return Err(StateError::Deleted);
            }
            return Ok(None);
        };
        // How an empty journal is stored (see `save`); the encoded empty one is read too.
        if bytes.is_empty() {
            return Ok(Some(Journal::default()));
        }
        let journal: Journal =
            super::record::decode_stored(&bytes, MAX_JOURNAL).map_err(|_| StateError::Corrupt)?;
        let tas = journal.pending.as_ref().map_or(0, |p| p.tas.len());
        if journal.objects.len() > MAX_JOURNAL_OBJECTS || tas > MAX_STAGED {
            return Err(StateError::Corrupt);
        }
        // A pending commit names where its image is found again: an object, or the envelope.
        if journal
            .pending
            .as_ref()
            .is_some_and(|p| p.tas.is_empty() && p.awaited().is_none())
        {
            return Err(StateError::Corrupt);
        }
        Ok(Some(journal))
    }

    pub(super) fn save<S: SecureStore + ?Sized>(&self, store: &mut S) -> Result<(), StoreError> {
        if self.objects.len() > MAX_JOURNAL_OBJECTS {
            return Err(StoreError::NoSpace);
        }
        // As no bytes: the shortest write, and on OP-TEE an in-place one (`put_record` over an
        // open object takes a truncation for empty data, a write for data at least as long).
        if self.is_empty() {
            return store.put_record(JOURNAL_OBJECT, &[]);
        }
        // Wiped after the write: a pending state holds symmetric anchor keys.
        let bytes =
            zeroize::Zeroizing::new(super::record::encode(self).map_err(|_| StoreError::Corrupt)?);
        store.put_record(JOURNAL_OBJECT, &bytes)
    }

    /// Records `names` in one write (none if all are listed already) before the caller
    /// creates the first of them. A failed write leaves the list as it was.
    pub(super) fn note_all<'n, S: SecureStore + ?Sized>(
        &mut self,
        store: &mut S,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Result<(), StoreError> {
        let before = self.objects.len();
        for name in names {
            if !self.objects.iter().any(|o| o == name) {
                self.objects.push(name.into());
            }
        }
        if self.objects.len() == before {
            return Ok(());
        }
        if let Err(e) = self.save(store) {
            self.objects.truncate(before);
            return Err(e);
        }
        Ok(())
    }

    /// Whether this journal lists nothing: the one in memory after `begin` (not stored), or
    /// the one a finished install leaves stored ([`cleanup_listed`]).
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.pending.is_none()
    }
}

/// What [`reconcile`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// No commit was interrupted.
    Nothing,
    /// An interrupted commit was finished: its TA images are installed, its state is current.
    RolledForward,
    /// An interrupted commit whose TA image was kept in TA memory only: the same envelope
    /// (this SHA-256) installed again finishes it, over the same state; until then, or its
    /// [`abandon`], nothing else may run (OP-TEE's store may hold either image).
    Awaiting([u8; 32]),
    /// OP-TEE answered the re-install of an interrupted commit's image with a result that
    /// will not pass by retrying ([`RETRIED`] aside: a refusal of the image, signature,
    /// format, version, or a missing TA-store service). The REE can forge that answer, so it
    /// does not prove OP-TEE holds the old image: the update is not applied and the state
    /// records the TA as unconfirmed ([`State::unconfirmed_tas`]). The TEE result code.
    Unconfirmed(u32),
    /// No journal, or an empty one, is stored: nothing to recover, and nothing for the next
    /// `begin` to clean.
    NoJournal,
}

/// TEE results of a TA-store install that may pass (storage the REE has not made available
/// yet, no space, busy, a lost RPC): the commit stays pending and is tried again before the
/// next command, so a provoked failure delays the roll-forward. Any other result (the image
/// refused: signature, format, version; or a failure that will not pass, such as a missing
/// TA-store service) ends the commit unapplied with the TA marked unconfirmed: retrying it
/// would lock the device out of every command. Every code may come from the REE; both ends
/// leave nothing mixed in use (an unconfirmed TA gets no personalization data).
pub(super) const RETRIED: [u32; 4] = [
    0xf010_0003, // TEE_ERROR_STORAGE_NOT_AVAILABLE
    0xffff_3041, // TEE_ERROR_STORAGE_NO_SPACE
    0xffff_000d, // TEE_ERROR_BUSY
    0xffff_000e, // TEE_ERROR_COMMUNICATION
];

/// Finishes a commit a power cut interrupted after it recorded its next state: installs its
/// TA images again (OP-TEE accepts the same version twice) and switches to its state. Runs
/// before the first command of a session; idempotent, so a cut inside it is recovered too.
/// An error leaves the commit pending (the service then refuses all but status).
pub fn reconcile<D: SecureStore + TaStore>(store: &mut D) -> Result<Reconciled, StateError> {
    let Some(mut journal) = Journal::load(store)?.filter(|j| !j.is_empty()) else {
        return Ok(Reconciled::NoJournal);
    };
    let Some(pending) = journal.pending.clone() else {
        return Ok(Reconciled::Nothing);
    };
    let state = State::load(store)?;
    let mut outcome = Reconciled::RolledForward;
    if pending.state.generation > state.generation {
        if let Some(envelope) = pending.awaited() {
            return Ok(Reconciled::Awaiting(envelope));
        }
        // Every TA of the commit is marked if one is refused: any may be in OP-TEE's store.
        let mut uuids = Vec::new();
        for object in &pending.tas {
            let image = read_object(store, object, MAX_TA_IMAGE)?;
            // Nothing of the image is read before it is known to be the one the commit
            // checked: that of the TA whose record this commit changes (one per update), with
            // that record's digest (not the image of another installed TA, which the REE may
            // serve under the kept name; other components may hold the same bytes); then its
            // header must name that TA.
            let digest = super::super::digests::sha256(&image);
            let uuid = pending
                .state
                .components
                .iter()
                .filter(|c| state.component(&component_from(&c.id)) != Some(*c))
                .find_map(|c| match classify(&component_from(&c.id)) {
                    Ok(Kind::TrustedApp { uuid })
                        if bool::from(subtle::ConstantTimeEq::ct_eq(
                            digest.as_slice(),
                            c.digest.as_slice(),
                        )) =>
                    {
                        Some(uuid)
                    }
                    _ => None,
                })
                .ok_or(StateError::Corrupt)?;
            let header = super::super::components::parse_ta_header(&image)
                .map_err(|_| StateError::Corrupt)?;
            if header.uuid != uuid {
                return Err(StateError::Corrupt);
            }
            uuids.push(header.uuid);
            if let Reconciled::Unconfirmed(_) = outcome {
                continue;
            }
            match store.install_ta(&image) {
                Ok(()) => {}
                Err(code) if RETRIED.contains(&code) => {
                    return Err(StateError::Store(StoreError::Io(code)))
                }
                Err(code) => outcome = Reconciled::Unconfirmed(code),
            }
        }
        // One atomic write ends the pending commit either way: its state, or the old one
        // with the TA marked (same generation, so a cut after it never rolls forward).
        match outcome {
            Reconciled::RolledForward => pending.state.save(store)?,
            _ => state
                .unapplied_commit(pending.state.generation, &uuids)
                .ok_or(StateError::Store(StoreError::NoSpace))?
                .save(store)?,
        }
    }
    // Done either way: the kept images are garbage now, like everything else listed.
    journal.pending = None;
    for object in pending.tas {
        if !journal.objects.contains(&object) {
            journal.objects.push(object);
        }
    }
    journal.save(store)?;
    Ok(outcome)
}

/// Empties (names a later install takes again, see `free_slot`) or deletes exactly the
/// journal's objects that `state` does not use, then empties the journal (kept, not deleted:
/// see the module's note). Only staging and payload names are ever touched, and nothing
/// while a commit is pending (its kept TA images are listed among the objects too, as the
/// objects it replaced).
pub fn cleanup(store: &mut dyn SecureStore, state: &State) -> Result<Journal, StateError> {
    let Some(journal) = Journal::load(store)? else {
        return Ok(Journal::default());
    };
    cleanup_listed(store, state, &journal, &[])
}

/// [`cleanup`] with the journal the session kept in memory: the one it last stored (each
/// save updates both, a failed one neither), so it is not read back. An empty one lists
/// nothing to delete and costs nothing. `sized`: objects whose length the caller knows from
/// the state record that named them (the components its commit replaced). Returns the
/// journal now stored: empty, or still holding a commit that is pending.
pub(super) fn cleanup_listed(
    store: &mut dyn SecureStore,
    state: &State,
    journal: &Journal,
    sized: &[(String, u64)],
) -> Result<Journal, StateError> {
    if journal.is_empty() {
        return Ok(Journal::default());
    }
    // A pending commit not yet in the state is `reconcile`'s; one already in it is done. One
    // that awaits its envelope stays (only that envelope's commit, or an abandonment, ends
    // it), but nothing it staged is used again: that commit stages everything anew.
    let awaiting = journal
        .pending
        .as_ref()
        .filter(|p| p.state.generation > state.generation);
    if awaiting.is_some_and(|p| p.awaited().is_none()) {
        return Ok(journal.clone());
    }
    for name in &journal.objects {
        if !super::is_install_object(name) || state.components.iter().any(|c| &c.object == name) {
            continue;
        }
        let len = sized.iter().find(|(n, _)| n == name).map(|(_, len)| *len);
        // A name a later install may take again is kept, empty (see `free_slot`).
        let kept = super::slot_of(name).is_some_and(|slot| slot <= super::MAX_SLOT);
        if kept {
            store.empty(name, len)?;
        } else {
            store.remove(name)?;
        }
    }
    let left = Journal {
        objects: Vec::new(),
        pending: awaiting.cloned(),
    };
    left.save(store)?;
    Ok(left)
}

/// Ends a commit that awaits the envelope `envelope` without applying it: the old state
/// stays, with the TA the commit changes marked unconfirmed in the same atomic write (its
/// personalization data withheld until an update installs it), as when OP-TEE refuses the
/// install; then what the commit staged is cleaned. The REE reaches the same end by failing
/// OP-TEE's TA-store install, so this gives it nothing new; an honest power cut never ends
/// here unless the envelope cannot be sent again. `false`: no commit awaits that envelope.
pub fn abandon(store: &mut dyn SecureStore, envelope: &[u8]) -> Result<bool, StateError> {
    let Some(journal) = Journal::load(store)? else {
        return Ok(false);
    };
    let state = State::load(store)?;
    let Some(pending) = journal
        .pending
        .as_ref()
        .filter(|p| p.state.generation > state.generation)
    else {
        return Ok(false);
    };
    let awaited = pending.awaited();
    if !awaited.is_some_and(|a| bool::from(subtle::ConstantTimeEq::ct_eq(&a[..], envelope))) {
        return Ok(false);
    }
    let marked = abandoned_state(&state, pending)?;
    marked.save(store)?;
    // Not pending any more (its generation is the state's): the cleanup removes the rest,
    // or the next `begin` does (a failure here does not undo the abandon).
    let _ = cleanup_listed(store, &marked, &journal, &[]);
    Ok(true)
}

/// The state an abandonment of `pending` stores over `state`: the old one at the commit's
/// generation, with the TA the commit changes (the one TA component its state changes, one
/// per update) marked unconfirmed. Known before the abandonment, so that the report of the
/// refusal that left the commit awaiting can be bound to it (`InstallSession::finish`).
pub(super) fn abandoned_state(state: &State, pending: &PendingCommit) -> Result<State, StateError> {
    let uuids: Vec<[u8; 16]> = pending
        .state
        .components
        .iter()
        .filter(|c| state.component(&component_from(&c.id)) != Some(*c))
        .filter_map(|c| match classify(&component_from(&c.id)) {
            Ok(Kind::TrustedApp { uuid }) => Some(uuid),
            _ => None,
        })
        .collect();
    if uuids.is_empty() {
        return Err(StateError::Corrupt);
    }
    state
        .unapplied_commit(pending.state.generation, &uuids)
        .ok_or(StateError::Store(StoreError::NoSpace))
}

fn read_object<S: SecureStore + ?Sized>(
    store: &S,
    name: &str,
    limit: u64,
) -> Result<zeroize::Zeroizing<Vec<u8>>, StateError> {
    let len = store.len(name)?.ok_or(StateError::Corrupt)?;
    if len > limit {
        return Err(StateError::Corrupt);
    }
    let len = usize::try_from(len).map_err(|_| StateError::Corrupt)?;
    let mut image = super::store::zeroed(len)?;
    super::store::read_exact(store, name, 0, &mut image).map_err(|e| match e {
        StoreError::NotCommitted => StateError::Corrupt,
        e => e.into(),
    })?;
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::store::MemoryStore;

    /// The empty journal a finished install leaves is no bytes (on OP-TEE a truncation of
    /// the open object); one stored encoded, as a TA before this one left it, reads as
    /// empty too, and a journal that lists something round-trips.
    #[test]
    fn the_empty_journal_is_stored_as_no_bytes() {
        let mut store = MemoryStore::new();
        Journal::default().save(&mut store).unwrap();
        assert_eq!(store.raw(JOURNAL_OBJECT).unwrap(), b"");
        assert_eq!(Journal::load(&store).unwrap(), Some(Journal::default()));

        let encoded = crate::service::record::encode(&Journal::default()).unwrap();
        assert!(!encoded.is_empty());
        store.put_record(JOURNAL_OBJECT, &encoded).unwrap();
        assert_eq!(Journal::load(&store).unwrap(), Some(Journal::default()));

        let listing = Journal {
            objects: alloc::vec!["suit/in/0/0".into()],
            pending: None,
        };
        listing.save(&mut store).unwrap();
        assert_eq!(Journal::load(&store).unwrap(), Some(listing));
    }

    /// A pending commit says where its image is found again: a kept object, or the envelope
    /// it awaits (32 bytes); one with neither, or a digest of another length, is refused as
    /// corrupt rather than rolled forward without its image or awaited for ever.
    #[test]
    fn a_pending_commit_names_its_image_or_its_envelope() {
        let mut store = MemoryStore::new();
        let with = |tas: Vec<String>, envelope: Option<Vec<u8>>| Journal {
            objects: Vec::new(),
            pending: Some(PendingCommit {
                state: State::new(),
                tas,
                envelope: envelope.map(Into::into),
            }),
        };
        for (journal, ok) in [
            (with(alloc::vec!["suit/c/0/0".into()], None), true),
            (with(Vec::new(), Some(alloc::vec![7; 32])), true),
            (with(Vec::new(), None), false),
            (with(Vec::new(), Some(alloc::vec![7; 31])), false),
        ] {
            let bytes = crate::service::record::encode(&journal).unwrap();
            store.put_record(JOURNAL_OBJECT, &bytes).unwrap();
            let loaded = Journal::load(&store);
            assert_eq!(loaded.is_ok(), ok, "{journal:?}: {loaded:?}");
            if ok {
                let awaited = journal.pending.as_ref().and_then(PendingCommit::awaited);
                assert_eq!(awaited.is_some(), journal.pending.unwrap().tas.is_empty());
            }
        }
    }
}
