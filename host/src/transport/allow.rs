//! Which URLs a manifest may make the agent fetch. Any trust anchor, however narrow its scope,
//! can sign a payload URI, and the agent runs as root: without a bound, a manifest could make
//! it send GETs to loopback or internal services (and learn one bit from whether a report
//! follows). So a URI the TA names is fetched only under an operator-given prefix: by
//! default the origin of the URL the operator gave (the poll base URL, an envelope URL), plus
//! `--allow-url-prefix` entries.
//!
//! Compared on the URL as parsed by the parser the HTTP client uses (`http::Uri`), never as
//! a string prefix: scheme, host and port (default ports filled in, host names lower-cased,
//! IPv6 literals compared as addresses) must be equal, and a prefix's path matches whole
//! segments. What could make the client or the server reach something other than what was
//! compared is refused instead of being normalised: user information, a `%` in the host,
//! another spelling of an IPv4 address (`127.1` is a name here, and not equal to
//! `127.0.0.1`), and under a prefix with a path, `.`/`..` segments, backslashes and encoded
//! `.`, `/` or `\`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest `--allow-url-prefix` list: the operator's, but bounded like every other input.
pub const MAX_PREFIXES: usize = 64;

/// Why a URI the TA named is not fetched. Nothing is contacted and the URI is left to the TA
/// ([`RefusedUri`]): a verdict on the envelope only if the manifest then fetches it
/// ([`crate::tee::AgentError::UriRefused`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriRefusal {
    /// Not an `http` or `https` URI (a `coap://`, `file://` one, or no scheme).
    NotHttp,
    /// Not a URL the agent can parse unambiguously (why, in words).
    Unparseable(&'static str),
    /// Under none of the allowed prefixes (which are named).
    NotAllowed { allowed: Vec<String> },
}

impl fmt::Display for UriRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriRefusal::NotHttp => {
                f.write_str("not an http(s) URI; the agent fetches nothing else")
            }
            UriRefusal::Unparseable(why) => write!(f, "not a URL the agent fetches: {why}"),
            UriRefusal::NotAllowed { allowed } if allowed.is_empty() => f.write_str(
                "no URL is allowed (the envelope came from no URL): give --allow-url-prefix",
            ),
            UriRefusal::NotAllowed { allowed } => write!(
                f,
                "not under an allowed prefix ({}; more with --allow-url-prefix)",
                allowed.join(", ")
            ),
        }
    }
}

/// A payload URI the TA named that the agent did not fetch, and why: not sent, so the TA
/// decides (a try-each option whose condition fails never fetches its own, manifest-37).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedUri {
    pub uri: String,
    pub why: UriRefusal,
}

impl fmt::Display for RefusedUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", crate::human::printable(&self.uri), self.why)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Name(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// A URL taken apart for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    https: bool,
    host: Host,
    port: u16,
    path: String,
}

/// Whether `text` starts with `http://` or `https://` (any case): a URL the agent would
/// fetch, not a file path.
fn looks_http(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `url` split where its user information (`user:password@`, up to the last `@` of the
/// authority, as the HTTP client's parser reads it) is: (scheme and `://`, the user
/// information without its `@`, the host and the rest). `None`: it has none.
fn split_user_info(url: &str) -> Option<(&str, &str, &str)> {
    let at = url.find("://")?;
    let (scheme, rest) = url.split_at(at + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let user_end = rest.get(..authority_end)?.rfind('@')?;
    Some((
        scheme,
        rest.get(..user_end)?,
        rest.get(user_end + 1..).unwrap_or(""),
    ))
}

/// Whether `url` carries user information (`user:password@`).
pub fn has_user_info(url: &str) -> bool {
    split_user_info(url).is_some()
}

/// `url` without its user information: what an operator URL is compared and checked as
/// (its origin; the credentials are not part of it).
pub fn without_user_info(url: &str) -> std::borrow::Cow<'_, str> {
    match split_user_info(url) {
        Some((scheme, _, host)) => format!("{scheme}{host}").into(),
        None => url.into(),
    }
}

/// `url` for a message or a log line ([`crate::human::printable`]), its user information
/// (`user:password@`), if any, shown as `***@`: the credentials of an operator URL are never
/// printed.
pub fn redacted(url: &str) -> String {
    let shown = match split_user_info(url) {
        Some((scheme, _, host)) => format!("{scheme}***@{host}"),
        None => match loose_user_info(url) {
            Some((scheme, rest)) => format!("{scheme}***@{rest}"),
            None => url.to_string(),
        },
    };
    crate::human::printable(&shown).into_owned()
}

/// A URL whose would-be password holds an unencoded `/`, `?` or `#` has no user
/// information as RFC 3986 reads it (the authority ends there), yet everything up to its
/// last `@` may be a secret: (scheme and `://`, what follows that `@`). Messages hide it all,
/// over-redacting rather than printing a password.
fn loose_user_info(url: &str) -> Option<(&str, &str)> {
    let at = url.find("://")?;
    let (scheme, rest) = url.split_at(at + 3);
    let last = rest.rfind('@')?;
    Some((scheme, rest.get(last + 1..).unwrap_or("")))
}

/// `text` (a message that may quote `url`, say an HTTP client's error) with `url`'s user
/// information, wherever it occurs, shown as `***`; then [`crate::human::printable`].
pub fn redacted_in(text: &str, url: &str) -> String {
    let text = match split_user_info(url) {
        Some((_, user, _)) if !user.is_empty() => text.replace(&format!("{user}@"), "***@"),
        _ => match loose_user_info(url) {
            Some((scheme, rest)) => {
                let hidden = url.get(scheme.len()..url.len() - rest.len()).unwrap_or("");
                text.replace(hidden, "***@")
            }
            None => text.to_string(),
        },
    };
    crate::human::printable(&text).into_owned()
}

/// Checks a URL the operator gave the agent to contact (`poll`'s `--report-url`,
/// `--nonce-url`; `what` names it): an http(s) URL the agent parses unambiguously. User
/// information (`user:password@`) is allowed: the HTTP client sends it as HTTP Basic
/// credentials, and no message shows it ([`redacted`]; [`credentials_warning`] for plain
/// http). The error names the URL (its user information redacted) and why.
pub fn check_operator_url(what: &str, url: &str) -> Result<(), String> {
    parse(&without_user_info(url))
        .map(drop)
        .map_err(|e| format!("{what} {}: {e}", redacted(url)))
}

/// Checks `poll`'s `BASE_URL` as an `--allow-url-prefix` is checked, but for user
/// information ([`check_operator_url`]): an http(s) URL without a query or a fragment (the
/// device's path is appended to it: after a `?` or `#` it would not be the path fetched), its
/// path without dot segments, backslashes or encoded separators. The error names it (user
/// information redacted) and why.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let bad = |why: &str| format!("poll BASE_URL {}: {why}", redacted(url));
    if looks_http(url) && url.contains(['?', '#']) {
        return Err(bad(
            "a base URL has no query or fragment (the device's path is appended to it)",
        ));
    }
    let parsed = parse(&without_user_info(url)).map_err(|e| bad(&e.to_string()))?;
    if path_is_ambiguous(&parsed.path) {
        return Err(bad(
            "a base URL's path has no '.' or '..' segments, backslashes or encoded separators",
        ));
    }
    Ok(())
}

/// The warning for an operator URL (`what` names it) whose user information goes over plain
/// http: the HTTP client sends it as HTTP Basic credentials, which anyone on the path can
/// read. `None` for https or a URL without user information.
pub fn credentials_warning(what: &str, url: &str) -> Option<String> {
    let plain = url
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
    (plain && has_user_info(url)).then(|| {
        format!(
            "{what} {}: its user information is sent as HTTP Basic credentials, in clear over \
             plain http (anyone on the path can read them); use https",
            redacted(url)
        )
    })
}

fn parse(text: &str) -> Result<Parsed, UriRefusal> {
    if !looks_http(text) {
        return Err(UriRefusal::NotHttp);
    }
    let uri: ureq::http::Uri = text
        .parse()
        .map_err(|_| UriRefusal::Unparseable("malformed"))?;
    let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(UriRefusal::NotHttp),
    };
    let authority = uri
        .authority()
        .map(|a| a.as_str())
        .ok_or(UriRefusal::Unparseable("no host"))?;
    if authority.contains('@') {
        return Err(UriRefusal::Unparseable("user information in the URL"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (inside, after) = rest
                .split_once(']')
                .ok_or(UriRefusal::Unparseable("unbalanced brackets"))?;
            let addr: Ipv6Addr = inside
                .parse()
                .map_err(|_| UriRefusal::Unparseable("not an IPv6 address in brackets"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or(UriRefusal::Unparseable("text after the IPv6 address"))?,
                ),
            };
            (Host::V6(addr), port)
        }
        None => {
            let (name, port) = match authority.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (authority, None),
            };
            if name.is_empty() {
                return Err(UriRefusal::Unparseable("no host"));
            }
            if name.contains('%') {
                return Err(UriRefusal::Unparseable("percent-encoding in the host"));
            }
            let host = match name.parse::<Ipv4Addr>() {
                Ok(a) => Host::V4(a),
                Err(_) => Host::Name(name.to_ascii_lowercase()),
            };
            (host, port)
        }
    };
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
            .parse::<u16>()
            .map_err(|_| UriRefusal::Unparseable("port out of range"))?,
        Some(_) => return Err(UriRefusal::Unparseable("not a port number")),
    };
    Ok(Parsed {
        https,
        host,
        port,
        path: uri.path().to_string(),
    })
}

/// Whether `path` (of a URL to fetch) could be resolved by a server to a place outside the
/// segments it spells: dot segments (also with path parameters, `..;x`, which servers such
/// as Tomcat and Jetty resolve as `..`), backslashes, encoded dots or separators.
fn path_is_ambiguous(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.contains('\\')
        || ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e))
        || path.split('/').any(|s| {
            let bare = s.split(';').next().unwrap_or(s);
            bare == "." || bare == ".."
        })
}

/// One allowed prefix: an origin and the whole path segments under it.
#[derive(Debug, Clone)]
struct Prefix {
    origin: Parsed,
    /// Non-empty path segments a URL's path must start with.
    segments: Vec<String>,
    /// As the operator wrote it (or the origin it was taken from), for messages.
    shown: String,
}

impl Prefix {
    fn covers(&self, url: &Parsed) -> bool {
        if (url.https, &url.host, url.port)
            != (self.origin.https, &self.origin.host, self.origin.port)
        {
            return false;
        }
        if self.segments.is_empty() {
            return true;
        }
        if path_is_ambiguous(&url.path) {
            return false;
        }
        let mut theirs = url.path.split('/').filter(|s| !s.is_empty());
        self.segments
            .iter()
            .all(|mine| theirs.next() == Some(mine.as_str()))
    }
}

/// The URLs a manifest may make the agent fetch.
#[derive(Debug, Clone, Default)]
pub struct UrlPolicy {
    prefixes: Vec<Prefix>,
}

impl UrlPolicy {
    /// The origins of `origins_of` (URLs the operator gave: the poll base URL, an envelope
    /// URL; a file path among them gives none) and the `--allow-url-prefix` entries
    /// `prefixes`. A prefix that is not an http(s) URL, has user information, a query or a
    /// fragment, or a path with dot segments, is refused (exit 2); so is an operator URL
    /// starting `http://` or `https://` that the agent cannot take apart (a bad port, ...),
    /// which was silently no origin at all. An operator URL's user information is no part of
    /// its origin ([`without_user_info`]).
    pub fn new(origins_of: &[&str], prefixes: &[String]) -> Result<UrlPolicy, String> {
        if prefixes.len() > MAX_PREFIXES {
            return Err(format!(
                "--allow-url-prefix: at most {MAX_PREFIXES} prefixes, {} given",
                prefixes.len()
            ));
        }
        let mut policy = UrlPolicy::default();
        for url in origins_of {
            // A file path gives no origin; an http(s) URL the agent would fetch but cannot
            // take apart is the operator's mistake, not a narrower allow-list.
            if !looks_http(url) {
                continue;
            }
            // Its credentials are no part of its origin (a payload URI with user information
            // is refused below, whatever the operator's URL carries).
            let origin =
                parse(&without_user_info(url)).map_err(|e| format!("{}: {e}", redacted(url)))?;
            let shown = origin_text(&origin);
            policy.prefixes.push(Prefix {
                origin: Parsed {
                    path: "/".into(),
                    ..origin
                },
                segments: Vec::new(),
                shown,
            });
        }
        for p in prefixes {
            // Never the password of a URL given with one (refused below).
            let shown = redacted(p);
            let bad = |why: &str| format!("--allow-url-prefix {shown}: {why}");
            let origin = parse(p).map_err(|e| bad(&e.to_string()))?;
            if p.contains(['?', '#']) {
                return Err(bad("a prefix has no query or fragment"));
            }
            if path_is_ambiguous(&origin.path) {
                return Err(bad(
                    "a prefix's path has no '.' or '..' segments, backslashes or encoded separators",
                ));
            }
            let segments = origin
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            policy.prefixes.push(Prefix {
                origin,
                segments,
                shown,
            });
        }
        Ok(policy)
    }

    /// Whether the agent may fetch `uri` (a URI the TA named): checked before connecting.
    pub fn check(&self, uri: &str) -> Result<(), UriRefusal> {
        let url = parse(uri)?;
        if self.prefixes.iter().any(|p| p.covers(&url)) {
            return Ok(());
        }
        Err(UriRefusal::NotAllowed {
            allowed: self.prefixes.iter().map(|p| p.shown.clone()).collect(),
        })
    }

    /// SHA-256 (hex) of the prefixes as compared (scheme, host, port, path segments; their
    /// order, repeats and spelling aside). A [`UriRefusal::NotAllowed`] verdict depends on
    /// them as much as on the envelope: `poll` records it with this and forgets it when the
    /// operator allows other URLs.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut keys: Vec<(bool, String, u16, &[String])> = self
            .prefixes
            .iter()
            .map(|p| {
                let host = match &p.origin.host {
                    Host::Name(n) => format!("name {n}"),
                    Host::V4(a) => format!("v4 {a}"),
                    Host::V6(a) => format!("v6 {a}"),
                };
                (p.origin.https, host, p.origin.port, p.segments.as_slice())
            })
            .collect();
        keys.sort();
        keys.dedup();
        // JSON: an unambiguous encoding of the list (a segment may hold any character).
        let text = serde_json::to_vec(&keys).unwrap_or_default();
        hex::encode(sha2::Sha256::digest(&text))
    }
}

/// `scheme://host:port` of a parsed URL, for messages.
fn origin_text(u: &Parsed) -> String {
    let scheme = if u.https { "https" } else { "http" };
    match &u.host {
        Host::Name(n) => format!("{scheme}://{}:{}", crate::human::printable(n), u.port),
        Host::V4(a) => format!("{scheme}://{a}:{}", u.port),
        Host::V6(a) => format!("{scheme}://[{a}]:{}", u.port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str], prefixes: &[&str]) -> UrlPolicy {
        let prefixes: Vec<String> = prefixes.iter().map(|s| s.to_string()).collect();
        UrlPolicy::new(origins, &prefixes).unwrap()
    }

    /// Review s35: a password with an unencoded `/`, `?` or `#` ends the authority early
    /// (RFC 3986), so the URL has no user information as parsed; messages still hide
    /// everything up to its last `@`.
    #[test]
    fn a_password_with_unencoded_delimiters_is_never_shown() {
        for (url, shown) in [
            ("https://admin:Pa#ss1@host:9/fw", "https://***@host:9/fw"),
            ("https://admin:Pa/ss1@host:9/r", "https://***@host:9/r"),
            (
                "https://admin:Pa?ss1@host:9/e.suit",
                "https://***@host:9/e.suit",
            ),
            ("https://admin:Pa%23ss1@host:9/fw", "https://***@host:9/fw"),
            ("https://host:9/fw", "https://host:9/fw"),
        ] {
            assert_eq!(redacted(url), shown);
            let quoted = redacted_in(&format!("{url}: not a port number"), url);
            assert!(!quoted.contains("ss1"), "{quoted}");
        }
        let b = check_base_url("https://admin:Pa#ss1@host:9/fw").unwrap_err();
        assert!(!b.contains("ss1"), "{b}");
        let r = check_operator_url("--report-url", "https://admin:Pa/ss1@host:9/r").unwrap_err();
        assert!(!r.contains("ss1"), "{r}");
    }

    #[test]
    fn the_origin_of_the_operators_url_is_allowed_and_nothing_else() {
        let p = policy(&["http://fw.example.com/base/"], &[]);
        for ok in [
            "http://fw.example.com/p/app.bin",
            "HTTP://FW.Example.COM/p/app.bin",
            "http://fw.example.com:80/p/app.bin?x=1",
            "http://fw.example.com",
        ] {
            assert_eq!(p.check(ok), Ok(()), "{ok}");
        }
        for refused in [
            "https://fw.example.com/p/app.bin",
            "http://fw.example.com:8080/p/app.bin",
            "http://fw.example.com.evil/p/app.bin",
            "http://fw.example.com.:80/p/app.bin",
            "http://evil.example/fw.example.com/app.bin",
            "http://127.0.0.1/app.bin",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            assert!(
                matches!(p.check(refused), Err(UriRefusal::NotAllowed { .. })),
                "{refused}"
            );
        }
    }

    #[test]
    fn string_prefix_tricks_do_not_pass() {
        let p = policy(
            &["http://fw.example.com/"],
            &["https://cdn.example.com/fw/"],
        );
        // User information: refused outright, whichever side names the allowed host.
        for u in [
            "http://fw.example.com@evil.example/x",
            "http://user@fw.example.com/x",
            "https://cdn.example.com:443@10.0.0.1/fw/x",
        ] {
            assert!(
                matches!(p.check(u), Err(UriRefusal::Unparseable(_))),
                "{u}: {:?}",
                p.check(u)
            );
        }
        // Percent-encoding in the host, and in the path under a path prefix.
        for u in [
            "http://fw%2eexample.com/x",
            "https://cdn.example.com/fw/%2e%2e/admin",
            "https://cdn.example.com/fw/..%2Fadmin",
            "https://cdn.example.com/fw/../admin",
            "https://cdn.example.com/fw/./x",
            // A dot segment with path parameters, which servers such as Tomcat and Jetty
            // resolve as the dot segment (review s41).
            "https://cdn.example.com/fw/..;/admin",
            "https://cdn.example.com/fw/..;x=1/admin",
            "https://cdn.example.com/fw/.;/x",
            "https://cdn.example.com/fw/%2e%2e;/admin",
            "https://cdn.example.com/fw\\..\\admin",
            "https://cdn.example.com/fwx/app.bin",
            "https://cdn.example.com/app.bin",
            "http://cdn.example.com/fw/app.bin",
        ] {
            assert!(p.check(u).is_err(), "{u}");
        }
        assert_eq!(p.check("https://cdn.example.com/fw/app.bin"), Ok(()));
        assert_eq!(p.check("https://cdn.example.com:443/fw/a/b.bin"), Ok(()));
        assert_eq!(p.check("https://CDN.example.com/fw"), Ok(()));
    }

    #[test]
    fn addresses_are_compared_as_addresses() {
        let p = policy(&["http://127.0.0.1:8080/fw"], &["http://[::1]:9000/"]);
        assert_eq!(p.check("http://127.0.0.1:8080/p/x"), Ok(()));
        assert_eq!(p.check("http://[0:0:0:0:0:0:0:1]:9000/x"), Ok(()));
        for u in [
            "http://127.1:8080/x",
            "http://2130706433:8080/x",
            "http://0x7f.0.0.1:8080/x",
            "http://127.0.0.1:8081/x",
            "http://[::1]:8080/x",
            "http://[::1%25lo]:9000/x",
            "http://[::ffff:127.0.0.1]:8080/x",
        ] {
            assert!(p.check(u).is_err(), "{u}");
        }
    }

    #[test]
    fn what_cannot_be_fetched_is_named() {
        let p = policy(&["http://fw.example.com/"], &[]);
        assert_eq!(
            p.check("coap://fw.example.com/app.bin"),
            Err(UriRefusal::NotHttp)
        );
        assert_eq!(p.check("file:///etc/shadow"), Err(UriRefusal::NotHttp));
        assert_eq!(p.check("app.bin"), Err(UriRefusal::NotHttp));
        for u in [
            "http://fw.example.com:99999/x",
            "http://fw.example.com:/x",
            "http://fw.example.com:8o/x",
            "http:///x",
            "http://a b/x",
        ] {
            assert!(
                matches!(p.check(u), Err(UriRefusal::Unparseable(_))),
                "{u}: {:?}",
                p.check(u)
            );
        }
        // A file envelope gives no origin: nothing is allowed without a prefix.
        let none = policy(&["update.suit"], &[]);
        let refused = none.check("http://fw.example.com/x").unwrap_err();
        assert!(
            refused.to_string().contains("--allow-url-prefix"),
            "{refused}"
        );
    }

    /// The fingerprint follows what is allowed, not how the prefixes were written.
    #[test]
    fn the_fingerprint_changes_with_what_is_allowed_only() {
        let base = policy(
            &["http://127.0.0.1:8080/fw"],
            &["https://cdn.example.com/p"],
        );
        let same = policy(
            &["HTTP://127.0.0.1:8080/other"],
            &[
                "https://CDN.example.com:443/p/",
                "https://cdn.example.com/p",
            ],
        );
        assert_eq!(base.fingerprint(), same.fingerprint());
        let reordered = UrlPolicy::new(
            &[],
            &[
                "https://cdn.example.com/p".to_string(),
                "http://127.0.0.1:8080".to_string(),
            ],
        )
        .unwrap();
        assert_eq!(base.fingerprint(), reordered.fingerprint());
        for other in [
            policy(&["http://127.0.0.1:8080/fw"], &[]),
            policy(
                &["http://127.0.0.1:8080/fw"],
                &["https://cdn.example.com/p/a"],
            ),
            policy(&["http://127.0.0.1:8080/fw"], &["http://cdn.example.com/p"]),
            policy(
                &["http://127.0.0.1:8081/fw"],
                &["https://cdn.example.com/p"],
            ),
            policy(
                &["http://127.0.0.1:8080/fw"],
                &["https://cdn.example.com/p", "http://localhost:8080/p"],
            ),
        ] {
            assert_ne!(base.fingerprint(), other.fingerprint(), "{other:?}");
        }
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in [
            "ftp://x/",
            "http://u@x/",
            "http://x/a/../b",
            "http://x/a?q",
            "http://x:99999/",
            "http://x/a#f",
        ] {
            assert!(UrlPolicy::new(&[], &[bad.to_string()]).is_err(), "{bad}");
        }
        let many = vec!["http://x/".to_string(); MAX_PREFIXES + 1];
        assert!(UrlPolicy::new(&[], &many).is_err());
    }
}
