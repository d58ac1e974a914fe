//! A component's `"plaintext-digest": false` (new-user review s30): an encrypted secret's
//! SHA-256 appears nowhere in the envelope, the device installs it on its AEAD tag alone and
//! keeps its digest from the REE; refused where nothing else would authenticate it. Run
//! against the built binaries (the agent with `--tee sim`).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use sha2::Digest as _;
use suit_test_support::cli::{fails, ok, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// A low-entropy personalization secret: a public digest of it gives it away to a few
/// thousand guesses.
const SECRET: &[u8] = b"PIN=4711";

/// A simulated device in `d` provisioned with the author anchor for `app`, anchor 1's payload
/// keys in `keys/`, and a P-256 key pair `dev.*.pem` for `verify --process`.
fn provisioned(d: &std::path::Path) {
    provisioned_app_device(d);
    ok(author(d, &words("keygen --type p256 -o dev")));
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
}

/// A description of `app` from `secret.bin`, with `extra` JSON members for the component.
fn description(extra: &str) -> String {
    format!(
        r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
        "components": [{{"id": ["app"], "file": "secret.bin"{extra}}}]}}"#
    )
}

/// The component's encryption with `alg` to the device's anchor 1 and to `dev.pub.pem`.
fn encryption(alg: &str) -> String {
    format!(
        r#", "encryption": {{"content-alg": "{alg}", "recipients": [
        {{"key": "keys/anchor-1.hpke.pub.pem", "mode": "hpke"}}, {{"key": "dev.pub.pem"}}]}}"#
    )
}

/// Whether `haystack` holds `needle`.
fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first installed component in `status --json`.
fn status_component(d: &std::path::Path) -> serde_json::Value {
    let r = ok(agent(d, &words("status --json")));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    j["service"]["components"][0].clone()
}

#[test]
fn a_secret_without_a_plaintext_digest_installs_and_its_digest_stays_in_the_ta() {
    let sha = sha2::Sha256::digest(SECRET).to_vec();
    for alg in ["A128GCM", "A256GCM", "ChaCha20/Poly1305"] {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        provisioned(d);
        write(d, "secret.bin", SECRET);
        write(
            d,
            "m.json",
            description(&format!(
                r#"{}, "plaintext-digest": false"#,
                encryption(alg)
            )),
        );
        let r = ok(author(
            d,
            &words("create m.json -o m.suit --sign-key author.priv.pem"),
        ));
        says(&r.stdout, "no plaintext digest (withheld)");
        let envelope = std::fs::read(d.join("m.suit")).unwrap();
        assert!(
            !holds(&envelope, &sha),
            "{alg}: the envelope names the digest"
        );
        let shown = hex::encode(&sha);
        assert!(
            !r.text().contains(&shown),
            "{alg}: create printed the digest"
        );

        // The author's checks take the form: offline, inspected, and on the simulator.
        ok(author(
            d,
            &words("verify m.suit --trust-anchor author.pub.pem"),
        ));
        let r = ok(author(d, &words("inspect m.suit")));
        assert!(
            !r.text().contains(&shown),
            "{alg}: inspect shows the digest"
        );
        let mut process = words("verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id board --device-key dev.priv.pem --out out");
        if alg.starts_with("ChaCha20") {
            process.extend(["--ta-features", "chacha20"]);
        }
        let r = ok(author(d, &process));
        says(&r.stdout, "OK: update applied");
        assert_eq!(
            std::fs::read(d.join("out/component-0.bin")).unwrap(),
            SECRET
        );

        // The device installs it and says nothing of its digest, in status or a report (the
        // simulator standing for a TA that has ChaCha20/Poly1305).
        ok(agent(
            d,
            &words("install m.suit --sim-ta-features chacha20"),
        ));
        let c = status_component(d);
        assert_eq!(c["id"], serde_json::json!(["617070"]), "{alg}: {c}");
        assert_eq!(c["digest"], "", "{alg}: {c}");
        assert_eq!(c["size"], SECRET.len(), "{alg}: {c}");
        let r = ok(agent(d, &words("status")));
        says(&r.stdout, "digest withheld");
        assert!(!r.stdout.contains(&shown), "{alg}: {}", r.stdout);
        let r = ok(agent(d, &words("report --nonce 00")));
        says(&r.stdout, "digest withheld");
        assert!(!r.stdout.contains(&shown), "{alg}: {}", r.stdout);
    }
}

#[test]
fn without_a_tag_or_encryption_plaintext_digest_false_is_refused_at_creation() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type p256 -o dev")));
    std::fs::create_dir(d.join("keys")).unwrap();
    std::fs::copy(d.join("dev.pub.pem"), d.join("keys/anchor-1.hpke.pub.pem")).unwrap();
    write(d, "secret.bin", SECRET);
    for (what, extra, says) in [
        (
            "A128CTR",
            format!(r#"{}, "plaintext-digest": false"#, encryption("A128CTR")),
            "\"plaintext-digest\": false needs an AEAD content-alg (A128GCM, A256GCM or ChaCha20/Poly1305), not A128CTR",
        ),
        (
            "A256CTR",
            format!(r#"{}, "plaintext-digest": false"#, encryption("A256CTR")),
            "not A256CTR: with neither a tag nor a digest nothing would authenticate",
        ),
        (
            "unencrypted",
            r#", "plaintext-digest": false"#.to_string(),
            "\"plaintext-digest\": false applies to encrypted components only",
        ),
        (
            "a normal-world file",
            format!(r#"{}, "plaintext-digest": false"#, encryption("A128GCM")),
            "does not apply to a normal-world file",
        ),
    ] {
        let m = description(&extra);
        let m = match what {
            "a normal-world file" => m.replace(r#""id": ["app"]"#, r#""id": ["ree", "etc", "x"]"#),
            _ => m,
        };
        write(d, "m.json", m);
        let r = fails(
            author(
                d,
                &words("create m.json -o m.suit --sign-key author.priv.pem"),
            ),
            2,
            says,
        );
        assert!(r.contains("components[0]"), "{what}: {r}");
        assert!(!d.join("m.suit").exists(), "{what}: m.suit written");
    }
}

#[test]
fn without_the_option_an_encrypted_components_digest_is_public_as_before() {
    let sha = sha2::Sha256::digest(SECRET).to_vec();
    for extra in ["", r#", "plaintext-digest": true"#] {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        provisioned(d);
        write(d, "secret.bin", SECRET);
        write(
            d,
            "m.json",
            description(&format!("{}{extra}", encryption("A128GCM"))),
        );
        ok(author(
            d,
            &words("create m.json -o m.suit --sign-key author.priv.pem"),
        ));
        let envelope = std::fs::read(d.join("m.suit")).unwrap();
        assert!(holds(&envelope, &sha), "{extra:?}: no plaintext digest");
        ok(agent(d, &words("install m.suit")));
        let c = status_component(d);
        assert_eq!(c["digest"], hex::encode(&sha), "{extra:?}: {c}");
    }
}
