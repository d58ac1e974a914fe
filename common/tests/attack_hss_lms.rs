//! HSS-LMS signatures and keys of the wrong shape (session 14 review): hbs-lms 0.1 slices and
//! unwraps what it parses, and verification runs before anything is authenticated, so a
//! malformed signature in an unauthenticated envelope used to panic the verifier (and abort
//! the TA). Each signature and key here is checked against its RFC 8554 shape first
//! (`common/src/cose/hss_shape.rs`): anything else is a typed error, never a panic (a panic
//! fails these tests), and genuine signatures still verify.

use coset::iana;
use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use hbs_lms::{HssParameter, LmotsAlgorithm, LmsAlgorithm, Seed, Sha256_256};

use suit_common::cose::{verify_auth_block, Algorithm, CoseError, KeyMaterial, VerificationKey};
use suit_common::protocol::*;
use suit_common::registry::EnvelopeKey;
use suit_common::service::provision::Op;
use suit_common::service::state::{AnchorRecord, RoleRecord};
use suit_common::service::Service;
use suit_common::suit::author::Members;
use suit_common::suit::error::{AuthError, Error};
use suit_common::suit::Envelope;
use suit_test_support::service::{
    call, install_with, manifest, part, provision, provision_message, provisioned, refusal, scope,
    Mem,
};
use suit_test_support::{anchor, bytes, cbor, int, manifest_digest, policy_of};

/// The encoded SUIT_Digest a SUIT signature covers (the detached COSE payload).
const PAYLOAD: &[u8] = b"\x82\x2f\x58\x20abcdefghijklmnopqrstuvwxyz012345";

/// An HSS-LMS key pair, its private key advanced after each signature.
struct HssSigner {
    private: Vec<u8>,
    public: Vec<u8>,
}

impl HssSigner {
    /// A key pair of `levels` (LM-OTS, LMS) parameter sets, top first.
    fn new(levels: &[(LmotsAlgorithm, LmsAlgorithm)], seed: u8) -> Self {
        let params: Vec<_> = levels
            .iter()
            .map(|&(ots, lms)| HssParameter::<Sha256_256>::new(ots, lms))
            .collect();
        let (sk, vk) = hbs_lms::keygen::<Sha256_256>(&params, &Seed::from([seed; 32]), None)
            .expect("HSS-LMS key generation");
        HssSigner {
            private: sk.as_slice().to_vec(),
            public: vk.as_slice().to_vec(),
        }
    }

    /// The two-level key most tests use: top tree LMS_SHA256_M32_H5 / LMOTS_SHA256_N32_W4,
    /// second tree H5 / W2 (different LM-OTS types, so each level's typecodes matter).
    fn two_levels(seed: u8) -> Self {
        Self::new(
            &[
                (LmotsAlgorithm::LmotsW4, LmsAlgorithm::LmsH5),
                (LmotsAlgorithm::LmotsW2, LmsAlgorithm::LmsH5),
            ],
            seed,
        )
    }

    fn sign(&mut self, message: &[u8]) -> Vec<u8> {
        let current = self.private.clone();
        let mut next = None;
        let mut update = |new: &[u8]| {
            next = Some(new.to_vec());
            Ok(())
        };
        let signature = hbs_lms::sign::<Sha256_256>(message, &current, &mut update, None)
            .expect("HSS-LMS signing");
        self.private = next.expect("the private key advances");
        signature.as_ref().to_vec()
    }

    fn verification_key(&self) -> VerificationKey {
        VerificationKey::hss_lms(&self.public).expect("a genuine HSS-LMS public key")
    }

    /// A COSE_Sign1 (alg -46, detached payload) over `payload` with a genuine signature.
    fn block(&mut self, payload: &[u8]) -> Vec<u8> {
        let tbs = sig_structure(payload);
        hss_block(self.sign(&tbs))
    }
}

/// The COSE_Sign1 Sig_structure of an alg -46 block over the detached `payload`.
fn sig_structure(payload: &[u8]) -> Vec<u8> {
    let mut tbs = None;
    let _ = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::HSS_LMS)
                .build(),
        )
        .create_detached_signature(payload, &[], |t| {
            tbs = Some(t.to_vec());
            Vec::new()
        });
    tbs.unwrap()
}

/// A tagged COSE_Sign1 (alg -46, detached payload) carrying `signature` as it is.
fn hss_block(signature: Vec<u8>) -> Vec<u8> {
    CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::HSS_LMS)
                .build(),
        )
        .signature(signature)
        .build()
        .to_tagged_vec()
        .unwrap()
}

/// Verifies `signature` over PAYLOAD with `key` (a panic here fails the test).
fn verify(signature: &[u8], key: &VerificationKey) -> Result<Algorithm, CoseError> {
    verify_auth_block(&hss_block(signature.to_vec()), PAYLOAD, key)
}

/// Offsets of the fields of an HSS signature (RFC 8554 §6.2) made with parameter sets `levels`
/// (p, h per level, top first): every u32str, C, the first and last y and path element, and
/// each signed public key's fields. Shows where a flip lands in each kind of field.
fn field_offsets(levels: &[(usize, usize)]) -> Vec<usize> {
    let mut at = 0;
    let mut offsets = vec![0, 3];
    at += 4; // Nspk
    for (i, &(p, h)) in levels.iter().enumerate() {
        // q, otstype, C, y[0], y[p-1], lms type, path[0], path[h-1]
        let q = at;
        let ots = q + 4;
        let c = ots + 4;
        let y = c + 32;
        let lms = y + 32 * p;
        let path = lms + 4;
        offsets.extend([q, q + 3, ots, ots + 3, c, y, lms - 32, lms, lms + 3, path]);
        offsets.push(path + 32 * h - 1);
        at = path + 32 * h;
        if i + 1 < levels.len() {
            // The signed LMS public key: type, otstype, I, T[1].
            offsets.extend([at, at + 3, at + 4, at + 7, at + 8, at + 24, at + 55]);
            at += 56;
        }
    }
    assert_eq!(offsets.iter().max().copied(), Some(at - 1), "layout");
    offsets
}

/// (p, h) of the two-level key: W4 (p = 67) and W2 (p = 133), both H5.
const TWO_LEVELS: [(usize, usize); 2] = [(67, 5), (133, 5)];

#[test]
fn a_genuine_signature_verifies_and_is_exactly_its_rfc_8554_length() {
    let mut signer = HssSigner::two_levels(1);
    let key = signer.verification_key();
    let signature = signer.sign(&sig_structure(PAYLOAD));
    // u32str(1) || (LMS signature W4/H5 || LMS public key) || LMS signature W2/H5.
    assert_eq!(
        signature.len(),
        4 + (4 + 4 + 32 + 67 * 32 + 4 + 5 * 32) + 56 + (4 + 4 + 32 + 133 * 32 + 4 + 5 * 32)
    );
    assert_eq!(verify(&signature, &key), Ok(Algorithm::HssLms));
    // Another message: the hash comparison fails, typed.
    assert_eq!(
        verify_auth_block(&hss_block(signature), b"other", &key),
        Err(CoseError::VerificationFailed)
    );
    // A single-level key as the existing test has it (W4/H5), with W8 and W1 trees too.
    for ots in [
        LmotsAlgorithm::LmotsW1,
        LmotsAlgorithm::LmotsW4,
        LmotsAlgorithm::LmotsW8,
    ] {
        let mut one = HssSigner::new(&[(ots, LmsAlgorithm::LmsH5)], 2);
        let block = one.block(PAYLOAD);
        assert_eq!(
            verify_auth_block(&block, PAYLOAD, &one.verification_key()),
            Ok(Algorithm::HssLms)
        );
    }
}

/// L = 8 is the most RFC 8554 allows, and hbs-lms verifies it (7 signed public keys). Its
/// signer stops at L = 7, so the L = 8 signature is chained from two genuine ones (RFC 8554
/// §6.2: each level signs the next level's LMS public key): a one-level key A signs the top
/// LMS public key of a seven-level key B, which signs the message.
#[test]
fn an_eight_level_signature_verifies_and_nspk_must_be_seven() {
    let mut a = HssSigner::new(&[(LmotsAlgorithm::LmotsW4, LmsAlgorithm::LmsH5)], 3);
    let levels: Vec<_> = (0..7)
        .map(|i| {
            let ots = [LmotsAlgorithm::LmotsW2, LmotsAlgorithm::LmotsW4][i % 2];
            (ots, LmsAlgorithm::LmsH5)
        })
        .collect();
    let mut b = HssSigner::new(&levels, 4);
    assert_eq!(&b.public[..4], &[0, 0, 0, 7]);
    let a_signs_b = a.sign(&b.public[4..]);
    let b_signs_message = b.sign(&sig_structure(PAYLOAD));
    assert_eq!(&a_signs_b[..4], &[0, 0, 0, 0]);
    assert_eq!(&b_signs_message[..4], &[0, 0, 0, 6]);
    let signature = [
        &[0, 0, 0, 7][..],
        &a_signs_b[4..],
        &b.public[4..],
        &b_signs_message[4..],
    ]
    .concat();
    let public = [&[0, 0, 0, 8][..], &a.public[4..]].concat();
    let key = VerificationKey::hss_lms(&public).unwrap();
    assert_eq!(verify(&signature, &key), Ok(Algorithm::HssLms));
    // B's own signature verifies with B's key, not with the eight-level one.
    assert_eq!(
        verify(&b_signs_message, &b.verification_key()),
        Ok(Algorithm::HssLms)
    );
    assert_eq!(
        verify(&b_signs_message, &key),
        Err(CoseError::VerificationFailed)
    );
    // Nspk of 6 or 8 for L = 8: refused (hbs-lms holds at most 7 signed public keys: an
    // eighth used to panic it).
    for nspk in [6, 8, 255] {
        let mut changed = signature.clone();
        changed[3] = nspk;
        assert_eq!(
            verify(&changed, &key),
            Err(CoseError::VerificationFailed),
            "Nspk {nspk}"
        );
    }
}

/// The review's finding: a genuine signature cut at any length, extended, or with a byte
/// changed in any field is refused with a typed error; none panics the verifier.
#[test]
fn truncated_extended_and_flipped_signatures_are_refused_without_panic() {
    let mut signer = HssSigner::two_levels(4);
    let key = signer.verification_key();
    let signature = signer.sign(&sig_structure(PAYLOAD));
    assert_eq!(verify(&signature, &key), Ok(Algorithm::HssLms));

    // Every prefix, the empty one included.
    for len in 0..signature.len() {
        assert_eq!(
            verify(&signature[..len], &key),
            Err(CoseError::VerificationFailed),
            "truncated to {len} bytes"
        );
    }
    // Trailing bytes (RFC 8554 fixes the length exactly).
    for extra in [1, 3, 4, 32, 56, 1000] {
        for fill in [0x00, 0xff] {
            let mut longer = signature.clone();
            longer.extend(std::iter::repeat_n(fill, extra));
            assert_eq!(
                verify(&longer, &key),
                Err(CoseError::VerificationFailed),
                "{extra} bytes of {fill:#x} appended"
            );
        }
    }
    // One byte changed at the first and last byte of every field, three ways.
    for at in field_offsets(&TWO_LEVELS) {
        for change in [|b: u8| b ^ 0x01, |b: u8| b ^ 0x80, |_| 0xff] {
            let mut flipped = signature.clone();
            flipped[at] = change(flipped[at]);
            if flipped == signature {
                continue;
            }
            assert_eq!(
                verify(&flipped, &key),
                Err(CoseError::VerificationFailed),
                "byte {at} changed"
            );
        }
    }
    // Pseudo-random mutations (fixed xorshift seed): a byte changed, a u32 overwritten with a
    // small or a huge value, or a cut, anywhere.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..400 {
        let mut mutated = signature.clone();
        let at = (next() % signature.len() as u64) as usize;
        match round % 4 {
            0 => mutated[at] ^= (next() % 255 + 1) as u8,
            1 | 2 => {
                let at = at.min(mutated.len() - 4);
                let value = if round % 4 == 1 {
                    (next() % 12) as u32
                } else {
                    next() as u32
                };
                mutated[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
            _ => mutated.truncate(at),
        }
        if mutated == signature {
            continue;
        }
        assert_eq!(
            verify(&mutated, &key),
            Err(CoseError::VerificationFailed),
            "mutation {round} at {at}"
        );
    }
}

/// Builds signatures field by field (zeros where a hash would be), so each rule of the shape
/// check is met by one signature that breaks only that rule.
struct Shape(Vec<u8>);

impl Shape {
    fn new(signed_keys: u32) -> Self {
        Shape(signed_keys.to_be_bytes().to_vec())
    }

    fn u32(mut self, v: u32) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }

    fn zeros(mut self, n: usize) -> Self {
        self.0.extend(std::iter::repeat_n(0, n));
        self
    }

    /// An LMS signature: q, LM-OTS signature of `ots` with `p` chains, `lms` with height `h`.
    fn lms_sig(self, q: u32, ots: u32, p: usize, lms: u32, h: usize) -> Self {
        self.u32(q)
            .u32(ots)
            .zeros(32 + 32 * p)
            .u32(lms)
            .zeros(32 * h)
    }

    fn lms_key(self, lms: u32, ots: u32) -> Self {
        self.u32(lms).u32(ots).zeros(16 + 32)
    }
}

/// An HSS public key: L, then an LMS public key of typecodes `lms`, `ots`.
fn hss_key(levels: u32, lms: u32, ots: u32) -> Vec<u8> {
    let mut k = levels.to_be_bytes().to_vec();
    k.extend(lms.to_be_bytes());
    k.extend(ots.to_be_bytes());
    k.extend([0x11; 16]);
    k.extend([0x22; 32]);
    k
}

/// Typecodes (RFC 8554 tables 1 and 2): LMS_SHA256_M32_H5 = 5, H10 = 6; LMOTS_SHA256_N32_W8 = 4,
/// W4 = 3.
const H5: u32 = 5;
const H10: u32 = 6;
const W8: u32 = 4;
const W4: u32 = 3;

#[test]
fn each_shape_rule_is_enforced() {
    // L = 2: top tree H5/W8, the signed tree H10/W4.
    let key = VerificationKey::hss_lms(&hss_key(2, H5, W8)).unwrap();
    let good = || Shape::new(1).lms_sig(0, W8, 34, H5, 5).lms_key(H10, W4);
    // Well-shaped (zeros for hashes): reaches hbs-lms, which finds it wrong.
    let shaped = good().lms_sig(1023, W4, 67, H10, 10).0;
    assert_eq!(verify(&shaped, &key), Err(CoseError::VerificationFailed));

    let refused: Vec<(&str, Vec<u8>)> = vec![
        // hbs-lms unwraps the LM-OTS and LMS typecodes it reads: unknown ones used to panic.
        (
            "unknown LM-OTS type",
            Shape::new(0).lms_sig(0, 9, 34, H5, 5).0,
        ),
        (
            "unknown LMS type",
            Shape::new(0).lms_sig(0, W8, 34, 77, 5).0,
        ),
        ("LM-OTS type 0", Shape::new(0).lms_sig(0, 0, 34, H5, 5).0),
        // Nspk must be L - 1.
        (
            "Nspk 0 for L = 2",
            Shape::new(0).lms_sig(0, W8, 34, H5, 5).0,
        ),
        (
            "Nspk 2 for L = 2",
            Shape::new(2)
                .lms_sig(0, W8, 34, H5, 5)
                .lms_key(H10, W4)
                .lms_sig(0, W4, 67, H10, 10)
                .lms_key(H10, W4)
                .lms_sig(0, W4, 67, H10, 10)
                .0,
        ),
        ("Nspk 2^32 - 1", Shape::new(u32::MAX).0),
        // Each LMS signature carries the typecodes of the key that verifies it.
        (
            "top LM-OTS type not the key's",
            Shape::new(1)
                .lms_sig(0, W4, 67, H5, 5)
                .lms_key(H10, W4)
                .lms_sig(0, W4, 67, H10, 10)
                .0,
        ),
        (
            "top LMS type not the key's",
            Shape::new(1)
                .lms_sig(0, W8, 34, H10, 10)
                .lms_key(H10, W4)
                .lms_sig(0, W4, 67, H10, 10)
                .0,
        ),
        (
            "second LM-OTS type not its signed key's",
            good().lms_sig(0, W8, 34, H10, 10).0,
        ),
        (
            "second LMS type not its signed key's",
            good().lms_sig(0, W4, 67, H5, 5).0,
        ),
        (
            "signed key of an unknown type",
            Shape::new(1)
                .lms_sig(0, W8, 34, H5, 5)
                .lms_key(10, W4)
                .lms_sig(0, W4, 67, H10, 10)
                .0,
        ),
        // q < 2^h.
        (
            "q = 2^5 in the top tree",
            Shape::new(1)
                .lms_sig(32, W8, 34, H5, 5)
                .lms_key(H10, W4)
                .lms_sig(0, W4, 67, H10, 10)
                .0,
        ),
        (
            "q = 2^10 in the second tree",
            good().lms_sig(1024, W4, 67, H10, 10).0,
        ),
        ("q = 2^32 - 1", good().lms_sig(u32::MAX, W4, 67, H10, 10).0),
        // Lengths: a chain or a path element short or long.
        ("y one element short", good().lms_sig(0, W4, 66, H10, 10).0),
        (
            "path one element long",
            good().lms_sig(0, W4, 67, H10, 11).0,
        ),
        (
            "one trailing byte",
            good().lms_sig(0, W4, 67, H10, 10).zeros(1).0,
        ),
        ("empty", Vec::new()),
    ];
    for (what, signature) in refused {
        assert_eq!(
            verify(&signature, &key),
            Err(CoseError::VerificationFailed),
            "{what}"
        );
    }
}

/// Only well-formed HSS public keys of the supported parameter sets are keys: L of 1 to 8,
/// known typecodes, exactly 60 bytes. hbs-lms holds at most 7 signed public keys, so a key of
/// L = 9 would have let a signature of Nspk = 8 panic it.
#[test]
fn malformed_public_keys_are_refused() {
    assert!(VerificationKey::hss_lms(&hss_key(1, H5, W8)).is_ok());
    assert!(VerificationKey::hss_lms(&hss_key(8, 9, 1)).is_ok());
    let mut long = hss_key(1, H5, W8);
    long.push(0);
    let bad = [
        ("L = 0", hss_key(0, H5, W8)),
        ("L = 9", hss_key(9, H5, W8)),
        ("L = 2^32 - 1", hss_key(u32::MAX, H5, W8)),
        ("unknown LMS type", hss_key(1, 4, W8)),
        ("LMS type 10", hss_key(1, 10, W8)),
        ("unknown LM-OTS type", hss_key(1, H5, 5)),
        ("LM-OTS type 0", hss_key(1, H5, 0)),
        ("a byte short", hss_key(1, H5, W8)[..59].to_vec()),
        ("a byte long", long),
        ("eight bytes", hss_key(1, H5, W8)[..8].to_vec()),
    ];
    for (what, k) in bad {
        assert_eq!(
            VerificationKey::hss_lms(&k).unwrap_err(),
            CoseError::InvalidKey,
            "{what}"
        );
        // Nor as a COSE_Key {1: 5, -1: k}.
        let cose_key = cbor(&ciborium::Value::Map(vec![
            (int(1), int(5)),
            (int(-1), bytes(&k)),
        ]));
        assert_eq!(
            VerificationKey::from_cose_key(&cose_key).unwrap_err(),
            CoseError::InvalidKey,
            "{what} (COSE_Key)"
        );
    }
    // A key built around the constructor is checked again when used: with L = 9 and a
    // signature of 8 well-shaped signed public keys, typed, no panic.
    let key = VerificationKey::from(KeyMaterial::HssLms(hss_key(9, H5, W8)));
    let mut nine = Shape::new(8);
    for _ in 0..8 {
        nine = nine.lms_sig(0, W8, 34, H5, 5).lms_key(H5, W8);
    }
    let nine = nine.lms_sig(0, W8, 34, H5, 5).0;
    assert_eq!(verify(&nine, &key), Err(CoseError::InvalidKey));
}

/// The envelope of `manifest`, its one authentication block `block` (over the manifest's
/// digest), with the integrated payloads `integrated`.
fn envelope_with_block(manifest: &[u8], block: &[u8], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    let key = suit_test_support::p256_private_from_pem(suit_test_support::AUTHOR_PRIV);
    let sealed = suit_test_support::seal_one(manifest, &key, Algorithm::Esp256, &[], integrated);
    let mut members = Members::decode(&sealed).unwrap();
    let wrapper = cbor(&ciborium::Value::Array(vec![
        bytes(&manifest_digest(manifest)),
        bytes(block),
    ]));
    members.set_bstr(EnvelopeKey::AuthenticationWrapper, &wrapper);
    members.encode()
}

/// A device whose author anchor 1 (P-256) and HSS-LMS anchor 2 (`public`, author) are
/// trusted for ['app'].
fn device_with_hss_anchor(public: &[u8]) -> Service<Mem> {
    let mut s = provisioned(&[b"app"]);
    let cose_key = cbor(&ciborium::Value::Map(vec![
        (int(1), int(5)),
        (int(-1), bytes(public)),
    ]));
    let message = provision_message(
        &mut s,
        2,
        vec![Op::AddAnchor(AnchorRecord {
            id: 2,
            cose_key: ByteBuf::from(cose_key),
            role: RoleRecord::Author,
            scope: scope(&[b"app"]),
            key_scope: 0,
        })],
    );
    provision(&mut s, &message).unwrap();
    s
}

/// An unauthenticated envelope naming HSS-LMS with a garbage signature, sent to a device with
/// an HSS-LMS anchor: refused as a bad signature, and the device keeps serving, including a
/// genuine HSS-LMS-signed install afterwards.
#[test]
fn a_forged_hss_lms_envelope_is_refused_and_the_service_keeps_answering() {
    let mut signer = HssSigner::two_levels(5);
    let mut s = device_with_hss_anchor(&signer.public);
    let image = b"signed with HSS-LMS";
    let parts = [part(&[b"app"], image, "#image")];
    let first = manifest(1, &parts);
    let integrated: [(&str, &[u8]); 1] = [("#image", image)];

    // The engine alone: a typed authentication error.
    let genuine = signer.sign(&sig_structure(&manifest_digest(&first)));
    let policy = policy_of(vec![anchor(
        2,
        signer.verification_key(),
        suit_common::suit::policy::Role::Author,
    )]);
    let mut forgeries = vec![
        vec![0u8; 100],
        Vec::new(),
        genuine[..100].to_vec(),
        genuine[..genuine.len() - 1].to_vec(),
        [genuine.as_slice(), &[0]].concat(),
    ];
    let mut unknown_type = genuine.clone();
    unknown_type[8..12].copy_from_slice(&[0, 0, 0, 9]);
    forgeries.push(unknown_type);
    for (i, signature) in forgeries.iter().enumerate() {
        let env = envelope_with_block(&first, &hss_block(signature.clone()), &integrated);
        let r = Envelope::decode(&env)
            .unwrap()
            .authenticate(&policy.anchors);
        assert!(
            matches!(r, Err(Error::Auth(AuthError::BadSignature { block: 0 }))),
            "forgery {i}: {r:?}"
        );

        // The service: refused before authentication, typed; then still answering.
        let refused = refusal(install_with(&mut s, &env, &[]));
        assert_eq!(
            refused.kind,
            RefusalKind::Manifest,
            "forgery {i}: {refused:?}"
        );
        let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    }

    // The genuine signature over the same manifest installs.
    let env = envelope_with_block(&first, &hss_block(genuine), &integrated);
    let done = install_with(&mut s, &env, &[]).unwrap();
    assert_eq!(crate::texts(&done.components), ["['app']"]);
    let st: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    assert_eq!(st.service.installed_components, 1);
}

/// A TPA cannot provision an HSS-LMS anchor whose key hbs-lms could not safely use.
#[test]
fn a_malformed_hss_lms_anchor_is_not_provisioned() {
    let mut s = provisioned(&[b"app"]);
    for (counter, key) in [(2, hss_key(9, H5, W8)), (3, hss_key(1, 4, W8))] {
        let cose_key = cbor(&ciborium::Value::Map(vec![
            (int(1), int(5)),
            (int(-1), bytes(&key)),
        ]));
        let message = provision_message(
            &mut s,
            counter,
            vec![Op::AddAnchor(AnchorRecord {
                id: 2,
                cose_key: ByteBuf::from(cose_key),
                role: RoleRecord::Author,
                scope: scope(&[b"app"]),
                key_scope: 0,
            })],
        );
        let r = refusal(provision(&mut s, &message));
        assert_eq!(r.kind, RefusalKind::Provisioning, "{r:?}");
    }
}
