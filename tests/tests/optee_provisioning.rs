//! Provisioning inside OP-TEE on QEMU (two boots): an HMAC anchor key and a KEK reach the TA
//! only encrypted to its provisioning key; the TA's signed receipt verifies on the host
//! against the TPA's model; the REE dropping a message (a revocation) or replaying one is
//! refused inside the TA with the state unchanged; a KEK recipient and a COSE_Mac0 manifest
//! work end to end; an Ed25519 anchor is refused by the default TA build (device policy: its
//! `ed25519` feature is off) and changes nothing.
//!
//! One key, one anchor for secrets (session 15 review C1): HMAC zero-pads its key to the
//! 64-byte block, so an anchor whose secret is the HMAC anchor's padded with zero bytes holds
//! the same key; adding it is refused with the state unchanged. Without the padded comparison
//! in `same_key` the TA accepts it (checked: the message applied, counter 2).

use suit_tests::{
    author, boot, contains, copy_out_of_disk, enrolled_device, files_below, keys, write_text, Boot,
};

const HMAC_KEY: &[u8; 32] = b"qemu-test-hmac-anchor-key-32byte";
const KEK: &[u8; 16] = b"qemu-test-kek-16";

#[test]
fn encrypted_secrets_receipts_and_dropped_or_replayed_messages_inside_optee() {
    // Boot 1: the device's public keys leave the TA.
    let (dir, disk) = enrolled_device();
    let d = dir.path();

    // The TPA: messages 1 (secrets) and 2 (revoke the HMAC anchor), tracked in its model;
    // message 3 exists too (the REE will try to skip 2 with it).
    std::fs::write(d.join("operator.key"), HMAC_KEY).unwrap();
    std::fs::write(d.join("kek.bin"), KEK).unwrap();
    let tpa = keys::path("keys/tpa-test.priv.pem");
    let tpa = tpa.to_str().unwrap();
    let provision = |name: &str, json: &str, model: bool| {
        write_text(d, &format!("{name}.json"), json);
        let (j, c) = (format!("{name}.json"), format!("{name}.cbor"));
        let mut args = vec!["provision", j.as_str(), "--tpa-key", tpa, "-o", c.as_str()];
        if model {
            args.extend_from_slice(&["--state", "model.cbor"]);
        }
        author(d, &args);
    };
    provision(
        "p1",
        r#"{"counter": 1, "device-key": "identity.pub.pem", "provisioning-key": "provisioning.pub.pem",
            "ops": [
              {"add-anchor": {"id": 2, "hmac-key": "operator.key", "role": "author", "components": [["mac"]]}},
              {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [2]}},
              {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
        true,
    );
    provision(
        "p2",
        r#"{"counter": 2, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 2}]}"#,
        true,
    );
    provision(
        "p3",
        r#"{"counter": 3, "device-key": "identity.pub.pem", "ops": [{"remove-kek": "kek-1"}]}"#,
        false,
    );
    author(d, &["keygen", "--type", "ed25519", "-o", "ed"]);
    provision(
        "p4",
        r#"{"counter": 3, "device-key": "identity.pub.pem",
            "ops": [{"add-anchor": {"id": 3, "key": "ed.pub.pem", "role": "author", "components": [["ed"]]}}]}"#,
        false,
    );
    // Anchor 2's secret padded with zeros to the HMAC block: the same HMAC key under id 3,
    // sent in message 2's place (refused, so p2 still applies next).
    let mut padded = HMAC_KEY.to_vec();
    padded.resize(64, 0);
    std::fs::write(d.join("padded.key"), &padded).unwrap();
    provision(
        "twin",
        r#"{"counter": 2, "device-key": "identity.pub.pem", "provisioning-key": "provisioning.pub.pem",
            "ops": [{"add-anchor": {"id": 3, "hmac-key": "padded.key", "role": "author", "components": [["twin"]]}}]}"#,
        false,
    );
    for p in ["p1", "p2", "p3", "twin"] {
        let m = std::fs::read(d.join(format!("{p}.cbor"))).unwrap();
        assert!(
            !contains(&m, HMAC_KEY) && !contains(&m, KEK),
            "{p} carries a secret in clear"
        );
    }
    // An envelope MAC'd with the HMAC anchor key, its payload encrypted to the KEK.
    std::fs::write(
        d.join("fw.bin"),
        b"firmware behind a KEK, MAC'd by the operator",
    )
    .unwrap();
    write_text(
        d,
        "m.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
            "components": [{"id": ["mac"], "file": "fw.bin", "uri": "https://example.com/fw.bin",
              "encryption": {"content-alg": "A128GCM", "recipients": [{"kek": "kek.bin", "kid": "kek-1"}]}}]}"#,
    );
    author(
        d,
        &[
            "create",
            "m.json",
            "-o",
            "m.suit",
            "--hmac-key",
            "operator.key",
            "--payload-out",
            "m",
        ],
    );

    let puts: Vec<String> = [
        "p1.cbor",
        "p2.cbor",
        "p3.cbor",
        "p4.cbor",
        "twin.cbor",
        "m.suit",
        "m/fw.bin",
    ]
    .iter()
    .map(|f| format!("{}=/up/{f}", d.join(f).display()))
    .collect();
    let refused = |file: &str, text: &str| {
        format!("! suit-agent provision /up/{file} 2>/tmp/e; cat /tmp/e; grep -q '{text}' /tmp/e")
    };
    let cmds = [
        "suit-agent provision /up/p1.cbor --receipt-out /data/ree/r1.cose".to_string(),
        refused("p3.cbor", "skips message(s) 2..=2"),
        refused("p1.cbor", "replayed or older"),
        "suit-agent anchors --json".to_string(),
        "suit-agent install /up/m.suit --payload-dir /up/m".to_string(),
        refused("twin.cbor", "is already anchor 2"),
        "suit-agent anchors --json".to_string(),
        "suit-agent provision /up/p2.cbor --receipt-out /data/ree/r2.cose".to_string(),
        refused("p2.cbor", "replayed or older"),
        "suit-agent anchors --json".to_string(),
        refused("p4.cbor", "is not enabled on this device"),
        "suit-agent anchors --json".to_string(),
    ];
    let cmd_refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: puts.iter().map(String::as_str).collect(),
            ..Default::default()
        },
        &cmd_refs,
    );
    run.assert_ok();

    // After the refused skip and replay: message 1's state, the HMAC anchor listed without
    // its key.
    let a: serde_json::Value = serde_json::from_str(&run.command(3).output).unwrap();
    assert_eq!(a["provisioning-counter"], 1);
    assert_eq!(a["anchors"][0]["id"], 2);
    assert_eq!(a["anchors"][0]["key-type"], "symmetric");
    run.says(4, "'mac'");
    // The padded twin of anchor 2's secret changed nothing.
    let twin: serde_json::Value = serde_json::from_str(&run.command(6).output).unwrap();
    assert_eq!(
        twin, a,
        "a second anchor with anchor 2's HMAC key was added"
    );
    let a: serde_json::Value = serde_json::from_str(&run.command(9).output).unwrap();
    assert_eq!(a["provisioning-counter"], 2);
    assert_eq!(a["anchors"].as_array().map(Vec::len), Some(0));
    let after: serde_json::Value = serde_json::from_str(&run.command(11).output).unwrap();
    assert_eq!(after, a, "a refused Ed25519 anchor changed the state");
    let all_output: String = (0..cmds.len())
        .map(|i| run.command(i).output.clone())
        .collect();
    assert!(
        !all_output.contains(&hex::encode(HMAC_KEY)) && !all_output.contains(&hex::encode(KEK))
    );

    // The TPA checks the receipts: message 1 as sent, and message 2 against its model.
    let ree = copy_out_of_disk(&disk, "/ree");
    let receipt = |n: &str| ree.path().join(format!("ree/{n}")).display().to_string();
    let out = author(
        d,
        &[
            "verify-receipt",
            &receipt("r1.cose"),
            "--identity-key",
            "identity.pub.pem",
            "--message",
            "p1.cbor",
        ],
    );
    assert!(out.contains("applied provisioning message 1"), "{out}");
    let out = author(
        d,
        &[
            "verify-receipt",
            &receipt("r2.cose"),
            "--identity-key",
            "identity.pub.pem",
            "--message",
            "p2.cbor",
            "--expect-state",
            "model.cbor",
        ],
    );
    assert!(out.contains("applied provisioning message 2"), "{out}");

    // OP-TEE's REE-FS files never hold the secrets in clear.
    for (path, bytes) in files_below(copy_out_of_disk(&disk, "/tee").path()) {
        assert!(
            !contains(&bytes, HMAC_KEY) && !contains(&bytes, KEK),
            "{} holds a provisioned secret in clear",
            path.display()
        );
    }
}
