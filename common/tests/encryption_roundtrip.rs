//! Author side ↔ device side: every content algorithm with every key distribution method,
//! broadcast to several recipients, HPKE integrated mode, 16 MiB streams, and the streaming
//! GCM checked against the one-shot `aes-gcm` crate.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use ciborium::Value;
use p256::elliptic_curve::Generate;
use rand_core::{Rng, UnwrapErr};
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite, KeyWrap};
use suit_common::encryption::content::{AeadDecryptor, AeadEncryptor};
use suit_common::encryption::{
    decrypt, decrypt_integrated, encrypt_integrated, encrypt_payload, CoseOptions, DecryptError,
    EncryptError, Location, MemoryKeys, PayloadDecryptor, PayloadEncryptor, Problem, Psk,
    Recipient,
};
use suit_test_support::decrypt_in_chunks;

type TestRng = UnwrapErr<getrandom::SysRng>;

fn rng() -> TestRng {
    UnwrapErr(getrandom::SysRng)
}

const CONTENT: [ContentAlgorithm; 4] = [
    ContentAlgorithm::A128Gcm,
    ContentAlgorithm::A256Gcm,
    ContentAlgorithm::A128Ctr,
    ContentAlgorithm::A256Ctr,
];

struct Device {
    keys: MemoryKeys,
    public: p256::PublicKey,
    kek128: [u8; 16],
    kek256: [u8; 32],
}

/// A device with a KEK of each size, an ECDH-ES key and an HPKE key.
fn device(name: &str) -> Device {
    let mut r = rng();
    let sk = p256::SecretKey::generate_from_rng(&mut r);
    let mut keys = MemoryKeys::new();
    let mut k16 = [0u8; 16];
    let mut k32 = [0u8; 32];
    r.fill_bytes(&mut k16);
    r.fill_bytes(&mut k32);
    keys.add_kek(Some(format!("{name}-kw128").as_bytes()), &k16)
        .unwrap();
    keys.add_kek(Some(format!("{name}-kw256").as_bytes()), &k32)
        .unwrap();
    keys.add_ecdh_p256(Some(name.as_bytes()), &sk.to_bytes())
        .unwrap();
    keys.add_hpke_p256(Some(name.as_bytes()), &sk.to_bytes())
        .unwrap();
    keys.add_psk(b"psk-1", &[0x42; 32]);
    Device {
        keys,
        public: sk.public_key(),
        kek128: k16,
        kek256: k32,
    }
}

/// `pt` encrypted with `content` to `recipients`, in the SUIT profile.
fn suit_encrypt(
    pt: &[u8],
    content: ContentAlgorithm,
    recipients: &[Recipient<'_>],
) -> Result<suit_common::encryption::EncryptedPayload, suit_common::encryption::EncryptError> {
    encrypt_payload(pt, content, recipients, &CoseOptions::SUIT, &mut rng())
}

/// The AES-KW recipient `kid` with the KEK `kek`.
fn aes_kw<'a>(kid: &'a [u8], kek: &'a [u8]) -> Recipient<'a> {
    Recipient::AesKw {
        kid: Some(kid),
        kek,
    }
}

fn payload(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    rng().fill_bytes(&mut p);
    p
}

#[test]
fn every_mode_round_trips() {
    let dev = device("dev");
    let (k16, k32) = (dev.kek128, dev.kek256);
    let kid128 = b"dev-kw128".as_slice();
    let kid256 = b"dev-kw256".as_slice();
    let recipients = [
        Recipient::AesKw {
            kid: Some(kid128),
            kek: &k16,
        },
        Recipient::AesKw {
            kid: Some(kid256),
            kek: &k32,
        },
        Recipient::AesKw {
            kid: None,
            kek: &k16,
        },
        Recipient::EcdhEs {
            kid: Some(b"dev"),
            public_key: &dev.public,
            wrap: KeyWrap::A128Kw,
        },
        Recipient::EcdhEs {
            kid: None,
            public_key: &dev.public,
            wrap: KeyWrap::A256Kw,
        },
        Recipient::Hpke {
            kid: Some(b"dev"),
            public_key: &dev.public,
            suite: HpkeSuite::Hpke0,
            psk: None,
        },
        Recipient::Hpke {
            kid: None,
            public_key: &dev.public,
            suite: HpkeSuite::Hpke7,
            psk: None,
        },
        Recipient::Hpke {
            kid: Some(b"dev"),
            public_key: &dev.public,
            suite: HpkeSuite::Hpke0,
            psk: Some(Psk {
                id: b"psk-1",
                key: &[0x42; 32],
            }),
        },
    ];
    for content in CONTENT {
        for r in &recipients {
            for len in [0usize, 1, 15, 16, 17, 1000] {
                let pt = payload(len);
                let e = suit_encrypt(&pt, content, std::slice::from_ref(r)).unwrap();
                let tag = if content.is_aead() { 16 } else { 0 };
                assert_eq!(e.ciphertext.len(), len + tag);
                for chunk in [1, 7, 16, 4096] {
                    assert_eq!(
                        decrypt_in_chunks(&e.encryption_info, &dev.keys, &e.ciphertext, chunk)
                            .unwrap(),
                        pt,
                        "{content:?} {r:?}"
                    );
                }
                if content.is_aead() && len > 0 {
                    let mut bad = e.ciphertext.clone();
                    bad[len / 2] ^= 0x80;
                    assert_eq!(
                        decrypt_in_chunks(&e.encryption_info, &dev.keys, &bad, 5).unwrap_err(),
                        DecryptError::TagMismatch
                    );
                }
            }
        }
    }
}

#[test]
fn broadcast_one_ciphertext_many_devices() {
    let a = device("a");
    let b = device("b");
    let c = device("c");
    let ka = a.kek128;
    let recipients = [
        aes_kw(b"a-kw128", &ka),
        Recipient::EcdhEs {
            kid: Some(b"b"),
            public_key: &b.public,
            wrap: KeyWrap::A128Kw,
        },
        Recipient::Hpke {
            kid: Some(b"c"),
            public_key: &c.public,
            suite: HpkeSuite::Hpke0,
            psk: None,
        },
    ];
    let pt = payload(5000);
    let e = suit_encrypt(&pt, ContentAlgorithm::A128Gcm, &recipients).unwrap();
    for dev in [&a, &b, &c] {
        assert_eq!(
            decrypt_in_chunks(&e.encryption_info, &dev.keys, &e.ciphertext, 333).unwrap(),
            pt
        );
    }
    // A device that is not a recipient.
    let d = device("d");
    assert_eq!(
        PayloadDecryptor::new(&e.encryption_info, &d.keys).unwrap_err(),
        DecryptError::NoRecipientForKeys
    );
    // Without kids, a stranger's keys are tried and fail cryptographically.
    let anon = [Recipient::EcdhEs {
        kid: None,
        public_key: &b.public,
        wrap: KeyWrap::A128Kw,
    }];
    let e = suit_encrypt(&pt, ContentAlgorithm::A256Ctr, &anon).unwrap();
    assert_eq!(
        PayloadDecryptor::new(&e.encryption_info, &d.keys).unwrap_err(),
        DecryptError::KeyUnwrapFailed
    );
    assert_eq!(
        decrypt_in_chunks(&e.encryption_info, &b.keys, &e.ciphertext, 999).unwrap(),
        pt
    );
    assert_eq!(
        suit_encrypt(&pt, ContentAlgorithm::A128Gcm, &[]).unwrap_err(),
        EncryptError::NoRecipients
    );
}

/// Plain COSE with external AAD and HPKE info.
const PLAIN_COSE_WITH_INPUTS: CoseOptions<'static> = CoseOptions {
    external_aad: b"aad",
    hpke_info: b"info",
    ..CoseOptions::COSE
};

#[test]
fn hpke_integrated_round_trips() {
    let dev = device("int");
    let opts = PLAIN_COSE_WITH_INPUTS;
    for suite in [HpkeSuite::Hpke0, HpkeSuite::Hpke7] {
        for psk in [
            None,
            Some(Psk {
                id: b"psk-1",
                key: &[0x42; 32],
            }),
        ] {
            let pt = payload(300);
            let msg = encrypt_integrated(
                &pt,
                suite,
                &dev.public,
                Some(b"int"),
                psk,
                &opts,
                &mut rng(),
            )
            .unwrap();
            assert_eq!(
                &decrypt_integrated(&msg, None, &dev.keys, &opts).unwrap()[..],
                &pt[..]
            );
            assert_eq!(
                decrypt_integrated(&msg, None, &dev.keys, &CoseOptions::COSE).unwrap_err(),
                DecryptError::HpkeOpenFailed
            );
            let mut bad = msg.clone();
            let n = bad.len();
            bad[n - 20] ^= 1;
            assert_eq!(
                decrypt_integrated(&bad, None, &dev.keys, &opts).unwrap_err(),
                DecryptError::HpkeOpenFailed
            );
        }
    }
}

#[test]
fn external_inputs_bind_the_key_encryption() {
    let dev = device("ext");
    let opts = CoseOptions {
        external_aad: b"x",
        ecdh_kdf_other: Some(b"other"),
        hpke_info: b"i",
        hpke_aad: b"a",
    };
    let r = [
        Recipient::EcdhEs {
            kid: Some(b"ext"),
            public_key: &dev.public,
            wrap: KeyWrap::A128Kw,
        },
        Recipient::Hpke {
            kid: Some(b"ext"),
            public_key: &dev.public,
            suite: HpkeSuite::Hpke7,
            psk: None,
        },
    ];
    for one in &r {
        let e = encrypt_payload(
            b"fw",
            ContentAlgorithm::A256Gcm,
            std::slice::from_ref(one),
            &opts,
            &mut rng(),
        )
        .unwrap();
        assert_eq!(
            &decrypt(&e.encryption_info, Some(&e.ciphertext), &dev.keys, &opts).unwrap()[..],
            b"fw"
        );
        assert!(decrypt(
            &e.encryption_info,
            Some(&e.ciphertext),
            &dev.keys,
            &CoseOptions::SUIT
        )
        .is_err());
    }
}

#[test]
fn sixteen_mebibytes_stream_in_constant_chunks() {
    let dev = device("big");
    let k16 = dev.kek128;
    let pt = payload(16 * 1024 * 1024 + 5);
    for content in [ContentAlgorithm::A128Gcm, ContentAlgorithm::A256Ctr] {
        let r = [aes_kw(b"big-kw128", &k16)];
        let mut enc = PayloadEncryptor::new(content, &r, &CoseOptions::SUIT, &mut rng()).unwrap();
        let info = enc.encryption_info().to_vec();
        let mut ct = Vec::with_capacity(pt.len() + 16);
        for c in pt.chunks(64 * 1024) {
            ct.extend_from_slice(&enc.update(c).unwrap());
        }
        ct.extend_from_slice(&enc.finish());
        // Decrypt in odd-sized chunks; every returned piece is at most the input size.
        let mut d = PayloadDecryptor::new(&info, &dev.keys).unwrap();
        let mut pos = 0;
        for c in ct.chunks(65_537) {
            let out = d.update(c).unwrap();
            assert!(out.len() <= c.len() + 16);
            assert_eq!(&out[..], &pt[pos..pos + out.len()]);
            pos += out.len();
        }
        d.finish().unwrap();
        assert_eq!(pos, pt.len());
        if content.is_aead() {
            let mut bad = ct.clone();
            bad[8 * 1024 * 1024] ^= 1;
            let mut d = PayloadDecryptor::new(&info, &dev.keys).unwrap();
            for c in bad.chunks(1 << 20) {
                d.update(c).unwrap();
            }
            assert_eq!(d.finish().unwrap_err(), DecryptError::TagMismatch);
        }
    }
}

#[test]
fn streaming_gcm_matches_aes_gcm_crate() {
    type Gcm128N16 = aes_gcm::AesGcm<aes_gcm::aes::Aes128, aes_gcm::aead::consts::U16>;
    let mut r = rng();
    for round in 0..300 {
        let key_len = if round % 2 == 0 { 16 } else { 32 };
        let iv_len = if round % 3 == 0 { 16 } else { 12 };
        let key = payload(key_len);
        let iv = payload(iv_len);
        let aad = payload((r.next_u32() % 70) as usize);
        let pt = payload((r.next_u32() % 200) as usize);
        let p = Payload {
            msg: &pt,
            aad: &aad,
        };
        let reference = match (key_len, iv_len) {
            (16, 12) => aes_gcm::Aes128Gcm::new_from_slice(&key)
                .unwrap()
                .encrypt(iv.as_slice().try_into().unwrap(), p),
            (32, 12) => aes_gcm::Aes256Gcm::new_from_slice(&key)
                .unwrap()
                .encrypt(iv.as_slice().try_into().unwrap(), p),
            (16, 16) => Gcm128N16::new_from_slice(&key)
                .unwrap()
                .encrypt(iv.as_slice().try_into().unwrap(), p),
            _ => continue,
        }
        .unwrap();
        let mut e = AeadEncryptor::aes_gcm(&key, &iv, &aad).unwrap();
        let chunk = 1 + (r.next_u32() % 40) as usize;
        let mut ours = Vec::new();
        for c in pt.chunks(chunk) {
            ours.extend_from_slice(&e.update(c).unwrap());
        }
        ours.extend_from_slice(&e.finish());
        assert_eq!(ours, reference, "round {round}");
        let mut d = AeadDecryptor::aes_gcm(&key, &iv, &aad).unwrap();
        let mut back = Vec::new();
        for c in reference.chunks(chunk) {
            back.extend_from_slice(&d.update(c).unwrap());
        }
        d.finish().unwrap();
        assert_eq!(back, pt);
    }
}

#[test]
fn finish_without_a_tag_is_truncated() {
    let dev = device("p");
    let k16 = dev.kek128;
    let e = suit_encrypt(b"x", ContentAlgorithm::A128Gcm, &[aes_kw(b"p-kw128", &k16)]).unwrap();
    let d = PayloadDecryptor::new(&e.encryption_info, &dev.keys).unwrap();
    assert_eq!(d.finish().unwrap_err(), DecryptError::Truncated);
}

/// `key_check` names the content key: the same encryption info and keys give the same value
/// (a streamed install compares the engine's decryptor with the one used as the payload
/// arrived), another content key a different one.
#[test]
fn key_check_tells_content_keys_apart() {
    let dev = device("p");
    let k16 = dev.kek128;
    let encrypt = || {
        suit_encrypt(
            b"payload",
            ContentAlgorithm::A128Gcm,
            &[aes_kw(b"p-kw128", &k16)],
        )
        .unwrap()
    };
    let (one, other) = (encrypt(), encrypt());
    let check = |info: &[u8]| *PayloadDecryptor::new(info, &dev.keys).unwrap().key_check();
    assert_eq!(check(&one.encryption_info), check(&one.encryption_info));
    assert_ne!(check(&one.encryption_info), check(&other.encryption_info));
}

// ---- The AES-KW recipient forms of draft-ietf-suit-firmware-encryption §5.1.3 ----
//
// Its CDDL: `protected : bstr .size 0 / bstr .cbor empty_map` and `? 1 => int / tstr` in the
// unprotected map. suit-author writes h'' and `alg`; the recipients below are made by the
// author side and then edited as CBOR values.

/// `info` (a COSE_Encrypt) with recipient `i`, `[protected, unprotected, ciphertext]`, changed
/// by `edit`.
fn edit_recipient(info: &[u8], i: usize, edit: impl FnOnce(&mut Vec<Value>)) -> Vec<u8> {
    let mut v: Value = ciborium::de::from_reader(info).unwrap();
    let Value::Tag(96, inner) = &mut v else {
        panic!("not a COSE_Encrypt")
    };
    let Value::Array(parts) = inner.as_mut() else {
        panic!("not a COSE_Encrypt")
    };
    let Value::Array(recipients) = &mut parts[3] else {
        panic!("no recipients")
    };
    let Value::Array(r) = &mut recipients[i] else {
        panic!("not a recipient")
    };
    edit(r);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&v, &mut out).unwrap();
    out
}

fn cbor_of(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

/// The recipient's protected bucket set to `protected` (its encoded map, or empty).
fn set_protected(r: &mut [Value], protected: &[u8]) {
    r[0] = Value::Bytes(protected.to_vec());
}

/// The recipient's protected header parameters as a map.
fn protected_map(r: &[Value]) -> Vec<(Value, Value)> {
    let Value::Bytes(b) = &r[0] else {
        panic!("protected is not a bstr")
    };
    if b.is_empty() {
        return Vec::new();
    }
    match ciborium::de::from_reader(b.as_slice()).unwrap() {
        Value::Map(m) => m,
        _ => panic!("protected is not a map"),
    }
}

/// Removes `label` from the recipient's unprotected map and returns its value.
fn take_unprotected(r: &mut [Value], label: i64) -> Option<Value> {
    let Value::Map(m) = &mut r[1] else {
        panic!("unprotected is not a map")
    };
    let at = m.iter().position(|(k, _)| *k == Value::from(label))?;
    Some(m.remove(at).1)
}

const ALG: i64 = 1;
const KID: i64 = 4;

/// A change to one recipient, `[protected, unprotected, ciphertext]`.
type RecipientEdit<'a> = Box<dyn Fn(&mut Vec<Value>) + 'a>;
const EMPTY_MAP: &[u8] = &[0xa0];

fn decrypt_suit(
    info: &[u8],
    ciphertext: &[u8],
    keys: &MemoryKeys,
) -> Result<Vec<u8>, DecryptError> {
    decrypt(info, Some(ciphertext), keys, &CoseOptions::SUIT).map(|p| p.to_vec())
}

/// h'a0' for h'', no `alg`, both: each opens, with a KEK of either size (A128KW and A256KW,
/// the KEK's size deciding which unwrap applies), every content algorithm (wrapped CEK of 24
/// and 40 bytes), with the device's kid, with none, and with another kid (a hint only).
#[test]
fn aes_kw_recipients_in_every_form_the_draft_allows_open() {
    let dev = device("dev");
    let (k16, k32) = (dev.kek128, dev.kek256);
    type Form = (&'static str, fn(&mut Vec<Value>));
    let forms: [Form; 3] = [
        ("protected h'a0'", |r| set_protected(r, EMPTY_MAP)),
        ("no alg", |r| {
            take_unprotected(r, ALG).unwrap();
        }),
        ("protected h'a0' and no alg", |r| {
            set_protected(r, EMPTY_MAP);
            take_unprotected(r, ALG).unwrap();
        }),
    ];
    let recipients = [
        aes_kw(b"dev-kw128", &k16),
        aes_kw(b"dev-kw256", &k32),
        Recipient::AesKw {
            kid: None,
            kek: &k16,
        },
        Recipient::AesKw {
            kid: None,
            kek: &k32,
        },
        aes_kw(b"someone-else", &k16),
        aes_kw(b"someone-else", &k32),
    ];
    for content in CONTENT {
        for r in &recipients {
            let pt = payload(100);
            let e = suit_encrypt(&pt, content, std::slice::from_ref(r)).unwrap();
            for (form, edit) in &forms {
                let info = edit_recipient(&e.encryption_info, 0, edit);
                assert_ne!(info, e.encryption_info);
                assert_eq!(
                    decrypt_suit(&info, &e.ciphertext, &dev.keys).as_deref(),
                    Ok(pt.as_slice()),
                    "{content:?} {r:?} {form}"
                );
                assert_eq!(
                    decrypt_in_chunks(&info, &dev.keys, &e.ciphertext, 7).unwrap(),
                    pt,
                    "{content:?} {r:?} {form} streamed"
                );
            }
        }
    }
}

/// Without `alg`, the device's KEKs of both sizes are candidates, kid-matching ones first and
/// at most `MAX_KEY_CANDIDATES` in all, as for any recipient.
#[test]
fn aes_kw_recipient_without_alg_tries_kid_matching_keks_first_and_a_bounded_number() {
    let mut r = rng();
    let mut kek = [0u8; 32];
    r.fill_bytes(&mut kek);
    let mut keys = MemoryKeys::new();
    for i in 0..suit_common::encryption::recipient::MAX_KEY_CANDIDATES as u8 {
        keys.add_kek(Some(&[b'w', i]), &[i; 16]).unwrap();
    }
    keys.add_kek(Some(b"right"), &kek).unwrap();
    let pt = payload(40);
    for (kid, opens) in [(Some(b"right".as_slice()), true), (None, false)] {
        let e = suit_encrypt(
            &pt,
            ContentAlgorithm::A256Gcm,
            &[Recipient::AesKw { kid, kek: &kek }],
        )
        .unwrap();
        let info = edit_recipient(&e.encryption_info, 0, |r| {
            take_unprotected(r, ALG).unwrap();
        });
        let got = decrypt_suit(&info, &e.ciphertext, &keys);
        if opens {
            assert_eq!(got.unwrap(), pt);
        } else {
            // `MAX_KEY_CANDIDATES` 16-byte KEKs came first and failed; the next was never tried.
            assert_eq!(got.unwrap_err(), DecryptError::KeyUnwrapFailed);
        }
    }
}

/// For a device holding a KEK of each size, a recipient without `alg` is refused exactly as
/// the same recipient naming A128KW / A256KW (no error tells the two apart), and another
/// device's recipient without `alg` first does not stop the device's own.
#[test]
fn aes_kw_recipient_without_alg_is_ranked_like_one_with_alg() {
    let dev = device("dev");
    let other = device("other");
    let (o16, o32) = (other.kek128, other.kek256);
    let pt = payload(64);
    for content in CONTENT {
        for foreign in [
            aes_kw(b"other-kw128", &o16),
            aes_kw(b"other-kw256", &o32),
            Recipient::AesKw {
                kid: None,
                kek: &o16,
            },
            Recipient::AesKw {
                kid: None,
                kek: &o32,
            },
        ] {
            let e = suit_encrypt(&pt, content, std::slice::from_ref(&foreign)).unwrap();
            let no_alg = edit_recipient(&e.encryption_info, 0, |r| {
                take_unprotected(r, ALG).unwrap();
            });
            let with_alg = decrypt_suit(&e.encryption_info, &e.ciphertext, &dev.keys);
            assert!(with_alg.is_err());
            assert_eq!(
                decrypt_suit(&no_alg, &e.ciphertext, &dev.keys),
                with_alg,
                "{content:?} {foreign:?}"
            );
            // Another device's recipient without `alg` first, then this device's (ECDH-ES).
            let both = suit_encrypt(
                &pt,
                content,
                &[
                    foreign,
                    Recipient::EcdhEs {
                        kid: Some(b"dev"),
                        public_key: &dev.public,
                        wrap: KeyWrap::A128Kw,
                    },
                ],
            )
            .unwrap();
            let info = edit_recipient(&both.encryption_info, 0, |r| {
                take_unprotected(r, ALG).unwrap();
            });
            assert_eq!(
                decrypt_suit(&info, &both.ciphertext, &dev.keys).unwrap(),
                pt
            );
        }
    }
    // A kid naming none of the device's keys: tried with them (a hint), none opens, so "no
    // recipient for this device's keys"; no kid: its failure is the recipient's.
    let e = suit_encrypt(&pt, ContentAlgorithm::A128Gcm, &[aes_kw(b"x", &o16)]).unwrap();
    let no_alg = edit_recipient(&e.encryption_info, 0, |r| {
        take_unprotected(r, ALG).unwrap();
    });
    assert_eq!(
        decrypt_suit(&no_alg, &e.ciphertext, &dev.keys).unwrap_err(),
        DecryptError::NoRecipientForKeys
    );
    let no_kid = edit_recipient(&no_alg, 0, |r| {
        take_unprotected(r, KID).unwrap();
    });
    assert_eq!(
        decrypt_suit(&no_kid, &e.ciphertext, &dev.keys).unwrap_err(),
        DecryptError::KeyUnwrapFailed
    );
}

/// A protected map with any label (h'a1...') is still refused in an AES-KW recipient, with
/// or without `alg` elsewhere; without any `alg` such a recipient is not taken for AES-KW.
#[test]
fn aes_kw_recipient_with_protected_parameters_is_still_refused() {
    let dev = device("dev");
    let k16 = dev.kek128;
    let pt = payload(32);
    let e = suit_encrypt(
        &pt,
        ContentAlgorithm::A128Gcm,
        &[aes_kw(b"dev-kw128", &k16)],
    )
    .unwrap();
    let not_empty = DecryptError::Malformed {
        at: Location::RecipientProtected(0),
        problem: Problem::ProtectedNotEmpty,
    };
    let unknown_label = cbor_of(&Value::Map(vec![(99.into(), 0.into())]));
    let cases: [(&str, RecipientEdit<'_>, DecryptError); 4] = [
        (
            "{99: 0} protected, alg unprotected",
            Box::new(|r| set_protected(r, &unknown_label)),
            not_empty,
        ),
        (
            "alg protected",
            Box::new(|r| {
                let alg = take_unprotected(r, ALG).unwrap();
                set_protected(r, &cbor_of(&Value::Map(vec![(ALG.into(), alg)])));
            }),
            not_empty,
        ),
        (
            "alg protected, no kid",
            Box::new(|r| {
                let alg = take_unprotected(r, ALG).unwrap();
                take_unprotected(r, KID).unwrap();
                set_protected(r, &cbor_of(&Value::Map(vec![(ALG.into(), alg)])));
            }),
            not_empty,
        ),
        (
            "kid protected, no alg",
            Box::new(|r| {
                take_unprotected(r, ALG).unwrap();
                let kid = take_unprotected(r, KID).unwrap();
                set_protected(r, &cbor_of(&Value::Map(vec![(KID.into(), kid)])));
            }),
            DecryptError::Malformed {
                at: Location::Recipient(0),
                problem: Problem::MissingHeader(ALG),
            },
        ),
    ];
    for (what, edit, expected) in cases {
        let info = edit_recipient(&e.encryption_info, 0, edit);
        assert_eq!(
            decrypt_suit(&info, &e.ciphertext, &dev.keys).unwrap_err(),
            expected,
            "{what}"
        );
    }
}

/// Only AES-KW may leave `alg` out: an ECDH-ES or HPKE recipient without it (its protected
/// bucket emptied) is another device's, never tried, even with this device's keys.
#[test]
fn ecdh_es_and_hpke_recipients_still_need_their_alg() {
    let dev = device("dev");
    let pt = payload(32);
    let missing = DecryptError::Malformed {
        at: Location::Recipient(0),
        problem: Problem::MissingHeader(ALG),
    };
    for content in [ContentAlgorithm::A128Gcm, ContentAlgorithm::A256Ctr] {
        for r in [
            Recipient::EcdhEs {
                kid: Some(b"dev"),
                public_key: &dev.public,
                wrap: KeyWrap::A128Kw,
            },
            Recipient::EcdhEs {
                kid: None,
                public_key: &dev.public,
                wrap: KeyWrap::A256Kw,
            },
            Recipient::Hpke {
                kid: Some(b"dev"),
                public_key: &dev.public,
                suite: HpkeSuite::Hpke0,
                psk: None,
            },
        ] {
            let e = suit_encrypt(&pt, content, std::slice::from_ref(&r)).unwrap();
            for empty in [&[][..], EMPTY_MAP] {
                let info = edit_recipient(&e.encryption_info, 0, |rec| {
                    assert!(protected_map(rec)
                        .iter()
                        .any(|(k, _)| *k == Value::from(ALG)));
                    set_protected(rec, empty);
                });
                assert_eq!(
                    decrypt_suit(&info, &e.ciphertext, &dev.keys).unwrap_err(),
                    missing,
                    "{content:?} {r:?} {empty:02x?}"
                );
            }
        }
    }
}

/// An ECDH-ES ephemeral key may be a compressed point (RFC 9053 §7.1.1, `y: bool`): the same
/// point opens as its uncompressed form does (read by the one helper that also reads trust
/// anchors); an `x` off the curve is refused. (The other sign bit, -P, would open too: ECDH's
/// shared secret is the x-coordinate of d·P.)
#[test]
fn a_compressed_ephemeral_key_opens_like_the_uncompressed_one() {
    let dev = device("c");
    let recipients = [Recipient::EcdhEs {
        kid: Some(b"c"),
        public_key: &dev.public,
        wrap: KeyWrap::A128Kw,
    }];
    let pt = payload(300);
    let e = suit_encrypt(&pt, ContentAlgorithm::A128Gcm, &recipients).unwrap();
    let info = &e.encryption_info;
    // The ephemeral key's -2: x and -3: y, as the author writes them.
    let at = info
        .windows(3)
        .position(|w| w == [0x21, 0x58, 0x20])
        .unwrap();
    let x = info[at + 3..at + 35].to_vec();
    assert_eq!(info[at + 35..at + 38], [0x22, 0x58, 0x20]);
    let odd = info[at + 37 + 32] & 1 == 1;
    let with = |x: &[u8], odd: bool| {
        let sign = if odd { 0xf5 } else { 0xf4 };
        [&info[..at + 3], x, &[0x22, sign], &info[at + 70..]].concat()
    };
    let compressed = with(&x, odd);
    assert_eq!(
        decrypt_in_chunks(&compressed, &dev.keys, &e.ciphertext, 100).unwrap(),
        pt
    );
    let off_curve = (1u8..)
        .map(|i| [[0; 31].as_slice(), &[i]].concat())
        .find(|x| p256::PublicKey::from_sec1_bytes(&[&[2], x.as_slice()].concat()).is_err())
        .unwrap();
    assert_eq!(
        PayloadDecryptor::new(&with(&off_curve, odd), &dev.keys).unwrap_err(),
        DecryptError::InvalidPublicKey { recipient: 0 }
    );
}

/// RFC 9052 §3.1: `crit` names the protected parameters a recipient must process. One that
/// lists only parameters its layer processes is honoured (content layer: alg, IV; recipient:
/// alg, kid, the ECDH-ES and HPKE parameters), at either layer; any other label is refused
/// naming it; an empty `crit` or one in the unprotected bucket is malformed. Built by hand
/// (A128GCM content, one ECDH-ES+A128KW recipient) so each layer's protected bucket can be
/// chosen and still open: it is the GCM AAD and part of the KDF context.
#[test]
fn crit_listing_only_labels_the_layer_processes_is_honoured() {
    use p256::elliptic_curve::sec1::ToSec1Point;
    use suit_common::encryption::algorithms::SUIT_KDF_OTHER;
    use suit_common::encryption::recipient::{aes_kw, ecdh_es};
    use suit_common::encryption::EcdhSecret;
    let dev = device("dev");
    let pt = payload(100);
    let (cek, iv) = ([7u8; 16], [9u8; 12]);
    let build = |prot: &[u8], unprot: Value, rprot: &[u8]| {
        let aad = cbor_of(&Value::Array(vec![
            "Encrypt".into(),
            Value::Bytes(prot.to_vec()),
            Value::Bytes(vec![]),
        ]));
        let ct = aes_gcm::Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .encrypt(
                iv.as_slice().try_into().unwrap(),
                Payload {
                    msg: &pt,
                    aad: &aad,
                },
            )
            .unwrap();
        let eph = p256::SecretKey::generate_from_rng(&mut rng());
        let shared = p256::ecdh::diffie_hellman(eph.to_nonzero_scalar(), dev.public.as_affine());
        let z = EcdhSecret::from_slice(shared.raw_secret_bytes()).unwrap();
        let ctx = ecdh_es::KdfContext {
            wrap: KeyWrap::A128Kw,
            party_u: Default::default(),
            party_v: Default::default(),
            protected: rprot,
            other: Some(SUIT_KDF_OTHER),
        }
        .encode()
        .unwrap();
        let kek = ecdh_es::derive_kek(&z, None, &ctx, KeyWrap::A128Kw);
        let wrapped = aes_kw::wrap(kek.as_bytes(), &cek).unwrap();
        let point = eph.public_key().to_sec1_point(false);
        let (x, y) = point.as_bytes()[1..].split_at(32);
        let epk = Value::Map(vec![
            (1.into(), 2.into()),
            ((-1).into(), 1.into()),
            ((-2).into(), Value::Bytes(x.to_vec())),
            ((-3).into(), Value::Bytes(y.to_vec())),
        ]);
        let recipient = Value::Array(vec![
            Value::Bytes(rprot.to_vec()),
            Value::Map(vec![
                (4.into(), Value::Bytes(b"dev".to_vec())),
                ((-1).into(), epk),
            ]),
            Value::Bytes(wrapped),
        ]);
        let info = cbor_of(&Value::Tag(
            96,
            Box::new(Value::Array(vec![
                Value::Bytes(prot.to_vec()),
                unprot,
                Value::Null,
                Value::Array(vec![recipient]),
            ])),
        ));
        decrypt_suit(&info, &ct, &dev.keys)
    };
    let iv_only = || Value::Map(vec![(5.into(), Value::Bytes(iv.to_vec()))]);
    let with_crit = |alg: i64, crit: Vec<Value>| {
        cbor_of(&Value::Map(vec![
            (1.into(), alg.into()),
            (2.into(), Value::Array(crit)),
        ]))
    };
    let a128gcm = cbor_of(&Value::Map(vec![(1.into(), 1.into())]));
    let ecdh = cbor_of(&Value::Map(vec![(1.into(), (-29).into())]));
    assert_eq!(build(&a128gcm, iv_only(), &ecdh), Ok(pt.clone()));
    for crit in [vec![1.into()], vec![1.into(), 5.into()]] {
        let r = build(&with_crit(1, crit.clone()), iv_only(), &ecdh);
        assert_eq!(r, Ok(pt.clone()), "content {crit:?}");
    }
    for crit in [vec![1.into()], vec![1.into(), 4.into(), (-1).into()]] {
        let r = build(&a128gcm, iv_only(), &with_crit(-29, crit.clone()));
        assert_eq!(r, Ok(pt.clone()), "recipient {crit:?}");
    }
    for (crit, label) in [
        (vec![4.into()], 4), // kid: not read at the content layer
        (vec![1.into(), 99.into()], 99),
        (vec!["x".into()], 2), // a text label is named as crit
    ] {
        assert_eq!(
            build(&with_crit(1, crit), iv_only(), &ecdh),
            Err(DecryptError::Unsupported {
                at: Location::Protected,
                label: Some(label)
            })
        );
    }
    assert_eq!(
        build(&a128gcm, iv_only(), &with_crit(-29, vec![5.into()])),
        Err(DecryptError::Unsupported {
            at: Location::RecipientProtected(0),
            label: Some(5)
        })
    );
    assert_eq!(
        build(&with_crit(1, vec![]), iv_only(), &ecdh),
        Err(DecryptError::Malformed {
            at: Location::Protected,
            problem: Problem::HeaderType(2)
        })
    );
    let loose = Value::Map(vec![
        (2.into(), Value::Array(vec![1.into()])),
        (5.into(), Value::Bytes(iv.to_vec())),
    ]);
    assert_eq!(
        build(&a128gcm, loose, &ecdh),
        Err(DecryptError::Malformed {
            at: Location::Unprotected,
            problem: Problem::WrongBucket(2)
        })
    );
}
