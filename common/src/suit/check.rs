//! Everything decided about an envelope before any command runs, in one place for the engine
//! ([`super::process`]) and the TA's install session (`service::install`, whose `prepare`
//! answers the REE before payloads arrive): decode, authenticate against the policy's anchors,
//! the policy's manifest checks, rollback, and what the authenticated manifest may fetch.
//!
//! Nothing here has a side effect; the stored sequence number is read through a callback so
//! that a caller without a [`super::Platform`] (the install session) runs the same checks.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::authenticate::{AuthenticatedManifest, DecodeError};
use super::envelope::Envelope;
use super::error::{Error, PolicyError};
use super::interpreter::{MAX_DEPENDENCY_DEPTH, MAX_HELD_DEPENDENCIES};
use super::platform::PlatformError;
use super::policy::{self, Policy};
use super::{fetch_bound, update_management, Procedure};

/// An envelope that passed every check before execution.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    /// The authenticated manifest and its signers.
    pub auth: AuthenticatedManifest<'a>,
}

/// Why [`check`] refused, split at authentication: before it nothing of the manifest may be
/// described (a report names the error only); after it the manifest's claims are authentic.
#[derive(Debug)]
#[non_exhaustive]
pub enum Refusal<'a> {
    /// Decoding or authentication failed, or the envelope carries a severed member its
    /// manifest does not vouch for (bytes no signature covers).
    Unauthenticated(Error),
    /// The manifest bytes are authentic (digest and a signature verified) but do not decode
    /// as a manifest this engine runs: its digest and signers are known, nothing else.
    Undecodable(Box<UndecodableManifest>),
    /// The manifest is authentic, but policy or rollback refuses it.
    Refused(Box<RefusedManifest<'a>>),
}

/// An authentic manifest that did not decode, and why.
#[derive(Debug)]
pub struct UndecodableManifest {
    pub digest: crate::suit::digest::Digest,
    pub signers: alloc::vec::Vec<crate::suit::policy::AnchorId>,
    pub error: Error,
}

/// An authentic manifest [`check`] refused, and why.
#[derive(Debug)]
pub struct RefusedManifest<'a> {
    pub auth: AuthenticatedManifest<'a>,
    pub error: Error,
}

impl Refusal<'_> {
    /// The engine's error, wherever it arose.
    pub fn error(&self) -> &Error {
        match self {
            Refusal::Unauthenticated(e) => e,
            Refusal::Undecodable(u) => &u.error,
            Refusal::Refused(r) => &r.error,
        }
    }
}

impl From<Refusal<'_>> for Error {
    fn from(r: Refusal<'_>) -> Self {
        match r {
            Refusal::Unauthenticated(e) => e,
            Refusal::Undecodable(u) => u.error,
            Refusal::Refused(r) => r.error,
        }
    }
}

/// Decodes and authenticates `envelope` against `policy`'s anchors, then applies the policy's
/// manifest checks and the rollback rule of `procedure` (update: newer than stored, plus the
/// update-management policy; invocation: not older). `stored` gives the stored sequence
/// number for a rollback key.
pub fn check<'a>(
    envelope: &'a [u8],
    procedure: Procedure,
    policy: &Policy,
    stored: impl FnOnce(&[u8]) -> Result<Option<u64>, PlatformError>,
) -> Result<Checked<'a>, Refusal<'a>> {
    let verified = Envelope::decode(envelope)
        .and_then(|env| env.verify(&policy.anchors))
        .map_err(Refusal::Unauthenticated)?;
    let (digest, signers) = (verified.digest, verified.signers.clone());
    let auth = verified.decode().map_err(|e| match e {
        DecodeError::Manifest(error) => Refusal::Undecodable(Box::new(UndecodableManifest {
            digest,
            signers,
            error,
        })),
        DecodeError::Envelope(error) => Refusal::Unauthenticated(error),
    })?;
    match after_authentication(&auth, procedure, policy, stored) {
        Ok(()) => Ok(Checked { auth }),
        Err(error) => Err(Refusal::Refused(Box::new(RefusedManifest { auth, error }))),
    }
}

fn after_authentication(
    auth: &AuthenticatedManifest<'_>,
    procedure: Procedure,
    policy: &Policy,
    stored: impl FnOnce(&[u8]) -> Result<Option<u64>, PlatformError>,
) -> Result<(), Error> {
    let manifest = &auth.manifest;
    policy.check_manifest(manifest, &auth.signers)?;
    let stored = stored(&manifest.rollback_key()).map_err(Error::Platform)?;
    match procedure {
        Procedure::Update => {
            policy::check_rollback(stored, manifest.sequence_number)?;
            update_management::check_update(&policy.update_management, manifest)?;
        }
        Procedure::Invoke => {
            if let Some(s) = stored.filter(|s| manifest.sequence_number < *s) {
                return Err(PolicyError::Rollback {
                    stored: s,
                    offered: manifest.sequence_number,
                }
                .into());
            }
        }
    }
    Ok(())
}

impl Checked<'_> {
    /// The detached payload URIs the manifest's parameters name (`#` references and URIs the
    /// envelope carries a payload for excluded), each once, in order of first appearance.
    pub fn payload_uris(&self) -> Vec<String> {
        let mut uris: Vec<String> = Vec::new();
        detached_uris(&self.auth, &mut uris);
        uris
    }

    /// [`Self::payload_uris`] and those of the dependency envelopes the envelope integrates,
    /// nested ones too, within the engine's limits ([`MAX_DEPENDENCY_DEPTH`] deep,
    /// [`MAX_HELD_DEPENDENCIES`] envelopes): a dependency fetches its detached payloads through
    /// the same platform, so the REE must deliver them too. Only an envelope that
    /// authenticates against `policy`'s anchors and that the policy accepts as a dependency is
    /// read, as the engine reads it; any other integrated payload is skipped. A dependency the
    /// REE delivers is not available yet: its URIs cannot be listed (see CONFORMANCE.md).
    pub fn payload_uris_with_dependencies(&self, policy: &Policy) -> Vec<String> {
        let mut uris = self.payload_uris();
        let mut budget = MAX_HELD_DEPENDENCIES;
        dependency_uris(&self.auth, policy, 1, &mut budget, &mut uris);
        uris
    }

    /// The authenticated size bound of each of `uris` (see [`fetch_bound`]); computed on
    /// demand, as only a caller that hands the REE a download list needs it.
    pub fn fetch_bounds(&self, uris: &[String]) -> Vec<Option<u64>> {
        fetch_bound::fetch_bounds(&self.auth.manifest, uris)
    }
}

/// Adds the detached payload URIs `auth`'s parameters name to `uris` (`#` references and URIs
/// its own envelope carries a payload for excluded), each once.
fn detached_uris(auth: &AuthenticatedManifest<'_>, uris: &mut Vec<String>) {
    for seq in auth.manifest.sequences() {
        seq.for_each_parameters(&mut |p| {
            if let Some(uri) = &p.uri {
                let integrated =
                    uri.starts_with('#') || auth.integrated.iter().any(|i| *i.key == **uri);
                if !integrated && !uris.iter().any(|u| **u == **uri) {
                    uris.push(String::from(&**uri));
                }
            }
        });
    }
}

/// Whether `dependent`'s authenticated manifest sets `key` as a URI: an integrated payload
/// it may fetch. No signature covers the integrated payloads, so any other one is bytes
/// whoever relayed the envelope may have added.
fn names_uri(dependent: &AuthenticatedManifest<'_>, key: &str) -> bool {
    let mut named = false;
    for seq in dependent.manifest.sequences() {
        seq.for_each_parameters(&mut |p| {
            named |= p.uri.as_ref().is_some_and(|u| **u == *key);
        });
    }
    named
}

/// Adds the detached URIs of the dependency envelopes `dependent` integrates (at `depth`,
/// and deeper) to `uris`; `budget` counts the envelopes decoded, of at most
/// [`MAX_HELD_DEPENDENCIES`] in all. Only a manifest that declares dependencies is read, and
/// only the payloads it names by URI: unnamed ones (which nothing authenticates) must neither
/// spend the budget nor add URIs, or the list that leaves the TA would depend on them.
/// Parameters are shared across the manifest tree, so a dependency may name another payload
/// of this envelope that the run then processes; that one's URIs are not listed (its payloads
/// must be integrated), which costs availability, never a check.
fn dependency_uris(
    dependent: &AuthenticatedManifest<'_>,
    policy: &Policy,
    depth: u8,
    budget: &mut usize,
    uris: &mut Vec<String>,
) {
    if depth > MAX_DEPENDENCY_DEPTH || dependent.manifest.common.dependencies.is_empty() {
        return;
    }
    for i in dependent.integrated_payloads() {
        if !names_uri(dependent, i.key) {
            continue;
        }
        if *budget == 0 {
            return;
        }
        let Ok(envelope) = Envelope::decode(i.bytes) else {
            continue;
        };
        *budget -= 1;
        let Ok(Ok(auth)) = envelope.verify(&policy.anchors).map(|v| v.decode()) else {
            continue;
        };
        if policy
            .check_dependency(&auth.manifest, &auth.signers)
            .is_ok()
        {
            detached_uris(&auth, uris);
            dependency_uris(&auth, policy, depth + 1, budget, uris);
        }
    }
}
