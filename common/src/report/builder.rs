//! The reporting engine (manifest draft §8.4.9.1, reporting policy): collects the records a
//! command's policy asks for while the engine runs, and finishes them into a [`Report`].

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{
    command_label, policy, section_label, Entry, Failure, Report, ReportError, ReportRecord,
    ReportResult, StoredSigner, SystemProperties, Value, MAX_NONCE_LEN, MAX_PROPERTIES,
    MAX_RECORDS, MAX_URI_LEN, MAX_WALK,
};
use crate::service::state::AnchorRecord;
use crate::suit::component::ComponentId;
use crate::suit::error::Error;
use crate::suit::platform::Record;
use crate::suit::{AuthenticatedManifest, Outcome};

/// Collects one procedure's records and finishes it into a [`Report`].
///
/// Owned by whoever owns the run (the TA service): the platform's `report` hook calls
/// [`ReportBuilder::record`], and the service finishes it with [`ReportBuilder::succeed`] or
/// [`ReportBuilder::fail`] and signs the result.
#[derive(Debug, Clone, Default)]
pub struct ReportBuilder {
    authenticated: Option<bool>,
    uri: Option<String>,
    digest: Option<[u8; 32]>,
    nonce: Option<Vec<u8>>,
    sequence_number: Option<u64>,
    components: Vec<ComponentId>,
    entries: Vec<Entry>,
    dropped: u64,
}

impl ReportBuilder {
    /// An empty builder (no manifest known yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for a run over an authenticated manifest: the reference (digest, URI), the
    /// sequence number and the component list that gives records their component index.
    pub fn for_manifest(claims: &ManifestClaims) -> Self {
        let mut b = Self::new();
        b.authenticated = Some(true);
        b.digest = Some(claims.digest);
        b.set_reference_uri(claims.uri.as_deref());
        b.sequence_number = Some(claims.sequence_number);
        b.components = claims.components.clone();
        b
    }

    /// The report of an attempt refused before its manifest was authenticated: the failure
    /// only. No reference, sequence number or records: the bytes are the REE's, and the
    /// device signs no claim taken from them (nor decodes more of them than it did).
    pub fn refused_before_authentication(error: Arc<Error>) -> Report {
        let mut b = Self::new();
        b.authenticated = Some(false);
        b.fail_with(Failure::from_shared_error(error, None))
    }

    /// The report of an authentic manifest (digest matched, a signature verified) that does
    /// not decode: its digest is authentic and reported; nothing else of it is known.
    pub fn refused_undecodable(digest: [u8; 32], error: Arc<Error>) -> Report {
        let mut b = Self::new();
        b.authenticated = Some(true);
        b.digest = Some(digest);
        b.fail_with(Failure::from_shared_error(error, None))
    }

    /// Sets the manifest digest.
    pub fn set_manifest_digest(&mut self, digest: Option<[u8; 32]>) {
        self.digest = digest;
    }

    /// Sets the manifest reference URI (left out if longer than [`MAX_URI_LEN`]).
    pub fn set_reference_uri(&mut self, uri: Option<&str>) {
        self.uri = uri.filter(|u| u.len() <= MAX_URI_LEN).map(String::from);
    }

    /// Sets the nonce (freshness challenge from the status tracker).
    pub fn set_nonce(&mut self, nonce: &[u8]) -> Result<(), ReportError> {
        if nonce.len() > MAX_NONCE_LEN {
            return Err(ReportError::TooLarge("nonce"));
        }
        self.nonce = Some(nonce.to_vec());
        Ok(())
    }

    /// Sets the root manifest's sequence number (extension).
    pub fn set_sequence_number(&mut self, n: Option<u64>) {
        self.sequence_number = n;
    }

    /// Whether `record`'s policy asks for a record of it.
    pub fn wants_record(record: &Record<'_>) -> bool {
        let bit = if record.success {
            policy::RECORD_ON_SUCCESS
        } else {
            policy::RECORD_ON_FAILURE
        };
        record.policy & bit != 0
    }

    /// Whether `record`'s policy asks for system information about its component.
    pub fn wants_sysinfo(record: &Record<'_>) -> bool {
        let bit = if record.success {
            policy::SYSINFO_SUCCESS
        } else {
            policy::SYSINFO_FAILURE
        };
        record.policy & bit != 0 && record.component.is_some()
    }

    /// Takes one engine record (call from `Platform::report`). Keeps a SUIT_Record if the
    /// policy bits ask for one; returns [`ReportBuilder::wants_sysinfo`], and the caller then
    /// passes the component's measured properties to [`ReportBuilder::system_properties`].
    ///
    /// The engine's [`Record`] locates the command exactly: the dependency walk
    /// (suit-record-manifest-id), the section, the byte offset in the section's command
    /// sequence and the component index in the manifest that holds the command. The command
    /// label and its success go in the record's extension elements.
    pub fn record(&mut self, record: &Record<'_>) -> bool {
        self.record_at(record, None, None)
    }

    /// As [`ReportBuilder::record`], with the offset and component index replaced by the
    /// caller's where given.
    pub fn record_at(
        &mut self,
        record: &Record<'_>,
        offset: Option<u64>,
        component_index: Option<usize>,
    ) -> bool {
        if Self::wants_record(record) {
            let component_index = component_index.or(record.component_index);
            let walk = record.manifest_id;
            let r = ReportRecord {
                manifest_id: walk.get(..walk.len().min(MAX_WALK)).unwrap_or(&[]).to_vec(),
                section: section_label(record.section),
                offset: offset.unwrap_or(record.offset),
                component_index: component_index.map_or(0, |i| i as u64),
                properties: Vec::new(),
                command: Some(command_label(record.event)),
                success: Some(record.success),
            };
            self.push(Entry::Record(r));
        }
        Self::wants_sysinfo(record)
    }

    /// Adds a system-property claim for `component` (e.g. [`image_properties`]).
    pub fn system_properties(&mut self, component: &ComponentId, properties: Vec<(i64, Value)>) {
        let mut properties = properties;
        properties.truncate(MAX_PROPERTIES);
        self.push(Entry::System(SystemProperties {
            component: component.clone(),
            properties,
        }));
    }

    /// Finishes a successful run.
    pub fn succeed(self, outcome: &Outcome) -> Report {
        let mut b = self;
        b.digest = Some(outcome.manifest_digest.0);
        b.sequence_number = Some(outcome.sequence_number);
        b.finish(ReportResult::Success)
    }

    /// Finishes a run the engine refused; `envelope` (the bytes given to the engine) lets a
    /// failed command of the root manifest be located by byte offset.
    pub fn fail(self, error: &Error, envelope: Option<&[u8]>) -> Report {
        self.fail_with(Failure::from_error(error, envelope))
    }

    /// [`Self::fail`] with the error the caller's refusal shares.
    pub fn fail_shared(self, error: Arc<Error>, envelope: Option<&[u8]>) -> Report {
        self.fail_with(Failure::from_shared_error(error, envelope))
    }

    /// Finishes a run with a failure described by the caller.
    pub fn fail_with(self, failure: Failure) -> Report {
        self.finish(ReportResult::Failure(failure))
    }

    /// A report for a refusal before or outside the engine (bad envelope, policy, rollback,
    /// install protocol, storage): no records, just the manifest (if known) and the failure.
    pub fn failure(manifest_digest: Option<[u8; 32]>, failure: Failure) -> Report {
        let mut b = Self::new();
        b.digest = manifest_digest;
        b.fail_with(failure)
    }

    fn finish(self, result: ReportResult) -> Report {
        Report {
            authenticated: self.authenticated,
            device_state: None,
            manifest_uri: self.uri,
            manifest_digest: self.digest,
            nonce: self.nonce,
            entries: self.entries,
            result,
            sequence_number: self.sequence_number,
            dropped_records: self.dropped,
            has_capability_report: false,
            other_manifest_digest: None,
        }
    }

    fn push(&mut self, entry: Entry) -> bool {
        if self.entries.len() >= MAX_RECORDS {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        self.entries.push(entry);
        true
    }
}

/// What a report may claim about an attempt's manifest, taken from the authenticated manifest
/// only (kept by the install session between its steps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestClaims {
    /// SHA-256 of the bstr-wrapped manifest (verified against the authentication wrapper).
    pub digest: [u8; 32],
    /// suit-reference-uri, if the manifest has one.
    pub uri: Option<String>,
    /// The root manifest's sequence number.
    pub sequence_number: u64,
    /// The root manifest's components, for record component indices.
    pub components: Vec<ComponentId>,
    /// The anchors that authenticated the manifest and own all of it, each with the key
    /// scope it had then, in the state's anchor order (not a claim of the report: the device
    /// seals the report to the status tracker key of the first of them that still has one
    /// when the report is signed).
    pub signers: Vec<StoredSigner>,
}

impl ManifestClaims {
    /// The claims of an authenticated manifest; `anchors` are the state's anchors it was
    /// authenticated with. Each signer is taken with its key scope there and then: an anchor
    /// removed and added again under the same id before the install's report is stored (a
    /// provisioning message between prepare and finish) is another anchor, and does not get
    /// that report.
    ///
    /// Only signers whose scope covers every component of the manifest and its
    /// manifest-component-id are kept: the report speaks of all of them, and a co-signer over
    /// part of it (or none: a signature over a public digest is easy to add) must not have it
    /// sealed to its tracker. They are kept in the state's order, never the envelope's: the
    /// order of signatures in the authentication wrapper is covered by no signature, so the
    /// REE could otherwise choose the recipient.
    pub fn of(auth: &AuthenticatedManifest<'_>, anchors: &[AnchorRecord]) -> Self {
        let manifest = &auth.manifest;
        let owns_all = |a: &AnchorRecord| {
            let prefixes: Vec<ComponentId> = a
                .scope
                .component_prefixes
                .iter()
                .map(|p| crate::service::state::component_from(p))
                .collect();
            let permits = |c: &ComponentId| prefixes.iter().any(|p| c.starts_with(p));
            manifest.common.components.iter().all(permits)
                && manifest.manifest_component_id.as_ref().is_none_or(permits)
        };
        let signers = anchors
            .iter()
            .filter(|a| auth.signers.contains(&a.id) && owns_all(a))
            .take(super::MAX_STORED_SIGNERS)
            .map(|a| StoredSigner {
                anchor: a.id,
                key_scope: a.key_scope,
            })
            .collect();
        ManifestClaims {
            digest: auth.digest.0,
            uri: auth.manifest.reference_uri.clone(),
            sequence_number: auth.manifest.sequence_number,
            components: auth.manifest.common.components.clone(),
            signers,
        }
    }
}
