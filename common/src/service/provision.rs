//! Trust-anchor management by signed messages from the Trust Provisioning Authority.
//!
//! The REE only relays these messages; the TA believes them because they are signed by the
//! TPA root fixed when the TA was built (or by an anchor the TPA gave the TPA role). A
//! strictly increasing counter makes a replayed or older message fail, and an optional
//! device binding makes a message for one device useless on another. A message is applied
//! all-or-nothing: every operation is checked against a copy of the state, which is saved in
//! one atomic write only if all of them pass.
//!
//! Wire format (CBOR):
//!
//! ```text
//! SUIT_TA_Provisioning = [ body: bstr .cbor ProvisioningBody,
//!                          auth: COSE_Sign1_Tagged (payload detached = body) ]
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::cbor::Decoder;
use crate::cose::{AuthBlock, CoseError, VerificationKey};
use crate::protocol;

use super::state::{
    AnchorRecord, Identity, RoleRecord, RuleRecord, Scope, State, MAX_ANCHORS, MAX_RULES,
};

/// Largest provisioning message accepted.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most operations in one message.
pub const MAX_OPS: usize = 32;

/// Anchor id reported when the build-time TPA root signed.
pub const TPA_ROOT_ID: u32 = 0;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningBody {
    /// Must exceed the device's stored counter.
    pub counter: u64,
    /// If present, the message is for the device whose decryption-key id this is.
    pub device: Option<ByteBuf>,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Add a new anchor (its id must be unused; ids are never 0, the TPA root's).
    AddAnchor(AnchorRecord),
    /// Remove an anchor and every rule naming it.
    RemoveAnchor { id: u32 },
    /// Replace an anchor's permissions.
    Rescope { id: u32, scope: Scope },
    /// Replace all component rules.
    SetRules(Vec<RuleRecord>),
    /// Set the identifiers vendor/class/device conditions compare against.
    SetIdentity(Identity),
}

/// A private scalar inside a provisioning message: never printed, wiped on drop.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub ByteBuf);

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.0.as_mut_slice());
    }
}

/// Why a provisioning message was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionError {
    TooLarge,
    Malformed(&'static str),
    /// The signature is not from the TPA root or a TPA-role anchor.
    NotTpaSigned(CoseError),
    /// Replay or older message.
    Counter {
        stored: u64,
        offered: u64,
    },
    /// Bound to another device.
    WrongDevice,
    TooManyOps,
    /// One operation is invalid; index and reason.
    Op {
        index: usize,
        reason: String,
    },
}

impl core::fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProvisionError::TooLarge => write!(f, "provisioning message exceeds {MAX_MESSAGE} bytes"),
            ProvisionError::Malformed(what) => write!(f, "malformed provisioning message: {what}"),
            ProvisionError::NotTpaSigned(e) => {
                write!(f, "not signed by the TPA root or a TPA anchor ({e:?})")
            }
            ProvisionError::Counter { stored, offered } => write!(
                f,
                "counter {offered} is not greater than the applied counter {stored} (replayed or older message)"
            ),
            ProvisionError::WrongDevice => write!(f, "message is bound to another device"),
            ProvisionError::TooManyOps => write!(f, "more than {MAX_OPS} operations"),
            ProvisionError::Op { index, reason } => write!(f, "operation {index}: {reason}"),
        }
    }
}

/// What an accepted message did, for the agent to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub counter: u64,
    /// Anchor id of the signer (0 = TPA root).
    pub signer: u32,
    pub summary: Vec<String>,
}

fn split(message: &[u8]) -> Result<(&[u8], &[u8]), ProvisionError> {
    if message.len() > MAX_MESSAGE {
        return Err(ProvisionError::TooLarge);
    }
    crate::cbor::check_well_formed(message)
        .map_err(|_| ProvisionError::Malformed("not well-formed CBOR"))?;
    let mut dec = Decoder::new(message);
    let n = dec
        .array()
        .map_err(|_| ProvisionError::Malformed("not an array"))?;
    if n != 2 {
        return Err(ProvisionError::Malformed("expected [body, auth]"));
    }
    let body = dec
        .bytes()
        .map_err(|_| ProvisionError::Malformed("body is not a bstr"))?;
    let auth = dec.skip().map_err(|_| ProvisionError::Malformed("auth"))?;
    if !dec.is_empty() {
        return Err(ProvisionError::Malformed("trailing bytes"));
    }
    Ok((body, auth))
}

/// Verifies `message` against the TPA root and the state's TPA anchors, checks counter and
/// device binding, and applies its operations to `state` (in memory; the caller saves).
/// `device_kid` is `None` while the device has no keys yet.
pub fn apply(
    message: &[u8],
    tpa_root: &VerificationKey,
    device_kid: Option<&[u8]>,
    state: &mut State,
) -> Result<Applied, ProvisionError> {
    let (body_bytes, auth) = split(message)?;
    let block = AuthBlock::parse(auth).map_err(ProvisionError::NotTpaSigned)?;
    // Authenticate before interpreting the body.
    let signer = authenticate(&block, body_bytes, tpa_root, state)?;
    let body: ProvisioningBody = protocol::decode(body_bytes, MAX_MESSAGE)
        .map_err(|_| ProvisionError::Malformed("body does not decode"))?;
    if body.counter <= state.provisioning_counter {
        return Err(ProvisionError::Counter {
            stored: state.provisioning_counter,
            offered: body.counter,
        });
    }
    if let Some(device) = &body.device {
        if Some(device.as_slice()) != device_kid {
            return Err(ProvisionError::WrongDevice);
        }
    }
    if body.ops.len() > MAX_OPS {
        return Err(ProvisionError::TooManyOps);
    }
    let mut next = state.clone();
    let mut summary = Vec::new();
    for (index, op) in body.ops.iter().enumerate() {
        let fail = |reason: String| ProvisionError::Op { index, reason };
        summary.push(apply_op(&mut next, op).map_err(fail)?);
    }
    next.provisioning_counter = body.counter;
    *state = next;
    Ok(Applied {
        counter: body.counter,
        signer,
        summary,
    })
}

fn authenticate(
    block: &AuthBlock,
    body: &[u8],
    root: &VerificationKey,
    state: &State,
) -> Result<u32, ProvisionError> {
    let mut last = match block.verify(body, root) {
        Ok(()) => return Ok(TPA_ROOT_ID),
        Err(e) => e,
    };
    for a in state.anchors.iter().filter(|a| a.role == RoleRecord::Tpa) {
        if let Ok((key, _)) = VerificationKey::from_cose_key(&a.cose_key) {
            match block.verify(body, &key) {
                Ok(()) => return Ok(a.id),
                Err(e) => last = e,
            }
        }
    }
    Err(ProvisionError::NotTpaSigned(last))
}

fn describe_key(a: &AnchorRecord) -> Result<(), String> {
    VerificationKey::from_cose_key(&a.cose_key)
        .map(|_| ())
        .map_err(|e| alloc::format!("anchor {} key does not parse ({e:?})", a.id))
}

fn check_scope(scope: &Scope) -> Result<(), String> {
    if scope.component_prefixes.len() > 16
        || scope.vendor_ids.len() > 16
        || scope.class_ids.len() > 16
    {
        return Err("scope lists too long".into());
    }
    if scope.class_ids.iter().any(|c| c.len() != 16) {
        return Err("class ids must be 16-byte UUIDs".into());
    }
    if scope
        .vendor_ids
        .iter()
        .any(|v| v.is_empty() || v.len() > 64)
    {
        return Err("vendor ids must be 1..64 bytes".into());
    }
    if scope
        .component_prefixes
        .iter()
        .any(|p| p.len() > 8 || p.iter().any(|s| s.len() > 64))
    {
        return Err("component prefix too long".into());
    }
    Ok(())
}

fn apply_op(state: &mut State, op: &Op) -> Result<String, String> {
    match op {
        Op::AddAnchor(a) => {
            if a.id == TPA_ROOT_ID {
                return Err("anchor id 0 is reserved for the TPA root".into());
            }
            if state.anchors.iter().any(|x| x.id == a.id) {
                return Err(alloc::format!(
                    "anchor {} already exists (use Rescope)",
                    a.id
                ));
            }
            if state.anchors.len() >= MAX_ANCHORS {
                return Err("anchor store is full".into());
            }
            describe_key(a)?;
            check_scope(&a.scope)?;
            // The device, not the message, picks the key scope: a fresh one per addition.
            let mut a = a.clone();
            a.key_scope = state
                .next_key_scope()
                .ok_or_else(|| String::from("anchor key scopes exhausted"))?;
            let summary = alloc::format!("added anchor {} ({:?})", a.id, a.role);
            state.anchors.push(a);
            Ok(summary)
        }
        Op::RemoveAnchor { id } => {
            let before = state.anchors.len();
            state.anchors.retain(|a| a.id != *id);
            if state.anchors.len() == before {
                return Err(alloc::format!("no anchor {id}"));
            }
            for r in &mut state.rules {
                r.required_anchors.retain(|x| x != id);
            }
            Ok(alloc::format!("removed anchor {id}"))
        }
        Op::Rescope { id, scope } => {
            check_scope(scope)?;
            let a = state
                .anchors
                .iter_mut()
                .find(|a| a.id == *id)
                .ok_or_else(|| alloc::format!("no anchor {id}"))?;
            a.scope = scope.clone();
            Ok(alloc::format!("re-scoped anchor {id}"))
        }
        Op::SetRules(rules) => {
            if rules.len() > MAX_RULES {
                return Err("too many rules".into());
            }
            for r in rules {
                if let Some(missing) = r
                    .required_anchors
                    .iter()
                    .find(|id| !state.anchors.iter().any(|a| a.id == **id))
                {
                    return Err(alloc::format!("rule names unknown anchor {missing}"));
                }
                if r.required_roles.is_empty() && r.required_anchors.is_empty() {
                    return Err("a rule must require at least one signer".into());
                }
            }
            state.rules = rules.clone();
            Ok(alloc::format!("set {} component rule(s)", rules.len()))
        }
        Op::SetIdentity(identity) => {
            for id in [&identity.vendor_id, &identity.class_id, &identity.device_id]
                .into_iter()
                .flatten()
            {
                if id.is_empty() || id.len() > 64 {
                    return Err("identifiers must be 1..64 bytes".into());
                }
            }
            state.identity = identity.clone();
            Ok("set device identity".to_string())
        }
    }
}

/// Creates provisioning messages (the author tool's `provision` command and tests).
#[cfg(feature = "author")]
pub mod author {
    use super::*;
    use crate::cose::{create_auth_block, Algorithm, SigningKey};

    /// Signs `body` with the TPA key (ESP256 for P-256, EdDSA for Ed25519).
    pub fn seal(
        body: &ProvisioningBody,
        key: &SigningKey,
        alg: Algorithm,
        kid: &[u8],
    ) -> Result<Vec<u8>, CoseError> {
        let body_bytes = protocol::encode(body).map_err(|_| CoseError::SigningFailed)?;
        let auth = create_auth_block(key, alg, kid, &body_bytes)?;
        let mut out = Vec::with_capacity(body_bytes.len() + auth.len() + 8);
        crate::suit::component::push_header(&mut out, 4, 2);
        crate::suit::component::push_header(&mut out, 2, body_bytes.len() as u64);
        out.extend_from_slice(&body_bytes);
        out.extend_from_slice(&auth);
        Ok(out)
    }
}
