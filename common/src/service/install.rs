//! Installing an envelope the REE streams in over several TA calls.
//!
//! 1. `begin` with the envelope's length, then envelope chunks (kept in TA memory, bounded).
//! 2. `prepare`: decode and authenticate the envelope and check policy and rollback, with no
//!    side effect; answer which payload URIs the authenticated manifest may fetch.
//! 3. payload chunks, only for those URIs, appended to secure-storage objects (bounded).
//! 4. `finish`: run the whole SUIT update procedure over the staged bytes. Component writes
//!    go to fresh objects; one atomic state write commits them together with the sequence
//!    number; any failure deletes everything staged and changes nothing.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};

use crate::encryption::DeviceKeys;
use crate::report::{image_properties, Failure, Report, ReportBuilder};
use crate::suit::platform::{IdentifierKind, Platform, PlatformError, Record};
use crate::suit::{self, ComponentId, Envelope, Procedure};

use super::components::{self, Kind, MAX_PERSONALIZATION, MAX_TA_IMAGE};
use super::state::{component_from, segments_of, ComponentRecord, State};
use super::store::{SecureStore, StoreError};
use super::TaStore;

/// Largest envelope (integrated payloads included) held in TA memory.
pub const MAX_ENVELOPE: usize = 1024 * 1024;
/// Largest detached payload staged in secure storage.
pub const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;
/// Most detached payloads one envelope may fetch.
pub const MAX_PAYLOADS: usize = 8;
/// Most components staged by one update, and most staging objects it may create.
const MAX_STAGED: usize = 16;
const MAX_SERIAL: usize = 64;

/// Where an install session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallError {
    /// The agent sent the steps out of order or inconsistent offsets/lengths.
    Sequence(&'static str),
    TooLarge(&'static str),
    /// A payload the authenticated manifest does not ask for.
    UnexpectedPayload,
    Store(StoreError),
    /// The engine refused; the text says what and where (no secrets).
    Refused(String),
}

struct Payload {
    uri: String,
    object: String,
    expected: Option<u64>,
    received: u64,
}

/// The REE-fed staging area of one install.
#[derive(Default)]
pub struct InstallSession {
    expected_len: usize,
    envelope: Vec<u8>,
    needed: Option<Vec<String>>,
    payloads: Vec<Payload>,
    /// The SUIT report of the last prepare/finish, for the service to keep.
    report: Option<Report>,
}

/// What `prepare` learned from the authenticated manifest.
pub struct Prepared {
    pub needed_uris: Vec<String>,
    pub sequence_number: u64,
    pub signers: Vec<u32>,
}

/// What `finish` did.
pub struct Installed {
    /// Approved normal-world files, for the agent to export.
    pub ree_paths: Vec<String>,
    pub sequence_number: u64,
    pub signers: Vec<u32>,
    pub committed: Vec<ComponentId>,
    pub manifest_digest: [u8; 32],
}

fn payload_object(i: usize) -> String {
    format!("suit/in/{i}")
}

impl InstallSession {
    /// Starts over. Staged payloads of an abandoned session, and component objects an
    /// interrupted commit may have left under the next generation's names, are deleted.
    pub fn begin(
        &mut self,
        store: &mut dyn SecureStore,
        state: &State,
        envelope_len: u64,
    ) -> Result<(), InstallError> {
        self.clear(store);
        for serial in 0..MAX_SERIAL {
            let _ = store.remove(&format!("suit/c/{}/{serial}", state.generation + 1));
        }
        let len = usize::try_from(envelope_len).map_err(|_| InstallError::TooLarge("envelope"))?;
        if len == 0 {
            return Err(InstallError::Refused("the envelope is empty".into()));
        }
        if len > MAX_ENVELOPE {
            return Err(InstallError::TooLarge("envelope"));
        }
        self.expected_len = len;
        self.envelope = Vec::with_capacity(len);
        Ok(())
    }

    pub fn envelope_chunk(&mut self, offset: u64, data: &[u8]) -> Result<(), InstallError> {
        if self.expected_len == 0 || self.needed.is_some() {
            return Err(InstallError::Sequence("no install in progress"));
        }
        if offset != self.envelope.len() as u64 {
            return Err(InstallError::Sequence("envelope chunk offset"));
        }
        if self.envelope.len() + data.len() > self.expected_len {
            return Err(InstallError::TooLarge(
                "envelope exceeds its announced length",
            ));
        }
        self.envelope.extend_from_slice(data);
        Ok(())
    }

    /// The report of the last `prepare` or `finish`, once.
    pub fn take_report(&mut self) -> Option<Report> {
        self.report.take()
    }

    /// Authenticates the envelope and checks policy and rollback; no side effects.
    pub fn prepare(&mut self, state: &State) -> Result<Prepared, InstallError> {
        if self.expected_len == 0 || self.envelope.len() != self.expected_len {
            return Err(InstallError::Sequence("envelope incomplete"));
        }
        let policy = state
            .policy()
            .map_err(|e| InstallError::Refused(format!("stored policy unusable: {e:?}")))?;
        let checked = Envelope::decode(&self.envelope).and_then(|env| {
            let auth = env.authenticate(&policy.anchors)?;
            policy.check_manifest(&auth.manifest, &auth.signers)?;
            let stored = state.sequence_number(&auth.manifest.rollback_key());
            suit::policy::check_rollback(stored, auth.manifest.sequence_number)?;
            Ok(auth)
        });
        let auth = match checked {
            Ok(auth) => auth,
            Err(e) => {
                let report =
                    ReportBuilder::for_envelope(&self.envelope).fail(&e, Some(&self.envelope));
                self.report = Some(report);
                return Err(InstallError::Refused(format!("{e}")));
            }
        };
        let mut uris: Vec<String> = Vec::new();
        for seq in auth.manifest.sequences() {
            seq.for_each_parameters(&mut |p| {
                if let Some(uri) = &p.uri {
                    if !uri.starts_with('#') && !uris.contains(uri) {
                        uris.push(uri.clone());
                    }
                }
            });
        }
        if uris.len() > MAX_PAYLOADS {
            return Err(InstallError::TooLarge("too many payload URIs"));
        }
        let prepared = Prepared {
            needed_uris: uris.clone(),
            sequence_number: auth.manifest.sequence_number,
            signers: auth.signers.clone(),
        };
        self.payloads = uris
            .iter()
            .enumerate()
            .map(|(i, uri)| Payload {
                uri: uri.clone(),
                object: payload_object(i),
                expected: None,
                received: 0,
            })
            .collect();
        self.needed = Some(uris);
        Ok(prepared)
    }

    pub fn payload_chunk(
        &mut self,
        store: &mut dyn SecureStore,
        uri: &str,
        total_len: u64,
        offset: u64,
        data: &[u8],
    ) -> Result<(), InstallError> {
        if self.needed.is_none() {
            return Err(InstallError::Sequence("payload before prepare"));
        }
        let p = self
            .payloads
            .iter_mut()
            .find(|p| p.uri == uri)
            .ok_or(InstallError::UnexpectedPayload)?;
        if total_len > MAX_PAYLOAD {
            return Err(InstallError::TooLarge("payload"));
        }
        // Validate fully before touching anything: a refused chunk changes nothing.
        let start_over = offset == 0;
        if !start_over && (p.expected != Some(total_len) || offset != p.received) {
            return Err(InstallError::Sequence("payload chunk offset or length"));
        }
        if offset.saturating_add(data.len() as u64) > total_len {
            return Err(InstallError::TooLarge(
                "payload exceeds its announced length",
            ));
        }
        if start_over {
            store.remove(&p.object).map_err(InstallError::Store)?;
            p.expected = Some(total_len);
            p.received = 0;
        }
        if !data.is_empty() {
            p.received = store.append(&p.object, data).map_err(InstallError::Store)?;
        } else if total_len == 0 {
            store.put(&p.object, &[]).map_err(InstallError::Store)?;
        }
        Ok(())
    }

    /// Runs the update procedure and commits; on failure nothing changes.
    pub fn finish<D: SecureStore + TaStore>(
        &mut self,
        store: &mut D,
        state: &mut State,
        keys: &dyn DeviceKeys,
    ) -> Result<Installed, InstallError> {
        if self.needed.is_none() {
            return Err(InstallError::Sequence("finish before prepare"));
        }
        if self
            .payloads
            .iter()
            .any(|p| p.expected.is_some_and(|t| t != p.received))
        {
            return Err(InstallError::Sequence("payload incomplete"));
        }
        let policy = state
            .policy()
            .map_err(|e| InstallError::Refused(format!("stored policy unusable: {e:?}")))?;
        let envelope = core::mem::take(&mut self.envelope);
        let payloads: Vec<(String, Option<String>)> = self
            .payloads
            .iter()
            .map(|p| (p.uri.clone(), p.expected.map(|_| p.object.clone())))
            .collect();
        let (result, report) = {
            let builder = ReportBuilder::for_envelope(&envelope);
            let mut platform = StorePlatform::new(store, state, &payloads, builder);
            let r = suit::process(&envelope, Procedure::Update, &policy, keys, &mut platform);
            let builder = core::mem::take(&mut platform.report);
            match r {
                Ok(o) => {
                    let report = builder.succeed(&o);
                    let commit = platform.take_commit();
                    (
                        Ok((o, commit, core::mem::take(&mut platform.ree_paths))),
                        report,
                    )
                }
                Err(e) => {
                    // A refusal at commit time has a more precise reason than the engine's.
                    let mut failure = Failure::from_error(&e, Some(&envelope));
                    if let Some(detail) = &platform.refusal {
                        failure.detail = Some(detail.clone());
                    }
                    let text = platform.refusal.take().unwrap_or_else(|| format!("{e}"));
                    (Err(text), builder.fail_with(failure))
                }
            }
        };
        self.clear(store);
        self.report = Some(report);
        let (outcome, commit, ree_paths) = result.map_err(InstallError::Refused)?;
        // The engine's commit already wrote and saved the new state; now drop what it replaced.
        for old in commit {
            let _ = store.remove(&old);
        }
        Ok(Installed {
            ree_paths,
            sequence_number: outcome.sequence_number,
            signers: outcome.signers,
            committed: outcome.committed,
            manifest_digest: outcome.manifest_digest.0,
        })
    }

    /// Deletes staged payloads and resets the session (a pending report survives).
    fn clear<S: SecureStore + ?Sized>(&mut self, store: &mut S) {
        for p in &self.payloads {
            let _ = store.remove(&p.object);
        }
        let report = self.report.take();
        *self = InstallSession {
            report,
            ..InstallSession::default()
        };
    }
}

struct Staged {
    component: ComponentId,
    object: String,
    len: u64,
    hasher: Sha256,
}

/// The engine's [`Platform`] over secure storage and the state record.
struct StorePlatform<'a, D: SecureStore + TaStore> {
    store: &'a mut D,
    state: &'a mut State,
    payloads: &'a [(String, Option<String>)],
    fetch: Option<(String, u64)>,
    staged: Vec<Staged>,
    staged_sequence: Vec<(Vec<u8>, u64)>,
    serial: usize,
    replaced: Vec<String>,
    /// Why `commit` refused, in words (the engine only sees `PlatformError::Refused`).
    refusal: Option<String>,
    ree_paths: Vec<String>,
    report: ReportBuilder,
}

impl<'a, D: SecureStore + TaStore> StorePlatform<'a, D> {
    fn new(
        store: &'a mut D,
        state: &'a mut State,
        payloads: &'a [(String, Option<String>)],
        report: ReportBuilder,
    ) -> Self {
        StorePlatform {
            store,
            state,
            payloads,
            fetch: None,
            staged: Vec::new(),
            staged_sequence: Vec::new(),
            serial: 0,
            replaced: Vec::new(),
            refusal: None,
            ree_paths: Vec::new(),
            report,
        }
    }

    fn refuse(&mut self, reason: String) -> PlatformError {
        self.refusal = Some(reason);
        PlatformError::Refused
    }

    /// Checks every staged component against what its kind requires, before anything
    /// irreversible happens; returns the TA images to install.
    fn check_kinds(
        &mut self,
        next: &State,
    ) -> Result<Vec<(usize, components::TaHeader)>, PlatformError> {
        let mut tas = Vec::new();
        for i in 0..self.staged.len() {
            let (component, len) = (self.staged[i].component.clone(), self.staged[i].len);
            match components::classify(&component) {
                Err(_) => {
                    return Err(
                        self.refuse(format!("component {component:?} is not a valid REE path"))
                    )
                }
                Ok(Kind::TrustedApp { uuid }) => {
                    if len > MAX_TA_IMAGE {
                        return Err(
                            self.refuse(format!("TA image of {len} bytes exceeds {MAX_TA_IMAGE}"))
                        );
                    }
                    let image = self.read_staged(i)?;
                    let header = match components::parse_ta_header(&image) {
                        Ok(h) => h,
                        Err(e) => {
                            return Err(self.refuse(format!(
                                "payload for {component:?} is not a signed TA image: {e}"
                            )))
                        }
                    };
                    if header.uuid != uuid {
                        return Err(self.refuse(format!(
                            "the image is TA {} but the manifest installs TA {}",
                            components::uuid_string(&header.uuid),
                            components::uuid_string(&uuid)
                        )));
                    }
                    if let Some(installed) = next.component(&component).and_then(|c| c.ta_version) {
                        if header.ta_version <= installed {
                            return Err(self.refuse(format!(
                                "TA version {} is not newer than the installed version {installed}",
                                header.ta_version
                            )));
                        }
                    }
                    tas.push((i, header));
                }
                Ok(Kind::Personalization { .. }) if len > MAX_PERSONALIZATION => {
                    return Err(self.refuse(format!(
                        "personalization data of {len} bytes exceeds {MAX_PERSONALIZATION}"
                    )));
                }
                Ok(Kind::Ree { path }) => self.ree_paths.push(path),
                Ok(_) => {}
            }
        }
        Ok(tas)
    }

    fn read_staged(&mut self, i: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, PlatformError> {
        let object = self.staged[i].object.clone();
        let len = usize::try_from(self.staged[i].len).map_err(|_| PlatformError::NoSpace)?;
        let mut image = zeroize::Zeroizing::new(alloc::vec![0u8; len]);
        let mut at = 0;
        while at < image.len() {
            match self.store.read_at(&object, at as u64, &mut image[at..]) {
                Ok(0) => return Err(PlatformError::Io),
                Ok(n) => at += n,
                Err(e) => return Err(Self::io(e)),
            }
        }
        Ok(image)
    }

    /// Objects the committed update replaced (to delete once the new state is durable).
    fn take_commit(&mut self) -> Vec<String> {
        core::mem::take(&mut self.replaced)
    }

    fn io(e: StoreError) -> PlatformError {
        match e {
            StoreError::NoSpace => PlatformError::NoSpace,
            StoreError::Io(code) => PlatformError::Other(code),
            _ => PlatformError::Io,
        }
    }
}

impl<D: SecureStore + TaStore> Platform for StorePlatform<'_, D> {
    fn identifier_matches(
        &self,
        kind: IdentifierKind,
        _component: &ComponentId,
        value: &[u8],
    ) -> bool {
        let id = &self.state.identity;
        let mine = match kind {
            IdentifierKind::Vendor => &id.vendor_id,
            IdentifierKind::Class => &id.class_id,
            IdentifierKind::Device => &id.device_id,
        };
        mine.as_ref().is_some_and(|m| m.as_slice() == value)
    }

    fn fetch_open(&mut self, uri: &str, _fetch_args: Option<&[u8]>) -> Result<(), PlatformError> {
        match self.payloads.iter().find(|(u, _)| u == uri) {
            Some((_, Some(object))) => {
                self.fetch = Some((object.clone(), 0));
                Ok(())
            }
            _ => Err(PlatformError::NotFound),
        }
    }

    fn fetch_read(&mut self, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let (object, offset) = self.fetch.as_mut().ok_or(PlatformError::NotFound)?;
        let n = self.store.read_at(object, *offset, buf).map_err(Self::io)?;
        *offset += n as u64;
        Ok(n)
    }

    fn stage_open(&mut self, component: &ComponentId) -> Result<(), PlatformError> {
        self.stage_discard(component);
        if self.staged.len() >= MAX_STAGED || self.serial >= MAX_SERIAL {
            return Err(PlatformError::NoSpace);
        }
        let object = format!("suit/c/{}/{}", self.state.generation + 1, self.serial);
        self.serial += 1;
        self.store.put(&object, &[]).map_err(Self::io)?;
        self.staged.push(Staged {
            component: component.clone(),
            object,
            len: 0,
            hasher: Sha256::new(),
        });
        Ok(())
    }

    fn stage_write(&mut self, component: &ComponentId, data: &[u8]) -> Result<(), PlatformError> {
        let s = self
            .staged
            .iter_mut()
            .find(|s| s.component == *component)
            .ok_or(PlatformError::NotFound)?;
        s.len = self.store.append(&s.object, data).map_err(Self::io)?;
        s.hasher.update(data);
        Ok(())
    }

    fn stage_discard(&mut self, component: &ComponentId) {
        if let Some(pos) = self.staged.iter().position(|s| s.component == *component) {
            let s = self.staged.remove(pos);
            let _ = self.store.remove(&s.object);
        }
    }

    fn read(
        &self,
        component: &ComponentId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, PlatformError> {
        if let Some(s) = self.staged.iter().find(|s| s.component == *component) {
            return self.store.read_at(&s.object, offset, buf).map_err(Self::io);
        }
        match self.state.component(component) {
            Some(c) => self.store.read_at(&c.object, offset, buf).map_err(Self::io),
            None => Err(PlatformError::NotFound),
        }
    }

    fn sequence_number(&self, key: &[u8]) -> Result<Option<u64>, PlatformError> {
        Ok(self.state.sequence_number(key))
    }

    fn stage_sequence_number(&mut self, key: &[u8], value: u64) -> Result<(), PlatformError> {
        self.staged_sequence.retain(|(k, _)| k != key);
        self.staged_sequence.push((key.to_vec(), value));
        Ok(())
    }

    fn commit(&mut self) -> Result<(), PlatformError> {
        let mut next = self.state.clone();
        next.generation += 1;
        let sequence = self
            .staged_sequence
            .iter()
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0);
        for (k, v) in &self.staged_sequence {
            next.set_sequence_number(k, *v);
        }
        self.ree_paths.clear();
        let tas = self.check_kinds(&next)?;
        // The one irreversible step outside our state: OP-TEE verifies the TA's signature and
        // stores it. Only now, with every check of every component passed. Each image is read
        // again here rather than kept from the checks, so two TAs never sit in the heap at once.
        let mut ta_versions = Vec::new();
        for (i, header) in &tas {
            let image = self.read_staged(*i)?;
            if let Err(code) = self.store.install_ta(&image) {
                return Err(self.refuse(format!(
                    "OP-TEE refused TA {} (TEE result {code:#010x})",
                    components::uuid_string(&header.uuid)
                )));
            }
            ta_versions.push((*i, header.ta_version));
        }
        let mut replaced = Vec::new();
        for (i, s) in self.staged.iter().enumerate() {
            let ta_version = ta_versions.iter().find(|(j, _)| *j == i).map(|(_, v)| *v);
            let record = ComponentRecord {
                id: segments_of(&s.component),
                digest: serde_bytes::ByteBuf::from(s.hasher.clone().finalize().to_vec()),
                size: s.len,
                // An installed TA lives in OP-TEE's TA store; we keep no plaintext copy.
                object: if ta_version.is_some() {
                    String::new()
                } else {
                    s.object.clone()
                },
                sequence_number: sequence,
                ta_version,
            };
            if ta_version.is_some() {
                replaced.push(s.object.clone());
            }
            match next
                .components
                .iter_mut()
                .find(|c| component_from(&c.id) == s.component)
            {
                Some(existing) => {
                    let old = core::mem::replace(existing, record).object;
                    if !old.is_empty() {
                        replaced.push(old);
                    }
                }
                None => next.components.push(record),
            }
        }
        if next.components.len() > super::state::MAX_COMPONENTS {
            return Err(PlatformError::NoSpace);
        }
        // The single atomic step: before it the old state holds, after it the new one.
        next.save(self.store).map_err(|_| PlatformError::Io)?;
        *self.state = next;
        self.staged.clear();
        self.staged_sequence.clear();
        self.replaced = replaced;
        Ok(())
    }

    fn discard(&mut self) {
        for s in core::mem::take(&mut self.staged) {
            let _ = self.store.remove(&s.object);
        }
        self.staged_sequence.clear();
    }

    /// Keeps what the manifest's reporting policy asks for; system information for a
    /// component is its image digest and size (staged if any, else installed).
    fn report(&mut self, record: &Record<'_>) {
        if !self.report.record(record) {
            return;
        }
        let Some(c) = record.component else {
            return;
        };
        let properties = match self.staged.iter().find(|s| s.component == *c) {
            Some(s) => Some(image_properties(&s.hasher.clone().finalize().into(), s.len)),
            None => self.state.component(c).and_then(|x| {
                <[u8; 32]>::try_from(x.digest.as_slice())
                    .ok()
                    .map(|d| image_properties(&d, x.size))
            }),
        };
        if let Some(p) = properties {
            self.report.system_properties(c, p);
        }
    }
}
