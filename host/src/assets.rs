//! Shell completions (bash, zsh, fish) and man pages, generated from the very clap definition
//! a binary parses with, so they cannot drift from it. Run as the hidden first argument
//! `generate-assets DIR` of `suit-author` or `suit-agent` (no xtask, no build script);
//! `qemu/setup.sh` installs them under `/usr/local/share`:
//!
//! ```text
//! DIR/bash-completion/completions/NAME
//! DIR/zsh/site-functions/_NAME
//! DIR/fish/vendor_completions.d/NAME.fish
//! DIR/man/man1/NAME.1, DIR/man/man1/NAME-SUBCOMMAND.1
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// The "Exit status:" paragraph of a tool's `--help` and man page, one entry per code, from
/// the exit-code definitions the tool itself returns (so the two cannot differ). Wrapped at
/// 80 columns here: neither clap nor a no-fill man page section wraps it.
pub fn exit_status_help<C: std::fmt::Display>(codes: &[(C, &str)]) -> String {
    const WIDTH: usize = 80;
    const INDENT: &str = "     ";
    let mut text = String::from("Exit status:");
    for (code, meaning) in codes {
        let mut line = format!("  {code}  ");
        for (i, word) in meaning.split_whitespace().enumerate() {
            if i > 0 && line.len() + 1 + word.len() > WIDTH {
                text.push('\n');
                text.push_str(line.trim_end());
                line = INDENT.to_string();
            } else if i > 0 {
                line.push(' ');
            }
            line.push_str(word);
        }
        text.push('\n');
        text.push_str(&line);
    }
    text
}

/// Every argument and subcommand in `cmd`'s tree (hidden ones too) without help text, as
/// `tool sub --arg`: each tool's tests require none, so `--help`, man pages and completions
/// say what every one is for.
pub fn undocumented(cmd: &clap::Command) -> Vec<String> {
    fn walk(cmd: &clap::Command, path: &str, found: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            if a.get_help().is_none() && a.get_long_help().is_none() {
                let name = match (a.get_long(), a.get_short()) {
                    (Some(long), _) => format!("--{long}"),
                    (None, Some(short)) => format!("-{short}"),
                    (None, None) => format!("<{}>", a.get_id()),
                };
                found.push(format!("{path} {name}"));
            }
        }
        for sub in cmd.get_subcommands() {
            let sub_path = format!("{path} {}", sub.get_name());
            if sub.get_about().is_none() && sub.get_long_about().is_none() {
                found.push(sub_path.clone());
            }
            walk(sub, &sub_path, found);
        }
    }
    let mut found = Vec::new();
    walk(cmd, cmd.get_name(), &mut found);
    found
}

/// The hidden first argument that asks for the assets.
pub const ARG: &str = "generate-assets";

/// `Some(DIR)` when the process was started as `NAME generate-assets DIR`.
pub fn requested() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    (args.next()? == ARG).then(|| args.next().map(PathBuf::from))?
}

/// Writes every asset of `C`'s command `name` under `dir`; returns the files written.
pub fn write<C: CommandFactory>(name: &'static str, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cmd = C::command().name(name).bin_name(name);
    cmd.build();
    let mut written = Vec::new();
    for (shell, sub, file) in [
        (Shell::Bash, "bash-completion/completions", name.to_string()),
        (Shell::Zsh, "zsh/site-functions", format!("_{name}")),
        (
            Shell::Fish,
            "fish/vendor_completions.d",
            format!("{name}.fish"),
        ),
    ] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d)?;
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), name, &mut buf);
        let p = d.join(file);
        crate::files::write_output(&p, &buf)?;
        written.push(p);
    }
    let man = dir.join("man/man1");
    std::fs::create_dir_all(&man)?;
    let mut page = |c: &clap::Command, file: String| -> std::io::Result<()> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c.clone()).render(&mut buf)?;
        let p = man.join(file);
        crate::files::write_output(&p, keep_after_help_lines(&buf).as_bytes())?;
        written.push(p);
        Ok(())
    };
    // No page for clap's `help` subcommand, so none listed either.
    let mut cmd = C::command()
        .name(name)
        .bin_name(name)
        .disable_help_subcommand(true);
    cmd.build();
    page(&cmd, format!("{name}.1"))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap names are 'static; this one-shot command leaks a few bytes per page.
        let full: &'static str = Box::leak(format!("{name}-{}", sub.get_name()).into_boxed_str());
        page(&sub.clone().name(full), format!("{full}.1"))?;
    }
    Ok(written)
}

/// A man page with its after-help section (clap_mangen's `EXTRA`: a description file's
/// layout, the exit statuses) in no-fill mode: roff would otherwise join its lines into
/// paragraphs, as it did `}` and the `Names:` line after it.
fn keep_after_help_lines(page: &[u8]) -> String {
    let page = String::from_utf8_lossy(page);
    let Some((before, extra)) = page.split_once("\n.SH EXTRA\n") else {
        return page.into_owned();
    };
    let (lines, after) = match extra.split_once("\n.SH ") {
        Some((lines, after)) => (lines, format!("\n.SH {after}")),
        None => (extra.trim_end_matches('\n'), "\n".to_string()),
    };
    format!("{before}\n.SH EXTRA\n.nf\n{lines}\n.fi{after}")
}

/// Runs the hidden command if the process was started with it as its first argument (each
/// tool's `main` asks first): `None` for any other command line.
pub fn serve<C: CommandFactory>(name: &'static str) -> Option<ExitCode> {
    let asked = std::env::args_os().nth(1).is_some_and(|a| a == ARG);
    asked.then(|| main::<C>(name, requested().as_deref()))
}

/// The whole hidden command: writes the assets, prints each file, exit 0 (2 on failure).
pub fn main<C: CommandFactory>(name: &'static str, dir: Option<&Path>) -> ExitCode {
    let Some(dir) = dir else {
        crate::errln!("{name}: usage: {name} {ARG} DIR");
        return ExitCode::from(2);
    };
    match write::<C>(name, dir) {
        Ok(files) => {
            for f in files {
                crate::outln!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::errln!("{name}: {}: {e}", dir.display());
            ExitCode::from(2)
        }
    }
}
