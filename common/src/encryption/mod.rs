//! Payload decryption (and, with feature `author`, encryption) for SUIT firmware encryption
//! (draft-ietf-suit-firmware-encryption) and COSE-HPKE (draft-ietf-cose-hpke).
//!
//! A `SUIT_Encryption_Info` is a COSE_Encrypt (tag 96) with detached ciphertext. Its
//! recipients carry the content-encryption key (CEK) wrapped for the device by one of:
//! A128KW/A256KW with a pre-shared KEK, ECDH-ES+A128KW/A256KW with a P-256 device key
//! (HKDF-SHA256, SUIT COSE_KDF_Context), or COSE-HPKE key encryption (HPKE-0-KE, HPKE-7-KE).
//! The payload itself is AES-GCM or AES-CTR, or ChaCha20/Poly1305: the author side
//! (feature `author`) always encrypts it, decryption needs feature `chacha20` (device policy;
//! without it `UnsupportedContentAlgorithm(24)`, the TA's case).
//!
//! [`PayloadDecryptor`] streams the payload in constant memory. **Its output is not
//! authentic until [`PayloadDecryptor::finish`] returns `Ok`** (GCM and ChaCha20/Poly1305
//! check their tag there; CTR checks nothing): stage the plaintext, and commit it only after
//! `finish` *and* the manifest's image digest succeed. Discard everything on any error.
//!
//! Device keys are reached only through [`DeviceKeys`], so private keys can stay inside the
//! TA's key store. Algorithm identifiers live in [`algorithms`] (the provisional COSE-HPKE
//! ids included).

pub mod algorithms;
#[cfg(feature = "author")]
mod author;
pub mod content;
mod cose;
mod error;
mod integrated;
pub mod keys;
pub mod recipient;

use alloc::vec::Vec;
use zeroize::Zeroizing;

use algorithms::{header, ContentAlgorithm, SUIT_KDF_OTHER};
use content::GCM_IV_LEN;
use cose::{enc_structure, malformed, CoseEncrypt, Headers};

#[cfg(feature = "author")]
pub use author::{
    encrypt_integrated, encrypt_payload, EncryptedPayload, PayloadEncryptor, Psk, Recipient,
};
pub use cose::{MAX_DEPTH, MAX_INFO_LEN, MAX_INTEGRATED_LEN, MAX_RECIPIENTS};
#[cfg(feature = "author")]
pub use error::EncryptError;
pub use error::{DecryptError, KeyError, Location, Problem};
pub use integrated::{decrypt_integrated, seal_integrated_hpke0};
pub use keys::{
    DeviceKeys, EcdhSecret, HpkeOpen, KeyKind, KeyRef, MemoryKeys, Metered, SecretBytes,
};

/// Inputs COSE takes from outside the message. [`CoseOptions::SUIT`] (the default) is what
/// SUIT firmware encryption prescribes; the other fields exist for COSE-HPKE profiles and
/// interoperability testing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoseOptions<'a> {
    /// `external_aad` of the layer-0 Enc_structure (SUIT: empty).
    pub external_aad: &'a [u8],
    /// SuppPubInfo `other` of the ECDH-ES COSE_KDF_Context (SUIT: "SUIT Payload
    /// Encryption"; plain RFC 9053: absent).
    pub ecdh_kdf_other: Option<&'a [u8]>,
    /// COSE-HPKE: `recipient_extra_info` (key encryption) or HPKE `info` (integrated).
    pub hpke_info: &'a [u8],
    /// COSE-HPKE key encryption: the HPKE `aad` (SHOULD be empty).
    pub hpke_aad: &'a [u8],
}

impl CoseOptions<'static> {
    /// The SUIT firmware encryption profile.
    pub const SUIT: Self = Self {
        external_aad: b"",
        ecdh_kdf_other: Some(SUIT_KDF_OTHER),
        hpke_info: b"",
        hpke_aad: b"",
    };
    /// Plain RFC 9052/9053 COSE (no SUIT KDF `other`).
    pub const COSE: Self = Self {
        external_aad: b"",
        ecdh_kdf_other: None,
        hpke_info: b"",
        hpke_aad: b"",
    };
}

impl Default for CoseOptions<'static> {
    fn default() -> Self {
        Self::SUIT
    }
}

/// The layer-0 algorithm and IV, validated before any key is touched.
fn content_params(h: &Headers) -> Result<(ContentAlgorithm, &[u8]), DecryptError> {
    let alg = h.alg().ok_or(malformed(
        Location::Protected,
        Problem::MissingHeader(header::ALG),
    ))?;
    let alg =
        ContentAlgorithm::from_id(alg).ok_or(DecryptError::UnsupportedContentAlgorithm(alg))?;
    // Device policy: ChaCha20/Poly1305 only with feature `chacha20` (never in the TA).
    if alg == ContentAlgorithm::ChaCha20Poly1305 && !cfg!(feature = "chacha20") {
        return Err(DecryptError::UnsupportedContentAlgorithm(alg.id()));
    }
    // SUIT firmware encryption: a non-AEAD cipher has nothing to bind a protected header to.
    // An empty one written as h'a0' carries no parameter (the draft's CDDL allows it, RFC 9052
    // §3 lets senders write an empty bucket so) and is accepted like h''.
    if !alg.is_aead() && !h.protected_is_empty() {
        return Err(malformed(Location::Protected, Problem::ProtectedNotEmpty));
    }
    let iv = h.iv().ok_or(malformed(
        Location::Unprotected,
        Problem::MissingHeader(header::IV),
    ))?;
    let iv_ok = match alg {
        // RFC 8439 / RFC 9053 §4.3: a 96-bit nonce, nothing else.
        ContentAlgorithm::ChaCha20Poly1305 => iv.len() == 12,
        _ if alg.is_aead() => GCM_IV_LEN.contains(&iv.len()),
        _ => iv.len() == 16,
    };
    if !iv_ok {
        let at = if h.protected.iv.is_some() {
            Location::Protected
        } else {
            Location::Unprotected
        };
        return Err(malformed(at, Problem::IvLength(iv.len())));
    }
    Ok((alg, iv))
}

enum State {
    /// The installed [`crate::crypto`] provider's AES-GCM or AES-CTR stream, or (feature
    /// `chacha20`) RustCrypto's ChaCha20/Poly1305, which is not part of the provider seam: no
    /// platform back end decrypts it, and the TA does not build it.
    Stream(alloc::boxed::Box<dyn crate::crypto::StreamDecrypt>),
    Failed,
}

/// The ChaCha20/Poly1305 stream (feature `chacha20`).
#[cfg(feature = "chacha20")]
fn chacha_poly(key: &[u8], iv: &[u8], aad: &[u8]) -> Result<State, DecryptError> {
    Ok(State::Stream(alloc::boxed::Box::new(
        content::AeadDecryptor::chacha20_poly1305(key, iv, aad)?,
    )))
}

/// Without feature `chacha20` ChaCha20/Poly1305 is refused (device policy); `content_params`
/// already refused it before any key was touched, this keeps it from reaching another cipher.
#[cfg(not(feature = "chacha20"))]
fn chacha_poly(_key: &[u8], _iv: &[u8], _aad: &[u8]) -> Result<State, DecryptError> {
    Err(DecryptError::UnsupportedContentAlgorithm(
        algorithms::id::CHACHA20_POLY1305,
    ))
}

/// Streaming decryption of a detached SUIT payload.
///
/// Memory use is independent of the payload size: besides the output of each call, the
/// decryptor keeps the cipher state and at most the 16 bytes that may be the GCM tag.
///
/// **Contract:** plaintext from [`update`](Self::update) is *unauthenticated* until
/// [`finish`](Self::finish) returns `Ok`. Write it to a staging area only; commit after
/// `finish` and the manifest's image digest check both succeed; on any error discard it.
/// With AES-CTR `finish` verifies nothing and the image digest is the only integrity check.
pub struct PayloadDecryptor {
    algorithm: ContentAlgorithm,
    state: State,
    key_check: [u8; 32],
}

impl core::fmt::Debug for PayloadDecryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PayloadDecryptor")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl PayloadDecryptor {
    /// Parses `encryption_info` (SUIT_Encryption_Info: COSE_Encrypt, tag 96, detached
    /// ciphertext), recovers the CEK through `keys` and prepares decryption, with the SUIT
    /// profile ([`CoseOptions::SUIT`]).
    pub fn new(
        encryption_info: &[u8],
        keys: &dyn DeviceKeys,
    ) -> Result<PayloadDecryptor, DecryptError> {
        Self::with_options(encryption_info, keys, &CoseOptions::SUIT)
    }

    /// [`new`](Self::new) with explicit external inputs.
    pub fn with_options(
        encryption_info: &[u8],
        keys: &dyn DeviceKeys,
        options: &CoseOptions<'_>,
    ) -> Result<PayloadDecryptor, DecryptError> {
        let msg = CoseEncrypt::decode(encryption_info)?;
        if msg.ciphertext.is_some() {
            return Err(malformed(
                Location::Ciphertext,
                Problem::CiphertextPlacement,
            ));
        }
        Self::from_message(&msg, keys, options)
    }

    fn from_message(
        msg: &CoseEncrypt,
        keys: &dyn DeviceKeys,
        options: &CoseOptions<'_>,
    ) -> Result<Self, DecryptError> {
        let crypto = crate::crypto::provider();
        let (algorithm, iv) = content_params(&msg.headers)?;
        let cek = recipient::recover_cek(msg, algorithm, keys, options)?;
        let state = if algorithm.is_aead() {
            let aad = enc_structure(
                "Encrypt",
                &msg.headers.protected_bytes,
                options.external_aad,
            )?;
            match algorithm {
                ContentAlgorithm::ChaCha20Poly1305 => chacha_poly(cek.as_bytes(), iv, &aad)?,
                _ => State::Stream(crypto.aes_gcm.decryptor(cek.as_bytes(), iv, &aad)?),
            }
        } else {
            State::Stream(crypto.aes_ctr.decryptor(cek.as_bytes(), iv)?)
        };
        // Names the CEK without revealing it, so that two decryptors can be compared.
        let mut check = crypto.sha256.start();
        check.update(b"suit payload decryptor key check");
        check.update(cek.as_bytes());
        Ok(Self {
            algorithm,
            state,
            key_check: check.finish(),
        })
    }

    /// A one-way check value of the content key (SHA-256 over a fixed label and the CEK):
    /// equal for two decryptors exactly when they decrypt with the same key. It stays inside
    /// the TA, as the key does.
    pub fn key_check(&self) -> &[u8; 32] {
        &self.key_check
    }

    /// The layer-0 algorithm; [`ContentAlgorithm::is_aead`] tells whether `finish`
    /// authenticates anything.
    pub fn algorithm(&self) -> ContentAlgorithm {
        self.algorithm
    }

    /// Decrypts the next chunk of ciphertext (any size, including empty or 1 byte) and
    /// returns the plaintext available so far. **Unauthenticated until `finish`.**
    pub fn update(&mut self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        let result = match &mut self.state {
            State::Stream(d) => d.update(ciphertext),
            State::Failed => Err(DecryptError::Poisoned),
        };
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    /// [`update`](Self::update) of `buf` where it lies, if the crypto provider can (see
    /// [`crate::crypto::StreamDecrypt::update_in_place`]). **Unauthenticated until `finish`.**
    pub fn update_in_place(
        &mut self,
        buf: &mut [u8],
    ) -> Result<crate::crypto::Released, DecryptError> {
        let result = match &mut self.state {
            State::Stream(d) => d.update_in_place(buf),
            State::Failed => Err(DecryptError::Poisoned),
        };
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    /// Ends the stream. For AES-GCM and ChaCha20/Poly1305 verifies the tag:
    /// [`DecryptError::TagMismatch`] or [`DecryptError::Truncated`] mean every byte returned
    /// so far must be discarded.
    /// Returns any remaining plaintext (empty with RustCrypto; a GP TEE back end may hold
    /// back a partial block until here).
    pub fn finish(self) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        match self.state {
            State::Stream(d) => d.finish(),
            State::Failed => Err(DecryptError::Poisoned),
        }
    }
}

/// One-shot decryption of a COSE_Encrypt whose ciphertext is either attached or passed as
/// `detached` (exactly one of the two). Convenient for small payloads and tests; the whole
/// plaintext is returned only after the tag has been verified.
pub fn decrypt(
    cose_encrypt: &[u8],
    detached: Option<&[u8]>,
    keys: &dyn DeviceKeys,
    options: &CoseOptions<'_>,
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    let msg = CoseEncrypt::decode(cose_encrypt)?;
    let ciphertext = match (&msg.ciphertext, detached) {
        (Some(c), None) => c.as_slice(),
        (None, Some(d)) => d,
        _ => {
            return Err(malformed(
                Location::Ciphertext,
                Problem::CiphertextPlacement,
            ))
        }
    };
    let mut d = PayloadDecryptor::from_message(&msg, keys, options)?;
    let first = d.update(ciphertext)?;
    let last = d.finish()?;
    // Sized once: growing `first` in place would free its plaintext unwiped.
    let mut out = Zeroizing::new(Vec::with_capacity(first.len().saturating_add(last.len())));
    out.extend_from_slice(&first);
    out.extend_from_slice(&last);
    Ok(out)
}

/// Recovers only the content-encryption key of a COSE_Encrypt, e.g. to re-encrypt or to
/// check a CEK against test vectors. Prefer [`PayloadDecryptor`], which never exposes it.
pub fn unwrap_content_key(
    cose_encrypt: &[u8],
    keys: &dyn DeviceKeys,
    options: &CoseOptions<'_>,
) -> Result<(ContentAlgorithm, SecretBytes), DecryptError> {
    let msg = CoseEncrypt::decode(cose_encrypt)?;
    let (algorithm, _) = content_params(&msg.headers)?;
    Ok((
        algorithm,
        recipient::recover_cek(&msg, algorithm, keys, options)?,
    ))
}
