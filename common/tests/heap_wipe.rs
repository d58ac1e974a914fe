//! Freed heap holds no secret: a global allocator scans every block freed while the engine
//! or the service runs for a marker that only decrypted or installed secret content carries,
//! or for a private key's in-memory bytes.
//! A `Vec` that grows frees its old block unwiped (`Zeroizing` wipes only the last one), so
//! this catches what reading the code for `zeroize` does not. Its own binary: the allocator
//! is process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use ciborium::Value;
use suit_common::cose::Algorithm;
use suit_common::protocol::{self, Command, PROTOCOL_VERSION};
use suit_common::service::{Client, Service};
use suit_common::suit::{ComponentId, Procedure};
use suit_test_support::service::*;
use suit_test_support::{
    fetch_and_decrypt, image_shared, p256_private_from_pem, seal_one, spec_id_checks, spec_process,
    suit_manifest, RecordingPlatform,
};

const MARKER: &[u8; 12] = b"\xa5ZEROIZE-ME\x5a";

// The shared scanning allocator (suit_test_support::heap): this thread's frees are searched
// while the code under test runs (other test threads' frees are not searched).
#[global_allocator]
static ALLOCATOR: suit_test_support::heap::TestAllocator =
    suit_test_support::heap::TestAllocator::scanning();

use suit_test_support::heap::scan_for;

/// [`scan_for`] the marker.
fn scanned<T>(f: impl FnOnce() -> T) -> (T, usize) {
    scan_for(vec![MARKER.to_vec()], f)
}

/// `len` bytes of the marker, repeated.
fn secret(len: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(len).collect()
}

/// suit-condition-check-content compares an installed component (a secret) with a value.
fn check_content_leaks(content_len: usize, value_len: usize) -> usize {
    let install = vec![
        int(12),
        int(1),
        int(20),
        suit_test_support::map(vec![(18, bytes(&vec![0u8; value_len]))]),
        int(6),
        int(15),
    ];
    let components = vec![
        Value::Array(vec![bytes(b"a")]),
        Value::Array(vec![bytes(b"b")]),
    ];
    let m = suit_manifest(
        1,
        components,
        &Value::Array(spec_id_checks()),
        &Value::Array(install),
    );
    let key = p256_private_from_pem(AUTHOR_PRIV);
    let env = seal_one(&m, &key, Algorithm::Esp256, &[], &[]);
    let mut dev = RecordingPlatform::spec_device();
    dev.installed
        .insert(ComponentId::new(&[b"b"]), secret(content_len));
    let (r, leaks) = scanned(|| spec_process(&env, Procedure::Update, &mut dev).map(|_| ()));
    assert!(r.is_err(), "the values differ: the condition fails");
    leaks
}

#[test]
fn check_content_frees_no_copy_of_the_component() {
    for (content, value) in [(300, 300), (600, 300), (5000, 300), (300, 5000)] {
        assert_eq!(
            check_content_leaks(content, value),
            0,
            "content {content} B, value {value} B"
        );
    }
}

const URI: &str = "https://vendor.example/perso.bin";

/// The service's reply to `request`, with the service's frees scanned.
fn invoke_scanned(s: &mut Service<Mem>, command: Command, request: &[u8]) -> (Vec<u8>, usize) {
    // A plain copy, as the TA's memref copy but without its `Zeroizing`: the service itself
    // must leave no plaintext in the request it decrypted in.
    let (reply, leaks) = scanned(|| {
        let mut copy = request.to_vec();
        s.invoke(command as u32, PROTOCOL_VERSION, &mut copy)
    });
    assert_eq!(
        reply.status as u32,
        0,
        "{command:?} refused: {}",
        String::from_utf8_lossy(&reply.body)
    );
    (reply.body.clone(), leaks)
}

/// What an encrypted delivery installs, and so which path it takes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// Personalization data for `TA`: stored as it comes, decrypted at finish, then fetched.
    Perso,
    /// A secure component: decrypted as it arrives, in the request's own buffer.
    Secure,
    /// A TA image: decrypted as it arrives, into the image kept in memory.
    TaImage,
}

/// An encrypted payload (see [`Cipher`]) for `kind`, sent
/// in `chunk`-byte pieces: the freed blocks that held plaintext, per command.
fn delivery_leaks(cipher: Cipher, kind: Target, len: usize, chunk: usize) -> Vec<(String, usize)> {
    deliver(&mut device(), 1, cipher, kind, len, chunk)
}

/// [`delivery_leaks`] on `s`, by a manifest of sequence number `seq` (a TA image of that
/// version).
fn deliver(
    s: &mut Service<Mem>,
    seq: u32,
    cipher: Cipher,
    kind: Target,
    len: usize,
    chunk: usize,
) -> Vec<(String, usize)> {
    let plaintext = match kind {
        Target::TaImage => ta_image_with_body(TA, seq, &secret(len)),
        _ => secret(len),
    };
    let (info, ciphertext) = encrypt(s, cipher, &plaintext);
    let install = Value::Array([fetch_and_decrypt(URI, &info, 15), vec![int(3), int(15)]].concat());
    let target: Vec<&[u8]> = match kind {
        Target::Perso => vec![&TA, b"perso"],
        Target::Secure => vec![b"app", b"blob"],
        Target::TaImage => vec![&TA],
    };
    let buffer = [&target[..], &[&b"encrypted"[..]]].concat();
    let components = [target.clone(), buffer]
        .iter()
        .map(|id| Value::Array(id.iter().map(|s| bytes(s)).collect()))
        .collect();
    let m = suit_manifest(
        seq.into(),
        components,
        &image_shared(&plaintext, 15),
        &install,
    );
    let key = p256_private_from_pem(AUTHOR_PRIV);
    let envelope = seal_one(&m, &key, Algorithm::Esp256, &[], &[]);

    let mut leaks = Vec::new();
    send_envelope(s, &envelope, 4096).unwrap();
    let prepared = protocol::encode(&protocol::Empty {}).unwrap();
    let (_, n) = invoke_scanned(s, Command::InstallPrepare, &prepared);
    leaks.push(("prepare".to_string(), n));
    let total = ciphertext.len() as u64;
    for (i, piece) in ciphertext.chunks(chunk).enumerate() {
        let request = protocol::encode(&protocol::PayloadChunkRequest {
            uri: URI.to_string(),
            offset: (i * chunk) as u64,
            total_len: total,
            data: protocol::ByteBuf::from(piece.to_vec()),
        })
        .unwrap();
        let (_, n) = invoke_scanned(s, Command::InstallPayload, &request);
        leaks.push((format!("payload chunk {i}"), n));
    }
    let empty = protocol::encode(&protocol::Empty {}).unwrap();
    let (_, n) = invoke_scanned(s, Command::InstallFinish, &empty);
    leaks.push(("finish".to_string(), n));
    if kind != Target::Perso {
        return leaks;
    }
    let caller = std::mem::replace(&mut s.backend_mut().client, Client::TrustedApp(TA));
    let (body, n) = invoke_scanned(s, Command::PersonalizationGet, &empty);
    leaks.push(("personalization".to_string(), n));
    assert!(
        body.windows(MARKER.len()).any(|w| w == MARKER),
        "the TA got its data"
    );
    s.backend_mut().client = caller;
    leaks
}

#[test]
fn an_encrypted_delivery_frees_no_plaintext() {
    deliveries_free_no_plaintext(&[(100, 64), (3000, 1000), (60_000, 16_384)]);
}

/// The same through the TA's segment layer, with payloads spanning several segments.
#[test]
fn an_encrypted_delivery_through_segments_frees_no_plaintext() {
    with_segments(96 * 1024, || {
        deliveries_free_no_plaintext(&[(100, 64), (60_000, 16_384), (250_000, 32_768)])
    });
}

/// Every kind of target and both ciphers, for each (payload length, chunk length).
fn deliveries_free_no_plaintext(cases: &[(usize, usize)]) {
    for kind in [Target::Perso, Target::Secure, Target::TaImage] {
        for cipher in [Cipher::Gcm, Cipher::Ctr] {
            for &(len, chunk) in cases {
                if kind == Target::Perso && len > 60_000 {
                    // Over the personalization limit (61,440 B).
                    continue;
                }
                let leaks = delivery_leaks(cipher, kind, len, chunk);
                let bad: Vec<_> = leaks.iter().filter(|(_, n)| *n > 0).collect();
                assert!(
                    bad.is_empty(),
                    "{kind:?}, {cipher:?}, {len} B in {chunk} B chunks: freed plaintext in {bad:?}"
                );
            }
        }
    }
}

/// An update of an installed component: the rollback check at commit compares the staged
/// digest with the installed one (it finished a clone of the boxed hash state by value,
/// freeing the clone's block with the last partial block of plaintext).
#[test]
fn updating_an_installed_component_frees_no_plaintext() {
    for kind in [Target::Perso, Target::Secure, Target::TaImage] {
        let mut s = device();
        for seq in [1, 2] {
            let leaks = deliver(&mut s, seq, Cipher::Gcm, kind, 100, 64);
            let bad: Vec<_> = leaks.iter().filter(|(_, n)| *n > 0).collect();
            assert!(
                bad.is_empty(),
                "{kind:?}, install {seq}: freed plaintext in {bad:?}"
            );
        }
    }
}

/// The in-memory bytes of `v` (the needle for a key type that keeps its scalar inline).
fn bytes_of<T>(v: &T) -> Vec<u8> {
    // SAFETY: reads the `size_of::<T>()` bytes of a live, borrowed value; only compared.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
        .to_vec()
}

/// A device key store that grows past its first allocation (one P-256 key, then KEKs):
/// each entry once lay inline in the old block.
#[test]
fn a_growing_key_store_frees_no_private_key() {
    let d = [0x11u8; 32];
    let needle = bytes_of(&p256::SecretKey::from_slice(&d).unwrap());
    let ((), hits) = scan_for(vec![needle], || {
        let mut keys = suit_common::encryption::MemoryKeys::new();
        keys.add_hpke_p256(Some(b"h"), &d).unwrap();
        for i in 0..8u8 {
            keys.add_kek(Some(&[i]), &[0x22; 16]).unwrap();
        }
    });
    assert_eq!(hits, 0, "freed blocks holding the P-256 scalar");
}

/// The service's key source for a manifest with three signer anchors: six P-256 keys.
#[test]
fn the_anchor_key_source_frees_no_anchor_key() {
    use suit_common::service::keys::{AnchorKeySource, DeviceKeyPair};
    use suit_common::service::state::{AnchorRecord, RoleRecord, Scope};
    use suit_common::suit::decrypt::KeySource as _;
    let mut env = suit_common::service::memory::MemoryBackend::new(1);
    let pair = DeviceKeyPair::load_or_create(&mut env).unwrap();
    let anchors: Vec<AnchorRecord> = (1..=3u8)
        .map(|id| AnchorRecord {
            id: id.into(),
            cose_key: protocol::ByteBuf::from(vec![id; 8]),
            role: RoleRecord::Author,
            // Keys are offered only to anchors whose scope covers the component.
            scope: Scope {
                component_prefixes: vec![vec![protocol::ByteBuf::from(b"app".to_vec())]],
                ..Scope::default()
            },
            key_scope: id.into(),
        })
        .collect();
    // Every 8-byte-aligned 32-byte window of anchor 1's keys: each scalar is one of them.
    let raw = bytes_of(&pair.keys_of(&anchors[0]).unwrap());
    let needles = (0..raw.len().saturating_sub(31))
        .step_by(8)
        .map(|i| raw[i..i + 32].to_vec())
        .filter(|w| w.iter().any(|b| *b != 0))
        .collect();
    let source = AnchorKeySource::new(&pair, &anchors, &[]);
    let ((), hits) = scan_for(needles, || {
        drop(source.keys_for(&[1, 2, 3], &ComponentId::new(&[&b"app"[..], &b"x"[..]])));
    });
    assert_eq!(hits, 0, "freed blocks holding anchor 1's private keys");
}

// Every secret class through whole commands, not only plaintext and P-256 scalars (review s37).

/// The HMAC anchor's secret (anchor 2) and the KEK for anchor 1 in the tests below.
const HMAC_SECRET: &[u8; 32] = b"\xc3HMAC-ANCHOR-SECRET-s37-review!\x3c";
const KEK: &[u8; 16] = b"\x96KEK-s37-review!";

/// The device's master secret, as stored in `suit/device-keys`.
fn stored_master_secret(s: &Service<Mem>) -> Vec<u8> {
    let raw = s
        .backend()
        .store()
        .raw(suit_common::service::keys::KEYS_OBJECT)
        .unwrap();
    let v: Value = ciborium::from_reader(&raw[..]).unwrap();
    fn find(v: &Value) -> Option<Vec<u8>> {
        match v {
            Value::Bytes(b) if b.len() == 32 => Some(b.clone()),
            Value::Map(m) => m.iter().find_map(|(_, v)| find(v)),
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    find(&v).expect("a 32-byte master secret in the key object")
}

/// A device with anchor 1 (author, TA and app), HMAC anchor 2 (app/mac) and KEK `k1` for
/// anchor 1.
fn device_with_hmac_anchor_and_kek() -> Service<Mem> {
    use suit_common::service::state::RoleRecord;
    use suit_test_support::symmetric_cose_key;
    let mut s = device();
    let to = secrets_to(&mut s);
    let mac = symmetric_cose_key(b"mac-2", HMAC_SECRET);
    let ops = vec![
        secret_anchor_op(&to, TPA_PRIV, 2, RoleRecord::Author, scope(&[b"mac"]), &mac),
        kek_op(&to, TPA_PRIV, b"k1", &[(1, &author_key())], KEK),
    ];
    let message = provision_message(&mut s, 2, ops);
    provision(&mut s, &message).unwrap();
    s
}

/// Runs one command with frees searched for `needles`; (status, body, freed blocks holding
/// one).
fn run_scanned(
    s: &mut Service<Mem>,
    needles: &[Vec<u8>],
    command: Command,
    request: &[u8],
) -> (u32, Vec<u8>, usize) {
    let (reply, hits) = scan_for(needles.to_vec(), || {
        let mut copy = request.to_vec();
        s.invoke(command as u32, PROTOCOL_VERSION, &mut copy)
    });
    (reply.status as u32, reply.body.clone(), hits)
}

/// Every 8-byte-aligned 16-byte window of `v`'s in-memory bytes that is not all zero.
fn nonzero_windows(raw: &[u8]) -> Vec<Vec<u8>> {
    (0..raw.len().saturating_sub(15))
        .step_by(8)
        .map(|i| raw[i..i + 16].to_vec())
        .filter(|w| w.iter().filter(|b| **b != 0).count() > 4)
        .collect()
}

#[test]
fn no_master_secret_hmac_secret_or_kek_in_freed_heap_or_replies() {
    let mut s = device_with_hmac_anchor_and_kek();
    let master = stored_master_secret(&s);
    // The key types keep their scalars inline: their in-memory bytes, as the tests above.
    let pair = suit_common::service::keys::DeviceKeyPair::load_or_create(s.backend_mut()).unwrap();
    let mut needles = vec![master.clone(), HMAC_SECRET.to_vec(), KEK.to_vec()];
    needles.extend(nonzero_windows(&bytes_of(pair.identity_secret())));
    needles.extend(nonzero_windows(&bytes_of(pair.provisioning_secret())));
    needles.extend(nonzero_windows(&bytes_of(pair.report_secret())));
    drop(pair);
    let empty = protocol::encode(&protocol::Empty {}).unwrap();
    let mut hits = Vec::new();
    let run = |s: &mut Service<Mem>,
               hits: &mut Vec<(String, u32, usize)>,
               name: &str,
               c: Command,
               r: &[u8]| {
        let (status, body, n) = run_scanned(s, &needles, c, r);
        // No output carries a secret either.
        for (i, x) in needles.iter().enumerate() {
            assert!(
                !body.windows(x.len()).any(|w| w == &x[..]),
                "{name}: needle {i} in the reply"
            );
        }
        // Every command succeeds, so each secret is really used on the way.
        assert_eq!(status, 0, "{name}: {}", refusal_words(&body));
        hits.push((name.to_string(), status, n));
    };
    run(&mut s, &mut hits, "status", Command::Status, &empty);
    run(&mut s, &mut hits, "anchors", Command::Anchors, &empty);
    for a in [None, Some(1), Some(2)] {
        let r = protocol::encode(&protocol::DeviceKeyRequest { anchor: a }).unwrap();
        run(
            &mut s,
            &mut hits,
            &format!("device-key {a:?}"),
            Command::DeviceKey,
            &r,
        );
    }
    // A KEK-wrapped GCM payload for anchor 1 into app/blob, delivered and installed.
    use suit_common::encryption::algorithms::ContentAlgorithm;
    use suit_common::encryption::{encrypt_payload, CoseOptions, Recipient};
    let plaintext = secret(3000);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let e = encrypt_payload(
        &plaintext,
        ContentAlgorithm::A128Gcm,
        &[Recipient::AesKw {
            kid: Some(b"k1"),
            kek: KEK,
        }],
        &CoseOptions::SUIT,
        &mut rng,
    )
    .unwrap();
    let install = Value::Array(
        [
            fetch_and_decrypt(URI, &e.encryption_info, 15),
            vec![int(3), int(15)],
        ]
        .concat(),
    );
    let components = [
        vec![&b"app"[..], b"blob"],
        vec![&b"app"[..], b"blob", b"encrypted"],
    ]
    .iter()
    .map(|id| Value::Array(id.iter().map(|s| bytes(s)).collect()))
    .collect();
    let m = suit_manifest(5, components, &image_shared(&plaintext, 15), &install);
    let envelope = seal_one(
        &m,
        &p256_private_from_pem(AUTHOR_PRIV),
        Algorithm::Esp256,
        &[],
        &[],
    );
    send_envelope(&mut s, &envelope, 4096).unwrap();
    run(
        &mut s,
        &mut hits,
        "prepare",
        Command::InstallPrepare,
        &empty,
    );
    let request = protocol::encode(&protocol::PayloadChunkRequest {
        uri: URI.to_string(),
        offset: 0,
        total_len: e.ciphertext.len() as u64,
        data: protocol::ByteBuf::from(e.ciphertext.clone()),
    })
    .unwrap();
    run(
        &mut s,
        &mut hits,
        "payload",
        Command::InstallPayload,
        &request,
    );
    run(&mut s, &mut hits, "finish", Command::InstallFinish, &empty);
    let r = protocol::encode(&protocol::ReportRequest {
        nonce: Some(protocol::ByteBuf::from(vec![1; 8])),
        pre_auth: false,
    })
    .unwrap();
    run(&mut s, &mut hits, "report", Command::Report, &r);
    // A second provisioning message (counter 3): a KEK for anchor 2 too, then removed.
    let to = secrets_to(&mut s);
    let mac = suit_test_support::symmetric_cose_key(b"mac-2", HMAC_SECRET);
    let message = provision_message(
        &mut s,
        3,
        vec![kek_op(
            &to,
            TPA_PRIV,
            b"k2",
            &[(2, &mac)],
            b"\x11another-kek-16b",
        )],
    );
    let r = protocol::encode(&protocol::ProvisionRequest {
        message: protocol::ByteBuf::from(message),
    })
    .unwrap();
    run(&mut s, &mut hits, "provision", Command::Provision, &r);
    // A manifest MAC'd by HMAC anchor 2, installing clear bytes into mac/x.
    {
        let image = b"mac'd content".to_vec();
        let install = Value::Array(
            [
                vec![int(12), int(0)],
                suit_test_support::fetch_and_check("#img", 2, 15),
            ]
            .concat(),
        );
        let m = suit_manifest(
            7,
            vec![Value::Array(vec![bytes(b"mac"), bytes(b"x")])],
            &image_shared(&image, 15),
            &install,
        );
        let key = suit_common::cose::SigningKey::hmac256(HMAC_SECRET).unwrap();
        let envelope = seal_one(&m, &key, Algorithm::Hmac256, &[], &[("#img", &image[..])]);
        let (reply, n) = scan_for(needles.clone(), || send_envelope(&mut s, &envelope, 4096));
        assert!(reply.is_ok(), "mac envelope: {reply:?}");
        hits.push(("mac envelope".into(), 0, n));
        let (status, body, n) = run_scanned(&mut s, &needles, Command::InstallPrepare, &empty);
        assert_eq!(status, 0, "mac prepare: {}", refusal_words(&body));
        hits.push(("mac prepare".into(), status, n));
        let (status, body, n) = run_scanned(&mut s, &needles, Command::InstallFinish, &empty);
        assert_eq!(status, 0, "mac finish: {}", refusal_words(&body));
        hits.push(("mac finish".into(), status, n));
    }
    s.close();
    // The scan works: a plain Vec holding the master, freed.
    let ((), n) = scan_for(needles.clone(), || {
        drop(std::hint::black_box(master.clone()))
    });
    assert_eq!(n, 1);
    let bad: Vec<_> = hits.iter().filter(|(_, _, n)| *n > 0).collect();
    assert!(
        bad.is_empty(),
        "freed blocks holding a secret: {bad:?} (all: {hits:?})"
    );
}

/// The words of a refusal's fault, for a failed assertion.
fn refusal_words(body: &[u8]) -> String {
    protocol::decode::<protocol::Refusal>(body, 1 << 20)
        .map(|r| suit_common::fault::render(&r.fault))
        .unwrap_or_default()
}

/// The one-shot `encryption::decrypt` (the host tools' and tests') frees no plaintext: the
/// decryptor's last block was appended to the first part's vector, whose growth freed the
/// first part unwiped (review s40).
#[test]
fn one_shot_decryption_frees_no_plaintext() {
    use suit_common::encryption::algorithms::ContentAlgorithm;
    use suit_common::encryption::keys::MemoryKeys;
    use suit_common::encryption::{decrypt, encrypt_payload, CoseOptions, Recipient};
    let kek = *b"heap-wipe-kek-16";
    let mut keys = MemoryKeys::new();
    keys.add_kek(Some(b"k"), &kek).unwrap();
    let plaintext = secret(5000);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    for content in [ContentAlgorithm::A128Gcm, ContentAlgorithm::A128Ctr] {
        let e = encrypt_payload(
            &plaintext,
            content,
            &[Recipient::AesKw {
                kid: Some(b"k"),
                kek: &kek,
            }],
            &CoseOptions::SUIT,
            &mut rng,
        )
        .unwrap();
        let (len, leaks) = scanned(|| {
            decrypt(
                &e.encryption_info,
                Some(&e.ciphertext),
                &keys,
                &CoseOptions::SUIT,
            )
            .map(|p| p.len())
        });
        assert_eq!(len.unwrap(), plaintext.len());
        assert_eq!(leaks, 0, "{content:?}: freed blocks held plaintext");
    }
}

/// How [`deliver_failing`] makes a delivery fail.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Failing {
    /// A ciphertext bit flipped in the first chunk (GCM: the tag fails at finish; CTR: the
    /// plaintext digest does not match).
    FirstByte,
    /// A ciphertext bit flipped in the last chunk (GCM: in the tag itself).
    LastByte,
    /// The last chunk never sent: finish meets an incomplete payload.
    Truncated,
    /// The session closes with the payload half delivered (the install is abandoned).
    Closed,
    /// A TA image, authentic, naming another TA's UUID: refused at commit.
    OtherTa,
}

/// An encrypted delivery to `kind` that fails as `failing` says, sent in `chunk`-byte
/// pieces: per command, its status and the freed blocks that held plaintext (every command
/// runs scanned, the session's close too).
fn deliver_failing(
    cipher: Cipher,
    kind: Target,
    len: usize,
    chunk: usize,
    failing: Failing,
) -> Vec<(String, u32, usize)> {
    let mut s = device();
    let plaintext = match kind {
        Target::TaImage if failing == Failing::OtherTa => {
            ta_image_with_body([0x77; 16], 1, &secret(len))
        }
        Target::TaImage => ta_image_with_body(TA, 1, &secret(len)),
        _ => secret(len),
    };
    let (info, mut ciphertext) = encrypt(&mut s, cipher, &plaintext);
    let install = Value::Array([fetch_and_decrypt(URI, &info, 15), vec![int(3), int(15)]].concat());
    let target: Vec<&[u8]> = match kind {
        Target::Perso => vec![&TA, b"perso"],
        Target::Secure => vec![b"app", b"blob"],
        Target::TaImage => vec![&TA],
    };
    let buffer = [&target[..], &[&b"encrypted"[..]]].concat();
    let components = [target.clone(), buffer]
        .iter()
        .map(|id| Value::Array(id.iter().map(|s| bytes(s)).collect()))
        .collect();
    let m = suit_manifest(1, components, &image_shared(&plaintext, 15), &install);
    let key = p256_private_from_pem(AUTHOR_PRIV);
    let envelope = seal_one(&m, &key, Algorithm::Esp256, &[], &[]);
    let total = ciphertext.len() as u64;
    let last = ciphertext.len() - 1;
    match failing {
        Failing::FirstByte => ciphertext[0] ^= 1,
        Failing::LastByte => ciphertext[last] ^= 1,
        _ => {}
    }
    let scanned_invoke = |s: &mut Service<Mem>, command: Command, request: &[u8]| {
        let (reply, n) = scanned(|| {
            let mut copy = request.to_vec();
            s.invoke(command as u32, PROTOCOL_VERSION, &mut copy)
        });
        (reply.status as u32, n)
    };
    let mut leaks = Vec::new();
    send_envelope(&mut s, &envelope, 4096).unwrap();
    let empty = protocol::encode(&protocol::Empty {}).unwrap();
    let (status, n) = scanned_invoke(&mut s, Command::InstallPrepare, &empty);
    leaks.push(("prepare".to_string(), status, n));
    let pieces: Vec<&[u8]> = ciphertext.chunks(chunk).collect();
    let sent = match failing {
        Failing::Truncated | Failing::Closed => pieces.len().saturating_sub(1).max(1),
        _ => pieces.len(),
    };
    for (i, piece) in pieces.iter().take(sent).enumerate() {
        let request = protocol::encode(&protocol::PayloadChunkRequest {
            uri: URI.to_string(),
            offset: (i * chunk) as u64,
            total_len: total,
            data: protocol::ByteBuf::from(piece.to_vec()),
        })
        .unwrap();
        let (status, n) = scanned_invoke(&mut s, Command::InstallPayload, &request);
        leaks.push((format!("payload chunk {i}"), status, n));
    }
    if failing != Failing::Closed {
        let (status, n) = scanned_invoke(&mut s, Command::InstallFinish, &empty);
        assert_ne!(
            status, 0,
            "{kind:?}, {cipher:?}, {failing:?}: finish must refuse"
        );
        leaks.push(("finish".to_string(), status, n));
    }
    let ((), n) = scanned(|| s.close());
    leaks.push(("close".to_string(), 0, n));
    leaks
}

/// Review s41: the deliveries above succeed; these fail (a tampered or truncated ciphertext,
/// GCM and CTR, the session closed mid-payload, an authentic TA image refused at commit), and
/// no refusal path, abandonment or close frees a block holding plaintext either.
#[test]
fn a_failed_delivery_frees_no_plaintext() {
    let mut bad = Vec::new();
    for kind in [Target::Perso, Target::Secure, Target::TaImage] {
        for cipher in [Cipher::Gcm, Cipher::Ctr] {
            for failing in [
                Failing::FirstByte,
                Failing::LastByte,
                Failing::Truncated,
                Failing::Closed,
                Failing::OtherTa,
            ] {
                if failing == Failing::OtherTa && kind != Target::TaImage {
                    continue;
                }
                for (len, chunk) in [(100, 64), (3000, 1000)] {
                    let leaks = deliver_failing(cipher, kind, len, chunk, failing);
                    if leaks.iter().any(|(_, _, n)| *n > 0) {
                        bad.push(format!(
                            "{kind:?}, {cipher:?}, {failing:?}, {len}/{chunk}: {leaks:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "freed plaintext:\n{}", bad.join("\n"));
}

/// Review s41 (low): the tags the TA stores after a report (a PRF of the device's master
/// secret, `DeviceKeyPair::stored_report_tag`) were appended to the encoded report one after
/// the other; when the buffer's spare room held one tag but not two, the second append moved
/// the buffer and freed the block holding the first tag unwiped. Refused installs whose
/// reports span a range of lengths store each report twice (a refusal leaves the state, so
/// the second report and its tags are the first's): the second storing, scanned for both
/// tags, frees neither.
#[test]
fn a_stored_reports_tags_are_never_freed_unwiped() {
    let mut found = Vec::new();
    // Component names of 1 to 127 bytes: reports from below to above the encoder's 256-byte
    // buffer (before the fix, the 16 report lengths from 193 to 224 bytes freed a tag).
    for pad in 0usize..64 {
        let name = vec![b'b'; 1 + pad * 2];
        let mut s = device();
        let (info, mut ciphertext) = encrypt(&mut s, Cipher::Gcm, &secret(100));
        // The tag fails at finish: refused, and reported.
        ciphertext[0] ^= 1;
        let install =
            Value::Array([fetch_and_decrypt(URI, &info, 15), vec![int(3), int(15)]].concat());
        let components = [
            vec![&b"app"[..], &name[..]],
            vec![&b"app"[..], &name[..], b"e"],
        ]
        .iter()
        .map(|id| Value::Array(id.iter().map(|s| bytes(s)).collect()))
        .collect();
        let m = suit_manifest(1, components, &image_shared(&secret(100), 15), &install);
        let key = p256_private_from_pem(AUTHOR_PRIV);
        let envelope = seal_one(&m, &key, Algorithm::Esp256, &[], &[]);
        let empty = protocol::encode(&protocol::Empty {}).unwrap();
        let chunk = protocol::encode(&protocol::PayloadChunkRequest {
            uri: URI.to_string(),
            offset: 0,
            total_len: ciphertext.len() as u64,
            data: protocol::ByteBuf::from(ciphertext),
        })
        .unwrap();
        let attempt = |s: &mut Service<Mem>, needles: &[Vec<u8>]| -> Vec<(Command, usize)> {
            send_envelope(s, &envelope, 4096).unwrap();
            let mut hits = Vec::new();
            for (command, request) in [
                (Command::InstallPrepare, &empty),
                (Command::InstallPayload, &chunk),
                (Command::InstallFinish, &empty),
            ] {
                let (_, _, n) = run_scanned(s, needles, command, request);
                hits.push((command, n));
            }
            hits
        };
        attempt(&mut s, &[]);
        let stored = |s: &Service<Mem>| {
            s.backend()
                .store()
                .raw(suit_common::service::REPORT_OBJECT)
                .unwrap()
        };
        let first = stored(&s);
        let trailer = first.len() - suit_common::service::STORED_REPORT_TRAILER_LEN;
        let tags = [
            first[trailer..trailer + 32].to_vec(),
            first[trailer + 32..].to_vec(),
        ];
        let hits = attempt(&mut s, &tags);
        assert_eq!(stored(&s), first, "the same report and tags, stored again");
        if hits.iter().any(|(_, n)| *n > 0) {
            found.push(format!("report of {trailer} B: {hits:?}"));
        }
    }
    assert!(
        found.is_empty(),
        "freed blocks holding a tag:\n{}",
        found.join("\n")
    );
}

/// Review s41: a provisioning message that adds an HMAC anchor and KEKs (of both sizes, so
/// the KEK list grows past its first blocks) frees no block holding one of the new secrets,
/// nor do the commands that load them afterwards (the scan above starts after they were
/// added, and its second message's KEK is no needle).
#[test]
fn provisioning_frees_no_secret_it_adds() {
    use suit_common::service::state::RoleRecord;
    use suit_test_support::symmetric_cose_key;
    let mut found = Vec::new();
    for count in 0..6usize {
        let mut s = device();
        let to = secrets_to(&mut s);
        let hmac: Vec<u8> = (0..32u8)
            .map(|i| i.wrapping_mul(7).wrapping_add(0x41 + count as u8))
            .collect();
        let keks: Vec<Vec<u8>> = (0..count)
            .map(|k| {
                let len = if k % 2 == 0 { 16u8 } else { 32 };
                let base = 0x90 + (count * 8 + k) as u8;
                (0..len)
                    .map(|i| i.wrapping_mul(13).wrapping_add(base))
                    .collect()
            })
            .collect();
        let mac = symmetric_cose_key(b"mac-2", &hmac);
        let mut ops = vec![secret_anchor_op(
            &to,
            TPA_PRIV,
            2,
            RoleRecord::Author,
            scope(&[b"mac"]),
            &mac,
        )];
        for (k, kek) in keks.iter().enumerate() {
            let kid = format!("k{k}");
            ops.push(kek_op(
                &to,
                TPA_PRIV,
                kid.as_bytes(),
                &[(1, &author_key())],
                kek,
            ));
        }
        let message = provision_message(&mut s, 2, ops);
        let request = protocol::encode(&protocol::ProvisionRequest {
            message: protocol::ByteBuf::from(message),
        })
        .unwrap();
        let mut needles = keks.clone();
        needles.push(hmac.clone());
        let empty = protocol::encode(&protocol::Empty {}).unwrap();
        let key_of_2 = protocol::encode(&protocol::DeviceKeyRequest { anchor: Some(2) }).unwrap();
        let mut hits = Vec::new();
        for (command, request) in [
            (Command::Provision, &request),
            (Command::Status, &empty),
            (Command::Anchors, &empty),
            (Command::DeviceKey, &key_of_2),
        ] {
            let (status, body, n) = run_scanned(&mut s, &needles, command, request);
            assert_eq!(status, 0, "{command:?}: {}", refusal_words(&body));
            hits.push((format!("{command:?}"), n));
        }
        let ((), n) = scan_for(needles.clone(), || s.close());
        hits.push(("close".into(), n));
        if hits.iter().any(|(_, n)| *n > 0) {
            found.push(format!("{count} KEKs: {hits:?}"));
        }
    }
    assert!(
        found.is_empty(),
        "freed blocks holding a new secret:\n{}",
        found.join("\n")
    );
}

/// Review s41: creating the device's keys (the first command of a new device) and its first
/// provisioning free no block holding the master secret or a device-wide private key, with
/// and without the segment layer (whose record cache keeps the key object for the session).
/// The memory backend's RNG is seeded: a second device of the same seed has the same keys.
#[test]
fn creating_the_device_keys_frees_no_secret() {
    let master = {
        let mut s = service(backend(0));
        let _: protocol::DeviceKeyResponse =
            call(&mut s, Command::DeviceKey, &protocol::Empty {}).unwrap();
        stored_master_secret(&s)
    };
    for segments in [None, Some(96 * 1024u64)] {
        let run = || {
            let mut needles = vec![master.clone()];
            {
                let mut b = backend(0);
                let pair =
                    suit_common::service::keys::DeviceKeyPair::load_or_create(&mut b).unwrap();
                needles.extend(nonzero_windows(&bytes_of(pair.identity_secret())));
                needles.extend(nonzero_windows(&bytes_of(pair.provisioning_secret())));
                needles.extend(nonzero_windows(&bytes_of(pair.report_secret())));
            }
            let mut s = service(backend(0));
            let empty = protocol::encode(&protocol::Empty {}).unwrap();
            let mut hits = Vec::new();
            for command in [Command::DeviceKey, Command::Status] {
                let (status, _, n) = run_scanned(&mut s, &needles, command, &empty);
                hits.push((format!("{command:?}"), status, n));
            }
            let message = provision_message(
                &mut s,
                1,
                vec![author_anchor(1, &[&TA[..], b"app"]), identity()],
            );
            let request = protocol::encode(&protocol::ProvisionRequest {
                message: protocol::ByteBuf::from(message),
            })
            .unwrap();
            let (status, _, n) = run_scanned(&mut s, &needles, Command::Provision, &request);
            hits.push(("provision".into(), status, n));
            let ((), n) = scan_for(needles.clone(), || s.close());
            hits.push(("close".into(), 0, n));
            assert_eq!(
                stored_master_secret(&s),
                master,
                "the same seed, the same keys"
            );
            hits
        };
        let hits = match segments {
            Some(len) => with_segments(len, run),
            None => run(),
        };
        assert!(
            hits.iter().all(|(_, status, n)| *status == 0 && *n == 0),
            "segments {segments:?}: {hits:?}"
        );
    }
}

/// Review s41: the content-encryption key of a delivered payload (recovered by the test with
/// the KEK or the anchor key it was wrapped to) is in no block freed while the install runs,
/// through the streamed path and the path that stores the ciphertext and decrypts at finish:
/// AES-KW, ECDH-ES+A128KW and HPKE recipients; A128GCM, A256GCM and A128CTR.
#[test]
fn a_deliverys_content_key_is_never_freed_unwiped() {
    use suit_common::encryption::algorithms::ContentAlgorithm;
    use suit_common::encryption::{
        encrypt_payload, unwrap_content_key, CoseOptions, MemoryKeys, Recipient,
    };
    let mut bad = Vec::new();
    let cases = [
        (Some(ContentAlgorithm::A128Gcm), None),
        (Some(ContentAlgorithm::A256Gcm), None),
        (Some(ContentAlgorithm::A128Ctr), None),
        (None, Some(Cipher::Gcm)),
        (None, Some(Cipher::Ctr)),
    ];
    for (kek_wrapped, to_anchor) in cases {
        for (len, chunk, streamed) in [(3000usize, 1000usize, true), (3000, 1000, false)] {
            let mut s = device_with_hmac_anchor_and_kek();
            s.store_payloads_as_received(!streamed);
            let plaintext = secret(len);
            let (info, ciphertext, keys) = match (kek_wrapped, to_anchor) {
                (Some(alg), _) => {
                    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
                    let recipient = Recipient::AesKw {
                        kid: Some(b"k1"),
                        kek: KEK,
                    };
                    let e = encrypt_payload(
                        &plaintext,
                        alg,
                        &[recipient],
                        &CoseOptions::SUIT,
                        &mut rng,
                    )
                    .unwrap();
                    let mut keys = MemoryKeys::new();
                    keys.add_kek(Some(b"k1"), KEK).unwrap();
                    (e.encryption_info, e.ciphertext, keys)
                }
                (None, Some(cipher)) => {
                    let (info, ciphertext) = encrypt(&mut s, cipher, &plaintext);
                    let state = suit_common::service::state::State::load(s.backend()).unwrap();
                    let pair =
                        suit_common::service::keys::DeviceKeyPair::load_or_create(s.backend_mut())
                            .unwrap();
                    let anchor = state.anchors.iter().find(|a| a.id == 1).unwrap();
                    (
                        info,
                        ciphertext,
                        pair.keys_of(anchor).unwrap().memory_keys(),
                    )
                }
                (None, None) => unreachable!(),
            };
            let (_, cek) = unwrap_content_key(&info, &keys, &CoseOptions::SUIT).unwrap();
            let needles = vec![cek.as_bytes().to_vec()];
            drop((cek, keys));
            let install =
                Value::Array([fetch_and_decrypt(URI, &info, 15), vec![int(3), int(15)]].concat());
            let components = [
                vec![&b"app"[..], b"blob"],
                vec![&b"app"[..], b"blob", b"encrypted"],
            ]
            .iter()
            .map(|id| Value::Array(id.iter().map(|s| bytes(s)).collect()))
            .collect();
            let m = suit_manifest(5, components, &image_shared(&plaintext, 15), &install);
            let key = p256_private_from_pem(AUTHOR_PRIV);
            let envelope = seal_one(&m, &key, Algorithm::Esp256, &[], &[]);
            send_envelope(&mut s, &envelope, 4096).unwrap();
            let empty = protocol::encode(&protocol::Empty {}).unwrap();
            let mut hits = Vec::new();
            let (status, _, n) = run_scanned(&mut s, &needles, Command::InstallPrepare, &empty);
            hits.push(("prepare".to_string(), status, n));
            for (i, piece) in ciphertext.chunks(chunk).enumerate() {
                let request = protocol::encode(&protocol::PayloadChunkRequest {
                    uri: URI.to_string(),
                    offset: (i * chunk) as u64,
                    total_len: ciphertext.len() as u64,
                    data: protocol::ByteBuf::from(piece.to_vec()),
                })
                .unwrap();
                let (status, _, n) =
                    run_scanned(&mut s, &needles, Command::InstallPayload, &request);
                hits.push((format!("payload chunk {i}"), status, n));
            }
            let (status, _, n) = run_scanned(&mut s, &needles, Command::InstallFinish, &empty);
            hits.push(("finish".to_string(), status, n));
            let ((), n) = scan_for(needles.clone(), || s.close());
            hits.push(("close".into(), 0, n));
            if hits.iter().any(|(_, status, n)| *status != 0 || *n > 0) {
                bad.push(format!(
                    "{kek_wrapped:?} {to_anchor:?}, streamed {streamed}: {hits:?}"
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// How often `needle` occurs in the dead stack below the caller's frame (64 KiB of it, less
/// this function's own frame).
#[inline(never)]
fn dead_stack_hits(needle: &[u8]) -> usize {
    const DEPTH: usize = 64 * 1024;
    let here = 0u8;
    let top = (std::ptr::addr_of!(here) as usize).saturating_sub(256);
    let bytes: Vec<u8> = (top - DEPTH..top)
        // SAFETY: the thread's stack below this frame: mapped (test threads get 2 MiB and
        // this runs a few frames deep), not an object of this program any more, and written
        // by nothing while read (the reads are volatile, the collected copy is on the heap).
        .map(|a| unsafe { std::ptr::read_volatile(a as *const u8) })
        .collect();
    bytes.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Runs `f` 8 KiB below the caller's frame, so that what it leaves lies where
/// [`dead_stack_hits`], called from there too, looks (not in its own frame).
#[inline(never)]
fn deep<T>(f: impl FnOnce() -> T) -> T {
    let mut pad = [0u8; 8 * 1024];
    std::hint::black_box(&mut pad);
    let r = inner(f);
    std::hint::black_box(&mut pad);
    return r;
    #[inline(never)]
    fn inner<T>(f: impl FnOnce() -> T) -> T {
        f()
    }
}

/// Digests of content taken without leaving a hash state on the stack (session 43).
/// The release-build failures of the deliveries above: a by-value copy of the stream's hash
/// state (with up to a block of plaintext in its buffer), taken when the engine's copy
/// directive took over the streamed TA image, lay dead in the platform's frame, and a `None`
/// built later in the same stack slot took 16 bytes of it into a `Vec<Staged>` block.
/// `digests::sha256_so_far` finishes its copy in a frame of its own and wipes that; the
/// positive control shows the scan sees such a copy when it stays.
#[test]
fn digests_of_content_leave_no_hash_state_on_the_stack() {
    use sha2::{Digest as _, Sha256};
    use suit_common::service::digests::{sha256, sha256_so_far};
    #[inline(never)]
    fn unwiped(h: &Sha256) -> [u8; 32] {
        Sha256::clone(h).finalize().into()
    }
    let content = secret(64 + 40);
    let mut h = Box::new(Sha256::new());
    // One block compressed, 40 bytes (two whole markers) kept in the boxed state's buffer.
    h.update(&content);
    zeroize::zeroize_stack::<{ 64 * 1024 }>();
    assert_eq!(dead_stack_hits(MARKER), 0, "a clean start");
    let control = std::hint::black_box(deep(|| unwiped(&h)));
    assert!(
        dead_stack_hits(MARKER) > 0,
        "the scan sees a copy left unwiped"
    );
    zeroize::zeroize_stack::<{ 64 * 1024 }>();
    let digest = std::hint::black_box(deep(|| sha256_so_far(&h)));
    assert_eq!(digest, control);
    assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&content)));
    assert_eq!(
        dead_stack_hits(MARKER),
        0,
        "a copy of the state left on the stack"
    );
    // The one-call digest of content: its state holds the last partial block.
    let digest = std::hint::black_box(deep(|| sha256(&content)));
    assert_eq!(digest, control);
    assert_eq!(
        dead_stack_hits(MARKER),
        0,
        "sha256 left its state on the stack"
    );
}
