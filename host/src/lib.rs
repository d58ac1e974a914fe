//! Normal-world side of the update service. The agent only moves bytes between storage,
//! transport and the TA; it decides nothing. See `tee` for how it reaches the TA.
#![forbid(unsafe_code)]

pub mod client;
pub mod sim;
pub mod tee;
