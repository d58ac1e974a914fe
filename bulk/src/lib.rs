//! The payload pipeline's per-byte kernels: AES in counter mode and GHASH.
//!
//! A crate of its own so that they are compiled for speed (`opt-level = 3` in the workspace's
//! release profile) while suit-common, which calls them, is compiled for size. RustCrypto's
//! generic and `#[inline]` code is compiled in the crate that instantiates it: instantiated
//! in suit-common (opt-level "z"), the AES rounds and the GHASH block loop were split by
//! LLVM's machine outliner into calls of fragments shared with unrelated code, which under
//! QEMU's TCG doubled AES-CTR's time and made GCM's depend on where the linker put those
//! fragments (BENCHMARKS.md, "the pipeline's loops compiled for speed (suit-bulk)"). Every entry point is `#[inline(never)]`, so
//! whole-program LTO does not move a loop back into a size-optimized caller.
//!
//! Nothing here is a primitive: the `aes`, `ctr` and `ghash` crates do the cryptography;
//! the callers (suit-common's `encryption::content`) compose them and own the errors.
#![no_std]
#![forbid(unsafe_code)]

use aes::cipher::{KeyIvInit, StreamCipher};
use aes::{Aes128, Aes256};
use ghash::universal_hash::UniversalHash;
use ghash::GHash;

/// Why a kernel refused (in words with feature `explain`; suit-common maps it to its own
/// errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KernelError {
    /// The AES key is neither 16 nor 32 bytes long.
    KeyLength(usize),
    /// The counter block is not 16 bytes long.
    CounterBlockLength(usize),
    /// More keystream than `ctr` gives for one key and counter block (2^32 blocks with GCM's
    /// counter; the callers' own text limits are lower).
    KeystreamExhausted,
}

#[cfg(feature = "explain")]
impl core::fmt::Display for KernelError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::KeyLength(n) => write!(f, "AES key of {n} bytes (16 or 32 expected)"),
            Self::CounterBlockLength(n) => write!(f, "counter block of {n} bytes (16 expected)"),
            Self::KeystreamExhausted => f.write_str("keystream exhausted for this counter block"),
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for KernelError {}

/// How the counter block is incremented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// The low 32 bits, big-endian, modulo 2^32 (GCM's `inc32`, SP 800-38D §6.2).
    Inc32,
    /// The whole block as a 128-bit big-endian integer (AES-CTR, RFC 9459).
    Inc128,
}

/// AES-128 or AES-256 in counter mode (`ctr` over `aes`); the key schedule wipes itself on
/// drop.
pub enum Keystream {
    /// GCM's counter, AES-128.
    Ctr32A128(ctr::Ctr32BE<Aes128>),
    /// GCM's counter, AES-256.
    Ctr32A256(ctr::Ctr32BE<Aes256>),
    /// RFC 9459's counter, AES-128.
    Ctr128A128(ctr::Ctr128BE<Aes128>),
    /// RFC 9459's counter, AES-256.
    Ctr128A256(ctr::Ctr128BE<Aes256>),
}

impl core::fmt::Debug for Keystream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keystream").finish_non_exhaustive()
    }
}

impl Keystream {
    /// A 16- or 32-byte key and the 16-byte counter block of the first keystream block.
    pub fn new(key: &[u8], counter_block: &[u8], counter: Counter) -> Result<Self, KernelError> {
        if counter_block.len() != 16 {
            return Err(KernelError::CounterBlockLength(counter_block.len()));
        }
        let key_err = |_| KernelError::KeyLength(key.len());
        Ok(match (key.len(), counter) {
            (16, Counter::Inc32) => {
                Self::Ctr32A128(KeyIvInit::new_from_slices(key, counter_block).map_err(key_err)?)
            }
            (32, Counter::Inc32) => {
                Self::Ctr32A256(KeyIvInit::new_from_slices(key, counter_block).map_err(key_err)?)
            }
            (16, Counter::Inc128) => {
                Self::Ctr128A128(KeyIvInit::new_from_slices(key, counter_block).map_err(key_err)?)
            }
            (32, Counter::Inc128) => {
                Self::Ctr128A256(KeyIvInit::new_from_slices(key, counter_block).map_err(key_err)?)
            }
            (n, _) => return Err(KernelError::KeyLength(n)),
        })
    }

    /// XORs the next `buf.len()` keystream bytes into `buf`; refuses, changing nothing, past
    /// the end of the keystream.
    #[inline(never)]
    pub fn apply(&mut self, buf: &mut [u8]) -> Result<(), KernelError> {
        match self {
            Self::Ctr32A128(c) => c.try_apply_keystream(buf),
            Self::Ctr32A256(c) => c.try_apply_keystream(buf),
            Self::Ctr128A128(c) => c.try_apply_keystream(buf),
            Self::Ctr128A256(c) => c.try_apply_keystream(buf),
        }
        .map_err(|_| KernelError::KeystreamExhausted)
    }
}

/// GHASH (`ghash`) keyed with `H`; its state wipes itself on drop.
#[derive(Clone)]
pub struct Ghash(GHash);

impl core::fmt::Debug for Ghash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ghash").finish_non_exhaustive()
    }
}

impl Ghash {
    /// Keyed with `H = E_K(0^128)`.
    pub fn new(h: &ghash::Key) -> Self {
        Self(GHash::new(h))
    }

    /// Absorbs `data`, the last partial block padded with zeros.
    #[inline(never)]
    pub fn update_padded(&mut self, data: &[u8]) {
        self.0.update_padded(data);
    }

    /// The hash of everything absorbed.
    pub fn finalize(self) -> [u8; 16] {
        self.0.finalize().into()
    }
}
