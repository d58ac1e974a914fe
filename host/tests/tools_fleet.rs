//! Fleets (issue 11): `provision --devices` makes one message per listed device (bound to its
//! identity key, secrets encrypted to the provisioning key its verified key statement gives),
//! named after the device id; `create`/`encrypt` broadcast one payload to a list of device
//! keys, bounded by the devices' recipient limit.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use suit_test_support::cli::{encrypted_app_description, ok, words, write};
use suit_test_support::says;
use suit_test_support::TPA_PRIV_PATH as TPA_PRIV;

suit_test_support::cli_tools!();

#[test]
fn a_fleet_is_provisioned_per_device_and_gets_one_broadcast_update() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let devices = ["dev1", "dev2", "dev3"];
    let mut kids = Vec::new();
    for dev in devices {
        ok(agent_state(d, dev, &["device-key", "--out-dir", dev]));
        let j: serde_json::Value = serde_json::from_str(
            &ok(agent_state(d, dev, &["device-key", "--format", "json"])).stdout,
        )
        .unwrap();
        kids.push(j["kid"].as_str().unwrap().to_string());
    }
    std::fs::write(
        d.join("fleet.txt"),
        "# the fleet: identity key (enrolled) and key statement\n\
         dev1/identity.pub.pem dev1/key-statement.cbor\n\
         \n\
         dev2/identity.pub.pem dev2/key-statement.cbor  # second\n\
         dev3/identity.pub.pem dev3/key-statement.cbor\n",
    )
    .unwrap();
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    std::fs::write(d.join("kek.bin"), [7u8; 16]).unwrap();
    std::fs::write(
        d.join("p.json"),
        r#"{"counter": 1, "device-key": "unused.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}},
        {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [1]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    )
    .unwrap();
    let r = ok(author(
        d,
        &[
            "provision",
            "p.json",
            "--tpa-key",
            TPA_PRIV,
            "--devices",
            "fleet.txt",
            "--out-dir",
            "msgs",
            "--state-dir",
            "models",
        ],
    ));
    says(&r.stdout, "3 device(s)");
    assert_eq!(
        r.stdout.matches("expected state digest").count(),
        3,
        "{}",
        r.stdout
    );
    // One message per device, named after its id; each device applies its own (the KEK in it
    // is encrypted to that device's provisioning key) and refuses another's.
    for (dev, kid) in devices.iter().zip(&kids) {
        let msg = format!("msgs/{kid}.cbor");
        assert!(d.join(&msg).exists(), "{msg}");
        if *dev == "dev1" {
            let r = agent_state(d, dev, &["provision", &format!("msgs/{}.cbor", kids[1])]);
            assert_eq!(r.code, 1, "{}", r.stderr);
        }
        ok(agent_state(
            d,
            dev,
            &["provision", &msg, "--receipt-out", "receipt.cbor"],
        ));
        // The TPA's model of this device predicts the state its receipt carries.
        ok(author(
            d,
            &[
                "verify-receipt",
                "receipt.cbor",
                "--identity-key",
                &format!("{dev}/identity.pub.pem"),
                "--message",
                &msg,
                "--expect-state",
                &format!("models/{kid}.model.cbor"),
            ],
        ));
        ok(agent_state(
            d,
            dev,
            &["device-key", "--anchor", "1", "--out-dir", dev],
        ));
    }
    assert_eq!(std::fs::read_dir(d.join("msgs")).unwrap().count(), 3);

    // Broadcast: one payload, one HPKE recipient per device (each anchor's own key).
    std::fs::write(
        d.join("keys.txt"),
        "dev1/anchor-1.hpke.pub.pem\ndev2/anchor-1.hpke.pub.pem\ndev3/anchor-1.hpke.pub.pem\n",
    )
    .unwrap();
    std::fs::write(d.join("fw.bin"), b"fleet firmware").unwrap();
    write(
        d,
        "m.json",
        encrypted_app_description(r#"[{"key-list": "keys.txt", "mode": "hpke"}]"#),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    for dev in devices {
        ok(agent_state(d, dev, &["install", "m.suit"]));
    }
    // encrypt takes the same list.
    let r = ok(author(
        d,
        &words("encrypt --payload fw.bin --recipient-list keys.txt --mode hpke --info-out info.cbor --ciphertext-out fw.enc"),
    ));
    says(&r.stdout, "3 recipient(s)");

    // Beyond the devices' recipient limit: refused with the limit named, nothing written.
    let many: String = (0..33).map(|i| format!("k{i}.pub.pem\n")).collect();
    std::fs::write(d.join("many.txt"), many).unwrap();
    let r = author(
        d,
        &words(
            "encrypt --payload fw.bin --recipient-list many.txt --info-out i2 --ciphertext-out c2",
        ),
    );
    assert_eq!(r.code, 2);
    says(&r.stderr, "at most 32");
    assert!(!d.join("c2").exists());
    std::fs::write(
        d.join("m2.json"),
        r#"{"sequence-number": 2, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["app"], "file": "fw.bin",
          "encryption": {"recipients": [{"key-list": "many.txt"}]}}]}"#,
    )
    .unwrap();
    let r = author(
        d,
        &words("create m2.json -o m2.suit --sign-key author.priv.pem"),
    );
    assert_eq!(r.code, 2);
    says(&r.stderr, "at most 32");
    assert!(!d.join("m2.suit").exists());

    // A key statement that is not the listed identity's is refused, naming the line.
    std::fs::write(
        d.join("mixed.txt"),
        "dev1/identity.pub.pem dev2/key-statement.cbor\n",
    )
    .unwrap();
    let r = author(
        d,
        &[
            "provision",
            "p.json",
            "--tpa-key",
            TPA_PRIV,
            "--devices",
            "mixed.txt",
            "--out-dir",
            "msgs2",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    says(&r.stderr, "mixed.txt line 1");
    assert!(!d.join("msgs2").exists());
}

/// With `--devices` the list gives each device's keys, so a description may leave out
/// `device-key` (as --help says); without it `device-key` is required. An error in the
/// description does not name a list line; one that depends on the device (no key statement
/// for a secret) does (review s30).
#[test]
fn a_fleet_description_needs_no_device_key_and_its_errors_blame_the_right_file() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent_state(d, "dev1", &["device-key", "--out-dir", "dev1"]));
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    std::fs::write(d.join("fleet.txt"), "dev1/identity.pub.pem\n").unwrap();
    std::fs::write(
        d.join("p.json"),
        r#"{"counter": 1, "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}}]}"#,
    )
    .unwrap();
    let fleet = |desc: &'static str, out_dir: &'static str| {
        author(
            d,
            &[
                "provision",
                desc,
                "--tpa-key",
                TPA_PRIV,
                "--devices",
                "fleet.txt",
                "--out-dir",
                out_dir,
                "--state-dir",
                "models",
            ],
        )
    };
    let r = ok(fleet("p.json", "msgs"));
    says(&r.stdout, "1 device(s)");
    // One device: required, with a sentence that says where the key comes from.
    let r = author(
        d,
        &suit_test_support::cli::provision_args("p.json", "one.cbor", &[]),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    says(&r.stderr, "p.json: \"device-key\" is missing");
    assert!(!d.join("one.cbor").exists());
    // A description error is the description's, not the list's.
    std::fs::write(
        d.join("bad.json"),
        r#"{"counter": 1, "ops": [{"add-anchor": {"id": 1, "role": "author"}}]}"#,
    )
    .unwrap();
    let r = fleet("bad.json", "msgs2");
    assert_eq!(r.code, 2, "{}", r.stderr);
    says(&r.stderr, "bad.json: anchor 1: give exactly one of");
    assert!(!r.stderr.contains("fleet.txt"), "{}", r.stderr);
    // A secret for a device listed without its key statement: the line is named.
    std::fs::write(d.join("kek.bin"), [7u8; 16]).unwrap();
    std::fs::write(
        d.join("kek.json"),
        r#"{"counter": 2, "ops": [{"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [1]}}]}"#,
    )
    .unwrap();
    let r = fleet("kek.json", "msgs3");
    assert_eq!(r.code, 2, "{}", r.stderr);
    says(&r.stderr, "which fleet.txt line 1 does not give");
    assert!(!d.join("msgs2").exists() && !d.join("msgs3").exists());
}
