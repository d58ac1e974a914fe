//! Network transport for the agent (RFC 9019's "transport" job): HTTP(S) downloads streamed
//! into a [`Sink`] (the TA), with a size cap, HTTP Range resume, retries with backoff and time
//! limits; small bounded GETs (envelopes, nonces) and one POST per report.
//!
//! The agent decides nothing here either: it fetches the URLs it is given on the command line
//! and the URIs the TA returns after authenticating a manifest (those only under the
//! operator's prefixes: [`allow`]), and hands the bytes over. Wrong
//! bytes are the TA's to refuse (digests are checked inside it); this module only refuses what
//! it can see without trusting anything: more bytes than allowed, inconsistent ranges, stalls.

pub mod allow;
pub mod local;
pub mod lock;
pub mod log;
pub mod poll;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::tee::AgentError;

/// Media type of a SUIT envelope (draft-ietf-suit-manifest-37, IANA section).
pub const ENVELOPE_MEDIA_TYPE: &str = "application/suit-envelope+cose";
/// Media type of a signed SUIT report (draft-ietf-suit-report).
pub const REPORT_MEDIA_TYPE: &str = "application/suit-report+cose";
/// Largest nonce accepted from a status tracker.
pub const MAX_NONCE: usize = 64;
/// Default cap for a payload whose size the agent has no other bound for (= the TA's limit).
pub const DEFAULT_MAX_PAYLOAD: u64 = suit_common::suit::interpreter::MAX_PAYLOAD_LEN;
/// The most bytes one payload may have, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u64,
    /// Set by the manifest's authenticated image size (else by the configured cap).
    pub authenticated: bool,
}

impl Limit {
    /// The authenticated size bound the TA gave for a payload (if any), capped by `cap`.
    pub fn new(cap: u64, authenticated: Option<u64>) -> Limit {
        match authenticated {
            Some(n) if n <= cap => Limit {
                bytes: n,
                authenticated: true,
            },
            _ => Limit {
                bytes: cap,
                authenticated: false,
            },
        }
    }

    fn why(&self) -> &'static str {
        if self.authenticated {
            "the manifest's authenticated image size"
        } else {
            "the configured cap, --max-payload-bytes"
        }
    }
}

/// Bytes read from the network per read call.
const READ_BUF: usize = 64 * 1024;
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where bytes come from: a local file (plain path or `file://`) or an HTTP(S) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Http(String),
}

impl Location {
    pub fn parse(text: &str) -> Location {
        let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Location::Http(text.to_string())
        } else if let Some(path) = text.strip_prefix("file://") {
            Location::File(PathBuf::from(path))
        } else {
            Location::File(PathBuf::from(text))
        }
    }

    /// [`Location::parse`] of a command-line argument, which need not be UTF-8: a URL only
    /// when it is UTF-8 and starts with `http://` or `https://`; any other bytes name a file
    /// (`file://` stripped), as the author tool reads its paths.
    pub fn parse_os(arg: &std::ffi::OsStr) -> Location {
        use std::os::unix::ffi::OsStrExt as _;
        match arg.to_str() {
            Some(text) => Location::parse(text),
            None => {
                let bytes = arg.as_bytes();
                let path = bytes.strip_prefix(b"file://").unwrap_or(bytes);
                Location::File(PathBuf::from(std::ffi::OsStr::from_bytes(path)))
            }
        }
    }
}

/// What a request carries, for the warning on a plain-HTTP URL: what plain HTTP gives up
/// (and what still protects it) differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carries {
    /// An envelope: the TA authenticates it.
    Envelope,
    /// A payload a manifest names: the TA checks it against the manifest.
    Payload,
    /// The status tracker's nonce for a report.
    Nonce,
    /// A signed report posted to the status tracker.
    Report,
}

impl Carries {
    /// The warning for a plain-HTTP `url` carrying this.
    fn plain_http_warning(self, url: &str) -> String {
        let what = match self {
            Carries::Envelope => {
                "anyone on the path sees which update is fetched; the TA authenticates the envelope"
            }
            Carries::Payload => {
                "anyone on the path sees the payload as sent (the ciphertext, if encrypted); the \
                 TA checks it against the manifest's digest"
            }
            Carries::Nonce => {
                "anyone on the path can read or replace the nonce; a replaced one makes the \
                 tracker refuse the report"
            }
            Carries::Report => {
                "anyone on the path can read the report (the device's state, what it \
                 installed); its signature shows any change"
            }
        };
        let credentials = if allow::has_user_info(url) {
            "; and its user information, sent as HTTP Basic credentials, can be read"
        } else {
            ""
        };
        format!(
            "{}: plain HTTP (not encrypted, server not authenticated): {what}{credentials}",
            allow::redacted(url)
        )
    }
}

fn is_plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
}

/// Limits and trust for network transfers.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// PEM file of CA certificates for HTTPS; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Cap for one payload (bytes).
    pub max_payload: u64,
    /// A read (or connect) that waits longer than this counts as a stall.
    pub stall_timeout: Duration,
    /// Time limit for one whole transfer, retries included.
    pub deadline: Duration,
    /// Further attempts after a transient failure (dropped connection, stall, 5xx).
    pub retries: u32,
    /// First wait between attempts; doubles each time (at most one minute).
    pub backoff: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            ca_file: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            stall_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(600),
            retries: 4,
            backoff: Duration::from_secs(1),
        }
    }
}

/// Files tried, in order, for the system's CA roots when no CA file is given.
const SYSTEM_ROOTS: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn load_roots(
    ca_file: Option<&Path>,
) -> Result<(Vec<ureq::tls::Certificate<'static>>, String), AgentError> {
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let (path, what) = match (ca_file, &env) {
        (Some(p), _) => (Some(p.to_path_buf()), "--ca-file"),
        (None, Some(p)) => (Some(p.clone()), "SSL_CERT_FILE"),
        (None, None) => (
            SYSTEM_ROOTS.iter().map(PathBuf::from).find(|p| p.is_file()),
            "system roots",
        ),
    };
    let Some(path) = path else {
        // No roots at all: HTTPS fails with a clear error when used.
        return Ok((Vec::new(), "no CA roots found".into()));
    };
    let pem = crate::files::read_file_max(&path, crate::files::MAX_TEXT_FILE_LEN)
        .map_err(|e| AgentError::File(format!("{e} ({what})")))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(AgentError::File(format!(
                    "{} ({what}): not PEM certificates: {e}",
                    path.display()
                )))
            }
        }
    }
    // A CA file the operator named (the option, or SSL_CERT_FILE as a missing one is) with no
    // certificate in it trusts nothing: refused as a missing one is, not found out at the
    // first HTTPS server as an unknown issuer.
    if certs.is_empty() && (ca_file.is_some() || env.is_some()) {
        return Err(AgentError::File(format!(
            "{} ({what}): no PEM certificate in the CA file",
            path.display()
        )));
    }
    let n = certs.len();
    Ok((
        certs,
        format!("{} ({what}, {n} certificates)", path.display()),
    ))
}

/// Receives a download. The agent's implementation streams into the TA (`client`).
pub trait Sink {
    /// A (new) transfer of `total` bytes (`None`: unknown) starts at offset 0; anything
    /// received before is discarded.
    fn begin(&mut self, total: Option<u64>) -> Result<(), AgentError>;
    /// The next bytes, in order.
    fn write(&mut self, data: &[u8]) -> Result<(), AgentError>;
    /// Bytes accepted so far (where a resumed transfer continues).
    fn position(&self) -> u64;
    /// The transfer is complete.
    fn finish(&mut self) -> Result<(), AgentError>;
}

/// A sink collecting into memory (envelopes, nonces, tests).
#[derive(Default)]
pub struct VecSink(pub Vec<u8>);

impl Sink for VecSink {
    fn begin(&mut self, _total: Option<u64>) -> Result<(), AgentError> {
        self.0.clear();
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<(), AgentError> {
        self.0.extend_from_slice(data);
        Ok(())
    }
    fn position(&self) -> u64 {
        self.0.len() as u64
    }
    fn finish(&mut self) -> Result<(), AgentError> {
        Ok(())
    }
}

/// Outcome of [`Net::stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streamed {
    /// The whole resource went into the sink: this many bytes.
    Bytes(u64),
    /// The server answered this status, 404 or 410: it does not have the resource (not
    /// retried; a 5xx, a timeout or a TLS failure is an error instead, as is any other 4xx).
    NotThere(u16),
}

/// A payload URI the TA named that was not sent because the server answered that it does not
/// have it ([`Streamed::NotThere`]): the TA refuses the update only if the manifest fetches it
/// (a try-each option whose condition fails never does, manifest-37).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOnServer {
    pub uri: String,
    /// The server's answer, 404 or 410.
    pub status: u16,
}

impl std::fmt::Display for NotOnServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words = if self.status == 410 {
            "gone"
        } else {
            "not found"
        };
        write!(
            f,
            "{} (the server answered HTTP {} {words})",
            crate::human::printable(&self.uri),
            self.status
        )
    }
}

/// Outcome of a conditional GET.
pub enum Conditional {
    /// 304: what the device has is current.
    NotModified,
    /// New content, with the server's entity tag (if any).
    Body { data: Vec<u8>, etag: Option<String> },
    /// More than the bytes allowed: announced by `Content-Length` (then nothing of the body
    /// was read), or sent (reading stopped one byte past the bound). With the server's
    /// entity tag, so a caller can remember what it refused.
    TooLarge {
        announced: Option<u64>,
        etag: Option<String>,
    },
}

/// What one attempt may take: the time left of the transfer's deadline.
#[derive(Clone, Copy)]
struct Request {
    end: Instant,
    left: Duration,
}

impl Request {
    /// `req` ended by the deadline: ureq's global timeout (resolve, connect, send, headers
    /// and every body read) set to the time left.
    fn bound<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        req.config().timeout_global(Some(self.left)).build()
    }

    fn is_over(&self) -> bool {
        Instant::now() >= self.end
    }
}

/// One attempt's failure: worth retrying or final.
enum Failure {
    Transient(String),
    Fatal(AgentError),
}

/// A network error naming the URL and why, both escaped for the terminal
/// ([`crate::human::printable`]: a URL comes from a manifest, `what` may quote the server),
/// the user information of an operator's URL shown as `***@` in both ([`allow::redacted`]).
fn net_error(url: &str, what: impl std::fmt::Display) -> AgentError {
    let what = what.to_string();
    AgentError::Network(format!(
        "{}: {}",
        allow::redacted(url),
        allow::redacted_in(&what, url)
    ))
}

/// An HTTP(S) client with the agent's limits.
pub struct Net {
    agent: ureq::Agent,
    cfg: NetConfig,
}

/// Longest timeout used (100 years): a larger `--stall-timeout` / `--transfer-timeout` is
/// this, which no transfer reaches, so adding it to the clock cannot overflow (a panic).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

impl Net {
    pub fn new(mut cfg: NetConfig) -> Result<Net, AgentError> {
        cfg.stall_timeout = cfg.stall_timeout.min(MAX_TIMEOUT);
        cfg.deadline = cfg.deadline.min(MAX_TIMEOUT);
        let (roots, described) = load_roots(cfg.ca_file.as_deref())?;
        log::debug(&format!("HTTPS trust: {described}"));
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            // Redirects would let a server send the agent anywhere; URLs are taken as given.
            .max_redirects(0)
            .timeout_connect(Some(cfg.stall_timeout))
            .timeout_per_read(Some(cfg.stall_timeout))
            .timeout_per_write(Some(cfg.stall_timeout))
            .timeout_recv_response(Some(cfg.stall_timeout))
            .user_agent(concat!("suit-agent/", env!("CARGO_PKG_VERSION")))
            // No proxy from the environment: the agent contacts exactly the URLs it is given.
            .proxy(None)
            .build()
            .new_agent();
        Ok(Net { agent, cfg })
    }

    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    fn note_plain(url: &str, carries: Carries) {
        if is_plain_http(url) {
            log::warn(&carries.plain_http_warning(url));
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or retries/deadline run out. Each
    /// attempt gets the time left ([`NetConfig::deadline`], from the first attempt's start)
    /// as its request's global timeout, so a server that keeps sending slowly (never
    /// stalling) cannot hold a transfer past the deadline either.
    fn with_retries<T>(
        &self,
        url: &str,
        mut attempt: impl FnMut(&mut bool, Request) -> Result<T, Failure>,
    ) -> Result<T, AgentError> {
        let start = Instant::now();
        let mut failures = 0u32;
        let mut wait = self.cfg.backoff;
        loop {
            let mut progressed = false;
            let left = self.cfg.deadline.saturating_sub(start.elapsed());
            let request = Request {
                end: Instant::now() + left,
                left: left.max(Duration::from_millis(1)),
            };
            match attempt(&mut progressed, request) {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Transient(why)) => {
                    if start.elapsed() >= self.cfg.deadline {
                        // The global timeout (or the check between reads) ended it: whatever
                        // the attempt's last error says, the time is what ran out.
                        return Err(net_error(
                            url,
                            format!(
                                "not finished in time (time limit of {} s reached, --transfer-timeout)",
                                self.cfg.deadline.as_secs()
                            ),
                        ));
                    }
                    // An attempt that moved the transfer forward does not use up a retry.
                    if progressed {
                        failures = 0;
                        wait = self.cfg.backoff;
                    } else {
                        failures += 1;
                    }
                    if failures > self.cfg.retries {
                        return Err(net_error(
                            url,
                            format!("{why} (gave up after {failures} attempts without progress)"),
                        ));
                    }
                    if start.elapsed() + wait >= self.cfg.deadline {
                        return Err(net_error(
                            url,
                            format!(
                                "{why} (time limit of {} s reached)",
                                self.cfg.deadline.as_secs()
                            ),
                        ));
                    }
                    log::warn(&format!(
                        "{}: {}; retrying in {} ms",
                        allow::redacted(url),
                        allow::redacted_in(&why, url),
                        wait.as_millis()
                    ));
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn classify(url: &str, e: ureq::Error) -> Failure {
        use ureq::Error as E;
        match e {
            E::Timeout(t) => Failure::Transient(format!("no answer in time ({t})")),
            E::Io(io) => match tls_error(&io) {
                Some(t) => Failure::Fatal(net_error(
                    url,
                    format!(
                        "TLS: {t} (trust comes from --ca-file, SSL_CERT_FILE or the system roots)"
                    ),
                )),
                None => Failure::Transient(describe_io(&io)),
            },
            E::ConnectionFailed => Failure::Transient("connection failed".into()),
            E::HostNotFound => Failure::Transient("host not found".into()),
            E::Protocol(p) => Failure::Transient(format!("HTTP protocol error: {p}")),
            E::Tls(t) => Failure::Fatal(net_error(url, format!("TLS: {t}"))),
            E::Rustls(t) => Failure::Fatal(net_error(
                url,
                format!("TLS: {t} (trust comes from --ca-file or the system roots)"),
            )),
            E::BadUri(u) => Failure::Fatal(net_error(url, format!("bad URL: {u}"))),
            other => Failure::Fatal(net_error(url, other)),
        }
    }

    fn status_failure(url: &str, code: u16) -> Failure {
        match code {
            408 | 429 | 500..=599 => Failure::Transient(format!("server answered HTTP {code}")),
            // 304 (asked without a validator), 305 and 306 are not redirects.
            301 | 302 | 303 | 307 | 308 => Failure::Fatal(net_error(
                url,
                format!("server redirects (HTTP {code}); the agent does not follow redirects: give the final URL"),
            )),
            304 => Failure::Fatal(net_error(
                url,
                "server answered HTTP 304 (not modified) to a request that was not conditional",
            )),
            _ => Failure::Fatal(net_error(url, format!("server answered HTTP {code}"))),
        }
    }

    /// Streams `url` into `sink`: at most `max` bytes; a dropped connection or stall resumes
    /// with `Range` (guarded by `If-Range` when the server gave a validator); a server that
    /// ignores the range restarts the transfer from offset 0. Returns the byte count, or
    /// [`Streamed::NotThere`] when the first answer is 404 or 410 (nothing reached `sink`).
    pub fn stream(
        &self,
        url: &str,
        limit: Limit,
        sink: &mut dyn Sink,
    ) -> Result<Streamed, AgentError> {
        Self::note_plain(url, Carries::Payload);
        let max = limit.bytes;
        let why = limit.why();
        let mut total: Option<u64> = None;
        let mut validator: Option<String> = None;
        let mut begun = false;
        // Progress means bytes beyond the furthest point reached so far: a server that
        // restarts the body and stalls at the same place again does not count as progressing.
        let mut furthest = 0u64;
        self.with_retries(url, |progressed, request| {
            let pos = if begun { sink.position() } else { 0 };
            // A transfer of unknown length cannot be resumed safely: start over.
            let resume = pos > 0 && total.is_some();
            let mut req = request
                .bound(self.agent.get(url))
                .header("Accept-Encoding", "identity");
            if resume {
                req = req.header("Range", format!("bytes={pos}-"));
                if let Some(v) = &validator {
                    req = req.header("If-Range", v.as_str());
                }
            }
            let resp = req.call().map_err(|e| Self::classify(url, e))?;
            let code = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            match code {
                // The server's definitive answer that it has no such resource, before any
                // byte was handed on: the caller decides what an absent payload means. One
                // that vanishes mid-transfer stays a failure (the sink holds part of it).
                404 | 410 if !begun => return Ok(Streamed::NotThere(code)),
                200 => {
                    let len = header("content-length")
                        .map(|v| v.trim().parse::<u64>())
                        .transpose()
                        .map_err(|_| {
                            Failure::Fatal(net_error(url, "malformed Content-Length"))
                        })?;
                    if let Some(n) = len {
                        if n > max {
                            return Err(Failure::Fatal(net_error(
                                url,
                                format!("the server announces {n} bytes, more than the {max} allowed ({why}); nothing was sent to the TA"),
                            )));
                        }
                    }
                    if resume {
                        log::info(&format!(
                            "{}: server sent the whole resource again (range not honoured or resource changed); restarting",
                            allow::redacted(url)
                        ));
                    }
                    total = len;
                    validator = header("etag").or_else(|| header("last-modified"));
                    sink.begin(total).map_err(Failure::Fatal)?;
                    begun = true;
                }
                206 if resume => {
                    let range = header("content-range").unwrap_or_default();
                    let ok = parse_content_range(&range)
                        .is_some_and(|(first, _, size)| first == pos && Some(size) == total);
                    if !ok {
                        return Err(Failure::Fatal(net_error(
                            url,
                            // `{range:?}` quotes and escapes the server's text; the size in words.
                            format!(
                                "resumed at byte {pos}, but the server sent range {range:?} for a resource of {} bytes",
                                total.map_or_else(|| "unknown".to_string(), |t| t.to_string())
                            ),
                        )));
                    }
                    log::info(&format!("{}: resuming at byte {pos}", allow::redacted(url)));
                }
                other => return Err(Self::status_failure(url, other)),
            }
            let mut reader = resp.into_body().into_reader();
            let mut buf = vec![0u8; READ_BUF];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        return Err(match tls_error(&e) {
                            Some(t) => Failure::Fatal(net_error(url, format!("TLS: {t}"))),
                            None => Failure::Transient(describe_io(&e)),
                        })
                    }
                };
                let after = sink.position() + n as u64;
                if after > max || total.is_some_and(|t| after > t) {
                    return Err(Failure::Fatal(net_error(
                        url,
                        if total.is_some_and(|t| t < max) {
                            format!(
                                "the server sent more than the {} bytes it announced; transfer stopped",
                                total.unwrap_or(max)
                            )
                        } else {
                            format!(
                                "the server sent more than {max} bytes ({why}); transfer stopped"
                            )
                        },
                    )));
                }
                sink.write(buf.get(..n).unwrap_or_default())
                    .map_err(Failure::Fatal)?;
                if after > furthest {
                    furthest = after;
                    *progressed = true;
                }
                if request.is_over() {
                    return Err(Failure::Transient("not finished in time".into()));
                }
            }
            let got = sink.position();
            if let Some(t) = total {
                if got < t {
                    return Err(Failure::Transient(format!(
                        "connection closed after {got} of {t} bytes"
                    )));
                }
            }
            sink.finish().map_err(Failure::Fatal)?;
            Ok(Streamed::Bytes(got))
        })
    }

    /// A bounded GET into memory (envelopes, nonces: `carries`), conditional on `etag` when
    /// given. A body of more than `max` bytes is [`Conditional::TooLarge`], refused from its
    /// announced length before it is read, else after `max + 1` bytes; never retried.
    pub fn get(
        &self,
        url: &str,
        max: u64,
        accept: &str,
        carries: Carries,
        etag: Option<&str>,
    ) -> Result<Conditional, AgentError> {
        Self::note_plain(url, carries);
        self.with_retries(url, |_, request| {
            let mut req = request
                .bound(self.agent.get(url))
                .header("Accept", accept)
                .header("Accept-Encoding", "identity");
            if let Some(tag) = etag {
                req = req.header("If-None-Match", tag);
            }
            let resp = req.call().map_err(|e| Self::classify(url, e))?;
            match resp.status().as_u16() {
                304 if etag.is_some() => return Ok(Conditional::NotModified),
                200 => {}
                other => return Err(Self::status_failure(url, other)),
            }
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let etag = header("etag");
            let announced = header("content-length")
                .map(|v| v.trim().parse::<u64>())
                .transpose()
                .map_err(|_| Failure::Fatal(net_error(url, "malformed Content-Length")))?;
            if announced.is_some_and(|n| n > max) {
                return Ok(Conditional::TooLarge { announced, etag });
            }
            let mut data = Vec::new();
            let mut reader = resp.into_body().into_reader().take(max + 1);
            reader
                .read_to_end(&mut data)
                .map_err(|e| Failure::Transient(describe_io(&e)))?;
            if data.len() as u64 > max {
                return Ok(Conditional::TooLarge {
                    announced: None,
                    etag,
                });
            }
            Ok(Conditional::Body { data, etag })
        })
    }

    /// POSTs `body`; success is any 2xx. Retried like downloads.
    pub fn post(&self, url: &str, content_type: &str, body: &[u8]) -> Result<u16, AgentError> {
        Self::note_plain(url, Carries::Report);
        self.with_retries(url, |_, request| {
            let resp = request
                .bound(self.agent.post(url))
                .header("Content-Type", content_type)
                .send(body)
                .map_err(|e| Self::classify(url, e))?;
            match resp.status().as_u16() {
                code @ 200..=299 => Ok(code),
                other => Err(Self::status_failure(url, other)),
            }
        })
    }
}

/// A TLS failure (certificate, handshake) inside an I/O error: never worth a retry.
fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    let inner = e.get_ref()?;
    inner.downcast_ref::<rustls::Error>().or_else(|| {
        inner.downcast_ref::<ureq::Error>().and_then(|u| match u {
            ureq::Error::Rustls(t) => Some(t),
            ureq::Error::Io(io) => tls_error(io),
            _ => None,
        })
    })
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            "the server stalled (no data within the stall timeout)".into()
        }
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe => format!("connection dropped ({e})"),
        _ => {
            // ureq wraps its own timeouts in io errors; name them as stalls too.
            let text = e.to_string();
            if text.contains("timeout") || text.contains("timed out") {
                format!("the server stalled ({text})")
            } else {
                format!("connection error ({text})")
            }
        }
    }
}

/// `bytes FIRST-LAST/SIZE` → (FIRST, LAST, SIZE), consistent or `None`.
pub fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, size) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last, size) = (
        first.trim().parse::<u64>().ok()?,
        last.trim().parse::<u64>().ok()?,
        size.trim().parse::<u64>().ok()?,
    );
    (first <= last && last < size).then_some((first, last, size))
}

/// Streams a local file the operator named into a sink: see [`feed_open`]. Anything but a
/// regular file is refused without blocking on it ([`local::open_operator_file`]).
pub fn feed_file(path: &Path, limit: Limit, sink: &mut dyn Sink) -> Result<(), AgentError> {
    feed_open(local::open_operator_file(path)?, limit, sink)
}

/// Streams an opened local file into a sink in [`READ_BUF`] pieces, so the agent's memory does
/// not grow with the payload. The length is checked against `limit` before anything is sent,
/// and a file that changes size while being read is an error (the TA refuses a short payload
/// anyway; a longer one must not be sent past what was announced).
pub fn feed_open(
    payload: local::LocalPayload,
    limit: Limit,
    sink: &mut dyn Sink,
) -> Result<(), AgentError> {
    let local::LocalPayload {
        mut file,
        path,
        len,
    } = payload;
    let path = path.as_path();
    check_file_len(path, len, limit)?;
    sink.begin(Some(len))?;
    let mut buf = vec![0u8; READ_BUF];
    let mut read = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(file_error(path, &e)),
        };
        read += n as u64;
        if read > len {
            break;
        }
        sink.write(buf.get(..n).unwrap_or_default())?;
    }
    if read != len {
        return Err(AgentError::File(format!(
            "{}: changed size while being read ({len} bytes announced to the TA)",
            path.display()
        )));
    }
    sink.finish()
}

fn file_error(path: &Path, e: &std::io::Error) -> AgentError {
    AgentError::File(format!("{}: {e}", path.display()))
}

fn check_file_len(path: &Path, len: u64, limit: Limit) -> Result<(), AgentError> {
    if len > limit.bytes {
        return Err(AgentError::File(format!(
            "{}: {} bytes, more than the {} allowed ({}); nothing was sent to the TA",
            path.display(),
            len,
            limit.bytes,
            limit.why()
        )));
    }
    Ok(())
}

/// Joins a firmware server's base URL and a relative path.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

#[cfg(test)]
// Test data: byte patterns made from small counters.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    /// Records what a sink is given, to see the shape of a transfer.
    #[derive(Default)]
    struct Recorder {
        total: Option<u64>,
        writes: Vec<usize>,
        data: Vec<u8>,
        finished: bool,
    }

    impl Sink for Recorder {
        fn begin(&mut self, total: Option<u64>) -> Result<(), AgentError> {
            self.total = total;
            Ok(())
        }
        fn write(&mut self, data: &[u8]) -> Result<(), AgentError> {
            self.writes.push(data.len());
            self.data.extend_from_slice(data);
            Ok(())
        }
        fn position(&self) -> u64 {
            self.data.len() as u64
        }
        fn finish(&mut self) -> Result<(), AgentError> {
            self.finished = true;
            Ok(())
        }
    }

    #[test]
    fn local_files_are_streamed_in_bounded_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payload");
        let content: Vec<u8> = (0..(3 * READ_BUF + 123)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let mut sink = Recorder::default();
        feed_file(&path, Limit::new(1 << 20, None), &mut sink).unwrap();
        assert_eq!(sink.total, Some(content.len() as u64));
        assert!(sink.writes.len() >= 4, "{:?}", sink.writes);
        assert!(
            sink.writes.iter().all(|&n| n <= READ_BUF),
            "{:?}",
            sink.writes
        );
        assert_eq!(sink.data, content);
        assert!(sink.finished);
    }

    #[test]
    fn local_files_over_the_limit_are_refused_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payload");
        std::fs::write(&path, vec![7u8; 1001]).unwrap();
        let mut sink = Recorder::default();
        let err = feed_file(&path, Limit::new(4096, Some(1000)), &mut sink).unwrap_err();
        assert!(
            err.to_string().contains("authenticated image size"),
            "{err}"
        );
        assert_eq!(sink.total, None);
        assert!(sink.writes.is_empty() && !sink.finished);
    }

    #[test]
    fn content_range_is_parsed_strictly() {
        assert_eq!(parse_content_range("bytes 5-9/10"), Some((5, 9, 10)));
        assert_eq!(parse_content_range("bytes 5-9/9"), None);
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range(""), None);
    }

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("HTTPS://x/y"),
            Location::Http("HTTPS://x/y".into())
        );
        assert_eq!(
            Location::parse("file:///a/b"),
            Location::File("/a/b".into())
        );
        assert_eq!(Location::parse("a/b"), Location::File("a/b".into()));
        assert_eq!(join("http://h/base/", "/x/y"), "http://h/base/x/y");
    }
}
