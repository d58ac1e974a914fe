//! The agent as a network client inside OP-TEE on QEMU (issue 12): the guest has one NIC on
//! QEMU user networking with `restrict=on` and a single forward, http://10.0.2.100/ → a server
//! this test runs on the host's 127.0.0.1. `suit-agent poll` finds the device's envelope,
//! streams it and the encrypted TA the TA names into the TA, and posts the signed report,
//! which the host verifies. The guest cannot reach anything else (checked).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use suit_tests::{
    author, boot, consumer_uuids, create_envelope, export_device_key, pem_from,
    provision_and_export_anchor_keys, repo_root, sign_provisioning, write_text, Boot,
};

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Path → (body, ETag).
type Files = HashMap<String, (Vec<u8>, String)>;

/// A static HTTP/1.1 server on 127.0.0.1 (one request per connection): GET of the files in
/// `files` (path → (body, ETag), with If-None-Match), POSTs recorded; everything logged.
#[derive(Clone, Default)]
struct Server {
    files: Arc<Mutex<Files>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(stream.try_clone().unwrap());
                    let mut w = stream;
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut it = line.split_whitespace();
                    let method = it.next().unwrap_or_default().to_string();
                    let path = it.next().unwrap_or_default().to_string();
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
                    me.seen.lock().unwrap().push(Seen {
                        method: method.clone(),
                        path: path.clone(),
                        headers: headers.clone(),
                        body,
                    });
                    let file = me.files.lock().unwrap().get(&path).cloned();
                    let mut out = match (method.as_str(), file) {
                        ("POST", _) => {
                            b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                .to_vec()
                        }
                        ("GET", Some((_, etag))) if headers.get("if-none-match") == Some(&etag) => {
                            format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
                        }
                        ("GET", Some((data, etag))) => {
                            let mut o = format!(
                                "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                data.len()
                            )
                            .into_bytes();
                            o.extend_from_slice(&data);
                            o
                        }
                        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec(),
                    };
                    let _ = w.write_all(&out);
                    let _ = w.flush();
                    out.clear();
                });
            }
        });
        port
    }

    fn serve(&self, path: &str, data: Vec<u8>, etag: &str) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_string(), (data, etag.to_string()));
    }

    fn to(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

#[test]
fn poll_installs_an_encrypted_ta_over_the_network_and_reports() {
    let (uuid_a, _) = consumer_uuids();
    let ta = repo_root().join("build/qemu/out/perso-consumer-A.ta");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let disk = d.join("data.img");

    export_device_key(&disk, d);
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    sign_provisioning(
        d,
        &format!(
            r#"{{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["hex:{}"]]}}}},
            {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}}}}}}]}}"#,
            uuid_a.replace('-', "")
        ),
    );
    provision_and_export_anchor_keys(&disk, d, &[1]);

    // The firmware server: the layout host/README.md documents.
    let vendor = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"example.com");
    let class = uuid::Uuid::new_v5(&vendor, b"qemu-armv8");
    let env_path = format!("/fw/{}/{}/envelope.suit", vendor.simple(), class.simple());
    create_envelope(
        d,
        "v1",
        &format!(
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}},
            "components": [{{"ta-uuid": "{uuid_a}", "file": "{}", "uri": "http://10.0.2.100/payloads/consumer.ta",
              "encryption": {{"content-alg": "A128GCM", "recipients": [{{"key": "anchor-1.hpke.pub.pem", "mode": "hpke"}}]}}}}]}}"#,
            ta.display()
        ),
    );
    let server = Server::default();
    let port = server.start();
    server.serve(
        &env_path,
        std::fs::read(d.join("v1.suit")).unwrap(),
        "\"v1\"",
    );
    server.serve(
        "/payloads/consumer.ta",
        std::fs::read(d.join("v1/consumer.ta")).unwrap(),
        "\"ta1\"",
    );
    let nonce = "5eed0000000000000000000000c0ffee";
    server.serve("/status/nonce", nonce.as_bytes().to_vec(), "\"n\"");

    let poll =
        "suit-agent poll http://10.0.2.100/fw --report-url http://10.0.2.100/status/reports \
                --nonce-url http://10.0.2.100/status/nonce --poll-state /data/poll.json 2>&1";
    let cmds = [
        poll.to_string(),
        format!("perso-consumer --uuid {uuid_a} hello"),
        poll.to_string(),
        "suit-agent device-key --which report".to_string(),
        // The host itself (slirp's gateway) and any other address are unreachable.
        format!("command -v wget && ! wget -q -T 5 -O /dev/null http://10.0.2.2:{port}/status/nonce 2>&1"),
        "command -v wget && ! wget -q -T 5 -O /dev/null http://10.0.2.100:81/ 2>&1".to_string(),
    ];
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let run = boot(
        Boot {
            disk: Some(&disk),
            net_to: Some(port),
            timeout_secs: Some(400),
            ..Default::default()
        },
        &refs,
    );
    run.assert_ok();
    // Command 0 is run.sh's interface setup.
    let first = &run.command(1).output;
    assert!(first.contains("installed: "), "{first}");
    assert!(first.contains("plain HTTP"), "plain HTTP is said: {first}");
    assert!(
        run.command(2).output.to_lowercase().contains("hello"),
        "the delivered TA answers: {}",
        run.command(2).output
    );
    assert!(
        run.command(3).output.contains("not modified"),
        "{}",
        run.command(3).output
    );
    write_text(d, "report.pub.pem", &pem_from(&run.command(4).output));

    // What the server saw: the envelope (media type, then conditional), the one payload URI
    // the TA named, one nonce and one report per decided attempt, and nothing else.
    let env_reqs = server.to(&env_path);
    assert_eq!(env_reqs.len(), 2);
    assert_eq!(
        env_reqs[0].headers["accept"],
        "application/suit-envelope+cose"
    );
    assert_eq!(env_reqs[1].headers["if-none-match"], "\"v1\"");
    assert_eq!(server.to("/payloads/consumer.ta").len(), 1);
    let posts = server.to("/status/reports");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].method, "POST");
    assert_eq!(
        posts[0].headers["content-type"],
        "application/suit-report+cose"
    );
    let all: Vec<String> = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert!(
        all.iter().all(|p| p == &env_path
            || p == "/payloads/consumer.ta"
            || p == "/status/nonce"
            || p == "/status/reports"),
        "{all:?}"
    );

    // The host verifies the collected report (the tracker's nonce is signed into it).
    std::fs::create_dir(d.join("collected")).unwrap();
    std::fs::write(d.join("collected/report-1.cose"), &posts[0].body).unwrap();
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
    assert_eq!(j["verified"], 1, "{t}");
    assert!(t.contains(nonce), "{t}");
}
