//! COSE_Sign and COSE_Mac authentication blocks (RFC 9052 multi-signer / multi-recipient
//! structures, manifest-37 §8.3): accepted next to COSE_Sign1 / COSE_Mac0, every verified
//! signature counts as a signer for the per-component rules, the number of signatures is
//! bounded before any cryptography, `kid` is a hint, and COSE_Mac takes direct recipients only.

use coset::{
    CoseMacBuilder, CoseRecipientBuilder, CoseSignBuilder, CoseSignatureBuilder, HeaderBuilder,
    TaggedCborSerializable,
};
use suit_common::cose::{
    create_auth_block, create_cose_mac, create_cose_sign, Algorithm, AuthBlock, CoseError,
    SigningKey, MAX_COSE_SIGNERS,
};
use suit_common::suit::author::{authentication_blocks, seal_envelope_as, AuthForm, Signer};
use suit_common::suit::error::{AuthError, CommandErrorKind, Error, PolicyError};
use suit_common::suit::policy::{ComponentRule, Policy, Requirement, Role};
use suit_common::suit::{process, Digest, Envelope, Procedure};
use suit_test_support::*;

fn author_key() -> SigningKey {
    p256_private_from_pem("suit-manifest-spec/private_key.pem")
}

fn operator_key() -> SigningKey {
    SigningKey::ed25519(&[7u8; 32]).unwrap()
}

fn hmac_key() -> SigningKey {
    SigningKey::hmac256(&[0x42u8; 32]).unwrap()
}

/// example1 (fetch + image-match + install of component [h'00']) with a real digest, and
/// the image it installs.
fn example1() -> (Vec<u8>, Vec<u8>) {
    let image: Vec<u8> = (0..34768u32).map(|i| (i % 251) as u8).collect();
    let manifest = replace_all(
        &manifest_of(&hex_file("suit-manifest-spec/example1.signed.hex")),
        &DUMMY_DIGEST,
        &Digest::sha256(&image).0,
    );
    (manifest, image)
}

fn policy(operator_kid: &[u8]) -> Policy {
    let mut operator = anchor(2, operator_key().verification_key(), Role::Operator);
    operator.kid = operator_kid.to_vec();
    policy_of(vec![
        anchor(1, author_key().verification_key(), Role::Author),
        operator,
        anchor(3, hmac_key().verification_key(), Role::Operator),
    ])
}

/// `manifest` in one COSE_Sign block signed by the author `a` and the operator `o`.
fn cose_sign_both(manifest: &[u8], a: &SigningKey, o: &SigningKey) -> Vec<u8> {
    seal_envelope_as(AuthForm::CoseSign, manifest, &two_signers(a, o), &[], &[]).unwrap()
}

fn two_signers<'k>(a: &'k SigningKey, o: &'k SigningKey) -> Vec<Signer<'k>> {
    vec![
        Signer {
            key: a,
            alg: Algorithm::Esp256,
            kid: b"author",
        },
        Signer {
            key: o,
            alg: Algorithm::EdDsa,
            kid: b"operator",
        },
    ]
}

/// The encoded SUIT_Digest of a manifest (what every block signs).
/// An envelope of `manifest` whose wrapper holds exactly `blocks`.
fn envelope_with(manifest: &[u8], blocks: Vec<Vec<u8>>) -> Vec<u8> {
    let mut items = vec![ciborium::Value::Bytes(manifest_digest(manifest))];
    items.extend(blocks.into_iter().map(ciborium::Value::Bytes));
    let mut auth = Vec::new();
    ciborium::into_writer(&ciborium::Value::Array(items), &mut auth).unwrap();
    let env = ciborium::Value::Tag(
        107,
        Box::new(ciborium::Value::Map(vec![
            (2.into(), ciborium::Value::Bytes(auth)),
            (3.into(), ciborium::Value::Bytes(manifest.to_vec())),
        ])),
    );
    let mut out = Vec::new();
    ciborium::into_writer(&env, &mut out).unwrap();
    out
}

fn authenticate(env: &[u8], policy: &Policy) -> Result<Vec<u32>, Error> {
    Envelope::decode(env)?
        .authenticate(&policy.anchors)
        .map(|a| a.signers)
}

#[test]
fn cose_sign_with_two_signers_authenticates_both() {
    let (manifest, _) = example1();
    let (a, o) = (author_key(), operator_key());
    let env = cose_sign_both(&manifest, &a, &o);
    // One block, a COSE_Sign (tag 98) with two signatures.
    let e = Envelope::decode(&env).unwrap();
    assert_eq!(e.auth_block_count(), 1);
    assert_eq!(e.auth_blocks()[0][..2], [0xd8, 98]);
    assert_eq!(
        AuthBlock::parse_signers(e.auth_blocks()[0]).unwrap().len(),
        2
    );
    // Provisioning messages and reports keep the single-signer forms.
    assert_eq!(
        AuthBlock::parse(e.auth_blocks()[0]).unwrap_err(),
        CoseError::UnsupportedStructure(98)
    );
    assert_eq!(authenticate(&env, &policy(b"")).unwrap(), vec![1, 2]);
}

#[test]
fn cose_sign_signers_count_for_required_signer_rules() {
    let (manifest, image) = example1();
    let (a, o) = (author_key(), operator_key());
    let mut both = policy(b"");
    both.rules.push(ComponentRule {
        prefix: cid(&[&[0]]),
        required: vec![
            Requirement::Role(Role::Author),
            Requirement::Role(Role::Operator),
        ],
    });
    let run = |env: &[u8]| {
        let mut dev = RecordingPlatform::spec_device();
        dev.remote
            .insert("http://example.com/file.bin".into(), image.clone());
        process(env, Procedure::Update, &both, &no_keys(), &mut dev).map(|o| o.committed)
    };
    let signed_by_both = cose_sign_both(&manifest, &a, &o);
    assert_eq!(run(&signed_by_both).unwrap(), vec![cid(&[&[0]])]);

    // The operator's signature inside the COSE_Sign is broken: only the author signed.
    let d = manifest_digest(&manifest);
    let block = &authentication_blocks(AuthForm::CoseSign, &two_signers(&a, &o), &d).unwrap()[0];
    let mut sign = coset::CoseSign::from_tagged_slice(block).unwrap();
    sign.signatures[1].signature[0] ^= 1;
    let tampered = envelope_with(&manifest, vec![sign.to_tagged_vec().unwrap()]);
    assert_eq!(authenticate(&tampered, &both).unwrap(), vec![1]);
    match run(&tampered).unwrap_err() {
        Error::Command(c) => assert!(matches!(
            c.kind,
            CommandErrorKind::Policy(PolicyError::MissingRequiredSigner { component: 0, .. })
        )),
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_many_signatures_are_refused_before_any_verification() {
    let (manifest, _) = example1();
    // MAX_COSE_SIGNERS + 1 signatures with garbage values: refused for their number, not
    // for a failed verification (no verification ran).
    let mut b = CoseSignBuilder::new();
    for _ in 0..=MAX_COSE_SIGNERS {
        b = b.add_signature(
            CoseSignatureBuilder::new()
                .protected(
                    HeaderBuilder::new()
                        .algorithm(coset::iana::Algorithm::ESP256)
                        .build(),
                )
                .signature(vec![0u8; 64])
                .build(),
        );
    }
    let block = b.build().to_tagged_vec().unwrap();
    assert_eq!(
        authenticate(&envelope_with(&manifest, vec![block]), &policy(b"")).unwrap_err(),
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::TooManySigners
        })
    );
    // The wrapper-wide bound: three COSE_Sign blocks of MAX_COSE_SIGNERS valid signatures
    // each exceed MAX_SIGNATURES (8) although each block is within its own bound.
    let a = author_key();
    let signers: Vec<Signer<'_>> = (0..MAX_COSE_SIGNERS)
        .map(|_| Signer {
            key: &a,
            alg: Algorithm::Esp256,
            kid: b"",
        })
        .collect();
    let d = manifest_digest(&manifest);
    let one = authentication_blocks(AuthForm::CoseSign, &signers, &d).unwrap();
    assert_eq!(one.len(), 1);
    let env = envelope_with(
        &manifest,
        vec![one[0].clone(), one[0].clone(), one[0].clone()],
    );
    assert_eq!(
        authenticate(&env, &policy(b"")).unwrap_err(),
        Error::Auth(AuthError::Cose {
            block: 2,
            error: CoseError::TooManySigners
        })
    );
    // The author tool refuses to make an oversized COSE_Sign.
    let refs: Vec<(&SigningKey, Algorithm, &[u8])> = (0..=MAX_COSE_SIGNERS)
        .map(|_| (&a, Algorithm::Esp256, &b""[..]))
        .collect();
    assert_eq!(
        create_cose_sign(&refs, &d).unwrap_err(),
        CoseError::TooManySigners
    );
}

#[test]
fn kid_is_a_hint_not_a_filter() {
    let (manifest, _) = example1();
    let o = operator_key();
    let d = manifest_digest(&manifest);
    // The block names a kid the operator's anchor does not carry: still tried, and verified.
    let block = create_auth_block(&o, Algorithm::EdDsa, b"renamed", &d).unwrap();
    let env = envelope_with(&manifest, vec![block]);
    assert_eq!(authenticate(&env, &policy(b"operator")).unwrap(), vec![2]);
    // Inside a COSE_Sign too.
    let block = create_cose_sign(&[(&o, Algorithm::EdDsa, &b"renamed"[..])], &d).unwrap();
    let env = envelope_with(&manifest, vec![block]);
    assert_eq!(authenticate(&env, &policy(b"operator")).unwrap(), vec![2]);
}

/// However many anchors of the algorithm the device holds, each with its own kid, a
/// signature labelled with the signer's own name (another tool's kid) still reaches the one
/// anchor that verifies it, the last of them (review s35: only four were tried).
#[test]
fn a_wrong_kid_reaches_the_verifying_anchor_among_all_the_device_holds() {
    let (manifest, _) = example1();
    let d = manifest_digest(&manifest);
    let n = suit_common::service::state::MAX_ANCHORS;
    let keys: Vec<SigningKey> = (1..=n)
        .map(|i| SigningKey::ed25519(&[u8::try_from(i).unwrap(); 32]).unwrap())
        .collect();
    let policy = policy_of(
        keys.iter()
            .zip(1u32..)
            .map(|(k, id)| {
                let mut a = anchor(id, k.verification_key(), Role::Author);
                a.kid = format!("anchor-{id}").into_bytes();
                a
            })
            .collect(),
    );
    let signer = keys.last().unwrap();
    let last = u32::try_from(n).unwrap();
    for kid in [
        &b""[..],
        format!("anchor-{last}").as_bytes(),
        b"signers-own-label",
    ] {
        let block = create_auth_block(signer, Algorithm::EdDsa, kid, &d).unwrap();
        let env = envelope_with(&manifest, vec![block]);
        assert_eq!(
            authenticate(&env, &policy).unwrap(),
            vec![last],
            "Sign1, kid {kid:?}"
        );
        let block = create_cose_sign(&[(signer, Algorithm::EdDsa, kid)], &d).unwrap();
        let env = envelope_with(&manifest, vec![block]);
        assert_eq!(
            authenticate(&env, &policy).unwrap(),
            vec![last],
            "COSE_Sign, kid {kid:?}"
        );
    }
}

#[test]
fn cose_mac_with_a_direct_recipient_authenticates_with_the_hmac_anchor() {
    let (manifest, _) = example1();
    let d = manifest_digest(&manifest);
    let block = create_cose_mac(&hmac_key(), Algorithm::Hmac256, b"mac-key", &d).unwrap();
    assert_eq!(block[..2], [0xd8, 97]);
    let env = envelope_with(&manifest, vec![block.clone()]);
    assert_eq!(authenticate(&env, &policy(b"")).unwrap(), vec![3]);
    // Another manifest's digest: the tag does not verify.
    let mut other = manifest.clone();
    let last = other.len() - 1;
    other[last] ^= 1;
    let env = envelope_with(&other, vec![block]);
    assert!(matches!(
        authenticate(&env, &policy(b"")).unwrap_err(),
        Error::Auth(AuthError::BadSignature { block: 0 })
    ));
}

/// RFC 9053 §6.1.1, direct key distribution: "the 'protected' field MUST be zero length". A
/// recipient whose protected bucket holds a parameter (here its `alg`, moved there) is refused
/// before any key is tried, though the tag (which does not cover it) still verifies; an empty
/// map, h'a0', carries no parameter and is read as empty (RFC 9052 §3).
#[test]
fn cose_mac_direct_recipient_with_protected_parameters_is_refused() {
    use ciborium::Value;
    let (manifest, _) = example1();
    let d = manifest_digest(&manifest);
    let block = create_cose_mac(&hmac_key(), Algorithm::Hmac256, b"mac-key", &d).unwrap();
    // Recipient 0 of the COSE_Mac changed by `edit` ([protected, unprotected, ciphertext]).
    let with = |edit: &dyn Fn(&mut Vec<Value>)| {
        let mut v: Value = ciborium::from_reader(block.as_slice()).unwrap();
        let Value::Tag(97, mac) = &mut v else {
            panic!("not a COSE_Mac")
        };
        let Value::Array(parts) = mac.as_mut() else {
            panic!("not a COSE_Mac")
        };
        let Value::Array(recipients) = &mut parts[4] else {
            panic!("no recipients")
        };
        let Value::Array(r) = &mut recipients[0] else {
            panic!("not a recipient")
        };
        edit(r);
        let mut out = Vec::new();
        ciborium::into_writer(&v, &mut out).unwrap();
        envelope_with(&manifest, vec![out])
    };
    let unchanged = with(&|_| {});
    assert_eq!(authenticate(&unchanged, &policy(b"")).unwrap(), vec![3]);
    let empty_map = with(&|r| r[0] = Value::Bytes(vec![0xa0]));
    assert_eq!(authenticate(&empty_map, &policy(b"")).unwrap(), vec![3]);
    let alg_protected = with(&|r| {
        r[0] = Value::Bytes(vec![0xa1, 0x01, 0x25]); // {1: -6}
        if let Value::Map(m) = &mut r[1] {
            m.retain(|(k, _)| *k != Value::from(1));
        }
    });
    assert_eq!(
        authenticate(&alg_protected, &policy(b"")).unwrap_err(),
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::Malformed
        })
    );
}

#[test]
fn cose_mac_recipients_other_than_direct_are_refused() {
    let (manifest, _) = example1();
    // An A128KW recipient (alg -3) would carry a wrapped MAC key: the device has no KEK
    // role for manifests, so it is refused by name rather than ignored.
    let recipient = CoseRecipientBuilder::new()
        .unprotected(
            HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::A128KW)
                .key_id(b"kek".to_vec())
                .build(),
        )
        .ciphertext(vec![0u8; 40])
        .build();
    let block = CoseMacBuilder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::HMAC_256_256)
                .build(),
        )
        .tag(vec![0u8; 32])
        .add_recipient(recipient)
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(
        authenticate(&envelope_with(&manifest, vec![block]), &policy(b"")).unwrap_err(),
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::UnsupportedRecipient(-3)
        })
    );
}

#[test]
fn sign1_stays_the_default_form() {
    let (manifest, _) = example1();
    let (a, o) = (author_key(), operator_key());
    let env = suit_common::suit::author::seal_envelope(&manifest, &two_signers(&a, &o), &[], &[])
        .unwrap();
    let e = Envelope::decode(&env).unwrap();
    assert_eq!(e.auth_block_count(), 2);
    assert!(e.auth_blocks().iter().all(|b| b[..2] == [0xd2, 0x84]));
}

/// A COSE_Sign of `manifest` by the author (ESP256, kid "author") and a second signature whose
/// protected header is rewritten by `second` (its signature bytes are then meaningless).
fn author_and_rewritten(manifest: &[u8], second: impl FnOnce(&mut coset::Header)) -> Vec<u8> {
    let a = author_key();
    let signers = [
        Signer {
            key: &a,
            alg: Algorithm::Esp256,
            kid: b"author",
        },
        Signer {
            key: &a,
            alg: Algorithm::Esp256,
            kid: b"other",
        },
    ];
    let d = manifest_digest(manifest);
    let block = authentication_blocks(AuthForm::CoseSign, &signers, &d).unwrap();
    let mut s = coset::CoseSign::from_tagged_slice(&block[0]).unwrap();
    second(&mut s.signatures[1].protected.header);
    s.signatures[1].protected.original_data = None;
    s.to_tagged_vec().unwrap()
}

fn alg(a: coset::iana::Algorithm) -> Option<coset::Algorithm> {
    Some(coset::RegisteredLabelWithPrivate::Assigned(a))
}

/// Manifest-37 §8.3 names several signatures for algorithm migration: a signature with an
/// algorithm this engine does not implement (ES384, or a private-use value) is an unusable
/// entry, and the ESP256 signature next to it still authenticates the manifest, in either
/// order. The review's reproduction refused the whole block (`UnsupportedAlgorithm(-35)`).
#[test]
fn a_signature_with_an_unknown_algorithm_does_not_void_the_others() {
    let (manifest, _) = example1();
    for unknown in [
        alg(coset::iana::Algorithm::ES384),
        Some(coset::RegisteredLabelWithPrivate::PrivateUse(-65_600)),
    ] {
        let block = author_and_rewritten(&manifest, |h| h.alg = unknown.clone());
        let entries = AuthBlock::parse_signers(&block).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].as_ref().unwrap().algorithm(), Algorithm::Esp256);
        assert!(
            matches!(entries[1], Err(CoseError::UnsupportedAlgorithm(_))),
            "{:?}",
            entries[1]
        );
        let env = envelope_with(&manifest, vec![block.clone()]);
        assert_eq!(authenticate(&env, &policy(b"")).unwrap(), vec![1]);
        // The unusable signature first.
        let mut s = coset::CoseSign::from_tagged_slice(&block).unwrap();
        s.signatures.reverse();
        let env = envelope_with(&manifest, vec![s.to_tagged_vec().unwrap()]);
        assert_eq!(authenticate(&env, &policy(b"")).unwrap(), vec![1]);
    }
}

/// An algorithm the engine knows but the device holds no key for (Ed25519 without an Ed25519
/// anchor) is ignored the same way. This binary is built with the `ed25519` feature (the
/// `author` feature needs it), so the feature-off path of the same rule, "algorithm not
/// enabled", is exercised with HSS-LMS in `size_algorithm_features` (run without the
/// algorithm features by tests/run.sh) and here by the unknown algorithms above.
#[test]
fn a_signature_for_a_key_the_device_lacks_does_not_void_the_others() {
    let (manifest, _) = example1();
    let (a, o) = (author_key(), operator_key());
    let env = cose_sign_both(&manifest, &a, &o);
    let author_only = policy_of(vec![anchor(1, a.verification_key(), Role::Author)]);
    assert_eq!(authenticate(&env, &author_only).unwrap(), vec![1]);
}

/// If no signature is usable the block is still refused, with the first signature's reason
/// as a typed error; a per-signature header the engine cannot honour (an unknown critical
/// parameter) is unusable the same way, while a structural error stays the block's.
#[test]
fn a_cose_sign_without_a_usable_signature_is_refused_with_the_reason() {
    let (manifest, _) = example1();
    let block = author_and_rewritten(&manifest, |h| h.alg = alg(coset::iana::Algorithm::ES384));
    let mut s = coset::CoseSign::from_tagged_slice(&block).unwrap();
    s.signatures[0] = s.signatures[1].clone();
    let env = envelope_with(&manifest, vec![s.to_tagged_vec().unwrap()]);
    let err = authenticate(&env, &policy(b"")).unwrap_err();
    assert_eq!(
        err,
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::UnsupportedAlgorithm(-35)
        })
    );
    says(
        &suit_common::suit::explain::error(&err),
        "unsupported algorithm -35",
    );

    // An unknown critical parameter in the second signature: unusable, the first verifies.
    let block = author_and_rewritten(&manifest, |h| {
        h.crit = vec![coset::RegisteredLabelWithPrivate::Assigned(
            coset::iana::HeaderParameter::CounterSignature,
        )];
    });
    let entries = AuthBlock::parse_signers(&block).unwrap();
    assert_eq!(
        entries[1].clone().unwrap_err(),
        CoseError::UnknownCriticalHeader
    );
    let env = envelope_with(&manifest, vec![block]);
    assert_eq!(authenticate(&env, &policy(b"")).unwrap(), vec![1]);

    // A signature whose headers this device cannot read (a protected bucket that is not a
    // map, a kid over the 256-byte cap) is unusable the same way: it may be another device's
    // countersignature. The block itself must still be well-formed CBOR.
    let block = author_and_rewritten(&manifest, |_| {});
    let mut s = coset::CoseSign::from_tagged_slice(&block).unwrap();
    s.signatures[1].protected.original_data = Some(vec![0x01]);
    let block = s.to_tagged_vec().unwrap();
    let entries = AuthBlock::parse_signers(&block).unwrap();
    assert_eq!(entries[1].clone().unwrap_err(), CoseError::Malformed);
    let env = envelope_with(&manifest, vec![block]);
    assert_eq!(authenticate(&env, &policy(b"")).unwrap(), vec![1]);
    let block = author_and_rewritten(&manifest, |h| h.key_id = vec![7; 300]);
    let entries = AuthBlock::parse_signers(&block).unwrap();
    assert_eq!(entries[1].clone().unwrap_err(), CoseError::HeaderTooLarge);
    let env = envelope_with(&manifest, vec![block]);
    assert_eq!(authenticate(&env, &policy(b"")).unwrap(), vec![1]);
    // Only that signature: refused with its reason.
    let block = author_and_rewritten(&manifest, |h| h.key_id = vec![7; 300]);
    let mut s = coset::CoseSign::from_tagged_slice(&block).unwrap();
    s.signatures.remove(0);
    let env = envelope_with(&manifest, vec![s.to_tagged_vec().unwrap()]);
    assert_eq!(
        authenticate(&env, &policy(b"")).unwrap_err(),
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::HeaderTooLarge
        })
    );
}

/// The protected bucket's bound is exact (mutation review s34: only 480 KiB headers were
/// tried): a signature whose protected header is `MAX_PROTECTED_LEN` bytes is read, one byte
/// more is `HeaderTooLarge`.
#[test]
fn the_protected_header_bound_is_exact() {
    use suit_common::cose::MAX_PROTECTED_LEN;
    let (manifest, _) = example1();
    // The second signature's protected bucket padded by a private parameter to `len` bytes.
    let block_of = |len: usize| {
        let with = |pad: usize| {
            author_and_rewritten(&manifest, |h| {
                h.rest.push((
                    coset::Label::Int(-65537),
                    ciborium::Value::Bytes(vec![0; pad]),
                ))
            })
        };
        let protected = |block: &[u8]| {
            let s = coset::CoseSign::from_tagged_slice(block).unwrap();
            s.signatures[1]
                .protected
                .original_data
                .clone()
                .unwrap()
                .len()
        };
        let pad = len - (protected(&with(300)) - 300);
        let block = with(pad);
        assert_eq!(protected(&block), len);
        block
    };
    let at = block_of(MAX_PROTECTED_LEN);
    let entries = AuthBlock::parse_signers(&at).unwrap();
    assert!(entries[1].is_ok(), "{:?}", entries[1]);
    let over = block_of(MAX_PROTECTED_LEN + 1);
    let entries = AuthBlock::parse_signers(&over).unwrap();
    assert_eq!(entries[1].clone().unwrap_err(), CoseError::HeaderTooLarge);
}
