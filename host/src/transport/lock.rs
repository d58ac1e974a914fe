//! One agent at a time: an exclusive `flock` on a lock file, held while the agent talks to the
//! TA (the TA serves one session; the lock makes a second agent wait instead of failing or
//! interleaving installs). The kernel drops the lock when the process dies.
//!
//! Whoever can open the lock file can hold it for ever and stop every update, and an agent
//! running as root that follows a link planted at its name creates a file wherever the link
//! points. So the default lock lives in a directory of the agent's own user (0700,
//! [`default_dir`]), and any lock file is opened without following a final symbolic link and
//! refused unless it is a regular file of the agent's user.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation, Mode, OFlags, CWD};

use crate::tee::AgentError;

/// The lock file's name in [`default_dir`].
const LOCK_NAME: &str = "agent.lock";

/// A held lock; released on drop.
pub struct AgentLock {
    file: File,
    path: PathBuf,
}

/// The default lock directory: `/run/suit-agent` for root, else `$XDG_RUNTIME_DIR` (the
/// user's own), else `suit-agent-UID` in the temporary directory. Never a directory others
/// may write to (`/run/lock`, `/tmp` themselves).
pub fn default_dir() -> PathBuf {
    let uid = rustix::process::geteuid();
    if uid.is_root() {
        return PathBuf::from("/run/suit-agent");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("suit-agent"),
        _ => std::env::temp_dir().join(format!("suit-agent-{}", uid.as_raw())),
    }
}

/// The default lock file, in [`default_dir`], which is created or checked first
/// ([`ensure_private_dir`]).
pub fn default_path() -> Result<PathBuf, AgentError> {
    let dir = default_dir();
    ensure_private_dir(&dir)?;
    Ok(dir.join(LOCK_NAME))
}

/// Creates `dir` (0700) if it is missing and checks it is the agent user's own directory,
/// not a link, that nobody else can write to.
pub fn ensure_private_dir(dir: &Path) -> Result<(), AgentError> {
    let fail = |what: String| AgentError::File(format!("lock directory {}: {what}", dir.display()));
    match rustix::fs::mkdir(dir, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    let fd = crate::files::open_dir(CWD, dir, false)
        .map_err(|e| fail(format!("{e} (a symbolic link is not followed)")))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| fail(e.to_string()))?;
    if st.st_uid != rustix::process::geteuid().as_raw() || st.st_mode & 0o022 != 0 {
        return Err(fail(format!(
            "owned by uid {} with mode {:o}: it must be this user's and writable by no one else",
            st.st_uid,
            st.st_mode & 0o7777
        )));
    }
    Ok(())
}

/// Opens (creating, 0600) the lock file without following a final link; refuses anything
/// but a regular file of the agent's user.
fn open_lock(path: &Path) -> Result<File, AgentError> {
    let fail = |what: String| AgentError::File(format!("lock file {}: {what}", path.display()));
    let fd = rustix::fs::openat(
        CWD,
        path,
        OFlags::RDWR
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NOCTTY
            | OFlags::NONBLOCK,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| fail(format!("{e} (a symbolic link is not followed)")))?;
    let st = rustix::fs::fstat(fd.as_fd()).map_err(|e| fail(e.to_string()))?;
    let regular =
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile;
    if !regular || st.st_uid != rustix::process::geteuid().as_raw() {
        return Err(fail(format!(
            "not a regular file of this user (uid {}): another user could hold it and stop every update",
            st.st_uid
        )));
    }
    Ok(File::from(fd))
}

impl AgentLock {
    /// Takes the lock at `path`, waiting at most `wait` (polling; a waiting agent logs once).
    /// Still held by another agent after `wait`: [`AgentError::OpenSession`] (exit 3, try
    /// again later); a lock file or directory that is unusable: [`AgentError::File`] (exit 2).
    pub fn acquire(path: &Path, wait: Duration) -> Result<AgentLock, AgentError> {
        let file = open_lock(path)?;
        let start = Instant::now();
        let mut told = false;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {
                    return Ok(AgentLock {
                        file,
                        path: path.to_path_buf(),
                    })
                }
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                    if start.elapsed() >= wait {
                        // The TA is busy with another agent, not a fault of this command's
                        // input: transient (exit 3), as a TA that cannot be reached.
                        return Err(AgentError::OpenSession(format!(
                            "another suit-agent holds {} (waited {} s, --lock-wait); retry later",
                            path.display(),
                            wait.as_secs()
                        )));
                    }
                    if !told {
                        super::log::info(&format!(
                            "waiting for another suit-agent ({} is locked)",
                            path.display()
                        ));
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(AgentError::File(format!(
                        "lock file {}: {e}",
                        path.display()
                    )))
                }
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for AgentLock {
    fn drop(&mut self) {
        let _ = flock(&self.file, FlockOperation::Unlock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acquire(path: &Path) -> Result<AgentLock, AgentError> {
        AgentLock::acquire(path, Duration::from_secs(0))
    }

    #[test]
    fn a_link_at_the_lock_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("created-by-agent");
        let lock = dir.path().join("agent.lock");
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        let e = acquire(&lock).err().unwrap();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!target.exists(), "nothing is created through the link");
    }

    #[test]
    fn only_a_regular_file_of_this_user_is_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(acquire(&fifo).is_err());
        let mine = dir.path().join("agent.lock");
        let held = acquire(&mine).unwrap();
        let mode = std::fs::metadata(&mine).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077, 0);
        drop(held);
        // Another user's file (needs root to make one; the test command runs as root).
        if rustix::process::geteuid().is_root() {
            let theirs = dir.path().join("theirs.lock");
            std::fs::write(&theirs, b"").unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let e = acquire(&theirs).err().unwrap();
            assert!(
                e.to_string().contains("not a regular file of this user"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_lock_directory_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("suit-agent");
        ensure_private_dir(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077, 0);
        ensure_private_dir(&fresh).unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(
            &shared,
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
        assert!(
            ensure_private_dir(&shared).is_err(),
            "a world-writable directory"
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(ensure_private_dir(&link).is_err(), "a symbolic link");
    }
}
