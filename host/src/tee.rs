//! The transports to the TA: OP-TEE through libteec, or the in-process simulator.

use suit_common::protocol::{Command, Status};
use thiserror::Error;

/// What a transport hands back for one command: slot 0 (`status`, `detail`) and slot 2.
#[derive(Debug)]
pub struct RawReply {
    pub status: u32,
    pub detail: u32,
    pub body: Vec<u8>,
}

/// A way to reach the TA. Implementations move bytes; the protocol lives in `client`.
pub trait Transport {
    fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError>;
}

/// Everything that can go wrong between the agent and the TA, in words an operator can act on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AgentError {
    #[error("no TEE device at {0}: is the OP-TEE driver loaded (modprobe optee) and tee-supplicant running?")]
    NoTeeDevice(String),
    #[error("the TEE client library failed to open a context: {0}")]
    Context(String),
    #[error("TA {uuid} is not installed: copy {uuid}.ta to /usr/lib/optee_armtz/ (or the TEE's TA store)")]
    TaMissing { uuid: String },
    #[error("the TA stayed busy with another session (it serves one at a time; a TA fetching its personalization data, or a client that is not this agent) for the whole --busy-wait; retry")]
    TaBusy,
    #[error("opening a session to the TA failed: {0}")]
    OpenSession(String),
    #[error("the TA died during the command (see the secure-world log): {0}")]
    TaDead(String),
    #[error("invoking the TA failed: {0}")]
    Invoke(String),
    #[error(
        "protocol version mismatch: agent speaks {agent}, TA speaks {ta}; install matching builds"
    )]
    VersionMismatch { agent: u32, ta: u32 },
    #[error("the TA answered with unknown status code {0}")]
    UnknownStatus(u32),
    #[error("{}", .0.describe())]
    Status(Status),
    #[error("refused by the TA ({kind}): {reason}")]
    Refused { kind: String, reason: String },
    #[error("malformed response from the TA: {0}")]
    BadResponse(&'static str),
    #[error("this agent was built without OP-TEE support (feature `optee`); use --tee sim")]
    NoOpteeSupport,
    #[error("simulator state: {0}")]
    SimState(String),
    #[error("{0}")]
    File(String),
    /// A network transfer failed (after its retries); names the URL and why.
    #[error("network: {0}")]
    Network(String),
    /// A payload URI the TA named has no local file the agent will read (only files the
    /// operator offered, and only regular ones: `transport::local`). Nothing was installed.
    #[error("payload {uri}: {error}")]
    Payload {
        uri: String,
        error: crate::transport::local::PayloadSourceError,
    },
}

#[cfg(feature = "optee")]
pub mod optee {
    //! libteec transport. One session per agent process: the TA is single-session, so while
    //! another client holds it (other agents are kept out by the agent's lock; a TA fetching
    //! its personalization data is not) opening waits and retries, up to a bound, then fails
    //! with [`AgentError::TaBusy`] instead of interleaving.
    use std::time::{Duration, Instant};

    use super::{AgentError, RawReply, Transport};
    use optee_teec::{
        Context, ErrorKind, Operation, ParamNone, ParamTmpRef, ParamType, ParamValue, Session, Uuid,
    };
    use suit_common::protocol::{Command, MAX_RESPONSE, PROTOCOL_VERSION, TA_UUID};

    pub const TEE_DEVICE: &str = "/dev/tee0";

    pub struct Optee {
        // Field order matters: the session must close before its context.
        session: Session,
        _context: Context,
    }

    impl Optee {
        /// Opens the session; while the TA is busy with another client, retries (pausing 20
        /// ms, doubling up to 500 ms) for at most `busy_wait`.
        pub fn connect(busy_wait: Duration) -> Result<Self, AgentError> {
            if !std::path::Path::new(TEE_DEVICE).exists() {
                return Err(AgentError::NoTeeDevice(TEE_DEVICE.into()));
            }
            let mut context = Context::new().map_err(|e| AgentError::Context(e.to_string()))?;
            let uuid =
                Uuid::parse_str(TA_UUID).map_err(|e| AgentError::OpenSession(e.to_string()))?;
            let started = Instant::now();
            let mut pause = Duration::from_millis(20);
            let session = loop {
                match context.open_session(uuid.clone()) {
                    Ok(session) => break session,
                    Err(e) if e.kind() == ErrorKind::Busy => {
                        let left = busy_wait.saturating_sub(started.elapsed());
                        if left.is_zero() {
                            return Err(AgentError::TaBusy);
                        }
                        std::thread::sleep(pause.min(left));
                        pause = (pause * 2).min(Duration::from_millis(500));
                    }
                    Err(e) if e.kind() == ErrorKind::ItemNotFound => {
                        return Err(AgentError::TaMissing {
                            uuid: TA_UUID.into(),
                        })
                    }
                    Err(e) => return Err(AgentError::OpenSession(e.to_string())),
                }
            };
            Ok(Optee {
                session,
                _context: context,
            })
        }
    }

    impl Transport for Optee {
        fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
            let mut response = vec![0u8; MAX_RESPONSE];
            let p0 = ParamValue::new(PROTOCOL_VERSION, 0, ParamType::ValueInout);
            let p1 = ParamTmpRef::new_input(request);
            let p2 = ParamTmpRef::new_output(&mut response);
            let mut op = Operation::new(0, p0, p1, p2, ParamNone);
            self.session
                .invoke_command(command as u32, &mut op)
                .map_err(|e| match e.kind() {
                    ErrorKind::TargetDead => AgentError::TaDead(e.to_string()),
                    _ => AgentError::Invoke(e.to_string()),
                })?;
            let (p0, _, p2, _) = op.parameters();
            let len = p2.updated_size().min(MAX_RESPONSE);
            response.truncate(len);
            Ok(RawReply {
                status: p0.a(),
                detail: p0.b(),
                body: response,
            })
        }
    }
}
