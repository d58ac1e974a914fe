//! `suit-author` end to end: the built binary against the published vectors (copies under
//! tests/vectors) and create -> verify --process round trips.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
// `args!` builds owned argument vectors; many call sites only borrow them.
#![allow(clippy::useless_vec)]

use std::path::{Path, PathBuf};
use suit_test_support::args;
use suit_test_support::cli::spec_device;
use suit_test_support::cli::Out as Run;
use suit_test_support::{says, says_as};

suit_test_support::author_in_cwd!();

const PLAINTEXT: &[u8] = b"This is a real firmware image.";
use suit_test_support::{CLASS_UUID as CLASS, SPEC_SIGNED, SPEC_UNSIGNED, VENDOR_UUID as VENDOR};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn spec(name: &str) -> PathBuf {
    vectors().join("suit-manifest-spec").join(name)
}

fn fe(name: &str) -> PathBuf {
    vectors().join("suit-firmware-encryption").join(name)
}

fn refs(v: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
    v.iter().map(|s| s.as_os_str()).collect()
}

/// `r` failed (exit 1) for `reason` and wrote nothing to `out`.
fn refused_writing_nothing(r: &Run, reason: &str, out: &Path) {
    assert_eq!(r.code, 1, "{}", r.stderr);
    says(&r.stderr, reason);
    assert!(files_in(out).is_empty());
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ---------------------------------------------------------------- manifest-spec vectors

/// `verify` of the manifest-spec example `name` with the examples' key.
fn verify_spec(name: &str) -> Vec<std::ffi::OsString> {
    args![
        "verify",
        "--trust-anchor",
        spec("public_key.pem"),
        spec(name)
    ]
}

#[test]
fn every_signed_spec_example_verifies() {
    for name in SPEC_SIGNED {
        let a = verify_spec(name);
        let r = ok(&refs(&a));
        says_as(name, &r.stdout, "OK: authentic and well-formed");
        says_as(name, &r.stdout, "signed by trust anchor #1");
        says_as(name, &r.stdout, "sequence-number:");
    }
}

#[test]
fn every_unsigned_spec_example_is_refused() {
    for name in SPEC_UNSIGNED {
        let a = verify_spec(name);
        let r = run(&a);
        assert_eq!(r.code, 1, "{name}");
        assert!(
            r.stderr.contains(
                "not authenticated: the authentication wrapper holds only a digest, no signature or MAC (unsigned envelope)"
            ),
            "{name}: {}",
            r.stderr
        );
        assert!(!r.stdout.contains("OK"), "{name}");
    }
}

/// `verify` refusals of the published vectors: each row is one command, the exit code and the
/// reason it must give (named in the failure message).
#[test]
fn wrong_keys_are_refused_with_the_reason_named() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.bin");
    std::fs::write(&wrong, [0x62u8; 32]).unwrap();
    // Too short for HMAC 256/256: an input error naming the file.
    let short = dir.path().join("short.bin");
    std::fs::write(&short, [0x62u8; 16]).unwrap();
    let cases = [
        (
            "a different P-256 key: the block is tried and fails",
            args![
                "verify",
                "--trust-anchor",
                fe("dependent_manifest_signer_es256_pub.pem"),
                spec("example1.signed.hex")
            ],
            1,
            "authentication block 0 does not verify with any given trust anchor",
        ),
        (
            "an HMAC key cannot check a signature at all",
            args![
                "verify",
                "--hmac-key",
                fe("hmac256_key.bin"),
                spec("example1.signed.hex")
            ],
            1,
            "no trust anchor fits any authentication block",
        ),
        (
            "the wrong HMAC key",
            args![
                "verify",
                "--hmac-key",
                &wrong,
                fe("suit-manifest-aes-kw.hex.signed")
            ],
            1,
            "authentication block 0 does not verify",
        ),
        (
            "an HMAC key too short",
            args![
                "verify",
                "--hmac-key",
                &short,
                fe("suit-manifest-aes-kw.hex.signed")
            ],
            2,
            "short.bin: HMAC key must be",
        ),
        (
            "only the operator's key: the integrated dependency does not authenticate",
            args![
                "verify",
                "--trust-anchor",
                fe("dependent_manifest_signer_es256_pub.pem"),
                fe("suit-manifest-es-ecdh-dependency.hex.signed")
            ],
            1,
            "integrated dependency #dependency-manifest: not authenticated: authentication block 0",
        ),
    ];
    for (name, a, code, expected) in cases {
        let r = run(&a);
        assert_eq!(r.code, code, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{name}: {}", r.stderr);
    }
}

#[test]
fn process_spec_example_fetches_by_last_uri_segment_and_checks_the_digest() {
    // example1 fetches http://example.com/file.bin; its digest is a dummy, so any payload
    // fails image-match and nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let payloads = dir.path().join("payloads");
    std::fs::create_dir(&payloads).unwrap();
    std::fs::write(payloads.join("file.bin"), vec![0u8; 34768]).unwrap();
    let out = dir.path().join("out");
    let a = [
        verify_spec("example1.signed.hex"),
        spec_device(),
        args!["--payload-dir", &payloads, "--out", &out],
    ]
    .concat();
    let r = run(&a);
    assert_eq!(r.code, 1, "{}", r.stdout);
    says(
        &r.stderr,
        "suit-install on component 0: image digest does not match",
    );
    assert!(files_in(&out).is_empty());

    // Without the payload the reason names the file looked for.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let a = [
        verify_spec("example1.signed.hex"),
        spec_device(),
        args!["--payload-dir", &empty],
    ]
    .concat();
    let r = run(&a);
    assert_eq!(r.code, 1);
    says(&r.stderr, "no file file.bin in");

    // The envelope may be anyone's: its URI picks a name in the directory, never a file
    // outside it through a symbolic link, and never anything but a regular file.
    let linked = dir.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink(payloads.join("file.bin"), linked.join("file.bin")).unwrap();
    let fifo = dir.path().join("fifo");
    std::fs::create_dir(&fifo).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(fifo.join("file.bin"))
        .status()
        .unwrap();
    assert!(made.success());
    for (d, reason) in [(&linked, "a symbolic link"), (&fifo, "not a regular file")] {
        let a = [
            verify_spec("example1.signed.hex"),
            spec_device(),
            args!["--payload-dir", d, "--out", &out],
        ]
        .concat();
        let r = run(&a);
        assert_eq!(r.code, 2, "{reason}: {}", r.stderr);
        says(&r.stderr, reason);
        assert!(files_in(&out).is_empty());
    }

    // A device of another vendor stops at the vendor check.
    let other_vendor = args![
        "--process",
        "--vendor-id",
        "00000000-0000-0000-0000-000000000001",
        "--class-id",
        CLASS,
        "--payload-dir",
        &payloads
    ];
    let a = [verify_spec("example1.signed.hex"), other_vendor].concat();
    let r = run(&a);
    assert_eq!(r.code, 1);
    says(&r.stderr, "vendor identifier does not match this device");
}

// ----------------------------------------------------------- firmware-encryption vectors

#[test]
fn mac0_vectors_verify_with_the_hmac_key() {
    for name in [
        "suit-manifest-aes-kw-content.hex.signed",
        "suit-manifest-aes-kw.hex.signed",
        "suit-manifest-aes-kw-slot.hex.signed",
    ] {
        let a = args!["verify", "--hmac-key", fe("hmac256_key.bin"), fe(name)];
        let r = ok(&refs(&a));
        says(&r.stdout, "block 0: Hmac256");
        says(&r.stdout, "(HMAC key)");
    }
}

/// `verify` of the draft's dependency example with the author's and the operator's keys.
fn verify_dependency() -> Vec<std::ffi::OsString> {
    args![
        "verify",
        "--trust-anchor",
        fe("signer_es256_pub.pem"),
        "--trust-anchor",
        fe("dependent_manifest_signer_es256_pub.pem"),
        fe("suit-manifest-es-ecdh-dependency.hex.signed")
    ]
}

#[test]
fn esp256_and_dependency_vectors_verify() {
    let a = args![
        "verify",
        "--trust-anchor",
        fe("signer_es256_pub.pem"),
        fe("suit-manifest-es-ecdh-content.hex.signed")
    ];
    let r = ok(&refs(&a));
    says(&r.stdout, "block 0: Esp256 (COSE alg -9)");

    let r = ok(&refs(&verify_dependency()));
    assert!(
        r.stdout.contains("signed by trust anchor #2"),
        "outer manifest is the operator's: {}",
        r.stdout
    );
    says(&r.stdout, "dependency envelope #dependency-manifest: authentic, sequence number 1, signed by trust anchor #1");
}

#[test]
fn dependency_vector_installs_the_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let key = fe("receiver_p256_ecdh_kid-2_private.jwk.json");
    let process = args!["--process", "--device-key", key, "--out", &out];
    let a = [verify_dependency(), process].concat();
    // The recipient says kid 'kid-2'; the device's key id is its own (see kid_mismatch_verdict).
    let r = run(&a);
    if kid_mismatch_verdict(&r, &out, PLAINTEXT) {
        says(&r.stdout, "OK: update applied");
        assert_eq!(files_in(&out), vec!["component-0.bin"]);
    }

    // Without the device key the write cannot decrypt.
    let out2 = dir.path().join("out2");
    let a = [verify_dependency(), args!["--process", "--out", &out2]].concat();
    let reason = "payload decryption failed: no recipient for this device's keys";
    refused_writing_nothing(&run(&a), reason, &out2);
}

#[test]
fn kek_vectors_install_once_the_kek_is_provisioned() {
    // `--process --kek` provisions the KEK to the simulated device (AddKek, encrypted to its
    // provisioning key, for its anchors), as a TPA does for a real one; the draft's AES-KW
    // vectors then decrypt and install the draft's plaintext.
    let dir = tempfile::tempdir().unwrap();
    let payloads = dir.path().join("payloads");
    std::fs::create_dir(&payloads).unwrap();
    std::fs::copy(
        fe("encrypted-payload-aes-kw-aes-gcm.bin"),
        payloads.join("encrypted-firmware"),
    )
    .unwrap();
    for name in [
        "suit-manifest-aes-kw-content.hex.signed",
        "suit-manifest-aes-kw.hex.signed",
    ] {
        // `verify --process` of `name` into `out` on the HMAC-keyed device, with `extra`.
        let process = |out: &Path, extra: Vec<std::ffi::OsString>| {
            let a = args!["verify", fe(name), "--process", "--out", out, "--hmac-key"];
            let payload_dir = args![fe("hmac256_key.bin"), "--payload-dir", &payloads];
            run(&[a, payload_dir, extra].concat())
        };
        let out = dir.path().join(name);
        let r = process(&out, args!["--kek", fe("kek_a128kw_kid-1.jwk.json")]);
        assert_eq!(r.code, 0, "{name}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(
            std::fs::read(out.join("component-0.bin")).unwrap(),
            b"This is a real firmware image.",
            "{name}"
        );
        // Decrypted plaintext: owner-only, whatever the umask.
        let mode = std::fs::metadata(out.join("component-0.bin"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077,
            0,
            "{name}"
        );
        // Without the KEK the device has no key for the recipient.
        let out = dir.path().join(format!("{name}-nokek"));
        let r = process(&out, vec![]);
        assert_eq!(r.code, 1, "{name}: {}", r.stdout);
        assert!(files_in(&out).is_empty());
    }
}

// ---------------------------------------------------------------- create round trips

struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Self {
        Keys {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn keygen(&self, kind: &str, name: &str, cose: bool) -> PathBuf {
        let prefix = self.path(name);
        let mut a = args!["keygen", "--type", kind, "--out", &prefix];
        if cose {
            a.push("--cose".into());
        }
        ok(&refs(&a));
        prefix
    }
}

fn with_suffix(p: &Path, s: &str) -> PathBuf {
    let mut o = p.as_os_str().to_owned();
    o.push(s);
    PathBuf::from(o)
}

fn firmware(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Writes a one-component description; returns its path.
fn describe(
    k: &Keys,
    name: &str,
    payload: &[u8],
    uri: Option<&str>,
    encryption: serde_json::Value,
) -> PathBuf {
    std::fs::write(k.path(&format!("{name}.bin")), payload).unwrap();
    let mut comp = serde_json::json!({
        "id": ["firmware", "hex:00"],
        "file": format!("{name}.bin"),
    });
    if let Some(u) = uri {
        comp["uri"] = u.into();
    }
    if !encryption.is_null() {
        comp["encryption"] = encryption;
    }
    let desc = serde_json::json!({
        "sequence-number": 3,
        "vendor-id": VENDOR,
        "class-id": CLASS,
        "components": [comp],
    });
    let p = k.path(&format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(&desc).unwrap()).unwrap();
    p
}

fn create(k: &Keys, desc: &Path, signer: &Path, extra: &[std::ffi::OsString]) -> PathBuf {
    let env = with_suffix(desc, ".suit");
    let mut a = args![
        "create",
        desc,
        "-o",
        &env,
        "--sign-key",
        with_suffix(signer, ".priv.pem"),
        "--payload-out",
        k.path("payloads")
    ];
    a.extend_from_slice(extra);
    ok(&refs(&a));
    env
}

fn process(env: &Path, signer_pub: &Path, extra: &[std::ffi::OsString], out: &Path) -> Run {
    let mut a = [
        args!["verify", "--trust-anchor", signer_pub, env],
        spec_device(),
        args!["--out", out],
    ]
    .concat();
    a.extend_from_slice(extra);
    run(&a)
}

#[test]
fn create_verify_process_round_trips_every_mode() {
    let k = Keys::new();
    let signer = k.keygen("p256", "signer", false);
    let dev = k.keygen("p256", "device", true);
    std::fs::write(k.path("kek16.bin"), [7u8; 16]).unwrap();
    let kek32 = k.path("kek32.cose");
    std::fs::write(
        &kek32,
        suit_host::author::keys::symmetric_cose_key(&[9u8; 32], Some(b"k32"))
            .unwrap()
            .as_slice(),
    )
    .unwrap();

    let payload = firmware(10_000, 1);
    let cases: Vec<(&str, serde_json::Value, Vec<std::ffi::OsString>)> = vec![
        ("plain", serde_json::Value::Null, vec![]),
        (
            "ecdh_gcm",
            serde_json::json!({"recipients": [{"key": "device.pub.pem"}]}),
            args!["--device-key", with_suffix(&dev, ".priv.pem")],
        ),
        (
            "ecdh_ctr_cose",
            serde_json::json!({"content-alg": "A256CTR", "recipients": [{"key": "device.pub.cose", "kid": "dev-1"}]}),
            args!["--device-key", with_suffix(&dev, ".priv.cose")],
        ),
        (
            "hpke_gcm",
            serde_json::json!({"content-alg": "A256GCM", "recipients": [{"key": "device.pub.pem", "mode": "hpke"}]}),
            args!["--device-key", with_suffix(&dev, ".priv.pem")],
        ),
        (
            "a128kw_ctr",
            serde_json::json!({"content-alg": "A128CTR", "recipients": [{"kek": "kek16.bin", "kid": "kid-1"}]}),
            args!["--kek", k.path("kek16.bin")],
        ),
        (
            "a256kw_gcm",
            serde_json::json!({"recipients": [{"kek": "kek32.cose"}]}),
            args!["--kek", &kek32],
        ),
        // The MTI profile suit-sha256-ed25519-ecdh-chacha-poly's key exchange and content
        // algorithm (its Ed25519 signer: agent_sim's chacha_poly_profile_installs_...).
        (
            "ecdh_chacha_poly",
            serde_json::json!({"content-alg": "ChaCha20/Poly1305", "recipients": [{"key": "device.pub.pem"}]}),
            args!["--device-key", with_suffix(&dev, ".priv.pem")],
        ),
        (
            "a128kw_chacha_poly",
            serde_json::json!({"content-alg": "chacha20/poly1305", "recipients": [{"kek": "kek16.bin"}]}),
            args!["--kek", k.path("kek16.bin")],
        ),
    ];
    for (name, enc, keys) in cases {
        for detached in [false, true] {
            let tag = format!(
                "{name}_{}",
                if detached { "detached" } else { "integrated" }
            );
            let uri = format!("https://updates.example.com/fw/{tag}.img");
            let desc = describe(
                &k,
                &tag,
                &payload,
                detached.then_some(uri.as_str()),
                enc.clone(),
            );
            let env = create(&k, &desc, &signer, &[]);
            let out = k.path(&format!("out-{tag}"));
            let mut extra = keys.clone();
            if detached {
                extra.extend(args!["--payload-dir", k.path("payloads")]);
                // The detached payload on disk is the ciphertext, never the plaintext.
                let delivered = std::fs::read(k.path(&format!("payloads/{tag}.img"))).unwrap();
                assert_eq!(delivered == payload, enc.is_null(), "{tag}");
            }
            if name.contains("chacha") {
                // The TA's default build does not decrypt it; the simulator does.
                extra.extend(args!["--ta-features", "chacha20"]);
            }
            let r = process(&env, &with_suffix(&signer, ".pub.pem"), &extra, &out);
            // A `--kek` is provisioned to the simulated device (AddKek, for its anchors), as
            // a TPA provisions a real one: KEK recipients install like the others.
            if name == "ecdh_ctr_cose" && !kid_mismatch_verdict(&r, &out, &payload) {
                continue;
            }
            assert_eq!(r.code, 0, "{tag}\n{}\n{}", r.stdout, r.stderr);
            assert_eq!(files_in(&out), vec!["component-0.bin"], "{tag}");
            assert_eq!(
                std::fs::read(out.join("component-0.bin")).unwrap(),
                payload,
                "{tag}"
            );
            if !enc.is_null() {
                // And without the keys it is refused, with nothing written.
                let out2 = k.path(&format!("out2-{tag}"));
                let mut extra = Vec::new();
                if detached {
                    extra.extend(args!["--payload-dir", k.path("payloads")]);
                }
                let r = process(&env, &with_suffix(&signer, ".pub.pem"), &extra, &out2);
                assert_eq!(r.code, 1, "{tag}");
                says_as(&tag, &r.stderr, "payload decryption failed");
                assert!(files_in(&out2).is_empty(), "{tag}");
            }
        }
    }
}

#[test]
fn broadcast_to_three_devices_and_a_wrong_device() {
    let k = Keys::new();
    let signer = k.keygen("p256", "signer", false);
    for d in ["dev0", "dev1", "dev2", "stranger"] {
        k.keygen("p256", d, false);
    }
    let payload = firmware(5000, 7);
    let desc = describe(
        &k,
        "broadcast",
        &payload,
        Some("coaps://example.com/broadcast.enc"),
        serde_json::json!({"recipients": [
            {"key": "dev0.pub.pem"},
            {"key": "dev1.pub.pem", "mode": "hpke"},
            {"key": "dev2.pub.pem"}
        ]}),
    );
    let env = create(&k, &desc, &signer, &[]);
    let model = run(&args!["inspect", "--json", &env]);
    let json: serde_json::Value = serde_json::from_str(&model.stdout).unwrap();
    let recipients = &json["manifest"]["install"][5]["parameters"]["encryption-info"]["recipients"];
    assert_eq!(
        recipients.as_array().map(Vec::len),
        Some(3),
        "{}",
        model.stdout
    );
    for d in ["dev0", "dev1", "dev2"] {
        let out = k.path(&format!("out-{d}"));
        let extra = args![
            "--device-key",
            k.path(&format!("{d}.priv.pem")),
            "--payload-dir",
            k.path("payloads")
        ];
        let r = process(&env, &with_suffix(&signer, ".pub.pem"), &extra, &out);
        assert_eq!(r.code, 0, "{d}: {}", r.stderr);
        assert_eq!(
            std::fs::read(out.join("component-0.bin")).unwrap(),
            payload,
            "{d}"
        );
    }
    let out = k.path("out-stranger");
    let extra = args![
        "--device-key",
        k.path("stranger.priv.pem"),
        "--payload-dir",
        k.path("payloads")
    ];
    let r = process(&env, &with_suffix(&signer, ".pub.pem"), &extra, &out);
    assert_eq!(r.code, 1);
    says(&r.stderr, "payload decryption failed");
    says(&r.stderr, "nothing was installed");
    assert!(files_in(&out).is_empty());
}

#[test]
fn wrong_vendor_wrong_signer_and_tampering_are_refused() {
    let k = Keys::new();
    let signer = k.keygen("p256", "signer", false);
    let other = k.keygen("p256", "other", false);
    let payload = firmware(300, 3);
    let desc = describe(&k, "fw", &payload, None, serde_json::Value::Null);
    let env = create(&k, &desc, &signer, &[]);
    let out = k.path("out");

    let a = args![
        "verify",
        "--trust-anchor",
        with_suffix(&signer, ".pub.pem"),
        &env,
        "--process",
        "--vendor-id",
        "11111111-2222-3333-4444-555555555555",
        "--class-id",
        CLASS,
        "--out",
        &out
    ];
    let reason =
        "suit-shared-sequence on component 0: vendor identifier does not match this device";
    refused_writing_nothing(&run(&a), reason, &out);

    let r = process(&env, &with_suffix(&other, ".pub.pem"), &[], &out);
    assert_eq!(r.code, 1);
    says(&r.stderr, "authentication block 0 does not verify");

    // Flip one byte of the (integrated) payload, of the manifest, and of the signature.
    let bytes = std::fs::read(&env).unwrap();
    let pos_payload = bytes.len() - 10;
    let pos_manifest = bytes.windows(8).position(|w| w == b"firmware").unwrap();
    let pos_signature = 60;
    for (what, pos, expect) in [
        ("payload", pos_payload, "image digest does not match"),
        ("manifest", pos_manifest, "the manifest was modified"),
        ("signature", pos_signature, "authentication block 0"),
    ] {
        let mut t = bytes.clone();
        t[pos] ^= 0x01;
        let tampered = k.path(&format!("tampered-{what}.suit"));
        std::fs::write(&tampered, &t).unwrap();
        let r = process(&tampered, &with_suffix(&signer, ".pub.pem"), &[], &out);
        assert_eq!(r.code, 1, "{what}");
        assert!(r.stderr.contains(expect), "{what}: {}", r.stderr);
        assert!(files_in(&out).is_empty(), "{what}");
    }
}

#[test]
fn multi_component_ta_uuid_hmac_and_ed25519_signers() {
    let k = Keys::new();
    let ed = k.keygen("ed25519", "ed", true);
    std::fs::write(k.path("hmac.key"), [0x5au8; 32]).unwrap();
    // A TA component must be a signed TA image naming its UUID: the device checks the header.
    std::fs::write(k.path("ta.bin"), ta_image(TA_UUID, 2)).unwrap();
    std::fs::write(k.path("cfg.bin"), b"config").unwrap();
    let desc = serde_json::json!({
        "sequence-number": 7,
        "vendor-id": {"name": "example.com"},
        "class-id": {"name": "board-a"},
        "device-id": "01234567-89ab-cdef-0123-456789abcdef",
        "manifest-component-id": ["manifests", "ta"],
        "components": [
            {"ta-uuid": "8aaaf200-2450-11e4-abe2-0002a5d5c51b", "file": "ta.bin"},
            {"id": ["config"], "file": "cfg.bin", "uri": "https://example.com/cfg.bin"}
        ]
    });
    let d = k.path("multi.json");
    std::fs::write(&d, desc.to_string()).unwrap();
    let env = k.path("multi.suit");
    ok(&refs(&args![
        "create",
        &d,
        "-o",
        &env,
        "--sign-key",
        with_suffix(&ed, ".priv.pem"),
        "--hmac-key",
        k.path("hmac.key"),
        "--payload-out",
        k.path("p")
    ]));
    let vendor = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"example.com");
    let class = uuid::Uuid::new_v5(&vendor, b"board-a");
    // `verify --process` of the envelope on the device `device_id` of that vendor and class.
    let on_device = |device_id: &str| {
        let (vendor, class) = (vendor.to_string(), class.to_string());
        let device = args![
            "--vendor-id",
            vendor,
            "--class-id",
            class,
            "--device-id",
            device_id
        ];
        [
            args!["verify", &env, "--process"],
            device,
            args!["--payload-dir", k.path("p")],
        ]
        .concat()
    };
    for anchor in [
        args!["--trust-anchor", with_suffix(&ed, ".pub.pem")],
        args!["--trust-anchor", with_suffix(&ed, ".pub.cose")],
        args!["--hmac-key", k.path("hmac.key")],
    ] {
        let out = k.path("out");
        let _ = std::fs::remove_dir_all(&out);
        let mut a = on_device("01234567-89ab-cdef-0123-456789abcdef");
        // The Ed25519 signer needs the TA feature the default build lacks.
        a.extend(args!["--out", &out, "--ta-features", "ed25519"]);
        a.extend(anchor);
        let r = run(&a);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert_eq!(files_in(&out), vec!["component-0.bin", "component-1.bin"]);
        assert_eq!(
            std::fs::read(out.join("component-0.bin")).unwrap(),
            ta_image(TA_UUID, 2)
        );
        assert_eq!(
            std::fs::read(out.join("component-1.bin")).unwrap(),
            b"config"
        );
    }
    // Another device id is refused.
    let mut a = on_device("01234567-89ab-cdef-0123-000000000000");
    a.extend(args!["--hmac-key", k.path("hmac.key")]);
    let r = run(&a);
    assert_eq!(r.code, 1);
    says(&r.stderr, "device identifier does not match");

    // inspect: the JSON parses and names both blocks; the diag view shows the tag.
    let r = ok(&refs(&args!["inspect", "--json", &env]));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["verified"], false);
    assert_eq!(j["manifest"]["sequence-number"], 7);
    assert_eq!(j["authentication"]["blocks"][0]["algorithm"], "Ed25519");
    assert_eq!(j["authentication"]["blocks"][1]["structure"], "COSE_Mac0");
    assert_eq!(
        j["manifest"]["common"]["components"][0][0],
        "8aaaf200245011e4abe20002a5d5c51b"
    );
    let r = ok(&refs(&args!["inspect", "--diag", &env]));
    assert!(r.stdout.starts_with("107("), "{}", r.stdout);
    let r = ok(&refs(&args!["inspect", &env]));
    says(&r.stdout, "NOT VERIFIED");
}

#[test]
fn es256_option_and_description_errors() {
    let k = Keys::new();
    let signer = k.keygen("p256", "signer", false);
    let desc = describe(&k, "fw", b"x", None, serde_json::Value::Null);
    let env = create(&k, &desc, &signer, &args!["--alg", "es256"]);
    let r = ok(&refs(&args![
        "verify",
        "--trust-anchor",
        with_suffix(&signer, ".pub.pem"),
        &env
    ]));
    says(&r.stdout, "block 0: Es256 (COSE alg -7)");

    // `create` of a description with `key`: an input error (exit 2) naming the problem.
    let create_with = |desc: &Path, key: &str| {
        let a = args!["create", desc, "-o", k.path("x.suit"), "--sign-key"];
        run(&[a, args![with_suffix(&signer, key)]].concat())
    };
    let bad = k.path("bad.json");
    let cases = [
        (
            r#"{"sequence-number": 1, "vendor-id": "nope", "class-id": "x", "components": []}"#,
            "bad.json: \"components\" is empty",
        ),
        (
            r#"{"sequence-number": 1, "vendor-id": "nope", "class-id": "x", "components": [{"id": ["a"], "file": "fw.bin"}]}"#,
            "bad.json: vendor-id: \"nope\" is not a UUID",
        ),
        (
            r#"{"sequence-number": 1, "vendorid": "x"}"#,
            "unknown field `vendorid`",
        ),
    ];
    for (json, expected) in cases {
        std::fs::write(&bad, json).unwrap();
        let r = create_with(&bad, ".priv.pem");
        assert_eq!(r.code, 2, "{json}");
        says_as(json, &r.stderr, expected);
    }

    // A public key where a signing key is needed.
    let r = create_with(&desc, ".pub.pem");
    assert_eq!(r.code, 2);
    says(
        &r.stderr,
        "signer.pub.pem: a public key where a private key was expected",
    );
    assert!(!k.path("x.suit").exists());
}

#[test]
fn encrypt_command_emits_info_and_ciphertext_for_every_recipient() {
    let k = Keys::new();
    let payload = firmware(4321, 5);
    let a = k.keygen("p256", "a", true);
    let b = k.keygen("p256", "b", false);
    std::fs::write(k.path("kek.bin"), [3u8; 16]).unwrap();
    std::fs::write(k.path("fw.bin"), &payload).unwrap();
    let r = ok(&refs(&args![
        "encrypt",
        "--payload",
        k.path("fw.bin"),
        "--recipient",
        with_suffix(&a, ".pub.cose"),
        "--recipient",
        with_suffix(&b, ".pub.pem"),
        "--kek",
        k.path("kek.bin"),
        "--content-alg",
        "A256GCM",
        "--info-out",
        k.path("info.cbor"),
        "--ciphertext-out",
        k.path("fw.enc")
    ]));
    says(&r.stdout, "for 3 recipient(s)");
    let info = std::fs::read(k.path("info.cbor")).unwrap();
    let ct = std::fs::read(k.path("fw.enc")).unwrap();
    assert_eq!(ct.len(), payload.len() + 16);

    use suit_common::encryption::{decrypt, CoseOptions, MemoryKeys};
    use suit_host::author::keys::{load_private, load_symmetric, PrivateKey};
    for (which, keys) in [
        ("a", {
            let mut m = MemoryKeys::new();
            let PrivateKey::P256(sk) = load_private(&with_suffix(&a, ".priv.pem")).unwrap().key
            else {
                panic!()
            };
            m.add_ecdh_p256(None, &sk.to_bytes()).unwrap();
            m
        }),
        ("kek", {
            let mut m = MemoryKeys::new();
            let kek = load_symmetric(&k.path("kek.bin"), &[16], "KEK").unwrap();
            m.add_kek(None, &kek.secret).unwrap();
            m
        }),
    ] {
        let plain = decrypt(&info, Some(&ct), &keys, &CoseOptions::SUIT)
            .unwrap_or_else(|e| panic!("{which}: {e}"));
        assert_eq!(plain.as_slice(), payload.as_slice(), "{which}");
    }

    // Ed25519 keys cannot receive.
    let ed = k.keygen("ed25519", "ed", false);
    let r = run(&args![
        "encrypt",
        "--payload",
        k.path("fw.bin"),
        "--recipient",
        with_suffix(&ed, ".pub.pem"),
        "--info-out",
        k.path("i2"),
        "--ciphertext-out",
        k.path("c2")
    ]);
    assert_eq!(r.code, 2);
    says(&r.stderr, "ed.pub.pem: recipients must be P-256 keys");
}

/// `encrypt --content-alg ChaCha20/Poly1305` (the MTI profile suit-sha256-ed25519-ecdh-chacha-poly
/// makes it mandatory for authors): COSE 24 in the protected header, a 96-bit IV, the 16-byte
/// tag appended, and every recipient kind opens it (ECDH-ES+A128KW, HPKE-0-KE, A128KW).
#[test]
fn encrypt_command_with_chacha20_poly1305() {
    let k = Keys::new();
    let payload = firmware(3333, 9);
    let a = k.keygen("p256", "a", false);
    let h = k.keygen("p256", "h", false);
    std::fs::write(k.path("kek.bin"), [5u8; 16]).unwrap();
    std::fs::write(k.path("fw.bin"), &payload).unwrap();
    let encrypt = |name: &str, alg: &str, recipient: &[&str]| {
        let mut a = args![
            "encrypt",
            "--payload",
            k.path("fw.bin"),
            "--content-alg",
            alg,
            "--info-out",
            k.path(&format!("{name}.info")),
            "--ciphertext-out",
            k.path(&format!("{name}.ct"))
        ];
        a.extend(recipient.iter().map(std::ffi::OsString::from));
        run(&a)
    };
    let pem = |p: &Path, s: &str| with_suffix(p, s).to_string_lossy().into_owned();
    let cases = [
        ("ecdh", vec!["--recipient".to_string(), pem(&a, ".pub.pem")]),
        (
            "hpke",
            vec![
                "--recipient".to_string(),
                pem(&h, ".pub.pem"),
                "--mode".into(),
                "hpke".into(),
            ],
        ),
        (
            "kek",
            vec!["--kek".into(), k.path("kek.bin").to_string_lossy().into()],
        ),
    ];
    use suit_common::encryption::{decrypt, CoseOptions, DecryptError, MemoryKeys};
    use suit_host::author::keys::{load_private, PrivateKey};
    let p256_keys = |p: &Path, hpke: bool| {
        let mut m = MemoryKeys::new();
        let PrivateKey::P256(sk) = load_private(&with_suffix(p, ".priv.pem")).unwrap().key else {
            panic!()
        };
        if hpke {
            m.add_hpke_p256(None, &sk.to_bytes()).unwrap();
        } else {
            m.add_ecdh_p256(None, &sk.to_bytes()).unwrap();
        }
        m
    };
    for (name, recipient) in cases {
        let recipient: Vec<&str> = recipient.iter().map(String::as_str).collect();
        let r = encrypt(name, "ChaCha20/Poly1305", &recipient);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        says(&r.stdout, "with ChaCha20/Poly1305");
        let info = std::fs::read(k.path(&format!("{name}.info"))).unwrap();
        let ct = std::fs::read(k.path(&format!("{name}.ct"))).unwrap();
        assert_eq!(ct.len(), payload.len() + 16, "{name}");
        let v: ciborium::Value = ciborium::from_reader(info.as_slice()).unwrap();
        let ciborium::Value::Tag(96, body) = v else {
            panic!("{name}: not a COSE_Encrypt")
        };
        let body = body.into_array().unwrap();
        assert_eq!(
            body[0].as_bytes().unwrap(),
            &[0xa1, 0x01, 0x18, 0x18],
            "{name}"
        );
        let iv = &body[1].as_map().unwrap()[0];
        assert_eq!(
            (iv.0.clone(), iv.1.as_bytes().unwrap().len()),
            (ciborium::Value::from(5), 12),
            "{name}"
        );
        let keys = match name {
            "ecdh" => p256_keys(&a, false),
            "hpke" => p256_keys(&h, true),
            _ => {
                let mut m = MemoryKeys::new();
                m.add_kek(None, &[5u8; 16]).unwrap();
                m
            }
        };
        let plain = decrypt(&info, Some(&ct), &keys, &CoseOptions::SUIT)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plain.as_slice(), payload.as_slice(), "{name}");
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        assert_eq!(
            decrypt(&info, Some(&bad), &keys, &CoseOptions::SUIT).unwrap_err(),
            DecryptError::TagMismatch,
            "{name}"
        );
    }
    // Other spellings are taken; an unknown name is refused with the list.
    let ecdh = ["--recipient", &pem(&a, ".pub.pem")].map(str::to_string);
    let ecdh: Vec<&str> = ecdh.iter().map(String::as_str).collect();
    for alias in ["chacha20/poly1305", "ChaCha20-Poly1305", "CHACHA20POLY1305"] {
        assert_eq!(encrypt("alias", alias, &ecdh).code, 0, "{alias}");
    }
    let r = encrypt("bad", "ChaCha20", &ecdh);
    assert_eq!(r.code, 2);
    says(
        &r.stderr,
        "expected A128GCM, A256GCM, A128CTR, A256CTR or ChaCha20/Poly1305",
    );
}

#[test]
fn keygen_outputs_load() {
    let k = Keys::new();
    for kind in ["p256", "ed25519"] {
        let p = k.keygen(kind, kind, true);
        use suit_host::author::keys::{load_private, load_public};
        let pem_priv = load_private(&with_suffix(&p, ".priv.pem")).unwrap();
        let cose_priv = load_private(&with_suffix(&p, ".priv.cose")).unwrap();
        let pem_pub = load_public(&with_suffix(&p, ".pub.pem")).unwrap();
        let cose_pub = load_public(&with_suffix(&p, ".pub.cose")).unwrap();
        let a = pem_priv.key.public().to_bytes();
        assert_eq!(a.len(), if kind == "p256" { 65 } else { 32 });
        assert_eq!(a, cose_priv.key.public().to_bytes(), "{kind}");
        assert_eq!(a, pem_pub.key.to_bytes(), "{kind}");
        assert_eq!(a, cose_pub.key.to_bytes(), "{kind}");
        // No secret in the debug output of a private key.
        assert!(format!("{pem_priv:?}").contains("<secret>"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(with_suffix(&p, ".priv.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{kind}: private key readable by others");
        }
    }
}

#[test]
fn garbage_input_is_refused_without_panicking() {
    let k = Keys::new();
    let signer = k.keygen("p256", "s", false);
    let pubkey = with_suffix(&signer, ".pub.pem");
    let valid = std::fs::read(spec("example1.signed.hex")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("text", b"hello world".to_vec()),
        ("cbor-int", vec![0x01]),
        ("truncated-hex", valid[..valid.len() / 2].to_vec()),
        ("odd-hex", b"abc".to_vec()),
        ("manifest-tag", vec![0xd9, 0x04, 0x2e, 0xa0]),
        ("deep", vec![0x81; 5000]),
    ];
    for (name, bytes) in cases {
        let p = k.path(name);
        std::fs::write(&p, &bytes).unwrap();
        let r = run(&args!["verify", "--trust-anchor", &pubkey, &p]);
        assert!(r.code == 1 || r.code == 2, "{name}: {}", r.code);
        assert!(
            r.stderr.contains(name),
            "{name}: the message names the file: {}",
            r.stderr
        );
        let r = run(&args!["inspect", "--json", &p]);
        assert!(r.code == 0 || r.code == 2, "{name}");
        let r = run(&args!["inspect", "--diag", &p]);
        assert!(r.code == 0 || r.code == 2, "{name}");
    }
    // Bad key files name the file.
    let junk = k.path("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let r = run(&args![
        "verify",
        "--trust-anchor",
        &junk,
        spec("example1.signed.hex")
    ]);
    assert_eq!(r.code, 2);
    says(
        &r.stderr,
        "junk.pem: PEM public key is neither P-256 nor Ed25519",
    );
    let r = run(&args![
        "verify",
        "--trust-anchor",
        k.path("missing.pem"),
        spec("example1.signed.hex")
    ]);
    assert_eq!(r.code, 2);
    says(&r.stderr, "missing.pem");
    // Process-only flags without --process are a usage error.
    let r = run(&args![
        "verify",
        "--trust-anchor",
        &pubkey,
        spec("example1.signed.hex"),
        "--out",
        k.path("o")
    ]);
    assert_eq!(r.code, 2);
    says(&r.stderr, "--out-dir needs --process");
}

const TA_UUID: [u8; 16] = [
    0x8a, 0xaa, 0xf2, 0x00, 0x24, 0x50, 0x11, 0xe4, 0xab, 0xe2, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b,
];

/// A bootstrap TA image with a well-formed header (shdr + UUID + version), as the TA parses it.
fn ta_image(uuid: [u8; 16], version: u32) -> Vec<u8> {
    suit_test_support::service::ta_image_with_body(uuid, version, b"\x7fELF pretend TA body")
}

/// Recipients whose kid is not the device's own key id: today's device does not try its key
/// on them ("kid" as identity); issue 10 item 3 makes kid a hint. `verify --process` gives the
/// device's verdict either way, so either outcome is accepted here, each checked precisely.
fn kid_mismatch_verdict(r: &Run, out: &Path, expect: &[u8]) -> bool {
    if r.code == 0 {
        assert_eq!(std::fs::read(out.join("component-0.bin")).unwrap(), expect);
        return true;
    }
    assert_eq!(r.code, 1, "{}", r.stderr);
    says(
        &r.stderr,
        "payload decryption failed: no recipient for this device's keys",
    );
    assert!(files_in(out).is_empty());
    false
}

/// libcsuit's corpus (tests/vectors/libcsuit) under `verify --process`, i.e. the TA's own
/// service on the simulated device, with libcsuit's keys: the envelopes the engine accepts
/// install there too, and the refusals name the same reasons as
/// common/tests/peer_libcsuit.rs (a trust-domains rule the envelope breaks, or this device's
/// update-management policy).
#[test]
fn libcsuit_corpus_gets_the_tas_verdicts() {
    let lc = vectors().join("libcsuit");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hex =
        |name: &str| hex::decode(std::fs::read_to_string(lc.join(name)).unwrap().trim()).unwrap();
    std::fs::write(d.join("hmac.key"), hex("trust_anchor_hmac256.hex")).unwrap();
    std::fs::write(d.join("kek.key"), hex("kek_a128kw_kid-1.hex")).unwrap();
    let payloads = d.join("payloads");
    std::fs::create_dir(&payloads).unwrap();
    let ta = "8d82573a-926d-4754-9353-32dc29997f74";
    for (from, to) in [
        (
            fe("encrypted-payload-aes-kw-aes-gcm.bin"),
            "encrypted-firmware".to_owned(),
        ),
        (lc.join(format!("{ta}.ta")), format!("{ta}.ta")),
        (lc.join("suit_manifest_expU.suit"), format!("{ta}.suit")),
        (
            lc.join("suit_manifest_expS0.suit"),
            "dependent.suit".to_owned(),
        ),
    ] {
        std::fs::copy(from, payloads.join(to)).unwrap();
    }
    let teep = (
        "c0ddd5f1-5243-5660-87db-4f5b0aa26c2f",
        "db42f709-3d8c-55ba-a8c5-265fc5820f4e",
    );
    let cases = [
        ("expAW", 0, "OK: update applied"),
        ("expAF", 0, "OK: update applied"),
        ("expAFS", 0, "OK: update applied"),
        ("expEW", 0, "OK: update applied"),
        ("expED", 0, "OK: update applied"),
        ("expU", 0, "OK: update applied"),
        ("expI", 0, "OK: update applied"),
        ("expS0", 0, "OK: update applied"),
        ("expS2", 0, "OK: update applied"),
        ("expD", 1, "the dependency was not verified before use"),
        ("expS3", 1, "the dependency was not verified before use"),
        ("expU0", 1, "the device has no clock"),
        ("expU1", 1, "cannot observe suit-wait-event-authorization"),
        ("expU2", 1, "does not know the component's current version"),
        ("expU3", 1, "cannot apply component metadata"),
    ];
    for (name, code, says) in cases {
        let (vendor, class) = if ["expD", "expI", "expU"].contains(&name) {
            teep
        } else {
            (VENDOR, CLASS)
        };
        let r = run(&args![
            "verify",
            lc.join(format!("suit_manifest_{name}.suit")),
            "--trust-anchor",
            lc.join("trust_anchor_secp256r1_pub.pem"),
            "--hmac-key",
            d.join("hmac.key"),
            "--kek",
            d.join("kek.key"),
            // libcsuit's ECDH-ES key is the firmware-encryption draft's receiver key.
            "--device-key",
            fe("receiver_p256_ecdh_kid-2_private.jwk.json"),
            "--process",
            "--vendor-id",
            vendor,
            "--class-id",
            class,
            "--payload-dir",
            &payloads,
        ]);
        assert_eq!(r.code, code, "{name}: {}\n{}", r.stdout, r.stderr);
        says_as(name, &r.text(), says);
    }
}

/// Envelopes written from the drafts' CDDL by an independent writer (python cbor2 and
/// `cryptography`, tests/vectors/independent-implementations/cddl-forms/mk.py, review s42):
/// the device's verdict for each through `verify --process` (the TA's service). 27 install,
/// five of them outside the CDDL (leniencies CONFORMANCE.md names; each envelope's CDDL verdict
/// is `cddl_conformance::the_independent_cddl_vectors_have_their_cddl_verdicts`); refused by
/// name: `set-component-index []` (the CDDL's `[+uint]`), use-before on a device without a
/// clock, and a severed install the envelope lacks.
#[test]
fn envelopes_written_from_the_drafts_cddl_get_the_tas_verdicts() {
    let dir = vectors().join("independent-implementations/cddl-forms");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".suit").map(str::to_owned))
        .collect();
    names.sort();
    let refused = [
        (
            "index-empty-list",
            "must be uint, true or a non-empty array of uint",
        ),
        ("use-before-in-shared", "the device has no clock"),
        (
            "severed-install-absent",
            "suit-install was severed from the manifest",
        ),
    ];
    let installed = [
        ("candidate-verification-inline", 1),
        ("common-empty-manifest-id", 0),
        ("component-empty-segment", 1),
        ("custom-cmd-bstr", 1),
        ("custom-cmd-int", 1),
        ("custom-cmd-nil", 1),
        ("custom-cmd-tstr", 1),
        ("dependency-chain-two-signers", 3),
        ("dependency-resolution-severed", 1),
        ("image-digest-extension", 1),
        ("index-true-list-set-params", 2),
        ("integrated-fetch-in-install", 1),
        ("integrated-fetch-then-install", 1),
        ("no-shared-sequence", 1),
        ("override-empty-map", 1),
        ("reference-uri-unicode", 1),
        ("rep-policy-high-bits", 1),
        ("seqno-zero", 1),
        ("set-params-after-override", 2),
        ("set-version", 1),
        ("severed-install-present-text-absent", 1),
        ("shared-run-sequence", 1),
        ("shared-try-each", 1),
        ("strict-order-false", 2),
        ("text-extensions", 1),
        ("uninstall-present", 1),
        ("unused-parameters", 1),
    ];
    let mut listed: Vec<String> = refused
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(installed.iter().map(|(n, _)| n.to_string()))
        .collect();
    listed.sort();
    assert_eq!(
        names, listed,
        "every envelope of the directory has its verdict here"
    );
    let verify = |name: &str| {
        run(&args![
            "verify",
            dir.join(format!("{name}.suit")),
            "--trust-anchor",
            dir.join("anchor.pem"),
            "--trust-anchor",
            dir.join("dependency-signer.pem"),
            "--process",
            "--vendor-id",
            VENDOR,
            "--class-id",
            CLASS,
        ])
    };
    for (name, says) in refused {
        let r = verify(name);
        assert_eq!(r.code, 1, "{name}: {}\n{}", r.stdout, r.stderr);
        says_as(name, &r.text(), says);
    }
    for (name, n) in installed {
        let r = verify(name);
        assert_eq!(r.code, 0, "{name}: {}\n{}", r.stdout, r.stderr);
        says_as(name, &r.text(), &format!(", {n} component(s) installed)"));
    }
    // The chain's dependencies are signed by another party: without its anchor, refused.
    let r = run(&args![
        "verify",
        dir.join("dependency-chain-two-signers.suit"),
        "--trust-anchor",
        dir.join("anchor.pem"),
        "--process",
        "--vendor-id",
        VENDOR,
        "--class-id",
        CLASS,
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
}
