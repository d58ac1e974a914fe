//! Decrypting and hashing a detached payload as it arrives.
//!
//! When the authenticated manifest fetches a URI into a buffer and then decrypts the buffer
//! into a TA or a secure-storage component, in the static form [`suit::streaming`] proves,
//! each payload chunk is decrypted on arrival with the key the engine would choose (where it
//! lies: in the request's own buffer, or in a TA image's reserved room), hashed, and written
//! once into the payload object (journaled before it exists, like every object an install
//! creates), or, for a TA image, kept in TA memory only: OP-TEE's TA store is where it is
//! written, and a power cut inside that install leaves the commit awaiting the same envelope
//! again (`journal::reconcile`). The ciphertext is hashed (the engine's fetch digest) and
//! never stored. At `finish` the engine runs the
//! whole manifest as before; its fetch and decrypting copy find the work done through
//! [`suit::Platform::streamed_fetch`] and [`suit::Platform::streamed_copy`], and every check
//! it makes (limits, the tag, size, digests, policy, kinds) applies to the result in the same
//! order.
//!
//! Nothing derived from the plaintext leaves the TA before the tag and digest checks: chunk
//! answers do not depend on it (a tag failure is known only at `finish`, where the engine
//! reports it as it would have), and staged plaintext is used by nothing before commit.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::crypto::Released;
use crate::encryption::content::GCM_TAG_LEN;
use crate::encryption::{DecryptError, PayloadDecryptor};
use crate::suit::decrypt::KeySource;
use crate::suit::streaming::StreamPlan;
use crate::suit::AnchorId;

use super::super::store::StoreError;
use super::Writer;

/// What `prepare` decided for one URI.
pub(super) struct Planned {
    pub plan: StreamPlan,
    /// The manifest's own signers: whose keys the engine would decrypt with.
    pub signers: Vec<AnchorId>,
    /// The engine's plaintext limit for the copy.
    pub limit: u64,
    /// Keep the plaintext in TA memory only, never in the payload object (a TA image:
    /// `finish` hands it to OP-TEE from there). `limit` bounds it.
    pub keep: bool,
}

/// A payload being decrypted as it arrives.
pub(super) struct Stream {
    decryptor: Option<PayloadDecryptor>,
    /// [`PayloadDecryptor::key_check`] of the key chosen at the first chunk.
    key_check: [u8; 32],
    cipher: Sha256,
    cipher_len: u64,
    /// Boxed: its block buffer holds plaintext, and a move would leave a copy wherever the
    /// stream lived (a `Vec` of payloads that is later freed).
    plain: Box<Sha256>,
    plain_len: u64,
    /// The plaintext passed the engine's limit: nothing more is staged (the engine refuses).
    over: bool,
    end: Option<Result<(), DecryptError>>,
    /// The staged plaintext, when [`Planned::keep`]: reserved whole at the start (the
    /// authenticated size bound and a GCM tag's slack), so it never reallocates and leaves
    /// no unwiped copy; chunks are decrypted in its spare room.
    image: Option<Zeroizing<Vec<u8>>>,
    /// [`Planned::keep`]: nothing is written to the payload object (it is never created).
    image_only: bool,
}

/// Why a chunk could not be taken.
enum Failed {
    /// The decryptor refused (the stream ends with this error; `finish` reports it).
    Decrypt(DecryptError),
    /// Staging failed (the install's payload starts over).
    Store(StoreError),
}

/// A stream whose every announced byte arrived, handed to the engine's platform.
pub(super) struct Finished {
    pub plan: StreamPlan,
    /// The payload object holding the plaintext.
    pub object: String,
    pub cipher_digest: [u8; 32],
    pub cipher_len: u64,
    pub plain: Box<Sha256>,
    pub plain_len: u64,
    /// The plaintext passed the plan's limit: only a prefix was staged and hashed, so the
    /// streamed copy must not become content (`streamed_copy` answers one the engine refuses).
    pub over: bool,
    pub end: Result<(), DecryptError>,
    /// Which content key decrypted it ([`PayloadDecryptor::key_check`]): the engine's own
    /// decryptor at `finish` must have the same, or the streamed result is not used.
    pub key_check: [u8; 32],
    /// Every staged plaintext byte, if kept in memory (see [`Planned::keep`]).
    pub image: Option<Zeroizing<Vec<u8>>>,
    /// The plaintext is in `image` only, in no object ([`Planned::keep`]).
    pub image_only: bool,
    /// The engine's fetch took it (into `plan.buffer`), and its copy (into `plan.target`).
    pub fetched: bool,
    pub copied: bool,
}

impl Stream {
    /// Starts decrypting with the key the engine would choose for the same bytes; `None`
    /// when the key source refuses or the decryptor cannot start (the install then stores
    /// the ciphertext as before and the engine refuses at `finish` in its own words).
    pub(super) fn start(planned: &Planned, keys: &dyn KeySource) -> Option<Stream> {
        let selected = keys.keys_for(&planned.signers, &planned.plan.target).ok()?;
        let decryptor =
            PayloadDecryptor::new(&planned.plan.encryption_info, selected.get()).ok()?;
        let image = match planned.keep {
            true => {
                let mut image = Vec::new();
                // A GCM chunk is decrypted in the image's spare room with its tag (see
                // `decrypt`): the last one needs the tag's 16 bytes beyond the plaintext.
                let bound = usize::try_from(planned.limit).ok()?;
                image
                    .try_reserve_exact(bound.checked_add(GCM_TAG_LEN)?)
                    .ok()?;
                Some(Zeroizing::new(image))
            }
            false => None,
        };
        Some(Stream {
            key_check: *decryptor.key_check(),
            decryptor: Some(decryptor),
            cipher: Sha256::new(),
            cipher_len: 0,
            plain: Box::default(),
            plain_len: 0,
            over: false,
            end: None,
            image_only: image.is_some(),
            image,
        })
    }

    /// Whether the plaintext stays in TA memory only: the payload object is never written.
    pub(super) fn image_only(&self) -> bool {
        self.image_only
    }

    /// Takes the next ciphertext chunk; `last` when it completes the announced length. The
    /// chunk is decrypted where it lies (or in the kept image): it is plaintext afterwards.
    pub(super) fn chunk(
        &mut self,
        out: &mut Writer<'_>,
        limit: u64,
        data: &mut [u8],
        last: bool,
    ) -> Result<(), StoreError> {
        self.cipher.update(&*data);
        self.cipher_len = self.cipher_len.saturating_add(data.len() as u64);
        if let Some(mut d) = self.decryptor.take() {
            match self.decrypt(&mut d, out, limit, data) {
                Ok(()) => self.decryptor = Some(d),
                Err(Failed::Decrypt(e)) => self.end = Some(Err(e)),
                Err(Failed::Store(e)) => return Err(e),
            }
        }
        if last {
            if let Some(d) = self.decryptor.take() {
                match d.finish() {
                    Ok(tail) => {
                        self.stage(out, limit, &tail)?;
                        self.end = Some(Ok(()));
                    }
                    Err(e) => self.end = Some(Err(e)),
                }
            }
        }
        Ok(())
    }

    /// Decrypts a chunk straight into the kept image when all of it fits the image's spare
    /// room (reserved with a GCM tag's slack), else where it lies; stages the plaintext.
    fn decrypt(
        &mut self,
        d: &mut PayloadDecryptor,
        out: &mut Writer<'_>,
        limit: u64,
        data: &mut [u8],
    ) -> Result<(), Failed> {
        let room = |i: &Zeroizing<Vec<u8>>| i.capacity() - i.len() >= data.len();
        match self.image.take() {
            Some(mut image) if !self.over && room(&image) => {
                let from = image.len();
                // Within the reservation: never reallocated, so no unwiped copy is left.
                image.extend_from_slice(data);
                let released = match image.get_mut(from..) {
                    Some(tail) => d.update_in_place(tail),
                    None => Err(DecryptError::Poisoned),
                };
                match released {
                    Ok(Released::InPlace(n)) => {
                        image.truncate(from + n);
                        if n == 0 {
                            // Held back (a GCM tag candidate): nothing released, image kept.
                            self.image = Some(image);
                            return Ok(());
                        }
                        if !self.admit(limit, n) {
                            // Past the limit: the engine refuses, the image is of no use.
                            return Ok(());
                        }
                        let plain = image.get(from..).unwrap_or_default();
                        self.plain.update(plain);
                        self.image = Some(image);
                        Ok(())
                    }
                    Ok(Released::Separate(plain)) => {
                        image.truncate(from);
                        self.image = Some(image);
                        self.stage(out, limit, &plain).map_err(Failed::Store)
                    }
                    Err(e) => Err(Failed::Decrypt(e)),
                }
            }
            image => {
                self.image = image;
                match d.update_in_place(data).map_err(Failed::Decrypt)? {
                    Released::InPlace(n) => {
                        let plain = data.get(..n).unwrap_or_default();
                        self.stage(out, limit, plain).map_err(Failed::Store)
                    }
                    Released::Separate(plain) => {
                        self.stage(out, limit, &plain).map_err(Failed::Store)
                    }
                }
            }
        }
    }

    /// Counts `n` released plaintext bytes; whether they are staged (within the engine's
    /// limit: past it nothing more is).
    fn admit(&mut self, limit: u64, n: usize) -> bool {
        if n == 0 {
            return false;
        }
        self.plain_len = self.plain_len.saturating_add(n as u64);
        if self.over || self.plain_len > limit {
            self.over = true;
            self.image = None;
            return false;
        }
        true
    }

    /// Stages plaintext released outside the kept image, up to the engine's limit.
    fn stage(&mut self, out: &mut Writer<'_>, limit: u64, plain: &[u8]) -> Result<(), StoreError> {
        if !self.admit(limit, plain.len()) {
            return Ok(());
        }
        self.plain.update(plain);
        if !self.image_only {
            out.write(plain)?;
        }
        if let Some(image) = self.image.as_mut() {
            // Within the reservation: never reallocated.
            if image.capacity() - image.len() >= plain.len() {
                image.extend_from_slice(plain);
            } else {
                self.image = None;
            }
        }
        Ok(())
    }

    /// The stream once complete (`None` if the decryptor never ended: not every byte came).
    pub(super) fn finished(self, plan: StreamPlan, object: &str) -> Option<Finished> {
        let end = self.end?;
        Some(Finished {
            plan,
            object: object.into(),
            cipher_digest: self.cipher.finalize().into(),
            cipher_len: self.cipher_len,
            plain: self.plain,
            plain_len: self.plain_len,
            over: self.over,
            end,
            key_check: self.key_check,
            image: self.image,
            image_only: self.image_only,
            fetched: false,
            copied: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::journal::Journal;
    use super::super::platform::{Delivered, StorePlatform};
    use super::*;
    use crate::report::ReportBuilder;
    use crate::service::memory::MemoryBackend;
    use crate::service::state::State;
    use crate::suit::platform::Platform as _;
    use crate::suit::ComponentId;

    /// Plaintext past the plan's limit (here smaller than the engine's, which today it never
    /// is): only a prefix is staged and hashed, so the streamed copy must not hand the engine
    /// a result it could accept, nor make the prefix the target's content.
    #[test]
    fn a_stream_past_its_plan_limit_never_answers_a_usable_copy() {
        let (buffer, target) = (ComponentId::new(&[b"buf"]), ComponentId::new(&[b"t"]));
        let (info, key_check, object) = (alloc::vec![1u8, 2, 3], [7u8; 32], "suit/in/1/0");
        let mut store = MemoryBackend::new(0);
        let mut stream = Stream {
            decryptor: None,
            key_check,
            cipher: Sha256::new(),
            cipher_len: 0,
            plain: Box::default(),
            plain_len: 0,
            over: false,
            end: Some(Ok(())),
            image: None,
            image_only: false,
        };
        let (mut created, mut written) = (false, Vec::new());
        let mut out = Writer {
            store: &mut store,
            object,
            created: &mut created,
            written: &mut written,
        };
        stream.stage(&mut out, 10, &[1; 8]).unwrap();
        stream.stage(&mut out, 10, &[2; 8]).unwrap();
        let plan = StreamPlan {
            uri: "https://u/p".into(),
            buffer: buffer.clone(),
            target: target.clone(),
            encryption_info: info.clone(),
            target_size: None,
        };
        let mut finished = stream.finished(plan, object).unwrap();
        finished.fetched = true;

        let (mut state, mut journal) = (State::new(), Journal::default());
        let delivered = alloc::vec![Delivered {
            uri: "https://u/p".into(),
            object: None,
            stream: Some(finished),
            sent: true,
        }];
        let mut p = StorePlatform::new(
            &mut store,
            &mut state,
            delivered,
            ReportBuilder::new(),
            &mut journal,
            [0; 32],
        );
        p.stage_open(&target).unwrap();
        let answer = p.streamed_copy(&buffer, &info, &key_check, &target);
        assert!(
            answer.as_ref().is_none_or(|c| c.finish.is_err()),
            "{answer:?}"
        );
        let mut buf = [0u8; 32];
        assert_eq!(p.read(&target, 0, &mut buf), Ok(0), "the prefix was staged");
    }
}
