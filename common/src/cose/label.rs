//! The COSE registries' numbers this crate and the host tools read and write: one place for
//! header parameter labels, COSE_Key labels and values, and CBOR tags (RFC 9052, RFC 9053,
//! RFC 8778, draft-ietf-cose-hpke).

/// Header parameter labels (RFC 9052 §3.1, RFC 9053, draft-ietf-cose-hpke).
pub mod header {
    /// `alg`.
    pub const ALG: i64 = 1;
    /// `crit`.
    pub const CRIT: i64 = 2;
    /// `content type`.
    pub const CONTENT_TYPE: i64 = 3;
    /// `kid`.
    pub const KID: i64 = 4;
    /// `IV`.
    pub const IV: i64 = 5;
    /// `Partial IV`.
    pub const PARTIAL_IV: i64 = 6;
    /// `ephemeral key` (a COSE_Key), ECDH-ES.
    pub const EPHEMERAL_KEY: i64 = -1;
    /// `ek`, the HPKE encapsulated key. Provisional.
    pub const HPKE_EK: i64 = -4;
    /// `psk_id`, the HPKE pre-shared key identifier. Provisional.
    pub const HPKE_PSK_ID: i64 = -5;
    /// `salt` for the ECDH-ES HKDF.
    pub const SALT: i64 = -20;
    /// `PartyU identity`.
    pub const PARTY_U_IDENTITY: i64 = -21;
    /// `PartyU nonce`.
    pub const PARTY_U_NONCE: i64 = -22;
    /// `PartyU other`.
    pub const PARTY_U_OTHER: i64 = -23;
    /// `PartyV identity`.
    pub const PARTY_V_IDENTITY: i64 = -24;
    /// `PartyV nonce`.
    pub const PARTY_V_NONCE: i64 = -25;
    /// `PartyV other`.
    pub const PARTY_V_OTHER: i64 = -26;
}

/// COSE_Key labels (RFC 9052 §7, RFC 9053 §7, RFC 8778 §5) and the key type and curve values
/// this crate reads.
pub mod key {
    /// `kty`.
    pub const KTY: i64 = 1;
    /// `kid`.
    pub const KID: i64 = 2;
    /// `alg`.
    pub const ALG: i64 = 3;
    /// `key_ops`.
    pub const KEY_OPS: i64 = 4;
    /// `crv` (EC2, OKP).
    pub const CRV: i64 = -1;
    /// `k` (Symmetric).
    pub const K: i64 = -1;
    /// `pub` (HSS-LMS).
    pub const HSS_PUB: i64 = -1;
    /// `x` coordinate (EC2, OKP).
    pub const X: i64 = -2;
    /// `y` coordinate, or sign bit of a compressed point (EC2).
    pub const Y: i64 = -3;
    /// `d`, the private key (EC2, OKP).
    pub const D: i64 = -4;
    /// `kty` OKP.
    pub const KTY_OKP: i64 = 1;
    /// `kty` EC2.
    pub const KTY_EC2: i64 = 2;
    /// `kty` Symmetric.
    pub const KTY_SYMMETRIC: i64 = 4;
    /// `kty` HSS-LMS.
    pub const KTY_HSS_LMS: i64 = 5;
    /// `crv` P-256.
    pub const CRV_P256: i64 = 1;
    /// `crv` Ed25519.
    pub const CRV_ED25519: i64 = 6;
}

/// CBOR tags of COSE structures (RFC 9052 §2).
pub mod tag {
    /// COSE_Encrypt0.
    pub const COSE_ENCRYPT0: u64 = 16;
    /// COSE_Mac0.
    pub const COSE_MAC0: u64 = 17;
    /// COSE_Sign1.
    pub const COSE_SIGN1: u64 = 18;
    /// COSE_Encrypt.
    pub const COSE_ENCRYPT: u64 = 96;
    /// COSE_Mac.
    pub const COSE_MAC: u64 = 97;
    /// COSE_Sign.
    pub const COSE_SIGN: u64 = 98;
}
