//! One agent at a time: an exclusive `flock` on a lock file, held while the agent talks to the
//! TA (the TA serves one session; the lock makes a second agent wait instead of failing or
//! interleaving installs). The kernel drops the lock when the process dies.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};

use crate::tee::AgentError;

/// A held lock; released on drop.
pub struct AgentLock {
    file: File,
    path: PathBuf,
}

impl AgentLock {
    /// Takes the lock at `path`, waiting at most `wait` (polling; a waiting agent logs once).
    pub fn acquire(path: &Path, wait: Duration) -> Result<AgentLock, AgentError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| AgentError::File(format!("lock file {}: {e}", path.display())))?;
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
                        return Err(AgentError::File(format!(
                            "another suit-agent holds {} (waited {} s)",
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
