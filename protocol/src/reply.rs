//! The one reading of a reply (slot 0 and slot 2), for every client: the agent, `suit-perso`
//! and the tests.

use core::fmt;

use crate::{decode, ByteBuf, Codec, Refusal, RefusalKind, Status, MAX_RESPONSE, PROTOCOL_VERSION};

/// Why a reply carries no response.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// The TA speaks another protocol version (its own in `ta`).
    VersionMismatch { ta: u32 },
    /// The TA refused, saying why.
    Refused(Refusal),
    /// Another protocol status; `detail` is slot 0 `b` (e.g. the size needed).
    Status { status: Status, detail: u32 },
    /// A status code this client does not know.
    UnknownStatus(u32),
    /// The reply did not follow the protocol.
    Malformed(&'static str),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::VersionMismatch { ta } => write!(
                f,
                "protocol version mismatch: this client speaks {PROTOCOL_VERSION}, the TA {ta}"
            ),
            // The fault's words are suit-common's (`fault::render`); a client without them
            // names the kind.
            ReplyError::Refused(r) => write!(f, "refused by the TA ({})", r.kind),
            ReplyError::Status { status, .. } => f.write_str(status.describe()),
            ReplyError::UnknownStatus(code) => {
                write!(f, "the TA answered with unknown status code {code}")
            }
            ReplyError::Malformed(what) => write!(f, "malformed response from the TA: {what}"),
        }
    }
}

impl core::error::Error for ReplyError {}

/// Reads a reply: `status` and `detail` are slot 0 `a` and `b`, `body` what the TA wrote into
/// slot 2. On success slot 0 `b` must equal the body's length (a TA or transport that
/// disagrees with itself is not trusted further); a refusal with an empty body (the TA could
/// not encode one) is still a refusal, of kind [`RefusalKind::Unspecified`].
pub fn decode_reply<R: Codec>(status: u32, detail: u32, body: &[u8]) -> Result<R, ReplyError> {
    match Status::from_code(status) {
        Some(Status::Ok) => {
            if usize::try_from(detail).ok() != Some(body.len()) {
                return Err(ReplyError::Malformed(
                    "slot 0 length disagrees with the response",
                ));
            }
            decode(body, MAX_RESPONSE)
                .map_err(|_| ReplyError::Malformed("the response does not decode"))
        }
        Some(Status::VersionMismatch) => Err(ReplyError::VersionMismatch { ta: detail }),
        Some(Status::Refused) if body.is_empty() => Err(ReplyError::Refused(Refusal {
            kind: RefusalKind::Unspecified,
            fault: ByteBuf::default(),
        })),
        Some(Status::Refused) => match decode::<Refusal>(body, MAX_RESPONSE) {
            Ok(r) => Err(ReplyError::Refused(r)),
            Err(_) => Err(ReplyError::Malformed("the refusal does not decode")),
        },
        Some(status) => Err(ReplyError::Status { status, detail }),
        None => Err(ReplyError::UnknownStatus(status)),
    }
}
