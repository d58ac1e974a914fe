//! Documentation that cannot rot (issue 11): the README's quickstarts run as written, the CLI
//! reference (docs/CLI.md) is the tools' real `--help`, and the generated shell completions
//! and man pages cover every subcommand.
//!
//! Regenerate docs/CLI.md after changing an option:
//!     SUIT_REGENERATE_CLI_DOC=1 cargo test -p suit-host --test tools_docs cli_reference

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::{Path, PathBuf};
use std::process::Command;

const TOOLS: [&str; 2] = [
    env!("CARGO_BIN_EXE_suit-author"),
    env!("CARGO_BIN_EXE_suit-agent"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn name(exe: &str) -> &str {
    Path::new(exe).file_name().unwrap().to_str().unwrap()
}

fn help(exe: &str, sub: Option<&str>) -> String {
    let mut c = Command::new(exe);
    if let Some(s) = sub {
        c.arg(s);
    }
    let o = c.arg("--help").output().unwrap();
    assert!(o.status.success(), "{exe} {sub:?} --help failed");
    String::from_utf8(o.stdout).unwrap()
}

/// The subcommands a tool's `--help` lists (without `help`).
fn subcommands(exe: &str) -> Vec<String> {
    let h = help(exe, None);
    let list = h
        .split("Commands:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{exe} --help lists no commands"));
    let subs: Vec<String> = list
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect();
    assert!(
        subs.len() >= 5,
        "{exe}: too few subcommands found: {subs:?}"
    );
    subs
}

fn cli_reference() -> String {
    let mut md = String::from(
        "# CLI reference\n\n\
         Generated from the tools' own `--help` (do not edit by hand). Regenerate with\n\
         `SUIT_REGENERATE_CLI_DOC=1 cargo test -p suit-host --test tools_docs cli_reference`;\n\
         the test fails while this file differs from the tools.\n",
    );
    for exe in TOOLS {
        let n = name(exe);
        md += &format!("\n## {n}\n\n```text\n{}```\n", help(exe, None));
        for s in subcommands(exe) {
            md += &format!("\n### {n} {s}\n\n```text\n{}```\n", help(exe, Some(&s)));
        }
    }
    md
}

#[test]
fn cli_reference_is_current() {
    let path = repo().join("docs/CLI.md");
    let want = cli_reference();
    if std::env::var_os("SUIT_REGENERATE_CLI_DOC").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/CLI.md is out of date with the tools' --help: regenerate it with \
         SUIT_REGENERATE_CLI_DOC=1 cargo test -p suit-host --test tools_docs cli_reference"
    );
}

#[test]
fn completions_and_man_pages_cover_every_subcommand() {
    let t = tempfile::tempdir().unwrap();
    for exe in TOOLS {
        let n = name(exe);
        let o = Command::new(exe)
            .args(["generate-assets"])
            .arg(t.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let read = |p: PathBuf| {
            std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let files = [
            t.path().join("bash-completion/completions").join(n),
            t.path().join("zsh/site-functions").join(format!("_{n}")),
            t.path()
                .join("fish/vendor_completions.d")
                .join(format!("{n}.fish")),
            t.path().join("man/man1").join(format!("{n}.1")),
        ];
        for f in &files {
            let text = read(f.clone());
            // roff escapes hyphens.
            let roff = f.extension().is_some_and(|e| e == "1");
            for s in subcommands(exe) {
                let s = if roff { s.replace('-', "\\-") } else { s };
                assert!(text.contains(&s), "{} does not mention {s}", f.display());
            }
        }
        for s in subcommands(exe) {
            let page = read(t.path().join("man/man1").join(format!("{n}-{s}.1")));
            assert!(page.contains(".SH OPTIONS") || page.contains(".SH SYNOPSIS"));
        }
        // The hidden generator itself is not offered as a command.
        assert!(!read(files[0].clone()).contains("generate-assets"));
    }
}

/// Every `<!-- quickstart: NAME -->` block of the README, run as written with the tools on
/// PATH (what the README's setup block does), each in its own scratch directory.
#[test]
fn readme_quickstarts_run_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let setup = readme
        .split("<!-- quickstart-setup -->\n```sh\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("README has no quickstart setup block");
    // The test stands in for the setup block: the same binaries on PATH.
    assert!(
        setup.contains("export PATH=\"$PWD/target/debug:$PATH\""),
        "{setup}"
    );
    let bin_dir = Path::new(TOOLS[0]).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = Vec::new();
    for part in readme.split("<!-- quickstart: ").skip(1) {
        let (label, rest) = part.split_once(" -->\n```sh\n").expect("a sh block");
        let script = rest.split("```").next().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let o = Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .env("PATH", &path)
            .env("TMPDIR", scratch.path())
            .current_dir(scratch.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "quickstart {label} failed ({}):\n{}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        ran.push(label.to_string());
    }
    assert_eq!(ran, ["integrator", "ta-author", "reviewer"]);
}
