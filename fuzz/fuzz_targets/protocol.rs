//! The host ↔ TA wire protocol and the TA's dispatcher: `protocol::decode` of several message
//! types (with a re-encode round trip), `protocol::decode_reply` over the same bytes, and a *session* of commands fed to one
//! `service::Service` over an in-memory secure store, checking the reply invariants the TA
//! glue relies on (a refusal's fault among them: it reads back), and the host's reading of a
//! forged fault (`fault::render`).
//!
//! Input: a sequence of records `command (1) | flags (1) | length (2, big endian) | request`.
//! flags ≥ 0xf0: that byte is sent as the protocol version (a mismatch); otherwise the
//! current version. flags bit 0: the command comes from a trusted application (client UUID
//! `[flags; 16]`) instead of the REE. The last record takes what is left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suit_common::protocol::{
    self, AnchorsResponse, ChunkRequest, Codec, DeviceKeyResponse, Empty, InstallBeginRequest,
    InstallPrepareResponse, PayloadChunkRequest, Refusal, ReportRequest, Span, Status,
    StatusResponse, MAX_REQUEST, MAX_RESPONSE, PROTOCOL_VERSION,
};
use suit_common::service::memory::MemoryBackend;
use suit_common::service::{Client, Config, Service};

/// The TPA root compiled into the fuzzed TA (the manifest-spec examples' ES256 key).
const TPA_ROOT: &str = "048496811aae0baaabd26157189eecda26beaa8bf11b6f3fe6e2b5659c85dbc0ad\
                        3b1f2a4b6c098131c0a36dacd1d78bd381dcdfb09c052db33991db7338b4a896";

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

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    let config = Config::new(&suit_fuzz::hex(TPA_ROOT), true).unwrap();
    // Deterministic in-memory backend; level 100 so status takes its warning path too.
    let mut backend = MemoryBackend::new(1);
    backend.anti_rollback_level = Some(100);
    let mut service = Service::new(backend, config);
    let mut rest = data;
    while rest.len() >= 4 {
        let (cmd, flags) = (rest[0], rest[1]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let body = &rest[4..];
        let (request, next) = body.split_at(len.min(body.len()));
        rest = next;

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
        // The TA's own copy of the request, which the service may decrypt in.
        let reply = service.invoke(u32::from(cmd), version, &mut request.to_vec());
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
    }
});
