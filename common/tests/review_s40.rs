//! Review s40 (review1): key and plaintext isolation, adversarial. Each test states the
//! property the project claims; a failing test demonstrates a finding.

use suit_common::protocol::*;
use suit_common::service::{Service, REPORT_OBJECT};
use suit_test_support::service::*;

use crate::awaiting_envelope::{ta_and_perso, ta_img, URI};

/// A device with TA v1 installed whose install of v2 (`env2`, payload `c2`) OP-TEE's TA store
/// answered "no space" (retried): the commit awaits `env2`. Also the TA v2 image and its
/// encryption info, the generation before, and the refusal's stored report bytes.
struct Awaiting {
    s: Service<Mem>,
    p2: Vec<u8>,
    i2: Vec<u8>,
    env2: Vec<u8>,
    c2: Vec<u8>,
    generation: u64,
    report: Vec<u8>,
}

fn awaiting() -> Awaiting {
    let (p1, p2) = (ta_img(1, 30_000), ta_img(2, 40_000));
    let mut s = device();
    let (i1, c1) = encrypt(&mut s, Cipher::Gcm, &p1);
    let (i2, c2) = encrypt(&mut s, Cipher::Gcm, &p2);
    let env1 = ta_and_perso(1, &p1, &i1, b"perso one");
    let env2 = ta_and_perso(2, &p2, &i2, b"perso two");
    install_with(&mut s, &env1, &[(URI, &c1)]).unwrap();
    let generation = state(&s).generation;
    s.backend_mut().refuse_tas = Some(0xffff_3041);
    let r = refusal(install_with(&mut s, &env2, &[(URI, &c2)]));
    assert_eq!(r.kind, RefusalKind::Storage, "{r:?}");
    s.backend_mut().refuse_tas = None;
    let report = s.backend().store().raw(REPORT_OBJECT).unwrap();
    Awaiting {
        s,
        p2,
        i2,
        env2,
        c2,
        generation,
        report,
    }
}

fn report(s: &mut Service<Mem>) -> Answer<ReportResponse> {
    call(
        s,
        Command::Report,
        &ReportRequest {
            nonce: Some(ByteBuf::from(b"fresh".to_vec())),
            pre_auth: false,
        },
    )
}

/// SECURITY.md ("Plaintext oracles ... report claims"): the TA signs a stored report only for
/// the current state, so the REE cannot have "a report from before the last committed
/// update signed as the latest" (the model: the REE answers a read of the report object with
/// bytes that object held earlier, `attack_storage_reads.rs`).
///
/// The awaiting path breaks it: the refusal that leaves a commit awaiting its envelope is
/// stored tagged for the pending commit's generation (g+1, no state digest), and the re-send
/// that then commits reaches that same generation. So the earlier attempt's refusal report,
/// stored before the committed update, verifies as current after it and is signed as the
/// latest: a status tracker is told the update was refused (awaiting) while it is installed.
#[test]
fn a_report_stored_before_the_resend_commit_is_not_signed_after_it() {
    let Awaiting {
        mut s,
        env2,
        c2,
        generation: g,
        report: awaiting_report,
        ..
    } = awaiting();

    // The agent re-sends it: committed, one generation on.
    install_with(&mut s, &env2, &[(URI, &c2)]).unwrap();
    assert_eq!(personalization(&mut s).as_deref(), Some(&b"perso two"[..]));
    assert_eq!(state(&s).generation, g + 1);
    report(&mut s).unwrap();

    // The REE answers with the report object's earlier bytes (the awaiting refusal).
    s.backend_mut().store_mut().substitute = Some((REPORT_OBJECT.into(), awaiting_report));
    let r = report(&mut s);
    assert!(
        matches!(&r, Err((_, refused)) if refused.kind == RefusalKind::Storage),
        "the awaiting attempt's refusal, stored before the committed re-send, was signed as \
         the latest report after it: {:?}",
        r.map(|r| r.report.len())
    );
}

/// The other end of the same refusal: once the awaited update is abandoned, that refusal is
/// the latest attempt's report and is signed (bound to the abandoned state, which the TA
/// knows before the abandonment); the REE serving it again after a later commit is refused.
#[test]
fn the_awaiting_refusals_report_is_signed_after_an_abandonment() {
    use sha2::Digest as _;
    let Awaiting {
        mut s,
        p2,
        i2,
        env2,
        c2,
        report: awaiting_report,
        ..
    } = awaiting();
    call::<_, Empty>(
        &mut s,
        Command::InstallAbandon,
        &InstallAbandonRequest {
            envelope: sha2::Sha256::digest(&env2).to_vec().into(),
        },
    )
    .unwrap();
    assert_eq!(
        s.backend().store().raw(REPORT_OBJECT).unwrap(),
        awaiting_report,
        "the abandonment wrote a report"
    );
    report(&mut s).expect("the awaiting refusal's report after the abandonment");

    // The update installed after all (a new envelope, a new attempt): the abandoned
    // attempt's report, served again, is not the latest.
    let env3 = ta_and_perso(3, &p2, &i2, b"perso two");
    install_with(&mut s, &env3, &[(URI, &c2)]).unwrap();
    report(&mut s).unwrap();
    s.backend_mut().store_mut().substitute = Some((REPORT_OBJECT.into(), awaiting_report));
    let r = report(&mut s);
    assert!(
        matches!(&r, Err((_, refused)) if refused.kind == RefusalKind::Storage),
        "{:?}",
        r.map(|r| r.report.len())
    );
}
