//! The SUIT engine shared by the trusted application, the simulator and the author tool.
//!
//! No I/O happens here: everything that touches the world (storage, randomness, payload
//! bytes, installation) enters through traits, so the very same code decides inside OP-TEE
//! and on the host. Modules follow the pipeline a manifest takes.
#![no_std]
#![forbid(unsafe_code)]
// Unit tests may cast freely (clippy.toml already lets them unwrap, panic and index).
#![cfg_attr(test, allow(clippy::cast_possible_truncation))]

extern crate alloc;
#[cfg(test)]
extern crate std;

/// The strict bounded CBOR reader and the one writer (crate `suit-cbor`).
pub use suit_cbor as cbor;
pub mod cose;
pub mod crypto;
pub mod encryption;
pub mod fault;
/// The host ↔ TA wire protocol (crate `suit-protocol`).
pub use suit_protocol as protocol;
pub mod registry;
pub mod report;
pub mod service;
pub mod suit;
/// Names, identifiers and status text without `core::fmt` (in `suit-protocol`, which the
/// agent renders the TA's typed answers with).
pub use suit_protocol::text;
