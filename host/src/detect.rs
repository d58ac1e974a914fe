//! Which of the formats the two tools exchange a file is, from its structure alone (nothing
//! is verified): a command given another command's file (a receipt to `verify-report`, a
//! provisioning message to `install`) names what it was given and the command that takes it,
//! before any signature check, instead of a decoding or signature error. `inspect` names
//! files by the same rules. Host side only: what the TA is sent it still decides on alone.

use ciborium::value::Value;

/// Decodes exactly one CBOR item occupying all of `bytes`.
pub fn decode_one(bytes: &[u8]) -> Result<Value, String> {
    let mut cursor = std::io::Cursor::new(bytes);
    let v: Value = ciborium::de::from_reader(&mut cursor).map_err(|e| match e {
        ciborium::de::Error::Io(_) => {
            "the data ends in the middle of a CBOR item (truncated file?)".to_string()
        }
        ciborium::de::Error::Syntax(at) => format!("not CBOR: invalid CBOR at byte {at}"),
        ciborium::de::Error::Semantic(at, what) => match at {
            Some(at) => format!("not CBOR: {what} at byte {at}"),
            None => format!("not CBOR: {what}"),
        },
        ciborium::de::Error::RecursionLimitExceeded => {
            "not usable: CBOR nested too deeply".to_string()
        }
    })?;
    let used = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
    if used != bytes.len() {
        return Err(format!(
            "{} trailing bytes after the CBOR item",
            bytes.len().saturating_sub(used)
        ));
    }
    Ok(v)
}

/// A format one tool writes and another command reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A SUIT envelope (tag 107, or an untagged map with a manifest).
    Envelope,
    /// A TPA-signed provisioning message (`suit-author provision`).
    ProvisioningMessage,
    /// A device's provisioning receipt (`suit-agent provision --receipt-out`).
    ProvisioningReceipt,
    /// A device's key statement (`suit-agent device-key --statement/--out-dir`).
    KeyStatement,
    /// A device's signed SUIT report (`suit-agent report -o`).
    SignedReport,
}

/// Which tool a command that refuses a file belongs to: the command named for the file is
/// that tool's where both have one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Author,
    Agent,
}

impl Format {
    /// What it is, in words.
    pub fn name(self) -> &'static str {
        match self {
            Format::Envelope => "a SUIT envelope",
            Format::ProvisioningMessage => "a TPA-signed provisioning message",
            Format::ProvisioningReceipt => "a provisioning receipt",
            Format::KeyStatement => "a key statement",
            Format::SignedReport => "a signed SUIT report",
        }
    }

    /// The command that takes it, for a user of `tool`.
    pub fn command(self, tool: Tool) -> &'static str {
        match (self, tool) {
            (Format::Envelope, Tool::Author) => "suit-author verify",
            (Format::Envelope, Tool::Agent) => "suit-agent install",
            (Format::ProvisioningMessage, _) => "suit-agent provision",
            (Format::ProvisioningReceipt, _) => "suit-author verify-receipt",
            (Format::KeyStatement, _) => "suit-author verify-key-statement",
            (Format::SignedReport, _) => "suit-author verify-report",
        }
    }
}

/// Which [`Format`] `bytes` is, if any.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    use suit_common::service::{provision, record, statement};
    let v = decode_one(bytes).ok()?;
    match &v {
        Value::Tag(107, _) => Some(Format::Envelope),
        // Untagged: the authentication wrapper (label 2) and the manifest (3), byte strings.
        Value::Map(m) if [2, 3].iter().all(|label| bytes_member(m, *label)) => {
            Some(Format::Envelope)
        }
        Value::Array(a) if matches!(a.as_slice(), [Value::Bytes(_), Value::Tag(18, _)]) => {
            Some(Format::ProvisioningMessage)
        }
        Value::Tag(18, inner) => {
            let Value::Array(a) = inner.as_ref() else {
                return None;
            };
            let [_, _, Value::Bytes(p), _] = a.as_slice() else {
                return None;
            };
            if suit_common::report::Report::decode(p).is_ok() {
                Some(Format::SignedReport)
            } else if record::decode::<statement::KeyStatement>(p, statement::MAX_STATEMENT).is_ok()
            {
                Some(Format::KeyStatement)
            } else if record::decode::<provision::Receipt>(p, provision::MAX_RECEIPT).is_ok() {
                Some(Format::ProvisioningReceipt)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The component ids of the root manifest in `envelope`, in index order, read without
/// verifying anything: for putting a TA refusal that names a component by index into words
/// ([`crate::tee::AgentError::explained_with`]), never for deciding anything.
pub fn envelope_components(envelope: &[u8]) -> Option<Vec<suit_common::suit::ComponentId>> {
    use suit_common::registry::{CommonKey, EnvelopeKey, ManifestKey};
    let member = |m: &Value, label: i64| match m {
        Value::Map(m) => m.iter().find_map(|(k, v)| match (k, v) {
            (Value::Integer(i), Value::Bytes(b)) if i128::from(*i) == i128::from(label) => {
                decode_one(b).ok()
            }
            _ => None,
        }),
        _ => None,
    };
    let envelope = match decode_one(envelope).ok()? {
        Value::Tag(107, inner) => *inner,
        other => other,
    };
    let manifest = member(&envelope, EnvelopeKey::Manifest.value())?;
    let common = member(&manifest, ManifestKey::Common.value())?;
    let Value::Map(common) = common else {
        return None;
    };
    let components = common.iter().find_map(|(k, v)| match (k, v) {
        (Value::Integer(i), Value::Array(a))
            if i128::from(*i) == i128::from(CommonKey::Components.value()) =>
        {
            Some(a)
        }
        _ => None,
    })?;
    components
        .iter()
        .map(|c| match c {
            Value::Array(segments) => segments
                .iter()
                .map(|s| match s {
                    Value::Bytes(b) => Some(b.as_slice()),
                    _ => None,
                })
                .collect::<Option<Vec<&[u8]>>>()
                .map(|s| suit_common::suit::ComponentId::new(&s)),
            _ => None,
        })
        .collect()
}

/// Whether map `m` has a byte string under integer label `label`.
fn bytes_member(m: &[(Value, Value)], label: i128) -> bool {
    m.iter().any(
        |(k, v)| matches!((k, v), (Value::Integer(i), Value::Bytes(_)) if i128::from(*i) == label),
    )
}

/// The refusal of `bytes` by a command of `tool` that takes `expected`, when they are another
/// of the formats: what they are and which command takes them.
pub fn other_format(bytes: &[u8], expected: Format, tool: Tool) -> Option<String> {
    let found = detect(bytes).filter(|f| *f != expected)?;
    Some(format!(
        "this is {}, not {}: use `{}`",
        found.name(),
        expected.name(),
        found.command(tool)
    ))
}
