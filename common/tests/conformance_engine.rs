//! Conformance of the engine with the drafts (issue 10): the firmware-encryption draft's
//! fetch-then-copy form, decrypting fetches (undefined by the draft: refused), `kid` as a hint
//! (RFC 9052), and the CBOR rules tightened to the CDDL. CONFORMANCE.md points here.

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::cose::{Algorithm, CoseError, SigningKey};
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite, KeyWrap};
use suit_common::encryption::keys::{
    DeviceKeys, EcdhSecret, HpkeOpen, KeyKind, KeyRef, SecretBytes,
};
use suit_common::encryption::{
    decrypt, encrypt_payload, CoseOptions, DecryptError, KeyError, MemoryKeys, Recipient,
};
use suit_common::suit::error::{AuthError, CommandErrorKind, Error};
use suit_common::suit::platform::Event;
use suit_common::suit::{process, ComponentId, Envelope, Procedure};

use suit_test_support::*;

const KEK: [u8; 16] = *b"0123456789abcdef";

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn author_key() -> SigningKey {
    p256_private_from_pem("suit-manifest-spec/private_key.pem")
}

/// A manifest with `components`, a shared sequence checking vendor and class on component 0,
/// and `install` as given.
fn manifest(components: &[&[&[u8]]], install: Vec<Value>) -> Vec<u8> {
    let shared = Value::Array(spec_id_checks());
    let components = components
        .iter()
        .map(|c| Value::Array(c.iter().map(|s| bytes(s)).collect()))
        .collect();
    suit_manifest(1, components, &shared, &Value::Array(install))
}

/// Override `params`, then run each of `commands` with reporting policy 15.
fn then(params: Vec<(i64, Value)>, commands: &[i64]) -> Vec<Value> {
    let mut seq = vec![int(20), map(params)];
    for c in commands {
        seq.extend([int(*c), int(15)]);
    }
    seq
}

/// [`then`] on component `index` (set-component-index first).
fn on(index: i64, params: Vec<(i64, Value)>, commands: &[i64]) -> Vec<Value> {
    [vec![int(12), int(index)], then(params, commands)].concat()
}

fn seal(manifest: &[u8], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    seal_one(manifest, &author_key(), Algorithm::Esp256, &[], integrated)
}

/// `suit::process` (update) of `env` under the examples' policy.
fn update(
    env: &[u8],
    keys: &dyn suit_common::suit::decrypt::KeySource,
    dev: &mut RecordingPlatform,
) -> Result<suit_common::suit::Outcome, Error> {
    process(env, Procedure::Update, &spec_policy(), keys, dev)
}

fn kek_keys() -> MemoryKeys {
    let mut k = MemoryKeys::new();
    k.add_kek(Some(b"device-kek"), &KEK).unwrap();
    k
}

/// `plaintext` encrypted with `content` to the one recipient `to`: (info, ciphertext).
fn encrypted_to(plaintext: &[u8], content: ContentAlgorithm, to: Recipient) -> (Vec<u8>, Vec<u8>) {
    let e = encrypt_payload(plaintext, content, &[to], &CoseOptions::SUIT, &mut rng()).unwrap();
    (e.encryption_info, e.ciphertext)
}

/// The A128KW recipient for the KEK `kid` labels.
fn aes_kw(kid: &[u8]) -> Recipient<'_> {
    Recipient::AesKw {
        kid: Some(kid),
        kek: &KEK,
    }
}

fn encrypted(plaintext: &[u8], content: ContentAlgorithm) -> (Vec<u8>, Vec<u8>) {
    encrypted_to(plaintext, content, aes_kw(b"device-kek"))
}

const FW: &[u8] = b"firmware";
const BUF: &[u8] = b"encrypted";

/// The draft's form (fetch ciphertext into its own component, image-match it, copy with
/// encryption info into the plaintext component, image-match the plaintext).
fn draft_form(plaintext: &[u8], info: &[u8], ciphertext: &[u8]) -> Vec<u8> {
    let buffer = vec![
        (3, bytes(&suit_digest(ciphertext))),
        (14, int(ciphertext.len() as i64)),
        (21, Value::Text("#ct".into())),
    ];
    let target = vec![
        (3, bytes(&suit_digest(plaintext))),
        (19, bytes(info)),
        (22, int(1)),
    ];
    let install = [on(1, buffer, &[21, 3]), on(0, target, &[22, 3])];
    manifest(&[&[FW], &[FW, BUF]], install.concat())
}

#[test]
fn draft_fetch_then_copy_installs_the_plaintext_and_drops_the_ciphertext_buffer() {
    let plaintext = vec![0x5a; 100_000];
    let (info, ct) = encrypted(&plaintext, ContentAlgorithm::A128Gcm);
    let env = seal(&draft_form(&plaintext, &info, &ct), &[("#ct", &ct)]);
    let mut dev = RecordingPlatform::spec_device();
    let out = update(&env, &kek_keys(), &mut dev).unwrap();
    let fw = cid(&[FW]);
    let buffer = cid(&[FW, BUF]);
    // Only the plaintext component is installed; the ciphertext buffer was discarded from
    // staging before the commit, so no kind classification ever sees it.
    assert_eq!(out.committed, vec![fw.clone()]);
    assert_eq!(dev.installed.get(&fw), Some(&plaintext));
    assert!(!dev.installed.contains_key(&buffer));
    let discard = dev
        .log
        .iter()
        .position(|e| *e == Effect::StageDiscard(buffer.clone()))
        .expect("buffer discarded");
    let commit = dev.log.iter().position(|e| *e == Effect::Commit).unwrap();
    assert!(discard < commit);
}

#[test]
fn decrypting_fetch_is_refused_with_a_typed_reason() {
    // The form suit-author used to emit: encryption info set on the fetched component.
    let plaintext = b"plain firmware".to_vec();
    let (info, ct) = encrypted(&plaintext, ContentAlgorithm::A128Gcm);
    let params = vec![
        (3, bytes(&suit_digest(&plaintext))),
        (19, bytes(&info)),
        (21, Value::Text("#ct".into())),
    ];
    let m = manifest(&[&[FW]], then(params, &[21, 3]));
    let mut dev = RecordingPlatform::spec_device();
    let err = update(&seal(&m, &[("#ct", &ct)]), &kek_keys(), &mut dev).unwrap_err();
    match err {
        Error::Command(c) => assert_eq!(c.kind, CommandErrorKind::DecryptingFetch),
        other => panic!("{other:?}"),
    }
    assert!(!dev.committed() && dev.installed.is_empty());
}

/// Trust domains' encrypted-manifest template (encryption-info on the dependency's fetch,
/// the envelope decrypted as it is fetched) is not implemented: refused at the fetch as any
/// decrypting fetch is. The ciphertext used to be stored as the envelope and the
/// dependency-integrity check then failed to decode it.
#[test]
fn decrypting_fetch_into_a_dependency_is_refused_with_a_typed_reason() {
    use crate::attack_engine_bounds as b;
    let (dep, digest) = b::dependency(b"one");
    let (info, ct) = encrypted(&dep, ContentAlgorithm::A128Gcm);
    let install = vec![
        int(12),
        int(1),
        int(20),
        map(vec![
            (3, bytes(&digest)),
            (19, bytes(&info)),
            (21, text("#d1")),
        ]),
        int(21),
        int(15),
        int(7),
        int(15),
        int(11),
        int(15),
    ];
    let m = b::manifest(&[b"a", b"d"], &[1], install, b"root");
    let env = seal_one(&m, &author_key(), Algorithm::Esp256, &[], &[("#d1", &ct)]);
    let mut dev = RecordingPlatform::spec_device();
    let r = process(
        &env,
        Procedure::Update,
        &spec_policy(),
        &kek_keys(),
        &mut dev,
    );
    assert_eq!(refused_at(r), (CommandErrorKind::DecryptingFetch, Some(1)));
    assert!(!dev.committed() && dev.installed.is_empty());
}

// ---------------------------------------------------------------------------------------
// Payload integrity (draft-ietf-suit-firmware-encryption, "Payload Integrity Validation").

/// Fetch-then-copy with a ciphertext digest on the buffer and/or a plaintext digest.
fn copy_form(
    plaintext: &[u8],
    info: &[u8],
    ciphertext: &[u8],
    ct_digest: bool,
    pt_digest: bool,
) -> Vec<u8> {
    let mut buffer = vec![(14, int(ciphertext.len() as i64))];
    if ct_digest {
        buffer.insert(0, (3, bytes(&suit_digest(ciphertext))));
    }
    buffer.push((21, Value::Text("#ct".into())));
    let mut target = vec![(19, bytes(info)), (22, int(1))];
    if pt_digest {
        target.insert(0, (3, bytes(&suit_digest(plaintext))));
    }
    let install = [on(1, buffer, &[21]), on(0, target, &[22])];
    manifest(&[&[FW], &[FW, BUF]], install.concat())
}

fn run_policy(
    env: &[u8],
    strict: bool,
) -> (Result<suit_common::suit::Outcome, Error>, RecordingPlatform) {
    let mut policy = spec_policy();
    policy.require_plaintext_digest = strict;
    let mut dev = RecordingPlatform::spec_device();
    let r = process(env, Procedure::Update, &policy, &kek_keys(), &mut dev);
    (r, dev)
}

#[test]
fn payload_integrity_follows_the_drafts_decision_tree() {
    let plaintext = b"a payload of some length, not secret in this test".to_vec();
    let fw = cid(&[FW]);
    // (content alg, ciphertext digest, plaintext digest, accepted by default)
    let cases = [
        // AEAD: the tag authenticates; the encryption info is inside the signed manifest.
        (ContentAlgorithm::A128Gcm, false, false, true),
        // AES-CTR: integrity before decryption (ciphertext digest) or after (plaintext).
        (ContentAlgorithm::A128Ctr, true, false, true),
        (ContentAlgorithm::A128Ctr, false, true, true),
        // AES-CTR with no digest at all stays refused.
        (ContentAlgorithm::A128Ctr, false, false, false),
    ];
    for (alg, ct_digest, pt_digest, accepted) in cases {
        let what = format!("{alg:?} ct-digest {ct_digest} pt-digest {pt_digest}");
        let (info, ct) = encrypted(&plaintext, alg);
        let env = seal(
            &copy_form(&plaintext, &info, &ct, ct_digest, pt_digest),
            &[("#ct", &ct)],
        );
        // Refused for want of a plaintext check, nothing installed.
        let unverified = |r: Result<_, Error>, dev: RecordingPlatform| {
            let expected = Error::UnverifiedPlaintext(fw.clone());
            assert_eq!(r.unwrap_err(), expected, "{what}");
            assert!(dev.installed.is_empty(), "{what}");
        };
        let (r, dev) = run_policy(&env, false);
        if accepted {
            assert_eq!(r.unwrap().committed, vec![fw.clone()], "{what}");
            assert_eq!(dev.installed.get(&fw), Some(&plaintext), "{what}");
        } else {
            unverified(r, dev);
        }
        // The device policy demanding a plaintext digest accepts only that case.
        let (r, dev) = run_policy(&env, true);
        if pt_digest {
            r.unwrap();
        } else {
            unverified(r, dev);
        }
    }
}

/// ChaCha20/Poly1305 (the MTI profile suit-sha256-ed25519-ecdh-chacha-poly) through the
/// engine, in the draft's form and without any digest (an AEAD: the tag vouches for the
/// plaintext). With feature `chacha20` it installs and a tampered tag is refused with nothing
/// installed; without it (the TA's build) the copy is refused as an unsupported content
/// algorithm, nothing installed.
#[test]
fn chacha20_poly1305_installs_with_the_feature_and_is_refused_without_it() {
    let plaintext = vec![0xc3; 70_000];
    let fw = cid(&[FW]);
    let (info, ct) = encrypted(&plaintext, ContentAlgorithm::ChaCha20Poly1305);
    let mut tampered = ct.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let draft = seal(&draft_form(&plaintext, &info, &ct), &[("#ct", &ct)]);
    let bare = |ct: &[u8]| {
        seal(
            &copy_form(&plaintext, &info, ct, false, false),
            &[("#ct", ct)],
        )
    };
    let refused = |r: Result<suit_common::suit::Outcome, Error>, why: DecryptError| match r {
        Err(Error::Command(c)) => assert_eq!(c.kind, CommandErrorKind::Decrypt(why)),
        other => panic!("{other:?}"),
    };
    if cfg!(feature = "chacha20") {
        for env in [&draft, &bare(&ct)] {
            let (r, dev) = run_policy(env, false);
            assert_eq!(r.unwrap().committed, vec![fw.clone()]);
            assert_eq!(dev.installed.get(&fw), Some(&plaintext));
        }
        let (r, dev) = run_policy(&bare(&tampered), false);
        refused(r, DecryptError::TagMismatch);
        assert!(dev.installed.is_empty());
    } else {
        for env in [&draft, &bare(&ct)] {
            let (r, dev) = run_policy(env, false);
            refused(r, DecryptError::UnsupportedContentAlgorithm(24));
            assert!(dev.installed.is_empty());
        }
    }
}

/// `info` (a COSE_Encrypt, tag 96) with its array's items edited by `edit`.
fn edit_info(info: &[u8], edit: impl FnOnce(&mut Vec<Value>)) -> Value {
    let Value::Tag(96, inner) = ciborium::from_reader(info).unwrap() else {
        panic!("a COSE_Encrypt")
    };
    let Value::Array(mut items) = *inner else {
        panic!("an array")
    };
    edit(&mut items);
    Value::Tag(96, Box::new(Value::Array(items)))
}

/// The draft's copy form with `info` refused by the decryptor as `why`, reported as `reason`,
/// nothing installed.
fn refused_info(info: &[u8], why: DecryptError, reason: suit_common::report::Reason) {
    let plaintext = b"never installed".to_vec();
    let (_, ct) = encrypted(&plaintext, ContentAlgorithm::A128Gcm);
    let env = seal(&draft_form(&plaintext, info, &ct), &[("#ct", &ct)]);
    let (r, dev) = run_policy(&env, false);
    let err = r.unwrap_err();
    assert!(
        matches!(&err, Error::Command(c) if c.kind == CommandErrorKind::Decrypt(why)),
        "{why:?}: {err:?}"
    );
    let failure = suit_common::report::Failure::from_error(&err, Some(&env));
    assert_eq!(failure.reason, reason, "{why:?}");
    assert!(!dev.committed() && dev.installed.is_empty(), "{why:?}");
}

/// Report draft §4.2: "suit-report-reason-cose-unsupported: an unsupported COSE structure or
/// header was encountered". An encryption info's COSE this device does not process is reported
/// so, as authentication reports its COSE: an unknown `crit` label, attached ciphertext
/// (device policy: SUIT detaches it, and write/copy give an attached one no meaning), a
/// COSE_Encrypt0 where SUIT_Encryption_Info is a COSE_Encrypt, nested recipients.
#[test]
fn encryption_info_cose_the_device_does_not_process_is_reported_cose_unsupported() {
    use suit_common::encryption::{Location, Problem};
    use suit_common::report::Reason;
    let (info, ct) = encrypted(FW, ContentAlgorithm::A128Gcm);
    // Protected {1: 1 (A128GCM), 2: [99]}: crit names a label the content layer lacks.
    let crit = edit_info(&info, |i| {
        i[0] = bytes(&cbor(&map(vec![
            (1, int(1)),
            (2, Value::Array(vec![int(99)])),
        ])))
    });
    let attached = edit_info(&info, |i| i[2] = bytes(&ct));
    let nested = edit_info(&info, |i| {
        let Value::Array(recipients) = &mut i[3] else {
            panic!("recipients")
        };
        let Value::Array(r) = &mut recipients[0] else {
            panic!("a recipient")
        };
        let inner = r.clone();
        r.push(Value::Array(vec![Value::Array(inner)]));
    });
    let Value::Tag(_, inner) = edit_info(&info, |i| {
        i.pop();
    }) else {
        unreachable!()
    };
    let encrypt0 = Value::Tag(16, inner);
    let unsupported = |at, label| DecryptError::Unsupported { at, label };
    let malformed = |at, problem| DecryptError::Malformed { at, problem };
    for (info, why) in [
        (crit, unsupported(Location::Protected, Some(99))),
        (
            attached,
            malformed(Location::Ciphertext, Problem::CiphertextPlacement),
        ),
        (encrypt0, malformed(Location::Structure, Problem::Tag)),
        (nested, unsupported(Location::Recipient(0), None)),
    ] {
        refused_info(&cbor(&info), why, Reason::CoseUnsupported);
    }
}

/// A128CBC, A192CBC, A256CBC (RFC 9459: -65531..=-65529) and A192CTR (-65533) are not
/// implemented: a copy decrypting with one is refused as `UnsupportedContentAlgorithm`,
/// reported alg-unsupported, nothing installed.
#[test]
fn aes_cbc_and_a192ctr_are_refused_as_unsupported_content_algorithms() {
    use suit_common::report::Reason;
    let (info, _) = encrypted(FW, ContentAlgorithm::A128Gcm);
    // Their `alg` goes unprotected (RFC 9459: not AEAD, no header to protect).
    for alg in [-65531, -65530, -65529, -65533] {
        let info = edit_info(&info, |i| {
            i[0] = bytes(b"");
            let Value::Map(unprotected) = &mut i[1] else {
                panic!("unprotected")
            };
            unprotected.insert(0, (int(1), int(alg)));
        });
        refused_info(
            &cbor(&info),
            DecryptError::UnsupportedContentAlgorithm(alg),
            Reason::AlgUnsupported,
        );
    }
}

#[test]
fn ctr_ciphertext_inside_the_signed_manifest_needs_no_digest() {
    // suit-parameter-content is covered by the manifest's signature (decision tree Q1).
    let plaintext = b"content carried in the manifest".to_vec();
    let (info, ct) = encrypted(&plaintext, ContentAlgorithm::A128Ctr);
    let m = manifest(
        &[&[FW]],
        then(vec![(18, bytes(&ct)), (19, bytes(&info))], &[18]),
    );
    let (r, dev) = run_policy(&seal(&m, &[]), false);
    assert_eq!(r.unwrap().committed, vec![cid(&[FW])]);
    assert_eq!(dev.installed.get(&cid(&[FW])), Some(&plaintext));
    // But a CTR ciphertext the REE delivered unverified is not "in the manifest": a fetch into
    // the buffer without a digest, then copy, stays refused (previous test); and a tampered
    // in-manifest ciphertext cannot exist without breaking the signature.
    let (r, _) = run_policy(&seal(&m, &[]), true);
    assert_eq!(r.unwrap_err(), Error::UnverifiedPlaintext(cid(&[FW])));
}

#[test]
fn ctr_buffer_tampered_after_its_digest_is_not_trusted() {
    // The buffer's ciphertext digest matched, then the manifest fetches other bytes into the
    // buffer without a digest before the copy: the copy must not inherit the old check.
    let plaintext = b"payload".to_vec();
    let (info, ct) = encrypted(&plaintext, ContentAlgorithm::A128Ctr);
    let mut evil = ct.clone();
    evil[0] ^= 1;
    let buffer = vec![
        (3, bytes(&suit_digest(&ct))),
        (21, Value::Text("#ct".into())),
    ];
    let install = [
        on(1, buffer, &[21, 3]),
        then(vec![(21, Value::Text("#evil".into()))], &[21]),
        on(0, vec![(19, bytes(&info)), (22, int(1))], &[22]),
    ];
    let m = manifest(&[&[FW], &[FW, BUF]], install.concat());
    let (r, dev) = run_policy(&seal(&m, &[("#ct", &ct), ("#evil", &evil)]), false);
    assert_eq!(r.unwrap_err(), Error::UnverifiedPlaintext(cid(&[FW])));
    assert!(dev.installed.is_empty());
}

// ---------------------------------------------------------------------------------------
// kid is a hint (RFC 9052 §3.1).

/// Counts which keys the decryptor asked for, in order.
struct Counting<'k> {
    inner: &'k MemoryKeys,
    used: std::cell::RefCell<Vec<u32>>,
}

impl DeviceKeys for Counting<'_> {
    fn find(&self, kind: KeyKind, kid: Option<&[u8]>) -> Vec<KeyRef> {
        self.inner.find(kind, kid)
    }
    fn kek(&self, key: KeyRef) -> Result<SecretBytes, KeyError> {
        self.used.borrow_mut().push(key.0);
        self.inner.kek(key)
    }
    fn ecdh_p256(&self, key: KeyRef, peer: &p256::PublicKey) -> Result<EcdhSecret, KeyError> {
        self.used.borrow_mut().push(key.0);
        self.inner.ecdh_p256(key, peer)
    }
    fn hpke_open(&self, key: KeyRef, op: &HpkeOpen<'_>) -> Result<SecretBytes, KeyError> {
        self.used.borrow_mut().push(key.0);
        self.inner.hpke_open(key, op)
    }
}

#[test]
fn recipient_labelled_with_another_kid_opens_with_the_device_keys() {
    use p256::elliptic_curve::Generate;
    let sk = p256::SecretKey::generate_from_rng(&mut rng());
    let mut keys = MemoryKeys::new();
    keys.add_kek(Some(b"device-kek"), &KEK).unwrap();
    keys.add_ecdh_p256(Some(b"device-ecdh"), &sk.to_bytes())
        .unwrap();
    keys.add_hpke_p256(Some(b"device-hpke"), &sk.to_bytes())
        .unwrap();
    let public = sk.public_key();
    let peer_label: &[u8] = b"label-a-peer-chose";
    let recipients = [
        aes_kw(peer_label),
        Recipient::EcdhEs {
            kid: Some(peer_label),
            public_key: &public,
            wrap: KeyWrap::A128Kw,
        },
        Recipient::Hpke {
            kid: Some(peer_label),
            public_key: &public,
            suite: HpkeSuite::Hpke0,
            psk: None,
        },
    ];
    for r in recipients {
        let (info, ct) = encrypted_to(FW, ContentAlgorithm::A128Gcm, r);
        let pt = decrypt(&info, Some(&ct), &keys, &CoseOptions::SUIT).unwrap();
        assert_eq!(pt.as_slice(), FW);
    }
}

#[test]
fn kid_matching_keys_are_tried_first_and_the_others_are_bounded() {
    let mut keys = MemoryKeys::new();
    // As many wrong KEKs as the bound, without the recipient's kid, then the right KEK also
    // unlabelled.
    let bound = suit_common::encryption::recipient::MAX_KEY_CANDIDATES;
    for i in 0..bound as u8 {
        keys.add_kek(Some(&[b'w', i]), &[i; 16]).unwrap();
    }
    let right = keys.add_kek(Some(b"other"), &KEK).unwrap();
    // Decrypts FW sent to the KEK labelled `kid`; the result and the keys asked for.
    let run = |kid: &[u8]| {
        let (info, ct) = encrypted_to(FW, ContentAlgorithm::A128Gcm, aes_kw(kid));
        let counting = Counting {
            inner: &keys,
            used: Default::default(),
        };
        let r = decrypt(&info, Some(&ct), &counting, &CoseOptions::SUIT);
        (r, counting.used.into_inner())
    };
    // The next candidate is beyond the bound: not tried, so no recipient opens.
    let (r, used) = run(b"peer");
    assert_eq!(r.unwrap_err(), DecryptError::NoRecipientForKeys);
    assert_eq!(used.len(), bound);
    assert!(!used.contains(&right.0));

    // Labelled with the right key's kid: that key is tried first, and only it.
    let (r, used) = run(b"other");
    r.unwrap();
    assert_eq!(used, vec![right.0]);
}

// ---------------------------------------------------------------------------------------
// CBOR: nothing beyond the CDDL.

fn simple_envelope() -> Vec<u8> {
    let m = manifest(&[&[FW]], vec![int(20), map(vec![(14, int(1))])]);
    seal(&m, &[])
}

fn authenticate(env: &[u8]) -> Result<(), Error> {
    Envelope::decode(env)?
        .authenticate(&spec_policy().anchors)
        .map(|_| ())
}

/// Replaces the one occurrence of `from` in `data`.
fn patch(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let n = data.windows(from.len()).filter(|w| *w == from).count();
    assert_eq!(n, 1, "pattern must occur once");
    replace_all(data, from, to)
}

#[test]
fn cose_sign1_payload_undefined_instead_of_nil_is_refused() {
    let env = simple_envelope();
    authenticate(&env).unwrap();
    // COSE_Sign1: [h'a10128' (alg -9), {}, nil, sig]: `a0 f6 58 40` = {}, nil, bstr(64).
    let bad = patch(&env, &[0xa0, 0xf6, 0x58, 0x40], &[0xa0, 0xf7, 0x58, 0x40]);
    assert_eq!(
        authenticate(&bad).unwrap_err(),
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::Malformed
        })
    );
}

#[test]
fn cose_header_label_in_both_buckets_is_refused() {
    let env = simple_envelope();
    let auth = Envelope::decode(&env).unwrap().auth_blocks()[0].to_vec();
    // Unprotected {} -> {1: -9}: the alg label in the protected and the unprotected bucket.
    let mut block = auth.clone();
    let at = block.windows(2).position(|w| w == [0xa0, 0xf6]).unwrap();
    block.splice(at..at + 1, [0xa1, 0x01, 0x28]);
    assert_eq!(
        suit_common::cose::AuthBlock::parse(&auth).map(|_| ()),
        Ok(())
    );
    assert_eq!(
        suit_common::cose::AuthBlock::parse(&block).map(|_| ()),
        Err(CoseError::Malformed)
    );
}

#[test]
fn encryption_info_with_undefined_ciphertext_is_refused() {
    let (info, ct) = encrypted(FW, ContentAlgorithm::A128Gcm);
    decrypt(&info, Some(&ct), &kek_keys(), &CoseOptions::SUIT).unwrap();
    // COSE_Encrypt [protected, unprotected, nil, recipients]: the only `f6 81` is nil
    // followed by the one-element recipient array.
    let bad = patch(&info, &[0xf6, 0x81], &[0xf7, 0x81]);
    assert!(matches!(
        decrypt(&bad, Some(&ct), &kek_keys(), &CoseOptions::SUIT),
        Err(DecryptError::Malformed { .. })
    ));
}

#[test]
fn manifest_before_authentication_wrapper_is_refused() {
    let env = simple_envelope();
    let e = Envelope::decode(&env).unwrap();
    let wrapper_and_manifest = &env[3..];
    // Re-encode the envelope map with the manifest (3) first.
    let mut d = suit_common::cbor::Decoder::new(wrapper_and_manifest);
    assert_eq!(d.uint().unwrap(), 2);
    let wrapper = d.bytes().unwrap().to_vec();
    assert_eq!(d.uint().unwrap(), 3);
    let manifest = d.bytes().unwrap().to_vec();
    let swapped = cbor(&Value::Tag(
        107,
        Box::new(map(vec![(3, bytes(&manifest)), (2, bytes(&wrapper))])),
    ));
    assert_eq!(e.auth_block_count(), 1);
    assert!(matches!(
        Envelope::decode(&swapped),
        Err(Error::Invalid { reason, .. }) if reason.text().contains("before suit-authentication-wrapper")
    ));
}

/// An envelope with no authentication wrapper is refused as missing one, not as a manifest
/// out of order (kentakayama/suit-manifest-generator diag/suit_manifest_raw.diag).
#[test]
fn envelope_without_authentication_wrapper_is_refused_as_missing_it() {
    // 107({3: <<{1: 1, 2: 0, 3: <<{2: [[h'00']]}>>}>>})
    let env = hex::decode("d86ba1034da3010102000346a10281814100").unwrap();
    assert!(matches!(
        Envelope::decode(&env),
        Err(Error::Invalid { reason, .. }) if reason.text() == "missing suit-authentication-wrapper"
    ));
    // The same with a severed member after the manifest: still no wrapper follows.
    let mut more = env.clone();
    more[2] = 0xa2;
    more.extend(hex::decode("0e41a0").unwrap());
    assert!(matches!(
        Envelope::decode(&more),
        Err(Error::Invalid { reason, .. }) if reason.text() == "missing suit-authentication-wrapper"
    ));
}

#[test]
fn manifest_members_out_of_canonical_order_are_refused() {
    let common = map(vec![(2, Value::Array(vec![Value::Array(vec![bytes(FW)])]))]);
    let ordered = cbor(&map(vec![
        (1, int(1)),
        (2, int(1)),
        (3, bytes(&cbor(&common))),
    ]));
    let swapped = cbor(&map(vec![
        (2, int(1)),
        (1, int(1)),
        (3, bytes(&cbor(&common))),
    ]));
    authenticate(&seal(&ordered, &[])).unwrap();
    match authenticate(&seal(&swapped, &[])).unwrap_err() {
        Error::Decode { error, .. } => assert_eq!(
            error.kind,
            suit_common::cbor::CborErrorKind::NonCanonicalOrder
        ),
        other => panic!("{other:?}"),
    }
    // Parameters inside a command sequence: {21, 14} instead of {14, 21}.
    let install = |entries| manifest(&[&[FW]], vec![int(20), map(entries), int(21), int(15)]);
    let bad = install(vec![(21, Value::Text("#x".into())), (14, int(1))]);
    let good = install(vec![(14, int(1)), (21, Value::Text("#x".into()))]);
    let mut dev = RecordingPlatform::spec_device();
    let keys = MemoryKeys::new();
    let err = update(&seal(&good, &[("#x", b"y")]), &keys, &mut dev);
    assert!(err.is_ok(), "{err:?}");
    let mut dev = RecordingPlatform::spec_device();
    let err = update(&seal(&bad, &[("#x", b"y")]), &keys, &mut dev).unwrap_err();
    assert!(
        matches!(&err, Error::Decode { error, .. } if error.kind == suit_common::cbor::CborErrorKind::NonCanonicalOrder),
        "{err:?}"
    );
}

/// manifest-37 asks for "the canonical CBOR ordering as defined in RFC8949", which names two:
/// §4.2.1 bytewise (what this project writes) and §4.2.3 length-first (RFC 7049's, what
/// suit-tool / cbor2 `canonical=True` writes). They differ for SUIT_Parameters such as
/// {21: uri, -1: custom, 24: device-identifier}: cbor2 puts the one-byte -1 (0x20) before the
/// two-byte 24 (0x18 0x18). Both install; a map in neither order, or switching order part way,
/// is still refused.
#[test]
fn parameters_in_either_canonical_order_install() {
    const PAYLOAD: &[u8] = b"firmware payload bytes\n";
    let device_id = hex::decode("97c4b218e2cb55f4a4d1fa7c32af5dbd").unwrap();
    let install = |order: &[i64]| {
        let entries = order
            .iter()
            .map(|k| match k {
                21 => (21, text("#p")),
                -1 => (-1, int(5)),
                24 => (24, bytes(&device_id)),
                25 => (25, bytes(b"args")), // suit-parameter-fetch-arguments
                _ => unreachable!(),
            })
            .collect();
        let digest = map(vec![
            (3, bytes(&suit_digest(PAYLOAD))),
            (14, int(PAYLOAD.len() as i64)),
        ]);
        let seq = [vec![int(20), digest], then(entries, &[21, 3])].concat();
        seal(&manifest(&[&[FW]], seq), &[("#p", PAYLOAD)])
    };
    let keys = MemoryKeys::new();
    // The length-first map is exactly what cbor2 writes for {21: "#p", -1: 5, 24: did}.
    let length_first = install(&[21, -1, 24]);
    let mut expected = vec![0xa3, 0x15, 0x62, b'#', b'p', 0x20, 0x05, 0x18, 0x18, 0x50];
    expected.extend_from_slice(&device_id);
    assert!(length_first.windows(expected.len()).any(|w| w == expected));
    for (name, env) in [
        ("length-first (RFC 8949 §4.2.3)", length_first),
        ("bytewise (RFC 8949 §4.2.1)", install(&[21, 24, -1])),
    ] {
        let mut dev = RecordingPlatform::spec_device();
        let out = update(&env, &keys, &mut dev);
        assert!(out.is_ok(), "{name}: {out:?}");
        assert_eq!(
            dev.installed.get(&cid(&[FW])).map(Vec::as_slice),
            Some(PAYLOAD)
        );
    }
    for (name, env) in [
        ("neither order", install(&[24, 21, -1])),
        ("bytewise, then length-first", install(&[21, 24, -1, 25])),
    ] {
        let mut dev = RecordingPlatform::spec_device();
        let err = update(&env, &keys, &mut dev).unwrap_err();
        assert!(
            matches!(&err, Error::Decode { error, .. } if error.kind == suit_common::cbor::CborErrorKind::NonCanonicalOrder),
            "{name}: {err:?}"
        );
        assert!(
            err.to_string().contains("map keys not in canonical order"),
            "{err}"
        );
        assert!(!dev.committed());
    }
}

/// The envelope's CDDL lets it carry a severable member the manifest holds inline (manifest-37
/// §8.5 lists them as envelope members without a condition). The manifest's own copy, which
/// the signature covers, is used; the envelope's is ignored unread (even one that is not
/// CBOR). It still counts towards the envelope's size bound, and a member the manifest does
/// not hold at all is still refused.
#[test]
fn a_severable_member_inline_and_in_the_envelope_uses_the_inline_one() {
    const PAYLOAD: &[u8] = b"the inline install's payload\n";
    const OTHER: &[u8] = b"the envelope copy's payload\n";
    let install = |uri: &str, payload: &[u8]| {
        let digest = map(vec![
            (3, bytes(&suit_digest(payload))),
            (14, int(payload.len() as i64)),
        ]);
        [vec![int(20), digest], then(vec![(21, text(uri))], &[21, 3])].concat()
    };
    let text_map = cbor(&Value::Map(vec![(
        text("en"),
        map(vec![(1, text("inline text"))]),
    )]));
    let m = with_manifest_member(
        &manifest(&[&[FW]], install("#p", PAYLOAD)),
        23,
        bytes(&text_map),
    );
    let copy = cbor(&Value::Array(install("#q", OTHER)));
    let integrated = [("#p", PAYLOAD), ("#q", OTHER)];
    let sealed = |severed: &[(u8, &[u8])]| {
        seal_one(&m, &author_key(), Algorithm::Esp256, severed, &integrated)
    };
    let env = sealed(&[(20, &copy), (23, &[0xff, 0x00])]);
    let auth = Envelope::decode(&env)
        .unwrap()
        .authenticate(&spec_policy().anchors)
        .unwrap();
    assert_eq!(auth.manifest.text.get(), Some(&text_map));
    let mut dev = RecordingPlatform::spec_device();
    update(&env, &MemoryKeys::new(), &mut dev).unwrap();
    assert_eq!(
        dev.installed.get(&cid(&[FW])).map(Vec::as_slice),
        Some(PAYLOAD)
    );

    // The copy counts towards the envelope's bound like any other byte of it.
    let room = suit_common::suit::envelope::MAX_ENVELOPE_LEN - sealed(&[(23, &[])]).len();
    let big = vec![0; room];
    // A bstr this long has a 5-byte head, 4 more than the empty one's.
    assert!(Envelope::decode(&sealed(&[(23, &big[..room - 4])])).is_ok());
    assert!(matches!(
        Envelope::decode(&sealed(&[(23, &big[..room - 3])])),
        Err(Error::Limit(_))
    ));

    // payload-fetch (16): the manifest has none, inline or severed.
    assert_eq!(
        authenticate(&sealed(&[(16, &copy)])),
        Err(Error::Auth(AuthError::UnexpectedEnvelopeMember {
            member: 16
        }))
    );
}

#[test]
fn integrated_payload_keys_out_of_canonical_order_are_refused() {
    let m = manifest(&[&[FW]], vec![int(20), map(vec![(14, int(1))])]);
    authenticate(&seal(
        &m,
        &[("#a", b"1".as_slice()), ("#b", b"2".as_slice())],
    ))
    .unwrap();
    // The sealer writes canonical order; swap the two encoded entries to break it:
    // "#b" before "#a", and a longer key before a shorter one.
    let entry =
        |k: &str| cbor(&Value::Map(vec![(Value::Text(k.into()), bytes(b"1"))]))[1..].to_vec();
    for (first, second) in [("#a", "#b"), ("#b", "#aa")] {
        let sealed = seal(&m, &[(first, b"1".as_slice()), (second, b"1".as_slice())]);
        let ordered = [entry(first), entry(second)].concat();
        let swapped = [entry(second), entry(first)].concat();
        match Envelope::decode(&patch(&sealed, &ordered, &swapped)).unwrap_err() {
            Error::Decode { error, .. } => assert_eq!(
                error.kind,
                suit_common::cbor::CborErrorKind::NonCanonicalOrder
            ),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn undefined_and_floats_are_refused_where_the_cddl_has_none() {
    // A SUIT_Digest extension (allowed by the CDDL as any *CBOR type the CDDL uses*) holding
    // `undefined` or a float: the strict reader refuses both.
    for extra in [Value::Null, Value::Float(1.5)] {
        let d = cbor(&Value::Array(vec![
            int(-16),
            bytes(&Sha256::digest(FW)),
            extra.clone(),
        ]));
        let d = if extra == Value::Null {
            // ciborium writes nil for Null; turn the last byte into `undefined`.
            let mut d = d;
            *d.last_mut().unwrap() = 0xf7;
            d
        } else {
            d
        };
        assert!(
            suit_common::cbor::check_well_formed(&d).is_err(),
            "{d:02x?}"
        );
    }
    // nil, true, false stay accepted.
    let d = cbor(&Value::Array(vec![
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
    ]));
    suit_common::cbor::check_well_formed(&d).unwrap();
}

/// A private-use header label (RFC 9052 §3: `* label => values`, `values = any`).
const PRIVATE_LABEL: i64 = -65_537;

/// `block` (a tagged COSE structure of type `T`) with `edit` applied and re-encoded by coset.
fn with_coset<T: coset::TaggedCborSerializable>(
    block: &[u8],
    edit: impl FnOnce(&mut T),
) -> Vec<u8> {
    let mut t = T::from_tagged_slice(block).unwrap();
    edit(&mut t);
    t.to_tagged_vec().unwrap()
}

/// `h` with a float under the private-use label: `any` to RFC 9052, data to skip here.
fn float_header(h: &mut coset::Header) {
    h.rest
        .push((coset::Label::Int(PRIVATE_LABEL), Value::Float(1.5)));
}

/// RFC 9052 `header_map` values are `any`: a float under a label this engine does not read
/// is skipped, in a COSE_Sign1's unprotected header and in its protected one. Where a header's
/// CDDL has a type (`alg`, `kid`) a float is still refused.
#[test]
fn a_float_in_a_private_header_of_a_cose_sign1_is_skipped() {
    use coset::{
        iana::EnumI64, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable,
    };
    use p256::ecdsa::signature::Signer as _;
    const SCALAR: [u8; 32] = [0x11; 32];
    let raw = p256::ecdsa::SigningKey::from_slice(&SCALAR).unwrap();
    let key = SigningKey::p256(&SCALAR).unwrap();
    let anchors = vec![anchor(
        1,
        key.verification_key(),
        suit_common::suit::policy::Role::Author,
    )];
    let m = manifest(&[&[FW]], vec![int(20), map(vec![(14, int(1))])]);
    let digest = manifest_digest(&m);
    let esp256 = coset::iana::Algorithm::from_i64(Algorithm::Esp256.cose_id()).unwrap();
    let sign1 = |protected: HeaderBuilder, unprotected: HeaderBuilder| {
        CoseSign1Builder::new()
            .protected(protected.algorithm(esp256).build())
            .unprotected(unprotected.build())
            .create_detached_signature(&digest, &[], |tbs| {
                let sig: p256::ecdsa::Signature = raw.sign(tbs);
                sig.to_bytes().to_vec()
            })
            .build()
            .to_tagged_vec()
            .unwrap()
    };
    let float = |h: HeaderBuilder| h.value(PRIVATE_LABEL, Value::Float(1.5));
    let blocks = [
        sign1(HeaderBuilder::new(), HeaderBuilder::new()),
        sign1(HeaderBuilder::new(), float(HeaderBuilder::new())),
        sign1(float(HeaderBuilder::new()), HeaderBuilder::new()),
    ];
    for block in &blocks {
        assert_eq!(
            suit_common::cose::AuthBlock::parse(block).map(|_| ()),
            Ok(())
        );
        let env = envelope_with_blocks(&m, vec![block.clone()]);
        let signers = Envelope::decode(&env)
            .unwrap()
            .authenticate(&anchors)
            .unwrap()
            .signers;
        assert_eq!(signers, vec![1]);
    }
    // `undefined` under the same private label (unprotected: outside what is signed) is
    // `any` too: skipped alike.
    let float_header = [0x3a, 0x00, 0x01, 0x00, 0x00, 0xf9, 0x3e, 0x00];
    let at = blocks[1]
        .windows(float_header.len())
        .position(|w| w == float_header)
        .unwrap();
    let mut undefined = blocks[1].clone();
    undefined.splice(at + 5..at + 8, [0xf7]);
    let env = envelope_with_blocks(&m, vec![undefined]);
    let auth = Envelope::decode(&env).unwrap().authenticate(&anchors);
    assert_eq!(auth.unwrap().signers, vec![1]);
    // `kid` (bstr) and `alg` (int / tstr) as floats: malformed.
    for label in [4, 1] {
        let block = with_coset(&blocks[0], |s: &mut CoseSign1| {
            s.unprotected
                .rest
                .push((coset::Label::Int(label), Value::Float(1.5)));
        });
        assert_eq!(
            suit_common::cose::AuthBlock::parse(&block).map(|_| ()),
            Err(CoseError::Malformed),
            "label {label}"
        );
    }
}

/// A COSE_Sign whose second signature carries a float in a private-use header: the block is
/// read, and each signature judged on its own (manifest-37 §8.3). Unprotected, the signature
/// still verifies (both signers); protected (and so no longer matching its signature), it
/// fails alone and the other signature authenticates.
#[test]
fn a_float_in_one_signatures_header_does_not_void_a_cose_sign() {
    use coset::CoseSign;
    let m = manifest(&[&[FW]], vec![int(20), map(vec![(14, int(1))])]);
    let (a, o) = (author_key(), p256_private_from_pem(ANCHOR_PRIV));
    let signers = [(&a, &b"author"[..]), (&o, &b"operator"[..])].map(|(key, kid)| {
        suit_common::suit::author::Signer {
            key,
            alg: Algorithm::Esp256,
            kid,
        }
    });
    let blocks = suit_common::suit::author::authentication_blocks(
        suit_common::suit::author::AuthForm::CoseSign,
        &signers,
        &manifest_digest(&m),
    )
    .unwrap();
    let mut policy = spec_policy();
    policy.anchors.push(anchor(
        2,
        o.verification_key(),
        suit_common::suit::policy::Role::Operator,
    ));
    let signers_of = |block: Vec<u8>| {
        Envelope::decode(&envelope_with_blocks(&m, vec![block]))
            .unwrap()
            .authenticate(&policy.anchors)
            .map(|a| a.signers)
    };
    let unprotected = with_coset(&blocks[0], |s: &mut CoseSign| {
        float_header(&mut s.signatures[1].unprotected)
    });
    assert_eq!(signers_of(unprotected), Ok(vec![1, 2]));
    let protected = with_coset(&blocks[0], |s: &mut CoseSign| {
        float_header(&mut s.signatures[1].protected.header);
        s.signatures[1].protected.original_data = None;
    });
    assert_eq!(signers_of(protected), Ok(vec![1]));
}

/// An envelope of `manifest` whose authentication wrapper holds exactly `blocks`.
fn envelope_with_blocks(manifest: &[u8], blocks: Vec<Vec<u8>>) -> Vec<u8> {
    let mut items = vec![bytes(&manifest_digest(manifest))];
    items.extend(blocks.iter().map(|b| bytes(b)));
    let auth = cbor(&Value::Array(items));
    let envelope = Value::Map(vec![(int(2), bytes(&auth)), (int(3), bytes(manifest))]);
    cbor(&Value::Tag(107, Box::new(envelope)))
}

/// An encryption info's header values are `any` too: a float under a private-use label, in
/// the content layer's unprotected header and in the recipient's, is skipped and the payload
/// installs; an IV (bstr) given as a float is still refused.
#[test]
fn a_float_in_a_private_header_of_an_encryption_info_is_skipped() {
    let plaintext = b"firmware with a float in its encryption info".to_vec();
    let fw = cid(&[FW]);
    let (info, ct) = encrypted(&plaintext, ContentAlgorithm::A128Gcm);
    let private = || (int(PRIVATE_LABEL), Value::Float(1.5));
    let floated = edit_info(&info, |i| {
        let Value::Map(unprotected) = &mut i[1] else {
            panic!("unprotected")
        };
        unprotected.push(private());
        let Value::Array(recipients) = &mut i[3] else {
            panic!("recipients")
        };
        let Value::Array(r) = &mut recipients[0] else {
            panic!("a recipient")
        };
        let Value::Map(unprotected) = &mut r[1] else {
            panic!("recipient unprotected")
        };
        unprotected.push(private());
    });
    let env = seal(
        &draft_form(&plaintext, &cbor(&floated), &ct),
        &[("#ct", &ct)],
    );
    let (r, dev) = run_policy(&env, false);
    assert_eq!(r.unwrap().committed, vec![fw.clone()]);
    assert_eq!(dev.installed.get(&fw), Some(&plaintext));

    let float_iv = edit_info(&info, |i| i[1] = map(vec![(5, Value::Float(1.5))]));
    refused_info(
        &cbor(&float_iv),
        DecryptError::Malformed {
            at: suit_common::encryption::Location::Unprotected,
            problem: suit_common::encryption::Problem::HeaderType(5),
        },
        suit_common::report::Reason::CoseUnsupported,
    );
}

/// manifest-37: `SUIT_Component_Identifier = [* bstr]` sets no bound; this device's are device
/// policy, as CONFORMANCE.md (engine limits) gives them: 16 segments of at most 255 bytes,
/// 512 bytes in all. A component named by a long path installs and is listed under its name;
/// past each bound the manifest is refused naming it.
#[test]
fn long_component_identifiers_install_within_the_documented_limits() {
    use suit_common::protocol::{Command, Empty, StatusResponse};
    use suit_common::suit::component::{MAX_ID_LEN, MAX_SEGMENTS};
    use suit_test_support::service::{call, device, install, part, refusal, release, snapshot};

    // A file path in one segment, as long as a segment may be.
    let path: Vec<u8> = b"/opt/vendor/"
        .iter()
        .chain(b"lib/".iter().cycle())
        .copied()
        .take(255)
        .collect();
    let rest = vec![b'r'; 512 - 3 - path.len()];
    let short: Vec<Vec<u8>> = (0..15u8).map(|i| vec![b'a' + i]).collect();
    let with_app = |segs: &[&[u8]]| -> Vec<Vec<u8>> {
        std::iter::once(&b"app"[..])
            .chain(segs.iter().copied())
            .map(<[u8]>::to_vec)
            .collect()
    };
    let short_refs: Vec<&[u8]> = short.iter().map(Vec::as_slice).collect();
    let fits = [
        with_app(&[&path]),
        // 512 bytes in all.
        with_app(&[&path, &rest]),
        // 16 segments.
        with_app(&short_refs),
    ];
    let mut s = device();
    for (seq, id) in fits.iter().enumerate() {
        let segs: Vec<&[u8]> = id.iter().map(Vec::as_slice).collect();
        let image = format!("image {seq}");
        let r = release(seq as u64 + 1, &[part(&segs, image.as_bytes(), "#i")]);
        install(&mut s, &r).unwrap_or_else(|e| panic!("{} segments: {e:?}", id.len()));
    }
    let st: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    let listed: Vec<Vec<Vec<u8>>> = st
        .service
        .components
        .iter()
        .map(|c| c.id.0.iter().map(|b| b.to_vec()).collect())
        .collect();
    for id in &fits {
        assert!(listed.contains(id), "{} segments not listed", id.len());
    }

    let mut too_long = path.clone();
    too_long.push(b'x');
    let mut more = rest.clone();
    more.push(b'x');
    let many: Vec<&[u8]> = short_refs.iter().copied().chain([&b"z"[..]]).collect();
    let past = [
        (
            with_app(&[&too_long]),
            "component identifier segment length",
        ),
        (with_app(&[&path, &more]), "component identifier length"),
        (with_app(&many), "component identifier segments"),
    ];
    for (id, name) in past {
        let segs: Vec<&[u8]> = id.iter().map(Vec::as_slice).collect();
        let before = snapshot(&s);
        let r = release(9, &[part(&segs, b"never", "#i")]);
        let refused = refusal(install(&mut s, &r));
        says(&refused.reason, name);
        assert_eq!(snapshot(&s), before, "{name}: state changed");
    }

    // The bounds keep a full device's status in one response: every component at the
    // longest identifier, split into the most segments.
    let mut worst = st.clone();
    let seg = MAX_ID_LEN / MAX_SEGMENTS;
    let id = suit_common::protocol::ComponentPath(
        (0..MAX_SEGMENTS)
            .map(|_| suit_common::protocol::ByteBuf::from(vec![0xff; seg]))
            .collect(),
    );
    let mut c = st.service.components[0].clone();
    c.id = id;
    c.size = u64::MAX;
    c.sequence_number = u64::MAX;
    c.ta_version = Some(u32::MAX);
    // An REE component's confidential content lists each anchor that released it: at most
    // one entry per anchor the state can hold.
    c.released_by = vec![
        suit_common::protocol::ReleaseInfo {
            anchor: u32::MAX,
            holds: true,
        };
        suit_common::service::state::MAX_ANCHORS
    ];
    worst.service.components = vec![c; suit_common::service::state::MAX_COMPONENTS];
    worst.service.unconfirmed_tas = vec![
        suit_common::protocol::TaUuid([0xff; 16]);
        suit_common::service::state::MAX_UNCONFIRMED_TAS
    ];
    let len = suit_common::protocol::encode(&worst).unwrap().len();
    assert!(
        len <= suit_common::protocol::MAX_RESPONSE,
        "a full device's status is {len} bytes"
    );
}

// Trust domains: component index `true` and dependencies.

/// Root components `a` and `d`; `d` (index 1) is a dependency that writes `x`. The install
/// sequence fetches it, checks its integrity, then runs `then`.
fn with_dependency(
    then: Vec<Value>,
) -> (Result<suit_common::suit::Outcome, Error>, RecordingPlatform) {
    use crate::attack_engine_bounds as b;
    let (dep, digest) = b::dependency(b"one");
    let mut install = vec![
        int(12),
        int(1),
        int(20),
        map(vec![(3, bytes(&digest)), (21, text("#d1"))]),
        int(21),
        int(15),
        int(7),
        int(15),
    ];
    install.extend(then);
    let m = b::manifest(&[b"a", b"d"], &[1], install, b"root");
    let env = seal_one(&m, &author_key(), Algorithm::Esp256, &[], &[("#d1", &dep)]);
    let mut dev = RecordingPlatform::spec_device();
    let r = spec_process(&env, Procedure::Update, &mut dev);
    (r, dev)
}

fn refused_at(r: Result<suit_common::suit::Outcome, Error>) -> (CommandErrorKind, Option<usize>) {
    match r {
        Err(Error::Command(c)) => (c.kind, c.location.component),
        other => panic!("{other:?}"),
    }
}

fn processed(dev: &RecordingPlatform) -> Vec<ComponentId> {
    dev.directives()
        .into_iter()
        .filter(|(e, _, _)| *e == Event::ProcessDependency)
        .map(|(_, c, _)| c)
        .collect()
}

#[test]
fn process_dependency_on_an_index_list_must_name_only_dependencies() {
    // "If the current Component index ... does not have an entry in the suit-dependencies map
    // ... the Manifest Processor MUST Abort": a list naming every component is no `true`.
    let (r, dev) = with_dependency(vec![
        int(12),
        Value::Array(vec![int(0), int(1)]),
        int(11),
        int(15),
    ]);
    assert_eq!(refused_at(r), (CommandErrorKind::NotADependency, Some(0)));
    assert!(!dev.committed());
    // `true` applies to all dependencies: `a` is passed over, `d` processed.
    let (r, dev) = with_dependency(vec![int(12), Value::Bool(true), int(11), int(15)]);
    let committed = r.unwrap().committed;
    assert!(
        committed.contains(&ComponentId::new(&[b"x"])),
        "{committed:?}"
    );
    assert_eq!(processed(&dev), [ComponentId::new(&[b"d"])]);
    // override-multiple sets an integer index: `true` no longer holds after it.
    let (r, _) = with_dependency(vec![
        int(12),
        Value::Bool(true),
        int(34),
        map(vec![(0, map(vec![]))]),
        int(11),
        int(15),
    ]);
    assert_eq!(refused_at(r), (CommandErrorKind::NotADependency, Some(0)));
}

#[test]
fn process_dependency_on_true_without_dependencies_does_nothing() {
    use crate::attack_engine_bounds as b;
    let run = |install: Vec<Value>| {
        let m = b::manifest(&[b"a"], &[], install, b"root");
        let env = seal_one(&m, &author_key(), Algorithm::Esp256, &[], &[]);
        let mut dev = RecordingPlatform::spec_device();
        let r = spec_process(&env, Procedure::Update, &mut dev);
        (r, dev)
    };
    // "If the current Component is True, then this Directive applies to all Dependencies":
    // none here, so nothing runs and nothing fails.
    let (r, dev) = run(vec![int(12), Value::Bool(true), int(11), int(15)]);
    r.unwrap();
    assert!(processed(&dev).is_empty());
    // The same component named by its index is no dependency.
    let (r, _) = run(vec![int(12), int(0), int(11), int(15)]);
    assert_eq!(refused_at(r), (CommandErrorKind::NotADependency, Some(0)));
    // Only process-dependency reads `true` as "the dependencies": dependency-integrity on
    // `true` checks every component, and a component is no dependency (its steps fail: abort).
    let (r, _) = run(vec![int(12), Value::Bool(true), int(7), int(15)]);
    assert_eq!(refused_at(r), (CommandErrorKind::NotADependency, Some(0)));
}

#[test]
fn unlink_of_a_dependency_is_ignored() {
    // The device keeps no dependency manifest beyond the run: nothing to unlink ("MAY choose
    // to ignore an Unlink Directive"). It succeeds, is reported, and touches no storage.
    let (r, dev) = with_dependency(vec![int(11), int(15), int(33), int(15)]);
    let committed = r.unwrap().committed;
    assert!(
        committed.contains(&ComponentId::new(&[b"x"])),
        "{committed:?}"
    );
    let d = ComponentId::new(&[b"d"]);
    assert!(dev.directives().contains(&(Event::Unlink, d.clone(), true)));
    assert!(!dev.log.contains(&Effect::StageDiscard(d)));
}

// ---------------------------------------------------------------------------------------
// Interop review (round 3): inputs a peer may send.

/// RFC 8949 §5.6: a map with a repeated key is invalid. A key in a longer head than needed
/// (0x18 0x01 for 1) is refused as such (one encoding per key value, so repeats are found by
/// their bytes). Maps the engine reads only for well-formedness (suit-text, custom parameter
/// values) are refused like the ones it reads.
#[test]
fn repeated_keys_and_keys_in_longer_heads_are_refused_in_maps_read_as_opaque() {
    let base = manifest(&[&[FW]], vec![int(20), map(vec![(14, int(1))])]);
    // SUIT_Text_Map {"en": {1: "A", 1: "B"}}, the second 1 as 0x18 0x01.
    let text = |second_key: &[u8]| {
        [
            &[0xa1, 0x62, b'e', b'n', 0xa2, 0x01, 0x61, b'A'][..],
            second_key,
            &[0x61, b'B'],
        ]
        .concat()
    };
    let with_text = |t: &[u8]| seal(&with_manifest_member(&base, 23, bytes(t)), &[]);
    authenticate(&with_text(&text(&[0x02]))).unwrap();
    let refused = |r: Result<(), Error>, kind: suit_common::cbor::CborErrorKind| matches!(r, Err(Error::Decode { error, .. }) if error.kind == kind);
    let dup = |r: Result<(), Error>| refused(r, suit_common::cbor::CborErrorKind::DuplicateKey);
    let longer =
        |r: Result<(), Error>| refused(r, suit_common::cbor::CborErrorKind::NonPreferredKey);
    let r = authenticate(&with_text(&text(&[0x01])));
    assert!(dup(r.clone()), "{r:?}");
    let r = authenticate(&with_text(&text(&[0x18, 0x01])));
    assert!(longer(r.clone()), "{r:?}");
    // Language tags: "en" twice, the second with a one-byte length head.
    let tags = [
        &[0xa2, 0x62, b'e', b'n', 0xa1, 0x01, 0x61, b'A'][..],
        &[0x78, 0x02, b'e', b'n', 0xa1, 0x01, 0x61, b'B'],
    ]
    .concat();
    let r = authenticate(&with_text(&tags));
    assert!(longer(r.clone()), "{r:?}");

    // A custom parameter's value {1: 1, 2: 300}, then {1: 1, 1: 44} of the same length.
    let custom = manifest(
        &[&[FW]],
        vec![
            int(20),
            map(vec![
                (14, int(1)),
                (-1, map(vec![(1, int(1)), (2, int(300))])),
            ]),
        ],
    );
    let from = [0xa2, 0x01, 0x01, 0x02, 0x19, 0x01, 0x2c];
    authenticate(&seal(&custom, &[])).unwrap();
    let bad = patch(&custom, &from, &[0xa2, 0x01, 0x01, 0x18, 0x01, 0x18, 0x2c]);
    let r = authenticate(&seal(&bad, &[]));
    assert!(longer(r.clone()), "{r:?}");
    let bad = patch(&custom, &from, &[0xa2, 0x01, 0x01, 0x01, 0x19, 0x01, 0x2c]);
    let r = authenticate(&seal(&bad, &[]));
    assert!(dup(r.clone()), "{r:?}");
}

/// Envelope members with a private-use (negative) label are refused like every other member
/// the engine does not know, `Unsupported::Member`, as in the manifest; not as a malformed
/// envelope.
#[test]
fn private_use_members_are_unsupported_members() {
    use suit_common::suit::error::Unsupported;
    let env = simple_envelope();
    let mut d = suit_common::cbor::Decoder::new(&env[3..]);
    assert_eq!(d.uint().unwrap(), 2);
    let wrapper = d.bytes().unwrap().to_vec();
    assert_eq!(d.uint().unwrap(), 3);
    let manifest_bstr = d.bytes().unwrap().to_vec();
    for label in [-257, -1, 10] {
        let with = cbor(&Value::Tag(
            107,
            Box::new(map(vec![
                (2, bytes(&wrapper)),
                (3, bytes(&manifest_bstr)),
                (label, bytes(b"vendor")),
            ])),
        ));
        assert_eq!(
            Envelope::decode(&with).map(|_| ()),
            Err(Error::Unsupported(Unsupported::Member(label))),
            "{label}"
        );
    }
    // A manifest member likewise.
    let m = with_manifest_member(
        &manifest(&[&[FW]], vec![int(20), map(vec![(14, int(1))])]),
        -257,
        text("private"),
    );
    assert_eq!(
        authenticate(&seal(&m, &[])),
        Err(Error::Unsupported(Unsupported::Member(-257)))
    );
}

/// manifest-37 suit-parameter-custom: "It MUST NOT be used in the shared sequence". A
/// parameter directive there that sets a custom (negative) parameter, directly, nested or per
/// component, or a copy-params naming one, is refused at decode, naming the rule; the same in
/// install is accepted.
#[test]
fn custom_parameters_in_the_shared_sequence_are_refused() {
    let custom = || map(vec![(-257, int(1))]);
    let nested = |seq: Vec<Value>| bytes(&cbor(&Value::Array(seq)));
    let shared_with = |extra: Vec<Value>| {
        let shared = Value::Array([spec_id_checks(), extra].concat());
        let install = Value::Array(vec![int(20), map(vec![(14, int(1))])]);
        let components = vec![
            Value::Array(vec![bytes(FW)]),
            Value::Array(vec![bytes(b"1")]),
        ];
        seal(&suit_manifest(1, components, &shared, &install), &[])
    };
    authenticate(&shared_with(vec![int(20), map(vec![(14, int(1))])])).unwrap();
    for (what, extra) in [
        ("override-parameters", vec![int(20), custom()]),
        ("set-parameters", vec![int(19), custom()]),
        (
            "override-multiple",
            vec![int(34), Value::Map(vec![(int(0), custom())])],
        ),
        (
            "copy-params",
            vec![
                int(35),
                Value::Map(vec![(int(1), Value::Array(vec![int(-257)]))]),
            ],
        ),
        (
            "inside try-each",
            vec![
                int(15),
                Value::Array(vec![nested(vec![int(20), custom()]), Value::Null]),
            ],
        ),
    ] {
        let r = authenticate(&shared_with(extra));
        assert!(
            matches!(&r, Err(Error::Invalid { at, reason })
                if at.text() == "suit-shared-sequence"
                    && reason.text().contains("custom parameters")),
            "{what}: {r:?}"
        );
    }
    // In install: accepted.
    let m = manifest(
        &[&[FW]],
        vec![int(20), map(vec![(14, int(1)), (-257, int(1))])],
    );
    authenticate(&seal(&m, &[])).unwrap();
}
