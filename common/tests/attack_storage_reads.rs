//! Attack (review s17, S1): the REE-backed store answers a read of one object with other
//! bytes (an older version of it, or another object's) after the TA committed it. Every read
//! the TA makes of content it committed, and of the reports it stored, is checked against
//! what it committed: an REE component it exports, installed content an install copies or
//! tests, and the latest report it signs. Each test fails on the code before the fix (the
//! other bytes were served, copied, matched or signed).

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::protocol::*;
use suit_common::service::state::ComponentRecord;
use suit_common::service::{Service, PRE_AUTH_REPORT_OBJECT, REPORT_OBJECT};
use suit_test_support::service::Refused;
use suit_test_support::service::{
    call, envelope, install, install_with, objects, part, prepare, provisioned, refusal, release,
    state, Answer, Mem,
};
use suit_test_support::{bytes, check_vendor_class, copy_manifest, identity_shared, int, map};
use suit_test_support::{suit_digest, suit_manifest, CLASS_ID, VENDOR_ID};

const A: &[&[u8]] = &[b"app", b"a"];
const B: &[&[u8]] = &[b"app", b"b"];
const C: &[&[u8]] = &[b"app", b"c"];
const V1: &[u8] = b"installed content, release 1 ....";
const V2: &[u8] = b"installed content, release 2 !!!!";

/// A device with component `A` installed twice: `V1` by sequence number 1, then `V2` by 2.
/// Returns it with the name of `A`'s object and the bytes stored for `V1` (what the REE
/// kept of the older version).
fn device_with_two_releases() -> (Service<Mem>, String) {
    let mut s = provisioned(&[b"app", b"ree"]);
    install(&mut s, &release(1, &[part(A, V1, "https://x/a1")])).unwrap();
    install(&mut s, &release(2, &[part(A, V2, "https://x/a2")])).unwrap();
    let object = object_of(&s, A);
    assert_eq!(s.backend().store().raw(&object).unwrap(), V2);
    (s, object)
}

fn record_of(s: &Service<Mem>, component: &[&[u8]]) -> ComponentRecord {
    state(s)
        .components
        .into_iter()
        .find(|c| {
            c.id.iter()
                .map(|b| b.as_slice())
                .eq(component.iter().copied())
        })
        .unwrap()
}

fn object_of(s: &Service<Mem>, component: &[&[u8]]) -> String {
    record_of(s, component).object
}

/// The REE answers every read of `object` with `other` from now on.
fn substitute(s: &mut Service<Mem>, object: &str, other: &[u8]) {
    s.backend_mut().store_mut().substitute = Some((object.into(), other.to_vec()));
}

fn faithful(s: &mut Service<Mem>) {
    s.backend_mut().store_mut().substitute = None;
}

fn signed(s: &mut Service<Mem>, manifest: &[u8]) -> Answer<InstallFinishResponse> {
    install_with(s, &envelope(manifest, &[]), &[])
}

/// A manifest (sequence 3) over `A` and `C`: the shared sequence sets `A`'s parameter
/// `param` to `value` and runs condition `condition` on `A` (image-match, check-content);
/// the install sequence then writes into `C`, which so depends on the condition.
fn conditional_write(param: i64, value: Value, condition: i64) -> Vec<u8> {
    let mut shared = check_vendor_class(
        vec![int(12), int(0)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![(param, value)],
        15,
    );
    shared.extend([int(condition), int(15)]);
    let install = Value::Array(vec![
        int(12),
        int(1),
        int(20),
        map(vec![(18, bytes(b"only if A is release 1"))]),
        int(18),
        int(15),
    ]);
    let id = |c: &[&[u8]]| Value::Array(c.iter().map(|s| bytes(s)).collect());
    suit_manifest(3, vec![id(A), id(C)], &Value::Array(shared), &install)
}

/// Exports `path` as the agent does (in order, until the empty answer).
fn export(s: &mut Service<Mem>, path: &str) -> Result<Vec<u8>, (Status, Refused)> {
    let mut out = Vec::new();
    loop {
        let r: ReeExportResponse = call(
            s,
            Command::ReeExport,
            &ReeExportRequest {
                path: path.into(),
                offset: out.len() as u64,
            },
        )?;
        if r.data.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(&r.data);
    }
}

fn export_at(s: &mut Service<Mem>, path: &str, offset: u64) -> Answer<ReeExportResponse> {
    call(
        s,
        Command::ReeExport,
        &ReeExportRequest {
            path: path.into(),
            offset,
        },
    )
}

/// Place 1: an REE component whose object the REE answers with its older version (or with any
/// other bytes) is not exported: the first request is refused (`Storage`), and its end is not
/// reached by asking for it; served faithfully, the same export succeeds.
#[test]
fn an_ree_component_read_back_other_than_committed_is_not_exported() {
    let mut s = provisioned(&[b"app", b"ree"]);
    let id: &[&[u8]] = &[b"ree", b"etc", b"app.conf"];
    let old: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut new = old.clone();
    new[299_990] ^= 1;
    install(&mut s, &release(1, &[part(id, &old, "https://x/old")])).unwrap();
    let older = s.backend().store().raw(&object_of(&s, id)).unwrap();
    install(&mut s, &release(2, &[part(id, &new, "https://x/new")])).unwrap();
    let object = object_of(&s, id);
    for other in [older, new.iter().rev().copied().collect()] {
        substitute(&mut s, &object, &other);
        let r = refusal(export(&mut s, "etc/app.conf"));
        assert_eq!(r.kind, RefusalKind::Storage, "{r:?}");
        assert!(r.reason.contains("not what was committed"), "{}", r.reason);
        // Nor is its end reached by asking for it directly.
        let r = refusal(export_at(&mut s, "etc/app.conf", new.len() as u64));
        assert_eq!(r.kind, RefusalKind::Sequence, "{r:?}");
    }
    faithful(&mut s);
    assert_eq!(export(&mut s, "etc/app.conf").unwrap(), new);
    // Out of order (not where the last chunk ended) is refused, not served unchecked.
    export_at(&mut s, "etc/app.conf", 0).unwrap();
    let r = refusal(export_at(&mut s, "etc/app.conf", 7));
    assert_eq!(r.kind, RefusalKind::Sequence, "{r:?}");
}

const REE: &[&[u8]] = &[b"ree", b"etc", b"app.conf"];
const REE_PATH: &str = "etc/app.conf";

/// `len` bytes varying with their position (and `seed`), so no chunk equals another.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// Plaintext the REE must never get: what a reused object name may have held before.
fn secret() -> Vec<u8> {
    b"TOP SECRET plaintext of a secure component (never for the REE) ".repeat(100)
}

/// A device with a 200,000-byte REE component (four chunks) next to a secure one, `A`;
/// returns it with the REE component's content and object name.
fn device_with_ree_component() -> (Service<Mem>, Vec<u8>, String) {
    let mut s = provisioned(&[b"app", b"ree"]);
    let content = pattern(200_000, 1);
    let a = secret();
    install(
        &mut s,
        &release(
            1,
            &[
                part(A, &a, "https://x/a"),
                part(REE, &content, "https://x/ree"),
            ],
        ),
    )
    .unwrap();
    let object = object_of(&s, REE);
    (s, content, object)
}

fn refused_as_not_committed(r: Answer<ReeExportResponse>, what: &str) {
    let r = refusal(r);
    assert_eq!(r.kind, RefusalKind::Storage, "{what}: {r:?}");
    assert!(
        r.reason.contains("not what was committed"),
        "{what}: {}",
        r.reason
    );
}

/// Review s25: every byte an export serves is committed content, the first chunk included.
/// Object names are reused (the one an REE component is stored under may have held a secure
/// component's plaintext), and the REE can answer a read with any version of it: answered
/// with such bytes, short or of the committed length, or with the committed bytes but for a
/// later chunk, the first request is refused (`Storage`), and no later one is served from it.
/// Before the fix, the chunks before the end were served unchecked.
#[test]
fn no_chunk_of_an_ree_component_is_served_before_the_whole_is_checked() {
    let (mut s, content, object) = device_with_ree_component();
    let secret = secret();
    let other_object = s.backend().store().raw(&object_of(&s, A)).unwrap();
    let mut first_swapped = content.clone();
    first_swapped[..secret.len()].copy_from_slice(&secret);
    let mut last_swapped = content.clone();
    let end = content.len();
    last_swapped[end - secret.len()..].copy_from_slice(&secret);
    for (what, other) in [
        ("short secret", secret.clone()),
        ("another component's object", other_object),
        ("first chunk swapped", first_swapped),
        ("last chunk swapped", last_swapped),
    ] {
        substitute(&mut s, &object, &other);
        refused_as_not_committed(export_at(&mut s, REE_PATH, 0), what);
        let r = refusal(export_at(&mut s, REE_PATH, secret.len() as u64));
        assert_eq!(r.kind, RefusalKind::Sequence, "{what}: {r:?}");
    }
    faithful(&mut s);
    assert_eq!(export(&mut s, REE_PATH).unwrap(), content);
}

/// Review s25: a chunk the REE swaps after the first request checked the whole is refused
/// (`Storage`) when asked for, not served, and ends the export (`Sequence` after it); the chunks
/// before it were the committed ones. Before the fix, a middle chunk was served as the store
/// answered it.
#[test]
fn a_chunk_swapped_after_the_check_is_refused_not_served() {
    let (mut s, content, object) = device_with_ree_component();
    let secret = secret();
    let chunk = export_at(&mut s, REE_PATH, 0).unwrap().data.len();
    assert!(3 * chunk < content.len(), "four chunks: {chunk}");
    for swapped in [1, 2] {
        let at = swapped * chunk;
        // Committed content up to the swapped chunk.
        faithful(&mut s);
        let mut got = Vec::new();
        while got.len() < at {
            let r = export_at(&mut s, REE_PATH, got.len() as u64).unwrap();
            got.extend_from_slice(&r.data);
        }
        assert_eq!(got, content[..at]);
        let mut other = content.clone();
        other[at + 100..at + 100 + secret.len()].copy_from_slice(&secret);
        substitute(&mut s, &object, &other);
        refused_as_not_committed(export_at(&mut s, REE_PATH, at as u64), "swapped");
        // The export ended: nothing after it is served without starting over.
        faithful(&mut s);
        let r = refusal(export_at(&mut s, REE_PATH, (at + chunk) as u64));
        assert_eq!(r.kind, RefusalKind::Sequence, "{r:?}");
    }
    assert_eq!(export(&mut s, REE_PATH).unwrap(), content);
}

/// The export as the agent makes it, served faithfully: full-size chunks in order from 0 but
/// the last, then the empty answer, each with the component's length and digest; the same for
/// a component that ends on a chunk boundary.
#[test]
fn an_ree_component_is_exported_in_full_chunks_then_an_empty_answer() {
    let (mut s, content, _) = device_with_ree_component();
    let chunk = export_at(&mut s, REE_PATH, 0).unwrap().data.len();
    let exact = pattern(2 * chunk, 2);
    for (seq, content) in [(1, content), (2, exact)] {
        if seq == 2 {
            install(&mut s, &release(2, &[part(REE, &content, "https://x/2")])).unwrap();
        }
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let r = export_at(&mut s, REE_PATH, got.len() as u64).unwrap();
            assert_eq!(r.total_len, content.len() as u64);
            assert_eq!(r.digest.as_slice(), &Sha256::digest(&content)[..]);
            sizes.push(r.data.len());
            if r.data.is_empty() {
                break;
            }
            got.extend_from_slice(&r.data);
        }
        assert_eq!(got, content, "release {seq}");
        let (last, full) = sizes.split_last().unwrap();
        assert_eq!(*last, 0, "release {seq}: {sizes:?}");
        let (tail, full) = full.split_last().unwrap();
        assert!(
            !full.is_empty() && full.iter().all(|n| *n == chunk),
            "{sizes:?}"
        );
        assert!(*tail > 0 && *tail <= chunk, "{sizes:?}");
    }
}

/// Place 2: a copy from installed content the REE answers with the older version is refused
/// (`Storage`) and changes nothing; it would otherwise commit release 1's bytes as the copy
/// of what the state says is release 2.
#[test]
fn a_copy_of_installed_content_read_back_other_than_committed_is_refused() {
    let (mut s, object) = device_with_two_releases();
    let copy = copy_manifest(3, A, B, None, &identity_shared(&VENDOR_ID, &CLASS_ID));
    let before = objects(&s);
    substitute(&mut s, &object, V1);
    let r = refusal(signed(&mut s, &copy));
    faithful(&mut s);
    assert_eq!(r.kind, RefusalKind::Storage, "{r:?}");
    assert!(r.reason.contains("not what was committed"), "{}", r.reason);
    assert_eq!(objects(&s), before, "nothing changed");
    // Served faithfully, the same copy installs the committed content.
    signed(&mut s, &copy).unwrap();
    let b = record_of(&s, B);
    assert_eq!(b.digest.as_slice(), &Sha256::digest(V2)[..]);
    assert_eq!(s.backend().store().raw(&b.object).unwrap(), V2);
}

/// Place 2: conditions on installed content (image-match, check-content) see only the committed
/// content: answered with release 1's bytes, a condition that holds only for release 1 does
/// not let the install through (`Storage`); served faithfully it fails as a condition.
#[test]
fn conditions_on_installed_content_see_only_what_was_committed() {
    for (param, value, condition) in [(3, bytes(&suit_digest(V1)), 3), (18, bytes(V1), 6)] {
        let (mut s, object) = device_with_two_releases();
        let m = conditional_write(param, value, condition);
        let before = objects(&s);
        substitute(&mut s, &object, V1);
        let r = refusal(signed(&mut s, &m));
        faithful(&mut s);
        assert_eq!(r.kind, RefusalKind::Storage, "condition {condition}: {r:?}");
        assert_eq!(
            objects(&s),
            before,
            "condition {condition}: nothing changed"
        );
        let r = refusal(signed(&mut s, &m));
        assert_eq!(
            r.kind,
            RefusalKind::Manifest,
            "condition {condition}: {r:?}"
        );
        assert_eq!(objects(&s), before);
    }
}

fn report(s: &mut Service<Mem>, pre_auth: bool) -> Answer<ReportResponse> {
    call(
        s,
        Command::Report,
        &ReportRequest {
            nonce: Some(ByteBuf::from(b"fresh".to_vec())),
            pre_auth,
        },
    )
}

/// Place 3: the report signed as the latest is one the TA stored under that name for the current
/// state: the REE answering with the report of an older update, or with the stored
/// pre-authentication report, gets a refusal (`Storage`), not a signature over it.
#[test]
fn only_a_report_the_ta_kept_for_the_current_state_is_signed() {
    let mut s = provisioned(&[b"app"]);
    install(&mut s, &release(1, &[part(A, V1, "https://x/a1")])).unwrap();
    let first = s.backend().store().raw(REPORT_OBJECT).unwrap();
    install(&mut s, &release(2, &[part(A, V2, "https://x/a2")])).unwrap();
    // A refusal before authentication: the REE can have one stored whenever it likes.
    refusal(prepare(&mut s, &[0xa0; 16]));
    let pre_auth = s.backend().store().raw(PRE_AUTH_REPORT_OBJECT).unwrap();
    report(&mut s, false).unwrap();
    report(&mut s, true).unwrap();
    for other in [first, pre_auth.clone()] {
        substitute(&mut s, REPORT_OBJECT, &other);
        let r = refusal(report(&mut s, false));
        assert_eq!(r.kind, RefusalKind::Storage, "{r:?}");
    }
    // Nor is the authenticated attempts' report signed as the pre-authentication one.
    faithful(&mut s);
    let latest = s.backend().store().raw(REPORT_OBJECT).unwrap();
    substitute(&mut s, PRE_AUTH_REPORT_OBJECT, &latest);
    assert_eq!(refusal(report(&mut s, true)).kind, RefusalKind::Storage);
    faithful(&mut s);
    report(&mut s, false).unwrap();
    report(&mut s, true).unwrap();
}
