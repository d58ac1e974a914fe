//! The transports to the TA: OP-TEE through libteec, or the in-process simulator.

use suit_common::protocol::{Command, RefusalKind, Status};
use thiserror::Error;

/// What a transport hands back for one command: slot 0 (`status`, `detail`) and slot 2.
#[derive(Debug)]
pub struct RawReply {
    pub status: u32,
    pub detail: u32,
    pub body: Vec<u8>,
}

/// A way to reach the TA. Implementations move bytes; the protocol lives in `client`.
pub trait Transport {
    fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError>;

    /// Refuses, before any of it is sent, what the TA this transport stands for cannot take
    /// although the service behind it would: the simulator standing in for the default TA
    /// build ([`crate::sim::Simulator`]). A real TA decides alone.
    fn screen(&self, _handed: Handed<'_>) -> Result<(), AgentError> {
        Ok(())
    }

    /// Tests only (`test-paths`): `command` answered into a response slot of `slot` bytes,
    /// as a client other than this agent may offer one (the agent always offers
    /// [`suit_common::protocol::MAX_RESPONSE`]).
    #[cfg(feature = "test-paths")]
    fn invoke_with_slot(
        &mut self,
        _command: Command,
        _request: &[u8],
        _slot: usize,
    ) -> Result<RawReply, AgentError> {
        Err(AgentError::BadResponse(
            "this transport offers no response slot but its own",
        ))
    }
}

/// What the agent is about to hand the TA whole ([`Transport::screen`]).
#[derive(Clone, Copy, Debug)]
pub enum Handed<'a> {
    /// An envelope (install, poll).
    Envelope(&'a [u8]),
    /// A provisioning message.
    ProvisioningMessage(&'a [u8]),
}

/// One command to the TA's service running in this process (the simulator, `verify
/// --process`, tests), on a copy of the request of its own, as the TA makes (the service
/// decrypts payload chunks in it).
pub fn invoke_in_process<B: suit_common::service::Backend>(
    service: &mut suit_common::service::Service<B>,
    command: Command,
    request: &[u8],
) -> RawReply {
    invoke_in_process_with_slot(
        service,
        command,
        request,
        suit_common::protocol::MAX_RESPONSE,
    )
}

/// [`invoke_in_process`] answered into a response slot of `slot` bytes, as the TA is asked
/// through OP-TEE (`Service::invoke_for_slot`).
pub fn invoke_in_process_with_slot<B: suit_common::service::Backend>(
    service: &mut suit_common::service::Service<B>,
    command: Command,
    request: &[u8],
    slot: usize,
) -> RawReply {
    let mut copy = zeroize::Zeroizing::new(request.to_vec());
    let mut reply = service.invoke_for_slot(
        command as u32,
        suit_common::protocol::PROTOCOL_VERSION,
        &mut copy,
        slot,
    );
    RawReply {
        status: reply.status as u32,
        detail: reply.detail,
        body: core::mem::take(&mut reply.body),
    }
}

/// Everything that can go wrong between the agent and the TA, in words an operator can act on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AgentError {
    #[error("no TEE device at {0}: is the OP-TEE driver loaded (modprobe optee) and tee-supplicant running?")]
    NoTeeDevice(String),
    #[error("the TEE client library failed to open a context: {0}")]
    Context(String),
    #[error("TA {uuid} is not installed: copy {uuid}.ta to /usr/lib/optee_armtz/ (or the TEE's TA store)")]
    TaMissing { uuid: String },
    #[error("the TA stayed busy with another session (it serves one at a time; a TA fetching its personalization data, or a client that is not this agent) for the whole --busy-wait; retry")]
    TaBusy,
    #[error("opening a session to the TA failed: {0}")]
    OpenSession(String),
    #[error("the TA died during the command (see the secure-world log): {0}")]
    TaDead(String),
    #[error("invoking the TA failed: {0}")]
    Invoke(String),
    #[error(
        "protocol version mismatch: agent speaks {agent}, TA speaks {ta}; install matching builds"
    )]
    VersionMismatch { agent: u32, ta: u32 },
    #[error("the TA answered with unknown status code {0}")]
    UnknownStatus(u32),
    #[error("{}", .0.describe())]
    Status(Status),
    /// The TA refused; `fault` is its typed fault (suit-common's `fault::Fault`, CBOR) that
    /// `reason` puts into words ([`AgentError::is_verdict`] reads it).
    #[error("refused by the TA ({kind}): {reason}")]
    Refused {
        kind: RefusalKind,
        reason: String,
        fault: Vec<u8>,
    },
    #[error("malformed response from the TA: {0}")]
    BadResponse(&'static str),
    #[error("this agent was built without OP-TEE support: rebuild it with `--features optee` to reach the TA (`--tee sim` is a simulator for development only: it protects nothing)")]
    NoOpteeSupport,
    #[error("simulator state: {0}")]
    SimState(String),
    /// The simulator stands for the default TA build, which lacks an algorithm this needs
    /// (`--sim-ta-features`): refused before the simulated device is asked anything.
    #[error(
        "not sent to the simulated device: it or the device's anchors need {}, which the default TA build refuses \
         (pass --sim-ta-features {} if the target TA has it)",
        .algorithms.join(" and "),
        .features.join(",")
    )]
    NotOnDefaultTa {
        /// The `--sim-ta-features` names needed.
        features: Vec<&'static str>,
        /// The algorithms, in words.
        algorithms: Vec<&'static str>,
    },
    #[error("{0}")]
    File(String),
    /// `poll`'s state file (`--poll-state`) cannot be written. `lasting`: for a reason no
    /// later round changes (a directory, device or FIFO at the path, a path through a file,
    /// no permission on the directory): checked before the first round, and a round that
    /// cannot save it stops `poll --interval` (exit 2), since the next rounds would download
    /// and stage the same update again and fail the same way. Otherwise the file system's
    /// trouble that may pass (full, an I/O error, remounted read-only): exit 3, and polling
    /// goes on.
    #[error("{message}")]
    PollState { message: String, lasting: bool },
    /// A network transfer failed (after its retries); names the URL and why.
    #[error("network: {0}")]
    Network(String),
    /// A payload URI the TA named has no local file the agent will read (only files the
    /// operator offered, and only regular ones: `transport::local`). Nothing was installed.
    #[error("payload {}: {error}", crate::human::printable(.uri))]
    Payload {
        uri: String,
        error: crate::transport::local::PayloadSourceError,
    },
    /// An envelope larger than the TA accepts (`suit::envelope::MAX_ENVELOPE_LEN`), refused by
    /// the agent as the TA would refuse it, without downloading it whole or handing it over:
    /// a verdict on the envelope ([`AgentError::is_verdict`]). There is no report of it (the
    /// TA never saw it).
    #[error("{}: {}; the TA accepts at most {limit} bytes; not downloaded further, nothing was sent to the TA", crate::transport::allow::redacted(.url), too_large_words(*.announced, *.limit))]
    EnvelopeTooLarge {
        url: String,
        /// The length the server announced (`Content-Length`), if it announced one.
        announced: Option<u64>,
        limit: u64,
    },
    /// A payload URI the TA named that the agent does not fetch (not http(s), not a URL it
    /// parses unambiguously, or under none of the allowed prefixes: `transport::allow`) was
    /// not sent, nothing contacted, and the TA then refused the update because the manifest
    /// fetches it ([`AgentError::payload_not_given`] names it). A verdict on the envelope
    /// ([`AgentError::is_verdict`]); if outside the allowed prefixes, under these prefixes
    /// only (the operator's flags): `poll` records it with the allow-list and drops it when
    /// that changes ([`AgentError::is_refused_under_allow_list`]).
    #[error("{}", uri_refused_words(.refused))]
    UriRefused {
        refused: crate::transport::allow::RefusedUri,
    },
    /// A payload URI the TA named that the server said it does not have (HTTP 404 or 410)
    /// was not sent, and the TA then refused the update because the manifest fetches it
    /// ([`AgentError::payload_not_given`] names it). Not a verdict: the server may not have
    /// published it yet (exit 4, as a network failure; `poll` hands the envelope over again
    /// under its payload back-off). Nothing was installed.
    #[error("payload {absent}: the manifest fetches it, so the TA refused the update; nothing was installed (the server may not have published it yet)")]
    PayloadNotOnServer {
        absent: crate::transport::NotOnServer,
    },
    /// The TA committed (an update installed, a provisioning message applied), but the
    /// agent's own work after it failed (writing an approved REE file, a receipt). The
    /// command has already printed what the TA did (with `--json`: its one document); the
    /// text names what to run to finish.
    #[error("{0}")]
    AfterCommit(String),
    /// `poll`: the TA answered `CommitPending` to InstallFinish, then did not complete that
    /// commit (OP-TEE refused the kept TA image) or did not say so. Not known to be applied:
    /// the device's trouble (exit 3), which the next round settles from the TA.
    #[error("{0}")]
    CommitNotCompleted(String),
    /// The TA awaits an envelope (an update interrupted while OP-TEE installed its TA, whose
    /// image the TA kept in memory only) that this agent holds no copy of: `suit-agent
    /// resume` has no record of it, or `poll` no in-flight copy. Only that envelope, sent
    /// again, or an abandonment ends it (exit 3; `poll --interval` stops: every round would
    /// be refused alike).
    #[error("{0}")]
    AwaitedEnvelopeUnknown(String),
    /// `suit-agent resume` cannot use its install record now: the TA cannot say whether it
    /// awaits the envelope (it cannot read its state), or the record is not kept safely. The
    /// record is left as it is (exit 3).
    #[error("{0}")]
    InstallRecordKept(String),
}

/// Added to a refusal of decrypted or secure content for an `['ree', ...]` component: the
/// provisioning description's anchor flag that allows it.
pub const REE_PLAINTEXT_HINT: &str = "a decrypted payload (or a copy of secure content) goes to \
an ['ree', ...] component only under an anchor whose scope has \"ree-plaintext\": true (in the \
TPA's `suit-author provision` description, add-anchor or rescope; off by default), and a copy \
of secure content needs it from every anchor that owns the source";

impl AgentError {
    /// Whether this is the TA's verdict on what it was given, which the same request will
    /// always get again: the envelope is not authentic, not acceptable to the policy, a
    /// rollback, too large (also an envelope the agent refuses for its size before the TA
    /// sees it, [`AgentError::EnvelopeTooLarge`]), fetches a payload from a URI the agent does
    /// not fetch ([`AgentError::UriRefused`]), or its payloads are not the ones it names
    /// (exit 1; `poll` records it and does not hand the same envelope over again, except a
    /// refusal of the fetched payload bytes, [`AgentError::is_about_fetched_payload`]). A refusal
    /// that is the device's own trouble (storage, the key store, an internal failure, an
    /// interrupted or unconfirmed commit, steps out of order, a kind this build does not know)
    /// is not: the next attempt may succeed (exit 3, and `poll` retries it). An update the TA
    /// applied and completes before its next command ([`AgentError::is_commit_pending`]) is
    /// decided too: the same envelope would now be refused as a rollback, so `poll` keeps its
    /// in-flight mark until the TA says it completed the commit, then records it, writes its
    /// approved REE files and posts the TA's report of it (exit 5 all the same: applied, with
    /// work left to the TA).
    pub fn is_verdict(&self) -> bool {
        match self {
            AgentError::Refused { kind, fault, .. } => match kind {
                RefusalKind::Manifest => !device_fault(fault),
                RefusalKind::Payload
                | RefusalKind::TooLarge
                | RefusalKind::Provisioning
                | RefusalKind::NotFound
                | RefusalKind::Access => true,
                RefusalKind::Unspecified
                | RefusalKind::Internal
                | RefusalKind::Storage
                | RefusalKind::DeviceKey
                | RefusalKind::Sequence
                | RefusalKind::Report
                | RefusalKind::Other(_) => false,
            },
            // Only the test-build commands (heap-scan, crypto-bench) answer a bare refusal.
            AgentError::Status(Status::Refused) => true,
            // What the TA would answer (`too-large`) for these bytes, every time.
            AgentError::EnvelopeTooLarge { .. } => true,
            // The same URIs, named by the same authenticated manifest, every time (refused
            // for the allow-list: under the same allow-list, which `poll` records with it).
            AgentError::UriRefused { .. } => true,
            _ => false,
        }
    }

    /// Whether this verdict may be about the payload bytes the agent fetched for the envelope
    /// rather than about the envelope itself: an image digest, size or image-match check that
    /// failed, a dependency fetched with the wrong digest, an AEAD tag or truncated
    /// ciphertext, a payload over its bound, a payload the manifest does not ask for (kind
    /// `payload`). Those bytes come from a URL, not from the envelope, and may be right next
    /// time: `poll` posts the report but does not record the envelope as decided, so a later
    /// round hands it over again (the TA's rollback check keeps a retry harmless). The fault
    /// does not say where the bytes came from (an image match may have read installed
    /// content, a tag an integrated payload), so `poll` spaces these retries out, never
    /// recording them as a verdict ([`crate::transport::poll::MAX_PAYLOAD_SKIP_ROUNDS`]).
    /// A check-content failure never
    /// reads fetched bytes (it compares installed content) and is not counted here.
    pub fn is_about_fetched_payload(&self) -> bool {
        use suit_common::encryption::DecryptError as D;
        use suit_common::fault::Fault;
        use suit_common::service::install::InstallError;
        use suit_common::suit::error::CommandErrorKind as K;
        use suit_common::suit::words::Words;
        let AgentError::Refused { kind, .. } = self else {
            return false;
        };
        if *kind == RefusalKind::Payload {
            return true;
        }
        if let Some(Fault::Install(InstallError::TooLarge(w))) = self.fault() {
            return matches!(
                w,
                Words::Payload
                    | Words::PayloadOverImageSize
                    | Words::PayloadExceedsItsAnnouncedLength
            );
        }
        let Some(e) = self.engine_refusal() else {
            return false;
        };
        for e in causes(&*e) {
            if names_wrong_payload_bytes(e)
                || matches!(
                    e.downcast_ref::<K>(),
                    Some(K::PayloadTooLarge | K::DependencyDigestMismatch)
                )
                || matches!(e.downcast_ref::<D>(), Some(D::PayloadTooLong))
            {
                return true;
            }
            // Below the first decryption error are its own causes (a key, a recipient):
            // not about the payload's bytes.
            if e.is::<D>() {
                return false;
            }
        }
        false
    }

    /// Whether the TA refused a payload it could not decrypt with any key it holds: no
    /// recipient for its keys, or every AES-KW unwrap / HPKE open failed. The keys it was
    /// given, rather than the envelope, may be what is wrong (`suit-author verify --process`
    /// then names the options that give the simulated device a key).
    pub fn is_missing_decryption_key(&self) -> bool {
        use suit_common::encryption::{DecryptError as D, KeyError};
        self.engine_refusal().is_some_and(|e| {
            causes(&*e).any(|e| {
                matches!(
                    e.downcast_ref::<D>(),
                    Some(
                        D::NoRecipientForKeys
                            | D::KeyUnwrapFailed
                            | D::HpkeOpenFailed
                            | D::DeviceKey(KeyError::UnknownKey | KeyError::OperationFailed)
                    )
                )
            })
        })
    }

    /// Whether the TA refused because a payload's bytes are not the ones the manifest names:
    /// an image digest, size or image-match check, or an AEAD tag (or truncated ciphertext)
    /// that does not verify. The fault does not say which bytes (fetched, integrated or
    /// installed content): the agent names what it gave, never which was wrong.
    pub fn is_payload_mismatch(&self) -> bool {
        self.engine_refusal()
            .is_some_and(|e| causes(&*e).any(names_wrong_payload_bytes))
    }

    /// Whether the TA refused an envelope because none of its trust anchors fits any
    /// authentication block (the agent then looks whether the device has any anchor at all).
    pub fn is_no_matching_anchor(&self) -> bool {
        use suit_common::suit::error::{AuthError, Error};
        self.engine_refusal()
            .is_some_and(|e| matches!(&*e, Error::Auth(AuthError::NoMatchingTrustAnchor)))
    }

    /// Whether an HPKE recipient did not open with the device's key: most often a payload
    /// encrypted to the anchor's ECDH-ES key with `"mode": "hpke"` (the two keys differ).
    pub fn is_hpke_open_failure(&self) -> bool {
        use suit_common::encryption::DecryptError as D;
        self.engine_refusal().is_some_and(|e| {
            causes(&*e).any(|e| matches!(e.downcast_ref::<D>(), Some(D::HpkeOpenFailed)))
        })
    }

    /// Whether an AES key unwrap failed (an ECDH-ES+A128KW/A256KW recipient derived another
    /// key-encryption key, or an A128KW/A256KW recipient's KEK is another): most often a
    /// payload encrypted to the anchor's HPKE key in ECDH-ES mode (the two keys differ), to
    /// another device's key, or a KEK this anchor was not given.
    pub fn is_key_unwrap_failure(&self) -> bool {
        use suit_common::encryption::DecryptError as D;
        self.engine_refusal().is_some_and(|e| {
            causes(&*e).any(|e| matches!(e.downcast_ref::<D>(), Some(D::KeyUnwrapFailed)))
        })
    }

    /// The TA's typed reason for this refusal, if it is one and the fault decodes.
    fn fault(&self) -> Option<suit_common::fault::Fault> {
        let AgentError::Refused { fault, .. } = self else {
            return None;
        };
        suit_common::fault::Fault::decode(fault)
    }

    /// The service's own refusal this is, if it is one (no such anchor, no such REE file).
    pub fn service_fault(&self) -> Option<suit_common::fault::ServiceFault> {
        match self.fault()? {
            suit_common::fault::Fault::Service(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the TA refused a provisioning message made for another device.
    pub fn is_wrong_device(&self) -> bool {
        use suit_common::fault::Fault;
        use suit_common::service::provision::ProvisionError;
        matches!(
            self.fault(),
            Some(Fault::Provision(ProvisionError::WrongDevice))
        )
    }

    /// This refusal with `hint` (what the host can see of its likely cause) added to its
    /// words; the kind and the fault stay the TA's. Other errors are returned unchanged.
    pub fn with_hint(self, hint: &str) -> Self {
        match self {
            AgentError::Refused {
                kind,
                mut reason,
                fault,
            } => {
                reason.push_str(&format!(" (hint: {hint})"));
                AgentError::Refused {
                    kind,
                    reason,
                    fault,
                }
            }
            other => other,
        }
    }

    /// The engine's error this refusal's fault carries (`Install(Refused(e))`), if it does.
    fn engine_refusal(&self) -> Option<std::sync::Arc<suit_common::suit::Error>> {
        use suit_common::fault::Fault;
        use suit_common::service::install::InstallError;
        match self.fault()? {
            Fault::Install(InstallError::Refused(e)) => Some(e),
            _ => None,
        }
    }

    /// This refusal with what the host knows of `envelope`, the envelope it sent, added to
    /// its words: the id of a root-manifest component the TA names by index, and for a
    /// severed section the command that puts it back. Rendering only: the kind and the fault
    /// stay the TA's, and so does every decision.
    pub fn explained_with(self, envelope: &[u8]) -> Self {
        use suit_common::suit::error::{CommandErrorKind, Error, PolicyError as P};
        let Some(e) = self.engine_refusal() else {
            return self;
        };
        let AgentError::Refused {
            kind,
            mut reason,
            fault,
        } = self
        else {
            return self;
        };
        // The component a policy error names (a swap's source is checked under its own
        // index), else the one the command ran on.
        let named = |p: &P| match p {
            P::ComponentNotPermitted { component }
            | P::MissingRequiredSigner { component, .. }
            | P::PlaintextNotPermitted { component }
            | P::ComponentRollback { component, .. } => Some(*component),
            _ => None,
        };
        let component = match &*e {
            Error::Policy(p) => named(p),
            // A dependency's index is into its own component list, which is not at hand.
            Error::Command(c) if c.location.manifest_depth == 0 => match &c.kind {
                CommandErrorKind::Policy(p) => named(p).or(c.location.component),
                CommandErrorKind::Dependency(_) => None,
                _ => c.location.component,
            },
            _ => None,
        };
        let components = crate::detect::envelope_components(envelope);
        let named_id = component.and_then(|i| components.as_ref()?.get(i).map(|id| (i, id)));
        if let Some((i, id)) = named_id {
            reason.push_str(&format!(
                " (component {i} is {})",
                crate::human::component_text(id)
            ));
        }
        // Decrypted or secure content refused for a normal-world file: the anchor flag that
        // allows it is named, since `anchors` does not show it.
        let plaintext_refused = |p: &P| matches!(p, P::PlaintextNotPermitted { .. });
        let refused_plaintext = match &*e {
            Error::Policy(p) => plaintext_refused(p),
            Error::Command(c) => {
                matches!(&c.kind, CommandErrorKind::Policy(p) if plaintext_refused(p))
            }
            _ => false,
        };
        let to_ree = named_id.is_some_and(|(_, id)| {
            matches!(
                suit_common::service::components::classify(id),
                Ok(suit_common::service::components::Kind::Ree { .. })
            )
        });
        if refused_plaintext && to_ree {
            reason.push_str(&format!("; {REE_PLAINTEXT_HINT}"));
        }
        if matches!(&*e, Error::SeveredSectionMissing(_)) {
            reason.push_str(
                "; `suit-author unsever ENVELOPE -o FULL --member FILE...` puts the severed \
                 members (from `suit-author sever --members-out`) back",
            );
        }
        AgentError::Refused {
            kind,
            reason,
            fault,
        }
    }

    /// Whether this refusal is decided by the authenticated manifest alone (with the device's
    /// stored sequence numbers, which only grow), whatever else the envelope carries, which
    /// signatures its wrapper holds and whatever bytes were fetched for it: the policy
    /// check's rollback refusal before any command runs (`Error::Policy`, fault
    /// `Install(Refused(Policy))`; [`policy_refusal_is_final`]). Not a refusal that a server
    /// can give by re-encoding the same manifest: a signer's scope (a co-signer's signature
    /// stripped), a severed member the envelope lacks or carries altered, an integrated
    /// payload or dependency, a decode or command failure (a try-each may reach it only
    /// after fetched bytes failed a check), nor a commit refusal (which components a run
    /// stages may depend on those bytes too): `poll` ends a manifest's payload back-off on a
    /// success or on this only, so re-encoding cannot reset it.
    pub fn is_decided_by_the_manifest(&self) -> bool {
        use suit_common::suit::error::Error;
        self.engine_refusal()
            .is_some_and(|e| matches!(&*e, Error::Policy(p) if policy_refusal_is_final(p)))
    }

    /// Whether the TA's fault places this refusal after it authenticated the manifest (so the
    /// authenticated attempt's report describes it): a refusal of a manifest whose signature
    /// verified (policy, rollback, a manifest that does not decode or run, a commit), not one
    /// of its authentication. An envelope that does not decode at all is refused before
    /// authentication too, with a decode error that a manifest may also give after it: the
    /// caller tells those apart by decoding the envelope itself (the same decoder).
    pub fn is_refusal_after_authentication(&self) -> bool {
        use suit_common::fault::Fault;
        use suit_common::service::install::InstallError;
        use suit_common::suit::error::Error;
        use suit_common::suit::words::Words;
        let AgentError::Refused { fault, .. } = self else {
            return false;
        };
        match Fault::decode(fault) {
            Some(Fault::Install(InstallError::Refused(e))) => !matches!(*e, Error::Auth(_)),
            Some(Fault::Install(InstallError::TooLarge(w))) => {
                matches!(w, Words::TooManyPayloadUris)
            }
            Some(Fault::Install(InstallError::Commit(_))) => true,
            _ => false,
        }
    }

    /// Whether the TA kept a report of this refused attempt: one made at or after its
    /// authentication check (the authenticated attempt's or the pre-authentication one). A
    /// refusal before that (InstallBegin, an envelope chunk: an empty or over-long envelope)
    /// leaves none, and the report the TA holds describes an earlier attempt.
    pub fn has_attempt_report(&self) -> bool {
        use suit_common::fault::Fault;
        use suit_common::service::install::InstallError;
        let AgentError::Refused { fault, .. } = self else {
            return false;
        };
        self.is_refusal_after_authentication()
            || matches!(
                Fault::decode(fault),
                Some(Fault::Install(InstallError::Refused(_)))
            )
    }

    /// The URI of the payload the TA refused the update for because the manifest fetches it
    /// and the agent did not send it (`CommitRefusal::PayloadNotDelivered`, which names it):
    /// the agent then names that URI with its own reason for leaving it out. Any other
    /// refusal (a platform `NotFound` too: a copy from a component the device lacks) is the
    /// TA's own.
    pub fn payload_not_given(&self) -> Option<String> {
        use suit_common::fault::Fault;
        use suit_common::service::install::{CommitRefusal, InstallError};
        let AgentError::Refused { fault, .. } = self else {
            return None;
        };
        match Fault::decode(fault) {
            Some(Fault::Install(InstallError::Commit(CommitRefusal::PayloadNotDelivered(uri)))) => {
                Some(uri)
            }
            _ => None,
        }
    }

    /// Whether this is [`AgentError::UriRefused`] for a URI outside the allowed prefixes: a
    /// verdict under these prefixes only.
    pub fn is_refused_under_allow_list(&self) -> bool {
        use crate::transport::allow::UriRefusal;
        matches!(self, AgentError::UriRefused { refused }
            if matches!(refused.why, UriRefusal::NotAllowed { .. }))
    }

    /// The TA's answer to InstallFinish that the commit now awaits the same envelope again
    /// (`CommitRefusal::AwaitingEnvelope`: OP-TEE's install of a TA image the TA kept in
    /// memory only did not finish, `code` its TEE result, or finished and the state write
    /// after it failed, `code` 0): the update is applied once that envelope is installed
    /// again, and nothing else runs until then. The TA's uuid and `code`.
    pub fn awaiting_commit(&self) -> Option<(Vec<u8>, u32)> {
        use suit_common::fault::Fault;
        use suit_common::service::install::{CommitRefusal, InstallError};
        match self.fault()? {
            Fault::Install(InstallError::Commit(CommitRefusal::AwaitingEnvelope {
                uuid,
                code,
            })) => Some((uuid.into_vec(), code)),
            _ => None,
        }
    }

    /// The envelope (its SHA-256) an interrupted commit awaits, when the TA refused this
    /// command for it (`ServiceFault::AwaitingEnvelope`): every command but status, the
    /// install of that envelope and the abandon is refused so until then.
    pub fn awaited_envelope(&self) -> Option<Vec<u8>> {
        match self.service_fault()? {
            suit_common::fault::ServiceFault::AwaitingEnvelope(d) => Some(d.into_vec()),
            _ => None,
        }
    }

    /// Whether the TA answered InstallFinish with a commit it left pending (`InstallPending`,
    /// `CommitPending`, [`AgentError::awaiting_commit`]): not yet the definitive answer, which
    /// the TA gives once it has finished the commit or the same envelope was sent again.
    pub fn leaves_commit_pending(&self) -> bool {
        use suit_common::fault::Fault;
        use suit_common::service::install::{CommitRefusal, InstallError};
        matches!(
            self.fault(),
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::InstallPending { .. }
                    | CommitRefusal::CommitPending { .. }
                    | CommitRefusal::AwaitingEnvelope { .. }
            )))
        )
    }

    /// Whether the TA applied the update (OP-TEE installed its TA) but could not record it,
    /// and completes the commit before its next command: a failure after a commit (exit 5),
    /// not one to retry.
    pub fn is_commit_pending(&self) -> bool {
        use suit_common::fault::Fault;
        use suit_common::service::install::{CommitRefusal, InstallError};
        matches!(
            self,
            AgentError::Refused { fault, .. } if matches!(
                Fault::decode(fault),
                Some(Fault::Install(InstallError::Commit(CommitRefusal::CommitPending { .. })))
            )
        )
    }
}

/// Whether the policy check's refusal stays whatever signatures the envelope's wrapper
/// carries and whichever of its severable members it includes: a rollback (the manifest's
/// sequence number, or a component's installed one, not exceeded; stored numbers only grow).
/// Every other is the wrapper's choice as much as the manifest's: the signers' scopes (a
/// co-signer's signature stripped gives `ComponentNotPermitted`, `MissingRequiredSigner`,
/// `IdentifierNotPermitted`, `SequenceKeyNotPermitted`, `PlaintextNotPermitted`), and
/// `UpdateManagement` (a severed sequence left out hides its update-authorized condition;
/// the others are the device's time, battery or the TPA's policy). A variant this build
/// does not know is not final (the enum is `non_exhaustive`): the back-off goes on.
fn policy_refusal_is_final(p: &suit_common::suit::error::PolicyError) -> bool {
    use suit_common::suit::error::PolicyError as P;
    match p {
        P::Rollback { .. } | P::ComponentRollback { .. } => true,
        P::ComponentNotPermitted { .. }
        | P::MissingRequiredSigner { .. }
        | P::IdentifierNotPermitted
        | P::SequenceKeyNotPermitted
        | P::PlaintextNotPermitted { .. }
        | P::UpdateManagement(_) => false,
        _ => false,
    }
}

/// [`AgentError::UriRefused`] in words: the URI with why the agent did not fetch it.
fn uri_refused_words(r: &crate::transport::allow::RefusedUri) -> String {
    format!(
        "payload {}: {}; not fetched, and the manifest fetches it, so the TA refused the \
         update; nothing was installed",
        crate::human::printable(&r.uri),
        r.why
    )
}

/// Whether `e` says a payload's bytes are not the ones the manifest names: an image digest,
/// size or image-match check, or an AEAD tag (or truncated ciphertext) that does not verify.
fn names_wrong_payload_bytes(e: &(dyn std::error::Error + 'static)) -> bool {
    use suit_common::encryption::DecryptError as D;
    use suit_common::suit::error::{CommandErrorKind as K, ConditionKind};
    matches!(
        e.downcast_ref::<K>(),
        Some(
            K::ImageDigestMismatch
                | K::ImageSizeMismatch
                | K::ConditionFailed(ConditionKind::ImageMatch)
        )
    ) || matches!(e.downcast_ref::<D>(), Some(D::TagMismatch | D::Truncated))
}

/// An engine error and its sources, outermost first: where a refusal's fault says what it was
/// about.
fn causes<'e>(
    e: &'e (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'e (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// How an oversized envelope showed itself: announced, or sent past the limit.
fn too_large_words(announced: Option<u64>, limit: u64) -> String {
    match announced {
        Some(n) => format!("the server announces an envelope of {n} bytes"),
        None => format!("the server sent an envelope of more than {limit} bytes"),
    }
}

/// Whether a `Manifest` refusal's fault is the platform failing under the engine (storage
/// I/O, a TEE error, content read back wrong) or a commit OP-TEE did not complete, rather
/// than a verdict on the envelope. (A commit OP-TEE completed and the TA finishes,
/// `CommitPending`, is not: the envelope is applied.) A payload not delivered that the agent
/// did not leave out (it names those it did, [`AgentError::payload_not_given`]) is not a
/// verdict either: the agent and the TA disagree on what was sent, and a retry may not.
fn device_fault(fault: &[u8]) -> bool {
    use suit_common::fault::Fault;
    use suit_common::service::install::{CommitRefusal, InstallError};
    use suit_common::suit::platform::PlatformError;
    match Fault::decode(fault) {
        Some(Fault::Install(InstallError::Refused(e))) => causes(&*e)
            .find_map(|e| e.downcast_ref::<PlatformError>())
            .is_some_and(|p| {
                matches!(
                    p,
                    PlatformError::Io
                        | PlatformError::Other(_)
                        | PlatformError::BadLength
                        | PlatformError::NotCommitted
                )
            }),
        Some(Fault::Install(InstallError::Commit(c))) => matches!(
            c,
            CommitRefusal::InstallPending { .. }
                | CommitRefusal::AwaitingEnvelope { .. }
                | CommitRefusal::InstallNotConfirmed { .. }
                | CommitRefusal::StateWriteUncertain
                | CommitRefusal::TooManyUnconfirmed(_)
                | CommitRefusal::PayloadNotDelivered(_)
        ),
        _ => false,
    }
}

#[cfg(feature = "optee")]
pub mod optee {
    //! libteec transport. One session per agent process: the TA is single-session, so while
    //! another client holds it (other agents are kept out by the agent's lock; a TA fetching
    //! its personalization data is not) opening waits and retries, up to a bound, then fails
    //! with [`AgentError::TaBusy`] instead of interleaving.
    use std::time::{Duration, Instant};

    use super::{AgentError, RawReply, Transport};
    use optee_teec::{
        Context, ErrorKind, Operation, ParamNone, ParamTmpRef, ParamType, ParamValue, Session, Uuid,
    };
    use suit_common::protocol::{Command, MAX_RESPONSE, PROTOCOL_VERSION, TA_UUID};

    pub const TEE_DEVICE: &str = "/dev/tee0";

    pub struct Optee {
        // Field order matters: the session must close before its context.
        session: Session,
        _context: Context,
    }

    impl Optee {
        /// Opens the session; while the TA is busy with another client, retries (pausing 20
        /// ms, doubling up to 500 ms) for at most `busy_wait`.
        pub fn connect(busy_wait: Duration) -> Result<Self, AgentError> {
            if !std::path::Path::new(TEE_DEVICE).exists() {
                return Err(AgentError::NoTeeDevice(TEE_DEVICE.into()));
            }
            let mut context = Context::new().map_err(|e| AgentError::Context(e.to_string()))?;
            let uuid =
                Uuid::parse_str(TA_UUID).map_err(|e| AgentError::OpenSession(e.to_string()))?;
            let started = Instant::now();
            let mut pause = Duration::from_millis(20);
            let session = loop {
                match context.open_session(uuid.clone()) {
                    Ok(session) => break session,
                    Err(e) if e.kind() == ErrorKind::Busy => {
                        let left = busy_wait.saturating_sub(started.elapsed());
                        if left.is_zero() {
                            return Err(AgentError::TaBusy);
                        }
                        std::thread::sleep(pause.min(left));
                        pause = (pause * 2).min(Duration::from_millis(500));
                    }
                    Err(e) if e.kind() == ErrorKind::ItemNotFound => {
                        return Err(AgentError::TaMissing {
                            uuid: TA_UUID.into(),
                        })
                    }
                    Err(e) => return Err(AgentError::OpenSession(e.to_string())),
                }
            };
            Ok(Optee {
                session,
                _context: context,
            })
        }
    }

    impl Optee {
        fn invoke_into(
            &mut self,
            command: Command,
            request: &[u8],
            slot: usize,
        ) -> Result<RawReply, AgentError> {
            let mut response = vec![0u8; slot];
            let p0 = ParamValue::new(PROTOCOL_VERSION, 0, ParamType::ValueInout);
            let p1 = ParamTmpRef::new_input(request);
            let p2 = ParamTmpRef::new_output(&mut response);
            let mut op = Operation::new(0, p0, p1, p2, ParamNone);
            self.session
                .invoke_command(command as u32, &mut op)
                .map_err(|e| match e.kind() {
                    ErrorKind::TargetDead => AgentError::TaDead(e.to_string()),
                    _ => AgentError::Invoke(e.to_string()),
                })?;
            let (p0, _, p2, _) = op.parameters();
            let len = p2.updated_size().min(slot);
            response.truncate(len);
            Ok(RawReply {
                status: p0.a(),
                detail: p0.b(),
                body: response,
            })
        }
    }

    impl Transport for Optee {
        fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
            self.invoke_into(command, request, MAX_RESPONSE)
        }

        #[cfg(feature = "test-paths")]
        fn invoke_with_slot(
            &mut self,
            command: Command,
            request: &[u8],
            slot: usize,
        ) -> Result<RawReply, AgentError> {
            self.invoke_into(command, request, slot)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use suit_common::fault::Fault;
    use suit_common::service::install::{CommitRefusal, InstallError};
    use suit_common::suit::error::{
        AuthError, CommandError, CommandErrorKind, Error, Location, Section,
    };
    use suit_common::suit::platform::PlatformError;
    use suit_common::suit::ComponentId;

    fn refused(kind: RefusalKind, fault: Option<InstallError>) -> AgentError {
        AgentError::Refused {
            kind,
            reason: String::new(),
            fault: fault
                .map(|f| Fault::Install(f).encode())
                .unwrap_or_default(),
        }
    }

    fn engine(e: Error) -> Option<InstallError> {
        Some(InstallError::Refused(Arc::new(e)))
    }

    /// The engine's refusal at command `path` of the root's suit-install, component 0.
    fn in_install(path: u16, kind: CommandErrorKind) -> Option<InstallError> {
        engine(Error::Command(CommandError {
            location: Location {
                manifest_depth: 0,
                section: Section::Install,
                path: vec![path],
                component: Some(0),
                offset: None,
            },
            kind,
        }))
    }

    /// An envelope (unsigned: only its component list is read) over `['app']` and `['other']`.
    fn two_components() -> Vec<u8> {
        use ciborium::Value;
        let ids = Value::Array(
            [b"app".as_slice(), b"other"]
                .iter()
                .map(|s| Value::Array(vec![Value::Bytes(s.to_vec())]))
                .collect(),
        );
        let common = suit_test_support::cbor(&Value::Map(vec![(2.into(), ids)]));
        let manifest = suit_test_support::cbor(&Value::Map(vec![
            (1.into(), 1.into()),
            (2.into(), 1.into()),
            (3.into(), Value::Bytes(common)),
        ]));
        suit_common::suit::author::seal_envelope(&manifest, &[], &[], &[]).unwrap()
    }

    /// The component a refusal's note names is the one its words are about: a policy error's
    /// own index (a swap's source is checked under its index, not the command's), never a
    /// dependency's index read against the root's list.
    #[test]
    fn the_note_names_the_component_the_refusal_is_about() {
        use suit_common::suit::error::PolicyError;
        let note = |e: Option<InstallError>| match refused(RefusalKind::Manifest, e)
            .explained_with(&two_components())
        {
            AgentError::Refused { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        let rollback = PolicyError::ComponentRollback {
            component: 1,
            installed: 5,
            offered: 3,
        };
        let swap_source = note(in_install(3, CommandErrorKind::Policy(rollback)));
        assert_eq!(swap_source, " (component 1 is ['other'])");
        let dependency = note(in_install(
            3,
            CommandErrorKind::Dependency(Box::new(Error::Policy(
                PolicyError::ComponentNotPermitted { component: 1 },
            ))),
        ));
        assert_eq!(
            dependency, "",
            "a dependency's index named from the root's list"
        );
        let on_the_command = note(in_install(3, CommandErrorKind::ImageDigestMismatch));
        assert_eq!(on_the_command, " (component 0 is ['app'])");
    }

    /// A verdict on the envelope is what the same envelope always gets again; the device's own
    /// trouble is not, even when the engine reports it under the `manifest` kind.
    #[test]
    fn only_verdicts_on_the_envelope_are_verdicts() {
        let auth = engine(Error::Auth(AuthError::NoMatchingTrustAnchor));
        assert!(refused(RefusalKind::Manifest, auth).is_verdict());
        let rollback = InstallError::Commit(CommitRefusal::Rollback {
            component: ComponentId::new(&[b"app"]),
            offered: 1,
            installed: 2,
        });
        assert!(refused(RefusalKind::Manifest, Some(rollback)).is_verdict());
        let mismatch = in_install(3, CommandErrorKind::ImageDigestMismatch);
        assert!(refused(RefusalKind::Manifest, mismatch).is_verdict());
        for kind in [RefusalKind::Payload, RefusalKind::TooLarge] {
            assert!(refused(kind, None).is_verdict(), "{kind}");
        }

        let io = engine(Error::Platform(PlatformError::Io));
        assert!(!refused(RefusalKind::Manifest, io).is_verdict());
        let in_a_command = engine(Error::Command(CommandError {
            location: Location {
                manifest_depth: 1,
                section: Section::Install,
                path: vec![0],
                component: Some(0),
                offset: Some(4),
            },
            kind: CommandErrorKind::Platform(PlatformError::Other(0xffff_000c)),
        }));
        assert!(!refused(RefusalKind::Manifest, in_a_command).is_verdict());
        let uncertain = InstallError::Commit(CommitRefusal::StateWriteUncertain);
        assert!(!refused(RefusalKind::Manifest, Some(uncertain)).is_verdict());
        // Applied, completed by the TA before its next command: not sent again, exit 5.
        let pending = refused(
            RefusalKind::Manifest,
            Some(InstallError::Commit(CommitRefusal::CommitPending {
                uuid: vec![0x5e; 16].into(),
            })),
        );
        assert!(pending.is_verdict() && pending.is_commit_pending());
        let full = Some(InstallError::Store(
            suit_common::service::store::StoreError::NoSpace,
        ));
        assert!(!refused(RefusalKind::Storage, full).is_verdict());
        for kind in [
            RefusalKind::Storage,
            RefusalKind::DeviceKey,
            RefusalKind::Internal,
            RefusalKind::Sequence,
            RefusalKind::Unspecified,
            RefusalKind::Other(99),
        ] {
            assert!(!refused(kind, None).is_verdict(), "{kind}");
        }
        assert!(!AgentError::Network("down".into()).is_verdict());
    }

    /// Refusals of the fetched payload bytes are told apart from verdicts on the envelope.
    #[test]
    fn payload_refusals_are_about_the_fetched_bytes() {
        use suit_common::encryption::DecryptError;
        use suit_common::suit::words::Words;
        for kind in [
            CommandErrorKind::ImageDigestMismatch,
            CommandErrorKind::ImageSizeMismatch,
            CommandErrorKind::Decrypt(DecryptError::TagMismatch),
        ] {
            let e = refused(RefusalKind::Manifest, in_install(3, kind));
            assert!(e.is_verdict() && e.is_about_fetched_payload(), "{e:?}");
        }
        let over = Some(InstallError::TooLarge(Words::PayloadOverImageSize));
        assert!(refused(RefusalKind::TooLarge, over).is_about_fetched_payload());
        assert!(refused(RefusalKind::Payload, None).is_about_fetched_payload());

        let auth = engine(Error::Auth(AuthError::NoMatchingTrustAnchor));
        let rollback = Some(InstallError::Commit(CommitRefusal::Rollback {
            component: ComponentId::new(&[b"app"]),
            offered: 1,
            installed: 2,
        }));
        let envelope = Some(InstallError::TooLarge(Words::Envelope));
        let no_key = in_install(
            3,
            CommandErrorKind::Decrypt(DecryptError::NoRecipientForKeys),
        );
        let check_content = in_install(
            3,
            CommandErrorKind::ConditionFailed(
                suit_common::suit::error::ConditionKind::CheckContent,
            ),
        );
        for f in [auth, rollback, no_key, check_content] {
            let e = refused(RefusalKind::Manifest, f);
            assert!(e.is_verdict() && !e.is_about_fetched_payload(), "{e:?}");
        }
        assert!(!refused(RefusalKind::TooLarge, envelope).is_about_fetched_payload());
    }

    /// Only a rollback refusal of the policy check on the authenticated manifest (before any
    /// command) ends a payload back-off: every other policy refusal depends on which
    /// signatures the wrapper carries or which severed sequences it includes (a server
    /// re-encoding the same manifest could give it at will), and what the rest of the
    /// envelope or a run decides does not either. Every variant the fault encodes is listed.
    #[test]
    fn only_rollback_refusals_are_decided_by_the_manifest() {
        use suit_common::suit::error::PolicyError;
        use suit_common::suit::policy::Requirement;
        use suit_common::suit::update_management::UmError;
        use suit_common::suit::words::Words;
        let policy = |p| refused(RefusalKind::Manifest, engine(Error::Policy(p)));
        for p in [
            PolicyError::Rollback {
                stored: 2,
                offered: 2,
            },
            PolicyError::ComponentRollback {
                component: 0,
                installed: 3,
                offered: 2,
            },
        ] {
            assert!(policy(p.clone()).is_decided_by_the_manifest(), "{p:?}");
        }
        for p in [
            PolicyError::ComponentNotPermitted { component: 0 },
            PolicyError::MissingRequiredSigner {
                component: 0,
                required: Requirement::Anchor(2),
            },
            PolicyError::IdentifierNotPermitted,
            PolicyError::SequenceKeyNotPermitted,
            PolicyError::PlaintextNotPermitted { component: 0 },
            PolicyError::UpdateManagement(UmError::AuthorizationRequired),
        ] {
            assert!(!policy(p.clone()).is_decided_by_the_manifest(), "{p:?}");
        }
        let commit_rollback = Some(InstallError::Commit(CommitRefusal::Rollback {
            component: ComponentId::new(&[b"app"]),
            offered: 1,
            installed: 2,
        }));
        for f in [
            engine(Error::SeveredSectionMissing(Section::Install)),
            engine(Error::Auth(AuthError::SeveredMemberDigestMismatch {
                member: 20,
            })),
            engine(Error::Invalid {
                at: Words::Envelope,
                reason: Words::Envelope,
            }),
            in_install(0, CommandErrorKind::MissingIntegratedPayload),
            in_install(
                0,
                CommandErrorKind::Policy(PolicyError::PlaintextNotPermitted { component: 0 }),
            ),
            commit_rollback,
            None,
        ] {
            let e = refused(RefusalKind::Manifest, f);
            assert!(!e.is_decided_by_the_manifest(), "{e:?}");
        }
    }
}
