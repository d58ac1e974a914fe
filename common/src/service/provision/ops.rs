//! Applying a message's operations to the device's state and KEKs: each operation checked
//! and applied in order (`apply_op`), root-only operations on TPA anchors refused to a
//! delegate, and one key, one holder (`key_in_use`).

use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::cose::{KeyMaterial, VerificationKey};
use crate::protocol;
use crate::protocol::ByteBuf;
use crate::service::state::{AnchorRecord, RoleRecord, Scope, State, MAX_ANCHORS, MAX_RULES};

#[cfg(doc)]
use super::apply_body;
use super::kek_store::MAX_KEK_ID;
use super::{
    anchor_wrap_aad, held_key_digest, kek_wrap_aad, Kek, KeyHolder, Op, OpError, ProvisionError,
    Secret, Signer, Unwrap, WrapBinding, MAX_KEKS, TPA_ROOT_ID,
};

/// Applies `ops`, signed by anchor `signer` ([`TPA_ROOT_ID`] = the root), in order to `state`
/// and `keks` (the caller works on copies and keeps them only on success). The TPA's model of
/// a device (`suit-author provision --state`) runs the same function ([`apply_body`]), so
/// both sides agree on the result. A delegate (any signer but the root) may not add, remove
/// or re-scope an anchor of role TPA: it could otherwise make more delegates, or shield
/// itself from the root. Wrapped secrets open only if bound to the signer's `binding` (and
/// their operation's fields: [`kek_wrap_aad`], [`anchor_wrap_aad`]). A key added (an
/// anchor's or a KEK) must not be one the TPA root (if known), another anchor or another KEK
/// already holds (`key_in_use`).
pub fn apply_ops(
    state: &mut State,
    keks: &mut Vec<Kek>,
    who: &Signer<'_>,
    ops: &[Op],
    unwrap: &mut Unwrap<'_>,
) -> Result<Vec<protocol::Applied>, ProvisionError> {
    let signer = who.id;
    let mut summary = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        if signer != TPA_ROOT_ID {
            if let Some(anchor) = touched_tpa_anchor(state, op) {
                return Err(ProvisionError::RootOnly {
                    index,
                    anchor,
                    signer,
                });
            }
        }
        let fail = |reason: OpError| ProvisionError::Op { index, reason };
        summary.push(apply_op(state, keks, op, &who.binding, unwrap).map_err(fail)?);
        if let Some((adding, holder)) = key_in_use(state, keks, who.root, op) {
            return Err(ProvisionError::KeyInUse {
                index,
                adding,
                holder,
            });
        }
    }
    Ok(summary)
}

/// After `op` added a key (an anchor's or a KEK), who else holds it: the added holder and the
/// earlier one, if any. One key, one holder: a signature's kid is not signed, so with one
/// public key under two anchors (or the root's key as an anchor) the REE would choose which
/// scope, role and counter a signature counts for, and removing one anchor would not revoke
/// the key; a secret that is both an HMAC anchor's key and a KEK (or two KEKs) lets whoever
/// is given it for one purpose use it for the other. Public keys are compared as keys (the
/// point, not the COSE_Key bytes), secrets in constant time (`subtle`); an HMAC key and a KEK
/// as HMAC keys (zero-padded to the block: `K` and `K || 00` are one HMAC key), two KEKs
/// exactly.
fn key_in_use(
    state: &State,
    keks: &[Kek],
    root: Option<&VerificationKey>,
    op: &Op,
) -> Option<(KeyHolder, KeyHolder)> {
    let anchor_key = |a: &AnchorRecord| VerificationKey::from_cose_key(&a.cose_key).ok();
    // A KEK's bytes as an HMAC key, for `same_key`'s padded constant-time comparison.
    let as_hmac = |k: &Kek| {
        VerificationKey::from(KeyMaterial::Hmac256(Zeroizing::new(
            k.key.expose().to_vec(),
        )))
    };
    // `op` succeeded, so what it added is there.
    let id = match op {
        Op::AddAnchor(a) => a.id,
        Op::AddSecretAnchor { id, .. } => *id,
        Op::AddKek { kid, .. } => {
            let added = keks.iter().find(|k| k.kid == *kid)?;
            let secret = added.key.expose();
            let holder = keks
                .iter()
                .filter(|k| k.kid != *kid)
                .find(|k| bool::from(subtle::ConstantTimeEq::ct_eq(k.key.expose(), secret)))
                .map(|k| KeyHolder::Kek(k.kid.clone()))
                .or_else(|| {
                    let added = as_hmac(added);
                    state
                        .anchors
                        .iter()
                        .find(|a| anchor_key(a).is_some_and(|(k, _)| k.same_key(&added)))
                        .map(|a| KeyHolder::Anchor(a.id))
                })?;
            return Some((KeyHolder::Kek(kid.clone()), holder));
        }
        _ => return None,
    };
    let (key, _) = state
        .anchors
        .iter()
        .find(|a| a.id == id)
        .and_then(anchor_key)?;
    let holder = if root.is_some_and(|r| r.same_key(&key)) {
        KeyHolder::Root
    } else if let Some(other) = state
        .anchors
        .iter()
        .filter(|a| a.id != id)
        .find(|a| anchor_key(a).is_some_and(|(k, _)| k.same_key(&key)))
    {
        KeyHolder::Anchor(other.id)
    } else {
        // `same_key` is false between a public key and an HMAC one.
        let kek = keks.iter().find(|k| as_hmac(k).same_key(&key))?;
        KeyHolder::Kek(kek.kid.clone())
    };
    Some((KeyHolder::Anchor(id), holder))
}

/// The anchor of role TPA that `op` would add, remove or re-scope in `state`, if any.
fn touched_tpa_anchor(state: &State, op: &Op) -> Option<u32> {
    let is_tpa = |id: u32| {
        state
            .anchors
            .iter()
            .any(|a| a.id == id && a.role == RoleRecord::Tpa)
    };
    match op {
        Op::AddAnchor(a) if a.role == RoleRecord::Tpa => Some(a.id),
        Op::AddSecretAnchor { id, role, .. } if *role == RoleRecord::Tpa => Some(*id),
        Op::RemoveAnchor { id } | Op::Rescope { id, .. } if is_tpa(*id) => Some(*id),
        _ => None,
    }
}

pub(super) fn parse_key(id: u32, cose_key: &[u8]) -> Result<VerificationKey, OpError> {
    VerificationKey::from_cose_key(cose_key)
        .map(|(k, _)| k)
        .map_err(|error| OpError::AnchorKey { anchor: id, error })
}

fn check_scope(scope: &Scope) -> Result<(), OpError> {
    if scope.component_prefixes.len() > 16
        || scope.vendor_ids.len() > 16
        || scope.class_ids.len() > 16
    {
        return Err(OpError::ScopeListsTooLong);
    }
    if scope.class_ids.iter().any(|c| c.len() != 16) {
        return Err(OpError::ClassIdLength);
    }
    if scope
        .vendor_ids
        .iter()
        .any(|v| v.is_empty() || v.len() > 64)
    {
        return Err(OpError::VendorIdLength);
    }
    if scope
        .component_prefixes
        .iter()
        .any(|p| p.len() > 8 || p.iter().any(|s| s.len() > 64))
    {
        return Err(OpError::ComponentPrefixTooLong);
    }
    if let Some(key) = &scope.tracker_key {
        // A point on P-256, uncompressed (the form stored and the one HPKE's KEM encodes).
        if key.len() != 65 || p256::PublicKey::from_sec1_bytes(key).is_err() {
            return Err(OpError::TrackerKey);
        }
    }
    Ok(())
}

fn add_anchor(state: &mut State, a: AnchorRecord) -> Result<protocol::Applied, OpError> {
    if a.id == TPA_ROOT_ID {
        return Err(OpError::ReservedAnchorId);
    }
    if state.anchors.iter().any(|x| x.id == a.id) {
        return Err(OpError::AnchorExists(a.id));
    }
    if state.anchors.len() >= MAX_ANCHORS {
        return Err(OpError::AnchorStoreFull);
    }
    // One key, one anchor: `apply_ops` checks the key against the root, the other anchors and
    // the KEKs once it is added (`key_in_use`).
    parse_key(a.id, &a.cose_key)?;
    check_scope(&a.scope)?;
    // The device, not the message, picks the key scope: a fresh one per addition.
    let mut a = a;
    a.key_scope = state.next_key_scope().ok_or(OpError::KeyScopesExhausted)?;
    let summary = protocol::Applied::AddedAnchor {
        id: a.id,
        role: a.role,
    };
    state.anchors.push(a);
    Ok(summary)
}

fn check_kek_id(kid: &[u8]) -> Result<(), OpError> {
    if kid.is_empty() || kid.len() > MAX_KEK_ID {
        return Err(OpError::KekIdLength);
    }
    Ok(())
}

fn apply_op(
    state: &mut State,
    keks: &mut Vec<Kek>,
    op: &Op,
    binding: &WrapBinding<'_>,
    unwrap: &mut Unwrap<'_>,
) -> Result<protocol::Applied, OpError> {
    use protocol::Applied;
    match op {
        Op::AddAnchor(a) => {
            if parse_key(a.id, &a.cose_key)?.is_symmetric() {
                Err(OpError::SymmetricInClear(a.id))
            } else {
                add_anchor(state, a.clone())
            }
        }
        Op::AddSecretAnchor {
            id,
            role,
            scope,
            wrapped_key,
        } => {
            if *role == RoleRecord::Tpa {
                return Err(OpError::SymmetricTpa(*id));
            }
            let cose_key = unwrap(&anchor_wrap_aad(binding, *id, *role, scope), wrapped_key)?;
            if !parse_key(*id, &cose_key)?.is_symmetric() {
                return Err(OpError::WrappedNotSymmetric(*id));
            }
            add_anchor(
                state,
                AnchorRecord {
                    id: *id,
                    cose_key: ByteBuf::from(cose_key.to_vec()),
                    role: *role,
                    scope: scope.clone(),
                    key_scope: 0,
                },
            )
        }
        Op::RemoveAnchor { id } => {
            let before = state.anchors.len();
            state.anchors.retain(|a| a.id != *id);
            if state.anchors.len() == before {
                return Err(OpError::NoAnchor(*id));
            }
            // Rules keep naming it: nobody meets them until an anchor with this id is added
            // again (failing closed; stripping the id could leave a rule requiring nobody).
            // A later anchor with the same id must not inherit its KEKs.
            for k in keks.iter_mut() {
                k.anchors.retain(|x| x != id);
            }
            Ok(Applied::RemovedAnchor { id: *id })
        }
        Op::Rescope { id, scope } => {
            check_scope(scope)?;
            let a = state
                .anchors
                .iter_mut()
                .find(|a| a.id == *id)
                .ok_or(OpError::NoAnchor(*id))?;
            a.scope = scope.clone();
            Ok(Applied::RescopedAnchor { id: *id })
        }
        Op::SetRules(rules) => {
            if rules.len() > MAX_RULES {
                return Err(OpError::TooManyRules);
            }
            for r in rules {
                if let Some(missing) = r
                    .required_anchors
                    .iter()
                    .find(|id| !state.anchors.iter().any(|a| a.id == **id))
                {
                    return Err(OpError::RuleUnknownAnchor(*missing));
                }
                if r.required_roles.is_empty() && r.required_anchors.is_empty() {
                    return Err(OpError::RuleWithoutSigner);
                }
            }
            state.rules = rules.clone();
            Ok(Applied::SetRules {
                count: u32::try_from(rules.len()).unwrap_or(u32::MAX),
            })
        }
        Op::SetIdentity(identity) => {
            for id in [&identity.vendor_id, &identity.class_id, &identity.device_id]
                .into_iter()
                .flatten()
            {
                if id.is_empty() || id.len() > 64 {
                    return Err(OpError::IdentifierLength);
                }
            }
            state.identity = identity.clone();
            Ok(Applied::SetIdentity)
        }
        Op::AddKek {
            kid,
            anchors,
            wrapped_key,
        } => {
            check_kek_id(kid)?;
            if anchors.is_empty() || anchors.len() > MAX_ANCHORS {
                return Err(OpError::KekAnchorCount);
            }
            // Each named anchor with the key it holds now (after the earlier operations).
            let held = anchors
                .iter()
                .map(|id| Ok((*id, held_key_digest(state, *id)?)))
                .collect::<Result<Vec<_>, OpError>>()?;
            if keks.iter().any(|k| k.kid == *kid) {
                return Err(OpError::KekExists(kid.clone()));
            }
            if keks.len() >= MAX_KEKS {
                return Err(OpError::TooManyKeks);
            }
            let key = unwrap(&kek_wrap_aad(binding, kid, &held), wrapped_key)?;
            if key.len() != 16 && key.len() != 32 {
                return Err(OpError::KekLength);
            }
            keks.push(Kek {
                kid: kid.clone(),
                anchors: anchors.clone(),
                key: Secret::new(ByteBuf::from(key.to_vec())),
            });
            Ok(Applied::AddedKek { kid: kid.clone() })
        }
        Op::RemoveKek { kid } => {
            let before = keks.len();
            keks.retain(|k| k.kid != *kid);
            if keks.len() == before {
                return Err(OpError::NoKek(kid.clone()));
            }
            Ok(Applied::RemovedKek { kid: kid.clone() })
        }
    }
}
