//! ECDH-ES + HKDF-SHA256 + AES-KW (RFC 9053 §6.3.1) with the COSE_KDF_Context of RFC 9053
//! §5.2 as profiled by SUIT firmware encryption (nil party identities, SuppPubInfo.other =
//! "SUIT Payload Encryption").

use alloc::vec::Vec;
use hkdf::Hkdf;
use sha2::Sha256;

use crate::cbor::Encoder;
use crate::encryption::algorithms::KeyWrap;
use crate::encryption::cose::encoder;
use crate::encryption::error::DecryptError;
use crate::encryption::keys::{EcdhSecret, SecretBytes};

/// `PartyInfo = [identity, nonce, other]`, each a byte string or nil.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartyInfo<'a> {
    /// `identity`.
    pub identity: Option<&'a [u8]>,
    /// `nonce`.
    pub nonce: Option<&'a [u8]>,
    /// `other`.
    pub other: Option<&'a [u8]>,
}

/// COSE_KDF_Context for ECDH-ES+AxxxKW.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfContext<'a> {
    /// The key wrap the KEK is for (AlgorithmID and keyDataLength follow from it).
    pub wrap: KeyWrap,
    /// PartyUInfo.
    pub party_u: PartyInfo<'a>,
    /// PartyVInfo.
    pub party_v: PartyInfo<'a>,
    /// The recipient's serialised protected header (SuppPubInfo.protected).
    pub protected: &'a [u8],
    /// SuppPubInfo.other; SUIT requires [`crate::encryption::algorithms::SUIT_KDF_OTHER`].
    pub other: Option<&'a [u8]>,
}

fn opt_bytes(e: &mut Encoder, b: Option<&[u8]>) {
    match b {
        Some(b) => e.bytes(b),
        None => e.null(),
    };
}

fn party(e: &mut Encoder, p: &PartyInfo<'_>) {
    e.array(3);
    opt_bytes(e, p.identity);
    opt_bytes(e, p.nonce);
    opt_bytes(e, p.other);
}

impl KdfContext<'_> {
    /// The CBOR encoding used as HKDF `info`.
    pub fn encode(&self) -> Result<Vec<u8>, DecryptError> {
        let bits = self.wrap.kek_len() as u64 * 8;
        let mut e = encoder();
        e.array(4).int(self.wrap.id());
        party(&mut e, &self.party_u);
        party(&mut e, &self.party_v);
        e.array(2 + usize::from(self.other.is_some()))
            .uint(bits)
            .bytes(self.protected);
        if let Some(other) = self.other {
            e.bytes(other);
        }
        Ok(e.into_bytes())
    }
}

/// KEK = HKDF-SHA256(salt, Z, info = encoded context, L = KEK length).
pub fn derive_kek(
    z: &EcdhSecret,
    salt: Option<&[u8]>,
    context: &[u8],
    wrap: KeyWrap,
) -> SecretBytes {
    let mut kek = SecretBytes::new(alloc::vec![0; wrap.kek_len()]);
    // Expanding 16 or 32 bytes from SHA-256 cannot exceed HKDF's 255·32-byte limit.
    if Hkdf::<Sha256>::new(salt, z.as_bytes())
        .expand(context, kek.as_mut_bytes())
        .is_err()
    {
        return SecretBytes::new(Vec::new());
    }
    kek
}

/// Sender side: a fresh ephemeral key, the KEK it agrees with `recipient`, and the wrapped CEK.
#[cfg(feature = "author")]
pub(crate) fn wrap_for(
    recipient: &p256::PublicKey,
    context: &KdfContext<'_>,
    cek: &[u8],
    rng: &mut impl rand_core::CryptoRng,
) -> Result<(p256::PublicKey, Vec<u8>), crate::encryption::EncryptError> {
    use crate::encryption::EncryptError;
    use p256::elliptic_curve::Generate;
    let eph = p256::ecdh::EphemeralSecret::generate_from_rng(rng);
    let shared = eph.diffie_hellman(recipient);
    let z = EcdhSecret::from_slice(shared.raw_secret_bytes()).ok_or(EncryptError::InvalidKey)?;
    let info = context.encode().map_err(|_| EncryptError::Encoding)?;
    let kek = derive_kek(&z, None, &info, context.wrap);
    let wrapped = super::aes_kw::wrap(kek.as_bytes(), cek).ok_or(EncryptError::InvalidKey)?;
    Ok((eph.public_key(), wrapped))
}
