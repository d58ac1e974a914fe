//! Typed calls over any [`Transport`]: encode the request, interpret slot 0, decode the body.
//! The streaming install lives here too: the agent's whole job is moving these bytes.

use suit_common::protocol::{
    self, AnchorsRequest, AnchorsResponse, ByteBuf, ChunkRequest, Command, DeviceKeyRequest,
    DeviceKeyResponse, InstallAbandonRequest, InstallBeginRequest, InstallFinishRequest,
    InstallFinishResponse, InstallPrepareRequest, InstallPrepareResponse, PayloadChunkRequest,
    PersonalizationRequest, ProvisionRequest, ProvisionResponse, ReeExportRequest, ReplyError,
    ReportRequest, Request, StatusRequest, StatusResponse, MAX_CHUNK, MAX_PAYLOADS, MAX_REQUEST,
    PROTOCOL_VERSION,
};

use crate::tee::{AgentError, Transport};

/// Sends `request` with its command and reads the answer as its response: the protocol's
/// [`Request`] pairs the three, so a request cannot go out under another command or its
/// answer be read as another response. The text commands (heap-scan, crypto-bench) have no
/// [`Request`]: they go through [`Transport::invoke`] with raw bytes.
fn call<Q: Request>(tee: &mut dyn Transport, request: &Q) -> Result<Q::Response, AgentError> {
    let bytes =
        protocol::encode(request).map_err(|_| AgentError::BadResponse("request encoding"))?;
    let reply = tee.invoke(Q::COMMAND, &bytes)?;
    protocol::decode_reply(reply.status, reply.detail, &reply.body).map_err(|e| match e {
        ReplyError::VersionMismatch { ta } => AgentError::VersionMismatch {
            agent: PROTOCOL_VERSION,
            ta,
        },
        ReplyError::Refused(r) => AgentError::Refused {
            kind: r.kind,
            reason: suit_common::fault::render(&r.fault),
            fault: r.fault.into_vec(),
        },
        ReplyError::Status { status, .. } => AgentError::Status(status),
        ReplyError::UnknownStatus(code) => AgentError::UnknownStatus(code),
        ReplyError::Malformed(what) => AgentError::BadResponse(what),
        _ => AgentError::BadResponse("a reply this agent cannot read"),
    })
}

/// `status`: versions, the platform's protections and the TA's public state, the platform's
/// facts judged here (`StatusResponse::assess`: the TA sends no words).
pub fn status(tee: &mut dyn Transport) -> Result<StatusResponse, AgentError> {
    call(tee, &StatusRequest {}).map(StatusResponse::assess)
}

/// The device's public keys (created inside the TA on first use), with `anchor`'s payload
/// keys if asked, and the TA's signed key statement over them.
pub fn device_key(
    tee: &mut dyn Transport,
    anchor: Option<u32>,
) -> Result<DeviceKeyResponse, AgentError> {
    call(tee, &DeviceKeyRequest { anchor })
}

/// Which anchors' keys an install tries, for the decryption hints of [`install_hints`].
const KEYS_TRIED: &str = "Only a signing anchor allowed to decrypt into the component has its \
    keys tried: its scope covers the component, and for an ['ree', ...] one it has \
    ree-plaintext (`suit-agent anchors`)";

/// `e`, the TA's refusal of an install, with what the host can tell of its likely cause
/// (wording only: the kind and fault stay the TA's).
pub fn install_hints(tee: &mut dyn Transport, e: AgentError) -> AgentError {
    if e.awaited_envelope().is_some() {
        return awaiting_hints(e);
    }
    if e.is_hpke_open_failure() {
        return e.with_hint(&format!(
            "encrypt to anchor-N.hpke.pub.pem of the anchor that signs the manifest (from \
             `suit-author verify-key-statement --out-dir`); no other key (its ECDH-ES key, the \
             identity key, another device's) opens it. {KEYS_TRIED}"
        ));
    }
    if e.is_key_unwrap_failure() {
        return e.with_hint(&format!(
            "an ECDH-ES recipient opens only with anchor-N.ecdh.pub.pem of the anchor that \
             signs the manifest (from `suit-author verify-key-statement --out-dir`; a recipient \
             without \"mode\" is ECDH-ES), no other key (its HPKE key, the identity key, \
             another device's); an A128KW/A256KW recipient only with a KEK the TPA provisioned \
             (`add-kek`) for that anchor. {KEYS_TRIED}"
        ));
    }
    if e.is_no_matching_anchor() && status(tee).is_ok_and(|s| s.service.anchors == 0) {
        return e.with_hint(
            "this device has no trust anchors yet: provision one with `suit-agent provision`",
        );
    }
    e
}

/// `e`, a refusal because an interrupted commit awaits its envelope
/// ([`AgentError::awaited_envelope`]), with the ways to end it: the agent's record of the
/// install (`suit-agent resume`), that envelope installed again, or its abandonment. Other
/// errors are returned unchanged.
pub fn awaiting_hints(e: AgentError) -> AgentError {
    let Some(digest) = e.awaited_envelope() else {
        return e;
    };
    let digest = hex::encode(digest);
    e.with_hint(&format!(
        "the TA awaits envelope SHA-256 {digest}: run `suit-agent resume` (which re-installs \
         it if this agent recorded its install), or `suit-agent install` that envelope again, \
         or give the update up with `suit-agent abandon {digest}` (its TA is then marked \
         unconfirmed until an update installs it)"
    ))
}

/// Whether the TA still awaits the envelope of SHA-256 `digest` (an install of it just
/// failed), as status says: a refusal at any step of a re-send (a payload not delivered, a
/// state write uncertain) leaves the commit awaiting it, so only status tells whether a copy
/// of it is still needed. `None` when status cannot say: it fails, or the TA cannot read its
/// state (its journal, which names the awaited envelope, is then unknown).
pub fn still_awaits(tee: &mut dyn Transport, digest: &[u8]) -> Option<bool> {
    let s = status(tee).ok()?.service;
    if s.awaiting_envelope.as_deref().map(Vec::as_slice) == Some(digest) {
        return Some(true);
    }
    s.state_error.is_none().then_some(false)
}

/// How many times an install whose InstallFinish the TA answered with
/// `CommitRefusal::AwaitingEnvelope` is sent again, whole, by [`resending`].
pub const MAX_RESENDS: u32 = 2;

/// Runs `attempt` (one whole install of an envelope: begin, envelope, prepare, payloads,
/// finish) and runs it again, at most [`MAX_RESENDS`] more times, while the TA answers that
/// the commit awaits that same envelope ([`AgentError::awaiting_commit`]): sent again, it
/// finishes the commit. `again` is told each such answer and the number of the sending
/// about to follow (1 to [`MAX_RESENDS`]). The last answer is returned, whatever it is.
pub fn resending<T>(
    mut attempt: impl FnMut() -> Result<T, AgentError>,
    again: &mut dyn FnMut(&AgentError, u32),
) -> Result<T, AgentError> {
    let mut sent = 0;
    loop {
        match attempt() {
            Err(e) if e.awaiting_commit().is_some() && sent < MAX_RESENDS => {
                sent += 1;
                again(&e, sent);
            }
            done => return done,
        }
    }
}

/// Ends the commit awaiting the envelope of SHA-256 `digest` without applying it
/// (InstallAbandon): the old state stays, the commit's TA marked unconfirmed.
pub fn abandon(tee: &mut dyn Transport, digest: &[u8]) -> Result<(), AgentError> {
    call(
        tee,
        &InstallAbandonRequest {
            envelope: ByteBuf::from(digest.to_vec()),
        },
    )
    .map(drop)
}

/// `e`, the TA's refusal of `device-key --anchor`, with where the anchors are seen: no
/// such anchor is one no provisioning message added (or one removed since).
pub fn device_key_hints(tee: &mut dyn Transport, e: AgentError) -> AgentError {
    use suit_common::fault::ServiceFault;
    if !matches!(e.service_fault(), Some(ServiceFault::NoAnchor(_))) {
        return e;
    }
    if status(tee).is_ok_and(|s| s.service.anchors == 0) {
        return e.with_hint(
            "this device has no trust anchors yet: provision one with `suit-agent provision`, \
             then export its keys with `suit-agent device-key --anchor N --out-dir DIR`",
        );
    }
    e.with_hint("`suit-agent anchors` lists this device's anchors")
}

/// How many approved paths a refused `export` lists.
const EXPORT_LISTED: usize = 5;

/// `e`, the TA's refusal to export `path` (to `root`), with the approved REE files (the
/// installed components the TA classifies as such, from `status`): a path given with the
/// component id's leading `ree/` is named as that, else the first few approved paths are
/// listed.
pub fn export_hints(
    tee: &mut dyn Transport,
    path: &str,
    root: &std::path::Path,
    e: AgentError,
) -> AgentError {
    use suit_common::fault::ServiceFault;
    use suit_common::service::components::{classify, Kind};
    if !matches!(e.service_fault(), Some(ServiceFault::NoReeComponent(_))) {
        return e;
    }
    let Ok(s) = status(tee) else {
        return e;
    };
    let approved: Vec<String> = s
        .service
        .components
        .iter()
        .filter_map(
            |c| match classify(&suit_common::suit::ComponentId::new(&c.id.0)) {
                Ok(Kind::Ree { path }) => Some(path),
                _ => None,
            },
        )
        .collect();
    if let Some(rest) = path.strip_prefix("ree/") {
        if approved.iter().any(|a| a == rest) {
            return e.with_hint(&format!(
                "give the path without the leading 'ree/': `{}`",
                export_command(rest, &shell_word(&root.display().to_string()))
            ));
        }
    }
    if approved.is_empty() {
        return e.with_hint("no REE file is approved on this device");
    }
    let quoted: Vec<String> = approved.iter().map(|a| shell_word(a)).collect();
    e.with_hint(&format!(
        "the approved paths: {}",
        crate::human::first_few(&quoted, EXPORT_LISTED)
    ))
}

/// `e`, the TA's refusal of provisioning `message`, with what the host can tell: for a
/// message bound to another device, that device's key id and this one's.
pub fn provision_hints(tee: &mut dyn Transport, message: &[u8], e: AgentError) -> AgentError {
    if !e.is_wrong_device() {
        return e;
    }
    let theirs = crate::detect::message_body(message).map(|b| b.device);
    let ours = status(tee).ok().and_then(|s| s.service.device_key_kid);
    match (theirs, ours) {
        (Some(theirs), Some(ours)) => e.with_hint(&format!(
            "the message is for the device whose identity key id is {}, this device's is {}",
            suit_common::text::kid(&theirs),
            suit_common::text::kid(&ours)
        )),
        _ => e,
    }
}

/// Relays a TPA-signed provisioning message.
pub fn provision(tee: &mut dyn Transport, message: &[u8]) -> Result<ProvisionResponse, AgentError> {
    tee.screen(crate::tee::Handed::ProvisioningMessage(message))?;
    call(
        tee,
        &ProvisionRequest {
            message: ByteBuf::from(message.to_vec()),
        },
    )
}

pub fn anchors(tee: &mut dyn Transport) -> Result<AnchorsResponse, AgentError> {
    call(tee, &AnchorsRequest {})
}

/// Progress of a streamed install, for a progress bar.
pub enum Progress<'a> {
    Envelope { sent: u64, total: u64 },
    Payload { uri: &'a str, sent: u64, total: u64 },
}

/// Streams `envelope` into the TA, then the payloads the authenticated manifest asks for
/// (looked up with `resolve`), then runs the update.
pub fn install(
    tee: &mut dyn Transport,
    envelope: &[u8],
    resolve: &mut dyn FnMut(&str) -> Result<Vec<u8>, AgentError>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(InstallPrepareResponse, InstallFinishResponse), AgentError> {
    install_available(tee, envelope, &mut |uri| resolve(uri).map(Some), progress)
}

/// Begins an install: sends `envelope` in chunks (reporting progress) and asks the TA to
/// authenticate and prepare it; the answer names the payloads the manifest fetches.
fn send_envelope(
    tee: &mut dyn Transport,
    envelope: &[u8],
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<InstallPrepareResponse, AgentError> {
    tee.screen(crate::tee::Handed::Envelope(envelope))?;
    let total = envelope.len() as u64;
    call(
        tee,
        &InstallBeginRequest {
            envelope_len: total,
        },
    )?;
    let mut offset = 0u64;
    for chunk in envelope.chunks(MAX_CHUNK) {
        call(
            tee,
            &ChunkRequest {
                offset,
                data: ByteBuf::from(chunk.to_vec()),
            },
        )?;
        offset += chunk.len() as u64;
        progress(Progress::Envelope {
            sent: offset,
            total,
        });
    }
    call(tee, &InstallPrepareRequest {})
}

/// The most payload bytes one InstallPayload request for `uri` carries: [`MAX_CHUNK`], less
/// whatever the request's other fields (a long URI above all) take beyond the room
/// [`MAX_REQUEST`] leaves them, measured with the protocol's own encoder on the widest such
/// request (largest offsets, a full chunk), so no chunk is refused as too large.
pub fn payload_chunk_len(uri: &str) -> Result<usize, AgentError> {
    let widest = PayloadChunkRequest {
        uri: uri.to_string(),
        total_len: u64::MAX,
        offset: u64::MAX,
        data: ByteBuf::from(vec![0u8; MAX_CHUNK]),
    };
    let framing = protocol::encode(&widest)
        .map_err(|_| AgentError::BadResponse("request encoding"))?
        .len()
        .saturating_sub(MAX_CHUNK);
    match MAX_REQUEST.saturating_sub(framing).min(MAX_CHUNK) {
        0 => Err(AgentError::BadResponse(
            "a payload URI the TA named is too long to send back in a request",
        )),
        n => Ok(n),
    }
}

/// Looks a payload up by URI; `None`: not available here.
pub type OptionalResolver<'a> = dyn FnMut(&str) -> Result<Option<Vec<u8>>, AgentError> + 'a;

/// [`install`] where `resolve` may answer `None`: that payload is not sent, and the TA
/// refuses the update if (and only if) the manifest's commands really fetch it. Driven by
/// [`install_streamed`], each payload one write of known length.
pub fn install_available(
    tee: &mut dyn Transport,
    envelope: &[u8],
    resolve: &mut OptionalResolver<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(InstallPrepareResponse, InstallFinishResponse), AgentError> {
    let mut fetch = |uri: &str, _bound: Option<u64>, sink: &mut dyn crate::transport::Sink| {
        let Some(data) = resolve(uri)? else {
            return Ok(false);
        };
        sink.begin(Some(data.len() as u64))?;
        sink.write(&data)?;
        sink.finish()?;
        Ok(true)
    };
    install_streamed(tee, envelope, &mut fetch, progress, &mut false)
}

/// Test path (`test-paths` feature, for `suit-agent refused-begin` in the QEMU
/// tests): prepares `envelope` (its payloads integrated), sends a second InstallBegin the TA
/// must refuse (an empty envelope) in the same session, then finishes the first install.
/// Returns the second begin's refusal (`None`: it was accepted) and the result.
#[cfg(feature = "test-paths")]
pub fn install_past_a_refused_begin(
    tee: &mut dyn Transport,
    envelope: &[u8],
) -> Result<(Option<AgentError>, InstallFinishResponse), AgentError> {
    send_envelope(tee, envelope, &mut |_| {})?;
    let refused = call(tee, &InstallBeginRequest { envelope_len: 0 }).err();
    let finished = call(tee, &InstallFinishRequest {})?;
    Ok((refused, finished))
}

/// Largest REE component the agent accepts from the TA (the TA's payload limit).
const MAX_REE_COMPONENT: u64 = suit_common::suit::interpreter::MAX_PAYLOAD_LEN;

/// Whether a finished install replaced the update TA itself. OP-TEE keeps the running
/// instance alive (`TA_FLAG_INSTANCE_KEEP_ALIVE`), so the new version runs after a reboot.
pub fn updated_the_update_ta(done: &InstallFinishResponse) -> bool {
    let Some(own) = suit_common::text::parse_uuid(suit_common::protocol::TA_UUID) else {
        return false;
    };
    done.components
        .iter()
        .any(|c| matches!(c.0.as_slice(), [one] if one.as_slice() == own))
}

/// Streams an approved REE component out of the TA; returns its bytes and SHA-256 as the TA
/// reported it.
pub fn ree_export(tee: &mut dyn Transport, path: &str) -> Result<(Vec<u8>, Vec<u8>), AgentError> {
    let mut data = Vec::new();
    let mut digest = Vec::new();
    loop {
        let r = call(
            tee,
            &ReeExportRequest {
                path: path.to_string(),
                offset: data.len() as u64,
            },
        )?;
        if r.total_len > MAX_REE_COMPONENT {
            return Err(AgentError::BadResponse(
                "REE component larger than the agent accepts",
            ));
        }
        if !digest.is_empty() && digest != r.digest.as_slice() {
            return Err(AgentError::BadResponse(
                "REE component changed during export",
            ));
        }
        digest = r.digest.into_vec();
        if r.data.is_empty() {
            break;
        }
        data.extend_from_slice(&r.data);
        if data.len() as u64 > r.total_len {
            return Err(AgentError::BadResponse(
                "TA sent more than the component's length",
            ));
        }
    }
    Ok((data, digest))
}

/// Writes the approved REE files of a committed install under `root`, each on its own (one
/// that fails does not stop the others). Returns the files written and, if any failed, an
/// [`AgentError::AfterCommit`] naming each with the `suit-agent export` that writes it later:
/// the install itself stands.
pub fn write_approved_files(
    tee: &mut dyn Transport,
    root: &std::path::Path,
    paths: &[String],
) -> (Vec<std::path::PathBuf>, Option<AgentError>) {
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for (path, result) in write_approved_each(tee, root, paths) {
        match result {
            Ok(dest) => written.push(dest),
            Err(e) => failed.push((path, e)),
        }
    }
    (written, after_commit_error(root, &failed, ""))
}

/// Writes each approved REE file of `paths` under `root` (exported from the TA, checked
/// against its digest): every path with where it was written or why not.
pub fn write_approved_each(
    tee: &mut dyn Transport,
    root: &std::path::Path,
    paths: &[String],
) -> Vec<(String, Result<std::path::PathBuf, AgentError>)> {
    paths
        .iter()
        .map(|path| {
            let result = ree_export(tee, path)
                .and_then(|(data, digest)| crate::ree::write_approved(root, path, &data, &digest));
            (path.clone(), result)
        })
        .collect()
}

/// The [`AgentError::AfterCommit`] for approved REE files not written (`None` if none): each
/// with why, and the `suit-agent export` that writes it; `also` is appended (e.g. that a
/// later round retries).
pub fn after_commit_error(
    root: &std::path::Path,
    failed: &[(String, AgentError)],
    also: &str,
) -> Option<AgentError> {
    if failed.is_empty() {
        return None;
    }
    let why: Vec<String> = failed
        .iter()
        .map(|(path, e)| format!("writing {path} failed: {e}"))
        .collect();
    let root = root.display().to_string();
    let how: Vec<String> = failed
        .iter()
        .map(|(path, _)| format!("`{}`", export_command(path, &shell_word(&root))))
        .collect();
    Some(AgentError::AfterCommit(format!(
        "installed, but {}; run {} to write it{also}",
        why.join("; "),
        how.join(", ")
    )))
}

/// The `suit-agent export` that writes the approved REE file `path` under `root` (already a
/// shell word, or a placeholder): the path is the manifest signer's text, so it is quoted
/// ([`shell_word`]) and, when it starts with `-`, put after `--` (never read as an option).
pub fn export_command(path: &str, root: &str) -> String {
    if path.starts_with('-') {
        format!(
            "suit-agent export --ree-root {root} -- {}",
            shell_word(path)
        )
    } else {
        format!("suit-agent export {} --ree-root {root}", shell_word(path))
    }
}

/// `s` as one POSIX shell word: as it is when every character is one no shell treats
/// specially (letters, digits, `_ - . / , : @ % + =`), else in single quotes with each `'` as
/// `'\''`, so text someone else chose (an approved path: any anchor's signer) suggested as a
/// command runs nothing. Control characters stay as they are: the caller escapes what it
/// shows ([`crate::human::printable`]).
pub fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./,:@%+=".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// PersonalizationGet as the normal world (refused by design; see `suit-agent perso-get`).
pub fn personalization(tee: &mut dyn Transport) -> Result<Vec<u8>, AgentError> {
    Ok(call(tee, &PersonalizationRequest {})?.data.into_vec())
}

/// The TA's signed SUIT report of the latest install attempt, over `nonce`.
pub fn report(tee: &mut dyn Transport, nonce: Option<&[u8]>) -> Result<Vec<u8>, AgentError> {
    report_of(tee, nonce, false)
}

/// As [`report`]; with `pre_auth`, the report of the latest attempt refused before its
/// manifest was authenticated (kept apart by the TA).
pub fn report_of(
    tee: &mut dyn Transport,
    nonce: Option<&[u8]>,
    pre_auth: bool,
) -> Result<Vec<u8>, AgentError> {
    let request = ReportRequest {
        nonce: nonce.map(|n| ByteBuf::from(n.to_vec())),
        pre_auth,
    };
    let r = call(tee, &request)?;
    let signed = r.report.into_vec();
    if let Some(asked) = nonce {
        // Not a verification (the tracker verifies the signature): a report over another
        // nonce is never shown or posted as the answer to this request. A report sealed to
        // the status tracker's key (SUIT_Report_COSE_Encrypt0) cannot be read here: the
        // tracker checks its nonce when it opens it.
        let report = match suit_common::report::Report::decode(&signed_report_payload(&signed)?) {
            Err(suit_common::report::ReportError::Encrypted) => return Ok(signed),
            r => r.map_err(|_| AgentError::BadResponse("report does not decode"))?,
        };
        if report.nonce.as_deref() != Some(asked) {
            return Err(AgentError::BadResponse(
                "the TA's report does not carry the nonce it was asked to sign",
            ));
        }
    }
    Ok(signed)
}

/// The payload (the encoded SUIT_Report) of a signed report, unverified: for showing it
/// and checking what the TA was asked for (read with suit-common's COSE reader,
/// [`suit_common::report::unverified_report_payload`]).
pub fn signed_report_payload(signed: &[u8]) -> Result<Vec<u8>, AgentError> {
    use suit_common::report::ReportError;
    suit_common::report::unverified_report_payload(signed)
        .map(<[u8]>::to_vec)
        .map_err(|e| {
            AgentError::BadResponse(match e {
                ReportError::Malformed(_) => "report has no payload",
                ReportError::TooLarge(_) => "report is larger than a signed report may be",
                _ => "report is not a COSE_Sign1",
            })
        })
}

/// Streams one payload into the TA as a [`crate::transport::Sink`]: bytes are sent in
/// [`payload_chunk_len`] pieces as they arrive when the length is known up front; a download
/// of unknown length is held (bounded by the transport's cap) and sent at the end, since the
/// TA needs the total with the first chunk. `begin` again restarts at offset 0, which the TA
/// treats as starting the payload over. The agent's one payload chunker: payloads held whole
/// ([`install`]) go through it too, as one write of known length.
pub struct TaPayloadSink<'a> {
    tee: &'a mut dyn Transport,
    uri: &'a str,
    total: Option<u64>,
    sent: u64,
    buffer: Vec<u8>,
    /// Payload bytes per request ([`payload_chunk_len`] of `uri`).
    chunk: usize,
    progress: &'a mut dyn FnMut(Progress<'_>),
    /// The URIs (and size bounds) the TA's answers added to the install: a dependency
    /// envelope this payload completed lists its own detached payloads.
    added: Vec<(String, Option<u64>)>,
}

impl<'a> TaPayloadSink<'a> {
    pub fn new(
        tee: &'a mut dyn Transport,
        uri: &'a str,
        progress: &'a mut dyn FnMut(Progress<'_>),
    ) -> Result<Self, AgentError> {
        Ok(TaPayloadSink {
            tee,
            uri,
            total: None,
            sent: 0,
            buffer: Vec::new(),
            chunk: payload_chunk_len(uri)?,
            progress,
            added: Vec::new(),
        })
    }

    /// What the TA added to the install while this payload went in (see
    /// [`protocol::PayloadChunkResponse`]), each URI with its size bound.
    pub fn added(&self) -> &[(String, Option<u64>)] {
        &self.added
    }

    /// Keeps what a chunk's answer added: at most [`MAX_PAYLOADS`] URIs, as the TA lists no
    /// more in one install.
    fn note(&mut self, r: protocol::PayloadChunkResponse) -> Result<(), AgentError> {
        for (i, uri) in r.needed_uris.into_iter().enumerate() {
            let bound = r.needed_sizes.get(i).copied().flatten();
            if !self.added.iter().any(|(u, _)| *u == uri) {
                if self.added.len() >= MAX_PAYLOADS {
                    return Err(TOO_MANY_PAYLOADS);
                }
                self.added.push((uri, bound));
            }
        }
        Ok(())
    }

    /// Sends `data` (at most one chunk) at the current offset of a payload of `total` bytes.
    fn send(&mut self, total: u64, data: &[u8]) -> Result<(), AgentError> {
        let req = PayloadChunkRequest {
            uri: self.uri.to_string(),
            total_len: total,
            offset: self.sent,
            data: ByteBuf::from(data.to_vec()),
        };
        let answer = call(self.tee, &req)?;
        self.note(answer)?;
        self.sent += data.len() as u64;
        (self.progress)(Progress::Payload {
            uri: self.uri,
            sent: self.sent,
            total,
        });
        Ok(())
    }
}

impl crate::transport::Sink for TaPayloadSink<'_> {
    fn begin(&mut self, total: Option<u64>) -> Result<(), AgentError> {
        self.total = total;
        self.sent = 0;
        self.buffer.clear();
        Ok(())
    }

    /// With the length known, whole chunks go out as soon as they are complete: a chunk
    /// begun by an earlier write is topped up from `data` first, then whole chunks are sent
    /// straight from `data` (a payload held whole is not copied), and the rest is held.
    fn write(&mut self, mut data: &[u8]) -> Result<(), AgentError> {
        let Some(total) = self.total else {
            self.buffer.extend_from_slice(data);
            return Ok(());
        };
        if !self.buffer.is_empty() {
            let n = self.chunk.saturating_sub(self.buffer.len()).min(data.len());
            self.buffer.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buffer.len() < self.chunk {
                return Ok(());
            }
            let full = core::mem::take(&mut self.buffer);
            self.send(total, &full)?;
        }
        while data.len() >= self.chunk {
            let (piece, rest) = data.split_at(self.chunk);
            self.send(total, piece)?;
            data = rest;
        }
        self.buffer.extend_from_slice(data);
        Ok(())
    }

    fn position(&self) -> u64 {
        self.sent + self.buffer.len() as u64
    }

    fn finish(&mut self) -> Result<(), AgentError> {
        let total = self.total.unwrap_or(self.position());
        if total == 0 {
            let answer = call(
                self.tee,
                &PayloadChunkRequest {
                    uri: self.uri.to_string(),
                    total_len: 0,
                    offset: 0,
                    data: ByteBuf::new(),
                },
            )?;
            self.note(answer)?;
            return Ok(());
        }
        let held = core::mem::take(&mut self.buffer);
        for piece in held.chunks(self.chunk) {
            self.send(total, piece)?;
        }
        Ok(())
    }
}

/// The TA listed more payloads than one install has ([`MAX_PAYLOADS`]): a TA that keeps
/// adding URIs would otherwise have the agent fetch for ever.
const TOO_MANY_PAYLOADS: AgentError =
    AgentError::BadResponse("the TA listed more payloads than one install has");

/// Fetches one payload URI into the sink, given the TA's authenticated size bound for it (the
/// manifest's image size; `None`: the manifest gives none); `Ok(false)`: not available here
/// (not sent; the TA refuses the update only if the manifest really fetches it).
pub type PayloadFetcher<'a> =
    dyn FnMut(&str, Option<u64>, &mut dyn crate::transport::Sink) -> Result<bool, AgentError> + 'a;

/// As [`install_available`], with payloads streamed into the TA by `fetch` as they arrive
/// (network downloads). `authenticated` is set once the TA has authenticated the manifest
/// (so a caller knows which report describes a failure).
pub fn install_streamed(
    tee: &mut dyn Transport,
    envelope: &[u8],
    fetch: &mut PayloadFetcher<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
    authenticated: &mut bool,
) -> Result<(InstallPrepareResponse, InstallFinishResponse), AgentError> {
    install_streamed_marked(tee, envelope, fetch, progress, authenticated, &mut |_| {
        Ok(())
    })
}

/// [`install_streamed`], `listed` set to every URI the TA listed once it authenticated the
/// manifest (all of them, also when fetching one of them fails), before any is fetched, and
/// extended by those a delivered dependency envelope added.
pub fn install_streamed_listed(
    tee: &mut dyn Transport,
    envelope: &[u8],
    fetch: &mut PayloadFetcher<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
    authenticated: &mut bool,
    listed: &mut Vec<String>,
) -> Result<(InstallPrepareResponse, InstallFinishResponse), AgentError> {
    install_core(
        tee,
        envelope,
        fetch,
        progress,
        authenticated,
        listed,
        &mut |_| Ok(()),
    )
}

/// As [`install_streamed`], calling `before_finish` with what the TA prepared once every
/// payload is in and just before InstallFinish (the step that commits): `poll` saves its
/// in-flight mark there. Its error is returned without asking the TA to finish.
pub fn install_streamed_marked(
    tee: &mut dyn Transport,
    envelope: &[u8],
    fetch: &mut PayloadFetcher<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
    authenticated: &mut bool,
    before_finish: &mut dyn FnMut(&InstallPrepareResponse) -> Result<(), AgentError>,
) -> Result<(InstallPrepareResponse, InstallFinishResponse), AgentError> {
    install_core(
        tee,
        envelope,
        fetch,
        progress,
        authenticated,
        &mut Vec::new(),
        before_finish,
    )
}

/// [`install_streamed_marked`] and [`install_streamed_listed`] in one: `listed` as the
/// latter sets it, `before_finish` called as the former calls it.
pub fn install_core(
    tee: &mut dyn Transport,
    envelope: &[u8],
    fetch: &mut PayloadFetcher<'_>,
    progress: &mut dyn FnMut(Progress<'_>),
    authenticated: &mut bool,
    listed: &mut Vec<String>,
    before_finish: &mut dyn FnMut(&InstallPrepareResponse) -> Result<(), AgentError>,
) -> Result<(InstallPrepareResponse, InstallFinishResponse), AgentError> {
    *authenticated = false;
    listed.clear();
    let mut prepared = send_envelope(tee, envelope, progress)?;
    *authenticated = true;
    if prepared.needed_uris.len() > MAX_PAYLOADS {
        return Err(TOO_MANY_PAYLOADS);
    }
    listed.clone_from(&prepared.needed_uris);
    // An older TA sends no bounds: then none applies but the caller's cap.
    prepared
        .needed_sizes
        .resize(prepared.needed_uris.len(), None);
    // Only the URIs the TA named after authenticating the manifest are fetched: those prepare
    // listed, then those a dependency envelope among them added once it arrived (the TA
    // authenticated it first), a work list until nothing new comes (at most MAX_PAYLOADS in
    // all, as the TA lists no more); each fetched as the prepared ones are, by `fetch`, under
    // the same rules. The response returned lists them all.
    let mut next = 0;
    while let Some(uri) = prepared.needed_uris.get(next).cloned() {
        let bound = prepared.needed_sizes.get(next).copied().flatten();
        next += 1;
        let mut sink = TaPayloadSink::new(tee, &uri, progress)?;
        fetch(&uri, bound, &mut sink)?;
        for (added, bound) in sink.added() {
            if !prepared.needed_uris.contains(added) {
                if prepared.needed_uris.len() >= MAX_PAYLOADS {
                    return Err(TOO_MANY_PAYLOADS);
                }
                prepared.needed_uris.push(added.clone());
                prepared.needed_sizes.push(*bound);
                listed.push(added.clone());
            }
        }
    }
    before_finish(&prepared)?;
    let finished = call(tee, &InstallFinishRequest {})?;
    Ok((prepared, finished))
}

/// `heap-scan` (test builds of the TA only): how often `control` and each needle occur in the
/// TA's heap arena and in the dead part of its stack ([`protocol::heap_scan`]), as (heap,
/// stack) pairs, the control's first.
pub fn heap_scan(
    tee: &mut dyn Transport,
    control: &[u8; protocol::heap_scan::CONTROL_LEN],
    needles: &[&[u8]],
) -> Result<Vec<(u32, u32)>, AgentError> {
    let request = protocol::heap_scan::encode(control, needles).ok_or_else(|| {
        AgentError::File(format!(
            "heap-scan takes at most {} needles of {} to {} bytes",
            protocol::heap_scan::MAX_NEEDLES,
            protocol::heap_scan::MIN_NEEDLE,
            protocol::heap_scan::MAX_NEEDLE
        ))
    })?;
    let reply = tee.invoke(Command::HeapScan, &request)?;
    match protocol::Status::from_code(reply.status) {
        Some(protocol::Status::Ok) => {
            let pair = |l: &str| {
                let (h, s) = l.split_once(' ')?;
                Some((h.parse().ok()?, s.parse().ok()?))
            };
            let counts: Option<Vec<(u32, u32)>> = std::str::from_utf8(&reply.body)
                .ok()
                .and_then(|t| t.lines().map(pair).collect());
            counts
                .filter(|c| c.len() == needles.len() + 1)
                .ok_or(AgentError::BadResponse(
                    "heap-scan reply is not one count per needle",
                ))
        }
        Some(status) => Err(AgentError::Status(status)),
        None => Err(AgentError::UnknownStatus(reply.status)),
    }
}

/// `crypto-bench` (test builds of the TA only): the request and the reply are text
/// (`suit_common::crypto::bench`), not CBOR.
pub fn crypto_bench(tee: &mut dyn Transport, request: &[u8]) -> Result<String, AgentError> {
    let reply = tee.invoke(Command::CryptoBench, request)?;
    match protocol::Status::from_code(reply.status) {
        Some(protocol::Status::Ok) => String::from_utf8(reply.body)
            .map_err(|_| AgentError::BadResponse("crypto-bench reply is not UTF-8")),
        Some(status) => Err(AgentError::Status(status)),
        None => Err(AgentError::UnknownStatus(reply.status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tee::RawReply;
    use suit_common::protocol::Empty;
    use suit_common::suit::ComponentId;

    /// A TA stand-in that holds requests to [`MAX_REQUEST`] as the TA does, names one payload
    /// URI at prepare and collects that payload's chunks.
    struct Receiver {
        uri: String,
        payload: Vec<u8>,
        largest: usize,
        /// Each payload chunk's length, in order.
        sizes: Vec<usize>,
        /// The payload's length every chunk must carry.
        expected: u64,
    }

    impl Receiver {
        fn new(uri: &str, expected: usize) -> Self {
            Receiver {
                uri: uri.to_string(),
                payload: vec![],
                largest: 0,
                sizes: vec![],
                expected: expected as u64,
            }
        }
    }

    impl Transport for Receiver {
        fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
            if request.len() > MAX_REQUEST {
                return Ok(RawReply {
                    status: protocol::Status::RequestTooLarge as u32,
                    detail: MAX_REQUEST as u32,
                    body: vec![],
                });
            }
            self.largest = self.largest.max(request.len());
            let body = match command {
                Command::InstallPayload => {
                    let r: PayloadChunkRequest = protocol::decode(request, MAX_REQUEST).unwrap();
                    assert_eq!(
                        (r.uri.as_str(), r.offset),
                        (self.uri.as_str(), self.payload.len() as u64)
                    );
                    assert_eq!(r.total_len, self.expected);
                    self.payload.extend_from_slice(&r.data);
                    self.sizes.push(r.data.len());
                    protocol::encode(&Empty {})
                }
                Command::InstallPrepare => protocol::encode(&InstallPrepareResponse {
                    needed_uris: vec![self.uri.clone()],
                    sequence_number: 1,
                    signers: vec![1],
                    needed_sizes: vec![None],
                }),
                Command::InstallFinish => protocol::encode(&finished()),
                _ => protocol::encode(&Empty {}),
            }
            .unwrap();
            Ok(ok_reply(body))
        }
    }

    /// The stand-ins' answer of status Ok carrying `body`.
    fn ok_reply(body: Vec<u8>) -> RawReply {
        RawReply {
            status: protocol::Status::Ok as u32,
            detail: body.len() as u32,
            body,
        }
    }

    /// The stand-ins' finish: sequence number 1 by anchor 1, nothing installed.
    fn finished() -> InstallFinishResponse {
        InstallFinishResponse {
            sequence_number: 1,
            signers: vec![1],
            components: vec![],
            manifest_digest: Default::default(),
            ree_paths: vec![],
        }
    }

    /// A TA stand-in that lists `prepared` URIs at prepare and answers each payload chunk
    /// with `per_chunk` URIs it never named before, as a buggy or hostile TA might: without a
    /// cap the agent's work list never ends (it stops after `limit` URIs, so a test fails
    /// rather than hangs).
    struct Lister {
        prepared: usize,
        per_chunk: usize,
        named: usize,
        limit: usize,
        fetched: Vec<String>,
    }

    impl Lister {
        fn new(prepared: usize, per_chunk: usize) -> Self {
            Lister {
                prepared,
                per_chunk,
                named: 0,
                limit: 64,
                fetched: vec![],
            }
        }

        fn name(&mut self, n: usize) -> Vec<String> {
            let first = self.named;
            self.named = (first + n).min(self.limit);
            (first..self.named)
                .map(|i| format!("https://x/{i}"))
                .collect()
        }
    }

    impl Transport for Lister {
        fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
            let body = match command {
                Command::InstallPrepare => {
                    let uris = self.name(self.prepared);
                    protocol::encode(&InstallPrepareResponse {
                        needed_sizes: vec![None; uris.len()],
                        needed_uris: uris,
                        sequence_number: 1,
                        signers: vec![1],
                    })
                }
                Command::InstallPayload => {
                    let r: PayloadChunkRequest = protocol::decode(request, MAX_REQUEST).unwrap();
                    self.fetched.push(r.uri);
                    let uris = self.name(self.per_chunk);
                    protocol::encode(&protocol::PayloadChunkResponse {
                        needed_sizes: vec![None; uris.len()],
                        needed_uris: uris,
                    })
                }
                Command::InstallFinish => protocol::encode(&finished()),
                _ => protocol::encode(&Empty {}),
            }
            .unwrap();
            Ok(ok_reply(body))
        }
    }

    /// Review s38: the agent fetched every URI a payload chunk's answer added, with no end:
    /// a TA adding a new one per chunk kept it fetching for ever. One install lists at most
    /// `MAX_PAYLOADS` (the protocol's, which the TA holds to): a TA listing more, at prepare,
    /// over several answers or in one, is a malformed response, and nothing beyond the cap
    /// is fetched. At the cap the install goes through.
    #[test]
    fn a_ta_listing_more_payloads_than_an_install_has_is_refused() {
        let many = AgentError::BadResponse("the TA listed more payloads than one install has");
        for (prepared, per_chunk) in [(1, 1), (MAX_PAYLOADS + 1, 0), (1, MAX_PAYLOADS)] {
            let mut ta = Lister::new(prepared, per_chunk);
            let r = install(&mut ta, b"envelope", &mut |_| Ok(vec![1]), &mut |_| {});
            let e = r.err().map(|e| e.to_string());
            assert_eq!(e, Some(many.to_string()), "{prepared} {per_chunk}");
            assert!(ta.fetched.len() <= MAX_PAYLOADS, "{:?}", ta.fetched);
        }
        let mut ta = Lister::new(1, 1);
        ta.limit = MAX_PAYLOADS;
        let (prepared, _) =
            install(&mut ta, b"envelope", &mut |_| Ok(vec![1]), &mut |_| {}).unwrap();
        assert_eq!(prepared.needed_uris.len(), MAX_PAYLOADS);
        assert_eq!(ta.fetched, prepared.needed_uris);
    }

    /// A TA stand-in whose report is signed over `nonce`, whatever it is asked for.
    struct StaleReporter {
        nonce: Option<Vec<u8>>,
    }

    impl Transport for StaleReporter {
        fn invoke(&mut self, command: Command, _: &[u8]) -> Result<RawReply, AgentError> {
            assert_eq!(command, Command::Report);
            let report = suit_common::report::Report {
                manifest_uri: None,
                manifest_digest: Some([7; 32]),
                nonce: self.nonce.clone(),
                entries: vec![],
                result: suit_common::report::ReportResult::Success,
                sequence_number: Some(1),
                dropped_records: 0,
                has_capability_report: false,
                other_manifest_digest: None,
                authenticated: Some(true),
                device_state: None,
            };
            let key = p256::SecretKey::from_slice(&[0x11; 32]).unwrap();
            let body = protocol::encode(&suit_common::protocol::ReportResponse {
                report: ByteBuf::from(report.sign(&key).unwrap()),
            })
            .unwrap();
            Ok(ok_reply(body))
        }
    }

    /// A report over another nonce (or none) is never handed on as the answer to a request
    /// with a nonce (`suit-agent report --nonce`, poll's post); without one, any is.
    #[test]
    fn a_report_over_another_nonce_is_not_passed_on() {
        let asked = [0xab; 16];
        for stale in [Some(vec![0xcd; 16]), None] {
            let mut ta = StaleReporter { nonce: stale };
            let e = report(&mut ta, Some(&asked)).unwrap_err();
            assert!(e.to_string().contains("nonce it was asked"), "{e}");
            assert!(report(&mut ta, None).is_ok());
        }
        let mut ta = StaleReporter {
            nonce: Some(asked.to_vec()),
        };
        assert!(report(&mut ta, Some(&asked)).is_ok());
    }

    /// A signed report's payload is read with suit-common's COSE reader: the report itself
    /// from a valid one (tagged or not), a typed error (never a panic) from anything else.
    #[test]
    fn a_signed_reports_payload_is_read_or_refused() {
        let mut ta = StaleReporter {
            nonce: Some(vec![1; 8]),
        };
        let signed = report(&mut ta, None).unwrap();
        let payload = signed_report_payload(&signed).unwrap();
        let decoded = suit_common::report::Report::decode(&payload).unwrap();
        assert_eq!(decoded.nonce.as_deref(), Some(&[1u8; 8][..]));
        // Untagged (a bare COSE_Sign1 array): the same payload.
        assert_eq!(signed[0], 0xd2, "tag 18");
        assert_eq!(signed_report_payload(&signed[1..]).unwrap(), payload);

        let says = |bytes: &[u8], what: &str| match signed_report_payload(bytes) {
            Err(AgentError::BadResponse(m)) => assert_eq!(m, what, "{bytes:02x?}"),
            other => panic!("{bytes:02x?}: {other:?}"),
        };
        let not_sign1 = "report is not a COSE_Sign1";
        says(&[], not_sign1);
        says(&[0xff], not_sign1);
        says(&signed[..signed.len() - 1], not_sign1);
        says(&[&signed[..], &[0x00]].concat(), not_sign1);
        // Another COSE structure (COSE_Mac0's tag), a three-item array, a map.
        says(&[&[0xd1], &signed[1..]].concat(), not_sign1);
        says(&[0x83, 0x40, 0xa0, 0x40], not_sign1);
        says(&[0xa0], not_sign1);
        // A detached payload (nil), as a manifest's COSE_Sign1 has.
        says(
            &[0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40],
            "report has no payload",
        );
        let big = vec![0u8; suit_common::report::MAX_SIGNED_REPORT_LEN + 1];
        says(&big, "report is larger than a signed report may be");
    }

    /// A payload URI of several KiB (more than MAX_REQUEST leaves beside a full chunk) still
    /// streams: every request fits, on both paths (files held whole, downloads as a sink).
    #[test]
    fn payload_chunks_leave_room_for_a_long_uri() {
        let uri = format!("https://example.com/{}", "u".repeat(6000));
        let data: Vec<u8> = (0..3 * MAX_CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let mut ta = Receiver::new(&uri, data.len());
        install(&mut ta, b"envelope", &mut |_| Ok(data.clone()), &mut |_| {}).unwrap();
        assert_eq!(ta.payload, data);
        assert!(
            ta.largest <= MAX_REQUEST && ta.largest > MAX_REQUEST - 64,
            "{}",
            ta.largest
        );

        let mut ta = Receiver::new(&uri, data.len());
        let mut progress = |_: Progress<'_>| {};
        let mut sink = TaPayloadSink::new(&mut ta, &uri, &mut progress).unwrap();
        use crate::transport::Sink as _;
        sink.begin(Some(data.len() as u64)).unwrap();
        for piece in data.chunks(100_000) {
            sink.write(piece).unwrap();
        }
        sink.finish().unwrap();
        drop(sink);
        assert_eq!(ta.payload, data);
        assert!(ta.largest <= MAX_REQUEST);

        // A short URI keeps whole chunks; one too long for any request is named.
        assert_eq!(
            payload_chunk_len("https://example.com/fw").unwrap(),
            MAX_CHUNK
        );
        assert!(payload_chunk_len(&"u".repeat(MAX_REQUEST)).is_err());
    }

    /// Both install paths chunk a payload alike (the files held whole go through the sink
    /// too): full chunks at contiguous offsets, the rest last, however the bytes arrive; an
    /// empty payload is one empty chunk.
    #[test]
    fn payloads_are_chunked_alike_however_they_arrive() {
        use crate::transport::Sink as _;
        let uri = "#fw";
        let n = 2 * MAX_CHUNK + 5;
        let data: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        let full = vec![MAX_CHUNK, MAX_CHUNK, 5];
        let mut ta = Receiver::new(uri, n);
        install(&mut ta, b"envelope", &mut |_| Ok(data.clone()), &mut |_| {}).unwrap();
        assert_eq!((&ta.payload, &ta.sizes), (&data, &full));
        // Streamed in pieces that straddle chunk boundaries, known length or not.
        for total in [Some(n as u64), None] {
            let mut ta = Receiver::new(uri, n);
            let mut sent = vec![];
            let mut progress = |p: Progress<'_>| {
                if let Progress::Payload { sent: s, .. } = p {
                    sent.push(s)
                }
            };
            let mut sink = TaPayloadSink::new(&mut ta, uri, &mut progress).unwrap();
            sink.begin(total).unwrap();
            let mut rest = data.as_slice();
            for len in [1, MAX_CHUNK - 2, 3, MAX_CHUNK + 7, 0].into_iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, tail) = rest.split_at(len.min(rest.len()));
                sink.write(piece).unwrap();
                rest = tail;
                assert_eq!(sink.position(), (n - rest.len()) as u64);
            }
            sink.finish().unwrap();
            drop(sink);
            assert_eq!((&ta.payload, &ta.sizes), (&data, &full), "{total:?}");
            assert_eq!(sent, [MAX_CHUNK, 2 * MAX_CHUNK, n].map(|s| s as u64));
        }
        let mut ta = Receiver::new(uri, 0);
        install(&mut ta, b"envelope", &mut |_| Ok(vec![]), &mut |_| {}).unwrap();
        assert_eq!(ta.sizes, [0]);
    }

    /// The agent's check matches the update TA's own component (its UUID alone), and
    /// nothing else.
    #[test]
    fn the_update_tas_own_component_is_recognised() {
        let uuid = uuid::Uuid::parse_str(suit_common::protocol::TA_UUID).unwrap();
        let own = ComponentId::new(&[uuid.as_bytes().as_slice()]);
        let other = ComponentId::new(&[&[0x5e; 16][..]]);
        let done = |c: &ComponentId| InstallFinishResponse {
            sequence_number: 1,
            signers: vec![1],
            components: vec![suit_common::protocol::ComponentPath(
                suit_common::service::state::segments_of(c),
            )],
            manifest_digest: Default::default(),
            ree_paths: vec![],
        };
        assert!(updated_the_update_ta(&done(&own)));
        assert!(!updated_the_update_ta(&done(&other)));
        let perso = ComponentId::new(&[uuid.as_bytes().as_slice(), b"perso"]);
        assert!(!updated_the_update_ta(&done(&perso)));
    }

    /// A suggested export takes the signer's path as one shell word, never as an option.
    #[test]
    fn an_export_command_quotes_the_path() {
        assert_eq!(
            export_command("etc/app.conf", "ree"),
            "suit-agent export etc/app.conf --ree-root ree"
        );
        assert_eq!(
            export_command("a b'$(x)", "'r d'"),
            r"suit-agent export 'a b'\''$(x)' --ree-root 'r d'"
        );
        assert_eq!(
            export_command("-rf", "ree"),
            "suit-agent export --ree-root ree -- -rf"
        );
        assert_eq!(shell_word(""), "''");
    }
}
