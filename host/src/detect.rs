//! Which of the formats the two tools exchange a file is, from its structure alone (nothing
//! is verified): a command given another command's file (a receipt to `verify-report`, a
//! provisioning message to `install`) names what it was given and the command that takes it,
//! before any signature check, instead of a decoding or signature error. `inspect` names
//! files by the same rules. Host side only: what the TA is sent it still decides on alone.
//! Text inputs of the tools (PEM keys, JSON descriptions) are recognised too, so that one
//! given where CBOR is read is not reported as a byte offset of malformed CBOR.

use ciborium::value::Value;

/// Most CBOR data items (headers: every integer, string, array, map, tag, simple value)
/// [`decode_one`] turns into a value tree. Each becomes a `ciborium` value of tens of bytes
/// however small its encoding (one byte for `0` or `[]`), so without a bound a file of the
/// size the tools read (64 MiB) held gigabytes before anything looked at it. No file of the
/// tools' formats comes near: a byte string (an integrated payload, an embedded structure) is
/// one item, and the largest structure read whole, the TPA's device model, mirrors a state
/// record of at most 256 KiB (`MAX_STATE` in the TA), so of at most this many items (each
/// takes a byte at least); real ones hold some tens of thousands. At most some tens of MiB
/// of values per decode.
pub const MAX_CBOR_ITEMS: usize = 1 << 18;

/// Refuses `bytes` if they hold more than [`MAX_CBOR_ITEMS`] data items, counted by one pass
/// over the headers that allocates nothing. Malformed or truncated input ends the count
/// (the decoder names what is wrong with it).
pub fn check_item_count(bytes: &[u8]) -> Result<(), String> {
    let mut at = 0usize;
    let mut items = 0usize;
    while let Some(&initial) = bytes.get(at) {
        at += 1;
        // A break ends an indefinite-length item; it is no item itself.
        if initial == 0xff {
            continue;
        }
        let (major, info) = (initial >> 5, initial & 0x1f);
        let argument_len = match info {
            0..=23 | 31 => 0,
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Ok(()),
        };
        let Some(argument) = bytes.get(at..at.saturating_add(argument_len)) else {
            return Ok(());
        };
        at += argument_len;
        items += 1;
        if items > MAX_CBOR_ITEMS {
            return Err(format!(
                "not usable: more than {MAX_CBOR_ITEMS} CBOR data items (no file of the \
                 tools' formats holds that many)"
            ));
        }
        // A definite-length byte or text string: its content is no header.
        if matches!(major, 2 | 3) && info != 31 {
            let len = if info < 24 {
                u64::from(info)
            } else {
                argument.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))
            };
            match usize::try_from(len).ok().and_then(|l| at.checked_add(l)) {
                Some(end) if end <= bytes.len() => at = end,
                _ => return Ok(()),
            }
        }
    }
    Ok(())
}

/// Decodes exactly one CBOR item occupying all of `bytes`, refusing more than
/// [`MAX_CBOR_ITEMS`] data items before decoding ([`check_item_count`]). The item is walked
/// first without building values ([`first_item_len`]): values are built only from input that
/// decodes whole, so a failing decode drops no partial values (which the decoder would free
/// unwiped: a key file's, or a raw symmetric key's bytes read as CBOR) and a value with
/// trailing bytes is never built.
pub fn decode_one(bytes: &[u8]) -> Result<Value, String> {
    check_item_count(bytes)?;
    let used = first_item_len(bytes)?;
    if used != bytes.len() {
        return Err(format!(
            "{} trailing bytes after the CBOR item",
            bytes.len().saturating_sub(used)
        ));
    }
    ciborium::de::from_reader(bytes).map_err(describe)
}

/// The length of the first CBOR item of `bytes`, found by walking it without building
/// values: a byte or text string of up to 4 KiB is read into the decoder's own stack buffer,
/// containers are walked in place, so nothing on the heap holds the input's bytes (longer
/// strings are read into a buffer). The error is [`decode_one`]'s wording.
pub fn first_item_len(bytes: &[u8]) -> Result<usize, String> {
    let mut cursor = std::io::Cursor::new(bytes);
    ciborium::de::from_reader::<serde::de::IgnoredAny, _>(&mut cursor).map_err(describe)?;
    Ok(usize::try_from(cursor.position()).unwrap_or(usize::MAX))
}

/// A decoding error in words.
fn describe(e: ciborium::de::Error<std::io::Error>) -> String {
    match e {
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
    }
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
    /// The TPA's model of a device (`suit-author provision --state`): a map of the fields of
    /// `author::provision::DeviceModel` by name (that type is the author tool's; the agent,
    /// built without it, must still recognise the file).
    DeviceModel,
    /// PEM text (`-----BEGIN ...`): a key file.
    Pem,
    /// A JSON document: a description for `create` or `provision`, or some tool's output.
    Json,
    /// CBOR diagnostic notation (RFC 8949 §8, RFC 8610 Appendix G): the text form the drafts
    /// and other implementations publish their examples in (`/ SUIT_Envelope_Tagged /
    /// 107({...})`), which the tools do not parse. Only text that is no CBOR item whole.
    Diag,
    /// A COSE_Key (`keygen --cose`, `device-key --format cose`, a third party's key file): a
    /// map with an integer kty (label 1; no envelope member has that label and an integer).
    CoseKey,
    /// A SUIT_Encryption_Info (COSE_Encrypt, tag 96: `encrypt --info-out`).
    EncryptionInfo,
    /// A SUIT_Command_Sequence as `sever` writes a severed member (suit-install, ...): an
    /// array of command codes (integers), each followed by its argument.
    SeveredMember,
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
            Format::DeviceModel => "the TPA's device model",
            Format::Pem => "PEM text (a key file)",
            Format::Json => "a JSON document",
            Format::Diag => "CBOR diagnostic notation (text)",
            Format::CoseKey => "a COSE_Key (a key file)",
            Format::EncryptionInfo => "a SUIT_Encryption_Info (COSE_Encrypt, `encrypt --info-out`)",
            Format::SeveredMember => {
                "a SUIT_Command_Sequence (a member `suit-author sever` moved out of an envelope)"
            }
        }
    }

    /// What to do with it instead, for a user of `tool`: the command that takes it.
    pub fn advice(self, tool: Tool) -> &'static str {
        match (self, tool) {
            (Format::Envelope, Tool::Author) => "use `suit-author verify`",
            (Format::Envelope, Tool::Agent) => "use `suit-agent install`",
            (Format::ProvisioningMessage, _) => "use `suit-agent provision`",
            (Format::ProvisioningReceipt, _) => "use `suit-author verify-receipt`",
            (Format::KeyStatement, _) => "use `suit-author verify-key-statement`",
            (Format::SignedReport, _) => "use `suit-author verify-report`",
            (Format::DeviceModel, _) => {
                "it is for `suit-author provision --state`/`verify-receipt --expect-state`"
            }
            (Format::Pem | Format::CoseKey, _) => "keys are given with the options that take them",
            (Format::EncryptionInfo, _) => {
                "it is what a manifest's encryption-info parameter holds, not an update \
                 (`suit-author inspect` shows it)"
            }
            (Format::SeveredMember, _) => {
                "`suit-author unsever ENVELOPE --member FILE` puts it back into its envelope"
            }
            (Format::Json, _) => {
                "if it is a description, run `suit-author create` (or `provision`) on it first"
            }
            (Format::Diag, _) => {
                "the tools read binary CBOR or hex text, not the diagnostic notation written \
                 for people: give the binary or hex form (the drafts publish their examples \
                 in hex too), or convert it with a CBOR diagnostic-notation tool"
            }
        }
    }

    /// Whether it is text, never CBOR: `inspect` refuses it rather than showing it.
    pub fn is_text(self) -> bool {
        matches!(self, Format::Pem | Format::Json | Format::Diag)
    }
}

/// Which [`Format`] `bytes` is, if any.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    use suit_common::service::{provision, record, statement};
    // Text first: no CBOR item of these formats starts with `-`, `{` or `[` (a negative
    // integer, a text or byte string), and JSON must parse as such.
    let text = bytes.trim_ascii_start();
    if text.starts_with(b"-----BEGIN ") {
        return Some(Format::Pem);
    }
    if (text.starts_with(b"{") || text.starts_with(b"["))
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Some(Format::Json);
    }
    let Ok(v) = decode_one(bytes) else {
        return is_diagnostic_notation(bytes).then_some(Format::Diag);
    };
    // What is classified may hold secrets (a COSE_Key's `d` or `k`, the TPA's device model's
    // KEKs): the decoded copy is wiped once looked at.
    let v = Wiped(v);
    match &v.0 {
        Value::Tag(107, _) => Some(Format::Envelope),
        // Untagged: the authentication wrapper (label 2) and the manifest (3), byte strings.
        Value::Map(m) if [2, 3].iter().all(|label| bytes_member(m, *label)) => {
            Some(Format::Envelope)
        }
        Value::Array(a) if matches!(a.as_slice(), [Value::Bytes(_), Value::Tag(18, _)]) => {
            Some(Format::ProvisioningMessage)
        }
        Value::Array(a) if is_command_sequence(a) => Some(Format::SeveredMember),
        Value::Tag(96, inner) if matches!(inner.as_ref(), Value::Array(a) if a.len() == 4) => {
            Some(Format::EncryptionInfo)
        }
        Value::Map(m)
            if m.iter().any(|(k, v)| {
                matches!((k, v), (Value::Integer(k), Value::Integer(_)) if i128::from(*k) == 1)
            }) =>
        {
            Some(Format::CoseKey)
        }
        Value::Map(m)
            if ["device", "state", "keks"]
                .iter()
                .all(|f| text_member(m, f)) =>
        {
            Some(Format::DeviceModel)
        }
        Value::Tag(18, inner) => {
            let Value::Array(a) = inner.as_ref() else {
                return None;
            };
            let [_, _, Value::Bytes(p), _] = a.as_slice() else {
                return None;
            };
            if matches!(
                suit_common::report::Report::decode(p),
                Ok(_) | Err(suit_common::report::ReportError::Encrypted)
            ) {
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

/// A decoded value wiped when dropped ([`wipe`]).
pub struct Wiped(pub Value);

impl Drop for Wiped {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Wipes every byte and text string of a decoded value (a COSE_Key's `d` or `k`, a device
/// model's KEKs), keys of maps included. Its depth is bounded by the decoder's (ciborium's
/// recursion limit).
pub fn wipe(v: &mut Value) {
    use zeroize::Zeroize as _;
    match v {
        Value::Bytes(b) => b.zeroize(),
        Value::Text(t) => t.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            wipe(k);
            wipe(v);
        }),
        Value::Tag(_, inner) => wipe(inner),
        _ => {}
    }
}

/// Whether `items` read as a SUIT_Command_Sequence: pairs of a command code (a SUIT command
/// or directive, an integer manifest-37 and its companions assign: 1 to 40) and its argument.
fn is_command_sequence(items: &[Value]) -> bool {
    !items.is_empty()
        && items.len().is_multiple_of(2)
        && items.chunks(2).all(|pair| {
            matches!(pair.first(), Some(Value::Integer(code))
                if (1..=40).contains(&i128::from(*code)))
        })
}

/// Whether `bytes`, which are no CBOR item whole, read as CBOR diagnostic notation: text
/// (UTF-8, no control characters but white space) that starts, after white space, comments
/// (`/ ... /`) and a Markdown code fence (the drafts' `~~~ cbor-diag`), as a diagnostic
/// notation item does: a tag (`107(`), a byte string (`h'..'`, `<<`), or a map or array
/// with a notation only diagnostic notation has (a comment, `h'`, `<<`: a JSON document
/// with a mistake in it is not taken for one). Every binary format of the tools starts with
/// a byte above ASCII, so none is taken for it.
fn is_diagnostic_notation(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    if text
        .chars()
        .any(|c| c.is_control() && !c.is_ascii_whitespace())
    {
        return false;
    }
    let mut rest = text.trim_start();
    let mut commented = false;
    // A fence and comments before the item (each step consumes text: the loop ends).
    loop {
        if rest.starts_with("~~~") || rest.starts_with("```") {
            rest = rest
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .trim_start();
        } else if let Some(comment) = rest.strip_prefix('/') {
            match comment.split_once('/') {
                Some((_, after)) => rest = after.trim_start(),
                None => return false,
            }
            commented = true;
        } else {
            break;
        }
    }
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let tag = digits > 0 && rest.get(digits..).is_some_and(|r| r.starts_with('('));
    let byte_string = rest.starts_with("h'") || rest.starts_with("<<");
    let container = rest.starts_with(['{', '['])
        && (commented || rest.contains("<<") || rest.contains("h'") || rest.contains(" / "));
    tag || byte_string || container
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

/// The body of a provisioning message (`[body, COSE_Sign1]`), read without verifying
/// anything: for wording a refusal and for the simulator's feature screen, never for deciding
/// what the device does.
pub fn message_body(message: &[u8]) -> Option<suit_common::service::provision::ProvisioningBody> {
    use suit_common::service::provision::MAX_MESSAGE;
    let Value::Array(a) = decode_one(message).ok()? else {
        return None;
    };
    let Some(Value::Bytes(body)) = a.first() else {
        return None;
    };
    suit_common::service::record::decode(body, MAX_MESSAGE).ok()
}

/// Whether map `m` has a byte string under integer label `label`.
fn bytes_member(m: &[(Value, Value)], label: i128) -> bool {
    m.iter().any(
        |(k, v)| matches!((k, v), (Value::Integer(i), Value::Bytes(_)) if i128::from(*i) == label),
    )
}

/// Whether map `m` has the text key `name` (records serialised with field names).
pub fn text_member(m: &[(Value, Value)], name: &str) -> bool {
    m.iter()
        .any(|(k, _)| matches!(k, Value::Text(n) if n == name))
}

/// The refusal of `bytes` by a command of `tool` that takes `expected`, when they are another
/// of the formats: what they are and which command takes them.
pub fn other_format(bytes: &[u8], expected: Format, tool: Tool) -> Option<String> {
    other_format_advising(bytes, expected, |found| found.advice(tool).to_string())
}

/// [`other_format`] with the advice `advice` gives for the format found (an option that
/// needs one particular file says which).
pub fn other_format_advising(
    bytes: &[u8],
    expected: Format,
    advice: impl FnOnce(Format) -> String,
) -> Option<String> {
    let found = detect(bytes).filter(|f| *f != expected)?;
    Some(format!(
        "this is {}, not {}: {}",
        found.name(),
        expected.name(),
        advice(found)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count is of headers: a string's content (definite or in indefinite chunks) is no
    /// item however it reads, breaks are none, and malformed input is left to the decoder.
    #[test]
    fn items_are_counted_by_their_headers() {
        let limit = u32::try_from(MAX_CBOR_ITEMS).unwrap();
        let array_of = |n: u32, item: &[u8]| {
            let mut b = vec![0x9a];
            b.extend_from_slice(&n.to_be_bytes());
            for _ in 0..n {
                b.extend_from_slice(item);
            }
            b
        };
        // The array's header and its items.
        assert!(check_item_count(&array_of(limit - 1, &[0x80])).is_ok());
        assert!(check_item_count(&array_of(limit, &[0x80])).is_err());
        assert!(decode_one(&array_of(limit, &[0x80]))
            .unwrap_err()
            .contains("CBOR data items"));
        // A byte string of headers' bytes is one item; so is each chunk of an indefinite
        // one, and a text string.
        let mut bstr = vec![0x5a];
        bstr.extend_from_slice(&(4 * limit).to_be_bytes());
        bstr.resize(bstr.len() + 4 * limit as usize, 0x80);
        assert!(decode_one(&bstr).is_ok());
        let mut chunks = vec![0x7f, 0x7a];
        chunks.extend_from_slice(&(4 * limit).to_be_bytes());
        chunks.resize(chunks.len() + 4 * limit as usize, b'a');
        chunks.push(0xff);
        assert!(decode_one(&chunks).is_ok());
        // Floats, simple values and tags take their arguments, not items.
        assert!(check_item_count(&array_of(
            limit / 2 - 1,
            &[0xfb, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]
        ))
        .is_ok());
        assert!(check_item_count(&array_of(limit / 2, &[0xc1, 0x00])).is_err());
        // Truncated or malformed: the decoder's to name.
        assert!(check_item_count(&[0x5a, 0xff, 0xff, 0xff, 0xff, 0x00]).is_ok());
        assert!(check_item_count(&[0x1c]).is_ok());
        assert!(decode_one(&[0x1c]).unwrap_err().starts_with("not CBOR"));
    }
}
