//! The command model written back as CBOR (feature `author`): each decoder in `command`,
//! `update_management` and `component` has its inverse here, so the author tool builds a
//! manifest's sequences as typed [`Command`]s and never spells labels or CBOR by hand.
//!
//! Everything is written the way the manifest draft requires (§8.3 "Encoding Considerations":
//! deterministic CBOR): shortest headers, definite lengths, map keys in bytewise order of
//! their encodings. Encoding what the decoders accepted gives the same bytes back for a
//! deterministically encoded input.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::cbor::Encoder;
use crate::registry::{Command as Label, MetadataKey, Parameter as P};
use crate::suit::command::{Action, Command, CommandSequence, IndexArg, Parameters, VendorId};
use crate::suit::update_management::{
    ActorId, ComponentMetadata, FileType, VersionMatch, WaitEvent, WaitInfo,
};

/// CBOR tag of a PEN vendor identifier (RFC 9090 relative OID).
const TAG_PEN: u64 = 112;
/// CBOR tag of a UUID actor id (SUIT_meta_actor_id).
const TAG_UUID: u64 = 37;
/// CBOR tag of an epoch-based time.
const TAG_EPOCH_TIME: u64 = 1;

/// Writes `f`'s output as a byte string (SUIT's `bstr .cbor`).
fn wrapped(e: &mut Encoder, f: impl FnOnce(&mut Encoder)) {
    let mut inner = Encoder::new();
    f(&mut inner);
    e.bytes(&inner.into_bytes());
}

impl VendorId {
    /// suit-parameter-vendor-identifier's value: a UUID bstr, or a PEN as `#6.112(bstr)`.
    pub fn encode_to(&self, e: &mut Encoder) {
        match self {
            VendorId::Uuid(u) => e.bytes(u),
            VendorId::Pen(p) => e.tag(TAG_PEN).bytes(p),
        };
    }
}

impl IndexArg {
    /// suit-directive-set-component-index's argument.
    pub fn encode_to(&self, e: &mut Encoder) {
        match self {
            IndexArg::One(i) => {
                e.uint(*i);
            }
            IndexArg::All => {
                e.bool(true);
            }
            IndexArg::List(list) => {
                e.array(list.len());
                for i in list {
                    e.uint(*i);
                }
            }
        }
    }
}

impl Parameters {
    /// SUIT_Parameters: registered labels in ascending order, then the custom (negative)
    /// ones, -1 first (bytewise order of their encodings).
    pub fn encode_to(&self, e: &mut Encoder) {
        let mut custom: Vec<&(i64, Arc<[u8]>)> = self.custom.iter().collect();
        custom.sort_by_key(|(k, _)| core::cmp::Reverse(*k));
        let registered = [
            self.vendor_id.is_some(),
            self.class_id.is_some(),
            self.image_digest.is_some(),
            self.use_before.is_some(),
            self.component_slot.is_some(),
            self.strict_order.is_some(),
            self.soft_failure.is_some(),
            self.image_size.is_some(),
            self.content.is_some(),
            self.encryption_info.is_some(),
            self.uri.is_some(),
            self.source_component.is_some(),
            self.invoke_args.is_some(),
            self.device_id.is_some(),
            self.fetch_args.is_some(),
            self.minimum_battery.is_some(),
            self.update_priority.is_some(),
            self.version.is_some(),
            self.wait_info.is_some(),
            self.component_metadata.is_some(),
        ];
        e.map(registered.iter().filter(|p| **p).count() + custom.len());
        let key = |e: &mut Encoder, p: P| {
            e.int(p.value());
        };
        if let Some(v) = &self.vendor_id {
            key(e, P::VendorIdentifier);
            v.encode_to(e);
        }
        if let Some(c) = &self.class_id {
            key(e, P::ClassIdentifier);
            e.bytes(c);
        }
        if let Some(d) = &self.image_digest {
            key(e, P::ImageDigest);
            e.bytes(&d.encode());
        }
        if let Some(t) = self.use_before {
            key(e, P::UseBefore);
            e.uint(t);
        }
        if let Some(s) = self.component_slot {
            key(e, P::ComponentSlot);
            e.uint(s);
        }
        if let Some(b) = self.strict_order {
            key(e, P::StrictOrder);
            e.bool(b);
        }
        if let Some(b) = self.soft_failure {
            key(e, P::SoftFailure);
            e.bool(b);
        }
        if let Some(s) = self.image_size {
            key(e, P::ImageSize);
            e.uint(s);
        }
        if let Some(c) = &self.content {
            key(e, P::Content);
            e.bytes(c);
        }
        if let Some(i) = &self.encryption_info {
            key(e, P::EncryptionInfo);
            e.bytes(i);
        }
        if let Some(u) = &self.uri {
            key(e, P::Uri);
            e.text(u);
        }
        if let Some(s) = self.source_component {
            key(e, P::SourceComponent);
            e.uint(s);
        }
        if let Some(a) = &self.invoke_args {
            key(e, P::InvokeArgs);
            e.bytes(a);
        }
        if let Some(d) = &self.device_id {
            key(e, P::DeviceIdentifier);
            e.bytes(d);
        }
        if let Some(a) = &self.fetch_args {
            key(e, P::FetchArguments);
            e.bytes(a);
        }
        if let Some(b) = self.minimum_battery {
            key(e, P::MinimumBattery);
            e.uint(b);
        }
        if let Some(p) = self.update_priority {
            key(e, P::UpdatePriority);
            e.int(p);
        }
        if let Some(v) = &self.version {
            key(e, P::Version);
            wrapped(e, |e| v.encode_to(e));
        }
        if let Some(w) = &self.wait_info {
            key(e, P::WaitInfo);
            wrapped(e, |e| w.encode_to(e));
        }
        if let Some(m) = &self.component_metadata {
            key(e, P::ComponentMetadata);
            wrapped(e, |e| m.encode_to(e));
        }
        for (k, raw) in custom {
            e.int(*k);
            e.raw(raw);
        }
    }
}

impl Action {
    /// The directive's label.
    pub const fn label(self) -> Label {
        match self {
            Action::Write => Label::Write,
            Action::Fetch => Label::Fetch,
            Action::Copy => Label::Copy,
            Action::Invoke => Label::Invoke,
            Action::Swap => Label::Swap,
            Action::ProcessDependency => Label::ProcessDependency,
            Action::Unlink => Label::Unlink,
            Action::Wait => Label::Wait,
        }
    }
}

impl Command {
    /// The command's label and argument (two items of a SUIT_Command_Sequence).
    pub fn encode_to(&self, e: &mut Encoder) {
        match self {
            Command::Condition(kind, policy) => {
                e.int(kind.command().value()).uint(*policy);
            }
            Command::Action(action, policy) => {
                e.int(action.label().value()).uint(*policy);
            }
            Command::SetComponentIndex(arg) => {
                e.int(Label::SetComponentIndex.value());
                arg.encode_to(e);
            }
            Command::OverrideParameters(p) => {
                e.int(Label::OverrideParameters.value());
                p.encode_to(e);
            }
            Command::SetParameters(p) => {
                e.int(Label::SetParameters.value());
                p.encode_to(e);
            }
            Command::TryEach {
                options,
                empty_fallback,
            } => {
                e.int(Label::TryEach.value());
                e.array(options.len() + usize::from(*empty_fallback));
                for o in options {
                    e.bytes(&o.encode());
                }
                if *empty_fallback {
                    e.null();
                }
            }
            Command::RunSequence(s) => {
                e.int(Label::RunSequence.value()).bytes(&s.encode());
            }
            Command::Custom(label, raw) => {
                e.int(*label).raw(raw);
            }
            Command::OverrideMultiple(list) => {
                e.int(Label::OverrideMultiple.value()).map(list.len());
                for (i, p) in list {
                    e.uint(*i);
                    p.encode_to(e);
                }
            }
            Command::CopyParams(list) => {
                e.int(Label::CopyParams.value()).map(list.len());
                for (i, labels) in list {
                    e.uint(*i).array(labels.len());
                    for l in labels {
                        e.int(*l);
                    }
                }
            }
        }
    }
}

impl CommandSequence {
    /// Builds a sequence from commands (offsets are filled in when it is decoded).
    pub fn from_commands(commands: Vec<Command>) -> Self {
        CommandSequence {
            commands,
            offsets: Vec::new(),
        }
    }

    /// SUIT_Command_Sequence: `[+ label, argument]`.
    pub fn encode_to(&self, e: &mut Encoder) {
        e.array(self.commands.len().saturating_mul(2));
        for c in &self.commands {
            c.encode_to(e);
        }
    }

    /// The encoded sequence (the content of the bstr that holds it in a manifest).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        self.encode_to(&mut e);
        e.into_bytes()
    }
}

impl VersionMatch {
    /// SUIT_Parameter_Version_Match: `[comparison-type, [+int]]`.
    pub fn encode_to(&self, e: &mut Encoder) {
        e.array(2)
            .uint(self.comparison.label())
            .array(self.value.len());
        for v in &self.value {
            e.int(*v);
        }
    }
}

impl WaitInfo {
    /// SUIT_Wait_Event: events in ascending label order.
    pub fn encode_to(&self, e: &mut Encoder) {
        let mut events: Vec<&WaitEvent> = self.events.iter().collect();
        events.sort_by_key(|ev| ev.kind().value());
        e.map(events.len());
        for ev in events {
            e.int(ev.kind().value());
            match ev {
                WaitEvent::Authorization(v) | WaitEvent::Power(v) | WaitEvent::Network(v) => {
                    e.int(*v);
                }
                WaitEvent::OtherDeviceVersion { device, versions } => {
                    e.array(2).bytes(device).array(versions.len());
                    for v in versions {
                        v.encode_to(e);
                    }
                }
                WaitEvent::Time(t)
                | WaitEvent::TimeOfDay(t)
                | WaitEvent::DayOfWeek(t)
                | WaitEvent::TimeOfDayUtc(t)
                | WaitEvent::DayOfWeekUtc(t) => {
                    e.uint(*t);
                }
            }
        }
    }
}

impl ActorId {
    /// SUIT_meta_actor_id.
    pub fn encode_to(&self, e: &mut Encoder) {
        match self {
            ActorId::Uuid(u) => e.tag(TAG_UUID).bytes(u),
            ActorId::Bytes(b) => e.bytes(b),
            ActorId::Text(t) => e.text(t),
            ActorId::Int(i) => e.int(*i),
        };
    }
}

/// A SUIT_meta_permission_map: actors in bytewise order of their encodings.
fn permission_map(e: &mut Encoder, entries: &[(ActorId, u64)]) {
    let mut sorted: Vec<(Vec<u8>, u64)> = entries
        .iter()
        .map(|(a, p)| {
            let mut k = Encoder::new();
            a.encode_to(&mut k);
            (k.into_bytes(), *p)
        })
        .collect();
    sorted.sort();
    e.map(sorted.len());
    for (k, p) in sorted {
        e.raw(&k).uint(p);
    }
}

impl ComponentMetadata {
    /// SUIT_Component_Metadata, members in ascending label order.
    pub fn encode_to(&self, e: &mut Encoder) {
        let n = [
            self.default_permissions.is_some(),
            !self.user_permissions.is_empty(),
            !self.group_permissions.is_empty(),
            !self.role_permissions.is_empty(),
            self.file_type.is_some(),
            self.modification_time.is_some(),
            self.creation_time.is_some(),
            self.creator.is_some(),
        ]
        .iter()
        .filter(|p| **p)
        .count();
        e.map(n);
        if let Some(p) = self.default_permissions {
            e.int(MetadataKey::DefaultPermissions.value()).uint(p);
        }
        for (label, map) in [
            (MetadataKey::UserPermissions, &self.user_permissions),
            (MetadataKey::GroupPermissions, &self.group_permissions),
            (MetadataKey::RolePermissions, &self.role_permissions),
        ] {
            if !map.is_empty() {
                e.int(label.value());
                permission_map(e, map);
            }
        }
        if let Some(t) = self.file_type {
            e.int(MetadataKey::FileType.value()).uint(match t {
                FileType::Regular => 1,
                FileType::Directory => 2,
                FileType::Symlink => 3,
            });
        }
        if let Some(t) = self.modification_time {
            e.int(MetadataKey::ModificationTime.value())
                .tag(TAG_EPOCH_TIME)
                .uint(t);
        }
        if let Some(t) = self.creation_time {
            e.int(MetadataKey::CreationTime.value())
                .tag(TAG_EPOCH_TIME)
                .uint(t);
        }
        if let Some(c) = &self.creator {
            e.int(MetadataKey::Creator.value());
            c.encode_to(e);
        }
    }
}
