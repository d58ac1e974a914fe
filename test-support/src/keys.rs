//! Test keys: the PEM files under tests/vectors and tests/keys, read without a PEM crate
//! (the tests must not share the tool's parser they check), and anchors/policies built on them.

use base64::Engine as _;
use suit_common::cose::{SigningKey, VerificationKey};
use suit_common::protocol::ByteBuf;
use suit_common::suit::policy::{Policy, Role, TrustAnchor};

use crate::vectors::read;

/// The test TPA's keys (tests/keys), relative to tests/vectors as `read` takes them.
pub const TPA_PRIV: &str = "../keys/tpa-test.priv.pem";
pub const TPA_PUB: &str = "../keys/tpa-test.pub.pem";
/// A fourth P-256 signer (tests/keys), for an anchor that is none of the TPA root, author
/// and operator.
pub const ANCHOR_PRIV: &str = "../keys/anchor-test.priv.pem";
pub const ANCHOR_PUB: &str = "../keys/anchor-test.pub.pem";
/// The manifest-spec examples' signer, used as the author.
pub const AUTHOR_PRIV: &str = "suit-manifest-spec/private_key.pem";
pub const AUTHOR_PUB: &str = "suit-manifest-spec/public_key.pem";
/// The firmware-encryption draft's dependent-manifest signer, used as the operator.
pub const OPERATOR_PRIV: &str = "suit-firmware-encryption/dependent_manifest_signer_es256_priv.pem";
pub const OPERATOR_PUB: &str = "suit-firmware-encryption/dependent_manifest_signer_es256_pub.pem";
/// Absolute path of the test TPA's private key, for the command-line tools.
pub const TPA_PRIV_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/keys/tpa-test.priv.pem"
);

pub fn pem_der(rel: &str) -> Vec<u8> {
    pem_text_der(&String::from_utf8(read(rel)).unwrap())
}

/// The DER inside a PEM text (one block).
fn pem_text_der(text: &str) -> Vec<u8> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// The uncompressed P-256 point of a SubjectPublicKeyInfo PEM (its last 65 bytes).
pub fn p256_public_from_pem(rel: &str) -> VerificationKey {
    let der = pem_der(rel);
    let point = &der[der.len() - 65..];
    assert_eq!(point[0], 0x04);
    VerificationKey::p256_from_sec1(point).unwrap()
}

/// The 32-byte scalar of a PKCS#8 or SEC1 P-256 private key PEM
/// (the OCTET STRING after ECPrivateKey's version 1).
pub fn p256_private_from_pem(rel: &str) -> SigningKey {
    p256_private_from_der(&pem_der(rel))
}

/// [`p256_private_from_pem`] of a PEM file anywhere (one a test made with `suit-author keygen`).
pub fn p256_private_from_pem_file(path: &std::path::Path) -> SigningKey {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    p256_private_from_der(&pem_text_der(&text))
}

fn p256_private_from_der(der: &[u8]) -> SigningKey {
    let pos = der
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
        .expect("ECPrivateKey");
    SigningKey::p256(&der[pos + 5..pos + 37]).unwrap()
}

pub fn anchor(id: u32, key: VerificationKey, role: Role) -> TrustAnchor {
    TrustAnchor::unrestricted(id, key, role)
}

/// Why `envelope` (which must decode) does not authenticate against `policy`'s anchors.
pub fn auth_refusal(envelope: &[u8], policy: &Policy) -> suit_common::suit::error::Error {
    suit_common::suit::Envelope::decode(envelope)
        .unwrap()
        .authenticate(&policy.anchors)
        .unwrap_err()
}

/// Policy trusting the manifest-spec examples' key (author role, full permissions).
pub fn spec_policy() -> Policy {
    policy_of(vec![anchor(
        1,
        p256_public_from_pem("suit-manifest-spec/public_key.pem"),
        Role::Author,
    )])
}

/// The uncompressed SEC1 point (65 bytes) of a P-256 SubjectPublicKeyInfo PEM.
pub fn sec1_from_pem(rel: &str) -> Vec<u8> {
    let der = pem_der(rel);
    der[der.len() - 65..].to_vec()
}

/// A P-256 public key PEM as an encoded COSE_Key (EC2), as provisioning messages carry it.
pub fn cose_key(rel: &str) -> ByteBuf {
    let p = sec1_from_pem(rel);
    let key = coset::CoseKeyBuilder::new_ec2_pub_key(
        coset::iana::EllipticCurve::P_256,
        p[1..33].to_vec(),
        p[33..].to_vec(),
    )
    .build();
    use coset::CborSerializable as _;
    ByteBuf::from(key.to_vec().unwrap())
}

/// A P-256 public key (uncompressed SEC1 `point`) as an encoded COSE_Key (EC2) with `kid` and
/// algorithm ESP256, as coset writes it.
pub fn ec2_cose_key(point: &[u8], kid: &[u8]) -> Vec<u8> {
    use coset::{iana, CborSerializable as _};
    coset::CoseKeyBuilder::new_ec2_pub_key(
        iana::EllipticCurve::P_256,
        point[1..33].to_vec(),
        point[33..65].to_vec(),
    )
    .key_id(kid.to_vec())
    .algorithm(iana::Algorithm::ESP256)
    .build()
    .to_vec()
    .unwrap()
}

/// An HMAC-256 key as an encoded COSE_Key (Symmetric, kid `kid`), as a TPA wraps it for a
/// secret anchor.
pub fn symmetric_cose_key(kid: &[u8], secret: &[u8]) -> Vec<u8> {
    use crate::cbor::{bytes, cbor, int};
    cbor(&ciborium::Value::Map(vec![
        (int(1), int(4)),
        (int(2), bytes(kid)),
        (int(-1), bytes(secret)),
    ]))
}

/// `manifest` in an envelope signed by `key` alone (no kid), with `severed` members and
/// `integrated` payloads: the one-signer form most tests need.
pub fn seal_one(
    manifest: &[u8],
    key: &SigningKey,
    alg: suit_common::cose::Algorithm,
    severed: &[(u8, &[u8])],
    integrated: &[(&str, &[u8])],
) -> Vec<u8> {
    let signer = suit_common::suit::author::Signer { key, alg, kid: b"" };
    suit_common::suit::author::seal_envelope(manifest, &[signer], severed, integrated).unwrap()
}

/// `manifest` in an envelope signed with ESP256 by each P-256 key in `signers` (PEM paths under
/// tests/, no kid), with `integrated` payloads: the co-signed form the signer-rule tests need.
pub fn seal_esp256(manifest: &[u8], signers: &[&str], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    let keys: Vec<SigningKey> = signers.iter().map(|s| p256_private_from_pem(s)).collect();
    let signers: Vec<suit_common::suit::author::Signer> = keys
        .iter()
        .map(|key| suit_common::suit::author::Signer {
            key,
            alg: suit_common::cose::Algorithm::Esp256,
            kid: b"",
        })
        .collect();
    suit_common::suit::author::seal_envelope(manifest, &signers, &[], integrated).unwrap()
}

/// A policy of `anchors` alone: no rules, no plaintext-digest requirement, default update
/// management.
pub fn policy_of(anchors: Vec<TrustAnchor>) -> Policy {
    Policy {
        anchors,
        rules: Vec::new(),
        require_plaintext_digest: false,
        update_management: Default::default(),
    }
}

/// `{1: 1, 2: 1, 3: << {2: [[c] per component]} >>, key: value}` signed (ES256) with the
/// manifest-spec examples' key: an authenticated manifest around the one member under test.
pub fn spec_signed_with(components: &[&[u8]], key: i64, value: ciborium::Value) -> Vec<u8> {
    use crate::cbor::{bytes, cbor, int, map};
    let ids = components
        .iter()
        .map(|c| ciborium::Value::Array(vec![bytes(c)]))
        .collect();
    let common = map(vec![(2, ciborium::Value::Array(ids))]);
    let manifest = cbor(&map(vec![
        (1, int(1)),
        (2, int(1)),
        (3, bytes(&cbor(&common))),
        (key, value),
    ]));
    let signer = p256_private_from_pem(AUTHOR_PRIV);
    seal_one(
        &manifest,
        &signer,
        suit_common::cose::Algorithm::Es256,
        &[],
        &[],
    )
}
