//! A new user's review of limits, JSON and help (session 29), one test per finding, run
//! against the built binaries (the agent with `--tee sim`).

use suit_test_support::cli::{encrypted_app_description, fails, ok, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// A payload whose ciphertext no device takes (64 MiB + 1 of plaintext: the tag takes it past
/// the engine's one payload limit) is refused by `encrypt` and `create` before anything is
/// encrypted or written, naming both sizes, not left for `verify --process` and the device.
#[test]
fn a_payload_no_device_takes_is_refused_when_it_is_made() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let limit = suit_common::suit::interpreter::MAX_PAYLOAD_LEN;
    let plaintext = 64 * 1024 * 1024 + 1;
    let ciphertext = plaintext + 16;
    assert!(ciphertext > limit && plaintext <= limit);
    // Sparse: only its length matters.
    std::fs::File::create(d.join("fw.bin"))
        .unwrap()
        .set_len(plaintext)
        .unwrap();
    ok(author(d, &words("keygen --type p256 -o device")));
    ok(author(d, &words("keygen --type p256 -o author")));
    let sizes = format!("its ciphertext would be {ciphertext} bytes");
    let over = format!("more than the {limit} bytes a device takes as one payload");
    let r = fails(
        author(
            d,
            &words("encrypt --payload fw.bin --recipient device.pub.pem --info-out i.cbor --ciphertext-out c.bin"),
        ),
        2,
        &sizes,
    );
    says(&r, &over);
    write(
        d,
        "m.json",
        encrypted_app_description(r#"[{"key": "device.pub.pem", "mode": "hpke"}]"#),
    );
    let r = fails(
        author(
            d,
            &words("create m.json -o m.suit --sign-key author.priv.pem"),
        ),
        2,
        &sizes,
    );
    says(&r, &over);
    for f in ["i.cbor", "c.bin", "m.suit"] {
        assert!(!d.join(f).exists(), "{f} written");
    }
}
