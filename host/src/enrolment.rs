//! The enrolment record: the identity key file a TPA binds its provisioning messages to. Both
//! tools write one (`suit-agent device-key --out-dir`/`--out`, `suit-author
//! verify-key-statement --out-dir`), and neither replaces one holding another device's key
//! unless told to (`--force`): that would silently re-bind the TPA's messages to that device.

use std::path::Path;

/// The identity key file's name in an output directory.
pub const IDENTITY_FILE: &str = "identity.pub.pem";

/// `Err(why)` if writing `identity` (a SEC1 point) to `path` would replace another device's
/// enrolment record. Re-writing the same device's key is allowed. Only a regular file is such
/// a record: a link there is replaced, not written through, as by every output, so what it
/// leads to never changes. `strict` (an output directory's [`IDENTITY_FILE`], always a record):
/// a file holding no P-256 public key (PEM) is refused too; otherwise (a file of the user's
/// choosing) only one holding another P-256 key ([`p256_key_in`]) is.
pub fn keep(path: &Path, identity: &[u8], strict: bool) -> Result<(), String> {
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    use p256::pkcs8::DecodePublicKey as _;
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return Ok(());
    }
    let refuse = |held: &str| {
        format!(
            "{}: holds {held}, not this device's (kid {}): it is an enrolment record the TPA \
             binds messages to, so it is not replaced; nothing was written (another output \
             file or directory, or --force to replace it)",
            path.display(),
            crate::human::kid_str(&suit_common::cose::key_id(identity))
        )
    };
    let held = if strict {
        let text = crate::files::read_text_file(path).map_err(|e| e.to_string())?;
        p256::PublicKey::from_public_key_pem(&text).ok()
    } else {
        // Bounded: a key file is small; anything larger is no key.
        let bytes = crate::files::read_file_max(path, 4096).ok();
        bytes.as_deref().and_then(p256_key_in)
    };
    let Some(held) = held else {
        return if strict {
            Err(refuse("no P-256 public key (PEM)"))
        } else {
            Ok(())
        };
    };
    let held = held.to_sec1_point(false);
    if held.as_bytes() == identity {
        return Ok(());
    }
    Err(refuse(&format!(
        "another device's identity key (kid {})",
        crate::human::kid_str(&suit_common::cose::key_id(held.as_bytes()))
    )))
}

/// `Err(why)` if writing `what` (another output than the identity key: another key, the key
/// statement) to `path` would replace this device's enrolment record: a regular file holding
/// `identity`, this device's identity key, in any of `suit-agent device-key`'s formats
/// (`device-key --which report -o identity.pub.pem` would otherwise re-bind the TPA's
/// messages to the report key, and the device refuses them as another device's).
pub fn keep_from_other_output(path: &Path, identity: &[u8], what: &str) -> Result<(), String> {
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return Ok(());
    }
    let held = crate::files::read_file_max(path, 4096)
        .ok()
        .as_deref()
        .and_then(p256_key_in);
    match held {
        Some(k) if k.to_sec1_point(false).as_bytes() == identity => Err(format!(
            "{}: holds this device's identity key (kid {}), its enrolment record the TPA binds \
             messages to: not replaced by {what}; nothing was written (another output file, or \
             --force to replace it)",
            path.display(),
            crate::human::kid_str(&suit_common::cose::key_id(identity))
        )),
        _ => Ok(()),
    }
}

/// The P-256 public key in a file `suit-agent device-key` wrote, in any of its formats (PEM,
/// COSE_Key, hex, JSON).
fn p256_key_in(bytes: &[u8]) -> Option<p256::PublicKey> {
    use p256::pkcs8::DecodePublicKey as _;
    use suit_common::cose::{KeyMaterial, VerificationKey};
    let from_hex = |h: &str| {
        hex::decode(h.trim())
            .ok()
            .and_then(|p| p256::PublicKey::from_sec1_bytes(&p).ok())
    };
    if let Ok((key, _)) = VerificationKey::from_cose_key(bytes) {
        return match key.material() {
            KeyMaterial::P256(k) => Some(p256::PublicKey::from(k)),
            _ => None,
        };
    }
    let text = core::str::from_utf8(bytes).ok()?;
    p256::PublicKey::from_public_key_pem(text)
        .ok()
        .or_else(|| from_hex(text))
        .or_else(|| {
            let j: serde_json::Value = serde_json::from_str(text).ok()?;
            from_hex(j.get("key")?.as_str()?)
        })
}
