//! Creation side (feature `author`): encrypt a payload once for any number of recipients
//! (broadcast: one CEK, one ciphertext, one COSE_recipient per device) and emit the
//! SUIT_Encryption_Info with detached ciphertext; and COSE-HPKE integrated encryption.
//!
//! Randomness comes from the caller as a `rand_core` 0.10 [`CryptoRng`] (the `rand_core`
//! major shared by `p256` 0.14 and `hpke` 0.15); nothing here reaches for an OS RNG.

use alloc::vec::Vec;
use ciborium::value::Value;
use p256::elliptic_curve::sec1::ToSec1Point;
use rand_core::CryptoRng;

use super::algorithms::{
    header, key, tag, ContentAlgorithm, HpkeSuite, KeyWrap, RecipientAlgorithm,
};
use super::content::{AeadEncryptor, CtrCipher};
use super::cose::{enc_structure, encode};
use super::error::EncryptError;
use super::keys::SecretBytes;
use super::recipient::{aes_kw, ecdh_es, hpke};
use super::CoseOptions;

/// An HPKE pre-shared key and its identifier (sent as the protected `psk_id`).
#[derive(Clone, Copy)]
pub struct Psk<'a> {
    /// `psk_id`.
    pub id: &'a [u8],
    /// The PSK itself (at least 32 bytes of entropy).
    pub key: &'a [u8],
}

impl core::fmt::Debug for Psk<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Psk")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// One recipient of an encrypted payload.
#[derive(Clone, Copy)]
pub enum Recipient<'a> {
    /// A128KW (16-byte KEK) or A256KW (32-byte KEK).
    AesKw {
        /// `kid` sent in the unprotected header.
        kid: Option<&'a [u8]>,
        /// The pre-shared KEK.
        kek: &'a [u8],
    },
    /// ECDH-ES+A128KW / ECDH-ES+A256KW to a device's P-256 public key.
    EcdhEs {
        /// `kid` sent in the unprotected header.
        kid: Option<&'a [u8]>,
        /// The device's static public key.
        public_key: &'a p256::PublicKey,
        /// The key wrap after the key agreement.
        wrap: KeyWrap,
    },
    /// COSE-HPKE key encryption (HPKE-0-KE / HPKE-7-KE) to a device's P-256 public key.
    Hpke {
        /// `kid` sent in the protected header (bound into the HPKE key schedule).
        kid: Option<&'a [u8]>,
        /// The device's public key.
        public_key: &'a p256::PublicKey,
        /// Ciphersuite.
        suite: HpkeSuite,
        /// mode_psk if set.
        psk: Option<Psk<'a>>,
    },
}

impl core::fmt::Debug for Recipient<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (name, kid) = match self {
            Self::AesKw { kid, .. } => ("AesKw", kid),
            Self::EcdhEs { kid, .. } => ("EcdhEs", kid),
            Self::Hpke { kid, .. } => ("Hpke", kid),
        };
        f.debug_struct(name)
            .field("kid", kid)
            .finish_non_exhaustive()
    }
}

/// A SUIT_Encryption_Info and its detached ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedPayload {
    /// COSE_Encrypt (tag 96) with nil ciphertext.
    pub encryption_info: Vec<u8>,
    /// The ciphertext (for GCM and ChaCha20/Poly1305 with the 16-byte tag appended).
    pub ciphertext: Vec<u8>,
}

fn map(entries: Vec<(i64, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.into())
}

fn enc(v: &Value) -> Result<Vec<u8>, EncryptError> {
    encode(v).map_err(|_| EncryptError::Encoding)
}

fn random(len: usize, rng: &mut impl CryptoRng) -> SecretBytes {
    let mut s = SecretBytes::new(alloc::vec![0; len]);
    rng.fill_bytes(s.as_mut_bytes());
    s
}

/// Builds one COSE_recipient carrying `cek`.
fn recipient(
    r: &Recipient<'_>,
    content: ContentAlgorithm,
    cek: &[u8],
    opts: &CoseOptions<'_>,
    rng: &mut impl CryptoRng,
) -> Result<Value, EncryptError> {
    let (protected, unprotected, ciphertext) = match *r {
        Recipient::AesKw { kid, kek } => {
            let wrap = KeyWrap::for_kek_len(kek.len()).ok_or(EncryptError::InvalidKey)?;
            let mut u = alloc::vec![(header::ALG, Value::from(wrap.id()))];
            if let Some(kid) = kid {
                u.push((header::KID, bytes(kid)));
            }
            (
                Vec::new(),
                map(u),
                aes_kw::wrap(kek, cek).ok_or(EncryptError::InvalidKey)?,
            )
        }
        Recipient::EcdhEs {
            kid,
            public_key,
            wrap,
        } => {
            let alg = RecipientAlgorithm::EcdhEs(wrap).id();
            let protected = enc(&map(alloc::vec![(header::ALG, Value::from(alg))]))?;
            let context = ecdh_es::KdfContext {
                wrap,
                party_u: Default::default(),
                party_v: Default::default(),
                protected: &protected,
                other: opts.ecdh_kdf_other,
            };
            let (eph, wrapped) = ecdh_es::wrap_for(public_key, &context, cek, rng)?;
            let point = eph.to_sec1_point(false);
            let (x, y) = point
                .as_bytes()
                .get(1..)
                .ok_or(EncryptError::InvalidKey)?
                .split_at(32);
            let epk = map(alloc::vec![
                (key::KTY, Value::from(key::KTY_EC2)),
                (key::CRV, Value::from(key::CRV_P256)),
                (key::X, bytes(x)),
                (key::Y, bytes(y)),
            ]);
            let mut u = Vec::new();
            if let Some(kid) = kid {
                u.push((header::KID, bytes(kid)));
            }
            u.push((header::EPHEMERAL_KEY, epk));
            (protected, map(u), wrapped)
        }
        Recipient::Hpke {
            kid,
            public_key,
            suite,
            psk,
        } => {
            let mut p = alloc::vec![(header::ALG, Value::from(suite.key_encryption_id()))];
            if let Some(kid) = kid {
                p.push((header::KID, bytes(kid)));
            }
            if let Some(psk) = psk {
                p.push((header::HPKE_PSK_ID, bytes(psk.id)));
            }
            let protected = enc(&map(p))?;
            let info = hpke::recipient_structure(content.id(), &protected, opts.hpke_info)
                .map_err(|_| EncryptError::Encoding)?;
            let psk = psk.map(|p| (p.id, p.key));
            let (ek, ct) = hpke::seal_p256(public_key, suite, &info, opts.hpke_aad, cek, psk, rng)?;
            (
                protected,
                map(alloc::vec![(header::HPKE_EK, bytes(&ek))]),
                ct,
            )
        }
    };
    Ok(Value::Array(alloc::vec![
        bytes(&protected),
        unprotected,
        bytes(&ciphertext)
    ]))
}

// One per payload: the ~250-byte size difference does not justify a heap allocation.
#[allow(clippy::large_enum_variant)]
enum Cipher {
    Aead(AeadEncryptor),
    Ctr(CtrCipher),
}

/// Streaming payload encryption: build with [`PayloadEncryptor::new`], publish
/// [`encryption_info`](Self::encryption_info), then stream the payload through
/// [`update`](Self::update) and append what [`finish`](Self::finish) returns.
pub struct PayloadEncryptor {
    info: Vec<u8>,
    cipher: Cipher,
}

impl core::fmt::Debug for PayloadEncryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PayloadEncryptor").finish_non_exhaustive()
    }
}

impl PayloadEncryptor {
    /// Draws a fresh CEK and IV, wraps the CEK for every recipient and encodes the
    /// SUIT_Encryption_Info (detached ciphertext).
    pub fn new(
        content: ContentAlgorithm,
        recipients: &[Recipient<'_>],
        options: &CoseOptions<'_>,
        rng: &mut impl CryptoRng,
    ) -> Result<Self, EncryptError> {
        if recipients.is_empty() {
            return Err(EncryptError::NoRecipients);
        }
        let cek = random(content.key_len(), rng);
        let iv = random(content.iv_len(), rng);
        let (protected, unprotected) = if content.is_aead() {
            let p = enc(&map(alloc::vec![(header::ALG, Value::from(content.id()))]))?;
            (p, map(alloc::vec![(header::IV, bytes(iv.as_bytes()))]))
        } else {
            // SUIT: AES-CTR has no AAD, so the protected bucket stays empty.
            let u = alloc::vec![
                (header::ALG, Value::from(content.id())),
                (header::IV, bytes(iv.as_bytes()))
            ];
            (Vec::new(), map(u))
        };
        let mut list = Vec::with_capacity(recipients.len());
        for r in recipients {
            list.push(recipient(r, content, cek.as_bytes(), options, rng)?);
        }
        let info = enc(&Value::Tag(
            tag::COSE_ENCRYPT,
            alloc::boxed::Box::new(Value::Array(alloc::vec![
                bytes(&protected),
                unprotected,
                Value::Null,
                Value::Array(list),
            ])),
        ))?;
        let cipher = if content.is_aead() {
            // RFC 9052 §5.3: the same Enc_structure for every AEAD content layer.
            let aad = enc_structure("Encrypt", &protected, options.external_aad)
                .map_err(|_| EncryptError::Encoding)?;
            let aead = if content == ContentAlgorithm::ChaCha20Poly1305 {
                AeadEncryptor::chacha20_poly1305(cek.as_bytes(), iv.as_bytes(), &aad)
            } else {
                AeadEncryptor::aes_gcm(cek.as_bytes(), iv.as_bytes(), &aad)
            };
            Cipher::Aead(aead.map_err(|_| EncryptError::InvalidKey)?)
        } else {
            Cipher::Ctr(
                CtrCipher::new(cek.as_bytes(), iv.as_bytes())
                    .map_err(|_| EncryptError::InvalidKey)?,
            )
        };
        Ok(Self { info, cipher })
    }

    /// The SUIT_Encryption_Info (COSE_Encrypt, tag 96, nil ciphertext).
    pub fn encryption_info(&self) -> &[u8] {
        &self.info
    }

    /// Encrypts the next chunk.
    pub fn update(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
        match &mut self.cipher {
            Cipher::Aead(a) => a.update(plaintext),
            Cipher::Ctr(c) => c.apply(plaintext).map(|mut z| core::mem::take(&mut *z)),
        }
        .map_err(|_| EncryptError::PayloadTooLong)
    }

    /// Returns the bytes to append to the ciphertext (the GCM or Poly1305 tag; nothing for
    /// CTR).
    pub fn finish(self) -> Vec<u8> {
        match self.cipher {
            Cipher::Aead(a) => a.finish().to_vec(),
            Cipher::Ctr(_) => Vec::new(),
        }
    }
}

/// Encrypts `plaintext` once for all `recipients` (one CEK, one ciphertext).
pub fn encrypt_payload(
    plaintext: &[u8],
    content: ContentAlgorithm,
    recipients: &[Recipient<'_>],
    options: &CoseOptions<'_>,
    rng: &mut impl CryptoRng,
) -> Result<EncryptedPayload, EncryptError> {
    let mut e = PayloadEncryptor::new(content, recipients, options, rng)?;
    let mut ciphertext = e.update(plaintext)?;
    let encryption_info = core::mem::take(&mut e.info);
    ciphertext.extend_from_slice(&e.finish());
    Ok(EncryptedPayload {
        encryption_info,
        ciphertext,
    })
}

/// COSE-HPKE integrated encryption: a tagged COSE_Encrypt0 with attached ciphertext,
/// `alg` (HPKE-0 / HPKE-7), `kid` and `psk_id` protected, `ek` unprotected.
pub fn encrypt_integrated(
    plaintext: &[u8],
    suite: HpkeSuite,
    public_key: &p256::PublicKey,
    kid: Option<&[u8]>,
    psk: Option<Psk<'_>>,
    options: &CoseOptions<'_>,
    rng: &mut impl CryptoRng,
) -> Result<Vec<u8>, EncryptError> {
    let mut p = alloc::vec![(header::ALG, Value::from(suite.integrated_id()))];
    if let Some(kid) = kid {
        p.push((header::KID, bytes(kid)));
    }
    if let Some(psk) = psk {
        p.push((header::HPKE_PSK_ID, bytes(psk.id)));
    }
    let protected = enc(&map(p))?;
    let aad = enc_structure("Encrypt0", &protected, options.external_aad)
        .map_err(|_| EncryptError::Encoding)?;
    let psk = psk.map(|p| (p.id, p.key));
    let (ek, ct) = hpke::seal_p256(
        public_key,
        suite,
        options.hpke_info,
        &aad,
        plaintext,
        psk,
        rng,
    )?;
    enc(&Value::Tag(
        tag::COSE_ENCRYPT0,
        alloc::boxed::Box::new(Value::Array(alloc::vec![
            bytes(&protected),
            map(alloc::vec![(header::HPKE_EK, bytes(&ek))]),
            bytes(&ct),
        ])),
    ))
}
