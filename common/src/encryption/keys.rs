//! The device key seam.
//!
//! The decryptor never holds a device private key. It asks a [`DeviceKeys`] implementation
//! for *candidates* (opaque [`KeyRef`]s filtered by type and optional `kid`) and then asks
//! it to perform the operation with a candidate: hand out a KEK, compute a P-256 ECDH
//! shared secret, or run an HPKE open. A TA implementation can keep keys in OP-TEE
//! persistent objects and load them only for the duration of one call; [`MemoryKeys`] is
//! the in-memory implementation for tests, the simulator and the author tool.
//!
//! Secrets cross the seam only as [`SecretBytes`] / [`EcdhSecret`], which zeroize on drop
//! and print no content in `Debug`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::algorithms::{HpkeSuite, KeyWrap};
use super::error::KeyError;
use super::recipient::hpke;

/// Secret bytes (KEK, CEK, HPKE plaintext) that are wiped on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`; they are wiped when this value is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.into())
    }

    /// The secret.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Moves the bytes into a [`Zeroizing`] vector.
    pub fn into_zeroizing(mut self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(core::mem::take(&mut self.0))
    }

    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(mut z: Zeroizing<Vec<u8>>) -> Self {
        Self(core::mem::take(&mut *z))
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

/// A P-256 ECDH shared secret (the x-coordinate, "Z"), wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EcdhSecret([u8; 32]);

impl EcdhSecret {
    /// Copies a raw 32-byte shared secret; `None` for any other length.
    pub fn from_slice(z: &[u8]) -> Option<Self> {
        let mut s = Self([0; 32]);
        s.0.copy_from_slice(z.get(..32).filter(|_| z.len() == 32)?);
        Some(s)
    }

    /// The shared secret.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for EcdhSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcdhSecret(..)")
    }
}

/// What a key is for. A key has exactly one purpose: the same P-256 scalar is not used for
/// both ECDH-ES and HPKE unless the key store registers it twice on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A pre-shared AES key-encryption key for the given wrap.
    AesKw(KeyWrap),
    /// A static P-256 private key for ECDH-ES+AES-KW.
    EcdhEsP256,
    /// A P-256 private key for COSE-HPKE (DHKEM(P-256, HKDF-SHA256)).
    HpkeP256,
}

/// Opaque handle to one key inside a [`DeviceKeys`] implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyRef(pub u32);

/// One HPKE single-shot open, as COSE-HPKE defines its inputs.
#[derive(Clone, Copy, Debug)]
pub struct HpkeOpen<'a> {
    /// Ciphersuite (KEM, KDF, AEAD).
    pub suite: HpkeSuite,
    /// The encapsulated key (`ek` header).
    pub enc: &'a [u8],
    /// HPKE `info`.
    pub info: &'a [u8],
    /// HPKE `aad`.
    pub aad: &'a [u8],
    /// Ciphertext followed by the 16-byte AEAD tag.
    pub ciphertext: &'a [u8],
    /// `psk_id` from the protected header: selects mode_psk with the PSK of that id.
    pub psk_id: Option<&'a [u8]>,
}

/// The keys of one device, as the decryptor sees them.
///
/// Implementations decide where keys live; every method that touches key material performs
/// the operation and returns only the derived secret, so a private key never has to leave
/// the implementation.
pub trait DeviceKeys {
    /// The keys of `kind`. With `Some(kid)` only keys with exactly that key id; with `None`
    /// (the recipient named no key) every key of that kind, so each is tried in turn.
    fn find(&self, kind: KeyKind, kid: Option<&[u8]>) -> Vec<KeyRef>;

    /// The AES key-encryption key behind `key`.
    fn kek(&self, key: KeyRef) -> Result<SecretBytes, KeyError>;

    /// P-256 ECDH between the private key behind `key` and `peer`.
    fn ecdh_p256(&self, key: KeyRef, peer: &p256::PublicKey) -> Result<EcdhSecret, KeyError>;

    /// HPKE single-shot open with the private key behind `key`. Returns
    /// [`KeyError::OperationFailed`] if decapsulation or the AEAD fails and
    /// [`KeyError::UnknownPsk`] if `op.psk_id` names no PSK. [`hpke_open_p256`] does the work
    /// for implementations that can load the raw scalar.
    fn hpke_open(&self, key: KeyRef, op: &HpkeOpen<'_>) -> Result<SecretBytes, KeyError>;
}

/// [`DeviceKeys`] that counts the private-key operations asked of it (P-256 ECDH, HPKE
/// opens): each costs about a signature verification, and a recipient list can ask for one
/// per recipient and candidate key, so the engine charges them to its step budget.
pub struct Metered<'a> {
    inner: &'a dyn DeviceKeys,
    operations: core::cell::Cell<u64>,
}

impl<'a> Metered<'a> {
    pub fn new(inner: &'a dyn DeviceKeys) -> Self {
        Metered {
            inner,
            operations: core::cell::Cell::new(0),
        }
    }

    /// ECDH computations and HPKE opens asked for so far.
    pub fn operations(&self) -> u64 {
        self.operations.get()
    }

    fn count(&self) {
        self.operations.set(self.operations.get().saturating_add(1));
    }
}

impl DeviceKeys for Metered<'_> {
    fn find(&self, kind: KeyKind, kid: Option<&[u8]>) -> Vec<KeyRef> {
        self.inner.find(kind, kid)
    }

    fn kek(&self, key: KeyRef) -> Result<SecretBytes, KeyError> {
        self.inner.kek(key)
    }

    fn ecdh_p256(&self, key: KeyRef, peer: &p256::PublicKey) -> Result<EcdhSecret, KeyError> {
        self.count();
        self.inner.ecdh_p256(key, peer)
    }

    fn hpke_open(&self, key: KeyRef, op: &HpkeOpen<'_>) -> Result<SecretBytes, KeyError> {
        self.count();
        self.inner.hpke_open(key, op)
    }
}

/// HPKE open with a raw P-256 private scalar (and the PSK, if `op.psk_id` is set).
pub fn hpke_open_p256(
    secret: &p256::SecretKey,
    psk: Option<&[u8]>,
    op: &HpkeOpen<'_>,
) -> Result<SecretBytes, KeyError> {
    hpke::open_p256(secret, psk, op)
}

/// Boxed: entries live in a `Vec` that grows, and a key stored inline would be left behind,
/// unwiped, in every block the `Vec` outgrows (`SecretBytes` is already on the heap).
enum Material {
    Kek(SecretBytes),
    P256(Box<p256::SecretKey>),
}

struct Entry {
    kid: Option<Vec<u8>>,
    kind: KeyKind,
    material: Material,
}

/// In-memory [`DeviceKeys`]: for tests, the simulator and the author tool.
#[derive(Default)]
pub struct MemoryKeys {
    entries: Vec<Entry>,
    psks: Vec<(Vec<u8>, SecretBytes)>,
}

impl fmt::Debug for MemoryKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for e in &self.entries {
            l.entry(&(e.kind, e.kid.as_deref()));
        }
        l.finish()
    }
}

impl MemoryKeys {
    /// An empty key store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a 16-byte (A128KW) or 32-byte (A256KW) key-encryption key.
    pub fn add_kek(&mut self, kid: Option<&[u8]>, kek: &[u8]) -> Result<KeyRef, KeyError> {
        let wrap = KeyWrap::for_kek_len(kek.len()).ok_or(KeyError::InvalidKeyMaterial)?;
        Ok(self.push(
            kid,
            KeyKind::AesKw(wrap),
            Material::Kek(SecretBytes::from_slice(kek)),
        ))
    }

    /// Adds a P-256 private key (32-byte big-endian scalar) for ECDH-ES+AES-KW.
    pub fn add_ecdh_p256(&mut self, kid: Option<&[u8]>, d: &[u8]) -> Result<KeyRef, KeyError> {
        let sk = p256::SecretKey::from_slice(d).map_err(|_| KeyError::InvalidKeyMaterial)?;
        Ok(self.push(kid, KeyKind::EcdhEsP256, Material::P256(Box::new(sk))))
    }

    /// Adds a P-256 private key (32-byte big-endian scalar) for COSE-HPKE.
    pub fn add_hpke_p256(&mut self, kid: Option<&[u8]>, d: &[u8]) -> Result<KeyRef, KeyError> {
        let sk = p256::SecretKey::from_slice(d).map_err(|_| KeyError::InvalidKeyMaterial)?;
        Ok(self.push(kid, KeyKind::HpkeP256, Material::P256(Box::new(sk))))
    }

    /// Adds a P-256 private key for ECDH-ES+AES-KW without passing its bytes around.
    pub fn add_ecdh_p256_key(&mut self, kid: Option<&[u8]>, sk: p256::SecretKey) -> KeyRef {
        self.push(kid, KeyKind::EcdhEsP256, Material::P256(Box::new(sk)))
    }

    /// Adds a P-256 private key for COSE-HPKE without passing its bytes around.
    pub fn add_hpke_p256_key(&mut self, kid: Option<&[u8]>, sk: p256::SecretKey) -> KeyRef {
        self.push(kid, KeyKind::HpkeP256, Material::P256(Box::new(sk)))
    }

    /// Adds an HPKE pre-shared key, selected by the recipient's `psk_id`.
    pub fn add_psk(&mut self, psk_id: &[u8], psk: &[u8]) {
        self.psks
            .push((psk_id.into(), SecretBytes::from_slice(psk)));
    }

    fn push(&mut self, kid: Option<&[u8]>, kind: KeyKind, material: Material) -> KeyRef {
        let r = KeyRef(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        self.entries.push(Entry {
            kid: kid.map(Into::into),
            kind,
            material,
        });
        r
    }

    fn entry(&self, key: KeyRef) -> Result<&Entry, KeyError> {
        let idx = usize::try_from(key.0).map_err(|_| KeyError::UnknownKey)?;
        self.entries.get(idx).ok_or(KeyError::UnknownKey)
    }

    fn p256(&self, key: KeyRef, kind: KeyKind) -> Result<&p256::SecretKey, KeyError> {
        match self.entry(key)? {
            Entry {
                kind: k,
                material: Material::P256(sk),
                ..
            } if *k == kind => Ok(sk),
            _ => Err(KeyError::WrongKeyType),
        }
    }
}

impl DeviceKeys for MemoryKeys {
    fn find(&self, kind: KeyKind, kid: Option<&[u8]>) -> Vec<KeyRef> {
        (0u32..)
            .zip(&self.entries)
            .filter(|(_, e)| e.kind == kind && (kid.is_none() || e.kid.as_deref() == kid))
            .map(|(i, _)| KeyRef(i))
            .collect()
    }

    fn kek(&self, key: KeyRef) -> Result<SecretBytes, KeyError> {
        match &self.entry(key)?.material {
            Material::Kek(k) => Ok(k.clone()),
            Material::P256(_) => Err(KeyError::WrongKeyType),
        }
    }

    fn ecdh_p256(&self, key: KeyRef, peer: &p256::PublicKey) -> Result<EcdhSecret, KeyError> {
        let sk = self.p256(key, KeyKind::EcdhEsP256)?;
        let loaded = crate::crypto::provider()
            .ecdh_p256
            .load(sk)
            .ok_or(KeyError::Backend)?;
        let shared = loaded.agree(peer).ok_or(KeyError::Backend)?;
        EcdhSecret::from_slice(shared.as_ref()).ok_or(KeyError::Backend)
    }

    fn hpke_open(&self, key: KeyRef, op: &HpkeOpen<'_>) -> Result<SecretBytes, KeyError> {
        let sk = self.p256(key, KeyKind::HpkeP256)?;
        let psk = match op.psk_id {
            None => None,
            Some(id) => Some(
                self.psks
                    .iter()
                    .find(|(pid, _)| pid.as_slice() == id)
                    .map(|(_, psk)| psk.as_bytes())
                    .ok_or(KeyError::UnknownPsk)?,
            ),
        };
        hpke_open_p256(sk, psk, op)
    }
}
