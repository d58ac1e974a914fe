//! SUIT firmware encryption vectors (suit-wg/suit-firmware-encryption examples): every
//! SUIT_Encryption_Info + ciphertext pair decrypts, one-shot and streamed, and every kind of
//! tampering is refused with its precise error.

use suit_common::encryption::algorithms::{ContentAlgorithm, SUIT_KDF_OTHER};
use suit_common::encryption::recipient::ecdh_es::KdfContext;
use suit_common::encryption::{
    decrypt, unwrap_content_key, CoseOptions, DecryptError, Location, MemoryKeys, PayloadDecryptor,
    Problem,
};
use suit_test_support::decrypt_in_chunks;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/suit-firmware-encryption-payloads/"
);
const PLAINTEXT: &[u8] = b"This is a real firmware image.";
const GCM_CEK: &str = "15F785B5C931414411B4B71373A9C0F7";
const CTR_CEK: &str = "261DE6165070FB8951EC5D7B92A065FE";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap()
}

fn read_hex(name: &str) -> Vec<u8> {
    let text = String::from_utf8(read(name)).unwrap();
    hex::decode(text.split_whitespace().collect::<String>()).unwrap()
}

fn jwk(name: &str, field: &str) -> Vec<u8> {
    use base64::Engine;
    let v: serde_json::Value = serde_json::from_slice(&read(name)).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v[field].as_str().unwrap())
        .unwrap()
}

fn device_keys() -> MemoryKeys {
    let mut keys = MemoryKeys::new();
    keys.add_kek(Some(b"kid-1"), &jwk("kek_a128kw_kid-1.jwk.json", "k"))
        .unwrap();
    keys.add_ecdh_p256(
        Some(b"kid-2"),
        &jwk("receiver_p256_ecdh_kid-2_private.jwk.json", "d"),
    )
    .unwrap();
    keys
}

struct Case {
    name: &'static str,
    algorithm: ContentAlgorithm,
    cek: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        name: "aes-kw-aes-gcm",
        algorithm: ContentAlgorithm::A128Gcm,
        cek: GCM_CEK,
    },
    Case {
        name: "es-ecdh-aes-gcm",
        algorithm: ContentAlgorithm::A128Gcm,
        cek: GCM_CEK,
    },
    Case {
        name: "aes-kw-aes-ctr",
        algorithm: ContentAlgorithm::A128Ctr,
        cek: CTR_CEK,
    },
    Case {
        name: "es-ecdh-aes-ctr",
        algorithm: ContentAlgorithm::A128Ctr,
        cek: CTR_CEK,
    },
];

/// The device's keys, and `case`'s encryption info and ciphertext.
fn case_input(case: &Case) -> (MemoryKeys, Vec<u8>, Vec<u8>) {
    (device_keys(), info(case), ciphertext(case))
}

fn info(case: &Case) -> Vec<u8> {
    read_hex(&format!("suit-encryption-info-{}.hex", case.name))
}

fn ciphertext(case: &Case) -> Vec<u8> {
    read(&format!("encrypted-payload-{}.bin", case.name))
}

#[test]
fn every_vector_decrypts_to_the_firmware_image() {
    let keys = device_keys();
    for case in &CASES {
        let (info, ct) = (info(case), ciphertext(case));
        let pt = decrypt(&info, Some(&ct), &keys, &CoseOptions::SUIT).unwrap();
        assert_eq!(&pt[..], PLAINTEXT, "{}", case.name);
        let d = PayloadDecryptor::new(&info, &keys).unwrap();
        assert_eq!(d.algorithm(), case.algorithm, "{}", case.name);
    }
}

#[test]
fn every_vector_yields_the_expected_cek() {
    let keys = device_keys();
    for case in &CASES {
        let (alg, cek) = unwrap_content_key(&info(case), &keys, &CoseOptions::SUIT).unwrap();
        assert_eq!(alg, case.algorithm);
        assert_eq!(hex::encode_upper(cek.as_bytes()), case.cek, "{}", case.name);
    }
}

#[test]
fn streaming_in_every_chunk_size() {
    let keys = device_keys();
    for case in &CASES {
        let (info, ct) = (info(case), ciphertext(case));
        for chunk in 1..=ct.len() + 1 {
            assert_eq!(
                decrypt_in_chunks(&info, &keys, &ct, chunk).unwrap(),
                PLAINTEXT,
                "{} chunk {chunk}",
                case.name
            );
        }
        // Empty updates in between change nothing.
        let mut d = PayloadDecryptor::new(&info, &keys).unwrap();
        let mut out = Vec::new();
        for b in &ct {
            out.extend_from_slice(&d.update(&[]).unwrap());
            out.extend_from_slice(&d.update(std::slice::from_ref(b)).unwrap());
        }
        d.finish().unwrap();
        assert_eq!(out, PLAINTEXT);
    }
}

#[test]
fn suit_kdf_context_matches_the_vector() {
    let ctx = KdfContext {
        wrap: suit_common::encryption::algorithms::KeyWrap::A128Kw,
        party_u: Default::default(),
        party_v: Default::default(),
        protected: &hex::decode("a101381c").unwrap(),
        other: Some(SUIT_KDF_OTHER),
    };
    assert_eq!(
        hex::encode(ctx.encode().unwrap()),
        "842283f6f6f683f6f6f683188044a101381c5753554954205061796c6f616420456e6372797074696f6e"
    );
}

#[test]
fn ecdh_recipient_without_kid_tries_every_device_key() {
    let mut keys = MemoryKeys::new();
    // A different P-256 key first: the recipient has no kid, so both are tried.
    keys.add_ecdh_p256(Some(b"other"), &[7u8; 32]).unwrap();
    keys.add_ecdh_p256(None, &jwk("receiver_p256_ecdh_kid-2_private.jwk.json", "d"))
        .unwrap();
    let case = &CASES[1];
    let pt = decrypt(
        &info(case),
        Some(&ciphertext(case)),
        &keys,
        &CoseOptions::SUIT,
    )
    .unwrap();
    assert_eq!(&pt[..], PLAINTEXT);
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x01;
    b
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn tampered_gcm_ciphertext_or_tag_fails_at_finish() {
    let keys = device_keys();
    for case in &CASES[..2] {
        let (info, ct) = (info(case), ciphertext(case));
        for at in [0, 15, 29, 30, 45] {
            let err = decrypt_in_chunks(&info, &keys, &flip(&ct, at), 7).unwrap_err();
            assert_eq!(err, DecryptError::TagMismatch, "{} byte {at}", case.name);
            assert_eq!(
                decrypt(&info, Some(&flip(&ct, at)), &keys, &CoseOptions::SUIT).unwrap_err(),
                DecryptError::TagMismatch
            );
        }
    }
}

#[test]
fn truncated_or_extended_gcm_stream_is_refused() {
    let (keys, info, ct) = case_input(&CASES[0]);
    let mut longer = ct.clone();
    longer.push(0);
    let cases: [(&str, &[u8], DecryptError); 5] = [
        (
            "one byte short",
            &ct[..ct.len() - 1],
            DecryptError::TagMismatch,
        ),
        ("30 bytes", &ct[..30], DecryptError::TagMismatch),
        (
            "15 bytes, shorter than the tag",
            &ct[..15],
            DecryptError::Truncated,
        ),
        ("empty", &[], DecryptError::Truncated),
        ("one byte more", &longer, DecryptError::TagMismatch),
    ];
    for (what, stream, want) in cases {
        let err = decrypt_in_chunks(&info, &keys, stream, 5).unwrap_err();
        assert_eq!(err, want, "{what}");
    }
}

#[test]
fn tampered_layer0_headers_are_refused() {
    let (keys, info, ct) = case_input(&CASES[0]);
    // IV F14AAB9D…: authenticated through GCM, so a changed IV fails the tag.
    let iv_at = find(&info, &hex::decode("F14AAB9D").unwrap());
    assert_eq!(
        decrypt_in_chunks(&flip(&info, iv_at), &keys, &ct, 46).unwrap_err(),
        DecryptError::TagMismatch
    );
    // Protected {1: 1} → {1: 3}: A256GCM needs a 32-byte CEK, the recipient gives 16.
    let alg_at = find(&info, &hex::decode("43A10101").unwrap()) + 3;
    let mut a256 = info.clone();
    a256[alg_at] = 0x03;
    assert_eq!(
        PayloadDecryptor::new(&a256, &keys).unwrap_err(),
        DecryptError::ContentKeyLength {
            expected: 32,
            found: 16
        }
    );
    // An unknown content algorithm.
    let mut unknown = info.clone();
    unknown[alg_at] = 0x17; // 23
    assert_eq!(
        PayloadDecryptor::new(&unknown, &keys).unwrap_err(),
        DecryptError::UnsupportedContentAlgorithm(23)
    );
}

#[test]
fn tampered_recipients_are_refused() {
    let keys = device_keys();
    // AES-KW: wrapped CEK altered → RFC 3394 integrity check fails.
    let info_kw = info(&CASES[0]);
    let wrapped_at = find(&info_kw, &hex::decode("75603FFC").unwrap());
    assert_eq!(
        PayloadDecryptor::new(&flip(&info_kw, wrapped_at + 3), &keys).unwrap_err(),
        DecryptError::KeyUnwrapFailed
    );
    // kid changed to one the device does not have: a kid is a hint (RFC 9052), so the
    // device's other A128KW key is still tried and opens it (issue 10).
    let kid_at = find(&info_kw, b"kid-1");
    let mut other_kid = info_kw.clone();
    other_kid[kid_at + 4] = b'9';
    assert!(PayloadDecryptor::new(&other_kid, &keys).is_ok());
    // ES-DH: the recipient protected header is bound into the KDF: A101381C → A1013818
    // (alg -25) makes the algorithm unsupported; altering the KDF input via the wrapped key
    // fails the unwrap; an ephemeral point off the curve is rejected as such.
    let info_es = info(&CASES[1]);
    let prot_at = find(&info_es, &hex::decode("44A101381C").unwrap());
    let mut alg25 = info_es.clone();
    alg25[prot_at + 4] = 0x18;
    assert_eq!(
        PayloadDecryptor::new(&alg25, &keys).unwrap_err(),
        DecryptError::UnsupportedRecipientAlgorithm(-25)
    );
    let x_at = find(&info_es, &hex::decode("73024F41").unwrap());
    assert_eq!(
        PayloadDecryptor::new(&flip(&info_es, x_at + 31), &keys).unwrap_err(),
        DecryptError::InvalidPublicKey { recipient: 0 }
    );
    let w_at = find(&info_es, &hex::decode("A06B8E65").unwrap());
    assert_eq!(
        PayloadDecryptor::new(&flip(&info_es, w_at), &keys).unwrap_err(),
        DecryptError::KeyUnwrapFailed
    );
}

/// The draft's AES-KW vectors with their recipient in the other forms its CDDL allows
/// (`bstr .size 0 / bstr .cbor empty_map`, `? 1 => int / tstr`) decrypt alike; a protected
/// map with a label does not.
#[test]
fn the_drafts_aes_kw_recipients_in_their_other_allowed_forms_decrypt() {
    let keys = device_keys();
    // [h'', {1: -3, 4: 'kid-1'}, wrapped CEK]
    let recipient = "8340A2012204456B69642D31";
    let forms = [
        ("protected h'a0'", "8341A0A2012204456B69642D31"),
        ("no alg", "8340A104456B69642D31"),
        ("no alg, no kid", "8340A0"),
        ("protected h'a0', no alg", "8341A0A104456B69642D31"),
    ];
    for case in [&CASES[0], &CASES[2]] {
        let (info, ct) = (info(case), ciphertext(case));
        let at = find(&info, &hex::decode(recipient).unwrap());
        let with = |form: &str| {
            let mut b = info.clone();
            b.splice(at..at + recipient.len() / 2, hex::decode(form).unwrap());
            b
        };
        for (what, form) in forms {
            assert_eq!(
                &decrypt(&with(form), Some(&ct), &keys, &CoseOptions::SUIT).unwrap()[..],
                PLAINTEXT,
                "{} {what}",
                case.name
            );
        }
        // alg moved into the protected bucket: h'a10122'.
        assert_eq!(
            PayloadDecryptor::new(&with("8343A10122A104456B69642D31"), &keys).unwrap_err(),
            DecryptError::Malformed {
                at: Location::RecipientProtected(0),
                problem: Problem::ProtectedNotEmpty
            },
            "{}",
            case.name
        );
    }
}

#[test]
fn wrong_keys_are_refused() {
    let mut wrong = MemoryKeys::new();
    wrong.add_kek(Some(b"kid-1"), &[0x62; 16]).unwrap();
    wrong.add_ecdh_p256(Some(b"kid-2"), &[9u8; 32]).unwrap();
    for case in &CASES {
        assert_eq!(
            PayloadDecryptor::new(&info(case), &wrong).unwrap_err(),
            DecryptError::KeyUnwrapFailed,
            "{}",
            case.name
        );
    }
    let none = MemoryKeys::new();
    for case in &CASES {
        assert_eq!(
            PayloadDecryptor::new(&info(case), &none).unwrap_err(),
            DecryptError::NoRecipientForKeys
        );
    }
    // A 256-bit KEK is not a candidate for an A128KW recipient.
    let mut k256 = MemoryKeys::new();
    k256.add_kek(Some(b"kid-1"), &[0x61; 32]).unwrap();
    assert_eq!(
        PayloadDecryptor::new(&info(&CASES[0]), &k256).unwrap_err(),
        DecryptError::NoRecipientForKeys
    );
}

#[test]
fn ctr_has_no_integrity_of_its_own() {
    // AES-CTR cannot detect tampering: the manifest's image digest must. Flipping a
    // ciphertext bit flips exactly that plaintext bit, and finish() still succeeds.
    let (keys, info, ct) = case_input(&CASES[2]);
    let out = decrypt_in_chunks(&info, &keys, &flip(&ct, 3), 4).unwrap();
    assert_eq!(out, flip(PLAINTEXT, 3));
}

#[test]
fn malformed_info_is_refused_precisely_and_never_panics() {
    let keys = device_keys();
    for case in &CASES {
        let info = info(case);
        for len in 0..info.len() {
            assert!(PayloadDecryptor::new(&info[..len], &keys).is_err());
        }
        for at in 0..info.len() {
            let _ = PayloadDecryptor::new(&flip(&info, at), &keys);
            let mut b = info.clone();
            b[at] = 0xff;
            let _ = PayloadDecryptor::new(&b, &keys);
        }
        let mut trailing = info.clone();
        trailing.push(0);
        assert_eq!(
            PayloadDecryptor::new(&trailing, &keys).unwrap_err(),
            DecryptError::Malformed {
                at: Location::Structure,
                problem: Problem::TrailingBytes
            }
        );
        assert_eq!(
            PayloadDecryptor::new(&info[2..], &keys).unwrap_err(),
            DecryptError::Malformed {
                at: Location::Structure,
                problem: Problem::Tag
            }
        );
    }
    // CTR with a protected header parameter is not SUIT ({99: 0} here); an empty map there
    // (h'a0') is an empty bucket like h'' (the draft's `empty_or_serialized_map`).
    let ctr = info(&CASES[2]);
    let p_at = find(&ctr, &hex::decode("8440A2").unwrap()) + 1;
    let mut empty_map = ctr.clone();
    empty_map.splice(p_at..p_at + 1, hex::decode("41A0").unwrap());
    assert_eq!(
        &decrypt(
            &empty_map,
            Some(&ciphertext(&CASES[2])),
            &keys,
            &CoseOptions::SUIT
        )
        .unwrap()[..],
        PLAINTEXT
    );
    let mut protected = ctr.clone();
    protected.splice(p_at..p_at + 1, hex::decode("44A1186300").unwrap());
    assert_eq!(
        PayloadDecryptor::new(&protected, &keys).unwrap_err(),
        DecryptError::Malformed {
            at: Location::Protected,
            problem: Problem::ProtectedNotEmpty
        }
    );
    // CTR's IV may be agreed out of band (the draft: "for example ... zero"); this device
    // agrees none, so an info without its IV header is refused (CONFORMANCE.md, device policy).
    // The unprotected map {1: -65534, 5: iv}: one entry fewer, without the IV.
    let map_at = find(&ctr, &hex::decode("A20139FFFD0550").unwrap());
    let mut no_iv = ctr.clone();
    no_iv.splice(map_at + 5..map_at + 7 + 16, []);
    no_iv[map_at] = 0xA1;
    assert_eq!(
        PayloadDecryptor::new(&no_iv, &keys).unwrap_err(),
        DecryptError::Malformed {
            at: Location::Unprotected,
            problem: Problem::MissingHeader(5)
        }
    );
    // SUIT_Encryption_Info has detached ciphertext; an attached one is refused by the
    // streaming decryptor and by the one-shot helper when a detached one is also given.
    let gcm = info(&CASES[0]);
    let nil_at = find(&gcm, &hex::decode("F6818340").unwrap());
    let mut attached = gcm.clone();
    attached.splice(nil_at..nil_at + 1, [0x41, 0x00]);
    let placement = DecryptError::Malformed {
        at: Location::Ciphertext,
        problem: Problem::CiphertextPlacement,
    };
    assert_eq!(
        PayloadDecryptor::new(&attached, &keys).unwrap_err(),
        placement
    );
    assert_eq!(
        decrypt(&attached, Some(&[0; 16]), &keys, &CoseOptions::SUIT).unwrap_err(),
        placement
    );
    assert_eq!(
        decrypt(&gcm, None, &keys, &CoseOptions::SUIT).unwrap_err(),
        placement
    );
}

#[test]
fn errors_and_debug_output_carry_no_secrets() {
    let keys = device_keys();
    let dbg = format!("{keys:?}");
    assert!(!dbg.contains("aaaa") && !dbg.contains("97, 97"), "{dbg}");
    let (_, cek) = unwrap_content_key(&info(&CASES[0]), &keys, &CoseOptions::SUIT).unwrap();
    let dbg = format!("{cek:?}");
    assert!(
        !dbg.to_uppercase().contains("15F7") && !dbg.contains("21"),
        "{dbg}"
    );
    let d = PayloadDecryptor::new(&info(&CASES[0]), &keys).unwrap();
    assert_eq!(
        format!("{d:?}"),
        "PayloadDecryptor { algorithm: A128Gcm, .. }"
    );
    assert_eq!(
        DecryptError::KeyUnwrapFailed.to_string(),
        "AES key unwrap integrity check failed"
    );
}

#[test]
fn hostile_cbor_lengths_and_nesting_are_bounded() {
    let keys = device_keys();
    let huge = [0xff; 8];
    for major in [0x5b, 0x7b, 0x9b, 0xbb] {
        // Tag 96 wrapping an item that claims 2^64-1 bytes/elements, and the bare item.
        let mut tagged = vec![0xd8, 0x60, major];
        tagged.extend_from_slice(&huge);
        let mut bare = vec![major];
        bare.extend_from_slice(&huge);
        for input in [tagged, bare] {
            assert!(matches!(
                PayloadDecryptor::new(&input, &keys).unwrap_err(),
                DecryptError::Malformed {
                    at: Location::Structure,
                    ..
                }
            ));
        }
    }
    // Deep nesting: 10,000 nested arrays.
    let deep = vec![0x81; 10_000];
    assert_eq!(
        PayloadDecryptor::new(&deep, &keys).unwrap_err(),
        DecryptError::Malformed {
            at: Location::Structure,
            problem: Problem::Cbor
        }
    );
    // Over the size limit.
    let big = vec![0u8; suit_common::encryption::MAX_INFO_LEN + 1];
    assert_eq!(
        PayloadDecryptor::new(&big, &keys).unwrap_err(),
        DecryptError::Malformed {
            at: Location::Structure,
            problem: Problem::Cbor
        }
    );
    // A protected header bstr that claims more than it holds.
    let mut info = info(&CASES[0]);
    info[3] = 0x5a; // 43 A10101 → 5A <4-byte length>
    assert!(PayloadDecryptor::new(&info, &keys).is_err());
}
