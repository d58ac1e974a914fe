//! The crypto-provider seam: the primitives the engine runs on hot paths,
//! behind traits, so a platform can substitute its own implementation per operation.
//!
//! Modelled on rustls's `CryptoProvider`: a [`CryptoProvider`] is a plain struct of
//! `&'static dyn` operations, so a platform composes one from several back ends (one per
//! operation, chosen from measurements) and installs it once with [`install_default`] before
//! the first use; [`provider`] returns it, or [`RUSTCRYPTO`] if none was installed. The TA
//! composes OP-TEE's GP TEE Internal Core API and RustCrypto this way (ta/src/crypto.rs has
//! the table and the numbers); the host tools and the simulator keep RustCrypto.
//!
//! Only what the engine needs is here: SHA-256 (digests, streamed over payloads), AES-GCM and
//! AES-CTR streaming decryption (payload layer 0), P-256 ECDSA verification of a SHA-256
//! prehash (COSE ES256) and P-256 ECDH (ECDH-ES recipients). HPKE keeps the `hpke` crate's own
//! primitives (its KEM runs inside that crate). No primitive is implemented here.

pub mod bench;
mod rustcrypto;

use alloc::boxed::Box;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::encryption::DecryptError;

pub use rustcrypto::{
    RustCryptoAesCtr, RustCryptoAesGcm, RustCryptoEcdh, RustCryptoEcdsa, RustCryptoSha256,
};

/// An incremental SHA-256 computation.
pub trait Sha256Hash {
    /// Absorbs the next chunk.
    fn update(&mut self, data: &[u8]);
    /// The digest of everything absorbed.
    fn finish(self: Box<Self>) -> [u8; 32];
}

/// Starts SHA-256 computations.
pub trait Sha256Op: Sync {
    fn start(&self) -> Box<dyn Sha256Hash>;
}

/// A streaming decryption. **Output of `update` is unauthenticated until `finish` is `Ok`**
/// (see [`crate::encryption::content`] for the staging contract).
pub trait StreamDecrypt {
    /// Decrypts the next chunk of the input stream (any size) and returns the plaintext
    /// available so far.
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError>;
    /// [`update`](Self::update) of `buf` where it lies, when the provider can decrypt in
    /// place (saves a chunk-sized buffer per call); otherwise the plaintext as `update`
    /// returns it.
    fn update_in_place(&mut self, buf: &mut [u8]) -> Result<Released, DecryptError> {
        self.update(buf).map(Released::Separate)
    }
    /// Ends the stream (for GCM: checks the tag) and returns any remaining plaintext.
    fn finish(self: Box<Self>) -> Result<Zeroizing<Vec<u8>>, DecryptError>;
}

/// Where [`StreamDecrypt::update_in_place`] put the plaintext.
pub enum Released {
    /// In `buf[..n]`; the rest of `buf` is input held back.
    InPlace(usize),
    /// In a buffer of its own; `buf` is unchanged.
    Separate(Zeroizing<Vec<u8>>),
}

/// AES-128/256-GCM decryption of a stream whose last 16 bytes are the tag.
pub trait AesGcmOp: Sync {
    /// A 16- or 32-byte key, a 12-to-32-byte IV ([`crate::encryption::content::GCM_IV_LEN`])
    /// and the AAD.
    fn decryptor(
        &self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
    ) -> Result<Box<dyn StreamDecrypt>, DecryptError>;
}

/// AES-128/256-CTR with a 16-byte initial counter block incremented as one 128-bit
/// big-endian integer (RFC 9459). `finish` verifies nothing.
pub trait AesCtrOp: Sync {
    fn decryptor(&self, key: &[u8], iv: &[u8]) -> Result<Box<dyn StreamDecrypt>, DecryptError>;
}

/// P-256 ECDSA verification of a SHA-256 prehash (COSE ES256 hashes with the SHA-256 op).
pub trait EcdsaP256Op: Sync {
    /// True only for a valid signature (`r || s`, 64 bytes) of `digest` under `key`.
    fn verify_prehash(
        &self,
        key: &p256::ecdsa::VerifyingKey,
        digest: &[u8; 32],
        signature: &p256::ecdsa::Signature,
    ) -> bool;
}

/// A P-256 private key loaded for ECDH (for a TEE back end: a key object, so it is loaded
/// once and the Rust copy wiped).
pub trait EcdhP256Key {
    /// The x-coordinate of `secret · peer` (SEC 1 §3.3.1); `None` if the back end fails.
    fn agree(&self, peer: &p256::PublicKey) -> Option<Zeroizing<[u8; 32]>>;
}

/// Loads P-256 private keys for ECDH.
pub trait EcdhP256Op: Sync {
    /// `None` if the back end cannot hold the key.
    fn load(&self, secret: &p256::SecretKey) -> Option<Box<dyn EcdhP256Key>>;
}

/// One implementation per operation; compose freely (like rustls's `CryptoProvider`).
pub struct CryptoProvider {
    /// Shown by benchmarks and logs.
    pub name: &'static str,
    pub sha256: &'static dyn Sha256Op,
    pub aes_gcm: &'static dyn AesGcmOp,
    pub aes_ctr: &'static dyn AesCtrOp,
    pub ecdsa_p256: &'static dyn EcdsaP256Op,
    pub ecdh_p256: &'static dyn EcdhP256Op,
}

impl core::fmt::Debug for CryptoProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CryptoProvider")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// RustCrypto for every operation: the default, and what the host tools use.
pub static RUSTCRYPTO: CryptoProvider = CryptoProvider {
    name: "rustcrypto",
    sha256: &RustCryptoSha256,
    aes_gcm: &RustCryptoAesGcm,
    aes_ctr: &RustCryptoAesCtr,
    ecdsa_p256: &RustCryptoEcdsa,
    ecdh_p256: &RustCryptoEcdh,
};

static DEFAULT: once_cell::race::OnceRef<'static, CryptoProvider> = once_cell::race::OnceRef::new();

/// The provider was already chosen (installed, or used before any install).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyInstalled;

/// Installs the process-wide provider. Call it once, before the engine runs: the first call
/// to [`provider`] fixes the choice, so a later install fails instead of switching back ends
/// in the middle of a stream.
pub fn install_default(p: &'static CryptoProvider) -> Result<(), AlreadyInstalled> {
    DEFAULT.set(p).map_err(|()| AlreadyInstalled)
}

/// The installed provider, or [`RUSTCRYPTO`] (which then stays).
pub fn provider() -> &'static CryptoProvider {
    DEFAULT.get_or_init(|| &RUSTCRYPTO)
}

/// SHA-256 of `data` with the installed provider.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = provider().sha256.start();
    h.update(data);
    h.finish()
}
