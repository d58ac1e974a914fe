//! `suit-agent install`'s record of an install handed to InstallFinish, for `suit-agent
//! resume`: a TA image decrypted as it arrives is kept in TA memory only, so a commit a power
//! cut interrupts while OP-TEE installs it can only be finished by the same envelope, sent
//! again (the TA then awaits it: `ServiceInfo::awaiting_envelope`). The record keeps a copy
//! of that envelope and the options that ran the install, so a boot script can re-run it
//! unattended. Written just before InstallFinish, removed once the TA gives a definitive
//! answer; each file whole and durably (a temporary file, fsync, rename), mode 0600.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::files::{FileError, MAX_TEXT_FILE_LEN};

/// The record's default file name, in the agent's state directory (`/var/lib/suit-agent`,
/// the simulator's state directory with `--tee sim`).
pub const RECORD_NAME: &str = "install-in-flight.json";

/// The environment variable that names the record file when `--install-record` does not.
pub const RECORD_ENV: &str = "SUIT_AGENT_INSTALL_RECORD";

/// An install handed to InstallFinish whose definitive answer the agent has not seen yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct InstallRecord {
    /// SHA-256 (hex) of the envelope, whose copy is kept beside the record ([`copy_path`]).
    pub envelope_sha256: String,
    /// How the operator named the envelope (a URL without its user information): shown only.
    pub shown: String,
    /// `--payload URI=FILE`, each FILE made absolute.
    #[serde(default)]
    pub payloads: Vec<String>,
    /// `--payload-dir`, absolute.
    #[serde(default)]
    pub payload_dir: Option<PathBuf>,
    /// `--ree-root`, absolute.
    #[serde(default)]
    pub ree_root: Option<PathBuf>,
    /// Whether payload URIs were fetched over the network (`--net`, or an envelope URL).
    #[serde(default)]
    pub net: bool,
    /// The operator's URLs whose origins payloads may come from (the envelope URL, without
    /// its user information), and `--allow-url-prefix`.
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub allow_url_prefix: Vec<String>,
    /// `--ca-file`, absolute.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `--max-payload-bytes`.
    pub max_payload_bytes: u64,
}

/// Where the envelope's copy is kept: beside the record, `.envelope` appended to its name.
pub fn copy_path(record: &Path) -> PathBuf {
    let mut name = record.as_os_str().to_os_string();
    name.push(".envelope");
    PathBuf::from(name)
}

/// `path` made absolute against the current directory (a boot script runs `resume` from
/// another one), not resolved further.
pub fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    std::path::absolute(path)
}

/// The directory the record at `record` is kept in.
fn record_dir(record: &Path) -> &Path {
    record
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Checks that `dir` is this user's directory, not a link, that nobody else can write to:
/// the record grants `resume` authority (a --ree-root to write into, payload files to read,
/// a CA file, the origins and prefixes to fetch from), so nobody else may plant or change
/// one there. `Ok(false)`: it does not exist.
fn check_private_dir(dir: &Path) -> Result<bool, String> {
    let fail = |what: String| format!("install record directory {}: {what}", dir.display());
    let fd = match crate::files::open_dir(rustix::fs::CWD, dir, false) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(false),
        Err(e) => return Err(fail(format!("{e} (a symbolic link is not followed)"))),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| fail(e.to_string()))?;
    if st.st_uid != rustix::process::geteuid().as_raw() || st.st_mode & 0o022 != 0 {
        return Err(fail(format!(
            "owned by uid {} with mode {:o}: it must be this user's and writable by no one else",
            st.st_uid,
            st.st_mode & 0o7777
        )));
    }
    Ok(true)
}

/// Checks that the record at `record` and its copy, where they exist, are regular files of
/// this user that nobody else can write to, in a directory [`check_private_dir`] accepts.
/// `Err` says what is wrong; nothing is changed.
pub fn check_kept_safely(record: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    if !check_private_dir(record_dir(record))? {
        return Ok(());
    }
    for p in [record.to_path_buf(), copy_path(record)] {
        let m = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        if !m.file_type().is_file()
            || m.uid() != rustix::process::geteuid().as_raw()
            || m.mode() & 0o022 != 0
        {
            return Err(format!(
                "{}: not a regular file of this user that no one else can write (uid {}, \
                 mode {:o}{})",
                p.display(),
                m.uid(),
                m.mode() & 0o7777,
                if m.file_type().is_symlink() {
                    ", a symbolic link"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(())
}

impl InstallRecord {
    /// Saves the record and the copy of `envelope` (the copy first: a record never names a
    /// copy not yet written), in a private directory ([`check_private_dir`]; made 0700 if
    /// missing).
    pub fn save(&self, record: &Path, envelope: &[u8]) -> Result<(), String> {
        use std::os::unix::fs::DirBuilderExt as _;
        let fail = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
        let dir = record_dir(record);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| fail(dir, &e))?;
        check_kept_safely(record)?;
        let copy = copy_path(record);
        crate::files::replace_file(&copy, envelope, 0o600).map_err(|e| fail(&copy, &e))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| fail(record, &e))?;
        crate::files::replace_file(record, &text, 0o600).map_err(|e| fail(record, &e))
    }

    /// The record at `record` with its envelope copy, if there is one; `Err` says why one
    /// that is there cannot be used (not kept safely: [`check_kept_safely`]; unreadable, not
    /// a record, the copy missing or not the envelope it names).
    pub fn load(record: &Path) -> Result<Option<(InstallRecord, Vec<u8>)>, String> {
        check_kept_safely(record)?;
        let text = match crate::files::read_file_max(record, MAX_TEXT_FILE_LEN) {
            Ok(t) => t,
            Err(FileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None)
            }
            Err(e) => return Err(e.to_string()),
        };
        let r: InstallRecord = serde_json::from_slice(&text)
            .map_err(|e| format!("{}: not an install record: {e}", record.display()))?;
        let copy = copy_path(record);
        let bound = suit_common::suit::envelope::MAX_ENVELOPE_LEN as u64;
        let envelope = crate::files::read_file_max(&copy, bound).map_err(|e| e.to_string())?;
        if hex::encode(sha2::Sha256::digest(&envelope)) != r.envelope_sha256 {
            return Err(format!(
                "{}: not the envelope the install record names (SHA-256 {})",
                copy.display(),
                r.envelope_sha256
            ));
        }
        Ok(Some((r, envelope)))
    }

    /// Removes the record, then its copy; a missing one is no error.
    pub fn remove(record: &Path) -> Result<(), String> {
        for p in [record.to_path_buf(), copy_path(record)] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", p.display())),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn record(digest: String) -> InstallRecord {
        InstallRecord {
            envelope_sha256: digest,
            shown: "e.suit".into(),
            payloads: vec!["https://x/p=/tmp/p".into()],
            payload_dir: Some("/tmp/d".into()),
            ree_root: None,
            net: false,
            origins: vec![],
            allow_url_prefix: vec![],
            ca_file: None,
            max_payload_bytes: 7,
        }
    }

    /// Saved owner-only with its copy, loaded back the same, refused when the copy is not
    /// the envelope it names, gone after `remove`.
    #[test]
    fn a_record_round_trips_and_checks_its_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/install.json");
        let envelope = b"envelope bytes".to_vec();
        let r = record(hex::encode(sha2::Sha256::digest(&envelope)));
        r.save(&path, &envelope).unwrap();
        for p in [&path, &copy_path(&path)] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        assert_eq!(InstallRecord::load(&path).unwrap(), Some((r, envelope)));
        std::fs::write(copy_path(&path), b"other").unwrap();
        let e = InstallRecord::load(&path).unwrap_err();
        assert!(
            e.contains("not the envelope the install record names"),
            "{e}"
        );
        InstallRecord::remove(&path).unwrap();
        assert!(!path.exists() && !copy_path(&path).exists());
        assert_eq!(InstallRecord::load(&path).unwrap(), None);
        InstallRecord::remove(&path).unwrap();
    }

    /// A missing directory is made owner-only; a record in a directory others can write to,
    /// a record or copy others can write, or one that is a symbolic link is refused and left
    /// as it is (review s39: the record grants `resume` a --ree-root, payload paths, a CA
    /// file and origins).
    #[test]
    fn a_record_is_kept_and_loaded_only_privately() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        let path = sub.join("install.json");
        let envelope = b"envelope bytes".to_vec();
        let r = record(hex::encode(sha2::Sha256::digest(&envelope)));
        r.save(&path, &envelope).unwrap();
        let mode = std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let chmod = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };

        chmod(&sub, 0o770);
        let e = InstallRecord::load(&path).unwrap_err();
        assert!(e.contains("writable by no one else"), "{e}");
        assert!(r.save(&path, &envelope).is_err());
        chmod(&sub, 0o700);

        for p in [path.clone(), copy_path(&path)] {
            chmod(&p, 0o620);
            let e = InstallRecord::load(&path).unwrap_err();
            assert!(e.contains("not a regular file of this user"), "{e}");
            chmod(&p, 0o600);
        }

        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::rename(&path, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        let e = InstallRecord::load(&path).unwrap_err();
        assert!(e.contains("a symbolic link"), "{e}");
        assert!(path.symlink_metadata().is_ok() && elsewhere.exists());
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(&elsewhere, &path).unwrap();
        assert_eq!(InstallRecord::load(&path).unwrap(), Some((r, envelope)));

        let linked = dir.path().join("linked");
        std::os::unix::fs::symlink(&sub, &linked).unwrap();
        let e = InstallRecord::load(&linked.join("install.json")).unwrap_err();
        assert!(e.contains("a symbolic link is not followed"), "{e}");
    }
}
