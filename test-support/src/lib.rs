//! Helpers shared by the workspace's tests (dev-dependency only, never in a product):
//! vectors and the drafts' identifiers, test keys and PEM reading, the one in-memory SUIT
//! platform, the service on the in-memory backend, runners for the command-line tools, and the
//! test binaries' heap-measuring and freed-heap-scanning allocator.
//! One copy each, so a fix to a helper reaches every test.

pub mod bounds;
pub mod cbor;
pub mod cddl;
pub mod check;
pub mod cli;
pub mod heap;
pub mod keys;
pub mod platform;
pub mod rng;
pub mod service;
pub mod vectors;

pub use cbor::*;
pub use check::*;
pub use keys::*;
pub use platform::*;
pub use rng::FixedRng;
pub use vectors::*;

/// For the macros, which expand in the tests' crates.
#[doc(hidden)]
pub use suit_common as __suit_common;
