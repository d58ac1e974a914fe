//! Text the tools did not write, as they show it: what a manifest's signer chose (an REE path,
//! the reference and payload URIs) is escaped (`suit_host::human::printable`) in every text
//! output of both tools, so it cannot set a colour or a terminal title, clear the screen or
//! forge a line of the operator's output; and the agent calls only redirects redirects.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::Path;

use suit_test_support::cli::write;
use support::device::{agent, author, device_with_ree, fails, ok, run, text};
use support::http::{Behaviour, Server};

/// ESC (a colour, a title ended by BEL), CR LF and a forged result line, the C1 CSI (0x9b)
/// and a right-to-left override: all in a valid `['ree', ...]` segment and URI.
const HOSTILE: &str = "x\u{1b}[31mRED\u{1b}]0;TITLE\u{7}\r\nresult: SUCCESS \u{9b}2J\u{202e}txt";

/// `name.suit`, signed: [`HOSTILE`] in its reference URI, its detached payload's URI and
/// its approved normal-world file's path.
fn hostile_envelope(d: &Path, name: &str, seq: u64) {
    std::fs::write(d.join("fw.bin"), vec![seq as u8; 1000]).unwrap();
    std::fs::write(d.join("conf.bin"), format!("release={seq}\n")).unwrap();
    let description = serde_json::json!({
        "sequence-number": seq,
        "vendor-id": {"name": "example.com"},
        "class-id": {"name": "board"},
        "reference-uri": format!("https://example.com/{HOSTILE}"),
        "components": [
            {"id": ["app"], "file": "fw.bin", "uri": format!("https://example.com/{HOSTILE}/fw.bin")},
            {"id": ["ree", HOSTILE], "file": "conf.bin"},
        ],
    });
    write(d, &format!("{name}.json"), description.to_string());
    let (json, out) = (format!("{name}.json"), format!("{name}.suit"));
    author(
        d,
        &[
            "create",
            &json,
            "-o",
            &out,
            "--payload-out",
            "payloads",
            "--sign-key",
            "author.priv.pem",
        ],
    );
}

/// `shown` holds [`HOSTILE`] escaped, and no control character but line ends nor a
/// bidirectional override.
fn escaped(what: &str, shown: &str) {
    let raw = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if let Some(c) = shown.chars().find(|c| raw(*c)) {
        panic!("{what}: shows {c:?} raw:\n{}", shown.escape_debug());
    }
    let expected = HOSTILE.escape_debug().to_string();
    assert!(
        shown.contains(&expected),
        "{what}: does not show {expected}:\n{shown}"
    );
    assert!(
        !shown.lines().any(|l| l.starts_with("result: SUCCESS ")),
        "{what}: a forged line:\n{shown}"
    );
}

#[test]
fn text_a_signer_chose_is_shown_escaped_by_both_tools() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device_with_ree(d);
    hostile_envelope(d, "v1", 1);

    // The agent: the URI fetched and the approved paths listed, then written.
    let t = ok(agent(
        d,
        &["install", "v1.suit", "--payload-dir", "payloads"],
    ));
    assert!(t.contains("approved REE files"), "{t}");
    escaped("install", &t);
    hostile_envelope(d, "v2", 2);
    let o = agent(
        d,
        &[
            "install",
            "v2.suit",
            "--payload-dir",
            "payloads",
            "--ree-root",
            "ree",
        ],
    );
    let t = ok(o);
    assert!(t.contains("wrote approved REE file"), "{t}");
    escaped("install --ree-root", &t);
    assert_eq!(
        std::fs::read(d.join("ree").join(HOSTILE)).unwrap(),
        b"release=2\n",
        "the file itself has the name the manifest gave"
    );
    escaped(
        "export",
        &ok(agent(d, &["export", HOSTILE, "--ree-root", "ree2"])),
    );

    // The report of that install, as the agent shows it and as the author verifies it.
    escaped("report", &ok(agent(d, &["report"])));
    ok(agent(d, &["report", "-o", "report.cose"]));
    escaped(
        "verify-report",
        &author(
            d,
            &[
                "verify-report",
                "report.cose",
                "--device-key",
                "report.pub.pem",
            ],
        ),
    );
    std::fs::create_dir(d.join("collected")).unwrap();
    std::fs::copy(d.join("report.cose"), d.join("collected").join(HOSTILE)).unwrap();
    let t = author(
        d,
        &[
            "verify-report",
            "collected",
            "--device-key",
            "report.pub.pem",
        ],
    );
    escaped("verify-report DIR", &t);
    // A file that does not verify is named in the listing and in the error.
    std::fs::write(d.join("collected").join(format!("{HOSTILE}.bad")), b"\xa0").unwrap();
    let o = run(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &[
            "verify-report",
            "collected",
            "--device-key",
            "report.pub.pem",
        ],
        &[],
    );
    let t = fails(o, 1);
    assert!(
        t.contains("NOT VERIFIED") && t.contains("do not verify"),
        "{t}"
    );
    escaped("verify-report DIR, one refused", &t);

    // The author tool on the envelope: inspect, verify and the simulated install.
    escaped("inspect", &author(d, &["inspect", "v2.suit"]));
    let verify = [
        "verify",
        "v2.suit",
        "--trust-anchor",
        "author.pub.pem",
        "--process",
        "--vendor-id",
        "example.com",
        "--class-id",
        "board",
    ];
    let t = author(d, &[&verify[..], &["--payload-dir", "payloads"]].concat());
    assert!(t.contains("OK: update applied"), "{t}");
    escaped("verify --process", &t);
    // Refused (no payload offered): the notes name the URI in the error.
    std::fs::create_dir(d.join("empty")).unwrap();
    let o = run(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &[&verify[..], &["--payload-dir", "empty"]].concat(),
        &[],
    );
    let t = fails(o, 1);
    assert!(t.contains("update refused"), "{t}");
    escaped("verify --process, refused", &t);
}

/// Only 301, 302, 303, 307 and 308 are redirects; 304 (to a request without a validator),
/// 305 and 306 are answers the agent names as they are.
#[test]
fn only_redirect_statuses_are_called_redirects() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let server = Server::default();
    let base = server.start_http();
    for (status, redirect) in [
        ("301 Moved Permanently", true),
        ("302 Found", true),
        ("303 See Other", true),
        ("304 Not Modified", false),
        ("305 Use Proxy", false),
        ("306 Switch Proxy", false),
        ("307 Temporary Redirect", true),
        ("308 Permanent Redirect", true),
    ] {
        let code = &status[..3];
        let path = format!("/{code}.suit");
        server.route(&path, Behaviour::Status(status.into()));
        let o = agent(d, &["install", &format!("{base}{path}")]);
        let t = text(&o);
        assert!(!o.status.success(), "{status}: {t}");
        assert_eq!(t.contains("server redirects"), redirect, "{status}: {t}");
        assert!(t.contains(&format!("HTTP {code}")), "{status}: {t}");
        if code == "304" {
            assert!(t.contains("not conditional"), "{t}");
        }
        assert_eq!(server.requests_to("/moved").len(), 0, "followed: {t}");
    }
}
