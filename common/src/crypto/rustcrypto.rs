//! The RustCrypto implementation of every operation: exactly the code paths the engine used
//! before the seam (`sha2`, [`AeadDecryptor`]/[`CtrCipher`] on `aes`/`ctr`/`ghash`, `p256`).

use alloc::boxed::Box;
use alloc::vec::Vec;
use sha2::Digest as _;
use zeroize::Zeroizing;

use super::{
    AesCtrOp, AesGcmOp, EcdhP256Key, EcdhP256Op, EcdsaP256Op, Released, Sha256Hash, Sha256Op,
    StreamDecrypt,
};
use crate::encryption::content::{AeadDecryptor, CtrCipher};
use crate::encryption::DecryptError;

/// `sha2::Sha256`.
#[derive(Debug)]
pub struct RustCryptoSha256;

impl Sha256Hash for sha2::Sha256 {
    fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(self, data);
    }
    fn finish(mut self: Box<Self>) -> [u8; 32] {
        // Finished where it lies: moving the state out of the box would free the box's copy
        // (with up to a block of input) unwiped; dropped here, it wipes itself.
        sha2::Digest::finalize_reset(&mut *self).into()
    }
}

impl Sha256Op for RustCryptoSha256 {
    fn start(&self) -> Box<dyn Sha256Hash> {
        Box::new(sha2::Sha256::new())
    }
}

/// [`AeadDecryptor::aes_gcm`] (SP 800-38D composed from `aes`, `ctr` and `ghash`).
#[derive(Debug)]
pub struct RustCryptoAesGcm;

impl StreamDecrypt for AeadDecryptor {
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        AeadDecryptor::update(self, input)
    }
    fn update_in_place(&mut self, buf: &mut [u8]) -> Result<Released, DecryptError> {
        AeadDecryptor::update_in_place(self, buf).map(Released::InPlace)
    }
    fn finish(mut self: Box<Self>) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        // Checked where it lies (the key schedule is not moved out of its wiped box).
        self.check_tag().map(|()| Zeroizing::new(Vec::new()))
    }
}

impl AesGcmOp for RustCryptoAesGcm {
    fn decryptor(
        &self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
    ) -> Result<Box<dyn StreamDecrypt>, DecryptError> {
        Ok(Box::new(AeadDecryptor::aes_gcm(key, iv, aad)?))
    }
}

/// [`CtrCipher`] (`ctr::Ctr128BE` over `aes`).
#[derive(Debug)]
pub struct RustCryptoAesCtr;

impl StreamDecrypt for CtrCipher {
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        self.apply(input)
    }
    fn update_in_place(&mut self, buf: &mut [u8]) -> Result<Released, DecryptError> {
        self.apply_in_place(buf)
            .map(|()| Released::InPlace(buf.len()))
    }
    fn finish(self: Box<Self>) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        Ok(Zeroizing::new(Vec::new()))
    }
}

impl AesCtrOp for RustCryptoAesCtr {
    fn decryptor(&self, key: &[u8], iv: &[u8]) -> Result<Box<dyn StreamDecrypt>, DecryptError> {
        Ok(Box::new(CtrCipher::new(key, iv)?))
    }
}

/// `p256::ecdsa` (`PrehashVerifier`).
#[derive(Debug)]
pub struct RustCryptoEcdsa;

impl EcdsaP256Op for RustCryptoEcdsa {
    fn verify_prehash(
        &self,
        key: &p256::ecdsa::VerifyingKey,
        digest: &[u8; 32],
        signature: &p256::ecdsa::Signature,
    ) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        key.verify_prehash(digest, signature).is_ok()
    }
}

/// `p256::ecdh::diffie_hellman`.
#[derive(Debug)]
pub struct RustCryptoEcdh;

struct RustCryptoEcdhKey(p256::SecretKey);

impl EcdhP256Key for RustCryptoEcdhKey {
    fn agree(&self, peer: &p256::PublicKey) -> Option<Zeroizing<[u8; 32]>> {
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), peer.as_affine());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        Some(out)
    }
}

impl EcdhP256Op for RustCryptoEcdh {
    fn load(&self, secret: &p256::SecretKey) -> Option<Box<dyn EcdhP256Key>> {
        // `p256::SecretKey` zeroizes itself on drop.
        Some(Box::new(RustCryptoEcdhKey(secret.clone())))
    }
}
