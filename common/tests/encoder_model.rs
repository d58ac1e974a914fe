//! The command model's own encoding (`suit::encode`, feature `author`): encoding is the
//! inverse of the engine's decoding. Every command sequence of the manifest draft's examples
//! encodes back to its exact bytes, and a sequence using every command and every parameter
//! survives encode -> seal -> authenticate -> decode unchanged.
#![cfg(feature = "author")]

use suit_common::cbor::{Decoder, Encoder, Item};
use suit_common::registry::{CommonKey, EnvelopeKey, ManifestKey};
use suit_common::suit::command::{
    Action, Command, CommandSequence, IndexArg, Parameters, VendorId,
};
use suit_common::suit::error::ConditionKind;
use suit_common::suit::update_management::{
    ActorId, Comparison, ComponentMetadata, FileType, VersionMatch, WaitEvent, WaitInfo,
};
use suit_common::suit::{Digest, Envelope, Manifest};
use suit_test_support::{hex_file, spec_policy, spec_signed_with};

/// The value of integer key `key` in the CBOR map `bytes`, as encoded.
fn member(bytes: &[u8], key: i64) -> Option<&[u8]> {
    let mut d = Decoder::new(bytes);
    if let Ok(Item::Tag(_)) = d.peek() {
        d.tag().unwrap();
    }
    let n = d.map().unwrap();
    for _ in 0..n {
        let k = match d.item().unwrap() {
            Item::Uint(u) => i64::try_from(u).ok(),
            Item::Nint(_) => None,
            Item::Text(_) => None,
            other => panic!("{other:?}"),
        };
        let v = d.skip().unwrap();
        if k == Some(key) {
            return Some(v);
        }
    }
    None
}

/// The content of a bstr item.
fn bstr(item: &[u8]) -> Option<&[u8]> {
    Decoder::new(item).bytes().ok()
}

/// A sequence's name, its decoded form and its bytes in the envelope.
type Pair<'a> = (&'static str, Option<&'a CommandSequence>, Option<&'a [u8]>);

fn authenticated(env: &[u8]) -> Manifest {
    Envelope::decode(env)
        .unwrap()
        .authenticate(&spec_policy().anchors)
        .unwrap()
        .manifest
}

#[test]
fn the_drafts_example_sequences_encode_back_to_their_bytes() {
    let mut checked = 0;
    for name in [
        "example0.signed.hex",
        "example1.signed.hex",
        "example2.signed.hex",
        "example3.signed.hex",
        "example4.signed.hex",
        "example5.signed.hex",
    ] {
        let env = hex_file(&format!("suit-manifest-spec/{name}"));
        let manifest = authenticated(&env);
        let raw = bstr(member(&env, EnvelopeKey::Manifest.value()).unwrap()).unwrap();
        let common = bstr(member(raw, ManifestKey::Common.value()).unwrap()).unwrap();
        let shared = member(common, CommonKey::SharedSequence.value()).and_then(bstr);
        let mut pairs: Vec<Pair<'_>> =
            vec![("shared", manifest.common.shared_sequence.as_ref(), shared)];
        for (key, seq) in [
            (ManifestKey::Validate, manifest.validate.as_ref()),
            (ManifestKey::Load, manifest.load.as_ref()),
            (ManifestKey::Invoke, manifest.invoke.as_ref()),
            (ManifestKey::PayloadFetch, manifest.payload_fetch.get()),
            (ManifestKey::Install, manifest.install.get()),
            (
                ManifestKey::DependencyResolution,
                manifest.dependency_resolution.get(),
            ),
            (
                ManifestKey::CandidateVerification,
                manifest.candidate_verification.get(),
            ),
            (ManifestKey::Uninstall, manifest.uninstall.as_ref()),
        ] {
            // A severed member is in the envelope under the same key.
            let bytes = member(raw, key.value())
                .and_then(bstr)
                .or_else(|| member(&env, key.value()).and_then(bstr));
            pairs.push((key.name(), seq, bytes));
        }
        for (what, seq, bytes) in pairs {
            match (seq, bytes) {
                (Some(seq), Some(bytes)) => {
                    assert_eq!(seq.encode(), bytes, "{name} {what}");
                    checked += 1;
                }
                (None, None) => {}
                other => panic!("{name} {what}: {other:?}"),
            }
        }
    }
    // Every example has a shared sequence and at least one more.
    assert!(checked >= 12, "{checked}");
}

fn every_parameter() -> Parameters {
    Parameters {
        vendor_id: Some(VendorId::Pen(vec![0x81, 0x86, 0x06].into())),
        class_id: Some([0x22; 16]),
        image_digest: Some(Digest([0x33; 32])),
        component_slot: Some(1),
        strict_order: Some(false),
        soft_failure: Some(true),
        image_size: Some(70_000),
        content: Some(vec![1, 2, 3].into()),
        encryption_info: Some(vec![0x82, 0x01, 0x40].into()),
        uri: Some("#payload".into()),
        source_component: Some(1),
        invoke_args: Some(b"console=ttyS0"[..].into()),
        device_id: Some([0x44; 16]),
        fetch_args: Some(vec![0xa0].into()),
        custom: vec![
            (-1, vec![0x01].into()),
            (-30, vec![0x63, b'a', b'b', b'c'].into()),
        ],
        use_before: Some(1_900_000_000),
        minimum_battery: Some(500),
        update_priority: Some(-3),
        version: Some(std::sync::Arc::new(VersionMatch {
            comparison: Comparison::GreaterEqual,
            value: vec![1, 2, -1],
        })),
        wait_info: Some(std::sync::Arc::new(WaitInfo {
            events: vec![
                WaitEvent::Authorization(2),
                WaitEvent::OtherDeviceVersion {
                    device: vec![7, 7],
                    versions: vec![VersionMatch {
                        comparison: Comparison::Lesser,
                        value: vec![3],
                    }],
                },
                WaitEvent::TimeOfDayUtc(3600),
            ],
        })),
        component_metadata: Some(std::sync::Arc::new(ComponentMetadata {
            default_permissions: Some(0o644),
            // In deterministic order of their encodings, as a decoder returns them.
            user_permissions: vec![(ActorId::Int(1000), 6), (ActorId::Text("root".into()), 7)],
            group_permissions: Vec::new(),
            role_permissions: vec![(ActorId::Uuid(vec![0x55; 16]), 4)],
            file_type: Some(FileType::Regular),
            modification_time: Some(1_700_000_000),
            creation_time: None,
            creator: Some(ActorId::Bytes(vec![9])),
        })),
    }
}

fn every_command() -> CommandSequence {
    let inner = |c: Command| CommandSequence::from_commands(vec![c]);
    CommandSequence::from_commands(vec![
        Command::SetComponentIndex(IndexArg::One(0)),
        Command::OverrideParameters(Box::new(every_parameter())),
        Command::SetParameters(Box::new(Parameters {
            vendor_id: Some(VendorId::Uuid([0x11; 16])),
            ..Parameters::default()
        })),
        Command::Condition(ConditionKind::VendorIdentifier, 15),
        Command::Condition(ConditionKind::Version, 0),
        Command::TryEach {
            options: vec![
                inner(Command::Condition(ConditionKind::ImageMatch, 3)),
                inner(Command::Condition(ConditionKind::Abort, 0)),
            ],
            empty_fallback: true,
        },
        Command::RunSequence(inner(Command::Action(Action::Fetch, 2))),
        Command::SetComponentIndex(IndexArg::List(vec![0, 1])),
        Command::Action(Action::Copy, 1),
        Command::OverrideMultiple(vec![
            (
                0,
                Parameters {
                    image_size: Some(5),
                    ..Parameters::default()
                },
            ),
            (
                1,
                Parameters {
                    uri: Some("http://example.com".into()),
                    ..Parameters::default()
                },
            ),
        ]),
        Command::CopyParams(vec![(1, vec![3, 14, -1])]),
        Command::SetComponentIndex(IndexArg::All),
        Command::Action(Action::Wait, 0),
        Command::Custom(-7, vec![0x82, 0x01, 0x02]),
    ])
}

/// The commands with the byte offsets decoding records (nested ones included) left out.
fn without_offsets(seq: &CommandSequence) -> Vec<Command> {
    let strip = |s: &CommandSequence| CommandSequence::from_commands(without_offsets(s));
    seq.commands
        .iter()
        .map(|c| match c {
            Command::TryEach {
                options,
                empty_fallback,
            } => Command::TryEach {
                options: options.iter().map(strip).collect(),
                empty_fallback: *empty_fallback,
            },
            Command::RunSequence(s) => Command::RunSequence(strip(s)),
            other => other.clone(),
        })
        .collect()
}

#[test]
fn every_command_and_parameter_survives_encode_and_decode() {
    let seq = every_command();
    let bytes = seq.encode();
    let env = spec_signed_with(
        &[&[0], &[1]],
        ManifestKey::Install.value(),
        suit_test_support::bytes(&bytes),
    );
    let manifest = authenticated(&env);
    let decoded = manifest.install.get().unwrap();
    assert_eq!(without_offsets(decoded), without_offsets(&seq));
    assert_eq!(decoded.encode(), bytes);
}

#[test]
fn parameters_are_written_in_deterministic_key_order() {
    // Given out of order, custom labels come out -1, -2, -25 after the registered ones.
    let p = Parameters {
        image_size: Some(1),
        vendor_id: Some(VendorId::Uuid([0; 16])),
        custom: vec![
            (-25, vec![0xf6].into()),
            (-1, vec![0xf5].into()),
            (-2, vec![0xf4].into()),
        ],
        ..Parameters::default()
    };
    let mut e = Encoder::new();
    p.encode_to(&mut e);
    let bytes = e.into_bytes();
    let mut d = Decoder::new(&bytes);
    assert_eq!(d.map().unwrap(), 5);
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(d.int().unwrap());
        d.skip().unwrap();
    }
    d.finish().unwrap();
    assert_eq!(keys, [1, 14, -1, -2, -25]);
}
