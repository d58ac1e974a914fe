//! Fixtures shared by the fuzz targets: fixed trust anchors and device keys (the public test
//! keys of the vectors under tests/vectors, compiled in so a fuzz run reads no files), a fixed
//! policy, and an in-memory platform that checks the engine's commit/discard contract.

pub mod heap;

use std::collections::BTreeMap;

use suit_common::cose::{SigningKey, VerificationKey};
use suit_common::encryption::MemoryKeys;
use suit_common::suit::platform::{IdentifierKind, Platform, PlatformError, Record};
use suit_common::suit::policy::{Policy, Role, TrustAnchor};
use suit_common::suit::ComponentId;

/// Vendor and class ids of the manifest-spec examples.
pub const VENDOR_ID: [u8; 16] = [
    0xfa, 0x6b, 0x4a, 0x53, 0xd5, 0xad, 0x5f, 0xdf, 0xbe, 0x9d, 0xe6, 0x63, 0xe4, 0xd4, 0x1f, 0xfe,
];
pub const CLASS_ID: [u8; 16] = [
    0x14, 0x92, 0xaf, 0x14, 0x25, 0x69, 0x5e, 0x48, 0xbf, 0x42, 0x9b, 0x2d, 0x51, 0xf2, 0xab, 0x45,
];

/// ES256 key of the manifest-spec examples and of the firmware-encryption vectors' author
/// (tests/vectors/suit-manifest-spec/public_key.pem, uncompressed point).
const SPEC_SIGNER: &str = "048496811aae0baaabd26157189eecda26beaa8bf11b6f3fe6e2b5659c85dbc0ad\
                           3b1f2a4b6c098131c0a36dacd1d78bd381dcdfb09c052db33991db7338b4a896";
/// tests/vectors/suit-firmware-encryption/dependent_manifest_signer_es256_pub.pem.
const DEPENDENT_SIGNER: &str = "040e908aa8f066db1f084e0c3652c63952bd99f2a5bdb22f9e01367aad03aba6\
                                8b77da1bd8ac4f0cb490ba210648bf79ab164d49ad3551d71d314b2749ee42d29a";
/// tests/vectors/suit-firmware-encryption/hmac256_key.bin.
const VECTOR_HMAC: &[u8; 32] = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// The key `process_resigned` seals every fuzzed manifest with (HMAC: cheap to create).
pub const FUZZ_HMAC: &[u8; 32] = b"suit-fuzz fixed HMAC-SHA256 key!";

/// Device keys: A128KW KEK "kid-1" and the P-256 ECDH key "kid-2" of the firmware-encryption
/// vectors; the HPKE-0-KE and HPKE-0 recipient keys of the COSE-HPKE draft examples; and the
/// draft's HPKE PSK.
const ECDH_KID2_D: &str = "60fe6dd6d85d5740a5349b6f91267eeac5ba81b8cb53ee249e4b4eb102c476b3";
const HPKE_KE_BOB_D: &str = "b1162c568efcba91c8e4e82f66e36b45aa10bc55228cf65ecd3bb29cfb09f989";
const HPKE_INT_BOB_D: &str = "eca39300147c91a2a65d17e00ea278b57a14178245bf5686d9a404cca1816b8e";
const HPKE_PSK: &str = "0247fd33b913760fa1fa51e1892d9f307fbe65eb171e8132c2af18555a738b82";

/// Splits a fuzz input laid out as `first byte | length (2, big endian) | part | rest`: the
/// first byte (the target's selector or flags), the part (its length capped at what is
/// there) and the rest. `None` for an input shorter than the three header bytes.
pub fn split_input(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&first, rest) = data.split_first()?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    let (part, rest) = rest.split_at(len);
    Some((first, part, rest))
}

/// Decodes a hex constant (fixtures only).
pub fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

pub fn device_keys() -> MemoryKeys {
    let mut k = MemoryKeys::new();
    k.add_kek(Some(b"kid-1"), b"aaaaaaaaaaaaaaaa").unwrap();
    k.add_ecdh_p256(Some(b"kid-2"), &hex(ECDH_KID2_D)).unwrap();
    k.add_hpke_p256(Some(b"bob"), &hex(HPKE_KE_BOB_D)).unwrap();
    k.add_hpke_p256(None, &hex(HPKE_INT_BOB_D)).unwrap();
    k.add_psk(b"Ennyn Durin aran Moria", &hex(HPKE_PSK));
    k
}

/// Anchors 1 (spec/author ES256), 2 (dependent signer, operator), 3 (vector HMAC, operator),
/// 4 (the fuzz HMAC key, author).
pub fn policy() -> Policy {
    Policy {
        anchors: vec![
            TrustAnchor::unrestricted(
                1,
                VerificationKey::p256_from_sec1(&hex(SPEC_SIGNER)).unwrap(),
                Role::Author,
            ),
            TrustAnchor::unrestricted(
                2,
                VerificationKey::p256_from_sec1(&hex(DEPENDENT_SIGNER)).unwrap(),
                Role::Operator,
            ),
            TrustAnchor::unrestricted(
                3,
                VerificationKey::hmac256(VECTOR_HMAC).unwrap(),
                Role::Operator,
            ),
            TrustAnchor::unrestricted(
                4,
                VerificationKey::hmac256(FUZZ_HMAC).unwrap(),
                Role::Author,
            ),
        ],
        rules: Vec::new(),
        require_plaintext_digest: false,
        update_management: Default::default(),
    }
}

pub fn fuzz_signing_key() -> SigningKey {
    SigningKey::hmac256(FUZZ_HMAC).unwrap()
}

/// The detached payload the aes-kw firmware-encryption vector fetches (compiled in).
const ENCRYPTED_FIRMWARE: &[u8] = include_bytes!(
    "../../tests/vectors/suit-firmware-encryption/encrypted-payload-aes-kw-aes-gcm.bin"
);

/// An in-memory device that also checks the engine's contract: nothing is installed unless
/// `commit` ran, a failed run always ends in `discard`, and staging is only written after it
/// was opened.
#[derive(Debug, Default)]
pub struct FuzzPlatform {
    pub remote: BTreeMap<String, Vec<u8>>,
    open: Option<(Vec<u8>, usize)>,
    pub staged: BTreeMap<ComponentId, Vec<u8>>,
    pub installed: BTreeMap<ComponentId, Vec<u8>>,
    pub sequence: BTreeMap<Vec<u8>, u64>,
    staged_sequence: BTreeMap<Vec<u8>, u64>,
    pub commits: usize,
    pub discards: usize,
    /// Chunk size `fetch_read` returns at most (exercise streaming).
    pub read_chunk: usize,
}

impl FuzzPlatform {
    pub fn new() -> Self {
        let mut remote = BTreeMap::new();
        remote.insert(
            "coaps://example.com/encrypted-firmware".to_string(),
            ENCRYPTED_FIRMWARE.to_vec(),
        );
        remote.insert(
            "http://example.com/file.bin".to_string(),
            b"fuzz payload".to_vec(),
        );
        FuzzPlatform {
            remote,
            read_chunk: 61,
            ..Default::default()
        }
    }
}

/// Largest staged component the platform accepts (keeps a run's memory bounded).
const MAX_STAGED: usize = 1 << 20;

impl Platform for FuzzPlatform {
    fn identifier_matches(&self, kind: IdentifierKind, _c: &ComponentId, value: &[u8]) -> bool {
        match kind {
            IdentifierKind::Vendor => value == VENDOR_ID,
            IdentifierKind::Class => value == CLASS_ID,
            IdentifierKind::Device => false,
        }
    }

    fn slot_matches(&self, _c: &ComponentId, slot: u64) -> Result<bool, PlatformError> {
        Ok(slot == 0)
    }

    fn fetch_open(&mut self, uri: &str, _args: Option<&[u8]>) -> Result<(), PlatformError> {
        let data = self.remote.get(uri).ok_or(PlatformError::NotFound)?.clone();
        self.open = Some((data, 0));
        Ok(())
    }

    fn fetch_read(&mut self, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let chunk = self.read_chunk.max(1);
        let (data, pos) = self.open.as_mut().ok_or(PlatformError::Io)?;
        let n = (data.len() - *pos).min(buf.len()).min(chunk);
        buf[..n].copy_from_slice(&data[*pos..*pos + n]);
        *pos += n;
        Ok(n)
    }

    fn stage_open(&mut self, c: &ComponentId) -> Result<(), PlatformError> {
        self.staged.insert(c.clone(), Vec::new());
        Ok(())
    }

    fn stage_write(&mut self, c: &ComponentId, data: &[u8]) -> Result<(), PlatformError> {
        let s = self.staged.get_mut(c).ok_or(PlatformError::Io)?;
        if s.len() + data.len() > MAX_STAGED {
            return Err(PlatformError::NoSpace);
        }
        s.extend_from_slice(data);
        Ok(())
    }

    fn stage_discard(&mut self, c: &ComponentId) {
        self.staged.remove(c);
    }

    fn read(&self, c: &ComponentId, offset: u64, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let data = self
            .staged
            .get(c)
            .or_else(|| self.installed.get(c))
            .ok_or(PlatformError::NotFound)?;
        let Ok(off) = usize::try_from(offset) else {
            return Ok(0);
        };
        if off >= data.len() {
            return Ok(0);
        }
        let n = (data.len() - off).min(buf.len());
        buf[..n].copy_from_slice(&data[off..off + n]);
        Ok(n)
    }

    fn swap(&mut self, _a: &ComponentId, _b: &ComponentId) -> Result<(), PlatformError> {
        Ok(())
    }

    fn invoke(&mut self, _c: &ComponentId, _args: Option<&[u8]>) -> Result<(), PlatformError> {
        Ok(())
    }

    fn sequence_number(&self, key: &[u8]) -> Result<Option<u64>, PlatformError> {
        Ok(self.sequence.get(key).copied())
    }

    fn stage_sequence_number(&mut self, key: &[u8], value: u64) -> Result<(), PlatformError> {
        self.staged_sequence.insert(key.to_vec(), value);
        Ok(())
    }

    fn commit(&mut self) -> Result<(), PlatformError> {
        self.commits += 1;
        let staged = std::mem::take(&mut self.staged);
        self.installed.extend(staged);
        let seq = std::mem::take(&mut self.staged_sequence);
        self.sequence.extend(seq);
        Ok(())
    }

    fn discard(&mut self) {
        self.discards += 1;
        self.staged.clear();
        self.staged_sequence.clear();
    }

    fn report(&mut self, _r: &Record<'_>) {}
}

/// Runs one procedure on a fresh platform and asserts the commit/discard contract.
/// Returns whether the envelope got past decoding and authentication.
pub fn run_process(envelope: &[u8], procedure: suit_common::suit::Procedure, chunk: usize) -> bool {
    use suit_common::suit::Error;
    let policy = policy();
    let keys = device_keys();
    let mut dev = FuzzPlatform::new();
    dev.read_chunk = chunk;
    let result = suit_common::suit::process(envelope, procedure, &policy, &keys, &mut dev);
    match &result {
        Ok(outcome) => {
            assert_eq!(dev.commits, 1, "success must commit exactly once");
            assert_eq!(dev.discards, 0, "success must not discard");
            assert!(!outcome.signers.is_empty(), "success without a signer");
        }
        Err(_) => {
            assert_eq!(dev.commits, 0, "a failed run committed");
            assert!(dev.discards >= 1, "a failed run did not discard");
            assert!(dev.installed.is_empty(), "a failed run installed something");
            assert!(dev.staged.is_empty(), "a failed run left staged data");
        }
    }
    matches!(
        result,
        Ok(_)
            | Err(Error::Policy(_))
            | Err(Error::Command(_))
            | Err(Error::UnverifiedPlaintext(_))
            | Err(Error::SeveredSectionMissing(_))
            | Err(Error::Platform(_))
    )
}
