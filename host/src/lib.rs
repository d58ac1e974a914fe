//! Normal-world side of the update service. The agent (`tee`, `client`, `sim`) only moves
//! bytes between storage, transport and the TA; it decides nothing. The author tool
//! (`author`, behind the `author` feature, which also enables `suit-common/author`) creates,
//! signs, encrypts and verifies envelopes offline. What both tools share (`files`, `human`,
//! `cose_key`) is outside `author`, so the agent builds without the creation side.
#![forbid(unsafe_code)]

pub mod assets;
#[cfg(feature = "author")]
pub mod author;
// Its indices are bounded by the buffers they index (slot lengths the TA reported are checked
// against the buffer first), and its tests' casts are of small test values.
#[allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
pub mod client;
pub mod cose_key;
pub mod detect;
pub mod enrolment;
pub mod files;
pub mod human;
pub mod inflight;
pub mod ree;
pub mod sim;
pub mod stdio;
pub mod ta_features;
pub mod ta_signature;
pub mod tee;
pub mod timing;
pub mod transport;
