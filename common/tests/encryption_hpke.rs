//! COSE-HPKE (draft-ietf-cose-hpke) vectors: all P-256 entries of testvectors.txt
//! (HPKE-0, HPKE-7 integrated; HPKE-0-KE, HPKE-7-KE key encryption; base and PSK modes;
//! default and external aad / info / hpke aad) and the draft's two examples.

use ciborium::value::Value;
use suit_common::encryption::{
    decrypt, decrypt_integrated, unwrap_content_key, CoseOptions, DecryptError, MemoryKeys,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/cose-hpke/");
const PSK: &str = "0247fd33b913760fa1fa51e1892d9f307fbe65eb171e8132c2af18555a738b82";
const PSK_ID: &[u8] = b"Ennyn Durin aran Moria";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap()
}

/// (kid, d) of a COSE_Key.
fn cose_key(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let v: Value = ciborium::de::from_reader(bytes).unwrap();
    let (mut kid, mut d) = (None, None);
    for (k, v) in v.as_map().unwrap() {
        match i128::from(k.as_integer().unwrap()) {
            2 => kid = v.as_bytes().cloned(),
            -4 => d = v.as_bytes().cloned(),
            _ => {}
        }
    }
    (kid.unwrap(), d.unwrap())
}

struct Vector {
    suite: String,
    title: String,
    key: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let text = String::from_utf8(read("testvectors.txt")).unwrap();
    let (mut key, mut suite, mut title) = (Vec::new(), String::new(), String::new());
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some((s, hex)) = line.split_once(" COSE_Key:") {
            suite = s.to_string();
            key = hex::decode(hex.trim_start_matches(':').trim()).unwrap();
        } else if let Some(hex) = line.strip_prefix("Ciphertext:") {
            let ciphertext = hex::decode(hex.trim()).unwrap();
            out.push(Vector {
                suite: suite.clone(),
                title: title.clone(),
                key: key.clone(),
                ciphertext,
            });
        } else {
            title = line.to_string();
        }
    }
    out
}

fn options(title: &str) -> CoseOptions<'static> {
    CoseOptions {
        external_aad: if title.contains("external aad") {
            b"external-aad"
        } else {
            b""
        },
        ecdh_kdf_other: None,
        hpke_info: if title.contains("external info") {
            b"external-info"
        } else {
            b""
        },
        hpke_aad: if title.contains("external hpke aad") {
            b"external-hpke-aad"
        } else {
            b""
        },
    }
}

fn keys_for(v: &Vector, with_psk: bool) -> MemoryKeys {
    let (kid, d) = cose_key(&v.key);
    hpke_keys(&kid, &d, with_psk.then(|| hex::decode(PSK).unwrap()))
}

/// A device holding the HPKE P-256 key `d` under `kid`, and `psk` (if any) under [`PSK_ID`].
fn hpke_keys(kid: &[u8], d: &[u8], psk: Option<Vec<u8>>) -> MemoryKeys {
    let mut keys = MemoryKeys::new();
    keys.add_hpke_p256(Some(kid), d).unwrap();
    if let Some(psk) = psk {
        keys.add_psk(PSK_ID, &psk);
    }
    keys
}

fn open(v: &Vector, keys: &MemoryKeys, opts: &CoseOptions<'_>) -> Result<Vec<u8>, DecryptError> {
    let pt = if v.suite.ends_with("-KE") {
        decrypt(&v.ciphertext, None, keys, opts)?
    } else {
        decrypt_integrated(&v.ciphertext, None, keys, opts)?
    };
    Ok(pt.to_vec())
}

const P256_SUITES: [&str; 4] = ["HPKE-0", "HPKE-7", "HPKE-0-KE", "HPKE-7-KE"];

#[test]
fn all_p256_test_vectors_decrypt() {
    let all = vectors();
    assert_eq!(all.len(), 192);
    let p256: Vec<_> = all
        .iter()
        .filter(|v| P256_SUITES.contains(&v.suite.as_str()))
        .collect();
    assert_eq!(p256.len(), 48);
    for v in &p256 {
        let keys = keys_for(v, true);
        let pt = open(v, &keys, &options(&v.title)).unwrap_or_else(|e| panic!("{}: {e}", v.title));
        assert_eq!(pt, b"hpke test payload", "{}", v.title);
    }
    // Base and PSK, integrated and KE, each with all aad/info combinations.
    assert_eq!(p256.iter().filter(|v| v.title.contains("PSK")).count(), 24);
}

#[test]
fn p256_vectors_fail_with_the_wrong_inputs() {
    for v in vectors()
        .iter()
        .filter(|v| P256_SUITES.contains(&v.suite.as_str()))
    {
        let keys = keys_for(v, true);
        let ke = v.suite.ends_with("-KE");
        let psk = v.title.contains("PSK");
        let mut opts = options(&v.title);
        // `v` with `keys` and `opts` fails with `want`.
        let fails = |keys: &MemoryKeys, opts: &CoseOptions<'_>, want: DecryptError| {
            assert_eq!(open(v, keys, opts).unwrap_err(), want, "{}", v.title);
        };
        // Dropping external inputs: aad binds layer 0 in KE mode (GCM tag) and the HPKE AEAD
        // in integrated mode; info / hpke aad bind the HPKE open.
        if !opts.external_aad.is_empty() {
            opts.external_aad = b"";
            let want = if ke {
                DecryptError::TagMismatch
            } else {
                DecryptError::HpkeOpenFailed
            };
            fails(&keys, &opts, want);
            opts = options(&v.title);
        }
        if !opts.hpke_info.is_empty() {
            opts.hpke_info = b"";
            fails(&keys, &opts, DecryptError::HpkeOpenFailed);
            opts = options(&v.title);
        }
        if !opts.hpke_aad.is_empty() {
            opts.hpke_aad = b"other";
            fails(&keys, &opts, DecryptError::HpkeOpenFailed);
            opts = options(&v.title);
        }
        let psk_bytes = || Some(hex::decode(PSK).unwrap());
        let (kid, d) = cose_key(&v.key);
        if psk {
            let no_psk = keys_for(v, false);
            fails(&no_psk, &opts, DecryptError::UnknownPsk);
            let wrong_psk = hpke_keys(&kid, &d, Some(vec![0x55; 32]));
            fails(&wrong_psk, &opts, DecryptError::HpkeOpenFailed);
        }
        // Another P-256 key under the same kid.
        let wrong = hpke_keys(&kid, &[3u8; 32], psk_bytes());
        fails(&wrong, &opts, DecryptError::HpkeOpenFailed);
        // The kid is a hint (RFC 9052): the right key under another kid is still tried,
        // after the keys with the named kid (issue 10).
        let other_kid = hpke_keys(b"someone-else", &d, psk_bytes());
        assert!(open(v, &other_kid, &opts).is_ok(), "{}", v.title);
        // Tampered recipient / layer ciphertext: flip the last byte (tag of the HPKE
        // ciphertext in integrated mode, of the recipient's encrypted CEK in KE mode).
        let mut t = v.ciphertext.clone();
        *t.last_mut().unwrap() ^= 1;
        let tampered = Vector {
            suite: v.suite.clone(),
            title: v.title.clone(),
            key: v.key.clone(),
            ciphertext: t,
        };
        assert_eq!(
            open(&tampered, &keys, &opts).unwrap_err(),
            DecryptError::HpkeOpenFailed,
            "{}",
            v.title
        );
    }
}

#[test]
fn draft_example_key_encryption() {
    let (kid, d) = cose_key(&read("example_ke_hpke0ke_bob.cose_key.cbor"));
    assert_eq!(kid, b"bob");
    let mut keys = MemoryKeys::new();
    keys.add_hpke_p256(Some(&kid), &d).unwrap();
    let msg = read("example_ke_hpke0ke.cbor");
    let (_, cek) = unwrap_content_key(&msg, &keys, &CoseOptions::COSE).unwrap();
    assert_eq!(
        hex::encode(cek.as_bytes()),
        "4423ec45d90284e7a6a3360732350572"
    );
    let pt = decrypt(&msg, None, &keys, &CoseOptions::COSE).unwrap();
    assert_eq!(&pt[..], b"This is the content.\n");
}

#[test]
fn draft_example_integrated() {
    let (kid, d) = cose_key(&read("example_integrated_hpke0_bob.cose_key.cbor"));
    let mut keys = MemoryKeys::new();
    keys.add_hpke_p256(Some(&kid), &d).unwrap();
    let msg = read("example_integrated_hpke0.cbor");
    let pt = decrypt_integrated(&msg, None, &keys, &CoseOptions::COSE).unwrap();
    assert_eq!(&pt[..], b"This is the content.\n");
    // Integrated messages are not SUIT_Encryption_Info and vice versa.
    assert!(decrypt(&msg, None, &keys, &CoseOptions::COSE).is_err());
    assert!(decrypt_integrated(
        &read("example_ke_hpke0ke.cbor"),
        None,
        &keys,
        &CoseOptions::COSE
    )
    .is_err());
}

/// The 144 entries of testvectors.txt on other curves (X25519, X448, P-384, P-521) are in no
/// SUIT profile: each is refused for its algorithm, never opened and never a panic, even by
/// a device holding a P-256 HPKE key and the PSK under the vector's kid.
#[test]
fn other_curves_are_refused_for_their_algorithm() {
    let all = vectors();
    let p256_d = cose_key(&all[0].key).1;
    let others: Vec<_> = all
        .iter()
        .filter(|v| !P256_SUITES.contains(&v.suite.as_str()))
        .collect();
    assert_eq!(others.len(), 144);
    for v in others {
        let (kid, _) = cose_key(&v.key);
        let keys = hpke_keys(&kid, &p256_d, Some(hex::decode(PSK).unwrap()));
        let r = open(v, &keys, &options(&v.title));
        assert!(
            matches!(
                r,
                Err(DecryptError::UnsupportedContentAlgorithm(_)
                    | DecryptError::UnsupportedRecipientAlgorithm(_)
                    | DecryptError::NoRecipientForKeys)
            ),
            "{} {}: {r:?}",
            v.suite,
            v.title
        );
    }
}
