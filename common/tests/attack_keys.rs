//! Key isolation attacks on the TA's service (in-memory backend, over the wire protocol).
//!
//! The attacker holds one tenant's signing key (anchor B) and everything the normal world
//! sees, including tenant A's published manifests, encryption info and ciphertexts. Each test
//! names the attack it proves refused; a refused install changes no stored object.

use ciborium::Value;
use sha2::{Digest as _, Sha256};
use suit_common::protocol::ByteBuf;
use suit_test_support::service::Refused;

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite, KeyWrap};
use suit_common::encryption::{encrypt_payload, CoseOptions, EncryptedPayload, Recipient};
use suit_common::protocol::*;
use suit_common::service::memory::MemoryBackend;
use suit_common::service::provision::Op;
use suit_common::service::state::{AnchorRecord, RoleRecord, Scope};
use suit_common::service::statement::{self, StatementError};
use suit_common::service::{Config, Service};
use suit_test_support::{
    digest_shared, fetch_and_check, fetch_and_decrypt, release_of, seal_one, suit_manifest,
};

use suit_test_support::service::{
    bytes, call, cose_key, identity, install_with as install, int, kek_op, provision_message,
    refusal, scope_of, sec1_from_pem, secrets_to, snapshot, Mem,
};
use suit_test_support::{p256_private_from_pem, CLASS_ID, VENDOR_ID};
// Tenant A signs with the manifest-spec key, tenant B with the firmware-encryption draft's.
use suit_test_support::says;
use suit_test_support::{
    AUTHOR_PRIV as A_PRIV, AUTHOR_PUB as A_PUB, OPERATOR_PRIV as B_PRIV, OPERATOR_PUB as B_PUB,
    TPA_PRIV, TPA_PUB,
};

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
        // Whatever a message says here is ignored: the device assigns key scopes.
        key_scope: 7,
    })
}

/// Tenant A (anchor 1) owns ['app-a'], tenant B (anchor 2) owns ['app-b']; both may write
/// REE files and (unless `ree_plaintext` is false) put decrypted payloads there.
fn two_tenants(ree_plaintext: bool) -> Service<Mem> {
    let config = Config::new(&sec1_from_pem(TPA_PUB), true).unwrap();
    let mut s = Service::new(MemoryBackend::new(3), config);
    provision(
        &mut s,
        1,
        vec![
            add_anchor(1, A_PUB, scope_of(&[&[b"app-a"], &[b"ree"]], ree_plaintext)),
            add_anchor(2, B_PUB, scope_of(&[&[b"app-b"], &[b"ree"]], ree_plaintext)),
            identity(),
        ],
    );
    s
}

fn anchor_keys(s: &mut Service<Mem>, anchor: u32) -> DeviceKeyResponse {
    call(
        s,
        Command::DeviceKey,
        &DeviceKeyRequest {
            anchor: Some(anchor),
        },
    )
    .unwrap()
}

fn point(sec1: &[u8]) -> p256::PublicKey {
    p256::PublicKey::from_sec1_bytes(sec1).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    EcdhEs,
    Hpke,
    /// AES-KW with the TPA's KEK `kek-a`, granted to the anchor given (see [`grant_kek`]).
    Kek,
}

/// The KEK the TPA shares with one anchor.
const KEK_A: &[u8; 16] = b"tenant-a-kek-16b";

/// Provisions `KEK_A` (kid `kek-a`) for anchor 1, tenant A, alone (message `counter`).
fn grant_kek(s: &mut Service<Mem>, counter: u64) {
    let to = secrets_to(s);
    let a = cose_key(A_PUB);
    let op = kek_op(&to, TPA_PRIV, b"kek-a", &[(1, &a)], KEK_A);
    provision(s, counter, vec![op]);
}

/// Encrypts `plaintext` to `anchor`'s exported key for `mode`, as tenant A's author does.
fn encrypt_for(
    s: &mut Service<Mem>,
    anchor: u32,
    mode: Mode,
    plaintext: &[u8],
) -> EncryptedPayload {
    encrypt_as(s, anchor, mode, ContentAlgorithm::A128Gcm, plaintext)
}

/// [`encrypt_for`] with the content algorithm `content`.
fn encrypt_as(
    s: &mut Service<Mem>,
    anchor: u32,
    mode: Mode,
    content: ContentAlgorithm,
    plaintext: &[u8],
) -> EncryptedPayload {
    let k = anchor_keys(s, anchor).anchor.unwrap();
    let (ecdh, hpke) = (point(&k.ecdh_es_key), point(&k.hpke_key));
    let r = match mode {
        Mode::Kek => Recipient::AesKw {
            kid: Some(b"kek-a"),
            kek: KEK_A,
        },
        Mode::EcdhEs => Recipient::EcdhEs {
            kid: Some(&k.ecdh_es_kid),
            public_key: &ecdh,
            wrap: KeyWrap::A128Kw,
        },
        Mode::Hpke => Recipient::Hpke {
            kid: Some(&k.hpke_kid),
            public_key: &hpke,
            suite: HpkeSuite::Hpke0,
            psk: None,
        },
    };
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    encrypt_payload(plaintext, content, &[r], &CoseOptions::SUIT, &mut rng).unwrap()
}

fn segs(c: &[&[u8]]) -> Value {
    Value::Array(c.iter().map(|s| bytes(s)).collect())
}

/// A manifest fetching `uri` into `component`, decrypting with `info` if given (in the
/// firmware-encryption draft's form: the ciphertext is fetched into a buffer component, then
/// copied into `component` with the encryption info), and requiring the plaintext to match
/// `plaintext_digest`.
fn fetch_manifest(
    seq: u64,
    component: &[&[u8]],
    uri: &str,
    info: Option<&[u8]>,
    plaintext_digest: &[u8],
    size: usize,
) -> Vec<u8> {
    let shared = digest_shared(0, plaintext_digest, size, 15);
    let mut components = vec![segs(component)];
    let install = match info {
        None => Value::Array([vec![int(12), int(0)], fetch_and_check(uri, 2, 15)].concat()),
        Some(info) => {
            let mut buffer: Vec<&[u8]> = component.to_vec();
            buffer.push(b"encrypted");
            components.push(segs(&buffer));
            Value::Array([fetch_and_decrypt(uri, info, 2), vec![int(3), int(15)]].concat())
        }
    };
    suit_manifest(seq as i64, components, &shared, &install)
}

/// A manifest copying installed component `from` into `to` (directive-copy), digest-checked.
fn copy_manifest(seq: u64, from: &[&[u8]], to: &[&[u8]], digest: &[u8], size: usize) -> Vec<u8> {
    let shared = digest_shared(1, digest, size, 15);
    let install = Value::Array(vec![
        int(12),
        int(1),
        int(20),
        Value::Map(vec![(int(22), int(0))]),
        int(22),
        int(2),
        int(3),
        int(15),
    ]);
    suit_manifest(seq as i64, vec![segs(from), segs(to)], &shared, &install)
}

fn sign(manifest: &[u8], signer: &str) -> Vec<u8> {
    let key: SigningKey = p256_private_from_pem(signer);
    seal_one(manifest, &key, Algorithm::Esp256, &[], &[])
}

/// What the REE reads from its file `path`.
fn exported(s: &mut Service<Mem>, path: &str) -> Vec<u8> {
    ree_export(s, path).unwrap().data.to_vec()
}

/// Why the REE cannot read its file `path`.
fn export_refused(s: &mut Service<Mem>, path: &str) -> RefusalKind {
    refusal(ree_export(s, path)).kind
}

fn ree_export(s: &mut Service<Mem>, path: &str) -> Result<ReeExportResponse, (Status, Refused)> {
    call(
        s,
        Command::ReeExport,
        &ReeExportRequest {
            path: path.into(),
            offset: 0,
        },
    )
}

const SECRET: &[u8] = b"tenant A's confidential personalization: key=0x5ec7e7";

/// Attack (finding 2): tenant B copies tenant A's encryption info and ciphertext (and the
/// plaintext digest from A's published manifest) into its own signed manifest, targeting an
/// REE file or its own secure component. Refused for lack of a key (B's anchor may even put
/// plaintext into the REE); nothing stored, nothing exported. The same manifest signed by A
/// installs and exports the plaintext, so the refusal is the signer's, not the manifest's.
/// With a KEK the TPA granted to A alone, the same (mutation review s34: offering every KEK
/// to every signer was caught only by a host CLI test).
#[test]
fn a_tenant_cannot_decrypt_another_tenants_payload_by_referencing_it() {
    for mode in [Mode::EcdhEs, Mode::Hpke, Mode::Kek] {
        let mut s = two_tenants(true);
        if let Mode::Kek = mode {
            grant_kek(&mut s, 2);
        }
        let a = encrypt_for(&mut s, 1, mode, SECRET);
        let digest = Sha256::digest(SECRET);
        let payloads: &[(&str, &[u8])] = &[("https://a.example/perso.bin", &a.ciphertext)];
        for target in [&[&b"ree"[..], b"stolen.bin"][..], &[&b"app-b"[..]][..]] {
            let stolen = fetch_manifest(
                1,
                target,
                "https://a.example/perso.bin",
                Some(&a.encryption_info),
                &digest,
                SECRET.len(),
            );
            let before = snapshot(&s);
            let r = refusal(install(&mut s, &sign(&stolen, B_PRIV), payloads));
            assert_eq!(r.kind, RefusalKind::Manifest, "{mode:?} {r:?}");
            assert!(
                r.reason.contains("payload decryption failed"),
                "{mode:?}: {}",
                r.reason
            );
            assert_eq!(snapshot(&s), before, "{mode:?}: state changed");
            assert_eq!(export_refused(&mut s, "stolen.bin"), RefusalKind::NotFound);
        }
        // The owner's signature on the very same manifest works.
        let owned = fetch_manifest(
            1,
            &[b"ree", b"stolen.bin"],
            "https://a.example/perso.bin",
            Some(&a.encryption_info),
            &digest,
            SECRET.len(),
        );
        install(&mut s, &sign(&owned, A_PRIV), payloads).unwrap();
        assert_eq!(exported(&mut s, "stolen.bin"), SECRET);
    }
}

/// Attack (finding 2, REE policy): an anchor without `ree_plaintext` gets its decrypted
/// payload written to a normal-world file, directly or by decrypting into a secure component
/// first and copying it out. Both refused with a typed policy error and no state change; the
/// secure component itself installs; after the TPA allows it, the REE file installs.
#[test]
fn decrypted_payloads_reach_ree_components_only_if_the_anchor_allows_it() {
    let mut s = two_tenants(false);
    let a = encrypt_for(&mut s, 1, Mode::Hpke, SECRET);
    let digest = Sha256::digest(SECRET);
    let payloads: &[(&str, &[u8])] = &[("https://a.example/perso.bin", &a.ciphertext)];
    let to_ree = |seq| {
        fetch_manifest(
            seq,
            &[b"ree", b"a.conf"],
            "https://a.example/perso.bin",
            Some(&a.encryption_info),
            &digest,
            SECRET.len(),
        )
    };
    let before = snapshot(&s);
    let r = refusal(install(&mut s, &sign(&to_ree(1), A_PRIV), payloads));
    says(
        &r.reason,
        "no signer's anchor may put decrypted or secure content there",
    );
    assert_eq!(snapshot(&s), before);

    // Into A's own secure component: fine.
    let secure = fetch_manifest(
        1,
        &[b"app-a"],
        "https://a.example/perso.bin",
        Some(&a.encryption_info),
        &digest,
        SECRET.len(),
    );
    install(&mut s, &sign(&secure, A_PRIV), payloads).unwrap();
    // Copying it out to the REE is the same leak by another route.
    let copy = copy_manifest(
        1,
        &[b"app-a"],
        &[b"ree", b"copy.bin"],
        &digest,
        SECRET.len(),
    );
    let before = snapshot(&s);
    let r = refusal(install(&mut s, &sign(&copy, A_PRIV), &[]));
    says(
        &r.reason,
        "no signer's anchor may put decrypted or secure content there",
    );
    assert_eq!(snapshot(&s), before);
    assert_eq!(export_refused(&mut s, "copy.bin"), RefusalKind::NotFound);

    // Plaintext (unencrypted) REE files stay allowed.
    let conf = b"mode=fast\n";
    let plain = fetch_manifest(
        2,
        &[b"ree", b"plain.conf"],
        "https://a.example/plain.conf",
        None,
        &Sha256::digest(conf),
        conf.len(),
    );
    install(
        &mut s,
        &sign(&plain, A_PRIV),
        &[("https://a.example/plain.conf", conf)],
    )
    .unwrap();

    // The TPA lets anchor 1 put plaintext into the REE: now it installs.
    provision(
        &mut s,
        2,
        vec![Op::Rescope {
            id: 1,
            scope: scope_of(&[&[b"app-a"], &[b"ree"]], true),
        }],
    );
    install(&mut s, &sign(&to_ree(3), A_PRIV), payloads).unwrap();
    assert_eq!(exported(&mut s, "a.conf"), SECRET);
}

/// Finding 11 and re-use: every purpose and every anchor has its own key; an anchor removed
/// and added again under the same id (a new tenant, or the same key) gets new keys, so the
/// old tenant's ciphertext does not open for it. The message's `key_scope` is ignored.
#[test]
fn keys_are_distinct_per_purpose_and_anchor_and_a_readded_anchor_gets_new_ones() {
    let mut s = two_tenants(true);
    let k1 = anchor_keys(&mut s, 1);
    let k2 = anchor_keys(&mut s, 2);
    let (a1, a2) = (k1.anchor.clone().unwrap(), k2.anchor.clone().unwrap());
    assert_eq!(
        (a1.key_scope, a2.key_scope),
        (1, 2),
        "device-assigned scopes"
    );
    let all = [
        &k1.identity_key,
        &k1.report_key,
        &k1.provisioning_key,
        &a1.ecdh_es_key,
        &a1.hpke_key,
        &a2.ecdh_es_key,
        &a2.hpke_key,
    ];
    for (i, x) in all.iter().enumerate() {
        for y in &all[i + 1..] {
            assert_ne!(x, y, "two purposes or anchors share a key");
        }
    }
    assert_eq!(k1.identity_key, k2.identity_key);

    let old = encrypt_for(&mut s, 1, Mode::EcdhEs, SECRET);
    provision(&mut s, 2, vec![Op::RemoveAnchor { id: 1 }]);
    assert_eq!(
        refusal(call::<_, DeviceKeyResponse>(
            &mut s,
            Command::DeviceKey,
            &DeviceKeyRequest { anchor: Some(1) }
        ))
        .kind,
        RefusalKind::NotFound
    );
    provision(
        &mut s,
        3,
        vec![add_anchor(
            1,
            A_PUB,
            scope_of(&[&[b"app-a"], &[b"ree"]], true),
        )],
    );
    let again = anchor_keys(&mut s, 1).anchor.unwrap();
    assert_eq!(again.key_scope, 3);
    assert_ne!(again.ecdh_es_key, a1.ecdh_es_key);
    assert_ne!(again.hpke_key, a1.hpke_key);
    let m = fetch_manifest(
        1,
        &[b"app-a"],
        "https://a.example/old.bin",
        Some(&old.encryption_info),
        &Sha256::digest(SECRET),
        SECRET.len(),
    );
    let before = snapshot(&s);
    let r = refusal(install(
        &mut s,
        &sign(&m, A_PRIV),
        &[("https://a.example/old.bin", &old.ciphertext)],
    ));
    says(&r.reason, "payload decryption failed");
    assert_eq!(snapshot(&s), before);
}

/// Finding 8: the export carries a statement signed by the identity key naming the anchor,
/// the purposes and the keys; it verifies with the identity key, not with any other key, and
/// any change to it breaks it.
#[test]
fn exported_keys_come_with_a_statement_signed_by_the_identity_key() {
    let mut s = two_tenants(true);
    let k = anchor_keys(&mut s, 2);
    let a = k.anchor.clone().unwrap();
    let st = statement::verify(&k.statement, &k.identity_key).unwrap();
    assert_eq!(st.device.as_slice(), k.identity_kid.as_slice());
    let find = |p: &str| st.keys.iter().find(|x| x.purpose == p).unwrap().clone();
    assert_eq!(find("ecdh-es").key, a.ecdh_es_key);
    assert_eq!(find("ecdh-es").anchor, Some(2));
    assert_eq!(find("hpke").key, a.hpke_key);
    assert_eq!(find("hpke").key_scope, Some(a.key_scope));
    assert_eq!(find("report").key, k.report_key);
    assert_eq!(find("provisioning").key, k.provisioning_key);
    // Not the identity key: refused.
    for other in [&k.report_key, &a.hpke_key] {
        assert!(matches!(
            statement::verify(&k.statement, other),
            Err(StatementError::BadSignature | StatementError::IdentityMismatch)
        ));
    }
    // Any flipped byte: refused (malformed or bad signature), except in the unprotected
    // bucket `{4: kid}`, which no signature covers and whose kid is only a hint (review s41):
    // a change there that still parses (another kid, another label) verifies to the very
    // same statement.
    let kid_at = k
        .statement
        .windows(k.identity_kid.len())
        .position(|w| w == k.identity_kid.as_slice())
        .unwrap();
    let unprotected = kid_at - 3..kid_at + k.identity_kid.len();
    assert_eq!(k.statement[unprotected.start..kid_at], [0xa1, 0x04, 0x50]);
    for i in 0..k.statement.len() {
        let mut t = k.statement.to_vec();
        t[i] ^= 0x01;
        match statement::verify(&t, &k.identity_key) {
            Ok(same) if unprotected.contains(&i) => assert_eq!(same, st, "byte {i}"),
            r => assert!(r.is_err(), "byte {i}"),
        }
    }
    // A substituted key inside an otherwise identical statement is refused.
    let mut swapped = k.statement.to_vec();
    let at = swapped
        .windows(65)
        .position(|w| w == a.hpke_key.as_slice())
        .unwrap();
    swapped[at..at + 65].copy_from_slice(&k.report_key);
    assert_eq!(
        statement::verify(&swapped, &k.identity_key),
        Err(StatementError::BadSignature)
    );
}

/// Review s41 (conformance): a statement's kid is a hint (RFC 9052 §3.1), as everywhere
/// else. The same signed statement with its unprotected kid replaced by another, or removed,
/// or with an unknown unprotected label beside it, verifies with the identity key to the same
/// statement (the kid was a filter: `IdentityMismatch` before any signature check). Another
/// key still refuses it, and a kid naming another key words the refusal as before.
#[test]
fn a_statements_kid_is_a_hint() {
    let mut s = two_tenants(false);
    let k = anchor_keys(&mut s, 1);
    let st = statement::verify(&k.statement, &k.identity_key).unwrap();
    let Value::Tag(18, inner) = ciborium::from_reader::<Value, _>(k.statement.as_slice()).unwrap()
    else {
        panic!("a tagged COSE_Sign1")
    };
    let Value::Array(parts) = *inner else {
        panic!("a COSE_Sign1 array")
    };
    let with_unprotected = |u: Vec<(Value, Value)>| {
        let mut p = parts.clone();
        p[1] = Value::Map(u);
        let mut out = Vec::new();
        ciborium::into_writer(&Value::Tag(18, Box::new(Value::Array(p))), &mut out).unwrap();
        out
    };
    let kid = |b: &[u8]| (Value::Integer(4.into()), Value::Bytes(b.to_vec()));
    for (what, u) in [
        ("another kid", vec![kid(b"some-other-key-id")]),
        ("no kid", vec![]),
        ("an empty kid", vec![kid(b"")]),
        (
            "an unknown label beside the kid",
            vec![
                kid(&k.identity_kid),
                (Value::Integer((-65000).into()), Value::Text("x".into())),
            ],
        ),
    ] {
        let t = with_unprotected(u);
        assert_eq!(
            statement::verify(&t, &k.identity_key).as_ref(),
            Ok(&st),
            "{what}"
        );
    }
    // Another key: still refused, named as before when the kid names another key.
    assert_eq!(
        statement::verify(&k.statement, &k.report_key),
        Err(StatementError::IdentityMismatch)
    );
    assert_eq!(
        statement::verify(&with_unprotected(vec![]), &k.report_key),
        Err(StatementError::BadSignature)
    );
}

/// Review s27, finding 2: a statement's per-anchor keys name the key the anchor holds
/// (`anchor_key_digest`), not only its id and key scope, so tenant A's author can tell that
/// "anchor 1" was re-bound to another key before encrypting to what the statement exports.
#[test]
fn a_statement_names_the_key_each_exported_anchor_holds() {
    use suit_common::service::provision::anchor_key_digest;
    let mut s = two_tenants(false);
    let digest = |public: &str| anchor_key_digest(&suit_test_support::p256_public_from_pem(public));
    let k = anchor_keys(&mut s, 1);
    let st = statement::verify(&k.statement, &k.identity_key).unwrap();
    for purpose in ["ecdh-es", "hpke"] {
        let stated = st.keys.iter().find(|x| x.purpose == purpose).unwrap();
        assert_eq!(stated.anchor, Some(1));
        assert_eq!(
            stated.anchor_key.as_ref().map(|d| d.as_slice()),
            Some(&digest(A_PUB)[..])
        );
    }
    for device_key in st.keys.iter().filter(|x| x.anchor.is_none()) {
        assert_eq!(device_key.anchor_key, None, "{}", device_key.purpose);
    }
    // Id 1 re-bound to tenant B's key: a fresh, correctly signed statement "for anchor 1"
    // names B's key, which A's author refuses to encrypt to.
    provision(
        &mut s,
        2,
        vec![
            Op::RemoveAnchor { id: 1 },
            Op::RemoveAnchor { id: 2 },
            add_anchor(1, B_PUB, scope_of(&[&[b"app-a"]], false)),
        ],
    );
    let k = anchor_keys(&mut s, 1);
    let st = statement::verify(&k.statement, &k.identity_key).unwrap();
    let hpke = st.keys.iter().find(|x| x.purpose == "hpke").unwrap();
    assert_eq!(hpke.anchor, Some(1));
    assert_eq!(
        hpke.anchor_key.as_ref().map(|d| d.as_slice()),
        Some(&digest(B_PUB)[..])
    );
}

/// Review s27 follow-up: an HMAC anchor's key is a secret, so its statement names it by a
/// keyed, per-device check value (`statement::anchor_key_check`), never by the unkeyed
/// `anchor_key_digest` (SHA-256 of `[4, key]`, the same on every device holding the
/// operator's key: devices linkable, one guess tested against the fleet). Two devices given
/// the same operator key state different values; each is what the key's holder computes from
/// the statement's device id and key scope, and no other key gives it.
#[test]
fn an_hmac_anchor_is_stated_by_a_per_device_keyed_check_value() {
    use suit_common::service::provision::anchor_key_digest;
    use suit_test_support::service::{backend, secret_anchor_op, secrets_to, service};
    let secret = b"operator-hmac-key-shared-by-all!";
    let cose = suit_test_support::symmetric_cose_key(b"op-hmac", secret);
    let (key, _) = suit_common::cose::VerificationKey::from_cose_key(&cose).unwrap();
    let other = suit_common::cose::VerificationKey::from_cose_key(
        &suit_test_support::symmetric_cose_key(b"op-hmac", b"another-operator-hmac-key-here!!"),
    )
    .unwrap()
    .0;
    let mut stated = Vec::new();
    for seed in [3, 4] {
        let mut s = service(backend(seed));
        let to = secrets_to(&mut s);
        let op = secret_anchor_op(
            &to,
            suit_test_support::TPA_PRIV,
            2,
            RoleRecord::Operator,
            scope_of(&[&[b"app"]], false),
            &cose,
        );
        provision(&mut s, 1, vec![op]);
        let k = anchor_keys(&mut s, 2);
        let st = statement::verify(&k.statement, &k.identity_key).unwrap();
        for k in st.keys.iter().filter(|k| k.anchor.is_some()) {
            assert_eq!(k.anchor, Some(2));
            let value = k.anchor_key.as_ref().unwrap().as_slice();
            let scope = k.key_scope.unwrap();
            assert_ne!(
                value,
                anchor_key_digest(&key),
                "{}: the unkeyed digest",
                k.purpose
            );
            assert_eq!(
                value,
                statement::anchor_key_check(&key, &st.device, scope).unwrap(),
                "{}",
                k.purpose
            );
            assert_ne!(
                value,
                statement::anchor_key_check(&other, &st.device, scope).unwrap()
            );
            // Not a MAC under the anchor key itself, which keys manifest MACs only.
            let mut e = suit_common::cbor::Encoder::new();
            e.array(3)
                .text("suit-ta anchor key check")
                .bytes(&st.device)
                .uint(scope);
            let mut direct =
                <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(secret).unwrap();
            hmac::Mac::update(&mut direct, &e.into_bytes());
            let direct: [u8; 32] = hmac::Mac::finalize(direct).into_bytes().into();
            assert_ne!(
                value, direct,
                "{}: keyed by the anchor key itself",
                k.purpose
            );
            stated.push(value.to_vec());
        }
        // Nowhere in the signed statement either.
        assert!(!k
            .statement
            .windows(32)
            .any(|w| w == anchor_key_digest(&key)));
    }
    assert_eq!(stated.len(), 4);
    assert_ne!(
        stated[0], stated[2],
        "the same key states alike on two devices"
    );
}

/// A v1 statement (anchors by id only) is refused by name, and a v2 one whose per-anchor key
/// lacks its anchor's key is malformed.
#[test]
fn a_v1_statement_or_an_anchor_without_its_key_is_refused() {
    let identity = p256::SecretKey::from_slice(&[0x21; 32]).unwrap();
    let sec1 = suit_common::service::keys::public(&identity);
    let stated =
        |purpose: &str, anchor: Option<u32>, anchor_key: Option<Vec<u8>>| statement::StatedKey {
            purpose: purpose.into(),
            anchor,
            key_scope: anchor.map(|_| 1),
            key: ByteBuf::from(sec1.sec1.clone()),
            kid: ByteBuf::from(sec1.kid.clone()),
            anchor_key: anchor_key.map(ByteBuf::from),
        };
    let sign = |kind: &str, keys: Vec<statement::StatedKey>| {
        let st = statement::KeyStatement {
            statement: kind.into(),
            device: ByteBuf::from(sec1.kid.clone()),
            keys,
        };
        statement::sign(&st, &identity).unwrap()
    };
    let id = stated("identity", None, None);
    let ok = sign(
        statement::STATEMENT_KIND,
        vec![id.clone(), stated("hpke", Some(1), Some(vec![7; 32]))],
    );
    assert!(statement::verify(&ok, &sec1.sec1).is_ok());
    let v1 = sign(
        "suit-tee device keys v1",
        vec![id.clone(), stated("hpke", Some(1), None)],
    );
    match statement::verify(&v1, &sec1.sec1) {
        Err(StatementError::Malformed(w)) => assert!(w.contains("v1"), "{w}"),
        other => panic!("{other:?}"),
    }
    for anchor_key in [None, Some(vec![7; 31])] {
        let bad = sign(
            statement::STATEMENT_KIND,
            vec![id.clone(), stated("hpke", Some(1), anchor_key)],
        );
        assert!(matches!(
            statement::verify(&bad, &sec1.sec1),
            Err(StatementError::Malformed(_))
        ));
    }
}

/// Review s16, finding R4. Anchor 1 (tenant A) has no `ree_plaintext`: the TPA's word that
/// what A's keys decrypt, and A's secure components, never reach a normal-world file, even if
/// A's signing key is compromised. The key source keeps to it per anchor: in a manifest
/// co-signed by an anchor that has `ree_plaintext`, A's keys are still not offered for an
/// REE target. The copy check does not: it asks whether *any* signer has `ree_plaintext`.
/// So A's secret, installed in ['app-a'], is copied into ['ree', 'copy.bin'] by a manifest
/// A signs together with anchor 2 (which may put its own plaintext into the REE), and the REE
/// reads it. Expected: refused, as the same copy signed by A alone is.
#[test]
fn a_co_signer_with_ree_plaintext_does_not_let_another_anchors_secret_out() {
    let (mut s, digest) = a_secret_in_app_a_and_a_flagged_co_signer();
    let copy = copy_manifest(
        2,
        &[b"app-a"],
        &[b"ree", b"copy.bin"],
        &digest,
        SECRET.len(),
    );
    // Control: A alone may not copy it out.
    let r = refusal(install(&mut s, &sign(&copy, A_PRIV), &[]));
    says(
        &r.reason,
        "no signer's anchor may put decrypted or secure content there",
    );
    // A and anchor 2 together.
    let both = sign_all(&copy, &[A_PRIV, B_PRIV]);
    let r = install(&mut s, &both, &[]);
    let leaked = ree_export(&mut s, "copy.bin").ok().map(|e| e.data.to_vec());
    assert!(
        r.is_err() && leaked.is_none(),
        "anchor 1's secure content reached the REE through a co-signer's ree_plaintext: \
         install {:?}, REE reads {:?}",
        r.map(|d| d.components),
        leaked.map(|d| String::from_utf8_lossy(&d).into_owned())
    );
}

/// Two tenants, anchor 2 re-scoped to ['app-b'] and ['ree'] with `ree_plaintext`, and anchor
/// 1's secret (no `ree_plaintext`) installed in ['app-a']; with the secret's digest.
fn a_secret_in_app_a_and_a_flagged_co_signer() -> (Service<Mem>, Vec<u8>) {
    let mut s = two_tenants(false);
    provision(
        &mut s,
        2,
        vec![Op::Rescope {
            id: 2,
            scope: scope_of(&[&[b"app-b"], &[b"ree"]], true),
        }],
    );
    let a = encrypt_for(&mut s, 1, Mode::Hpke, SECRET);
    let digest = Sha256::digest(SECRET);
    let secure = fetch_manifest(
        1,
        &[b"app-a"],
        "https://a.example/perso.bin",
        Some(&a.encryption_info),
        &digest,
        SECRET.len(),
    );
    install(
        &mut s,
        &sign(&secure, A_PRIV),
        &[("https://a.example/perso.bin", &a.ciphertext)],
    )
    .unwrap();
    (s, digest.to_vec())
}

/// An envelope signed by every key in `keys` (PEM private keys), in that order.
fn sign_all(manifest: &[u8], keys: &[&str]) -> Vec<u8> {
    suit_test_support::seal_esp256(manifest, keys, &[])
}

/// A manifest over `components` that runs the directive-copy steps `(to, from)` in order,
/// each checked against `digest` / `size` (set for every component).
fn chain_manifest(
    seq: u64,
    components: &[&[&[u8]]],
    steps: &[(i64, i64)],
    digest: &[u8],
    size: usize,
) -> Vec<u8> {
    let mut shared = match digest_shared(0, digest, size, 15) {
        Value::Array(v) => v,
        _ => unreachable!(),
    };
    let image = suit_test_support::cbor(&Value::Array(vec![int(-16), bytes(digest)]));
    for i in 1..components.len() {
        shared.extend([
            int(12),
            int(i as i64),
            int(20),
            Value::Map(vec![(int(3), bytes(&image)), (int(14), int(size as i64))]),
        ]);
    }
    let mut install = Vec::new();
    for (to, from) in steps {
        install.extend([
            int(12),
            int(*to),
            int(20),
            Value::Map(vec![(int(22), int(*from))]),
            int(22),
            int(2),
            int(3),
            int(15),
        ]);
    }
    suit_manifest(
        seq as i64,
        components.iter().map(|c| segs(c)).collect(),
        &Value::Array(shared),
        &Value::Array(install),
    )
}

/// A component identifier as its segments.
type Segments<'a> = &'a [&'a [u8]];

/// A manifest fetching `uri` into buffer component 1, decrypting it with `info` into
/// component 2 (`plain`), then copying that into component 0 (`out`); components 0 and 2
/// must hold [`SECRET`].
fn decrypt_then_copy_manifest(
    seq: u64,
    out: Segments<'_>,
    buffer: Segments<'_>,
    plain: Segments<'_>,
    uri: &str,
    info: &[u8],
) -> Vec<u8> {
    let (digest, size) = (Sha256::digest(SECRET), SECRET.len());
    let mut shared = match digest_shared(0, &digest, size, 15) {
        Value::Array(v) => v,
        _ => unreachable!(),
    };
    let image = suit_test_support::cbor(&Value::Array(vec![int(-16), bytes(&digest)]));
    shared.extend([
        int(12),
        int(2),
        int(20),
        Value::Map(vec![(int(3), bytes(&image)), (int(14), int(size as i64))]),
    ]);
    let install = Value::Array(vec![
        int(12),
        int(1),
        int(20),
        Value::Map(vec![(int(21), Value::Text(uri.into()))]),
        int(21),
        int(2),
        int(12),
        int(2),
        int(20),
        Value::Map(vec![(int(19), bytes(info)), (int(22), int(1))]),
        int(22),
        int(2),
        int(3),
        int(15),
        int(12),
        int(0),
        int(20),
        Value::Map(vec![(int(22), int(2))]),
        int(22),
        int(2),
        int(3),
        int(15),
    ]);
    suit_manifest(
        seq as i64,
        vec![segs(out), segs(buffer), segs(plain)],
        &Value::Array(shared),
        &install,
    )
}

/// Review s16 R4, the same leak in two steps: anchor 1's secret is copied into a secure
/// component of the co-signer (anchor 2, which has `ree_plaintext`), and from there into the
/// REE, in one run or in two. Ownership follows the content: the first copy is refused
/// because the destination could be copied out by owners that allow what anchor 1 does not.
/// A copy between anchor 1's own secure components stays allowed.
#[test]
fn a_secret_moved_through_a_co_signers_component_does_not_get_out() {
    let (mut s, digest) = a_secret_in_app_a_and_a_flagged_co_signer();

    // One run: app-a -> app-b -> ['ree', 'copy.bin'], signed by both.
    let one_run = chain_manifest(
        2,
        &[&[b"app-a"], &[b"app-b"], &[b"ree", b"copy.bin"]],
        &[(1, 0), (2, 1)],
        &digest,
        SECRET.len(),
    );
    let before = snapshot(&s);
    let r = refusal(install(&mut s, &sign_all(&one_run, &[A_PRIV, B_PRIV]), &[]));
    says(
        &r.reason,
        "no signer's anchor may put decrypted or secure content there",
    );
    assert_eq!(snapshot(&s), before);
    assert_eq!(export_refused(&mut s, "copy.bin"), RefusalKind::NotFound);

    // Two runs: the first (app-a -> app-b, signed by both) would leave anchor 1's secret
    // where anchor 2 alone could copy it out; it is refused.
    let park = copy_manifest(3, &[b"app-a"], &[b"app-b"], &digest, SECRET.len());
    let r = refusal(install(&mut s, &sign_all(&park, &[A_PRIV, B_PRIV]), &[]));
    says(
        &r.reason,
        "no signer's anchor may put decrypted or secure content there",
    );
    assert_eq!(snapshot(&s), before);
    let out = copy_manifest(
        4,
        &[b"app-b"],
        &[b"ree", b"copy.bin"],
        &digest,
        SECRET.len(),
    );
    assert!(install(&mut s, &sign(&out, B_PRIV), &[]).is_err());
    assert_eq!(export_refused(&mut s, "copy.bin"), RefusalKind::NotFound);

    // Control: anchor 1 moving its secret within its own secure components is fine.
    let own = copy_manifest(
        5,
        &[b"app-a"],
        &[b"app-a", b"backup"],
        &digest,
        SECRET.len(),
    );
    install(&mut s, &sign(&own, A_PRIV), &[]).unwrap();
}

/// Review s16 R4, content decrypted in this run: a manifest signed by anchor 1 (no
/// `ree_plaintext`) and anchor 2 (with it) decrypts anchor 1's payload into a secure
/// component, then copies it into the REE. Into anchor 1's component: the copy out is
/// refused (its owner does not allow it). Into anchor 2's component: anchor 1's keys are not
/// offered for a component outside its scope, so nothing is decrypted. Directly into the
/// REE: only anchor 2's keys are offered. Nothing is stored or exported in any case.
#[test]
fn content_decrypted_in_the_run_does_not_leave_under_a_co_signers_flag() {
    let mut s = two_tenants(false);
    provision(
        &mut s,
        2,
        vec![Op::Rescope {
            id: 2,
            scope: scope_of(&[&[b"app-b"], &[b"ree"]], true),
        }],
    );
    let a = encrypt_for(&mut s, 1, Mode::Hpke, SECRET);
    let uri = "https://a.example/perso.bin";
    let payloads: &[(&str, &[u8])] = &[(uri, &a.ciphertext)];
    let cases: [(Segments<'_>, Segments<'_>, &str); 3] = [
        (
            &[b"app-a", b"encrypted"],
            &[b"app-a", b"plain"],
            "no signer's anchor may put decrypted or secure content there",
        ),
        (
            &[b"app-b", b"encrypted"],
            &[b"app-b", b"plain"],
            "payload decryption failed",
        ),
        (
            &[b"ree", b"copy.bin", b"encrypted"],
            &[b"ree", b"plain.bin"],
            "payload decryption failed",
        ),
    ];
    for (seq, (buffer, plain, why)) in (1..).zip(cases) {
        let m = decrypt_then_copy_manifest(
            seq,
            &[b"ree", b"copy.bin"],
            buffer,
            plain,
            uri,
            &a.encryption_info,
        );
        let before = snapshot(&s);
        let r = refusal(install(&mut s, &sign_all(&m, &[A_PRIV, B_PRIV]), payloads));
        suit_test_support::says_as(format!("{plain:?}"), &r.reason, why);
        assert_eq!(snapshot(&s), before, "{plain:?}");
        assert_eq!(export_refused(&mut s, "copy.bin"), RefusalKind::NotFound);
        assert_eq!(export_refused(&mut s, "plain.bin"), RefusalKind::NotFound);
    }
}

/// Controls for review s16 R4: when every anchor owning the content has `ree_plaintext`, a
/// manifest signed by several anchors still copies secure and freshly decrypted content into
/// the REE, directly or through a co-signer's component; and a co-signer without the flag
/// (e.g. one a rule requires) does not block the owner's export, since it owns nothing moved.
#[test]
fn content_whose_owners_all_allow_it_still_reaches_the_ree_under_several_signers() {
    let uri = "https://a.example/perso.bin";
    let digest = Sha256::digest(SECRET);
    // Both anchors allow it.
    let mut s = two_tenants(true);
    let a = encrypt_for(&mut s, 1, Mode::Hpke, SECRET);
    let payloads: &[(&str, &[u8])] = &[(uri, &a.ciphertext)];
    let secure = fetch_manifest(
        1,
        &[b"app-a"],
        uri,
        Some(&a.encryption_info),
        &digest,
        SECRET.len(),
    );
    install(&mut s, &sign(&secure, A_PRIV), payloads).unwrap();
    let copy = copy_manifest(
        2,
        &[b"app-a"],
        &[b"ree", b"copy.bin"],
        &digest,
        SECRET.len(),
    );
    install(&mut s, &sign_all(&copy, &[A_PRIV, B_PRIV]), &[]).unwrap();
    assert_eq!(exported(&mut s, "copy.bin"), SECRET);
    let chain = chain_manifest(
        3,
        &[&[b"app-a"], &[b"app-b"], &[b"ree", b"chain.bin"]],
        &[(1, 0), (2, 1)],
        &digest,
        SECRET.len(),
    );
    install(&mut s, &sign_all(&chain, &[A_PRIV, B_PRIV]), &[]).unwrap();
    assert_eq!(exported(&mut s, "chain.bin"), SECRET);
    let fresh = decrypt_then_copy_manifest(
        4,
        &[b"ree", b"fresh.bin"],
        &[b"app-a", b"encrypted"],
        &[b"app-a", b"plain"],
        uri,
        &a.encryption_info,
    );
    install(&mut s, &sign_all(&fresh, &[A_PRIV, B_PRIV]), payloads).unwrap();
    assert_eq!(exported(&mut s, "fresh.bin"), SECRET);

    // Only the owner (anchor 1) allows it; the co-signer (anchor 2) does not.
    let mut s = two_tenants(false);
    provision(
        &mut s,
        2,
        vec![Op::Rescope {
            id: 1,
            scope: scope_of(&[&[b"app-a"], &[b"ree"]], true),
        }],
    );
    let a = encrypt_for(&mut s, 1, Mode::Hpke, SECRET);
    let payloads: &[(&str, &[u8])] = &[(uri, &a.ciphertext)];
    let secure = fetch_manifest(
        1,
        &[b"app-a"],
        uri,
        Some(&a.encryption_info),
        &digest,
        SECRET.len(),
    );
    install(&mut s, &sign(&secure, A_PRIV), payloads).unwrap();
    install(&mut s, &sign_all(&copy, &[A_PRIV, B_PRIV]), &[]).unwrap();
    assert_eq!(exported(&mut s, "copy.bin"), SECRET);
}

// ---------------------------------------------------------------------------------------
// Review s29 F1: a secret whose digest is withheld (AES-GCM content no signed digest names)
// is kept from the REE's guesses; the REE reads every outcome, so an anchor that co-owns the
// component by scope must not get an answer about it either, by a condition or a copy.

/// Tenant A's low-entropy secret, and a wrong guess of it.
const PIN: &[u8] = b"PIN=4711";
const WRONG_PIN: &[u8] = b"PIN=4710";

/// Anchor 1 (tenant A) owns ['app'], and installed [`PIN`] into ['app', 'pin'] with AES-GCM
/// and no plaintext digest, so its digest is withheld; anchor 2 (tenant B, the attacker)
/// covers ['app'] too, and ['b']. Neither has `ree_plaintext`.
fn a_withheld_pin_and_a_co_owner() -> Service<Mem> {
    a_withheld_secret_and_a_co_owner(b"app", b"pin", PIN)
}

/// Anchor 1 (tenant A) owns `[root]`, and installed `secret` into `[root, leaf]` with AES-GCM
/// and no plaintext digest, so its digest is withheld; anchor 2 (tenant B, the attacker)
/// covers `[root]` too, and ['b']. Neither has `ree_plaintext`.
fn a_withheld_secret_and_a_co_owner(root: &[u8], leaf: &[u8], secret: &[u8]) -> Service<Mem> {
    let config = Config::new(&sec1_from_pem(TPA_PUB), true).unwrap();
    let mut s = Service::new(MemoryBackend::new(3), config);
    provision(
        &mut s,
        1,
        vec![
            add_anchor(1, A_PUB, scope_of(&[&[root]], false)),
            add_anchor(2, B_PUB, scope_of(&[&[root], &[b"b"]], false)),
            identity(),
        ],
    );
    let a = encrypt_for(&mut s, 1, Mode::Hpke, secret);
    let uri = format!("https://a.example/{}.bin", String::from_utf8_lossy(leaf));
    let m = probe_manifest(
        1,
        &[&[root, leaf], &[root, leaf, b"encrypted"]],
        vec![],
        fetch_and_decrypt(&uri, &a.encryption_info, 15),
    );
    install(&mut s, &sign(&m, A_PRIV), &[(&uri, &a.ciphertext)]).unwrap();
    assert!(inventory(&mut s).iter().all(|(_, d)| d.is_empty()));
    s
}

/// A manifest over `components` whose shared sequence checks the identity on component 0 and
/// sets `params` on it, and whose install sequence is `install`.
fn probe_manifest(
    seq: u64,
    components: &[Segments<'_>],
    params: Vec<(i64, Value)>,
    install: Vec<Value>,
) -> Vec<u8> {
    let shared = Value::Array(suit_test_support::check_vendor_class(
        vec![int(12), int(0)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        params,
        15,
    ));
    suit_manifest(
        seq as i64,
        components.iter().map(|c| segs(c)).collect(),
        &shared,
        &Value::Array(install),
    )
}

/// The parameters a probe sets from its guess.
type Guessed = fn(&[u8]) -> Vec<(i64, Value)>;

/// `suit-parameter-content` set to `guess`.
fn content_of(guess: &[u8]) -> Vec<(i64, Value)> {
    vec![(18, bytes(guess))]
}

/// `image-digest` (and image-size) set to those of `guess`.
fn digest_of(guess: &[u8]) -> Vec<(i64, Value)> {
    vec![
        (3, bytes(&suit_test_support::suit_digest(guess))),
        (14, int(guess.len() as i64)),
    ]
}

/// A command sequence as try-each takes it (a bstr-wrapped array).
fn sequence(commands: Vec<Value>) -> Value {
    bytes(&suit_test_support::cbor(&Value::Array(commands)))
}

/// The install's outcome as the REE sees it.
fn answer(r: Result<InstallFinishResponse, (Status, Refused)>) -> Result<(), Refused> {
    r.map(|_| ()).map_err(|(_, r)| r)
}

/// Installs into `s` the envelope `envelope_for` makes of a wrong guess and of the PIN:
/// neither changes the device, and both get one answer (`what` names the probe), returned.
fn one_answer_for_both_guesses(
    s: &mut Service<Mem>,
    what: &str,
    envelope_for: impl Fn(&[u8]) -> Vec<u8>,
) -> Result<(), Refused> {
    let before = snapshot(s);
    let [wrong, right] = [WRONG_PIN, PIN].map(|guess| {
        let a = answer(install(s, &envelope_for(guess), &[]));
        assert!(snapshot(s) == before, "{what}: state changed");
        a
    });
    assert_eq!(
        wrong, right,
        "{what}: the outcome tells the PIN from a guess"
    );
    right
}

/// What status says of each installed component's content.
fn inventory(s: &mut Service<Mem>) -> Vec<(u64, Vec<u8>)> {
    let st: StatusResponse = call(s, Command::Status, &Empty {}).unwrap();
    st.service
        .components
        .iter()
        .map(|c| (c.size, c.digest.to_vec()))
        .collect()
}

/// Tenant B tests a guess of tenant A's withheld PIN by image-match, image-not-match,
/// check-content, and image-match inside a try-each whose options leave different marks.
/// Every probe is refused the same way for the right guess and a wrong one, before any
/// content is read (try-each cannot absorb it), and nothing changes.
#[test]
fn a_co_owner_cannot_test_guesses_of_a_withheld_secret_by_a_condition() {
    let mut s = a_withheld_pin_and_a_co_owner();
    let before = snapshot(&s);
    let pin: Segments<'_> = &[b"app", b"pin"];
    let write = |what: &[u8]| {
        vec![
            int(12),
            int(1),
            int(20),
            map_of(18, bytes(what)),
            int(18),
            int(15),
        ]
    };
    let probes: [(&str, Guessed, Vec<Value>); 4] = [
        ("image-match", digest_of, vec![int(3), int(15)]),
        ("image-not-match", digest_of, vec![int(25), int(15)]),
        ("check-content", content_of, vec![int(6), int(15)]),
        (
            "image-match in try-each",
            digest_of,
            vec![
                int(15),
                Value::Array(vec![
                    sequence([vec![int(12), int(0), int(3), int(15)], write(b"hit")].concat()),
                    sequence(write(b"miss")),
                ]),
            ],
        ),
    ];
    for (name, params, install_seq) in probes {
        let answer = one_answer_for_both_guesses(&mut s, name, |guess| {
            let m = probe_manifest(
                1,
                &[pin, &[b"b", b"marker"]],
                params(guess),
                [vec![int(12), int(0)], install_seq.clone()].concat(),
            );
            sign(&m, B_PRIV)
        });
        assert!(snapshot(&s) == before, "{name}: state changed");
        let r = answer.unwrap_err();
        says(
            &r.reason,
            "not every anchor that owns the content allows it",
        );
    }
}

/// A map with one integer key.
fn map_of(key: i64, value: Value) -> Value {
    Value::Map(vec![(int(key), value)])
}

/// Tenant B copies tenant A's withheld PIN into another component both own, naming a
/// guessed digest: the copy installs either way, stays withheld, and status (or the outcome)
/// does not tell the right guess from a wrong one.
#[test]
fn a_co_owners_copy_does_not_tell_whether_it_named_the_withheld_secrets_digest() {
    let mut s = a_withheld_pin_and_a_co_owner();
    let mut seen = Vec::new();
    for (seq, guess) in (1..).zip([WRONG_PIN, PIN]) {
        let copy = probe_manifest(
            seq,
            &[&[b"app", b"pin"], &[b"app", b"copy"]],
            vec![],
            [
                vec![int(12), int(1), int(20)],
                vec![Value::Map(
                    [digest_of(guess), vec![(22, int(0))]]
                        .concat()
                        .into_iter()
                        .map(|(k, v)| (int(k), v))
                        .collect(),
                )],
                vec![int(22), int(15)],
            ]
            .concat(),
        );
        let a = answer(install(&mut s, &sign(&copy, B_PRIV), &[]));
        seen.push((a, inventory(&mut s)));
    }
    assert_eq!(
        seen[0], seen[1],
        "the outcome or status tells the PIN from a guess"
    );
    let sha = Sha256::digest(PIN);
    assert!(
        seen[1]
            .1
            .iter()
            .all(|(_, d)| d.as_slice() != sha.as_slice()),
        "status shows the PIN's SHA-256: {:02x?}",
        seen[1].1
    );
}

/// Controls: the owners of the withheld PIN still use it. Tenant A alone installs another
/// secret under its own digest check (shown in status) and backs the PIN up (withheld);
/// tenants A and B together compare the PIN and copy it under its digest, which status then
/// shows. Tenant A alone may not compare it: B owns it too, and ownership is by scope.
#[test]
fn the_owners_of_a_withheld_secret_still_check_and_copy_it() {
    let mut s = a_withheld_pin_and_a_co_owner();
    let second = b"tenant A's second secret";
    let a = encrypt_for(&mut s, 1, Mode::Hpke, second);
    let uri = "https://a.example/second.bin";
    let m = probe_manifest(
        2,
        &[&[b"app", b"second"], &[b"app", b"second", b"encrypted"]],
        digest_of(second),
        [
            fetch_and_decrypt(uri, &a.encryption_info, 15),
            vec![int(3), int(15)],
        ]
        .concat(),
    );
    install(&mut s, &sign(&m, A_PRIV), &[(uri, &a.ciphertext)]).unwrap();
    let shown = |s: &mut Service<Mem>, secret: &[u8]| {
        let sha = Sha256::digest(secret);
        inventory(s)
            .iter()
            .any(|(_, d)| d.as_slice() == sha.as_slice())
    };
    assert!(shown(&mut s, second), "a digest its owner checked is shown");

    let copy = |seq, to: &[u8], digest: Vec<(i64, Value)>| {
        let mut params: Vec<(Value, Value)> =
            digest.into_iter().map(|(k, v)| (int(k), v)).collect();
        params.push((int(22), int(0)));
        probe_manifest(
            seq,
            &[&[b"app", b"pin"], &[b"app", to]],
            vec![],
            vec![
                int(12),
                int(1),
                int(20),
                Value::Map(params),
                int(22),
                int(15),
            ],
        )
    };
    install(&mut s, &sign(&copy(3, b"backup", vec![]), A_PRIV), &[]).unwrap();
    assert!(!shown(&mut s, PIN));

    let check = |seq, guess: &[u8]| {
        probe_manifest(
            seq,
            &[&[b"app", b"pin"]],
            digest_of(guess),
            vec![int(12), int(0), int(3), int(15)],
        )
    };
    let both = |m: &[u8]| sign_all(m, &[A_PRIV, B_PRIV]);
    install(&mut s, &both(&check(4, PIN)), &[]).unwrap();
    let r = refusal(install(&mut s, &both(&check(5, WRONG_PIN)), &[]));
    says(&r.reason, "image digest does not match");
    let r = refusal(install(&mut s, &sign(&check(5, PIN), A_PRIV), &[]));
    says(
        &r.reason,
        "not every anchor that owns the content allows it",
    );

    install(&mut s, &both(&copy(6, b"named", digest_of(PIN))), &[]).unwrap();
    assert!(
        shown(&mut s, PIN),
        "a copy all its owners named by digest is shown"
    );
}

/// Tenant B moves tenant A's withheld PIN where B may compare it: by a plain copy into
/// ['b', 'x'], which B alone owns, or by decrypting it, into a component both own, with an
/// AES-CTR key of its own (whose keystream it knows: the result is B's to check). Both
/// refused before anything is read, alike for the right guess and a wrong one; nothing
/// changes.
#[test]
fn a_withheld_secret_does_not_move_where_a_co_owner_alone_could_test_it() {
    let mut s = a_withheld_pin_and_a_co_owner();
    let before = snapshot(&s);
    let copy = |seq, to: Segments<'_>, params: Vec<(i64, Value)>, check: bool| {
        let mut params: Vec<(Value, Value)> =
            params.into_iter().map(|(k, v)| (int(k), v)).collect();
        params.push((int(22), int(0)));
        let mut install_seq = vec![
            int(12),
            int(1),
            int(20),
            Value::Map(params),
            int(22),
            int(15),
        ];
        if check {
            install_seq.extend([int(3), int(15)]);
        }
        probe_manifest(seq, &[&[b"app", b"pin"], to], vec![], install_seq)
    };
    let parked = copy(1, &[b"b", b"x"], vec![], false);
    let r = refusal(install(&mut s, &sign(&parked, B_PRIV), &[]));
    says(
        &r.reason,
        "not every anchor that owns the content allows it",
    );
    assert!(snapshot(&s) == before, "state changed");

    let keystream = encrypt_as(&mut s, 2, Mode::EcdhEs, ContentAlgorithm::A128Ctr, &[0; 8]);
    let answer = one_answer_for_both_guesses(&mut s, "decrypting copy", |guess| {
        let decrypted: Vec<u8> = guess
            .iter()
            .zip(&keystream.ciphertext)
            .map(|(g, k)| g ^ k)
            .collect();
        let params = [
            digest_of(&decrypted),
            vec![(19, bytes(&keystream.encryption_info))],
        ]
        .concat();
        sign(&copy(2, &[b"app", b"x"], params, true), B_PRIV)
    });
    assert!(snapshot(&s) == before, "state changed");
    says(
        &answer.unwrap_err().reason,
        "not every anchor that owns the content allows it",
    );
}

/// Tenant B writes a guess over tenant A's withheld PIN from a dependency manifest with the
/// sequence number that installed the PIN: a dependency may repeat its number, and the
/// platform then commits the content only if it is the same, so the outcome would tell. The
/// rewrite is refused before anything is staged, alike for both guesses. Signed by both
/// tenants, the platform's own rule answers (a wrong guess is a rollback).
#[test]
fn a_co_owner_cannot_test_a_guess_by_rewriting_a_withheld_secret_at_its_sequence_number() {
    let mut s = a_withheld_pin_and_a_co_owner();
    let before = snapshot(&s);
    let rewrite = |guess: &[u8], keys: &[&str]| {
        let dep = release_of(1, &VENDOR_ID, &CLASS_ID, &[b"app", b"pin"], guess, None);
        let root = release_of(1, &VENDOR_ID, &CLASS_ID, &[b"b", b"root"], b"", Some(&dep));
        let dep_envelope = suit_test_support::seal_esp256(&dep, keys, &[]);
        suit_test_support::seal_esp256(&root, keys, &[("#dep", &dep_envelope)])
    };
    let answer = one_answer_for_both_guesses(&mut s, "rewrite", |guess| rewrite(guess, &[B_PRIV]));
    says(
        &answer.unwrap_err().reason,
        "not every anchor that owns the content allows it",
    );
    let r = refusal(install(&mut s, &rewrite(WRONG_PIN, &[A_PRIV, B_PRIV]), &[]));
    says(&r.reason, "Rollback");
    assert_eq!(snapshot(&s), before);
}

/// Tenant B copies A's withheld PIN into `['app', 'copy']` (both own it), then inside a
/// try-each option writes a guess over that staged copy and fails the option: restoring
/// the staging must not depend on whether the guess equals the PIN (it compared digests, so
/// a right guess let the next option install and a wrong one aborted). Both now abort alike.
#[test]
fn a_try_each_restore_does_not_tell_a_guess_from_a_staged_withheld_secret() {
    let mut s = a_withheld_pin_and_a_co_owner();
    let before = snapshot(&s);
    let probe = |guess: &[u8]| {
        probe_manifest(
            1,
            &[&[b"app", b"pin"], &[b"app", b"copy"]],
            vec![],
            vec![
                int(12),
                int(1),
                int(20),
                map_of(22, int(0)),
                int(22),
                int(15),
                int(15),
                Value::Array(vec![
                    sequence(vec![
                        int(20),
                        map_of(18, bytes(guess)),
                        int(18),
                        int(15),
                        int(14),
                        int(15),
                    ]),
                    sequence(vec![int(20), map_of(18, bytes(b"other")), int(18), int(15)]),
                ]),
            ],
        )
    };
    let answer = one_answer_for_both_guesses(&mut s, "try-each restore", |guess| {
        sign(&probe(guess), B_PRIV)
    });
    assert!(snapshot(&s) == before, "state changed");
    assert!(answer.is_err());
}

/// Tenant B plants a guess in `['app', 'copy']` from a dependency numbered 1, then copies A's
/// withheld PIN over it from another dependency numbered 1: the platform commits a repeat of
/// a number only if the content is the same, so the outcome would compare the PIN with the
/// guess. The copy is refused before anything is staged, alike for both guesses.
#[test]
fn a_co_owner_cannot_test_a_guess_by_copying_a_withheld_secret_over_it_at_its_number() {
    let answers = [WRONG_PIN, PIN].map(|guess| {
        let mut s = a_withheld_pin_and_a_co_owner();
        let with_dep = |root_seq: i64, dep: &[u8]| {
            let root = release_of(
                root_seq,
                &VENDOR_ID,
                &CLASS_ID,
                &[b"b", b"root"],
                b"",
                Some(dep),
            );
            let dep_envelope = suit_test_support::seal_esp256(dep, &[B_PRIV], &[]);
            suit_test_support::seal_esp256(&root, &[B_PRIV], &[("#dep", &dep_envelope)])
        };
        let plant = release_of(1, &VENDOR_ID, &CLASS_ID, &[b"app", b"copy"], guess, None);
        install(&mut s, &with_dep(1, &plant), &[]).unwrap();
        let before = snapshot(&s);
        let copy = probe_manifest(
            1,
            &[&[b"app", b"pin"], &[b"app", b"copy"]],
            vec![],
            vec![
                int(12),
                int(1),
                int(20),
                map_of(22, int(0)),
                int(22),
                int(15),
            ],
        );
        let a = answer(install(&mut s, &with_dep(2, &copy), &[]));
        assert!(snapshot(&s) == before, "state changed");
        a.map_err(|r| r.reason)
    });
    assert_eq!(
        answers[0], answers[1],
        "the outcome tells the PIN from a guess"
    );
    says(
        answers[1].as_ref().unwrap_err(),
        "not every anchor that owns the content allows it",
    );
}

/// A TA's UUID: components under it are the TA ([U]) and its personalization data.
const TA_U: &[u8] = &[0x5a; 16];

/// Anchor 1 (tenant A) installed `secret` withheld (AES-GCM, no plaintext digest) as the
/// personalization data of TA [`TA_U`]; anchor 2 (tenant B) covers [`TA_U`] too.
fn a_withheld_secret_under_a_shared_ta(secret: &[u8]) -> Service<Mem> {
    a_withheld_secret_and_a_co_owner(TA_U, b"perso", secret)
}

/// OP-TEE's signed header for a bootstrap image with no hash or signature (`image_type` 1
/// makes it well formed), then the TA's UUID and version: the fields a header check reads.
fn ta_header(image_type: u32, uuid: &[u8], version: u32) -> Vec<u8> {
    let mut h = b"HSTO".to_vec();
    h.extend(image_type.to_le_bytes());
    h.extend([0u8; 12]); // image size 0, algorithm, hash and signature lengths 0
    h.extend(uuid);
    h.extend(version.to_le_bytes());
    h
}

/// A manifest (sequence number `seq`) copying component 0 (tenant A's secret) into component
/// 1 (the TA), signed by `signers`.
fn copy_the_secret_into_the_ta(seq: u64, signers: &[&str]) -> Vec<u8> {
    let m = probe_manifest(
        seq,
        &[&[TA_U, b"perso"], &[TA_U]],
        vec![],
        vec![
            int(12),
            int(1),
            int(20),
            map_of(22, int(0)),
            int(22),
            int(15),
        ],
    );
    sign_all(&m, signers)
}

/// Secrets the TA's header check would read differently: a PIN, and bytes shaped like
/// OP-TEE's header with an image type, a UUID or a version to read back.
fn secrets_shaped_like_ta_headers() -> [Vec<u8>; 4] {
    assert!(ta_header(1, TA_U, 9).len() == 40, "a well-formed header");
    [
        PIN.to_vec(),
        ta_header(7, TA_U, 1),
        ta_header(1, &[0x11; 16], 9),
        [ta_header(1, TA_U, 9), b"x".to_vec()].concat(),
    ]
}

/// Installs the copy signed by `signers` into a device holding each secret, and returns the
/// refusals, checked to be one and the same and to change nothing.
fn one_refusal_for_every_secret(signers: &[&str]) -> Refused {
    let answers: Vec<Refused> = secrets_shaped_like_ta_headers()
        .iter()
        .map(|secret| {
            let mut s = a_withheld_secret_under_a_shared_ta(secret);
            let before = snapshot(&s);
            let r = refusal(install(
                &mut s,
                &copy_the_secret_into_the_ta(1, signers),
                &[],
            ));
            assert!(
                snapshot(&s) == before,
                "the refused copy changed the device"
            );
            r
        })
        .collect();
    for r in &answers {
        assert_eq!(
            r.fault, answers[0].fault,
            "the refusal depends on the secret"
        );
    }
    answers[0].clone()
}

/// Tenant B copies tenant A's withheld secret into the TA component they share: the commit
/// would read it as a signed TA header and hand it to OP-TEE, whose outcome says something of
/// it even when no refusal names a field (pass or fail, against a version B chose). So the
/// copy takes A's signature, refused before anything is read; signed by both, the header
/// check's refusal names none of the secret's fields.
#[test]
fn a_co_owner_reads_nothing_of_a_withheld_secret_through_the_ta_header_check() {
    let alone = one_refusal_for_every_secret(&[B_PRIV]);
    says(
        &alone.reason,
        "not every anchor that owns the content allows it",
    );
    let with_the_owner = one_refusal_for_every_secret(&[A_PRIV, B_PRIV]);
    says(&with_the_owner.reason, "whose digest is withheld");
}

/// Tenant B installs its own image of the TA at version `v`, then copies A's secret (a
/// well-formed header at version 9) over it: the answer must not tell 8 from 9.
#[test]
fn a_co_owner_cannot_search_a_withheld_secrets_version_field() {
    let answer = |v: u32| {
        let mut s = a_withheld_secret_under_a_shared_ta(&ta_header(1, TA_U, 9));
        let own = probe_manifest(
            1,
            &[&[TA_U, b"perso"], &[TA_U]],
            vec![],
            vec![
                int(12),
                int(1),
                int(20),
                map_of(18, bytes(&ta_header(1, TA_U, v))),
                int(18),
                int(15),
            ],
        );
        install(&mut s, &sign(&own, B_PRIV), &[]).unwrap();
        s.backend_mut().refuse_tas = Some(0xffff_000f);
        refusal(install(
            &mut s,
            &copy_the_secret_into_the_ta(2, &[B_PRIV]),
            &[],
        ))
        .fault
    };
    assert_eq!(
        answer(8),
        answer(9),
        "the answer depends on the secret's version"
    );
}

/// The copy signed by both owners of a secret that is a well-formed header of the TA reaches
/// OP-TEE, whose refusal (its result code says why: signature, format) is reported without
/// its code, whether the TA marks the install unconfirmed or cannot write that mark (the
/// REE fails the write: the commit stays pending).
#[test]
fn op_tees_verdict_on_a_withheld_image_is_reported_without_its_code() {
    let code = |tee_result: u32, fail_at: Option<usize>| {
        let mut s = a_withheld_secret_under_a_shared_ta(&ta_header(1, TA_U, 9));
        s.backend_mut().refuse_tas = Some(tee_result);
        s.backend_mut().store_mut().fail_once_at = fail_at;
        let r = refusal(install(
            &mut s,
            &copy_the_secret_into_the_ta(1, &[A_PRIV, B_PRIV]),
            &[],
        ));
        (r.reason, r.fault)
    };
    // TEE_ERROR_SECURITY, TEE_ERROR_BAD_FORMAT
    let (security, format) = (code(0xffff_000f, None), code(0xffff_0005, None));
    says(&security.0, "OP-TEE did not confirm the install");
    assert_eq!(security.1, format.1, "the verdict's code left the TA");
    let pending = (0..100)
        .map(|n| (n, code(0xffff_000f, Some(n))))
        .find(|(_, (reason, _))| reason.contains("the update is pending"))
        .map(|(n, _)| n)
        .expect("a failed write leaves the commit pending");
    let (security, format) = (
        code(0xffff_000f, Some(pending)),
        code(0xffff_0005, Some(pending)),
    );
    assert_eq!(security.1, format.1, "the verdict's code left the TA");
}

const TA_B: &[u8] = &[0xb0; 16];

/// What TA `uuid` gets when it asks for its personalization data.
fn perso_of(s: &mut Service<Mem>, uuid: &[u8]) -> Option<Vec<u8>> {
    let caller = s.backend().client;
    s.backend_mut().client = suit_common::service::Client::TrustedApp(uuid.try_into().unwrap());
    let r: Result<PersonalizationResponse, _> = call(s, Command::PersonalizationGet, &Empty {});
    s.backend_mut().client = caller;
    r.ok().map(|p| p.data.to_vec())
}

/// Installs `envelope`, which must be refused because the content's owners did not all allow
/// the move, and change nothing.
fn refused_by_its_owners(s: &mut Service<Mem>, envelope: &[u8]) {
    let before = snapshot(s);
    let r = refusal(install(s, envelope, &[]));
    says(
        &r.reason,
        "not every anchor that owns the content allows it",
    );
    assert_eq!(snapshot(s), before, "a refused copy changes nothing");
}

/// Anchor 1 (tenant A) owns ['app-a'] and installed [`SECRET`] there (HPKE, digest public);
/// anchor 2 (tenant B) covers ['app-a'] too, TA [`TA_B`] and ['b']. Neither has
/// `ree_plaintext`.
fn a_secret_and_a_co_owner_with_a_ta() -> (Service<Mem>, Vec<u8>) {
    let config = Config::new(&sec1_from_pem(TPA_PUB), true).unwrap();
    let mut s = Service::new(MemoryBackend::new(3), config);
    provision(
        &mut s,
        1,
        vec![
            add_anchor(1, A_PUB, scope_of(&[&[b"app-a"]], false)),
            add_anchor(2, B_PUB, scope_of(&[&[b"app-a"], &[TA_B], &[b"b"]], false)),
            identity(),
        ],
    );
    let a = encrypt_for(&mut s, 1, Mode::Hpke, SECRET);
    let digest = Sha256::digest(SECRET).to_vec();
    let m = fetch_manifest(
        1,
        &[b"app-a"],
        "https://a.example/perso.bin",
        Some(&a.encryption_info),
        &digest,
        SECRET.len(),
    );
    install(
        &mut s,
        &sign(&m, A_PRIV),
        &[("https://a.example/perso.bin", &a.ciphertext)],
    )
    .unwrap();
    (s, digest)
}

/// Attack (review s31, high): tenant B shares ['app-a'] with tenant A and owns a TA. It copies
/// A's secret into its TA's personalization data (or, in two steps, through a component only
/// it covers), where its own TA's code reads it. Refused without A's signature, changing
/// nothing; with it the copy installs (A lets its content go there).
#[test]
fn a_co_owner_does_not_move_anothers_secret_to_where_its_own_ta_reads_it() {
    let (mut s, digest) = a_secret_and_a_co_owner_with_a_ta();
    let n = SECRET.len();
    let into_perso = copy_manifest(2, &[b"app-a"], &[TA_B, b"perso"], &digest, n);
    let into_ta = copy_manifest(2, &[b"app-a"], &[TA_B], &digest, n);
    let into_own = copy_manifest(2, &[b"app-a"], &[b"b", b"x"], &digest, n);
    for m in [&into_perso, &into_ta, &into_own] {
        refused_by_its_owners(&mut s, &sign(m, B_PRIV));
    }
    assert_eq!(perso_of(&mut s, TA_B), None);
    // Both owners signing: A lets its secret go to B's TA.
    install(&mut s, &sign_all(&into_perso, &[A_PRIV, B_PRIV]), &[]).unwrap();
    assert_eq!(perso_of(&mut s, TA_B).as_deref(), Some(SECRET));
}

/// The same through session 30's `kept` case: A's withheld PIN in ['app', 'pin'], A also
/// supplies the personalization data of B's TA (covers [TA_B, 'perso']), B covers ['app'] and
/// the TA. Every owner of the PIN owns the destination, but B's TA code reads it there.
#[test]
fn a_withheld_secret_does_not_move_into_a_co_owners_tas_personalization() {
    let config = Config::new(&sec1_from_pem(TPA_PUB), true).unwrap();
    let mut s = Service::new(MemoryBackend::new(3), config);
    provision(
        &mut s,
        1,
        vec![
            add_anchor(1, A_PUB, scope_of(&[&[b"app"], &[TA_B, b"perso"]], false)),
            add_anchor(2, B_PUB, scope_of(&[&[b"app"], &[TA_B]], false)),
            identity(),
        ],
    );
    let a = encrypt_for(&mut s, 1, Mode::Hpke, PIN);
    let uri = "https://a.example/pin.bin";
    let m = probe_manifest(
        1,
        &[&[b"app", b"pin"], &[b"app", b"pin", b"encrypted"]],
        vec![],
        fetch_and_decrypt(uri, &a.encryption_info, 15),
    );
    install(&mut s, &sign(&m, A_PRIV), &[(uri, &a.ciphertext)]).unwrap();
    let copy = probe_manifest(
        2,
        &[&[b"app", b"pin"], &[TA_B, b"perso"]],
        vec![],
        vec![
            int(12),
            int(1),
            int(20),
            map_of(22, int(0)),
            int(22),
            int(15),
        ],
    );
    refused_by_its_owners(&mut s, &sign(&copy, B_PRIV));
    assert_eq!(perso_of(&mut s, TA_B), None);
}

const TA_C: &[u8] = &[0xc0; 16];
const DATA_FOR_C: &[u8] = b"A's personalization data for C's TA";

/// A root signed by `signer` over `[TA_C, 'perso']` and dependency 1 (`dep_env`, whose
/// manifest is `dep`), which first runs `before` on component 0, then fetches, checks and
/// processes the dependency.
fn dependent_of(signer: &str, dep: &[u8], dep_env: &[u8], before: Vec<Value>) -> Vec<u8> {
    let shared = Value::Array(suit_test_support::check_vendor_class(
        vec![int(12), int(0)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        15,
    ));
    let common = suit_test_support::cbor(&Value::Map(vec![
        (
            int(1),
            Value::Map(vec![(int(1), map_of(1, segs(&[b"c", b"dep"])))]),
        ),
        (int(2), Value::Array(vec![segs(&[TA_C, b"perso"])])),
        (int(4), bytes(&suit_test_support::cbor(&shared))),
    ]));
    let dep_digest = suit_test_support::suit_digest(&suit_test_support::cbor(&bytes(dep)));
    let mut install = vec![int(12), int(0)];
    install.extend(before);
    install.extend(suit_test_support::fetch_check_process(
        1,
        &dep_digest,
        "#dep",
    ));
    let root = suit_test_support::cbor(&Value::Map(vec![
        (int(1), int(1)),
        (int(2), int(1)),
        (int(3), bytes(&common)),
        (
            int(20),
            bytes(&suit_test_support::cbor(&Value::Array(install))),
        ),
    ]));
    let key: SigningKey = p256_private_from_pem(signer);
    seal_one(&root, &key, Algorithm::Esp256, &[], &[("#dep", dep_env)])
}

/// Attack (re-review s31, medium): tenant A owns ['app-a'] (its secret) and supplies the
/// personalization data of tenant C's TA; C covers [TA_C] and ['c'], not ['app-a']. A's
/// manifest writes its data for C into ['app-a', 'buf'] and copies it into [TA_C, 'perso'],
/// choosing the source with set-parameters (the first value wins). C's root sets
/// source-component first, then processes A's manifest as its dependency: the copy A signed
/// would read A's secret, a source A never chose, and C's TA would read it. Only the signers
/// that chose the source speak for the move: refused, nothing changed; without the redirect
/// A's data reaches C's TA.
#[test]
fn a_dependent_does_not_aim_a_dependencys_copy_at_another_secret() {
    let run = |redirect: bool| {
        let config = Config::new(&sec1_from_pem(TPA_PUB), true).unwrap();
        let mut s = Service::new(MemoryBackend::new(3), config);
        provision(
            &mut s,
            1,
            vec![
                add_anchor(1, A_PUB, scope_of(&[&[b"app-a"], &[TA_C, b"perso"]], false)),
                add_anchor(2, B_PUB, scope_of(&[&[TA_C], &[b"c"]], false)),
                identity(),
            ],
        );
        let a = encrypt_for(&mut s, 1, Mode::Hpke, SECRET);
        let digest = Sha256::digest(SECRET).to_vec();
        let uri = "https://a.example/s.bin";
        let m = fetch_manifest(
            1,
            &[b"app-a"],
            uri,
            Some(&a.encryption_info),
            &digest,
            SECRET.len(),
        );
        install(&mut s, &sign(&m, A_PRIV), &[(uri, &a.ciphertext)]).unwrap();
        let dep = probe_manifest(
            2,
            &[&[TA_C, b"perso"], &[b"app-a", b"buf"], &[b"app-a"]],
            vec![],
            vec![
                int(12),
                int(1),
                int(20),
                map_of(18, bytes(DATA_FOR_C)),
                int(18),
                int(15),
                int(12),
                int(0),
                int(19),
                map_of(22, int(1)),
                int(22),
                int(15),
            ],
        );
        let dep_env = sign(&dep, A_PRIV);
        let before = if redirect {
            vec![int(19), map_of(22, int(2))]
        } else {
            vec![]
        };
        let unchanged = snapshot(&s);
        let r = install(&mut s, &dependent_of(B_PRIV, &dep, &dep_env, before), &[]);
        if redirect {
            says(
                &refusal(r).reason,
                "not every anchor that owns the content allows it",
            );
            assert_eq!(snapshot(&s), unchanged);
        } else {
            r.unwrap();
        }
        perso_of(&mut s, TA_C)
    };
    assert_eq!(run(false).as_deref(), Some(DATA_FOR_C));
    assert_eq!(run(true), None);
}

/// A co-owner stages its own bytes in ['app-a', 'x'] (a write: supplied), copies the other
/// owner's secret over them, then copies ['app-a', 'x'] into its TA's personalization data:
/// the staged record follows the second staging, so the last copy is refused.
#[test]
fn a_supplied_buffer_overwritten_with_a_secret_is_the_secrets_owners() {
    let (mut s, _) = a_secret_and_a_co_owner_with_a_ta();
    let m = probe_manifest(
        1,
        &[&[b"app-a"], &[b"app-a", b"x"], &[TA_B, b"perso"]],
        vec![],
        vec![
            int(12),
            int(1),
            int(20),
            map_of(18, bytes(b"junk")),
            int(18),
            int(15),
            int(12),
            int(1),
            int(20),
            map_of(22, int(0)),
            int(22),
            int(15),
            int(12),
            int(2),
            int(20),
            map_of(22, int(1)),
            int(22),
            int(15),
        ],
    );
    refused_by_its_owners(&mut s, &sign(&m, B_PRIV));
    assert_eq!(perso_of(&mut s, TA_B), None);
}

/// What the ownership rule must leave alone: the firmware-encryption draft's fetch into a
/// buffer, then a decrypting copy, by one signer, into its own TA's personalization data,
/// with the buffer in a component another anchor co-owns (the fetched ciphertext is no one's
/// secret).
#[test]
fn the_drafts_fetch_then_decrypting_copy_into_a_tas_data_installs_in_a_shared_scope() {
    let (mut s, _) = a_secret_and_a_co_owner_with_a_ta();
    let data = b"B's own personalization data";
    let b = encrypt_for(&mut s, 2, Mode::Hpke, data);
    let uri = "https://b.example/p.bin";
    let m = probe_manifest(
        1,
        &[&[TA_B, b"perso"], &[b"app-a", b"buf"]],
        vec![],
        fetch_and_decrypt(uri, &b.encryption_info, 15),
    );
    install(&mut s, &sign(&m, B_PRIV), &[(uri, &b.ciphertext)]).unwrap();
    assert_eq!(perso_of(&mut s, TA_B).as_deref(), Some(&data[..]));
}
