//! OP-TEE's own crypto (GP TEE Internal Core API: `TEE_Digest*`, `TEE_AE*`, `TEE_Cipher*`,
//! `TEE_AsymmetricVerifyDigest`, `TEE_DeriveKey`) behind `suit_common::crypto`'s seam, and
//! the provider the TA installs: per operation, whichever back end measured faster inside
//! OP-TEE on QEMU (`suit-agent crypto-bench`, BENCHMARKS.md's "Crypto providers" headings).
//!
//! Key material is loaded into transient objects (the TEE core holds it; the objects are
//! freed, and OP-TEE wipes them, when the operation ends); this module makes no copy of a key
//! outside them except the ECDH scalar's encoding, which is wiped after loading.
//!
//! GP functions panic the TA on invalid input instead of returning an error, so every input
//! reaches them already checked: key and IV lengths here, curve points by `p256`'s types.
// `SELECTED` takes no GP operation today (the measurements favour RustCrypto under QEMU), so
// outside the test build, whose crypto bench compares both, the GP provider is unreferenced.
#![cfg_attr(not(test_commands), allow(dead_code))]

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use optee_utee::{
    AlgorithmId, Asymmetric, AttributeId, AttributeMemref, AttributeValue, Cipher, DeriveKey,
    Digest, ElementId, GenericObject, OperationMode, TransientObject, TransientObjectType, AE,
};
use p256::elliptic_curve::sec1::ToSec1Point;
use suit_common::crypto::{
    AesCtrOp, AesGcmOp, CryptoProvider, EcdhP256Key, EcdhP256Op, EcdsaP256Op, Sha256Hash, Sha256Op,
    StreamDecrypt, RUSTCRYPTO,
};
use suit_common::encryption::content::{GCM_IV_LEN, GCM_TAG_LEN};
use suit_common::encryption::{DecryptError, KeyError, Location, Problem};
use zeroize::{Zeroize, Zeroizing};

/// The GP TEE API for every operation (measured against [`RUSTCRYPTO`]).
pub static GP_TEE: CryptoProvider = CryptoProvider {
    name: "gp-tee",
    sha256: &GpSha256,
    aes_gcm: &GpAesGcm,
    aes_ctr: &GpAesCtr,
    ecdsa_p256: &GpEcdsa,
    ecdh_p256: &GpEcdh,
};

/// What the TA runs on, chosen per operation from the numbers measured inside OP-TEE on QEMU
/// (`qemu/bench.sh 1 --crypto`: RustCrypto vs the GP TEE API in the same boot, streams fed in
/// 64 KiB chunks; BENCHMARKS.md's "Crypto providers" headings and "the pipeline's loops
/// compiled for speed (suit-bulk)"):
///
/// | operation | choice | measured reason (suit-bulk's loops, 1 MiB unless stated) |
/// |---|---|---|
/// | SHA-256 | RustCrypto | 64 B: 87x faster (GP pays a system call per step); 1 MiB: 2.1x faster |
/// | AES-GCM decrypt | RustCrypto | 2.9x faster (64 vs 189 ms); 4 KiB: 6.5x |
/// | AES-CTR decrypt | RustCrypto | 1.5x faster (38 vs 57 ms); 4 KiB: 6.5x |
/// | ECDSA P-256 verify | RustCrypto | 172x faster |
/// | ECDH P-256 | RustCrypto | 480x faster |
///
/// Bulk AES was the open choice while the RustCrypto loops were compiled in suit-common at
/// opt-level "z" (GP 1.06x faster for GCM and 3.5x for CTR: BENCHMARKS.md "the AES family at
/// opt-level"), where the machine outliner split them; in `suit_bulk` at "s" they beat
/// OP-TEE's, which runs on the ARMv8 AES instructions QEMU emulates. Calling GP's AES would also link libutee's whole
/// GP operation object into production (+20,544 B, see `random.rs`). `GP_TEE` stays for the
/// measurement and for hardware whose TEE core accelerates AES natively: re-measure there and
/// change this table. Only the test-build bench references it
/// (main.rs `crypto_bench`, compiled only under cfg `test_commands`), so a
/// production build carries neither it nor `suit_common::crypto::bench` (checked with nm,
/// BENCHMARKS.md "unwind tables, one SHA-256").
pub static SELECTED: CryptoProvider = CryptoProvider {
    name: "selected",
    ..RUSTCRYPTO_OPS
};

const RUSTCRYPTO_OPS: CryptoProvider = CryptoProvider {
    name: "rustcrypto",
    sha256: &suit_common::crypto::RustCryptoSha256,
    aes_gcm: &suit_common::crypto::RustCryptoAesGcm,
    aes_ctr: &suit_common::crypto::RustCryptoAesCtr,
    ecdsa_p256: &suit_common::crypto::RustCryptoEcdsa,
    ecdh_p256: &suit_common::crypto::RustCryptoEcdh,
};

/// Every provider the crypto-bench command compares.
pub fn candidates() -> [&'static CryptoProvider; 2] {
    [&RUSTCRYPTO, &GP_TEE]
}

fn backend<T>(_: T) -> DecryptError {
    DecryptError::DeviceKey(KeyError::Backend)
}

fn check_key(key: &[u8]) -> Result<usize, DecryptError> {
    match key.len() {
        16 | 32 => Ok(key.len() * 8),
        n => Err(DecryptError::ContentKeyLength {
            expected: if n < 32 { 16 } else { 32 },
            found: n,
        }),
    }
}

fn iv_error(n: usize) -> DecryptError {
    DecryptError::Malformed {
        at: Location::Unprotected,
        problem: Problem::IvLength(n),
    }
}

/// An AES key as a transient object.
fn aes_key(key: &[u8], bits: usize) -> Result<TransientObject, DecryptError> {
    let mut obj = TransientObject::allocate(TransientObjectType::Aes, bits).map_err(backend)?;
    obj.populate(&[AttributeMemref::from_ref(AttributeId::SecretValue, key).into()])
        .map_err(backend)?;
    Ok(obj)
}

/// `TEE_ALG_SHA256`.
pub struct GpSha256;

struct GpDigest(Digest);

impl Sha256Hash for GpDigest {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finish(self: Box<Self>) -> [u8; 32] {
        let mut out = [0u8; 32];
        // A 32-byte buffer is never short, and GP panics the TA on every other failure of
        // TEE_DigestDoFinal; so an error here is unreachable, and returning any digest
        // would be wrong: stop the TA as GP would.
        if !matches!(self.0.do_final(&[], &mut out), Ok(32)) {
            // SAFETY: TEE_Panic takes a plain code and does not return.
            unsafe { optee_utee_sys::TEE_Panic(0) };
        }
        out
    }
}

impl Sha256Op for GpSha256 {
    fn start(&self) -> Box<dyn Sha256Hash> {
        match Digest::allocate(AlgorithmId::Sha256) {
            Ok(d) => Box::new(GpDigest(d)),
            // Out of TEE memory: the same digest from RustCrypto.
            Err(_) => suit_common::crypto::RustCryptoSha256.start(),
        }
    }
}

/// `TEE_ALG_AES_GCM` (tag length 128 bits), streaming with the tag withheld.
pub struct GpAesGcm;

struct GpGcm {
    op: AE,
    /// The last bytes seen (up to 16): they may be the tag.
    held: Vec<u8>,
}

impl StreamDecrypt for GpGcm {
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        let total = self.held.len() + input.len();
        if total <= GCM_TAG_LEN {
            self.held.extend_from_slice(input);
            return Ok(Zeroizing::new(Vec::new()));
        }
        // Everything but the last 16 bytes seen is ciphertext proper.
        let mut all = Vec::with_capacity(total);
        all.extend_from_slice(&self.held);
        all.extend_from_slice(input);
        let (body, tail) = all.split_at(total - GCM_TAG_LEN);
        self.held.clear();
        self.held.extend_from_slice(tail);
        // OP-TEE may hold back a partial block: room for one more block than the input.
        let mut out = Zeroizing::new(vec![0u8; body.len() + 16]);
        let n = self.op.update(body, &mut out).map_err(backend)?;
        out.truncate(n);
        Ok(out)
    }

    fn finish(self: Box<Self>) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        if self.held.len() < GCM_TAG_LEN {
            return Err(DecryptError::Truncated);
        }
        let mut out = Zeroizing::new(vec![0u8; 32]);
        match self.op.decrypt_final(&[], &mut out, &self.held) {
            Ok(n) => {
                out.truncate(n);
                Ok(out)
            }
            Err(e) if e.kind() == optee_utee::ErrorKind::MacInvalid => {
                Err(DecryptError::TagMismatch)
            }
            Err(e) => Err(backend(e)),
        }
    }
}

impl AesGcmOp for GpAesGcm {
    fn decryptor(
        &self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
    ) -> Result<Box<dyn StreamDecrypt>, DecryptError> {
        let bits = check_key(key)?;
        if !GCM_IV_LEN.contains(&iv.len()) {
            return Err(iv_error(iv.len()));
        }
        let op =
            AE::allocate(AlgorithmId::AesGcm, OperationMode::Decrypt, bits).map_err(backend)?;
        op.set_key(&aes_key(key, bits)?).map_err(backend)?;
        op.init(iv, GCM_TAG_LEN * 8, aad.len(), 0)
            .map_err(backend)?;
        op.update_aad(aad);
        Ok(Box::new(GpGcm {
            op,
            held: Vec::with_capacity(GCM_TAG_LEN),
        }))
    }
}

/// `TEE_ALG_AES_CTR` (OP-TEE's counter is the whole 16-byte block, big-endian, as RFC 9459
/// needs; the known-answer checks include the wrap).
pub struct GpAesCtr;

struct GpCtr(Cipher);

impl StreamDecrypt for GpCtr {
    fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        let mut out = Zeroizing::new(vec![0u8; input.len() + 16]);
        let n = self.0.update(input, &mut out).map_err(backend)?;
        out.truncate(n);
        Ok(out)
    }

    fn finish(self: Box<Self>) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        let mut out = Zeroizing::new(vec![0u8; 32]);
        let n = self.0.do_final(&[], &mut out).map_err(backend)?;
        out.truncate(n);
        Ok(out)
    }
}

impl AesCtrOp for GpAesCtr {
    fn decryptor(&self, key: &[u8], iv: &[u8]) -> Result<Box<dyn StreamDecrypt>, DecryptError> {
        let bits = check_key(key)?;
        if iv.len() != 16 {
            return Err(iv_error(iv.len()));
        }
        let op =
            Cipher::allocate(AlgorithmId::AesCtr, OperationMode::Decrypt, bits).map_err(backend)?;
        op.set_key(&aes_key(key, bits)?).map_err(backend)?;
        op.init(iv);
        Ok(Box::new(GpCtr(op)))
    }
}

/// The affine coordinates of a valid point (never the identity, which p256's public key
/// types exclude).
fn coordinates(p: &p256::AffinePoint) -> Option<([u8; 32], [u8; 32])> {
    let sec1 = p.to_sec1_point(false);
    let x: [u8; 32] = sec1.x()?.as_slice().try_into().ok()?;
    let y: [u8; 32] = sec1.y()?.as_slice().try_into().ok()?;
    Some((x, y))
}

fn curve() -> AttributeValue {
    AttributeValue::from_value(AttributeId::EccCurve, ElementId::EccCurveNistP256 as u32, 0)
}

/// `TEE_ALG_ECDSA_SHA256` over the prehash (`TEE_AsymmetricVerifyDigest`).
pub struct GpEcdsa;

impl GpEcdsa {
    fn try_verify(
        key: &p256::ecdsa::VerifyingKey,
        digest: &[u8; 32],
        signature: &p256::ecdsa::Signature,
    ) -> Option<bool> {
        let (x, y) = coordinates(key.as_affine())?;
        let mut obj = TransientObject::allocate(TransientObjectType::EcdsaPublicKey, 256).ok()?;
        obj.populate(&[
            AttributeMemref::from_ref(AttributeId::EccPublicValueX, &x).into(),
            AttributeMemref::from_ref(AttributeId::EccPublicValueY, &y).into(),
            curve().into(),
        ])
        .ok()?;
        let mut op =
            Asymmetric::allocate(AlgorithmId::EcDsaSha256, OperationMode::Verify, 256).ok()?;
        op.set_key(&obj).ok()?;
        Some(op.verify_digest(&[], digest, &signature.to_bytes()).is_ok())
    }
}

impl EcdsaP256Op for GpEcdsa {
    fn verify_prehash(
        &self,
        key: &p256::ecdsa::VerifyingKey,
        digest: &[u8; 32],
        signature: &p256::ecdsa::Signature,
    ) -> bool {
        // A back-end failure is not a valid signature.
        Self::try_verify(key, digest, signature).unwrap_or(false)
    }
}

/// `TEE_ALG_ECDH_DERIVE_SHARED_SECRET` with the private key as a TEE key-pair object.
pub struct GpEcdh;

struct GpEcdhKey(TransientObject);

impl EcdhP256Key for GpEcdhKey {
    fn agree(&self, peer: &p256::PublicKey) -> Option<Zeroizing<[u8; 32]>> {
        let (x, y) = coordinates(peer.as_affine())?;
        let mut op = DeriveKey::allocate(AlgorithmId::EcDhDeriveSharedSecret, 256).ok()?;
        op.set_key(&self.0).ok()?;
        let mut shared = TransientObject::allocate(TransientObjectType::GenericSecret, 256).ok()?;
        op.derive(
            &[
                AttributeMemref::from_ref(AttributeId::EccPublicValueX, &x).into(),
                AttributeMemref::from_ref(AttributeId::EccPublicValueY, &y).into(),
            ],
            &mut shared,
        );
        let mut out = Zeroizing::new([0u8; 32]);
        let n = shared
            .ref_attribute(AttributeId::SecretValue, out.as_mut())
            .ok()?;
        (n == 32).then_some(out)
    }
}

impl EcdhP256Op for GpEcdh {
    fn load(&self, secret: &p256::SecretKey) -> Option<Box<dyn EcdhP256Key>> {
        // OP-TEE's key pair needs the public point too.
        let (x, y) = coordinates(secret.public_key().as_affine())?;
        let mut encoded = secret.to_bytes();
        let d: &[u8] = &encoded;
        let mut obj = TransientObject::allocate(TransientObjectType::EcdhKeypair, 256).ok();
        let loaded = obj.as_mut().map(|o| {
            o.populate(&[
                AttributeMemref::from_ref(AttributeId::EccPrivateValue, d).into(),
                AttributeMemref::from_ref(AttributeId::EccPublicValueX, &x).into(),
                AttributeMemref::from_ref(AttributeId::EccPublicValueY, &y).into(),
                curve().into(),
            ])
            .is_ok()
        });
        encoded.as_mut_slice().zeroize();
        match (obj, loaded) {
            (Some(o), Some(true)) => Some(Box::new(GpEcdhKey(o))),
            _ => None,
        }
    }
}
