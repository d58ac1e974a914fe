//! How both tools show things to people: bytes, key ids, component ids and SUIT reports
//! (text and JSON), outside the author code (the agent is built without it).

use serde_json::{json, Value as Json};
use suit_common::report::{
    command_name, section_name, DecodedReport, Entry, ReportRecord, ReportResult, Value,
};

/// Text from outside (a manifest's URI, a server's answer, an error naming them) as it may be
/// shown on a terminal or in a log: control characters (newline, ESC, ...) and other
/// characters that do not print (bidirectional overrides, ...) escaped as Rust's debug
/// format escapes them (`\n`, `\u{1b}`), everything else as it is.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| !matches!(c, '\\' | '"' | '\'') && c.escape_debug().len() > 1;
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

/// Longest error message either tool prints (text or JSON): a message quoting its input (a
/// description's 3 MB component segment, an unknown name) is cut to this many bytes.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// An error message bounded to [`MAX_MESSAGE_LEN`] bytes: its start and its end (where the
/// reason usually is: "... is longer than 255 bytes"), and how much was left out between.
/// Cut on character boundaries. For text as it is printed (after [`printable`]).
pub fn bounded_message(text: &str) -> std::borrow::Cow<'_, str> {
    bounded_by(text, char::len_utf8)
}

/// [`bounded_message`] for a JSON string: [`MAX_MESSAGE_LEN`] bytes as serialized, where a
/// control character takes up to 6 (`\u0001`; review s43-rev: 4 KiB of them were 24 KiB).
pub fn bounded_json_message(text: &str) -> std::borrow::Cow<'_, str> {
    bounded_by(text, |c| match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if u32::from(c) < 0x20 => 6,
        c => c.len_utf8(),
    })
}

/// `text` cut to [`MAX_MESSAGE_LEN`] bytes as `cost` counts each character's.
fn bounded_by(text: &str, cost: impl Fn(char) -> usize) -> std::borrow::Cow<'_, str> {
    const TAIL: usize = 512;
    // Room for the note of what was left out.
    const HEAD: usize = MAX_MESSAGE_LEN - TAIL - 64;
    if text.chars().map(&cost).sum::<usize>() <= MAX_MESSAGE_LEN {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut used = 0;
    let head_end = text
        .char_indices()
        .find(|(_, c)| {
            used += cost(*c);
            used > HEAD
        })
        .map_or(text.len(), |(i, _)| i);
    let mut used = 0;
    let tail_start = text
        .char_indices()
        .rev()
        .find(|(_, c)| {
            used += cost(*c);
            used > TAIL
        })
        .map_or(0, |(i, c)| i + c.len_utf8())
        .max(head_end);
    std::borrow::Cow::Owned(format!(
        "{}[... {} bytes left out ...]{}",
        text.get(..head_end).unwrap_or_default(),
        tail_start - head_end,
        text.get(tail_start..).unwrap_or_default()
    ))
}

/// The first `n` of `items`, comma-separated, then how many more there are (`a, b, and 3
/// more`): a hint that lists what it found without growing with it.
pub fn first_few(items: &[String], n: usize) -> String {
    let mut shown: Vec<&str> = items.iter().take(n).map(String::as_str).collect();
    let more = items.len().saturating_sub(n);
    let tail = format!("and {more} more");
    if more > 0 {
        shown.push(&tail);
    }
    shown.join(", ")
}

/// Formats bytes as lower-case hex.
pub fn hex_str(b: &[u8]) -> String {
    hex::encode(b)
}

/// A key id for people: `'text'` if it prints as text, else `h'hex'`, the one rule of both
/// tools ([`suit_common::text::kid`]).
pub fn kid_str(kid: &[u8]) -> String {
    suit_common::text::kid(kid)
}

/// A SUIT_Digest algorithm other than SHA-256 a third party's report names its manifest by,
/// as the text shows it (`sha384:...`).
fn other_digest_name(alg: i64) -> String {
    match alg {
        -18 => "shake128".into(),
        -43 => "sha384".into(),
        -44 => "sha512".into(),
        -45 => "shake256".into(),
        a => format!("alg{a}"),
    }
}

/// The registered COSE name of a SUIT_Digest algorithm manifest-37 lists (SHA-256 -16,
/// SHAKE128 -18, SHA-384 -43, SHA-512 -44, SHAKE256 -45), as every JSON output of the tools
/// names a digest's algorithm (`inspect`'s SUIT_Digest, `verify-report`'s
/// `manifest-digest-algorithm`); `None` for another id.
pub fn digest_alg_name(alg: i64) -> Option<&'static str> {
    Some(match alg {
        -16 => "SHA-256",
        -18 => "SHAKE128",
        -43 => "SHA-384",
        -44 => "SHA-512",
        -45 => "SHAKE256",
        _ => return None,
    })
}

/// A digest algorithm id as JSON shows it: its registered name, or the id as text.
fn digest_alg_json(alg: i64) -> String {
    digest_alg_name(alg).map_or_else(|| alg.to_string(), str::to_string)
}

fn digest_str(d: &Option<[u8; 32]>) -> String {
    match d {
        Some(d) => format!("sha256:{}", hex_str(d)),
        None => "(unknown: no authenticated manifest)".into(),
    }
}

fn record_str(r: &ReportRecord) -> String {
    let mut s = String::new();
    if !r.manifest_id.is_empty() {
        s += &format!("dependency {:?} ", r.manifest_id);
    }
    if r.section == 0 {
        s += "outside command sequences";
    } else {
        s += &format!(
            "{} ({}) offset {}",
            section_name(r.section),
            r.section,
            r.offset
        );
    }
    s += &format!(" component {}", r.component_index);
    if let Some(c) = r.command {
        s += &format!(" {} ({c})", command_name(c));
    }
    match r.success {
        Some(true) => s += ": ok",
        Some(false) => s += ": FAILED",
        None => {}
    }
    for (k, v) in &r.properties {
        s += &format!(" {k}={}", value_str(v));
    }
    s
}

fn value_str(v: &Value) -> String {
    match v {
        Value::Uint(n) => n.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Bytes(b) => format!("h'{}'", hex_str(b)),
        Value::Text(t) => format!("{t:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Other(raw) => format!("<cbor {}>", hex_str(raw)),
    }
}

fn component_str(c: &suit_common::suit::ComponentId) -> String {
    let segs: Vec<String> = c.segments().iter().map(|s| kid_str(s)).collect();
    format!("[{}]", segs.join(", "))
}

/// The report as text, what it quotes from the manifest (URI, a fault's REE path) escaped
/// ([`printable`]): a signer must not write on the operator's terminal.
pub fn render_text(r: &DecodedReport) -> String {
    let mut s = String::new();
    if r.authenticated == Some(false) {
        s += "attempt refused before its manifest was authenticated: the report claims nothing about it\n";
    }
    s += &format!(
        "manifest: {}\n",
        match (&r.manifest_digest, &r.other_manifest_digest) {
            (None, Some((alg, d))) => format!("{}:{}", other_digest_name(*alg), hex_str(d)),
            (d, _) => digest_str(d),
        }
    );
    if let Some(uri) = &r.manifest_uri {
        s += &format!("manifest uri: {}\n", printable(uri));
    }
    if let Some(n) = r.sequence_number {
        s += &format!("sequence number: {n}\n");
    }
    if let Some(n) = &r.nonce {
        s += &format!("nonce: {}\n", hex_str(n));
    }
    match &r.result {
        ReportResult::Success => s += "result: SUCCESS\n",
        ReportResult::Failure(f) => {
            s += &format!(
                "result: FAILED: {} (reason {}, code {})\n",
                f.reason.name(),
                f.reason.code(),
                f.code
            );
            if let Some(d) = &f.detail {
                // A fault may quote the manifest (an REE path, a URI).
                s += &format!("  detail: {}\n", printable(&d.to_string()));
            }
            s += &format!("  at: {}\n", record_str(&f.record));
        }
    }
    s += &format!("records ({}):\n", r.entries.len());
    for e in &r.entries {
        match e {
            Entry::Record(rec) => s += &format!("  - {}\n", record_str(rec)),
            Entry::System(sys) => {
                let props: Vec<String> = sys
                    .properties
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_str(v)))
                    .collect();
                s += &format!(
                    "  - system {}: {}\n",
                    component_str(&sys.component),
                    props.join(" ")
                );
            }
        }
    }
    if r.dropped_records > 0 {
        s += &format!(
            "  ({} more records dropped by the device)\n",
            r.dropped_records
        );
    }
    if let Some(state) = &r.device_state {
        s += &format!(
            "device state: provisioning counters {} (TPA root), {} (delegated TPA anchors), {} installed component(s)\n",
            state.provisioning_counter,
            state.delegate_counter,
            state.components.len()
        );
        for c in &state.components {
            let digest = match &c.digest {
                Some(d) => format!("sha256:{}", hex_str(d)),
                None => "digest withheld".to_string(),
            };
            s += &format!(
                "  - {} sequence {} {} size {}\n",
                component_str(&c.component),
                c.sequence_number,
                digest,
                c.size
            );
        }
    }
    s
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Uint(n) => json!(n),
        Value::Int(i) => json!(i),
        Value::Bytes(b) => json!({ "hex": hex_str(b) }),
        Value::Text(t) => json!(t),
        Value::Bool(b) => json!(b),
        Value::Other(raw) => json!({ "cbor": hex_str(raw) }),
    }
}

fn record_json(r: &ReportRecord) -> Json {
    let props: serde_json::Map<String, Json> = r
        .properties
        .iter()
        .map(|(k, v)| (k.to_string(), value_json(v)))
        .collect();
    json!({
        "manifest-id": r.manifest_id,
        "section": r.section,
        "section-name": section_name(r.section),
        "offset": r.offset,
        "component-index": r.component_index,
        "command": r.command,
        "command-name": r.command.map(command_name),
        "success": r.success,
        "properties": props,
    })
}

/// The report as JSON.
pub fn to_json(r: &DecodedReport) -> Json {
    let result = match &r.result {
        ReportResult::Success => json!({ "success": true }),
        ReportResult::Failure(f) => json!({
            "success": false,
            "reason": f.reason.name(),
            "reason-code": f.reason.code(),
            "code": f.code,
            "detail": f.detail.as_ref().map(ToString::to_string),
            "record": record_json(&f.record),
        }),
    };
    let records: Vec<Json> = r
        .entries
        .iter()
        .map(|e| match e {
            Entry::Record(rec) => record_json(rec),
            Entry::System(sys) => {
                let props: serde_json::Map<String, Json> = sys
                    .properties
                    .iter()
                    .map(|(k, v)| (k.to_string(), value_json(v)))
                    .collect();
                json!({
                    "system-component": sys.component.segments().iter().map(|s| hex_str(s)).collect::<Vec<_>>(),
                    "properties": props,
                })
            }
        })
        .collect();
    let state = r.device_state.as_ref().map(|st| {
        json!({
            "provisioning-counter": st.provisioning_counter,
            "delegate-counter": st.delegate_counter,
            "components": st.components.iter().map(|c| json!({
                "component": c.component.segments().iter().map(|s| hex_str(s)).collect::<Vec<_>>(),
                "sequence-number": c.sequence_number,
                "digest": c.digest.as_ref().map(|d| hex_str(d)),
                "size": c.size,
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "authenticated": r.authenticated,
        "device-state": state,
        // One form for every algorithm: the digest's bytes in hex, its algorithm beside
        // (both null when the report names no authenticated manifest).
        "manifest-digest": r.manifest_digest.map(|d| hex_str(&d)).or_else(|| {
            r.other_manifest_digest.as_ref().map(|(_, d)| hex_str(d))
        }),
        "manifest-digest-algorithm": r.manifest_digest.map(|_| digest_alg_json(-16)).or_else(|| {
            r.other_manifest_digest.as_ref().map(|(alg, _)| digest_alg_json(*alg))
        }),
        "manifest-uri": r.manifest_uri,
        "sequence-number": r.sequence_number,
        "nonce": r.nonce.as_ref().map(|n| hex_str(n)),
        "result": result,
        "records": records,
        "dropped-records": r.dropped_records,
    })
}

/// A component id for people: `['text', h'00ff']`.
pub fn component_text(c: &suit_common::suit::ComponentId) -> String {
    component_str(c)
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert!(matches!(
            printable("https://x/a b?c=d\\\"é"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("http://x/a\n\x1b[31mred\r\t\u{202e}"),
            "http://x/a\\n\\u{1b}[31mred\\r\\t\\u{202e}"
        );
    }

    /// The report's text quotes the manifest's URI and a fault naming an REE path (a
    /// signer's choice) escaped: one line each, no terminal control.
    #[test]
    fn report_text_escapes_what_it_quotes_from_the_manifest() {
        use suit_common::fault::{Fault, ServiceFault};
        use suit_common::report::{Failure, Reason, Report, ReportResult};
        let hostile = "x\u{1b}]0;title\u{7}\r\nresult: SUCCESS\u{9b}2J\u{202e}";
        let report = Report {
            manifest_uri: Some(format!("https://x/{hostile}")),
            manifest_digest: None,
            nonce: None,
            entries: Vec::new(),
            result: ReportResult::Failure(Failure::new(
                Reason::Unknown(99),
                1,
                Fault::Service(ServiceFault::NoReeComponent(hostile.into())),
            )),
            sequence_number: Some(1),
            dropped_records: 0,
            has_capability_report: false,
            other_manifest_digest: None,
            authenticated: Some(true),
            device_state: None,
        };
        let text = super::render_text(&report);
        let escaped = hostile.escape_debug().to_string();
        assert!(
            text.contains(&format!("manifest uri: https://x/{escaped}\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("  detail: no approved REE component {escaped}\n")),
            "{text}"
        );
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        assert!(
            !text.lines().any(|l| l.starts_with("result: SUCCESS")),
            "{text}"
        );
    }
}
