//! The protocol codec: every message round-trips, its bytes are the ones the earlier
//! serde/ciborium encoding produced (protocol version 1 clients read them), and malformed,
//! trailing, oversize and too-deep input is refused without panicking.
// Helpers outside #[test] unwrap, slice and narrow lengths (clippy.toml covers the tests).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::fmt::Debug;

use suit_protocol::*;

fn b(bytes: &[u8]) -> ByteBuf {
    ByteBuf::from(bytes.to_vec())
}

fn path(segments: &[&[u8]]) -> ComponentPath {
    ComponentPath(segments.iter().map(|s| b(s)).collect())
}

fn platform() -> PlatformInfo {
    PlatformInfo {
        tee_version: Some(PropertyText(b(b"4.1"))),
        anti_rollback_level: Some(100),
        rollback_detection_level: None,
        warnings: vec!["w".into()],
        attestation_pta: Some(false),
        prerequisites: vec![Prerequisite::new(
            prerequisite::HARDWARE_RNG,
            None,
            "unknown",
        )],
        device_id: Some(STUB_HUK_DEVICE_ID.into()),
    }
}

fn service() -> ServiceInfo {
    ServiceInfo {
        tpa_root_kid: b(&[1; 16]),
        tpa_root_is_test_key: true,
        provisioning_counter: u64::MAX,
        anchors: 3,
        installed_components: 1,
        device_key_kid: Some(b(&[2; 16])),
        state_error: Some(b(&[0x82, 0x01, 0x82, 0x01])),
        components: vec![ComponentInfo {
            id: path(&[b"app"]),
            sequence_number: 7,
            size: 70_000,
            digest: b(&[3; 32]),
            ta_version: Some(2),
            released_by: vec![
                ReleaseInfo {
                    anchor: 1,
                    holds: true,
                },
                ReleaseInfo {
                    anchor: RELEASE_UNRECORDED,
                    holds: false,
                },
            ],
        }],
        unconfirmed_tas: vec![TaUuid([0x5e; 16])],
        delegate_counter: Some(u64::MAX - 1),
        awaiting_envelope: Some(b(&[0xe7; 32])),
    }
}

fn anchor_keys() -> AnchorKeysInfo {
    AnchorKeysInfo {
        id: 1,
        key_scope: 1 << 40,
        ecdh_es_key: b(&[4; 65]),
        ecdh_es_kid: b(&[5; 16]),
        hpke_key: b(&[6; 65]),
        hpke_kid: b(&[7; 16]),
    }
}

/// One sample of every message, each field set (optional ones both ways across samples).
struct Samples;

/// Checks one message: round trip, the earlier bytes, and refusal of every truncation.
fn check<T: Codec + serde::Serialize + PartialEq + Debug>(name: &str, v: T, same_as_v1: bool) {
    let bytes = encode(&v).unwrap();
    assert_eq!(
        decode::<T>(&bytes, MAX_REQUEST).unwrap(),
        v,
        "{name}: round trip"
    );
    if same_as_v1 {
        let mut old = Vec::new();
        ciborium::ser::into_writer(&v, &mut old).unwrap();
        assert_eq!(bytes, old, "{name}: bytes differ from the serde encoding");
    }
    for cut in 0..bytes.len() {
        assert!(
            decode::<T>(&bytes[..cut], MAX_REQUEST).is_err(),
            "{name}: a {cut}-byte prefix decoded"
        );
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        decode::<T>(&trailing, MAX_REQUEST),
        Err(CodecError::TrailingBytes),
        "{name}"
    );
    assert_eq!(
        decode::<T>(&bytes, bytes.len() - 1),
        Err(CodecError::TooLarge),
        "{name}"
    );
}

impl Samples {
    fn all() {
        check("Empty", Empty {}, true);
        check(
            "StatusResponse",
            StatusResponse {
                protocol_version: PROTOCOL_VERSION,
                ta_version: "0.1.0".into(),
                backend: "simulator".into(),
                platform: platform(),
                service: service(),
            },
            false,
        );
        check("PlatformInfo default", PlatformInfo::default(), true);
        check("ServiceInfo default", ServiceInfo::default(), true);
        check(
            "DeviceKeyRequest none",
            DeviceKeyRequest { anchor: None },
            true,
        );
        check(
            "DeviceKeyRequest some",
            DeviceKeyRequest { anchor: Some(9) },
            true,
        );
        let dk = DeviceKeyResponse {
            identity_key: b(&[8; 65]),
            identity_kid: b(&[9; 16]),
            report_key: b(&[10; 65]),
            report_kid: b(&[11; 16]),
            provisioning_key: b(&[12; 65]),
            provisioning_kid: b(&[13; 16]),
            anchor: Some(anchor_keys()),
            statement: b(&[14; 100]),
            origin: "optee".into(),
        };
        check("DeviceKeyResponse", dk.clone(), true);
        check(
            "DeviceKeyResponse no anchor",
            DeviceKeyResponse { anchor: None, ..dk },
            true,
        );
        check("AnchorKeysInfo", anchor_keys(), true);
        check(
            "ProvisionRequest",
            ProvisionRequest {
                message: b(&[0xa5; 1000]),
            },
            true,
        );
        // Protocol 4: `applied` is typed ([code, fields...]), no longer the serde text.
        check(
            "ProvisionResponse",
            ProvisionResponse {
                counter: 2,
                signer: 0,
                applied: applied_samples().into_iter().map(|(a, _)| a).collect(),
                receipt: b(&[15; 80]),
            },
            false,
        );
        check(
            "AnchorsResponse",
            AnchorsResponse {
                provisioning_counter: 5,
                delegate_counter: Some(6),
                identity: IdentityInfo {
                    vendor_id: Some(b(&[16; 16])),
                    class_id: None,
                    device_id: Some(b(&[17; 16])),
                },
                anchors: vec![AnchorInfo {
                    id: 1,
                    role: RoleRecord::Author,
                    kid: b(&[18; 16]),
                    key_type: KeyType::P256,
                    component_prefixes: vec![path(&[b"app"])],
                    vendor_ids: vec![b(&[19; 16]), b(&[])],
                    class_ids: vec![],
                    ree_plaintext: Some(true),
                    tracker_key: Some(b(&[4; 65])),
                }],
                rules: vec![RuleInfo {
                    prefix: path(&[b"ta"]),
                    required: vec![Requirement::Role(RoleRecord::Tpa), Requirement::Anchor(7)],
                }],
            },
            false,
        );
        check("IdentityInfo default", IdentityInfo::default(), true);
        check(
            "InstallBeginRequest",
            InstallBeginRequest { envelope_len: 300 },
            true,
        );
        check(
            "ChunkRequest",
            ChunkRequest {
                offset: 1 << 33,
                data: b(&[20; 70_000]),
            },
            true,
        );
        check(
            "InstallPrepareResponse",
            InstallPrepareResponse {
                needed_uris: vec!["https://h/p".into(), "https://h/q".into()],
                sequence_number: 3,
                signers: vec![1, 2],
                needed_sizes: vec![Some(10), None],
            },
            true,
        );
        check(
            "PayloadChunkRequest",
            PayloadChunkRequest {
                uri: "https://h/p".into(),
                total_len: 0,
                offset: 0,
                data: b(&[]),
            },
            true,
        );
        // Protocol 6: the URIs a delivered dependency envelope adds.
        check(
            "PayloadChunkResponse",
            PayloadChunkResponse {
                needed_uris: vec!["https://h/r".into()],
                needed_sizes: vec![None],
            },
            true,
        );
        check(
            "PayloadChunkResponse default",
            PayloadChunkResponse::default(),
            true,
        );
        check(
            "PersonalizationResponse",
            PersonalizationResponse { data: b(b"secret") },
            true,
        );
        check(
            "ReeExportRequest",
            ReeExportRequest {
                path: "ree/x".into(),
                offset: 24,
            },
            true,
        );
        check(
            "ReeExportResponse",
            ReeExportResponse {
                total_len: 1 << 20,
                digest: b(&[21; 32]),
                data: b(&[22; 256]),
            },
            true,
        );
        check(
            "ReportRequest",
            ReportRequest {
                nonce: Some(b(&[23; 8])),
                pre_auth: true,
            },
            true,
        );
        check("ReportRequest default", ReportRequest::default(), true);
        check(
            "ReportResponse",
            ReportResponse {
                report: b(&[24; 500]),
            },
            true,
        );
        check(
            "InstallFinishResponse",
            InstallFinishResponse {
                sequence_number: 4,
                signers: vec![],
                components: vec![path(&[b"app"])],
                manifest_digest: b(&[25; 32]),
                ree_paths: vec!["ree/x".into()],
            },
            false,
        );
        check(
            "Prerequisite",
            Prerequisite::new(prerequisite::OWN_TPA_ROOT, Some(true), "yes"),
            true,
        );
        check("ComponentInfo default", ComponentInfo::default(), false);
        // Messages whose bytes changed: a refusal's kind is a code and its fault a typed
        // value (bytes here; protocol versions 2 and 3), provisioning's applied operations
        // (4), component ids, UUIDs, roles, key types, rules' requirements and the OS version
        // (5) are typed data.
        check(
            "Refusal",
            Refusal {
                kind: RefusalKind::Manifest,
                fault: b(&[0x81, 0x00]),
            },
            false,
        );
    }
}

#[test]
fn every_message_round_trips_with_its_earlier_bytes_and_refuses_truncation() {
    Samples::all();
}

#[test]
fn a_refusal_carries_its_kind_as_a_stable_code() {
    let r = Refusal {
        kind: RefusalKind::NotFound,
        fault: b(&[0x78]),
    };
    // {"kind": 9, "fault": h'78'}
    let expected = [
        0xa2, 0x64, b'k', b'i', b'n', b'd', 0x09, 0x65, b'f', b'a', b'u', b'l', b't', 0x41, 0x78,
    ];
    assert_eq!(encode(&r).unwrap(), expected);
    // Codes are fixed once given; names are what the tools print.
    let table = [
        (RefusalKind::Unspecified, 0, "unspecified"),
        (RefusalKind::Internal, 1, "internal"),
        (RefusalKind::Storage, 2, "storage"),
        (RefusalKind::DeviceKey, 3, "device-key"),
        (RefusalKind::Provisioning, 4, "provisioning"),
        (RefusalKind::Manifest, 5, "manifest"),
        (RefusalKind::Sequence, 6, "sequence"),
        (RefusalKind::TooLarge, 7, "too-large"),
        (RefusalKind::Payload, 8, "payload"),
        (RefusalKind::NotFound, 9, "not-found"),
        (RefusalKind::Access, 10, "access"),
        (RefusalKind::Report, 11, "report"),
    ];
    for (kind, code, name) in table {
        assert_eq!(kind.code(), code);
        assert_eq!(RefusalKind::from_code(code), kind);
        assert_eq!(kind.to_string(), name);
    }
    // A code from a newer TA stays readable, and is passed on unchanged.
    let mut newer = expected;
    newer[6] = 0x17; // kind 23
    let r: Refusal = decode(&newer, MAX_RESPONSE).unwrap();
    assert_eq!(r.kind, RefusalKind::Other(23));
    assert_eq!(r.kind.to_string(), "kind 23");
    assert_eq!(encode(&r).unwrap(), newer);
    // A text kind (protocol version 1) is not a refusal of this version.
    let v1 = [
        0xa2, 0x64, b'k', b'i', b'n', b'd', 0x61, b'm', 0x66, b'r', b'e', b'a', b's', b'o', b'n',
        0x61, b'x',
    ];
    assert_eq!(
        decode::<Refusal>(&v1, MAX_RESPONSE),
        Err(CodecError::Malformed)
    );
}

#[test]
fn unknown_keys_are_skipped_and_optional_fields_may_be_absent() {
    // {"offset": 1, "extra": [1, {"x": h''}], 7: 0, "data": h'01'}
    let bytes = [
        0xa4, 0x66, b'o', b'f', b'f', b's', b'e', b't', 0x01, 0x65, b'e', b'x', b't', b'r', b'a',
        0x82, 0x01, 0xa1, 0x61, b'x', 0x40, 0x07, 0x00, 0x64, b'd', b'a', b't', b'a', 0x41, 0x01,
    ];
    let c: ChunkRequest = decode(&bytes, MAX_REQUEST).unwrap();
    assert_eq!(c.offset, 1);
    assert_eq!(c.data.as_slice(), [1]);
    // {"nonce": null}: pre_auth defaults to false; {} : nonce absent too.
    let r: ReportRequest = decode(&[0xa1, 0x65, b'n', b'o', b'n', b'c', b'e', 0xf6], 64).unwrap();
    assert_eq!(r, ReportRequest::default());
    assert_eq!(decode::<ReportRequest>(&[0xa0], 64).unwrap(), r);
    // Fields older TAs did not send.
    let old = [
        0xa3, 0x6b, b'n', b'e', b'e', b'd', b'e', b'd', b'_', b'u', b'r', b'i', b's', 0x80, 0x6f,
        b's', b'e', b'q', b'u', b'e', b'n', b'c', b'e', b'_', b'n', b'u', b'm', b'b', b'e', b'r',
        0x01, 0x67, b's', b'i', b'g', b'n', b'e', b'r', b's', 0x80,
    ];
    let p: InstallPrepareResponse = decode(&old, MAX_RESPONSE).unwrap();
    assert!(p.needed_sizes.is_empty());
    // A TA before protocol 6 answered a payload chunk with an empty map: nothing added.
    let c: PayloadChunkResponse = decode(&[0xa0], MAX_RESPONSE).unwrap();
    assert_eq!(c, PayloadChunkResponse::default());
    // A TA before session 43 listed a component without `released_by`.
    let mut old = Vec::new();
    let text = |t: &str| ciborium::Value::Text(t.into());
    ciborium::ser::into_writer(
        &ciborium::Value::Map(vec![
            (text("id"), ciborium::Value::Array(vec![])),
            (text("sequence_number"), 3.into()),
            (text("size"), 4.into()),
            (text("digest"), ciborium::Value::Bytes(vec![5; 32])),
            (text("ta_version"), ciborium::Value::Null),
        ]),
        &mut old,
    )
    .unwrap();
    let c: ComponentInfo = decode(&old, MAX_RESPONSE).unwrap();
    assert_eq!((c.sequence_number, c.size), (3, 4));
    assert!(c.released_by.is_empty());
}

/// The TA reads a payload chunk in place: the same fields as the copying decoder, its data as
/// the exact place of the byte string's content in the request, and the same refusals.
#[test]
fn a_payload_chunk_read_in_place_names_where_its_data_lies() {
    let in_place = |bytes: &[u8]| decode_in_place::<PayloadChunkRequest<Span>>(bytes, MAX_REQUEST);
    let request = PayloadChunkRequest {
        uri: "https://h/p".into(),
        total_len: 1 << 20,
        offset: 4096,
        data: b(&[7; 300]),
    };
    let bytes = encode(&request).unwrap();
    let p = in_place(&bytes).unwrap();
    assert_eq!(
        (p.uri.as_str(), p.total_len, p.offset),
        ("https://h/p", 1 << 20, 4096)
    );
    assert_eq!(p.data.range(), bytes.len() - 300..bytes.len());
    let mut copy = bytes.clone();
    assert_eq!(p.data.of_mut(&mut copy).unwrap(), &[7; 300][..]);
    assert_eq!(p.data.of_mut(&mut copy[..100]), None);
    // Data first, an unknown key after it: {"data": h'0102', "x": 0, "uri": "u",
    // "total_len": 2, "offset": 0}.
    let mut reordered = vec![
        0xa5, 0x64, b'd', b'a', b't', b'a', 0x42, 1, 2, 0x61, b'x', 0,
    ];
    reordered.extend([0x63, b'u', b'r', b'i', 0x61, b'u']);
    reordered.extend([
        0x69, b't', b'o', b't', b'a', b'l', b'_', b'l', b'e', b'n', 2,
    ]);
    reordered.extend([0x66, b'o', b'f', b'f', b's', b'e', b't', 0]);
    let p = in_place(&reordered).unwrap();
    assert_eq!(p.data.range(), 7..9);
    assert_eq!(
        decode::<PayloadChunkRequest>(&reordered, MAX_REQUEST)
            .unwrap()
            .data
            .as_slice(),
        [1, 2]
    );
    // Refused as the copying decoder refuses: data as text, as an indefinite-length string,
    // missing; trailing bytes; over the limit.
    let mut text = reordered.clone();
    text[6] = 0x62;
    let mut indefinite = reordered[..6].to_vec();
    indefinite.extend([0x5f, 0x42, 1, 2, 0xff]);
    indefinite.extend(&reordered[9..]);
    let mut missing = vec![0xa3];
    missing.extend(&reordered[12..]);
    let mut trailing = bytes.clone();
    trailing.push(0);
    for (what, bytes) in [
        ("text", &text),
        ("indefinite", &indefinite),
        ("missing", &missing),
        ("trailing", &trailing),
    ] {
        let copied = decode::<PayloadChunkRequest>(bytes, MAX_REQUEST).unwrap_err();
        assert_eq!(in_place(bytes).unwrap_err(), copied, "{what}");
    }
    assert_eq!(
        decode_in_place::<PayloadChunkRequest<Span>>(&bytes, bytes.len() - 1),
        Err(CodecError::TooLarge)
    );
}

#[test]
fn malformed_input_is_refused() {
    let refused = |bytes: &[u8]| decode::<ChunkRequest>(bytes, MAX_REQUEST);
    // A required field missing: {"offset": 1}.
    assert_eq!(
        refused(&[0xa1, 0x66, b'o', b'f', b'f', b's', b'e', b't', 0x01]),
        Err(CodecError::Malformed)
    );
    // The wrong type: {"offset": "1", "data": h''}.
    let wrong = [
        0xa2, 0x66, b'o', b'f', b'f', b's', b'e', b't', 0x61, b'1', 0x64, b'd', b'a', b't', b'a',
        0x40,
    ];
    assert_eq!(refused(&wrong), Err(CodecError::Malformed));
    // A duplicate key: {"offset": 1, "offset": 2, "data": h''}.
    let dup = [
        0xa3, 0x66, b'o', b'f', b'f', b's', b'e', b't', 0x01, 0x66, b'o', b'f', b'f', b's', b'e',
        b't', 0x02, 0x64, b'd', b'a', b't', b'a', 0x40,
    ];
    assert_eq!(refused(&dup), Err(CodecError::Malformed));
    // The same key in a longer text head (0x78 0x06): different bytes, same name.
    let dup_long = [
        0xa3, 0x66, b'o', b'f', b'f', b's', b'e', b't', 0x01, 0x78, 0x06, b'o', b'f', b'f', b's',
        b'e', b't', 0x02, 0x64, b'd', b'a', b't', b'a', 0x40,
    ];
    assert_eq!(refused(&dup_long), Err(CodecError::Malformed));
    // An indefinite-length map, and one with an indefinite byte string.
    assert_eq!(refused(&[0xbf, 0xff]), Err(CodecError::Malformed));
    let indef = [
        0xa2, 0x66, b'o', b'f', b'f', b's', b'e', b't', 0x01, 0x64, b'd', b'a', b't', b'a', 0x5f,
        0x41, 0x01, 0xff,
    ];
    assert_eq!(refused(&indef), Err(CodecError::Malformed));
    // Not a map; a length beyond the input; a u32 field beyond u32.
    assert_eq!(refused(&[0x80]), Err(CodecError::Malformed));
    assert_eq!(
        refused(&[0xa1, 0x64, b'd', b'a', b't', b'a', 0x5a, 0xff, 0xff, 0xff, 0xff]),
        Err(CodecError::Malformed)
    );
    let big = [
        0xa1, 0x65, b'a', b'n', b'c', b'h', b'o', b'r', 0x1b, 0, 0, 0, 1, 0, 0, 0, 0,
    ];
    assert_eq!(
        decode::<DeviceKeyRequest>(&big, 64),
        Err(CodecError::Malformed)
    );
    // An unknown key nesting beyond the depth limit.
    let mut deep = vec![0xa1, 0x61, b'x'];
    deep.extend([0x81u8; 20]);
    deep.push(0);
    assert_eq!(decode::<Empty>(&deep, 64), Err(CodecError::Malformed));
    // An array beyond the container limit, inside a field (counted, not allocated).
    let mut long = vec![
        0xa1, 0x6b, b'n', b'e', b'e', b'd', b'e', b'd', b'_', b'u', b'r', b'i', b's', 0x99, 0x01,
        0x01,
    ];
    long.extend(std::iter::repeat_n(0x60, 257));
    assert_eq!(
        decode::<InstallPrepareResponse>(&long, MAX_RESPONSE),
        Err(CodecError::Malformed)
    );
    // Every single byte, and every byte after a map header: no panic.
    for x in 0..=255u8 {
        let _ = decode::<StatusResponse>(&[x], 64);
        let _ = decode::<StatusResponse>(&[0xa1, x, 0, 0, 0, 0, 0, 0, 0, 0], 64);
    }
}

#[test]
fn replies_are_read_one_way() {
    let body = encode(&PersonalizationResponse { data: b(b"d") }).unwrap();
    let len = body.len() as u32;
    let ok: PersonalizationResponse = decode_reply(0, len, &body).unwrap();
    assert_eq!(ok.data.as_slice(), b"d");
    // Slot 0 `b` must be the body's length.
    assert_eq!(
        decode_reply::<PersonalizationResponse>(0, len + 1, &body),
        Err(ReplyError::Malformed(
            "slot 0 length disagrees with the response"
        ))
    );
    assert!(matches!(
        decode_reply::<PersonalizationResponse>(0, len - 1, &body[..body.len() - 1]),
        Err(ReplyError::Malformed(_))
    ));
    // Refusals: decoded, empty (unspecified) or undecodable.
    let refusal = Refusal {
        kind: RefusalKind::Access,
        fault: b(&[0x81, 0x00]),
    };
    let rb = encode(&refusal).unwrap();
    assert_eq!(
        decode_reply::<Empty>(Status::Refused as u32, rb.len() as u32, &rb),
        Err(ReplyError::Refused(refusal))
    );
    assert!(matches!(
        decode_reply::<Empty>(Status::Refused as u32, 0, &[]),
        Err(ReplyError::Refused(Refusal {
            kind: RefusalKind::Unspecified,
            ..
        }))
    ));
    assert!(matches!(
        decode_reply::<Empty>(Status::Refused as u32, 1, &[0xff]),
        Err(ReplyError::Malformed(_))
    ));
    assert_eq!(
        decode_reply::<Empty>(Status::VersionMismatch as u32, 1, &[]),
        Err(ReplyError::VersionMismatch { ta: 1 })
    );
    assert_eq!(
        decode_reply::<Empty>(Status::ResponseTooLarge as u32, 70_000, &[]),
        Err(ReplyError::Status {
            status: Status::ResponseTooLarge,
            detail: 70_000
        })
    );
    assert_eq!(
        decode_reply::<Empty>(99, 0, &[]),
        Err(ReplyError::UnknownStatus(99))
    );
    // The wrong message in an Ok reply.
    let status = encode(&InstallBeginRequest { envelope_len: 1 }).unwrap();
    assert!(matches!(
        decode_reply::<ReportResponse>(0, status.len() as u32, &status),
        Err(ReplyError::Malformed(_))
    ));
}

/// Every applied operation, with the line the agent prints for it (what protocol 3 TAs sent).
fn applied_samples() -> Vec<(Applied, &'static str)> {
    vec![
        (
            Applied::AddedAnchor {
                id: 3,
                role: RoleRecord::Author,
            },
            "added anchor 3 (Author)",
        ),
        (
            Applied::AddedAnchor {
                id: 4,
                role: RoleRecord::Tpa,
            },
            "added anchor 4 (Tpa)",
        ),
        (
            Applied::AddedAnchor {
                id: 5,
                role: RoleRecord::Operator,
            },
            "added anchor 5 (Operator)",
        ),
        (Applied::RemovedAnchor { id: 1 }, "removed anchor 1"),
        (Applied::RescopedAnchor { id: 2 }, "re-scoped anchor 2"),
        (Applied::SetRules { count: 2 }, "set 2 component rule(s)"),
        (Applied::SetIdentity, "set device identity"),
        (Applied::AddedKek { kid: b(b"kek-1") }, "added KEK 'kek-1'"),
        (
            Applied::RemovedKek { kid: b(&[0, 0xff]) },
            "removed KEK h'00ff'",
        ),
    ]
}

#[test]
fn applied_operations_round_trip_and_read_as_before() {
    for (a, line) in applied_samples() {
        let mut e = suit_protocol::cbor::Encoder::new();
        suit_protocol::Field::put(&a, &mut e);
        let bytes = e.into_bytes();
        let mut d = suit_protocol::cbor::Decoder::new(&bytes);
        assert_eq!(<Applied as suit_protocol::Field>::take(&mut d).unwrap(), a);
        assert_eq!(a.to_string(), line);
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{line}\""));
    }
    // A code this build does not know is refused, not misread.
    let unknown = [0x81, 0x18, 0x63];
    let mut d = suit_protocol::cbor::Decoder::new(&unknown);
    assert!(<Applied as suit_protocol::Field>::take(&mut d).is_err());
}

/// Status and anchors are data since protocol 5: the agent shows and serializes each value
/// with the words older TAs sent as text.
#[test]
fn status_and_anchor_values_read_as_before() {
    fn same<T: std::fmt::Display + serde::Serialize + Field + PartialEq + Debug>(v: T, line: &str) {
        assert_eq!(v.to_string(), line);
        assert_eq!(serde_json::to_string(&v).unwrap(), format!("{line:?}"));
        let mut e = suit_protocol::cbor::Encoder::new();
        v.put(&mut e);
        let bytes = e.into_bytes();
        let mut d = suit_protocol::cbor::Decoder::new(&bytes);
        assert_eq!(<T as Field>::take(&mut d).unwrap(), v);
    }
    // A component id shows in diagnostic notation, and in JSON as the tools' one convention
    // has it: a list of hex strings, as a report's components.
    let id = path(&[b"app", b"", &[0, 0xff], b"a b"]);
    assert_eq!(id.to_string(), "['app', h'', h'00ff', h'612062']");
    assert_eq!(
        serde_json::to_string(&id).unwrap(),
        r#"["617070","","00ff","612062"]"#
    );
    let mut e = suit_protocol::cbor::Encoder::new();
    id.put(&mut e);
    let bytes = e.into_bytes();
    let mut d = suit_protocol::cbor::Decoder::new(&bytes);
    assert_eq!(<ComponentPath as Field>::take(&mut d).unwrap(), id);
    same(
        TaUuid([
            0x8a, 0xaa, 0xf2, 0, 0x24, 0x50, 0x11, 0xe4, 0xab, 0xe2, 0, 2, 0xa5, 0xd5, 0xc5, 0x1b,
        ]),
        "8aaaf200-2450-11e4-abe2-0002a5d5c51b",
    );
    for (k, word) in [
        (KeyType::P256, "P-256"),
        (KeyType::Ed25519, "Ed25519"),
        (KeyType::HssLms, "HSS-LMS"),
        (KeyType::Symmetric, "symmetric"),
        (KeyType::Unparseable, "unparseable"),
    ] {
        same(k, word);
    }
    same(Requirement::Role(RoleRecord::Operator), "role operator");
    same(Requirement::Anchor(12), "anchor 12");
    same(PropertyText(b(b"4.10.0")), "4.10.0");
    same(PropertyText(b(b"4.\xff")), "4.\u{fffd}");
    for (r, name) in [
        (RoleRecord::Tpa, "tpa"),
        (RoleRecord::Author, "author"),
        (RoleRecord::Operator, "operator"),
    ] {
        assert_eq!(r.name(), name);
        assert_eq!(serde_json::to_string(&r).unwrap(), format!("{name:?}"));
    }
    // A UUID of another length is refused, not padded.
    let mut e = suit_protocol::cbor::Encoder::new();
    e.bytes(&[1; 15]);
    let bytes = e.into_bytes();
    assert!(<TaUuid as Field>::take(&mut suit_protocol::cbor::Decoder::new(&bytes)).is_err());
}

/// Key ids are shown one way by both tools (`text::kid`): text, quoted, only when every
/// character shows as itself; anything else (binary, a control or quote character, empty)
/// as hex.
#[test]
fn a_kid_shows_as_text_only_when_it_prints_as_itself() {
    use suit_protocol::text::kid;
    assert_eq!(kid(b"kek-1"), "'kek-1'");
    assert_eq!(kid("clé 2".as_bytes()), "'clé 2'");
    for shown_as_hex in [&b""[..], b"\x00\xff", b"a\nb", b"it's", b"\x1b[2J", b"\xff"] {
        assert_eq!(
            kid(shown_as_hex),
            format!("h'{}'", suit_protocol::text::hex(shown_as_hex))
        );
    }
}
