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
pub mod inspect;
pub mod key_statement;
pub mod keys;
pub mod pkcs11;
pub mod provision;
pub mod receipt;
pub mod report;
pub mod sever;
pub mod sign;
pub mod sim_platform;
pub mod update_management;
pub mod verify;

use std::path::{Path, PathBuf};

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
/// `-` reads standard input (bounded like a file).
pub fn read_cbor_file(path: &Path) -> Result<Vec<u8>> {
    let raw = if path == Path::new("-") {
        read_stdin()?
    } else {
        read_file(path)?
    };
    if raw.is_empty() {
        return Err(AuthorError::input(path, "empty file (not an envelope)"));
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

/// Refuses to write any of `outputs` over one of `inputs` (or over another output): the tool
/// never destroys a file it reads, e.g. a plaintext payload sitting where its ciphertext would
/// go. Checked before anything is written; same file = same path after resolving links, or
/// (Unix) the same device and inode.
pub fn check_outputs(outputs: &[(PathBuf, String)], inputs: &[PathBuf]) -> Result<()> {
    fn identity(p: &Path) -> Option<PathBuf> {
        if let Ok(c) = std::fs::canonicalize(p) {
            return Some(c);
        }
        // Not there yet: its directory resolved, plus the name.
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = std::fs::canonicalize(parent.unwrap_or(Path::new("."))).ok()?;
        Some(dir.join(p.file_name()?))
    }
    #[cfg(unix)]
    fn inode(p: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    fn inode(_: &Path) -> Option<(u64, u64)> {
        None
    }
    let same = |a: &Path, b: &Path| {
        (identity(a).is_some() && identity(a) == identity(b))
            || (inode(a).is_some() && inode(a) == inode(b))
    };
    for (i, (out, what)) in outputs.iter().enumerate() {
        if let Some(input) = inputs.iter().find(|input| same(out, input)) {
            return Err(AuthorError::Usage(format!(
                "refusing to write {what} to {}: that file is an input ({}); nothing was written \
                 (choose another output directory or name)",
                out.display(),
                input.display()
            )));
        }
        if let Some((other, other_what)) = outputs[..i].iter().find(|(o, _)| same(out, o)) {
            return Err(AuthorError::Usage(format!(
                "refusing to write {what} and {other_what} to the same file {}; nothing was \
                 written",
                other.display()
            )));
        }
    }
    Ok(())
}

/// Standard input, refusing more than [`MAX_FILE_LEN`] bytes.
fn read_stdin() -> Result<Vec<u8>> {
    use std::io::Read as _;
    let path = Path::new("-");
    let mut data = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_FILE_LEN + 1)
        .read_to_end(&mut data)
        .map_err(|e| AuthorError::io(path, e))?;
    if data.len() as u64 > MAX_FILE_LEN {
        return Err(AuthorError::input(
            path,
            format!("standard input exceeds {MAX_FILE_LEN} bytes"),
        ));
    }
    Ok(data)
}
