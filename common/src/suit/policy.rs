//! Device policy: trust anchors, what each may touch, who must sign what, rollback.
//!
//! Authentication answers "who signed"; this module answers "may they". Everything here is
//! checked before a command runs (component and identifier permissions, rollback) except the
//! required-signer rules, which are checked when a directive modifies a component, because in
//! a dependency tree the set of signers vouching for an operation depends on which manifest
//! performs it (trust domains: the dependent's signers plus the dependency's own).

use alloc::vec::Vec;

use crate::cose::VerificationKey;
use crate::suit::command::{Parameters, VendorId};
use crate::suit::component::ComponentId;
use crate::suit::error::PolicyError;
use crate::suit::manifest::Manifest;

/// Caller-chosen identifier of a trust anchor (stable across the anchor store).
pub type AnchorId = u32;

/// The role a trust anchor plays (RFC 9019 roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Trust Provisioning Authority: manages the anchor store itself.
    TrustProvisioningAuthority,
    /// Firmware / TA author.
    Author,
    /// Device operator (distribution system, TAM).
    Operator,
}

/// What manifests signed by an anchor may target. Empty lists mean "no restriction" for
/// identifiers, but "nothing" for components: component access must be granted explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Component identifier prefixes the anchor may act on (`ComponentId::default()` = all).
    pub component_prefixes: Vec<ComponentId>,
    /// Vendor identifiers the anchor may set (empty = any).
    pub vendor_ids: Vec<VendorId>,
    /// Class identifiers the anchor may set (empty = any).
    pub class_ids: Vec<[u8; 16]>,
}

impl Permissions {
    /// Permits every component and identifier.
    pub fn everything() -> Self {
        Permissions {
            component_prefixes: alloc::vec![ComponentId::default()],
            vendor_ids: Vec::new(),
            class_ids: Vec::new(),
        }
    }

    /// Whether `component` is inside one of the permitted prefixes.
    pub fn permits_component(&self, component: &ComponentId) -> bool {
        self.component_prefixes
            .iter()
            .any(|p| component.starts_with(p))
    }

    fn permits_parameters(&self, p: &Parameters) -> bool {
        let vendor_ok = match &p.vendor_id {
            Some(v) => self.vendor_ids.is_empty() || self.vendor_ids.contains(v),
            None => true,
        };
        let class_ok = match &p.class_id {
            Some(c) => self.class_ids.is_empty() || self.class_ids.contains(c),
            None => true,
        };
        vendor_ok && class_ok
    }
}

/// A key the device trusts, with its role and permissions.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    /// Identifier reported back when this anchor authenticates a manifest.
    pub id: AnchorId,
    /// COSE key id. A signature's kid is a hint: anchors it names are tried first, every
    /// other anchor of the signature's algorithm after them.
    pub kid: Vec<u8>,
    /// The verification key.
    pub key: VerificationKey,
    /// The anchor's role.
    pub role: Role,
    /// What manifests it signs may do.
    pub permissions: Permissions,
}

impl TrustAnchor {
    /// An anchor without key id and with every permission: a key trusted outright, as the
    /// author tool's own checks and the tests trust one (a device's anchors come from
    /// provisioning, with their scope).
    pub fn unrestricted(id: AnchorId, key: VerificationKey, role: Role) -> Self {
        Self {
            id,
            kid: Vec::new(),
            key,
            role,
            permissions: Permissions::everything(),
        }
    }
}

/// A signer requirement of a component rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Some anchor with this role must have signed.
    Role(Role),
    /// This specific anchor must have signed.
    Anchor(AnchorId),
}

/// "Modifying components under `prefix` requires all of `required`" (e.g. Author AND Operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRule {
    /// Components the rule covers.
    pub prefix: ComponentId,
    /// Every requirement must be met by the signers vouching for the operation.
    pub required: Vec<Requirement>,
}

/// The device's policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Trust anchors.
    pub anchors: Vec<TrustAnchor>,
    /// Per-component signer rules.
    pub rules: Vec<ComponentRule>,
    /// Commit decrypted content only if it also matched a plaintext image digest, even when
    /// an AEAD tag or a verified ciphertext already authenticates it (stricter than the
    /// firmware-encryption draft's decision tree, which is the default).
    pub require_plaintext_digest: bool,
    /// Update-management extensions: what the device does when it cannot answer a condition,
    /// how long it may wait (see [`UpdateManagementPolicy`]; the default is strict).
    pub update_management: crate::suit::update_management::UpdateManagementPolicy,
}

impl Policy {
    /// The anchor with `id`.
    pub fn anchor(&self, id: AnchorId) -> Option<&TrustAnchor> {
        self.anchors.iter().find(|a| a.id == id)
    }

    /// Checks, before anything runs, that a root manifest's own signers may act on every
    /// component it declares, on the identifier its sequence number is stored under, and may
    /// set every vendor / class identifier it sets.
    pub fn check_manifest(
        &self,
        manifest: &Manifest,
        signers: &[AnchorId],
    ) -> Result<(), PolicyError> {
        self.check_scope(manifest, signers, false)
    }

    /// [`Self::check_manifest`] for a dependency, whose manifest-component-id is ignored
    /// (trust domains) and whose sequence number is stored under its component list.
    pub fn check_dependency(
        &self,
        manifest: &Manifest,
        signers: &[AnchorId],
    ) -> Result<(), PolicyError> {
        self.check_scope(manifest, signers, true)
    }

    fn check_scope(
        &self,
        manifest: &Manifest,
        signers: &[AnchorId],
        dependency: bool,
    ) -> Result<(), PolicyError> {
        let own: Vec<&TrustAnchor> = signers.iter().filter_map(|id| self.anchor(*id)).collect();
        for index in 0..manifest.index_count() {
            let Some(id) = manifest.component_id(index) else {
                return Err(PolicyError::ComponentNotPermitted { component: index });
            };
            if !own.iter().any(|a| a.permissions.permits_component(&id)) {
                return Err(PolicyError::ComponentNotPermitted { component: index });
            }
        }
        // The sequence number is recorded under an identifier that one of the signers must
        // own, or one tenant could spend another's: a manifest-component-id is scoped like a
        // component, and the empty component list would be shared by every manifest without
        // components.
        let owned = match &manifest.manifest_component_id {
            Some(id) if !dependency => own.iter().any(|a| a.permissions.permits_component(id)),
            _ => !manifest.common.components.is_empty(),
        };
        if !owned {
            return Err(PolicyError::SequenceKeyNotPermitted);
        }
        let mut result = Ok(());
        for seq in manifest.sequences() {
            seq.for_each_parameters(&mut |p| {
                if result.is_ok() && !own.iter().any(|a| a.permissions.permits_parameters(p)) {
                    result = Err(PolicyError::IdentifierNotPermitted);
                }
            });
        }
        result
    }

    /// Checks the component rules for a modifying operation on `component` (index `index` in
    /// the running manifest), vouched for by `signers` (the running manifest's signers plus
    /// those of every dependent above it).
    pub fn check_required_signers(
        &self,
        component: &ComponentId,
        index: usize,
        signers: &[AnchorId],
    ) -> Result<(), PolicyError> {
        for rule in self
            .rules
            .iter()
            .filter(|r| component.starts_with(&r.prefix))
        {
            for req in &rule.required {
                // A signer counts only on components in its own scope: otherwise another
                // tenant's co-signature would meet a rule meant for this component's parties.
                // A rule may name an anchor that was removed (ids are the TPA's stable names):
                // nobody meets it until an anchor with that id exists again.
                let met = signers.iter().any(|s| {
                    self.anchor(*s).is_some_and(|a| {
                        a.permissions.permits_component(component)
                            && match req {
                                Requirement::Anchor(id) => a.id == *id,
                                Requirement::Role(role) => a.role == *role,
                            }
                    })
                });
                if !met {
                    return Err(PolicyError::MissingRequiredSigner {
                        component: index,
                        required: *req,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Rollback protection: the offered sequence number must be greater than the stored one
/// (any number is acceptable when none is stored).
pub fn check_rollback(stored: Option<u64>, offered: u64) -> Result<(), PolicyError> {
    match stored {
        Some(stored) if offered <= stored => Err(PolicyError::Rollback { stored, offered }),
        _ => Ok(()),
    }
}
