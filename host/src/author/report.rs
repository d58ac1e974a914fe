//! `suit-author verify-report`: check a device's signed SUIT report (draft-ietf-suit-report)
//! against the device's report public key and show what it says: which manifest (digest, URI,
//! sequence number), success or the precise failure, and the records.
//!
//! Exit status: 0 only if the signature verifies with the given key (whatever the report says
//! about the install); 1 if it does not; 2 for unusable files.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{json, Value as Json};
use suit_common::report::{
    command_name, section_name, verify_report, DecodedReport, Entry, ReportError, ReportRecord,
    ReportResult, Value,
};

use super::keys::{load_public, PublicKey};
use super::{hex_str, read_cbor_file, AuthorError, Result};

/// What `verify-report` was asked to do.
#[derive(Debug, Clone)]
pub struct VerifyReportOptions {
    /// The signed report (COSE_Sign1; raw CBOR or hex text).
    pub report: PathBuf,
    /// The device's report public key (PEM SPKI, COSE_Key or JWK; P-256).
    pub device_key: PathBuf,
    /// Print JSON instead of text.
    pub json: bool,
}

/// Verifies the report and prints it; `Err(Refused)` if the signature does not verify.
pub fn verify_report_file(opts: &VerifyReportOptions, out: &mut dyn Write) -> Result<()> {
    let key = load_public(&opts.device_key)?;
    if !matches!(key.key, PublicKey::P256(_)) {
        return Err(AuthorError::key(
            &opts.device_key,
            format!(
                "a {} key; device report keys are P-256",
                key.key.type_name()
            ),
        ));
    }
    let vk = key.key.verification_key()?;
    let bytes = read_cbor_file(&opts.report)?;
    let report = verify_report(&bytes, &vk).map_err(|e| match e {
        ReportError::BadSignature => AuthorError::Refused(format!(
            "{}: the signature does not verify with {}",
            opts.report.display(),
            opts.device_key.display()
        )),
        ReportError::Cose(suit_common::cose::CoseError::KeyAlgorithmMismatch) => {
            AuthorError::Refused(format!(
                "{}: signed with an algorithm the device key cannot verify",
                opts.report.display()
            ))
        }
        other => AuthorError::input(&opts.report, other.to_string()),
    })?;
    let text = if opts.json {
        let mut j = to_json(&report);
        j["signature"] = json!("verified");
        serde_json::to_string_pretty(&j).map_err(|e| AuthorError::Create(e.to_string()))? + "\n"
    } else {
        format!(
            "REPORT SIGNATURE VERIFIED with {}\n{}",
            opts.device_key.display(),
            render_text(&report)
        )
    };
    let _ = out.write_all(text.as_bytes());
    Ok(())
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
    let segs: Vec<String> = c.segments().iter().map(|s| super::kid_str(s)).collect();
    format!("[{}]", segs.join(", "))
}

/// The report as text.
pub fn render_text(r: &DecodedReport) -> String {
    let mut s = String::new();
    if r.authenticated == Some(false) {
        s += "attempt refused before its manifest was authenticated: the report claims nothing about it\n";
    }
    s += &format!("manifest: {}\n", digest_str(&r.manifest_digest));
    if let Some(uri) = &r.manifest_uri {
        s += &format!("manifest uri: {uri}\n");
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
                s += &format!("  detail: {d}\n");
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
            "device state: provisioning counter {}, {} installed component(s)\n",
            state.provisioning_counter,
            state.components.len()
        );
        for c in &state.components {
            s += &format!(
                "  - {} sequence {} sha256:{} size {}\n",
                component_str(&c.component),
                c.sequence_number,
                hex_str(&c.digest),
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
            "detail": f.detail,
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
            "components": st.components.iter().map(|c| json!({
                "component": c.component.segments().iter().map(|s| hex_str(s)).collect::<Vec<_>>(),
                "sequence-number": c.sequence_number,
                "digest": hex_str(&c.digest),
                "size": c.size,
            })).collect::<Vec<_>>(),
        })
    });
    json!({
        "authenticated": r.authenticated,
        "device-state": state,
        "manifest-digest": r.manifest_digest.map(|d| hex_str(&d)),
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

/// Most reports `verify-report DIR` reads from one directory.
const MAX_REPORTS_IN_DIR: usize = 10_000;

/// `verify-report DIR`: every regular file in the directory (a status tracker's collection,
/// one file per POST), in name order, verified with the same key and printed; refused if any
/// does not verify (the others are still checked and printed).
pub fn verify_report_dir(opts: &VerifyReportOptions, out: &mut dyn Write) -> Result<()> {
    let dir = &opts.report;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| AuthorError::input(dir, e.to_string()))? {
        let entry = entry.map_err(|e| AuthorError::input(dir, e.to_string()))?;
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            files.push(entry.path());
        }
        if files.len() > MAX_REPORTS_IN_DIR {
            return Err(AuthorError::input(
                dir,
                format!("more than {MAX_REPORTS_IN_DIR} files"),
            ));
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(AuthorError::input(dir, "no report files in the directory"));
    }
    let mut failed = Vec::new();
    let mut docs = Vec::new();
    for file in &files {
        let mut buffer = Vec::new();
        let one = VerifyReportOptions {
            report: file.clone(),
            ..opts.clone()
        };
        let name = file.display().to_string();
        match verify_report_file(&one, &mut buffer) {
            Ok(()) if opts.json => docs.push(json!({
                "file": name,
                "ok": true,
                "report": serde_json::from_slice::<serde_json::Value>(&buffer).unwrap_or_default(),
            })),
            Ok(()) => {
                let _ = writeln!(out, "== {name}");
                let _ = out.write_all(&buffer);
            }
            Err(e) => {
                if opts.json {
                    docs.push(json!({"file": name, "ok": false, "error": e.to_string()}));
                } else {
                    let _ = writeln!(out, "== {name}\nNOT VERIFIED: {e}");
                }
                failed.push(name);
            }
        }
    }
    if opts.json {
        let j = json!({"reports": docs, "verified": files.len() - failed.len(), "failed": failed.len()});
        let text =
            serde_json::to_string_pretty(&j).map_err(|e| AuthorError::Create(e.to_string()))?;
        let _ = writeln!(out, "{text}");
    } else {
        let _ = writeln!(
            out,
            "{} of {} reports verified",
            files.len() - failed.len(),
            files.len()
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(AuthorError::Refused(format!(
            "{} report(s) in {} do not verify: {}",
            failed.len(),
            dir.display(),
            failed.join(", ")
        )))
    }
}
