//! `suit-author`'s outputs (host/README.md): no command writes over a file it reads (it
//! refuses, naming both, and writes nothing), and every output is written whole or not at
//! all, so a failure part-way leaves the old file (an in-place `sign` keeps its envelope).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;
use suit_test_support::cli::{fails, ok, words};

suit_test_support::cli_tools!();

use suit_test_support::{CLASS_UUID as CLASS, VENDOR_UUID as VENDOR};

fn keygen(d: &Path, name: &str) {
    ok(author(
        d,
        &words(&format!("keygen --type p256 --out {name}")),
    ));
}

fn write(d: &Path, name: &str, data: impl AsRef<[u8]>) {
    std::fs::write(d.join(name), data).unwrap();
}

fn read(d: &Path, name: &str) -> Vec<u8> {
    std::fs::read(d.join(name)).unwrap()
}

/// Runs `line` and checks it is refused for writing over `input`, which is left as it was.
fn refused_over_input(d: &Path, line: &str, input: &str) {
    let before = read(d, input);
    let said = fails(author(d, &words(line)), 2, "that file is an input");
    assert!(said.contains("nothing was written"), "{said}");
    assert_eq!(read(d, input), before, "{line}: {input} was changed");
}

/// The manifest description of one integrated component `fw.bin` for the tests' device.
fn manifest(d: &Path, recipients: &str) {
    let enc = if recipients.is_empty() {
        String::new()
    } else {
        format!(r#", "encryption": {{"recipients": [{recipients}]}}"#)
    };
    write(
        d,
        "m.json",
        format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
            "components": [{{"id": ["app"], "file": "fw.bin"{enc}}}]}}"#
        ),
    );
}

/// A TPA message (counter 1) adding `author.pub.pem` as anchor 1 for `['app']`.
const ADD_AUTHOR_ANCHOR: &str = r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}}]}"#;

/// The key pairs `tpa`, `device` and `author` in `d`.
fn tpa_device_and_author_keys(d: &Path) {
    for k in ["tpa", "device", "author"] {
        keygen(d, k);
    }
}

#[test]
fn provision_never_writes_over_its_key_a_named_file_or_its_model() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    tpa_device_and_author_keys(d);
    write(d, "p.json", ADD_AUTHOR_ANCHOR);
    let base = "provision p.json --tpa-key tpa.priv.pem";
    refused_over_input(d, &format!("{base} -o tpa.priv.pem"), "tpa.priv.pem");
    refused_over_input(d, &format!("{base} -o author.pub.pem"), "author.pub.pem");
    refused_over_input(d, &format!("{base} -o device.pub.pem"), "device.pub.pem");
    refused_over_input(
        d,
        &format!("{base} -o p.cbor --state tpa.priv.pem"),
        "tpa.priv.pem",
    );
    assert!(!d.join("p.cbor").exists());

    // The model is read and rewritten; it is never the message's output (the model would be
    // updated, then overwritten by the message).
    ok(author(
        d,
        &words(&format!("{base} -o p.cbor --state model.cbor")),
    ));
    refused_over_input(
        d,
        &format!("{base} --counter 2 -o model.cbor --state model.cbor"),
        "model.cbor",
    );
    // The model still takes the next message (it was not advanced by the refused run).
    write(
        d,
        "p2.json",
        r#"{"counter": 2, "device-key": "device.pub.pem", "ops": [
        {"rescope": {"id": 1, "components": [["app"], ["other"]]}}]}"#,
    );
    let next = ok(author(
        d,
        &words("provision p2.json --tpa-key tpa.priv.pem -o p2.cbor --state model.cbor"),
    ));
    assert!(
        next.stdout.contains("expected state digest"),
        "{}",
        next.stdout
    );

    // A fleet: a device's listed identity key sitting where its message would go.
    write(d, "fleet.txt", "device.pub.pem\n");
    let first = ok(author(
        d,
        &words(&format!("{base} --devices fleet.txt --out-dir first")),
    ));
    let name = std::fs::read_dir(d.join("first"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let name = name.to_str().unwrap();
    assert!(first.stdout.contains(name), "{}", first.stdout);
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::copy(d.join("device.pub.pem"), d.join("out").join(name)).unwrap();
    write(d, "fleet.txt", format!("out/{name}\n"));
    refused_over_input(
        d,
        &format!("{base} --devices fleet.txt --out-dir out"),
        &format!("out/{name}"),
    );
}

/// Two outputs naming one file are refused also when its directory does not exist yet
/// (review s29: the check saw no file there, so `provision -o nd/out.cbor --state
/// nd/out.cbor` wrote the device model, secrets in clear, as "the message"; `create` left one
/// detached payload and no envelope; `encrypt` and `sever` clobbered one output with the
/// other). Nothing is written, no directory made.
#[test]
fn two_outputs_in_a_missing_directory_naming_one_file_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    tpa_device_and_author_keys(d);
    write(d, "p.json", ADD_AUTHOR_ANCHOR);
    write(d, "fw.bin", b"firmware");
    write(
        d,
        "two.json",
        format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
            "components": [
              {{"id": ["a"], "file": "fw.bin", "uri": "https://h/a/fw.bin"}},
              {{"id": ["b"], "file": "fw.bin", "uri": "https://h/b/fw.bin"}}]}}"#
        ),
    );
    keygen(d, "dev");
    manifest(d, "");
    ok(author(
        d,
        &words("create m.json -o full.suit --sign-key author.priv.pem --severable"),
    ));
    let provision = "provision p.json --tpa-key tpa.priv.pem";
    for (line, dir) in [
        (
            format!("{provision} -o nd/out.cbor --state nd/out.cbor"),
            "nd",
        ),
        (
            format!("{provision} -o nd3/out.cbor --state ./nd3/out.cbor"),
            "nd3",
        ),
        (
            format!("{provision} -o nd4/x/../out.cbor --state nd4/out.cbor"),
            "nd4",
        ),
        (
            "create two.json -o newdir/x.suit --sign-key author.priv.pem".into(),
            "newdir",
        ),
        (
            "encrypt --payload fw.bin --recipient dev.pub.pem --info-out ne/same.bin \
             --ciphertext-out ne/./same.bin"
                .into(),
            "ne",
        ),
        (
            "sever full.suit -o sv/suit-install.cbor --members-out sv --member install".into(),
            "sv",
        ),
    ] {
        // provision: the model is read too, so the message is refused as over an input.
        let said = fails(author(d, &words(&line)), 2, "refusing to write");
        assert!(said.contains("nothing was written"), "{line}: {said}");
        assert!(!d.join(dir).exists(), "{line}: {dir} was made");
    }
}

#[test]
fn encrypt_and_create_never_write_over_a_recipient_list_or_its_keys() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "device");
    keygen(d, "author");
    write(d, "fw.bin", b"firmware for the whole fleet");
    write(d, "fleet.txt", "device.pub.pem\n");
    refused_over_input(
        d,
        "encrypt --payload fw.bin --recipient-list fleet.txt --info-out fleet.txt --ciphertext-out c.bin",
        "fleet.txt",
    );
    assert!(!d.join("c.bin").exists());
    manifest(d, r#"{"key-list": "fleet.txt"}"#);
    let create = "create m.json --sign-key author.priv.pem -o";
    refused_over_input(d, &format!("{create} fleet.txt"), "fleet.txt");
    refused_over_input(d, &format!("{create} device.pub.pem"), "device.pub.pem");
    ok(author(d, &words(&format!("{create} m.suit"))));
}

#[test]
fn verify_process_never_writes_a_component_over_an_input() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "author");
    write(d, "fw.bin", b"firmware");
    manifest(d, "");
    ok(author(
        d,
        &words("create m.json --sign-key author.priv.pem -o out/component-0.bin"),
    ));
    let verify = format!(
        "verify out/component-0.bin --trust-anchor author.pub.pem --process --vendor-id {VENDOR} --class-id {CLASS} --out"
    );
    refused_over_input(d, &format!("{verify} out"), "out/component-0.bin");
    ok(author(d, &words(&format!("{verify} installed"))));
    assert_eq!(read(d, "installed/component-0.bin"), b"firmware");
}

#[test]
fn verify_key_statement_never_writes_over_the_identity_key() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &["device-key", "--out-dir", "dev"]));
    refused_over_input(
        d,
        "verify-key-statement dev/key-statement.cbor --identity-key dev/identity.pub.pem --out-dir dev",
        "dev/identity.pub.pem",
    );
    ok(author(
        d,
        &words("verify-key-statement dev/key-statement.cbor --identity-key dev/identity.pub.pem --out-dir verified"),
    ));
    assert_eq!(
        read(d, "verified/identity.pub.pem"),
        read(d, "dev/identity.pub.pem")
    );
}

#[test]
fn verify_key_statement_writes_all_its_key_files_or_none() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(agent(d, &["device-key", "--out-dir", "dev"]));
    // The last key file's place is taken by a directory: the write fails there.
    std::fs::create_dir_all(d.join("verified/provisioning.pub.pem")).unwrap();
    let r = author(
        d,
        &words("verify-key-statement dev/key-statement.cbor --identity-key dev/identity.pub.pem --out-dir verified"),
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("provisioning.pub.pem"), "{}", r.stderr);
    let mut left: Vec<String> = std::fs::read_dir(d.join("verified"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["provisioning.pub.pem"], "{}", r.stderr);
}

/// `suit-author ARGS` in `d` with the file size limit `blocks` (the shell's unit, 512 or
/// 1024 bytes) and SIGXFSZ ignored: a write past it fails with EFBIG, as on a full disk.
fn author_with_size_limit(d: &Path, blocks: u32, args: &str) -> suit_test_support::cli::Out {
    let script = format!("trap '' XFSZ; ulimit -f {blocks} && exec \"$0\" {args}",);
    suit_test_support::cli::run(
        "sh",
        d,
        &["-c", &script, env!("CARGO_BIN_EXE_suit-author")],
        None,
    )
}

/// The "Signatures-Used: N of M" header of an HSS-LMS key file.
fn hss_used(d: &Path, name: &str) -> u64 {
    let text = String::from_utf8(read(d, name)).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Signatures-Used: "))
        .unwrap_or_else(|| panic!("{text}"));
    line.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn an_in_place_sign_that_fails_part_way_keeps_the_envelope() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "author");
    ok(author(
        d,
        &words("keygen --type hss-lms --out lms --levels 1 --height 5"),
    ));
    // Larger than the limit below, whichever unit the shell's ulimit counts in.
    let firmware: Vec<u8> = (0..64 * 1024u32).map(|i| ((i * 7919) >> 5) as u8).collect();
    write(d, "fw.bin", &firmware);
    manifest(d, "");
    ok(author(d, &words("create m.json --unsigned -o env.suit")));
    let unsigned = read(d, "env.suit");
    std::fs::set_permissions(d.join("env.suit"), std::fs::Permissions::from_mode(0o640)).unwrap();

    for key in ["author.priv.pem", "lms.priv.pem"] {
        let r = author_with_size_limit(
            d,
            16,
            &format!("sign env.suit -o env.suit --sign-key {key}"),
        );
        assert_eq!(r.code, 2, "{key}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("env.suit"), "{}", r.stderr);
        assert_eq!(
            read(d, "env.suit"),
            unsigned,
            "{key}: the envelope was damaged"
        );
        let left: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("suit-tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // The HSS-LMS signature was made, so its one-time key is spent: the state was saved
    // before the signature was released, whatever became of the envelope.
    assert_eq!(hss_used(d, "lms.priv.pem"), 1);

    // Without the limit, in place, keeping the file's mode; the next signature is the next
    // one-time key.
    ok(author(
        d,
        &words("sign env.suit -o env.suit --sign-key author.priv.pem --sign-key lms.priv.pem"),
    ));
    assert_ne!(read(d, "env.suit"), unsigned);
    let mode = std::fs::metadata(d.join("env.suit"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_eq!(hss_used(d, "lms.priv.pem"), 2);
    ok(author(
        d,
        &words("verify env.suit --trust-anchor author.pub.pem --trust-anchor lms.pub.cose"),
    ));
}

/// `provision --state`: the model is advanced only once the message is written. A message
/// that cannot be written (its path a directory, or under a regular file) leaves the model
/// byte for byte as it was, for one device and for a fleet; a model that cannot be saved
/// takes the message it would have described away again. The model then still takes the
/// message it was refused for.
#[test]
fn provision_advances_the_model_only_with_a_written_message() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    tpa_device_and_author_keys(d);
    write(d, "p1.json", ADD_AUTHOR_ANCHOR);
    write(
        d,
        "p2.json",
        r#"{"counter": 2, "device-key": "device.pub.pem", "ops": [
        {"rescope": {"id": 1, "components": [["app"], ["other"]]}}]}"#,
    );
    let base = "provision p2.json --tpa-key tpa.priv.pem";
    ok(author(
        d,
        &words("provision p1.json --tpa-key tpa.priv.pem -o p1.cbor --state model.cbor"),
    ));
    let model = read(d, "model.cbor");

    std::fs::create_dir(d.join("a-directory")).unwrap();
    write(d, "a-file", "not a directory");
    for out in ["a-directory", "a-file/p2.cbor"] {
        let r = author(d, &words(&format!("{base} -o {out} --state model.cbor")));
        assert_eq!(r.code, 2, "{out}: {}", r.text());
        assert!(
            r.stderr.contains(out.split('/').next().unwrap()),
            "{}",
            r.stderr
        );
        assert_eq!(
            read(d, "model.cbor"),
            model,
            "-o {out}: the model was advanced"
        );
    }

    // A new model that cannot be saved (its directory is a regular file): the message
    // written first is removed again.
    let r = author(
        d,
        &words("provision p1.json --tpa-key tpa.priv.pem -o p1b.cbor --state a-file/model.cbor"),
    );
    assert_eq!(r.code, 2, "{}", r.text());
    assert!(r.stderr.contains("removed again"), "{}", r.stderr);
    assert!(!d.join("p1b.cbor").exists());

    // A FIFO at -o with --state (a reader there, so the message could be written through) is
    // refused up front: the model failing next removed the message again, deleting the FIFO
    // (re-review s29 F3).
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let fifo = d.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&fifo)
        .unwrap();
    let r = author(
        d,
        &words("provision p1.json --tpa-key tpa.priv.pem -o fifo --state a-file/model.cbor"),
    );
    assert_eq!(r.code, 2, "{}", r.text());
    assert!(
        r.stderr.contains("-o with --state cannot be"),
        "{}",
        r.stderr
    );
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut reader, &mut got);
    assert!(got.is_empty(), "the message went to the FIFO");

    // The model was not advanced: message 2 applies to it.
    let next = ok(author(
        d,
        &words(&format!("{base} -o p2.cbor --state model.cbor")),
    ));
    assert!(
        next.stdout.contains("expected state digest"),
        "{}",
        next.stdout
    );
    assert_ne!(read(d, "model.cbor"), model);

    // A fleet: a device's message path is a directory; its model stays as it was.
    write(d, "fleet.txt", "device.pub.pem\n");
    let fleet = "--devices fleet.txt --out-dir msgs --state-dir models";
    ok(author(
        d,
        &words(&format!("provision p1.json --tpa-key tpa.priv.pem {fleet}")),
    ));
    let models: Vec<_> = std::fs::read_dir(d.join("models"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(models.len(), 1);
    let fleet_model = std::fs::read(&models[0]).unwrap();
    let msg = std::fs::read_dir(d.join("msgs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&msg).unwrap();
    std::fs::create_dir(&msg).unwrap();
    let r = author(d, &words(&format!("{base} {fleet}")));
    assert_eq!(r.code, 2, "{}", r.text());
    assert_eq!(std::fs::read(&models[0]).unwrap(), fleet_model);
    std::fs::remove_dir(&msg).unwrap();
    ok(author(d, &words(&format!("{base} {fleet}"))));
    assert_ne!(std::fs::read(&models[0]).unwrap(), fleet_model);
}

/// A description or a fleet list larger than the bound for text the tool parses whole is
/// refused naming the file and the bound, before anything is written.
#[test]
fn provision_refuses_an_oversized_description_or_fleet_list() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    tpa_device_and_author_keys(d);
    let bound = suit_host::files::MAX_TEXT_FILE_LEN;
    let valid = ADD_AUTHOR_ANCHOR;
    // Valid JSON, padded with white space past the bound.
    let mut big = valid.as_bytes().to_vec();
    big.resize(bound as usize + 1, b' ');
    write(d, "big.json", &big);
    write(d, "p.json", valid);
    let limit = format!("limit {bound}");
    let said = fails(
        author(
            d,
            &words("provision big.json --tpa-key tpa.priv.pem -o p.cbor --state model.cbor"),
        ),
        2,
        &limit,
    );
    assert!(said.contains("big.json"), "{said}");
    assert!(!d.join("p.cbor").exists() && !d.join("model.cbor").exists());

    let mut list = b"device.pub.pem\n".to_vec();
    list.resize(bound as usize + 1, b'\n');
    write(d, "fleet.txt", &list);
    let said = fails(
        author(
            d,
            &words("provision p.json --tpa-key tpa.priv.pem --devices fleet.txt --out-dir msgs --state-dir models"),
        ),
        2,
        &limit,
    );
    assert!(said.contains("fleet.txt"), "{said}");
    assert!(!d.join("msgs").exists() && !d.join("models").exists());
}

/// An output written to standard output (`-o /dev/stdout`) is the only thing there: the
/// status lines go to standard error (create, sign, encrypt; the agent's report and key
/// statement).
#[test]
fn an_output_on_standard_output_is_not_mixed_with_status_lines() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "author");
    write(d, "fw.bin", b"firmware");
    manifest(d, "");
    let r = ok(author(
        d,
        &words("create m.json -o /dev/stdout --sign-key author.priv.pem"),
    ));
    assert!(r.stderr.contains("wrote /dev/stdout"), "{}", r.stderr);
    assert!(!r.stdout.contains("wrote"), "{}", r.stdout);
    // The bytes themselves (the runner's text view is lossy): sign's output, verified.
    ok(author(d, &words("create m.json -o file.suit --unsigned")));
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_suit-author"))
        .current_dir(d)
        .args(words(
            "sign file.suit -o /dev/stdout --sign-key author.priv.pem",
        ))
        .output()
        .unwrap();
    assert!(r.status.success());
    assert_eq!(&r.stdout[..2], &[0xd8, 107], "not an envelope alone");
    std::fs::write(d.join("piped.suit"), &r.stdout).unwrap();
    ok(author(
        d,
        &words("verify piped.suit --trust-anchor author.pub.pem"),
    ));
    // The agent: its device key statement on standard output, nothing else.
    let r = std::process::Command::new(env!("CARGO_BIN_EXE_suit-agent"))
        .current_dir(d)
        .args(words(
            "--tee sim --state st device-key --statement /dev/stdout",
        ))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(r.stdout[0], 0xd2, "a COSE_Sign1 (tag 18) alone");
    std::fs::write(d.join("statement.cbor"), &r.stdout).unwrap();
    let said = ok(author(d, &words("inspect statement.cbor"))).stdout;
    assert!(said.contains("COSE_Sign1"), "{said}");
}

/// A command writing several files writes every one to its temporary file before renaming
/// any: a directory where a companion goes leaves the old envelope, private key or
/// encryption info as it was.
#[test]
fn multi_file_outputs_never_replace_the_primary_before_a_companion_fails() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "author");
    write(d, "fw.bin", b"firmware");
    write(
        d,
        "app.json",
        format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
            "components": [{{"id": ["app"], "file": "fw.bin", "uri": "https://h/app.bin"}}]}}"#
        ),
    );
    ok(author(
        d,
        &words("create app.json -o keep.suit --sign-key author.priv.pem --payload-out pd"),
    ));
    let envelope = read(d, "keep.suit");
    std::fs::remove_file(d.join("pd/app.bin")).unwrap();
    std::fs::create_dir(d.join("pd/app.bin")).unwrap();
    let line =
        "create app.json -o keep.suit --sign-key author.priv.pem --payload-out pd --sequence-number 2";
    let said = fails(author(d, &words(line)), 2, "pd/app.bin");
    assert!(said.contains("nothing was written"), "{said}");
    assert_eq!(read(d, "keep.suit"), envelope, "the envelope was replaced");

    // keygen --force: the private key stays when its public half cannot be written.
    let private = read(d, "author.priv.pem");
    std::fs::remove_file(d.join("author.pub.pem")).unwrap();
    std::fs::create_dir(d.join("author.pub.pem")).unwrap();
    fails(
        author(d, &words("keygen --type p256 -o author --force")),
        2,
        "author.pub.pem",
    );
    assert_eq!(
        read(d, "author.priv.pem"),
        private,
        "the private key was replaced"
    );

    // encrypt: the encryption info stays when the ciphertext cannot be written.
    keygen(d, "device");
    ok(author(
        d,
        &words("encrypt --payload fw.bin --recipient device.pub.pem --info-out i.cbor --ciphertext-out c.bin"),
    ));
    let info = read(d, "i.cbor");
    std::fs::remove_file(d.join("c.bin")).unwrap();
    std::fs::create_dir(d.join("c.bin")).unwrap();
    fails(
        author(
            d,
            &words("encrypt --payload fw.bin --recipient device.pub.pem --info-out i.cbor --ciphertext-out c.bin"),
        ),
        2,
        "c.bin",
    );
    assert_eq!(read(d, "i.cbor"), info, "the encryption info was replaced");
}

/// `-` as an output is standard output where one file goes there (review s29: `create`,
/// `sign`, `report -o`, `device-key --out` wrote a file named `-`; `report -o` opens its
/// output as `device-key` does), in both tools, and is
/// refused, before anything is made, where it would name a directory, a key prefix, a secret
/// or a file the command may remove; `./-` still names a file.
#[test]
fn dash_is_standard_output_or_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for k in ["author", "tpa", "device"] {
        keygen(d, k);
    }
    write(d, "fw.bin", b"firmware");
    manifest(d, "");
    let run = |exe: &str, line: &str| {
        std::process::Command::new(exe)
            .current_dir(d)
            .args(words(line))
            .output()
            .unwrap()
    };
    let author_exe = env!("CARGO_BIN_EXE_suit-author");
    let agent_exe = env!("CARGO_BIN_EXE_suit-agent");
    ok(author(
        d,
        &words("create m.json -o unsigned.suit --unsigned"),
    ));
    for (exe, line, first) in [
        (
            author_exe,
            "create m.json -o - --sign-key author.priv.pem",
            0xd8,
        ),
        (
            author_exe,
            "sign unsigned.suit -o - --sign-key author.priv.pem",
            0xd8,
        ),
        (
            agent_exe,
            "--tee sim --state st device-key --statement -",
            0xd2,
        ),
        (agent_exe, "--tee sim --state st device-key --out -", b'-'),
    ] {
        let r = run(exe, line);
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{line}: {err}");
        assert_eq!(r.stdout.first(), Some(&first), "{line}: {err}");
        assert!(!d.join("-").exists(), "{line} wrote a file named -");
    }
    let r = run(
        author_exe,
        "sign unsigned.suit -o - --sign-key author.priv.pem",
    );
    std::fs::write(d.join("piped.suit"), &r.stdout).unwrap();
    ok(author(
        d,
        &words("verify piped.suit --trust-anchor author.pub.pem"),
    ));
    write(d, "p.json", ADD_AUTHOR_ANCHOR);
    let provision = "provision p.json --tpa-key tpa.priv.pem";
    for line in [
        "keygen --type p256 -o -".to_string(),
        "keygen --type p256 -o /dev/stdout".into(),
        format!("{provision} -o - --state model.cbor"),
        format!("{provision} -o m.cbor --state -"),
        "sever piped.suit -o s.suit --members-out - --member install".into(),
        "verify-key-statement st.cbor --identity-key device.pub.pem --out-dir -".into(),
    ] {
        let said = fails(author(d, &words(&line)), 2, "cannot be standard output");
        assert!(said.contains("./-"), "{line}: {said}");
    }
    for line in [
        "--tee sim --state st device-key --out-dir -",
        "--tee sim --state - status",
        "--tee sim --state st device-key --out - --statement -",
    ] {
        let r = run(agent_exe, line);
        assert_eq!(r.status.code(), Some(2), "{line}");
    }
    for f in [
        "-",
        "-.priv.pem",
        "-.pub.pem",
        "model.cbor",
        "s.suit",
        "m.cbor",
    ] {
        assert!(!d.join(f).exists(), "{f}");
    }
    // Without --state, the message alone goes to standard output; ./- is a file.
    let r = run(author_exe, &format!("{provision} -o -"));
    assert!(r.status.success() && !r.stdout.is_empty());
    ok(author(d, &words("keygen --type p256 -o ./-")));
    assert!(d.join("-.priv.pem").exists());
}

/// Every name under `d` (recursively) that is a temporary file of the tool.
fn temporaries(d: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .contains("suit-tmp")
        {
            found.push(p.clone());
        }
        if p.is_dir() && !p.is_symlink() {
            found.extend(temporaries(&p));
        }
    }
    found
}

/// Runs `line` with a directory at a temporary name of `primary` (`files::temporary_prefix`:
/// no writer makes one, so it is in the way), so that writing the primary's temporary file
/// fails while every companion's succeeds, and checks that the command fails naming the primary and saying
/// nothing was written, that every one of `files` is byte for byte as it was, and that no
/// temporary file is left. Then, the obstacle gone, the same line succeeds and replaces every
/// one of `files` (so the check above could see a change).
fn primary_fails_and_nothing_changes(d: &Path, line: &str, primary: &str, files: &[&str]) {
    let before: Vec<Vec<u8>> = files.iter().map(|f| read(d, f)).collect();
    let p = Path::new(primary);
    let blocker = d
        .join(p.parent().unwrap())
        .join(suit_host::files::temporary_prefix(p.file_name().unwrap()));
    std::fs::create_dir(&blocker).unwrap();
    let said = fails(author(d, &words(line)), 2, primary);
    for (f, old) in files.iter().zip(&before) {
        assert_eq!(&read(d, f), old, "{line}: {f} was replaced");
    }
    assert!(said.contains("nothing was written"), "{line}: {said}");
    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(temporaries(d), Vec::<std::path::PathBuf>::new(), "{line}");
    ok(author(d, &words(line)));
    for (f, old) in files.iter().zip(&before) {
        assert_ne!(&read(d, f), old, "{line}: {f} was not replaced");
    }
}

// A command writing several files writes them all to temporary files before it renames
// any: when the primary's (envelope, encryption info, private key) cannot be written, every
// old file stays, the companions (detached payloads, ciphertext, public keys, severed
// members) included. One test per command.

/// create: the detached payload stays with the envelope naming it.
#[test]
fn create_changes_no_payload_when_the_envelope_cannot_be_written() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "author");
    write(d, "fw.bin", b"firmware 1");
    write(
        d,
        "app.json",
        format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
            "components": [{{"id": ["app"], "file": "fw.bin", "uri": "https://h/app.bin"}}]}}"#
        ),
    );
    let create = "create app.json -o out/keep.suit --sign-key author.priv.pem --payload-out pd";
    ok(author(d, &words(create)));
    write(d, "fw.bin", b"firmware 2");
    primary_fails_and_nothing_changes(d, create, "out/keep.suit", &["out/keep.suit", "pd/app.bin"]);
}

/// encrypt: the ciphertext stays with its encryption info.
#[test]
fn encrypt_changes_no_ciphertext_when_the_info_cannot_be_written() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "device");
    write(d, "fw.bin", b"firmware");
    let encrypt =
        "encrypt --payload fw.bin --recipient device.pub.pem --info-out i.cbor --ciphertext-out c/c.bin";
    ok(author(d, &words(encrypt)));
    primary_fails_and_nothing_changes(d, encrypt, "i.cbor", &["i.cbor", "c/c.bin"]);
}

/// keygen --force: the old key pair stays whole, PEM and COSE, and so does an HSS-LMS one.
#[test]
fn keygen_force_changes_no_public_key_when_the_private_key_cannot_be_written() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let keygen = "keygen --type p256 -o k --cose --force";
    ok(author(d, &words(keygen)));
    let pair = ["k.priv.pem", "k.pub.pem", "k.priv.cose", "k.pub.cose"];
    primary_fails_and_nothing_changes(d, keygen, "k.priv.pem", &pair);
    let keygen = "keygen --type ed25519 -o e --force";
    ok(author(d, &words(keygen)));
    primary_fails_and_nothing_changes(d, keygen, "e.priv.pem", &["e.priv.pem", "e.pub.pem"]);
}

/// keygen --type hss-lms --force: the old public key stays with its stateful private key.
#[test]
fn hss_keygen_force_changes_no_public_key_when_the_private_key_cannot_be_written() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let hss = "keygen --type hss-lms -o lms --levels 1 --height 5 --force";
    ok(author(d, &words(hss)));
    primary_fails_and_nothing_changes(d, hss, "lms.priv.pem", &["lms.priv.pem", "lms.pub.cose"]);
}

/// sever: the members stay with the severed envelope they were taken from.
#[test]
fn sever_changes_no_member_when_the_envelope_cannot_be_written() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "author");
    write(d, "fw.bin", b"firmware 1");
    let description = |text: &str| {
        format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
            "text": {{"manifest-description": "{text}"}},
            "components": [{{"id": ["app"], "file": "fw.bin"}}]}}"#
        )
    };
    write(d, "text.json", description("first"));
    let full = "create text.json -o full.suit --sign-key author.priv.pem --severable";
    ok(author(d, &words(full)));
    let sever = "sever full.suit -o severed.suit --members-out m --member text";
    ok(author(d, &words(sever)));
    write(d, "fw.bin", b"firmware 2");
    write(d, "text.json", description("second"));
    ok(author(d, &words(full)));
    primary_fails_and_nothing_changes(
        d,
        sever,
        "severed.suit",
        &["severed.suit", "m/suit-text.cbor"],
    );
}

/// A directory lock another process holds (any user who can read the directory can take it)
/// is waited for 10 s, then the command refuses, writes nothing and says so once: the files
/// layer and the tool both said "nothing was written" (re-review s29 F2).
#[test]
fn a_held_directory_lock_refuses_once_and_writes_nothing() {
    use rustix::fs::{flock, FlockOperation};
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    keygen(d, "k");
    let before = read(d, "k.priv.pem");
    let held = std::fs::File::open(d).unwrap();
    flock(&held, FlockOperation::LockExclusive).unwrap();
    let said = fails(
        author(d, &words("keygen --type p256 --out k --force")),
        2,
        "held a lock on its directory for 10 s",
    );
    assert_eq!(said.matches("nothing was written").count(), 1, "{said}");
    assert_eq!(read(d, "k.priv.pem"), before);
    assert!(temporaries(d).is_empty(), "{:?}", temporaries(d));
}
