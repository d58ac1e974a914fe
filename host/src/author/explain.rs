//! Engine errors in words. The wording lives in `suit_common::suit::explain`, shared with the
//! TA's refusals and the agent, so both tools say the same thing.

pub use suit_common::suit::explain::{error, section};

/// Why bytes are not an envelope the author tool can rewrite (`sign`, `sever`, `unsever`),
/// from suit-cbor's reading of the envelope map.
pub fn not_an_envelope(e: &suit_common::cbor::CborError) -> String {
    use suit_common::cbor::CborErrorKind as K;
    match e.kind {
        K::UnexpectedTag { found } => format!("CBOR tag {found} is not an envelope (107)"),
        K::UnexpectedType { expected: "map" } => "not a SUIT_Envelope (map)".into(),
        _ => format!("not CBOR as a device reads it: {e}"),
    }
}
