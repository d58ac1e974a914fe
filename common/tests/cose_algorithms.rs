//! COSE authentication primitives beyond what the SUIT vectors exercise: Ed25519, HSS-LMS,
//! key/algorithm binding and COSE_Key import.

use coset::iana::{self, EnumI64};
use coset::{
    CborSerializable, CoseKeyBuilder, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable,
};
use suit_common::cose::{
    create_auth_block, verify_auth_block, Algorithm, CoseError, KeyMaterial, SigningKey,
    VerificationKey,
};

const PAYLOAD: &[u8] = b"\x82\x2f\x58\x20abcdefghijklmnopqrstuvwxyz012345";

/// A header naming `alg` and nothing else.
fn alg_header(alg: iana::Algorithm) -> coset::Header {
    HeaderBuilder::new().algorithm(alg).build()
}

/// A tagged COSE_Sign1 with `protected`, an attached `payload` if any, and a zero signature
/// of `len` bytes.
fn sign1(protected: coset::Header, payload: Option<&[u8]>, len: usize) -> Vec<u8> {
    let mut b = CoseSign1Builder::new().protected(protected);
    if let Some(p) = payload {
        b = b.payload(p.to_vec());
    }
    b.signature(vec![0; len]).build().to_tagged_vec().unwrap()
}

#[test]
fn ed25519_round_trip_and_tamper() {
    let key = SigningKey::ed25519(&[7u8; 32]).unwrap();
    for alg in [Algorithm::EdDsa, Algorithm::Ed25519] {
        let block = create_auth_block(&key, alg, b"ed", PAYLOAD).unwrap();
        assert_eq!(
            verify_auth_block(&block, PAYLOAD, &key.verification_key()),
            Ok(alg)
        );
        let mut other = PAYLOAD.to_vec();
        other[5] ^= 1;
        assert_eq!(
            verify_auth_block(&block, &other, &key.verification_key()),
            Err(CoseError::VerificationFailed)
        );
    }
}

#[test]
fn esp256_and_es256_round_trip() {
    let key = SigningKey::p256(&[0x42; 32]).unwrap();
    for alg in [Algorithm::Es256, Algorithm::Esp256] {
        let block = create_auth_block(&key, alg, b"", PAYLOAD).unwrap();
        assert_eq!(
            verify_auth_block(&block, PAYLOAD, &key.verification_key()),
            Ok(alg)
        );
    }
}

#[test]
fn key_and_algorithm_must_agree() {
    let p256 = SigningKey::p256(&[0x42; 32]).unwrap();
    let ed = SigningKey::ed25519(&[7u8; 32]).unwrap();
    let block = create_auth_block(&p256, Algorithm::Es256, b"", PAYLOAD).unwrap();
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &ed.verification_key()),
        Err(CoseError::KeyAlgorithmMismatch)
    );
    assert_eq!(
        create_auth_block(&p256, Algorithm::EdDsa, b"", PAYLOAD),
        Err(CoseError::KeyAlgorithmMismatch)
    );
    // A MAC algorithm inside a COSE_Sign1 is refused.
    let bogus = sign1(alg_header(iana::Algorithm::HMAC_256_256), None, 32);
    assert_eq!(
        verify_auth_block(
            &bogus,
            PAYLOAD,
            &VerificationKey::hmac256(&[1; 32]).unwrap()
        ),
        Err(CoseError::KeyAlgorithmMismatch)
    );
}

#[test]
fn algorithm_only_from_protected_header_and_payload_detached() {
    let key = SigningKey::p256(&[0x42; 32]).unwrap();
    let unprotected_alg = CoseSign1Builder::new()
        .unprotected(alg_header(iana::Algorithm::ES256))
        .signature(vec![0; 64])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(
        verify_auth_block(&unprotected_alg, PAYLOAD, &key.verification_key()),
        Err(CoseError::MissingAlgorithm)
    );
    let attached = sign1(alg_header(iana::Algorithm::ES256), Some(PAYLOAD), 64);
    assert_eq!(
        verify_auth_block(&attached, PAYLOAD, &key.verification_key()),
        Err(CoseError::PayloadNotDetached)
    );
}

#[test]
fn hss_lms_signature_verifies() {
    use hbs_lms::{HssParameter, LmotsAlgorithm, LmsAlgorithm, Seed, Sha256_256};
    let params = [HssParameter::<Sha256_256>::new(
        LmotsAlgorithm::LmotsW4,
        LmsAlgorithm::LmsH5,
    )];
    let seed = Seed::from([3u8; 32]);
    let (sk, vk) = hbs_lms::keygen::<Sha256_256>(&params, &seed, None).unwrap();
    let mut sk_bytes = sk.as_slice().to_vec();
    let block = CoseSign1Builder::new()
        .protected(alg_header(iana::Algorithm::HSS_LMS))
        .create_detached_signature(PAYLOAD, &[], |tbs| {
            let mut update = |new: &[u8]| {
                sk_bytes = new.to_vec();
                Ok(())
            };
            let key = sk.as_slice().to_vec();
            hbs_lms::sign::<Sha256_256>(tbs, &key, &mut update, None)
                .unwrap()
                .as_ref()
                .to_vec()
        })
        .build()
        .to_tagged_vec()
        .unwrap();
    let key = VerificationKey::hss_lms(vk.as_slice()).unwrap();
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &key),
        Ok(Algorithm::HssLms)
    );
    assert_eq!(
        verify_auth_block(&block, b"other", &key),
        Err(CoseError::VerificationFailed)
    );
    assert_eq!(
        Algorithm::HssLms.cose_id(),
        iana::Algorithm::HSS_LMS.to_i64()
    );
}

#[test]
fn cose_key_import() {
    let sk = SigningKey::p256(&[0x42; 32]).unwrap();
    let KeyMaterial::P256(vk) = *sk.verification_key().material() else {
        unreachable!()
    };
    let point = vk.to_sec1_point(false);
    let sec1 = point.as_bytes();
    let cose_key = suit_test_support::ec2_cose_key(sec1, b"k1");
    let (key, kid) = VerificationKey::from_cose_key(&cose_key).unwrap();
    assert_eq!(kid, b"k1");
    let block = create_auth_block(&sk, Algorithm::Esp256, b"k1", PAYLOAD).unwrap();
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &key),
        Ok(Algorithm::Esp256)
    );

    let sym = CoseKeyBuilder::new_symmetric_key(vec![0x61; 32])
        .build()
        .to_vec()
        .unwrap();
    let (key, _) = VerificationKey::from_cose_key(&sym).unwrap();
    assert!(key.supports(Algorithm::Hmac256));
    assert!(format!("{key:?}").contains("<secret>"));

    let short = CoseKeyBuilder::new_symmetric_key(vec![0x61; 16])
        .build()
        .to_vec()
        .unwrap();
    assert_eq!(
        VerificationKey::from_cose_key(&short).unwrap_err(),
        CoseError::InvalidKey
    );
}

/// RFC 9053 §7.1.1: an EC2 key's `y` may be a sign bit (`y: bstr / bool`, a compressed
/// point). The manifest-spec examples' anchor given so is the same key: it verifies what the
/// private key signs, as a COSE block and as the trust anchor of an envelope. The other sign
/// bit is the other point (verifies nothing), and an `x` with no point on the curve is
/// refused.
#[test]
fn compressed_p256_cose_key_is_the_same_anchor() {
    use suit_test_support::*;
    let point = sec1_from_pem("suit-manifest-spec/public_key.pem");
    let (x, y) = (&point[1..33], &point[33..]);
    let compressed = |x: &[u8], odd: bool| {
        CoseKeyBuilder::new_ec2_pub_key_y_sign(iana::EllipticCurve::P_256, x.to_vec(), odd)
            .key_id(b"spec".to_vec())
            .build()
            .to_vec()
            .unwrap()
    };
    let odd = y[31] & 1 == 1;
    let (key, kid) = VerificationKey::from_cose_key(&compressed(x, odd)).unwrap();
    assert_eq!(kid, b"spec");
    let uncompressed = p256_public_from_pem("suit-manifest-spec/public_key.pem");
    assert!(key.same_key(&uncompressed));

    let sk = p256_private_from_pem("suit-manifest-spec/private_key.pem");
    let block = create_auth_block(&sk, Algorithm::Esp256, b"", PAYLOAD).unwrap();
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &key),
        Ok(Algorithm::Esp256)
    );
    let manifest = suit_manifest(
        1,
        vec![ciborium::Value::Array(vec![bytes(b"fw")])],
        &ciborium::Value::Array(vec![]),
        &ciborium::Value::Array(vec![]),
    );
    let env = seal_one(&manifest, &sk, Algorithm::Esp256, &[], &[]);
    let anchors = policy_of(vec![anchor(
        1,
        key,
        suit_common::suit::policy::Role::Author,
    )])
    .anchors;
    let auth = suit_common::suit::Envelope::decode(&env)
        .unwrap()
        .authenticate(&anchors)
        .unwrap();
    assert_eq!(auth.signers.len(), 1);

    let (other, _) = VerificationKey::from_cose_key(&compressed(x, !odd)).unwrap();
    assert!(!other.same_key(&uncompressed));
    assert_eq!(
        verify_auth_block(&block, PAYLOAD, &other),
        Err(CoseError::VerificationFailed)
    );
    // x = 1, 2, ...: the first with no y on the curve (x³ - 3x + b not a square).
    let off_curve = (1u8..)
        .map(|i| [[0; 31].as_slice(), &[i]].concat())
        .find(|x| p256::PublicKey::from_sec1_bytes(&[&[2], x.as_slice()].concat()).is_err())
        .unwrap();
    for odd in [false, true] {
        assert_eq!(
            VerificationKey::from_cose_key(&compressed(&off_curve, odd)).unwrap_err(),
            CoseError::InvalidKey
        );
    }
}

/// `cose_key` with `alg` (label 3) set, as a key file or a TPA may declare it.
fn declaring(cose_key: &[u8], alg: iana::Algorithm) -> Vec<u8> {
    let mut k = coset::CoseKey::from_slice(cose_key).unwrap();
    k.alg = Some(coset::Algorithm::Assigned(alg));
    k.to_vec().unwrap()
}

/// The COSE_Key (EC2, no kid, no alg) of a P-256 signing key.
fn p256_cose_key(sk: &SigningKey) -> Vec<u8> {
    let KeyMaterial::P256(vk) = *sk.verification_key().material() else {
        unreachable!()
    };
    let point = vk.to_sec1_point(false);
    let p = point.as_bytes();
    CoseKeyBuilder::new_ec2_pub_key(
        iana::EllipticCurve::P_256,
        p[1..33].to_vec(),
        p[33..].to_vec(),
    )
    .build()
    .to_vec()
    .unwrap()
}

/// RFC 9052 §7: `COSE_Key = { ... * label => values }`, `values = any`: a float under a
/// parameter this engine does not read (private-use or text label) is skipped and the key
/// imports; as a parameter it reads (`crv`, `x`) a float is refused.
#[test]
fn a_float_in_a_cose_key_parameter_it_does_not_read_is_skipped() {
    let p256 = SigningKey::p256(&[0x42; 32]).unwrap();
    let with = |label: ciborium::Value| {
        let mut key = coset::CoseKey::from_slice(&p256_cose_key(&p256)).unwrap();
        let label = match label {
            ciborium::Value::Text(t) => coset::Label::Text(t),
            l => coset::Label::Int(l.as_integer().unwrap().try_into().unwrap()),
        };
        key.params.retain(|(l, _)| *l != label);
        key.params.push((label, ciborium::Value::Float(1.5)));
        key.to_vec().unwrap()
    };
    for label in [
        ciborium::Value::from(-65_537),
        ciborium::Value::from("note"),
    ] {
        let (key, _) = VerificationKey::from_cose_key(&with(label.clone())).unwrap();
        let block = create_auth_block(&p256, Algorithm::Esp256, b"", PAYLOAD).unwrap();
        assert_eq!(
            verify_auth_block(&block, PAYLOAD, &key),
            Ok(Algorithm::Esp256),
            "{label:?}"
        );
    }
    for label in [-1, -2] {
        assert_eq!(
            VerificationKey::from_cose_key(&with(label.into())).map(|_| ()),
            Err(CoseError::Malformed),
            "{label}"
        );
    }
}

/// RFC 9052 §7.1: a COSE_Key's `alg` restricts the key; the algorithm it is used for must
/// match, not merely fit the key type (ES256 and ESP256 both fit a P-256 key, EdDSA and
/// Ed25519 an Ed25519 key).
#[test]
fn a_cose_key_alg_restricts_the_key_to_that_algorithm() {
    let p256 = SigningKey::p256(&[0x42; 32]).unwrap();
    let plain = p256_cose_key(&p256);
    let ed = SigningKey::ed25519(&[7u8; 32]).unwrap();
    let KeyMaterial::Ed25519(edk) = *ed.verification_key().material() else {
        unreachable!()
    };
    let okp = CoseKeyBuilder::new_okp_key()
        .param(
            iana::OkpKeyParameter::Crv.to_i64(),
            ciborium::Value::from(iana::EllipticCurve::Ed25519.to_i64()),
        )
        .param(
            iana::OkpKeyParameter::X.to_i64(),
            ciborium::Value::Bytes(edk.to_bytes().to_vec()),
        )
        .build()
        .to_vec()
        .unwrap();
    let cases = [
        (
            &p256,
            &plain,
            iana::Algorithm::ESP256,
            Algorithm::Esp256,
            Algorithm::Es256,
        ),
        (
            &p256,
            &plain,
            iana::Algorithm::ES256,
            Algorithm::Es256,
            Algorithm::Esp256,
        ),
        (
            &ed,
            &okp,
            iana::Algorithm::Ed25519,
            Algorithm::Ed25519,
            Algorithm::EdDsa,
        ),
        (
            &ed,
            &okp,
            iana::Algorithm::EdDSA,
            Algorithm::EdDsa,
            Algorithm::Ed25519,
        ),
    ];
    for (sk, bare, declared, ours, other) in cases {
        let (key, _) = VerificationKey::from_cose_key(&declaring(bare, declared)).unwrap();
        assert_eq!(key.alg(), Some(ours), "{declared:?}");
        assert!(key.supports(ours) && !key.supports(other), "{declared:?}");
        let good = create_auth_block(sk, ours, b"", PAYLOAD).unwrap();
        assert_eq!(verify_auth_block(&good, PAYLOAD, &key), Ok(ours));
        let bad = create_auth_block(sk, other, b"", PAYLOAD).unwrap();
        assert_eq!(
            verify_auth_block(&bad, PAYLOAD, &key),
            Err(CoseError::KeyAlgorithmMismatch),
            "a key declared {declared:?} verified a {other:?} block"
        );
        // Without `alg`, the key serves both algorithms of its type.
        let (free, _) = VerificationKey::from_cose_key(bare).unwrap();
        assert_eq!(free.alg(), None);
        assert_eq!(verify_auth_block(&bad, PAYLOAD, &free), Ok(other));
        assert!(free.same_key(&key), "a restriction makes no other key");
    }
    // An HMAC key declared for HMAC 256/256 still verifies its tags.
    let hmac = SigningKey::hmac256(&[0x61; 32]).unwrap();
    let sym = CoseKeyBuilder::new_symmetric_key(vec![0x61; 32])
        .algorithm(iana::Algorithm::HMAC_256_256)
        .build()
        .to_vec()
        .unwrap();
    let (key, _) = VerificationKey::from_cose_key(&sym).unwrap();
    assert_eq!(key.alg(), Some(Algorithm::Hmac256));
    let tag = create_auth_block(&hmac, Algorithm::Hmac256, b"", PAYLOAD).unwrap();
    assert_eq!(
        verify_auth_block(&tag, PAYLOAD, &key),
        Ok(Algorithm::Hmac256)
    );
}

/// A manifest anchor declared for one algorithm is not tried for a signature of another:
/// the envelope finds no anchor (as a key of another type would).
#[test]
fn a_manifest_anchor_declared_for_esp256_does_not_authenticate_es256() {
    use suit_common::suit::error::{AuthError, Error};
    use suit_common::suit::policy::{Role, TrustAnchor};
    use suit_common::suit::Envelope;
    use suit_test_support::service::part;
    let sk = SigningKey::p256(&[0x42; 32]).unwrap();
    let (key, _) =
        VerificationKey::from_cose_key(&declaring(&p256_cose_key(&sk), iana::Algorithm::ESP256))
            .unwrap();
    let anchors = [TrustAnchor::unrestricted(1, key, Role::Author)];
    let manifest = suit_test_support::service::manifest(1, &[part(&[b"app"], b"x", "#x")]);
    let authenticate = |alg| {
        let env = suit_test_support::seal_one(&manifest, &sk, alg, &[], &[]);
        Envelope::decode(&env)
            .unwrap()
            .authenticate(&anchors)
            .map(|v| v.signers)
    };
    assert_eq!(authenticate(Algorithm::Esp256).unwrap(), [1]);
    assert_eq!(
        authenticate(Algorithm::Es256).unwrap_err(),
        Error::Auth(AuthError::NoMatchingTrustAnchor)
    );
}

/// On the device: an author anchor and a delegated TPA anchor provisioned with a COSE_Key
/// declaring ES256 verify ES256 only: an ESP256 manifest or provisioning message signed by the
/// same key is refused and changes nothing.
#[test]
fn provisioned_anchors_keep_their_cose_key_alg() {
    use suit_common::protocol::{ByteBuf, Command, DeviceKeyResponse, Empty, RefusalKind};
    use suit_common::service::provision::{author::seal, Op, ProvisioningBody};
    use suit_common::service::state::{AnchorRecord, RoleRecord, Scope};
    use suit_test_support::service::{
        backend, call, identity, install, part, provision, provision_message, refusal, release,
        scope, service, state, TA,
    };
    use suit_test_support::{p256_private_from_pem, AUTHOR_PRIV, AUTHOR_PUB};

    let mut s = service(backend(0));
    let _: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let es256_only = |key: ByteBuf| ByteBuf::from(declaring(&key, iana::Algorithm::ES256));
    let delegate = SigningKey::p256(&[0x24; 32]).unwrap();
    let ops = vec![
        Op::AddAnchor(AnchorRecord {
            id: 1,
            cose_key: es256_only(suit_test_support::cose_key(AUTHOR_PUB)),
            role: RoleRecord::Author,
            key_scope: 0,
            scope: scope(&[&TA[..], b"app"]),
        }),
        Op::AddAnchor(AnchorRecord {
            id: 2,
            cose_key: es256_only(ByteBuf::from(p256_cose_key(&delegate))),
            role: RoleRecord::Tpa,
            key_scope: 0,
            scope: Scope::default(),
        }),
        identity(),
    ];
    let m = provision_message(&mut s, 1, ops);
    provision(&mut s, &m).unwrap();

    // Manifests: the author's ESP256 signature is refused, its ES256 one installs.
    let image = b"restricted anchor image";
    let parts = [part(&[b"app", b"a.bin"], image, "#a")];
    let r = release(1, &parts);
    let before = state(&s);
    let refused = refusal(install(&mut s, &r));
    assert_eq!(refused.kind, RefusalKind::Manifest, "{refused:?}");
    assert!(
        refused.reason.contains("no trust anchor fits"),
        "{}",
        refused.reason
    );
    assert_eq!(state(&s), before, "a refused install changed the state");
    let manifest = suit_test_support::service::manifest(1, &parts);
    let es256 = suit_test_support::seal_one(
        &manifest,
        &p256_private_from_pem(AUTHOR_PRIV),
        Algorithm::Es256,
        &[],
        &[("#a", &image[..])],
    );
    let es256 = suit_test_support::service::Release {
        envelope: es256,
        payloads: vec![],
    };
    install(&mut s, &es256).unwrap();

    // Provisioning: the delegate's ESP256 message is refused, its ES256 one applies.
    let device = suit_common::service::keys::DeviceKeyPair::load_or_create(s.backend_mut())
        .unwrap()
        .identity_public()
        .kid;
    let body = ProvisioningBody {
        counter: 1,
        device: ByteBuf::from(device),
        ops: vec![Op::RemoveAnchor { id: 1 }],
    };
    let before = state(&s);
    let esp256 = seal(&body, &delegate, Algorithm::Esp256, b"").unwrap();
    let refused = refusal(provision(&mut s, &esp256));
    assert!(
        refused
            .reason
            .contains("not signed by the TPA root or a TPA anchor"),
        "{}",
        refused.reason
    );
    assert_eq!(state(&s), before, "a refused message changed the state");
    let es256 = seal(&body, &delegate, Algorithm::Es256, b"").unwrap();
    provision(&mut s, &es256).unwrap();
}
