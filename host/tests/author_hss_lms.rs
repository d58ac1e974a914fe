//! HSS-LMS signing (COSE -46), the MTI profile `suit-sha256-hsslms-a256kw-a256ctr` for
//! authors: `keygen --type hss-lms`, an HSS-LMS author anchor provisioned on the simulated
//! device (`suit-agent --tee sim`), an A256KW/A256CTR envelope signed with the key installing,
//! and the key file's state: advanced and saved with every signature (the leaf index q of
//! RFC 8554 §5.4 grows), never shared by concurrent runs, never used when it cannot be saved,
//! and a clear error once exhausted.
//!
//! Keys here use LMS_SHA256_M32_H5 trees (`--height 5`): a debug build computes an H10 tree
//! in seconds, an H5 one in a fraction of one.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;

use ciborium::Value;
use suit_test_support::cli::{fails, ok, provision_args, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

const FIRMWARE: &[u8] = b"firmware under the HSS-LMS / A256KW / A256CTR profile";
/// Length of one LMS signature with H5 / W4 trees (RFC 8554 §5.4: q, otstype, C, y[67],
/// type, path[5]) and of one LMS public key (§5.3).
const LMS_SIG_H5_W4: usize = 4 + 4 + 32 + 67 * 32 + 4 + 5 * 32;
const LMS_PUB: usize = 4 + 4 + 16 + 32;

fn dec(bytes: &[u8]) -> Value {
    ciborium::from_reader(bytes).unwrap()
}

fn untag(v: Value) -> (Option<u64>, Value) {
    match v {
        Value::Tag(t, inner) => (Some(t), *inner),
        other => (None, other),
    }
}

fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Bytes(b) => b.clone(),
        other => panic!("not a bstr: {other:?}"),
    }
}

/// The authentication blocks of an envelope, as encoded.
fn auth_blocks(envelope: &[u8]) -> Vec<Vec<u8>> {
    let (tag, map) = untag(dec(envelope));
    assert_eq!(tag, Some(107));
    let Value::Map(m) = map else {
        panic!("envelope")
    };
    let wrapper = m
        .iter()
        .find(|(k, _)| *k == Value::from(2))
        .map(|(_, v)| bytes(v))
        .unwrap();
    let Value::Array(items) = dec(&wrapper) else {
        panic!("wrapper")
    };
    items[1..].iter().map(bytes).collect()
}

/// A COSE_Sign1 block's protected header (decoded), and its signature; its payload is nil.
fn sign1(block: &[u8]) -> (Value, Vec<u8>) {
    let (tag, v) = untag(dec(block));
    assert_eq!(tag, Some(18), "COSE_Sign1_Tagged");
    let Value::Array(a) = v else {
        panic!("COSE_Sign1")
    };
    assert_eq!(a.len(), 4);
    assert_eq!(a[2], Value::Null, "detached payload");
    (dec(&bytes(&a[0])), bytes(&a[3]))
}

/// The one HSS-LMS signature of an envelope signed with one key, checked to be a COSE_Sign1
/// with exactly `{1: -46}` as its protected header.
fn hss_signature(envelope: &[u8]) -> Vec<u8> {
    let blocks = auth_blocks(envelope);
    assert_eq!(blocks.len(), 1);
    let (protected, sig) = sign1(&blocks[0]);
    assert_eq!(
        protected,
        Value::Map(vec![(Value::from(1), Value::from(-46))]),
        "protected header"
    );
    sig
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// The leaf index q (RFC 8554 §5.4) of each level's LMS signature in an HSS signature of H5/W4
/// levels (§6.2: Nspk, then each signed public key, then the message's LMS signature).
fn leaf_indexes(sig: &[u8]) -> Vec<u32> {
    let nspk = u32_at(sig, 0) as usize;
    let mut at = 4;
    let mut qs = Vec::new();
    for _ in 0..nspk {
        qs.push(u32_at(sig, at));
        at += LMS_SIG_H5_W4 + LMS_PUB;
    }
    qs.push(u32_at(sig, at));
    assert_eq!(at + LMS_SIG_H5_W4, sig.len(), "HSS signature length");
    qs
}

/// The key file's body (CBOR map), as host/README.md and `author::hss` describe it.
fn key_body(d: &Path, name: &str) -> Vec<(Value, Value)> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(d.join(name)).unwrap();
    let b64: String = text
        .lines()
        .filter(|l| !l.contains(':') && !l.starts_with("-----"))
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    let Value::Map(m) = dec(&body) else {
        panic!("key body")
    };
    m
}

/// The number of signatures the key file says were made (the private key's first 8 bytes).
fn used(d: &Path, name: &str) -> Option<u64> {
    let m = key_body(d, name);
    let private = m
        .iter()
        .find(|(k, _)| *k == Value::from("private-key"))
        .map(|(_, v)| bytes(v))
        .unwrap();
    (!private.is_empty()).then(|| u64::from_be_bytes(private[..8].try_into().unwrap()))
}

fn keygen(d: &Path, name: &str, extra: &str) {
    let line = format!("keygen --type hss-lms --out {name} --height 5 {extra}");
    let out = ok(author(d, &words(&line)));
    says(&out.stdout, &format!("wrote {name}.priv.pem"));
    says(&out.stdout, &format!("wrote {name}.pub.cose"));
}

fn description(encrypted: bool) -> String {
    let enc = if encrypted {
        r#", "encryption": {"content-alg": "A256CTR", "recipients": [{"kek": "kek.bin", "kid": "kek-1"}]}"#
    } else {
        ""
    };
    format!(
        r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
        "components": [{{"id": ["app"], "file": "fw.bin"{enc}}}]}}"#
    )
}

/// A scratch directory with an HSS-LMS key `author` (`extra` keygen options), the firmware and
/// an unsigned envelope of it.
fn signing_dir(extra: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "author", extra);
    write(d, "fw.bin", FIRMWARE);
    write(d, "m.json", description(false));
    ok(author(
        d,
        &words("create m.json -o unsigned.suit --unsigned"),
    ));
    t
}

#[test]
fn an_hss_lms_a256kw_a256ctr_envelope_installs_on_the_simulated_device() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // Two levels (the default) of H5 / W4: 1,024 signatures.
    keygen(d, "author", "--kid hss-author");
    write(d, "fw.bin", FIRMWARE);
    write(d, "kek.bin", [0x6bu8; 32]);
    ok(agent(d, &["device-key", "--out-dir", "dev"]));
    write(
        d,
        "p.json",
        r#"{"counter": 1, "device-key": "dev/identity.pub.pem",
        "key-statement": "dev/key-statement.cbor", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.cose", "role": "author", "components": [["app"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}},
        {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [1]}}]}"#,
    );
    ok(author(d, &provision_args("p.json", "p.cbor", &[])));
    ok(agent(d, &["provision", "p.cbor"]));
    let anchors = ok(agent(d, &["anchors"])).stdout;
    says(&anchors, "HSS-LMS");

    write(d, "m.json", description(true));
    let made = ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    says(&made.stdout, "1 of 1024 signatures used (1023 left)");
    let envelope = std::fs::read(d.join("m.suit")).unwrap();
    let sig = hss_signature(&envelope);
    assert_eq!(leaf_indexes(&sig), [0, 0]);
    // The block names the key by its kid; the payload is A256KW / A256CTR.
    let (_, block) = untag(dec(&auth_blocks(&envelope)[0]));
    let Value::Array(block) = block else { panic!() };
    assert_eq!(
        block[1],
        Value::Map(vec![(Value::from(4), Value::Bytes(b"hss-author".to_vec()))])
    );
    let shown = ok(author(d, &["inspect", "m.suit"])).stdout;
    for alg in ["-46", "A256CTR", "A256KW"] {
        says(&shown, alg);
    }

    ok(author(
        d,
        &words("verify m.suit --trust-anchor author.pub.cose --process --provisioning p.json --out out"),
    ));
    assert_eq!(
        std::fs::read(d.join("out/component-0.bin")).unwrap(),
        FIRMWARE
    );
    ok(agent(d, &["install", "m.suit"]));
    let status = ok(agent(d, &["status"])).stdout;
    says(&status, "app");

    // A stranger's HSS-LMS key: the device refuses its envelope.
    keygen(d, "stranger", "--levels 1");
    write(
        d,
        "m2.json",
        description(true).replace("\"sequence-number\": 1", "\"sequence-number\": 2"),
    );
    ok(author(
        d,
        &words("create m2.json -o m2.suit --sign-key stranger.priv.pem"),
    ));
    fails(agent(d, &["install", "m2.suit"]), 1, "");
}

#[test]
fn every_signature_advances_the_saved_state_and_the_leaf_index() {
    let t = signing_dir("--levels 1");
    let d = t.path();
    let mut before = std::fs::read(d.join("author.priv.pem")).unwrap();
    assert_eq!(used(d, "author.priv.pem"), Some(0));
    let mut signatures = Vec::new();
    for i in 0..3u32 {
        let out = format!("s{i}.suit");
        let r = ok(sign_via(d, "author.priv.pem", &out));
        says(
            &r.stdout,
            &format!("{} of 32 signatures used ({} left)", i + 1, 31 - i),
        );
        let sig = hss_signature(&std::fs::read(d.join(&out)).unwrap());
        assert_eq!(leaf_indexes(&sig), [i], "leaf index of signature {i}");
        // The state on disk moved on before the envelope was written.
        let now = std::fs::read(d.join("author.priv.pem")).unwrap();
        assert_ne!(now, before);
        assert_eq!(used(d, "author.priv.pem"), Some(u64::from(i) + 1));
        before = now;
        signatures.push(sig);
        ok(author(
            d,
            &words(&format!("verify {out} --trust-anchor author.pub.cose")),
        ));
    }
    assert_ne!(signatures[0], signatures[1]);
    assert_ne!(signatures[1], signatures[2]);
    // create signs from the same file and moves it on too; so does the default two-level key.
    let r = ok(author(
        d,
        &words("create m.json -o c.suit --sign-key author.priv.pem"),
    ));
    says(&r.stdout, "4 of 32 signatures used");
    let c = hss_signature(&std::fs::read(d.join("c.suit")).unwrap());
    assert_eq!(leaf_indexes(&c), [3]);

    keygen(d, "two", "");
    for i in 0..2u32 {
        let out = format!("t{i}.suit");
        ok(sign_via(d, "two.priv.pem", &out));
        let sig = hss_signature(&std::fs::read(d.join(&out)).unwrap());
        assert_eq!(leaf_indexes(&sig), [0, i]);
    }
    assert_eq!(used(d, "two.priv.pem"), Some(2));
}

#[test]
fn concurrent_runs_on_one_key_file_never_sign_from_the_same_state() {
    let t = signing_dir("--levels 1");
    let d = t.path();
    const RUNS: u32 = 6;
    let handles: Vec<_> = (0..RUNS)
        .map(|i| {
            let dir = d.to_path_buf();
            std::thread::spawn(move || {
                let out = format!("p{i}.suit");
                ok(sign_via(&dir, "author.priv.pem", &out));
                let sig = hss_signature(&std::fs::read(dir.join(&out)).unwrap());
                leaf_indexes(&sig)[0]
            })
        })
        .collect();
    let mut leaves: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    leaves.sort_unstable();
    assert_eq!(leaves, (0..RUNS).collect::<Vec<_>>(), "one leaf per run");
    assert_eq!(used(d, "author.priv.pem"), Some(u64::from(RUNS)));

    // Two keys, named in opposite orders by concurrent runs: the key files are locked in one
    // order (their resolved paths), so no two runs wait for each other for ever.
    keygen(d, "second", "--levels 1");
    let (done, finished) = std::sync::mpsc::channel();
    for i in 0..4u32 {
        let dir = d.to_path_buf();
        let done = done.clone();
        std::thread::spawn(move || {
            let (a, b) = if i % 2 == 0 {
                ("author.priv.pem", "second.priv.pem")
            } else {
                ("second.priv.pem", "author.priv.pem")
            };
            let out = format!("both{i}.suit");
            let r = author(
                &dir,
                &[
                    "sign",
                    "unsigned.suit",
                    "-o",
                    &out,
                    "--sign-key",
                    a,
                    "--sign-key",
                    b,
                ],
            );
            done.send((i, r)).unwrap();
        });
    }
    for _ in 0..4 {
        let (i, r) = finished
            .recv_timeout(std::time::Duration::from_secs(300))
            .expect("a run never finished (lock order)");
        ok(r);
        assert_eq!(
            auth_blocks(&std::fs::read(d.join(format!("both{i}.suit"))).unwrap()).len(),
            2
        );
    }
    assert_eq!(used(d, "author.priv.pem"), Some(u64::from(RUNS) + 4));
    assert_eq!(used(d, "second.priv.pem"), Some(4));
}

#[test]
fn a_key_whose_state_cannot_be_saved_signs_nothing() {
    let t = signing_dir("--levels 1");
    let d = t.path();
    let key = d.join("author.priv.pem");
    let original = std::fs::read(&key).unwrap();
    let sign = |out: &str| sign_via(d, "author.priv.pem", out);

    // A read-only key file (checked by mode, so also when the tests run as root).
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    let said = fails(sign("ro.suit"), 2, "read-only");
    says(&said, "author.priv.pem");
    says(&said, "nothing was signed");
    assert!(!d.join("ro.suit").exists());
    let r = author(
        d,
        &words("create m.json -o ro.suit --sign-key author.priv.pem"),
    );
    fails(r, 2, "read-only");
    assert!(!d.join("ro.suit").exists());
    assert_eq!(std::fs::read(&key).unwrap(), original);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // The state cannot be written (a directory at a temporary name of it is in the way): the
    // signature made is dropped, nothing is written, the state on disk is unchanged.
    let blocker = d.join(suit_host::files::temporary_prefix(
        "author.priv.pem".as_ref(),
    ));
    std::fs::create_dir_all(blocker.join("x")).unwrap();
    let said = fails(sign("blocked.suit"), 2, "could not be written");
    says(&said, "nothing was signed");
    assert!(!d.join("blocked.suit").exists());
    assert_eq!(std::fs::read(&key).unwrap(), original);
    std::fs::remove_dir_all(&blocker).unwrap();

    // A second name for the file would keep the old state.
    std::fs::hard_link(&key, d.join("second-name.pem")).unwrap();
    fails(sign("linked.suit"), 2, "hard links");
    assert!(!d.join("linked.suit").exists());
    std::fs::remove_file(d.join("second-name.pem")).unwrap();

    // The same file twice in one run (here through a symbolic link).
    std::os::unix::fs::symlink("author.priv.pem", d.join("alias.pem")).unwrap();
    fails(
        author(
            d,
            &words(
                "sign unsigned.suit -o twice.suit --sign-key author.priv.pem --sign-key alias.pem",
            ),
        ),
        2,
        "given twice",
    );
    assert!(!d.join("twice.suit").exists());
    assert_eq!(std::fs::read(&key).unwrap(), original);

    // Through the link, the file itself is advanced (the link still leads to it).
    ok(sign_via(d, "alias.pem", "via-link.suit"));
    assert!(std::fs::symlink_metadata(d.join("alias.pem"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(used(d, "author.priv.pem"), Some(1));
}

fn sign_via(d: &Path, key: &str, out: &str) -> suit_test_support::cli::Out {
    author(d, &["sign", "unsigned.suit", "-o", out, "--sign-key", key])
}

/// Rewrites the key file's signature count (the private key's first 8 bytes), as a test
/// shortcut to the end of a key.
fn set_used(d: &Path, name: &str, count: u64) {
    use base64::Engine as _;
    let mut m = key_body(d, name);
    for (k, v) in &mut m {
        if *k == Value::from("private-key") {
            let Value::Bytes(b) = v else { panic!() };
            b[..8].copy_from_slice(&count.to_be_bytes());
        }
    }
    let mut body = Vec::new();
    ciborium::into_writer(&Value::Map(m), &mut body).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    write(
        d,
        name,
        format!(
            "-----BEGIN SUIT HSS-LMS PRIVATE KEY-----\n{b64}\n-----END SUIT HSS-LMS PRIVATE KEY-----\n"
        ),
    );
}

#[test]
fn an_exhausted_key_is_a_clear_error() {
    let t = signing_dir("--levels 1");
    let d = t.path();
    set_used(d, "author.priv.pem", 31);
    let r = ok(sign_via(d, "author.priv.pem", "last.suit"));
    says(&r.stdout, "that was its last signature");
    let sig = hss_signature(&std::fs::read(d.join("last.suit")).unwrap());
    assert_eq!(leaf_indexes(&sig), [31]);
    ok(author(
        d,
        &words("verify last.suit --trust-anchor author.pub.cose"),
    ));
    // The seed is gone from the file; the public half is still there.
    assert_eq!(used(d, "author.priv.pem"), None);
    says(
        &std::fs::read_to_string(d.join("author.priv.pem")).unwrap(),
        "exhausted",
    );
    ok(author(
        d,
        &words("verify last.suit --trust-anchor author.priv.pem"),
    ));
    let said = fails(sign_via(d, "author.priv.pem", "more.suit"), 2, "exhausted");
    says(&said, "generate a new key");
    assert!(!d.join("more.suit").exists());
    fails(
        author(
            d,
            &words("create m.json -o more.suit --sign-key author.priv.pem --json"),
        ),
        2,
        "HSS-LMS key exhausted",
    );
    assert!(!d.join("more.suit").exists());

    // A count past a key's end is not a key.
    keygen(d, "other", "--levels 1");
    set_used(d, "other.priv.pem", 32);
    fails(sign_via(d, "other.priv.pem", "more.suit"), 2, "malformed");
    assert!(!d.join("more.suit").exists());
}

#[test]
fn keygen_options_and_misuse_are_refused_by_name() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (line, expected) in [
        ("keygen --type hss-lms -o k --height 20", "not offered"),
        (
            "keygen --type hss-lms -o k --height 7",
            "height 5, 10 or 15",
        ),
        (
            "keygen --type hss-lms -o k --winternitz 3",
            "W 1, 2, 4 or 8",
        ),
        ("keygen --type hss-lms -o k --levels 9", "1 to 8 levels"),
        (
            "keygen --type hss-lms -o k --levels 2 --height 5,5,5",
            "3 values for 2 levels",
        ),
        (
            "keygen --type hss-lms -o k --levels 5 --height 15",
            "add up to 75",
        ),
        ("keygen --type p256 -o k --levels 1", "hss-lms only"),
    ] {
        fails(author(d, &words(line)), 2, expected);
        assert!(!d.join("k.priv.pem").exists(), "{line}");
    }
    // Per-level parameters, top first.
    let out = ok(author(
        d,
        &words("keygen --type hss-lms -o k --levels 2 --height 10,5 --winternitz 8,4"),
    ))
    .stdout;
    says(
        &out,
        "LMS_SHA256_M32_H10/LMOTS_SHA256_N32_W8, LMS_SHA256_M32_H5/LMOTS_SHA256_N32_W4, 32768 signatures",
    );
    fails(
        author(d, &words("keygen --type hss-lms -o k --height 5")),
        2,
        "exists",
    );
    // The private key file is 0600; the public one is a COSE_Key kty 5 with `pub` (-1).
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(d.join("k.priv.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let Value::Map(cose) = dec(&std::fs::read(d.join("k.pub.cose")).unwrap()) else {
        panic!()
    };
    assert_eq!(cose[0], (Value::from(1), Value::from(5)));
    assert_eq!(cose[1].0, Value::from(-1));
    assert_eq!(bytes(&cose[1].1).len(), 60);

    // The stateful key signs manifests only: not as a TPA key, not as a device key.
    write(d, "fw.bin", FIRMWARE);
    write(
        d,
        "p.json",
        r#"{"counter": 1, "device-key": "k.pub.cose", "ops": []}"#,
    );
    fails(
        author(d, &words("provision p.json --tpa-key k.priv.pem -o p.cbor")),
        2,
        "stateful",
    );
    assert!(!d.join("p.cbor").exists());
    // ... and it cannot be the output of the envelope it signs.
    write(d, "m.json", description(false));
    fails(
        author(
            d,
            &words("create m.json -o k.priv.pem --sign-key k.priv.pem"),
        ),
        2,
        "that file is an input",
    );
    assert_eq!(used(d, "k.priv.pem"), Some(0));
}

/// Review s35 (user) 1, the class in the author tool: an output that cannot be written
/// (`/sys`, where no file can be made; a directory in the way of its temporary file) was
/// found only at the write, after the HSS-LMS signature had been made and the key's state
/// advanced: a one-time signature spent on nothing. The outputs are opened (their temporary
/// files made) before signing now: exit 2, the key file as it was, no file left.
#[test]
fn s35_an_output_that_cannot_be_written_spends_no_signature() {
    let t = signing_dir("--levels 1");
    let d = t.path();
    let key = d.join("author.priv.pem");
    let original = std::fs::read(&key).unwrap();
    std::fs::create_dir(d.join("out")).unwrap();
    let blocker = d
        .join("out")
        .join(suit_host::files::temporary_prefix("blocked.suit".as_ref()));
    std::fs::create_dir(&blocker).unwrap();
    for out in ["/sys/signed.suit", "out/blocked.suit"] {
        fails(sign_via(d, "author.priv.pem", out), 2, out);
        let create = [
            "create",
            "m.json",
            "-o",
            out,
            "--sign-key",
            "author.priv.pem",
        ];
        fails(author(d, &create), 2, out);
        assert_eq!(std::fs::read(&key).unwrap(), original, "{out}");
    }
    assert!(!d.join("out/blocked.suit").exists());
    assert_eq!(std::fs::read_dir(d.join("out")).unwrap().count(), 1);
    ok(sign_via(d, "author.priv.pem", "signed.suit"));
    assert_eq!(used(d, "author.priv.pem"), Some(1));
}
