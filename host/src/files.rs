//! Reading the files both tools take (envelopes, reports, payloads), and the rule mapping a
//! payload URI to a file name: one copy for the agent and the author tool, outside the
//! author code (the agent is built without it).

use std::io::Write as _;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not what it should be (too large, empty, bad hex text).
    #[error("{path}: {what}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
}

impl FileError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        FileError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn input(path: &Path, what: impl Into<String>) -> Self {
        FileError::Input {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}

type Result<T> = std::result::Result<T, FileError>;

/// Largest file either tool reads into memory (payloads are bounded by the engine anyway).
pub const MAX_FILE_LEN: u64 = suit_common::suit::interpreter::MAX_PAYLOAD_LEN;

/// Largest text file parsed whole (descriptions, device and key lists, the poll state, CA
/// certificates, PEM files of the simulator): far above any real one (a 10,000-device fleet
/// list is about 1 MiB), far below what a payload may be.
pub const MAX_TEXT_FILE_LEN: u64 = 4 * 1024 * 1024;

/// Reads a whole file, refusing anything larger than [`MAX_FILE_LEN`].
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    read_file_max(path, MAX_FILE_LEN)
}

/// Reads a whole text file (UTF-8), refusing anything larger than [`MAX_TEXT_FILE_LEN`].
/// A binary file of another of the tools' formats (an envelope given as a description) is
/// named ("not text (UTF-8): this is a SUIT envelope").
pub fn read_text_file(path: &Path) -> Result<String> {
    String::from_utf8(read_file_max(path, MAX_TEXT_FILE_LEN)?).map_err(|e| {
        let what = match crate::detect::detect(e.as_bytes()) {
            Some(found) => format!("not text (UTF-8): this is {}", found.name()),
            None => "not text (UTF-8)".to_string(),
        };
        FileError::input(path, what)
    })
}

/// Refuses a list of files (one path per line) that is a key file or a JSON document: its
/// lines are no paths ("-----BEGIN PUBLIC KEY-----: No such file or directory" otherwise).
pub fn check_is_list(path: &Path, text: &str, what: &str) -> Result<()> {
    use crate::detect::Format;
    match crate::detect::detect(text.as_bytes()) {
        Some(found @ (Format::Pem | Format::Json)) => Err(FileError::input(
            path,
            format!("this is {}, not {what}", found.name()),
        )),
        _ => Ok(()),
    }
}

/// Reads a whole regular file, refusing one larger than `max` bytes (the error names the file
/// and the bound). The file is checked before it is opened (a FIFO would block the open) and
/// read through the opened descriptor at most `max + 1` bytes, so a file that grows after the
/// check is refused too, and memory never exceeds the bound.
pub fn read_file_max(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let (file, _) = open_regular_max(path, max)?;
    let mut data = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| FileError::io(path, e))?;
    if data.len() as u64 > max {
        return Err(too_large(path, &format!("more than {max}"), max));
    }
    Ok(data)
}

/// The refusal of a file over `max` bytes (`len`: its size as known).
fn too_large(path: &Path, len: &str, max: u64) -> FileError {
    FileError::input(path, format!("file too large ({len} bytes, limit {max})"))
}

/// Opens a regular file of at most `max` bytes for the bounded readers: checked before the
/// open (a FIFO would block it), then through the opened descriptor (`is_file`), whose
/// metadata is returned.
fn open_regular_max(path: &Path, max: u64) -> Result<(std::fs::File, std::fs::Metadata)> {
    let meta = std::fs::metadata(path).map_err(|e| FileError::io(path, e))?;
    if !meta.is_file() {
        return Err(FileError::input(path, "not a regular file"));
    }
    if meta.len() > max {
        return Err(too_large(path, &meta.len().to_string(), max));
    }
    let file = std::fs::File::open(path).map_err(|e| FileError::io(path, e))?;
    let meta = file.metadata().map_err(|e| FileError::io(path, e))?;
    if !meta.is_file() {
        return Err(FileError::input(path, "not a regular file"));
    }
    Ok((file, meta))
}

/// [`read_file_max`] of a file holding a secret (a private or symmetric key file): read into
/// one block sized from the file's length before any byte is read, so no outgrown copy of the
/// secret is freed unwiped (`read_to_end` grows its buffer as it reads), and wiped when
/// dropped. A file that grows while it is read is refused.
pub fn read_secret_file_max(path: &Path, max: u64) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    use std::io::Read as _;
    let (mut file, meta) = open_regular_max(path, max)?;
    if meta.len() > max {
        return Err(too_large(path, &meta.len().to_string(), max));
    }
    // One byte more than the file holds: a read that fills it says the file grew.
    let room = usize::try_from(meta.len())
        .map_err(|_| too_large(path, &meta.len().to_string(), max))?
        .saturating_add(1);
    let mut data = zeroize::Zeroizing::new(vec![0u8; room]);
    let mut filled = 0;
    while let Some(rest) = data.get_mut(filled..).filter(|r| !r.is_empty()) {
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FileError::io(path, e)),
        }
    }
    if filled >= room {
        return Err(FileError::input(
            path,
            "the file grew while it was read (read it again once it is written)",
        ));
    }
    data.truncate(filled);
    Ok(data)
}

/// Reads an envelope (or other CBOR) file: raw CBOR, or hex text (whitespace ignored), which
/// is how the published SUIT examples are distributed. Binary CBOR of an envelope starts
/// with a tag or map byte, never with an ASCII hex digit, so the two cannot be confused.
/// `-` reads standard input (bounded like a file).
pub fn read_cbor_file(path: &Path) -> Result<Vec<u8>> {
    read_cbor_expecting(path, None)
}

/// [`read_cbor_file`] of a file that should be `expected`, which an empty one is named as
/// not being ("empty file (not a signed SUIT report)").
pub fn read_cbor_of(path: &Path, expected: crate::detect::Format) -> Result<Vec<u8>> {
    read_cbor_expecting(path, Some(expected))
}

fn read_cbor_expecting(path: &Path, expected: Option<crate::detect::Format>) -> Result<Vec<u8>> {
    let raw = if path == Path::new("-") {
        read_stdin()?
    } else {
        read_file(path)?
    };
    if raw.is_empty() {
        return Err(FileError::input(
            path,
            match expected {
                Some(f) => format!("empty file (not {})", f.name()),
                None => "empty file".to_string(),
            },
        ));
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
            .map_err(|e| FileError::input(path, format!("hex text does not decode: {e}")));
    }
    Ok(raw)
}

/// [`read_cbor_file`] for a command of `tool` taking `expected`: another of the tools'
/// formats is refused naming what it is and the command that takes it
/// ([`crate::detect::other_format`]), before any signature check or TA call.
pub fn read_cbor_as(
    path: &Path,
    expected: crate::detect::Format,
    tool: crate::detect::Tool,
) -> Result<Vec<u8>> {
    let bytes = read_cbor_of(path, expected)?;
    match crate::detect::other_format(&bytes, expected, tool) {
        Some(what) => Err(FileError::input(path, what)),
        None => Ok(bytes),
    }
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
        .map_err(|e| FileError::io(path, e))?;
    if data.len() as u64 > MAX_FILE_LEN {
        return Err(FileError::input(
            path,
            format!("standard input exceeds {MAX_FILE_LEN} bytes"),
        ));
    }
    Ok(data)
}

/// The payload file name for a URI: its last path segment, without query or fragment.
/// `None` if that is empty, `.` or `..` (never a path outside the payload directory).
pub fn payload_file_name(uri: &str) -> Option<&str> {
    let no_fragment = uri.split('#').next().unwrap_or("");
    let path = no_fragment.split('?').next().unwrap_or("");
    let last = path.rsplit(['/', '\\']).next().unwrap_or("");
    if last.is_empty() || last == "." || last == ".." || last.contains(':') {
        return None;
    }
    Some(last)
}

/// The file `path` names, as a path that is the same for every spelling of one file, also
/// before it or its directories exist (so two outputs, or an output and an input, that would
/// be one file are caught before anything is written): made absolute and resolved component
/// by component as the kernel will once the missing directories are made (`create_dir_all`).
/// An existing prefix is canonicalised (links followed: `..` after a linked directory leaves
/// its target, not the link); `.` is dropped; below the first missing component, which will
/// be a new directory (never a link), `..` removes the component before it. A component that
/// cannot be looked at counts as missing, so there is always an answer.
pub fn path_identity(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut at = std::fs::canonicalize(".").unwrap_or_else(|_| PathBuf::from("."));
    // How many trailing components of `at` do not exist (each to be a new directory).
    let mut missing = 0usize;
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => {
                at = PathBuf::from(c.as_os_str());
                missing = 0;
            }
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop();
                missing = missing.saturating_sub(1);
            }
            Component::Normal(name) => {
                at.push(name);
                if missing == 0 {
                    match std::fs::canonicalize(&at) {
                        Ok(real) => at = real,
                        Err(_) => missing = 1,
                    }
                } else {
                    missing += 1;
                }
            }
        }
    }
    at
}

/// Whether `a` and `b` are one file: the same [`path_identity`], or (both existing) the same
/// device and inode (hard links, bind mounts).
pub fn same_file(a: &Path, b: &Path) -> bool {
    fn inode(p: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
    }
    path_identity(a) == path_identity(b) || inode(a).is_some_and(|i| inode(b) == Some(i))
}

/// Whether two outputs write one file. An output replaces a symbolic link at its name
/// instead of writing through it, so the name counts, not where a link there leads: the
/// [`path_identity`] of the directory and the name, or (both existing) the same device and
/// inode, not following a final link (hard links).
fn same_output(a: &Path, b: &Path) -> bool {
    fn named(p: &Path) -> PathBuf {
        match (p.parent(), p.file_name()) {
            (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => path_identity(dir).join(name),
            (Some(_), Some(name)) => path_identity(Path::new(".")).join(name),
            _ => path_identity(p),
        }
    }
    fn inode(p: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::symlink_metadata(p)
            .ok()
            .map(|m| (m.dev(), m.ino()))
    }
    named(a) == named(b) || inode(a).is_some_and(|i| inode(b) == Some(i))
}

/// Why [`check_outputs`] refuses a command's outputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputClash {
    /// An output is one of the command's inputs.
    #[error(
        "refusing to write {what} to {}: that file is an input ({}); nothing was written \
         (choose another output directory or name)",
        .output.display(),
        .input.display()
    )]
    Input {
        /// The output, as given.
        output: PathBuf,
        /// What it is.
        what: String,
        /// The input it is, as given.
        input: PathBuf,
    },
    /// Two outputs are one file.
    #[error("refusing to write {what} and {other} to the same file {}; nothing was written", .path.display())]
    Outputs {
        /// The earlier output's path, as given.
        path: PathBuf,
        /// What the later output is.
        what: String,
        /// What the earlier one is.
        other: String,
    },
}

/// Refuses a command's `outputs` (each with what it is, in words) if one would be written
/// over one of its `inputs` ([`same_file`], a link followed) or over another output
/// ([`same_output`]): no tool destroys a file it reads (a plaintext payload where its
/// ciphertext would go), and no output silently replaces another. Checked before anything is
/// made or written; both tools' one rule.
pub fn check_outputs(
    outputs: &[(PathBuf, String)],
    inputs: &[PathBuf],
) -> std::result::Result<(), OutputClash> {
    for (i, (out, what)) in outputs.iter().enumerate() {
        // A standard stream (`-` too) is no file an input could be.
        let stream = standard_stream(out).is_some();
        if let Some(input) = inputs.iter().find(|input| !stream && same_file(out, input)) {
            return Err(OutputClash::Input {
                output: out.clone(),
                what: what.clone(),
                input: input.clone(),
            });
        }
        if let Some((other, other_what)) = outputs.iter().take(i).find(|(o, _)| same_output(out, o))
        {
            return Err(OutputClash::Outputs {
                path: other.clone(),
                what: what.clone(),
                other: other_what.clone(),
            });
        }
    }
    Ok(())
}

/// Opens the directory `name` relative to `at` (`rustix::fs::CWD` for a path as given);
/// without `follow`, a symbolic link there is refused (`ELOOP`), as is anything not a
/// directory (`ENOTDIR`).
pub fn open_dir(
    at: impl std::os::fd::AsFd,
    name: impl rustix::path::Arg,
    follow: bool,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    rustix::fs::openat(at, name, flags, Mode::empty())
}

/// The start of every temporary name `name` is written under ([`Temporary`]): `.suit-tmp\`
/// and 32 hex digits of the SHA-256 of `name` (42 bytes whatever the name's length, so a name
/// up to NAME_MAX can be written; distinct names in one directory get distinct prefixes). The
/// backslash keeps every temporary name apart from every name the TA approves for the normal
/// world (it refuses a path segment with one: `suit_common::service::components::classify`),
/// so removing a leftover never deletes an approved file.
pub fn temporary_prefix(name: &std::ffi::OsStr) -> std::ffi::OsString {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(name.as_encoded_bytes());
    let mut tmp = std::ffi::OsString::from(".suit-tmp\\");
    tmp.push(hex::encode(digest.get(..16).unwrap_or_default()));
    tmp
}

/// One writer's temporary file: named [`temporary_prefix`], `.`, the process id, `.` and 16
/// random hex digits, so concurrent writers of one file (two runs, two threads) never share
/// one; created exclusively and held under an exclusive `flock` until it is renamed or
/// removed, which is how a later writer tells a crashed run's leftover (removed) from a live
/// one (left alone): [`remove_leftovers`]. Removed when dropped unless renamed (an output
/// opened but never written, [`OpenedOutput`], leaves nothing behind).
struct Temporary {
    /// The directory it is in (its own descriptor).
    dir: std::os::fd::OwnedFd,
    file: std::fs::File,
    name: std::ffi::OsString,
}

/// What a test runs in [`Temporary::create`] between creating a temporary file and locking it.
#[cfg(test)]
type BeforeLock = Box<dyn FnMut(&std::ffi::OsStr)>;

#[cfg(test)]
thread_local! {
    /// Run by [`Temporary::create`] on this thread with each temporary name it creates, before
    /// locking the file: a test's way in to that moment.
    static BEFORE_LOCK: std::cell::RefCell<Option<BeforeLock>> =
        const { std::cell::RefCell::new(None) };
}

impl Temporary {
    /// Creates a new, empty temporary file for `name` in `dir` (mode 0, locked), after
    /// removing the leftovers of `name` there: what an output needs from its directory
    /// (write access, a free name, room for an inode) is tried here, before its bytes exist,
    /// so a command can refuse an unwritable output before it does anything irreversible
    /// (a probe: [`open_target`] creates one and drops it at once).
    ///
    /// The file is created with mode 0 and given its mode only once locked and written
    /// ([`Temporary::fill`]), and the lock is never waited for: a file another user could
    /// open before it is locked could be locked by them first, which would stall this write
    /// (and the agent's lock held around it) for as long as they like.
    fn create(dir: std::os::fd::BorrowedFd<'_>, name: &std::ffi::OsStr) -> std::io::Result<Self> {
        use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};
        let prefix = temporary_prefix(name);
        remove_leftovers(dir, &prefix)?;
        // A cleaner may take a file created here for a leftover in the moment before it is
        // locked (and unlink it, or still hold it): then another name is tried.
        for _ in 0..8 {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(std::io::Error::other)?;
            let mut tmp = prefix.clone();
            tmp.push(format!(".{}.{}", std::process::id(), hex::encode(random)));
            let fd = match rustix::fs::openat(
                dir,
                &tmp,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Err(rustix::io::Errno::EXIST) => continue,
                r => r?,
            };
            #[cfg(test)]
            BEFORE_LOCK.with_borrow_mut(|hook| {
                if let Some(hook) = hook {
                    hook(&tmp);
                }
            });
            // Where flock is not supported, no cleaner can lock the file either (it then
            // leaves it).
            if let Err(rustix::io::Errno::WOULDBLOCK) =
                rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive)
            {
                // Created here exclusively: the name is ours to remove while it is this file.
                let ours = rustix::fs::fstat(&fd)?;
                if rustix::fs::statat(dir, &tmp, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino))
                {
                    let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
                }
                continue;
            }
            if rustix::fs::fstat(&fd)?.st_nlink == 0 {
                continue;
            }
            let dir = match dir.try_clone_to_owned() {
                Ok(d) => d,
                Err(e) => {
                    let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
                    return Err(e);
                }
            };
            return Ok(Temporary {
                dir,
                file: std::fs::File::from(fd),
                name: tmp,
            });
        }
        Err(std::io::Error::other(
            "no temporary file could be created: each was removed or locked by another \
             process at once",
        ))
    }

    /// Gives the temporary file exactly `mode` (not narrowed by the umask either) and writes
    /// `data` to it, fsync'd. A failed write removes it.
    fn fill(&self, data: &[u8], mode: u32) -> std::io::Result<()> {
        let written = (|| -> std::io::Result<()> {
            rustix::fs::fchmod(&self.file, rustix::fs::Mode::from_raw_mode(mode))?;
            (&self.file).write_all(data)?;
            self.file.sync_all()
        })();
        if written.is_err() {
            self.remove();
        }
        written
    }

    /// [`Temporary::create`] and [`Temporary::fill`].
    fn write(
        dir: std::os::fd::BorrowedFd<'_>,
        name: &std::ffi::OsStr,
        data: &[u8],
        mode: u32,
    ) -> std::io::Result<Self> {
        let t = Self::create(dir, name)?;
        t.fill(data, mode)?;
        Ok(t)
    }

    /// Removes the temporary file (its lock goes when it is dropped).
    fn remove(&self) {
        let _ = rustix::fs::unlinkat(&self.dir, &self.name, rustix::fs::AtFlags::empty());
    }

    /// Renames the temporary file to `name` in `dir`: with `replace`, over what is there (a
    /// link at `name` is replaced, not followed); without, only if nothing is, atomically
    /// (`RENAME_NOREPLACE`, or a hard link where the file system lacks it), so a file another
    /// process makes there in the meantime is never replaced (`AlreadyExists`). On failure
    /// the temporary file is removed.
    fn rename(&self, name: &std::ffi::OsStr, replace: bool) -> std::io::Result<()> {
        use rustix::io::Errno;
        let dir = &self.dir;
        let renamed = if replace {
            rustix::fs::renameat(dir, &self.name, dir, name)
        } else {
            match rustix::fs::renameat_with(
                dir,
                &self.name,
                dir,
                name,
                rustix::fs::RenameFlags::NOREPLACE,
            ) {
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                    rustix::fs::linkat(dir, &self.name, dir, name, rustix::fs::AtFlags::empty())
                }
                r => r,
            }
        };
        // After a hard link (or a failure) the temporary name is still there.
        self.remove();
        Ok(renamed?)
    }
}

impl Drop for Temporary {
    /// An unrenamed temporary file is removed (after a rename its name is gone already).
    fn drop(&mut self) {
        self.remove();
    }
}

/// Removes what a crashed writer left in `dir` under a temporary name starting with `prefix`
/// ([`temporary_prefix`], also the name earlier versions used): a regular file nobody holds
/// the lock of ([`Temporary`]; one whose lock cannot be tried is left), and a symbolic link or
/// other node, which no writer makes (removed, never followed). A live writer's file is never
/// touched. A directory there, which no writer makes either, is not this tool's to remove: an
/// error.
fn remove_leftovers(
    dir: std::os::fd::BorrowedFd<'_>,
    prefix: &std::ffi::OsStr,
) -> std::io::Result<()> {
    use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
    let prefix = prefix.as_encoded_bytes();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !name.to_bytes().starts_with(prefix) {
            continue;
        }
        let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(rustix::io::Errno::NOENT) => continue,
            r => r?,
        };
        // Held (with its lock) until the name is removed.
        let _locked = match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                return Err(std::io::Error::other(format!(
                    "a directory is in the way of the temporary file ({})",
                    name.to_string_lossy()
                )))
            }
            FileType::RegularFile => {
                let Ok(fd) = rustix::fs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                ) else {
                    continue;
                };
                let same = rustix::fs::fstat(&fd)
                    .is_ok_and(|now| (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino));
                if !same
                    || rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err()
                {
                    continue;
                }
                Some(fd)
            }
            _ => None,
        };
        match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Replaces `name` in the directory `dir` with `data`, so that a crash leaves the old file or
/// the new one: a temporary file of this writer ([`Temporary`]: a crashed writer's leftover
/// removed first, a live one's left alone; a link never written through) with exactly `mode`
/// (not narrowed by the umask either), fsync, a rename over `name` (a link there is replaced,
/// not followed), and a directory fsync. A failed write leaves no temporary file behind.
pub fn replace_in_dir(
    dir: impl std::os::fd::AsFd,
    name: &std::ffi::OsStr,
    data: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let dir = dir.as_fd();
    let tmp = Temporary::write(dir, name, data, mode)?;
    tmp.rename(name, true)?;
    Ok(rustix::fs::fsync(dir)?)
}

/// [`replace_in_dir`] for a path (its parent directory, created if missing, is followed as
/// given); a directory, socket, block device, character device, FIFO or standard stream at
/// `path` is refused (a secret or state file goes to a regular file only).
pub fn replace_file(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    write_outputs(&[Output {
        path,
        data,
        mode: Some(mode),
    }])
    .map_err(|e| e.source)
}

/// Whether a state file could be written at `path` as [`replace_file`] writes it, without
/// writing it: a directory, socket, device, FIFO or standard stream there is refused, the
/// parent directory is created if missing, and a temporary file is created in it and removed
/// again. A command whose state must be saved between irreversible steps (`poll`) checks
/// this before the first of them.
pub fn check_replaceable(path: &Path) -> std::io::Result<()> {
    open_target(path, Some(0o600), true).map(drop)
}

/// Writes an output file (not a secret) whole or not at all, as [`replace_file`]: a
/// temporary file in its directory, fsync, rename, directory fsync. What is at `path` is
/// looked at without following a final symbolic link, so a link there (to anything: a file,
/// a device, nothing) is always replaced, never written through. The mode is what a plain
/// write gives: the replaced regular file's, else 0666 less the umask. Otherwise:
/// - `-` and `/dev/stdout`, `/dev/stderr` (or `/dev/fd/1|2`, `/proc/self/fd/1|2`) write to
///   the process's own standard output / error, opening nothing;
/// - a character device or FIFO is written through (replacing it would turn the node into a
///   regular file), opened non-blocking (a FIFO nobody has open for reading is refused at
///   once, never waited for) and checked again on the opened descriptor (one swapped in
///   after the look is refused, not written);
/// - a socket, a directory or a block device is refused.
pub fn write_output(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_outputs(&[Output {
        path,
        data,
        mode: None,
    }])
    .map_err(|e| e.source)
}

/// One file of [`write_outputs`].
pub struct Output<'a> {
    /// Where it goes.
    pub path: &'a Path,
    /// Its bytes.
    pub data: &'a [u8],
    /// `Some(mode)`: a secret or state file, always a regular file with exactly this mode
    /// ([`replace_file`]: its parent followed; a device, FIFO or standard stream refused);
    /// `None`: an ordinary output under [`write_output`]'s rules.
    pub mode: Option<u32>,
}

/// Why [`write_outputs`] failed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", .path.display())]
#[non_exhaustive]
pub struct OutputError {
    /// The output that failed.
    pub path: PathBuf,
    /// The OS error.
    pub source: std::io::Error,
    /// The outputs already in place when it failed, in order: empty if every file is as it
    /// was.
    pub written: Vec<PathBuf>,
}

/// An output's destination, opened before its bytes exist ([`open_output`]).
enum Opened {
    /// A regular file (or nothing yet, or a link to replace): `dir` was shown to take a
    /// temporary file (one created and removed again); at the commit one is written with
    /// exactly `mode` and renamed to `name`.
    File {
        dir: std::os::fd::OwnedFd,
        name: std::ffi::OsString,
        mode: u32,
    },
    /// A character device or FIFO, opened and checked.
    Device(std::fs::File),
    /// The process's own standard output or error.
    Stream(StandardStream),
}

/// An output whose destination is already opened and checked ([`open_output`]), so a
/// command can refuse an unusable output before it asks the TA anything (before it takes
/// the lock), and write it afterwards with [`write_opened`].
pub struct OpenedOutput {
    path: PathBuf,
    to: Opened,
}

impl OpenedOutput {
    /// The path it was opened under.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where an output goes once [`write_outputs`] has prepared it.
enum Target {
    /// A regular file written to its temporary name in `dir`, not renamed yet.
    Staged {
        dir: std::os::fd::OwnedFd,
        name: std::ffi::OsString,
        tmp: Temporary,
    },
    /// A character device or FIFO, opened and checked.
    Device(std::fs::File),
    /// The process's own standard output or error.
    Stream(StandardStream),
}

/// Writes several outputs of one command, all or nothing as far as POSIX allows:
/// 1. every output is opened ([`open_output`]: what is at its path looked at, a character
///    device or FIFO opened and checked, a regular file's directory created if missing,
///    opened and shown to take a temporary file (one created and removed again)); then every
///    regular file is written to a temporary file of its own ([`Temporary`]) in its
///    directory, fsync'd, with its final mode; any
///    failure here removes every temporary file, and no old file has changed;
/// 2. the temporary files are renamed into place in `outputs`' order, the last regular file
///    (the command's primary: envelope, encryption info, private key) only after the others
///    are renamed and their directories fsync'd, then its own directory: its rename is the
///    commit point. A failure (or a crash) part-way can leave some earlier files new and the
///    later ones, the primary always among them, old; never a new primary beside an old
///    companion;
/// 3. then devices and standard streams are written, in order (they cannot be renamed into
///    place, so they come after the commit).
///
/// The error names the output that failed and the outputs already in place.
pub fn write_outputs(outputs: &[Output<'_>]) -> std::result::Result<(), OutputError> {
    open_and_commit(outputs, true)
}

/// [`write_outputs`] for files that must not exist yet (a new key pair): one that exists is
/// refused (`AlreadyExists`), also one another process makes while this call runs (the
/// renames never replace a file), and the files this call had put in place by then are
/// removed again (each only while it still is the one it renamed there). So of two runs
/// making the same new files at once, one fails and leaves the other's files as they are.
pub fn create_outputs(outputs: &[Output<'_>]) -> std::result::Result<(), OutputError> {
    open_and_commit(outputs, false)
}

/// [`write_outputs`] (`replace`) or [`create_outputs`].
fn open_and_commit(outputs: &[Output<'_>], replace: bool) -> std::result::Result<(), OutputError> {
    let mut opened = Vec::with_capacity(outputs.len());
    for o in outputs {
        match open_target(o.path, o.mode, replace) {
            Ok(to) => opened.push((
                OpenedOutput {
                    path: o.path.to_path_buf(),
                    to,
                },
                o.data,
            )),
            Err(source) => {
                return Err(OutputError {
                    path: o.path.to_path_buf(),
                    source,
                    written: Vec::new(),
                })
            }
        }
    }
    commit(opened, replace)
}

/// Opens an ordinary output (not a secret) as [`write_output`] would write it, without
/// writing anything: a refusal (a directory, a socket, a FIFO nobody reads, a directory the
/// caller cannot create a file in) comes now. A regular file's directory is created if
/// missing and a temporary file created there and removed again (a probe: nothing stays
/// behind if the command is stopped before it writes); the file itself is not touched until
/// [`write_opened`]. A FIFO or device stays open until then.
pub fn open_output(path: &Path) -> std::io::Result<OpenedOutput> {
    Ok(OpenedOutput {
        path: path.to_path_buf(),
        to: open_target(path, None, true)?,
    })
}

/// Opens several ordinary outputs of one command ([`open_output`] each, in order), before
/// their bytes exist: for a command with an irreversible step before its writes (a
/// stateful signature), so an output that cannot be written refuses it first. The error
/// names the output that failed; the ones opened before it are dropped.
pub fn open_outputs(paths: &[&Path]) -> std::result::Result<Vec<OpenedOutput>, OutputError> {
    paths
        .iter()
        .map(|p| {
            open_output(p).map_err(|source| OutputError {
                path: p.to_path_buf(),
                source,
                written: Vec::new(),
            })
        })
        .collect()
}

/// Steps 1 (the temporary files) to 3 of [`write_outputs`] for outputs opened with
/// [`open_output`], each with its bytes.
pub fn write_opened(outputs: Vec<(OpenedOutput, &[u8])>) -> std::result::Result<(), OutputError> {
    commit(outputs, true)
}

/// [`write_opened`]; without `replace`, as [`create_outputs`].
// `targets`, `paths` and `staged` are built from `outputs` in one pass: every index into
// them is one of `outputs`' own (`0..outputs.len()`).
#[allow(clippy::indexing_slicing)]
fn commit(
    outputs: Vec<(OpenedOutput, &[u8])>,
    replace: bool,
) -> std::result::Result<(), OutputError> {
    let fail = |path: &Path, source: std::io::Error, written: Vec<PathBuf>| OutputError {
        path: path.to_path_buf(),
        source,
        written,
    };
    let discard = |targets: &[Target]| {
        for t in targets {
            if let Target::Staged { tmp, .. } = t {
                tmp.remove();
            }
        }
    };
    if let Err((path, e)) = distinct_files(&outputs) {
        return Err(fail(path, e, Vec::new()));
    }
    let mut targets = Vec::with_capacity(outputs.len());
    let mut paths = Vec::with_capacity(outputs.len());
    let mut data = Vec::with_capacity(outputs.len());
    for (o, bytes) in outputs {
        let staged = match o.to {
            Opened::File { dir, name, mode } => Temporary::write(dir.as_fd(), &name, bytes, mode)
                .map(|tmp| Target::Staged { dir, name, tmp }),
            Opened::Device(f) => Ok(Target::Device(f)),
            Opened::Stream(s) => Ok(Target::Stream(s)),
        };
        match staged {
            Ok(t) => targets.push(t),
            Err(e) => {
                discard(&targets);
                return Err(fail(&o.path, e, Vec::new()));
            }
        }
        paths.push(o.path);
        data.push(bytes);
    }
    let staged: Vec<usize> = (0..targets.len())
        .filter(|&i| matches!(targets[i], Target::Staged { .. }))
        .collect();
    if staged.len() > 1 {
        if let Err((i, e)) = lock_dirs(&targets) {
            discard(&targets);
            return Err(fail(&paths[i], e, Vec::new()));
        }
    }
    let mut written = Vec::new();
    let mut synced: Vec<(u64, u64)> = Vec::new();
    for (n, &i) in staged.iter().enumerate() {
        let Target::Staged { dir, name, tmp } = &targets[i] else {
            continue;
        };
        let primary = n + 1 == staged.len();
        if primary {
            // The companions' renames durable before the primary's.
            for &j in &staged[..n] {
                if let Err(e) = sync_once(&targets[j], &mut synced) {
                    discard(&targets[i..=i]);
                    return Err(fail(&paths[j], e, written));
                }
            }
        }
        if let Err(e) = tmp.rename(name, replace) {
            for &j in &staged[n + 1..] {
                discard(&targets[j..=j]);
            }
            if !replace {
                written = remove_renamed(&targets, &staged[..n], &paths);
            }
            return Err(fail(&paths[i], e, written));
        }
        written.push(paths[i].clone());
        if primary {
            if let Err(e) = rustix::fs::fsync(dir) {
                return Err(fail(&paths[i], e.into(), written));
            }
        }
    }
    for ((t, path), bytes) in targets.iter_mut().zip(&paths).zip(&data) {
        let done = match t {
            Target::Staged { .. } => continue,
            Target::Device(f) => f.write_all(bytes),
            Target::Stream(StandardStream::Out) => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Target::Stream(StandardStream::Err) => {
                let mut err = std::io::stderr().lock();
                err.write_all(bytes).and_then(|()| err.flush())
            }
        };
        if let Err(e) = done {
            return Err(fail(path, e, written));
        }
        written.push(path.clone());
    }
    Ok(())
}

/// Locks (`flock`, exclusive) each directory a staged output goes to, in the order of their
/// device and inode numbers (two runs never wait for each other in a cycle), until their
/// descriptors close when the call returns: the renames of two runs writing the same set of
/// files (`keygen --force` twice) do not interleave, so the set in place is one run's, never
/// a private key of one beside the public key of the other. A file system without `flock`
/// is written unlocked; a lock another process holds for over 10 s fails the call (the index
/// of an output in that directory), as nothing is renamed yet (the caller says so, once).
/// Anyone who can open the directory can take its lock, so the wait is bounded.
fn lock_dirs(targets: &[Target]) -> std::result::Result<(), (usize, std::io::Error)> {
    use rustix::fs::FlockOperation;
    let mut dirs = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        if let Target::Staged { dir, .. } = t {
            let st = rustix::fs::fstat(dir).map_err(|e| (i, e.into()))?;
            dirs.push(((st.st_dev as u64, st.st_ino as u64), i, dir));
        }
    }
    dirs.sort_by_key(|(id, ..)| *id);
    dirs.dedup_by_key(|(id, ..)| *id);
    for (_, i, dir) in dirs {
        let start = std::time::Instant::now();
        loop {
            match rustix::fs::flock(dir, FlockOperation::NonBlockingLockExclusive) {
                Err(rustix::io::Errno::WOULDBLOCK)
                    if start.elapsed() < std::time::Duration::from_secs(10) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    return Err((
                        i,
                        std::io::Error::new(
                            std::io::ErrorKind::WouldBlock,
                            "another process has held a lock on its directory for 10 s",
                        ),
                    ))
                }
                _ => break,
            }
        }
    }
    Ok(())
}

/// After a failed [`create_outputs`]: removes the files of `renamed` (indices into `targets`)
/// it put in place, each only while its name still leads to the file renamed there (one
/// another process put there since is left). The paths still holding this call's file.
// `renamed` holds indices of `targets`, which is as long as `paths` (see `commit`).
#[allow(clippy::indexing_slicing)]
fn remove_renamed(targets: &[Target], renamed: &[usize], paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for &i in renamed {
        let Target::Staged { dir, name, tmp } = &targets[i] else {
            continue;
        };
        let ours = match (
            rustix::fs::fstat(&tmp.file),
            rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW),
        ) {
            (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
            _ => false,
        };
        if ours && rustix::fs::unlinkat(dir, name, rustix::fs::AtFlags::empty()).is_err() {
            left.push(paths[i].clone());
        }
    }
    left
}

/// Refuses two regular-file outputs with one name in one directory (by its device and inode,
/// however the paths spell it): the later rename would replace the earlier file, so the
/// command would report two outputs and leave one. A backstop to [`check_outputs`], which
/// the commands run before they make anything.
fn distinct_files<'a>(
    outputs: &'a [(OpenedOutput, &[u8])],
) -> std::result::Result<(), (&'a Path, std::io::Error)> {
    let mut seen: Vec<((u64, u64), &std::ffi::OsStr, &Path)> = Vec::new();
    for (o, _) in outputs {
        let Opened::File { dir, name, .. } = &o.to else {
            continue;
        };
        let st = rustix::fs::fstat(dir).map_err(|e| (o.path.as_path(), e.into()))?;
        let id = (st.st_dev as u64, st.st_ino as u64);
        if let Some((_, _, first)) = seen.iter().find(|(d, n, _)| *d == id && *n == name) {
            return Err((
                o.path.as_path(),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "the same file as {}, another output of this command",
                        first.display()
                    ),
                ),
            ));
        }
        seen.push((id, name, &o.path));
    }
    Ok(())
}

/// Fsyncs a staged output's directory unless one with the same device and inode was.
fn sync_once(target: &Target, synced: &mut Vec<(u64, u64)>) -> std::io::Result<()> {
    let Target::Staged { dir, .. } = target else {
        return Ok(());
    };
    let st = rustix::fs::fstat(dir)?;
    let id = (st.st_dev as u64, st.st_ino as u64);
    if !synced.contains(&id) {
        rustix::fs::fsync(dir)?;
        synced.push(id);
    }
    Ok(())
}

/// The opening of one output of [`write_outputs`] (`mode`: as [`Output::mode`]): the look at
/// what is at its path (without following a final link), then its device opened or its
/// directory.
fn open_target(path: &Path, mode: Option<u32>, replace: bool) -> std::io::Result<Opened> {
    use rustix::fs::{FileType, Mode, OFlags};
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    if mode.is_none() {
        if let Some(s) = standard_stream(path) {
            return Ok(Opened::Stream(s));
        }
    }
    let refuse = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is {what}", path.display()),
        )
    };
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
        Ok(m) => Some(m),
    };
    if !replace && meta.is_some() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists", path.display()),
        ));
    }
    // A secret goes to a file only: never a standard stream, device or FIFO, and their nodes
    // are never replaced by one (as root, renaming over `/dev/stdout` or `/dev/null` would).
    if mode.is_some() && standard_stream(path).is_some() {
        return Err(refuse(
            "a standard stream (a secret is written to a file only)",
        ));
    }
    if let Some(m) = &meta {
        let t = m.file_type();
        if mode.is_some() && (t.is_char_device() || t.is_fifo()) {
            return Err(refuse(
                "a device or FIFO (a secret is written to a file only)",
            ));
        }
        if t.is_dir() {
            return Err(refuse("a directory"));
        }
        if t.is_socket() {
            return Err(refuse("a socket (an output cannot be written to one)"));
        }
        if t.is_block_device() {
            return Err(refuse("not a regular file, character device or FIFO"));
        }
    }
    let mode = match (mode, &meta) {
        (Some(mode), _) => mode,
        (None, None) => 0o666 & !umask(),
        (None, Some(m)) if m.is_file() => m.permissions().mode() & 0o777,
        (None, Some(m)) if m.is_symlink() => 0o666 & !umask(),
        (None, Some(_)) => {
            // A character device or FIFO (the others are refused above). Opened neither
            // following a final link nor creating, truncating or becoming a controlling
            // terminal, and non-blocking: a FIFO nobody reads (or a device that would wait)
            // is refused now instead of blocking the agent, which may hold the lock and the
            // TA session. Then checked on the descriptor: what is written to is what was
            // opened, whatever replaced the node after the look above (a regular file opened
            // here is left as it was: the open neither truncates nor writes). The write
            // itself blocks as a plain one would (`O_NONBLOCK` cleared).
            let fd = rustix::fs::open(
                path,
                OFlags::WRONLY
                    | OFlags::NOCTTY
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC
                    | OFlags::NONBLOCK,
                Mode::empty(),
            )
            .map_err(|e| match e {
                rustix::io::Errno::NXIO => refuse(
                    "a FIFO no process has open for reading (or a device with nothing behind \
                     it); start the reader first",
                ),
                e => e.into(),
            })?;
            let opened = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
            if !matches!(opened, FileType::CharacterDevice | FileType::Fifo) {
                return Err(refuse(
                    "no longer a character device or FIFO (replaced while being opened)",
                ));
            }
            let flags = rustix::fs::fcntl_getfl(&fd)?;
            rustix::fs::fcntl_setfl(&fd, flags.difference(OFlags::NONBLOCK))?;
            return Ok(Opened::Device(std::fs::File::from(fd)));
        }
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = open_dir(rustix::fs::CWD, parent, true)?;
    // A probe now, not once the bytes exist: a directory the caller cannot write (read-only,
    // a read-only mount, no room for an inode) refuses the output before the command does
    // anything irreversible (a provisioning message applied, a stateful signature spent).
    // The probe is removed at once: a run stopped later (while it waits for the agent's
    // lock, by SIGINT or SIGTERM) leaves no temporary file behind; the real one is created
    // when the bytes are written.
    drop(Temporary::create(dir.as_fd(), name)?);
    Ok(Opened::File {
        dir,
        name: name.to_owned(),
        mode,
    })
}

/// Refuses standard output or error (`-`, `/dev/stdout`, ...) for an output option that
/// cannot be a stream (`option`, and `why` in words): a directory or name prefix of several
/// files, a secret, state or lock file, or a file the command may have to remove again.
/// `-` would otherwise make a file or directory named `-`. Both tools' one rule.
pub fn refuse_standard_stream(
    path: &Path,
    option: &str,
    why: &str,
) -> std::result::Result<(), FileError> {
    if standard_stream(path).is_some() {
        return Err(FileError::input(
            path,
            format!(
                "{option} cannot be standard output or error ({why}); give a path (./- for a \
                 file named -)"
            ),
        ));
    }
    Ok(())
}

/// Refuses a character device, block device, FIFO or socket at `path` (a link there is not
/// followed: a write replaces it) for an output option (`option`, and `why` in words) the
/// command may have to remove again: removing would delete that node, not a file written.
pub fn refuse_special_file(
    path: &Path,
    option: &str,
    why: &str,
) -> std::result::Result<(), FileError> {
    use std::os::unix::fs::FileTypeExt as _;
    let Ok(st) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let t = st.file_type();
    if t.is_char_device() || t.is_block_device() || t.is_fifo() || t.is_socket() {
        return Err(FileError::input(
            path,
            format!(
                "{option} cannot be a character device, block device, FIFO or socket ({why}); \
                 give a regular file's path"
            ),
        ));
    }
    Ok(())
}

/// Whether `path` names the process's own standard output (`-`, `/dev/stdout` and the other
/// spellings [`write_output`] writes there): a command writing an output there prints its
/// human lines to standard error instead (`crate::stdio::status_to_stderr`).
pub fn is_standard_output(path: &Path) -> bool {
    matches!(standard_stream(path), Some(StandardStream::Out))
}

/// The process's own standard stream a path names.
enum StandardStream {
    Out,
    Err,
}

/// `-` (standard output, as `-` is standard input where an envelope is read), `/dev/stdout`,
/// `/dev/stderr` and their `/dev/fd/N`, `/proc/self/fd/N` spellings: links a shell user means
/// as the stream itself, which [`write_output`] would otherwise replace.
fn standard_stream(path: &Path) -> Option<StandardStream> {
    match path.as_os_str().as_encoded_bytes() {
        b"-" | b"/dev/stdout" | b"/dev/fd/1" | b"/proc/self/fd/1" => Some(StandardStream::Out),
        b"/dev/stderr" | b"/dev/fd/2" | b"/proc/self/fd/2" => Some(StandardStream::Err),
        _ => None,
    }
}

/// The process's umask, read from `/proc/self/status` (setting it to read it would race with
/// files other threads create); 022 where that cannot be read.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_and_name_the_file_and_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.json");
        std::fs::write(&path, [b'x'; 100]).unwrap();
        assert_eq!(read_file_max(&path, 100).unwrap().len(), 100);
        let e = read_file_max(&path, 99).unwrap_err().to_string();
        assert!(
            e.contains("in.json") && e.contains("100 bytes, limit 99"),
            "{e}"
        );
        let e = read_file_max(dir.path(), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        // Text: the bound for text, and UTF-8.
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(read_text_file(&path)
            .unwrap_err()
            .to_string()
            .contains("not text"));
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(MAX_TEXT_FILE_LEN + 1).unwrap();
        let e = read_text_file(&path).unwrap_err().to_string();
        assert!(e.contains(&format!("limit {MAX_TEXT_FILE_LEN}")), "{e}");
    }

    /// Spellings of one file are one identity also where its directories do not exist yet
    /// (review s29: a missing directory made the check see no file at all), and `..` after a
    /// linked directory leaves the link's target, as the kernel resolves it.
    #[test]
    fn one_file_has_one_identity_before_its_directory_exists() {
        let dir = tempfile::tempdir().unwrap();
        let d = std::fs::canonicalize(dir.path()).unwrap();
        let id = |p: &str| path_identity(&d.join(p));
        let want = d.join("nd/out.cbor");
        for p in [
            "nd/out.cbor",
            "nd/./out.cbor",
            "./nd//out.cbor",
            "nd/sub/../out.cbor",
            "nd/a/b/../../out.cbor",
            "other/../nd/out.cbor",
        ] {
            assert_eq!(id(p), want, "{p}");
        }
        assert_ne!(id("nd/out.cbor"), id("nd2/out.cbor"));
        assert!(same_file(
            &d.join("nd/out.cbor"),
            &d.join("nd/x/../out.cbor")
        ));
        // `..` after a link to a directory is the target's parent, not the link's.
        std::fs::create_dir_all(d.join("real/deep")).unwrap();
        std::os::unix::fs::symlink(d.join("real/deep"), d.join("link")).unwrap();
        assert_eq!(id("link/../x"), d.join("real/x"));
        assert_eq!(id("link/new/../y"), d.join("real/deep/y"));
        assert_eq!(id("link/nd/../nd/z"), d.join("real/deep/nd/z"));
        assert!(same_file(&d.join("link/nd/f"), &d.join("real/deep/nd/f")));
        // Two links to one file are two outputs (each replaces its link); one name is one.
        std::os::unix::fs::symlink(d.join("real/x"), d.join("l1")).unwrap();
        std::os::unix::fs::symlink(d.join("real/x"), d.join("l2")).unwrap();
        assert!(!same_output(&d.join("l1"), &d.join("l2")));
        assert!(same_output(&d.join("l1"), &d.join("link/../../l1")));
        assert!(same_output(&d.join("nd/o"), &d.join("nd/./o")));
    }

    /// Two outputs of one call naming one file (here through `.` and a missing directory's
    /// `..`) are refused before anything is written; staged, the later rename replaced the
    /// earlier file (review s29).
    #[test]
    fn two_outputs_naming_one_file_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("nd/f"), dir.path().join("nd/./x/../f"));
        std::fs::create_dir_all(dir.path().join("nd/x")).unwrap();
        let e = write_outputs(&[
            Output {
                path: &a,
                data: b"one",
                mode: None,
            },
            Output {
                path: &b,
                data: b"two",
                mode: Some(0o600),
            },
        ])
        .unwrap_err();
        assert_eq!(e.path, b);
        assert!(e.written.is_empty(), "{:?}", e.written);
        assert!(
            e.source.to_string().contains("the same file as"),
            "{}",
            e.source
        );
        assert!(!a.exists());
        assert_eq!(std::fs::read_dir(dir.path().join("nd")).unwrap().count(), 1);
    }

    /// Concurrent writers of one file never touch each other's temporary file: each write
    /// succeeds and the file ends whole, as one of them wrote it. With one temporary name per
    /// file, a writer unlinked another's in-flight file, which then failed its rename (or
    /// renamed the other's bytes), review s29.
    #[test]
    fn concurrent_writers_of_one_file_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let datas: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 64 * 1024]).collect();
        std::thread::scope(|s| {
            for data in &datas {
                let path = &path;
                s.spawn(move || {
                    for n in 0..25 {
                        write_output(path, data).unwrap_or_else(|e| panic!("write {n}: {e}"));
                    }
                });
            }
        });
        assert!(datas.contains(&std::fs::read(&path).unwrap()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A temporary file locked by someone else before its writer locks it is given up (its
    /// name removed) for another, never waited for nor written through; and nobody else can
    /// open it before then (mode 0, as root only here). A blocking lock let another local
    /// user who opened the 0666 & !umask file first stall the write forever (review s29 F1).
    #[test]
    fn a_temporary_file_locked_by_another_is_not_waited_for() {
        use rustix::fs::{flock, FlockOperation};
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (done, finished) = std::sync::mpsc::channel();
        let (path2, held2, root) = (path.clone(), held.clone(), dir.path().to_path_buf());
        std::thread::spawn(move || {
            BEFORE_LOCK.with_borrow_mut(|hook| {
                *hook = Some(Box::new(move |tmp: &std::ffi::OsStr| {
                    let mut held = held2.lock().unwrap();
                    if !held.is_empty() {
                        return;
                    }
                    let f = std::fs::File::open(root.join(tmp)).unwrap();
                    let mode = f.metadata().unwrap().permissions().mode();
                    flock(&f, FlockOperation::LockExclusive).unwrap();
                    held.push((f, mode));
                }));
            });
            let _ = done.send(write_output(&path2, b"data").map_err(|e| e.to_string()));
        });
        let written = finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the write waited for a lock another process holds");
        written.unwrap();
        let held = held.lock().unwrap();
        let (f, mode) = &held[0];
        assert_eq!(
            mode & 0o7777,
            0,
            "the temporary file could be opened before its lock"
        );
        let st = f.metadata().unwrap();
        assert_eq!((st.nlink(), st.len()), (0, 0));
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A crashed writer's temporary file (nobody holds its lock), a link, and the name earlier
    /// versions used are removed by the next write of that file; a live writer's (locked) is
    /// left alone; another file's temporaries are not looked at.
    #[test]
    fn only_a_dead_writers_temporary_file_is_removed() {
        use rustix::fs::{flock, FlockOperation};
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, suffix: &str| {
            let mut n = temporary_prefix(name.as_ref());
            n.push(suffix);
            dir.path().join(n)
        };
        let (dead, old, link) = (at("f", ".1.00"), at("f", ""), at("f", ".2.00"));
        let (live, other) = (at("f", ".3.00"), at("g", ".4.00"));
        for p in [&dead, &old, &live, &other] {
            std::fs::write(p, "left").unwrap();
        }
        std::os::unix::fs::symlink(dir.path().join("victim"), &link).unwrap();
        let held = std::fs::File::open(&live).unwrap();
        flock(&held, FlockOperation::LockExclusive).unwrap();
        write_output(&dir.path().join("f"), b"new").unwrap();
        for p in [&dead, &old, &link] {
            assert!(std::fs::symlink_metadata(p).is_err(), "{}", p.display());
        }
        assert!(live.exists() && other.exists());
        assert!(!dir.path().join("victim").exists());
        drop(held);
        write_output(&dir.path().join("f"), b"newer").unwrap();
        assert!(!live.exists());
        assert!(other.exists());
    }

    /// A secret (mode given) is never written to a standard stream, device or FIFO, nor are
    /// their nodes replaced by it: as root, the rename would have replaced `/dev/stdout` (a
    /// link) or a FIFO with a regular file holding the secret (review s27).
    #[test]
    fn a_secret_is_written_to_a_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        for path in [
            fifo.as_path(),
            Path::new("/dev/stdout"),
            Path::new("/dev/null"),
        ] {
            let e = write_outputs(&[Output {
                path,
                data: b"secret",
                mode: Some(0o600),
            }])
            .unwrap_err();
            assert!(
                e.source
                    .to_string()
                    .contains("a secret is written to a file only"),
                "{}: {}",
                path.display(),
                e.source
            );
        }
        use std::os::unix::fs::FileTypeExt as _;
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
        // Nothing was replaced.
        assert!(std::fs::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type()
            .is_symlink());
    }

    /// A FIFO output is opened non-blocking: with no reader it is refused at once (ENXIO,
    /// in words), never waited for; with one, the write goes through a blocking descriptor.
    #[test]
    fn a_fifo_output_is_never_waited_for() {
        use rustix::fs::{Mode, OFlags};
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = open_output(&fifo).err().unwrap();
        assert!(
            e.to_string().contains("no process has open for reading"),
            "{e}"
        );
        let reader =
            rustix::fs::open(&fifo, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty()).unwrap();
        let opened = open_output(&fifo).unwrap();
        let Opened::Device(f) = &opened.to else {
            panic!("a FIFO is written through")
        };
        assert!(!rustix::fs::fcntl_getfl(f)
            .unwrap()
            .contains(OFlags::NONBLOCK));
        write_opened(vec![(opened, b"report".as_slice())]).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(rustix::io::read(&reader, &mut buf).unwrap(), 6);
        assert_eq!(&buf[..6], b"report");
    }

    #[test]
    fn write_outputs_renames_nothing_until_every_output_is_written() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("sub/b"));
        let out = |data: &'static [u8]| {
            [
                Output {
                    path: &a,
                    data,
                    mode: None,
                },
                Output {
                    path: Path::new("/dev/null"),
                    data,
                    mode: None,
                },
                Output {
                    path: &b,
                    data,
                    mode: Some(0o600),
                },
            ]
        };
        write_outputs(&out(b"old")).unwrap();
        let mode = std::fs::metadata(&b).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // The primary's temporary file cannot be made: nothing is renamed.
        let blocker = dir.path().join("sub").join(temporary_prefix("b".as_ref()));
        std::fs::create_dir(&blocker).unwrap();
        let e = write_outputs(&out(b"new")).unwrap_err();
        assert_eq!(e.path, b);
        assert!(e.written.is_empty(), "{:?}", e.written);
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        assert_eq!(std::fs::read(&b).unwrap(), b"old");
        let left = |d: &Path| {
            std::fs::read_dir(d)
                .unwrap()
                .filter(|e| {
                    let name = e.as_ref().unwrap().file_name();
                    name.to_string_lossy().starts_with(".suit-tmp")
                })
                .count()
        };
        assert_eq!(left(dir.path()), 0);
        assert_eq!(left(&dir.path().join("sub")), 1, "the blocker only");
        std::fs::remove_dir(&blocker).unwrap();
        write_outputs(&out(b"new")).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new");
        assert_eq!(std::fs::read(&b).unwrap(), b"new");
    }
}
