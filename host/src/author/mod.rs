//! The author tool (`suit-author`): key handling, envelope creation and signing, payload
//! encryption, offline verification on a simulated device, and inspection.
//!
//! Everything that decides runs through the same code as the TA: `verify` authenticates with
//! the engine (`suit_common::suit`), and `verify --process` runs the TA's own service on the
//! in-memory backend ([`device`]); this module only adds files and key formats around them.

pub mod create;
pub mod device;
pub mod encrypt;
pub mod explain;
pub mod hss;
pub mod identity;
pub mod inspect;
pub mod key_statement;
pub mod keys;
pub mod pkcs11;
pub mod provision;
pub mod receipt;
pub mod report;
pub mod sever;
pub mod sign;
pub mod update_management;
pub mod verify;

use std::path::{Path, PathBuf};

use crate::files::{self, FileError};

/// Exit status for "the input was read, and it is refused" (not authentic, not applicable).
pub const EXIT_REFUSED: i32 = 1;
/// Exit status for unusable input: missing or malformed files, bad arguments.
pub const EXIT_USAGE: i32 = 2;

/// Every failure of the author tool. Messages name the file and what is wrong with it and
/// never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key file is not a usable key.
    #[error("{path}: {what}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// A description file (create) is not valid.
    #[error("{path}: {what}")]
    Description {
        /// The description file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// An input file is not what it should be (not an envelope, not CBOR, ...).
    #[error("{path}: {what}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// Bad combination of arguments.
    #[error("{0}")]
    Usage(String),
    /// The envelope was read and refused by the engine (authentication, policy, commands).
    #[error("REFUSED: {0}")]
    Refused(String),
    /// Creation failed (signing, encryption, encoding).
    #[error("{0}")]
    Create(String),
    /// A stateful (HSS-LMS) signing key has made every signature it can.
    #[error(
        "{path}: HSS-LMS key exhausted: every one-time signature of this key is used; generate \
         a new key (keygen --type hss-lms) and provision its public key"
    )]
    KeyExhausted {
        /// The key file.
        path: PathBuf,
    },
    /// A stateful (HSS-LMS) signing key's advanced state could not be stored (or the key file
    /// cannot be rewritten at all): nothing was signed with it.
    #[error("{path}: {what}; nothing was signed")]
    KeyState {
        /// The key file.
        path: PathBuf,
        /// What went wrong.
        what: String,
    },
    /// A failure about the file given with a command-line option, named with the option
    /// (`--sign-key x.pem: No such file or directory`).
    #[error("{option} {source}")]
    OptionFile {
        /// The option, as typed (`--sign-key`).
        option: &'static str,
        /// The failure, which names the file.
        source: Box<AuthorError>,
    },
    /// `verify --process` applied the update on the simulated device, but it (a ChaCha20
    /// payload) or the device's trust anchors (an Ed25519 anchor, whoever signed) need
    /// algorithms the TA's default build does not enable, so such a device refuses it.
    #[error(
        "REFUSED by the default TA build: the update or the device's trust anchors \
         (--trust-anchor, --provisioning) need {}; the simulated device applied it, a TA \
         without the feature refuses it (pass --ta-features {} if the target TA has it)",
        .algorithms.join(" and "),
        .features.join(",")
    )]
    NotOnDefaultTa {
        /// The `--ta-features` names needed.
        features: Vec<&'static str>,
        /// The algorithms, in words.
        algorithms: Vec<&'static str>,
    },
}

impl AuthorError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            AuthorError::Refused(_) | AuthorError::NotOnDefaultTa { .. } => EXIT_REFUSED,
            AuthorError::OptionFile { source, .. } => source.exit_code(),
            _ => EXIT_USAGE,
        }
    }

    /// This failure named with the option that gave its file: `options` are a command's
    /// input files and the options that gave them (`""` for an argument without one). Only a
    /// failure to read or use one option's file (no other option or argument gave the same
    /// path) is named; others are returned unchanged.
    pub fn with_option(self, options: &[(&'static str, PathBuf)]) -> Self {
        let path = match &self {
            AuthorError::Io { path, .. }
            | AuthorError::Key { path, .. }
            | AuthorError::Input { path, .. }
            | AuthorError::Description { path, .. } => path,
            _ => return self,
        };
        let mut named = options.iter().filter(|(_, p)| p == path).map(|(o, _)| *o);
        match named.next() {
            Some(option) if !option.is_empty() && named.all(|o| o == option) => {
                AuthorError::OptionFile {
                    option,
                    source: Box::new(self),
                }
            }
            _ => self,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        AuthorError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn key(path: &Path, what: impl Into<String>) -> Self {
        AuthorError::Key {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    pub(crate) fn input(path: &Path, what: impl Into<String>) -> Self {
        AuthorError::Input {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}

/// Result type of the author tool.
pub type Result<T> = std::result::Result<T, AuthorError>;

impl From<FileError> for AuthorError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Io { path, source } => AuthorError::Io { path, source },
            FileError::Input { path, what } => AuthorError::Input { path, what },
        }
    }
}

pub use crate::files::MAX_FILE_LEN;

/// Reads a whole file, refusing anything larger than [`MAX_FILE_LEN`] ([`files::read_file`]).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    Ok(files::read_file(path)?)
}

/// Reads a text file whole (descriptions, lists), refusing anything larger than
/// [`files::MAX_TEXT_FILE_LEN`] ([`files::read_text_file`]).
pub fn read_text_file(path: &Path) -> Result<String> {
    Ok(files::read_text_file(path)?)
}

/// Reads an envelope (or other CBOR) file, raw or hex text ([`files::read_cbor_file`]).
pub fn read_cbor_file(path: &Path) -> Result<Vec<u8>> {
    Ok(files::read_cbor_file(path)?)
}

/// [`read_cbor_file`] of a file that should be `expected` ([`files::read_cbor_of`]: an empty
/// one is named as not being it), without looking at what else it may be.
pub fn read_cbor_of(path: &Path, expected: crate::detect::Format) -> Result<Vec<u8>> {
    Ok(files::read_cbor_of(path, expected)?)
}

/// [`read_cbor_file`] for a command taking `expected`: another of the tools' formats is
/// refused (exit 2) naming what it is and the command that takes it, before any signature
/// check ([`crate::detect::other_format`]).
pub fn read_cbor_as(path: &Path, expected: crate::detect::Format) -> Result<Vec<u8>> {
    Ok(files::read_cbor_as(
        path,
        expected,
        crate::detect::Tool::Author,
    )?)
}

/// Writes a file whole or not at all ([`files::write_output`]: a temporary file in its
/// directory, created if missing, fsync, rename, directory fsync): a failure part-way leaves
/// the old file, so an in-place `sign` never loses the only envelope. The mode is what a plain
/// write gives: the replaced file's, else 0666 less the umask. A link at `path` is replaced,
/// not written through.
pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    files::write_output(path, data).map_err(|e| AuthorError::io(path, e))
}

/// One output of a command writing several files ([`write_files`]): an ordinary file.
pub fn output<'a>(path: &'a Path, data: &'a [u8]) -> files::Output<'a> {
    files::Output {
        path,
        data,
        mode: None,
    }
}

/// One output of a command writing several files ([`write_files`]): a secret, owner-only
/// (0600) as [`write_secret`].
pub fn secret_output<'a>(path: &'a Path, data: &'a [u8]) -> files::Output<'a> {
    files::Output {
        path,
        data,
        mode: Some(0o600),
    }
}

/// Writes the files of one command together ([`files::write_outputs`]): each to a temporary
/// file first, and only once every one is written (and every target checked: a directory,
/// socket or block device where a file goes, or a parent that is not a directory, fails
/// here) renamed into place in order, the primary (envelope, encryption info, private key)
/// last. A failure before the renames changes no file ("nothing was written"); one between
/// them (or a crash) can leave companions new and the primary old, never the reverse; the
/// error then names what was written. Character devices, FIFOs and `/dev/stdout` are written
/// after the renames.
pub fn write_files(outputs: &[files::Output<'_>]) -> Result<()> {
    files::write_outputs(outputs).map_err(|e| files_error(outputs.len(), e))
}

/// Opens a command's ordinary outputs before it signs ([`files::open_outputs`]: each one's
/// directory made if missing and its temporary file created there): one that cannot be
/// written refuses the command before a stateful (HSS-LMS) key's signature is spent. Written
/// with [`write_opened_files`], as [`write_files`] writes.
pub fn open_files(paths: &[&Path]) -> Result<Vec<files::OpenedOutput>> {
    files::open_outputs(paths).map_err(|e| files_error(paths.len(), e))
}

/// Writes outputs opened with [`open_files`], each with its bytes, as [`write_files`].
pub fn write_opened_files(outputs: Vec<(files::OpenedOutput, &[u8])>) -> Result<()> {
    let count = outputs.len();
    files::write_opened(outputs).map_err(|e| files_error(count, e))
}

/// [`write_files`] for files that must not exist yet ([`files::create_outputs`]): one that
/// exists, also one made by another run meanwhile, fails the command (an I/O error of kind
/// `AlreadyExists`) and none of its files stays.
pub fn create_files(outputs: &[files::Output<'_>]) -> Result<()> {
    files::create_outputs(outputs).map_err(|e| files_error(outputs.len(), e))
}

/// A failure of a command's `count` outputs: the file and what was (not) written.
fn files_error(count: usize, e: files::OutputError) -> AuthorError {
    let note = if count < 2 {
        String::new()
    } else if e.written.is_empty() {
        "; nothing was written".to_string()
    } else {
        let written: Vec<String> = e.written.iter().map(|p| p.display().to_string()).collect();
        format!("; already written: {}", written.join(", "))
    };
    let source = std::io::Error::new(e.source.kind(), format!("{}{note}", e.source));
    AuthorError::io(&e.path, source)
}

/// Writes a secret (private key, the TPA's device model) owner-only (0600, whatever the umask
/// or the replaced file's mode), whole or not at all as [`write_file`].
pub fn write_secret(path: &Path, data: &[u8]) -> Result<()> {
    files::replace_file(path, data, 0o600).map_err(|e| AuthorError::io(path, e))
}

/// The operating system's CSPRNG, as the `rand_core` 0.10 `CryptoRng` the engine takes.
pub fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

pub use crate::human::{hex_str, kid_str};

/// Refuses to write any of `outputs` over one of `inputs` (or over another output), before
/// anything is written ([`files::check_outputs`], the rule both tools share): a usage error.
pub fn check_outputs(outputs: &[(PathBuf, String)], inputs: &[PathBuf]) -> Result<()> {
    files::check_outputs(outputs, inputs).map_err(|e| AuthorError::Usage(e.to_string()))
}
