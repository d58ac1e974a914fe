//! Conformance against the suit-firmware-encryption manifests
//! (tests/vectors/suit-firmware-encryption): COSE_Mac0 and ESP256 authentication, payload
//! decryption wired through the interpreter, and the two-signer dependency example
//! (trust domains).

use base64::Engine as _;
use suit_common::cose::VerificationKey;
use suit_common::encryption::MemoryKeys;
use suit_common::suit::decrypt::KeySource;
use suit_common::suit::error::{
    AuthError, CommandErrorKind, ConditionKind, Error, PolicyError, Section,
};
use suit_common::suit::platform::Event;
use suit_common::suit::policy::{ComponentRule, Policy, Requirement, Role};
use suit_common::suit::{process, Envelope, Outcome, Procedure};
use suit_test_support::*;

const PLAINTEXT: &[u8] = b"This is a real firmware image.";

// The draft's manifests (under tests/vectors/suit-firmware-encryption).
const AES_KW_CONTENT: &str = "suit-manifest-aes-kw-content.hex.signed";
const AES_KW: &str = "suit-manifest-aes-kw.hex.signed";
const ES_ECDH_CONTENT: &str = "suit-manifest-es-ecdh-content.hex.signed";
const ES_ECDH_DEPENDENCY: &str = "suit-manifest-es-ecdh-dependency.hex.signed";

fn vector(name: &str) -> Vec<u8> {
    hex_file(&format!("suit-firmware-encryption/{name}"))
}

fn hmac_policy() -> Policy {
    let key = VerificationKey::hmac256(&read("suit-firmware-encryption/hmac256_key.bin")).unwrap();
    policy_of(vec![anchor(1, key, Role::Operator)])
}

const AUTHOR: u32 = 1;
const OPERATOR: u32 = 2;

fn author_key() -> VerificationKey {
    p256_public_from_pem("suit-firmware-encryption/signer_es256_pub.pem")
}

fn operator_key() -> VerificationKey {
    p256_public_from_pem("suit-firmware-encryption/dependent_manifest_signer_es256_pub.pem")
}

fn two_party_policy() -> Policy {
    policy_of(vec![
        anchor(AUTHOR, author_key(), Role::Author),
        anchor(OPERATOR, operator_key(), Role::Operator),
    ])
}

/// `suit::process` (update) of the vector `name` on `dev`.
fn update_on(
    name: &str,
    policy: &Policy,
    keys: &dyn KeySource,
    dev: &mut RecordingPlatform,
) -> Result<Outcome, Error> {
    process(&vector(name), Procedure::Update, policy, keys, dev)
}

/// [`update_on`] a fresh device with [`device_keys`]: the result and the device.
fn update(name: &str, policy: &Policy) -> (Result<Outcome, Error>, RecordingPlatform) {
    let mut dev = RecordingPlatform::default();
    let r = update_on(name, policy, &device_keys(), &mut dev);
    (r, dev)
}

/// A fresh device serving `ciphertext` where the AES-KW manifest fetches it from.
fn serving(ciphertext: Vec<u8>) -> RecordingPlatform {
    let mut dev = RecordingPlatform::default();
    dev.remote
        .insert("coaps://example.com/encrypted-firmware".into(), ciphertext);
    dev
}

/// The draft's AES-KW encrypted payload.
fn aes_kw_ciphertext() -> Vec<u8> {
    read("suit-firmware-encryption/encrypted-payload-aes-kw-aes-gcm.bin")
}

/// What `dev` installed (`staged` false) or discarded from staging, as `component`.
fn image<'a>(dev: &'a RecordingPlatform, component: &str, staged: bool) -> Option<&'a [u8]> {
    let images = if staged {
        &dev.discarded_staged
    } else {
        &dev.installed
    };
    images.get(&plain(component)).map(Vec::as_slice)
}

fn device_keys() -> MemoryKeys {
    let mut keys = MemoryKeys::new();
    keys.add_kek(Some(b"kid-1"), b"aaaaaaaaaaaaaaaa").unwrap();
    let d = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode("YP5t1thdV0ClNJtvkSZ-6sW6gbjLU-4knktOsQLEdrM")
        .unwrap();
    keys.add_ecdh_p256(Some(b"kid-2"), &d).unwrap();
    keys
}

fn plain(name: &str) -> suit_common::suit::ComponentId {
    cid(&[name.as_bytes()])
}

#[test]
fn mac0_manifests_authenticate_with_the_hmac_key() {
    for name in [
        AES_KW_CONTENT,
        AES_KW,
        "suit-manifest-aes-kw-slot.hex.signed",
    ] {
        let bytes = vector(name);
        let auth = Envelope::decode(&bytes)
            .unwrap()
            .authenticate(&hmac_policy().anchors)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(auth.signers, vec![1]);
        assert_eq!(auth.manifest.sequence_number, 1);
    }
    // A different HMAC key does not verify.
    let wrong = policy_of(vec![anchor(
        1,
        VerificationKey::hmac256(&[0x62; 32]).unwrap(),
        Role::Operator,
    )]);
    let err = Envelope::decode(&vector(AES_KW))
        .unwrap()
        .authenticate(&wrong.anchors)
        .unwrap_err();
    assert_eq!(err, Error::Auth(AuthError::BadSignature { block: 0 }));
    // A signature key cannot stand in for a MAC key.
    let err = Envelope::decode(&vector(AES_KW))
        .unwrap()
        .authenticate(&two_party_policy().anchors)
        .unwrap_err();
    assert_eq!(err, Error::Auth(AuthError::NoMatchingTrustAnchor));
}

#[test]
fn esp256_manifest_authenticates_with_the_signer_key() {
    let bytes = vector(ES_ECDH_CONTENT);
    let auth = Envelope::decode(&bytes)
        .unwrap()
        .authenticate(&two_party_policy().anchors)
        .unwrap();
    assert_eq!(auth.signers, vec![AUTHOR]);
}

/// The same policy demanding a plaintext digest for every decrypted payload.
fn strict(mut p: Policy) -> Policy {
    p.require_plaintext_digest = true;
    p
}

#[test]
fn aes_kw_write_installs_without_an_image_digest_as_the_draft_allows() {
    // Ciphertext in suit-parameter-content (inside the signed manifest) and AES-GCM: the
    // draft's decision tree needs no further digest.
    let (out, dev) = update(AES_KW_CONTENT, &hmac_policy());
    let out = out.unwrap();
    assert_eq!(out.committed, vec![plain("plaintext-firmware")]);
    assert_eq!(
        dev.directives(),
        vec![(Event::Write, plain("plaintext-firmware"), true)]
    );
    assert_eq!(image(&dev, "plaintext-firmware", false), Some(PLAINTEXT));
    // A device policy demanding a plaintext digest refuses it, and commits nothing.
    let (err, dev) = update(AES_KW_CONTENT, &strict(hmac_policy()));
    let err = err.unwrap_err();
    assert_eq!(err, Error::UnverifiedPlaintext(plain("plaintext-firmware")));
    assert!(!dev.committed() && dev.installed.is_empty());
}

#[test]
fn aes_kw_fetch_then_copy_decrypts_into_the_plaintext_component() {
    let run = |policy: &Policy| {
        let mut dev = serving(aes_kw_ciphertext());
        let r = update_on(AES_KW, policy, &device_keys(), &mut dev);
        (r, dev)
    };
    let (out, dev) = run(&hmac_policy());
    let out = out.unwrap();
    assert_eq!(
        dev.directives(),
        vec![
            (Event::Fetch, plain("encrypted-firmware"), true),
            (Event::Copy, plain("plaintext-firmware"), true),
        ]
    );
    // AES-GCM authenticated the plaintext; the ciphertext buffer is not installed.
    assert_eq!(out.committed, vec![plain("plaintext-firmware")]);
    assert_eq!(image(&dev, "plaintext-firmware", false), Some(PLAINTEXT));
    assert!(!dev.installed.contains_key(&plain("encrypted-firmware")));
    let (err, dev) = run(&strict(hmac_policy()));
    assert_eq!(
        err.unwrap_err(),
        Error::UnverifiedPlaintext(plain("plaintext-firmware"))
    );
    assert_eq!(image(&dev, "plaintext-firmware", true), Some(PLAINTEXT));
}

#[test]
fn wrong_kek_fails_the_copy_with_a_decrypt_error() {
    let mut keys = MemoryKeys::new();
    keys.add_kek(Some(b"kid-1"), b"bbbbbbbbbbbbbbbb").unwrap();
    let mut dev = serving(aes_kw_ciphertext());
    let err = update_on(AES_KW, &hmac_policy(), &keys, &mut dev);
    match err.unwrap_err() {
        Error::Command(c) => {
            assert_eq!(c.location.section, Section::Install);
            assert_eq!(c.location.path, vec![5]);
            assert!(
                matches!(c.kind, CommandErrorKind::Decrypt(_)),
                "{:?}",
                c.kind
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!dev.committed());
}

#[test]
fn tampered_ciphertext_fails_authentication_of_the_payload() {
    let mut ct = aes_kw_ciphertext();
    ct[3] ^= 1;
    let mut dev = serving(ct);
    let keys = device_keys();
    let err = update_on(AES_KW, &hmac_policy(), &keys, &mut dev);
    let err = err.unwrap_err();
    assert!(
        matches!(err, Error::Command(ref c) if matches!(c.kind, CommandErrorKind::Decrypt(_))),
        "{err:?}"
    );
    assert!(!dev.committed());
}

#[test]
fn es_ecdh_write_decrypts_with_the_device_key() {
    let (out, dev) = update(ES_ECDH_CONTENT, &two_party_policy());
    let out = out.unwrap();
    assert_eq!(out.committed, vec![plain("decrypted-firmware")]);
    assert_eq!(image(&dev, "decrypted-firmware", false), Some(PLAINTEXT));
}

#[test]
fn dependency_example_installs_through_two_trust_domains() {
    let (out, dev) = update(ES_ECDH_DEPENDENCY, &two_party_policy());
    let out = out.unwrap();
    assert_eq!(out.signers, vec![OPERATOR]);
    assert_eq!(out.committed, vec![plain("decrypted-firmware")]);
    assert_eq!(image(&dev, "decrypted-firmware", false), Some(PLAINTEXT));
    let dep = plain("dependency-manifest.suit");
    let effects: Vec<Effect> = dev
        .log
        .iter()
        .filter(|e| !matches!(e, Effect::StageOpen(_)))
        .cloned()
        .collect();
    assert_eq!(
        effects,
        vec![
            // dependent (operator): fetch the integrated dependency, check it, process it
            Effect::Directive {
                depth: 0,
                section: Section::Install,
                event: Event::Fetch,
                component: dep.clone(),
                ok: true
            },
            Effect::Condition {
                depth: 0,
                section: Section::Install,
                kind: ConditionKind::DependencyIntegrity,
                component: Some(dep.clone()),
                ok: true
            },
            // dependency (author): write with the dependent's encryption info, check digest
            Effect::Directive {
                depth: 1,
                section: Section::Install,
                event: Event::Write,
                component: plain("decrypted-firmware"),
                ok: true
            },
            Effect::Condition {
                depth: 1,
                section: Section::Install,
                kind: ConditionKind::ImageMatch,
                component: Some(plain("decrypted-firmware")),
                ok: true
            },
            Effect::Directive {
                depth: 0,
                section: Section::Install,
                event: Event::ProcessDependency,
                component: dep,
                ok: true
            },
            Effect::Commit,
        ]
    );
    // Both manifests' sequence numbers were stored.
    assert_eq!(dev.sequence.len(), 2);
}

#[test]
fn dependency_outer_manifest_does_not_verify_with_the_author_key() {
    let author_only = policy_of(vec![anchor(AUTHOR, author_key(), Role::Author)]);
    let err = Envelope::decode(&vector(ES_ECDH_DEPENDENCY))
        .unwrap()
        .authenticate(&author_only.anchors)
        .unwrap_err();
    assert_eq!(err, Error::Auth(AuthError::BadSignature { block: 0 }));
}

#[test]
fn dependency_signed_by_an_unknown_party_is_refused() {
    let operator_only = policy_of(vec![anchor(OPERATOR, operator_key(), Role::Operator)]);
    let (err, dev) = update(ES_ECDH_DEPENDENCY, &operator_only);
    let err = err.unwrap_err();
    match err {
        Error::Command(c) => {
            assert_eq!(c.location.path, vec![5]); // condition-dependency-integrity (6th command)
            assert_eq!(
                c.kind,
                CommandErrorKind::Dependency(Box::new(Error::Auth(AuthError::BadSignature {
                    block: 0
                })))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!dev.committed() && dev.installed.is_empty());
}

#[test]
fn required_signers_author_and_operator() {
    // The firmware component needs both the author and the operator: the dependency example
    // has both (operator outside, author inside), the single-signer manifest only the author.
    let mut policy = two_party_policy();
    policy.rules.push(ComponentRule {
        prefix: plain("decrypted-firmware"),
        required: vec![
            Requirement::Role(Role::Author),
            Requirement::Role(Role::Operator),
        ],
    });
    let (r, _) = update(ES_ECDH_DEPENDENCY, &policy);
    r.unwrap();

    let (err, dev) = update(ES_ECDH_CONTENT, &policy);
    let err = err.unwrap_err();
    match err {
        Error::Command(c) => assert_eq!(
            c.kind,
            CommandErrorKind::Policy(PolicyError::MissingRequiredSigner {
                component: 0,
                required: Requirement::Role(Role::Operator)
            })
        ),
        other => panic!("{other:?}"),
    }
    assert!(dev.log.iter().all(|e| !matches!(e, Effect::StageOpen(_))));
}

#[test]
fn dependency_rollback_is_refused() {
    let policy = two_party_policy();
    let (r, mut dev) = update(ES_ECDH_DEPENDENCY, &policy);
    r.unwrap();
    // Replaying the same root manifest is a rollback of the root.
    let keys = device_keys();
    let err = update_on(ES_ECDH_DEPENDENCY, &policy, &keys, &mut dev);
    let err = err.unwrap_err();
    assert_eq!(err, rollback(1, 1));
    assert_eq!(dev.log.last(), Some(&Effect::Discard));
}

/// Mutation review s34: a dependency's own stored sequence number is a floor (an older
/// dependency is refused even under a root the device has never seen), checked exactly.
#[test]
fn a_dependency_one_older_than_its_stored_number_is_refused() {
    let policy = two_party_policy();
    let (r, done) = update(ES_ECDH_DEPENDENCY, &policy);
    r.unwrap();
    assert_eq!(done.sequence.len(), 2, "{:?}", done.sequence);
    // One stored number at a time, one above what the vector carries: the root's is a
    // rollback of the root, the dependency's a rollback inside the dependency.
    for (key, offered) in &done.sequence {
        let mut dev = RecordingPlatform::default();
        dev.sequence.insert(key.clone(), offered + 1);
        let r = update_on(ES_ECDH_DEPENDENCY, &policy, &device_keys(), &mut dev);
        assert!(
            r.is_err(),
            "stored {} for {key:02x?} accepted {offered}",
            offered + 1
        );
        assert_eq!(dev.commits, 0);
    }
}
