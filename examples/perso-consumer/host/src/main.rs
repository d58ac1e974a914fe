//! perso-consumer: normal-world client of the perso-consumer example TA.
//!
//!     perso-consumer [--uuid UUID] [--wait MS] hello|info [--json]
//!
//! `hello` shows the TA runs (and which version); `info` asks the TA to fetch its
//! personalization data from the SUIT update TA and prints the summary the TA returns (length
//! and SHA-256; the data itself never leaves the secure world). While the update TA is busy
//! with its agent, the TA waits for it up to `--wait` milliseconds (default 30000; 0: fail
//! at once).
//!
//! Exit status: 0 success, 1 other failure, 2 usage, 3 the update TA refused, 4 the consumer TA
//! is not installed, 5 the update TA could not be reached.

#![forbid(unsafe_code)]

use std::fmt;
use std::process::ExitCode;

#[allow(dead_code)]
#[path = "../../proto.rs"]
mod proto;

const USAGE: &str = "usage: perso-consumer [--uuid UUID] [--wait MS] hello|info|panic [--json]";

/// How long `info` lets the TA wait for a busy update TA unless `--wait` says otherwise.
const DEFAULT_WAIT_MS: u32 = 30_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Hello,
    Info,
    /// Make the TA panic (test-runner self-test).
    Panic,
}

#[derive(Debug, PartialEq, Eq)]
struct Args {
    uuid: String,
    action: Action,
    json: bool,
    wait_ms: u32,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, Failure> {
    let mut uuid = proto::DEFAULT_UUID.to_string();
    let mut action = None;
    let mut json = false;
    let mut wait_ms = DEFAULT_WAIT_MS;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--uuid" => {
                uuid = args
                    .next()
                    .ok_or_else(|| Failure::Usage("--uuid needs a value".into()))?
            }
            "--json" => json = true,
            "--wait" => {
                wait_ms = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| Failure::Usage("--wait needs milliseconds".into()))?
            }
            "-h" | "--help" => return Err(Failure::Usage(String::new())),
            "hello" | "info" | "panic" if action.is_none() => {
                action = Some(match arg.as_str() {
                    "hello" => Action::Hello,
                    "info" => Action::Info,
                    _ => Action::Panic,
                })
            }
            other => return Err(Failure::Usage(format!("unexpected argument '{other}'"))),
        }
    }
    if !is_uuid(&uuid) {
        return Err(Failure::Usage(format!("'{uuid}' is not a UUID")));
    }
    let action = action.ok_or_else(|| Failure::Usage("no command (hello or info)".into()))?;
    Ok(Args {
        uuid,
        action,
        json,
        wait_ms,
    })
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Everything that can go wrong, in words an operator can act on.
/// (Which variants are built depends on the `optee` feature.)
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Usage(String),
    #[cfg_attr(feature = "optee", allow(dead_code))]
    NoOpteeSupport,
    #[cfg_attr(not(feature = "optee"), allow(dead_code))]
    NoTee(String),
    #[cfg_attr(not(feature = "optee"), allow(dead_code))]
    TaMissing {
        uuid: String,
    },
    #[cfg_attr(not(feature = "optee"), allow(dead_code))]
    Session(String),
    #[cfg_attr(not(feature = "optee"), allow(dead_code))]
    Invoke(String),
    Refused {
        kind: String,
        reason: String,
    },
    UpdateTaUnreachable(String),
    TaError(String),
    BadReply(&'static str),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Refused { .. } => 3,
            Failure::TaMissing { .. } => 4,
            Failure::UpdateTaUnreachable(_) => 5,
            _ => 1,
        }
    }

    /// Stable name for `--json` output.
    fn kind(&self) -> &'static str {
        match self {
            Failure::Usage(_) => "usage",
            Failure::NoOpteeSupport => "no-optee-support",
            Failure::NoTee(_) => "no-tee",
            Failure::TaMissing { .. } => "ta-missing",
            Failure::Session(_) => "open-session",
            Failure::Invoke(_) => "invoke",
            Failure::Refused { .. } => "refused",
            Failure::UpdateTaUnreachable(_) => "update-ta-unreachable",
            Failure::TaError(_) => "ta-error",
            Failure::BadReply(_) => "bad-reply",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) if m.is_empty() => write!(f, "{USAGE}"),
            Failure::Usage(m) => write!(f, "{m}\n{USAGE}"),
            Failure::NoOpteeSupport => write!(
                f,
                "this perso-consumer was built without OP-TEE support (feature `optee`)"
            ),
            Failure::NoTee(m) => write!(f, "no TEE: {m}"),
            Failure::TaMissing { uuid } => write!(
                f,
                "the perso-consumer TA {uuid} is not installed (neither in /usr/lib/optee_armtz \
                 nor in the TEE's TA store)"
            ),
            Failure::Session(m) => write!(f, "opening a session to the TA failed: {m}"),
            Failure::Invoke(m) => write!(f, "invoking the TA failed: {m}"),
            Failure::Refused { kind, reason } => {
                write!(
                    f,
                    "the update TA refused the personalization data ({kind}): {reason}"
                )
            }
            Failure::UpdateTaUnreachable(m) => {
                write!(f, "the TA could not reach the update TA: {m}")
            }
            Failure::TaError(m) => write!(f, "the TA reported an error: {m}"),
            Failure::BadReply(m) => write!(f, "malformed reply from the TA: {m}"),
        }
    }
}

/// Slot 0 and slot 1 of one command, as the TA left them.
struct Reply {
    status: u32,
    body: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
struct Hello {
    ta_version: u32,
    message: String,
}

#[derive(Debug, PartialEq, Eq)]
struct Info {
    length: u32,
    sha256: [u8; 32],
    waited_ms: u32,
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

/// The failure a non-OK status stands for.
fn status_failure(reply: &Reply) -> Failure {
    match reply.status {
        proto::STATUS_REFUSED => {
            // The kind's name, a newline, then the update TA's fault as it sent it.
            let (kind, fault) = match reply.body.iter().position(|b| *b == b'\n') {
                Some(i) => reply.body.split_at(i),
                None => (&reply.body[..], &[][..]),
            };
            Failure::Refused {
                kind: text(kind),
                reason: suit_common::fault::render(fault.get(1..).unwrap_or_default()),
            }
        }
        proto::STATUS_UPDATE_TA_UNREACHABLE => Failure::UpdateTaUnreachable(text(&reply.body)),
        proto::STATUS_ERROR => Failure::TaError(text(&reply.body)),
        proto::STATUS_SHORT_BUFFER => Failure::BadReply("the TA wants a larger response buffer"),
        _ => Failure::BadReply("unknown status code"),
    }
}

fn decode_hello(reply: &Reply) -> Result<Hello, Failure> {
    if reply.status != proto::STATUS_OK {
        return Err(status_failure(reply));
    }
    let (version, message) = reply
        .body
        .split_first_chunk::<4>()
        .ok_or(Failure::BadReply("hello reply shorter than 4 bytes"))?;
    Ok(Hello {
        ta_version: u32::from_le_bytes(*version),
        message: text(message),
    })
}

fn decode_info(reply: &Reply) -> Result<Info, Failure> {
    if reply.status != proto::STATUS_OK {
        return Err(status_failure(reply));
    }
    if reply.body.len() != proto::INFO_LEN {
        return Err(Failure::BadReply("info reply has the wrong length"));
    }
    let (length, rest) = reply.body.split_at(4);
    let (digest, waited) = rest.split_at(32);
    Ok(Info {
        length: u32::from_le_bytes(length.try_into().expect("4 bytes")),
        sha256: digest.try_into().expect("32 bytes"),
        waited_ms: u32::from_le_bytes(waited.try_into().expect("4 bytes")),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(feature = "optee")]
fn invoke(uuid: &str, command: u32, wait_ms: u32) -> Result<Reply, Failure> {
    use optee_teec::{
        Context, ErrorKind, Operation, ParamNone, ParamTmpRef, ParamType, ParamValue,
    };

    if !std::path::Path::new("/dev/tee0").exists() {
        return Err(Failure::NoTee(
            "no /dev/tee0: is the OP-TEE driver loaded and tee-supplicant running?".into(),
        ));
    }
    let mut context = Context::new().map_err(|e| Failure::NoTee(e.to_string()))?;
    let id = optee_teec::Uuid::parse_str(uuid).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut session = context.open_session(id).map_err(|e| match e.kind() {
        ErrorKind::ItemNotFound => Failure::TaMissing { uuid: uuid.into() },
        _ => Failure::Session(e.to_string()),
    })?;
    let mut body = vec![0u8; proto::MAX_RESPONSE];
    let p0 = ParamValue::new(0, 0, ParamType::ValueOutput);
    let p1 = ParamTmpRef::new_output(&mut body);
    let p2 = ParamValue::new(wait_ms, 0, ParamType::ValueInput);
    let mut op = Operation::new(0, p0, p1, p2, ParamNone);
    session
        .invoke_command(command, &mut op)
        .map_err(|e| Failure::Invoke(e.to_string()))?;
    let (p0, p1, _, _) = op.parameters();
    let status = p0.a();
    let len = p1.updated_size().min(proto::MAX_RESPONSE);
    drop(session);
    body.truncate(len);
    Ok(Reply { status, body })
}

#[cfg(not(feature = "optee"))]
fn invoke(_uuid: &str, _command: u32, _wait_ms: u32) -> Result<Reply, Failure> {
    Err(Failure::NoOpteeSupport)
}

fn run(args: &Args) -> Result<(), Failure> {
    match args.action {
        Action::Panic => {
            let outcome = match invoke(&args.uuid, proto::CMD_PANIC, 0) {
                Ok(_) => "the TA answered".to_string(),
                Err(e) => e.to_string(),
            };
            return Err(Failure::TaError(format!(
                "after the panic command: {outcome}"
            )));
        }
        Action::Hello => {
            let hello = decode_hello(&invoke(&args.uuid, proto::CMD_HELLO, 0)?)?;
            if args.json {
                let v = serde_json::json!({
                    "ok": true,
                    "uuid": args.uuid,
                    "ta_version": hello.ta_version,
                    "message": hello.message,
                });
                println!("{v}");
            } else {
                println!("{}", hello.message);
            }
        }
        Action::Info => {
            let info = decode_info(&invoke(&args.uuid, proto::CMD_GET_INFO, args.wait_ms)?)?;
            if args.json {
                let v = serde_json::json!({
                    "ok": true,
                    "uuid": args.uuid,
                    "length": info.length,
                    "sha256": hex(&info.sha256),
                    "waited_ms": info.waited_ms,
                });
                println!("{v}");
            } else {
                // A TA built without `insecure-test-digest` answers zeros there.
                let digest = if info.sha256.iter().all(|b| *b == 0) {
                    "withheld by the TA".to_string()
                } else {
                    format!("sha256 {}", hex(&info.sha256))
                };
                println!(
                    "personalization data of TA {}: {} bytes, {} (waited {} ms for the update TA)",
                    args.uuid, info.length, digest, info.waited_ms
                );
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let json = raw.iter().any(|a| a == "--json");
    let result = parse_args(raw.into_iter()).and_then(|args| run(&args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let mut v = serde_json::json!({
                    "ok": false,
                    "error": e.kind(),
                    "message": e.to_string(),
                });
                if let Failure::Refused { kind, reason } = &e {
                    v["refusal"] = serde_json::json!({ "kind": kind, "reason": reason });
                }
                println!("{v}");
            }
            eprintln!("perso-consumer: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, Failure> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_commands_uuid_and_json() {
        let a = args(&["info"]).unwrap();
        assert_eq!(
            (a.uuid.as_str(), a.action, a.json, a.wait_ms),
            (proto::DEFAULT_UUID, Action::Info, false, DEFAULT_WAIT_MS)
        );
        assert_eq!(args(&["--wait", "0", "info"]).unwrap().wait_ms, 0);
        let b = args(&[
            "--uuid",
            "cf768fad-c7d0-46e0-82ab-09be3410d40d",
            "hello",
            "--json",
        ])
        .unwrap();
        assert_eq!(b.uuid, "cf768fad-c7d0-46e0-82ab-09be3410d40d");
        assert_eq!((b.action, b.json), (Action::Hello, true));
        for bad in [
            &[][..],
            &["--uuid"],
            &["--uuid", "nope", "info"],
            &["info", "hello"],
            &["x"],
            &["--wait", "soon", "info"],
            &["info", "--wait"],
        ] {
            assert_eq!(args(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn decodes_replies_and_failures() {
        let mut body = 2u32.to_le_bytes().to_vec();
        body.extend_from_slice(b"hi");
        let hello = decode_hello(&Reply { status: 0, body }).unwrap();
        assert_eq!((hello.ta_version, hello.message.as_str()), (2, "hi"));

        let mut body = 5u32.to_le_bytes().to_vec();
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&1500u32.to_le_bytes());
        let info = decode_info(&Reply { status: 0, body }).unwrap();
        assert_eq!(
            (info.length, info.sha256, info.waited_ms),
            (5, [7; 32], 1500)
        );
        let short = Reply {
            status: 0,
            body: vec![0; proto::INFO_LEN - 1],
        };
        assert!(matches!(decode_info(&short), Err(Failure::BadReply(_))));

        let fault = suit_common::fault::Fault::Service(
            suit_common::fault::ServiceFault::PersonalizationNotOwner,
        );
        let mut body = b"access\n".to_vec();
        body.extend_from_slice(&fault.encode());
        let refused = Reply {
            status: proto::STATUS_REFUSED,
            body,
        };
        let e = decode_info(&refused).unwrap_err();
        assert_eq!(
            e,
            Failure::Refused {
                kind: "access".into(),
                reason: "personalization data is released only to the TA it belongs to, over a TA-to-TA session".into()
            }
        );
        assert_eq!(e.exit_code(), 3);
        let down = Reply {
            status: proto::STATUS_UPDATE_TA_UNREACHABLE,
            body: b"busy".to_vec(),
        };
        assert_eq!(decode_info(&down).unwrap_err().exit_code(), 5);
    }
}
