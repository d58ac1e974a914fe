//! How `poll` settles an install whose InstallFinish answer it did not record (an in-flight
//! mark): the approved REE files it writes are every one the TA lists, a dependency's too,
//! and a `CommitPending` answer (OP-TEE took the TA, the state write after it failed) is
//! settled from the TA once it completed the commit, so the update's REE files are written
//! and the TA's report of that attempt is posted; an `InstallPending` answer (OP-TEE's TA
//! store failed with a retried code) likewise in the next round; a commit the TA does not
//! complete is not taken as applied. `poll_once` in this process against the
//! TA's service on memory (the fault plans the simulator's files cannot give) and the test
//! server of support/http.rs.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::Path;

use sha2::Digest as _;
use suit_common::protocol::Command;
use suit_common::service::Service;
use suit_host::client;
use suit_host::tee::{AgentError, RawReply, Transport};
use suit_host::transport::allow::UrlPolicy;
use suit_host::transport::poll::{poll_once, PollOptions, Round};
use suit_host::transport::{Net, NetConfig};
use suit_test_support::service::{
    envelope, manifest, part, provisioned, release, ta_image, Mem, Release, TA,
};
use suit_test_support::vectors::{CLASS_ID, VENDOR_ID};
use support::http::{serve, serve_envelope, Behaviour, Server};

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

/// `Device` whose backend `after` changes once the TA answered InstallFinish (what OP-TEE
/// or the REE does before the TA's next command).
struct AfterFinish {
    d: Device,
    after: fn(&mut Mem),
}

impl Transport for AfterFinish {
    fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
        let reply = self.d.invoke(command, request);
        if command == Command::InstallFinish {
            (self.after)(self.d.0.backend_mut());
        }
        reply
    }
}

/// TEE_ERROR_BUSY: a TA-store result the TA retries (`InstallPending`, the commit kept).
const TEE_ERROR_BUSY: u32 = 0xffff_000d;
/// TEE_ERROR_SECURITY: OP-TEE refusing an image, which the TA does not retry.
const TEE_ERROR_SECURITY: u32 = 0xffff_000f;

/// The device as a restart finds it, with `plan` applied to its storage.
fn restarted(d: &Device, plan: impl FnOnce(&mut Mem)) -> Device {
    let mut b = suit_test_support::service::backend(0);
    b.set_store(d.0.backend().store().after_reboot());
    b.installed_tas = d.0.backend().installed_tas.clone();
    plan(&mut b);
    Device(suit_test_support::service::service(b))
}

/// The agent's install of `r`, its detached payloads given.
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

/// The firmware server path of the test identity's envelope.
fn envelope_path() -> String {
    format!(
        "/fw/{}/{}/envelope.suit",
        hex::encode(VENDOR_ID),
        hex::encode(CLASS_ID)
    )
}

/// `poll --ree-root DIR/ree --poll-state DIR/poll.json --report-url BASE/status/reports`.
fn options(dir: &Path, base: &str) -> PollOptions {
    let fw = format!("{base}/fw");
    PollOptions {
        allowed: UrlPolicy::new(&[&fw], &[]).unwrap(),
        base: fw,
        report_url: Some(format!("{base}/status/reports")),
        nonce_url: None,
        state_file: dir.join("poll.json"),
        ree_root: Some(dir.join("ree")),
    }
}

fn net() -> Net {
    Net::new(NetConfig {
        retries: 0,
        ..NetConfig::default()
    })
    .unwrap()
}

fn poll_state(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("poll.json")).unwrap()).unwrap()
}

/// The SUIT_Reports the tracker collected, decoded (signatures are the tracker's to check,
/// as agent_outcomes.rs does with `verify-report`).
fn reports(server: &Server) -> Vec<suit_common::report::Report> {
    server
        .requests_to("/status/reports")
        .iter()
        .map(|p| {
            suit_common::report::Report::decode(&client::signed_report_payload(&p.body).unwrap())
                .unwrap()
        })
        .collect()
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// The installed TA's version, as `status` lists it.
fn ta_version(d: &mut dyn Transport) -> Option<u32> {
    client::status(d)
        .unwrap()
        .service
        .components
        .iter()
        .find_map(|c| c.ta_version)
}

/// The commit refusal a report carries, if any.
fn commit_refusal(
    report: &suit_common::report::Report,
) -> Option<suit_common::service::install::CommitRefusal> {
    match &report.result {
        suit_common::report::ReportResult::Failure(f) => match &f.detail {
            Some(suit_common::fault::Fault::Install(
                suit_common::service::install::InstallError::Commit(c),
            )) => Some(c.clone()),
            _ => None,
        },
        suit_common::report::ReportResult::Success => None,
    }
}

/// A TA update (TA version 1 to 2, with an approved REE file each) for `poll`: the device
/// with v1 installed, the server with v2 and its payload, reports collected.
struct TaUpdate {
    server: Server,
    base: String,
    v2: Vec<u8>,
    device: Device,
}

fn ta_update() -> TaUpdate {
    let server = Server::default();
    let base = server.start_http();
    let conf: &[&[u8]] = &[b"ree", b"etc", b"app.conf"];
    let (ta1, ta2) = (ta_image(TA, 1), ta_image(TA, 2));
    let (u1, u2) = (format!("{base}/p/app1.conf"), format!("{base}/p/app2.conf"));
    let v1 = release(
        1,
        &[part(&[&TA], &ta1, "#ta"), part(conf, b"release=1\n", &u1)],
    );
    let v2_parts = [part(&[&TA], &ta2, "#ta"), part(conf, b"release=2\n", &u2)];
    let v2 = envelope(&manifest(2, &v2_parts), &v2_parts);
    let mut device = Device(provisioned(&[&TA, b"ree"]));
    install(&mut device, &v1).unwrap();
    server.route(&envelope_path(), serve_envelope(v2.clone(), "\"v2\""));
    server.route("/p/app2.conf", serve(b"release=2\n".to_vec(), "\"c2\""));
    server.route("/status/reports", Behaviour::Collect);
    TaUpdate {
        server,
        base,
        v2,
        device,
    }
}

/// The round after one the TA answered `InstallPending` (the in-flight mark kept, nothing
/// else recorded): the TA rolled the commit forward before its first command, so the round
/// records it as installed (the REE file written, the envelope decided, the TA's report of
/// that attempt posted), never hands the envelope over again (a rollback refusal) and is
/// up to date. `what`: for messages.
fn settles_the_install_pending(
    d: &mut dyn Transport,
    u: &TaUpdate,
    dir: &Path,
    posted_before: usize,
    what: &str,
) {
    let state = poll_state(dir);
    assert!(state.get("in-flight").is_some(), "{what}: {state}");
    assert!(state["envelope-sha256"].is_null(), "{what}: {state}");
    assert!(!dir.join("ree/etc/app.conf").exists(), "{what}");
    assert_eq!(reports(&u.server).len(), posted_before, "{what}");

    let o = poll_once(d, &net(), &options(dir, &u.base), &mut |_| {}).unwrap();
    assert!(matches!(o.round, Round::UpToDate), "{what}: {:?}", o.round);
    assert!(o.afterwards.is_empty(), "{what}: {:?}", o.afterwards);
    assert_eq!(ta_version(d), Some(2), "{what}");
    assert_eq!(
        std::fs::read_to_string(dir.join("ree/etc/app.conf")).unwrap(),
        "release=2\n",
        "{what}"
    );
    let state = poll_state(dir);
    assert!(state.get("in-flight").is_none(), "{what}: {state}");
    assert_eq!(state["envelope-sha256"], sha256_hex(&u.v2), "{what}");
    let posted = reports(&u.server);
    assert_eq!(posted.len(), posted_before + 1, "{what}");
    let report = posted.last().unwrap();
    assert_eq!(report.sequence_number, Some(2), "{what}");
    assert!(
        matches!(
            commit_refusal(report),
            Some(suit_common::service::install::CommitRefusal::InstallPending { .. })
        ),
        "{what}: {report:?}"
    );
}

/// A manifest that processes an integrated dependency, which writes an approved REE file
/// (sequence number 10, its dependency 8: `release_of`'s form). Installed while the agent was
/// killed in InstallFinish (emulated: installed directly, the poll state the one such a round
/// leaves): the next round writes the dependency's file, which the TA lists at the
/// dependency's sequence number, not at the root's that the mark holds.
#[test]
fn recovery_writes_the_ree_files_a_dependency_installed() {
    use suit_test_support::cbor::release_of;
    let conf: &[&[u8]] = &[b"ree", b"etc", b"dep.conf"];
    let key = suit_test_support::keys::p256_private_from_pem(suit_test_support::AUTHOR_PRIV);
    let seal = |m: &[u8], integrated: &[(&str, &[u8])]| {
        suit_test_support::keys::seal_one(
            m,
            &key,
            suit_common::cose::Algorithm::Esp256,
            &[],
            integrated,
        )
    };
    let dep = release_of(
        8,
        &VENDOR_ID,
        &CLASS_ID,
        conf,
        b"from the dependency\n",
        None,
    );
    let dep_envelope = seal(&dep, &[]);
    let root = release_of(10, &VENDOR_ID, &CLASS_ID, conf, b"", Some(&dep));
    let root_envelope = seal(&root, &[("#dep", &dep_envelope)]);
    let mut d = Device(provisioned(&[b"ree"]));
    install(
        &mut d,
        &Release {
            envelope: root_envelope.clone(),
            payloads: vec![],
        },
    )
    .unwrap();
    let status = client::status(&mut d).unwrap();
    let listed: Vec<u64> = status
        .service
        .components
        .iter()
        .map(|c| c.sequence_number)
        .collect();
    assert_eq!(listed, [8], "the dependency's number: {status:?}");

    let server = Server::default();
    let base = server.start_http();
    server.route(
        &envelope_path(),
        serve_envelope(root_envelope.clone(), "\"e\""),
    );
    server.route("/status/reports", Behaviour::Collect);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let claimed = suit_common::suit::envelope::Envelope::decode(&root_envelope)
        .unwrap()
        .claimed_digest()
        .0;
    let state = serde_json::json!({
        "url": format!("{base}{}", envelope_path()),
        "in-flight": {
            "manifest-digest": hex::encode(claimed),
            "sequence-number": 10,
            "envelope-sha256": sha256_hex(&root_envelope),
            "etag": "\"e\"",
        },
    });
    std::fs::write(dir.join("poll.json"), state.to_string()).unwrap();

    let o = poll_once(&mut d, &net(), &options(dir, &base), &mut |_| {}).unwrap();
    assert!(matches!(o.round, Round::UpToDate), "{:?}", o.round);
    assert!(o.afterwards.is_empty(), "{:?}", o.afterwards);
    assert_eq!(
        std::fs::read_to_string(dir.join("ree/etc/dep.conf")).unwrap(),
        "from the dependency\n"
    );
    let state = poll_state(dir);
    assert!(state.get("in-flight").is_none(), "{state}");
    assert!(state.get("ree-pending").is_none(), "{state}");
    assert_eq!(state["envelope-sha256"], sha256_hex(&root_envelope));
    let posted = reports(&server);
    assert_eq!(posted.len(), 1);
    assert!(posted[0].is_success());
    assert_eq!(posted[0].sequence_number, Some(10));
}

/// OP-TEE took the update's TA and the TA's state write after it failed (a fault at each
/// write in turn until one gives `CommitPending`): `poll` keeps its in-flight mark, the TA
/// completes the commit before its next command, and the same round settles it from the TA:
/// the update's approved REE file written, the envelope recorded as decided, and the TA's
/// report of that attempt posted (not a rollback refusal of the envelope handed over again);
/// the round exits as after a commit (5). The next round is up to date. A write whose
/// failure fails OP-TEE's TA-store install (a retried code) gives `InstallPending` instead:
/// not a verdict, the mark kept, and the next round settles it so from the TA.
#[test]
fn a_commit_the_ta_completes_gets_its_ree_files_and_its_report() {
    let u = ta_update();
    let (server, base, v2, d) = (&u.server, &u.base, &u.v2, &u.device);

    let (mut found, mut install_pending) = (false, false);
    for n in 0.. {
        let mut r = restarted(d, |b| b.store_mut().fail_once_at = Some(n));
        let tas_before = r.0.backend().installed_tas.len();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let posted_before = reports(server).len();
        let result = poll_once(&mut r, &net(), &options(dir, base), &mut |_| {});
        if r.0.backend().store().fail_once_at.is_some() {
            break;
        }
        let o = match result {
            Ok(o) => o,
            // OP-TEE's TA store failed (a retried code) with the update's TA: pending, the
            // mark kept; the next round settles it from the TA.
            Err(AgentError::Refused { fault, .. })
                if matches!(
                    suit_common::fault::Fault::decode(&fault),
                    Some(suit_common::fault::Fault::Install(
                        suit_common::service::install::InstallError::Commit(
                            suit_common::service::install::CommitRefusal::InstallPending { .. }
                        )
                    ))
                ) =>
            {
                install_pending = true;
                settles_the_install_pending(&mut r, &u, dir, posted_before, &format!("write {n}"));
                continue;
            }
            Err(_) => continue,
        };
        let Round::Refused(e) = &o.round else {
            continue;
        };
        if !e.is_commit_pending() {
            continue;
        }
        found = true;
        assert!(r.0.backend().installed_tas.len() > tas_before, "write {n}");
        assert!(o.afterwards.is_empty(), "write {n}: {:?}", o.afterwards);
        assert_eq!(
            std::fs::read_to_string(dir.join("ree/etc/app.conf")).unwrap(),
            "release=2\n",
            "write {n}"
        );
        let state = poll_state(dir);
        assert!(state.get("in-flight").is_none(), "write {n}: {state}");
        assert!(state.get("report-pending").is_none(), "write {n}: {state}");
        assert_eq!(state["envelope-sha256"], sha256_hex(v2), "write {n}");
        assert_eq!(state["etag"], "\"v2\"", "write {n}");
        // The TA's report of that attempt: the commit it says it completes, for manifest 2.
        let posted = reports(server);
        assert_eq!(posted.len(), posted_before + 1, "write {n}");
        let report = posted.last().unwrap();
        assert_eq!(report.sequence_number, Some(2), "write {n}");
        let detail = match &report.result {
            suit_common::report::ReportResult::Failure(f) => f.detail.clone(),
            suit_common::report::ReportResult::Success => None,
        };
        assert!(
            matches!(
                detail,
                None | Some(suit_common::fault::Fault::Install(
                    suit_common::service::install::InstallError::Commit(
                        suit_common::service::install::CommitRefusal::CommitPending { .. }
                    )
                ))
            ),
            "write {n}: {report:?}"
        );
        let status = client::status(&mut r).unwrap();
        let ta = status
            .service
            .components
            .iter()
            .find(|c| c.ta_version.is_some());
        assert_eq!(ta.and_then(|c| c.ta_version), Some(2), "write {n}");

        // Up to date from here on: nothing handed over, posted or written again.
        std::fs::remove_file(dir.join("ree/etc/app.conf")).unwrap();
        let o = poll_once(&mut r, &net(), &options(dir, base), &mut |_| {}).unwrap();
        assert!(
            matches!(o.round, Round::UpToDate),
            "write {n}: {:?}",
            o.round
        );
        assert_eq!(reports(server).len(), posted_before + 1, "write {n}");
        assert!(!dir.join("ree/etc/app.conf").exists(), "write {n}");
    }
    assert!(found, "no write gave CommitPending");
    assert!(install_pending, "no write gave InstallPending");
}

/// OP-TEE's TA store keeps the update's TA image and answers a retried code (the REE failing
/// an RPC after the image landed): `InstallPending`, exit 3, the mark kept. The TA rolls the
/// commit forward before its next command, so the next round records the install from the
/// TA, not the rollback refusal of the envelope handed over again (which would lose the
/// update's REE file and its report).
#[test]
fn an_install_pending_rolled_forward_is_recorded_in_the_next_round() {
    let mut u = ta_update();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    u.device.0.backend_mut().forge_ta_failure = Some(TEE_ERROR_BUSY);
    let mut d = std::mem::replace(&mut u.device, Device(provisioned(&[])));
    let e = poll_once(&mut d, &net(), &options(dir, &u.base), &mut |_| {}).unwrap_err();
    assert!(!e.is_verdict() && !e.is_commit_pending(), "{e:?}");
    assert!(e.to_string().contains("pending"), "{e}");
    d.0.backend_mut().forge_ta_failure = None;
    settles_the_install_pending(&mut d, &u, dir, 0, "forged TEE_ERROR_BUSY");
}

/// The first write index at which `after` (applied once the TA answered InstallFinish) leaves
/// a `CommitPending` round unsettled, with that round's outcome; the device, the poll
/// directory and `poll_once`'s result.
fn unsettled_commit_pending(
    u: &TaUpdate,
    after: fn(&mut Mem),
) -> (AfterFinish, tempfile::TempDir, Vec<AgentError>, AgentError) {
    for n in 0.. {
        let mut r = AfterFinish {
            d: restarted(&u.device, |b| b.store_mut().fail_once_at = Some(n)),
            after,
        };
        let tmp = tempfile::tempdir().unwrap();
        let result = poll_once(&mut r, &net(), &options(tmp.path(), &u.base), &mut |_| {});
        assert!(
            r.d.0.backend().store().fail_once_at.is_none(),
            "no write gave CommitPending"
        );
        if let Ok(o) = result {
            if let Round::Unsettled(e) = o.round {
                return (r, tmp, o.afterwards, e);
            }
            assert!(
                !matches!(&o.round, Round::Refused(e) if e.is_commit_pending()),
                "write {n}: a commit the TA did not complete taken as applied: {:?}",
                o.round
            );
        }
    }
    unreachable!()
}

/// After `CommitPending`, OP-TEE refuses the kept TA image when the TA tries again (the TA
/// marks it unconfirmed: the update is not applied): the round is not "applied" (exit 5) but
/// the device's trouble (exit 3, `CommitNotCompleted`); nothing is recorded or posted, the
/// approved REE file (v1's) is written, and once OP-TEE takes the image the next round
/// hands the envelope over again and installs it.
#[test]
fn a_commit_the_ta_does_not_complete_is_not_taken_as_applied() {
    let u = ta_update();
    let (mut r, tmp, afterwards, e) =
        unsettled_commit_pending(&u, |b| b.refuse_tas = Some(TEE_ERROR_SECURITY));
    let dir = tmp.path();
    assert!(matches!(e, AgentError::CommitNotCompleted(_)), "{e:?}");
    assert!(!e.is_commit_pending() && !e.is_verdict(), "{e:?}");
    assert!(e.to_string().contains("unconfirmed"), "{e}");
    assert!(afterwards.is_empty(), "{afterwards:?}");
    assert_eq!(ta_version(&mut r), Some(1));
    let state = poll_state(dir);
    assert!(state.get("in-flight").is_none(), "{state}");
    assert!(state["envelope-sha256"].is_null(), "{state}");
    assert!(state.get("report-pending").is_none(), "{state}");
    assert!(reports(&u.server).is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.join("ree/etc/app.conf")).unwrap(),
        "release=1\n"
    );

    r.d.0.backend_mut().refuse_tas = None;
    r.after = |_| {};
    let o = poll_once(&mut r, &net(), &options(dir, &u.base), &mut |_| {}).unwrap();
    assert!(matches!(o.round, Round::Installed { .. }), "{:?}", o.round);
    assert_eq!(ta_version(&mut r), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("ree/etc/app.conf")).unwrap(),
        "release=2\n"
    );
}

/// After `CommitPending`, the TA cannot finish the commit before its next command (OP-TEE's
/// TA store answers a retried code again), so it does not say whether it completed it: the
/// round exits 3 (`CommitNotCompleted`), not 5, and keeps the mark, which the next round
/// settles once the TA has completed the commit (installed, REE file, report).
#[test]
fn a_commit_the_ta_cannot_say_it_completed_keeps_its_mark() {
    let u = ta_update();
    let (mut r, tmp, _, e) =
        unsettled_commit_pending(&u, |b| b.forge_ta_failure = Some(TEE_ERROR_BUSY));
    let dir = tmp.path();
    assert!(matches!(e, AgentError::CommitNotCompleted(_)), "{e:?}");
    assert!(e.to_string().contains("did not say"), "{e}");
    let state = poll_state(dir);
    assert!(state.get("in-flight").is_some(), "{state}");
    assert!(state["envelope-sha256"].is_null(), "{state}");
    assert!(reports(&u.server).is_empty());

    r.d.0.backend_mut().forge_ta_failure = None;
    r.after = |_| {};
    let o = poll_once(&mut r, &net(), &options(dir, &u.base), &mut |_| {}).unwrap();
    assert!(matches!(o.round, Round::UpToDate), "{:?}", o.round);
    assert_eq!(ta_version(&mut r), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.join("ree/etc/app.conf")).unwrap(),
        "release=2\n"
    );
    let state = poll_state(dir);
    assert!(state.get("in-flight").is_none(), "{state}");
    assert_eq!(state["envelope-sha256"], sha256_hex(&u.v2));
    let posted = reports(&u.server);
    assert_eq!(posted.len(), 1);
    assert!(
        matches!(
            commit_refusal(&posted[0]),
            Some(suit_common::service::install::CommitRefusal::CommitPending { .. })
        ),
        "{:?}",
        posted[0]
    );
}
