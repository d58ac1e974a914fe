//! Payload encryption for SUIT (draft-ietf-suit-firmware-encryption): one content key and
//! one ciphertext, wrapped for every recipient (broadcast), emitted as a
//! SUIT_Encryption_Info (COSE_Encrypt, detached ciphertext) plus the ciphertext.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use suit_common::encryption::algorithms::{
    ContentAlgorithm, HpkeSuite, KeyWrap, RecipientAlgorithm,
};
use suit_common::encryption::{
    encrypt_payload, CoseOptions, EncryptedPayload, Recipient, MAX_RECIPIENTS,
};

use super::keys::{self, PublicKey};
use super::{read_file, AuthorError, Result};

/// How a public-key recipient receives the content key: a family of algorithms. A key
/// declared for one of the family's members (its `alg`, RFC 9052 §7.1) is used for that
/// member; a key without `alg` for the family's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// ECDH-ES + AES-KW: ECDH-ES+A128KW (the SUIT firmware-encryption profile), or
    /// ECDH-ES+A256KW for a key declared so.
    #[default]
    EcdhEs,
    /// COSE-HPKE key encryption: HPKE-0-KE (P-256, HKDF-SHA256, AES-128-GCM), or HPKE-7-KE
    /// (AES-256-GCM) for a key declared so.
    Hpke,
}

impl Mode {
    /// The member of this family a key declared for `declared` is used for: that one if it
    /// is a member, else the family's default (which [`keys::check_declared_alg`] then
    /// refuses for a key declared for anything else).
    fn member(self, declared: Option<i64>) -> Member {
        match (self, declared.and_then(RecipientAlgorithm::from_id)) {
            (Mode::EcdhEs, Some(RecipientAlgorithm::EcdhEs(wrap))) => Member::EcdhEs(wrap),
            (Mode::Hpke, Some(RecipientAlgorithm::Hpke(suite))) => Member::Hpke(suite),
            (Mode::EcdhEs, _) => Member::EcdhEs(KeyWrap::A128Kw),
            (Mode::Hpke, _) => Member::Hpke(HpkeSuite::Hpke0),
        }
    }
}

/// The algorithm a public-key recipient is encrypted for.
#[derive(Clone, Copy)]
enum Member {
    EcdhEs(KeyWrap),
    Hpke(HpkeSuite),
}

impl Member {
    fn id(self) -> i64 {
        match self {
            Member::EcdhEs(wrap) => RecipientAlgorithm::EcdhEs(wrap).id(),
            Member::Hpke(suite) => RecipientAlgorithm::Hpke(suite).id(),
        }
    }
}

impl Mode {
    /// Parses `ecdh-es` / `hpke`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ecdh-es" | "ecdh-es+a128kw" | "esdh" => Some(Mode::EcdhEs),
            "hpke" | "hpke-0-ke" | "cose-hpke" => Some(Mode::Hpke),
            _ => None,
        }
    }
}

/// The content algorithm names [`parse_content_alg`] takes, for messages.
pub const CONTENT_ALG_NAMES: &str = "A128GCM, A256GCM, A128CTR, A256CTR or ChaCha20/Poly1305";

/// Parses a content algorithm name, in any case: A128GCM, A256GCM, A128CTR, A256CTR, or
/// ChaCha20/Poly1305 (COSE's name; also ChaCha20-Poly1305 and ChaCha20Poly1305).
pub fn parse_content_alg(s: &str) -> Option<ContentAlgorithm> {
    Some(match s.to_ascii_uppercase().as_str() {
        "A128GCM" => ContentAlgorithm::A128Gcm,
        "A256GCM" => ContentAlgorithm::A256Gcm,
        "A128CTR" => ContentAlgorithm::A128Ctr,
        "A256CTR" => ContentAlgorithm::A256Ctr,
        "CHACHA20/POLY1305" | "CHACHA20-POLY1305" | "CHACHA20POLY1305" => {
            ContentAlgorithm::ChaCha20Poly1305
        }
        _ => return None,
    })
}

/// One recipient, as given on the command line or in a description file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientSpec {
    /// A device's P-256 public key (PEM SPKI, COSE_Key or JWK).
    PublicKey {
        /// Key file.
        path: PathBuf,
        /// Key distribution.
        mode: Mode,
        /// Key id to send (default: the file's kid, if any).
        kid: Option<Vec<u8>>,
    },
    /// A pre-shared AES key-encryption key (16 bytes: A128KW, 32: A256KW; raw or COSE_Key).
    Kek {
        /// Key file.
        path: PathBuf,
        /// Key id to send (default: the file's kid, if any).
        kid: Option<Vec<u8>>,
    },
}

enum Loaded {
    Public(p256::PublicKey, Member, Option<Vec<u8>>),
    Kek(Zeroizing<Vec<u8>>, Option<Vec<u8>>),
}

fn pick_kid(given: &Option<Vec<u8>>, file: Vec<u8>) -> Option<Vec<u8>> {
    given.clone().or((!file.is_empty()).then_some(file))
}

fn load(spec: &RecipientSpec) -> Result<Loaded> {
    match spec {
        RecipientSpec::PublicKey { path, mode, kid } => {
            let k = keys::load_public(path)?;
            let member = mode.member(k.alg);
            keys::check_declared_alg(path, k.alg, member.id())?;
            match k.key {
                PublicKey::P256(pk) => Ok(Loaded::Public(pk, member, pick_kid(kid, k.kid))),
                other => Err(AuthorError::key(
                    path,
                    format!(
                        "recipients must be P-256 keys; {} cannot receive an encrypted payload",
                        other.type_name()
                    ),
                )),
            }
        }
        RecipientSpec::Kek { path, kid } => {
            let k = keys::load_symmetric(path, &[16, 32], "KEK (A128KW / A256KW)")?;
            if let Some(wrap) = KeyWrap::for_kek_len(k.secret.len()) {
                keys::check_declared_alg(path, k.alg, RecipientAlgorithm::AesKw(wrap).id())?;
            }
            Ok(Loaded::Kek(k.secret, pick_kid(kid, k.kid)))
        }
    }
}

/// Encrypts `plaintext` once for all `recipients`.
pub fn encrypt_for(
    plaintext: &[u8],
    content: ContentAlgorithm,
    recipients: &[RecipientSpec],
) -> Result<EncryptedPayload> {
    if recipients.is_empty() {
        return Err(AuthorError::Usage(
            "encryption needs at least one recipient (public key or KEK)".into(),
        ));
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(AuthorError::Usage(format!(
            "{} recipients: devices accept at most {MAX_RECIPIENTS} in one COSE_Encrypt \
             (suit_common::encryption::MAX_RECIPIENTS); encrypt separately for the others",
            recipients.len()
        )));
    }
    let loaded = recipients.iter().map(load).collect::<Result<Vec<_>>>()?;
    let list: Vec<Recipient<'_>> = loaded
        .iter()
        .map(|l| match l {
            Loaded::Public(pk, Member::EcdhEs(wrap), kid) => Recipient::EcdhEs {
                kid: kid.as_deref(),
                public_key: pk,
                wrap: *wrap,
            },
            Loaded::Public(pk, Member::Hpke(suite), kid) => Recipient::Hpke {
                kid: kid.as_deref(),
                public_key: pk,
                suite: *suite,
                psk: None,
            },
            Loaded::Kek(kek, kid) => Recipient::AesKw {
                kid: kid.as_deref(),
                kek,
            },
        })
        .collect();
    encrypt_payload(
        plaintext,
        content,
        &list,
        &CoseOptions::SUIT,
        &mut super::os_rng(),
    )
    .map_err(|e| AuthorError::Create(format!("encryption failed: {e}")))
}

/// Refuses a payload no device takes, before it is encrypted: what a device receives of
/// `file` (its plaintext of `plaintext_len` bytes, or encrypted with `content` the ciphertext,
/// longer by the AEAD tag) must fit the engine's one payload limit
/// ([`MAX_PAYLOAD_LEN`](suit_common::suit::interpreter::MAX_PAYLOAD_LEN)), or `verify
/// --process` and every device refuse the update. Every command that emits a payload checks
/// here (`create`, integrated or detached; `encrypt`).
pub fn check_deliverable(
    file: &Path,
    plaintext_len: usize,
    content: Option<ContentAlgorithm>,
) -> Result<()> {
    use suit_common::suit::interpreter::MAX_PAYLOAD_LEN;
    let tag = content.map_or(0, ContentAlgorithm::tag_len);
    let delivered = (plaintext_len as u64).saturating_add(tag as u64);
    if delivered <= MAX_PAYLOAD_LEN {
        return Ok(());
    }
    let what = if tag == 0 {
        format!("{delivered} bytes")
    } else {
        format!(
            "its ciphertext would be {delivered} bytes ({plaintext_len} of plaintext and a \
             {tag}-byte tag)"
        )
    };
    Err(AuthorError::input(
        file,
        format!(
            "{what}, more than the {MAX_PAYLOAD_LEN} bytes a device takes as one payload; \
             nothing was written"
        ),
    ))
}

/// `suit-author encrypt`: encrypts a file and writes the encryption info and ciphertext.
/// `key_list`: the `--recipient-list` file the recipients came from (an input too).
pub fn encrypt_file(
    payload: &Path,
    content: ContentAlgorithm,
    recipients: &[RecipientSpec],
    key_list: Option<&Path>,
    (info_out, ciphertext_out): (&Path, &Path),
) -> Result<EncryptedPayload> {
    let mut inputs = vec![payload.to_path_buf()];
    inputs.extend(key_list.map(Path::to_path_buf));
    inputs.extend(recipients.iter().map(|r| match r {
        RecipientSpec::PublicKey { path, .. } | RecipientSpec::Kek { path, .. } => path.clone(),
    }));
    super::check_outputs(
        &[
            (info_out.to_path_buf(), "the encryption info".into()),
            (ciphertext_out.to_path_buf(), "the ciphertext".into()),
        ],
        &inputs,
    )?;
    let plaintext = Zeroizing::new(read_file(payload)?);
    check_deliverable(payload, plaintext.len(), Some(content))?;
    let e = encrypt_for(&plaintext, content, recipients)?;
    // Both written before either is renamed, the encryption info renamed last
    // (`write_files`): a failure before that leaves both old files; one between the renames
    // leaves the old info beside the new ciphertext (which it does not decrypt), never new
    // info beside an old ciphertext.
    super::write_files(&[
        super::output(ciphertext_out, &e.ciphertext),
        super::output(info_out, &e.encryption_info),
    ])?;
    Ok(e)
}

/// A fleet's recipient keys: one public key file per line (relative to the list; `#` starts a
/// comment). Reading stops one past the device limit, so an oversized list is refused by
/// the recipient bound without loading every key.
pub fn read_key_list(list: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let text = super::read_text_file(list)?;
    crate::files::check_is_list(
        list,
        &text,
        "a list of key files, one per line (a single key is given with --recipient, or as a \
         recipient's \"key\")",
    )?;
    let base = list.parent().unwrap_or(std::path::Path::new("."));
    let keys: Vec<std::path::PathBuf> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .take(MAX_RECIPIENTS + 1)
        .map(|l| base.join(l))
        .collect();
    if keys.is_empty() {
        return Err(AuthorError::input(list, "lists no key"));
    }
    if keys.len() > MAX_RECIPIENTS {
        return Err(AuthorError::Usage(format!(
            "{}: more than {MAX_RECIPIENTS} keys; devices accept at most {MAX_RECIPIENTS} \
             recipients in one COSE_Encrypt (suit_common::encryption::MAX_RECIPIENTS): split the \
             fleet and encrypt separately for the others",
            list.display()
        )));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use suit_common::suit::interpreter::MAX_PAYLOAD_LEN;

    const ALGS: [ContentAlgorithm; 5] = [
        ContentAlgorithm::A128Gcm,
        ContentAlgorithm::A256Gcm,
        ContentAlgorithm::A128Ctr,
        ContentAlgorithm::A256Ctr,
        ContentAlgorithm::ChaCha20Poly1305,
    ];

    /// [`check_deliverable`] judges the ciphertext before it exists: its length must be the
    /// plaintext's plus [`ContentAlgorithm::tag_len`] for every content algorithm.
    #[test]
    fn a_ciphertext_is_its_plaintext_plus_the_tag() {
        let dir = tempfile::tempdir().unwrap();
        let kek = dir.path().join("kek.bin");
        std::fs::write(&kek, [7u8; 16]).unwrap();
        let to = [RecipientSpec::Kek {
            path: kek,
            kid: None,
        }];
        for alg in ALGS {
            let e = encrypt_for(b"seventeen bytes!!", alg, &to).unwrap();
            assert_eq!(e.ciphertext.len(), 17 + alg.tag_len(), "{alg:?}");
        }
    }

    /// The limit is the device's, to the byte: plaintext up to it, a ciphertext up to it.
    #[test]
    fn a_payload_fits_up_to_the_device_limit() {
        let file = Path::new("fw.bin");
        let max = usize::try_from(MAX_PAYLOAD_LEN).unwrap();
        assert!(check_deliverable(file, max, None).is_ok());
        assert!(check_deliverable(file, max + 1, None).is_err());
        for alg in ALGS {
            let fits = max - alg.tag_len();
            assert!(check_deliverable(file, fits, Some(alg)).is_ok(), "{alg:?}");
            let e = check_deliverable(file, fits + 1, Some(alg)).unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("{} bytes", MAX_PAYLOAD_LEN + 1)),
                "{alg:?}: {e}"
            );
        }
    }
}
