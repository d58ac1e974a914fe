//! The agent as a network client (issue 12), host-native: the real `suit-agent` binary with
//! `--tee sim` against the HTTP/1.1 (and HTTPS) test server of support/http.rs on 127.0.0.1.
//! Nothing else is contacted: every URL in these tests is a loopback one.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::time::{Duration, Instant};

use suit_test_support::cli::words;

use support::device::{
    agent, agent_env, device, device_and_server, envelope, envelope_path, fails,
    installed_components, ok, payload, run, text, verify_collected,
};
use support::http::{serve, serve_envelope, tls_server, Behaviour, Server};
use support::tryeach::{try_each_envelope, try_each_then_copy_envelope};

// ---------------------------------------------------------------- tests

#[test]
fn http_payload_streams_into_the_ta_and_plain_http_is_named() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("fw.bin"), payload(700_000, 1)).unwrap();
    let uri = format!("{base}/fw/fw.bin");
    envelope(d, "m", 1, "fw.bin", &uri, false);
    server.route("/fw/fw.bin", serve(payload(700_000, 1), "\"v1\""));
    server.route(
        "/m.suit",
        serve_envelope(std::fs::read(d.join("m.suit")).unwrap(), "\"m1\""),
    );

    // Without --net the agent does not touch the network.
    let t = fails(agent(d, &["install", "m.suit"]), 2);
    assert!(t.contains("give --net"), "{t}");
    assert!(server.requests_to("/fw/fw.bin").is_empty());

    // The envelope by URL implies fetching the payload the TA names.
    let t = ok(agent(d, &["install", &format!("{base}/m.suit")]));
    assert!(t.contains(&format!("fetched {uri}")), "{t}");
    assert!(t.contains("plain HTTP"), "plain HTTP must be said: {t}");
    assert_eq!(installed_components(d), 1);
    // Exactly the envelope and the one URI the TA named were requested.
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/m.suit", "/fw/fw.bin"]);
}

#[test]
fn a_dropped_download_resumes_with_range_and_if_range() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let body = payload(900_000, 2);
    std::fs::write(d.join("fw.bin"), &body).unwrap();
    envelope(d, "m", 1, "fw.bin", &format!("{base}/fw.bin"), false);
    server.route(
        "/fw.bin",
        Behaviour::DropFirst {
            body,
            etag: "\"fw-1\"".into(),
            cut: 400_000,
            drops: 1,
        },
    );
    let t = ok(agent(
        d,
        &[
            "install",
            "m.suit",
            "--net",
            "--allow-url-prefix",
            &base,
            "--backoff-ms",
            "50",
        ],
    ));
    assert!(t.contains("resuming at byte"), "{t}");
    let reqs = server.requests_to("/fw.bin");
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(!reqs[0].headers.contains_key("range"));
    let range = &reqs[1].headers["range"];
    let from: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .unwrap()
        .parse()
        .unwrap();
    assert!(from > 0 && from <= 400_000, "{range}");
    assert_eq!(reqs[1].headers["if-range"], "\"fw-1\"");
    assert_eq!(installed_components(d), 1);
}

#[test]
fn oversize_downloads_are_stopped_and_leave_the_ta_unchanged() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("fw.bin"), payload(4096, 3)).unwrap();
    envelope(d, "m", 1, "fw.bin", &format!("{base}/fw.bin"), false);

    // Announced too large: refused before a byte reaches the TA.
    server.route(
        "/fw.bin",
        Behaviour::Oversize {
            announce: Some(10_000_000),
            send: 0,
        },
    );
    let t = fails(
        agent(
            d,
            &words(&format!(
                "install m.suit --net --allow-url-prefix {base} --max-payload-bytes 1000000"
            )),
        ),
        4,
    );
    assert!(
        // The manifest's authenticated image size (4096) binds before the cap (see
        // transport_size.rs for the cap alone).
        t.contains("announces 10000000 bytes, more than the 4096 allowed"),
        "{t}"
    );
    assert_eq!(installed_components(d), 0);

    // Not announced (chunked) and endless: stopped at the cap.
    server.route(
        "/fw.bin",
        Behaviour::Oversize {
            announce: None,
            send: 300_000,
        },
    );
    let t = fails(
        agent(
            d,
            &words(&format!(
                "install m.suit --net --allow-url-prefix {base} --max-payload-bytes 100000"
            )),
        ),
        4,
    );
    assert!(t.contains("sent more than 4096 bytes"), "{t}");
    assert_eq!(installed_components(d), 0);

    // The TA is not stuck: the right bytes install afterwards.
    server.route("/fw.bin", serve(payload(4096, 3), "\"ok\""));
    ok(agent(
        d,
        &["install", "m.suit", "--net", "--allow-url-prefix", &base],
    ));
    assert_eq!(installed_components(d), 1);
}

#[test]
fn a_stalled_server_times_out_with_a_clear_error() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("fw.bin"), payload(50_000, 4)).unwrap();
    envelope(d, "m", 1, "fw.bin", &format!("{base}/fw.bin"), false);
    server.route(
        "/fw.bin",
        Behaviour::Stall {
            total: 50_000,
            first: 1000,
        },
    );
    let start = Instant::now();
    let t = fails(
        agent(
            d,
            &words(&format!("install m.suit --net --allow-url-prefix {base} --stall-timeout 1 --retries 1 --backoff-ms 100")),
        ),
        4,
    );
    assert!(t.contains("stalled"), "{t}");
    assert!(t.contains("gave up after 2 attempts"), "{t}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(installed_components(d), 0);

    // The overall time limit ends a transfer even when retries remain.
    let start = Instant::now();
    let t = fails(
        agent(
            d,
            &words(&format!("install m.suit --net --allow-url-prefix {base} --stall-timeout 1 --retries 100 --backoff-ms 500 --transfer-timeout 4")),
        ),
        4,
    );
    assert!(t.contains("time limit of 4 s reached"), "{t}");
    assert!(start.elapsed() < Duration::from_secs(15));
}

/// The largest `--transfer-timeout` / `--stall-timeout` a u64 takes is a long time, not a
/// panic (the deadline added to the clock overflowed): the transfer completes.
#[test]
fn huge_timeouts_do_not_panic() {
    let max = u64::MAX.to_string();
    for opt in ["--transfer-timeout", "--stall-timeout"] {
        let (tmp, server, base) = device_and_server();
        let d = tmp.path();
        std::fs::write(d.join("fw.bin"), payload(50_000, 1)).unwrap();
        let uri = format!("{base}/fw/fw.bin");
        envelope(d, "m", 1, "fw.bin", &uri, false);
        server.route("/fw/fw.bin", serve(payload(50_000, 1), "\"v1\""));
        server.route(
            "/m.suit",
            serve_envelope(std::fs::read(d.join("m.suit")).unwrap(), "\"m1\""),
        );
        let t = ok(agent(d, &["install", &format!("{base}/m.suit"), opt, &max]));
        assert!(t.contains(&format!("fetched {uri}")), "{t}");
        assert_eq!(installed_components(d), 1, "{opt}");
    }
}

/// `--transfer-timeout` ends a transfer that keeps receiving bytes, each within the stall
/// timeout, but too slowly to finish in time: a payload download and the envelope GET alike.
#[test]
fn a_slow_server_is_cut_off_at_the_transfer_timeout() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let fw = payload(40, 8);
    std::fs::write(d.join("fw.bin"), &fw).unwrap();
    envelope(d, "m", 1, "fw.bin", &format!("{base}/fw.bin"), false);
    let every = Duration::from_millis(150);
    // 40 pieces 150 ms apart: 6 s in all, never 3 s without a byte.
    server.route(
        "/fw.bin",
        Behaviour::Trickle {
            body: fw,
            chunk: 1,
            every,
        },
    );
    let opts =
        format!("--allow-url-prefix {base} --stall-timeout 3 --transfer-timeout 1 --retries 0");
    let start = Instant::now();
    let t = fails(agent(d, &words(&format!("install m.suit --net {opts}"))), 4);
    assert!(t.contains("not finished in time"), "{t}");
    assert!(t.contains("time limit of 1 s reached"), "{t}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(installed_components(d), 0);

    let env = std::fs::read(d.join("m.suit")).unwrap();
    let env_path = envelope_path(d);
    server.route(
        &env_path,
        Behaviour::Trickle {
            chunk: env.len() / 40 + 1,
            body: env,
            every,
        },
    );
    let start = Instant::now();
    let t = fails(
        agent(
            d,
            &words(&format!("poll {base}/fw --poll-state p.json {opts}")),
        ),
        4,
    );
    assert!(t.contains("not finished in time"), "{t}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

/// A manifest's URI is shown with its control characters escaped: a newline or an ESC in it
/// neither splits a log line nor reaches the terminal, in the refusal of a URI nothing
/// offers and in a network error naming it.
#[test]
fn control_characters_in_a_uri_are_escaped_in_output() {
    let (tmp, _server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("fw.bin"), payload(1000, 3)).unwrap();
    // JSON escapes: the URI holds a real newline and ESC.
    envelope(
        d,
        "m",
        1,
        "fw.bin",
        &format!("{base}/x\\n\\u001b[31mred.bin"),
        false,
    );
    for args in [
        &["install", "m.suit"][..],
        &["install", "m.suit", "--net", "--retries", "0"],
    ] {
        let o = agent(d, args);
        let t = text(&o);
        assert!(!o.status.success(), "{t}");
        assert!(t.contains("x\\n\\u{1b}[31mred.bin"), "{t}");
        assert!(!t.contains('\x1b') && !t.contains("x\n"), "{t}");
    }
    assert_eq!(installed_components(d), 0);
}

#[test]
fn wrong_bytes_are_refused_by_the_ta_and_change_nothing() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("fw.bin"), payload(300_000, 5)).unwrap();
    envelope(d, "m", 1, "fw.bin", &format!("{base}/fw.bin"), false);
    // Same length, other content: only the TA can tell.
    server.route("/fw.bin", serve(payload(300_000, 6), "\"evil\""));
    let t = fails(
        agent(
            d,
            &["install", "m.suit", "--net", "--allow-url-prefix", &base],
        ),
        1,
    );
    assert!(t.contains("refused by the TA"), "{t}");
    assert_eq!(installed_components(d), 0);
}

#[test]
fn https_trusts_the_ca_file_and_refuses_other_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let (ca_pem, tls) = tls_server();
    let base = server.start_https(tls);
    std::fs::write(d.join("ca.pem"), &ca_pem).unwrap();
    let (other_ca, _) = tls_server();
    std::fs::write(d.join("other-ca.pem"), &other_ca).unwrap();
    device(d);
    std::fs::write(d.join("fw.bin"), payload(600_000, 7)).unwrap();
    envelope(d, "m", 1, "fw.bin", &format!("{base}/fw.bin"), false);
    server.route("/fw.bin", serve(payload(600_000, 7), "\"tls\""));

    // Roots from SSL_CERT_FILE that did not issue the server's certificate: a TLS error,
    // not retried, nothing installed.
    let t = fails(
        agent_env(
            d,
            &["install", "m.suit", "--net", "--allow-url-prefix", &base],
            &[("SSL_CERT_FILE", "other-ca.pem")],
        ),
        4,
    );
    assert!(t.contains("TLS"), "{t}");
    assert!(!t.contains("retrying"), "{t}");
    assert_eq!(installed_components(d), 0);

    let t = ok(agent(
        d,
        &[
            "install",
            "m.suit",
            "--net",
            "--allow-url-prefix",
            &base,
            "--ca-file",
            "ca.pem",
        ],
    ));
    assert!(!t.contains("plain HTTP"), "{t}");
    assert_eq!(installed_components(d), 1);
}

#[test]
fn poll_installs_posts_reports_and_uses_etags() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let env_path = envelope_path(d);

    std::fs::write(d.join("v1.bin"), payload(500_000, 8)).unwrap();
    envelope(
        d,
        "v1",
        1,
        "v1.bin",
        &format!("{base}/payloads/v1.bin"),
        true,
    );
    server.route(
        "/payloads/v1.bin",
        serve(std::fs::read(d.join("payloads/v1.bin")).unwrap(), "\"p1\""),
    );
    server.route(
        &env_path,
        serve_envelope(std::fs::read(d.join("v1.suit")).unwrap(), "\"e1\""),
    );
    server.route(
        "/status/nonce",
        serve(b"00112233445566778899aabbccddeeff\n".to_vec(), "\"n\""),
    );
    server.route("/status/reports", Behaviour::Collect);
    let nonce = format!("{base}/status/nonce");
    let poll = |extra: &[&str]| {
        let args: Vec<&str> = ["--nonce-url", nonce.as_str()]
            .iter()
            .chain(extra)
            .copied()
            .collect();
        support::device::poll(d, &base, &args)
    };

    let t = ok(poll(&[]));
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(installed_components(d), 1);
    // Each plain-HTTP warning says what its URL carries: nothing of envelopes and digests
    // for the nonce and the report.
    let warning = |url: &str| {
        let shown = format!("{url}: plain HTTP");
        t.lines()
            .find(|l| l.contains(&shown))
            .unwrap_or_else(|| panic!("no warning for {url}: {t}"))
            .to_string()
    };
    assert!(
        warning(&format!("{base}{env_path}")).contains("envelope"),
        "{t}"
    );
    assert!(
        warning(&format!("{base}/payloads/v1.bin")).contains("payload"),
        "{t}"
    );
    for (url, carries) in [
        (nonce.clone(), "nonce"),
        (format!("{base}/status/reports"), "report"),
    ] {
        let w = warning(&url);
        assert!(w.contains(carries), "{w}");
        assert!(!w.contains("envelope") && !w.contains("digest"), "{w}");
    }
    let env_reqs = server.requests_to(&env_path);
    assert_eq!(
        env_reqs[0].headers["accept"],
        "application/suit-envelope+cose"
    );
    assert!(!env_reqs[0].headers.contains_key("if-none-match"));
    let posts = server.requests_to("/status/reports");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].method, "POST");
    assert_eq!(
        posts[0].headers["content-type"],
        "application/suit-report+cose"
    );

    // Nothing new: a conditional GET answered 304, no install, no report.
    let t = ok(poll(&[]));
    assert!(t.contains("not modified"), "{t}");
    let env_reqs = server.requests_to(&env_path);
    assert_eq!(env_reqs[1].headers["if-none-match"], "\"e1\"");
    assert_eq!(server.requests_to("/status/reports").len(), 1);

    // An older envelope under a new ETag: the TA refuses it (rollback of the component);
    // its report is posted.
    std::fs::write(d.join("v0.bin"), payload(1000, 9)).unwrap();
    envelope(
        d,
        "v0",
        0,
        "v0.bin",
        &format!("{base}/payloads/v0.bin"),
        false,
    );
    server.route(
        "/payloads/v0.bin",
        serve(std::fs::read(d.join("payloads/v0.bin")).unwrap(), "\"p0\""),
    );
    server.route(
        &env_path,
        serve_envelope(std::fs::read(d.join("v0.suit")).unwrap(), "\"e0\""),
    );
    let t = fails(poll(&[]), 1);
    assert!(
        t.contains("refused by the TA") && t.contains("Rollback"),
        "{t}"
    );
    assert_eq!(server.requests_to("/status/reports").len(), 2);
    // Decided: the same envelope is not handed to the TA again.
    let t = ok(poll(&[]));
    assert!(t.contains("not modified"), "{t}");
    assert_eq!(server.requests_to("/status/reports").len(), 2);

    // A newer one installs.
    std::fs::write(d.join("v2.bin"), payload(200_000, 10)).unwrap();
    envelope(
        d,
        "v2",
        2,
        "v2.bin",
        &format!("{base}/payloads/v2.bin"),
        false,
    );
    server.route(
        "/payloads/v2.bin",
        serve(std::fs::read(d.join("payloads/v2.bin")).unwrap(), "\"p2\""),
    );
    server.route(
        &env_path,
        serve_envelope(std::fs::read(d.join("v2.suit")).unwrap(), "\"e2\""),
    );
    ok(poll(&[]));
    let posts = server.requests_to("/status/reports");
    assert_eq!(posts.len(), 3);

    // The status tracker's collection verifies with the device's report key, and carries
    // the tracker's nonce.
    let (t, j) = verify_collected(d, posts.iter().map(|p| p.body.as_slice()));
    assert_eq!(j["verified"], 3, "{t}");
    assert!(t.contains("00112233445566778899aabbccddeeff"), "{t}");

    // A tampered report in the collection is named, and the command fails.
    let mut bad = posts[2].body.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    std::fs::write(d.join("collected/report-9.cose"), bad).unwrap();
    let o = run(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &words("verify-report collected --device-key report.pub.pem"),
        &[],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("report-9.cose") && t.contains("3 of 4 reports verified"),
        "{t}"
    );
}

#[test]
fn a_second_agent_waits_for_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(agent(d, &["status"]));
    let held = suit_host::transport::lock::AgentLock::acquire(
        &d.join("agent.lock"),
        Duration::from_secs(1),
    )
    .unwrap();
    // Transient, as a TEE that cannot be reached (exit 3).
    let t = fails(
        agent(d, &["--lock", "agent.lock", "--lock-wait", "1", "status"]),
        3,
    );
    assert!(t.contains("another suit-agent holds"), "{t}");
    drop(held);
    ok(agent(
        d,
        &["--lock", "agent.lock", "--lock-wait", "1", "status"],
    ));
}

// ------------------------------------ payload URIs the server does not have (404, 410)

/// The try-each envelope `name.suit` (support/tryeach.rs) with its options' URIs on the test
/// server, `/p/delta.bin` and `/p/full.bin`, the latter served: (full's content, delta's URI,
/// full's URI). With `guarded`, option 1 (the delta) fails its condition on a fresh device
/// and never fetches its URI.
fn try_each_on_server(
    d: &std::path::Path,
    server: &Server,
    base: &str,
    name: &str,
    seq: i64,
    guarded: bool,
) -> (Vec<u8>, String, String) {
    let full = payload(5000, 11);
    let (delta_uri, full_uri) = (format!("{base}/p/delta.bin"), format!("{base}/p/full.bin"));
    try_each_envelope(d, name, seq, &full, guarded, (&delta_uri, &full_uri));
    server.route("/p/full.bin", serve(full.clone(), "\"full\""));
    (full, delta_uri, full_uri)
}

fn poll_state(d: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(d.join("poll.json")).unwrap()).unwrap()
}

/// The TA lists every URI a manifest may fetch; a try-each option whose condition fails never
/// fetches its own (manifest-37). A 404 for that option's URI is the server saying it does
/// not have it: not sent, and the update installs from the other option (before, the 404
/// failed the whole install, exit 4, and blocked the update for good).
#[test]
fn a_skipped_option_the_server_does_not_have_installs() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let (_, delta_uri, full_uri) = try_each_on_server(d, &server, &base, "v1", 1, true);
    let t = ok(agent(
        d,
        &["install", "v1.suit", "--net", "--allow-url-prefix", &base],
    ));
    assert!(t.contains("installed v1.suit (sequence number 1"), "{t}");
    assert!(t.contains(&format!("fetched {full_uri}")), "{t}");
    assert!(
        t.contains(&format!(
            "not on the server, not needed: {delta_uri} (HTTP 404; the manifest did not fetch it)"
        )),
        "{t}"
    );
    // The log line names the URI and the server's answer when it is left out.
    assert!(
        t.contains(&format!(
            "payload {delta_uri} (the server answered HTTP 404 not found): not sent"
        )),
        "{t}"
    );
    assert_eq!(installed_components(d), 1);
    // A definitive answer is not retried.
    assert_eq!(server.requests_to("/p/delta.bin").len(), 1);
}

/// When the manifest does fetch the URI the server has no resource for, the TA refuses the
/// update and the agent names that URI and the server's answer: a network failure (exit 4:
/// it may not be published yet), nothing installed; from a file with `--net` and from an
/// envelope URL alike.
#[test]
fn a_needed_payload_the_server_does_not_have_is_named_with_exit_4() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let (_, delta_uri, _) = try_each_on_server(d, &server, &base, "v1", 1, false);
    server.route(
        "/v1.suit",
        serve_envelope(std::fs::read(d.join("v1.suit")).unwrap(), "\"v1\""),
    );
    let named = format!(
        "payload {delta_uri} (the server answered HTTP 404 not found): the manifest fetches \
         it, so the TA refused the update; nothing was installed"
    );
    let o = agent(
        d,
        &["install", "v1.suit", "--net", "--allow-url-prefix", &base],
    );
    let t = fails(o, 4);
    assert!(t.contains(&named), "{t}");

    let o = agent(d, &["install", &format!("{base}/v1.suit"), "--json"]);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let t = fails(o, 4);
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["exit-code"], 4, "{t}");
    assert!(j["error"].as_str().unwrap().contains(&named), "{t}");
    assert_eq!(installed_components(d), 0);
}

/// The TA names the payload it refuses an update for as not delivered: a refusal for anything
/// else is its verdict, whatever the agent left out. Here a try-each skips the option whose
/// delta URI is a 404, then a copy from a component the device lacks fails (a platform
/// `NotFound`): the same verdict as when the delta is served (exit 1; `poll` records it and
/// posts the TA's report, no payload back-off), never the 404'd delta named as the payload
/// the manifest fetches (before, exit 4 and the back-off for good). Review s28 (rr3).
#[test]
fn a_refusal_for_anything_else_is_the_tas_verdict_whatever_was_left_out() {
    use sha2::Digest as _;
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    server.route("/status/reports", Behaviour::Collect);
    let full = payload(5000, 11);
    let (delta_uri, full_uri) = (format!("{base}/p/delta.bin"), format!("{base}/p/full.bin"));
    server.route("/p/full.bin", serve(full.clone(), "\"full\""));
    let mut verdicts = Vec::new();
    for (seq, served) in [(1, true), (2, false)] {
        let name = format!("v{seq}");
        try_each_then_copy_envelope(d, &name, seq, &full, true, (&delta_uri, &full_uri));
        server.route(
            "/p/delta.bin",
            if served {
                serve(payload(14, 1), "\"delta\"")
            } else {
                Behaviour::Status("404 Not Found".into())
            },
        );
        let install = format!("install {name}.suit --net --allow-url-prefix {base}");
        let t = fails(agent(d, &words(&install)), 1);
        assert!(!t.contains("so the TA refused the update"), "{t}");
        let verdict = t
            .lines()
            .find(|l| l.contains("refused by the TA"))
            .unwrap_or_else(|| panic!("no refusal: {t}"))
            .to_string();
        let envelope = std::fs::read(d.join(format!("{name}.suit"))).unwrap();
        server.route(
            &envelope_path(d),
            serve_envelope(envelope.clone(), &format!("\"{name}\"")),
        );
        let t = fails(support::device::poll(d, &base, &[]), 1);
        assert!(t.contains(&verdict), "{verdict}\n{t}");
        let state = poll_state(d);
        assert_eq!(
            state["envelope-sha256"],
            hex::encode(sha2::Sha256::digest(&envelope)),
            "{t}"
        );
        assert!(state.get("payload-retries").is_none(), "{state}");
        verdicts.push(verdict);
    }
    assert_eq!(verdicts[0], verdicts[1]);
    assert_eq!(server.requests_to("/status/reports").len(), 2);
    assert_eq!(installed_components(d), 0);
}

/// `poll`: the TA refusing an envelope for a payload the server does not have yet is no
/// verdict on it (never saved as decided): it goes under the payload back-off (rounds 1, 2,
/// then 4), and once the server publishes the payload a later round installs. Each refused
/// round names the URI and exits 4; its report is posted.
#[test]
fn poll_retries_a_payload_the_server_has_not_published_yet() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(60_000, 5)).unwrap();
    let uri = format!("{base}/p/v1.bin");
    envelope(d, "v1", 1, "v1.bin", &uri, false);
    server.route(
        &envelope_path(d),
        serve_envelope(std::fs::read(d.join("v1.suit")).unwrap(), "\"e1\""),
    );
    server.route("/status/reports", Behaviour::Collect);
    // 404 for the first two requests, then published.
    server.publish_after(
        "/p/v1.bin",
        2,
        serve(std::fs::read(d.join("payloads/v1.bin")).unwrap(), "\"p1\""),
    );
    let asked = || server.requests_to("/p/v1.bin").len();
    for attempt in 1..=2u64 {
        let t = fails(support::device::poll(d, &base, &[]), 4);
        assert!(
            t.contains(&format!(
                "payload {uri} (the server answered HTTP 404 not found): the manifest fetches it"
            )),
            "{t}"
        );
        assert!(t.contains("hands the envelope over again"), "{t}");
        let state = poll_state(d);
        assert_eq!(state["envelope-sha256"], serde_json::Value::Null, "{state}");
        assert_eq!(state["etag"], serde_json::Value::Null, "{state}");
        assert_eq!(state["payload-retries"][0]["attempts"], attempt, "{state}");
        assert_eq!(asked() as u64, attempt);
        assert_eq!(server.requests_to("/status/reports").len() as u64, attempt);
    }
    // Round 3 waits (the back-off), round 4 hands it over again: published now, installed.
    let t = ok(support::device::poll(d, &base, &[]));
    assert!(t.contains("handing it over again in 1 round"), "{t}");
    assert_eq!(asked(), 2);
    assert_eq!(installed_components(d), 0);
    let t = ok(support::device::poll(d, &base, &[]));
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(installed_components(d), 1);
    let state = poll_state(d);
    assert!(state.get("payload-retries").is_none(), "{state}");
    assert!(state["envelope-sha256"].is_string(), "{state}");
}

/// Only 404 and 410 say the server does not have a payload. A 5xx (retried), another 4xx, a
/// connection failure still fail the install and the poll round as before (exit 4, nothing
/// installed, nothing recorded), even for an option the manifest would skip; a 410 for it
/// installs as a 404 does.
#[test]
fn only_404_and_410_leave_a_payload_to_the_ta() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let (_, delta_uri, _) = try_each_on_server(d, &server, &base, "v1", 1, true);
    let install = || {
        agent(
            d,
            &words(&format!(
                "install v1.suit --net --allow-url-prefix {base} --retries 1 --backoff-ms 10"
            )),
        )
    };
    server.route(
        "/p/delta.bin",
        Behaviour::Status("500 Internal Server Error".into()),
    );
    let t = fails(install(), 4);
    assert!(
        t.contains(&format!("network: {delta_uri}: server answered HTTP 500")),
        "{t}"
    );
    assert_eq!(server.requests_to("/p/delta.bin").len(), 2, "retried once");

    // Polled: the round fails, nothing is recorded (no verdict, no back-off).
    server.route(
        &envelope_path(d),
        serve_envelope(std::fs::read(d.join("v1.suit")).unwrap(), "\"e1\""),
    );
    let t = fails(
        support::device::poll(d, &base, &words("--retries 0 --backoff-ms 10")),
        4,
    );
    assert!(t.contains("server answered HTTP 500"), "{t}");
    if d.join("poll.json").exists() {
        let state = poll_state(d);
        assert!(state.get("payload-retries").is_none(), "{state}");
        assert_eq!(state["envelope-sha256"], serde_json::Value::Null, "{state}");
    }

    server.route("/p/delta.bin", Behaviour::Status("403 Forbidden".into()));
    let t = fails(install(), 4);
    assert!(t.contains("server answered HTTP 403"), "{t}");
    // A connection failure: a listener (kept bound, so no parallel test can take its port)
    // that closes each connection before any answer.
    let dropping = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", dropping.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let accepted = accepted.clone();
        std::thread::spawn(move || {
            for c in dropping.incoming() {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(c);
            }
        });
    }
    let (_, dead_delta, _) = try_each_on_server(d, &server, &dead, "v2", 1, true);
    let t = fails(
        agent(
            d,
            &words(&format!(
                "install v2.suit --net --allow-url-prefix {dead} --retries 0"
            )),
        ),
        4,
    );
    assert!(
        t.contains(&format!("network: {dead_delta}: connection")),
        "{t}"
    );
    assert!(!t.contains("server answered"), "{t}");
    assert!(
        accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "{t}"
    );
    assert_eq!(installed_components(d), 0);

    server.route("/p/delta.bin", Behaviour::Status("410 Gone".into()));
    let t = ok(install());
    assert!(
        t.contains(&format!(
            "not on the server, not needed: {delta_uri} (HTTP 410"
        )),
        "{t}"
    );
    assert_eq!(installed_components(d), 1);
}
