//! `verify --process --device-key` (review s36): the caller's key stands in for each anchor's
//! own payload keys, and everything else about decryption is the device's rule, from the same
//! code (`service::keys::AnchorKeySource`): an anchor without `"ree-plaintext"` gets no
//! decrypted content into an `['ree', ...]` component, and a KEK is offered only to the
//! anchors it was provisioned for. Before, the given key decrypted for every signer into any
//! component and the KEKs joined it, so `verify` said "OK: update applied" for updates the
//! device refuses.
//!
//! `--device-key ID=FILE` (session 37): each key stands in for the anchor it names only, so a
//! co-signed run opens a payload with the key of a signer that may decrypt into the component,
//! not with a co-signer's, as a device does (the plain form, one key for every signer, cannot
//! tell them apart and says so in a note); an ID the simulated device has no anchor for, or
//! one given twice, is refused naming the option.
//!
//! Session 38: one key for two anchors is refused (a device's anchors never share a payload
//! key), and the co-signed note follows the manifest that decrypts (a dependency's signers
//! too), not the root's signers.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;

use suit_test_support::cli::{fails, ok, provision_args, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

/// What `verify` prints after a default-device install into an `['ree', ...]` component.
const DEFAULT_NOTE: &str = "without --provisioning the simulated device's anchors are unrestricted";

/// What `verify` prints after a co-signed run with `--device-key`.
const COSIGNED_NOTE: &str = "--device-key stands in for the payload keys of every signing anchor";

/// A description adding anchor 1 (`author`) for `['ree']`, with `flag` after its components,
/// then `more` operations.
fn description(flag: &str, more: &str) -> String {
    format!(
        r#"{{"counter": 1, "device-key": "dev/identity.pub.pem",
        "key-statement": "dev/key-statement.cbor", "ops": [
        {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["ree"]]{flag}}}}},
        {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}}}}}}{more}]}}"#
    )
}

/// An envelope `name`.suit signed by `author` installing `c.conf` encrypted to `recipients`
/// as `['ree', 'etc', 'c.conf']`.
fn envelope(d: &Path, name: &str, recipients: &str) {
    write(
        d,
        &format!("{name}.json"),
        format!(
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["ree", "etc", "c.conf"], "file": "c.conf",
              "encryption": {{"recipients": {recipients}}}}}]}}"#
        ),
    );
    ok(author(
        d,
        &[
            "create",
            &format!("{name}.json"),
            "-o",
            &format!("{name}.suit"),
            "--sign-key",
            "author.priv.pem",
        ],
    ));
}

fn verify(d: &Path, envelope: &str, extra: &str) -> suit_test_support::cli::Out {
    let line = format!(
        "verify {envelope} --trust-anchor author.pub.pem --process --vendor-id example.com \
         --class-id board {extra}"
    );
    author(d, &words(&line))
}

#[test]
fn the_device_key_stands_in_for_anchor_keys_under_the_devices_rules() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type p256 -o other")));
    ok(author(d, &words("keygen --type p256 -o dk")));
    ok(agent(d, &words("device-key --out-dir dev")));
    write(d, "c.conf", "endpoint=x\n");
    std::fs::write(d.join("kek.bin"), [0x5a; 16]).unwrap();
    write(d, "plain.json", description("", ""));
    write(
        d,
        "flag.json",
        description(r#", "ree-plaintext": true"#, ""),
    );
    envelope(d, "dk", r#"[{"key": "dk.pub.pem", "mode": "hpke"}]"#);

    // The anchor lacks "ree-plaintext": refused, named, nothing written.
    let all = fails(
        verify(
            d,
            "dk.suit",
            "--provisioning plain.json --device-key dk.priv.pem --out out",
        ),
        1,
        "no signer's anchor may put",
    );
    assert!(all.contains("\"ree-plaintext\": true"), "{all}");
    says(&all, "nothing was installed");
    assert!(!all.contains("OK: update applied"), "{all}");
    assert!(!d.join("out").exists());

    // With the flag the same key decrypts it; no note about the default anchors.
    let r = ok(verify(
        d,
        "dk.suit",
        "--provisioning flag.json --device-key dk.priv.pem --out out",
    ));
    says(&r.stdout, "OK: update applied");
    assert!(!r.stdout.contains(DEFAULT_NOTE), "{}", r.stdout);
    assert!(!r.stdout.contains(COSIGNED_NOTE), "{}", r.stdout);
    assert_eq!(
        std::fs::read(d.join("out/component-0.bin")).unwrap(),
        b"endpoint=x\n"
    );

    // The same for ECDH-ES+A128KW: the rule is the key source's, not one algorithm's.
    envelope(d, "dk-es", r#"[{"key": "dk.pub.pem", "mode": "ecdh-es"}]"#);
    let all = fails(
        verify(
            d,
            "dk-es.suit",
            "--provisioning plain.json --device-key dk.priv.pem",
        ),
        1,
        "no signer's anchor may put",
    );
    assert!(all.contains("\"ree-plaintext\": true"), "{all}");
    says(
        &ok(verify(
            d,
            "dk-es.suit",
            "--provisioning flag.json --device-key dk.priv.pem",
        ))
        .stdout,
        "OK: update applied",
    );

    // Without --provisioning the anchors are unrestricted, ree-plaintext included: applied,
    // and the output says what a device's anchor may not allow.
    let r = ok(verify(d, "dk.suit", "--device-key dk.priv.pem"));
    says(&r.stdout, "OK: update applied");
    says(&r.stdout, DEFAULT_NOTE);
    says(&r.stdout, "\"ree-plaintext\"");

    // A KEK provisioned for anchor 2 only is not anchor 1's, --device-key or not.
    let kek = r#"[{"kek": "kek.bin", "kid": "kek-1"}]"#;
    envelope(d, "kek", kek);
    let more = r#",
        {"add-anchor": {"id": 2, "key": "other.pub.pem", "role": "author", "components": [["ree"]], "ree-plaintext": true}},
        {"add-kek": {"kek": "kek.bin", "kid": "kek-1", "anchors": [ANCHORS]}}"#;
    let flag = r#", "ree-plaintext": true"#;
    write(
        d,
        "kek2.json",
        description(flag, &more.replace("ANCHORS", "2")),
    );
    write(
        d,
        "kek1.json",
        description(flag, &more.replace("ANCHORS", "1")),
    );
    let all = fails(
        verify(
            d,
            "kek.suit",
            "--provisioning kek2.json --device-key dk.priv.pem",
        ),
        1,
        "nothing was installed",
    );
    assert!(!all.contains("OK: update applied"), "{all}");
    says(
        &ok(verify(
            d,
            "kek.suit",
            "--provisioning kek1.json --device-key dk.priv.pem",
        ))
        .stdout,
        "OK: update applied",
    );

    // Co-signed by anchor 1 (no flag) and anchor 2 (flag): the one key stands in for both, so
    // the run cannot tell whose key the payload was encrypted to (a device refuses it if it
    // was anchor 1's), and says so (re-review s36).
    ok(author(
        d,
        &words("create dk.json -o co.suit --sign-key author.priv.pem --sign-key other.priv.pem"),
    ));
    write(
        d,
        "co.json",
        description(
            "",
            r#",
        {"add-anchor": {"id": 2, "key": "other.pub.pem", "role": "author", "components": [["ree"]], "ree-plaintext": true}}"#,
        ),
    );
    let r = ok(verify(
        d,
        "co.suit",
        "--trust-anchor other.pub.pem --provisioning co.json --device-key dk.priv.pem",
    ));
    says(&r.stdout, "OK: update applied");
    says(&r.stdout, COSIGNED_NOTE);

    // The device (the agent's simulator) provisioned from the same description refuses the
    // same content encrypted to its anchor's own key, and takes it once the anchor has the flag.
    ok(author(d, &provision_args("plain.json", "plain.cbor", &[])));
    ok(agent(d, &words("provision plain.cbor")));
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
    envelope(
        d,
        "own",
        r#"[{"key": "keys/anchor-1.hpke.pub.pem", "mode": "hpke"}]"#,
    );
    let all = fails(
        agent(d, &words("install own.suit --ree-root ree")),
        1,
        "no signer's anchor may put",
    );
    assert!(all.contains("\"ree-plaintext\": true"), "{all}");
}

/// Anchors 1 (`author`, `"ree-plaintext"`) and 2 (`other`, no flag) for `['ree']` in
/// `co-dev.json`, keys `a` and `b` standing for their own, and the device's identity.
fn co_signers(d: &Path) {
    ok(author(d, &words("keygen --type p256 -o author")));
    ok(author(d, &words("keygen --type p256 -o other")));
    ok(author(d, &words("keygen --type p256 -o a")));
    ok(author(d, &words("keygen --type p256 -o b")));
    ok(agent(d, &words("device-key --out-dir dev")));
    write(d, "c.conf", "endpoint=x\n");
    write(
        d,
        "co-dev.json",
        description(
            r#", "ree-plaintext": true"#,
            r#",
        {"add-anchor": {"id": 2, "key": "other.pub.pem", "role": "author", "components": [["ree"]]}}"#,
        ),
    );
}

/// `co.suit`: `c.conf` into `['ree', 'etc', 'c.conf']` encrypted (HPKE) to `recipient`,
/// signed by anchors 1 and 2.
fn co_signed_to(d: &Path, recipient: &str) {
    envelope(
        d,
        "co",
        &format!(r#"[{{"key": "{recipient}", "mode": "hpke"}}]"#),
    );
    ok(author(
        d,
        &words("create co.json -o co.suit --sign-key author.priv.pem --sign-key other.priv.pem"),
    ));
}

/// `verify --process` of `co.suit` on the device `co-dev.json` describes, with `keys`.
fn verify_co(d: &Path, keys: &str) -> suit_test_support::cli::Out {
    verify(
        d,
        "co.suit",
        &format!("--trust-anchor other.pub.pem --provisioning co-dev.json {keys} --out out"),
    )
}

#[test]
fn keys_bound_to_co_signers_open_a_payload_only_as_the_device_does() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    co_signers(d);
    // Encrypted to anchor 2's key; only anchor 1 may decrypt into an ['ree', ...] component.
    co_signed_to(d, "b.pub.pem");

    // Each key for its own anchor: anchor 1's key does not open it and anchor 2 may not
    // decrypt there, so refused (a device does not try anchor 2's keys for this component),
    // nothing written.
    let all = fails(
        verify_co(d, "--device-key 1=a.priv.pem --device-key 2=b.priv.pem"),
        1,
        "nothing was installed",
    );
    assert!(!all.contains("OK: update applied"), "{all}");
    says(&all, REFUSAL);
    says(
        &all,
        "each --device-key ID=FILE stands in only for the anchor it names (1, 2); other \
         anchors have no key",
    );
    assert!(!d.join("out").exists());

    // The plain form as documented: the one key stands in for both signers, so anchor 1's
    // place opens it; applied, with the note that a device may refuse it.
    let r = ok(verify_co(d, "--device-key b.priv.pem"));
    says(&r.stdout, "OK: update applied");
    says(&r.stdout, COSIGNED_NOTE);
    std::fs::remove_dir_all(d.join("out")).unwrap();

    // A plain key beside a bound one stands in for the other anchors only: anchor 1 has
    // `a`, so `b` is anchor 2's alone and opens nothing here.
    fails(
        verify_co(d, "--device-key b.priv.pem --device-key 1=a.priv.pem"),
        1,
        "nothing was installed",
    );
    assert!(!d.join("out").exists());

    // The device (the agent's simulator) provisioned from the same description refuses the
    // envelope encrypted to anchor 2's own key as the keyed run did.
    ok(author(d, &provision_args("co-dev.json", "co.cbor", &[])));
    ok(agent(d, &words("provision co.cbor")));
    ok(agent(d, &words("device-key --anchor 2 --out-dir keys")));
    co_signed_to(d, "keys/anchor-2.hpke.pub.pem");
    let device = fails(
        agent(d, &words("install co.suit --ree-root ree")),
        1,
        REFUSAL,
    );
    assert!(!d.join("ree/etc/c.conf").exists(), "{device}");
}

/// The device's refusal of `co.suit` encrypted to anchor 2 (which may not decrypt into the
/// component) when anchor 1's key is the only one tried.
const REFUSAL: &str = "the manifest failed at command 6 of suit-install on component 0: payload \
decryption failed: HPKE open failed (component 0 is ['ree', 'etc', 'c.conf'])";

#[test]
fn keys_bound_to_co_signers_apply_what_the_device_applies_without_the_co_signed_note() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    co_signers(d);
    // Encrypted to anchor 1's key, which may decrypt into the component.
    co_signed_to(d, "a.pub.pem");

    // Every signer's own key: applied, and no note, since the run is exact.
    let r = ok(verify_co(
        d,
        "--device-key 1=a.priv.pem --device-key 2=b.priv.pem",
    ));
    says(&r.stdout, "OK: update applied");
    assert!(!r.stdout.contains(COSIGNED_NOTE), "{}", r.stdout);
    assert_eq!(
        std::fs::read(d.join("out/component-0.bin")).unwrap(),
        b"endpoint=x\n"
    );
    std::fs::remove_dir_all(d.join("out")).unwrap();

    // A plain key standing in for one signer only (anchor 2's is bound) is exact too.
    let r = ok(verify_co(
        d,
        "--device-key a.priv.pem --device-key 2=b.priv.pem",
    ));
    says(&r.stdout, "OK: update applied");
    assert!(!r.stdout.contains(COSIGNED_NOTE), "{}", r.stdout);
    std::fs::remove_dir_all(d.join("out")).unwrap();

    // The plain key alone stands in for both signers: the note, as before.
    let r = ok(verify_co(d, "--device-key a.priv.pem"));
    says(&r.stdout, "OK: update applied");
    says(&r.stdout, COSIGNED_NOTE);

    // The device applies the envelope encrypted to anchor 1's own key.
    ok(author(d, &provision_args("co-dev.json", "co.cbor", &[])));
    ok(agent(d, &words("provision co.cbor")));
    ok(agent(d, &words("device-key --anchor 1 --out-dir keys")));
    co_signed_to(d, "keys/anchor-1.hpke.pub.pem");
    ok(agent(d, &words("install co.suit --ree-root ree")));
    assert_eq!(
        std::fs::read(d.join("ree/etc/c.conf")).unwrap(),
        b"endpoint=x\n"
    );
}

#[test]
fn a_device_key_for_no_anchor_or_for_one_twice_is_refused_naming_the_option() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    co_signers(d);
    co_signed_to(d, "a.pub.pem");

    // An id the simulated device has no anchor for: with --provisioning, the description's.
    let all = fails(
        verify_co(d, "--device-key 1=a.priv.pem --device-key 3=b.priv.pem"),
        2,
        "--device-key 3=b.priv.pem: the simulated device has no anchor 3 (its anchors: 1, 2;",
    );
    assert!(!all.contains("OK: update applied"), "{all}");
    assert!(!d.join("out").exists());
    // Without it, the anchors are the --trust-anchor files, numbered from 1 (both
    // unrestricted here: anchor 2's key opens it).
    says(
        &ok(verify(
            d,
            "co.suit",
            "--trust-anchor other.pub.pem --device-key 2=a.priv.pem",
        ))
        .stdout,
        "OK: update applied",
    );
    fails(
        verify(d, "co.suit", "--device-key 2=a.priv.pem"),
        2,
        "--device-key 2=a.priv.pem: the simulated device has no anchor 2 (its anchors: 1;",
    );
    // 0 is the TPA root's id, never an anchor that signs updates.
    fails(
        verify_co(d, "--device-key 0=a.priv.pem"),
        2,
        "--device-key 0=a.priv.pem: the simulated device has no anchor 0 (its anchors: 1, 2;",
    );

    // The same anchor twice, the same key file or not.
    fails(
        verify_co(d, "--device-key 1=a.priv.pem --device-key 1=b.priv.pem"),
        2,
        "--device-key 1=b.priv.pem: anchor 1 has a key already (--device-key 1=a.priv.pem)",
    );
    fails(
        verify_co(d, "--device-key 2=b.priv.pem --device-key 2=b.priv.pem"),
        2,
        "--device-key 2=b.priv.pem: anchor 2 has a key already (--device-key 2=b.priv.pem)",
    );
    // One key for two anchors, bound twice or bound and plain: a device's anchors never
    // share a payload key, and the run would open what a device refuses.
    fails(
        verify_co(d, "--device-key 1=a.priv.pem --device-key 2=a.priv.pem"),
        2,
        "--device-key 2=a.priv.pem: the same key as --device-key 1=a.priv.pem; a device's \
         anchors never share a payload key",
    );
    fails(
        verify_co(d, "--device-key 1=a.priv.pem --device-key a.priv.pem"),
        2,
        "--device-key a.priv.pem: the same key as --device-key 1=a.priv.pem;",
    );
    // Two plain keys, as before.
    fails(
        verify_co(d, "--device-key a.priv.pem --device-key b.priv.pem"),
        2,
        "give at most one --device-key FILE",
    );
    // An ID=FILE is parsed as such: an id out of range or no file is the option's error.
    fails(
        verify_co(d, "--device-key 4294967296=a.priv.pem"),
        2,
        "anchor id 4294967296 is out of range",
    );
    assert!(!d.join("out").exists());
}

/// The draft's dependency example (operator's root, author's dependency decrypting with
/// ECDH-ES), its dependency re-signed by both anchors: the plain key stands in for both
/// signers of the manifest that decrypts, so the run says it cannot tell whose key the
/// payload was encrypted to, though the root has one signer (session 37 looked at the root's
/// signers only). Re-signing keeps the root valid: it names the dependency by its manifest's
/// digest, and integrated payloads are outside its signature.
#[test]
fn a_co_signed_dependency_under_the_plain_key_gets_the_co_signed_note() {
    use ciborium::Value;
    use suit_common::suit::author::{seal_envelope, Signer};
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let fe =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/suit-firmware-encryption");
    let hex =
        std::fs::read_to_string(fe.join("suit-manifest-es-ecdh-dependency.hex.signed")).unwrap();
    let hex: String = hex.split_whitespace().collect();
    let root: Value = ciborium::from_reader(&hex::decode(hex).unwrap()[..]).unwrap();
    let member = |v: &Value, key: Value| -> Vec<u8> {
        let v = match v {
            Value::Tag(_, inner) => inner.as_ref(),
            v => v,
        };
        v.as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.as_bytes().cloned())
            .unwrap()
    };
    let dep_name = "#dependency-manifest";
    let dep_envelope = member(&root, Value::Text(dep_name.into()));
    let dep: Value = ciborium::from_reader(&dep_envelope[..]).unwrap();
    let key = |name: &str| suit_test_support::keys::p256_private_from_pem_file(&fe.join(name));
    let (author_key, operator_key) = (
        key("signer_es256_priv.pem"),
        key("dependent_manifest_signer_es256_priv.pem"),
    );
    let signer = |key| Signer {
        key,
        alg: suit_common::cose::Algorithm::Esp256,
        kid: b"",
    };
    let co_signed = seal_envelope(
        &member(&dep, Value::Integer(3.into())),
        &[signer(&author_key), signer(&operator_key)],
        &[],
        &[],
    )
    .unwrap();
    let envelope = seal_envelope(
        &member(&root, Value::Integer(3.into())),
        &[signer(&operator_key)],
        &[],
        &[(dep_name, &co_signed)],
    )
    .unwrap();
    std::fs::write(d.join("co-dep.suit"), envelope).unwrap();
    let run = |keys: &str| {
        let line = format!(
            "verify co-dep.suit --trust-anchor {} --trust-anchor {} --process --out out {keys}",
            fe.join("signer_es256_pub.pem").display(),
            fe.join("dependent_manifest_signer_es256_pub.pem").display(),
        );
        author(d, &words(&line))
    };
    let receiver = fe.join("receiver_p256_ecdh_kid-2_private.jwk.json");
    let r = ok(run(&format!("--device-key {}", receiver.display())));
    says(&r.stdout, "OK: update applied");
    says(&r.stdout, COSIGNED_NOTE);
    std::fs::remove_dir_all(d.join("out")).unwrap();

    // Bound to the dependency's author (anchor 1), the key stands in for it alone: exact.
    let r = ok(run(&format!("--device-key 1={}", receiver.display())));
    says(&r.stdout, "OK: update applied");
    assert!(!r.stdout.contains(COSIGNED_NOTE), "{}", r.stdout);
}

/// An anchor key file that declares its `alg` (RFC 9052 §7.1) reaches the device with it:
/// `provision` puts the restriction into the anchor's COSE_Key, so the device (here the
/// simulated one, provisioned from the description) verifies that algorithm only. Before
/// review s42 the declaration was dropped and an anchor declared for ES256 verified ESP256.
#[test]
fn a_provisioned_anchor_keeps_the_algorithm_its_key_file_declares() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &words("keygen --type p256 --cose -o author")));
    ok(agent(d, &words("device-key --out-dir dev")));
    // author.pub.cose declared for ES256 (-7): alg after kty, as a COSE_Key orders it.
    let key: ciborium::Value =
        ciborium::from_reader(&std::fs::read(d.join("author.pub.cose")).unwrap()[..]).unwrap();
    let mut entries = key.into_map().unwrap();
    entries.insert(1, (3.into(), (-7).into()));
    let mut bytes = Vec::new();
    ciborium::into_writer(&ciborium::Value::Map(entries), &mut bytes).unwrap();
    std::fs::write(d.join("author-es256.cose"), bytes).unwrap();
    write(
        d,
        "es256.json",
        description("", "").replace("author.pub.pem", "author-es256.cose"),
    );
    write(d, "c.conf", "endpoint=x\n");
    write(
        d,
        "c.json",
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "components": [{"id": ["ree", "etc", "c.conf"], "file": "c.conf"}]}"#,
    );
    ok(author(
        d,
        &words("create c.json -o esp256.suit --sign-key author.priv.pem"),
    ));
    ok(author(
        d,
        &words("create c.json -o es256.suit --sign-key author.priv.pem --alg es256"),
    ));
    let run = |envelope: &str| {
        author(
            d,
            &words(&format!(
                "verify {envelope} --trust-anchor author.pub.pem --process \
                 --provisioning es256.json"
            )),
        )
    };
    let r = run("es256.suit");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // The file without `alg` authenticates it; the device, whose anchor has it, does not.
    let r = run("esp256.suit");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says(&r.text(), "authentic: manifest digest");
    says(&r.text(), "no trust anchor fits any authentication block");
}
