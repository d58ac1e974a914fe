//! The SUIT manifest engine, one pipeline stage per module:
//!
//! [`envelope`] (split the envelope) → [`authenticate`] (digest, signatures, severed members)
//! → [`policy`] (permissions, rollback; [`check()`] runs these first three, for the engine and
//! the TA's install session alike) → [`interpreter`] (command sequences, dependencies,
//! payload staging and decryption) → commit through the [`platform`].
//!
//! [`process`] runs the whole pipeline; the stages are public for tools that need only part of
//! it (e.g. the author tool verifying what it produced).

pub mod authenticate;
#[cfg(feature = "author")]
pub mod author;
pub mod check;
pub mod command;
pub mod component;
pub mod decrypt;
pub mod digest;
#[cfg(feature = "author")]
pub mod encode;
pub mod envelope;
pub mod error;
#[cfg(feature = "explain")]
pub mod explain;
pub mod fetch_bound;
pub mod interpreter;
pub mod manifest;
pub mod platform;
pub mod policy;
pub mod streaming;
pub mod update_management;
pub mod words;

use alloc::vec::Vec;

pub use authenticate::AuthenticatedManifest;
pub use check::{check, Checked, Delivered, Refusal};
pub use component::ComponentId;
pub use digest::Digest;
pub use envelope::Envelope;
pub use error::Error;
pub use manifest::Manifest;
pub use platform::Platform;
pub use policy::{AnchorId, Policy};

use decrypt::KeySource;
use error::Section;
use interpreter::Machine;

/// Which SUIT procedure to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedure {
    /// Update: dependency-resolution, payload-fetch, candidate-verification, install,
    /// validate. The sequence number must be greater than the stored one.
    Update,
    /// Invocation (secure boot / launch): validate, load, invoke. The sequence number must
    /// not be lower than the stored one.
    Invoke,
}

impl Procedure {
    /// The sections run, in order.
    pub fn sections(self) -> &'static [Section] {
        match self {
            Procedure::Update => &[
                Section::DependencyResolution,
                Section::PayloadFetch,
                Section::CandidateVerification,
                Section::Install,
                Section::Validate,
            ],
            Procedure::Invoke => &[Section::Validate, Section::Load, Section::Invoke],
        }
    }
}

/// What a successful run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Anchors that authenticated the root manifest.
    pub signers: Vec<AnchorId>,
    /// The root manifest's sequence number (stored on commit for [`Procedure::Update`]).
    pub sequence_number: u64,
    /// The root manifest's digest.
    pub manifest_digest: Digest,
    /// Components whose staged content was committed.
    pub committed: Vec<ComponentId>,
    /// Components invoked.
    pub invoked: Vec<ComponentId>,
    /// Steps the run took, of at most [`interpreter::MAX_STEPS`].
    pub steps: u64,
}

/// Runs `procedure` for an envelope: decode, authenticate against `policy`'s anchors, apply
/// policy and rollback checks, execute, and commit through `platform` only if every step
/// succeeded (otherwise everything staged is discarded).
///
/// `keys` chooses, after authentication and per manifest signer set, the keys payload
/// decryption may use (a plain key set serves every signer).
pub fn process<P: Platform + ?Sized>(
    envelope: &[u8],
    procedure: Procedure,
    policy: &Policy,
    keys: &dyn KeySource,
    platform: &mut P,
) -> Result<Outcome, Error> {
    let result = run(envelope, procedure, policy, keys, platform);
    if result.is_err() {
        platform.discard();
    }
    result
}

#[inline(never)]
fn run<P: Platform + ?Sized>(
    envelope: &[u8],
    procedure: Procedure,
    policy: &Policy,
    keys: &dyn KeySource,
    platform: &mut P,
) -> Result<Outcome, Error> {
    let Checked { auth } = check(envelope, procedure, policy, |key| {
        platform.sequence_number(key)
    })?;
    let manifest = &auth.manifest;
    let key = manifest.rollback_key();

    let mut machine = Machine::new(platform, policy, keys);
    machine.installing = procedure == Procedure::Update;
    machine.run_root(
        manifest,
        auth.integrated_payloads(),
        &auth.signers,
        procedure.sections(),
    )?;

    // Decrypted bytes are committed only once authenticated (firmware-encryption draft,
    // "Payload Integrity Validation"; a device policy may also demand a plaintext digest).
    if let Some(s) = machine
        .staged
        .iter()
        .find(|s| !s.committable(policy.require_plaintext_digest))
    {
        return Err(Error::UnverifiedPlaintext(s.component.clone()));
    }
    // Device policy: content kept inside the TEE is committed on the signed manifest's word,
    // not on the REE's (a fetch or integrated payload no digest names).
    if let Some(c) = machine.unvouched() {
        return Err(Error::UnvouchedContent(c.clone()));
    }
    // A component read as the source of a decrypting copy is the ciphertext download buffer
    // of the firmware-encryption draft's fetch-then-copy form: the plaintext is what gets
    // installed, the ciphertext is dropped rather than kept as a component of its own.
    let buffers: Vec<ComponentId> = machine
        .staged
        .iter()
        .filter(|s| s.consumed)
        .map(|s| s.component.clone())
        .collect();
    machine.staged.retain(|s| !s.consumed);
    for b in &buffers {
        machine.platform().stage_discard(b);
    }
    let committed: Vec<ComponentId> = machine.staged.iter().map(|s| s.component.clone()).collect();
    let staged_by: Vec<u64> = machine.staged.iter().map(|s| s.sequence_number).collect();
    let withheld: Vec<ComponentId> = machine
        .staged
        .iter()
        .filter(|s| s.disclosure() == platform::Disclosure::Withheld)
        .map(|s| s.component.clone())
        .collect();
    let invoked = core::mem::take(&mut machine.invoked);
    let steps = machine.steps();
    let updates = core::mem::take(&mut machine.sequence_updates);
    let unlinked = core::mem::take(&mut machine.unlinked);
    machine.release_run_memory();
    let platform = machine.platform();
    if procedure == Procedure::Update {
        platform
            .stage_sequence_number(&key, manifest.sequence_number, &auth.signers)
            .map_err(platform_error)?;
        for (k, v, signers) in &updates {
            platform
                .stage_sequence_number(k, *v, signers)
                .map_err(platform_error)?;
        }
        // Content and removals alike, under the number of the manifest that acted on each.
        let acted_on = committed.iter().zip(&staged_by);
        for (c, v) in acted_on.chain(unlinked.iter().map(|(c, v)| (c, v))) {
            platform
                .stage_component_sequence_number(c, *v)
                .map_err(platform_error)?;
        }
    }
    for c in &withheld {
        platform.stage_digest_withheld(c);
    }
    platform.commit().map_err(platform_error)?;
    Ok(Outcome {
        signers: auth.signers.clone(),
        sequence_number: manifest.sequence_number,
        manifest_digest: auth.digest,
        committed,
        invoked,
        steps,
    })
}

fn platform_error(e: platform::PlatformError) -> Error {
    Error::Platform(e)
}
