//! The bugs a new user hit in `suit-author` and `suit-agent` (issue 11), one test each, run
//! against the built binaries (the agent with `--tee sim`).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::{Path, PathBuf};
use suit_test_support::cli::{ok, words};
use suit_test_support::says;

suit_test_support::cli_tools!();

use suit_test_support::{CLASS_UUID as CLASS, VENDOR_UUID as VENDOR};

fn keygen(dir: &Path, name: &str, cose: bool) {
    let mut a = vec!["keygen", "--type", "p256", "--out", name];
    if cose {
        a.push("--cose");
    }
    ok(author(dir, &a));
}

/// A scratch directory with the key pairs `signer` and `device`.
fn signer_and_device() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    keygen(t.path(), "signer", false);
    keygen(t.path(), "device", false);
    t
}

/// [`signer_and_device`] with `m.suit`, an envelope of `fw.bin` signed by the signer.
fn signed_envelope() -> tempfile::TempDir {
    let t = signer_and_device();
    let d = t.path();
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    std::fs::write(
        d.join("m.json"),
        suit_test_support::cli::app_description("b"),
    )
    .unwrap();
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key signer.priv.pem"),
    ));
    t
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

// Bug 1: the plaintext payload sat where its detached ciphertext goes and was overwritten.
#[test]
fn create_never_writes_a_ciphertext_over_its_plaintext() {
    let t = signer_and_device();
    let d = t.path();
    let plaintext = b"the only copy of the firmware".to_vec();
    std::fs::write(d.join("app.bin"), &plaintext).unwrap();
    std::fs::write(
        d.join("m.json"),
        format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
            "components": [{{"id": ["app"], "file": "app.bin", "uri": "https://example.com/app.bin",
            "encryption": {{"recipients": [{{"key": "device.pub.pem"}}]}}}}]}}"#
        ),
    )
    .unwrap();
    let r = author(
        d,
        &words("create m.json -o app.suit --sign-key signer.priv.pem"),
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("refusing to write the detached payload of component 0")
            && r.stderr.contains("that file is an input"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(d.join("app.bin")).unwrap(), plaintext);
    assert!(!d.join("app.suit").exists(), "nothing is written");
    // Elsewhere it works, and the source is untouched.
    ok(author(
        d,
        &words("create m.json -o app.suit --sign-key signer.priv.pem --payload-out out"),
    ));
    assert_eq!(std::fs::read(d.join("app.bin")).unwrap(), plaintext);
    assert_ne!(std::fs::read(d.join("out/app.bin")).unwrap(), plaintext);
    // The encrypt command: the ciphertext output may not be the payload either.
    let r = author(
        d,
        &words("encrypt --payload app.bin --recipient device.pub.pem --info-out info.cbor --ciphertext-out ./app.bin"),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(std::fs::read(d.join("app.bin")).unwrap(), plaintext);
}

// Bug 2: 33 recipients were accepted at creation; every device refuses "too many recipients".
#[test]
fn more_recipients_than_devices_accept_are_refused_at_creation() {
    let t = signer_and_device();
    let d = t.path();
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    let max = suit_common::encryption::MAX_RECIPIENTS;
    let mut a: Vec<String> = ["encrypt", "--payload", "fw.bin"]
        .map(String::from)
        .to_vec();
    for _ in 0..=max {
        a.extend(["--recipient".into(), "device.pub.pem".into()]);
    }
    a.extend(["--info-out", "i.cbor", "--ciphertext-out", "c.bin"].map(String::from));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let r = author(d, &refs);
    assert_eq!(r.code, 2, "{}", r.stdout);
    says(
        &r.stderr,
        &format!("{} recipients: devices accept at most {max}", max + 1),
    );
    assert!(!d.join("c.bin").exists());
    // The limit itself is fine (and the device decodes it: see verify below).
    let refs: Vec<&str> = refs
        .iter()
        .enumerate()
        .filter(|(i, _)| !(3..5).contains(i))
        .map(|(_, s)| *s)
        .collect();
    ok(author(d, &refs));

    let recipients: Vec<String> = (0..=max)
        .map(|_| r#"{"key": "device.pub.pem"}"#.to_string())
        .collect();
    std::fs::write(
        d.join("m.json"),
        format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
            "components": [{{"id": ["app"], "file": "fw.bin",
            "encryption": {{"recipients": [{}]}}}}]}}"#,
            recipients.join(",")
        ),
    )
    .unwrap();
    let r = author(
        d,
        &words("create m.json -o m.suit --sign-key signer.priv.pem"),
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    says(&r.stderr, "devices accept at most");
    assert!(!d.join("m.suit").exists());
}

// Bug 3 (= issue 10 item 8): `verify --process` accepted a "TA" of random bytes that every
// device refuses; it now runs the TA's own service, so the verdicts agree. The component is
// given by the UUID's bytes as `"id"`: `create` refuses such a file for a `"ta-uuid"`.
#[test]
fn verify_process_gives_the_devices_verdict_on_a_ta_of_random_bytes() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "signer", false);
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(d.join("ta.bin"), &junk).unwrap();
    std::fs::write(
        d.join("m.json"),
        format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
            "components": [{{"id": ["hex:8aaaf200245011e4abe20002a5d5c51b"], "file": "ta.bin"}}]}}"#
        ),
    )
    .unwrap();
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key signer.priv.pem"),
    ));
    let r = author(
        d,
        &words(&format!("verify m.suit --trust-anchor signer.pub.pem --process --vendor-id {VENDOR} --class-id {CLASS} --out out")),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says(&r.stderr, "is not a signed TA image");
    says(&r.stderr, "nothing was installed");
    assert!(!d.join("out").join("component-0.bin").exists());

    // The device (the simulator agent, same service) refuses it with the same words.
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    std::fs::write(
        d.join("p.json"),
        format!(
            r#"{{"counter": 1, "device-key": "device.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "signer.pub.pem", "role": "author", "components": [[]]}}}},
            {{"set-identity": {{"vendor-id": "{VENDOR}", "class-id": "{CLASS}"}}}}]}}"#
        ),
    )
    .unwrap();
    let tpa = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/keys/tpa-test.priv.pem");
    ok(author(
        d,
        &[
            "provision",
            "p.json",
            "--tpa-key",
            tpa.to_str().unwrap(),
            "-o",
            "p.cbor",
        ],
    ));
    ok(agent(d, &["provision", "p.cbor"]));
    let r = agent(d, &["install", "m.suit"]);
    assert_ne!(r.code, 0);
    says(&r.stderr, "is not a signed TA image");
}

// Bug 4: an empty envelope file was reported as "exceeds the TA's limit".
#[test]
fn agent_install_of_an_empty_file_says_it_is_empty() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::write(d.join("empty.suit"), b"").unwrap();
    let r = agent(d, &["install", "empty.suit"]);
    assert_eq!(r.code, 2, "input error: {}", r.stderr);
    says(&r.stderr, "empty.suit: empty file");
    assert!(!r.stderr.contains("exceeds"), "{}", r.stderr);
}

// Bug 5: `--json` wrote nothing on failure; `suit-agent report` printed Rust Debug text.
#[test]
fn json_failures_are_json_and_reports_are_sentences() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::write(d.join("empty.suit"), b"").unwrap();
    let r = agent(d, &["install", "--json", "empty.suit"]);
    assert_eq!(r.code, 2);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(j["ok"], false);
    assert_eq!(j["exit-code"], 2);
    assert!(j["error"].as_str().unwrap().contains("empty file"), "{j}");

    std::fs::write(d.join("junk"), b"\xff\x00").unwrap();
    let r = author(d, &["inspect", "--json", "junk"]);
    assert_eq!(r.code, 2);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(j["ok"], false);

    // A refused install (an unsigned envelope), then its report (refused before
    // authentication: kept apart from the latest authenticated attempt's report).
    let unsigned = vectors().join("suit-manifest-spec/example0.unsigned.hex");
    let r = agent(d, &["install", "--json", unsigned.to_str().unwrap()]);
    assert_eq!(r.code, 1, "refused: {}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(j["refusal"]["kind"], "manifest");
    let r = ok(agent(d, &["report", "--pre-auth"]));
    says(&r.stdout, "result: FAILED");
    assert!(
        !r.stdout.contains("Failure {") && !r.stdout.contains("Failure("),
        "no Debug text: {}",
        r.stdout
    );
    let r = ok(agent(d, &["report", "--pre-auth", "--json"]));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["result"]["success"], false);
}

// Bug 6: unknown fields inside {"name": ...} identifiers were accepted silently.
#[test]
fn unknown_fields_in_identifiers_are_refused_by_name() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "signer", false);
    std::fs::write(d.join("fw.bin"), b"fw").unwrap();
    for (vendor, expect) in [
        (
            r#"{"name": "example.com", "nmae": "typo"}"#,
            "unknown field `nmae` in an identifier",
        ),
        (r#"{"nmae": "example.com"}"#, "unknown field `nmae`"),
        (r#"{}"#, "an identifier object needs \"name\""),
        (r#"7"#, "expected a UUID string or {\"name\": \"...\"}"),
    ] {
        std::fs::write(
            d.join("m.json"),
            format!(
                r#"{{"sequence-number": 1, "vendor-id": {vendor}, "class-id": "{CLASS}",
                "components": [{{"id": ["a"], "file": "fw.bin"}}]}}"#
            ),
        )
        .unwrap();
        let r = author(
            d,
            &words("create m.json -o m.suit --sign-key signer.priv.pem"),
        );
        assert_eq!(r.code, 2, "{vendor}");
        assert!(r.stderr.contains(expect), "{vendor}: {}", r.stderr);
        assert!(!r.stderr.contains("untagged"), "{}", r.stderr);
        assert!(!d.join("m.suit").exists(), "{vendor}");
    }
}

// Bug 7: `inspect --diag` printed the private scalar of a COSE_Key.
#[test]
fn inspect_never_prints_private_key_material() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "k", true);
    let key = suit_host::author::keys::load_private(&d.join("k.priv.cose")).unwrap();
    let suit_host::author::keys::PrivateKey::P256(sk) = key.key else {
        panic!("a P-256 key")
    };
    let secret = hex::encode(sk.to_bytes());
    std::fs::write(d.join("hmac.cose"), {
        suit_host::author::keys::symmetric_cose_key(&[0x5a; 32], Some(b"h"))
            .unwrap()
            .to_vec()
    })
    .unwrap();
    let hmac_secret = hex::encode([0x5a; 32]);
    for file in ["k.priv.cose", "hmac.cose"] {
        for mode in [&["--diag"][..], &["--json"][..], &[][..]] {
            let mut a = vec!["inspect", file];
            a.extend_from_slice(mode);
            let r = author(d, &a);
            let all = format!("{}{}", r.stdout, r.stderr);
            assert!(!all.contains(&secret), "{file} {mode:?}: {all}");
            assert!(!all.contains(&hmac_secret), "{file} {mode:?}: {all}");
        }
    }
    let r = ok(author(d, &["inspect", "--diag", "k.priv.cose"]));
    says(&r.stdout, "private key material redacted (32 bytes)");
    // The public half is still shown.
    says(&r.stdout, "-2: h'");
}

// Bug 8: keygen replaced an existing private key without a word.
#[test]
fn keygen_refuses_to_replace_a_key_without_force() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "k", false);
    let before = std::fs::read(d.join("k.priv.pem")).unwrap();
    let r = author(d, &["keygen", "--type", "p256", "--out", "k"]);
    assert_eq!(r.code, 2);
    says(&r.stderr, "k.priv.pem exists");
    says(&r.stderr, "--force");
    assert_eq!(std::fs::read(d.join("k.priv.pem")).unwrap(), before);
    // Only the COSE files would be new: still refused, the PEM pair exists.
    let r = author(d, &["keygen", "--type", "ed25519", "--out", "k", "--cose"]);
    assert_eq!(r.code, 2);
    assert!(!d.join("k.priv.cose").exists());
    ok(author(
        d,
        &["keygen", "--type", "p256", "--out", "k", "--force"],
    ));
    assert_ne!(std::fs::read(d.join("k.priv.pem")).unwrap(), before);
}

/// The byte string at text key `name` of the CBOR map in `file` (a record's field).
fn record_field(file: &Path, name: &str) -> Vec<u8> {
    let v: ciborium::value::Value =
        ciborium::de::from_reader(std::fs::read(file).unwrap().as_slice()).unwrap();
    let ciborium::value::Value::Map(m) = v else {
        panic!("{}: not a map", file.display())
    };
    m.into_iter()
        .find_map(|(k, v)| match (k, v) {
            (ciborium::value::Value::Text(k), ciborium::value::Value::Bytes(b)) if k == name => {
                Some(b)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{}: no {name}", file.display()))
}

// Review: `inspect --diag` of the TPA's device model (`provision --state`) printed its KEKs.
// Every record holding a secret that inspect can be pointed at: the model (KEKs, HMAC
// anchors), the simulated TA's device keys (master secret), an HSS-LMS key file's body.
#[test]
fn inspect_never_prints_the_secrets_of_models_and_key_records() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for k in ["tpa", "device", "author", "prov"] {
        keygen(d, k, false);
    }
    let kek = [0x3c_u8; 16];
    let hmac = [0x4d_u8; 32];
    std::fs::write(d.join("kek.bin"), kek).unwrap();
    std::fs::write(d.join("hmac.key"), hmac).unwrap();
    std::fs::write(
        d.join("p.json"),
        r#"{"counter": 1, "device-key": "dev/identity.pub.pem", "key-statement": "dev/key-statement.cbor",
        "ops": [{"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}},
        {"add-anchor": {"id": 2, "hmac-key": "hmac.key", "role": "operator", "components": [[]]}},
        {"add-kek": {"kek": "kek.bin", "kid": "k1", "anchors": [1]}}]}"#,
    )
    .unwrap();
    // Secrets are encrypted to the provisioning key of the device's verified key statement.
    ok(agent_state(d, "st", &["device-key", "--out-dir", "dev"]));
    ok(author(
        d,
        &words("provision p.json --tpa-key tpa.priv.pem -o p.cbor --state model.cbor"),
    ));
    // The simulated TA's device keys object.
    ok(agent_state(d, "st", &["device-key"]));
    let keys = d.join("st").join(hex::encode("suit/device-keys"));
    let master = hex::encode(record_field(&keys, "master"));
    // An HSS-LMS key file's CBOR body (what the PEM's base64 holds).
    ok(author(
        d,
        &words("keygen --type hss-lms --levels 1 --height 5 -o h"),
    ));
    let pem = std::fs::read_to_string(d.join("h.priv.pem")).unwrap();
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        .collect();
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    std::fs::write(d.join("h.body.cbor"), &body).unwrap();
    let hss = hex::encode(record_field(&d.join("h.body.cbor"), "private-key"));

    let secrets = [hex::encode(kek), hex::encode(hmac), master, hss];
    let files = [
        "model.cbor".to_string(),
        keys.display().to_string(),
        "h.body.cbor".to_string(),
    ];
    for file in &files {
        for mode in [&["--diag"][..], &["--json"][..], &[][..]] {
            let mut a = vec!["inspect", file.as_str()];
            a.extend_from_slice(mode);
            let all = author(d, &a).text();
            for s in &secrets {
                assert!(!all.contains(s.as_str()), "{file} {mode:?}: {all}");
            }
        }
    }
    let r = ok(author(d, &["inspect", "model.cbor"]));
    says(&r.stdout, "model of a device");
    says(&r.stdout, "private key material redacted (16 bytes)");
    // What is not secret is still shown: the KEK's id, the author anchor's public key.
    says(&r.stdout, "h'6b31'");
    says(&r.stdout, "-2: h'");
}

/// Runs `exe` in `dir` with standard output (`out`) or standard error closed: a pipe whose
/// reader is gone. Returns the exit code (`None`: killed, e.g. by a panic's abort).
fn run_with_closed(exe: &str, dir: &Path, args: &[&str], out: bool) -> Option<i32> {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut c = std::process::Command::new(exe);
    c.current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null());
    if out {
        c.stdout(writer).stderr(std::process::Stdio::null());
    } else {
        c.stderr(writer).stdout(std::process::Stdio::null());
    }
    c.status().unwrap().code()
}

// Review: `... --json | head -1` panicked ("failed printing to stdout: Broken pipe", exit
// 134). A closed stream is not the command's failure: it exits with its own status.
#[test]
fn a_closed_standard_output_or_error_does_not_panic() {
    let t = signed_envelope();
    let d = t.path();
    let a = env!("CARGO_BIN_EXE_suit-author");
    let g = env!("CARGO_BIN_EXE_suit-agent");
    for (exe, args, code) in [
        (a, "inspect m.suit --json", 0),
        (a, "verify m.suit --trust-anchor signer.pub.pem --json", 0),
        (a, "verify m.suit --trust-anchor signer.pub.pem", 0),
        (
            a,
            "verify missing.suit --trust-anchor signer.pub.pem --json",
            2,
        ),
        (g, "--tee sim --state st status --json", 0),
        (g, "--tee sim --state st device-key", 0),
    ] {
        for out in [true, false] {
            assert_eq!(
                run_with_closed(exe, d, &words(args), out),
                Some(code),
                "{args} with standard {} closed",
                if out { "output" } else { "error" }
            );
        }
    }
}

// Review: a raw 16/32-byte KEK or HMAC key whose first byte is a CBOR map header was read as
// a COSE_Key and refused.
#[test]
fn raw_symmetric_keys_starting_with_a_map_header_are_raw_keys() {
    let t = signer_and_device();
    let d = t.path();
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    for first in [0xa0_u8, 0xa1, 0xbf] {
        let mut kek = [0x42_u8; 16];
        kek[0] = first;
        std::fs::write(d.join("kek.bin"), kek).unwrap();
        ok(author(
            d,
            &words(
                "encrypt --payload fw.bin --kek kek.bin --info-out i.cbor --ciphertext-out c.bin",
            ),
        ));
        let mut hmac = [0x17_u8; 32];
        hmac[0] = first;
        std::fs::write(d.join("hmac.key"), hmac).unwrap();
        std::fs::write(
            d.join("m.json"),
            suit_test_support::cli::app_description("b"),
        )
        .unwrap();
        ok(author(
            d,
            &words("create m.json -o h.suit --hmac-key hmac.key"),
        ));
        ok(author(d, &words("verify h.suit --hmac-key hmac.key")));
    }
    // A real COSE_Key still is one (and a malformed one is still refused as such).
    std::fs::write(
        d.join("k.cose"),
        suit_host::author::keys::symmetric_cose_key(&[0x5a; 16], Some(b"k")).unwrap(),
    )
    .unwrap();
    ok(author(
        d,
        &words("encrypt --payload fw.bin --kek k.cose --info-out i.cbor --ciphertext-out c.bin"),
    ));
}

/// Runs `exe` in `dir` with standard output on /dev/full (every write fails with ENOSPC).
/// Returns the exit code and standard error.
fn run_to_full(exe: &str, dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = std::process::Command::new(exe)
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(full)
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into())
}

// Review s27 (host tools 2), finding 1: every write error was dropped, not only a closed
// pipe: `inspect x > /dev/full` and keygen exited 0 with their output lost.
#[test]
fn an_output_lost_to_a_full_disk_fails_the_command() {
    let t = signed_envelope();
    let d = t.path();
    let a = env!("CARGO_BIN_EXE_suit-author");
    for args in [
        "inspect m.suit",
        "inspect m.suit --json",
        "inspect m.suit --diag",
        "verify m.suit --trust-anchor signer.pub.pem",
        "verify m.suit --trust-anchor signer.pub.pem --json",
        "keygen --type p256 -o fresh",
    ] {
        let (code, err) = run_to_full(a, d, &words(args));
        assert_eq!(code, Some(2), "{args}: {err}");
        assert!(
            err.contains("standard output") && err.contains("No space left"),
            "{args}: {err}"
        );
    }
    // keygen wrote its files; only the lines naming them were lost.
    assert!(d.join("fresh.priv.pem").exists() && d.join("fresh.pub.pem").exists());
    // A refusal keeps its own status.
    let (code, _) = run_to_full(a, d, &words("verify m.suit --trust-anchor device.pub.pem"));
    assert_eq!(code, Some(1));
    // Lost diagnostics do not fail a command whose output was written (re-review s27): with
    // the envelope on standard output and standard error on /dev/full (where its status lines
    // go then), create succeeds and the envelope is whole.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = std::process::Command::new(a)
        .current_dir(d)
        .args(words(
            "create m.json -o /dev/stdout --sign-key signer.priv.pem",
        ))
        .stdin(std::process::Stdio::null())
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    std::fs::write(d.join("piped.suit"), &o.stdout).unwrap();
    ok(author(
        d,
        &words("verify piped.suit --trust-anchor signer.pub.pem"),
    ));
}

/// The dependency tree both verify tests below use: the root declares dependencies `d1` and
/// `dependency2`, processes `#d1` (signed by the root's signer), which sets the URI `#d2` and
/// its digest on `dependency2`, and then processes that one; `#d2` is signed by a key no
/// anchor holds, and integrated untagged if `untagged`.
fn tree_with_a_foreign_dependency(untagged: bool) -> Vec<u8> {
    use suit_common::cose::Algorithm;
    use suit_test_support::{
        bytes, cbor, int, manifest_with, map, p256_private_from_pem, seal_one, suit_digest, text,
        AUTHOR_PRIV, OPERATOR_PRIV,
    };
    let digest_of = |manifest: &[u8]| suit_digest(&cbor(&bytes(manifest)));
    let d2m = manifest_with(
        &[b"x"],
        &[],
        vec![],
        vec![
            int(12),
            int(0),
            int(20),
            map(vec![(18, bytes(b"from the dependency"))]),
            int(18),
            int(15),
        ],
        b"d2",
    );
    let d2_tagged = seal_one(
        &d2m,
        &p256_private_from_pem(OPERATOR_PRIV),
        Algorithm::Esp256,
        &[],
        &[],
    );
    assert_eq!(&d2_tagged[..2], &[0xd8, 107]);
    let d2 = if untagged {
        d2_tagged[2..].to_vec()
    } else {
        d2_tagged
    };
    let signer = p256_private_from_pem(AUTHOR_PRIV);
    let d1m = manifest_with(
        &[b"dependency2"],
        &[],
        vec![],
        vec![
            int(12),
            int(0),
            int(20),
            map(vec![(3, bytes(&digest_of(&d2m))), (21, text("#d2"))]),
        ],
        b"d1",
    );
    let d1 = seal_one(&d1m, &signer, Algorithm::Esp256, &[], &[]);
    let root = manifest_with(
        &[b"x", b"d1", b"dependency2"],
        &[1, 2],
        vec![],
        [
            &suit_test_support::fetch_check_process(1, &digest_of(&d1m), "#d1")[..],
            &[
                int(12),
                int(2),
                int(21),
                int(15),
                int(7),
                int(15),
                int(11),
                int(15),
            ],
        ]
        .concat(),
        b"root",
    );
    seal_one(
        &root,
        &signer,
        Algorithm::Esp256,
        &[],
        &[("#d1", &d1), ("#d2", &d2)],
    )
}

/// `suit-author verify ENVELOPE` against the spec's public key, in a fresh directory.
fn verify_against_the_spec_key(envelope: &[u8]) -> suit_test_support::cli::Out {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("root.suit"), envelope).unwrap();
    let anchor = suit_test_support::vector_path("suit-manifest-spec/public_key.pem");
    author(
        tmp.path(),
        &["verify", "root.suit", "--trust-anchor", &anchor],
    )
}

/// `verify` checks every integrated payload a manifest that declares dependencies may process
/// as one, also one whose URI a dependency sets (parameters are shared across the manifest
/// tree): here `#d2`, signed by a key no anchor holds, named by dependency `#d1` on the root's
/// second dependency component (review s32 re-review: verify passed it as an image; the
/// device refuses the update). A manifest without dependencies has only images.
#[test]
fn verify_checks_a_dependency_another_manifest_names() {
    let o = verify_against_the_spec_key(&tree_with_a_foreign_dependency(false));
    assert_ne!(o.code, 0, "{}", o.text());
    assert!(
        o.text().contains("integrated dependency #d2"),
        "{}",
        o.text()
    );
}

/// The engine processes an untagged SUIT_Envelope as a dependency
/// (`Envelope::decode` takes tag 107 or none), so `verify` must check one too. Same tree as
/// `verify_checks_a_dependency_another_manifest_names`, with `#d2` untagged: the device
/// refuses the update, `verify` passed it as an image (review s32).
#[test]
fn verify_checks_an_untagged_dependency_envelope() {
    let env = tree_with_a_foreign_dependency(true);
    // The engine (spec device, spec key as its anchor) refuses the update at `#d2`.
    let mut dev = suit_test_support::RecordingPlatform::spec_device();
    let r = suit_test_support::spec_process(&env, suit_common::suit::Procedure::Update, &mut dev);
    assert!(r.is_err(), "the device accepted: {r:?}");
    let o = verify_against_the_spec_key(&env);
    assert_ne!(
        o.code,
        0,
        "device refuses, verify passes:\n{}\nengine: {r:?}",
        o.text()
    );
}
