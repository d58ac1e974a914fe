//! `suit-author sever` / `unsever` (issue 11): severable members leave the envelope and come
//! back only with the digest the signed manifest holds; a device installs an envelope without
//! the members it does not need and refuses one missing a member it needs.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;
use suit_test_support::cli::{ok, words, Out};
use suit_test_support::says;

suit_test_support::cli_tools!();

fn process(d: &Path, envelope: &str) -> Out {
    author(
        d,
        &[
            "verify",
            envelope,
            "--trust-anchor",
            "author.pub.pem",
            "--process",
            "--vendor-id",
            "example.com",
            "--class-id",
            "board",
        ],
    )
}

#[test]
fn sever_and_unsever_round_trip_and_refuse_a_tampered_member() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    ok(author(d, &["keygen", "--type", "p256", "-o", "author"]));
    std::fs::write(d.join("fw.bin"), b"firmware v1").unwrap();
    std::fs::write(
        d.join("m.json"),
        r#"{"sequence-number": 1, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
        "text": {"manifest-description": "sever test", "update-description": "first release"},
        "components": [{"id": ["app"], "file": "fw.bin"}]}"#,
    )
    .unwrap();
    ok(author(
        d,
        &words("create m.json -o full.suit --sign-key author.priv.pem --severable"),
    ));
    ok(process(d, "full.suit"));

    // Text severed: the device does not need it and installs.
    let r = ok(author(
        d,
        &words("sever full.suit -o no-text.suit --members-out m1 --member text"),
    ));
    says(&r.stdout, "severed suit-text");
    assert!(d.join("m1/suit-text.cbor").exists());
    assert!(!d.join("m1/suit-install.cbor").exists());
    let full = std::fs::read(d.join("full.suit")).unwrap();
    let no_text = std::fs::read(d.join("no-text.suit")).unwrap();
    assert!(no_text.len() < full.len());
    ok(process(d, "no-text.suit"));

    // Everything severed: still authentic, but the device needs install and refuses.
    ok(author(
        d,
        &words("sever full.suit -o bare.suit --members-out m2"),
    ));
    assert!(d.join("m2/suit-install.cbor").exists());
    assert!(d.join("m2/suit-text.cbor").exists());
    ok(author(
        d,
        &["verify", "bare.suit", "--trust-anchor", "author.pub.pem"],
    ));
    let r = process(d, "bare.suit");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    says(&r.stderr, "suit-install was severed");

    // Back together: byte for byte the original, and the device installs it.
    ok(author(
        d,
        &words("unsever bare.suit -o again.suit --member m2/suit-text.cbor --member m2/suit-install.cbor"),
    ));
    assert_eq!(std::fs::read(d.join("again.suit")).unwrap(), full);
    ok(process(d, "again.suit"));

    // A modified member is refused and nothing is written.
    let mut text = std::fs::read(d.join("m2/suit-text.cbor")).unwrap();
    let last = text.len() - 1;
    text[last] ^= 0x01;
    std::fs::write(d.join("evil-text.cbor"), &text).unwrap();
    let r = author(
        d,
        &words("unsever bare.suit -o evil.suit --member evil-text.cbor"),
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("evil-text.cbor") && r.stderr.contains("matches no digest"),
        "{}",
        r.stderr
    );
    assert!(!d.join("evil.suit").exists());

    // Severing an envelope made without --severable says how to make one.
    ok(author(
        d,
        &words("create m.json -o inline.suit --sign-key author.priv.pem"),
    ));
    let r = author(d, &words("sever inline.suit -o x.suit --members-out m3"));
    assert_eq!(r.code, 1);
    says(&r.stderr, "--severable");
    // A member put into an envelope that already carries it is refused too.
    let r = author(
        d,
        &words("unsever no-text.suit -o y.suit --member m2/suit-install.cbor"),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    says(&r.stderr, "already carries suit-install");
}

/// suit-coswid (14) is severable (update-management CDDL: `$$SUIT_severable-members-extensions
/// //= (suit-coswid => bstr .cbor concise-swid-tag)`): the tools sever and restore it like
/// the manifest-37 members, by default and by name.
#[test]
fn a_severed_coswid_severs_and_unsevers() {
    use suit_test_support::cbor::{bytes, cbor, int, map, suit_digest, text};
    use suit_test_support::keys::{p256_private_from_pem, seal_one, AUTHOR_PRIV, AUTHOR_PUB};
    use suit_test_support::vectors::vector_path;

    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let coswid = cbor(&map(vec![
        (0, text("tag-id")),
        (1, text("example")),
        (12, int(0)),
    ]));
    let common = map(vec![(
        2,
        ciborium::Value::Array(vec![ciborium::Value::Array(vec![bytes(b"app")])]),
    )]);
    let manifest = cbor(&map(vec![
        (1, int(1)),
        (2, int(1)),
        (3, bytes(&cbor(&common))),
        (
            14,
            ciborium::from_reader(&suit_digest(&cbor(&bytes(&coswid)))[..]).unwrap(),
        ),
    ]));
    let key = p256_private_from_pem(AUTHOR_PRIV);
    let full = seal_one(
        &manifest,
        &key,
        suit_common::cose::Algorithm::Es256,
        &[(14, &coswid)],
        &[],
    );
    std::fs::write(d.join("full.suit"), &full).unwrap();
    let anchor = vector_path(AUTHOR_PUB);
    let verify = |file: &str| ok(author(d, &["verify", file, "--trust-anchor", &anchor]));
    verify("full.suit");

    let r = ok(author(
        d,
        &words("sever full.suit -o bare.suit --members-out m"),
    ));
    says(&r.stdout, "severed suit-coswid");
    assert_eq!(std::fs::read(d.join("m/suit-coswid.cbor")).unwrap(), coswid);
    let bare = std::fs::read(d.join("bare.suit")).unwrap();
    assert!(bare.len() < full.len());
    verify("bare.suit");

    // By name, the same envelope.
    ok(author(
        d,
        &words("sever full.suit -o named.suit --members-out m2 --member coswid"),
    ));
    assert_eq!(std::fs::read(d.join("named.suit")).unwrap(), bare);

    let r = ok(author(
        d,
        &words("unsever bare.suit -o again.suit --member m/suit-coswid.cbor"),
    ));
    says(&r.stdout, "restored suit-coswid");
    assert_eq!(std::fs::read(d.join("again.suit")).unwrap(), full);

    // The usage message names it among the members.
    let r = author(
        d,
        &words("sever full.suit -o x.suit --members-out m3 --member nope"),
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    says(&r.stderr, "coswid");
}
