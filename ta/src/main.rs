//! OP-TEE entry points of the SUIT update TA: a thin adapter from GP parameters to
//! [`suit_common::service::Service`]. Every decision is made in `common`.
#![no_std]
#![no_main]

extern crate alloc;

mod backend;
mod crypto;
mod heap;
mod libc_shim;
mod log;
mod math_api;
mod objects;
mod property;
mod random;

use optee_utee::prelude::*;
use optee_utee::{ErrorKind, Result};
use suit_common::protocol::{Command, Status, MAX_REQUEST};
use suit_common::service::{Config, Reply, Service};

use crate::backend::Optee;

mod build_config {
    include!(concat!(env!("OUT_DIR"), "/tpa_root.rs"));
}

/// Per-session state. The TA is single-instance and single-session, so there is exactly one.
#[derive(Default)]
pub struct Session {
    service: Option<Service<Optee>>,
}

#[ta_create]
fn create() -> Result<()> {
    // Before the engine runs: the per-operation choice of crypto back ends (src/crypto.rs).
    // Only fails if something used the default first, which nothing before this can.
    suit_common::crypto::install_default(&crypto::SELECTED).map_err(|_| ErrorKind::BadState)?;
    Ok(())
}

// Each entry point that runs service code hands it to an `#[inline(never)]` handler and then
// wipes the stack that handler used (`heap::scrub_stack`): the instance and its stack outlive
// the command.

#[ta_open_session]
fn open_session(_params: &mut ParametersNone, session: &mut Session) -> Result<()> {
    let result = start_service(session);
    heap::scrub_stack();
    result
}

#[inline(never)]
fn start_service(session: &mut Session) -> Result<()> {
    let config = Config::new(
        &build_config::TPA_ROOT_SEC1,
        build_config::TPA_ROOT_IS_TEST_KEY,
    )
    .map_err(|_| ErrorKind::BadState)?;
    backend::hold_directory();
    session.service = Some(Service::new(Optee::new(Optee::session_client()), config));
    Ok(())
}

#[ta_close_session]
fn close_session(session: &mut Session) {
    end_service(session);
    heap::scrub_stack();
}

/// Drops the service here, not in the entry macro's wrapper after `close_session`, so that
/// what its drops leave on the stack lies where the scrub reaches.
#[inline(never)]
fn end_service(session: &mut Session) {
    if let Some(mut service) = session.service.take() {
        service.close();
    }
}

#[ta_destroy]
fn destroy() {}

/// The parameters of every command (slot layout: see `suit_common::protocol`).
type Params<'a> = (
    ParameterValueInout<'a>,
    ParameterMemrefInput<'a>,
    ParameterMemrefOutput<'a>,
    ParameterNone,
);

/// A wrong slot layout is refused by the typed tuple before this runs
/// (TEE_ERROR_BAD_PARAMETERS).
#[ta_invoke_command]
fn invoke_command(session: &mut Session, command: u32, params: &mut Params<'_>) -> Result<()> {
    // An address in this command's entry frame: where the heap scan's stack search stops.
    let entry = 0u8;
    let result = handle_command(
        session,
        command,
        params,
        core::ptr::addr_of!(entry) as usize,
    );
    heap::scrub_stack();
    result
}

#[inline(never)]
fn handle_command(
    session: &mut Session,
    command: u32,
    params: &mut Params<'_>,
    entry_hint: usize,
) -> Result<()> {
    let (control, request, response, _) = params;
    let host_version = control.get_a();
    let service = session.service.as_mut().ok_or(ErrorKind::BadState)?;
    // Bound before copying; then parse only the TA-owned copy, never shared memory.
    let reply = if request.buffer_len() > MAX_REQUEST {
        Reply::bare(
            Status::RequestTooLarge,
            u32::try_from(MAX_REQUEST).unwrap_or(u32::MAX),
        )
    } else if let Some(answer) = test_command(command) {
        answer(&request.read_to_vec(), entry_hint)
    } else if let Some(copy) = copy_request(request) {
        // Wiped after use: the service decrypts a payload chunk in this copy (one copy of a
        // chunk), so it ends holding plaintext.
        let mut copy = zeroize::Zeroizing::new(copy);
        if command == Command::InstallBegin as u32 {
            service.backend().take_stats();
            heap::reset();
        }
        let reply =
            service.invoke_for_slot(command, host_version, &mut copy, response.buffer_len());
        // Secure-storage counts per install (what tee-supplicant sees anyway) and the heap's
        // high-water mark, for qemu/bench.sh: after Begin, and the whole install after Finish.
        if command == Command::InstallBegin as u32 {
            log::line(&service.backend().stats().line("[suit-ta] storage begin"));
        } else if command == Command::InstallFinish as u32 {
            log::line(
                &service
                    .backend()
                    .take_stats()
                    .line("[suit-ta] storage install"),
            );
            log::line(&heap::used().line("[suit-ta] heap install"));
        }
        reply
    } else {
        Reply::request_not_copied()
    };
    let (status, detail) = if reply.body.len() > response.buffer_len() {
        // Saturating: the length is only reported, and bodies are bounded by MAX_RESPONSE.
        (
            Status::ResponseTooLarge,
            u32::try_from(reply.body.len()).unwrap_or(u32::MAX),
        )
    } else {
        response.set_output(&reply.body)?;
        (reply.status, reply.detail)
    };
    if status != Status::Ok {
        // Command id and status only: refusal texts can name manifest details, not secrets,
        // but the secure log is not the place for them.
        log::line(&log::counters(
            "[suit-ta]",
            &[
                ("command", command.into()),
                ("status", u64::from(status as u32)),
            ],
        ));
    }
    control.set_a(status as u32);
    control.set_b(detail);
    Ok(())
}

/// The TA's own copy of the request (bounded by the caller), or `None` when the heap cannot
/// hold it now: a refusal, where the SDK's `read_to_vec` would abort the instance.
fn copy_request(request: &impl ParameterMemrefRead) -> Option<alloc::vec::Vec<u8>> {
    let mut copy = alloc::vec::Vec::new();
    copy.try_reserve_exact(request.buffer_len()).ok()?;
    copy.resize(request.buffer_len(), 0);
    let read = request.read_at(0, &mut copy).ok()?;
    (read == copy.len()).then_some(copy)
}

/// The test build's own commands (cfg `test_commands`, set by build.rs with the insecure test
/// TPA root only); every other build answers them as the service does: unknown.
#[cfg(test_commands)]
fn test_command(command: u32) -> Option<TestCommand> {
    if command == Command::CryptoBench as u32 {
        Some(|request, _| crypto_bench(request))
    } else if command == Command::HeapScan as u32 {
        Some(heap_scan)
    } else {
        None
    }
}

#[cfg(not(test_commands))]
fn test_command(_command: u32) -> Option<TestCommand> {
    None
}

/// A test command's handler: the request (the TA's copy) and the entry frame's address.
type TestCommand = fn(&[u8], usize) -> Reply;

/// `Command::CryptoBench`: known-answer checks and timings of RustCrypto and the GP TEE API
/// on public inputs (`suit_common::crypto::bench`). Only in builds with the insecure test
/// TPA root: it is a measuring tool, not part of the product's interface.
#[cfg(test_commands)]
fn crypto_bench(request: &[u8]) -> Reply {
    // TEE_GetSystemTime: millisecond resolution; timings repeat each op to stay well above it.
    let mut clock = || {
        let mut t = optee_utee::Time::new();
        t.system_time();
        u64::from(t.seconds) * 1_000_000 + u64::from(t.millis) * 1000
    };
    match suit_common::crypto::bench::run(request, &crypto::candidates(), &mut clock) {
        Ok(text) => Reply {
            status: Status::Ok,
            detail: u32::try_from(text.len()).unwrap_or(u32::MAX),
            body: text.into_bytes(),
        },
        Err(e) => {
            optee_utee::trace_println!("[suit-ta] {}", e);
            Reply::bare(Status::MalformedRequest, 0)
        }
    }
}

/// `Command::HeapScan` (`suit_common::protocol::heap_scan`): how often the control and each
/// needle occur in the TA's heap arena and in the dead part of its stack (searched for the
/// needles first, then for the control after leaving it there on purpose). Only in builds
/// with the insecure test TPA root: in a product it would tell the normal world whether given
/// bytes are in the TA's memory.
#[cfg(test_commands)]
fn heap_scan(request: &[u8], entry_hint: usize) -> Reply {
    use suit_common::protocol::heap_scan::{decode, MASK, MAX_NEEDLE, MAX_NEEDLES};
    let Some((control, masked)) = decode(request) else {
        return Reply::bare(Status::MalformedRequest, 0);
    };
    // Unmasked on the stack: in the heap, a needle would find itself.
    let mut clear = zeroize::Zeroizing::new([[0u8; MAX_NEEDLE]; MAX_NEEDLES]);
    for (slot, needle) in clear.iter_mut().zip(&masked) {
        for (c, m) in slot.iter_mut().zip(needle.iter()) {
            *c = m ^ MASK;
        }
    }
    let needles: alloc::vec::Vec<&[u8]> = core::iter::once(control)
        .chain(
            clear
                .iter()
                .zip(&masked)
                .map(|(slot, m)| slot.get(..m.len()).unwrap_or_default()),
        )
        .collect();
    let mut counts = [0u32; MAX_NEEDLES + 1];
    heap::occurrences(&needles, &mut counts);
    let mut on_stack = [0u32; MAX_NEEDLES + 1];
    let (Some((control_needle, rest)), Some((control_count, rest_counts))) =
        (needles.split_first(), on_stack.split_first_mut())
    else {
        return Reply::bare(Status::MalformedRequest, 0);
    };
    // The needles before the control is left: one that an earlier command left where the
    // control goes (the agent sends an earlier scan's control) is found unless the entry
    // points' stack scrub wiped it.
    heap::dead_stack_occurrences(entry_hint, rest, rest_counts);
    heap::leave_on_stack(control);
    heap::dead_stack_occurrences(
        entry_hint,
        core::slice::from_ref(control_needle),
        core::slice::from_mut(control_count),
    );
    let text: alloc::string::String = counts
        .iter()
        .zip(&on_stack)
        .take(needles.len())
        .map(|(h, s)| alloc::format!("{h} {s}\n"))
        .collect();
    Reply {
        status: Status::Ok,
        detail: u32::try_from(text.len()).unwrap_or(u32::MAX),
        body: text.into_bytes(),
    }
}

/// The TA's header and properties as `optee-utee-build` generates them. Its code, not ours:
/// the one `unsafe` block in it (reading its own trace level) carries no SAFETY comment.
#[allow(clippy::undocumented_unsafe_blocks)]
mod ta_header {
    include!(concat!(env!("OUT_DIR"), "/user_ta_header.rs"));
    /// The heap arena's size (ta/build.rs), for the test build's heap search.
    #[cfg(test_commands)]
    pub(crate) const DATA_SIZE: u32 = TA_DATA_SIZE;
    /// The stack's size (ta/build.rs), for the stack wipe after each entry point.
    pub(crate) const STACK_SIZE: u32 = TA_STACK_SIZE;
    /// Whether the header sets `TA_FLAG_DONT_CLOSE_HANDLE_ON_CORRUPT_OBJECT` (ta/build.rs
    /// does not), for the storage handles' bookkeeping (`objects`).
    pub(crate) const KEEPS_HANDLE_ON_CORRUPT_OBJECT: bool = DONT_CLOSE_HANDLE_ON_CORRUPT_OBJECT;
}
