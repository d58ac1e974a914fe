//! Condition evaluation: each `suit-condition-*` on a component.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::suit::component::ComponentId;
use crate::suit::digest::{Digest, DigestStream};
use crate::suit::envelope::Envelope;
use crate::suit::error::{CommandErrorKind, ConditionKind, ParameterKind};
use crate::suit::platform::{IdentifierKind, Platform, CHUNK_LEN};
use crate::suit::policy::AnchorId;
use crate::suit::update_management::{self as um, UmError};

use super::{
    component_id, dependency::dependency_place, filled, push_once, Failure, Frame, Machine,
    MAX_DEPENDENCY_DEPTH, MAX_PAYLOAD_LEN,
};

impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    pub(super) fn condition(
        &mut self,
        frame: &mut Frame<'_, '_>,
        kind: ConditionKind,
        idx: Option<usize>,
    ) -> Result<(), Failure> {
        use CommandErrorKind as K;
        if kind == ConditionKind::Abort {
            return Err(Failure::Soft(K::ConditionFailed(kind)));
        }
        let Some(idx) = idx else {
            return Err(Failure::Hard(K::MissingComponentIndex));
        };
        let id = component_id(frame, idx).map_err(Failure::Hard)?;
        let held = self.params_of(&id);
        let p = &held.values;
        let failed = Err(Failure::Soft(K::ConditionFailed(kind)));
        let check = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(Failure::Soft(K::ConditionFailed(kind)))
            }
        };
        match kind {
            ConditionKind::VendorIdentifier => {
                let v = p
                    .vendor_id
                    .as_ref()
                    .ok_or(Failure::Soft(K::MissingParameter(ParameterKind::VendorId)))?;
                check(
                    self.platform
                        .identifier_matches(IdentifierKind::Vendor, &id, v.as_bytes()),
                )
            }
            ConditionKind::ClassIdentifier => {
                let v = p
                    .class_id
                    .ok_or(Failure::Soft(K::MissingParameter(ParameterKind::ClassId)))?;
                check(
                    self.platform
                        .identifier_matches(IdentifierKind::Class, &id, &v),
                )
            }
            ConditionKind::DeviceIdentifier => {
                let v = p
                    .device_id
                    .ok_or(Failure::Soft(K::MissingParameter(ParameterKind::DeviceId)))?;
                check(
                    self.platform
                        .identifier_matches(IdentifierKind::Device, &id, &v),
                )
            }
            ConditionKind::ComponentSlot => {
                let slot = p.component_slot.ok_or(Failure::Soft(K::MissingParameter(
                    ParameterKind::ComponentSlot,
                )))?;
                match self.platform.slot_matches(&id, slot) {
                    Ok(ok) => check(ok),
                    Err(e) => Err(Failure::Hard(K::Platform(e))),
                }
            }
            ConditionKind::ImageMatch => {
                let want = p.image_digest.ok_or(Failure::Soft(K::MissingParameter(
                    ParameterKind::ImageDigest,
                )))?;
                let have = self.digest_of(frame, idx, &id, held.image_digest_by.as_ref())?;
                if want.ct_eq(&have) {
                    // The one check allowed to look at unauthenticated plaintext: it is what
                    // authenticates AES-CTR content, and says nothing beyond match / no match.
                    // A dependency's match is of its manifest, never of staged content.
                    let staged = self.staged.iter_mut().find(|s| s.component == id);
                    if let Some(s) = staged.filter(|_| frame.manifest.dependency(idx).is_none()) {
                        s.matched(held.image_digest_by.as_ref());
                    }
                    Ok(())
                } else {
                    failed
                }
            }
            ConditionKind::CheckContent => {
                let want = p
                    .content
                    .as_deref()
                    .ok_or(Failure::Soft(K::MissingParameter(ParameterKind::Content)))?;
                // Comparing unauthenticated plaintext with a known value would be an oracle.
                if self.unauthenticated(&id) {
                    return Err(Failure::Hard(K::UnauthenticatedContent));
                }
                self.may_compare(idx, &id, held.content_by.as_ref())?;
                // One byte past the value tells "longer"; never more, so `have` is never
                // reallocated (a grown Vec frees its old block unwiped). The rest is read
                // too, unkept: the platform checks stored content when a read reaches its end
                // (`Platform::read`), and the comparison relies on none of it before then.
                let limit = want.len().saturating_add(1);
                let mut have = Zeroizing::new(Vec::with_capacity(limit));
                let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
                let mut offset = 0u64;
                loop {
                    let n = match self.platform.read(&id, offset, buf.as_mut_slice()) {
                        Ok(n) => n,
                        // An absent component holds no content: a failed condition (as for
                        // image-match), which try-each and soft-failure may absorb.
                        Err(crate::suit::platform::PlatformError::NotFound) => return failed,
                        Err(e) => return Err(Failure::Hard(K::Platform(e))),
                    };
                    if n == 0 {
                        break;
                    }
                    self.charge_bytes(n).map_err(Failure::Hard)?;
                    let chunk =
                        filled(buf.as_slice(), n).map_err(|e| Failure::Hard(K::Platform(e)))?;
                    let room = limit.saturating_sub(have.len()).min(n);
                    have.extend_from_slice(chunk.get(..room).unwrap_or_default());
                    offset = offset.saturating_add(n as u64);
                    if offset > MAX_PAYLOAD_LEN {
                        return Err(Failure::Hard(K::PayloadTooLarge));
                    }
                }
                // Constant time over the content: no early exit on the first differing byte.
                check(have.len() == want.len() && bool::from(have.ct_eq(want)))
            }
            ConditionKind::IsDependency => check(frame.manifest.dependency(idx).is_some()),
            ConditionKind::DependencyIntegrity => {
                if frame.manifest.dependency(idx).is_none() {
                    return Err(Failure::Hard(K::NotADependency));
                }
                // Never processable from here (see process-dependency): not verified either,
                // so no signature check runs under one more manifest's frames.
                if frame.depth >= MAX_DEPENDENCY_DEPTH {
                    return Err(Failure::Hard(K::DependencyTooDeep));
                }
                let want = p.image_digest.ok_or(Failure::Hard(K::MissingParameter(
                    ParameterKind::ImageDigest,
                )))?;
                let (slot, bytes) = self
                    .dependency_held(frame, idx)
                    .ok_or(Failure::Hard(K::DependencyNotHeld))?;
                let auth = self
                    .authenticate_held(slot, &bytes)
                    .map_err(Failure::Hard)?;
                if !auth.digest.ct_eq(&want) {
                    return Err(Failure::Hard(K::DependencyDigestMismatch));
                }
                push_once(
                    &mut self.verified_dependencies,
                    dependency_place(frame, idx),
                );
                Ok(())
            }
            ConditionKind::Abort => failed,
            ConditionKind::ImageNotMatch => {
                let want = p.image_digest.ok_or(Failure::Soft(K::MissingParameter(
                    ParameterKind::ImageDigest,
                )))?;
                // Match / no match of unauthenticated plaintext authenticates nothing here.
                if self.unauthenticated(&id) {
                    return Err(Failure::Hard(K::UnauthenticatedContent));
                }
                match self.digest_of(frame, idx, &id, held.image_digest_by.as_ref()) {
                    Ok(have) if want.ct_eq(&have) => Err(Failure::Soft(K::UpdateManagement(
                        alloc::boxed::Box::new(UmError::ImageMatches),
                    ))),
                    Ok(_) => Ok(()),
                    // Absent (or incompletely staged) content matches no digest.
                    Err(Failure::Soft(K::ConditionFailed(ConditionKind::ImageMatch))) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            ConditionKind::UseBefore
            | ConditionKind::MinimumBattery
            | ConditionKind::UpdateAuthorized
            | ConditionKind::Version => {
                match um::condition(self.platform, &self.policy.update_management, kind, &id, p) {
                    Ok(()) => Ok(()),
                    Err(e @ K::Platform(_)) => Err(Failure::Hard(e)),
                    Err(e) => Err(Failure::Soft(e)),
                }
            }
        }
    }

    /// The digest image-match compares with one set by `by`: of the staged bytes if this run
    /// staged the component, of the dependency's manifest for a dependency, else of the
    /// platform's current content.
    fn digest_of(
        &mut self,
        frame: &Frame<'_, '_>,
        idx: usize,
        id: &ComponentId,
        by: Option<&Arc<[AnchorId]>>,
    ) -> Result<Digest, Failure> {
        use CommandErrorKind as K;
        if frame.manifest.dependency(idx).is_some() {
            let (_, bytes) = self
                .dependency_held(frame, idx)
                .ok_or(Failure::Soft(K::ConditionFailed(ConditionKind::ImageMatch)))?;
            self.charge_envelope(bytes.len()).map_err(Failure::Hard)?;
            let env =
                Envelope::decode(&bytes).map_err(|e| Failure::Hard(K::Dependency(Box::new(e))))?;
            return Ok(Digest::sha256(env.manifest_encoded));
        }
        self.may_compare(idx, id, by)?;
        if let Some(s) = self.staged.iter().find(|s| &s.component == id) {
            // Incomplete staging never matches.
            return s
                .digest
                .ok_or(Failure::Soft(K::ConditionFailed(ConditionKind::ImageMatch)));
        }
        let mut h = DigestStream::default();
        let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
        let mut offset = 0u64;
        loop {
            let n = match self.platform.read(id, offset, &mut buf) {
                Ok(n) => n,
                // An absent component simply does not match.
                Err(crate::suit::platform::PlatformError::NotFound) => {
                    return Err(Failure::Soft(K::ConditionFailed(ConditionKind::ImageMatch)))
                }
                Err(e) => return Err(Failure::Hard(K::Platform(e))),
            };
            if n == 0 {
                break;
            }
            self.charge_bytes(n).map_err(Failure::Hard)?;
            h.update(filled(buf.as_slice(), n).map_err(|e| Failure::Hard(K::Platform(e)))?);
            offset = offset.saturating_add(n as u64);
            if offset > MAX_PAYLOAD_LEN {
                return Err(Failure::Hard(K::PayloadTooLarge));
            }
        }
        Ok(h.finish())
    }
}
