//! ChaCha20/Poly1305 (RFC 8439 §2.8, COSE alg 24, RFC 9053 §4.3) for the content layer, in
//! memory independent of the payload size.
//!
//! Built only with feature `author` (encryption) or `chacha20` (decryption); the TA builds
//! neither. Like AES-GCM in the parent module it is composed, because the RustCrypto AEAD
//! (`chacha20poly1305`) is one-shot over a buffer holding the whole message: `chacha20` and
//! `poly1305` are put together exactly as that crate does (its `cipher.rs`) and RFC 8439
//! specifies: the Poly1305 key is the first 32 bytes of the ChaCha20 block with counter 0
//! (§2.6), the text is encrypted from counter 1, and the tag is Poly1305 over
//! `AAD || pad16 || ciphertext || pad16 || le64(len(AAD)) || le64(len(ciphertext))`, compared in
//! constant time (`subtle`). Checked against `chacha20poly1305` and RFC 8439's §2.8.2 vector
//! in the tests. No primitive is implemented here.
//!
//! The staging contract of the parent module applies unchanged: **plaintext returned by
//! `update` is unauthenticated until `finish` returns `Ok`.**

use alloc::vec::Vec;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use poly1305::Poly1305;
use zeroize::Zeroizing;

use super::super::error::{DecryptError, Location, Problem};
use super::{HeldTag, TagStream};

/// ChaCha20/Poly1305 key length (256 bits).
pub const CHACHA_POLY_KEY_LEN: usize = 32;
/// ChaCha20/Poly1305 nonce (COSE IV) length: 96 bits, the only length RFC 8439 and RFC 9053
/// allow.
pub const CHACHA_POLY_NONCE_LEN: usize = 12;
/// Length of the Poly1305 tag appended to the ciphertext.
pub const CHACHA_POLY_TAG_LEN: usize = 16;
/// Largest text for one key and nonce: the 32-bit block counter runs from 1 to 2^32 − 1
/// (RFC 8439 §2.8: 2^38 − 64 bytes).
const MAX_TEXT: u64 = ((1 << 32) - 1) * 64;
/// ChaCha20's block length: the text starts at the second block.
const BLOCK_LEN: u64 = 64;

/// State shared by the decryptor and the encryptor.
struct ChaChaPoly {
    cipher: ChaCha20,
    mac: Poly1305,
    /// Ciphertext not yet absorbed into Poly1305 (less than one 16-byte block).
    partial: [u8; 16],
    partial_len: usize,
    aad_len: u64,
    text_len: u64,
}

impl ChaChaPoly {
    fn new(key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Self, DecryptError> {
        if key.len() != CHACHA_POLY_KEY_LEN {
            return Err(DecryptError::ContentKeyLength {
                expected: CHACHA_POLY_KEY_LEN,
                found: key.len(),
            });
        }
        let nonce_error = DecryptError::Malformed {
            at: Location::Unprotected,
            problem: Problem::IvLength(nonce.len()),
        };
        if nonce.len() != CHACHA_POLY_NONCE_LEN {
            return Err(nonce_error);
        }
        let mut cipher = ChaCha20::new_from_slices(key, nonce).map_err(|_| nonce_error)?;
        // RFC 8439 §2.6: the one-time Poly1305 key is the start of block 0's keystream.
        let mut mac_key = Zeroizing::new([0u8; 32]);
        cipher
            .try_apply_keystream(mac_key.as_mut_slice())
            .map_err(|_| DecryptError::PayloadTooLong)?;
        let mut mac = Poly1305::new_from_slice(mac_key.as_slice()).map_err(|_| {
            DecryptError::ContentKeyLength {
                expected: CHACHA_POLY_KEY_LEN,
                found: key.len(),
            }
        })?;
        // §2.8: the text is encrypted from block counter 1.
        cipher
            .try_seek(BLOCK_LEN)
            .map_err(|_| DecryptError::PayloadTooLong)?;
        mac.update_padded(aad);
        Ok(Self {
            cipher,
            mac,
            partial: [0; 16],
            partial_len: 0,
            aad_len: aad.len() as u64,
            text_len: 0,
        })
    }

    fn count(&mut self, n: usize) -> Result<(), DecryptError> {
        let total = self
            .text_len
            .checked_add(n as u64)
            .filter(|t| *t <= MAX_TEXT);
        self.text_len = total.ok_or(DecryptError::PayloadTooLong)?;
        Ok(())
    }

    /// Feeds ciphertext into Poly1305, one whole 16-byte block at a time.
    fn absorb(&mut self, mut data: &[u8]) {
        if self.partial_len > 0 {
            let take = (16 - self.partial_len).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self
                .partial
                .get_mut(self.partial_len..self.partial_len + take)
            {
                dst.copy_from_slice(head);
            }
            self.partial_len += take;
            data = rest;
            if self.partial_len < 16 {
                return;
            }
            self.mac.update_padded(&self.partial);
            self.partial_len = 0;
        }
        let (blocks, rest) = data.split_at(data.len() - data.len() % 16);
        self.mac.update_padded(blocks);
        if let Some(dst) = self.partial.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
            self.partial_len = rest.len();
        }
    }

    fn keystream(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        self.cipher
            .try_apply_keystream(buf)
            .map_err(|_| DecryptError::PayloadTooLong)
    }

    fn decrypt(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        self.count(buf.len())?;
        self.absorb(buf);
        self.keystream(buf)
    }

    fn encrypt(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        self.count(buf.len())?;
        self.keystream(buf)?;
        self.absorb(buf);
        Ok(())
    }

    /// Ends the computation (call once); the state is left for its owner to drop, where it
    /// lies, and wipe.
    fn tag(&mut self) -> [u8; CHACHA_POLY_TAG_LEN] {
        if let Some(rest) = self.partial.get(..self.partial_len) {
            self.mac.update_padded(rest);
        }
        self.partial_len = 0;
        let mut lengths = [0u8; 16];
        let (aad, text) = lengths.split_at_mut(8);
        aad.copy_from_slice(&self.aad_len.to_le_bytes());
        text.copy_from_slice(&self.text_len.to_le_bytes());
        self.mac.update_padded(&lengths);
        let mut tag = [0u8; CHACHA_POLY_TAG_LEN];
        tag.copy_from_slice(&self.mac.clone().finalize());
        tag
    }
}

/// Incremental ChaCha20/Poly1305 decryption of a ciphertext whose last 16 bytes are the tag.
///
/// `update` withholds the trailing 16 bytes it has seen (they may be the tag) and returns
/// the plaintext of everything before them; `finish` checks the tag. **Nothing returned by
/// `update` is authentic before `finish` is Ok.**
pub struct ChaChaPolyDecryptor(HeldTag<ChaChaPoly>);

impl core::fmt::Debug for ChaChaPolyDecryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChaChaPolyDecryptor")
            .finish_non_exhaustive()
    }
}

impl TagStream for ChaChaPoly {
    fn decrypt(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        ChaChaPoly::decrypt(self, buf)
    }

    fn tag(&mut self) -> [u8; CHACHA_POLY_TAG_LEN] {
        ChaChaPoly::tag(self)
    }
}

impl ChaChaPolyDecryptor {
    /// Starts decryption with a 32-byte key, a 12-byte nonce and the AAD.
    pub fn new(key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Self, DecryptError> {
        Ok(Self(HeldTag::new(ChaChaPoly::new(key, nonce, aad)?)))
    }

    /// Decrypts the next chunk; returns the (not yet authenticated) plaintext available.
    pub fn update(&mut self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        self.0.update(ciphertext)
    }

    /// [`update`](Self::update) where the chunk lies: the plaintext available is `buf[..n]`
    /// for the returned `n`; the rest of `buf` is ciphertext now held back.
    pub fn update_in_place(&mut self, buf: &mut [u8]) -> Result<usize, DecryptError> {
        self.0.update_in_place(buf)
    }

    /// Verifies the tag (in constant time). Fails with [`DecryptError::Truncated`] if fewer
    /// than 16 bytes arrived and [`DecryptError::TagMismatch`] if the tag is wrong.
    pub fn finish(mut self) -> Result<(), DecryptError> {
        self.0.check_tag()
    }

    /// [`Self::finish`] without moving the decryptor (call once).
    pub fn check_tag(&mut self) -> Result<(), DecryptError> {
        self.0.check_tag()
    }
}

impl crate::crypto::StreamDecrypt for ChaChaPolyDecryptor {
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        ChaChaPolyDecryptor::update(self, input)
    }
    fn update_in_place(&mut self, buf: &mut [u8]) -> Result<crate::crypto::Released, DecryptError> {
        ChaChaPolyDecryptor::update_in_place(self, buf).map(crate::crypto::Released::InPlace)
    }
    fn finish(mut self: alloc::boxed::Box<Self>) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        // Checked where it lies (the cipher state is not moved out of its box).
        self.check_tag().map(|()| Zeroizing::new(Vec::new()))
    }
}

/// Incremental ChaCha20/Poly1305 encryption; `finish` returns the tag to append.
pub struct ChaChaPolyEncryptor {
    state: ChaChaPoly,
}

impl core::fmt::Debug for ChaChaPolyEncryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChaChaPolyEncryptor")
            .finish_non_exhaustive()
    }
}

impl ChaChaPolyEncryptor {
    /// Starts encryption with a 32-byte key, a 12-byte nonce and the AAD. The caller
    /// guarantees the (key, nonce) pair is never reused.
    pub fn new(key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Self, DecryptError> {
        Ok(Self {
            state: ChaChaPoly::new(key, nonce, aad)?,
        })
    }

    /// Encrypts a chunk.
    pub fn update(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let mut out = plaintext.to_vec();
        self.state.encrypt(&mut out)?;
        Ok(out)
    }

    /// The 16-byte authentication tag.
    pub fn finish(mut self) -> [u8; CHACHA_POLY_TAG_LEN] {
        self.state.tag()
    }
}
