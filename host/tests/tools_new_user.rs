//! A new user's reviews of limits, JSON, help and friction (sessions 29 and 30), one test per
//! finding, run against the built binaries (the agent with `--tee sim`).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::collections::{BTreeMap, BTreeSet};
use suit_test_support::cli::{
    app_description, encrypted_app_description, fails, ok, provision_args, words, write,
};
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

/// Every field's JSON types in `v` by path (`anchors[].vendor-ids[]`), null left out (an
/// absent optional value).
fn field_types(
    v: &serde_json::Value,
    path: &str,
    into: &mut BTreeMap<String, BTreeSet<&'static str>>,
) {
    use serde_json::Value as J;
    let kind = match v {
        J::Null => return,
        J::Bool(_) => "bool",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(items) => {
            for x in items {
                field_types(x, &format!("{path}[]"), into);
            }
            "array"
        }
        J::Object(m) => {
            for (k, x) in m {
                field_types(x, &format!("{path}.{k}"), into);
            }
            "object"
        }
    };
    into.entry(path.to_string()).or_default().insert(kind);
}

/// The agent's `--json` documents keep one type per field whether a list is empty or not: an
/// anchor's `vendor-ids` without any is `[]`, not `""` (the byte conversion took an empty
/// list for empty bytes), and so for every other field of status, anchors, provision and
/// install, on a fresh device and on one with anchors, rules and a component.
#[test]
fn json_fields_keep_their_type_when_empty() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let r = ok(agent(d, &all));
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", r.stdout))
    };
    let mut docs: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for cmd in ["status", "anchors"] {
        docs.entry(cmd).or_default().push(json(&[cmd]));
    }
    ok(agent(d, &words("device-key --out device.pub.pem")));
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type p256 -o operator")));
    write(
        d,
        "p.json",
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}},
        {"add-anchor": {"id": 2, "key": "operator.pub.pem", "role": "operator", "components": [["app"]],
          "vendor-ids": [{"name": "example.com"}], "class-ids": ["1492af14-2569-5e48-bf42-9b2d51f2ab45"]}},
        {"set-rules": [{"prefix": ["app"], "require-roles": ["author"]}]},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    ok(author(d, &provision_args("p.json", "p.cbor", &[])));
    docs.entry("provision")
        .or_default()
        .push(json(&["provision", "p.cbor"]));
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    docs.entry("install")
        .or_default()
        .push(json(&["install", "m.suit"]));
    for cmd in ["status", "anchors"] {
        docs.entry(cmd).or_default().push(json(&[cmd]));
    }
    for (cmd, docs) in &docs {
        let mut types = BTreeMap::new();
        for doc in docs {
            field_types(doc, "", &mut types);
        }
        for (path, kinds) in &types {
            assert_eq!(kinds.len(), 1, "{cmd} --json: {path} is {kinds:?}");
        }
    }
    let anchors = &docs["anchors"][1]["anchors"];
    assert_eq!(anchors[0]["vendor-ids"], serde_json::json!([]), "{anchors}");
    assert_eq!(
        anchors[1]["class-ids"][0], "1492af1425695e48bf429b2d51f2ab45",
        "{anchors}"
    );
}

const TOOLS: [(&str, &str, u8); 2] = [
    ("suit-author", env!("CARGO_BIN_EXE_suit-author"), 2),
    ("suit-agent", env!("CARGO_BIN_EXE_suit-agent"), 6),
];

/// Both tools' `--help` and top man page list their exit statuses, one line per code the
/// tool gives (the agent's listed none).
#[test]
fn help_and_man_page_list_every_exit_status() {
    let t = tempfile::tempdir().unwrap();
    for (name, exe, highest) in TOOLS {
        let help = ok(suit_test_support::cli::run(
            exe,
            t.path(),
            &["--help"],
            None,
        ))
        .stdout;
        ok(suit_test_support::cli::run(
            exe,
            t.path(),
            &["generate-assets", "assets"],
            None,
        ));
        let man =
            std::fs::read_to_string(t.path().join(format!("assets/man/man1/{name}.1"))).unwrap();
        for text in [&help, &man] {
            says(text, "Exit status:");
            for code in 0..=highest {
                says(text, &format!("\n  {code}  "));
            }
        }
    }
}

/// The man pages list only pages that exist (suit-author(1) listed a suit-author-help(1)
/// never generated), and keep the lines of their after-help text (roff joined the create
/// page's description layout into paragraphs: `} Names: ...` on one line).
#[test]
fn man_pages_list_only_pages_that_exist_and_keep_their_lines() {
    let t = tempfile::tempdir().unwrap();
    for (name, exe, _) in TOOLS {
        ok(suit_test_support::cli::run(
            exe,
            t.path(),
            &["generate-assets", "assets"],
            None,
        ));
        let dir = t.path().join("assets/man/man1");
        let roff_name = name.replace('-', "\\-");
        for page in std::fs::read_dir(&dir).unwrap() {
            let page = page.unwrap().path();
            let text = std::fs::read_to_string(&page).unwrap();
            for (i, _) in text.match_indices(&format!("{roff_name}\\-")) {
                let listed = &text[i..];
                let end = listed
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '\\' || c == '-'))
                    .unwrap_or(listed.len());
                if !listed[end..].starts_with("(1)") {
                    continue;
                }
                let file = format!("{}.1", listed[..end].replace("\\-", "-"));
                assert!(
                    dir.join(&file).exists(),
                    "{} lists {file}, which is not generated",
                    page.display()
                );
            }
            if let Some((_, extra)) = text.split_once("\n.SH EXTRA\n") {
                let section = extra.split("\n.SH ").next().unwrap();
                assert!(
                    section.starts_with(".nf\n") && section.trim_end().ends_with("\n.fi"),
                    "{}: its after-help lines are filled into paragraphs:\n{section}",
                    page.display()
                );
            }
        }
    }
    let create =
        std::fs::read_to_string(t.path().join("assets/man/man1/suit-author-create.1")).unwrap();
    says(&create, "\n  }\nNames: ");
}

/// `device-key` checks its arguments before it renders, alike with `--json`: an anchor's key
/// without `--anchor` is refused (exit 2) in both modes (JSON exited 0), and `--which` or
/// `--format` where no single key is output (`--json`, `--out-dir`) are named as ignored.
#[test]
fn device_key_checks_its_arguments_alike_with_json() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for which in ["ecdh-es", "hpke"] {
        let text = fails(
            agent(d, &["device-key", "--which", which]),
            2,
            "give --anchor",
        );
        let json = agent(d, &["device-key", "--which", which, "--json"]);
        assert_eq!(json.code, 2, "{}{}", json.stdout, json.stderr);
        let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(doc["exit-code"], 2, "{doc}");
        let error = doc["error"].as_str().unwrap();
        says(error, "give --anchor");
        says(&text, error);
    }
    let r = ok(agent(
        d,
        &words("device-key --json --which report --format hex"),
    ));
    says(&r.stderr, "--which is ignored");
    says(&r.stderr, "--format is ignored");
    let r = ok(agent(d, &words("device-key --out-dir keys --format hex")));
    says(&r.stderr, "--format is ignored");
    // Where they choose the key, nothing is said.
    let r = ok(agent(
        d,
        &words("device-key --json --which report --format hex --out r.hex"),
    ));
    assert!(!r.stderr.contains("ignored"), "{}", r.stderr);
    // The report key's SEC1 point, hex (65 bytes) and a newline.
    assert_eq!(std::fs::read_to_string(d.join("r.hex")).unwrap().len(), 131);
}

/// An argument error with `--json` is one JSON failure document on standard output too
/// (exit 2), as README says every `--json` failure is; clap's message still goes to standard
/// error, and without `--json` standard output stays empty.
#[test]
fn an_argument_error_with_json_is_one_json_document() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for (r, missing) in [
        (author(d, &["verify", "--json"]), "<ENVELOPE>"),
        (agent(d, &["install", "--json"]), "<ENVELOPE>"),
        (
            author(d, &["keygen", "--json", "--type", "rsa", "-o", "k"]),
            "rsa",
        ),
    ] {
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
        let doc: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", r.stdout, r.stderr));
        assert_eq!(doc["ok"], false, "{doc}");
        assert_eq!(doc["exit-code"], 2, "{doc}");
        says(doc["error"].as_str().unwrap(), missing);
        says(&r.stderr, "error: ");
    }
    let r = author(d, &["verify"]);
    assert_eq!((r.code, r.stdout.as_str()), (2, ""), "{}", r.stderr);
    let r = ok(author(d, &["verify", "--help"]));
    says(&r.stdout, "Usage:");
}

/// A `--ree-root` that is a regular file is refused before the TA is asked anything, said
/// as "not a directory" (it failed after the install committed, as "afile/etc/app.conf:
/// File exists"): nothing installed, exit 2.
#[test]
fn a_ree_root_that_is_a_file_is_refused_up_front() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    write(d, "afile", "a regular file");
    for args in [
        "install m.suit --ree-root afile",
        "export etc/app.conf --ree-root afile",
        "poll http://127.0.0.1:9/ --ree-root afile",
    ] {
        fails(
            agent(d, &words(args)),
            2,
            "--ree-root afile: not a directory",
        );
    }
    says(
        &ok(agent(d, &["status"])).stdout,
        "installed:           0 component(s)",
    );
}

/// `inspect` and `verify` show the text member's diagnostic notation as lines (it was one
/// line with literal `\n`), the texts in it still escaped: a newline or ESC in a signer's
/// text starts no line and sets no terminal mode.
#[test]
fn the_text_member_is_shown_as_lines_and_escaped() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    write(
        d,
        "m.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "text": {"manifest-description": "line one\nresult: SUCCESS\u001b[2J"},
        "components": [{"id": ["app"], "file": "fw.bin"}]}"#,
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    for args in [
        "inspect m.suit",
        "verify m.suit --trust-anchor author.pub.pem",
    ] {
        let out = ok(author(d, &words(args))).stdout;
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        let at = lines
            .iter()
            .position(|l| *l == "diag:")
            .unwrap_or_else(|| panic!("{args}: no diag lines:\n{out}"));
        assert_eq!(&lines[at + 1..at + 3], ["{", "\"en\": {"], "{args}:\n{out}");
        says(&out, r#"1: "line one\nresult: SUCCESS\u{1b}[2J""#);
        assert!(!lines.iter().any(|l| l.starts_with("result:")), "{out}");
        assert!(!out.contains('\u{1b}'), "{out}");
    }
}

/// `status` on the simulator lists its warning with one prefix (it said "warning: WARNING:
/// simulator backend"); the agent still says it loudly on standard error.
#[test]
fn the_simulator_warning_has_one_prefix() {
    let t = tempfile::tempdir().unwrap();
    let r = ok(agent(t.path(), &["status"]));
    says(&r.stdout, "  warning: simulator backend: no TEE");
    assert!(
        !r.stdout.to_lowercase().contains("warning: warning"),
        "{}",
        r.stdout
    );
    says(&r.stderr, "WARNING: simulator backend: no TEE");
}

/// `poll` says a round's failure once (the round's log line and `main`'s error line said it
/// twice): a network error, one round and the last of `--rounds`.
#[test]
fn poll_says_a_failure_once() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    // Nothing listens on the discard port of the loopback.
    let base = "poll http://127.0.0.1:9/fw --retries 0 --poll-state poll.json";
    for extra in ["", " --interval 1 --rounds 2"] {
        let r = agent(d, &words(&format!("{base}{extra}")));
        assert_eq!(r.code, 4, "{}", r.stderr);
        let said: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.contains("network:"))
            .collect();
        assert_eq!(
            said.len(),
            1 + usize::from(!extra.is_empty()),
            "{}",
            r.stderr
        );
        assert!(
            said.iter().all(|l| l.contains("127.0.0.1:9")),
            "{}",
            r.stderr
        );
    }
}

/// `verify --process --out DIR` writes the installed components all or none: one that cannot
/// be written (a directory in its place) leaves none of the others behind, old or new.
#[test]
fn verify_process_writes_its_components_all_or_none() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    std::fs::write(d.join("data.bin"), b"data").unwrap();
    write(
        d,
        "m.json",
        app_description("b").replace(
            r#"{"id": ["app"], "file": "fw.bin"}"#,
            r#"{"id": ["app"], "file": "fw.bin"}, {"id": ["data"], "file": "data.bin"}"#,
        ),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let process = "verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id b --out out";
    ok(author(d, &words(process)));
    let names: Vec<_> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    for blocked in &names {
        std::fs::remove_dir_all(d.join("out")).unwrap();
        std::fs::create_dir_all(d.join("out").join(blocked)).unwrap();
        let r = author(d, &words(process));
        assert_ne!(r.code, 0, "{}", r.stdout);
        let left: Vec<_> = std::fs::read_dir(d.join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![blocked.clone()],
            "written beside a failed output"
        );
    }
}

/// `device-key --out-dir` over another device's enrolment (`identity.pub.pem`, the key the TPA
/// binds messages to) is refused naming both kids, nothing written; the same device again
/// rewrites the same files; `--force` replaces it (review s30).
#[test]
fn device_key_does_not_replace_another_devices_enrolment() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let kid = |state: &str| {
        let r = ok(agent_state(d, state, &words("device-key --format json")));
        let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        j["kid"].as_str().unwrap().to_string()
    };
    let (a, b) = (kid("a"), kid("b"));
    let files = |dir: &str| {
        let mut all = BTreeMap::new();
        for e in std::fs::read_dir(d.join(dir)).unwrap() {
            let e = e.unwrap();
            all.insert(e.file_name(), std::fs::read(e.path()).unwrap());
        }
        all
    };
    ok(agent_state(d, "a", &words("device-key --out-dir enrolled")));
    let before = files("enrolled");
    ok(agent_state(d, "a", &words("device-key --out-dir enrolled")));
    assert_eq!(files("enrolled"), before);
    let r = agent_state(d, "b", &words("device-key --out-dir enrolled"));
    let all = fails(r, 2, "another device's identity key");
    assert!(all.contains(&a) && all.contains(&b), "{all}");
    says(&all, "--force");
    assert_eq!(files("enrolled"), before, "nothing is written");
    // Not a key at all: refused the same way.
    std::fs::create_dir(d.join("other")).unwrap();
    write(d, "other/identity.pub.pem", "notes\n");
    fails(
        agent_state(d, "b", &words("device-key --out-dir other")),
        2,
        "holds no P-256 public key",
    );
    ok(agent_state(
        d,
        "b",
        &words("device-key --out-dir enrolled --force"),
    ));
    assert_ne!(files("enrolled"), before);
    ok(agent_state(d, "b", &words("device-key --out-dir enrolled")));
    // `--out` of the identity key, in any format it writes: another device's key there is
    // not replaced either; any other file is (it is the user's choice of name), and so is a
    // key of the same device.
    for format in ["pem", "cose", "hex", "json"] {
        let line = format!("device-key --format {format} --out id.{format}");
        ok(agent_state(d, "a", &words(&line)));
        let before = std::fs::read(d.join(format!("id.{format}"))).unwrap();
        ok(agent_state(d, "a", &words(&line)));
        let all = fails(
            agent_state(d, "b", &words(&line)),
            2,
            "another device's identity key",
        );
        assert!(all.contains(&a) && all.contains(&b), "{all}");
        assert_eq!(
            std::fs::read(d.join(format!("id.{format}"))).unwrap(),
            before
        );
        ok(agent_state(d, "b", &words(&format!("{line} --force"))));
        assert_ne!(
            std::fs::read(d.join(format!("id.{format}"))).unwrap(),
            before
        );
    }
    write(d, "notes.txt", "notes\n");
    ok(agent_state(d, "b", &words("device-key --out notes.txt")));
    // The report key is no enrolment record.
    ok(agent_state(
        d,
        "a",
        &words("device-key --which report --out id.pem"),
    ));
}

/// `verify-key-statement --out-dir` guards the identity key file as `device-key --out-dir`
/// does: another device's there is not replaced (exit 2, nothing written), the same device's
/// is, and `--force` replaces it (session 31).
#[test]
fn verify_key_statement_does_not_replace_another_devices_enrolment() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for state in ["a", "b"] {
        ok(agent_state(
            d,
            state,
            &words(&format!("device-key --out-dir {state}")),
        ));
    }
    let verify = |state: &str, extra: &str| {
        author(
            d,
            &words(&format!(
                "verify-key-statement {state}/key-statement.cbor --identity-key {state}/identity.pub.pem --out-dir enrolled{extra}"
            )),
        )
    };
    let read = |name: &str| std::fs::read(d.join("enrolled").join(name)).unwrap();
    ok(verify("a", ""));
    let (identity, report) = (read("identity.pub.pem"), read("report.pub.pem"));
    ok(verify("a", ""));
    let all = fails(verify("b", ""), 2, "another device's identity key");
    says(&all, "--force");
    assert_eq!(
        (read("identity.pub.pem"), read("report.pub.pem")),
        (identity.clone(), report),
        "nothing is written"
    );
    ok(verify("b", " --force"));
    assert_eq!(
        read("identity.pub.pem"),
        std::fs::read(d.join("b/identity.pub.pem")).unwrap()
    );
    assert_ne!(read("identity.pub.pem"), identity);
}

/// `verify --process` of an encrypted envelope without `--device-key`/`--kek`: the simulated
/// device's own keys cannot decrypt it, and the refusal says which options give it one; with
/// the key it installs, and another refusal gets no such hint (review s30).
#[test]
fn verify_process_names_the_key_options_when_the_device_has_no_key() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type p256 -o dev")));
    std::fs::write(d.join("fw.bin"), b"secret firmware").unwrap();
    write(
        d,
        "m.json",
        encrypted_app_description(r#"[{"key": "dev.pub.pem", "mode": "hpke"}]"#),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let verify = "verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id board";
    let all = fails(author(d, &words(verify)), 1, "HPKE open failed");
    says(&all, "hint: without --device-key");
    says(&all, "--kek (A128KW, A256KW)");
    ok(author(
        d,
        &words(&format!("{verify} --device-key dev.priv.pem")),
    ));
    // A refusal that is not about keys: no hint.
    let all = fails(
        author(
            d,
            &words("verify m.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id other"),
        ),
        1,
        "class identifier",
    );
    assert!(!all.contains("hint"), "{all}");
}

/// A file of another of the tools' formats given to a verify command or the agent is named,
/// with the command that takes it, before any signature check, as a usage error (exit 2):
/// not "the signature does not verify", "malformed report" or "receipt exceeds 1024 bytes"
/// (review s30).
#[test]
fn a_file_of_another_format_is_named_with_its_command() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    ok(agent(
        d,
        &words("device-key --out-dir keys --statement statement.cbor"),
    ));
    write(
        d,
        "p2.json",
        r#"{"counter": 2, "device-key": "device.pub.pem", "ops": [{"rescope": {"id": 1, "components": [["app"]]}}]}"#,
    );
    ok(author(d, &provision_args("p2.json", "p2.cbor", &[])));
    ok(agent(
        d,
        &words("provision p2.cbor --receipt-out receipt.cose"),
    ));
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &words("install m.suit")));
    ok(agent(d, &words("report -o report.cose")));
    let cases: [(&str, &str, &str); 10] = [
        (
            "verify-receipt receipt.cose --identity-key device.pub.pem --message receipt.cose",
            "this is a provisioning receipt, not a TPA-signed provisioning message",
            // The file this option needs, not the command that takes the one given (s36).
            "--message needs the file `suit-author provision -o` wrote",
        ),
        (
            "verify-report receipt.cose --device-key keys/report.pub.pem",
            "this is a provisioning receipt, not a signed SUIT report",
            "suit-author verify-receipt",
        ),
        (
            "verify-report m.suit --device-key keys/report.pub.pem",
            "this is a SUIT envelope",
            "suit-author verify`",
        ),
        (
            "verify-receipt m.suit --identity-key device.pub.pem",
            "this is a SUIT envelope, not a provisioning receipt",
            "suit-author verify`",
        ),
        (
            "verify-receipt report.cose --identity-key device.pub.pem",
            "this is a signed SUIT report",
            "suit-author verify-report",
        ),
        (
            "verify-key-statement receipt.cose --identity-key device.pub.pem",
            "this is a provisioning receipt, not a key statement",
            "suit-author verify-receipt",
        ),
        (
            "verify-receipt statement.cbor --identity-key device.pub.pem",
            "this is a key statement",
            "suit-author verify-key-statement",
        ),
        (
            "verify p2.cbor --trust-anchor author.pub.pem",
            "this is a TPA-signed provisioning message, not a SUIT envelope",
            "suit-agent provision",
        ),
        (
            "verify-report statement.cbor --device-key keys/report.pub.pem",
            "this is a key statement",
            "suit-author verify-key-statement",
        ),
        (
            "verify-key-statement report.cose --identity-key device.pub.pem",
            "this is a signed SUIT report",
            "suit-author verify-report",
        ),
    ];
    for (line, what, command) in cases {
        let all = fails(author(d, &words(line)), 2, what);
        assert!(all.contains(command), "{line}: {all}");
    }
    // The agent: named before anything is sent to the device, which is unchanged.
    let before = ok(agent(d, &words("status --json"))).stdout;
    let all = fails(
        agent(d, &words("install p2.cbor")),
        2,
        "this is a TPA-signed provisioning message, not a SUIT envelope",
    );
    says(&all, "suit-agent provision");
    let all = fails(
        agent(d, &words("provision m.suit")),
        2,
        "this is a SUIT envelope, not a TPA-signed provisioning message",
    );
    says(&all, "suit-agent install");
    fails(
        agent(d, &words("install receipt.cose")),
        2,
        "suit-author verify-receipt",
    );
    assert_eq!(ok(agent(d, &words("status --json"))).stdout, before);
    // inspect names them by the same rules.
    says(
        &ok(author(d, &words("inspect receipt.cose"))).stdout,
        "a provisioning receipt",
    );
    says(
        &ok(author(d, &words("inspect statement.cbor"))).stdout,
        "a key statement",
    );
    // The right files still verify.
    ok(author(
        d,
        &words("verify-report report.cose --device-key keys/report.pub.pem"),
    ));
    ok(author(
        d,
        &words("verify-receipt receipt.cose --identity-key device.pub.pem"),
    ));
    ok(author(
        d,
        &words("verify-key-statement statement.cbor --identity-key device.pub.pem"),
    ));
}

/// A refusal the TA words by component index names the component's id from the envelope the
/// host sent, and one for a severed section names `suit-author unsever`, in the agent and in
/// `verify --process` alike (review s30).
#[test]
fn refusals_name_the_component_id_and_unsever() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    // The author anchor may write ["app"] only.
    write(
        d,
        "other.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["other"], "file": "fw.bin"}]}"#,
    );
    ok(author(
        d,
        &words("create other.json -o other.suit --sign-key author.priv.pem"),
    ));
    let all = fails(
        agent(d, &words("install other.suit")),
        1,
        "component 0 is not permitted",
    );
    says(&all, "(component 0 is ['other'])");
    // Severed suit-install: the command that puts it back.
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o full.suit --sign-key author.priv.pem --severable"),
    ));
    ok(author(
        d,
        &words("sever full.suit -o bare.suit --members-out members"),
    ));
    let all = fails(
        agent(d, &words("install bare.suit")),
        1,
        "suit-install was severed",
    );
    says(&all, "suit-author unsever");
    let all = fails(
        author(
            d,
            &words("verify bare.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id board"),
        ),
        1,
        "suit-install was severed",
    );
    says(&all, "suit-author unsever");
    ok(agent(d, &words("install full.suit")));
}
