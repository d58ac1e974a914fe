//! `suit-author provision`: makes TPA-signed provisioning messages for the TA's trust anchor
//! store (the format is `suit_common::service::provision`). The agent only relays them.
//!
//! Description (JSON; relative paths are relative to the file):
//!
//! ```json
//! { "counter": 1,
//!   "device-key": "identity.pub.pem",
//!   "key-statement": "key-statement.cbor",
//!   "ops": [
//!     {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author",
//!                     "components": [["app"]], "vendor-ids": ["<uuid>"], "class-ids": []}},
//!     {"add-anchor": {"id": 2, "hmac-key": "operator.key", "role": "operator", "components": [[]]}},
//!     {"rescope": {"id": 1, "components": [["app"], ["hex:00"]], "tracker-key": "tracker.pub.pem"}},
//!     {"remove-anchor": 2},
//!     {"set-rules": [{"prefix": ["app"], "require-roles": ["author", "operator"], "require-anchors": []}]},
//!     {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}},
//!     {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [2],
//!                  "anchor-keys": {"2": {"hmac-key": "operator.key"}}}},
//!     {"remove-kek": "kek-1"}
//!   ] }
//! ```
//!
//! `device-key` is the device's identity public key: the message is bound to it and the device's
//! receipt is signed by it. It is required for one device (`-o`); with `--devices` the fleet list
//! gives each device's identity key and key statement instead, and `verify --process
//! --provisioning` uses the simulated device's, so both may be left out. `counter` must be exactly
//! one more than the device's counter of the signer: the TPA root's messages and those of delegated
//! TPA anchors (anchors of role `tpa`, signing with their own key) are counted separately
//! (`suit-agent anchors` shows both; one counter is shared by all delegates). Only the root may
//! add, remove or re-scope an anchor of role `tpa`. `[[]]` as components grants every component.
//! Secrets (`hmac-key` anchors, KEKs) are encrypted to the device's provisioning key, taken only
//! from `key-statement` (the device's key statement, verified against `device-key`; required when
//! the message carries a secret): a bare provisioning key PEM is refused, as it could be any key
//! the REE handed over. A symmetric key cannot hold the TPA role. `tracker-key` (in an
//! `add-anchor` or `rescope`) gives the anchor a status tracker's P-256 public key: the device
//! then encrypts the reports of manifests that anchor authenticated to it (`verify-report
//! --tracker-key` opens them); a `rescope` without it removes it.
//!
//! A KEK's wrap names the key each of its anchors holds (the device refuses it if an anchor id
//! was re-bound to another key in between): the tool takes that key from an `add-anchor`
//! earlier in the same description, else from the TPA's model of the device (`--state`,
//! `--state-dir`), else from the KEK's `anchor-keys` (`{"ID": {"key": PUB} | {"hmac-key":
//! KEY}}`), and refuses if none gives it or two disagree.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use suit_common::protocol::ByteBuf;
use suit_common::service::provision::{
    anchor_key_digest, anchor_wrap_aad, author::seal, author::wrap_secret, kek_wrap_aad,
    signer_key_digest, Op, ProvisioningBody, WrapBinding,
};
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, RuleRecord, Scope};

use super::create::{resolve_id, segments, IdSpec};
use super::keys::{
    load_private, load_public, load_symmetric, public_cose_key, symmetric_cose_key, PublicKey,
};
use super::{AuthorError, Result};
use zeroize::Zeroizing;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Description {
    /// The device's next counter for the signer; `--counter` may give it instead.
    #[serde(default)]
    counter: Option<u64>,
    /// The device's identity key; not used with a fleet list or by a simulated device.
    #[serde(default)]
    device_key: Option<PathBuf>,
    /// The device's key statement: gives the provisioning key, verified against `device_key`.
    #[serde(default)]
    key_statement: Option<PathBuf>,
    /// No longer taken (an unverified PEM): refused with a message naming `key-statement`.
    #[serde(default)]
    provisioning_key: Option<PathBuf>,
    ops: Vec<OpDesc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum OpDesc {
    AddAnchor(AnchorDesc),
    RemoveAnchor(u32),
    Rescope(RescopeDesc),
    SetRules(Vec<RuleDesc>),
    SetIdentity(IdentityDesc),
    AddKek(KekDesc),
    RemoveKek(String),
}

/// A KEK (raw 16/32 bytes, COSE_Key or JWK `oct`) and its id (text, or `hex:...`; default:
/// the file's kid).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KekDesc {
    kek: PathBuf,
    #[serde(default)]
    kid: Option<String>,
    /// The anchors whose manifests may use the KEK.
    anchors: Vec<u32>,
    /// The key an anchor holds, for anchors neither the description nor the device model gives.
    #[serde(default)]
    anchor_keys: std::collections::BTreeMap<u32, AnchorKeyDesc>,
}

/// An anchor's key as a file: its public key, or its HMAC key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AnchorKeyDesc {
    #[serde(default)]
    key: Option<PathBuf>,
    #[serde(default)]
    hmac_key: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AnchorDesc {
    id: u32,
    #[serde(default)]
    key: Option<PathBuf>,
    #[serde(default)]
    hmac_key: Option<PathBuf>,
    role: RoleDesc,
    #[serde(flatten)]
    scope: ScopeDesc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RescopeDesc {
    id: u32,
    #[serde(flatten)]
    scope: ScopeDesc,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct ScopeDesc {
    #[serde(default)]
    components: Vec<Vec<String>>,
    #[serde(default)]
    vendor_ids: Vec<IdSpec>,
    #[serde(default)]
    class_ids: Vec<String>,
    /// Let payloads decrypted with this anchor's keys go to `['ree', ...]` components.
    #[serde(default)]
    ree_plaintext: bool,
    /// The status tracker's P-256 public key (PEM, COSE_Key or JWK) this anchor's reports are
    /// encrypted to.
    #[serde(default)]
    tracker_key: Option<PathBuf>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RoleDesc {
    Tpa,
    Author,
    Operator,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RuleDesc {
    prefix: Vec<String>,
    #[serde(default)]
    require_roles: Vec<RoleDesc>,
    #[serde(default)]
    require_anchors: Vec<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct IdentityDesc {
    vendor_id: IdSpec,
    class_id: IdSpec,
    #[serde(default)]
    device_id: Option<IdSpec>,
}

/// A KEK id as written in a description: text, or `hex:...` for raw bytes.
fn kek_id(text: &str) -> std::result::Result<Vec<u8>, String> {
    let id = match text.strip_prefix("hex:") {
        Some(h) => hex::decode(h).map_err(|e| format!("kid \"{text}\": {e}"))?,
        None => text.as_bytes().to_vec(),
    };
    if id.is_empty() || id.len() > 64 {
        return Err(format!("kid \"{text}\" must be 1..64 bytes"));
    }
    Ok(id)
}

fn role(r: RoleDesc) -> RoleRecord {
    match r {
        RoleDesc::Tpa => RoleRecord::Tpa,
        RoleDesc::Author => RoleRecord::Author,
        RoleDesc::Operator => RoleRecord::Operator,
    }
}

fn bufs(segs: Vec<Vec<u8>>) -> Vec<ByteBuf> {
    segs.into_iter().map(ByteBuf::from).collect()
}

fn prefix(segs: &[String]) -> std::result::Result<Vec<ByteBuf>, String> {
    if segs.is_empty() {
        return Ok(Vec::new());
    }
    segments(segs).map(bufs)
}

fn vendor_uuid(spec: &IdSpec) -> std::result::Result<uuid::Uuid, String> {
    resolve_id(spec, &uuid::Uuid::NAMESPACE_DNS)
}

fn scope(d: &ScopeDesc, base: &Path) -> std::result::Result<Scope, String> {
    let tracker_key = match &d.tracker_key {
        None => None,
        Some(k) => match load_public(&base.join(k)).map_err(|e| e.to_string())?.key {
            PublicKey::P256(pk) => {
                use p256::elliptic_curve::sec1::ToSec1Point;
                Some(ByteBuf::from(pk.to_sec1_point(false).as_bytes().to_vec()))
            }
            _ => {
                return Err(format!(
                    "tracker-key {}: a status tracker key is a P-256 public key",
                    k.display()
                ))
            }
        },
    };
    Ok(Scope {
        tracker_key,
        component_prefixes: d
            .components
            .iter()
            .map(|c| prefix(c))
            .collect::<std::result::Result<_, _>>()?,
        vendor_ids: d
            .vendor_ids
            .iter()
            .map(|v| vendor_uuid(v).map(|u| ByteBuf::from(u.as_bytes().to_vec())))
            .collect::<std::result::Result<_, _>>()?,
        class_ids: d
            .class_ids
            .iter()
            .map(|c| {
                uuid::Uuid::parse_str(c)
                    .map(|u| ByteBuf::from(u.as_bytes().to_vec()))
                    .map_err(|e| format!("class id \"{c}\": {e}"))
            })
            .collect::<std::result::Result<_, _>>()?,
        ree_plaintext: d.ree_plaintext,
    })
}

/// The device's provisioning public key and its id (what secrets are encrypted to).
type ProvisioningKey = (p256::PublicKey, Vec<u8>);

/// Plaintext secrets of a message by their `external_aad`, for the TPA's model of the device.
pub type Secrets = Vec<(Vec<u8>, Zeroizing<Vec<u8>>)>;

/// The signer's key digest a message's wraps are bound to ([`signer_key_digest`]): the TPA's
/// signing keys are asymmetric.
pub fn signer_digest(key: &suit_common::cose::SigningKey) -> Result<[u8; 32]> {
    signer_key_digest(&key.verification_key()).ok_or_else(|| {
        AuthorError::Create("a TPA signing key must be asymmetric (P-256, Ed25519, HSS-LMS)".into())
    })
}

/// The key each anchor id holds ([`anchor_key_digest`]), as far as the tool knows it.
pub type Held = std::collections::BTreeMap<u32, [u8; 32]>;

/// [`anchor_key_digest`] of a COSE_Key.
fn digest_of(cose_key: &[u8], what: &str) -> Result<[u8; 32]> {
    let (key, _) = suit_common::cose::VerificationKey::from_cose_key(cose_key)
        .map_err(|e| AuthorError::Create(format!("{what}: {e}")))?;
    Ok(anchor_key_digest(&key))
}

/// The keys the anchors of `state` (a device model's) hold.
pub fn held_of(state: &suit_common::service::state::State) -> Held {
    state
        .anchors
        .iter()
        .filter_map(|a| Some((a.id, digest_of(&a.cose_key, "").ok()?)))
        .collect()
}

/// The key `d` names, as a digest.
fn named_digest(
    d: &AnchorKeyDesc,
    base: &Path,
    bad: &dyn Fn(String) -> AuthorError,
) -> Result<[u8; 32]> {
    match (&d.key, &d.hmac_key) {
        (Some(k), None) => {
            let f = load_public(&base.join(k))?;
            digest_of(&public_cose_key(&f.key, None)?, &k.display().to_string())
        }
        (None, Some(k)) => {
            let s = load_symmetric(&base.join(k), &[32, 48, 64], "HMAC key")?;
            digest_of(
                &symmetric_cose_key(&s.secret, None)?,
                &k.display().to_string(),
            )
        }
        _ => Err(bad(
            "anchor-keys: give exactly one of \"key\" and \"hmac-key\"".into(),
        )),
    }
}

/// Builds the operation `d` describes; its secrets are encrypted to `prov` and bound to
/// `binding` (the message's signer and device) and to the operation's own fields. `held` is
/// the key each anchor holds before `d` (a KEK's wrap names them), updated by `d`. `fleet`:
/// the fleet list line the device came from, named only in the errors that depend on the
/// device (its key statement, its model), not in those about the description itself.
#[allow(clippy::too_many_arguments)]
fn op(
    d: &OpDesc,
    base: &Path,
    path: &Path,
    prov: Option<&ProvisioningKey>,
    fleet: Option<&str>,
    binding: &WrapBinding<'_>,
    secrets: &mut Secrets,
    held: &mut Held,
) -> Result<Op> {
    let bad = |what: String| AuthorError::Description {
        path: path.to_path_buf(),
        what,
    };
    let mut wrap = |what: &str, secret: &[u8], aad: Vec<u8>| -> Result<ByteBuf> {
        let (key, kid) = prov.ok_or_else(|| match fleet {
            None => bad(format!(
                "{what} is a secret: it is encrypted to the device's provisioning key, which the description's \"key-statement\" must give (suit-agent device-key --out-dir writes key-statement.cbor)"
            )),
            Some(line) => bad(format!(
                "{what} is a secret: it is encrypted to the device's provisioning key, which {line} does not give: list the device's key statement after its identity key (suit-agent device-key --out-dir writes key-statement.cbor)"
            )),
        })?;
        let wrapped = wrap_secret(secret, key, kid, &aad, &mut super::os_rng())
            .map_err(|e| AuthorError::Create(format!("encrypting {what}: {e}")))?;
        secrets.push((aad, Zeroizing::new(secret.to_vec())));
        Ok(ByteBuf::from(wrapped))
    };
    Ok(match d {
        OpDesc::AddAnchor(a) => {
            let scope = scope(&a.scope, base).map_err(|e| bad(format!("anchor {}: {e}", a.id)))?;
            match (&a.key, &a.hmac_key) {
                (Some(k), None) => {
                    let path = base.join(k);
                    let f = load_public(&path)?;
                    // With the file's `alg`, if it declares one: the device keeps the
                    // restriction (RFC 9052 §7.1).
                    let cose_key = f.anchor_cose_key(&path)?;
                    held.insert(a.id, digest_of(&cose_key, &k.display().to_string())?);
                    Op::AddAnchor(AnchorRecord {
                        id: a.id,
                        cose_key: ByteBuf::from(cose_key),
                        role: role(a.role),
                        scope,
                        // Assigned by the device.
                        key_scope: 0,
                    })
                }
                (None, Some(k)) => {
                    if matches!(a.role, RoleDesc::Tpa) {
                        return Err(bad(format!(
                            "anchor {}: a symmetric (HMAC) key cannot hold the TPA role",
                            a.id
                        )));
                    }
                    let s = load_symmetric(&base.join(k), &[32, 48, 64], "HMAC key")?;
                    let cose_key = symmetric_cose_key(
                        &s.secret,
                        if s.kid.is_empty() { None } else { Some(&s.kid) },
                    )?;
                    let wrapped_key = wrap(
                        &format!("anchor {}'s HMAC key", a.id),
                        &cose_key,
                        anchor_wrap_aad(binding, a.id, role(a.role), &scope),
                    )?;
                    held.insert(a.id, digest_of(&cose_key, &k.display().to_string())?);
                    Op::AddSecretAnchor {
                        id: a.id,
                        role: role(a.role),
                        scope,
                        wrapped_key,
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "anchor {}: give exactly one of \"key\" and \"hmac-key\"",
                        a.id
                    )))
                }
            }
        }
        OpDesc::AddKek(k) => {
            let file = load_symmetric(&base.join(&k.kek), &[16, 32], "KEK")?;
            let kid = match &k.kid {
                Some(text) => kek_id(text).map_err(|e| bad(format!("add-kek: {e}")))?,
                None if !file.kid.is_empty() => file.kid.clone(),
                None => {
                    return Err(bad(format!(
                        "add-kek {}: give a \"kid\" (recipients find the KEK by it)",
                        k.kek.display()
                    )))
                }
            };
            let mut anchors = Vec::with_capacity(k.anchors.len());
            for id in &k.anchors {
                let named = k
                    .anchor_keys
                    .get(id)
                    .map(|n| named_digest(n, base, &bad))
                    .transpose()?;
                let key = match (held.get(id), named) {
                    (Some(known), Some(named)) if *known != named => {
                        return Err(bad(format!(
                            "add-kek {}: \"anchor-keys\" names another key for anchor {id} than the one it holds (added earlier in this description, or in the device model{})",
                            k.kek.display(),
                            fleet.map(|l| format!(" of the device of {l}")).unwrap_or_default()
                        )))
                    }
                    (Some(known), _) => *known,
                    (None, Some(named)) => named,
                    (None, None) => {
                        return Err(bad(format!(
                            "add-kek {}: which key anchor {id} holds is not known{} (the KEK's wrap is bound to it): add the anchor earlier in this description, give the TPA's model of the device (--state, or --state-dir with --devices), or name its key in the KEK's \"anchor-keys\": {{\"{id}\": {{\"key\": \"PUB\"}}}}",
                            k.kek.display(),
                            fleet.map(|l| format!(" for the device of {l}")).unwrap_or_default()
                        )))
                    }
                };
                anchors.push((*id, key));
            }
            let wrapped_key = wrap(
                &format!("KEK {}", k.kek.display()),
                &file.secret,
                kek_wrap_aad(binding, &kid, &anchors),
            )?;
            Op::AddKek {
                kid: ByteBuf::from(kid),
                anchors: k.anchors.clone(),
                wrapped_key,
            }
        }
        OpDesc::RemoveKek(kid) => Op::RemoveKek {
            kid: ByteBuf::from(kek_id(kid).map_err(|e| bad(format!("remove-kek: {e}")))?),
        },
        OpDesc::RemoveAnchor(id) => {
            held.remove(id);
            Op::RemoveAnchor { id: *id }
        }
        OpDesc::Rescope(r) => Op::Rescope {
            id: r.id,
            scope: scope(&r.scope, base).map_err(|e| bad(format!("rescope {}: {e}", r.id)))?,
        },
        OpDesc::SetRules(rules) => Op::SetRules(
            rules
                .iter()
                .map(|r| {
                    Ok(RuleRecord {
                        prefix: prefix(&r.prefix).map_err(|e| bad(format!("rule: {e}")))?,
                        required_roles: r.require_roles.iter().map(|x| role(*x)).collect(),
                        required_anchors: r.require_anchors.clone(),
                    })
                })
                .collect::<Result<_>>()?,
        ),
        OpDesc::SetIdentity(i) => {
            let vendor = vendor_uuid(&i.vendor_id).map_err(|e| bad(format!("vendor-id: {e}")))?;
            let class =
                resolve_id(&i.class_id, &vendor).map_err(|e| bad(format!("class-id: {e}")))?;
            let device = i
                .device_id
                .as_ref()
                .map(|d| resolve_id(d, &class))
                .transpose()
                .map_err(|e| bad(format!("device-id: {e}")))?;
            let buf = |u: uuid::Uuid| ByteBuf::from(u.as_bytes().to_vec());
            Op::SetIdentity(Identity {
                vendor_id: Some(buf(vendor)),
                class_id: Some(buf(class)),
                device_id: device.map(buf),
            })
        }
    })
}

/// What `provision` produced.
pub struct Provisioning {
    pub message: Vec<u8>,
    pub counter: u64,
    pub ops: usize,
    /// The device the message is bound to (identity key id).
    pub device_kid: Vec<u8>,
    /// The body as signed, and the plaintext of its secrets (for the TPA's device model).
    pub body: ProvisioningBody,
    pub secrets: Secrets,
    /// The public key that signed it (the TPA root's, or a delegate's); the secrets' wraps are
    /// bound to its [`signer_key_digest`].
    pub signer: suit_common::cose::VerificationKey,
}

fn p256_of(path: &Path, what: &str, description: &Path) -> Result<p256::PublicKey> {
    match load_public(path)?.key {
        PublicKey::P256(k) => Ok(k),
        PublicKey::Ed25519(_) | PublicKey::HssLms(_) => Err(AuthorError::Description {
            path: description.to_path_buf(),
            what: format!("{what} must be the device's P-256 key"),
        }),
    }
}

/// The TA's key id of a P-256 public key ([`suit_common::cose::key_id`]).
fn kid_of(key: &p256::PublicKey) -> Vec<u8> {
    suit_common::cose::key_id(&PublicKey::P256(*key).to_bytes())
}

/// Builds and signs the message described by `description` with the TPA key `tpa_key`.
/// `counter` overrides the description's; `model` is the TPA's model of the device
/// (`--state`; it need not exist yet), which gives the keys the device's anchors hold.
pub fn provision(
    description: &Path,
    tpa_key: &Path,
    counter: Option<u64>,
    model: Option<&Path>,
) -> Result<Provisioning> {
    let signer = tpa_signer(tpa_key)?;
    provision_device(description, &signer, counter, None, model)
}

/// A TPA signing key, its algorithm and key id.
pub type TpaSigner = (
    suit_common::cose::SigningKey,
    suit_common::cose::Algorithm,
    Vec<u8>,
);

/// The TPA's signing key, its algorithm and key id (a key file or a `pkcs11:` URI).
pub fn tpa_signer(tpa_key: &Path) -> Result<TpaSigner> {
    Ok(if super::pkcs11::is_uri(tpa_key) {
        let (key, kid) = super::pkcs11::open_signer(tpa_key)?;
        (key, suit_common::cose::Algorithm::Esp256, kid)
    } else {
        let signer = load_private(tpa_key)?;
        (
            signer.key.signing_key()?,
            signer.key.signing_algorithm(false),
            signer.kid,
        )
    })
}

/// One device of a fleet: its enrolled identity key and (from its verified key statement)
/// its provisioning key.
#[derive(Clone)]
pub struct FleetDevice {
    pub identity: p256::PublicKey,
    pub provisioning: Option<p256::PublicKey>,
    /// Where the device came from (the list line), for messages.
    pub source: String,
    /// The files read for it (identity key, key statement).
    pub files: Vec<PathBuf>,
}

/// The provisioning description file at `description`, parsed.
fn read_description(description: &Path) -> Result<Description> {
    let text = super::read_text_file(description)?;
    let desc: Description = serde_json::from_str(&text).map_err(|e| AuthorError::Description {
        path: description.to_path_buf(),
        what: e.to_string(),
    })?;
    Ok(desc)
}

/// Every file `description` names (device and provisioning keys, anchor keys, KEKs), and the
/// description itself: the inputs an output must not overwrite ([`super::check_outputs`]).
pub fn description_inputs(description: &Path) -> Result<Vec<PathBuf>> {
    let desc = read_description(description)?;
    let base = description.parent().unwrap_or(Path::new("."));
    let mut files = vec![description.to_path_buf()];
    files.extend(desc.device_key.iter().map(|p| base.join(p)));
    files.extend(desc.key_statement.iter().map(|p| base.join(p)));
    for o in &desc.ops {
        match o {
            OpDesc::AddAnchor(a) => {
                files.extend(a.key.iter().chain(&a.hmac_key).map(|k| base.join(k)))
            }
            OpDesc::AddKek(k) => {
                files.push(base.join(&k.kek));
                for n in k.anchor_keys.values() {
                    files.extend(n.key.iter().chain(&n.hmac_key).map(|f| base.join(f)));
                }
            }
            _ => {}
        }
    }
    Ok(files)
}

/// The provisioning key `statement` states, verified against the enrolled `identity`.
fn stated_provisioning_key(
    statement: &Path,
    identity: &p256::PublicKey,
) -> Result<p256::PublicKey> {
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    let bytes = super::read_cbor_of(statement, crate::detect::Format::KeyStatement)?;
    let sec1 = identity.to_sec1_point(false).as_bytes().to_vec();
    let stated = suit_common::service::statement::verify(&bytes, &sec1)
        .map_err(|e| AuthorError::Refused(format!("{}: {e} (device-key)", statement.display())))?;
    let k = stated
        .keys
        .iter()
        .find(|k| k.purpose == "provisioning" && k.anchor.is_none())
        .ok_or_else(|| AuthorError::input(statement, "states no provisioning key"))?;
    p256::PublicKey::from_sec1_bytes(&k.key)
        .map_err(|_| AuthorError::input(statement, "the provisioning key is not a P-256 point"))
}

/// The message of `description` for `device` (or, when `None`, for the description's own
/// `device-key` / `key-statement`), signed by `signer`. `model`: the TPA's model of the device
/// (it need not exist yet), which gives the keys its anchors hold.
pub fn provision_device(
    description: &Path,
    signer: &TpaSigner,
    counter: Option<u64>,
    device: Option<&FleetDevice>,
    model: Option<&Path>,
) -> Result<Provisioning> {
    let desc = read_description(description)?;
    let base = description.parent().unwrap_or(Path::new("."));
    if desc.provisioning_key.is_some() {
        return Err(AuthorError::Description {
            path: description.to_path_buf(),
            what: "\"provisioning-key\" is no longer taken (a bare PEM could be any key): give \"key-statement\", the device's key statement (suit-agent device-key --out-dir writes key-statement.cbor), which is verified against \"device-key\" and gives the provisioning key".into(),
        });
    }
    let counter = counter
        .or(desc.counter)
        .ok_or_else(|| AuthorError::Description {
            path: description.to_path_buf(),
            what: "\"counter\" is missing: the device's next counter for the signing key (one \
               more than `suit-agent anchors` shows for it), in the description or as \
               --counter"
                .into(),
        })?;
    let identity = match (device, &desc.device_key) {
        (Some(d), _) => d.identity,
        (None, Some(k)) => p256_of(&base.join(k), "device-key", description)?,
        (None, None) => {
            return Err(AuthorError::Description {
                path: description.to_path_buf(),
                what: "\"device-key\" is missing: the device's identity public key, which the message is bound to (suit-agent device-key --out-dir writes identity.pub.pem); with --devices the fleet list gives it instead".into(),
            })
        }
    };
    let device_kid = kid_of(&identity);
    let prov_key = match (device, &desc.key_statement) {
        (Some(d), _) => d.provisioning,
        (None, Some(st)) => Some(stated_provisioning_key(&base.join(st), &identity)?),
        (None, None) => None,
    };
    let prov = prov_key.map(|k| (k, kid_of(&k)));
    let mut held = match model {
        Some(m) if m.exists() => held_of(&DeviceModel::load(m)?.state),
        _ => Held::new(),
    };
    let (key, alg, kid) = signer;
    let binding = WrapBinding {
        signer: signer_digest(key)?,
        device: &device_kid,
    };
    let mut secrets = Vec::new();
    let ops = desc
        .ops
        .iter()
        .map(|o| {
            op(
                o,
                base,
                description,
                prov.as_ref(),
                device.map(|d| d.source.as_str()),
                &binding,
                &mut secrets,
                &mut held,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let body = ProvisioningBody {
        counter,
        device: ByteBuf::from(device_kid.clone()),
        ops,
    };
    let message = seal(&body, key, *alg, kid)
        .map_err(|e| AuthorError::Create(format!("signing the message: {e}")))?;
    Ok(Provisioning {
        message,
        counter,
        ops: body.ops.len(),
        device_kid,
        body,
        secrets,
        signer: key.verification_key(),
    })
}

// ---------------------------------------------------------------------------------------
// The TPA's model of a device (`provision --state FILE`): the same `apply_ops` the TA runs,
// on what the TPA believes the device holds, so it knows the state digest to expect in the
// device's receipt.

/// What the TPA believes one device holds. Contains the secrets the TPA provisioned: the
/// file is written readable by its owner only. Encoded like the device's own records
/// (`service::record`; the same bytes earlier versions wrote through serde).
pub struct DeviceModel {
    pub device: ByteBuf,
    pub state: suit_common::service::state::State,
    pub keks: Vec<suit_common::service::provision::Kek>,
    /// COSE_Key of the TPA root's public key, learnt from the last message the root signed
    /// (absent from models written before, and until the root signs one): the device refuses
    /// an anchor holding it.
    pub root: Option<ByteBuf>,
}

suit_common::cbor::struct_codec!(DeviceModel {
    device,
    state,
    keks,
    root = default,
});

/// Largest device model read: a state record (256 KiB) and a KEK object (8 KiB) at most.
const MAX_DEVICE_MODEL: usize = 320 * 1024;

impl DeviceModel {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::files::read_file_max(path, MAX_DEVICE_MODEL as u64)?;
        suit_common::service::record::decode_stored(&bytes, MAX_DEVICE_MODEL).map_err(|e| {
            match crate::detect::detect(&bytes).filter(|f| *f != crate::detect::Format::DeviceModel)
            {
                Some(found) => AuthorError::input(
                    path,
                    format!("this is {}, not the TPA's device model", found.name()),
                ),
                None => AuthorError::input(path, format!("not a device model: {e}")),
            }
        })
    }

    /// The state digest the device's receipt must carry.
    pub fn digest(&self) -> Result<[u8; 32]> {
        suit_common::service::provision::state_digest(&self.state, &self.keks)
            .map_err(|e| AuthorError::Create(format!("state digest: {e}")))
    }
}

/// The model in `path` (created when missing) advanced by the message `p`, not yet saved: a
/// message the model refuses (another device, a wrong counter) is refused here, before
/// anything is written ([`write_message`] saves it).
pub fn advance_model(path: &Path, p: &Provisioning) -> Result<ModelUpdate> {
    use suit_common::service::provision::{apply_body, delegate_signer, Signer, TPA_ROOT_ID};
    let mut model = if path.exists() {
        DeviceModel::load(path)?
    } else {
        DeviceModel {
            device: ByteBuf::from(p.device_kid.clone()),
            state: Default::default(),
            keks: Vec::new(),
            root: None,
        }
    };
    let refuse = |what: String| AuthorError::Refused(format!("{}: {what}", path.display()));
    if model.device.as_slice() != p.device_kid.as_slice() {
        return Err(refuse("the model is of another device".into()));
    }
    // The device tries the root first; a model knows the root's key only once the root signed
    // one of its messages, but a message no delegate of the model signed is the root's (or the
    // device refuses it).
    let known_root = match &model.root {
        Some(k) => Some(
            suit_common::cose::VerificationKey::from_cose_key(k)
                .map_err(|e| refuse(format!("the model's TPA root key: {e}")))?
                .0,
        ),
        None => None,
    };
    let delegate = delegate_signer(&p.message, &model.state, known_root.as_ref())
        .map_err(|e| refuse(e.to_string()))?;
    // Once the model knows the root, a key that is neither it nor a TPA anchor of the model
    // (a revoked delegate, the wrong --tpa-key) signs a message the device refuses: taken for
    // the root's, it advanced the model's counter and replaced its root key, so the model no
    // longer matched the device and refused the TPA's next real message.
    if let (None, Some(root)) = (delegate, &known_root) {
        if !root.same_key(&p.signer) {
            return Err(refuse(
                "the signing key (--tpa-key) is neither the TPA root that signed this model's \
                 earlier messages nor a TPA anchor the model holds (a revoked delegate, or \
                 another key?): the device refuses the message (not signed by the TPA root or \
                 a TPA anchor); nothing written"
                    .into(),
            ));
        }
    }
    let signer = delegate.unwrap_or(TPA_ROOT_ID);
    let root = if signer == TPA_ROOT_ID {
        model.root = cose_key_of(&p.signer)?.map(ByteBuf::from);
        Some(&p.signer)
    } else {
        known_root.as_ref()
    };
    let mut unwrap = |aad: &[u8], _wrapped: &[u8]| {
        p.secrets
            .iter()
            .find(|(a, _)| a == aad)
            .map(|(_, s)| s.clone())
            .ok_or(suit_common::service::provision::OpError::SecretNotKnown)
    };
    // The wraps are bound to the key that signed: the device finds that key (the root's, or
    // the delegate anchor's that `delegate_signer` found), the model knows it from the run.
    let who = Signer {
        id: signer,
        root,
        binding: WrapBinding {
            signer: signer_key_digest(&p.signer)
                .ok_or_else(|| refuse("a TPA signing key must be asymmetric".into()))?,
            device: &p.device_kid,
        },
    };
    apply_body(
        &mut model.state,
        &mut model.keks,
        &who,
        p.counter,
        &p.body.ops,
        &mut unwrap,
    )
    .map_err(|e| refuse(format!("the message does not apply to the model: {e}")))?;
    let bytes = Zeroizing::new(
        suit_common::service::record::encode(&model)
            .map_err(|e| AuthorError::Create(format!("encoding the model: {e}")))?,
    );
    Ok(ModelUpdate {
        path: path.to_path_buf(),
        bytes,
        digest: model.digest()?,
    })
}

/// A device model advanced by one message ([`advance_model`]), to be saved once the message
/// is written.
pub struct ModelUpdate {
    path: PathBuf,
    bytes: Zeroizing<Vec<u8>>,
    /// The state digest the device's receipt will carry once it applied the message.
    pub digest: [u8; 32],
}

/// Writes the message `p` to `out`, then (with `model`, from [`advance_model`]) saves the
/// model it advances; both whole or not at all ([`super::write_file`], [`super::write_secret`]).
///
/// The message first: the model is advanced only once the message exists. A crash between
/// the two writes leaves a message the model does not know yet, which is re-creatable:
/// running the same command again makes an equivalent message (same counter, operations and
/// secrets; the device applies only one of the two) and then advances the model once. The
/// other order would leave a model ahead of the device (state it never received, a counter
/// it never reached), which every later message would inherit as a wrong expected state
/// digest, and which no message could repair. A model that cannot be saved (the message was
/// written) removes the message again, so what remains is consistent: the error says so.
/// Only the regular file written is removed: not a node written through (a FIFO), nor what
/// another process put at `out` since.
pub fn write_message(out: &Path, p: &Provisioning, model: Option<&ModelUpdate>) -> Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let file = |out: &Path| {
        std::fs::symlink_metadata(out)
            .ok()
            .filter(|st| st.file_type().is_file())
            .map(|st| (st.dev(), st.ino()))
    };
    super::write_file(out, &p.message)?;
    let Some(m) = model else {
        return Ok(());
    };
    let written = file(out);
    super::write_secret(&m.path, &m.bytes).map_err(|e| {
        let removed = if written.is_none() || file(out) != written {
            "what is there is not the file written (a FIFO or device, or replaced since), so it \
             was left: do not send the message"
                .to_string()
        } else {
            match std::fs::remove_file(out) {
                Ok(()) => "it was removed again".to_string(),
                Err(r) => format!("removing it failed too ({r}): do not send it"),
            }
        };
        AuthorError::Create(format!(
            "{e}; the device model was not advanced, so the message {} is not kept: {removed} \
             (run the command again once the model can be written)",
            out.display()
        ))
    })
}

/// The COSE_Key of a public key, `None` for a shared (HMAC) key, which never is a TPA root.
fn cose_key_of(key: &suit_common::cose::VerificationKey) -> Result<Option<Vec<u8>>> {
    use suit_common::cose::KeyMaterial as K;
    let public = match key.material() {
        K::P256(k) => PublicKey::P256(k.into()),
        K::Ed25519(k) => PublicKey::Ed25519(*k),
        K::HssLms(k) => PublicKey::HssLms(k.clone()),
        K::Hmac256(_) => return Ok(None),
    };
    public_cose_key(&public, None).map(Some)
}

/// What a provisioning description gives a simulated device (`verify --process
/// --provisioning`): its operations with every secret encrypted to *that* device's
/// provisioning key (the description's device and provisioning keys and counter are the real
/// device's and are not used).
pub struct DeviceOps {
    pub ops: Vec<Op>,
    /// The key each anchor holds after the operations.
    pub held: Held,
}

/// The operations of `description` for a device whose provisioning key is `provisioning`,
/// their secrets bound to `binding` (the simulated device's TPA key and identity).
pub fn device_ops(
    description: &Path,
    provisioning: &p256::PublicKey,
    provisioning_kid: &[u8],
    binding: &WrapBinding<'_>,
) -> Result<DeviceOps> {
    let desc = read_description(description)?;
    let base = description.parent().unwrap_or(Path::new("."));
    let prov: ProvisioningKey = (*provisioning, provisioning_kid.to_vec());
    let mut ops = Vec::new();
    let mut held = Held::new();
    for d in &desc.ops {
        let mut secrets = Vec::new();
        let o = op(
            d,
            base,
            description,
            Some(&prov),
            None,
            binding,
            &mut secrets,
            &mut held,
        )?;
        ops.push(o);
    }
    Ok(DeviceOps { ops, held })
}

/// An `AddKek` for a simulated device: `file` (raw 16/32 bytes, COSE_Key or JWK) under its
/// own kid or `fallback_kid`, usable by `anchors` (each with the key it holds), encrypted to
/// the device's provisioning key and bound to `binding` (the message's signer and device).
pub fn device_kek(
    file: &Path,
    fallback_kid: &[u8],
    anchors: Vec<(u32, [u8; 32])>,
    provisioning: &p256::PublicKey,
    provisioning_kid: &[u8],
    binding: &WrapBinding<'_>,
) -> Result<Op> {
    let k = load_symmetric(file, &[16, 32], "KEK")?;
    let kid = if k.kid.is_empty() {
        fallback_kid.to_vec()
    } else {
        k.kid.clone()
    };
    let wrapped = wrap_secret(
        &k.secret,
        provisioning,
        provisioning_kid,
        &kek_wrap_aad(binding, &kid, &anchors),
        &mut super::os_rng(),
    )
    .map_err(|e| AuthorError::Create(format!("encrypting KEK {}: {e}", file.display())))?;
    Ok(Op::AddKek {
        kid: ByteBuf::from(kid),
        anchors: anchors.iter().map(|(id, _)| *id).collect(),
        wrapped_key: ByteBuf::from(wrapped),
    })
}

/// Reads a fleet list: one device per line, `IDENTITY-KEY [KEY-STATEMENT]` (paths relative to
/// the list; `#` starts a comment). The identity key is the device's enrolled one; a key
/// statement (`suit-agent device-key --out-dir` writes key-statement.cbor) is verified against
/// it and gives the device's provisioning key, which messages carrying secrets need.
pub fn read_fleet(list: &Path) -> Result<Vec<FleetDevice>> {
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    /// Devices one run provisions (bounds the work one list can ask for).
    const MAX_FLEET: usize = 10_000;
    let text = super::read_text_file(list)?;
    crate::files::check_is_list(
        list,
        &text,
        "a fleet list (one `IDENTITY-KEY [KEY-STATEMENT]` per line)",
    )?;
    let base = list.parent().unwrap_or(Path::new("."));
    let bad = |n: usize, what: String| AuthorError::Input {
        path: list.to_path_buf(),
        what: format!("line {n}: {what}"),
    };
    let mut out: Vec<FleetDevice> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if out.len() == MAX_FLEET {
            return Err(bad(n, format!("more than {MAX_FLEET} devices in one list")));
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (id_path, statement) = match fields.as_slice() {
            [id] => (base.join(id), None),
            [id, st] => (base.join(id), Some(base.join(st))),
            _ => return Err(bad(n, "expected IDENTITY-KEY [KEY-STATEMENT]".into())),
        };
        let identity = match load_public(&id_path)?.key {
            PublicKey::P256(k) => k,
            PublicKey::Ed25519(_) | PublicKey::HssLms(_) => {
                return Err(bad(
                    n,
                    format!("{}: identity keys are P-256", id_path.display()),
                ))
            }
        };
        let provisioning = match &statement {
            None => None,
            Some(st) => {
                let bytes = super::read_cbor_of(st, crate::detect::Format::KeyStatement)?;
                let sec1 = identity.to_sec1_point(false).as_bytes().to_vec();
                let stated =
                    suit_common::service::statement::verify(&bytes, &sec1).map_err(|e| {
                        AuthorError::Refused(format!(
                            "{} line {n}: {}: {e} ({})",
                            list.display(),
                            st.display(),
                            id_path.display()
                        ))
                    })?;
                let k = stated
                    .keys
                    .iter()
                    .find(|k| k.purpose == "provisioning" && k.anchor.is_none())
                    .ok_or_else(|| {
                        bad(n, format!("{}: states no provisioning key", st.display()))
                    })?;
                Some(p256::PublicKey::from_sec1_bytes(&k.key).map_err(|_| {
                    bad(
                        n,
                        format!(
                            "{}: the provisioning key is not a P-256 point",
                            st.display()
                        ),
                    )
                })?)
            }
        };
        if out.iter().any(|d| d.identity == identity) {
            return Err(bad(n, format!("{} is listed twice", id_path.display())));
        }
        out.push(FleetDevice {
            identity,
            provisioning,
            source: format!("{} line {n}", list.display()),
            files: [Some(id_path), statement].into_iter().flatten().collect(),
        });
    }
    if out.is_empty() {
        return Err(AuthorError::input(list, "lists no device"));
    }
    Ok(out)
}

/// The file a fleet device's message is written to: its device id (identity key id), hex.
pub fn fleet_file_name(device: &FleetDevice) -> String {
    format!("{}.cbor", hex::encode(kid_of(&device.identity)))
}

/// The TPA's model of a fleet device in `dir` (`--state-dir`): `<device id>.model.cbor`.
pub fn fleet_model_path(dir: &Path, device: &FleetDevice) -> PathBuf {
    dir.join(format!(
        "{}.model.cbor",
        hex::encode(kid_of(&device.identity))
    ))
}
