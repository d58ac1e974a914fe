//! The host ↔ TA wire protocol and the TA's dispatcher: `protocol::decode` of several message
//! types (with a re-encode round trip), and a *session* of commands fed to one
//! `service::Service` over an in-memory secure store, checking the reply invariants the TA
//! glue relies on.
//!
//! Input: a sequence of records `command (1) | flags (1) | length (2, big endian) | request`.
//! flags ≥ 0xf0: that byte is sent as the protocol version (a mismatch); otherwise the
//! current version. flags bit 0: the command comes from a trusted application (client UUID
//! `[flags; 16]`) instead of the REE. The last record takes what is left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suit_common::protocol::{
    self, ChunkRequest, InstallBeginRequest, PayloadChunkRequest, PlatformInfo, Refusal, Status,
    StatusResponse, MAX_REQUEST, MAX_RESPONSE, PROTOCOL_VERSION,
};
use suit_common::service::keys::Rng;
use suit_common::service::store::{MemoryStore, SecureStore, StoreError};
use suit_common::service::{Backend, Client, Config, Service, TaStore};
use zeroize::Zeroizing;

/// A deterministic backend: in-memory store, counter-based "randomness".
struct Fake {
    store: MemoryStore,
    counter: u64,
    client: Client,
    installed_tas: usize,
}

impl SecureStore for Fake {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        self.store.get(name)
    }
    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.store.put(name, data)
    }
    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        self.store.remove(name)
    }
    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        self.store.append(name, data)
    }
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        self.store.read_at(name, offset, buf)
    }
    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.store.len(name)
    }
}

impl Rng for Fake {
    fn fill(&mut self, out: &mut [u8]) {
        for b in out.iter_mut() {
            self.counter = self
                .counter
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (self.counter >> 33) as u8;
        }
    }
}

impl TaStore for Fake {
    fn install_ta(&mut self, image: &[u8]) -> Result<(), u32> {
        // The TEE verifies the TA signature; here every non-empty image "verifies".
        if image.is_empty() {
            return Err(0xffff_0006);
        }
        self.installed_tas += 1;
        Ok(())
    }
}

impl Backend for Fake {
    fn client(&self) -> Client {
        self.client
    }
    fn name(&self) -> &'static str {
        "fuzz"
    }
    fn platform_info(&self) -> PlatformInfo {
        PlatformInfo {
            tee_version: Some("fuzz".into()),
            anti_rollback_level: Some(100),
            ..Default::default()
        }
    }
}

/// The TPA root compiled into the fuzzed TA (the manifest-spec examples' ES256 key).
const TPA_ROOT: &str = "048496811aae0baaabd26157189eecda26beaa8bf11b6f3fe6e2b5659c85dbc0ad\
                        3b1f2a4b6c098131c0a36dacd1d78bd381dcdfb09c052db33991db7338b4a896";

fn round_trip<T>(bytes: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + core::fmt::Debug,
{
    if let Ok(v) = protocol::decode::<T>(bytes, MAX_REQUEST) {
        let again = protocol::encode(&v).expect("a decoded message re-encodes");
        let back: T = protocol::decode(&again, usize::MAX).expect("re-encoded decodes");
        assert_eq!(back, v);
    }
}

fuzz_target!(|data: &[u8]| {
    let config = Config::new(&suit_fuzz::hex(TPA_ROOT), true).unwrap();
    let backend = Fake {
        store: MemoryStore::new(),
        counter: 1,
        client: Client::Ree,
        installed_tas: 0,
    };
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
        round_trip::<InstallBeginRequest>(request);
        round_trip::<ChunkRequest>(request);
        round_trip::<PayloadChunkRequest>(request);

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
        let reply = service.invoke(u32::from(cmd), version, request);
        assert!(reply.body.len() <= MAX_RESPONSE);
        match reply.status {
            Status::Ok | Status::Refused => {
                assert_eq!(reply.detail as usize, reply.body.len())
            }
            _ => assert!(reply.body.is_empty()),
        }
        if reply.status == Status::Refused && !reply.body.is_empty() {
            protocol::decode::<Refusal>(&reply.body, MAX_RESPONSE)
                .expect("a refusal body decodes as Refusal");
        }
        if reply.status == Status::Ok && cmd == 1 {
            let r: StatusResponse = protocol::decode(&reply.body, MAX_RESPONSE).unwrap();
            assert_eq!(r.protocol_version, PROTOCOL_VERSION);
        }
    }
});
