//! Conventions both tools share (issue 11 "friction"): plain refusal sentences, JSON in one
//! convention, documented exit codes, the same envelope inputs, names for ids, a simulator
//! that remembers its TPA root.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;
use suit_test_support::cli::{app_description, ok, provision_args, words, write, Out};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// `r` is a usage error (exit 2) saying `expected` on stderr.
fn usage_error(r: &Out, expected: &str) {
    assert_eq!(r.code, 2, "{}", r.stderr);
    says(&r.stderr, expected);
}

/// A temporary directory holding [`setup`]'s simulator and envelope.
fn provisioned() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    setup(t.path());
    t
}

/// A provisioned simulator (anchor `author`, identity by names) and an envelope for it.
fn setup(d: &Path) {
    provisioned_app_device(d);
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json --out m.suit --sign-key author.priv.pem"),
    ));
}

#[test]
fn names_work_for_verify_ids_and_refusals_are_sentences() {
    let t = provisioned();
    let d = t.path();
    let r = ok(author(
        d,
        &words("verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id board"),
    ));
    says(&r.stdout, "OK: update applied");
    // Another class name: the device's own sentence, no Rust debug text.
    let r = author(
        d,
        &words("verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id board-b"),
    );
    assert_eq!(r.code, 1);
    says(
        &r.stderr,
        "suit-shared-sequence on component 0: class identifier does not match this device",
    );
    assert!(!r.stderr.contains("ConditionFailed("), "{}", r.stderr);
    // A class name without a vendor is a usage error that says why.
    let r = author(
        d,
        &words("verify m.suit --trust-anchor author.pub.pem --process --class-id board"),
    );
    usage_error(&r, "derived from --vendor-id");
}

#[test]
fn the_agent_takes_hex_and_stdin_and_speaks_one_json_convention() {
    let t = provisioned();
    let d = t.path();
    // Hex text, like the published examples and suit-author.
    let bytes = std::fs::read(d.join("m.suit")).unwrap();
    std::fs::write(d.join("m.hex"), hex::encode(&bytes)).unwrap();
    let r = ok(agent(d, &["install", "--json", "m.hex"]));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["sequence-number"], 1);
    let digest = j["manifest-digest"].as_str().expect("hex string");
    assert_eq!(digest.len(), 64, "{j}");
    // The same envelope again from standard input: refused (rollback), exit 1, JSON.
    let r = agent_in(d, &["install", "--json", "-"], Some(&bytes));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["exit-code"], 1);
    assert!(
        j["refusal"]["reason"]
            .as_str()
            .unwrap()
            .contains("sequence number 1 is not greater"),
        "{j}"
    );
    // status/anchors: kebab-case keys, bytes as hex.
    let r = ok(agent(d, &["status", "--json"]));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(j["service"]["tpa-root-kid"].is_string(), "{j}");
    assert_eq!(j["service"]["installed-components"], 1);
    let r = ok(agent(d, &["anchors", "--json"]));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["provisioning-counter"], 1);
    assert!(j["identity"]["vendor-id"].is_string(), "{j}");
    // Usage errors: exit 2.
    let r = agent(d, &["install", "missing.suit"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn the_simulator_remembers_its_tpa_root() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &["keygen", "--type", "p256", "-o", "tpa"]));
    ok(agent(d, &["--sim-tpa-root", "tpa.pub.pem", "status"]));
    // Later runs without the flag keep that root (not the public test key) ...
    let r = ok(agent(d, &["status", "--json"]));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["service"]["tpa-root-is-test-key"], false, "{j}");
    // ... and another root is refused for this state.
    let test_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/keys/tpa-test.pub.pem");
    let r = agent(
        d,
        &["--sim-tpa-root", test_root.to_str().unwrap(), "status"],
    );
    // The arguments' fault, which no retry mends: exit 2, not 3 (review s30).
    assert_eq!(r.code, 2, "{}", r.stderr);
    says(&r.stderr, "was created with another TPA root");
    // So is a root that is no key.
    std::fs::write(d.join("junk.pem"), "not a key\n").unwrap();
    let r = agent(d, &["--sim-tpa-root", "junk.pem", "status"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    says(&r.stderr, "--sim-tpa-root: not a P-256 public key PEM");
}

#[test]
fn inspect_names_the_tools_other_formats_and_truncation() {
    let t = provisioned();
    let d = t.path();
    ok(author(d, &["keygen", "--type", "p256", "-o", "dev"]));
    ok(author(
        d,
        &words("encrypt --payload fw.bin --recipient dev.pub.pem --info-out info.cbor --ciphertext-out fw.enc"),
    ));
    for (file, kind) in [
        ("p.cbor", "a TPA-signed provisioning message"),
        ("info.cbor", "a COSE_Encrypt (SUIT_Encryption_Info, tag 96)"),
    ] {
        let r = ok(author(d, &["inspect", file]));
        assert!(r.stdout.contains(kind), "{file}: {}", r.stdout);
        let r = ok(author(d, &["inspect", "--json", file]));
        let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(
            j["format"].as_str().map(|f| f.contains(kind)),
            Some(true),
            "{j}"
        );
    }
    // A signed report from the simulator.
    ok(agent(d, &["install", "m.suit"]));
    ok(agent(d, &["report", "-o", "report.cose"]));
    let r = ok(author(d, &["inspect", "report.cose"]));
    says(&r.stdout, "a signed SUIT report");
    // A truncated envelope: a sentence, not a Rust error value.
    let bytes = std::fs::read(d.join("m.suit")).unwrap();
    std::fs::write(d.join("cut.suit"), &bytes[..bytes.len() / 2]).unwrap();
    let r = author(d, &["inspect", "cut.suit"]);
    usage_error(
        &r,
        "cut.suit: the data ends in the middle of a CBOR item (truncated file?)",
    );
    assert!(!r.stderr.contains("UnexpectedEof"), "{}", r.stderr);
}

#[test]
fn ignored_flags_are_named() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // Simulator-only flags against the real TEE: warned about (then the TEE is unreachable).
    let r = suit_test_support::cli::run(
        env!("CARGO_BIN_EXE_suit-agent"),
        d,
        &["--state", "x", "status"],
        None,
    );
    says(&r.stderr, "warning: --state is ignored without --tee sim");
    // 3: no TEE device; 6: a build without OP-TEE support cannot reach any.
    let unreachable = if cfg!(feature = "optee") { 3 } else { 6 };
    assert_eq!(r.code, unreachable, "TEE unreachable: {}", r.stderr);
    // --alg with no P-256 signer.
    ok(author(d, &["keygen", "--type", "ed25519", "-o", "ed"]));
    std::fs::write(d.join("fw.bin"), b"fw").unwrap();
    write(d, "m.json", app_description("b"));
    let r = ok(author(
        d,
        &words("create m.json -o m.suit --sign-key ed.priv.pem --alg es256"),
    ));
    says(&r.stderr, "warning: --alg applies to P-256 signing keys");
    // --trace without --process would do nothing: refused like the other process-only flags.
    let r = author(d, &words("verify m.suit --trust-anchor ed.pub.pem --trace"));
    usage_error(&r, "--trace needs --process");
}

#[test]
fn status_lists_the_inventory() {
    use sha2::Digest as _;
    let t = provisioned();
    let d = t.path();
    ok(agent(d, &["install", "m.suit"]));
    let r = ok(agent(d, &["status", "--json"]));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let c = &j["service"]["components"][0];
    assert_eq!(c["id"], serde_json::json!(["617070"]), "{j}");
    assert_eq!(c["sequence-number"], 1);
    assert_eq!(c["size"], 11);
    assert_eq!(
        c["digest"],
        hex::encode(sha2::Sha256::digest(b"firmware v1")),
        "{j}"
    );
    let r = ok(agent(d, &["status"]));
    says(&r.stdout, "['app']: sequence number 1, 11 bytes, sha-256 ");
}

#[test]
fn every_printing_command_has_json() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let json = |r: Out| -> serde_json::Value {
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
    };
    let j = json(ok(author(
        d,
        &["keygen", "--type", "p256", "-o", "a", "--json"],
    )));
    assert_eq!(j["ok"], true);
    assert!(
        j["messages"][0].as_str().unwrap().contains("a.priv.pem"),
        "{j}"
    );
    // A failure of the same command: JSON too, with its exit code.
    let r = author(d, &["keygen", "--type", "p256", "-o", "a", "--json"]);
    assert_eq!(r.code, 2);
    assert_eq!(json(r)["exit-code"], 2);
    std::fs::write(d.join("fw.bin"), b"fw").unwrap();
    let j = json(ok(author(
        d,
        &words(
            "encrypt --payload fw.bin --recipient a.pub.pem --info-out i --ciphertext-out c --json",
        ),
    )));
    assert_eq!(j["ok"], true);
    write(d, "m.json", app_description("b"));
    let j = json(ok(author(
        d,
        &words("create m.json -o m.suit --sign-key a.priv.pem --json"),
    )));
    assert_eq!(j["ok"], true);
    let j = json(ok(author(
        d,
        &["verify", "m.suit", "--trust-anchor", "a.pub.pem", "--json"],
    )));
    assert!(
        j["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "OK: authentic and well-formed"),
        "{j}"
    );
    let r = author(d, &["verify", "m.suit", "--trust-anchor", "i", "--json"]);
    assert_ne!(r.code, 0);
    assert_eq!(json(r)["ok"], false);
    // The agent's provision and device-key.
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    std::fs::write(
        d.join("p.json"),
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [{"add-anchor": {"id": 1, "key": "a.pub.pem", "role": "author", "components": [["app"]]}}]}"#,
    )
    .unwrap();
    let j = json(ok(author(
        d,
        &provision_args("p.json", "p.cbor", &["--json"]),
    )));
    assert_eq!(j["ok"], true);
    let j = json(ok(agent(d, &["provision", "p.cbor", "--json"])));
    assert_eq!(j["counter"], 1);
    let j = json(ok(agent(d, &["device-key", "--format", "json"])));
    assert_eq!(j["key"].as_str().map(str::len), Some(130), "{j}");
}
