//! Generates the TA header (UUID, flags, memory sizes) and the link setup from OP-TEE's TA
//! dev kit (`TA_DEV_KIT_DIR`, set by qemu/build.sh), and compiles in the TPA root.
//!
//! The TPA root is the only key that can manage the trust anchor store, so it is fixed at
//! build time and never set by the REE: `SUIT_TPA_ROOT=/path/to/tpa.pub.pem` (a P-256
//! SubjectPublicKeyInfo PEM). Without it the build fails, unless the test opt-in
//! `SUIT_INSECURE_TEST_TPA_ROOT=1` selects the repository's public test key
//! (tests/keys/tpa-test.pub.pem); the TA then says so in its status (tpa_root.rs). Any other
//! key of the test material (tests/) needs the same opt-in and counts as a test key.
// A build script reports a failed build by panicking; the no-panic lints are for the TA.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use optee_utee_build::{Error, TaConfig};
use std::path::PathBuf;

#[path = "tpa_root.rs"]
mod tpa_root;

#[path = "unwind_tables.rs"]
mod unwind_tables;

/// From `suit_common::protocol::TA_UUID` (a build script cannot depend on the crate it builds
/// for; tests/ check the two agree).
const TA_UUID: &str = "9d5bbaf6-bb0a-4eff-9ae3-b19cb9de8665";

/// `TA_FLAG_SINGLE_INSTANCE` without `TA_FLAG_MULTI_SESSION`: one instance, one session at a
/// time, so OP-TEE serializes every client and the state needs no locking.
const TA_FLAG_SINGLE_INSTANCE: u32 = 1 << 2;
/// OP-TEE loads and verifies the TA once per boot instead of at every session (0.3-0.6 s of
/// each agent command under QEMU), at the price of its memory (heap, stack and image, ~3.5
/// MiB) staying in use until reboot. Nothing the service decides outlives a session (state,
/// keys, caches and install live in `Session`); a panic still ends the instance (no
/// `TA_FLAG_INSTANCE_KEEP_CRASHED`). `SUIT_TA_KEEP_ALIVE=0` builds without it, for boards
/// short of TA memory.
const TA_FLAG_INSTANCE_KEEP_ALIVE: u32 = 1 << 4;

/// Not set: `TA_FLAG_DONT_CLOSE_HANDLE_ON_CORRUPT_OBJECT` (bit 11). With it OP-TEE (4.10)
/// keeps a handle open after a read, write or truncation finds its object corrupt, but also
/// after an open does, and that handle never reaches the TA: it holds the object's name with
/// write-meta access, so every later open or create of the name fails
/// (`TEE_ERROR_ACCESS_CONFLICT`) until the instance ends, with `TA_FLAG_INSTANCE_KEEP_ALIVE` at
/// the next reboot (`optee_state`'s deleted state record: "the storage failed (code
/// 0xffff0003)" instead of "was deleted"). Without it OP-TEE closes the handle itself at such a
/// read, write or truncation, and ta/src/objects.rs stops using it there.
fn ta_flags() -> u32 {
    println!("cargo:rerun-if-env-changed=SUIT_TA_KEEP_ALIVE");
    match std::env::var("SUIT_TA_KEEP_ALIVE").as_deref() {
        Ok("0") => TA_FLAG_SINGLE_INSTANCE,
        Ok("1") | Err(std::env::VarError::NotPresent) => {
            TA_FLAG_SINGLE_INSTANCE | TA_FLAG_INSTANCE_KEEP_ALIVE
        }
        Ok(other) => panic!("SUIT_TA_KEEP_ALIVE must be 0 or 1, not {other:?}"),
        Err(e) => panic!("SUIT_TA_KEEP_ALIVE: {e}"),
    }
}

/// Heap: the envelope (up to 512 KiB, held while it is processed) and its decoded manifest
/// (the bytes it copies plus at most 9 x 32 KiB of structures, `MAX_SEQUENCE_HEAP`), one
/// streamed chunk (256 KiB)
/// and its copy, a TA image kept for the commit (up to 1 MiB, only in runs without
/// dependencies; with dependencies it is read back at the commit), the run's dependency
/// bytes (up to 1 MiB held and decoded, `MAX_DEPENDENCY_BYTES`, dropped before the commit),
/// and the engine's and crypto state. common/tests/heap_budget.rs measures whole installs
/// at these bounds (peaks 0.05-2.1 MiB, counted in requested bytes: OP-TEE's allocator adds
/// its block headers; optee_attack_oracles installs the largest inside OP-TEE).
const TA_DATA_SIZE: u32 = 3 * 1024 * 1024;
/// Stack: CBOR decoding scratch (4 KiB) plus bounded recursion and crypto. HSS-LMS
/// verification is the deepest path: hbs-lms keeps its hash chains on the stack (one frame of
/// ~17 KB). Measured with the QEMU test `optee_engine_gaps`: a root's HSS-LMS signature
/// panics the TA with a 48 KiB stack and passes with 52 KiB; one HSS-LMS dependency (checked
/// under the root's interpreter frames) panics at 56 and passes at 60; the test's chain of
/// three (the engine's deepest, `MAX_DEPENDENCY_DEPTH`) panics at 68 and passes at 72, and
/// the same chain with every install nested in try-each `MAX_SEQUENCE_DEPTH` deep
/// panics at 80 and passes at 88. 112 KiB leaves 24 KiB over the deepest path. A manifest at
/// that depth may not fetch or integrity-check a dependency of its own (it could never
/// process it), so no signature is checked deeper than that chain's.
const TA_STACK_SIZE: u32 = 112 * 1024;

/// DER prefix of a P-256 SubjectPublicKeyInfo with an uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn tpa_root_point(path: &PathBuf) -> Vec<u8> {
    let pem = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("TPA root {}: {e}", path.display()));
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap_or_else(|e| panic!("TPA root {}: not PEM: {e}", path.display()));
    if der.len() != 91 || der[..26] != P256_SPKI_PREFIX || der[26] != 0x04 {
        panic!(
            "TPA root {}: not a P-256 public key (SubjectPublicKeyInfo)",
            path.display()
        );
    }
    let point = der[26..].to_vec();
    // The prefix only says what the key claims to be: its point must be one of the curve's
    // (not the identity), or the TA would hold a root no signature verifies against.
    if let Err(e) = p256::PublicKey::from_sec1_bytes(&point) {
        panic!(
            "TPA root {}: the key's point is not on the P-256 curve ({e})",
            path.display()
        );
    }
    point
}

fn write_tpa_root() {
    println!("cargo:rerun-if-env-changed={}", tpa_root::ROOT_VAR);
    println!("cargo:rerun-if-env-changed={}", tpa_root::INSECURE_VAR);
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let tests_dir = manifest_dir.join("../tests");
    let test_key = tests_dir.join("keys/tpa-test.pub.pem");
    let var = |name| std::env::var(name).ok();
    println!(
        "cargo:rerun-if-changed={}",
        tests_dir.join("keys").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        tests_dir.join("vectors").display()
    );
    let choice = tpa_root::choose(
        var(tpa_root::ROOT_VAR).as_deref(),
        var(tpa_root::INSECURE_VAR).as_deref(),
        test_key.clone(),
        |p| tpa_root::is_test_material(&tests_dir, &tpa_root_point(p)),
    )
    .unwrap_or_else(|e| panic!("building the update TA: {e}"));
    let path = choice.path;
    println!("cargo:rerun-if-changed={}", path.display());
    let point = tpa_root_point(&path);
    let is_test = choice.is_test_key;
    if is_test {
        println!(
            "cargo:warning=INSECURE TEST BUILD: the TPA root is a key of the repository's test \
             material (its private half is public)"
        );
    }
    // The GP crypto provider (src/crypto.rs) is reachable only from the test build's crypto
    // bench, so only that build links libutee's GP operation API; src/random.rs needs to know.
    println!("cargo::rustc-check-cfg=cfg(gp_crypto_api)");
    // The test build's own commands (crypto bench, heap scan: a search of the TA's memory for
    // given bytes) exist only in that build's source, not merely behind a constant.
    println!("cargo::rustc-check-cfg=cfg(test_commands)");
    if is_test {
        println!("cargo:rustc-cfg=gp_crypto_api");
        println!("cargo:rustc-cfg=test_commands");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("tpa_root.rs");
    std::fs::write(
        out,
        format!(
            "/// The TPA root (uncompressed P-256 point), from the build configuration.\n\
             pub const TPA_ROOT_SEC1: [u8; 65] = {point:?};\n\
             /// True when built with the repository's public test key.\n\
             pub const TPA_ROOT_IS_TEST_KEY: bool = {is_test};\n"
        ),
    )
    .expect("writing tpa_root.rs");
}

fn main() -> Result<(), Error> {
    println!("cargo:rerun-if-changed=build.rs");
    write_tpa_root();
    // No C runtime start files: OP-TEE's loader refuses an ELF that NEEDs libc.
    println!("cargo:rustc-link-arg=-nostartfiles");
    let config = TaConfig::new_default_with_cargo_env(TA_UUID)?
        .ta_flags(ta_flags())
        .ta_data_size(TA_DATA_SIZE)
        .ta_stack_size(TA_STACK_SIZE);
    println!("cargo:rerun-if-changed=unwind_tables.rs");
    unwind_tables::discard();
    optee_utee_build::build(config)
}
