//! Every agent flow against the simulator (`--tee sim`): the TA's own service in-process with
//! file-backed state, driven through the real `suit-agent` and `suit-author` binaries.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;

use suit_test_support::cli::{provision_args, sim_args, words, Out};

fn run(exe: &str, dir: &Path, args: &[&str]) -> Out {
    suit_test_support::cli::run(exe, dir, args, None)
}

fn agent(dir: &Path, args: &[&str]) -> Out {
    run(
        env!("CARGO_BIN_EXE_suit-agent"),
        dir,
        &sim_args("state", args),
    )
}

/// Everything a successful run said.
fn ok(o: Out) -> String {
    suit_test_support::cli::ok(o).text()
}

/// Everything a failed run said.
fn refused(o: Out) -> String {
    assert_ne!(o.code, 0, "command unexpectedly succeeded:\n{}", o.text());
    o.text()
}

fn author(dir: &Path, args: &[&str]) -> String {
    ok(run(env!("CARGO_BIN_EXE_suit-author"), dir, args))
}

/// A device of the simulator (`d`), an author key of `key_type` (`author.*.pem`) and the
/// TPA's message (`provision.cbor`, not yet relayed) adding it as anchor 1 for ['app'] with
/// the example vendor and class.
fn author_anchor_provisioning(d: &Path, key_type: &str) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    author(d, &["keygen", "--type", key_type, "--out", "author"]);
    std::fs::write(
        d.join("provision.json"),
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    )
    .unwrap();
    author(d, &provision_args("provision.json", "provision.cbor", &[]));
}

#[test]
fn the_whole_agent_flow_runs_against_the_simulator() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let w = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();

    // The simulator says loudly that it protects nothing.
    let status = ok(agent(d, &["status"]));
    assert!(status.contains("WARNING: simulator backend"), "{status}");
    assert!(
        status.contains("backend:             simulator"),
        "{status}"
    );

    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(agent(
        d,
        &["device-key", "--which", "report", "--out", "report.pub.pem"],
    ));
    let again = agent(d, &["device-key"]);
    assert_eq!(
        again.stdout.as_bytes(),
        std::fs::read(d.join("device.pub.pem")).unwrap(),
        "the device key is stable"
    );

    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    w(
        "provision.json",
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"], ["ree"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    author(d, &provision_args("provision.json", "provision.cbor", &[]));
    assert!(ok(agent(d, &["provision", "provision.cbor"])).contains("added anchor 1"));
    assert!(refused(agent(d, &["provision", "provision.cbor"]))
        .contains("not greater than the applied counter"));
    let anchors = agent(d, &["anchors", "--json"]);
    assert_eq!(anchors.code, 0);
    let json: serde_json::Value = serde_json::from_str(&anchors.stdout).unwrap();
    assert_eq!(json["anchors"][0]["role"], "author");
    // Payload keys are per anchor: export anchor 1's, with the TA's signed statement.
    ok(agent(
        d,
        &["device-key", "--anchor", "1", "--out-dir", "keys"],
    ));
    assert!(refused(agent(d, &["device-key", "--which", "hpke"])).contains("--anchor"));
    // The author checks the TA's statement against the enrolled identity key
    // (device.pub.pem, exported before provisioning) and uses only the keys it vouches for.
    author(
        d,
        &words("verify-key-statement keys/anchor-1.statement.cbor --identity-key device.pub.pem --anchor 1 --anchor-key author.pub.pem --out-dir verified"),
    );
    assert_eq!(
        std::fs::read(d.join("verified/anchor-1.hpke.pub.pem")).unwrap(),
        std::fs::read(d.join("keys/anchor-1.hpke.pub.pem")).unwrap()
    );
    let mut st = std::fs::read(d.join("keys/anchor-1.statement.cbor")).unwrap();
    let n = st.len();
    st[n - 1] ^= 1;
    std::fs::write(d.join("tampered.cbor"), &st).unwrap();
    let t = run(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &words("verify-key-statement tampered.cbor --identity-key device.pub.pem"),
    );
    assert_eq!(t.code, 1, "{}", t.stderr);
    let other = run(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &words("verify-key-statement keys/anchor-1.statement.cbor --identity-key report.pub.pem"),
    );
    assert_eq!(other.code, 1);

    std::fs::write(d.join("fw.bin"), vec![0x42u8; 700_000]).unwrap();
    w("app.conf", "mode=fast\n");
    w(
        "m.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [
          {"id": ["app"], "file": "fw.bin", "uri": "https://example.com/fw.bin",
           "encryption": {"content-alg": "A128GCM", "recipients": [{"key": "verified/anchor-1.hpke.pub.pem", "mode": "hpke"}]}},
          {"id": ["ree", "etc", "app.conf"], "file": "app.conf"}]}"#,
    );
    author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem --payload-out payloads"),
    );

    // A payload the agent cannot find: a clear error, nothing installed.
    let missing = refused(agent(d, &["install", "m.suit"]));
    assert!(
        missing.contains("no --payload or --payload-dir file provides it"),
        "{missing}"
    );
    let installed = ok(agent(
        d,
        &words("install m.suit --payload-dir payloads --ree-root ree"),
    ));
    assert!(
        installed.contains("installed m.suit (sequence number 1"),
        "{installed}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("ree/etc/app.conf")).unwrap(),
        "mode=fast\n"
    );
    assert!(refused(agent(
        d,
        &["install", "m.suit", "--payload-dir", "payloads"]
    ))
    .contains("Rollback"));
    // Export writes the same approved bytes again, atomically.
    std::fs::remove_file(d.join("ree/etc/app.conf")).unwrap();
    ok(agent(d, &["export", "etc/app.conf", "--ree-root", "ree"]));
    assert_eq!(
        std::fs::read_to_string(d.join("ree/etc/app.conf")).unwrap(),
        "mode=fast\n"
    );
    // Personalization data is never released to the REE.
    assert!(refused(agent(d, &["perso-get"])).contains("released only to the TA it belongs to"));

    // The report of the refused replay verifies with the device report key.
    ok(agent(
        d,
        &["report", "--nonce", "00112233", "--out", "report.cose"],
    ));
    let verified = author(
        d,
        &words("verify-report --device-key report.pub.pem report.cose"),
    );
    assert!(verified.contains("REPORT SIGNATURE VERIFIED"), "{verified}");
    assert!(verified.contains("nonce: 00112233"), "{verified}");
    // Without --nonce nothing vouches for freshness, and the output says so (review s31).
    assert!(
        verified.contains("freshness not checked (no --nonce)"),
        "{verified}"
    );
    let json = author(
        d,
        &words("verify-report --device-key report.pub.pem report.cose --json"),
    );
    assert!(json.contains("\"nonce-checked\": false"), "{json}");
    let checked = author(
        d,
        &words("verify-report --device-key report.pub.pem report.cose --nonce 00112233"),
    );
    assert!(!checked.contains("freshness not checked"), "{checked}");
    let wrong_key = run(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &words("verify-report --device-key device.pub.pem report.cose"),
    );
    assert!(
        wrong_key.code != 0,
        "the identity key must not verify reports"
    );
    // The hint names the key that does (review s31).
    assert!(
        wrong_key
            .text()
            .contains("signed with the device's report key, report.pub.pem"),
        "{}",
        wrong_key.text()
    );

    let status = ok(agent(d, &["status"]));
    assert!(
        status.contains("installed:           2 component(s)"),
        "{status}"
    );
}

#[test]
fn the_real_tee_is_refused_cleanly_without_optee_support_or_a_device() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(env!("CARGO_BIN_EXE_suit-agent"), tmp.path(), &["status"]);
    let text = &o.stderr;
    assert_ne!(o.code, 0);
    assert!(
        text.contains("built without OP-TEE support") || text.contains("no TEE device"),
        "{text}"
    );
}

/// The MTI profile suit-sha256-ed25519-ecdh-chacha-poly end to end on the simulator: an
/// Ed25519 (-19) author anchor, the payload encrypted by `suit-author create` with
/// ChaCha20/Poly1305 (24) to the anchor's ECDH-ES+A128KW (-29) key, installed by `suit-agent`
/// (the TA's service in-process, built with suit-common's `chacha20` feature) and written out
/// byte for byte. A ciphertext whose tag was altered is refused with nothing installed (here
/// the ciphertext's image digest catches it first; the tag itself is
/// conformance_engine::chacha20_poly1305_installs_with_the_feature_and_is_refused_without_it).
/// The simulator stands for the default TA build unless `--sim-ta-features` says otherwise:
/// the Ed25519 anchor and the ChaCha20 envelope are refused (exit 2) before the simulated
/// device is asked, as `verify --process` refuses them (review s31).
#[test]
fn chacha_poly_profile_installs_through_the_simulator() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    author_anchor_provisioning(d, "ed25519");
    let anchors = |d: &Path| ok(agent(d, &["anchors", "--json"]));
    let before = anchors(d);
    let o = agent(d, &["provision", "provision.cbor"]);
    assert_eq!(o.code, 2, "{}", o.text());
    for needle in [
        "Ed25519 signatures",
        "--sim-ta-features ed25519",
        "not sent to the simulated device",
    ] {
        assert!(o.text().contains(needle), "{needle}: {}", o.text());
    }
    assert_eq!(anchors(d), before, "the device changed");
    ok(agent(
        d,
        &words("provision provision.cbor --sim-ta-features ed25519"),
    ));
    ok(agent(
        d,
        &["device-key", "--anchor", "1", "--out-dir", "keys"],
    ));
    let fw: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(d.join("fw.bin"), &fw).unwrap();
    std::fs::write(
        d.join("m.json"),
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [
          {"id": ["app"], "file": "fw.bin", "uri": "https://example.com/fw.enc",
           "encryption": {"content-alg": "ChaCha20/Poly1305", "recipients": [{"key": "keys/anchor-1.ecdh.pub.pem", "mode": "ecdh-es"}]}}]}"#,
    )
    .unwrap();
    author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem --payload-out payloads"),
    );
    // The profile's algorithms, as an independent look at the envelope shows them.
    let model: serde_json::Value =
        serde_json::from_str(&author(d, &words("inspect --json m.suit"))).unwrap();
    let text = model.to_string();
    for needle in [
        r#""algorithm":"Ed25519""#,
        r#""algorithm":"ChaCha20/Poly1305""#,
        r#""algorithm":"ECDH-ES+A128KW""#,
    ] {
        assert!(text.contains(needle), "{needle} in {model:#}");
    }
    let ct = std::fs::read(d.join("payloads/fw.enc")).unwrap();
    assert_eq!(ct.len(), fw.len() + 16);

    // The tag altered: refused, nothing written.
    std::fs::create_dir(d.join("tampered")).unwrap();
    let mut bad = ct.clone();
    *bad.last_mut().unwrap() ^= 1;
    std::fs::write(d.join("tampered/fw.enc"), &bad).unwrap();
    // Without the features: named, nothing sent (the device's latest report is unchanged).
    let report = |d: &Path| agent(d, &["report", "--json"]).stdout;
    let last = report(d);
    let o = agent(d, &words("install m.suit --payload-dir payloads"));
    assert_eq!(o.code, 2, "{}", o.text());
    assert!(
        o.text().contains("--sim-ta-features ed25519,chacha20"),
        "{}",
        o.text()
    );
    assert_eq!(report(d), last);
    let o = agent(
        d,
        &words("install m.suit --payload-dir payloads --sim-ta-features ed25519"),
    );
    assert_eq!(o.code, 2, "{}", o.text());
    assert!(
        o.text().contains("--sim-ta-features chacha20 "),
        "{}",
        o.text()
    );
    let features = "--sim-ta-features=ed25519,chacha20";
    let why = refused(agent(
        d,
        &words(&format!("install m.suit --payload-dir tampered {features}")),
    ));
    let status = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&agent(d, &["status", "--json"]).stdout).unwrap()
    };
    assert!(
        why.contains("image digest does not match the component's content"),
        "{why}"
    );
    assert_eq!(status(d)["service"]["installed-components"], 0, "{why}");

    let installed = ok(agent(
        d,
        &words(&format!("install m.suit --payload-dir payloads {features}")),
    ));
    assert!(
        installed.contains("installed m.suit (sequence number 1"),
        "{installed}"
    );
    // The plaintext, byte for byte: the installed component's size and SHA-256.
    let c = &status(d)["service"]["components"][0];
    assert_eq!(
        (&c["id"], c["size"].as_u64()),
        (&serde_json::json!(["617070"]), Some(300_000))
    );
    use sha2::Digest as _;
    assert_eq!(c["digest"], hex::encode(sha2::Sha256::digest(&fw)));
}

/// Manifest-37 §8.3's algorithm migration on the simulated default TA: an envelope signed
/// with ESP256 and Ed25519 (two COSE_Sign1 blocks, or one COSE_Sign) installs on a device
/// holding only the P-256 anchor, as on the default TA (it skips the signature it cannot
/// use) and as `verify --process` says; only an Ed25519 anchor needs the feature.
#[test]
fn a_co_signed_ed25519_envelope_installs_on_the_simulated_default_ta() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    author_anchor_provisioning(d, "p256");
    author(d, &["keygen", "--type", "ed25519", "--out", "ed"]);
    ok(agent(d, &["provision", "provision.cbor"]));
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    for (seq, form) in [(1, ""), (2, " --cose-sign")] {
        std::fs::write(
            d.join("m.json"),
            format!(
                r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
                "components": [{{"id": ["app"], "file": "fw.bin"}}]}}"#
            ),
        )
        .unwrap();
        author(
            d,
            &words(&format!(
                "create m.json -o m.suit --sign-key author.priv.pem --sign-key ed.priv.pem{form}"
            )),
        );
        author(
            d,
            &words("verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id board"),
        );
        let installed = ok(agent(d, &words("install m.suit")));
        assert!(
            installed.contains(&format!("sequence number {seq}")),
            "{installed}"
        );
    }
}

/// A payload is opaque bytes (manifest-37) (review s32). One that starts with
/// 0xd8 0x6b (tag 107: e.g. a SUIT envelope for another processor, carried as a component's
/// image) in a manifest that declares no dependency is no integrated dependency: the device
/// installs it, and `suit-author verify` (whose `--process` verdict is documented as the
/// device's) must not refuse it as an unauthenticated "integrated dependency".
#[test]
fn an_integrated_payload_that_starts_like_an_envelope_is_not_a_dependency() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    author_anchor_provisioning(d, "p256");
    ok(agent(d, &["provision", "provision.cbor"]));
    let mut image = vec![0xd8, 0x6b];
    image.extend_from_slice(b"\x00\x01 raw image bytes");
    std::fs::write(d.join("fw.bin"), &image).unwrap();
    std::fs::write(
        d.join("m.json"),
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["app"], "file": "fw.bin"}]}"#,
    )
    .unwrap();
    author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    );
    ok(agent(d, &["install", "m.suit"]));
    author(
        d,
        &words("verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id board"),
    );
}

/// The agent reads the files it is given bounded, naming the file and the bound: a PEM file
/// (`--sim-tpa-root`) past the bound for text is refused as unusable input (exit 2) before
/// it is parsed, and the CA file of the network options likewise.
#[test]
fn the_agent_reads_named_files_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let bound = suit_host::files::MAX_TEXT_FILE_LEN;
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/keys/tpa-test.pub.pem"
    ))
    .unwrap();
    let mut big = pem.clone();
    big.resize(bound as usize + 1, b'\n');
    std::fs::write(d.join("big.pem"), &big).unwrap();
    let limit = format!("limit {bound}");
    let o = agent(d, &["--sim-tpa-root", "big.pem", "status"]);
    assert_eq!(o.code, 2, "{}", o.text());
    assert!(
        o.text().contains(&limit) && o.text().contains("big.pem"),
        "{}",
        o.text()
    );
    // The same key within the bound is taken.
    std::fs::write(d.join("small.pem"), &pem).unwrap();
    ok(agent(d, &["--sim-tpa-root", "small.pem", "status"]));
    let o = agent(
        d,
        &[
            "install",
            "http://127.0.0.1:9/e.suit",
            "--ca-file",
            "big.pem",
        ],
    );
    assert_eq!(o.code, 2, "{}", o.text());
    assert!(o.text().contains(&limit), "{}", o.text());
}

/// `--timings` (qemu/bench.sh's breakdown): the command line's parsing, the session's
/// opening and each TA command, one line each on standard error, nothing on standard output.
#[test]
fn timings_name_the_parse_the_session_and_each_command() {
    let t = tempfile::tempdir().unwrap();
    let o = agent(t.path(), &["--timings", "status", "--json"]);
    assert_eq!(o.code, 0, "{}", o.text());
    let seconds = |what: &str| -> f64 {
        let line = o
            .stderr
            .lines()
            .find(|l| l.starts_with(&format!("timing {what} ")))
            .unwrap_or_else(|| panic!("no `timing {what}` line:\n{}", o.stderr));
        line.rsplit("seconds=").next().unwrap().parse().unwrap()
    };
    // The simulator answers in microseconds: a release build prints `seconds=0.0000`.
    assert!(seconds("args") >= 0.0 && seconds("connect") >= 0.0 && seconds("Status") >= 0.0);
    assert!(o.stderr.contains("timing Status calls=1 "), "{}", o.stderr);
    assert!(!o.stdout.contains("timing"), "{}", o.stdout);
}
