//! Our outputs consumed by an independent implementation written from the drafts' text
//! (review s43): tests/interop/draft_consumer.py (cbor2 for CBOR, `cryptography` for the
//! primitives; COSE structures, the SUIT KDF context, HPKE (RFC 9180), HSS-LMS verification and
//! the SUIT reading built there, no COSE library and no project code). It verifies and
//! decrypts, from the keys alone, what `suit-author` emits (every MTI profile, HPKE key
//! encryption, COSE_Sign, severed members, `encrypt`'s infos, TPA provisioning messages and
//! their wrapped secrets) and what the TA's service signs (reports, the key statement, a
//! provisioning receipt; simulated device), and checks each sender-side rule the drafts give
//! (placement of every header parameter, zero-length protected headers, core deterministic
//! encoding). Calibrated first on the drafts' own examples, with wrong keys that must fail.
//! Run by tests/interop.sh (its pinned virtualenv).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use suit_test_support::cli::{ok, provision_args, words, write};
use suit_test_support::{CLASS_UUID as CLASS, VENDOR_UUID as VENDOR};

suit_test_support::cli_tools!();

fn python() -> String {
    std::env::var("SUIT_INTEROP_PYTHON")
        .expect("SUIT_INTEROP_PYTHON is not set: run tests/interop.sh")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the consumer on `items`: its JSON answer and whether it accepted every item.
fn consume(items: &Value) -> (Value, bool) {
    let mut child = Command::new(python())
        .arg(repo().join("tests/interop/draft_consumer.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), items).unwrap();
    let out = child.wait_with_output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "draft_consumer.py: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.success())
}

/// Every item accepted; the answers by name.
fn accepted(items: &Value) -> std::collections::HashMap<String, Value> {
    let (r, good) = consume(items);
    assert!(good, "the independent consumer refused: {r}");
    let ok = r["ok"].as_array().unwrap();
    assert_eq!(ok.len(), items.as_array().unwrap().len());
    ok.iter()
        .map(|v| (v["name"].as_str().unwrap().to_string(), v.clone()))
        .collect()
}

/// The item refused, saying `why`.
fn refused(item: Value, why: &str) {
    let (r, good) = consume(&json!([item]));
    assert!(!good, "accepted: {r}");
    let e = r["error"].as_str().unwrap();
    assert!(e.contains(why), "{e:?} lacks {why:?}");
}

fn hex_file(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    hex::decode(
        text.chars()
            .filter(char::is_ascii_hexdigit)
            .collect::<String>(),
    )
    .unwrap()
}

const FIRMWARE: &str = "This is a real firmware image.";

#[test]
#[ignore = "needs the pinned interop virtualenv: run tests/interop.sh"]
fn the_consumer_is_calibrated_on_the_drafts_examples() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let v = repo().join("tests/vectors");
    let fe = v.join("suit-firmware-encryption");
    for name in [
        "suit-manifest-es-ecdh-content",
        "suit-manifest-aes-kw-content",
        "suit-manifest-aes-kw",
    ] {
        std::fs::write(
            d.join(format!("{name}.suit")),
            hex_file(&fe.join(format!("{name}.hex.signed"))),
        )
        .unwrap();
    }
    std::fs::create_dir_all(d.join("pl")).unwrap();
    std::fs::copy(
        fe.join("encrypted-payload-aes-kw-aes-gcm.bin"),
        d.join("pl/encrypted-firmware"),
    )
    .unwrap();
    write(d, "kek-a.bin", [b'a'; 16]);
    write(d, "kek-b.bin", [b'b'; 16]);
    write(d, "hmac-b.bin", [b'b'; 32]);
    let hpke = v.join("cose-hpke");
    let hss = v.join("independent-implementations/envelopes");
    let expect = hex::encode(FIRMWARE);
    let envelope = |name: &str, auth: Value, device: Value| {
        json!({"kind": "envelope", "name": name, "deterministic": false,
               "envelope": d.join(format!("{name}.suit")), "payload_dir": d.join("pl"),
               "auth": auth, "device": device, "expect": [expect]})
    };
    let esdh = envelope(
        "suit-manifest-es-ecdh-content",
        json!({"p256": [fe.join("signer_es256_pub.pem")]}),
        json!({"p256": [fe.join("receiver_p256_ecdh_kid-2_private.jwk.json")]}),
    );
    let kw = |name: &str| {
        envelope(
            name,
            json!({"hmac": [fe.join("hmac256_key.bin")]}),
            json!({"keks": [d.join("kek-a.bin")]}),
        )
    };
    let hss_case = |name: &str, key: &str| {
        json!({"kind": "envelope", "name": name, "deterministic": false, "auth_only": true,
               "envelope": hss.join(format!("{name}.suit")),
               "auth": {"hss": [hss.join(format!("{key}.pub.cose"))]}})
    };
    let hpke_case = |name: &str, file: &str| {
        json!({"kind": "hpke-example", "name": name, "message": hpke.join(format!("{file}.cbor")),
               "key": hpke.join(format!("{file}_bob.cose_key.cbor")), "expect": "This is the content."})
    };
    let got = accepted(&json!([
        hpke_case("hpke integrated", "example_integrated_hpke0"),
        hpke_case("hpke key encryption", "example_ke_hpke0ke"),
        esdh,
        kw("suit-manifest-aes-kw-content"),
        kw("suit-manifest-aes-kw"),
        hss_case("hss_l1_h5_w4", "hss_l1_h5_w4"),
        hss_case("hss_l2_h5_w8", "hss_l2_h5_w8"),
        hss_case("hss_l2_h10_w2", "hss_l2_h10_w2"),
    ]));
    assert_eq!(
        got["suit-manifest-es-ecdh-content"]["content_algs"],
        json!([1])
    );
    assert_eq!(got["hss_l2_h10_w2"]["algs"], json!([-46]));

    // Not a rubber stamp: a wrong key of each kind fails, and so does the drafts' own
    // ES-DH example where the consumer asks a sender's deterministic encoding.
    let mut wrong_sig = esdh.clone();
    wrong_sig["auth"] = json!({"p256": [fe.join("dependent_manifest_signer_es256_pub.pem")]});
    refused(wrong_sig, "no key verifies");
    let mut wrong_device = esdh.clone();
    wrong_device["device"] = json!({"p256": [fe.join("dependent_manifest_signer_es256_priv.pem")]});
    refused(wrong_device, "no recipient opens");
    let mut strict = esdh;
    strict["deterministic"] = json!(true);
    refused(strict, "bytewise lexicographic order");
    let mut wrong_kek = kw("suit-manifest-aes-kw");
    wrong_kek["device"] = json!({"keks": [d.join("kek-b.bin")]});
    refused(wrong_kek, "no recipient opens");
    let mut wrong_mac = kw("suit-manifest-aes-kw");
    wrong_mac["auth"] = json!({"hmac": [d.join("hmac-b.bin")]});
    refused(wrong_mac, "no HMAC key");
    refused(
        hss_case("hss_l1_h5_w4", "hss_l2_h5_w8"),
        "no key verifies the alg -46",
    );
}

/// A scratch directory with every key the envelopes use.
fn keys() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (kind, name) in [
        ("p256", "signer"),
        ("p256", "operator"),
        ("ed25519", "ed"),
        ("p256", "device"),
        ("p256", "stranger"),
    ] {
        ok(author(d, &["keygen", "--type", kind, "--out", name]));
    }
    ok(author(
        d,
        &words("keygen --type hss-lms --out hss --height 5"),
    ));
    write(d, "hmac.key", [0x5cu8; 32]);
    write(d, "kek16.bin", [0x16u8; 16]);
    write(d, "kek32.bin", [0x32u8; 32]);
    write(
        d,
        "fw.bin",
        (0..3000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    write(d, "second.bin", b"second component, always plain");
    t
}

fn create(d: &Path, name: &str, desc: &Value, extra: &[&str]) -> PathBuf {
    write(
        d,
        &format!("{name}.json"),
        serde_json::to_vec(desc).unwrap(),
    );
    let json = format!("{name}.json");
    let out = format!("{name}.suit");
    let mut args = vec!["create", &json, "-o", &out, "--payload-out", "payloads"];
    args.extend_from_slice(extra);
    ok(author(d, &args));
    d.join(out)
}

/// Every key of the keys() directory the consumer may need.
fn all_auth(d: &Path) -> Value {
    json!({"p256": [d.join("signer.pub.pem"), d.join("operator.pub.pem")],
           "ed25519": [d.join("ed.pub.pem")], "hmac": [d.join("hmac.key")],
           "hss": [d.join("hss.pub.cose")]})
}

fn all_device(d: &Path) -> Value {
    json!({"p256": [d.join("device.priv.pem")], "keks": [d.join("kek16.bin"), d.join("kek32.bin")]})
}

#[test]
#[ignore = "needs the pinned interop virtualenv: run tests/interop.sh"]
fn what_suit_author_emits_is_read_by_an_independent_consumer() {
    let t = keys();
    let d = t.path();
    let fw = hex::encode(std::fs::read(d.join("fw.bin")).unwrap());
    let second = hex::encode(std::fs::read(d.join("second.bin")).unwrap());
    let mut items = Vec::new();
    let mut item = |name: &str, env: PathBuf, profile: Option<&str>, members: Option<PathBuf>| {
        let mut v = json!({"kind": "envelope", "name": name, "envelope": env,
            "payload_dir": d.join("payloads"), "auth": all_auth(d), "device": all_device(d),
            "expect": [fw, second]});
        if let Some(p) = profile {
            v["profile"] = json!(p);
        }
        if let Some(m) = members {
            v["members_dir"] = json!(m);
        }
        items.push(v);
    };

    // The MTI profiles (draft-ietf-suit-mti §3), each as suit-author makes it with the
    // profile's keys: (profile, authentication, recipient, content algorithm).
    let signer = ["--sign-key", "signer.priv.pem"];
    let ed = ["--sign-key", "ed.priv.pem"];
    let hss = ["--sign-key", "hss.priv.pem"];
    let hmac = ["--hmac-key", "hmac.key"];
    let profiles: [(&str, &[&str], Value, &str); 6] = [
        (
            "suit-sha256-hmac-a128kw-a128ctr",
            &hmac,
            json!({"kek": "kek16.bin", "kid": "kek-1"}),
            "A128CTR",
        ),
        (
            "suit-sha256-esp256-ecdh-a128ctr",
            &signer,
            json!({"key": "device.pub.pem"}),
            "A128CTR",
        ),
        (
            "suit-sha256-ed25519-ecdh-a128ctr",
            &ed,
            json!({"key": "device.pub.pem", "kid": "dev"}),
            "A128CTR",
        ),
        (
            "suit-sha256-esp256-ecdh-a128gcm",
            &signer,
            json!({"key": "device.pub.pem"}),
            "A128GCM",
        ),
        (
            "suit-sha256-ed25519-ecdh-chacha-poly",
            &ed,
            json!({"key": "device.pub.pem"}),
            "ChaCha20/Poly1305",
        ),
        (
            "suit-sha256-hsslms-a256kw-a256ctr",
            &hss,
            json!({"kek": "kek32.bin"}),
            "A256CTR",
        ),
    ];
    for (profile, auth, recipient, content) in &profiles {
        for detached in [false, true] {
            let name = format!(
                "{profile}-{}",
                if detached { "detached" } else { "integrated" }
            );
            let mut c0 = json!({"id": ["fw", "main"], "file": "fw.bin",
                "encryption": {"content-alg": content, "recipients": [recipient]}});
            if detached {
                c0["uri"] = json!(format!("https://example.com/{name}.bin"));
            }
            let desc = json!({"sequence-number": 1, "vendor-id": VENDOR, "class-id": CLASS,
                "components": [c0, {"id": ["fw", "second"], "file": "second.bin"}]});
            let env = create(d, &name, &desc, auth);
            item(&name, env, Some(profile), None);
        }
    }

    // Beyond the profiles: HPKE key encryption (COSE-HPKE §3.2) with each content algorithm,
    // recipients of every kind to one CEK, COSE_Sign, several blocks, ES256.
    let forms: [(&str, Value, &[&str]); 8] = [
        (
            "hpke-a128gcm",
            json!({"recipients": [{"key": "device.pub.pem", "mode": "hpke", "kid": "dev"}]}),
            &signer,
        ),
        (
            "hpke-a256gcm",
            json!({"content-alg": "A256GCM", "recipients": [{"key": "device.pub.pem", "mode": "hpke"}]}),
            &signer,
        ),
        (
            "hpke-a128ctr",
            json!({"content-alg": "A128CTR", "recipients": [{"key": "device.pub.pem", "mode": "hpke"}]}),
            &signer,
        ),
        (
            "hpke-chacha-poly",
            json!({"content-alg": "ChaCha20/Poly1305", "recipients": [{"key": "device.pub.pem", "mode": "hpke"}]}),
            &ed,
        ),
        (
            "mixed-recipients",
            json!({"recipients": [{"kek": "kek16.bin"}, {"key": "stranger.pub.pem"},
                {"key": "device.pub.pem"}, {"key": "device.pub.pem", "mode": "hpke"}]}),
            &signer,
        ),
        (
            "cose-sign",
            json!({"recipients": [{"key": "device.pub.pem"}]}),
            &[
                "--sign-key",
                "signer.priv.pem",
                "--sign-key",
                "operator.priv.pem",
                "--cose-sign",
            ],
        ),
        (
            "three-blocks",
            json!({"content-alg": "A256GCM", "recipients": [{"kek": "kek32.bin"}]}),
            &[
                "--sign-key",
                "signer.priv.pem",
                "--sign-key",
                "ed.priv.pem",
                "--hmac-key",
                "hmac.key",
            ],
        ),
        (
            "es256",
            json!({"recipients": [{"key": "device.pub.pem"}]}),
            &["--sign-key", "signer.priv.pem", "--alg", "es256"],
        ),
    ];
    for (name, enc, auth) in &forms {
        let desc = json!({"sequence-number": 1, "vendor-id": VENDOR, "class-id": CLASS,
            "components": [{"id": ["fw", "main"], "file": "fw.bin", "encryption": enc,
                "uri": format!("https://example.com/{name}.bin")},
                {"id": ["fw", "second"], "file": "second.bin"}]});
        let env = create(d, name, &desc, auth);
        item(name, env, None, None);
    }

    // Severable members (manifest-37 §8.4.9 / §9): in the envelope, then severed by `sever`
    // (the members in their own files), then absent.
    let desc = json!({"sequence-number": 2, "vendor-id": VENDOR, "class-id": CLASS,
        "text": {"manifest-description": "severable", "update-description": "all of it"},
        "components": [{"id": ["fw", "main"], "file": "fw.bin",
            "uri": "https://example.com/sev.bin",
            "encryption": {"recipients": [{"key": "device.pub.pem"}]}},
            {"id": ["fw", "second"], "file": "second.bin"}]});
    let env = create(
        d,
        "severable",
        &desc,
        &[&signer[..], &["--severable"]].concat(),
    );
    item("severable", env, None, None);
    ok(author(
        d,
        &words("sever severable.suit -o severed.suit --members-out members"),
    ));
    item(
        "severed with members",
        d.join("severed.suit"),
        None,
        Some(d.join("members")),
    );

    // `encrypt`: the SUIT_Encryption_Info and the ciphertext it writes.
    let mut infos = Vec::new();
    for (name, args) in [
        ("kw", "--kek kek16.bin --kek kek32.bin"),
        (
            "esdh",
            "--recipient device.pub.pem --recipient stranger.pub.pem --kid k",
        ),
        (
            "hpke",
            "--recipient device.pub.pem --mode hpke --content-alg A128CTR",
        ),
        (
            "esdh-chacha-poly",
            "--recipient device.pub.pem --content-alg ChaCha20/Poly1305",
        ),
        (
            "esdh-a256ctr",
            "--recipient device.pub.pem --content-alg A256CTR",
        ),
    ] {
        let line = format!(
            "encrypt --payload fw.bin {args} --info-out {name}.info --ciphertext-out {name}.ct"
        );
        ok(author(d, &words(&line)));
        infos.push(json!({"kind": "info", "name": format!("encrypt {name}"),
            "info": d.join(format!("{name}.info")), "ciphertext": d.join(format!("{name}.ct")),
            "plaintext": d.join("fw.bin"), "device": all_device(d)}));
    }

    // The other members of each family, for keys declared so (RFC 9052 §7.1 `alg`):
    // ECDH-ES+A256KW (its KDF context asks A256KW, 256 bits) and HPKE-7-KE.
    let point = suit_host::author::keys::load_public(&d.join("device.pub.pem"))
        .unwrap()
        .key
        .to_bytes();
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    for (file, alg) in [
        ("dev-es256kw.jwk", "ECDH-ES+A256KW"),
        ("dev-hpke7.jwk", "HPKE-7-KE"),
    ] {
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]),
            "y": b64(&point[33..]), "alg": alg});
        write(d, file, serde_json::to_vec(&jwk).unwrap());
    }
    for (name, enc) in [
        (
            "ecdh-es-a256kw",
            json!({"content-alg": "A256GCM", "recipients": [{"key": "dev-es256kw.jwk"}]}),
        ),
        (
            "hpke-7-ke",
            json!({"content-alg": "A256GCM", "recipients": [{"key": "dev-hpke7.jwk", "mode": "hpke"}]}),
        ),
    ] {
        let desc = json!({"sequence-number": 1, "vendor-id": VENDOR, "class-id": CLASS,
            "components": [{"id": ["fw", "main"], "file": "fw.bin", "encryption": enc},
                {"id": ["fw", "second"], "file": "second.bin"}]});
        let env = create(d, name, &desc, &signer);
        item(name, env, None, None);
    }
    // Unsigned, then signed by a separate step; COSE_Sign by signers of two algorithms.
    let desc = json!({"sequence-number": 1, "vendor-id": VENDOR, "class-id": CLASS,
        "components": [{"id": ["fw", "main"], "file": "fw.bin"},
            {"id": ["fw", "second"], "file": "second.bin"}]});
    create(d, "unsigned", &desc, &["--unsigned"]);
    ok(author(
        d,
        &words(
            "sign unsigned.suit -o signed-later.suit --sign-key hss.priv.pem --hmac-key hmac.key",
        ),
    ));
    item("signed later", d.join("signed-later.suit"), None, None);
    let env = create(
        d,
        "cose-sign-mixed",
        &desc,
        &[
            "--sign-key",
            "signer.priv.pem",
            "--sign-key",
            "ed.priv.pem",
            "--cose-sign",
        ],
    );
    item("cose-sign-mixed", env, None, None);
    items.extend(infos);

    let got = accepted(&Value::Array(items.clone()));
    assert_eq!(got["signed later"]["algs"], json!([-46, 5]));
    assert_eq!(got["cose-sign-mixed"]["algs"], json!([-9, -19]));
    for (name, kx) in [("ecdh-es-a256kw", "-31"), ("hpke-7-ke", "53")] {
        assert_eq!(got[name]["forms"][1][1], json!(kx), "{name}: {}", got[name]);
    }
    // The consumer saw what each profile names (it checks them itself too), and the two
    // encryptions of one payload have their own CEK and IV (random, RFC 8937).
    let fresh = |name: &str| {
        got[name]["forms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f[0] == "fresh")
            .unwrap_or_else(|| panic!("{name}: {}", got[name]))
            .clone()
    };
    for (profile, ..) in &profiles {
        let a = fresh(&format!("{profile}-detached"));
        let b = fresh(&format!("{profile}-integrated"));
        assert!(a[1] != b[1] && a[2] != b[2], "{profile}: {a} {b}");
    }
    assert_eq!(got["cose-sign"]["algs"], json!([-9, -9]));
    assert_eq!(got["three-blocks"]["algs"], json!([-9, -19, 5]));
    assert_eq!(got["es256"]["algs"], json!([-7]));
    assert_eq!(got["hpke-a256gcm"]["content_algs"], json!([3]));
    assert_eq!(got["hpke-chacha-poly"]["content_algs"], json!([24]));
    assert_eq!(
        got["severable"]["severed"],
        json!([["suit-install", "envelope"], ["suit-text", "envelope"]])
    );
    assert_eq!(
        got["severed with members"]["severed"],
        json!([["suit-install", "members"], ["suit-text", "members"]])
    );
    // The profile check is not a rubber stamp: ES256 is no profile's, A128CTR not A128GCM.
    let named = |name: &str| items.iter().find(|i| i["name"] == name).unwrap().clone();
    let mut es256 = named("es256");
    es256["profile"] = json!("suit-sha256-esp256-ecdh-a128gcm");
    refused(es256, "authentication [-7]");
    let mut ctr = named("suit-sha256-esp256-ecdh-a128ctr-detached");
    ctr["profile"] = json!("suit-sha256-esp256-ecdh-a128gcm");
    refused(ctr, "encryption {-65534}");
    // Without the members the install section cannot run: the consumer says so.
    let mut bare = named("severed with members");
    bare["members_dir"] = Value::Null;
    refused(bare, "suit-install severed and not supplied");
}

// --- the TA's outputs and the TPA's messages: a simulated device --------------------------------

/// Read-only view of the simulator's state directory (one file per object, named by its hex),
/// to hand the consumer the device's provisioning private key: the simulator keeps it in
/// ordinary files (src/sim.rs), a real TA never lets it out.
struct SimFiles(PathBuf);

impl SimFiles {
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(hex::encode(name.as_bytes()))
    }
}

impl suit_common::service::store::SecureStore for SimFiles {
    fn get(
        &self,
        name: &str,
    ) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, suit_common::service::store::StoreError> {
        Ok(std::fs::read(self.file(name))
            .ok()
            .map(zeroize::Zeroizing::new))
    }
    fn put(&mut self, _: &str, _: &[u8]) -> Result<(), suit_common::service::store::StoreError> {
        unreachable!("read-only")
    }
    fn remove(&mut self, _: &str) -> Result<(), suit_common::service::store::StoreError> {
        unreachable!("read-only")
    }
    fn append(
        &mut self,
        _: &str,
        _: &[u8],
    ) -> Result<u64, suit_common::service::store::StoreError> {
        unreachable!("read-only")
    }
    fn read_at(
        &self,
        name: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, suit_common::service::store::StoreError> {
        let all = std::fs::read(self.file(name)).unwrap();
        let from = (offset as usize).min(all.len());
        let n = buf.len().min(all.len() - from);
        buf[..n].copy_from_slice(&all[from..from + n]);
        Ok(n)
    }
    fn len(&self, name: &str) -> Result<Option<u64>, suit_common::service::store::StoreError> {
        Ok(std::fs::metadata(self.file(name)).ok().map(|m| m.len()))
    }
}

impl suit_common::service::keys::Rng for SimFiles {
    fn fill(&mut self, _: &mut [u8]) {
        unreachable!("the simulated device has its keys")
    }
}

/// The simulated device's provisioning private key, as PEM.
fn provisioning_key_pem(state: &Path) -> String {
    use p256::pkcs8::EncodePrivateKey as _;
    let pair =
        suit_common::service::keys::DeviceKeyPair::load_or_create(&mut SimFiles(state.into()))
            .unwrap();
    pair.provisioning_secret()
        .to_pkcs8_pem(Default::default())
        .unwrap()
        .to_string()
}

#[test]
#[ignore = "needs the pinned interop virtualenv: run tests/interop.sh"]
fn provisioning_messages_and_reports_are_read_by_an_independent_consumer() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &["device-key", "--out-dir", "dev"]));
    ok(agent(
        d,
        &["device-key", "--which", "report", "--out", "report.pub.pem"],
    ));
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    write(d, "kek.bin", [0x5au8; 16]);
    write(d, "operator.key", [0x0fu8; 32]);
    write(
        d,
        "p.json",
        r#"{"counter": 1, "device-key": "dev/identity.pub.pem",
        "key-statement": "dev/key-statement.cbor", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}},
        {"add-anchor": {"id": 2, "hmac-key": "operator.key", "role": "operator", "components": [["app"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}},
        {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [1, 2]}}]}"#,
    );
    ok(author(d, &provision_args("p.json", "p.cbor", &[])));
    ok(agent(
        d,
        &["provision", "p.cbor", "--receipt-out", "receipt.cbor"],
    ));
    write(
        d,
        "provisioning.priv.pem",
        provisioning_key_pem(&d.join("state")),
    );

    // An update, then a refusal (the same again: rollback), each reported over a nonce.
    write(d, "fw.bin", b"firmware v1");
    write(
        d,
        "m.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "reference-uri": "https://example.com/app-1.suit",
        "components": [{"id": ["app"], "file": "fw.bin", "encryption": {"recipients": [{"kek": "kek.bin", "kid": "kek-1"}]}}]}"#,
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &["install", "m.suit"]));
    ok(agent(d, &words("report --nonce 00112233 --out ok.cose")));
    let r = agent(d, &["install", "m.suit"]);
    assert_ne!(r.code, 0, "{}", r.text());
    ok(agent(d, &words("report --nonce aabb --out rollback.cose")));
    // A failed update-management condition (use-before in the past), then a plain update
    // without a reference URI, then one signed by a key the device does not trust (refused
    // before authentication).
    let plain = |seq: u64, extra: &str| {
        format!(
            r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["app"], "file": "fw.bin"{extra}}}]}}"#
        )
    };
    ok(author(d, &["keygen", "--type", "p256", "-o", "stranger"]));
    for (name, seq, extra, key, installs) in [
        ("condition", 2, r#", "use-before": 1"#, "author", false),
        ("plain", 3, "", "author", true),
        ("pre-auth", 4, "", "stranger", false),
    ] {
        write(d, &format!("{name}.json"), plain(seq, extra));
        ok(author(
            d,
            &words(&format!(
                "create {name}.json -o {name}.suit --sign-key {key}.priv.pem"
            )),
        ));
        let r = agent(d, &["install", &format!("{name}.suit")]);
        assert_eq!(r.code == 0, installs, "{name}: {}", r.text());
        // A refusal before authentication is kept apart from the last report (`--pre-auth`).
        let pre = if installs || key == "author" {
            ""
        } else {
            " --pre-auth"
        };
        ok(agent(
            d,
            &words(&format!("report --nonce 0{seq} --out {name}.cose{pre}")),
        ));
    }

    let tpa = repo().join("tests/keys/tpa-test.pub.pem");
    let report = |name: &str, nonce: &str| {
        json!({"kind": "report", "name": name, "report": d.join(format!("{name}.cose")),
               "key": {"p256": [d.join("report.pub.pem")]}, "nonce": nonce,
               "envelope": d.join("m.suit")})
    };
    let provisioning = json!({"kind": "provisioning", "name": "provisioning",
        "message": d.join("p.cbor"), "tpa": {"p256": [tpa]},
        "device": {"provisioning": d.join("provisioning.priv.pem")},
        "anchors": {"1": {"p256": d.join("author.pub.pem")}, "2": {"hmac": d.join("operator.key")}},
        "secrets": {"kek-1": d.join("kek.bin"), "2": d.join("operator.key")}});
    let report_of = |name: &str, nonce: &str, envelope: &str| {
        let mut r = report(name, nonce);
        r["envelope"] = json!(d.join(envelope));
        r
    };
    let mut pre_auth = report("pre-auth", "04");
    pre_auth["envelope"] = Value::Null;
    // The TA's other signed outputs (its own payloads, RFC 9052's COSE_Sign1): the key
    // statement names the report and provisioning keys the agent exported; the receipt.
    let identity = json!({"p256": [d.join("dev/identity.pub.pem")]});
    let statement = json!({"kind": "signed", "name": "key statement",
        "message": d.join("dev/key-statement.cbor"), "key": identity,
        "keys": [d.join("report.pub.pem"), d.join("dev/provisioning.pub.pem")]});
    let receipt = json!({"kind": "signed", "name": "receipt",
        "message": d.join("receipt.cbor"), "key": identity});
    let got = accepted(&json!([
        statement.clone(),
        receipt,
        provisioning.clone(),
        report("ok", "00112233"),
        report("rollback", "aabb"),
        report_of("condition", "02", "condition.suit"),
        report_of("plain", "03", "plain.suit"),
        pre_auth,
    ]));
    assert_eq!(got["ok"]["result"], json!("true"));
    assert_eq!(got["ok"]["alg"], json!(-9));
    // Report-18 reasons: condition-failed (10) for the rollback and the failed condition,
    // unauthorised (4) before authentication.
    assert_eq!(got["rollback"]["result"], json!(10));
    assert_eq!(got["condition"]["result"], json!(10));
    assert_eq!(got["pre-auth"]["result"], json!(4));
    // The records of a run point at commands of the manifest (the consumer located them).
    for name in ["ok", "condition", "plain"] {
        assert!(
            got[name]["located"].as_u64().unwrap() >= 1,
            "{name}: {}",
            got[name]
        );
    }
    assert_eq!(
        got["provisioning"]["wrapped"],
        json!([["AddSecretAnchor", {"protected": [1, 4], "unprotected": [-4]}],
               ["AddKek", {"protected": [1, 4], "unprotected": [-4]}]])
    );

    // Keys matter: another device's provisioning key opens nothing; another report key
    // verifies nothing.
    ok(author(d, &["keygen", "--type", "p256", "-o", "other"]));
    let mut wrong = provisioning;
    wrong["device"] = json!({"provisioning": d.join("other.priv.pem")});
    refused(wrong, "InvalidTag");
    let mut wrong = statement;
    wrong["key"] = json!({"p256": [d.join("report.pub.pem")]});
    refused(wrong, "no key verifies");
    let mut wrong = report("ok", "00112233");
    wrong["key"] = json!({"p256": [d.join("author.pub.pem")]});
    refused(wrong, "no key verifies");

    // Session 44: the TPA gives anchor 1 a status tracker key; the report of its next update
    // is a SUIT_Report_COSE_Encrypt0 inside the signed COSE_Sign1, which the consumer opens
    // from the tracker's private key alone (COSE-HPKE integrated, HPKE-0).
    ok(author(d, &["keygen", "--type", "p256", "-o", "tracker"]));
    write(
        d,
        "p2.json",
        r#"{"counter": 2, "device-key": "dev/identity.pub.pem", "ops": [
        {"rescope": {"id": 1, "components": [["app"]], "tracker-key": "tracker.pub.pem"}}]}"#,
    );
    ok(author(d, &provision_args("p2.json", "p2.cbor", &[])));
    ok(agent(d, &["provision", "p2.cbor"]));
    write(d, "sealed.json", plain(5, ""));
    ok(author(
        d,
        &words("create sealed.json -o sealed.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &["install", "sealed.suit"]));
    ok(agent(d, &words("report --nonce 05 --out sealed.cose")));
    let mut sealed = report_of("sealed", "05", "sealed.suit");
    sealed["tracker"] = json!(d.join("tracker.priv.pem"));
    let got = accepted(&json!([sealed.clone()]));
    assert_eq!(got["sealed"]["result"], json!("true"));
    assert_eq!(
        got["sealed"]["encrypted"],
        json!({"alg": 35, "protected": [1], "unprotected": [-4]})
    );
    let mut wrong = sealed.clone();
    wrong.as_object_mut().unwrap().remove("tracker");
    refused(wrong, "a tracker key is needed");
    let mut wrong = sealed;
    wrong["tracker"] = json!(d.join("other.priv.pem"));
    refused(wrong, "InvalidTag");
}
