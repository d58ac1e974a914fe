//! Oracle and pre-authentication attacks on the TA's service, host-natively (the same
//! `Service` runs inside OP-TEE), with the REE as the attacker: it carries every byte, may
//! truncate or forge anything, and reads every signed report.
//!
//! * Truncated-ciphertext oracle (issue 9, finding 1): the REE cuts an encrypted payload to
//!   L (+16 for the GCM tag) bytes, lets the install fail and looks in the signed report for
//!   anything derived from the L staged, unauthenticated plaintext bytes; one guessed byte
//!   per attempt recovers the secret. For AES-GCM and AES-CTR, ECDH-ES and HPKE recipients.
//! * Pre-authentication allocation (finding 6): hostile envelopes (nested try-each, huge COSE
//!   headers) cost a bounded amount of heap until they are authenticated; after
//!   authentication, command counts are capped.
//! * Unauthenticated claims (finding 10): a forged envelope's report claims nothing and does
//!   not displace the report of the last authenticated attempt; every report carries the
//!   device's state.

use ciborium::Value;
use sha2::{Digest as _, Sha256};
use suit_common::protocol::ByteBuf;
use suit_test_support::service::Refused;

use suit_common::cose::{Algorithm, SigningKey, VerificationKey};
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite, KeyWrap};
use suit_common::encryption::{encrypt_payload, CoseOptions, Recipient};
use suit_common::protocol::{self, *};
use suit_common::report::{verify_report, DecodedReport, Entry, Value as RValue};
use suit_common::service::memory::MemoryBackend;
use suit_common::service::Service;
use suit_common::suit::author::{seal_envelope, Signer};

use suit_test_support::service::{bytes, call, cbor, int, send_envelope};
use suit_test_support::AUTHOR_PRIV;
use suit_test_support::{bomb_block, fetch_and_check, fetch_and_decrypt, says};
use suit_test_support::{
    check_vendor_class, copy_manifest, p256_private_from_pem, suit_manifest, CLASS_ID, VENDOR_ID,
};
use suit_test_support::{image_shared, suit_digest, with_manifest_member};

/// Not an anchor of the device: envelopes it signs are forgeries.
const FORGER_PRIV: &str = "suit-firmware-encryption/dependent_manifest_signer_es256_priv.pem";

/// The personalization secret the REE wants.
const SECRET: &[u8] = b"PIN=4711;API-KEY=7a1b9c";
const COMPONENT: [&[u8]; 2] = [b"app", b"secret"];
const URI: &str = "https://vendor.example/secret.bin";

// ---------------------------------------------------------------------------------------
// Peak-heap measurement for the calling thread (other test threads are not counted): the
// shared allocator (suit_test_support::heap) in its counting form, the whole test binary's;
// it only counts while a thread asks it to.

#[global_allocator]
static ALLOC: suit_test_support::heap::TestAllocator =
    suit_test_support::heap::TestAllocator::counting();

pub(crate) use suit_test_support::heap::{largest_allocation, peak_heap, peak_ta_heap};

// ---------------------------------------------------------------------------------------
// Device and wire helpers.

type Dev = Service<MemoryBackend>;

/// A device with an author anchor for components under ['app'] and its identity set.
fn provisioned() -> Dev {
    suit_test_support::service::provisioned(&[b"app"])
}

/// Anchor 1's payload-decryption keys (the author's manifests decrypt with these).
fn device_keys(s: &mut Dev) -> AnchorKeysInfo {
    let r: DeviceKeyResponse =
        call(s, Command::DeviceKey, &DeviceKeyRequest { anchor: Some(1) }).unwrap();
    r.anchor.expect("anchor 1 keys")
}

/// Sends the envelope and asks the TA to prepare it.
fn prepare(s: &mut Dev, envelope: &[u8]) -> Result<InstallPrepareResponse, (Status, Refused)> {
    send_envelope(s, envelope, MAX_CHUNK)?;
    call(s, Command::InstallPrepare, &Empty {})
}

/// The peak heap of the InstallPrepare call alone (the request and reply are a few bytes).
fn measured_prepare(
    s: &mut Dev,
    envelope: &[u8],
) -> (Result<InstallPrepareResponse, (Status, Refused)>, usize) {
    send_envelope(s, envelope, MAX_CHUNK).unwrap();
    let mut request = protocol::encode(&Empty {}).unwrap();
    let (reply, peak) = peak_heap(|| {
        s.invoke(
            Command::InstallPrepare as u32,
            PROTOCOL_VERSION,
            &mut request,
        )
    });
    let r = match reply.status {
        Status::Ok => Ok(protocol::decode(&reply.body, MAX_RESPONSE).unwrap()),
        status => Err((
            status,
            protocol::decode::<protocol::Refusal>(&reply.body, MAX_RESPONSE)
                .map(|r| Refused::of(&r))
                .unwrap_or(Refused {
                    kind: RefusalKind::Unspecified,
                    reason: String::new(),
                    fault: None,
                }),
        )),
    };
    (r, peak)
}

fn install(
    s: &mut Dev,
    envelope: &[u8],
    payload: &[u8],
) -> Result<InstallFinishResponse, (Status, Refused)> {
    let prepared = prepare(s, envelope)?;
    for uri in &prepared.needed_uris {
        call::<_, Empty>(
            s,
            Command::InstallPayload,
            &PayloadChunkRequest {
                uri: uri.clone(),
                total_len: payload.len() as u64,
                offset: 0,
                data: ByteBuf::from(payload.to_vec()),
            },
        )?;
    }
    call(s, Command::InstallFinish, &Empty {})
}

/// The signed report the TA gives the REE, verified with the device's report key.
fn signed_report(s: &mut Dev, nonce: &[u8], pre_auth: bool) -> DecodedReport {
    let keys: DeviceKeyResponse = call(s, Command::DeviceKey, &Empty {}).unwrap();
    let key = VerificationKey::p256_from_sec1(&keys.report_key).unwrap();
    let r: ReportResponse = call(
        s,
        Command::Report,
        &ReportRequest {
            nonce: Some(ByteBuf::from(nonce.to_vec())),
            pre_auth,
        },
    )
    .unwrap();
    verify_report(&r.report, &key).unwrap()
}

// ---------------------------------------------------------------------------------------
// Manifests.

/// Reporting policy on every command, as `suit-author` writes it: records and system
/// information on success and on failure.
const POLICY: i64 = 15;

/// A manifest for [COMPONENT], every command with reporting policy 15, in the
/// firmware-encryption draft's form when encrypted: fetch `URI` into the ciphertext buffer
/// (component 1, no digest of its own, so decryption meets whatever the REE delivered), then
/// copy decrypting with `encryption_info` into [COMPONENT], whose image-size and image-digest
/// are the plaintext's.
fn manifest(
    seq: u64,
    plaintext: &[u8],
    encryption_info: Option<&[u8]>,
    install: Option<Value>,
) -> Vec<u8> {
    let shared = image_shared(plaintext, POLICY);
    let install = install.unwrap_or_else(|| match encryption_info {
        None => {
            Value::Array([vec![int(12), int(0)], fetch_and_check(URI, POLICY, POLICY)].concat())
        }
        Some(info) => Value::Array(
            [
                fetch_and_decrypt(URI, info, POLICY),
                vec![int(3), int(POLICY)],
            ]
            .concat(),
        ),
    });
    let component = Value::Array(COMPONENT.iter().map(|c| bytes(c)).collect());
    let mut buffer = COMPONENT.iter().map(|c| bytes(c)).collect::<Vec<_>>();
    buffer.push(bytes(b"encrypted"));
    let common = Value::Map(vec![
        (int(2), Value::Array(vec![component, Value::Array(buffer)])),
        (int(4), bytes(&cbor(&shared))),
    ]);
    cbor(&Value::Map(vec![
        (int(1), int(1)),
        (int(2), int(seq as i64)),
        (int(3), bytes(&cbor(&common))),
        (
            int(4),
            Value::Text("https://vendor.example/manifest.suit".into()),
        ),
        (int(20), bytes(&cbor(&install))),
    ]))
}

fn sign_with(manifest: &[u8], signer: &str) -> Vec<u8> {
    let key: SigningKey = p256_private_from_pem(signer);
    let signers = [Signer {
        key: &key,
        alg: Algorithm::Esp256,
        kid: b"",
    }];
    seal_envelope(manifest, &signers, &[], &[]).unwrap()
}

/// An envelope with a correct SUIT_Digest over `manifest` and the given authentication
/// blocks (for hostile blocks the signer would never produce).
fn envelope_with_blocks(manifest: &[u8], blocks: &[Vec<u8>]) -> Vec<u8> {
    let manifest_bstr = cbor(&bytes(manifest));
    let mut auth = vec![bytes(&suit_digest(&manifest_bstr))];
    auth.extend(blocks.iter().map(|b| bytes(b)));
    cbor(&Value::Tag(
        107,
        Box::new(Value::Map(vec![
            (int(2), bytes(&cbor(&Value::Array(auth)))),
            (int(3), bytes(manifest)),
        ])),
    ))
}

// ---------------------------------------------------------------------------------------
// Finding 1: the truncated-ciphertext oracle.

struct Variant {
    name: &'static str,
    content: ContentAlgorithm,
    hpke: bool,
}

const VARIANTS: [Variant; 4] = [
    Variant {
        name: "A128GCM, ECDH-ES+A128KW",
        content: ContentAlgorithm::A128Gcm,
        hpke: false,
    },
    Variant {
        name: "A128CTR, ECDH-ES+A128KW",
        content: ContentAlgorithm::A128Ctr,
        hpke: false,
    },
    Variant {
        name: "A128GCM, HPKE-0",
        content: ContentAlgorithm::A128Gcm,
        hpke: true,
    },
    Variant {
        name: "A256CTR, HPKE-0",
        content: ContentAlgorithm::A256Ctr,
        hpke: true,
    },
];

fn encrypt_to_device(s: &mut Dev, v: &Variant) -> (Vec<u8>, Vec<u8>) {
    let keys = device_keys(s);
    let (point, kid) = if v.hpke {
        (&keys.hpke_key, &keys.hpke_kid)
    } else {
        (&keys.ecdh_es_key, &keys.ecdh_es_kid)
    };
    let public = p256::PublicKey::from_sec1_bytes(point).unwrap();
    let recipient = if v.hpke {
        Recipient::Hpke {
            kid: Some(&kid[..]),
            public_key: &public,
            suite: HpkeSuite::Hpke0,
            psk: None,
        }
    } else {
        Recipient::EcdhEs {
            kid: Some(&kid[..]),
            public_key: &public,
            wrap: KeyWrap::A128Kw,
        }
    };
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let e = encrypt_payload(
        SECRET,
        v.content,
        &[recipient],
        &CoseOptions::SUIT,
        &mut rng,
    )
    .unwrap();
    (e.encryption_info, e.ciphertext)
}

/// [`encrypt_to_device`], drawn again while the ciphertext's first byte is the secret's (1 in
/// 256 for AES-CTR): the report may carry the digest of the ciphertext buffer (bytes the REE
/// delivered), which would then also be the digest of a prefix of the secret.
fn encrypt_unlike_secret(s: &mut Dev, v: &Variant) -> (Vec<u8>, Vec<u8>) {
    (0..16)
        .map(|_| encrypt_to_device(s, v))
        .find(|(_, c)| c.first() != SECRET.first())
        .expect("a ciphertext that does not start like the secret")
}

/// Every byte string, number and text of a report, with where it was found.
fn report_values(r: &DecodedReport) -> Vec<(String, RValue)> {
    let mut out = Vec::new();
    for e in &r.entries {
        match e {
            Entry::Record(rec) => {
                for (k, v) in &rec.properties {
                    out.push((format!("record property {k}"), v.clone()));
                }
            }
            Entry::System(sys) => {
                for (k, v) in &sys.properties {
                    out.push((
                        format!("system property {k} of {:?}", sys.component),
                        v.clone(),
                    ));
                }
            }
        }
    }
    if let suit_common::report::ReportResult::Failure(f) = &r.result {
        for (k, v) in &f.record.properties {
            out.push((format!("failure record property {k}"), v.clone()));
        }
        if let Some(d) = &f.detail {
            out.push(("failure detail".into(), RValue::Text(d.to_string())));
        }
    }
    out
}

/// What the attacker does with one report: look for the digest of `known` + one more byte.
fn guess_next_byte(report: &DecodedReport, known: &[u8]) -> Option<u8> {
    let values = report_values(report);
    (0..=255u8).find(|b| {
        let mut guess = known.to_vec();
        guess.push(*b);
        let wanted = suit_digest(&guess);
        values
            .iter()
            .any(|(_, v)| matches!(v, RValue::Bytes(x) if *x == wanted))
    })
}

#[test]
fn truncated_ciphertext_reports_reveal_nothing_about_the_plaintext() {
    for v in &VARIANTS {
        let mut s = provisioned();
        let (info, ciphertext) = encrypt_unlike_secret(&mut s, v);
        let tag = if v.content.is_aead() { 16 } else { 0 };
        assert_eq!(ciphertext.len(), SECRET.len() + tag);
        let envelope = sign_with(&manifest(1, SECRET, Some(&info), None), AUTHOR_PRIV);

        // The attack: one truncated delivery per byte, one guess per report.
        let mut recovered = Vec::new();
        for len in 1..SECRET.len() {
            let refused = install(&mut s, &envelope, &ciphertext[..len + tag]);
            let (_, refusal) = refused.expect_err("a truncated payload must be refused");
            let report = signed_report(&mut s, format!("n{len}").as_bytes(), false);
            assert!(!report.is_success(), "{}", v.name);
            // The report is about the authenticated manifest, and nothing in it or in the
            // refusal text is derived from the staged plaintext.
            assert_eq!(report.authenticated, Some(true), "{}", v.name);
            for (at, value) in report_values(&report) {
                for prefix in 1..=SECRET.len() {
                    let d = suit_digest(&SECRET[..prefix]);
                    assert!(
                        !matches!(&value, RValue::Bytes(x) if *x == d),
                        "{}: truncated to {len}(+{tag}): {at} is the digest of the first {prefix} plaintext bytes: {value:?}\nciphertext {}\n{report:?}",
                        v.name,
                        hex::encode(&ciphertext)
                    );
                    assert!(
                        !matches!(&value, RValue::Bytes(x) if x.windows(32).any(|w| w == &d[d.len()-32..])),
                        "{}: truncated to {len}(+{tag}): {at} carries the digest of the first {prefix} plaintext bytes: {value:?}\nciphertext {}\n{report:?}",
                        v.name,
                        hex::encode(&ciphertext)
                    );
                }
            }
            for prefix in 1..=SECRET.len() {
                let hex = hex::encode(Sha256::digest(&SECRET[..prefix]));
                assert!(!refusal.reason.contains(&hex), "{}: refusal text", v.name);
            }
            let sys: Vec<_> = report
                .entries
                .iter()
                .filter_map(|e| match e {
                    Entry::System(x) if x.component.segments() == COMPONENT => Some(x),
                    _ => None,
                })
                .collect();
            assert!(
                sys.is_empty(),
                "{}: the report describes the component staged from unauthenticated plaintext: {sys:?}",
                v.name
            );
            match guess_next_byte(&report, &recovered) {
                Some(b) => recovered.push(b),
                None => break,
            }
        }
        // In the draft's fetch-then-copy form the report may describe the ciphertext buffer
        // (clear bytes the REE itself delivered): "recovering" those is no leak. Anything
        // recovered must be the REE's own ciphertext, and never a prefix of the secret.
        assert!(
            recovered.is_empty()
                || (ciphertext.starts_with(&recovered) && !SECRET.starts_with(&recovered)),
            "{}: the REE recovered {:?} of the secret from signed reports",
            v.name,
            String::from_utf8_lossy(&recovered)
        );
        // Nothing was installed, and the untruncated payload still installs (the attack did
        // not cost the device its update), after which the image may be described.
        install(&mut s, &envelope, &ciphertext).expect("the genuine payload installs");
        let report = signed_report(&mut s, b"after", false);
        assert!(report.is_success(), "{}", v.name);
    }
}

#[test]
fn ctr_plaintext_is_not_compared_before_its_digest_matched() {
    // check-content on AES-CTR plaintext before image-match would be a comparison oracle
    // on bytes the REE can flip at will.
    let v = &VARIANTS[1];
    let mut s = provisioned();
    let (info, ciphertext) = encrypt_to_device(&mut s, v);
    let install_seq = Value::Array(vec![
        int(12),
        int(1),
        int(20),
        Value::Map(vec![(int(21), Value::Text(URI.into()))]),
        int(21),
        int(POLICY),
        int(12),
        int(0),
        int(20),
        Value::Map(vec![
            (int(18), bytes(&[0u8; SECRET.len()])),
            (int(19), bytes(&info)),
            (int(22), int(1)),
        ]),
        int(22),
        int(POLICY),
        int(6),
        int(POLICY),
        int(3),
        int(POLICY),
    ]);
    let envelope = sign_with(&manifest(1, SECRET, None, Some(install_seq)), AUTHOR_PRIV);
    // The REE flips a bit: the plaintext is no longer what the image digest names.
    let mut flipped = ciphertext.clone();
    flipped[0] ^= 1;
    let (_, refusal) = install(&mut s, &envelope, &flipped).unwrap_err();
    assert!(
        refusal
            .reason
            .contains("decrypted content that is not authenticated yet"),
        "{}",
        refusal.reason
    );
}

// ---------------------------------------------------------------------------------------
// Finding 6: bounded work before authentication, capped command counts after it.

/// A command sequence of try-each nested `depth` levels, each with eight options, leaves of
/// `leaf` abort conditions: a few bytes each, hundreds of bytes each once decoded.
fn nested_try_each(depth: usize, leaf: usize) -> Vec<u8> {
    if depth == 0 {
        let mut v = Vec::new();
        for _ in 0..leaf {
            v.push(int(14));
            v.push(int(0));
        }
        return cbor(&Value::Array(v));
    }
    let inner = nested_try_each(depth - 1, leaf);
    let options = (0..8).map(|_| bytes(&inner)).collect();
    cbor(&Value::Array(vec![int(15), Value::Array(options)]))
}

fn hostile_manifest() -> Vec<u8> {
    let seq: Value = ciborium::de::from_reader(&nested_try_each(4, 16)[..]).unwrap();
    manifest(7, b"x", None, Some(seq))
}

/// Most heap the service may hold while refusing an unauthenticated envelope, whatever its
/// structure (the TA's whole heap is 3 MiB, of which the envelope itself may take 512 KiB).
const PRE_AUTH_HEAP_BOUND: usize = 64 * 1024;

/// One large bstr: an item count does not bound it.
fn large(n: usize) -> Value {
    bytes(&vec![0u8; n])
}

/// A COSE_Sign of `signatures` `(protected, unprotected, signature)` under the protected body
/// bucket `body`.
fn cose_sign(body: &[(Value, Value)], signatures: Vec<(Value, Value, Value)>) -> Vec<u8> {
    let sigs = signatures
        .into_iter()
        .map(|(p, u, s)| Value::Array(vec![p, u, s]))
        .collect();
    cbor(&Value::Tag(
        98,
        Box::new(Value::Array(vec![
            bytes(&cbor(&Value::Map(body.to_vec()))),
            Value::Map(vec![]),
            Value::Null,
            Value::Array(sigs),
        ])),
    ))
}

/// An ESP256 COSE_Signature with `kid` and a `signature` of any size.
fn esp256_signature(kid: Value, signature: Value) -> (Value, Value, Value) {
    (
        bytes(&cbor(&Value::Map(vec![(int(1), int(-9))]))),
        Value::Map(vec![(int(4), kid)]),
        signature,
    )
}

/// Hostile blocks of a single large bstr where a copy per signature, or a signing input per
/// key tried, would multiply it (the review's H1: 2.4 MB of heap for a 492 KB envelope).
fn single_large_bstr_blocks() -> Vec<(&'static str, Vec<u8>)> {
    const BIG: usize = 480 * 1024;
    let four = |sig: &dyn Fn(usize) -> (Value, Value, Value)| (0..4).map(sig).collect();
    vec![
        (
            "COSE_Sign: 480 KiB bstr in the body's protected header, 4 signatures",
            cose_sign(
                &[(int(-70000), large(BIG))],
                four(&|i| esp256_signature(bytes(&[i as u8]), bytes(&[1u8; 64]))),
            ),
        ),
        (
            "COSE_Sign: four 120 KiB signatures",
            cose_sign(
                &[],
                four(&|i| esp256_signature(bytes(&[i as u8]), large(BIG / 4))),
            ),
        ),
        (
            "COSE_Sign: four 120 KiB kids",
            cose_sign(
                &[],
                four(&|_| esp256_signature(large(BIG / 4), bytes(&[1u8; 64]))),
            ),
        ),
        (
            "COSE_Sign1: 480 KiB bstr in the protected header",
            cbor(&Value::Tag(
                18,
                Box::new(Value::Array(vec![
                    bytes(&cbor(&Value::Map(vec![
                        (int(1), int(-9)),
                        (int(-70000), large(BIG)),
                    ]))),
                    Value::Map(vec![]),
                    Value::Null,
                    bytes(&[1u8; 64]),
                ])),
            )),
        ),
        (
            "COSE_Sign1: 480 KiB signature",
            cbor(&Value::Tag(
                18,
                Box::new(Value::Array(vec![
                    bytes(&cbor(&Value::Map(vec![(int(1), int(-9))]))),
                    Value::Map(vec![]),
                    Value::Null,
                    large(BIG),
                ])),
            )),
        ),
    ]
}

#[test]
fn hostile_envelopes_cost_bounded_heap_before_authentication() {
    let forged_nested = sign_with(&hostile_manifest(), FORGER_PRIV);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("nested try-each, forged signature", forged_nested),
        (
            "nested try-each behind a hostile block",
            envelope_with_blocks(&hostile_manifest(), &[bomb_block(false)]),
        ),
        (
            "huge unprotected header",
            envelope_with_blocks(&manifest(1, b"x", None, None), &[bomb_block(false)]),
        ),
        (
            "huge protected header",
            envelope_with_blocks(&manifest(1, b"x", None, None), &[bomb_block(true)]),
        ),
    ];
    for (name, block) in single_large_bstr_blocks() {
        cases.push((
            name,
            envelope_with_blocks(&manifest(1, b"x", None, None), &[block]),
        ));
    }
    let mut s = provisioned();
    // Reference: what a genuine envelope costs to prepare.
    let genuine = sign_with(&manifest(1, b"x", None, None), AUTHOR_PRIV);
    let (ok, genuine_peak) = measured_prepare(&mut s, &genuine);
    ok.unwrap();
    for (name, envelope) in &cases {
        assert!(
            envelope.len() <= 512 * 1024,
            "{name}: {} bytes",
            envelope.len()
        );
        let (r, peak) = measured_prepare(&mut s, envelope);
        eprintln!(
            "{name}: {} bytes, peak heap of prepare {peak}",
            envelope.len()
        );
        let (status, refusal) = r.expect_err(name);
        assert_eq!(status, Status::Refused, "{name}");
        assert_eq!(
            refusal.kind,
            RefusalKind::Manifest,
            "{name}: {}",
            refusal.reason
        );
        assert!(
            peak <= PRE_AUTH_HEAP_BOUND,
            "{name}: {peak} bytes of heap for a {}-byte envelope (genuine: {genuine_peak})",
            envelope.len()
        );
        // The service still serves.
        let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    }
}

/// RFC 8032 §7.1 TEST 1's public key: an Ed25519 anchor (the forged blocks never verify).
const ED25519_PUBLIC: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

/// [`provisioned`] plus an Ed25519 anchor (2) and an HSS-LMS anchor (3), the algorithms
/// whose verification takes the whole signing input, not its hash.
fn provisioned_with_whole_message_anchors() -> Dev {
    let mut s = provisioned();
    let hss_level = suit_common::cose::HssLevel {
        height: 5,
        winternitz: 8,
    };
    let (_, hss_public) = suit_common::cose::hss_lms_keygen(&[hss_level], &[7; 32]).unwrap();
    let keys = [
        (
            2,
            vec![
                (int(1), int(1)),
                (int(-1), int(6)),
                (int(-2), bytes(&ED25519_PUBLIC)),
            ],
        ),
        (3, vec![(int(1), int(5)), (int(-1), bytes(&hss_public))]),
    ];
    let ops = keys
        .into_iter()
        .map(|(id, key)| {
            suit_common::service::provision::Op::AddAnchor(
                suit_common::service::state::AnchorRecord {
                    id,
                    cose_key: ByteBuf::from(cbor(&Value::Map(key))),
                    role: RoleRecord::Author,
                    key_scope: 0,
                    scope: suit_test_support::service::scope(&[b"app"]),
                },
            )
        })
        .collect();
    let message = suit_test_support::service::provision_message(&mut s, 2, ops);
    suit_test_support::service::provision(&mut s, &message).unwrap();
    s
}

#[test]
fn a_large_wrapper_digest_is_refused_before_any_signing_input_is_built() {
    use suit_common::suit::digest::MAX_DIGEST_LEN;
    // The wrapper's SUIT_Digest is every signature's detached payload; Ed25519 and HSS-LMS
    // verification copy the whole signing input, so an extension of the attacker's size in
    // that digest would cost its size in heap before any signature is checked.
    let mut s = provisioned_with_whole_message_anchors();
    let m = manifest(1, b"x", None, None);
    let manifest_bstr = cbor(&bytes(&m));
    let digest_with = |extension: usize| {
        cbor(&Value::Array(vec![
            int(-16),
            bytes(&Sha256::digest(&manifest_bstr)),
            large(extension),
        ]))
    };
    let longest = (0..MAX_DIGEST_LEN)
        .find(|n| digest_with(*n).len() == MAX_DIGEST_LEN)
        .unwrap();
    let forged_block = |alg: i64| {
        cbor(&Value::Tag(
            18,
            Box::new(Value::Array(vec![
                bytes(&cbor(&Value::Map(vec![(int(1), int(alg))]))),
                Value::Map(vec![]),
                Value::Null,
                bytes(&[0u8; 64]),
            ])),
        ))
    };
    for alg in [-19, -46] {
        for (extension, refused_for) in [
            (longest, "authentication"),
            (longest + 1, "SUIT_Digest size"),
            (400_000, "SUIT_Digest size"),
        ] {
            let digest = digest_with(extension);
            let wrapper = cbor(&Value::Array(vec![
                bytes(&digest),
                bytes(&forged_block(alg)),
            ]));
            let envelope = cbor(&Value::Tag(
                107,
                Box::new(Value::Map(vec![
                    (int(2), bytes(&wrapper)),
                    (int(3), bytes(&m)),
                ])),
            ));
            let (r, peak) = measured_prepare(&mut s, &envelope);
            let case = format!("alg {alg}, {}-byte digest", digest.len());
            let (_, refusal) = r.expect_err(&case);
            assert_eq!(refusal.kind, RefusalKind::Manifest, "{case}");
            suit_test_support::says_as(&case, &refusal.reason, refused_for);
            assert!(peak <= PRE_AUTH_HEAP_BOUND, "{case}: {peak} bytes of heap");
        }
    }
}

#[test]
fn the_install_session_buffers_no_envelope_the_engine_would_refuse() {
    use suit_common::suit::envelope::MAX_ENVELOPE_LEN;
    let mut s = provisioned();
    let begin =
        |s: &mut Dev, len: usize| peak_heap(|| suit_test_support::service::begin(s, len as u64));
    let (r, peak) = begin(&mut s, MAX_ENVELOPE_LEN + 1);
    let refusal = suit_test_support::service::refusal(r);
    assert_eq!(refusal.kind, RefusalKind::TooLarge, "{}", refusal.reason);
    assert!(
        peak < 64 * 1024,
        "{peak} bytes reserved for a refused envelope"
    );
    let (r, peak) = begin(&mut s, MAX_ENVELOPE_LEN);
    r.unwrap();
    assert!(peak >= MAX_ENVELOPE_LEN, "{peak}");
}

#[test]
fn authenticated_manifests_have_capped_command_counts() {
    let mut s = provisioned();
    let envelope = sign_with(&hostile_manifest(), AUTHOR_PRIV);
    let (r, peak) = measured_prepare(&mut s, &envelope);
    let (_, refusal) = r.expect_err("a manifest beyond the command budget");
    says(&refusal.reason, "commands per sequence");
    assert!(peak <= PRE_AUTH_HEAP_BOUND, "{peak} bytes of heap");
    // The signature verified but the manifest never decoded: the report names its
    // (authentic) digest and claims nothing else.
    let report = signed_report(&mut s, b"n", false);
    assert_eq!(report.authenticated, Some(true));
    assert!(report.manifest_digest.is_some());
    assert_eq!(report.sequence_number, None);
    // The service still serves.
    let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
}

// ---------------------------------------------------------------------------------------
// Finding 10: no unauthenticated claims; the device's state in every report.

#[test]
fn forged_envelopes_claim_nothing_and_do_not_displace_the_last_report() {
    let mut s = provisioned();
    let payload = b"genuine firmware".to_vec();
    let genuine = sign_with(&manifest(3, &payload, None, None), AUTHOR_PRIV);
    install(&mut s, &genuine, &payload).unwrap();

    // A forgery with its own URI, sequence number and (correct) digest.
    let forged_manifest = manifest(99, b"evil", None, None);
    let forged = sign_with(&forged_manifest, FORGER_PRIV);
    let (_, refusal) = prepare(&mut s, &forged).unwrap_err();
    says(&refusal.reason, "authentication");

    let pre = signed_report(&mut s, b"n1", true);
    assert_eq!(pre.authenticated, Some(false));
    assert!(!pre.is_success());
    assert_eq!(pre.manifest_uri, None);
    assert_eq!(pre.manifest_digest, None);
    assert_eq!(pre.sequence_number, None);
    assert!(pre.entries.is_empty());

    // The default report is still the genuine attempt's, with the device's state.
    let last = signed_report(&mut s, b"n2", false);
    assert!(last.is_success());
    assert_eq!(last.authenticated, Some(true));
    assert_eq!(last.sequence_number, Some(3));
    assert_eq!(last.nonce.as_deref(), Some(&b"n2"[..]));
    for report in [&pre, &last] {
        let state = report.device_state.as_ref().expect("device state");
        assert_eq!(state.provisioning_counter, 1);
        assert_eq!(state.components.len(), 1);
        let c = &state.components[0];
        assert_eq!(c.component.segments(), COMPONENT);
        assert_eq!(c.sequence_number, 3);
        assert_eq!(c.digest, Some(<[u8; 32]>::from(Sha256::digest(&payload))));
        assert_eq!(c.size, payload.len() as u64);
    }
}

/// A shared sequence that runs `before`, then checks the device's vendor and class ids.
fn identity_checks(before: Vec<Value>) -> Value {
    Value::Array(check_vendor_class(
        before,
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        POLICY,
    ))
}

/// A manifest whose shared sequence gives no plaintext digest: AES-GCM content is then
/// authenticated by its tag alone (the firmware-encryption draft allows it).
fn manifest_without_plaintext_digest(seq: u64, encryption_info: &[u8]) -> Vec<u8> {
    let shared = identity_checks(vec![int(12), int(0)]);
    let install = Value::Array(fetch_and_decrypt(URI, encryption_info, POLICY));
    let component = Value::Array(COMPONENT.iter().map(|c| bytes(c)).collect());
    let mut buffer = COMPONENT.iter().map(|c| bytes(c)).collect::<Vec<_>>();
    buffer.push(bytes(b"encrypted"));
    suit_manifest(
        seq as i64,
        vec![component, Value::Array(buffer)],
        &shared,
        &install,
    )
}

#[test]
fn a_secret_authenticated_only_by_its_tag_has_no_digest_outside_the_ta() {
    for v in VARIANTS.iter().filter(|v| v.content.is_aead()) {
        let mut s = provisioned();
        let (info, ciphertext) = encrypt_to_device(&mut s, v);
        let envelope = sign_with(&manifest_without_plaintext_digest(1, &info), AUTHOR_PRIV);
        install(&mut s, &envelope, &ciphertext)
            .unwrap_or_else(|e| panic!("{}: the tag authenticates the content: {e:?}", v.name));
        let secret_digest = suit_digest(SECRET);
        let sha = &secret_digest[secret_digest.len() - 32..];
        // Not in the status inventory...
        let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        let listed: Vec<_> = status
            .service
            .components
            .iter()
            .map(|c| c.digest.to_vec())
            .collect();
        assert!(!listed.is_empty(), "{}: the component is installed", v.name);
        assert!(
            !listed.iter().any(|d| d.as_slice() == sha),
            "{}: status shows the secret's SHA-256",
            v.name
        );
        // ...nor anywhere in the signed report with its device state.
        let report = signed_report(&mut s, b"fresh", false);
        assert!(report.is_success(), "{}", v.name);
        for (at, value) in report_values(&report) {
            assert!(
                !matches!(&value, RValue::Bytes(x) if x.windows(32).any(|w| w == sha)),
                "{}: {at} carries the secret's SHA-256",
                v.name
            );
        }
        // The signed device state still lists it, as status does: its size, no digest.
        let state = report.device_state.as_ref().expect("a device state");
        assert_eq!(state.components.len(), listed.len(), "{}", v.name);
        assert!(
            state
                .components
                .iter()
                .any(|c| c.digest.is_none() && c.size == SECRET.len() as u64),
            "{}: {state:?}",
            v.name
        );
    }
}

/// A later manifest copying installed `[app, secret]` into `[app, backup]`; with `content`,
/// the copy must match its digest (the manifest then names it, so the digest may be shown).
fn copy_to_backup(seq: u64, content: Option<&[u8]>) -> Vec<u8> {
    let shared = identity_checks(vec![int(12), int(0)]);
    copy_manifest(
        seq as i64,
        &COMPONENT,
        &[b"app", b"backup"],
        content,
        &shared,
    )
}

#[test]
fn a_copy_of_a_secret_whose_digest_is_withheld_is_withheld_too() {
    for v in VARIANTS.iter().filter(|v| v.content.is_aead()) {
        let mut s = provisioned();
        let (info, ciphertext) = encrypt_to_device(&mut s, v);
        let envelope = sign_with(&manifest_without_plaintext_digest(1, &info), AUTHOR_PRIV);
        install(&mut s, &envelope, &ciphertext).unwrap();
        let secret_digest = suit_digest(SECRET);
        let sha = &secret_digest[secret_digest.len() - 32..];
        let shows = |s: &mut Dev| {
            let status: StatusResponse = call(s, Command::Status, &Empty {}).unwrap();
            let components: Vec<Vec<u8>> = status
                .service
                .components
                .iter()
                .map(|c| c.digest.to_vec())
                .collect();
            let report = signed_report(s, b"fresh", false);
            assert!(report.is_success(), "{}", v.name);
            let in_report = report_values(&report)
                .into_iter()
                .any(|(_, x)| matches!(&x, RValue::Bytes(b) if b.windows(32).any(|w| w == sha)));
            (components, in_report)
        };

        // An A/B backup of the secret, by the same author, without naming its digest.
        install(
            &mut s,
            &sign_with(&copy_to_backup(2, None), AUTHOR_PRIV),
            &[],
        )
        .unwrap_or_else(|e| panic!("{}: the copy installs: {e:?}", v.name));
        let (listed, in_report) = shows(&mut s);
        assert_eq!(listed.len(), 2, "{}: secret and backup installed", v.name);
        assert!(
            !listed.iter().any(|d| d.as_slice() == sha) && !in_report,
            "{}: the copy publishes the secret's SHA-256 (status {listed:02x?})",
            v.name
        );

        // Control: a copy the manifest names by its digest repeats only what it signed.
        install(
            &mut s,
            &sign_with(&copy_to_backup(3, Some(SECRET)), AUTHOR_PRIV),
            &[],
        )
        .unwrap_or_else(|e| panic!("{}: the checked copy installs: {e:?}", v.name));
        let (listed, _) = shows(&mut s);
        assert!(
            listed.iter().any(|d| d.as_slice() == sha),
            "{}: the backup the manifest names by digest is listed",
            v.name
        );
    }
}

#[test]
fn an_authentic_manifest_that_does_not_decode_is_reported_with_its_digest() {
    // Signed by the device's author, but with a command this engine does not know: the
    // digest is authentic (the report draft: the same digest as in the envelope's
    // authentication wrapper), so the report names it; nothing else of the manifest.
    let mut s = provisioned();
    let shared = identity_checks(vec![int(12), int(0)]);
    let install_seq = Value::Array(vec![int(12), int(0), int(40), int(POLICY)]);
    let components = vec![Value::Array(COMPONENT.iter().map(|c| bytes(c)).collect())];
    let unknown = suit_manifest(7, components, &shared, &install_seq);
    let (_, refusal) = prepare(&mut s, &sign_with(&unknown, AUTHOR_PRIV)).unwrap_err();
    says(&refusal.reason, "unknown command");
    let report = signed_report(&mut s, b"n", false);
    assert_eq!(report.authenticated, Some(true));
    assert!(!report.is_success());
    let digest: [u8; 32] = Sha256::digest(cbor(&bytes(&unknown))).into();
    assert_eq!(report.manifest_digest, Some(digest));
    assert_eq!(report.sequence_number, None);
    assert!(report.entries.is_empty());
    // The same manifest signed by a stranger claims nothing, as before.
    let (_, _) = prepare(&mut s, &sign_with(&unknown, FORGER_PRIV)).unwrap_err();
    let pre = signed_report(&mut s, b"m", true);
    assert_eq!(
        (pre.authenticated, pre.manifest_digest),
        (Some(false), None)
    );
}

#[test]
fn a_long_reference_uri_is_reported_exactly_and_a_longer_one_refused() {
    // Pre-signed download URLs run past a few hundred bytes; the report draft requires the
    // report's URI to match the manifest's exactly.
    let with_uri = |seq: u64, uri: &str| {
        let m = manifest(seq, b"firmware", None, None);
        let mut v: Value = ciborium::from_reader(&m[..]).unwrap();
        if let Value::Map(entries) = &mut v {
            for (k, val) in entries.iter_mut() {
                if *k == int(4) {
                    *val = Value::Text(uri.into());
                }
            }
        }
        sign_with(&cbor(&v), AUTHOR_PRIV)
    };
    let mut s = provisioned();
    let long = format!("https://vendor.example/fw?sig={}", "a".repeat(1500));
    install(&mut s, &with_uri(1, &long), b"firmware").unwrap();
    let report = signed_report(&mut s, b"n", false);
    assert!(report.is_success());
    assert_eq!(report.manifest_uri.as_deref(), Some(long.as_str()));
    let longer = format!("https://vendor.example/fw?sig={}", "a".repeat(2048));
    let (_, refusal) = prepare(&mut s, &with_uri(2, &longer)).unwrap_err();
    says(&refusal.reason, "suit-reference-uri length");
}

#[test]
fn payload_uris_at_their_bound_fit_the_prepare_response_and_a_longer_one_is_refused() {
    // The prepare response lists every URI to fetch: the most payloads, each URI as long as
    // the engine accepts, fit; one byte more is refused when the manifest is decoded, so the
    // session is not prepared (no payload is taken).
    use suit_common::service::install::MAX_PAYLOADS;
    use suit_common::suit::command::MAX_PARAMETER_URI_LEN;
    let uri = |i: usize, len: usize| {
        let head = format!("https://vendor.example/{i}?sig=");
        format!("{head}{}", "a".repeat(len - head.len()))
    };
    let envelope = |seq: i64, len: usize| {
        let mut install = vec![int(12), int(0)];
        for i in 0..MAX_PAYLOADS {
            install.extend([
                int(20),
                suit_test_support::map(vec![(21, Value::Text(uri(i, len)))]),
            ]);
        }
        let m = suit_manifest(
            seq,
            vec![Value::Array(vec![bytes(b"app")])],
            &identity_checks(vec![int(12), int(0)]),
            &Value::Array(install),
        );
        sign_with(&m, AUTHOR_PRIV)
    };
    let mut s = provisioned();
    let r = prepare(&mut s, &envelope(1, MAX_PARAMETER_URI_LEN)).unwrap();
    assert_eq!(r.needed_uris.len(), MAX_PAYLOADS);
    assert!(r
        .needed_uris
        .iter()
        .all(|u| u.len() == MAX_PARAMETER_URI_LEN));
    let (_, refusal) = prepare(&mut s, &envelope(2, MAX_PARAMETER_URI_LEN + 1)).unwrap_err();
    says(&refusal.reason, "suit-parameter-uri length");
    let chunk = PayloadChunkRequest {
        uri: uri(0, MAX_PARAMETER_URI_LEN + 1),
        total_len: 1,
        offset: 0,
        data: ByteBuf::from(vec![0]),
    };
    let (_, refusal) = call::<_, Empty>(&mut s, Command::InstallPayload, &chunk).unwrap_err();
    says(&refusal.reason, "payload before prepare");
}

/// The fault a failure report carries, or `None` for a success.
fn failure_detail(report: &DecodedReport) -> Option<suit_common::fault::Fault> {
    match &report.result {
        suit_common::report::ReportResult::Failure(f) => f.detail.clone(),
        suit_common::report::ReportResult::Success => None,
    }
}

/// A refusal after authentication at prepare (too many payload URIs) or at a payload chunk
/// stores no engine report of its own: the report the TA signs next is that refusal's, never
/// the earlier install's success still bound to the same state generation.
#[test]
fn a_refusal_after_authentication_replaces_the_earlier_attempts_report() {
    use suit_common::fault::Fault;
    use suit_common::service::install::{InstallError, MAX_PAYLOADS};
    use suit_common::suit::words::Words;
    let installed = |s: &mut Dev| {
        let ok = sign_with(&manifest(1, b"firmware", None, None), AUTHOR_PRIV);
        install(s, &ok, b"firmware").unwrap();
        assert!(signed_report(s, b"n", false).is_success());
    };
    let refusal_reported = |s: &mut Dev, manifest: &[u8], seq: u64, e: InstallError| {
        let report = signed_report(s, b"n2", false);
        assert_eq!(report.authenticated, Some(true));
        assert_eq!(report.sequence_number, Some(seq));
        let digest: [u8; 32] = Sha256::digest(cbor(&bytes(manifest))).into();
        assert_eq!(report.manifest_digest, Some(digest));
        assert_eq!(failure_detail(&report), Some(Fault::Install(e)));
    };

    // Prepare: one URI more than the TA fetches.
    let mut cmds = vec![int(12), int(0)];
    for i in 0..=MAX_PAYLOADS {
        let uri = format!("https://vendor.example/{i}");
        cmds.extend([
            int(20),
            suit_test_support::map(vec![(21, Value::Text(uri))]),
            int(21),
            int(POLICY),
        ]);
    }
    let many = manifest(2, b"firmware", None, Some(Value::Array(cmds)));
    let mut s = provisioned();
    installed(&mut s);
    let (_, refusal) = prepare(&mut s, &sign_with(&many, AUTHOR_PRIV)).unwrap_err();
    says(&refusal.reason, "too many payload URIs");
    let too_many = InstallError::TooLarge(Words::TooManyPayloadUris);
    refusal_reported(&mut s, &many, 2, too_many);

    // Payload chunks: a URI the manifest does not fetch, and a payload over the authenticated
    // image size; each refusal's report replaces the one before.
    let next = manifest(2, b"firmware", None, None);
    let mut s = provisioned();
    installed(&mut s);
    prepare(&mut s, &sign_with(&next, AUTHOR_PRIV)).unwrap();
    let chunk = |uri: &str, total_len: u64| PayloadChunkRequest {
        uri: uri.into(),
        total_len,
        offset: 0,
        data: ByteBuf::from(vec![0]),
    };
    let other = chunk("https://vendor.example/other", 1);
    call::<_, Empty>(&mut s, Command::InstallPayload, &other).unwrap_err();
    refusal_reported(&mut s, &next, 2, InstallError::UnexpectedPayload);
    let over = chunk(URI, b"firmware".len() as u64 + 1);
    call::<_, Empty>(&mut s, Command::InstallPayload, &over).unwrap_err();
    let over_size = InstallError::TooLarge(Words::PayloadOverImageSize);
    refusal_reported(&mut s, &next, 2, over_size);
}

#[test]
fn the_engines_documented_limits_are_refused_by_name() {
    // CONFORMANCE.md lists each bound; a manifest past it is refused naming it.
    let mut s = provisioned();
    let shared = identity_checks;
    let one = || vec![Value::Array(vec![bytes(b"app")])];
    let abort = || Value::Array(vec![int(14), int(POLICY)]);
    let bstr_seq = |v: Vec<Value>| bytes(&cbor(&Value::Array(v)));
    // 17 components.
    let many: Vec<Value> = (0..17u8)
        .map(|i| Value::Array(vec![bytes(b"app"), bytes(&[i])]))
        .collect();
    let m1 = suit_manifest(
        1,
        many,
        &shared(vec![int(12), int(0)]),
        &Value::Array(vec![]),
    );
    // try-each with 9 options.
    let options: Vec<Value> = (0..9).map(|_| bytes(&cbor(&abort()))).collect();
    let try_each = Value::Array(vec![int(15), Value::Array(options)]);
    let m2 = suit_manifest(2, one(), &shared(vec![]), &try_each);
    // run-sequence nested 5 deep.
    let mut nested = vec![int(14), int(POLICY)];
    for _ in 0..5 {
        nested = vec![int(32), bstr_seq(nested)];
    }
    let m3 = suit_manifest(3, one(), &shared(vec![]), &Value::Array(nested));
    for (m, name) in [
        (m1, "components per manifest"),
        (m2, "try-each options"),
        (m3, "command sequence nesting"),
    ] {
        let (_, refusal) = prepare(&mut s, &sign_with(&m, AUTHOR_PRIV)).unwrap_err();
        says(&refusal.reason, name);
    }
}

#[test]
fn a_severed_member_no_signature_covers_is_refused_before_authentication() {
    // The manifest is authentic, but the REE adds a severed member it does not name, or
    // replaces one it names: bytes no signature covers. The refusal is a pre-authentication
    // one; the authenticated report is not about it (it must not blame the manifest for the
    // REE's bytes).
    let mut s = provisioned();
    let shared = Value::Array(check_vendor_class(
        vec![int(12), int(0)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        POLICY,
    ));
    let install_seq = Value::Array(vec![int(12), int(0)]);
    let components = vec![Value::Array(COMPONENT.iter().map(|c| bytes(c)).collect())];
    let plain = suit_manifest(7, components.clone(), &shared, &install_seq);
    // The same manifest naming a suit-text member by a digest of other bytes.
    let other_digest = ciborium::from_reader(&suit_digest(b"another text")[..]).unwrap();
    let names_text = with_manifest_member(&plain, 23, other_digest);
    let key: SigningKey = p256_private_from_pem(AUTHOR_PRIV);
    let signers = [Signer {
        key: &key,
        alg: Algorithm::Esp256,
        kid: b"",
    }];
    let text = cbor(&Value::Map(vec![]));
    let tampered: Vec<Vec<u8>> = [&plain, &names_text]
        .iter()
        .map(|m| seal_envelope(m, &signers, &[(23, &text)], &[]).unwrap())
        .collect();
    let authenticated_report = |s: &mut Dev| {
        let request = ReportRequest {
            nonce: Some(ByteBuf::from(b"n".to_vec())),
            pre_auth: false,
        };
        call::<_, ReportResponse>(s, Command::Report, &request).map(|r| r.report)
    };
    for envelope in &tampered {
        let (_, refusal) = prepare(&mut s, envelope).unwrap_err();
        says(&refusal.reason, "suit-text");
        let pre = signed_report(&mut s, b"n", true);
        assert_eq!(
            (pre.authenticated, pre.manifest_digest),
            (Some(false), None)
        );
        let (_, none) = authenticated_report(&mut s).unwrap_err();
        says(
            &none.reason,
            "no install attempt with an authenticated manifest",
        );
    }
    // After an authenticated attempt (an authentic manifest with a command this engine
    // lacks), the tampered envelopes leave its report as it was.
    let unknown_seq = Value::Array(vec![int(12), int(0), int(40), int(POLICY)]);
    let unknown = suit_manifest(7, components, &shared, &unknown_seq);
    prepare(&mut s, &sign_with(&unknown, AUTHOR_PRIV)).unwrap_err();
    let before = authenticated_report(&mut s).unwrap();
    let digest: [u8; 32] = Sha256::digest(cbor(&bytes(&unknown))).into();
    assert_eq!(
        signed_report(&mut s, b"n", false).manifest_digest,
        Some(digest)
    );
    for envelope in &tampered {
        prepare(&mut s, envelope).unwrap_err();
        assert_eq!(authenticated_report(&mut s).unwrap(), before);
    }
}

// ---------------------------------------------------------------------------------------
// Review s27, finding 5: a provisioning request costs no heap in proportion to it before the
// message is authenticated.

/// Relays `message` as a provisioning request; the refusal and the peak heap of the call.
fn measured_provision(s: &mut Dev, message: &[u8]) -> (Refused, usize) {
    let mut request = protocol::encode(&ProvisionRequest {
        message: ByteBuf::from(message.to_vec()),
    })
    .unwrap();
    let (reply, peak) =
        peak_heap(|| s.invoke(Command::Provision as u32, PROTOCOL_VERSION, &mut request));
    assert_ne!(reply.status, Status::Ok);
    let r = protocol::decode::<protocol::Refusal>(&reply.body, MAX_RESPONSE).unwrap();
    (Refused::of(&r), peak)
}

/// What a provisioning request may cost before authentication: the device's keys and state,
/// nothing of the message's size.
const PROVISION_PRE_AUTH_HEAP: usize = 16 * 1024;

#[test]
fn an_oversized_provisioning_message_is_refused_without_a_copy() {
    use suit_common::service::provision::MAX_MESSAGE;
    let mut s = provisioned();
    let message = cbor(&Value::Array(vec![
        Value::Bytes(vec![0x5a; MAX_REQUEST - MAX_MESSAGE]),
        Value::Null,
    ]));
    assert!(message.len() > 3 * MAX_MESSAGE && message.len() < MAX_REQUEST);
    let (r, peak) = measured_provision(&mut s, &message);
    says(&r.reason, "exceeds");
    assert!(peak <= PROVISION_PRE_AUTH_HEAP, "{peak} bytes of heap");
}

#[test]
fn a_provisioning_alg_no_tpa_key_takes_builds_no_signing_input() {
    // The root is a P-256 key and no TPA anchor exists: EdDSA and HSS-LMS signatures cannot
    // verify, so their signing input (a copy of the whole body) is never built.
    use suit_common::service::provision::MAX_MESSAGE;
    let mut s = provisioned();
    for alg in [Algorithm::EdDsa, Algorithm::HssLms] {
        let protected = cbor(&Value::Map(vec![(
            Value::from(1),
            Value::from(alg.cose_id()),
        )]));
        let auth = Value::Tag(
            18,
            Box::new(Value::Array(vec![
                Value::Bytes(protected),
                Value::Map(vec![]),
                Value::Null,
                Value::Bytes(vec![0; 64]),
            ])),
        );
        let message = cbor(&Value::Array(vec![
            Value::Bytes(vec![0x5a; MAX_MESSAGE - 256]),
            auth,
        ]));
        assert!(message.len() <= MAX_MESSAGE);
        let (r, peak) = measured_provision(&mut s, &message);
        says(&r.reason, "not signed by the TPA");
        assert!(
            peak <= PROVISION_PRE_AUTH_HEAP,
            "{alg:?}: {peak} bytes of heap"
        );
    }
}
