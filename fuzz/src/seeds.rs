//! Seeds that no file under tests/vectors can give (fuzz/README.md "Seeds"): payloads
//! encrypted to the harnesses' own device keys, so that the fuzzer starts from inputs that
//! get through key agreement, the AEAD tag check, the image digest match and the commit.
//!
//! - `process` and `process_resigned`: a manifest whose SUIT_Encryption_Info is a
//!   COSE_Encrypt with COSE-HPKE recipients to the targets' fixed device keys
//!   ([`crate::device_keys`]: HPKE-0-KE to "bob", to the kid-less key, in PSK mode, HPKE-7,
//!   and the real recipient behind a decoy), fetching its ciphertext from the envelope
//!   (`#firmware`) into a buffer and copying it into the target decrypting, then checking
//!   the image digest.
//! - `encryption`: the same SUIT_Encryption_Info with its detached ciphertext (streamed and
//!   one-shot; the vectors have COSE-HPKE only in plain COSE form) and an integrated
//!   COSE-HPKE COSE_Encrypt0.
//! - `protocol`: whole install sessions on the harness device ([`crate::session`]) whose
//!   payload is encrypted to anchor 1's derived keys (HPKE and ECDH-ES+A128KW): a secure
//!   component, a TA image and personalization data, decrypted as the payload arrives or
//!   stored and decrypted at finish.
//!
//! Deterministic: the author side draws its ephemeral keys, CEKs and IVs from
//! test-support's `FixedRng` (one stream per seed, labelled by its name), ECDSA signs as
//! RFC 6979 says, and the harness device's keys come from its fixed RNG seed. So
//! `cargo run --example seeds -- OUT` writes the same files every time (tests/fuzz.sh runs
//! it after seeds.py); the tests at the end run every seed through its target's own entry
//! and check that it delivers its plaintext.

use std::path::Path;

use suit_common::cose::Algorithm;
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite};
use suit_common::encryption::{encrypt_integrated, encrypt_payload, CoseOptions, Psk, Recipient};
use suit_common::protocol::{
    self, ByteBuf, ChunkRequest, DeviceKeyRequest, Empty, InstallBeginRequest, PayloadChunkRequest,
    ReportRequest,
};
use suit_test_support::service::{encrypt_with, ta_image_with_body, Cipher, TA};
use suit_test_support::{encrypted_manifest, p256_private_from_pem, seal_one, FixedRng};

use crate::session::{self, record, PROVISION};
use crate::{frame, hex, HPKE_INT_BOB_D, HPKE_KE_BOB_D, HPKE_PSK, HPKE_PSK_ID};

/// One generated seed.
pub struct Seed {
    /// The fuzz target it is for.
    pub target: &'static str,
    /// Its file name under `OUT/<target>/`.
    pub name: String,
    pub data: Vec<u8>,
    /// What it must deliver: the plaintext installed (`process`, `process_resigned`,
    /// `protocol`) or decrypted (`encryption`).
    pub plaintext: Vec<u8>,
}

/// Every generated seed, in a fixed order.
pub fn all() -> Vec<Seed> {
    let mut seeds = engine_seeds();
    seeds.extend(protocol_seeds());
    seeds
}

/// Writes [`all`] into `out/<target>/<name>`; returns how many.
pub fn write(out: &Path) -> std::io::Result<usize> {
    let seeds = all();
    for s in &seeds {
        let dir = out.join(s.target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(&s.name), &s.data)?;
    }
    Ok(seeds.len())
}

/// The image a seed delivers: distinct per seed, a few blocks long (so streamed decryption
/// crosses block and chunk boundaries).
fn image(name: &str) -> Vec<u8> {
    format!("suit-fuzz generated seed {name}: firmware image. ")
        .repeat(4)
        .into_bytes()
}

fn public(d_hex: &str) -> p256::PublicKey {
    p256::SecretKey::from_slice(&hex(d_hex))
        .expect("a fixed P-256 scalar")
        .public_key()
}

/// The manifest-spec examples' author (policy anchor 1 of the engine targets, anchor 1 the
/// harness provisions in `protocol`): signs with ESP256.
fn signed(manifest: &[u8], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    let key = p256_private_from_pem(suit_test_support::AUTHOR_PRIV);
    seal_one(manifest, &key, Algorithm::Esp256, &[], integrated)
}

/// Seeds of the targets on `suit::process` and of `encryption`: each a set of COSE-HPKE
/// recipients that [`crate::device_keys`] opens.
fn engine_seeds() -> Vec<Seed> {
    let bob = public(HPKE_KE_BOB_D);
    let kidless = public(HPKE_INT_BOB_D);
    // A key the device does not hold: the decoy recipient's HPKE open fails.
    let stranger = p256::SecretKey::from_slice(&[0x5a; 32])
        .unwrap()
        .public_key();
    let psk_key = hex(HPKE_PSK);
    let hpke = |kid: Option<&'static [u8]>, key, suite, psk| Recipient::Hpke {
        kid,
        public_key: key,
        suite,
        psk,
    };
    let psk = Psk {
        id: HPKE_PSK_ID,
        key: &psk_key,
    };
    let cases: Vec<(&str, ContentAlgorithm, Vec<Recipient<'_>>)> = vec![
        (
            "hpke0-bob-a128gcm",
            ContentAlgorithm::A128Gcm,
            vec![hpke(Some(b"bob"), &bob, HpkeSuite::Hpke0, None)],
        ),
        (
            "hpke0-kidless-a128ctr",
            ContentAlgorithm::A128Ctr,
            vec![hpke(None, &kidless, HpkeSuite::Hpke0, None)],
        ),
        (
            "hpke0-psk-a128gcm",
            ContentAlgorithm::A128Gcm,
            vec![hpke(Some(b"bob"), &bob, HpkeSuite::Hpke0, Some(psk))],
        ),
        (
            "hpke7-bob-a256gcm",
            ContentAlgorithm::A256Gcm,
            vec![hpke(Some(b"bob"), &bob, HpkeSuite::Hpke7, None)],
        ),
        (
            "hpke0-decoy-a256ctr",
            ContentAlgorithm::A256Ctr,
            vec![
                hpke(Some(b"bob"), &stranger, HpkeSuite::Hpke0, None),
                hpke(Some(b"bob"), &bob, HpkeSuite::Hpke0, None),
            ],
        ),
    ];
    let mut seeds = Vec::new();
    for (i, (name, content, recipients)) in cases.iter().enumerate() {
        let plaintext = image(name);
        let mut rng = FixedRng::new(name.as_bytes());
        let e = encrypt_payload(
            &plaintext,
            *content,
            recipients,
            &CoseOptions::SUIT,
            &mut rng,
        )
        .expect("the seed encrypts");
        let manifest = encrypted_manifest(
            1,
            &[b"app", b"image"],
            &plaintext,
            &e.encryption_info,
            "#firmware",
            false,
        );
        let mut seed = |target, name: String, data| {
            seeds.push(Seed {
                target,
                name,
                data,
                plaintext: plaintext.clone(),
            })
        };
        seed(
            "process",
            format!("gen-{name}"),
            signed(&manifest, &[("#firmware", &e.ciphertext)]),
        );
        // process_resigned: flags bits 1-2 = 2 (the payload is `#firmware`), bits 3-7 the
        // fetch chunk size (1 + 37 n bytes), a different one per seed.
        let flags = 4 | (((i as u8) * 3) << 3);
        seed(
            "process_resigned",
            format!("gen-{name}"),
            frame(flags, &manifest, &e.ciphertext),
        );
        // encryption: streamed over the detached ciphertext in 1 + 5 n byte pieces, a
        // different size per seed; a streamed success also runs the one-shot path (its
        // plaintext must be the same), so no separate one-shot seed (each costs the target
        // key agreements: these seeds already cut its executions per second several times).
        let streamed = ((i as u8) * 5 + 3) << 3;
        seed(
            "encryption",
            format!("gen-{name}"),
            frame(streamed, &e.encryption_info, &e.ciphertext),
        );
    }
    // Integrated COSE-HPKE (COSE_Encrypt0, ciphertext attached) in the SUIT profile: sel 3.
    for (name, psk) in [
        ("integrated-hpke0-bob", None),
        ("integrated-hpke0-psk", Some(psk)),
    ] {
        let plaintext = image(name);
        let mut rng = FixedRng::new(name.as_bytes());
        let message = encrypt_integrated(
            &plaintext,
            HpkeSuite::Hpke0,
            &bob,
            Some(b"bob"),
            psk,
            &CoseOptions::SUIT,
            &mut rng,
        )
        .expect("the seed encrypts");
        seeds.push(Seed {
            target: "encryption",
            name: format!("gen-{name}"),
            data: frame(3, &message, &[]),
            plaintext,
        });
    }
    seeds
}

/// Where the protocol seeds' manifests fetch their payload from (sent by the session's
/// `InstallPayload` records).
const URI: &str = "https://vendor.example/fuzz-seed.bin";

/// One install of the protocol seeds.
struct Install {
    name: &'static str,
    /// The component it installs.
    target: &'static [&'static [u8]],
    plaintext: Vec<u8>,
    cipher: Cipher,
    /// The install commands inside a run-sequence: the payload is stored as received and
    /// decrypted at finish (otherwise decrypted and hashed as it arrives).
    stored: bool,
}

/// Install sessions on the harness device, each payload encrypted to anchor 1's keys as the
/// harness's provisioning record leaves them.
fn protocol_seeds() -> Vec<Seed> {
    // The harness device after the provisioning record: anchor 1's keys as every session
    // starting with that record derives them.
    let mut device = session::run_session(&record(PROVISION, 0, &[]), |_, _| {});
    let install = |name, target, plaintext, cipher, stored| Install {
        name,
        target,
        plaintext,
        cipher,
        stored,
    };
    let ta = ta_image_with_body(TA, 1, &image("ecdh-ta").repeat(3));
    let cases = [
        install(
            "hpke-secure",
            &[b"app", b"blob"],
            image("hpke-secure"),
            Cipher::Gcm,
            false,
        ),
        install("ecdh-ta", &[&TA], ta, Cipher::Ctr, false),
        install(
            "hpke-perso-stored",
            &[&TA, b"perso"],
            image("hpke-perso"),
            Cipher::Gcm,
            true,
        ),
        install(
            "ecdh-secure-stored",
            &[b"app", b"data"],
            image("ecdh-secure"),
            Cipher::Ctr,
            true,
        ),
    ];
    let mut seeds = Vec::new();
    for (i, c) in cases.into_iter().enumerate() {
        let mut rng = FixedRng::new(c.name.as_bytes());
        let (info, ciphertext) = encrypt_with(&mut device, c.cipher, &c.plaintext, &mut rng);
        let manifest = encrypted_manifest(1, c.target, &c.plaintext, &info, URI, c.stored);
        let envelope = signed(&manifest, &[]);
        let mut data = record(PROVISION, 0, &[]);
        if i == 0 {
            // The export an author encrypts to (with the key statement).
            let q = DeviceKeyRequest { anchor: Some(1) };
            data.extend(record(2, 0, &encode(&q)));
        }
        data.extend(install_records(&envelope, &ciphertext, 300 + 200 * i));
        let report = ReportRequest {
            nonce: Some(ByteBuf::from(vec![0x6e; 16])),
            pre_auth: false,
        };
        data.extend(record(12, 0, &encode(&report)));
        data.extend(record(1, 0, &encode(&Empty {})));
        seeds.push(Seed {
            target: "protocol",
            name: format!("gen-{}", c.name),
            data,
            plaintext: c.plaintext,
        });
    }
    seeds
}

fn encode<T: protocol::Codec>(v: &T) -> Vec<u8> {
    protocol::encode(v).expect("a seed's request encodes")
}

/// Begin, the envelope in `chunk`-byte pieces, prepare, the payload for [`URI`] in
/// `chunk / 3`-byte pieces, finish: as the agent sends an install.
fn install_records(envelope: &[u8], payload: &[u8], chunk: usize) -> Vec<u8> {
    let len = |n: usize| n as u64;
    let mut r = record(
        5,
        0,
        &encode(&InstallBeginRequest {
            envelope_len: len(envelope.len()),
        }),
    );
    for (k, piece) in envelope.chunks(chunk).enumerate() {
        r.extend(record(
            6,
            0,
            &encode(&ChunkRequest {
                offset: len(k * chunk),
                data: ByteBuf::from(piece.to_vec()),
            }),
        ));
    }
    r.extend(record(7, 0, &encode(&Empty {})));
    let piece_len = chunk / 3;
    for (k, piece) in payload.chunks(piece_len).enumerate() {
        r.extend(record(
            8,
            0,
            &encode(&PayloadChunkRequest {
                uri: URI.into(),
                total_len: len(payload.len()),
                offset: len(k * piece_len),
                data: ByteBuf::from(piece.to_vec()),
            }),
        ));
    }
    r.extend(record(9, 0, &encode(&Empty {})));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use suit_common::protocol::{InstallFinishResponse, Refusal, Status};
    use suit_common::service::state::State;
    use suit_common::suit::Procedure;

    fn of(target: &str) -> Vec<Seed> {
        let seeds: Vec<Seed> = all().into_iter().filter(|s| s.target == target).collect();
        assert!(!seeds.is_empty(), "no {target} seeds");
        seeds
    }

    #[test]
    fn the_generator_writes_the_same_seeds_every_time() {
        let a: Vec<_> = all()
            .into_iter()
            .map(|s| (s.target, s.name, s.data))
            .collect();
        let b: Vec<_> = all()
            .into_iter()
            .map(|s| (s.target, s.name, s.data))
            .collect();
        assert_eq!(a, b);
        let mut names: Vec<_> = a.iter().map(|(t, n, _)| (t, n)).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), a.len(), "two seeds share a file name");
    }

    #[test]
    fn process_seeds_install_their_decrypted_image() {
        for seed in of("process") {
            // The target's own call (Update, 61-byte fetch reads), contract checks included.
            let (result, dev) = crate::process_checked(&seed.data, Procedure::Update, 61);
            let outcome = result.unwrap_or_else(|e| panic!("{}: {e:?}", seed.name));
            assert_eq!(outcome.signers, [1], "{}", seed.name);
            assert!(
                dev.installed.values().any(|v| *v == seed.plaintext),
                "{}: the decrypted image was not installed",
                seed.name
            );
        }
    }

    #[test]
    fn process_resigned_seeds_install_their_decrypted_image() {
        for seed in of("process_resigned") {
            let (result, dev) = crate::run_resigned(&seed.data).expect("the target seals it");
            result.unwrap_or_else(|e| panic!("{}: {e:?}", seed.name));
            assert!(
                dev.installed.values().any(|v| *v == seed.plaintext),
                "{}: the decrypted image was not installed",
                seed.name
            );
        }
    }

    #[test]
    fn encryption_seeds_decrypt() {
        for seed in of("encryption") {
            let plaintext = crate::run_encryption(&seed.data);
            assert_eq!(
                plaintext.as_deref(),
                Some(&seed.plaintext[..]),
                "{}",
                seed.name
            );
        }
    }

    #[test]
    fn protocol_seeds_install_on_the_harness_device() {
        for seed in of("protocol") {
            let mut finished = None;
            let mut refused = Vec::new();
            let device = session::run_session(&seed.data, |cmd, reply| {
                if reply.status != Status::Ok {
                    let why = protocol::decode::<Refusal>(&reply.body, usize::MAX)
                        .map(|r| suit_common::fault::render(&r.fault));
                    refused.push((cmd, reply.status, why));
                } else if cmd == 9 {
                    finished =
                        protocol::decode::<InstallFinishResponse>(&reply.body, usize::MAX).ok();
                }
            });
            assert!(refused.is_empty(), "{}: refused {refused:?}", seed.name);
            let finished = finished.expect("the session finishes");
            assert_eq!(finished.signers, [1], "{}", seed.name);
            // The plaintext is what was installed: OP-TEE's TA store got it, or a component's
            // secure-storage object holds it.
            let state = State::load(device.backend().store()).unwrap();
            let mut installed = device.backend().installed_tas.clone();
            for c in &state.components {
                if let Ok(Some(content)) = device.backend().logical(&c.object) {
                    installed.push(content.to_vec());
                }
            }
            assert!(
                installed.contains(&seed.plaintext),
                "{}: the decrypted payload was not installed",
                seed.name
            );
        }
    }

    /// The engine targets' seeds reach COSE-HPKE through the manifest: without the device's
    /// HPKE keys they fail (so it is those keys that opened them).
    #[test]
    fn process_seeds_need_the_hpke_device_keys() {
        use suit_common::encryption::MemoryKeys;
        let policy = crate::policy();
        let mut keys = MemoryKeys::new();
        keys.add_kek(Some(b"kid-1"), b"aaaaaaaaaaaaaaaa").unwrap();
        for seed in of("process") {
            let mut dev = crate::fuzz_platform(61);
            let r =
                suit_common::suit::process(&seed.data, Procedure::Update, &policy, &keys, &mut dev);
            assert!(r.is_err(), "{} installed without the HPKE keys", seed.name);
        }
    }
}
