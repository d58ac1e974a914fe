//! Key isolation attacks on the TA's service (in-memory backend, over the wire protocol).
//!
//! The attacker holds one tenant's signing key (anchor B) and everything the normal world
//! sees, including tenant A's published manifests, encryption info and ciphertexts. Each test
//! names the attack it proves refused; a refused install changes no stored object.

use ciborium::Value;
use sha2::{Digest as _, Sha256};
use suit_common::protocol::ByteBuf;

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite, KeyWrap};
use suit_common::encryption::{encrypt_payload, CoseOptions, EncryptedPayload, Recipient};
use suit_common::protocol::*;
use suit_common::service::memory::MemoryBackend;
use suit_common::service::provision::Op;
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, Scope};
use suit_common::service::statement::{self, StatementError};
use suit_common::service::{Config, Service};
use suit_test_support::{
    digest_shared, fetch_and_check, fetch_and_decrypt, seal_one, suit_manifest,
};

use suit_test_support::service::{
    bytes, call, cose_key, install_with as install, int, provision_message, refusal, sec1_from_pem,
    snapshot, Mem,
};
use suit_test_support::{p256_private_from_pem, CLASS_ID, VENDOR_ID};
// Tenant A signs with the manifest-spec key, tenant B with the firmware-encryption draft's.
use suit_test_support::says;
use suit_test_support::{
    AUTHOR_PRIV as A_PRIV, AUTHOR_PUB as A_PUB, OPERATOR_PRIV as B_PRIV, OPERATOR_PUB as B_PUB,
    TPA_PUB,
};

fn provision(s: &mut Service<Mem>, counter: u64, ops: Vec<Op>) {
    let _: DeviceKeyResponse = call(s, Command::DeviceKey, &DeviceKeyRequest::default()).unwrap();
    let message = provision_message(s, counter, ops);
    suit_test_support::service::provision(s, &message).unwrap();
}

fn scope(prefixes: &[&[&[u8]]], ree_plaintext: bool) -> Scope {
    Scope {
        component_prefixes: prefixes
            .iter()
            .map(|p| p.iter().map(|s| ByteBuf::from(s.to_vec())).collect())
            .collect(),
        vendor_ids: vec![],
        class_ids: vec![],
        ree_plaintext,
    }
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
            add_anchor(1, A_PUB, scope(&[&[b"app-a"], &[b"ree"]], ree_plaintext)),
            add_anchor(2, B_PUB, scope(&[&[b"app-b"], &[b"ree"]], ree_plaintext)),
            Op::SetIdentity(Identity {
                vendor_id: Some(ByteBuf::from(VENDOR_ID.to_vec())),
                class_id: Some(ByteBuf::from(CLASS_ID.to_vec())),
                device_id: None,
            }),
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
}

/// Encrypts `plaintext` to `anchor`'s exported key for `mode`, as tenant A's author does.
fn encrypt_for(
    s: &mut Service<Mem>,
    anchor: u32,
    mode: Mode,
    plaintext: &[u8],
) -> EncryptedPayload {
    let k = anchor_keys(s, anchor).anchor.unwrap();
    let (ecdh, hpke) = (point(&k.ecdh_es_key), point(&k.hpke_key));
    let r = match mode {
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
    encrypt_payload(
        plaintext,
        ContentAlgorithm::A128Gcm,
        &[r],
        &CoseOptions::SUIT,
        &mut rng,
    )
    .unwrap()
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

fn ree_export(s: &mut Service<Mem>, path: &str) -> Result<ReeExportResponse, (Status, Refusal)> {
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
#[test]
fn a_tenant_cannot_decrypt_another_tenants_payload_by_referencing_it() {
    for mode in [Mode::EcdhEs, Mode::Hpke] {
        let mut s = two_tenants(true);
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
            scope: scope(&[&[b"app-a"], &[b"ree"]], true),
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
        vec![add_anchor(1, A_PUB, scope(&[&[b"app-a"], &[b"ree"]], true))],
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
    // Any flipped byte: refused (malformed or bad signature, never accepted).
    for i in 0..k.statement.len() {
        let mut t = k.statement.to_vec();
        t[i] ^= 0x01;
        assert!(statement::verify(&t, &k.identity_key).is_err(), "byte {i}");
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
    use suit_common::suit::author::{seal_envelope, Signer};
    let mut s = two_tenants(false);
    provision(
        &mut s,
        2,
        vec![Op::Rescope {
            id: 2,
            scope: scope(&[&[b"app-b"], &[b"ree"]], true),
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
    let (ka, kb): (SigningKey, SigningKey) =
        (p256_private_from_pem(A_PRIV), p256_private_from_pem(B_PRIV));
    let signers = [
        Signer {
            key: &ka,
            alg: Algorithm::Esp256,
            kid: b"",
        },
        Signer {
            key: &kb,
            alg: Algorithm::Esp256,
            kid: b"",
        },
    ];
    let both = seal_envelope(&copy, &signers, &[], &[]).unwrap();
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
