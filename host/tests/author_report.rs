//! `suit-author verify-report`: reports built and signed with the library (as the TA does),
//! checked by the built binary.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;

use p256::pkcs8::{EncodePublicKey, LineEnding};
use suit_common::report::{code, image_properties, policy, Failure, Reason, Report, ReportBuilder};
use suit_common::suit::error::{ConditionKind, Error, PolicyError, Section};
use suit_common::suit::platform::{Event, Record};
use suit_common::suit::{ComponentId, Digest, Outcome};
use suit_test_support::cli::Out as Run;
use suit_test_support::says;

suit_test_support::author_in_cwd!();

fn key(seed: u8) -> p256::SecretKey {
    let mut b = [0x11u8; 32];
    b[31] = seed;
    p256::SecretKey::from_slice(&b).unwrap()
}

fn write_pub(dir: &Path, name: &str, k: &p256::SecretKey) -> std::path::PathBuf {
    let path = dir.join(name);
    let pem = k.public_key().to_public_key_pem(LineEnding::LF).unwrap();
    std::fs::write(&path, pem).unwrap();
    path
}

fn verify(report: &Path, device_key: &Path, json: bool) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "verify-report".as_ref(),
        "--device-key".as_ref(),
        device_key.as_os_str(),
        report.as_os_str(),
    ];
    if json {
        args.push("--json".as_ref());
    }
    run(&args)
}

fn success_report() -> Report {
    let c = ComponentId::new(&[b"app"]);
    let mut b = ReportBuilder::new();
    b.set_reference_uri(Some("https://example.com/app.suit"));
    b.set_nonce(&[1, 2, 3, 4]).unwrap();
    let r = Record {
        manifest_depth: 0,
        section: Section::Install,
        event: Event::Condition(ConditionKind::ImageMatch),
        component: Some(&c),
        success: true,
        policy: policy::RECORD_ON_SUCCESS | policy::SYSINFO_SUCCESS,
        disclosure: suit_common::suit::platform::Disclosure::Installed,
        manifest_id: &[],
        offset: 0,
        component_index: Some(0),
    };
    if b.record(&r) {
        b.system_properties(&c, image_properties(&[0xbb; 32], 4096));
    }
    // What `suit::process` returns on success.
    let outcome = Outcome {
        signers: vec![1],
        sequence_number: 7,
        manifest_digest: Digest([0xaa; 32]),
        committed: vec![c.clone()],
        invoked: vec![],
        steps: 0,
    };
    b.succeed(&outcome)
}

#[test]
fn a_verified_success_report_is_shown_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let report = dir.path().join("report.cbor");
    std::fs::write(&report, success_report().sign(&k).unwrap()).unwrap();
    let pubkey = write_pub(dir.path(), "device-report.pub.pem", &k);

    let r = verify(&report, &pubkey, false);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    says(&r.stdout, "REPORT SIGNATURE VERIFIED");
    assert!(r.stdout.contains(&format!("sha256:{}", "aa".repeat(32))));
    assert!(r.stdout.contains("https://example.com/app.suit"));
    assert!(r.stdout.contains("sequence number: 7"));
    assert!(r.stdout.contains("result: SUCCESS"));
    says(&r.stdout, "condition-image-match (3): ok");
    says(&r.stdout, "system ['app']");

    let r = verify(&report, &pubkey, true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["signature"], "verified");
    assert_eq!(j["manifest-digest"], "aa".repeat(32));
    assert_eq!(j["sequence-number"], 7);
    assert_eq!(j["result"]["success"], true);
    assert_eq!(j["records"][0]["command-name"], "condition-image-match");
    assert_eq!(j["records"][1]["properties"]["14"], 4096);

    // Hex text works too (how agents often print binary).
    let hex_report = dir.path().join("report.hex");
    std::fs::write(&hex_report, hex::encode(std::fs::read(&report).unwrap())).unwrap();
    assert_eq!(verify(&hex_report, &pubkey, false).code, 0);
}

#[test]
fn a_failure_report_shows_the_precise_failure() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(2);
    let err = Error::Policy(PolicyError::Rollback {
        stored: 9,
        offered: 4,
    });
    let report = ReportBuilder::failure(Some([0x33; 32]), Failure::from_error(&err, None));
    let path = dir.path().join("failed.cbor");
    std::fs::write(&path, report.sign(&k).unwrap()).unwrap();
    let pubkey = write_pub(dir.path(), "k.pub.pem", &k);

    let r = verify(&path, &pubkey, false);
    assert_eq!(
        r.code, 0,
        "a verified failure report is still a verified report"
    );
    says(
        &r.stdout,
        &format!(
            "result: FAILED: condition-failed (reason 10, code {})",
            code::POLICY_ROLLBACK
        ),
    );
    says(
        &r.stdout,
        "sequence number 4 is not greater than the stored 9",
    );

    let r = verify(&path, &pubkey, true);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["result"]["success"], false);
    assert_eq!(j["result"]["reason"], "condition-failed");
    assert_eq!(j["result"]["code"], code::POLICY_ROLLBACK);

    // Refusal before anything decoded: digest unknown.
    let report = ReportBuilder::failure(
        None,
        Failure::new(
            Reason::CborParse,
            code::DECODE,
            suit_common::fault::Fault::Install(
                suit_common::service::install::InstallError::EmptyEnvelope,
            ),
        ),
    );
    std::fs::write(&path, report.sign(&k).unwrap()).unwrap();
    let r = verify(&path, &pubkey, false);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("manifest: (unknown"), "{}", r.stdout);
    says(&r.stdout, "cbor-parse");
    // The failure's typed fault, put into words by the tool.
    says(&r.stdout, "detail: the envelope is empty");
}

#[test]
fn wrong_key_or_tampering_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(3);
    let signed = success_report().sign(&k).unwrap();
    let path = dir.path().join("r.cbor");
    std::fs::write(&path, &signed).unwrap();
    let other = write_pub(dir.path(), "other.pub.pem", &key(4));
    let r = verify(&path, &other, false);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    says(&r.stderr, "does not verify");
    assert!(
        r.stdout.is_empty(),
        "nothing of an unverified report is shown"
    );

    let mut tampered = signed.clone();
    let n = tampered.len();
    tampered[n - 1] ^= 0x01;
    std::fs::write(&path, &tampered).unwrap();
    let right = write_pub(dir.path(), "right.pub.pem", &k);
    assert_eq!(verify(&path, &right, false).code, 1);
}

#[test]
fn unusable_inputs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(5);
    let pubkey = write_pub(dir.path(), "k.pub.pem", &k);
    let path = dir.path().join("junk.cbor");
    std::fs::write(&path, [0xa0]).unwrap();
    assert_eq!(verify(&path, &pubkey, false).code, 2);
    assert_eq!(verify(&dir.path().join("missing"), &pubkey, false).code, 2);
    std::fs::write(&path, success_report().sign(&k).unwrap()).unwrap();
    assert_eq!(
        verify(&path, &dir.path().join("missing.pem"), false).code,
        2
    );
}

/// `--nonce`: an authentic report is still refused (exit 1) unless it was signed over the
/// nonce asked for, so an old report replayed to the status tracker does not pass; a report
/// without a nonce fails too. A directory (each report its own nonce) is a usage error.
#[test]
fn nonce_must_be_the_one_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(1);
    let report = dir.path().join("report.cbor");
    std::fs::write(&report, success_report().sign(&k).unwrap()).unwrap();
    let mut bare = success_report();
    bare.nonce = None;
    let no_nonce = dir.path().join("no-nonce.cbor");
    std::fs::write(&no_nonce, bare.sign(&k).unwrap()).unwrap();
    let pubkey = write_pub(dir.path(), "device-report.pub.pem", &k);
    let with = |file: &Path, nonce: &str, json: bool| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "verify-report".into(),
            "--device-key".into(),
            pubkey.clone().into(),
            "--nonce".into(),
            nonce.into(),
            file.into(),
        ];
        if json {
            args.push("--json".into());
        }
        run(&args)
    };
    // The report's own nonce (01020304): verified, and said so.
    let r = with(&report, "01020304", false);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    says(&r.stdout, "nonce is the expected one");
    let r = with(&report, "01020304", true);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    says(&r.stdout, "\"nonce-checked\": true");
    // Another nonce: the replayed report is refused, naming both nonces.
    let r = with(&report, "0a0b0c0d", false);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    says(&r.stderr, "signed for nonce 01020304, not 0a0b0c0d");
    assert!(!r.stdout.contains("VERIFIED"), "{}", r.stdout);
    // No nonce at all.
    let r = with(&no_nonce, "01020304", false);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    says(&r.stderr, "carries no nonce");
    // Without --nonce both still verify (the signature is all that is checked).
    assert_eq!(verify(&no_nonce, &pubkey, false).code, 0);
    // Not hex; a directory.
    assert_eq!(with(&report, "xyz", false).code, 2);
    let r = with(dir.path(), "01020304", false);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    says(&r.stderr, "one report file");
}

/// Reports a third party's device made (tests/vectors/independent-implementations/reports,
/// python cbor2 and `cryptography`, review s42) verify with `verify-report`: one signed on an
/// Ed25519 profile with its Ed25519 key (refused before s42: "device report keys are P-256"),
/// one naming its manifest by SHA-384 (refused as malformed before), one with a float in an
/// extension member (refused as not well-formed before).
#[test]
fn a_third_partys_reports_verify() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors/independent-implementations/reports");
    for (report, key, expected) in [
        ("ed25519.cose", "ed.pub.pem", "manifest: sha256:"),
        ("eddsa.cose", "ed.pub.pem", "manifest: sha256:"),
        (
            "sha384-reference.cose",
            "anchor.pem",
            "manifest: sha384:7857a475",
        ),
        (
            "extension-float.cose",
            "anchor.pem",
            "REPORT SIGNATURE VERIFIED",
        ),
    ] {
        let r = verify(&dir.join(report), &dir.join(key), false);
        assert_eq!(r.code, 0, "{report}: {}\n{}", r.stdout, r.stderr);
        says(&r.stdout, expected);
    }
    // A P-256 report with the Ed25519 key: refused as before, naming the mismatch.
    let r = verify(&dir.join("es256.cose"), &dir.join("ed.pub.pem"), false);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says(
        &r.stderr,
        "signed with an algorithm the device key cannot verify",
    );
}

/// A report the device sealed to a status tracker's key (SUIT_Report_COSE_Encrypt0 inside the
/// signed COSE_Sign1): `--tracker-key` opens it after the signature check; without it, or with
/// another tracker's key, it is refused (exit 1) saying why.
#[test]
fn an_encrypted_report_opens_with_the_tracker_key_only() {
    use p256::pkcs8::EncodePrivateKey;
    let dir = tempfile::tempdir().unwrap();
    let device = key(5);
    let (tracker, other) = (key(6), key(7));
    let mut plain = success_report();
    plain.nonce = None;
    let signed = Report::sign_stored(
        &plain.encode().unwrap(),
        None,
        &suit_common::report::DeviceState::default(),
        &device,
        |_| Ok(Some(tracker.public_key())),
        &mut suit_test_support::FixedRng::new(b"author_report tracker"),
    )
    .unwrap();
    let path = dir.path().join("sealed.cbor");
    std::fs::write(&path, &signed).unwrap();
    let pubkey = write_pub(dir.path(), "report.pub.pem", &device);
    let write_priv = |name: &str, k: &p256::SecretKey| {
        let p = dir.path().join(name);
        std::fs::write(&p, k.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
        p
    };
    let (right, wrong) = (
        write_priv("tracker.pem", &tracker),
        write_priv("other.pem", &other),
    );
    let with = |t: &Path, json: bool| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "verify-report".as_ref(),
            "--device-key".as_ref(),
            pubkey.as_os_str(),
            "--tracker-key".as_ref(),
            t.as_os_str(),
            path.as_os_str(),
        ];
        if json {
            args.push("--json".as_ref());
        }
        run(&args)
    };

    let r = verify(&path, &pubkey, false);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    says(&r.stderr, "encrypted to a status tracker's key");
    says(&r.stderr, "--tracker-key");
    assert!(r.stdout.is_empty());

    let r = with(&wrong, false);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    says(&r.stderr, "does not open");
    assert!(r.stdout.is_empty());

    let r = with(&right, false);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    says(&r.stdout, "REPORT SIGNATURE VERIFIED");
    says(&r.stdout, "encrypted to the status tracker key");
    assert!(r.stdout.contains("https://example.com/app.suit"));
    let r = with(&right, true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["encrypted"], true);
    assert_eq!(j["sequence-number"], 7);

    // A plain report read with --tracker-key: shown, and said to be in clear.
    let clear = dir.path().join("clear.cbor");
    std::fs::write(&clear, success_report().sign(&device).unwrap()).unwrap();
    let r = run(&[
        "verify-report".as_ref(),
        "--device-key".as_ref(),
        pubkey.as_os_str(),
        "--tracker-key".as_ref(),
        right.as_os_str(),
        "--json".as_ref(),
        clear.as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["encrypted"], false);
    // The text form says so too.
    let r = run(&[
        "verify-report".as_ref(),
        "--device-key".as_ref(),
        pubkey.as_os_str(),
        "--tracker-key".as_ref(),
        right.as_os_str(),
        clear.as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("NOT ENCRYPTED: the device signed this report in clear"),
        "{}",
        r.stdout
    );
}
