//! A firmware server and status tracker for the networked demo (`qemu/demo.sh --net`, through
//! the `suit-fw-server` binary) and tests/tests/optee_network.rs: one implementation of the
//! layout host/README.md documents, on the host's loopback only.
//!
//! - `GET /<path>`: the file `ROOT/<path>` (plain segments only), with a content-hash `ETag`,
//!   `If-None-Match` (304) and `Range: bytes=N-` (206, for resumed downloads); `.suit` files
//!   as `application/suit-envelope+cose`.
//! - `GET /status/nonce`: 16 fresh random bytes as hex, remembered in order.
//! - `POST /status/reports`: the body (a signed report, at most [`MAX_REPORT`] bytes) stored
//!   as `REPORTS/report-NNNN.cose`: the collection `suit-author verify-report DIR` checks.
//!
//! One request per connection (`Connection: close`, what the agent sends). Requests are
//! bounded (head size, header count, body size, read timeout) and never panic the server.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest as _;

/// Where the status tracker takes reports.
pub const REPORTS_PATH: &str = "/status/reports";
/// Where the status tracker hands out nonces.
pub const NONCE_PATH: &str = "/status/nonce";
/// Largest report accepted (a signed report is a few KiB).
pub const MAX_REPORT: usize = 64 * 1024;
/// Largest file served (the demo's TA is well below).
pub const MAX_FILE: u64 = suit_common::suit::interpreter::MAX_PAYLOAD_LEN;
const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One request as the server saw it (headers with lower-case names).
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    /// The status code answered.
    pub status: u16,
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
    nonces: Vec<String>,
    reports: Vec<PathBuf>,
}

/// A running server; it serves until the process ends.
#[derive(Clone)]
pub struct FwServer {
    root: PathBuf,
    reports: PathBuf,
    port: u16,
    log: Arc<Mutex<Log>>,
    verbose: bool,
}

impl FwServer {
    /// Serves `root` and collects reports into `reports` (created) on 127.0.0.1:`port`
    /// (0: any free port). `verbose`: one line per request on standard error.
    pub fn start(root: &Path, reports: &Path, port: u16, verbose: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(reports)?;
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let me = FwServer {
            root: root.to_path_buf(),
            reports: reports.to_path_buf(),
            port: listener.local_addr()?.port(),
            log: Arc::default(),
            verbose,
        };
        let server = me.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.connection(stream));
            }
        });
        Ok(me)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// The requests to one path.
    pub fn to(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// The nonces handed out, in order.
    pub fn nonces(&self) -> Vec<String> {
        self.lock().nonces.clone()
    }

    /// The collected report files, in order.
    pub fn reports(&self) -> Vec<PathBuf> {
        self.lock().reports.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        // A panicking request thread cannot leave the log half-written: keep serving.
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connection(&self, stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
        let Ok(reader) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(reader);
        let (status, extra, body) = match read_head(&mut reader) {
            Ok((method, path, headers)) => {
                let (status, extra, body) = self.answer(&method, &path, &headers, &mut reader);
                if self.verbose {
                    eprintln!("suit-fw-server: {method} {path} -> {status}");
                }
                self.lock().seen.push(Seen {
                    method,
                    path,
                    headers,
                    status,
                });
                (status, extra, body)
            }
            Err(status) => (status, String::new(), Vec::new()),
        };
        let mut out = format!(
            "HTTP/1.1 {status} {}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            reason(status),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        let mut w = stream;
        let _ = w.write_all(&out);
        let _ = w.flush();
        // Close our side, then wait (bounded by the read timeout) for the client's close, so
        // unread request bytes cannot reset the connection before the answer is read.
        let _ = w.shutdown(Shutdown::Write);
        let _ = reader.read(&mut [0u8; 512]);
    }

    /// Status, extra header lines and body for one request.
    fn answer(
        &self,
        method: &str,
        path: &str,
        headers: &HashMap<String, String>,
        body: &mut impl std::io::Read,
    ) -> (u16, String, Vec<u8>) {
        match (method, path) {
            ("POST", REPORTS_PATH) => self.collect(headers, body),
            ("GET", NONCE_PATH) => {
                let mut n = [0u8; 16];
                if getrandom::fill(&mut n).is_err() {
                    return (500, String::new(), Vec::new());
                }
                let hex = hex::encode(n);
                self.lock().nonces.push(hex.clone());
                (200, "Content-Type: text/plain\r\n".into(), hex.into_bytes())
            }
            ("GET", _) => self.file(path, headers),
            _ => (405, String::new(), Vec::new()),
        }
    }

    fn collect(
        &self,
        headers: &HashMap<String, String>,
        body: &mut impl std::io::Read,
    ) -> (u16, String, Vec<u8>) {
        let Some(len) = headers
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        else {
            return (411, String::new(), Vec::new());
        };
        if len == 0 || len > MAX_REPORT {
            return (413, String::new(), Vec::new());
        }
        let mut report = vec![0u8; len];
        if body.read_exact(&mut report).is_err() {
            return (400, String::new(), Vec::new());
        }
        // Numbered under the lock, written whole and renamed: the collection never holds a
        // partial report.
        let mut log = self.lock();
        let file = self
            .reports
            .join(format!("report-{:04}.cose", log.reports.len() + 1));
        let tmp = file.with_extension("tmp");
        if std::fs::write(&tmp, &report)
            .and_then(|()| std::fs::rename(&tmp, &file))
            .is_err()
        {
            return (500, String::new(), Vec::new());
        }
        log.reports.push(file);
        (201, String::new(), Vec::new())
    }

    fn file(&self, path: &str, headers: &HashMap<String, String>) -> (u16, String, Vec<u8>) {
        let Some(file) = local_path(&self.root, path) else {
            return (404, String::new(), Vec::new());
        };
        let data = match std::fs::metadata(&file) {
            Ok(m) if m.is_file() && m.len() <= MAX_FILE => match std::fs::read(&file) {
                Ok(d) => d,
                Err(_) => return (404, String::new(), Vec::new()),
            },
            Ok(m) if m.is_file() => return (500, String::new(), Vec::new()),
            _ => return (404, String::new(), Vec::new()),
        };
        let etag = etag(&data);
        if headers.get("if-none-match") == Some(&etag) {
            return (304, format!("ETag: {etag}\r\n"), Vec::new());
        }
        let media = if path.ends_with(".suit") {
            "application/suit-envelope+cose"
        } else {
            "application/octet-stream"
        };
        let extra = format!("ETag: {etag}\r\nContent-Type: {media}\r\nAccept-Ranges: bytes\r\n");
        let from = headers
            .get("range")
            .filter(|_| headers.get("if-range").is_none_or(|v| v == &etag))
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok());
        match from {
            Some(first) if first < data.len() => (
                206,
                format!(
                    "{extra}Content-Range: bytes {first}-{}/{}\r\n",
                    data.len() - 1,
                    data.len()
                ),
                data[first..].to_vec(),
            ),
            Some(_) => (
                416,
                format!("Content-Range: bytes */{}\r\n", data.len()),
                Vec::new(),
            ),
            None => (200, extra, data),
        }
    }
}

/// The quoted entity tag of a file: a prefix of its SHA-256, so a new file is a new tag.
pub fn etag(data: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(sha2::Sha256::digest(data))[..32])
}

/// `ROOT/<path>` when every segment of the URL path (query dropped) is a plain name: no
/// `..`, no hidden names, no empty segments, nothing outside ROOT.
fn local_path(root: &Path, path: &str) -> Option<PathBuf> {
    let path = path.split(['?', '#']).next()?.strip_prefix('/')?;
    let mut out = root.to_path_buf();
    for seg in path.split('/') {
        let plain = !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b));
        if !plain {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

/// Request line and headers, bounded; an error is the status to answer with.
fn read_head(
    r: &mut BufReader<TcpStream>,
) -> Result<(String, String, HashMap<String, String>), u16> {
    let mut budget = MAX_HEAD;
    let mut line = |r: &mut BufReader<TcpStream>| -> Result<String, u16> {
        let mut buf = Vec::new();
        let n = r
            .by_ref()
            .take(budget as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|_| 408u16)?;
        if n > budget {
            return Err(431);
        }
        budget -= n;
        String::from_utf8(buf).map_err(|_| 400)
    };
    let request = line(r)?;
    let mut parts = request.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(400);
    };
    let mut headers = HashMap::new();
    loop {
        let h = line(r)?;
        if h.trim().is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(431);
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Ok((method.to_string(), path.to_string(), headers))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(port: u16, req: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn serves_files_with_etags_and_collects_reports() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("fw/v/c")).unwrap();
        std::fs::write(root.join("fw/v/c/envelope.suit"), b"envelope-bytes").unwrap();
        std::fs::write(dir.path().join("secret"), b"outside").unwrap();
        let s = FwServer::start(&root, &dir.path().join("reports"), 0, false).unwrap();
        let p = s.port();

        let r = get(p, "GET /fw/v/c/envelope.suit HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Type: application/suit-envelope+cose"));
        assert!(r.ends_with("\r\n\r\nenvelope-bytes"), "{r}");
        let tag = etag(b"envelope-bytes");
        assert!(r.contains(&format!("ETag: {tag}")));
        let r = get(
            p,
            &format!("GET /fw/v/c/envelope.suit HTTP/1.1\r\nIf-None-Match: {tag}\r\n\r\n"),
        );
        assert!(r.starts_with("HTTP/1.1 304 "), "{r}");
        let r = get(
            p,
            "GET /fw/v/c/envelope.suit HTTP/1.1\r\nRange: bytes=9-\r\n\r\n",
        );
        assert!(
            r.starts_with("HTTP/1.1 206 ") && r.ends_with("bytes"),
            "{r}"
        );
        // Nothing outside the root, nothing hidden.
        for bad in [
            "/../secret",
            "/fw/../../secret",
            "/fw//v",
            "/.x",
            "/fw/%2e%2e/x",
        ] {
            let r = get(p, &format!("GET {bad} HTTP/1.1\r\n\r\n"));
            assert!(r.starts_with("HTTP/1.1 404 "), "{bad}: {r}");
        }

        let r = get(p, "GET /status/nonce HTTP/1.1\r\n\r\n");
        assert!(r.ends_with(&s.nonces()[0]), "{r}");
        let r = get(
            p,
            "POST /status/reports HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        );
        assert!(r.starts_with("HTTP/1.1 201 "), "{r}");
        let r = get(
            p,
            &format!(
                "POST /status/reports HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                MAX_REPORT + 1
            ),
        );
        assert!(r.starts_with("HTTP/1.1 413 "), "{r}");
        assert_eq!(s.reports().len(), 1);
        assert_eq!(std::fs::read(&s.reports()[0]).unwrap(), b"abc");

        // An oversized head is refused, not buffered.
        let r = get(
            p,
            &format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD)),
        );
        assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
    }
}
