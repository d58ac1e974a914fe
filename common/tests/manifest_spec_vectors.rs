//! Conformance against the draft-ietf-suit-manifest-37 examples (tests/vectors/suit-manifest-spec).
//!
//! Every signed example authenticates with the examples' key, the unsigned ones are refused,
//! severed members are checked against their digests, and each example's command sequences run
//! on a recording platform. The examples' image digests are dummies, so runs with the original
//! bytes must stop at the first image-match; runs with the dummy digest replaced by the real one
//! (and the manifest re-signed with the examples' private key) must go through.

use suit_common::cose::Algorithm;
use suit_common::suit::error::{
    AuthError, CommandErrorKind, ConditionKind, Error, PolicyError, Section,
};
use suit_common::suit::manifest::Severable;
use suit_common::suit::platform::Event;
use suit_common::suit::{process, Digest, Envelope, Procedure};
use suit_test_support::*;

const SIGNED: [(&str, u64); 7] = [
    ("example0.signed.hex", 0),
    ("example1.signed.hex", 1),
    ("example2.signed.hex", 2),
    ("example2.signed-severed.hex", 2),
    ("example3.signed.hex", 3),
    ("example4.signed.hex", 4),
    ("example5.signed.hex", 5),
];

fn vector(name: &str) -> Vec<u8> {
    hex_file(&format!("suit-manifest-spec/{name}"))
}

/// Re-signs `manifest` with the examples' private key.
fn reseal(manifest: &[u8]) -> Vec<u8> {
    let key = p256_private_from_pem("suit-manifest-spec/private_key.pem");
    seal_one(manifest, &key, Algorithm::Es256, &[], &[])
}

/// `example`'s manifest with the digest `from` replaced by `image`'s, re-signed with the
/// example key (the published examples name a dummy image).
fn resealed_for(example: &str, from: &[u8], image: &[u8]) -> Vec<u8> {
    reseal(&replace_all(
        &manifest_of(&vector(example)),
        from,
        &Digest::sha256(image).0,
    ))
}

/// Updates a device from `example` re-signed for an image of seed `seed` served at
/// http://example.com/file.bin: (image, envelope, device, outcome).
fn update_resealed(
    example: &str,
    seed: u8,
) -> (
    Vec<u8>,
    Vec<u8>,
    RecordingPlatform,
    suit_common::suit::Outcome,
) {
    let image = payload(34768, seed);
    let env = resealed_for(example, &DUMMY_DIGEST, &image);
    let mut dev = serving(&[("http://example.com/file.bin", &image)]);
    let out = spec_process(&env, Procedure::Update, &mut dev).unwrap();
    (image, env, dev, out)
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The examples' device, serving `files` (URI, content).
fn serving(files: &[(&str, &[u8])]) -> RecordingPlatform {
    let mut dev = RecordingPlatform::spec_device();
    for (uri, data) in files {
        dev.remote.insert((*uri).into(), data.to_vec());
    }
    dev
}

fn command_error(e: Error) -> (Section, Vec<u16>, CommandErrorKind) {
    match e {
        Error::Command(c) => (c.location.section, c.location.path, c.kind),
        other => panic!("expected a command error, got {other:?}"),
    }
}

/// The manifest of `envelope`, authenticated with the examples' key.
fn authentic(envelope: &[u8]) -> suit_common::suit::manifest::Manifest {
    let auth = Envelope::decode(envelope).unwrap();
    auth.authenticate(&spec_policy().anchors).unwrap().manifest
}

/// The shared sequence's vendor and class checks, both passing.
fn ids_checked() -> Vec<(ConditionKind, bool)> {
    vec![
        (ConditionKind::VendorIdentifier, true),
        (ConditionKind::ClassIdentifier, true),
    ]
}

/// Asserts that `e` is the command error `kind` at command `path` of `section`.
fn assert_command_error(e: Error, section: Section, path: &[u16], kind: CommandErrorKind) {
    let (s, p, k) = command_error(e);
    assert_eq!(s, section);
    assert_eq!(p, path);
    assert_eq!(k, kind);
}

/// The examples' dummy image digest does not match.
const IMAGE_MISMATCH: CommandErrorKind =
    CommandErrorKind::ConditionFailed(ConditionKind::ImageMatch);

#[test]
fn every_signed_example_authenticates_with_the_example_key() {
    let policy = spec_policy();
    for (name, seq) in SIGNED {
        let bytes = vector(name);
        let env = Envelope::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let claimed = env.claimed_digest();
        let auth = env
            .authenticate(&policy.anchors)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(auth.signers, vec![1], "{name}");
        assert_eq!(auth.manifest.sequence_number, seq, "{name}");
        assert_eq!(auth.digest, claimed, "{name}");
        let expected_components = if name.starts_with("example4") {
            3
        } else if name.starts_with("example5") {
            2
        } else {
            1
        };
        assert_eq!(
            auth.manifest.common.components.len(),
            expected_components,
            "{name}"
        );
    }
}

#[test]
fn every_unsigned_example_is_refused() {
    let policy = spec_policy();
    for name in SPEC_UNSIGNED {
        let bytes = vector(name);
        let err = auth_refusal(&bytes, &policy);
        assert_eq!(err, Error::Auth(AuthError::NoAuthenticationBlock), "{name}");
        let mut dev = RecordingPlatform::spec_device();
        let err = process(&bytes, Procedure::Update, &policy, &no_keys(), &mut dev).unwrap_err();
        assert_eq!(err, Error::Auth(AuthError::NoAuthenticationBlock));
        assert_eq!(
            dev.log,
            vec![Effect::Discard],
            "{name}: no effect but discard"
        );
    }
}

#[test]
fn example2_severable_members_are_restored_or_reported_severed() {
    let policy = spec_policy();
    let full = vector("example2.signed.hex");
    let m = authentic(&full);
    assert!(matches!(m.install, Severable::Present(ref s) if s.commands.len() == 3));
    assert!(matches!(m.text, Severable::Present(_)));

    let severed = vector("example2.signed-severed.hex");
    let m = authentic(&severed);
    assert!(matches!(m.install, Severable::Severed(_)));
    assert!(matches!(m.text, Severable::Severed(_)));
    assert_eq!(m.reference_uri.as_deref(), Some("https://git.io/JJYoj"));

    // An update needs the install section, which was severed and not supplied.
    let mut dev = RecordingPlatform::spec_device();
    let err = process(&severed, Procedure::Update, &policy, &no_keys(), &mut dev).unwrap_err();
    assert_eq!(err, Error::SeveredSectionMissing(Section::Install));
    assert!(dev.discarded() && !dev.committed());
}

#[test]
fn example0_secure_boot_stops_at_dummy_digest() {
    let mut dev = RecordingPlatform::spec_device();
    dev.installed.insert(cid(&[&[0]]), payload(34768, 1));
    let example0 = vector("example0.signed.hex");
    let err = spec_process(&example0, Procedure::Invoke, &mut dev).unwrap_err();
    assert_command_error(err, Section::Validate, &[0], IMAGE_MISMATCH);
    let image_match = (ConditionKind::ImageMatch, false);
    assert_eq!(
        dev.conditions(),
        [ids_checked(), vec![image_match]].concat()
    );
    assert!(!dev.log.contains(&Effect::Invoke(cid(&[&[0]]))));
    assert!(dev.discarded());
}

#[test]
fn example0_secure_boot_invokes_a_matching_image() {
    let image = payload(34768, 1);
    let env = resealed_for("example0.signed.hex", &DUMMY_DIGEST, &image);
    let mut dev = RecordingPlatform::spec_device();
    dev.installed.insert(cid(&[&[0]]), image);
    let out = spec_process(&env, Procedure::Invoke, &mut dev).unwrap();
    assert_eq!(out.invoked, vec![cid(&[&[0]])]);
    assert_eq!(out.sequence_number, 0);
    let image_match = (ConditionKind::ImageMatch, true);
    // The invoke section runs the shared sequence again, then invokes.
    let expected = [ids_checked(), vec![image_match], ids_checked()].concat();
    assert_eq!(dev.conditions(), expected);
    assert_eq!(dev.directives(), vec![(Event::Invoke, cid(&[&[0]]), true)]);
    assert!(dev.committed());
}

#[test]
fn example1_update_fetches_then_refuses_dummy_digest_without_committing() {
    let mut dev = serving(&[("http://example.com/file.bin", &payload(34768, 2))]);
    let err =
        spec_process(&vector("example1.signed.hex"), Procedure::Update, &mut dev).unwrap_err();
    assert_command_error(err, Section::Install, &[2], IMAGE_MISMATCH);
    assert!(dev
        .log
        .contains(&Effect::FetchOpen("http://example.com/file.bin".into())));
    assert!(dev.discarded() && !dev.committed());
    assert!(dev.installed.is_empty());
    assert!(dev.sequence.is_empty());
}

#[test]
fn example1_update_installs_matching_payload_and_stores_sequence_number() {
    let (image, env, mut dev, out) = update_resealed("example1.signed.hex", 2);
    assert_eq!(out.committed, vec![cid(&[&[0]])]);
    assert_eq!(
        dev.log,
        vec![
            // install: shared sequence, then override(uri), fetch, image-match
            cond(Section::Shared, ConditionKind::VendorIdentifier),
            cond(Section::Shared, ConditionKind::ClassIdentifier),
            Effect::FetchOpen("http://example.com/file.bin".into()),
            Effect::StageOpen(cid(&[&[0]])),
            Effect::Directive {
                depth: 0,
                section: Section::Install,
                event: Event::Fetch,
                component: cid(&[&[0]]),
                ok: true
            },
            cond(Section::Install, ConditionKind::ImageMatch),
            // validate
            cond(Section::Shared, ConditionKind::VendorIdentifier),
            cond(Section::Shared, ConditionKind::ClassIdentifier),
            cond(Section::Validate, ConditionKind::ImageMatch),
            Effect::Commit,
        ]
    );
    assert_eq!(dev.installed.get(&cid(&[&[0]])), Some(&image));
    assert_eq!(dev.sequence.values().copied().collect::<Vec<_>>(), vec![1]);

    // The same manifest again is a rollback (sequence number not greater than stored).
    let err = spec_process(&env, Procedure::Update, &mut dev).unwrap_err();
    assert_eq!(err, rollback(1, 1));
}

fn cond(section: Section, kind: ConditionKind) -> Effect {
    Effect::Condition {
        depth: 0,
        section,
        kind,
        component: Some(cid(&[&[0]])),
        ok: true,
    }
}

#[test]
fn example2_update_uses_severed_install_from_envelope() {
    let uri = "http://example.com/very/long/path/to/file/file.bin";
    let mut dev = serving(&[(uri, &payload(34768, 3))]);
    let err =
        spec_process(&vector("example2.signed.hex"), Procedure::Update, &mut dev).unwrap_err();
    // install (restored from the envelope) = [override(uri), fetch, image-match(dummy)].
    assert_command_error(err, Section::Install, &[2], IMAGE_MISMATCH);
    assert!(dev.log.contains(&Effect::FetchOpen(uri.into())));
    assert!(!dev.committed());
}

#[test]
fn example3_try_each_selects_the_free_slot() {
    let slot1_digest: [u8; 32] =
        hex::decode("0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff")
            .unwrap()
            .try_into()
            .unwrap();
    let image = payload(76834, 4);
    let env = resealed_for("example3.signed.hex", &slot1_digest, &image);
    let mut dev = serving(&[
        ("http://example.com/file2.bin", &image),
        ("http://example.com/file1.bin", &payload(34768, 5)),
    ]);
    dev.slots.insert(cid(&[&[0]]), 1);
    let out = spec_process(&env, Procedure::Update, &mut dev).unwrap();
    assert_eq!(out.committed, vec![cid(&[&[0]])]);
    let fetched: Vec<_> = dev
        .log
        .iter()
        .filter_map(|e| match e {
            Effect::FetchOpen(u) => Some(u.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(fetched, vec!["http://example.com/file2.bin"]);
    // Shared: slot 0 fails (soft), slot 1 matches, vendor, class; install: same try-each.
    let slots: Vec<bool> = dev
        .conditions()
        .into_iter()
        .filter(|(k, _)| *k == ConditionKind::ComponentSlot)
        .map(|(_, ok)| ok)
        .collect();
    assert_eq!(slots[..4], [false, true, false, true]);
    assert_eq!(dev.installed.get(&cid(&[&[0]])), Some(&image));
}

#[test]
fn example3_without_matching_slot_fails_try_each() {
    let mut dev = RecordingPlatform::spec_device();
    dev.slots.insert(cid(&[&[0]]), 7);
    let err =
        spec_process(&vector("example3.signed.hex"), Procedure::Update, &mut dev).unwrap_err();
    assert_command_error(
        err,
        Section::Shared,
        &[1],
        CommandErrorKind::TryEachExhausted,
    );
    assert!(!dev.log.iter().any(|e| matches!(e, Effect::FetchOpen(_))));
}

#[test]
fn example4_fetch_to_external_storage_then_copy_install() {
    let (image, _, dev, out) = update_resealed("example4.signed.hex", 6);
    assert_eq!(out.committed, vec![cid(&[&[2]]), cid(&[&[0]])]);
    assert_eq!(
        dev.directives(),
        vec![
            (Event::Fetch, cid(&[&[2]]), true),
            (Event::Copy, cid(&[&[0]]), true),
        ]
    );
    assert_eq!(dev.installed.get(&cid(&[&[0]])), Some(&image));
    assert_eq!(dev.installed.get(&cid(&[&[2]])), Some(&image));
}

#[test]
fn example5_two_images_update_then_boot() {
    let img0 = payload(34768, 7);
    let img1 = payload(76834, 8);
    let d1: [u8; 32] =
        hex::decode("0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff")
            .unwrap()
            .try_into()
            .unwrap();
    let m = manifest_of(&vector("example5.signed.hex"));
    let m = replace_all(&m, &DUMMY_DIGEST, &Digest::sha256(&img0).0);
    let m = replace_all(&m, &d1, &Digest::sha256(&img1).0);
    let env = reseal(&m);
    let mut dev = serving(&[
        ("http://example.com/file1.bin", &img0),
        ("http://example.com/file2.bin", &img1),
    ]);
    let out = spec_process(&env, Procedure::Update, &mut dev).unwrap();
    assert_eq!(out.committed, vec![cid(&[&[0]]), cid(&[&[1]])]);
    assert_eq!(dev.installed.get(&cid(&[&[1]])), Some(&img1));

    dev.log.clear();
    let out = spec_process(&env, Procedure::Invoke, &mut dev).unwrap();
    assert_eq!(out.invoked, vec![cid(&[&[0]])]);
    assert_eq!(
        dev.conditions()
            .iter()
            .filter(|(k, ok)| *k == ConditionKind::ImageMatch && *ok)
            .count(),
        2
    );
}

// ---- negative tests built from the vectors ----

#[test]
fn modified_signature_is_refused() {
    let bytes = spec_example0_forged();
    let mut dev = RecordingPlatform::spec_device();
    let err = spec_process(&bytes, Procedure::Invoke, &mut dev).unwrap_err();
    assert_eq!(err, Error::Auth(AuthError::BadSignature { block: 0 }));
    assert_eq!(dev.log, vec![Effect::Discard]);
}

#[test]
fn modified_manifest_fails_the_digest() {
    let bytes = vector("example1.signed.hex");
    // Change the sequence number inside the manifest (1 -> 9): the digest no longer matches.
    let tampered = replace_all(
        &bytes,
        &[0x01, 0x01, 0x02, 0x01, 0x03],
        &[0x01, 0x01, 0x02, 0x09, 0x03],
    );
    let mut dev = RecordingPlatform::spec_device();
    let err = spec_process(&tampered, Procedure::Update, &mut dev).unwrap_err();
    assert_eq!(err, Error::Auth(AuthError::ManifestDigestMismatch));

    // Changing the claimed digest instead breaks it the other way round.
    let digest_hex = "6a5197ed8f9dccf733d1c89a359441708e070b4c6dcb9a1c2c82c6165f609b90";
    let d = hex::decode(digest_hex).unwrap();
    let mut d2 = d.clone();
    d2[0] ^= 0xff;
    let tampered = replace_all(&vector("example2.signed.hex"), &d, &d2);
    let err = auth_refusal(&tampered, &spec_policy());
    assert_eq!(err, Error::Auth(AuthError::ManifestDigestMismatch));
}

#[test]
fn wrong_key_is_refused() {
    let policy = policy_of(vec![anchor(
        9,
        p256_public_from_pem("suit-firmware-encryption/dependent_manifest_signer_es256_pub.pem"),
        suit_common::suit::policy::Role::Author,
    )]);
    let err = auth_refusal(&vector("example0.signed.hex"), &policy);
    assert_eq!(err, Error::Auth(AuthError::BadSignature { block: 0 }));
}

#[test]
fn rollback_fails_without_side_effects() {
    let bytes = vector("example1.signed.hex");
    let key = authentic(&bytes).rollback_key();
    let mut dev = serving(&[("http://example.com/file.bin", &payload(34768, 2))]);
    dev.sequence.insert(key, 5);
    let err = spec_process(&bytes, Procedure::Update, &mut dev).unwrap_err();
    assert_eq!(err, rollback(5, 1));
    assert_eq!(dev.log, vec![Effect::Discard]);
}

#[test]
fn wrong_vendor_or_class_fails_before_any_fetch() {
    for wrong_vendor in [true, false] {
        let mut dev = serving(&[("http://example.com/file.bin", &payload(34768, 2))]);
        if wrong_vendor {
            dev.vendor[0] ^= 1;
        } else {
            dev.class[15] ^= 1;
        }
        let err =
            spec_process(&vector("example1.signed.hex"), Procedure::Update, &mut dev).unwrap_err();
        let (path, failed) = if wrong_vendor {
            (1, ConditionKind::VendorIdentifier)
        } else {
            (2, ConditionKind::ClassIdentifier)
        };
        let failed = CommandErrorKind::ConditionFailed(failed);
        assert_command_error(err, Section::Shared, &[path], failed);
        assert!(!dev
            .log
            .iter()
            .any(|e| matches!(e, Effect::FetchOpen(_) | Effect::StageOpen(_))));
        assert!(dev.discarded() && !dev.committed());
    }
}

#[test]
fn modified_vendor_id_in_resigned_manifest_is_refused() {
    // Authentic (re-signed) but for another vendor: refused by the vendor condition.
    let mut other = VENDOR_ID;
    other[3] ^= 0x80;
    let m = replace_all(
        &manifest_of(&vector("example0.signed.hex")),
        &VENDOR_ID,
        &other,
    );
    let env = reseal(&m);
    let mut dev = RecordingPlatform::spec_device();
    let err = spec_process(&env, Procedure::Invoke, &mut dev).unwrap_err();
    let (_, _, kind) = command_error(err);
    assert_eq!(
        kind,
        CommandErrorKind::ConditionFailed(ConditionKind::VendorIdentifier)
    );
}

#[test]
fn vendor_or_component_outside_signer_permissions_is_refused_by_policy() {
    type Narrow = fn(&mut suit_common::suit::policy::Permissions);
    let cases: [(&str, Narrow, PolicyError); 2] = [
        (
            "vendor id",
            |p| p.vendor_ids = vec![suit_common::suit::command::VendorId::Uuid([0x11; 16])],
            PolicyError::IdentifierNotPermitted,
        ),
        (
            "component",
            |p| p.component_prefixes = vec![cid(&[&[9]])],
            PolicyError::ComponentNotPermitted { component: 0 },
        ),
    ];
    for (case, narrow, expected) in cases {
        let mut policy = spec_policy();
        narrow(&mut policy.anchors[0].permissions);
        let mut dev = RecordingPlatform::spec_device();
        let envelope = vector("example0.signed.hex");
        let err = process(&envelope, Procedure::Invoke, &policy, &no_keys(), &mut dev);
        assert_eq!(err.unwrap_err(), Error::Policy(expected), "{case}");
        assert_eq!(dev.log, vec![Effect::Discard], "{case}");
    }
}

#[test]
fn modified_severed_member_is_refused() {
    let bytes = vector("example2.signed.hex");
    // Flip a byte of the text member (the envelope's last bytes are its text).
    let mut tampered = bytes.clone();
    let n = tampered.len();
    tampered[n - 3] ^= 0x20;
    let err = auth_refusal(&tampered, &spec_policy());
    assert_eq!(
        err,
        Error::Auth(AuthError::SeveredMemberDigestMismatch { member: 23 })
    );
}

#[test]
fn truncations_and_bit_flips_never_panic() {
    let policy = spec_policy();
    for (name, _) in SIGNED {
        let bytes = vector(name);
        for cut in (0..bytes.len()).step_by(7) {
            let _ = Envelope::decode(&bytes[..cut]).and_then(|e| e.authenticate(&policy.anchors));
        }
        for i in (0..bytes.len()).step_by(3) {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            let mut dev = RecordingPlatform::spec_device();
            let r = process(&b, Procedure::Update, &policy, &no_keys(), &mut dev);
            assert!(r.is_err() || dev.committed());
        }
    }
}
