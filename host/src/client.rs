//! Typed calls over any [`Transport`]: encode the request, interpret slot 0, decode the body.

use serde::{de::DeserializeOwned, Serialize};
use suit_common::protocol::{
    self, Command, Refusal, Status, StatusRequest, StatusResponse, MAX_RESPONSE, PROTOCOL_VERSION,
};

use crate::tee::{AgentError, Transport};

fn call<Q: Serialize, R: DeserializeOwned>(
    tee: &mut dyn Transport,
    command: Command,
    request: &Q,
) -> Result<R, AgentError> {
    let bytes =
        protocol::encode(request).map_err(|_| AgentError::BadResponse("request encoding"))?;
    let reply = tee.invoke(command, &bytes)?;
    match Status::from_code(reply.status) {
        Some(Status::Ok) => protocol::decode(&reply.body, MAX_RESPONSE)
            .map_err(|_| AgentError::BadResponse("undecodable response body")),
        Some(Status::VersionMismatch) => Err(AgentError::VersionMismatch {
            agent: PROTOCOL_VERSION,
            ta: reply.detail,
        }),
        Some(Status::Refused) => match protocol::decode::<Refusal>(&reply.body, MAX_RESPONSE) {
            Ok(r) => Err(AgentError::Refused {
                kind: r.kind,
                reason: r.reason,
            }),
            Err(_) => Err(AgentError::Status(Status::Refused)),
        },
        Some(other) => Err(AgentError::Status(other)),
        None => Err(AgentError::UnknownStatus(reply.status)),
    }
}

/// `status`: versions and the platform's protections.
pub fn status(tee: &mut dyn Transport) -> Result<StatusResponse, AgentError> {
    call(tee, Command::Status, &StatusRequest {})
}
