//! Layer-0 content ciphers with memory independent of the payload size.
//!
//! # Why AES-GCM is composed here
//!
//! SUIT payloads are large (≥ 16 MiB) and arrive in chunks, while the RustCrypto `aes-gcm`
//! crate (like every AEAD interface) is one-shot over a buffer holding the whole message.
//! No maintained crate offers incremental GCM decryption, so [`AeadDecryptor`] composes the
//! RustCrypto primitives exactly as NIST SP 800-38D §7 specifies: `H = E_K(0^128)`; `J0 =
//! IV || 0^31 || 1` for 96-bit IVs, else `GHASH_H(IV || pad || [len(IV)]_64)`; GCTR with
//! `inc32` from `inc32(J0)` (`ctr::Ctr32BE`); `S = GHASH_H(A || pad || C || pad || [len(A)]_64
//! || [len(C)]_64)` (`ghash`); `T = E_K(J0) XOR S`, compared in constant time (`subtle`). The
//! counter mode and GHASH loops run in `suit_bulk`, which is compiled for speed. It is checked
//! against `aes-gcm` in the tests. No primitive is implemented here.
//!
//! # The contract streaming imposes
//!
//! **Plaintext returned by `update` is unauthenticated until `finish` returns `Ok`.** The
//! tag is the last 16 bytes of the ciphertext stream, so a decryptor cannot know whether a
//! chunk is genuine before it has seen the end. Callers must stage plaintext (e.g. in an
//! inactive slot) and commit it only after `finish` succeeds *and* the manifest's image
//! digest matches; on any error, discard everything staged. AES-CTR authenticates nothing at
//! all: there the image digest is the only integrity check.
//!
//! ChaCha20/Poly1305 (submodule `chacha`) is the same composition over `chacha20` and
//! `poly1305`, built only with feature `author` or `chacha20`, so the TA does not link it.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes256, Block};
use alloc::vec::Vec;
use subtle::ConstantTimeEq;
use suit_bulk::{Counter, Ghash, KernelError};
use zeroize::{Zeroize, Zeroizing};

use super::error::{DecryptError, Location, Problem};

#[cfg(any(feature = "author", feature = "chacha20"))]
mod chacha;
#[cfg(any(feature = "author", feature = "chacha20"))]
pub use chacha::{CHACHA_POLY_KEY_LEN, CHACHA_POLY_NONCE_LEN, CHACHA_POLY_TAG_LEN};

/// Length of the AES-GCM authentication tag appended to the ciphertext.
pub const GCM_TAG_LEN: usize = TAG_LEN;
/// Accepted GCM IV lengths: 96 bits as RFC 9053 asks, up to 256 bits because SP 800-38D
/// allows any length and COSE-HPKE's test vectors use 16- and 32-byte IVs. Shorter IVs are
/// refused.
pub const GCM_IV_LEN: core::ops::RangeInclusive<usize> = 12..=32;
/// Largest GCM plaintext for one key and IV: 2^32 − 2 blocks (SP 800-38D §5.2.1.1).
const GCM_MAX_TEXT: u64 = ((1 << 32) - 2) * 16;

fn key_len_error(found: usize) -> DecryptError {
    DecryptError::ContentKeyLength {
        expected: if found < 32 { 16 } else { 32 },
        found,
    }
}

enum BlockCipher {
    A128(Aes128),
    A256(Aes256),
}

impl BlockCipher {
    fn new(key: &[u8]) -> Result<Self, DecryptError> {
        match key.len() {
            16 => Aes128::new_from_slice(key)
                .map(Self::A128)
                .map_err(|_| key_len_error(16)),
            32 => Aes256::new_from_slice(key)
                .map(Self::A256)
                .map_err(|_| key_len_error(32)),
            n => Err(key_len_error(n)),
        }
    }

    fn encrypt(&self, block: &mut Block) {
        match self {
            Self::A128(c) => c.encrypt_block(block),
            Self::A256(c) => c.encrypt_block(block),
        }
    }
}

/// AES in counter mode, GCM's or RFC 9459's counter (the loop lives in `suit_bulk`, which is
/// compiled for speed).
struct Keystream(suit_bulk::Keystream);

impl Keystream {
    fn new(key: &[u8], counter_block: &[u8], counter: Counter) -> Result<Self, DecryptError> {
        suit_bulk::Keystream::new(key, counter_block, counter)
            .map(Self)
            .map_err(|e| match e {
                KernelError::CounterBlockLength(n) => DecryptError::Malformed {
                    at: Location::Unprotected,
                    problem: Problem::IvLength(n),
                },
                KernelError::KeystreamExhausted => DecryptError::PayloadTooLong,
                KernelError::KeyLength(n) => key_len_error(n),
                _ => key_len_error(key.len()),
            })
    }

    fn apply(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        self.0.apply(buf).map_err(|_| DecryptError::PayloadTooLong)
    }
}

/// The stream cipher of an AEAD's text: GCM's AES counter mode, or ChaCha20.
trait TextCipher {
    fn apply(&mut self, buf: &mut [u8]) -> Result<(), DecryptError>;
}

impl TextCipher for Keystream {
    fn apply(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        Keystream::apply(self, buf)
    }
}

/// The universal hash of an AEAD's tag: GHASH, or Poly1305.
trait TextMac: Clone {
    /// Absorbs `data`, the last partial block padded with zeros.
    fn update_padded(&mut self, data: &[u8]);
    /// The hash of everything absorbed.
    fn finalize(self) -> [u8; TAG_LEN];
}

impl TextMac for Ghash {
    fn update_padded(&mut self, data: &[u8]) {
        Ghash::update_padded(self, data);
    }
    fn finalize(self) -> [u8; TAG_LEN] {
        Ghash::finalize(self)
    }
}

/// An AEAD composed of a stream cipher for the text and a universal hash over
/// `AAD || pad16 || ciphertext || pad16 || lengths`: the shape AES-GCM (GHASH) and
/// ChaCha20/Poly1305 share. What differs is given at construction: the block of lengths that
/// closes the hash, and the mask added to its output (GCM's `E_K(J0)`; zero for
/// ChaCha20/Poly1305, whose one-time Poly1305 key already holds its own).
struct Composed<C, U> {
    cipher: C,
    mac: U,
    tag_mask: Zeroizing<[u8; TAG_LEN]>,
    length_block: fn(aad_len: u64, text_len: u64) -> [u8; 16],
    /// Ciphertext not yet absorbed into the hash (less than one 16-byte block).
    partial: [u8; 16],
    partial_len: usize,
    aad_len: u64,
    text_len: u64,
    /// The most text one key and nonce may protect.
    max_text: u64,
}

impl<C: TextCipher, U: TextMac> Composed<C, U> {
    fn new(
        cipher: C,
        mut mac: U,
        aad: &[u8],
        tag_mask: Zeroizing<[u8; TAG_LEN]>,
        length_block: fn(u64, u64) -> [u8; 16],
        max_text: u64,
    ) -> Self {
        mac.update_padded(aad);
        Self {
            cipher,
            mac,
            tag_mask,
            length_block,
            partial: [0; 16],
            partial_len: 0,
            aad_len: aad.len() as u64,
            text_len: 0,
            max_text,
        }
    }

    fn count(&mut self, n: usize) -> Result<(), DecryptError> {
        let total = self
            .text_len
            .checked_add(n as u64)
            .filter(|t| *t <= self.max_text);
        self.text_len = total.ok_or(DecryptError::PayloadTooLong)?;
        Ok(())
    }

    /// Feeds ciphertext into the hash, one whole block at a time.
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

    fn decrypt(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        self.count(buf.len())?;
        self.absorb(buf);
        self.cipher.apply(buf)
    }

    fn encrypt(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        self.count(buf.len())?;
        self.cipher.apply(buf)?;
        self.absorb(buf);
        Ok(())
    }

    /// Ends the computation (call once); the state is left for its owner to drop, where it
    /// lies, and wipe.
    fn tag(&mut self) -> [u8; TAG_LEN] {
        if let Some(rest) = self.partial.get(..self.partial_len) {
            self.mac.update_padded(rest);
        }
        self.partial_len = 0;
        self.mac
            .update_padded(&(self.length_block)(self.aad_len, self.text_len));
        let s = self.mac.clone().finalize();
        let mut tag = [0u8; TAG_LEN];
        for ((t, s), m) in tag.iter_mut().zip(s.iter()).zip(self.tag_mask.iter()) {
            *t = s ^ m;
        }
        tag
    }
}

/// Length of every content-layer AEAD tag (AES-GCM and ChaCha20/Poly1305).
const TAG_LEN: usize = 16;

/// SP 800-38D §7: the text under `inc32(J0)`, GHASH keyed with `H = E_K(0^128)`, the tag
/// masked with `E_K(J0)`.
fn aes_gcm(key: &[u8], iv: &[u8], aad: &[u8]) -> Result<Composed<Keystream, Ghash>, DecryptError> {
    if !GCM_IV_LEN.contains(&iv.len()) {
        return Err(DecryptError::Malformed {
            at: Location::Unprotected,
            problem: Problem::IvLength(iv.len()),
        });
    }
    let cipher = BlockCipher::new(key)?;
    let mut h = Zeroizing::new(Block::default());
    cipher.encrypt(&mut h);
    let mut j0 = Zeroizing::new(Block::default());
    if let Some(prefix) = j0.get_mut(..12).filter(|_| iv.len() == 12) {
        prefix.copy_from_slice(iv);
        // A constant index into a 16-byte block (`Block` is 16 bytes by type): cannot panic.
        #[allow(clippy::indexing_slicing)]
        {
            j0[15] = 1;
        }
    } else {
        let mut g = Ghash::new(&h);
        g.update_padded(iv);
        g.update_padded(&gcm_lengths(0, iv.len() as u64));
        *j0 = g.finalize().into();
    }
    let mut tag_mask = Zeroizing::new([0u8; TAG_LEN]);
    let mut mask_block = j0.clone();
    cipher.encrypt(&mut mask_block);
    tag_mask.copy_from_slice(&mask_block);
    mask_block.zeroize();

    // inc32(J0): the first counter block used for the text.
    let mut counter = j0.clone();
    // Constant indices into a 16-byte block (`Block` is 16 bytes by type): cannot panic.
    #[allow(clippy::indexing_slicing)]
    {
        let low = u32::from_be_bytes([counter[12], counter[13], counter[14], counter[15]]);
        counter[12..].copy_from_slice(&low.wrapping_add(1).to_be_bytes());
    }
    let keystream = Keystream::new(key, &counter, Counter::Inc32)?;
    counter.zeroize();

    Ok(Composed::new(
        keystream,
        Ghash::new(&h),
        aad,
        tag_mask,
        gcm_lengths,
        GCM_MAX_TEXT,
    ))
}

/// GCM's closing block: `[len(A)]_64 || [len(C)]_64`, in bits, big-endian.
fn gcm_lengths(aad_len: u64, text_len: u64) -> [u8; 16] {
    let mut block = [0u8; 16];
    let (a, c) = block.split_at_mut(8);
    a.copy_from_slice(&aad_len.wrapping_mul(8).to_be_bytes());
    c.copy_from_slice(&text_len.wrapping_mul(8).to_be_bytes());
    block
}

/// The content layer's AEADs, one streaming interface.
enum Aead {
    Gcm(Composed<Keystream, Ghash>),
    #[cfg(any(feature = "author", feature = "chacha20"))]
    ChaChaPoly(chacha::ChaChaPoly),
}

impl Aead {
    fn decrypt(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        match self {
            Self::Gcm(a) => a.decrypt(buf),
            #[cfg(any(feature = "author", feature = "chacha20"))]
            Self::ChaChaPoly(a) => a.decrypt(buf),
        }
    }

    fn encrypt(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        match self {
            Self::Gcm(a) => a.encrypt(buf),
            #[cfg(any(feature = "author", feature = "chacha20"))]
            Self::ChaChaPoly(a) => a.encrypt(buf),
        }
    }

    fn tag(&mut self) -> [u8; TAG_LEN] {
        match self {
            Self::Gcm(a) => a.tag(),
            #[cfg(any(feature = "author", feature = "chacha20"))]
            Self::ChaChaPoly(a) => a.tag(),
        }
    }
}

/// Incremental decryption of an AEAD ciphertext whose last 16 bytes are the tag: AES-GCM, and
/// ChaCha20/Poly1305 with feature `author` or `chacha20`.
///
/// `update` withholds the trailing 16 bytes it has seen (they may be the tag) and returns the
/// plaintext of everything before them; `finish` checks the tag. See the module docs for the
/// staging contract: **nothing returned by `update` is authentic before `finish` is Ok.**
pub struct AeadDecryptor {
    aead: Aead,
    held: [u8; TAG_LEN],
    held_len: usize,
}

impl core::fmt::Debug for AeadDecryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AeadDecryptor").finish_non_exhaustive()
    }
}

impl AeadDecryptor {
    fn new(aead: Aead) -> Self {
        Self {
            aead,
            held: [0; TAG_LEN],
            held_len: 0,
        }
    }

    /// AES-GCM with a 16- or 32-byte key, a 12-to-32-byte IV and the AAD.
    pub fn aes_gcm(key: &[u8], iv: &[u8], aad: &[u8]) -> Result<Self, DecryptError> {
        Ok(Self::new(Aead::Gcm(aes_gcm(key, iv, aad)?)))
    }

    /// Decrypts the next chunk; returns the (not yet authenticated) plaintext available.
    pub fn update(&mut self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        let mut out = Zeroizing::new(ciphertext.to_vec());
        let n = self.update_in_place(&mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// [`update`](Self::update) where the chunk lies: the plaintext available is `buf[..n]`
    /// for the returned `n` (at most `buf.len()`, as the held tag candidate shifts in front);
    /// the rest of `buf` is ciphertext now held back.
    pub fn update_in_place(&mut self, buf: &mut [u8]) -> Result<usize, DecryptError> {
        let total = self.held_len + buf.len();
        if total <= TAG_LEN {
            if let Some(dst) = self.held.get_mut(self.held_len..total) {
                dst.copy_from_slice(buf);
            }
            self.held_len = total;
            return Ok(0);
        }
        // Everything but the last 16 bytes seen so far is ciphertext proper: the held bytes
        // that leave first, then the chunk's start; its end (and any held bytes still in
        // the last 16) is held next.
        let n = total - TAG_LEN;
        let from_held = self.held_len.min(n);
        let mut held = [0u8; TAG_LEN];
        let stay = self.held.get(from_held..self.held_len).unwrap_or_default();
        let keep = buf.get(n - from_held..).unwrap_or_default();
        let (a, b) = held.split_at_mut(stay.len());
        a.copy_from_slice(stay);
        b.copy_from_slice(keep);
        buf.copy_within(..n - from_held, from_held);
        let (front, _) = buf.split_at_mut(n);
        if let (Some(dst), Some(src)) = (front.get_mut(..from_held), self.held.get(..from_held)) {
            dst.copy_from_slice(src);
        }
        self.held = held;
        self.held_len = TAG_LEN;
        self.aead.decrypt(front)?;
        Ok(n)
    }

    /// Verifies the tag (in constant time). Fails with [`DecryptError::Truncated`] if fewer
    /// than 16 bytes arrived and [`DecryptError::TagMismatch`] if the tag is wrong.
    pub fn finish(mut self) -> Result<(), DecryptError> {
        self.check_tag()
    }

    /// [`Self::finish`] without moving the decryptor (call once).
    pub fn check_tag(&mut self) -> Result<(), DecryptError> {
        if self.held_len < TAG_LEN {
            return Err(DecryptError::Truncated);
        }
        let tag = self.aead.tag();
        if bool::from(tag.ct_eq(&self.held)) {
            Ok(())
        } else {
            Err(DecryptError::TagMismatch)
        }
    }
}

/// Incremental AEAD encryption (AES-GCM, and ChaCha20/Poly1305 with feature `author` or
/// `chacha20`); `finish` returns the tag to append.
pub struct AeadEncryptor {
    aead: Aead,
}

impl core::fmt::Debug for AeadEncryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AeadEncryptor").finish_non_exhaustive()
    }
}

impl AeadEncryptor {
    /// AES-GCM with a 16- or 32-byte key, a 12-to-32-byte IV and the AAD. The caller
    /// guarantees the (key, IV) pair is never reused.
    pub fn aes_gcm(key: &[u8], iv: &[u8], aad: &[u8]) -> Result<Self, DecryptError> {
        Ok(Self {
            aead: Aead::Gcm(aes_gcm(key, iv, aad)?),
        })
    }

    /// Encrypts a chunk.
    pub fn update(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let mut out = plaintext.to_vec();
        self.aead.encrypt(&mut out)?;
        Ok(out)
    }

    /// The 16-byte authentication tag.
    pub fn finish(mut self) -> [u8; TAG_LEN] {
        self.aead.tag()
    }
}

/// AES-CTR (RFC 9459): the IV is the full 16-byte initial counter block, incremented as a
/// 128-bit big-endian integer. Encryption and decryption are the same operation.
pub struct CtrCipher {
    keystream: Keystream,
}

impl CtrCipher {
    /// A 16- or 32-byte key and a 16-byte initial counter block.
    pub fn new(key: &[u8], iv: &[u8]) -> Result<Self, DecryptError> {
        if iv.len() != 16 {
            return Err(DecryptError::Malformed {
                at: Location::Unprotected,
                problem: Problem::IvLength(iv.len()),
            });
        }
        Ok(Self {
            keystream: Keystream::new(key, iv, Counter::Inc128)?,
        })
    }

    /// XORs the keystream into `data` and returns it as a new zeroizing buffer.
    pub fn apply(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        let mut out = Zeroizing::new(data.to_vec());
        self.apply_in_place(&mut out)?;
        Ok(out)
    }

    /// XORs the keystream into `buf` where it lies.
    pub fn apply_in_place(&mut self, buf: &mut [u8]) -> Result<(), DecryptError> {
        self.keystream.apply(buf)
    }
}
