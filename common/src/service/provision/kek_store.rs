//! The KEK store (`suit/keks`), committed to by the state record (`State::kek_set`): the
//! KEK object's limits, loading the set a state record commits to, and saving a new set
//! while the previous one stays in force until the state record is written.

use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::cbor::Encoder;
use crate::protocol::ByteBuf;
use crate::service::state::{State, MAX_ANCHORS};

use super::{Kek, MAX_KEKS};

struct StoredKeks {
    /// The root's counter after the message that wrote `current`.
    counter: u64,
    current: Vec<Kek>,
    /// The set before that message, in force while the state record still commits to it
    /// (the state write after this object failed or was cut).
    previous: Vec<Kek>,
    /// The delegates' counter after that message (absent from objects written before it
    /// existed: 0, i.e. only `counter` decides, as it did then).
    delegate_counter: u64,
    /// The id `current` is stored under: the [`State::kek_set`] of the record written after
    /// this object (absent from objects written before ids existed).
    current_id: Option<ByteBuf>,
    /// The id `previous` was committed under (`None`: none yet, or before ids existed).
    previous_id: Option<ByteBuf>,
}

crate::cbor::struct_codec!(StoredKeks {
    counter,
    current,
    previous,
    delegate_counter = default,
    current_id = default,
    previous_id = default,
});

/// Longest KEK id.
pub(super) const MAX_KEK_ID: usize = 64;
/// Most bytes one [`Kek`] encodes to: `{"kid": bstr .size (1..MAX_KEK_ID), "anchors": [*
/// uint32] (at most MAX_ANCHORS), "key": bstr .size 32}`, every header at its widest.
const MAX_KEK_ENCODED: usize =
    1 + (1 + 3) + (2 + MAX_KEK_ID) + (1 + 7) + (3 + 5 * MAX_ANCHORS) + (1 + 3) + (2 + 32);
/// The KEK object at its largest: the current and the previous set, each of [`MAX_KEKS`] at
/// [`MAX_KEK_ENCODED`], and the counters and set ids (under 128 bytes with their names). A
/// set within every bound must still be replaceable: a smaller bound refused any change to a
/// full set.
pub const MAX_KEK_OBJECT: usize = 2 * (3 + MAX_KEKS * MAX_KEK_ENCODED) + 128;

/// The KEKs in force for a device whose state record is `state`. The record names the set it
/// commits to ([`State::kek_set`]): the object's `current` set if its id is that, else its
/// `previous` one (the state write after the object did not happen); an object holding
/// neither (an older copy restored, which could bring back a revoked KEK), or none at all, is
/// refused ([`StateError::KeksNotCommitted`](crate::service::state::StateError::KeksNotCommitted)). A
/// record from before these ids (`kek_set` absent) decides by counters, as it did: each
/// message advances exactly one of the two counters by one, so the object's message is
/// committed iff neither of its counters is ahead of the record's.
pub fn load_keks(
    store: &dyn crate::service::store::SecureStore,
    state: &State,
) -> Result<Vec<Kek>, crate::service::state::StateError> {
    // The empty set, committed to before any KEK object existed: any object is newer and
    // holds it as `previous` until a record names the object's own set.
    if names_no_keks(state) {
        return Ok(Vec::new());
    }
    keks_in(store.get(crate::service::keys::KEKS_OBJECT)?, state).map(|(keks, _)| keks)
}

/// [`load_keks`], and names the empty set ([`NO_KEKS`]) in `state` when it names none and no
/// KEK object exists, so that loading from the records written from `state` needs no look-up
/// of the object (on OP-TEE a failed open per install, each as dear as a write). A record
/// from before `kek_set` with an object keeps deciding by counters. With the set: whether the
/// object still keeps a previous set beside the committed one (a cut or failure after the
/// record's write stopped [`drop_previous_keks`], which the next provisioning message then
/// finishes, so a revoked KEK does not stay at rest until the set changes again).
pub fn load_keks_naming_empty(
    store: &dyn crate::service::store::SecureStore,
    state: &mut State,
) -> Result<(Vec<Kek>, bool), crate::service::state::StateError> {
    if names_no_keks(state) {
        return Ok((Vec::new(), false));
    }
    let bytes = store.get(crate::service::keys::KEKS_OBJECT)?;
    let absent = bytes.is_none();
    let loaded = keks_in(bytes, state)?;
    if absent && state.kek_set.is_none() {
        state.kek_set = Some(ByteBuf::from(NO_KEKS.to_vec()));
    }
    Ok(loaded)
}

/// The committed KEK set in the object `bytes`, and whether a previous set is still kept
/// beside it (only when the record names the object's current set).
fn keks_in(
    bytes: Option<Zeroizing<Vec<u8>>>,
    state: &State,
) -> Result<(Vec<Kek>, bool), crate::service::state::StateError> {
    use crate::service::state::StateError;
    let Some(bytes) = bytes else {
        return match state.kek_set {
            Some(_) => Err(StateError::KeksNotCommitted),
            None => Ok((Vec::new(), false)),
        };
    };
    let mut stored: StoredKeks = crate::service::record::decode_stored(&bytes, MAX_KEK_OBJECT)
        .map_err(|_| StateError::Corrupt)?;
    let Some(committed) = &state.kek_set else {
        return Ok((
            if stored.counter <= state.root_counter()
                && stored.delegate_counter <= state.delegate_counter()
            {
                core::mem::take(&mut stored.current)
            } else {
                core::mem::take(&mut stored.previous)
            },
            false,
        ));
    };
    if stored.current_id.as_ref() == Some(committed) {
        Ok((
            core::mem::take(&mut stored.current),
            !stored.previous.is_empty(),
        ))
    } else if stored.previous_id.as_ref() == Some(committed) {
        Ok((core::mem::take(&mut stored.previous), false))
    } else {
        Err(StateError::KeksNotCommitted)
    }
}

/// The KEK set id of a record written while no KEK object existed
/// ([`load_keks_naming_empty`]): the empty set. [`save_keks`]'s ids are SHA-256 output, never
/// all zero in practice.
pub const NO_KEKS: [u8; crate::service::state::KEK_SET_ID_LEN] =
    [0; crate::service::state::KEK_SET_ID_LEN];

fn names_no_keks(state: &State) -> bool {
    state
        .kek_set
        .as_ref()
        .is_some_and(|id| id.as_slice() == NO_KEKS)
}

/// Writes `current`, the KEK set of the message that produced `state` (its counters), under a
/// fresh id, keeping `previous` (the set `state.kek_set` commits to on entry) until that state
/// record is written; then sets `state.kek_set` to the new id. Call this first, then save the
/// state. The id is SHA-256 over the previous id, the counters and `random` (16 bytes from the
/// TEE's RNG), cut to 16 bytes: it names no key, and a message's id differs from every
/// earlier one even with a failing RNG (the counters), and from another message on the same
/// counters (a retry after a lost state write) by `random`.
pub fn save_keks(
    store: &mut dyn crate::service::store::SecureStore,
    state: &mut State,
    previous: &[Kek],
    current: &[Kek],
    random: &[u8; 16],
) -> Result<(), crate::service::state::StateError> {
    let mut seed = Encoder::new();
    seed.array(5)
        .text("suit-ta KEK set")
        .bytes(state.kek_set.as_ref().map_or(&[][..], |id| id.as_slice()))
        .uint(state.root_counter())
        .uint(state.delegate_counter())
        .bytes(random);
    let digest = Sha256::digest(seed.into_bytes());
    let id = ByteBuf::from(
        digest
            .get(..crate::service::state::KEK_SET_ID_LEN)
            .unwrap_or_default()
            .to_vec(),
    );
    let stored = StoredKeks {
        counter: state.root_counter(),
        current: current.to_vec(),
        previous: previous.to_vec(),
        delegate_counter: state.delegate_counter(),
        current_id: Some(id.clone()),
        previous_id: state.kek_set.clone(),
    };
    put_keks(store, &stored)?;
    state.kek_set = Some(id);
    Ok(())
}

/// Writes `stored` as the KEK object.
fn put_keks(
    store: &mut dyn crate::service::store::SecureStore,
    stored: &StoredKeks,
) -> Result<(), crate::service::state::StateError> {
    let bytes = Zeroizing::new(
        crate::service::record::encode(stored)
            .map_err(|_| crate::service::state::StateError::Corrupt)?,
    );
    // A record `load_keks` would refuse must not replace one it accepts.
    if bytes.len() > MAX_KEK_OBJECT {
        return Err(crate::service::store::StoreError::NoSpace.into());
    }
    store.put_record(crate::service::keys::KEKS_OBJECT, &bytes)?;
    Ok(())
}

/// Rewrites the KEK object with `current` alone, once `state` (saved) names its set: the
/// previous set, kept so that a cut before the state write left it in force, is not needed
/// any more.
pub fn drop_previous_keks(
    store: &mut dyn crate::service::store::SecureStore,
    state: &State,
    current: &[Kek],
) -> Result<(), crate::service::state::StateError> {
    let stored = StoredKeks {
        counter: state.root_counter(),
        current: current.to_vec(),
        previous: Vec::new(),
        delegate_counter: state.delegate_counter(),
        current_id: state.kek_set.clone(),
        previous_id: None,
    };
    put_keks(store, &stored)
}

/// The KEKs as the engine's key source takes them (each with the anchors that may use it).
pub fn shared_keks(keks: &[Kek]) -> Vec<crate::service::keys::SharedKek> {
    keks.iter()
        .map(|k| crate::service::keys::SharedKek {
            kid: k.kid.to_vec(),
            key: Zeroizing::new(k.key.expose().to_vec()),
            anchors: k.anchors.clone(),
        })
        .collect()
}
