//! Personalization data for OP-TEE TAs, from the SUIT update TA.
//!
//! The update TA keeps personalization data bound to the UUID of the TA it was installed for
//! and releases it only over a TA-to-TA session, where OP-TEE itself vouches for the caller's
//! identity (`TEE_LOGIN_TRUSTED_APP` + the caller's UUID). A TA that links this crate calls
//! [`fetch_personalization`]; nothing in the normal world sees the data.
//!
//! ```ignore
//! let data = suit_perso::fetch_personalization()?; // Zeroizing<Vec<u8>>
//! ```
//!
//! The call uses the update TA's protocol as every other client does
//! ([`suit_protocol`]): slot 0 value in/out (in `a` = protocol version; out `a` =
//! status, `b` = response length), slot 1 the request (`Empty`), slot 2 the response
//! ([`PersonalizationResponse`] or a [`Refusal`]).
//!
//! The update TA serves one session at a time: while its normal-world agent holds a session
//! (for the whole of one agent command, an install included), [`fetch_personalization`] fails
//! with [`PersoError::Unreachable`] and [`ErrorKind::Busy`]. [`fetch_personalization_waiting`]
//! retries instead, with a bounded total wait the caller chooses.
//!
//! What the data passes through in this TA: the response buffer (zeroized) and the returned
//! vector (zeroized on drop; the decoder copies the data straight into it). All of it is this
//! TA's own memory.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use optee_utee::{ParamIndex, TaSessionBuilder, TeeParams, Time, Uuid};
use suit_protocol::{
    self as protocol, Command, Empty, PersonalizationResponse, Refusal, ReplyError, Status,
    MAX_RESPONSE, PROTOCOL_VERSION, TA_UUID,
};

pub use optee_utee::ErrorKind;
pub use zeroize::Zeroizing;

/// UUID of the update TA this crate talks to.
pub const UPDATE_TA_UUID: &str = TA_UUID;

/// Why no personalization data came back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersoError {
    /// No session to the update TA: not installed ([`ErrorKind::ItemNotFound`]), busy with
    /// another client ([`ErrorKind::Busy`]), or it refused the session.
    Unreachable(ErrorKind),
    /// The session opened but the command failed at the GP level: the update TA died
    /// ([`ErrorKind::TargetDead`]) or does not accept the parameter layout.
    Invoke(ErrorKind),
    /// The update TA refused, with its stable kind and human-readable reason (for example:
    /// no data is installed for this TA, or the data is bound to another TA).
    Refused(Refusal),
    /// The update TA answered with another protocol status (for example
    /// [`Status::VersionMismatch`], with its own protocol version in `detail`).
    Status { status: Status, detail: u32 },
    /// The answer did not follow the protocol.
    Malformed(&'static str),
}

impl PersoError {
    /// The refusal, when the update TA refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            PersoError::Refused(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for PersoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersoError::Unreachable(ErrorKind::ItemNotFound) => {
                write!(f, "the update TA ({UPDATE_TA_UUID}) is not installed")
            }
            PersoError::Unreachable(ErrorKind::Busy) => write!(
                f,
                "the update TA is busy with another session (it serves one at a time)"
            ),
            PersoError::Unreachable(kind) => write!(
                f,
                "opening a session to the update TA failed: {} (0x{:08x})",
                optee_utee::Error::from(*kind).message(),
                u32::from(*kind)
            ),
            PersoError::Invoke(kind) => write!(
                f,
                "invoking the update TA failed: {} (0x{:08x})",
                optee_utee::Error::from(*kind).message(),
                u32::from(*kind)
            ),
            PersoError::Refused(r) => {
                // The fault's words are the host's (suit-common's `fault::render`).
                write!(f, "refused by the update TA ({})", r.kind)
            }
            PersoError::Status {
                status: Status::VersionMismatch,
                detail,
            } => write!(
                f,
                "protocol version mismatch: this TA speaks {PROTOCOL_VERSION}, the update TA {detail}"
            ),
            PersoError::Status { status, .. } => {
                write!(f, "the update TA answered: {}", status.describe())
            }
            PersoError::Malformed(what) => write!(f, "malformed answer from the update TA: {what}"),
        }
    }
}

impl core::error::Error for PersoError {}

/// What [`fetch_personalization_waiting`] got: the data, and how long it waited for the update
/// TA to be free.
#[derive(Debug)]
pub struct Fetched {
    /// The data exactly as installed (wiped on drop).
    pub data: Zeroizing<Vec<u8>>,
    /// Milliseconds spent waiting (`TEE_Wait`) between busy attempts; 0 if the first attempt
    /// found the update TA free.
    pub waited_ms: u32,
}

/// First and longest pause between attempts while the update TA is busy.
const FIRST_PAUSE_MS: u32 = 10;
const MAX_PAUSE_MS: u32 = 250;

/// [`fetch_personalization`], but while the update TA is busy with another session (its
/// agent installing, say) it waits and tries again, pausing 10 ms, then twice as long each
/// time up to 250 ms, the last pause cut so that they add up to at most `max_wait_ms`. Then,
/// or on any other failure, it returns that failure. `max_wait_ms` 0 is one attempt. A cancelled wait
/// (the client gave up) ends it with the busy error.
pub fn fetch_personalization_waiting(max_wait_ms: u32) -> Result<Fetched, PersoError> {
    let mut waited_ms = 0u32;
    let mut pause = FIRST_PAUSE_MS;
    loop {
        match fetch_personalization() {
            Err(PersoError::Unreachable(ErrorKind::Busy)) if waited_ms < max_wait_ms => {
                let step = pause.min(max_wait_ms - waited_ms);
                Time::wait(step).map_err(|_| PersoError::Unreachable(ErrorKind::Busy))?;
                waited_ms += step;
                pause = pause.saturating_mul(2).min(MAX_PAUSE_MS);
            }
            Ok(data) => return Ok(Fetched { data, waited_ms }),
            Err(e) => return Err(e),
        }
    }
}

/// Fetches the personalization data the update TA holds for the calling TA.
///
/// Opens a session to the update TA, invokes [`Command::PersonalizationGet`], closes the
/// session, and returns the data exactly as installed. The returned buffer is wiped on drop.
pub fn fetch_personalization() -> Result<Zeroizing<Vec<u8>>, PersoError> {
    let uuid = Uuid::parse_str(UPDATE_TA_UUID)
        .map_err(|_| PersoError::Malformed("the update TA's UUID does not parse"))?;
    let request = protocol::encode(&Empty {})
        .map_err(|_| PersoError::Malformed("could not encode the request"))?;
    let mut response = Zeroizing::new(vec![0u8; MAX_RESPONSE]);

    let (status, detail, written) = {
        let mut session = TaSessionBuilder::new(uuid)
            .build()
            .map_err(|e| PersoError::Unreachable(e.kind()))?;
        let mut params = TeeParams::new()
            .with_value_inout(ParamIndex::Arg0, PROTOCOL_VERSION, 0)
            .with_memref_in(ParamIndex::Arg1, &request)
            .with_memref_out(ParamIndex::Arg2, &mut response[..]);
        session
            .invoke_command(Command::PersonalizationGet as u32, &mut params)
            .map_err(|e| PersoError::Invoke(e.kind()))?;
        let (status, detail) = params[ParamIndex::Arg0]
            .output_value()
            .ok_or(PersoError::Malformed("no status in slot 0"))?;
        let written = params[ParamIndex::Arg2]
            .written_slice()
            .map(<[u8]>::len)
            .ok_or(PersoError::Malformed("no response in slot 2"))?;
        (status, detail, written)
        // The session closes here, before the data is decoded.
    };
    let body = response
        .get(..written)
        .ok_or(PersoError::Malformed("response length out of range"))?;

    let reply: PersonalizationResponse =
        protocol::decode_reply(status, detail, body).map_err(|e| match e {
            ReplyError::Refused(r) => PersoError::Refused(r),
            ReplyError::VersionMismatch { ta } => PersoError::Status {
                status: Status::VersionMismatch,
                detail: ta,
            },
            ReplyError::Status { status, detail } => PersoError::Status { status, detail },
            ReplyError::UnknownStatus(_) => PersoError::Malformed("unknown status code"),
            ReplyError::Malformed(what) => PersoError::Malformed(what),
            _ => PersoError::Malformed("a reply this helper cannot read"),
        })?;
    // ByteBuf -> Vec moves the allocation: no further copy of the data is left behind.
    Ok(Zeroizing::new(reply.data.into_vec()))
}
