//! What an engine error means in a report: its suit-report-result-reason and result code
//! (classification), and where it happened (the failure record, with the byte offset and
//! label of a failed command found by walking the root manifest's command sequences).

use alloc::vec::Vec;

use super::{code, section_label, Reason, ReportRecord, MAX_WALK};
use crate::cbor::{Decoder, Item};
use crate::cose::CoseError;
use crate::encryption::DecryptError;
use crate::registry::{Command, CommonKey, ManifestKey};
use crate::suit::error::{
    AuthError, CommandErrorKind, Error, Location, PolicyError, Section, Unsupported,
};
use crate::suit::Envelope;

/// `code::COMMAND + n` for each command-error kind.
pub fn command_error_code(kind: &CommandErrorKind) -> i64 {
    let n = match kind {
        CommandErrorKind::ConditionFailed(_) => 0,
        CommandErrorKind::MissingParameter(_) => 1,
        CommandErrorKind::ComponentIndexOutOfRange(_) => 2,
        CommandErrorKind::TryEachExhausted => 3,
        CommandErrorKind::SoftFailureOutsideTryEach => 4,
        CommandErrorKind::MissingComponentIndex => 5,
        CommandErrorKind::ImageDigestMismatch => 6,
        CommandErrorKind::ImageSizeMismatch => 7,
        CommandErrorKind::PayloadTooLarge => 8,
        CommandErrorKind::MissingIntegratedPayload => 9,
        CommandErrorKind::NotADependency => 10,
        CommandErrorKind::DependencyNotVerified => 11,
        CommandErrorKind::DependencyDigestMismatch => 12,
        CommandErrorKind::Dependency(_) => 13,
        CommandErrorKind::DependencyTooDeep => 14,
        CommandErrorKind::NotAllowedInShared => 15,
        CommandErrorKind::SourceIsDestination => 16,
        CommandErrorKind::UnsupportedCommand(_) => 17,
        CommandErrorKind::Platform(_) => 18,
        CommandErrorKind::Decrypt(_) => 19,
        CommandErrorKind::Policy(_) => 20,
        CommandErrorKind::UnauthenticatedContent => 21,
        CommandErrorKind::DecryptingFetch => 22,
        CommandErrorKind::UnorderedSourceAndTarget { .. } => 40,
        CommandErrorKind::UnorderedRunSequenceIndex => 41,
        CommandErrorKind::DependencyNotProcessed => 42,
        CommandErrorKind::DependencyOverwrite => 43,
        CommandErrorKind::UpdateManagement(_) => 23,
        CommandErrorKind::Limit(_) => 44,
        CommandErrorKind::ForeignEncryptionInfo => 45,
        CommandErrorKind::DependencyNotHeld => 46,
    };
    code::COMMAND + n
}

pub(super) fn classify(error: &Error) -> (Reason, i64) {
    match error {
        Error::Decode { .. } => (Reason::CborParse, code::DECODE),
        Error::Invalid { .. } => (Reason::CborParse, code::INVALID),
        Error::Unsupported(u) => match u {
            Unsupported::ManifestVersion(_) => (Reason::CborParse, code::UNSUPPORTED_VERSION),
            Unsupported::DigestAlgorithm(_) => (Reason::AlgUnsupported, code::UNSUPPORTED_DIGEST),
            Unsupported::Member(_) => (Reason::CborParse, code::UNSUPPORTED_MEMBER),
            Unsupported::Parameter(_) => {
                (Reason::ParameterUnsupported, code::UNSUPPORTED_PARAMETER)
            }
            Unsupported::Command(_) => (Reason::CommandUnsupported, code::UNSUPPORTED_COMMAND),
            Unsupported::UnauthenticatedManifest => {
                (Reason::Unauthorised, code::UNAUTHENTICATED_MANIFEST)
            }
        },
        Error::Auth(a) => match a {
            AuthError::NoAuthenticationBlock => (Reason::Unauthorised, code::AUTH_NO_BLOCK),
            AuthError::ManifestDigestMismatch => (Reason::Unauthorised, code::AUTH_DIGEST_MISMATCH),
            AuthError::NoMatchingTrustAnchor => (Reason::Unauthorised, code::AUTH_NO_ANCHOR),
            AuthError::BadSignature { .. } => (Reason::Unauthorised, code::AUTH_BAD_SIGNATURE),
            AuthError::Cose { error, .. } => match error {
                // "an unsupported COSE algorithm was encountered" (report draft §4.2): one
                // this engine lacks, one this build leaves out, a COSE_Mac recipient's.
                CoseError::UnsupportedAlgorithm(_)
                | CoseError::AlgorithmNotEnabled(_)
                | CoseError::UnsupportedRecipient(_) => (Reason::AlgUnsupported, code::AUTH_COSE),
                // A key of another type, or whose COSE_Key declares another algorithm: the
                // algorithm is supported, no key is authorised for it.
                CoseError::VerificationFailed | CoseError::KeyAlgorithmMismatch => {
                    (Reason::Unauthorised, code::AUTH_COSE)
                }
                _ => (Reason::CoseUnsupported, code::AUTH_COSE),
            },
            AuthError::SeveredMemberDigestMismatch { .. } => {
                (Reason::Unauthorised, code::AUTH_SEVERED_MISMATCH)
            }
            AuthError::UnexpectedEnvelopeMember { .. } => {
                (Reason::CborParse, code::AUTH_UNEXPECTED_MEMBER)
            }
            AuthError::Dependency(inner) => classify(inner),
        },
        Error::Policy(p) => classify_policy(p),
        Error::Command(c) => match &c.kind {
            CommandErrorKind::Dependency(inner) => classify(inner),
            kind => (command_reason(kind), command_error_code(kind)),
        },
        Error::UnverifiedPlaintext(_) => (Reason::OperationFailed, code::UNVERIFIED_PLAINTEXT),
        // Authentic manifest, content it does not vouch for: the command that would install
        // it fails; no signature failed (reason 4 is "Signature / MAC verification failed").
        Error::UnvouchedContent(_) => (Reason::OperationFailed, code::UNVOUCHED_CONTENT),
        Error::SeveredSectionMissing(_) => (Reason::SeveringUnsupported, code::SEVERED_MISSING),
        Error::Platform(_) => (Reason::OperationFailed, code::PLATFORM),
        Error::Limit(_) => (Reason::OperationFailed, code::LIMIT),
    }
}

fn classify_policy(p: &PolicyError) -> (Reason, i64) {
    match p {
        // No reason names rollback; the sequence-number check is a precondition that failed.
        PolicyError::Rollback { .. } | PolicyError::ComponentRollback { .. } => {
            (Reason::ConditionFailed, code::POLICY_ROLLBACK)
        }
        PolicyError::ComponentNotPermitted { .. } => {
            (Reason::ComponentUnauthorised, code::POLICY_COMPONENT)
        }
        PolicyError::MissingRequiredSigner { .. } => {
            (Reason::ComponentUnauthorised, code::POLICY_SIGNER)
        }
        PolicyError::IdentifierNotPermitted => {
            (Reason::ComponentUnauthorised, code::POLICY_IDENTIFIER)
        }
        PolicyError::SequenceKeyNotPermitted => {
            (Reason::ComponentUnauthorised, code::POLICY_SEQUENCE_KEY)
        }
        PolicyError::PlaintextNotPermitted { .. } => {
            (Reason::ComponentUnauthorised, code::POLICY_PLAINTEXT)
        }
        // A required update-management condition (update-authorized) the manifest lacks: a
        // precondition that failed, not a signature.
        PolicyError::UpdateManagement(_) => {
            (Reason::ConditionFailed, code::POLICY_UPDATE_MANAGEMENT)
        }
    }
}

fn command_reason(kind: &CommandErrorKind) -> Reason {
    match kind {
        CommandErrorKind::ConditionFailed(_) | CommandErrorKind::TryEachExhausted => {
            Reason::ConditionFailed
        }
        CommandErrorKind::UnsupportedCommand(_) => Reason::CommandUnsupported,
        CommandErrorKind::ComponentIndexOutOfRange(_) => Reason::ComponentUnsupported,
        CommandErrorKind::Policy(_) | CommandErrorKind::ForeignEncryptionInfo => {
            Reason::ComponentUnauthorised
        }
        // An encryption info's content or key distribution algorithm the device lacks.
        CommandErrorKind::Decrypt(
            DecryptError::UnsupportedContentAlgorithm(_)
            | DecryptError::UnsupportedRecipientAlgorithm(_),
        ) => Reason::AlgUnsupported,
        // An encryption info's COSE structure or header this device does not process ("an
        // unsupported COSE structure or header", report draft §4.2): as authentication reports
        // a malformed block or an unknown `crit`. Not-well-formed CBOR never gets here: the
        // manifest decoder refuses it first (cbor-parse).
        CommandErrorKind::Decrypt(
            DecryptError::Unsupported { .. } | DecryptError::Malformed { .. },
        ) => Reason::CoseUnsupported,
        // A failed update-management condition (version, use-before, battery, authorization,
        // image-not-match) is a failed condition; a wait or metadata failure an operation.
        CommandErrorKind::UpdateManagement(e) if e.is_condition() => Reason::ConditionFailed,
        _ => Reason::OperationFailed,
    }
}

pub(super) fn failure_record(error: &Error, envelope: Option<&[u8]>) -> ReportRecord {
    let mut walk: Vec<u64> = Vec::new();
    let mut e = error;
    loop {
        match e {
            Error::Command(c) => match &c.kind {
                CommandErrorKind::Dependency(inner) if walk.len() < MAX_WALK => {
                    walk.push(c.location.component.map_or(0, |i| i as u64));
                    e = inner;
                }
                _ => return command_record(walk, &c.location, envelope),
            },
            Error::Auth(AuthError::Dependency(inner)) => e = inner,
            Error::Policy(PolicyError::ComponentNotPermitted { component })
            | Error::Policy(PolicyError::MissingRequiredSigner { component, .. }) => {
                let mut r = ReportRecord::outside_commands(Some(*component));
                r.manifest_id = walk;
                return r;
            }
            _ => {
                let mut r = ReportRecord::outside_commands(None);
                r.manifest_id = walk;
                return r;
            }
        }
    }
}

fn command_record(walk: Vec<u64>, loc: &Location, envelope: Option<&[u8]>) -> ReportRecord {
    // The engine gives the offset at every depth; the command label is read back from the
    // root manifest's bytes when the caller holds them (a dependency's are not kept).
    let label = match envelope {
        Some(env) if walk.is_empty() && loc.offset.is_some() => {
            command_offset(env, loc.section, &loc.path)
                .filter(|(o, _)| Some(*o) == loc.offset)
                .map(|(_, l)| l)
        }
        _ => None,
    };
    ReportRecord {
        manifest_id: walk,
        section: section_label(loc.section),
        offset: loc.offset.unwrap_or(0),
        component_index: loc.component.map_or(0, |i| i as u64),
        properties: Vec::new(),
        command: label,
        success: label.map(|_| false),
    }
}

const CMD_TRY_EACH: i64 = Command::TryEach.value();
const CMD_RUN_SEQUENCE: i64 = Command::RunSequence.value();

/// Byte offset (into the section's command sequence, nested sequences included) and label of
/// the command at `path` (the engine's [`Location::path`]) in the root manifest of `envelope`.
pub fn command_offset(envelope: &[u8], section: Section, path: &[u16]) -> Option<(u64, i64)> {
    let env = Envelope::decode(envelope).ok()?;
    let seq = section_bytes(&env, section)?;
    walk_sequence(seq, path, 0)
}

fn section_bytes<'a>(env: &Envelope<'a>, section: Section) -> Option<&'a [u8]> {
    let key = match section {
        Section::Shared => {
            let common = map_value(env.manifest, ManifestKey::Common.value())?;
            let common = Decoder::new(common).bytes().ok()?;
            let shared = map_value(common, CommonKey::SharedSequence.value())?;
            return Decoder::new(shared).bytes().ok();
        }
        s => section_label(s),
    };
    let value = map_value(env.manifest, key)?;
    let mut d = Decoder::new(value);
    match d.peek().ok()? {
        Item::Bytes(_) => d.bytes().ok(),
        // Severed: the envelope carries it under the same key.
        _ => env
            .severed
            .iter()
            .find(|m| m.label == key)
            .map(|m| m.content),
    }
}

/// The encoded value of integer key `key` in the map `bytes`.
fn map_value(bytes: &[u8], key: i64) -> Option<&[u8]> {
    let mut d = Decoder::new(bytes);
    let n = d.map().ok()?;
    for _ in 0..n {
        let k = d.int().ok();
        let v = d.skip().ok()?;
        if k == Some(key) {
            return Some(v);
        }
    }
    None
}

fn walk_sequence(seq: &[u8], path: &[u16], base: u64) -> Option<(u64, i64)> {
    let (&target, rest) = path.split_first()?;
    let mut d = Decoder::new(seq);
    let n = d.array().ok()? / 2;
    for i in 0..n {
        let pos = d.position() as u64;
        let label = d.int().ok()?;
        if i != usize::from(target) {
            d.skip().ok()?;
            continue;
        }
        let here = base.checked_add(pos)?;
        if rest.is_empty() {
            return Some((here, label));
        }
        return match label {
            CMD_TRY_EACH => {
                let (&option, inner) = rest.split_first()?;
                let m = d.array().ok()?;
                for j in 0..m {
                    if j == usize::from(option) {
                        let content = d.bytes().ok()?;
                        let start = d.position().checked_sub(content.len())? as u64;
                        return walk_sequence(content, inner, base.checked_add(start)?);
                    }
                    d.skip().ok()?;
                }
                None
            }
            CMD_RUN_SEQUENCE => {
                let content = d.bytes().ok()?;
                let start = d.position().checked_sub(content.len())? as u64;
                walk_sequence(content, rest, base.checked_add(start)?)
            }
            _ => Some((here, label)),
        };
    }
    None
}
