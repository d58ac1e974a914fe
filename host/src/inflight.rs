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

impl InstallRecord {
    /// Saves the record and the copy of `envelope` (the copy first: a record never names a
    /// copy not yet written).
    pub fn save(&self, record: &Path, envelope: &[u8]) -> Result<(), String> {
        let fail = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
        let copy = copy_path(record);
        crate::files::replace_file(&copy, envelope, 0o600).map_err(|e| fail(&copy, &e))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| fail(record, &e))?;
        crate::files::replace_file(record, &text, 0o600).map_err(|e| fail(record, &e))
    }

    /// The record at `record` with its envelope copy, if there is one; `Err` says why one
    /// that is there cannot be used (unreadable, not a record, the copy missing or not the
    /// envelope it names).
    pub fn load(record: &Path) -> Result<Option<(InstallRecord, Vec<u8>)>, String> {
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
}
