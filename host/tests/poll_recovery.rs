//! How `poll` settles an install whose InstallFinish answer it did not record (an in-flight
//! mark): the approved REE files it writes are every one the TA lists, a dependency's too,
//! and a `CommitPending` answer (OP-TEE took the TA, the state write after it failed) is
//! settled from the TA once it completed the commit, so the update's REE files are written
//! and the TA's report of that attempt is posted. `poll_once` in this process against the
//! TA's service on memory (the fault plans the simulator's files cannot give) and the test
//! server of support/http.rs.

mod support;

use std::path::Path;

use sha2::Digest as _;
use suit_common::protocol::{Command, PROTOCOL_VERSION};
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
        let mut copy = request.to_vec();
        let mut reply = self.0.invoke(command as u32, PROTOCOL_VERSION, &mut copy);
        Ok(RawReply {
            status: reply.status as u32,
            detail: reply.detail,
            body: std::mem::take(&mut reply.body),
        })
    }
}

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
/// the round exits as after a commit (5). The next round is up to date.
#[test]
fn a_commit_the_ta_completes_gets_its_ree_files_and_its_report() {
    let server = Server::default();
    let base = server.start_http();
    let conf: &[&[u8]] = &[b"ree", b"etc", b"app.conf"];
    let (ta1, ta2) = (ta_image(TA, 1), ta_image(TA, 2));
    let uri = |n: u8| format!("{base}/p/app{n}.conf");
    let (u1, u2) = (uri(1), uri(2));
    let v1 = release(
        1,
        &[part(&[&TA], &ta1, "#ta"), part(conf, b"release=1\n", &u1)],
    );
    let v2_parts = [part(&[&TA], &ta2, "#ta"), part(conf, b"release=2\n", &u2)];
    let v2 = envelope(&manifest(2, &v2_parts), &v2_parts);
    let mut d = Device(provisioned(&[&TA, b"ree"]));
    install(&mut d, &v1).unwrap();
    server.route(&envelope_path(), serve_envelope(v2.clone(), "\"v2\""));
    server.route("/p/app2.conf", serve(b"release=2\n".to_vec(), "\"c2\""));
    server.route("/status/reports", Behaviour::Collect);

    let mut found = false;
    for n in 0.. {
        let mut r = restarted(&d, |b| b.store_mut().fail_once_at = Some(n));
        let tas_before = r.0.backend().installed_tas.len();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let posted_before = reports(&server).len();
        let result = poll_once(&mut r, &net(), &options(dir, &base), &mut |_| {});
        if r.0.backend().store().fail_once_at.is_some() {
            break;
        }
        let Ok(o) = result else { continue };
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
        assert_eq!(state["envelope-sha256"], sha256_hex(&v2), "write {n}");
        assert_eq!(state["etag"], "\"v2\"", "write {n}");
        // The TA's report of that attempt: the commit it says it completes, for manifest 2.
        let posted = reports(&server);
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
        let o = poll_once(&mut r, &net(), &options(dir, &base), &mut |_| {}).unwrap();
        assert!(
            matches!(o.round, Round::UpToDate),
            "write {n}: {:?}",
            o.round
        );
        assert_eq!(reports(&server).len(), posted_before + 1, "write {n}");
        assert!(!dir.join("ree/etc/app.conf").exists(), "write {n}");
    }
    assert!(found, "no write gave CommitPending");
}
