//! Interoperability with an independent COSE implementation: the Python package `cwt`
//! (COSE-HPKE per draft-ietf-cose-hpke), driven through tests/interop/cwt_peer.py.
//!
//! Both directions for every payload-encryption mode: `cwt` encrypts and this crate
//! decrypts (one-shot with the ciphertext attached, and streaming with it detached, as
//! SUIT carries it), and this crate's `author` side encrypts and `cwt` decrypts. Also
//! COSE_Sign1 ES256 and COSE_Mac0 HMAC-256/256 authentication blocks (detached payload).
//!
//! Needs the pinned `cwt` virtualenv, so it is ignored by plain `cargo test`; run it with
//! `bash tests/interop.sh` (which sets `SUIT_INTEROP_PYTHON` and passes `--include-ignored`).

use std::io::Write;
use std::process::{Command, Stdio};

use rand_core::{Rng, UnwrapErr};
use serde_json::{json, Value};
use suit_common::cose::{create_auth_block, verify_auth_block, Algorithm, SigningKey};
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite, KeyWrap};
use suit_common::encryption::{
    decrypt, decrypt_integrated, encrypt_integrated, encrypt_payload, CoseOptions, MemoryKeys,
    PayloadDecryptor, Psk, Recipient,
};

const KEK: &str = "000102030405060708090a0b0c0d0e0f";
/// The P-256 receiver key of the firmware-encryption vectors (kid-2).
const ECDH_D: &str = "60fe6dd6d85d5740a5349b6f91267eeac5ba81b8cb53ee249e4b4eb102c476b3";
/// The HPKE-0-KE receiver key of the COSE-HPKE draft example.
const HPKE_D: &str = "b1162c568efcba91c8e4e82f66e36b45aa10bc55228cf65ecd3bb29cfb09f989";
const SIGN_D: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const HMAC: &str = "6161616161616161616161616161616161616161616161616161616161616161";
/// The PSK of the COSE-HPKE draft's test vectors.
const PSK: &str = "0247fd33b913760fa1fa51e1892d9f307fbe65eb171e8132c2af18555a738b82";
const PSK_ID: &[u8] = b"Ennyn Durin aran Moria";

fn hexd(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn keys_json() -> Value {
    json!({"kek": KEK, "ecdh_d": ECDH_D, "hpke_d": HPKE_D, "sign_d": SIGN_D, "hmac": HMAC,
           "psk": PSK, "psk_id": hex::encode(PSK_ID)})
}

fn device_keys() -> MemoryKeys {
    let mut k = MemoryKeys::new();
    k.add_kek(Some(b"kid-1"), &hexd(KEK)).unwrap();
    k.add_ecdh_p256(Some(b"kid-2"), &hexd(ECDH_D)).unwrap();
    k.add_hpke_p256(Some(b"hpke"), &hexd(HPKE_D)).unwrap();
    k.add_psk(PSK_ID, &hexd(PSK));
    k
}

fn public(d: &str) -> p256::PublicKey {
    p256::SecretKey::from_slice(&hexd(d)).unwrap().public_key()
}

fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

fn python() -> String {
    std::env::var("SUIT_INTEROP_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/../build/interop-venv/bin/python",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

/// One request to the `cwt` peer; panics with its error message on failure.
fn peer(request: Value) -> Value {
    let script = format!(
        "{}/../tests/interop/cwt_peer.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} (run tests/interop.sh): {e}", python()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let response: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "cwt peer gave no JSON for {request}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success(),
        "cwt peer failed on {}: {}",
        request["op"],
        response["error"]
    );
    response
}

fn field(v: &Value, name: &str) -> Vec<u8> {
    hexd(
        v[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {v}")),
    )
}

fn plaintext() -> Vec<u8> {
    let mut p = vec![0u8; 1000];
    rng().fill_bytes(&mut p);
    p
}

/// (mode name for the peer, content algorithm) of every COSE_Encrypt mode.
const MODES: &[(&str, ContentAlgorithm)] = &[
    ("a128kw+a128gcm", ContentAlgorithm::A128Gcm),
    ("a128kw+a128ctr", ContentAlgorithm::A128Ctr),
    ("ecdh-es+a128kw+a128gcm", ContentAlgorithm::A128Gcm),
    ("hpke-0-ke+a128gcm", ContentAlgorithm::A128Gcm),
    ("hpke-0-ke-psk+a128gcm", ContentAlgorithm::A128Gcm),
    ("hpke-7-ke+a256gcm", ContentAlgorithm::A256Gcm),
];

fn profiles(mode: &str) -> &'static [(&'static str, CoseOptions<'static>)] {
    // Only ECDH-ES differs between the profiles (the KDF context's SuppPubInfo.other).
    if mode.starts_with("ecdh-es") {
        &[("suit", CoseOptions::SUIT), ("cose", CoseOptions::COSE)]
    } else {
        &[("suit", CoseOptions::SUIT)]
    }
}

#[test]
#[ignore = "needs the pinned cwt virtualenv: run tests/interop.sh"]
fn cwt_encrypts_rust_decrypts() {
    let keys = device_keys();
    for &(mode, content) in MODES {
        for (profile, options) in profiles(mode) {
            let pt = plaintext();
            let r = peer(json!({"op": "encrypt", "mode": mode, "profile": profile,
                                "plaintext": hex::encode(&pt), "keys": keys_json()}));
            // One-shot, ciphertext attached.
            let out = decrypt(&field(&r, "message"), None, &keys, options)
                .unwrap_or_else(|e| panic!("{mode}/{profile}: {e:?}"));
            assert_eq!(&out[..], &pt[..], "{mode}/{profile}");
            // The profiles really differ (the SUIT KDF context is bound on both sides).
            if mode.starts_with("ecdh-es") {
                let (_, wrong) = profiles(mode).iter().find(|(p, _)| p != profile).unwrap();
                assert!(decrypt(&field(&r, "message"), None, &keys, wrong).is_err());
            }
            // Streaming, detached (SUIT_Encryption_Info + separate ciphertext).
            let mut d = PayloadDecryptor::with_options(&field(&r, "detached"), &keys, options)
                .unwrap_or_else(|e| panic!("{mode}/{profile} streaming: {e:?}"));
            assert_eq!(d.algorithm(), content);
            let mut got = Vec::new();
            for chunk in field(&r, "ciphertext").chunks(97) {
                got.extend_from_slice(&d.update(chunk).unwrap());
            }
            got.extend_from_slice(&d.finish().unwrap());
            assert_eq!(got, pt, "{mode}/{profile} streaming");
            eprintln!("cwt -> rust: {mode} ({profile}) ok");
        }
    }
}

fn rust_recipient<'a>(
    mode: &str,
    psk: &'a [u8],
    kek: &'a [u8],
    ecdh: &'a p256::PublicKey,
    hpke: &'a p256::PublicKey,
) -> Recipient<'a> {
    match mode.split('+').next().unwrap() {
        "a128kw" => Recipient::AesKw {
            kid: Some(b"kid-1"),
            kek,
        },
        "ecdh-es" => Recipient::EcdhEs {
            kid: Some(b"kid-2"),
            public_key: ecdh,
            wrap: KeyWrap::A128Kw,
        },
        "hpke-0-ke" => Recipient::Hpke {
            kid: Some(b"hpke"),
            public_key: hpke,
            suite: HpkeSuite::Hpke0,
            psk: None,
        },
        "hpke-0-ke-psk" => Recipient::Hpke {
            kid: Some(b"hpke"),
            public_key: hpke,
            suite: HpkeSuite::Hpke0,
            psk: Some(Psk {
                id: PSK_ID,
                key: psk,
            }),
        },
        "hpke-7-ke" => Recipient::Hpke {
            kid: Some(b"hpke"),
            public_key: hpke,
            suite: HpkeSuite::Hpke7,
            psk: None,
        },
        other => panic!("{other}"),
    }
}

#[test]
#[ignore = "needs the pinned cwt virtualenv: run tests/interop.sh"]
fn rust_encrypts_cwt_decrypts() {
    let (kek, psk) = (hexd(KEK), hexd(PSK));
    let (ecdh, hpke) = (public(ECDH_D), public(HPKE_D));
    for &(mode, content) in MODES {
        for (profile, options) in profiles(mode) {
            let pt = plaintext();
            let recipient = rust_recipient(mode, &psk, &kek, &ecdh, &hpke);
            let e = encrypt_payload(&pt, content, &[recipient], options, &mut rng()).unwrap();
            let r = peer(json!({"op": "decrypt", "mode": mode, "profile": profile,
                                "message": hex::encode(&e.encryption_info),
                                "ciphertext": hex::encode(&e.ciphertext),
                                "keys": keys_json()}));
            assert_eq!(field(&r, "plaintext"), pt, "{mode}/{profile}");
            eprintln!("rust -> cwt: {mode} ({profile}) ok");
        }
    }
}

#[test]
#[ignore = "needs the pinned cwt virtualenv: run tests/interop.sh"]
fn hpke_integrated_both_directions() {
    let keys = device_keys();
    let pt = plaintext();
    let r = peer(json!({"op": "encrypt", "mode": "hpke-0", "profile": "cose",
                        "plaintext": hex::encode(&pt), "keys": keys_json()}));
    let out = decrypt_integrated(&field(&r, "message"), None, &keys, &CoseOptions::COSE).unwrap();
    assert_eq!(&out[..], &pt[..]);

    let msg = encrypt_integrated(
        &pt,
        HpkeSuite::Hpke0,
        &public(HPKE_D),
        Some(b"hpke"),
        None,
        &CoseOptions::COSE,
        &mut rng(),
    )
    .unwrap();
    let r = peer(json!({"op": "decrypt", "mode": "hpke-0", "profile": "cose",
                        "message": hex::encode(&msg), "ciphertext": null, "keys": keys_json()}));
    assert_eq!(field(&r, "plaintext"), pt);
}

#[test]
#[ignore = "needs the pinned cwt virtualenv: run tests/interop.sh"]
fn sign1_es256_and_mac0_both_directions() {
    // The detached payload of a SUIT authentication block: a bstr-wrapped SUIT_Digest.
    let mut payload = vec![0x58, 0x24, 0x82, 0x2f, 0x58, 0x20];
    payload.extend_from_slice(&[0x5a; 32]);
    for (name, alg, key) in [
        (
            "ES256",
            Algorithm::Es256,
            SigningKey::p256(&hexd(SIGN_D)).unwrap(),
        ),
        (
            "HMAC256",
            Algorithm::Hmac256,
            SigningKey::hmac256(&hexd(HMAC)).unwrap(),
        ),
    ] {
        let vk = key.verification_key();
        // cwt creates, we verify.
        let r = peer(
            json!({"op": "sign", "alg": name, "payload": hex::encode(&payload),
                            "keys": keys_json()}),
        );
        let block = field(&r, "message");
        assert_eq!(verify_auth_block(&block, &payload, &vk), Ok(alg), "{name}");
        let mut other = payload.clone();
        other[10] ^= 1;
        assert!(verify_auth_block(&block, &other, &vk).is_err(), "{name}");
        // We create, cwt verifies.
        let block = create_auth_block(&key, alg, b"", &payload).unwrap();
        peer(
            json!({"op": "verify", "alg": name, "message": hex::encode(&block),
                    "payload": hex::encode(&payload), "keys": keys_json()}),
        );
        eprintln!("{name}: both directions ok");
    }
}

#[test]
#[ignore = "needs the pinned cwt virtualenv: run tests/interop.sh"]
fn peer_is_the_pinned_cwt() {
    let r = peer(json!({"op": "version"}));
    let want = std::env::var("SUIT_INTEROP_CWT_VERSION").unwrap_or_else(|_| "3.3.0".into());
    assert_eq!(r["cwt"], want);
}
