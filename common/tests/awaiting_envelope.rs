//! A commit awaiting its envelope (a streamed TA image kept in TA memory only, cut or failed
//! inside OP-TEE's install or at the state write after it), with a TA and its
//! personalization data: faults the REE can forge at every write of the install, of the
//! re-send and of the abandon leave the old state, the new one (every component's object
//! holding its recorded content, OP-TEE holding the matching TA) or the commit awaiting; a
//! device awaiting signs no report (review s39).

use ciborium::Value;
use suit_common::cose::{Algorithm, SigningKey};
use suit_common::protocol::*;
use suit_common::service::Service;
use suit_common::suit::author::{seal_envelope, Signer};
use suit_test_support::service::*;
use suit_test_support::{
    check_vendor_class, fetch_and_decrypt, p256_private_from_pem, suit_manifest, CLASS_ID,
    VENDOR_ID,
};

use crate::power_cut::restart;

pub(crate) const URI: &str = "https://vendor.example/ta.bin";

fn sdigest(b: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    cbor(&Value::Array(vec![
        int(-16),
        bytes(&sha2::Sha256::digest(b)),
    ]))
}
fn sha256(b: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(b).to_vec()
}

/// A streamed TA (static form, components 0 and 1) plus its personalization data
/// (component 2, integrated "#perso").
pub(crate) fn ta_and_perso(seq: u64, ta: &[u8], info: &[u8], perso: &[u8]) -> Vec<u8> {
    let mut shared = check_vendor_class(
        vec![int(12), int(0)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![(3, bytes(&sdigest(ta))), (14, int(ta.len() as i64))],
        15,
    );
    shared.extend([
        int(12),
        int(2),
        int(20),
        Value::Map(vec![
            (int(3), bytes(&sdigest(perso))),
            (int(14), int(perso.len() as i64)),
        ]),
    ]);
    let mut install = fetch_and_decrypt(URI, info, 15);
    install.extend([int(3), int(15)]);
    install.extend([
        int(12),
        int(2),
        int(20),
        Value::Map(vec![(int(21), Value::Text("#perso".into()))]),
        int(21),
        int(15),
        int(3),
        int(15),
    ]);
    let comps = vec![
        Value::Array(vec![bytes(&TA)]),
        Value::Array(vec![bytes(&TA), bytes(b"encrypted")]),
        Value::Array(vec![bytes(&TA), bytes(b"perso")]),
    ];
    let manifest = suit_manifest(
        seq as i64,
        comps,
        &Value::Array(shared),
        &Value::Array(install),
    );
    let key: SigningKey = p256_private_from_pem(suit_test_support::AUTHOR_PRIV);
    let signers = [Signer {
        key: &key,
        alg: Algorithm::Esp256,
        kid: b"",
    }];
    seal_envelope(&manifest, &signers, &[], &[("#perso", perso)]).unwrap()
}

pub(crate) fn ta_img(version: u32, len: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..len as u32).map(|i| (i * 7 + version) as u8).collect();
    ta_image_with_body(TA, version, &body)
}

struct Sc {
    base: suit_common::service::store::MemoryStore,
    base_tas: Vec<Vec<u8>>,
    env2: Vec<u8>,
    c2: Vec<u8>,
    p2: Vec<u8>,
}

fn scenario() -> Sc {
    let (p1, p2) = (ta_img(1, 30_000), ta_img(2, 40_000));
    let mut s = device();
    let (i1, c1) = encrypt(&mut s, Cipher::Gcm, &p1);
    let (i2, c2) = encrypt(&mut s, Cipher::Gcm, &p2);
    let env1 = ta_and_perso(1, &p1, &i1, b"perso one");
    let env2 = ta_and_perso(2, &p2, &i2, b"perso two, longer");
    install_with(&mut s, &env1, &[(URI, &c1)]).unwrap();
    assert_eq!(personalization(&mut s).as_deref(), Some(&b"perso one"[..]));
    let base = s.backend().store().clone();
    let base_tas = s.backend().installed_tas.clone();
    // Sanity: env2 streams and installs.
    let mut t = restart(&base, &base_tas);
    install_with(&mut t, &env2, &[(URI, &c2)]).unwrap();
    assert_eq!(
        personalization(&mut t).as_deref(),
        Some(&b"perso two, longer"[..])
    );
    Sc {
        base,
        base_tas,
        env2,
        c2,
        p2,
    }
}

/// Every component's stored bytes hash to its record's digest.
fn contents_ok(s: &Service<Mem>) -> Result<(), String> {
    for c in state(s).components {
        if c.object.is_empty() {
            continue;
        }
        let b = s.backend().logical(&c.object).unwrap();
        match b {
            Some(b) if sha256(&b) == c.digest.to_vec() => {}
            other => {
                return Err(format!(
                    "{} ({:?}): holds {:?} bytes, record says {}",
                    c.object,
                    c.id,
                    other.map(|b| b.len()),
                    c.size
                ))
            }
        }
    }
    Ok(())
}

/// A failure the REE forges after any write of the install landed (the state write after
/// OP-TEE took the in-memory TA among them): no component object the stored state names is
/// emptied (review s39, high: the cleanup after a state write answered as failed ran against
/// the old state and emptied the new personalization object).
#[test]
fn a_failure_forged_after_any_write_of_a_streamed_ta_install_deletes_nothing_the_state_names() {
    let sc = scenario();
    let (mut hit, mut forged) = (0, 0);
    for n in 0..200 {
        let mut s = restart(&sc.base, &sc.base_tas);
        s.backend_mut().store_mut().forge_failure_at = Some(n);
        let r = install_with(&mut s, &sc.env2, &[(URI, &sc.c2)]);
        if s.backend().store().forge_failure_at.is_some() {
            break;
        }
        let when = format!("forged failure after write {n}");
        let gen_now = state(&s).generation;
        let reason = r.as_ref().err().map(|e| e.1.reason.clone());
        // The next command (a fresh session too).
        let mut t = restart(s.backend().store(), &s.backend().installed_tas);
        let _: StatusResponse = call(&mut t, Command::Status, &Empty {}).unwrap();
        let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        for (d, who) in [(&s, "same session"), (&t, "restarted")] {
            if let Err(e) = contents_ok(d) {
                eprintln!("{when} ({who}): gen {gen_now}: {e}\n  answer: {reason:?}");
                hit += 1;
            }
        }
        let awaiting = call::<_, StatusResponse>(&mut t, Command::Status, &Empty {})
            .unwrap()
            .service
            .awaiting_envelope
            .is_some();
        if state(&t).generation == 2 && !awaiting {
            assert_eq!(
                personalization(&mut t).as_deref(),
                Some(&b"perso two, longer"[..]),
                "{when}: the new state without its data"
            );
            assert_eq!(t.backend().installed_tas.last(), Some(&sc.p2), "{when}");
        }
        forged += 1;
    }
    assert!(forged > 5, "only {forged} forged failures");
    assert_eq!(
        hit, 0,
        "states whose component objects do not hold their recorded content"
    );
}

/// What a device may be in: awaiting (old state), new (OP-TEE holds p2), or old (OP-TEE holds
/// p1 or the TA is unconfirmed); every component's object holds its recorded content.
fn check(s: &mut Service<Mem>, sc: &Sc, p1_digest: &[u8], when: &str) -> &'static str {
    let status: StatusResponse = call(s, Command::Status, &Empty {}).unwrap();
    if let Err(e) = contents_ok(s) {
        panic!("{when}: {e}");
    }
    let st = state(s);
    let ta = st.components.iter().find(|c| c.id.len() == 1).unwrap();
    let unconfirmed = !st.unconfirmed_tas.is_empty();
    if status.service.awaiting_envelope.is_some() {
        assert_eq!(
            ta.digest.to_vec(),
            p1_digest,
            "{when}: awaiting but not old"
        );
        return "awaiting";
    }
    if ta.digest.to_vec() == sha256(&sc.p2) {
        assert_eq!(
            s.backend().installed_tas.last(),
            Some(&sc.p2),
            "{when}: new state, old TA"
        );
        assert!(!unconfirmed, "{when}");
        "new"
    } else {
        assert_eq!(ta.digest.to_vec(), p1_digest, "{when}");
        if s.backend().installed_tas.last() != Some(&ta_img(1, 30_000)) {
            assert!(
                unconfirmed,
                "{when}: old state, OP-TEE holds another TA, not marked"
            );
            "old-unconfirmed"
        } else {
            "old"
        }
    }
}

fn awaiting_device(sc: &Sc) -> Service<Mem> {
    for n in 0.. {
        let mut s = restart(&sc.base, &sc.base_tas);
        s.backend_mut().store_mut().power_cut_after = Some(n);
        let _ = install_with(&mut s, &sc.env2, &[(URI, &sc.c2)]);
        assert!(s.backend().store().powered_off);
        let mut s = restart(s.backend().store(), &s.backend().installed_tas);
        let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        if status.service.awaiting_envelope.is_some() {
            return s;
        }
    }
    unreachable!()
}

/// Faults (forged failures, plain failures, power cuts) at every write of the re-send and of
/// the abandon, from an awaiting device: awaiting, old (the TA unconfirmed unless OP-TEE holds
/// the old one) or new, in the same session and after a restart alike.
#[test]
fn faults_at_any_write_of_the_resend_or_the_abandon_leave_awaiting_old_or_new() {
    let sc = scenario();
    let p1d = sha256(&ta_img(1, 30_000));
    let base = awaiting_device(&sc);
    let (bstore, btas) = (
        base.backend().store().clone(),
        base.backend().installed_tas.clone(),
    );
    let digest = sha256(&sc.env2);
    let mut tally = std::collections::BTreeMap::new();
    for op in ["resend", "abandon"] {
        for mode in 0..3 {
            for n in 0..200 {
                let mut s = restart(&bstore, &btas);
                // Reach the awaiting gate first (reconcile), before arming.
                let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
                {
                    let st = s.backend_mut().store_mut();
                    match mode {
                        0 => st.forge_failure_at = Some(n),
                        1 => st.fail_once_at = Some(n),
                        _ => st.power_cut_after = Some(n),
                    }
                }
                let r = if op == "resend" {
                    install_with(&mut s, &sc.env2, &[(URI, &sc.c2)]).map(drop)
                } else {
                    call::<_, Empty>(
                        &mut s,
                        Command::InstallAbandon,
                        &InstallAbandonRequest {
                            envelope: digest.clone().into(),
                        },
                    )
                    .map(drop)
                };
                let st = s.backend().store();
                let fired = match mode {
                    0 => st.forge_failure_at.is_none(),
                    1 => st.fail_once_at.is_none(),
                    _ => st.powered_off,
                };
                if !fired {
                    r.unwrap();
                    break;
                }
                let when = format!(
                    "{op} mode {mode} at {n}: {:?}",
                    r.as_ref().err().map(|e| &e.1.reason)
                );
                if mode == 2 {
                    let mut t = restart(s.backend().store(), &s.backend().installed_tas);
                    let k = check(&mut t, &sc, &p1d, &when);
                    *tally.entry((op, mode, k)).or_insert(0) += 1;
                    goes_on(t, &sc, k, &when);
                } else {
                    s.backend_mut().store_mut().fail_once_at = None;
                    let k = check(&mut s, &sc, &p1d, &format!("{when} (same session)"));
                    let mut t = restart(s.backend().store(), &s.backend().installed_tas);
                    let k2 = check(&mut t, &sc, &p1d, &format!("{when} (restarted)"));
                    assert_eq!(k, k2, "{when}");
                    *tally.entry((op, mode, k)).or_insert(0) += 1;
                }
            }
        }
    }
    eprintln!("{tally:?}");
    for op in ["resend", "abandon"] {
        let ended = |k: &str| tally.iter().any(|((o, _, kind), _)| *o == op && *kind == k);
        assert!(
            ended("awaiting"),
            "{op}: no fault left it awaiting: {tally:?}"
        );
    }
    assert!(tally.keys().any(|(o, _, k)| *o == "resend" && *k == "new"));
    assert!(tally.keys().any(|(o, _, k)| *o == "abandon" && *k == "old"));
}

/// After a power cut in the re-send or the abandon, the device goes on: awaiting, the
/// envelope's re-send completes the commit; old (its TA unconfirmed or not), the update then
/// installs; new, it is a rollback. Then the next begin leaves no orphan (the abandoned or
/// completed commit's staged objects, the journal's record) and the new data is served.
fn goes_on(mut t: Service<Mem>, sc: &Sc, k: &str, when: &str) {
    if k == "new" {
        let r = refusal(install_with(&mut t, &sc.env2, &[(URI, &sc.c2)]));
        assert!(r.reason.contains("Rollback"), "{when}: {r:?}");
    } else {
        install_with(&mut t, &sc.env2, &[(URI, &sc.c2)])
            .unwrap_or_else(|e| panic!("{when} ({k}): {e:?}"));
    }
    assert!(t.backend().installed_tas.last() == Some(&sc.p2), "{when}");
    assert_eq!(
        personalization(&mut t).as_deref(),
        Some(&b"perso two, longer"[..]),
        "{when}"
    );
    crate::power_cut::assert_no_orphans(&mut t, when);
}

/// A cut that leaves the commit awaiting with OP-TEE already holding TA v2: the report is
/// refused (it would sign the old state, TA v1's digest, while OP-TEE runs v2: review s39).
#[test]
fn a_device_awaiting_its_envelope_signs_no_report() {
    let sc = scenario();
    let mut found = false;
    for n in 0.. {
        let mut s = restart(&sc.base, &sc.base_tas);
        s.backend_mut().store_mut().power_cut_after = Some(n);
        let _ = install_with(&mut s, &sc.env2, &[(URI, &sc.c2)]);
        assert!(s.backend().store().powered_off);
        let mut s = restart(s.backend().store(), &s.backend().installed_tas);
        let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        if status.service.awaiting_envelope.is_none() {
            continue;
        }
        if s.backend().installed_tas.last() != Some(&sc.p2) {
            continue;
        }
        let r: Result<ReportResponse, _> = call(
            &mut s,
            Command::Report,
            &ReportRequest {
                nonce: Some(vec![1; 8].into()),
                pre_auth: false,
            },
        );
        let refused = refusal(r);
        assert!(
            matches!(
                refused.fault,
                Some(suit_common::fault::Fault::Service(
                    suit_common::fault::ServiceFault::AwaitingEnvelope(_)
                ))
            ),
            "cut at {n}: {refused:?}"
        );
        found = true;
        break;
    }
    assert!(found);
}
