//! Writing TA-approved normal-world files. The agent writes exactly the bytes the TA
//! exported, checks them against the digest the TA reported, and replaces the target
//! atomically (temporary file, fsync, rename, directory fsync), so a crash leaves either the
//! old file or the new one. Files are written with mode [`REE_FILE_MODE`] (0600), whatever
//! the umask: the agent usually runs as root and cannot know who may read an approved file,
//! so widening access is left to the integrator (e.g. a `chown`/`chmod` after the install).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::tee::AgentError;

/// Mode of every file the agent writes under `--ree-root`: owner read/write only.
pub const REE_FILE_MODE: u32 = 0o600;

/// Resolves a TA-approved relative path under `root`, refusing anything that could escape it
/// (the TA already refuses such paths; the agent does not rely on that).
pub fn target(root: &Path, path: &str) -> Result<PathBuf, AgentError> {
    let rel = Path::new(path);
    if path.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(AgentError::File(format!("refusing REE path {path:?}")));
    }
    Ok(root.join(rel))
}

/// Writes `data` to `root/path` atomically after checking it hashes to `digest`.
pub fn write_approved(
    root: &Path,
    path: &str,
    data: &[u8],
    digest: &[u8],
) -> Result<PathBuf, AgentError> {
    if Sha256::digest(data).as_slice() != digest {
        return Err(AgentError::BadResponse(
            "exported bytes do not match the approved digest",
        ));
    }
    let dest = target(root, path)?;
    let dir = dest.parent().unwrap_or(root).to_path_buf();
    let fail = |e: std::io::Error| AgentError::File(format!("{}: {e}", dest.display()));
    fs::create_dir_all(&dir).map_err(fail)?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.suit-tmp"));
    // A leftover of a crash (or anything else at that name, a link included) is removed, not
    // written through: the new file is created exclusively (O_EXCL never follows a link).
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(REE_FILE_MODE)
            .open(&tmp)?;
        // Exactly this mode, not narrowed by the umask either.
        f.set_permissions(Permissions::from_mode(REE_FILE_MODE))?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &dest)
    })();
    if let Err(e) = written {
        // Best effort: a failed write leaves no temporary file behind.
        let _ = fs::remove_file(&tmp);
        return Err(fail(e));
    }
    File::open(&dir).and_then(|d| d.sync_all()).map_err(fail)?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape_the_root() {
        let root = Path::new("/r");
        assert_eq!(
            target(root, "etc/app.conf").unwrap(),
            PathBuf::from("/r/etc/app.conf")
        );
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "./a"] {
            assert!(target(root, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_matching_bytes_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"approved".to_vec();
        let good = Sha256::digest(&data).to_vec();
        assert!(write_approved(dir.path(), "a/b", &data, &[0; 32]).is_err());
        assert!(
            !dir.path().join("a/b").exists(),
            "nothing written on a digest mismatch"
        );
        let p = write_approved(dir.path(), "a/b", &data, &good).unwrap();
        assert_eq!(fs::read(p).unwrap(), data);
    }

    #[test]
    fn files_are_owner_only_even_when_replacing_a_wider_one() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"approved".to_vec();
        let digest = Sha256::digest(&data).to_vec();
        let dest = dir.path().join("etc/app.conf");
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(&dest, "old").unwrap();
        fs::set_permissions(&dest, Permissions::from_mode(0o644)).unwrap();
        write_approved(dir.path(), "etc/app.conf", &data, &digest).unwrap();
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, REE_FILE_MODE, "{mode:o}");
        assert_eq!(fs::read(&dest).unwrap(), data);
    }

    #[test]
    fn a_link_at_the_temporary_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".app.conf.suit-tmp")).unwrap();
        let data = b"approved".to_vec();
        let digest = Sha256::digest(&data).to_vec();
        write_approved(dir.path(), "app.conf", &data, &digest).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(fs::read(dir.path().join("app.conf")).unwrap(), data);
        assert!(!dir.path().join(".app.conf.suit-tmp").exists());
    }
}
