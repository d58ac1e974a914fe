//! The agent as a network client (issue 12), host-native: the real `suit-agent` binary with
//! `--tee sim` against a small HTTP/1.1 (and HTTPS, rustls + rcgen) server on 127.0.0.1 run by
//! the test itself. Nothing else is contacted: every URL in these tests is a loopback one.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TPA_PRIV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/keys/tpa-test.priv.pem"
);

// ---------------------------------------------------------------- test server

/// How the server answers one path.
#[derive(Clone)]
enum Behaviour {
    /// 200 with the body (honours `Range`/`If-Range` and `If-None-Match`).
    Serve {
        body: Vec<u8>,
        etag: String,
        content_type: String,
    },
    /// As `Serve`, but the first `drops` full-body answers close the connection after `cut`
    /// bytes of the body.
    DropFirst {
        body: Vec<u8>,
        etag: String,
        cut: usize,
        drops: usize,
    },
    /// Announces `announce` bytes (or chunked with `None`) and sends `send` bytes.
    Oversize { announce: Option<u64>, send: usize },
    /// Sends the headers and `first` bytes of a `total`-byte body, then goes silent.
    Stall { total: usize, first: usize },
    /// Records the POST body under this path.
    Collect,
}

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Server {
    routes: Arc<Mutex<HashMap<String, Behaviour>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn route(&self, path: &str, b: Behaviour) {
        self.routes.lock().unwrap().insert(path.to_string(), b);
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn requests_to(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// Serves plain HTTP on 127.0.0.1; returns the base URL.
    fn start_http(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || {
                    let reader = stream.try_clone().unwrap();
                    me.handle(BufReader::new(reader), stream);
                });
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    /// Serves HTTPS (certificate for 127.0.0.1 issued by `ca`); returns the base URL.
    fn start_https(&self, tls: Arc<rustls::ServerConfig>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let me = me.clone();
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(tls).unwrap();
                    let stream =
                        Shared(Arc::new(Mutex::new(rustls::StreamOwned::new(conn, stream))));
                    me.handle(BufReader::new(stream.clone()), stream);
                });
            }
        });
        format!("https://127.0.0.1:{port}")
    }

    fn handle<R: Read, W: Write>(&self, mut r: BufReader<R>, mut w: W) {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let mut body = Vec::new();
        if let Some(n) = headers
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            body.resize(n.min(1 << 20), 0);
            let _ = r.read_exact(&mut body);
        }
        let seen = Seen {
            method,
            path: path.clone(),
            headers: headers.clone(),
            body,
        };
        self.seen.lock().unwrap().push(seen.clone());
        let behaviour = self.routes.lock().unwrap().get(&path).cloned();
        let head = |status: &str, extra: &str, len: Option<u64>| {
            let len = len.map_or("Transfer-Encoding: chunked\r\n".to_string(), |n| {
                format!("Content-Length: {n}\r\n")
            });
            format!("HTTP/1.1 {status}\r\n{extra}{len}Connection: close\r\n\r\n").into_bytes()
        };
        let out: Vec<u8> = match behaviour {
            None => head("404 Not Found", "", Some(0)),
            Some(Behaviour::Collect) => head("201 Created", "", Some(0)),
            Some(Behaviour::Serve {
                body,
                etag,
                content_type,
            }) => {
                if headers.get("if-none-match") == Some(&etag) {
                    head("304 Not Modified", &format!("ETag: {etag}\r\n"), Some(0))
                } else {
                    serve_range(&headers, &body, &etag, &content_type, head)
                }
            }
            Some(Behaviour::DropFirst {
                body,
                etag,
                cut,
                drops,
            }) => {
                let ranged = headers.contains_key("range");
                if !ranged && drops > 0 {
                    self.route(
                        &path,
                        Behaviour::DropFirst {
                            body: body.clone(),
                            etag: etag.clone(),
                            cut,
                            drops: drops - 1,
                        },
                    );
                    let mut o = head(
                        "200 OK",
                        &format!("ETag: {etag}\r\n"),
                        Some(body.len() as u64),
                    );
                    o.extend_from_slice(&body[..cut]);
                    let _ = w.write_all(&o);
                    let _ = w.flush();
                    return; // connection dropped mid-body
                }
                serve_range(&headers, &body, &etag, "application/octet-stream", head)
            }
            Some(Behaviour::Oversize { announce, send }) => {
                let mut o = head("200 OK", "", announce);
                let data = vec![0x55u8; send];
                if announce.is_some() {
                    o.extend_from_slice(&data);
                } else {
                    for c in data.chunks(16 * 1024) {
                        o.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                        o.extend_from_slice(c);
                        o.extend_from_slice(b"\r\n");
                    }
                    o.extend_from_slice(b"0\r\n\r\n");
                }
                o
            }
            Some(Behaviour::Stall { total, first }) => {
                let mut o = head("200 OK", "", Some(total as u64));
                o.extend_from_slice(&vec![0x66u8; first]);
                let _ = w.write_all(&o);
                let _ = w.flush();
                std::thread::sleep(Duration::from_secs(20));
                return;
            }
        };
        let _ = w.write_all(&out);
        let _ = w.flush();
    }
}

fn serve_range(
    headers: &HashMap<String, String>,
    body: &[u8],
    etag: &str,
    content_type: &str,
    head: impl Fn(&str, &str, Option<u64>) -> Vec<u8>,
) -> Vec<u8> {
    let extra = format!("ETag: {etag}\r\nContent-Type: {content_type}\r\nAccept-Ranges: bytes\r\n");
    let if_range_ok = headers.get("if-range").is_none_or(|v| v == etag);
    if let (Some(range), true) = (headers.get("range"), if_range_ok) {
        let first: usize = range
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let part = &body[first.min(body.len())..];
        let mut o = head(
            "206 Partial Content",
            &format!(
                "{extra}Content-Range: bytes {first}-{}/{}\r\n",
                body.len() - 1,
                body.len()
            ),
            Some(part.len() as u64),
        );
        o.extend_from_slice(part);
        return o;
    }
    let mut o = head("200 OK", &extra, Some(body.len() as u64));
    o.extend_from_slice(body);
    o
}

/// A TLS stream shared between the request reader and the response writer of one connection.
#[derive(Clone)]
struct Shared(Arc<Mutex<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().read(buf)
    }
}
impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        s.flush()?;
        s.conn.send_close_notify();
        s.flush()
    }
}

/// A CA (PEM) and a server config whose certificate (for 127.0.0.1) it issued.
fn tls_server() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    (ca.pem(), Arc::new(config))
}

// ---------------------------------------------------------------- device and tools

fn run(exe: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn agent(dir: &Path, args: &[&str]) -> Output {
    agent_env(dir, args, &[])
}

fn agent_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["--tee", "sim", "--state", "state"];
    all.extend_from_slice(args);
    run(env!("CARGO_BIN_EXE_suit-agent"), dir, &all, env)
}

fn ok(o: Output) -> String {
    let t = text(&o);
    assert!(o.status.success(), "command failed:\n{t}");
    t
}

fn fails(o: Output, code: i32) -> String {
    let t = text(&o);
    assert_eq!(o.status.code(), Some(code), "unexpected exit status:\n{t}");
    t
}

fn author(dir: &Path, args: &[&str]) -> String {
    ok(run(env!("CARGO_BIN_EXE_suit-author"), dir, args, &[]))
}

/// A simulated device provisioned with one author anchor for `app`, and the author's key.
fn device(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(agent(
        d,
        &["device-key", "--which", "report", "--out", "report.pub.pem"],
    ));
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    std::fs::write(
        d.join("provision.json"),
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    )
    .unwrap();
    author(
        d,
        &[
            "provision",
            "provision.json",
            "--tpa-key",
            TPA_PRIV,
            "-o",
            "provision.cbor",
        ],
    );
    ok(agent(d, &["provision", "provision.cbor"]));
}

/// Creates `name.suit` installing `file` as `app` from `uri` (optionally HPKE-encrypted to
/// anchor 1's device key); the detached payload goes to `payloads/`.
fn envelope(d: &Path, name: &str, seq: u64, file: &str, uri: &str, encrypt: bool) {
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
    author(
        d,
        &[
            "create",
            &format!("{name}.json"),
            "-o",
            &format!("{name}.suit"),
            "--sign-key",
            "author.priv.pem",
            "--payload-out",
            "payloads",
        ],
    );
}

fn installed_components(d: &Path) -> u64 {
    let o = agent(d, &["status", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    j["service"]["installed-components"].as_u64().unwrap()
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

fn serve(body: Vec<u8>, etag: &str) -> Behaviour {
    Behaviour::Serve {
        body,
        etag: etag.into(),
        content_type: "application/octet-stream".into(),
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn http_payload_streams_into_the_ta_and_plain_http_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start_http();
    device(d);
    std::fs::write(d.join("fw.bin"), payload(700_000, 1)).unwrap();
    let uri = format!("{base}/fw/fw.bin");
    envelope(d, "m", 1, "fw.bin", &uri, false);
    server.route("/fw/fw.bin", serve(payload(700_000, 1), "\"v1\""));
    server.route(
        "/m.suit",
        Behaviour::Serve {
            body: std::fs::read(d.join("m.suit")).unwrap(),
            etag: "\"m1\"".into(),
            content_type: "application/suit-envelope+cose".into(),
        },
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
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start_http();
    device(d);
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
        &["install", "m.suit", "--net", "--backoff-ms", "50"],
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
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start_http();
    device(d);
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
            &[
                "install",
                "m.suit",
                "--net",
                "--max-payload-bytes",
                "1000000",
            ],
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
            &[
                "install",
                "m.suit",
                "--net",
                "--max-payload-bytes",
                "100000",
            ],
        ),
        4,
    );
    assert!(t.contains("sent more than 4096 bytes"), "{t}");
    assert_eq!(installed_components(d), 0);

    // The TA is not stuck: the right bytes install afterwards.
    server.route("/fw.bin", serve(payload(4096, 3), "\"ok\""));
    ok(agent(d, &["install", "m.suit", "--net"]));
    assert_eq!(installed_components(d), 1);
}

#[test]
fn a_stalled_server_times_out_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start_http();
    device(d);
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
            &[
                "install",
                "m.suit",
                "--net",
                "--stall-timeout",
                "1",
                "--retries",
                "1",
                "--backoff-ms",
                "100",
            ],
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
            &[
                "install",
                "m.suit",
                "--net",
                "--stall-timeout",
                "1",
                "--retries",
                "100",
                "--backoff-ms",
                "500",
                "--transfer-timeout",
                "4",
            ],
        ),
        4,
    );
    assert!(t.contains("time limit of 4 s reached"), "{t}");
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[test]
fn wrong_bytes_are_refused_by_the_ta_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start_http();
    device(d);
    std::fs::write(d.join("fw.bin"), payload(300_000, 5)).unwrap();
    envelope(d, "m", 1, "fw.bin", &format!("{base}/fw.bin"), false);
    // Same length, other content: only the TA can tell.
    server.route("/fw.bin", serve(payload(300_000, 6), "\"evil\""));
    let t = fails(agent(d, &["install", "m.suit", "--net"]), 1);
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
            &["install", "m.suit", "--net"],
            &[("SSL_CERT_FILE", "other-ca.pem")],
        ),
        4,
    );
    assert!(t.contains("TLS"), "{t}");
    assert!(!t.contains("retrying"), "{t}");
    assert_eq!(installed_components(d), 0);

    let t = ok(agent(
        d,
        &["install", "m.suit", "--net", "--ca-file", "ca.pem"],
    ));
    assert!(!t.contains("plain HTTP"), "{t}");
    assert_eq!(installed_components(d), 1);
}

#[test]
fn poll_installs_posts_reports_and_uses_etags() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start_http();
    device(d);
    let anchors: serde_json::Value =
        serde_json::from_slice(&agent(d, &["anchors", "--json"]).stdout).unwrap();
    let vendor = anchors["identity"]["vendor-id"]
        .as_str()
        .unwrap()
        .to_string();
    let class = anchors["identity"]["class-id"]
        .as_str()
        .unwrap()
        .to_string();
    let env_path = format!("/fw/{vendor}/{class}/envelope.suit");

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
        Behaviour::Serve {
            body: std::fs::read(d.join("v1.suit")).unwrap(),
            etag: "\"e1\"".into(),
            content_type: "application/suit-envelope+cose".into(),
        },
    );
    server.route(
        "/status/nonce",
        serve(b"00112233445566778899aabbccddeeff\n".to_vec(), "\"n\""),
    );
    server.route("/status/reports", Behaviour::Collect);
    let poll = |extra: &[&str]| {
        let mut args = vec![
            "poll",
            &*Box::leak(format!("{base}/fw").into_boxed_str()),
            "--report-url",
            &*Box::leak(format!("{base}/status/reports").into_boxed_str()),
            "--nonce-url",
            &*Box::leak(format!("{base}/status/nonce").into_boxed_str()),
            "--poll-state",
            "poll.json",
        ];
        args.extend_from_slice(extra);
        agent(d, &args)
    };

    let t = ok(poll(&[]));
    assert!(t.contains("installed: "), "{t}");
    assert_eq!(installed_components(d), 1);
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
        Behaviour::Serve {
            body: std::fs::read(d.join("v0.suit")).unwrap(),
            etag: "\"e0\"".into(),
            content_type: "application/suit-envelope+cose".into(),
        },
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
        Behaviour::Serve {
            body: std::fs::read(d.join("v2.suit")).unwrap(),
            etag: "\"e2\"".into(),
            content_type: "application/suit-envelope+cose".into(),
        },
    );
    ok(poll(&[]));
    let posts = server.requests_to("/status/reports");
    assert_eq!(posts.len(), 3);

    // The status tracker's collection verifies with the device's report key, and carries
    // the tracker's nonce.
    std::fs::create_dir(d.join("collected")).unwrap();
    for (i, p) in posts.iter().enumerate() {
        std::fs::write(d.join(format!("collected/report-{i}.cose")), &p.body).unwrap();
    }
    let t = author(
        d,
        &[
            "verify-report",
            "collected",
            "--device-key",
            "report.pub.pem",
            "--json",
        ],
    );
    let j: serde_json::Value = serde_json::from_str(&t).unwrap();
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
        &[
            "verify-report",
            "collected",
            "--device-key",
            "report.pub.pem",
        ],
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
    let t = fails(
        agent(d, &["--lock", "agent.lock", "--lock-wait", "1", "status"]),
        2,
    );
    assert!(t.contains("another suit-agent holds"), "{t}");
    drop(held);
    ok(agent(
        d,
        &["--lock", "agent.lock", "--lock-wait", "1", "status"],
    ));
}
