//! ChaCha20/Poly1305 (RFC 8439 §2.8, COSE alg 24, RFC 9053 §4.3) for the content layer, in
//! memory independent of the payload size.
//!
//! Built only with feature `author` (encryption) or `chacha20` (decryption); the TA builds
//! neither. Like AES-GCM in the parent module it is composed (the parent's `Composed`),
//! because the RustCrypto AEAD (`chacha20poly1305`) is one-shot over a buffer holding the whole
//! message: `chacha20` and `poly1305` are put together exactly as that crate does (its
//! `cipher.rs`) and RFC 8439 specifies: the Poly1305 key is the first 32 bytes of the ChaCha20 block with counter 0
//! (§2.6), the text is encrypted from counter 1, and the tag is Poly1305 over
//! `AAD || pad16 || ciphertext || pad16 || le64(len(AAD)) || le64(len(ciphertext))`, compared in
//! constant time (`subtle`). Checked against `chacha20poly1305` and RFC 8439's §2.8.2 vector
//! in the tests. No primitive is implemented here.
//!
//! The staging contract of the parent module applies unchanged: **plaintext returned by
//! `update` is unauthenticated until `finish` returns `Ok`.**

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use poly1305::Poly1305;
use zeroize::Zeroizing;

use super::super::error::{DecryptError, Location, Problem};
use super::{Aead, AeadDecryptor, AeadEncryptor, Composed, TextCipher, TextMac, TAG_LEN};

/// ChaCha20/Poly1305 key length (256 bits).
pub const CHACHA_POLY_KEY_LEN: usize = 32;
/// ChaCha20/Poly1305 nonce (COSE IV) length: 96 bits, the only length RFC 8439 and RFC 9053
/// allow.
pub const CHACHA_POLY_NONCE_LEN: usize = 12;
/// Length of the Poly1305 tag appended to the ciphertext.
pub const CHACHA_POLY_TAG_LEN: usize = TAG_LEN;
/// Largest text for one key and nonce: the 32-bit block counter runs from 1 to 2^32 − 1
/// (RFC 8439 §2.8: 2^38 − 64 bytes).
const MAX_TEXT: u64 = ((1 << 32) - 1) * 64;
/// ChaCha20's block length: the text starts at the second block.
const BLOCK_LEN: u64 = 64;

/// ChaCha20 for the text, Poly1305 for the tag.
pub(super) type ChaChaPoly = Composed<ChaCha20, Poly1305>;

impl TextCipher for ChaCha20 {
    fn apply(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        self.try_apply_keystream(buf)
            .map_err(|_| DecryptError::PayloadTooLong)
    }
}

impl TextMac for Poly1305 {
    fn update_padded(&mut self, data: &[u8]) {
        UniversalHash::update_padded(self, data);
    }
    fn finalize(self) -> [u8; TAG_LEN] {
        UniversalHash::finalize(self).into()
    }
}

fn chacha20_poly1305(key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<ChaChaPoly, DecryptError> {
    let key_error = DecryptError::ContentKeyLength {
        expected: CHACHA_POLY_KEY_LEN,
        found: key.len(),
    };
    if key.len() != CHACHA_POLY_KEY_LEN {
        return Err(key_error);
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
    cipher.apply(mac_key.as_mut_slice())?;
    let mac = Poly1305::new_from_slice(mac_key.as_slice()).map_err(|_| key_error)?;
    // §2.8: the text is encrypted from block counter 1.
    cipher
        .try_seek(BLOCK_LEN)
        .map_err(|_| DecryptError::PayloadTooLong)?;
    // Poly1305's output is the tag: no mask.
    Ok(Composed::new(
        cipher,
        mac,
        aad,
        Zeroizing::new([0; TAG_LEN]),
        lengths,
        MAX_TEXT,
    ))
}

/// RFC 8439 §2.8's closing block: `le64(len(AAD)) || le64(len(ciphertext))`, in bytes.
fn lengths(aad_len: u64, text_len: u64) -> [u8; 16] {
    let mut block = [0u8; 16];
    let (aad, text) = block.split_at_mut(8);
    aad.copy_from_slice(&aad_len.to_le_bytes());
    text.copy_from_slice(&text_len.to_le_bytes());
    block
}

impl AeadDecryptor {
    /// ChaCha20/Poly1305 with a 32-byte key, a 12-byte nonce and the AAD.
    pub fn chacha20_poly1305(key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Self, DecryptError> {
        Ok(Self::new(Aead::ChaChaPoly(chacha20_poly1305(
            key, nonce, aad,
        )?)))
    }
}

impl AeadEncryptor {
    /// ChaCha20/Poly1305 with a 32-byte key, a 12-byte nonce and the AAD. The caller
    /// guarantees the (key, nonce) pair is never reused.
    pub fn chacha20_poly1305(key: &[u8], nonce: &[u8], aad: &[u8]) -> Result<Self, DecryptError> {
        Ok(Self {
            aead: Aead::ChaChaPoly(chacha20_poly1305(key, nonce, aad)?),
        })
    }
}
