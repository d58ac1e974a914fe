//! The simulator: the TA's own [`Service`] running in this process, with state in a
//! directory. It exists for development and tests and protects nothing: keys and state sit
//! in ordinary files readable by anyone with access to the directory.

use std::path::{Path, PathBuf};

use suit_common::protocol::{Command, PlatformInfo};
use suit_common::service::{Backend, Service};

use crate::tee::{AgentError, RawReply, Transport};

/// Printed whenever the simulator is used, so nobody mistakes it for a TEE.
pub const WARNING: &str =
    "WARNING: simulator backend: no TEE, no isolation; keys and state are plain files";

/// File-backed stand-in for the TEE.
pub struct SimBackend {
    #[allow(dead_code)] // grows with the key store and rollback state
    state: PathBuf,
}

impl Backend for SimBackend {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn platform_info(&self) -> PlatformInfo {
        PlatformInfo {
            tee_version: None,
            // Files in a directory: no protection against rollback at all.
            anti_rollback_level: Some(0),
            rollback_detection_level: Some(0),
            warnings: vec![WARNING.into()],
        }
    }
}

pub struct Simulator {
    service: Service<SimBackend>,
}

impl Simulator {
    pub fn open(state: &Path) -> Result<Self, AgentError> {
        std::fs::create_dir_all(state)
            .map_err(|e| AgentError::SimState(format!("{}: {e}", state.display())))?;
        Ok(Simulator {
            service: Service::new(SimBackend {
                state: state.to_path_buf(),
            }),
        })
    }
}

impl Transport for Simulator {
    fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
        let reply = self.service.invoke(
            command as u32,
            suit_common::protocol::PROTOCOL_VERSION,
            request,
        );
        Ok(RawReply {
            status: reply.status as u32,
            detail: reply.detail,
            body: reply.body,
        })
    }
}
