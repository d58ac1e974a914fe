//! A record the service could not load again is never written: the state record and the KEK
//! object are refused at their load limits when saved, so the stored one stays.

use suit_common::service::state::{State, StateError};
use suit_common::service::store::{MemoryStore, SecureStore, StoreError};

#[test]
fn a_state_too_large_to_load_is_refused_when_saved_and_the_stored_one_stays() {
    let mut store = MemoryStore::new();
    let mut state = State::new();
    state.set_sequence_number(b"first", 1);
    state.save(&mut store).unwrap();
    let before = store.raw("suit/state").unwrap().to_vec();

    // Rollback keys are chosen by authorized authors; each adds an entry.
    let mut big = state.clone();
    for i in 0..4000u32 {
        big.set_sequence_number(format!("{i:064}").as_bytes(), 1);
    }
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
    for i in 0..2000u32 {
        near.set_sequence_number(format!("{i:064}").as_bytes(), 1);
    }
    near.fits().unwrap();
    near.save(&mut store).unwrap();
    assert_eq!(State::load(&store).unwrap(), near);
    assert!(store.get("suit/state").unwrap().is_some());
}
