//! Features users of suit-tool expect (issue 11): a separate `sign` step.

use suit_test_support::cli::{app_description, ok, words, write};
use suit_test_support::says;

suit_test_support::cli_tools!();

#[test]
fn create_unsigned_then_sign_in_separate_steps() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    ok(author(
        d,
        &["keygen", "--type", "ed25519", "-o", "operator"],
    ));
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    write(d, "m.json", app_description("b"));
    ok(author(
        d,
        &["create", "m.json", "-o", "m.suit", "--unsigned"],
    ));
    let r = author(d, &["verify", "m.suit", "--trust-anchor", "author.pub.pem"]);
    assert_eq!(r.code, 1);
    says(&r.stderr, "unsigned envelope");

    ok(author(
        d,
        &words("sign m.suit -o a.suit --sign-key author.priv.pem"),
    ));
    let r = ok(author(
        d,
        &["verify", "a.suit", "--trust-anchor", "author.pub.pem"],
    ));
    says(&r.stdout, "1 authentication block(s)");
    // A second signer, in place.
    ok(author(
        d,
        &words("sign a.suit -o a.suit --sign-key operator.priv.pem"),
    ));
    let r = ok(author(
        d,
        &words("verify a.suit --trust-anchor author.pub.pem --trust-anchor operator.pub.pem"),
    ));
    says(&r.stdout, "2 authentication block(s)");
    says(&r.stdout, "signed by trust anchor #1");
    says(&r.stdout, "trust anchor #2");
    // The device installs it (same verdict as create's own signature would get).
    let r = ok(author(
        d,
        &words("verify a.suit --trust-anchor author.pub.pem --process --vendor-id example.com --class-id b --out out"),
    ));
    says(&r.stdout, "OK: update applied");
    assert_eq!(
        std::fs::read(d.join("out/component-0.bin")).unwrap(),
        b"firmware"
    );

    // A manifest that no longer matches its digest is not signed.
    let mut bytes = std::fs::read(d.join("m.suit")).unwrap();
    let at = bytes.windows(3).position(|w| w == b"app").unwrap();
    bytes[at] ^= 1;
    std::fs::write(d.join("t.suit"), &bytes).unwrap();
    let r = author(
        d,
        &words("sign t.suit -o t2.suit --sign-key author.priv.pem"),
    );
    assert_eq!(r.code, 1);
    says(&r.stderr, "the manifest does not match the digest");
    assert!(!d.join("t2.suit").exists());
    // --unsigned with keys is a usage error.
    let r = author(
        d,
        &words("create m.json -o x.suit --unsigned --sign-key author.priv.pem"),
    );
    assert_eq!(r.code, 2);
}
