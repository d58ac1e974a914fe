//! Validation against the drafts' own CDDL (tests/cddl/README.md) by the independent
//! validator tests/cddl/validate.py drives: shared by the host's CDDL conformance tests and the
//! QEMU tests that check what the real TA signs.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use ciborium::Value;
use serde_json::{json, Value as Json};

/// One item to validate: `bytes` against rule `ty` of schema set `set` (validate.py's SETS).
pub struct Case {
    pub name: String,
    pub set: &'static str,
    pub ty: &'static str,
    pub bytes: Vec<u8>,
    pub valid: bool,
    /// For an invalid case: text the validator's errors must contain (the reason it fails).
    pub because: &'static str,
}

/// A case that must be valid.
pub fn case(name: impl Into<String>, set: &'static str, ty: &'static str, bytes: Vec<u8>) -> Case {
    Case {
        name: name.into(),
        set,
        ty,
        bytes,
        valid: true,
        because: "",
    }
}

/// A case that must be invalid, for a reason the validator's errors name.
pub fn wrong(
    name: impl Into<String>,
    set: &'static str,
    ty: &'static str,
    bytes: Vec<u8>,
    because: &'static str,
) -> Case {
    Case {
        valid: false,
        because,
        ..case(name, set, ty, bytes)
    }
}

fn repo() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The validator's Python: `SUIT_CDDL_PYTHON`, else the virtualenv tests/cddl.sh creates
/// (build/cddl-venv). Neither is a failure, never a skip.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SUIT_CDDL_PYTHON") {
        return p.into();
    }
    let venv = repo().join("build/cddl-venv/bin/python");
    assert!(
        venv.is_file(),
        "no CDDL validator: set SUIT_CDDL_PYTHON or run tests/cddl.sh once (it creates {})",
        venv.display()
    );
    venv
}

/// Runs the validator on every case; returns, per case, its verdict and first errors.
pub fn validate(cases: &[Case]) -> Vec<(bool, Json)> {
    let input: Vec<Json> = cases
        .iter()
        .map(|c| json!({"name": c.name, "set": c.set, "type": c.ty, "hex": hex::encode(&c.bytes)}))
        .collect();
    let mut child = Command::new(python())
        .arg(repo().join("tests/cddl/validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &json!({ "cases": input })).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "validate.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp: Json = serde_json::from_slice(&out.stdout).unwrap();
    // SUIT_CDDL_DUMP=FILE keeps the validator's whole answer (errors, seconds per case).
    if let Ok(f) = std::env::var("SUIT_CDDL_DUMP") {
        std::fs::write(f, &out.stdout).unwrap();
    }
    let results = resp["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    results
        .iter()
        .map(|r| (r["valid"].as_bool().unwrap(), r["errors"].clone()))
        .collect()
}

/// Validates every case and fails naming each one whose verdict is not the expected one.
pub fn expect(cases: &[Case]) {
    let got = validate(cases);
    let mut bad = Vec::new();
    for (c, (valid, errors)) in cases.iter().zip(got) {
        if !valid && !c.valid && !errors.to_string().contains(c.because) {
            bad.push(format!(
                "{} ({} / {}): invalid, but not because of {:?}: {errors}",
                c.name, c.set, c.ty, c.because
            ));
        } else if valid != c.valid {
            bad.push(format!(
                "{} ({} / {}): expected {}, got {}: {errors}\n  bytes: {}",
                c.name,
                c.set,
                c.ty,
                if c.valid { "valid" } else { "invalid" },
                if valid { "valid" } else { "invalid" },
                hex::encode(&c.bytes)
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {}:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

/// A signed report (COSE_Sign1) as the report draft's protected form, split the way its
/// `.and` reads: the COSE_Sign1 rule and the MTI profile each, and the payload as SUIT_Report.
pub fn report_cases(name: &str, signed: &[u8], cases: &mut Vec<Case>) {
    for ty in [
        "SUIT_Report_COSE_Sign1_Tagged",
        "SUIT_COSE_Profiles",
        "SUIT_Report_Protected",
    ] {
        cases.push(case(format!("{name}: {ty}"), "report", ty, signed.to_vec()));
    }
    let v: Value = ciborium::from_reader(signed).unwrap();
    let sign1 = match v {
        Value::Tag(_, inner) => *inner,
        other => other,
    };
    let payload = sign1.as_array().unwrap()[2].as_bytes().unwrap().clone();
    cases.push(case(
        format!("{name}: payload"),
        "report",
        "SUIT_Report",
        payload,
    ));
}
