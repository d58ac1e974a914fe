//! AES key wrap (RFC 3394) of the content key, COSE A128KW / A256KW (RFC 9053 §6.2.1).

use aes_kw::{KeyInit, KwAes128, KwAes256};
use alloc::vec;
#[cfg(feature = "author")]
use alloc::vec::Vec;

use crate::encryption::keys::SecretBytes;

/// Why an unwrap failed; both mean "this KEK does not open this recipient".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnwrapError {
    /// The KEK is neither 16 nor 32 bytes long.
    KekLength,
    /// Wrong KEK, or the wrapped key was altered (RFC 3394 integrity check), or its length
    /// is not a multiple of 8 bytes of at least 16.
    Integrity,
}

#[cfg(feature = "explain")]
impl core::fmt::Display for UnwrapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UnwrapError::KekLength => "the key-encryption key is neither 16 nor 32 bytes long",
            UnwrapError::Integrity => {
                "AES key unwrap failed: wrong key-encryption key or altered wrapped key"
            }
        })
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for UnwrapError {}

/// Unwraps `wrapped` with a 16-byte (A128KW) or 32-byte (A256KW) KEK.
pub fn unwrap(kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes, UnwrapError> {
    if wrapped.len() < 16 || !wrapped.len().is_multiple_of(8) {
        return Err(UnwrapError::Integrity);
    }
    let mut out = SecretBytes::new(vec![0; wrapped.len() - 8]);
    let res = match kek.len() {
        16 => KwAes128::new_from_slice(kek)
            .map_err(|_| UnwrapError::KekLength)?
            .unwrap_key(wrapped, out.as_mut_bytes())
            .map(|_| ()),
        32 => KwAes256::new_from_slice(kek)
            .map_err(|_| UnwrapError::KekLength)?
            .unwrap_key(wrapped, out.as_mut_bytes())
            .map(|_| ()),
        _ => return Err(UnwrapError::KekLength),
    };
    res.map(|()| out).map_err(|_| UnwrapError::Integrity)
}

/// Wraps `cek` (a multiple of 8 bytes, at least 16) with a 16- or 32-byte KEK.
#[cfg(feature = "author")]
pub fn wrap(kek: &[u8], cek: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0; cek.len() + 8];
    match kek.len() {
        16 => KwAes128::new_from_slice(kek)
            .ok()?
            .wrap_key(cek, &mut out)
            .ok()?,
        32 => KwAes256::new_from_slice(kek)
            .ok()?
            .wrap_key(cek, &mut out)
            .ok()?,
        _ => return None,
    };
    Some(out)
}
