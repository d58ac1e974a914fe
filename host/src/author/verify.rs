//! `suit-author verify`: authenticate an envelope offline with the device engine and,
//! with `--process`, run the update procedure on the simulator device.

use std::io::Write;
use std::path::PathBuf;

use suit_common::cose::{AuthBlock, VerificationKey};
use suit_common::suit::policy::{Policy, Role, TrustAnchor};
use suit_common::suit::{AuthenticatedManifest, Envelope};

use super::device;
use super::explain;
use super::identity::DeviceIdentity;
use super::inspect;
use super::keys::{self, PrivateKey};
use super::{AuthorError, Result};
use crate::human::printable;

/// Deepest chain of integrated dependency envelopes checked without `--process`.
const MAX_DEPENDENCY_DEPTH: usize = 4;

/// Inputs of `verify`.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The envelope file (CBOR or hex text).
    pub envelope: PathBuf,
    /// Public keys trusted to sign (PEM SPKI or COSE_Key; private key files also work).
    pub trust_anchors: Vec<PathBuf>,
    /// Shared HMAC-SHA-256 keys trusted for COSE_Mac0 (raw 32..64 bytes or COSE_Key).
    pub hmac_keys: Vec<PathBuf>,
    /// Run the update procedure on the simulator.
    pub process: bool,
    /// The simulated device's identifiers.
    pub identity: DeviceIdentity,
    /// Where detached payloads are looked up (by last URI path segment).
    pub payload_dir: Option<PathBuf>,
    /// Where committed components are written (`component-N.bin`).
    pub out_dir: Option<PathBuf>,
    /// P-256 device private keys (ECDH-ES and COSE-HPKE recipients), each standing in for
    /// one anchor's own payload keys or (at most one) for every other anchor's.
    pub device_keys: Vec<DeviceKeyArg>,
    /// AES key-encryption keys, provisioned (`AddKek`) for every anchor of the simulated device.
    pub keks: Vec<PathBuf>,
    /// Provision the simulated device from this `provision` description instead of the
    /// trust anchors (its anchors, scopes, rules, identity and KEKs).
    pub provisioning: Option<PathBuf>,
    /// Print every condition and directive the engine ran.
    pub trace: bool,
    /// Algorithm features the target TA has beyond its default build (`--ta-features`).
    pub ta_features: Vec<TaFeature>,
}

pub use crate::ta_features::TaFeature;

/// One `--device-key`: `ID=FILE`, the key standing in for the payload keys of the anchor with
/// that id (the device's anchor id, as `suit-agent anchors`, `device-key --anchor ID` and a
/// description's `"id"` name it), or a plain `FILE`, standing in for every anchor no `ID=FILE`
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKeyArg {
    /// The anchor id (`None`: the plain form).
    pub anchor: Option<u32>,
    /// The key file.
    pub path: PathBuf,
}

impl DeviceKeyArg {
    /// `ID=FILE` when what comes before the first `=` is a decimal number, else a plain FILE
    /// (`./1=k.pem` names a file called `1=k.pem`). An ID that is no `u32`, or nothing after
    /// the `=`, is refused.
    pub fn parse(arg: std::ffi::OsString) -> std::result::Result<Self, String> {
        use std::os::unix::ffi::OsStrExt as _;
        let bytes = arg.as_bytes();
        let Some(eq) = bytes.iter().position(|b| *b == b'=') else {
            return Ok(DeviceKeyArg {
                anchor: None,
                path: arg.into(),
            });
        };
        let (id, rest) = (bytes.get(..eq).unwrap_or_default(), bytes.get(eq + 1..));
        if id.is_empty() || !id.iter().all(u8::is_ascii_digit) {
            return Ok(DeviceKeyArg {
                anchor: None,
                path: arg.into(),
            });
        }
        let text = String::from_utf8_lossy(id);
        let anchor = text.parse::<u32>().map_err(|_| {
            format!(
                "anchor id {text} is out of range (an anchor id is at most {})",
                u32::MAX
            )
        })?;
        match rest {
            Some(file) if !file.is_empty() => Ok(DeviceKeyArg {
                anchor: Some(anchor),
                path: std::ffi::OsStr::from_bytes(file).into(),
            }),
            _ => Err(format!(
                "{text}= names anchor {text} but no key file: give ID=FILE"
            )),
        }
    }

    /// The option as given, for messages.
    pub fn given(&self) -> String {
        match self.anchor {
            Some(id) => format!("--device-key {id}={}", self.path.display()),
            None => format!("--device-key {}", self.path.display()),
        }
    }
}

/// What the simulated device was given and read that the default TA build does not enable:
/// an Ed25519 trust anchor (a TA without the feature refuses the whole provisioning message
/// that adds one), from `--trust-anchor` or, with `--provisioning`, from the description's
/// operations (the device gets those instead); and ChaCha20/Poly1305 encryption info (alg 24
/// in either header bucket, as the engine takes it) in the envelope or in any file the run
/// fetched (dependency envelopes from `--payload-dir`). Encryption info in a branch the run
/// did not take still counts: the engine reports no algorithm, so this errs towards refusing.
fn features_needed(
    opts: &VerifyOptions,
    envelope: &[u8],
    fetched: &[PathBuf],
) -> Result<Vec<TaFeature>> {
    let mut needed = Vec::new();
    let ed25519 = match &opts.provisioning {
        Some(description) => provisioned_ed25519(description)?,
        None => {
            let mut any = false;
            for path in &opts.trust_anchors {
                any |= matches!(keys::load_public(path)?.key, keys::PublicKey::Ed25519(_));
            }
            any
        }
    };
    if ed25519 {
        needed.push(TaFeature::Ed25519);
    }
    let mut chacha = uses_chacha20(envelope);
    for path in fetched {
        if chacha {
            break;
        }
        chacha = uses_chacha20(&crate::files::read_file(path)?);
    }
    if chacha {
        needed.push(TaFeature::Chacha20);
    }
    Ok(needed)
}

/// Whether the operations `description` makes for a device add an Ed25519 anchor: the same
/// operations the simulated device applied ([`super::provision::device_ops`]; the secrets are
/// wrapped to a throw-away key here and discarded).
fn provisioned_ed25519(description: &std::path::Path) -> Result<bool> {
    use suit_common::service::provision::Op;
    let throwaway = <p256::SecretKey as p256::elliptic_curve::Generate>::generate_from_rng(
        &mut super::os_rng(),
    );
    let binding = suit_common::service::provision::WrapBinding {
        signer: [0; 32],
        device: b"",
    };
    let ops = super::provision::device_ops(description, &throwaway.public_key(), b"", &binding)?;
    Ok(ops.ops.iter().any(|op| match op {
        Op::AddAnchor(a) => crate::ta_features::is_ed25519_key(&a.cose_key),
        _ => false,
    }))
}

/// Whether `bytes` (one CBOR item) holds ChaCha20/Poly1305 encryption info (COSE 24).
fn uses_chacha20(bytes: &[u8]) -> bool {
    crate::ta_features::envelope_needs(bytes).contains(&TaFeature::Chacha20)
}

/// Shown when an update installed an `['ree', ...]` component on the default simulated
/// device, whose anchors allow what a device's may not.
pub const DEFAULT_ANCHORS_NOTE: &str = "note: without --provisioning the simulated device's \
anchors are unrestricted: every component, and \"ree-plaintext\" (decrypted or secure content may \
go to ['ree', ...] components); a device whose anchor lacks it refuses that: give --provisioning \
DESCRIPTION.json to check against the device's own anchors";

/// Shown when a plain `--device-key FILE` stood in for the keys of two or more signers of a
/// manifest that decrypted (the root or a dependency): the one key stands in for each, so the
/// run cannot tell which of them a payload was encrypted to, and accepts where any of them
/// may decrypt into the component.
/// Not shown when `ID=FILE` keys leave the plain one at most one signer: then each signer's
/// key is its own, and the run opens a payload only as a device does.
pub const COSIGNED_STAND_IN_NOTE: &str = "note: --device-key stands in for the payload keys of \
every signing anchor no --device-key ID=FILE names; a device opens a payload only with the \
keys of the anchor it was encrypted to, and only if that anchor may decrypt into the \
component (its scope, and \"ree-plaintext\" for ['ree', ...] components): give each signer's \
key as --device-key ID=FILE (the anchor's id) for the device's verdict";

/// Whether `c` is an `['ree', ...]` component (a file the REE reads).
fn is_ree(c: &suit_common::suit::ComponentId) -> bool {
    matches!(
        suit_common::service::components::classify(c),
        Ok(suit_common::service::components::Kind::Ree { .. })
    )
}

struct Anchor {
    id: u32,
    label: String,
}

/// Runs `verify`, writing the report to `out`. `Err(Refused)` when the envelope is not
/// authentic, not well-formed, or (with `process`) does not apply.
pub fn verify(opts: &VerifyOptions, out: &mut dyn Write) -> Result<()> {
    if opts.trust_anchors.is_empty() && opts.hmac_keys.is_empty() {
        return Err(AuthorError::Usage(
            "verify needs at least one --trust-anchor or --hmac-key".into(),
        ));
    }
    let (policy, anchors) = build_policy(opts)?;
    let bytes = super::read_cbor_as(&opts.envelope, crate::detect::Format::Envelope)?;
    let w = |out: &mut dyn Write, s: String| {
        let _ = writeln!(out, "{s}");
    };

    let env = Envelope::decode(&bytes).map_err(|e| {
        AuthorError::Refused(format!(
            "{}: not a well-formed SUIT envelope: {}",
            opts.envelope.display(),
            explain::error(&e)
        ))
    })?;
    w(
        out,
        format!(
            "envelope: {} ({} bytes, {} authentication block(s))",
            opts.envelope.display(),
            bytes.len(),
            env.auth_block_count()
        ),
    );
    for (i, raw) in env.auth_blocks().iter().enumerate() {
        match AuthBlock::parse_signers(raw) {
            Ok(entries) => {
                // A COSE_Sign lists one line per signature.
                let many = entries.len() > 1;
                for (n, entry) in entries.iter().enumerate() {
                    let at = if many {
                        format!(" signature {n}")
                    } else {
                        String::new()
                    };
                    let line = match entry {
                        Ok(b) => format!(
                            "  block {i}{at}: {:?} (COSE alg {}){}",
                            b.algorithm(),
                            b.algorithm().cose_id(),
                            if b.key_id().is_empty() {
                                String::new()
                            } else {
                                format!(", kid {}", super::kid_str(b.key_id()))
                            }
                        ),
                        Err(e) => format!("  block {i}{at}: unusable: {e}"),
                    };
                    w(out, line)
                }
            }
            Err(e) => w(out, format!("  block {i}: unusable: {e}")),
        }
    }
    let auth = env.authenticate(&policy.anchors).map_err(|e| {
        AuthorError::Refused(format!(
            "{}: {}",
            opts.envelope.display(),
            explain::error(&e)
        ))
    })?;
    w(
        out,
        format!(
            "authentic: manifest digest sha-256:{} signed by {}",
            hex::encode(auth.digest.0),
            signer_names(&auth, &anchors)
        ),
    );
    policy
        .check_manifest(&auth.manifest, &auth.signers)
        .map_err(|e| AuthorError::Refused(explain::error(&e.into())))?;

    // Integrated dependency envelopes: authenticated against the same anchors.
    let mut dependency_names = Vec::new();
    check_dependencies(&auth, &policy, &anchors, 1, out, &mut dependency_names)?;
    for dep in &auth.manifest.common.dependencies {
        w(
            out,
            format!(
                "dependency at component index {}{}",
                dep.index,
                dep.prefix
                    .as_ref()
                    .map(|p| format!(" (prefix {p:?})"))
                    .unwrap_or_default()
            ),
        );
    }
    // Every section an update runs (the engine's list): `section` errs only for one that is
    // severed and not in this envelope.
    for &s in suit_common::suit::Procedure::Update.sections() {
        if auth.manifest.section(s).is_err() {
            w(
                out,
                format!(
                    "note: {} is severed and not in this envelope (an update needs it)",
                    explain::section(s)
                ),
            );
        }
    }
    w(
        out,
        "all command sequences decode; the manifest says:".into(),
    );
    if let Ok(model) = inspect::model(&bytes) {
        if let Some(m) = model.get("manifest") {
            w(out, inspect::render_text(m).trim_end().to_string());
        }
    }

    if !opts.process {
        w(out, "OK: authentic and well-formed".into());
        return Ok(());
    }

    // --process: the TA's own service on a simulated device, provisioned with these anchors.
    let setup = device_setup(opts)?;
    let mut names: Vec<(suit_common::suit::ComponentId, String)> = auth
        .manifest
        .common
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), format!("component-{i}.bin")))
        .collect();
    names.extend(dependency_names);
    let run = device::run(&setup, &bytes)?;
    let (granted, missing): (Vec<TaFeature>, Vec<TaFeature>) =
        features_needed(opts, &bytes, &run.fetched)?
            .into_iter()
            .partition(|f| opts.ta_features.contains(f));
    if opts.trace {
        w(
            out,
            "trace (the device's SUIT report of the attempt):".into(),
        );
        if let Some(r) = &run.report {
            for line in super::report::render_text(r).lines() {
                w(out, format!("  {line}"));
            }
        }
    }
    match run.result {
        Ok(sequence_number) => {
            for n in &run.notes {
                w(out, format!("  {}", printable(n)));
            }
            let mut files = Vec::new();
            for c in &run.installed {
                let path = opts.out_dir.as_ref().map(|dir| {
                    let name = names
                        .iter()
                        .find(|(id, _)| *id == c.component)
                        .map(|(_, n)| n.clone())
                        .unwrap_or_else(|| {
                            format!("component-id-{}.bin", hex::encode(c.component.encode()))
                        });
                    dir.join(name)
                });
                files.push((path, c));
            }
            let outputs: Vec<(PathBuf, String)> = files
                .iter()
                .filter_map(|(p, c)| {
                    let what = format!("installed {}", super::report::component_text(&c.component));
                    p.clone().map(|p| (p, what))
                })
                .collect();
            if !missing.is_empty() {
                // Before any component is written: the default TA would install nothing.
                return Err(AuthorError::NotOnDefaultTa {
                    features: missing.iter().map(|f| f.name()).collect(),
                    algorithms: missing.iter().map(|f| f.algorithm()).collect(),
                });
            }
            for f in &granted {
                w(
                    out,
                    format!(
                        "note: uses {}; accepted as --ta-features {} says the target TA has it",
                        f.algorithm(),
                        f.name()
                    ),
                );
            }
            if !outputs.is_empty() {
                super::check_outputs(&outputs, &verify_inputs(opts, &run.fetched)?)?;
            }
            // All or none (the plaintext of each, owner-only): a refusal part-way must not
            // leave some components new beside others old or missing.
            let written: Vec<_> = files
                .iter()
                .filter_map(|(p, c)| p.as_deref().map(|p| super::secret_output(p, &c.data)))
                .collect();
            super::write_files(&written)?;
            for (path, c) in &files {
                w(
                    out,
                    format!(
                        "installed {} as {}: {} bytes{}",
                        super::report::component_text(&c.component),
                        printable(&c.kind),
                        c.data.len(),
                        path.as_ref()
                            .map(|p| format!(" -> {}", p.display()))
                            .unwrap_or_default()
                    ),
                );
            }
            if opts.provisioning.is_none() && run.installed.iter().any(|c| is_ree(&c.component)) {
                w(out, DEFAULT_ANCHORS_NOTE.into());
            }
            if run.shared_plain_key {
                w(out, COSIGNED_STAND_IN_NOTE.into());
            }
            w(
                out,
                format!(
                    "OK: update applied (sequence number {sequence_number}, {} component(s) installed)",
                    run.installed.len()
                ),
            );
            Ok(())
        }
        Err(reason) => {
            // The refusal and the notes may quote the manifest (a URI, an REE path).
            let mut msg = format!(
                "{}: update refused: {}",
                opts.envelope.display(),
                printable(&reason)
            );
            for n in &run.notes {
                msg.push_str(&format!("\n  {}", printable(n)));
            }
            // A key the run did not try may be one a co-signer holds: name the binding.
            if run.no_key && opts.device_keys.iter().any(|k| k.anchor.is_some()) {
                let named: Vec<String> = opts
                    .device_keys
                    .iter()
                    .filter_map(|k| k.anchor.map(|a| a.to_string()))
                    .collect();
                msg.push_str(&format!(
                    "\n  note: each --device-key ID=FILE stands in only for the anchor it names \
                     ({}){}: a payload opens only with the key of a signer that may decrypt \
                     into the component, as on a device",
                    named.join(", "),
                    if opts.device_keys.iter().any(|k| k.anchor.is_none()) {
                        ", the plain --device-key for every other anchor"
                    } else {
                        "; other anchors have no key"
                    }
                ));
            }
            if run.no_key && opts.device_keys.is_empty() && opts.keks.is_empty() {
                msg.push_str(
                    "\n  hint: without --device-key the simulated device decrypts with keys it \
                     made itself, which no envelope is encrypted to: give the recipient's \
                     private key with --device-key (ECDH-ES, HPKE), or the KEK with --kek \
                     (A128KW, A256KW)",
                );
            }
            msg.push_str("\n  nothing was installed");
            Err(AuthorError::Refused(msg))
        }
    }
}

/// Every file `verify` read: an installed component is never written over one.
fn verify_inputs(opts: &VerifyOptions, fetched: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut inputs = vec![opts.envelope.clone()];
    for files in [&opts.trust_anchors, &opts.hmac_keys, &opts.keks] {
        inputs.extend(files.iter().cloned());
    }
    inputs.extend(opts.device_keys.iter().map(|k| k.path.clone()));
    if let Some(d) = &opts.provisioning {
        inputs.extend(super::provision::description_inputs(d)?);
    }
    inputs.extend(fetched.iter().cloned());
    Ok(inputs)
}

/// The simulated device of `--process`: the anchors, identity and device key given.
fn device_setup(opts: &VerifyOptions) -> Result<device::DeviceSetup> {
    if opts
        .device_keys
        .iter()
        .filter(|k| k.anchor.is_none())
        .count()
        > 1
    {
        return Err(AuthorError::Usage(
            "a device holds one decryption key per anchor: give at most one --device-key FILE \
             with --process, and the others as --device-key ID=FILE, each for the anchor with \
             that id"
                .into(),
        ));
    }
    for (i, k) in opts.device_keys.iter().enumerate() {
        let Some(id) = k.anchor else { continue };
        if let Some(first) = opts
            .device_keys
            .get(..i)
            .and_then(|before| before.iter().find(|b| b.anchor == Some(id)))
        {
            return Err(AuthorError::Usage(format!(
                "{}: anchor {id} has a key already ({}); a device holds one decryption key per \
                 anchor",
                k.given(),
                first.given()
            )));
        }
    }
    let mut anchors = Vec::new();
    let mut id = 0u32;
    for path in &opts.trust_anchors {
        id += 1;
        let k = keys::load_public(path)?;
        anchors.push(device::AnchorKey {
            id,
            cose_key: zeroize::Zeroizing::new(k.anchor_cose_key(path)?),
        });
    }
    for path in &opts.hmac_keys {
        id += 1;
        let k = keys::load_symmetric(path, &(32..=64).collect::<Vec<_>>(), "HMAC key")?;
        let kid = (!k.kid.is_empty()).then_some(k.kid.as_slice());
        anchors.push(device::AnchorKey {
            id,
            cose_key: keys::symmetric_cose_key(&k.secret, kid)?,
        });
    }
    let mut device_keys: Vec<device::DeviceKey> = Vec::new();
    for arg in &opts.device_keys {
        let path = &arg.path;
        let k = keys::load_private(path)?;
        let PrivateKey::P256(sk) = &k.key else {
            return Err(AuthorError::key(
                path,
                "device keys must be P-256 (ECDH-ES / COSE-HPKE); this is an Ed25519 key",
            ));
        };
        let d = zeroize::Zeroizing::new(sk.to_bytes().to_vec());
        // A device derives each anchor's payload keys for that anchor alone: one key standing
        // in for two of them (or bound and plain at once) would open, for a signer that may
        // decrypt, what a device only opens with a co-signer's key.
        if let Some(same) = device_keys.iter().find(|k| k.d == d) {
            return Err(AuthorError::Usage(format!(
                "{}: the same key as {}; a device's anchors never share a payload key, so \
                 give each anchor its own",
                arg.given(),
                same.given
            )));
        }
        device_keys.push(device::DeviceKey {
            anchor: arg.anchor,
            given: arg.given(),
            d,
            usable: keys::device_key_use(path, &k)?,
        });
    }
    Ok(device::DeviceSetup {
        anchors,
        identity: opts.identity.clone(),
        device_keys,
        payload_dir: opts.payload_dir.clone(),
        keks: opts.keks.clone(),
        provisioning: opts.provisioning.clone(),
    })
}

fn build_policy(opts: &VerifyOptions) -> Result<(Policy, Vec<Anchor>)> {
    let mut policy = Policy::default();
    let mut labels = Vec::new();
    let mut id = 0u32;
    for path in &opts.trust_anchors {
        id += 1;
        let k = keys::load_public(path)?;
        labels.push(Anchor {
            id,
            label: format!("#{id} {} ({})", path.display(), k.key.type_name()),
        });
        let key = k.verification_key(path)?;
        policy.anchors.push(TrustAnchor {
            kid: k.kid,
            ..TrustAnchor::unrestricted(id, key, Role::Author)
        });
    }
    for path in &opts.hmac_keys {
        id += 1;
        let k = keys::load_symmetric(path, &(32..=64).collect::<Vec<_>>(), "HMAC key")?;
        let key = VerificationKey::hmac256(&k.secret)
            .map_err(|e| AuthorError::key(path, format!("HMAC key refused: {e}")))?;
        labels.push(Anchor {
            id,
            label: format!("#{id} {} (HMAC key)", path.display()),
        });
        policy.anchors.push(TrustAnchor {
            kid: k.kid.clone(),
            ..TrustAnchor::unrestricted(id, key, Role::Author)
        });
    }
    Ok((policy, labels))
}

fn signer_names(auth: &AuthenticatedManifest<'_>, anchors: &[Anchor]) -> String {
    auth.signers
        .iter()
        .map(|s| {
            anchors
                .iter()
                .find(|a| a.id == *s)
                .map(|a| format!("trust anchor {}", a.label))
                .unwrap_or_else(|| format!("anchor {s}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_dependencies(
    auth: &AuthenticatedManifest<'_>,
    policy: &Policy,
    anchors: &[Anchor],
    depth: usize,
    out: &mut dyn Write,
    names: &mut Vec<(suit_common::suit::ComponentId, String)>,
) -> Result<()> {
    for p in auth.integrated_payloads() {
        // Only in a manifest that declares dependencies may a payload be processed as one (by
        // a URI this manifest or one of its dependencies sets: parameters are shared across
        // the tree); elsewhere it is an image, however it begins (a SUIT envelope for another
        // processor, say).
        if auth.manifest.common.dependencies.is_empty() {
            continue;
        }
        // What the engine would take as an envelope (`Envelope::decode`: tag 107 or none); a
        // tagged one that does not decode is refused below, as the device would.
        if !p.bytes.starts_with(&[0xd8, 107]) && Envelope::decode(p.bytes).is_err() {
            continue;
        }
        // The envelope's own text: shown escaped.
        let key = printable(p.key);
        if depth > MAX_DEPENDENCY_DEPTH {
            return Err(AuthorError::Refused(format!(
                "integrated dependency {key}: nested deeper than {MAX_DEPENDENCY_DEPTH}"
            )));
        }
        let dep = Envelope::decode(p.bytes)
            .and_then(|e| e.authenticate(&policy.anchors))
            .map_err(|e| {
                AuthorError::Refused(format!(
                    "integrated dependency {key}: {}",
                    explain::error(&e)
                ))
            })?;
        let _ = writeln!(
            out,
            "{}dependency envelope {key}: authentic, sequence number {}, signed by {}",
            "  ".repeat(depth),
            dep.manifest.sequence_number,
            signer_names(&dep, anchors)
        );
        let stem: String = p
            .key
            .trim_start_matches('#')
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        for (i, c) in dep.manifest.common.components.iter().enumerate() {
            names.push((c.clone(), format!("{stem}-component-{i}.bin")));
        }
        check_dependencies(&dep, policy, anchors, depth + 1, out, names)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::value::Value;

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    use crate::ta_features::tests::unprotected_alg;

    // Review s27 (host tools 2), finding 2: a dependency envelope fetched from --payload-dir
    // was not scanned.
    #[test]
    fn files_the_run_fetched_are_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let dep = dir.path().join("dep.suit");
        std::fs::write(&dep, unprotected_alg(24)).unwrap();
        let opts = VerifyOptions::default();
        let root = cbor(&Value::Map(Vec::new()));
        assert!(features_needed(&opts, &root, &[]).unwrap().is_empty());
        assert_eq!(
            features_needed(&opts, &root, &[dep]).unwrap(),
            vec![TaFeature::Chacha20]
        );
    }
}
