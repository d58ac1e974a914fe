//! Local payload files for `install`. Payload URIs come from a signed manifest, and any anchor
//! can sign one, however narrow its scope: so a URI never names a path on this machine. The
//! agent reads only files the operator offered on its command line: `--payload URI=FILE` (that
//! exact URI, that file) or `--payload-dir DIR` (the URI's last path segment, as a name
//! directly in DIR). A `file://` URI gets no other meaning: its path is not opened.
//!
//! A name in DIR is opened relative to the directory's descriptor with `O_NOFOLLOW`, so a
//! symbolic link there is refused and nothing outside DIR is reached, whatever is renamed
//! meanwhile. Every payload file must be a regular file, checked before it is opened and again
//! on the open descriptor; it is opened non-blocking, so a FIFO or device is refused instead
//! of blocking the agent while it holds the install lock.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, CWD};
use rustix::io::Errno;

use crate::files::payload_file_name;
use crate::tee::AgentError;

/// Why a payload URI has no local file the agent will read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadSourceError {
    /// Nothing the operator offered provides the URI (and the network may not).
    #[error("no --payload or --payload-dir file provides it{}{}", missing_dir_words(.missing_dir.as_deref()), not_offered_hint(*.file_uri))]
    NotOffered {
        /// The URI is `file://`: its path is never opened.
        file_uri: bool,
        /// The `--payload-dir` given, when it did not exist ([`PayloadSources::missing_dir`]).
        missing_dir: Option<PathBuf>,
    },
    /// A `--payload-dir` entry that is a symbolic link.
    #[error("{}: a symbolic link in --payload-dir; only regular files directly in the directory are read", .path.display())]
    Symlink { path: PathBuf },
    /// Not a regular file (a FIFO, device, directory or socket).
    #[error("{}: {kind}, not a regular file; refused", .path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    /// The file or directory could not be opened or examined.
    #[error("{}: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
}

fn missing_dir_words(dir: Option<&Path>) -> String {
    dir.map_or_else(String::new, |d| {
        format!(
            " (--payload-dir {} does not exist)",
            crate::human::printable(&d.display().to_string())
        )
    })
}

fn not_offered_hint(file_uri: bool) -> &'static str {
    if file_uri {
        " (a file:// URI is not opened as a path: offer the file with --payload URI=FILE, \
         or put it in --payload-dir under the URI's last path segment)"
    } else {
        " (give --net to fetch http(s) URIs over the network)"
    }
}

/// Whether a URI has the `file:` scheme.
pub fn is_file_uri(uri: &str) -> bool {
    uri.get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("file:"))
}

/// An opened regular payload file and its length at opening.
#[derive(Debug)]
pub struct LocalPayload {
    pub file: File,
    /// For messages.
    pub path: PathBuf,
    pub len: u64,
}

/// The local files the operator offered for an install.
#[derive(Debug, Clone, Default)]
pub struct PayloadSources {
    offered: Vec<(String, PathBuf)>,
    dir: Option<PathBuf>,
    /// `dir` did not exist when the install started.
    dir_missing: bool,
}

impl PayloadSources {
    /// From `--payload URI=FILE` options and `--payload-dir`; a malformed option is refused
    /// here, before anything reaches the TA. The option splits at its last `=`: a URI may
    /// carry `=` (a query string, `?a=b`), the local FILE may not.
    ///
    /// FILE may be any name, UTF-8 or not (the URI must be text: the manifest's URIs are). A
    /// `--payload-dir` that is not a directory (or cannot be examined) is refused too; one
    /// that does not exist offers nothing, which an install that needs nothing from it does
    /// not mind ([`PayloadSources::missing_dir`]: the caller names it in a warning).
    pub fn new(
        payloads: &[std::ffi::OsString],
        dir: Option<&Path>,
    ) -> Result<PayloadSources, AgentError> {
        use std::os::unix::ffi::OsStrExt as _;
        let offered = payloads
            .iter()
            .map(|p| {
                let shown = p.to_string_lossy();
                let bytes = p.as_bytes();
                let at = bytes.iter().rposition(|b| *b == b'=').ok_or_else(|| {
                    AgentError::File(format!("--payload {shown}: expected URI=FILE"))
                })?;
                let (uri, rest) = bytes.split_at(at);
                let file = rest.get(1..).unwrap_or_default();
                let uri = std::str::from_utf8(uri).map_err(|_| {
                    AgentError::File(format!(
                        "--payload {shown}: the URI is not UTF-8 text (a manifest's URIs are)"
                    ))
                })?;
                if file.is_empty() {
                    return Err(AgentError::File(format!(
                        "--payload {shown}: no FILE after the last '=' (expected URI=FILE)"
                    )));
                }
                Ok((
                    uri.to_string(),
                    PathBuf::from(std::ffi::OsStr::from_bytes(file)),
                ))
            })
            .collect::<Result<_, _>>()?;
        let mut dir_missing = false;
        if let Some(d) = dir {
            match std::fs::metadata(d) {
                Ok(m) if m.is_dir() => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => dir_missing = true,
                Ok(_) => {
                    return Err(AgentError::File(format!(
                        "--payload-dir {}: not a directory",
                        d.display()
                    )))
                }
                Err(e) => {
                    return Err(AgentError::File(format!(
                        "--payload-dir {}: {e}",
                        d.display()
                    )))
                }
            }
        }
        Ok(PayloadSources {
            offered,
            dir: dir.map(Path::to_path_buf),
            dir_missing,
        })
    }

    /// The `--payload-dir` given, if it did not exist when the install started: it offers
    /// nothing (named in a warning, and in the error for a payload nothing provides).
    pub fn missing_dir(&self) -> Option<&Path> {
        self.dir.as_deref().filter(|_| self.dir_missing)
    }

    /// The `--payload` URIs none of `listed` (the URIs the TA listed for the manifest) is:
    /// files offered for nothing, which the agent names.
    pub fn unlisted<'a>(&'a self, listed: &'a [String]) -> impl Iterator<Item = &'a str> + 'a {
        self.offered
            .iter()
            .map(|(u, _)| u.as_str())
            .filter(move |u| !listed.iter().any(|l| l == u))
    }

    /// Whether `uri`'s file was named with `--payload` (else it can only come from
    /// `--payload-dir`).
    pub fn is_offered(&self, uri: &str) -> bool {
        self.offered.iter().any(|(u, _)| u == uri)
    }

    /// The operator's file for `uri`, opened. `Ok(None)`: none was offered (a missing
    /// `--payload-dir` entry included); the caller decides whether the network may provide it.
    /// A file that was offered but is not a regular file (in the directory: also a symbolic
    /// link) is an error, never skipped.
    pub fn open(&self, uri: &str) -> Result<Option<LocalPayload>, AgentError> {
        let refuse = |error| AgentError::Payload {
            uri: uri.to_string(),
            error,
        };
        if let Some((_, path)) = self.offered.iter().find(|(u, _)| u == uri) {
            // The operator named this very path: it is opened as given (a link there is the
            // operator's own), but it must still be a regular file.
            return open_regular(CWD, path, path, true)
                .map(Some)
                .map_err(refuse);
        }
        let (Some(dir), Some(name)) = (&self.dir, payload_file_name(uri)) else {
            return Ok(None);
        };
        let dir_fd = match crate::files::open_dir(CWD, dir.as_path(), true) {
            Ok(fd) => fd,
            // As before: an absent directory offers nothing.
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(refuse(unreadable(dir, e))),
        };
        let shown = dir.join(name);
        match open_regular_at(&dir_fd, Path::new(name), &shown, false) {
            Ok(p) => Ok(Some(p)),
            Err(Missing) => Ok(None),
            Err(Refused(e)) => Err(refuse(e)),
        }
    }
}

/// An opening that failed: the file is absent, or refused.
enum OpenFailure {
    Missing,
    Refused(PayloadSourceError),
}
use OpenFailure::{Missing, Refused};

/// Opens `name` relative to `dir` as a regular file, non-blocking; without `follow`, a final
/// symbolic link is refused (`O_NOFOLLOW`). `shown` names it in errors.
fn open_regular_at(
    dir: impl AsFd,
    name: &Path,
    shown: &Path,
    follow: bool,
) -> Result<LocalPayload, OpenFailure> {
    let fail = |e: Errno| match e {
        Errno::NOENT => Missing,
        // O_NOFOLLOW on a link that appeared after the check below.
        Errno::LOOP if !follow => Refused(PayloadSourceError::Symlink {
            path: shown.to_path_buf(),
        }),
        e => Refused(unreadable(shown, e)),
    };
    let at = if follow {
        AtFlags::empty()
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    // Look before opening: a device is never opened at all (opening some has side effects).
    let before = rustix::fs::statat(&dir, name, at).map_err(fail)?;
    check_type(&before, shown)?;
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = rustix::fs::openat(&dir, name, flags, Mode::empty()).map_err(fail)?;
    // What was opened is what was checked: a swap in between is refused.
    let st = rustix::fs::fstat(&fd).map_err(fail)?;
    check_type(&st, shown)?;
    if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino) {
        return Err(Refused(PayloadSourceError::Unreadable {
            path: shown.to_path_buf(),
            reason: "replaced while being opened".into(),
        }));
    }
    let len = u64::try_from(st.st_size).map_err(|_| {
        Refused(PayloadSourceError::Unreadable {
            path: shown.to_path_buf(),
            reason: "negative size".into(),
        })
    })?;
    // O_NONBLOCK has no effect on reads of a regular file; it stays set.
    Ok(LocalPayload {
        file: File::from(fd),
        path: shown.to_path_buf(),
        len,
    })
}

/// [`open_regular_at`] where an absent file is an error too.
fn open_regular(
    dir: impl AsFd,
    name: &Path,
    shown: &Path,
    follow: bool,
) -> Result<LocalPayload, PayloadSourceError> {
    open_regular_at(dir, name, shown, follow).map_err(|f| match f {
        Missing => PayloadSourceError::Unreadable {
            path: shown.to_path_buf(),
            reason: "no such file".into(),
        },
        Refused(e) => e,
    })
}

/// Opens a local file the operator named (following links), refusing anything but a regular
/// file without blocking on it.
pub fn open_operator_file(path: &Path) -> Result<LocalPayload, AgentError> {
    open_regular(CWD, path, path, true).map_err(|e| AgentError::File(e.to_string()))
}

fn check_type(st: &Stat, shown: &Path) -> Result<(), OpenFailure> {
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => return Ok(()),
        FileType::Symlink => {
            return Err(Refused(PayloadSourceError::Symlink {
                path: shown.to_path_buf(),
            }))
        }
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Directory => "a directory",
        FileType::Socket => "a socket",
        FileType::Unknown => "of unknown type",
    };
    Err(Refused(PayloadSourceError::NotRegular {
        path: shown.to_path_buf(),
        kind,
    }))
}

fn unreadable(path: &Path, e: Errno) -> PayloadSourceError {
    PayloadSourceError::Unreadable {
        path: path.to_path_buf(),
        reason: std::io::Error::from(e).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::time::Duration;

    fn fifo(path: &Path) {
        rustix::fs::mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
    }

    /// `open` on another thread, failing the test instead of hanging if it blocks.
    fn open_within(sources: PayloadSources, uri: &str) -> Result<Option<LocalPayload>, AgentError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let uri = uri.to_string();
        std::thread::spawn(move || {
            let _ = tx.send(sources.open(&uri));
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("opening a payload blocked")
    }

    fn refusal(r: Result<Option<LocalPayload>, AgentError>) -> PayloadSourceError {
        match r {
            Err(AgentError::Payload { error, .. }) => error,
            other => panic!("expected a payload refusal, got {other:?}"),
        }
    }

    fn content(p: Option<LocalPayload>) -> String {
        let mut p = p.expect("a payload");
        let mut s = String::new();
        p.file.read_to_string(&mut s).unwrap();
        assert_eq!(p.len, s.len() as u64);
        s
    }

    #[test]
    fn a_file_uri_is_never_opened_as_a_path() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "secret").unwrap();
        let uri = format!("file://{}", secret.display());
        let none = PayloadSources::new(&[], None).unwrap();
        assert!(none.open(&uri).unwrap().is_none());
        let dir = tempfile::tempdir().unwrap();
        let in_dir = PayloadSources::new(&[], Some(dir.path())).unwrap();
        assert!(in_dir.open(&uri).unwrap().is_none());
        // Its last segment names a file in --payload-dir, like any other URI's.
        std::fs::write(dir.path().join("secret"), "offered").unwrap();
        assert_eq!(content(in_dir.open(&uri).unwrap()), "offered");
    }

    #[test]
    fn an_explicit_payload_is_the_named_file_for_that_uri_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("fw.bin");
        std::fs::write(&f, "fw").unwrap();
        let s = PayloadSources::new(&[format!("https://x/fw.bin={}", f.display()).into()], None)
            .unwrap();
        assert_eq!(content(s.open("https://x/fw.bin").unwrap()), "fw");
        assert!(s.open("https://x/other.bin").unwrap().is_none());
        assert!(PayloadSources::new(&["no-equals".into()], None).is_err());
        // A URI with a query string: the option splits at its last `=`.
        let uri = "https://x/get?name=fw.bin&v=2";
        let q = PayloadSources::new(&[format!("{uri}={}", f.display()).into()], None).unwrap();
        assert_eq!(content(q.open(uri).unwrap()), "fw");
        // An absent offered file is an error, not a fall-back to the network.
        let gone = PayloadSources::new(&["u=/nonexistent/fw.bin".into()], None).unwrap();
        assert!(matches!(
            refusal(gone.open("u")),
            PayloadSourceError::Unreadable { .. }
        ));
    }

    #[test]
    fn a_link_in_the_payload_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("fw.bin"))
            .unwrap();
        // A relative link that stays inside is refused too: the rule is simple.
        std::fs::write(dir.path().join("real.bin"), "real").unwrap();
        std::os::unix::fs::symlink("real.bin", dir.path().join("alias.bin")).unwrap();
        let s = PayloadSources::new(&[], Some(dir.path())).unwrap();
        for uri in ["https://x/fw.bin", "https://x/alias.bin"] {
            assert!(
                matches!(refusal(s.open(uri)), PayloadSourceError::Symlink { .. }),
                "{uri}"
            );
        }
        assert_eq!(content(s.open("https://x/real.bin").unwrap()), "real");
    }

    #[test]
    fn fifos_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        fifo(&dir.path().join("fw.bin"));
        std::fs::create_dir(dir.path().join("sub.bin")).unwrap();
        let s = PayloadSources::new(&[], Some(dir.path())).unwrap();
        let e = refusal(open_within(s.clone(), "https://x/fw.bin"));
        assert!(
            matches!(e, PayloadSourceError::NotRegular { kind: "a FIFO", .. }),
            "{e}"
        );
        let e = refusal(open_within(s, "https://x/sub.bin"));
        assert!(
            matches!(
                e,
                PayloadSourceError::NotRegular {
                    kind: "a directory",
                    ..
                }
            ),
            "{e}"
        );
        // Named explicitly, and through a link the operator made: still refused.
        std::os::unix::fs::symlink(dir.path().join("fw.bin"), dir.path().join("link")).unwrap();
        for target in ["fw.bin", "link"] {
            let arg = format!("u={}", dir.path().join(target).display());
            let s = PayloadSources::new(&[arg.into()], None).unwrap();
            let e = refusal(open_within(s, "u"));
            assert!(
                matches!(e, PayloadSourceError::NotRegular { kind: "a FIFO", .. }),
                "{e}"
            );
        }
        let dev = PayloadSources::new(&["u=/dev/null".into()], None).unwrap();
        let e = refusal(open_within(dev, "u"));
        assert!(e.to_string().contains("character device"), "{e}");
    }

    #[test]
    fn an_absent_payload_dir_offers_nothing_and_a_file_there_is_refused_naming_it() {
        let absent = PayloadSources::new(&[], Some(Path::new("/nonexistent/payloads"))).unwrap();
        assert_eq!(
            absent.missing_dir(),
            Some(Path::new("/nonexistent/payloads"))
        );
        assert!(absent.open("https://x/fw.bin").unwrap().is_none());
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = PayloadSources::new(&[], Some(f.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
        // Removed after the check: it offers nothing, as before.
        let dir = tempfile::tempdir().unwrap();
        let s = PayloadSources::new(&[], Some(dir.path())).unwrap();
        drop(dir);
        assert!(s.open("https://x/fw.bin").unwrap().is_none());
    }

    /// FILE may be any name (not UTF-8 too); the URI must be text.
    #[test]
    fn a_payload_file_name_need_not_be_utf8() {
        use std::os::unix::ffi::OsStrExt as _;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(std::ffi::OsStr::from_bytes(b"fw\xfe.bin"));
        std::fs::write(&f, "fw").unwrap();
        let mut arg = std::ffi::OsString::from("https://x/fw.bin=");
        arg.push(&f);
        let s = PayloadSources::new(&[arg], None).unwrap();
        assert_eq!(content(s.open("https://x/fw.bin").unwrap()), "fw");
        let bad_uri = std::ffi::OsStr::from_bytes(b"https://x/\xfe=fw.bin").to_os_string();
        let e = PayloadSources::new(&[bad_uri], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the URI is not UTF-8"), "{e}");
        assert_eq!(
            PayloadSources::new(&[format!("https://x/a={}", f.display()).into()], None)
                .unwrap()
                .unlisted(&["https://x/b".to_string()])
                .collect::<Vec<_>>(),
            ["https://x/a"]
        );
    }

    #[test]
    fn file_uris_are_recognised_in_any_case() {
        assert!(is_file_uri("file:///a"));
        assert!(is_file_uri("FILE:/a"));
        assert!(!is_file_uri("https://x/file:"));
        assert!(!is_file_uri("fil"));
    }
}
