//! Known-answer checks and timings of several [`CryptoProvider`]s on the same inputs, run
//! where the providers live (inside OP-TEE for the GP TEE provider: the TA's test-build-only
//! crypto-bench command; on the host for tests). Inputs are public test data only.
//!
//! The request is text, one item per line (`#` starts a comment; hex fields, `.` for empty):
//!
//! | line | checks |
//! |---|---|
//! | `sha256 EXPECT MSG` | digest |
//! | `gcm EXPECT KEY IV AAD CIPHERTEXT‖TAG` | plaintext, or `fail` (tag refused) |
//! | `ctr EXPECT KEY IV CIPHERTEXT` | plaintext |
//! | `ecdsa EXPECT PUBLIC_SEC1 SHA256_DIGEST R‖S` | `valid` or `invalid` |
//! | `ecdh EXPECT PRIVATE PEER_SEC1` | shared x-coordinate |
//! | `time OP BYTES ITERATIONS` | OP: `sha256`, `gcm`, `ctr` (AES-128, BYTES of data) or `ecdsa`, `ecdh`, `ecdh-agree` (the last such check's inputs) |
//!
//! EXPECT is the published answer, or `-` (agreement between providers only). The reply has
//! one line per check and provider, `kat LINE OP PROVIDER RESULT`, and one per timing and
//! provider, `time OP BYTES PROVIDER ITERATIONS MICROSECONDS`. The caller compares results
//! with EXPECT: this module only runs the operations.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write as _;

use super::CryptoProvider;

/// Largest request accepted, in bytes.
pub const MAX_REQUEST: usize = 64 * 1024;
/// Most lines with work in one request.
pub const MAX_ITEMS: usize = 64;
/// Largest data size of one timing.
pub const MAX_TIME_BYTES: usize = 1 << 20;
/// Most iterations of one timing.
pub const MAX_ITERATIONS: u32 = 10_000;
/// Streaming ops are fed in chunks of this size (the install path's chunks are up to 256 KiB).
const CHUNK: usize = 64 * 1024;

/// A request the runner refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchError {
    /// 1-based request line (0: the request as a whole).
    pub line: usize,
    pub reason: &'static str,
}

impl core::fmt::Display for BenchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "crypto-bench request line {}: {}",
            self.line, self.reason
        )
    }
}

fn hex(field: &str) -> Option<Vec<u8>> {
    if field == "." {
        return Some(Vec::new());
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let b = field.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| match p {
            [h, l] => Some(digit(*h)? << 4 | digit(*l)?),
            _ => None,
        })
        .collect()
}

fn put_hex(out: &mut String, bytes: &[u8]) {
    if bytes.is_empty() {
        out.push('.');
    }
    crate::text::push_hex(out, bytes);
}

/// Everything a check needs, parsed before any provider runs (so no provider sees an
/// invalid key or point: a GP TEE implementation would panic the TA on one).
enum Item {
    Sha256(Vec<u8>),
    Gcm {
        key: Vec<u8>,
        iv: Vec<u8>,
        aad: Vec<u8>,
        data: Vec<u8>,
    },
    Ctr {
        key: Vec<u8>,
        iv: Vec<u8>,
        data: Vec<u8>,
    },
    Ecdsa {
        key: Option<p256::ecdsa::VerifyingKey>,
        digest: [u8; 32],
        sig: Option<p256::ecdsa::Signature>,
    },
    Ecdh {
        secret: p256::SecretKey,
        peer: p256::PublicKey,
    },
    Time {
        op: TimeOp,
        bytes: usize,
        iterations: u32,
    },
}

#[derive(Clone, Copy)]
enum TimeOp {
    Sha256,
    Gcm,
    Ctr,
    Ecdsa,
    Ecdh,
    EcdhAgree,
}

impl TimeOp {
    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Gcm => "gcm",
            Self::Ctr => "ctr",
            Self::Ecdsa => "ecdsa",
            Self::Ecdh => "ecdh",
            Self::EcdhAgree => "ecdh-agree",
        }
    }
}

fn parse_line(fields: &[&str]) -> Result<Item, &'static str> {
    let h = |i: usize| {
        fields
            .get(i)
            .copied()
            .and_then(hex)
            .ok_or("missing or invalid hex field")
    };
    let arity = |n: usize| {
        if fields.len() == n {
            Ok(())
        } else {
            Err("wrong number of fields")
        }
    };
    match fields.first().copied() {
        Some("sha256") => {
            arity(3)?;
            Ok(Item::Sha256(h(2)?))
        }
        Some("gcm") => {
            arity(6)?;
            Ok(Item::Gcm {
                key: h(2)?,
                iv: h(3)?,
                aad: h(4)?,
                data: h(5)?,
            })
        }
        Some("ctr") => {
            arity(5)?;
            Ok(Item::Ctr {
                key: h(2)?,
                iv: h(3)?,
                data: h(4)?,
            })
        }
        Some("ecdsa") => {
            arity(5)?;
            let digest: [u8; 32] = h(3)?.try_into().map_err(|_| "digest must be 32 bytes")?;
            Ok(Item::Ecdsa {
                key: p256::ecdsa::VerifyingKey::from_sec1_bytes(&h(2)?).ok(),
                digest,
                sig: p256::ecdsa::Signature::from_slice(&h(4)?).ok(),
            })
        }
        Some("ecdh") => {
            arity(4)?;
            Ok(Item::Ecdh {
                secret: p256::SecretKey::from_slice(&h(2)?).map_err(|_| "invalid private key")?,
                peer: p256::PublicKey::from_sec1_bytes(&h(3)?).map_err(|_| "invalid peer key")?,
            })
        }
        Some("time") => {
            arity(4)?;
            let op = match fields.get(1).copied() {
                Some("sha256") => TimeOp::Sha256,
                Some("gcm") => TimeOp::Gcm,
                Some("ctr") => TimeOp::Ctr,
                Some("ecdsa") => TimeOp::Ecdsa,
                Some("ecdh") => TimeOp::Ecdh,
                Some("ecdh-agree") => TimeOp::EcdhAgree,
                _ => return Err("unknown timing operation"),
            };
            let bytes: usize = fields
                .get(2)
                .and_then(|v| v.parse().ok())
                .filter(|b| *b <= MAX_TIME_BYTES)
                .ok_or("byte count missing or above 1 MiB")?;
            let iterations: u32 = fields
                .get(3)
                .and_then(|v| v.parse().ok())
                .filter(|n| (1..=MAX_ITERATIONS).contains(n))
                .ok_or("iterations missing or not in 1..=10000")?;
            Ok(Item::Time {
                op,
                bytes,
                iterations,
            })
        }
        _ => Err("unknown operation"),
    }
}

fn stream(
    mut d: Box<dyn super::StreamDecrypt>,
    data: &[u8],
) -> Result<Vec<u8>, crate::encryption::DecryptError> {
    let mut out = Vec::with_capacity(data.len());
    for chunk in data.chunks(CHUNK) {
        out.extend_from_slice(&d.update(chunk)?);
    }
    out.extend_from_slice(&d.finish()?);
    Ok(out)
}

/// [`stream`] for timings: each chunk's output is dropped at once (bounded memory).
fn drain(
    mut d: Box<dyn super::StreamDecrypt>,
    data: &[u8],
) -> Result<(), crate::encryption::DecryptError> {
    for chunk in data.chunks(CHUNK) {
        core::hint::black_box(d.update(chunk)?);
    }
    core::hint::black_box(d.finish()?);
    Ok(())
}

/// Runs one check; the result is what the reply line shows.
fn check(item: &Item, p: &CryptoProvider) -> String {
    let mut out = String::new();
    match item {
        Item::Sha256(msg) => {
            let mut h = p.sha256.start();
            h.update(msg);
            put_hex(&mut out, &h.finish());
        }
        Item::Gcm { key, iv, aad, data } => {
            match p
                .aes_gcm
                .decryptor(key, iv, aad)
                .and_then(|d| stream(d, data))
            {
                Ok(pt) => put_hex(&mut out, &pt),
                Err(_) => out.push_str("fail"),
            }
        }
        Item::Ctr { key, iv, data } => {
            match p.aes_ctr.decryptor(key, iv).and_then(|d| stream(d, data)) {
                Ok(pt) => put_hex(&mut out, &pt),
                Err(_) => out.push_str("fail"),
            }
        }
        Item::Ecdsa { key, digest, sig } => {
            let valid = match (key, sig) {
                (Some(k), Some(s)) => p.ecdsa_p256.verify_prehash(k, digest, s),
                _ => false,
            };
            out.push_str(if valid { "valid" } else { "invalid" });
        }
        Item::Ecdh { secret, peer } => match p.ecdh_p256.load(secret).and_then(|k| k.agree(peer)) {
            Some(shared) => put_hex(&mut out, shared.as_ref()),
            None => out.push_str("fail"),
        },
        Item::Time { .. } => {}
    }
    out
}

/// Public fixed inputs of the symmetric timings (AES-128).
const TIME_KEY: [u8; 16] = [0x42; 16];
const TIME_IV_GCM: [u8; 12] = [0x24; 12];
const TIME_IV_CTR: [u8; 16] = [0x24; 16];
const TIME_AAD: [u8; 16] = [0x11; 16];

/// Times `iterations` runs of `op`; `Err` if a run fails (the reason as text).
fn time(
    op: TimeOp,
    bytes: usize,
    iterations: u32,
    p: &CryptoProvider,
    last_ecdsa: Option<&Item>,
    last_ecdh: Option<&Item>,
    now_us: &mut dyn FnMut() -> u64,
) -> Result<u64, &'static str> {
    // One input buffer at most (the TA's heap is a few MiB): the data, or for GCM a valid
    // ciphertext and tag of that many bytes, sealed chunk by chunk before the clock starts.
    let data = if matches!(op, TimeOp::Gcm) {
        let chunk = vec![0xa5u8; CHUNK.min(bytes)];
        let mut e =
            crate::encryption::content::AeadEncryptor::aes_gcm(&TIME_KEY, &TIME_IV_GCM, &TIME_AAD)
                .map_err(|_| "gcm setup")?;
        let mut sealed = Vec::with_capacity(bytes + 16);
        while sealed.len() < bytes {
            let n = chunk.len().min(bytes - sealed.len());
            let c = e
                .update(chunk.get(..n).unwrap_or_default())
                .map_err(|_| "gcm setup")?;
            sealed.extend_from_slice(&c);
        }
        sealed.extend_from_slice(&e.finish());
        sealed
    } else {
        vec![0xa5u8; bytes]
    };
    let ecdh = match (op, last_ecdh) {
        (TimeOp::Ecdh | TimeOp::EcdhAgree, Some(Item::Ecdh { secret, peer })) => {
            Some((secret, peer))
        }
        (TimeOp::Ecdh | TimeOp::EcdhAgree, _) => return Err("no ecdh check before this line"),
        _ => None,
    };
    let ecdsa = match (op, last_ecdsa) {
        (
            TimeOp::Ecdsa,
            Some(Item::Ecdsa {
                key: Some(k),
                digest,
                sig: Some(s),
            }),
        ) => Some((k, digest, s)),
        (TimeOp::Ecdsa, _) => return Err("no valid ecdsa check before this line"),
        _ => None,
    };
    let loaded = match (op, ecdh) {
        (TimeOp::EcdhAgree, Some((secret, _))) => {
            Some(p.ecdh_p256.load(secret).ok_or("ecdh load failed")?)
        }
        _ => None,
    };
    let start = now_us();
    for _ in 0..iterations {
        match op {
            TimeOp::Sha256 => {
                let mut h = p.sha256.start();
                for chunk in data.chunks(CHUNK) {
                    h.update(chunk);
                }
                core::hint::black_box(h.finish());
            }
            TimeOp::Gcm => {
                let d = p
                    .aes_gcm
                    .decryptor(&TIME_KEY, &TIME_IV_GCM, &TIME_AAD)
                    .map_err(|_| "gcm init failed")?;
                drain(d, &data).map_err(|_| "gcm decrypt failed")?;
            }
            TimeOp::Ctr => {
                let d = p
                    .aes_ctr
                    .decryptor(&TIME_KEY, &TIME_IV_CTR)
                    .map_err(|_| "ctr init failed")?;
                drain(d, &data).map_err(|_| "ctr decrypt failed")?;
            }
            TimeOp::Ecdsa => {
                if let Some((k, digest, s)) = ecdsa {
                    if !p.ecdsa_p256.verify_prehash(k, digest, s) {
                        return Err("ecdsa verify failed");
                    }
                }
            }
            TimeOp::Ecdh => {
                if let Some((secret, peer)) = ecdh {
                    let k = p.ecdh_p256.load(secret).ok_or("ecdh load failed")?;
                    core::hint::black_box(k.agree(peer).ok_or("ecdh failed")?);
                }
            }
            TimeOp::EcdhAgree => {
                if let (Some(k), Some((_, peer))) = (&loaded, ecdh) {
                    core::hint::black_box(k.agree(peer).ok_or("ecdh failed")?);
                }
            }
        }
    }
    Ok(now_us().saturating_sub(start))
}

/// Runs every line of `request` with every provider; see the module docs for the format.
/// `now_us` is the platform's clock in microseconds (any resolution).
pub fn run(
    request: &[u8],
    providers: &[&CryptoProvider],
    now_us: &mut dyn FnMut() -> u64,
) -> Result<String, BenchError> {
    let whole = |reason| BenchError { line: 0, reason };
    if request.len() > MAX_REQUEST {
        return Err(whole("request above 64 KiB"));
    }
    let text = core::str::from_utf8(request).map_err(|_| whole("request is not UTF-8"))?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if items.len() == MAX_ITEMS {
            return Err(whole("more than 64 items"));
        }
        let item = parse_line(&fields).map_err(|reason| BenchError {
            line: i + 1,
            reason,
        })?;
        items.push((i + 1, fields.first().copied().unwrap_or_default(), item));
    }
    let mut out = String::new();
    let mut last_ecdsa = None;
    let mut last_ecdh = None;
    for (line, op, item) in &items {
        match item {
            Item::Time {
                op,
                bytes,
                iterations,
            } => {
                for p in providers {
                    let us = time(*op, *bytes, *iterations, p, last_ecdsa, last_ecdh, now_us)
                        .map_err(|reason| BenchError {
                            line: *line,
                            reason,
                        })?;
                    let _ = writeln!(
                        out,
                        "time {} {} {} {} {}",
                        op.name(),
                        bytes,
                        p.name,
                        iterations,
                        us
                    );
                }
            }
            _ => {
                if matches!(item, Item::Ecdsa { .. }) {
                    last_ecdsa = Some(item);
                }
                if matches!(item, Item::Ecdh { .. }) {
                    last_ecdh = Some(item);
                }
                for p in providers {
                    let _ = writeln!(out, "kat {} {} {} {}", line, op, p.name, check(item, p));
                }
            }
        }
    }
    Ok(out)
}
