//! The device's own keys: a P-256 key for payload decryption (ECDH-ES and COSE-HPKE
//! recipients) and a P-256 key for signing reports. Both are generated inside the TA from the
//! TEE's RNG on first use and kept in one secure-storage object; only public halves leave.

use alloc::vec::Vec;
use p256::elliptic_curve::sec1::ToSec1Point;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::encryption::MemoryKeys;
use crate::protocol;

use super::store::{SecureStore, StoreError};

/// Object holding the private keys.
pub const KEYS_OBJECT: &str = "suit/device-keys";
/// Object holding pre-shared key-encryption keys (A128KW/A256KW), added by the TPA.
pub const KEKS_OBJECT: &str = "suit/keks";

/// Randomness from the environment (the TEE's RNG inside OP-TEE).
pub trait Rng {
    fn fill(&mut self, out: &mut [u8]);
}

/// How the keys came to be: reported in status, because imported keys were once outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    Generated,
    /// Installed once from a TPA-signed provisioning message (weak-RNG platforms).
    Imported,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    decrypt: ByteBuf,
    report: ByteBuf,
    origin: Origin,
}

impl Drop for Stored {
    fn drop(&mut self) {
        self.decrypt.as_mut_slice().zeroize();
        self.report.as_mut_slice().zeroize();
    }
}

/// The loaded private keys; zeroized on drop (p256::SecretKey zeroizes itself).
pub struct DeviceKeyPair {
    decrypt: p256::SecretKey,
    report: p256::SecretKey,
    pub origin: Origin,
}

/// Failures of the key store. Never carries key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStoreError {
    Store(StoreError),
    /// The stored key object does not decode: refuse to silently make a new key.
    Corrupt,
    /// The RNG kept producing invalid scalars.
    Rng,
    /// Keys exist already; they are never replaced.
    AlreadyExists,
}

impl From<StoreError> for KeyStoreError {
    fn from(e: StoreError) -> Self {
        KeyStoreError::Store(e)
    }
}

/// A public key as exported: uncompressed SEC1 point and its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    pub sec1: Vec<u8>,
    pub kid: Vec<u8>,
}

/// Key id of a P-256 public key: the first 16 bytes of SHA-256 over its SEC1 point. Authors
/// may put it in a recipient's `kid`; recipients without one are tried anyway.
pub fn key_id(sec1: &[u8]) -> Vec<u8> {
    Sha256::digest(sec1)[..16].to_vec()
}

fn random_scalar<R: Rng + ?Sized>(rng: &mut R) -> Result<p256::SecretKey, KeyStoreError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    for _ in 0..16 {
        rng.fill(bytes.as_mut());
        if let Ok(k) = p256::SecretKey::from_slice(bytes.as_ref()) {
            return Ok(k);
        }
    }
    Err(KeyStoreError::Rng)
}

fn public(sk: &p256::SecretKey) -> PublicKeyInfo {
    let sec1 = sk.public_key().to_sec1_point(false).as_bytes().to_vec();
    PublicKeyInfo {
        kid: key_id(&sec1),
        sec1,
    }
}

impl DeviceKeyPair {
    /// Loads the keys, generating them from `env`'s RNG and storing them on first use.
    pub fn load_or_create<E: SecureStore + Rng + ?Sized>(
        env: &mut E,
    ) -> Result<Self, KeyStoreError> {
        if let Some(bytes) = env.get(KEYS_OBJECT)? {
            let stored: Stored =
                protocol::decode(&bytes, 1024).map_err(|_| KeyStoreError::Corrupt)?;
            let decrypt =
                p256::SecretKey::from_slice(&stored.decrypt).map_err(|_| KeyStoreError::Corrupt)?;
            let report =
                p256::SecretKey::from_slice(&stored.report).map_err(|_| KeyStoreError::Corrupt)?;
            return Ok(DeviceKeyPair {
                decrypt,
                report,
                origin: stored.origin,
            });
        }
        let pair = DeviceKeyPair {
            decrypt: random_scalar(env)?,
            report: random_scalar(env)?,
            origin: Origin::Generated,
        };
        let stored = Stored {
            decrypt: ByteBuf::from(pair.decrypt.to_bytes().to_vec()),
            report: ByteBuf::from(pair.report.to_bytes().to_vec()),
            origin: pair.origin,
        };
        let bytes = Zeroizing::new(protocol::encode(&stored).map_err(|_| KeyStoreError::Corrupt)?);
        env.put(KEYS_OBJECT, &bytes)?;
        Ok(pair)
    }

    /// Whether keys exist (without creating them).
    pub fn exist<E: SecureStore + ?Sized>(env: &E) -> Result<bool, KeyStoreError> {
        Ok(env.len(KEYS_OBJECT)?.is_some())
    }

    /// Stores TPA-provided keys; refused once keys exist (generated or imported).
    pub fn import<E: SecureStore + ?Sized>(
        env: &mut E,
        decrypt: &[u8],
        report: &[u8],
    ) -> Result<Self, KeyStoreError> {
        if Self::exist(env)? {
            return Err(KeyStoreError::AlreadyExists);
        }
        let pair = DeviceKeyPair {
            decrypt: p256::SecretKey::from_slice(decrypt).map_err(|_| KeyStoreError::Corrupt)?,
            report: p256::SecretKey::from_slice(report).map_err(|_| KeyStoreError::Corrupt)?,
            origin: Origin::Imported,
        };
        pair.store(env)?;
        Ok(pair)
    }

    fn store<E: SecureStore + ?Sized>(&self, env: &mut E) -> Result<(), KeyStoreError> {
        let stored = Stored {
            decrypt: ByteBuf::from(self.decrypt.to_bytes().to_vec()),
            report: ByteBuf::from(self.report.to_bytes().to_vec()),
            origin: self.origin,
        };
        let bytes = Zeroizing::new(protocol::encode(&stored).map_err(|_| KeyStoreError::Corrupt)?);
        env.put(KEYS_OBJECT, &bytes)?;
        Ok(())
    }

    pub fn decryption_public(&self) -> PublicKeyInfo {
        public(&self.decrypt)
    }

    pub fn report_public(&self) -> PublicKeyInfo {
        public(&self.report)
    }

    /// The report-signing key, for `report` only.
    pub fn report_secret(&self) -> &p256::SecretKey {
        &self.report
    }

    // TEMPORARY (h-prov): stand-ins for the per-purpose keys of branch h-keys, derived from
    // the existing scalars; the merge of h-keys replaces them.
    /// The device identity key (signs provisioning receipts).
    pub fn identity_public(&self) -> PublicKeyInfo {
        public(&self.report)
    }

    pub fn identity_secret(&self) -> &p256::SecretKey {
        &self.report
    }

    /// The key TPA secrets (symmetric anchors, KEKs) are encrypted to.
    pub fn provisioning_public(&self) -> PublicKeyInfo {
        public(&self.decrypt)
    }

    pub fn provisioning_secret(&self) -> &p256::SecretKey {
        &self.decrypt
    }

    /// The decryption key set the engine uses: the device key for ECDH-ES and for HPKE (by
    /// kid or, for recipients without one, by trial), plus any provisioned KEKs.
    pub fn decryption_keys(&self, keks: &[(Vec<u8>, Zeroizing<Vec<u8>>)]) -> MemoryKeys {
        let mut keys = MemoryKeys::new();
        let kid = self.decryption_public().kid;
        let d = Zeroizing::new(self.decrypt.to_bytes().to_vec());
        // Both registrations are derived from one valid scalar, so they cannot fail.
        let _ = keys.add_ecdh_p256(Some(&kid), &d);
        let _ = keys.add_hpke_p256(Some(&kid), &d);
        for (kek_id, kek) in keks {
            let _ = keys.add_kek(Some(kek_id), kek);
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::super::memory::MemoryBackend as TestBackend;
    use super::*;

    #[test]
    fn keys_are_created_once_and_stable() {
        let mut env = TestBackend::new(1);
        let a = DeviceKeyPair::load_or_create(&mut env).unwrap();
        env.seed = 99;
        let b = DeviceKeyPair::load_or_create(&mut env).unwrap();
        assert_eq!(a.decryption_public(), b.decryption_public());
        assert_ne!(
            a.decryption_public(),
            a.report_public(),
            "two distinct keys"
        );
        assert_eq!(a.decryption_public().sec1.len(), 65);
        let other = DeviceKeyPair::load_or_create(&mut TestBackend::new(2)).unwrap();
        assert_ne!(
            a.decryption_public(),
            other.decryption_public(),
            "keys come from the RNG"
        );
    }

    #[test]
    fn a_corrupt_key_object_is_an_error_not_a_new_key() {
        let mut env = TestBackend::new(1);
        env.put(KEYS_OBJECT, b"junk").unwrap();
        assert_eq!(
            DeviceKeyPair::load_or_create(&mut env).err(),
            Some(KeyStoreError::Corrupt)
        );
    }

    #[test]
    fn a_broken_rng_is_reported_and_nothing_stored() {
        let mut env = TestBackend::new(1);
        env.broken_rng = true;
        assert_eq!(
            DeviceKeyPair::load_or_create(&mut env).err(),
            Some(KeyStoreError::Rng)
        );
        assert!(env.store.names().is_empty());
    }
}
