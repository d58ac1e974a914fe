//! The typed SUIT_Manifest (draft-ietf-suit-manifest §8.4, plus the trust-domains members).
//!
//! Only decoded from bytes whose digest and signature have already been checked (see
//! `authenticate`); the decoder is crate-private so no caller can skip that order.

use crate::suit::words::Words;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cbor::{Decoder, Item, SeenEncodedKeys, SeenKeys};
use crate::registry::{CommonKey, DependencyMetadataKey, ManifestKey as M};
use crate::suit::command::CommandSequence;
use crate::suit::component::ComponentId;
use crate::suit::digest::Digest;
use crate::suit::error::{DecodeContext, Error, Section, Unsupported};

/// Most components (plus dependencies) one manifest may declare.
pub const MAX_COMPONENTS: usize = 16;

/// Longest suit-reference-uri accepted (device policy, CONFORMANCE.md): long enough for
/// pre-signed download URLs, and what a report can repeat exactly.
pub const MAX_REFERENCE_URI_LEN: usize = 2048;

/// A severable member: absent, present in the manifest, or replaced by its digest.
#[derive(Debug, Clone, PartialEq)]
pub enum Severable<T> {
    /// Not in the manifest at all.
    Absent,
    /// Present (inline, or restored from the envelope after its digest matched).
    Present(T),
    /// Severed: only the digest is in the manifest and the envelope did not carry the member.
    Severed(Digest),
}

impl<T> Severable<T> {
    /// The member if present.
    pub fn get(&self) -> Option<&T> {
        match self {
            Severable::Present(t) => Some(t),
            _ => None,
        }
    }
}

/// A dependency declared in `suit-common` (trust domains §5.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Component index that holds the dependency's envelope.
    pub index: usize,
    /// suit-dependency-prefix, if given (recorded; not applied to the dependency's components).
    pub prefix: Option<ComponentId>,
}

/// suit-common.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Common {
    /// suit-components: the identifiers commands refer to by index.
    pub components: Vec<ComponentId>,
    /// suit-dependencies (trust domains): which indices hold dependency envelopes.
    pub dependencies: Vec<Dependency>,
    /// suit-shared-sequence: run before every other sequence; parameters and checks only.
    pub shared_sequence: Option<CommandSequence>,
}

/// A decoded, authenticated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// suit-manifest-sequence-number: monotonic, for rollback protection.
    pub sequence_number: u64,
    /// suit-reference-uri.
    pub reference_uri: Option<String>,
    /// suit-common.
    pub common: Common,
    /// suit-manifest-component-id (trust domains): where a root manifest is stored.
    pub manifest_component_id: Option<ComponentId>,
    /// suit-validate (7).
    pub validate: Option<CommandSequence>,
    /// suit-load (8).
    pub load: Option<CommandSequence>,
    /// suit-invoke (9).
    pub invoke: Option<CommandSequence>,
    /// suit-uninstall (24, trust domains).
    pub uninstall: Option<CommandSequence>,
    /// suit-dependency-resolution (15, trust domains).
    pub dependency_resolution: Severable<CommandSequence>,
    /// suit-payload-fetch (16).
    pub payload_fetch: Severable<CommandSequence>,
    /// suit-candidate-verification (18, trust domains).
    pub candidate_verification: Severable<CommandSequence>,
    /// suit-install (20).
    pub install: Severable<CommandSequence>,
    /// suit-text (23), kept encoded (checked well-formed; never interpreted by the engine).
    pub text: Severable<Vec<u8>>,
    /// suit-set-version (6, update management): the manifest's version. Metadata for
    /// management systems: the engine reads it, conditions never depend on it.
    pub set_version: Option<Vec<i64>>,
    /// suit-coswid (14, update management), kept encoded (checked well-formed, not
    /// interpreted: this device does not consume CoSWID), inline or severed.
    pub coswid: Severable<Vec<u8>>,
}

impl Manifest {
    /// Decodes a manifest from the content of the envelope's `suit-manifest` bstr.
    #[inline(never)]
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, Error> {
        const AT: Words = Words::SuitManifest;
        let mut dec = Decoder::new(bytes);
        let n = dec.map().at(AT)?;
        let mut seen = SeenKeys::default();
        let mut version = None;
        let mut sequence_number = None;
        let mut common = None;
        let mut m = Manifest {
            sequence_number: 0,
            reference_uri: None,
            common: Common::default(),
            manifest_component_id: None,
            validate: None,
            load: None,
            invoke: None,
            uninstall: None,
            dependency_resolution: Severable::Absent,
            payload_fetch: Severable::Absent,
            candidate_verification: Severable::Absent,
            install: Severable::Absent,
            text: Severable::Absent,
            set_version: None,
            coswid: Severable::Absent,
        };
        for _ in 0..n {
            let off = dec.position();
            let key = dec.int().at(AT)?;
            seen.insert(key, off).at(AT)?;
            match M::from_value(key) {
                Some(M::Version) => version = Some(dec.uint().at(AT)?),
                Some(M::SequenceNumber) => sequence_number = Some(dec.uint().at(AT)?),
                Some(M::Common) => {
                    let inner = dec.wrapped().at(AT)?;
                    common = Some(decode_common(inner)?);
                }
                Some(M::ReferenceUri) => {
                    let uri = dec.text().at(AT)?;
                    if uri.len() > MAX_REFERENCE_URI_LEN {
                        return Err(Error::Limit(Words::SuitReferenceUriLength));
                    }
                    m.reference_uri = Some(String::from(uri));
                }
                Some(M::ManifestComponentId) => {
                    m.manifest_component_id = Some(ComponentId::decode(&mut dec)?)
                }
                Some(M::Validate) => m.validate = Some(sequence(&mut dec)?),
                Some(M::Load) => m.load = Some(sequence(&mut dec)?),
                Some(M::Invoke) => m.invoke = Some(sequence(&mut dec)?),
                Some(M::Uninstall) => m.uninstall = Some(sequence(&mut dec)?),
                Some(M::DependencyResolution) => {
                    m.dependency_resolution = severable_sequence(&mut dec)?
                }
                Some(M::PayloadFetch) => m.payload_fetch = severable_sequence(&mut dec)?,
                Some(M::CandidateVerification) => {
                    m.candidate_verification = severable_sequence(&mut dec)?
                }
                Some(M::Install) => m.install = severable_sequence(&mut dec)?,
                Some(M::Text) => {
                    m.text = if is_digest(&dec) {
                        Severable::Severed(Digest::decode(&mut dec)?)
                    } else {
                        Severable::Present(dec.wrapped().at(AT)?.skip().at(AT)?.to_vec())
                    }
                }
                Some(M::SetVersion) => {
                    m.set_version = Some(crate::suit::update_management::decode_set_version(
                        dec.bytes().at(AT)?,
                    )?)
                }
                Some(M::Coswid) => {
                    m.coswid = if is_digest(&dec) {
                        Severable::Severed(Digest::decode(&mut dec)?)
                    } else {
                        let inner = dec.bytes().at(AT)?;
                        crate::cbor::check_well_formed(inner).at(Words::ConciseSwidTag)?;
                        Severable::Present(inner.to_vec())
                    }
                }
                None => return Err(Error::Unsupported(Unsupported::Member(key))),
            }
        }
        dec.finish().at(AT)?;
        match version {
            Some(1) => {}
            Some(v) => return Err(Error::Unsupported(Unsupported::ManifestVersion(v))),
            None => {
                return Err(Error::Invalid {
                    at: AT,
                    reason: Words::MissingSuitManifestVersion,
                })
            }
        }
        m.sequence_number = sequence_number.ok_or(Error::Invalid {
            at: AT,
            reason: Words::MissingSuitManifestSequenceNumber,
        })?;
        m.common = common.ok_or(Error::Invalid {
            at: AT,
            reason: Words::MissingSuitCommon,
        })?;
        if let Severable::Present(text) = &m.text {
            check_text(text, &m.common.components)?;
        }
        Ok(m)
    }

    /// Replaces a severed member by its envelope copy (whose digest the caller checked).
    pub(crate) fn restore_severed(&mut self, label: i64, content: &[u8]) -> Result<(), Error> {
        let seq = || CommandSequence::decode(content, false);
        match M::from_value(label) {
            Some(M::DependencyResolution) => {
                self.dependency_resolution = Severable::Present(seq()?)
            }
            Some(M::PayloadFetch) => self.payload_fetch = Severable::Present(seq()?),
            Some(M::CandidateVerification) => {
                self.candidate_verification = Severable::Present(seq()?)
            }
            Some(M::Install) => self.install = Severable::Present(seq()?),
            Some(M::Text) => {
                check_text(content, &self.common.components)?;
                self.text = Severable::Present(content.to_vec())
            }
            Some(M::Coswid) => {
                crate::cbor::check_well_formed(content).at(Words::ConciseSwidTag)?;
                self.coswid = Severable::Present(content.to_vec())
            }
            _ => return Err(Error::Unsupported(Unsupported::Member(label))),
        }
        Ok(())
    }

    /// What the manifest holds of severable member `label`: its digest if severed, whether
    /// it holds it inline; [`Severable::Absent`] for a label that is not a severable member.
    pub(crate) fn severable(&self, label: i64) -> Severable<()> {
        fn state<T>(s: &Severable<T>) -> Severable<()> {
            match s {
                Severable::Absent => Severable::Absent,
                Severable::Present(_) => Severable::Present(()),
                Severable::Severed(d) => Severable::Severed(*d),
            }
        }
        match M::from_value(label) {
            Some(M::DependencyResolution) => state(&self.dependency_resolution),
            Some(M::PayloadFetch) => state(&self.payload_fetch),
            Some(M::CandidateVerification) => state(&self.candidate_verification),
            Some(M::Install) => state(&self.install),
            Some(M::Text) => state(&self.text),
            Some(M::Coswid) => state(&self.coswid),
            _ => Severable::Absent,
        }
    }

    /// The command sequence of `section`: `Ok(None)` if the manifest has none,
    /// an error if it was severed and not supplied.
    pub fn section(&self, section: Section) -> Result<Option<&CommandSequence>, Error> {
        let sev = match section {
            Section::Shared => return Ok(self.common.shared_sequence.as_ref()),
            Section::Validate => return Ok(self.validate.as_ref()),
            Section::Load => return Ok(self.load.as_ref()),
            Section::Invoke => return Ok(self.invoke.as_ref()),
            Section::DependencyResolution => &self.dependency_resolution,
            Section::PayloadFetch => &self.payload_fetch,
            Section::CandidateVerification => &self.candidate_verification,
            Section::Install => &self.install,
        };
        match sev {
            Severable::Absent => Ok(None),
            Severable::Present(s) => Ok(Some(s)),
            Severable::Severed(_) => Err(Error::SeveredSectionMissing(section)),
        }
    }

    /// Number of component indices: the component list, extended by dependency indices
    /// beyond it (see [`Manifest::component_id`]).
    pub fn index_count(&self) -> usize {
        let deps = self.common.dependencies.iter().map(|d| d.index + 1).max();
        self.common.components.len().max(deps.unwrap_or(0))
    }

    /// The identifier behind a component index.
    ///
    /// Trust domains puts dependencies in the component list. Some published examples
    /// (suit-firmware-encryption's dependency example) number a dependency just past the
    /// list instead; such an index is accepted only if it is a declared dependency, and is
    /// identified by its dependency prefix.
    pub fn component_id(&self, index: usize) -> Option<ComponentId> {
        if let Some(c) = self.common.components.get(index) {
            return Some(c.clone());
        }
        self.dependency(index)
            .map(|d| d.prefix.clone().unwrap_or_default())
    }

    /// The dependency declared at `index`, if any.
    pub fn dependency(&self, index: usize) -> Option<&Dependency> {
        self.common.dependencies.iter().find(|d| d.index == index)
    }

    /// Key under which a root manifest's sequence number is stored: the encoded
    /// manifest-component-id if present, else [`Self::dependency_rollback_key`].
    pub fn rollback_key(&self) -> Vec<u8> {
        if let Some(id) = &self.manifest_component_id {
            return id.encode();
        }
        self.dependency_rollback_key()
    }

    /// Key under which a dependency's sequence number is stored: its encoded component list
    /// (trust domains: the manifest-component-id is ignored when processing dependencies).
    pub fn dependency_rollback_key(&self) -> Vec<u8> {
        let mut e = crate::cbor::Encoder::new();
        e.array(self.common.components.len());
        for c in &self.common.components {
            c.encode_to(&mut e);
        }
        e.into_bytes()
    }

    /// Heap the decoded manifest holds beyond the bytes its values copied: its command
    /// sequences' structures and its component identifiers (the components, dependency
    /// prefixes and manifest id: a one-byte segment is ~56 bytes of heap for 2 encoded), an
    /// upper estimate. A held dependency keeps its decode for the run (re-review s34).
    pub(crate) fn decoded_size(&self) -> usize {
        let ids = self
            .common
            .components
            .iter()
            .chain(
                self.common
                    .dependencies
                    .iter()
                    .filter_map(|d| d.prefix.as_ref()),
            )
            .chain(self.manifest_component_id.as_ref());
        self.sequences()
            .map(CommandSequence::decoded_size)
            .chain(ids.map(ComponentId::heap_size))
            .fold(0usize, usize::saturating_add)
    }

    /// All command sequences present (shared first), for static policy checks.
    pub(crate) fn sequences(&self) -> impl Iterator<Item = &CommandSequence> {
        [
            self.common.shared_sequence.as_ref(),
            self.dependency_resolution.get(),
            self.payload_fetch.get(),
            self.candidate_verification.get(),
            self.install.get(),
            self.validate.as_ref(),
            self.load.as_ref(),
            self.invoke.as_ref(),
            self.uninstall.as_ref(),
        ]
        .into_iter()
        .flatten()
    }
}

fn is_digest(dec: &Decoder<'_>) -> bool {
    matches!(dec.peek(), Ok(crate::cbor::Item::Array(_)))
}

fn sequence(dec: &mut Decoder<'_>) -> Result<CommandSequence, Error> {
    let inner = dec.bytes().at(Words::SuitManifest)?;
    CommandSequence::decode(inner, false)
}

fn severable_sequence(dec: &mut Decoder<'_>) -> Result<Severable<CommandSequence>, Error> {
    if is_digest(dec) {
        Ok(Severable::Severed(Digest::decode(dec)?))
    } else {
        Ok(Severable::Present(sequence(dec)?))
    }
}

/// suit-text as manifest-37 defines it, though nothing here reads it: a map of language tags
/// (RFC 9290's tag38-ltag) to maps of integer => text and component identifier => (integer =>
/// text), each map in canonical order, every component one suit-common lists.
fn check_text(text: &[u8], components: &[ComponentId]) -> Result<(), Error> {
    const AT: Words = Words::SuitTextMap;
    const LMAP: Words = Words::SuitTextLMap;
    let invalid = |at, reason| Error::Invalid { at, reason };
    // Preferred heads on every key, so a repeat is found by its bytes (a severed member's
    // content has had no other check).
    crate::cbor::check_well_formed(text).at(AT)?;
    let mut dec = Decoder::new(text);
    let languages = dec.map().at(AT)?;
    if languages == 0 {
        return Err(invalid(AT, Words::NeedsAtLeastOneLanguage));
    }
    let mut seen = SeenEncodedKeys::default();
    for _ in 0..languages {
        let off = dec.position();
        let tag = dec.text().at(AT)?;
        seen.insert(encoded(text, off, &dec), off).at(AT)?;
        if !is_language_tag(tag) {
            return Err(invalid(AT, Words::LanguageTag));
        }
        let entries = dec.map().at(LMAP)?;
        let mut seen_entries = SeenEncodedKeys::default();
        for _ in 0..entries {
            let off = dec.position();
            let component = match dec.peek().at(LMAP)? {
                Item::Uint(_) | Item::Nint(_) => {
                    dec.int().at(LMAP)?;
                    None
                }
                Item::Array(_) => Some(ComponentId::decode(&mut dec)?),
                _ => return Err(invalid(LMAP, Words::TextKey)),
            };
            seen_entries
                .insert(encoded(text, off, &dec), off)
                .at(LMAP)?;
            let Some(id) = component else {
                dec.text().at(LMAP)?;
                continue;
            };
            if !components.contains(&id) {
                return Err(invalid(LMAP, Words::ComponentNotInCommon));
            }
            let fields = dec.map().at(LMAP)?;
            let mut seen_fields = SeenKeys::default();
            for _ in 0..fields {
                let off = dec.position();
                seen_fields.insert(dec.int().at(LMAP)?, off).at(LMAP)?;
                dec.text().at(LMAP)?;
            }
        }
    }
    dec.finish().at(AT)
}

/// The bytes `dec` read since `from`: a map key as encoded.
fn encoded<'a>(input: &'a [u8], from: usize, dec: &Decoder<'_>) -> &'a [u8] {
    input.get(from..dec.position()).unwrap_or_default()
}

/// RFC 9290's `tag38-ltag`: `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let fits =
        |p: &str, ok: fn(&u8) -> bool| (1..=8).contains(&p.len()) && p.bytes().all(|b| ok(&b));
    parts
        .next()
        .is_some_and(|first| fits(first, u8::is_ascii_alphabetic))
        && parts.all(|p| fits(p, u8::is_ascii_alphanumeric))
}

fn decode_common(mut dec: Decoder<'_>) -> Result<Common, Error> {
    const AT: Words = Words::SuitCommon;
    let n = dec.map().at(AT)?;
    let mut seen = SeenKeys::default();
    let mut common = Common::default();
    for _ in 0..n {
        let off = dec.position();
        let key = dec.int().at(AT)?;
        seen.insert(key, off).at(AT)?;
        match CommonKey::from_value(key) {
            Some(CommonKey::Dependencies) => {
                let deps = dec.map().at(Words::SuitDependencies)?;
                let mut seen_idx = SeenKeys::default();
                for _ in 0..deps {
                    let off = dec.position();
                    let idx = dec.uint().at(Words::SuitDependencies)?;
                    let idx = usize::try_from(idx)
                        .ok()
                        .filter(|i| *i < MAX_COMPONENTS)
                        .ok_or(Error::Limit(Words::DependencyIndex))?;
                    seen_idx
                        .insert(idx as i64, off)
                        .at(Words::SuitDependencies)?;
                    let meta = dec.map().at(Words::SuitDependencyMetadata)?;
                    let mut prefix = None;
                    let mut seen_meta = SeenKeys::default();
                    for _ in 0..meta {
                        let off = dec.position();
                        let k = dec.int().at(Words::SuitDependencyMetadata)?;
                        seen_meta.insert(k, off).at(Words::SuitDependencyMetadata)?;
                        if k == DependencyMetadataKey::Prefix.value() {
                            prefix = Some(ComponentId::decode(&mut dec)?);
                        } else {
                            // Extensions carry no meaning for this engine.
                            dec.skip().at(Words::SuitDependencyMetadata)?;
                        }
                    }
                    common.dependencies.push(Dependency { index: idx, prefix });
                }
            }
            Some(CommonKey::Components) => {
                let count = dec.array().at(AT)?;
                if count == 0 {
                    return Err(Error::Invalid {
                        at: AT,
                        reason: Words::SuitComponentsMustNotBeEmpty,
                    });
                }
                if count > MAX_COMPONENTS {
                    return Err(Error::Limit(Words::ComponentsPerManifest));
                }
                for _ in 0..count {
                    common.components.push(ComponentId::decode(&mut dec)?);
                }
            }
            Some(CommonKey::SharedSequence) => {
                let inner = dec.bytes().at(AT)?;
                common.shared_sequence = Some(CommandSequence::decode(inner, true)?);
            }
            None => return Err(Error::Unsupported(Unsupported::Member(key))),
        }
    }
    dec.finish().at(AT)?;
    // Dependency indices past the list must follow it without gaps.
    let total = common
        .dependencies
        .iter()
        .map(|d| d.index + 1)
        .max()
        .unwrap_or(0)
        .max(common.components.len());
    for i in common.components.len()..total {
        if !common.dependencies.iter().any(|d| d.index == i) {
            return Err(Error::Invalid {
                at: AT,
                reason: Words::IndexNotComponentOrDependency,
            });
        }
    }
    Ok(common)
}
