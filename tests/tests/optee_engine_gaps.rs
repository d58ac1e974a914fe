//! Issue 10 item 7 inside OP-TEE on QEMU: a COSE_Sign envelope (author and operator in one
//! block) satisfies a rule requiring both, one signer alone does not; suit-directive-unlink
//! removes a secure-storage component, and a TA's removal is refused. The unlink envelope's
//! COSE_Sign also carries two signatures the TA cannot use (Ed25519, not enabled in its
//! default build, and one whose kid exceeds the header cap): each signature is judged on its
//! own, so they do not void the other two.
//!
//! The same boot then drives session 14's review fixes through the real agent and TA:
//!
//! * A root (sequence 10) whose integrated dependency (sequence 8) shares its rollback key
//!   installs `['app', 'rb']`; the older root 9 is then refused as a rollback (the dependency
//!   did not lower the stored number), and status is unchanged.
//! * The author alone declares `['app', 'dep-…']` a dependency and writes into it, or copies or
//!   swaps the installed `['app', 'rb']` into it (the rule needs author and operator): each is
//!   refused as `DependencyOverwrite` (report code 543, verified on the host), and status is
//!   unchanged. (This TA implements no swap, so a swap fails either way; the code says which
//!   check refused it.)
//! * A TPA message adding an anchor whose key is already anchor 2's (after a valid new anchor
//!   in the same message) is refused whole: anchors and counter unchanged, so the same
//!   counter then adds an HSS-LMS anchor.
//! * HSS-LMS signatures of the wrong RFC 8554 shape (unknown LM-OTS type, wrong level count,
//!   truncated, one byte long) under that anchor are refused as authentication failures, the
//!   TA keeps serving (no panic: run.sh fails the boot on one), and the genuine signature
//!   installs. One more has the right shape and a wrong randomizer byte: hbs-lms verifies it
//!   in full inside the TA (its deepest stack frames; the TA panics with a 48 KiB stack) and
//!   it is refused.
//! * Three dependencies signed with HSS-LMS by that anchor alone, each integrated into the
//!   one above (the engine's deepest chain, `MAX_DEPENDENCY_DEPTH`), under a root author and
//!   operator sign: each signature is verified while the manifest above it runs, the last
//!   under three levels of interpreter frames, and the last one's `['hss', 'dep']` installs.
//!   The TA panics on it with a 68 KiB stack (passes with 72; one dependency alone needs 60).
//!   The same chain again (sequence 2) with every install nested in try-each
//!   `MAX_SEQUENCE_DEPTH` deep installs too: the TA's deepest path, which panics it with an
//!   80 KiB stack and passes with 88 (review s30; the stack is 112 KiB).
//! * Review F5: in one TA session, a second InstallBegin (an empty envelope, refused) between
//!   an install's InstallPrepare and InstallFinish leaves that install under way: it
//!   finishes (`suit-agent refused-begin`, a test-only path; the agent begins once per
//!   session otherwise). With the begin clearing the session before its checks, the finish is
//!   refused.
//! * Review s27 and s37 (dependencies' own payloads): a root (sequence 1) fetching a
//!   dependency envelope by URI whose manifest fetches its image by URI (trust domains'
//!   layout): prepare lists the dependency's URI; the payload chunk that completes it answers
//!   with the image's URI (the TA authenticated the dependency), the agent fetches that too,
//!   and `['app', 'fd']` installs (before session 37 its fetch was refused as
//!   `UnlistedPayload`). Given the dependency but not its image, the agent is asked for the
//!   image, has no file for it, and the install is refused naming it (`PayloadNotDelivered`),
//!   nothing changed.
//!   Root 2 integrating the same dependency: prepare lists its URI, and it installs again
//!   (before session 27 prepare did not list it: the install failed).
//!
//! A second boot, the device policy on content inside the TEE (session 26): personalization
//! data `[uuid, 'perso']` fetched in clear without image-match is refused as
//! `UnvouchedContent` (report code 604) and changes nothing; the same envelope with the image
//! digest and image-match installs. Then (review s29 F2) a dependency installing the
//! consumer TA, processed by root 1 and again, unchanged, by root 2: both install, and the
//! TA's record stays the dependency's (refused as not newer than itself before the fix).

use ciborium::Value;
use sha2::{Digest as _, Sha256};
use suit_common::cose::{Algorithm, SigningKey};
use suit_common::suit::author::{seal_envelope, seal_envelope_as, AuthForm, Signer};
use suit_test_support::cbor::{
    bytes, cbor, check_vendor_class, content_into_component_zero, dependency_as_target,
    fetch_manifest, fetching_dependency_from, int, release_of, suit_manifest,
};
use suit_tests::keys::p256_signer;
use suit_tests::{
    author, boot, consumer_tas, consumer_uuids, enrolled_device, sign_provisioning, write_text,
    Boot,
};

const VENDOR: &str = "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe";
const CLASS: &str = "1492af14-2569-5e48-bf42-9b2d51f2ab45";
const AUTHOR: &str = "vectors/suit-manifest-spec/private_key.pem";
const OPERATOR: &str = "vectors/suit-firmware-encryption/dependent_manifest_signer_es256_priv.pem";
/// A TA the device does not hold (its removal is refused whatever it holds).
const SOME_TA: [u8; 16] = [0x5e; 16];
/// The image a dependency fetches itself, and where from.
const FD_IMAGE: &[u8] = b"fetched by a dependency, not by its root";
const FD_URI: &str = "https://vendor.example/fd.bin";
/// Where the REE delivers that dependency from when its root does not integrate it.
const FD_DEP_URI: &str = "https://vendor.example/fd-dep.suit";

fn uuid(s: &str) -> Vec<u8> {
    hex::decode(s.replace('-', "")).unwrap()
}

/// A manifest (sequence `seq`) unlinking `component`, signed in one COSE_Sign by an Ed25519
/// key, by a P-256 key under a 300-byte kid (over the TA's 256-byte cap), then by author and
/// operator.
fn unlink_envelope(seq: u64, component: &[&[u8]]) -> Vec<u8> {
    let shared = Value::Array(check_vendor_class(
        vec![int(12), int(0)],
        bytes(&uuid(VENDOR)),
        bytes(&uuid(CLASS)),
        vec![],
        15,
    ));
    let install = Value::Array(vec![int(12), int(0), int(33), int(15)]);
    let components = vec![Value::Array(component.iter().map(|s| bytes(s)).collect())];
    let manifest = suit_manifest(seq as i64, components, &shared, &install);
    let (a, o) = (p256_signer(AUTHOR), p256_signer(OPERATOR));
    let ed = SigningKey::ed25519(&[7; 32]).unwrap();
    let stranger = SigningKey::p256(&[9; 32]).unwrap();
    let long_kid = [b'k'; 300];
    seal_envelope_as(
        AuthForm::CoseSign,
        &manifest,
        &[
            Signer {
                key: &ed,
                alg: Algorithm::Ed25519,
                kid: b"ed",
            },
            Signer {
                key: &stranger,
                alg: Algorithm::Esp256,
                kid: &long_kid,
            },
            Signer {
                key: &a,
                alg: Algorithm::Esp256,
                kid: b"",
            },
            Signer {
                key: &o,
                alg: Algorithm::Esp256,
                kid: b"",
            },
        ],
        &[],
        &[],
    )
    .unwrap()
}

/// `manifest` in an envelope signed by each of `keys` (repository-relative PEMs) in one
/// COSE_Sign, with the integrated payloads `integrated`.
fn signed_by(manifest: &[u8], keys: &[&str], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    let keys: Vec<SigningKey> = keys.iter().map(|k| p256_signer(k)).collect();
    let signers: Vec<Signer<'_>> = keys
        .iter()
        .map(|key| Signer {
            key,
            alg: Algorithm::Esp256,
            kid: b"",
        })
        .collect();
    seal_envelope_as(AuthForm::CoseSign, manifest, &signers, &[], integrated).unwrap()
}

/// A change to a signature's bytes.
type Mutation = fn(&mut Vec<u8>);

/// `envelope` (one COSE_Sign1 authentication block) with its signature changed by `change`.
fn with_signature(envelope: &[u8], change: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    fn decode(b: &[u8]) -> Value {
        ciborium::from_reader(b).unwrap()
    }
    fn untag(v: &mut Value) -> &mut Value {
        match v {
            Value::Tag(_, inner) => untag(inner),
            other => other,
        }
    }
    let mut env = decode(envelope);
    let Value::Map(members) = untag(&mut env) else {
        panic!("envelope {env:?}")
    };
    let (_, wrapper) = members
        .iter_mut()
        .find(|(k, _)| *k == int(2))
        .expect("authentication wrapper");
    let Value::Bytes(wrapper_bytes) = wrapper else {
        panic!("wrapper {wrapper:?}")
    };
    let mut auth = decode(wrapper_bytes);
    let Value::Array(blocks) = &mut auth else {
        panic!("auth {auth:?}")
    };
    assert_eq!(blocks.len(), 2, "one block");
    let Value::Bytes(block_bytes) = &blocks[1] else {
        panic!("block {:?}", blocks[1])
    };
    let mut block = decode(block_bytes);
    let Value::Array(sign1) = untag(&mut block) else {
        panic!("COSE_Sign1 {block:?}")
    };
    let Value::Bytes(signature) = &mut sign1[3] else {
        panic!("signature {:?}", sign1[3])
    };
    change(signature);
    blocks[1] = Value::Bytes(cbor(&block));
    *wrapper = Value::Bytes(cbor(&auth));
    cbor(&env)
}

/// The guest's `suit-agent ... --json` output as JSON.
fn json_of(run: &suit_tests::GuestRun, n: usize) -> serde_json::Value {
    let out = &run.command(n).output;
    serde_json::from_str(out).unwrap_or_else(|e| panic!("command {n}: {e}: {out}"))
}

#[test]
fn cose_sign_signers_and_unlink_in_the_ta() {
    let (dir, disk) = enrolled_device();
    let d = dir.path();

    for (name, rel) in [
        ("author.priv.pem", AUTHOR),
        ("operator.priv.pem", OPERATOR),
        (
            "author.pub.pem",
            "vectors/suit-manifest-spec/public_key.pem",
        ),
        (
            "operator.pub.pem",
            "vectors/suit-firmware-encryption/dependent_manifest_signer_es256_pub.pem",
        ),
    ] {
        std::fs::copy(suit_tests::keys::path(rel), d.join(name)).unwrap();
    }
    sign_provisioning(
        d,
        &format!(
            r#"{{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"], ["hex:{ta}"]]}}}},
            {{"add-anchor": {{"id": 2, "key": "operator.pub.pem", "role": "operator", "components": [["app"], ["hex:{ta}"]]}}}},
            {{"set-rules": [{{"prefix": ["app"], "require-roles": ["author", "operator"], "require-anchors": []}}]}},
            {{"set-identity": {{"vendor-id": "{VENDOR}", "class-id": "{CLASS}"}}}}]}}"#,
            ta = hex::encode(SOME_TA)
        ),
    );
    std::fs::write(d.join("data.bin"), b"secure data, removed later").unwrap();
    let description = |seq: u64| {
        format!(
            r#"{{"sequence-number": {seq}, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
                "components": [{{"id": ["app", "data"], "file": "data.bin"}}]}}"#
        )
    };
    // The same description twice: signed by both in one COSE_Sign, then by the author alone.
    let both: &[&str] = &[
        "--sign-key",
        "author.priv.pem",
        "--sign-key",
        "operator.priv.pem",
        "--cose-sign",
    ];
    let alone: &[&str] = &["--sign-key", "author.priv.pem"];
    for (name, seq, signers) in [("both", 1, both), ("alone", 2, alone)] {
        let (json, out) = (format!("{name}.json"), format!("{name}.suit"));
        write_text(d, &json, &description(seq));
        let mut args = vec!["create", json.as_str(), "-o", out.as_str()];
        args.extend_from_slice(signers);
        author(d, &args);
    }
    std::fs::write(
        d.join("unlink.suit"),
        unlink_envelope(3, &[b"app", b"data"]),
    )
    .unwrap();
    std::fs::write(d.join("unlink-ta.suit"), unlink_envelope(4, &[&SOME_TA])).unwrap();

    // Session 14's review fixes (see the module docs), in the same boot.
    let (vendor, class) = (uuid(VENDOR), uuid(CLASS));
    let mut files: Vec<String> = [
        "provision.cbor",
        "both.suit",
        "alone.suit",
        "unlink.suit",
        "unlink-ta.suit",
    ]
    .map(String::from)
    .to_vec();
    let put = |files: &mut Vec<String>, name: &str, bytes: &[u8]| {
        std::fs::write(d.join(name), bytes).unwrap();
        files.push(name.to_string());
    };
    // Root 10 processing dependency 8 of the same component list, then root 9.
    let rb: &[&[u8]] = &[b"app", b"rb"];
    // Content into a component the manifest names in suit-dependencies (['app', 'dep-HOW'],
    // one per attempt so each stands alone), by the author alone: written, or copied (swapped)
    // from the installed ['app', 'rb'] (which the rule covers too, but a copy's source is not
    // written).
    const INTO_DEPENDENCY: [&str; 3] = ["write", "copy", "swap"];
    for (n, how) in INTO_DEPENDENCY.iter().enumerate() {
        let install = content_into_component_zero(how, b"one signature", 1);
        let target = format!("dep-{how}");
        let components = [&[&b"app"[..], target.as_bytes()][..], rb];
        let m = dependency_as_target(10 + n as i64, &vendor, &class, &components, install);
        put(
            &mut files,
            &format!("dep-{how}.suit"),
            &signed_by(&m, &[AUTHOR], &[]),
        );
    }
    let both_keys = [AUTHOR, OPERATOR];
    let d8 = release_of(8, &vendor, &class, rb, b"release 10", None);
    let d8_envelope = signed_by(&d8, &both_keys, &[]);
    let r10 = release_of(10, &vendor, &class, rb, b"", Some(&d8));
    let r10 = signed_by(&r10, &both_keys, &[("#dep", &d8_envelope)]);
    put(&mut files, "r10.suit", &r10);
    let r9 = release_of(9, &vendor, &class, rb, b"release 9", None);
    put(&mut files, "r9.suit", &signed_by(&r9, &both_keys, &[]));
    // An HSS-LMS author for ['hss']; a message adding it and, as anchor 4, anchor 2's key.
    author(
        d,
        &[
            "keygen", "--type", "hss-lms", "--levels", "2", "--height", "5", "--out", "hss",
        ],
    );
    let hss_anchor = r#"{"add-anchor": {"id": 3, "key": "hss.pub.cose", "role": "author", "components": [["hss"]]}}"#;
    let twin = r#"{"add-anchor": {"id": 4, "key": "operator.pub.pem", "role": "author", "components": [["app"]]}}"#;
    std::fs::rename(d.join("provision.cbor"), d.join("first.cbor")).unwrap();
    for (name, ops) in [
        ("twin.cbor", format!("{hss_anchor}, {twin}")),
        ("hss.cbor", hss_anchor.to_string()),
    ] {
        sign_provisioning(
            d,
            &format!(r#"{{"counter": 2, "device-key": "identity.pub.pem", "ops": [{ops}]}}"#),
        );
        std::fs::rename(d.join("provision.cbor"), d.join(name)).unwrap();
        files.push(name.to_string());
    }
    std::fs::rename(d.join("first.cbor"), d.join("provision.cbor")).unwrap();
    std::fs::write(d.join("hss-fw.bin"), b"signed with HSS-LMS").unwrap();
    write_text(
        d,
        "hss.json",
        &format!(
            r#"{{"sequence-number": 1, "vendor-id": "{VENDOR}", "class-id": "{CLASS}",
                "components": [{{"id": ["hss", "fw"], "file": "hss-fw.bin"}}]}}"#
        ),
    );
    author(
        d,
        &[
            "create",
            "hss.json",
            "-o",
            "hss-good.suit",
            "--sign-key",
            "hss.priv.pem",
        ],
    );
    files.push("hss-good.suit".into());
    let genuine = std::fs::read(d.join("hss-good.suit")).unwrap();
    // RFC 8554 §6.2: Nspk (u32), then the top LMS signature: q (u32), LM-OTS type (u32), ...
    // The last has the right shape: hbs-lms runs its whole verification (its deepest stack
    // frames) and finds the value wrong.
    let forgeries: [(&str, Mutation); 5] = [
        ("ots-type", |s| {
            s[8..12].copy_from_slice(&9u32.to_be_bytes())
        }),
        ("levels", |s| s[..4].copy_from_slice(&7u32.to_be_bytes())),
        ("truncated", |s| s.truncate(100)),
        ("long", |s| s.push(0)),
        ("randomizer", |s| s[12] ^= 1),
    ];
    for (name, change) in forgeries {
        let forged = with_signature(&genuine, change);
        put(&mut files, &format!("hss-{name}.suit"), &forged);
    }
    // Three dependencies signed by the HSS-LMS anchor alone, each integrated into the one
    // above, the last writing ['hss', 'dep'], under a root author and operator sign.
    let hss_signed = |name: &str, manifest: &[u8], integrated: &[(&str, &[u8])]| {
        let (unsigned, signed) = (format!("{name}-unsigned.suit"), format!("{name}.suit"));
        let envelope = seal_envelope(manifest, &[], &[], integrated).unwrap();
        std::fs::write(d.join(&unsigned), envelope).unwrap();
        let sign = [
            "sign",
            &unsigned,
            "-o",
            &signed,
            "--sign-key",
            "hss.priv.pem",
        ];
        author(d, &sign);
        std::fs::read(d.join(signed)).unwrap()
    };
    // Then the same chain again (sequence 2) with every manifest's install sequence nested
    // in try-each as deep as the engine allows (`MAX_SEQUENCE_DEPTH`), so the last signature
    // is verified under twelve more interpreter frames (review s30: ~20 KB more on the host).
    let mut hss_chain = |seq: i64, nested: usize, name: &str| {
        let release = |component: &[&[u8]], payload: &[u8], dep: Option<&[u8]>| {
            let m = release_of(seq, &vendor, &class, component, payload, dep);
            install_nested_in_try_each(&m, nested)
        };
        let mut dep = release(&[b"hss", b"dep"], b"HSS-LMS dep", None);
        let mut dep_envelope = hss_signed(&format!("{name}-dep3"), &dep, &[]);
        for level in ["2", "1"] {
            let component: &[&[u8]] = &[b"hss", level.as_bytes()];
            let m = release(component, b"", Some(&dep));
            let integrated = [("#dep", dep_envelope.as_slice())];
            dep_envelope = hss_signed(&format!("{name}-dep{level}"), &m, &integrated);
            dep = m;
        }
        let root = release(&[b"app", b"hd"], b"", Some(&dep));
        let root = signed_by(&root, &both_keys, &[("#dep", &dep_envelope)]);
        put(&mut files, &format!("{name}.suit"), &root);
    };
    hss_chain(1, 0, "hss-root");
    hss_chain(
        2,
        suit_common::suit::command::MAX_SEQUENCE_DEPTH,
        "hss-nested",
    );
    let f5: &[&[u8]] = &[b"app", b"f5"];
    let f5 = release_of(1, &vendor, &class, f5, b"past a refused begin", None);
    put(&mut files, "f5.suit", &signed_by(&f5, &both_keys, &[]));
    // Review s27, s37: a dependency fetching its own image by URI, delivered by the REE
    // (root 1), then integrated in its root's envelope (root 2).
    let fd = fetch_manifest(
        1,
        &[b"app", b"fd"],
        FD_IMAGE,
        FD_URI,
        (&vendor, &class),
        true,
    );
    let fd_envelope = signed_by(&fd, &both_keys, &[]);
    let fd_root = |seq| release_of(seq, &vendor, &class, &[b"app", b"fd-root"], b"", Some(&fd));
    let integrated = [("#dep", fd_envelope.as_slice())];
    put(
        &mut files,
        "fd-root.suit",
        &signed_by(&fd_root(2), &both_keys, &integrated),
    );
    put(&mut files, "fd-dep.suit", &fd_envelope);
    put(&mut files, "fd.bin", FD_IMAGE);
    let by_ree = fetching_dependency_from(&fd_root(1), FD_DEP_URI);
    put(
        &mut files,
        "fd-by-ree.suit",
        &signed_by(&by_ree, &both_keys, &[]),
    );

    let puts: Vec<String> = files
        .iter()
        .map(|f| format!("{}=/up/{f}", d.join(f).display()))
        .collect();
    let mut cmds: Vec<String> = [
        "suit-agent provision /up/provision.cbor",
        "suit-agent install /up/both.suit",
        "! suit-agent install /up/alone.suit 2>&1",
        "suit-agent status",
        "suit-agent install /up/unlink.suit",
        "suit-agent status",
        "! suit-agent install /up/unlink-ta.suit 2>&1",
        "suit-agent device-key --which report",
        "mkdir -p /data/reports",
    ]
    .map(String::from)
    .to_vec();
    let report_key = 7;
    // Appends a guest command and returns its number.
    let at = |cmds: &mut Vec<String>, c: String| {
        cmds.push(c);
        cmds.len() - 1
    };
    at(&mut cmds, "suit-agent install /up/r10.suit".into());
    let after_r10 = at(&mut cmds, "suit-agent status --json".into());
    let r9_refused = at(&mut cmds, "! suit-agent install /up/r9.suit 2>&1".into());
    let after_r9 = at(&mut cmds, "suit-agent status --json".into());
    let mut into_dependency = Vec::new();
    for (n, how) in INTO_DEPENDENCY.iter().enumerate() {
        let refused = at(
            &mut cmds,
            format!("! suit-agent install /up/dep-{how}.suit 2>&1"),
        );
        at(
            &mut cmds,
            format!("suit-agent report --nonce 0{n} --out /data/reports/dep-{how}.cbor"),
        );
        into_dependency.push(refused);
    }
    let after_dependency = at(&mut cmds, "suit-agent status --json".into());
    let anchors_before = at(&mut cmds, "suit-agent anchors --json".into());
    let twin_refused = at(
        &mut cmds,
        "! suit-agent provision /up/twin.cbor 2>&1".into(),
    );
    let anchors_after = at(&mut cmds, "suit-agent anchors --json".into());
    at(&mut cmds, "suit-agent provision /up/hss.cbor".into());
    let mut hss_refused = Vec::new();
    for (name, _) in forgeries {
        hss_refused.push(at(
            &mut cmds,
            format!("! suit-agent install /up/hss-{name}.suit 2>&1"),
        ));
    }
    let hss_genuine = at(&mut cmds, "suit-agent install /up/hss-good.suit".into());
    let hss_dependency = at(&mut cmds, "suit-agent install /up/hss-root.suit".into());
    let hss_nested = at(&mut cmds, "suit-agent install /up/hss-nested.suit".into());
    let refused_begin = at(&mut cmds, "suit-agent refused-begin /up/f5.suit".into());
    let last = at(&mut cmds, "suit-agent status".into());
    let fd_before = at(&mut cmds, "suit-agent status --json".into());
    let fd_image_left_out = at(
        &mut cmds,
        format!(
            "! suit-agent install /up/fd-by-ree.suit --payload {FD_DEP_URI}=/up/fd-dep.suit 2>&1"
        ),
    );
    let fd_after_refusal = at(&mut cmds, "suit-agent status --json".into());
    let fd_by_ree = at(
        &mut cmds,
        format!(
            "suit-agent install /up/fd-by-ree.suit --payload {FD_DEP_URI}=/up/fd-dep.suit --payload {FD_URI}=/up/fd.bin"
        ),
    );
    let fd_installed = at(
        &mut cmds,
        format!("suit-agent install /up/fd-root.suit --payload {FD_URI}=/up/fd.bin"),
    );
    let fd_last = at(&mut cmds, "suit-agent status".into());

    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: puts.iter().map(String::as_str).collect(),
            ..Default::default()
        },
        &cmds.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    run.assert_ok();
    for (n, expected, why) in [
        (1, "signed by anchor(s) 1, 2", "one COSE_Sign, both signers"),
        (
            2,
            "a required signer is missing",
            "the author alone lacks the operator the rule requires",
        ),
        (3, "installed:           1 component(s)", "installed"),
        (
            4,
            "signed by anchor(s) 1, 2",
            "two unusable signatures beside author and operator",
        ),
        (5, "installed:           0 component(s)", "unlinked"),
        (6, "removing a TA is not supported", "a TA is not removed"),
    ] {
        let out = &run.command(n).output;
        assert!(out.contains(expected), "command {n} ({why}): {out}");
    }

    let service = |n| json_of(&run, n)["service"].clone();
    // The dependency did not lower root 10's number: root 9 is a rollback.
    let r9 = run.command(r9_refused).output.to_lowercase();
    assert!(
        r9.contains("rollback"),
        "root 9 not refused as a rollback: {r9}"
    );
    assert_eq!(
        service(after_r9),
        service(after_r10),
        "root 9 changed the device"
    );
    assert_eq!(service(after_r10)["installed-components"], 1);

    // Write, copy and swap into a dependency's component: refused, code 543 in the report
    // the TA signed, nothing changed.
    write_text(
        d,
        "report.pub.pem",
        &suit_tests::pem_from(&run.command(report_key).output),
    );
    let copied = suit_tests::copy_out_of_disk(&disk, "/reports");
    for (how, n) in INTO_DEPENDENCY.iter().zip(into_dependency) {
        run.says(n, "into a dependency's component are refused");
        let file = format!("dep-{how}.cbor");
        let j = suit_tests::verified_report(d, &copied.path().join("reports"), &file);
        assert_eq!(j["authenticated"], true, "{file}: {j}");
        assert_eq!(j["result"]["success"], false, "{file}: {j}");
        assert_eq!(j["result"]["code"], 543, "{file}: DependencyOverwrite: {j}");
    }
    assert_eq!(
        service(after_dependency),
        service(after_r9),
        "content into a dependency changed the device"
    );

    // One key, one anchor: the whole message refused, nothing changed (the same counter then
    // adds anchor 3).
    run.says(twin_refused, "already held by anchor 2");
    let anchors = json_of(&run, anchors_before);
    assert_eq!(anchors["provisioning-counter"], 1, "{anchors}");
    assert_eq!(
        anchors["anchors"].as_array().map(Vec::len),
        Some(2),
        "{anchors}"
    );
    assert_eq!(
        json_of(&run, anchors_after),
        anchors,
        "the refused message changed anchors"
    );

    // HSS-LMS signatures of the wrong shape: typed refusals, no panic, the genuine one installs.
    for (n, (name, _)) in hss_refused.into_iter().zip(forgeries) {
        run.says(n, "authentication");
        assert!(
            !run.command(n).output.contains("panicked"),
            "hss-{name}: {}",
            run.command(n).output
        );
    }
    assert!(
        !run.secure_log.contains("panicked"),
        "the TA panicked:\n{}",
        run.secure_log
    );
    run.says(hss_genuine, "signed by anchor(s) 3");
    // The HSS-LMS dependency was verified inside the root's processing: it installed.
    run.says(hss_dependency, "signed by anchor(s) 1, 2");
    run.says(
        hss_nested,
        "installed /up/hss-nested.suit (sequence number 2",
    );
    run.says(hss_nested, "component ['hss', 'dep']");
    // The refused second begin left the install under way: it finished.
    run.says(refused_begin, "second begin refused: ");
    run.says(refused_begin, "installed: ['app', 'f5']");
    run.says(last, "installed:           4 component(s)");
    run.says(last, "['hss', 'dep']: sequence number 2");

    // A dependency the REE delivers: once it arrived and authenticated, the TA listed its
    // image; the agent had no file for it, left it out, and the dependency's fetch of it is
    // refused naming it (CommitRefusal::PayloadNotDelivered, which the agent words as the
    // payload nothing provides): nothing changed.
    run.says(
        fd_image_left_out,
        &format!("payload {FD_URI}: no --payload or --payload-dir file provides it"),
    );
    assert_eq!(
        service(fd_after_refusal),
        service(fd_before),
        "the refused dependency changed the device"
    );
    // Given both, the agent fetched the dependency, then the image its answer listed, and the
    // dependency checked the image's digest and installed it.
    run.says(
        fd_by_ree,
        &format!("  fetched {FD_DEP_URI}\n  fetched {FD_URI}\n"),
    );
    run.says(fd_by_ree, "  component ['app', 'fd']\n");
    // Integrated: prepare listed the dependency's URI (the agent fetched it), and the
    // unchanged dependency installed again under root 2.
    run.says(fd_installed, &format!("  fetched {FD_URI}\n"));
    run.says(fd_installed, "  component ['app', 'fd']\n");
    run.says(fd_last, "installed:           5 component(s)");
    run.says(
        fd_last,
        &format!(
            "['app', 'fd']: sequence number 1, {} bytes, sha-256 {}",
            FD_IMAGE.len(),
            hex::encode(Sha256::digest(FD_IMAGE))
        ),
    );
}

/// A manifest (sequence 1, signed by the author) fetching `data` from `uri` into
/// `component`: with its image digest and image-match, or in clear with neither.
fn fetch_envelope(component: &[&[u8]], data: &[u8], uri: &str, image_match: bool) -> Vec<u8> {
    let ids = (uuid(VENDOR), uuid(CLASS));
    let manifest = fetch_manifest(1, component, data, uri, (&ids.0, &ids.1), image_match);
    signed_by(&manifest, &[AUTHOR], &[])
}

#[test]
fn perso_fetched_without_image_match_is_refused_in_the_ta() {
    let (dir, disk) = enrolled_device();
    let d = dir.path();
    std::fs::copy(
        suit_tests::keys::path("vectors/suit-manifest-spec/public_key.pem"),
        d.join("author.pub.pem"),
    )
    .unwrap();
    sign_provisioning(
        d,
        &format!(
            r#"{{"counter": 1, "device-key": "identity.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["hex:{ta}"], ["hex:{consumer}"], ["app"]]}}}},
            {{"set-identity": {{"vendor-id": "{VENDOR}", "class-id": "{CLASS}"}}}}]}}"#,
            ta = hex::encode(SOME_TA),
            consumer = consumer_uuids().0.replace('-', ""),
        ),
    );
    let perso: &[&[u8]] = &[&SOME_TA, b"perso"];
    let uri = "https://vendor.example/perso.bin";
    let data = b"PIN=1234: personalization the REE must not choose";
    // Review s29 F2: a dependency installing the consumer TA, processed by root 1 and again,
    // unchanged, by root 2 (before the fix refused as a TA not newer than itself).
    let (vendor, class) = (uuid(VENDOR), uuid(CLASS));
    let consumer = uuid(&consumer_uuids().0);
    let ta = std::fs::read(consumer_tas().0).unwrap();
    let ta_uri = "https://vendor.example/consumer.ta";
    let dep = fetch_manifest(1, &[&consumer], &ta, ta_uri, (&vendor, &class), true);
    let dep_envelope = signed_by(&dep, &[AUTHOR], &[]);
    let root = |seq| {
        let m = release_of(seq, &vendor, &class, &[b"app", b"r"], b"", Some(&dep));
        signed_by(&m, &[AUTHOR], &[("#dep", &dep_envelope)])
    };
    let files = [
        ("perso.bin", data.to_vec()),
        ("clear.suit", fetch_envelope(perso, data, uri, false)),
        ("matched.suit", fetch_envelope(perso, data, uri, true)),
        ("consumer.ta", ta.clone()),
        ("r1.suit", root(1)),
        ("r2.suit", root(2)),
    ];
    let mut puts = vec![format!(
        "{}=/up/provision.cbor",
        d.join("provision.cbor").display()
    )];
    for (name, bytes) in &files {
        std::fs::write(d.join(name), bytes).unwrap();
        puts.push(format!("{}=/up/{name}", d.join(name).display()));
    }
    let install =
        |envelope: &str| format!("suit-agent install /up/{envelope} --payload {uri}=/up/perso.bin");
    let cmds = [
        "suit-agent provision /up/provision.cbor".to_string(),
        "suit-agent status --json".into(),
        format!("! {} 2>&1", install("clear.suit")),
        "suit-agent status --json".into(),
        "suit-agent device-key --which report".into(),
        "mkdir -p /data/reports".into(),
        "suit-agent report --nonce 01 --out /data/reports/clear.cbor".into(),
        install("matched.suit"),
        "suit-agent status --json".into(),
        format!("suit-agent install /up/r1.suit --payload {ta_uri}=/up/consumer.ta"),
        "suit-agent status".into(),
        format!("suit-agent install /up/r2.suit --payload {ta_uri}=/up/consumer.ta"),
        "suit-agent status".into(),
    ];
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: puts.iter().map(String::as_str).collect(),
            ..Default::default()
        },
        &cmds.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    run.assert_ok();
    let service = |n| json_of(&run, n)["service"].clone();
    run.says(2, "inside the TEE");
    assert_eq!(
        service(3),
        service(1),
        "the refused fetch changed the device"
    );
    assert_eq!(service(1)["installed-components"], 0);
    write_text(
        d,
        "report.pub.pem",
        &suit_tests::pem_from(&run.command(4).output),
    );
    let copied = suit_tests::copy_out_of_disk(&disk, "/reports");
    let j = suit_tests::verified_report(d, &copied.path().join("reports"), "clear.cbor");
    assert_eq!(j["authenticated"], true, "{j}");
    assert_eq!(j["result"]["success"], false, "{j}");
    assert_eq!(j["result"]["code"], 604, "UnvouchedContent: {j}");
    run.says(7, "signed by anchor(s) 1");
    assert_eq!(service(8)["installed-components"], 1);
    // Root 2 re-runs the dependency that installed the TA: it installs, and the TA's record
    // (the dependency's number, its digest) stays as root 1 left it.
    let record = format!(
        ": sequence number 1, {} bytes, sha-256 {}, TA version 1\n",
        ta.len(),
        hex::encode(Sha256::digest(&ta))
    );
    run.says(10, &record);
    run.says(12, &record);
    run.says(12, "installed:           2 component(s)");
}

/// `manifest` with its install sequence run `levels` deep in try-each (one option each, after
/// set-component-index 0).
fn install_nested_in_try_each(manifest: &[u8], levels: usize) -> Vec<u8> {
    let Value::Map(mut entries) = ciborium::from_reader(manifest).unwrap() else {
        panic!("a manifest is a map")
    };
    for (key, value) in entries.iter_mut() {
        if *key == int(20) {
            let Value::Bytes(install) = value else {
                panic!("a sequence is a bstr")
            };
            let mut install = install.clone();
            for _ in 0..levels {
                let option = Value::Array(vec![bytes(&install)]);
                install = cbor(&Value::Array(vec![int(12), int(0), int(15), option]));
            }
            *value = bytes(&install);
        }
    }
    cbor(&Value::Map(entries))
}
