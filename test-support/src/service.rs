//! The TA's `Service` on the in-memory backend (`service::memory::MemoryBackend`, not a fork):
//! a provisioned device, the wire calls the agent makes, and signed manifests installing
//! several components.

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::protocol::{self, *};
use suit_common::service::memory::MemoryBackend;
use suit_common::service::provision::{self, author::seal, Op, ProvisioningBody};
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, Scope, State};
use suit_common::service::{Config, Service};

pub use crate::cbor::{bytes, cbor, int};
use crate::keys::p256_private_from_pem;
pub use crate::keys::{cose_key, sec1_from_pem, AUTHOR_PRIV, AUTHOR_PUB, TPA_PRIV, TPA_PUB};
use crate::vectors::{CLASS_ID, VENDOR_ID};

/// The TA whose image, personalization data and files the tests deliver.
pub const TA: [u8; 16] = [0x5e; 16];

pub type Mem = MemoryBackend;

thread_local! {
    /// The segment length of the backends [`backend`] makes on this thread (`None`: plain).
    static SEGMENTS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Runs `test` with every backend [`backend`] makes on this thread (so every device and
/// restart of the test support) storing through the TA's segment layer, with segments of
/// `segment_len` bytes: the same scenarios then also check `Segmented` and its per-session
/// caches under power cuts and faults.
pub fn with_segments<T>(segment_len: u64, test: impl FnOnce() -> T) -> T {
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SEGMENTS.set(self.0);
        }
    }
    let _restore = Restore(SEGMENTS.replace(Some(segment_len)));
    test()
}

/// The segment length [`backend`] uses on this thread (`None`: plain).
pub fn segment_len() -> Option<u64> {
    SEGMENTS.get()
}

/// A new in-memory backend: plain, or segmented inside [`with_segments`].
pub fn backend(seed: u8) -> Mem {
    match SEGMENTS.get() {
        Some(len) => MemoryBackend::segmented(seed, len),
        None => MemoryBackend::new(seed),
    }
}

/// A command's outcome: the response, or the status and refusal the TA answered with.
pub type Answer<R> = Result<R, (Status, Refused)>;

/// A service over `backend`, as the TA builds one per session.
pub fn service(backend: Mem) -> Service<Mem> {
    let config = Config::new(&sec1_from_pem(TPA_PUB), true).unwrap();
    Service::new(backend, config)
}

/// A refusal as the agent shows it: the kind, the fault put into words (`fault::render`, as
/// the host tools print it) and the fault itself, so tests can match either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub kind: RefusalKind,
    pub reason: String,
    pub fault: Option<suit_common::fault::Fault>,
}

impl Refused {
    /// The rendering of a refusal from the wire.
    pub fn of(r: &protocol::Refusal) -> Self {
        Refused {
            kind: r.kind,
            reason: suit_common::fault::render(&r.fault),
            fault: suit_common::fault::Fault::decode(&r.fault),
        }
    }
}

pub fn call<Q: Codec, R: Codec>(
    s: &mut Service<Mem>,
    cmd: Command,
    q: &Q,
) -> Result<R, (Status, Refused)> {
    let reply = s.invoke(
        cmd as u32,
        PROTOCOL_VERSION,
        &mut protocol::encode(q).unwrap(),
    );
    // The clients' one reply reader (slot 0 length, refusal decoding).
    protocol::decode_reply(reply.status as u32, reply.detail, &reply.body).map_err(|e| match e {
        protocol::ReplyError::Refused(r) => (Status::Refused, Refused::of(&r)),
        protocol::ReplyError::Status { status, .. } => (
            status,
            Refused {
                kind: RefusalKind::Unspecified,
                reason: String::new(),
                fault: None,
            },
        ),
        other => panic!("unexpected reply: {other}"),
    })
}

/// [`call`] with the pairing the protocol defines ([`protocol::Request`]): `q` goes out under
/// its own command and the answer is read as its own response. [`call`] stays for requests
/// a test sends under another command on purpose.
pub fn ask<Q: protocol::Request>(s: &mut Service<Mem>, q: &Q) -> Answer<Q::Response> {
    call(s, Q::COMMAND, q)
}

pub fn refusal<T: std::fmt::Debug>(r: Result<T, (Status, Refused)>) -> Refused {
    match r {
        Err((Status::Refused, refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A TPA message bound to `s`'s device (its identity key id).
pub fn provision_message(s: &mut Service<Mem>, counter: u64, ops: Vec<Op>) -> Vec<u8> {
    provision_message_by(s, TPA_PRIV, counter, ops)
}

/// [`provision_message`] signed by the P-256 key `signer` (a PEM path): the root's or a
/// delegated TPA anchor's.
pub fn provision_message_by(
    s: &mut Service<Mem>,
    signer: &str,
    counter: u64,
    ops: Vec<Op>,
) -> Vec<u8> {
    let device = suit_common::service::keys::DeviceKeyPair::load_or_create(s.backend_mut())
        .unwrap()
        .identity_public()
        .kid;
    message_by(signer, counter, &device, ops)
}

/// A TPA message for the device whose identity key id is `device`.
pub fn tpa_message(counter: u64, device: &[u8], ops: Vec<Op>) -> Vec<u8> {
    message_by(TPA_PRIV, counter, device, ops)
}

fn message_by(signer: &str, counter: u64, device: &[u8], ops: Vec<Op>) -> Vec<u8> {
    let body = ProvisioningBody {
        counter,
        device: ByteBuf::from(device.to_vec()),
        ops,
    };
    seal(
        &body,
        &p256_private_from_pem(signer),
        Algorithm::Esp256,
        b"",
    )
    .unwrap()
}

/// Where a TPA's secrets for one device go: its identity key id (what messages name) and its
/// provisioning key (what secrets are encrypted to).
#[derive(Clone)]
pub struct SecretsTo {
    pub identity_kid: Vec<u8>,
    pub provisioning: p256::PublicKey,
    pub provisioning_kid: Vec<u8>,
}

/// [`SecretsTo`] of `s`'s device.
pub fn secrets_to(s: &mut Service<Mem>) -> SecretsTo {
    let k = suit_common::service::keys::DeviceKeyPair::load_or_create(s.backend_mut()).unwrap();
    let p = k.provisioning_public();
    SecretsTo {
        identity_kid: k.identity_public().kid,
        provisioning: p256::PublicKey::from_sec1_bytes(&p.sec1).unwrap(),
        provisioning_kid: p.kid,
    }
}

/// `secret` encrypted to `to`'s provisioning key with `external_aad` = `aad(binding)`, the
/// binding being a message that `signer` (a P-256 PEM path) signs for `to`'s device.
fn wrap_for(
    to: &SecretsTo,
    signer: &str,
    secret: &[u8],
    aad: impl FnOnce(&provision::WrapBinding<'_>) -> Vec<u8>,
) -> ByteBuf {
    let binding = provision::WrapBinding {
        signer: provision::signer_key_digest(&p256_private_from_pem(signer).verification_key())
            .unwrap(),
        device: &to.identity_kid,
    };
    ByteBuf::from(
        provision::author::wrap_secret(
            secret,
            &to.provisioning,
            &to.provisioning_kid,
            &aad(&binding),
            &mut rand_core::UnwrapErr(getrandom::SysRng),
        )
        .unwrap(),
    )
}

/// `AddKek` of `key` under `kid` for `anchors` (each id with the COSE_Key the signer means it
/// to hold when the operation applies), wrapped as a message `signer` (a P-256 PEM path: the
/// root's or a delegate's) signs for `to`'s device must carry it.
pub fn kek_op(
    to: &SecretsTo,
    signer: &str,
    kid: &[u8],
    anchors: &[(u32, &[u8])],
    key: &[u8],
) -> Op {
    let held: Vec<(u32, [u8; 32])> = anchors
        .iter()
        .map(|(id, cose_key)| (*id, anchor_key_digest(cose_key)))
        .collect();
    Op::AddKek {
        kid: ByteBuf::from(kid.to_vec()),
        anchors: held.iter().map(|(id, _)| *id).collect(),
        wrapped_key: wrap_for(to, signer, key, |b| provision::kek_wrap_aad(b, kid, &held)),
    }
}

/// [`provision::anchor_key_digest`] of a COSE_Key.
pub fn anchor_key_digest(cose_key: &[u8]) -> [u8; 32] {
    let (key, _) = suit_common::cose::VerificationKey::from_cose_key(cose_key).unwrap();
    provision::anchor_key_digest(&key)
}

/// `AddSecretAnchor` of the symmetric COSE_Key `cose_key` as anchor `id`, wrapped as a message
/// `signer` (a P-256 PEM path) signs for `to`'s device must carry it.
pub fn secret_anchor_op(
    to: &SecretsTo,
    signer: &str,
    id: u32,
    role: RoleRecord,
    scope: Scope,
    cose_key: &[u8],
) -> Op {
    let wrapped_key = wrap_for(to, signer, cose_key, |b| {
        provision::anchor_wrap_aad(b, id, role, &scope)
    });
    Op::AddSecretAnchor {
        id,
        role,
        scope,
        wrapped_key,
    }
}

/// Every stored object except the latest report (which records every attempt).
pub fn snapshot(s: &Service<Mem>) -> Vec<(String, Vec<u8>)> {
    let st = s.backend().store();
    st.names()
        .into_iter()
        .filter(|n| n != suit_common::service::REPORT_OBJECT && !is_idle(st, n))
        .map(|n| (n.clone(), st.raw(&n).unwrap().to_vec()))
        .collect()
}

pub fn provision(
    s: &mut Service<Mem>,
    message: &[u8],
) -> Result<ProvisionResponse, (Status, Refused)> {
    call(
        s,
        Command::Provision,
        &ProvisionRequest {
            message: ByteBuf::from(message.to_vec()),
        },
    )
}

/// Signs `ops` as the TPA root's message `counter` to this device and relays it.
pub fn provision_ops(
    s: &mut Service<Mem>,
    counter: u64,
    ops: Vec<Op>,
) -> Result<ProvisionResponse, (Status, Refused)> {
    let message = provision_message(s, counter, ops);
    provision(s, &message)
}

/// Adds anchor `id` of `role` for the public key in `public` (a PEM under the vectors),
/// scoped to `prefixes` (each a list of segments; none: no components).
pub fn anchor(id: u32, public: &str, role: RoleRecord, prefixes: &[&[&[u8]]]) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: cose_key(public),
        role,
        // Assigned by the device; whatever a message says is ignored.
        key_scope: 0,
        scope: scope_of(prefixes, false),
    })
}

/// An anchor scope of component-id prefixes (each a list of segments), any vendor and class.
pub fn scope_of(prefixes: &[&[&[u8]]], ree_plaintext: bool) -> Scope {
    Scope {
        component_prefixes: prefixes
            .iter()
            .map(|p| p.iter().map(|s| ByteBuf::from(s.to_vec())).collect())
            .collect(),
        vendor_ids: vec![],
        class_ids: vec![],
        ree_plaintext,
        tracker_key: None,
    }
}

/// The COSE_Key [`author_anchor`] gives its anchor (the manifest-spec author key).
pub fn author_key() -> Vec<u8> {
    cose_key(AUTHOR_PUB).to_vec()
}

pub fn author_anchor(id: u32, prefixes: &[&[u8]]) -> Op {
    let prefixes: Vec<&[&[u8]]> = prefixes.iter().map(core::slice::from_ref).collect();
    anchor(id, AUTHOR_PUB, RoleRecord::Author, &prefixes)
}

/// An anchor scope of component-id prefixes (one segment each), any vendor and class, no
/// plaintext to REE components.
pub fn scope<P: AsRef<[u8]>>(prefixes: &[P]) -> Scope {
    let segments: Vec<&[u8]> = prefixes.iter().map(AsRef::as_ref).collect();
    let prefixes: Vec<&[&[u8]]> = segments.iter().map(core::slice::from_ref).collect();
    scope_of(&prefixes, false)
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
    provisioned(&[&TA, b"app"])
}

/// A device with its keys, its identity set and author anchor 1 (the manifest-spec key)
/// trusted for components under `prefixes`.
pub fn provisioned(prefixes: &[&[u8]]) -> Service<Mem> {
    let mut s = service(backend(0));
    let _: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let message = provision_message(&mut s, 1, vec![author_anchor(1, prefixes), identity()]);
    provision(&mut s, &message).unwrap();
    s
}

/// One component of a manifest: its identifier, its image, and the URI it is fetched from
/// (`#...` for a payload integrated in the envelope).
pub struct Part<'a> {
    pub id: &'a [&'a [u8]],
    pub image: &'a [u8],
    pub uri: &'a str,
}

/// A [`Part`] from its identifier, image and URI.
pub fn part<'a>(id: &'a [&'a [u8]], image: &'a [u8], uri: &'a str) -> Part<'a> {
    Part { id, image, uri }
}

/// A manifest that checks vendor and class, then fetches each part into its component and
/// checks its digest (image-match).
pub fn manifest(seq: u64, parts: &[Part<'_>]) -> Vec<u8> {
    let mut shared = crate::cbor::check_vendor_class(
        vec![int(12), Value::Bool(true)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        15,
    );
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
    crate::cbor::suit_manifest(
        seq as i64,
        components,
        &Value::Array(shared),
        &Value::Array(install),
    )
}

/// Signs `manifest` with the author key, integrating the parts whose URI starts with `#`.
pub fn envelope(manifest: &[u8], parts: &[Part<'_>]) -> Vec<u8> {
    let key: SigningKey = p256_private_from_pem(AUTHOR_PRIV);
    let integrated: Vec<(&str, &[u8])> = parts
        .iter()
        .filter(|p| p.uri.starts_with('#'))
        .map(|p| (p.uri, p.image))
        .collect();
    crate::keys::seal_one(manifest, &key, Algorithm::Esp256, &[], &integrated)
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

pub fn begin(s: &mut Service<Mem>, len: u64) -> Result<Empty, (Status, Refused)> {
    call(
        s,
        Command::InstallBegin,
        &InstallBeginRequest { envelope_len: len },
    )
}

/// The chunk size the agent uses.
pub const CHUNK: usize = 16 * 1024;

/// Begin, envelope chunks and prepare, as the agent does them.
pub fn prepare(
    s: &mut Service<Mem>,
    envelope: &[u8],
) -> Result<InstallPrepareResponse, (Status, Refused)> {
    prepare_chunked(s, envelope, CHUNK)
}

/// `prepare` with the envelope sent in `chunk`-byte pieces.
pub fn prepare_chunked(
    s: &mut Service<Mem>,
    envelope: &[u8],
    chunk: usize,
) -> Result<InstallPrepareResponse, (Status, Refused)> {
    send_envelope(s, envelope, chunk)?;
    call(s, Command::InstallPrepare, &Empty {})
}

/// Begin, then the envelope in `chunk`-byte pieces: the envelope is in TA memory, nothing
/// decoded yet.
pub fn send_envelope(
    s: &mut Service<Mem>,
    envelope: &[u8],
    chunk: usize,
) -> Result<(), (Status, Refused)> {
    begin(s, envelope.len() as u64)?;
    for (i, c) in envelope.chunks(chunk).enumerate() {
        call::<_, Empty>(
            s,
            Command::InstallEnvelope,
            &ChunkRequest {
                offset: (i * chunk) as u64,
                data: ByteBuf::from(c.to_vec()),
            },
        )?;
    }
    Ok(())
}

/// Sends `data` as the payload for `uri`, announcing `total` bytes.
pub fn send_payload(
    s: &mut Service<Mem>,
    uri: &str,
    total: u64,
    data: &[u8],
) -> Result<(), (Status, Refused)> {
    send_payload_chunked(s, uri, total, data, CHUNK)
}

/// `send_payload` in `chunk`-byte pieces (an empty payload is one empty piece).
pub fn send_payload_chunked(
    s: &mut Service<Mem>,
    uri: &str,
    total: u64,
    data: &[u8],
    chunk: usize,
) -> Result<(), (Status, Refused)> {
    send_payload_listing(s, uri, total, data, chunk).map(drop)
}

/// `send_payload_chunked`, returning the URIs the TA's answers added to the install (a
/// dependency envelope the payload completed lists its own detached payloads).
pub fn send_payload_listing(
    s: &mut Service<Mem>,
    uri: &str,
    total: u64,
    data: &[u8],
    chunk: usize,
) -> Result<Vec<String>, (Status, Refused)> {
    let mut added = Vec::new();
    if data.is_empty() {
        added.extend(payload_chunk(s, uri, total, 0, &[])?.needed_uris);
    }
    for (i, c) in data.chunks(chunk).enumerate() {
        added.extend(payload_chunk(s, uri, total, (i * chunk) as u64, c)?.needed_uris);
    }
    Ok(added)
}

/// One `InstallPayload` call: `data` at `offset` of the payload for `uri`, announced as
/// `total` bytes.
pub fn payload_chunk(
    s: &mut Service<Mem>,
    uri: &str,
    total: u64,
    offset: u64,
    data: &[u8],
) -> Answer<PayloadChunkResponse> {
    call(
        s,
        Command::InstallPayload,
        &PayloadChunkRequest {
            uri: uri.into(),
            total_len: total,
            offset,
            data: ByteBuf::from(data.to_vec()),
        },
    )
}

pub fn finish(s: &mut Service<Mem>) -> Result<InstallFinishResponse, (Status, Refused)> {
    call(s, Command::InstallFinish, &Empty {})
}

/// The whole install of a release, every payload sent as asked.
pub fn install(
    s: &mut Service<Mem>,
    r: &Release,
) -> Result<InstallFinishResponse, (Status, Refused)> {
    let payloads: Vec<(&str, &[u8])> = r
        .payloads
        .iter()
        .map(|(u, d)| (u.as_str(), d.as_slice()))
        .collect();
    install_with(s, &r.envelope, &payloads)
}

/// Installs `envelope`, sending each payload the TA asks for from `payloads` (by URI).
pub fn install_with(
    s: &mut Service<Mem>,
    envelope: &[u8],
    payloads: &[(&str, &[u8])],
) -> Result<InstallFinishResponse, (Status, Refused)> {
    install_chunked(s, envelope, payloads, CHUNK)
}

/// `install_with`, envelope and payloads sent in `chunk`-byte pieces.
pub fn install_chunked(
    s: &mut Service<Mem>,
    envelope: &[u8],
    payloads: &[(&str, &[u8])],
    chunk: usize,
) -> Result<InstallFinishResponse, (Status, Refused)> {
    let prepared = prepare_chunked(s, envelope, chunk)?;
    // A work list, as the agent keeps: a dependency envelope may add URIs as it arrives.
    let mut listed = prepared.needed_uris.clone();
    let mut next = 0;
    while let Some(uri) = listed.get(next).cloned() {
        next += 1;
        let data = payloads
            .iter()
            .find(|(u, _)| *u == uri)
            .unwrap_or_else(|| panic!("no payload for {uri}"))
            .1;
        for added in send_payload_listing(s, &uri, data.len() as u64, data, chunk)? {
            if !listed.contains(&added) {
                listed.push(added);
            }
        }
    }
    finish(s)
}

/// How a test delivery is encrypted to anchor 1 of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// A128GCM, key by HPKE-0 to anchor 1's HPKE key.
    Gcm,
    /// A128CTR, key by ECDH-ES+A128KW to anchor 1's ECDH key.
    Ctr,
}

/// `plaintext` encrypted to anchor 1's keys of `s`: (encryption info, ciphertext).
pub fn encrypt(s: &mut Service<Mem>, cipher: Cipher, plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
    encrypt_with(
        s,
        cipher,
        plaintext,
        &mut rand_core::UnwrapErr(getrandom::SysRng),
    )
}

/// [`encrypt`] with the ephemeral key, CEK and IV drawn from `rng` (a [`crate::FixedRng`]:
/// the same bytes on every run).
pub fn encrypt_with(
    s: &mut Service<Mem>,
    cipher: Cipher,
    plaintext: &[u8],
    rng: &mut impl rand_core::CryptoRng,
) -> (Vec<u8>, Vec<u8>) {
    use suit_common::encryption::algorithms::{ContentAlgorithm, HpkeSuite, KeyWrap};
    use suit_common::encryption::{encrypt_payload, CoseOptions, Recipient};
    let r: DeviceKeyResponse =
        call(s, Command::DeviceKey, &DeviceKeyRequest { anchor: Some(1) }).unwrap();
    let keys = r.anchor.unwrap();
    let (hpke, ecdh) = (
        p256::PublicKey::from_sec1_bytes(&keys.hpke_key).unwrap(),
        p256::PublicKey::from_sec1_bytes(&keys.ecdh_es_key).unwrap(),
    );
    let (content, recipient) = match cipher {
        Cipher::Gcm => (
            ContentAlgorithm::A128Gcm,
            Recipient::Hpke {
                kid: Some(&keys.hpke_kid[..]),
                public_key: &hpke,
                suite: HpkeSuite::Hpke0,
                psk: None,
            },
        ),
        Cipher::Ctr => (
            ContentAlgorithm::A128Ctr,
            Recipient::EcdhEs {
                kid: Some(&keys.ecdh_es_kid[..]),
                public_key: &ecdh,
                wrap: KeyWrap::A128Kw,
            },
        ),
    };
    let e = encrypt_payload(plaintext, content, &[recipient], &CoseOptions::SUIT, rng).unwrap();
    (e.encryption_info, e.ciphertext)
}

/// The state record as stored.
pub fn state(s: &Service<Mem>) -> State {
    State::load(s.backend().store()).unwrap()
}

/// Whether `name` is one of the latest-report objects: the one thing a refused attempt may
/// change.
pub fn is_latest_report(name: &str) -> bool {
    name == suit_common::service::REPORT_OBJECT
        || name == suit_common::service::PRE_AUTH_REPORT_OBJECT
}

/// Whether `name` is the install journal listing nothing: kept once written (a finished or
/// abandoned install empties it instead of deleting it), and as good as none.
pub fn is_idle_journal(st: &suit_common::service::store::MemoryStore, name: &str) -> bool {
    use suit_common::service::install::{Journal, JOURNAL_OBJECT};
    name == JOURNAL_OBJECT && matches!(Journal::load(st), Ok(Some(j)) if j.is_empty())
}

/// Whether `name` is an install object (payload or staging) kept empty for a later install
/// to take again (`install::free_slot`): holding nothing, used by no installed component.
pub fn is_emptied_install_object(
    st: &suit_common::service::store::MemoryStore,
    name: &str,
) -> bool {
    let install_name = suit_common::service::install::is_install_object(name);
    let used = suit_common::service::state::State::load(st)
        .is_ok_and(|state| state.components.iter().any(|c| c.object == name));
    install_name && st.raw(name).is_some_and(|b| b.is_empty()) && !used
}

/// Whether `name` is kept idle, as good as none: the empty journal or an emptied install
/// object.
pub fn is_idle(st: &suit_common::service::store::MemoryStore, name: &str) -> bool {
    is_idle_journal(st, name) || is_emptied_install_object(st, name)
}

/// Every stored object with its length and SHA-256, except the latest report (which records
/// every attempt, refused ones too) and an empty journal: a refused operation must leave this
/// unchanged.
pub fn objects(s: &Service<Mem>) -> Vec<(String, usize, String)> {
    let st = s.backend().store();
    st.names()
        .into_iter()
        .filter(|n| !is_latest_report(n) && !is_idle(st, n))
        .map(|n| {
            let b = st.raw(&n).unwrap();
            (n.clone(), b.len(), hex::encode(Sha256::digest(b)))
        })
        .collect()
}

/// A bootstrap TA image header as sign_encrypt.py writes it (OP-TEE checks the signature).
pub fn ta_image(uuid: [u8; 16], version: u32) -> Vec<u8> {
    let body = format!("\x7fELF pretend TA body, version {version}");
    ta_image_with_body(uuid, version, body.as_bytes())
}

/// As [`ta_image`], with `body` after the header.
pub fn ta_image_with_body(uuid: [u8; 16], version: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x4f54_5348u32, 1, body.len() as u32, 0x7041_4930] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&32u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0xab; 36]);
    v.extend_from_slice(&uuid);
    v.extend_from_slice(&version.to_le_bytes());
    v.extend_from_slice(body);
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
