//! Generates the TA header (UUID, flags, memory sizes) and the link setup from OP-TEE's TA
//! dev kit (`TA_DEV_KIT_DIR`, set by qemu/build.sh).

use optee_utee_build::{Error, TaConfig};

/// From `suit_common::protocol::TA_UUID` (a build script cannot depend on the crate it builds
/// for; tests/ check the two agree).
const TA_UUID: &str = "9d5bbaf6-bb0a-4eff-9ae3-b19cb9de8665";

/// `TA_FLAG_SINGLE_INSTANCE` without `TA_FLAG_MULTI_SESSION`: one instance, one session at a
/// time, so OP-TEE serializes every client and the state needs no locking.
const TA_FLAGS: u32 = 1 << 2;

/// Heap: streamed chunks (256 KiB), their decrypted copies, the manifest and crypto state.
const TA_DATA_SIZE: u32 = 2 * 1024 * 1024;
/// Stack: CBOR decoding scratch (4 KiB) plus bounded recursion and crypto.
const TA_STACK_SIZE: u32 = 64 * 1024;

fn main() -> Result<(), Error> {
    println!("cargo:rerun-if-changed=build.rs");
    // No C runtime start files: OP-TEE's loader refuses an ELF that NEEDs libc.
    println!("cargo:rustc-link-arg=-nostartfiles");
    let config = TaConfig::new_default_with_cargo_env(TA_UUID)?
        .ta_flags(TA_FLAGS)
        .ta_data_size(TA_DATA_SIZE)
        .ta_stack_size(TA_STACK_SIZE);
    optee_utee_build::build(config)
}
