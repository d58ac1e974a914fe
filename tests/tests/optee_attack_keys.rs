//! Key isolation inside OP-TEE on QEMU: per-anchor payload keys and signed key statements.
//!
//! Tenant B (anchor 2) copies tenant A's (anchor 1) encryption info and ciphertext into its
//! own signed manifest; the real TA refuses it for lack of a key, writes nothing, and the same
//! manifest signed by A installs. The key statements the real TA exports verify on the host
//! with the enrolled identity key; a tampered statement, or another key, does not.
//! Recipients this device cannot use (another curve, no `alg`, an unknown algorithm, a bad
//! point) ahead of A's own are another device's: A's manifest still installs; with only
//! those, it is refused for lack of a key.
//!
//! Withheld digests (session 14 review F1): A installs an AES-GCM secret no manifest names by
//! digest (its tag alone authenticates it), so status and reports withhold its SHA-256; an
//! A/B copy of it into a second component is withheld too, while a copy whose manifest names
//! the digest is listed with it (the control). The signed device state (-70005) lists the vault
//! all the same, with a nil digest and its size (review s27: it left it out, unlike status).
//! Guesses by a co-owner (review s29 F1): tenant D (anchor 4) shares B's scope `['app-b']`;
//! B installs a PIN there with its digest withheld; D's image-match of the right PIN and of a
//! wrong one are refused alike ("not every anchor that owns the content allows it") and
//! change nothing; the same probe signed by B and D installs (the control).
//!
//! A co-signer's ree-plaintext (review s16 R4, s16-q2): tenant C (anchor 3, no
//! ree-plaintext, scope ['app-c']) installs a secret through `suit-author create`; a copy of
//! it into `['ree', 'c-copy.bin']` signed by C and B (anchor 2, flagged, covers ['ree']) is
//! refused ("not every anchor that owns the content allows it"), no REE file is written and
//! `suit-agent export` gets nothing; the same two signers copying it into ['app-c', 'backup']
//! install (the control). Checked without the fix (`may_copy` deciding on the signers' flags
//! alone): the copy installs and the agent writes the 39-byte secret to the REE file.
//!
//! A co-owner's copy (review s31): tenant E (anchor 5) shares C's scope `['app-c']` and owns
//! `['app-e']`; its copy of C's secret into `['app-e', 'x']`, which C does not cover, is
//! refused and installs nothing; its copy into `['app-c', 'e-copy']` installs (the control).
//!
//! Status and export of a released REE file (session 43, inside OP-TEE): status names the
//! anchor whose ree-plaintext released `stolen.bin`; `export` writes it again; an export path
//! of 100,000 bytes is refused as not found, the answer naming a bounded prefix (the TA once
//! echoed the whole path: an answer too large to send).

use std::path::Path;
use std::process::Command;

use ciborium::Value;
use sha2::{Digest as _, Sha256};
use suit_common::cose::{Algorithm, SigningKey};
use suit_common::suit::author::{seal_envelope, Signer};
use suit_test_support::cbor::{
    bytes, cbor, copy_manifest, fetch_and_decrypt, identity_shared, suit_manifest,
};
use suit_test_support::seal_one;
use suit_tests::{
    author, boot, copy_out_of_disk, enrolled_device, provision_and_export_anchor_keys,
    sign_provisioning, suit_author, Boot,
};

const SECRET: &[u8] = b"tenant A only: api-token=7c1e5a90d2b34f68";
/// Installed into secure storage with its digest withheld (the REE files above carry SECRET's).
const VAULT: &[u8] = b"tenant A's vault key: 0c6f1d2e9b8a7354";
/// Tenant C's (anchor 3, no ree-plaintext) secret in its secure component `['app-c']`.
const C_SECRET: &[u8] = b"tenant C only: db-password=5d0a7e61c4f2";
/// Tenant B's low-entropy secret in `['app-b', 'pin']`, its digest withheld.
const PIN: &[u8] = b"PIN=4711";

fn signer(path: &Path) -> SigningKey {
    let text = std::fs::read_to_string(path).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let pos = der
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
        .expect("ECPrivateKey");
    SigningKey::p256(&der[pos + 5..pos + 37]).unwrap()
}

/// A manifest fetching `uri` into a buffer `['ree', file, 'encrypted']`, then copying it
/// decrypted with `info` into `['ree', file]` (the firmware-encryption draft's form),
/// image-matched.
fn manifest(seq: i64, file: &str, uri: &str, info: &[u8]) -> Vec<u8> {
    let int = |i: i64| Value::Integer(i.into());
    let bytes = |b: &[u8]| Value::Bytes(b.to_vec());
    let vendor = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"example.com");
    let class = uuid::Uuid::new_v5(&vendor, b"board");
    let digest = cbor(&Value::Array(vec![
        int(-16),
        bytes(&Sha256::digest(SECRET)),
    ]));
    let shared = Value::Array(vec![
        int(12),
        int(0),
        int(20),
        Value::Map(vec![
            (int(1), bytes(vendor.as_bytes())),
            (int(2), bytes(class.as_bytes())),
            (int(3), bytes(&digest)),
            (int(14), int(SECRET.len() as i64)),
        ]),
        int(1),
        int(15),
        int(2),
        int(15),
    ]);
    let install = Value::Array([fetch_and_decrypt(uri, info, 2), vec![int(3), int(15)]].concat());
    let components = vec![
        Value::Array(vec![bytes(b"ree"), bytes(file.as_bytes())]),
        Value::Array(vec![
            bytes(b"ree"),
            bytes(file.as_bytes()),
            bytes(b"encrypted"),
        ]),
    ];
    suit_manifest(seq, components, &shared, &install)
}

/// The vendor and class checks of every manifest here, on component 0.
fn identity() -> Value {
    let vendor = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"example.com");
    let class = uuid::Uuid::new_v5(&vendor, b"board");
    identity_shared(vendor.as_bytes(), class.as_bytes())
}

/// `[tenant, name]` decrypted with `info` from `uri` (through `[tenant, name, 'encrypted']`),
/// no manifest naming its digest: the AES-GCM tag alone authenticates it.
fn withheld_manifest(tenant: &[u8], name: &[u8], uri: &str, info: &[u8]) -> Vec<u8> {
    let components = vec![
        Value::Array(vec![bytes(tenant), bytes(name)]),
        Value::Array(vec![bytes(tenant), bytes(name), bytes(b"encrypted")]),
    ];
    let install = Value::Array(fetch_and_decrypt(uri, info, 15));
    suit_manifest(1, components, &identity(), &install)
}

/// Image-match of the installed `['app-b', 'pin']` against `guess`'s digest and size: a
/// guess the manifest's signers test, one per install.
fn pin_probe(guess: &[u8]) -> Vec<u8> {
    let int = |i: i64| Value::Integer(i.into());
    let digest = cbor(&Value::Array(vec![int(-16), bytes(&Sha256::digest(guess))]));
    let install = Value::Array(vec![
        int(12),
        int(0),
        int(20),
        Value::Map(vec![
            (int(3), bytes(&digest)),
            (int(14), int(guess.len() as i64)),
        ]),
        int(3),
        int(15),
    ]);
    let pin = Value::Array(vec![bytes(b"app-b"), bytes(b"pin")]);
    suit_manifest(2, vec![pin], &identity(), &install)
}

/// An A/B copy of the installed `['app-a', 'vault']` into `['app-a', 'backup']`; with
/// `digest_of`, the copy must match that content's digest (the manifest names it).
fn backup_manifest(seq: i64, digest_of: Option<&[u8]>) -> Vec<u8> {
    let (vault, backup): (&[&[u8]], &[&[u8]]) = (&[b"app-a", b"vault"], &[b"app-a", b"backup"]);
    copy_manifest(seq, vault, backup, digest_of, &identity())
}

fn sign(d: &Path, manifest: &[u8], key: &str, name: &str) {
    let k = signer(&d.join(key));
    let env = seal_one(manifest, &k, Algorithm::Esp256, &[], &[]);
    std::fs::write(d.join(name), env).unwrap();
}

/// `manifest` signed by every key in `keys` (one COSE_Sign1 each).
fn sign_all(d: &Path, manifest: &[u8], keys: &[&str], name: &str) {
    let ks: Vec<SigningKey> = keys.iter().map(|k| signer(&d.join(k))).collect();
    let signers: Vec<Signer<'_>> = ks
        .iter()
        .map(|key| Signer {
            key,
            alg: Algorithm::Esp256,
            kid: b"",
        })
        .collect();
    let env = seal_envelope(manifest, &signers, &[], &[]).unwrap();
    std::fs::write(d.join(name), env).unwrap();
}

/// A COSE header map as ciborium decodes it.
type Header = Vec<(Value, Value)>;

/// `info` (a COSE_Encrypt) with recipients this device cannot use put ahead of its own
/// (`keep_own`) or in their place. `ecdh_info` lends an ECDH-ES recipient whose ephemeral
/// key is moved to X25519.
fn with_foreign_recipients(info: &[u8], ecdh_info: &[u8], keep_own: bool) -> Vec<u8> {
    fn parts(info: &[u8]) -> (u64, Vec<Value>) {
        match ciborium::from_reader::<Value, _>(info).unwrap() {
            Value::Tag(tag, body) => match *body {
                Value::Array(a) => (tag, a),
                other => panic!("COSE_Encrypt body {other:?}"),
            },
            other => panic!("COSE_Encrypt {other:?}"),
        }
    }
    let recipients = |a: &[Value]| match &a[3] {
        Value::Array(r) => r.clone(),
        other => panic!("recipients {other:?}"),
    };
    let relabel = |r: &Value, protected: Option<Vec<u8>>, change: &dyn Fn(&mut Header)| {
        let Value::Array(mut r) = r.clone() else {
            panic!("recipient {r:?}")
        };
        if let Some(p) = protected {
            r[0] = Value::Bytes(p);
        }
        let Value::Map(unprotected) = &mut r[1] else {
            panic!("unprotected {:?}", r[1])
        };
        unprotected.retain(|(k, _)| *k != Value::Integer(4.into()));
        unprotected.push((
            Value::Integer(4.into()),
            Value::Bytes(b"someone-else".to_vec()),
        ));
        change(unprotected);
        Value::Array(r)
    };
    let int = |i: i64| Value::Integer(i.into());
    let (tag, mut outer) = parts(info);
    let own = recipients(&outer)[0].clone();
    let (_, ecdh) = parts(ecdh_info);
    let ecdh_own = recipients(&ecdh)[0].clone();
    let unchanged = |_: &mut Header| {};
    let mut list = vec![
        // An algorithm this build does not know.
        relabel(
            &own,
            Some(cbor(&Value::Map(vec![(int(1), int(-65_000))]))),
            &unchanged,
        ),
        // No `alg` at all.
        relabel(&own, Some(Vec::new()), &unchanged),
        // HPKE's encapsulated key (-4) not a point on the curve.
        relabel(&own, None, &|u| {
            for (k, v) in u.iter_mut() {
                if *k == int(-4) {
                    *v = Value::Bytes(vec![0x04; 65]);
                }
            }
        }),
        // ECDH-ES with an X25519 ephemeral key (-1).
        relabel(&ecdh_own, None, &|u| {
            for (k, v) in u.iter_mut() {
                if *k == int(-1) {
                    *v = Value::Map(vec![
                        (int(1), int(1)),
                        (int(-1), int(4)),
                        (int(-2), Value::Bytes(vec![9; 32])),
                    ]);
                }
            }
        }),
    ];
    if keep_own {
        list.push(own);
    }
    outer[3] = Value::Array(list);
    cbor(&Value::Tag(tag, Box::new(Value::Array(outer))))
}

fn verify_statement(d: &Path, statement: &Path, identity: &str) -> std::process::Output {
    Command::new(suit_author())
        .current_dir(d)
        .arg("verify-key-statement")
        .arg(statement)
        .args(["--identity-key", identity, "--anchor", "2"])
        .args(["--anchor-key", "tenant-b.pub.pem"])
        .output()
        .unwrap()
}

#[test]
fn a_tenant_cannot_open_another_tenants_payload_in_the_ta_and_key_statements_verify() {
    // Boot 1: the identity key is exported (the factory enrolment in this test).
    let (dir, disk) = enrolled_device();
    let d = dir.path();
    author(d, &["keygen", "--type", "p256", "--out", "tenant-a"]);
    author(d, &["keygen", "--type", "p256", "--out", "tenant-b"]);
    author(d, &["keygen", "--type", "p256", "--out", "tenant-c"]);
    author(d, &["keygen", "--type", "p256", "--out", "tenant-d"]);
    author(d, &["keygen", "--type", "p256", "--out", "tenant-e"]);
    sign_provisioning(
        d,
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "tenant-a.pub.pem", "role": "author", "components": [["app-a"], ["ree"]], "ree-plaintext": true}},
        {"add-anchor": {"id": 2, "key": "tenant-b.pub.pem", "role": "author", "components": [["app-b"], ["ree"]], "ree-plaintext": true}},
        {"add-anchor": {"id": 3, "key": "tenant-c.pub.pem", "role": "author", "components": [["app-c"]]}},
        {"add-anchor": {"id": 4, "key": "tenant-d.pub.pem", "role": "author", "components": [["app-b"]]}},
        {"add-anchor": {"id": 5, "key": "tenant-e.pub.pem", "role": "author", "components": [["app-c"], ["app-e"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    // Boot 2: provision; export both anchors' keys; statements verified on the host.
    provision_and_export_anchor_keys(&disk, d, &[1, 2]);
    for f in [
        "anchor-1.ecdh.pub.pem",
        "anchor-1.hpke.pub.pem",
        "anchor-2.ecdh.pub.pem",
        "anchor-2.hpke.pub.pem",
    ] {
        assert!(d.join(f).is_file(), "{f} not written");
    }
    let a_hpke = std::fs::read(d.join("anchor-1.hpke.pub.pem")).unwrap();
    assert_ne!(
        a_hpke,
        std::fs::read(d.join("anchor-2.hpke.pub.pem")).unwrap()
    );
    assert_ne!(
        a_hpke,
        std::fs::read(d.join("anchor-1.ecdh.pub.pem")).unwrap()
    );

    // The statement from the real TA: verifies with the identity key only, and not tampered.
    let keys = copy_out_of_disk(&disk, "/keys");
    let statement = keys.path().join("keys/anchor-2.statement.cbor");
    assert!(verify_statement(d, &statement, "device.pub.pem")
        .status
        .success());
    let wrong = verify_statement(d, &statement, "anchor-2.hpke.pub.pem");
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    let mut bytes = std::fs::read(&statement).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let tampered = d.join("tampered.cbor");
    std::fs::write(&tampered, &bytes).unwrap();
    let t = verify_statement(d, &tampered, "device.pub.pem");
    assert_eq!(t.status.code(), Some(1), "{t:?}");
    assert!(String::from_utf8_lossy(&t.stderr).contains("not signed by the enrolled identity key"));

    // Tenant A encrypts its secret to its own keys (HPKE and ECDH-ES).
    std::fs::write(d.join("secret.bin"), SECRET).unwrap();
    std::fs::create_dir_all(d.join("p")).unwrap();
    for (mode, key) in [
        ("hpke", "anchor-1.hpke.pub.pem"),
        ("ecdh-es", "anchor-1.ecdh.pub.pem"),
    ] {
        author(
            d,
            &[
                "encrypt",
                "--payload",
                "secret.bin",
                "--recipient",
                key,
                "--mode",
                mode,
                "--info-out",
                &format!("{mode}.info"),
                "--ciphertext-out",
                &format!("p/{mode}.ct"),
            ],
        );
    }
    let info = |mode: &str| std::fs::read(d.join(format!("{mode}.info"))).unwrap();
    // Tenant B references A's encryption info and ciphertext in its own manifests.
    for mode in ["hpke", "ecdh-es"] {
        let m = manifest(
            1,
            "stolen.bin",
            &format!("https://a.example/{mode}.ct"),
            &info(mode),
        );
        sign(d, &m, "tenant-b.priv.pem", &format!("stolen-{mode}.suit"));
    }
    // The very same manifest, signed by A.
    let m = manifest(1, "stolen.bin", "https://a.example/hpke.ct", &info("hpke"));
    sign(d, &m, "tenant-a.priv.pem", "owned.suit");
    // A's payload sent to a fleet: other devices' recipients first, then A's own; and a
    // copy with only the others'.
    for (seq, name, keep_own) in [(2, "fleet", true), (3, "others", false)] {
        let fleet = with_foreign_recipients(&info("hpke"), &info("ecdh-es"), keep_own);
        let m = manifest(
            seq,
            &format!("{name}.bin"),
            "https://a.example/hpke.ct",
            &fleet,
        );
        sign(d, &m, "tenant-a.priv.pem", &format!("{name}.suit"));
    }

    // A's secret with its digest withheld, then an A/B copy of it, then a copy naming it.
    std::fs::write(d.join("vault.bin"), VAULT).unwrap();
    author(
        d,
        &[
            "encrypt",
            "--payload",
            "vault.bin",
            "--recipient",
            "anchor-1.hpke.pub.pem",
            "--mode",
            "hpke",
            "--content-alg",
            "A128GCM",
            "--info-out",
            "vault.info",
            "--ciphertext-out",
            "p/vault.ct",
        ],
    );
    let m = withheld_manifest(
        b"app-a",
        b"vault",
        "https://a.example/vault.ct",
        &info("vault"),
    );
    sign(d, &m, "tenant-a.priv.pem", "vault.suit");
    sign(
        d,
        &backup_manifest(1, None),
        "tenant-a.priv.pem",
        "backup.suit",
    );
    let named = backup_manifest(2, Some(VAULT));
    sign(d, &named, "tenant-a.priv.pem", "backup-named.suit");

    // Review s16 R4: tenant C (anchor 3, no ree-plaintext) installs a secret into its secure
    // component ['app-c'] through the real tools; a copy of it into an REE file co-signed by
    // C and B (anchor 2, whose ree-plaintext covers ['ree']) must not get out. Control: the
    // same two signers copying it within C's own components install.
    std::fs::write(d.join("c.bin"), C_SECRET).unwrap();
    suit_tests::write_text(
        d,
        "c.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
            "components": [{"id": ["app-c"], "file": "c.bin", "uri": "https://c.example/c.bin"}]}"#,
    );
    author(
        d,
        &[
            "create",
            "c.json",
            "-o",
            "c.suit",
            "--sign-key",
            "tenant-c.priv.pem",
            "--payload-out",
            "c",
        ],
    );
    let app_c: &[&[u8]] = &[b"app-c"];
    let c_copy: &[&[u8]] = &[b"ree", b"c-copy.bin"];
    let c_backup: &[&[u8]] = &[b"app-c", b"backup"];
    let out = copy_manifest(2, app_c, c_copy, Some(C_SECRET), &identity());
    sign_all(
        d,
        &out,
        &["tenant-c.priv.pem", "tenant-b.priv.pem"],
        "c-out.suit",
    );
    let within = copy_manifest(2, app_c, c_backup, Some(C_SECRET), &identity());
    sign_all(
        d,
        &within,
        &["tenant-c.priv.pem", "tenant-b.priv.pem"],
        "c-backup.suit",
    );

    // Review s31: E shares ['app-c'] with C and copies C's secret where C does not reach.
    let e_out = copy_manifest(3, app_c, &[b"app-e", b"x"], Some(C_SECRET), &identity());
    sign(d, &e_out, "tenant-e.priv.pem", "e-out.suit");
    let e_within = copy_manifest(
        3,
        app_c,
        &[b"app-c", b"e-copy"],
        Some(C_SECRET),
        &identity(),
    );
    sign(d, &e_within, "tenant-e.priv.pem", "e-within.suit");

    // Review s29 F1: B's PIN with its digest withheld; D (anchor 4) shares B's scope and
    // tests guesses of it by image-match. Control: B and D together may compare it.
    std::fs::write(d.join("pin.bin"), PIN).unwrap();
    author(
        d,
        &[
            "encrypt",
            "--payload",
            "pin.bin",
            "--recipient",
            "anchor-2.hpke.pub.pem",
            "--mode",
            "hpke",
            "--content-alg",
            "A128GCM",
            "--info-out",
            "pin.info",
            "--ciphertext-out",
            "p/pin.ct",
        ],
    );
    let m = withheld_manifest(b"app-b", b"pin", "https://b.example/pin.ct", &info("pin"));
    sign(d, &m, "tenant-b.priv.pem", "pin.suit");
    sign(d, &pin_probe(PIN), "tenant-d.priv.pem", "probe-right.suit");
    sign(
        d,
        &pin_probe(b"PIN=4712"),
        "tenant-d.priv.pem",
        "probe-wrong.suit",
    );
    sign_all(
        d,
        &pin_probe(PIN),
        &["tenant-b.priv.pem", "tenant-d.priv.pem"],
        "probe-owners.suit",
    );

    let puts: Vec<String> = [
        "e-out.suit",
        "e-within.suit",
        "pin.suit",
        "probe-right.suit",
        "probe-wrong.suit",
        "probe-owners.suit",
        "p/pin.ct",
        "c.suit",
        "c/c.bin",
        "c-out.suit",
        "c-backup.suit",
        "vault.suit",
        "backup.suit",
        "backup-named.suit",
        "p/vault.ct",
        "stolen-hpke.suit",
        "stolen-ecdh-es.suit",
        "owned.suit",
        "fleet.suit",
        "others.suit",
        "p/hpke.ct",
        "p/ecdh-es.ct",
    ]
    .iter()
    .map(|f| format!("{}=/up/{f}", d.join(f).display()))
    .collect();
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: puts.iter().map(String::as_str).collect(),
            ..Default::default()
        },
        &[
            "! suit-agent install /up/stolen-hpke.suit --payload-dir /up/p --ree-root /data/ree 2>&1",
            "! suit-agent install /up/stolen-ecdh-es.suit --payload-dir /up/p --ree-root /data/ree 2>&1",
            "! test -e /data/ree/stolen.bin",
            "suit-agent status",
            "suit-agent install /up/owned.suit --payload-dir /up/p --ree-root /data/ree",
            "cat /data/ree/stolen.bin; echo",
            "suit-agent install /up/fleet.suit --payload-dir /up/p --ree-root /data/ree",
            "cat /data/ree/fleet.bin; echo",
            "! suit-agent install /up/others.suit --payload-dir /up/p --ree-root /data/ree 2>&1",
            "! test -e /data/ree/others.bin",
            "suit-agent install /up/vault.suit --payload-dir /up/p",
            "suit-agent install /up/backup.suit",
            "suit-agent status",
            "suit-agent report --json",
            "suit-agent install /up/backup-named.suit",
            "suit-agent status",
            // 16..: review s16 R4.
            "suit-agent install /up/c.suit --payload-dir /up/c",
            "! suit-agent install /up/c-out.suit --ree-root /data/ree 2>&1",
            "! test -e /data/ree/c-copy.bin",
            "! suit-agent export c-copy.bin --ree-root /data/ree 2>&1",
            "! test -e /data/ree/c-copy.bin",
            "suit-agent install /up/c-backup.suit",
            "suit-agent status",
            // 23..: the signed device state lists the vault (review s27).
            "suit-agent device-key --which report",
            "mkdir -p /data/reports && suit-agent report --nonce 5e --out /data/reports/state.cbor",
            // 25..: review s29 F1.
            "suit-agent install /up/pin.suit --payload-dir /up/p",
            "suit-agent status",
            "! suit-agent install /up/probe-right.suit 2>&1",
            "! suit-agent install /up/probe-wrong.suit 2>&1",
            "suit-agent status",
            "suit-agent install /up/probe-owners.suit",
            // 31..: review s31.
            "! suit-agent install /up/e-out.suit 2>&1",
            "suit-agent install /up/e-within.suit",
            "suit-agent status",
            // 34: the TA says which anchors have ree-plaintext (session 36).
            "suit-agent anchors",
            // 35..: status names the anchor that released an REE file (session 43); export
            // writes it again; a path longer than any component's is refused with a bounded
            // answer naming a prefix of it (review s43: the whole path was echoed, an answer
            // too large to send).
            "suit-agent status",
            "mkdir -p /data/ree2 && suit-agent export stolen.bin --ree-root /data/ree2 && cat /data/ree2/stolen.bin; echo",
            "p=$(head -c 100000 /dev/zero | tr '\\0' x); suit-agent export \"$p\" --ree-root /data/ree2 >/tmp/long.out 2>&1; echo \"exit=$? bytes=$(wc -c </tmp/long.out)\"; head -c 300 /tmp/long.out; echo",
        ],
    );
    run.assert_ok();
    for (anchor, flag) in [(1, true), (2, true), (3, false), (4, false), (5, false)] {
        let line = run
            .command(34)
            .output
            .lines()
            .find(|l| l.starts_with(&format!("anchor {anchor} (")))
            .unwrap_or_else(|| panic!("anchor {anchor} not listed: {}", run.command(34).output))
            .to_string();
        assert_eq!(line.ends_with("; ree-plaintext"), flag, "{line}");
    }
    // Session 43's status form and ReeExport bound, inside OP-TEE.
    run.says(35, "['ree', 'stolen.bin']: sequence number 1, ");
    let stolen = run
        .command(35)
        .output
        .lines()
        .find(|l| l.contains("['ree', 'stolen.bin']"))
        .unwrap_or_default()
        .to_string();
    assert!(
        stolen.ends_with(", released by anchor 1 (ree-plaintext)"),
        "status does not name the releasing anchor: {stolen}"
    );
    let secret = String::from_utf8_lossy(SECRET).to_string();
    assert!(
        run.command(36).output.ends_with(&format!("{secret}\n")),
        "export did not write the released file: {}",
        run.command(36).output
    );
    let long = &run.command(37).output;
    let status = long.lines().next().unwrap_or_default();
    let bytes: usize = status
        .rsplit("bytes=")
        .next()
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or(usize::MAX);
    assert!(
        status.starts_with("exit=") && !status.starts_with("exit=0") && bytes < 4096,
        "a 100,000-byte export path: {long}"
    );
    assert!(
        long.contains("no approved REE component xxxx"),
        "the refusal is not the TA's not-found: {long}"
    );
    for i in [0, 1] {
        let out = &run.command(i).output;
        assert!(
            out.contains("payload decryption failed"),
            "B's manifest was not refused for lack of a key: {out}"
        );
    }
    run.says(3, "installed:           0 component(s)");
    for n in [5, 7] {
        assert_eq!(
            run.command(n).output,
            format!("{}\n", String::from_utf8_lossy(SECRET)),
            "command {n}"
        );
    }
    run.says(8, "payload decryption failed");

    // The vault and its A/B copy are installed, and neither shows the vault's SHA-256 in
    // status or in the report of the copy; the copy whose manifest names it shows it.
    let sha = hex::encode(Sha256::digest(VAULT));
    run.says(12, "installed:           4 component(s)");
    // Both listed, each with its digest withheld.
    for c in ["vault", "backup"] {
        run.says(
            12,
            &format!("['app-a', '{c}']: sequence number 1, 38 bytes, digest withheld\n"),
        );
    }
    for n in [12, 13] {
        let out = &run.command(n).output;
        assert!(
            !out.contains(&sha),
            "command {n}: the vault's withheld SHA-256 {sha} is shown: {out}"
        );
    }
    run.says(13, "\"success\": true");
    run.says(15, &sha);

    // R4: anchor 2's ree-plaintext did not let anchor 3's secret out; nothing to export.
    run.says(17, "not every anchor that owns the content allows it");
    let exported = &run.command(19).output;
    assert!(
        !exported.contains(&String::from_utf8_lossy(C_SECRET).to_string())
            && !exported.contains("wrote"),
        "anchor 3's secret was exported: {exported}"
    );
    run.says(22, "['app-c', 'backup']: sequence number 2");
    let all: String = (16..23).map(|i| run.command(i).output.clone()).collect();
    assert!(
        !all.contains(&hex::encode(C_SECRET)),
        "anchor 3's secret shown"
    );

    // The report the TA signed lists every component status lists (review s27: it left out
    // the vault, whose digest is withheld): the vault with a nil digest and its size, its
    // backup (since the copy naming its digest) with that digest.
    suit_tests::write_text(
        d,
        "report.pub.pem",
        &suit_tests::pem_from(&run.command(23).output),
    );
    let reports = copy_out_of_disk(&disk, "/reports");
    let report = suit_tests::verified_report(d, &reports.path().join("reports"), "state.cbor");
    assert_eq!(report["nonce"], "5e", "{report}");
    let components = report["device-state"]["components"]
        .as_array()
        .unwrap_or_else(|| panic!("no device state: {report}"));
    run.says(
        22,
        &format!("installed:           {} component(s)", components.len()),
    );
    let listed = |segments: [&[u8]; 2]| {
        let id: Vec<String> = segments.iter().map(hex::encode).collect();
        components
            .iter()
            .find(|c| c["component"] == serde_json::json!(id))
            .unwrap_or_else(|| panic!("{segments:?} is not in the signed device state: {report}"))
    };
    let vault = listed([b"app-a", b"vault"]);
    assert_eq!(
        (&vault["digest"], &vault["size"], &vault["sequence-number"]),
        (
            &serde_json::Value::Null,
            &serde_json::json!(VAULT.len()),
            &serde_json::json!(1)
        ),
        "{vault}"
    );
    let backup = listed([b"app-a", b"backup"]);
    assert_eq!(backup["digest"], sha, "{backup}");
    assert_eq!(backup["size"], VAULT.len(), "{backup}");

    // Review s29 F1: the co-owner's right and wrong guesses get the same refusal, decided
    // before the content is read, and change nothing; the owners together may compare.
    run.says(
        26,
        "['app-b', 'pin']: sequence number 1, 8 bytes, digest withheld\n",
    );
    let (right, wrong) = (&run.command(27).output, &run.command(28).output);
    assert_eq!(
        right.replace("probe-right", "probe"),
        wrong.replace("probe-wrong", "probe"),
        "the outcome tells the PIN from a guess"
    );
    run.says(27, "not every anchor that owns the content allows it");
    assert_eq!(run.command(26).output, run.command(29).output);
    assert!(!run
        .command(29)
        .output
        .contains(&hex::encode(Sha256::digest(PIN))));

    // Review s31: E alone does not take C's secret out of C's reach; within it, it may.
    run.says(31, "not every anchor that owns the content allows it");
    run.says(33, "['app-c', 'e-copy']: sequence number 3");
    assert!(
        !run.command(33).output.contains("'app-e'"),
        "E's copy of C's secret was installed: {}",
        run.command(33).output
    );
}
