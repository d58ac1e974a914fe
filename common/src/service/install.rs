//! Installing an envelope the REE streams in over several TA calls.
//!
//! 1. `begin` with the envelope's length, then envelope chunks (kept in TA memory, bounded).
//! 2. `prepare`: decode and authenticate the envelope and check policy and rollback, with no
//!    side effect; answer which payload URIs the authenticated manifest may fetch.
//! 3. payload chunks, only for those URIs, appended to secure-storage objects (bounded).
//! 4. `finish`: run the whole SUIT update procedure over the staged bytes. Component writes
//!    go to fresh objects; one atomic state write commits them together with the sequence
//!    number; any failure deletes everything staged and changes nothing.
//!
//! What leaves the TA about an attempt: before the manifest is authenticated nothing is
//! decoded beyond what authentication needs, and a refusal's report and text name the error
//! only ([`ReportBuilder::refused_before_authentication`]); afterwards, claims come from the
//! authenticated manifest ([`ManifestClaims`]), and system information about components from
//! the engine's `Disclosure` gate, never from staged plaintext that is not authenticated.
//!
//! Power cuts: every object an install creates is named in the [`Journal`] before it exists,
//! and a commit that hands a TA image to OP-TEE (irreversible) records its whole next state
//! there first. [`reconcile`] rolls such a commit forward at the next start; [`cleanup`]
//! (at `begin`) deletes exactly the journal's objects the state does not use.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};

use crate::report::{image_properties, Failure, ManifestClaims, Report, ReportBuilder};
use crate::suit::decrypt::KeySource;
use crate::suit::platform::{Disclosure, IdentifierKind, Platform, PlatformError, Record};
use crate::suit::{self, ComponentId, Envelope, Procedure};

use super::components::{self, Kind, MAX_PERSONALIZATION, MAX_TA_IMAGE};
use super::state::{component_from, segments_of, ComponentRecord, State, StateError};
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
#[non_exhaustive]
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

/// The words of the TA's refusal (kind aside, see `service::Refuse`).
impl core::fmt::Display for InstallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InstallError::Sequence(what) => write!(f, "install steps out of order: {what}"),
            InstallError::TooLarge(what) => write!(f, "{what} exceeds the TA's limit"),
            InstallError::UnexpectedPayload => {
                f.write_str("payload not referenced by the authenticated manifest")
            }
            InstallError::Store(e) => write!(f, "secure storage: {e}"),
            InstallError::Refused(reason) => f.write_str(reason),
        }
    }
}

impl core::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            InstallError::Store(e) => Some(e),
            _ => None,
        }
    }
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
    /// What `prepare` authenticated: the only source of the finish report's claims (the
    /// envelope cannot change between the two; `begin` starts over).
    claims: Option<ManifestClaims>,
    /// What this install created so far (mirrors the stored journal).
    journal: Journal,
}

/// What `prepare` learned from the authenticated manifest.
pub struct Prepared {
    pub needed_uris: Vec<String>,
    /// Authenticated size bound of each needed URI (see [`suit::fetch_bound`]).
    pub needed_sizes: Vec<Option<u64>>,
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

/// Payload objects are named per generation: a component fetched without change keeps its
/// payload object as its content (no copy), so the next install must not reuse the name.
fn payload_object(generation: u64, i: usize) -> String {
    format!("suit/in/{generation}/{i}")
}

impl InstallSession {
    /// Starts over. Whatever an abandoned or interrupted install left behind (the journal's
    /// objects the state does not use) is deleted, and nothing else.
    pub fn begin(
        &mut self,
        store: &mut dyn SecureStore,
        state: &State,
        envelope_len: u64,
    ) -> Result<(), InstallError> {
        self.clear(store);
        cleanup(store, state).map_err(|e| match e {
            StateError::Store(e) => InstallError::Store(e),
            _ => InstallError::Store(StoreError::Corrupt),
        })?;
        self.journal = Journal::default();
        let len = usize::try_from(envelope_len).map_err(|_| InstallError::TooLarge("envelope"))?;
        if len == 0 {
            return Err(InstallError::Refused("the envelope is empty".into()));
        }
        if len > MAX_ENVELOPE {
            return Err(InstallError::TooLarge("envelope"));
        }
        let mut envelope = Vec::new();
        envelope
            .try_reserve_exact(len)
            .map_err(|_| InstallError::Store(StoreError::OutOfMemory))?;
        self.expected_len = len;
        self.envelope = envelope;
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
            .map_err(|e| InstallError::Refused(format!("stored policy unusable: {e}")))?;
        // Nothing of the envelope is interpreted before authentication, not even for a report.
        let auth = match Envelope::decode(&self.envelope)
            .and_then(|env| env.authenticate(&policy.anchors))
        {
            Ok(auth) => auth,
            Err(e) => {
                self.report = Some(ReportBuilder::refused_before_authentication(&e));
                return Err(InstallError::Refused(format!("{e}")));
            }
        };
        let claims = ManifestClaims::of(&auth);
        let checked = policy
            .check_manifest(&auth.manifest, &auth.signers)
            .map_err(suit::Error::from)
            .and_then(|()| {
                let stored = state.sequence_number(&auth.manifest.rollback_key());
                suit::policy::check_rollback(stored, auth.manifest.sequence_number)
                    .map_err(suit::Error::from)
            });
        if let Err(e) = checked {
            let report = ReportBuilder::for_manifest(&claims).fail(&e, Some(&self.envelope));
            self.report = Some(report);
            return Err(InstallError::Refused(format!("{e}")));
        }
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
            needed_sizes: suit::fetch_bound::fetch_bounds(&auth.manifest, &uris),
            sequence_number: auth.manifest.sequence_number,
            signers: auth.signers.clone(),
        };
        self.payloads = uris
            .iter()
            .enumerate()
            .map(|(i, uri)| Payload {
                uri: uri.clone(),
                object: payload_object(state.generation + 1, i),
                expected: None,
                received: 0,
            })
            .collect();
        self.needed = Some(uris);
        self.claims = Some(claims);
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
            self.journal
                .note(store, &p.object)
                .map_err(InstallError::Store)?;
            // Created empty (or emptied) in one step: no probe, no delete.
            store.put(&p.object, &[]).map_err(InstallError::Store)?;
            p.expected = Some(total_len);
            p.received = 0;
        }
        if !data.is_empty() {
            p.received = store.append(&p.object, data).map_err(InstallError::Store)?;
        }
        Ok(())
    }

    /// Runs the update procedure and commits; on failure nothing changes.
    pub fn finish<D: SecureStore + TaStore>(
        &mut self,
        store: &mut D,
        state: &mut State,
        keys: &dyn KeySource,
    ) -> Result<Installed, InstallError> {
        let Some(claims) = self.claims.clone().filter(|_| self.needed.is_some()) else {
            return Err(InstallError::Sequence("finish before prepare"));
        };
        if self
            .payloads
            .iter()
            .any(|p| p.expected.is_some_and(|t| t != p.received))
        {
            // Finish ends the session either way: nothing half-sent stays in storage.
            self.clear(store);
            let _ = cleanup(store, state);
            return Err(InstallError::Sequence("payload incomplete"));
        }
        let policy = state
            .policy()
            .map_err(|e| InstallError::Refused(format!("stored policy unusable: {e}")))?;
        let envelope = core::mem::take(&mut self.envelope);
        let payloads: Vec<(String, Option<String>)> = self
            .payloads
            .iter()
            .map(|p| (p.uri.clone(), p.expected.map(|_| p.object.clone())))
            .collect();
        let (result, report) = {
            let builder = ReportBuilder::for_manifest(&claims);
            let mut platform =
                StorePlatform::new(store, state, &payloads, builder, &mut self.journal);
            let r = suit::process(&envelope, Procedure::Update, &policy, keys, &mut platform);
            let builder = core::mem::take(&mut platform.report);
            match r {
                Ok(o) => {
                    let report = builder.succeed(&o);
                    (Ok((o, core::mem::take(&mut platform.ree_paths))), report)
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
        // Payload objects are left to `cleanup`: a committed (or pending) state may use one as
        // a component's content.
        self.reset();
        self.report = Some(report);
        // Success or not, drop what the journal lists and the (new or old) state does not use.
        // A failure here leaves the journal for the next `begin`; it never undoes a commit.
        let _ = cleanup(store, state);
        let (outcome, ree_paths) = result.map_err(InstallError::Refused)?;
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
        self.reset();
    }

    /// Resets the session, leaving storage alone (a pending report survives).
    fn reset(&mut self) {
        let report = self.report.take();
        let journal = core::mem::take(&mut self.journal);
        *self = InstallSession {
            report,
            journal,
            ..InstallSession::default()
        };
    }
}

struct Staged {
    component: ComponentId,
    /// This component's own staging object (created on first use).
    object: String,
    len: u64,
    hasher: Sha256,
    /// Whether `object` exists.
    created: bool,
    /// While every byte written so far equals the same bytes of a payload object (a fetch
    /// without change), that object holds the content and nothing is copied.
    mirror: Option<String>,
}

impl Staged {
    /// Where the content is, if anywhere yet.
    fn stored(&self) -> Option<&str> {
        match &self.mirror {
            Some(m) => Some(m),
            None if self.created => Some(&self.object),
            None => None,
        }
    }
}

/// The chunk `fetch_read` returned last: object, offset and bytes (wiped on drop).
struct LastFetch {
    object: String,
    offset: u64,
    bytes: zeroize::Zeroizing<Vec<u8>>,
    /// No stage write since it was read: only the write that directly follows a fetch read
    /// is compared with it, so decrypted plaintext (written after component reads, never
    /// after a fetch read: the engine refuses decrypting fetches) is never compared with
    /// REE-supplied bytes, and storage behaviour never depends on plaintext.
    fresh: bool,
}

/// The engine's [`Platform`] over secure storage and the state record.
struct StorePlatform<'a, D: SecureStore + TaStore> {
    store: &'a mut D,
    state: &'a mut State,
    payloads: &'a [(String, Option<String>)],
    fetch: Option<(String, u64)>,
    last_fetch: Option<LastFetch>,
    staged: Vec<Staged>,
    staged_sequence: Vec<(Vec<u8>, u64)>,
    /// Per staged component: the sequence number of the manifest that staged it.
    staged_by: Vec<(ComponentId, u64)>,
    /// Components whose digest stays inside the TA (see `ComponentRecord::digest_withheld`).
    withheld: Vec<ComponentId>,
    journal: &'a mut Journal,
    serial: usize,
    /// Why `commit` refused, in words (the engine only sees `PlatformError::Refused`).
    refusal: Option<String>,
    ree_paths: Vec<String>,
    report: ReportBuilder,
    /// Installed components whose removal (suit-directive-unlink) is staged.
    unlinked: Vec<ComponentId>,
}

/// Sequence-number key under which an unlinked component keeps its rollback floor: a removed
/// component may only come back from a manifest newer than the one that removed it.
fn unlinked_key(component: &ComponentId) -> Vec<u8> {
    let mut k = b"unlinked:".to_vec();
    k.extend_from_slice(&component.encode());
    k
}

impl<'a, D: SecureStore + TaStore> StorePlatform<'a, D> {
    fn new(
        store: &'a mut D,
        state: &'a mut State,
        payloads: &'a [(String, Option<String>)],
        report: ReportBuilder,
        journal: &'a mut Journal,
    ) -> Self {
        StorePlatform {
            store,
            state,
            payloads,
            fetch: None,
            last_fetch: None,
            staged: Vec::new(),
            staged_sequence: Vec::new(),
            staged_by: Vec::new(),
            withheld: Vec::new(),
            journal,
            serial: 0,
            refusal: None,
            ree_paths: Vec::new(),
            report,
            unlinked: Vec::new(),
        }
    }

    fn refuse(&mut self, reason: String) -> PlatformError {
        self.refusal = Some(reason);
        PlatformError::Refused
    }

    /// Checks every staged component against what its kind requires, before anything
    /// irreversible happens; returns the TA images to install (at most one, read once: the
    /// heap holds one copy, bounded by [`MAX_TA_IMAGE`]).
    #[allow(clippy::type_complexity)]
    fn check_kinds(
        &mut self,
        next: &State,
    ) -> Result<Vec<(usize, components::TaHeader, zeroize::Zeroizing<Vec<u8>>)>, PlatformError>
    {
        let mut tas = Vec::new();
        for i in 0..self.staged.len() {
            let staged = self.staged.get(i).ok_or(PlatformError::NotFound)?;
            let (component, len) = (staged.component.clone(), staged.len);
            // Per-component rollback, again at the last moment: only a newer manifest, or the
            // same one re-run as a dependency with identical content, may replace content.
            if let Some(floor) = next.sequence_number(&unlinked_key(&component)) {
                if self.staged_by_sequence(&component, floor) <= floor {
                    return Err(self.refuse(format!(
                        "Rollback of component {component}: it was removed by a manifest with sequence number {floor}; only a newer one may install it again"
                    )));
                }
            }
            if let Some(current) = next.component(&component) {
                let by = self.staged_by_sequence(&component, current.sequence_number);
                let digest = self
                    .staged
                    .get(i)
                    .ok_or(PlatformError::NotFound)?
                    .hasher
                    .clone()
                    .finalize();
                if by < current.sequence_number
                    || (by == current.sequence_number
                        && current.digest.as_slice() != digest.as_slice())
                {
                    return Err(self.refuse(format!(
                        "Rollback of component {component}: sequence number {by} is not greater than {}, that of the manifest that installed its current content",
                        current.sequence_number
                    )));
                }
            }
            match components::classify(&component) {
                Err(_) => {
                    return Err(
                        self.refuse(format!("component {component} is not a valid REE path"))
                    )
                }
                Ok(Kind::TrustedApp { uuid }) => {
                    if len > MAX_TA_IMAGE {
                        return Err(
                            self.refuse(format!("TA image of {len} bytes exceeds {MAX_TA_IMAGE}"))
                        );
                    }
                    // Before reading a second image: the heap holds at most one.
                    if !tas.is_empty() {
                        return Err(self.refuse(
                            "one update may change at most one TA: OP-TEE installs each on its own and cannot undo one"
                                .into(),
                        ));
                    }
                    let image = self.read_staged(i)?;
                    let header = match components::parse_ta_header(&image) {
                        Ok(h) => h,
                        Err(e) => {
                            return Err(self.refuse(format!(
                                "payload for {component} is not a signed TA image: {e}"
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
                    tas.push((i, header, image));
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
        let staged = self.staged.get(i).ok_or(PlatformError::NotFound)?;
        let object = staged.stored().ok_or(PlatformError::NotFound)?;
        let len = usize::try_from(staged.len).map_err(|_| PlatformError::NoSpace)?;
        let mut image = super::store::zeroed(len).map_err(Self::io)?;
        let mut at = 0;
        while let Some(rest) = image.get_mut(at..).filter(|r| !r.is_empty()) {
            match self.store.read_at(object, at as u64, rest) {
                Ok(0) => return Err(PlatformError::Io),
                Ok(n) => at += n,
                Err(e) => return Err(Self::io(e)),
            }
        }
        Ok(image)
    }

    /// Gives staged component `i` its own object (named in the journal first), copying the
    /// mirrored payload bytes into it if it had none.
    fn materialize(&mut self, i: usize) -> Result<(), PlatformError> {
        let staged = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
        if staged.created {
            return Ok(());
        }
        let object = staged.object.clone();
        self.journal.note(self.store, &object).map_err(Self::io)?;
        self.store.put(&object, &[]).map_err(Self::io)?;
        staged.created = true;
        if let Some(source) = staged.mirror.take() {
            let len = staged.len;
            let mut buf =
                super::store::zeroed(crate::suit::platform::CHUNK_LEN).map_err(Self::io)?;
            let mut at = 0u64;
            while at < len {
                let want = usize::try_from(len - at)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                let n = self
                    .store
                    .read_at(&source, at, buf.get_mut(..want).ok_or(PlatformError::Io)?)
                    .map_err(Self::io)?;
                if n == 0 {
                    return Err(PlatformError::Io);
                }
                let read = buf.get(..n).ok_or(PlatformError::BadLength)?;
                self.store.append(&object, read).map_err(Self::io)?;
                at += n as u64;
            }
        }
        Ok(())
    }

    /// The sequence number of the manifest that staged `component` (`fallback` if unknown).
    fn staged_by_sequence(&self, component: &ComponentId, fallback: u64) -> u64 {
        self.staged_by
            .iter()
            .find(|(c, _)| c == component)
            .map_or(fallback, |(_, v)| *v)
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
        let chunk = buf.get(..n).ok_or(PlatformError::Io)?;
        if n == 0 {
            self.last_fetch = None;
            return Ok(0);
        }
        // Remembered so that a stage write of exactly these bytes needs no copy.
        let last = match self.last_fetch.take() {
            Some(mut l) => {
                l.object.clone_from(object);
                l.bytes.clear();
                l
            }
            None => LastFetch {
                object: object.clone(),
                offset: 0,
                bytes: zeroize::Zeroizing::new(Vec::new()),
                fresh: false,
            },
        };
        let mut last = last;
        last.offset = *offset;
        last.fresh = true;
        if last.bytes.try_reserve(n).is_ok() {
            last.bytes.extend_from_slice(chunk);
            self.last_fetch = Some(last);
        }
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
        // Created (and named in the journal) on the first write that is not a fetched
        // payload's own bytes, or at commit.
        self.staged.push(Staged {
            component: component.clone(),
            object,
            len: 0,
            hasher: Sha256::new(),
            created: false,
            mirror: None,
        });
        Ok(())
    }

    fn stage_write(&mut self, component: &ComponentId, data: &[u8]) -> Result<(), PlatformError> {
        let i = self
            .staged
            .iter()
            .position(|s| s.component == *component)
            .ok_or(PlatformError::NotFound)?;
        let fresh = self.last_fetch.as_mut().is_some_and(|l| {
            let f = l.fresh;
            l.fresh = false;
            f
        });
        let s = self.staged.get(i).ok_or(PlatformError::NotFound)?;
        // The same bytes at the same offset of the payload object the fetch just read:
        // that object already holds them.
        let mirrors = fresh
            && !s.created
            && self.last_fetch.as_ref().is_some_and(|l| {
                l.offset == s.len
                    && l.bytes.as_slice() == data
                    && s.mirror.as_ref().is_none_or(|m| *m == l.object)
                    && (s.mirror.is_some() || s.len == 0)
            });
        if mirrors {
            let object = self.last_fetch.as_ref().map(|l| l.object.clone());
            let s = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
            s.mirror = object;
            s.len += data.len() as u64;
        } else {
            self.materialize(i)?;
            let s = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
            s.len = self.store.append(&s.object, data).map_err(Self::io)?;
        }
        self.staged
            .get_mut(i)
            .ok_or(PlatformError::NotFound)?
            .hasher
            .update(data);
        Ok(())
    }

    fn stage_discard(&mut self, component: &ComponentId) {
        self.unlinked.retain(|u| u != component);
        if let Some(pos) = self.staged.iter().position(|s| s.component == *component) {
            let s = self.staged.remove(pos);
            if s.created {
                let _ = self.store.remove(&s.object);
            }
        }
    }

    fn read(
        &self,
        component: &ComponentId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, PlatformError> {
        if let Some(s) = self.staged.iter().find(|s| s.component == *component) {
            return match s.stored() {
                Some(object) => self.store.read_at(object, offset, buf).map_err(Self::io),
                None => Ok(0),
            };
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

    fn component_sequence_number(
        &self,
        component: &ComponentId,
    ) -> Result<Option<u64>, PlatformError> {
        Ok(self
            .state
            .component(component)
            .map(|c| c.sequence_number)
            .or_else(|| self.state.sequence_number(&unlinked_key(component))))
    }

    /// Trusted applications assert their version through the signed TA header's
    /// `ta_version`, recorded at install: `[ta_version]`. Other components have no version
    /// the TA knows, so suit-condition-version fails on them.
    fn component_version(
        &self,
        component: &ComponentId,
    ) -> Result<Option<alloc::vec::Vec<i64>>, PlatformError> {
        Ok(self
            .state
            .component(component)
            .and_then(|c| c.ta_version)
            .map(|v| alloc::vec![i64::from(v)]))
    }

    fn wall_clock(&self) -> Option<crate::suit::update_management::WallClock> {
        self.store.wall_clock()
    }

    fn stage_digest_withheld(&mut self, component: &ComponentId) {
        if !self.withheld.contains(component) {
            self.withheld.push(component.clone());
        }
    }

    fn stage_component_sequence_number(
        &mut self,
        component: &ComponentId,
        value: u64,
    ) -> Result<(), PlatformError> {
        self.staged_by.retain(|(c, _)| c != component);
        self.staged_by.push((component.clone(), value));
        Ok(())
    }

    /// What removal means per kind: personalization data and other secure-storage
    /// components are deleted at commit; a TA is refused (OP-TEE gives a TA no call to
    /// delete another TA from its store); an `['ree', ...]` file is refused (the agent has
    /// no removal step the TA could approve). Removing what is not installed does nothing.
    fn unlink(&mut self, component: &ComponentId) -> Result<(), PlatformError> {
        match components::classify(component) {
            Err(_) => Err(self.refuse(format!("component {component} is not a valid REE path"))),
            Ok(Kind::TrustedApp { uuid }) => Err(self.refuse(format!(
                "unlink of TA {}: removing a TA is not supported (OP-TEE offers no removal from its TA store)",
                components::uuid_string(&uuid)
            ))),
            Ok(Kind::Ree { path }) => Err(self.refuse(format!(
                "unlink of normal-world file {path}: not supported (the agent has no removal step)"
            ))),
            Ok(Kind::Personalization { .. }) | Ok(Kind::Secure) => {
                if self.state.component(component).is_some() && !self.unlinked.contains(component) {
                    self.unlinked.push(component.clone());
                }
                Ok(())
            }
        }
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
        // Every component needs an object to name in the state; empty ones get theirs now.
        for i in 0..self.staged.len() {
            if self.staged.get(i).is_some_and(|s| s.stored().is_none()) {
                self.materialize(i)?;
            }
        }
        let tas = self.check_kinds(&next)?;
        let mut replaced = Vec::new();
        for (i, s) in self.staged.iter().enumerate() {
            let ta_version = tas
                .iter()
                .find(|(j, _, _)| *j == i)
                .map(|(_, h, _)| h.ta_version);
            let record = ComponentRecord {
                id: segments_of(&s.component),
                digest: crate::protocol::ByteBuf::from(s.hasher.clone().finalize().to_vec()),
                size: s.len,
                // An installed TA lives in OP-TEE's TA store; we keep no plaintext copy.
                object: if ta_version.is_some() {
                    String::new()
                } else {
                    s.stored().unwrap_or_default().into()
                },
                sequence_number: self.staged_by_sequence(&s.component, sequence),
                ta_version,
                digest_withheld: self.withheld.contains(&s.component),
            };
            if ta_version.is_some() {
                replaced.push(s.stored().unwrap_or_default().into());
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
        // Removals: the record goes, its object becomes garbage after the switch (journaled
        // below like a replaced one), and the rollback floor stays as a sequence number.
        for c in &self.unlinked {
            if let Some(pos) = next
                .components
                .iter()
                .position(|r| component_from(&r.id) == *c)
            {
                let old = next.components.remove(pos);
                if !old.object.is_empty() {
                    replaced.push(old.object);
                }
                next.set_sequence_number(&unlinked_key(c), old.sequence_number.max(sequence));
            }
        }
        if next.components.len() > super::state::MAX_COMPONENTS {
            return Err(PlatformError::NoSpace);
        }
        // What the new state no longer uses becomes garbage the moment it is durable: list it
        // first, so a power cut after the switch leaves nothing unaccounted for.
        for name in &replaced {
            if !self.journal.objects.contains(name) {
                self.journal.objects.push(name.clone());
            }
        }
        if let Some((i, header, image)) = tas.first() {
            // OP-TEE's TA store is outside our state and cannot be undone: record the whole
            // next state and the staged image (kept until installed) before touching it, so
            // a power cut from here on is rolled forward by `reconcile`.
            let object: String = self
                .staged
                .get(*i)
                .and_then(Staged::stored)
                .ok_or(PlatformError::NotFound)?
                .into();
            self.journal.pending = Some(PendingCommit {
                state: next.clone(),
                tas: alloc::vec![object],
            });
            if let Err(e) = self.journal.save(self.store) {
                self.journal.pending = None;
                return Err(Self::io(e));
            }
            // The image checked above, not re-read: what OP-TEE gets is what was checked.
            if let Err(code) = self.store.install_ta(image) {
                // OP-TEE refused before storing anything: the old state stands.
                self.journal.pending = None;
                let _ = self.journal.save(self.store);
                return Err(self.refuse(format!(
                    "OP-TEE refused TA {} (TEE result {code:#010x})",
                    components::uuid_string(&header.uuid)
                )));
            }
            // The TA is in; if the state write below fails, `reconcile` finishes the commit.
            next.save(self.store).map_err(|_| PlatformError::Io)?;
            self.journal.pending = None;
        } else {
            self.journal.save(self.store).map_err(Self::io)?;
            // The single atomic step: before it the old state holds, after it the new one.
            next.save(self.store).map_err(|_| PlatformError::Io)?;
        }
        *self.state = next;
        self.staged.clear();
        self.staged_sequence.clear();
        Ok(())
    }

    fn discard(&mut self) {
        let staged = core::mem::take(&mut self.staged);
        // A commit whose TA already reached OP-TEE is finished by `reconcile`, which needs
        // the staged objects (the kept image, and the content its state names); the journal
        // lists them all for the cleanup after.
        if self.journal.pending.is_none() {
            for s in staged.into_iter().filter(|s| s.created) {
                let _ = self.store.remove(&s.object);
            }
        }
        self.staged_sequence.clear();
    }

    /// Keeps what the manifest's reporting policy asks for; system information for a
    /// component is its image digest and size, as the engine's [`Disclosure`] allows: staged
    /// content only when the engine vouches for it, else the installed image. This platform's
    /// own staging area (which may hold unauthenticated plaintext) is never described.
    fn report(&mut self, record: &Record<'_>) {
        if !self.report.record(record) {
            return;
        }
        let Some(c) = record.component else {
            return;
        };
        let properties = match record.disclosure {
            Disclosure::Staged { digest, size } => Some(image_properties(&digest.0, size)),
            Disclosure::Withheld => None,
            Disclosure::Installed => self.state.component(c).and_then(|x| {
                <[u8; 32]>::try_from(x.public_digest()?)
                    .ok()
                    .map(|d| image_properties(&d, x.size))
            }),
        };
        if let Some(p) = properties {
            self.report.system_properties(c, p);
        }
    }
}

/// Object holding the install [`Journal`].
pub const JOURNAL_OBJECT: &str = "suit/journal";
/// Largest journal accepted (a pending commit carries a whole state record).
const MAX_JOURNAL: usize = 320 * 1024;
/// Most objects a journal lists: payloads, staging objects and replaced components.
const MAX_JOURNAL_OBJECTS: usize = MAX_PAYLOADS + MAX_SERIAL + super::state::MAX_COMPONENTS + 1;

/// What an unfinished install may have left behind, written before it happens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journal {
    /// Objects that are garbage unless the committed state uses them: payloads and staging
    /// objects (named before they are created) and the components a commit replaces (named
    /// before the state switches).
    pub objects: Vec<String>,
    /// A commit that has started handing a TA image to OP-TEE.
    pub pending: Option<PendingCommit>,
}

/// The state a commit switches to, and the staged TA images (kept as plaintext objects in
/// secure storage until installed) that OP-TEE must hold before it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCommit {
    pub state: State,
    pub tas: Vec<String>,
}

crate::cbor::struct_codec!(Journal { objects, pending });
crate::cbor::struct_codec!(PendingCommit { state, tas });

impl Journal {
    /// The stored journal, if any (none: nothing to recover).
    pub fn load<S: SecureStore + ?Sized>(store: &S) -> Result<Option<Journal>, StateError> {
        let Some(bytes) = store.get(JOURNAL_OBJECT)? else {
            return Ok(None);
        };
        let journal: Journal =
            super::record::decode_stored(&bytes, MAX_JOURNAL).map_err(|_| StateError::Corrupt)?;
        let tas = journal.pending.as_ref().map_or(0, |p| p.tas.len());
        if journal.objects.len() > MAX_JOURNAL_OBJECTS || tas > MAX_STAGED {
            return Err(StateError::Corrupt);
        }
        Ok(Some(journal))
    }

    fn save<S: SecureStore + ?Sized>(&self, store: &mut S) -> Result<(), StoreError> {
        if self.objects.len() > MAX_JOURNAL_OBJECTS {
            return Err(StoreError::NoSpace);
        }
        // Wiped after the write: a pending state holds symmetric anchor keys.
        let bytes =
            zeroize::Zeroizing::new(super::record::encode(self).map_err(|_| StoreError::Corrupt)?);
        store.put(JOURNAL_OBJECT, &bytes)
    }

    /// Records `name` before the caller creates it.
    fn note<S: SecureStore + ?Sized>(
        &mut self,
        store: &mut S,
        name: &str,
    ) -> Result<(), StoreError> {
        if self.objects.iter().any(|o| o == name) {
            return Ok(());
        }
        self.objects.push(name.into());
        if let Err(e) = self.save(store) {
            self.objects.pop();
            return Err(e);
        }
        Ok(())
    }
}

/// What [`reconcile`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// No commit was interrupted.
    Nothing,
    /// An interrupted commit was finished: its TA images are installed, its state is current.
    RolledForward,
    /// OP-TEE refused the image of an interrupted commit as such (signature, format,
    /// version), so it never held it: the old state stands. The TEE result code.
    Dropped(u32),
}

/// TEE results that refuse the image itself; anything else (storage, memory, busy: things the
/// REE can provoke) keeps the commit pending and is retried, so a provoked failure can delay
/// the roll-forward but never leave OP-TEE's TA newer than the state.
const REFUSES_THE_IMAGE: [u32; 5] = [
    0xffff_0003, // TEE_ERROR_ACCESS_CONFLICT
    0xffff_0005, // TEE_ERROR_BAD_FORMAT
    0xffff_0006, // TEE_ERROR_BAD_PARAMETERS
    0xffff_000a, // TEE_ERROR_NOT_SUPPORTED
    0xffff_000f, // TEE_ERROR_SECURITY
];

/// Finishes a commit a power cut interrupted after it recorded its next state: installs its
/// TA images again (OP-TEE accepts the same version twice) and switches to its state. Runs
/// before the first command of a session; idempotent, so a cut inside it is recovered too.
/// An error leaves the commit pending (the service then refuses all but status).
pub fn reconcile<D: SecureStore + TaStore>(store: &mut D) -> Result<Reconciled, StateError> {
    let Some(mut journal) = Journal::load(store)? else {
        return Ok(Reconciled::Nothing);
    };
    let Some(pending) = journal.pending.clone() else {
        return Ok(Reconciled::Nothing);
    };
    let state = State::load(store)?;
    let mut outcome = Reconciled::RolledForward;
    if pending.state.generation > state.generation {
        for object in &pending.tas {
            let image = read_object(store, object, MAX_TA_IMAGE)?;
            match store.install_ta(&image) {
                Ok(()) => {}
                Err(code) if REFUSES_THE_IMAGE.contains(&code) => {
                    outcome = Reconciled::Dropped(code);
                    break;
                }
                Err(code) => return Err(StateError::Store(StoreError::Io(code))),
            }
        }
        if outcome == Reconciled::RolledForward {
            pending.state.save(store)?;
        }
    }
    // Done (or dropped): the kept images are garbage now, like everything else listed.
    journal.pending = None;
    for object in pending.tas {
        if !journal.objects.contains(&object) {
            journal.objects.push(object);
        }
    }
    journal.save(store)?;
    Ok(outcome)
}

/// Deletes exactly the journal's objects that `state` does not use, then the journal. Only
/// staging and payload names are ever deleted, and nothing while a commit is pending (its
/// kept TA images are listed among the objects too, as the objects it replaced).
pub fn cleanup(store: &mut dyn SecureStore, state: &State) -> Result<(), StateError> {
    let Some(journal) = Journal::load(store)? else {
        return Ok(());
    };
    // A pending commit not yet in the state is `reconcile`'s; one already in it is done.
    if journal
        .pending
        .as_ref()
        .is_some_and(|p| p.state.generation > state.generation)
    {
        return Ok(());
    }
    for name in &journal.objects {
        let ours = name.starts_with("suit/c/") || name.starts_with("suit/in/");
        if ours && !state.components.iter().any(|c| &c.object == name) {
            store.remove(name)?;
        }
    }
    store.remove(JOURNAL_OBJECT)?;
    Ok(())
}

fn read_object<S: SecureStore + ?Sized>(
    store: &S,
    name: &str,
    limit: u64,
) -> Result<zeroize::Zeroizing<Vec<u8>>, StateError> {
    let len = store.len(name)?.ok_or(StateError::Corrupt)?;
    if len > limit {
        return Err(StateError::Corrupt);
    }
    let len = usize::try_from(len).map_err(|_| StateError::Corrupt)?;
    let mut image = super::store::zeroed(len)?;
    let mut at = 0;
    while let Some(rest) = image.get_mut(at..).filter(|r| !r.is_empty()) {
        match store.read_at(name, at as u64, rest)? {
            0 => return Err(StateError::Corrupt),
            n => at += n,
        }
    }
    Ok(image)
}
