//! `suit-author provision`: makes TPA-signed provisioning messages for the TA's trust anchor
//! store (the format is `suit_common::service::provision`). The agent only relays them.
//!
//! Description (JSON; relative paths are relative to the file):
//!
//! ```json
//! { "counter": 1,
//!   "device-key": "device.pub.pem",
//!   "ops": [
//!     {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author",
//!                     "components": [["app"]], "vendor-ids": ["<uuid>"], "class-ids": []}},
//!     {"add-anchor": {"id": 2, "hmac-key": "operator.key", "role": "operator", "components": [[]]}},
//!     {"rescope": {"id": 1, "components": [["app"], ["hex:00"]]}},
//!     {"remove-anchor": 2},
//!     {"set-rules": [{"prefix": ["app"], "require-roles": ["author", "operator"], "require-anchors": []}]},
//!     {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}},
//!     {"import-device-keys": {"decryption-key": "dev.priv.pem", "report-key": "rep.priv.pem"}}
//!   ] }
//! ```
//!
//! `device-key` (optional) binds the message to that device (its decryption-key id); `[[]]`
//! as components grants every component. `import-device-keys` is for platforms whose RNG
//! cannot be trusted: the TA accepts it once, before it has keys, so such a message cannot
//! be device-bound; it carries private keys and belongs in a trusted provisioning setting.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_bytes::ByteBuf;
use sha2::{Digest as _, Sha256};
use suit_common::service::provision::{author::seal, Op, ProvisioningBody};
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, RuleRecord, Scope};

use super::create::{resolve_id, segments, IdSpec};
use super::keys::{
    load_private, load_public, load_symmetric, public_cose_key, symmetric_cose_key, PublicKey,
};
use super::{AuthorError, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Description {
    counter: u64,
    #[serde(default)]
    device_key: Option<PathBuf>,
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

fn scope(d: &ScopeDesc) -> std::result::Result<Scope, String> {
    Ok(Scope {
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

fn op(d: &OpDesc, base: &Path, path: &Path) -> Result<Op> {
    let bad = |what: String| AuthorError::Description {
        path: path.to_path_buf(),
        what,
    };
    Ok(match d {
        OpDesc::AddAnchor(a) => {
            let cose_key = match (&a.key, &a.hmac_key) {
                (Some(k), None) => {
                    let f = load_public(&base.join(k))?;
                    public_cose_key(&f.key, (!f.kid.is_empty()).then_some(f.kid.as_slice()))?
                }
                (None, Some(k)) => {
                    let s = load_symmetric(&base.join(k), &[32, 48, 64], "HMAC key")?;
                    symmetric_cose_key(
                        &s.secret,
                        if s.kid.is_empty() { None } else { Some(&s.kid) },
                    )?
                    .to_vec()
                }
                _ => {
                    return Err(bad(format!(
                        "anchor {}: give exactly one of \"key\" and \"hmac-key\"",
                        a.id
                    )))
                }
            };
            Op::AddAnchor(AnchorRecord {
                id: a.id,
                cose_key: ByteBuf::from(cose_key),
                role: role(a.role),
                scope: scope(&a.scope).map_err(|e| bad(format!("anchor {}: {e}", a.id)))?,
                // Assigned by the device.
                key_scope: 0,
            })
        }
        OpDesc::RemoveAnchor(id) => Op::RemoveAnchor { id: *id },
        OpDesc::Rescope(r) => Op::Rescope {
            id: r.id,
            scope: scope(&r.scope).map_err(|e| bad(format!("rescope {}: {e}", r.id)))?,
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
    /// The device the message is bound to (decryption-key id), if any.
    pub device_kid: Option<Vec<u8>>,
}

/// Builds and signs the message described by `description` with the TPA key `tpa_key`.
/// `counter` overrides the description's.
pub fn provision(description: &Path, tpa_key: &Path, counter: Option<u64>) -> Result<Provisioning> {
    let text = std::fs::read_to_string(description).map_err(|source| AuthorError::Io {
        path: description.to_path_buf(),
        source,
    })?;
    let desc: Description = serde_json::from_str(&text).map_err(|e| AuthorError::Description {
        path: description.to_path_buf(),
        what: e.to_string(),
    })?;
    let base = description.parent().unwrap_or(Path::new("."));
    let ops = desc
        .ops
        .iter()
        .map(|o| op(o, base, description))
        .collect::<Result<Vec<_>>>()?;
    let device_kid = match &desc.device_key {
        Some(p) => match load_public(&base.join(p))?.key {
            // The TA names its device by the SHA-256 prefix of its decryption key's point.
            key @ PublicKey::P256(_) => Some(Sha256::digest(key.to_bytes())[..16].to_vec()),
            PublicKey::Ed25519(_) => {
                return Err(AuthorError::Description {
                    path: description.to_path_buf(),
                    what: "device-key must be the device's P-256 key".into(),
                })
            }
        },
        None => None,
    };
    let signer = load_private(tpa_key)?;
    let key = signer.key.signing_key()?;
    let alg = signer.key.signing_algorithm(false);
    let counter = counter.unwrap_or(desc.counter);
    let body = ProvisioningBody {
        counter,
        device: device_kid.clone().map(ByteBuf::from),
        ops,
    };
    let message = seal(&body, &key, alg, &signer.kid)
        .map_err(|e| AuthorError::Create(format!("signing the message: {e:?}")))?;
    Ok(Provisioning {
        message,
        counter,
        ops: body.ops.len(),
        device_kid,
    })
}
