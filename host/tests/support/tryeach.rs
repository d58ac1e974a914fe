//! A try-each envelope (agent_local_outputs.rs, transport_net.rs): the TA lists every URI a
//! manifest may fetch, and a try-each option whose condition fails never fetches its own
//! (manifest-37), so the agent must leave a URI it cannot provide to the TA.

use std::path::Path;

use ciborium::Value;
use suit_test_support::cbor::{bytes, cbor, int, map, text};

use super::device::author;

/// The URIs of [`try_each_envelope`]'s two options: (delta, full).
pub type Uris<'a> = (&'a str, &'a str);

/// `set-component-index 0`, then `override-parameters` with `params`, then `directives`.
fn on_app(params: Vec<(i64, Value)>, directives: &[i64]) -> Vec<Value> {
    let mut v = vec![int(12), int(0), int(20), map(params)];
    for &d in directives {
        v.extend([int(d), int(15)]);
    }
    v
}

/// An envelope `name.suit` (sequence `seq`, signed by the author) installing `app` through a
/// try-each: option 1 fetches `uris.0` (a delta), only if `app` holds some older image when
/// `guarded` (condition-image-match on a digest nothing has, which fails on a fresh device),
/// option 2 fetches `uris.1` (the content of `full`). The review's reproduction
/// (/tmp/s28/r-agent/mk_tryeach.py).
pub fn try_each_envelope(d: &Path, name: &str, seq: i64, full: &[u8], guarded: bool, uris: Uris) {
    build(d, name, seq, full, guarded, uris, false);
}

/// [`try_each_envelope`], then a copy into `app` from `[app, spare]`, a component no device
/// has: the TA refuses every install of it for a platform `NotFound` that is no payload's,
/// whichever URIs were left out (review s28, rr3).
pub fn try_each_then_copy_envelope(
    d: &Path,
    name: &str,
    seq: i64,
    full: &[u8],
    guarded: bool,
    uris: Uris,
) {
    build(d, name, seq, full, guarded, uris, true);
}

fn build(
    d: &Path,
    name: &str,
    seq: i64,
    full: &[u8],
    guarded: bool,
    uris: Uris,
    copy_from_absent: bool,
) {
    let digest = |data: &[u8]| bytes(&suit_test_support::cbor::suit_digest(data));
    let full_digest = digest(full);
    // The identifiers `{"name": "example.com"}`, `{"name": "board"}` give (UUIDv5).
    let vendor = hex::decode("cfbff0d193755685968c48ce8b15ae17").unwrap();
    let class = hex::decode("d9c03f90568d5553b0aa28b24df90fcc").unwrap();
    let shared = Value::Array(vec![
        int(12),
        int(0),
        int(20),
        map(vec![(1, bytes(&vendor)), (2, bytes(&class))]),
        int(1),
        int(15),
        int(2),
        int(15),
    ]);
    let mut delta = Vec::new();
    if guarded {
        delta = on_app(vec![(3, digest(b"an older image")), (14, int(14))], &[3]);
    }
    delta.extend(on_app(vec![(21, text(uris.0))], &[21, 3]));
    let whole = on_app(
        vec![
            (3, full_digest.clone()),
            (14, int(full.len() as i64)),
            (21, text(uris.1)),
        ],
        &[21, 3],
    );
    let mut install = vec![
        int(12),
        int(0),
        int(15),
        Value::Array(vec![
            bytes(&cbor(&Value::Array(delta))),
            bytes(&cbor(&Value::Array(whole))),
        ]),
    ];
    let mut components = vec![Value::Array(vec![bytes(b"app")])];
    if copy_from_absent {
        // source-component 1, then directive-copy.
        install.extend(on_app(vec![(22, int(1))], &[22]));
        components.push(Value::Array(vec![bytes(b"app"), bytes(b"spare")]));
    }
    let install = Value::Array(install);
    let validate = Value::Array(on_app(
        vec![(3, full_digest), (14, int(full.len() as i64))],
        &[3],
    ));
    let common = map(vec![
        (2, Value::Array(components)),
        (4, bytes(&cbor(&shared))),
    ]);
    let manifest = cbor(&map(vec![
        (1, int(1)),
        (2, int(seq)),
        (3, bytes(&cbor(&common))),
        (7, bytes(&cbor(&validate))),
        (20, bytes(&cbor(&install))),
    ]));
    let auth = Value::Array(vec![bytes(&suit_test_support::cbor::manifest_digest(
        &manifest,
    ))]);
    let envelope = Value::Tag(
        107,
        Box::new(map(vec![(2, bytes(&cbor(&auth))), (3, bytes(&manifest))])),
    );
    let unsigned = format!("{name}.unsigned.suit");
    std::fs::write(d.join(&unsigned), cbor(&envelope)).unwrap();
    let signed = format!("{name}.suit");
    author(
        d,
        &[
            "sign",
            &unsigned,
            "-o",
            &signed,
            "--sign-key",
            "author.priv.pem",
        ],
    );
}
