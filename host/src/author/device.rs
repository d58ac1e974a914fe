//! The device `verify --process` runs on: the TA's own [`Service`] over the in-memory
//! backend, provisioned with a TPA-signed message and fed through the same protocol calls
//! the agent makes. Every check the TA makes (authentication, policy, rollback, TA headers,
//! personalization size, REE paths, which anchors' keys decrypt what and where, with given
//! device keys standing in for the anchors' own) is made by the same code, so the author tool's
//! verdict is the device's.
//!
//! The simulated device's TPA root is a fresh key made for the run; the anchors, identity and
//! device keys come from the command line. It protects nothing.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::protocol::Command;
use suit_common::report::Report;
use suit_common::service::memory::MemoryBackend;
use suit_common::service::provision::{author::seal, Op, ProvisioningBody};
use suit_common::service::state::{
    component_from, AnchorRecord, Identity, RoleRecord, Scope, State,
};
use suit_common::service::store::SecureStore as _;
use suit_common::service::{components, Config, Service, REPORT_OBJECT, STORED_REPORT_TRAILER_LEN};
use suit_common::suit::ComponentId;

use crate::client;
use crate::tee::{AgentError, RawReply, Transport};

use super::identity::DeviceIdentity;
use super::{AuthorError, Result};
use crate::files::{payload_file_name, MAX_FILE_LEN};
use crate::transport;

/// A trust anchor to provision: its COSE_Key (public, or symmetric for HMAC).
pub struct AnchorKey {
    /// The anchor id the device reports for it.
    pub id: u32,
    /// COSE_Key bytes: an HMAC anchor's holds its secret (wiped when dropped).
    pub cose_key: zeroize::Zeroizing<Vec<u8>>,
}

/// What the simulated device is given before the update.
pub struct DeviceSetup {
    /// Trust anchors (role author, unrestricted: every component, `ree-plaintext`).
    pub anchors: Vec<AnchorKey>,
    /// Identity for vendor/class/device conditions.
    pub identity: DeviceIdentity,
    /// Decryption keys standing in for the anchors' own payload keys (the device's rules on
    /// whose keys decrypt what, and where, unchanged): each bound one for its anchor, an
    /// unbound one (at most one) for every anchor no bound key names. Empty: each anchor's
    /// own keys, which the device derives.
    pub device_keys: Vec<DeviceKey>,
    /// Where detached payloads are looked up (last URI segment).
    pub payload_dir: Option<PathBuf>,
    /// Key-encryption keys (`--kek`), provisioned with `AddKek` for every anchor.
    pub keks: Vec<PathBuf>,
    /// A provisioning description (`suit-author provision`'s JSON): when given, the device is
    /// provisioned with its operations (anchors, scopes, rules, identity, KEKs) instead of
    /// `anchors`, each secret encrypted to this device like a real message.
    pub provisioning: Option<PathBuf>,
}

/// A device decryption key given on the command line.
pub struct DeviceKey {
    /// The anchor it stands in for (`--device-key ID=FILE`); `None`: every anchor no other
    /// key is bound to (`--device-key FILE`).
    pub anchor: Option<u32>,
    /// The option as given, for messages (`--device-key 2=b.priv.pem`).
    pub given: String,
    /// The P-256 scalar.
    pub d: zeroize::Zeroizing<Vec<u8>>,
    /// What its file allows it for (declared `alg`, `key_ops`): it is registered for that only.
    pub usable: super::keys::DeviceKeyUse,
}

/// An installed component, as the device holds it.
pub struct Installed {
    /// The component id.
    pub component: ComponentId,
    /// Its bytes (for a TA: the image handed to the TA store).
    pub data: Vec<u8>,
    /// What the device keeps it as (TA, personalization data, REE file, secure storage).
    pub kind: String,
}

/// The outcome of one update attempt.
pub struct Run {
    /// `Ok(sequence number)` or the device's refusal, in its words.
    pub result: std::result::Result<u64, String>,
    /// Every installed component (empty on refusal: nothing is committed).
    pub installed: Vec<Installed>,
    /// What the platform side did (payload look-ups).
    pub notes: Vec<String>,
    /// The payload files read (inputs an output must not overwrite).
    pub fetched: Vec<PathBuf>,
    /// The device's SUIT report of the attempt (unsigned), if it made one.
    pub report: Option<Report>,
    /// The refusal is a payload the device had no key for
    /// ([`AgentError::is_missing_decryption_key`]).
    pub no_key: bool,
    /// The plain `--device-key` stood in for two or more signers of a manifest (the root or
    /// a dependency) that decrypted: the run cannot tell which of them a payload was
    /// encrypted to (`StandInKeys::unbound_shared`).
    pub shared_plain_key: bool,
}

struct InProcess(Service<MemoryBackend>);

impl Transport for InProcess {
    fn invoke(
        &mut self,
        command: Command,
        request: &[u8],
    ) -> std::result::Result<RawReply, AgentError> {
        Ok(crate::tee::invoke_in_process(&mut self.0, command, request))
    }
}

fn internal(what: &str) -> AuthorError {
    AuthorError::Create(format!("setting up the simulated device failed: {what}"))
}

/// Provisions a fresh simulated device as `setup` says and runs the update of `envelope`.
pub fn run(setup: &DeviceSetup, envelope: &[u8]) -> Result<Run> {
    // This run's TPA root: the device believes only messages it signs, like a real TA.
    let tpa = <p256::SecretKey as p256::elliptic_curve::Generate>::generate_from_rng(
        &mut super::os_rng(),
    );
    let tpa_point = {
        use p256::elliptic_curve::sec1::ToSec1Point as _;
        tpa.public_key().to_sec1_point(false).as_bytes().to_vec()
    };
    let config = Config::new(&tpa_point, false).map_err(|_| internal("TPA root"))?;
    let backend = MemoryBackend::new(0);
    let service = Service::new(backend, config);
    let mut tee = InProcess(service);

    // The device's identity (binding) and provisioning key (HMAC anchors travel encrypted).
    let keys = client::device_key(&mut tee, None).map_err(|_| internal("device keys"))?;
    let provisioning = p256::PublicKey::from_sec1_bytes(&keys.provisioning_key)
        .map_err(|_| internal("provisioning key"))?;
    let uuid = |u: Option<[u8; 16]>| u.map(|u| suit_common::protocol::ByteBuf::from(u.to_vec()));
    let scope = || Scope {
        component_prefixes: vec![vec![]],
        vendor_ids: Vec::new(),
        class_ids: Vec::new(),
        ree_plaintext: true,
        tracker_key: None,
    };
    let signer = SigningKey::p256(&tpa.to_bytes()).map_err(|_| internal("TPA key"))?;
    // What the secrets' wraps are bound to: this run's TPA key and the device.
    let binding = suit_common::service::provision::WrapBinding {
        signer: super::provision::signer_digest(&signer)?,
        device: &keys.identity_kid,
    };
    let mut ops: Vec<Op> = Vec::new();
    // The key each anchor holds: a KEK's wrap names them.
    let mut held = super::provision::Held::new();
    if let Some(desc) = &setup.provisioning {
        let d =
            super::provision::device_ops(desc, &provisioning, &keys.provisioning_kid, &binding)?;
        ops = d.ops;
        held = d.held;
    }
    for a in setup
        .anchors
        .iter()
        .filter(|_| setup.provisioning.is_none())
    {
        let parsed = suit_common::cose::VerificationKey::from_cose_key(&a.cose_key).ok();
        if let Some((k, _)) = &parsed {
            held.insert(a.id, suit_common::service::provision::anchor_key_digest(k));
        }
        let symmetric = parsed.is_some_and(|(k, _)| k.is_symmetric());
        ops.push(if symmetric {
            let wrapped = suit_common::service::provision::author::wrap_secret(
                &a.cose_key,
                &provisioning,
                &keys.provisioning_kid,
                &suit_common::service::provision::anchor_wrap_aad(
                    &binding,
                    a.id,
                    RoleRecord::Author,
                    &scope(),
                ),
                &mut super::os_rng(),
            )
            .map_err(|_| internal("wrapping an HMAC anchor"))?;
            Op::AddSecretAnchor {
                id: a.id,
                role: RoleRecord::Author,
                scope: scope(),
                wrapped_key: suit_common::protocol::ByteBuf::from(wrapped),
            }
        } else {
            Op::AddAnchor(AnchorRecord {
                id: a.id,
                cose_key: suit_common::protocol::ByteBuf::from(a.cose_key.to_vec()),
                role: RoleRecord::Author,
                key_scope: 0,
                scope: scope(),
            })
        });
    }
    let anchors: Vec<(u32, [u8; 32])> = held.into_iter().collect();
    for (i, path) in setup.keks.iter().enumerate() {
        let op = super::provision::device_kek(
            path,
            format!("kek-{}", i + 1).as_bytes(),
            anchors.clone(),
            &provisioning,
            &keys.provisioning_kid,
            &binding,
        )?;
        ops.push(op);
    }
    let identity_given = setup.identity.vendor_id.is_some()
        || setup.identity.class_id.is_some()
        || setup.identity.device_id.is_some();
    if setup.provisioning.is_none() || identity_given {
        ops.push(Op::SetIdentity(Identity {
            vendor_id: uuid(setup.identity.vendor_id),
            class_id: uuid(setup.identity.class_id),
            device_id: uuid(setup.identity.device_id),
        }));
    }
    let body = ProvisioningBody {
        counter: 1,
        device: keys.identity_kid.clone(),
        ops,
    };
    let message = seal(&body, &signer, Algorithm::Esp256, &[]).map_err(|_| internal("seal"))?;
    client::provision(&mut tee, &message).map_err(|e| match e {
        // Anchors the TA does not take (e.g. a key type it cannot store) are the device's
        // verdict too.
        AgentError::Refused { reason, .. } => {
            AuthorError::Refused(format!("the device refuses the trust anchors: {reason}"))
        }
        other => internal(&other.to_string()),
    })?;
    if !setup.device_keys.is_empty() {
        let stand_in = stand_in_keys(&setup.device_keys, tee.0.backend())?;
        tee.0.insecure_simulated_decryption_keys(stand_in);
    }

    let mut notes = Vec::new();
    let mut fetched = Vec::new();
    // The agent's own rules for --payload-dir (transport::local): a name directly in the
    // directory, never through a symbolic link, a regular file only. The envelope may be
    // anyone's: its URIs must not pick a file outside the directory.
    let sources = transport::local::PayloadSources::new(&[], setup.payload_dir.as_deref())
        .map_err(|e| AuthorError::Usage(e.to_string()))?;
    let mut resolve = |uri: &str| -> std::result::Result<Option<Vec<u8>>, AgentError> {
        if setup.payload_dir.is_none() {
            notes.push(format!("fetch {uri}: no --payload-dir given"));
            return Ok(None);
        }
        let Some(mut local) = sources.open(uri)? else {
            notes.push(match (payload_file_name(uri), &setup.payload_dir) {
                (Some(name), Some(dir)) => {
                    format!("fetch {uri}: no file {name} in {}", dir.display())
                }
                _ => format!("fetch {uri}: the URI has no usable last path segment"),
            });
            return Ok(None);
        };
        if local.len > MAX_FILE_LEN {
            return Err(AgentError::File(format!(
                "{}: file too large ({} bytes, limit {MAX_FILE_LEN})",
                local.path.display(),
                local.len
            )));
        }
        notes.push(format!("fetch {uri}: reading {}", local.path.display()));
        fetched.push(local.path.clone());
        let mut data = Vec::new();
        (&mut local.file)
            .take(MAX_FILE_LEN)
            .read_to_end(&mut data)
            .map_err(|e| AgentError::File(format!("{}: {e}", local.path.display())))?;
        Ok(Some(data))
    };
    let outcome = client::install_available(&mut tee, envelope, &mut resolve, &mut |_| {})
        .map_err(|e| e.explained_with(envelope));
    let report = tee
        .0
        .backend()
        .store()
        .get(REPORT_OBJECT)
        .ok()
        .flatten()
        // The stored report is followed by the TA's tags over it.
        .and_then(|b| {
            Report::decode(b.get(..b.len().checked_sub(STORED_REPORT_TRAILER_LEN)?)?).ok()
        });
    let no_key = outcome
        .as_ref()
        .is_err_and(AgentError::is_missing_decryption_key);
    let shared_plain_key = tee
        .0
        .simulated_decryption_keys()
        .is_some_and(|k| k.unbound_shared());
    let result = match outcome {
        Ok((_, done)) => Ok(done.sequence_number),
        Err(AgentError::Refused { reason, .. }) => Err(reason),
        Err(AgentError::File(what)) => return Err(AuthorError::Usage(what)),
        Err(e @ AgentError::Payload { .. }) => return Err(AuthorError::Usage(e.to_string())),
        Err(other) => Err(other.to_string()),
    };
    let installed = if result.is_ok() {
        installed(tee.0.backend())?
    } else {
        Vec::new()
    };
    Ok(Run {
        result,
        installed,
        notes,
        fetched,
        report,
        no_key,
        shared_plain_key,
    })
}

/// The keys standing in for the provisioned anchors' own: each bound key for the anchor its
/// id names, which must be one of the device's (else the option is refused, naming it), the
/// unbound one for every other anchor.
fn stand_in_keys(
    given: &[DeviceKey],
    backend: &MemoryBackend,
) -> Result<suit_common::service::keys::StandInKeys> {
    use suit_common::service::keys::{StandInKey, StandInKeys};
    let state = State::load(backend.store()).map_err(|_| internal("state"))?;
    let mut keys = StandInKeys::default();
    for k in given {
        // The caller's key stands in for anchors' own payload keys, for what its file allows
        // only (RFC 9052 §7.1); which signers' keys a payload gets, the KEKs by anchor,
        // ownership and ree-plaintext stay the device's rules.
        let scalar = || p256::SecretKey::from_slice(&k.d).map_err(|_| internal("device key"));
        let key = StandInKey {
            ecdh: k.usable.ecdh.then(scalar).transpose()?,
            hpke: k.usable.hpke.then(scalar).transpose()?,
        };
        match k.anchor {
            None => keys.unbound = Some(key),
            Some(id) if state.anchors.iter().any(|a| a.id == id) => {
                keys.by_anchor.push((id, key));
            }
            Some(id) => {
                let ids: Vec<String> = state.anchors.iter().map(|a| a.id.to_string()).collect();
                return Err(AuthorError::Usage(format!(
                    "{}: the simulated device has no anchor {id} (its anchors: {}; an ID is the \
                     device's anchor id, as `suit-agent anchors` shows it: the description's \
                     \"id\" with --provisioning, else the position of the --trust-anchor or \
                     --hmac-key, counting from 1, trust anchors first)",
                    k.given,
                    if ids.is_empty() {
                        "none".to_string()
                    } else {
                        ids.join(", ")
                    }
                )));
            }
        }
    }
    Ok(keys)
}

/// Every component the device now holds, with its bytes.
fn installed(backend: &MemoryBackend) -> Result<Vec<Installed>> {
    let state = State::load(backend.store()).map_err(|_| internal("state"))?;
    let mut tas: BTreeMap<[u8; 16], &Vec<u8>> = BTreeMap::new();
    for image in &backend.installed_tas {
        if let Ok(h) = components::parse_ta_header(image) {
            tas.insert(h.uuid, image);
        }
    }
    let mut out = Vec::new();
    for record in &state.components {
        let component = component_from(&record.id);
        let (data, kind) = match components::classify(&component) {
            Ok(components::Kind::TrustedApp { uuid }) => (
                tas.get(&uuid).map(|i| i.to_vec()).unwrap_or_default(),
                format!("TA {}", suit_common::text::uuid(&uuid)),
            ),
            Ok(k) => {
                let data = backend
                    .store()
                    .get(&record.object)
                    .ok()
                    .flatten()
                    .map(|d| d.to_vec())
                    .unwrap_or_default();
                let kind = match k {
                    components::Kind::Personalization { .. } => "personalization data".into(),
                    components::Kind::Ree { path } => format!("REE file {path}"),
                    _ => "secure storage".into(),
                };
                (data, kind)
            }
            Err(_) => continue,
        };
        out.push(Installed {
            component,
            data,
            kind,
        });
    }
    Ok(out)
}
