//! Signing keys in an HSM (PKCS#11, through the `cryptoki` crate): a `pkcs11:` URI (RFC 7512)
//! wherever the tool takes a signing key file (`create`/`sign --sign-key`, `provision
//! --tpa-key`). The private key never leaves the token: the host hashes the COSE ToBeSigned
//! with SHA-256 and the token signs the hash with CKM_ECDSA (P-256, COSE ES256/ESP256; the
//! raw `r || s` PKCS#11 returns is COSE's form).
//!
//! ```text
//! pkcs11:token=LABEL;object=KEY-LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:PIN-FILE
//! ```
//!
//! The module comes from `module-path` or `SUIT_PKCS11_MODULE`; the user PIN from
//! `pin-source=file:PATH` or `SUIT_PKCS11_PIN`. A PIN in the URI itself (`pin-value`) is
//! refused: command lines are visible to every user of the machine.

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use sha2::Digest as _;
use zeroize::Zeroizing;

use suit_common::cose::{CoseError, ExternalP256, SigningKey};

use super::{AuthorError, Result};

/// Prefix that marks a key argument as a PKCS#11 URI.
pub const SCHEME: &str = "pkcs11:";
/// Environment variable naming the PKCS#11 module when the URI has no `module-path`.
pub const MODULE_ENV: &str = "SUIT_PKCS11_MODULE";
/// Environment variable holding the user PIN when the URI has no `pin-source`.
pub const PIN_ENV: &str = "SUIT_PKCS11_PIN";

/// DER of the P-256 curve OID (1.2.840.10045.3.1.7), as CKA_EC_PARAMS holds it.
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Whether a key argument is a PKCS#11 URI rather than a file.
pub fn is_uri(arg: &Path) -> bool {
    arg.to_str().is_some_and(|s| s.starts_with(SCHEME))
}

/// The parts of a `pkcs11:` URI this tool uses.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uri {
    pub token: Option<String>,
    pub object: Option<String>,
    pub id: Option<Vec<u8>>,
    pub module: Option<PathBuf>,
    pub pin_file: Option<PathBuf>,
}

/// RFC 3986 percent-decoding (RFC 7512 values are percent-encoded).
fn unescape(v: &str) -> std::result::Result<Vec<u8>, String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = v
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-escape in \"{v}\""))?;
            out.push(h);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn text(v: &str) -> std::result::Result<String, String> {
    String::from_utf8(unescape(v)?).map_err(|_| format!("\"{v}\" is not UTF-8"))
}

/// Parses a `pkcs11:` URI: path attributes `token`, `object`, `id`, `type` (private only);
/// query attributes `module-path`, `pin-source` (file: only). Others are refused by name.
pub fn parse_uri(s: &str) -> std::result::Result<Uri, String> {
    let rest = s
        .strip_prefix(SCHEME)
        .ok_or_else(|| "not a pkcs11: URI".to_string())?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut u = Uri::default();
    for attr in path.split(';').filter(|a| !a.is_empty()) {
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| format!("attribute \"{attr}\" has no value"))?;
        match k {
            "token" => u.token = Some(text(v)?),
            "object" => u.object = Some(text(v)?),
            "id" => u.id = Some(unescape(v)?),
            "type" if v == "private" => {}
            "type" => return Err(format!("type={v}: a signing key is type=private")),
            other => return Err(format!("unsupported attribute \"{other}\"")),
        }
    }
    for attr in query.split('&').filter(|a| !a.is_empty()) {
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| format!("query attribute \"{attr}\" has no value"))?;
        match k {
            "module-path" => u.module = Some(PathBuf::from(text(v)?)),
            "pin-source" => {
                let v = text(v)?;
                let file = v.strip_prefix("file:").unwrap_or(&v);
                u.pin_file = Some(PathBuf::from(file));
            }
            "pin-value" => {
                return Err(
                    "pin-value is refused (a PIN on the command line is visible to other users): use pin-source=file:PATH or SUIT_PKCS11_PIN"
                        .into(),
                )
            }
            other => return Err(format!("unsupported query attribute \"{other}\"")),
        }
    }
    if u.object.is_none() && u.id.is_none() {
        return Err("name the key with object=LABEL or id=HEX".into());
    }
    Ok(u)
}

/// `uri` with the value of every `pin-value` attribute (path or query) shown as `***`.
pub fn without_pin_value(uri: &str) -> String {
    let mut shown = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find("pin-value=") {
        let (before, attribute) = rest.split_at(at + "pin-value=".len());
        shown.push_str(before);
        shown.push_str("***");
        let end = attribute.find([';', '&', '?']).unwrap_or(attribute.len());
        rest = attribute.get(end..).unwrap_or_default();
    }
    shown.push_str(rest);
    shown
}

fn p11(what: &str) -> impl Fn(cryptoki::error::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Opens the token and returns a signing key whose private half stays in it, and its key id
/// (CKA_ID, empty if none) for the COSE header.
pub fn open_signer(arg: &Path) -> Result<(SigningKey, Vec<u8>)> {
    let shown = arg.display().to_string();
    // A PIN given in the URI is refused, and never repeated in the refusal (or any other
    // error): the URI is named with its value hidden.
    let named = std::path::PathBuf::from(without_pin_value(&shown));
    let bad = |what: String| AuthorError::Key {
        path: named.clone(),
        what,
    };
    let uri = parse_uri(&shown).map_err(&bad)?;
    let module = uri
        .module
        .clone()
        .or_else(|| std::env::var_os(MODULE_ENV).map(PathBuf::from))
        .ok_or_else(|| {
            bad(format!(
                "no PKCS#11 module: add ?module-path=PATH to the URI or set {MODULE_ENV}"
            ))
        })?;
    let pin: Zeroizing<String> = match &uri.pin_file {
        Some(f) => {
            let raw = Zeroizing::new(super::read_file(f)?);
            let s = std::str::from_utf8(&raw)
                .map_err(|_| bad(format!("{}: the PIN file is not text", f.display())))?;
            Zeroizing::new(s.trim_end_matches(['\n', '\r']).to_string())
        }
        None => Zeroizing::new(std::env::var(PIN_ENV).map_err(|_| {
            bad(format!(
                "no PIN: add ?pin-source=file:PATH to the URI or set {PIN_ENV}"
            ))
        })?),
    };
    let (session, key, public) = open(&module, &uri, &pin).map_err(&bad)?;
    let kid = uri.id.clone().unwrap_or_default();
    let sign = move |tbs: &[u8]| -> std::result::Result<Vec<u8>, CoseError> {
        let hash = sha2::Sha256::digest(tbs);
        session
            .sign(&Mechanism::Ecdsa, key, &hash)
            .map_err(|_| CoseError::SigningFailed)
    };
    Ok((
        SigningKey::p256_external(ExternalP256 {
            public,
            sign: Box::new(sign),
        }),
        kid,
    ))
}

fn open(
    module: &Path,
    uri: &Uri,
    pin: &str,
) -> std::result::Result<(Session, ObjectHandle, p256::ecdsa::VerifyingKey), String> {
    let ctx = Pkcs11::new(module)
        .map_err(|e| format!("cannot load the PKCS#11 module {}: {e}", module.display()))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(p11("initializing the PKCS#11 module"))?;
    let mut chosen = None;
    for slot in ctx.get_slots_with_token().map_err(p11("listing slots"))? {
        let info = ctx.get_token_info(slot).map_err(p11("reading a token"))?;
        if uri
            .token
            .as_deref()
            .is_none_or(|t| info.label().trim_end() == t)
        {
            chosen = Some(slot);
            break;
        }
    }
    let slot = chosen.ok_or_else(|| match &uri.token {
        Some(t) => format!("no token labelled \"{t}\""),
        None => "no token present".into(),
    })?;
    let session = ctx
        .open_ro_session(slot)
        .map_err(p11("opening a session"))?;
    let mut template = vec![Attribute::KeyType(KeyType::EC)];
    if let Some(o) = &uri.object {
        template.push(Attribute::Label(o.as_bytes().to_vec()));
    }
    if let Some(id) = &uri.id {
        template.push(Attribute::Id(id.clone()));
    }
    let find = |class: ObjectClass| -> std::result::Result<Vec<ObjectHandle>, String> {
        let mut t = template.clone();
        t.push(Attribute::Class(class));
        session.find_objects(&t).map_err(p11("finding the key"))
    };
    session
        .login(UserType::User, Some(&AuthPin::new(pin.into())))
        .map_err(p11("login to the token"))?;
    let privates = find(ObjectClass::PRIVATE_KEY)?;
    let [private] = privates.as_slice() else {
        return Err(format!(
            "{} EC private key objects match (exactly one must)",
            privates.len()
        ));
    };
    let private = *private;
    let publics = find(ObjectClass::PUBLIC_KEY)?;
    let [public] = publics.as_slice() else {
        return Err(format!(
            "{} EC public key objects match (the tool needs exactly one, to check signatures)",
            publics.len()
        ));
    };
    let attrs = session
        .get_attributes(*public, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(p11("reading the public key"))?;
    let mut params = None;
    let mut point = None;
    for a in attrs {
        match a {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    if params.as_deref() != Some(&P256_OID[..]) {
        return Err("the key is not on P-256 (only ES256/ESP256 keys are supported)".into());
    }
    let point = point.ok_or("the public key has no CKA_EC_POINT")?;
    // CKA_EC_POINT is a DER OCTET STRING around the SEC1 point (some modules omit it).
    let sec1 = match point.as_slice() {
        [0x04, 65, rest @ ..] if rest.len() == 65 => rest,
        other => other,
    };
    let public = p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
        .map_err(|_| "the token's public key is not a valid P-256 point".to_string())?;
    Ok((session, private, public))
}
