//! The perso-consumer TA's own protocol, shared by the TA (`ta/`), its build script and the
//! host client (`host/`) through `#[path]` (plain constants, no dependencies, `no_std`-safe).
//!
//! Every command uses one layout:
//!
//! | slot | type | meaning |
//! |---|---|---|
//! | 0 | value out | `a` = one of the `STATUS_*` codes, `b` = response length |
//! | 1 | memref out | response (at most [`MAX_RESPONSE`] bytes), format per command/status |
//! | 2 | value in | [`CMD_GET_INFO`]: `a` = how long to wait for a busy update TA, in ms (0: do not wait) |
//! | 3 | none | |
//!
//! Responses:
//! - [`CMD_HELLO`], `STATUS_OK`: `ta_version` (u32 little-endian) then a UTF-8 greeting.
//! - [`CMD_GET_INFO`], `STATUS_OK`: [`INFO_LEN`] bytes: data length (u32 little-endian), the
//!   SHA-256 of the data, then the milliseconds waited for the update TA (u32 little-endian).
//!   Never the data itself.
//! - `STATUS_REFUSED`: UTF-8 `kind`, `\n`, then the update TA's fault (CBOR) as it gave it;
//!   the host puts it into words (suit-common's `fault::render`).
//! - any other status: a UTF-8 message.

/// UUID of the consumer TA when `PERSO_CONSUMER_UUID` is not set at build time ("UUID A",
/// the one the demo delivers through SUIT). qemu/build.sh reads it from this line.
pub const DEFAULT_UUID: &str = "e031fd6d-6cc4-46e7-86d1-3b74e9c75ce9";

/// Fetch this TA's personalization data from the update TA; answer with a summary only.
pub const CMD_GET_INFO: u32 = 0;
/// A fixed greeting and the TA version, to show a freshly installed TA runs.
pub const CMD_HELLO: u32 = 1;
/// Panics on purpose: proves that the QEMU test runner fails a run when a TA dies and points
/// at the secure-world log (the example TA's test build only, feature `insecure-test-digest`;
/// the update TA has no such command).
pub const CMD_PANIC: u32 = 2;

pub const STATUS_OK: u32 = 0;
/// The update TA refused to release the data (wrong TA, nothing installed, ...).
pub const STATUS_REFUSED: u32 = 1;
/// The update TA could not be opened or invoked (not installed, busy, died).
pub const STATUS_UPDATE_TA_UNREACHABLE: u32 = 2;
/// The update TA answered something this TA does not understand, or another failure.
pub const STATUS_ERROR: u32 = 3;
/// The client's slot 1 buffer is smaller than [`MAX_RESPONSE`].
pub const STATUS_SHORT_BUFFER: u32 = 4;

/// Largest response; clients pass a slot 1 buffer of at least this size.
pub const MAX_RESPONSE: usize = 1024;

/// Length of the [`CMD_GET_INFO`] summary: u32 length + SHA-256 + u32 milliseconds waited.
pub const INFO_LEN: usize = 4 + 32 + 4;

/// Start of the [`CMD_HELLO`] greeting.
pub const HELLO_TEXT: &str = "hello from the perso-consumer TA";
