//! Key files: PEM (SPKI public keys, PKCS#8 and SEC1 private keys), COSE_Key (RFC 9052 §7,
//! CBOR; also HSS-LMS public keys, RFC 8778), JWK (RFC 7517, JSON, as the SUIT examples ship
//! device keys), raw symmetric keys, and the tool's stateful HSS-LMS private key files
//! ([`super::hss`]).
//!
//! The format is recognised from the content, not the file name. Loading never prints key
//! material; errors name the file and what is wrong.

use std::path::Path;

use ciborium::value::Value;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use suit_common::cose::{Algorithm, SigningKey, VerificationKey};
use suit_common::registry::CoseAlg;

use super::{AuthorError, Result};
pub use crate::cose_key::PublicKey;
use crate::cose_key::{label as cose_key, public_cose_entries};

impl PublicKey {
    /// The engine's verification key.
    pub fn verification_key(&self) -> Result<VerificationKey> {
        match self {
            PublicKey::P256(k) => {
                let point = k.to_sec1_point(false);
                VerificationKey::p256_from_sec1(point.as_bytes())
            }
            PublicKey::Ed25519(k) => VerificationKey::ed25519(k.as_bytes()),
            PublicKey::HssLms(k) => VerificationKey::hss_lms(k),
        }
        .map_err(|e| AuthorError::Create(format!("public key not accepted by the engine: {e}")))
    }
}

/// A loaded public key and the key id its file carried (empty if none).
#[derive(Clone, Debug)]
pub struct PublicKeyFile {
    /// The key.
    pub key: PublicKey,
    /// COSE/JWK key id (empty for PEM).
    pub kid: Vec<u8>,
    /// COSE `alg` the key is restricted to (COSE_Key label 3 / JWK "alg"), if declared.
    pub alg: Option<i64>,
}

impl PublicKeyFile {
    /// The engine's verification key, restricted to the algorithm the file declares, if it
    /// declares one (RFC 9052 §7.1: the application MUST check that a key with `alg` is used
    /// for that algorithm only): an anchor or report key declared for ES256 verifies ES256
    /// signatures, not ESP256 ones. A declared algorithm that is no signature algorithm this
    /// key type can verify is refused, naming `path` (the file it was read from).
    pub fn verification_key(&self, path: &Path) -> Result<VerificationKey> {
        let key = self.key.verification_key()?;
        let Some(id) = self.alg else {
            return Ok(key);
        };
        let unusable = || {
            AuthorError::key(
                path,
                format!(
                    "the {} key is declared for algorithm {} (its `alg`), which it cannot \
                     verify signatures with",
                    self.key.type_name(),
                    CoseAlg::from_value(id)
                        .map_or_else(|| id.to_string(), |a| a.name().to_string())
                ),
            )
        };
        match Algorithm::from_cose_id(id) {
            Some(Algorithm::Hmac256) | None => Err(unusable()),
            Some(alg) => key.restricted_to(alg).map_err(|_| unusable()),
        }
    }

    /// The key as the COSE_Key a device anchor holds: its kid, and its `alg` if the file
    /// declares one, so the device keeps the same restriction ([`Self::verification_key`]).
    pub fn anchor_cose_key(&self, path: &Path) -> Result<Vec<u8>> {
        self.verification_key(path)?;
        let mut entries = public_cose_entries(
            &self.key,
            (!self.kid.is_empty()).then_some(self.kid.as_slice()),
        );
        if let Some(alg) = self.alg {
            // After kty (1) and kid (2): the map in deterministic order.
            let at = entries
                .iter()
                .position(|(k, _)| *k != cose_key::KTY && *k != cose_key::KID)
                .unwrap_or(entries.len());
            entries.insert(at, (cose_key::ALG, Value::from(alg)));
        }
        encode_map(entries)
    }
}

/// A private key (signing, or device key for decryption).
///
/// Each key in a box of its own, as in [`SigningKey`]: the value that is moved (into a
/// [`PrivateKeyFile`], a `Vec` of keys) holds no key, and no unused bytes but the tag's
/// padding to carry a stale stack copy of one into the heap (an inline P-256 key left most
/// of the Ed25519 variant's: NOTES session 44-45). Built with [`PrivateKey::p256`],
/// [`PrivateKey::ed25519`].
pub enum PrivateKey {
    /// NIST P-256.
    P256(Box<p256::SecretKey>),
    /// Ed25519.
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

// A tag and one pointer: a variant that is not a box makes this fail to build.
const _: () = assert!(std::mem::size_of::<PrivateKey>() == 2 * std::mem::size_of::<usize>());

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrivateKey::P256(_) => f.write_str("PrivateKey::P256(<secret>)"),
            PrivateKey::Ed25519(_) => f.write_str("PrivateKey::Ed25519(<secret>)"),
        }
    }
}

impl PrivateKey {
    /// A P-256 key, moved into its box.
    pub fn p256(key: p256::SecretKey) -> Self {
        PrivateKey::P256(Box::new(key))
    }

    /// An Ed25519 key, moved into its box.
    pub fn ed25519(key: ed25519_dalek::SigningKey) -> Self {
        PrivateKey::Ed25519(Box::new(key))
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(k.public_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// The engine's signing key.
    pub fn signing_key(&self) -> Result<SigningKey> {
        match self {
            PrivateKey::P256(k) => SigningKey::p256(&k.to_bytes()),
            PrivateKey::Ed25519(k) => SigningKey::ed25519(k.as_bytes()),
        }
        .map_err(|e| AuthorError::Create(format!("signing key not accepted: {e}")))
    }

    /// The signing algorithm for this key: ESP256 (-9) for P-256 unless `es256` asks for the
    /// older ES256 (-7); Ed25519 (-19) for Ed25519, the fully specified identifier the MTI
    /// draft's Ed25519 profiles name (recipients also accept the older EdDSA, -8).
    pub fn signing_algorithm(&self, es256: bool) -> Algorithm {
        match self {
            PrivateKey::P256(_) if es256 => Algorithm::Es256,
            PrivateKey::P256(_) => Algorithm::Esp256,
            PrivateKey::Ed25519(_) => Algorithm::Ed25519,
        }
    }
}

/// A loaded private key with its key id and COSE algorithm restriction, if the file had them.
#[derive(Debug)]
pub struct PrivateKeyFile {
    /// The key.
    pub key: PrivateKey,
    /// Key id (empty if none).
    pub kid: Vec<u8>,
    /// COSE `alg` the key is restricted to (COSE_Key label 3 / JWK "alg").
    pub alg: Option<i64>,
    /// COSE `key_ops` (label 4; JWK "key_ops" names mapped to them) if declared: RFC 9052
    /// §7.1 values, [`UNKNOWN_KEY_OP`] for one the tool does not know.
    pub key_ops: Option<Vec<i64>>,
}

/// A `key_ops` entry that is not one of RFC 9052 Table 5's (a text value, an unknown name).
pub const UNKNOWN_KEY_OP: i64 = 0;
/// RFC 9052 Table 5 `key_ops` values a decryption key may carry.
const KEY_OP_DERIVE_KEY: i64 = 7;
const KEY_OP_DERIVE_BITS: i64 = 8;
/// RFC 9052 Table 5 `key_ops` values by their JWK (RFC 7517 §4.3) names.
const JWK_KEY_OPS: [(&str, i64); 8] = [
    ("sign", 1),
    ("verify", 2),
    ("encrypt", 3),
    ("decrypt", 4),
    ("wrapKey", 5),
    ("unwrapKey", 6),
    ("deriveKey", KEY_OP_DERIVE_KEY),
    ("deriveBits", KEY_OP_DERIVE_BITS),
];

/// A symmetric key (KEK or HMAC key), wiped on drop.
pub struct SymmetricKeyFile {
    /// The secret.
    pub secret: Zeroizing<Vec<u8>>,
    /// Key id (empty if none).
    pub kid: Vec<u8>,
    /// COSE `alg` the key is restricted to, if declared.
    pub alg: Option<i64>,
}

impl std::fmt::Debug for SymmetricKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SymmetricKeyFile({} bytes, <secret>)", self.secret.len())
    }
}

enum Parsed {
    Public(PublicKeyFile),
    Private(PrivateKeyFile),
    Symmetric(SymmetricKeyFile),
    /// An HSS-LMS private key file (stateful: signs through [`super::hss`] only), as its
    /// public half.
    HssPrivate(PublicKeyFile),
}

/// Largest key file read: a PEM, JWK, COSE_Key or raw symmetric key takes some hundreds of
/// bytes, an HSS-LMS private key file at most 16 KiB. JSON is parsed into a value tree of
/// tens of bytes per item however short its text (`0,`), so this bound is what bounds the
/// memory a key file's parsing takes (some tens of MiB; 1 GB under the 64 MiB bound of
/// payloads that key files were read with before).
pub const MAX_KEY_FILE_LEN: u64 = 1024 * 1024;

/// A key file's bytes, at most [`MAX_KEY_FILE_LEN`].
/// Any key file may hold a secret (a public-key loader takes a private key file too): read
/// into one block and wiped when dropped ([`crate::files::read_secret_file_max`]).
pub(crate) fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    Ok(crate::files::read_secret_file_max(path, MAX_KEY_FILE_LEN)?)
}

/// Loads a public key; a private key file is accepted too (its public half is used).
/// A device's identity public key from `path`: P-256, and, if the file declares an `alg`, one
/// that allows ESP256, the algorithm key statements and provisioning receipts are signed with
/// (RFC 9052 §7.1: a key with `alg` is used for that algorithm only).
pub fn load_identity(path: &Path) -> Result<p256::PublicKey> {
    let file = load_public(path)?;
    let PublicKey::P256(key) = file.key else {
        return Err(AuthorError::key(path, "device identity keys are P-256"));
    };
    if let Some(id) = file.alg.filter(|id| *id != Algorithm::Esp256.cose_id()) {
        let name = CoseAlg::from_value(id).map_or_else(|| id.to_string(), |a| a.name().to_string());
        return Err(AuthorError::key(
            path,
            format!(
                "the identity key is declared for algorithm {name} (its `alg`); key statements \
                 and receipts are signed ESP256"
            ),
        ));
    }
    Ok(key)
}

pub fn load_public(path: &Path) -> Result<PublicKeyFile> {
    match parse(path, &read_key_file(path)?, false)? {
        Some(Parsed::Public(p)) => Ok(p),
        Some(Parsed::Private(p)) => Ok(PublicKeyFile {
            key: p.key.public(),
            kid: p.kid,
            alg: p.alg,
        }),
        Some(Parsed::HssPrivate(p)) => Ok(p),
        Some(Parsed::Symmetric(_)) => Err(AuthorError::key(
            path,
            "a symmetric key where a P-256, Ed25519 or HSS-LMS public key was expected",
        )),
        None => Err(not_a_key(path)),
    }
}

/// Loads a private key (PKCS#8 / SEC1 PEM, COSE_Key with `d`, JWK with `d`).
pub fn load_private(path: &Path) -> Result<PrivateKeyFile> {
    // The file holds the private scalar: wiped when dropped, as `load_symmetric` does.
    match parse(path, &read_key_file(path)?, false)? {
        Some(Parsed::Private(p)) => Ok(p),
        Some(Parsed::Public(_)) => Err(AuthorError::key(
            path,
            "a public key where a private key was expected",
        )),
        Some(Parsed::Symmetric(_)) => Err(AuthorError::key(
            path,
            "a symmetric key where a private key was expected",
        )),
        Some(Parsed::HssPrivate(_)) => Err(AuthorError::key(
            path,
            "an HSS-LMS private key: it is stateful and signs manifests only (create / sign \
             --sign-key, which advance its state); it cannot be used here",
        )),
        None => Err(not_a_key(path)),
    }
}

/// The allowed key lengths in words: a run of consecutive lengths as a range ("32 to 64"),
/// else each ("16 or 32").
fn lengths_text(lengths: &[usize]) -> String {
    let consecutive = lengths
        .windows(2)
        .all(|w| matches!(w, [a, b] if *b == *a + 1));
    match (lengths.first(), lengths.last()) {
        (Some(first), Some(last)) if consecutive && lengths.len() > 2 => {
            format!("{first} to {last}")
        }
        _ => lengths
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Loads a symmetric key: a COSE_Key of kty Symmetric, a JWK of kty "oct", or else the raw
/// file content, whose length must be one of `lengths`.
pub fn load_symmetric(path: &Path, lengths: &[usize], what: &str) -> Result<SymmetricKeyFile> {
    let bytes = read_key_file(path)?;
    let parsed = parse(path, &bytes, true)?;
    let raw = parsed.is_none();
    let key = match parsed {
        Some(Parsed::Symmetric(s)) => s,
        Some(_) => {
            return Err(AuthorError::key(
                path,
                format!("an asymmetric key where a {what} was expected"),
            ))
        }
        None => SymmetricKeyFile {
            secret: Zeroizing::new(bytes.to_vec()),
            kid: Vec::new(),
            alg: None,
        },
    };
    if !lengths.contains(&key.secret.len()) {
        // Raw key bytes can be anything, so another format is named only for a file that is
        // no key of an allowed length anyway (and no COSE_Key or JWK, whose secret the look,
        // a decoding of its own, would not wipe).
        if let Some(other) = raw.then(|| other_format(&bytes)).flatten() {
            return Err(AuthorError::key(path, other));
        }
        return Err(AuthorError::key(
            path,
            format!(
                "{what} must be {} bytes long, the file holds {}{}",
                lengths_text(lengths),
                key.secret.len(),
                hex_text_hint(&key.secret, lengths)
            ),
        ));
    }
    Ok(key)
}

/// For a raw key file of a wrong length that reads as hex text of a key of an allowed length
/// (`xxd -p` writes one, with its newline; the repository's vectors keep keys so): says so.
/// Only a hint: a file of the right length is raw bytes, whatever they look like (libcsuit's
/// KEK is sixteen `a`s).
fn hex_text_hint(bytes: &[u8], lengths: &[usize]) -> String {
    let digits: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let hex = !digits.is_empty() && digits.iter().all(u8::is_ascii_hexdigit);
    if hex && digits.len().is_multiple_of(2) && lengths.contains(&(digits.len() / 2)) {
        format!(
            ": it reads as hex text of a {}-byte key; give the raw bytes (`xxd -r -p` makes \
             them) or a COSE_Key or JWK",
            digits.len() / 2
        )
    } else {
        String::new()
    }
}

fn not_a_key(path: &Path) -> AuthorError {
    AuthorError::key(
        path,
        "not a key file (expected PEM, COSE_Key CBOR, JWK JSON or an HSS-LMS private key file)",
    )
}

/// Recognises the format. `Ok(None)`: not PEM, not JWK, not a COSE_Key (for symmetric keys:
/// raw bytes).
fn parse(path: &Path, bytes: &[u8], symmetric_ok: bool) -> Result<Option<Parsed>> {
    let text = std::str::from_utf8(bytes).ok();
    if super::hss::is_private_key_file(bytes) {
        let t = text.ok_or_else(|| AuthorError::key(path, "HSS-LMS private key file: not text"))?;
        let k = super::hss::HssKeyFile::decode(path, t)?;
        return Ok(Some(Parsed::HssPrivate(PublicKeyFile {
            key: k.public_key(),
            kid: k.kid.clone(),
            alg: None,
        })));
    }
    if let Some(t) = text.filter(|t| t.trim_start().starts_with("-----BEGIN ")) {
        return parse_pem(path, t).map(Some);
    }
    if let Some(t) = text.filter(|t| t.trim_start().starts_with('{')) {
        if let Ok(mut json) = serde_json::from_str::<serde_json::Value>(t) {
            // The parsed text of `d` / `k` is the secret in base64url: wiped once read.
            let parsed = match &json {
                serde_json::Value::Object(map) => Some(parse_jwk(path, map).map(Some)),
                _ => None,
            };
            wipe_json(&mut json);
            if let Some(parsed) = parsed {
                return parsed;
            }
        }
    }
    if symmetric_ok {
        // Raw key bytes may start with a CBOR map header (0xa0..0xbf: one key in eight): a
        // COSE_Key only if the whole file is one CBOR map with an integer kty.
        let Ok(mut value) = super::inspect::decode_one(bytes) else {
            return Ok(None);
        };
        let parsed = match &value {
            Value::Map(entries) if cose_kty_is_int(entries) => {
                parse_cose_key(path, entries).map(Some)
            }
            _ => Ok(None),
        };
        crate::detect::wipe(&mut value);
        return parsed;
    }
    // Bounded as every CBOR file the tools decode into values is (`detect::decode_one`).
    if crate::detect::check_item_count(bytes).is_err() {
        return Ok(None);
    }
    // Walked first (`first_item_len`): values are built only from an item that decodes whole
    // (a failing decode would free its partial values, a key's bytes among them, unwiped).
    if crate::detect::first_item_len(bytes).is_err() {
        return Ok(None);
    }
    let Ok(mut value) = ciborium::de::from_reader::<Value, _>(bytes) else {
        return Ok(None);
    };
    let parsed = match &value {
        Value::Map(entries) if cose_kty_is_int(entries) => parse_cose_key(path, entries).map(Some),
        // No COSE_Key: another of the tools' formats is named (looked at only here: the
        // look decodes the file again, and a key's copy would not be wiped).
        _ => match other_format(bytes) {
            Some(other) => Err(AuthorError::key(path, other)),
            None => match &value {
                Value::Map(entries) => parse_cose_key(path, entries).map(Some),
                _ => Ok(None),
            },
        },
    };
    // The decoded `d` / `k` bytes are the secret: wiped once read.
    crate::detect::wipe(&mut value);
    parsed
}

/// Wipes every string of a parsed JWK (`d` or `k` in base64url). Its depth is bounded by
/// serde_json's recursion limit.
fn wipe_json(v: &mut serde_json::Value) {
    use zeroize::Zeroize as _;
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(wipe_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(wipe_json),
        _ => {}
    }
}

/// Another of the tools' formats than a key file (an envelope, a report, the TPA's device
/// model, ...) given as a key: what it is and the command that takes it, as the commands
/// that read those formats name a key file given to them.
fn other_format(bytes: &[u8]) -> Option<String> {
    use crate::detect::{detect, Format, Tool};
    let found =
        detect(bytes).filter(|f| !matches!(f, Format::Pem | Format::Json | Format::CoseKey))?;
    Some(format!(
        "this is {}, not a key file: {}",
        found.name(),
        found.advice(Tool::Author)
    ))
}

/// Whether a CBOR map has label 1 (kty) with an integer value, as every COSE_Key the tool
/// reads does.
fn cose_kty_is_int(entries: &[(Value, Value)]) -> bool {
    entries.iter().any(
        |(k, v)| matches!((k, v), (Value::Integer(k), Value::Integer(_)) if i128::from(*k) == 1),
    )
}

fn pem_block<'t>(text: &'t str, label: &str) -> Option<&'t str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = text[start..].find(&end)? + start + end.len();
    Some(&text[start..stop])
}

fn parse_pem(path: &Path, text: &str) -> Result<Parsed> {
    if let Some(block) = pem_block(text, "PUBLIC KEY") {
        if let Ok(k) = p256::PublicKey::from_public_key_pem(block) {
            return Ok(Parsed::Public(PublicKeyFile {
                key: PublicKey::P256(k),
                kid: Vec::new(),
                alg: None,
            }));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(block) {
            return Ok(Parsed::Public(PublicKeyFile {
                key: PublicKey::Ed25519(k),
                kid: Vec::new(),
                alg: None,
            }));
        }
        return Err(AuthorError::key(
            path,
            "PEM public key is neither P-256 nor Ed25519 (or is malformed)",
        ));
    }
    if let Some(block) = pem_block(text, "EC PRIVATE KEY") {
        // Not `from_sec1_pem`: it decodes into a plain `Vec` and frees the DER, the scalar in
        // it, unwiped (NOTES session 44-45).
        let k = pem_der(block, "EC PRIVATE KEY")
            .and_then(|der| p256::SecretKey::from_sec1_der(&der).ok())
            .ok_or_else(|| {
                AuthorError::key(path, "SEC1 EC private key is not a valid P-256 key")
            })?;
        return Ok(private(PrivateKey::p256(k)));
    }
    if let Some(block) = pem_block(text, "PRIVATE KEY") {
        if let Ok(k) = p256::SecretKey::from_pkcs8_pem(block) {
            // p256 checks the public key inside the SEC1 structure, not PKCS#8 v2's own.
            if !pkcs8_public_key_matches(block, &k) {
                return Err(AuthorError::key(
                    path,
                    "PKCS#8 private key: its publicKey is not the public key of its private key",
                ));
            }
            return Ok(private(PrivateKey::p256(k)));
        }
        if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(block) {
            return Ok(private(PrivateKey::ed25519(k)));
        }
        return Err(AuthorError::key(
            path,
            "PKCS#8 private key is neither P-256 nor Ed25519 (or is malformed)",
        ));
    }
    if text.contains("ENCRYPTED PRIVATE KEY") {
        return Err(AuthorError::key(
            path,
            "password-protected PEM keys are not supported",
        ));
    }
    Err(AuthorError::key(
        path,
        "PEM file holds no PUBLIC KEY, PRIVATE KEY or EC PRIVATE KEY block",
    ))
}

fn private(key: PrivateKey) -> Parsed {
    Parsed::Private(PrivateKeyFile {
        key,
        kid: Vec::new(),
        alg: None,
        key_ops: None,
    })
}

/// The DER bytes of PEM `block` (labelled `label`), decoded into a block wiped when dropped
/// (a private key's DER holds the key), failed decodes included.
fn pem_der(block: &str, label: &str) -> Option<Zeroizing<Vec<u8>>> {
    use p256::pkcs8::der::pem;
    // The base64 text is longer than what it decodes to: one block, never grown.
    let mut buf = Zeroizing::new(vec![0u8; block.len()]);
    let (found, der) = pem::decode(block.as_bytes(), &mut buf).ok()?;
    let len = der.len();
    if found != label {
        return None;
    }
    buf.truncate(len);
    Some(buf)
}

/// Whether a PKCS#8 P-256 key's optional publicKey (v2, RFC 5958) is absent or that of `sk`.
fn pkcs8_public_key_matches(block: &str, sk: &p256::SecretKey) -> bool {
    let Some(der) = pem_der(block, "PRIVATE KEY") else {
        return false;
    };
    match p256::pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()) {
        Ok(info) => info.public_key.is_none_or(|pk| {
            pk.as_bytes()
                .and_then(|b| p256::PublicKey::from_sec1_bytes(b).ok())
                .is_some_and(|pk| pk == sk.public_key())
        }),
        Err(_) => false,
    }
}

/// Refuses a private key file whose public part is not its private key's (a file assembled
/// from two keys would sign or decrypt with a key other than the one it shows).
fn check_public_part(
    path: &Path,
    key: &PrivateKey,
    x: Option<&[u8]>,
    y: Option<&[u8]>,
    what: &str,
) -> Result<()> {
    let public = key.public().to_bytes();
    let (px, py) = match key {
        // SEC1 uncompressed (0x04, x, y): always 65 bytes.
        PrivateKey::P256(_) => (public.get(1..33).unwrap_or_default(), public.get(33..)),
        PrivateKey::Ed25519(_) => (public.as_slice(), None),
    };
    let x_ok = x.is_none_or(|x| x == px);
    let y_ok = match (y, py) {
        (None, _) => true,
        (Some(y), Some(py)) => y == py,
        (Some(_), None) => false,
    };
    if x_ok && y_ok {
        Ok(())
    } else {
        Err(AuthorError::key(
            path,
            format!(
                "{what}: not the public key of this file's private key d (the file mixes two keys)"
            ),
        ))
    }
}

fn parse_cose_key(path: &Path, entries: &[(Value, Value)]) -> Result<Parsed> {
    let get = |label: i64| {
        entries.iter().find_map(|(k, v)| match k {
            Value::Integer(i) if i128::from(*i) == i128::from(label) => Some(v),
            _ => None,
        })
    };
    let int = |label: i64| -> Option<i64> {
        match get(label) {
            Some(Value::Integer(i)) => i64::try_from(*i).ok(),
            _ => None,
        }
    };
    let bytes = |label: i64| -> Option<&[u8]> {
        match get(label) {
            Some(Value::Bytes(b)) => Some(b.as_slice()),
            _ => None,
        }
    };
    let bad = |what: &str| AuthorError::key(path, format!("COSE_Key: {what}"));
    let kid = bytes(cose_key::KID).map(<[u8]>::to_vec).unwrap_or_default();
    let alg = int(cose_key::ALG);
    if alg.is_none() && get(cose_key::ALG).is_some() {
        // RFC 9052 allows a text `alg`; these tools (and the TA) read the registered integer
        // ids only. Dropping it would use the key unrestricted (review s42-rev).
        return Err(bad(
            "alg (3) is not an integer COSE algorithm id (a text one is not read here), so \
             the key's use cannot be checked; give the registered id (ES256 is -7, ESP256 -9)",
        ));
    }
    let key_ops = match get(cose_key::KEY_OPS) {
        None => None,
        Some(Value::Array(ops)) => Some(
            ops.iter()
                .map(|op| match op {
                    Value::Integer(i) => i64::try_from(*i).unwrap_or(UNKNOWN_KEY_OP),
                    _ => UNKNOWN_KEY_OP,
                })
                .collect(),
        ),
        Some(_) => return Err(bad("key_ops (4) is not an array")),
    };
    let kty = int(cose_key::KTY).ok_or_else(|| bad("missing or non-integer kty (1)"))?;
    match kty {
        cose_key::KTY_EC2 => {
            if int(cose_key::CRV) != Some(cose_key::CRV_P256) {
                return Err(bad("EC2 key is not on P-256 (crv -1 must be 1)"));
            }
            if let Some(d) = bytes(cose_key::D) {
                let sk = p256::SecretKey::from_slice(d)
                    .map_err(|_| bad("d (-4) is not a valid P-256 scalar"))?;
                let public = sk.public_key().to_sec1_point(false);
                let key = PrivateKey::p256(sk);
                // y is the coordinate, or its sign bit for a compressed point (RFC 9053 §7.1.1).
                let y = match get(cose_key::Y) {
                    Some(Value::Bool(sign)) => {
                        let odd = public.as_bytes().last().is_some_and(|b| b & 1 == 1);
                        if *sign != odd {
                            return Err(bad("y (-3) is not the sign of the public key of d (-4)"));
                        }
                        None
                    }
                    _ => bytes(cose_key::Y),
                };
                check_public_part(path, &key, bytes(cose_key::X), y, "COSE_Key: x/y (-2/-3)")?;
                return Ok(Parsed::Private(PrivateKeyFile {
                    key,
                    kid,
                    alg,
                    key_ops,
                }));
            }
            let x = bytes(cose_key::X).ok_or_else(|| bad("missing x (-2)"))?;
            let y = bytes(cose_key::Y)
                .ok_or_else(|| bad("missing y (-3) (compressed points are not supported)"))?;
            let pk = p256_from_xy(x, y).ok_or_else(|| bad("x/y is not a P-256 point"))?;
            Ok(Parsed::Public(PublicKeyFile {
                key: PublicKey::P256(pk),
                kid,
                alg,
            }))
        }
        cose_key::KTY_OKP => {
            if int(cose_key::CRV) != Some(cose_key::CRV_ED25519) {
                return Err(bad("OKP key is not Ed25519 (crv -1 must be 6)"));
            }
            if let Some(d) = bytes(cose_key::D) {
                let seed: &[u8; 32] = d.try_into().map_err(|_| bad("d (-4) must be 32 bytes"))?;
                let key = PrivateKey::ed25519(ed25519_dalek::SigningKey::from_bytes(seed));
                check_public_part(path, &key, bytes(cose_key::X), None, "COSE_Key: x (-2)")?;
                return Ok(Parsed::Private(PrivateKeyFile {
                    key,
                    kid,
                    alg,
                    key_ops,
                }));
            }
            let x = bytes(cose_key::X).ok_or_else(|| bad("missing x (-2)"))?;
            let x: &[u8; 32] = x.try_into().map_err(|_| bad("x (-2) must be 32 bytes"))?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(x)
                .map_err(|_| bad("x (-2) is not an Ed25519 point"))?;
            Ok(Parsed::Public(PublicKeyFile {
                key: PublicKey::Ed25519(vk),
                kid,
                alg,
            }))
        }
        cose_key::KTY_HSS_LMS => {
            let k = bytes(cose_key::HSS_PUB).ok_or_else(|| bad("HSS-LMS key without pub (-1)"))?;
            VerificationKey::hss_lms(k).map_err(|e| {
                bad(&format!(
                    "pub (-1) is not an HSS-LMS public key the engine accepts ({e})"
                ))
            })?;
            if let Some(a) = alg.filter(|a| *a != Algorithm::HssLms.cose_id()) {
                return Err(bad(&format!(
                    "an HSS-LMS key declared for {} (alg 3)",
                    alg_name(a)
                )));
            }
            Ok(Parsed::Public(PublicKeyFile {
                key: PublicKey::HssLms(k.to_vec()),
                kid,
                alg,
            }))
        }
        cose_key::KTY_SYMMETRIC => {
            let k = bytes(cose_key::K).ok_or_else(|| bad("symmetric key without k (-1)"))?;
            Ok(Parsed::Symmetric(SymmetricKeyFile {
                secret: Zeroizing::new(k.to_vec()),
                kid,
                alg,
            }))
        }
        other => Err(bad(&format!("unsupported kty {other}"))),
    }
}

fn p256_from_xy(x: &[u8], y: &[u8]) -> Option<p256::PublicKey> {
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut sec1 = [0u8; 65];
    sec1[0] = 4;
    sec1[1..33].copy_from_slice(x);
    sec1[33..].copy_from_slice(y);
    p256::PublicKey::from_sec1_bytes(&sec1).ok()
}

fn parse_jwk(path: &Path, map: &serde_json::Map<String, serde_json::Value>) -> Result<Parsed> {
    use base64::Engine as _;
    let bad = |what: &str| AuthorError::key(path, format!("JWK: {what}"));
    let s = |name: &str| map.get(name).and_then(|v| v.as_str());
    let b64 = |name: &str| -> Result<Option<Zeroizing<Vec<u8>>>> {
        match s(name) {
            None => Ok(None),
            Some(v) => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v.trim_end_matches('='))
                .map(|b| Some(Zeroizing::new(b)))
                .map_err(|_| bad(&format!("\"{name}\" is not base64url"))),
        }
    };
    let kid = s("kid").map(|k| k.as_bytes().to_vec()).unwrap_or_default();
    let key_ops = match map.get("key_ops") {
        None => None,
        Some(serde_json::Value::Array(ops)) => Some(
            ops.iter()
                .map(|op| {
                    JWK_KEY_OPS
                        .iter()
                        .find(|(name, _)| op.as_str() == Some(name))
                        .map_or(UNKNOWN_KEY_OP, |(_, v)| *v)
                })
                .collect(),
        ),
        Some(_) => return Err(bad("\"key_ops\" is not an array")),
    };
    let alg = match s("alg") {
        None => None,
        Some(name) => Some(jwk_alg(name).ok_or_else(|| {
            bad(&format!(
                "\"alg\" {name} is not an algorithm this tool knows, so the key's use cannot be checked"
            ))
        })?),
    };
    match s("kty") {
        Some("EC") => {
            if s("crv") != Some("P-256") {
                return Err(bad("EC key is not on P-256"));
            }
            if let Some(d) = b64("d")? {
                let sk = p256::SecretKey::from_slice(&d)
                    .map_err(|_| bad("\"d\" is not a valid P-256 scalar"))?;
                let key = PrivateKey::p256(sk);
                let (x, y) = (b64("x")?, b64("y")?);
                check_public_part(
                    path,
                    &key,
                    x.as_deref().map(|v| v.as_slice()),
                    y.as_deref().map(|v| v.as_slice()),
                    "JWK: \"x\"/\"y\"",
                )?;
                return Ok(Parsed::Private(PrivateKeyFile {
                    key,
                    kid,
                    alg,
                    key_ops,
                }));
            }
            let x = b64("x")?.ok_or_else(|| bad("missing \"x\""))?;
            let y = b64("y")?.ok_or_else(|| bad("missing \"y\""))?;
            let pk = p256_from_xy(&x, &y).ok_or_else(|| bad("x/y is not a P-256 point"))?;
            Ok(Parsed::Public(PublicKeyFile {
                key: PublicKey::P256(pk),
                kid,
                alg,
            }))
        }
        Some("OKP") => {
            if s("crv") != Some("Ed25519") {
                return Err(bad("OKP key is not Ed25519"));
            }
            if let Some(d) = b64("d")? {
                let seed: &[u8; 32] = d
                    .as_slice()
                    .try_into()
                    .map_err(|_| bad("\"d\" must be 32 bytes"))?;
                let key = PrivateKey::ed25519(ed25519_dalek::SigningKey::from_bytes(seed));
                let x = b64("x")?;
                check_public_part(
                    path,
                    &key,
                    x.as_deref().map(|v| v.as_slice()),
                    None,
                    "JWK: \"x\"",
                )?;
                return Ok(Parsed::Private(PrivateKeyFile {
                    key,
                    kid,
                    alg,
                    key_ops,
                }));
            }
            let x = b64("x")?.ok_or_else(|| bad("missing \"x\""))?;
            let x: &[u8; 32] = x
                .as_slice()
                .try_into()
                .map_err(|_| bad("\"x\" must be 32 bytes"))?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(x)
                .map_err(|_| bad("\"x\" is not an Ed25519 point"))?;
            Ok(Parsed::Public(PublicKeyFile {
                key: PublicKey::Ed25519(vk),
                kid,
                alg,
            }))
        }
        Some("oct") => {
            let k = b64("k")?.ok_or_else(|| bad("missing \"k\""))?;
            Ok(Parsed::Symmetric(SymmetricKeyFile {
                secret: k,
                kid,
                alg,
            }))
        }
        Some(other) => Err(bad(&format!("unsupported kty \"{other}\""))),
        None => Err(bad(
            "missing \"kty\" (a JSON file given as a key must be a JWK; a description goes to \
             `suit-author create` or `provision`)",
        )),
    }
}

/// The algorithms a key file may be declared for (its "alg"), by their registered names.
const KEY_ALGS: [CoseAlg; 14] = [
    CoseAlg::EcdhEsA128Kw,
    CoseAlg::EcdhEsA192Kw,
    CoseAlg::EcdhEsA256Kw,
    CoseAlg::A128Kw,
    CoseAlg::A192Kw,
    CoseAlg::A256Kw,
    CoseAlg::Es256,
    CoseAlg::Esp256,
    CoseAlg::EdDsa,
    CoseAlg::Ed25519,
    CoseAlg::Hpke0,
    CoseAlg::Hpke7,
    CoseAlg::Hpke0Ke,
    CoseAlg::Hpke7Ke,
];

/// COSE algorithm ids of the JOSE (or COSE) names a JWK may carry in "alg": the registered
/// COSE names of [`KEY_ALGS`], and JOSE's "HS256" for HMAC 256/256.
fn jwk_alg(name: &str) -> Option<i64> {
    if name == "HS256" {
        return Some(CoseAlg::Hmac256.value());
    }
    CoseAlg::from_name(name)
        .filter(|a| KEY_ALGS.contains(a))
        .map(CoseAlg::value)
}

/// A readable name for a COSE algorithm id (for errors).
pub fn alg_name(alg: i64) -> String {
    match CoseAlg::from_value(alg) {
        Some(a) => a.name().into(),
        None => format!("COSE alg {alg}"),
    }
}

/// Refuses to use a key for `wanted` when its file declares another algorithm (RFC 9052
/// §7.1: a key's `alg` restricts it to that algorithm), as the device side does.
pub fn check_declared_alg(path: &Path, declared: Option<i64>, wanted: i64) -> Result<()> {
    match declared {
        Some(d) if d != wanted => Err(AuthorError::key(
            path,
            format!(
                "the key is declared for {} but would be used for {}; use a key made for {} (or one without \"alg\")",
                alg_name(d),
                alg_name(wanted),
                alg_name(wanted)
            ),
        )),
        _ => Ok(()),
    }
}

/// What a device's P-256 private key decrypts in `verify --process`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceKeyUse {
    /// ECDH-ES+AES-KW recipients.
    pub ecdh: bool,
    /// COSE-HPKE (key encryption and integrated).
    pub hpke: bool,
}

/// The decryption a device private key may be used for: the family of its declared `alg`
/// (RFC 9052 §7.1, mapped by the engine's `RecipientAlgorithm` as `encrypt` does), both
/// without one; narrowed by `key_ops` (COSE-HPKE: "MUST include only 'derive bits' for the
/// private key"; ECDH-ES derives a key-encryption key, so derive key or derive bits).
pub fn device_key_use(path: &Path, key: &PrivateKeyFile) -> Result<DeviceKeyUse> {
    use suit_common::encryption::algorithms::{HpkeSuite, RecipientAlgorithm};
    let mut usable = match key.alg {
        None => DeviceKeyUse {
            ecdh: true,
            hpke: true,
        },
        Some(alg) => match RecipientAlgorithm::from_id(alg) {
            Some(RecipientAlgorithm::EcdhEs(_)) => DeviceKeyUse {
                ecdh: true,
                hpke: false,
            },
            Some(RecipientAlgorithm::Hpke(_)) => DeviceKeyUse {
                ecdh: false,
                hpke: true,
            },
            _ if HpkeSuite::from_integrated_id(alg).is_some() => DeviceKeyUse {
                ecdh: false,
                hpke: true,
            },
            _ => {
                return Err(AuthorError::key(
                    path,
                    format!(
                        "the key is declared for {}, not for decryption with ECDH-ES or COSE-HPKE; \
                         use a device key declared for one of them (or one without \"alg\")",
                        alg_name(alg)
                    ),
                ))
            }
        },
    };
    if let Some(ops) = &key.key_ops {
        let only = |allowed: &[i64]| !ops.is_empty() && ops.iter().all(|op| allowed.contains(op));
        usable.ecdh &= only(&[KEY_OP_DERIVE_KEY, KEY_OP_DERIVE_BITS]);
        usable.hpke &= only(&[KEY_OP_DERIVE_BITS]);
        if !usable.ecdh && !usable.hpke {
            // RFC 9052 Table 5's names, values 1 to 10.
            const NAMES: [&str; 10] = [
                "sign",
                "verify",
                "encrypt",
                "decrypt",
                "wrap key",
                "unwrap key",
                "derive key",
                "derive bits",
                "MAC create",
                "MAC verify",
            ];
            let names: Vec<&str> = ops
                .iter()
                .map(|op| {
                    op.checked_sub(1)
                        .and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| NAMES.get(i))
                        .map_or("an operation this tool does not know", |n| *n)
                })
                .collect();
            return Err(AuthorError::key(
                path,
                format!(
                    "the key's key_ops [{}] do not allow its use as a device decryption key \
                     (COSE-HPKE: derive bits only; ECDH-ES: derive key or derive bits)",
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(usable)
}

/// Key types `keygen` creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// NIST P-256 (signing with ESP256, or a device key for ECDH-ES / HPKE).
    P256,
    /// Ed25519 (signing with EdDSA).
    Ed25519,
}

/// Files written by [`keygen`].
#[derive(Debug)]
pub struct GeneratedKey {
    /// Every file written, private first.
    pub files: Vec<std::path::PathBuf>,
}

/// Generates a key pair and writes `PREFIX.priv.pem` (PKCS#8) and `PREFIX.pub.pem` (SPKI);
/// with `cose`, also `PREFIX.priv.cose` and `PREFIX.pub.cose` (COSE_Key, with `kid` if given).
/// Existing files are replaced only with `force` ([`write_key_files`]).
fn keygen(
    kind: KeyType,
    prefix: &Path,
    cose: bool,
    kid: Option<&[u8]>,
    force: bool,
) -> Result<GeneratedKey> {
    use p256::pkcs8::LineEnding;
    let name = |suffix: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(suffix);
        std::path::PathBuf::from(s)
    };
    let gen_err =
        |e: &dyn std::fmt::Display| AuthorError::Create(format!("key encoding failed: {e}"));
    let (priv_pem, pub_pem, priv_cose, pub_cose) = match kind {
        KeyType::P256 => {
            let sk = <p256::SecretKey as p256::elliptic_curve::Generate>::generate_from_rng(
                &mut super::os_rng(),
            );
            let pk = sk.public_key();
            let priv_pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(|e| gen_err(&e))?;
            let pub_pem = pk
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| gen_err(&e))?;
            let public = public_cose_entries(&PublicKey::P256(pk), kid);
            let mut private = public.clone();
            private.push((cose_key::D, Value::Bytes(sk.to_bytes().to_vec())));
            (priv_pem, pub_pem, private, public)
        }
        KeyType::Ed25519 => {
            let mut seed = Zeroizing::new([0u8; 32]);
            rand_core::Rng::fill_bytes(&mut super::os_rng(), seed.as_mut());
            let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
            let vk = sk.verifying_key();
            let priv_pem = sk.to_pkcs8_pem(LineEnding::LF).map_err(|e| gen_err(&e))?;
            let pub_pem = vk
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| gen_err(&e))?;
            let public = public_cose_entries(&PublicKey::Ed25519(vk), kid);
            let mut private = public.clone();
            private.push((cose_key::D, Value::Bytes(seed.to_vec())));
            (priv_pem, pub_pem, private, public)
        }
    };
    let priv_path = name(".priv.pem");
    let pub_path = name(".pub.pem");
    let mut files = vec![priv_path.clone(), pub_path.clone()];
    if cose {
        files.extend([name(".priv.cose"), name(".pub.cose")]);
    }
    // Every file written before any is renamed, the private key (PEM) renamed last
    // (`write_files`): a failure before that leaves every old file (with --force: the old
    // key pair); one between the renames can leave new public (and COSE) files beside the
    // old private key, never a new private key without its public half.
    let pub_cose = if cose {
        encode_map(pub_cose)?
    } else {
        Vec::new()
    };
    // Encoded (which wipes the entries' copy of the private key) whether written or not.
    let priv_cose = crate::cose_key::encode_secret_map(priv_cose)
        .map_err(|e| AuthorError::Create(format!("CBOR encoding failed: {e}")))?;
    let mut outputs = Vec::new();
    if let [_, _, priv_cose_path, pub_cose_path] = files.as_slice() {
        outputs.push(super::output(pub_cose_path, &pub_cose));
        outputs.push(super::secret_output(priv_cose_path, &priv_cose));
    }
    outputs.push(super::output(&pub_path, pub_pem.as_bytes()));
    outputs.push(super::secret_output(&priv_path, priv_pem.as_bytes()));
    write_key_files(&outputs, force)?;
    Ok(GeneratedKey { files })
}

/// Refuses (usage error) to make a key whose files (any of `paths`) exist, unless `force`:
/// a private key in use is never lost to a repeated command. Checked before the key is made;
/// [`write_key_files`] makes it hold against a concurrent run.
pub(crate) fn refuse_existing_keys(paths: &[std::path::PathBuf], force: bool) -> Result<()> {
    match paths
        .iter()
        .find(|p| !force && std::fs::symlink_metadata(p).is_ok())
    {
        Some(path) => Err(key_exists(path)),
        None => Ok(()),
    }
}

fn key_exists(path: &Path) -> AuthorError {
    AuthorError::Usage(format!(
        "{} exists: keygen does not replace keys (use --force to overwrite; nothing was \
         written)",
        path.display()
    ))
}

/// Writes a new key's files, the private key last ([`super::write_files`]). Without `force`
/// as new files only ([`super::create_files`]): of two runs making one key at once, the one
/// that finds a file made by the other fails (as [`refuse_existing_keys`]) and leaves the
/// other's pair whole.
pub(crate) fn write_key_files(outputs: &[crate::files::Output<'_>], force: bool) -> Result<()> {
    if force {
        return super::write_files(outputs);
    }
    super::create_files(outputs).map_err(|e| match e {
        AuthorError::Io { path, source } if source.kind() == std::io::ErrorKind::AlreadyExists => {
            key_exists(&path)
        }
        e => e,
    })
}

/// Encodes a public key as a COSE_Key (EC2 P-256 or OKP Ed25519), with `kid` if given.
pub fn public_cose_key(key: &PublicKey, kid: Option<&[u8]>) -> Result<Vec<u8>> {
    encode_map(public_cose_entries(key, kid))
}

/// Writes a COSE_Key of kty Symmetric (`{1: 4, [2: kid], -1: k}`).
pub fn symmetric_cose_key(secret: &[u8], kid: Option<&[u8]>) -> Result<Zeroizing<Vec<u8>>> {
    let mut m = vec![(cose_key::KTY, Value::from(cose_key::KTY_SYMMETRIC))];
    if let Some(kid) = kid {
        m.push((cose_key::KID, Value::Bytes(kid.to_vec())));
    }
    m.push((cose_key::K, Value::Bytes(secret.to_vec())));
    crate::cose_key::encode_secret_map(m)
        .map_err(|e| AuthorError::Create(format!("CBOR encoding failed: {e}")))
}

fn encode_map(entries: Vec<(i64, Value)>) -> Result<Vec<u8>> {
    crate::cose_key::encode_map(entries)
        .map_err(|e| AuthorError::Create(format!("CBOR encoding failed: {e}")))
}

/// Refuses a `keygen --out` prefix that names a directory (`keys/`, `.`, `..`, `keys/.`)
/// rather than the start of a file name: the suffixes would make hidden files
/// (`keys/.priv.pem`, `..priv.pem`) no listing shows. Usage error, before anything is made.
pub fn check_prefix(prefix: &Path) -> Result<()> {
    // The last segment as typed (`Path` drops a trailing `.` and `/`).
    let text = prefix.as_os_str().as_encoded_bytes();
    let last = text.rsplit(|b| *b == b'/').next().unwrap_or_default();
    if matches!(last, b"" | b"." | b"..") {
        return Err(AuthorError::Usage(format!(
            "--out {}: a name prefix for the key files (PREFIX.priv.pem, PREFIX.pub.pem, ...), \
             not a directory: give a name in it, such as {}",
            prefix.display(),
            prefix.join("author").display()
        )));
    }
    Ok(())
}

/// [`keygen`] that never silently replaces a key: without `force`, refuses (usage error) if
/// any file it would write exists, so a private key in use cannot be lost by a repeated
/// command.
pub fn keygen_checked(
    kind: KeyType,
    prefix: &Path,
    cose: bool,
    kid: Option<&[u8]>,
    force: bool,
) -> Result<GeneratedKey> {
    let suffixes: &[&str] = if cose {
        &[".priv.pem", ".pub.pem", ".priv.cose", ".pub.cose"]
    } else {
        &[".priv.pem", ".pub.pem"]
    };
    let paths: Vec<_> = suffixes
        .iter()
        .map(|suffix| {
            let mut s = prefix.as_os_str().to_owned();
            s.push(suffix);
            std::path::PathBuf::from(s)
        })
        .collect();
    refuse_existing_keys(&paths, force)?;
    keygen(kind, prefix, cose, kid, force)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `prefix`'s four files are one key pair.
    fn one_pair(prefix: &Path) -> bool {
        let file = |suffix: &str| {
            let mut s = prefix.as_os_str().to_owned();
            s.push(suffix);
            std::fs::read(s).unwrap()
        };
        let sk = p256::SecretKey::from_pkcs8_pem(std::str::from_utf8(&file(".priv.pem")).unwrap())
            .unwrap();
        let pk =
            p256::PublicKey::from_public_key_pem(std::str::from_utf8(&file(".pub.pem")).unwrap())
                .unwrap();
        sk.public_key() == pk
            && file(".pub.cose") == public_cose_key(&PublicKey::P256(pk), None).unwrap()
    }

    /// Concurrent `keygen` runs for one prefix (review s29: 7 of 40 racing pairs exited 0
    /// with a private and a public key of different pairs; both non-`--force` runs succeeded):
    /// without `--force` exactly one succeeds and the others fail as for an existing key,
    /// leaving its files one pair; with `--force` every run succeeds and the files in place
    /// are one run's pair.
    #[test]
    fn racing_keygen_runs_leave_one_pair() {
        let dir = tempfile::tempdir().unwrap();
        let threads = 4;
        for round in 0..10 {
            let prefix = dir.path().join(format!("k{round}"));
            for force in [false, true] {
                let barrier = std::sync::Barrier::new(threads);
                let results: Vec<Result<GeneratedKey>> = std::thread::scope(|s| {
                    let runs: Vec<_> = (0..threads)
                        .map(|_| {
                            s.spawn(|| {
                                barrier.wait();
                                keygen_checked(KeyType::P256, &prefix, true, None, force)
                            })
                        })
                        .collect();
                    runs.into_iter().map(|r| r.join().unwrap()).collect()
                });
                let won = results.iter().filter(|r| r.is_ok()).count();
                if force {
                    assert_eq!(won, threads, "round {round}");
                } else {
                    assert_eq!(won, 1, "round {round}");
                    for r in &results {
                        if let Err(e) = r {
                            assert!(e.to_string().contains("keygen does not replace"), "{e}");
                        }
                    }
                }
                assert!(one_pair(&prefix), "round {round}, force {force}");
            }
        }
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("suit-tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
