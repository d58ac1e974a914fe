//! Client-initiated updates (`suit-agent poll`): ask a firmware server for this device's
//! latest envelope (conditional GET), stream it and the payloads the TA names into the TA,
//! and post the TA's signed report to a status tracker.
//!
//! Firmware server layout (any static web server or CDN), under a base URL:
//!   `BASE/<vendor-id hex>/<class-id hex>/envelope.suit`  the latest envelope for the class,
//!   served as `application/suit-envelope+cose`, with an `ETag`;
//!   payloads wherever the manifest's URIs point (usually under BASE too).
//! Status tracker: one `POST` of the COSE_Sign1 report (`application/suit-report+cose`) per
//! attempt to the report URL; optionally `GET` of a nonce (1..64 raw bytes, or hex text) from
//! the nonce URL first, which the TA binds into the report's signature.
//!
//! Payload URIs are fetched only under the allowed prefixes ([`super::allow`]; by default the
//! base URL's origin). Just before InstallFinish an in-flight mark is saved ([`InFlight`]), so
//! an agent killed while the TA commits learns the outcome from the TA in its next round (and
//! a `CommitPending` answer, in the same round once the TA has completed the commit; an
//! `InstallPending` one, in the next round).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::{
    log, Conditional, Limit, Location, Net, NotOnServer, Sink, Streamed, ENVELOPE_MEDIA_TYPE,
    MAX_NONCE,
};
use crate::client::{self, Progress};
use crate::files::{FileError, MAX_TEXT_FILE_LEN};
use crate::tee::{AgentError, Transport};

/// Largest envelope fetched: the TA's own limit (the engine's, so the two cannot drift). A
/// larger one is refused before it is downloaded whole, as the verdict the TA would give
/// ([`AgentError::EnvelopeTooLarge`]).
pub const MAX_ENVELOPE_DOWNLOAD: u64 = suit_common::suit::envelope::MAX_ENVELOPE_LEN as u64;

/// Most rounds skipped between two attempts at a manifest whose fetched payload the TA
/// refused ([`AgentError::is_about_fetched_payload`]). Such a refusal is never recorded as
/// the verdict on the manifest (the bytes came from a URL, not from the envelope: a stale
/// CDN object or a MITM on plain HTTP must not disable an authentic update for good), but
/// the fault cannot tell fetched bytes from the envelope's own or installed content, so the
/// attempts back off: after attempt n, 2^(n-1) - 1 rounds are skipped, at most this many, so
/// at least one attempt in 64 rounds once the back-off is at its cap.
pub const MAX_PAYLOAD_SKIP_ROUNDS: u32 = 63;

/// Attempts after which the release before this one recorded a payload refusal as the verdict
/// on its manifest (state files it wrote are migrated by [`PollState::load`]).
const LEGACY_FINAL_ATTEMPTS: u32 = 3;

/// Rounds to skip after `attempts` payload refusals ([`MAX_PAYLOAD_SKIP_ROUNDS`]).
fn skip_rounds_after(attempts: u32) -> u32 {
    1u32.checked_shl(attempts.saturating_sub(1))
        .map_or(MAX_PAYLOAD_SKIP_ROUNDS, |n| {
            (n - 1).min(MAX_PAYLOAD_SKIP_ROUNDS)
        })
}

/// How many manifests' payload refusals [`PollState::payload_refusals`] keeps (the latest):
/// enough for a server alternating a few envelopes, bounded whatever it serves.
pub const MAX_PAYLOAD_REFUSALS_KEPT: usize = 8;

/// Payload refusals of one manifest ([`PollState::payload_refusals`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PayloadRefusals {
    /// SHA-256 (hex) of the manifest, as the envelope's authentication wrapper claims it. A
    /// payload refusal comes after authentication, so a counted digest is an authenticated
    /// one; keyed by it rather than by the envelope's bytes, another encoding of the same
    /// envelope (an unprotected header a server adds) does not start a new count.
    pub manifest_digest: String,
    /// Attempts refused so far (saturating; never a verdict).
    pub attempts: u32,
    /// Rounds still to skip before the next attempt: after attempt n, 2^(n-1) - 1, at most
    /// [`MAX_PAYLOAD_SKIP_ROUNDS`], so attempt n + 1 comes 2^(n-1) rounds later, at most 64.
    pub skip_rounds: u32,
}

/// What `poll` saves just before it asks the TA to finish (commit) an install, and clears
/// once it has recorded the TA's answer. Found at the start of a round, it says an earlier
/// round was ended (killed, a power cut) while the TA committed or not: that round's outcome
/// is then asked of the TA ([`PollState::in_flight`]), never taken from the server.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct InFlight {
    /// SHA-256 (hex) of the manifest, as the TA authenticated it at InstallPrepare.
    pub manifest_digest: String,
    /// Its sequence number, as the TA gave it at InstallPrepare.
    pub sequence_number: u64,
    /// SHA-256 (hex) of the envelope handed over, and the server's entity tag of it: what is
    /// recorded as decided if the TA committed it.
    pub envelope_sha256: String,
    pub etag: Option<String>,
}

/// What a poll remembers between rounds (a JSON file).
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PollState {
    /// The envelope URL the rest refers to.
    pub url: String,
    /// The server's entity tag of the envelope last decided about: handed to the TA, or
    /// refused by the agent as larger than the TA accepts.
    pub etag: Option<String>,
    /// SHA-256 (hex) of the envelope the TA last decided about (installed, or refused as a
    /// verdict on it: [`AgentError::is_verdict`]; not a refusal of the payload bytes fetched
    /// for it, [`AgentError::is_about_fetched_payload`], which a later round retries).
    pub envelope_sha256: Option<String>,
    /// Manifests whose attempts were refused for their fetched payload, the latest last (at
    /// most [`MAX_PAYLOAD_REFUSALS_KEPT`]): retried with back-off ([`MAX_PAYLOAD_SKIP_ROUNDS`]),
    /// never recorded as decided. Saved as `payload-retries`: absent from older state files
    /// (which load as none; their `payload-refusals` are migrated by [`PollState::load`], the
    /// single `payload-refused` record of an earlier release is ignored, its count restarting).
    #[serde(
        default,
        rename = "payload-retries",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub payload_refusals: Vec<PayloadRefusals>,
    /// The previous release's list, in which [`LEGACY_FINAL_ATTEMPTS`] refusals were a
    /// verdict: read only, to migrate ([`PollState::load`]).
    #[serde(default, rename = "payload-refusals", skip_serializing)]
    legacy_payload_refusals: Vec<PayloadRefusals>,
    /// Set when the envelope last decided about was refused for payload URIs not fetched, one
    /// of them outside the allowed prefixes ([`UriRefusal::NotAllowed`]): those prefixes'
    /// fingerprint ([`UrlPolicy::fingerprint`]). That verdict is the operator's flags' as much
    /// as the envelope's (the one outside may be the one the manifest fetched), so a round
    /// under other prefixes forgets it (digest, ETag) and hands the envelope over again.
    /// Absent from older state files.
    ///
    /// [`UriRefusal::NotAllowed`]: super::allow::UriRefusal::NotAllowed
    /// [`UrlPolicy::fingerprint`]: super::allow::UrlPolicy::fingerprint
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_under_allow_list: Option<String>,
    /// An install handed to InstallFinish whose outcome this agent has not recorded yet
    /// ([`InFlight`]). Absent from older state files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<InFlight>,
    /// The report of that decision is still to be posted (the tracker could not be reached):
    /// each round tries again, until it is posted or another envelope is decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_pending: Option<PendingReport>,
    /// Approved normal-world files (their TA paths) of committed installs not yet written
    /// under `--ree-root`: each round tries them again, until each is written or the TA no
    /// longer approves it. Absent from older state files (which load as none pending).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ree_pending: Vec<String>,
}

/// Which of the TA's reports describes a decided attempt (the TA keeps the latest
/// authenticated attempt's and the latest pre-authentication refusal's apart). Chosen from
/// what the TA did, never from what the envelope claims (its manifest digest is not
/// authenticated when the TA refuses its authentication). Older state files also carry a
/// `claimed-digest`, which is ignored.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PendingReport {
    /// The TA authenticated the manifest (it named the payloads, or its refusal's fault is
    /// one after authentication: [`AgentError::is_refusal_after_authentication`]): the
    /// authenticated attempt's report; else the pre-authentication one.
    pub authenticated: bool,
}

impl PollState {
    /// The saved state (read bounded, [`MAX_TEXT_FILE_LEN`]). A missing file is a first
    /// round; one that cannot be read or parsed is logged and ignored, as a first round (the
    /// TA refuses an envelope it already decided about again, as a verdict).
    pub fn load(path: &Path) -> PollState {
        let parsed = crate::files::read_file_max(path, MAX_TEXT_FILE_LEN)
            .map_err(|e| match e {
                FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    None
                }
                e => Some(e.to_string()),
            })
            .and_then(|b| {
                serde_json::from_slice(&b)
                    .map_err(|e| Some(format!("{}: not a poll state: {e}", path.display())))
            });
        let mut state: PollState = parsed.unwrap_or_else(|why| {
            if let Some(why) = why {
                log::warn(&format!("{why}; starting afresh"));
            }
            PollState::default()
        });
        let legacy = std::mem::take(&mut state.legacy_payload_refusals);
        if legacy.iter().any(|r| r.attempts >= LEGACY_FINAL_ATTEMPTS) {
            // That release saved the envelope with a third payload refusal as decided (its
            // digest and ETag): no longer a verdict, so they are forgotten. If the envelope
            // last decided was another one, the TA gives its verdict on it again.
            log::info(&format!(
                "{}: a payload refusal recorded as a verdict by an earlier release; \
                 the envelope is fetched and handed over again",
                path.display()
            ));
            state.etag = None;
            state.envelope_sha256 = None;
        }
        if state.payload_refusals.is_empty() {
            state.payload_refusals = legacy
                .into_iter()
                .map(|r| PayloadRefusals {
                    skip_rounds: r.skip_rounds.min(MAX_PAYLOAD_SKIP_ROUNDS),
                    ..r
                })
                .collect();
        }
        let excess = state
            .payload_refusals
            .len()
            .saturating_sub(MAX_PAYLOAD_REFUSALS_KEPT);
        state.payload_refusals.drain(..excess);
        state
    }

    /// Where the payload refusals of `manifest_digest` are kept, if they are.
    fn payload_refusals_of(&self, manifest_digest: &str) -> Option<usize> {
        self.payload_refusals
            .iter()
            .position(|r| r.manifest_digest == manifest_digest)
    }

    /// The payload refusals kept for `manifest_digest`, if any.
    fn payload_refusals_for(&self, manifest_digest: &str) -> Option<PayloadRefusals> {
        self.payload_refusals_of(manifest_digest)
            .and_then(|i| self.payload_refusals.get(i).cloned())
    }

    /// Keeps `r` as the latest payload refusals (replacing its manifest's earlier ones,
    /// dropping the oldest beyond [`MAX_PAYLOAD_REFUSALS_KEPT`]).
    fn keep_payload_refusals(&mut self, r: PayloadRefusals) {
        if let Some(i) = self.payload_refusals_of(&r.manifest_digest) {
            self.payload_refusals.remove(i);
        }
        self.payload_refusals.push(r);
        let excess = self
            .payload_refusals
            .len()
            .saturating_sub(MAX_PAYLOAD_REFUSALS_KEPT);
        self.payload_refusals.drain(..excess);
    }

    /// Written whole and durably ([`crate::files::replace_file`]: a temporary file, fsync,
    /// rename, directory fsync): a crash leaves the old state or the new one.
    /// A failure is [`AgentError::PollState`] ([`state_error`]).
    /// Without an in-flight mark, the envelope copy kept with one ([`in_flight_copy`]) is
    /// removed once the state is saved.
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| AgentError::File(e.to_string()))?;
        crate::files::replace_file(path, &text, 0o600).map_err(|e| state_error(path, &e, false))?;
        if self.in_flight.is_none() {
            // Left behind, it is never read without a mark naming its digest.
            let _ = std::fs::remove_file(in_flight_copy(path));
        }
        Ok(())
    }
}

/// Where the copy of the in-flight envelope is kept beside the poll state file `state_file`
/// (`.in-flight.suit` appended to its name): a commit the TA left awaiting that envelope is
/// finished only by the same bytes, which the server may no longer serve. At most
/// [`MAX_ENVELOPE_DOWNLOAD`] bytes (it was fetched under that bound).
pub fn in_flight_copy(state_file: &Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_os_string();
    name.push(".in-flight.suit");
    PathBuf::from(name)
}

/// The words of [`AgentError::AwaitedEnvelopeUnknown`] for `poll`.
fn unknown_awaited(awaited: &str, why: &str) -> String {
    format!(
        "the TA awaits envelope SHA-256 {awaited} (an update interrupted while OP-TEE installed \
         its TA; it refuses everything else until then), and {why}: install that envelope \
         again (`suit-agent install FILE`, or `suit-agent resume` if `install` recorded it), \
         or give the update up (`suit-agent abandon {awaited}`), then poll again"
    )
}

impl PollState {}

/// The poll state file at `path` cannot be written (`e`), in words naming what to do:
/// [`AgentError::PollState`], lasting ([`lasting_write_error`]) or not.
fn state_error(path: &Path, e: &std::io::Error, at_start: bool) -> AgentError {
    let lasting = lasting_write_error(e, at_start);
    let message = if lasting {
        format!(
            "poll state {}: cannot be written: {e}; give --poll-state a file path in a \
             directory the agent can write",
            path.display()
        )
    } else {
        format!(
            "poll state {}: not saved for now: {e} (its file system's trouble, which may \
             pass: free space, check the disk; tried again at the next round, or when the \
             service manager starts the agent again)",
            path.display()
        )
    };
    AgentError::PollState { message, lasting }
}

/// Whether writing a file failed with `e` for a reason no retry changes. Only what may
/// pass is listed: a full file system or quota (`ENOSPC`, `EDQUOT`), an I/O error, memory,
/// an interruption or time-out, a stale handle, a held lock (`EAGAIN`/`WouldBlock`), and a
/// read-only file system found during a run (a remount after an error; `at_start`: the
/// check before the first round, where it is configuration, e.g. a unit's
/// `ProtectSystem=strict`). Everything else (a directory or other non-file at the path, a
/// path through a file or a dangling link, no permission, a busy bind-mounted file, ...)
/// lasts.
pub fn lasting_write_error(e: &std::io::Error, at_start: bool) -> bool {
    use rustix::io::Errno;
    use std::io::ErrorKind;
    let may_pass = match e.raw_os_error().map(Errno::from_raw_os_error) {
        Some(
            Errno::NOSPC
            | Errno::DQUOT
            | Errno::IO
            | Errno::NOMEM
            | Errno::INTR
            | Errno::TIMEDOUT
            | Errno::STALE
            | Errno::AGAIN,
        ) => true,
        Some(Errno::ROFS) => !at_start,
        Some(_) => false,
        None => matches!(
            e.kind(),
            ErrorKind::WouldBlock | ErrorKind::Interrupted | ErrorKind::TimedOut
        ),
    };
    !may_pass
}

/// Checks, before the first round, that the poll state can be saved at `path`
/// ([`crate::files::check_replaceable`]: not a directory, device, FIFO or socket; its
/// directory made if missing and able to take a temporary file; an existing state saved
/// again, unchanged, as a round saves it): a round saves it between
/// the TA's decision and the report, and just before a commit, after downloading and staging
/// the whole update, so a state that cannot be saved is refused now
/// ([`AgentError::PollState`]: exit 2 if lasting, else 3), not once per round after that
/// work.
pub fn check_state_file(path: &Path) -> Result<(), AgentError> {
    crate::files::check_replaceable(path).map_err(|e| state_error(path, &e, true))?;
    // A save renames a temporary over the file, which fails where making one does not (a
    // bind-mounted state file: EBUSY). So an existing state is saved now, with its own
    // bytes; one that cannot be read is left to the round's load, which says why.
    match crate::files::read_file_max(path, MAX_TEXT_FILE_LEN) {
        Ok(bytes) => {
            crate::files::replace_file(path, &bytes, 0o600).map_err(|e| state_error(path, &e, true))
        }
        Err(_) => Ok(()),
    }
}

pub struct PollOptions {
    /// Firmware server base URL.
    pub base: String,
    pub report_url: Option<String>,
    pub nonce_url: Option<String>,
    pub state_file: PathBuf,
    pub ree_root: Option<PathBuf>,
    /// Where payload URIs may be fetched from (by default the origin of `base`).
    pub allowed: super::allow::UrlPolicy,
}

/// What one round did.
#[derive(Debug)]
pub enum Round {
    /// The server has nothing new (304, or the envelope already handed to the TA).
    UpToDate,
    /// Installed; components committed.
    Installed { components: Vec<String> },
    /// The TA refused the envelope as a verdict on it ([`AgentError::is_verdict`]; a refusal
    /// of its fetched payload, or of one the server does not have,
    /// [`AgentError::PayloadNotOnServer`], is retried later), or answered `CommitPending` and
    /// then completed that commit (the update applied).
    Refused(AgentError),
    /// The TA answered `CommitPending` and then did not complete that commit, or did not say
    /// ([`AgentError::CommitNotCompleted`]): nothing recorded, the next round goes on.
    Unsettled(AgentError),
}

/// A round's result, and what failed after the TA's decision was recorded (posting a
/// report, which stays pending; writing approved REE files, [`AgentError::AfterCommit`]).
#[derive(Debug)]
pub struct Outcome {
    pub round: Round,
    pub afterwards: Vec<AgentError>,
}

/// The envelope URL for this device, from the identity the TPA provisioned.
pub fn envelope_url(tee: &mut dyn Transport, base: &str) -> Result<String, AgentError> {
    let a = client::anchors(tee)?;
    let (Some(vendor), Some(class)) = (&a.identity.vendor_id, &a.identity.class_id) else {
        return Err(AgentError::File(
            "the device has no vendor/class identity yet (provision one with set-identity): \
             poll needs it to find its envelope"
                .into(),
        ));
    };
    Ok(super::join(
        base,
        &format!(
            "{}/{}/envelope.suit",
            hex::encode(vendor),
            hex::encode(class)
        ),
    ))
}

/// Payload URIs the TA named that [`fetch_uri`] did not send: the TA lists every URI the
/// manifest may fetch, and a try-each option whose condition fails never fetches its own
/// (manifest-37), so only the TA can tell whether the update needs one ([`LeftOut::named`]
/// names it if it did). Bounded by the TA's count of payload URIs.
#[derive(Debug, Default)]
pub struct LeftOut {
    /// Not fetched: not http(s), unparseable, or outside the allowed prefixes.
    pub refused: Vec<super::allow::RefusedUri>,
    /// Answered 404 or 410 by the server.
    pub absent: Vec<NotOnServer>,
}

impl LeftOut {
    /// The TA's refusal `e` named as the URI left out, when it is the refusal for a payload
    /// not delivered and names one of these ([`AgentError::payload_not_given`]); else
    /// `None`, `e` being the TA's own. A 404/410 is [`AgentError::PayloadNotOnServer`] (never
    /// a verdict: not published yet, perhaps); one not fetched is [`AgentError::UriRefused`]
    /// (exit 1, which `poll` records under the allowed prefixes if it is outside them, so
    /// allowing it lets the update in).
    pub fn named(&self, e: &AgentError) -> Option<AgentError> {
        let uri = e.payload_not_given()?;
        if let Some(absent) = self.absent.iter().find(|a| a.uri == uri) {
            return Some(AgentError::PayloadNotOnServer {
                absent: absent.clone(),
            });
        }
        let refused = self.refused.iter().find(|r| r.uri == uri)?;
        Some(AgentError::UriRefused {
            refused: refused.clone(),
        })
    }
}

/// Fetches a payload URI the TA named over the network, if `allowed` lets it (checked
/// before connecting). `poll` reads no local files: an envelope from a server names network
/// resources only (`install` resolves files itself). `authenticated`: the TA's size bound
/// for this URI (the manifest's image size), if any.
///
/// Not sent (`Ok(false)`, logged, added to `left_out`): a URI that is not http(s), does not
/// parse, or is not allowed (nothing is contacted), and one the server answers 404 or 410
/// for. The TA decides whether the update needed it ([`LeftOut`]). Any other failure (5xx,
/// timeout, TLS, another 4xx) fails the install as before.
pub fn fetch_uri(
    net: &Net,
    allowed: &super::allow::UrlPolicy,
    uri: &str,
    authenticated: Option<u64>,
    sink: &mut dyn Sink,
    left_out: &mut LeftOut,
) -> Result<bool, AgentError> {
    let checked = allowed
        .check(uri)
        .and_then(|()| match Location::parse(uri) {
            Location::Http(url) => Ok(url),
            // `check` passes http(s) URIs only.
            Location::File(_) => Err(super::allow::UriRefusal::NotHttp),
        });
    let url = match checked {
        Ok(url) => url,
        Err(why) => {
            let refused = super::allow::RefusedUri {
                uri: uri.to_string(),
                why,
            };
            log::warn(&format!(
                "payload {refused}: not fetched, nothing contacted; the TA refuses the update \
                 only if the manifest fetches it"
            ));
            left_out.refused.push(refused);
            return Ok(false);
        }
    };
    let limit = Limit::new(net.config().max_payload, authenticated);
    match net.stream(&url, limit, sink)? {
        Streamed::Bytes(n) => {
            log::info(&format!(
                "fetched {} ({n} bytes)",
                crate::human::printable(&url)
            ));
            Ok(true)
        }
        Streamed::NotThere(status) => {
            let missing = NotOnServer {
                uri: uri.to_string(),
                status,
            };
            log::warn(&format!(
                "payload {missing}: not sent; the TA refuses the update only if the \
                 manifest fetches it"
            ));
            left_out.absent.push(missing);
            Ok(false)
        }
    }
}

/// The nonce for the report: the tracker's, or 16 fresh random bytes.
fn nonce(net: &Net, url: Option<&str>) -> Result<Vec<u8>, AgentError> {
    let Some(url) = url else {
        let mut n = vec![0u8; 16];
        getrandom::fill(&mut n).map_err(|e| AgentError::File(format!("random nonce: {e}")))?;
        return Ok(n);
    };
    let max = 2 * MAX_NONCE as u64 + 2;
    let shown = super::allow::redacted(url);
    let data = match net.get(url, max, "*/*", super::Carries::Nonce, None)? {
        Conditional::Body { data, .. } => data,
        Conditional::NotModified => {
            return Err(AgentError::Network(format!("{shown}: no nonce")));
        }
        Conditional::TooLarge { .. } => {
            return Err(AgentError::Network(format!(
                "{shown}: more than the {max} bytes a nonce may take"
            )));
        }
    };
    let text = String::from_utf8_lossy(&data);
    let n = match hex::decode(text.trim()) {
        Ok(n) if !text.trim().is_empty() => n,
        _ => data,
    };
    if n.is_empty() || n.len() > MAX_NONCE {
        return Err(AgentError::Network(format!(
            "{shown}: a nonce must be 1..{MAX_NONCE} bytes, got {}",
            n.len()
        )));
    }
    Ok(n)
}

/// Fetches the TA's signed report of a decided attempt ([`PendingReport`] says which) and
/// posts it.
fn post_report(
    tee: &mut dyn Transport,
    net: &Net,
    opts: &PollOptions,
    pending: &PendingReport,
) -> Result<(), AgentError> {
    let Some(url) = &opts.report_url else {
        return Ok(());
    };
    let nonce = nonce(net, opts.nonce_url.as_deref())?;
    let report = client::report_of(tee, Some(&nonce), !pending.authenticated)?;
    let code = net.post(url, super::REPORT_MEDIA_TYPE, &report)?;
    log::info(&format!(
        "posted the signed report ({} bytes, nonce {}) to {}: HTTP {code}",
        report.len(),
        hex::encode(&nonce),
        super::allow::redacted(url)
    ));
    Ok(())
}

/// Posts the pending report, if any. Posted: the mark is cleared. The tracker unreachable:
/// it stays for the next round. The TA unable to give it: it is dropped (a later round
/// could not post it either). Failures go to `afterwards`.
fn post_pending(
    tee: &mut dyn Transport,
    net: &Net,
    opts: &PollOptions,
    state: &mut PollState,
    afterwards: &mut Vec<AgentError>,
) {
    let Some(pending) = state.report_pending.clone() else {
        return;
    };
    // A round run without a tracker (an operator's one-off `poll`) posts nothing: the report
    // stays pending for the next round that has one, as when the tracker is down.
    if opts.report_url.is_none() {
        log::info(
            "the report of an earlier decided attempt is still to be posted; kept for a round \
             with --report-url",
        );
        return;
    }
    match post_report(tee, net, opts, &pending) {
        Ok(()) => state.report_pending = None,
        Err(e @ AgentError::Network(_)) => {
            log::warn(&format!(
                "the report could not be posted ({e}); kept, the next round tries again"
            ));
            afterwards.push(e);
            return;
        }
        Err(e) => {
            log::warn(&format!("the TA cannot give the report ({e}); dropped"));
            state.report_pending = None;
            afterwards.push(e);
        }
    }
    if let Err(e) = state.save(&opts.state_file) {
        afterwards.push(e);
    }
}

/// Writes the approved REE files still pending ([`PollState::ree_pending`]) under
/// `--ree-root`, each on its own. Written, or no longer approved by the TA (a later install
/// removed it: a verdict, the same every time), a file leaves the list; one that failed for
/// any other reason stays for the next round (a failure after a commit, exit 5, which names
/// the `suit-agent export` that writes it now). The list is saved when it changed.
fn write_pending_ree(
    tee: &mut dyn Transport,
    opts: &PollOptions,
    state: &mut PollState,
    afterwards: &mut Vec<AgentError>,
) {
    let Some(root) = &opts.ree_root else {
        return;
    };
    if state.ree_pending.is_empty() {
        return;
    }
    let mut failed = Vec::new();
    for (path, result) in client::write_approved_each(tee, root, &state.ree_pending) {
        match result {
            Ok(dest) => log::info(&format!("wrote approved REE file {}", dest.display())),
            Err(e) if e.is_verdict() => log::warn(&format!(
                "approved REE file {path}: the TA no longer gives it ({e}); not written"
            )),
            Err(e) => failed.push((path, e)),
        }
    }
    let still: Vec<String> = failed.iter().map(|(p, _)| p.clone()).collect();
    let changed = still != state.ree_pending;
    state.ree_pending = still;
    afterwards.extend(client::after_commit_error(
        root,
        &failed,
        " (the next round tries again)",
    ));
    if changed {
        if let Err(e) = state.save(&opts.state_file) {
            afterwards.push(e);
        }
    }
}

/// What the TA says became of an install an earlier round handed to InstallFinish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settled {
    /// Its latest authenticated report is this manifest's success, or its `CommitPending` or
    /// `InstallPending` refusal of a commit the TA has since completed: committed.
    Committed,
    /// It holds no report to sign for the current state (a commit whose report was not
    /// stored, such as a power cut between the two; or none at all, the REE having deleted
    /// it): whether that round committed is unknown, and no report of it can be posted.
    Unreported,
    /// Its latest report is another attempt's, or this one's refusal: not committed by that
    /// round as far as the report tells (another attempt since, an operator's `install` of
    /// the same envelope refused as a rollback, may hide that it was).
    NotCommitted,
}

/// Asks the TA what became of `mark`: its latest authenticated report (read, not verified:
/// it comes from the TA over the TEE channel, as InstallFinish's answer would have). That
/// command is also the first the TA answers after a `CommitPending` or `InstallPending`
/// refusal (both leave the commit journaled), so the TA has completed that commit
/// (`reconcile`) before it answers, or refuses (the device's trouble: the mark stays).
fn settled(tee: &mut dyn Transport, mark: &InFlight) -> Result<Settled, AgentError> {
    use suit_common::fault::{Fault, ServiceFault};
    use suit_common::report::ReportResult;
    use suit_common::service::install::{CommitRefusal, InstallError};
    let signed = match client::report_of(tee, None, false) {
        Ok(signed) => signed,
        // No report for the current state, or none at all (`not-found`, else a verdict).
        Err(AgentError::Refused { fault, .. })
            if matches!(
                Fault::decode(&fault),
                Some(Fault::Service(
                    ServiceFault::ReportNotCurrent | ServiceFault::NoReport(_)
                ))
            ) =>
        {
            return Ok(Settled::Unreported)
        }
        Err(e) if e.is_verdict() => return Ok(Settled::NotCommitted),
        Err(e) => return Err(e),
    };
    let report = match suit_common::report::Report::decode(&client::signed_report_payload(&signed)?)
    {
        // Sealed to the status tracker's key: the agent cannot read it, so it cannot tell;
        // the envelope is handed over again (committed, the TA refuses it as not newer).
        Err(suit_common::report::ReportError::Encrypted) => return Ok(Settled::NotCommitted),
        r => r.map_err(|_| AgentError::BadResponse("report does not decode"))?,
    };
    let this = report.authenticated != Some(false)
        && report.manifest_digest.map(hex::encode).as_deref() == Some(&*mark.manifest_digest)
        && report.sequence_number == Some(mark.sequence_number);
    if !this {
        return Ok(Settled::NotCommitted);
    }
    let pending = match &report.result {
        ReportResult::Success => return Ok(Settled::Committed),
        ReportResult::Failure(f) => match &f.detail {
            // OP-TEE's TA store answered an error (which does not prove it stored nothing),
            // or the state write after it failed: journaled either way, and `reconcile`
            // rolled it forward before this command, or marked the TA unconfirmed.
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::CommitPending { uuid } | CommitRefusal::InstallPending { uuid, .. },
            ))) => uuid.clone(),
            _ => return Ok(Settled::NotCommitted),
        },
    };
    // Completed, unless OP-TEE refused the kept TA image when the TA tried again: then the
    // old state holds, with that TA marked unconfirmed.
    let status = client::status(tee)?;
    Ok(
        if status
            .service
            .unconfirmed_tas
            .iter()
            .any(|u| u.0.as_slice() == pending.as_slice())
        {
            Settled::NotCommitted
        } else {
            Settled::Committed
        },
    )
}

/// The approved REE files (their TA paths) of every component `status` lists: all of the
/// device's approved normal-world content. Not only those at the settled manifest's sequence
/// number: a dependency's components carry the dependency's number, and another manifest's
/// may carry the same one. Writing one again that is already in place is harmless: the same
/// bytes (exported and checked against the TA's digest), replaced atomically (mode 0600: a
/// local edit of the file is reverted).
fn ree_paths(tee: &mut dyn Transport) -> Result<Vec<String>, AgentError> {
    use suit_common::service::components::{classify, Kind};
    use suit_common::suit::component::ComponentId;
    let status = client::status(tee)?;
    Ok(status
        .service
        .components
        .iter()
        .filter_map(|c| {
            let segments: Vec<&[u8]> = c.id.0.iter().map(|s| s.as_slice()).collect();
            match classify(&ComponentId::new(&segments)) {
                Ok(Kind::Ree { path }) => Some(path),
                _ => None,
            }
        })
        .collect())
}

/// Settles an install handed to InstallFinish without the TA's answer recorded
/// ([`PollState::in_flight`]: an earlier round was ended, or this one got `CommitPending`),
/// from what the TA says: committed, it is recorded as that round would have (decided, the
/// TA's report to post); else nothing is recorded and the round goes on as usual (the TA
/// gives its verdict on the envelope, or installs it). Every settlement queues the approved
/// REE files: the latest report alone cannot prove a commit did not happen (a later attempt,
/// an operator's `install`, a deleted report hide it), and writing an approved one again is
/// harmless ([`ree_paths`]). The TA not answering keeps the mark and ends the round. `None`:
/// no mark.
fn settle_in_flight(
    tee: &mut dyn Transport,
    opts: &PollOptions,
    state: &mut PollState,
    this_round: bool,
) -> Result<Option<Settled>, AgentError> {
    let Some(mark) = state.in_flight.clone() else {
        return Ok(None);
    };
    let settled = settled(tee, &mark)?;
    let ree = match &opts.ree_root {
        None => Vec::new(),
        Some(_) => ree_paths(tee)?,
    };
    let what = format!(
        "{} manifest {} (sequence number {})",
        if this_round {
            "the TA left pending the commit of"
        } else {
            "an earlier round ended while the TA finished"
        },
        mark.manifest_digest,
        mark.sequence_number
    );
    match settled {
        Settled::Committed => {
            log::info(&format!("{what}: the TA committed it; recorded now"));
            state.etag = mark.etag;
            state.envelope_sha256 = Some(mark.envelope_sha256);
            state.refused_under_allow_list = None;
            if let Some(i) = state.payload_refusals_of(&mark.manifest_digest) {
                state.payload_refusals.remove(i);
            }
            state.report_pending = opts.report_url.as_ref().map(|_| PendingReport {
                authenticated: true,
            });
        }
        Settled::Unreported => log::warn(&format!(
            "{what}: the TA holds no report for its current state; the approved REE files \
             are written, and the envelope is handed over again"
        )),
        Settled::NotCommitted => log::info(&format!(
            "{what}: the TA did not commit it, as far as its latest report tells; the \
             approved REE files are written, and the envelope is handed over again"
        )),
    }
    for path in ree {
        if !state.ree_pending.contains(&path) {
            state.ree_pending.push(path);
        }
    }
    state.in_flight = None;
    state.save(&opts.state_file)?;
    Ok(Some(settled))
}

/// What [`resume_awaited`] did.
enum Resumed {
    /// The TA awaits no envelope (or there is no in-flight mark): the round goes on.
    NotAwaited(PollState),
    /// It awaited the one in flight, handed over again: the round's outcome.
    Round(Outcome),
}

/// With an in-flight mark, asks the TA whether a commit awaits an envelope
/// (`ServiceInfo::awaiting_envelope`): the one in flight, whose copy is kept, is handed over
/// again (its payloads fetched as usual), and that is the round; another one, or one whose
/// copy is missing, ends the round with [`AgentError::AwaitedEnvelopeUnknown`].
fn resume_awaited(
    tee: &mut dyn Transport,
    net: &Net,
    opts: &PollOptions,
    progress: &mut dyn FnMut(Progress<'_>),
    state: PollState,
) -> Result<Resumed, AgentError> {
    let Some(mark) = state.in_flight.clone() else {
        return Ok(Resumed::NotAwaited(state));
    };
    let Some(awaited) = client::status(tee)?.service.awaiting_envelope else {
        return Ok(Resumed::NotAwaited(state));
    };
    let awaited = hex::encode(awaited);
    if awaited != mark.envelope_sha256 {
        let why = format!(
            "this poll's envelope in flight is another (SHA-256 {})",
            mark.envelope_sha256
        );
        return from_server(tee, net, opts, progress, state, &awaited, &why).map(Resumed::Round);
    }
    let copy = in_flight_copy(&opts.state_file);
    let envelope = crate::files::read_file_max(&copy, MAX_ENVELOPE_DOWNLOAD)
        .map_err(|e| e.to_string())
        .and_then(|b| match hex::encode(sha2::Sha256::digest(&b)) == awaited {
            true => Ok(b),
            false => Err(format!("{} is not that envelope", copy.display())),
        });
    let envelope = match envelope {
        Ok(b) => b,
        Err(why) => {
            let why = format!("this poll's copy of it cannot be used ({why})");
            return from_server(tee, net, opts, progress, state, &awaited, &why)
                .map(Resumed::Round);
        }
    };
    let shown = format!("envelope in flight {}", copy.display());
    log::info(&format!(
        "the TA awaits the envelope in flight (sha-256 {awaited}, manifest {}) to finish its \
         commit: handing it over again",
        mark.manifest_digest
    ));
    hand_over(
        tee,
        net,
        opts,
        progress,
        state,
        Vec::new(),
        Handed {
            shown: &shown,
            envelope: &envelope,
            etag: mark.etag,
            digest: awaited,
            manifest_digest: mark.manifest_digest,
        },
    )
    .map(Resumed::Round)
}

/// The TA awaits the envelope of SHA-256 `awaited` (hex) and this poll holds no usable copy
/// of it (`why`): the server's current envelope, at the URL the poll state last saved (the
/// TA refuses the command that would name it), is handed over if it has exactly that digest.
/// Otherwise [`AgentError::AwaitedEnvelopeUnknown`]; a network failure is returned as it is
/// (the next round asks again).
fn from_server(
    tee: &mut dyn Transport,
    net: &Net,
    opts: &PollOptions,
    progress: &mut dyn FnMut(Progress<'_>),
    state: PollState,
    awaited: &str,
    why: &str,
) -> Result<Outcome, AgentError> {
    let unknown = |more: &str| {
        AgentError::AwaitedEnvelopeUnknown(unknown_awaited(awaited, &format!("{why}{more}")))
    };
    // Saved without the base URL's user information: given back from the base URL.
    let bare = super::allow::without_user_info(&opts.base);
    let Some(rest) = state
        .url
        .strip_prefix(bare.as_ref())
        .filter(|_| !state.url.is_empty())
    else {
        return Err(unknown(""));
    };
    let url = format!("{}{rest}", opts.base);
    let shown = super::allow::redacted(&url);
    let (envelope, etag) = match net.get(
        &url,
        MAX_ENVELOPE_DOWNLOAD,
        ENVELOPE_MEDIA_TYPE,
        super::Carries::Envelope,
        None,
    )? {
        Conditional::Body { data, etag } => (data, etag),
        Conditional::NotModified | Conditional::TooLarge { .. } => {
            return Err(unknown(&format!(", and {shown} does not serve it")))
        }
    };
    let digest = hex::encode(sha2::Sha256::digest(&envelope));
    if digest != awaited {
        return Err(unknown(&format!(
            ", and {shown} serves another (SHA-256 {digest})"
        )));
    }
    let manifest_digest = manifest_digest_of(&envelope, &digest);
    log::info(&format!(
        "the TA awaits envelope sha-256 {awaited} to finish its commit, and {why}: {shown} \
         serves it; handing it over again"
    ));
    hand_over(
        tee,
        net,
        opts,
        progress,
        state,
        Vec::new(),
        Handed {
            shown: &shown,
            envelope: &envelope,
            etag,
            digest,
            manifest_digest,
        },
    )
}

/// One poll round. The caller holds the agent lock and the TA session.
pub fn poll_once(
    tee: &mut dyn Transport,
    net: &Net,
    opts: &PollOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Outcome, AgentError> {
    let state = PollState::load(&opts.state_file);
    // First a commit the TA left awaiting the envelope in flight: nothing else runs until it
    // is handed over again.
    let state = match resume_awaited(tee, net, opts, progress, state)? {
        Resumed::Round(outcome) => return Ok(outcome),
        Resumed::NotAwaited(state) => state,
    };
    let mut state = state;
    let url = match envelope_url(tee, &opts.base) {
        Ok(url) => url,
        Err(e) => {
            let Some(d) = e.awaited_envelope() else {
                return Err(e);
            };
            let why = "this poll has no envelope in flight";
            return from_server(tee, net, opts, progress, state, &hex::encode(d), why);
        }
    };
    // The URL as every message shows it: the base URL's user information redacted.
    let shown = super::allow::redacted(&url);
    // Then what the TA made of an install the last round did not see finish.
    settle_in_flight(tee, opts, &mut state, false)?;
    // Saved without the base URL's user information (credentials, not a part of what is
    // fetched: new ones keep what was learnt); a state saved with it still matches.
    let saved_url = super::allow::without_user_info(&url).into_owned();
    if state.url != saved_url && state.url != url {
        // Another envelope URL: what was learnt about the old one is void; the device's
        // approved REE files still to write are not.
        state = PollState {
            url: saved_url.clone(),
            ree_pending: std::mem::take(&mut state.ree_pending),
            ..PollState::default()
        };
    }
    state.url = saved_url;
    if let Some(then) = &state.refused_under_allow_list {
        if *then != opts.allowed.fingerprint() {
            log::info(
                "the allowed URL prefixes changed since the envelope was refused for a payload \
                 URI outside them; it is fetched and handed over again",
            );
            state.etag = None;
            state.envelope_sha256 = None;
            state.refused_under_allow_list = None;
        }
    }
    let mut afterwards = Vec::new();
    // A report an earlier round could not post goes first: it describes an older attempt.
    post_pending(tee, net, opts, &mut state, &mut afterwards);
    // So do approved REE files an earlier install could not write.
    write_pending_ree(tee, opts, &mut state, &mut afterwards);
    log::debug(&format!("polling {shown}"));
    let (envelope, etag) = match net.get(
        &url,
        MAX_ENVELOPE_DOWNLOAD,
        ENVELOPE_MEDIA_TYPE,
        super::Carries::Envelope,
        state.etag.as_deref(),
    )? {
        Conditional::NotModified => {
            log::info(&format!("{shown}: not modified"));
            return Ok(Outcome {
                round: Round::UpToDate,
                afterwards,
            });
        }
        Conditional::TooLarge { announced, etag } => {
            // The TA's verdict on it is known without it: refused, and its ETag remembered
            // (the digest of the envelope last handed over stays), so the next round's
            // conditional GET is answered 304 until the server publishes another. Without an
            // ETag each round asks again and refuses again, reading no more than the bound.
            let refused = AgentError::EnvelopeTooLarge {
                url: url.clone(),
                announced,
                limit: MAX_ENVELOPE_DOWNLOAD,
            };
            state.etag = etag;
            if let Err(e) = state.save(&opts.state_file) {
                afterwards.push(e);
            }
            return Ok(Outcome {
                round: Round::Refused(refused),
                afterwards,
            });
        }
        Conditional::Body { data, etag } => (data, etag),
    };
    let digest = hex::encode(sha2::Sha256::digest(&envelope));
    if state.envelope_sha256.as_deref() == Some(digest.as_str()) {
        log::info(&format!(
            "{shown}: same envelope as last time (sha-256 {digest})"
        ));
        // Only a decision that kept an ETag (the TA authenticated those bytes) takes the new one.
        if state.etag.is_some() {
            state.etag = etag;
        }
        state.save(&opts.state_file)?;
        return Ok(Outcome {
            round: Round::UpToDate,
            afterwards,
        });
    }
    // Payload refusals are counted per manifest: another manifest starts its own count, the
    // same one in any encoding waits out its back-off, or stays decided.
    let manifest_digest = manifest_digest_of(&envelope, &digest);
    if let Some(mut r) = state
        .payload_refusals_for(&manifest_digest)
        .filter(|r| r.skip_rounds > 0)
    {
        r.skip_rounds -= 1;
        log::info(&format!(
            "{shown}: envelope sha-256 {digest} (manifest {manifest_digest}) refused for its \
             payload {} time(s); handing it over again in {} round(s)",
            r.attempts,
            r.skip_rounds + 1
        ));
        state.keep_payload_refusals(r);
        state.save(&opts.state_file)?;
        return Ok(Outcome {
            round: Round::UpToDate,
            afterwards,
        });
    }
    log::info(&format!(
        "{shown}: new envelope ({} bytes, sha-256 {digest}); handing it to the TA",
        envelope.len()
    ));
    hand_over(
        tee,
        net,
        opts,
        progress,
        state,
        afterwards,
        Handed {
            shown: &shown,
            envelope: &envelope,
            etag,
            digest,
            manifest_digest,
        },
    )
}

/// The digest (hex) payload refusals are counted by: the manifest's, as the authentication
/// wrapper claims it; the envelope's own `digest` if it does not decode (which the TA refuses
/// as a verdict anyway).
fn manifest_digest_of(envelope: &[u8], digest: &str) -> String {
    suit_common::suit::envelope::Envelope::decode(envelope).map_or_else(
        |_| digest.to_string(),
        |e| hex::encode(e.claimed_digest().0),
    )
}

/// The envelope a round hands to the TA, with what the round knows of it.
struct Handed<'a> {
    /// The envelope URL as messages show it.
    shown: &'a str,
    envelope: &'a [u8],
    /// The server's entity tag of it.
    etag: Option<String>,
    /// SHA-256 (hex) of the envelope, and of its manifest as the wrapper claims it.
    digest: String,
    manifest_digest: String,
}

/// Hands `handed` to the TA (sent again while the TA answers that its commit awaits it:
/// [`client::resending`]), the in-flight mark and a copy of the envelope saved before each
/// InstallFinish, and records the TA's decision.
fn hand_over(
    tee: &mut dyn Transport,
    net: &Net,
    opts: &PollOptions,
    progress: &mut dyn FnMut(Progress<'_>),
    mut state: PollState,
    mut afterwards: Vec<AgentError>,
    handed: Handed<'_>,
) -> Result<Outcome, AgentError> {
    let Handed {
        shown,
        envelope,
        etag,
        digest,
        manifest_digest,
    } = handed;
    let earlier = state.payload_refusals_for(&manifest_digest);
    let mut authenticated = false;
    let mut left_out = LeftOut::default();
    let outcome = client::resending(
        || {
            left_out = LeftOut::default();
            client::install_streamed_marked(
                tee,
                envelope,
                &mut |uri, bound, sink| {
                    fetch_uri(net, &opts.allowed, uri, bound, sink, &mut left_out)
                },
                progress,
                &mut authenticated,
                // Saved durably before the TA may commit, with a copy of the envelope (the
                // one thing that finishes a commit left awaiting it); no InstallFinish
                // without them.
                &mut |prepared| {
                    let copy = in_flight_copy(&opts.state_file);
                    crate::files::replace_file(&copy, envelope, 0o600)
                        .map_err(|e| state_error(&copy, &e, false))?;
                    state.in_flight = Some(InFlight {
                        manifest_digest: manifest_digest.clone(),
                        sequence_number: prepared.sequence_number,
                        envelope_sha256: digest.clone(),
                        etag: etag.clone(),
                    });
                    state.save(&opts.state_file)
                },
            )
        },
        &mut |e, n| {
            log::warn(&format!(
                "{shown}: {e}; handing the same envelope over again ({n} of {})",
                client::MAX_RESENDS
            ))
        },
    )
    // In the words `install` gives it ([`AgentError::explained_with`], its hints).
    .map_err(|e| client::install_hints(tee, e.explained_with(envelope)));
    // The TA refused for the payload URI it names, one left out ([`LeftOut::named`]): one
    // the server said it does not have (404, 410) may not be published yet, so never a
    // verdict, retried as a payload refusal is; one the agent does not fetch is a verdict
    // (under these prefixes if it is outside them). Either way the TA finished and keeps its
    // report of the attempt.
    let not_given = outcome.as_ref().err().and_then(|e| left_out.named(e));
    // A refusal of the fetched payload bytes (not part of the envelope, and they may be right
    // next time) is reported but not recorded as a decision about the envelope.
    let mut decided = true;
    // A refusal before the TA's authentication check leaves no report of this attempt: none
    // is posted (the one the TA holds is an earlier attempt's).
    let mut reported = true;
    let (round, done) = match outcome {
        Ok((_, done)) => {
            // Its count is done with. Nothing else clears one: an envelope that merely claims
            // the digest (refused at authentication) must not reset it.
            if let Some(i) = state.payload_refusals_of(&manifest_digest) {
                state.payload_refusals.remove(i);
            }
            (
                Round::Installed {
                    components: done.components.iter().map(|c| c.to_string()).collect(),
                },
                Some(done),
            )
        }
        // OP-TEE took the update's TA but the TA's state write after it failed: the TA
        // completes the commit before its next command. Not recorded on this answer (its
        // REE files are not in it, and the TA may still find the commit unapplied): the
        // in-flight mark stays and is settled from the TA now, as after a killed round.
        // Applied (exit 5) only if the TA says it completed it; else the device's trouble.
        Err(e) if e.is_commit_pending() => {
            let why = match settle_in_flight(tee, opts, &mut state, true) {
                Ok(Some(Settled::Committed)) => None,
                Ok(Some(Settled::NotCommitted)) => Some(
                    "then did not complete it (OP-TEE refused the kept TA image: the TA is \
                     marked unconfirmed); not applied, the next round hands the envelope \
                     over again"
                        .to_string(),
                ),
                Ok(_) => Some(
                    "and holds no report that says it completed it; the next round hands \
                     the envelope over again"
                        .to_string(),
                ),
                // Not asked further this round: the mark and anything pending stay.
                Err(err) => Some(format!(
                    "and did not say whether it completed it ({err}); the next round asks \
                     again"
                )),
            };
            if state.in_flight.is_none() {
                post_pending(tee, net, opts, &mut state, &mut afterwards);
                write_pending_ree(tee, opts, &mut state, &mut afterwards);
            }
            let round = match why {
                None => Round::Refused(e),
                Some(why) => Round::Unsettled(AgentError::CommitNotCompleted(format!(
                    "the TA left the commit of manifest {manifest_digest} pending {why}"
                ))),
            };
            return Ok(Outcome { round, afterwards });
        }
        Err(e) if e.is_verdict() || not_given.is_some() => {
            reported = e.has_attempt_report();
            // Refused at prepare: after authentication by its fault, unless the envelope does
            // not even decode (then the TA's decode error came before authentication).
            authenticated = authenticated
                || (e.is_refusal_after_authentication()
                    && suit_common::suit::envelope::Envelope::decode(envelope).is_ok());
            let retried = match &not_given {
                Some(named) => !named.is_verdict(),
                None => e.is_about_fetched_payload(),
            };
            if retried {
                decided = false;
                let attempts = earlier.map_or(0, |r| r.attempts).saturating_add(1);
                let skip_rounds = skip_rounds_after(attempts);
                let when = match skip_rounds {
                    0 => "the next round".to_string(),
                    n => format!("the round after {n} skipped"),
                };
                let what = match &not_given {
                    Some(named) => format!("the envelope for a payload not sent ({named})"),
                    None => format!("the payload fetched for this envelope ({e})"),
                };
                log::warn(&format!(
                    "{shown}: the TA refused {what}; attempt {attempts}: {when} hands the \
                     envelope over again"
                ));
                state.keep_payload_refusals(PayloadRefusals {
                    manifest_digest: manifest_digest.clone(),
                    attempts,
                    skip_rounds,
                });
            } else if let Some(i) = state.payload_refusals_of(&manifest_digest) {
                // A verdict the authenticated manifest alone decides ends its count, as an
                // install does; not one about the envelope's other parts (a severed member
                // left out, an integrated payload), which another encoding of the same
                // manifest could give at will to reset the back-off.
                if authenticated && e.is_decided_by_the_manifest() {
                    state.payload_refusals.remove(i);
                }
            }
            (Round::Refused(not_given.unwrap_or(e)), None)
        }
        // Transport failures, a dead TA, or the device's own trouble (storage, key store):
        // nothing recorded, the next round tries again.
        Err(e) => return Err(e),
    };
    // The TA has decided about this envelope: recorded, with its report to post and the
    // approved REE files to write, before anything else can fail, so the same bytes are not
    // handed over again and no approved file is forgotten (a crash before they are written
    // leaves them pending for the next run). A payload refusal records only its report.
    if let (Some(done), Some(_)) = (&done, &opts.ree_root) {
        for path in &done.ree_paths {
            if !state.ree_pending.contains(path) {
                state.ree_pending.push(path.clone());
            }
        }
    }
    // A refusal can leave the commit awaiting this very envelope (a payload not delivered
    // on a re-send): the mark and the copy stay for the next round while the TA says so.
    let digest_bytes = hex::decode(&digest).unwrap_or_default();
    if done.is_none() && client::still_awaits(tee, &digest_bytes) == Some(true) {
        log::warn(&format!(
            "{shown}: the TA still awaits this envelope (sha-256 {digest}) to finish its \
             commit: the next round hands it over again"
        ));
    } else {
        state.in_flight = None;
    }
    if decided {
        // A URI outside the allowed prefixes is a verdict under these prefixes only.
        state.refused_under_allow_list = match &round {
            Round::Refused(e) if e.is_refused_under_allow_list() => {
                Some(opts.allowed.fingerprint())
            }
            _ => None,
        };
        // The ETag names the server's whole resource, which only bytes the TA authenticated
        // are known to be: a refusal before authentication (bytes cut short, say) is a
        // verdict on these bytes (their digest), not on what the ETag names.
        state.etag = if authenticated { etag } else { None };
        state.envelope_sha256 = Some(digest);
    }
    state.report_pending = opts
        .report_url
        .as_ref()
        .filter(|_| reported)
        .map(|_| PendingReport { authenticated });
    if let Err(e) = state.save(&opts.state_file) {
        afterwards.push(e);
    }
    post_pending(tee, net, opts, &mut state, &mut afterwards);
    write_pending_ree(tee, opts, &mut state, &mut afterwards);
    Ok(Outcome { round, afterwards })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure no retry changes stops `poll --interval`; one that may pass does not.
    #[test]
    fn only_lasting_write_errors_stop_polling() {
        use std::io::{Error, ErrorKind};
        let os = |e: rustix::io::Errno| Error::from_raw_os_error(e.raw_os_error());
        for e in [
            rustix::io::Errno::ISDIR,
            rustix::io::Errno::NOTDIR,
            rustix::io::Errno::ACCESS,
            rustix::io::Errno::PERM,
        ] {
            assert!(lasting_write_error(&os(e), false), "{e:?}");
        }
        // A dangling link on the way (create_dir_all: EEXIST), a bind-mounted file (rename:
        // EBUSY), a read-only file system at start: configuration (review s35).
        for e in [rustix::io::Errno::EXIST, rustix::io::Errno::BUSY] {
            assert!(lasting_write_error(&os(e), false), "{e:?}");
        }
        assert!(lasting_write_error(&os(rustix::io::Errno::ROFS), true));
        assert!(lasting_write_error(
            &Error::new(ErrorKind::InvalidInput, "x is a directory"),
            false
        ));
        assert!(lasting_write_error(
            &Error::other("a directory is in the way of the temporary file"),
            false
        ));
        assert!(!lasting_write_error(
            &Error::new(ErrorKind::WouldBlock, "held"),
            false
        ));
        for e in [
            rustix::io::Errno::NOSPC,
            rustix::io::Errno::DQUOT,
            rustix::io::Errno::IO,
            rustix::io::Errno::ROFS,
        ] {
            assert!(!lasting_write_error(&os(e), false), "{e:?}");
        }
        let path = Path::new("/var/lib/suit-agent/poll.json");
        let full = state_error(path, &os(rustix::io::Errno::NOSPC), false);
        assert!(
            matches!(full, AgentError::PollState { lasting: false, .. }),
            "{full:?}"
        );
        assert!(full.to_string().contains("not saved for now"), "{full}");
        let denied = state_error(path, &os(rustix::io::Errno::ACCESS), false);
        assert!(matches!(
            denied,
            AgentError::PollState { lasting: true, .. }
        ));
    }

    /// The back-off doubles and stops at its cap, for any count (no overflow).
    #[test]
    fn payload_retries_back_off_to_a_cap() {
        let skips: Vec<u32> = (1..=8).map(skip_rounds_after).collect();
        assert_eq!(skips, [0, 1, 3, 7, 15, 31, 63, 63]);
        for n in [32, 33, 1000, u32::MAX] {
            assert_eq!(skip_rounds_after(n), MAX_PAYLOAD_SKIP_ROUNDS);
        }
    }

    /// A state file of the release that recorded a third payload refusal as the verdict on
    /// the envelope (its digest and ETag saved, `payload-refusals`) loads with that verdict
    /// undone: digest and ETag forgotten, the count kept (saved as `payload-retries`).
    #[test]
    fn a_payload_verdict_of_the_previous_release_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poll.json");
        let old = serde_json::json!({"url": "u", "etag": "\"e\"", "envelope-sha256": "ab",
            "payload-refusals": [{"manifest-digest": "m", "attempts": 3, "skip-rounds": 0}]});
        std::fs::write(&path, old.to_string()).unwrap();
        let s = PollState::load(&path);
        assert_eq!(
            (s.etag.as_deref(), s.envelope_sha256.as_deref()),
            (None, None)
        );
        assert_eq!(s.payload_refusals.len(), 1);
        assert_eq!(s.payload_refusals[0].attempts, 3);
        s.save(&path).unwrap();
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(saved.get("payload-refusals").is_none(), "{saved}");
        assert_eq!(
            saved["payload-retries"][0]["manifest-digest"], "m",
            "{saved}"
        );

        // Counts short of that release's verdict leave the decision alone.
        let old = serde_json::json!({"url": "u", "etag": "\"e\"", "envelope-sha256": "ab",
            "payload-refusals": [{"manifest-digest": "m", "attempts": 2, "skip-rounds": 1}]});
        std::fs::write(&path, old.to_string()).unwrap();
        let s = PollState::load(&path);
        assert_eq!(s.envelope_sha256.as_deref(), Some("ab"));
        assert_eq!(s.payload_refusals[0].skip_rounds, 1);
    }

    /// A state file of the release that kept one `payload-refused` record loads (the record
    /// ignored); more payload refusals than are kept load as the latest ones.
    #[test]
    fn older_and_oversized_payload_refusals_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poll.json");
        std::fs::write(
            &path,
            r#"{"url": "u", "etag": null, "envelope-sha256": null, "payload-refused":
            {"envelope-sha256": "00", "attempts": 1, "skip-rounds": 0}}"#,
        )
        .unwrap();
        let s = PollState::load(&path);
        assert_eq!(s.url, "u");
        assert!(s.payload_refusals.is_empty());

        let many: Vec<_> = (0..MAX_PAYLOAD_REFUSALS_KEPT + 3)
            .map(|i| {
                serde_json::json!({"manifest-digest": i.to_string(), "attempts": 1,
                    "skip-rounds": 0})
            })
            .collect();
        let state = serde_json::json!({"url": "u", "etag": null, "envelope-sha256": null,
            "payload-retries": many});
        std::fs::write(&path, state.to_string()).unwrap();
        let mut s = PollState::load(&path);
        let kept: Vec<_> = s
            .payload_refusals
            .iter()
            .map(|r| r.manifest_digest.clone())
            .collect();
        let latest: Vec<_> = (3..MAX_PAYLOAD_REFUSALS_KEPT + 3)
            .map(|i| i.to_string())
            .collect();
        assert_eq!(kept, latest);
        // Keeping one again moves it last, still within the bound.
        s.keep_payload_refusals(PayloadRefusals {
            manifest_digest: "5".into(),
            attempts: 2,
            skip_rounds: 1,
        });
        s.keep_payload_refusals(PayloadRefusals {
            manifest_digest: "new".into(),
            attempts: 1,
            skip_rounds: 0,
        });
        assert_eq!(s.payload_refusals.len(), MAX_PAYLOAD_REFUSALS_KEPT);
        assert_eq!(
            s.payload_refusals[MAX_PAYLOAD_REFUSALS_KEPT - 2].manifest_digest,
            "5"
        );
        assert_eq!(s.payload_refusals[0].manifest_digest, "4");
    }
}
