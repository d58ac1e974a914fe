//! The author tool's secrets in freed heap (sessions 44-45): every kind of key the tools load
//! and hold (P-256 / ES256 and Ed25519 signing keys from PKCS#8 and SEC1 PEM, COSE_Key and
//! JWK files, HMAC keys and KEKs from JWK, COSE_Key and raw files, the TPA's key, an HSS-LMS
//! key's private state) and what `detect` decodes to classify a file (the TPA's device model
//! holds KEKs) must leave no copy of the secret in a block that is freed: not when a key is
//! loaded, boxed, moved, pushed into a growing `Vec` (whose outgrown blocks are freed) or
//! dropped. A secret is looked for as every 16-byte window of it, in order and reversed.
//! PKCS#11 keys stay in the token (the tool holds their public half only).
//!
//! This binary's allocator is the shared scanning one (`suit_test_support::heap`): it searches
//! the frees of a thread that asks (`scan_for`) for the secret's bytes. Run in debug and in
//! release (`cargo test --release -p suit-host --features suit-common/author --test
//! heap_keys`): optimized code moves values through other stack slots.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::{Path, PathBuf};

use suit_common::cose::{Algorithm, SigningKey};
use suit_test_support::cli::{ok, words};
use suit_test_support::heap::scan_for;

suit_test_support::cli_tools!();

#[global_allocator]
static ALLOCATOR: suit_test_support::heap::TestAllocator =
    suit_test_support::heap::TestAllocator::scanning();

/// A P-256 scalar (below the group order), an Ed25519 seed, an HMAC key and a KEK: no byte
/// repeats within one, so a partial copy is found too.
fn secret(first: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| first.wrapping_add((i as u8).wrapping_mul(7)))
        .collect()
}

/// Every 16-byte window of the secret, in its order and reversed (a multi-limb integer is
/// held with its least significant limb first): a copy of half of it is found.
fn needles(secrets: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for s in secrets {
        let reversed: Vec<u8> = s.iter().rev().copied().collect();
        for form in [s.to_vec(), reversed] {
            for w in form.windows(16) {
                out.push(w.to_vec());
            }
        }
    }
    out
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The engine's signing keys themselves, as the tools hold them: boxed, and in a `Vec` that
/// grows (each push past its capacity moves every key into a new block and frees the old).
/// Found by session 43: a P-256 `SigningKey` carried a raw copy of its scalar, from the stack
/// it was built on, in the bytes of the enum its variant does not use; the drop wiped only
/// the scalar in the variant.
#[test]
fn signing_keys_boxed_or_in_a_growing_vec_free_no_secret() {
    let p256 = secret(0x31, 32);
    let ed = secret(0x42, 32);
    let hmac = secret(0x53, 32);
    type Make = fn(&[u8]) -> Result<SigningKey, suit_common::cose::CoseError>;
    let kinds: [(&str, Make, &[u8]); 3] = [
        ("P-256", SigningKey::p256, &p256),
        ("Ed25519", SigningKey::ed25519, &ed),
        ("HMAC", SigningKey::hmac256, &hmac),
    ];
    let mut leaks = Vec::new();
    for (name, make, s) in kinds {
        let ((), hits) = scan_for(needles(&[s]), || {
            let boxed = Box::new(make(s).unwrap());
            drop(boxed);
            let mut keys = Vec::new();
            for _ in 0..9 {
                keys.push((make(s).unwrap(), Algorithm::Esp256, vec![1u8]));
            }
            // Used as the tools use them (a signature, the public half).
            let key = &keys[0].0;
            let alg = if name == "HMAC" {
                Algorithm::Hmac256
            } else if name == "Ed25519" {
                Algorithm::Ed25519
            } else {
                Algorithm::Esp256
            };
            suit_common::cose::create_auth_block(key, alg, b"k", b"payload").unwrap();
            drop(key.verification_key());
            drop(keys);
        });
        if hits != 0 {
            leaks.push(format!(
                "{name}: {hits} freed blocks holding the private key"
            ));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// A key file the tools load and the secret it holds.
struct KeyFile {
    name: &'static str,
    path: PathBuf,
    secret: Vec<u8>,
}

/// `der` as a PEM block of `label`.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// `entries` as a COSE_Key file's bytes.
fn cose_key(entries: Vec<(i64, ciborium::Value)>) -> Vec<u8> {
    let v = ciborium::Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (ciborium::Value::from(k), v))
            .collect(),
    );
    let mut out = Vec::new();
    ciborium::ser::into_writer(&v, &mut out).unwrap();
    out
}

/// Every private key file format the tools load, for both key types: P-256 as PKCS#8 PEM,
/// SEC1 PEM, COSE_Key and JWK; Ed25519 as PKCS#8 PEM, COSE_Key and JWK.
fn private_key_files(d: &Path) -> Vec<KeyFile> {
    use ciborium::Value;
    let p256 = secret(0x31, 32);
    let ed = secret(0x42, 32);
    let mut sec1 = vec![0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20];
    sec1.extend_from_slice(&p256);
    sec1.extend_from_slice(&[
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ]);
    let pkcs8_p256 = {
        use p256::pkcs8::EncodePrivateKey as _;
        let sk = p256::SecretKey::from_slice(&p256).unwrap();
        sk.to_pkcs8_pem(Default::default()).unwrap().to_string()
    };
    // RFC 8410 §7: the seed in an OCTET STRING in the PKCS#8 privateKey.
    let mut pkcs8_ed = hex::decode("302e020100300506032b657004220420").unwrap();
    pkcs8_ed.extend_from_slice(&ed);
    let files: [(&'static str, &str, Vec<u8>, &[u8]); 7] = [
        ("P-256 PKCS#8 PEM", "p8.pem", pkcs8_p256.into_bytes(), &p256),
        (
            "P-256 SEC1 PEM",
            "sec1.pem",
            pem("EC PRIVATE KEY", &sec1).into_bytes(),
            &p256,
        ),
        (
            "P-256 COSE_Key",
            "p.cose",
            cose_key(vec![
                (1, Value::from(2)),
                (-1, Value::from(1)),
                (-4, Value::Bytes(p256.clone())),
            ]),
            &p256,
        ),
        (
            "P-256 JWK",
            "p.jwk",
            format!(r#"{{"kty":"EC","crv":"P-256","d":"{}"}}"#, b64(&p256)).into_bytes(),
            &p256,
        ),
        (
            "Ed25519 PKCS#8 PEM",
            "e8.pem",
            pem("PRIVATE KEY", &pkcs8_ed).into_bytes(),
            &ed,
        ),
        (
            "Ed25519 COSE_Key",
            "e.cose",
            cose_key(vec![
                (1, Value::from(1)),
                (-1, Value::from(6)),
                (-4, Value::Bytes(ed.clone())),
            ]),
            &ed,
        ),
        (
            "Ed25519 JWK",
            "e.jwk",
            format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{}"}}"#, b64(&ed)).into_bytes(),
            &ed,
        ),
    ];
    files
        .into_iter()
        .map(|(name, file, bytes, secret)| {
            let path = d.join(file);
            std::fs::write(&path, bytes).unwrap();
            KeyFile {
                name,
                path,
                secret: secret.to_vec(),
            }
        })
        .collect()
}

/// Every symmetric key file format the tools load (KEKs, HMAC keys): JWK `oct`, COSE_Key
/// (kty 4), raw bytes; a 16-byte KEK and a 32-byte HMAC key.
fn symmetric_key_files(d: &Path) -> Vec<KeyFile> {
    use ciborium::Value;
    let mut out = Vec::new();
    for (len, first) in [(16usize, 0x64u8), (32, 0x53)] {
        let k = secret(first, len);
        // Raw: the keys start with 0x64 and 0x53, text strings' headers with bytes after them
        // (decoded as CBOR first, then taken as raw).
        let files: [(&'static str, String, Vec<u8>); 3] = [
            (
                "JWK oct",
                format!("k{len}.jwk"),
                format!(r#"{{"kty":"oct","k":"{}"}}"#, b64(&k)).into_bytes(),
            ),
            (
                "COSE_Key symmetric",
                format!("k{len}.cose"),
                cose_key(vec![(1, Value::from(4)), (-1, Value::Bytes(k.clone()))]),
            ),
            ("raw", format!("k{len}.key"), k.clone()),
        ];
        for (name, file, bytes) in files {
            let path = d.join(file);
            std::fs::write(&path, bytes).unwrap();
            out.push(KeyFile {
                name,
                path,
                secret: k.clone(),
            });
        }
    }
    out
}

/// Every private key file the tools load (each format, both key types), loaded as the
/// commands load them and held as they hold them: the file's record (`load_private`) kept in
/// a `Vec` that grows, its key moved out into another, the engine's signing keys made from
/// them (`create`, `sign`) and the TPA's signer (`provision`, `fleet`), each in a growing
/// `Vec`, used to sign, then dropped. Every outgrown block and every dropped key is a free the
/// scan searches for the secret.
#[test]
fn private_key_files_in_every_format_free_no_secret() {
    use suit_host::author::{keys, provision};
    let t = tempfile::tempdir().unwrap();
    let mut leaks = Vec::new();
    let files = private_key_files(t.path());
    assert_eq!(files.len(), 7);
    for f in &files {
        let (r, hits) = scan_for(needles(&[&f.secret]), || {
            // The keys, not their files' records: a `PrivateKeyFile` is used where it is
            // loaded and never kept in the heap. Its `None` fields' unwritten bytes carry the
            // loader's stale stack along as any value's holes do (a `Vec` of records from PEM
            // files held the scalar: NOTES session 44-45).
            let mut private = Vec::new();
            for _ in 0..9 {
                private.push(keys::load_private(&f.path)?.key);
            }
            let mut signing = Vec::new();
            for k in &private {
                signing.push((k.signing_key()?, k.signing_algorithm(false), vec![1u8]));
            }
            let mut tpa = Vec::new();
            for _ in 0..9 {
                tpa.push(provision::tpa_signer(&f.path)?);
            }
            for (key, alg, _) in [&signing[0], &tpa[0]] {
                suit_common::cose::create_auth_block(key, *alg, b"k", b"payload").unwrap();
            }
            drop((private, signing, tpa));
            Ok::<_, suit_host::author::AuthorError>(())
        });
        r.unwrap();
        if hits != 0 {
            leaks.push(format!("{}: {hits} freed blocks holding the key", f.name));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// Every symmetric key file format (KEKs, HMAC keys), loaded (`load_symmetric`) into a
/// growing `Vec`, an HMAC key made a signing key, then dropped; and `create`'s signers
/// (`load_signers`: every private key file and an HMAC key at once).
#[test]
fn symmetric_key_files_and_signers_free_no_secret() {
    use suit_host::author::{create, keys};
    let t = tempfile::tempdir().unwrap();
    let mut leaks = Vec::new();
    let files = symmetric_key_files(t.path());
    for f in &files {
        let (r, hits) = scan_for(needles(&[&f.secret]), || {
            let mut held = Vec::new();
            for _ in 0..9 {
                held.push(keys::load_symmetric(&f.path, &[16, 32], "KEK")?);
            }
            if f.secret.len() == 32 {
                let mut signing = Vec::new();
                for k in &held {
                    signing.push(SigningKey::hmac256(&k.secret).unwrap());
                }
                suit_common::cose::create_auth_block(&signing[0], Algorithm::Hmac256, b"", b"x")
                    .unwrap();
            }
            Ok::<_, suit_host::author::AuthorError>(())
        });
        r.unwrap();
        if hits != 0 {
            leaks.push(format!(
                "{} ({} bytes): {hits} freed blocks holding the key",
                f.name,
                f.secret.len()
            ));
        }
    }

    let private = private_key_files(t.path());
    let hmac = files.iter().find(|f| f.secret.len() == 32).unwrap();
    let options = create::SignOptions {
        // One file of each key: a key given twice is refused.
        sign_keys: vec![private[0].path.clone(), private[4].path.clone()],
        hmac_keys: vec![hmac.path.clone()],
        es256: false,
        unsigned: false,
        cose_sign: false,
    };
    let secrets: Vec<&[u8]> = vec![&private[0].secret, &private[4].secret, &hmac.secret];
    let (r, hits) = scan_for(needles(&secrets), || {
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(create::load_signers(&options)?);
        }
        Ok::<_, suit_host::author::AuthorError>(())
    });
    r.unwrap();
    if hits != 0 {
        leaks.push(format!(
            "load_signers: {hits} freed blocks holding a private key"
        ));
    }

    // Raw symmetric keys whose bytes start as CBOR (the loader looks for a COSE_Key first):
    // a byte string followed by more bytes, and an array whose second item is cut off after
    // a first that was decoded. Either decode built values of the key's bytes and freed
    // them unwiped (the first found by `verify_process_frees_no_hmac_key`).
    let d = t.path();
    let mut trailing = secret(0x11, 32);
    trailing[0] = 0x53;
    let mut cut = secret(0x22, 32);
    cut[..2].copy_from_slice(&[0x82, 0x50]);
    cut[18..20].copy_from_slice(&[0x58, 0xff]);
    for (name, raw) in [("trailing", &trailing), ("cut", &cut)] {
        let path = d.join(name);
        std::fs::write(&path, raw).unwrap();
        let (r, hits) = scan_for(needles(&[raw]), || {
            keys::load_symmetric(&path, &[32], "KEK").map(drop)
        });
        r.unwrap();
        if hits != 0 {
            leaks.push(format!(
                "raw key read as CBOR ({name}): {hits} freed blocks"
            ));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// An HSS-LMS key's private state (hbs-lms's form, seed and counter): opened as `create`
/// opens it (locked, in the signer), used to sign (the state advanced and stored), dropped.
/// The needle is the seed: the state's only secret (the rest are the key's identifier,
/// public in every signature, and the counter).
#[test]
fn an_hss_lms_key_frees_no_private_state() {
    use suit_common::cose::HssLevel;
    use suit_host::author::hss;
    let t = tempfile::tempdir().unwrap();
    let prefix = t.path().join("lms");
    let levels = [HssLevel {
        height: 5,
        winternitz: 8,
    }];
    hss::keygen(&prefix, &levels, None, false).unwrap();
    let [priv_path, _] = hss::keygen_files(&prefix);
    let text = std::fs::read_to_string(&priv_path).unwrap();
    let file = hss::HssKeyFile::decode(&priv_path, &text).unwrap();
    let private = file.private.as_deref().unwrap().to_vec();
    drop(file);
    // The seed: the 32 bytes that follow the identifier in hbs-lms's form are found as a
    // window of the whole state; the state's other fields are short or public.
    let seeds: Vec<Vec<u8>> = private
        .windows(32)
        .map(<[u8]>::to_vec)
        .filter(|w| w.iter().filter(|b| **b == 0).count() < 8)
        .collect();
    assert!(!seeds.is_empty());
    let (r, hits) = scan_for(seeds, || {
        let opened = hss::open_signer(&priv_path, &[])?;
        // Held in the heap as `Signers` holds it.
        let keys = vec![(opened.key, Algorithm::HssLms, opened.kid)];
        for _ in 0..2 {
            suit_common::cose::create_auth_block(&keys[0].0, Algorithm::HssLms, b"", b"x").unwrap();
        }
        drop(keys);
        drop(opened.handle);
        Ok::<_, suit_host::author::AuthorError>(())
    });
    r.unwrap();
    assert_eq!(
        hits, 0,
        "HSS-LMS: freed blocks holding the private state's seed"
    );
}

/// `detect` decodes a file whole to name its format (every command that checks what it was
/// given, every key option given something else): the TPA's device model holds the KEKs the
/// TPA provisioned, a COSE_Key its `d` or `k`. The decoded values were dropped unwiped.
#[test]
fn detect_frees_no_secret_of_the_file_it_classifies() {
    use suit_common::protocol::ByteBuf;
    use suit_common::service::provision::{Kek, Secret};
    use suit_host::author::provision::DeviceModel;
    use suit_host::detect::{detect, Format};
    let kek = secret(0x64, 32);
    let d = secret(0x31, 32);
    let model = DeviceModel {
        device: ByteBuf::from(vec![7u8; 32]),
        state: Default::default(),
        keks: vec![Kek::new(
            ByteBuf::from(b"k1".to_vec()),
            vec![1],
            Secret::new(ByteBuf::from(kek.clone())),
        )],
        root: None,
    };
    let model = suit_common::service::record::encode(&model).unwrap();
    let cose_key = {
        use ciborium::Value;
        let v = Value::Map(vec![
            (Value::from(1), Value::from(2)),
            (Value::from(-1), Value::from(1)),
            (Value::from(-4), Value::Bytes(d.clone())),
        ]);
        let mut out = Vec::new();
        ciborium::ser::into_writer(&v, &mut out).unwrap();
        out
    };
    let mut leaks = Vec::new();
    for (name, bytes, format) in [
        ("device model", &model, Format::DeviceModel),
        ("COSE_Key", &cose_key, Format::CoseKey),
    ] {
        let (found, hits) = scan_for(needles(&[&kek, &d]), || detect(bytes));
        assert_eq!(found, Some(format), "{name}");
        if hits != 0 {
            leaks.push(format!(
                "{name}: detect freed {hits} blocks holding its secret"
            ));
        }
    }
    // A model cut short right after its KEK: the decode fails part-way (the values built so
    // far, the KEK's among them, were freed unwiped by the decoder).
    let at = model.windows(32).position(|w| w == kek).unwrap() + 32;
    assert!(at < model.len(), "the KEK is not the model's last item");
    let cut = &model[..at];
    let (found, hits) = scan_for(needles(&[&kek]), || detect(cut));
    assert_eq!(found, None);
    if hits != 0 {
        leaks.push(format!(
            "a cut device model: detect freed {hits} blocks holding its KEK"
        ));
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// The author side's payload encryption (`create`'s encrypted payloads, `encrypt`): the
/// content key drawn for the payload (here from a known stream), the KEK it is wrapped with
/// and the plaintext must not be left in freed heap by the encryption, for every content
/// algorithm and both key distributions.
#[test]
fn payload_encryption_frees_no_content_key_kek_or_plaintext() {
    use rand_core::Rng as _;
    use suit_common::encryption::algorithms::{ContentAlgorithm, KeyWrap};
    use suit_common::encryption::{encrypt_payload, CoseOptions, Recipient};
    use suit_test_support::FixedRng;
    let kek = secret(0x64, 32);
    let plaintext = secret(0x75, 4000);
    let device = p256::SecretKey::from_slice(&secret(0x31, 32)).unwrap();
    let public = device.public_key();
    let mut leaks = Vec::new();
    for content in [
        ContentAlgorithm::A128Gcm,
        ContentAlgorithm::A256Gcm,
        ContentAlgorithm::A128Ctr,
        ContentAlgorithm::A256Ctr,
        ContentAlgorithm::ChaCha20Poly1305,
    ] {
        for (name, recipient) in [
            (
                "A256KW",
                Recipient::AesKw {
                    kid: Some(b"k"),
                    kek: &kek,
                },
            ),
            (
                "ECDH-ES+A128KW",
                Recipient::EcdhEs {
                    kid: Some(b"d"),
                    public_key: &public,
                    wrap: KeyWrap::A128Kw,
                },
            ),
        ] {
            // The content key is the stream's first bytes.
            let mut cek = vec![0u8; content.key_len()];
            FixedRng::new(b"s44").fill_bytes(&mut cek);
            let secrets: [&[u8]; 3] = [&cek, &kek, &plaintext[..64]];
            let (r, hits) = scan_for(needles(&secrets), || {
                encrypt_payload(
                    &plaintext,
                    content,
                    &[recipient],
                    &CoseOptions::SUIT,
                    &mut FixedRng::new(b"s44"),
                )
                .map(drop)
            });
            r.unwrap();
            if hits != 0 {
                leaks.push(format!("{content:?} to {name}: {hits} freed blocks"));
            }
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// `verify --process --hmac-key`: the simulated device is given the HMAC key as an anchor's
/// COSE_Key (wrapped to it as a provisioning message would), which the tool held in a plain
/// `Vec` (`device::AnchorKey::cose_key`) and freed unwiped after the run.
#[test]
fn verify_process_frees_no_hmac_key() {
    use suit_host::author::verify::{verify, VerifyOptions};
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let hmac = secret(0x53, 32);
    std::fs::write(d.join("hmac.key"), &hmac).unwrap();
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    std::fs::write(
        d.join("m.json"),
        suit_test_support::cli::app_description("b"),
    )
    .unwrap();
    ok(author(
        d,
        &words("create m.json -o h.suit --hmac-key hmac.key"),
    ));
    let options = VerifyOptions {
        envelope: d.join("h.suit"),
        hmac_keys: vec![d.join("hmac.key")],
        process: true,
        ..Default::default()
    };
    let (r, hits) = scan_for(needles(&[&hmac]), || verify(&options, &mut Vec::new()));
    // No identity given: the device refuses at the vendor check, after the envelope was
    // authenticated with the key it was given.
    let e = r.unwrap_err().to_string();
    assert!(e.contains("vendor identifier does not match"), "{e}");
    assert_eq!(
        hits, 0,
        "verify --process: freed blocks holding the HMAC key"
    );
}
