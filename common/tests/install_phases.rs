//! The install session's phases (idle, receiving the envelope, prepared) over the wire, on the
//! TA's `Service` with the in-memory backend: every step sent in a phase it does not belong to
//! is refused with its sequence error and changes neither storage nor the session (the install
//! then goes on as if the refused call had not been made); `prepare` answers exactly what
//! the engine's shared `suit::check` decides; and a payload announced beyond its
//! authenticated image size is refused before anything is stored.

use suit_common::protocol::*;
use suit_common::service::Service;
use suit_common::suit::{self, Procedure, Refusal as CheckRefusal};
use suit_test_support::cid;
use suit_test_support::says;
use suit_test_support::service::*;

const URI: &str = "https://h/p";
const IMAGE: &[u8] = b"payload of the app";

fn app(seq: u64) -> Release {
    release(
        seq,
        &[Part {
            id: &[b"app"],
            image: IMAGE,
            uri: URI,
        }],
    )
}

fn chunk(s: &mut Service<Mem>, offset: u64, data: &[u8]) -> Answer<Empty> {
    call(
        s,
        Command::InstallEnvelope,
        &ChunkRequest {
            offset,
            data: ByteBuf::from(data.to_vec()),
        },
    )
}

fn prepare_now(s: &mut Service<Mem>) -> Answer<InstallPrepareResponse> {
    call(s, Command::InstallPrepare, &Empty {})
}

fn payload(s: &mut Service<Mem>, offset: u64, data: &[u8]) -> Answer<PayloadChunkResponse> {
    payload_chunk(s, URI, IMAGE.len() as u64, offset, data)
}

/// `r` is the sequence refusal `what`, word for word.
#[track_caller]
fn out_of_order<T: std::fmt::Debug>(r: Answer<T>, what: &str) {
    let r = refusal(r);
    assert_eq!(
        (r.kind, r.reason.as_str()),
        (
            RefusalKind::Sequence,
            format!("install steps out of order: {what}").as_str()
        )
    );
}

/// Sends every step that does not belong to the idle phase; each is refused, nothing changes.
#[track_caller]
fn idle_refuses_all_but_begin(s: &mut Service<Mem>, envelope: &[u8]) {
    let before = objects(s);
    out_of_order(chunk(s, 0, envelope), "no install in progress");
    out_of_order(prepare_now(s), "envelope incomplete");
    out_of_order(payload(s, 0, IMAGE), "payload before prepare");
    out_of_order(finish(s), "finish before prepare");
    assert_eq!(objects(s), before, "a refused step changed storage");
}

#[test]
fn each_step_out_of_its_phase_is_refused_and_changes_nothing() {
    let mut s = device();
    let r = app(1);
    let (head, tail) = r.envelope.split_at(r.envelope.len() / 2);

    // Idle: nothing begun.
    idle_refuses_all_but_begin(&mut s, &r.envelope);

    // Receiving the envelope, half of it in.
    begin(&mut s, r.envelope.len() as u64).unwrap();
    chunk(&mut s, 0, head).unwrap();
    let before = objects(&s);
    out_of_order(prepare_now(&mut s), "envelope incomplete");
    out_of_order(payload(&mut s, 0, IMAGE), "payload before prepare");
    out_of_order(finish(&mut s), "finish before prepare");
    out_of_order(chunk(&mut s, 0, tail), "envelope chunk offset");
    assert_eq!(objects(&s), before);
    // The refusals left the half envelope in place: the rest completes it.
    chunk(&mut s, head.len() as u64, tail).unwrap();
    let prepared = prepare_now(&mut s).unwrap();
    assert_eq!(prepared.needed_uris, vec![URI.to_string()]);

    // Prepared: the envelope is closed; prepare may run again and answers the same.
    out_of_order(chunk(&mut s, 0, &r.envelope), "no install in progress");
    out_of_order(
        chunk(&mut s, r.envelope.len() as u64, b""),
        "no install in progress",
    );
    assert_eq!(prepare_now(&mut s).unwrap(), prepared);
    payload(&mut s, 0, IMAGE).unwrap();
    let done = finish(&mut s).unwrap();
    assert_eq!(done.sequence_number, 1);
    assert!(state(&s).component(&cid(&[b"app"])).is_some());

    // Finished: idle again, the finished envelope is gone.
    idle_refuses_all_but_begin(&mut s, &r.envelope);
}

/// A device in the prepared phase of `app(1)` with the payload's first 4 bytes staged, and
/// the objects it held before the install began.
fn half_sent() -> (Service<Mem>, Release, Vec<(String, usize, String)>) {
    let mut s = device();
    let r = app(1);
    let before = objects(&s);
    prepare(&mut s, &r.envelope).unwrap();
    payload(&mut s, 0, &IMAGE[..4]).unwrap();
    (s, r, before)
}

#[test]
fn finish_with_a_payload_half_sent_ends_the_session_and_leaves_nothing() {
    let (mut s, r, before) = half_sent();
    out_of_order(finish(&mut s), "payload incomplete");
    // The session ended: its payload object and journal are gone, and every step but
    // begin is refused as in a session never begun.
    assert_eq!(objects(&s), before);
    idle_refuses_all_but_begin(&mut s, &r.envelope);
    assert!(state(&s).component(&cid(&[b"app"])).is_none());
}

#[test]
fn begin_abandons_any_phase_and_deletes_what_it_staged() {
    let (mut s, r, before) = half_sent();
    assert_ne!(
        objects(&s),
        before,
        "the payload chunk is staged in storage"
    );
    // Begin again: the staged payload goes, and the new session starts receiving.
    begin(&mut s, r.envelope.len() as u64).unwrap();
    assert_eq!(objects(&s), before);
    out_of_order(payload(&mut s, 0, IMAGE), "payload before prepare");
    out_of_order(finish(&mut s), "finish before prepare");
    install(&mut s, &r).unwrap();
}

#[test]
fn prepare_answers_what_suit_check_decides() {
    let mut s = device();
    let policy = state(&s).policy().unwrap();

    // Accepted: the URIs and their bounds are check's.
    let r = app(1);
    let st = state(&s);
    let checked = suit::check(&r.envelope, Procedure::Update, &policy, |k| {
        Ok(st.sequence_number(k))
    })
    .unwrap();
    let uris = checked.payload_uris();
    let prepared = prepare(&mut s, &r.envelope).unwrap();
    assert_eq!(prepared.needed_uris, uris);
    assert_eq!(prepared.needed_sizes, checked.fetch_bounds(&uris));
    assert_eq!(prepared.needed_sizes, vec![Some(IMAGE.len() as u64)]);
    assert_eq!(prepared.sequence_number, 1);
    assert_eq!(prepared.signers, checked.auth.signers);
    payload(&mut s, 0, IMAGE).unwrap();
    finish(&mut s).unwrap();

    // Refused after authentication (rollback): the same words.
    let st = state(&s);
    let refused = suit::check(&r.envelope, Procedure::Update, &policy, |k| {
        Ok(st.sequence_number(k))
    })
    .unwrap_err();
    assert!(matches!(refused, CheckRefusal::Refused(_)), "{refused:?}");
    let said = refusal(prepare(&mut s, &r.envelope));
    assert_eq!(
        (said.kind, said.reason),
        (RefusalKind::Manifest, refused.error().to_string())
    );

    // Refused before authentication (a signature byte changed): the same words.
    let mut forged = app(2).envelope;
    let at = forged.len() / 3;
    forged[at] ^= 0x01;
    let refused = suit::check(&forged, Procedure::Update, &policy, |_| Ok(None)).unwrap_err();
    assert!(
        matches!(refused, CheckRefusal::Unauthenticated(_)),
        "{refused:?}"
    );
    let said = refusal(prepare(&mut s, &forged));
    assert_eq!(
        (said.kind, said.reason),
        (RefusalKind::Manifest, refused.error().to_string())
    );
}

/// A detached payload longer than the authenticated image size its fetch is bound by is
/// refused when announced, before any of it reaches secure storage.
#[test]
fn a_payload_announced_beyond_its_image_size_is_refused_and_stores_nothing() {
    let mut s = device();
    let r = app(1);
    let before = objects(&s);
    let prepared = prepare(&mut s, &r.envelope).unwrap();
    assert_eq!(prepared.needed_sizes, vec![Some(IMAGE.len() as u64)]);
    let too_long = IMAGE.len() as u64 + 1;
    let refused = refusal(payload_chunk(&mut s, URI, too_long, 0, &IMAGE[..4]));
    assert_eq!(refused.kind, RefusalKind::TooLarge, "{}", refused.reason);
    says(&refused.reason, "image size");
    assert_eq!(objects(&s), before, "nothing staged");
    // The right length still goes through, and the install completes.
    payload(&mut s, 0, IMAGE).unwrap();
    finish(&mut s).unwrap();
}
