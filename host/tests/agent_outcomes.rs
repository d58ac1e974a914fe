//! What the agent records and which exit status it gives when something fails around the
//! TA's decision: a refusal that is the device's own trouble is not a verdict on the envelope
//! (exit 3, `poll` retries it); work after a commit that fails (an approved REE file, a
//! receipt file) does not hide the commit (exit 5); a report the tracker missed is posted in
//! a later round. The real `suit-agent --tee sim` against the test server of support/http.rs.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::Path;

use suit_test_support::cli::{provision_args, write};
use support::device::{
    agent, author, device_and_server, device_with_ree, envelope, envelope_path, fails,
    installed_components, ok, payload, poll, publish, verify_collected,
};
use support::http::{serve, serve_envelope, Behaviour};

/// Serves `NAME.suit` at the device's envelope path and its detached payload `payloads/FILE`
/// at `/p/FILE`.
/// `forged.suit`: v1's manifest (payload `v1.bin` from `uri`) signed by a key no anchor holds,
/// so it claims the manifest digest of `v1.suit`.
fn forged_envelope(d: &Path, uri: &str) {
    support::device::unsigned_envelope(d, "v1u", 1, "v1.bin", uri);
    author(d, &["keygen", "--type", "p256", "--out", "stranger"]);
    author(
        d,
        &[
            "sign",
            "v1u.suit",
            "-o",
            "forged.suit",
            "--sign-key",
            "stranger.priv.pem",
        ],
    );
}

/// The simulator's file for a secure-storage object.
fn object(d: &Path, name: &str) -> std::path::PathBuf {
    d.join("state").join(hex::encode(name))
}

fn json(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(stdout)
        )
    })
}

/// `name.suit`: `app` from `uri` (detached, into `payloads/`) and the approved normal-world
/// file `etc/app.conf` (integrated).
fn envelope_with_ree_file(d: &Path, name: &str, seq: u64, uri: &str) {
    std::fs::write(d.join("fw.bin"), payload(100_000, seq as u8)).unwrap();
    write(d, "app.conf", format!("release={seq}\n"));
    write(
        d,
        &format!("{name}.json"),
        format!(
            r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["app"], "file": "fw.bin", "uri": "{uri}"}},
                           {{"id": ["ree", "etc", "app.conf"], "file": "app.conf"}}]}}"#
        ),
    );
    let (json, out) = (format!("{name}.json"), format!("{name}.suit"));
    author(
        d,
        &[
            "create",
            &json,
            "-o",
            &out,
            "--payload-out",
            "payloads",
            "--sign-key",
            "author.priv.pem",
        ],
    );
}

/// The device's key store unusable is the device's trouble, not a verdict on the envelope:
/// `install` exits 3 (not 1, "refused"), and `poll` records nothing and posts nothing, so
/// the round after the repair installs the same envelope.
#[test]
fn a_device_fault_is_retried_and_only_a_verdict_is_recorded() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(200_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    server.route("/status/reports", Behaviour::Collect);

    let keys = object(d, "suit/device-keys");
    let good = std::fs::read(&keys).unwrap();
    std::fs::write(&keys, b"not a key store").unwrap();

    let o = agent(
        d,
        &["install", "v1.suit", "--payload-dir", "payloads", "--json"],
    );
    let t = fails(o.clone(), 3);
    let j = json(&o.stdout);
    assert_eq!(
        (j["exit-code"].as_u64(), j["refusal"]["kind"].as_str()),
        (Some(3), Some("device-key")),
        "{t}"
    );

    let poll_once = || poll(d, &base, &[]);
    let t = fails(poll_once(), 3);
    assert!(t.contains("device-key"), "{t}");
    let state = poll_state(d);
    assert_eq!(state["envelope-sha256"], serde_json::Value::Null, "{state}");
    // Refused at InstallFinish (which needs the keys): its in-flight mark stays until the
    // TA says what became of the attempt.
    assert_eq!(state["in-flight"]["sequence-number"], 1, "{state}");
    assert!(server.requests_to("/status/reports").is_empty());
    assert_eq!(installed_components(d), 0);

    // Repaired: the TA holds no report (none of an attempt it committed), so the next
    // round hands the same envelope over again, and it installs.
    std::fs::write(&keys, good).unwrap();
    let t = ok(poll_once());
    assert!(t.contains("holds no report"), "{t}");
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(installed_components(d), 1);
    assert_eq!(server.requests_to("/status/reports").len(), 1);
}

/// Payload bytes the TA refuses (fetched from a URL, not part of the envelope) are not a
/// decision about the envelope: the round posts its report (exit 1), but the next round
/// hands the same envelope over again and installs once the server serves the right bytes.
/// Wrong plaintext (an image digest mismatch) and an altered ciphertext (an AEAD tag) alike.
/// An installed envelope stays decided.
#[test]
fn a_refused_payload_download_is_retried_in_the_next_round() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(120_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    std::fs::write(d.join("v2.bin"), payload(90_000, 2)).unwrap();
    envelope(d, "v2", 2, "v2.bin", &format!("{base}/p/v2.bin"), true);
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    let env_path = envelope_path(d);
    server.route(&env_path, serve_envelope(read("v1.suit"), "\"e1\""));
    // Same length, other content, for the first request only.
    server.route("/p/v1.bin", serve(payload(120_000, 9), "\"bad\""));
    server.publish_after("/p/v1.bin", 1, serve(read("payloads/v1.bin"), "\"p1\""));
    server.route("/status/reports", Behaviour::Collect);
    let poll_once = || poll(d, &base, &[]);
    let t = fails(poll_once(), 1);
    assert!(t.contains("hands the envelope over again"), "{t}");
    assert_eq!(server.requests_to("/status/reports").len(), 1, "{t}");
    assert_eq!(installed_components(d), 0);
    let t = ok(poll_once());
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(installed_components(d), 1);
    assert_eq!(server.requests_to("/status/reports").len(), 2, "{t}");
    let t = ok(poll_once());
    assert!(t.contains("not modified"), "{t}");

    // Encrypted: one bit of the ciphertext flipped, then the real ciphertext.
    let good = read("payloads/v2.bin");
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 1;
    server.route("/p/v2.bin", serve(bad, "\"bad2\""));
    server.publish_after("/p/v2.bin", 1, serve(good, "\"p2\""));
    server.route(&env_path, serve_envelope(read("v2.suit"), "\"e2\""));
    let t = fails(poll_once(), 1);
    assert!(t.contains("hands the envelope over again"), "{t}");
    let t = ok(poll_once());
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(server.requests_to("/status/reports").len(), 4, "{t}");
    let posts = server.requests_to("/status/reports");
    let (t, j) = verify_collected(d, posts.iter().map(|p| p.body.as_slice()));
    assert_eq!(j["verified"], 4, "{t}");
}

/// The poll state as JSON.
fn poll_state(d: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(d.join("poll.json")).unwrap()).unwrap()
}

/// A server that always serves wrong payload bytes does not make `poll` hand the envelope
/// over every round, nor does it become a verdict on the authentic manifest: attempts come
/// with a growing back-off (rounds 1, 2, 4 and 8 here; each run is one round, from the saved
/// state), capped at one attempt per 64 rounds, and once the right bytes are served the
/// update installs.
#[test]
fn a_payload_refused_every_time_is_retried_with_a_capped_back_off() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(120_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    let env_path = envelope_path(d);
    server.route(
        &env_path,
        serve_envelope(std::fs::read(d.join("v1.suit")).unwrap(), "\"e1\""),
    );
    server.route("/p/v1.bin", serve(payload(120_000, 9), "\"bad\""));
    server.route("/status/reports", Behaviour::Collect);
    let poll_once = || poll(d, &base, &[]);
    let handed_over = || server.requests_to("/p/v1.bin").len();
    let mut attempts = Vec::new();
    for round in 1..=9 {
        let before = handed_over();
        let o = poll_once();
        let t = if o.status.code() == Some(0) {
            ok(o)
        } else {
            fails(o, 1)
        };
        if handed_over() > before {
            attempts.push(round);
            assert!(t.contains("hands the envelope over again"), "{t}");
        }
    }
    assert_eq!(attempts, [1, 2, 4, 8]);
    assert_eq!(server.requests_to("/status/reports").len(), 4);
    assert_eq!(installed_components(d), 0);
    let state = poll_state(d);
    assert_eq!(state["envelope-sha256"], serde_json::Value::Null, "{state}");
    let kept = state["payload-retries"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{state}");
    assert_eq!(kept[0]["attempts"], 4, "{state}");

    // However many refusals, the wait stays at its cap.
    let mut state = state;
    state["payload-retries"][0]["attempts"] = 40.into();
    state["payload-retries"][0]["skip-rounds"] = 0.into();
    std::fs::write(d.join("poll.json"), state.to_string()).unwrap();
    fails(poll_once(), 1);
    let state = poll_state(d);
    assert_eq!(state["payload-retries"][0]["attempts"], 41, "{state}");
    assert_eq!(state["payload-retries"][0]["skip-rounds"], 63, "{state}");

    // The right bytes now; one round left to wait (as after 62 skipped), then installed.
    let mut state = state;
    state["payload-retries"][0]["skip-rounds"] = 1.into();
    std::fs::write(d.join("poll.json"), state.to_string()).unwrap();
    server.route(
        "/p/v1.bin",
        serve(std::fs::read(d.join("payloads/v1.bin")).unwrap(), "\"p1\""),
    );
    let before = handed_over();
    ok(poll_once());
    assert_eq!(handed_over(), before);
    let t = ok(poll_once());
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(installed_components(d), 1);
    assert!(poll_state(d).get("payload-retries").is_none());
}

/// `envelope` with a text label `"x": value` added to the unprotected header of its first
/// authentication block: another encoding of the same envelope, which authentication
/// accepts as well (an unknown unprotected label is ignored; the manifest is the same).
fn with_unprotected_label(envelope: &[u8], value: &str) -> Vec<u8> {
    use ciborium::Value;
    fn decode(b: &[u8]) -> Value {
        ciborium::from_reader(b).unwrap()
    }
    fn encode(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    }
    fn untagged(v: &mut Value) -> &mut Value {
        match v {
            Value::Tag(_, inner) => untagged(inner),
            v => v,
        }
    }
    let mut env = decode(envelope);
    let Value::Map(members) = untagged(&mut env) else {
        panic!("not a map")
    };
    let Some((_, Value::Bytes(auth))) = members
        .iter_mut()
        .find(|(k, _)| *k == Value::Integer(2.into()))
    else {
        panic!("no authentication wrapper")
    };
    let mut wrapper = decode(auth);
    let Value::Array(items) = untagged(&mut wrapper) else {
        panic!("wrapper not an array")
    };
    let Value::Bytes(block) = &mut items[1] else {
        panic!("no authentication block")
    };
    let mut sign1 = decode(block);
    let Value::Array(parts) = untagged(&mut sign1) else {
        panic!("not a COSE_Sign1")
    };
    let Value::Map(unprotected) = &mut parts[1] else {
        panic!("no unprotected bucket")
    };
    unprotected.push((Value::Text("x".into()), Value::Text(value.into())));
    *block = encode(&sign1);
    *auth = encode(&wrapper);
    encode(&env)
}

/// The payload-refusal count follows the manifest, not the envelope's bytes: a server
/// alternating two encodings of one authentic envelope (another unprotected header) with
/// wrong payload bytes gets it handed to the TA on one back-off schedule (rounds 1, 2, 4
/// and 8, both encodings among them), not each encoding on its own.
#[test]
fn a_payload_refused_in_alternating_encodings_backs_off_as_one() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(120_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    let a = std::fs::read(d.join("v1.suit")).unwrap();
    let b = with_unprotected_label(&a, "b");
    let claimed = |e: &[u8]| {
        suit_common::suit::envelope::Envelope::decode(e)
            .unwrap()
            .claimed_digest()
            .0
    };
    assert_ne!(a, b);
    assert_eq!(claimed(&a), claimed(&b));
    let env_path = envelope_path(d);
    server.route("/p/v1.bin", serve(payload(120_000, 9), "\"bad\""));
    server.route("/status/reports", Behaviour::Collect);
    let poll_once = || poll(d, &base, &[]);
    let handed_over = || server.requests_to("/p/v1.bin").len();
    let mut attempts = Vec::new();
    for round in 1..=10 {
        let (bytes, etag) = if round % 2 == 1 {
            (&a, "\"a\"")
        } else {
            (&b, "\"b\"")
        };
        server.route(&env_path, serve_envelope(bytes.clone(), etag));
        let before = handed_over();
        let o = poll_once();
        if o.status.code() == Some(0) {
            ok(o);
        } else {
            fails(o, 1);
        }
        if handed_over() > before {
            attempts.push(round);
        }
    }
    assert_eq!(attempts, [1, 2, 4, 8]);
    assert_eq!(server.requests_to("/status/reports").len(), 4);
    assert_eq!(installed_components(d), 0);
}

/// A severed copy of the manifest (suit-install left out of the envelope: refused, "the
/// envelope does not carry it") is a verdict on that envelope, not on the manifest: it does
/// not end the manifest's payload back-off, which goes on where it was when the full envelope
/// comes back (re-encoding the same manifest so must not make `poll` hammer).
#[test]
fn a_severed_copy_of_the_manifest_does_not_reset_the_payload_back_off() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(60_000, 1)).unwrap();
    write(
        d,
        "v1.json",
        format!(
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["app"], "file": "v1.bin", "uri": "{base}/p/v1.bin"}}]}}"#
        ),
    );
    author(
        d,
        &[
            "create",
            "v1.json",
            "-o",
            "v1.suit",
            "--payload-out",
            "payloads",
            "--sign-key",
            "author.priv.pem",
            "--severable",
        ],
    );
    author(
        d,
        &[
            "sever",
            "v1.suit",
            "-o",
            "v1s.suit",
            "--members-out",
            "severed",
            "--member",
            "install",
        ],
    );
    server.route("/p/v1.bin", serve(payload(60_000, 9), "\"bad\""));
    server.route("/status/reports", Behaviour::Collect);
    let env_path = envelope_path(d);
    let mut seen = Vec::new();
    for (round, name) in ["v1", "v1", "v1", "v1s", "v1", "v1"].iter().enumerate() {
        let bytes = std::fs::read(d.join(format!("{name}.suit"))).unwrap();
        server.route(&env_path, serve_envelope(bytes, &format!("\"{name}\"")));
        let o = poll(d, &base, &[]);
        let t = if o.status.code() == Some(0) {
            ok(o)
        } else {
            fails(o, 1)
        };
        if round == 3 {
            assert!(t.contains("severed"), "{t}");
        }
        let r = &poll_state(d)["payload-retries"][0];
        seen.push((r["attempts"].as_u64(), r["skip-rounds"].as_u64()));
    }
    let counted = |a, s| (Some(a), Some(s));
    assert_eq!(
        seen,
        [
            counted(1, 0),
            counted(2, 1),
            counted(2, 0),
            counted(2, 0),
            counted(3, 3),
            counted(3, 2)
        ]
    );
    assert_eq!(installed_components(d), 0);
}

/// An approved REE file that cannot be written after the TA committed: `install` says what
/// was installed and how to write the file (exit 5, not 2 as for bad input), with `--json`
/// in its one document.
#[test]
fn install_reports_the_commit_when_an_approved_file_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device_with_ree(d);
    envelope_with_ree_file(d, "m1", 1, "https://example.com/fw.bin");
    // Under the REE root, `etc` is a regular file: nothing can be written below it (a
    // root that is a file is refused before the TA is asked).
    std::fs::create_dir(d.join("ree")).unwrap();
    write(d, "ree/etc", "not a directory");
    let args = ["--payload-dir", "payloads", "--ree-root", "ree"];
    let o = agent(d, &[&["install", "m1.suit"][..], &args].concat());
    let t = fails(o.clone(), 5);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("installed m1.suit (sequence number 1"),
        "{t}"
    );
    assert!(
        t.contains("installed, but writing etc/app.conf failed")
            && t.contains("`suit-agent export etc/app.conf --ree-root ree`"),
        "{t}"
    );
    assert_eq!(installed_components(d), 2);
    // What it says to run writes the file.
    ok(agent(d, &["export", "etc/app.conf", "--ree-root", "ree2"]));
    assert_eq!(
        std::fs::read_to_string(d.join("ree2/etc/app.conf")).unwrap(),
        "release=1\n"
    );

    envelope_with_ree_file(d, "m2", 2, "https://example.com/fw.bin");
    let o = agent(d, &[&["install", "m2.suit", "--json"][..], &args].concat());
    let t = fails(o.clone(), 5);
    let j = json(&o.stdout);
    assert_eq!(j["ok"], false, "{t}");
    assert_eq!(j["exit-code"], 5, "{t}");
    assert_eq!(j["sequence-number"], 2, "{t}");
    assert!(j["error"].as_str().unwrap().contains("etc/app.conf"), "{t}");
}

/// `poll` with an approved REE file it cannot write: the decision is saved and the report
/// posted first, the round exits 5 naming the file, and the file stays pending in the poll
/// state: every later round (each run here is a new process, so from the saved state) tries
/// it again, exiting 5 while it cannot be written, without handing the envelope over again
/// (which the TA would refuse as a rollback), and writes it once it can.
#[test]
fn poll_retries_an_approved_ree_file_it_could_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = support::http::Server::default();
    let base = server.start_http();
    device_with_ree(d);
    envelope_with_ree_file(d, "m1", 1, &format!("{base}/p/fw.bin"));
    publish(&server, d, "m1", "fw.bin");
    server.route("/status/reports", Behaviour::Collect);
    // Under the REE root, `etc` is a regular file: nothing can be written below it (a
    // root that is a file is refused before the TA is asked).
    std::fs::create_dir(d.join("ree")).unwrap();
    write(d, "ree/etc", "not a directory");
    let poll_once = || poll(d, &base, &["--ree-root", "ree"]);
    let pending = || {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("poll.json")).unwrap()).unwrap();
        state["ree-pending"].clone()
    };
    let t = fails(poll_once(), 5);
    assert!(t.contains("installed: "), "{t}");
    assert!(
        t.contains("`suit-agent export etc/app.conf --ree-root ree`")
            && t.contains("the next round tries again"),
        "{t}"
    );
    assert_eq!(server.requests_to("/status/reports").len(), 1);
    assert_eq!(pending(), serde_json::json!(["etc/app.conf"]));

    // Still not writable: tried again, still pending, the envelope not handed over again.
    let t = fails(poll_once(), 5);
    assert!(t.contains("not modified"), "{t}");
    assert!(t.contains("writing etc/app.conf failed"), "{t}");
    assert!(!t.contains("Rollback"), "{t}");
    assert_eq!(pending(), serde_json::json!(["etc/app.conf"]));

    // Writable now: written, and no longer pending.
    std::fs::remove_file(d.join("ree/etc")).unwrap();
    let t = ok(poll_once());
    assert!(t.contains("not modified"), "{t}");
    assert!(t.contains("wrote approved REE file"), "{t}");
    assert_eq!(
        std::fs::read_to_string(d.join("ree/etc/app.conf")).unwrap(),
        "release=1\n"
    );
    assert_eq!(pending(), serde_json::Value::Null);
    let t = ok(poll_once());
    assert!(!t.contains("wrote approved REE file"), "{t}");

    assert_eq!(server.requests_to("/status/reports").len(), 1);
    let (t, j) = verify_collected(
        d,
        server
            .requests_to("/status/reports")
            .iter()
            .map(|p| p.body.as_slice()),
    );
    assert_eq!(j["reports"][0]["report"]["sequence-number"], 1, "{t}");
}

/// Writes the poll state a round killed inside InstallFinish leaves for envelope `NAME.suit`
/// (sequence number `seq`, served with `etag`): nothing decided yet, the in-flight mark saved.
fn killed_in_finish(d: &Path, base: &str, name: &str, seq: u64, etag: &str) {
    use sha2::Digest as _;
    let bytes = std::fs::read(d.join(format!("{name}.suit"))).unwrap();
    let claimed = suit_common::suit::envelope::Envelope::decode(&bytes)
        .unwrap()
        .claimed_digest()
        .0;
    let state = serde_json::json!({
        "url": format!("{base}{}", envelope_path(d)),
        "etag": null,
        "envelope-sha256": null,
        "in-flight": {
            "manifest-digest": hex::encode(claimed),
            "sequence-number": seq,
            "envelope-sha256": hex::encode(sha2::Sha256::digest(&bytes)),
            "etag": etag,
        },
    });
    std::fs::write(d.join("poll.json"), state.to_string()).unwrap();
}

/// A device with an `['ree', ...]` anchor that installed `m1` (sequence 1, served as `"e1"`
/// by the returned server, reports collected) while a poll round was killed inside its
/// InstallFinish: the poll state that round leaves ([`killed_in_finish`]).
fn committed_then_killed(d: &Path) -> (support::http::Server, String) {
    let server = support::http::Server::default();
    let base = server.start_http();
    device_with_ree(d);
    envelope_with_ree_file(d, "m1", 1, &format!("{base}/p/fw.bin"));
    publish(&server, d, "m1", "fw.bin");
    server.route("/status/reports", Behaviour::Collect);
    ok(agent(
        d,
        &["install", "m1.suit", "--payload-dir", "payloads"],
    ));
    killed_in_finish(d, &base, "m1", 1, "\"e1\"");
    (server, base)
}

/// A round killed inside InstallFinish after the TA committed (emulated: the TA installs the
/// envelope through `install`, and the poll state is the one such a round leaves, the
/// in-flight mark saved): the next round asks the TA, not the server, what became of it, and
/// records it as that round would have: decided, its approved REE file written, the TA's
/// report of that install posted. Not handed over again, which the TA would refuse as a
/// rollback, a verdict that would have lost both.
#[test]
fn an_install_committed_while_the_agent_was_killed_is_recorded_from_the_ta() {
    use sha2::Digest as _;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (server, base) = committed_then_killed(d);

    let poll_once = || poll(d, &base, &["--ree-root", "ree"]);
    let t = ok(poll_once());
    assert!(t.contains("the TA committed it"), "{t}");
    assert!(!t.contains("Rollback"), "{t}");
    assert_eq!(
        std::fs::read_to_string(d.join("ree/etc/app.conf")).unwrap(),
        "release=1\n"
    );
    let state = poll_state(d);
    assert!(state.get("in-flight").is_none(), "{state}");
    let sha = hex::encode(sha2::Sha256::digest(
        std::fs::read(d.join("m1.suit")).unwrap(),
    ));
    assert_eq!(state["envelope-sha256"], sha.as_str(), "{state}");
    assert_eq!(state["etag"], "\"e1\"", "{state}");
    // Up to date from here on: the ETag recorded is sent, nothing is posted again.
    let t = ok(poll_once());
    assert!(t.contains("not modified"), "{t}");

    let posts = server.requests_to("/status/reports");
    assert_eq!(posts.len(), 1);
    let (t, j) = verify_collected(d, posts.iter().map(|p| p.body.as_slice()));
    assert_eq!(j["verified"], 1, "{t}");
    let report = &j["reports"][0]["report"];
    assert_eq!(report["sequence-number"], 1, "{t}");
    assert_eq!(report["result"]["success"], true, "{t}");
}

/// A mark the TA does not confirm is not an install: with `m2` in flight but only `m1`
/// installed (a round killed before the TA committed `m2`), the next round hands `m2` over as
/// usual and the TA installs it; the mark saved before its InstallFinish is cleared after it.
#[test]
fn an_install_the_ta_did_not_commit_is_handed_over_again() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = support::http::Server::default();
    let base = server.start_http();
    device_with_ree(d);
    envelope_with_ree_file(d, "m1", 1, &format!("{base}/p/fw.bin"));
    ok(agent(
        d,
        &["install", "m1.suit", "--payload-dir", "payloads"],
    ));
    envelope_with_ree_file(d, "m2", 2, &format!("{base}/p/fw.bin"));
    publish(&server, d, "m2", "fw.bin");
    server.route("/status/reports", Behaviour::Collect);
    killed_in_finish(d, &base, "m2", 2, "\"e1\"");

    let t = ok(poll(d, &base, &["--ree-root", "ree"]));
    assert!(t.contains("the TA did not commit it"), "{t}");
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(
        std::fs::read_to_string(d.join("ree/etc/app.conf")).unwrap(),
        "release=2\n"
    );
    assert!(poll_state(d).get("in-flight").is_none());
    let posts = server.requests_to("/status/reports");
    let (t, j) = verify_collected(d, posts.iter().map(|p| p.body.as_slice()));
    assert_eq!(j["verified"], 1, "{t}");
    assert_eq!(j["reports"][0]["report"]["sequence-number"], 2, "{t}");
}

/// A round killed after the TA committed but before it stored its report (emulated: the
/// report object of an earlier install put back, which the TA no longer signs as current):
/// the approved REE file of the components the TA lists at the mark's sequence number is
/// written, but nothing is recorded or posted on the agent's word; the envelope goes to the
/// TA as usual, whose rollback refusal is then its own, signed, verdict.
#[test]
fn an_install_committed_without_its_report_still_gets_its_ree_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = support::http::Server::default();
    let base = server.start_http();
    device_with_ree(d);
    let install = |name: &str| {
        ok(agent(
            d,
            &[
                "install",
                &format!("{name}.suit"),
                "--payload-dir",
                "payloads",
            ],
        ))
    };
    envelope_with_ree_file(d, "m1", 1, &format!("{base}/p/fw.bin"));
    install("m1");
    let stale = std::fs::read(object(d, "suit/report")).unwrap();
    envelope_with_ree_file(d, "m2", 2, &format!("{base}/p/fw.bin"));
    install("m2");
    std::fs::write(object(d, "suit/report"), stale).unwrap();
    publish(&server, d, "m2", "fw.bin");
    server.route("/status/reports", Behaviour::Collect);
    killed_in_finish(d, &base, "m2", 2, "\"e1\"");

    let t = fails(poll(d, &base, &["--ree-root", "ree"]), 1);
    assert!(t.contains("holds no report"), "{t}");
    assert_eq!(
        std::fs::read_to_string(d.join("ree/etc/app.conf")).unwrap(),
        "release=2\n"
    );
    assert!(poll_state(d).get("in-flight").is_none());
    let posts = server.requests_to("/status/reports");
    let (t, j) = verify_collected(d, posts.iter().map(|p| p.body.as_slice()));
    assert_eq!(j["verified"], 1, "{t}");
    assert_eq!(j["reports"][0]["report"]["result"]["success"], false, "{t}");
}

/// A round killed inside InstallFinish after the TA committed `m1`, then, before the next
/// round, the operator's own `suit-agent install m1.suit` (refused as a rollback: the TA's
/// latest report is now that refusal, of the same manifest and sequence number): the next
/// round cannot tell from the report that its install committed, but still writes the
/// approved REE file the TA lists (it would otherwise never be written: the envelope is now
/// decided), and records the TA's rollback verdict.
#[test]
fn an_install_between_rounds_does_not_lose_the_committed_ree_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (_server, base) = committed_then_killed(d);
    let install = || agent(d, &["install", "m1.suit", "--payload-dir", "payloads"]);
    let t = fails(install(), 1);
    assert!(t.contains("Rollback"), "{t}");

    let t = fails(poll(d, &base, &["--ree-root", "ree"]), 1);
    assert!(t.contains("as far as its latest report tells"), "{t}");
    assert!(t.contains("Rollback"), "{t}");
    assert_eq!(
        std::fs::read_to_string(d.join("ree/etc/app.conf")).unwrap(),
        "release=1\n"
    );
    let state = poll_state(d);
    assert!(state.get("in-flight").is_none(), "{state}");
    assert!(state.get("ree-pending").is_none(), "{state}");
}

/// A round killed inside InstallFinish after the TA committed `m1`, and the TA's report
/// object deleted before the next round (the REE can delete any secure-storage file): the TA
/// holds no report at all (`not-found`), which says nothing about the commit. Not taken as
/// "not committed" but as unreported: the approved REE file is written, nothing is posted
/// on the agent's word, and the envelope goes to the TA, whose rollback refusal is its own.
#[test]
fn a_deleted_report_does_not_lose_the_committed_ree_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (server, base) = committed_then_killed(d);
    std::fs::remove_file(object(d, "suit/report")).unwrap();

    let t = fails(poll(d, &base, &["--ree-root", "ree"]), 1);
    assert!(t.contains("holds no report"), "{t}");
    assert_eq!(
        std::fs::read_to_string(d.join("ree/etc/app.conf")).unwrap(),
        "release=1\n"
    );
    assert!(poll_state(d).get("in-flight").is_none());
    let posts = server.requests_to("/status/reports");
    let (t, j) = verify_collected(d, posts.iter().map(|p| p.body.as_slice()));
    assert_eq!(j["verified"], 1, "{t}");
    assert_eq!(j["reports"][0]["report"]["result"]["success"], false, "{t}");
}

/// The in-flight mark is saved before the TA is asked to finish, or the TA is not asked: a
/// poll state that cannot be written (a directory at its path) ends the round before
/// InstallFinish (exit 2), after the payload was fetched, and nothing is installed. Since
/// review s35 (user) 2 such a state is refused before the first round, so here it becomes
/// unwritable after that check: made while the agent fetches the (slowly served) payload.
/// (Until session 36 it was made while the agent waited for the lock; the check now runs
/// under the lock.)
/// With `--interval` the failed save also stops polling (exit 2): every later round would
/// have downloaded and staged the update again and failed the same way, for ever.
#[test]
fn no_install_is_finished_unless_its_in_flight_mark_is_saved() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(50_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    server.route("/status/reports", Behaviour::Collect);

    let fw = format!("{base}/fw");
    // The payload arrives over ~2 s; once the agent asks for it (after the check before the
    // first round), the state is made unwritable.
    let payload_bytes = std::fs::read(d.join("payloads/v1.bin")).unwrap();
    server.route(
        "/p/v1.bin",
        Behaviour::Trickle {
            body: payload_bytes,
            chunk: 2_500,
            every: std::time::Duration::from_millis(100),
        },
    );
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_suit-agent"))
        .args(["--tee", "sim", "--state", "state", "poll", &fw])
        .args([
            "--poll-state",
            "poll.json",
            "--interval",
            "1",
            "--rounds",
            "3",
        ])
        .current_dir(d)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let asked = std::time::Instant::now();
    while server.requests_to("/p/v1.bin").is_empty() {
        assert!(
            asked.elapsed().as_secs() < 60,
            "the payload was never asked for"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::create_dir(d.join("poll.json")).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let status = out.status;
    assert_eq!(status.code(), Some(2), "{said}");
    assert!(said.contains("poll.json"), "{said}");
    assert!(said.contains("stopping"), "{said}");
    assert_eq!(server.requests_to("/p/v1.bin").len(), 1, "{said}");
    assert_eq!(installed_components(d), 0);

    std::fs::remove_dir(d.join("poll.json")).unwrap();
    let t = ok(poll(d, &base, &[]));
    assert!(t.contains("installed: "), "{t}");
    assert!(poll_state(d).get("in-flight").is_none());
}

/// A poll state written before REE files were remembered (no `ree-pending`) still loads: its
/// ETag is sent, so the round is up to date.
#[test]
fn an_older_poll_state_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = support::http::Server::default();
    let base = server.start_http();
    device_with_ree(d);
    envelope_with_ree_file(d, "m1", 1, &format!("{base}/p/fw.bin"));
    publish(&server, d, "m1", "fw.bin");
    let fw = format!("{base}/fw");
    let url = format!("{base}{}", envelope_path(d));
    write(
        d,
        "poll.json",
        format!(r#"{{"url": "{url}", "etag": "\"e1\"", "envelope-sha256": null}}"#),
    );
    let t = ok(agent(
        d,
        &[
            "poll",
            &fw,
            "--poll-state",
            "poll.json",
            "--ree-root",
            "ree",
        ],
    ));
    assert!(t.contains("not modified"), "{t}");
    assert_eq!(installed_components(d), 0);
}

/// An envelope larger than the TA accepts (`MAX_ENVELOPE_LEN`) is the agent's refusal, as
/// the TA's would be (exit 1, a verdict): announced larger, nothing of it is read; sent
/// larger without an announced length, reading stops past the bound. Nothing reaches the TA
/// and no report is posted; its ETag is remembered, so the next round is up to date. No
/// retry either way; `install` of its URL refuses it the same way.
#[test]
fn an_envelope_larger_than_the_ta_accepts_is_refused_before_it_is_downloaded() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let limit = suit_common::suit::envelope::MAX_ENVELOPE_LEN;
    let env_path = envelope_path(d);
    server.route(&env_path, serve_envelope(vec![0xd8; limit + 1], "\"big\""));
    server.route("/status/reports", Behaviour::Collect);
    let before = support::device::status(d);
    let poll_once = || poll(d, &base, &[]);
    let said = format!("the TA accepts at most {limit} bytes");
    let t = fails(poll_once(), 1);
    assert!(t.contains(&said), "{t}");
    assert!(
        t.contains(&format!("announces an envelope of {} bytes", limit + 1)),
        "{t}"
    );
    assert_eq!(server.requests_to(&env_path).len(), 1, "retried: {t}");
    assert!(server.requests_to("/status/reports").is_empty());
    assert_eq!(support::device::status(d), before);
    let t = ok(poll_once());
    assert!(t.contains("not modified"), "{t}");
    assert_eq!(
        server.requests_to(&env_path)[1].headers["if-none-match"],
        "\"big\""
    );

    // Announced far larger than is sent: refused from the announcement, not read.
    server.route(
        &env_path,
        Behaviour::Oversize {
            announce: Some(limit as u64 + 1),
            send: 0,
        },
    );
    std::fs::remove_file(d.join("poll.json")).unwrap();
    let t = fails(poll_once(), 1);
    assert!(t.contains(&said), "{t}");
    assert_eq!(server.requests_to(&env_path).len(), 3, "retried: {t}");

    // Not announced (chunked), and longer: stopped past the bound.
    server.route(
        &env_path,
        Behaviour::Oversize {
            announce: None,
            send: limit + 100_000,
        },
    );
    let t = fails(poll_once(), 1);
    assert!(
        t.contains(&format!("sent an envelope of more than {limit} bytes")),
        "{t}"
    );
    assert!(server.requests_to("/status/reports").is_empty());
    assert_eq!(support::device::status(d), before);

    let url = format!("{base}{env_path}");
    let t = fails(agent(d, &["install", &url]), 1);
    assert!(t.contains(&said), "{t}");
}

/// The tracker down when the TA decided: the round exits 4 with the decision saved and the
/// report marked pending; a later round posts that report (the TA signs it over a fresh
/// nonce) even though the envelope is not modified, and then clears the mark. The state file
/// is replaced atomically, never written through a link at a temporary name.
#[test]
fn a_report_the_tracker_missed_is_posted_in_a_later_round() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(150_000, 3)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    let victim = d.join("victim");
    write(d, "victim", "untouched");
    std::os::unix::fs::symlink(&victim, d.join("poll.tmp")).unwrap();

    // No route for the reports yet: the POST is answered 404.
    let poll_once = || poll(d, &base, &["--retries", "0"]);
    let t = fails(poll_once(), 4);
    assert!(t.contains("installed: ") && t.contains("kept"), "{t}");
    assert_eq!(installed_components(d), 1);
    let state = std::fs::read_to_string(d.join("poll.json")).unwrap();
    assert!(state.contains("report-pending"), "{state}");

    server.route("/status/reports", Behaviour::Collect);
    let t = ok(poll_once());
    assert!(t.contains("not modified"), "{t}");
    let posts = server.requests_to("/status/reports");
    assert_eq!(posts.iter().filter(|p| p.method == "POST").count(), 2);
    let collected = posts.iter().rev().take(1).map(|p| p.body.as_slice());
    let (t, j) = verify_collected(d, collected);
    assert_eq!(j["verified"], 1, "{t}");
    assert_eq!(j["reports"][0]["report"]["sequence-number"], 1, "{t}");
    let state = std::fs::read_to_string(d.join("poll.json")).unwrap();
    assert!(!state.contains("report-pending"), "{state}");

    // Posted once: the next round posts nothing.
    ok(poll_once());
    assert_eq!(server.requests_to("/status/reports").len(), 2);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
}

/// A receipt file that cannot be written after the TA applied the message (here a full
/// device): the receipt is still shown (text: hex, before the file is written; `--json`:
/// `receipt`, hex) and verifies, and the exit status is 5. One that cannot even be opened is
/// refused before the message is sent (exit 2, nothing applied).
#[test]
fn provision_keeps_the_receipt_when_its_file_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    write(
        d,
        "p1.json",
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    write(
        d,
        "p2.json",
        r#"{"counter": 2, "device-key": "device.pub.pem", "ops": [
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "other"}}}]}"#,
    );
    author(d, &provision_args("p1.json", "p1.cbor", &[]));
    author(d, &provision_args("p2.json", "p2.cbor", &[]));
    write(d, "blocked", "a file, not a directory");
    let verify = |receipt: &str, message: &str| {
        std::fs::write(d.join("r.cose"), hex::decode(receipt).unwrap()).unwrap();
        author(
            d,
            &[
                "verify-receipt",
                "r.cose",
                "--identity-key",
                "device.pub.pem",
                "--message",
                message,
            ],
        )
    };

    let t = fails(
        agent(
            d,
            &["provision", "p1.cbor", "--receipt-out", "blocked/r.cose"],
        ),
        2,
    );
    assert!(
        t.contains("blocked/r.cose") && !t.contains("accepted"),
        "{t}"
    );
    let o = agent(
        d,
        &[
            "provision",
            "p1.cbor",
            "--receipt-out",
            "/dev/full",
            "--json",
        ],
    );
    let t = fails(o.clone(), 5);
    let j = json(&o.stdout);
    assert_eq!(
        (j["ok"].as_bool(), j["exit-code"].as_u64()),
        (Some(false), Some(5)),
        "{t}"
    );
    assert!(j["error"].as_str().unwrap().contains("/dev/full"), "{t}");
    verify(j["receipt"].as_str().unwrap(), "p1.cbor");

    let o = agent(d, &["provision", "p2.cbor", "--receipt-out", "/dev/full"]);
    let t = fails(o.clone(), 5);
    assert!(
        t.contains("the receipt is in this output (hex, above)"),
        "{t}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let receipt = stdout
        .lines()
        .find_map(|l| l.strip_prefix("receipt (signed by the device identity key): "))
        .unwrap_or_else(|| panic!("no receipt shown:\n{t}"));
    verify(receipt, "p2.cbor");
    // Applied: the same message again is a replay.
    fails(agent(d, &["provision", "p2.cbor"]), 1);
}

/// `device-key --out FILE --json` writes FILE (the key asked for) as well as the JSON.
#[test]
fn device_key_writes_its_file_with_json_too() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let o = agent(d, &["device-key", "--out", "k.pem", "--json"]);
    let t = ok(o.clone());
    assert_eq!(json(&o.stdout)["ok"], true, "{t}");
    let pem = ok(agent(d, &["device-key"]));
    let written = std::fs::read_to_string(d.join("k.pem")).unwrap();
    assert!(
        written.starts_with("-----BEGIN PUBLIC KEY-----"),
        "{written}"
    );
    assert!(pem.contains(&written), "{pem}");
}

/// Every file the agent writes (`device-key --out/--statement/--out-dir`, `provision
/// --receipt-out`, `report -o`) replaces a symbolic link at its path instead of writing
/// through it: the link's target stays untouched, the output is a regular file.
#[test]
fn agent_outputs_replace_a_link_instead_of_writing_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let victim = d.join("victim");
    write(d, "victim", "untouched");
    std::fs::create_dir(d.join("keys")).unwrap();
    let outputs = [
        "k.pem",
        "statement.cbor",
        "keys/identity.pub.pem",
        "keys/key-statement.cbor",
        "r.cose",
        "report.cose",
    ];
    for o in outputs {
        std::os::unix::fs::symlink(&victim, d.join(o)).unwrap();
    }
    ok(agent(
        d,
        &[
            "device-key",
            "--out",
            "k.pem",
            "--statement",
            "statement.cbor",
        ],
    ));
    ok(agent(d, &["device-key", "--out-dir", "keys"]));
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    write(
        d,
        "p1.json",
        r#"{"counter": 1, "device-key": "k.pem", "ops": [
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    author(d, &provision_args("p1.json", "p1.cbor", &[]));
    ok(agent(
        d,
        &["provision", "p1.cbor", "--receipt-out", "r.cose"],
    ));
    // A refused attempt, so that there is a (pre-authentication) report to write.
    std::fs::write(d.join("junk.suit"), [0xd8, 0x6b, 0xa0]).unwrap();
    fails(agent(d, &["install", "junk.suit"]), 1);
    ok(agent(d, &["report", "--pre-auth", "-o", "report.cose"]));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    for o in outputs {
        let meta = std::fs::symlink_metadata(d.join(o)).unwrap();
        assert!(meta.is_file(), "{o}: {meta:?}");
        assert!(meta.len() > 0, "{o}");
    }
}

/// An output path that leads to a FIFO (or a character device such as `/dev/stdout`) is
/// written through, not replaced: the reader gets the bytes and the FIFO stays one. A
/// directory is refused, naming it.
#[test]
fn agent_outputs_write_through_a_fifo_and_refuse_a_directory() {
    use std::os::unix::fs::FileTypeExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("junk.suit"), [0xd8, 0x6b, 0xa0]).unwrap();
    fails(agent(d, &["install", "junk.suit"]), 1);
    ok(agent(d, &["report", "--pre-auth", "-o", "report.cose"]));
    let expected = std::fs::read(d.join("report.cose")).unwrap();
    let fifo = d.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Opened for reading before the agent runs (its non-blocking open needs a reader; a
    // reader thread might not be there yet), read once it is done: a report fits the pipe.
    let reader = rustix::fs::open(
        &fifo,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    ok(agent(d, &["report", "--pre-auth", "-o", "fifo"]));
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(meta.file_type().is_fifo(), "{meta:?}");
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(reader), &mut got).unwrap();
    assert_eq!(got, expected);

    std::fs::create_dir(d.join("out")).unwrap();
    let t = fails(agent(d, &["report", "--pre-auth", "-o", "out"]), 2);
    assert!(t.contains("out is a directory"), "{t}");
    assert!(std::fs::symlink_metadata(d.join("out")).unwrap().is_dir());
}

/// A link at an output path is replaced also when it leads to a FIFO or a character device
/// (the FIFO gets nothing, `/dev/null` stays as it is); `/dev/stdout` writes to standard
/// output itself; a socket is refused, naming it.
#[test]
fn agent_outputs_replace_a_link_to_a_fifo_or_device_and_refuse_a_socket() {
    use rustix::fs::{Mode, OFlags};
    use std::os::unix::fs::FileTypeExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("junk.suit"), [0xd8, 0x6b, 0xa0]).unwrap();
    fails(agent(d, &["install", "junk.suit"]), 1);
    ok(agent(d, &["report", "--pre-auth", "-o", "report.cose"]));
    let expected = std::fs::read(d.join("report.cose")).unwrap();
    let fifo = d.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Held open for reading (and writing, so the open does not wait): a write through the
    // link would not block, and would be seen here.
    let held = rustix::fs::open(&fifo, OFlags::RDWR | OFlags::NONBLOCK, Mode::empty()).unwrap();
    std::os::unix::fs::symlink(&fifo, d.join("to-fifo")).unwrap();
    std::os::unix::fs::symlink("/dev/null", d.join("to-null")).unwrap();
    for link in ["to-fifo", "to-null"] {
        ok(agent(d, &["report", "--pre-auth", "-o", link]));
        let meta = std::fs::symlink_metadata(d.join(link)).unwrap();
        assert!(meta.is_file(), "{link}: {meta:?}");
        assert_eq!(std::fs::read(d.join(link)).unwrap(), expected, "{link}");
    }
    let mut buf = [0u8; 64];
    assert_eq!(
        rustix::io::read(&held, &mut buf).unwrap_err(),
        rustix::io::Errno::AGAIN,
        "the FIFO got bytes through the link"
    );
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());

    let o = agent(d, &["report", "--pre-auth", "-o", "/dev/stdout"]);
    assert!(o.stdout.starts_with(&expected), "{}", ok(o.clone()));
    ok(o);

    let _listener = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
    let t = fails(agent(d, &["report", "--pre-auth", "-o", "sock"]), 2);
    assert!(t.contains("sock is a socket"), "{t}");
    assert!(std::fs::symlink_metadata(d.join("sock"))
        .unwrap()
        .file_type()
        .is_socket());
}

/// Which report `poll` posts for a refusal is the TA's to say, not the envelope's: an envelope
/// signed by no anchor that claims the manifest digest of the last authenticated manifest
/// (its very manifest, with another signature) gets the pre-authentication report posted,
/// not the authenticated report of the earlier install.
#[test]
fn a_forged_envelope_gets_the_pre_authentication_report_posted() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(50_000, 1)).unwrap();
    let uri = format!("{base}/p/v1.bin");
    envelope(d, "v1", 1, "v1.bin", &uri, false);
    forged_envelope(d, &uri);
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    let claimed = |f: &str| {
        suit_common::suit::envelope::Envelope::decode(&read(f))
            .unwrap()
            .claimed_digest()
            .0
    };
    assert_eq!(claimed("v1.suit"), claimed("forged.suit"));
    publish(&server, d, "v1", "v1.bin");
    server.route("/status/reports", Behaviour::Collect);
    let poll_once = || poll(d, &base, &[]);
    ok(poll_once());
    server.route(
        &envelope_path(d),
        serve_envelope(read("forged.suit"), "\"forged\""),
    );
    let t = fails(poll_once(), 1);
    let posts = server.requests_to("/status/reports");
    assert_eq!(posts.len(), 2, "{t}");
    let (t, j) = verify_collected(d, posts.iter().map(|p| p.body.as_slice()));
    assert_eq!(j["verified"], 2, "{t}");
    assert_eq!(j["reports"][0]["report"]["authenticated"], true, "{t}");
    assert_eq!(j["reports"][1]["report"]["authenticated"], false, "{t}");
}

/// An envelope the TA refuses before its authentication check (InstallBegin: an empty one)
/// leaves no report of that attempt: poll posts none, rather than the earlier attempt's
/// report the TA still holds.
#[test]
fn a_refusal_before_the_authentication_check_posts_no_report() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(50_000, 1)).unwrap();
    let uri = format!("{base}/p/v1.bin");
    envelope(d, "v1", 1, "v1.bin", &uri, false);
    // A forged envelope first, so the TA holds a pre-authentication report.
    forged_envelope(d, &uri);
    publish(&server, d, "v1", "v1.bin");
    server.route("/status/reports", Behaviour::Collect);
    let poll_once = || poll(d, &base, &[]);
    ok(poll_once());
    server.route(
        &envelope_path(d),
        serve_envelope(std::fs::read(d.join("forged.suit")).unwrap(), "\"forged\""),
    );
    fails(poll_once(), 1);
    assert_eq!(server.requests_to("/status/reports").len(), 2);
    server.route(&envelope_path(d), serve_envelope(Vec::new(), "\"empty\""));
    let t = fails(poll_once(), 1);
    assert_eq!(
        server.requests_to("/status/reports").len(),
        2,
        "no report for an attempt the TA kept none of: {t}"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("poll.json")).unwrap()).unwrap();
    assert!(state.get("report-pending").is_none(), "{state}");
}
