//! Signing keys in an HSM (issue 11): a P-256 key generated inside a SoftHSM token signs an
//! envelope (`create`, `sign`) and a provisioning message (`provision --tpa-key`) through
//! PKCS#11; the results verify with the token's public key. SoftHSM is a required test
//! dependency (Debian package softhsm2, installed by qemu/setup.sh): without it this test
//! fails, it never skips.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;
use suit_test_support::says;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use p256::pkcs8::EncodePublicKey;
use suit_test_support::cli::{app_description, ok, provision_args, write};

suit_test_support::cli_tools!();

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A fresh SoftHSM token "suit-test" (user PIN 1234) holding a P-256 key pair "author"
/// generated inside it; returns the public key as PEM.
fn token_with_key(d: &Path) -> String {
    assert!(
        Path::new(MODULE).exists(),
        "SoftHSM is missing ({MODULE}): install the Debian package softhsm2 (qemu/setup.sh does)"
    );
    std::fs::create_dir_all(d.join("tokens")).unwrap();
    std::fs::write(
        d.join("softhsm2.conf"),
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            d.join("tokens").display()
        ),
    )
    .unwrap();
    // Inherited by the tools this test runs.
    std::env::set_var("SOFTHSM2_CONF", d.join("softhsm2.conf"));
    let ctx = Pkcs11::new(MODULE).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx.get_all_slots().unwrap()[0];
    let so = AuthPin::new("5678".into());
    let user = AuthPin::new("1234".into());
    ctx.init_token(slot, &so, "suit-test").unwrap();
    // SoftHSM moves an initialised token to a new slot id: find it by label.
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == "suit-test")
        .unwrap();
    {
        let s = ctx.open_rw_session(slot).unwrap();
        s.login(UserType::So, Some(&so)).unwrap();
        s.init_pin(&user).unwrap();
    }
    let s = ctx.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&user)).unwrap();
    let label = Attribute::Label(b"author".to_vec());
    let (public, _private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(P256_OID.to_vec()),
                Attribute::Verify(true),
                label.clone(),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                label,
            ],
        )
        .unwrap();
    let point = match s
        .get_attributes(public, &[AttributeType::EcPoint])
        .unwrap()
        .pop()
    {
        Some(Attribute::EcPoint(p)) => p,
        other => panic!("no EC point: {other:?}"),
    };
    // The private key cannot leave the token.
    let private = s
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
        ])
        .unwrap();
    assert_eq!(private.len(), 1);
    assert!(s
        .get_attributes(private[0], &[AttributeType::Value])
        .map(|a| a.is_empty())
        .unwrap_or(true));
    drop(s);
    ctx.finalize().unwrap();
    let sec1 = &point[2..]; // DER OCTET STRING header (04 41)
    p256::PublicKey::from_sec1_bytes(sec1)
        .unwrap()
        .to_public_key_pem(Default::default())
        .unwrap()
}

#[test]
fn an_hsm_key_signs_envelopes_and_provisioning_messages() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let pem = token_with_key(d);
    std::fs::write(d.join("author.pub.pem"), &pem).unwrap();
    std::fs::write(d.join("pin.txt"), "1234\n").unwrap();
    let uri = format!(
        "pkcs11:token=suit-test;object=author?module-path={MODULE}&pin-source=file:{}",
        d.join("pin.txt").display()
    );

    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    write(d, "m.json", app_description("b"));
    // create, ES256 (COSE -7), signed in the token.
    ok(author(
        d,
        &[
            "create",
            "m.json",
            "-o",
            "m.suit",
            "--sign-key",
            &uri,
            "--alg",
            "es256",
        ],
    ));
    let r = ok(author(
        d,
        &["verify", "m.suit", "--trust-anchor", "author.pub.pem"],
    ));
    says(&r.stdout, "COSE alg -7");
    // Another key does not verify it: the signature really is the token key's.
    ok(author(d, &["keygen", "--type", "p256", "-o", "other"]));
    assert_eq!(
        author(d, &["verify", "m.suit", "--trust-anchor", "other.pub.pem"]).code,
        1
    );

    // sign, as a separate step (ESP256, the default).
    ok(author(
        d,
        &["create", "m.json", "-o", "u.suit", "--unsigned"],
    ));
    ok(author(
        d,
        &["sign", "u.suit", "-o", "s.suit", "--sign-key", &uri],
    ));
    let r = ok(author(
        d,
        &["verify", "s.suit", "--trust-anchor", "author.pub.pem"],
    ));
    says(&r.stdout, "COSE alg -9");

    // provision: the TPA key in the token; a simulated device whose TPA root is that key
    // applies the message.
    let sim = |args: &[&str]| {
        let mut all = vec!["--sim-tpa-root", "author.pub.pem"];
        all.extend_from_slice(args);
        agent(d, &all)
    };
    ok(sim(&["device-key", "--out", "device.pub.pem"]));
    std::fs::write(
        d.join("p.json"),
        r#"{"counter": 1, "device-key": "device.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "other.pub.pem", "role": "author", "components": [["app"]]}}]}"#,
    )
    .unwrap();
    ok(author(
        d,
        &["provision", "p.json", "--tpa-key", &uri, "-o", "p.cbor"],
    ));
    let r = ok(sim(&["provision", "p.cbor"]));
    says(&r.stdout, "anchor 1");
    // The same message signed by the repository's test TPA key is refused by this device.
    ok(author(
        d,
        &provision_args("p.json", "q.cbor", &["--counter", "2"]),
    ));
    assert_eq!(sim(&["provision", "q.cbor"]).code, 1);

    // A PIN on the command line is refused; a wrong PIN is named.
    let r = author(
        d,
        &[
            "sign",
            "u.suit",
            "-o",
            "x.suit",
            "--sign-key",
            &format!("pkcs11:token=suit-test;object=author?module-path={MODULE}&pin-value=1234"),
        ],
    );
    assert_eq!(r.code, 2);
    says(&r.stderr, "pin-value is refused");
    std::fs::write(d.join("bad-pin.txt"), "0000\n").unwrap();
    let bad = uri.replace("pin.txt", "bad-pin.txt");
    let r = author(d, &["sign", "u.suit", "-o", "x.suit", "--sign-key", &bad]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    says(&r.stderr, "login to the token");
    assert!(!d.join("x.suit").exists());
}
