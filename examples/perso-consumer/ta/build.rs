//! TA header and link setup from OP-TEE's TA dev kit (`TA_DEV_KIT_DIR`), with the UUID and
//! the TA version taken from the build environment, so one crate builds several TAs:
//!
//! - `PERSO_CONSUMER_UUID`: the TA's UUID (default `proto::DEFAULT_UUID`);
//! - `PERSO_CONSUMER_TA_VERSION`: the version the TA reports in HELLO and in its
//!   `gpd.ta.version` property (default 1). qemu/build.sh passes the same number to
//!   `sign_encrypt.py --ta-version`, which OP-TEE's TA store uses against rollback.

use optee_utee_build::{Error, TaConfig};
use std::path::PathBuf;

#[allow(dead_code)]
#[path = "../proto.rs"]
mod proto;

/// Shared with the update TA's build script: no unwind tables in the TA (see the file).
#[path = "../../../ta/unwind_tables.rs"]
mod unwind_tables;

/// Heap: the update TA's largest response (64 KiB) held while it is decoded, plus the decoded
/// copy of the data and the decoder's state.
const TA_DATA_SIZE: u32 = 256 * 1024;
/// Stack: the CBOR decoder's 4 KiB scratch, SHA-256, formatting.
const TA_STACK_SIZE: u32 = 32 * 1024;

fn main() -> Result<(), Error> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../proto.rs");
    println!("cargo:rerun-if-env-changed=PERSO_CONSUMER_UUID");
    println!("cargo:rerun-if-env-changed=PERSO_CONSUMER_TA_VERSION");
    let uuid = std::env::var("PERSO_CONSUMER_UUID").unwrap_or_else(|_| proto::DEFAULT_UUID.into());
    let version: u32 = match std::env::var("PERSO_CONSUMER_TA_VERSION") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("PERSO_CONSUMER_TA_VERSION={v}: not a u32")),
        Err(_) => 1,
    };
    // No C runtime start files: OP-TEE's loader refuses an ELF that NEEDs libc.
    println!("cargo:rustc-link-arg=-nostartfiles");
    // Validates the UUID before it reaches the generated code.
    let config = TaConfig::new_default(
        &uuid,
        &version.to_string(),
        "perso-consumer: example TA using suit-perso",
    )?
    .ta_data_size(TA_DATA_SIZE)
    .ta_stack_size(TA_STACK_SIZE);
    let canonical = config.uuid.hyphenated().to_string();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("consumer.rs");
    std::fs::write(
        out,
        format!(
            "/// This TA's UUID (from PERSO_CONSUMER_UUID at build time).\n\
             pub const TA_UUID: &str = {canonical:?};\n\
             /// This TA's version (PERSO_CONSUMER_TA_VERSION at build time).\n\
             pub const TA_VERSION: u32 = {version};\n"
        ),
    )
    .expect("writing consumer.rs");
    println!("cargo:rerun-if-changed=../../../ta/unwind_tables.rs");
    // src/random.rs (shared with the update TA) asks whether libutee's GP operation API is
    // linked; this TA never links it.
    println!("cargo::rustc-check-cfg=cfg(gp_crypto_api)");
    unwind_tables::discard();
    optee_utee_build::build(config)
}
