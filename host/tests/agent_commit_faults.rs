//! How the agent takes the TA's answers when secure storage fails around a commit (review
//! s26): a full storage is the device's trouble (exit 3, `poll` retries), a TA that OP-TEE
//! took while the state write after it failed is an applied update the TA completes before
//! its next command (not sent again, exit 5), and a commit the TA cannot complete shows in
//! `status`. The agent's own client code against the TA's service (in memory, with the fault
//! plans the simulator's files cannot give) and, for `status`, the real `suit-agent`.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use suit_common::protocol::Command;
use suit_common::service::store::StoreError;
use suit_common::service::Service;
use suit_host::client;
use suit_host::tee::{AgentError, RawReply, Transport};
use suit_test_support::service::{device, release, ta_image, Mem, Part, Release, TA};

/// The TA's service as the agent reaches it (the simulator's transport, over memory).
struct Device(Service<Mem>);

impl Transport for Device {
    fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
        Ok(suit_host::tee::invoke_in_process(
            &mut self.0,
            command,
            request,
        ))
    }
}

/// A device with release 1 installed (TA version 1 and a detached component) and release 2.
fn scenario() -> (Device, Release) {
    let leak = |v: Vec<u8>| -> &'static [u8] { Box::leak(v.into_boxed_slice()) };
    let parts = |ta: &'static [u8], blob: &'static [u8]| {
        [
            Part {
                id: &[&TA],
                image: ta,
                uri: "#ta",
            },
            Part {
                id: &[&TA, b"blob"],
                image: blob,
                uri: "https://u/blob",
            },
        ]
    };
    let v1 = release(1, &parts(leak(ta_image(TA, 1)), leak(vec![1; 70_000])));
    let v2 = release(2, &parts(leak(ta_image(TA, 2)), leak(vec![2; 90_000])));
    let mut d = Device(device());
    install(&mut d, &v1).unwrap();
    (d, v2)
}

/// The agent's install of `r` (`suit-agent install`, `poll`).
fn install(d: &mut Device, r: &Release) -> Result<(), AgentError> {
    let payloads = r.payloads.clone();
    client::install(
        d,
        &r.envelope,
        &mut |uri| {
            payloads
                .iter()
                .find(|(u, _)| u == uri)
                .map(|(_, p)| p.clone())
                .ok_or_else(|| AgentError::File(uri.into()))
        },
        &mut |_| {},
    )
    .map(drop)
}

/// The device as a restart finds it, with `plan` applied to its storage.
fn restarted(d: &Device, plan: impl FnOnce(&mut Mem)) -> Device {
    let mut b = suit_test_support::service::backend(0);
    b.set_store(d.0.backend().store().after_reboot());
    b.installed_tas = d.0.backend().installed_tas.clone();
    plan(&mut b);
    Device(suit_test_support::service::service(b))
}

/// Storage full at any write of an install: never a verdict on the envelope (before the fix,
/// one under `finish` was the engine's `NoSpace`, a `manifest` refusal: exit 1, and `poll`
/// never handed the update over again). Except the write that records a TA OP-TEE already
/// took, which the TA completes itself (an applied update).
#[test]
fn a_full_storage_is_the_devices_trouble_not_a_verdict() {
    let (d, v2) = scenario();
    let mut refused = 0;
    for n in 0.. {
        let mut r = restarted(&d, |b| {
            b.store_mut().fail_once_at = Some(n);
            b.store_mut().fail_with = Some(StoreError::NoSpace);
        });
        let result = install(&mut r, &v2);
        if r.0.backend().store().fail_once_at.is_some() {
            result.unwrap();
            break;
        }
        if let Err(e) = result {
            refused += 1;
            assert!(
                e.is_commit_pending() || !e.is_verdict(),
                "storage full at write {n}: a verdict: {e}"
            );
        }
    }
    assert!(refused >= 5, "only {refused} refusals");
}

/// OP-TEE took the TA and the state write after it failed: the agent takes the answer as an
/// applied update (not sent again: a retry would only be refused as a rollback; exit 5), and
/// the next command finds the commit complete and its report available.
#[test]
fn a_commit_the_ta_completes_is_applied_and_not_retried() {
    let (d, v2) = scenario();
    for n in 0.. {
        let mut r = restarted(&d, |b| b.store_mut().fail_once_at = Some(n));
        let before = r.0.backend().installed_tas.len();
        let result = install(&mut r, &v2);
        assert!(r.0.backend().store().fail_once_at.is_none(), "not found");
        let Err(e) = result else { continue };
        if r.0.backend().installed_tas.len() == before {
            assert!(!e.is_commit_pending(), "write {n}: {e}");
            continue;
        }
        assert!(e.is_commit_pending() && e.is_verdict(), "write {n}: {e}");
        assert!(e.to_string().contains("the update is applied"), "{e}");
        client::report_of(&mut r, Some(&[7; 8]), false).expect("the report of the attempt");
        let status = client::status(&mut r).unwrap();
        assert_eq!(status.service.state_error, None);
        let ta = status
            .service
            .components
            .iter()
            .find(|c| c.ta_version.is_some())
            .unwrap();
        assert_eq!(ta.ta_version, Some(2));
        let again = install(&mut r, &v2).unwrap_err();
        assert!(again.is_verdict() && !again.is_commit_pending(), "{again}");
        return;
    }
}

/// A pending commit the TA cannot complete (its kept TA image is not one): every command but
/// status is refused, and `status` says so instead of showing a healthy device on the old
/// release.
#[test]
fn status_shows_a_commit_the_ta_cannot_complete() {
    use suit_common::service::install::{Journal, PendingCommit};
    use suit_common::service::record;
    use suit_common::service::state::State;

    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    support::device::device(d);
    let object = |name: &str| d.join("state").join(hex::encode(name));
    let mut next: State =
        record::decode_stored(&std::fs::read(object("suit/state")).unwrap(), 1 << 20).unwrap();
    next.generation += 1;
    let journal = Journal {
        objects: vec!["suit/c/0/0".into()],
        pending: Some(PendingCommit {
            state: next,
            tas: vec!["suit/c/0/0".into()],
            envelope: None,
        }),
    };
    std::fs::write(object("suit/journal"), record::encode(&journal).unwrap()).unwrap();
    std::fs::write(object("suit/c/0/0"), b"not a TA image").unwrap();

    let text = support::device::ok(support::device::agent(d, &["status"]));
    assert!(
        text.contains("STATE ERROR:         an interrupted update could not be finished"),
        "{text}"
    );
    let json = support::device::status(d);
    let error = json["service"]["state-error"].to_string();
    assert!(
        error.contains("an interrupted update could not be finished"),
        "{json}"
    );
    let refused = support::device::fails(support::device::agent(d, &["anchors"]), 3);
    assert!(
        refused.contains("an interrupted update could not be finished"),
        "{refused}"
    );
}
