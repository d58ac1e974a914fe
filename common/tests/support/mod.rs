//! Shared helpers for the conformance tests: vector loading, PEM key extraction and a
//! recording platform that logs every effect the engine asks for.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use base64::Engine as _;
use suit_common::cose::{SigningKey, VerificationKey};
use suit_common::suit::error::{ConditionKind, Section};
use suit_common::suit::platform::{Event, IdentifierKind, Platform, PlatformError, Record};
use suit_common::suit::policy::{Permissions, Policy, Role, TrustAnchor};
use suit_common::suit::ComponentId;

pub const VENDOR_ID: [u8; 16] = [
    0xfa, 0x6b, 0x4a, 0x53, 0xd5, 0xad, 0x5f, 0xdf, 0xbe, 0x9d, 0xe6, 0x63, 0xe4, 0xd4, 0x1f, 0xfe,
];
pub const CLASS_ID: [u8; 16] = [
    0x14, 0x92, 0xaf, 0x14, 0x25, 0x69, 0x5e, 0x48, 0xbf, 0x42, 0x9b, 0x2d, 0x51, 0xf2, 0xab, 0x45,
];
/// The dummy image digest used by every manifest-spec example.
pub const DUMMY_DIGEST: [u8; 32] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
];

/// Path of a vector file (copied into the repository; never /work/shared).
pub fn vector_path(rel: &str) -> String {
    format!("{}/../tests/vectors/{}", env!("CARGO_MANIFEST_DIR"), rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(vector_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Decodes a hex vector file (whitespace and line breaks ignored).
pub fn hex_file(rel: &str) -> Vec<u8> {
    let text = String::from_utf8(read(rel)).unwrap();
    let clean: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    hex::decode(clean).unwrap()
}

fn pem_der(rel: &str) -> Vec<u8> {
    let text = String::from_utf8(read(rel)).unwrap();
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// The uncompressed P-256 point of a SubjectPublicKeyInfo PEM (its last 65 bytes).
pub fn p256_public_from_pem(rel: &str) -> VerificationKey {
    let der = pem_der(rel);
    let point = &der[der.len() - 65..];
    assert_eq!(point[0], 0x04);
    VerificationKey::p256_from_sec1(point).unwrap()
}

/// The 32-byte scalar of a PKCS#8 or SEC1 P-256 private key PEM
/// (the OCTET STRING after ECPrivateKey's version 1).
pub fn p256_private_from_pem(rel: &str) -> SigningKey {
    let der = pem_der(rel);
    let pos = der
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
        .expect("ECPrivateKey");
    SigningKey::p256(&der[pos + 5..pos + 37]).unwrap()
}

pub fn anchor(id: u32, key: VerificationKey, role: Role) -> TrustAnchor {
    TrustAnchor {
        id,
        kid: Vec::new(),
        key,
        role,
        permissions: Permissions::everything(),
    }
}

/// Policy trusting the manifest-spec examples' key (author role, full permissions).
pub fn spec_policy() -> Policy {
    Policy {
        anchors: vec![anchor(
            1,
            p256_public_from_pem("suit-manifest-spec/public_key.pem"),
            Role::Author,
        )],
        rules: Vec::new(),
        require_plaintext_digest: false,
        update_management: Default::default(),
    }
}

/// Everything the engine asked the platform to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Condition {
        depth: u8,
        section: Section,
        kind: ConditionKind,
        component: Option<ComponentId>,
        ok: bool,
    },
    Directive {
        depth: u8,
        section: Section,
        event: Event,
        component: ComponentId,
        ok: bool,
    },
    FetchOpen(String),
    StageOpen(ComponentId),
    StageDiscard(ComponentId),
    Swap(ComponentId, ComponentId),
    Invoke(ComponentId),
    Commit,
    Discard,
}

/// An in-memory device that records every effect.
#[derive(Debug, Default)]
pub struct RecordingPlatform {
    pub vendor: Vec<u8>,
    pub class: Vec<u8>,
    pub device: Option<Vec<u8>>,
    /// Slot each component currently occupies.
    pub slots: BTreeMap<ComponentId, u64>,
    pub installed: BTreeMap<ComponentId, Vec<u8>>,
    pub staged: BTreeMap<ComponentId, Vec<u8>>,
    /// Payloads reachable by URI.
    pub remote: BTreeMap<String, Vec<u8>>,
    open: Option<(Vec<u8>, usize)>,
    pub sequence: BTreeMap<Vec<u8>, u64>,
    staged_sequence: BTreeMap<Vec<u8>, u64>,
    pub log: Vec<Effect>,
    pub invocable: bool,
    /// What was staged when the engine discarded (to inspect refused work).
    pub discarded_staged: BTreeMap<ComponentId, Vec<u8>>,
}

impl RecordingPlatform {
    /// A device matching the manifest-spec examples' vendor and class.
    pub fn spec_device() -> Self {
        RecordingPlatform {
            vendor: VENDOR_ID.to_vec(),
            class: CLASS_ID.to_vec(),
            invocable: true,
            ..Default::default()
        }
    }

    pub fn conditions(&self) -> Vec<(ConditionKind, bool)> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Condition { kind, ok, .. } => Some((*kind, *ok)),
                _ => None,
            })
            .collect()
    }

    pub fn directives(&self) -> Vec<(Event, ComponentId, bool)> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Effect::Directive {
                    event,
                    component,
                    ok,
                    ..
                } => Some((*event, component.clone(), *ok)),
                _ => None,
            })
            .collect()
    }

    pub fn committed(&self) -> bool {
        self.log.contains(&Effect::Commit)
    }

    pub fn discarded(&self) -> bool {
        self.log.contains(&Effect::Discard)
    }
}

impl Platform for RecordingPlatform {
    fn identifier_matches(&self, kind: IdentifierKind, _c: &ComponentId, value: &[u8]) -> bool {
        match kind {
            IdentifierKind::Vendor => value == self.vendor.as_slice(),
            IdentifierKind::Class => value == self.class.as_slice(),
            IdentifierKind::Device => self.device.as_deref() == Some(value),
        }
    }

    fn slot_matches(&self, component: &ComponentId, slot: u64) -> Result<bool, PlatformError> {
        Ok(self.slots.get(component) == Some(&slot))
    }

    fn fetch_open(&mut self, uri: &str, _args: Option<&[u8]>) -> Result<(), PlatformError> {
        self.log.push(Effect::FetchOpen(uri.into()));
        let data = self.remote.get(uri).ok_or(PlatformError::NotFound)?.clone();
        self.open = Some((data, 0));
        Ok(())
    }

    fn fetch_read(&mut self, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let (data, pos) = self.open.as_mut().ok_or(PlatformError::Io)?;
        // Deliberately small chunks, to exercise streaming.
        let n = (data.len() - *pos).min(buf.len()).min(7);
        buf[..n].copy_from_slice(&data[*pos..*pos + n]);
        *pos += n;
        Ok(n)
    }

    fn stage_open(&mut self, c: &ComponentId) -> Result<(), PlatformError> {
        self.log.push(Effect::StageOpen(c.clone()));
        self.staged.insert(c.clone(), Vec::new());
        Ok(())
    }

    fn stage_write(&mut self, c: &ComponentId, data: &[u8]) -> Result<(), PlatformError> {
        self.staged
            .get_mut(c)
            .ok_or(PlatformError::Io)?
            .extend_from_slice(data);
        Ok(())
    }

    fn stage_discard(&mut self, c: &ComponentId) {
        self.log.push(Effect::StageDiscard(c.clone()));
        self.staged.remove(c);
    }

    fn read(&self, c: &ComponentId, offset: u64, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let data = self
            .staged
            .get(c)
            .or_else(|| self.installed.get(c))
            .ok_or(PlatformError::NotFound)?;
        let off = offset as usize;
        if off >= data.len() {
            return Ok(0);
        }
        let n = (data.len() - off).min(buf.len());
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }

    fn swap(&mut self, a: &ComponentId, b: &ComponentId) -> Result<(), PlatformError> {
        self.log.push(Effect::Swap(a.clone(), b.clone()));
        Ok(())
    }

    fn invoke(&mut self, c: &ComponentId, _args: Option<&[u8]>) -> Result<(), PlatformError> {
        self.log.push(Effect::Invoke(c.clone()));
        if self.invocable {
            Ok(())
        } else {
            Err(PlatformError::Unsupported)
        }
    }

    fn sequence_number(&self, key: &[u8]) -> Result<Option<u64>, PlatformError> {
        Ok(self.sequence.get(key).copied())
    }

    fn stage_sequence_number(&mut self, key: &[u8], value: u64) -> Result<(), PlatformError> {
        self.staged_sequence.insert(key.to_vec(), value);
        Ok(())
    }

    fn commit(&mut self) -> Result<(), PlatformError> {
        self.log.push(Effect::Commit);
        let staged = std::mem::take(&mut self.staged);
        self.installed.extend(staged);
        let seq = std::mem::take(&mut self.staged_sequence);
        self.sequence.extend(seq);
        Ok(())
    }

    fn discard(&mut self) {
        self.log.push(Effect::Discard);
        self.discarded_staged = std::mem::take(&mut self.staged);
        self.staged_sequence.clear();
    }

    fn report(&mut self, r: &Record<'_>) {
        let e = match r.event {
            Event::Condition(kind) => Effect::Condition {
                depth: r.manifest_depth,
                section: r.section,
                kind,
                component: r.component.cloned(),
                ok: r.success,
            },
            event => Effect::Directive {
                depth: r.manifest_depth,
                section: r.section,
                event,
                component: r.component.cloned().unwrap_or_default(),
                ok: r.success,
            },
        };
        self.log.push(e);
    }
}

/// No device keys (for manifests without encryption).
pub fn no_keys() -> suit_common::encryption::MemoryKeys {
    suit_common::encryption::MemoryKeys::new()
}

/// Extracts the encoded manifest (content of key 3) from an envelope, via ciborium.
pub fn manifest_of(envelope: &[u8]) -> Vec<u8> {
    let v: ciborium::Value = ciborium::from_reader(envelope).unwrap();
    let v = match v {
        ciborium::Value::Tag(107, inner) => *inner,
        v => v,
    };
    let map = v.into_map().unwrap();
    map.into_iter()
        .find(|(k, _)| k == &ciborium::Value::Integer(3.into()))
        .unwrap()
        .1
        .into_bytes()
        .unwrap()
}

/// Replaces every occurrence of `from` by `to` (same length) in `data`.
pub fn replace_all(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = data.to_vec();
    let mut i = 0;
    let mut hits = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
            hits += 1;
        } else {
            i += 1;
        }
    }
    assert!(hits > 0, "pattern not found");
    out
}

pub fn cid(segments: &[&[u8]]) -> ComponentId {
    ComponentId::new(segments)
}
