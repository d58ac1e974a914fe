//! Which payload URIs the agent fetches (host/README.md, "Allowed URLs"): a URI an
//! authenticated manifest names is fetched only under the origin of the URL the operator gave
//! (the poll base URL, an envelope URL) or an `--allow-url-prefix`; one it will not fetch (not
//! http(s), unparseable, not allowed) is a verdict on the envelope: `poll` records it and
//! posts no report (the TA, not asked to finish, keeps none of that attempt), exit 1; one not
//! allowed is recorded for the allowed prefixes of that round only. The real `suit-agent
//! --tee sim` against the test server of support/http.rs.

mod support;

use std::path::Path;

use support::device::{
    agent, device_and_server, envelope, envelope_path, fails, installed_components, ok, payload,
    poll,
};
use support::http::{serve, serve_envelope, Behaviour, Server};

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

/// Envelopes naming a URI poll cannot fetch (another scheme, a port out of range) or may not
/// (another origin: a second server, which sees no request): each round exits 1 saying why,
/// posts nothing, and records the envelope, so the next round leaves it alone (up to date),
/// also under other allowed prefixes for the first two. The one not allowed is recorded for
/// the prefixes of its round only: a later round given an `--allow-url-prefix` covering its
/// URI hands it over again, and it installs (the poll state untouched by the test).
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
        assert_eq!(decided(d), sha256_of(d, &format!("{name}.suit")), "{t}");
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
    assert!(server.requests_to("/status/reports").is_empty());
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
    assert_eq!(server.requests_to("/status/reports").len(), 1);
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
