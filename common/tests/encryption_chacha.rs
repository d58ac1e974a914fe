//! ChaCha20/Poly1305 (COSE alg 24), the content algorithm of the MTI profile
//! suit-sha256-ed25519-ecdh-chacha-poly: the streaming layer against RFC 8439's AEAD vector
//! (§2.8.2) and the one-shot `chacha20poly1305` crate, the COSE layer (RFC 9052 §5.3, RFC 9053
//! §4.3) read back independently (ciborium, the crate), and the device policy: decrypted with
//! feature `chacha20`, refused as `UnsupportedContentAlgorithm(24)` without it (the TA's
//! build), before any key is touched.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use ciborium::Value;
use p256::elliptic_curve::Generate;
use rand_core::{Rng, UnwrapErr};
use suit_common::encryption::algorithms::{id, ContentAlgorithm, HpkeSuite, KeyWrap};
use suit_common::encryption::content::{AeadDecryptor, AeadEncryptor, CHACHA_POLY_TAG_LEN};
use suit_common::encryption::{
    decrypt, encrypt_payload, unwrap_content_key, CoseOptions, DecryptError, Location, MemoryKeys,
    PayloadDecryptor, Problem, Recipient,
};
use suit_common::registry::CoseAlg;
use suit_test_support::decrypt_in_chunks;

const CHACHA: ContentAlgorithm = ContentAlgorithm::ChaCha20Poly1305;

// RFC 8439 §2.8.2.
const KEY: [u8; 32] = [
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
];
const NONCE: [u8; 12] = [
    0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
];
const AAD: [u8; 12] = [
    0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
];
const PLAINTEXT: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you \
only one tip for the future, sunscreen would be it.";
const CIPHERTEXT: &str = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328\
091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116";
const TAG: &str = "1ae10b594f09e26a7e902ecbd0600691";

type TestRng = UnwrapErr<getrandom::SysRng>;

fn rng() -> TestRng {
    UnwrapErr(getrandom::SysRng)
}

fn random(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    rng().fill_bytes(&mut p);
    p
}

fn vector_output() -> Vec<u8> {
    let mut out = hex::decode(CIPHERTEXT).unwrap();
    out.extend(hex::decode(TAG).unwrap());
    out
}

fn encrypt_streamed(key: &[u8], nonce: &[u8], aad: &[u8], pt: &[u8], chunk: usize) -> Vec<u8> {
    let mut e = AeadEncryptor::chacha20_poly1305(key, nonce, aad).unwrap();
    let mut out = Vec::new();
    for c in pt.chunks(chunk.max(1)) {
        out.extend_from_slice(&e.update(c).unwrap());
    }
    if pt.is_empty() {
        out.extend_from_slice(&e.update(&[]).unwrap());
    }
    out.extend_from_slice(&e.finish());
    out
}

/// Decrypts in `chunk`-byte pieces, alternately through `update` and `update_in_place`.
fn decrypt_streamed(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ct: &[u8],
    chunk: usize,
) -> Result<Vec<u8>, DecryptError> {
    let mut d = AeadDecryptor::chacha20_poly1305(key, nonce, aad)?;
    let mut out = Vec::new();
    for (i, c) in ct.chunks(chunk.max(1)).enumerate() {
        if i % 2 == 0 {
            out.extend_from_slice(&d.update(c)?);
        } else {
            let mut buf = c.to_vec();
            let n = d.update_in_place(&mut buf)?;
            out.extend_from_slice(&buf[..n]);
        }
    }
    d.finish()?;
    Ok(out)
}

#[test]
fn rfc_8439_aead_vector_in_every_chunking() {
    let expected = vector_output();
    assert_eq!(expected.len(), PLAINTEXT.len() + CHACHA_POLY_TAG_LEN);
    for chunk in 1..=expected.len() + 1 {
        assert_eq!(
            encrypt_streamed(&KEY, &NONCE, &AAD, PLAINTEXT, chunk),
            expected,
            "encrypt, chunk {chunk}"
        );
        assert_eq!(
            decrypt_streamed(&KEY, &NONCE, &AAD, &expected, chunk).unwrap(),
            PLAINTEXT,
            "decrypt, chunk {chunk}"
        );
    }
    // The crate agrees on the vector (it is the reference for the random rounds below).
    let reference = ChaCha20Poly1305::new_from_slice(&KEY)
        .unwrap()
        .encrypt(
            (&NONCE).into(),
            Payload {
                msg: PLAINTEXT,
                aad: &AAD,
            },
        )
        .unwrap();
    assert_eq!(reference, expected);
}

#[test]
fn any_altered_byte_fails_the_tag_and_a_short_stream_is_truncated() {
    let ct = vector_output();
    for at in 0..ct.len() {
        let mut bad = ct.clone();
        bad[at] ^= 0x01;
        assert_eq!(
            decrypt_streamed(&KEY, &NONCE, &AAD, &bad, 7).unwrap_err(),
            DecryptError::TagMismatch,
            "byte {at}"
        );
    }
    let mut aad = AAD;
    aad[0] ^= 0x80;
    assert_eq!(
        decrypt_streamed(&KEY, &NONCE, &aad, &ct, 7).unwrap_err(),
        DecryptError::TagMismatch
    );
    let mut nonce = NONCE;
    nonce[11] ^= 1;
    assert_eq!(
        decrypt_streamed(&KEY, &nonce, &AAD, &ct, 7).unwrap_err(),
        DecryptError::TagMismatch
    );
    // The tag cut short: what arrived is less than a tag, or a wrong one.
    assert_eq!(
        decrypt_streamed(&KEY, &NONCE, &AAD, &ct[..15], 4).unwrap_err(),
        DecryptError::Truncated
    );
    assert_eq!(
        decrypt_streamed(&KEY, &NONCE, &AAD, &ct[..ct.len() - 1], 4).unwrap_err(),
        DecryptError::TagMismatch
    );
}

#[test]
fn streaming_chacha_poly_matches_the_chacha20poly1305_crate() {
    let mut r = rng();
    for round in 0..300 {
        let key = random(32);
        let nonce = random(12);
        let aad = random((r.next_u32() % 70) as usize);
        // Up to a few ChaCha20 blocks, and every length around the 16-byte Poly1305 blocks.
        let pt = random(if round < 100 {
            round
        } else {
            (r.next_u32() % 700) as usize
        });
        let reference = ChaCha20Poly1305::new_from_slice(&key)
            .unwrap()
            .encrypt(
                nonce.as_slice().try_into().unwrap(),
                Payload {
                    msg: &pt,
                    aad: &aad,
                },
            )
            .unwrap();
        let chunk = 1 + (r.next_u32() % 80) as usize;
        assert_eq!(
            encrypt_streamed(&key, &nonce, &aad, &pt, chunk),
            reference,
            "round {round}"
        );
        assert_eq!(
            decrypt_streamed(&key, &nonce, &aad, &reference, chunk).unwrap(),
            pt,
            "round {round}"
        );
    }
}

#[test]
fn key_and_nonce_lengths_are_checked() {
    for len in [0, 16, 31, 33] {
        assert_eq!(
            AeadDecryptor::chacha20_poly1305(&vec![0; len], &NONCE, b"").unwrap_err(),
            DecryptError::ContentKeyLength {
                expected: 32,
                found: len
            }
        );
    }
    for len in [0, 8, 11, 13, 16, 24] {
        assert_eq!(
            AeadEncryptor::chacha20_poly1305(&KEY, &vec![0; len], b"").unwrap_err(),
            DecryptError::Malformed {
                at: Location::Unprotected,
                problem: Problem::IvLength(len)
            }
        );
    }
}

#[test]
fn the_algorithm_is_cose_24() {
    assert_eq!(id::CHACHA20_POLY1305, 24);
    assert_eq!(ContentAlgorithm::from_id(24), Some(CHACHA));
    assert_eq!(CHACHA.id(), 24);
    assert_eq!((CHACHA.key_len(), CHACHA.iv_len()), (32, 12));
    assert!(CHACHA.is_aead());
    assert_eq!(CoseAlg::from_name("ChaCha20/Poly1305").unwrap().value(), 24);
}

struct Device {
    keys: MemoryKeys,
    public: p256::PublicKey,
    kek16: [u8; 16],
    kek32: [u8; 32],
}

fn device() -> Device {
    let mut r = rng();
    let sk = p256::SecretKey::generate_from_rng(&mut r);
    let mut keys = MemoryKeys::new();
    let (mut kek16, mut kek32) = ([0u8; 16], [0u8; 32]);
    r.fill_bytes(&mut kek16);
    r.fill_bytes(&mut kek32);
    keys.add_kek(Some(b"kw128"), &kek16).unwrap();
    keys.add_kek(Some(b"kw256"), &kek32).unwrap();
    keys.add_ecdh_p256(Some(b"dev"), &sk.to_bytes()).unwrap();
    keys.add_hpke_p256(Some(b"dev"), &sk.to_bytes()).unwrap();
    Device {
        keys,
        public: sk.public_key(),
        kek16,
        kek32,
    }
}

/// Every recipient kind suit-author offers: ECDH-ES+A128KW (the profile's), ECDH-ES+A256KW,
/// A128KW, A256KW, HPKE-0-KE, HPKE-7-KE.
fn recipients(dev: &Device) -> Vec<(&'static str, Recipient<'_>)> {
    vec![
        (
            "ECDH-ES+A128KW",
            Recipient::EcdhEs {
                kid: Some(b"dev"),
                public_key: &dev.public,
                wrap: KeyWrap::A128Kw,
            },
        ),
        (
            "ECDH-ES+A256KW",
            Recipient::EcdhEs {
                kid: None,
                public_key: &dev.public,
                wrap: KeyWrap::A256Kw,
            },
        ),
        (
            "A128KW",
            Recipient::AesKw {
                kid: Some(b"kw128"),
                kek: &dev.kek16,
            },
        ),
        (
            "A256KW",
            Recipient::AesKw {
                kid: Some(b"kw256"),
                kek: &dev.kek32,
            },
        ),
        (
            "HPKE-0-KE",
            Recipient::Hpke {
                kid: Some(b"dev"),
                public_key: &dev.public,
                suite: HpkeSuite::Hpke0,
                psk: None,
            },
        ),
        (
            "HPKE-7-KE",
            Recipient::Hpke {
                kid: Some(b"dev"),
                public_key: &dev.public,
                suite: HpkeSuite::Hpke7,
                psk: None,
            },
        ),
    ]
}

fn untagged(info: &[u8]) -> Vec<Value> {
    let v: Value = ciborium::from_reader(info).unwrap();
    let Value::Tag(96, inner) = v else {
        panic!("not a COSE_Encrypt: {v:?}")
    };
    inner.into_array().unwrap()
}

/// The SUIT_Encryption_Info read back without suit-common: protected `{1: 24}`, the 12-byte
/// IV unprotected, ciphertext detached; the CEK unwrapped with the KEK by hand (RFC 3394 via
/// the `aes-kw` crate), the Enc_structure built with ciborium and the payload opened with the
/// `chacha20poly1305` crate.
#[test]
fn the_cose_layer_opens_with_independent_code() {
    let dev = device();
    let pt = random(5000);
    for external_aad in [&b""[..], b"bound"] {
        let options = CoseOptions {
            external_aad,
            ..CoseOptions::SUIT
        };
        let r = Recipient::AesKw {
            kid: Some(b"kw256"),
            kek: &dev.kek32,
        };
        let e = encrypt_payload(&pt, CHACHA, &[r], &options, &mut rng()).unwrap();
        assert_eq!(e.ciphertext.len(), pt.len() + 16);
        let a = untagged(&e.encryption_info);
        assert_eq!(a.len(), 4);
        let protected = a[0].as_bytes().unwrap().clone();
        assert_eq!(protected, [0xa1, 0x01, 0x18, 0x18], "{{1: 24}}");
        let unprotected = a[1].as_map().unwrap();
        assert_eq!(unprotected.len(), 1);
        assert_eq!(unprotected[0].0, Value::from(5));
        let iv = unprotected[0].1.as_bytes().unwrap().clone();
        assert_eq!(iv.len(), 12);
        assert_eq!(a[2], Value::Null);
        let rec = a[3].as_array().unwrap()[0].as_array().unwrap();
        let wrapped = rec[2].as_bytes().unwrap();
        assert_eq!(wrapped.len(), 40, "a 32-byte CEK wrapped");
        let kw = aes_kw::KwAes256::new_from_slice(&dev.kek32).unwrap();
        let mut cek = [0u8; 32];
        kw.unwrap_key(wrapped, &mut cek).unwrap();
        let mut enc_structure = Vec::new();
        ciborium::into_writer(
            &Value::Array(vec![
                Value::from("Encrypt"),
                Value::Bytes(protected),
                Value::Bytes(external_aad.to_vec()),
            ]),
            &mut enc_structure,
        )
        .unwrap();
        let opened = ChaCha20Poly1305::new_from_slice(&cek)
            .unwrap()
            .decrypt(
                iv.as_slice().try_into().unwrap(),
                Payload {
                    msg: &e.ciphertext,
                    aad: &enc_structure,
                },
            )
            .unwrap();
        assert_eq!(opened, pt);
    }
}

/// Device policy: with feature `chacha20` every recipient kind round-trips and a tampered tag
/// or ciphertext is refused; without it (the TA) the payload is refused as an unsupported
/// content algorithm, whichever recipient carries the key.
#[test]
fn payloads_decrypt_with_the_feature_and_are_refused_without_it() {
    let dev = device();
    let pt = random(70_001);
    for (name, r) in recipients(&dev) {
        let e = encrypt_payload(&pt, CHACHA, &[r], &CoseOptions::SUIT, &mut rng()).unwrap();
        let mut tag = e.ciphertext.clone();
        *tag.last_mut().unwrap() ^= 0x01;
        let mut body = e.ciphertext.clone();
        body[1234] ^= 0x40;
        if cfg!(feature = "chacha20") {
            for chunk in [1, 15, 16, 17, 4096, pt.len() + 16] {
                if chunk == 1 && name != "ECDH-ES+A128KW" {
                    continue;
                }
                let back = decrypt_in_chunks(&e.encryption_info, &dev.keys, &e.ciphertext, chunk)
                    .unwrap_or_else(|err| panic!("{name} chunk {chunk}: {err}"));
                assert!(back == pt, "{name} chunk {chunk}");
            }
            let d = PayloadDecryptor::new(&e.encryption_info, &dev.keys).unwrap();
            assert_eq!(d.algorithm(), CHACHA);
            let one = decrypt(
                &e.encryption_info,
                Some(&e.ciphertext),
                &dev.keys,
                &CoseOptions::SUIT,
            )
            .unwrap();
            assert!(one.as_slice() == pt.as_slice(), "{name}");
            let (alg, cek) =
                unwrap_content_key(&e.encryption_info, &dev.keys, &CoseOptions::SUIT).unwrap();
            assert_eq!((alg, cek.as_bytes().len()), (CHACHA, 32), "{name}");
            for bad in [&tag, &body] {
                assert_eq!(
                    decrypt_in_chunks(&e.encryption_info, &dev.keys, bad, 4096).unwrap_err(),
                    DecryptError::TagMismatch,
                    "{name}"
                );
            }
            // Another external_aad than the sender's: the Enc_structure differs.
            let other = CoseOptions {
                external_aad: b"x",
                ..CoseOptions::SUIT
            };
            assert_eq!(
                decrypt(&e.encryption_info, Some(&e.ciphertext), &dev.keys, &other).unwrap_err(),
                DecryptError::TagMismatch,
                "{name}"
            );
        } else {
            let refused = DecryptError::UnsupportedContentAlgorithm(24);
            assert_eq!(
                PayloadDecryptor::new(&e.encryption_info, &dev.keys).unwrap_err(),
                refused,
                "{name}"
            );
            assert_eq!(
                decrypt(
                    &e.encryption_info,
                    Some(&e.ciphertext),
                    &dev.keys,
                    &CoseOptions::SUIT
                )
                .unwrap_err(),
                refused,
                "{name}"
            );
            assert_eq!(
                unwrap_content_key(&e.encryption_info, &dev.keys, &CoseOptions::SUIT).unwrap_err(),
                refused,
                "{name}"
            );
        }
    }
}

/// A SUIT_Encryption_Info naming ChaCha20/Poly1305 with an IV of another length than 96 bits
/// is malformed (with the feature; without it the algorithm is refused first, before any
/// header is read further).
#[test]
fn the_iv_must_be_96_bits() {
    let dev = device();
    let r = Recipient::AesKw {
        kid: Some(b"kw128"),
        kek: &dev.kek16,
    };
    let e = encrypt_payload(b"fw", CHACHA, &[r], &CoseOptions::SUIT, &mut rng()).unwrap();
    for len in [8, 11, 13, 16] {
        let mut a = untagged(&e.encryption_info);
        a[1] = Value::Map(vec![(Value::from(5), Value::Bytes(vec![7; len]))]);
        let mut info = Vec::new();
        ciborium::into_writer(&Value::Tag(96, Box::new(Value::Array(a))), &mut info).unwrap();
        let expected = if cfg!(feature = "chacha20") {
            DecryptError::Malformed {
                at: Location::Unprotected,
                problem: Problem::IvLength(len),
            }
        } else {
            DecryptError::UnsupportedContentAlgorithm(24)
        };
        assert_eq!(
            PayloadDecryptor::new(&info, &dev.keys).unwrap_err(),
            expected,
            "IV of {len} bytes"
        );
    }
}
