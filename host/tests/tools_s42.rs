//! A demanding new user's session with the host tools (session 42): each test fails without
//! its fix, run against the built binaries (the agent with `--tee sim`).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::{Path, PathBuf};

use suit_test_support::cli::{fails, ok, words};

suit_test_support::cli_tools!();

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// The drafts' examples in CBOR diagnostic notation, as the repository keeps them beside
/// their hex: a security reviewer given one got "not a well-formed SUIT envelope: malformed
/// SUIT_Envelope: bytes after the item at byte 1" (`verify`, exit 1: a verdict that the
/// draft's example is malformed), "2583 trailing bytes after the CBOR item" (`inspect`), and
/// the agent sent the text to the TA, which refused it as a malformed envelope (exit 1).
/// Now each names the notation and what the tools read instead (exit 2, nothing sent).
#[test]
fn s42_1_diagnostic_notation_is_named_not_decoded_as_cbor() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    let files = [
        vectors().join("suit-trust-domains/example0_dependent.diag"),
        vectors().join("suit-firmware-encryption/suit-manifest-aes-kw.diag.signed"),
        vectors().join("libcsuit/suit_manifest_expD.diag"),
        // The manifest draft's own text, inside its `~~~ cbor-diag` fence.
        vectors().join("suit-manifest-spec/example0.txt"),
    ];
    let named = "this is CBOR diagnostic notation (text), not a SUIT envelope";
    for f in &files {
        let f = f.to_str().unwrap();
        let r = author(d, &["verify", f, "--trust-anchor", "author.pub.pem"]);
        let all = fails(r, 2, named);
        assert!(all.contains("binary CBOR or hex"), "{all}");
        assert!(!all.contains("bytes after"), "{all}");
        fails(author(d, &["inspect", f]), 2, named);
        fails(author(d, &["inspect", f, "--diag"]), 2, named);
        let r = author(d, &["inspect", f, "--json"]);
        assert_eq!(r.code, 2, "{}", r.text());
        let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(j["error"].as_str().unwrap().contains(named), "{j}");
        fails(agent(d, &["install", f]), 2, named);
    }
    // Nothing reached the TA: no pre-authentication refusal was recorded.
    let r = agent(d, &["report", "--pre-auth", "--nonce", "01"]);
    assert_ne!(r.code, 0, "{}", r.text());
    // The same example in hex still verifies, and the CBOR forms are untouched.
    let hex = vectors().join("suit-manifest-spec/example0.signed.hex");
    let key = vectors().join("suit-manifest-spec/public_key.pem");
    ok(author(
        d,
        &[
            "verify",
            hex.to_str().unwrap(),
            "--trust-anchor",
            key.to_str().unwrap(),
        ],
    ));
    // A JSON document with a mistake in it is not taken for diagnostic notation.
    suit_test_support::cli::write(d, "broken.json", "{\"sequence-number\": 1,}\n");
    let r = author(
        d,
        &words("verify broken.json --trust-anchor author.pub.pem"),
    );
    assert!(!r.text().contains("diagnostic notation"), "{}", r.text());
}

/// `sign`, `sever` and `unsever` read their envelope without looking at what else it may
/// be: a key file (the arguments swapped: `sign author.priv.pem ...`) was "REFUSED: cannot
/// sign: not CBOR as a device reads it: bytes after the item at byte 1" (exit 1), a receipt
/// or a provisioning message "not a usable envelope" (exit 1); host/README promises a key file, JSON document or another of the
/// tools' formats where an envelope is read is named with the command that takes it (exit
/// 2), as `verify` does.
#[test]
fn s42_2_sign_sever_unsever_name_another_format() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    let r = author(
        d,
        &words("sign author.priv.pem -o x.suit --sign-key author.priv.pem"),
    );
    let all = fails(
        r,
        2,
        "author.priv.pem: this is PEM text (a key file), not a SUIT envelope",
    );
    assert!(!all.contains("REFUSED"), "{all}");
    assert!(!d.join("x.suit").exists());
    fails(
        author(d, &words("sever p.json -o x.suit --members-out m")),
        2,
        "p.json: this is a JSON document, not a SUIT envelope",
    );
    fails(
        author(d, &words("unsever p.cbor -o x.suit --member p.cbor")),
        2,
        "p.cbor: this is a TPA-signed provisioning message, not a SUIT envelope: use \
         `suit-agent provision`",
    );
    let diag = vectors().join("suit-trust-domains/example0_dependent.diag");
    fails(
        author(
            d,
            &[
                "sign",
                diag.to_str().unwrap(),
                "-o",
                "x.suit",
                "--sign-key",
                "author.priv.pem",
            ],
        ),
        2,
        "CBOR diagnostic notation",
    );
    assert!(!d.join("x.suit").exists());
    assert!(!d.join("m").exists());
}

/// `poll` run once without `--report-url` (an operator's look at the server) cleared the
/// report an earlier round could not post, as if posted: the tracker never got the report of
/// that install. host/README: it "stays pending and is posted ... at the start of each later
/// round until it is, or until another envelope is decided". Now a round without a tracker
/// keeps it, and the next round with one posts it.
#[test]
fn s42_3_a_poll_without_a_tracker_keeps_the_pending_report() {
    use support::device::{agent as sim, device_and_server, envelope, publish};
    use support::http::Behaviour;
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), b"firmware v1").unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    server.route("/down", Behaviour::Status("503 Service Unavailable".into()));
    server.route("/status/reports", Behaviour::Collect);
    let fw = format!("{base}/fw");
    let down = format!("{base}/down");
    let tracker = format!("{base}/status/reports");
    let round = |extra: &[&str]| {
        let mut args = vec!["poll", fw.as_str(), "--poll-state", "poll.json"];
        args.extend_from_slice(extra);
        sim(d, &args)
    };
    // Round 1 installs; the tracker is down: the report stays pending (exit 4).
    let o = round(&["--report-url", &down, "--retries", "0"]);
    assert_eq!(o.status.code(), Some(4), "{}", support::device::text(&o));
    let state = std::fs::read_to_string(d.join("poll.json")).unwrap();
    assert!(state.contains("report-pending"), "{state}");
    // Round 2 without a tracker: up to date, and the report is still pending.
    let o = round(&[]);
    let t = support::device::text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("kept for a round with --report-url"), "{t}");
    let state = std::fs::read_to_string(d.join("poll.json")).unwrap();
    assert!(state.contains("report-pending"), "{state}");
    // Round 3 with the tracker up posts it: the install's report, verified.
    let o = round(&["--report-url", &tracker]);
    let t = support::device::text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let posted = server.requests_to("/status/reports");
    assert_eq!(posted.len(), 1, "{t}");
    let state = std::fs::read_to_string(d.join("poll.json")).unwrap();
    assert!(!state.contains("report-pending"), "{state}");
}

/// `anchors` printed an anchor granted every component (the description's `"components":
/// [[]]`, a delegated TPA's usual scope) as `components []`, which reads as none.
#[test]
fn s42_4_anchors_says_an_empty_prefix_grants_every_component() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type p256 -o delegate")));
    suit_test_support::cli::write(
        d,
        "p.json",
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}},
        {"add-anchor": {"id": 2, "key": "delegate.pub.pem", "role": "tpa", "components": [[]]}}]}"#,
    );
    ok(author(
        d,
        &suit_test_support::cli::provision_args("p.json", "p.cbor", &[]),
    ));
    ok(agent(d, &words("provision p.cbor")));
    let r = ok(agent(d, &["anchors"]));
    assert!(
        r.stdout
            .contains("anchor 1 (author, P-256, no kid): components ['app']\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("anchor 2 (tpa, P-256, no kid): components [] (every component)\n"),
        "{}",
        r.stdout
    );
    // JSON keeps the prefixes as they are.
    let r = ok(agent(d, &["anchors", "--json"]));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        j["anchors"][1]["component-prefixes"],
        serde_json::json!([[]]),
        "{j}"
    );
}

/// `sever` of an envelope whose members are severed already (the manifest draft's
/// `example2.signed-severed`, or `sever`'s own output) said "carries no severable member
/// (create it with --severable)": it was made so. Now it says they are severed already.
#[test]
fn s42_5_sever_of_a_severed_envelope_says_so() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let severed = vectors().join("suit-manifest-spec/example2.signed-severed.hex");
    let r = author(
        d,
        &[
            "sever",
            severed.to_str().unwrap(),
            "-o",
            "x.suit",
            "--members-out",
            "m",
        ],
    );
    let all = fails(
        r,
        1,
        "the envelope carries no severable member: already severed (suit-install and \
         suit-text:",
    );
    assert!(!all.contains("create it with --severable"), "{all}");
    assert!(!d.join("x.suit").exists());
    // A manifest without severable members keeps its advice.
    let plain = vectors().join("suit-manifest-spec/example0.signed.hex");
    let r = author(
        d,
        &[
            "sever",
            plain.to_str().unwrap(),
            "-o",
            "x.suit",
            "--members-out",
            "m",
        ],
    );
    fails(r, 1, "(create it with --severable)");
}

/// The TPA's model (`provision --state`) took a message signed by a key that is neither the
/// root it knew nor one of its TPA anchors (a delegate the root revoked; the wrong
/// `--tpa-key`) for the root's: it wrote the message, which the device refuses, advanced the
/// model's counter and replaced its root key, so the TPA's next real message was refused by
/// the model ("counter 2 is not greater than the applied counter 2") while the device waited
/// for counter 2. Now the model refuses such a message and nothing is written.
#[test]
fn s42_6_the_model_refuses_a_key_that_is_not_the_root_or_a_delegate() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type p256 -o delegate")));
    let tpa = suit_test_support::keys::TPA_PRIV_PATH;
    let message = |json: &str, key: &str, out: &str| {
        author(
            d,
            &[
                "provision",
                json,
                "--tpa-key",
                key,
                "-o",
                out,
                "--state",
                "model.cbor",
            ],
        )
    };
    let write = |name: &str, text: &str| suit_test_support::cli::write(d, name, text);
    // The root adds a delegate; the delegate adds an author; the root revokes the delegate.
    write(
        "1.json",
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 2, "key": "delegate.pub.pem", "role": "tpa", "components": [[]]}}]}"#,
    );
    write(
        "d1.json",
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 3, "key": "author.pub.pem", "role": "author", "components": [["app"]]}}]}"#,
    );
    write(
        "2.json",
        r#"{"counter": 2, "device-key": "device.pub.pem", "ops": [{"remove-anchor": 2}]}"#,
    );
    write(
        "3.json",
        r#"{"counter": 3, "device-key": "device.pub.pem", "ops": []}"#,
    );
    for (json, key, out) in [
        ("1.json", tpa, "1.cbor"),
        ("d1.json", "delegate.priv.pem", "d1.cbor"),
        ("2.json", tpa, "2.cbor"),
    ] {
        ok(message(json, key, out));
        ok(agent(d, &["provision", out]));
    }
    let model = std::fs::read(d.join("model.cbor")).unwrap();
    // The revoked delegate, and a key that never was the TPA's, at the root's next counter.
    for key in ["delegate.priv.pem", "author.priv.pem"] {
        let all = fails(
            message("3.json", key, "bad.cbor"),
            1,
            "is neither the TPA root that signed this model's earlier messages nor a TPA \
             anchor the model holds",
        );
        assert!(!d.join("bad.cbor").exists(), "{all}");
        assert_eq!(std::fs::read(d.join("model.cbor")).unwrap(), model, "{key}");
    }
    // The root's message at that counter is made, applied, and the receipt matches the model.
    ok(message("3.json", tpa, "3.cbor"));
    ok(agent(d, &words("provision 3.cbor --receipt-out r3.cbor")));
    ok(author(
        d,
        &words("verify-receipt r3.cbor --identity-key device.pub.pem --expect-state model.cbor"),
    ));
}

/// `provision --counter N` and `create --sequence-number N` say they override the
/// description's value, yet a description without it was refused ("missing field `counter`
/// at line 1 column 54") though the option gave it: a TPA keeping one description per change
/// and the counter on the command line (the device's next, from `suit-agent anchors`) could
/// not. Now the option suffices; without either the description is refused naming both.
#[test]
fn s42_7_the_override_options_stand_for_a_missing_field() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    let write = |name: &str, text: &str| suit_test_support::cli::write(d, name, text);
    write(
        "empty.json",
        r#"{"device-key": "device.pub.pem", "ops": []}"#,
    );
    let tpa = suit_test_support::keys::TPA_PRIV_PATH;
    let r = author(
        d,
        &["provision", "empty.json", "--tpa-key", tpa, "-o", "2.cbor"],
    );
    let all = fails(r, 2, "empty.json: \"counter\" is missing");
    assert!(all.contains("--counter"), "{all}");
    assert!(!d.join("2.cbor").exists());
    ok(author(
        d,
        &[
            "provision",
            "empty.json",
            "--tpa-key",
            tpa,
            "-o",
            "2.cbor",
            "--counter",
            "2",
        ],
    ));
    let r = ok(agent(d, &words("provision 2.cbor")));
    assert!(r.text().contains("provisioning message 2"), "{}", r.text());

    write("fw.bin", "firmware");
    write(
        "m.json",
        r#"{"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["app"], "file": "fw.bin"}]}"#,
    );
    let r = author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    );
    let all = fails(r, 2, "m.json: \"sequence-number\" is missing");
    assert!(all.contains("--sequence-number"), "{all}");
    assert!(!d.join("m.suit").exists());
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem --sequence-number 7"),
    ));
    let r = ok(agent(d, &words("install m.suit")));
    assert!(r.text().contains("sequence number 7"), "{}", r.text());
}

/// An `SSL_CERT_FILE` that does not exist is refused (exit 2) before anything is fetched,
/// but one holding no certificate (an empty file, a key) was taken as trusting nothing, which
/// only an HTTPS server found out ("unknown issuer"), while `--ca-file` of the same file was
/// refused. Now both are refused alike, naming where the file came from.
#[test]
fn s42_8_an_ssl_cert_file_without_certificates_is_refused_as_the_option_is() {
    use support::device::{device_and_server, text};
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("no-ca.pem"), "not a certificate\n").unwrap();
    let url = format!("{base}/x.suit");
    for (args, env) in [
        (vec!["install", url.as_str()], Some("no-ca.pem")),
        (
            vec!["install", url.as_str(), "--ca-file", "no-ca.pem"],
            None,
        ),
    ] {
        // support::device::run removes SSL_CERT_FILE: set here.
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_suit-agent"));
        c.args(["--tee", "sim", "--state", "state"])
            .args(&args)
            .current_dir(d)
            .env_remove("SSL_CERT_FILE");
        if let Some(f) = env {
            c.env("SSL_CERT_FILE", f);
        }
        let o = c.output().unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        let from = if env.is_some() {
            "SSL_CERT_FILE"
        } else {
            "--ca-file"
        };
        assert!(
            t.contains(&format!(
                "no-ca.pem ({from}): no PEM certificate in the CA file"
            )),
            "{t}"
        );
    }
    assert!(server.seen().is_empty(), "nothing is fetched");
}

/// `verify-receipt` takes the device's key by what it is (`--identity-key`), `verify-report`
/// only as `--device-key`, the name `verify --process` gives a private payload key stand-in:
/// `verify-report --report-key report.pub.pem` was an argument error. It is an alias now.
#[test]
fn s42_9_verify_report_takes_the_report_key_by_its_name() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    ok(agent(
        d,
        &words("device-key --which report -o report.pub.pem"),
    ));
    suit_test_support::cli::write(d, "fw.bin", "firmware");
    suit_test_support::cli::write(
        d,
        "m.json",
        suit_test_support::cli::app_description("board"),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &words("install m.suit")));
    ok(agent(d, &words("report --nonce 0a0b -o r.cose")));
    let r = ok(author(
        d,
        &words("verify-report r.cose --report-key report.pub.pem --nonce 0a0b"),
    ));
    assert!(
        r.stdout.contains("REPORT SIGNATURE VERIFIED"),
        "{}",
        r.stdout
    );
    let r = ok(author(d, &words("verify-report --help")));
    assert!(r.stdout.contains("[alias: --report-key]"), "{}", r.stdout);
}

/// A KEK or HMAC key kept as hex text (`xxd -p` output, as the repository's libcsuit vectors
/// keep theirs) was refused as "KEK must be 16 or 32 bytes long, the file holds 33", which
/// does not say why. Now the refusal says it reads as hex text of a key and how to give it.
#[test]
fn s42_10_a_hex_text_key_file_is_named_as_such() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let kek = vectors().join("libcsuit/kek_a128kw_kid-1.hex");
    let hmac = vectors().join("libcsuit/trust_anchor_hmac256.hex");
    suit_test_support::cli::write(d, "fw.bin", "firmware");
    let r = author(
        d,
        &[
            "encrypt",
            "--payload",
            "fw.bin",
            "--kek",
            kek.to_str().unwrap(),
            "--info-out",
            "i.cbor",
            "--ciphertext-out",
            "c.bin",
        ],
    );
    fails(
        r,
        2,
        "must be 16 or 32 bytes long, the file holds 33: it reads as hex text of a 16-byte \
         key; give the raw bytes (`xxd -r -p` makes them) or a COSE_Key or JWK",
    );
    let envelope = vectors().join("libcsuit/suit_manifest_expAW.suit");
    let r = author(
        d,
        &[
            "verify",
            envelope.to_str().unwrap(),
            "--hmac-key",
            hmac.to_str().unwrap(),
        ],
    );
    fails(
        r,
        2,
        "the file holds 65: it reads as hex text of a 32-byte key",
    );
    // The raw bytes verify; a raw key of a wrong length that is no hex text gets no hint.
    let raw = hex::decode(std::fs::read_to_string(&hmac).unwrap().trim()).unwrap();
    std::fs::write(d.join("hmac.bin"), &raw).unwrap();
    let e = envelope.to_str().unwrap();
    ok(author(d, &["verify", e, "--hmac-key", "hmac.bin"]));
    std::fs::write(d.join("short.bin"), [0xffu8; 20]).unwrap();
    let all = fails(
        author(d, &["verify", e, "--hmac-key", "short.bin"]),
        2,
        "the file holds 20",
    );
    assert!(!all.contains("hex text"), "{all}");
}

/// `--stall-timeout 0` and `--transfer-timeout 0` were taken silently as one second (many
/// tools read 0 as "no limit": a slow server then failed every transfer), where `poll
/// --interval 0` is refused. Both are refused now (exit 2), before anything is fetched.
#[test]
fn s42_11_a_zero_timeout_is_refused_not_taken_as_one_second() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for opt in ["--stall-timeout", "--transfer-timeout"] {
        for cmd in [
            vec!["install", "http://127.0.0.1:9/x.suit", opt, "0"],
            vec!["poll", "http://127.0.0.1:9/", opt, "0"],
        ] {
            let r = agent(d, &cmd);
            let all = fails(r, 2, "0 is not in 1..");
            assert!(all.contains(opt), "{all}");
        }
        let r = agent(d, &["install", "--help"]);
        assert!(r.stdout.contains("seconds, at least 1"), "{}", r.stdout);
    }
}

/// `inspect` of an envelope signed with `create --cose-sign` (one COSE_Sign holding every
/// signature) showed its block as `algorithm: -`, `kid: -`: a COSE_Sign's algorithms and kids
/// are its signatures', which inspect did not show, so a reviewer could not see who signs
/// without verifying. Now each signature's algorithm and kid are listed.
#[test]
fn s42_12_inspect_lists_the_signatures_of_a_cose_sign() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o a --kid author-a")));
    ok(author(
        d,
        &words("keygen --type ed25519 -o b --cose --kid author-b"),
    ));
    suit_test_support::cli::write(d, "fw.bin", "firmware");
    suit_test_support::cli::write(
        d,
        "m.json",
        suit_test_support::cli::app_description("board"),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key a.priv.pem --sign-key b.priv.cose --cose-sign"),
    ));
    let r = ok(author(d, &words("inspect m.suit --json")));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let block = &j["authentication"]["blocks"][0];
    assert_eq!(block["structure"], "COSE_Sign", "{block}");
    let sigs = block["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2, "{block}");
    assert_eq!(sigs[0]["algorithm"], "ESP256", "{block}");
    assert_eq!(sigs[0]["algorithm-id"], -9, "{block}");
    assert_eq!(sigs[1]["algorithm-id"], -19, "{block}");
    assert_eq!(sigs[1]["kid"], "'author-b'", "{block}");
    let r = ok(author(d, &words("inspect m.suit")));
    assert!(r.stdout.contains("signatures:"), "{}", r.stdout);
    assert!(r.stdout.contains("algorithm-id: -19"), "{}", r.stdout);
    // A COSE_Sign1 block has no such list.
    ok(author(
        d,
        &words("create m.json -o one.suit --sign-key a.priv.pem"),
    ));
    let r = ok(author(d, &words("inspect one.suit --json")));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        j["authentication"]["blocks"][0].get("signatures").is_none(),
        "{j}"
    );
}

/// `verify-receipt` and `verify-key-statement` used an identity key file's key whatever
/// `alg` it declared (RFC 9052 §7.1: a key with `alg` is for that algorithm only), while
/// `verify` and `verify-report` honour it: an identity key declared for ES256 verified the
/// ESP256 receipts and statements. Now refused, naming the file; one declared ESP256 is used.
#[test]
fn s42_13_an_identity_key_declared_for_another_algorithm_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(agent(
        d,
        &["device-key", "--format", "cose", "--out", "id.cose"],
    ));
    ok(author(d, &words("keygen --type p256 -o author")));
    std::fs::write(
        d.join("p.json"),
        suit_test_support::cli::app_provisioning("board"),
    )
    .unwrap();
    ok(author(
        d,
        &suit_test_support::cli::provision_args("p.json", "p.cbor", &[]),
    ));
    ok(agent(d, &words("provision p.cbor --receipt-out r.cbor")));
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
    let key: ciborium::Value =
        ciborium::from_reader(&std::fs::read(d.join("id.cose")).unwrap()[..]).unwrap();
    for (name, alg) in [("es256.cose", -7), ("esp256.cose", -9)] {
        let mut entries = key.clone().into_map().unwrap();
        entries.retain(|(k, _)| k != &ciborium::Value::from(3));
        entries.push((3.into(), alg.into()));
        let mut bytes = Vec::new();
        ciborium::into_writer(&ciborium::Value::Map(entries), &mut bytes).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    }
    ok(author(
        d,
        &words("verify-receipt r.cbor --identity-key esp256.cose --message p.cbor"),
    ));
    ok(author(
        d,
        &words("verify-key-statement keys/anchor-1.statement.cbor --identity-key esp256.cose"),
    ));
    for cmd in [
        "verify-receipt r.cbor --identity-key es256.cose --message p.cbor",
        "verify-key-statement keys/anchor-1.statement.cbor --identity-key es256.cose",
    ] {
        let r = author(d, &words(cmd));
        assert_eq!(r.code, 2, "{cmd}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("es256.cose"), "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("ESP256"), "{cmd}: {}", r.stderr);
    }
}
