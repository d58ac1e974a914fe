//! `suit-fw-server`: the firmware server and status tracker of the networked demo
//! (`qemu/demo.sh --net`; layout in host/README.md), on 127.0.0.1 only. A development tool:
//! it serves a directory as it is and stores what is posted; the TA authenticates everything.
//!
//! Usage: `suit-fw-server --root DIR --reports DIR [--port N] [--port-file FILE]`
//! Serves until killed. `--port 0` (the default) picks a free port; `--port-file` receives
//! it once the server listens (written whole, then renamed).

use std::path::PathBuf;
use std::process::ExitCode;

use suit_tests::fw_server::{FwServer, NONCE_PATH, REPORTS_PATH};

const USAGE: &str = "usage: suit-fw-server --root DIR --reports DIR [--port N] [--port-file FILE]";

fn main() -> ExitCode {
    let mut root = None;
    let mut reports = None;
    let mut port = 0u16;
    let mut port_file: Option<PathBuf> = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(());
        let parsed = match a.to_str() {
            Some("--root") => value().map(|v| root = Some(PathBuf::from(v))),
            Some("--reports") => value().map(|v| reports = Some(PathBuf::from(v))),
            Some("--port-file") => value().map(|v| port_file = Some(PathBuf::from(v))),
            Some("--port") => value().and_then(|v| {
                v.to_str()
                    .and_then(|s| s.parse().ok())
                    .map(|p| port = p)
                    .ok_or(())
            }),
            _ => Err(()),
        };
        if parsed.is_err() {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let (Some(root), Some(reports)) = (root, reports) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let server = match FwServer::start(&root, &reports, port, true) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("suit-fw-server: error: cannot serve on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = server.port();
    if let Some(f) = port_file {
        let tmp = f.with_extension("tmp");
        if let Err(e) =
            std::fs::write(&tmp, format!("{port}\n")).and_then(|()| std::fs::rename(&tmp, &f))
        {
            eprintln!("suit-fw-server: error: {}: {e}", f.display());
            return ExitCode::FAILURE;
        }
    }
    println!(
        "suit-fw-server: serving {} on http://127.0.0.1:{port}/ (nonces at {NONCE_PATH}, reports \
         posted to {REPORTS_PATH} stored in {})",
        root.display(),
        reports.display()
    );
    loop {
        std::thread::park();
    }
}
