//! Creation of SUIT authentication blocks (author tool and tests only, feature `author`).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use coset::iana::EnumI64;
use coset::{
    CoseMac0Builder, CoseMacBuilder, CoseRecipientBuilder, CoseSign1Builder, CoseSignBuilder,
    CoseSignatureBuilder, HeaderBuilder, TaggedCborSerializable,
};
use zeroize::Zeroizing;

use super::{Algorithm, CoseError, KeyMaterial, VerificationKey};

/// A key that creates authentication blocks.
///
/// Every variant is one box, so the value the tools move around (into a `Vec` that grows, a
/// tuple, a map) is a tag and a pointer: no private key is ever in it, and no unused bytes
/// but the tag's padding (7) to carry a stale copy of one. With the keys inline (the enum as
/// large as its largest variant, 232 bytes), moving a P-256 key into its place carried a
/// stack copy of the scalar along in the bytes its variant does not use, and every outgrown
/// block of a `Vec` of keys held it raw, freed unwiped (NOTES sessions 43, 44-45). Each key is
/// moved once, into its own block, and wiped there when dropped (the key types' own `Drop`,
/// `Zeroizing`). Build them with the constructors.
pub enum SigningKey {
    /// P-256 private key (ES256 / ESP256; deterministic ECDSA, RFC 6979).
    P256(Box<p256::ecdsa::SigningKey>),
    /// Ed25519 private key.
    Ed25519(Box<ed25519_dalek::SigningKey>),
    /// Shared HMAC-SHA-256 key.
    Hmac256(Box<Zeroizing<Vec<u8>>>),
    /// A P-256 key held elsewhere (an HSM through PKCS#11): only its public half is here.
    P256External(Box<ExternalP256>),
    /// An HSS-LMS key whose state the caller keeps (the author tool: a locked key file).
    HssLms(Box<StatefulHssLms>),
}

// A tag and one pointer (the tag's padding, 7 bytes, is all a move can carry along): a
// variant that is not a box makes this fail to build.
const _: () = assert!(core::mem::size_of::<SigningKey>() == 2 * core::mem::size_of::<usize>());

/// Signs with an HSS-LMS key (COSE -46) whose private state lives with the caller: `sign`
/// gets the COSE ToBeSigned bytes and returns the HSS signature (RFC 8554 §6.2) only after
/// the advanced state is safely stored (see `hss_lms_sign`). What it returns is verified
/// against `public` before it goes into a block.
pub struct StatefulHssLms {
    /// The HSS public key (RFC 8554 §6.1).
    pub public: Vec<u8>,
    /// Makes the signature, advancing and storing the state first.
    #[allow(clippy::type_complexity)]
    pub sign: Box<dyn Fn(&[u8]) -> Result<Vec<u8>, CoseError>>,
}

/// Signs with a P-256 key the author tool cannot see: `sign` gets the COSE ToBeSigned bytes
/// and returns the raw `r || s` signature (64 bytes), as COSE carries it.
pub struct ExternalP256 {
    /// The key's public half (checks what `sign` returns).
    pub public: p256::ecdsa::VerifyingKey,
    /// Makes the signature (e.g. SHA-256 on the host, CKM_ECDSA in the token).
    #[allow(clippy::type_complexity)]
    pub sign: Box<dyn Fn(&[u8]) -> Result<Vec<u8>, CoseError>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<secret>)")
    }
}

impl SigningKey {
    /// A P-256 private key from its 32-byte scalar.
    pub fn p256(scalar: &[u8]) -> Result<Self, CoseError> {
        p256::ecdsa::SigningKey::from_slice(scalar)
            .map(|k| SigningKey::P256(Box::new(k)))
            .map_err(|_| CoseError::InvalidKey)
    }

    /// An Ed25519 private key from its 32-byte seed.
    pub fn ed25519(seed: &[u8]) -> Result<Self, CoseError> {
        let seed: &[u8; 32] = seed.try_into().map_err(|_| CoseError::InvalidKey)?;
        Ok(SigningKey::Ed25519(Box::new(
            ed25519_dalek::SigningKey::from_bytes(seed),
        )))
    }

    /// A shared HMAC-SHA-256 key.
    pub fn hmac256(secret: &[u8]) -> Result<Self, CoseError> {
        // Same length rules as verification.
        VerificationKey::hmac256(secret)?;
        Ok(SigningKey::Hmac256(Box::new(Zeroizing::new(
            secret.to_vec(),
        ))))
    }

    /// An HSS-LMS key whose state the caller keeps.
    pub fn hss_lms(key: StatefulHssLms) -> Self {
        SigningKey::HssLms(Box::new(key))
    }

    /// A P-256 key held elsewhere.
    pub fn p256_external(key: ExternalP256) -> Self {
        SigningKey::P256External(Box::new(key))
    }

    /// The key that verifies what this key creates.
    pub fn verification_key(&self) -> VerificationKey {
        match self {
            SigningKey::P256(k) => KeyMaterial::P256(*k.verifying_key()),
            SigningKey::Ed25519(k) => KeyMaterial::Ed25519(k.verifying_key()),
            SigningKey::Hmac256(s) => KeyMaterial::Hmac256((**s).clone()),
            SigningKey::P256External(e) => KeyMaterial::P256(e.public),
            SigningKey::HssLms(h) => KeyMaterial::HssLms(h.public.clone()),
        }
        .into()
    }

    fn sign(&self, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>, CoseError> {
        if !self.verification_key().supports(alg) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        match self {
            SigningKey::P256(k) => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = k.sign(message);
                Ok(sig.to_bytes().to_vec())
            }
            SigningKey::Ed25519(k) => {
                use ed25519_dalek::Signer;
                Ok(k.sign(message).to_bytes().to_vec())
            }
            SigningKey::Hmac256(s) => {
                use hmac::{KeyInit, Mac};
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(s)
                    .map_err(|_| CoseError::InvalidKey)?;
                mac.update(message);
                Ok(mac.finalize().into_bytes().to_vec())
            }
            SigningKey::P256External(e) => {
                // Whatever the token returned must verify under the key it claims to be.
                use p256::ecdsa::signature::Verifier;
                let raw = (e.sign)(message)?;
                let sig = p256::ecdsa::Signature::from_slice(&raw)
                    .map_err(|_| CoseError::SigningFailed)?;
                let sig = sig.normalize_s();
                e.public
                    .verify(message, &sig)
                    .map_err(|_| CoseError::SigningFailed)?;
                Ok(sig.to_bytes().to_vec())
            }
            SigningKey::HssLms(h) => {
                // The state is stored by now; a signature that does not verify under the
                // key's public half (a key file whose halves do not match) is not used.
                let sig = (h.sign)(message)?;
                super::key::hss_verify(message, &sig, &h.public)
                    .map_err(|_| CoseError::SigningFailed)?;
                Ok(sig)
            }
        }
    }
}

/// Creates a tagged COSE_Sign1 (or COSE_Mac0 for HMAC) over `detached_payload` with the
/// algorithm in the protected header and `kid` (if non-empty) in the unprotected header.
pub fn create_auth_block(
    key: &SigningKey,
    alg: Algorithm,
    kid: &[u8],
    detached_payload: &[u8],
) -> Result<Vec<u8>, CoseError> {
    let iana_alg =
        coset::iana::Algorithm::from_i64(alg.cose_id()).ok_or(CoseError::SigningFailed)?;
    let protected = HeaderBuilder::new().algorithm(iana_alg).build();
    let mut unprotected = HeaderBuilder::new();
    if !kid.is_empty() {
        unprotected = unprotected.key_id(kid.to_vec());
    }
    let unprotected = unprotected.build();
    let bytes = if alg.is_mac() {
        let mac = CoseMac0Builder::new()
            .protected(protected)
            .unprotected(unprotected)
            .payload(detached_payload.to_vec())
            .try_create_tag(&[], |tbm| key.sign(alg, tbm))?
            .build();
        let mut mac = mac;
        mac.payload = None;
        mac.to_tagged_vec()
    } else {
        CoseSign1Builder::new()
            .protected(protected)
            .unprotected(unprotected)
            .try_create_detached_signature(detached_payload, &[], |tbs| key.sign(alg, tbs))?
            .build()
            .to_tagged_vec()
    };
    bytes.map_err(|_| CoseError::SigningFailed)
}

/// Creates a tagged COSE_Sign (RFC 9052 §4.1) with one signature per `(key, alg, kid)`, over
/// `detached_payload`: each signature's algorithm in its protected header and `kid` (if
/// non-empty) in its unprotected header. When every signature has the same algorithm, the
/// body's protected header names it too, as the MTI draft's `SUIT_COSE_Sign<authid>` profile
/// form requires (a block mixing algorithms fits no single profile: its body headers stay
/// empty). Signature algorithms only (a MAC key goes into a COSE_Mac0 of its own).
pub fn create_cose_sign(
    signers: &[(&SigningKey, Algorithm, &[u8])],
    detached_payload: &[u8],
) -> Result<Vec<u8>, CoseError> {
    if signers.is_empty() || signers.len() > super::MAX_COSE_SIGNERS {
        return Err(CoseError::TooManySigners);
    }
    let mut builder = CoseSignBuilder::new();
    if let Some((_, first, _)) = signers.first() {
        if signers.iter().all(|(_, alg, _)| alg == first) {
            let iana_alg = coset::iana::Algorithm::from_i64(first.cose_id())
                .ok_or(CoseError::SigningFailed)?;
            builder = builder.protected(HeaderBuilder::new().algorithm(iana_alg).build());
        }
    }
    for (key, alg, kid) in signers {
        if alg.is_mac() {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        let iana_alg =
            coset::iana::Algorithm::from_i64(alg.cose_id()).ok_or(CoseError::SigningFailed)?;
        let mut unprotected = HeaderBuilder::new();
        if !kid.is_empty() {
            unprotected = unprotected.key_id(kid.to_vec());
        }
        let sig = CoseSignatureBuilder::new()
            .protected(HeaderBuilder::new().algorithm(iana_alg).build())
            .unprotected(unprotected.build())
            .build();
        builder = builder
            .try_add_detached_signature(sig, detached_payload, &[], |tbs| key.sign(*alg, tbs))?;
    }
    builder
        .build()
        .to_tagged_vec()
        .map_err(|_| CoseError::SigningFailed)
}

/// Creates a tagged COSE_Mac (RFC 9052 §6.1) over `detached_payload` with one recipient using
/// direct key distribution (alg -6, empty ciphertext) naming the shared key by `kid`: the
/// only COSE_Mac form a device with provisioned MAC keys can verify.
pub fn create_cose_mac(
    key: &SigningKey,
    alg: Algorithm,
    kid: &[u8],
    detached_payload: &[u8],
) -> Result<Vec<u8>, CoseError> {
    if !alg.is_mac() {
        return Err(CoseError::KeyAlgorithmMismatch);
    }
    let iana_alg =
        coset::iana::Algorithm::from_i64(alg.cose_id()).ok_or(CoseError::SigningFailed)?;
    let mut unprotected = HeaderBuilder::new().algorithm(coset::iana::Algorithm::Direct);
    if !kid.is_empty() {
        unprotected = unprotected.key_id(kid.to_vec());
    }
    let recipient = CoseRecipientBuilder::new()
        .unprotected(unprotected.build())
        .ciphertext(Vec::new())
        .build();
    let mut mac = CoseMacBuilder::new()
        .protected(HeaderBuilder::new().algorithm(iana_alg).build())
        .payload(detached_payload.to_vec())
        .add_recipient(recipient)
        .try_create_tag(&[], |tbm| key.sign(alg, tbm))?
        .build();
    mac.payload = None;
    mac.to_tagged_vec().map_err(|_| CoseError::SigningFailed)
}
