//! Helpers for the state tests (attack_rollback.rs, power_cut.rs): a device on the in-memory
//! backend, the wire calls the agent makes, and manifests installing several components.
#![allow(dead_code)]

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::protocol::{self, *};
use suit_common::service::memory::MemoryBackend;
use suit_common::service::provision::{author::seal, Op, ProvisioningBody};
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, Scope, State};
use suit_common::service::{Config, Service};
use suit_common::suit::author::{seal_envelope, Signer};

use crate::support::{p256_private_from_pem, read, CLASS_ID, VENDOR_ID};

pub const TPA_PRIV: &str = "../keys/tpa-test.priv.pem";
pub const TPA_PUB: &str = "../keys/tpa-test.pub.pem";
pub const AUTHOR_PRIV: &str = "suit-manifest-spec/private_key.pem";
pub const AUTHOR_PUB: &str = "suit-manifest-spec/public_key.pem";

/// The TA whose image, personalization data and files the tests deliver.
pub const TA: [u8; 16] = [0x5e; 16];

pub type Mem = MemoryBackend;

pub fn sec1_from_pem(rel: &str) -> Vec<u8> {
    let text = String::from_utf8(read(rel)).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    der[der.len() - 65..].to_vec()
}

pub fn cose_key(rel: &str) -> ByteBuf {
    let p = sec1_from_pem(rel);
    let key = coset::CoseKeyBuilder::new_ec2_pub_key(
        coset::iana::EllipticCurve::P_256,
        p[1..33].to_vec(),
        p[33..].to_vec(),
    )
    .build();
    use coset::CborSerializable as _;
    ByteBuf::from(key.to_vec().unwrap())
}

/// A service over `backend`, as the TA builds one per session.
pub fn service(backend: Mem) -> Service<Mem> {
    let config = Config::new(&sec1_from_pem(TPA_PUB), true).unwrap();
    Service::new(backend, config)
}

pub fn call<Q: Codec, R: Codec>(
    s: &mut Service<Mem>,
    cmd: Command,
    q: &Q,
) -> Result<R, (Status, Refusal)> {
    let reply = s.invoke(cmd as u32, PROTOCOL_VERSION, &protocol::encode(q).unwrap());
    // The clients' one reply reader (slot 0 length, refusal decoding).
    protocol::decode_reply(reply.status as u32, reply.detail, &reply.body).map_err(|e| match e {
        protocol::ReplyError::Refused(r) => (Status::Refused, r),
        protocol::ReplyError::Status { status, .. } => (
            status,
            Refusal {
                kind: RefusalKind::Unspecified,
                reason: String::new(),
            },
        ),
        other => panic!("unexpected reply: {other}"),
    })
}

pub fn refusal<T: std::fmt::Debug>(r: Result<T, (Status, Refusal)>) -> Refusal {
    match r {
        Err((Status::Refused, refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A TPA message bound to `s`'s device (its identity key id).
pub fn provision_message(s: &mut Service<Mem>, counter: u64, ops: Vec<Op>) -> Vec<u8> {
    let device = suit_common::service::keys::DeviceKeyPair::load_or_create(s.backend_mut())
        .unwrap()
        .identity_public()
        .kid;
    let body = ProvisioningBody {
        counter,
        device: ByteBuf::from(device),
        ops,
    };
    seal(
        &body,
        &p256_private_from_pem(TPA_PRIV),
        Algorithm::Esp256,
        b"",
    )
    .unwrap()
}

pub fn provision(
    s: &mut Service<Mem>,
    message: &[u8],
) -> Result<ProvisionResponse, (Status, Refusal)> {
    call(
        s,
        Command::Provision,
        &ProvisionRequest {
            message: ByteBuf::from(message.to_vec()),
        },
    )
}

pub fn author_anchor(id: u32, prefixes: &[&[u8]]) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: cose_key(AUTHOR_PUB),
        role: RoleRecord::Author,
        // Assigned by the device; whatever a message says is ignored.
        key_scope: 0,
        scope: Scope {
            component_prefixes: prefixes
                .iter()
                .map(|p| vec![ByteBuf::from(p.to_vec())])
                .collect(),
            vendor_ids: vec![],
            class_ids: vec![],
            ree_plaintext: false,
        },
    })
}

pub fn identity() -> Op {
    Op::SetIdentity(Identity {
        vendor_id: Some(ByteBuf::from(VENDOR_ID.to_vec())),
        class_id: Some(ByteBuf::from(CLASS_ID.to_vec())),
        device_id: None,
    })
}

/// A device with its keys and an author trusted for everything under `TA` and `app`.
pub fn device() -> Service<Mem> {
    let mut s = service(MemoryBackend::new(0));
    let _: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let message = provision_message(
        &mut s,
        1,
        vec![author_anchor(1, &[&TA, b"app"]), identity()],
    );
    provision(&mut s, &message).unwrap();
    s
}

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}
fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}
pub fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

/// One component of a manifest: its identifier, its image, and the URI it is fetched from
/// (`#...` for a payload integrated in the envelope).
pub struct Part<'a> {
    pub id: &'a [&'a [u8]],
    pub image: &'a [u8],
    pub uri: &'a str,
}

/// A manifest that checks vendor and class, then fetches each part into its component and
/// checks its digest (image-match).
pub fn manifest(seq: u64, parts: &[Part<'_>]) -> Vec<u8> {
    let mut shared = vec![
        int(12),
        Value::Bool(true),
        int(20),
        Value::Map(vec![
            (int(1), bytes(&VENDOR_ID)),
            (int(2), bytes(&CLASS_ID)),
        ]),
        int(1),
        int(15),
        int(2),
        int(15),
    ];
    let mut install = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let digest = cbor(&Value::Array(vec![
            int(-16),
            bytes(&Sha256::digest(p.image)),
        ]));
        shared.extend([
            int(12),
            int(i as i64),
            int(20),
            Value::Map(vec![
                (int(3), bytes(&digest)),
                (int(14), int(p.image.len() as i64)),
            ]),
        ]);
        install.extend([
            int(12),
            int(i as i64),
            int(20),
            Value::Map(vec![(int(21), Value::Text(p.uri.into()))]),
            int(21),
            int(2),
            int(3),
            int(15),
        ]);
    }
    let components = parts
        .iter()
        .map(|p| Value::Array(p.id.iter().map(|s| bytes(s)).collect()))
        .collect();
    let common = Value::Map(vec![
        (int(2), Value::Array(components)),
        (int(4), bytes(&cbor(&Value::Array(shared)))),
    ]);
    cbor(&Value::Map(vec![
        (int(1), int(1)),
        (int(2), int(seq as i64)),
        (int(3), bytes(&cbor(&common))),
        (int(20), bytes(&cbor(&Value::Array(install)))),
    ]))
}

/// Signs `manifest` with the author key, integrating the parts whose URI starts with `#`.
pub fn envelope(manifest: &[u8], parts: &[Part<'_>]) -> Vec<u8> {
    let key: SigningKey = p256_private_from_pem(AUTHOR_PRIV);
    let signer = Signer {
        key: &key,
        alg: Algorithm::Esp256,
        kid: b"",
    };
    let integrated: Vec<(&str, &[u8])> = parts
        .iter()
        .filter(|p| p.uri.starts_with('#'))
        .map(|p| (p.uri, p.image))
        .collect();
    seal_envelope(manifest, &[signer], &[], &integrated).unwrap()
}

/// A signed envelope and the detached payloads the agent would send for it.
pub struct Release {
    pub envelope: Vec<u8>,
    pub payloads: Vec<(String, Vec<u8>)>,
}

pub fn release(seq: u64, parts: &[Part<'_>]) -> Release {
    Release {
        envelope: envelope(&manifest(seq, parts), parts),
        payloads: parts
            .iter()
            .filter(|p| !p.uri.starts_with('#'))
            .map(|p| (p.uri.to_string(), p.image.to_vec()))
            .collect(),
    }
}

pub fn begin(s: &mut Service<Mem>, len: u64) -> Result<Empty, (Status, Refusal)> {
    call(
        s,
        Command::InstallBegin,
        &InstallBeginRequest { envelope_len: len },
    )
}

/// Begin, envelope chunks and prepare, as the agent does them.
pub fn prepare(
    s: &mut Service<Mem>,
    envelope: &[u8],
) -> Result<InstallPrepareResponse, (Status, Refusal)> {
    const CHUNK: usize = 16 * 1024;
    begin(s, envelope.len() as u64)?;
    for (i, c) in envelope.chunks(CHUNK).enumerate() {
        call::<_, Empty>(
            s,
            Command::InstallEnvelope,
            &ChunkRequest {
                offset: (i * CHUNK) as u64,
                data: ByteBuf::from(c.to_vec()),
            },
        )?;
    }
    call(s, Command::InstallPrepare, &Empty {})
}

/// Sends `data` as the payload for `uri`, announcing `total` bytes.
pub fn send_payload(
    s: &mut Service<Mem>,
    uri: &str,
    total: u64,
    data: &[u8],
) -> Result<(), (Status, Refusal)> {
    const CHUNK: usize = 16 * 1024;
    if data.is_empty() {
        call::<_, Empty>(
            s,
            Command::InstallPayload,
            &PayloadChunkRequest {
                uri: uri.into(),
                total_len: total,
                offset: 0,
                data: ByteBuf::new(),
            },
        )?;
    }
    for (i, c) in data.chunks(CHUNK).enumerate() {
        call::<_, Empty>(
            s,
            Command::InstallPayload,
            &PayloadChunkRequest {
                uri: uri.into(),
                total_len: total,
                offset: (i * CHUNK) as u64,
                data: ByteBuf::from(c.to_vec()),
            },
        )?;
    }
    Ok(())
}

pub fn finish(s: &mut Service<Mem>) -> Result<InstallFinishResponse, (Status, Refusal)> {
    call(s, Command::InstallFinish, &Empty {})
}

/// The whole install of a release, every payload sent as asked.
pub fn install(
    s: &mut Service<Mem>,
    r: &Release,
) -> Result<InstallFinishResponse, (Status, Refusal)> {
    let prepared = prepare(s, &r.envelope)?;
    for uri in &prepared.needed_uris {
        let data = &r
            .payloads
            .iter()
            .find(|(u, _)| u == uri)
            .unwrap_or_else(|| panic!("no payload for {uri}"))
            .1;
        send_payload(s, uri, data.len() as u64, data)?;
    }
    finish(s)
}

/// The state record as stored.
pub fn state(s: &Service<Mem>) -> State {
    State::load(&s.backend().store).unwrap()
}

/// Every stored object with its length and SHA-256, except the latest report (which records
/// every attempt, refused ones too): a refused operation must leave this unchanged.
pub fn objects(s: &Service<Mem>) -> Vec<(String, usize, String)> {
    let st = &s.backend().store;
    st.names()
        .into_iter()
        // The latest reports are the one thing a refused attempt may change.
        .filter(|n| {
            n != suit_common::service::REPORT_OBJECT
                && n != suit_common::service::PRE_AUTH_REPORT_OBJECT
        })
        .map(|n| {
            let b = st.raw(&n).unwrap();
            (n.clone(), b.len(), hex::encode(Sha256::digest(b)))
        })
        .collect()
}

/// A bootstrap TA image header as sign_encrypt.py writes it (OP-TEE checks the signature).
pub fn ta_image(uuid: [u8; 16], version: u32) -> Vec<u8> {
    let body = format!("\x7fELF pretend TA body, version {version}").into_bytes();
    let mut v = Vec::new();
    for x in [0x4f54_5348u32, 1, body.len() as u32, 0x7041_4930] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&32u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0xab; 36]);
    v.extend_from_slice(&uuid);
    v.extend_from_slice(&version.to_le_bytes());
    v.extend_from_slice(&body);
    v
}

/// Personalization data for `TA` as a consumer TA would fetch it.
pub fn personalization(s: &mut Service<Mem>) -> Option<Vec<u8>> {
    let client = s.backend().client;
    s.backend_mut().client = suit_common::service::Client::TrustedApp(TA);
    let r: Result<PersonalizationResponse, _> = call(s, Command::PersonalizationGet, &Empty {});
    s.backend_mut().client = client;
    r.ok().map(|r| r.data.into_vec())
}
