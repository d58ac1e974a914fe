//! `suit-author` and COSE_Sign (issue 10 item 7): `create --cose-sign` / `sign --cose-sign`
//! put several signers into one COSE_Sign block that `verify` lists per signature and
//! `verify --process` (the TA's own service) accepts; and slot conditions under
//! `verify --process` get the TA's refusal.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
#![allow(clippy::useless_vec)]

use std::path::{Path, PathBuf};
use suit_test_support::args;
use suit_test_support::cli::spec_device;
use suit_test_support::cli::Out as Run;
use suit_test_support::says;

suit_test_support::author_in_cwd!();

use suit_test_support::{CLASS_UUID as CLASS, VENDOR_UUID as VENDOR};

fn with_suffix(p: &Path, s: &str) -> PathBuf {
    let mut o = p.as_os_str().to_owned();
    o.push(s);
    PathBuf::from(o)
}

fn keygen(dir: &Path, kind: &str, name: &str) -> PathBuf {
    let prefix = dir.join(name);
    ok(&args!["keygen", "--type", kind, "--out", &prefix]);
    prefix
}

fn description(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("fw.bin"), b"firmware signed by two parties").unwrap();
    let desc = serde_json::json!({
        "sequence-number": 2,
        "vendor-id": VENDOR,
        "class-id": CLASS,
        "components": [{ "id": ["firmware"], "file": "fw.bin" }],
    });
    let p = dir.join("fw.json");
    std::fs::write(&p, serde_json::to_vec(&desc).unwrap()).unwrap();
    p
}

fn verify(env: &Path, anchors: &[&Path], process: bool, out: &Path) -> Run {
    let mut a = args!["verify"];
    for k in anchors {
        a.extend(args!["--trust-anchor", with_suffix(k, ".pub.pem")]);
    }
    a.push(env.into());
    if process {
        // Ed25519 (the operator's key) is a TA feature the default build lacks.
        a.extend(
            [
                spec_device(),
                args!["--out", out, "--ta-features", "ed25519"],
            ]
            .concat(),
        );
    }
    run(&a)
}

#[test]
fn create_and_sign_emit_one_cose_sign_for_several_signers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p256 = keygen(d, "p256", "author");
    let ed = keygen(d, "ed25519", "operator");
    let desc = description(d);

    // Both keys, as every signing command below takes them.
    let both = args![
        "--sign-key",
        with_suffix(&p256, ".priv.pem"),
        "--sign-key",
        with_suffix(&ed, ".priv.pem")
    ];
    let env = d.join("multi.suit");
    ok(&[
        args!["create", &desc, "-o", &env, "--cose-sign"],
        both.clone(),
    ]
    .concat());
    let r = verify(&env, &[&p256, &ed], false, d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    says(&r.stdout, "1 authentication block(s)");
    says(&r.stdout, "block 0 signature 0: Esp256");
    says(&r.stdout, "block 0 signature 1: Ed25519");
    // Both signatures verified: both anchors are signers.
    says(&r.stdout, "trust anchor #2");
    // Either signer alone is enough to authenticate (the other signature's key is unknown).
    assert_eq!(verify(&env, &[&ed], false, d).code, 0);
    // The simulated device (the TA's service) installs it.
    let r = verify(&env, &[&p256, &ed], true, &d.join("out"));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Default stays one COSE_Sign1 per key.
    let env1 = d.join("sign1.suit");
    ok(&[args!["create", &desc, "-o", &env1], both.clone()].concat());
    let r = verify(&env1, &[&p256, &ed], false, d);
    says(&r.stdout, "2 authentication block(s)");

    // sign --cose-sign adds one COSE_Sign to an unsigned envelope.
    let unsigned = d.join("unsigned.suit");
    ok(&args!["create", &desc, "-o", &unsigned, "--unsigned"]);
    let signed = d.join("signed.suit");
    ok(&[args!["sign", &unsigned, "-o", &signed, "--cose-sign"], both].concat());
    let r = verify(&signed, &[&p256, &ed], false, d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    says(&r.stdout, "block 0 signature 1: Ed25519");
}

#[test]
fn slot_conditions_under_process_get_the_tas_refusal() {
    // example3 selects a slot with condition-component-slot. The TA keeps no slots, and
    // `verify --process` runs the TA's own service: the same typed refusal, at the same
    // command (1.0.1 of the shared sequence: try-each, option 0, the slot condition).
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/suit-manifest-spec");
    let dir = tempfile::tempdir().unwrap();
    let r = run(&[
        args![
            "verify",
            "--trust-anchor",
            vectors.join("public_key.pem"),
            vectors.join("example3.signed.hex")
        ],
        spec_device(),
        args!["--out", dir.path().join("out")],
    ]
    .concat());
    assert_eq!(r.code, 1, "{}", r.stdout);
    says(
        &r.stderr,
        "command 1.0.1 of suit-shared-sequence on component 0: platform: operation not \
             supported by this device",
    );
    says(&r.stderr, "nothing was installed");
}
