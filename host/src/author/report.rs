//! `suit-author verify-report`: check a device's signed SUIT report (draft-ietf-suit-report)
//! against the device's report public key and show what it says: which manifest (digest, URI,
//! sequence number), success or the precise failure, and the records.
//!
//! A report whose signed payload is encrypted (SUIT_Report_COSE_Encrypt0, sealed to the status
//! tracker key the TPA gave the manifest's anchor) is opened with `--tracker-key`, after its
//! signature verified; without that option it is refused, saying so.
//!
//! Exit status: 0 only if the signature verifies with the given key (whatever the report says
//! about the install), an encrypted report opens with `--tracker-key` and, with `--nonce`, the
//! report is signed over that nonce; 1 if not; 2 for unusable files.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;
use suit_common::report::{verify_and_open, ReportError};

use super::keys::load_public;
use super::{AuthorError, Result};
use crate::human::printable;
/// How a report reads (shared with the agent's `report`).
pub use crate::human::{component_text, render_text, to_json};

/// What `verify-report` was asked to do.
#[derive(Debug, Clone)]
pub struct VerifyReportOptions {
    /// The signed report (COSE_Sign1; raw CBOR or hex text).
    pub report: PathBuf,
    /// The device's report public key (PEM SPKI, COSE_Key or JWK): P-256 for this project's
    /// devices; Ed25519 or HSS-LMS for a third party's device signing on those profiles.
    pub device_key: PathBuf,
    /// Print JSON instead of text.
    pub json: bool,
    /// The nonce the status tracker asked the device to sign (freshness): without it a
    /// replayed old report verifies too.
    pub nonce: Option<Vec<u8>>,
    /// The status tracker's P-256 private key (PEM, COSE_Key or JWK), to open a report sealed
    /// to it (SUIT_Report_COSE_Encrypt0).
    pub tracker_key: Option<PathBuf>,
}

/// The status tracker's private key of `--tracker-key`: P-256 only, kept in its own box
/// (`PrivateKey`'s note: a key moved out of it would leave copies behind).
fn load_tracker_key(path: &std::path::Path) -> Result<Box<p256::SecretKey>> {
    match super::keys::load_private(path)?.key {
        super::keys::PrivateKey::P256(k) => Ok(k),
        _ => Err(AuthorError::key(
            path,
            "a status tracker key is a P-256 private key (reports are sealed with HPKE-0)",
        )),
    }
}

/// Verifies the report and prints it; `Err(Refused)` if the signature does not verify.
pub fn verify_report_file(opts: &VerifyReportOptions, out: &mut dyn Write) -> Result<()> {
    // Any signature key: this project's devices sign reports with a P-256 report key
    // (ESP256); a third party's device on another MTI profile signs with its Ed25519 (or
    // HSS-LMS) key, as report-18 asks (the manifest's profile SHOULD be reused).
    let key = load_public(&opts.device_key)?;
    // Restricted to the file's `alg`, if it declares one (RFC 9052 §7.1).
    let vk = key.verification_key(&opts.device_key)?;
    let bytes = super::read_cbor_as(&opts.report, crate::detect::Format::SignedReport)?;
    let tracker = opts
        .tracker_key
        .as_deref()
        .map(load_tracker_key)
        .transpose()?;
    let opened = verify_and_open(&bytes, &vk, tracker.as_deref()).map_err(|e| match e {
        ReportError::Encrypted => AuthorError::Refused(format!(
            "{}: the signature verifies, but the report is encrypted to a status tracker's key \
             (SUIT_Report_COSE_Encrypt0): give that tracker's private key with --tracker-key",
            opts.report.display()
        )),
        ReportError::Undecryptable => AuthorError::Refused(format!(
            "{}: the signature verifies, but the encrypted report does not open with {} (another \
             tracker's key, or the ciphertext was changed)",
            opts.report.display(),
            opts.tracker_key
                .as_deref()
                .map_or(String::new(), |p| p.display().to_string())
        )),
        ReportError::BadSignature => AuthorError::Refused(format!(
            "{}: the signature does not verify with {} (hint: reports are signed with the \
             device's report key, report.pub.pem of `suit-agent device-key --out-dir`, not its \
             identity or provisioning key)",
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
    let (report, encrypted) = (opened.report, opened.encrypted);
    if let Some(expected) = &opts.nonce {
        // Refused before anything is shown: an authentic old report is still not an answer.
        match &report.nonce {
            Some(n) if n == expected => {}
            Some(n) => {
                return Err(AuthorError::Refused(format!(
                    "{}: the report was signed for nonce {}, not {} (--nonce): a replayed or \
                     another request's report",
                    opts.report.display(),
                    hex::encode(n),
                    hex::encode(expected)
                )))
            }
            None => {
                return Err(AuthorError::Refused(format!(
                    "{}: the report carries no nonce, --nonce {} expects one: it does not answer \
                     that request",
                    opts.report.display(),
                    hex::encode(expected)
                )))
            }
        }
    }
    let text = if opts.json {
        let mut j = to_json(&report);
        if let Some(o) = j.as_object_mut() {
            o.insert("signature".into(), json!("verified"));
            o.insert("encrypted".into(), json!(encrypted));
            o.insert("nonce-checked".into(), json!(opts.nonce.is_some()));
        }
        serde_json::to_string_pretty(&j).map_err(|e| AuthorError::Create(e.to_string()))? + "\n"
    } else {
        format!(
            "REPORT SIGNATURE VERIFIED with {}{}{}\n{}",
            opts.device_key.display(),
            if encrypted {
                "\nencrypted to the status tracker key (SUIT_Report_COSE_Encrypt0): opened with \
                 --tracker-key"
            } else if opts.tracker_key.is_some() {
                // Said, not passed over: a tracker that expects sealed reports learns that
                // this one travelled in clear.
                "\nNOT ENCRYPTED: the device signed this report in clear (--tracker-key was \
                 not needed)"
            } else {
                ""
            },
            if opts.nonce.is_some() {
                "; its nonce is the expected one (--nonce)"
            } else {
                "\nfreshness not checked (no --nonce): a replayed older report verifies too"
            },
            render_text(&report)
        )
    };
    let _ = out.write_all(text.as_bytes());
    Ok(())
}

/// Most reports `verify-report DIR` reads from one directory.
const MAX_REPORTS_IN_DIR: usize = 10_000;

/// `verify-report DIR`: every regular file in the directory (a status tracker's collection,
/// one file per POST), in name order, verified with the same key and printed; refused if any
/// does not verify (the others are still checked and printed).
pub fn verify_report_dir(opts: &VerifyReportOptions, out: &mut dyn Write) -> Result<()> {
    let dir = &opts.report;
    if opts.nonce.is_some() {
        return Err(AuthorError::Usage(
            "--nonce checks one report file: each report of a collection answers its own nonce"
                .into(),
        ));
    }
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
                let _ = writeln!(out, "== {}", printable(&name));
                let _ = out.write_all(&buffer);
            }
            Err(e) => {
                if opts.json {
                    docs.push(json!({"file": name, "ok": false, "error": e.to_string()}));
                } else {
                    let _ = writeln!(
                        out,
                        "== {}\nNOT VERIFIED: {}",
                        printable(&name),
                        printable(&e.to_string())
                    );
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
            failed
                .iter()
                .map(|n| printable(n))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}
