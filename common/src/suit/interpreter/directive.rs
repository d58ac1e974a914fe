//! The directives that act on a component (`action`), and `stage`, which streams content
//! into a component: fetch, write, copy, swap, invoke, unlink, wait.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::suit::command::{Action, Parameters};
use crate::suit::component::ComponentId;
use crate::suit::decrypt::PayloadDecryptor;
use crate::suit::digest::DigestStream;
use crate::suit::envelope::MAX_ENVELOPE_LEN;
use crate::suit::error::{CommandErrorKind, ParameterKind, PolicyError};
use crate::suit::platform::{Platform, CHUNK_LEN};
use crate::suit::policy::AnchorId;
use crate::suit::update_management as um;
use crate::suit::words::Words;

use super::{
    access::set_by_all_of, access::source_choosers, checked_index, component_id,
    dependency::dependency_place, filled, push_once, ComponentParams, Frame, Held, Machine, Origin,
    Plaintext, Staged, MAX_DEPENDENCY_DEPTH, MAX_HELD_DEPENDENCIES, MAX_PAYLOAD_LEN,
    MAX_RUN_COMPONENTS, SIGNATURE_STEPS,
};

/// Where payload bytes come from.
enum Source<'s> {
    Bytes(&'s [u8]),
    /// `suit-parameter-content`: inside the authenticated manifest.
    Content(&'s [u8]),
    Fetch,
    Component(ComponentId),
}

impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    pub(super) fn action(
        &mut self,
        frame: &mut Frame<'_, '_>,
        action: Action,
        idx: usize,
        path: &mut Vec<u16>,
    ) -> Result<(), CommandErrorKind> {
        use CommandErrorKind as K;
        let id = component_id(frame, idx)?;
        let held = self.params_of(&id);
        let p = &held.values;
        let is_dependency = frame.manifest.dependency(idx).is_some();
        if is_dependency && matches!(action, Action::Copy | Action::Write | Action::Swap) {
            return Err(K::DependencyOverwrite);
        }
        if matches!(
            action,
            Action::Fetch | Action::Copy | Action::Write | Action::Swap | Action::Unlink
        ) && !is_dependency
        {
            self.policy
                .check_required_signers(&id, idx, &frame.signers)
                .map_err(K::Policy)?;
            self.check_component_rollback(frame, idx, &id)?;
            if action != Action::Unlink {
                self.may_replace_at_its_number(frame, idx, &id)?;
            }
            self.staging_sequence = frame.manifest.sequence_number;
        }
        if matches!(action, Action::Fetch | Action::Copy | Action::Write) && !is_dependency {
            um::apply_metadata(self.platform, &self.policy.update_management, &id, p)?;
        }
        match action {
            Action::Wait => um::wait(
                self.platform,
                &self.policy.update_management,
                &mut self.wait_budget,
                &id,
                p,
            ),
            Action::Fetch => {
                let uri = p
                    .uri
                    .clone()
                    .ok_or(K::MissingParameter(ParameterKind::Uri))?;
                // The firmware-encryption draft decrypts on copy and write only; what a fetch
                // with encryption info means is undefined (store ciphertext where plaintext was
                // meant, or decrypt against the draft), so it is refused rather than guessed,
                // before anything is asked of the platform. A dependency too: trust domains'
                // encrypted-manifest template decrypts its envelope on fetch, which this engine
                // does not implement; keeping the ciphertext would fail later, misleadingly.
                if p.encryption_info.is_some() {
                    return Err(K::DecryptingFetch);
                }
                // A dependency of a manifest at the deepest level is never processed (see
                // process-dependency), so it is not fetched either.
                if is_dependency && frame.depth >= MAX_DEPENDENCY_DEPTH {
                    return Err(K::DependencyTooDeep);
                }
                // The envelope's payloads first, under any URI (manifest-37: an intermediary
                // may add a pre-fetched payload keyed by its URI); a fragment-only reference
                // can only be one of them.
                let integrated = match frame.integrated.iter().find(|i| *i.key == *uri) {
                    Some(i) => Some(i.bytes),
                    None if uri.starts_with('#') => return Err(K::MissingIntegratedPayload),
                    None => {
                        self.platform
                            .fetch_open(&uri, p.fetch_args.as_deref())
                            .map_err(K::Platform)?;
                        None
                    }
                };
                if is_dependency {
                    // Dependency envelopes stay in engine memory, verified and decoded on first
                    // use (see `Held`).
                    // Their size is not compared with image-size: trust domains identify a
                    // dependency by its manifest digest alone, because countersigning or
                    // severing changes the envelope around it (MAX_ENVELOPE_LEN bounds it).
                    let place = dependency_place(frame, idx);
                    // A re-fetch replaces the envelope for its place, unless a snapshot
                    // taken since may restore that one (see `keep`).
                    let replaces = self
                        .dependencies
                        .iter()
                        .skip(self.dependency_floor)
                        .position(|h| h.place == place)
                        .map(|p| p + self.dependency_floor);
                    if replaces.is_none() && self.dependencies.len() >= MAX_HELD_DEPENDENCIES {
                        return Err(K::Limit(Words::DependencyEnvelopesHeld));
                    }
                    // The one replaced is still held while its successor is read.
                    let room = self.dependency_bytes().room();
                    let bytes = match integrated {
                        Some(b) if b.len() > room => {
                            return Err(K::Limit(Words::DependencyBytes));
                        }
                        Some(b) => {
                            self.charge_envelope(b.len())?;
                            b.to_vec()
                        }
                        None => self.read_fetch_to_vec(room)?,
                    };
                    self.verified_dependencies
                        .retain(|d| !d.starts_with(&place));
                    let entry = Held {
                        place,
                        bytes: Arc::new(bytes),
                        verified: None,
                        decoded: None,
                    };
                    match replaces.and_then(|p| self.dependencies.get_mut(p)) {
                        Some(slot) => *slot = entry,
                        None => self.dependencies.push(entry),
                    }
                    return Ok(());
                }
                let src = match integrated {
                    Some(b) => Source::Bytes(b),
                    None => Source::Fetch,
                };
                self.stage(&id, &held, src, &frame.own_signers, idx)
            }
            Action::Write => {
                let content = p
                    .content
                    .clone()
                    .ok_or(K::MissingParameter(ParameterKind::Content))?;
                self.stage(
                    &id,
                    &held,
                    Source::Content(&content),
                    &frame.own_signers,
                    idx,
                )
            }
            Action::Copy => {
                let (_, src) = self.source_component(frame, idx, p)?;
                let decrypting = p.encryption_info.is_some();
                let movers = source_choosers(frame, &held);
                self.may_move(&movers, &id, &src, idx, decrypting)?;
                self.may_copy_at_its_number(frame, idx, &id, &src)?;
                self.stage(&id, &held, Source::Component(src), &frame.own_signers, idx)
            }
            Action::Swap => {
                // Both components change: the source meets the destination's rules (checked
                // above), and staged content that is not authenticated moves nowhere.
                let (src_idx, src) = self.source_component(frame, idx, p)?;
                if frame.manifest.dependency(src_idx).is_some() {
                    return Err(K::DependencyOverwrite);
                }
                self.policy
                    .check_required_signers(&src, src_idx, &frame.signers)
                    .map_err(K::Policy)?;
                self.check_component_rollback(frame, src_idx, &src)?;
                self.may_replace_at_its_number(frame, src_idx, &src)?;
                if self.unauthenticated(&id) || self.unauthenticated(&src) {
                    return Err(K::UnauthenticatedContent);
                }
                // Each content moves into the other component: a copy's rules, both ways.
                let movers = source_choosers(frame, &held);
                self.may_move(&movers, &id, &src, idx, false)?;
                self.may_move(&movers, &src, &id, idx, false)?;
                self.may_copy_at_its_number(frame, idx, &id, &src)?;
                self.may_copy_at_its_number(frame, src_idx, &src, &id)?;
                self.platform.swap(&id, &src).map_err(K::Platform)?;
                // What was staged for one is now the other's.
                for s in &mut self.staged {
                    if s.component == id {
                        s.component = src.clone();
                    } else if s.component == src {
                        s.component = id.clone();
                    }
                }
                Ok(())
            }
            Action::Invoke => {
                // What runs is what commit would accept: never content staged in this run
                // that is not authenticated yet.
                if self.unauthenticated(&id) {
                    return Err(K::UnauthenticatedContent);
                }
                self.platform
                    .invoke(&id, p.invoke_args.as_deref())
                    .map_err(K::Platform)?;
                // Each component once: a loop of invocations must not grow the list.
                push_once(&mut self.invoked, id);
                Ok(())
            }
            Action::ProcessDependency => self.process_dependency(frame, idx, path),
            Action::Unlink => {
                // A dependency's manifest is held for this run only: there is no reference to
                // drop, so the directive is ignored (trust domains: "MAY choose to ignore").
                if is_dependency {
                    return Ok(());
                }
                if self.unlinked.len() >= MAX_RUN_COMPONENTS
                    && !self.unlinked.iter().any(|(c, _)| *c == id)
                {
                    return Err(K::Limit(Words::ComponentsInRun));
                }
                // Content staged for it in this run goes; the removal itself is staged by the
                // platform and happens at commit (same signer and rollback rules as a write).
                self.staged.retain(|s| s.component != id);
                self.platform.stage_discard(&id);
                self.keys.discarded(&id);
                self.platform.unlink(&id).map_err(K::Platform)?;
                let by = frame.manifest.sequence_number;
                match self.unlinked.iter_mut().find(|(c, _)| *c == id) {
                    Some((_, floor)) => *floor = (*floor).max(by),
                    None => self.unlinked.push((id, by)),
                }
                Ok(())
            }
        }
    }

    pub(super) fn source_component(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
        p: &Parameters,
    ) -> Result<(usize, ComponentId), CommandErrorKind> {
        use CommandErrorKind as K;
        let src = p
            .source_component
            .ok_or(K::MissingParameter(ParameterKind::SourceComponent))?;
        let src_idx = checked_index(src, frame.manifest.index_count())
            .ok_or(K::ComponentIndexOutOfRange(src))?;
        if src_idx == idx {
            return Err(K::SourceIsDestination);
        }
        Ok((src_idx, component_id(frame, src_idx)?))
    }

    /// Reads the open fetch, a dependency envelope, whole: at most [`MAX_ENVELOPE_LEN`] and
    /// `room` bytes, held in a buffer of its exact length (what [`MAX_DEPENDENCY_BYTES`](super::MAX_DEPENDENCY_BYTES)
    /// counts), allocated fallibly.
    fn read_fetch_to_vec(&mut self, room: usize) -> Result<Vec<u8>, CommandErrorKind> {
        use crate::suit::platform::PlatformError;
        let mut out = Vec::new();
        let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
        loop {
            let n = self
                .platform
                .fetch_read(&mut buf)
                .map_err(CommandErrorKind::Platform)?;
            if n == 0 {
                return Ok(out);
            }
            self.charge_bytes(n)?;
            let chunk = buf
                .get(..n)
                .ok_or(CommandErrorKind::Platform(PlatformError::Io))?;
            let len = out.len().saturating_add(n);
            if len > MAX_ENVELOPE_LEN {
                return Err(CommandErrorKind::PayloadTooLarge);
            }
            if len > room {
                return Err(CommandErrorKind::Limit(Words::DependencyBytes));
            }
            out.try_reserve_exact(n)
                .map_err(|_| CommandErrorKind::Platform(PlatformError::NoSpace))?;
            out.extend_from_slice(chunk);
        }
    }

    /// Streams `src` into the staged content of `id`: decrypting if the component has
    /// encryption info, enforcing image-size, hashing what is staged. `signers` are the own
    /// signers of the manifest whose directive this is.
    fn stage(
        &mut self,
        id: &ComponentId,
        held: &ComponentParams,
        src: Source<'_>,
        signers: &Arc<[AnchorId]>,
        idx: usize,
    ) -> Result<(), CommandErrorKind> {
        use CommandErrorKind as K;
        let p = &held.values;
        // Encryption info another party set (a dependent's set-parameters, say) would have
        // this manifest's keys decrypt what that party chose, committed under this manifest's
        // authority. Allowed only into content this manifest names by its own image digest
        // (trust domains' override-encryption-info template): checked before any key is
        // chosen, and on the digest of what was staged below. Here, before the streamed
        // result is asked for, so a pre-planned copy cannot pass it by.
        let foreign = p.encryption_info.is_some()
            && !set_by_all_of(held.encryption_info_by.as_ref(), signers);
        if foreign && !set_by_all_of(held.image_digest_by.as_ref(), signers) {
            return Err(K::ForeignEncryptionInfo);
        }
        // Keys are chosen only now, from who signed this manifest (local key policy).
        let mut decryptor = match &p.encryption_info {
            Some(info) => {
                let source = self.keys;
                let keys = source.keys_for(signers, id).map_err(|_| {
                    K::Policy(PolicyError::PlaintextNotPermitted { component: idx })
                })?;
                // Each recipient tried can cost a key agreement: charged as signatures are.
                let metered = crate::encryption::Metered::new(keys.get());
                let built = PayloadDecryptor::new(info, &metered);
                self.charge(SIGNATURE_STEPS.saturating_mul(metered.operations()))?;
                Some(built.map_err(K::Decrypt)?)
            }
            None => None,
        };
        // Provenance decided before any byte moves; recorded as incomplete (Withheld) for as
        // long as staging is under way, and whatever way it ends.
        let plaintext = match (&decryptor, &src) {
            // The ciphertext itself is authentic: in this manifest (or one all its signers
            // signed), or a component staged in this run whose content matched an image
            // digest such a manifest set (another party's would have these keys decrypt
            // its choice).
            (Some(_), Source::Content(_)) if set_by_all_of(held.content_by.as_ref(), signers) => {
                Plaintext::CiphertextVerified
            }
            (Some(_), Source::Component(c))
                if self
                    .staged
                    .iter()
                    .any(|s| &s.component == c && s.verified_ciphertext_for(signers)) =>
            {
                Plaintext::CiphertextVerified
            }
            (Some(_), _) => Plaintext::Unauthenticated,
            (None, Source::Component(c)) => match self.staged.iter().find(|s| &s.component == c) {
                Some(s) if !s.authenticated() => Plaintext::Unauthenticated,
                Some(s) => s.plaintext,
                // Installed content keeps what its record says may leave the TA.
                None if self.platform.installed_digest_withheld(c) => Plaintext::AeadVerified,
                None => Plaintext::Clear,
            },
            (None, _) => Plaintext::Clear,
        };
        let origin = match (&decryptor, &src) {
            (Some(_), _) => Origin::Decrypted,
            (None, Source::Content(_)) => Origin::Manifest,
            (None, Source::Bytes(_) | Source::Fetch) => Origin::Served,
            (None, Source::Component(c)) => Origin::Copy {
                vouched: match self.staged.iter().find(|s| &s.component == c) {
                    Some(s) => s.vouched(),
                    None => self.platform.requires_vouched_content(c),
                },
            },
        };
        let owned_by = match (&decryptor, &src) {
            (Some(_), _) => Some(Arc::clone(signers)),
            (None, Source::Component(c)) => match self.staged.iter().find(|s| &s.component == c) {
                Some(s) => s.owned_by.clone(),
                None => self.confided(c),
            },
            (None, _) => None,
        };
        self.staged.retain(|s| &s.component != id);
        // New content cancels a staged removal (the platform's stage_open does the same).
        self.unlinked.retain(|(u, _)| u != id);
        self.staged.push(Staged {
            component: id.clone(),
            digest: None,
            size: 0,
            plaintext,
            origin,
            verified: false,
            verified_by: None,
            owned_by,
            consumed: false,
            sequence_number: self.staging_sequence,
            serial: self.stagings,
        });
        self.stagings = self.stagings.saturating_add(1);
        // What the key source decided for this content (a release into the REE) now holds.
        self.keys.staged(id);
        self.platform.stage_open(id).map_err(K::Platform)?;
        // image-size is what a fetch or copy must deliver. A write stages bytes the
        // authenticated manifest holds, and manifest-37 gives write no size rule: a component's
        // image-size (often set for every component at once) does not bind them.
        let exact = if matches!(src, Source::Content(_)) {
            None
        } else {
            p.image_size
        };
        let mut sink = Sink {
            hasher: DigestStream::default(),
            size: 0,
            limit: exact.unwrap_or(MAX_PAYLOAD_LEN).min(MAX_PAYLOAD_LEN),
            exact,
        };
        // Streaming install: the platform may have done this fetch, or this decrypting copy
        // (same source, encryption-info bytes and target), as the payload arrived; its answer
        // goes through the same limit, tag and size checks, in the same order, as the loop's.
        let streamed = match (&src, &decryptor, &p.encryption_info) {
            (Source::Fetch, None, _) => self
                .platform
                .streamed_fetch(id)
                .map(|f| (f.digest, f.size, Ok(()))),
            (Source::Component(c), Some(d), Some(info)) => self
                .platform
                .streamed_copy(c, info, d.key_check(), id)
                .map(|c| (c.digest, c.size, c.finish)),
            _ => None,
        };
        let mut streamed_end = None;
        let mut streamed_digest = None;
        if let Some((digest, size, end)) = streamed {
            sink.streamed(size)?;
            streamed_digest = Some(digest);
            streamed_end = Some(end);
        } else {
            // Carries plaintext when copying a decrypted component: wiped on drop.
            let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
            let mut offset = 0u64;
            let mut bytes_at = 0usize;
            loop {
                let chunk: &[u8] = match &src {
                    Source::Bytes(b) | Source::Content(b) => {
                        let end = bytes_at.saturating_add(CHUNK_LEN).min(b.len());
                        let c = b.get(bytes_at..end).unwrap_or(&[]);
                        bytes_at = end;
                        c
                    }
                    Source::Fetch => {
                        let n = self.platform.fetch_read(&mut buf).map_err(K::Platform)?;
                        filled(buf.as_slice(), n).map_err(K::Platform)?
                    }
                    Source::Component(c) => {
                        let n = self
                            .platform
                            .read(c, offset, &mut buf)
                            .map_err(K::Platform)?;
                        offset = offset.saturating_add(n as u64);
                        filled(buf.as_slice(), n).map_err(K::Platform)?
                    }
                };
                if chunk.is_empty() {
                    break;
                }
                self.charge_bytes(chunk.len())?;
                match decryptor.as_mut() {
                    Some(d) => {
                        let plain = d.update(chunk).map_err(K::Decrypt)?;
                        sink.put(self.platform, id, &plain)?;
                    }
                    None => sink.put(self.platform, id, chunk)?,
                }
            }
        }
        let mut plaintext = plaintext;
        let decrypted = decryptor.is_some();
        if let Some(d) = decryptor {
            let aead = d.algorithm().is_aead();
            match streamed_end {
                Some(end) => end.map_err(K::Decrypt)?,
                None => {
                    let tail = d.finish().map_err(K::Decrypt)?;
                    sink.put(self.platform, id, &tail)?;
                }
            }
            if aead {
                // The tag verified: only now is AEAD plaintext authenticated.
                plaintext = Plaintext::AeadVerified;
            }
        }
        if let Some(exact) = sink.exact {
            if sink.size != exact {
                return Err(K::ImageSizeMismatch);
            }
        }
        let digest = match streamed_digest {
            Some(d) => d,
            None => sink.hasher.finish(),
        };
        let verified = p.image_digest.is_some_and(|d| d.ct_eq(&digest));
        if foreign && !verified {
            // Left incomplete: never committable, and the directive aborts the procedure.
            return Err(K::ForeignEncryptionInfo);
        }
        if let Some(s) = self.staged.iter_mut().find(|s| &s.component == id) {
            s.digest = Some(digest);
            s.size = sink.size;
            s.plaintext = plaintext;
            if verified {
                s.matched(held.image_digest_by.as_ref());
            }
        }
        if let (true, Source::Component(c)) = (decrypted, &src) {
            if let Some(s) = self.staged.iter_mut().find(|s| &s.component == c) {
                s.consumed = true;
            }
        }
        Ok(())
    }

    /// Per-component rollback (RFC 9124 THREAT.IMG.EXPIRED): an old but authentic manifest
    /// may not replace content a newer one installed, even under another component list. A
    /// dependency may be re-run by a newer dependent, so an equal number passes there (the
    /// platform still refuses different content at commit).
    fn check_component_rollback(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
        id: &ComponentId,
    ) -> Result<(), CommandErrorKind> {
        let Some(installed) = self
            .platform
            .component_sequence_number(id)
            .map_err(CommandErrorKind::Platform)?
        else {
            return Ok(());
        };
        let offered = frame.manifest.sequence_number;
        let refused = if self.installing && frame.depth == 0 {
            offered <= installed
        } else {
            offered < installed
        };
        if refused {
            return Err(CommandErrorKind::Policy(
                crate::suit::error::PolicyError::ComponentRollback {
                    component: idx,
                    installed,
                    offered,
                },
            ));
        }
        Ok(())
    }
}

struct Sink {
    hasher: DigestStream,
    size: u64,
    limit: u64,
    exact: Option<u64>,
}

impl Sink {
    fn put<P: Platform + ?Sized>(
        &mut self,
        platform: &mut P,
        id: &ComponentId,
        data: &[u8],
    ) -> Result<(), CommandErrorKind> {
        if data.is_empty() {
            return Ok(());
        }
        self.size = self.size.saturating_add(data.len() as u64);
        if self.size > self.limit {
            return Err(if self.exact.is_some() {
                CommandErrorKind::ImageSizeMismatch
            } else {
                CommandErrorKind::PayloadTooLarge
            });
        }
        self.hasher.update(data);
        platform
            .stage_write(id, data)
            .map_err(CommandErrorKind::Platform)
    }

    /// Takes `size` bytes staged by the platform as they arrived (see
    /// [`Platform::streamed_copy`]): the limit [`Sink::put`] would have enforced on the way.
    fn streamed(&mut self, size: u64) -> Result<(), CommandErrorKind> {
        self.size = size;
        if size > self.limit {
            return Err(if self.exact.is_some() {
                CommandErrorKind::ImageSizeMismatch
            } else {
                CommandErrorKind::PayloadTooLarge
            });
        }
        Ok(())
    }
}
