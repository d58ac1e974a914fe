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
//!
//! Review s16 (s16-q2), same boot, all through `suit-author provision`/`create` and
//! `suit-agent`:
//! - R2: the root adds delegate 5 (role tpa, P-256). The delegate's message with counter 4
//!   (the root's next number, the shared-counter attack) is refused as a skip of the
//!   delegates' counter; its message 1 applies; adding a TPA anchor (8), re-scoping or
//!   removing itself (5) is refused (`RootOnly`); the root's message 4 then revokes it (root
//!   counter 4, delegates' counter 1) and its next message is refused. Checked without the
//!   fix: with one counter (`CounterKind::of` always `Root`) d4 applies and the root's
//!   revocation is refused as a replay ("counter 4 is not greater than the applied counter
//!   4"); without the root-only check in `apply_ops` the delegate adds anchor 8 (Tpa).
//! - R1: ['r1'] requires anchor 9; after the root removes anchor 9, author 10 alone is
//!   refused ("a required signer is missing"; before removal, 10 + 9 installs). Checked
//!   without the fix (`RemoveAnchor` stripping the id from rules): it installs.
//! - R3: ['r3'] requires an author; operator 9 (covers ['r3']) co-signing with author 10
//!   (covers only ['r1']) is refused. Checked without the fix (no scope test in
//!   `check_required_signers`): it installs.
//!
//! Review s17 S2 (s18-kekbind), same boot: delegate 5 replays the root's wrapped KEK from
//! message 1 (kek-1, granted to anchor 2) in its own message, removing kek-1 and adding it
//! again for its author 7. The wrap is bound to the root's key, the device and anchors [2],
//! so it does not open inside the TA and nothing changes (the delegates' counter stays 1).
//! With the earlier `external_aad` (operation and kid only) the message applies (the same
//! replay in common/tests/review_s17_kekbind.rs is accepted by main).
//!
//! Review s27, same boot: the REE applies the delegate's re-binding of id 7 (its author) to
//! another key before the root's message 4, which grants a KEK to author 7 by the key the root
//! knows: the wrap binds that key, so it does not open inside the TA and the message is
//! refused whole; the root's message 4 without the grant (the revocation) then applies. With
//! the wrap naming anchors by id only, the grant applied and the KEK went to the delegate's
//! key (the reviewer's simulator test of the same order, on the code before the fix).
//!
//! One key, one holder (session 18, s18-keyowner), same boot, root message 7: an anchor
//! holding the TPA root's own key and a KEK with kek-1's bytes under another id are refused
//! inside the TA, the anchors and counters unchanged, and the root's message 7 still applies
//! after them. The report the TA signs then carries both counters in its device state (root
//! 7, delegates 2, from d2-rebind).
//!
//! A response slot shorter than `MAX_RESPONSE` (review s32), same boot: root message 7 relayed
//! with a 16-byte slot is refused before it runs (`ResponseTooLarge`, `b` 65536) and then
//! applies with the agent's slot, its receipt given. Before the check the TA ran the command
//! and only then found the answer did not fit: the message stood applied, its receipt was
//! lost, and the retry was refused as a replay.

use suit_common::cose::Algorithm;
use suit_common::protocol::ByteBuf;
use suit_common::service::provision::{author::seal, Op, ProvisioningBody};
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
        r#"{"counter": 1, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
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
        r#"{"counter": 2, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
            "ops": [{"add-anchor": {"id": 3, "hmac-key": "padded.key", "role": "author", "components": [["twin"]]}}]}"#,
        false,
    );
    // Review s16 R2: a delegated TPA anchor (id 5, role tpa) added by the root's message 3,
    // signing on its own counter. "d4" is the shared-counter attack: the delegate takes the
    // number of the root's next message (4, the revocation p6) to turn it into a replay.
    author(d, &["keygen", "--type", "p256", "-o", "delegate"]);
    author(d, &["keygen", "--type", "p256", "-o", "author7"]);
    author(d, &["keygen", "--type", "p256", "-o", "delegate8"]);
    provision(
        "p5",
        r#"{"counter": 3, "device-key": "identity.pub.pem",
            "ops": [{"add-anchor": {"id": 5, "key": "delegate.pub.pem", "role": "tpa", "components": [[]]}}]}"#,
        false,
    );
    provision(
        "p6",
        r#"{"counter": 4, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 5}]}"#,
        false,
    );
    let by_delegate = |name: &str, json: &str| {
        write_text(d, &format!("{name}.json"), json);
        let (j, c) = (format!("{name}.json"), format!("{name}.cbor"));
        author(
            d,
            &["provision", &j, "--tpa-key", "delegate.priv.pem", "-o", &c],
        );
    };
    let add7 = r#"{"add-anchor": {"id": 7, "key": "author7.pub.pem", "role": "author", "components": [["d7"]]}}"#;
    by_delegate(
        "d4",
        &format!(r#"{{"counter": 4, "device-key": "identity.pub.pem", "ops": [{add7}]}}"#),
    );
    by_delegate(
        "d1",
        &format!(r#"{{"counter": 1, "device-key": "identity.pub.pem", "ops": [{add7}]}}"#),
    );
    // A delegate may not make another delegate, shield itself or re-scope a TPA anchor.
    by_delegate(
        "d2-add",
        r#"{"counter": 2, "device-key": "identity.pub.pem",
            "ops": [{"add-anchor": {"id": 8, "key": "delegate8.pub.pem", "role": "tpa", "components": [[]]}}]}"#,
    );
    by_delegate(
        "d2-remove",
        r#"{"counter": 2, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 5}]}"#,
    );
    by_delegate(
        "d2-rescope",
        r#"{"counter": 2, "device-key": "identity.pub.pem",
            "ops": [{"rescope": {"id": 5, "components": [["d7"]]}}]}"#,
    );
    by_delegate(
        "d2",
        r#"{"counter": 2, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 7}]}"#,
    );
    // Review s27: the REE orders the delegate's re-binding of id 7 to a key of its own before
    // the root's grant of a KEK to author 7 (p6-kek, the root's message 4 with the
    // revocation): the grant's wrap names author 7's key, so it does not open, and p6 (the
    // same number, without the KEK) applies after it.
    by_delegate(
        "d2-rebind",
        r#"{"counter": 2, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 7},
            {"add-anchor": {"id": 7, "key": "delegate8.pub.pem", "role": "author", "components": [["ree"]]}}]}"#,
    );
    std::fs::write(d.join("kek3.bin"), b"qemu-kek-three16").unwrap();
    provision(
        "p6-kek",
        r#"{"counter": 4, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
            "ops": [{"add-kek": {"kek": "kek3.bin", "kid": "kek-3", "anchors": [7],
                                 "anchor-keys": {"7": {"key": "author7.pub.pem"}}}},
                    {"remove-anchor": 5}]}"#,
        false,
    );
    // Review s17 S2: the delegate re-grants the root's KEK to its own author 7 by replaying
    // the wrapped bytes of message 1 (the REE relayed it: messages are not confidential).
    let p1 = std::fs::read(d.join("p1.cbor")).unwrap();
    let ciborium::Value::Array(parts) = ciborium::from_reader(&p1[..]).unwrap() else {
        panic!("p1 is not [body, auth]")
    };
    let p1_body: ProvisioningBody =
        suit_common::service::record::decode(parts[0].as_bytes().expect("body bstr"), 1 << 16)
            .unwrap();
    let stolen = p1_body
        .ops
        .iter()
        .find_map(|o| match o {
            Op::AddKek { wrapped_key, .. } => Some(wrapped_key.clone()),
            _ => None,
        })
        .expect("message 1 adds a KEK");
    let replay = ProvisioningBody {
        counter: 2,
        device: p1_body.device.clone(),
        ops: vec![
            Op::RemoveKek {
                kid: ByteBuf::from(b"kek-1".to_vec()),
            },
            Op::AddKek {
                kid: ByteBuf::from(b"kek-1".to_vec()),
                anchors: vec![7],
                wrapped_key: stolen,
            },
        ],
    };
    let delegate_key = suit_test_support::p256_private_from_pem_file(&d.join("delegate.priv.pem"));
    std::fs::write(
        d.join("d2-replay.cbor"),
        seal(&replay, &delegate_key, Algorithm::Esp256, b"").unwrap(),
    )
    .unwrap();
    // Review s16 R1 and R3 (root messages 5 and 6): operator 9 covers ['r1'] and ['r3'],
    // author 10 only ['r1']; ['r1'] requires anchor 9, ['r3'] an author.
    author(d, &["keygen", "--type", "p256", "-o", "op9"]);
    author(d, &["keygen", "--type", "p256", "-o", "a10"]);
    provision(
        "p7",
        r#"{"counter": 5, "device-key": "identity.pub.pem", "ops": [
            {"add-anchor": {"id": 9, "key": "op9.pub.pem", "role": "operator", "components": [["r1"], ["r3"]]}},
            {"add-anchor": {"id": 10, "key": "a10.pub.pem", "role": "author", "components": [["r1"]]}},
            {"set-rules": [{"prefix": ["r1"], "require-roles": [], "require-anchors": [9]},
                           {"prefix": ["r3"], "require-roles": ["author"], "require-anchors": []}]}]}"#,
        false,
    );
    provision(
        "p8",
        r#"{"counter": 6, "device-key": "identity.pub.pem", "ops": [{"remove-anchor": 9}]}"#,
        false,
    );
    // One key, one holder (root message 7, sent after p8): refused, then p9 applies.
    std::fs::copy(keys::path("keys/tpa-test.pub.pem"), d.join("root.pub.pem")).unwrap();
    provision(
        "rootkey",
        r#"{"counter": 7, "device-key": "identity.pub.pem",
            "ops": [{"add-anchor": {"id": 11, "key": "root.pub.pem", "role": "author", "components": [["k"]]}}]}"#,
        false,
    );
    provision(
        "kektwin",
        r#"{"counter": 7, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor",
            "ops": [{"add-kek": {"kek": "kek.bin", "kid": "kek-2", "anchors": [10],
                                 "anchor-keys": {"10": {"key": "a10.pub.pem"}}}}]}"#,
        false,
    );
    provision(
        "p9",
        r#"{"counter": 7, "device-key": "identity.pub.pem",
            "ops": [{"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
        false,
    );
    std::fs::write(d.join("r.bin"), b"a component under a rule").unwrap();
    let create = |name: &str, seq: u32, component: &str, keys: &[&str]| {
        write_text(
            d,
            &format!("{name}.json"),
            &format!(
                r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
                    "components": [{{"id": ["{component}"], "file": "r.bin", "uri": "https://example.com/r.bin"}}]}}"#
            ),
        );
        let (j, o) = (format!("{name}.json"), format!("{name}.suit"));
        let mut args = vec!["create", j.as_str(), "-o", o.as_str(), "--payload-out", "r"];
        for k in keys {
            args.extend_from_slice(&["--sign-key", k]);
        }
        author(d, &args);
    };
    create("r1-both", 1, "r1", &["a10.priv.pem", "op9.priv.pem"]);
    create("r1-alone", 2, "r1", &["a10.priv.pem"]);
    create("r3-co", 1, "r3", &["op9.priv.pem", "a10.priv.pem"]);
    for p in ["p1", "p2", "p3", "twin", "kektwin"] {
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
        "p5.cbor",
        "p6.cbor",
        "d4.cbor",
        "d1.cbor",
        "d2-add.cbor",
        "d2-remove.cbor",
        "d2-rescope.cbor",
        "d2-replay.cbor",
        "d2-rebind.cbor",
        "p6-kek.cbor",
        "d2.cbor",
        "p7.cbor",
        "p8.cbor",
        "r1-both.suit",
        "r1-alone.suit",
        "r3-co.suit",
        "r/r.bin",
        "rootkey.cbor",
        "kektwin.cbor",
        "p9.cbor",
    ]
    .iter()
    .map(|f| format!("{}=/up/{f}", d.join(f).display()))
    .collect();
    // `text` single-quoted for the guest's shell (key ids are shown quoted: 'kek-1').
    let refused = |file: &str, text: &str| {
        let quoted = text.replace('\'', "'\\''");
        format!(
            "! suit-agent provision /up/{file} 2>/tmp/e; cat /tmp/e; grep -qF '{quoted}' /tmp/e"
        )
    };
    let cmds = [
        "suit-agent provision /up/p1.cbor --receipt-out /data/ree/r1.cose".to_string(),
        refused("p3.cbor", "skips message(s) 2..=2"),
        refused("p1.cbor", "replayed or older"),
        "suit-agent anchors --json".to_string(),
        "suit-agent install /up/m.suit --payload-dir /up/m".to_string(),
        refused("twin.cbor", "is already held by anchor 2"),
        "suit-agent anchors --json".to_string(),
        "suit-agent provision /up/p2.cbor --receipt-out /data/ree/r2.cose".to_string(),
        refused("p2.cbor", "replayed or older"),
        "suit-agent anchors --json".to_string(),
        refused("p4.cbor", "is not enabled on this device"),
        "suit-agent anchors --json".to_string(),
        // 12..: review s16 R2.
        "suit-agent provision /up/p5.cbor".to_string(),
        refused(
            "d4.cbor",
            "counter 4 skips message(s) 1..=3 of the delegated",
        ),
        "suit-agent provision /up/d1.cbor".to_string(),
        refused(
            "d2-add.cbor",
            "only the TPA root adds, removes or re-scopes TPA anchors (anchor 8)",
        ),
        refused(
            "d2-rescope.cbor",
            "only the TPA root adds, removes or re-scopes TPA anchors (anchor 5)",
        ),
        refused(
            "d2-remove.cbor",
            "only the TPA root adds, removes or re-scopes TPA anchors (anchor 5)",
        ),
        // 18: review s17 S2.
        refused(
            "d2-replay.cbor",
            "operation 1: the wrapped key does not open",
        ),
        // 19..: review s27 (the root's KEK grant after the delegate re-bound the id).
        "suit-agent provision /up/d2-rebind.cbor".to_string(),
        refused("p6-kek.cbor", "operation 0: the wrapped key does not open"),
        "suit-agent provision /up/p6.cbor".to_string(),
        "suit-agent anchors --json".to_string(),
        refused("d2.cbor", "not signed by the TPA root or a TPA anchor"),
        "suit-agent anchors --json".to_string(),
        // 25..: review s16 R1 and R3.
        "suit-agent provision /up/p7.cbor".to_string(),
        "suit-agent install /up/r1-both.suit --payload-dir /up/r".to_string(),
        "! suit-agent install /up/r3-co.suit --payload-dir /up/r 2>&1".to_string(),
        "suit-agent provision /up/p8.cbor".to_string(),
        "! suit-agent install /up/r1-alone.suit --payload-dir /up/r 2>&1".to_string(),
        "suit-agent status".to_string(),
        // 31..: one key, one holder; the report's device state.
        "suit-agent anchors --json".to_string(),
        refused(
            "rootkey.cbor",
            "anchor 11: its key is already held by the TPA root",
        ),
        refused(
            "kektwin.cbor",
            "KEK 'kek-2': its key is already held by KEK 'kek-1'",
        ),
        "suit-agent anchors --json".to_string(),
        // 35: a response slot too short for any answer (review s32): refused before the
        // message is applied, so 36 applies it and gives its receipt.
        "suit-agent short-slot /up/p9.cbor --slot 16".to_string(),
        "suit-agent provision /up/p9.cbor --receipt-out /data/ree/r9.cose".to_string(),
        "suit-agent device-key --which report".to_string(),
        "suit-agent report --nonce 0a --out /data/ree/state.cbor".to_string(),
        // 39..: requests the TA bounds before it copies them (review s35): one byte over
        // MAX_REQUEST, and one larger than the TA's whole heap (3 MiB), which without the
        // bound would be refused as an allocation failure, not as too large.
        format!(
            "suit-agent oversized-request --len {}",
            suit_common::protocol::MAX_REQUEST + 1
        ),
        "suit-agent oversized-request --len 4194305".to_string(),
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
    // R2: the delegate's attack on the root's number was refused, its own message 1 applied,
    // its TPA-anchor operations were refused, and the root's revocation (its message 4)
    // applied after all that; the revoked delegate's next message is refused.
    // (S2: the delegate's replay of the root's wrapped KEK was refused too: counter 1.)
    let r2: serde_json::Value = serde_json::from_str(&run.command(22).output).unwrap();
    assert_eq!(r2["provisioning-counter"], 4, "{r2}");
    assert_eq!(r2["delegate-counter"], 2, "{r2}");
    let ids: Vec<&serde_json::Value> = r2["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(ids, [7], "{r2}");
    let last: serde_json::Value = serde_json::from_str(&run.command(24).output).unwrap();
    assert_eq!(last, r2, "a revoked delegate's message changed the state");
    // R3: an author whose scope does not cover ['r3'] does not meet its author rule.
    run.says(27, "a required signer is missing");
    // R1: after anchor 9's removal its rule still stands: author 10 alone is refused.
    run.says(29, "a required signer is missing");
    run.says(30, "['r1']: sequence number 1,");
    assert!(
        !run.command(30).output.contains("['r3']"),
        "{}",
        run.command(30).output
    );
    // One key, one holder: both refused with nothing changed; message 7 still applies.
    let before: serde_json::Value = serde_json::from_str(&run.command(31).output).unwrap();
    assert_eq!(before["provisioning-counter"], 6, "{before}");
    let after: serde_json::Value = serde_json::from_str(&run.command(34).output).unwrap();
    assert_eq!(after, before, "a refused key changed the state");
    run.says(35, "status Some(ResponseTooLarge) b 65536 body 0 B");
    run.says(36, "provisioning message 7 (the root's counter) accepted");
    let too_large = format!(
        "status Some(RequestTooLarge) b {} body 0 B",
        suit_common::protocol::MAX_REQUEST
    );
    run.says(39, &too_large);
    run.says(40, &too_large);
    let last: serde_json::Value = serde_json::from_str(&run.command(41).output).unwrap();
    assert_eq!(
        last["provisioning-counter"], 7,
        "after the oversized requests: {last}"
    );
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
    let out = author(
        d,
        &[
            "verify-receipt",
            &receipt("r9.cose"),
            "--identity-key",
            "identity.pub.pem",
            "--message",
            "p9.cbor",
        ],
    );
    assert!(out.contains("applied provisioning message 7"), "{out}");
    // The signed report's device state: the root's counter 7 and the delegates' 2 (d2-rebind).
    write_text(
        d,
        "report.pub.pem",
        &suit_tests::pem_from(&run.command(37).output),
    );
    let report = suit_tests::verified_report(d, &ree.path().join("ree"), "state.cbor");
    let state = &report["device-state"];
    assert_eq!(
        (&state["provisioning-counter"], &state["delegate-counter"]),
        (&serde_json::json!(7), &serde_json::json!(2)),
        "{report}"
    );

    // OP-TEE's REE-FS files never hold the secrets in clear.
    for (path, bytes) in files_below(copy_out_of_disk(&disk, "/tee").path()) {
        assert!(
            !contains(&bytes, HMAC_KEY) && !contains(&bytes, KEK),
            "{} holds a provisioned secret in clear",
            path.display()
        );
    }
}

/// Encrypted reports inside OP-TEE (session 44; written, not yet run in QEMU by its author):
/// the TPA gives author anchor 1 a status tracker's P-256 key (`tracker-key`); the TA signs
/// the report of that anchor's install as a SUIT_Report_COSE_Encrypt0 sealed to it (HPKE-0,
/// inside the COSE_Sign1). On the host the signature verifies with the report key, the report
/// opens with the tracker's private key only (`suit-author verify-report --tracker-key`), and
/// nothing of it reads in clear; the agent shows it only as encrypted.
#[test]
fn an_encrypted_report_opens_with_the_tracker_key() {
    use suit_tests::{create_envelope, sign_provisioning, suit_author};
    let (dir, disk) = enrolled_device();
    let d = dir.path();
    author(d, &["keygen", "--type", "p256", "-o", "author"]);
    author(d, &["keygen", "--type", "p256", "-o", "tracker"]);
    author(d, &["keygen", "--type", "p256", "-o", "other"]);
    sign_provisioning(
        d,
        r#"{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]],
                            "tracker-key": "tracker.pub.pem"}},
            {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    std::fs::write(d.join("small.bin"), b"sealed-report test image").unwrap();
    let mut puts = vec![format!(
        "{}=/up/provision.cbor",
        d.join("provision.cbor").display()
    )];
    puts.extend(create_envelope(
        d,
        "app",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
            "reference-uri": "https://updates.example.com/app-1.suit",
            "components": [{"id": ["app"], "file": "small.bin"}]}"#,
    ));
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: puts.iter().map(String::as_str).collect(),
            ..Default::default()
        },
        &[
            "suit-agent provision /up/provision.cbor",
            "suit-agent install /up/app.suit --payload-dir /up/app",
            "suit-agent device-key --which report",
            "mkdir -p /data/reports",
            "suit-agent report --nonce 0a0b --out /data/reports/sealed.cbor",
            "suit-agent report --nonce 0c",
        ],
    );
    run.assert_ok();
    run.says(5, "encrypted to the status tracker's key");
    suit_tests::write_text(
        d,
        "report.pub.pem",
        &suit_tests::pem_from(&run.command(2).output),
    );
    let copied = copy_out_of_disk(&disk, "/reports");
    let sealed = copied.path().join("reports/sealed.cbor");
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(
        !contains(&bytes, b"https://updates.example.com/app-1.suit"),
        "the manifest's URI reads in clear in the signed report"
    );
    let sealed = sealed.to_str().unwrap();
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify-report", sealed, "--device-key", "report.pub.pem"];
        args.extend_from_slice(extra);
        std::process::Command::new(suit_author())
            .args(&args)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let closed = verify(&[]);
    assert_eq!(closed.status.code(), Some(1), "{closed:?}");
    assert!(String::from_utf8_lossy(&closed.stderr).contains("encrypted to a status tracker's key"));
    let wrong = verify(&["--tracker-key", "other.priv.pem"]);
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    let out = author(
        d,
        &[
            "verify-report",
            sealed,
            "--device-key",
            "report.pub.pem",
            "--tracker-key",
            "tracker.priv.pem",
            "--nonce",
            "0a0b",
            "--json",
        ],
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["encrypted"], true, "{j}");
    assert_eq!(j["result"]["success"], true, "{j}");
    assert_eq!(
        j["manifest-uri"], "https://updates.example.com/app-1.suit",
        "{j}"
    );
}
