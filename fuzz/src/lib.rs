//! Fixtures shared by the fuzz targets: fixed trust anchors and device keys (the public test
//! keys of the vectors under tests/vectors, compiled in so a fuzz run reads no files), a fixed
//! policy, and the suit-test-support in-memory platform, with checks of the engine's
//! commit/discard contract on top; the entries of the `process_resigned`, `encryption` and
//! (in `session`) `protocol` targets, so the generated seeds (`seeds`) are tested through the
//! code the targets run.

pub mod heap;
pub mod seeds;
pub mod session;

use suit_common::cose::{SigningKey, VerificationKey};
use suit_common::encryption::MemoryKeys;
use suit_common::suit::policy::{Policy, Role, TrustAnchor};
use suit_common::suit::{Outcome, Procedure};
use suit_test_support::RecordingPlatform;

/// ES256 key of the manifest-spec examples and of the firmware-encryption vectors' author
/// (tests/vectors/suit-manifest-spec/public_key.pem, uncompressed point).
const SPEC_SIGNER: &str = "048496811aae0baaabd26157189eecda26beaa8bf11b6f3fe6e2b5659c85dbc0ad\
                           3b1f2a4b6c098131c0a36dacd1d78bd381dcdfb09c052db33991db7338b4a896";
/// tests/vectors/suit-firmware-encryption/dependent_manifest_signer_es256_pub.pem.
const DEPENDENT_SIGNER: &str = "040e908aa8f066db1f084e0c3652c63952bd99f2a5bdb22f9e01367aad03aba6\
                                8b77da1bd8ac4f0cb490ba210648bf79ab164d49ad3551d71d314b2749ee42d29a";
/// tests/vectors/suit-firmware-encryption/hmac256_key.bin.
const VECTOR_HMAC: &[u8; 32] = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// An HSS-LMS public key (RFC 8554 §6.1: L = 2, top tree LMS_SHA256_M32_H5 /
/// LMOTS_SHA256_N32_W4), made by hbs-lms's `keygen` from the seed [0x5f; 32] with a second
/// level of H5 / W2 (common/tests/attack_hss_lms.rs, `HssSigner::two_levels(0x5f)`). With it
/// in the policy, every fuzzed block naming HSS-LMS (-46) reaches the signature's shape check
/// (common/src/cose/hss_shape.rs) and, if well shaped, hbs-lms: a shape that passes the check
/// and still panics hbs-lms is a finding.
const HSS_LMS_SIGNER: &str = "000000020000000500000003\
                              005205faab47872ba0126d2119b740a8\
                              a52c568ddaa103e792d29bb1b34cfa91b7e6533c8f42941ed59ba271ee7c84b3";
/// The key `process_resigned` seals every fuzzed manifest with (HMAC: cheap to create).
pub const FUZZ_HMAC: &[u8; 32] = b"suit-fuzz fixed HMAC-SHA256 key!";

/// Device keys: A128KW KEK "kid-1" and the P-256 ECDH key "kid-2" of the firmware-encryption
/// vectors; the HPKE-0-KE and HPKE-0 recipient keys of the COSE-HPKE draft examples; and the
/// draft's HPKE PSK. Public: `seeds.rs` encrypts to them.
const ECDH_KID2_D: &str = "60fe6dd6d85d5740a5349b6f91267eeac5ba81b8cb53ee249e4b4eb102c476b3";
pub const HPKE_KE_BOB_D: &str = "b1162c568efcba91c8e4e82f66e36b45aa10bc55228cf65ecd3bb29cfb09f989";
pub const HPKE_INT_BOB_D: &str = "eca39300147c91a2a65d17e00ea278b57a14178245bf5686d9a404cca1816b8e";
pub const HPKE_PSK: &str = "0247fd33b913760fa1fa51e1892d9f307fbe65eb171e8132c2af18555a738b82";
pub const HPKE_PSK_ID: &[u8] = b"Ennyn Durin aran Moria";

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

/// The input [`split_input`] splits into `first`, `part` and `rest` (`part` at most 65535
/// bytes).
pub fn frame(first: u8, part: &[u8], rest: &[u8]) -> Vec<u8> {
    let len = u16::try_from(part.len()).expect("a framed part fits its 2-byte length");
    let mut out = vec![first];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(part);
    out.extend_from_slice(rest);
    out
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
    k.add_psk(HPKE_PSK_ID, &hex(HPKE_PSK));
    k
}

/// Anchors 1 (spec/author ES256), 2 (dependent signer, operator), 3 (vector HMAC, operator),
/// 4 (the fuzz HMAC key, author), 5 (an HSS-LMS key, author).
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
            TrustAnchor::unrestricted(
                5,
                VerificationKey::hss_lms(&hex(HSS_LMS_SIGNER)).unwrap(),
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

/// Largest staged component the platform accepts (keeps a run's memory bounded).
const MAX_STAGED: usize = 1 << 20;
/// Effects the platform keeps in its log: its memory counts against the heap budget of
/// `heap.rs`, so it must not grow with the input.
const MAX_LOG: usize = 256;

/// The suit-test-support in-memory device, set up for fuzzing: the spec examples' vendor and
/// class, every component in slot 0, two fetchable payloads, bounded staging and log, and
/// fetch reads of at most `read_chunk` bytes.
pub fn fuzz_platform(read_chunk: usize) -> RecordingPlatform {
    let mut dev = RecordingPlatform::spec_device();
    dev.remote.insert(
        "coaps://example.com/encrypted-firmware".to_string(),
        ENCRYPTED_FIRMWARE.to_vec(),
    );
    dev.remote.insert(
        "http://example.com/file.bin".to_string(),
        b"fuzz payload".to_vec(),
    );
    dev.read_chunk = Some(read_chunk);
    dev.max_staged = Some(MAX_STAGED);
    dev.default_slot = Some(0);
    dev.log_limit = Some(MAX_LOG);
    dev
}

/// Runs one procedure on a fresh platform and asserts the engine's contract: nothing is
/// installed unless `commit` ran, a failed run always ends in `discard` with nothing staged,
/// and (the platform refuses it with `Io`) staging is only written after it was opened.
/// Returns whether the envelope got past decoding and authentication.
pub fn run_process(envelope: &[u8], procedure: Procedure, chunk: usize) -> bool {
    use suit_common::suit::Error;
    matches!(
        process_checked(envelope, procedure, chunk).0,
        Ok(_)
            | Err(Error::Policy(_))
            | Err(Error::Command(_))
            | Err(Error::UnverifiedPlaintext(_))
            | Err(Error::SeveredSectionMissing(_))
            | Err(Error::Platform(_))
    )
}

/// [`run_process`]'s run and checks, returning the result and the platform as it left it.
pub fn process_checked(
    envelope: &[u8],
    procedure: Procedure,
    chunk: usize,
) -> (Result<Outcome, suit_common::suit::Error>, RecordingPlatform) {
    let policy = policy();
    let keys = device_keys();
    let mut dev = fuzz_platform(chunk);
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
    (result, dev)
}

/// The `process_resigned` target: the input carries an *unsigned* manifest, which is sealed
/// into an envelope with [`FUZZ_HMAC`] (anchor 4), then run as [`process_checked`] does.
///
/// Input layout: `flags (1) | manifest length (2, big endian) | manifest | integrated payload`.
/// flags bit 0: Invoke instead of Update; bits 1-2: the integrated payload's key (none,
/// "#dependency-manifest", "#firmware", "#payload"); bits 3-7: fetch chunk size
/// (1 + 37 n bytes). `None` when the input does not frame or seal.
pub fn run_resigned(
    data: &[u8],
) -> Option<(Result<Outcome, suit_common::suit::Error>, RecordingPlatform)> {
    use suit_common::cose::Algorithm;
    use suit_common::suit::author::{seal_envelope, Signer};
    let (flags, manifest, payload) = split_input(data)?;
    let key = fuzz_signing_key();
    let signer = Signer {
        key: &key,
        alg: Algorithm::Hmac256,
        kid: b"",
    };
    let integrated: Vec<(&str, &[u8])> = match (flags >> 1) & 3 {
        0 => Vec::new(),
        1 => vec![("#dependency-manifest", payload)],
        2 => vec![("#firmware", payload)],
        _ => vec![("#payload", payload)],
    };
    let envelope = seal_envelope(manifest, &[signer], &[], &integrated).ok()?;
    let procedure = if flags & 1 == 0 {
        Procedure::Update
    } else {
        Procedure::Invoke
    };
    let chunk = 1 + usize::from(flags >> 3) * 37;
    Some(process_checked(&envelope, procedure, chunk))
}

/// The `encryption` target: SUIT_Encryption_Info / COSE_Encrypt / COSE_Encrypt0 decoding and
/// decryption with [`device_keys`]. Returns the plaintext when a decryption succeeded.
///
/// Input layout: `sel (1) | message length (2, big endian) | message | ciphertext`.
/// sel bits 0-1: 0 streaming `PayloadDecryptor` over a detached ciphertext (and, when it
/// succeeds, the one-shot `decrypt` must return the same plaintext), 1 `decrypt` with attached
/// ciphertext, 2 `decrypt` with detached ciphertext, 3 `decrypt_integrated` (detached when the
/// ciphertext is not empty); bit 2: plain COSE options instead of the SUIT profile; bits 3-7:
/// streaming chunk size (1 + 5 n bytes).
pub fn run_encryption(data: &[u8]) -> Option<Vec<u8>> {
    use suit_common::encryption::{decrypt, decrypt_integrated, CoseOptions, PayloadDecryptor};
    let (sel, message, ciphertext) = split_input(data)?;
    let keys = device_keys();
    let options = if sel & 4 == 0 {
        CoseOptions::SUIT
    } else {
        CoseOptions::COSE
    };
    match sel & 3 {
        0 => {
            let mut d = PayloadDecryptor::with_options(message, &keys, &options).ok()?;
            let _ = d.algorithm();
            let chunk = 1 + usize::from(sel >> 3) * 5;
            let mut plaintext = Vec::new();
            for c in ciphertext.chunks(chunk) {
                match d.update(c) {
                    Ok(p) => plaintext.extend_from_slice(&p),
                    Err(_) => {
                        // Poisoned: every later call fails too.
                        assert!(d.update(b"x").is_err(), "update after an error succeeded");
                        return None;
                    }
                }
            }
            assert!(plaintext.len() <= ciphertext.len());
            let tail = d.finish().ok()?;
            plaintext.extend_from_slice(&tail);
            let one_shot = decrypt(message, Some(ciphertext), &keys, &options);
            // The one-shot path re-wraps the CEK; only compare when it recovers it too
            // (ECDH/HPKE are deterministic on the receiving side, so it must).
            let one_shot = one_shot.expect("streaming succeeded but one-shot failed");
            assert_eq!(
                &one_shot[..],
                &plaintext[..],
                "streaming and one-shot differ"
            );
            Some(plaintext)
        }
        1 => decrypt(message, None, &keys, &options)
            .ok()
            .map(|p| p.to_vec()),
        2 => decrypt(message, Some(ciphertext), &keys, &options)
            .ok()
            .map(|p| p.to_vec()),
        _ => {
            let detached = if ciphertext.is_empty() {
                None
            } else {
                Some(ciphertext)
            };
            decrypt_integrated(message, detached, &keys, &options)
                .ok()
                .map(|p| p.to_vec())
        }
    }
}
