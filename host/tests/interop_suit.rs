//! Interop matrix (issue 10): envelopes made by `suit-author create` for every supported mode
//! (ESP256 / ES256 / EdDSA / HMAC authentication; no encryption, A128KW, A256KW,
//! ECDH-ES+A128KW, HPKE-0-KE key distribution; A128GCM / A256GCM / A128CTR / A256CTR /
//! ChaCha20/Poly1305 content; integrated and detached payloads) are checked by an
//! independent implementation: tests/interop/suit_check.py (cbor2 + cryptography + cwt),
//! which verifies the signatures, decrypts the payloads and runs its own reader of the
//! manifest in the firmware-encryption draft's form. Run by tests/interop.sh (needs its
//! pinned virtualenv).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use suit_test_support::{CLASS_UUID as CLASS, VENDOR_UUID as VENDOR};

fn author(args: &[&std::ffi::OsStr]) {
    let out = Command::new(env!("CARGO_BIN_EXE_suit-author"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "suit-author {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn os(s: impl AsRef<std::ffi::OsStr>) -> std::ffi::OsString {
    s.as_ref().to_owned()
}

fn python() -> String {
    std::env::var("SUIT_INTEROP_PYTHON")
        .expect("SUIT_INTEROP_PYTHON is not set: run tests/interop.sh")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/suit_check.py")
}

fn p256_private_hex(path: &Path) -> (String, String) {
    let k = suit_host::author::keys::load_private(path).unwrap();
    let suit_host::author::keys::PrivateKey::P256(sk) = &k.key else {
        panic!("not P-256")
    };
    (
        hex::encode(sk.to_bytes()),
        hex::encode(k.key.public().to_bytes()),
    )
}

#[test]
#[ignore = "needs the pinned cwt virtualenv: run tests/interop.sh"]
fn independent_reader_accepts_every_mode_suit_author_creates() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    for (kind, name) in [("p256", "signer"), ("ed25519", "ed"), ("p256", "device")] {
        author(&[
            &os("keygen"),
            &os("--type"),
            &os(kind),
            &os("--out"),
            &os(p(name)),
        ]);
    }
    std::fs::write(p("hmac.key"), [0x5cu8; 32]).unwrap();
    std::fs::write(p("kek16.bin"), [0x16u8; 16]).unwrap();
    std::fs::write(p("kek32.bin"), [0x32u8; 32]).unwrap();
    let (device_d, _) = p256_private_hex(&p("device.priv.pem"));
    let (_, signer_pub) = p256_private_hex(&p("signer.priv.pem"));
    let ed = suit_host::author::keys::load_private(&p("ed.priv.pem")).unwrap();
    let ed_pub = hex::encode(ed.key.public().to_bytes());

    let auths: Vec<(&str, Vec<std::ffi::OsString>, Value)> = vec![
        (
            "esp256",
            vec![os("--sign-key"), os(p("signer.priv.pem"))],
            json!({"kind": "p256", "public": signer_pub}),
        ),
        (
            "es256",
            vec![
                os("--sign-key"),
                os(p("signer.priv.pem")),
                os("--alg"),
                os("es256"),
            ],
            json!({"kind": "p256", "public": signer_pub}),
        ),
        (
            "eddsa",
            vec![os("--sign-key"), os(p("ed.priv.pem"))],
            json!({"kind": "ed25519", "public": ed_pub}),
        ),
        (
            "hmac",
            vec![os("--hmac-key"), os(p("hmac.key"))],
            json!({"kind": "hmac", "key": hex::encode([0x5cu8; 32])}),
        ),
    ];
    let encs: Vec<(&str, Value, &str)> = vec![
        ("plain", Value::Null, ""),
        (
            "a128kw-a128gcm",
            json!({"recipients": [{"kek": "kek16.bin", "kid": "k16"}]}),
            "16",
        ),
        (
            "a256kw-a256ctr",
            json!({"content-alg": "A256CTR", "recipients": [{"kek": "kek32.bin"}]}),
            "32",
        ),
        (
            "ecdh-es-a128gcm",
            json!({"recipients": [{"key": "device.pub.pem", "kid": "dev"}]}),
            "",
        ),
        (
            "ecdh-es-a128ctr",
            json!({"content-alg": "A128CTR", "recipients": [{"key": "device.pub.pem"}]}),
            "",
        ),
        (
            "hpke-a256gcm",
            json!({"content-alg": "A256GCM", "recipients": [{"key": "device.pub.pem", "mode": "hpke"}]}),
            "",
        ),
        // `"plaintext-digest": false` (the name's "withheld"): no plaintext digest anywhere,
        // the AEAD tag alone authenticates the decrypted payload.
        (
            "hpke-a256gcm-withheld",
            json!({"content-alg": "A256GCM", "recipients": [{"key": "device.pub.pem", "mode": "hpke"}]}),
            "",
        ),
        // With the eddsa signer: the MTI profile suit-sha256-ed25519-ecdh-chacha-poly.
        (
            "ecdh-es-chacha-poly",
            json!({"content-alg": "ChaCha20/Poly1305", "recipients": [{"key": "device.pub.pem"}]}),
            "",
        ),
    ];
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let second: Vec<u8> = b"second component, always plain".to_vec();
    std::fs::write(p("fw.bin"), &payload).unwrap();
    std::fs::write(p("second.bin"), &second).unwrap();
    let mut cases = Vec::new();
    for (aname, aargs, auth) in &auths {
        for (ename, enc, kek) in &encs {
            for detached in [false, true] {
                let name = format!(
                    "{aname}-{ename}-{}",
                    if detached { "detached" } else { "integrated" }
                );
                let mut c0 = json!({"id": ["fw", "main"], "file": "fw.bin"});
                if detached {
                    c0["uri"] = json!(format!("https://example.com/{name}.bin"));
                }
                if !enc.is_null() {
                    c0["encryption"] = enc.clone();
                }
                if ename.ends_with("withheld") {
                    c0["plaintext-digest"] = json!(false);
                }
                let desc = json!({
                    "sequence-number": 1, "vendor-id": VENDOR, "class-id": CLASS,
                    "components": [c0, {"id": ["fw", "second"], "file": "second.bin"}],
                });
                let dp = p(&format!("{name}.json"));
                std::fs::write(&dp, serde_json::to_vec(&desc).unwrap()).unwrap();
                let env = p(&format!("{name}.suit"));
                let mut a = vec![
                    os("create"),
                    os(&dp),
                    os("-o"),
                    os(&env),
                    os("--payload-out"),
                    os(p("payloads")),
                ];
                a.extend(aargs.iter().cloned());
                let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
                author(&refs);
                let kek = match *kek {
                    "16" => hex::encode([0x16u8; 16]),
                    "32" => hex::encode([0x32u8; 32]),
                    _ => String::new(),
                };
                cases.push(json!({
                    "name": name,
                    "envelope": env,
                    "payload_dir": p("payloads"),
                    "auth": auth,
                    "keys": {"device_d": device_d, "kek": kek},
                    "vendor": hex::encode(uuid::Uuid::parse_str(VENDOR).unwrap().as_bytes()),
                    "class": hex::encode(uuid::Uuid::parse_str(CLASS).unwrap().as_bytes()),
                    "expect": [hex::encode(&payload), hex::encode(&second)],
                }));
            }
        }
    }
    let mut child = Command::new(python())
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &Value::Array(cases.clone())).unwrap();
    let out = child.wait_with_output().unwrap();
    let resp: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "suit_check.py: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "independent reader refused: {resp}");
    let ok = resp["ok"].as_array().unwrap();
    assert_eq!(ok.len(), cases.len());
    // The independent side saw the algorithms it was meant to see.
    for r in ok {
        let name = r["name"].as_str().unwrap();
        let alg = r["algs"][0].as_i64().unwrap();
        let want = match name.split('-').next().unwrap() {
            "esp256" => -9,
            "es256" => -7,
            "eddsa" => -19,
            _ => 5,
        };
        assert_eq!(alg, want, "{name}");
        let content: Vec<i64> = r["content_algs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let want: Vec<i64> = if name.contains("plain") {
            vec![]
        } else if name.contains("a256ctr") {
            vec![-65532]
        } else if name.contains("a128ctr") {
            vec![-65534]
        } else if name.contains("a256gcm") {
            vec![3]
        } else if name.contains("chacha-poly") {
            vec![24]
        } else {
            vec![1]
        };
        assert_eq!(content, want, "{name}");
    }
}

/// Runs the checker on `cases`; returns its JSON answer and whether it accepted them.
fn check(cases: &Value) -> (Value, bool) {
    let mut child = Command::new(python())
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), cases).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        out.status.success(),
    )
}

#[test]
#[ignore = "needs the pinned cwt virtualenv: run tests/interop.sh"]
fn independent_reader_is_calibrated_on_the_drafts_examples() {
    // The firmware-encryption draft's own AES-KW examples (write + decrypt; fetch + copy +
    // decrypt) pass the same checker, and a wrong HMAC key or KEK fails it: the checker is
    // not a rubber stamp.
    let dir = tempfile::tempdir().unwrap();
    let fe = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let payloads = dir.path().join("payloads");
    std::fs::create_dir_all(&payloads).unwrap();
    std::fs::copy(
        fe.join("suit-firmware-encryption/encrypted-payload-aes-kw-aes-gcm.bin"),
        payloads.join("encrypted-firmware"),
    )
    .unwrap();
    let case = |name: &str, mac: u8, kek: u8| {
        let text =
            std::fs::read_to_string(fe.join(format!("suit-firmware-encryption/{name}.hex.signed")))
                .unwrap();
        let clean: String = text.chars().filter(char::is_ascii_hexdigit).collect();
        let env = dir.path().join(format!("{name}.suit"));
        std::fs::write(&env, hex::decode(clean).unwrap()).unwrap();
        json!({
            "name": format!("{name}-{mac:02x}-{kek:02x}"), "envelope": env, "payload_dir": payloads,
            "auth": {"kind": "hmac", "key": hex::encode([mac; 32])},
            "keys": {"kek": hex::encode([kek; 16]), "device_d": ""},
            "vendor": "", "class": "",
            "expect": [hex::encode(b"This is a real firmware image.")],
        })
    };
    for name in ["suit-manifest-aes-kw-content", "suit-manifest-aes-kw"] {
        let (r, ok) = check(&json!([case(name, b'a', b'a')]));
        assert!(ok, "{name}: {r}");
        assert_eq!(r["ok"][0]["content_algs"], json!([1]), "{name}");
        let (r, ok) = check(&json!([case(name, b'b', b'a')]));
        assert!(!ok && r["error"].as_str().unwrap().contains("HMAC"), "{r}");
        let (r, ok) = check(&json!([case(name, b'a', b'b')]));
        assert!(!ok, "{name} with a wrong KEK: {r}");
    }
}
