//! COSE authentication primitives for SUIT authentication blocks.
//!
//! Verification of COSE_Sign1 (ES256 -7, ESP256 -9, EdDSA -8 / Ed25519 -19, HSS-LMS -46) and
//! COSE_Mac0 (HMAC 256/256, alg 5) over a *detached* payload, which is how SUIT uses them: the
//! payload is the bstr-wrapped SUIT_Digest. The algorithm is taken from the protected header
//! only and must agree with the key type (and with the `alg` a COSE_Key declares), so an
//! attacker cannot steer which primitive runs.
//!
//! Creation lives behind the `author` feature so the TA carries no signing code.

#[cfg(feature = "hss-lms")]
mod hss_sha256;
mod hss_shape;
#[cfg(all(feature = "author", feature = "hss-lms"))]
mod hss_sign;
mod key;
pub mod label;
#[cfg(feature = "author")]
mod sign;
mod verify;
pub(crate) mod wire;

#[cfg(all(feature = "author", feature = "hss-lms"))]
pub use hss_sign::{
    hss_lms_key_state, hss_lms_keygen, hss_lms_sign, hss_lms_verify, HssKeyState, HssLevel,
    HssSignError, HSS_MAX_LEVELS, HSS_MAX_TOTAL_HEIGHT, HSS_PRIVATE_KEY_LEN, HSS_PUBLIC_KEY_LEN,
};
pub(crate) use key::Prepared;
pub use key::{key_id, Ed25519Key, KeyMaterial, VerificationKey};
pub(crate) use key::{p256_point, Ec2Y};
#[cfg(feature = "author")]
pub use sign::{
    create_auth_block, create_cose_mac, create_cose_sign, ExternalP256, SigningKey, StatefulHssLms,
};
pub use verify::{
    verify_auth_block, AuthBlock, SignerEntry, Verifier, MAX_AUTH_BLOCK_ITEMS, MAX_COSE_SIGNERS,
};
pub use wire::{MAX_KID_LEN, MAX_PROTECTED_LEN};

use crate::registry::CoseAlg;

/// COSE algorithms this engine authenticates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (COSE -7).
    Es256,
    /// ECDSA P-256 with SHA-256, fully specified (COSE -9), the SUIT MTI choice.
    Esp256,
    /// EdDSA (COSE -8); only Ed25519 keys are accepted.
    EdDsa,
    /// Ed25519, fully specified (COSE -19).
    Ed25519,
    /// HSS-LMS with SHA-256/256 (COSE -46).
    HssLms,
    /// HMAC with SHA-256, 256-bit tag (COSE 5).
    Hmac256,
}

impl Algorithm {
    /// The algorithm's entry in the COSE registry.
    pub const fn cose_alg(self) -> CoseAlg {
        match self {
            Algorithm::Es256 => CoseAlg::Es256,
            Algorithm::Esp256 => CoseAlg::Esp256,
            Algorithm::EdDsa => CoseAlg::EdDsa,
            Algorithm::Ed25519 => CoseAlg::Ed25519,
            Algorithm::HssLms => CoseAlg::HssLms,
            Algorithm::Hmac256 => CoseAlg::Hmac256,
        }
    }

    /// The COSE algorithm identifier.
    pub const fn cose_id(self) -> i64 {
        self.cose_alg().value()
    }

    /// Maps a COSE algorithm identifier to a supported algorithm.
    pub fn from_cose_id(id: i64) -> Option<Self> {
        Some(match CoseAlg::from_value(id)? {
            CoseAlg::Es256 => Algorithm::Es256,
            CoseAlg::Esp256 => Algorithm::Esp256,
            CoseAlg::EdDsa => Algorithm::EdDsa,
            CoseAlg::Ed25519 => Algorithm::Ed25519,
            CoseAlg::HssLms => Algorithm::HssLms,
            CoseAlg::Hmac256 => Algorithm::Hmac256,
            _ => return None,
        })
    }

    /// The registered name (`ES256`, `ESP256`, ...).
    pub const fn name(self) -> &'static str {
        self.cose_alg().name()
    }

    /// Whether this build verifies the algorithm (the `hss-lms` and `ed25519` features:
    /// device policy, see CONFORMANCE.md); a block naming one that is not enabled is refused
    /// with [`CoseError::AlgorithmNotEnabled`].
    pub const fn enabled(self) -> bool {
        let hss = cfg!(feature = "hss-lms") || !matches!(self, Algorithm::HssLms);
        let ed =
            cfg!(feature = "ed25519") || !matches!(self, Algorithm::EdDsa | Algorithm::Ed25519);
        hss && ed
    }

    /// True for MAC algorithms (COSE_Mac0), false for signatures (COSE_Sign1).
    pub fn is_mac(self) -> bool {
        matches!(self, Algorithm::Hmac256)
    }
}

/// Why a COSE structure or key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoseError {
    /// Not well-formed CBOR or not the COSE structure it claims to be.
    Malformed,
    /// A COSE structure SUIT allows but this engine does not implement (COSE_Sign, COSE_Mac:
    /// multiple signers/recipients), identified by its CBOR tag.
    UnsupportedStructure(u64),
    /// The protected header carries no algorithm.
    MissingAlgorithm,
    /// An algorithm this engine does not implement.
    UnsupportedAlgorithm(i64),
    /// The key cannot be used with the block's algorithm: another key type, or its COSE_Key
    /// declares another `alg` (RFC 9052 §7.1).
    KeyAlgorithmMismatch,
    /// The block carries its payload inline; SUIT requires a detached payload.
    PayloadNotDetached,
    /// The signature or tag does not verify.
    VerificationFailed,
    /// Key material is malformed (bad point, wrong length, unknown curve).
    InvalidKey,
    /// The protected header lists critical parameters this engine does not understand.
    UnknownCriticalHeader,
    /// Signing failed (author side only).
    SigningFailed,
    /// A COSE_Sign with more signatures, or a COSE_Mac with more recipients, than
    /// [`MAX_COSE_SIGNERS`].
    TooManySigners,
    /// A COSE_Mac recipient with a key distribution other than "direct" (alg -6), given.
    UnsupportedRecipient(i64),
    /// An algorithm this engine implements but this build leaves out (device policy: the
    /// `hss-lms` and `ed25519` features of suit-common / suit-ta), given.
    AlgorithmNotEnabled(i64),
    /// A protected header longer than [`MAX_PROTECTED_LEN`] or a `kid` longer than
    /// [`MAX_KID_LEN`] (device policy: bounds what an unauthenticated block costs).
    HeaderTooLarge,
}
