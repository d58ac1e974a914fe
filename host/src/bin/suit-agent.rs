//! `suit-agent`: the normal-world agent. It carries bytes to and from the SUIT TA and keeps
//! files; every decision is the TA's.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use suit_host::client;
use suit_host::sim::{self, Simulator};
use suit_host::tee::{AgentError, Transport};

#[derive(Parser)]
#[command(
    name = "suit-agent",
    version,
    about = "REE agent for the SUIT update TA"
)]
struct Cli {
    /// Which TEE to talk to.
    #[arg(long, value_enum, default_value_t = TeeKind::Optee, global = true)]
    tee: TeeKind,
    /// Simulator state directory (only with --tee sim).
    #[arg(long, default_value = "suit-sim-state", global = true)]
    state: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum TeeKind {
    /// The real TA inside OP-TEE, through libteec.
    Optee,
    /// The TA logic in this process; protects nothing.
    Sim,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show protocol and TA versions and the platform's protections.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn connect(cli: &Cli) -> Result<Box<dyn Transport>, AgentError> {
    match cli.tee {
        TeeKind::Sim => {
            eprintln!("{}", sim::WARNING);
            Ok(Box::new(Simulator::open(&cli.state)?))
        }
        #[cfg(feature = "optee")]
        TeeKind::Optee => Ok(Box::new(suit_host::tee::optee::Optee::connect()?)),
        #[cfg(not(feature = "optee"))]
        TeeKind::Optee => Err(AgentError::NoOpteeSupport),
    }
}

fn run(cli: Cli) -> Result<(), AgentError> {
    let mut tee = connect(&cli)?;
    match cli.command {
        Cmd::Status { json } => {
            let s = client::status(tee.as_mut())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            } else {
                println!("SUIT TA status");
                println!("  backend:           {}", s.backend);
                println!("  protocol version:  {}", s.protocol_version);
                println!("  TA version:        {}", s.ta_version);
                let p = &s.platform;
                println!(
                    "  TEE version:       {}",
                    p.tee_version.as_deref().unwrap_or("unknown")
                );
                let level = |l: Option<u32>| l.map_or("unknown".to_string(), |l| l.to_string());
                println!("  anti-rollback:     {}", level(p.anti_rollback_level));
                println!("  rollback detect:   {}", level(p.rollback_detection_level));
                for w in &p.warnings {
                    println!("  warning: {w}");
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("suit-agent: error: {e}");
            ExitCode::FAILURE
        }
    }
}
