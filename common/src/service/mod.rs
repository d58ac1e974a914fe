//! The TA's request handling, independent of how requests arrive.
//!
//! The OP-TEE entry points in `ta/` and the host simulator both feed raw commands into
//! [`Service::invoke`]; what differs between them is only the [`Backend`] (GP TEE APIs vs.
//! files on disk). Keeping the dispatch here means the simulator exercises the same decisions
//! the TA makes.
//!
//! Stages, one module each: [`store`] (secure objects) → [`state`] (the atomic state record)
//! → [`keys`] (device keys) → [`provision`] (TPA-signed anchor management) → [`install`]
//! (streamed envelopes through the SUIT engine into secure storage).

pub mod components;
pub mod digests;
pub mod install;
pub mod keys;
pub mod memory;
pub mod provision;
pub mod record;
pub mod segments;
pub mod state;
pub mod statement;
pub mod store;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::borrow::Borrow;

use crate::cose::{KeyMaterial, VerificationKey};
use crate::fault::{self, Fault, ServiceFault};
use crate::protocol::{
    self, AnchorInfo, AnchorKeysInfo, AnchorsRequest, AnchorsResponse, BareRequest, ByteBuf,
    ChunkRequest, Codec, Command, ComponentPath, DeviceKeyRequest, DeviceKeyResponse, Empty,
    IdentityInfo, InstallAbandonRequest, InstallBeginRequest, InstallFinishRequest,
    InstallFinishResponse, InstallPrepareRequest, InstallPrepareResponse, KeyType,
    PayloadChunkRequest, PayloadChunkResponse, PersonalizationRequest, PersonalizationResponse,
    PlatformInfo, ProvisionRequest, ProvisionResponse, ReeExportRequest, ReeExportResponse,
    Refusal, RefusalKind, ReportRequest, ReportResponse, Request, Requirement, RuleInfo,
    ServiceInfo, Span, Status, StatusRequest, StatusResponse, TaUuid, MAX_CHUNK, MAX_REQUEST,
    MAX_RESPONSE, PROTOCOL_VERSION,
};
use crate::report::Report;
use crate::suit::ComponentId;

/// Object holding the (unsigned) report of the latest install attempt whose manifest was
/// authenticated.
pub const REPORT_OBJECT: &str = "suit/report";
/// Object holding the (unsigned) report of the latest attempt refused before authentication.
/// Kept apart from [`REPORT_OBJECT`] so that the REE, which can always produce such a
/// refusal, cannot make it the report a status tracker gets by default.
pub const PRE_AUTH_REPORT_OBJECT: &str = "suit/report-pre-auth";

/// Length of one tag of a report stored in [`REPORT_OBJECT`] or [`PRE_AUTH_REPORT_OBJECT`]
/// ([`keys::DeviceKeyPair::stored_report_tag`]).
pub const STORED_REPORT_TAG_LEN: usize = 32;
/// What follows a stored report's bytes: two tags, one for the state generation the attempt
/// is settled at and one for the state an uncertain last write would have made
/// ([`install::InstallSession::report_states`]; the first again when there is none).
pub const STORED_REPORT_TRAILER_LEN: usize = 2 * STORED_REPORT_TAG_LEN;

use install::{InstallError, InstallSession, ReportStates};
use keys::{DeviceKeyPair, KeyStoreError, Rng};
use state::{component_from, State, StateError};
use store::SecureStore;

/// Who opened the session, as the TEE reports it. Only a TA-to-TA session carries an
/// identity worth trusting; every normal-world login is just "the REE".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Ree,
    TrustedApp([u8; 16]),
}

/// Where trusted applications are installed (OP-TEE's secure-storage TA store).
pub trait TaStore {
    /// Hands a signed bootstrap TA image to the TEE, which verifies its signature and
    /// stores it; the error is the TEE's result code.
    fn install_ta(&mut self, image: &[u8]) -> Result<(), u32>;

    /// The wall clock for the update-management conditions (use-before, time waits), if the
    /// environment has one. Here rather than on [`Backend`] because the install platform is
    /// generic over the store. OP-TEE's is REE time: `trusted: false`.
    fn wall_clock(&self) -> Option<crate::suit::update_management::WallClock> {
        None
    }
}

/// What the service needs from the environment it runs in.
pub trait Backend: SecureStore + Rng + TaStore {
    /// `"optee"` or `"simulator"`: reported in status so nobody mistakes one for the other.
    fn name(&self) -> &'static str;
    /// The platform's protections, as far as they can be queried.
    fn platform_info(&self) -> PlatformInfo;
    /// The session's client.
    fn client(&self) -> Client;
}

/// Build-time configuration: the TPA root is fixed when the TA is built, never set by the REE.
pub struct Config {
    pub tpa_root: VerificationKey,
    pub tpa_root_is_test_key: bool,
    tpa_root_kid: Vec<u8>,
}

impl Config {
    /// `tpa_root_sec1`: the TPA root's uncompressed P-256 point.
    pub fn new(tpa_root_sec1: &[u8], is_test_key: bool) -> Result<Self, crate::cose::CoseError> {
        Ok(Config {
            tpa_root: VerificationKey::p256_from_sec1(tpa_root_sec1)?,
            tpa_root_is_test_key: is_test_key,
            tpa_root_kid: keys::key_id(tpa_root_sec1),
        })
    }
}

/// The outcome of one command, ready to be written into slots 0 and 2. The body is wiped on
/// drop: it can hold personalization data on its way to the owning TA.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: Status,
    /// Slot 0 `b`: response length, or the size needed / TA protocol version on errors.
    pub detail: u32,
    pub body: Vec<u8>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.body);
    }
}

impl Reply {
    pub fn bare(status: Status, detail: u32) -> Self {
        Reply {
            status,
            detail,
            body: Vec::new(),
        }
    }

    /// The TA could not copy the request (its heap cannot hold it now): refused as an
    /// internal failure, so an allocation failure never ends the TA instance.
    pub fn request_not_copied() -> Self {
        Self::refused(
            RefusalKind::Internal,
            &Fault::Internal(fault::Internal::CopyRequest),
        )
    }

    fn refused(kind: RefusalKind, fault: &Fault) -> Self {
        let refusal = Refusal {
            kind,
            fault: ByteBuf::from(fault.encode()),
        };
        match protocol::encode(&refusal) {
            Ok(body) => Self::sized(Status::Refused, body),
            Err(_) => Self::bare(Status::Refused, 0),
        }
    }

    fn sized(status: Status, mut body: Vec<u8>) -> Self {
        if body.len() > MAX_RESPONSE {
            let len = saturating_u32(body.len());
            // Wiped like every reply body (it may hold plaintext for its owner).
            zeroize::Zeroize::zeroize(&mut body);
            return Self::bare(Status::ResponseTooLarge, len);
        }
        Reply {
            status,
            detail: saturating_u32(body.len()),
            body,
        }
    }
}

/// A typed refusal inside a handler: becomes [`Status::Refused`] with a [`Refusal`] body,
/// whose fault the host puts into words (the TA carries no prose).
struct Refuse {
    kind: RefusalKind,
    fault: Fault,
}

impl Refuse {
    fn new(kind: RefusalKind, fault: Fault) -> Self {
        Refuse { kind, fault }
    }

    fn service(kind: RefusalKind, fault: ServiceFault) -> Self {
        Refuse::new(kind, Fault::Service(fault))
    }

    fn internal(step: fault::Internal) -> Self {
        Refuse::new(RefusalKind::Internal, Fault::Internal(step))
    }
}

impl From<StateError> for Refuse {
    fn from(e: StateError) -> Self {
        Refuse::new(RefusalKind::Storage, Fault::State(e))
    }
}

impl From<KeyStoreError> for Refuse {
    fn from(e: KeyStoreError) -> Self {
        Refuse::new(RefusalKind::DeviceKey, Fault::KeyStore(e))
    }
}

impl From<InstallError> for Refuse {
    fn from(e: InstallError) -> Self {
        let kind = match &e {
            // The device's trouble, as the same wait is when another command meets it.
            InstallError::Commit(install::CommitRefusal::AwaitingEnvelope { .. }) => {
                RefusalKind::Storage
            }
            InstallError::Refused(_) | InstallError::Commit(_) | InstallError::EmptyEnvelope => {
                RefusalKind::Manifest
            }
            InstallError::Sequence(_) => RefusalKind::Sequence,
            InstallError::TooLarge(_) => RefusalKind::TooLarge,
            InstallError::UnexpectedPayload => RefusalKind::Payload,
            InstallError::Store(_) | InstallError::Policy(_) => RefusalKind::Storage,
        };
        Refuse::new(kind, Fault::Install(e))
    }
}

enum Outcome {
    Body(Vec<u8>),
    Malformed,
    Refused(Refuse),
}

/// The TA's command dispatcher. One instance per TA instance; sessions are serialized by the
/// TEE (single-instance, single-session TA), so `&mut self` is never contended.
pub struct Service<B: Backend> {
    backend: B,
    config: Config,
    install: InstallSession,
    /// Whether an interrupted commit has been looked for since this instance started.
    reconciled: bool,
    /// Why the last `reconcile` could not finish an interrupted commit: every command but
    /// status is refused with it, and status reports it (the old state still loads).
    unreconciled: Option<StateError>,
    /// The envelope (its SHA-256) an interrupted commit awaits (`Reconciled::Awaiting`):
    /// until it is installed again or abandoned, only status, those install steps and the
    /// abandon run.
    awaiting: Option<[u8; 32]>,
    /// The session's pass over the REE component it exports (see `ree_export`).
    export: Option<store::VerifiedChunks>,
    /// The author tool's simulated device only (`author` feature, never in the TA): keys
    /// standing in for anchors' own payload keys, under the same rules.
    #[cfg(feature = "author")]
    simulated_keys: Option<keys::StandInKeys>,
}

impl<B: Backend> Service<B> {
    pub fn new(backend: B, config: Config) -> Self {
        Service {
            backend,
            config,
            install: InstallSession::default(),
            reconciled: false,
            unreconciled: None,
            awaiting: None,
            export: None,
            #[cfg(feature = "author")]
            simulated_keys: None,
        }
    }

    /// INSECURE, simulation only (`author` feature, which the TA never enables): `keys` stand
    /// in for anchors' own payload keys (each bound key for its anchor, the unbound one for
    /// every other), as `suit-author verify --process --device-key` needs for envelopes
    /// encrypted to keys the caller holds. A real device derives its keys per anchor. Which signers' keys a payload gets, KEKs by anchor, ownership and
    /// `ree_plaintext` are the device's rules all the same ([`keys::AnchorKeySource`]).
    #[cfg(feature = "author")]
    pub fn insecure_simulated_decryption_keys(&mut self, keys: keys::StandInKeys) {
        self.simulated_keys = Some(keys);
    }

    /// The keys [`Self::insecure_simulated_decryption_keys`] gave, for what the run noted.
    #[cfg(feature = "author")]
    pub fn simulated_decryption_keys(&self) -> Option<&keys::StandInKeys> {
        self.simulated_keys.as_ref()
    }

    /// Tests and tools (`author` feature): store every detached payload as it comes and let
    /// the engine decrypt at `finish` (the path taken by manifests not in the streaming form),
    /// to compare the two paths on the same manifest.
    #[cfg(feature = "author")]
    pub fn store_payloads_as_received(&mut self, yes: bool) {
        self.install.no_streaming = yes;
    }

    /// The client's session ends: an unfinished install is abandoned, and what it staged
    /// (payloads, plaintext decrypted as it arrived among them) is deleted.
    pub fn close(&mut self) {
        self.export = None;
        self.install.abandon(&mut self.backend);
    }

    /// The backend, for tests that inspect what was stored.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// [`Self::invoke`] for a client whose response slot holds `slot` bytes: one smaller than
    /// [`MAX_RESPONSE`] is refused before the command runs ([`Status::ResponseTooLarge`],
    /// `b` = [`MAX_RESPONSE`]), since an answer that did not fit after a commit (a
    /// provisioning receipt, an install's result) could never be given again.
    pub fn invoke_for_slot(
        &mut self,
        command: u32,
        host_version: u32,
        request: &mut [u8],
        slot: usize,
    ) -> Reply {
        // After the checks the TA makes first (version, request size), as it does.
        if crate::protocol::speaks(command, host_version)
            && request.len() <= MAX_REQUEST
            && slot < MAX_RESPONSE
        {
            return Reply::bare(Status::ResponseTooLarge, saturating_u32(MAX_RESPONSE));
        }
        self.invoke(command, host_version, request)
    }

    /// Handles one command. `request` must already be a TA-owned copy of slot 1, never
    /// shared memory: a payload chunk is decrypted where it lies in it (one copy of a chunk
    /// in TA memory), and the request is wiped after it.
    pub fn invoke(&mut self, command: u32, host_version: u32, request: &mut [u8]) -> Reply {
        if !crate::protocol::speaks(command, host_version) {
            return Reply::bare(Status::VersionMismatch, PROTOCOL_VERSION);
        }
        if request.len() > MAX_REQUEST {
            return Reply::bare(Status::RequestTooLarge, saturating_u32(MAX_REQUEST));
        }
        let command = match Command::try_from(command) {
            Ok(c) => c,
            Err(status) => return Reply::bare(status, 0),
        };
        // Before anything reads the state: finish a commit a power cut interrupted.
        if !self.reconciled {
            match install::reconcile(&mut self.backend) {
                Ok(r) => {
                    self.reconciled = true;
                    self.unreconciled = None;
                    self.awaiting = match r {
                        install::Reconciled::Awaiting(envelope) => Some(envelope),
                        _ => None,
                    };
                    self.install.reconciled(r != install::Reconciled::NoJournal);
                }
                // Status still answers, and says what is wrong.
                Err(e) if command == Command::Status => self.unreconciled = Some(e),
                Err(e) => return Reply::refused(RefusalKind::Storage, &Fault::Reconcile(e)),
            }
        }
        // OP-TEE's TA store may hold either image of a commit awaiting its envelope: nothing
        // that reads or changes the state runs until that envelope or an abandon ends it.
        if let Some(envelope) = self.awaiting {
            // Not the report either: it would sign the old state while OP-TEE may run the
            // new TA.
            let admitted = match command {
                Command::Status
                | Command::InstallBegin
                | Command::InstallEnvelope
                | Command::InstallAbandon => true,
                // Only that envelope is prepared; the later steps need a prepared install.
                Command::InstallPrepare => self.install.envelope_is(&envelope),
                Command::InstallPayload | Command::InstallFinish => self.install.is_prepared(),
                _ => false,
            };
            if !admitted {
                return Reply::refused(
                    RefusalKind::Storage,
                    &Fault::Service(ServiceFault::AwaitingEnvelope(ByteBuf::from(
                        envelope.to_vec(),
                    ))),
                );
            }
        }
        // Each handler's request type names its command and response (`Request`); the
        // command is checked against it in debug builds (`handle`).
        let outcome = match command {
            Command::Status => self.handle_bare(command, request, |s, _: StatusRequest| s.status()),
            Command::DeviceKey => {
                self.handle(command, request, |s, r: DeviceKeyRequest| s.device_key(r))
            }
            Command::Provision => self.provision_request(request),
            Command::Anchors => {
                self.handle_bare(command, request, |s, _: AnchorsRequest| s.anchors())
            }
            Command::InstallBegin => self.handle(command, request, |s, r: InstallBeginRequest| {
                s.install_begin(&r)
            }),
            Command::InstallEnvelope => self.handle(command, request, |s, r: ChunkRequest| {
                check_chunk(&r.data)?;
                s.install.envelope_chunk(r.offset, &r.data)?;
                Ok(Empty {})
            }),
            Command::InstallPrepare => {
                self.handle_bare(command, request, |s, _: InstallPrepareRequest| {
                    s.install_prepare()
                })
            }
            Command::InstallPayload => {
                let outcome = self.install_payload(request);
                // It held plaintext.
                zeroize::Zeroize::zeroize(request);
                outcome
            }
            Command::InstallFinish => {
                self.handle_bare(command, request, |s, _: InstallFinishRequest| {
                    s.install_finish()
                })
            }
            Command::PersonalizationGet => {
                self.handle_bare(command, request, |s, _: PersonalizationRequest| {
                    s.personalization()
                })
            }
            Command::ReeExport => {
                self.handle(command, request, |s, r: ReeExportRequest| s.ree_export(&r))
            }
            Command::Report => self.handle(command, request, |s, r: ReportRequest| s.report(r)),
            Command::InstallAbandon => {
                self.handle(command, request, |s, r: InstallAbandonRequest| {
                    s.install_abandon(&r)
                })
            }
            // Answered by the TA itself (its GP TEE provider lives there), in test builds only.
            Command::CryptoBench | Command::HeapScan => {
                return Reply::bare(Status::UnknownCommand, 0)
            }
        };
        match outcome {
            Outcome::Body(body) => Reply::sized(Status::Ok, body),
            Outcome::Malformed => Reply::bare(Status::MalformedRequest, 0),
            Outcome::Refused(r) => Reply::refused(r.kind, &r.fault),
        }
    }

    // Inlined into `invoke`, as each copy is only a request decoder around a call; every
    // handler below is kept out of line: inlined into `invoke` (one frame for all commands)
    // they made the production TA's `.text` 1.5 KB larger. `f` answers `Q`'s
    // response (or a wrapper of it, `Wiped`), so a handler cannot answer another command's.
    fn handle<Q: Request, A: Borrow<Q::Response>>(
        &mut self,
        command: Command,
        request: &[u8],
        f: impl FnOnce(&mut Self, Q) -> Result<A, Refuse>,
    ) -> Outcome {
        debug_assert_eq!(
            command,
            Q::COMMAND,
            "a handler for another command's request"
        );
        match protocol::decode::<Q>(request, MAX_REQUEST) {
            Ok(q) => self.answer_with(q, f),
            Err(_) => Outcome::Malformed,
        }
    }

    /// [`Self::handle`] of a request without fields, read with the one `Empty` decoder (as
    /// the protocol defines them, `BareRequest`) rather than a decoder per request type.
    fn handle_bare<Q: BareRequest, A: Borrow<Q::Response>>(
        &mut self,
        command: Command,
        request: &[u8],
        f: impl FnOnce(&mut Self, Q) -> Result<A, Refuse>,
    ) -> Outcome {
        debug_assert_eq!(
            command,
            Q::COMMAND,
            "a handler for another command's request"
        );
        match protocol::decode::<Empty>(request, MAX_REQUEST) {
            Ok(Empty {}) => self.answer_with(Q::default(), f),
            Err(_) => Outcome::Malformed,
        }
    }

    /// The handlers' one answering tail: `f`'s response encoded as `Q`'s, or its refusal.
    fn answer_with<Q: Request, A: Borrow<Q::Response>>(
        &mut self,
        q: Q,
        f: impl FnOnce(&mut Self, Q) -> Result<A, Refuse>,
    ) -> Outcome {
        match f(self, q) {
            Ok(r) => answer::<Q>(r.borrow()),
            Err(e) => Outcome::Refused(e),
        }
    }

    fn keys(&mut self) -> Result<DeviceKeyPair, Refuse> {
        Ok(DeviceKeyPair::load_or_create(&mut self.backend)?)
    }

    #[inline(never)]
    fn status(&mut self) -> Result<StatusResponse, Refuse> {
        let mut service = ServiceInfo {
            tpa_root_kid: ByteBuf::from(self.config.tpa_root_kid.clone()),
            tpa_root_is_test_key: self.config.tpa_root_is_test_key,
            ..Default::default()
        };
        match State::load(&self.backend) {
            Ok(state) => {
                service.provisioning_counter = state.root_counter();
                service.delegate_counter = Some(state.delegate_counter());
                service.anchors = saturating_u32(state.anchors.len());
                service.installed_components = saturating_u32(state.components.len());
                service.components = state
                    .components
                    .iter()
                    .map(|c| crate::protocol::ComponentInfo {
                        id: ComponentPath(c.id.clone()),
                        sequence_number: c.sequence_number,
                        size: c.size,
                        digest: ByteBuf::from(c.public_digest().unwrap_or_default().to_vec()),
                        ta_version: c.ta_version,
                        released_by: c
                            .released_by
                            .iter()
                            .map(|r| crate::protocol::ReleaseInfo {
                                anchor: r.anchor,
                                holds: r.holds(&state.anchors),
                            })
                            .collect(),
                    })
                    .collect();
                service.unconfirmed_tas = state
                    .unconfirmed_tas
                    .iter()
                    .filter_map(|u| <[u8; 16]>::try_from(u.as_slice()).ok())
                    .map(TaUuid)
                    .collect();
            }
            Err(e) => service.state_error = Some(ByteBuf::from(Fault::State(e).encode())),
        }
        // A journal that cannot be read stops every other command (`reconcile`): say why.
        if let (None, Err(e)) = (&service.state_error, install::Journal::load(&self.backend)) {
            service.state_error = Some(ByteBuf::from(Fault::State(e).encode()));
        }
        service.awaiting_envelope = self.awaiting.map(|d| ByteBuf::from(d.to_vec()));
        // So does a commit `reconcile` cannot finish, though the state it would replace loads:
        // the device is not simply on the release that state describes.
        if let (None, Some(e)) = (&service.state_error, self.unreconciled) {
            service.state_error = Some(ByteBuf::from(Fault::Reconcile(e).encode()));
        }
        if matches!(self.backend.len(keys::KEYS_OBJECT), Ok(Some(_))) {
            match self.keys() {
                Ok(k) => service.device_key_kid = Some(ByteBuf::from(k.identity_public().kid)),
                Err(e) => service.state_error = Some(ByteBuf::from(e.fault.encode())),
            }
        }
        // Facts only: the host judges them (`StatusResponse::assess`).
        let platform = self.backend.platform_info();
        Ok(StatusResponse {
            protocol_version: PROTOCOL_VERSION,
            ta_version: env!("CARGO_PKG_VERSION").to_string(),
            backend: self.backend.name().to_string(),
            platform,
            service,
        })
    }

    #[inline(never)]
    fn device_key(&mut self, r: DeviceKeyRequest) -> Result<DeviceKeyResponse, Refuse> {
        use statement::StatedKey;
        let k = self.keys()?;
        let (i, rep, p) = (
            k.identity_public(),
            k.report_public(),
            k.provisioning_public(),
        );
        let mut stated = alloc::vec![
            StatedKey::new("identity", None, &i),
            StatedKey::new("report", None, &rep),
            StatedKey::new("provisioning", None, &p),
        ];
        let anchor = match r.anchor {
            None => None,
            Some(id) => {
                let state = State::load(&self.backend)?;
                let a = state.anchors.iter().find(|a| a.id == id).ok_or_else(|| {
                    Refuse::service(RefusalKind::NotFound, ServiceFault::NoAnchor(id))
                })?;
                let keys = k.keys_of(a)?;
                let (e, h) = (keys.ecdh_public(), keys.hpke_public());
                // Which key anchor `id` holds: an author checks it is its own before
                // encrypting to these keys (the id may have been re-bound).
                let held = VerificationKey::from_cose_key(&a.cose_key)
                    .map_err(|_| StateError::Corrupt)?
                    .0;
                let owner = statement::StatedAnchor {
                    id,
                    key_scope: a.key_scope,
                    key: statement::anchor_key_check(&held, &i.kid, a.key_scope).map_err(|_| {
                        Refuse::new(
                            RefusalKind::DeviceKey,
                            Fault::Internal(fault::Internal::SignStatement),
                        )
                    })?,
                };
                stated.push(StatedKey::new("ecdh-es", Some(&owner), &e));
                stated.push(StatedKey::new("hpke", Some(&owner), &h));
                Some(AnchorKeysInfo {
                    id,
                    key_scope: a.key_scope,
                    ecdh_es_key: ByteBuf::from(e.sec1),
                    ecdh_es_kid: ByteBuf::from(e.kid),
                    hpke_key: ByteBuf::from(h.sec1),
                    hpke_kid: ByteBuf::from(h.kid),
                })
            }
        };
        let st = statement::KeyStatement {
            statement: statement::STATEMENT_KIND.into(),
            device: ByteBuf::from(i.kid.clone()),
            keys: stated,
        };
        let signed = statement::sign(&st, k.identity_secret()).map_err(|_| {
            Refuse::new(
                RefusalKind::DeviceKey,
                Fault::Internal(fault::Internal::SignStatement),
            )
        })?;
        Ok(DeviceKeyResponse {
            identity_key: ByteBuf::from(i.sec1),
            identity_kid: ByteBuf::from(i.kid),
            report_key: ByteBuf::from(rep.sec1),
            report_kid: ByteBuf::from(rep.kid),
            provisioning_key: ByteBuf::from(p.sec1),
            provisioning_kid: ByteBuf::from(p.kid),
            anchor,
            statement: ByteBuf::from(signed),
            origin: k.origin.name().into(),
        })
    }

    /// A provisioning message, read in place: nothing in proportion to it (up to
    /// `MAX_REQUEST`) is allocated before `provision::apply` bounds it and checks its signature.
    #[inline(never)]
    fn provision_request(&mut self, request: &mut [u8]) -> Outcome {
        let Ok(r) = protocol::decode_in_place::<ProvisionRequest<Span>>(request, MAX_REQUEST)
        else {
            return Outcome::Malformed;
        };
        let Some(message) = r.message.of_mut(request) else {
            return Outcome::Malformed;
        };
        match self.provision(message) {
            Ok(r) => answer::<ProvisionRequest>(&r),
            Err(e) => Outcome::Refused(e),
        }
    }

    #[inline(never)]
    fn provision(&mut self, message: &[u8]) -> Result<ProvisionResponse, Refuse> {
        let keys = self.keys()?;
        let identity = keys.identity_public();
        let prov = keys.provisioning_public();
        let mut opener = crate::encryption::MemoryKeys::new();
        // The key itself, not its bytes: `to_bytes` would leave an unwiped scalar copy.
        opener.add_hpke_p256_key(Some(&prov.kid), keys.provisioning_secret().clone());
        let mut state = State::load(&self.backend)?;
        let (old_keks, previous_kept) =
            provision::load_keks_naming_empty(&self.backend, &mut state)?;
        let mut keks = old_keks.clone();
        let device = provision::Device {
            identity_kid: &identity.kid,
            provisioning: &opener,
        };
        let applied = provision::apply(
            message,
            &self.config.tpa_root,
            &device,
            &mut state,
            &mut keks,
        )
        .map_err(|e| Refuse::new(RefusalKind::Provisioning, Fault::Provision(e)))?;
        let digest = provision::state_digest(&state, &keks)
            .map_err(|_| Refuse::internal(fault::Internal::StateDigest))?;
        let receipt = provision::sign_receipt(
            &provision::Receipt {
                counter: applied.counter,
                state_digest: ByteBuf::from(digest.to_vec()),
                device: ByteBuf::from(identity.kid.clone()),
                message_digest: ByteBuf::from(applied.message_digest.to_vec()),
                signer: applied.signer,
            },
            keys.identity_secret(),
        )
        .map_err(|_| Refuse::internal(fault::Internal::SignReceipt))?;
        // The KEK object first, the state record last: the record names the KEK set in force
        // (`State::kek_set`), so a cut between the two writes leaves the old one, and an older
        // KEK object put back later is refused. Written when the set changed, and once for a
        // device whose record does not name its set yet (stored before the ids existed).
        let keks_written = applied.keks_changed
            || (state.kek_set.is_none()
                && self.backend.len(keys::KEKS_OBJECT).ok().flatten().is_some());
        if keks_written {
            let mut random = [0u8; 16];
            self.backend.fill(&mut random);
            provision::save_keks(&mut self.backend, &mut state, &old_keks, &keks, &random)?;
        }
        state.save(&mut self.backend)?;
        // The record names the new set now: the old one, kept beside it only until then, goes
        // (a revoked KEK must not stay at rest). Best effort: a cut or failure here leaves an
        // object the record still accepts, and the next message drops it (below).
        if keks_written && !old_keks.is_empty() {
            let _ = provision::drop_previous_keks(&mut self.backend, &state, &keks);
        } else if !keks_written && previous_kept {
            // An earlier message's drop was cut after its record landed: finished here, so a
            // revoked KEK stays at rest only until the next message, whatever it changes.
            // Best effort too: this message is applied whatever happens here.
            let _ = provision::drop_previous_keks(&mut self.backend, &state, &keks);
        }
        Ok(ProvisionResponse {
            counter: applied.counter,
            signer: applied.signer,
            applied: applied.summary,
            receipt: ByteBuf::from(receipt),
        })
    }

    #[inline(never)]
    fn anchors(&mut self) -> Result<AnchorsResponse, Refuse> {
        Ok(anchors_of(&State::load(&self.backend)?))
    }

    /// Stores the report of the install step that just ran (unsigned: it is signed when
    /// asked for, over the asker's nonce), followed by its tags ([`report_bound`]) for the
    /// `states` the step may have left (`keys`: the device keys if loaded). One that cannot
    /// be stored removes the object's earlier report: no earlier attempt's is signed as this
    /// one's.
    #[inline(never)]
    fn keep_report(
        &mut self,
        states: ReportStates,
        keys: Option<&DeviceKeyPair>,
    ) -> Result<(), Refuse> {
        // With the anchors that authenticated the manifest, by id and key scope as they were
        // then (`ManifestClaims::of`): the report is sealed to a tracker key of theirs when
        // signed (`report`), never to another's.
        let Some((report, signers)) = self.install.take_report() else {
            return Ok(());
        };
        let object = if report.authenticated == Some(false) {
            PRE_AUTH_REPORT_OBJECT
        } else {
            REPORT_OBJECT
        };
        let kept = self.store_report(&report, &signers, object, states, keys);
        if kept.is_err() {
            let _ = self.backend.remove(object);
        }
        kept
    }

    fn store_report(
        &mut self,
        report: &Report,
        signers: &[crate::report::StoredSigner],
        object: &str,
        states: ReportStates,
        keys: Option<&DeviceKeyPair>,
    ) -> Result<(), Refuse> {
        // The tag is derived from the device's master secret: the buffer that carries it
        // to storage is wiped when dropped.
        let mut bytes = zeroize::Zeroizing::new(report.encode_stored(signers).map_err(|_| {
            Refuse::new(
                RefusalKind::Report,
                Fault::Internal(fault::Internal::EncodeReport),
            )
        })?);
        let loaded;
        let keys = match keys {
            Some(k) => k,
            None => {
                loaded = self.keys()?;
                &loaded
            }
        };
        let tag_for = |generation, state: &[u8]| {
            keys.stored_report_tag(object, report_bound(object, generation), state, &bytes)
                .map(zeroize::Zeroizing::new)
        };
        let first = tag_for(states.generation, &[])?;
        let second = match states.or_next {
            Some((generation, state)) => tag_for(generation, &state)?,
            None => first.clone(),
        };
        // Room for both tags first: a `Vec` that grew between the two would free a block
        // holding the first tag unwiped (`Zeroizing` wipes only the last block). What a
        // growth here frees holds the report alone, which is no secret.
        bytes.reserve_exact(STORED_REPORT_TRAILER_LEN);
        bytes.extend_from_slice(&first[..]);
        bytes.extend_from_slice(&second[..]);
        self.backend
            .put_record(object, &bytes)
            .map_err(|e| Refuse::new(RefusalKind::Storage, Fault::ReportStore(e)))
    }

    #[inline(never)]
    fn report(&mut self, r: ReportRequest) -> Result<ReportResponse, Refuse> {
        if r.nonce
            .as_ref()
            .is_some_and(|n| n.len() > crate::report::MAX_NONCE_LEN)
        {
            return Err(Refuse::service(
                RefusalKind::TooLarge,
                ServiceFault::NonceTooLong,
            ));
        }
        let object = if r.pre_auth {
            PRE_AUTH_REPORT_OBJECT
        } else {
            REPORT_OBJECT
        };
        // The report in clear: wiped when dropped (it may be one sealed to a tracker).
        let stored = zeroize::Zeroizing::new(
            self.backend
                .get(object)
                .map_err(storage_refusal)?
                .ok_or_else(|| {
                    Refuse::service(RefusalKind::NotFound, ServiceFault::NoReport(r.pre_auth))
                })?,
        );
        let current = State::load(&self.backend)?;
        let keys = self.keys()?;
        // Only a report this TA stored under this name, for the state now (see
        // `report_bound`), is signed: not another object, nor one from an older state, nor
        // one tagged for what an uncertain write would have made once another commit
        // reached that generation (the second tag names the state by its digest).
        let (bytes, tags) = stored
            .split_at_checked(stored.len().saturating_sub(STORED_REPORT_TRAILER_LEN))
            .unwrap_or_default();
        let (first, second) = tags
            .split_at_checked(STORED_REPORT_TAG_LEN)
            .unwrap_or_default();
        let bound = report_bound(object, current.generation);
        let want = keys.stored_report_tag(object, bound, &[], bytes)?;
        let digest = current.digest()?;
        let want_next = keys.stored_report_tag(object, bound, &digest, bytes)?;
        let current_tag = subtle::ConstantTimeEq::ct_eq(first, want.as_slice())
            | subtle::ConstantTimeEq::ct_eq(second, want.as_slice())
            | subtle::ConstantTimeEq::ct_eq(second, want_next.as_slice());
        if !bool::from(current_tag) {
            return Err(Refuse::service(
                RefusalKind::Storage,
                ServiceFault::ReportNotCurrent,
            ));
        }
        // The device's state now, under the caller's nonce: the truth whatever attempt ran last.
        let state = device_state(&current);
        // Sealed to the status tracker key of the first anchor that authenticated the
        // report's manifest and is still present (same id and key scope) with one: the TPA's
        // setting for that anchor, never a key the REE names.
        let anchors = &current.anchors;
        // A key there that is not a P-256 point (provisioning refuses one) fails the report
        // instead of letting it out in clear.
        let recipient = |signers: &[crate::report::StoredSigner]| {
            let tracker = signers.iter().find_map(|s| {
                anchors
                    .iter()
                    .find(|a| a.id == s.anchor && a.key_scope == s.key_scope)
                    .and_then(|a| a.scope.tracker_key.as_ref())
            });
            tracker
                .map(|k| p256::PublicKey::from_sec1_bytes(k))
                .transpose()
                .map_err(|_| crate::report::ReportError::EncryptionFailed)
        };
        let signed = Report::sign_stored(
            bytes,
            r.nonce.as_ref().map(AsRef::as_ref),
            &state,
            keys.report_secret(),
            recipient,
            &mut BackendRng(&mut self.backend),
        )
        .map_err(|_| {
            Refuse::new(
                RefusalKind::Report,
                Fault::Internal(fault::Internal::SignReport),
            )
        })?;
        Ok(ReportResponse {
            report: ByteBuf::from(signed),
        })
    }

    // Inlined (the one handler that is): -116 B of `.text` for 192 B more of `invoke`'s frame.
    fn install_begin(&mut self, r: &InstallBeginRequest) -> Result<Empty, Refuse> {
        let state = State::load(&self.backend)?;
        self.install
            .begin(&mut self.backend, &state, r.envelope_len)?;
        Ok(Empty {})
    }

    /// Ends the commit awaiting envelope `r.envelope` unapplied ([`install::abandon`]).
    #[inline(never)]
    fn install_abandon(&mut self, r: &InstallAbandonRequest) -> Result<Empty, Refuse> {
        let named = self.awaiting.is_some_and(|a| {
            bool::from(subtle::ConstantTimeEq::ct_eq(&a[..], r.envelope.as_slice()))
        });
        if !named {
            return Err(Refuse::service(
                RefusalKind::NotFound,
                ServiceFault::NotAwaited,
            ));
        }
        // Whatever it answers, the next command looks at the journal again.
        self.reconciled = false;
        self.awaiting = None;
        self.install.abandon(&mut self.backend);
        match install::abandon(&mut self.backend, r.envelope.as_slice()) {
            Ok(true) => Ok(Empty {}),
            Ok(false) => Err(Refuse::service(
                RefusalKind::NotFound,
                ServiceFault::NotAwaited,
            )),
            Err(e) => Err(Refuse::new(RefusalKind::Storage, Fault::Reconcile(e))),
        }
    }

    #[inline(never)]
    fn install_prepare(&mut self) -> Result<InstallPrepareResponse, Refuse> {
        let state = State::load(&self.backend)?;
        let p = self.install.prepare(&state);
        self.keep_report(ReportStates::of(&state), None)?;
        let p = p?;
        Ok(InstallPrepareResponse {
            needed_uris: p.needed_uris,
            sequence_number: p.sequence_number,
            signers: p.signers,
            needed_sizes: p.needed_sizes,
        })
    }

    /// A payload chunk, read in place: its data is decrypted where it lies in `request`.
    #[inline(never)]
    fn install_payload(&mut self, request: &mut [u8]) -> Outcome {
        let Ok(r) = protocol::decode_in_place::<PayloadChunkRequest<Span>>(request, MAX_REQUEST)
        else {
            return Outcome::Malformed;
        };
        let Some(data) = r.data.of_mut(request) else {
            return Outcome::Malformed;
        };
        // The chunk that completes a payload a manifest declaring dependencies names may
        // bring a dependency envelope: its own detached payloads are then listed too. The
        // state is loaded before the chunk goes in, so that a failure changes nothing.
        let completes =
            self.install
                .completes_dependency(&r.uri, r.total_len, r.offset, data.len());
        let outcome = check_chunk(data).and_then(|()| {
            let state = completes.then(|| State::load(&self.backend)).transpose()?;
            self.payload_chunk(&r.uri, r.total_len, r.offset, data)?;
            let added = state
                .map(|state| self.install.delivered_dependency(&self.backend, &state))
                .unwrap_or_default();
            Ok(PayloadChunkResponse {
                needed_uris: added.uris,
                needed_sizes: added.sizes,
            })
        });
        match outcome {
            Ok(response) => answer::<PayloadChunkRequest>(&response),
            Err(e) => {
                self.refused_after_prepare();
                Outcome::Refused(e)
            }
        }
    }

    /// After a refused step of a prepared install (authenticated: the refusal is this
    /// attempt's outcome), the report the session built of it is kept; with none, or none
    /// that can be stored, the earlier attempt's is removed rather than left to be signed as
    /// this one's.
    fn refused_after_prepare(&mut self) {
        if !self.install.is_prepared() {
            return;
        }
        let kept = match State::load(&self.backend) {
            Ok(state) if self.install.has_report() => {
                self.keep_report(ReportStates::of(&state), None).is_ok()
            }
            _ => false,
        };
        if !kept {
            self.install.take_report();
            let _ = self.backend.remove(REPORT_OBJECT);
        }
    }

    /// The first chunk of a payload decrypted as it arrives gets the same key source
    /// `install_finish` gives the engine (see `install::stream`).
    fn payload_chunk(
        &mut self,
        uri: &str,
        total: u64,
        offset: u64,
        data: &mut [u8],
    ) -> Result<(), Refuse> {
        // The first chunk of a streamable payload needs the key source `finish` will use; if
        // it cannot be built now, the payload takes the ordinary path and `finish` refuses (or
        // not) as it would have, so a chunk is never refused for what only `finish` checks.
        let loaded = if self.install.wants_keys(uri, offset) {
            self.key_material().ok()
        } else {
            None
        };
        let Some((keys, state, keks)) = loaded else {
            return Ok(self.install.payload_chunk(
                &mut self.backend,
                uri,
                total,
                offset,
                data,
                None,
            )?);
        };
        let shared = provision::shared_keks(&keks);
        let decryption = keys::AnchorKeySource::new(&keys, &state.anchors, &shared);
        #[cfg(feature = "author")]
        let decryption = decryption.with_stand_in(self.simulated_keys.as_ref());
        let source: &dyn crate::suit::decrypt::KeySource = &decryption;
        Ok(self
            .install
            .payload_chunk(&mut self.backend, uri, total, offset, data, Some(source))?)
    }

    /// What the engine's key source is built from: the device's keys, its state (anchors)
    /// and the provisioned KEKs; for a payload's first chunk and for finish alike.
    #[inline(never)]
    fn key_material(&mut self) -> Result<(DeviceKeyPair, State, Vec<provision::Kek>), Refuse> {
        let keys = self.keys()?;
        let mut state = State::load(&self.backend)?;
        // An empty set named here is committed with the install's state record (`finish`).
        let (keks, _) = provision::load_keks_naming_empty(&self.backend, &mut state)?;
        Ok((keys, state, keks))
    }

    #[inline(never)]
    fn install_finish(&mut self) -> Result<InstallFinishResponse, Refuse> {
        let (keys, mut state, keks) = match self.key_material() {
            Ok(material) => material,
            Err(e) => {
                self.refused_after_prepare();
                return Err(e);
            }
        };
        let shared = provision::shared_keks(&keks);
        // Keys are chosen inside the engine, per manifest, from its authenticated signers.
        let anchors = state.anchors.clone();
        // The installed components too: a copy of released REE content stays tied to its
        // release (`state::ComponentRecord::released_by`).
        let installed = state.components.clone();
        let decryption =
            keys::AnchorKeySource::new(&keys, &anchors, &shared).with_installed(&installed);
        #[cfg(feature = "author")]
        let decryption = decryption.with_stand_in(self.simulated_keys.as_ref());
        let source: &dyn crate::suit::decrypt::KeySource = &decryption;
        let done = self
            .install
            .finish(&mut self.backend, &mut state, source, &decryption);
        // A commit whose state write failed after its TA reached OP-TEE is finished next time,
        // or awaits its envelope again: the next command looks at the journal.
        self.reconciled = done.is_ok();
        if done.is_ok() {
            self.awaiting = None;
        }
        // The answer tells what happened to the state: a report that cannot be stored after a
        // commit does not turn it into a refusal (nor is a stale one left as the latest one).
        // A commit left pending is bound to the generation `reconcile` settles it at; one
        // whose state write is uncertain to both it may be settled at.
        let states = self.install.report_states(&state);
        let _ = self.keep_report(states, Some(&keys));
        let done = done?;
        Ok(InstallFinishResponse {
            sequence_number: done.sequence_number,
            signers: done.signers,
            components: done
                .committed
                .iter()
                .map(|c| ComponentPath(state::segments_of(c)))
                .collect(),
            manifest_digest: ByteBuf::from(done.manifest_digest.to_vec()),
            ree_paths: done.ree_paths,
        })
    }

    #[inline(never)]
    fn personalization(&mut self) -> Result<Wiped<PersonalizationResponse>, Refuse> {
        let Client::TrustedApp(uuid) = self.backend.client() else {
            return Err(Refuse::service(
                RefusalKind::Access,
                ServiceFault::PersonalizationNotOwner,
            ));
        };
        let state = State::load(&self.backend)?;
        if state.is_unconfirmed(&uuid) {
            // OP-TEE's store may hold a newer image of this TA than the state records: the
            // recorded data may belong to an older release of it.
            return Err(Refuse::service(
                RefusalKind::Storage,
                ServiceFault::PersonalizationUnconfirmed(fault::uuid(&uuid)),
            ));
        }
        let id = ComponentId::new(&[&uuid[..], b"perso"]);
        let record = state.component(&id).ok_or_else(|| {
            Refuse::service(
                RefusalKind::NotFound,
                ServiceFault::NoPersonalization(fault::uuid(&uuid)),
            )
        })?;
        let mut data = self
            .backend
            .get(&record.object)
            .map_err(storage_refusal)?
            .ok_or_else(|| {
                Refuse::service(RefusalKind::Storage, ServiceFault::PersonalizationMissing)
            })?;
        // Only the committed bytes are the data: an object of another length (a stale tail,
        // or content of another state) is refused, never handed over in part or with extra.
        if data.len() as u64 != record.size {
            return Err(Refuse::service(
                RefusalKind::Storage,
                ServiceFault::PersonalizationSize,
            ));
        }
        // Nor other bytes of that size: the REE-backed store may answer with another file.
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&*data);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            digest.as_slice(),
            record.digest.as_slice(),
        )) {
            return Err(Refuse::service(
                RefusalKind::Storage,
                ServiceFault::PersonalizationDigest,
            ));
        }
        // Moves the allocation out of the Zeroizing wrapper: one copy here, wiped by `Wiped`
        // (the storage layer may keep another of a small record for the session, also wiped).
        Ok(Wiped(PersonalizationResponse {
            data: ByteBuf::from(core::mem::take(&mut *data)),
        }))
    }

    #[inline(never)]
    fn ree_export(&mut self, r: &ReeExportRequest) -> Result<ReeExportResponse, Refuse> {
        // The refusal names the path asked for, but no more of it than a component's path
        // can be (a longer path names none): the request's path is the REE's, up to
        // `MAX_REQUEST` long, and a refusal echoing it whole was copied three times and could
        // not be answered (`ResponseTooLarge`; review s43). The bound is the path's, not the
        // identifier's bytes (`MAX_ID_LEN`): the `/` between segments count too (s43-rev).
        let not_found = || {
            Refuse::service(
                RefusalKind::NotFound,
                ServiceFault::NoReeComponent(String::from(text_prefix(
                    &r.path,
                    components::MAX_REE_PATH_LEN,
                ))),
            )
        };
        if r.path.len() > components::MAX_REE_PATH_LEN {
            return Err(not_found());
        }
        let state = State::load(&self.backend)?;
        let record = state
            .components
            .iter()
            .find(|c| {
                matches!(components::classify(&component_from(&c.id)), Ok(components::Kind::Ree { path }) if path == r.path)
            })
            .ok_or_else(not_found)?;
        // Confidential content a flag released leaves only while an anchor that released it
        // holds `ree_plaintext` still: a TPA's revocation (a rescope without it, the anchor's
        // removal) stops the TA handing it out again (review s42).
        if !record.still_released(&state.anchors) {
            self.export = None;
            return Err(Refuse::service(
                RefusalKind::Access,
                ServiceFault::ReeReleaseRevoked(r.path.clone()),
            ));
        }
        if r.offset > record.size {
            return Err(Refuse::service(
                RefusalKind::Sequence,
                ServiceFault::OffsetBeyond,
            ));
        }
        // Leave room for the response's framing inside MAX_RESPONSE.
        const CHUNK: usize = MAX_RESPONSE - 1024;
        // Only committed bytes leave the TA: the first request (offset 0) reads the whole
        // component and checks it against its digest before anything is served, and every
        // chunk served is read again and checked against the digest that pass recorded for
        // it (the REE-backed store may answer any read with other bytes the object name held,
        // another component's plaintext among them). Chunks go in order, each where the last
        // ended; the empty answer after the last tells the agent it has all.
        let mut data = store::VerifiedChunks::read_in(
            &mut self.export,
            &self.backend,
            (&record.object, record.size, &record.digest),
            CHUNK,
            r.offset,
        )
        .map_err(|e| match e {
            store::StoreError::Unordered => {
                Refuse::service(RefusalKind::Sequence, ServiceFault::ExportUnordered)
            }
            e => storage_refusal(e),
        })?;
        Ok(ReeExportResponse {
            total_len: record.size,
            digest: record.digest.clone(),
            // Checked: the bytes move out of their wiping wrapper only now.
            data: ByteBuf::from(core::mem::take(&mut *data)),
        })
    }
}

/// A response holding plaintext for its rightful owner: the inner value is encoded (the
/// handler answers through `Borrow`), its bytes wiped when the service is done with it.
struct Wiped<T: Codec + WipeBytes>(T);

impl<T: Codec + WipeBytes> Borrow<T> for Wiped<T> {
    fn borrow(&self) -> &T {
        &self.0
    }
}

trait WipeBytes {
    fn wipe(&mut self);
}

impl WipeBytes for PersonalizationResponse {
    fn wipe(&mut self) {
        zeroize::Zeroize::zeroize(self.data.as_mut_slice());
    }
}

impl<T: Codec + WipeBytes> Drop for Wiped<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

/// The encoding of a handler's response, out of the per-message [`Service::handle`] copies.
#[inline(never)]
fn respond(r: &dyn protocol::Encode) -> Outcome {
    match protocol::encode_dyn(r) {
        Ok(body) => Outcome::Body(body),
        Err(_) => Outcome::Refused(Refuse::internal(fault::Internal::EncodeResponse)),
    }
}

/// [`respond`] with `Q`'s response: where a handler's answer is typed by its request.
fn answer<Q: Request>(r: &Q::Response) -> Outcome {
    respond(r)
}

/// A secure-storage read that failed, in one place rather than at each read.
fn storage_refusal(e: store::StoreError) -> Refuse {
    Refuse::new(RefusalKind::Storage, Fault::Store(e))
}

fn check_chunk(data: &[u8]) -> Result<(), Refuse> {
    if data.len() > MAX_CHUNK {
        return Err(Refuse::service(
            RefusalKind::TooLarge,
            ServiceFault::ChunkTooLarge,
        ));
    }
    Ok(())
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn text_prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default()
}

/// A length or count for the wire's u32 fields. Every one reported is bounded far below
/// `u32::MAX` (MAX_RESPONSE, MAX_REQUEST, the state's anchor and component limits), so
/// saturating never changes a value; it only spares a cast that could truncate.
fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn key_type(k: &VerificationKey) -> KeyType {
    match k.material() {
        KeyMaterial::P256(_) => KeyType::P256,
        KeyMaterial::Ed25519(_) => KeyType::Ed25519,
        KeyMaterial::HssLms(_) => KeyType::HssLms,
        KeyMaterial::Hmac256(_) => KeyType::Symmetric,
    }
}

/// The backend's RNG (the TEE's) as the `rand_core` generator HPKE takes: the ephemeral key
/// of a report sealed to a status tracker.
struct BackendRng<'a, R: Rng + ?Sized>(&'a mut R);

impl<R: Rng + ?Sized> rand_core::TryRng for BackendRng<'_, R> {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill(dst);
        Ok(())
    }
}

impl<R: Rng + ?Sized> rand_core::TryCryptoRng for BackendRng<'_, R> {}

/// What a stored report's tag binds besides its object's name: the authenticated attempts'
/// report ([`REPORT_OBJECT`]) to the state generation it was stored at, so none stored before
/// the last committed update is signed as the latest; the pre-authentication one to nothing
/// (the REE can have a fresh one stored whenever it likes, so an older one tells no more).
fn report_bound(object: &str, generation: u64) -> u64 {
    if object == REPORT_OBJECT {
        generation
    } else {
        0
    }
}

/// What a report says the device holds ([`crate::report::DeviceState`]).
fn device_state(state: &State) -> crate::report::DeviceState {
    crate::report::DeviceState {
        provisioning_counter: state.root_counter(),
        delegate_counter: state.delegate_counter(),
        components: state
            .components
            .iter()
            .take(crate::report::MAX_STATE_COMPONENTS)
            .map(|c| crate::report::InstalledComponent {
                component: component_from(&c.id),
                sequence_number: c.sequence_number,
                digest: c.public_digest().and_then(|d| <[u8; 32]>::try_from(d).ok()),
                size: c.size,
            })
            .collect(),
    }
}

/// What `Anchors` answers for `state`: its anchors (keys by type and kid only), rules and
/// identity. Provisioning refuses a state whose answer would not fit one response
/// ([`provision::apply_body`]).
pub(crate) fn anchors_of(state: &State) -> AnchorsResponse {
    let anchors = state
        .anchors
        .iter()
        .map(|a| {
            let (key_type, kid) = match VerificationKey::from_cose_key(&a.cose_key) {
                Ok((k, kid)) => (key_type(&k), kid),
                Err(_) => (KeyType::Unparseable, Vec::new()),
            };
            AnchorInfo {
                id: a.id,
                role: a.role,
                kid: ByteBuf::from(kid),
                key_type,
                component_prefixes: a
                    .scope
                    .component_prefixes
                    .iter()
                    .map(|p| ComponentPath(p.clone()))
                    .collect(),
                vendor_ids: a.scope.vendor_ids.clone(),
                class_ids: a.scope.class_ids.clone(),
                ree_plaintext: Some(a.scope.ree_plaintext),
                tracker_key: a.scope.tracker_key.clone(),
            }
        })
        .collect();
    let rules = state
        .rules
        .iter()
        .map(|r| RuleInfo {
            prefix: ComponentPath(r.prefix.clone()),
            required: r
                .required_roles
                .iter()
                .map(|x| Requirement::Role(*x))
                .chain(r.required_anchors.iter().map(|x| Requirement::Anchor(*x)))
                .collect(),
        })
        .collect();
    let id = &state.identity;
    AnchorsResponse {
        provisioning_counter: state.root_counter(),
        delegate_counter: Some(state.delegate_counter()),
        identity: IdentityInfo {
            vendor_id: id.vendor_id.clone(),
            class_id: id.class_id.clone(),
            device_id: id.device_id.clone(),
        },
        anchors,
        rules,
    }
}
