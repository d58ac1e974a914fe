//! Which payload URIs the agent fetches (host/README.md, "Allowed URLs"): a URI an
//! authenticated manifest names is fetched only under the origin of the URL the operator gave
//! (the poll base URL, an envelope URL) or an `--allow-url-prefix`; one it will not fetch (not
//! http(s), unparseable, not allowed) is not contacted and is left to the TA: a try-each
//! option that does not fetch it installs; if the manifest does fetch it, the TA's refusal is
//! a verdict on the envelope named as that URI (exit 1): `poll` records it and posts the TA's
//! report of the attempt; one not allowed is recorded for the allowed prefixes of that round
//! only. The real `suit-agent --tee sim` against the test server of support/http.rs.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::Path;

use support::device::{
    agent, device_and_server, envelope, envelope_path, fails, installed_components, ok, payload,
    poll,
};
use support::http::{serve, serve_envelope, Behaviour, Server};
use support::tryeach::try_each_envelope;

/// The poll state's record of the envelope last decided about.
fn decided(d: &Path) -> serde_json::Value {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("poll.json")).unwrap()).unwrap();
    state["envelope-sha256"].clone()
}

fn poll_state(d: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(d.join("poll.json")).unwrap()).unwrap()
}

fn sha256_of(d: &Path, file: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(d.join(file)).unwrap()))
}

/// Envelopes whose manifest fetches a URI poll cannot fetch (another scheme, a port out of
/// range) or may not (another origin: a second server, which sees no request): each round
/// exits 1 saying why, posts the TA's report of the attempt (it finished, refusing the
/// payload it was not given), and records the envelope, so the next round leaves it alone
/// (up to date), also under other allowed prefixes for the first two. The one not allowed is
/// recorded for the prefixes of its round only (their fingerprint): a later round given an
/// `--allow-url-prefix` covering its URI hands it over again, and it installs (the poll
/// state untouched by the test).
#[test]
fn a_uri_poll_will_not_fetch_is_a_verdict_on_the_envelope() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let other = Server::default();
    let other_base = other.start_http();
    std::fs::write(d.join("v.bin"), payload(40_000, 4)).unwrap();
    let env_path = envelope_path(d);
    server.route("/status/reports", Behaviour::Collect);
    let cases = [
        (
            "coap://fw.example.com/app3.bin".to_string(),
            "not an http(s) URI",
        ),
        (
            "http://127.0.0.1:99999/p/v.bin".to_string(),
            "port out of range",
        ),
        (
            format!("{other_base}/p/v.bin"),
            "not under an allowed prefix",
        ),
    ];
    for (i, (uri, why)) in cases.iter().enumerate() {
        let name = format!("v{i}");
        envelope(d, &name, i as u64 + 1, "v.bin", uri, false);
        let bytes = std::fs::read(d.join(format!("{name}.suit"))).unwrap();
        server.route(&env_path, serve_envelope(bytes, &format!("\"{name}\"")));
        other.route("/p/v.bin", serve(payload(40_000, 4), "\"v\""));
        let t = fails(poll(d, &base, &[]), 1);
        assert!(t.contains(why) && t.contains("not fetched"), "{t}");
        assert!(
            t.contains(&format!("payload {uri}: ")) && t.contains("the TA refused the update"),
            "{t}"
        );
        assert_eq!(decided(d), sha256_of(d, &format!("{name}.suit")), "{t}");
        // Only the one not allowed is recorded with the prefixes' fingerprint.
        let fingerprint = poll_state(d).get("refused-under-allow-list").cloned();
        assert_eq!(fingerprint.is_some(), i == 2, "{t}");
        assert_eq!(server.requests_to("/status/reports").len(), i + 1, "{t}");
        let t = ok(poll(d, &base, &[]));
        assert!(t.contains("not modified"), "{t}");
        if i < 2 {
            // Not a URI any prefix allows: still decided under other prefixes.
            let wider = format!("{other_base}/p");
            let t = ok(poll(d, &base, &["--allow-url-prefix", &wider]));
            assert!(t.contains("not modified"), "{t}");
        }
    }
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    assert_eq!(installed_components(d), 0);

    // Allowed by prefix (whole path segments) in a later round: handed over again, fetched,
    // installed, reported.
    let prefix = format!("{other_base}/p");
    let t = ok(poll(d, &base, &["--allow-url-prefix", &prefix]));
    assert!(t.contains("allowed URL prefixes changed"), "{t}");
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(decided(d), sha256_of(d, "v2.suit"), "{t}");
    assert!(
        poll_state(d).get("refused-under-allow-list").is_none(),
        "{t}"
    );
    assert_eq!(other.requests_to("/p/v.bin").len(), 1);
    assert_eq!(server.requests_to("/status/reports").len(), cases.len() + 1);
}

/// `install` holds manifest URIs to the same rule: an envelope URL allows its own origin
/// only, an envelope file with `--net` nothing but `--allow-url-prefix`; refused is exit 1
/// with nothing fetched or installed. A bad prefix is a usage error (exit 2).
#[test]
fn install_fetches_only_allowed_uris() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let other = Server::default();
    let other_base = other.start_http();
    std::fs::write(d.join("m.bin"), payload(30_000, 5)).unwrap();
    envelope(d, "m", 1, "m.bin", &format!("{other_base}/p/m.bin"), false);
    other.route(
        "/p/m.bin",
        serve(std::fs::read(d.join("payloads/m.bin")).unwrap(), "\"m\""),
    );
    server.route(
        "/m.suit",
        serve(std::fs::read(d.join("m.suit")).unwrap(), "\"e\""),
    );
    let url = format!("{base}/m.suit");
    let t = fails(agent(d, &["install", &url]), 1);
    assert!(t.contains("not under an allowed prefix"), "{t}");
    assert!(t.contains(&base.replace("http://", "")), "{t}");
    let t = fails(agent(d, &["install", "m.suit", "--net"]), 1);
    assert!(t.contains("--allow-url-prefix"), "{t}");
    let t = fails(
        agent(
            d,
            &["install", "m.suit", "--net", "--allow-url-prefix", &url],
        ),
        1,
    );
    assert!(t.contains("not under an allowed prefix"), "{t}");
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    assert_eq!(installed_components(d), 0);

    let t = fails(
        agent(
            d,
            &[
                "install",
                "m.suit",
                "--net",
                "--allow-url-prefix",
                "ftp://x/",
            ],
        ),
        2,
    );
    assert!(t.contains("--allow-url-prefix ftp://x/"), "{t}");

    ok(agent(
        d,
        &["install", &url, "--allow-url-prefix", &other_base],
    ));
    assert_eq!(installed_components(d), 1);
}

// ------------------------------- payload URIs not fetched, left to the TA (try-each options)

/// The try-each envelope `name.suit` (support/tryeach.rs): option 1 (a delta; skipped on a
/// fresh device when `guarded`) fetches `delta_uri`, option 2 fetches `full_uri`, whose
/// content `server` serves at `/p/full.bin`.
fn try_each(d: &Path, server: &Server, name: &str, seq: i64, guarded: bool, uris: (&str, &str)) {
    let full = payload(5000, 11);
    try_each_envelope(d, name, seq, &full, guarded, uris);
    server.route("/p/full.bin", serve(full, "\"full\""));
}

/// Hands `name.suit` to the next poll round.
fn publish(d: &Path, server: &Server, name: &str) {
    let bytes = std::fs::read(d.join(format!("{name}.suit"))).unwrap();
    server.route(
        &envelope_path(d),
        serve_envelope(bytes, &format!("\"{name}\"")),
    );
}

/// The TA lists every URI a manifest may fetch; a try-each option whose condition fails never
/// fetches its own (manifest-37). One outside the allowed prefixes is not contacted (the
/// other server sees no request) and is left to the TA: the update installs from the other
/// option, by `install` and by `poll` alike, and the output names the URI and why it was not
/// fetched (before, the URI failed the install, exit 1, and `poll` recorded that as the
/// verdict on an authentic update).
#[test]
fn a_skipped_option_outside_the_allow_list_installs() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let other = Server::default();
    let other_base = other.start_http();
    other.route("/p/delta.bin", serve(payload(100, 1), "\"d\""));
    let delta = format!("{other_base}/p/delta.bin");
    let full = format!("{base}/p/full.bin");
    try_each(d, &server, "v1", 1, true, (&delta, &full));
    let t = ok(agent(
        d,
        &["install", "v1.suit", "--net", "--allow-url-prefix", &base],
    ));
    assert!(t.contains("installed v1.suit (sequence number 1"), "{t}");
    assert!(t.contains(&format!("fetched {full}")), "{t}");
    assert!(
        t.contains(&format!(
            "not fetched, not needed: {delta} (not under an allowed prefix"
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!("payload {delta} (not under an allowed prefix"))
            && t.contains("not fetched, nothing contacted"),
        "{t}"
    );
    assert_eq!(installed_components(d), 1);

    // The same under poll (the guard still fails: the installed image is not the older one).
    try_each(d, &server, "v2", 2, true, (&delta, &full));
    publish(d, &server, "v2");
    server.route("/status/reports", Behaviour::Collect);
    let t = ok(poll(d, &base, &[]));
    assert!(t.contains("installed: "), "{t}");
    assert!(
        t.contains(&format!("payload {delta} (not under an allowed prefix")),
        "{t}"
    );
    assert_eq!(decided(d), sha256_of(d, "v2.suit"), "{t}");
    assert!(
        poll_state(d).get("refused-under-allow-list").is_none(),
        "{t}"
    );
    assert_eq!(server.requests_to("/status/reports").len(), 1);
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    assert_eq!(server.requests_to("/p/full.bin").len(), 2);
}

/// A `coap://` URI, or one that does not parse, for a skipped option: left to the TA, the
/// update installs. The manifest fetching one: the TA refuses, named as that URI, a plain
/// verdict (exit 1, recorded, no allow-list fingerprint), and its report is posted.
#[test]
fn a_uri_that_is_not_fetchable_is_left_to_the_ta() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    server.route("/status/reports", Behaviour::Collect);
    let full = format!("{base}/p/full.bin");
    let skipped = [
        ("coap://fw.example.com/delta.bin", "not an http(s) URI"),
        ("http://127.0.0.1:99999/p/delta.bin", "port out of range"),
    ];
    for (i, (delta, why)) in skipped.iter().enumerate() {
        let name = format!("v{}", i + 1);
        try_each(d, &server, &name, i as i64 + 1, true, (delta, &full));
        publish(d, &server, &name);
        let t = ok(poll(d, &base, &[]));
        assert!(t.contains("installed: "), "{t}");
        assert!(
            t.contains(&format!("payload {delta} (")) && t.contains(why),
            "{t}"
        );
        assert_eq!(decided(d), sha256_of(d, &format!("{name}.suit")), "{t}");
    }
    assert_eq!(installed_components(d), 1);

    // Needed (option 1 unguarded): refused, a verdict.
    let delta = skipped[0].0;
    try_each(d, &server, "v3", 3, false, (delta, &full));
    publish(d, &server, "v3");
    let t = fails(poll(d, &base, &[]), 1);
    assert!(
        t.contains(&format!("payload {delta}: not an http(s) URI"))
            && t.contains("not fetched, and the manifest fetches it"),
        "{t}"
    );
    assert_eq!(decided(d), sha256_of(d, "v3.suit"), "{t}");
    assert!(
        poll_state(d).get("refused-under-allow-list").is_none(),
        "{t}"
    );
    assert_eq!(server.requests_to("/status/reports").len(), 3);
    let t = ok(poll(
        d,
        &base,
        &["--allow-url-prefix", "http://127.0.0.1:1/"],
    ));
    assert!(t.contains("not modified"), "{t}");
}

/// Whether the agent's output names `uri` as the payload the TA refused the update for.
fn names_as_fetched(t: &str, uri: &str) -> bool {
    t.lines()
        .any(|l| l.contains("so the TA refused the update") && l.contains(uri))
}

/// Several URIs left out for different reasons, one of them needed: the TA names the one the
/// manifest fetched, and that URI's reason alone decides (before, all were named and the most
/// cautious outcome won, a 404 among them making a plain verdict a retry): a 404 is never a
/// verdict (exit 4, the payload back-off, nothing decided); one outside the allowed prefixes
/// is a verdict under those prefixes only (recorded with their fingerprint: a round with the
/// prefix added hands the envelope over again); one not http(s) is a verdict, whatever else
/// was a 404.
#[test]
fn uris_left_out_for_different_reasons_only_the_needed_one_is_named() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    server.route("/status/reports", Behaviour::Collect);
    let other = Server::default();
    let other_base = other.start_http();

    // The delta (needed) is not on the server; the full image is outside the allowed prefixes.
    let (absent, outside) = (
        format!("{base}/p/delta.bin"),
        format!("{other_base}/p/full.bin"),
    );
    try_each(d, &server, "v1", 1, false, (&absent, &outside));
    publish(d, &server, "v1");
    let t = fails(poll(d, &base, &[]), 4);
    assert!(
        t.contains(&format!(
            "payload {absent} (the server answered HTTP 404 not found): the manifest fetches it"
        )),
        "{t}"
    );
    assert!(!names_as_fetched(&t, &outside), "{t}");
    let state = poll_state(d);
    assert_eq!(state["envelope-sha256"], serde_json::Value::Null, "{state}");
    assert_eq!(state["payload-retries"][0]["attempts"], 1, "{state}");
    assert!(state.get("refused-under-allow-list").is_none(), "{state}");
    assert_eq!(server.requests_to("/status/reports").len(), 1);

    // Outside the prefixes (needed) and not http(s): a verdict under these prefixes.
    let (outside, coap) = (
        format!("{other_base}/p/delta.bin"),
        "coap://fw.example.com/full.bin".to_string(),
    );
    try_each(d, &server, "v2", 2, false, (&outside, &coap));
    publish(d, &server, "v2");
    let t = fails(poll(d, &base, &[]), 1);
    assert!(
        t.contains(&format!("payload {outside}: not under an allowed prefix"))
            && t.contains("not fetched, and the manifest fetches it"),
        "{t}"
    );
    assert!(!names_as_fetched(&t, &coap), "{t}");
    assert_eq!(decided(d), sha256_of(d, "v2.suit"), "{t}");
    assert!(poll_state(d)["refused-under-allow-list"].is_string(), "{t}");
    assert_eq!(server.requests_to("/status/reports").len(), 2);
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    let t = ok(poll(d, &base, &[]));
    assert!(t.contains("not modified"), "{t}");

    // The prefix added: handed over again, the delta asked for (the other server has none:
    // 404, so now not a verdict).
    let t = fails(poll(d, &base, &["--allow-url-prefix", &other_base]), 4);
    assert!(t.contains("allowed URL prefixes changed"), "{t}");
    assert_eq!(other.requests_to("/p/delta.bin").len(), 1, "{t}");

    // Not http(s) (needed) while the other option's URI is a 404: a plain verdict, recorded.
    let missing = format!("{base}/p/missing.bin");
    try_each(d, &server, "v3", 3, false, (&coap, &missing));
    publish(d, &server, "v3");
    let t = fails(poll(d, &base, &[]), 1);
    assert!(
        t.contains(&format!("payload {coap}: not an http(s) URI"))
            && t.contains("not fetched, and the manifest fetches it"),
        "{t}"
    );
    assert_eq!(server.requests_to("/p/missing.bin").len(), 1, "{t}");
    assert_eq!(decided(d), sha256_of(d, "v3.suit"), "{t}");
    assert!(
        poll_state(d).get("refused-under-allow-list").is_none(),
        "{t}"
    );
    assert_eq!(installed_components(d), 0);
}
