//! The seam between the interpreter and payload decryption (`crate::encryption`).
//!
//! The interpreter only ever names these three items, so the payload pipeline can change
//! behind them without touching command semantics. Contract: plaintext from
//! [`PayloadDecryptor::update`] is staged only, and the interpreter commits it only after
//! [`PayloadDecryptor::finish`] succeeded *and* the component matched its image digest.

pub use crate::encryption::{DecryptError, DeviceKeys, PayloadDecryptor};
