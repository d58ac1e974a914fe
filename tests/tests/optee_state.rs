//! The TA's own state inside OP-TEE on QEMU: device keys and TPA provisioning survive
//! reboots, bad provisioning is refused, nothing secret is visible in the REE's copy of
//! secure storage, and a state record the REE deletes or corrupts is reported, not read as a
//! new device's.

use sha2::{Digest as _, Sha256};
use suit_common::cose::Algorithm;
use suit_common::protocol::ByteBuf;
use suit_common::service::provision::{author::seal, Op, ProvisioningBody};
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, Scope};
use suit_test_support::service::{scope, secret_anchor_op, SecretsTo};
use suit_tests::keys::{p256_cose_key, p256_signer, symmetric_cose_key};
use suit_tests::{boot, contains, copy_out_of_disk, files_below, Boot};

const TPA_PRIV: &str = "keys/tpa-test.priv.pem";
const AUTHOR_PUB: &str = "vectors/suit-manifest-spec/public_key.pem";
const AUTHOR_PRIV: &str = "vectors/suit-manifest-spec/private_key.pem";
/// A secret the TA keeps (a symmetric anchor key): it must never appear in the REE's files.
const HMAC_SECRET: &[u8; 32] = b"suit-e2e-hmac-anchor-secret-0001";

fn message(signer: &str, counter: u64, device: &[u8], ops: Vec<Op>) -> Vec<u8> {
    let body = ProvisioningBody {
        counter,
        device: ByteBuf::from(device.to_vec()),
        ops,
    };
    seal(&body, &p256_signer(signer), Algorithm::Esp256, b"").expect("sealing")
}

#[test]
fn device_keys_and_provisioning_persist_and_bad_messages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("data.img");
    let on_disk = || Boot {
        disk: Some(&disk),
        ..Default::default()
    };

    // Boot 1: the TA creates its keys; the REE exports the public half.
    let run = boot(
        on_disk(),
        &[
            "suit-agent device-key --format hex",
            "suit-agent device-key --format hex --which report",
            "suit-agent device-key --format hex --which provisioning",
        ],
    );
    run.assert_ok();
    let point = hex::decode(run.command(0).output.trim()).expect("hex point");
    assert_eq!(point.len(), 65);
    assert_ne!(
        run.command(0).output,
        run.command(1).output,
        "report and identity keys differ"
    );
    // Messages bind to the identity key; secrets are encrypted to the provisioning key.
    let kid = Sha256::digest(&point)[..16].to_vec();
    let prov_point = hex::decode(run.command(2).output.trim()).expect("hex point");
    let provisioning = p256::PublicKey::from_sec1_bytes(&prov_point).expect("P-256 point");
    let provisioning_kid = Sha256::digest(&prov_point)[..16].to_vec();
    // Wrapped for anchor 2 in a message the TPA root signs for this device.
    let to = SecretsTo {
        identity_kid: kid.clone(),
        provisioning,
        provisioning_kid,
    };
    let secret_anchor = secret_anchor_op(
        &to,
        suit_test_support::TPA_PRIV,
        2,
        RoleRecord::Operator,
        scope(&[b"app"]),
        &symmetric_cose_key(HMAC_SECRET),
    );

    // The TPA prepares messages for this device.
    let add = message(
        TPA_PRIV,
        1,
        &kid,
        vec![
            Op::AddAnchor(AnchorRecord {
                id: 1,
                cose_key: ByteBuf::from(p256_cose_key(AUTHOR_PUB)),
                role: RoleRecord::Author,
                scope: scope(&[b"app"]),
                key_scope: 0,
            }),
            secret_anchor,
            Op::SetIdentity(Identity {
                vendor_id: Some(ByteBuf::from(vec![0xfa; 16])),
                class_id: Some(ByteBuf::from(vec![0x14; 16])),
                device_id: None,
            }),
        ],
    );
    let not_tpa = message(AUTHOR_PRIV, 2, &kid, vec![Op::RemoveAnchor { id: 1 }]);
    let other_device = message(TPA_PRIV, 2, &[0u8; 16], vec![Op::RemoveAnchor { id: 1 }]);
    let rescope = message(
        TPA_PRIV,
        2,
        &kid,
        vec![Op::Rescope {
            id: 1,
            scope: scope(&[b"apps"]),
        }],
    );
    let files = [
        ("add", &add),
        ("not-tpa", &not_tpa),
        ("other-device", &other_device),
        ("rescope", &rescope),
    ];
    let mut puts = Vec::new();
    for (name, bytes) in files.into_iter().chain([("hmac", &HMAC_SECRET.to_vec())]) {
        let p = dir.path().join(format!("{name}.cbor"));
        std::fs::write(&p, bytes).unwrap();
        puts.push(format!("{}=/msg/{name}.cbor", p.display()));
    }
    let expect_refusal = |file: &str, text: &str| {
        format!("! suit-agent provision /msg/{file} 2>/tmp/e; cat /tmp/e; grep -q '{text}' /tmp/e")
    };

    // Boot 2: the agent relays them; the TA decides.
    let cmds = [
        "suit-agent provision /msg/add.cbor".to_string(),
        expect_refusal("add.cbor", "not greater than the applied counter"),
        expect_refusal("not-tpa.cbor", "not signed by the TPA root"),
        expect_refusal("other-device.cbor", "bound to another device"),
        "suit-agent provision /msg/rescope.cbor".to_string(),
        "suit-agent anchors --json".to_string(),
        // 6: the symmetric anchor key, unwrapped when it was added, is not left in the TA's
        // heap (freed blocks included).
        "suit-agent heap-scan /msg/hmac.cbor".to_string(),
    ];
    let cmd_refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let mut opts = on_disk();
    opts.puts = puts.iter().map(String::as_str).collect();
    let run = boot(opts, &cmd_refs);
    run.assert_ok();
    run.says(0, "added anchor 1");
    let anchors: serde_json::Value = serde_json::from_str(&run.command(5).output).unwrap();
    assert_eq!(anchors["provisioning-counter"], 2);
    assert_eq!(
        anchors["anchors"][0]["component-prefixes"][0],
        serde_json::json!(["61707073"])
    );
    assert_eq!(anchors["anchors"][1]["key-type"], "symmetric");
    suit_tests::assert_heap_scan_clean(&run.command(6).output, 1);

    // Neither the message the REE relayed nor the REE's copy of secure storage (read
    // straight off the disk image) holds the symmetric anchor key in clear.
    assert!(
        !contains(&add, HMAC_SECRET),
        "the provisioning message carries the secret in clear"
    );
    let tee_files = files_below(copy_out_of_disk(&disk, "/tee").path());
    assert!(
        tee_files.len() >= 3,
        "expected OP-TEE's REE-FS files, found {}",
        tee_files.len()
    );
    for (path, bytes) in &tee_files {
        assert!(
            !contains(bytes, HMAC_SECRET),
            "{} holds the anchor secret in clear",
            path.display()
        );
        assert!(
            !contains(bytes, &p256_cose_key(AUTHOR_PUB)),
            "{} holds the anchor store in clear",
            path.display()
        );
    }

    // Boot 3: everything is still there, and the device key did not change.
    let run = boot(
        on_disk(),
        &[
            "suit-agent anchors --json",
            "suit-agent device-key --format hex",
        ],
    );
    run.assert_ok();
    let anchors: serde_json::Value = serde_json::from_str(&run.command(0).output).unwrap();
    assert_eq!(anchors["provisioning-counter"], 2);
    assert_eq!(anchors["anchors"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        hex::decode(run.command(1).output.trim()).unwrap(),
        point,
        "device key changed across a reboot"
    );
}

/// The REE deletes one of the TA's objects (review s25). OP-TEE reports a missing REE-FS file
/// as a corrupt object and removes it from its directory at that open, so from then on the
/// object is simply absent. A fresh device's first key request stores the state record, then
/// the journal, then the device keys, under the next free file numbers: the lowest file it
/// adds is the state record. With it gone the TA must say so, not start over as a new device;
/// the keys stay as they were.
#[test]
fn a_deleted_state_record_is_reported_not_read_as_a_new_device() {
    let files = "ls /data/tee | grep -E '^[0-9]+$' | sort -n";
    let before = format!("{files} > /tmp/before");
    let added = format!("{files} | grep -vxF -f /tmp/before");
    let remove = format!("rm /data/tee/$({added} | head -1)");
    let run = boot(
        Boot::default(),
        &[
            "suit-agent status >/dev/null",
            &before,
            "suit-agent device-key --format hex",
            &added,
            &remove,
            // The first open after the deletion fails as corrupt; OP-TEE drops the entry.
            "suit-agent status >/dev/null; true",
            "suit-agent status; true",
            "suit-agent device-key --format hex",
        ],
    );
    run.assert_ok();
    let added: Vec<&str> = run.command(3).output.split_whitespace().collect();
    assert_eq!(added.len(), 3, "state, journal, keys: {added:?}");
    let status = &run.command(6).output;
    assert!(
        status.contains("STATE ERROR") && status.contains("was deleted"),
        "{status}"
    );
    assert_eq!(
        run.command(7).output,
        run.command(2).output,
        "the device keys are not remade"
    );
}

/// The REE corrupts a data block of the state record that OP-TEE checks only when it is read
/// (review s38). OP-TEE's REE FS verifies a file's headers and hash-tree nodes at the open and
/// the object's first data block (it holds OP-TEE's object header, read at the open too); a
/// later block is decrypted and its tag checked only when read. An anchor with a scope of
/// 16 x 6 x 64 bytes makes the state record ~6.5 KiB (data blocks 0 and 1), the only object of
/// the device with more than one data block: the only REE-FS file longer than 16 KiB (file
/// blocks 0 and 1 hold the headers and nodes, data block n is file block 2n+2 or 2n+3, one per
/// version). Both versions of data block 1 are overwritten. The secure log shows the failure
/// came from `syscall_storage_obj_read` and not from the open; OP-TEE then deletes the object
/// and closes the handle itself, so the TA must not close it again (ta/src/objects.rs: a
/// failed close is logged). Then: a typed storage refusal, no panic, and the next command
/// finds the record gone and says so, as for a deleted one; the device keys stay.
#[test]
fn a_state_record_corrupt_past_its_first_block_is_refused_at_the_read() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("data.img");
    let on_disk = || Boot {
        disk: Some(&disk),
        ..Default::default()
    };
    let run = boot(on_disk(), &["suit-agent device-key --format hex"]);
    run.assert_ok();
    let key = run.command(0).output.clone();
    let kid = Sha256::digest(hex::decode(key.trim()).expect("hex point"))[..16].to_vec();

    let wide = Scope {
        component_prefixes: (0..16u8)
            .map(|i| {
                (0..6u8)
                    .map(|j| ByteBuf::from(vec![b'a' + i + j; 64]))
                    .collect()
            })
            .collect(),
        ..scope(&[b"app"])
    };
    let add = message(
        TPA_PRIV,
        1,
        &kid,
        vec![Op::AddAnchor(AnchorRecord {
            id: 1,
            cose_key: ByteBuf::from(p256_cose_key(AUTHOR_PUB)),
            role: RoleRecord::Author,
            scope: wide,
            key_scope: 0,
        })],
    );
    let msg = dir.path().join("add.cbor");
    std::fs::write(&msg, &add).unwrap();
    let put = format!("{}=/msg/add.cbor", msg.display());
    // The numbered REE-FS files longer than 16 KiB; exactly one, or the command fails.
    let long = "for f in /data/tee/*; do case ${f##*/} in *[!0-9]*) ;; \
                *) [ $(stat -c %s $f) -gt 16384 ] && echo $f;; esac; done";
    let tamper = format!(
        "f=$({long}); echo \"$f $(stat -c %s $f)\"; [ $(echo $f | wc -w) -eq 1 ] || exit 1; \
         for b in 4 5; do at=$((b * 4096 + 512)); [ $(stat -c %s $f) -gt $at ] && \
         dd if=/dev/urandom of=$f bs=16 count=1 seek=$((at / 16)) conv=notrunc 2>/dev/null; \
         done; sync; echo $f > /tmp/corrupted"
    );
    let mut opts = on_disk();
    opts.puts = vec![&put];
    let run = boot(
        opts,
        &[
            "suit-agent provision /msg/add.cbor",
            "suit-agent anchors --json | head -c 200; echo",
            &tamper,
            // 3: the first read of the record after the tampering.
            "suit-agent anchors --json 2>&1; echo \"exit=$?\"",
            // 4: OP-TEE removed the corrupt object at that read.
            "! test -e $(cat /tmp/corrupted)",
            "suit-agent status 2>&1; echo \"exit=$?\"",
            "suit-agent device-key --format hex",
        ],
    );
    run.assert_ok().assert_no_secure_panic();
    run.says(0, "added anchor 1");
    let refused = &run.command(3).output;
    assert!(
        refused.contains("refused by the TA (storage)")
            && refused.contains("a stored object is corrupt")
            && refused.contains("exit=3"),
        "{refused}"
    );
    let status = &run.command(5).output;
    assert!(
        status.contains("STATE ERROR") && status.contains("was deleted"),
        "{status}"
    );
    assert_eq!(run.command(6).output, key, "the device keys are not remade");

    let log = |what: &[&str]| {
        run.secure_log
            .lines()
            .filter(|l| what.iter().all(|w| l.contains(w)))
            .count()
    };
    assert_eq!(
        log(&["syscall_storage_obj_read", "Object corrupt"]),
        1,
        "not found corrupt at a read:\n{}",
        run.secure_log
    );
    // Nothing else was found corrupt: not at an open (`syscall_storage_obj_open`, "Head
    // corrupt", `ree_fs_open_primitive`).
    assert_eq!(log(&["orrupt"]), 1, "{}", run.secure_log);
    assert_eq!(
        log(&["storage handle close failed"]),
        0,
        "the TA closed a handle OP-TEE had closed:\n{}",
        run.secure_log
    );
}
