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
/// other bytes) is never exported whole: the chunk that ends it is refused (`Storage`), so
/// the agent never gets the end of it; served faithfully, the same export succeeds.
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
