//! `suit::check`, the one pre-execution check the engine's `process` and the TA's install
//! session share: on the manifest-37 examples (tests/vectors/suit-manifest-spec), signed,
//! unsigned, forged and under narrowed policies, for both procedures and several stored
//! sequence numbers, it gives the verdict the separate checks gave before it existed, and
//! `process` refuses exactly what it refuses, with the same error, before any command runs.

use suit_common::suit::command::VendorId;
use suit_common::suit::error::{Error, PolicyError};
use suit_common::suit::policy::{self, Role};
use suit_common::suit::{check, process, Envelope, Policy, Procedure, Refusal};
use suit_test_support::*;

/// What the checks decide about one envelope.
#[derive(Debug, PartialEq)]
enum Verdict {
    Accepted,
    /// Refused by decoding or authentication.
    Unauthenticated(Error),
    /// Authentic, refused by policy or rollback.
    Refused(Error),
}

/// The checks as `process` and the install session's `prepare` each wrote them before
/// `suit::check` (the update-management step aside: none of these policies requires
/// authorization, so it accepts all).
fn reference(bytes: &[u8], procedure: Procedure, policy: &Policy, stored: Option<u64>) -> Verdict {
    let auth = match Envelope::decode(bytes).and_then(|e| e.authenticate(&policy.anchors)) {
        Ok(a) => a,
        Err(e) => return Verdict::Unauthenticated(e),
    };
    if let Err(e) = policy.check_manifest(&auth.manifest, &auth.signers) {
        return Verdict::Refused(e.into());
    }
    let offered = auth.manifest.sequence_number;
    let rollback = match procedure {
        Procedure::Update => policy::check_rollback(stored, offered).err(),
        Procedure::Invoke => stored
            .filter(|s| offered < *s)
            .map(|stored| PolicyError::Rollback { stored, offered }),
    };
    match rollback {
        Some(e) => Verdict::Refused(e.into()),
        None => Verdict::Accepted,
    }
}

fn verdict(bytes: &[u8], procedure: Procedure, policy: &Policy, stored: Option<u64>) -> Verdict {
    match check(bytes, procedure, policy, |_| Ok(stored)) {
        Ok(_) => Verdict::Accepted,
        Err(Refusal::Unauthenticated(e)) => Verdict::Unauthenticated(e),
        Err(Refusal::Refused(r)) => Verdict::Refused(r.error),
        Err(other) => panic!("unknown refusal {other:?}"),
    }
}

fn vector(name: &str) -> Vec<u8> {
    hex_file(&format!("suit-manifest-spec/{name}"))
}

/// (name, envelope, policy): the examples under the examples' key, plus forged and
/// narrowed-policy variants.
fn cases() -> Vec<(String, Vec<u8>, Policy)> {
    let mut cases: Vec<(String, Vec<u8>, Policy)> = SPEC_SIGNED
        .iter()
        .chain(&SPEC_UNSIGNED)
        .map(|n| (n.to_string(), vector(n), spec_policy()))
        .collect();
    // A signature byte changed (the 64 bytes before the manifest member 0x03 0x58 0x71).
    cases.push((
        "forged signature".into(),
        spec_example0_forged(),
        spec_policy(),
    ));
    // Truncated: not an envelope.
    let whole = vector("example1.signed.hex");
    cases.push((
        "truncated".into(),
        whole[..whole.len() / 2].to_vec(),
        spec_policy(),
    ));
    // Signed by a key the policy does not trust.
    let mut stranger = spec_policy();
    stranger.anchors = vec![anchor(9, p256_public_from_pem(OPERATOR_PUB), Role::Author)];
    cases.push((
        "unknown signer".into(),
        vector("example1.signed.hex"),
        stranger,
    ));
    // Authentic, but the signer may not speak for this vendor or component.
    let mut vendor = spec_policy();
    vendor.anchors[0].permissions.vendor_ids = vec![VendorId::Uuid([0x11; 16])];
    cases.push((
        "vendor not permitted".into(),
        vector("example1.signed.hex"),
        vendor,
    ));
    let mut component = spec_policy();
    component.anchors[0].permissions.component_prefixes = vec![cid(&[&[9]])];
    cases.push((
        "component not permitted".into(),
        vector("example5.signed.hex"),
        component,
    ));
    cases
}

#[test]
fn check_gives_the_verdicts_of_the_checks_it_replaced() {
    let mut seen = [0usize; 3];
    for (name, bytes, policy) in cases() {
        for procedure in [Procedure::Update, Procedure::Invoke] {
            for stored in [None, Some(0), Some(1), Some(2), Some(6)] {
                let want = reference(&bytes, procedure, &policy, stored);
                let got = verdict(&bytes, procedure, &policy, stored);
                assert_eq!(got, want, "{name}, {procedure:?}, stored {stored:?}");
                seen[match want {
                    Verdict::Accepted => 0,
                    Verdict::Unauthenticated(_) => 1,
                    Verdict::Refused(_) => 2,
                }] += 1;
            }
        }
    }
    // The table exercises every verdict, so agreement is not vacuous.
    assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
}

#[test]
fn process_refuses_exactly_what_check_refuses_before_any_command() {
    for (name, bytes, policy) in cases() {
        for procedure in [Procedure::Update, Procedure::Invoke] {
            for stored in [None, Some(1), Some(6)] {
                let mut dev = RecordingPlatform::spec_device();
                // The stored number under this envelope's rollback key, if it has one.
                if let (Some(s), Ok(a)) = (
                    stored,
                    Envelope::decode(&bytes).and_then(|e| e.authenticate(&policy.anchors)),
                ) {
                    dev.sequence.insert(a.manifest.rollback_key(), s);
                }
                let at = format!("{name}, {procedure:?}, stored {stored:?}");
                let result = process(&bytes, procedure, &policy, &no_keys(), &mut dev);
                match verdict(&bytes, procedure, &policy, stored) {
                    Verdict::Unauthenticated(e) | Verdict::Refused(e) => {
                        assert_eq!(result.unwrap_err(), e, "{at}");
                        assert_eq!(dev.log, vec![Effect::Discard], "{at}: a command ran");
                    }
                    Verdict::Accepted => {
                        // Whatever execution then decides, no pre-execution check refused.
                        if let Err(e) = &result {
                            assert!(
                                !matches!(
                                    e,
                                    Error::Decode { .. } | Error::Auth(_) | Error::Policy(_)
                                ),
                                "{at}: {e:?}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn checked_lists_the_detached_payloads_and_their_bounds() {
    // example1 fetches http://example.com/file.bin into a component of image size 34768;
    // example0 fetches nothing.
    let policy = spec_policy();
    let one = vector("example1.signed.hex");
    let checked = check(&one, Procedure::Update, &policy, |_| Ok(None)).unwrap();
    let uris = checked.payload_uris();
    assert_eq!(uris, vec!["http://example.com/file.bin".to_string()]);
    assert_eq!(checked.fetch_bounds(&uris), vec![Some(34768)]);
    let zero = vector("example0.signed.hex");
    let checked = check(&zero, Procedure::Invoke, &policy, |_| Ok(None)).unwrap();
    assert!(checked.payload_uris().is_empty());
}

#[test]
fn a_platform_error_reading_the_stored_number_is_a_refusal_of_the_authentic_manifest() {
    let bytes = vector("example1.signed.hex");
    let err = check(&bytes, Procedure::Update, &spec_policy(), |_| {
        Err(suit_common::suit::platform::PlatformError::Io)
    })
    .unwrap_err();
    match err {
        Refusal::Refused(r) => {
            assert_eq!(
                r.error,
                Error::Platform(suit_common::suit::platform::PlatformError::Io)
            );
            assert_eq!(r.auth.manifest.sequence_number, 1);
        }
        other => panic!("{other:?}"),
    }
}
