//! `suit-author verify-key-statement`: check the TA's signed key statement against the
//! device's *enrolled* identity key and write out the public keys it vouches for.
//!
//! The identity key must come from a trusted source (recorded at the factory, see
//! SECURITY.md), never from the same REE channel that delivered the statement: then the
//! written PEMs are keys the update TA holds, not keys the normal world substituted.
//!
//! A per-anchor key (ECDH-ES, HPKE) is for whichever key holds that anchor id on the device
//! now, and ids can be re-bound (removed and added with another key). The statement names the
//! key the anchor holds (an HMAC key by a keyed check value for this device and key scope, see
//! [`anchor_key_check`]); its keys are written out only for the anchor holding `--anchor-key`
//! (the author's own key), so an author never encrypts to a re-bound id's new holder.
//!
//! Exit status: 0 verified; 1 not signed by that identity key (or the asked-for anchor is not
//! in it, or holds another key than `--anchor-key`); 2 unusable files.

use std::io::Write;
use std::path::{Path, PathBuf};

use p256::elliptic_curve::sec1::ToSec1Point as _;
use suit_common::cose::VerificationKey;
use suit_common::service::statement::{
    anchor_key_check, verify, KeyStatement, StatedKey, StatementError,
};
use zeroize::Zeroizing;

use super::keys::{
    load_identity, load_public, load_symmetric, public_cose_key, symmetric_cose_key,
};
use super::{hex_str, kid_str, AuthorError, Result};
use crate::human::printable;

/// What `verify-key-statement` was asked to do.
#[derive(Debug, Clone)]
pub struct VerifyStatementOptions {
    pub statement: PathBuf,
    /// The enrolled identity public key (PEM, COSE_Key or JWK; P-256).
    pub identity_key: PathBuf,
    /// Require this anchor's ECDH-ES and HPKE keys in the statement (needs `anchor_key`).
    pub anchor: Option<u32>,
    /// The key the anchor holds (a public or private key file, or an HMAC key): per-anchor
    /// keys are taken only for an anchor the statement says holds it.
    pub anchor_key: Option<PathBuf>,
    /// Write the verified keys here as PEM.
    pub out_dir: Option<PathBuf>,
    /// Replace an identity key file in `out_dir` holding another device's key.
    pub force: bool,
}

fn pem(sec1: &[u8], path: &Path) -> Result<String> {
    use p256::pkcs8::{EncodePublicKey as _, LineEnding};
    p256::PublicKey::from_sec1_bytes(sec1)
        .map_err(|_| AuthorError::input(path, "a stated key is not a P-256 point"))?
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| AuthorError::Create("PEM encoding".into()))
}

/// File name a stated key is written under.
fn file_name(purpose: &str, anchor: Option<u32>) -> Option<String> {
    match (purpose, anchor) {
        ("identity" | "report" | "provisioning", None) => Some(format!("{purpose}.pub.pem")),
        ("ecdh-es", Some(a)) => Some(format!("anchor-{a}.ecdh.pub.pem")),
        ("hpke", Some(a)) => Some(format!("anchor-{a}.hpke.pub.pem")),
        _ => None,
    }
}

/// The key in `path`, as the device would hold it in an anchor: a public key (or the private
/// key of one), else an HMAC key.
fn anchor_key(path: &Path) -> Result<VerificationKey> {
    let cose_key = match load_public(path) {
        Ok(f) => Zeroizing::new(public_cose_key(&f.key, None)?),
        Err(public) => match load_symmetric(path, &[32, 48, 64], "HMAC key") {
            Ok(s) => symmetric_cose_key(&s.secret, None)?,
            Err(_) => return Err(public),
        },
    };
    let (key, _) = VerificationKey::from_cose_key(&cose_key)
        .map_err(|e| AuthorError::key(path, e.to_string()))?;
    Ok(key)
}

/// Verifies the statement; on success prints the keys and writes them to `out_dir`.
pub fn verify_statement_file(opts: &VerifyStatementOptions, out: &mut dyn Write) -> Result<()> {
    let pk = load_identity(&opts.identity_key)?;
    let sec1 = pk.to_sec1_point(false).as_bytes().to_vec();
    let bytes = super::read_cbor_as(&opts.statement, crate::detect::Format::KeyStatement)?;
    let st: KeyStatement = verify(&bytes, &sec1).map_err(|e| match e {
        StatementError::BadSignature | StatementError::IdentityMismatch => {
            AuthorError::Refused(format!(
                "{}: {e} ({})",
                opts.statement.display(),
                opts.identity_key.display()
            ))
        }
        other => AuthorError::input(&opts.statement, other.to_string()),
    })?;
    let own = opts.anchor_key.as_deref().map(anchor_key).transpose()?;
    // Whether a stated per-anchor key belongs to the anchor holding `--anchor-key`: the
    // statement names it as the TA does, for this device and that anchor's key scope.
    let holds_own = |k: &StatedKey| match (&own, k.key_scope, &k.anchor_key) {
        (Some(key), Some(scope), Some(stated)) => anchor_key_check(key, &st.device, scope)
            .is_ok_and(|c| c.as_slice() == stated.as_slice()),
        _ => false,
    };
    if let Some(a) = opts.anchor {
        let Some(key_path) = &opts.anchor_key else {
            return Err(AuthorError::Usage(
                "--anchor needs --anchor-key (the key the anchor must hold)".into(),
            ));
        };
        if let Some(k) = st
            .keys
            .iter()
            .find(|k| k.anchor == Some(a) && !holds_own(k))
        {
            return Err(AuthorError::Refused(format!(
                "{}: anchor {a} holds another key than {} (a wrong --anchor-key, or the id was \
                 re-bound to another key): its {} key is not for you",
                opts.statement.display(),
                key_path.display(),
                printable(&k.purpose)
            )));
        }
        for purpose in ["ecdh-es", "hpke"] {
            if !st
                .keys
                .iter()
                .any(|k| k.purpose == purpose && k.anchor == Some(a))
            {
                return Err(AuthorError::Refused(format!(
                    "{}: the statement names no {purpose} key for anchor {a} (export an \
                     anchor's keys after provisioning it: `suit-agent device-key --anchor {a} \
                     --out-dir DIR`; `suit-agent anchors` lists the anchors)",
                    opts.statement.display()
                )));
            }
        }
    }
    let _ = writeln!(
        out,
        "key statement verified: device {} (identity key {})",
        hex_str(&st.device),
        opts.identity_key.display()
    );
    // Every key file is made, and checked against the inputs, before the first is written.
    let mut files: Vec<Option<(PathBuf, String)>> = Vec::new();
    for k in &st.keys {
        // A per-anchor key only for the anchor holding the caller's key.
        let usable = k.anchor.is_none() || holds_own(k);
        files.push(match (&opts.out_dir, file_name(&k.purpose, k.anchor)) {
            (Some(dir), Some(name)) if usable => {
                Some((dir.join(name), pem(&k.key, &opts.statement)?))
            }
            _ => None,
        });
    }
    let outputs: Vec<(PathBuf, String)> = st
        .keys
        .iter()
        .zip(&files)
        .filter_map(|(k, f)| {
            let (path, _) = f.as_ref()?;
            Some((path.clone(), format!("the stated {} key", k.purpose)))
        })
        .collect();
    if let (Some(dir), false) = (&opts.out_dir, opts.force) {
        crate::enrolment::keep(&dir.join(crate::enrolment::IDENTITY_FILE), &sec1, true)
            .map_err(AuthorError::Usage)?;
    }
    let mut inputs = vec![opts.statement.clone(), opts.identity_key.clone()];
    inputs.extend(opts.anchor_key.iter().cloned());
    super::check_outputs(&outputs, &inputs)?;
    // All or none: a failure part-way leaves no mix of this statement's keys and older files.
    let written: Vec<crate::files::Output<'_>> = files
        .iter()
        .flatten()
        .map(|(path, text)| super::output(path, text.as_bytes()))
        .collect();
    super::write_files(&written)?;
    for (k, f) in st.keys.iter().zip(&files) {
        let owner = match (k.anchor, k.key_scope) {
            (Some(a), Some(s)) => format!(" anchor {a} (key scope {s})"),
            _ => String::new(),
        };
        // The statement's own text (any purpose decodes): shown escaped.
        let purpose = printable(&k.purpose);
        let _ = writeln!(out, "  {purpose:<13}{owner} kid {}", kid_str(&k.kid));
        if let Some((path, _)) = f {
            let _ = writeln!(out, "    wrote {}", path.display());
        } else if k.anchor.is_some() && opts.out_dir.is_some() {
            let _ = writeln!(
                out,
                "    not written: the anchor does not hold --anchor-key (or none was given)"
            );
        }
    }
    Ok(())
}
