//! Writing TA-approved normal-world files. The agent writes exactly the bytes the TA
//! exported, checks them against the digest the TA reported, and replaces the target
//! atomically (temporary file, fsync, rename, directory fsync), so a crash leaves either the
//! old file or the new one. Files are written with mode [`REE_FILE_MODE`] (0600), whatever
//! the umask: the agent usually runs as root and cannot know who may read an approved file,
//! so widening access is left to the integrator (e.g. a `chown`/`chmod` after the install).
//!
//! Below `--ree-root` every directory is entered by descriptor without following a symbolic
//! link (directories it creates are 0700), and the file is created and renamed inside the
//! last one: a link placed anywhere under the root cannot send an approved file elsewhere.

use std::ffi::OsStr;
use std::fs;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, CWD};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};

use crate::files::{open_dir, replace_in_dir};
use crate::tee::AgentError;

/// Mode of every file the agent writes under `--ree-root`: owner read/write only.
pub const REE_FILE_MODE: u32 = 0o600;

/// Mode of the directories the agent creates under `--ree-root`.
pub const REE_DIR_MODE: u32 = 0o700;

/// Resolves a TA-approved relative path under `root`, refusing anything that could escape it
/// (the TA already refuses such paths; the agent does not rely on that).
pub fn target(root: &Path, path: &str) -> Result<PathBuf, AgentError> {
    let rel = Path::new(path);
    if path.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(AgentError::File(format!("refusing REE path {path:?}")));
    }
    Ok(root.join(rel))
}

/// `--ree-root` as the operator gave it: a directory, or nothing yet (made by the first
/// write). The agent checks it before an install or export asks the TA anything, so a file
/// there is refused at once as what it is, not after the commit as "File exists".
pub fn check_root(root: &Path) -> Result<(), AgentError> {
    let refuse = |why: String| {
        Err(AgentError::File(format!(
            "--ree-root {}: {why}",
            root.display()
        )))
    };
    match fs::metadata(root) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => refuse("not a directory".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => refuse(e.to_string()),
    }
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
    let fail = |e: std::io::Error| AgentError::File(format!("{}: {e}", dest.display()));
    let mut parts: Vec<&OsStr> = Path::new(path).iter().collect();
    let Some(name) = parts.pop() else {
        return Err(AgentError::File(format!("refusing REE path {path:?}")));
    };
    // The root is the operator's own path (followed as given).
    check_root(root)?;
    fs::create_dir_all(root).map_err(fail)?;
    let mut dir = open_dir(CWD, root, true).map_err(|e| fail(e.into()))?;
    for part in parts {
        match rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(REE_DIR_MODE)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(fail(e.into())),
        }
        dir = open_dir(&dir, part, false).map_err(|e| match e {
            Errno::LOOP | Errno::NOTDIR => AgentError::File(format!(
                "{}: {} under --ree-root is not a directory (a symbolic link is not \
                 followed); nothing written",
                dest.display(),
                part.to_string_lossy()
            )),
            e => fail(e.into()),
        })?;
    }
    replace_in_dir(&dir, name, data, REE_FILE_MODE).map_err(fail)?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt as _;

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
    fn a_link_under_the_root_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("etc")).unwrap();
        fs::create_dir(dir.path().join("opt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("opt/app")).unwrap();
        let data = b"approved".to_vec();
        let digest = Sha256::digest(&data).to_vec();
        for path in ["etc/app.conf", "opt/app/app.conf", "etc/deeper/app.conf"] {
            let e = write_approved(dir.path(), path, &data, &digest).unwrap_err();
            assert!(e.to_string().contains("not a directory"), "{path}: {e}");
        }
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
        // A link at the file's own name is replaced, not written through.
        let victim = outside.path().join("victim");
        fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("opt/conf")).unwrap();
        write_approved(dir.path(), "opt/conf", &data, &digest).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(fs::read(dir.path().join("opt/conf")).unwrap(), data);
    }

    #[test]
    fn a_root_that_is_a_file_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("afile");
        fs::write(&file, "not a directory").unwrap();
        let data = b"approved".to_vec();
        let digest = Sha256::digest(&data).to_vec();
        for root in [file.clone(), file.join("below")] {
            let e = write_approved(&root, "etc/app.conf", &data, &digest).unwrap_err();
            assert!(e.to_string().contains("--ree-root"), "{e}");
            assert!(e.to_string().contains("ot a directory"), "{e}");
        }
        assert!(check_root(&dir.path().join("missing")).is_ok());
    }

    #[test]
    fn created_directories_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"approved".to_vec();
        let digest = Sha256::digest(&data).to_vec();
        write_approved(dir.path(), "a/b/c.conf", &data, &digest).unwrap();
        for d in ["a", "a/b"] {
            let mode = fs::metadata(dir.path().join(d))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode & !REE_DIR_MODE, 0, "{d}: {mode:o}");
        }
    }

    /// Every name the TA can approve is the agent's to keep: writing `app.conf` leaves an
    /// approved `.app.conf.suit-tmp` (a legal name) alone, and no name the TA approves is
    /// ever a temporary one (the temporary name has a backslash).
    #[test]
    fn no_approved_name_is_a_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, data: &[u8]| {
            write_approved(dir.path(), path, data, &Sha256::digest(data)).unwrap();
        };
        write(".app.conf.suit-tmp", b"another approved file");
        write("app.conf", b"approved");
        assert_eq!(
            fs::read(dir.path().join(".app.conf.suit-tmp")).unwrap(),
            b"another approved file"
        );
        assert_eq!(fs::read(dir.path().join("app.conf")).unwrap(), b"approved");
        let tmp = crate::files::temporary_prefix(OsStr::new("app.conf"));
        let id = suit_common::suit::ComponentId::new(&[b"ree".as_slice(), tmp.as_encoded_bytes()]);
        assert!(suit_common::service::components::classify(&id).is_err());
    }

    /// A name as long as a file name may be (NAME_MAX, 255 bytes), which the TA approves, is
    /// written: the temporary name stays short whatever the name's length.
    #[test]
    fn an_approved_name_of_255_bytes_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let name = "n".repeat(255);
        let id = suit_common::suit::ComponentId::new(&[b"ree".as_slice(), name.as_bytes()]);
        assert!(suit_common::service::components::classify(&id).is_ok());
        let data = b"approved".to_vec();
        let p = write_approved(dir.path(), &name, &data, &Sha256::digest(&data)).unwrap();
        assert_eq!(fs::read(p).unwrap(), data);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_link_at_the_temporary_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, "untouched").unwrap();
        let tmp = dir
            .path()
            .join(crate::files::temporary_prefix(OsStr::new("app.conf")));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        let data = b"approved".to_vec();
        let digest = Sha256::digest(&data).to_vec();
        write_approved(dir.path(), "app.conf", &data, &digest).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(fs::read(dir.path().join("app.conf")).unwrap(), data);
        assert!(!tmp.exists());
    }
}
