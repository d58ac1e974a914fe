//! COSE structures (RFC 9052) read and written with `suit-cbor`, so the TA needs neither
//! `coset` nor `ciborium`'s value tree (TA size).
//!
//! Reading borrows from the input and builds no tree: each layer is the protected header's
//! bytes exactly as received (they are what is signed), the parameters this engine reads from
//! both buckets, and the labels seen (for the "not in both buckets" rule). The caller first
//! runs `check_well_formed_any_within` over the whole structure, so duplicate map keys,
//! indefinite lengths, depth and item counts are already refused; the protected header's
//! bytes are checked the same way here before they are parsed. Header values this engine
//! does not read are `any` (RFC 9052 `header_map`), so they are skipped with `skip_any`: a
//! float there is data, while every parameter read here is typed and refuses one.
//!
//! `coset` stays the independent cross-check in `common/tests/cose_codec_coset.rs`.

use alloc::vec::Vec;

use super::CoseError;
use crate::cbor::{self, Decoder, Encoder, Item};

pub(crate) use super::label::header::ALG;
use super::label::header::{CONTENT_TYPE, CRIT, IV, KID, PARTIAL_IV};
pub(crate) use super::label::tag::{
    COSE_MAC as TAG_MAC, COSE_MAC0 as TAG_MAC0, COSE_SIGN as TAG_SIGN, COSE_SIGN1 as TAG_SIGN1,
};

/// Most data items in a protected header (as for a whole authentication block).
const MAX_HEADER_ITEMS: usize = 64;

/// Longest protected header accepted, in bytes (device policy), checked before it is parsed:
/// an item count does not bound one large bstr, and the bucket is part of every signing
/// input. Real protected headers are a few bytes (`{1: -9}`), with a kid and a content type
/// well under 100.
pub const MAX_PROTECTED_LEN: usize = 1024;

/// Longest `kid` accepted, in bytes (device policy): key ids here are 16 bytes, the COSE
/// examples' under 40, and a kid is only a hint for choosing keys.
pub const MAX_KID_LEN: usize = 256;

/// Header labels this engine processes, so a `crit` listing only these is honoured
/// (RFC 9052 §3.1): the algorithm, the content type and the key id.
const UNDERSTOOD: [i64; 3] = [ALG, CONTENT_TYPE, KID];

/// A header label as it appears on the wire (only compared, never interpreted further).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label<'a> {
    Int(i128),
    Text(&'a str),
}

/// An `alg` or `content type` value: an integer or a text string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntOrText<'a> {
    Int(i64),
    Text(&'a str),
}

/// The parameters read from one header bucket.
#[derive(Debug, Default, Clone)]
pub(crate) struct Header<'a> {
    pub alg: Option<IntOrText<'a>>,
    /// A `crit` parameter is present.
    pub crit: bool,
    /// `crit` lists a label outside [`UNDERSTOOD`] (RFC 9052 §3.1: such a message is refused).
    pub crit_unknown: bool,
    pub content_type: Option<IntOrText<'a>>,
    pub kid: Option<&'a [u8]>,
    pub labels: Vec<Label<'a>>,
}

impl<'a> Header<'a> {
    /// Reads one header map (`header_map` of RFC 9052 §3).
    fn read(d: &mut Decoder<'a>) -> Result<Self, CoseError> {
        let n = d.map().map_err(malformed)?;
        let mut h = Header::default();
        for _ in 0..n {
            let label = match d.item().map_err(malformed)? {
                Item::Uint(u) => Label::Int(i128::from(u)),
                Item::Nint(u) => Label::Int(-1 - i128::from(u)),
                Item::Text(t) => Label::Text(t),
                _ => return Err(CoseError::Malformed),
            };
            // Unique by value (RFC 9052 §3), an overlong integer included: also what the
            // well-formedness check refuses, kept here for the bucket check and `crit`.
            if h.labels.contains(&label) {
                return Err(CoseError::Malformed);
            }
            h.labels.push(label);
            let Label::Int(l) = label else {
                d.skip_any().map_err(malformed)?;
                continue;
            };
            match i64::try_from(l).unwrap_or(i64::MIN) {
                ALG => h.alg = Some(int_or_text(d)?),
                CRIT => {
                    // RFC 9052 §3.1: an array of at least one label.
                    let n = d.array().map_err(malformed)?;
                    if n == 0 {
                        return Err(CoseError::Malformed);
                    }
                    for _ in 0..n {
                        let l = int_or_text(d)?;
                        if !matches!(l, IntOrText::Int(i) if UNDERSTOOD.contains(&i)) {
                            h.crit_unknown = true;
                        }
                    }
                    h.crit = true;
                }
                CONTENT_TYPE => {
                    let ct = int_or_text(d)?;
                    if matches!(ct, IntOrText::Int(i) if !(0..=0xffff).contains(&i)) {
                        return Err(CoseError::Malformed);
                    }
                    h.content_type = Some(ct);
                }
                KID => {
                    let kid = d.bytes().map_err(malformed)?;
                    if kid.len() > MAX_KID_LEN {
                        return Err(CoseError::HeaderTooLarge);
                    }
                    h.kid = Some(kid);
                }
                IV | PARTIAL_IV => {
                    d.bytes().map_err(malformed)?;
                }
                _ => {
                    d.skip_any().map_err(malformed)?;
                }
            }
        }
        Ok(h)
    }

    /// Reads a protected header from its bstr content: empty means an empty map.
    fn read_protected(bytes: &'a [u8]) -> Result<Self, CoseError> {
        if bytes.is_empty() {
            return Ok(Header::default());
        }
        cbor::check_well_formed_any_within(bytes, MAX_HEADER_ITEMS).map_err(malformed)?;
        let mut d = Decoder::new(bytes);
        let h = Header::read(&mut d)?;
        d.finish().map_err(malformed)?;
        Ok(h)
    }

    /// The key id, or an empty slice.
    pub fn kid(&self) -> &'a [u8] {
        self.kid.unwrap_or(&[])
    }
}

fn int_or_text<'a>(d: &mut Decoder<'a>) -> Result<IntOrText<'a>, CoseError> {
    match d.item().map_err(malformed)? {
        Item::Uint(u) => i64::try_from(u)
            .map(IntOrText::Int)
            .map_err(|_| CoseError::Malformed),
        Item::Nint(u) => i64::try_from(u)
            .map(|u| IntOrText::Int(-1 - u))
            .map_err(|_| CoseError::Malformed),
        Item::Text(t) => Ok(IntOrText::Text(t)),
        _ => Err(CoseError::Malformed),
    }
}

fn malformed(_: cbor::CborError) -> CoseError {
    CoseError::Malformed
}

/// The `Headers` group of every COSE layer: the protected bucket as received and parsed, and
/// the unprotected bucket.
#[derive(Debug, Clone)]
pub(crate) struct Headers<'a> {
    pub protected_bytes: &'a [u8],
    pub protected: Header<'a>,
    pub unprotected: Header<'a>,
}

impl<'a> Headers<'a> {
    fn read(d: &mut Decoder<'a>) -> Result<Self, CoseError> {
        let protected_bytes = d.bytes().map_err(malformed)?;
        if protected_bytes.len() > MAX_PROTECTED_LEN {
            return Err(CoseError::HeaderTooLarge);
        }
        let protected = Header::read_protected(protected_bytes)?;
        let unprotected = Header::read(d)?;
        Ok(Self {
            protected_bytes,
            protected,
            unprotected,
        })
    }

    /// Header rules shared by every COSE layer: no critical parameter this engine does not
    /// process, and (RFC 9052 §3) no label in both buckets.
    pub fn check(&self) -> Result<(), CoseError> {
        if self.protected.crit_unknown {
            return Err(CoseError::UnknownCriticalHeader);
        }
        // RFC 9052 §3.1: crit is a protected header parameter.
        if self.unprotected.crit {
            return Err(CoseError::Malformed);
        }
        if self
            .unprotected
            .labels
            .iter()
            .any(|l| self.protected.labels.contains(l))
        {
            return Err(CoseError::Malformed);
        }
        Ok(())
    }

    /// The key identifier: protected bucket first, else unprotected; empty if absent.
    pub fn kid(&self) -> &'a [u8] {
        match self.protected.kid {
            Some(k) if !k.is_empty() => k,
            _ => self.unprotected.kid(),
        }
    }
}

/// `bstr / nil` (a payload or a recipient's ciphertext).
fn bytes_or_nil<'a>(d: &mut Decoder<'a>) -> Result<Option<&'a [u8]>, CoseError> {
    if d.null().map_err(malformed)? {
        return Ok(None);
    }
    d.bytes().map(Some).map_err(malformed)
}

/// Reads the tag (if any) in front of a COSE structure.
pub(crate) fn leading_tag(bytes: &[u8]) -> Option<u64> {
    match Decoder::new(bytes).item() {
        Ok(Item::Tag(t)) => Some(t),
        _ => None,
    }
}

/// COSE_Sign1 or COSE_Mac0: `[Headers, payload, signature or tag]`.
#[derive(Debug, Clone)]
pub(crate) struct Single<'a> {
    pub headers: Headers<'a>,
    pub payload: Option<&'a [u8]>,
    pub signature: &'a [u8],
}

/// One COSE_Signature of a COSE_Sign: headers this device cannot read (too large, a label
/// it cannot honour) make that signature unusable, not the block (another device's
/// countersignature may carry them).
#[derive(Debug, Clone)]
pub(crate) struct Signature<'a> {
    pub headers: Result<Headers<'a>, CoseError>,
    pub signature: &'a [u8],
}

/// COSE_Sign: `[Headers, payload, [+ COSE_Signature]]`.
#[derive(Debug, Clone)]
pub(crate) struct Sign<'a> {
    pub headers: Headers<'a>,
    pub payload: Option<&'a [u8]>,
    pub signatures: Vec<Signature<'a>>,
}

/// One COSE_recipient of a COSE_Mac (`nested` is whether it has recipients of its own).
#[derive(Debug, Clone)]
pub(crate) struct Recipient<'a> {
    pub headers: Headers<'a>,
    pub ciphertext: Option<&'a [u8]>,
    pub nested: bool,
}

/// COSE_Mac: `[Headers, payload, tag, [+ COSE_recipient]]`.
#[derive(Debug, Clone)]
pub(crate) struct Mac<'a> {
    pub headers: Headers<'a>,
    pub payload: Option<&'a [u8]>,
    pub tag: &'a [u8],
    pub recipients: Vec<Recipient<'a>>,
}

/// Opens a structure: the tag `tag` (required if `tag_required`, else optional), an array of
/// `len` items, and nothing after it.
fn open(bytes: &[u8], tag: u64, tag_required: bool, len: usize) -> Result<Decoder<'_>, CoseError> {
    let mut d = Decoder::new(bytes);
    let tagged = d.optional_tag(tag).map_err(malformed)?;
    if tag_required && !tagged {
        return Err(CoseError::Malformed);
    }
    if d.array().map_err(malformed)? != len {
        return Err(CoseError::Malformed);
    }
    Ok(d)
}

/// COSE_Sign1 (`tag` 18) or COSE_Mac0 (`tag` 17).
pub(crate) fn single(bytes: &[u8], tag: u64, tag_required: bool) -> Result<Single<'_>, CoseError> {
    let mut d = open(bytes, tag, tag_required, 4)?;
    let headers = Headers::read(&mut d)?;
    let payload = bytes_or_nil(&mut d)?;
    let signature = d.bytes().map_err(malformed)?;
    d.finish().map_err(malformed)?;
    Ok(Single {
        headers,
        payload,
        signature,
    })
}

/// COSE_Sign_Tagged with at most `max` signatures (more: [`CoseError::TooManySigners`]).
pub(crate) fn sign(bytes: &[u8], max: usize) -> Result<Sign<'_>, CoseError> {
    let mut d = open(bytes, TAG_SIGN, true, 4)?;
    let headers = Headers::read(&mut d)?;
    let payload = bytes_or_nil(&mut d)?;
    let n = d.array().map_err(malformed)?;
    if n == 0 {
        return Err(CoseError::Malformed);
    }
    if n > max {
        return Err(CoseError::TooManySigners);
    }
    let mut signatures = Vec::with_capacity(n);
    for _ in 0..n {
        if d.array().map_err(malformed)? != 3 {
            return Err(CoseError::Malformed);
        }
        // Read from a copy; the block's own cursor steps over both buckets whatever the
        // headers hold (the block was checked well-formed and bounded before).
        let headers = Headers::read(&mut d.clone());
        d.skip_any().map_err(malformed)?;
        d.skip_any().map_err(malformed)?;
        let signature = d.bytes().map_err(malformed)?;
        signatures.push(Signature { headers, signature });
    }
    d.finish().map_err(malformed)?;
    Ok(Sign {
        headers,
        payload,
        signatures,
    })
}

/// COSE_Mac_Tagged with at most `max` recipients (more: [`CoseError::TooManySigners`]).
pub(crate) fn mac(bytes: &[u8], max: usize) -> Result<Mac<'_>, CoseError> {
    let mut d = open(bytes, TAG_MAC, true, 5)?;
    let headers = Headers::read(&mut d)?;
    let payload = bytes_or_nil(&mut d)?;
    let tag = d.bytes().map_err(malformed)?;
    let n = d.array().map_err(malformed)?;
    if n == 0 {
        return Err(CoseError::Malformed);
    }
    if n > max {
        return Err(CoseError::TooManySigners);
    }
    let mut recipients = Vec::with_capacity(n);
    for _ in 0..n {
        let len = d.array().map_err(malformed)?;
        if !(3..=4).contains(&len) {
            return Err(CoseError::Malformed);
        }
        let headers = Headers::read(&mut d)?;
        let ciphertext = bytes_or_nil(&mut d)?;
        let nested = len == 4;
        if nested {
            // `[+ COSE_recipient]`: refused by the caller, skipped here.
            d.skip_any().map_err(malformed)?;
        }
        recipients.push(Recipient {
            headers,
            ciphertext,
            nested,
        });
    }
    d.finish().map_err(malformed)?;
    Ok(Mac {
        headers,
        payload,
        tag,
        recipients,
    })
}

/// The context strings of Sig_structure and MAC_structure (RFC 9052 §4.4, §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Signature1,
    Signature,
    Mac0,
    Mac,
}

/// Sig_structure or MAC_structure (RFC 9052 §4.4, §6.3) over a detached or attached payload,
/// with an empty external_aad (SUIT uses none), kept as its parts: it is encoded piece by
/// piece into a hash ([`ToBeSigned::write`]), or built once where an algorithm needs it whole.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ToBeSigned<'a> {
    pub context: Context,
    pub body_protected: &'a [u8],
    /// The COSE_Signature's protected bucket (only for [`Context::Signature`]).
    pub sign_protected: &'a [u8],
    pub payload: &'a [u8],
}

impl ToBeSigned<'_> {
    /// Hands the encoding to `out` in order: small heads, and the buckets and payload as the
    /// slices they are (never copied).
    pub fn write(&self, out: &mut dyn FnMut(&[u8])) {
        let mut bstr = |head: &mut Encoder, content: &[u8]| {
            head.bytes_header(content.len());
            out(&core::mem::take(head).into_bytes());
            out(content);
        };
        let mut e = Encoder::new();
        match self.context {
            Context::Signature1 => e.array(4).text("Signature1"),
            Context::Signature => e.array(5).text("Signature"),
            Context::Mac0 => e.array(4).text("MAC0"),
            Context::Mac => e.array(4).text("MAC"),
        };
        bstr(&mut e, self.body_protected);
        if self.context == Context::Signature {
            bstr(&mut e, self.sign_protected);
        }
        e.bytes(&[]);
        bstr(&mut e, self.payload);
    }

    /// The whole encoding, for algorithms that need the message itself.
    pub fn encoded(&self) -> Vec<u8> {
        let len = self.payload.len() + self.body_protected.len() + self.sign_protected.len();
        let mut v = Vec::with_capacity(len.saturating_add(48));
        self.write(&mut |c| v.extend_from_slice(c));
        v
    }

    /// SHA-256 of the encoding (with the installed provider), without building it.
    pub fn sha256(&self) -> [u8; 32] {
        let mut h = crate::crypto::provider().sha256.start();
        self.write(&mut |c| h.update(c));
        h.finish()
    }
}

/// The encoded Sig_structure or MAC_structure (for signing; see [`ToBeSigned`]).
pub(crate) fn to_be_signed(
    context: Context,
    body_protected: &[u8],
    sign_protected: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    ToBeSigned {
        context,
        body_protected,
        sign_protected,
        payload,
    }
    .encoded()
}

/// The protected bucket `{1: alg}` (plus `3: content type` text if given), as this crate
/// emits it: definite lengths, shortest integers, labels in canonical order.
pub(crate) fn protected_alg(alg: i64, content_type: Option<&str>) -> Vec<u8> {
    let mut e = Encoder::new();
    e.map(1 + usize::from(content_type.is_some()));
    e.int(ALG).int(alg);
    if let Some(ct) = content_type {
        e.int(CONTENT_TYPE).text(ct);
    }
    e.into_bytes()
}

/// A COSE_Sign1_Tagged with an attached payload and `{4: kid}` as unprotected bucket, signed
/// by `sign` over its Sig_structure.
pub(crate) fn sign1_tagged<E>(
    protected: &[u8],
    kid: &[u8],
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, E> {
    let signature = sign(&to_be_signed(Context::Signature1, protected, &[], payload))?;
    let mut e = Encoder::with_capacity(payload.len() + protected.len() + kid.len() + 96);
    e.tag(TAG_SIGN1).array(4).bytes(protected);
    e.map(1).int(KID).bytes(kid);
    e.bytes(payload).bytes(&signature);
    Ok(e.into_bytes())
}
