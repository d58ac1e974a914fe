//! The SUIT_Report codec: encoding and decoding side by side (report draft §4, labels
//! §10.5-10.7, plus this implementation's extensions, see the module above), and the
//! COSE_Sign1 wrapping (§8) that signs and verifies it.

use alloc::string::String;
use alloc::vec::Vec;

use p256::elliptic_curve::sec1::ToSec1Point;

use super::{
    label, DecodedReport, DeviceState, Entry, Failure, InstalledComponent, Reason, Report,
    ReportError, ReportRecord, ReportResult, SystemProperties, Value, MAX_NONCE_LEN,
    MAX_OTHER_DIGEST_LEN, MAX_PROPERTIES, MAX_RECORDS, MAX_REPORT_LEN, MAX_SIGNED_REPORT_LEN,
    MAX_STATE_COMPONENTS, MAX_URI_LEN, MAX_VALUE_LEN, MAX_WALK,
};
use crate::cbor::{self, Decoder, Encoder, Item};
use crate::cose::{wire, Algorithm, CoseError, Prepared, VerificationKey};
use crate::registry::{RecordElement, ReportKey};
use crate::suit::component::ComponentId;
use crate::suit::digest::COSE_ALG_SHA256;

/// The SUIT_Digest algorithms manifest-37 lists besides SHA-256 (`suit-cose-hash-algs`:
/// SHAKE128, SHA-384, SHA-512, SHAKE256), which a third party's report may name its manifest
/// by ([`Report::other_manifest_digest`]).
const OTHER_DIGEST_ALGS: [i64; 4] = [-18, -43, -44, -45];

/// Encodes a SUIT_Report (keys in deterministic order): [`Report::encode`].
pub(super) fn encode_report(r: &Report) -> Result<Vec<u8>, ReportError> {
    let detail = match &r.result {
        ReportResult::Failure(f) => f.detail.as_ref(),
        ReportResult::Success => None,
    };
    let present = [
        r.nonce.as_deref().map(Member::Nonce),
        Some(Member::Records(&r.entries)),
        Some(Member::Result(&r.result)),
        Some(Member::Reference(r)),
        r.sequence_number.map(Member::SequenceNumber),
        detail.map(Member::Fault),
        (r.dropped_records > 0).then_some(Member::DroppedRecords(r.dropped_records)),
        r.authenticated.map(Member::Authenticated),
        r.device_state.as_ref().map(Member::DeviceState),
    ];
    let mut members: Vec<Member<'_>> = present.into_iter().flatten().collect();
    cbor::sort_deterministic(&mut members, Member::label);
    let mut e = Encoder::with_capacity(256);
    e.map(members.len());
    for m in &members {
        m.write(&mut e)?;
    }
    if e.len() > MAX_REPORT_LEN {
        return Err(ReportError::TooLarge("report"));
    }
    Ok(e.into_bytes())
}

/// One member of a SUIT_Report. Written in the order of their labels' encodings (RFC 8949
/// §4.2.1), by sorting, not in the order the code lists them: an extension label added later
/// (-70006 after -70005) cannot break the order.
enum Member<'a> {
    Nonce(&'a [u8]),
    Records(&'a [Entry]),
    Result(&'a ReportResult),
    Reference(&'a Report),
    SequenceNumber(u64),
    Fault(&'a crate::fault::Fault),
    DroppedRecords(u64),
    Authenticated(bool),
    DeviceState(&'a DeviceState),
}

impl Member<'_> {
    fn label(&self) -> i64 {
        match self {
            Member::Nonce(_) => label::NONCE,
            Member::Records(_) => label::RECORDS,
            Member::Result(_) => label::RESULT,
            Member::Reference(_) => label::REFERENCE,
            Member::SequenceNumber(_) => label::EXT_SEQUENCE_NUMBER,
            Member::Fault(_) => label::EXT_FAULT,
            Member::DroppedRecords(_) => label::EXT_DROPPED_RECORDS,
            Member::Authenticated(_) => label::EXT_AUTHENTICATED,
            Member::DeviceState(_) => label::EXT_DEVICE_STATE,
        }
    }

    /// Writes the label and the value.
    fn write(&self, e: &mut Encoder) -> Result<(), ReportError> {
        e.int(self.label());
        match self {
            Member::Nonce(nonce) => {
                if nonce.len() > MAX_NONCE_LEN {
                    return Err(ReportError::TooLarge("nonce"));
                }
                e.bytes(nonce);
            }
            Member::Records(entries) => {
                if entries.len() > MAX_RECORDS {
                    return Err(ReportError::TooLarge("records"));
                }
                e.array(entries.len());
                for entry in *entries {
                    match entry {
                        Entry::Record(r) => encode_record(e, r)?,
                        Entry::System(s) => encode_system(e, s)?,
                    }
                }
            }
            Member::Result(ReportResult::Success) => {
                e.bool(true);
            }
            Member::Result(ReportResult::Failure(f)) => {
                // Labels 5, 6, 7: in order as written.
                e.map(3);
                e.int(label::RESULT_CODE);
                e.int(f.code);
                e.int(label::RESULT_RECORD);
                encode_record(e, &f.record)?;
                e.int(label::RESULT_REASON);
                e.int(f.reason.code());
            }
            Member::Reference(r) => {
                e.array(2);
                let uri = r.manifest_uri.as_deref().unwrap_or("");
                if uri.len() > MAX_URI_LEN {
                    return Err(ReportError::TooLarge("manifest URI"));
                }
                e.text(uri);
                e.array(2);
                // No authenticated manifest (refused before authentication): an empty digest,
                // never the one the unauthenticated bytes claim (CONFORMANCE.md, Reports).
                match (&r.manifest_digest, &r.other_manifest_digest) {
                    (Some(d), _) => {
                        e.int(COSE_ALG_SHA256);
                        e.bytes(d)
                    }
                    (None, Some((alg, d))) => {
                        if !OTHER_DIGEST_ALGS.contains(alg) {
                            return Err(ReportError::Malformed("suit-report-manifest-digest"));
                        }
                        if d.len() > MAX_OTHER_DIGEST_LEN {
                            return Err(ReportError::TooLarge("suit-report-manifest-digest"));
                        }
                        e.int(*alg);
                        e.bytes(d)
                    }
                    (None, None) => {
                        e.int(COSE_ALG_SHA256);
                        e.bytes(&[])
                    }
                };
            }
            Member::SequenceNumber(s) | Member::DroppedRecords(s) => {
                e.uint(*s);
            }
            Member::Fault(d) => crate::cbor::Field::put(*d, e),
            Member::Authenticated(a) => {
                e.bool(*a);
            }
            Member::DeviceState(s) => encode_state(e, s)?,
        }
        Ok(())
    }
}

fn encode_state(e: &mut Encoder, s: &DeviceState) -> Result<(), ReportError> {
    if s.components.len() > MAX_STATE_COMPONENTS {
        return Err(ReportError::TooLarge("device state components"));
    }
    // Key 3 only when not 0: the bytes of a device without delegate messages are unchanged.
    let delegates = s.delegate_counter != 0;
    e.map(2 + usize::from(delegates));
    e.uint(1);
    e.uint(s.provisioning_counter);
    e.uint(2);
    e.array(s.components.len());
    for c in &s.components {
        e.array(4);
        c.component.encode_to(e);
        e.uint(c.sequence_number);
        match c.digest {
            Some(digest) => e.bytes(&crate::suit::Digest(digest).encode()),
            None => e.null(),
        };
        e.uint(c.size);
    }
    if delegates {
        e.uint(3);
        e.uint(s.delegate_counter);
    }
    Ok(())
}

fn decode_state(d: &mut Decoder<'_>) -> Result<DeviceState, ReportError> {
    const AT: &str = "device state";
    let n = d.map().map_err(m(AT))?;
    let mut state = DeviceState::default();
    for _ in 0..n {
        match d.int().map_err(m(AT))? {
            1 => state.provisioning_counter = d.uint().map_err(m(AT))?,
            3 => state.delegate_counter = d.uint().map_err(m(AT))?,
            2 => {
                let k = d.array().map_err(m(AT))?;
                if k > MAX_STATE_COMPONENTS {
                    return Err(ReportError::TooLarge("device state components"));
                }
                for _ in 0..k {
                    if d.array().map_err(m(AT))? != 4 {
                        return Err(ReportError::Malformed(AT));
                    }
                    let s = d.array().map_err(m(AT))?;
                    if s > crate::suit::component::MAX_SEGMENTS {
                        return Err(ReportError::TooLarge("system-component-id"));
                    }
                    let mut segs: Vec<&[u8]> = Vec::with_capacity(s);
                    for _ in 0..s {
                        segs.push(d.bytes().map_err(m(AT))?);
                    }
                    let sequence_number = d.uint().map_err(m(AT))?;
                    let digest = if d.null().map_err(m(AT))? {
                        None
                    } else {
                        let b = d.bytes().map_err(m(AT))?;
                        let digest = crate::suit::Digest::decode_all(b)
                            .map_err(|_| ReportError::Malformed(AT))?;
                        Some(digest.0)
                    };
                    let size = d.uint().map_err(m(AT))?;
                    state.components.push(InstalledComponent {
                        component: ComponentId::new(&segs),
                        sequence_number,
                        digest,
                        size,
                    });
                }
            }
            _ => {
                d.skip().map_err(m(AT))?;
            }
        }
    }
    Ok(state)
}

/// Signs an encoded SUIT_Report as `SUIT_Report_COSE_Sign1_Tagged` (report draft §8): tag 18,
/// protected `{alg: ESP256}`, unprotected `{kid}` (first 16 bytes of SHA-256 over the key's
/// uncompressed SEC1 point, as the device's status reports it), the report as attached payload.
/// The bytes must be a SUIT_Report.
pub fn sign_report(report_bytes: &[u8], key: &p256::SecretKey) -> Result<Vec<u8>, ReportError> {
    decode_report(report_bytes)?;
    sign_encoded(report_bytes, key)
}

/// A report this device encoded and stored itself ([`encode_report`] with neither nonce nor
/// device state), signed with the caller's `nonce` and the device's `state` now: the bytes
/// decoding, setting both and encoding again would give, without the report decoder in the
/// TA. The stored members are kept byte for byte and the two new ones put in their places
/// (every member sorted as [`encode_report`] sorts them; this also orders a report stored by
/// an earlier version, which wrote -70006 before -70003).
///
/// The stored report may carry the signers of its manifest ([`encode_stored`]): that member
/// is never signed. `recipient` is asked, with those signers (none for a report stored
/// without them), for the status tracker key the report is for; with one, the signed payload
/// is the report sealed to it ([`seal`]) instead of the report.
pub(super) fn sign_stored(
    stored: &[u8],
    nonce: Option<&[u8]>,
    state: &DeviceState,
    key: &p256::SecretKey,
    recipient: impl FnOnce(&[StoredSigner]) -> Result<Option<p256::PublicKey>, ReportError>,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<Vec<u8>, ReportError> {
    const AT: &str = "stored report";
    if stored.len() > MAX_REPORT_LEN {
        return Err(ReportError::TooLarge(AT));
    }
    cbor::check_well_formed(stored).map_err(m(AT))?;
    let mut d = Decoder::new(stored);
    let members = d.map().map_err(m(AT))?;
    // At most `cbor::MAX_CONTAINER_LEN` members (checked above), two more added.
    let mut parts: Vec<(i64, &[u8])> = Vec::with_capacity(members + 2);
    let mut signers = Vec::new();
    for _ in 0..members {
        let begin = d.position();
        let key = d.int().map_err(m(AT))?;
        if key == label::NONCE || key == label::EXT_DEVICE_STATE {
            return Err(ReportError::Malformed(AT));
        }
        if key == STORED_SIGNERS {
            if !signers.is_empty() {
                return Err(ReportError::Malformed(AT));
            }
            signers = decode_signers(&mut d)?;
            continue;
        }
        d.skip().map_err(m(AT))?;
        let member = stored
            .get(begin..d.position())
            .ok_or(ReportError::Malformed(AT))?;
        parts.push((key, member));
    }
    d.finish().map_err(m(AT))?;
    let mut added = Encoder::new();
    if let Some(nonce) = nonce {
        Member::Nonce(nonce).write(&mut added)?;
    }
    let nonce_end = added.len();
    Member::DeviceState(state).write(&mut added)?;
    // Part of the report's plaintext (it may be sealed to a tracker): wiped when dropped.
    let added = zeroize::Zeroizing::new(added.into_bytes());
    let (nonce_member, state_member) = added.split_at(nonce_end);
    if nonce.is_some() {
        parts.push((label::NONCE, nonce_member));
    }
    parts.push((label::EXT_DEVICE_STATE, state_member));
    cbor::sort_deterministic(&mut parts, |(key, _)| *key);
    let mut e = Encoder::with_capacity(stored.len() + added.len() + 8);
    e.map(parts.len());
    for (_, member) in &parts {
        e.raw(member);
    }
    // The report in clear (it may be sealed to a tracker): wiped when dropped, whatever
    // path leaves here.
    let mut report = zeroize::Zeroizing::new(e.into_bytes());
    if report.len() > MAX_REPORT_LEN {
        return Err(ReportError::TooLarge("report"));
    }
    // A tracker key that cannot be used fails the report: it never goes out in clear instead.
    match recipient(&signers)? {
        None => sign_encoded(&report, key),
        // The plaintext is sealed in place (the taken buffer is the ciphertext after it).
        Some(tracker) => sign_encoded(&seal(core::mem::take(&mut *report), &tracker, rng)?, key),
    }
}

/// The label of the member a stored report keeps its manifest's signers in
/// ([`encode_stored`]). Never signed: [`sign_stored`] takes it out, and a SUIT_Report read
/// with it is read as with any unknown extension.
const STORED_SIGNERS: i64 = -70099;

/// Most signers a stored report names (the state's anchor bound).
pub const MAX_STORED_SIGNERS: usize = 32;

/// An anchor that authenticated the manifest of a stored report: its id and the key scope
/// the device gave it when it was added (an anchor removed and added again under the same id
/// is another anchor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSigner {
    /// The anchor's id.
    pub anchor: u32,
    /// Its key scope.
    pub key_scope: u64,
}

/// A report as the device stores it: [`encode_report`] plus, when `signers` is not empty,
/// a member naming them (`-70099: [* [id, key scope]]`, taken out again when signed).
pub(super) fn encode_stored(r: &Report, signers: &[StoredSigner]) -> Result<Vec<u8>, ReportError> {
    // The report in clear, wiped when dropped: a sealed report's plaintext too.
    let mut report = zeroize::Zeroizing::new(encode_report(r)?);
    if signers.is_empty() {
        return Ok(core::mem::take(&mut *report));
    }
    if signers.len() > MAX_STORED_SIGNERS {
        return Err(ReportError::TooLarge("signers"));
    }
    let mut member = Encoder::new();
    member.int(STORED_SIGNERS).array(signers.len());
    for s in signers {
        member.array(2).uint(u64::from(s.anchor)).uint(s.key_scope);
    }
    let member = member.into_bytes();
    let mut d = Decoder::new(&report);
    let n = d.map().map_err(m("report"))?;
    let mut parts: Vec<(i64, &[u8])> = Vec::with_capacity(n + 1);
    for _ in 0..n {
        let begin = d.position();
        let key = d.int().map_err(m("report"))?;
        d.skip().map_err(m("report"))?;
        let bytes = report
            .get(begin..d.position())
            .ok_or(ReportError::Malformed("report"))?;
        parts.push((key, bytes));
    }
    parts.push((STORED_SIGNERS, &member));
    cbor::sort_deterministic(&mut parts, |(key, _)| *key);
    let mut e = Encoder::with_capacity(report.len() + member.len() + 8);
    e.map(parts.len());
    for (_, bytes) in &parts {
        e.raw(bytes);
    }
    Ok(e.into_bytes())
}

fn decode_signers(d: &mut Decoder<'_>) -> Result<Vec<StoredSigner>, ReportError> {
    const AT: &str = "stored signers";
    let n = d.array().map_err(m(AT))?;
    if n == 0 || n > MAX_STORED_SIGNERS {
        return Err(ReportError::Malformed(AT));
    }
    let mut signers = Vec::with_capacity(n);
    for _ in 0..n {
        if d.array().map_err(m(AT))? != 2 {
            return Err(ReportError::Malformed(AT));
        }
        let anchor =
            u32::try_from(d.uint().map_err(m(AT))?).map_err(|_| ReportError::Malformed(AT))?;
        let key_scope = d.uint().map_err(m(AT))?;
        signers.push(StoredSigner { anchor, key_scope });
    }
    Ok(signers)
}

/// Seals an encoded SUIT_Report to a status tracker's P-256 key: the report draft's
/// `SUIT_Report_COSE_Encrypt0` (§8), COSE-HPKE integrated encryption with HPKE-0 (the MTI
/// profile's curve and AES-128-GCM), `ek` unprotected, a fresh ephemeral key per report,
/// HPKE `info` and `external_aad` empty. The plaintext is the encoded SUIT_Report (the bytes
/// `bstr .cbor SUIT_Report` wraps; [`open_report`] accepts it bstr-wrapped too), encrypted in
/// place: `report` is consumed and no copy of it is left.
pub fn seal(
    report: Vec<u8>,
    tracker: &p256::PublicKey,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<Vec<u8>, ReportError> {
    crate::encryption::seal_integrated_hpke0(report, tracker, b"", rng)
        .map_err(|_| ReportError::EncryptionFailed)
}

/// Opens a `SUIT_Report_COSE_Encrypt0` (tagged or not) with the status tracker's private key
/// and returns the encoded SUIT_Report (a plaintext that is a byte string holding it, the
/// literal reading of the draft's `SUIT_Report_plaintext = bstr .cbor SUIT_Report`, is
/// unwrapped). A wrong key, a changed byte or anything but HPKE-0/HPKE-7 integrated encryption
/// is [`ReportError::Undecryptable`].
pub fn open_report(
    encrypt0: &[u8],
    tracker: &p256::SecretKey,
) -> Result<zeroize::Zeroizing<Vec<u8>>, ReportError> {
    if encrypt0.len() > MAX_SIGNED_REPORT_LEN {
        return Err(ReportError::TooLarge("encrypted report"));
    }
    let mut keys = crate::encryption::keys::MemoryKeys::new();
    keys.add_hpke_p256_key(None, tracker.clone());
    let options = crate::encryption::CoseOptions {
        external_aad: b"",
        ecdh_kdf_other: None,
        hpke_info: b"",
        hpke_aad: b"",
    };
    let plaintext = crate::encryption::decrypt_integrated(encrypt0, None, &keys, &options)
        .map_err(|_| ReportError::Undecryptable)?;
    // `bstr .cbor SUIT_Report`, read literally: unwrap one byte string holding the report.
    let mut d = Decoder::new(&plaintext);
    if let Ok(inner) = d.bytes() {
        if d.finish().is_ok() {
            return Ok(zeroize::Zeroizing::new(inner.to_vec()));
        }
    }
    Ok(plaintext)
}

fn sign_encoded(report_bytes: &[u8], key: &p256::SecretKey) -> Result<Vec<u8>, ReportError> {
    let signing = p256::ecdsa::SigningKey::from(key);
    let sec1 = key.public_key().to_sec1_point(false);
    let kid = crate::cose::key_id(sec1.as_bytes());
    let protected = wire::protected_alg(Algorithm::Esp256.cose_id(), None);
    wire::sign1_tagged(&protected, &kid, report_bytes, |tbs| {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = signing
            .try_sign(tbs)
            .map_err(|_| ReportError::SigningFailed)?;
        Ok(sig.to_bytes().to_vec())
    })
}

/// Reads a signed report's COSE_Sign1 (tagged or not, at most [`MAX_SIGNED_REPORT_LEN`]),
/// verifying nothing.
fn read_signed_report(bytes: &[u8]) -> Result<wire::Single<'_>, ReportError> {
    if bytes.len() > MAX_SIGNED_REPORT_LEN {
        return Err(ReportError::TooLarge("signed report"));
    }
    // The COSE_Sign1 (header values `any`); the report in its payload is read strictly.
    cbor::check_well_formed_any(bytes).map_err(|_| ReportError::Cose(CoseError::Malformed))?;
    match Decoder::new(bytes).item() {
        Ok(Item::Tag(wire::TAG_SIGN1)) | Ok(Item::Array(4)) => {
            wire::single(bytes, wire::TAG_SIGN1, false)
        }
        Ok(Item::Tag(t)) => return Err(ReportError::Cose(CoseError::UnsupportedStructure(t))),
        _ => return Err(ReportError::Cose(CoseError::Malformed)),
    }
    .map_err(|_| ReportError::Cose(CoseError::Malformed))
}

/// The payload (the encoded SUIT_Report) of a signed report, NOT verified: for showing a
/// report and checking what the device was asked for, where the signature is someone else's
/// to verify. The COSE_Sign1 is read as [`verify_report`] reads it, so a structure this
/// refuses no verification would accept; a detached payload is
/// [`ReportError::Malformed`].
pub fn unverified_report_payload(bytes: &[u8]) -> Result<&[u8], ReportError> {
    read_signed_report(bytes)?
        .payload
        .ok_or(ReportError::Malformed("COSE_Sign1 payload is detached"))
}

/// Verifies a signed report (COSE_Sign1, tagged or not, attached payload) with the device's
/// report key (ESP256 or ES256 for a P-256 key, EdDSA or Ed25519 for an Ed25519 key, HSS-LMS
/// where the build has it) and decodes it. A report whose payload is encrypted is
/// [`ReportError::Encrypted`] (after its signature verified): [`verify_and_open`] reads it.
pub fn verify_report(bytes: &[u8], key: &VerificationKey) -> Result<DecodedReport, ReportError> {
    decode_report(verified_payload(bytes, key)?)
}

/// A signed report verified and, if its payload is a `SUIT_Report_COSE_Encrypt0`, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedReport {
    /// The report.
    pub report: DecodedReport,
    /// Whether the signed payload was encrypted (and opened with the tracker key).
    pub encrypted: bool,
}

/// [`verify_report`], then, for a report whose signed payload is a
/// `SUIT_Report_COSE_Encrypt0`, [`open_report`] with `tracker` (the status tracker's private
/// key): the signature is checked first, over the ciphertext, so nothing is decrypted that the
/// device did not sign. An encrypted report without `tracker` is [`ReportError::Encrypted`];
/// a plain one is read as [`verify_report`] reads it (`encrypted: false`).
pub fn verify_and_open(
    bytes: &[u8],
    key: &VerificationKey,
    tracker: Option<&p256::SecretKey>,
) -> Result<OpenedReport, ReportError> {
    let payload = verified_payload(bytes, key)?;
    match decode_report(payload) {
        Err(ReportError::Encrypted) => {
            let tracker = tracker.ok_or(ReportError::Encrypted)?;
            let plaintext = open_report(payload, tracker)?;
            let report = decode_report(&plaintext)?;
            Ok(OpenedReport {
                report,
                encrypted: true,
            })
        }
        other => other.map(|report| OpenedReport {
            report,
            encrypted: false,
        }),
    }
}

/// The payload of a signed report whose signature verifies with `key`.
fn verified_payload<'a>(bytes: &'a [u8], key: &VerificationKey) -> Result<&'a [u8], ReportError> {
    let sign1 = read_signed_report(bytes)?;
    let h = &sign1.headers;
    if h.protected.crit {
        return Err(ReportError::Cose(CoseError::UnknownCriticalHeader));
    }
    let alg = match h.protected.alg {
        // Every signature algorithm of the SUIT_COSE_Profiles a report may be signed with
        // (report-18: the manifest's profile SHOULD be reused), as far as `key` serves it:
        // this device signs ESP256, a third party's device on an Ed25519 or HSS-LMS profile
        // signs with those. A MAC algorithm has no place in a COSE_Sign1.
        Some(wire::IntOrText::Int(id)) => match Algorithm::from_cose_id(id) {
            Some(Algorithm::Hmac256) | None => {
                return Err(ReportError::Cose(CoseError::UnsupportedAlgorithm(id)))
            }
            Some(a) => a,
        },
        Some(wire::IntOrText::Text(_)) => {
            return Err(ReportError::Cose(CoseError::UnsupportedAlgorithm(0)))
        }
        None => return Err(ReportError::Cose(CoseError::MissingAlgorithm)),
    };
    if !key.supports(alg) {
        return Err(ReportError::Cose(CoseError::KeyAlgorithmMismatch));
    }
    let payload = sign1
        .payload
        .ok_or(ReportError::Malformed("COSE_Sign1 payload is detached"))?;
    let tbs = wire::ToBeSigned {
        context: wire::Context::Signature1,
        body_protected: h.protected_bytes,
        sign_protected: &[],
        payload,
    };
    key.check(alg, &Prepared::new(alg, tbs), sign1.signature)
        .map_err(|_| ReportError::BadSignature)?;
    Ok(payload)
}
// ---------------------------------------------------------------------------------------------
// Encoding helpers.

fn encode_value(e: &mut Encoder, v: &Value) -> Result<(), ReportError> {
    match v {
        Value::Uint(n) => e.uint(*n),
        Value::Int(i) => e.int(*i),
        Value::Bytes(b) if b.len() <= MAX_VALUE_LEN => e.bytes(b),
        Value::Text(t) if t.len() <= MAX_VALUE_LEN => e.text(t),
        Value::Bool(b) => e.bool(*b),
        Value::Other(raw) if raw.len() <= MAX_VALUE_LEN => {
            cbor::check_well_formed(raw).map_err(|_| ReportError::Malformed("property"))?;
            e.raw(raw)
        }
        _ => return Err(ReportError::TooLarge("property value")),
    };
    Ok(())
}

fn encode_properties(e: &mut Encoder, props: &[(i64, Value)]) -> Result<(), ReportError> {
    if props.len() > MAX_PROPERTIES {
        return Err(ReportError::TooLarge("properties"));
    }
    e.map(props.len());
    write_sorted(e, props)
}

/// Writes `props` (at most [`MAX_PROPERTIES`]) in deterministic key order (RFC 8949 §4.2.1),
/// whatever order the caller gave them in; a key given twice is refused.
fn write_sorted(e: &mut Encoder, props: &[(i64, Value)]) -> Result<(), ReportError> {
    let mut sorted: Vec<&(i64, Value)> = props.iter().collect();
    cbor::sort_deterministic(&mut sorted, |(k, _)| *k);
    if sorted
        .windows(2)
        .any(|w| matches!(w, [(a, _), (b, _)] if a == b))
    {
        return Err(ReportError::Malformed("duplicate property"));
    }
    for (k, v) in sorted {
        e.int(*k);
        encode_value(e, v)?;
    }
    Ok(())
}

fn encode_record(e: &mut Encoder, r: &ReportRecord) -> Result<(), ReportError> {
    if r.manifest_id.len() > MAX_WALK {
        return Err(ReportError::TooLarge("manifest walk"));
    }
    e.array(if r.command.is_some() { 7 } else { 5 });
    e.array(r.manifest_id.len());
    for i in &r.manifest_id {
        e.uint(*i);
    }
    e.int(r.section);
    e.uint(r.offset);
    e.uint(r.component_index);
    encode_properties(e, &r.properties)?;
    if let Some(c) = r.command {
        e.int(c);
        e.bool(r.success.unwrap_or(false));
    }
    Ok(())
}

fn encode_system(e: &mut Encoder, s: &SystemProperties) -> Result<(), ReportError> {
    if s.properties.len() > MAX_PROPERTIES {
        return Err(ReportError::TooLarge("properties"));
    }
    if s.properties
        .iter()
        .any(|(k, _)| *k == label::SYSTEM_COMPONENT_ID)
    {
        return Err(ReportError::Malformed(
            "property uses the component-id label",
        ));
    }
    // 0 (component id) sorts first in deterministic order, then the parameters, sorted.
    e.map(s.properties.len() + 1);
    e.int(label::SYSTEM_COMPONENT_ID);
    s.component.encode_to(e);
    write_sorted(e, &s.properties)
}

// ---------------------------------------------------------------------------------------------
// Decoding.

fn m(what: &'static str) -> impl Fn(cbor::CborError) -> ReportError {
    move |_| ReportError::Malformed(what)
}

pub(super) fn decode_report(bytes: &[u8]) -> Result<Report, ReportError> {
    if bytes.len() > MAX_REPORT_LEN {
        // A SUIT_Report_COSE_Encrypt0 is larger than the report it seals (its headers, the
        // encapsulated key and the tag): one of a report near the bound is still one.
        let sealed = bytes.len() <= MAX_SIGNED_REPORT_LEN
            && matches!(
                Decoder::new(bytes).peek(),
                Ok(Item::Tag(16)) | Ok(Item::Array(3))
            );
        return Err(if sealed {
            ReportError::Encrypted
        } else {
            ReportError::TooLarge("report")
        });
    }
    // Well-formed, floats and other simple values allowed where the reader skips an item
    // whose CDDL is open (`$$SUIT_Report_Extensions`, `$$SUIT_Record_Extensions`: a third
    // party's extension may hold any CBOR); every member read here is read by its type.
    cbor::check_well_formed_any(bytes).map_err(|e| {
        // Well-formed but invalid (RFC 8949 §5.6) is not malformed: say which.
        ReportError::Malformed(match e.kind {
            cbor::CborErrorKind::DuplicateKey => "SUIT_Report repeats a map key",
            _ => "SUIT_Report is not well-formed CBOR",
        })
    })?;
    let mut d = Decoder::new(bytes);
    match d.peek() {
        // SUIT_Report_COSE_Encrypt0 (tagged or a 3-element array).
        Ok(Item::Tag(16)) | Ok(Item::Array(3)) => return Err(ReportError::Encrypted),
        _ => {}
    }
    let n = d.map().map_err(m("SUIT_Report is not a map"))?;
    let mut reference = None;
    let mut records = None;
    let mut result = None;
    let mut report = Report {
        manifest_uri: None,
        manifest_digest: None,
        nonce: None,
        entries: Vec::new(),
        result: ReportResult::Success,
        sequence_number: None,
        dropped_records: 0,
        has_capability_report: false,
        other_manifest_digest: None,
        authenticated: None,
        device_state: None,
    };
    let mut detail = None;
    for _ in 0..n {
        let key = d.int().map_err(m("SUIT_Report key"))?;
        match key {
            label::REFERENCE => reference = Some(decode_reference(&mut d)?),
            label::NONCE => {
                let nonce = d.bytes().map_err(m(ReportKey::Nonce.name()))?;
                if nonce.len() > MAX_NONCE_LEN {
                    return Err(ReportError::TooLarge("nonce"));
                }
                report.nonce = Some(nonce.to_vec());
            }
            label::RECORDS => {
                let k = d.array().map_err(m(ReportKey::Records.name()))?;
                if k > MAX_RECORDS {
                    return Err(ReportError::TooLarge("records"));
                }
                let mut entries = Vec::with_capacity(k);
                for _ in 0..k {
                    entries.push(match d.peek().map_err(m(ReportKey::Records.name()))? {
                        Item::Map(_) => Entry::System(decode_system(&mut d)?),
                        _ => Entry::Record(decode_record(&mut d)?),
                    });
                }
                records = Some(entries);
            }
            label::RESULT => result = Some(decode_result(&mut d)?),
            label::CAPABILITY_REPORT => {
                d.skip().map_err(m("capability report"))?;
                report.has_capability_report = true;
            }
            label::EXT_SEQUENCE_NUMBER => {
                report.sequence_number = Some(d.uint().map_err(m("sequence number"))?);
            }
            label::EXT_FAULT => {
                detail = Some(
                    <crate::fault::Fault as crate::cbor::Field>::take(&mut d)
                        .map_err(m("fault"))?,
                );
            }
            label::EXT_DROPPED_RECORDS => {
                report.dropped_records = d.uint().map_err(m("dropped records"))?;
            }
            label::EXT_AUTHENTICATED => {
                report.authenticated = Some(d.bool().map_err(m("authenticated"))?);
            }
            label::EXT_DEVICE_STATE => report.device_state = Some(decode_state(&mut d)?),
            _ => {
                d.skip_any().map_err(m("extension"))?;
            }
        }
    }
    d.finish().map_err(m("bytes after SUIT_Report"))?;
    let (uri, digest) = reference.ok_or(ReportError::Malformed("suit-reference missing"))?;
    report.manifest_uri = uri;
    match digest {
        Digest::None => {}
        Digest::Sha256(d) => report.manifest_digest = Some(d),
        Digest::Other(alg, d) => report.other_manifest_digest = Some((alg, d)),
    }
    report.entries = records.ok_or(ReportError::Malformed("suit-report-records missing"))?;
    report.result = result.ok_or(ReportError::Malformed("suit-report-result missing"))?;
    if let ReportResult::Failure(f) = &mut report.result {
        f.detail = detail;
    }
    Ok(report)
}

/// suit-report-manifest-digest as read.
enum Digest {
    /// Empty: no manifest named.
    None,
    Sha256([u8; 32]),
    /// Another algorithm of `suit-cose-hash-algs`.
    Other(i64, Vec<u8>),
}

type Reference = (Option<String>, Digest);

fn decode_reference(d: &mut Decoder<'_>) -> Result<Reference, ReportError> {
    const AT: &str = ReportKey::Reference.name();
    if d.array().map_err(m(AT))? != 2 {
        return Err(ReportError::Malformed(AT));
    }
    let uri = d.text().map_err(m("suit-report-manifest-uri"))?;
    if uri.len() > MAX_URI_LEN {
        return Err(ReportError::TooLarge("manifest URI"));
    }
    const DIG: &str = "suit-report-manifest-digest";
    let k = d.array().map_err(m(DIG))?;
    if k < 2 {
        return Err(ReportError::Malformed(DIG));
    }
    let alg = d.int().map_err(m(DIG))?;
    let bytes = d.bytes().map_err(m(DIG))?;
    for _ in 2..k {
        d.skip().map_err(m(DIG))?;
    }
    let digest = match (alg, bytes.len()) {
        (_, 0) => Digest::None,
        (COSE_ALG_SHA256, 32) => {
            let mut out = [0u8; 32];
            out.copy_from_slice(bytes);
            Digest::Sha256(out)
        }
        (COSE_ALG_SHA256, _) => return Err(ReportError::Malformed(DIG)),
        // A third party's device may hash with any algorithm manifest-37 lists (OPTIONAL to
        // implement there): its report names the manifest so, and is read as it is.
        (a, n) if OTHER_DIGEST_ALGS.contains(&a) => {
            if n > MAX_OTHER_DIGEST_LEN {
                return Err(ReportError::TooLarge(DIG));
            }
            Digest::Other(a, bytes.to_vec())
        }
        _ => return Err(ReportError::Malformed(DIG)),
    };
    let uri = (!uri.is_empty()).then(|| String::from(uri));
    Ok((uri, digest))
}

fn decode_record(d: &mut Decoder<'_>) -> Result<ReportRecord, ReportError> {
    const AT: &str = "SUIT_Record";
    let n = d.array().map_err(m(AT))?;
    if n < 5 {
        return Err(ReportError::Malformed(AT));
    }
    let w = d.array().map_err(m(RecordElement::ManifestId.name()))?;
    if w > MAX_WALK {
        return Err(ReportError::TooLarge("manifest walk"));
    }
    let mut manifest_id = Vec::with_capacity(w);
    for _ in 0..w {
        manifest_id.push(d.uint().map_err(m(RecordElement::ManifestId.name()))?);
    }
    let section = d.int().map_err(m(RecordElement::ManifestSection.name()))?;
    let offset = d.uint().map_err(m(RecordElement::SectionOffset.name()))?;
    let component_index = d.uint().map_err(m(RecordElement::ComponentIndex.name()))?;
    let k = d.map().map_err(m(RecordElement::Properties.name()))?;
    if k > MAX_PROPERTIES {
        return Err(ReportError::TooLarge("properties"));
    }
    let mut properties = Vec::with_capacity(k);
    for _ in 0..k {
        let key = d.int().map_err(m(RecordElement::Properties.name()))?;
        properties.push((key, decode_value(d)?));
    }
    let mut r = ReportRecord {
        manifest_id,
        section,
        offset,
        component_index,
        properties,
        command: None,
        success: None,
    };
    let mut extra = n - 5;
    if extra >= 2 {
        // This implementation's extension: [command label, success]; anything else is skipped.
        let mut probe = d.clone();
        if let (Ok(c), Ok(s)) = (probe.int(), probe.bool()) {
            r.command = Some(c);
            r.success = Some(s);
            *d = probe;
            extra -= 2;
        }
    }
    for _ in 0..extra {
        d.skip_any().map_err(m(AT))?;
    }
    Ok(r)
}

fn decode_system(d: &mut Decoder<'_>) -> Result<SystemProperties, ReportError> {
    const AT: &str = "system-property-claims";
    let n = d.map().map_err(m(AT))?;
    if n > MAX_PROPERTIES + 1 {
        return Err(ReportError::TooLarge("properties"));
    }
    let mut component = None;
    let mut properties = Vec::with_capacity(n);
    for _ in 0..n {
        let key = d.int().map_err(m(AT))?;
        if key == label::SYSTEM_COMPONENT_ID {
            let k = d.array().map_err(m("system-component-id"))?;
            if k > crate::suit::component::MAX_SEGMENTS {
                return Err(ReportError::TooLarge("system-component-id"));
            }
            let mut segs: Vec<&[u8]> = Vec::with_capacity(k);
            for _ in 0..k {
                segs.push(d.bytes().map_err(m("system-component-id"))?);
            }
            component = Some(ComponentId::new(&segs));
        } else {
            properties.push((key, decode_value(d)?));
        }
    }
    Ok(SystemProperties {
        component: component.ok_or(ReportError::Malformed("system-component-id missing"))?,
        properties,
    })
}

fn decode_value(d: &mut Decoder<'_>) -> Result<Value, ReportError> {
    const AT: &str = "property value";
    let raw = d.clone().skip().map_err(m(AT))?;
    if raw.len() > MAX_VALUE_LEN + 9 {
        return Err(ReportError::TooLarge(AT));
    }
    let v = match d.peek().map_err(m(AT))? {
        Item::Uint(n) => Value::Uint(n),
        Item::Nint(n) => match i64::try_from(n) {
            Ok(n) => Value::Int(-1 - n),
            Err(_) => Value::Other(raw.to_vec()),
        },
        Item::Bytes(b) => Value::Bytes(b.to_vec()),
        Item::Text(t) => Value::Text(String::from(t)),
        Item::Bool(b) => Value::Bool(b),
        // Containers, tags, other simple values: kept whole, as encoded.
        _ => Value::Other(raw.to_vec()),
    };
    d.skip().map_err(m(AT))?;
    Ok(v)
}

fn decode_result(d: &mut Decoder<'_>) -> Result<ReportResult, ReportError> {
    const AT: &str = ReportKey::Result.name();
    match d.peek().map_err(m(AT))? {
        Item::Bool(true) => {
            d.item().map_err(m(AT))?;
            Ok(ReportResult::Success)
        }
        Item::Map(_) => {
            let n = d.map().map_err(m(AT))?;
            let (mut code, mut record, mut reason) = (None, None, None);
            for _ in 0..n {
                match d.int().map_err(m(AT))? {
                    label::RESULT_CODE => code = Some(d.int().map_err(m("result code"))?),
                    label::RESULT_RECORD => record = Some(decode_record(d)?),
                    label::RESULT_REASON => {
                        reason = Some(Reason::from_code(d.int().map_err(m("result reason"))?))
                    }
                    _ => {
                        d.skip().map_err(m(AT))?;
                    }
                }
            }
            Ok(ReportResult::Failure(Failure {
                reason: reason.ok_or(ReportError::Malformed("result reason missing"))?,
                code: code.ok_or(ReportError::Malformed("result code missing"))?,
                record: record.ok_or(ReportError::Malformed("result record missing"))?,
                detail: None,
            }))
        }
        _ => Err(ReportError::Malformed(AT)),
    }
}
