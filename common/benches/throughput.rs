//! Benchmarks for suit-common (`harness = false`, std::time::Instant; run by tests/bench.sh):
//! streaming payload decryption vs the `aes-gcm` crate's one-shot decrypt and SHA-256,
//! envelope authentication, full `suit::process` of the firmware-encryption vectors, and peak
//! heap of a streaming vs a one-shot decrypt (counting global allocator).
//!
//! `cargo bench -p suit-common --bench throughput [-- --quick]` prints Markdown tables.
// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit};
use rand_core::{Rng, UnwrapErr};
use sha2::Digest as _;
use suit_common::cose::VerificationKey;
use suit_common::encryption::algorithms::ContentAlgorithm;
use suit_common::encryption::{
    decrypt, encrypt_payload, CoseOptions, MemoryKeys, PayloadDecryptor, Recipient,
};
use suit_common::suit::policy::{Policy, Role};
use suit_common::suit::{process, Envelope, Procedure};
use suit_test_support::RecordingPlatform;
use suit_test_support::{
    anchor, hex_file as hex_vector, p256_public_from_pem, policy_of, read as vector, AUTHOR_PUB,
    OPERATOR_PUB,
};

// ---- counting allocator -------------------------------------------------------------------

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments; only counters change.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `GlobalAlloc::alloc`, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `GlobalAlloc::dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak heap growth (bytes above what was live before) while `f` runs.
fn peak_heap<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    (PEAK.load(Ordering::Relaxed) - base, r)
}

// ---- helpers ------------------------------------------------------------------------------

const MIB: usize = 1 << 20;

fn rng() -> UnwrapErr<getrandom::SysRng> {
    UnwrapErr(getrandom::SysRng)
}

fn random(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng().fill_bytes(&mut v);
    v
}

/// Best (minimum) time of `runs` runs, after one warm-up.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

/// Median time per call over enough calls to fill about `budget`.
fn per_call(budget: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let t = Instant::now();
    f();
    let one = t.elapsed().max(Duration::from_nanos(1));
    let n = (budget.as_nanos() / one.as_nanos()).clamp(5, 2000) as usize;
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

fn mib_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

/// A random AES-128-GCM key (as a cipher), the nonce and a random `size`-byte plaintext
/// encrypted with them: the aes-gcm crate's one-shot reference.
fn gcm_reference(size: usize) -> (aes_gcm::Aes128Gcm, [u8; 12], Vec<u8>) {
    let key = random(16);
    let nonce = [7u8; 12];
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&key).unwrap();
    let ct = cipher
        .encrypt(&nonce.into(), random(size).as_slice())
        .unwrap();
    (cipher, nonce, ct)
}

const KEK: [u8; 16] = *b"aaaaaaaaaaaaaaaa";

fn kek_keys() -> MemoryKeys {
    let mut k = MemoryKeys::new();
    k.add_kek(Some(b"kid-1"), &KEK).unwrap();
    k
}

fn encrypt(content: ContentAlgorithm, plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let r = Recipient::AesKw {
        kid: Some(b"kid-1"),
        kek: &KEK,
    };
    let e = encrypt_payload(plaintext, content, &[r], &CoseOptions::SUIT, &mut rng()).unwrap();
    (e.encryption_info, e.ciphertext)
}

fn stream(info: &[u8], ciphertext: &[u8], chunk: usize, keys: &MemoryKeys) -> usize {
    let mut d = PayloadDecryptor::new(info, keys).unwrap();
    let mut n = 0;
    for c in ciphertext.chunks(chunk) {
        let out = d.update(c).unwrap();
        n += black_box(out.len());
    }
    n + d.finish().unwrap().len()
}

// ---- sections -----------------------------------------------------------------------------

fn throughput(quick: bool) {
    let keys = kek_keys();
    let runs = if quick { 2 } else { 5 };
    println!("### Streaming payload decryption (PayloadDecryptor, AES-KW recipient)\n");
    println!("| algorithm | payload | chunk | time | MiB/s |");
    println!("|---|---|---|---|---|");
    for (name, alg) in [
        ("A128GCM", ContentAlgorithm::A128Gcm),
        ("A128CTR", ContentAlgorithm::A128Ctr),
    ] {
        for size in [MIB, 16 * MIB] {
            let pt = random(size);
            let (info, ct) = encrypt(alg, &pt);
            for chunk in [4 << 10, 64 << 10, 256 << 10] {
                let d = best(runs, || {
                    black_box(stream(&info, &ct, chunk, &keys));
                });
                println!(
                    "| {name} | {} MiB | {} KiB | {:.2} ms | {:.0} |",
                    size / MIB,
                    chunk >> 10,
                    d.as_secs_f64() * 1e3,
                    mib_s(size, d)
                );
            }
        }
    }

    println!("\n### References over the same sizes\n");
    println!("| what | payload | time | MiB/s |");
    println!("|---|---|---|---|");
    for size in [MIB, 16 * MIB] {
        let (cipher, nonce, ct) = gcm_reference(size);
        let d = best(runs, || {
            black_box(cipher.decrypt(&nonce.into(), ct.as_slice()).unwrap());
        });
        println!(
            "| aes-gcm 0.11 one-shot decrypt (AES-128-GCM) | {} MiB | {:.2} ms | {:.0} |",
            size / MIB,
            d.as_secs_f64() * 1e3,
            mib_s(size, d)
        );
        let (info, ct) = encrypt(ContentAlgorithm::A128Gcm, &random(size));
        let d = best(runs, || {
            black_box(decrypt(&info, Some(&ct), &keys, &CoseOptions::SUIT).unwrap());
        });
        println!(
            "| suit-common one-shot `decrypt` (A128GCM) | {} MiB | {:.2} ms | {:.0} |",
            size / MIB,
            d.as_secs_f64() * 1e3,
            mib_s(size, d)
        );
        let data = random(size);
        let d = best(runs, || {
            black_box(sha2::Sha256::digest(&data));
        });
        println!(
            "| sha2 0.10 SHA-256 (image digest pass) | {} MiB | {:.2} ms | {:.0} |",
            size / MIB,
            d.as_secs_f64() * 1e3,
            mib_s(size, d)
        );
    }
}

fn memory() {
    let keys = kek_keys();
    println!("\n### Peak heap during decryption (above what was live before)\n");
    println!("| what | payload | peak heap |");
    println!("|---|---|---|");
    for size in [MIB, 16 * MIB] {
        let (info, ct) = encrypt(ContentAlgorithm::A128Gcm, &random(size));
        for chunk in [4 << 10, 64 << 10] {
            let (peak, _) = peak_heap(|| stream(&info, &ct, chunk, &keys));
            println!(
                "| streaming `PayloadDecryptor`, {} KiB chunks | {} MiB | {} KiB |",
                chunk >> 10,
                size / MIB,
                peak.div_ceil(1024)
            );
        }
        let (peak, _) = peak_heap(|| decrypt(&info, Some(&ct), &keys, &CoseOptions::SUIT).unwrap());
        println!(
            "| one-shot `decrypt` | {} MiB | {} KiB |",
            size / MIB,
            peak.div_ceil(1024)
        );
        let (cipher, nonce, ct) = gcm_reference(size);
        let (peak, _) = peak_heap(|| cipher.decrypt(&nonce.into(), ct.as_slice()).unwrap());
        println!(
            "| aes-gcm one-shot decrypt | {} MiB | {} KiB |",
            size / MIB,
            peak.div_ceil(1024)
        );
    }
}

// ---- authentication and process -----------------------------------------------------------

/// The manifest-spec examples' (and firmware-encryption author's) key, the
/// firmware-encryption dependent manifest's signer (operator) and its HMAC key.
fn policy() -> Policy {
    policy_of(vec![
        anchor(1, p256_public_from_pem(AUTHOR_PUB), Role::Author),
        anchor(2, p256_public_from_pem(OPERATOR_PUB), Role::Operator),
        anchor(
            3,
            VerificationKey::hmac256(&vector("suit-firmware-encryption/hmac256_key.bin")).unwrap(),
            Role::Operator,
        ),
    ])
}

fn device_keys() -> MemoryKeys {
    let mut k = kek_keys();
    let d =
        hex::decode("60fe6dd6d85d5740a5349b6f91267eeac5ba81b8cb53ee249e4b4eb102c476b3").unwrap();
    k.add_ecdh_p256(Some(b"kid-2"), &d).unwrap();
    k
}

fn auth_and_process(quick: bool) {
    let budget = Duration::from_millis(if quick { 150 } else { 600 });
    let policy = policy();
    println!("\n### Envelope authentication (`Envelope::decode` + `authenticate`)\n");
    println!("| vector | algorithm | time per envelope |");
    println!("|---|---|---|");
    for (rel, alg) in [
        ("suit-manifest-spec/example0.signed.hex", "ES256"),
        ("suit-manifest-spec/example3.signed.hex", "ES256"),
        (
            "suit-firmware-encryption/suit-manifest-es-ecdh-content.hex.signed",
            "ESP256",
        ),
        (
            "suit-firmware-encryption/suit-manifest-aes-kw.hex.signed",
            "HMAC 256/256",
        ),
    ] {
        let bytes = hex_vector(rel);
        Envelope::decode(&bytes)
            .unwrap()
            .authenticate(&policy.anchors)
            .unwrap_or_else(|e| panic!("{rel}: {e:?}"));
        let d = per_call(budget, || {
            let env = Envelope::decode(black_box(&bytes)).unwrap();
            black_box(env.authenticate(&policy.anchors).unwrap());
        });
        println!(
            "| {} | {alg} | {:.1} µs |",
            rel.rsplit('/').next().unwrap(),
            d.as_secs_f64() * 1e6
        );
    }

    println!("\n### Full `suit::process` (Update) of the firmware-encryption vectors\n");
    println!("| vector | what it does | result | time |");
    println!("|---|---|---|---|");
    let keys = device_keys();
    let payload = vector("suit-firmware-encryption/encrypted-payload-aes-kw-aes-gcm.bin");
    for (name, what) in [
        (
            "suit-manifest-aes-kw.hex.signed",
            "HMAC, fetch, AES-KW + A128GCM copy",
        ),
        (
            "suit-manifest-aes-kw-content.hex.signed",
            "HMAC, AES-KW + A128GCM write",
        ),
        (
            "suit-manifest-es-ecdh-content.hex.signed",
            "ESP256, ECDH-ES+A128KW + A128GCM write",
        ),
        (
            "suit-manifest-es-ecdh-dependency.hex.signed",
            "2× ESP256 (two trust domains), ECDH-ES, dependency, commit",
        ),
    ] {
        let bytes = hex_vector(&format!("suit-firmware-encryption/{name}"));
        let run = || {
            // The one in-memory test device, reading fetched payloads in whole buffers.
            let mut dev = RecordingPlatform::default();
            dev.read_chunk = Some(usize::MAX);
            dev.remote.insert(
                "coaps://example.com/encrypted-firmware".into(),
                payload.clone(),
            );
            process(&bytes, Procedure::Update, &policy, &keys, &mut dev)
        };
        let result = match run() {
            Ok(o) => format!("committed {}", o.committed.len()),
            Err(e) => {
                let s = format!("{e:?}");
                format!("refused: {}", s.split('(').next().unwrap_or(&s))
            }
        };
        let d = per_call(budget, || {
            let _ = black_box(run());
        });
        println!(
            "| {name} | {what} | {result} | {:.1} µs |",
            d.as_secs_f64() * 1e6
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; anything else is ours.
    let quick = args.iter().any(|a| a == "--quick");
    let only = args.iter().skip(1).find(|a| !a.starts_with("--")).cloned();
    let want = |s: &str| only.as_deref().is_none_or(|o| s.contains(o));
    if want("throughput") {
        throughput(quick);
    }
    if want("memory") {
        memory();
    }
    if want("auth") {
        auth_and_process(quick);
    }
}
