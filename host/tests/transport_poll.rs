//! `suit-agent poll --interval S --rounds N` (issue 12): the agent as a polling daemon, run
//! for a bounded number of rounds with `--tee sim` against the test server of
//! support/http.rs on 127.0.0.1. The server publishes a newer envelope after the agent's
//! second request (counted, not timed), so the rounds are deterministic.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::time::{Duration, Instant};

use support::device::{
    agent, device_and_server, envelope, envelope_path, fails, installed_components, ok, payload,
    poll, publish, verify_collected,
};
use support::http::{serve, serve_envelope, Behaviour};

#[test]
fn poll_rounds_install_then_wait_then_install_the_newer_envelope() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let env_path = envelope_path(d);

    // v1 (encrypted to the device) is published; v2 only from the third envelope request on.
    std::fs::write(d.join("v1.bin"), payload(300_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), true);
    std::fs::write(d.join("v2.bin"), payload(200_000, 2)).unwrap();
    envelope(d, "v2", 2, "v2.bin", &format!("{base}/p/v2.bin"), false);
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    server.route("/p/v1.bin", serve(read("payloads/v1.bin"), "\"p1\""));
    server.route("/p/v2.bin", serve(read("payloads/v2.bin"), "\"p2\""));
    server.route(&env_path, serve_envelope(read("v1.suit"), "\"e1\""));
    server.publish_after(&env_path, 2, serve_envelope(read("v2.suit"), "\"e2\""));
    server.route("/status/reports", Behaviour::Collect);

    let start = Instant::now();
    let t = ok(poll(d, &base, &["--interval", "1", "--rounds", "3"]));
    let took = start.elapsed();
    // Two waits of one second between three rounds; no real-time sleeping beyond that.
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert!(t.contains("polling"), "{t}");
    assert_eq!(t.matches("installed: ").count(), 2, "{t}");
    assert_eq!(t.matches("not modified").count(), 1, "{t}");
    assert!(t.contains("stopping after 3 rounds"), "{t}");

    // Round 1: the envelope (unconditional), the payload the TA named, one report. Round 2:
    // a conditional GET answered 304, nothing else. Round 3: the same conditional GET now
    // gets v2, its payload, one report.
    let order: Vec<(String, String)> = server
        .seen()
        .into_iter()
        .map(|s| (s.method, s.path))
        .collect();
    let get = |p: &str| ("GET".to_string(), p.to_string());
    let post = ("POST".to_string(), "/status/reports".to_string());
    assert_eq!(
        order,
        [
            get(&env_path),
            get("/p/v1.bin"),
            post.clone(),
            get(&env_path),
            get(&env_path),
            get("/p/v2.bin"),
            post,
        ]
    );
    let env_reqs = server.requests_to(&env_path);
    assert!(!env_reqs[0].headers.contains_key("if-none-match"));
    assert_eq!(env_reqs[1].headers["if-none-match"], "\"e1\"");
    assert_eq!(env_reqs[2].headers["if-none-match"], "\"e1\"");
    assert_eq!(installed_components(d), 1);

    // Both reports verify with the device's report key, one per installing round.
    let posts = server.requests_to("/status/reports");
    let (t, j) = verify_collected(d, posts.iter().map(|p| p.body.as_slice()));
    assert_eq!(j["verified"], 2, "{t}");
    let seq = |i: usize| j["reports"][i]["report"]["sequence-number"].as_u64();
    assert_eq!((seq(0), seq(1)), (Some(1), Some(2)), "{t}");

    // The state file remembers v2: a further single round is up to date and posts nothing.
    let t = ok(poll(d, &base, &[]));
    assert!(t.contains("not modified"), "{t}");
    assert_eq!(server.requests_to("/status/reports").len(), 2);
}

#[test]
fn rounds_needs_an_interval() {
    let tmp = tempfile::tempdir().unwrap();
    let t = fails(
        agent(
            tmp.path(),
            &["poll", "http://127.0.0.1:9/fw", "--rounds", "2"],
        ),
        2,
    );
    assert!(t.contains("--interval"), "{t}");
}

/// Review s31 (robustness): one envelope transfer cut short (a close-delimited body, which
/// plain HTTP cannot tell from a whole one) is refused by the TA before authentication, and
/// poll records the server's ETag of the *whole* resource as decided: every later round
/// asks `If-None-Match` with it, is answered 304, and the authentic envelope is never
/// handed to the TA until the server publishes another.
#[test]
fn a_truncated_envelope_transfer_does_not_lose_the_update() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let env_path = envelope_path(d);
    std::fs::write(d.join("v1.bin"), payload(3_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    server.route("/p/v1.bin", serve(read("payloads/v1.bin"), "\"p1\""));
    let env = read("v1.suit");
    let cut = env.len() / 2;
    server.route(
        &env_path,
        Behaviour::CloseDelimitedFirst {
            body: env,
            etag: "\"e1\"".into(),
            cut,
        },
    );
    // Round 1 gets half the envelope: the TA refuses it (a verdict on those bytes).
    let first = poll(d, &base, &[]);
    eprintln!("round 1: {}", support::device::text(&first));
    // Rounds 2 and 3: the server now serves the whole envelope.
    let _ = poll(d, &base, &[]);
    let t = support::device::text(&poll(d, &base, &[]));
    assert_eq!(
        installed_components(d),
        1,
        "the authentic envelope was never installed: {t}\nseen: {:?}",
        server
            .requests_to(&env_path)
            .iter()
            .map(|s| s.headers.get("if-none-match").cloned())
            .collect::<Vec<_>>()
    );
}

/// Review s35 (user) 2: a `--poll-state` that cannot be saved (a directory there, a
/// directory no file can be made in) was found only after a round had downloaded the
/// envelope and the whole payload and staged them in the TA, at the in-flight mark; with
/// `--interval` every round did it again, for ever (exit 2 never reached the service
/// manager). Now checked before the first round: exit 2, nothing fetched.
#[test]
fn s35_a_poll_state_that_cannot_be_saved_is_refused_before_the_first_round() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(3_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    std::fs::create_dir(d.join("psdir")).unwrap();
    let fw = format!("{base}/fw");
    for state in ["psdir", "/sys/suit-poll.json"] {
        let args = [
            "poll",
            &fw,
            "--poll-state",
            state,
            "--interval",
            "1",
            "--rounds",
            "3",
        ];
        let t = fails(agent(d, &args), 2);
        assert!(
            t.contains("poll state") && t.contains(state),
            "{state}: {t}"
        );
        assert!(!t.contains("starting afresh"), "{t}");
        assert!(server.seen().is_empty(), "{state}: fetched: {t}");
    }
    assert!(d.join("psdir").is_dir());
    assert_eq!(installed_components(d), 0);
    // A state file that can be saved: the same round installs.
    server.route("/status/reports", Behaviour::Collect);
    ok(poll(d, &base, &[]));
    assert_eq!(installed_components(d), 1);
}

/// Review s35 (user) 3: `poll BASE_URL` was never checked: a fragment or query swallowed the
/// device's path (`BASE#` fetched BASE itself as the envelope), `ftp://` failed every round
/// as a network error (exit 4). Checked as an `--allow-url-prefix` is now (exit 2, nothing
/// contacted). User information in an operator's URL is sent as HTTP Basic credentials
/// (re-review finding 2: rrh_2_... below); an `--allow-url-prefix` with it is still refused,
/// and neither prints it.
#[test]
fn s35_a_base_url_is_checked_like_a_prefix_and_credentials_are_never_shown() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    let with_user = base.replacen("http://", "http://user:s3cret@", 1);
    for (url, why) in [
        (format!("{base}/p/app90.bin#"), "no query or fragment"),
        (format!("{base}/fw?q=1"), "no query or fragment"),
        ("ftp://x/".to_string(), "not an http(s) URI"),
        (format!("{with_user}/fw#x"), "no query or fragment"),
        (format!("{base}/a/../fw"), "'.' or '..' segments"),
    ] {
        let args = ["poll", &url, "--interval", "1", "--rounds", "2"];
        let t = fails(agent(d, &args), 2);
        assert!(t.contains("BASE_URL") && t.contains(why), "{url}: {t}");
        assert!(!t.contains("s3cret"), "{t}");
    }
    let fw = format!("{base}/fw");
    let with_user_reports = format!("{with_user}/status/reports");
    let t = fails(
        agent(d, &["poll", &fw, "--allow-url-prefix", &with_user_reports]),
        2,
    );
    assert!(t.contains("user information"), "{t}");
    assert!(!t.contains("s3cret"), "{t}");
    let t = fails(
        agent(
            d,
            &["poll", &fw, "--report-url", &format!("{with_user}:x/r")],
        ),
        2,
    );
    assert!(t.contains("--report-url") && t.contains("***@"), "{t}");
    assert!(!t.contains("s3cret"), "{t}");
    assert!(server.seen().is_empty());
}

/// Re-review of session 35, finding 2: the HTTP client sends a URL's user information as
/// HTTP Basic credentials, so `poll https://user:pw@...` (and `--report-url`, `--nonce-url`,
/// an `install` URL) authenticated to the server; the review's fix refused them (exit 2).
/// Accepted again: sent as credentials, no part of the origin payloads are compared with,
/// never printed (`***@`), and named in a warning over plain http.
#[test]
fn rrh_2_user_information_is_sent_as_credentials_and_never_shown() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(3_000, 1)).unwrap();
    // The manifest's payload URI carries no credentials: allowed under the base URL's origin.
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    server.route("/status/reports", Behaviour::Collect);
    server.route("/status/nonce", serve(b"00112233".to_vec(), "\"n\""));
    let with_user = base.replacen("http://", "http://user:s3cret@", 1);
    let (fw, reports, nonce) = (
        format!("{with_user}/fw"),
        format!("{with_user}/status/reports"),
        format!("{with_user}/status/nonce"),
    );
    let t = ok(agent(
        d,
        &[
            "poll",
            &fw,
            "--report-url",
            &reports,
            "--nonce-url",
            &nonce,
            "--poll-state",
            "poll.json",
        ],
    ));
    assert!(t.contains("installed: "), "{t}");
    assert!(!t.contains("s3cret"), "credentials printed: {t}");
    assert!(t.contains("http://***@"), "{t}");
    for what in ["poll BASE_URL", "--report-url", "--nonce-url"] {
        assert!(
            t.contains(&format!("{what} http://***@"))
                && t.contains("sent as HTTP Basic credentials, in clear over plain http"),
            "{what}: {t}"
        );
    }
    // "user:s3cret" in Basic: on every request to an operator URL, on none to a payload URI.
    let basic = Some("Basic dXNlcjpzM2NyZXQ=");
    for s in server.seen() {
        let sent = s.headers.get("authorization").map(String::as_str);
        if s.path == "/p/v1.bin" {
            assert_eq!(sent, None, "{}", s.path);
        } else {
            assert_eq!(sent, basic, "{}", s.path);
        }
    }
    assert_eq!(server.requests_to("/status/reports").len(), 1);
    assert_eq!(server.requests_to("/status/nonce").len(), 1);
    // Saved without the credentials.
    let state = std::fs::read_to_string(d.join("poll.json")).unwrap();
    assert!(!state.contains("s3cret"), "{state}");
    // A failure's message names the URL without them too.
    let t = fails(
        agent(
            d,
            &[
                "poll",
                &format!("{with_user}/nowhere"),
                "--poll-state",
                "p2.json",
            ],
        ),
        4,
    );
    assert!(t.contains("http://***@") && !t.contains("s3cret"), "{t}");

    // An install URL: the same.
    std::fs::write(d.join("v2.bin"), payload(3_000, 2)).unwrap();
    envelope(d, "v2", 2, "v2.bin", &format!("{base}/p/v2.bin"), false);
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    server.route("/p/v2.bin", serve(read("payloads/v2.bin"), "\"p2\""));
    server.route("/e2.suit", serve_envelope(read("v2.suit"), "\"e2\""));
    let t = ok(agent(d, &["install", &format!("{with_user}/e2.suit")]));
    assert!(t.contains("installed http://***@"), "{t}");
    assert!(t.contains("envelope URL http://***@"), "{t}");
    assert!(!t.contains("s3cret"), "{t}");
    let e2 = server.requests_to("/e2.suit");
    assert_eq!(
        e2[0].headers.get("authorization").map(String::as_str),
        basic
    );
    assert_eq!(server.requests_to("/p/v2.bin").len(), 1);
}

/// Whether the test runs as root (it mounts); if not, says that `test` is skipped and why
/// (`cannot`: what needs root).
fn root_or_skipped(test: &str, cannot: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("SKIPPED {test}: not root, so {cannot}; run the tests as root to run it");
    }
    root
}

/// `mount ARGS... AT` (root only), unmounted when the guard is dropped, however the test ends.
fn mounted<'a>(args: &[&str], at: &'a std::path::Path) -> Unmount<'a> {
    let status = std::process::Command::new("mount")
        .args(args)
        .arg(at)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "root, but mount {args:?} {} failed",
        at.display()
    );
    Unmount(at)
}

struct Unmount<'a>(&'a std::path::Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0).status();
    }
}

/// Re-review of session 35, finding 1: every failure to save the poll state stopped `poll
/// --interval` with exit 2 ("a later round cannot change this"), which the shipped unit
/// (`RestartPreventExitStatus=2`) never restarts: a moment's full disk stopped the device
/// looking for updates for good. A failure that may pass (here ENOSPC on a 16 KiB tmpfs) now
/// fails the round (exit 3) and polling goes on; once there is room a round installs.
/// Needs root (it mounts the tmpfs); skipped, saying so, otherwise.
#[test]
fn rrh_1_a_full_disk_under_the_poll_state_fails_rounds_and_polling_goes_on() {
    if !root_or_skipped(
        "rrh_1_a_full_disk_under_the_poll_state_fails_rounds_and_polling_goes_on",
        "no tmpfs can be mounted to fill",
    ) {
        return;
    }
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(3_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    server.route("/status/reports", Behaviour::Collect);
    let mnt = d.join("small");
    std::fs::create_dir(&mnt).unwrap();
    let _unmount = mounted(&["-t", "tmpfs", "-o", "size=16k", "tmpfs"], &mnt);
    // The disk is full for a while (a log burst, another writer).
    let filler = mnt.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 64 * 1024]);
    let fw = format!("{base}/fw");
    let state = mnt.join("poll.json");
    let state = state.to_str().unwrap();
    let t = fails(
        agent(
            d,
            &[
                "poll",
                &fw,
                "--poll-state",
                state,
                "--interval",
                "1",
                "--rounds",
                "3",
            ],
        ),
        3,
    );
    assert!(!t.contains("a later round cannot change this"), "{t}");
    assert!(t.contains("stopping after 3 rounds"), "{t}");
    assert!(
        t.contains("not saved for now") && t.contains("No space left on device"),
        "{t}"
    );
    // Every round went ahead (and failed at the in-flight mark: nothing committed).
    assert_eq!(server.requests_to("/p/v1.bin").len(), 3, "{t}");
    assert_eq!(installed_components(d), 0);
    // Room again: a plain round installs.
    std::fs::remove_file(&filler).unwrap();
    let t = ok(agent(d, &["poll", &fw, "--poll-state", state]));
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(installed_components(d), 1);
}

/// Session 35's leftover: a bind-mounted poll state file passed the check before the first
/// round (a temporary file can be made beside it; the rename over it fails with EBUSY), so
/// the first round downloaded and staged the update before stopping. The check now saves an
/// existing state again, unchanged: refused at once (exit 2), nothing fetched, the state's
/// bytes as they were. Needs root (it bind-mounts); skipped, saying so, otherwise.
#[test]
fn s36_a_bind_mounted_poll_state_is_refused_before_the_first_round() {
    if !root_or_skipped(
        "s36_a_bind_mounted_poll_state_is_refused_before_the_first_round",
        "nothing can be bind-mounted",
    ) {
        return;
    }
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(3_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    let fw = format!("{base}/fw");
    // A first poll makes the state file; it is then bind-mounted over itself from a copy.
    let state = d.join("poll.json");
    let state_arg = state.to_str().unwrap();
    ok(agent(d, &["poll", &fw, "--poll-state", state_arg]));
    assert_eq!(server.requests_to("/p/v1.bin").len(), 1);
    let before = std::fs::read(&state).unwrap();
    std::fs::write(d.join("source.json"), &before).unwrap();
    let source = d.join("source.json");
    let _unmount = mounted(&["--bind", source.to_str().unwrap()], &state);
    std::fs::write(d.join("v2.bin"), payload(3_000, 2)).unwrap();
    envelope(d, "v2", 2, "v2.bin", &format!("{base}/p/v2.bin"), false);
    publish(&server, d, "v2", "v2.bin");
    let t = fails(
        agent(
            d,
            &[
                "poll",
                &fw,
                "--poll-state",
                state_arg,
                "--interval",
                "1",
                "--rounds",
                "2",
            ],
        ),
        2,
    );
    assert!(t.contains("cannot be written"), "{t}");
    assert_eq!(server.requests_to("/p/v2.bin").len(), 0, "{t}");
    assert_eq!(std::fs::read(&state).unwrap(), before);
    assert_eq!(installed_components(d), 1);
}

/// Re-review of session 36: the check before the first round saves an existing state again,
/// and did so before taking the agents' lock, so a second agent starting while another's round
/// held the lock could put back bytes that round had just replaced. It now waits for the lock
/// as a round does: with `--lock-wait 0` and the lock held it gives up (exit 3) and the state
/// file is the same file with the same bytes.
#[test]
fn s36_the_start_check_saves_the_state_only_under_the_lock() {
    use std::os::unix::fs::MetadataExt as _;
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("v1.bin"), payload(3_000, 1)).unwrap();
    envelope(d, "v1", 1, "v1.bin", &format!("{base}/p/v1.bin"), false);
    publish(&server, d, "v1", "v1.bin");
    let state = d.join("state").join("poll.json");
    std::fs::write(&state, b"{\"etag\": \"mine\"}").unwrap();
    let inode = std::fs::metadata(&state).unwrap().ino();
    let lock = std::fs::File::open(d.join("state/.agent.lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let t = fails(
        agent(d, &["--lock-wait", "0", "poll", &format!("{base}/fw")]),
        3,
    );
    assert!(t.contains("another suit-agent"), "{t}");
    assert_eq!(std::fs::metadata(&state).unwrap().ino(), inode, "{t}");
    assert_eq!(std::fs::read(&state).unwrap(), b"{\"etag\": \"mine\"}");
    drop(lock);
    // With the lock free the check runs and the round installs.
    ok(agent(d, &["poll", &format!("{base}/fw")]));
    assert_eq!(installed_components(d), 1);
}
