//! The device's own keys, all derived from one master secret.
//!
//! The master secret (32 bytes from the TEE's RNG, created on first use) is the only key
//! material stored (`suit/device-keys`); it never leaves the TA and is never imported. Every
//! key the device uses is derived from it with HKDF-SHA256 under a label naming its one
//! purpose, so no scalar ever serves two purposes or two owners:
//!
//! | purpose | scope | used for |
//! |---|---|---|
//! | `identity` | device | signing the device's statements about itself (key statements, receipts) |
//! | `report` | device | signing SUIT reports |
//! | `provisioning` | device | decrypting secrets the TPA encrypts to this device |
//! | `ecdh-es` | per anchor | ECDH-ES+AES-KW payload recipients of manifests that anchor signed |
//! | `hpke` | per anchor | COSE-HPKE payload recipients of manifests that anchor signed |
//! | `stored-report` | device | a tag binding a report the TA stores to its object and state ([`DeviceKeyPair::stored_report_tag`]) |
//!
//! A per-anchor key is bound to the anchor's `key_scope` (a number the state assigns when the
//! anchor is added and never hands out again) and to a digest of the anchor's own COSE_Key, so
//! removing an anchor and adding another under the same id, or rolling back the state record
//! and adding a different key, never yields the old tenant's decryption key.
//! Derivation only needs the master, so deriving keys is cheap and nothing else is stored.

use crate::protocol::ByteBuf;
use alloc::boxed::Box;
use alloc::vec::Vec;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToSec1Point;
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::encryption::MemoryKeys;

use super::store::{SecureStore, StoreError};

/// Object holding the master secret.
pub const KEYS_OBJECT: &str = "suit/device-keys";
/// Object holding pre-shared key-encryption keys (A128KW/A256KW), added by the TPA.
pub const KEKS_OBJECT: &str = "suit/keks";

/// Format of the key object; any other is refused (never silently replaced). 3: the state
/// record and the journal were stored before it, so that while it exists either one missing
/// means it was deleted ([`established`]). OP-TEE removes an object whose REE-FS file is
/// missing or fails its hash when it is next opened, so the REE can delete any one object;
/// a deleted record must not read as a new device (revoked anchors and older releases back).
const KEYS_FORMAT: u32 = 3;
/// The format before that rule: read, and rewritten as [`KEYS_FORMAT`] once both records
/// exist ([`DeviceKeyPair::load_or_create`]).
const KEYS_FORMAT_UNESTABLISHED: u32 = 2;
/// HKDF salt: names this derivation scheme, so a master reused elsewhere yields other keys.
const HKDF_SALT: &[u8] = b"suit-tee device keys v2";

/// Randomness from the environment (the TEE's RNG inside OP-TEE).
pub trait Rng {
    fn fill(&mut self, out: &mut [u8]);
}

/// How the keys came to be, reported in status. Only generation exists: device keys are
/// never imported (a key that was once outside the TEE cannot be trusted to be secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Generated,
}

impl Origin {
    /// The name status reports (lower case; no `format!`/`to_lowercase` in the TA).
    pub const fn name(self) -> &'static str {
        match self {
            Origin::Generated => "generated",
        }
    }
}

/// What a derived key is for: its HKDF label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Identity,
    Report,
    Provisioning,
    EcdhEs,
    Hpke,
    StoredReport,
}

impl Purpose {
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Identity => "identity",
            Purpose::Report => "report",
            Purpose::Provisioning => "provisioning",
            Purpose::EcdhEs => "ecdh-es",
            Purpose::Hpke => "hpke",
            Purpose::StoredReport => "stored-report",
        }
    }
}

struct Stored {
    format: u32,
    master: ByteBuf,
}

impl Drop for Stored {
    fn drop(&mut self) {
        self.master.as_mut_slice().zeroize();
    }
}

crate::cbor::struct_codec!(Stored { format, master });

/// The loaded device keys: the master secret and the device-wide keys derived from it.
/// Everything is wiped on drop (p256::SecretKey zeroizes itself).
pub struct DeviceKeyPair {
    /// Boxed from the start: it is filled or decoded in place and only the pointer moves, so
    /// no stack slot it passed through keeps a copy.
    master: alloc::boxed::Box<Zeroizing<[u8; 32]>>,
    identity: p256::SecretKey,
    report: p256::SecretKey,
    provisioning: p256::SecretKey,
    pub origin: Origin,
}

/// Failures of the key store. Never carries key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyStoreError {
    Store(StoreError),
    /// The stored key object does not decode: refuse to silently make a new key.
    Corrupt,
    /// The RNG looks stuck (repeated or constant output).
    Rng,
    /// Derivation produced no valid scalar (probability ~2^-512; reported, never papered over).
    Derivation,
    /// The anchor has no key scope (recorded before per-anchor keys existed): it has no
    /// decryption keys until the TPA adds it again.
    NoKeyScope,
    /// No key object, but the state record or the journal holds what only a device with
    /// keys writes: the key object was deleted. A new master secret is not made (the TPA's
    /// messages and the anchors' payloads are bound to the old keys).
    Deleted,
}

impl From<StoreError> for KeyStoreError {
    fn from(e: StoreError) -> Self {
        KeyStoreError::Store(e)
    }
}

/// A public key as exported: uncompressed SEC1 point and its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    pub sec1: Vec<u8>,
    pub kid: Vec<u8>,
}

/// Key ids are derived in one place, [`crate::cose::key_id`].
pub use crate::cose::key_id;

/// The public half of `sk` with its key id.
pub fn public(sk: &p256::SecretKey) -> PublicKeyInfo {
    let sec1 = sk.public_key().to_sec1_point(false).as_bytes().to_vec();
    PublicKeyInfo {
        kid: key_id(&sec1),
        sec1,
    }
}

/// Derives the P-256 key for `purpose` and `context` from `master`:
/// HKDF-SHA256(salt, master, info = label ‖ 0x00 ‖ context ‖ attempt), rejection-sampled into
/// a valid scalar.
fn derive(
    master: &[u8; 32],
    purpose: Purpose,
    context: &[u8],
) -> Result<p256::SecretKey, KeyStoreError> {
    let hk = Hkdf::<sha2::Sha256>::new(Some(HKDF_SALT), master);
    let mut okm = Zeroizing::new([0u8; 32]);
    for attempt in 0u8..16 {
        let info: [&[u8]; 4] = [purpose.label().as_bytes(), &[0], context, &[attempt]];
        hk.expand_multi_info(&info, okm.as_mut())
            .map_err(|_| KeyStoreError::Derivation)?;
        if let Ok(k) = p256::SecretKey::from_slice(okm.as_ref()) {
            return Ok(k);
        }
    }
    Err(KeyStoreError::Derivation)
}

/// The context binding an anchor's keys: its key scope and a digest of its COSE_Key.
fn anchor_context(key_scope: u64, anchor_cose_key: &[u8]) -> [u8; 40] {
    let mut c = [0u8; 40];
    c[..8].copy_from_slice(&key_scope.to_be_bytes());
    c[8..].copy_from_slice(&Sha256::digest(anchor_cose_key));
    c
}

/// One anchor's payload-decryption keys: one for ECDH-ES recipients, one for COSE-HPKE.
pub struct AnchorKeys {
    pub key_scope: u64,
    ecdh: p256::SecretKey,
    hpke: p256::SecretKey,
    /// The keys' ids, computed once: each is a scalar multiplication.
    ecdh_kid: Vec<u8>,
    hpke_kid: Vec<u8>,
}

impl AnchorKeys {
    pub fn ecdh_public(&self) -> PublicKeyInfo {
        public(&self.ecdh)
    }

    pub fn hpke_public(&self) -> PublicKeyInfo {
        public(&self.hpke)
    }

    /// Registers both keys (each for its one purpose, under its own kid) in `keys`.
    pub fn add_to(&self, keys: &mut MemoryKeys) {
        // Handed over as key objects (wiped on drop), never as loose scalar bytes.
        keys.add_ecdh_p256_key(Some(&self.ecdh_kid), self.ecdh.clone());
        keys.add_hpke_p256_key(Some(&self.hpke_kid), self.hpke.clone());
    }

    /// A key set holding only this anchor's keys.
    pub fn memory_keys(&self) -> MemoryKeys {
        let mut keys = MemoryKeys::new();
        self.add_to(&mut keys);
        keys
    }
}

/// Whether a key object exists that was stored after the state record and the journal
/// ([`KEYS_FORMAT`]): then neither may be missing. One that does not decode counts (refuse
/// rather than start over).
pub fn established<S: SecureStore + ?Sized>(store: &S) -> Result<bool, StoreError> {
    let Some(bytes) = store.get(KEYS_OBJECT)? else {
        return Ok(false);
    };
    let stored: Result<Stored, _> = super::record::decode_stored(&bytes, 1024);
    Ok(stored.map_or(true, |s| s.format != KEYS_FORMAT_UNESTABLISHED))
}

/// Stores the state record and the journal where missing, before a key object is written.
/// With `fresh` (no key object), refuses records that hold anything (only a device with
/// keys writes them, so its key object was deleted) and drops a KEK object left from before.
fn establish_records<E: SecureStore>(env: &mut E, fresh: bool) -> Result<(), KeyStoreError> {
    use super::install::{Journal, JOURNAL_OBJECT};
    use super::state::{State, STATE_OBJECT};
    let records = |e: super::state::StateError| match e {
        super::state::StateError::Store(s) => KeyStoreError::Store(s),
        _ => KeyStoreError::Corrupt,
    };
    if env.len(STATE_OBJECT)?.is_some() {
        if fresh && State::load(env).map_err(records)? != State::new() {
            return Err(KeyStoreError::Deleted);
        }
    } else {
        State::new().save(env).map_err(records)?;
    }
    match Journal::load(env).map_err(records)? {
        Some(journal) if fresh && !journal.is_empty() => return Err(KeyStoreError::Deleted),
        Some(_) => {}
        None => env.put_record(JOURNAL_OBJECT, &[])?,
    }
    // A device starting over (its keys and state record deleted) does not adopt the KEKs an
    // earlier owner's anchors were given: anchors added later under the same ids would be
    // offered them, a revoked set included.
    if fresh && env.len(KEKS_OBJECT)?.is_some() {
        env.remove(KEKS_OBJECT)?;
    }
    Ok(())
}

impl DeviceKeyPair {
    /// Loads the master secret, generating it from `env`'s RNG and storing it on first use,
    /// after the state record and the journal ([`KEYS_FORMAT`]).
    pub fn load_or_create<E: SecureStore + Rng>(env: &mut E) -> Result<Self, KeyStoreError> {
        if let Some(bytes) = env.get(KEYS_OBJECT)? {
            let stored: Stored =
                super::record::decode_stored(&bytes, 1024).map_err(|_| KeyStoreError::Corrupt)?;
            if stored.format != KEYS_FORMAT && stored.format != KEYS_FORMAT_UNESTABLISHED {
                return Err(KeyStoreError::Corrupt);
            }
            let mut master = alloc::boxed::Box::new(Zeroizing::new([0u8; 32]));
            if stored.master.len() != master.len() {
                return Err(KeyStoreError::Corrupt);
            }
            master.copy_from_slice(&stored.master);
            let pair = Self::from_master(master)?;
            if stored.format == KEYS_FORMAT_UNESTABLISHED {
                // Whatever the records hold is this device's own: kept, the missing made.
                establish_records(env, false)?;
                pair.store(env)?;
            }
            return Ok(pair);
        }
        let mut master = alloc::boxed::Box::new(Zeroizing::new([0u8; 32]));
        let mut check = Zeroizing::new([0u8; 32]);
        env.fill(&mut master[..]);
        env.fill(check.as_mut());
        // A stuck RNG (constant or repeating output) must not become the device's root secret.
        if master.iter().all(|b| Some(b) == master.first()) || master[..] == check[..] {
            return Err(KeyStoreError::Rng);
        }
        let pair = Self::from_master(master)?;
        establish_records(env, true)?;
        pair.store(env)?;
        Ok(pair)
    }

    fn store<E: SecureStore + ?Sized>(&self, env: &mut E) -> Result<(), KeyStoreError> {
        let stored = Stored {
            format: KEYS_FORMAT,
            master: ByteBuf::from(self.master.to_vec()),
        };
        let bytes =
            Zeroizing::new(super::record::encode(&stored).map_err(|_| KeyStoreError::Corrupt)?);
        env.put_record(KEYS_OBJECT, &bytes)?;
        Ok(())
    }

    fn from_master(master: alloc::boxed::Box<Zeroizing<[u8; 32]>>) -> Result<Self, KeyStoreError> {
        Ok(DeviceKeyPair {
            identity: derive(&master, Purpose::Identity, &[])?,
            report: derive(&master, Purpose::Report, &[])?,
            provisioning: derive(&master, Purpose::Provisioning, &[])?,
            master,
            origin: Origin::Generated,
        })
    }

    /// Whether keys exist (without creating them).
    pub fn exist<E: SecureStore + ?Sized>(env: &E) -> Result<bool, KeyStoreError> {
        Ok(env.len(KEYS_OBJECT)?.is_some())
    }

    /// The identity key: signs the device's statements about itself (key statements,
    /// provisioning receipts). Its public half is what a factory enrols.
    pub fn identity_public(&self) -> PublicKeyInfo {
        public(&self.identity)
    }

    pub fn identity_secret(&self) -> &p256::SecretKey {
        &self.identity
    }

    /// The provisioning key: the TPA encrypts secrets (symmetric anchor keys, KEKs) to it.
    pub fn provisioning_public(&self) -> PublicKeyInfo {
        public(&self.provisioning)
    }

    pub fn provisioning_secret(&self) -> &p256::SecretKey {
        &self.provisioning
    }

    pub fn report_public(&self) -> PublicKeyInfo {
        public(&self.report)
    }

    /// The report-signing key, for `report` only.
    pub fn report_secret(&self) -> &p256::SecretKey {
        &self.report
    }

    /// The tag the TA stores with a report it keeps (purpose `stored-report`), over the
    /// object's name, `bound` (the state generation the report belongs to, or 0), `state`
    /// (empty, or the SHA-256 of the one state of that generation it belongs to) and the
    /// report's SHA-256: HKDF-Expand(PRK, label ‖ 0x00 ‖ object ‖ 0x00 ‖ bound ‖ digest ‖
    /// state), a PRF only the TA can compute. A report read back is signed only if its tag
    /// verifies, so another object under the report's name, or a report from another state,
    /// is refused.
    pub fn stored_report_tag(
        &self,
        object: &str,
        bound: u64,
        state: &[u8],
        report: &[u8],
    ) -> Result<[u8; 32], KeyStoreError> {
        let hk = Hkdf::<sha2::Sha256>::new(Some(HKDF_SALT), self.master.as_slice());
        let info: [&[u8]; 7] = [
            Purpose::StoredReport.label().as_bytes(),
            &[0],
            object.as_bytes(),
            &[0],
            &bound.to_be_bytes(),
            &Sha256::digest(report),
            state,
        ];
        let mut tag = [0u8; 32];
        hk.expand_multi_info(&info, &mut tag)
            .map_err(|_| KeyStoreError::Derivation)?;
        Ok(tag)
    }

    /// The payload-decryption keys of the anchor with `key_scope` and COSE_Key
    /// `anchor_cose_key` (see the module documentation for why both).
    pub fn anchor_keys(
        &self,
        key_scope: u64,
        anchor_cose_key: &[u8],
    ) -> Result<AnchorKeys, KeyStoreError> {
        if key_scope == 0 {
            return Err(KeyStoreError::NoKeyScope);
        }
        let context = anchor_context(key_scope, anchor_cose_key);
        let ecdh = derive(&self.master, Purpose::EcdhEs, &context)?;
        let hpke = derive(&self.master, Purpose::Hpke, &context)?;
        Ok(AnchorKeys {
            key_scope,
            ecdh_kid: public(&ecdh).kid,
            hpke_kid: public(&hpke).kid,
            ecdh,
            hpke,
        })
    }

    /// The keys of a stored anchor.
    pub fn keys_of(
        &self,
        anchor: &super::state::AnchorRecord,
    ) -> Result<AnchorKeys, KeyStoreError> {
        self.anchor_keys(anchor.key_scope, &anchor.cose_key)
    }
}

/// A pre-shared key-encryption key and the anchors whose manifests may use it. A KEK is a
/// secret shared with whoever wraps content keys with it, so it is only ever offered to the
/// anchors it was provisioned for.
pub struct SharedKek {
    pub kid: Vec<u8>,
    pub key: Zeroizing<Vec<u8>>,
    pub anchors: Vec<u32>,
}

/// INSECURE, the author tool's simulated device only (`author` feature, which the TA never
/// enables): P-256 keys the caller holds standing in for anchors' own payload keys
/// (`suit-author verify --process --device-key [ID=]FILE`), for the purposes each file allows.
/// Only the keys are replaced: which signers' keys a payload gets, the KEKs by anchor,
/// ownership and `ree_plaintext` stay [`AnchorKeySource`]'s, so the simulated verdict is the
/// device's. A key bound to an anchor stands in for that anchor only, so a co-signed run
/// opens a payload only with the key of an anchor that may decrypt into the component, as a
/// device does; the unbound key stands in for every anchor no bound key names.
#[cfg(feature = "author")]
#[derive(Default)]
pub struct StandInKeys {
    /// For every anchor that `by_anchor` does not name (`None`: those anchors have no keys).
    pub unbound: Option<StandInKey>,
    /// Each for the anchor with that id only (at most one per id: the first is used).
    pub by_anchor: alloc::vec::Vec<(u32, StandInKey)>,
    /// Set when a decryption was asked for a manifest (the root or a dependency) with two or
    /// more signers the unbound key stands in for: the run cannot tell which of them a
    /// payload was encrypted to (see [`Self::unbound_shared`]).
    shared: core::cell::Cell<bool>,
}

/// One stand-in key, by the purposes its file allows (RFC 9052 §7.1).
#[cfg(feature = "author")]
pub struct StandInKey {
    /// For ECDH-ES+AES-KW recipients (`None`: the key is not for that).
    pub ecdh: Option<p256::SecretKey>,
    /// For COSE-HPKE recipients (`None`: the key is not for that).
    pub hpke: Option<p256::SecretKey>,
}

#[cfg(feature = "author")]
impl StandInKeys {
    /// Whether the unbound key stood in for two or more signers of one manifest that asked
    /// for decryption keys: a device opens such a payload only with the key of the anchor it
    /// was encrypted to, which the run cannot tell.
    pub fn unbound_shared(&self) -> bool {
        self.shared.get()
    }

    /// The key standing in for anchor `id`, and which one it is (the index in `by_anchor`,
    /// `None` for the unbound key).
    fn for_anchor(&self, id: u32) -> Option<(Option<usize>, &StandInKey)> {
        match self.by_anchor.iter().position(|(a, _)| *a == id) {
            Some(i) => self.by_anchor.get(i).map(|(_, k)| (Some(i), k)),
            None => self.unbound.as_ref().map(|k| (None, k)),
        }
    }

    /// Registers the key standing in for anchor `id` (no kid: it stands in under the
    /// anchor's) in `keys`, unless `added` says it is there already; notes it in `added`.
    fn add_for(&self, id: u32, keys: &mut MemoryKeys, added: &mut alloc::vec::Vec<Option<usize>>) {
        let Some((which, k)) = self.for_anchor(id) else {
            return;
        };
        if added.contains(&which) {
            return;
        }
        added.push(which);
        if let Some(k) = &k.ecdh {
            keys.add_ecdh_p256_key(None, k.clone());
        }
        if let Some(k) = &k.hpke {
            keys.add_hpke_p256_key(None, k.clone());
        }
    }
}

/// Per component, the anchors whose `ree_plaintext` released its content ([`AnchorKeySource`]).
type ReleaseNotes = Vec<(crate::suit::ComponentId, Vec<super::state::Release>)>;

/// The service's [`KeySource`](crate::suit::decrypt::KeySource): each signer's own anchor
/// keys (plus KEKs provisioned for it), never another anchor's; and decrypted or secure
/// content into `['ree', ...]` components only if every anchor that owns it has
/// `ree_plaintext`.
///
/// Ownership is by scope (the device keeps no per-component list of installers): the
/// owners of a secure component's content are the anchors whose component prefixes cover
/// it. That is sound because content only reaches a secure component in ways that keep it:
/// an anchor's keys decrypt only into components its scope covers, and confidential content
/// is copied into a secure component that could itself be copied out (every anchor covering
/// it has `ree_plaintext`) only from a source that could be copied out as well. A co-signer's
/// `ree_plaintext` therefore never speaks for content another anchor owns.
pub struct AnchorKeySource<'a> {
    pair: &'a DeviceKeyPair,
    anchors: &'a [super::state::AnchorRecord],
    keks: &'a [SharedKek],
    /// Each anchor's keys, derived at its first use in the run (`None`: it has none): a
    /// decrypting directive in a loop asks for them each time, and a derivation costs about
    /// two key agreements, which the engine's step budget does not charge. Boxed, as in
    /// `MemoryKeys`: keys stored inline would be left unwiped in every block the `Vec`
    /// outgrows.
    derived: core::cell::RefCell<Vec<(u32, Option<Box<AnchorKeys>>)>>,
    /// The installed components ([`Self::with_installed`]): whose flags released the REE
    /// content a copy reads ([`super::state::ComponentRecord::released_by`]).
    installed: &'a [super::state::ComponentRecord],
    /// Per component staged in this run, the anchors whose `ree_plaintext` let its staged
    /// content into the REE (decrypted there, or copied there from secure or released
    /// content; empty: public content): what its record keeps at commit ([`Releases`]).
    /// Exactly the staged content's: set when the engine stages it
    /// ([`KeySource::staged`](crate::suit::decrypt::KeySource::staged)), dropped when that is
    /// undone ([`KeySource::discarded`](crate::suit::decrypt::KeySource::discarded)). A
    /// release is "any of them": an anchor noted for content an undone try-each option
    /// staged would keep other content out under its own flag (review s42, second look).
    released: core::cell::RefCell<ReleaseNotes>,
    /// What `keys_for` / `may_copy` decided for content about to be staged in a component,
    /// until the engine stages it (then in `released`) or the run ends.
    pending: core::cell::RefCell<ReleaseNotes>,
    /// A note could not be kept (not reached: nothing re-enters the source): no more content
    /// is released in this run, and what was staged is committed as released by no one.
    poisoned: core::cell::Cell<bool>,
    /// The author tool's simulated device: keys standing in for each anchor's own.
    #[cfg(feature = "author")]
    stand_in: Option<&'a StandInKeys>,
}

/// Who released the confidential content an install put into each REE component: the
/// platform asks at commit ([`super::state::ComponentRecord::released_by`]).
pub trait Releases {
    /// The anchors whose `ree_plaintext` let confidential content into `component` in this
    /// run; empty for one that received none.
    fn released_by(&self, component: &crate::suit::ComponentId) -> Vec<super::state::Release>;
}

/// No releases: for platforms run without the service's key source (tests).
impl Releases for () {
    fn released_by(&self, _component: &crate::suit::ComponentId) -> Vec<super::state::Release> {
        Vec::new()
    }
}

impl Releases for AnchorKeySource<'_> {
    fn released_by(&self, component: &crate::suit::ComponentId) -> Vec<super::state::Release> {
        // Not reached while borrowed or poisoned (nothing re-enters the source); were it,
        // the component would be tied to an anchor that never holds, not left public.
        let Ok(released) = self.released.try_borrow() else {
            return alloc::vec![super::state::Release::NEVER];
        };
        if self.poisoned.get() {
            return alloc::vec![super::state::Release::NEVER];
        }
        released
            .iter()
            .find(|(c, _)| c == component)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    }
}

impl<'a> AnchorKeySource<'a> {
    pub fn new(
        pair: &'a DeviceKeyPair,
        anchors: &'a [super::state::AnchorRecord],
        keks: &'a [SharedKek],
    ) -> Self {
        AnchorKeySource {
            pair,
            anchors,
            keks,
            derived: core::cell::RefCell::new(Vec::new()),
            installed: &[],
            released: core::cell::RefCell::new(Vec::new()),
            pending: core::cell::RefCell::new(Vec::new()),
            poisoned: core::cell::Cell::new(false),
            #[cfg(feature = "author")]
            stand_in: None,
        }
    }

    /// The components installed now: a copy of an REE component whose content a flag
    /// released stays tied to that release.
    pub fn with_installed(self, installed: &'a [super::state::ComponentRecord]) -> Self {
        AnchorKeySource { installed, ..self }
    }

    /// Notes that `signers`' anchors with `ree_plaintext` (and `carried`, the releases of
    /// the content copied) release the confidential content about to be staged in REE
    /// component `component`. Only releases that hold now are kept (one that does not never
    /// holds again: its anchor's key scope is not given again), so a list has at most one
    /// entry per anchor present. `false` if it could not be noted (not reached: nothing
    /// re-enters the source), which refuses the content rather than leave it public.
    #[must_use]
    fn note_release(
        &self,
        signers: &[u32],
        component: &crate::suit::ComponentId,
        carried: &[super::state::Release],
    ) -> bool {
        use super::state::Release;
        if self.poisoned.get() {
            return false;
        }
        let Ok(mut released) = self.pending.try_borrow_mut() else {
            return false;
        };
        let entry = match released.iter().position(|(c, _)| c == component) {
            Some(i) => released.get_mut(i),
            None => {
                released.push((component.clone(), Vec::new()));
                released.last_mut()
            }
        };
        let Some((_, list)) = entry else {
            return false;
        };
        let flagged = signers
            .iter()
            .filter_map(|id| self.anchor(*id))
            .filter(|a| a.scope.ree_plaintext)
            .map(Release::of);
        for r in flagged.chain(carried.iter().copied().filter(|r| r.holds(self.anchors))) {
            // One entry per anchor present: at most as many as the state holds anchors.
            if !list.contains(&r) {
                list.push(r);
            }
        }
        true
    }

    /// The releases REE component `c`'s content carries: its staged content's if this run
    /// staged it, else its installed record's. `None`: public content.
    fn releases_of(&self, c: &crate::suit::ComponentId) -> Option<Vec<super::state::Release>> {
        let Ok(staged) = self.released.try_borrow() else {
            // Not reached (nothing re-enters the source): the strictest answer, released
            // by no anchor that holds.
            return Some(Vec::new());
        };
        let releases = match staged.iter().find(|(s, _)| s == c) {
            Some((_, r)) => r.clone(),
            None => self
                .installed
                .iter()
                .find(|r| super::state::component_from(&r.id) == *c)
                .map(|r| r.released_by.clone())
                .unwrap_or_default(),
        };
        Some(releases).filter(|r| !r.is_empty())
    }

    /// The pending and staged release notes, for the engine's staging calls. Not reached
    /// while borrowed (nothing re-enters the source); were it, the source is poisoned: the
    /// notes would be missing, so the commit refuses (`Releases`).
    fn notes_mut(
        &self,
    ) -> Option<(
        core::cell::RefMut<'_, ReleaseNotes>,
        core::cell::RefMut<'_, ReleaseNotes>,
    )> {
        match (
            self.pending.try_borrow_mut(),
            self.released.try_borrow_mut(),
        ) {
            (Ok(pending), Ok(released)) => Some((pending, released)),
            _ => {
                self.poisoned.set(true);
                None
            }
        }
    }

    /// INSECURE, simulation only: `keys` stand in for anchors' own payload keys, each for
    /// the anchor it is bound to or, unbound, for every other anchor (an anchor without keys
    /// of its own, key scope 0, still has none; one no key stands in for has none either);
    /// every rule stays.
    #[cfg(feature = "author")]
    pub fn with_stand_in(self, keys: Option<&'a StandInKeys>) -> Self {
        AnchorKeySource {
            stand_in: keys,
            ..self
        }
    }

    /// Adds anchor `a`'s payload keys to `keys`, deriving them once per source.
    fn add_keys_of(&self, a: &super::state::AnchorRecord, keys: &mut MemoryKeys) {
        let Ok(mut derived) = self.derived.try_borrow_mut() else {
            // Not reached (no call re-enters); deriving again is only slower.
            if let Ok(k) = self.pair.keys_of(a) {
                k.add_to(keys);
            }
            return;
        };
        let entry = match derived.iter().position(|(id, _)| *id == a.id) {
            Some(i) => derived.get(i),
            None => {
                derived.push((a.id, self.pair.keys_of(a).ok().map(Box::new)));
                derived.last()
            }
        };
        // An anchor without a key scope simply has no keys (decryption then fails).
        if let Some((_, Some(k))) = entry {
            k.add_to(keys);
        }
    }

    fn anchor(&self, id: u32) -> Option<&super::state::AnchorRecord> {
        self.anchors.iter().find(|a| a.id == id)
    }

    /// Whether some signer's anchor lets confidential content into the normal world.
    fn ree_allowed(&self, signers: &[u32]) -> bool {
        signers
            .iter()
            .any(|s| self.anchor(*s).is_some_and(|a| a.scope.ree_plaintext))
    }

    /// The anchors that own the content of secure component `c`: those whose scope covers it.
    fn covering<'s>(
        &'s self,
        c: &'s crate::suit::ComponentId,
    ) -> impl Iterator<Item = &'s super::state::AnchorRecord> + 's {
        self.anchors.iter().filter(move |a| covers(&a.scope, c))
    }

    /// Whether the content of secure component `c` may leave the TEE: every anchor that owns
    /// it (whose scope covers it) has `ree_plaintext`. Content no anchor covers any more (its
    /// anchors were removed or re-scoped) has no owner to allow it, so it stays.
    fn exportable(&self, c: &crate::suit::ComponentId) -> bool {
        let mut owners = self.covering(c).peekable();
        owners.peek().is_some() && owners.all(|a| a.scope.ree_plaintext)
    }

    /// Whether secure content of `source` copied into secure `dest` by a manifest `signers`
    /// signed stays with every anchor that owns it (by scope): each signed, or covers `dest`
    /// where nothing reads it but further copies, which this rule checks again. A TA
    /// component or a TA's personalization data is read by that TA's code, which every anchor
    /// covering the TA installs: only the owners' signatures let content go there, else an
    /// anchor sharing the source's scope would read another's secret through its own TA, in
    /// one copy or two.
    fn stays_with_its_owners(
        &self,
        signers: &[u32],
        dest: &crate::suit::ComponentId,
        source: &crate::suit::ComponentId,
    ) -> bool {
        use super::components::Kind;
        let read_by_code = matches!(
            super::components::classify(dest),
            Ok(Kind::TrustedApp { .. } | Kind::Personalization { .. })
        );
        self.covering(source)
            .all(|o| signers.contains(&o.id) || (!read_by_code && covers(&o.scope, dest)))
    }
}

/// Whether `scope`'s component prefixes cover `c` (as the engine's policy checks it).
fn covers(scope: &super::state::Scope, c: &crate::suit::ComponentId) -> bool {
    scope.longest_cover(c).is_some()
}

/// Whether content written to `c` leaves the TEE (an unusable REE path counts as one).
fn is_ree(c: &crate::suit::ComponentId) -> bool {
    matches!(
        super::components::classify(c),
        Ok(super::components::Kind::Ree { .. }) | Err(_)
    )
}

impl crate::suit::decrypt::KeySource for AnchorKeySource<'_> {
    fn keys_for(
        &self,
        signers: &[u32],
        component: &crate::suit::ComponentId,
    ) -> Result<crate::suit::decrypt::SelectedKeys<'_>, crate::suit::decrypt::PlaintextRefused>
    {
        let ree = is_ree(component);
        let mut keys = MemoryKeys::new();
        let mut allowed = false;
        // The stand-in keys registered so far (each once, however many anchors it is for).
        #[cfg(feature = "author")]
        let mut stand_ins_added = alloc::vec::Vec::new();
        #[cfg(feature = "author")]
        if let Some(s) = self.stand_in.filter(|s| s.unbound.is_some()) {
            let unbound = signers
                .iter()
                .filter_map(|id| self.anchor(*id))
                .filter(|a| a.key_scope != 0 && !s.by_anchor.iter().any(|(b, _)| *b == a.id))
                .count();
            if unbound > 1 {
                s.shared.set(true);
            }
        }
        for id in signers {
            let Some(a) = self.anchor(*id) else { continue };
            // Into the REE: only anchors that let their plaintext leave the TEE. Into a
            // secure component: only anchors whose scope covers it, so what an anchor's keys
            // decrypt stays where that anchor owns it (a co-signer cannot take it elsewhere).
            if (ree && !a.scope.ree_plaintext) || (!ree && !covers(&a.scope, component)) {
                continue;
            }
            allowed = true;
            // The simulated device: the key standing in for this anchor's own, if any (an
            // anchor without keys of its own, key scope 0, has none to stand in for).
            #[cfg(feature = "author")]
            let simulated = self
                .stand_in
                .map(|s| {
                    if a.key_scope != 0 {
                        s.add_for(a.id, &mut keys, &mut stand_ins_added);
                    }
                })
                .is_some();
            #[cfg(not(feature = "author"))]
            let simulated = false;
            if !simulated {
                self.add_keys_of(a, &mut keys);
            }
            for kek in self.keks.iter().filter(|k| k.anchors.contains(id)) {
                let _ = keys.add_kek(Some(&kek.kid), &kek.key);
            }
        }
        if ree && !allowed {
            return Err(crate::suit::decrypt::PlaintextRefused);
        }
        if ree && !self.note_release(signers, component, &[]) {
            return Err(crate::suit::decrypt::PlaintextRefused);
        }
        Ok(crate::suit::decrypt::SelectedKeys::Own(keys))
    }

    fn may_copy(
        &self,
        signers: &[u32],
        component: &crate::suit::ComponentId,
        source: &crate::suit::ComponentId,
        content: crate::suit::decrypt::CopiedContent,
    ) -> Result<(), crate::suit::decrypt::PlaintextRefused> {
        use crate::suit::decrypt::CopiedContent;
        // Secure components (TA data, personalization, secure storage) and anything decrypted
        // in this run are confidential: copying them out is a decryption into the REE.
        let source_ree = is_ree(source);
        if content != CopiedContent::Decrypted && source_ree {
            // REE content is public, but for content a flag released (its own record's, or
            // noted in this run; one served in this run is the REE's own): that is public
            // only while an anchor that released it holds the flag. So it is copied at all
            // only then (not into a secure component to be let out again under another
            // anchor's flag once this one is revoked), and a copy into another REE file,
            // which the REE reads as its own, takes a signer with the flag too and stays
            // tied to the same anchors (not laundered into a file no flag speaks for).
            if let Some(releases) = self.releases_of(source) {
                let refused = !releases.iter().any(|r| r.holds(self.anchors))
                    || (is_ree(component)
                        && (!self.ree_allowed(signers)
                            || !self.note_release(&[], component, &releases)));
                if refused {
                    return Err(crate::suit::decrypt::PlaintextRefused);
                }
            }
            return Ok(());
        }
        // Who owns it: for a secure source, the anchors covering it (content decrypted into
        // it in this run was decrypted with their keys only). Content decrypted in this run
        // into an REE component was decrypted with keys of anchors that have ree_plaintext.
        let owners_allow = source_ree || self.exportable(source);
        if is_ree(component) {
            if !owners_allow
                || !self.ree_allowed(signers)
                || !self.note_release(signers, component, &[])
            {
                return Err(crate::suit::decrypt::PlaintextRefused);
            }
        } else if !owners_allow && self.exportable(component) {
            // Into a secure component whose own anchors could copy it out later: that would
            // hand the content to owners that allow what its owners do not (a move in two
            // steps, in one run or across runs).
            return Err(crate::suit::decrypt::PlaintextRefused);
        } else if !source_ree
            && content != CopiedContent::Supplied
            && !self.stays_with_its_owners(signers, component, source)
        {
            return Err(crate::suit::decrypt::PlaintextRefused);
        }
        Ok(())
    }

    /// Owners by scope, as for `may_copy`: none for an REE file (the REE reads it) or for
    /// content its owners all let out. A component no anchor covers has no owners, and no
    /// manifest can name it (a signer's scope must cover each of its components).
    fn owners(&self, component: &crate::suit::ComponentId) -> Option<alloc::sync::Arc<[u32]>> {
        if is_ree(component) || self.exportable(component) {
            return None;
        }
        Some(self.covering(component).map(|a| a.id).collect())
    }

    fn staged(&self, component: &crate::suit::ComponentId) {
        let Some((mut pending, mut released)) = self.notes_mut() else {
            return;
        };
        let now = match pending.iter().position(|(c, _)| c == component) {
            Some(i) => pending.swap_remove(i).1,
            None => Vec::new(),
        };
        match released.iter_mut().find(|(c, _)| c == component) {
            Some((_, r)) => *r = now,
            None => released.push((component.clone(), now)),
        }
    }

    fn discarded(&self, component: &crate::suit::ComponentId) {
        let Some((mut pending, mut released)) = self.notes_mut() else {
            return;
        };
        pending.retain(|(c, _)| c != component);
        released.retain(|(c, _)| c != component);
    }
}

#[cfg(test)]
mod tests {
    use super::super::memory::MemoryBackend as TestBackend;
    use super::*;

    /// An anchor's keys are derived once per key source, however often a run asks for them
    /// (a decrypting directive in a loop asks each time), and stay the same keys.
    #[test]
    fn a_key_source_derives_each_anchors_keys_once() {
        use crate::encryption::KeyKind;
        use crate::suit::decrypt::KeySource as _;
        let pair = DeviceKeyPair::load_or_create(&mut TestBackend::new(1)).unwrap();
        let anchor = |id: u32, key_scope: u64| super::super::state::AnchorRecord {
            id,
            cose_key: crate::protocol::ByteBuf::from(alloc::vec![u8::try_from(id).unwrap_or(0); 8]),
            role: super::super::state::RoleRecord::Author,
            scope: super::super::state::Scope {
                component_prefixes: alloc::vec![alloc::vec![crate::protocol::ByteBuf::from(
                    b"app".to_vec()
                )]],
                ..Default::default()
            },
            key_scope,
        };
        let anchors = [anchor(1, 1), anchor(2, 2), anchor(3, 0)];
        let source = AnchorKeySource::new(&pair, &anchors, &[]);
        let app = crate::suit::ComponentId::new(&[b"app"]);
        let ecdh_kids = |signers: &[u32]| -> usize {
            let keys = source.keys_for(signers, &app).ok().unwrap();
            keys.get().find(KeyKind::EcdhEsP256, None).len()
        };
        let expected = pair.anchor_keys(1, &anchors[0].cose_key).unwrap();
        for _ in 0..3 {
            assert_eq!(ecdh_kids(&[1]), 1);
            let keys = source.keys_for(&[1], &app).ok().unwrap();
            let kid = expected.ecdh_public().kid;
            assert_eq!(keys.get().find(KeyKind::EcdhEsP256, Some(&kid)).len(), 1);
        }
        assert_eq!(source.derived.borrow().len(), 1);
        // Anchor 3 has no key scope: remembered as keyless, derived no more than the others.
        assert_eq!(ecdh_kids(&[1, 2, 3]), 2);
        assert_eq!(ecdh_kids(&[3, 2]), 1);
        assert_eq!(source.derived.borrow().len(), 3);
    }

    /// A copy into an REE file needs every owner's consent and a signer allowed to put
    /// plaintext there, each on its own; content no anchor owns stays (mutation review s34:
    /// dropping either check survived every service test, where the policy's scope rule
    /// answers first).
    #[test]
    fn a_copy_into_the_ree_needs_its_owners_and_a_signer_that_may_export() {
        use crate::suit::decrypt::{CopiedContent, KeySource as _};
        let pair = DeviceKeyPair::load_or_create(&mut TestBackend::new(1)).unwrap();
        let anchor =
            |id: u32, prefix: &[u8], ree_plaintext: bool| super::super::state::AnchorRecord {
                id,
                cose_key: crate::protocol::ByteBuf::from(
                    alloc::vec![u8::try_from(id).unwrap_or(0); 8],
                ),
                role: super::super::state::RoleRecord::Author,
                scope: super::super::state::Scope {
                    component_prefixes: alloc::vec![alloc::vec![crate::protocol::ByteBuf::from(
                        prefix.to_vec()
                    )]],
                    ree_plaintext,
                    ..Default::default()
                },
                key_scope: u64::from(id),
            };
        let anchors = [anchor(1, b"app", true), anchor(2, b"ree", false)];
        let source = AnchorKeySource::new(&pair, &anchors, &[]);
        let id = |segments: &[&[u8]]| crate::suit::ComponentId::new(segments);
        let (app, orphan, file) = (id(&[b"app"]), id(&[b"orphan"]), id(&[b"ree", b"f"]));
        assert!(source
            .may_copy(&[1], &file, &app, CopiedContent::Held)
            .is_ok());
        assert!(source
            .may_copy(&[2], &file, &app, CopiedContent::Held)
            .is_err());
        assert!(source
            .may_copy(&[1], &file, &orphan, CopiedContent::Held)
            .is_err());
    }

    #[test]
    fn keys_are_created_once_and_stable() {
        let mut env = TestBackend::new(1);
        let a = DeviceKeyPair::load_or_create(&mut env).unwrap();
        env.seed = 99;
        let b = DeviceKeyPair::load_or_create(&mut env).unwrap();
        assert_eq!(a.identity_public(), b.identity_public());
        assert_eq!(
            a.anchor_keys(1, b"k").unwrap().hpke_public(),
            b.anchor_keys(1, b"k").unwrap().hpke_public()
        );
        assert_eq!(a.identity_public().sec1.len(), 65);
        let other = DeviceKeyPair::load_or_create(&mut TestBackend::new(2)).unwrap();
        assert_ne!(
            a.identity_public(),
            other.identity_public(),
            "keys come from the RNG"
        );
    }

    #[test]
    fn every_purpose_and_every_anchor_has_its_own_key() {
        let k = DeviceKeyPair::load_or_create(&mut TestBackend::new(1)).unwrap();
        let a1 = k.anchor_keys(1, b"anchor key A").unwrap();
        let a2 = k.anchor_keys(2, b"anchor key A").unwrap();
        let b1 = k.anchor_keys(1, b"anchor key B").unwrap();
        let all = [
            k.identity_public(),
            k.report_public(),
            k.provisioning_public(),
            a1.ecdh_public(),
            a1.hpke_public(),
            a2.ecdh_public(),
            a2.hpke_public(),
            b1.ecdh_public(),
            b1.hpke_public(),
        ];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_eq!(
            k.anchor_keys(0, b"x").err(),
            Some(KeyStoreError::NoKeyScope)
        );
    }

    #[test]
    fn a_corrupt_or_old_format_key_object_is_an_error_not_a_new_key() {
        let mut env = TestBackend::new(1);
        env.put(KEYS_OBJECT, b"junk").unwrap();
        assert_eq!(
            DeviceKeyPair::load_or_create(&mut env).err(),
            Some(KeyStoreError::Corrupt)
        );
        let old = Stored {
            format: 1,
            master: ByteBuf::from(alloc::vec![7u8; 32]),
        };
        env.put(KEYS_OBJECT, &crate::service::record::encode(&old).unwrap())
            .unwrap();
        assert_eq!(
            DeviceKeyPair::load_or_create(&mut env).err(),
            Some(KeyStoreError::Corrupt)
        );
    }

    #[test]
    fn a_broken_rng_is_reported_and_nothing_stored() {
        let mut env = TestBackend::new(1);
        env.broken_rng = true;
        assert_eq!(
            DeviceKeyPair::load_or_create(&mut env).err(),
            Some(KeyStoreError::Rng)
        );
        assert!(env.store().names().is_empty());
    }
}
