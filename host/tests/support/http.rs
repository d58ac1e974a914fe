//! A small HTTP/1.1 (and HTTPS, rustls + rcgen) server on 127.0.0.1 for the transport tests:
//! per-path behaviours (serve with ETag/Range, drop, oversize, stall, collect POSTs), every
//! request recorded. One request per connection (`Connection: close`), as the agent expects
//! nothing more. Nothing else is contacted: every URL it hands out is a loopback one.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the server answers one path.
#[derive(Clone)]
pub enum Behaviour {
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
    /// The first answer: 200 with this ETag, no Content-Length and no chunking (the body
    /// ends where the connection closes, RFC 9112 6.3), closed after `cut` bytes; later
    /// answers are `Serve` of the whole body (304 to `If-None-Match` of the same ETag).
    CloseDelimitedFirst {
        body: Vec<u8>,
        etag: String,
        cut: usize,
    },
    /// An empty answer with this status line (`"302 Found"`) and a `Location` of `/moved`.
    Status(String),
    /// 200 announcing the whole body, then `chunk` bytes of it every `every` (a server that
    /// never stalls but is slow), until the body is sent or the client goes away.
    Trickle {
        body: Vec<u8>,
        chunk: usize,
        every: Duration,
    },
}

/// `Serve` of an octet stream.
pub fn serve(body: Vec<u8>, etag: &str) -> Behaviour {
    Behaviour::Serve {
        body,
        etag: etag.into(),
        content_type: "application/octet-stream".into(),
    }
}

/// `Serve` of an envelope (the media type manifest-37 registers).
pub fn serve_envelope(body: Vec<u8>, etag: &str) -> Behaviour {
    Behaviour::Serve {
        body,
        etag: etag.into(),
        content_type: "application/suit-envelope+cose".into(),
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A behaviour that replaces a path's route once that path has been asked `after` times.
struct Pending {
    path: String,
    after: usize,
    behaviour: Behaviour,
}

#[derive(Clone, Default)]
pub struct Server {
    routes: Arc<Mutex<HashMap<String, Behaviour>>>,
    pending: Arc<Mutex<Vec<Pending>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub fn route(&self, path: &str, b: Behaviour) {
        self.routes.lock().unwrap().insert(path.to_string(), b);
    }

    /// From the `after + 1`-th request to `path` on, answer with `b` (a publication the
    /// server makes between two rounds of a polling client, without timing assumptions).
    pub fn publish_after(&self, path: &str, after: usize, b: Behaviour) {
        self.pending.lock().unwrap().push(Pending {
            path: path.to_string(),
            after,
            behaviour: b,
        });
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// Serves plain HTTP on 127.0.0.1; returns the base URL.
    pub fn start_http(&self) -> String {
        let port = self.accept_each(|me, stream| {
            let reader = stream.try_clone().unwrap();
            me.handle(BufReader::new(reader), stream);
        });
        format!("http://127.0.0.1:{port}")
    }

    /// Serves HTTPS (certificate for 127.0.0.1 issued by `ca`); returns the base URL.
    pub fn start_https(&self, tls: Arc<rustls::ServerConfig>) -> String {
        let port = self.accept_each(move |me, stream| {
            let conn = rustls::ServerConnection::new(tls.clone()).unwrap();
            let stream = Shared(Arc::new(Mutex::new(rustls::StreamOwned::new(conn, stream))));
            me.handle(BufReader::new(stream.clone()), stream);
        });
        format!("https://127.0.0.1:{port}")
    }

    /// Listens on a free port of 127.0.0.1 and serves each connection with `serve` on its
    /// own thread; returns the port.
    fn accept_each(
        &self,
        serve: impl Fn(Self, std::net::TcpStream) + Send + Sync + Clone + 'static,
    ) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (me, serve) = (me.clone(), serve.clone());
                std::thread::spawn(move || serve(me, stream));
            }
        });
        port
    }

    fn handle<R: Read, W: Write>(&self, mut r: BufReader<R>, mut w: W) {
        let Some(seen) = read_request(&mut r) else {
            return;
        };
        let path = seen.path.clone();
        let headers = seen.headers.clone();
        {
            // Publications due before this request takes effect.
            let earlier = self.requests_to(&path).len();
            let mut pending = self.pending.lock().unwrap();
            while let Some(i) = pending
                .iter()
                .position(|p| p.path == path && earlier >= p.after)
            {
                let p = pending.remove(i);
                self.route(&p.path, p.behaviour);
            }
        }
        self.seen.lock().unwrap().push(seen);
        let behaviour = self.routes.lock().unwrap().get(&path).cloned();
        let out: Vec<u8> = match behaviour {
            None => head("404 Not Found", "", Some(0)),
            Some(Behaviour::Collect) => head("201 Created", "", Some(0)),
            Some(Behaviour::Status(status)) => head(&status, "Location: /moved\r\n", Some(0)),
            Some(Behaviour::Serve {
                body,
                etag,
                content_type,
            }) => {
                if headers.get("if-none-match") == Some(&etag) {
                    head("304 Not Modified", &format!("ETag: {etag}\r\n"), Some(0))
                } else {
                    serve_range(&headers, &body, &etag, &content_type)
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
                serve_range(&headers, &body, &etag, "application/octet-stream")
            }
            Some(Behaviour::CloseDelimitedFirst { body, etag, cut }) => {
                self.route(&path, serve_envelope(body.clone(), &etag));
                let mut o = format!(
                    "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Type: application/suit-envelope+cose\r\nConnection: close\r\n\r\n"
                )
                .into_bytes();
                o.extend_from_slice(&body[..cut]);
                let _ = w.write_all(&o);
                let _ = w.flush();
                return; // the close ends the body
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
            Some(Behaviour::Trickle { body, chunk, every }) => {
                let _ = w.write_all(&head("200 OK", "", Some(body.len() as u64)));
                for c in body.chunks(chunk.max(1)) {
                    std::thread::sleep(every);
                    if w.write_all(c).and_then(|()| w.flush()).is_err() {
                        return;
                    }
                }
                let _ = r.read(&mut [0u8; 1]);
                return;
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
        // Wait for the client to close: closing first with its bytes unread could reset the
        // connection before it has read the answer (this thread is the connection's own).
        let _ = r.read(&mut [0u8; 1]);
    }
}

/// The request line, headers (lower-case names) and a body of at most 1 MiB.
fn read_request<R: Read>(r: &mut BufReader<R>) -> Option<Seen> {
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
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
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

/// Status line and headers; `len` None means chunked.
fn head(status: &str, extra: &str, len: Option<u64>) -> Vec<u8> {
    let len = len.map_or("Transfer-Encoding: chunked\r\n".to_string(), |n| {
        format!("Content-Length: {n}\r\n")
    });
    format!("HTTP/1.1 {status}\r\n{extra}{len}Connection: close\r\n\r\n").into_bytes()
}

/// 200 with the whole body, or 206 from `Range: bytes=N-` when `If-Range` (if any) matches.
fn serve_range(
    headers: &HashMap<String, String>,
    body: &[u8],
    etag: &str,
    content_type: &str,
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
pub fn tls_server() -> (String, Arc<rustls::ServerConfig>) {
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
