//! Detached payloads decrypted and hashed as they arrive (issue 14 item 2), on the in-memory
//! backend with the device's own anchor keys: a manifest in the firmware-encryption draft's
//! static form (fetch into a buffer, decrypting copy into the target) installs exactly as the
//! ordinary path (payload stored as received, decrypted at finish) does, writing each payload
//! byte once (secure components and TAs alike); a corrupted or mis-sized payload is
//! refused in the ordinary path's words with the same report, leaving nothing behind; other
//! manifest forms take the ordinary path; and a power cut anywhere recovers.

use ciborium::Value;

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::fault::{Fault, ServiceFault};
use suit_common::protocol::*;
use suit_common::service::install::{CommitRefusal, InstallError, Journal};
use suit_common::service::segments::SEGMENT_MARK;
use suit_common::service::{Service, REPORT_OBJECT};
use suit_common::suit::author::{seal_envelope, Signer};
use suit_common::suit::interpreter;
use suit_test_support::service::*;
use suit_test_support::{
    check_vendor_class, digest_shared, fetch_and_decrypt, image_shared, p256_private_from_pem,
    suit_manifest, CLASS_ID, VENDOR_ID,
};

pub(crate) const URI: &str = "https://vendor.example/payload.bin";
pub(crate) const SECURE: [&[u8]; 2] = [b"app", b"blob"];
/// Reporting policy on every command: records and system information, success and failure.
const POLICY: i64 = 15;

pub(crate) use suit_test_support::service::{encrypt, Cipher};

/// How the install section is laid out.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Form {
    /// The draft's static form: fetch into the buffer, decrypting copy, image-match.
    Static,
    /// The same commands inside a run-sequence: equivalent, but beyond the static analysis.
    RunSequence,
    /// The same commands as the one option of a try-each: an alternative, so no plan.
    TryEach,
}

/// A signed envelope installing `plaintext` into `target` in the draft's form: component 0
/// is the target (image digest and size of the plaintext), component 1 the ciphertext buffer
/// `target ++ ['encrypted']`.
pub(crate) fn envelope(
    seq: u64,
    target: &[&[u8]],
    plaintext: &[u8],
    info: &[u8],
    form: Form,
) -> Vec<u8> {
    envelope_with(seq, target, image_shared(plaintext, POLICY), info, form)
}

/// [`envelope`] with the given shared sequence (the image's digest and size).
fn envelope_with(seq: u64, target: &[&[u8]], shared: Value, info: &[u8], form: Form) -> Vec<u8> {
    let commands = [
        fetch_and_decrypt(URI, info, POLICY),
        vec![int(3), int(POLICY)],
    ]
    .concat();
    let install = match form {
        Form::Static => Value::Array(commands),
        Form::RunSequence => Value::Array(vec![
            int(12),
            int(0),
            int(32),
            bytes(&cbor(&Value::Array(commands))),
        ]),
        Form::TryEach => Value::Array(vec![
            int(12),
            int(0),
            int(15),
            Value::Array(vec![bytes(&cbor(&Value::Array(commands)))]),
        ]),
    };
    let component = Value::Array(target.iter().map(|c| bytes(c)).collect());
    let mut buffer: Vec<Value> = target.iter().map(|c| bytes(c)).collect();
    buffer.push(bytes(b"encrypted"));
    let manifest = suit_manifest(
        seq as i64,
        vec![component, Value::Array(buffer)],
        &shared,
        &install,
    );
    signed(&manifest)
}

/// `manifest` in an envelope signed by the test author (ES256).
fn signed(manifest: &[u8]) -> Vec<u8> {
    let key: SigningKey = p256_private_from_pem(suit_test_support::AUTHOR_PRIV);
    let signers = [Signer {
        key: &key,
        alg: Algorithm::Esp256,
        kid: b"",
    }];
    seal_envelope(manifest, &signers, &[], &[]).unwrap()
}

/// What an install left that both paths must agree on.
#[derive(Debug, PartialEq)]
struct Outcome {
    answer: Result<InstallFinishResponse, (Status, Refused)>,
    /// The state's component records, object names aside, with their content.
    components: Components,
    installed_tas: Vec<Vec<u8>>,
    report: Option<Vec<u8>>,
}

struct Run {
    outcome: Outcome,
    /// Bytes written to secure storage by the install.
    written: u64,
    /// Bytes read from secure storage by the install.
    read: u64,
    /// Every stored object after the install (the report aside) and the TA store.
    after: Stored,
}

/// The state's component records (object names aside) with their stored content.
type Components = Vec<(String, Vec<u8>, u64, Option<u32>, Vec<u8>)>;

fn components(s: &Service<Mem>) -> Components {
    state(s)
        .components
        .iter()
        .map(|c| {
            let content = if c.object.is_empty() {
                Vec::new()
            } else {
                // As the next session reads it (all its segments, if segmented).
                s.backend().logical(&c.object).unwrap().unwrap().to_vec()
            };
            (
                format!("{:?}", c.id),
                c.digest.to_vec(),
                c.size,
                c.ta_version,
                content,
            )
        })
        .collect()
}

fn outcome(s: &Service<Mem>, answer: Result<InstallFinishResponse, (Status, Refused)>) -> Outcome {
    let store = s.backend().store();
    Outcome {
        answer,
        components: components(s),
        installed_tas: s.backend().installed_tas.clone(),
        report: store.raw(REPORT_OBJECT),
    }
}

/// Every stored object (the report aside) and the TA store.
type Stored = (Vec<(String, Vec<u8>)>, Vec<Vec<u8>>);

fn stored(s: &Service<Mem>) -> Stored {
    let store = s.backend().store();
    let objects = store
        .names()
        .into_iter()
        .filter(|n| n != REPORT_OBJECT && !is_idle(store, n))
        .map(|n| (n.clone(), store.raw(&n).unwrap().to_vec()))
        .collect();
    (objects, s.backend().installed_tas.clone())
}

/// Installs on `s` (prepared: provisioned, maybe release 1 installed) with the payload sent
/// as the agent does, after `prepare`; `streaming` false takes the ordinary path.
fn run(s: &mut Service<Mem>, envelope: &[u8], payload: &[u8], streaming: bool) -> Run {
    s.store_payloads_as_received(!streaming);
    let before = s.backend().store().bytes_written;
    let read_before = s.backend().store().bytes_read.get();
    let answer = install_with(s, envelope, &[(URI, payload)]);
    let written = s.backend().store().bytes_written - before;
    let read = s.backend().store().bytes_read.get() - read_before;
    Run {
        outcome: outcome(s, answer),
        written,
        read,
        after: stored(s),
    }
}

/// Two devices with the same keys (same seed), one per path.
fn two_devices() -> (Service<Mem>, Service<Mem>) {
    (device(), device())
}

/// A TA image of about `len` bytes (a signed-TA header and a body).
pub(crate) fn ta(version: u32, len: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..len as u32).map(|i| (i * 7 + version) as u8).collect();
    ta_image_with_body(TA, version, &body)
}

pub(crate) fn blob(len: usize) -> Vec<u8> {
    (0..len as u32).map(|i| (i % 251) as u8 ^ 0x5a).collect()
}

/// Installs `data` into `target` on two fresh devices (same keys) for each cipher, streamed
/// and ordinary: the streamed install succeeds, ends as the ordinary one does and writes the
/// payload once (plus records; `stored` false: not at all, a TA image goes from TA memory to
/// OP-TEE's store), where the ordinary path stores the ciphertext and then the plaintext;
/// `check` adds what a `what` must show.
fn streamed_once(
    target: &[&[u8]],
    data: &[u8],
    stored: bool,
    what: &str,
    check: impl Fn(&Run, &Run),
) {
    for cipher in [Cipher::Gcm, Cipher::Ctr] {
        let (mut a, mut b) = two_devices();
        let (info, ciphertext) = encrypt(&mut a, cipher, data);
        let env = envelope(1, target, data, &info, Form::Static);
        let streamed = run(&mut a, &env, &ciphertext, true);
        let ordinary = run(&mut b, &env, &ciphertext, false);
        assert!(
            streamed.outcome.answer.is_ok(),
            "{what}: {:?}",
            streamed.outcome.answer
        );
        assert_eq!(streamed.outcome, ordinary.outcome, "{what}");
        let n = data.len() as u64;
        let payload = if stored { n } else { 0 };
        assert!(
            streamed.written >= payload && streamed.written < payload + 32 * 1024,
            "streamed {what}: wrote {} bytes for {n} bytes",
            streamed.written
        );
        assert!(
            ordinary.written > 2 * n,
            "ordinary {what}: {}",
            ordinary.written
        );
        check(&streamed, &ordinary);
    }
}

#[test]
fn a_streamed_ta_installs_as_the_ordinary_path_and_is_written_once() {
    let image = ta(2, 184_000);
    // The TA's plaintext is never written to secure storage, nor read back: OP-TEE gets the
    // copy the session kept in memory as it hashed it (a power cut inside OP-TEE's install
    // leaves the commit awaiting the same envelope, see the power-cut cases below).
    streamed_once(&[&TA], &image, false, "TA", |streamed, ordinary| {
        assert_eq!(streamed.outcome.installed_tas.last(), Some(&image));
        assert_eq!(streamed.after, ordinary.after);
        let n = image.len() as u64;
        assert!(
            streamed.read < 16 * 1024,
            "streamed TA: read {}",
            streamed.read
        );
        assert!(ordinary.read >= n, "ordinary TA: read {}", ordinary.read);
    });
}

#[test]
fn a_streamed_secure_component_is_written_once() {
    let data = blob(1024 * 1024);
    streamed_once(&SECURE, &data, true, "secure component", |streamed, _| {
        assert!(streamed.outcome.components.iter().any(|c| c.4 == data));
    });
}

/// A corrupted ciphertext byte: the GCM tag fails, or (CTR) the image digest does not match.
/// Both paths refuse in the same words with the same report, and storage, the state and the
/// TA store are as before the install.
#[test]
fn a_corrupted_payload_is_refused_as_by_the_ordinary_path_and_leaves_nothing() {
    for target in [&[&TA[..]][..], &SECURE[..]] {
        for cipher in [Cipher::Gcm, Cipher::Ctr] {
            let plaintext = if target.len() == 1 {
                ta(2, 100_000)
            } else {
                blob(300_000)
            };
            let (mut a, mut b) = two_devices();
            let (info, mut ciphertext) = encrypt(&mut a, cipher, &plaintext);
            let mid = ciphertext.len() / 2;
            ciphertext[mid] ^= 0x01;
            let env = envelope(1, target, &plaintext, &info, Form::Static);
            let before = stored(&a);
            let streamed = run(&mut a, &env, &ciphertext, true);
            let ordinary = run(&mut b, &env, &ciphertext, false);
            let refusal = refusal(streamed.outcome.answer.clone());
            match cipher {
                Cipher::Gcm => assert!(
                    refusal.reason.contains("authentication tag mismatch"),
                    "{}",
                    refusal.reason
                ),
                Cipher::Ctr => assert!(
                    refusal.reason.contains("image-match") || refusal.reason.contains("digest"),
                    "{}",
                    refusal.reason
                ),
            }
            assert_eq!(streamed.outcome, ordinary.outcome);
            assert_eq!(streamed.after, before, "storage changed");
            assert_eq!(ordinary.after, before);
        }
    }
}

/// Ciphertext shorter or longer than announced, or a whole ciphertext whose plaintext is not
/// the manifest's image size: refused, nothing left, as on the ordinary path.
#[test]
fn payload_lengths_other_than_announced_or_authenticated_are_refused() {
    let data = blob(200_000);
    for streaming in [true, false] {
        let mut s = device();
        let (info, ciphertext) = encrypt(&mut s, Cipher::Gcm, &data);
        let env = envelope(1, &SECURE, &data, &info, Form::Static);
        s.store_payloads_as_received(!streaming);
        let before = stored(&s);
        let n = ciphertext.len() as u64;
        // Longer than announced: the chunk is refused at once.
        prepare(&mut s, &env).unwrap();
        let r = refusal(send_payload(&mut s, URI, n - 1, &ciphertext));
        assert!(r.reason.contains("announced length"), "{}", r.reason);
        // Shorter than announced: finish refuses the incomplete payload.
        prepare(&mut s, &env).unwrap();
        send_payload(&mut s, URI, n + 10, &ciphertext).unwrap();
        let r = refusal(finish(&mut s));
        assert!(r.reason.contains("payload incomplete"), "{}", r.reason);
        begin(&mut s, 1).unwrap();
        assert_eq!(stored(&s), before, "streaming {streaming}: storage changed");
    }
    // A ciphertext cut short but sent as complete: both paths refuse alike.
    let (mut a, mut b) = two_devices();
    let (info, ciphertext) = encrypt(&mut a, Cipher::Ctr, &data);
    let env = envelope(1, &SECURE, &data, &info, Form::Static);
    let short = &ciphertext[..ciphertext.len() - 100];
    let streamed = run(&mut a, &env, short, true);
    let ordinary = run(&mut b, &env, short, false);
    let r = refusal(streamed.outcome.answer.clone());
    assert!(r.reason.contains("image-size"), "{}", r.reason);
    assert_eq!(streamed.outcome, ordinary.outcome);
    // And one longer than the image (CTR: the plaintext is too), refused on the way.
    let (mut a, mut b) = two_devices();
    let (info, mut long) = encrypt(&mut a, Cipher::Ctr, &data);
    long.extend_from_slice(&[0x33; 100]);
    let env = envelope(1, &SECURE, &data, &info, Form::Static);
    let streamed = run(&mut a, &env, &long, true);
    let ordinary = run(&mut b, &env, &long, false);
    let r = refusal(streamed.outcome.answer.clone());
    assert!(r.reason.contains("image-size"), "{}", r.reason);
    assert_eq!(streamed.outcome, ordinary.outcome);
}

/// The same install inside a run-sequence or a try-each is beyond the static analysis: the
/// payload is stored as received and decrypted at finish (ciphertext and plaintext both
/// written), with the same result as with streaming switched off.
#[test]
fn a_manifest_not_in_the_static_form_takes_the_ordinary_path() {
    for form in [Form::RunSequence, Form::TryEach] {
        let data = blob(300_000);
        let (mut a, mut b) = two_devices();
        let (info, ciphertext) = encrypt(&mut a, Cipher::Gcm, &data);
        let env = envelope(1, &SECURE, &data, &info, form);
        let r = run(&mut a, &env, &ciphertext, true);
        let ordinary = run(&mut b, &env, &ciphertext, false);
        assert!(r.outcome.answer.is_ok(), "{:?}", r.outcome.answer);
        assert!(r.outcome.components.iter().any(|c| c.4 == data));
        let n = data.len() as u64;
        assert!(r.written > 2 * n, "wrote {}", r.written);
        assert_eq!(r.outcome, ordinary.outcome);
        assert_eq!(r.written, ordinary.written);
    }
}

use crate::power_cut::{assert_no_orphans, restart};

/// A power cut at every storage write of a streamed install (release 1 to release 2 of a
/// secure component and of a TA): after the restart the device is in the old or the new
/// state, nothing orphaned, and it takes the update (again) or refuses it as a rollback; or,
/// for the TA (whose image was in TA memory only), its commit awaits the same envelope:
/// status names it, every other command is refused and changes nothing, and sending that
/// envelope again ends in the new state, OP-TEE holding the new TA.
#[test]
fn a_power_cut_at_any_write_of_a_streamed_install_recovers() {
    for target in [&SECURE[..], &[&TA[..]][..]] {
        let is_ta = target.len() == 1;
        let sc = streamed_scenario(target);
        let (p1, p2, env2, c2) = (&sc.p1, &sc.p2, &sc.env2, &sc.c2);
        let (old, new) = (&sc.old, &sc.new);
        let (mut olds, mut news, mut awaiting) = (0, 0, 0);
        for n in 0.. {
            let mut s = restart(&sc.base, &sc.base_tas);
            s.backend_mut().store_mut().power_cut_after = Some(n);
            let result = install_with(&mut s, env2, &[(URI, c2)]);
            if !s.backend().store().powered_off {
                result.unwrap();
                break;
            }
            let when = format!("{target:?}: power cut at write {n}");
            let mut s = restart(s.backend().store(), &s.backend().installed_tas);
            let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
            let now = components(&s);
            let ta_now = s.backend().installed_tas.last().cloned();
            if let Some(awaited) = status.service.awaiting_envelope {
                assert!(is_ta, "{when}: only a TA commit awaits its envelope");
                assert_eq!(awaited.as_slice(), sha256(env2), "{when}");
                // OP-TEE may hold either image; the state is the old one until the re-send.
                assert_eq!(now, *old, "{when}");
                assert!(ta_now.as_ref() == Some(p1) || ta_now.as_ref() == Some(p2));
                assert_refused_while_awaiting(&mut s, &awaited, &sc.env1, &when);
                install_with(&mut s, env2, &[(URI, c2)])
                    .unwrap_or_else(|e| panic!("{when}: the re-sent envelope: {e:?}"));
                assert_eq!(components(&s), *new, "{when}: after the re-send");
                assert_eq!(s.backend().installed_tas.last(), Some(p2), "{when}");
                awaiting += 1;
                assert_no_orphans(&mut s, &when);
                continue;
            }
            let is_new = if now == *old {
                false
            } else if now == *new {
                true
            } else {
                panic!("{when}: mixed state {now:?}")
            };
            if is_ta {
                // Never the new state without the new TA, nor the old one without the old TA.
                let want = if is_new { p2 } else { p1 };
                assert_eq!(ta_now.as_ref(), Some(want), "{when}");
            }
            if is_new {
                news += 1;
            } else {
                olds += 1;
            }
            assert_no_orphans(&mut s, &when);
            if is_new {
                assert!(
                    refusal(install_with(&mut s, env2, &[(URI, c2)]))
                        .reason
                        .contains("Rollback"),
                    "{when}"
                );
            } else {
                install_with(&mut s, env2, &[(URI, c2)])
                    .unwrap_or_else(|e| panic!("{when}: {e:?}"));
                assert_eq!(components(&s), *new, "{when}: the retried install");
            }
        }
        eprintln!("{target:?}: cuts {olds} old, {news} new, {awaiting} awaiting the envelope");
        assert!(olds >= 1, "{target:?}: cuts {olds} old, {news} new");
        if is_ta {
            // Cut inside OP-TEE's install and after it, before the state write.
            assert!(
                awaiting >= 2,
                "{target:?}: {awaiting} cuts awaiting the envelope"
            );
        } else {
            assert!(
                news >= 1 && awaiting == 0,
                "{target:?}: {news} new, {awaiting}"
            );
        }
    }
}

/// Release 1 installed from a streamed payload into `target`, and release 2's envelope,
/// ciphertext and the state it leads to.
pub(crate) struct StreamedScenario {
    base: suit_common::service::store::MemoryStore,
    base_tas: Vec<Vec<u8>>,
    p1: Vec<u8>,
    p2: Vec<u8>,
    env1: Vec<u8>,
    c1: Vec<u8>,
    pub(crate) env2: Vec<u8>,
    pub(crate) c2: Vec<u8>,
    old: Components,
    new: Components,
}

pub(crate) fn streamed_scenario(target: &[&[u8]]) -> StreamedScenario {
    let is_ta = target.len() == 1;
    // Segmented: payloads spanning several segments, the secure one filling its last exactly.
    let (p1, p2) = match (is_ta, segment_len().map(|seg| seg as usize)) {
        (true, None) => (ta(1, 60_000), ta(2, 70_000)),
        (false, None) => (blob(150_000), blob(170_000)),
        (true, Some(seg)) => (ta(1, seg + 60_000), ta(2, seg + 70_000)),
        (false, Some(seg)) => (blob(seg + 150_000), blob(2 * seg)),
    };
    let mut s = device();
    let (info1, c1) = encrypt(&mut s, Cipher::Gcm, &p1);
    let (info2, c2) = encrypt(&mut s, Cipher::Gcm, &p2);
    let env1 = envelope(1, target, &p1, &info1, Form::Static);
    let env2 = envelope(2, target, &p2, &info2, Form::Static);
    install_with(&mut s, &env1, &[(URI, &c1)]).unwrap();
    let old = components(&s);
    let (base, base_tas) = (
        s.backend().store().clone(),
        s.backend().installed_tas.clone(),
    );
    install_with(&mut s, &env2, &[(URI, &c2)]).unwrap();
    let new = components(&s);
    assert_ne!(old, new);
    StreamedScenario {
        base,
        base_tas,
        p1,
        p2,
        env1,
        c1,
        env2,
        c2,
        old,
        new,
    }
}

fn sha256(b: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(b).to_vec()
}

/// Whether `r` is the refusal of a device awaiting envelope `awaited`.
fn is_awaiting(r: &Refused, awaited: &[u8]) -> bool {
    r.kind == RefusalKind::Storage
        && matches!(
            &r.fault,
            Some(Fault::Service(ServiceFault::AwaitingEnvelope(d))) if d.as_slice() == awaited
        )
}

/// While a commit awaits `awaited`: every command but status, report, that envelope's
/// install and the abandon is refused, saying which envelope; another envelope is refused
/// at prepare; an abandon naming another envelope is refused; the state, the journal's
/// pending commit and OP-TEE's store stay as they were.
fn assert_refused_while_awaiting(s: &mut Service<Mem>, awaited: &[u8], other: &[u8], when: &str) {
    let before = (
        state(s),
        Journal::load(s.backend().store()).unwrap(),
        s.backend().installed_tas.clone(),
    );
    let anchors = call::<_, AnchorsResponse>(s, Command::Anchors, &Empty {});
    assert!(is_awaiting(&refusal(anchors), awaited), "{when}: anchors");
    let key = call::<_, DeviceKeyResponse>(s, Command::DeviceKey, &DeviceKeyRequest::default());
    assert!(is_awaiting(&refusal(key), awaited), "{when}: device key");
    let export = call::<_, ReeExportResponse>(
        s,
        Command::ReeExport,
        &ReeExportRequest {
            path: "x".into(),
            offset: 0,
        },
    );
    assert!(is_awaiting(&refusal(export), awaited), "{when}: export");
    // Another envelope (a newer one would be refused alike): refused once it is whole.
    let other = suit_test_support::service::prepare(s, other);
    assert!(
        is_awaiting(&refusal(other), awaited),
        "{when}: another envelope"
    );
    // Its payload and finish need a prepared install.
    let finish = call::<_, InstallFinishResponse>(s, Command::InstallFinish, &Empty {});
    assert!(is_awaiting(&refusal(finish), awaited), "{when}: finish");
    let mut wrong = awaited.to_vec();
    wrong[0] ^= 1;
    let abandon = call::<_, Empty>(
        s,
        Command::InstallAbandon,
        &InstallAbandonRequest {
            envelope: wrong.into(),
        },
    );
    let abandon = refusal(abandon);
    assert!(
        matches!(
            abandon.fault,
            Some(Fault::Service(ServiceFault::NotAwaited))
        ),
        "{when}: {abandon:?}"
    );
    let after = (
        state(s),
        Journal::load(s.backend().store()).unwrap(),
        s.backend().installed_tas.clone(),
    );
    assert_eq!(before.0, after.0, "{when}: the state changed");
    assert_eq!(
        before.1.and_then(|j| j.pending),
        after.1.and_then(|j| j.pending),
        "{when}: the pending commit changed"
    );
    assert_eq!(before.2, after.2, "{when}: OP-TEE's store changed");
}

/// The first cut of `sc`'s streamed TA install that leaves its commit awaiting the envelope:
/// the device restarted after it.
pub(crate) fn awaiting_device(sc: &StreamedScenario) -> Service<Mem> {
    for n in 0.. {
        let mut s = restart(&sc.base, &sc.base_tas);
        s.backend_mut().store_mut().power_cut_after = Some(n);
        let _ = install_with(&mut s, &sc.env2, &[(URI, &sc.c2)]);
        assert!(
            s.backend().store().powered_off,
            "no cut left the commit awaiting"
        );
        let mut s = restart(s.backend().store(), &s.backend().installed_tas);
        let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        if status.service.awaiting_envelope.is_some() {
            return s;
        }
    }
    unreachable!()
}

/// An envelope that cannot be sent again: the abandon ends its commit unapplied (the old
/// state, the TA marked unconfirmed, its personalization withheld), nothing is orphaned, and
/// the same update installs afterwards (clearing the mark); a second abandon finds nothing.
#[test]
fn an_abandoned_commit_leaves_the_old_state_with_its_ta_unconfirmed() {
    let sc = streamed_scenario(&[&TA]);
    let mut s = awaiting_device(&sc);
    let digest = sha256(&sc.env2);
    let abandon = |s: &mut Service<Mem>| {
        call::<_, Empty>(
            s,
            Command::InstallAbandon,
            &InstallAbandonRequest {
                envelope: digest.clone().into(),
            },
        )
    };
    abandon(&mut s).unwrap();
    let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    assert_eq!(status.service.awaiting_envelope, None);
    assert!(status.service.state_error.is_none(), "{status:?}");
    assert_eq!(
        status.service.unconfirmed_tas,
        vec![suit_common::protocol::TaUuid(TA)]
    );
    assert_eq!(components(&s), sc.old);
    assert!(matches!(
        refusal(abandon(&mut s)).fault,
        Some(Fault::Service(ServiceFault::NotAwaited))
    ));
    assert_no_orphans(&mut s, "after the abandon");
    install_with(&mut s, &sc.env2, &[(URI, &sc.c2)]).unwrap();
    assert_eq!(components(&s), sc.new);
    assert_eq!(s.backend().installed_tas.last(), Some(&sc.p2));
    assert!(state(&s).unconfirmed_tas.is_empty());
    // The older release stays refused (rollback), abandon or not.
    assert!(refusal(install_with(&mut s, &sc.env1, &[(URI, &sc.c1)]))
        .reason
        .contains("Rollback"));
}

/// OP-TEE failing the install of a streamed TA with a result that may pass (no space, busy):
/// the answer says the update awaits this envelope; status names it; sending it again once
/// OP-TEE takes it ends in the new state.
#[test]
fn a_streamed_ta_install_op_tee_could_not_finish_awaits_its_envelope() {
    let sc = streamed_scenario(&[&TA]);
    let mut s = restart(&sc.base, &sc.base_tas);
    s.backend_mut().refuse_tas = Some(0xffff_3041); // TEE_ERROR_STORAGE_NO_SPACE
    let r = refusal(install_with(&mut s, &sc.env2, &[(URI, &sc.c2)]));
    assert!(
        matches!(
            r.fault,
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::AwaitingEnvelope {
                    code: 0xffff_3041,
                    ..
                }
            )))
        ),
        "{r:?}"
    );
    assert!(r.reason.contains("installed again"), "{}", r.reason);
    s.backend_mut().refuse_tas = None;
    let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    let awaited = status.service.awaiting_envelope.unwrap();
    assert_eq!(awaited.as_slice(), sha256(&sc.env2));
    assert_refused_while_awaiting(&mut s, &awaited, &sc.env1, "after OP-TEE's failure");
    install_with(&mut s, &sc.env2, &[(URI, &sc.c2)]).unwrap();
    assert_eq!(components(&s), sc.new);
    assert_eq!(s.backend().installed_tas.last(), Some(&sc.p2));
    assert_no_orphans(&mut s, "after the re-send");
}

/// The streaming analysis at prepare keeps only what a plan needs, never each command's
/// parameters: a ~34 KB signed manifest that writes to 16 components with an 8 KiB content
/// parameter, 60 times in each of four sections, made it hold tens of MiB (the TA heap is
/// 3 MiB).
#[test]
fn the_streaming_analysis_holds_little_whatever_the_manifest_repeats() {
    let mut s = device();
    let components: Vec<Value> = (0..16)
        .map(|i| Value::Array(vec![bytes(b"app"), bytes(format!("c{i}").as_bytes())]))
        .collect();
    let writes = |n: usize| -> Vec<Value> {
        let mut seq = vec![
            int(12),
            Value::Bool(true),
            int(20),
            suit_test_support::map(vec![(18, bytes(&[0x5a; 8 * 1024]))]),
        ];
        for _ in 0..n {
            seq.extend([int(18), int(POLICY)]);
        }
        seq
    };
    let shared = check_vendor_class(
        vec![int(12), Value::Bool(true)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        POLICY,
    );
    let common = suit_test_support::map(vec![
        (2, Value::Array(components)),
        (4, bytes(&cbor(&Value::Array(shared)))),
    ]);
    // The same writes in each update section the manifest may carry (the shared sequence
    // runs before each).
    let mut entries = vec![(1, int(1)), (2, int(1)), (3, bytes(&cbor(&common)))];
    for section in [15, 16, 18, 20] {
        entries.push((section, bytes(&cbor(&Value::Array(writes(60))))));
    }
    let manifest = cbor(&suit_test_support::map(entries));
    let envelope = signed(&manifest);
    assert!(envelope.len() < 64 * 1024, "{} bytes", envelope.len());
    send_envelope(&mut s, &envelope, MAX_CHUNK).unwrap();
    let mut request = suit_common::protocol::encode(&Empty {}).unwrap();
    let (reply, peak) = crate::attack_oracles::peak_heap(|| {
        s.invoke(
            Command::InstallPrepare as u32,
            PROTOCOL_VERSION,
            &mut request,
        )
    });
    assert_eq!(
        reply.status,
        Status::Ok,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(peak < 512 * 1024, "prepare held {peak} bytes at once");
}

/// An install the client abandons (its session closes before finish) leaves no staged
/// plaintext behind until the next install: closing deletes it.
#[test]
fn closing_the_session_deletes_what_an_unfinished_install_decrypted() {
    let mut s = device();
    let image = blob(64 * 1024);
    let (info, ciphertext) = encrypt(&mut s, Cipher::Gcm, &image);
    let env = envelope(1, &SECURE, &image, &info, Form::Static);
    let prepared = prepare(&mut s, &env).unwrap();
    assert_eq!(prepared.needed_uris, vec![URI.to_string()]);
    let _: Empty = call(
        &mut s,
        Command::InstallPayload,
        &PayloadChunkRequest {
            uri: URI.into(),
            total_len: ciphertext.len() as u64,
            offset: 0,
            data: ByteBuf::from(ciphertext[..32 * 1024].to_vec()),
        },
    )
    .unwrap();
    let staged = |s: &Service<Mem>| {
        s.backend()
            .store()
            .names()
            .into_iter()
            // Logical objects: a segment past the first names its object's too.
            .filter(|n| n.starts_with("suit/in/") && !n.contains(SEGMENT_MARK))
            .count()
    };
    assert_eq!(staged(&s), 1, "half the payload is staged");
    s.close();
    assert_eq!(staged(&s), 0, "closing deleted it");
}

/// The largest image, 64 MiB, may arrive encrypted: its A128GCM ciphertext is 16 bytes longer,
/// and the payload limit makes room for exactly that tag (found by a 64 MiB bench install
/// that was refused when the limit counted the ciphertext as content).
#[test]
fn a_64_mib_image_may_arrive_with_its_aead_tag() {
    let image = 64u64 << 20;
    assert_eq!(interpreter::MAX_PAYLOAD_LEN, image + 16);
    for streaming in [true, false] {
        let mut s = device();
        let (info, ciphertext) = encrypt(&mut s, Cipher::Gcm, b"first bytes");
        // The digest is never reached: only the announced length is judged here.
        let shared = digest_shared(0, &[0x5a; 32], image as usize, POLICY);
        let env = envelope_with(1, &SECURE, shared, &info, Form::Static);
        s.store_payloads_as_received(!streaming);
        let before = stored(&s);
        prepare(&mut s, &env).unwrap();
        let r = refusal(send_payload(&mut s, URI, image + 17, &ciphertext[..4]));
        assert_eq!(r.kind, RefusalKind::TooLarge, "{}", r.reason);
        prepare(&mut s, &env).unwrap();
        send_payload(&mut s, URI, image + 16, &ciphertext[..4])
            .unwrap_or_else(|e| panic!("streaming {streaming}: {e:?}"));
        begin(&mut s, 1).unwrap();
        assert_eq!(stored(&s), before, "streaming {streaming}: storage changed");
    }
}

/// A restart (offset 0) whose first write fails leaves the object with whatever the earlier
/// attempt wrote (here the decrypted image): finish must refuse the payload as incomplete,
/// never read that object as the fetched bytes. Found by the session-7 review.
#[test]
fn a_restart_whose_first_write_fails_is_never_read_as_the_payload() {
    for streaming in [true, false] {
        let mut s = device();
        let image = blob(64 * 1024);
        let (info, ciphertext) = encrypt(&mut s, Cipher::Gcm, &image);
        let env = envelope(1, &SECURE, &image, &info, Form::Static);
        s.store_payloads_as_received(!streaming);
        let before = stored(&s);
        prepare(&mut s, &env).unwrap();
        send_payload(&mut s, URI, ciphertext.len() as u64, &ciphertext).unwrap();
        s.backend_mut().store_mut().fail_once_at = Some(0);
        send_payload(&mut s, URI, 0, &[]).unwrap_err();
        let read_before = s.backend().store().bytes_read.get();
        let r = refusal(finish(&mut s));
        assert!(
            r.reason.contains("payload incomplete"),
            "streaming {streaming}: {}",
            r.reason
        );
        assert_eq!(
            s.backend().store().bytes_read.get(),
            read_before,
            "streaming {streaming}: finish read the payload object"
        );
        assert_eq!(stored(&s), before, "streaming {streaming}: storage changed");
    }
}

/// The same tests through the TA's segment layer (`Segmented`) with short segments (see
/// `power_cut::segmented::SEG`).
mod segmented {
    use crate::power_cut::segmented::SEG;
    use suit_test_support::service::with_segments;

    #[test]
    fn a_streamed_ta_installs_as_the_ordinary_path_and_is_written_once() {
        with_segments(
            SEG,
            super::a_streamed_ta_installs_as_the_ordinary_path_and_is_written_once,
        );
    }

    #[test]
    fn a_streamed_secure_component_is_written_once() {
        with_segments(SEG, super::a_streamed_secure_component_is_written_once);
    }

    #[test]
    fn a_corrupted_payload_is_refused_as_by_the_ordinary_path_and_leaves_nothing() {
        with_segments(
            SEG,
            super::a_corrupted_payload_is_refused_as_by_the_ordinary_path_and_leaves_nothing,
        );
    }

    #[test]
    fn payload_lengths_other_than_announced_or_authenticated_are_refused() {
        with_segments(
            SEG,
            super::payload_lengths_other_than_announced_or_authenticated_are_refused,
        );
    }

    #[test]
    fn a_manifest_not_in_the_static_form_takes_the_ordinary_path() {
        with_segments(
            SEG,
            super::a_manifest_not_in_the_static_form_takes_the_ordinary_path,
        );
    }

    #[test]
    fn a_power_cut_at_any_write_of_a_streamed_install_recovers() {
        with_segments(
            SEG,
            super::a_power_cut_at_any_write_of_a_streamed_install_recovers,
        );
    }

    #[test]
    fn closing_the_session_deletes_what_an_unfinished_install_decrypted() {
        with_segments(
            SEG,
            super::closing_the_session_deletes_what_an_unfinished_install_decrypted,
        );
    }

    #[test]
    fn a_64_mib_image_may_arrive_with_its_aead_tag() {
        with_segments(SEG, super::a_64_mib_image_may_arrive_with_its_aead_tag);
    }

    #[test]
    fn a_restart_whose_first_write_fails_is_never_read_as_the_payload() {
        with_segments(
            SEG,
            super::a_restart_whose_first_write_fails_is_never_read_as_the_payload,
        );
    }
}

/// A chunk is decrypted where it lies: in the request's own buffer, or straight into a TA
/// image's reserved room, so a streamed install holds no chunk-sized plaintext copy beyond
/// what it stores and (for a TA) the one kept image. Measured against a device with the same
/// keys storing the same chunks as received; the old path's extra copy was a whole chunk.
/// (A secure component is measured with CTR only: with GCM the stored plaintext is 16 bytes
/// shorter than the received ciphertext, which moves the in-memory store's segment growth.)
#[test]
fn a_streamed_chunk_is_decrypted_where_it_lies() {
    let chunk = 256 * 1024;
    let image = ta(2, 600_000);
    /// Target, content, bytes kept in TA memory, ciphers.
    type Case<'a> = (&'a [&'a [u8]], Vec<u8>, usize, &'a [Cipher]);
    let cases: [Case; 2] = [
        (&SECURE, blob(1024 * 1024), 0, &[Cipher::Ctr]),
        (
            &[&TA],
            image.clone(),
            image.len(),
            &[Cipher::Gcm, Cipher::Ctr],
        ),
    ];
    for (target, data, kept, ciphers) in cases {
        for &cipher in ciphers {
            let mut devices: [Service<Mem>; 2] = two_devices().into();
            devices[1].store_payloads_as_received(true);
            let (info, ciphertext) = encrypt(&mut devices[0], cipher, &data);
            let env = envelope(1, target, &data, &info, Form::Static);
            let peaks = devices.each_mut().map(|s| {
                prepare(s, &env).unwrap();
                let total = ciphertext.len() as u64;
                let (sent, peak) = crate::attack_oracles::peak_heap(|| {
                    send_payload_chunked(s, URI, total, &ciphertext, chunk)
                });
                sent.unwrap();
                peak
            });
            let beyond = peaks[0].saturating_sub(peaks[1]);
            assert!(
                beyond < kept + chunk / 8,
                "{beyond} B beyond a device storing {} B as received, {kept} B kept (peaks {peaks:?})",
                data.len()
            );
        }
    }
}

/// The TA's copy of a payload chunk request is the only copy of the chunk: the service
/// decrypts the data where it lies in that request (into a TA image's reserved room, or in
/// place) and wipes the request, allocating no chunk-sized buffer of its own (the old
/// decoder copied the data out first). The first chunk creates the object and reserves the
/// image; the second is measured.
#[test]
fn a_chunk_is_decrypted_in_the_request_buffer() {
    let chunk = 256 * 1024;
    let image = ta(2, 600_000);
    let cases: [(&[&[u8]], Vec<u8>); 2] = [(&SECURE, blob(1024 * 1024)), (&[&TA], image)];
    for (target, data) in cases {
        for cipher in [Cipher::Gcm, Cipher::Ctr] {
            let mut s = device();
            let (info, ciphertext) = encrypt(&mut s, cipher, &data);
            prepare(&mut s, &envelope(1, target, &data, &info, Form::Static)).unwrap();
            let total = ciphertext.len() as u64;
            payload_chunk(&mut s, URI, total, 0, &ciphertext[..chunk]).unwrap();
            let second = &ciphertext[chunk..2 * chunk];
            let mut request = encode(&PayloadChunkRequest {
                uri: URI.into(),
                total_len: total,
                offset: chunk as u64,
                data: ByteBuf::from(second.to_vec()),
            })
            .unwrap();
            // The data is the message's last field: its last `chunk` bytes.
            assert_eq!(&request[request.len() - chunk..], second);
            let (reply, largest) = crate::attack_oracles::largest_allocation(|| {
                s.invoke(
                    Command::InstallPayload as u32,
                    PROTOCOL_VERSION,
                    &mut request,
                )
            });
            assert_eq!(reply.status, Status::Ok);
            assert!(
                largest < chunk / 8,
                "a {largest} B buffer allocated for a {chunk} B chunk"
            );
            assert!(request.iter().all(|b| *b == 0), "the request was not wiped");
            for at in (2 * chunk..ciphertext.len()).step_by(chunk) {
                let c = &ciphertext[at..(at + chunk).min(ciphertext.len())];
                payload_chunk(&mut s, URI, total, at as u64, c).unwrap();
            }
            finish(&mut s).unwrap();
        }
    }
}

/// A chunk that releases no plaintext (GCM holds back the last 16 bytes seen: here a first
/// chunk of 1 to 16 bytes) keeps the TA image in memory all the same: finish reads nothing
/// back, whatever chunk sizes the REE chooses.
#[test]
fn a_ta_image_whose_first_chunks_release_nothing_is_still_kept() {
    let image = ta(2, 64_000);
    for first in [1, 7, 16] {
        let (mut s, _) = two_devices();
        let (info, ciphertext) = encrypt(&mut s, Cipher::Gcm, &image);
        let env = envelope(1, &[&TA], &image, &info, Form::Static);
        prepare(&mut s, &env).unwrap();
        let total = ciphertext.len() as u64;
        let (head, rest) = ciphertext.split_at(first);
        payload_chunk(&mut s, URI, total, 0, head).unwrap();
        payload_chunk(&mut s, URI, total, first as u64, rest).unwrap();
        let read_before = s.backend().store().bytes_read.get();
        finish(&mut s).unwrap();
        let read = s.backend().store().bytes_read.get() - read_before;
        assert!(
            read < 16 * 1024,
            "first chunk {first} B: finish read {read} B for a {} B image",
            image.len()
        );
    }
}

/// One update installs at most one TA (`finish` refuses more), so at most one streamed TA
/// image is kept in TA memory: a manifest that decrypts two TA images as they arrive holds
/// one image's bytes at once, not two, while both payloads are received.
#[test]
fn at_most_one_streamed_ta_image_is_kept_in_memory() {
    const TA2: [u8; 16] = [0x5f; 16];
    const URI2: &str = "https://vendor.example/second.bin";
    let n = 400_000;
    let images = [
        ta_image_with_body(TA, 2, &blob(n)),
        ta_image_with_body(TA2, 2, &blob(n)),
    ];
    // Two devices with the same keys: one receives as the TA does, the other stores the
    // payloads as received (no decryption, nothing kept): the difference of their peaks is
    // what the first keeps beyond what the in-memory store holds for both.
    let mut devices = [provisioned(&[&TA, &TA2]), provisioned(&[&TA, &TA2])];
    devices[1].store_payloads_as_received(true);
    let (info1, c1) = encrypt(&mut devices[0], Cipher::Gcm, &images[0]);
    let (info2, c2) = encrypt(&mut devices[0], Cipher::Gcm, &images[1]);
    use sha2::Digest as _;
    let mut shared = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let Value::Array(part) = digest_shared(
            2 * i as i64,
            &sha2::Sha256::digest(image),
            image.len(),
            POLICY,
        ) else {
            unreachable!()
        };
        shared.extend(part);
    }
    // fetch_and_decrypt's commands with components (0, 1) and then (2, 3).
    let mut install = fetch_and_decrypt(URI, &info1, POLICY);
    let mut second = fetch_and_decrypt(URI2, &info2, POLICY);
    second[1] = int(3);
    second[7] = int(2);
    second[9] = suit_test_support::map(vec![(19, bytes(&info2)), (22, int(3))]);
    install.extend(second);
    let manifest = suit_manifest(
        1,
        vec![
            Value::Array(vec![bytes(&TA)]),
            Value::Array(vec![bytes(&TA), bytes(b"encrypted")]),
            Value::Array(vec![bytes(&TA2)]),
            Value::Array(vec![bytes(&TA2), bytes(b"encrypted")]),
        ],
        &Value::Array(shared),
        &Value::Array(install),
    );
    let env = signed(&manifest);
    let chunk = 32 * 1024;
    // The heap's peak less what the in-memory store holds (a kept image is in no object:
    // the second image, kept by no one, is stored as plaintext instead).
    let beyond_storage = devices.each_mut().map(|s| {
        let prepared = prepare(s, &env).unwrap();
        assert_eq!(prepared.needed_uris.len(), 2, "{:?}", prepared.needed_uris);
        let (sent, peak) = crate::attack_oracles::peak_heap(|| {
            send_payload_chunked(s, URI, c1.len() as u64, &c1, chunk)?;
            send_payload_chunked(s, URI2, c2.len() as u64, &c2, chunk)
        });
        sent.unwrap();
        let store = s.backend().store();
        let stored: usize = store
            .names()
            .iter()
            .map(|o| store.raw(o).map_or(0, |b| b.len()))
            .sum();
        peak.saturating_sub(stored)
    });
    let kept = beyond_storage[0].saturating_sub(beyond_storage[1]);
    assert!(
        kept > n && kept < n + n / 2,
        "kept {kept} B beyond storage receiving two {n}-byte TA images ({beyond_storage:?})"
    );
    let s = &mut devices[0];
    // And the update is refused as before, leaving nothing.
    let r = call::<_, InstallFinishResponse>(s, Command::InstallFinish, &Empty {});
    let (_, refusal) = r.unwrap_err();
    assert!(
        refusal.reason.contains("at most one TA"),
        "{}",
        refusal.reason
    );
}
