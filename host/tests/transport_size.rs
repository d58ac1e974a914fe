//! Payload downloads bounded by the authenticated size (issue 12): after authenticating the
//! manifest the TA names, with each URI, the largest suit-parameter-image-size a fetch of it
//! may stage; the agent stops a download at min(that size, --max-payload-bytes), and at the
//! cap alone when the manifest gives no image size. Host-native: the real `suit-agent` with
//! `--tee sim` against a small HTTP/1.1 server on 127.0.0.1 run by the test (a reduced copy
//! of transport_net.rs's server: only what these tests need).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use ciborium::value::Value;

const TPA_PRIV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/keys/tpa-test.priv.pem"
);

// ---------------------------------------------------------------- test server

/// `Content-Length: announce` (chunked with `None`), then `send` bytes of body.
#[derive(Clone, Copy)]
struct Answer {
    announce: Option<u64>,
    send: usize,
}

#[derive(Clone, Default)]
struct Server {
    answer: Arc<Mutex<Option<Answer>>>,
    requests: Arc<Mutex<usize>>,
}

impl Server {
    fn answer(&self, announce: Option<u64>, send: usize) {
        *self.answer.lock().unwrap() = Some(Answer { announce, send });
        *self.requests.lock().unwrap() = 0;
    }

    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }

    fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(stream.try_clone().unwrap());
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                    }
                    *me.requests.lock().unwrap() += 1;
                    let a = me.answer.lock().unwrap().unwrap();
                    let mut w = stream;
                    let len = a
                        .announce
                        .map_or("Transfer-Encoding: chunked\r\n".into(), |n| {
                            format!("Content-Length: {n}\r\n")
                        });
                    let mut o =
                        format!("HTTP/1.1 200 OK\r\n{len}Connection: close\r\n\r\n").into_bytes();
                    let data = vec![0x55u8; a.send];
                    if a.announce.is_some() {
                        o.extend_from_slice(&data);
                    } else {
                        for c in data.chunks(16 * 1024) {
                            o.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                            o.extend_from_slice(c);
                            o.extend_from_slice(b"\r\n");
                        }
                        o.extend_from_slice(b"0\r\n\r\n");
                    }
                    let _ = w.write_all(&o);
                    let _ = w.flush();
                    let _ = r.read(&mut [0u8; 1]);
                });
            }
        });
        format!("http://127.0.0.1:{port}")
    }
}

// ---------------------------------------------------------------- device and tools

fn run(exe: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .current_dir(dir)
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
    let mut all = vec!["--tee", "sim", "--state", "state"];
    all.extend_from_slice(args);
    run(env!("CARGO_BIN_EXE_suit-agent"), dir, &all)
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
    ok(run(env!("CARGO_BIN_EXE_suit-author"), dir, args))
}

/// A simulated device provisioned with one author anchor for `app`, and the author's key.
fn device(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
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

/// `suit-author create` of `name.suit` installing `fw.bin` as `app` from `uri` (optionally
/// HPKE-encrypted to anchor 1's device key), with `extra` arguments.
fn envelope(d: &Path, name: &str, uri: &str, encrypt: bool, extra: &[&str]) {
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
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["app"], "file": "fw.bin", "uri": "{uri}"{enc}}}]}}"#
        ),
    )
    .unwrap();
    let out = format!("{name}.suit");
    let json = format!("{name}.json");
    let mut args = vec!["create", &json, "-o", &out, "--payload-out", "payloads"];
    args.extend_from_slice(extra);
    author(d, &args);
}

fn status(d: &Path) -> serde_json::Value {
    let o = agent(d, &["status", "--json"]);
    serde_json::from_slice(&o.stdout).unwrap()
}

fn installed_components(d: &Path) -> u64 {
    status(d)["service"]["installed-components"]
        .as_u64()
        .unwrap()
}

fn map_get(m: &mut [(Value, Value)], key: i64) -> &mut Value {
    &mut m
        .iter_mut()
        .find(|(k, _)| k.as_integer() == Some(key.into()))
        .unwrap()
        .1
}

fn decode(b: &[u8]) -> Value {
    ciborium::from_reader(b).unwrap()
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

/// Rewrites the unsigned envelope `from` without any suit-parameter-image-size (14) in its
/// shared sequence, then signs it with the author's key into `to`.
fn without_image_size(d: &Path, from: &str, to: &str) {
    let Value::Tag(107, env) = decode(&std::fs::read(d.join(from)).unwrap()) else {
        panic!("not an envelope")
    };
    let Value::Map(mut env) = *env else { panic!() };
    let Value::Bytes(m) = map_get(&mut env, 3).clone() else {
        panic!()
    };
    let Value::Map(mut manifest) = decode(&m) else {
        panic!()
    };
    let Value::Bytes(c) = map_get(&mut manifest, 3).clone() else {
        panic!()
    };
    let Value::Map(mut common) = decode(&c) else {
        panic!()
    };
    let Value::Bytes(s) = map_get(&mut common, 4).clone() else {
        panic!()
    };
    let Value::Array(mut shared) = decode(&s) else {
        panic!()
    };
    let mut removed = 0;
    for cmd in &mut shared {
        if let Value::Map(params) = cmd {
            let before = params.len();
            params.retain(|(k, _)| k.as_integer() != Some(14.into()));
            removed += before - params.len();
        }
    }
    assert_eq!(removed, 1, "the shared sequence sets image-size once");
    *map_get(&mut common, 4) = Value::Bytes(encode(&Value::Array(shared)));
    *map_get(&mut manifest, 3) = Value::Bytes(encode(&Value::Map(common)));
    let manifest = encode(&Value::Map(manifest));
    let unsigned = suit_common::suit::author::seal_envelope(&manifest, &[], &[], &[]).unwrap();
    std::fs::write(d.join("unsigned.tmp"), unsigned).unwrap();
    author(
        d,
        &[
            "sign",
            "unsigned.tmp",
            "-o",
            to,
            "--sign-key",
            "author.priv.pem",
        ],
    );
}

fn install(d: &Path, name: &str, cap: Option<&str>) -> Output {
    // No retry: the refusals under test are not transient (and must not be retried).
    let mut args = vec!["install", name, "--net", "--retries", "0"];
    if let Some(c) = cap {
        args.extend_from_slice(&["--max-payload-bytes", c]);
    }
    agent(d, &args)
}

// ---------------------------------------------------------------- tests

#[test]
fn a_download_beyond_the_authenticated_size_is_stopped_there() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start();
    device(d);
    std::fs::write(d.join("fw.bin"), vec![7u8; 4096]).unwrap();
    envelope(
        d,
        "m",
        &format!("{base}/fw.bin"),
        false,
        &["--sign-key", "author.priv.pem"],
    );
    let before = status(d);

    // Announced one byte more than the manifest's image size; the cap (default 64 MiB, and
    // 1 MB here) would allow it. Refused before a byte reaches the TA.
    server.answer(Some(4097), 4097);
    let t = fails(install(d, "m.suit", Some("1000000")), 4);
    assert!(
        t.contains("announces 4097 bytes, more than the 4096 allowed (the manifest's authenticated image size); nothing was sent to the TA"),
        "{t}"
    );
    assert_eq!(server.requests(), 1, "not retried: {t}");
    assert_eq!(status(d), before, "the TA state changed");

    // Not announced (chunked) and longer: stopped at the authenticated size.
    server.answer(None, 300_000);
    let t = fails(install(d, "m.suit", None), 4);
    assert!(
        t.contains(
            "sent more than 4096 bytes (the manifest's authenticated image size); transfer stopped"
        ),
        "{t}"
    );
    assert_eq!(status(d), before, "the TA state changed");
}

#[test]
fn the_encrypted_form_is_bounded_by_the_fetched_ciphertext_size() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start();
    device(d);
    std::fs::write(d.join("fw.bin"), vec![9u8; 3000]).unwrap();
    envelope(
        d,
        "m",
        &format!("{base}/fw.bin"),
        true,
        &["--sign-key", "author.priv.pem"],
    );
    // The fetched buffer component's image-size is that of the ciphertext (the detached
    // payload), not of the plaintext.
    let ct: Vec<_> = std::fs::read_dir(d.join("payloads"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    assert_eq!(ct.len(), 1);
    let ct = ct[0];
    assert_ne!(ct, 3000);
    let before = status(d);
    server.answer(Some(ct + 1), 0);
    let t = fails(install(d, "m.suit", None), 4);
    assert!(
        t.contains(&format!(
            "announces {} bytes, more than the {ct} allowed (the manifest's authenticated image size)",
            ct + 1
        )),
        "{t}"
    );
    assert_eq!(status(d), before, "the TA state changed");
}

#[test]
fn without_an_image_size_the_configured_cap_bounds_the_download() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start();
    device(d);
    std::fs::write(d.join("fw.bin"), vec![7u8; 4096]).unwrap();
    envelope(d, "u", &format!("{base}/fw.bin"), false, &["--unsigned"]);
    without_image_size(d, "u.suit", "n.suit");
    let before = status(d);

    // Above the cap: refused, naming the cap.
    server.answer(Some(10_000), 0);
    let t = fails(install(d, "n.suit", Some("8000")), 4);
    assert!(
        t.contains("announces 10000 bytes, more than the 8000 allowed (the configured cap, --max-payload-bytes)"),
        "{t}"
    );
    assert_eq!(status(d), before, "the TA state changed");

    // Below the cap but not the manifest's bytes: the agent has no size to hold it to and
    // streams it in; the TA refuses it (digest), changing nothing.
    server.answer(Some(6000), 6000);
    let t = fails(install(d, "n.suit", Some("8000")), 1);
    assert!(t.contains("refused by the TA"), "{t}");
    assert!(!t.contains("allowed"), "{t}");
    assert_eq!(installed_components(d), 0);
}
