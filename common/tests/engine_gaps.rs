//! Engine gaps of issue 10 item 7: suit-parameter-strict-order = false (manifest-37 §6.7)
//! and the trust-domains rules for suit-directive-process-dependency.

mod support;

use ciborium::Value;

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::suit::author::{seal_envelope, Signer};
use suit_common::suit::error::{CommandErrorKind, Error};
use suit_common::suit::{process, Procedure};

use support::*;

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}
fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}
fn text(t: &str) -> Value {
    Value::Text(t.into())
}
fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}
fn map(entries: Vec<(i64, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (int(k), v)).collect())
}
fn seq(commands: Vec<Value>) -> Value {
    bytes(&cbor(&Value::Array(commands)))
}

fn author_key() -> SigningKey {
    p256_private_from_pem("suit-manifest-spec/private_key.pem")
}

const A: &[u8] = b"image-a";
const B: &[u8] = b"image-b";

/// Components `a` and `b`; shared sequence checks vendor and class on `a`; `install` as given.
fn manifest(install: Vec<Value>) -> Vec<u8> {
    let shared = Value::Array(vec![
        int(12),
        int(0),
        int(20),
        map(vec![(1, bytes(&VENDOR_ID)), (2, bytes(&CLASS_ID))]),
        int(1),
        int(15),
        int(2),
        int(15),
    ]);
    let common = map(vec![
        (
            2,
            Value::Array(vec![
                Value::Array(vec![bytes(b"a")]),
                Value::Array(vec![bytes(b"b")]),
            ]),
        ),
        (4, bytes(&cbor(&shared))),
    ]);
    cbor(&map(vec![
        (1, int(1)),
        (2, int(1)),
        (3, bytes(&cbor(&common))),
        (20, bytes(&cbor(&Value::Array(install)))),
    ]))
}

fn run(install: Vec<Value>) -> Result<Vec<suit_common::suit::ComponentId>, Error> {
    let key = author_key();
    let env = seal_envelope(
        &manifest(install),
        &[Signer {
            key: &key,
            alg: Algorithm::Esp256,
            kid: b"",
        }],
        &[],
        &[("#a", A), ("#b", B)],
    )
    .unwrap();
    let mut dev = RecordingPlatform::spec_device();
    process(
        &env,
        Procedure::Update,
        &spec_policy(),
        &no_keys(),
        &mut dev,
    )
    .map(|o| o.committed)
}

fn kind(e: Error) -> CommandErrorKind {
    match e {
        Error::Command(c) => c.kind,
        other => panic!("{other:?}"),
    }
}

/// Fetch `a` and `b`, then give each the other as copy source.
fn fetch_both_then_cross_sources() -> Vec<Value> {
    vec![
        int(12),
        int(0),
        int(20),
        map(vec![(21, text("#a"))]),
        int(21),
        int(15),
        int(12),
        int(1),
        int(20),
        map(vec![(21, text("#b"))]),
        int(21),
        int(15),
        int(12),
        int(0),
        int(20),
        map(vec![(22, int(1))]),
        int(12),
        int(1),
        int(20),
        map(vec![(22, int(0))]),
    ]
}

fn strict(value: bool) -> Vec<Value> {
    vec![int(20), map(vec![(12, Value::Bool(value))])]
}

#[test]
fn unordered_copy_reading_a_component_another_command_writes_is_aborted() {
    // index [a, b], copy: a <- b, then b <- a. In order it is well defined; with
    // strict-order false a parallel processor would race on both, so the draft says abort.
    let tail = |strict_order: bool| {
        let mut cmds = fetch_both_then_cross_sources();
        cmds.extend([int(12), Value::Array(vec![int(0), int(1)])]);
        cmds.extend(strict(strict_order));
        cmds.extend([int(22), int(15)]);
        cmds
    };
    assert_eq!(run(tail(true)).unwrap().len(), 2);
    assert_eq!(
        kind(run(tail(false)).unwrap_err()),
        CommandErrorKind::UnorderedSourceAndTarget { component: 1 }
    );
    // The same through run-sequence iterations (each runs strict, but two iterations may
    // run in parallel with each other).
    let mut cmds = fetch_both_then_cross_sources();
    cmds.extend([int(12), Value::Bool(true)]);
    cmds.extend(strict(false));
    cmds.extend([int(32), seq(vec![int(22), int(15)])]);
    assert_eq!(
        kind(run(cmds).unwrap_err()),
        CommandErrorKind::UnorderedSourceAndTarget { component: 1 }
    );
}

#[test]
fn a_barrier_between_writer_and_reader_makes_unordered_copies_legal() {
    // strict-order false, copy a <- b, set-component-index (barrier), copy b <- a.
    let mut cmds = fetch_both_then_cross_sources();
    cmds.extend(strict(false));
    cmds.extend([int(12), int(0), int(22), int(15)]);
    cmds.extend([int(12), int(1), int(22), int(15)]);
    assert_eq!(run(cmds).unwrap().len(), 2);
    // Independent fetches under strict-order false install as in order.
    let mut cmds = vec![int(12), Value::Bool(true)];
    cmds.extend(strict(false));
    cmds.extend([
        int(32),
        seq(vec![int(20), map(vec![(21, text("#a"))]), int(21), int(15)]),
    ]);
    // Both components fetch "#a" in their own iteration: targets differ, no source.
    assert_eq!(run(cmds).unwrap().len(), 2);
}

#[test]
fn unordered_run_sequence_may_set_the_index_only_as_its_first_command() {
    let fetch_a = || vec![int(20), map(vec![(21, text("#a"))]), int(21), int(15)];
    // Integer index: must begin with set-component-index...
    let mut ok = vec![int(12), int(0)];
    ok.extend(strict(false));
    let mut body = vec![int(12), int(0)];
    body.extend(fetch_a());
    ok.extend([int(32), seq(body.clone())]);
    assert_eq!(run(ok).unwrap().len(), 1);

    let mut no_lead = vec![int(12), int(0)];
    no_lead.extend(strict(false));
    no_lead.extend([int(32), seq(fetch_a())]);
    assert_eq!(
        kind(run(no_lead.clone()).unwrap_err()),
        CommandErrorKind::UnorderedRunSequenceIndex
    );
    // ...the same sequence is fine in strict order.
    let strict_run: Vec<Value> = [vec![int(12), int(0)], vec![int(32), seq(fetch_a())]].concat();
    assert_eq!(run(strict_run).unwrap().len(), 1);

    // ...and set it nowhere else.
    let mut later = vec![int(12), int(0)];
    later.extend(strict(false));
    let mut body2 = body.clone();
    body2.extend([int(12), int(1)]);
    body2.extend(fetch_a());
    later.extend([int(32), seq(body2)]);
    assert_eq!(
        kind(run(later).unwrap_err()),
        CommandErrorKind::UnorderedRunSequenceIndex
    );
    // Index true / a list: no set-component-index at all.
    let mut list = vec![int(12), Value::Array(vec![int(0), int(1)])];
    list.extend(strict(false));
    list.extend([int(32), seq(body)]);
    assert_eq!(
        kind(run(list).unwrap_err()),
        CommandErrorKind::UnorderedRunSequenceIndex
    );
}
