//! The `protocol` target's session: records of commands fed to one `service::Service` (the
//! update TA's service over an in-memory secure store with a deterministic RNG) through the
//! TA's `invoke_for_slot`, with the reply invariants the TA glue relies on checked after each.
//! Here rather than in the target so the generated seeds (`seeds.rs`) are made against, and
//! tested through, the same harness device.
//!
//! Input: a sequence of records `command (1) | flags (1) | length (2, big endian) | request`.
//! flags ≥ 0xf0: that byte is sent as the protocol version (a mismatch); otherwise the
//! current version. flags bit 0: the command comes from a trusted application (client UUID
//! `[flags; 16]`) instead of the REE; bit 1: the REE's response slot is one byte short of
//! `MAX_RESPONSE` (the TA's `invoke_for_slot` must refuse before anything changes). The last
//! record takes what is left. Two commands are the harness's own: [`PROVISION`] sends the
//! TPA's fixed provisioning message (the fuzzer cannot forge its signature; without it no
//! install authenticates), [`CLOSE`] ends the session (`Service::close`, an install
//! abandoned).

use suit_common::protocol::{
    self, AnchorsResponse, ByteBuf, ChunkRequest, Codec, DeviceKeyResponse, Empty,
    InstallBeginRequest, InstallPrepareResponse, PayloadChunkRequest, ProvisionRequest, Refusal,
    ReportRequest, Span, Status, StatusResponse, MAX_REQUEST, MAX_RESPONSE, PROTOCOL_VERSION,
};
use suit_common::service::memory::MemoryBackend;
use suit_common::service::provision::Op;
use suit_common::service::state::{AnchorRecord, RoleRecord, Scope};
use suit_common::service::{Client, Reply, Service};
use suit_test_support::keys::{cose_key, AUTHOR_PUB};
use suit_test_support::service::{identity, provision_message};

/// Harness records (see the input layout).
pub const PROVISION: u8 = 0xf0;
pub const CLOSE: u8 = 0xf1;

/// The seed of the harness device's RNG (`MemoryBackend::new`): its master secret, so its
/// identity key and every anchor's payload keys, are the same in every run.
pub const DEVICE_SEED: u8 = 1;

/// One record of a session input.
pub fn record(command: u8, flags: u8, request: &[u8]) -> Vec<u8> {
    let len = u16::try_from(request.len()).expect("a record's request fits its 2-byte length");
    let mut r = vec![command, flags];
    r.extend_from_slice(&len.to_be_bytes());
    r.extend_from_slice(request);
    r
}

/// The harness device: the update TA's service on a fresh in-memory backend with the fixed
/// RNG seed; anti-rollback level 100 so status takes its warning path too.
pub fn device() -> Service<MemoryBackend> {
    let mut backend = MemoryBackend::new(DEVICE_SEED);
    backend.anti_rollback_level = Some(100);
    suit_test_support::service::service(backend)
}

/// The request of [`PROVISION`]: counter 1 from test-support's TPA root (the fuzzed TA's
/// root): author anchor 1, the manifest-spec examples' ES256 key (which signs the spec and
/// firmware-encryption envelopes) for every component, and those examples' vendor and class.
/// Signed once: the device (its identity key) is the same in every run, as long as nothing
/// draws from the RNG before the identity key is made.
pub fn provisioning() -> &'static [u8] {
    static REQUEST: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    REQUEST.get_or_init(|| {
        let mut s = suit_test_support::service::service(MemoryBackend::new(DEVICE_SEED));
        let author = Op::AddAnchor(AnchorRecord {
            id: 1,
            cose_key: cose_key(AUTHOR_PUB),
            role: RoleRecord::Author,
            key_scope: 0,
            scope: Scope {
                // The empty prefix: every component.
                component_prefixes: vec![vec![]],
                vendor_ids: vec![],
                class_ids: vec![],
                ree_plaintext: false,
                tracker_key: None,
            },
        });
        let message = provision_message(&mut s, 1, vec![author, identity()]);
        protocol::encode(&ProvisionRequest {
            message: ByteBuf::from(message),
        })
        .unwrap()
    })
}

/// Every stored object, by name.
fn stored(s: &Service<MemoryBackend>) -> Vec<(String, Option<Vec<u8>>)> {
    let st = s.backend().store();
    st.names()
        .into_iter()
        .map(|n| (n.clone(), st.raw(&n)))
        .collect()
}

fn round_trip<T>(bytes: &[u8])
where
    T: Codec + PartialEq + core::fmt::Debug,
{
    if let Ok(v) = protocol::decode::<T>(bytes, MAX_REQUEST) {
        let again = protocol::encode(&v).expect("a decoded message re-encodes");
        let back: T = protocol::decode(&again, usize::MAX).expect("re-encoded decodes");
        assert_eq!(back, v);
    }
}

/// The TA's in-place reading of a payload chunk accepts exactly what the copying one does,
/// with the same fields and the same data.
fn in_place_agrees(bytes: &[u8]) {
    let copied = protocol::decode::<PayloadChunkRequest>(bytes, MAX_REQUEST);
    let in_place = protocol::decode_in_place::<PayloadChunkRequest<Span>>(bytes, MAX_REQUEST);
    match (copied, in_place) {
        (Ok(c), Ok(p)) => {
            assert_eq!(
                (&c.uri, c.total_len, c.offset),
                (&p.uri, p.total_len, p.offset)
            );
            assert_eq!(bytes.get(p.data.range()), Some(&c.data[..]));
        }
        (Err(c), Err(p)) => assert_eq!(c, p),
        (c, p) => panic!("copying {c:?}, in place {p:?}"),
    }
}

/// The records of a session input (see the input layout): command, flags, the length the
/// header declared and the request (the last record takes what is left).
pub fn records(data: &[u8]) -> impl Iterator<Item = (u8, u8, usize, &[u8])> {
    let mut rest = data;
    core::iter::from_fn(move || {
        let (&[cmd, flags, l0, l1], body) = rest.split_first_chunk::<4>()?;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let (request, next) = body.split_at(len.min(body.len()));
        rest = next;
        Some((cmd, flags, len, request))
    })
}

/// The framing checks of one record, without a device (the `framing` target runs only these,
/// at the decoders' speed; `run_session` runs them before each command): every message type's
/// decode → encode → decode round trip, the in-place chunk reading, a forged fault's reading
/// and the reply reader.
pub fn check_framing(cmd: u8, flags: u8, len: usize, request: &[u8]) {
    round_trip::<StatusResponse>(request);
    round_trip::<Refusal>(request);
    // A fault as the host reads one the REE forged: words or "cannot read", never a
    // panic; one that reads re-encodes to what reads back the same.
    let _ = suit_common::fault::render(request);
    if let Some(f) = suit_common::fault::Fault::decode(request) {
        assert_eq!(suit_common::fault::Fault::decode(&f.encode()), Some(f));
    }
    round_trip::<InstallBeginRequest>(request);
    round_trip::<ChunkRequest>(request);
    round_trip::<PayloadChunkRequest>(request);
    in_place_agrees(request);
    round_trip::<ReportRequest>(request);
    round_trip::<Empty>(request);
    round_trip::<DeviceKeyResponse>(request);
    round_trip::<AnchorsResponse>(request);
    round_trip::<InstallPrepareResponse>(request);
    // The one reply reader: slot 0 from the record header, never a panic.
    let _ = protocol::decode_reply::<StatusResponse>(
        u32::from(cmd) % 8,
        u32::from(flags).wrapping_mul(len as u32),
        request,
    );
}

/// Runs the records of `data` on a fresh [`device`], checking every invariant, and hands each
/// command the service answered to `seen` (the command byte as sent and the reply). Returns
/// the device as the session left it.
pub fn run_session(data: &[u8], mut seen: impl FnMut(u8, &Reply)) -> Service<MemoryBackend> {
    let mut service = device();
    for (cmd, flags, len, request) in records(data) {
        if cmd == CLOSE {
            service.close();
            continue;
        }
        let (cmd, request) = if cmd == PROVISION {
            (3, provisioning())
        } else {
            (cmd, request)
        };

        check_framing(cmd, flags, len, request);

        service.backend_mut().client = if flags & 1 == 1 {
            Client::TrustedApp([flags; 16])
        } else {
            Client::Ree
        };
        let version = if flags >= 0xf0 {
            u32::from(flags)
        } else {
            PROTOCOL_VERSION
        };
        // The TA's own copy of the request, which the service may decrypt in; the REE's
        // response slot as the TA sees it.
        let short_slot = flags & 2 == 2;
        let slot = MAX_RESPONSE - usize::from(short_slot);
        let before = short_slot.then(|| stored(&service));
        let reply = service.invoke_for_slot(u32::from(cmd), version, &mut request.to_vec(), slot);
        if reply.status == Status::ResponseTooLarge && short_slot {
            assert_eq!(
                Some(stored(&service)),
                before,
                "a refused short slot changed the store"
            );
        }
        assert!(reply.body.len() <= MAX_RESPONSE);
        match reply.status {
            Status::Ok | Status::Refused => {
                assert_eq!(reply.detail as usize, reply.body.len())
            }
            _ => assert!(reply.body.is_empty()),
        }
        if reply.status == Status::Refused && !reply.body.is_empty() {
            let r = protocol::decode::<Refusal>(&reply.body, MAX_RESPONSE)
                .expect("a refusal body decodes as Refusal");
            // Every fault the TA sends is one the host tools can put into words.
            suit_common::fault::Fault::decode(&r.fault).expect("the TA's fault reads back");
        }
        if reply.status == Status::Ok && cmd == 1 {
            let r: StatusResponse = protocol::decode(&reply.body, MAX_RESPONSE).unwrap();
            assert_eq!(r.protocol_version, PROTOCOL_VERSION);
        }
        seen(cmd, &reply);
    }
    service
}
