//! HSS-LMS signing for authors (`cose::hss_lms_keygen`, `hss_lms_sign`, features `author` and
//! `hss-lms`): keys are hbs-lms's own (the same key pair as hbs-lms's SHA-256 from the same
//! seed), every signature hands the advanced state to `persist` before it exists for the
//! caller, a state that cannot be persisted yields no signature, malformed private keys are
//! refused without reaching hbs-lms, and a `SigningKey::HssLms` block is exactly what the
//! device verifies (COSE_Sign1, alg -46 in the protected header).

use core::cell::RefCell;

use hbs_lms::{HssParameter, LmotsAlgorithm, LmsAlgorithm, Seed, Sha256_256};

use suit_common::cose::{
    create_auth_block, create_cose_sign, hss_lms_key_state, hss_lms_keygen, hss_lms_sign,
    verify_auth_block, Algorithm, CoseError, HssLevel, HssSignError, KeyMaterial, SigningKey,
    StatefulHssLms,
};

const PAYLOAD: &[u8] = b"\x82\x2f\x58\x20abcdefghijklmnopqrstuvwxyz012345";

fn h5(winternitz: u8) -> HssLevel {
    HssLevel {
        height: 5,
        winternitz,
    }
}

#[test]
fn keygen_is_hbs_lms_keygen_with_its_own_sha256() {
    let seed = [9u8; 32];
    let (private, public) = hss_lms_keygen(&[h5(4), h5(8)], &seed).unwrap();
    let params = [
        HssParameter::<Sha256_256>::new(LmotsAlgorithm::LmotsW4, LmsAlgorithm::LmsH5),
        HssParameter::<Sha256_256>::new(LmotsAlgorithm::LmotsW8, LmsAlgorithm::LmsH5),
    ];
    let (sk, vk) = hbs_lms::keygen::<Sha256_256>(&params, &Seed::from(seed), None).unwrap();
    assert_eq!(private.as_slice(), sk.as_slice());
    assert_eq!(public, vk.as_slice());
    let st = hss_lms_key_state(&private).unwrap();
    assert_eq!(st.levels, [h5(4), h5(8)]);
    assert_eq!((st.used, st.lifetime, st.remaining()), (0, 1024, 1024));
    assert_eq!(st.leaves(), [0, 0]);
    // A signature of ours verifies with hbs-lms's own SHA-256, and the engine's verifier.
    let mut next = Vec::new();
    let sig = hss_lms_sign(b"message", &private, &mut |n| {
        next = n.to_vec();
        Ok(())
    })
    .unwrap();
    hbs_lms::verify::<Sha256_256>(b"message", &sig, &public).unwrap();
    let st = hss_lms_key_state(&next).unwrap();
    assert_eq!((st.used, st.leaves()), (1, vec![0, 1]));
}

#[test]
fn unsupported_parameter_sets_are_refused() {
    for levels in [
        vec![],
        vec![HssLevel {
            height: 7,
            winternitz: 4,
        }],
        vec![HssLevel {
            height: 5,
            winternitz: 3,
        }],
        vec![h5(4); 9],
        // Heights adding up to 75: past what a u64 counts.
        vec![
            HssLevel {
                height: 25,
                winternitz: 8
            };
            3
        ],
    ] {
        assert_eq!(
            hss_lms_keygen(&levels, &[1; 32]).unwrap_err(),
            HssSignError::UnsupportedParameters,
            "{levels:?}"
        );
    }
}

#[test]
fn the_state_is_persisted_before_the_signature_exists_and_a_failure_yields_none() {
    let (private, public) = hss_lms_keygen(&[h5(4)], &[2; 32]).unwrap();
    // persist fails: no signature, whatever hbs-lms computed.
    let mut offered = None;
    let r = hss_lms_sign(b"m", &private, &mut |n| {
        offered = Some(n.to_vec());
        Err(())
    });
    assert_eq!(r.unwrap_err(), HssSignError::NotPersisted);
    assert_eq!(hss_lms_key_state(&offered.unwrap()).unwrap().used, 1);

    // Signing until the end: each state is one more, the last one wiped, then Exhausted.
    let mut key = private.to_vec();
    let mut leaves = Vec::new();
    for _ in 0..32 {
        let before = hss_lms_key_state(&key).unwrap();
        leaves.push(before.leaves()[0]);
        let mut next = None;
        let sig = hss_lms_sign(b"m", &key, &mut |n| {
            next = Some(n.to_vec());
            Ok(())
        })
        .unwrap();
        // q (RFC 8554 §5.4) is the state's leaf.
        assert_eq!(
            u32::from_be_bytes(sig[4..8].try_into().unwrap()),
            before.leaves()[0]
        );
        hbs_lms::verify::<Sha256_256>(b"m", &sig, &public).unwrap();
        key = next.unwrap();
    }
    assert_eq!(leaves, (0..32).collect::<Vec<u32>>());
    assert_eq!(
        hss_lms_key_state(&key).unwrap_err(),
        HssSignError::Exhausted
    );
    let mut called = false;
    let r = hss_lms_sign(b"m", &key, &mut |_| {
        called = true;
        Ok(())
    });
    assert_eq!(r.unwrap_err(), HssSignError::Exhausted);
    assert!(!called);
}

#[test]
fn malformed_private_keys_are_refused_before_hbs_lms_reads_them() {
    let (private, _) = hss_lms_keygen(&[h5(4), h5(4)], &[3; 32]).unwrap();
    let good = private.to_vec();
    let mut cases: Vec<(Vec<u8>, HssSignError)> = vec![
        (good[..47].to_vec(), HssSignError::MalformedKey),
        ([good.clone(), vec![0]].concat(), HssSignError::MalformedKey),
    ];
    let with = |at: usize, b: u8| {
        let mut k = good.clone();
        k[at] = b;
        k
    };
    // Unknown typecodes (LMS 4 and 10, LM-OTS 5 and 0), gaps in the levels, a count past
    // the end.
    cases.push((with(8, 0x43), HssSignError::MalformedKey));
    cases.push((with(8, 0xa3), HssSignError::MalformedKey));
    cases.push((with(8, 0x55), HssSignError::MalformedKey));
    cases.push((with(9, 0x50), HssSignError::MalformedKey));
    cases.push((with(8, 0xff), HssSignError::MalformedKey));
    cases.push((with(11, 0x53), HssSignError::MalformedKey));
    let mut past = good.clone();
    past[..8].copy_from_slice(&1024u64.to_be_bytes());
    cases.push((past, HssSignError::MalformedKey));
    // Every parameter byte a level (no 0xff left): 8 levels, a key.
    let mut eight = good.clone();
    eight[8..16].copy_from_slice(&[0x53; 8]);
    assert_eq!(hss_lms_key_state(&eight).unwrap().levels.len(), 8);
    let mut wiped = good.clone();
    wiped[8..16].copy_from_slice(&[0xff; 8]);
    cases.push((wiped, HssSignError::Exhausted));
    for (key, expected) in cases {
        assert_eq!(hss_lms_key_state(&key).unwrap_err(), expected, "{key:02x?}");
        let r = hss_lms_sign(b"m", &key, &mut |_| panic!("persist must not be reached"));
        assert_eq!(r.unwrap_err(), expected, "{key:02x?}");
    }
}

/// A `SigningKey::HssLms` over an in-memory state, as the author tool builds one over its
/// key file.
fn stateful(levels: &[HssLevel], seed: u8) -> (SigningKey, std::rc::Rc<RefCell<Vec<u8>>>) {
    let (private, public) = hss_lms_keygen(levels, &[seed; 32]).unwrap();
    let state = std::rc::Rc::new(RefCell::new(private.to_vec()));
    let inner = state.clone();
    let key = SigningKey::hss_lms(StatefulHssLms {
        public,
        sign: Box::new(move |m| {
            let current = inner.borrow().clone();
            hss_lms_sign(m, &current, &mut |n| {
                *inner.borrow_mut() = n.to_vec();
                Ok(())
            })
            .map_err(|_| CoseError::SigningFailed)
        }),
    });
    (key, state)
}

#[test]
fn hss_lms_blocks_are_what_the_device_verifies() {
    let (key, state) = stateful(&[h5(4), h5(4)], 4);
    let vk = key.verification_key();
    assert!(matches!(vk.material(), KeyMaterial::HssLms(_)));
    let block = create_auth_block(&key, Algorithm::HssLms, b"kid", PAYLOAD).unwrap();
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &vk),
        Ok(Algorithm::HssLms)
    );
    assert_eq!(
        verify_auth_block(&block, b"other", &vk),
        Err(CoseError::VerificationFailed)
    );
    // Tag 18, then the protected header: exactly {1: -46} (a1 01 38 2d).
    assert_eq!(&block[..7], b"\xd2\x84\x44\xa1\x01\x38\x2d");
    assert_eq!(hss_lms_key_state(&state.borrow()).unwrap().used, 1);
    let again = create_auth_block(&key, Algorithm::HssLms, b"kid", PAYLOAD).unwrap();
    assert_ne!(block, again);
    assert_eq!(hss_lms_key_state(&state.borrow()).unwrap().used, 2);
    // COSE_Sign with one HSS-LMS signer: the body's protected header names -46 too.
    let sign = create_cose_sign(&[(&key, Algorithm::HssLms, &b""[..])], PAYLOAD).unwrap();
    assert_eq!(&sign[..8], b"\xd8\x62\x84\x44\xa1\x01\x38\x2d");
    // An HSS-LMS key is for -46 only.
    assert_eq!(
        create_auth_block(&key, Algorithm::Esp256, b"", PAYLOAD).unwrap_err(),
        CoseError::KeyAlgorithmMismatch
    );
    // A signer whose signature does not match its public half is not used.
    let (other, _) = stateful(&[h5(4), h5(4)], 5);
    let SigningKey::HssLms(other) = other else {
        unreachable!()
    };
    let SigningKey::HssLms(mine) = key else {
        unreachable!()
    };
    let mismatched = SigningKey::hss_lms(StatefulHssLms {
        public: mine.public,
        sign: other.sign,
    });
    assert_eq!(
        create_auth_block(&mismatched, Algorithm::HssLms, b"", PAYLOAD).unwrap_err(),
        CoseError::SigningFailed
    );
}
