//! `suit-agent`: the normal-world agent. It carries bytes to and from the SUIT TA and keeps
//! files; every decision is the TA's.

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand, ValueEnum};
use suit_host::client::{self, Progress};
use suit_host::cose_key::{public_cose_key, PublicKey};
use suit_host::human::kid_str;
use suit_host::ree;
use suit_host::sim::{self, Simulator};
use suit_host::tee::{AgentError, Transport};
use suit_host::transport::{self, log};
use suit_host::{errln, outln, outp};

#[derive(Parser)]
#[command(
    name = "suit-agent",
    version,
    about = "REE agent for the SUIT update TA",
    after_help = suit_host::assets::exit_status_help(&EXIT_STATUSES)
)]
struct Cli {
    /// Which TEE to talk to.
    #[arg(long, value_enum, default_value_t = TeeKind::Optee, global = true)]
    tee: TeeKind,
    /// Simulator state directory (only with --tee sim; default suit-sim-state).
    #[arg(long, global = true)]
    state: Option<PathBuf>,
    /// TPA root public key (PEM) the simulated TA is built with (only with --tee sim;
    /// default: the repository's public test key).
    #[arg(long, global = true)]
    sim_tpa_root: Option<PathBuf>,
    /// Algorithm features the simulated TA has beyond the default TA build (only with --tee
    /// sim): ed25519 (Ed25519 signatures and anchors), chacha20 (ChaCha20/Poly1305 payloads;
    /// no build of this TA has it). Without them an envelope or provisioning message that
    /// needs one is refused (exit 2) before the simulated device is asked, as the default TA
    /// refuses it.
    #[arg(
        long = "sim-ta-features",
        global = true,
        value_name = "FEATURE[,FEATURE]",
        value_delimiter = ','
    )]
    sim_ta_features: Vec<String>,
    /// No progress output (progress is only shown on a terminal anyway).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Progress output even when standard error is not a terminal (for scripts watching it).
    #[arg(long, global = true, conflicts_with = "quiet")]
    progress: bool,
    /// Log level of the lines on standard error.
    #[arg(long, value_enum, default_value_t = LogLevel::Info, global = true)]
    log_level: LogLevel,
    /// Lock file held while the agent talks to the TA, so two agents never interleave
    /// (default: /run/suit-agent/agent.lock for root, else under $XDG_RUNTIME_DIR or
    /// /tmp/suit-agent-UID; STATE/.agent.lock with --tee sim). Never a link, always this user's file.
    #[arg(long, global = true)]
    lock: Option<PathBuf>,
    /// Record of an `install` handed to the TA's commit, kept until the TA answers it (a copy
    /// of the envelope beside it, FILE.envelope), for `suit-agent resume` after a power cut
    /// (default: $SUIT_AGENT_INSTALL_RECORD, else /var/lib/suit-agent/install-in-flight.json,
    /// or STATE/install-in-flight.json with --tee sim).
    #[arg(long, global = true, value_name = "FILE")]
    install_record: Option<PathBuf>,
    /// How long to wait for another agent's lock (seconds).
    #[arg(long, global = true, default_value_t = 600)]
    lock_wait: u64,
    /// How long to keep retrying while the TA is busy with a client that is not an agent,
    /// such as a TA fetching its personalization data (seconds).
    #[arg(long, global = true, default_value_t = 30)]
    busy_wait: u64,
    /// Print the time spent parsing the command line, opening the session and in each TA
    /// command to standard error (`timing args|connect seconds=S`, `timing <Command> calls=N
    /// seconds=S` lines, for qemu/bench.sh).
    #[arg(long, global = true)]
    timings: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

// Network options (install, poll). A plain comment: with the deferred subcommands (`defer`
// below) a doc comment here would replace the `about` of the subcommand it is flattened into.
#[derive(clap::Args, Clone)]
struct NetArgs {
    /// CA certificates (PEM) trusted for HTTPS (default: SSL_CERT_FILE, else the system's
    /// roots, /etc/ssl/certs/ca-certificates.crt).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Largest payload accepted from a server or file (bytes).
    #[arg(long, default_value_t = suit_host::transport::DEFAULT_MAX_PAYLOAD)]
    max_payload_bytes: u64,
    /// A server silent this long (seconds, at least 1; connect or read) counts as stalled
    /// (default 30).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..))]
    stall_timeout: Option<u64>,
    /// Time limit for one transfer, retries included (seconds, at least 1): a request still
    /// receiving (however slowly) is ended then (default 600).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..))]
    transfer_timeout: Option<u64>,
    /// Further attempts after a dropped connection, stall or server error (attempts that
    /// move a download forward do not count; default 4).
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// First wait between attempts (milliseconds; doubles each time, at most 60 s; default
    /// 1000).
    #[arg(long, value_name = "MS")]
    backoff_ms: Option<u64>,
    /// Also fetch payload URIs a manifest names under this URL prefix (repeatable; compared
    /// on the parsed URL: scheme, host, port, then whole path segments). Allowed without it:
    /// the origin of the poll base URL or of the envelope URL; with an envelope file, nothing.
    #[arg(long, value_name = "PREFIX")]
    allow_url_prefix: Vec<String>,
}

impl NetArgs {
    /// Where a manifest's payload URIs may be fetched from: the origins of `operator_urls`
    /// (the URLs the operator gave) and `--allow-url-prefix`.
    fn allowed(
        &self,
        operator_urls: &[&str],
    ) -> Result<suit_host::transport::allow::UrlPolicy, AgentError> {
        suit_host::transport::allow::UrlPolicy::new(operator_urls, &self.allow_url_prefix)
            .map_err(AgentError::File)
    }

    fn net(&self) -> Result<suit_host::transport::Net, AgentError> {
        use std::time::Duration;
        suit_host::transport::Net::new(suit_host::transport::NetConfig {
            ca_file: self.ca_file.clone(),
            max_payload: self.max_payload_bytes,
            stall_timeout: Duration::from_secs(self.stall_timeout.unwrap_or(30).max(1)),
            deadline: Duration::from_secs(self.transfer_timeout.unwrap_or(600).max(1)),
            retries: self.retries.unwrap_or(4),
            backoff: Duration::from_millis(self.backoff_ms.unwrap_or(1000)),
        })
    }

    /// The options given that only a network transfer uses (`--max-payload-bytes` also caps
    /// local payload files): named when nothing is fetched.
    fn network_only(&self) -> Vec<&'static str> {
        [
            (self.ca_file.is_some(), "--ca-file"),
            (self.stall_timeout.is_some(), "--stall-timeout"),
            (self.transfer_timeout.is_some(), "--transfer-timeout"),
            (self.retries.is_some(), "--retries"),
            (self.backoff_ms.is_some(), "--backoff-ms"),
            (!self.allow_url_prefix.is_empty(), "--allow-url-prefix"),
        ]
        .into_iter()
        .filter_map(|(set, flag)| set.then_some(flag))
        .collect()
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum TeeKind {
    /// The real TA inside OP-TEE, through libteec.
    Optee,
    /// The TA logic in this process; protects nothing.
    Sim,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyFormat {
    /// SubjectPublicKeyInfo PEM.
    Pem,
    /// COSE_Key (CBOR), with the key id.
    Cose,
    /// Uncompressed SEC1 point, hex.
    Hex,
    /// JSON: the point and its key id, hex.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum WhichKey {
    /// The identity key: signs key statements; enrolled once in the factory.
    Identity,
    /// The report signing key (status trackers verify with it).
    Report,
    /// The provisioning key (the TPA encrypts provisioning secrets to it).
    Provisioning,
    /// An anchor's ECDH-ES+A128KW payload key (needs --anchor).
    EcdhEs,
    /// An anchor's COSE-HPKE payload key (needs --anchor).
    Hpke,
}

impl WhichKey {
    fn name(self) -> &'static str {
        match self {
            WhichKey::Identity => "identity",
            WhichKey::Report => "report",
            WhichKey::Provisioning => "provisioning",
            WhichKey::EcdhEs => "ecdh-es",
            WhichKey::Hpke => "hpke",
        }
    }
}

/// The subcommands: `poll` runs rounds that each take the lock and open their own TA session;
/// every other command runs in one session (`Cmd`), so dispatch needs no dead arm.
#[derive(Subcommand)]
// `defer`: a subcommand's arguments are built only when it is the one run, not for each of
// the ~25 at every start (issue 14: the agent's own time per install under QEMU).
#[command(defer = true)]
enum Command {
    #[command(flatten)]
    Session(Cmd),
    /// Ask a firmware server for this device's latest envelope, install it if it is new, and
    /// post the TA's signed report to a status tracker (layout: host/README.md).
    Poll(PollArgs),
}

#[derive(clap::Args)]
struct PollArgs {
    /// Firmware server base URL (`BASE/<vendor-id>/<class-id>/envelope.suit`).
    url: String,
    /// Poll again every S seconds (at least 1; run as a daemon); without it: one round.
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..))]
    interval: Option<u64>,
    /// Stop after N rounds (with --interval; for tests and supervised runs). The exit status
    /// is that of the last round.
    #[arg(long, value_name = "N", requires = "interval", value_parser = clap::value_parser!(u64).range(1..))]
    rounds: Option<u64>,
    /// Status tracker: POST each signed report here.
    #[arg(long, value_name = "URL")]
    report_url: Option<String>,
    /// GET the report's nonce here first (default: a fresh random nonce).
    #[arg(long, value_name = "URL", requires = "report_url")]
    nonce_url: Option<String>,
    /// Remembers the envelope's ETag and digest, a report still to post and approved REE
    /// files still to write between rounds
    /// (default: /var/lib/suit-agent/poll.json, or STATE/poll.json with --tee sim).
    #[arg(long, value_name = "FILE")]
    poll_state: Option<PathBuf>,
    /// Write the normal-world files the manifest approved under this directory (one that
    /// cannot be written is tried again each later round, also after a restart).
    #[arg(long)]
    ree_root: Option<PathBuf>,
    #[command(flatten)]
    net_args: NetArgs,
}

#[derive(Subcommand)]
#[command(defer = true)]
enum Cmd {
    /// Show versions, the platform's protections and the TA's public state.
    Status {
        /// Print the status as JSON (failures too).
        #[arg(long)]
        json: bool,
    },
    /// Export public device keys (private halves never leave the TA) and the TA's signed key
    /// statement over them. Payload keys are per trust anchor: `--anchor ID`.
    DeviceKey(DeviceKeyArgs),
    /// Relay a TPA-signed provisioning message to the TA.
    Provision {
        /// The TPA-signed message (`suit-author provision`): CBOR, hex text, or `-` for
        /// standard input.
        message: PathBuf,
        /// Write the TA's signed receipt here (for the TPA: `suit-author verify-receipt`).
        /// The TA keeps no receipt: to recover a lost one, relay an empty message at the next
        /// counter (`{"counter": N+1, "device-key": ..., "ops": []}`) with this option and
        /// check it with `verify-receipt --expect-state`.
        #[arg(long = "receipt-out", value_name = "FILE")]
        receipt_out: Option<PathBuf>,
        /// Print what the TA applied and its receipt (hex) as JSON (failures too).
        #[arg(long)]
        json: bool,
    },
    /// List trust anchors, component rules and the device identity.
    Anchors {
        /// Print the anchors, rules and identity as JSON (failures too).
        #[arg(long)]
        json: bool,
    },
    /// Stream an envelope and the payloads it fetches into the TA and install it. Should the
    /// TA answer that the commit awaits this envelope again (OP-TEE's install of its TA did
    /// not finish), it is sent again, at most twice more; the install is recorded (see
    /// --install-record) until the TA answers it, for `resume`.
    Install(InstallArgs),
    /// Finish an update a power cut (or a storage failure) interrupted while OP-TEE installed
    /// its TA: if the TA awaits that envelope and the install record (--install-record) holds
    /// it, install it again with the recorded options; if nothing is awaited, say so and
    /// remove a stale record. A boot script should run `suit-agent resume` before any other
    /// agent command: until the awaited envelope is installed again (or abandoned), the TA
    /// refuses everything but status and that install.
    Resume {
        /// Print what was done as JSON (the install's document when it re-ran one; failures
        /// too).
        #[arg(long)]
        json: bool,
    },
    /// Give up an update that awaits its envelope again (status: AWAITING ENVELOPE), for an
    /// envelope that cannot be sent again: it is not applied, the device's state is the one
    /// before it, and the update's TA (OP-TEE's TA store may hold either image of it) is
    /// marked unconfirmed until an update installs it.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["sha256", "envelope"])))]
    Abandon {
        /// The awaited envelope's SHA-256 (hex), as `status` shows it.
        sha256: Option<String>,
        /// The awaited envelope's file, whose SHA-256 is computed (CBOR, as `install` reads
        /// it: hex text is decoded first).
        #[arg(long, value_name = "FILE")]
        envelope: Option<PathBuf>,
        /// Print the outcome as JSON (failures too).
        #[arg(long)]
        json: bool,
    },
    /// Fetch the TA's signed SUIT report of the latest install attempt whose manifest was
    /// authenticated, with the device's current state (for a status tracker; verify it with
    /// `suit-author verify-report`).
    Report {
        /// Hex nonce from the status tracker, bound into the signature (freshness): 1 to 64
        /// bytes; a longer one is refused (too-large, exit 1), an empty one too (exit 2).
        #[arg(long)]
        nonce: Option<String>,
        /// Write the COSE_Sign1 report here (otherwise: a summary on standard output).
        #[arg(short = 'o', long)]
        out: Option<PathBuf>,
        /// The latest attempt refused before its manifest was authenticated, instead of the
        /// latest authenticated attempt.
        #[arg(long)]
        pre_auth: bool,
        /// Print the (unverified) report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask the TA for personalization data as the normal world. Always refused: the data
    /// goes only to its TA over a TA-to-TA session. Exists to demonstrate that boundary.
    PersoGet {
        /// Print the outcome as JSON (failures too).
        #[arg(long)]
        json: bool,
    },
    /// Write an approved normal-world file (from an earlier install) under --ree-root.
    Export {
        /// The approved path (as `install` printed it).
        path: String,
        /// The directory the approved path is written under (as `install --ree-root`).
        #[arg(long)]
        ree_root: PathBuf,
        /// Print the outcome as JSON (failures too).
        #[arg(long)]
        json: bool,
    },
    /// Test builds only: run the TA's crypto known-answer checks and timings (RustCrypto and
    /// OP-TEE's GP TEE API) on the request file (format: suit_common::crypto::bench) and print
    /// the TA's text reply. Used by qemu/bench.sh and the QEMU tests.
    #[command(hide = true)]
    CryptoBench {
        /// The request file.
        request: PathBuf,
    },
    /// Test builds only: how often pieces of each FILE (its first, middle and last 32 bytes,
    /// or all of it if shorter) occur in the TA's heap, freed blocks included, and in the dead
    /// part of its stack, after a control the request and the TA put in both (which must be
    /// found), and whether a control an earlier scan left on the stack outlived its command
    /// (it must not). Used by the QEMU tests to show that no plaintext outlives its command.
    #[command(hide = true)]
    HeapScan {
        /// The files whose pieces are searched for.
        files: Vec<PathBuf>,
    },
    /// Tests only: install ENVELOPE (payloads integrated) with a second InstallBegin, which
    /// the TA must refuse, between its InstallPrepare and InstallFinish in one TA session (the
    /// refused begin must leave the install under way intact). Used by the QEMU tests; only
    /// in builds with suit-host's `test-paths` feature.
    #[cfg(feature = "test-paths")]
    #[command(hide = true)]
    RefusedBegin {
        /// The envelope (payloads integrated).
        envelope: PathBuf,
    },
    /// Tests only: relay provisioning MESSAGE with a response slot of SLOT bytes, as a client
    /// other than this agent may offer one, and print the TA's status word and `b`. Used by
    /// the QEMU tests (a short slot is refused before the message is applied); only in builds
    /// with suit-host's `test-paths` feature.
    #[cfg(feature = "test-paths")]
    #[command(hide = true)]
    ShortSlot {
        /// The TPA-signed provisioning message.
        message: PathBuf,
        /// The response slot's length in bytes.
        #[arg(long, default_value_t = 16)]
        slot: usize,
    },
    /// Tests only: send a provisioning request of LEN zero bytes, as a client other than this
    /// agent may, and print the TA's status word and `b`. Used by the QEMU tests (the TA
    /// bounds a request before it copies it: one larger than its heap is refused as too
    /// large, not as an allocation failure); only in builds with suit-host's `test-paths`
    /// feature.
    #[cfg(feature = "test-paths")]
    #[command(hide = true)]
    OversizedRequest {
        /// The request's length in bytes.
        #[arg(long)]
        len: usize,
    },
}

#[derive(clap::Args)]
struct DeviceKeyArgs {
    /// Format of the key printed or written with --out (default: pem).
    #[arg(long, value_enum)]
    format: Option<KeyFormat>,
    /// Which key to print (default: identity; with --anchor: hpke).
    #[arg(long, value_enum)]
    which: Option<WhichKey>,
    /// Export this trust anchor's payload-decryption keys (ECDH-ES and HPKE).
    #[arg(long)]
    anchor: Option<u32>,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long)]
    out: Option<PathBuf>,
    /// Write every exported key (PEM) and the signed key statement into this directory:
    /// identity/report/provisioning.pub.pem, anchor-N.ecdh.pub.pem, anchor-N.hpke.pub.pem,
    /// key-statement.cbor (anchor-N.statement.cbor with --anchor).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Replace an enrolment record: another device's identity key in the identity key file
    /// --out names, or in an identity.pub.pem in --out-dir; or this device's identity key in
    /// the file --out (another key than the identity key) or --statement names. Without it
    /// that is refused and nothing is written.
    #[arg(long)]
    force: bool,
    /// Write the signed key statement (COSE_Sign1, CBOR) to this file.
    #[arg(long)]
    statement: Option<PathBuf>,
    /// Print every exported key (SEC1 point and kid, hex) and the statement as JSON
    /// (failures too), after writing any files asked for.
    #[arg(long)]
    json: bool,
}

impl DeviceKeyArgs {
    /// The one key `--out` gets (without files: the one printed) and its format, checked
    /// before any output is opened or the TA asked, and alike with or without `--json`: an
    /// anchor's key needs `--anchor`.
    fn chosen(&self) -> Result<(WhichKey, KeyFormat), AgentError> {
        let which = self.which.unwrap_or(if self.anchor.is_some() {
            WhichKey::Hpke
        } else {
            WhichKey::Identity
        });
        if matches!(which, WhichKey::EcdhEs | WhichKey::Hpke) && self.anchor.is_none() {
            return Err(AgentError::File(format!(
                "--which {}: ecdh-es and hpke keys belong to a trust anchor: give --anchor ID",
                which.name()
            )));
        }
        Ok((which, self.format.unwrap_or(KeyFormat::Pem)))
    }

    /// `--which`/`--format` given where they choose nothing: no single key is output when
    /// `--json` or `--out-dir` (every key) comes without `--out`.
    fn ignored(&self) -> Vec<&'static str> {
        if self.out.is_some() || (!self.json && self.out_dir.is_none()) {
            return Vec::new();
        }
        [
            (self.which.is_some(), "--which"),
            (self.format.is_some(), "--format"),
        ]
        .into_iter()
        .filter_map(|(set, flag)| set.then_some(flag))
        .collect()
    }
}

#[derive(clap::Args)]
struct InstallArgs {
    /// The envelope: a file (any name, UTF-8 or not), `-`, a file:// URI, or an http(s)://
    /// URL.
    envelope: std::ffi::OsString,
    /// Payload for a URI: `URI=FILE` (repeatable; the exact URI the manifest names; FILE any
    /// name, UTF-8 or not). Split at the last `=`: the URI may contain `=` (a query string),
    /// FILE may not. One for a URI the manifest does not list is named in a warning.
    #[arg(long = "payload", value_name = "URI=FILE")]
    payloads: Vec<std::ffi::OsString>,
    /// Look payloads up here by the URI's last path segment, `file://` URIs included (a
    /// regular file directly in DIR; symbolic links are refused).
    #[arg(long)]
    payload_dir: Option<PathBuf>,
    /// Write the normal-world files the manifest approved under this directory.
    #[arg(long)]
    ree_root: Option<PathBuf>,
    /// Print the outcome (installed components, manifest digest, approved REE paths) as JSON
    /// (failures too).
    #[arg(long)]
    json: bool,
    /// Fetch http(s) payload URIs the TA names over the network (implied when the
    /// envelope is a URL). Files given with --payload/--payload-dir still come first.
    #[arg(long)]
    net: bool,
    #[command(flatten)]
    net_args: NetArgs,
}

fn connect(cli: &Cli) -> Result<Box<dyn Transport>, AgentError> {
    match cli.tee {
        TeeKind::Sim => {
            errln!("WARNING: {}", sim::WARNING);
            let root = match &cli.sim_tpa_root {
                Some(p) => Some(read_text(p)?),
                None => None,
            };
            let state = cli
                .state
                .clone()
                .unwrap_or_else(|| PathBuf::from("suit-sim-state"));
            let features = suit_host::ta_features::TaFeature::parse_list(
                &cli.sim_ta_features,
                "--sim-ta-features",
            )
            .map_err(AgentError::File)?;
            let sim = Simulator::open(&state, root.as_deref(), &features)?;
            if sim.is_new_device() {
                errln!(
                    "suit-agent: note: the simulator state {} held no device: began a new, \
                     empty one",
                    suit_host::human::printable(&state.display().to_string())
                );
            }
            Ok(Box::new(sim))
        }
        #[cfg(feature = "optee")]
        TeeKind::Optee => Ok(Box::new(suit_host::tee::optee::Optee::connect(
            std::time::Duration::from_secs(cli.busy_wait),
        )?)),
        #[cfg(not(feature = "optee"))]
        TeeKind::Optee => Err(AgentError::NoOpteeSupport),
    }
}

/// With `--tee sim`, what [`connect`] would refuse in the arguments, refused before the lock
/// is taken (which creates the state directory, `STATE/.agent.lock`): a `--state` that is no
/// directory, a `--sim-tpa-root` that cannot be read or is no P-256 key, an unknown
/// `--sim-ta-features` name (exit 2). A failed command then leaves no new state directory
/// holding only a lock file.
fn check_sim_args(cli: &Cli) -> Result<(), AgentError> {
    if !matches!(cli.tee, TeeKind::Sim) {
        return Ok(());
    }
    sim::check_state_dir(cli.state.as_deref().unwrap_or(Path::new("suit-sim-state")))?;
    if let Some(p) = &cli.sim_tpa_root {
        sim::p256_point_from_pem(&read_text(p)?)
            .map_err(|e| AgentError::File(format!("--sim-tpa-root: {e}")))?;
    }
    suit_host::ta_features::TaFeature::parse_list(&cli.sim_ta_features, "--sim-ta-features")
        .map_err(AgentError::File)?;
    Ok(())
}

/// A file the operator named, bounded ([`suit_host::files::read_file`]).
fn read_file(path: &Path) -> Result<Vec<u8>, AgentError> {
    suit_host::files::read_file(path).map_err(|e| AgentError::File(e.to_string()))
}

/// A text file the operator named, bounded ([`suit_host::files::read_text_file`]).
fn read_text(path: &Path) -> Result<String, AgentError> {
    suit_host::files::read_text_file(path).map_err(|e| AgentError::File(e.to_string()))
}

fn show(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn format_key(point: &[u8], kid: &[u8], format: KeyFormat) -> Result<Vec<u8>, AgentError> {
    match format {
        KeyFormat::Hex => Ok(format!("{}\n", hex::encode(point)).into_bytes()),
        KeyFormat::Json => Ok(format!(
            "{}\n",
            serde_json::json!({ "key": hex::encode(point), "kid": hex::encode(kid) })
        )
        .into_bytes()),
        KeyFormat::Pem => {
            use p256::pkcs8::{EncodePublicKey as _, LineEnding};
            let key = p256::PublicKey::from_sec1_bytes(point)
                .map_err(|_| AgentError::BadResponse("device key is not a P-256 point"))?;
            key.to_public_key_pem(LineEnding::LF)
                .map(String::into_bytes)
                .map_err(|_| AgentError::BadResponse("PEM encoding"))
        }
        KeyFormat::Cose => {
            let key = p256::PublicKey::from_sec1_bytes(point)
                .map_err(|_| AgentError::BadResponse("device key is not a P-256 point"))?;
            public_cose_key(&PublicKey::P256(key), Some(kid))
                .map_err(|_| AgentError::BadResponse("COSE_Key encoding"))
        }
    }
}

fn progress_bar(p: Progress<'_>) {
    let (what, sent, total) = match p {
        Progress::Envelope { sent, total } => ("envelope".to_string(), sent, total),
        Progress::Payload { uri, sent, total } => {
            (suit_host::human::printable(uri).into_owned(), sent, total)
        }
    };
    if total < 512 * 1024 {
        return;
    }
    let pct = sent * 100 / total.max(1);
    let bar = "#".repeat((pct / 4) as usize);
    suit_host::stdio::err(format_args!(
        "\r  {what}: [{bar:<25}] {pct:>3}% ({sent}/{total} bytes)"
    ));
    if sent == total {
        errln!();
    }
    let _ = std::io::stderr().flush();
}

/// The lock file: `--lock`, else inside the simulator's state directory
/// ([`suit_host::sim::state_lock_path`]), else in the agent user's own directory
/// (`transport::lock::default_path`).
fn lock_path(cli: &Cli) -> Result<PathBuf, AgentError> {
    if let Some(p) = &cli.lock {
        return Ok(p.clone());
    }
    if matches!(cli.tee, TeeKind::Sim) {
        return suit_host::sim::state_lock_path(
            cli.state.as_deref().unwrap_or(Path::new("suit-sim-state")),
        );
    }
    transport::lock::default_path()
}

/// The install record ([`suit_host::inflight`]): `--install-record`, else
/// $SUIT_AGENT_INSTALL_RECORD, else in the agent's state directory (the simulator's with
/// `--tee sim`), as `poll`'s state file.
fn record_path(cli: &Cli) -> PathBuf {
    use suit_host::inflight::{RECORD_ENV, RECORD_NAME};
    if let Some(p) = &cli.install_record {
        return p.clone();
    }
    if let Some(p) = std::env::var_os(RECORD_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    match cli.tee {
        TeeKind::Sim => cli
            .state
            .clone()
            .unwrap_or_else(|| PathBuf::from("suit-sim-state"))
            .join(RECORD_NAME),
        TeeKind::Optee => Path::new("/var/lib/suit-agent").join(RECORD_NAME),
    }
}

fn take_lock(cli: &Cli) -> Result<transport::lock::AgentLock, AgentError> {
    transport::lock::AgentLock::acquire(
        &lock_path(cli)?,
        std::time::Duration::from_secs(cli.lock_wait),
    )
}

fn show_progress(cli: &Cli) -> bool {
    cli.progress || (!cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()))
}

/// `poll`: one round, or one every `--interval` seconds (errors of a round are logged and the
/// next round tries again). The lock and the TA session are held only during a round.
fn run_poll(cli: &Cli, args: &PollArgs) -> Result<(), AgentError> {
    let PollArgs {
        url,
        interval,
        rounds,
        report_url,
        nonce_url,
        poll_state,
        ree_root,
        net_args,
    } = args;
    // The URLs first: nothing is contacted for one that cannot be fetched as given. User
    // information in them is sent as HTTP Basic credentials (never shown: `***@`), named in
    // a warning over plain http.
    transport::allow::check_base_url(url).map_err(AgentError::File)?;
    for (what, u) in [("--report-url", report_url), ("--nonce-url", nonce_url)] {
        if let Some(u) = u {
            transport::allow::check_operator_url(what, u).map_err(AgentError::File)?;
        }
    }
    let operator_urls = [
        ("poll BASE_URL", Some(url)),
        ("--report-url", report_url.as_ref()),
        ("--nonce-url", nonce_url.as_ref()),
    ];
    for (what, u) in operator_urls {
        if let Some(w) = u.and_then(|u| transport::allow::credentials_warning(what, u)) {
            log::warn(&w);
        }
    }
    if let Some(root) = ree_root {
        ree::check_root(root)?;
    }
    let net = net_args.net()?;
    let allowed = net_args.allowed(&[url])?;
    let state_file = poll_state.clone().unwrap_or_else(|| match cli.tee {
        TeeKind::Sim => cli
            .state
            .clone()
            .unwrap_or_else(|| PathBuf::from("suit-sim-state"))
            .join("poll.json"),
        TeeKind::Optee => PathBuf::from("/var/lib/suit-agent/poll.json"),
    });
    // Before the first round: a state that cannot be saved fails a round only after it has
    // downloaded and staged the whole update. Under the lock a round takes: the check saves
    // an existing state again, which outside it could put back bytes another agent's round
    // has just replaced.
    {
        let _lock = take_lock(cli)?;
        transport::poll::check_state_file(&state_file)?;
    }
    let opts = transport::poll::PollOptions {
        base: url.clone(),
        report_url: report_url.clone(),
        nonce_url: nonce_url.clone(),
        state_file,
        ree_root: ree_root.clone(),
        allowed,
    };
    let show = show_progress(cli);
    let round = || -> Result<transport::poll::Outcome, AgentError> {
        let _lock = take_lock(cli)?;
        let mut tee = connect(cli)?;
        let mut progress = |p: Progress<'_>| {
            if show {
                progress_bar(p)
            }
        };
        transport::poll::poll_once(tee.as_mut(), &net, &opts, &mut progress)
    };
    // Logs a round's outcome and gives its exit status: a refusal's (5 for a commit the TA
    // left pending and completed), a commit left pending and not completed (3), else that of
    // the first failure after the TA's decision (a report left pending: 4; an approved REE
    // file not written, kept pending for the next round: 5). The failure the command ends
    // with (`last`) is left to `main`, which prints it: logged here too, it showed twice.
    let settle = |r: Result<transport::poll::Outcome, AgentError>, last: bool| {
        let mut failures = Vec::new();
        match r {
            Err(e) => failures.push((log::Level::Error, e)),
            Ok(o) => {
                match o.round {
                    transport::poll::Round::UpToDate => log::info("up to date"),
                    transport::poll::Round::Installed { components } => {
                        COMMITTED.store(true, Ordering::Relaxed);
                        log::info(&format!("installed: {}", components.join(", ")))
                    }
                    transport::poll::Round::Refused(e) => failures.push((log::Level::Warn, e)),
                    transport::poll::Round::Unsettled(e) => failures.push((log::Level::Error, e)),
                }
                failures.extend(o.afterwards.into_iter().map(|e| (log::Level::Error, e)));
            }
        }
        let mut failures = failures.into_iter();
        let first = failures.next();
        for (level, e) in first.iter().filter(|_| !last).chain(failures.as_slice()) {
            log::log(*level, &e.to_string());
        }
        first.map_or(Ok(()), |(_, e)| Err(e))
    };
    let Some(every) = interval else {
        return settle(round(), true);
    };
    let every = std::time::Duration::from_secs(*every);
    log::info(&format!(
        "polling {} every {} s",
        transport::allow::redacted(url),
        every.as_secs()
    ));
    let mut done = 0u64;
    loop {
        let r = round();
        done += 1;
        // Nothing a later round could change: stop with that error (and its exit code). A
        // poll state that cannot be saved for a lasting reason (checked before the first
        // round, made unwritable since) would have every later round download and stage the
        // update again for nothing; a full disk or an I/O error may pass: polling goes on.
        let unsaved = |e: &AgentError| matches!(e, AgentError::PollState { lasting: true, .. });
        let incompatible = match &r {
            // Also an awaited envelope poll has no copy of: every round is refused alike
            // until an operator installs it again or abandons it.
            Err(
                AgentError::VersionMismatch { .. }
                | AgentError::NoOpteeSupport
                | AgentError::AwaitedEnvelopeUnknown(_),
            ) => true,
            Err(e) => unsaved(e),
            Ok(o) => o.afterwards.iter().any(unsaved),
        };
        let last = incompatible || rounds.is_some_and(|n| done >= n);
        let status = settle(r, last);
        if incompatible {
            log::info("stopping: a later round cannot change this");
            return status;
        }
        if last {
            log::info(&format!("stopping after {done} rounds (--rounds)"));
            return status;
        }
        std::thread::sleep(every);
    }
}

/// `parsed`: how long the command line took to parse (`--timings`).
fn run(cli: Cli, parsed: std::time::Duration) -> Result<(), AgentError> {
    log::set_level(match cli.log_level {
        LogLevel::Error => log::Level::Error,
        LogLevel::Warn => log::Level::Warn,
        LogLevel::Info => log::Level::Info,
        LogLevel::Debug => log::Level::Debug,
    });
    if !matches!(cli.tee, TeeKind::Sim) {
        for (set, flag) in [
            (cli.state.is_some(), "--state"),
            (cli.sim_tpa_root.is_some(), "--sim-tpa-root"),
            (!cli.sim_ta_features.is_empty(), "--sim-ta-features"),
        ] {
            if set {
                errln!("suit-agent: warning: {flag} is ignored without --tee sim");
            }
        }
    }
    refuse_streams(&cli)?;
    check_sim_args(&cli)?;
    let cmd = match &cli.command {
        Command::Poll(args) => return run_poll(&cli, args),
        Command::Session(cmd) => cmd,
    };
    if let Cmd::DeviceKey(a) = cmd {
        a.chosen()?;
        for flag in a.ignored() {
            errln!(
                "suit-agent: warning: {flag} is ignored: it chooses the key of --out (or the one \
                 printed), and --json and --out-dir give every key"
            );
        }
    }
    // A binary output on standard output keeps every other line off it.
    let outputs: Vec<&Path> = match cmd {
        Cmd::Report { out, .. } => out.iter().map(PathBuf::as_path).collect(),
        Cmd::Provision { receipt_out, .. } => receipt_out.iter().map(PathBuf::as_path).collect(),
        Cmd::DeviceKey(a) => a
            .out
            .iter()
            .chain(&a.statement)
            .map(PathBuf::as_path)
            .collect(),
        _ => Vec::new(),
    };
    if outputs
        .iter()
        .any(|p| suit_host::files::is_standard_output(p))
    {
        suit_host::stdio::status_to_stderr();
    }
    // Before the lock and the TA: a file at --ree-root would fail only after a commit.
    match cmd {
        Cmd::Install(InstallArgs {
            ree_root: Some(root),
            ..
        })
        | Cmd::Export { ree_root: root, .. } => ree::check_root(root)?,
        _ => {}
    }
    let opened = open_outputs(cmd)?;
    let _lock = take_lock(&cli)?;
    let started = std::time::Instant::now();
    let mut tee = connect(&cli)?;
    if cli.timings {
        tee = Box::new(suit_host::timing::Timed::new(
            tee,
            parsed,
            started.elapsed(),
        ));
    }
    let tee = tee.as_mut();
    let result = run_session(&cli, cmd, tee, opened);
    // Refused while an interrupted update awaits its envelope: the ways out named (`install`
    // names them itself).
    match cmd {
        Cmd::Install(_) => result,
        _ => result.map_err(client::awaiting_hints),
    }
}

/// Runs session command `cmd` on `tee` (the lock held, the session open).
fn run_session(
    cli: &Cli,
    cmd: &Cmd,
    tee: &mut dyn Transport,
    opened: OpenedOutputs,
) -> Result<(), AgentError> {
    match cmd {
        Cmd::Status { json } => status(tee, *json),
        Cmd::DeviceKey(args) => device_key(tee, args, opened),
        Cmd::Provision { message, json, .. } => provision(tee, message, opened.out, *json),
        Cmd::Anchors { json } => anchors(tee, *json),
        Cmd::Report {
            nonce,
            pre_auth,
            json,
            ..
        } => report(tee, nonce.as_deref(), opened.out, *pre_auth, *json),
        Cmd::PersoGet { json } => perso_get(tee, *json),
        Cmd::Export {
            path,
            ree_root,
            json,
        } => export(tee, path, ree_root, *json),
        Cmd::Install(args) => install(tee, args, record_path(cli), show_progress(cli)),
        Cmd::Resume { json } => resume(tee, record_path(cli), show_progress(cli), *json),
        Cmd::Abandon {
            sha256,
            envelope,
            json,
        } => {
            // Clap requires one of the two.
            let digest = match envelope {
                Some(file) => {
                    use sha2::Digest as _;
                    let bytes = read_as(file, suit_host::detect::Format::Envelope)?;
                    hex::encode(sha2::Sha256::digest(&bytes))
                }
                None => sha256.clone().unwrap_or_default(),
            };
            abandon(tee, &digest, &record_path(cli), *json)
        }
        Cmd::HeapScan { files } => heap_scan(tee, files),
        #[cfg(feature = "test-paths")]
        Cmd::RefusedBegin { envelope } => {
            let (refused, done) = client::install_past_a_refused_begin(tee, &read_file(envelope)?)?;
            COMMITTED.store(true, Ordering::Relaxed);
            match refused {
                Some(e) => outln!(
                    "second begin refused: {}",
                    suit_host::human::printable(&e.to_string())
                ),
                None => outln!("second begin accepted"),
            }
            outln!("installed: {}", joined(&done.components, ", "));
            Ok(())
        }
        #[cfg(feature = "test-paths")]
        Cmd::ShortSlot { message, slot } => {
            let request = suit_common::protocol::encode(&suit_common::protocol::ProvisionRequest {
                message: suit_common::protocol::ByteBuf::from(read_file(message)?),
            })
            .map_err(|_| AgentError::BadResponse("request encoding"))?;
            raw_provision(tee, &request, *slot)
        }
        #[cfg(feature = "test-paths")]
        Cmd::OversizedRequest { len } => {
            raw_provision(tee, &vec![0; *len], suit_common::protocol::MAX_RESPONSE)
        }
        Cmd::CryptoBench { request } => {
            outp!("{}", client::crypto_bench(tee, &read_file(request)?)?);
            Ok(())
        }
    }
}

/// Refuses `-` (and `/dev/stdout`, ...) where a path the agent writes cannot be a stream
/// ([`suit_host::files::refuse_standard_stream`]); a file output takes it as standard output.
fn refuse_streams(cli: &Cli) -> Result<(), AgentError> {
    const DIR: &str = "it names a directory";
    let mut checks: Vec<(&Path, &str, &str)> = Vec::new();
    checks.extend(cli.state.as_deref().map(|p| (p, "--state", DIR)));
    checks.extend(
        cli.lock
            .as_deref()
            .map(|p| (p, "--lock", "it names the lock file")),
    );
    match &cli.command {
        Command::Poll(a) => {
            checks.extend(a.ree_root.as_deref().map(|p| (p, "--ree-root", DIR)));
            checks.extend(
                a.poll_state
                    .as_deref()
                    .map(|p| (p, "--poll-state", "it names the poll state file")),
            );
        }
        Command::Session(Cmd::Install(a)) => {
            checks.extend(a.ree_root.as_deref().map(|p| (p, "--ree-root", DIR)))
        }
        Command::Session(Cmd::Export { ree_root, .. }) => {
            checks.push((ree_root, "--ree-root", DIR))
        }
        Command::Session(Cmd::DeviceKey(a)) => {
            checks.extend(a.out_dir.as_deref().map(|p| (p, "--out-dir", DIR)))
        }
        _ => {}
    }
    for (path, option, why) in checks {
        suit_host::files::refuse_standard_stream(path, option, why)
            .map_err(|e| AgentError::File(e.to_string()))?;
    }
    Ok(())
}

/// The files a command writes, opened before the lock is taken and the TA asked anything
/// ([`suit_host::files::open_output`]): an output that cannot be written (a directory, a
/// socket, a FIFO nobody reads, a directory that cannot be made) is refused first, so no
/// provisioning message is applied and no lock held for an output that would fail.
#[derive(Default)]
struct OpenedOutputs {
    /// `report -o`, `provision --receipt-out`, `device-key --out`.
    out: Option<suit_host::files::OpenedOutput>,
    /// `device-key --statement`.
    statement: Option<suit_host::files::OpenedOutput>,
    /// `device-key --out-dir`: [`out_dir_files`] in order.
    dir: Vec<suit_host::files::OpenedOutput>,
}

/// [`suit_host::enrolment::keep`], refused as a file error (exit 2).
fn keep_enrolment(path: &Path, identity: &[u8], strict: bool) -> Result<(), AgentError> {
    suit_host::enrolment::keep(path, identity, strict).map_err(AgentError::File)
}

/// `device-key --out-dir`'s files: each key's (PEM) and the statement's name.
fn out_dir_files(anchor: Option<u32>) -> (Vec<(WhichKey, String)>, String) {
    let mut files = vec![
        (
            WhichKey::Identity,
            suit_host::enrolment::IDENTITY_FILE.to_string(),
        ),
        (WhichKey::Report, "report.pub.pem".to_string()),
        (WhichKey::Provisioning, "provisioning.pub.pem".to_string()),
    ];
    let statement = match anchor {
        Some(id) => {
            files.push((WhichKey::EcdhEs, format!("anchor-{id}.ecdh.pub.pem")));
            files.push((WhichKey::Hpke, format!("anchor-{id}.hpke.pub.pem")));
            format!("anchor-{id}.statement.cbor")
        }
        None => "key-statement.cbor".to_string(),
    };
    (files, statement)
}

fn open_outputs(cmd: &Cmd) -> Result<OpenedOutputs, AgentError> {
    let (out, statement, dir): (Option<&PathBuf>, Option<&PathBuf>, Vec<PathBuf>) = match cmd {
        Cmd::Report { out, .. } => (out.as_ref(), None, Vec::new()),
        Cmd::Provision { receipt_out, .. } => (receipt_out.as_ref(), None, Vec::new()),
        Cmd::DeviceKey(a) => {
            let dir = a.out_dir.as_ref().map_or_else(Vec::new, |d| {
                let (keys, statement) = out_dir_files(a.anchor);
                keys.into_iter()
                    .map(|(_, name)| name)
                    .chain([statement])
                    .map(|name| d.join(name))
                    .collect()
            });
            (a.out.as_ref(), a.statement.as_ref(), dir)
        }
        _ => return Ok(OpenedOutputs::default()),
    };
    // One file named twice (`--out ./k.pem --statement k.pem`), or the message `provision`
    // relays, is refused as the author tool refuses it, before anything is opened.
    let named = |p: &PathBuf, what: &str| (p.clone(), what.to_string());
    let outputs: Vec<(PathBuf, String)> = out
        .map(|p| named(p, "the output (-o/--out/--receipt-out)"))
        .into_iter()
        .chain(statement.map(|p| named(p, "the key statement (--statement)")))
        .chain(dir.iter().map(|p| named(p, "a file of --out-dir")))
        .collect();
    let inputs = match cmd {
        Cmd::Provision { message, .. } => vec![message.clone()],
        _ => Vec::new(),
    };
    suit_host::files::check_outputs(&outputs, &inputs)
        .map_err(|e| AgentError::File(e.to_string()))?;
    let open = |p: &PathBuf| {
        suit_host::files::open_output(p)
            .map_err(|e| AgentError::File(format!("{}: {e}", p.display())))
    };
    Ok(OpenedOutputs {
        out: out.map(open).transpose()?,
        statement: statement.map(open).transpose()?,
        dir: dir.iter().map(open).collect::<Result<_, _>>()?,
    })
}

/// Writes a command's outputs all or none ([`suit_host::files::write_opened`]).
fn write_opened(outputs: Vec<(suit_host::files::OpenedOutput, &[u8])>) -> Result<(), AgentError> {
    let count = outputs.len();
    suit_host::files::write_opened(outputs).map_err(|e| {
        let mut text = e.to_string();
        if e.written.is_empty() && count > 1 {
            text.push_str("; nothing was written");
        } else if !e.written.is_empty() {
            text.push_str(&format!(
                " (already written: {})",
                joined(
                    &e.written
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>(),
                    ", "
                )
            ));
        }
        AgentError::File(text)
    })
}

/// `heap-scan`: `control: heap N, dead stack M`, `earlier control: dead stack K`, then one
/// line per needle, `FILE@OFFSET+LEN: COUNT` (heap and dead stack together). The earlier
/// control is that of a scan made just before, which the TA left on its stack where this
/// scan's control goes: K is 0 only if the TA wipes its stack after a command.
fn heap_scan(tee: &mut dyn Transport, files: &[PathBuf]) -> Result<(), AgentError> {
    const WINDOW: usize = 32;
    let mut control = [0u8; suit_common::protocol::heap_scan::CONTROL_LEN];
    let mut earlier = control;
    for c in [&mut control, &mut earlier] {
        getrandom::fill(c).map_err(|e| AgentError::File(format!("random control: {e}")))?;
    }
    let contents = files
        .iter()
        .map(|f| read_file(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut names = Vec::new();
    let mut needles: Vec<&[u8]> = vec![&earlier];
    for (file, data) in files.iter().zip(&contents) {
        if data.len() < suit_common::protocol::heap_scan::MIN_NEEDLE {
            return Err(AgentError::File(format!(
                "{}: shorter than {} bytes, too short to search for",
                file.display(),
                suit_common::protocol::heap_scan::MIN_NEEDLE
            )));
        }
        let len = data.len().min(WINDOW);
        let mut offsets = vec![0, data.len() / 2 - len / 2, data.len() - len];
        offsets.dedup();
        for at in offsets {
            names.push(format!("{}@{at}+{len}", file.display()));
            needles.extend(data.get(at..at + len));
        }
    }
    // One needle slot is the earlier control's.
    let most = suit_common::protocol::heap_scan::MAX_NEEDLES - 1;
    if needles.len() - 1 > most {
        return Err(AgentError::File(format!(
            "heap-scan searches at most {most} windows ({} asked: 3 per file)",
            needles.len() - 1
        )));
    }
    client::heap_scan(tee, &earlier, &[])?;
    let counts = client::heap_scan(tee, &control, &needles)?;
    let mut counts = counts.into_iter();
    if let Some((heap, stack)) = counts.next() {
        outln!("control: heap {heap}, dead stack {stack}");
    }
    // Its heap count says nothing: the earlier scan's request copy was freed unwiped.
    if let Some((_, stack)) = counts.next() {
        outln!("earlier control: dead stack {stack}");
    }
    for (name, (heap, stack)) in names.iter().zip(counts) {
        outln!("{name}: {}", heap.saturating_add(stack));
    }
    Ok(())
}

/// `status`: the TA's status with the agent's own checks of the platform.
fn status(tee: &mut dyn Transport, json: bool) -> Result<(), AgentError> {
    let s = with_agent_checks(client::status(tee)?);
    if json {
        outln!("{}", to_json(&s));
        return Ok(());
    }
    let level = |l: Option<u32>| l.map_or("unknown".to_string(), |l| l.to_string());
    let p = &s.platform;
    let v = &s.service;
    outln!("SUIT TA status");
    outln!("  backend:             {}", s.backend);
    outln!("  protocol version:    {}", s.protocol_version);
    outln!("  TA version:          {}", s.ta_version);
    outln!(
        "  TEE version:         {}",
        p.tee_version
            .as_ref()
            .map_or("unknown".into(), |v| v.to_string())
    );
    outln!("  anti-rollback level: {}", level(p.anti_rollback_level));
    outln!(
        "  rollback detection:  {}",
        level(p.rollback_detection_level)
    );
    outln!(
        "  attestation PTA:     {}",
        match p.attestation_pta {
            Some(true) => "present",
            Some(false) => "absent (key statements rest on the identity key's enrolment)",
            None => "not applicable",
        }
    );
    outln!(
        "  TPA root kid:        {}{}",
        kid_str(&v.tpa_root_kid),
        if v.tpa_root_is_test_key {
            " (public TEST key)"
        } else {
            ""
        }
    );
    // A TA that cannot read its state says why and sends no counts (zeros, and no delegates'
    // counter, which every TA reading its state sends): they are unknown, not a fresh device.
    let unreadable = v.state_error.is_some() && v.delegate_counter.is_none();
    if let Some(e) = &v.state_error {
        outln!("  STATE ERROR:         {}", suit_common::fault::render(e));
    }
    if let Some(d) = &v.awaiting_envelope {
        let d = show(d);
        outln!(
            "  AWAITING ENVELOPE:   an interrupted update awaits envelope SHA-256 {d}, to be \
             installed again (`suit-agent resume`, or `suit-agent install` that envelope) or \
             abandoned (`suit-agent abandon {d}`); until then the TA refuses everything but \
             status and that install"
        );
    }
    const UNKNOWN: &str = "unknown (the TA cannot read its state: STATE ERROR above)";
    match v.delegate_counter {
        _ if unreadable => outln!("  provisioning count:  {UNKNOWN}"),
        Some(d) => outln!(
            "  provisioning count:  {} (TPA root), {d} (delegated TPA anchors)",
            v.provisioning_counter
        ),
        None => outln!(
            "  provisioning count:  {} (one counter for the TPA root and its delegates)",
            v.provisioning_counter
        ),
    }
    if unreadable {
        outln!("  trust anchors:       {UNKNOWN}");
        outln!("  installed:           {UNKNOWN}");
    } else {
        outln!("  trust anchors:       {}", v.anchors);
        outln!(
            "  installed:           {} component(s)",
            v.installed_components
        );
    }
    outln!(
        "  device key kid:      {}",
        v.device_key_kid
            .as_ref()
            .map_or("not created yet".into(), |k| kid_str(k))
    );
    for c in &v.components {
        // No digest: content the TA keeps it of (decrypted, no signed digest names it).
        let digest = if c.digest.is_empty() {
            "digest withheld".to_string()
        } else {
            format!("sha-256 {}", show(&c.digest))
        };
        outln!(
            "    {}: sequence number {}, {} bytes, {digest}{}{}",
            c.id,
            c.sequence_number,
            c.size,
            c.ta_version
                .map(|t| format!(", TA version {t}"))
                .unwrap_or_default(),
            release_text(&c.released_by)
        );
    }
    for u in &v.unconfirmed_tas {
        outln!(
            "  UNCONFIRMED TA:      {u}: OP-TEE did not confirm its last install; its personalization data is withheld until an update that installs it succeeds"
        );
    }
    for w in &p.warnings {
        outln!("  warning: {w}");
    }
    outln!("  production prerequisites:");
    for r in &p.prerequisites {
        let state = match r.met {
            Some(true) => "met",
            Some(false) => "MISSING",
            None => "unknown",
        };
        outln!("    {:<28} {state:<8} {}", r.name, r.evidence);
    }
    Ok(())
}

/// `device-key`: public device keys and the signed key statement, to files (all or none) or
/// stdout.
fn device_key(
    tee: &mut dyn Transport,
    args: &DeviceKeyArgs,
    opened: OpenedOutputs,
) -> Result<(), AgentError> {
    let (which, format) = args.chosen()?;
    let DeviceKeyArgs {
        anchor,
        out,
        out_dir,
        force,
        json,
        ..
    } = args;
    let k = client::device_key(tee, *anchor).map_err(|e| client::device_key_hints(tee, e))?;
    if let (Some(dir), false) = (out_dir, force) {
        keep_enrolment(
            &dir.join(suit_host::enrolment::IDENTITY_FILE),
            &k.identity_key,
            true,
        )?;
    }
    if let (Some(file), false) = (out, force) {
        if matches!(which, WhichKey::Identity) {
            keep_enrolment(file, &k.identity_key, false)?;
        } else {
            suit_host::enrolment::keep_from_other_output(
                file,
                &k.identity_key,
                &format!("the {} key", which.name()),
            )
            .map_err(AgentError::File)?;
        }
    }
    if let (Some(file), false) = (&args.statement, force) {
        suit_host::enrolment::keep_from_other_output(file, &k.identity_key, "the key statement")
            .map_err(AgentError::File)?;
    }
    let pick = |w: WhichKey| -> Result<
        (
            &suit_common::protocol::ByteBuf,
            &suit_common::protocol::ByteBuf,
        ),
        AgentError,
    > {
        // `chosen` asked for --anchor: a TA that sends no anchor keys then is out of protocol.
        let a = || {
            k.anchor
                .as_ref()
                .ok_or(AgentError::BadResponse("no keys of the anchor asked for"))
        };
        Ok(match w {
            WhichKey::Identity => (&k.identity_key, &k.identity_kid),
            WhichKey::Report => (&k.report_key, &k.report_kid),
            WhichKey::Provisioning => (&k.provisioning_key, &k.provisioning_kid),
            WhichKey::EcdhEs => (&a()?.ecdh_es_key, &a()?.ecdh_es_kid),
            WhichKey::Hpke => (&a()?.hpke_key, &a()?.hpke_kid),
        })
    };
    // Every file's bytes first (a key this TA did not export refuses the command before any
    // file changes), then all written or none.
    let mut outputs = Vec::new();
    if let Some(o) = opened.out {
        let (point, kid) = pick(which)?;
        outputs.push((o, format_key(point, kid, format)?));
    }
    let (files, _) = out_dir_files(*anchor);
    let mut dir = opened.dir.into_iter();
    for ((w, _), o) in files.into_iter().zip(dir.by_ref()) {
        let (point, kid) = pick(w)?;
        outputs.push((o, format_key(point, kid, KeyFormat::Pem)?));
    }
    // The statements last: the primary, whose rename commits the set.
    for o in dir.chain(opened.statement) {
        outputs.push((o, k.statement.to_vec()));
    }
    let (to, data): (Vec<_>, Vec<_>) = outputs.into_iter().unzip();
    write_opened(to.into_iter().zip(data.iter().map(Vec::as_slice)).collect())?;
    if let Some(path) = out {
        let (_, kid) = pick(which)?;
        errln!(
            "wrote the {} key (kid {}) to {}",
            which.name(),
            kid_str(kid),
            path.display()
        );
    }
    if let Some(dir) = out_dir {
        errln!(
            "wrote the device's public keys and its signed key statement to {}",
            dir.display()
        );
    }
    if *json {
        let key = |p: &[u8], kid: &[u8]| serde_json::json!({"key": show(p), "kid": show(kid)});
        let mut j = serde_json::json!({
            "ok": true,
            "identity": key(&k.identity_key, &k.identity_kid),
            "report": key(&k.report_key, &k.report_kid),
            "provisioning": key(&k.provisioning_key, &k.provisioning_kid),
            "statement": show(&k.statement),
        });
        if let (Some(a), Some(id), Some(o)) = (&k.anchor, anchor, j.as_object_mut()) {
            o.insert(
                "anchor".into(),
                serde_json::json!({
                    "id": id,
                    "ecdh-es": key(&a.ecdh_es_key, &a.ecdh_es_kid),
                    "hpke": key(&a.hpke_key, &a.hpke_kid),
                }),
            );
        }
        // The keys are this output (the identity key's export for factory enrolment).
        return suit_host::stdio::try_out(format_args!(
            "{}\n",
            serde_json::to_string_pretty(&j).unwrap_or_default()
        ))
        .map_err(printing);
    }
    if out.is_none() && out_dir.is_none() {
        let (point, kid) = pick(which)?;
        // Standard error when standard output carries the statement (`--statement
        // /dev/stdout`); a closed stream is not a failure, a full disk is.
        let key = format_key(point, kid, format)?;
        suit_host::stdio::Status.write_all(&key).map_err(printing)?;
    }
    Ok(())
}

/// `provision`: relays a TPA message and keeps the TA's receipt. The receipt file was opened
/// before the TA was asked ([`open_outputs`]): one that cannot be written refuses the command
/// before the message is applied.
fn provision(
    tee: &mut dyn Transport,
    message: &Path,
    receipt_out: Option<suit_host::files::OpenedOutput>,
    json: bool,
) -> Result<(), AgentError> {
    let message = read_as(message, suit_host::detect::Format::ProvisioningMessage)?;
    let r =
        client::provision(tee, &message).map_err(|e| client::provision_hints(tee, &message, e))?;
    COMMITTED.store(true, Ordering::Relaxed);
    // The TA has applied the message and keeps no receipt to fetch again: it is shown (text:
    // hex, before the file is written; JSON: `receipt`) whether or not the file can be
    // written, so it is never lost silently: without the file, a failure to print it is the
    // command's (exit 5).
    let to_file = receipt_out.is_some();
    let printed = |r: std::io::Result<()>| match r {
        Err(e) if !to_file => Err(AgentError::AfterCommit(format!(
            "the TA applied the message, but printing its receipt failed: {}",
            printing(e)
        ))),
        _ => Ok(()),
    };
    let keep = |receipt_out: Option<suit_host::files::OpenedOutput>| match receipt_out {
        Some(o) => {
            let shown = o.path().display().to_string();
            suit_host::files::write_opened(vec![(o, r.receipt.as_slice())]).map_err(|e| {
                AgentError::AfterCommit(format!(
                    "the TA applied the message, but writing its receipt to {shown} failed: {}; \
                     the receipt is in this output ({})",
                    e.source,
                    if json { "`receipt`, hex" } else { "hex, above" }
                ))
            })
        }
        None => Ok(()),
    };
    if json {
        // The one document says whether the file was written: a small write to a file or
        // device opened already.
        let kept = keep(receipt_out);
        let mut j = succeeded(json_value(&r));
        if let Err(e) = &kept {
            failed_after_commit(&mut j, e);
        }
        let shown = suit_host::stdio::try_out(format_args!(
            "{}\n",
            serde_json::to_string_pretty(&j).unwrap_or_default()
        ));
        return kept.and(printed(shown));
    }
    let signer = if r.signer == 0 {
        "the TPA root".to_string()
    } else {
        format!("TPA anchor {}", r.signer)
    };
    let counter = if r.signer == 0 {
        "the root's counter"
    } else {
        "the delegates' counter"
    };
    outln!(
        "provisioning message {} ({counter}) accepted (signed by {signer}):",
        r.counter
    );
    for line in &r.applied {
        outln!("  {line}");
    }
    let shown = suit_host::stdio::try_out(format_args!(
        "receipt (signed by the device identity key): {}\n",
        show(&r.receipt)
    ));
    keep(receipt_out).and(printed(shown))
}

/// `anchors`: trust anchors, rules and identity.
fn anchors(tee: &mut dyn Transport, json: bool) -> Result<(), AgentError> {
    let a = client::anchors(tee)?;
    if json {
        outln!("{}", to_json(&a));
        return Ok(());
    }
    // The next message of each signer kind must carry its counter + 1.
    match a.delegate_counter {
        Some(d) => outln!(
            "provisioning counter: {} (TPA root); delegated TPA anchors: {d}",
            a.provisioning_counter
        ),
        None => outln!(
            "provisioning counter: {} (one counter for the TPA root and its delegates)",
            a.provisioning_counter
        ),
    }
    let id =
        |v: &Option<suit_common::protocol::ByteBuf>| v.as_ref().map_or("unset".into(), |b| show(b));
    outln!(
        "identity: vendor {} class {} device {}",
        id(&a.identity.vendor_id),
        id(&a.identity.class_id),
        id(&a.identity.device_id)
    );
    for x in &a.anchors {
        let hexes = |ids: &[suit_common::protocol::ByteBuf]| {
            ids.iter().map(|b| show(b)).collect::<Vec<_>>().join(", ")
        };
        let mut limits = String::new();
        if !x.vendor_ids.is_empty() {
            limits.push_str(&format!("; vendor ids {}", hexes(&x.vendor_ids)));
        }
        if !x.class_ids.is_empty() {
            limits.push_str(&format!("; class ids {}", hexes(&x.class_ids)));
        }
        limits.push_str(match x.ree_plaintext {
            Some(true) => "; ree-plaintext",
            Some(false) => "",
            None => "; ree-plaintext unknown (the TA does not say)",
        });
        if x.tracker_key.is_some() {
            limits.push_str("; reports encrypted to its status tracker key");
        }
        outln!(
            "anchor {} ({}, {}, {}): components {}{}",
            x.id,
            x.role.name(),
            x.key_type,
            // An anchor provisioned without a kid matches by its key alone.
            if x.kid.is_empty() {
                "no kid".to_string()
            } else {
                format!("kid {}", kid_str(&x.kid))
            },
            scope_text(&x.component_prefixes),
            limits
        );
    }
    for r in &a.rules {
        outln!(
            "rule {}: requires {}",
            r.prefix,
            joined(&r.required, " AND ")
        );
    }
    Ok(())
}

/// `report`: the TA's signed report, to a file or shown (unverified).
fn report(
    tee: &mut dyn Transport,
    nonce: Option<&str>,
    out: Option<suit_host::files::OpenedOutput>,
    pre_auth: bool,
    json: bool,
) -> Result<(), AgentError> {
    // As `suit-author verify-report --nonce` reads it: an empty nonce proves no freshness
    // (and that command refuses to check one), so it is refused here too.
    let nonce = nonce
        .map(|n| match hex::decode(n.trim()) {
            Ok(b) if b.is_empty() => Err(AgentError::File(
                "--nonce: empty: give the status tracker's nonce as hex digits (1 to 64 bytes)"
                    .into(),
            )),
            Ok(b) => Ok(b),
            Err(e) => Err(AgentError::File(format!("--nonce: not hex: {e}"))),
        })
        .transpose()?;
    let signed = client::report_of(tee, nonce.as_deref(), pre_auth)?;
    match out {
        Some(o) => {
            let path = o.path().to_path_buf();
            write_opened(vec![(o, signed.as_slice())])?;
            if json {
                let j = serde_json::json!({
                    "ok": true,
                    "out": path.display().to_string(),
                    "size": signed.len(),
                });
                outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
                return Ok(());
            }
            outln!(
                "wrote the signed report ({} bytes) to {}",
                signed.len(),
                path.display()
            );
        }
        None => {
            // The agent cannot vouch for it; it only shows what the TA signed.
            let payload = client::signed_report_payload(&signed)?;
            let r = match suit_common::report::Report::decode(&payload) {
                Err(suit_common::report::ReportError::Encrypted) => {
                    // Sealed to the status tracker's key: nothing of it to show here.
                    let shown = if json {
                        let j = succeeded(serde_json::json!({
                            "encrypted": true,
                            "size": signed.len(),
                            "signature": "not verified (use suit-author verify-report)",
                        }));
                        suit_host::stdio::try_out(format_args!(
                            "{}\n",
                            serde_json::to_string_pretty(&j).unwrap_or_default()
                        ))
                    } else {
                        suit_host::stdio::try_out(format_args!(
                            "SUIT report ({} bytes), encrypted to the status tracker's key \
                             (SUIT_Report_COSE_Encrypt0): only that tracker reads it \
                             (suit-author verify-report --tracker-key)\n",
                            signed.len()
                        ))
                    };
                    return shown.map_err(printing);
                }
                r => r.map_err(|_| AgentError::BadResponse("report does not decode"))?,
            };
            // The report is this output.
            let shown = if json {
                let mut j = succeeded(suit_host::human::to_json(&r));
                if let Some(o) = j.as_object_mut() {
                    o.insert(
                        "signature".into(),
                        "not verified (use suit-author verify-report)".into(),
                    );
                }
                suit_host::stdio::try_out(format_args!(
                    "{}\n",
                    serde_json::to_string_pretty(&j).unwrap_or_default()
                ))
            } else {
                suit_host::stdio::try_out(format_args!(
                    "SUIT report (signed by the device report key; NOT VERIFIED here: use \
                     suit-author verify-report)\n{}",
                    suit_host::human::render_text(&r)
                ))
            };
            shown.map_err(printing)?;
        }
    }
    Ok(())
}

/// `perso-get`: asks for personalization data as the normal world (always refused).
fn perso_get(tee: &mut dyn Transport, json: bool) -> Result<(), AgentError> {
    let data = client::personalization(tee)?;
    if json {
        outln!(
            "{}",
            serde_json::json!({"ok": true, "released-bytes": data.len()})
        );
        return Ok(());
    }
    outln!("the TA released {} bytes to the normal world", data.len());
    Ok(())
}

/// `export`: writes an approved normal-world file under `ree_root`.
fn export(
    tee: &mut dyn Transport,
    path: &str,
    ree_root: &Path,
    json: bool,
) -> Result<(), AgentError> {
    let (data, digest) =
        client::ree_export(tee, path).map_err(|e| client::export_hints(tee, path, ree_root, e))?;
    let dest = ree::write_approved(ree_root, path, &data, &digest)?;
    if json {
        let j = serde_json::json!({
            "ok": true,
            "path": dest.display().to_string(),
            "size": data.len(),
            "sha-256": show(&digest),
        });
        outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        return Ok(());
    }
    outln!(
        "wrote {} ({} bytes, sha-256 {})",
        suit_host::human::printable(&dest.display().to_string()),
        data.len(),
        show(&digest)
    );
    Ok(())
}

/// What one install runs with: `install`'s arguments, or the record `resume` re-runs.
struct InstallPlan {
    /// The envelope's bytes, as handed to the TA.
    bytes: Vec<u8>,
    /// How the envelope is named in what is printed (a URL's user information redacted).
    shown: String,
    payloads: Vec<std::ffi::OsString>,
    payload_dir: Option<PathBuf>,
    ree_root: Option<PathBuf>,
    json: bool,
    /// `resume` re-runs a recorded install: its JSON document says so.
    resumed: bool,
    /// The network and where payload URIs may be fetched from, if they are fetched.
    network: Option<(transport::Net, transport::allow::UrlPolicy)>,
    /// `--max-payload-bytes`.
    max: u64,
    /// Where the install is recorded before InstallFinish, and the record (`None`: it could
    /// not be made, the reason given, which is warned about before the commit).
    record: (PathBuf, Result<suit_host::inflight::InstallRecord, String>),
}

/// `install`: fetches or reads the envelope, then installs it ([`run_install`]).
fn install(
    tee: &mut dyn Transport,
    args: &InstallArgs,
    record_path: PathBuf,
    with_progress: bool,
) -> Result<(), AgentError> {
    let InstallArgs {
        envelope,
        payloads,
        payload_dir,
        ree_root,
        json,
        net,
        net_args,
    } = args;
    let location = transport::Location::parse_os(envelope);
    let url = match &location {
        transport::Location::Http(url) => Some(url.as_str()),
        transport::Location::File(_) => None,
    };
    if let Some(w) = url.and_then(|u| transport::allow::credentials_warning("envelope URL", u)) {
        errln!("suit-agent: warning: {w}");
    }
    let network = if *net || url.is_some() {
        // Payload URIs under the envelope URL's origin (none for a file) or a prefix given.
        let origins: Vec<&str> = url.into_iter().collect();
        Some((net_args.net()?, net_args.allowed(&origins)?))
    } else {
        // Named, as host/README promises for flags that would be ignored.
        for flag in net_args.network_only() {
            errln!(
                "suit-agent: warning: {flag} is ignored: nothing is fetched over the network \
                 without --net or an http(s) envelope URL"
            );
        }
        None
    };
    let bytes = match (&location, &network) {
        (transport::Location::Http(url), Some((n, _))) => match n.get(
            url,
            transport::poll::MAX_ENVELOPE_DOWNLOAD,
            transport::ENVELOPE_MEDIA_TYPE,
            transport::Carries::Envelope,
            None,
        )? {
            transport::Conditional::Body { data, .. } => data,
            transport::Conditional::NotModified => {
                return Err(AgentError::Network(format!(
                    "{}: no envelope",
                    transport::allow::redacted(url)
                )))
            }
            transport::Conditional::TooLarge { announced, .. } => {
                return Err(AgentError::EnvelopeTooLarge {
                    url: url.clone(),
                    announced,
                    limit: transport::poll::MAX_ENVELOPE_DOWNLOAD,
                })
            }
        },
        (transport::Location::File(p), _) => read_as(p, suit_host::detect::Format::Envelope)?,
        (transport::Location::Http(url), None) => {
            return Err(AgentError::File(format!(
                "{}: an envelope URL is fetched over the network",
                transport::allow::redacted(url)
            )))
        }
    };
    // A URL's user information never shown.
    let shown = url.map_or_else(
        || suit_host::human::printable(&envelope.to_string_lossy()).into_owned(),
        transport::allow::redacted,
    );
    let record = install_record(args, &bytes, url, &shown, network.is_some());
    run_install(
        tee,
        InstallPlan {
            bytes,
            shown,
            payloads: payloads.clone(),
            payload_dir: payload_dir.clone(),
            ree_root: ree_root.clone(),
            json: *json,
            resumed: false,
            network,
            max: net_args.max_payload_bytes,
            record: (record_path, record),
        },
        with_progress,
    )
}

/// The record `resume` re-runs this install from: the options made absolute (a boot script
/// runs from another directory). `Err`: why it cannot be made (a path that is not UTF-8).
fn install_record(
    args: &InstallArgs,
    bytes: &[u8],
    url: Option<&str>,
    shown: &str,
    net: bool,
) -> Result<suit_host::inflight::InstallRecord, String> {
    use sha2::Digest as _;
    let absolute = |p: &Path, what: &str| -> Result<PathBuf, String> {
        let abs = suit_host::inflight::absolute(p).map_err(|e| format!("{what}: {e}"))?;
        match abs.to_str() {
            Some(_) => Ok(abs),
            None => Err(format!("{what} {}: not UTF-8", abs.display())),
        }
    };
    let payloads = args
        .payloads
        .iter()
        .map(|p| {
            let text = p
                .to_str()
                .ok_or_else(|| format!("--payload {}: not UTF-8", p.to_string_lossy()))?;
            // Checked by `PayloadSources::new` before the TA was asked anything.
            let (uri, file) = text
                .rsplit_once('=')
                .ok_or_else(|| format!("--payload {text}: expected URI=FILE"))?;
            let file = absolute(Path::new(file), "--payload")?;
            Ok(format!("{uri}={}", file.display()))
        })
        .collect::<Result<Vec<String>, String>>()?;
    let optional =
        |p: &Option<PathBuf>, what: &str| p.as_deref().map(|p| absolute(p, what)).transpose();
    Ok(suit_host::inflight::InstallRecord {
        envelope_sha256: hex::encode(sha2::Sha256::digest(bytes)),
        shown: shown.to_string(),
        payloads,
        payload_dir: optional(&args.payload_dir, "--payload-dir")?,
        ree_root: optional(&args.ree_root, "--ree-root")?,
        net,
        origins: url
            .map(|u| transport::allow::without_user_info(u).into_owned())
            .into_iter()
            .collect(),
        allow_url_prefix: args.net_args.allow_url_prefix.clone(),
        ca_file: optional(&args.net_args.ca_file, "--ca-file")?,
        max_payload_bytes: args.net_args.max_payload_bytes,
    })
}

/// What one attempt at an install saw besides the TA's answer.
#[derive(Default)]
struct Attempt {
    /// The payload URIs sent.
    sent: Vec<String>,
    /// URIs the TA listed that nobody offered (not sent).
    not_offered: Vec<String>,
    /// Every URI the TA listed (all of them, whatever became of fetching one): a `--payload`
    /// for another is named afterwards.
    listed: Vec<String>,
    left_out: transport::poll::LeftOut,
    /// The local files given, by URI: named if the TA finds a payload not the manifest's.
    given: Vec<(String, PathBuf)>,
    authenticated: bool,
}

/// Streams the envelope and its payloads into the TA (again, while the TA answers that the
/// commit awaits this very envelope: [`client::resending`]), recording the install just
/// before each InstallFinish until the TA answers it; then exports approved files.
fn run_install(
    tee: &mut dyn Transport,
    plan: InstallPlan,
    with_progress: bool,
) -> Result<(), AgentError> {
    let InstallPlan {
        bytes,
        shown,
        payloads,
        payload_dir,
        ree_root,
        json,
        resumed,
        network,
        max,
        record: (record_path, record),
    } = plan;
    // Only files the operator offered; a URI from the manifest never names a local path.
    let sources = transport::local::PayloadSources::new(&payloads, payload_dir.as_deref())?;
    if let Some(dir) = sources.missing_dir() {
        errln!(
            "suit-agent: warning: --payload-dir {}: no such directory; it provides no payload \
             (the install needs none from it if every payload is integrated, given by \
             --payload or fetched)",
            suit_host::human::printable(&dir.display().to_string())
        );
    }
    let mut progress = |p: Progress<'_>| {
        if with_progress {
            progress_bar(p)
        }
    };
    // Written before each InstallFinish; `true` once written (or warned about, once).
    let mut recorded = false;
    let mut record_before_finish = || {
        if recorded {
            return;
        }
        recorded = true;
        let saved = record
            .as_ref()
            .map_err(String::clone)
            .and_then(|r| r.save(&record_path, &bytes));
        if let Err(why) = saved {
            errln!(
                "suit-agent: warning: the install is not recorded ({why}): should a power cut \
                 interrupt its commit, `suit-agent resume` cannot re-run it; install the same \
                 envelope again instead"
            );
        }
    };
    let mut attempt = Attempt::default();
    let installed = client::resending(
        || {
            attempt = Attempt::default();
            let Attempt {
                sent,
                not_offered,
                listed,
                left_out,
                given,
                authenticated,
            } = &mut attempt;
            // The TA lists every URI the manifest may fetch; a try-each may never reach one
            // (manifest-37: an option whose condition fails is skipped). One nobody offered,
            // one the agent does not fetch (not allowed, unparseable), or one the server says
            // it does not have (404, 410), is not sent, and the TA decides: it refuses the
            // update only if the manifest really fetches it, naming it, and the agent then
            // reports that payload with why it was left out (`missing_payload`).
            let mut fetch = |uri: &str, bound: Option<u64>, sink: &mut dyn transport::Sink| {
                if let Some(file) = sources.open(uri)? {
                    given.push((uri.to_string(), file.path.clone()));
                    // A local file is not a download: the cap only (a wrong size is the
                    // TA's to refuse, with its report).
                    transport::feed_open(file, transport::Limit::new(max, None), sink)?;
                    sent.push(uri.to_string());
                    return Ok(true);
                }
                match (&network, transport::Location::parse(uri)) {
                    (Some((n, allowed)), transport::Location::Http(_)) => {
                        let fetched =
                            transport::poll::fetch_uri(n, allowed, uri, bound, sink, left_out)?;
                        if fetched {
                            sent.push(uri.to_string());
                        }
                        Ok(fetched)
                    }
                    _ => {
                        not_offered.push(uri.to_string());
                        Ok(false)
                    }
                }
            };
            client::install_core(
                tee,
                &bytes,
                &mut fetch,
                &mut progress,
                authenticated,
                listed,
                &mut |_| {
                    record_before_finish();
                    Ok(())
                },
            )
        },
        &mut |e, n| {
            errln!(
                "suit-agent: {}; sending the same envelope again ({n} of {})",
                suit_host::human::printable(&e.to_string()),
                client::MAX_RESENDS
            )
        },
    );
    // Success ends the record. After any other answer it is kept while the TA awaits this
    // envelope (a refused re-send, an uncertain state write, a lost answer all may leave it
    // so) or cannot say whether it does.
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes).to_vec();
    let still_awaited = match &installed {
        Ok(_) => Some(false),
        Err(_) => client::still_awaits(tee, &digest),
    };
    if recorded && still_awaited == Some(false) {
        if let Err(why) = suit_host::inflight::InstallRecord::remove(&record_path) {
            errln!("suit-agent: warning: the install record is not removed: {why}");
        }
    }
    let Attempt {
        sent,
        not_offered,
        listed,
        left_out,
        given,
        authenticated,
    } = attempt;
    // Once the TA listed the manifest's URIs (it authenticated it), a `--payload` for none of
    // them did nothing: named, whatever the outcome.
    if authenticated {
        for uri in sources.unlisted(&listed) {
            errln!(
                "suit-agent: warning: --payload {}=...: the manifest lists no such URI, so the \
                 file was not used",
                suit_host::human::printable(uri)
            );
        }
    }
    let (_, done) = installed.map_err(|e| {
        let resent = e.awaiting_commit().is_some();
        let e = client::install_hints(tee, e.explained_with(&bytes));
        let e = stale_payload(e, &given, &sources);
        let e = missing_payload(e, &not_offered, &left_out, sources.missing_dir());
        let digest = hex::encode(&digest);
        let how = if resent {
            format!("sent {} times", client::MAX_RESENDS + 1)
        } else if still_awaited == Some(true) {
            "the TA still awaits this envelope to finish its commit".to_string()
        } else {
            return e;
        };
        let hint = if recorded {
            format!(
                "{how}; once the cause is fixed, `suit-agent resume` sends it again from the \
                 install record {}, or `suit-agent abandon {digest}` gives the update up",
                suit_host::human::printable(&record_path.display().to_string())
            )
        } else {
            format!(
                "{how}; `suit-agent install` it again, or `suit-agent abandon {digest}` gives \
                 the update up"
            )
        };
        // A refusal carries it; the agent's own errors (a payload it could not give) have no
        // room for one, so it is said before them.
        if matches!(e, AgentError::Refused { .. }) {
            e.with_hint(&hint)
        } else {
            errln!("suit-agent: {hint}");
            e
        }
    })?;
    COMMITTED.store(true, Ordering::Relaxed);
    // Committed: from here on a failure is the agent's own and the install stands.
    if json {
        let failed = match &ree_root {
            Some(root) => client::write_approved_files(tee, root, &done.ree_paths).1,
            None => None,
        };
        let mut j = succeeded(json_value(&done));
        if let (true, Some(o)) = (resumed, j.as_object_mut()) {
            o.insert("resumed".into(), true.into());
        }
        if let Some(e) = &failed {
            failed_after_commit(&mut j, e);
        }
        outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        return failed.map_or(Ok(()), Err);
    }
    outln!(
        "installed {shown} (sequence number {}, signed by anchor(s) {})",
        done.sequence_number,
        done.signers
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for uri in &sent {
        outln!("  fetched {}", suit_host::human::printable(uri));
    }
    for uri in &not_offered {
        outln!(
            "  not offered, not needed: {} (the manifest did not fetch it)",
            suit_host::human::printable(uri)
        );
    }
    for a in &left_out.absent {
        outln!(
            "  not on the server, not needed: {} (HTTP {}; the manifest did not fetch it)",
            suit_host::human::printable(&a.uri),
            a.status
        );
    }
    for r in &left_out.refused {
        outln!(
            "  not fetched, not needed: {} ({}; the manifest did not fetch it)",
            suit_host::human::printable(&r.uri),
            r.why
        );
    }
    for c in &done.components {
        outln!("  component {c}");
    }
    outln!("  manifest digest {}", show(&done.manifest_digest));
    if client::updated_the_update_ta(&done) {
        outln!(
            "  the update TA itself was updated: OP-TEE keeps the running version until the next reboot; reboot to run the new one"
        );
    }
    let Some(root) = ree_root else {
        if !done.ree_paths.is_empty() {
            outln!("  approved REE files (write each with the command shown, DIR your choice):");
            // The manifest's signer chose them: quoted for a shell (`$(...)` is a valid
            // segment), and ESC, BEL and newline shown escaped.
            for p in &done.ree_paths {
                outln!(
                    "    {}",
                    suit_host::human::printable(&client::export_command(p, "DIR"))
                );
            }
        }
        return Ok(());
    };
    let (written, failed) = client::write_approved_files(tee, &root, &done.ree_paths);
    for w in &written {
        outln!(
            "  wrote approved REE file {}",
            suit_host::human::printable(&w.display().to_string())
        );
    }
    failed.map_or(Ok(()), Err)
}

/// `resume`: re-runs the recorded install of the envelope the TA awaits
/// ([`suit_host::inflight`]); nothing awaited, says so and removes a stale record.
fn resume(
    tee: &mut dyn Transport,
    record_path: PathBuf,
    with_progress: bool,
    json: bool,
) -> Result<(), AgentError> {
    use suit_host::inflight::InstallRecord;
    // Not used, nor removed, when others could have planted or changed it.
    if let Err(why) = suit_host::inflight::check_kept_safely(&record_path) {
        return Err(AgentError::InstallRecordKept(format!(
            "the install record is not kept safely ({}): it is neither used nor removed; \
             remove it, or make it and its directory this user's and writable by no one else",
            suit_host::human::printable(&why)
        )));
    }
    let status = client::status(tee)?;
    let loaded = InstallRecord::load(&record_path);
    // A TA that cannot read its state cannot say whether its journal awaits an envelope.
    if let (None, Some(e), false) = (
        &status.service.awaiting_envelope,
        &status.service.state_error,
        matches!(loaded, Ok(None)),
    ) {
        return Err(AgentError::InstallRecordKept(format!(
            "the TA cannot read its state ({}), so it cannot say whether an interrupted update \
             awaits its envelope: the install record {} is kept; run `suit-agent resume` again \
             once `suit-agent status` shows no state error",
            suit_common::fault::render(e),
            suit_host::human::printable(&record_path.display().to_string())
        )));
    }
    let Some(awaited) = status.service.awaiting_envelope else {
        if !json {
            outln!("no interrupted update awaits its envelope: nothing to resume");
        }
        let stale = match &loaded {
            Ok(None) => None,
            Ok(Some((r, _))) => Some(format!(
                "the install of {} (SHA-256 {})",
                suit_host::human::printable(&r.shown),
                suit_host::human::printable(&r.envelope_sha256)
            )),
            Err(why) => Some(format!(
                "an unusable one ({})",
                suit_host::human::printable(why)
            )),
        };
        if let Some(stale) = &stale {
            InstallRecord::remove(&record_path).map_err(AgentError::File)?;
            if !json {
                outln!(
                    "removed the stale install record {}: {stale}",
                    record_path.display()
                );
            }
        }
        if json {
            let j = serde_json::json!({
                "ok": true,
                "resumed": false,
                "awaiting-envelope": null,
                "removed-stale-record": stale.map(|what| serde_json::json!({
                    "path": record_path.display().to_string(),
                    "held": what,
                })),
            });
            outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        }
        return Ok(());
    };
    let awaited = hex::encode(awaited);
    let held = match loaded {
        Ok(Some((r, envelope))) if r.envelope_sha256 == awaited => (r, envelope),
        other => {
            let record = match other {
                Ok(None) => format!("the install record {} holds none", record_path.display()),
                Ok(Some((r, _))) => format!(
                    "the install record {} holds another ({}, SHA-256 {})",
                    record_path.display(),
                    suit_host::human::printable(&r.shown),
                    suit_host::human::printable(&r.envelope_sha256)
                ),
                Err(why) => format!(
                    "the install record cannot be used: {}",
                    suit_host::human::printable(&why)
                ),
            };
            return Err(AgentError::AwaitedEnvelopeUnknown(format!(
                "the TA awaits envelope SHA-256 {awaited} (an update interrupted while OP-TEE \
                 installed its TA), and {record}: install that envelope again (`suit-agent \
                 install FILE` with its payloads), or give the update up (`suit-agent abandon \
                 {awaited}`)"
            )));
        }
    };
    let (r, bytes) = held;
    // Shown as `install` shows what it was given: the record is text from a file.
    let shown = suit_host::human::printable(&r.shown).into_owned();
    errln!("suit-agent: the TA awaits envelope SHA-256 {awaited}: installing {shown} again as recorded");
    let net_args = NetArgs {
        ca_file: r.ca_file.clone(),
        max_payload_bytes: r.max_payload_bytes,
        stall_timeout: None,
        transfer_timeout: None,
        retries: None,
        backoff_ms: None,
        allow_url_prefix: r.allow_url_prefix.clone(),
    };
    let network = if r.net {
        let origins: Vec<&str> = r.origins.iter().map(String::as_str).collect();
        Some((net_args.net()?, net_args.allowed(&origins)?))
    } else {
        None
    };
    if let Some(root) = &r.ree_root {
        ree::check_root(root)?;
    }
    run_install(
        tee,
        InstallPlan {
            bytes,
            shown,
            payloads: r.payloads.iter().map(std::ffi::OsString::from).collect(),
            payload_dir: r.payload_dir.clone(),
            ree_root: r.ree_root.clone(),
            json,
            resumed: true,
            network,
            max: r.max_payload_bytes,
            record: (record_path, Ok(r)),
        },
        with_progress,
    )
}

/// `abandon`: ends the commit awaiting the envelope of SHA-256 `digest` (hex) unapplied.
fn abandon(
    tee: &mut dyn Transport,
    digest: &str,
    record_path: &Path,
    json: bool,
) -> Result<(), AgentError> {
    let bytes = hex::decode(digest.trim())
        .ok()
        .filter(|d| d.len() == 32)
        .ok_or_else(|| {
            AgentError::File(format!(
                "{digest}: not a SHA-256 in hex (64 hex digits, as `suit-agent status` shows \
                 the awaited envelope's)"
            ))
        })?;
    let digest = hex::encode(&bytes);
    if let Err(e) = client::abandon(tee, &bytes) {
        let not_awaited = matches!(
            e.service_fault(),
            Some(suit_common::fault::ServiceFault::NotAwaited)
        );
        if !not_awaited {
            return Err(e);
        }
        let awaited = client::status(tee)
            .ok()
            .and_then(|s| s.service.awaiting_envelope);
        return Err(e.with_hint(&match awaited {
            Some(d) => format!(
                "the TA awaits envelope SHA-256 {}, not {digest}; nothing was changed",
                hex::encode(d)
            ),
            None => "no interrupted update awaits an envelope; nothing was changed".to_string(),
        }));
    }
    // The TA changed its state: what fails from here on does not undo that.
    COMMITTED.store(true, Ordering::Relaxed);
    // Ended: its record goes first, whatever status says next. One left behind is stale
    // (`resume` removes it, nothing being awaited).
    let mut record_removed = false;
    if let Ok(Some((r, _))) = suit_host::inflight::InstallRecord::load(record_path) {
        if r.envelope_sha256 == digest {
            match suit_host::inflight::InstallRecord::remove(record_path) {
                Ok(()) => record_removed = true,
                Err(why) => errln!(
                    "suit-agent: warning: the install record of the abandoned update is not \
                     removed ({}); `suit-agent resume` removes it as stale",
                    suit_host::human::printable(&why)
                ),
            }
        }
    }
    let unconfirmed = client::status(tee)
        .map(|s| s.service.unconfirmed_tas)
        .map_err(|e| {
            errln!(
                "suit-agent: warning: the update was abandoned, but the TA's status could not be \
                 read afterwards: {}",
                suit_host::human::printable(&e.to_string())
            )
        })
        .ok();
    if json {
        let j = serde_json::json!({
            "ok": true,
            "abandoned": digest,
            "install-record-removed": record_removed,
            "unconfirmed-tas": unconfirmed.as_ref().map(json_value),
        });
        outln!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        return Ok(());
    }
    outln!(
        "abandoned the interrupted update of envelope SHA-256 {digest}: the update was not \
         applied, and the device's state is the one before it; OP-TEE's TA store may hold \
         either image of the update's TA (the earlier one or the update's), which is marked \
         unconfirmed"
    );
    for u in unconfirmed.iter().flatten() {
        outln!(
            "  TA {u} is marked unconfirmed until an update installs it (its personalization \
             data is withheld until then)"
        );
    }
    Ok(())
}

/// How many local payload files a refusal names.
const GIVEN_LISTED: usize = 3;

/// `e` with the local files given for the manifest's URIs (`given`), when the TA found a
/// payload's bytes not the ones the manifest names: the fault does not say which payload's
/// bytes, so the files are named as given, not as the wrong ones.
fn stale_payload(
    e: AgentError,
    given: &[(String, PathBuf)],
    sources: &transport::local::PayloadSources,
) -> AgentError {
    if given.is_empty() || !e.is_payload_mismatch() {
        return e;
    }
    let files: Vec<String> = given
        .iter()
        .map(|(uri, path)| format!("{} for {uri}", path.display()))
        .collect();
    let option = if given.iter().all(|(uri, _)| sources.is_offered(uri)) {
        "--payload file"
    } else {
        "--payload-dir"
    };
    e.with_hint(&format!(
        "the agent gave local file(s) {}: not the payload this envelope was created with? a \
         stale {option}",
        suit_host::human::first_few(&files, GIVEN_LISTED)
    ))
}

/// An install the TA refused after payload URIs were left out (nobody offered them, the agent
/// does not fetch them, or the server answered 404 or 410): if the refusal names one of them
/// as the payload not delivered ([`AgentError::payload_not_given`]), that URI is named with
/// why it was left out: nobody offered it as [`AgentError::Payload`] (exit 2, as when the
/// agent refused it itself: the operator's files are missing), a network one as
/// `LeftOut::named` does (exit 4 for a 404/410, else exit 1). Any other refusal is the TA's
/// own.
fn missing_payload(
    e: AgentError,
    not_offered: &[String],
    left_out: &transport::poll::LeftOut,
    missing_dir: Option<&Path>,
) -> AgentError {
    if let Some(named) = left_out.named(&e) {
        return named;
    }
    match e.payload_not_given() {
        Some(uri) if not_offered.contains(&uri) => AgentError::Payload {
            error: transport::local::PayloadSourceError::NotOffered {
                file_uri: transport::local::is_file_uri(&uri),
                missing_dir: missing_dir.map(Path::to_path_buf),
            },
            uri,
        },
        _ => e,
    }
}

/// Exit status 6: this agent cannot work with this TA or platform at all (a protocol
/// version mismatch; a build without OP-TEE support): no retry changes it, so `poll` stops
/// with it and the systemd unit does not restart on it (`RestartPreventExitStatus=`).
/// Documented in host/README.md.
const EXIT_INCOMPATIBLE: u8 = 6;

/// The process's exit status for `e`: [`EXIT_INCOMPATIBLE`], else [`exit_code`].
fn exit_status(e: &AgentError) -> u8 {
    match e {
        AgentError::VersionMismatch { .. } | AgentError::NoOpteeSupport => EXIT_INCOMPATIBLE,
        e => exit_code(e),
    }
}

fn main() -> ExitCode {
    // Hidden: completions and man pages from this very definition (suit_host::assets).
    if let Some(code) = suit_host::assets::serve::<Cli>("suit-agent") {
        return code;
    }
    let begun = std::time::Instant::now();
    let cli = match suit_host::stdio::parse_args::<Cli>(|what| {
        error_json(&AgentError::File(what.to_string()), EXIT_USAGE)
    }) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let parsed = begun.elapsed();
    let json = wants_json(&cli.command);
    let result = run(cli, parsed);
    // What could not be printed (a full disk; not a closed pipe) fails the command, after
    // its post-commit work: exit 5 if the TA committed, else 2 as an unwritable output file.
    let lost = suit_host::stdio::finish();
    match result {
        Ok(()) => match lost {
            None => ExitCode::SUCCESS,
            Some(why) => {
                let committed = COMMITTED.load(Ordering::Relaxed);
                errln!(
                    "suit-agent: error: {why}{}",
                    if committed {
                        " (the TA committed: the output is incomplete)"
                    } else {
                        ""
                    }
                );
                ExitCode::from(if committed {
                    EXIT_AFTER_COMMIT
                } else {
                    EXIT_USAGE
                })
            }
        },
        Err(e) => {
            let code = exit_status(&e);
            // After a commit the command has printed its own document, the failure in it.
            if json && !matches!(e, AgentError::AfterCommit(_)) {
                outln!("{}", error_json(&e, code));
            }
            errln!(
                "suit-agent: error: {}",
                // Bounded as printed: the escapes come first (review s43-rev).
                suit_host::human::bounded_message(&suit_host::human::printable(&e.to_string()))
            );
            ExitCode::from(code)
        }
    }
}

/// Adds what only the normal world can check: whether OP-TEE accepted an update TA signed with
/// its public development key (see `suit_host::ta_signature`).
fn with_agent_checks(
    mut s: suit_common::protocol::StatusResponse,
) -> suit_common::protocol::StatusResponse {
    use suit_common::protocol::{prerequisite, Prerequisite, TA_UUID};
    use suit_host::ta_signature::{check, DevKeyCheck};
    if s.backend != "optee" {
        return s;
    }
    let file = ["/usr/lib/optee_armtz", "/lib/optee_armtz"]
        .iter()
        .map(|d| std::path::Path::new(d).join(format!("{TA_UUID}.ta")))
        .find(|p| p.exists());
    let (met, evidence) = match file.as_deref().map(|p| (p, suit_host::files::read_file(p))) {
        None => (None, "the update TA's file was not found".to_string()),
        Some((_, Err(e))) => (None, e.to_string()),
        Some((p, Ok(image))) => match check(&image) {
            DevKeyCheck::SignedWithDevKey => (
                Some(false),
                format!(
                    "{} verifies with OP-TEE's public development key: anybody can sign TAs this OP-TEE runs",
                    p.display()
                ),
            ),
            DevKeyCheck::OtherKey => (
                None,
                format!(
                    "{} is not signed with OP-TEE's development key (whether its key is secret is not visible here)",
                    p.display()
                ),
            ),
            DevKeyCheck::Unreadable(why) => (None, format!("{}: {why}", p.display())),
        },
    };
    if met == Some(false) {
        s.platform
            .warnings
            .push("OP-TEE trusts its public development TA signing key".into());
    }
    s.platform.set_prerequisite(Prerequisite::new(
        prerequisite::TA_SIGNING_KEY,
        met,
        evidence,
    ));
    s
}

/// A failure to print what a command exists to print (a key, a report), as an unwritable
/// output file is (exit 2).
fn printing(e: std::io::Error) -> AgentError {
    AgentError::File(format!("{}: {e}", suit_host::stdio::out_name()))
}

/// Set once the TA committed (installed, applied a provisioning message): an output lost
/// after it exits [`EXIT_AFTER_COMMIT`].
static COMMITTED: AtomicBool = AtomicBool::new(false);

/// Exit status 1: the TA's verdict on what it was given ([`AgentError::is_verdict`]: not
/// authentic, policy, rollback, ...). Documented in host/README.md.
const EXIT_REFUSED: u8 = 1;
/// Exit status 2: unusable input or arguments (missing/empty/malformed file, bad option), or
/// an output that cannot be written (also standard output: [`suit_host::stdio::finish`]).
const EXIT_USAGE: u8 = 2;
/// Exit status 3: the TEE could not be reached, answered out of protocol, or refused for
/// its own trouble (storage, key store, internal: the same request may succeed later).
const EXIT_TEE: u8 = 3;
/// Exit status 4: a network transfer failed (after its retries), or the TA refused an update
/// for a payload the server said it does not have (404, 410: perhaps not published yet).
const EXIT_NETWORK: u8 = 4;
/// Exit status 5: the TA committed, but the agent's work after it failed (an approved REE
/// file, a receipt file, printing): [`AgentError::AfterCommit`]; or the TA's own after OP-TEE took
/// the update's TA (recording the new state), which it completes before its next command:
/// [`AgentError::is_commit_pending`] (`poll`: once the TA says it completed it, else
/// [`AgentError::CommitNotCompleted`], exit 3).
const EXIT_AFTER_COMMIT: u8 = 5;

/// Every exit status the agent gives, with what it means (`--help`, suit-agent(1);
/// host/README.md has the details).
const EXIT_STATUSES: [(u8, &str); 7] = [
    (0, "success"),
    (
        EXIT_REFUSED,
        "refused by the TA as its verdict on what it was given (not authentic, policy, \
         rollback, a check of the update, too large)",
    ),
    (
        EXIT_USAGE,
        "unusable input or arguments, or an output (standard output too) that cannot be \
         written",
    ),
    (
        EXIT_TEE,
        "the TEE could not be reached (or another agent held the lock), answered out of \
         protocol, or refused for its own trouble: the same request may succeed later",
    ),
    (
        EXIT_NETWORK,
        "a network transfer failed after its retries, or the server does not have a payload \
         the update fetches (404, 410)",
    ),
    (
        EXIT_AFTER_COMMIT,
        "the TA committed, but the agent's work after it failed (an approved REE file, a \
         receipt file, printing)",
    ),
    (
        EXIT_INCOMPATIBLE,
        "this agent cannot work with this TA or platform at all (protocol version; a build \
         without OP-TEE support)",
    ),
];

fn exit_code(e: &AgentError) -> u8 {
    match e {
        e if e.is_commit_pending() => EXIT_AFTER_COMMIT,
        e if e.is_verdict() => EXIT_REFUSED,
        AgentError::File(_)
        | AgentError::PollState { lasting: true, .. }
        | AgentError::Payload { .. }
        | AgentError::NotOnDefaultTa { .. } => EXIT_USAGE,
        AgentError::Network(_) | AgentError::PayloadNotOnServer { .. } => EXIT_NETWORK,
        AgentError::AfterCommit(_) => EXIT_AFTER_COMMIT,
        _ => EXIT_TEE,
    }
}

/// Marks a command's JSON document as failed after the commit it reports.
fn failed_after_commit(j: &mut serde_json::Value, e: &AgentError) {
    j["ok"] = false.into();
    j["exit-code"] = exit_code(e).into();
    j["error"] = e.to_string().into();
}

fn wants_json(cmd: &Command) -> bool {
    let Command::Session(cmd) = cmd else {
        // poll runs unattended: its progress goes to the log on stderr.
        return false;
    };
    match cmd {
        Cmd::Status { json }
        | Cmd::Anchors { json }
        | Cmd::Install(InstallArgs { json, .. })
        | Cmd::Report { json, .. }
        | Cmd::Provision { json, .. }
        | Cmd::DeviceKey(DeviceKeyArgs { json, .. })
        | Cmd::PersoGet { json }
        | Cmd::Export { json, .. }
        | Cmd::Resume { json }
        | Cmd::Abandon { json, .. } => *json,
        Cmd::CryptoBench { .. } | Cmd::HeapScan { .. } => false,
        #[cfg(feature = "test-paths")]
        Cmd::RefusedBegin { .. } => false,
        #[cfg(feature = "test-paths")]
        Cmd::ShortSlot { .. } | Cmd::OversizedRequest { .. } => false,
    }
}

/// Test paths: `request` sent as a provisioning request into a response slot of `slot`
/// bytes, as another client may send it; prints the TA's status word, `b` and body length.
#[cfg(feature = "test-paths")]
fn raw_provision(tee: &mut dyn Transport, request: &[u8], slot: usize) -> Result<(), AgentError> {
    let reply = tee.invoke_with_slot(suit_common::protocol::Command::Provision, request, slot)?;
    let status = suit_common::protocol::Status::from_code(reply.status);
    outln!(
        "status {status:?} b {} body {} B",
        reply.detail,
        reply.body.len()
    );
    Ok(())
}

/// A failure as JSON (kebab-case), so `--json` callers always get one document on stdout.
fn error_json(e: &AgentError, code: u8) -> String {
    let mut j = serde_json::json!({
        "ok": false,
        "exit-code": code,
        "error": suit_host::human::bounded_json_message(&e.to_string()),
    });
    if let AgentError::Refused { kind, reason, .. } = e {
        if let Some(o) = j.as_object_mut() {
            o.insert(
                "refusal".into(),
                serde_json::json!({ "kind": kind, "reason": reason }),
            );
        }
    }
    serde_json::to_string_pretty(&j).unwrap_or_default()
}

/// Reads an envelope (or provisioning message) the way `suit-author` does: binary CBOR or
/// hex text, `-` for standard input; an empty input is named as such (not as a size limit).
/// Another of the tools' formats than `expected` (a provisioning message to `install`) is
/// refused (exit 2) naming it and the command that takes it
/// ([`suit_host::detect::other_format`]); anything else goes to the TA, which decides.
fn read_as(path: &Path, expected: suit_host::detect::Format) -> Result<Vec<u8>, AgentError> {
    suit_host::files::read_cbor_as(path, expected, suit_host::detect::Tool::Agent)
        .map_err(|e| AgentError::File(e.to_string()))
}

/// Protocol fields that hold a TA fault: shown in words (`fault::render`) in JSON.
const FAULT_FIELDS: &[&str] = &["state_error", "fault"];

/// A protocol response as JSON text in the tools' one convention ([`json_value`]), marked
/// as a success ([`succeeded`]).
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(&succeeded(json_value(value))).unwrap_or_default()
}

/// A command's own JSON document marked as a success (`"ok": true`), as every command's is,
/// so `.ok` tells success from failure in every document ([`error_json`],
/// [`failed_after_commit`] set it false).
fn succeeded(mut j: serde_json::Value) -> serde_json::Value {
    if let Some(o) = j.as_object_mut() {
        o.entry("ok").or_insert(true.into());
    }
    j
}

/// A protocol response as JSON in the tools' one convention: kebab-case keys, hex for bytes
/// (every `ByteBuf` serializes so, each element of a list of them too), faults in words.
fn json_value<T: serde::Serialize>(value: &T) -> serde_json::Value {
    fn words_of(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::String(hex) => match hex::decode(&hex) {
                Ok(fault) => suit_common::fault::render(&fault).into(),
                Err(_) => hex.into(),
            },
            other => other,
        }
    }
    fn convert(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| {
                    let v = if FAULT_FIELDS.contains(&k.as_str()) {
                        words_of(v)
                    } else {
                        convert(v)
                    };
                    (k.replace('_', "-"), v)
                })
                .collect(),
            serde_json::Value::Array(items) => items.into_iter().map(convert).collect(),
            other => other,
        }
    }
    convert(serde_json::to_value(value).unwrap_or_default())
}

/// What `status` says of an REE file tied to a release (confidential content an anchor's
/// `ree_plaintext` let out of the TEE): which anchors released it, and whether `export`
/// still may write it (one of them still has the flag). Nothing for public content.
fn release_text(released_by: &[suit_common::protocol::ReleaseInfo]) -> String {
    if released_by.is_empty() {
        return String::new();
    }
    let anchors: Vec<String> = released_by
        .iter()
        .map(|r| {
            let who = if r.anchor == suit_common::protocol::RELEASE_UNRECORDED {
                "an unrecorded anchor".to_string()
            } else {
                r.anchor.to_string()
            };
            if r.holds {
                who
            } else {
                format!("{who} (removed, or without ree-plaintext now)")
            }
        })
        .collect();
    let noun = if released_by.len() == 1 {
        "anchor"
    } else {
        "anchors"
    };
    let list = suit_host::human::first_few(&anchors, 8);
    if released_by.iter().any(|r| r.holds) {
        format!(", released by {noun} {list} (ree-plaintext)")
    } else {
        format!(
            ", released by {noun} {list}: RELEASE REVOKED (no releasing anchor has \
             ree-plaintext now; `export` and copies of it are refused)"
        )
    }
}

/// The items' display forms with `sep` between them.
/// An anchor's component prefixes as `anchors` prints them: the empty prefix `[]` (the
/// description's `[[]]`) grants every component, which `[]` alone reads as the opposite of;
/// no prefix at all grants none.
fn scope_text(prefixes: &[suit_common::protocol::ComponentPath]) -> String {
    if prefixes.is_empty() {
        return "none".to_string();
    }
    prefixes
        .iter()
        .map(|p| {
            if p.0.is_empty() {
                format!("{p} (every component)")
            } else {
                p.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn joined<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use suit_common::fault::Fault;
    use suit_common::protocol::RefusalKind;
    use suit_common::service::install::{CommitRefusal, InstallError};

    fn refused(c: CommitRefusal) -> AgentError {
        AgentError::Refused {
            kind: RefusalKind::Manifest,
            reason: String::new(),
            fault: Fault::Install(InstallError::Commit(c)).encode(),
        }
    }

    /// An update the TA applied and completes before its next command is a failure after a
    /// commit (5): neither a verdict (1) nor the device's trouble to retry (3).
    #[test]
    fn a_commit_the_ta_completes_exits_as_after_a_commit() {
        let uuid = vec![0x5e; 16].into();
        assert_eq!(
            exit_code(&refused(CommitRefusal::CommitPending { uuid })),
            5
        );
        assert_eq!(exit_code(&refused(CommitRefusal::StateWriteUncertain)), 3);
        // Applied only once the same envelope is sent again: the device's trouble, retried.
        let awaiting = refused(CommitRefusal::AwaitingEnvelope {
            uuid: vec![0x5e; 16].into(),
            code: 0,
        });
        assert!(!awaiting.is_commit_pending() && awaiting.leaves_commit_pending());
        assert_eq!(exit_code(&awaiting), 3);
        assert_eq!(
            exit_code(&AgentError::AwaitedEnvelopeUnknown(String::new())),
            3
        );
        assert_eq!(
            exit_code(&refused(CommitRefusal::TaNotNewer {
                offered: 2,
                installed: 2
            })),
            1
        );
    }

    /// `--help`, the man pages and completions say what every argument and subcommand is
    /// for: none is without help text.
    #[test]
    fn every_argument_and_subcommand_has_help() {
        use clap::CommandFactory as _;
        assert_eq!(
            suit_host::assets::undocumented(&Cli::command()),
            Vec::<String>::new()
        );
    }
}
