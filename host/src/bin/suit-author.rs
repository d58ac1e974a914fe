//! suit-author: create, sign, encrypt, verify and inspect SUIT envelopes.
//!
//! Exit status: `EXIT_STATUSES` (shown by `--help`).

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use suit_host::author::create::{create, CreateOptions, SignOptions};
use suit_host::author::encrypt::{
    encrypt_file, parse_content_alg, Mode, RecipientSpec, CONTENT_ALG_NAMES,
};
use suit_host::author::identity::DeviceIdentity;
use suit_host::author::keys::{keygen_checked, KeyType};
use suit_host::author::verify::{verify, DeviceKeyArg, TaFeature, VerifyOptions};
use suit_host::author::{inspect, read_cbor_file, AuthorError, Result};
use suit_host::{errln, outln};

const CREATE_HELP: &str = r#"DESCRIPTION FILE (JSON; relative paths are relative to the file):
  {
    "sequence-number": 1,
    "vendor-id": "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe" | {"name": "example.com"},
    "class-id":  "1492af14-2569-5e48-bf42-9b2d51f2ab45" | {"name": "model-x"},
    "device-id": optional, UUID or {"name": "..."},
    "reference-uri": optional text,
    "manifest-component-id": optional ["segment", ...],
    "components": [
      {
        "id": ["segment", "hex:00ff"]     (text segments are UTF-8; "hex:" = raw bytes)
          or "ta-uuid": "8aaaf200-2450-11e4-abe2-0002a5d5c51b"  (id = [h'<uuid bytes>']),
        "file": "firmware.bin",           (plaintext payload)
        "uri": "https://host/fw.bin",     (optional: detached; absent = integrated)
        "encryption": {                   (optional)
          "content-alg": "A128GCM" | "A256GCM" | "A128CTR" | "A256CTR" | "ChaCha20/Poly1305",
          "recipients": [
            {"key": "device.pub.pem", "mode": "ecdh-es" | "hpke", "kid": "optional"},
                  ("mode" optional, default "ecdh-es": a device anchor's anchor-N.ecdh.pub.pem;
                   "hpke": its anchor-N.hpke.pub.pem, another key)
            {"kek": "kek.bin", "kid": "optional"}
          ]
        },
        "plaintext-digest": false         (optional, AEAD encryption only: no digest of the
                                           plaintext in the envelope; the device withholds it)
      }
    ]
  }
Names: vendor {"name"} = UUIDv5(DNS namespace, name); class {"name"} = UUIDv5(vendor-id,
name); device {"name"} = UUIDv5(class-id, name) (RFC 9019 / SUIT manifest §8.4.8.1).
Detached payloads (ciphertext if encrypted) are written to --payload-out DIR (default: the
output's directory) under the URI's last path segment, which is what verify --payload-dir
looks up."#;

/// Every exit status the tool gives, with what it means (`--help`, suit-author(1)).
const EXIT_STATUSES: [(i32, &str); 3] = [
    (0, "success"),
    (
        suit_host::author::EXIT_REFUSED,
        "refused (not authentic, not well-formed, does not apply); an envelope or receipt \
         that does not decode (verify, sign, sever, unsever, verify-receipt; also a file that \
         is not CBOR at all) is such a verdict",
    ),
    (
        suit_host::author::EXIT_USAGE,
        "unusable input or arguments (a missing, unreadable or empty file, bad hex text, a \
         malformed key, description, report or key statement, any file inspect cannot \
         decode, a file of another of the tools' formats), or an output (standard output \
         too) that cannot be written",
    ),
];

#[derive(Parser)]
#[command(
    name = "suit-author",
    version,
    about = "Create, sign, encrypt, verify and inspect SUIT envelopes",
    after_help = suit_host::assets::exit_status_help(&EXIT_STATUSES)
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyTypeArg {
    P256,
    Ed25519,
    // HSS-LMS (COSE -46, RFC 8554): a stateful signing key (see --levels).
    HssLms,
}

#[derive(Clone, Copy, ValueEnum)]
enum SigAlg {
    /// ECDSA P-256 with SHA-256, fully specified (COSE -9), the SUIT default.
    Esp256,
    /// ECDSA with SHA-256 (COSE -7).
    Es256,
}

#[derive(Subcommand)]
// `defer`: a subcommand's arguments are built only when it is the one run (as in suit-agent).
#[command(defer = true)]
enum Cmd {
    /// Authenticate an envelope offline (and with --process, apply it on a simulated device).
    Verify {
        /// Envelope file (CBOR, or hex text as the SUIT examples ship), or - for standard input.
        envelope: PathBuf,
        /// Trusted signer public key: PEM (SPKI, P-256 or Ed25519), COSE_Key (also HSS-LMS) or
        /// JWK. Repeatable.
        #[arg(long = "trust-anchor", value_name = "KEY")]
        trust_anchors: Vec<PathBuf>,
        /// Trusted HMAC-SHA-256 key for COSE_Mac0 (raw 32..64 bytes or COSE_Key). Repeatable.
        #[arg(long = "hmac-key", value_name = "FILE")]
        hmac_keys: Vec<PathBuf>,
        /// Also run the update procedure (dependency resolution, fetch, install) on the simulator.
        #[arg(long)]
        process: bool,
        /// The simulated device's vendor id: a UUID, or a name (UUIDv5 as in description files).
        #[arg(long = "vendor-id", value_name = "UUID|NAME")]
        vendor_id: Option<String>,
        /// The simulated device's class id: a UUID, or a name (UUIDv5 as in description files).
        #[arg(long = "class-id", value_name = "UUID|NAME")]
        class_id: Option<String>,
        /// The simulated device's device id: a UUID, or a name (UUIDv5 as in description files).
        #[arg(long = "device-id", value_name = "UUID|NAME")]
        device_id: Option<String>,
        /// Directory of detached payloads, looked up by the URI's last path segment: regular
        /// files directly in it only, never through a symbolic link (as suit-agent's).
        #[arg(long = "payload-dir", value_name = "DIR")]
        payload_dir: Option<PathBuf>,
        /// Directory receiving each installed component as component-N.bin (`--out`: its
        /// older name).
        #[arg(long = "out-dir", visible_alias = "out", value_name = "DIR")]
        out: Option<PathBuf>,
        /// Device P-256 private key (PKCS#8 / SEC1 PEM, COSE_Key or JWK) for decryption,
        /// standing in for anchors' own payload keys: ID=KEY for the anchor with that id only
        /// (the device's anchor id, as `suit-agent anchors` shows it: a description's "id"
        /// with --provisioning, else the --trust-anchor/--hmac-key position from 1), one per
        /// anchor, repeatable; a plain KEY (at most one) for every anchor no ID=KEY names.
        /// Each a different key, as a device's anchors never share one.
        /// The device's rules on whose keys decrypt what, and where ("ree-plaintext"), apply:
        /// with one key per signer the run opens a payload only as a device does.
        #[arg(
            long = "device-key",
            value_name = "[ID=]KEY",
            value_parser = clap::builder::TypedValueParser::try_map(
                clap::builder::OsStringValueParser::new(),
                DeviceKeyArg::parse
            )
        )]
        device_keys: Vec<DeviceKeyArg>,
        /// Device key-encryption key (16/32 raw bytes, COSE_Key or JWK) for A128KW/A256KW,
        /// provisioned to the simulated device for every anchor. Repeatable.
        #[arg(long = "kek", value_name = "KEY")]
        keks: Vec<PathBuf>,
        /// Provision the simulated device from this `provision` description (anchors, scopes,
        /// rules, identity, KEKs) instead of the trust anchors, as the real device is.
        #[arg(long = "provisioning", value_name = "DESCRIPTION")]
        provisioning: Option<PathBuf>,
        /// Print every condition and directive the engine ran.
        #[arg(long)]
        trace: bool,
        /// Algorithm features the target TA has beyond its default build: ed25519 (Ed25519
        /// signatures), chacha20 (ChaCha20/Poly1305 payloads; no build of this TA has it).
        /// Without them an update that needs one is refused (exit 1) after the simulated run,
        /// as the default TA refuses it.
        #[arg(
            long = "ta-features",
            value_name = "FEATURE[,FEATURE]",
            value_delimiter = ','
        )]
        ta_features: Vec<String>,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
    /// Show an envelope without verifying it.
    Inspect {
        /// Envelope file (CBOR or hex text), or - for standard input.
        envelope: PathBuf,
        /// CBOR diagnostic notation.
        #[arg(long, conflicts_with = "json")]
        diag: bool,
        /// JSON for machines.
        #[arg(long)]
        json: bool,
    },
    /// Encrypt a payload for one or more recipients (one ciphertext for all).
    Encrypt {
        /// The plaintext payload.
        #[arg(long, value_name = "FILE")]
        payload: PathBuf,
        /// Recipient P-256 public key (PEM, COSE_Key or JWK). Repeatable (broadcast).
        #[arg(long = "recipient", value_name = "KEY")]
        recipients: Vec<PathBuf>,
        /// A fleet: a file listing one recipient public key file per line (with the
        /// --recipient keys, at most 32 recipients in all).
        #[arg(long = "recipient-list", value_name = "LIST")]
        recipient_list: Option<PathBuf>,
        /// Key distribution for --recipient keys: ecdh-es (ECDH-ES+A128KW, or ECDH-ES+A256KW for a
        /// key declared so) or hpke (HPKE-0-KE, or HPKE-7-KE for a key declared so).
        #[arg(long, default_value = "ecdh-es")]
        mode: String,
        /// Recipient key-encryption key (16 bytes A128KW / 32 bytes A256KW). Repeatable.
        #[arg(long = "kek", value_name = "KEY")]
        keks: Vec<PathBuf>,
        /// Key id to send with every recipient that has none in its key file.
        #[arg(long)]
        kid: Option<String>,
        /// A128GCM, A256GCM, A128CTR, A256CTR or ChaCha20/Poly1305.
        #[arg(long = "content-alg", default_value = "A128GCM")]
        content_alg: String,
        /// Where to write the SUIT_Encryption_Info (COSE_Encrypt, CBOR).
        #[arg(long = "info-out", value_name = "FILE")]
        info_out: PathBuf,
        /// Where to write the detached ciphertext.
        #[arg(long = "ciphertext-out", value_name = "FILE")]
        ciphertext_out: PathBuf,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
    /// Build, encrypt and sign an envelope from a JSON description.
    #[command(after_help = CREATE_HELP)]
    Create {
        /// The description file (JSON; see below).
        description: PathBuf,
        /// The envelope to write (tagged 107).
        #[arg(short, long, visible_alias = "out", value_name = "FILE")]
        output: PathBuf,
        /// Signing key: P-256 (ESP256 by default) or Ed25519 (EdDSA); PEM, COSE_Key or JWK; or an
        /// HSS-LMS key file (keygen --type hss-lms), whose state is advanced and saved before
        /// the envelope is written. Repeatable.
        #[arg(long = "sign-key", value_name = "KEY")]
        sign_keys: Vec<PathBuf>,
        /// HMAC-SHA-256 key (COSE_Mac0). Repeatable.
        #[arg(long = "hmac-key", value_name = "FILE")]
        hmac_keys: Vec<PathBuf>,
        /// Signature algorithm for P-256 keys.
        #[arg(long, value_enum, default_value = "esp256")]
        alg: SigAlg,
        /// Directory for detached payloads (default: the output's directory).
        #[arg(long = "payload-out", value_name = "DIR")]
        payload_out: Option<PathBuf>,
        /// The manifest's sequence number, overriding the description's (which may then be
        /// left out).
        #[arg(long = "sequence-number")]
        sequence_number: Option<u64>,
        /// Write the envelope unsigned (digest only), to be signed later with `sign`.
        #[arg(long)]
        unsigned: bool,
        /// Put every signature into one COSE_Sign block (RFC 9052 multi-signer form) instead
        /// of one COSE_Sign1 block per key (the default); HMAC keys keep a COSE_Mac0 each.
        #[arg(long = "cose-sign")]
        cose_sign: bool,
        /// Make install and text severable: the manifest holds their digests, the envelope
        /// carries them (`sever` can drop them later without re-signing).
        #[arg(long)]
        severable: bool,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
    /// Make a TPA-signed provisioning message (trust anchors, rules, identity) for the TA.
    Provision {
        /// JSON description of the operations (see host/README.md).
        description: PathBuf,
        /// The TPA's private key (the TA's build-time TPA root, or a TPA-role anchor).
        #[arg(long = "tpa-key", value_name = "KEY")]
        tpa_key: PathBuf,
        /// Output file.
        #[arg(short = 'o', long = "out", required_unless_present = "devices")]
        output: Option<PathBuf>,
        /// A fleet: one message per listed device (`IDENTITY-KEY [KEY-STATEMENT]` per line;
        /// the statement, verified against the identity key, gives the provisioning key),
        /// written to --out-dir as <device id>.cbor. The description's `device-key` and
        /// `key-statement` are not used (and may be left out).
        #[arg(long, value_name = "LIST", requires = "out_dir", conflicts_with_all = ["output", "state"])]
        devices: Option<PathBuf>,
        /// Directory for the fleet's messages (with --devices).
        #[arg(long = "out-dir", value_name = "DIR", requires = "devices")]
        out_dir: Option<PathBuf>,
        /// The TPA's models of a fleet's devices (with --devices): DIR/<device id>.model.cbor,
        /// as --state for one device; each expected state digest is printed.
        #[arg(long = "state-dir", value_name = "DIR", requires = "devices")]
        state_dir: Option<PathBuf>,
        /// The message's counter, overriding the description's (which may then be left out).
        #[arg(long)]
        counter: Option<u64>,
        /// The TPA's model of the device (CBOR, created when missing, owner-only: holds the
        /// provisioned secrets): the message is applied to it (saved only after the message is
        /// written) and the state digest the device's receipt must carry is printed. It also
        /// gives the keys an `add-kek` binds its anchors to.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
    /// Verify a device's provisioning receipt with its identity key (exit 0 only if it
    /// verifies and matches --message / --expect-state).
    VerifyReceipt {
        /// The receipt (COSE_Sign1; CBOR or hex text, or - for standard input), from `suit-agent
        /// provision --receipt-out`.
        receipt: PathBuf,
        /// The device's identity public key (PEM, COSE_Key or JWK; P-256), as enrolled.
        #[arg(long = "identity-key", value_name = "PUB")]
        identity_key: PathBuf,
        /// The provisioning message the receipt must be for.
        #[arg(long, value_name = "FILE")]
        message: Option<PathBuf>,
        /// The TPA's model of the device (`provision --state`): counter and state digest
        /// must match.
        #[arg(long = "expect-state", value_name = "FILE")]
        expect_state: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Generate a key pair: PREFIX.priv.pem (PKCS#8) and PREFIX.pub.pem (SPKI); for hss-lms
    /// PREFIX.priv.pem (the stateful private key file, rewritten by every signature) and
    /// PREFIX.pub.cose (COSE_Key kty 5).
    Keygen {
        /// p256, ed25519 or hss-lms (HSS-LMS, COSE -46: a stateful signing key).
        #[arg(long = "type", value_enum)]
        key_type: KeyTypeArg,
        /// Output file prefix.
        #[arg(short = 'o', long, value_name = "PREFIX")]
        out: PathBuf,
        /// Also write PREFIX.priv.cose and PREFIX.pub.cose (COSE_Key; hss-lms always writes
        /// PREFIX.pub.cose and has no COSE private key).
        #[arg(long)]
        cose: bool,
        /// hss-lms: HSS levels (1 to 8; signatures: 2^(sum of the heights)). Default 2.
        #[arg(long, value_name = "N")]
        levels: Option<usize>,
        /// hss-lms: LMS tree height (LMS_SHA256_M32_H5/H10/H15) of every level, or one per
        /// level top first (comma-separated). Default 10.
        #[arg(long, value_name = "H[,H...]", value_delimiter = ',')]
        height: Vec<u8>,
        /// hss-lms: LM-OTS Winternitz parameter (LMOTS_SHA256_N32_W1/W2/W4/W8) of every
        /// level, or one per level (comma-separated). Default 4.
        #[arg(long, value_name = "W[,W...]", value_delimiter = ',')]
        winternitz: Vec<u8>,
        /// Key id to put into the COSE_Keys.
        #[arg(long)]
        kid: Option<String>,
        /// Replace existing key files (by default keygen refuses to overwrite).
        #[arg(long)]
        force: bool,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
    /// Verify the TA's signed key statement (`suit-agent device-key --statement/--out-dir`)
    /// against the device's enrolled identity key and write out the keys it vouches for.
    VerifyKeyStatement {
        /// Signed key statement (COSE_Sign1; CBOR or hex text, or - for standard input).
        statement: PathBuf,
        /// The device's identity public key as enrolled at the factory (PEM, COSE_Key, JWK).
        #[arg(long = "identity-key", value_name = "PUB")]
        identity_key: PathBuf,
        /// Require this anchor's ECDH-ES and HPKE keys to be in the statement (with
        /// --anchor-key).
        #[arg(long, requires = "anchor_key")]
        anchor: Option<u32>,
        /// The key the anchor must hold (the author's signing key or its public key; an HMAC
        /// key): per-anchor keys are written only for the anchor that holds it.
        #[arg(long = "anchor-key", value_name = "KEY")]
        anchor_key: Option<PathBuf>,
        /// Write the verified public keys here (identity/report/provisioning.pub.pem,
        /// anchor-N.ecdh.pub.pem for ECDH-ES recipients, anchor-N.hpke.pub.pem for HPKE).
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Replace an identity.pub.pem in --out-dir that holds another device's key (an
        /// enrolment record); without it that is refused and nothing is written.
        #[arg(long, requires = "out_dir")]
        force: bool,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
    /// Verify a device's signed SUIT report and show it (exit 0 only if the signature verifies).
    VerifyReport {
        /// Signed report (COSE_Sign1; CBOR or hex text, or - for standard input), or a
        /// directory of them (a status tracker's collection: every file is verified).
        report: PathBuf,
        /// The device's report public key (PEM, COSE_Key or JWK): P-256 (this project's
        /// devices: `report.pub.pem` of `suit-agent device-key --out-dir`, not its identity
        /// key); Ed25519 or HSS-LMS for a third party's device signing its reports so.
        #[arg(long = "device-key", visible_alias = "report-key", value_name = "PUB")]
        device_key: PathBuf,
        /// The nonce the report was requested with (`suit-agent report --nonce`): refused
        /// (exit 1) unless the signed report carries exactly it, so an old report replayed
        /// does not pass. One report file only.
        #[arg(long, value_name = "HEX")]
        nonce: Option<String>,
        /// The status tracker's P-256 private key (PEM, COSE_Key or JWK): opens a report the
        /// device encrypted to it (SUIT_Report_COSE_Encrypt0, for an anchor the TPA gave that
        /// tracker's public key), after its signature verified. An encrypted report without
        /// it is refused (exit 1).
        #[arg(long = "tracker-key", value_name = "KEY")]
        tracker_key: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add signatures or MACs to an existing envelope (e.g. one made with `create --unsigned`,
    /// or an operator's signature next to the author's).
    Sign {
        /// The envelope (CBOR, hex text, or - for standard input).
        envelope: PathBuf,
        /// Where to write the signed envelope.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        output: PathBuf,
        /// Signing key: P-256 (ESP256 by default), Ed25519 (EdDSA) or an HSS-LMS key file (its
        /// state advanced and saved before the envelope is written). Repeatable.
        #[arg(long = "sign-key", value_name = "KEY")]
        sign_keys: Vec<PathBuf>,
        /// HMAC-SHA-256 key (COSE_Mac0). Repeatable.
        #[arg(long = "hmac-key", value_name = "FILE")]
        hmac_keys: Vec<PathBuf>,
        /// Signature algorithm for P-256 keys.
        #[arg(long, value_enum, default_value = "esp256")]
        alg: SigAlg,
        /// Put every signature into one COSE_Sign block (RFC 9052 multi-signer form) instead
        /// of one COSE_Sign1 block per key (the default); HMAC keys keep a COSE_Mac0 each.
        #[arg(long = "cose-sign")]
        cose_sign: bool,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
    /// Move severable members (whose digests the manifest holds) out of the envelope into
    /// files; the signatures stay valid.
    Sever {
        /// The envelope (CBOR, hex text, or - for standard input).
        envelope: PathBuf,
        /// Where to write the envelope without the members.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        output: PathBuf,
        /// Directory receiving each member as suit-<name>.cbor (`--out-dir`, as every other
        /// output directory is named, is the same option).
        #[arg(long = "members-out", visible_alias = "out-dir", value_name = "DIR")]
        members_out: PathBuf,
        // Help from the registry's severable members, not a list written here.
        #[arg(long = "member", value_name = "NAME", help = suit_host::author::sever::member_help())]
        members: Vec<String>,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
    /// Put severed members back into the envelope, each checked against its digest in the
    /// manifest (a modified member is refused).
    Unsever {
        /// The envelope (CBOR, hex text, or - for standard input).
        envelope: PathBuf,
        /// Where to write the envelope with the members.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        output: PathBuf,
        /// A member file written by `sever` (its digest tells which member it is). Repeatable.
        #[arg(long = "member", value_name = "FILE", required = true)]
        members: Vec<PathBuf>,
        /// Print the outcome as JSON (kebab-case; failures too).
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli, out: &mut dyn Write) -> Result<()> {
    let mut out = out;
    refuse_streams(&cli.command)?;
    match cli.command {
        Cmd::Verify {
            envelope,
            trust_anchors,
            hmac_keys,
            process,
            vendor_id,
            class_id,
            device_id,
            payload_dir,
            out: out_dir,
            device_keys,
            keks,
            provisioning,
            trace,
            ta_features,
            json: _,
        } => {
            let ta_features =
                TaFeature::parse_list(&ta_features, "--ta-features").map_err(AuthorError::Usage)?;
            let vendor = id_or_name("--vendor-id", &vendor_id, None)?;
            let class = id_or_name("--class-id", &class_id, Some(("--vendor-id", vendor)))?;
            let device = id_or_name("--device-id", &device_id, Some(("--class-id", class)))?;
            let identity = DeviceIdentity {
                vendor_id: vendor,
                class_id: class,
                device_id: device,
            };
            let process_only = [
                (payload_dir.is_some(), "--payload-dir"),
                (out_dir.is_some(), "--out-dir"),
                (!device_keys.is_empty(), "--device-key"),
                (!keks.is_empty(), "--kek"),
                (provisioning.is_some(), "--provisioning"),
                (identity.vendor_id.is_some(), "--vendor-id"),
                (identity.class_id.is_some(), "--class-id"),
                (identity.device_id.is_some(), "--device-id"),
                (trace, "--trace"),
                (!ta_features.is_empty(), "--ta-features"),
            ];
            if !process {
                if let Some((_, flag)) = process_only.iter().find(|(set, _)| *set) {
                    return Err(AuthorError::Usage(format!("{flag} needs --process")));
                }
            }
            verify(
                &VerifyOptions {
                    envelope,
                    trust_anchors,
                    hmac_keys,
                    process,
                    identity,
                    payload_dir,
                    out_dir,
                    device_keys,
                    keks,
                    provisioning,
                    trace,
                    ta_features,
                },
                &mut out,
            )
        }
        Cmd::Inspect {
            envelope,
            diag,
            json,
        } => {
            let bytes = read_cbor_file(&envelope)?;
            let bad = |what: String| AuthorError::Input {
                path: envelope.clone(),
                what,
            };
            // Text (a key, a description) has no CBOR structure to show: named, not "truncated".
            if let Some(what) = suit_host::detect::detect(&bytes)
                .filter(|f| f.is_text())
                .and_then(|_| {
                    suit_host::detect::other_format(
                        &bytes,
                        suit_host::detect::Format::Envelope,
                        suit_host::detect::Tool::Author,
                    )
                })
            {
                return Err(bad(what));
            }
            // What inspect prints is its output: a failure to print it is the command's.
            let printed = |r: std::io::Result<()>| {
                r.map_err(|source| AuthorError::Io {
                    path: suit_host::stdio::out_name().into(),
                    source,
                })
            };
            if diag {
                let text = inspect::diag(&bytes).map_err(bad)?;
                return printed(out.write_all(text.as_bytes()));
            }
            if let Some(kind) = inspect::identify(&bytes) {
                // Another of the tool's formats: say what it is, show its structure.
                let text = inspect::diag(&bytes).map_err(bad)?;
                return printed(if json {
                    let j = serde_json::json!({
                        "verified": false,
                        "format": kind,
                        "diag": text.trim_end(),
                    });
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string_pretty(&j).unwrap_or_default()
                    )
                } else {
                    writeln!(
                        out,
                        "{}: {kind}, not an envelope (NOT VERIFIED)",
                        envelope.display()
                    )
                    .and_then(|()| out.write_all(text.as_bytes()))
                });
            }
            let model = inspect::model(&bytes).map_err(bad)?;
            printed(if json {
                let text = serde_json::to_string_pretty(&model)
                    .map_err(|e| AuthorError::Create(e.to_string()))?;
                writeln!(out, "{text}")
            } else {
                writeln!(
                    out,
                    "{} (NOT VERIFIED: use `suit-author verify` to authenticate)",
                    envelope.display()
                )
                .and_then(|()| write!(out, "{}", inspect::render_text(&model)))
            })
        }
        Cmd::Encrypt {
            payload,
            mut recipients,
            recipient_list,
            mode,
            keks,
            kid,
            content_alg,
            info_out,
            ciphertext_out,
            json: _,
        } => {
            let mode = Mode::parse(&mode).ok_or_else(|| {
                AuthorError::Usage(format!("--mode \"{mode}\": expected ecdh-es or hpke"))
            })?;
            let alg = parse_content_alg(&content_alg).ok_or_else(|| {
                AuthorError::Usage(format!(
                    "--content-alg \"{content_alg}\": expected {CONTENT_ALG_NAMES}"
                ))
            })?;
            if let Some(list) = &recipient_list {
                recipients.extend(suit_host::author::encrypt::read_key_list(list)?);
            }
            let kid = kid.map(String::into_bytes);
            let mut specs: Vec<RecipientSpec> = recipients
                .into_iter()
                .map(|path| RecipientSpec::PublicKey {
                    path,
                    mode,
                    kid: kid.clone(),
                })
                .collect();
            specs.extend(keks.into_iter().map(|path| RecipientSpec::Kek {
                path,
                kid: kid.clone(),
            }));
            let e = encrypt_file(
                &payload,
                alg,
                &specs,
                recipient_list.as_deref(),
                (&info_out, &ciphertext_out),
            )?;
            let _ = writeln!(
                out,
                "encrypted {} for {} recipient(s) with {content_alg}: {} ({} bytes), {} ({} bytes)",
                payload.display(),
                specs.len(),
                info_out.display(),
                e.encryption_info.len(),
                ciphertext_out.display(),
                e.ciphertext.len()
            );
            Ok(())
        }
        Cmd::Create {
            description,
            output,
            sign_keys,
            hmac_keys,
            alg,
            payload_out,
            sequence_number,
            unsigned,
            cose_sign,
            severable,
            json: _,
        } => {
            if matches!(alg, SigAlg::Es256)
                && !sign_keys.iter().any(|p| {
                    suit_host::author::pkcs11::is_uri(p)
                        || matches!(
                            suit_host::author::keys::load_private(p).map(|k| k.key),
                            Ok(suit_host::author::keys::PrivateKey::P256(_))
                        )
                })
            {
                errln!("suit-author: warning: --alg applies to P-256 signing keys; none is given, so it is ignored");
            }
            let created = create(&CreateOptions {
                description,
                output: output.clone(),
                payload_out,
                sequence_number,
                sign: SignOptions {
                    sign_keys,
                    hmac_keys,
                    es256: matches!(alg, SigAlg::Es256),
                    unsigned,
                    cose_sign,
                },
                severable,
            })?;
            let _ = writeln!(
                out,
                "wrote {} ({} bytes)",
                output.display(),
                created.envelope.len()
            );
            for s in &created.summary {
                let _ = writeln!(out, "  {s}");
            }
            for d in &created.detached {
                let _ = writeln!(out, "  detached payload: {}", d.display());
            }
            Ok(())
        }
        Cmd::Provision {
            description,
            tpa_key,
            output,
            devices,
            out_dir,
            state_dir,
            counter,
            state,
            json: _,
        } => {
            if let (Some(list), Some(dir)) = (devices, out_dir) {
                return provision_fleet(
                    &description,
                    &tpa_key,
                    counter,
                    (&list, &dir, state_dir.as_deref()),
                    out,
                );
            }
            let Some(output) = output else {
                return Err(AuthorError::Usage(
                    "provision needs -o FILE or --devices".into(),
                ));
            };
            // Checked before anything is made or applied: the model (--state) is rewritten in
            // place but never by the message; no other file read is written.
            let mut inputs = suit_host::author::provision::description_inputs(&description)?;
            inputs.push(tpa_key.clone());
            if let Some(m) = &state {
                suit_host::author::check_outputs(
                    &[(m.clone(), "the device model (--state)".into())],
                    &inputs,
                )?;
                inputs.push(m.clone());
            }
            suit_host::author::check_outputs(
                &[(output.clone(), "the provisioning message".into())],
                &inputs,
            )?;
            let p = suit_host::author::provision::provision(
                &description,
                &tpa_key,
                counter,
                state.as_deref(),
            )?;
            // A message the model refuses is refused before anything is written; the
            // message is written before the model is advanced (`write_message`).
            let model = state
                .as_deref()
                .map(|m| suit_host::author::provision::advance_model(m, &p))
                .transpose()?;
            suit_host::author::provision::write_message(&output, &p, model.as_ref())?;
            let expected = model.map(|m| m.digest);
            let _ = writeln!(
                out,
                "wrote {} ({} operation(s), counter {}, for device {})",
                output.display(),
                p.ops,
                p.counter,
                hex::encode(&p.device_kid)
            );
            if let Some(d) = expected {
                let _ = writeln!(out, "expected state digest: {}", hex::encode(d));
            }
            Ok(())
        }
        Cmd::VerifyReceipt {
            receipt,
            identity_key,
            message,
            expect_state,
            json,
        } => suit_host::author::receipt::verify_receipt_file(
            &suit_host::author::receipt::VerifyReceiptOptions {
                receipt,
                identity_key,
                message,
                expect_state,
                json,
            },
            &mut out,
        )
        .map(|_| ()),
        Cmd::Keygen {
            key_type,
            out: prefix,
            cose,
            levels,
            height,
            winternitz,
            kid,
            force,
            json: _,
        } => {
            suit_host::author::keys::check_prefix(&prefix)?;
            let kind = match key_type {
                KeyTypeArg::P256 => KeyType::P256,
                KeyTypeArg::Ed25519 => KeyType::Ed25519,
                KeyTypeArg::HssLms => {
                    use suit_host::author::hss;
                    let levels = hss::levels_from_options(
                        levels.unwrap_or(hss::DEFAULT_LEVELS),
                        &height,
                        &winternitz,
                    )?;
                    let (g, state) =
                        hss::keygen(&prefix, &levels, kid.as_deref().map(str::as_bytes), force)?;
                    for f in &g.files {
                        let _ = writeln!(out, "wrote {}", f.display());
                    }
                    let names: Vec<String> =
                        state.levels.iter().map(|l| hss::level_name(*l)).collect();
                    let _ = writeln!(
                        out,
                        "HSS-LMS: {} level(s) {}, {} signatures",
                        state.levels.len(),
                        names.join(", "),
                        state.lifetime
                    );
                    let _ = writeln!(
                        out,
                        "the private key file is STATEFUL: every signature rewrites it; never sign \
                         from a copy or restore an older one"
                    );
                    return Ok(());
                }
            };
            if levels.is_some() || !height.is_empty() || !winternitz.is_empty() {
                return Err(AuthorError::Usage(
                    "--levels, --height and --winternitz apply to --type hss-lms only".into(),
                ));
            }
            let g = keygen_checked(
                kind,
                &prefix,
                cose,
                kid.as_deref().map(str::as_bytes),
                force,
            )?;
            for f in &g.files {
                let _ = writeln!(out, "wrote {}", f.display());
            }
            Ok(())
        }
        Cmd::VerifyKeyStatement {
            statement,
            identity_key,
            anchor,
            anchor_key,
            out_dir,
            force,
            json: _,
        } => suit_host::author::key_statement::verify_statement_file(
            &suit_host::author::key_statement::VerifyStatementOptions {
                statement,
                identity_key,
                anchor,
                anchor_key,
                out_dir,
                force,
            },
            &mut out,
        ),
        Cmd::VerifyReport {
            report,
            device_key,
            nonce,
            tracker_key,
            json,
        } => {
            let nonce = nonce
                .map(|n| match hex::decode(n.trim()) {
                    Ok(b) if !b.is_empty() => Ok(b),
                    _ => Err(AuthorError::Usage(format!(
                        "--nonce \"{n}\": expected the nonce as hex digits"
                    ))),
                })
                .transpose()?;
            let opts = suit_host::author::report::VerifyReportOptions {
                report,
                device_key,
                json,
                nonce,
                tracker_key,
            };
            if opts.report.is_dir() {
                suit_host::author::report::verify_report_dir(&opts, &mut out)
            } else {
                suit_host::author::report::verify_report_file(&opts, &mut out)
            }
        }
        Cmd::Sign {
            envelope,
            output,
            sign_keys,
            hmac_keys,
            alg,
            cose_sign,
            json: _,
        } => {
            let bytes =
                suit_host::author::read_cbor_as(&envelope, suit_host::detect::Format::Envelope)?;
            // Checked before signing: a stateful (HSS-LMS) key's signature is spent once made.
            suit_host::author::check_outputs(
                &[(output.clone(), "the signed envelope".into())],
                &sign_keys
                    .iter()
                    .chain(&hmac_keys)
                    .cloned()
                    .collect::<Vec<_>>(),
            )?;
            // Opened before signing too (its directory made, a temporary file created in
            // it): an output that cannot be written does not spend that signature.
            let opened = suit_host::author::open_files(&[output.as_path()])?;
            let suit_host::author::sign::Signed {
                envelope: signed,
                notes,
                added,
            } = suit_host::author::sign::sign_envelope_counted(
                &bytes,
                &SignOptions {
                    sign_keys: sign_keys.clone(),
                    hmac_keys: hmac_keys.clone(),
                    es256: matches!(alg, SigAlg::Es256),
                    unsigned: false,
                    cose_sign,
                },
            )?;
            suit_host::author::write_opened_files(
                opened.into_iter().map(|o| (o, signed.as_slice())).collect(),
            )?;
            let _ = writeln!(
                out,
                "wrote {} ({} bytes, {} new authentication block(s))",
                output.display(),
                signed.len(),
                added
            );
            for n in &notes {
                let _ = writeln!(out, "  {n}");
            }
            Ok(())
        }
        Cmd::Sever {
            envelope,
            output,
            members_out,
            members,
            json: _,
        } => sever_cmd(envelope, output, members_out, members, out),
        Cmd::Unsever {
            envelope,
            output,
            members,
            json: _,
        } => unsever_cmd(envelope, output, members, out),
    }
}

/// `provision --devices`: every message is made (and checked) before the first is written.
fn provision_fleet(
    description: &std::path::Path,
    tpa_key: &std::path::Path,
    counter: Option<u64>,
    (list, dir, state_dir): (&std::path::Path, &std::path::Path, Option<&std::path::Path>),
    out: &mut dyn Write,
) -> Result<()> {
    use suit_host::author::provision as p;
    let fleet = p::read_fleet(list)?;
    let signer = p::tpa_signer(tpa_key)?;
    let mut made = Vec::new();
    for d in &fleet {
        // The errors that depend on the device name its list line themselves.
        let m = p::provision_device(
            description,
            &signer,
            counter,
            Some(d),
            state_dir.map(|sd| p::fleet_model_path(sd, d)).as_deref(),
        )?;
        made.push((dir.join(p::fleet_file_name(d)), m));
    }
    let mut outputs: Vec<(PathBuf, String)> = made
        .iter()
        .map(|(f, m)| {
            (
                f.clone(),
                format!("the message for device {}", hex::encode(&m.device_kid)),
            )
        })
        .collect();
    if let Some(sd) = state_dir {
        for (f, m) in &made {
            let name = f.file_stem().map(|s| s.to_string_lossy().into_owned());
            outputs.push((
                sd.join(format!("{}.model.cbor", name.unwrap_or_default())),
                format!("the model of device {}", hex::encode(&m.device_kid)),
            ));
        }
    }
    let mut inputs = p::description_inputs(description)?;
    inputs.extend([list.to_path_buf(), tpa_key.to_path_buf()]);
    inputs.extend(fleet.iter().flat_map(|d| d.files.iter().cloned()));
    suit_host::author::check_outputs(&outputs, &inputs)?;
    std::fs::create_dir_all(dir).map_err(|source| AuthorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if let Some(sd) = state_dir {
        std::fs::create_dir_all(sd).map_err(|source| AuthorError::Io {
            path: sd.to_path_buf(),
            source,
        })?;
    }
    for (i, (f, m)) in made.iter().enumerate() {
        // A message whose model update is refused (counter) is not written; one that is
        // written advances its model right after (`write_message`).
        // `outputs` holds the messages' files, then (with a state directory) as many models.
        #[allow(clippy::indexing_slicing)]
        let model = match state_dir {
            Some(_) => Some(p::advance_model(&outputs[made.len() + i].0, m)?),
            None => None,
        };
        p::write_message(f, m, model.as_ref())?;
        let digest = model.map(|m| m.digest);
        let _ = writeln!(
            out,
            "wrote {} ({} operation(s), counter {}, for device {})",
            f.display(),
            m.ops,
            m.counter,
            hex::encode(&m.device_kid)
        );
        if let Some(d) = digest {
            let _ = writeln!(out, "  expected state digest: {}", hex::encode(d));
        }
    }
    let _ = writeln!(out, "{} device(s)", made.len());
    Ok(())
}

fn sever_cmd(
    envelope: PathBuf,
    output: PathBuf,
    members_out: PathBuf,
    members: Vec<String>,
    out: &mut dyn Write,
) -> Result<()> {
    use suit_host::author::sever;
    let which = members
        .iter()
        .map(|n| {
            sever::label_of(n).ok_or_else(|| {
                AuthorError::Usage(format!("--member {n}: expected one of {}", sever::names()))
            })
        })
        .collect::<Result<Vec<u8>>>()?;
    let bytes = suit_host::author::read_cbor_as(&envelope, suit_host::detect::Format::Envelope)?;
    let (rest, removed) = sever::sever(&bytes, &which)?;
    let mut outputs = vec![(output.clone(), "the severed envelope".to_string())];
    for m in &removed {
        outputs.push((
            members_out.join(sever::file_name(m.label)),
            format!("suit-{}", sever::name_of(m.label)),
        ));
    }
    suit_host::author::check_outputs(&outputs, std::slice::from_ref(&envelope))?;
    // Every file written (`--members-out` created if missing) before any is renamed, the
    // severed envelope renamed last (`write_files`): a failure leaves the old envelope, which
    // still carries every member.
    let mut files: Vec<_> = removed
        .iter()
        .zip(outputs.iter().skip(1))
        .map(|(m, (path, _))| suit_host::author::output(path, &m.content))
        .collect();
    files.push(suit_host::author::output(&output, &rest));
    suit_host::author::write_files(&files)?;
    let _ = writeln!(out, "wrote {} ({} bytes)", output.display(), rest.len());
    for (m, (path, _)) in removed.iter().zip(outputs.iter().skip(1)) {
        let _ = writeln!(
            out,
            "severed suit-{}: {} ({} bytes)",
            sever::name_of(m.label),
            path.display(),
            m.content.len()
        );
    }
    Ok(())
}

fn unsever_cmd(
    envelope: PathBuf,
    output: PathBuf,
    members: Vec<PathBuf>,
    out: &mut dyn Write,
) -> Result<()> {
    use suit_host::author::sever;
    let bytes = suit_host::author::read_cbor_as(&envelope, suit_host::detect::Format::Envelope)?;
    let contents = members
        .iter()
        .map(|p| Ok((p.display().to_string(), suit_host::author::read_file(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let (full, restored) = sever::unsever(&bytes, &contents)?;
    let mut inputs = members.clone();
    inputs.push(envelope.clone());
    // Writing in place is fine (the input is read already), as for `sign`.
    inputs.retain(|p| p != &output);
    suit_host::author::check_outputs(&[(output.clone(), "the envelope".into())], &inputs)?;
    suit_host::author::write_file(&output, &full)?;
    let _ = writeln!(out, "wrote {} ({} bytes)", output.display(), full.len());
    for l in restored {
        let _ = writeln!(
            out,
            "restored suit-{} (digest matches the manifest)",
            sever::name_of(l)
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    // Hidden: completions and man pages from this very definition (suit_host::assets).
    if let Some(code) = suit_host::assets::serve::<Cli>("suit-author") {
        return code;
    }
    let cli = match suit_host::stdio::parse_args::<Cli>(|what| {
        error_json(&AuthorError::Usage(what.to_string()))
    }) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let json = wants_json(&cli.command);
    let options = input_options(&cli.command);
    // An output on standard output (`-o /dev/stdout`) keeps every other line off it.
    if file_outputs(&cli.command)
        .iter()
        .any(|p| suit_host::files::is_standard_output(p))
    {
        suit_host::stdio::status_to_stderr();
    }
    // Commands without a JSON view of their own report their messages inside one document;
    // those with one (inspect, verify-report, verify-receipt) print theirs, marked "ok" as
    // every document is. Either way the one document on standard output is printed here:
    // a failure after a command's own document (a report collection with a report that does
    // not verify) becomes that document marked failed, not a second document.
    let own = matches!(
        cli.command,
        Cmd::Inspect { .. } | Cmd::VerifyReport { .. } | Cmd::VerifyReceipt { .. }
    );
    let mut buffer = Vec::new();
    let result = if json {
        run(cli, &mut buffer)
    } else {
        run(cli, &mut suit_host::stdio::Status)
    }
    .map_err(|e| e.with_option(&options));
    if json {
        let doc = if own {
            own_json_document(&buffer, result.as_ref().err())
        } else {
            let text = String::from_utf8_lossy(&buffer);
            match &result {
                Ok(()) => serde_json::to_string_pretty(&serde_json::json!({
                    "ok": true,
                    "exit-code": 0,
                    "messages": text.lines().collect::<Vec<_>>(),
                }))
                .unwrap_or_default(),
                Err(e) => error_json(e),
            }
        };
        outln!("{doc}");
    }
    match result {
        // What could not be printed (a full disk; not a closed pipe) fails the command
        // after it has written its files, as an unwritable output file does.
        Ok(()) => match suit_host::stdio::finish() {
            None => ExitCode::SUCCESS,
            Some(why) => {
                errln!("suit-author: {why}");
                ExitCode::from(u8::try_from(suit_host::author::EXIT_USAGE).unwrap_or(2))
            }
        },
        Err(e) => {
            // Line by line: a message may quote an artifact (the quoted parts escape its
            // newlines where they are made), the message's own lines stay lines.
            // Bounded as printed (review s43-rev): escaping what does not print may make a
            // message longer, so the cut comes after it.
            let full = e.to_string();
            let lines: Vec<_> = full.split('\n').map(suit_host::human::printable).collect();
            let text = lines.join("\n");
            errln!("suit-author: {}", suit_host::human::bounded_message(&text));
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
        }
    }
}

/// Refuses `-` (and `/dev/stdout`, ...) where an output cannot be a stream
/// ([`suit_host::files::refuse_standard_stream`]); a file output takes it as standard output.
/// `provision -o` with `--state` may be removed again, so it must not be a device, FIFO or
/// socket either ([`suit_host::files::refuse_special_file`]).
fn refuse_streams(cmd: &Cmd) -> Result<()> {
    const DIR: &str = "it names a directory";
    const REMOVED: &str = "the message is removed again if the model cannot be saved";
    let mut checks: Vec<(&std::path::Path, &str, &str)> = Vec::new();
    match cmd {
        Cmd::Verify { out: Some(d), .. } => checks.push((d, "--out-dir", DIR)),
        Cmd::Create {
            payload_out: Some(d),
            ..
        } => checks.push((d, "--payload-out", DIR)),
        Cmd::Provision {
            output,
            out_dir,
            state_dir,
            state,
            ..
        } => {
            checks.extend(out_dir.as_deref().map(|d| (d, "--out-dir", DIR)));
            checks.extend(state_dir.as_deref().map(|d| (d, "--state-dir", DIR)));
            if let Some(m) = state {
                checks.push((m, "--state", "the device model holds the device's secrets"));
                if let Some(o) = output {
                    suit_host::files::refuse_special_file(o, "-o with --state", REMOVED)?;
                    checks.push((o, "-o with --state", REMOVED));
                }
            }
        }
        Cmd::Keygen { out, .. } => checks.push((
            out,
            "--out",
            "it is the name prefix of the key pair's files",
        )),
        Cmd::VerifyKeyStatement {
            out_dir: Some(d), ..
        } => checks.push((d, "--out-dir", DIR)),
        Cmd::Sever { members_out, .. } => checks.push((members_out, "--members-out", DIR)),
        _ => {}
    }
    for (path, option, why) in checks {
        suit_host::files::refuse_standard_stream(path, option, why)?;
    }
    Ok(())
}

/// The files a command writes (not directories).
fn file_outputs(cmd: &Cmd) -> Vec<&std::path::Path> {
    match cmd {
        Cmd::Create { output, .. }
        | Cmd::Sign { output, .. }
        | Cmd::Sever { output, .. }
        | Cmd::Unsever { output, .. } => vec![output.as_path()],
        Cmd::Provision { output, .. } => output.iter().map(PathBuf::as_path).collect(),
        Cmd::Encrypt {
            info_out,
            ciphertext_out,
            ..
        } => vec![info_out.as_path(), ciphertext_out.as_path()],
        _ => Vec::new(),
    }
}

/// The files a command reads that options name (keys, lists, the message and model a
/// receipt is checked against), with their options, and its file arguments (option `""`): a
/// failure to read or use one option's file names the option
/// ([`AuthorError::with_option`]).
fn input_options(cmd: &Cmd) -> Vec<(&'static str, PathBuf)> {
    let mut v = Vec::new();
    let mut add = |option: &'static str, paths: &mut dyn Iterator<Item = &PathBuf>| {
        v.extend(paths.map(|p| (option, p.clone())));
    };
    let argument = match cmd {
        Cmd::Verify { envelope: a, .. }
        | Cmd::Sign { envelope: a, .. }
        | Cmd::Create { description: a, .. }
        | Cmd::Provision { description: a, .. }
        | Cmd::VerifyReceipt { receipt: a, .. }
        | Cmd::VerifyKeyStatement { statement: a, .. }
        | Cmd::VerifyReport { report: a, .. } => Some(a),
        _ => None,
    };
    add("", &mut argument.into_iter());
    match cmd {
        Cmd::Verify {
            trust_anchors,
            hmac_keys,
            device_keys,
            keks,
            provisioning,
            ..
        } => {
            add("--trust-anchor", &mut trust_anchors.iter());
            add("--hmac-key", &mut hmac_keys.iter());
            add("--device-key", &mut device_keys.iter().map(|k| &k.path));
            add("--kek", &mut keks.iter());
            add("--provisioning", &mut provisioning.iter());
        }
        Cmd::Encrypt {
            payload,
            recipients,
            recipient_list,
            keks,
            ..
        } => {
            add("--payload", &mut std::iter::once(payload));
            add("--recipient", &mut recipients.iter());
            add("--recipient-list", &mut recipient_list.iter());
            add("--kek", &mut keks.iter());
        }
        Cmd::Create {
            sign_keys,
            hmac_keys,
            ..
        }
        | Cmd::Sign {
            sign_keys,
            hmac_keys,
            ..
        } => {
            add("--sign-key", &mut sign_keys.iter());
            add("--hmac-key", &mut hmac_keys.iter());
        }
        Cmd::Provision {
            tpa_key, devices, ..
        } => {
            add("--tpa-key", &mut std::iter::once(tpa_key));
            add("--devices", &mut devices.iter());
        }
        Cmd::VerifyReceipt {
            identity_key,
            message,
            expect_state,
            ..
        } => {
            add("--identity-key", &mut std::iter::once(identity_key));
            add("--message", &mut message.iter());
            add("--expect-state", &mut expect_state.iter());
        }
        Cmd::VerifyKeyStatement {
            identity_key,
            anchor_key,
            ..
        } => {
            add("--identity-key", &mut std::iter::once(identity_key));
            add("--anchor-key", &mut anchor_key.iter());
        }
        Cmd::VerifyReport {
            device_key,
            tracker_key,
            ..
        } => {
            add("--device-key", &mut std::iter::once(device_key));
            add("--tracker-key", &mut tracker_key.iter());
        }
        Cmd::Inspect { .. } | Cmd::Keygen { .. } | Cmd::Sever { .. } | Cmd::Unsever { .. } => {}
    }
    v
}

fn wants_json(cmd: &Cmd) -> bool {
    match cmd {
        Cmd::Inspect { json, .. }
        | Cmd::VerifyReport { json, .. }
        | Cmd::Verify { json, .. }
        | Cmd::Encrypt { json, .. }
        | Cmd::Create { json, .. }
        | Cmd::Provision { json, .. }
        | Cmd::Keygen { json, .. }
        | Cmd::Sign { json, .. }
        | Cmd::Sever { json, .. }
        | Cmd::Unsever { json, .. }
        | Cmd::VerifyReceipt { json, .. }
        | Cmd::VerifyKeyStatement { json, .. } => *json,
    }
}

/// A failure as one JSON document on standard output (kebab-case keys), for `--json` callers.
fn error_json(e: &AuthorError) -> String {
    serde_json::to_string_pretty(&error_value(e)).unwrap_or_default()
}

/// The document of a command with a JSON view of its own (`buffer`, what it printed): marked
/// `"ok": true, "exit-code": 0`, or on failure `error`'s fields added to it, so a caller
/// reads one document either way. A failure before the command printed its document is
/// [`error_json`] alone.
fn own_json_document(buffer: &[u8], error: Option<&AuthorError>) -> String {
    let printed = serde_json::from_slice::<serde_json::Value>(buffer).ok();
    let mut doc = match (printed, error) {
        (Some(serde_json::Value::Object(o)), _) => o,
        (_, Some(e)) => return error_json(e),
        // Not reached: every own view prints one JSON object.
        (_, None) => return String::from_utf8_lossy(buffer).trim_end().to_string(),
    };
    let status = match error {
        Some(e) => error_value(e),
        None => serde_json::json!({"ok": true, "exit-code": 0}),
    };
    if let serde_json::Value::Object(fields) = status {
        doc.extend(fields);
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// [`error_json`]'s fields.
fn error_value(e: &AuthorError) -> serde_json::Value {
    let mut j = serde_json::json!({
        "ok": false,
        "exit-code": e.exit_code(),
        "refused": matches!(e, AuthorError::Refused(_) | AuthorError::NotOnDefaultTa { .. }),
        "error": suit_host::human::bounded_json_message(&e.to_string()),
    });
    if let AuthorError::NotOnDefaultTa {
        features,
        algorithms,
    } = e
    {
        if let Some(o) = j.as_object_mut() {
            o.insert(
                "not-in-default-ta".into(),
                serde_json::json!({"features": features, "algorithms": algorithms}),
            );
        }
    }
    j
}

/// A UUID, or a name turned into one as in description files: vendor = UUIDv5(DNS, name),
/// class = UUIDv5(vendor, name), device = UUIDv5(class, name). `parent`: the flag whose
/// (resolved) value is the namespace of a name.
fn id_or_name(
    flag: &str,
    value: &Option<String>,
    parent: Option<(&str, Option<[u8; 16]>)>,
) -> Result<Option<[u8; 16]>> {
    let Some(v) = value else { return Ok(None) };
    if let Ok(u) = uuid::Uuid::parse_str(v) {
        return Ok(Some(*u.as_bytes()));
    }
    if v.is_empty() {
        return Err(AuthorError::Usage(format!("{flag}: empty")));
    }
    let namespace = match parent {
        None => uuid::Uuid::NAMESPACE_DNS,
        Some((_, Some(p))) => uuid::Uuid::from_bytes(p),
        Some((pflag, None)) => {
            return Err(AuthorError::Usage(format!(
                "{flag} \"{v}\" is not a UUID; as a name it is derived from {pflag}, which is not given"
            )))
        }
    };
    Ok(Some(
        *uuid::Uuid::new_v5(&namespace, v.as_bytes()).as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
