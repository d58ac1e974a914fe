//! Dependencies (trust domains): the envelopes held for the run, their authentication, and
//! process-dependency.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::suit::authenticate::{AuthenticatedManifest, Verified};
use crate::suit::digest::Digest;
use crate::suit::envelope::{Envelope, IntegratedPayload};
use crate::suit::error::{CommandErrorKind, Error, Section};
use crate::suit::manifest::Manifest;
use crate::suit::platform::Platform;
use crate::suit::policy::AnchorId;

use crate::suit::words::Words;

use super::{
    component_id, push_once, Fail, Frame, Machine, MAX_DEPENDENCY_BYTES, MAX_DEPENDENCY_DEPTH,
    SIGNATURE_STEPS,
};

impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    /// Trust domains, required checks: at the end of each section of a dependent, the
    /// corresponding section of each dependency (if it has one) has been executed. A
    /// dependency not fetched in this run cannot have been processed: that is left to the
    /// directives that need it. (The other required check, "the dependent populates every
    /// sequence its dependencies have", is not enforced: the firmware-encryption draft's
    /// dependency example has a dependency with a validate section under a dependent
    /// without one.)
    pub(super) fn check_dependencies_processed(
        &mut self,
        frame: &Frame<'_, '_>,
        section: Section,
    ) -> Result<(), Error> {
        for d in &frame.manifest.common.dependencies {
            if frame.processed_dependencies.contains(&d.index) {
                continue;
            }
            component_id(frame, d.index).map_err(|k| Self::err(frame, &[], Some(d.index), k))?;
            let Some((slot, bytes)) = self.dependency_held(frame, d.index) else {
                continue;
            };
            let has_section = match self.authenticate_held(slot, &bytes) {
                Ok(a) => a.manifest.section(section).ok().flatten().is_some(),
                // Refused when processed; not processing it is the failure to report here.
                Err(CommandErrorKind::Dependency(_)) => true,
                Err(k) => return Err(Self::err(frame, &[], Some(d.index), k)),
            };
            if has_section {
                return Err(Self::err(
                    frame,
                    &[],
                    Some(d.index),
                    CommandErrorKind::DependencyNotProcessed,
                ));
            }
        }
        Ok(())
    }

    /// The envelope last fetched for dependency `idx` of `frame`'s manifest: its place in
    /// `dependencies` and its bytes, shared.
    pub(super) fn dependency_held(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
    ) -> Option<(usize, Arc<Vec<u8>>)> {
        let place = dependency_place(frame, idx);
        let slot = self.dependencies.iter().rposition(|h| h.place == place)?;
        let held = self.dependencies.get(slot)?;
        Some((slot, Arc::clone(&held.bytes)))
    }

    /// Decodes and authenticates `bytes`, the envelope held at `slot` of `dependencies`,
    /// against the device's anchors. Its signatures are verified once, each one tried charged
    /// [`SIGNATURE_STEPS`], and its manifest decoded once: both are kept with it (`Held`),
    /// and later calls only decode the envelope again for its integrated payloads. Every
    /// call is charged for decoding (`charge_envelope`); the first decode of the manifest to
    /// the run's [`MAX_DEPENDENCY_BYTES`] ([`DependencyBytes::decode`]).
    pub(super) fn authenticate_held<'b>(
        &mut self,
        slot: usize,
        bytes: &'b [u8],
    ) -> Result<HeldManifest<'b>, CommandErrorKind> {
        self.charge_envelope(bytes.len())?;
        let dep = |e: Error| CommandErrorKind::Dependency(Box::new(e));
        let envelope = Envelope::decode(bytes).map_err(dep)?;
        // The bytes a held entry keeps never change (a re-fetch replaces the entry).
        if let Some(h) = self.dependencies.get(slot) {
            if let (Some((digest, signers)), Some(manifest)) = (&h.verified, &h.decoded) {
                return Ok(HeldManifest {
                    manifest: Arc::clone(manifest),
                    signers: signers.clone(),
                    digest: *digest,
                    integrated: envelope.integrated,
                });
            }
        }
        let known = self.dependencies.get(slot).and_then(|h| h.verified.clone());
        let mut spent = self.dependency_bytes();
        let decoded = spent.decode(envelope, bytes.len(), |envelope| match known {
            Some((digest, signers)) => envelope.verified_before(digest, signers).map_err(dep),
            None => {
                let v = envelope.verify(&self.policy.anchors).map_err(dep)?;
                self.charge(SIGNATURE_STEPS.saturating_mul(v.attempts))?;
                if let Some(h) = self.dependencies.get_mut(slot) {
                    h.verified = Some((v.digest, v.signers.clone()));
                }
                Ok(v)
            }
        });
        // Never refunded, a failed decode's charge included (see MAX_DEPENDENCY_BYTES).
        self.dependency_bytes_decoded = spent.decoded;
        let auth = decoded?;
        let manifest = Arc::new(auth.manifest);
        if let Some(h) = self.dependencies.get_mut(slot) {
            h.decoded = Some(Arc::clone(&manifest));
        }
        Ok(HeldManifest {
            manifest,
            signers: auth.signers,
            digest: auth.digest,
            integrated: auth.integrated,
        })
    }

    pub(super) fn process_dependency(
        &mut self,
        frame: &mut Frame<'_, '_>,
        idx: usize,
        _path: &mut Vec<u16>,
    ) -> Result<(), CommandErrorKind> {
        use CommandErrorKind as K;
        // Trust domains: never in the shared sequence ("Common metadata").
        if frame.section == Section::Shared {
            return Err(K::NotAllowedInShared);
        }
        if frame.manifest.dependency(idx).is_none() {
            return Err(K::NotADependency);
        }
        if !self
            .verified_dependencies
            .contains(&dependency_place(frame, idx))
        {
            return Err(K::DependencyNotVerified);
        }
        if frame.depth >= MAX_DEPENDENCY_DEPTH {
            return Err(K::DependencyTooDeep);
        }
        let (slot, bytes) = self
            .dependency_held(frame, idx)
            .ok_or(K::DependencyNotVerified)?;
        let dep = |e: Error| K::Dependency(Box::new(e));
        // Authenticated against the device's anchors on its own: a dependency signed by a
        // different party is checked against that party's key and permissions.
        let auth = self.authenticate_held(slot, &bytes)?;
        self.policy
            .check_dependency(&auth.manifest, &auth.signers)
            .map_err(|e| dep(Error::Policy(e)))?;
        // A dependency may be re-used by a newer dependent: not older than stored is enough.
        let key = auth.manifest.dependency_rollback_key();
        let stored = self.platform.sequence_number(&key).map_err(K::Platform)?;
        if let Some(s) = stored {
            if auth.manifest.sequence_number < s {
                return Err(dep(Error::Policy(
                    crate::suit::error::PolicyError::Rollback {
                        stored: s,
                        offered: auth.manifest.sequence_number,
                    },
                )));
            }
        }
        if !self.sequence_updates.iter().any(|(k, _, _)| *k == key) {
            self.sequence_updates
                .push((key, auth.manifest.sequence_number, auth.signers.clone()));
        }
        let mut signers = frame.signers.clone();
        for s in &auth.signers {
            push_once(&mut signers, *s);
        }
        let mut sub = Frame {
            walk: dependency_place(frame, idx),
            offset: None,
            manifest: &auth.manifest,
            integrated: &auth.integrated,
            signers,
            own_signers: Arc::from(auth.signers.as_slice()),
            depth: frame.depth + 1,
            section: frame.section,
            processed_dependencies: Vec::new(),
        };
        let section = frame.section;
        match self.run_section_keep(&mut sub, section) {
            Ok(()) => {
                // Once: a loop processing it again must not grow the list (nor every
                // snapshot's copy of it).
                push_once(&mut frame.processed_dependencies, idx);
                Ok(())
            }
            Err(f) => {
                // Trust domains: the dependency's last status is forwarded; an abort in it
                // aborts the dependent, a failed condition is a failed condition there
                // (a dependent's try-each / soft-failure may absorb it).
                self.dependency_condition_failed = matches!(f, Fail::Condition(_));
                Err(dep(f.into_error()))
            }
        }
    }
}

/// A held dependency's authenticated manifest, shared with its `Held` entry.
pub(super) struct HeldManifest<'b> {
    pub(super) manifest: Arc<Manifest>,
    /// Anchors whose block verified.
    pub(super) signers: Vec<AnchorId>,
    pub(super) digest: Digest,
    /// The envelope's integrated payloads (spans of its bytes).
    pub(super) integrated: Vec<IntegratedPayload<'b>>,
}

/// Where dependency `idx` of `frame`'s manifest sits in the dependency tree: its walk.
pub(super) fn dependency_place(frame: &Frame<'_, '_>, idx: usize) -> Vec<u64> {
    let mut at = frame.walk.clone();
    at.push(idx as u64);
    at
}

/// What a run spends of [`MAX_DEPENDENCY_BYTES`]: the dependency envelopes it holds and what
/// decoding them made. The install session's walk of a dependency tree
/// ([`crate::suit::Checked::payload_uris_with_dependencies`]) charges its decodes here too, so
/// that the walk, which runs before the engine, holds no more than the engine would.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DependencyBytes {
    /// Bytes of the dependency envelopes held.
    pub(crate) held: usize,
    /// Bytes charged for decoding them ([`Self::decode`]).
    pub(crate) decoded: usize,
}

impl DependencyBytes {
    /// Bytes left of [`MAX_DEPENDENCY_BYTES`]: the longest envelope that may still be held.
    pub(crate) fn room(&self) -> usize {
        MAX_DEPENDENCY_BYTES.saturating_sub(self.held.saturating_add(self.decoded))
    }

    /// Charges `n` decoded bytes, refused if it would pass the bound.
    fn spend(&mut self, n: usize) -> Result<(), CommandErrorKind> {
        if n > self.room() {
            return Err(CommandErrorKind::Limit(Words::DependencyBytes));
        }
        self.decoded = self.decoded.saturating_add(n);
        Ok(())
    }

    /// Authenticates `envelope`, a dependency envelope of `len` bytes, with `verify`, and
    /// decodes its manifest, charging the decode: the envelope's bytes but its integrated
    /// payloads (which a decode borrows) before it is verified, the decoded commands' and
    /// parameter sets' size (small in bytes, not in heap; known only once decoded, and one
    /// sequence's decode is bounded by `MAX_SEQUENCE_HEAP`) after. What was charged stays
    /// charged when a later step fails.
    pub(crate) fn decode<'b>(
        &mut self,
        envelope: Envelope<'b>,
        len: usize,
        verify: impl FnOnce(Envelope<'b>) -> Result<Verified<'b>, CommandErrorKind>,
    ) -> Result<AuthenticatedManifest<'b>, CommandErrorKind> {
        self.spend(
            envelope
                .integrated
                .iter()
                .fold(len, |n, i| n.saturating_sub(i.bytes.len())),
        )?;
        let auth = verify(envelope)?
            .decode()
            .map_err(|e| CommandErrorKind::Dependency(Box::new(e.into())))?;
        self.spend(auth.manifest.decoded_size())?;
        Ok(auth)
    }
}
