//! The author tool (`suit-author`): key handling, envelope creation and signing, payload
//! encryption, offline verification on a simulated device, and inspection.
//!
//! Everything that decides runs through the same engine as the TA (`suit_common::suit`);
//! this module only adds files, key formats and a simulator [`Platform`] around it.
//!
//! [`Platform`]: suit_common::suit::Platform

pub mod create;
pub mod encrypt;
pub mod explain;
pub mod inspect;
pub mod key_statement;
pub mod keys;
pub mod provision;
pub mod receipt;
pub mod report;
pub mod sim_platform;
pub mod verify;

use std::path::{Path, PathBuf};

/// Exit status for "the input was read, and it is refused" (not authentic, not applicable).
pub const EXIT_REFUSED: i32 = 1;
/// Exit status for unusable input: missing or malformed files, bad arguments.
pub const EXIT_USAGE: i32 = 2;

/// Every failure of the author tool. Messages name the file and what is wrong with it and
/// never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
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
}

impl AuthorError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            AuthorError::Refused(_) => EXIT_REFUSED,
            _ => EXIT_USAGE,
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

/// Largest file the tool reads into memory (payloads are bounded by the engine anyway).
pub const MAX_FILE_LEN: u64 = 64 * 1024 * 1024;

/// Reads a whole file, refusing anything larger than [`MAX_FILE_LEN`].
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| AuthorError::io(path, e))?;
    if !meta.is_file() {
        return Err(AuthorError::input(path, "not a regular file"));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(AuthorError::input(
            path,
            format!(
                "file too large ({} bytes, limit {MAX_FILE_LEN})",
                meta.len()
            ),
        ));
    }
    std::fs::read(path).map_err(|e| AuthorError::io(path, e))
}

/// Writes a file, creating its parent directory if needed.
pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| AuthorError::io(parent, e))?;
    }
    std::fs::write(path, data).map_err(|e| AuthorError::io(path, e))
}

/// Reads an envelope (or other CBOR) file: raw CBOR, or hex text (whitespace ignored), which
/// is how the published SUIT examples are distributed. Binary CBOR of an envelope starts
/// with a tag or map byte, never with an ASCII hex digit, so the two cannot be confused.
pub fn read_cbor_file(path: &Path) -> Result<Vec<u8>> {
    let raw = read_file(path)?;
    if raw.is_empty() {
        return Err(AuthorError::input(path, "empty file"));
    }
    let looks_hex = raw
        .iter()
        .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace())
        && raw.iter().any(u8::is_ascii_hexdigit);
    if looks_hex {
        let clean: Vec<u8> = raw
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        return hex::decode(&clean)
            .map_err(|e| AuthorError::input(path, format!("hex text does not decode: {e}")));
    }
    Ok(raw)
}

/// The operating system's CSPRNG, as the `rand_core` 0.10 `CryptoRng` the engine takes.
pub fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// Formats bytes as lower-case hex.
pub fn hex_str(b: &[u8]) -> String {
    hex::encode(b)
}

/// Formats a key id for humans: text if printable, else hex.
pub fn kid_str(kid: &[u8]) -> String {
    match std::str::from_utf8(kid) {
        Ok(t) if !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic() || c == ' ') => {
            format!("'{t}'")
        }
        _ => format!("h'{}'", hex::encode(kid)),
    }
}
