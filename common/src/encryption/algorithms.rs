//! The one table of COSE identifiers this module understands.
//!
//! Every identifier payload encryption uses is named here (algorithm numbers come from the
//! registry; header and key labels are listed here). The
//! COSE-HPKE algorithm identifiers are still provisional ("TBD", the values the draft
//! assumes and its test vectors use); when IANA assigns the final values, change them in
//! [`crate::registry::CoseAlg`] and rebuild: [`id`] names its entries, nothing else holds the
//! numbers.

/// COSE algorithm identifiers (RFC 9053, RFC 9459, draft-ietf-cose-hpke).
pub mod id {
    use crate::registry::CoseAlg;

    /// AES-GCM, 128-bit key (RFC 9053).
    pub const A128GCM: i64 = CoseAlg::A128Gcm.value();
    /// AES-GCM, 256-bit key (RFC 9053).
    pub const A256GCM: i64 = CoseAlg::A256Gcm.value();
    /// AES-CTR, 128-bit key (RFC 9459).
    pub const A128CTR: i64 = CoseAlg::A128Ctr.value();
    /// AES-CTR, 256-bit key (RFC 9459).
    pub const A256CTR: i64 = CoseAlg::A256Ctr.value();
    /// ChaCha20/Poly1305, 256-bit key, 128-bit tag (RFC 9053 §4.3, RFC 8439).
    pub const CHACHA20_POLY1305: i64 = CoseAlg::ChaCha20Poly1305.value();
    /// AES key wrap, 128-bit KEK (RFC 9053).
    pub const A128KW: i64 = CoseAlg::A128Kw.value();
    /// AES key wrap, 256-bit KEK (RFC 9053).
    pub const A256KW: i64 = CoseAlg::A256Kw.value();
    /// ECDH ephemeral-static + HKDF-SHA256 + A128KW (RFC 9053).
    pub const ECDH_ES_A128KW: i64 = CoseAlg::EcdhEsA128Kw.value();
    /// ECDH ephemeral-static + HKDF-SHA256 + A256KW (RFC 9053).
    pub const ECDH_ES_A256KW: i64 = CoseAlg::EcdhEsA256Kw.value();
    /// HPKE-0 integrated encryption: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
    /// Provisional value from draft-ietf-cose-hpke.
    pub const HPKE_0: i64 = CoseAlg::Hpke0.value();
    /// HPKE-7 integrated encryption: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
    /// Provisional value from draft-ietf-cose-hpke.
    pub const HPKE_7: i64 = CoseAlg::Hpke7.value();
    /// HPKE-0-KE key encryption (same suite as [`HPKE_0`]). Provisional.
    pub const HPKE_0_KE: i64 = CoseAlg::Hpke0Ke.value();
    /// HPKE-7-KE key encryption (same suite as [`HPKE_7`]). Provisional.
    pub const HPKE_7_KE: i64 = CoseAlg::Hpke7Ke.value();
}

pub use crate::cose::label::{header, key, tag};

/// The `other` member of the COSE_KDF_Context SuppPubInfo that SUIT firmware encryption
/// mandates for ECDH-ES (draft-ietf-suit-firmware-encryption, "Context Information Structure").
pub const SUIT_KDF_OTHER: &[u8] = b"SUIT Payload Encryption";

/// Layer-0 (content) encryption algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentAlgorithm {
    /// AES-128-GCM; authenticated, the tag is the last 16 bytes of the ciphertext.
    A128Gcm,
    /// AES-256-GCM; authenticated, the tag is the last 16 bytes of the ciphertext.
    A256Gcm,
    /// AES-128-CTR; confidentiality only, integrity must come from the manifest's image digest.
    A128Ctr,
    /// AES-256-CTR; confidentiality only, integrity must come from the manifest's image digest.
    A256Ctr,
    /// ChaCha20/Poly1305 (RFC 8439); authenticated, the tag is the last 16 bytes of the
    /// ciphertext. Always created by the author side (feature `author`); decrypted only with
    /// feature `chacha20` (device policy: refused as unsupported without it, the TA's case).
    ChaCha20Poly1305,
}

impl ContentAlgorithm {
    /// Maps a COSE algorithm identifier.
    pub fn from_id(id: i64) -> Option<Self> {
        match id {
            id::A128GCM => Some(Self::A128Gcm),
            id::A256GCM => Some(Self::A256Gcm),
            id::A128CTR => Some(Self::A128Ctr),
            id::A256CTR => Some(Self::A256Ctr),
            id::CHACHA20_POLY1305 => Some(Self::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// The COSE algorithm identifier.
    pub fn id(self) -> i64 {
        match self {
            Self::A128Gcm => id::A128GCM,
            Self::A256Gcm => id::A256GCM,
            Self::A128Ctr => id::A128CTR,
            Self::A256Ctr => id::A256CTR,
            Self::ChaCha20Poly1305 => id::CHACHA20_POLY1305,
        }
    }

    /// Length of the content-encryption key in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::A128Gcm | Self::A128Ctr => 16,
            Self::A256Gcm | Self::A256Ctr | Self::ChaCha20Poly1305 => 32,
        }
    }

    /// Whether the algorithm authenticates the ciphertext (AEAD).
    pub fn is_aead(self) -> bool {
        matches!(self, Self::A128Gcm | Self::A256Gcm | Self::ChaCha20Poly1305)
    }

    /// How many bytes longer than its plaintext a ciphertext is: the authentication tag an
    /// AEAD appends (16 bytes for AES-GCM and ChaCha20/Poly1305), none for AES-CTR.
    pub fn tag_len(self) -> usize {
        if self.is_aead() {
            crate::encryption::content::GCM_TAG_LEN
        } else {
            0
        }
    }

    /// IV length the author side generates (GCM and ChaCha20/Poly1305: 96 bits as RFC 9053
    /// asks; CTR: a full 128-bit initial counter block as RFC 9459 asks).
    pub fn iv_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            16
        }
    }
}

/// AES key wrap variant (RFC 3394), used directly or after ECDH-ES.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyWrap {
    /// A128KW: 128-bit KEK.
    A128Kw,
    /// A256KW: 256-bit KEK.
    A256Kw,
}

impl KeyWrap {
    /// Length of the KEK in bytes.
    pub fn kek_len(self) -> usize {
        match self {
            Self::A128Kw => 16,
            Self::A256Kw => 32,
        }
    }

    /// The COSE identifier of the bare key wrap (A128KW/A256KW); also the COSE_KDF_Context
    /// AlgorithmID for ECDH-ES+AxxxKW.
    pub fn id(self) -> i64 {
        match self {
            Self::A128Kw => id::A128KW,
            Self::A256Kw => id::A256KW,
        }
    }

    /// The key wrap that takes a KEK of `len` bytes.
    pub fn for_kek_len(len: usize) -> Option<Self> {
        match len {
            16 => Some(Self::A128Kw),
            32 => Some(Self::A256Kw),
            _ => None,
        }
    }
}

/// HPKE ciphersuite; only the P-256 suites are implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HpkeSuite {
    /// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
    Hpke0,
    /// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
    Hpke7,
}

impl HpkeSuite {
    /// The integrated-encryption (COSE_Encrypt0) identifier.
    pub fn integrated_id(self) -> i64 {
        match self {
            Self::Hpke0 => id::HPKE_0,
            Self::Hpke7 => id::HPKE_7,
        }
    }

    /// The key-encryption (COSE_recipient) identifier.
    pub fn key_encryption_id(self) -> i64 {
        match self {
            Self::Hpke0 => id::HPKE_0_KE,
            Self::Hpke7 => id::HPKE_7_KE,
        }
    }

    /// Suite for an integrated-encryption identifier.
    pub fn from_integrated_id(alg: i64) -> Option<Self> {
        match alg {
            id::HPKE_0 => Some(Self::Hpke0),
            id::HPKE_7 => Some(Self::Hpke7),
            _ => None,
        }
    }

    /// Suite for a key-encryption identifier.
    pub fn from_key_encryption_id(alg: i64) -> Option<Self> {
        match alg {
            id::HPKE_0_KE => Some(Self::Hpke0),
            id::HPKE_7_KE => Some(Self::Hpke7),
            _ => None,
        }
    }
}

/// Content key distribution method of one COSE_recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecipientAlgorithm {
    /// AES-KW with a pre-shared KEK.
    AesKw(KeyWrap),
    /// ECDH-ES (P-256) + HKDF-SHA256 + AES-KW.
    EcdhEs(KeyWrap),
    /// COSE-HPKE key encryption.
    Hpke(HpkeSuite),
}

impl RecipientAlgorithm {
    /// Maps a COSE algorithm identifier.
    pub fn from_id(alg: i64) -> Option<Self> {
        match alg {
            id::A128KW => Some(Self::AesKw(KeyWrap::A128Kw)),
            id::A256KW => Some(Self::AesKw(KeyWrap::A256Kw)),
            id::ECDH_ES_A128KW => Some(Self::EcdhEs(KeyWrap::A128Kw)),
            id::ECDH_ES_A256KW => Some(Self::EcdhEs(KeyWrap::A256Kw)),
            _ => HpkeSuite::from_key_encryption_id(alg).map(Self::Hpke),
        }
    }

    /// The COSE algorithm identifier.
    pub fn id(self) -> i64 {
        match self {
            Self::AesKw(w) => w.id(),
            Self::EcdhEs(KeyWrap::A128Kw) => id::ECDH_ES_A128KW,
            Self::EcdhEs(KeyWrap::A256Kw) => id::ECDH_ES_A256KW,
            Self::Hpke(s) => s.key_encryption_id(),
        }
    }
}
