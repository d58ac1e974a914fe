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

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::{log, Conditional, Limit, Location, Net, Sink, ENVELOPE_MEDIA_TYPE, MAX_NONCE};
use crate::client::{self, Progress};
use crate::tee::{AgentError, Transport};

/// Largest envelope fetched (the TA's own limit is the real one).
pub const MAX_ENVELOPE_DOWNLOAD: u64 = 4 * 1024 * 1024;

/// What a poll remembers between rounds (a JSON file).
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PollState {
    /// The envelope URL the rest refers to.
    pub url: String,
    /// The server's entity tag of the envelope last handed to the TA.
    pub etag: Option<String>,
    /// SHA-256 (hex) of the envelope last handed to the TA (installed or refused by it).
    pub envelope_sha256: Option<String>,
}

impl PollState {
    pub fn load(path: &Path) -> PollState {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Written whole to a temporary file and renamed: a crash leaves the old or the new one.
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(self).map_err(|e| AgentError::File(e.to_string()))?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| AgentError::File(format!("{}: {e}", path.display())))
    }
}

pub struct PollOptions {
    /// Firmware server base URL.
    pub base: String,
    pub report_url: Option<String>,
    pub nonce_url: Option<String>,
    pub state_file: PathBuf,
    pub ree_root: Option<PathBuf>,
}

/// What one round did.
#[derive(Debug)]
pub enum Round {
    /// The server has nothing new (304, or the envelope already handed to the TA).
    UpToDate,
    /// Installed; components committed.
    Installed { components: Vec<String> },
    /// The TA refused the envelope (reason); its report was posted if a tracker is set.
    Refused(AgentError),
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

/// Fetches a payload URI the TA named over the network. `poll` reads no local files: an
/// envelope from a server names network resources only (`install` resolves files itself).
/// `authenticated`: the TA's size bound for this URI (the manifest's image size), if any.
pub fn fetch_uri(
    net: &Net,
    uri: &str,
    authenticated: Option<u64>,
    sink: &mut dyn Sink,
) -> Result<bool, AgentError> {
    let limit = Limit::new(net.config().max_payload, authenticated);
    match Location::parse(uri) {
        Location::Http(url) => {
            let n = net.stream(&url, limit, sink)?;
            log::info(&format!("fetched {url} ({n} bytes)"));
            Ok(true)
        }
        Location::File(_) => Err(AgentError::File(format!(
            "the manifest fetches {uri}: poll fetches only http(s) URIs (use install for files)"
        ))),
    }
}

/// The nonce for the report: the tracker's, or 16 fresh random bytes.
fn nonce(net: &Net, url: Option<&str>) -> Result<Vec<u8>, AgentError> {
    let Some(url) = url else {
        let mut n = vec![0u8; 16];
        getrandom::fill(&mut n).map_err(|e| AgentError::File(format!("random nonce: {e}")))?;
        return Ok(n);
    };
    let Conditional::Body { data, .. } = net.get(url, 2 * MAX_NONCE as u64 + 2, "*/*", None)?
    else {
        return Err(AgentError::Network(format!("{url}: no nonce")));
    };
    let text = String::from_utf8_lossy(&data);
    let n = match hex::decode(text.trim()) {
        Ok(n) if !text.trim().is_empty() => n,
        _ => data,
    };
    if n.is_empty() || n.len() > MAX_NONCE {
        return Err(AgentError::Network(format!(
            "{url}: a nonce must be 1..{MAX_NONCE} bytes, got {}",
            n.len()
        )));
    }
    Ok(n)
}

/// The payload of a COSE_Sign1, unverified (only to pick which report to post).
fn sign1_payload(signed: &[u8]) -> Option<Vec<u8>> {
    let value: ciborium::Value = ciborium::de::from_reader(signed).ok()?;
    let inner = match value {
        ciborium::Value::Tag(18, v) => *v,
        v => v,
    };
    match inner {
        ciborium::Value::Array(mut items) if items.len() == 4 => match items.swap_remove(2) {
            ciborium::Value::Bytes(b) => Some(b),
            _ => None,
        },
        _ => None,
    }
}

/// Fetches the TA's signed report of this attempt and posts it. The TA keeps the latest
/// authenticated attempt and the latest one refused before authentication apart; a refusal
/// at prepare may be either, so the authenticated report is taken when its manifest digest
/// is this envelope's claimed digest, else the pre-authentication one.
fn post_report(
    tee: &mut dyn Transport,
    net: &Net,
    opts: &PollOptions,
    envelope: &[u8],
    authenticated: bool,
) -> Result<(), AgentError> {
    let Some(url) = &opts.report_url else {
        return Ok(());
    };
    let nonce = nonce(net, opts.nonce_url.as_deref())?;
    let latest = client::report_of(tee, Some(&nonce), false);
    let report = match latest {
        Ok(r) if authenticated => r,
        Ok(r) => {
            let claimed = suit_common::suit::envelope::Envelope::decode(envelope)
                .ok()
                .map(|e| e.claimed_digest().0);
            let reported = sign1_payload(&r)
                .and_then(|p| suit_common::report::Report::decode(&p).ok())
                .and_then(|rep| rep.manifest_digest);
            if claimed.is_some() && claimed == reported {
                r
            } else {
                client::report_of(tee, Some(&nonce), true)?
            }
        }
        Err(_) if !authenticated => client::report_of(tee, Some(&nonce), true)?,
        Err(e) => return Err(e),
    };
    let code = net.post(url, super::REPORT_MEDIA_TYPE, &report)?;
    log::info(&format!(
        "posted the signed report ({} bytes, nonce {}) to {url}: HTTP {code}",
        report.len(),
        hex::encode(&nonce)
    ));
    Ok(())
}

/// One poll round. The caller holds the agent lock and the TA session.
pub fn poll_once(
    tee: &mut dyn Transport,
    net: &Net,
    opts: &PollOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Round, AgentError> {
    let url = envelope_url(tee, &opts.base)?;
    let mut state = PollState::load(&opts.state_file);
    if state.url != url {
        state = PollState {
            url: url.clone(),
            ..PollState::default()
        };
    }
    log::debug(&format!("polling {url}"));
    let (envelope, etag) = match net.get(
        &url,
        MAX_ENVELOPE_DOWNLOAD,
        ENVELOPE_MEDIA_TYPE,
        state.etag.as_deref(),
    )? {
        Conditional::NotModified => {
            log::info(&format!("{url}: not modified"));
            return Ok(Round::UpToDate);
        }
        Conditional::Body { data, etag } => (data, etag),
    };
    let digest = hex::encode(sha2::Sha256::digest(&envelope));
    if state.envelope_sha256.as_deref() == Some(digest.as_str()) {
        log::info(&format!(
            "{url}: same envelope as last time (sha-256 {digest})"
        ));
        state.etag = etag;
        state.save(&opts.state_file)?;
        return Ok(Round::UpToDate);
    }
    log::info(&format!(
        "{url}: new envelope ({} bytes, sha-256 {digest}); handing it to the TA",
        envelope.len()
    ));
    let mut authenticated = false;
    let outcome = client::install_streamed(
        tee,
        &envelope,
        &mut |uri, bound, sink| fetch_uri(net, uri, bound, sink),
        progress,
        &mut authenticated,
    );
    let round = match outcome {
        Ok((_, done)) => {
            if let Some(root) = &opts.ree_root {
                for path in &done.ree_paths {
                    let (data, d) = client::ree_export(tee, path)?;
                    let dest = crate::ree::write_approved(root, path, &data, &d)?;
                    log::info(&format!("wrote approved REE file {}", dest.display()));
                }
            }
            Round::Installed {
                components: done.components.iter().map(|c| c.to_string()).collect(),
            }
        }
        Err(e @ AgentError::Refused { .. }) => Round::Refused(e),
        Err(e @ AgentError::Status(suit_common::protocol::Status::Refused)) => Round::Refused(e),
        // Transport failures (or a dead TA): nothing recorded, the next round tries again.
        Err(e) => return Err(e),
    };
    // The TA has decided about this envelope: do not hand it the same bytes again.
    state.etag = etag;
    state.envelope_sha256 = Some(digest);
    state.save(&opts.state_file)?;
    post_report(tee, net, opts, &envelope, authenticated)?;
    Ok(round)
}
