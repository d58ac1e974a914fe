//! `suit-author create`: builds, encrypts and signs an envelope from a JSON description.
//!
//! The generated manifest follows the drafts' examples (reporting policy 15 throughout):
//!
//! * shared sequence, per component: set-component-index N; override-parameters {vendor-id,
//!   class-id, image-digest, image-size, [device-id]}; condition-vendor-identifier;
//!   condition-class-identifier; [condition-device-identifier]
//! * install, plaintext component: set-component-index N; override-parameters {uri};
//!   directive-fetch; condition-image-match
//! * install, encrypted component (draft-ietf-suit-firmware-encryption, "Directive Copy" and
//!   "Image Match before Decryption"): set-component-index B (the component's ciphertext
//!   buffer); override-parameters {image-digest, image-size of the *ciphertext*, uri};
//!   directive-fetch; condition-image-match; then set-component-index N;
//!   override-parameters {encryption-info, source-component B}; directive-copy (decrypts);
//!   condition-image-match (the plaintext digest from the shared sequence)
//! * the same with `"plaintext-digest": false` (AEAD only), but no image-digest for N in the
//!   shared sequence and no image-match after the copy: the tag authenticates the plaintext,
//!   and the device withholds the digest of content no signed digest names
//! * validate, per component N with a plaintext digest: set-component-index N;
//!   condition-image-match (no validate at all if none has one)
//!
//! The ciphertext buffer B is listed after the described components, with the identifier of its
//! plaintext component plus a last segment `'encrypted'` (so it falls under the same anchor
//! scope and component rules). Devices running this engine drop a buffer consumed by a
//! decrypting copy instead of installing it. Image digest and size in the shared sequence are
//! those of the *plaintext* (the size also without the digest: it is the ciphertext's less the
//! 16-byte tag, public anyway, and binds the copy to an exact length); decrypting fetches are
//! never emitted (the draft decrypts only on copy and write). Integrated payloads use the URI
//! `#component-N`. The description format is documented in host/README.md and in `suit-author
//! create --help`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use zeroize::Zeroizing;

use suit_common::cbor::Encoder;
use suit_common::cose::{Algorithm, SigningKey};
use suit_common::encryption::algorithms::ContentAlgorithm;
use suit_common::registry::{CommonKey, ManifestKey as M, TextKey};
use suit_common::suit::author::{seal_envelope_as, AuthForm, Signer};
use suit_common::suit::command::{
    Action, Command, CommandSequence, IndexArg, Parameters, VendorId,
};
use suit_common::suit::envelope::{MAX_ENVELOPE_LEN, MAX_INTEGRATED_PAYLOADS};
use suit_common::suit::error::ConditionKind;
use suit_common::suit::policy::{Role, TrustAnchor};
use suit_common::suit::ComponentId;
use suit_common::suit::{Digest, Envelope};

use super::encrypt::{encrypt_for, parse_content_alg, Mode, RecipientSpec, CONTENT_ALG_NAMES};
use super::keys;
use super::{read_file, AuthorError, Result};
use crate::files::payload_file_name;

/// Most components one generated manifest may hold (the engine's bound).
const MAX_COMPONENTS: usize = 16;
/// Reporting policy used on every condition and directive: record and report everything.
const REPORT_ALL: u64 = 15;

/// The description file (JSON). Unknown fields are refused so typos do not pass silently.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Description {
    /// suit-manifest-sequence-number; `--sequence-number` may give it instead.
    #[serde(default)]
    pub sequence_number: Option<u64>,
    /// Vendor identifier: a UUID string, or `{"name": "example.com"}` for
    /// UUIDv5(DNS namespace, name).
    pub vendor_id: IdSpec,
    /// Class identifier: a UUID, or `{"name": "model"}` for UUIDv5(vendor-id, name).
    pub class_id: IdSpec,
    /// Optional device identifier: a UUID, or `{"name": "serial"}` for UUIDv5(class-id, name).
    #[serde(default)]
    pub device_id: Option<IdSpec>,
    /// Optional suit-reference-uri.
    #[serde(default)]
    pub reference_uri: Option<String>,
    /// Optional suit-manifest-component-id (segments as for components).
    #[serde(default)]
    pub manifest_component_id: Option<Vec<String>>,
    /// The components, index 0 first.
    pub components: Vec<ComponentSpec>,
    /// suit-set-version (update management): the release as 1 to 8 integers, e.g. `[1,2,3]`
    /// or `[1,2,-1,3]` for 1.2-rc.3 (no build metadata).
    #[serde(default)]
    pub set_version: Option<Vec<i64>>,
    /// Optional suit-text (23): human-readable descriptions, never interpreted by a device.
    #[serde(default)]
    pub text: Option<TextDesc>,
}

/// suit-text's manifest-wide entries (SUIT_Text_LMap keys 1 and 2) and their language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TextDesc {
    /// The language tag (RFC 9290 tag38) the text is in; [`DEFAULT_TEXT_LANGUAGE`] if absent.
    #[serde(default)]
    pub language: Option<String>,
    /// suit-text-manifest-description (1).
    #[serde(default)]
    pub manifest_description: Option<String>,
    /// suit-text-update-description (2).
    #[serde(default)]
    pub update_description: Option<String>,
}

/// The language of suit-text when the description names none.
pub const DEFAULT_TEXT_LANGUAGE: &str = "en";

/// Whether `tag` has tag38-ltag's form: `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first = parts.next().unwrap_or_default();
    let sized = |p: &str| (1..=8).contains(&p.len());
    sized(first)
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| sized(p) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A UUID given directly or derived by name (UUIDv5, RFC 9019 §... / manifest draft §8.4.8).
#[derive(Debug)]
pub enum IdSpec {
    /// "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe"
    Uuid(String),
    /// {"name": "..."}
    Name {
        /// The name hashed into the UUIDv5.
        name: String,
    },
}

/// One component of the description.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ComponentSpec {
    /// Component identifier segments: text (UTF-8) or `"hex:0a1b..."` for raw bytes.
    #[serde(default)]
    pub id: Option<Vec<String>>,
    /// For a TA: its UUID; the component id is then `[h'<16 UUID bytes>']`.
    #[serde(default)]
    pub ta_uuid: Option<String>,
    /// The plaintext payload (relative paths are relative to the description file).
    pub file: PathBuf,
    /// Detached delivery: the URI the device fetches. Absent: integrated in the envelope.
    #[serde(default)]
    pub uri: Option<String>,
    /// Optional payload encryption.
    #[serde(default)]
    pub encryption: Option<EncryptionDesc>,
    /// `false`: no digest of the plaintext anywhere in the envelope, so the device keeps the
    /// installed content's digest from the REE (a low-entropy secret's public digest could be
    /// tested against guesses offline). Only with an AEAD `content-alg`, whose tag then
    /// authenticates the plaintext. Absent: `true`.
    #[serde(default)]
    pub plaintext_digest: Option<bool>,
    /// Update management: install only if the installed version compares so,
    /// `{"compare": ">=", "value": [1,2]}` (suit-parameter-version + suit-condition-version).
    #[serde(default)]
    pub version: Option<VersionDesc>,
    /// Update management: POSIX seconds before which the update must be installed
    /// (suit-parameter-use-before + suit-condition-use-before).
    #[serde(default)]
    pub use_before: Option<u64>,
    /// Update management: mWh the battery must hold (suit-condition-minimum-battery).
    #[serde(default)]
    pub minimum_battery: Option<u64>,
    /// Update management: ask the device's application for authorization at this priority
    /// (smaller = more urgent; suit-parameter-update-priority + suit-condition-update-authorized).
    #[serde(default)]
    pub update_priority: Option<i64>,
    /// Update management: wait for these events before fetching (suit-directive-wait), e.g.
    /// `{"network": 1, "time-utc": ..}`: keys authorization, power, network, time, time-of-day,
    /// day-of-week, time-of-day-utc, day-of-week-utc (integers).
    #[serde(default)]
    pub wait: Option<std::collections::BTreeMap<String, i64>>,
    /// Update management: component metadata (suit-parameter-component-metadata).
    #[serde(default)]
    pub metadata: Option<MetadataDesc>,
    /// Update management: suit-text-version-required for this component (display only).
    #[serde(default)]
    pub version_required_text: Option<String>,
    /// Update management: suit-text-current-version for this component (display only).
    #[serde(default)]
    pub current_version_text: Option<String>,
}

/// A version condition of a description.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VersionDesc {
    /// `>`, `>=`, `=`, `<=` or `<` (the draft's operator strings).
    pub compare: String,
    /// The version, 1 to 8 integers; a pre-release class (-1 rc, -2 beta, -3 alpha) never first.
    pub value: Vec<i64>,
}

/// Component metadata of a description.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetadataDesc {
    /// Permission bits for everyone without explicit permissions.
    #[serde(default)]
    pub default_permissions: Option<u64>,
    /// Actor name (text) => permission bits.
    #[serde(default)]
    pub user_permissions: Option<std::collections::BTreeMap<String, u64>>,
    /// Actor name (text) => permission bits.
    #[serde(default)]
    pub group_permissions: Option<std::collections::BTreeMap<String, u64>>,
    /// Actor name (text) => permission bits.
    #[serde(default)]
    pub role_permissions: Option<std::collections::BTreeMap<String, u64>>,
    /// regular, directory or symlink.
    #[serde(default)]
    pub file_type: Option<String>,
    /// POSIX seconds.
    #[serde(default)]
    pub modification_time: Option<u64>,
    /// POSIX seconds.
    #[serde(default)]
    pub creation_time: Option<u64>,
    /// Creator name (text).
    #[serde(default)]
    pub creator: Option<String>,
}

/// Encryption of one component.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EncryptionDesc {
    /// A128GCM (default), A256GCM, A128CTR, A256CTR or ChaCha20/Poly1305.
    #[serde(default)]
    pub content_alg: Option<String>,
    /// Recipients: `{"key": "dev.pub.pem", "mode": "ecdh-es"|"hpke"}` or `{"kek": "kek.bin"}`,
    /// each with an optional `"kid"` (text).
    pub recipients: Vec<RecipientDesc>,
}

/// One recipient in a description.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RecipientDesc {
    /// A P-256 public key file.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// A KEK file.
    #[serde(default)]
    pub kek: Option<PathBuf>,
    /// ecdh-es (default) or hpke, for `key`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Key id sent in the recipient (text).
    #[serde(default)]
    pub kid: Option<String>,
    /// A fleet: a file listing one P-256 public key file per line (broadcast: one recipient
    /// per key, with `mode`), instead of `key`.
    #[serde(default)]
    pub key_list: Option<PathBuf>,
}

/// How to sign.
#[derive(Debug, Default, Clone)]
pub struct SignOptions {
    /// Private key files (P-256 -> ESP256, or ES256 with `es256`; Ed25519 -> EdDSA).
    pub sign_keys: Vec<PathBuf>,
    /// HMAC-SHA-256 key files (COSE_Mac0).
    pub hmac_keys: Vec<PathBuf>,
    /// Sign P-256 with ES256 (-7) instead of ESP256 (-9).
    pub es256: bool,
    /// Leave the envelope unsigned (digest only) for a later `sign` step.
    pub unsigned: bool,
    /// One COSE_Sign block for all signature keys instead of a COSE_Sign1 block each.
    pub cose_sign: bool,
}

/// Inputs of `create`.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The description file.
    pub description: PathBuf,
    /// The envelope to write.
    pub output: PathBuf,
    /// Where detached payloads are written (default: the output's directory).
    pub payload_out: Option<PathBuf>,
    /// Overrides the description's sequence number.
    pub sequence_number: Option<u64>,
    /// Signing keys.
    pub sign: SignOptions,
    /// Make install and text severable (suit-tool's `create -s`): the manifest holds their
    /// digests and the envelope carries them, so `sever` can later drop them.
    pub severable: bool,
}

/// What `create` produced.
#[derive(Debug)]
pub struct Created {
    /// The envelope bytes (also written to the output file).
    pub envelope: Vec<u8>,
    /// One line per component, then one per HSS-LMS key that signed (its state now), for
    /// the report.
    pub summary: Vec<String>,
    /// Detached payload files written.
    pub detached: Vec<PathBuf>,
}

/// Last segment appended to a plaintext component's identifier to name its ciphertext buffer.
pub const BUFFER_SEGMENT: &[u8] = b"encrypted";

struct Component {
    id: Vec<Vec<u8>>,
    /// The plaintext's digest; `None` when the description's `plaintext-digest` is `false`
    /// (the manifest then names only the ciphertext's).
    digest: Option<Digest>,
    size: u64,
    uri: String,
    encryption_info: Option<Vec<u8>>,
    /// A `ta-uuid` component's `ta_version`, from its signed header.
    ta_version: Option<u32>,
    /// What the device receives (ciphertext or plaintext).
    delivered: Vec<u8>,
    detached: bool,
    /// Update management: parameters and commands run before the component is fetched, and
    /// its suit-text version entries.
    um: super::update_management::ComponentUm,
}

/// The ciphertext buffer component of an encrypted component: its identifier, and the digest
/// and size of the ciphertext fetched into it.
fn buffer_of(c: &Component) -> Option<(Vec<Vec<u8>>, Digest, u64)> {
    c.encryption_info.as_ref()?;
    let mut id = c.id.clone();
    id.push(BUFFER_SEGMENT.to_vec());
    Some((id, Digest::sha256(&c.delivered), c.delivered.len() as u64))
}

/// Builds, signs and writes the envelope.
pub fn create(opts: &CreateOptions) -> Result<Created> {
    let path = &opts.description;
    let bad = |what: String| AuthorError::Description {
        path: path.clone(),
        what,
    };
    let text = super::read_text_file(path)?;
    let desc: Description = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let sequence_number = opts
        .sequence_number
        .or(desc.sequence_number)
        .ok_or_else(|| {
            bad(
                "\"sequence-number\" is missing: give it in the description or as \
                 --sequence-number"
                    .into(),
            )
        })?;
    if desc.components.is_empty() {
        return Err(bad("\"components\" is empty".into()));
    }
    if desc.components.len() > MAX_COMPONENTS {
        return Err(bad(format!("more than {MAX_COMPONENTS} components")));
    }
    let vendor = resolve_id(&desc.vendor_id, &uuid::Uuid::NAMESPACE_DNS)
        .map_err(|e| bad(format!("vendor-id: {e}")))?;
    let class = resolve_id(&desc.class_id, &vendor).map_err(|e| bad(format!("class-id: {e}")))?;
    let device = desc
        .device_id
        .as_ref()
        .map(|d| resolve_id(d, &class))
        .transpose()
        .map_err(|e| bad(format!("device-id: {e}")))?;
    // Every component's own identifier, before any file is read or key used: two components
    // with one id (or one whose id is another's ciphertext buffer's) would make a manifest
    // the device refuses only at install, for a digest that matches neither.
    let mut ids: Vec<(usize, Vec<Vec<u8>>, bool)> = Vec::new();
    for (i, c) in desc.components.iter().enumerate() {
        let id = component_id(c).map_err(|what| bad(format!("components[{i}]: {what}")))?;
        ids.push((i, id, c.encryption.is_some()));
    }
    for (j, id, _) in &ids {
        if let Some((i, _, _)) = ids.iter().find(|(i, other, _)| i < j && other == id) {
            return Err(bad(format!(
                "components[{i}] and components[{j}] have the same \"id\" {}: each component needs its own identifier",
                suit_common::text::component(id)
            )));
        }
        let buffer_of = ids.iter().find(|(i, other, encrypted)| {
            *encrypted && i != j && {
                let mut b = other.clone();
                b.push(BUFFER_SEGMENT.to_vec());
                b == *id
            }
        });
        if let Some((i, _, _)) = buffer_of {
            return Err(bad(format!(
                "components[{j}]'s \"id\" {} is the ciphertext buffer of components[{i}] (its id plus \"{}\"): each component needs its own identifier",
                suit_common::text::component(id),
                String::from_utf8_lossy(BUFFER_SEGMENT)
            )));
        }
    }
    let signers = if opts.sign.unsigned {
        if !opts.sign.sign_keys.is_empty() || !opts.sign.hmac_keys.is_empty() {
            return Err(AuthorError::Usage(
                "--unsigned and signing keys exclude each other".into(),
            ));
        }
        Signers::default()
    } else {
        // Counted before any key is opened, as `sign` counts them.
        super::sign::check_block_count(0, &opts.sign)?;
        load_signers(&opts.sign)?
    };

    let mut components = Vec::new();
    for (i, c) in desc.components.iter().enumerate() {
        let cbad = |what: String| bad(format!("components[{i}]: {what}"));
        let id = component_id(c).map_err(cbad)?;
        let file = base.join(&c.file);
        let plaintext = Zeroizing::new(read_file(&file)?);
        let ta_version = ta_image_version(c, &id, &plaintext)
            .map_err(|what| cbad(format!("{}: {what}", file.display())))?;
        let content_alg = c
            .encryption
            .as_ref()
            .map(|e| match &e.content_alg {
                None => Ok(ContentAlgorithm::A128Gcm),
                Some(s) => parse_content_alg(s).ok_or_else(|| {
                    cbad(format!("unknown content-alg \"{s}\" ({CONTENT_ALG_NAMES})"))
                }),
            })
            .transpose()?;
        let withhold = c.plaintext_digest == Some(false);
        match c.encryption.as_ref().zip(content_alg) {
            Some((e, alg)) if withhold && !alg.is_aead() => {
                return Err(cbad(format!(
                    "\"plaintext-digest\": false needs an AEAD content-alg (A128GCM, A256GCM or ChaCha20/Poly1305), not {}: with neither a tag nor a digest nothing would authenticate the decrypted payload",
                    e.content_alg.as_deref().unwrap_or_default()
                )));
            }
            None if withhold => {
                return Err(cbad(
                    "\"plaintext-digest\": false applies to encrypted components only (a plaintext payload's digest is its content's, public anyway)"
                        .into(),
                ));
            }
            _ => {}
        }
        if withhold
            && matches!(
                suit_common::service::components::classify(&suit_common::suit::ComponentId::new(
                    &id
                )),
                Ok(suit_common::service::components::Kind::Ree { .. })
            )
        {
            return Err(cbad(
                "\"plaintext-digest\": false does not apply to a normal-world file (['ree', ...]): the REE gets its bytes, and so their digest".into(),
            ));
        }
        super::encrypt::check_deliverable(&file, plaintext.len(), content_alg)?;
        let digest = (!withhold).then(|| Digest::sha256(&plaintext));
        let (encryption_info, delivered) = match c.encryption.as_ref().zip(content_alg) {
            None => (None, plaintext.to_vec()),
            Some((e, alg)) => {
                let mut recipients = Vec::new();
                for (j, r) in e.recipients.iter().enumerate() {
                    if let Some(list) = &r.key_list {
                        if r.key.is_some() || r.kek.is_some() || r.kid.is_some() {
                            return Err(cbad(format!(
                                "recipients[{j}]: \"key-list\" stands alone (with \"mode\")"
                            )));
                        }
                        let mode = match &r.mode {
                            None => Mode::EcdhEs,
                            Some(m) => Mode::parse(m).ok_or_else(|| {
                                cbad(format!(
                                    "recipients[{j}]: unknown mode \"{m}\" (ecdh-es, hpke)"
                                ))
                            })?,
                        };
                        for path in super::encrypt::read_key_list(&base.join(list))? {
                            recipients.push(RecipientSpec::PublicKey {
                                path,
                                mode,
                                kid: None,
                            });
                        }
                        continue;
                    }
                    recipients.push(
                        recipient_spec(r, &base)
                            .map_err(|w| cbad(format!("recipients[{j}]: {w}")))?,
                    );
                }
                if recipients.is_empty() {
                    return Err(cbad(
                        "\"encryption\" has no recipient: give at least one (\"key\", \"kek\" or \"key-list\") in \"recipients\"".into(),
                    ));
                }
                let enc = encrypt_for(&plaintext, alg, &recipients)?;
                (Some(enc.encryption_info), enc.ciphertext)
            }
        };
        let (uri, detached) = match &c.uri {
            Some(u) => {
                if u.starts_with('#') {
                    return Err(cbad("a detached \"uri\" must not start with '#'".into()));
                }
                if payload_file_name(u).is_none() {
                    return Err(cbad(format!("\"uri\" {u} has no usable last path segment")));
                }
                (u.clone(), true)
            }
            None => (format!("#component-{i}"), false),
        };
        let um = super::update_management::component(c).map_err(cbad)?;
        components.push(Component {
            id,
            digest,
            size: plaintext.len() as u64,
            uri,
            encryption_info,
            ta_version,
            delivered,
            detached,
            um,
        });
    }
    let encrypted = components
        .iter()
        .filter(|c| c.encryption_info.is_some())
        .count();
    if components.len() + encrypted > MAX_COMPONENTS {
        return Err(bad(format!(
            "{} components plus {encrypted} ciphertext buffers; a manifest holds at most {MAX_COMPONENTS}",
            components.len()
        )));
    }
    for (i, c) in components.iter().enumerate() {
        if c.encryption_info.is_some() && c.id.len() >= suit_common::suit::component::MAX_SEGMENTS {
            return Err(bad(format!(
                "components[{i}]: an encrypted component's id needs at most {} segments (its ciphertext buffer adds one)",
                suit_common::suit::component::MAX_SEGMENTS - 1
            )));
        }
        let id_len: usize = c.id.iter().map(Vec::len).sum();
        if c.encryption_info.is_some()
            && id_len + BUFFER_SEGMENT.len() > suit_common::suit::component::MAX_ID_LEN
        {
            return Err(bad(format!(
                "components[{i}]: an encrypted component's id needs at most {} bytes in all (its ciphertext buffer adds \"{}\")",
                suit_common::suit::component::MAX_ID_LEN - BUFFER_SEGMENT.len(),
                String::from_utf8_lossy(BUFFER_SEGMENT)
            )));
        }
    }
    if let Some(l) = desc.text.as_ref().and_then(|t| t.language.as_deref()) {
        if !is_language_tag(l) {
            return Err(bad(format!(
                "text.language {l:?} is not a language tag (RFC 9290 tag38: letters, then -subtags)"
            )));
        }
    }
    let integrated_count = components.iter().filter(|c| !c.detached).count();
    if integrated_count > MAX_INTEGRATED_PAYLOADS {
        return Err(bad(format!(
            "{integrated_count} integrated payloads; devices accept at most {MAX_INTEGRATED_PAYLOADS} (give the others a \"uri\")"
        )));
    }

    let manifest_component_id = desc
        .manifest_component_id
        .as_ref()
        .map(|segs| segments(segs))
        .transpose()
        .map_err(|e| bad(format!("manifest-component-id: {e}")))?;
    if let Some(v) = &desc.set_version {
        super::update_management::check_version(v).map_err(|e| bad(format!("set-version: {e}")))?;
    }
    let (manifest, severed) = encode_manifest(
        opts.severable,
        desc.text.as_ref(),
        desc.set_version.as_deref(),
        sequence_number,
        desc.reference_uri.as_deref(),
        manifest_component_id.as_deref(),
        &components,
        vendor.as_bytes(),
        class.as_bytes(),
        device.as_ref().map(|d| d.as_bytes()),
    )?;

    // Every output is checked against every input before anything is signed (a stateful
    // key's signature is spent when it is made) and before the first write.
    let payload_dir = opts.payload_out.clone().unwrap_or_else(|| {
        opts.output
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    });
    let mut outputs = vec![(opts.output.clone(), "the envelope".to_string())];
    for (i, c) in components.iter().enumerate() {
        if c.detached {
            let name = payload_file_name(&c.uri).unwrap_or("payload.bin");
            outputs.push((
                payload_dir.join(name),
                format!("the detached payload of component {i}"),
            ));
        }
    }
    super::check_outputs(&outputs, &create_inputs(opts, &desc, &base)?)?;
    // Opened before signing (each directory made, a temporary file created in it): one that
    // cannot be written refuses the command before a stateful key's signature is spent.
    // The envelope, the primary, last.
    let detached: Vec<PathBuf> = outputs.iter().skip(1).map(|(p, _)| p.clone()).collect();
    let opened = {
        let mut order: Vec<&Path> = detached.iter().map(PathBuf::as_path).collect();
        order.push(opts.output.as_path());
        super::open_files(&order)?
    };
    let signer_refs = signer_refs(&signers.keys);
    let integrated: Vec<(&str, &[u8])> = components
        .iter()
        .filter(|c| !c.detached)
        .map(|c| (c.uri.as_str(), c.delivered.as_slice()))
        .collect();
    let severed_refs: Vec<(u8, &[u8])> = severed.iter().map(|(l, c)| (*l, c.as_slice())).collect();
    let envelope = seal_envelope_as(
        auth_form(&opts.sign),
        &manifest,
        &signer_refs,
        &severed_refs,
        &integrated,
    )
    .map_err(|e| signers.signing_failed(e))?;
    if envelope.len() > MAX_ENVELOPE_LEN {
        return Err(AuthorError::Create(format!(
            "the envelope is {} bytes; devices accept at most {MAX_ENVELOPE_LEN} (make large payloads detached with a \"uri\")",
            envelope.len()
        )));
    }
    // Self-check: the device engine must accept what was just made.
    let anchors = author_anchors(&signers.keys);
    Envelope::decode(&envelope)
        .and_then(|e| {
            if opts.sign.unsigned {
                return Ok(());
            }
            e.authenticate(&anchors).map(|_| ())
        })
        .map_err(|e| {
            AuthorError::Create(format!("self-check failed: {}", super::explain::error(&e)))
        })?;

    // Every file written to its temporary name before any is renamed, the envelope renamed
    // last (`write_files`): a failure before that leaves the old envelope and the old
    // payloads; one between the renames leaves the old envelope beside some new payloads,
    // never a new envelope naming payloads that were not written.
    let mut summary = Vec::new();
    let data: Vec<&[u8]> = components
        .iter()
        .filter(|c| c.detached)
        .map(|c| c.delivered.as_slice())
        .chain([envelope.as_slice()])
        .collect();
    super::write_opened_files(opened.into_iter().zip(data).collect())?;
    for (i, c) in components.iter().enumerate() {
        summary.push(format!(
            "component {i} {:?}: {} bytes{}, {}, {}{}",
            suit_common::suit::ComponentId::new(&c.id),
            c.size,
            c.ta_version
                .map_or_else(String::new, |v| format!(", ta_version {v}")),
            c.digest.map_or_else(
                || "no plaintext digest (withheld)".to_string(),
                |d| format!("sha-256 {}", hex::encode(d.0))
            ),
            if c.detached {
                format!("detached ({})", c.uri)
            } else {
                format!("integrated ({})", c.uri)
            },
            if c.encryption_info.is_some() {
                ", encrypted"
            } else {
                ""
            }
        ));
    }
    summary.extend(signers.notes());
    Ok(Created {
        envelope,
        summary,
        detached,
    })
}

pub(crate) fn resolve_id(
    spec: &IdSpec,
    namespace: &uuid::Uuid,
) -> std::result::Result<uuid::Uuid, String> {
    match spec {
        IdSpec::Uuid(s) => {
            uuid::Uuid::parse_str(s).map_err(|e| format!("\"{s}\" is not a UUID: {e}"))
        }
        IdSpec::Name { name } => {
            if name.is_empty() {
                return Err("empty name".into());
            }
            Ok(uuid::Uuid::new_v5(namespace, name.as_bytes()))
        }
    }
}

pub(crate) fn segments(segs: &[String]) -> std::result::Result<Vec<Vec<u8>>, String> {
    if segs.is_empty() || segs.len() > suit_common::suit::component::MAX_SEGMENTS {
        return Err(format!(
            "a component id needs 1 to {} segments",
            suit_common::suit::component::MAX_SEGMENTS
        ));
    }
    let segs = segs
        .iter()
        .map(|s| {
            let b = match s.strip_prefix("hex:") {
                Some(h) => hex::decode(h).map_err(|e| format!("segment \"{s}\": bad hex: {e}"))?,
                None => s.as_bytes().to_vec(),
            };
            if b.len() > suit_common::suit::component::MAX_SEGMENT_LEN {
                return Err(format!(
                    "segment \"{s}\" is longer than {} bytes",
                    suit_common::suit::component::MAX_SEGMENT_LEN
                ));
            }
            Ok(b)
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    let len: usize = segs.iter().map(Vec::len).sum();
    if len > suit_common::suit::component::MAX_ID_LEN {
        return Err(format!(
            "a component id holds at most {} bytes in all, this one {len}",
            suit_common::suit::component::MAX_ID_LEN
        ));
    }
    Ok(segs)
}

fn component_id(c: &ComponentSpec) -> std::result::Result<Vec<Vec<u8>>, String> {
    match (&c.id, &c.ta_uuid) {
        (Some(_), Some(_)) => Err("give either \"id\" or \"ta-uuid\", not both".into()),
        (None, None) => Err("missing \"id\" (or \"ta-uuid\")".into()),
        (Some(segs), None) => segments(segs),
        (None, Some(u)) => {
            let u = uuid::Uuid::parse_str(u).map_err(|e| format!("ta-uuid \"{u}\": {e}"))?;
            Ok(vec![u.as_bytes().to_vec()])
        }
    }
}

/// A `ta-uuid` component's payload is an OP-TEE signed TA image for that UUID, read with the
/// parser the TA's commit uses (`parse_ta_header`): otherwise the mistake would show only on
/// the device. Its `ta_version`, shown by `create`, lets the author check it is newer than the
/// installed one. A component given by `"id"` is not checked (a test can so build an image a
/// device must refuse).
fn ta_image_version(
    c: &ComponentSpec,
    id: &[Vec<u8>],
    image: &[u8],
) -> std::result::Result<Option<u32>, String> {
    if c.ta_uuid.is_none() {
        return Ok(None);
    }
    let Some(uuid) = id
        .first()
        .and_then(|u| <[u8; 16]>::try_from(u.as_slice()).ok())
    else {
        return Ok(None);
    };
    let header = suit_common::service::components::parse_ta_header(image)
        .map_err(|e| format!("not an OP-TEE signed TA image ({e}); sign it with the TA dev kit's scripts/sign_encrypt.py"))?;
    if header.uuid != uuid {
        return Err(format!(
            "the image is TA {} but \"ta-uuid\" is {}",
            suit_common::text::uuid(&header.uuid),
            suit_common::text::uuid(&uuid)
        ));
    }
    Ok(Some(header.ta_version))
}

fn recipient_spec(r: &RecipientDesc, base: &Path) -> std::result::Result<RecipientSpec, String> {
    let kid = r.kid.as_ref().map(|k| k.as_bytes().to_vec());
    match (&r.key, &r.kek) {
        (Some(key), None) => {
            let mode = match &r.mode {
                None => Mode::EcdhEs,
                Some(m) => {
                    Mode::parse(m).ok_or_else(|| format!("unknown mode \"{m}\" (ecdh-es, hpke)"))?
                }
            };
            Ok(RecipientSpec::PublicKey {
                path: base.join(key),
                mode,
                kid,
            })
        }
        (None, Some(kek)) => {
            if r.mode.is_some() {
                return Err("\"mode\" applies to \"key\" recipients only".into());
            }
            Ok(RecipientSpec::Kek {
                path: base.join(kek),
                kid,
            })
        }
        _ => Err("give exactly one of \"key\" (P-256 public key) or \"kek\"".into()),
    }
}

/// The authentication block form `sign` asks for.
pub fn auth_form(sign: &SignOptions) -> AuthForm {
    if sign.cose_sign {
        AuthForm::CoseSign
    } else {
        AuthForm::Sign1
    }
}

/// Loaded signing keys, with the HSS-LMS key files among them held open and locked (until
/// this is dropped) and what their signing did.
#[derive(Default)]
pub struct Signers {
    /// Each key, its algorithm and key id.
    pub keys: Vec<(SigningKey, Algorithm, Vec<u8>)>,
    /// The stateful (HSS-LMS) keys among them.
    stateful: Vec<super::hss::HssHandle>,
}

impl Signers {
    /// The error for a failed signing: a stateful key's own (exhausted, state not stored), if
    /// one failed, else `signing failed: e`.
    pub fn signing_failed(&self, e: suit_common::cose::CoseError) -> AuthorError {
        self.stateful
            .iter()
            .find_map(|h| h.borrow_mut().take_failure())
            .unwrap_or_else(|| AuthorError::Create(format!("signing failed: {e}")))
    }

    /// One line per HSS-LMS key that signed: its state now on disk.
    pub fn notes(&self) -> Vec<String> {
        self.stateful
            .iter()
            .filter_map(|h| {
                let h = h.borrow();
                if h.signed() == 0 {
                    return None;
                }
                Some(match h.state() {
                    Some(st) => format!(
                        "HSS-LMS key {}: state advanced and saved, {} of {} signatures used ({} left)",
                        h.path().display(),
                        st.used,
                        st.lifetime,
                        st.remaining()
                    ),
                    None => format!(
                        "HSS-LMS key {}: that was its last signature (the key is exhausted)",
                        h.path().display()
                    ),
                })
            })
            .collect()
    }
}

/// Loads signing keys: P-256 (ESP256 / ES256), Ed25519 (EdDSA), HSS-LMS (its key file opened
/// and locked for the signing: [`super::hss`]), HMAC (COSE_Mac0).
pub fn load_signers(opts: &SignOptions) -> Result<Signers> {
    let mut out = Signers::default();
    // HSS-LMS key files are opened and locked first, in the order of their resolved paths: two
    // runs naming the same keys in different orders never wait for each other for ever.
    let mut stateful = Vec::new();
    for (i, p) in opts.sign_keys.iter().enumerate() {
        // A key file, read as one (bounded, wiped: it holds a private key).
        if !super::pkcs11::is_uri(p)
            && super::hss::is_private_key_file(&super::keys::read_key_file(p)?)
        {
            stateful.push((std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()), i));
        }
    }
    stateful.sort();
    let mut held = Vec::new();
    let mut opened = std::collections::BTreeMap::new();
    for (_, i) in stateful {
        let Some(p) = opts.sign_keys.get(i) else {
            continue;
        };
        let o = super::hss::open_signer(p, &held)?;
        held.push(o.file);
        opened.insert(i, o);
    }
    for (i, p) in opts.sign_keys.iter().enumerate() {
        if let Some(o) = opened.remove(&i) {
            out.stateful.push(o.handle);
            out.keys.push((o.key, Algorithm::HssLms, o.kid));
            continue;
        }
        if super::pkcs11::is_uri(p) {
            let (key, kid) = super::pkcs11::open_signer(p)?;
            let alg = if opts.es256 {
                Algorithm::Es256
            } else {
                Algorithm::Esp256
            };
            out.keys.push((key, alg, kid));
            continue;
        }
        let k = keys::load_private(p)?;
        let alg = k.key.signing_algorithm(opts.es256);
        keys::check_declared_alg(p, k.alg, alg.cose_id())?;
        out.keys.push((k.key.signing_key()?, alg, k.kid));
    }
    for p in &opts.hmac_keys {
        let k = keys::load_symmetric(p, &(32..=64).collect::<Vec<_>>(), "HMAC key")?;
        keys::check_declared_alg(p, k.alg, Algorithm::Hmac256.cose_id())?;
        let key = SigningKey::hmac256(&k.secret)
            .map_err(|e| AuthorError::key(p, format!("HMAC key refused: {e}")))?;
        out.keys.push((key, Algorithm::Hmac256, k.kid.clone()));
    }
    // One signature per key: the same key given twice (two files, two spellings of a path)
    // would only add a block that proves nothing more. Refused before anything is signed
    // (a stateful key's signature is spent once made).
    let named: Vec<String> = opts
        .sign_keys
        .iter()
        .map(|p| format!("--sign-key {}", p.display()))
        .chain(
            opts.hmac_keys
                .iter()
                .map(|p| format!("--hmac-key {}", p.display())),
        )
        .collect();
    for (i, (a, _, _)) in out.keys.iter().enumerate() {
        let a = a.verification_key();
        for (j, (b, _, _)) in out.keys.iter().enumerate().skip(i + 1) {
            if a.same_key(&b.verification_key()) {
                let name = |n: usize| named.get(n).map_or("?", String::as_str);
                return Err(AuthorError::Usage(format!(
                    "{} and {} are the same key: one authentication block per key (nothing \
                     was signed)",
                    name(i),
                    name(j)
                )));
            }
        }
    }
    if out.keys.is_empty() {
        return Err(AuthorError::Usage(
            "create needs at least one --sign-key or --hmac-key (or --unsigned: an envelope \
             with its digest only, to sign later with `suit-author sign`)"
                .into(),
        ));
    }
    Ok(out)
}

/// `signers` as the engine's [`Signer`]s.
pub(crate) fn signer_refs(signers: &[(SigningKey, Algorithm, Vec<u8>)]) -> Vec<Signer<'_>> {
    signers
        .iter()
        .map(|(key, alg, kid)| Signer {
            key,
            alg: *alg,
            kid,
        })
        .collect()
}

/// Anchors 1, 2, ... trusting `signers` as authors with every permission: what the tool's
/// self-checks authenticate a new envelope against.
pub(crate) fn author_anchors(signers: &[(SigningKey, Algorithm, Vec<u8>)]) -> Vec<TrustAnchor> {
    signers
        .iter()
        .zip(1u32..)
        .map(|((k, _, _), id)| TrustAnchor::unrestricted(id, k.verification_key(), Role::Author))
        .collect()
}

/// Severed members: (label, encoded content).
type Severed = Vec<(u8, Vec<u8>)>;

/// `set-component-index index, override-parameters params`.
fn select(index: usize, params: Parameters) -> [Command; 2] {
    [
        Command::SetComponentIndex(IndexArg::One(index as u64)),
        Command::OverrideParameters(Box::new(params)),
    ]
}

/// A condition or directive with the reporting policy [`REPORT_ALL`].
fn condition(kind: ConditionKind) -> Command {
    Command::Condition(kind, REPORT_ALL)
}

fn action(action: Action) -> Command {
    Command::Action(action, REPORT_ALL)
}

/// The manifest, and the members severed from it (`(label, encoded content)`) when
/// `severable`: the manifest then holds the SHA-256 SUIT_Digest of each bstr-wrapped member.
/// The command sequences are built as the engine's typed commands and written by their own
/// encoding (`suit_common::suit::encode`), the inverse of what the device decodes.
#[allow(clippy::too_many_arguments)]
fn encode_manifest(
    severable: bool,
    text: Option<&TextDesc>,
    set_version: Option<&[i64]>,
    sequence_number: u64,
    reference_uri: Option<&str>,
    manifest_component_id: Option<&[Vec<u8>]>,
    components: &[Component],
    vendor: &[u8; 16],
    class: &[u8; 16],
    device: Option<&[u8; 16]>,
) -> Result<(Vec<u8>, Severed)> {
    let mut shared = Vec::new();
    let mut install = Vec::new();
    let mut validate = Vec::new();
    let mut ids: Vec<ComponentId> = components.iter().map(|c| ComponentId::new(&c.id)).collect();
    for (i, c) in components.iter().enumerate() {
        shared.extend(select(
            i,
            Parameters {
                vendor_id: Some(VendorId::Uuid(*vendor)),
                class_id: Some(*class),
                image_digest: c.digest,
                image_size: Some(c.size),
                device_id: device.copied(),
                ..Parameters::default()
            },
        ));
        shared.extend([
            condition(ConditionKind::VendorIdentifier),
            condition(ConditionKind::ClassIdentifier),
        ]);
        if device.is_some() {
            shared.push(condition(ConditionKind::DeviceIdentifier));
        }

        // Update management first: conditions on the installed component and waits, before
        // anything is fetched.
        install.extend(c.um.install_prefix(i as u64));
        let uri = Parameters {
            uri: Some(c.uri.as_str().into()),
            ..Parameters::default()
        };
        match (buffer_of(c), &c.encryption_info) {
            (Some((buffer_id, ct_digest, ct_size)), Some(info)) => {
                let buffer = ids.len();
                ids.push(ComponentId::new(&buffer_id));
                install.extend(select(
                    buffer,
                    Parameters {
                        image_digest: Some(ct_digest),
                        image_size: Some(ct_size),
                        ..uri
                    },
                ));
                install.extend([action(Action::Fetch), condition(ConditionKind::ImageMatch)]);
                install.extend(select(
                    i,
                    Parameters {
                        encryption_info: Some(info.as_slice().into()),
                        source_component: Some(buffer as u64),
                        ..Parameters::default()
                    },
                ));
                install.push(action(Action::Copy));
                // Without a plaintext digest the AEAD tag the copy checked authenticates it.
                if c.digest.is_some() {
                    install.push(condition(ConditionKind::ImageMatch));
                }
            }
            _ => {
                install.extend(select(i, uri));
                install.extend([action(Action::Fetch), condition(ConditionKind::ImageMatch)]);
            }
        }
        if c.digest.is_some() {
            validate.extend([
                Command::SetComponentIndex(IndexArg::One(i as u64)),
                condition(ConditionKind::ImageMatch),
            ]);
        }
    }
    let shared = CommandSequence::from_commands(shared).encode();
    let mut common = Encoder::new();
    common.map(2);
    common.int(CommonKey::Components.value()).array(ids.len());
    for id in &ids {
        id.encode_to(&mut common);
    }
    common.int(CommonKey::SharedSequence.value()).bytes(&shared);

    // suit-text (manifest draft: SUIT_Text_Map = { + tag38-ltag => SUIT_Text_LMap }): one
    // language's map, in which the manifest-wide entries (keys 1, 2) sort before the
    // per-component ones (component identifiers are arrays), so canonical order is these,
    // then those.
    let language = text
        .and_then(|t| t.language.as_deref())
        .unwrap_or(DEFAULT_TEXT_LANGUAGE);
    let mut wide: Vec<(TextKey, &str)> = Vec::new();
    if let Some(t) = text {
        if let Some(d) = &t.manifest_description {
            wide.push((TextKey::ManifestDescription, d));
        }
        if let Some(d) = &t.update_description {
            wide.push((TextKey::UpdateDescription, d));
        }
    }
    let per_component =
        super::update_management::text_entries(components.iter().map(|c| (&c.id, &c.um)));
    let text_map = (!wide.is_empty() || !per_component.is_empty()).then(|| {
        let mut t = Encoder::new();
        t.map(1).text(language);
        t.map(wide.len() + per_component.len());
        for (key, value) in &wide {
            t.int(key.value()).text(value);
        }
        for (id, entries) in &per_component {
            t.raw(id).map(entries.len());
            for (key, value) in entries {
                t.int(key.value()).text(value);
            }
        }
        t.into_bytes()
    });

    let mut m = Encoder::new();
    // suit-validate is optional and its sequence may not be empty: left out when no
    // component has a plaintext digest to match.
    let n = 4
        + usize::from(!validate.is_empty())
        + usize::from(reference_uri.is_some())
        + usize::from(manifest_component_id.is_some())
        + usize::from(set_version.is_some())
        + usize::from(text_map.is_some());
    m.map(n);
    m.int(M::Version.value()).uint(1);
    m.int(M::SequenceNumber.value()).uint(sequence_number);
    m.int(M::Common.value()).bytes(&common.into_bytes());
    if let Some(uri) = reference_uri {
        m.int(M::ReferenceUri.value()).text(uri);
    }
    if let Some(id) = manifest_component_id {
        m.int(M::ManifestComponentId.value());
        ComponentId::new(id).encode_to(&mut m);
    }
    if let Some(v) = set_version {
        let mut version = Encoder::new();
        version.array(v.len());
        for i in v {
            version.int(*i);
        }
        m.int(M::SetVersion.value()).bytes(&version.into_bytes());
    }
    if !validate.is_empty() {
        m.int(M::Validate.value())
            .bytes(&CommandSequence::from_commands(validate).encode());
    }
    let mut severed = Vec::new();
    let mut member = |key: M, content: Vec<u8>, m: &mut Encoder| -> Result<()> {
        let label = u8::try_from(key.value())
            .map_err(|_| AuthorError::Create(format!("{} is not severable", key.name())))?;
        m.int(key.value());
        if severable {
            let mut wrapped = Encoder::new();
            wrapped.bytes(&content);
            m.raw(&Digest::sha256(&wrapped.into_bytes()).encode());
            severed.push((label, content));
        } else {
            m.bytes(&content);
        }
        Ok(())
    };
    member(
        M::Install,
        CommandSequence::from_commands(install).encode(),
        &mut m,
    )?;
    if let Some(t) = text_map {
        member(M::Text, t, &mut m)?;
    }
    Ok((m.into_bytes(), severed))
}

/// Every file `create` reads: none of them may be overwritten by its outputs.
fn create_inputs(opts: &CreateOptions, desc: &Description, base: &Path) -> Result<Vec<PathBuf>> {
    let mut inputs = vec![opts.description.clone()];
    inputs.extend(opts.sign.sign_keys.iter().cloned());
    inputs.extend(opts.sign.hmac_keys.iter().cloned());
    for c in &desc.components {
        inputs.push(base.join(&c.file));
        for r in c.encryption.iter().flat_map(|e| &e.recipients) {
            inputs.extend(r.key.iter().chain(&r.kek).map(|k| base.join(k)));
            if let Some(list) = &r.key_list {
                let list = base.join(list);
                inputs.extend(super::encrypt::read_key_list(&list)?);
                inputs.push(list);
            }
        }
    }
    Ok(inputs)
}

/// A UUID string or `{"name": "..."}` and nothing else: unknown fields are refused by name
/// (an untagged enum would accept them silently and explain a typo badly).
impl<'de> Deserialize<'de> for IdSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a UUID string or {\"name\": \"...\"}";
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = IdSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<IdSpec, E> {
                Ok(IdSpec::Uuid(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<IdSpec, A::Error> {
                use serde::de::Error as _;
                let mut name: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "name" {
                        return Err(A::Error::custom(format!(
                            "unknown field `{key}` in an identifier: expected {EXPECTED}"
                        )));
                    }
                    if name.is_some() {
                        return Err(A::Error::custom("duplicate field `name` in an identifier"));
                    }
                    name = Some(map.next_value()?);
                }
                name.map(|name| IdSpec::Name { name }).ok_or_else(|| {
                    A::Error::custom(format!(
                        "an identifier object needs \"name\": expected {EXPECTED}"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}
