//! A new user's review of the host tools (session 36, lows 3 to 8): each message test fails
//! with the wording before its fix, run against the built binaries (the agent with
//! `--tee sim`).

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;

use suit_test_support::cli::{
    app_description, encrypted_app_description, fails, ok, provision_args, words, write,
};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// A device provisioned with anchor 1 (`author.*.pem`) for `['app']` and `['ree']`.
fn app_and_ree_device(d: &Path) {
    ok(agent(d, &["device-key", "--out", "device.pub.pem"]));
    ok(author(d, &words("keygen --type p256 -o author")));
    write(
        d,
        "p.json",
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"], ["ree"]]}},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    ok(author(d, &provision_args("p.json", "p.cbor", &[])));
    ok(agent(
        d,
        &["provision", "p.cbor", "--receipt-out", "r.cose"],
    ));
}

/// Low 3: an anchor holding another key than `--anchor-key` names the likely cause (a wrong
/// `--anchor-key`) beside a re-bound id.
#[test]
fn s36_3_another_anchor_key_names_both_causes() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
    ok(author(d, &words("keygen --type p256 -o wrong")));
    let all = fails(
        author(
            d,
            &words(
                "verify-key-statement keys/anchor-1.statement.cbor --identity-key device.pub.pem \
                 --anchor 1 --anchor-key wrong.pub.pem",
            ),
        ),
        1,
        "anchor 1 holds another key than wrong.pub.pem",
    );
    says(
        &all,
        "(a wrong --anchor-key, or the id was re-bound to another key): its ecdh-es key is not for you",
    );
    // The author's own key: verified.
    ok(author(
        d,
        &words(
            "verify-key-statement keys/anchor-1.statement.cbor --identity-key device.pub.pem \
             --anchor 1 --anchor-key author.pub.pem",
        ),
    ));
}

/// Low 4: a statement without the anchor's keys (the enrolment's) and `device-key --anchor`
/// of an anchor the device lacks say where the anchor's keys come from.
#[test]
fn s36_4_missing_anchor_keys_say_how_to_export_them() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // Before any provisioning: the enrolment export, and no anchor at all.
    ok(agent(d, &words("device-key --out-dir enrolled")));
    let all = fails(
        agent(d, &words("device-key --anchor 1")),
        1,
        "no anchor 1 (hint: this device has no trust anchors yet: provision one with \
         `suit-agent provision`, then export its keys with `suit-agent device-key --anchor N \
         --out-dir DIR`)",
    );
    assert!(!all.contains("suit-agent anchors"), "{all}");
    ok(author(d, &words("keygen --type p256 -o author")));
    let all = fails(
        author(
            d,
            &words(
                "verify-key-statement enrolled/key-statement.cbor --identity-key \
                 enrolled/identity.pub.pem --anchor 1 --anchor-key author.pub.pem",
            ),
        ),
        1,
        "the statement names no ecdh-es key for anchor 1 (export an anchor's keys after \
         provisioning it: `suit-agent device-key --anchor 1 --out-dir DIR`; `suit-agent \
         anchors` lists the anchors)",
    );
    assert!(!all.contains("hint: this device"), "{all}");

    // Provisioned with anchor 1: another id names `anchors`.
    std::fs::copy(
        d.join("enrolled/identity.pub.pem"),
        d.join("device.pub.pem"),
    )
    .unwrap();
    write(
        d,
        "p.json",
        suit_test_support::cli::app_provisioning("board"),
    );
    ok(author(d, &provision_args("p.json", "p.cbor", &[])));
    ok(agent(d, &["provision", "p.cbor"]));
    let all = fails(
        agent(d, &words("device-key --anchor 2")),
        1,
        "no anchor 2 (hint: `suit-agent anchors` lists this device's anchors)",
    );
    assert!(!all.contains("no trust anchors yet"), "{all}");
    ok(agent(d, &words("device-key --anchor 1")));
}

/// Low 5: a payload that does not open with the anchor's HPKE key gets a hint covering every
/// wrong key, not only the ECDH-ES one.
#[test]
fn s36_5_hpke_open_failure_hint_covers_any_wrong_key() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    // The identity key: not a payload key at all.
    write(
        d,
        "e.json",
        encrypted_app_description(r#"[{"key": "device.pub.pem", "mode": "hpke"}]"#),
    );
    ok(author(
        d,
        &words("create e.json -o e.suit --sign-key author.priv.pem"),
    ));
    let all = fails(agent(d, &words("install e.suit")), 1, "HPKE open failed");
    says(
        &all,
        "(hint: encrypt to anchor-N.hpke.pub.pem of the anchor that signs the manifest (from \
         `suit-author verify-key-statement --out-dir`); no other key (its ECDH-ES key, the \
         identity key, another device's) opens it. Only a signing anchor allowed to decrypt \
         into the component has its keys tried: its scope covers the component, and for an \
         ['ree', ...] one it has ree-plaintext (`suit-agent anchors`))",
    );
    assert!(!all.contains("not its ECDH-ES key?"), "{all}");
}

/// Low 6: a payload that is not the manifest's, given from a local file, names the file given
/// for which URI and a stale `--payload-dir` (or `--payload` file); another refusal does not.
#[test]
fn s36_6_a_stale_local_payload_is_named() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    provisioned_app_device(d);
    let description = |n: u32| {
        format!(
            r#"{{"sequence-number": {n}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["app"], "file": "fw.bin", "uri": "https://x.example/fw.bin"}}]}}"#
        )
    };
    for (n, dir) in [(1, "old"), (2, "new")] {
        write(d, "fw.bin", format!("firmware v{n}\n"));
        write(d, "m.json", description(n));
        ok(author(
            d,
            &words(&format!(
                "create m.json -o m{n}.suit --sign-key author.priv.pem --payload-out {dir}"
            )),
        ));
    }
    let all = fails(
        agent(d, &words("install m2.suit --payload-dir old")),
        1,
        "image digest does not match the component's content (component 0 is ['app'])",
    );
    says(
        &all,
        "(hint: the agent gave local file(s) old/fw.bin for https://x.example/fw.bin: not the \
         payload this envelope was created with? a stale --payload-dir)",
    );
    let all = fails(
        agent(
            d,
            &words("install m2.suit --payload https://x.example/fw.bin=old/fw.bin"),
        ),
        1,
        "image digest does not match",
    );
    says(
        &all,
        "the agent gave local file(s) old/fw.bin for https://x.example/fw.bin: not the payload \
         this envelope was created with? a stale --payload file)",
    );
    ok(agent(d, &words("install m2.suit --payload-dir new")));
    // A refusal about the manifest (rollback) names no file.
    let all = fails(
        agent(d, &words("install m1.suit --payload-dir old")),
        1,
        "Rollback",
    );
    assert!(!all.contains("hint"), "{all}");
}

/// Low 7: `export` of a path that is not approved names the path without its component id's
/// `ree/`, else lists the approved paths (the first five).
#[test]
fn s36_7_export_names_the_approved_paths() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    app_and_ree_device(d);
    let all = fails(
        agent(d, &words("export etc/consumer.conf --ree-root D")),
        1,
        "no approved REE component etc/consumer.conf (hint: no REE file is approved on this device)",
    );
    assert!(!all.contains("approved paths"), "{all}");
    let components: Vec<String> = (0..7)
        .map(|i| {
            write(d, &format!("c{i}"), format!("conf {i}\n"));
            format!(r#"{{"id": ["ree", "etc", "c{i}.conf"], "file": "c{i}"}}"#)
        })
        .collect();
    write(
        d,
        "m.json",
        format!(
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{}]}}"#,
            components.join(", ")
        ),
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    ok(agent(d, &words("install m.suit")));
    let all = fails(
        agent(d, &words("export ree/etc/c3.conf --ree-root D")),
        1,
        "no approved REE component ree/etc/c3.conf (hint: give the path without the leading \
         'ree/': `suit-agent export etc/c3.conf --ree-root D`)",
    );
    assert!(!all.contains("approved paths"), "{all}");
    fails(
        agent(d, &words("export etc/consumer.conf --ree-root D")),
        1,
        "no approved REE component etc/consumer.conf (hint: the approved paths: etc/c0.conf, \
         etc/c1.conf, etc/c2.conf, etc/c3.conf, etc/c4.conf, and 2 more)",
    );
    // `ree/` before a path that is not approved either: the list.
    fails(
        agent(d, &words("export ree/etc/nothing --ree-root D")),
        1,
        "(hint: the approved paths: etc/c0.conf,",
    );
    ok(agent(d, &words("export etc/c3.conf --ree-root D")));
    assert_eq!(
        std::fs::read_to_string(d.join("D/etc/c3.conf")).unwrap(),
        "conf 3\n"
    );
}

/// Low 8a: `verify-receipt --message` given another of the tools' files says which file it
/// needs, not the command that takes the one given.
#[test]
fn s36_8a_verify_receipt_message_names_the_file_it_needs() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    app_and_ree_device(d);
    write(d, "fw.bin", "firmware v1\n");
    write(d, "m.json", app_description("board"));
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let all = fails(
        author(
            d,
            &words("verify-receipt r.cose --identity-key device.pub.pem --message m.suit"),
        ),
        2,
        "--message m.suit: this is a SUIT envelope, not a TPA-signed provisioning message: \
         --message needs the file `suit-author provision -o` wrote",
    );
    assert!(!all.contains("use `suit-author verify`"), "{all}");
    ok(author(
        d,
        &words("verify-receipt r.cose --identity-key device.pub.pem --message p.cbor"),
    ));
}

/// Low 8b: a key (or other input) file given with an option that cannot be read or used is
/// named with its option; a path also given another way is not.
#[test]
fn s36_8b_option_files_are_named_with_their_option() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    write(d, "fw.bin", "firmware v1\n");
    write(d, "m.json", app_description("board"));
    let all = fails(
        author(d, &words("create m.json -o m.suit --sign-key nonexist.pem")),
        2,
        "suit-author: --sign-key nonexist.pem: No such file or directory",
    );
    assert!(!d.join("m.suit").exists(), "{all}");
    fails(
        author(
            d,
            &words("create m.json -o m.suit --sign-key author.pub.pem"),
        ),
        2,
        "suit-author: --sign-key author.pub.pem: a public key where a private key was expected",
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    fails(
        author(d, &words("sign m.suit -o s.suit --hmac-key none.key")),
        2,
        "suit-author: --hmac-key none.key: No such file or directory",
    );
    fails(
        author(d, &words("verify m.suit --trust-anchor none.pem")),
        2,
        "suit-author: --trust-anchor none.pem: No such file or directory",
    );
    fails(
        author(
            d,
            &words("encrypt --payload fw.bin --recipient none.pem --info-out i.cbor --ciphertext-out c.bin"),
        ),
        2,
        "suit-author: --recipient none.pem: No such file or directory",
    );
    fails(
        author(d, &words("verify-report r.cose --device-key none.pem")),
        2,
        "suit-author: --device-key none.pem: No such file or directory",
    );
    // The same path as the argument too: which one failed is not said.
    let all = fails(
        author(d, &words("verify-receipt same --identity-key same")),
        2,
        "suit-author: same: No such file or directory",
    );
    assert!(!all.contains("--identity-key"), "{all}");
}

/// Low 8c: a simulator state directory holding no device yet says once that a new one began;
/// a device there, or an older state, does not.
#[test]
fn s36_8c_a_new_simulated_device_is_noted() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    const NOTE: &str =
        "suit-agent: note: the simulator state fresh held no device: began a new, empty one\n";
    let r = ok(agent_state(d, "fresh", &["status"]));
    assert_eq!(r.stderr.matches(NOTE).count(), 1, "{}", r.stderr);
    let r = ok(agent_state(d, "fresh", &["status"]));
    assert!(!r.stderr.contains("note:"), "{}", r.stderr);
    // An empty directory made beforehand: new too.
    std::fs::create_dir(d.join("made")).unwrap();
    let r = ok(agent_state(d, "made", &["status", "--json"]));
    says(
        &r.stderr,
        "suit-agent: note: the simulator state made held no device: began a new, empty one",
    );
    assert!(!r.stdout.contains("note"), "{}", r.stdout);
    // A state with a device but without the remembered TPA root (older simulators): not new.
    ok(agent_state(d, "old", &["device-key"]));
    std::fs::remove_file(d.join("old/tpa-root.pub.pem")).unwrap();
    let r = ok(agent_state(d, "old", &["status"]));
    assert!(!r.stderr.contains("note:"), "{}", r.stderr);
}

/// Low 8d: `inspect`'s and `verify`'s readable tree show component ids in diagnostic notation
/// as every other text output does; JSON keeps the hex lists.
#[test]
fn s36_8d_the_readable_tree_shows_component_ids_as_text() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    write(d, "fw.bin", "firmware v1\n");
    write(
        d,
        "m.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "manifest-component-id": ["m", "hex:00ff"],
        "components": [{"id": ["app"], "file": "fw.bin"}, {"id": ["ree", "etc", "hex:01"], "file": "fw.bin"}]}"#,
    );
    ok(author(
        d,
        &words("create m.json -o m.suit --sign-key author.priv.pem"),
    ));
    let shown = "    components:\n      - ['app']\n      - ['ree', 'etc', h'01']\n";
    let r = ok(author(d, &words("inspect m.suit")));
    says(&r.stdout, shown);
    says(&r.stdout, "  manifest-component-id: ['m', h'00ff']\n");
    assert!(!r.stdout.contains("[617070]"), "{}", r.stdout);
    let r = ok(author(
        d,
        &words("verify m.suit --trust-anchor author.pub.pem"),
    ));
    says(&r.stdout, "components:");
    says(&r.stdout, "- ['ree', 'etc', h'01']\n");
    let r = ok(author(d, &words("inspect m.suit --json")));
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        j["manifest"]["common"]["components"],
        serde_json::json!([["617070"], ["726565", "657463", "01"]])
    );
    assert_eq!(
        j["manifest"]["manifest-component-id"],
        serde_json::json!(["6d", "00ff"])
    );
}
