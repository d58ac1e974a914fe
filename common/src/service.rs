//! The TA's request handling, independent of how requests arrive.
//!
//! The OP-TEE entry points in `ta/` and the host simulator both feed raw commands into
//! [`Service::invoke`]; what differs between them is only the [`Backend`] (GP TEE APIs vs.
//! files on disk). Keeping the dispatch here means the simulator exercises the same decisions
//! the TA makes.

use alloc::string::ToString;
use alloc::vec::Vec;

use crate::protocol::{
    self, Command, PlatformInfo, Refusal, Status, StatusRequest, StatusResponse, MAX_REQUEST,
    MAX_RESPONSE, PROTOCOL_VERSION,
};

/// What the service needs from the environment it runs in.
pub trait Backend {
    /// `"optee"` or `"simulator"`: reported in status so nobody mistakes one for the other.
    fn name(&self) -> &'static str;
    /// The platform's protections, as far as they can be queried.
    fn platform_info(&self) -> PlatformInfo;
}

/// The outcome of one command, ready to be written into slots 0 and 2.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: Status,
    /// Slot 0 `b`: response length, or the size needed / TA protocol version on errors.
    pub detail: u32,
    pub body: Vec<u8>,
}

impl Reply {
    fn bare(status: Status, detail: u32) -> Self {
        Reply {
            status,
            detail,
            body: Vec::new(),
        }
    }

    fn ok(body: Vec<u8>) -> Self {
        Self::sized(Status::Ok, body)
    }

    fn refused(kind: &str, reason: &str) -> Self {
        let refusal = Refusal {
            kind: kind.to_string(),
            reason: reason.to_string(),
        };
        match protocol::encode(&refusal) {
            Ok(body) => Self::sized(Status::Refused, body),
            Err(_) => Self::bare(Status::Refused, 0),
        }
    }

    fn sized(status: Status, body: Vec<u8>) -> Self {
        if body.len() > MAX_RESPONSE {
            return Self::bare(Status::ResponseTooLarge, body.len() as u32);
        }
        Reply {
            status,
            detail: body.len() as u32,
            body,
        }
    }
}

/// The TA's command dispatcher. One instance per TA instance; sessions are serialized by the
/// TEE (single-instance, single-session TA), so `&mut self` is never contended.
pub struct Service<B: Backend> {
    backend: B,
}

impl<B: Backend> Service<B> {
    pub fn new(backend: B) -> Self {
        Service { backend }
    }

    /// Handles one command. `request` must already be a TA-owned copy of slot 1.
    pub fn invoke(&mut self, command: u32, host_version: u32, request: &[u8]) -> Reply {
        if host_version != PROTOCOL_VERSION {
            return Reply::bare(Status::VersionMismatch, PROTOCOL_VERSION);
        }
        if request.len() > MAX_REQUEST {
            return Reply::bare(Status::RequestTooLarge, MAX_REQUEST as u32);
        }
        let command = match Command::try_from(command) {
            Ok(c) => c,
            Err(status) => return Reply::bare(status, 0),
        };
        match command {
            Command::Status => self.status(request),
        }
    }

    fn status(&mut self, request: &[u8]) -> Reply {
        if protocol::decode::<StatusRequest>(request, MAX_REQUEST).is_err() {
            return Reply::bare(Status::MalformedRequest, 0);
        }
        let response = StatusResponse {
            protocol_version: PROTOCOL_VERSION,
            ta_version: env!("CARGO_PKG_VERSION").to_string(),
            backend: self.backend.name().to_string(),
            platform: self.backend.platform_info().with_derived_warnings(),
        };
        match protocol::encode(&response) {
            Ok(body) => Reply::ok(body),
            Err(_) => Reply::refused("internal", "could not encode the status response"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Backend for Fake {
        fn name(&self) -> &'static str {
            "test"
        }
        fn platform_info(&self) -> PlatformInfo {
            PlatformInfo {
                anti_rollback_level: Some(1000),
                ..Default::default()
            }
        }
    }

    fn status_request() -> Vec<u8> {
        protocol::encode(&StatusRequest {}).unwrap()
    }

    #[test]
    fn status_reports_versions_and_platform() {
        let reply =
            Service::new(Fake).invoke(Command::Status as u32, PROTOCOL_VERSION, &status_request());
        assert_eq!(reply.status, Status::Ok);
        assert_eq!(reply.detail as usize, reply.body.len());
        let r: StatusResponse = protocol::decode(&reply.body, MAX_RESPONSE).unwrap();
        assert_eq!(r.protocol_version, PROTOCOL_VERSION);
        assert_eq!(r.backend, "test");
        assert!(
            r.platform.warnings.is_empty(),
            "level 1000 needs no warning"
        );
    }

    #[test]
    fn wrong_version_unknown_command_and_garbage_are_typed_errors() {
        let mut s = Service::new(Fake);
        let r = s.invoke(
            Command::Status as u32,
            PROTOCOL_VERSION + 1,
            &status_request(),
        );
        assert_eq!(
            (r.status, r.detail),
            (Status::VersionMismatch, PROTOCOL_VERSION)
        );
        assert_eq!(
            s.invoke(999, PROTOCOL_VERSION, &status_request()).status,
            Status::UnknownCommand
        );
        assert_eq!(
            s.invoke(1, PROTOCOL_VERSION, &[0xff, 0x00]).status,
            Status::MalformedRequest
        );
        assert_eq!(
            s.invoke(1, PROTOCOL_VERSION, &[]).status,
            Status::MalformedRequest
        );
        let big = alloc::vec![0u8; MAX_REQUEST + 1];
        assert_eq!(
            s.invoke(1, PROTOCOL_VERSION, &big).status,
            Status::RequestTooLarge
        );
    }
}
