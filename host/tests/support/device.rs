//! The simulated device and the tools the transport tests drive: the real `suit-agent`
//! (`--tee sim`) and `suit-author` binaries, run in a test's directory.

use std::path::Path;
use std::process::{Command, Output};
use suit_test_support::cli::{app_provisioning, provision_args, words, write};

pub const TPA_PRIV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/keys/tpa-test.priv.pem"
);

/// Runs `exe` in `dir` without proxies or an inherited CA file.
pub fn run(exe: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(exe)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env_remove("SSL_CERT_FILE")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .output()
        .expect("running the binary")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn agent(dir: &Path, args: &[&str]) -> Output {
    agent_env(dir, args, &[])
}

pub fn agent_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["--tee", "sim", "--state", "state"];
    all.extend_from_slice(args);
    run(env!("CARGO_BIN_EXE_suit-agent"), dir, &all, env)
}

/// A simulated-device agent started (with `args`) while the test holds its lock, returned
/// once it says it waits for the lock: what it said so far, the rest of its standard error
/// to read, and the lock (dropping it lets the agent go on).
pub struct WaitingAgent {
    pub child: std::process::Child,
    pub stderr: std::io::BufReader<std::process::ChildStderr>,
    pub said: String,
    pub lock: std::fs::File,
}

pub fn agent_waiting_for_the_lock(dir: &Path, args: &[&str]) -> WaitingAgent {
    use std::io::BufRead as _;
    let lock = std::fs::File::open(dir.join("state/.agent.lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_suit-agent"))
        .args(["--tee", "sim", "--state", "state"])
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting for another suit-agent") {
        assert_ne!(stderr.read_line(&mut said).unwrap(), 0, "{said}");
    }
    WaitingAgent {
        child,
        stderr,
        said,
        lock,
    }
}

/// Serves `name.suit` at [`envelope_path`] (ETag `"e1"`) and its payload `payloads/FILE` at
/// `/p/FILE` (ETag `"p1"`).
pub fn publish(server: &super::http::Server, d: &Path, name: &str, file: &str) {
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    server.route(
        &format!("/p/{file}"),
        super::http::serve(read(&format!("payloads/{file}")), "\"p1\""),
    );
    server.route(
        &envelope_path(d),
        super::http::serve_envelope(read(&format!("{name}.suit")), "\"e1\""),
    );
}

/// One `suit-agent poll` round against [`device_and_server`]'s layout: envelopes at
/// `BASE/fw`, reports to `BASE/status/reports`, state in `poll.json`, then `extra`.
pub fn poll(dir: &Path, base: &str, extra: &[&str]) -> Output {
    let (fw, reports) = (format!("{base}/fw"), format!("{base}/status/reports"));
    let mut args = vec![
        "poll",
        &fw,
        "--report-url",
        &reports,
        "--poll-state",
        "poll.json",
    ];
    args.extend_from_slice(extra);
    agent(dir, &args)
}

pub fn ok(o: Output) -> String {
    let t = text(&o);
    assert!(o.status.success(), "command failed:\n{t}");
    t
}

pub fn fails(o: Output, code: i32) -> String {
    let t = text(&o);
    assert_eq!(o.status.code(), Some(code), "unexpected exit status:\n{t}");
    t
}

pub fn author(dir: &Path, args: &[&str]) -> String {
    ok(run(env!("CARGO_BIN_EXE_suit-author"), dir, args, &[]))
}

/// Writes what a status tracker collected into `d/collected` (`report-<i>.cose`) and checks
/// it with `verify-report collected --json`: (output text, parsed output).
pub fn verify_collected<'a>(
    d: &Path,
    bodies: impl IntoIterator<Item = &'a [u8]>,
) -> (String, serde_json::Value) {
    std::fs::create_dir(d.join("collected")).unwrap();
    for (i, body) in bodies.into_iter().enumerate() {
        std::fs::write(d.join(format!("collected/report-{i}.cose")), body).unwrap();
    }
    let t = author(
        d,
        &words("verify-report collected --device-key report.pub.pem --json"),
    );
    let j = serde_json::from_str(&t).unwrap();
    (t, j)
}

/// A simulated device provisioned with one author anchor for `app` and an identity; the
/// author's key pair (`author.*.pem`) and the device's report key (`report.pub.pem`).
pub fn device(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(agent(
        d,
        &["device-key", "--which", "report", "--out", "report.pub.pem"],
    ));
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    write(d, "provision.json", app_provisioning("board"));
    author(d, &provision_args("provision.json", "provision.cbor", &[]));
    ok(agent(d, &["provision", "provision.cbor"]));
}

/// A simulated device whose author anchor may also install normal-world files (`["ree"]`).
pub fn device_with_ree(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(agent(
        d,
        &["device-key", "--which", "report", "--out", "report.pub.pem"],
    ));
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    write(
        d,
        "provision.json",
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"], ["ree"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    author(d, &provision_args("provision.json", "provision.cbor", &[]));
    ok(agent(d, &["provision", "provision.cbor"]));
}

/// Creates `name.suit` (signed by the author) installing `file` as `app` from `uri`,
/// optionally HPKE-encrypted to anchor 1's device key; the detached payload goes to
/// `payloads/`.
pub fn envelope(d: &Path, name: &str, seq: u64, file: &str, uri: &str, encrypt: bool) {
    create(
        d,
        name,
        seq,
        file,
        uri,
        encrypt,
        &["--sign-key", "author.priv.pem"],
    );
}

/// As `envelope`, unsigned (for tests that rewrite the manifest and sign it themselves).
pub fn unsigned_envelope(d: &Path, name: &str, seq: u64, file: &str, uri: &str) {
    create(d, name, seq, file, uri, false, &["--unsigned"]);
}

fn create(d: &Path, name: &str, seq: u64, file: &str, uri: &str, encrypt: bool, sign: &[&str]) {
    let enc = if encrypt {
        ok(agent(
            d,
            &["device-key", "--anchor", "1", "--out-dir", "keys"],
        ));
        r#", "encryption": {"content-alg": "A128GCM", "recipients": [{"key": "keys/anchor-1.hpke.pub.pem", "mode": "hpke"}]}"#
    } else {
        ""
    };
    std::fs::write(
        d.join(format!("{name}.json")),
        format!(
            r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["app"], "file": "{file}", "uri": "{uri}"{enc}}}]}}"#
        ),
    )
    .unwrap();
    let json = format!("{name}.json");
    let out = format!("{name}.suit");
    let mut args = vec!["create", &json, "-o", &out, "--payload-out", "payloads"];
    args.extend_from_slice(sign);
    author(d, &args);
}

pub fn status(d: &Path) -> serde_json::Value {
    let o = agent(d, &["status", "--json"]);
    serde_json::from_slice(&o.stdout).unwrap()
}

pub fn installed_components(d: &Path) -> u64 {
    status(d)["service"]["installed-components"]
        .as_u64()
        .unwrap()
}

/// `n` bytes of a pattern that differs with `seed`.
pub fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// The firmware server path of this device's envelope (host/README.md's layout).
pub fn envelope_path(d: &Path) -> String {
    let anchors: serde_json::Value =
        serde_json::from_slice(&agent(d, &["anchors", "--json"]).stdout).unwrap();
    let id = |k: &str| anchors["identity"][k].as_str().unwrap().to_string();
    format!("/fw/{}/{}/envelope.suit", id("vendor-id"), id("class-id"))
}

/// A scratch directory with a provisioned simulated device ([`device`]), a plain-HTTP test
/// server and its base URL.
pub fn device_and_server() -> (tempfile::TempDir, super::http::Server, String) {
    let tmp = tempfile::tempdir().unwrap();
    let server = super::http::Server::default();
    let base = server.start_http();
    device(tmp.path());
    (tmp, server, base)
}
