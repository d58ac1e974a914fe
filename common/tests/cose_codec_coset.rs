//! The TA's COSE codec (`suit_common::cose` on suit-cbor) against `coset`, an independent
//! implementation (issue 14 item 4: coset left the TA, it stays here as the cross-check):
//! structures coset writes, in the usual and in unusual-but-valid forms, are read and verified
//! by the new code; what the TA emits (signed reports, receipts, key statements) is byte for
//! byte what coset builds from the same parts and verifies with coset; malformed structures
//! coset refuses are refused too; and every cose-wg COSE_Sign1/COSE_Mac0/COSE_Sign vector
//! gets the same parse verdict, algorithm and key id from both.

use ciborium::value::Value;
use coset::iana::{self, EnumI64};
use coset::{
    CborSerializable, CoseKeyBuilder, CoseMac0Builder, CoseMacBuilder, CoseRecipientBuilder,
    CoseSign1, CoseSign1Builder, CoseSignBuilder, CoseSignatureBuilder, Header, HeaderBuilder,
    ProtectedHeader, TaggedCborSerializable,
};
use hmac::{KeyInit, Mac};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::elliptic_curve::sec1::ToSec1Point;
use suit_common::cose::{key_id, Algorithm, AuthBlock, CoseError, VerificationKey};
use suit_common::protocol::ByteBuf;
use suit_common::report::{sign_report, verify_report, Failure, Reason, ReportBuilder};
use suit_common::service::provision::{sign_receipt, verify_receipt, Receipt};
use suit_common::service::statement::{self, KeyStatement, StatedKey};

const PAYLOAD: &[u8] = b"\x58\x20 a bstr-wrapped SUIT_Digest stand-in";

fn p256_key(seed: u8) -> p256::SecretKey {
    let mut b = [0x11u8; 32];
    b[31] = seed;
    p256::SecretKey::from_slice(&b).unwrap()
}

fn sec1(k: &p256::SecretKey) -> Vec<u8> {
    k.public_key().to_sec1_point(false).as_bytes().to_vec()
}

fn vk(k: &p256::SecretKey) -> VerificationKey {
    VerificationKey::p256_from_sec1(&sec1(k)).unwrap()
}

fn es_sign(k: &p256::SecretKey, tbs: &[u8]) -> Vec<u8> {
    let sig: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k).sign(tbs);
    sig.to_bytes().to_vec()
}

fn hmac_tag(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The HMAC-256 tag of [`PAYLOAD`] under `protected` (no external AAD).
fn mac_tag(key: &[u8], context: coset::MacContext, protected: &ProtectedHeader) -> Vec<u8> {
    let tbm = coset::mac_structure_data(context, protected.clone(), &[], PAYLOAD);
    hmac_tag(key, &tbm)
}

fn alg_header(alg: iana::Algorithm) -> Header {
    HeaderBuilder::new().algorithm(alg).build()
}

/// A protected bucket sent as exactly `bytes` (e.g. `a0` for an empty map instead of h'').
fn protected_as(header: Header, bytes: &[u8]) -> ProtectedHeader {
    ProtectedHeader {
        original_data: Some(bytes.to_vec()),
        header,
    }
}

/// COSE_Sign1 with a detached payload, signed by coset over its own Sig_structure.
fn coset_sign1(k: &p256::SecretKey, protected: ProtectedHeader, unprotected: Header) -> Vec<u8> {
    let mut s = CoseSign1Builder::new().unprotected(unprotected).build();
    s.protected = protected;
    let tbs = s.tbs_detached_data(PAYLOAD, &[]);
    s.signature = es_sign(k, &tbs);
    s.to_tagged_vec().unwrap()
}

#[test]
fn coset_sign1_forms_verify_with_the_new_parser() {
    let k = p256_key(1);
    let kid = b"kid-1".to_vec();
    // (protected, unprotected, expected kid)
    let forms: Vec<(ProtectedHeader, Header, Vec<u8>)> = vec![
        // The usual form: alg and kid protected.
        (
            ProtectedHeader {
                original_data: None,
                header: HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ESP256)
                    .key_id(kid.clone())
                    .build(),
            },
            Header::default(),
            kid.clone(),
        ),
        // kid unprotected (only a hint).
        (
            ProtectedHeader {
                original_data: None,
                header: alg_header(iana::Algorithm::ES256),
            },
            HeaderBuilder::new().key_id(kid.clone()).build(),
            kid.clone(),
        ),
        // No kid; unknown parameters (int and text labels) in both buckets.
        (
            ProtectedHeader {
                original_data: None,
                header: HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ESP256)
                    .value(99, Value::Text("x".into()))
                    .text_value("note".into(), Value::Integer(7.into()))
                    .build(),
            },
            HeaderBuilder::new()
                .value(-70_000, Value::Bytes(vec![1, 2]))
                .build(),
            Vec::new(),
        ),
        // A non-canonical protected encoding (alg as a 2-byte integer): kept as received.
        (
            protected_as(
                alg_header(iana::Algorithm::ESP256),
                &[0xa1, 0x01, 0x38, 0x08],
            ),
            Header::default(),
            Vec::new(),
        ),
    ];
    for (i, (p, u, want_kid)) in forms.into_iter().enumerate() {
        let bytes = coset_sign1(&k, p, u);
        let block = AuthBlock::parse(&bytes).unwrap_or_else(|e| panic!("form {i}: {e:?}"));
        assert_eq!(block.key_id(), want_kid.as_slice(), "form {i}");
        block
            .verify(PAYLOAD, &vk(&k))
            .unwrap_or_else(|e| panic!("form {i}: {e:?}"));
        assert_eq!(
            block.verify(b"other payload", &vk(&k)),
            Err(CoseError::VerificationFailed),
            "form {i}"
        );
        assert_eq!(
            block.verify(PAYLOAD, &vk(&p256_key(2))),
            Err(CoseError::VerificationFailed),
            "form {i}"
        );
    }
}

#[test]
fn coset_mac0_and_empty_protected_forms() {
    let key = [0x5au8; 32];
    let hk = VerificationKey::hmac256(&key).unwrap();
    let mut m = CoseMac0Builder::new()
        .unprotected(HeaderBuilder::new().key_id(b"mk".to_vec()).build())
        .build();
    m.protected = ProtectedHeader {
        original_data: None,
        header: alg_header(iana::Algorithm::HMAC_256_256),
    };
    m.tag = mac_tag(&key, coset::MacContext::CoseMac0, &m.protected);
    let bytes = m.to_tagged_vec().unwrap();
    let block = AuthBlock::parse(&bytes).unwrap();
    assert_eq!(block.algorithm(), Algorithm::Hmac256);
    assert_eq!(block.key_id(), b"mk");
    block.verify(PAYLOAD, &hk).unwrap();
    assert_eq!(
        block.verify(PAYLOAD, &VerificationKey::hmac256(&[0x5b; 32]).unwrap()),
        Err(CoseError::VerificationFailed)
    );

    // An empty protected bucket, as h'' and as h'a0': no algorithm either way.
    for raw in [&[][..], &[0xa0][..]] {
        let bytes = coset_sign1(
            &p256_key(1),
            protected_as(Header::default(), raw),
            alg_header(iana::Algorithm::ESP256),
        );
        assert!(CoseSign1::from_tagged_slice(&bytes).is_ok());
        assert_eq!(
            AuthBlock::parse(&bytes).unwrap_err(),
            CoseError::MissingAlgorithm
        );
    }
}

#[test]
fn coset_sign_with_several_signatures_and_either_empty_body_bucket() {
    let (k1, k2) = (p256_key(1), p256_key(2));
    for body in [&[][..], &[0xa0][..]] {
        let mut s = CoseSignBuilder::new().build();
        s.protected = protected_as(Header::default(), body);
        for (k, kid, alg) in [
            (&k1, b"one".to_vec(), iana::Algorithm::ESP256),
            (&k2, b"two".to_vec(), iana::Algorithm::ES256),
        ] {
            let mut sig = CoseSignatureBuilder::new()
                .protected(alg_header(alg))
                .unprotected(HeaderBuilder::new().key_id(kid).build())
                .build();
            let tbs = coset::sig_structure_data(
                coset::SignatureContext::CoseSignature,
                s.protected.clone(),
                Some(ProtectedHeader {
                    original_data: None,
                    header: sig.protected.header.clone(),
                }),
                &[],
                PAYLOAD,
            );
            sig.signature = es_sign(k, &tbs);
            s.signatures.push(sig);
        }
        let bytes = s.to_tagged_vec().unwrap();
        let blocks: Vec<_> = AuthBlock::parse_signers(&bytes)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].key_id(), b"one");
        assert_eq!(blocks[1].key_id(), b"two");
        assert_eq!(blocks[1].algorithm(), Algorithm::Es256);
        blocks[0].verify(PAYLOAD, &vk(&k1)).unwrap();
        blocks[1].verify(PAYLOAD, &vk(&k2)).unwrap();
        assert_eq!(
            blocks[0].verify(PAYLOAD, &vk(&k2)),
            Err(CoseError::VerificationFailed)
        );
    }
}

#[test]
fn coset_mac_with_several_direct_recipients() {
    let key = [0x33u8; 32];
    let mut m = CoseMacBuilder::new()
        .protected(alg_header(iana::Algorithm::HMAC_256_256))
        .build();
    for kid in [b"r1".to_vec(), b"r2".to_vec()] {
        m.recipients.push(
            CoseRecipientBuilder::new()
                .unprotected(
                    HeaderBuilder::new()
                        .algorithm(iana::Algorithm::Direct)
                        .key_id(kid)
                        .build(),
                )
                .ciphertext(Vec::new())
                .build(),
        );
    }
    m.tag = mac_tag(&key, coset::MacContext::CoseMac, &m.protected);
    let bytes = m.clone().to_tagged_vec().unwrap();
    let blocks = AuthBlock::parse_signers(&bytes).unwrap();
    assert_eq!(blocks.len(), 1);
    let blocks = [blocks[0].clone().unwrap()];
    assert_eq!(blocks[0].key_id(), b"r1");
    blocks[0]
        .verify(PAYLOAD, &VerificationKey::hmac256(&key).unwrap())
        .unwrap();
    // A recipient with a wrapped key instead of "direct" is refused by name.
    m.recipients[1].unprotected.alg = Some(coset::RegisteredLabelWithPrivate::Assigned(
        iana::Algorithm::A128KW,
    ));
    let bytes = m.to_tagged_vec().unwrap();
    assert_eq!(
        AuthBlock::parse_signers(&bytes).unwrap_err(),
        CoseError::UnsupportedRecipient(iana::Algorithm::A128KW.to_i64())
    );
}

#[test]
fn coset_keys_decode_to_the_same_key_and_kid() {
    let k = p256_key(3);
    let point = sec1(&k);
    let ec2 = suit_test_support::ec2_cose_key(&point, b"ec2");
    let (key, kid) = VerificationKey::from_cose_key(&ec2).unwrap();
    assert_eq!(kid, b"ec2");
    let bytes = coset_sign1(
        &k,
        ProtectedHeader {
            original_data: None,
            header: alg_header(iana::Algorithm::ESP256),
        },
        Header::default(),
    );
    let block = AuthBlock::parse(&bytes).unwrap();
    block.verify(PAYLOAD, &key).unwrap();

    let sym = CoseKeyBuilder::new_symmetric_key(vec![7; 32])
        .key_id(b"hk".to_vec())
        .build()
        .to_vec()
        .unwrap();
    let (key, kid) = VerificationKey::from_cose_key(&sym).unwrap();
    // kty twice, the second as an overlong integer: {1: 4, 1: 4, -1: k} is not a key.
    let mut twice = vec![0xa3, 0x01, 0x04, 0x18, 0x01, 0x04, 0x20, 0x58, 0x20];
    twice.extend([7u8; 32]);
    assert_eq!(
        VerificationKey::from_cose_key(&twice).unwrap_err(),
        CoseError::Malformed
    );
    assert_eq!(kid, b"hk");
    assert!(key.supports(Algorithm::Hmac256));

    let ed = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let okp = CoseKeyBuilder::new_okp_key()
        .param(
            iana::OkpKeyParameter::Crv.to_i64(),
            Value::from(iana::EllipticCurve::Ed25519.to_i64()),
        )
        .param(
            iana::OkpKeyParameter::X.to_i64(),
            Value::Bytes(ed.verifying_key().to_bytes().to_vec()),
        )
        .build()
        .to_vec()
        .unwrap();
    let (key, kid) = VerificationKey::from_cose_key(&okp).unwrap();
    assert!(kid.is_empty());
    assert!(key.supports(Algorithm::Ed25519));

    // An EC2 key restricted to an algorithm it cannot serve.
    let wrong = CoseKeyBuilder::new_ec2_pub_key(
        iana::EllipticCurve::P_256,
        point[1..33].to_vec(),
        point[33..].to_vec(),
    )
    .algorithm(iana::Algorithm::EdDSA)
    .build()
    .to_vec()
    .unwrap();
    assert_eq!(
        VerificationKey::from_cose_key(&wrong).unwrap_err(),
        CoseError::KeyAlgorithmMismatch
    );
}

/// Malformed blocks: coset refuses each, and so does the new parser.
#[test]
fn malformed_structures_are_refused_by_both() {
    let k = p256_key(1);
    let good = coset_sign1(
        &k,
        ProtectedHeader {
            original_data: None,
            header: alg_header(iana::Algorithm::ESP256),
        },
        Header::default(),
    );
    let v: Value = ciborium::de::from_reader(good.as_slice()).unwrap();
    let Value::Tag(18, inner) = v else { panic!() };
    let Value::Array(items) = *inner else {
        panic!()
    };
    let enc = |items: Vec<Value>| {
        let mut out = Vec::new();
        ciborium::ser::into_writer(&Value::Tag(18, Box::new(Value::Array(items))), &mut out)
            .unwrap();
        out
    };
    let with = |i: usize, v: Value| {
        let mut it = items.clone();
        it[i] = v;
        enc(it)
    };
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("three items", enc(items[..3].to_vec())),
        ("protected is a map", with(0, Value::Map(vec![]))),
        ("protected is not a map", with(0, Value::Bytes(vec![0x01]))),
        (
            "protected has trailing bytes",
            with(0, Value::Bytes(vec![0xa1, 0x01, 0x28, 0x00])),
        ),
        ("unprotected is an array", with(1, Value::Array(vec![]))),
        (
            "kid is text",
            with(
                1,
                Value::Map(vec![(Value::from(4), Value::Text("k".into()))]),
            ),
        ),
        (
            "alg is bytes",
            with(0, Value::Bytes(vec![0xa1, 0x01, 0x41, 0x00])),
        ),
        (
            "empty crit",
            with(0, Value::Bytes(vec![0xa2, 0x01, 0x28, 0x02, 0x80])),
        ),
        ("signature is text", with(3, Value::Text("sig".into()))),
        ("payload is text", with(2, Value::Text("p".into()))),
    ];
    for (what, bytes) in bad {
        assert!(
            CoseSign1::from_tagged_slice(&bytes).is_err(),
            "coset accepts {what}"
        );
        assert!(
            AuthBlock::parse(&bytes).is_err(),
            "new parser accepts {what}"
        );
    }
    // A critical parameter this engine does not process (label 99).
    let crit = with(
        0,
        Value::Bytes(vec![0xa2, 0x01, 0x28, 0x02, 0x81, 0x18, 0x63]),
    );
    assert_eq!(
        AuthBlock::parse(&crit).unwrap_err(),
        CoseError::UnknownCriticalHeader
    );
    // The same label twice in one bucket, the second written as an overlong integer (its
    // encoded key differs, its value does not): {1: -7, 1: -8}.
    let twice = with(0, Value::Bytes(vec![0xa2, 0x01, 0x26, 0x18, 0x01, 0x27]));
    assert_eq!(AuthBlock::parse(&twice).unwrap_err(), CoseError::Malformed);
    // crit in the unprotected bucket (RFC 9052 §3.1: it must be protected).
    let loose_crit = with(
        1,
        Value::Map(vec![(Value::from(2), Value::Array(vec![Value::from(99)]))]),
    );
    assert_eq!(
        AuthBlock::parse(&loose_crit).unwrap_err(),
        CoseError::Malformed
    );
    // A label in both buckets (RFC 9052 §3).
    let both = with(1, Value::Map(vec![(Value::from(1), Value::from(-9))]));
    assert!(CoseSign1::from_tagged_slice(&both).is_ok());
    assert_eq!(AuthBlock::parse(&both).unwrap_err(), CoseError::Malformed);
    // The right structure without its tag, and under another tag.
    let untagged = CoseSign1::from_tagged_slice(&good)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(
        AuthBlock::parse(&untagged).unwrap_err(),
        CoseError::Malformed
    );
    let mut retagged = good.clone();
    retagged[0] = 0xd1;
    assert!(AuthBlock::parse(&retagged).is_err());
}

/// RFC 9052 §3.1: `crit` names the parameters a recipient must process. One listing only what
/// this engine processes (alg, content type, kid) is honoured and the block verifies; one
/// listing anything else (IV, a text label) is refused as `UnknownCriticalHeader`, in a
/// COSE_Sign1 and in a COSE_Sign signature alike. The old code refused every `crit`.
#[test]
fn crit_is_accepted_when_every_listed_label_is_processed() {
    use coset::RegisteredLabelWithPrivate::{Assigned, PrivateUse, Text};
    use iana::HeaderParameter as P;
    let k = p256_key(4);
    let signed = |crit: Vec<coset::RegisteredLabelWithPrivate<P>>| {
        let mut h = alg_header(iana::Algorithm::ESP256);
        h.key_id = b"kid".to_vec();
        h.crit = crit;
        coset_sign1(
            &k,
            ProtectedHeader {
                original_data: None,
                header: h,
            },
            Header::default(),
        )
    };
    for crit in [
        vec![Assigned(P::Alg)],
        vec![Assigned(P::Alg), Assigned(P::Kid)],
        vec![Assigned(P::ContentType)],
    ] {
        let bytes = signed(crit.clone());
        let block = AuthBlock::parse(&bytes).unwrap_or_else(|e| panic!("{crit:?}: {e:?}"));
        block.verify(PAYLOAD, &vk(&k)).unwrap();
    }
    for crit in [
        vec![Assigned(P::Iv)],
        vec![Assigned(P::Alg), Text("private".into())],
        vec![PrivateUse(-65_600)],
    ] {
        assert_eq!(
            AuthBlock::parse(&signed(crit.clone())).unwrap_err(),
            CoseError::UnknownCriticalHeader,
            "{crit:?}"
        );
    }
    // The same rule for a COSE_Sign signature (where an unknown crit makes it unusable).
    for (crit, ok) in [(Assigned(P::Kid), true), (Assigned(P::Iv), false)] {
        let mut h = alg_header(iana::Algorithm::ESP256);
        h.crit = vec![crit];
        let mut s = coset::CoseSignBuilder::new()
            .add_signature(coset::CoseSignatureBuilder::new().protected(h).build())
            .build();
        let tbs = s.tbs_detached_data(PAYLOAD, &[], &s.signatures[0]);
        s.signatures[0].signature = es_sign(&k, &tbs);
        let bytes = s.to_tagged_vec().unwrap();
        let entries = AuthBlock::parse_signers(&bytes).unwrap();
        match (&entries[0], ok) {
            (Ok(b), true) => b.verify(PAYLOAD, &vk(&k)).unwrap(),
            (Err(CoseError::UnknownCriticalHeader), false) => {}
            (e, _) => panic!("{e:?}"),
        }
    }
}

/// Everything the TA signs, byte for byte what coset builds from the same parts (ECDSA is
/// deterministic, RFC 6979), and verified by coset.
#[test]
fn reports_receipts_and_statements_match_coset_byte_for_byte() {
    let k = p256_key(4);
    let point = sec1(&k);
    let kid = key_id(&point);
    let coset_build = |protected: Header, payload: &[u8]| {
        CoseSign1Builder::new()
            .protected(protected)
            .unprotected(HeaderBuilder::new().key_id(kid.clone()).build())
            .payload(payload.to_vec())
            .create_signature(&[], |tbs| es_sign(&k, tbs))
            .build()
            .to_tagged_vec()
            .unwrap()
    };
    let coset_verify = |bytes: &[u8]| {
        let s = CoseSign1::from_tagged_slice(bytes).unwrap();
        let v = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
        s.verify_signature(&[], |sig, tbs| {
            v.verify(tbs, &p256::ecdsa::Signature::from_slice(sig).unwrap())
        })
        .unwrap();
        s.payload.unwrap()
    };

    // Signed report.
    let mut b = ReportBuilder::new();
    b.set_nonce(b"n0nce").unwrap();
    let report = b
        .fail_with(Failure::new(
            Reason::OperationFailed,
            1,
            suit_common::fault::Fault::Install(
                suit_common::service::install::InstallError::EmptyEnvelope,
            ),
        ))
        .encode()
        .unwrap();
    let ours = sign_report(&report, &k).unwrap();
    assert_eq!(
        ours,
        coset_build(alg_header(iana::Algorithm::ESP256), &report)
    );
    assert_eq!(coset_verify(&ours), report);
    verify_report(&ours, &vk(&k)).unwrap();
    // An untagged report, as coset writes it, verifies too.
    let untagged = CoseSign1::from_tagged_slice(&ours)
        .unwrap()
        .to_vec()
        .unwrap();
    verify_report(&untagged, &vk(&k)).unwrap();

    // Provisioning receipt.
    let receipt = Receipt {
        counter: 5,
        state_digest: ByteBuf::from(vec![1; 32]),
        device: ByteBuf::from(kid.clone()),
        message_digest: ByteBuf::from(vec![2; 32]),
        signer: 0,
    };
    let ours = sign_receipt(&receipt, &k).unwrap();
    let payload = coset_verify(&ours);
    assert_eq!(
        ours,
        coset_build(alg_header(iana::Algorithm::ESP256), &payload)
    );
    assert_eq!(verify_receipt(&ours, &point).unwrap(), receipt);
    let untagged = CoseSign1::from_tagged_slice(&ours)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(verify_receipt(&untagged, &point).unwrap(), receipt);

    // Key statement (content type in the protected bucket).
    let st = KeyStatement {
        statement: statement::STATEMENT_KIND.into(),
        device: ByteBuf::from(kid.clone()),
        keys: vec![StatedKey {
            purpose: "identity".into(),
            anchor: None,
            key_scope: None,
            key: ByteBuf::from(point.clone()),
            kid: ByteBuf::from(kid.clone()),
            anchor_key: None,
        }],
    };
    let ours = statement::sign(&st, &k).unwrap();
    let payload = coset_verify(&ours);
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ESP256)
        .content_type(statement::CONTENT_TYPE.into())
        .build();
    assert_eq!(ours, coset_build(protected, &payload));
    assert_eq!(statement::verify(&ours, &point).unwrap(), st);
}

/// Moves an attached payload out of a COSE_Sign1/Mac0/Sign vector: `(detached, payload)`.
fn detach(bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let v: Value = ciborium::de::from_reader(bytes).ok()?;
    let Value::Tag(t, inner) = v else { return None };
    let Value::Array(mut items) = *inner else {
        return None;
    };
    let payload = match items.get_mut(2)? {
        p @ Value::Bytes(_) => std::mem::replace(p, Value::Null),
        _ => return None,
    };
    let mut out = Vec::new();
    ciborium::ser::into_writer(&Value::Tag(t, Box::new(Value::Array(items))), &mut out).ok()?;
    Some((out, payload.into_bytes().ok()?))
}

/// Every cose-wg vector of the three authentication structures: coset and the new parser
/// agree on whether it parses, on its algorithm and on its key id.
#[test]
fn cose_wg_vectors_get_the_same_verdict_from_both() {
    let mut seen = 0;
    for dir in [
        "sign1-tests",
        "mac0-tests",
        "ecdsa-examples",
        "eddsa-examples",
        "hmac-examples",
    ] {
        let path = suit_test_support::vector_path(&format!("cose-wg-examples/{dir}"));
        let mut names: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for name in names {
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            let j = suit_test_support::cose_wg(&format!("{dir}/{stem}"));
            let Some(hex_cbor) = j["output"]["cbor"].as_str() else {
                continue;
            };
            let bytes = hex::decode(hex_cbor).unwrap();
            let Some((detached, _)) = detach(&bytes) else {
                continue;
            };
            let (coset_alg, coset_kid): (Option<i64>, Vec<u8>) = match bytes[0] {
                0xd2 => match CoseSign1::from_tagged_slice(&detached) {
                    Ok(s) => (
                        alg_of(&s.protected.header),
                        kid_of(&s.protected.header, &s.unprotected),
                    ),
                    Err(_) => (None, Vec::new()),
                },
                0xd1 => match coset::CoseMac0::from_tagged_slice(&detached) {
                    Ok(m) => (
                        alg_of(&m.protected.header),
                        kid_of(&m.protected.header, &m.unprotected),
                    ),
                    Err(_) => (None, Vec::new()),
                },
                0xd8 if bytes[1] == 97 => match coset::CoseMac::from_tagged_slice(&detached) {
                    Ok(m) => (
                        alg_of(&m.protected.header),
                        m.recipients
                            .first()
                            .map(|r| kid_of(&r.protected.header, &r.unprotected))
                            .unwrap_or_default(),
                    ),
                    Err(_) => (None, Vec::new()),
                },
                0xd8 => match coset::CoseSign::from_tagged_slice(&detached) {
                    Ok(s) => s
                        .signatures
                        .first()
                        .map(|g| {
                            (
                                alg_of(&g.protected.header),
                                kid_of(&g.protected.header, &g.unprotected),
                            )
                        })
                        .unwrap_or((None, Vec::new())),
                    Err(_) => (None, Vec::new()),
                },
                _ => continue,
            };
            seen += 1;
            // The vectors' COSE_Sign hold one signature: its verdict is the block's.
            let ours = AuthBlock::parse_signers(&detached)
                .and_then(|v| v.into_iter().collect::<Result<Vec<_>, _>>());
            match (coset_alg.and_then(Algorithm::from_cose_id), ours) {
                (Some(alg), Ok(blocks)) => {
                    assert_eq!(blocks[0].algorithm(), alg, "{dir}/{name}");
                    assert_eq!(blocks[0].key_id(), coset_kid.as_slice(), "{dir}/{name}");
                }
                // Not an algorithm this engine implements (or no alg): refused by name.
                (None, Err(CoseError::UnsupportedAlgorithm(_) | CoseError::MissingAlgorithm)) => {}
                // coset refuses the structure: so do we.
                (None, Err(_)) if coset_alg.is_none() => {}
                (c, o) => panic!("{dir}/{name}: coset {c:?}, ours {o:?}"),
            }
        }
    }
    assert!(seen >= 20, "only {seen} vectors");
}

fn alg_of(h: &Header) -> Option<i64> {
    match &h.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => Some(a.to_i64()),
        Some(coset::RegisteredLabelWithPrivate::PrivateUse(i)) => Some(*i),
        _ => None,
    }
}

fn kid_of(p: &Header, u: &Header) -> Vec<u8> {
    if p.key_id.is_empty() {
        u.key_id.clone()
    } else {
        p.key_id.clone()
    }
}
