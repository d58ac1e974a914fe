//! The crypto-provider seam (issue 14 item 3): the RustCrypto provider gives the published
//! answers (tests/vectors/crypto-provider/kat.txt) and exactly the outputs of the code paths
//! the engine used before the seam; the engine really runs on the installed provider; the
//! bench runner refuses what it cannot bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use p256::ecdsa::{Signature, VerifyingKey};

use suit_common::crypto::{
    self, bench, AesCtrOp, AesGcmOp, CryptoProvider, EcdhP256Key, EcdhP256Op, EcdsaP256Op,
    Released, Sha256Hash, Sha256Op, StreamDecrypt, RUSTCRYPTO,
};
use suit_common::encryption::content::{AeadDecryptor, AeadEncryptor, CtrCipher};
use suit_common::encryption::DecryptError;

const KAT: &str = include_str!("../../tests/vectors/crypto-provider/kat.txt");

/// `(line, op, provider) → result` from a bench reply.
fn results(reply: &str) -> BTreeMap<(usize, String), BTreeMap<String, String>> {
    let mut m: BTreeMap<(usize, String), BTreeMap<String, String>> = BTreeMap::new();
    for l in reply.lines().filter(|l| l.starts_with("kat ")) {
        let f: Vec<&str> = l.split(' ').collect();
        m.entry((f[1].parse().unwrap(), f[2].to_string()))
            .or_default()
            .insert(f[3].to_string(), f[4].to_string());
    }
    m
}

/// `line → EXPECT` of the KAT file's checks.
fn expected() -> BTreeMap<usize, String> {
    KAT.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.starts_with("time") && !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.split(' ').nth(1).unwrap().to_string()))
        .collect()
}

#[test]
fn rustcrypto_gives_the_published_answers() {
    let reply = bench::run(KAT.as_bytes(), &[&RUSTCRYPTO], &mut || 0).unwrap();
    let got = results(&reply);
    let want = expected();
    assert_eq!(got.len(), want.len(), "one result per check");
    let mut published = 0;
    for ((line, op), by) in &got {
        let r = &by["rustcrypto"];
        match want[line].as_str() {
            "-" => assert_ne!(r, "fail", "line {line} ({op})"),
            w => {
                assert_eq!(r, w, "line {line} ({op})");
                published += 1;
            }
        }
    }
    // SHA-256 3, GCM 5 + 1 refusal, CTR 2, ECDSA 1 invalid + 4 valid, ECDH 2.
    assert_eq!(published, 18);
}

/// The same provider twice under two names: the runner reports each, identically.
#[test]
fn runner_reports_every_provider() {
    static TWIN: CryptoProvider = CryptoProvider {
        name: "twin",
        ..RUSTCRYPTO_FIELDS
    };
    const RUSTCRYPTO_FIELDS: CryptoProvider = CryptoProvider {
        name: "rustcrypto",
        sha256: &crypto::RustCryptoSha256,
        aes_gcm: &crypto::RustCryptoAesGcm,
        aes_ctr: &crypto::RustCryptoAesCtr,
        ecdsa_p256: &crypto::RustCryptoEcdsa,
        ecdh_p256: &crypto::RustCryptoEcdh,
    };
    let reply = bench::run(KAT.as_bytes(), &[&RUSTCRYPTO, &TWIN], &mut || 0).unwrap();
    for (k, by) in results(&reply) {
        assert_eq!(by.len(), 2, "{k:?}");
        assert_eq!(by["rustcrypto"], by["twin"], "{k:?}");
    }
}

#[test]
fn timings_run_every_operation() {
    let mut clock = 0u64;
    let req = format!(
        "{KAT}time sha256 1000 2\ntime gcm 1000 2\ntime ctr 1000 2\ntime ecdsa 0 2\ntime ecdh 0 2\ntime ecdh-agree 0 2\n"
    );
    let reply = bench::run(req.as_bytes(), &[&RUSTCRYPTO], &mut || {
        clock += 7;
        clock
    })
    .unwrap();
    let times: Vec<&str> = reply.lines().filter(|l| l.starts_with("time ")).collect();
    assert_eq!(times.len(), 6, "{reply}");
    for t in times {
        let f: Vec<&str> = t.split(' ').collect();
        assert_eq!(f[3], "rustcrypto");
        assert_eq!(f[4], "2");
        assert_eq!(f[5], "7", "one clock tick per timing: {t}");
    }
}

#[test]
fn runner_refuses_what_it_cannot_bound() {
    let line = |req: &str| bench::run(req.as_bytes(), &[&RUSTCRYPTO], &mut || 0).unwrap_err();
    assert_eq!(line("sha256 - 0g").line, 1);
    assert_eq!(line("# c\nsha256 - 000\n").line, 2);
    assert_eq!(line("gcm - 00 00 00").line, 1);
    assert_eq!(line("rsa - 00").reason, "unknown operation");
    assert_eq!(line("time sha256 1048577 1").line, 1);
    assert_eq!(line("time sha256 10 0").line, 1);
    assert_eq!(line("time sha256 10 10001").line, 1);
    // Timings of the asymmetric ops need a check to take their inputs from.
    assert_eq!(line("time ecdsa 0 1").line, 1);
    assert_eq!(line("ecdh - 00 04").reason, "invalid private key");
    let many = "sha256 - .\n".repeat(bench::MAX_ITEMS + 1);
    assert_eq!(line(&many).line, 0);
    assert_eq!(line(&" ".repeat(bench::MAX_REQUEST + 1)).line, 0);
}

/// Feeds `data` in uneven chunks (1, 2, 3, .. bytes).
fn uneven(mut d: Box<dyn StreamDecrypt>, data: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let mut out = Vec::new();
    let (mut at, mut n) = (0, 1);
    while at < data.len() {
        let end = (at + n).min(data.len());
        out.extend_from_slice(&d.update(&data[at..end])?);
        at = end;
        n = n % 37 + 1;
    }
    out.extend_from_slice(&d.finish()?);
    Ok(out)
}

/// [`uneven`] through `update_in_place`: the same plaintext, at most each chunk's length
/// released per call, and RustCrypto never falls back to a buffer of its own.
fn uneven_in_place(mut d: Box<dyn StreamDecrypt>, data: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let mut out = Vec::new();
    let (mut at, mut n) = (0, 1);
    while at < data.len() {
        let end = (at + n).min(data.len());
        let mut chunk = data[at..end].to_vec();
        match d.update_in_place(&mut chunk)? {
            Released::InPlace(k) => {
                assert!(k <= chunk.len());
                out.extend_from_slice(&chunk[..k]);
            }
            Released::Separate(_) => panic!("RustCrypto decrypts in place"),
        }
        at = end;
        n = n % 41 + 1;
    }
    out.extend_from_slice(&d.finish()?);
    Ok(out)
}

#[test]
fn rustcrypto_provider_equals_the_previous_code_paths() {
    use sha2::Digest as _;
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 256) as u8).collect();

    // SHA-256: `sha2::Sha256` in one call (what `Digest::sha256` did).
    let mut h = crypto::RustCryptoSha256.start();
    for c in data.chunks(333) {
        h.update(c);
    }
    assert_eq!(h.finish(), <[u8; 32]>::from(sha2::Sha256::digest(&data)));

    // AES-GCM: the aes-gcm crate one-shot, and `AeadDecryptor::aes_gcm` (the previous path).
    for key in [&[3u8; 16][..], &[4u8; 32][..]] {
        for iv in [&[5u8; 12][..], &[6u8; 16][..]] {
            let mut e = AeadEncryptor::aes_gcm(key, iv, b"aad").unwrap();
            let mut sealed = e.update(&data).unwrap();
            sealed.extend_from_slice(&e.finish());
            if iv.len() == 12 {
                use aes_gcm::aead::{Aead, KeyInit, Payload};
                let payload = Payload {
                    msg: &data,
                    aad: b"aad",
                };
                let reference = if key.len() == 16 {
                    aes_gcm::Aes128Gcm::new_from_slice(key)
                        .unwrap()
                        .encrypt(iv.try_into().unwrap(), payload)
                } else {
                    aes_gcm::Aes256Gcm::new_from_slice(key)
                        .unwrap()
                        .encrypt(iv.try_into().unwrap(), payload)
                };
                assert_eq!(sealed, reference.unwrap());
            }
            let d = crypto::RustCryptoAesGcm.decryptor(key, iv, b"aad").unwrap();
            assert_eq!(uneven(d, &sealed).unwrap(), data);
            let d = crypto::RustCryptoAesGcm.decryptor(key, iv, b"aad").unwrap();
            assert_eq!(uneven_in_place(d, &sealed).unwrap(), data);
            let mut old = AeadDecryptor::aes_gcm(key, iv, b"aad").unwrap();
            assert_eq!(&old.update(&sealed).unwrap()[..], &data[..]);
            old.finish().unwrap();
            // One flipped ciphertext bit: refused at finish.
            sealed[100] ^= 1;
            let d = crypto::RustCryptoAesGcm.decryptor(key, iv, b"aad").unwrap();
            assert_eq!(uneven(d, &sealed), Err(DecryptError::TagMismatch));
            let d = crypto::RustCryptoAesGcm.decryptor(key, iv, b"aad").unwrap();
            assert_eq!(uneven_in_place(d, &sealed), Err(DecryptError::TagMismatch));
        }
    }
    // Bad key and IV lengths: the same typed errors as before.
    assert!(crypto::RustCryptoAesGcm
        .decryptor(&[0; 24], &[0; 12], b"")
        .is_err());
    assert!(crypto::RustCryptoAesGcm
        .decryptor(&[0; 16], &[0; 11], b"")
        .is_err());

    // AES-CTR: `CtrCipher`.
    let mut old = CtrCipher::new(&[9; 16], &[0xff; 16]).unwrap();
    let d = crypto::RustCryptoAesCtr
        .decryptor(&[9; 16], &[0xff; 16])
        .unwrap();
    assert_eq!(uneven(d, &data).unwrap(), &old.apply(&data).unwrap()[..]);
    let mut old = CtrCipher::new(&[9; 16], &[0xff; 16]).unwrap();
    let d = crypto::RustCryptoAesCtr
        .decryptor(&[9; 16], &[0xff; 16])
        .unwrap();
    assert_eq!(
        uneven_in_place(d, &data).unwrap(),
        &old.apply(&data).unwrap()[..]
    );
    assert!(crypto::RustCryptoAesCtr
        .decryptor(&[9; 16], &[0; 12])
        .is_err());

    // ECDSA: `VerifyingKey::verify` over the message (what COSE verification did).
    use p256::ecdsa::signature::{Signer, Verifier};
    let sk = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
    let vk = *sk.verifying_key();
    let sig: p256::ecdsa::Signature = sk.sign(&data);
    let digest: [u8; 32] = sha2::Sha256::digest(&data).into();
    assert!(vk.verify(&data, &sig).is_ok());
    assert!(crypto::RustCryptoEcdsa.verify_prehash(&vk, &digest, &sig));
    let mut other = digest;
    other[0] ^= 1;
    assert!(!crypto::RustCryptoEcdsa.verify_prehash(&vk, &other, &sig));

    // ECDH: `p256::ecdh::diffie_hellman`.
    let a = p256::SecretKey::from_slice(&[0x22; 32]).unwrap();
    let b = p256::SecretKey::from_slice(&[0x33; 32]).unwrap();
    let old = p256::ecdh::diffie_hellman(a.to_nonzero_scalar(), b.public_key().as_affine());
    let k = crypto::RustCryptoEcdh.load(&a).unwrap();
    let shared = k.agree(&b.public_key()).unwrap();
    assert_eq!(&shared[..], &old.raw_secret_bytes()[..]);
    let back = crypto::RustCryptoEcdh
        .load(&b)
        .unwrap()
        .agree(&a.public_key())
        .unwrap();
    assert_eq!(shared, back);
}

// A provider that counts its uses and delegates to RustCrypto. Only
// `the_engine_runs_on_the_installed_provider` installs a provider in this test binary.
static SHA: AtomicUsize = AtomicUsize::new(0);
static GCM: AtomicUsize = AtomicUsize::new(0);
static ECDSA: AtomicUsize = AtomicUsize::new(0);
static ECDH: AtomicUsize = AtomicUsize::new(0);

struct Counting;

/// What `AesGcmOp::decryptor` returns.
type Decryptor = Result<Box<dyn StreamDecrypt>, DecryptError>;

impl Sha256Op for Counting {
    fn start(&self) -> Box<dyn Sha256Hash> {
        SHA.fetch_add(1, Ordering::SeqCst);
        crypto::RustCryptoSha256.start()
    }
}
impl AesGcmOp for Counting {
    fn decryptor(&self, key: &[u8], iv: &[u8], aad: &[u8]) -> Decryptor {
        GCM.fetch_add(1, Ordering::SeqCst);
        crypto::RustCryptoAesGcm.decryptor(key, iv, aad)
    }
}
impl EcdsaP256Op for Counting {
    fn verify_prehash(&self, key: &VerifyingKey, digest: &[u8; 32], sig: &Signature) -> bool {
        ECDSA.fetch_add(1, Ordering::SeqCst);
        crypto::RustCryptoEcdsa.verify_prehash(key, digest, sig)
    }
}
impl EcdhP256Op for Counting {
    fn load(&self, secret: &p256::SecretKey) -> Option<Box<dyn EcdhP256Key>> {
        ECDH.fetch_add(1, Ordering::SeqCst);
        crypto::RustCryptoEcdh.load(secret)
    }
}

static COUNTING: CryptoProvider = CryptoProvider {
    name: "counting",
    sha256: &Counting,
    aes_gcm: &Counting,
    aes_ctr: &crypto::RustCryptoAesCtr,
    ecdsa_p256: &Counting,
    ecdh_p256: &Counting,
};

#[test]
fn the_engine_runs_on_the_installed_provider() {
    crypto::install_default(&COUNTING).unwrap();
    assert_eq!(crypto::provider().name, "counting");
    // A second install is refused: back ends never switch under a running engine.
    assert_eq!(
        crypto::install_default(&RUSTCRYPTO),
        Err(crypto::AlreadyInstalled)
    );

    // SUIT digests.
    let d = suit_common::suit::digest::Digest::sha256(b"abc");
    assert_eq!(
        hex::encode(d.0),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(SHA.load(Ordering::SeqCst) >= 1);

    // COSE ES256 verification.
    use suit_common::cose::{create_auth_block, Algorithm, AuthBlock, SigningKey};
    let sk = SigningKey::p256(&[0x44; 32]).unwrap();
    let block = create_auth_block(&sk, Algorithm::Es256, b"", b"payload").unwrap();
    let before = ECDSA.load(Ordering::SeqCst);
    AuthBlock::parse(&block)
        .unwrap()
        .verify(b"payload", &sk.verification_key())
        .unwrap();
    assert_eq!(ECDSA.load(Ordering::SeqCst), before + 1);

    // Payload decryption: ECDH-ES + A128KW recipient, A128GCM content (cose-wg vector).
    let j: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/vectors/cose-wg-examples/ecdh-wrap-examples/p256-wrap-128-01.json"
    ))
    .unwrap();
    let r = &j["input"]["enveloped"]["recipients"][0];
    let mut keys = suit_common::encryption::MemoryKeys::new();
    let d = suit_test_support::b64url(&r["key"]["d"]);
    keys.add_ecdh_p256(Some(r["key"]["kid"].as_str().unwrap().as_bytes()), &d)
        .unwrap();
    let msg = hex::decode(j["output"]["cbor"].as_str().unwrap()).unwrap();
    let pt = suit_common::encryption::decrypt(
        &msg,
        None,
        &keys,
        &suit_common::encryption::CoseOptions::COSE,
    )
    .unwrap();
    assert_eq!(&pt[..], b"This is the content.");
    assert_eq!(ECDH.load(Ordering::SeqCst), 1);
    assert_eq!(GCM.load(Ordering::SeqCst), 1);
}
