//! A commit the TA left awaiting its envelope again (protocol 7: a TA image decrypted as it
//! arrives is kept in TA memory only, so a commit interrupted while OP-TEE installs it is
//! finished only by the same envelope): `install` sends it again, bounded; another envelope
//! is refused with the ways out named; `abandon` ends it unapplied; `poll` hands its
//! envelope in flight over again from its copy, and stops with a clear error when it has
//! none. The agent's client code against the TA's service on memory (the fault plans the
//! simulator's files cannot give) and the test server of support/http.rs.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::Path;

use ciborium::Value;
use sha2::Digest as _;
use suit_common::cose::{Algorithm, SigningKey};
use suit_common::protocol::Command;
use suit_common::service::Service;
use suit_common::suit::author::{seal_envelope, Signer};
use suit_host::client;
use suit_host::tee::{AgentError, RawReply, Transport};
use suit_host::transport::allow::UrlPolicy;
use suit_host::transport::poll::{in_flight_copy, poll_once, PollOptions, Round};
use suit_host::transport::{Net, NetConfig};
use suit_test_support::service::{device, encrypt, int, ta_image_with_body, Cipher, Mem, TA};
use suit_test_support::vectors::{CLASS_ID, VENDOR_ID};
use suit_test_support::{fetch_and_decrypt, image_shared, p256_private_from_pem, suit_manifest};
use support::http::{serve, serve_envelope, Behaviour, Server};

/// TEE_ERROR_BUSY: a TA-store result the TA retries; for an image kept in TA memory only,
/// the commit then awaits its envelope again.
const TEE_ERROR_BUSY: u32 = 0xffff_000d;

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

/// A TA image of version `version`.
fn ta(version: u32) -> Vec<u8> {
    let body: Vec<u8> = (0..40_000u32).map(|i| (i * 7 + version) as u8).collect();
    ta_image_with_body(TA, version, &body)
}

/// An encrypted TA release fetched from `uri`, in the firmware-encryption draft's static
/// form (fetch into a buffer, decrypting copy into the TA), which the TA decrypts as it
/// arrives and keeps in memory only: (envelope, ciphertext).
fn release(s: &mut Service<Mem>, seq: u64, uri: &str) -> (Vec<u8>, Vec<u8>) {
    const POLICY: i64 = 15;
    let image = ta(seq as u32);
    let (info, ciphertext) = encrypt(s, Cipher::Gcm, &image);
    let install = Value::Array(
        [
            fetch_and_decrypt(uri, &info, POLICY),
            vec![int(3), int(POLICY)],
        ]
        .concat(),
    );
    let component = |extra: Option<&[u8]>| {
        let mut ids = vec![Value::Bytes(TA.to_vec())];
        ids.extend(extra.map(|e| Value::Bytes(e.to_vec())));
        Value::Array(ids)
    };
    let manifest = suit_manifest(
        seq as i64,
        vec![component(None), component(Some(b"encrypted"))],
        &image_shared(&image, POLICY),
        &install,
    );
    let key: SigningKey = p256_private_from_pem(suit_test_support::AUTHOR_PRIV);
    let signers = [Signer {
        key: &key,
        alg: Algorithm::Esp256,
        kid: b"",
    }];
    (
        seal_envelope(&manifest, &signers, &[], &[]).unwrap(),
        ciphertext,
    )
}

/// The agent's install of `envelope` with its one payload.
fn install(d: &mut Device, envelope: &[u8], payload: &[u8]) -> Result<(), AgentError> {
    client::install(d, envelope, &mut |_| Ok(payload.to_vec()), &mut |_| {}).map(drop)
}

/// [`install`] as `suit-agent install` runs it: sent again while the commit awaits it.
/// Returns the answer and how many times the TA answered that it awaits the envelope.
fn install_resending(
    d: &mut Device,
    envelope: &[u8],
    payload: &[u8],
) -> (Result<(), AgentError>, u32) {
    let mut awaited = 0;
    let r = client::resending(|| install(d, envelope, payload), &mut |e, n| {
        assert!(e.awaiting_commit().is_some(), "{e}");
        awaited += 1;
        assert_eq!(n, awaited);
    });
    (r, awaited)
}

/// The device as a restart finds it, with `plan` applied to its storage.
fn restarted(d: &Device, plan: impl FnOnce(&mut Mem)) -> Device {
    let mut b = suit_test_support::service::backend(0);
    b.set_store(d.0.backend().store().after_reboot());
    b.installed_tas = d.0.backend().installed_tas.clone();
    plan(&mut b);
    Device(suit_test_support::service::service(b))
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

fn sha256(b: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(b).to_vec()
}

/// A device with TA version 1 installed, the encrypted release 2 (envelope, ciphertext)
/// fetched from `uri`.
fn scenario(uri: &str) -> (Device, (Vec<u8>, Vec<u8>)) {
    let mut s = device();
    let (v1, c1) = release(&mut s, 1, uri);
    let v2 = release(&mut s, 2, uri);
    let mut d = Device(s);
    install(&mut d, &v1, &c1).unwrap();
    assert_eq!(ta_version(&mut d), Some(1));
    (d, v2)
}

/// Storage failing once at each write of the install in turn: where the TA answers that the
/// commit awaits its envelope again (OP-TEE's install of the kept image failed, or the state
/// write after it), the agent sends it again and the update is installed.
#[test]
fn an_install_whose_commit_awaits_its_envelope_is_sent_again() {
    let (d, (v2, c2)) = scenario("https://vendor.example/ta.enc");
    let mut resent = 0;
    for n in 0.. {
        let mut r = restarted(&d, |b| b.store_mut().fail_once_at = Some(n));
        let (result, awaited) = install_resending(&mut r, &v2, &c2);
        if r.0.backend().store().fail_once_at.is_some() {
            result.unwrap();
            break;
        }
        if awaited == 0 {
            continue;
        }
        resent += 1;
        result.unwrap_or_else(|e| panic!("write {n}: sent again, still refused: {e}"));
        assert_eq!(awaited, 1, "write {n}");
        assert_eq!(ta_version(&mut r), Some(2), "write {n}");
        assert_eq!(r.0.backend().installed_tas.last(), Some(&ta(2)));
        let status = client::status(&mut r).unwrap();
        assert_eq!(status.service.awaiting_envelope, None, "write {n}");
    }
    assert!(
        resent >= 1,
        "no write left the commit awaiting its envelope"
    );
}

/// OP-TEE's TA store failing every time: the agent sends the envelope three times in all,
/// then reports the TA's answer (not a verdict: exit 3). Another envelope is then refused,
/// the refusal naming the awaited envelope and the ways out; an abandon of another digest
/// is refused (not awaited), one of the awaited digest ends the update unapplied with its
/// TA unconfirmed, and the same envelope then installs.
#[test]
fn a_commit_left_awaiting_is_named_and_can_be_abandoned() {
    let (mut d, (v2, c2)) = scenario("https://vendor.example/ta.enc");
    let (v3, c3) = release(&mut d.0, 3, "https://vendor.example/ta.enc");
    d.0.backend_mut().forge_ta_failure = Some(TEE_ERROR_BUSY);
    let (result, awaited) = install_resending(&mut d, &v2, &c2);
    let e = result.unwrap_err();
    assert_eq!(awaited, client::MAX_RESENDS, "{e}");
    assert!(e.awaiting_commit().is_some() && !e.is_verdict(), "{e}");
    assert!(!e.is_commit_pending() && e.leaves_commit_pending(), "{e}");
    d.0.backend_mut().forge_ta_failure = None;
    let status = client::status(&mut d).unwrap();
    assert_eq!(
        status.service.awaiting_envelope.map(|d| d.into_vec()),
        Some(sha256(&v2))
    );

    let other = install(&mut d, &v3, &c3).unwrap_err();
    assert_eq!(other.awaited_envelope(), Some(sha256(&v2)), "{other}");
    let words = client::install_hints(&mut d, other).to_string();
    let hex2 = hex::encode(sha256(&v2));
    for said in [
        format!("the TA awaits envelope SHA-256 {hex2}"),
        "suit-agent resume".to_string(),
        format!("suit-agent abandon {hex2}"),
    ] {
        assert!(words.contains(&said), "{said}: {words}");
    }

    let not_awaited = client::abandon(&mut d, &sha256(&v3)).unwrap_err();
    assert!(
        matches!(
            not_awaited.service_fault(),
            Some(suit_common::fault::ServiceFault::NotAwaited)
        ),
        "{not_awaited}"
    );
    client::abandon(&mut d, &sha256(&v2)).unwrap();
    let status = client::status(&mut d).unwrap();
    assert_eq!(status.service.awaiting_envelope, None);
    assert_eq!(
        status.service.unconfirmed_tas.len(),
        1,
        "{:?}",
        status.service.unconfirmed_tas
    );
    install(&mut d, &v2, &c2).unwrap();
    assert_eq!(ta_version(&mut d), Some(2));
}

/// The firmware server path of the test identity's envelope.
fn envelope_path() -> String {
    format!(
        "/fw/{}/{}/envelope.suit",
        hex::encode(VENDOR_ID),
        hex::encode(CLASS_ID)
    )
}

/// `poll --poll-state DIR/poll.json --report-url BASE/status/reports`.
fn options(dir: &Path, base: &str) -> PollOptions {
    let fw = format!("{base}/fw");
    PollOptions {
        allowed: UrlPolicy::new(&[base], &[]).unwrap(),
        base: fw,
        report_url: Some(format!("{base}/status/reports")),
        nonce_url: None,
        state_file: dir.join("poll.json"),
        ree_root: None,
    }
}

fn net() -> Net {
    Net::new(NetConfig {
        retries: 0,
        ..NetConfig::default()
    })
    .unwrap()
}

/// A round whose commit the TA left awaiting the envelope (OP-TEE's TA store failing at
/// every attempt) keeps its in-flight mark with a copy of the envelope; the next round hands
/// that envelope over again before anything else (the server serving another one by then),
/// and the update is installed and recorded as decided.
#[test]
fn poll_hands_its_envelope_in_flight_over_again() {
    let server = Server::default();
    let base = server.start_http();
    let uri = format!("{base}/p/ta.enc");
    let (mut d, (v2, c2)) = scenario(&uri);
    let (v3, _) = release(&mut d.0, 3, &uri);
    server.route(&envelope_path(), serve_envelope(v2.clone(), "\"v2\""));
    server.route("/p/ta.enc", serve(c2.clone(), "\"c2\""));
    server.route("/status/reports", Behaviour::Collect);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), &base);

    d.0.backend_mut().forge_ta_failure = Some(TEE_ERROR_BUSY);
    let e = poll_once(&mut d, &net(), &opts, &mut |_| {}).unwrap_err();
    assert!(e.awaiting_commit().is_some(), "{e}");
    d.0.backend_mut().forge_ta_failure = None;
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("poll.json")).unwrap()).unwrap();
    let hex2 = hex::encode(sha256(&v2));
    assert_eq!(
        state["in-flight"]["envelope-sha256"],
        hex2.as_str(),
        "{state}"
    );
    let copy = in_flight_copy(&opts.state_file);
    assert_eq!(std::fs::read(&copy).unwrap(), v2);

    // The server has moved on: the envelope in flight comes from the copy.
    server.route(&envelope_path(), serve_envelope(v3, "\"v3\""));
    let o = poll_once(&mut d, &net(), &opts, &mut |_| {}).unwrap();
    assert!(matches!(o.round, Round::Installed { .. }), "{:?}", o.round);
    assert!(o.afterwards.is_empty(), "{:?}", o.afterwards);
    assert_eq!(ta_version(&mut d), Some(2));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("poll.json")).unwrap()).unwrap();
    assert_eq!(state["envelope-sha256"], hex2.as_str(), "{state}");
    assert_eq!(state["etag"], "\"v2\"", "{state}");
    assert!(state.get("in-flight").is_none(), "{state}");
    assert!(!copy.exists(), "the copy outlived its mark");
    assert!(!server.requests_to("/status/reports").is_empty());
}

/// A TA awaiting an envelope poll has no copy of (no in-flight mark: another agent's
/// install) refuses every round alike: `poll` says so and what to do, instead of failing
/// each round with the TA's refusal of its first command.
#[test]
fn poll_without_the_awaited_envelope_says_what_to_do() {
    let server = Server::default();
    let base = server.start_http();
    let uri = format!("{base}/p/ta.enc");
    let (mut d, (v2, c2)) = scenario(&uri);
    d.0.backend_mut().forge_ta_failure = Some(TEE_ERROR_BUSY);
    assert!(install(&mut d, &v2, &c2)
        .unwrap_err()
        .awaiting_commit()
        .is_some());
    d.0.backend_mut().forge_ta_failure = None;
    let dir = tempfile::tempdir().unwrap();
    let e = poll_once(&mut d, &net(), &options(dir.path(), &base), &mut |_| {}).unwrap_err();
    let hex2 = hex::encode(sha256(&v2));
    assert!(matches!(e, AgentError::AwaitedEnvelopeUnknown(_)), "{e:?}");
    let words = e.to_string();
    assert!(
        words.contains(&format!("awaits envelope SHA-256 {hex2}"))
            && words.contains(&format!("suit-agent abandon {hex2}")),
        "{words}"
    );
}

/// A state write the TA reports failed though it landed (`StateWriteUncertain`) can leave the
/// journal naming the envelope: the refusal is not one that leaves the commit pending, so
/// only status ([`client::still_awaits`]) tells the agent to keep its install record (review
/// s39: `install` removed it on the refusal alone).
#[test]
fn an_uncertain_state_write_can_leave_the_envelope_awaited() {
    use suit_common::fault::Fault;
    use suit_common::service::install::{CommitRefusal, InstallError};
    let (d, (v2, c2)) = scenario("https://vendor.example/ta.enc");
    let mut seen = 0;
    for n in 0..40 {
        let mut r = restarted(&d, |b| {
            b.store_mut().forge_failure_at = Some(n);
            b.store_mut().fail_once_at = Some(n + 1);
        });
        let (result, _) = install_resending(&mut r, &v2, &c2);
        let Err(e) = result else { continue };
        let uncertain = match &e {
            AgentError::Refused { fault, .. } => matches!(
                Fault::decode(fault),
                Some(Fault::Install(InstallError::Commit(
                    CommitRefusal::StateWriteUncertain
                )))
            ),
            _ => false,
        };
        if !uncertain {
            continue;
        }
        assert!(!e.leaves_commit_pending(), "{e}");
        let awaited = client::status(&mut r).unwrap().service.awaiting_envelope;
        let still = client::still_awaits(&mut r, &sha256(&v2));
        assert_eq!(
            still,
            Some(awaited.is_some_and(|a| a.into_vec() == sha256(&v2))),
            "n={n}: {e}"
        );
        seen += usize::from(still == Some(true));
    }
    assert!(
        seen > 0,
        "no uncertain state write left the envelope awaited"
    );
}

/// While the TA awaits v2, a re-send whose payload is left out (a 404 on the CDN, say) is
/// refused at InstallFinish, and the TA still awaits v2: [`client::still_awaits`] says so,
/// as `install`/`resume` ask before removing their record (review s39).
#[test]
fn a_refused_resend_leaves_the_envelope_awaited() {
    let (mut d, (v2, c2)) = scenario("https://vendor.example/ta.enc");
    d.0.backend_mut().forge_ta_failure = Some(TEE_ERROR_BUSY);
    let (result, _) = install_resending(&mut d, &v2, &c2);
    assert!(result.unwrap_err().awaiting_commit().is_some());
    d.0.backend_mut().forge_ta_failure = None;
    let mut authenticated = false;
    let mut listed = Vec::new();
    let e = client::install_core(
        &mut d,
        &v2,
        &mut |_, _, _| Ok(false),
        &mut |_| {},
        &mut authenticated,
        &mut listed,
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert!(
        matches!(e, AgentError::Refused { .. }) && !e.leaves_commit_pending(),
        "{e}"
    );
    assert_eq!(client::still_awaits(&mut d, &sha256(&v2)), Some(true));
    assert_eq!(client::still_awaits(&mut d, &[0; 32]), Some(false));
}

/// poll: the TA awaits the envelope in flight, and the re-sending round meets a 404 for the
/// payload (a CDN hiccup): the TA refuses the commit for the payload not delivered and still
/// awaits the envelope, so the mark and the copy stay, and once the payload is back the next
/// round finishes the commit (review s39: both were dropped, and the next round stopped
/// with `AwaitedEnvelopeUnknown`).
#[test]
fn poll_keeps_its_copy_when_a_resend_is_refused() {
    let server = Server::default();
    let base = server.start_http();
    let uri = format!("{base}/p/ta.enc");
    let (mut d, (v2, c2)) = scenario(&uri);
    let (v3, _) = release(&mut d.0, 3, &uri);
    server.route(&envelope_path(), serve_envelope(v2.clone(), "\"v2\""));
    server.route("/p/ta.enc", serve(c2.clone(), "\"c2\""));
    server.route("/status/reports", Behaviour::Collect);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), &base);
    d.0.backend_mut().forge_ta_failure = Some(TEE_ERROR_BUSY);
    let e = poll_once(&mut d, &net(), &opts, &mut |_| {}).unwrap_err();
    assert!(e.awaiting_commit().is_some(), "{e}");
    d.0.backend_mut().forge_ta_failure = None;
    let copy = in_flight_copy(&opts.state_file);
    assert!(copy.exists());

    server.route("/p/ta.enc", Behaviour::Status("404 Not Found".into()));
    let o = poll_once(&mut d, &net(), &opts, &mut |_| {}).unwrap();
    assert!(matches!(o.round, Round::Refused(_)), "{:?}", o.round);
    let hex2 = hex::encode(sha256(&v2));
    let awaited = client::status(&mut d).unwrap().service.awaiting_envelope;
    assert_eq!(awaited.map(hex::encode), Some(hex2.clone()));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("poll.json")).unwrap()).unwrap();
    assert_eq!(
        state["in-flight"]["envelope-sha256"],
        hex2.as_str(),
        "{state}"
    );
    assert_eq!(std::fs::read(&copy).unwrap(), v2, "the copy is gone");

    // The payload back (and the server on to v3): the copy finishes the commit.
    server.route("/p/ta.enc", serve(c2.clone(), "\"c2\""));
    server.route(&envelope_path(), serve_envelope(v3, "\"v3\""));
    let o = poll_once(&mut d, &net(), &opts, &mut |_| {}).unwrap();
    assert!(matches!(o.round, Round::Installed { .. }), "{:?}", o.round);
    assert_eq!(ta_version(&mut d), Some(2));
    assert!(!copy.exists(), "the copy outlived its mark");
}

/// poll's copy of the envelope in flight is lost (or it never had one) while the TA awaits
/// it: the server's current envelope, with exactly that SHA-256, finishes the commit; one
/// with another digest does not, and the round says what to do.
#[test]
fn poll_without_its_copy_uses_the_servers_envelope_of_that_digest() {
    let server = Server::default();
    let base = server.start_http();
    let uri = format!("{base}/p/ta.enc");
    let (mut d, (v2, c2)) = scenario(&uri);
    let (v3, _) = release(&mut d.0, 3, &uri);
    server.route(&envelope_path(), serve_envelope(v2.clone(), "\"v2\""));
    server.route("/p/ta.enc", serve(c2.clone(), "\"c2\""));
    server.route("/status/reports", Behaviour::Collect);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), &base);
    d.0.backend_mut().forge_ta_failure = Some(TEE_ERROR_BUSY);
    let e = poll_once(&mut d, &net(), &opts, &mut |_| {}).unwrap_err();
    assert!(e.awaiting_commit().is_some(), "{e}");
    d.0.backend_mut().forge_ta_failure = None;
    let copy = in_flight_copy(&opts.state_file);
    std::fs::remove_file(&copy).unwrap();

    // Another envelope on the server: nothing to hand over.
    server.route(&envelope_path(), serve_envelope(v3, "\"v3\""));
    let e = poll_once(&mut d, &net(), &opts, &mut |_| {}).unwrap_err();
    let hex2 = hex::encode(sha256(&v2));
    assert!(matches!(e, AgentError::AwaitedEnvelopeUnknown(_)), "{e:?}");
    assert!(
        e.to_string().contains("serves another") && e.to_string().contains(&hex2),
        "{e}"
    );

    server.route(&envelope_path(), serve_envelope(v2.clone(), "\"v2\""));
    let o = poll_once(&mut d, &net(), &opts, &mut |_| {}).unwrap();
    assert!(matches!(o.round, Round::Installed { .. }), "{:?}", o.round);
    assert_eq!(ta_version(&mut d), Some(2));
    assert_eq!(
        client::status(&mut d).unwrap().service.awaiting_envelope,
        None
    );
}
