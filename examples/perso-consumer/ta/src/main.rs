//! perso-consumer: an example TA that receives its personalization data from the SUIT update
//! TA through `suit-perso`, and shows its normal-world client only a summary of it.
//!
//! Protocol: `../proto.rs`. The same crate builds several TAs (UUID and version come from the
//! build environment, see build.rs); the update TA releases the data only to the UUID it was
//! installed for.
#![no_std]
#![no_main]

extern crate alloc;

mod libc_shim;
/// Shared with the update TA: keeps libutee's unused GP arithmetic API out (see the file).
#[path = "../../../../ta/src/math_api.rs"]
mod math_api;
/// Shared with the update TA: random bytes and `rand` without libutee's GP operation API.
#[path = "../../../../ta/src/random.rs"]
mod random;

use alloc::format;
use alloc::vec::Vec;

use optee_utee::prelude::*;
use optee_utee::{trace_println, ErrorKind, Result};
#[cfg(feature = "insecure-test-digest")]
use sha2::{Digest, Sha256};
use suit_perso::PersoError;

#[allow(dead_code)]
#[path = "../../proto.rs"]
mod proto;

mod build_config {
    include!(concat!(env!("OUT_DIR"), "/consumer.rs"));
}

#[ta_create]
fn create() -> Result<()> {
    Ok(())
}

#[ta_open_session]
fn open_session(_params: &mut ParametersNone) -> Result<()> {
    Ok(())
}

#[ta_close_session]
fn close_session() {}

#[ta_destroy]
fn destroy() {}

/// Slot layout: see `proto.rs`. A wrong layout is refused by the typed tuple before this runs.
#[ta_invoke_command]
fn invoke_command(
    command: u32,
    params: &mut (
        ParameterValueOutput<'_>,
        ParameterMemrefOutput<'_>,
        ParameterValueInput,
        ParameterNone,
    ),
) -> Result<()> {
    let (control, response, options, _) = params;
    if response.buffer_len() < proto::MAX_RESPONSE {
        control.set_a(proto::STATUS_SHORT_BUFFER);
        control.set_b(proto::MAX_RESPONSE as u32);
        return Ok(());
    }
    let (status, body) = match command {
        proto::CMD_HELLO => (proto::STATUS_OK, hello()),
        // The runner's self-test, in the QEMU tests' build only: a TA integrators copy must
        // not let any client kill its instance.
        #[cfg(feature = "insecure-test-digest")]
        proto::CMD_PANIC => {
            panic!("perso-consumer: panic requested by its client (runner self-test)")
        }
        proto::CMD_GET_INFO => match info(options.get_a()) {
            Ok(summary) => (proto::STATUS_OK, summary),
            Err(e) => {
                trace_println!("[perso-consumer] personalization data not available: {}", e);
                failure(&e)
            }
        },
        _ => return Err(ErrorKind::BadParameters.into()),
    };
    // Bodies are bounded by construction; cut a long refusal text rather than fail.
    let len = body.len().min(proto::MAX_RESPONSE);
    response.set_output(&body[..len])?;
    control.set_a(status);
    control.set_b(len as u32);
    Ok(())
}

fn hello() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&build_config::TA_VERSION.to_le_bytes());
    out.extend_from_slice(
        format!(
            "{} {} (ta-version {})",
            proto::HELLO_TEXT,
            build_config::TA_UUID,
            build_config::TA_VERSION
        )
        .as_bytes(),
    );
    out
}

/// Length and (test builds only, see [`data_digest`]) SHA-256 of this TA's personalization
/// data, and how long the update TA kept it waiting (at most `max_wait_ms`); the data stays in
/// this TA and is wiped when it drops.
fn info(max_wait_ms: u32) -> core::result::Result<Vec<u8>, PersoError> {
    let fetched = suit_perso::fetch_personalization_waiting(max_wait_ms)?;
    let len = u32::try_from(fetched.data.len())
        .map_err(|_| PersoError::Malformed("personalization data longer than 4 GiB"))?;
    let mut out = Vec::with_capacity(proto::INFO_LEN);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&data_digest(&fetched.data[..]));
    out.extend_from_slice(&fetched.waited_ms.to_le_bytes());
    Ok(out)
}

/// The data's SHA-256, for the QEMU tests only (feature `insecure-test-digest`): a digest of a
/// low-entropy secret lets the normal world test guesses, so a real TA answers nothing
/// computed from its data.
#[cfg(feature = "insecure-test-digest")]
fn data_digest(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Zeros: this build does not tell the normal world anything computed from the data.
#[cfg(not(feature = "insecure-test-digest"))]
fn data_digest(_: &[u8]) -> [u8; 32] {
    [0; 32]
}

fn failure(e: &PersoError) -> (u32, Vec<u8>) {
    match e {
        PersoError::Refused(r) => (proto::STATUS_REFUSED, {
            // The kind's name and the update TA's fault, which the host puts into words.
            let mut body = format!("{}\n", r.kind).into_bytes();
            body.extend_from_slice(&r.fault);
            body
        }),
        PersoError::Unreachable(_) | PersoError::Invoke(_) => (
            proto::STATUS_UPDATE_TA_UNREACHABLE,
            format!("{e}").into_bytes(),
        ),
        PersoError::Status { .. } | PersoError::Malformed(_) => {
            (proto::STATUS_ERROR, format!("{e}").into_bytes())
        }
        // A kind of failure a later suit-perso adds: an error, in its own words.
        _ => (proto::STATUS_ERROR, format!("{e}").into_bytes()),
    }
}

/// The TA's header and properties as `optee-utee-build` generates them. Its code, not ours:
/// the one `unsafe` block in it (reading its own trace level) carries no SAFETY comment.
#[allow(clippy::undocumented_unsafe_blocks)]
mod ta_header {
    include!(concat!(env!("OUT_DIR"), "/user_ta_header.rs"));
}
