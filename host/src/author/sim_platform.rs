//! The simulator device the author tool verifies on: the engine's [`Platform`] over a
//! directory of detached payloads and an output directory, plus an in-memory key store.
//!
//! It protects nothing (keys are files given on the command line); it exists so an author
//! can check, before publishing, that a device with given identifiers and keys would accept
//! and install an envelope, and what bytes it would end up with.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use suit_common::encryption::{
    DeviceKeys, EcdhSecret, HpkeOpen, KeyError, KeyKind, KeyRef, MemoryKeys, SecretBytes,
};
use suit_common::suit::platform::{IdentifierKind, Platform, PlatformError, Record};
use suit_common::suit::ComponentId;

use super::{AuthorError, Result};

/// The simulated device's identity.
#[derive(Debug, Clone, Default)]
pub struct DeviceIdentity {
    /// Vendor UUID (none: every vendor-identifier condition fails).
    pub vendor_id: Option<[u8; 16]>,
    /// Class UUID.
    pub class_id: Option<[u8; 16]>,
    /// Device UUID.
    pub device_id: Option<[u8; 16]>,
}

/// A file committed by the simulator.
#[derive(Debug, Clone)]
pub struct CommittedFile {
    /// The component.
    pub component: ComponentId,
    /// Where it was written (`None` without an output directory).
    pub path: Option<PathBuf>,
    /// Size in bytes.
    pub size: usize,
}

/// File-backed simulator [`Platform`].
#[derive(Debug, Default)]
pub struct SimPlatform {
    identity: DeviceIdentity,
    payload_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    /// Output file name for each component (the rest get a name derived from the id).
    names: BTreeMap<ComponentId, String>,
    open: Option<std::fs::File>,
    staged: BTreeMap<ComponentId, Vec<u8>>,
    installed: BTreeMap<ComponentId, Vec<u8>>,
    sequence: BTreeMap<Vec<u8>, u64>,
    staged_sequence: BTreeMap<Vec<u8>, u64>,
    /// Human-readable notes on what the platform did or why it failed (payload look-ups).
    pub notes: Vec<String>,
    /// Conditions and directives the engine reported, as text.
    pub trace: Vec<String>,
    /// What the last commit wrote.
    pub committed: Vec<CommittedFile>,
}

impl SimPlatform {
    /// A fresh device (nothing installed, no stored sequence numbers).
    pub fn new(
        identity: DeviceIdentity,
        payload_dir: Option<PathBuf>,
        out_dir: Option<PathBuf>,
    ) -> Self {
        SimPlatform {
            identity,
            payload_dir,
            out_dir,
            ..Default::default()
        }
    }

    /// Names the output file of `component` (`component-N.bin` for root index N).
    pub fn name_component(&mut self, component: ComponentId, file_name: String) {
        self.names.entry(component).or_insert(file_name);
    }

    /// The output file name for `component`.
    pub fn file_name(&self, component: &ComponentId) -> String {
        self.names
            .get(component)
            .cloned()
            .unwrap_or_else(|| format!("component-id-{}.bin", hex::encode(component.encode())))
    }

    /// The content committed for `component`, if any.
    pub fn installed(&self, component: &ComponentId) -> Option<&[u8]> {
        self.installed.get(component).map(Vec::as_slice)
    }

    fn resolve(&self, uri: &str) -> std::result::Result<PathBuf, String> {
        let dir = self
            .payload_dir
            .as_ref()
            .ok_or_else(|| format!("fetch {uri}: no --payload-dir given"))?;
        let name = payload_file_name(uri)
            .ok_or_else(|| format!("fetch {uri}: the URI has no usable last path segment"))?;
        let path = dir.join(name);
        if !path.is_file() {
            return Err(format!("fetch {uri}: no file {name} in {}", dir.display()));
        }
        Ok(path)
    }
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

impl Platform for SimPlatform {
    fn identifier_matches(
        &self,
        kind: IdentifierKind,
        _component: &ComponentId,
        value: &[u8],
    ) -> bool {
        let mine = match kind {
            IdentifierKind::Vendor => self.identity.vendor_id,
            IdentifierKind::Class => self.identity.class_id,
            IdentifierKind::Device => self.identity.device_id,
        };
        mine.is_some_and(|m| m.as_slice() == value)
    }

    fn fetch_open(
        &mut self,
        uri: &str,
        _fetch_args: Option<&[u8]>,
    ) -> std::result::Result<(), PlatformError> {
        self.open = None;
        let path = match self.resolve(uri) {
            Ok(p) => p,
            Err(note) => {
                self.notes.push(note);
                return Err(PlatformError::NotFound);
            }
        };
        match std::fs::File::open(&path) {
            Ok(f) => {
                self.notes
                    .push(format!("fetch {uri}: reading {}", path.display()));
                self.open = Some(f);
                Ok(())
            }
            Err(e) => {
                self.notes
                    .push(format!("fetch {uri}: {}: {e}", path.display()));
                Err(PlatformError::Io)
            }
        }
    }

    fn fetch_read(&mut self, buf: &mut [u8]) -> std::result::Result<usize, PlatformError> {
        let f = self.open.as_mut().ok_or(PlatformError::Io)?;
        match f.read(buf) {
            Ok(0) => {
                self.open = None;
                Ok(0)
            }
            Ok(n) => Ok(n),
            Err(e) => {
                self.notes.push(format!("fetch: read error: {e}"));
                Err(PlatformError::Io)
            }
        }
    }

    fn stage_open(&mut self, component: &ComponentId) -> std::result::Result<(), PlatformError> {
        self.staged.insert(component.clone(), Vec::new());
        Ok(())
    }

    fn stage_write(
        &mut self,
        component: &ComponentId,
        data: &[u8],
    ) -> std::result::Result<(), PlatformError> {
        self.staged
            .get_mut(component)
            .ok_or(PlatformError::Io)?
            .extend_from_slice(data);
        Ok(())
    }

    fn stage_discard(&mut self, component: &ComponentId) {
        self.staged.remove(component);
    }

    fn read(
        &self,
        component: &ComponentId,
        offset: u64,
        buf: &mut [u8],
    ) -> std::result::Result<usize, PlatformError> {
        let data = self
            .staged
            .get(component)
            .or_else(|| self.installed.get(component))
            .ok_or(PlatformError::NotFound)?;
        let off = usize::try_from(offset).map_err(|_| PlatformError::Io)?;
        if off >= data.len() {
            return Ok(0);
        }
        let n = (data.len() - off).min(buf.len());
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }

    fn sequence_number(&self, key: &[u8]) -> std::result::Result<Option<u64>, PlatformError> {
        Ok(self.sequence.get(key).copied())
    }

    fn stage_sequence_number(
        &mut self,
        key: &[u8],
        value: u64,
    ) -> std::result::Result<(), PlatformError> {
        self.staged_sequence.insert(key.to_vec(), value);
        Ok(())
    }

    fn commit(&mut self) -> std::result::Result<(), PlatformError> {
        let staged = std::mem::take(&mut self.staged);
        self.committed.clear();
        for (component, data) in staged {
            let path = match &self.out_dir {
                Some(dir) => {
                    let path = dir.join(self.file_name(&component));
                    if let Err(e) = write_atomically(&path, &data) {
                        self.notes.push(format!("commit: {e}"));
                        return Err(PlatformError::Io);
                    }
                    Some(path)
                }
                None => None,
            };
            self.committed.push(CommittedFile {
                component: component.clone(),
                path,
                size: data.len(),
            });
            self.installed.insert(component, data);
        }
        let seq = std::mem::take(&mut self.staged_sequence);
        self.sequence.extend(seq);
        Ok(())
    }

    fn discard(&mut self) {
        self.staged.clear();
        self.staged_sequence.clear();
        self.open = None;
    }

    fn report(&mut self, record: &Record<'_>) {
        let what = match record.event {
            suit_common::suit::platform::Event::Condition(c) => format!("condition {c:?}"),
            e => format!("directive {e:?}"),
        };
        let on = record
            .component
            .map(|c| format!(" on {c:?}"))
            .unwrap_or_default();
        self.trace.push(format!(
            "{}{:?}: {what}{on}: {}",
            "  ".repeat(usize::from(record.manifest_depth)),
            record.section,
            if record.success { "ok" } else { "FAILED" }
        ));
    }
}

fn write_atomically(path: &Path, data: &[u8]) -> std::result::Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, data).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The simulated device's key store: [`MemoryKeys`] where a key given without a key id (PEM,
/// raw KEK) counts as matching any `kid`. Keys with another id are still tried after those
/// (the recipient code treats `kid` as a hint, RFC 9052).
#[derive(Debug, Default)]
pub struct SimKeys {
    inner: MemoryKeys,
    kids: Vec<Option<Vec<u8>>>,
}

impl SimKeys {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a P-256 device key, usable for ECDH-ES (unless `hpke_only`) and COSE-HPKE
    /// (unless `ecdh_only`).
    pub fn add_p256(
        &mut self,
        path: &Path,
        kid: Option<&[u8]>,
        scalar: &[u8],
        ecdh: bool,
        hpke: bool,
    ) -> Result<()> {
        let err = |e: KeyError| AuthorError::key(path, format!("device key refused: {e}"));
        if ecdh {
            self.inner.add_ecdh_p256(kid, scalar).map_err(err)?;
            self.kids.push(kid.map(<[u8]>::to_vec));
        }
        if hpke {
            self.inner.add_hpke_p256(kid, scalar).map_err(err)?;
            self.kids.push(kid.map(<[u8]>::to_vec));
        }
        Ok(())
    }

    /// Adds an AES key-encryption key (16 or 32 bytes).
    pub fn add_kek(&mut self, path: &Path, kid: Option<&[u8]>, kek: &[u8]) -> Result<()> {
        self.inner
            .add_kek(kid, kek)
            .map_err(|e| AuthorError::key(path, format!("KEK refused: {e}")))?;
        self.kids.push(kid.map(<[u8]>::to_vec));
        Ok(())
    }
}

impl DeviceKeys for SimKeys {
    fn find(&self, kind: KeyKind, kid: Option<&[u8]>) -> Vec<KeyRef> {
        self.inner
            .find(kind, None)
            .into_iter()
            .filter(|r| {
                let mine = usize::try_from(r.0)
                    .ok()
                    .and_then(|i| self.kids.get(i))
                    .and_then(Option::as_deref);
                match (kid, mine) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                }
            })
            .collect()
    }

    fn kek(&self, key: KeyRef) -> std::result::Result<SecretBytes, KeyError> {
        self.inner.kek(key)
    }

    fn ecdh_p256(
        &self,
        key: KeyRef,
        peer: &p256::PublicKey,
    ) -> std::result::Result<EcdhSecret, KeyError> {
        self.inner.ecdh_p256(key, peer)
    }

    fn hpke_open(
        &self,
        key: KeyRef,
        op: &HpkeOpen<'_>,
    ) -> std::result::Result<SecretBytes, KeyError> {
        self.inner.hpke_open(key, op)
    }
}
