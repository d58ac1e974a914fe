//! Review s42 (key and plaintext isolation, helper round): `ReeExport` and a revoked
//! `ree_plaintext`.
//!
//! Confidential content (decrypted, or copied from secure content) reaches an REE component
//! only under a signer whose anchor has `ree_plaintext`. The REE reads such a component
//! through `ReeExport`, at install time and any time after: before this review the export
//! checked only that the component was committed, so a TPA revoking the flag (a rescope
//! without it, or the anchor's removal) did not stop the TA from handing the plaintext out
//! again, and the revoked anchor itself could still copy its released file to another REE
//! path, which then exported as content nobody had to allow. The component record now names
//! the anchors whose flag released its content (by id and the key scope the device gave
//! each: an id added again is another anchor), and the export and every copy of it into the
//! REE need one of them to hold the flag still.

use sha2::{Digest as _, Sha256};

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite};
use suit_common::encryption::{encrypt_payload, CoseOptions, EncryptedPayload, Recipient};
use suit_common::protocol::*;
use suit_common::service::provision::Op;
use suit_common::service::state::{AnchorRecord, RoleRecord, Scope};
use suit_common::service::Service;
use suit_test_support::service::{
    bytes, call, cose_key, identity, install_with as install, int, provision_message, refusal,
    scope_of, service, snapshot, Mem, Refused,
};
use suit_test_support::{
    cbor, digest_shared, fetch_and_check, fetch_and_decrypt, p256_private_from_pem, seal_esp256,
    seal_one, suit_manifest, AUTHOR_PRIV as A_PRIV, AUTHOR_PUB as A_PUB, OPERATOR_PRIV as B_PRIV,
    OPERATOR_PUB as B_PUB,
};

use ciborium::Value;

const SECRET: &[u8] = b"tenant A's confidential REE configuration: token=5ec7e7";
const URI: &str = "https://a.example/a.conf.enc";

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

/// Anchor 1 (tenant A) and anchor 2 (tenant B) both cover ['ree']; A has `ree_plaintext`,
/// B has it if `b_flag`.
fn device(b_flag: bool) -> Service<Mem> {
    let mut s = service(suit_test_support::service::backend(3));
    provision(
        &mut s,
        1,
        vec![
            add_anchor(1, A_PUB, a_scope(true)),
            add_anchor(2, B_PUB, scope_of(&[&[b"app-b"], &[b"ree"]], b_flag)),
            identity(),
        ],
    );
    s
}

fn a_scope(ree_plaintext: bool) -> Scope {
    scope_of(&[&[b"app-a"], &[b"ree"]], ree_plaintext)
}

/// `plaintext` encrypted (HPKE, A128GCM) to anchor `anchor`'s own key, as its author does.
fn encrypt_for(s: &mut Service<Mem>, anchor: u32, plaintext: &[u8]) -> EncryptedPayload {
    let k: DeviceKeyResponse = call(
        s,
        Command::DeviceKey,
        &DeviceKeyRequest {
            anchor: Some(anchor),
        },
    )
    .unwrap();
    let k = k.anchor.unwrap();
    let public = p256::PublicKey::from_sec1_bytes(&k.hpke_key).unwrap();
    let r = Recipient::Hpke {
        kid: Some(&k.hpke_kid),
        public_key: &public,
        suite: HpkeSuite::Hpke0,
        psk: None,
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

/// Fetches `URI` into a buffer beside `component` and decrypts it into `component` with
/// `info` (the firmware-encryption draft's form), or fetches it as it is without `info`.
fn fetch_manifest(seq: u64, component: &[&[u8]], info: Option<&[u8]>, plain: &[u8]) -> Vec<u8> {
    let shared = digest_shared(0, &Sha256::digest(plain), plain.len(), 15);
    let mut components = vec![segs(component)];
    let install = match info {
        None => Value::Array([vec![int(12), int(0)], fetch_and_check(URI, 2, 15)].concat()),
        Some(info) => {
            let mut buffer: Vec<&[u8]> = component.to_vec();
            buffer.push(b"encrypted");
            components.push(segs(&buffer));
            Value::Array([fetch_and_decrypt(URI, info, 2), vec![int(3), int(15)]].concat())
        }
    };
    suit_manifest(seq as i64, components, &shared, &install)
}

/// Copies installed `from` into `to` (directive-copy), digest-checked.
fn copy_manifest(seq: u64, from: &[&[u8]], to: &[&[u8]], plain: &[u8]) -> Vec<u8> {
    let shared = digest_shared(1, &Sha256::digest(plain), plain.len(), 15);
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

/// Anchor 1's confidential file `a.conf`, installed (streamed, or stored as received and
/// decrypted at finish) and exported once, as the agent does at install time.
fn released(streamed: bool) -> Service<Mem> {
    let mut s = device(false);
    s.store_payloads_as_received(!streamed);
    let e = encrypt_for(&mut s, 1, SECRET);
    let m = fetch_manifest(1, &[b"ree", b"a.conf"], Some(&e.encryption_info), SECRET);
    install(&mut s, &sign(&m, A_PRIV), &[(URI, &e.ciphertext)]).unwrap();
    assert_eq!(export(&mut s, "a.conf").unwrap(), SECRET);
    s
}

/// Attack: after the TPA takes `ree_plaintext` from anchor 1 (a rescope without it), or
/// removes the anchor, the normal world asks the TA for the confidential file again: refused
/// (`Access`) while no anchor that released it holds the flag; the rescope that gives it back
/// lets it out again; an anchor added again under the same id is another anchor and does not.
#[test]
fn a_revoked_ree_plaintext_stops_exports_of_what_it_released() {
    for streamed in [true, false] {
        let mut s = released(streamed);
        provision(
            &mut s,
            2,
            vec![Op::Rescope {
                id: 1,
                scope: a_scope(false),
            }],
        );
        let r = refusal(export(&mut s, "a.conf"));
        assert_eq!(r.kind, RefusalKind::Access, "streamed {streamed}: {r:?}");
        assert!(
            r.reason.contains("a.conf") && r.reason.contains("ree_plaintext"),
            "{}",
            r.reason
        );
        // Other anchors' flags do not speak for it (anchor 2 has none here either way).
        provision(
            &mut s,
            3,
            vec![Op::Rescope {
                id: 1,
                scope: a_scope(true),
            }],
        );
        assert_eq!(export(&mut s, "a.conf").unwrap(), SECRET);

        provision(&mut s, 4, vec![Op::RemoveAnchor { id: 1 }]);
        assert_eq!(
            refusal(export(&mut s, "a.conf")).kind,
            RefusalKind::Access,
            "streamed {streamed}: exported after its anchor was removed"
        );
        provision(&mut s, 5, vec![add_anchor(1, A_PUB, a_scope(true))]);
        assert_eq!(
            refusal(export(&mut s, "a.conf")).kind,
            RefusalKind::Access,
            "streamed {streamed}: a re-added id spoke for the removed anchor's release"
        );
    }
}

/// Attack: the anchor whose flag was revoked, still covering ['ree'], copies its released
/// file to another REE path; anchor 2, with the flag, copies it there too, or into its own
/// secure component (to let it out later under its own flag). Before this review each copy
/// installed and the REE copy exported (REE content was copied as public). All refused now
/// with no state change; while anchor 1 holds the flag, its copy installs and exports, and
/// stays tied to anchor 1's flag.
#[test]
fn a_released_file_is_not_laundered_by_copying_it_to_another_ree_path() {
    let mut s = released(true);
    provision(
        &mut s,
        2,
        vec![
            Op::Rescope {
                id: 1,
                scope: a_scope(false),
            },
            Op::Rescope {
                id: 2,
                scope: scope_of(&[&[b"app-b"], &[b"ree"]], true),
            },
        ],
    );
    let ree_copy: &[&[u8]] = &[b"ree", b"copy.conf"];
    let secure_copy: &[&[u8]] = &[b"app-b"];
    for (signer, seq, to) in [
        (A_PRIV, 2, ree_copy),
        (B_PRIV, 3, ree_copy),
        (B_PRIV, 4, secure_copy),
    ] {
        let copy = copy_manifest(seq, &[b"ree", b"a.conf"], to, SECRET);
        let before = snapshot(&s);
        let r = refusal(install(&mut s, &sign(&copy, signer), &[]));
        assert_eq!(r.kind, RefusalKind::Manifest, "{r:?}");
        assert_eq!(snapshot(&s), before);
        assert_eq!(
            refusal(export(&mut s, "copy.conf")).kind,
            RefusalKind::NotFound
        );
    }
    // With anchor 1's flag back, its copy installs; revoked again, neither file leaves.
    provision(
        &mut s,
        3,
        vec![Op::Rescope {
            id: 1,
            scope: a_scope(true),
        }],
    );
    let copy = copy_manifest(5, &[b"ree", b"a.conf"], ree_copy, SECRET);
    install(&mut s, &sign(&copy, A_PRIV), &[]).unwrap();
    assert_eq!(export(&mut s, "copy.conf").unwrap(), SECRET);
    provision(
        &mut s,
        4,
        vec![Op::Rescope {
            id: 1,
            scope: a_scope(false),
        }],
    );
    for path in ["a.conf", "copy.conf"] {
        assert_eq!(refusal(export(&mut s, path)).kind, RefusalKind::Access);
    }
}

/// Control: a file that was never confidential (fetched as it is, no decryption) exports
/// whoever holds the flag, before and after revocations, as before this review; and a
/// released file replaced by public content is public again.
#[test]
fn public_ree_files_export_whatever_the_flags() {
    let mut s = released(true);
    let conf = b"mode=fast\n";
    let m = fetch_manifest(2, &[b"ree", b"plain.conf"], None, conf);
    install(&mut s, &sign(&m, B_PRIV), &[(URI, conf)]).unwrap();
    provision(
        &mut s,
        2,
        vec![Op::Rescope {
            id: 1,
            scope: a_scope(false),
        }],
    );
    assert_eq!(export(&mut s, "plain.conf").unwrap(), conf);
    assert_eq!(refusal(export(&mut s, "a.conf")).kind, RefusalKind::Access);
    // Anchor 1 replaces its file with public content: that exports again.
    let m = fetch_manifest(3, &[b"ree", b"a.conf"], None, conf);
    install(&mut s, &sign(&m, A_PRIV), &[(URI, conf)]).unwrap();
    assert_eq!(export(&mut s, "a.conf").unwrap(), conf);
}

/// The install sequence of a manifest on components `[ree, a.conf]` (0) and
/// `[ree, copy.conf]` (1) signed by anchor 2: a try-each whose first option decrypts `info`
/// (a payload for anchor 2's keys) into component `into` and then fails its image-digest
/// check, so the option is undone (and the nil option taken); then a.conf is copied into
/// copy.conf.
fn abandoned_decryption(into: i64, info: &[u8], ciphertext: &[u8]) -> Value {
    let other = cbor(&Value::Array(vec![int(-16), bytes(&[0x5a; 32])]));
    let attempt = Value::Array(vec![
        int(12),
        int(into),
        int(20),
        Value::Map(vec![
            (int(3), bytes(&other)),
            (int(18), bytes(ciphertext)),
            (int(19), bytes(info)),
        ]),
        int(18),
        int(2),
        int(3),
        int(15),
    ]);
    Value::Array(vec![
        int(12),
        int(0),
        int(15),
        Value::Array(vec![bytes(&cbor(&attempt)), Value::Null]),
        int(12),
        int(1),
        int(20),
        Value::Map(vec![(int(22), int(0))]),
        int(22),
        int(2),
        int(3),
        int(15),
    ])
}

/// Attack (review s42, second look): anchor 1's flag is revoked, so its released file may not
/// be copied any more. Anchor 2 (with the flag) first decrypts something into that file in a
/// try-each option that fails and is undone, then copies the file: the abandoned
/// attempt had noted anchor 2 as a releaser of the file's content, so the copy was allowed
/// and exported under anchor 2's flag. Refused now (what an undone staging noted is dropped
/// with it), state unchanged.
#[test]
fn an_abandoned_decryption_does_not_make_its_signer_a_releaser() {
    let mut s = released(true);
    provision(
        &mut s,
        2,
        vec![
            Op::Rescope {
                id: 1,
                scope: a_scope(false),
            },
            Op::Rescope {
                id: 2,
                scope: scope_of(&[&[b"app-b"], &[b"ree"]], true),
            },
        ],
    );
    let e = encrypt_for(&mut s, 2, b"anything");
    let shared = digest_shared(1, &Sha256::digest(SECRET), SECRET.len(), 15);
    let install = abandoned_decryption(0, &e.encryption_info, &e.ciphertext);
    let m = suit_manifest(
        5,
        vec![segs(&[b"ree", b"a.conf"]), segs(&[b"ree", b"copy.conf"])],
        &shared,
        &install,
    );
    let before = snapshot(&s);
    let r = refusal(install_signed(&mut s, &m, B_PRIV));
    assert_eq!(r.kind, RefusalKind::Manifest, "{r:?}");
    assert!(
        r.reason.contains("decrypted or secure content"),
        "{}",
        r.reason
    );
    assert_eq!(snapshot(&s), before);
    assert_eq!(
        refusal(export(&mut s, "copy.conf")).kind,
        RefusalKind::NotFound
    );
}

/// Attack: while anchor 1 holds the flag, anchor 2 decrypts into copy.conf in a try-each
/// option that is undone, then copies anchor 1's released file there (allowed: the copy stays
/// tied to anchor 1). The undone attempt tied the copy to anchor 2 as well, so it still
/// exported after anchor 1's flag was revoked. Now the copy is tied to anchor 1 only.
#[test]
fn an_abandoned_decryption_does_not_tie_a_copy_to_its_signer() {
    let mut s = released(true);
    provision(
        &mut s,
        2,
        vec![Op::Rescope {
            id: 2,
            scope: scope_of(&[&[b"app-b"], &[b"ree"]], true),
        }],
    );
    let e = encrypt_for(&mut s, 2, b"anything");
    let shared = digest_shared(1, &Sha256::digest(SECRET), SECRET.len(), 15);
    let install = abandoned_decryption(1, &e.encryption_info, &e.ciphertext);
    let m = suit_manifest(
        5,
        vec![segs(&[b"ree", b"a.conf"]), segs(&[b"ree", b"copy.conf"])],
        &shared,
        &install,
    );
    install_signed(&mut s, &m, B_PRIV).unwrap();
    assert_eq!(export(&mut s, "copy.conf").unwrap(), SECRET);
    provision(
        &mut s,
        3,
        vec![Op::Rescope {
            id: 1,
            scope: a_scope(false),
        }],
    );
    for path in ["a.conf", "copy.conf"] {
        assert_eq!(
            refusal(export(&mut s, path)).kind,
            RefusalKind::Access,
            "{path} exported after its only releaser lost the flag"
        );
    }
}

fn install_signed(
    s: &mut Service<Mem>,
    manifest: &[u8],
    signer: &str,
) -> Result<(), (Status, Refused)> {
    install(s, &sign(manifest, signer), &[]).map(|_| ())
}

/// The releases of REE component `path` as its record keeps them, by anchor id.
fn releasers(s: &Service<Mem>, path: &[u8]) -> Vec<u32> {
    let state = suit_common::service::state::State::load(s.backend().store()).unwrap();
    let id = suit_common::suit::ComponentId::new(&[b"ree", path]);
    let record = state.component(&id).expect("installed");
    record.released_by.iter().map(|r| r.anchor).collect()
}

/// Bound: a copy is tied only to the releases that still hold when it is made (one whose
/// anchor was removed never holds again: an id added again gets another key scope), so a
/// record's list never outgrows the anchors present, however anchors come and go between
/// copies of copies.
#[test]
fn a_copy_keeps_only_the_releases_that_hold() {
    let mut s = device(true);
    let e = encrypt_for(&mut s, 1, SECRET);
    let m = fetch_manifest(1, &[b"ree", b"a.conf"], Some(&e.encryption_info), SECRET);
    install(
        &mut s,
        &seal_esp256(&m, &[A_PRIV, B_PRIV], &[]),
        &[(URI, &e.ciphertext)],
    )
    .unwrap();
    assert_eq!(releasers(&s, b"a.conf"), [1, 2]);
    provision(&mut s, 2, vec![Op::RemoveAnchor { id: 2 }]);
    let copy = copy_manifest(2, &[b"ree", b"a.conf"], &[b"ree", b"copy.conf"], SECRET);
    install(&mut s, &sign(&copy, A_PRIV), &[]).unwrap();
    assert_eq!(releasers(&s, b"copy.conf"), [1]);
    assert_eq!(export(&mut s, "copy.conf").unwrap(), SECRET);
}
