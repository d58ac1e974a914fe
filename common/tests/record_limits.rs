//! A record the service could not load again is never written: the state record and the KEK
//! object are refused at their load limits when saved, so the stored one stays.

use suit_common::protocol::ByteBuf;
use suit_common::service::state::{SequenceRecord, State, StateError};
use suit_common::service::store::{MemoryStore, SecureStore, StoreError};

#[test]
fn a_state_too_large_to_load_is_refused_when_saved_and_the_stored_one_stays() {
    let mut store = MemoryStore::new();
    let mut state = State::new();
    state.set_sequence_number(b"first", 1).unwrap();
    state.save(&mut store).unwrap();
    let before = store.raw("suit/state").unwrap().to_vec();

    // Entries in full, as a TA before the rollback-key quota stored them (session 40: new
    // ones are at most 32 bytes, and counted).
    let entry = |i: u32| SequenceRecord {
        key: ByteBuf::from(format!("{i:064}").into_bytes()),
        value: 1,
        owner: None,
    };
    let mut big = state.clone();
    big.sequence_numbers.extend((0..4000).map(entry));
    assert!(matches!(
        big.fits(),
        Err(StateError::Store(StoreError::NoSpace))
    ));
    assert!(matches!(
        big.save(&mut store),
        Err(StateError::Store(StoreError::NoSpace))
    ));
    assert_eq!(store.raw("suit/state").unwrap(), before.as_slice());
    assert_eq!(State::load(&store).unwrap(), state);

    // Just under the limit is written and loads again.
    let mut near = state.clone();
    near.sequence_numbers.extend((0..2000).map(entry));
    near.fits().unwrap();
    near.save(&mut store).unwrap();
    assert_eq!(State::load(&store).unwrap(), near);
    assert!(store.get("suit/state").unwrap().is_some());
}
