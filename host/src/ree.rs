//! Writing TA-approved normal-world files. The agent writes exactly the bytes the TA
//! exported, checks them against the digest the TA reported, and replaces the target
//! atomically (temporary file, fsync, rename, directory fsync), so a crash leaves either the
//! old file or the new one.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::tee::AgentError;

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
    let mut f = File::create(&tmp).map_err(fail)?;
    f.write_all(data).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    drop(f);
    fs::rename(&tmp, &dest).map_err(fail)?;
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
}
