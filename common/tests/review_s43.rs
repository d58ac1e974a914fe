//! Review s43 (the TA's security rules, third round): pre-authentication work, the state
//! machine across commands and sessions, and error channels, as the normal world would probe
//! them; one low finding fixed (`ReeExport`'s refusal echoed the REE's path whole).
//!
//! A payload decrypted as it arrives is decrypted with the keys the state held at its first
//! chunk; the state may change before `InstallFinish` (the REE chooses when to relay a
//! provisioning message): `finish` must decide with the state it runs under.

use sha2::{Digest as _, Sha256};

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite, KeyWrap};
use suit_common::encryption::{encrypt_payload, CoseOptions, EncryptedPayload, Recipient};
use suit_common::protocol::{self, *};
use suit_common::service::install::is_install_object;
use suit_common::service::provision::Op;
use suit_common::service::state::{AnchorRecord, RoleRecord, Scope};
use suit_common::service::Service;
use suit_test_support::service::{
    bytes, call, cbor, cose_key, finish, identity, install_with as install, int, kek_op, objects,
    prepare, provision_message, refusal, scope_of, secrets_to, send_payload, service, state, Mem,
    Refused,
};
use suit_test_support::{
    digest_shared, fetch_and_decrypt, p256_private_from_pem, seal_one, suit_manifest,
    AUTHOR_PRIV as A_PRIV, AUTHOR_PUB as A_PUB, OPERATOR_PUB as B_PUB, TPA_PRIV,
};

use ciborium::Value;

const SECRET: &[u8] = b"tenant A's confidential payload, s43: token=0x5ec7e7";
const URI: &str = "https://a.example/s43.enc";
const KEK: &[u8; 16] = b"s43-tenant-a-kek";

fn provision(s: &mut Service<Mem>, counter: u64, ops: Vec<Op>) {
    let _: DeviceKeyResponse = call(s, Command::DeviceKey, &DeviceKeyRequest::default()).unwrap();
    let message = provision_message(s, counter, ops);
    suit_test_support::service::provision(s, &message).unwrap();
}

fn add_anchor(id: u32, key: &str, scope: Scope) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: cose_key(key),
        role: RoleRecord::Author,
        scope,
        key_scope: 0,
    })
}

fn a_scope(ree_plaintext: bool) -> Scope {
    scope_of(&[&[b"app-a"], &[b"ree"]], ree_plaintext)
}

/// Anchor 1 (tenant A: ['app-a'] and ['ree'], with `ree_plaintext`) and anchor 2 (tenant B:
/// ['app-b']); the KEK `kek-a` shared with anchor 1 alone. Three messages: counter 3 next.
fn device() -> Service<Mem> {
    let mut s = service(suit_test_support::service::backend(4));
    provision(
        &mut s,
        1,
        vec![
            add_anchor(1, A_PUB, a_scope(true)),
            add_anchor(2, B_PUB, scope_of(&[&[b"app-b"]], false)),
            identity(),
        ],
    );
    let to = secrets_to(&mut s);
    let a = cose_key(A_PUB);
    provision(
        &mut s,
        2,
        vec![kek_op(&to, TPA_PRIV, b"kek-a", &[(1, &a)], KEK)],
    );
    s
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// Anchor 1's own HPKE key.
    Hpke,
    /// Anchor 1's own ECDH-ES key (AES-CTR content: authenticated by the image digest only).
    EcdhCtr,
    /// The KEK shared with anchor 1.
    Kek,
}

fn encrypt_for_a(s: &mut Service<Mem>, key: Key) -> EncryptedPayload {
    encrypt_plain(s, key, SECRET)
}

fn segs(c: &[&[u8]]) -> Value {
    Value::Array(c.iter().map(|s| bytes(s)).collect())
}

/// Fetches `URI` into a buffer beside `component` and decrypts it into `component` with
/// `info` (the firmware-encryption draft's form, which the install decrypts as it arrives),
/// the plaintext's digest checked.
fn decrypting_manifest(seq: u64, component: &[&[u8]], info: &[u8]) -> Vec<u8> {
    let shared = digest_shared(0, &Sha256::digest(SECRET), SECRET.len(), 15);
    let mut buffer: Vec<&[u8]> = component.to_vec();
    buffer.push(b"encrypted");
    let install = Value::Array([fetch_and_decrypt(URI, info, 2), vec![int(3), int(15)]].concat());
    suit_manifest(
        seq as i64,
        vec![segs(component), segs(&buffer)],
        &shared,
        &install,
    )
}

fn sign(manifest: &[u8], signer: &str) -> Vec<u8> {
    let key: SigningKey = p256_private_from_pem(signer);
    seal_one(manifest, &key, Algorithm::Esp256, &[], &[])
}

fn export(s: &mut Service<Mem>, path: &str) -> Result<Vec<u8>, (Status, Refused)> {
    let r: ReeExportResponse = call(
        s,
        Command::ReeExport,
        &ReeExportRequest {
            path: path.into(),
            offset: 0,
        },
    )?;
    Ok(r.data.to_vec())
}

/// The install objects left holding anything (payloads, staged content).
fn install_objects(s: &Service<Mem>) -> Vec<String> {
    objects(s)
        .into_iter()
        .map(|(name, _, _)| name)
        .filter(|name| is_install_object(name))
        .collect()
}

const REE: &[&[u8]] = &[b"ree", b"a.conf"];
const SECURE: &[&[u8]] = &[b"app-a", b"secret"];

/// What the TPA changes between the payload's arrival and `finish`.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// Anchor 1 loses `ree_plaintext`.
    FlagRevoked,
    /// Anchor 1 is removed.
    AnchorRemoved,
    /// Anchor 1 is removed and added again under its id with its key: another anchor (new
    /// key scope, no KEK).
    AnchorReadded,
    /// Anchor 1's scope no longer covers ['app-a'].
    Rescoped,
    /// The KEK is removed.
    KekRemoved,
}

impl Change {
    fn ops(self) -> Vec<Vec<Op>> {
        match self {
            Change::FlagRevoked => vec![vec![Op::Rescope {
                id: 1,
                scope: a_scope(false),
            }]],
            Change::AnchorRemoved => vec![vec![Op::RemoveAnchor { id: 1 }]],
            Change::AnchorReadded => vec![
                vec![Op::RemoveAnchor { id: 1 }],
                vec![add_anchor(1, A_PUB, a_scope(true))],
            ],
            Change::Rescoped => vec![vec![Op::Rescope {
                id: 1,
                scope: scope_of(&[&[b"app-c"], &[b"ree"]], true),
            }]],
            Change::KekRemoved => vec![vec![Op::RemoveKek {
                kid: ByteBuf::from(b"kek-a".to_vec()),
            }]],
        }
    }
}

/// Attack (state machine across commands): the REE relays a provisioning message that takes
/// away what a payload was decrypted under after the payload arrived (decrypted as it came,
/// with the keys the state held then; or stored as received) and before `finish`. `finish`
/// decides with the state it runs under: refused, no component changes, nothing to export,
/// no staged plaintext left.
/// Without the change the same install goes through (the refusal is the change's).
#[test]
fn a_provisioning_message_between_a_streamed_payload_and_finish_is_honoured_at_finish() {
    let cases: &[(&[&[u8]], Key, Change)] = &[
        (REE, Key::Hpke, Change::FlagRevoked),
        (REE, Key::EcdhCtr, Change::FlagRevoked),
        (REE, Key::Hpke, Change::AnchorRemoved),
        (REE, Key::Kek, Change::AnchorReadded),
        (SECURE, Key::Hpke, Change::AnchorReadded),
        (SECURE, Key::EcdhCtr, Change::AnchorReadded),
        (SECURE, Key::Hpke, Change::Rescoped),
        (SECURE, Key::Kek, Change::KekRemoved),
        (REE, Key::Kek, Change::KekRemoved),
    ];
    for (&(target, key, change), streamed) in cases.iter().flat_map(|c| [(c, true), (c, false)]) {
        let when = format!("{target:?} {key:?} {change:?} streamed {streamed}");
        for changed in [false, true] {
            let mut s = device();
            s.store_payloads_as_received(!streamed);
            let e = encrypt_for_a(&mut s, key);
            let envelope = sign(&decrypting_manifest(1, target, &e.encryption_info), A_PRIV);
            let before = state(&s).components;
            let prepared = prepare(&mut s, &envelope).unwrap();
            assert_eq!(prepared.needed_uris, vec![URI.to_string()], "{when}");
            send_payload(&mut s, URI, e.ciphertext.len() as u64, &e.ciphertext).unwrap();
            if changed {
                for (i, ops) in change.ops().into_iter().enumerate() {
                    provision(&mut s, 3 + i as u64, ops);
                }
            }
            let done = finish(&mut s);
            if !changed {
                done.unwrap_or_else(|e| panic!("{when}: the install itself fails: {e:?}"));
                continue;
            }
            let r = refusal(done);
            assert_eq!(r.kind, RefusalKind::Manifest, "{when}: {r:?}");
            assert_eq!(state(&s).components, before, "{when}: a component changed");
            assert_eq!(install_objects(&s), Vec::<String>::new(), "{when}");
            if target == REE {
                assert_eq!(
                    refusal(export(&mut s, "a.conf")).kind,
                    RefusalKind::NotFound,
                    "{when}"
                );
            }
        }
    }
}

/// Error channels: a payload that does not authenticate (AES-GCM under anchor 1's HPKE key or
/// the KEK; AES-CTR under its ECDH-ES key, which only the image digest authenticates),
/// tampered so that it decrypts to different plaintexts, streamed or decrypted at finish,
/// into an REE file or a secure component: the refusal (kind and fault), the signed report
/// of it and the stored objects are the same whatever the plaintext.
#[test]
fn a_payload_that_does_not_authenticate_is_refused_alike_whatever_its_plaintext() {
    for key in [Key::Hpke, Key::Kek, Key::EcdhCtr] {
        for target in [REE, SECURE] {
            for streamed in [true, false] {
                let when = format!("{target:?} {key:?} streamed {streamed}");
                // One envelope for every delivery; each on a fresh device with the same keys.
                let e = encrypt_for_a(&mut device(), key);
                let envelope = sign(&decrypting_manifest(1, target, &e.encryption_info), A_PRIV);
                let mut answers = Vec::new();
                for tamper in 0..3 {
                    let mut s = device();
                    s.store_payloads_as_received(!streamed);
                    let mut c = e.ciphertext.clone();
                    match tamper {
                        // Flipped in the middle: another plaintext byte.
                        0 => c[SECRET.len() / 2] ^= 0x40,
                        // Flipped elsewhere: another plaintext byte, another place.
                        1 => c[3] ^= 0x01,
                        // Every byte flipped.
                        _ => c.iter_mut().for_each(|b| *b ^= 0xa5),
                    }
                    let before = objects(&s);
                    let r = refusal(install(&mut s, &envelope, &[(URI, &c)]));
                    assert_eq!(objects(&s), before, "{when}: tamper {tamper}");
                    let report: ReportResponse = call(
                        &mut s,
                        Command::Report,
                        &ReportRequest {
                            nonce: Some(ByteBuf::from(vec![7u8; 16])),
                            pre_auth: false,
                        },
                    )
                    .unwrap();
                    answers.push((r.kind, r.fault.clone(), report_body(&report.report)));
                }
                assert!(
                    answers.windows(2).all(|w| w[0] == w[1]),
                    "{when}: refusals differ by the plaintext: {answers:#?}"
                );
            }
        }
    }
}

/// The signed report's payload: what a status tracker reads (the nonce is the same here).
fn report_body(signed: &[u8]) -> Vec<u8> {
    let v: Value = ciborium::from_reader(signed).unwrap();
    let Value::Tag(_, inner) = v else {
        panic!("untagged report")
    };
    let Value::Array(parts) = *inner else {
        panic!("not a COSE_Sign1")
    };
    match &parts[2] {
        Value::Bytes(b) => b.clone(),
        other => panic!("payload {other:?}"),
    }
}

/// One release of the interleaving walk: its envelope, payload URI, and genuine and tampered
/// ciphertexts.
struct Delivery {
    envelope: Vec<u8>,
    uri: &'static str,
    ciphertext: Vec<u8>,
    tampered: Vec<u8>,
}

/// A manifest as [`decrypting_manifest`] with its own URI and plaintext.
fn decrypting_manifest_of(
    seq: u64,
    component: &[&[u8]],
    uri: &str,
    info: &[u8],
    plain: &[u8],
) -> Vec<u8> {
    let shared = digest_shared(0, &Sha256::digest(plain), plain.len(), 15);
    let mut buffer: Vec<&[u8]> = component.to_vec();
    buffer.push(b"encrypted");
    let install = Value::Array([fetch_and_decrypt(uri, info, 2), vec![int(3), int(15)]].concat());
    suit_manifest(
        seq as i64,
        vec![segs(component), segs(&buffer)],
        &shared,
        &install,
    )
}

const PLAIN_A: &[u8] = b"s43 walk: release A of a.conf (HPKE, A128GCM)";
const PLAIN_B: &[u8] = b"s43 walk: release B of a.conf, newer (ECDH-ES, A128CTR)";
const PLAIN_C: &[u8] = b"s43 walk: tenant A's secure component (KEK, A128GCM)";

fn deliveries(s: &mut Service<Mem>) -> Vec<Delivery> {
    /// Sequence number, component, URI, key and plaintext of one release.
    type Spec = (
        u64,
        &'static [&'static [u8]],
        &'static str,
        Key,
        &'static [u8],
    );
    let specs: [Spec; 3] = [
        (1, REE, "https://a.example/walk-a", Key::Hpke, PLAIN_A),
        (2, REE, "https://a.example/walk-b", Key::EcdhCtr, PLAIN_B),
        (3, SECURE, "https://a.example/walk-c", Key::Kek, PLAIN_C),
    ];
    let mut out = Vec::new();
    for (seq, component, uri, key, plain) in specs {
        let e = encrypt_plain(s, key, plain);
        let envelope = sign(
            &decrypting_manifest_of(seq, component, uri, &e.encryption_info, plain),
            A_PRIV,
        );
        let mut tampered = e.ciphertext.clone();
        tampered[plain.len() / 2] ^= 0x10;
        out.push(Delivery {
            envelope,
            uri,
            ciphertext: e.ciphertext,
            tampered,
        });
    }
    // A fourth: release A's envelope with one signature byte flipped (never authenticates).
    let mut forged = out[0].envelope.clone();
    let n = forged.len();
    forged[n - 5] ^= 1;
    out.push(Delivery {
        envelope: forged,
        uri: out[0].uri,
        ciphertext: out[0].ciphertext.clone(),
        tampered: out[0].tampered.clone(),
    });
    out
}

/// `plain` encrypted to anchor 1 as `key` says (as tenant A's author does).
fn encrypt_plain(s: &mut Service<Mem>, key: Key, plain: &[u8]) -> EncryptedPayload {
    let k: DeviceKeyResponse =
        call(s, Command::DeviceKey, &DeviceKeyRequest { anchor: Some(1) }).unwrap();
    let k = k.anchor.unwrap();
    let hpke = p256::PublicKey::from_sec1_bytes(&k.hpke_key).unwrap();
    let ecdh = p256::PublicKey::from_sec1_bytes(&k.ecdh_es_key).unwrap();
    let (recipient, content) = match key {
        Key::Hpke => (
            Recipient::Hpke {
                kid: Some(&k.hpke_kid),
                public_key: &hpke,
                suite: HpkeSuite::Hpke0,
                psk: None,
            },
            ContentAlgorithm::A128Gcm,
        ),
        Key::EcdhCtr => (
            Recipient::EcdhEs {
                kid: Some(&k.ecdh_es_kid),
                public_key: &ecdh,
                wrap: KeyWrap::A128Kw,
            },
            ContentAlgorithm::A128Ctr,
        ),
        Key::Kek => (
            Recipient::AesKw {
                kid: Some(b"kek-a"),
                kek: KEK,
            },
            ContentAlgorithm::A128Gcm,
        ),
    };
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    encrypt_payload(plain, content, &[recipient], &CoseOptions::SUIT, &mut rng).unwrap()
}

/// A small deterministic generator for the walk.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// What the state may hold for `component`: nothing, or one of the releases' plaintexts, by
/// digest, at its release's sequence number.
fn component_of(s: &Service<Mem>, component: &[&[u8]]) -> Option<(u64, Vec<u8>)> {
    let id: Vec<ByteBuf> = component
        .iter()
        .map(|c| ByteBuf::from(c.to_vec()))
        .collect();
    state(s)
        .components
        .into_iter()
        .find(|c| c.id == id)
        .map(|c| (c.sequence_number, c.digest.to_vec()))
}

/// Install objects holding anything that the state does not name.
fn stray_objects(s: &Service<Mem>) -> Vec<String> {
    let named: Vec<String> = state(s).components.into_iter().map(|c| c.object).collect();
    install_objects(s)
        .into_iter()
        .filter(|n| !named.contains(n))
        .collect()
}

/// Attack (state machine): the REE interleaves every command in any order (installs of three
/// releases and a forged envelope, genuine, tampered and half payloads, finishes, provisioning
/// messages revoking and restoring anchor 1's `ree_plaintext` and the KEK, reports, status,
/// exports, abandons, sessions closed and reopened). After every step: the state changes only
/// by a successful finish or provisioning message; each component holds nothing or exactly
/// one release's plaintext, never an older release after a newer one; an export answers only
/// the committed plaintext, and only while anchor 1 holds the flag; a finished, begun or
/// closed install leaves no staged object behind.
#[test]
fn any_interleaving_of_commands_leaves_the_state_old_or_new() {
    let (mut installed, mut exported) = (0, 0);
    for seed in 1..=6u64 {
        let mut rng = Lcg(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut s = device();
        let d = deliveries(&mut s);
        let to = secrets_to(&mut s);
        let a_key = cose_key(A_PUB);
        let mut counter = 3u64;
        let (mut flag, mut kek) = (true, true);
        let mut highest_ree = 0u64;
        // The release the last envelope sent was: payloads mostly follow it.
        let mut current = 0usize;
        let mut honest = 3usize;
        for step in 0..400 {
            let when = format!("seed {seed} step {step}");
            let before = state(&s);
            // Half the time the agent's next honest step for the current release (envelope,
            // prepare, payload, finish), else any command.
            let action = if rng.next(2) == 0 {
                honest = (honest + 1) % 4;
                [0, 3, 4, 8][honest]
            } else {
                rng.next(16)
            };
            let k = match rng.next(4) {
                0 => rng.next(d.len() as u64) as usize,
                _ => current,
            };
            let mut changed_ok = false;
            match action {
                0 | 1 => {
                    honest = 0;
                    current = rng.next(d.len() as u64) as usize;
                    let k = current;
                    let _ = suit_test_support::service::send_envelope(
                        &mut s,
                        &d[k].envelope,
                        16 * 1024,
                    );
                }
                2 => {
                    let _ = suit_test_support::service::begin(&mut s, 1 + rng.next(600));
                }
                3 => {
                    let _: Result<InstallPrepareResponse, _> =
                        call(&mut s, Command::InstallPrepare, &Empty {});
                }
                4 | 5 => {
                    let c = &d[k].ciphertext;
                    let _ = send_payload(&mut s, d[k].uri, c.len() as u64, c);
                }
                6 => {
                    let c = &d[k].tampered;
                    let _ = send_payload(&mut s, d[k].uri, c.len() as u64, c);
                }
                7 => {
                    let c = &d[k].ciphertext;
                    let half = c.len() / 2;
                    let offset = if rng.next(2) == 0 { 0 } else { half };
                    let end = if offset == 0 { half } else { c.len() };
                    let _ = suit_test_support::service::payload_chunk(
                        &mut s,
                        d[k].uri,
                        c.len() as u64,
                        offset as u64,
                        &c[offset..end],
                    );
                }
                8 | 9 => {
                    let r = finish(&mut s);
                    changed_ok = r.is_ok();
                    installed += usize::from(changed_ok);
                    assert_eq!(stray_objects(&s), Vec::<String>::new(), "{when}: finish");
                }
                10 => {
                    // The TPA's next message: toggle the flag or the KEK.
                    let ops = if rng.next(2) == 0 {
                        flag = !flag;
                        vec![Op::Rescope {
                            id: 1,
                            scope: a_scope(flag),
                        }]
                    } else if kek {
                        kek = false;
                        vec![Op::RemoveKek {
                            kid: ByteBuf::from(b"kek-a".to_vec()),
                        }]
                    } else {
                        kek = true;
                        vec![kek_op(&to, TPA_PRIV, b"kek-a", &[(1, &a_key)], KEK)]
                    };
                    let message = provision_message(&mut s, counter, ops);
                    match suit_test_support::service::provision(&mut s, &message) {
                        Ok(_) => {
                            counter += 1;
                            changed_ok = true;
                        }
                        Err(e) => panic!("{when}: provisioning refused: {e:?}"),
                    }
                }
                11 => {
                    let _: Result<ReportResponse, _> = call(
                        &mut s,
                        Command::Report,
                        &ReportRequest {
                            nonce: Some(ByteBuf::from(vec![1u8; 8])),
                            pre_auth: rng.next(2) == 0,
                        },
                    );
                }
                12 => {
                    let _: StatusResponse = call(&mut s, Command::Status, &Empty {})
                        .unwrap_or_else(|e| panic!("{when}: status {e:?}"));
                }
                13 => match export(&mut s, "a.conf") {
                    Ok(data) => {
                        let (_, digest) = component_of(&s, REE).expect("exported, not installed");
                        assert_eq!(Sha256::digest(&data).to_vec(), digest, "{when}");
                        assert!(flag, "{when}: exported while the flag is revoked");
                        exported += 1;
                    }
                    Err((_, r)) => assert!(
                        matches!(r.kind, RefusalKind::NotFound | RefusalKind::Access),
                        "{when}: {r:?}"
                    ),
                },
                14 => {
                    // The session ends (mid-install or not) and another one opens.
                    s.close();
                    assert_eq!(stray_objects(&s), Vec::<String>::new(), "{when}: close");
                    let mut b = suit_test_support::service::backend(4);
                    b.set_store(s.backend().store().clone());
                    s = service(b);
                }
                _ => {
                    let _: Result<Empty, _> = call(
                        &mut s,
                        Command::InstallAbandon,
                        &InstallAbandonRequest {
                            envelope: ByteBuf::from(vec![rng.next(256) as u8; 32]),
                        },
                    );
                }
            }
            let after = state(&s);
            if !changed_ok {
                assert_eq!(after, before, "{when}: action {action} changed the state");
            }
            for (component, plains) in [(REE, &[PLAIN_A, PLAIN_B][..]), (SECURE, &[PLAIN_C][..])] {
                if let Some((seq, digest)) = component_of(&s, component) {
                    assert!(
                        plains.iter().any(|p| Sha256::digest(p).to_vec() == digest),
                        "{when}: {component:?} holds something no release installs"
                    );
                    if component == REE {
                        assert!(seq >= highest_ree, "{when}: rolled back");
                        highest_ree = seq;
                    }
                }
            }
        }
    }
    // The walks reached the interesting states, not only refusals.
    assert!(
        installed >= 6 && exported >= 6,
        "{installed} installs, {exported} exports"
    );
}

/// Pre-authentication work: what each command allocates for a request the REE fills to
/// `MAX_REQUEST` with one field (or an unknown one) before anything authenticates it or its
/// own bound refuses it. The caller's copy of the memref is the TA's one copy in proportion
/// to the request; a decoder's copy of the field may be a second (`protocol::decode` takes
/// byte strings as `ByteBuf`); never more.
#[test]
fn every_command_allocates_at_most_one_copy_of_an_oversized_request_field() {
    use crate::attack_oracles::peak_heap;
    let mut s = device();
    let big = MAX_REQUEST - 64;
    let field = vec![0x41u8; big];
    let text: String = String::from_utf8(field.clone()).unwrap();
    let requests: Vec<(&str, Command, Vec<u8>)> = vec![
        (
            "report nonce",
            Command::Report,
            protocol::encode(&ReportRequest {
                nonce: Some(ByteBuf::from(field.clone())),
                pre_auth: false,
            })
            .unwrap(),
        ),
        (
            "export path",
            Command::ReeExport,
            protocol::encode(&ReeExportRequest {
                path: text.clone(),
                offset: 0,
            })
            .unwrap(),
        ),
        (
            "abandon envelope",
            Command::InstallAbandon,
            protocol::encode(&InstallAbandonRequest {
                envelope: ByteBuf::from(field.clone()),
            })
            .unwrap(),
        ),
        (
            "envelope chunk with no install",
            Command::InstallEnvelope,
            protocol::encode(&ChunkRequest {
                offset: 0,
                data: ByteBuf::from(field.clone()),
            })
            .unwrap(),
        ),
        (
            "payload chunk with no install",
            Command::InstallPayload,
            protocol::encode(&PayloadChunkRequest {
                uri: "https://a.example/x".into(),
                total_len: big as u64,
                offset: 0,
                data: ByteBuf::from(field.clone()),
            })
            .unwrap(),
        ),
        (
            "payload chunk's uri with no install",
            Command::InstallPayload,
            protocol::encode(&PayloadChunkRequest {
                uri: text.clone(),
                total_len: 1,
                offset: 0,
                data: ByteBuf::from(vec![0u8]),
            })
            .unwrap(),
        ),
        (
            "provisioning message",
            Command::Provision,
            protocol::encode(&ProvisionRequest {
                message: ByteBuf::from(field.clone()),
            })
            .unwrap(),
        ),
    ];
    // Requests without fields, carrying one unknown field of that size (decoders skip it).
    let unknown = cbor(&Value::Map(vec![(int(99), bytes(&field))]));
    let bare = [
        Command::Status,
        Command::Anchors,
        Command::DeviceKey,
        Command::InstallPrepare,
        Command::InstallFinish,
        Command::PersonalizationGet,
    ];
    let mut all = requests;
    for c in bare {
        all.push(("unknown field", c, unknown.clone()));
    }
    for (name, command, request) in all {
        assert!(request.len() <= MAX_REQUEST, "{name}: {}", request.len());
        let mut request = request;
        let (reply, peak) = peak_heap(|| s.invoke(command as u32, PROTOCOL_VERSION, &mut request));
        eprintln!("{command:?} {name}: status {:?}, peak {peak}", reply.status);
        // A request with fields is refused here (no install, no such file, too long a nonce,
        // no signature), and fits its refusal into the response.
        if name != "unknown field" {
            assert_eq!(reply.status, Status::Refused, "{command:?} {name}");
        }
        assert!(
            peak <= big + 64 * 1024,
            "{command:?} {name}: {peak} bytes for a {big}-byte field"
        );
    }
}

/// Fixed (low, review s43): `ReeExport` echoed the REE's path whole in its refusal. A path is
/// the REE's, up to `MAX_REQUEST` long: the refusal copied it three times (~780 KiB of heap for
/// a 260 KiB path, in a TA with 3 MiB that may hold an install's envelope and TA image) and
/// did not fit the response, so the agent got `ResponseTooLarge` instead of the refusal. A
/// path longer than a component identifier can hold names no component: refused `NotFound`
/// naming at most that much of it; a shorter one is named whole, as before.
#[test]
fn an_export_of_an_overlong_path_is_refused_with_a_bounded_answer() {
    use suit_common::fault::{Fault, ServiceFault};
    // The longest path a component names (review s43-rev: not `MAX_ID_LEN`, which leaves out
    // the `/` between segments).
    use suit_common::service::components::MAX_REE_PATH_LEN;
    let mut s = device();
    // Multi-byte characters: the prefix ends on a character boundary.
    for path in [
        "é".repeat(MAX_REQUEST / 2 - 64),
        "x/".repeat(MAX_REE_PATH_LEN),
    ] {
        let r = refusal(export(&mut s, &path));
        assert_eq!(r.kind, RefusalKind::NotFound, "{r:?}");
        let Some(Fault::Service(ServiceFault::NoReeComponent(named))) = &r.fault else {
            panic!("{r:?}")
        };
        assert!(named.len() <= MAX_REE_PATH_LEN && path.starts_with(named.as_str()));
        assert!(named.len() + 1 >= MAX_REE_PATH_LEN, "{}", named.len());
    }
    let r = refusal(export(&mut s, "etc/none.conf"));
    assert_eq!(
        r.fault,
        Some(Fault::Service(ServiceFault::NoReeComponent(
            "etc/none.conf".into()
        )))
    );
}

/// State machine: a commit awaiting its envelope (OP-TEE's TA store may hold either image)
/// and a provisioning message in between: refused, naming the awaited envelope, with the
/// state and the signer's counter unchanged; once the re-sent envelope ends the commit, the
/// same message applies (it was not spent).
#[test]
fn a_commit_awaiting_its_envelope_takes_no_provisioning_message_until_it_ends() {
    use crate::install_streaming::{awaiting_device, streamed_scenario, URI as STREAM_URI};
    use suit_common::fault::{Fault, ServiceFault};
    let sc = streamed_scenario(&[&suit_test_support::service::TA]);
    let mut s = awaiting_device(&sc);
    let before = state(&s);
    let message = provision_message(&mut s, before.root_counter() + 1, vec![identity()]);
    let r = refusal(suit_test_support::service::provision(&mut s, &message));
    assert_eq!(r.kind, RefusalKind::Storage, "{r:?}");
    assert!(
        matches!(
            &r.fault,
            Some(Fault::Service(ServiceFault::AwaitingEnvelope(d)))
                if d.as_slice() == Sha256::digest(&sc.env2).as_slice()
        ),
        "{r:?}"
    );
    assert_eq!(state(&s), before);
    install(&mut s, &sc.env2, &[(STREAM_URI, &sc.c2)]).unwrap();
    let committed = state(&s).root_counter();
    suit_test_support::service::provision(&mut s, &message).unwrap();
    assert_eq!(state(&s).root_counter(), committed + 1);
}
