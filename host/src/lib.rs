//! Normal-world side of the update service. The agent (`tee`, `client`, `sim`) only moves
//! bytes between storage, transport and the TA; it decides nothing. The author tool
//! (`author`) creates, signs, encrypts and verifies envelopes offline.
#![forbid(unsafe_code)]

pub mod assets;
pub mod author;
pub mod client;
pub mod ree;
pub mod sim;
pub mod ta_signature;
pub mod tee;
pub mod timing;
pub mod transport;
