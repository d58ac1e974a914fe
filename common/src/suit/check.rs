//! Everything decided about an envelope before any command runs, in one place for the engine
//! ([`super::process`]) and the TA's install session (`service::install`, whose `prepare`
//! answers the REE before payloads arrive): decode, authenticate against the policy's anchors,
//! the policy's manifest checks, rollback, and what the authenticated manifest may fetch.
//!
//! Nothing here has a side effect; the stored sequence number is read through a callback so
//! that a caller without a [`super::Platform`] (the install session) runs the same checks.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::authenticate::{AuthenticatedManifest, DecodeError};
use super::digest::Digest;
use super::envelope::Envelope;
use super::envelope::MAX_ENVELOPE_LEN;
use super::error::CommandErrorKind;
use super::error::{Error, PolicyError};
use super::interpreter::{DependencyBytes, MAX_DEPENDENCY_DEPTH, MAX_HELD_DEPENDENCIES};
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
        let mut uris = Vec::new();
        detached_uris(&self.auth, &mut uris, usize::MAX);
        uris.iter().map(|u| String::from(&**u)).collect()
    }

    /// [`Self::payload_uris`] and those of the dependency envelopes the manifest tree reads,
    /// nested ones too, within the engine's limits ([`MAX_DEPENDENCY_DEPTH`] deep,
    /// [`MAX_HELD_DEPENDENCIES`] envelopes, and the run's dependency bytes charged as the
    /// engine charges them, `DependencyBytes`: the delivered envelopes held and each decode,
    /// while its manifest is read): a dependency fetches its detached payloads through the
    /// same platform, so the REE must deliver them too. A dependency envelope is one the
    /// envelope integrates, or one `delivered` holds for a URI a dependent names (the REE
    /// delivers it as a payload: none before any payload arrives, see [`Delivered`]). Only
    /// an envelope whose manifest digest its authenticated dependent sets as an image digest
    /// is read (any other bytes change nothing in the answer, not even what the walk may
    /// still spend), and only one that then authenticates against `policy`'s anchors and
    /// that the policy accepts as a dependency adds URIs, as the engine reads it.
    pub fn payload_uris_with_dependencies(
        &self,
        policy: &Policy,
        delivered: &mut dyn Delivered,
    ) -> Vec<String> {
        let mut walk = Walk {
            policy,
            delivered,
            envelopes: MAX_HELD_DEPENDENCIES,
            bytes: DependencyBytes::default(),
            uris: Vec::new(),
        };
        detached_uris(&self.auth, &mut walk.uris, WALK_URIS);
        walk.dependencies_of(&self.auth, 1, &[]);
        walk.uris.iter().map(|u| String::from(&**u)).collect()
    }

    /// The authenticated size bound of each of `uris` (see [`fetch_bound`]); computed on
    /// demand, as only a caller that hands the REE a download list needs it.
    pub fn fetch_bounds(&self, uris: &[String]) -> Vec<Option<u64>> {
        fetch_bound::fetch_bounds(&self.auth.manifest, uris)
    }
}

/// Adds the detached payload URIs `auth`'s parameters name to `uris` (`#` references and URIs
/// its own envelope carries a payload for excluded), each once, until it holds `cap`.
fn detached_uris(auth: &AuthenticatedManifest<'_>, uris: &mut Vec<Arc<str>>, cap: usize) {
    for seq in auth.manifest.sequences() {
        seq.for_each_parameters(&mut |p| {
            if let Some(uri) = p.uri.as_ref().filter(|_| uris.len() < cap) {
                let integrated =
                    uri.starts_with('#') || auth.integrated.iter().any(|i| *i.key == **uri);
                if !integrated && !uris.iter().any(|u| **u == **uri) {
                    uris.push(Arc::clone(uri));
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

/// Where [`Checked::payload_uris_with_dependencies`] finds a dependency envelope that a
/// dependent fetches by URI: among the payloads the REE delivered.
pub trait Delivered {
    /// The complete payload delivered for `uri` as the engine would fetch it, if it is at
    /// most `room` bytes long (and at most [`MAX_ENVELOPE_LEN`]): nothing is read or
    /// allocated for a longer one. Asked only for a URI an authenticated dependent names.
    fn envelope(&mut self, uri: &str, room: usize) -> Option<Vec<u8>>;
}

/// Nothing delivered yet (the REE sends payloads only once prepare has listed them).
impl Delivered for () {
    fn envelope(&mut self, _: &str, _: usize) -> Option<Vec<u8>> {
        None
    }
}

/// The most URIs the dependency walk lists: one more than an install takes, which both
/// callers refuse (prepare as too many, a delivered dependency as adding nothing), so the
/// walk stops there. What it keeps of the manifests it reads (URIs, names to look up) stays
/// this small whatever they name; nothing else of theirs outlives their reading.
const WALK_URIS: usize = crate::protocol::MAX_PAYLOADS + 1;

/// The dependency walk of [`Checked::payload_uris_with_dependencies`]: what it may still
/// spend and what it found.
struct Walk<'p> {
    policy: &'p Policy,
    delivered: &'p mut dyn Delivered,
    /// Envelopes it may still read (as the engine holds at most [`MAX_HELD_DEPENDENCIES`]).
    envelopes: usize,
    /// The delivered envelopes it holds and the decodes of the manifests it is reading
    /// (integrated envelopes are borrowed from the envelope): given back as each is done.
    bytes: DependencyBytes,
    /// At most [`WALK_URIS`]: shared with the decoded manifests, so no URI is copied.
    uris: Vec<Arc<str>>,
}

impl Walk<'_> {
    /// Adds the detached URIs of the dependency envelopes `dependent` reads (at `depth`, and
    /// deeper): those it integrates first, then those `delivered` holds. Only a manifest that
    /// declares dependencies is read, and only the payloads it names by URI: unnamed
    /// integrated ones (which nothing authenticates) must neither spend the budget nor add
    /// URIs, or the list that leaves the TA would depend on them. Parameters are shared
    /// across the manifest tree, so a dependency may name another payload of this envelope
    /// that the run then processes; that one's URIs are not listed (its payloads must be
    /// integrated), which costs availability, never a check. `ancestors`: `dependent`'s
    /// authenticated ancestors (parameters are shared across the tree, so an ancestor may set
    /// the digest of a dependency its dependent names).
    fn dependencies_of<'m>(
        &mut self,
        dependent: &AuthenticatedManifest<'m>,
        depth: u8,
        ancestors: &[&AuthenticatedManifest<'m>],
    ) {
        if depth > MAX_DEPENDENCY_DEPTH || dependent.manifest.common.dependencies.is_empty() {
            return;
        }
        // At most MAX_DEPENDENCY_DEPTH + 1 references: the digests stay in the manifests.
        let mut chain = Vec::with_capacity(ancestors.len().saturating_add(1));
        chain.extend_from_slice(ancestors);
        chain.push(dependent);
        for i in dependent.integrated_payloads() {
            if !names_uri(dependent, i.key) {
                continue;
            }
            if self.done() {
                return;
            }
            self.dependency(i.bytes, &chain, depth);
        }
        // Fetched by URI: the REE's, read once it delivered them. The names come from the
        // authenticated manifest, so this list is bounded by what was authenticated, and by
        // the walk's own bound: past it the answer is refused anyway.
        let mut named = Vec::new();
        detached_uris(dependent, &mut named, WALK_URIS);
        for uri in named {
            if self.done() {
                return;
            }
            let room = self.bytes.room().min(MAX_ENVELOPE_LEN);
            let Some(bytes) = self.delivered.envelope(&uri, room) else {
                continue;
            };
            if bytes.len() > room {
                continue;
            }
            let before = self.bytes;
            self.bytes.held = self.bytes.held.saturating_add(bytes.len());
            self.dependency(&bytes, &chain, depth);
            // Dropped: the room it held is free again.
            self.bytes = before;
        }
    }

    /// Nothing more to read: no envelope left to spend, or more URIs than an install takes.
    fn done(&self) -> bool {
        self.envelopes == 0 || self.uris.len() >= WALK_URIS
    }

    /// Reads `bytes` as a dependency envelope at `depth` if its manifest digest is an image
    /// digest a manifest of `chain` sets ([`sets_image_digest`])
    /// (checked first: bytes no digest names spend nothing): it spends one envelope of the
    /// budget and its decode is charged while it is read; if it authenticates and the policy
    /// accepts it as a dependency, its detached URIs, and its own dependencies', are added.
    fn dependency(&mut self, bytes: &[u8], chain: &[&AuthenticatedManifest<'_>], depth: u8) {
        let Ok(envelope) = Envelope::decode(bytes) else {
            return;
        };
        let digest = Digest::sha256(envelope.manifest_encoded);
        if !chain.iter().any(|m| sets_image_digest(m, &digest)) {
            return;
        }
        self.envelopes = self.envelopes.saturating_sub(1);
        let before = self.bytes;
        let anchors = &self.policy.anchors;
        let decoded = self.bytes.decode(envelope, bytes.len(), |e| {
            e.verify(anchors)
                .map_err(|e| CommandErrorKind::Dependency(Box::new(e)))
        });
        if let Ok(auth) = decoded {
            if self
                .policy
                .check_dependency(&auth.manifest, &auth.signers)
                .is_ok()
            {
                detached_uris(&auth, &mut self.uris, WALK_URIS);
                self.dependencies_of(&auth, depth + 1, chain);
            }
        }
        // Done with its manifest: its decode is given back.
        self.bytes = before;
    }
}

/// Whether `manifest` (authenticated) sets `digest` as an image digest in any parameter set
/// of any sequence: the manifests its dependencies may be (suit-condition-dependency-integrity
/// compares a dependency's manifest digest with the image digest set for its component).
/// Which component a digest is set for is a matter of execution order, so any of them admits
/// an envelope: every one is a manifest its signers named. Read in place, nothing copied.
fn sets_image_digest(manifest: &AuthenticatedManifest<'_>, digest: &Digest) -> bool {
    let mut found = false;
    for seq in manifest.manifest.sequences() {
        seq.for_each_parameters(&mut |p| {
            found |= p.image_digest.as_ref().is_some_and(|d| d.ct_eq(digest));
        });
    }
    found
}
