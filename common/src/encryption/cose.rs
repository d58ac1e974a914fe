//! Strict, bounded decoding of the COSE structures payload encryption needs, and the
//! byte strings COSE feeds into its algorithms (Enc_structure, COSE_KDF_Context,
//! Recipient_structure).
//!
//! Read with `suit-cbor`'s decoder (no value tree; any algorithm id, registered or
//! provisional, is accepted as an integer), written with its encoder. Input is capped at
//! [`MAX_INFO_LEN`] bytes and nesting at [`MAX_DEPTH`], so allocation is bounded by the
//! input size; nothing here panics on untrusted input.

use alloc::string::String;
use alloc::vec::Vec;

use crate::cbor::{CborError, Decoder, Encoder, Item};
use crate::cose::Ec2Y;

use super::algorithms::{header, key, tag};
use super::error::{DecryptError, Location, Problem};

/// Largest SUIT_Encryption_Info / COSE_Encrypt0 header part accepted, in bytes.
pub const MAX_INFO_LEN: usize = 16 * 1024;
/// Largest integrated-mode COSE_Encrypt0 accepted (it carries its ciphertext), in bytes.
pub const MAX_INTEGRATED_LEN: usize = 1024 * 1024;
/// Deepest CBOR nesting accepted (COSE_Encrypt with an ephemeral key needs 6).
pub const MAX_DEPTH: usize = 12;
/// Most recipients accepted in one COSE_Encrypt. Devices refuse more ("too many
/// recipients"); `suit-author create`/`encrypt` enforce the same constant, so nothing the tool
/// makes is refused for this.
pub const MAX_RECIPIENTS: usize = 32;

pub(crate) fn malformed(at: Location, problem: Problem) -> DecryptError {
    DecryptError::Malformed { at, problem }
}

/// Checks that `bytes` is exactly one well-formed CBOR item of at most `limit` bytes and
/// [`MAX_DEPTH`] levels, and returns a decoder over it.
fn decode(bytes: &[u8], limit: usize, at: Location) -> Result<Decoder<'_>, DecryptError> {
    if bytes.len() > limit {
        return Err(malformed(at, Problem::Cbor));
    }
    // The strict reader: no `undefined` for `nil`, indefinite lengths or duplicate map keys.
    // COSE: header values and COSE_Key parameters are `any`, floats included.
    crate::cbor::check_well_formed_any(bytes).map_err(|e| {
        malformed(
            at,
            if e.kind == crate::cbor::CborErrorKind::TrailingBytes {
                Problem::TrailingBytes
            } else {
                Problem::Cbor
            },
        )
    })?;
    let mut d = Decoder::new(bytes);
    depth_within(&mut d, MAX_DEPTH).map_err(|_| malformed(at, Problem::Cbor))?;
    Ok(Decoder::new(bytes))
}

/// Walks one (well-formed) item, failing if it nests deeper than `left` levels.
fn depth_within(d: &mut Decoder<'_>, left: usize) -> Result<(), CborError> {
    let Some(left) = left.checked_sub(1) else {
        return Err(d.err(crate::cbor::CborErrorKind::TooDeep));
    };
    match d.item()? {
        Item::Array(n) => (0..n).try_for_each(|_| depth_within(d, left)),
        Item::Map(n) => (0..n.saturating_mul(2)).try_for_each(|_| depth_within(d, left)),
        Item::Tag(_) => depth_within(d, left),
        _ => Ok(()),
    }
}

/// `[+ item]` header for a structure this module writes (encoding cannot fail).
pub(crate) fn encoder() -> Encoder {
    Encoder::with_capacity(64)
}

fn cbor_err(at: Location) -> impl Fn(CborError) -> DecryptError {
    move |_| malformed(at, Problem::Shape)
}

/// An integer item as i128 (every CBOR integer fits), else `None`.
fn int(item: Item<'_>) -> Option<i128> {
    match item {
        Item::Uint(u) => Some(i128::from(u)),
        Item::Nint(u) => Some(-1 - i128::from(u)),
        _ => None,
    }
}

/// A header label as it appears on the wire (for duplicate detection).
#[derive(PartialEq)]
enum Label {
    Int(i128),
    Text(String),
}

/// The header parameters this module understands, from one bucket.
#[derive(Default)]
pub(crate) struct HeaderMap {
    pub alg: Option<i64>,
    pub kid: Option<Vec<u8>>,
    pub iv: Option<Vec<u8>>,
    /// The ephemeral COSE_Key, as its encoded map.
    pub ephemeral_key: Option<Vec<u8>>,
    pub ek: Option<Vec<u8>>,
    pub psk_id: Option<Vec<u8>>,
    pub salt: Option<Vec<u8>>,
    /// PartyU identity, nonce, other, PartyV identity, nonce, other (labels -21..=-26).
    pub party: [Option<Vec<u8>>; 6],
    labels: Vec<Label>,
}

/// Labels the content layer of a COSE_Encrypt processes, for `crit` (RFC 9052 §3.1).
const CONTENT_LABELS: &[i64] = &[header::ALG, header::IV];
/// Labels a recipient processes: what AES-KW, ECDH-ES and HPKE recipients read.
const RECIPIENT_LABELS: &[i64] = &[
    header::ALG,
    header::KID,
    header::EPHEMERAL_KEY,
    header::HPKE_EK,
    header::HPKE_PSK_ID,
    header::SALT,
    header::PARTY_U_IDENTITY,
    header::PARTY_U_NONCE,
    header::PARTY_U_OTHER,
    header::PARTY_V_IDENTITY,
    header::PARTY_V_NONCE,
    header::PARTY_V_OTHER,
];
/// Labels an integrated HPKE COSE_Encrypt0 processes.
const INTEGRATED_LABELS: &[i64] = &[
    header::ALG,
    header::KID,
    header::HPKE_EK,
    header::HPKE_PSK_ID,
];

impl HeaderMap {
    /// Reads one bucket. `understood` is what this layer processes, for a `crit` in the
    /// protected bucket; `None` for the unprotected one, where `crit` must not be.
    fn parse(
        d: &mut Decoder<'_>,
        at: Location,
        understood: Option<&[i64]>,
    ) -> Result<Self, DecryptError> {
        let Ok(Item::Map(n)) = d.item() else {
            return Err(malformed(at, Problem::Shape));
        };
        let mut map = HeaderMap::default();
        for _ in 0..n {
            let k = d.item().map_err(cbor_err(at))?;
            let label = match k {
                Item::Text(t) => Label::Text(t.into()),
                _ => Label::Int(int(k).ok_or(malformed(at, Problem::Shape))?),
            };
            if map.labels.contains(&label) {
                return Err(malformed(at, Problem::DuplicateLabel));
            }
            map.labels.push(label);
            let Some(l) = int(k).and_then(|l| i64::try_from(l).ok()) else {
                d.skip_any().map_err(cbor_err(at))?;
                continue;
            };
            let v = d.peek().map_err(cbor_err(at))?;
            let raw = d.skip_any().map_err(cbor_err(at))?;
            let bytes = |v: Item<'_>| match v {
                Item::Bytes(b) => Ok(b.to_vec()),
                _ => Err(malformed(at, Problem::HeaderType(l))),
            };
            match l {
                header::ALG => match v {
                    Item::Uint(_) | Item::Nint(_) => {
                        map.alg = Some(
                            int(v)
                                .and_then(|i| i64::try_from(i).ok())
                                .ok_or(DecryptError::Unsupported { at, label: Some(l) })?,
                        )
                    }
                    Item::Text(_) => return Err(DecryptError::Unsupported { at, label: Some(l) }),
                    _ => return Err(malformed(at, Problem::HeaderType(l))),
                },
                // RFC 9052 §3.1: a protected, non-empty array of labels; each must be one this
                // layer processes, else the layer is refused, naming the first other label.
                header::CRIT => {
                    let Some(understood) = understood else {
                        return Err(malformed(at, Problem::WrongBucket(l)));
                    };
                    let Item::Array(n @ 1..) = v else {
                        return Err(malformed(at, Problem::HeaderType(l)));
                    };
                    let mut c = Decoder::new(raw);
                    c.item().map_err(cbor_err(at))?;
                    for _ in 0..n {
                        let k = c.item().map_err(cbor_err(at))?;
                        let k = int(k).and_then(|k| i64::try_from(k).ok());
                        if !k.is_some_and(|k| understood.contains(&k)) {
                            let label = Some(k.unwrap_or(header::CRIT));
                            return Err(DecryptError::Unsupported { at, label });
                        }
                    }
                }
                header::PARTIAL_IV => return Err(DecryptError::Unsupported { at, label: Some(l) }),
                header::KID => map.kid = Some(bytes(v)?),
                header::IV => map.iv = Some(bytes(v)?),
                header::EPHEMERAL_KEY => match v {
                    Item::Map(_) => map.ephemeral_key = Some(raw.to_vec()),
                    _ => return Err(malformed(at, Problem::HeaderType(l))),
                },
                header::HPKE_EK => map.ek = Some(bytes(v)?),
                header::HPKE_PSK_ID => map.psk_id = Some(bytes(v)?),
                header::SALT => map.salt = Some(bytes(v)?),
                header::PARTY_V_OTHER..=header::PARTY_U_IDENTITY => {
                    // -21 → 0 … -26 → 5
                    let idx = usize::try_from(header::PARTY_U_IDENTITY - l).unwrap_or(0);
                    if let Some(slot) = map.party.get_mut(idx) {
                        *slot = Some(bytes(v)?);
                    }
                }
                _ => {} // not critical, not ours: ignored as RFC 9052 asks
            }
        }
        Ok(map)
    }
}

/// Both header buckets of one COSE layer.
pub(crate) struct Headers {
    /// The protected bucket exactly as serialised (input to AAD / KDF).
    pub protected_bytes: Vec<u8>,
    pub protected: HeaderMap,
    pub unprotected: HeaderMap,
}

impl Headers {
    /// Reads both buckets of a layer that processes the labels `understood`.
    fn parse(
        d: &mut Decoder<'_>,
        at_p: Location,
        at_u: Location,
        understood: &[i64],
    ) -> Result<Self, DecryptError> {
        let Ok(Item::Bytes(protected_bytes)) = d.item() else {
            return Err(malformed(at_p, Problem::Shape));
        };
        let protected = if protected_bytes.is_empty() {
            HeaderMap::default()
        } else {
            let mut inner = decode(protected_bytes, MAX_INFO_LEN, at_p)?;
            HeaderMap::parse(&mut inner, at_p, Some(understood))?
        };
        let unprotected = HeaderMap::parse(d, at_u, None)?;
        if unprotected
            .labels
            .iter()
            .any(|l| protected.labels.contains(l))
        {
            return Err(malformed(at_u, Problem::DuplicateLabel));
        }
        Ok(Self {
            protected_bytes: protected_bytes.to_vec(),
            protected,
            unprotected,
        })
    }

    /// Whether the protected bucket holds no header parameter: `h''`, or a byte string holding
    /// an empty map (`h'a0'`). RFC 9052 §3 lets a sender write an empty bucket either way (h''
    /// preferred), and the firmware-encryption draft's CDDL allows both where it wants no
    /// protected parameters (AES-KW recipient: `bstr .size 0 / bstr .cbor empty_map`;
    /// SUIT_Encryption_Info: `empty_or_serialized_map`). A map with any label, even one this
    /// module ignores, is not empty.
    pub fn protected_is_empty(&self) -> bool {
        self.protected.labels.is_empty()
    }

    pub fn alg(&self) -> Option<i64> {
        self.protected.alg.or(self.unprotected.alg)
    }

    pub fn kid(&self) -> Option<&[u8]> {
        self.protected
            .kid
            .as_deref()
            .or(self.unprotected.kid.as_deref())
    }

    pub fn iv(&self) -> Option<&[u8]> {
        self.protected
            .iv
            .as_deref()
            .or(self.unprotected.iv.as_deref())
    }

    pub fn salt(&self) -> Option<&[u8]> {
        self.protected
            .salt
            .as_deref()
            .or(self.unprotected.salt.as_deref())
    }

    pub fn ephemeral_key(&self) -> Option<&[u8]> {
        self.protected
            .ephemeral_key
            .as_deref()
            .or(self.unprotected.ephemeral_key.as_deref())
    }

    pub fn party(&self, idx: usize) -> Option<&[u8]> {
        let p = self.protected.party.get(idx).and_then(Option::as_deref);
        p.or_else(|| self.unprotected.party.get(idx).and_then(Option::as_deref))
    }
}

/// COSE_recipient (only the single-layer form; nested recipients are refused).
pub(crate) struct Recipient {
    pub headers: Headers,
    /// RFC 9052's `bstr / nil`: no recipient algorithm this device supports takes nil, so
    /// one that does is refused by its algorithm first (e.g. Nordic's `direct` recipients).
    pub ciphertext: Option<Vec<u8>>,
}

impl Recipient {
    /// Reads recipient `i`, an array of `len` items whose header `d` has passed.
    fn decode(mut d: Decoder<'_>, i: usize, len: usize) -> Result<Self, DecryptError> {
        let at = Location::Recipient(i);
        if len == 4 {
            return Err(DecryptError::Unsupported { at, label: None });
        }
        let headers = Headers::parse(
            &mut d,
            Location::RecipientProtected(i),
            Location::RecipientUnprotected(i),
            RECIPIENT_LABELS,
        )?;
        let ciphertext = ciphertext(&mut d, at)?;
        Ok(Self {
            headers,
            ciphertext,
        })
    }

    /// The wrapped or encapsulated CEK of recipient `i` (every supported algorithm has one).
    pub fn wrapped(&self, i: usize) -> Result<&[u8], DecryptError> {
        self.ciphertext
            .as_deref()
            .ok_or(malformed(Location::Recipient(i), Problem::Shape))
    }
}

/// COSE_Encrypt (tag 96 required).
pub(crate) struct CoseEncrypt {
    pub headers: Headers,
    pub ciphertext: Option<Vec<u8>>,
    /// Each recipient, or why it cannot be read; only the array around them is structure.
    pub recipients: Vec<Result<Recipient, DecryptError>>,
}

/// COSE_Encrypt0 (tag 16 optional).
pub(crate) struct CoseEncrypt0 {
    pub headers: Headers,
    pub ciphertext: Option<Vec<u8>>,
}

/// Reads an array header whose length must be in `len`.
fn array(
    d: &mut Decoder<'_>,
    len: core::ops::RangeInclusive<usize>,
    at: Location,
) -> Result<usize, DecryptError> {
    match d.item() {
        Ok(Item::Array(n)) if len.contains(&n) => Ok(n),
        _ => Err(malformed(at, Problem::Shape)),
    }
}

fn ciphertext(d: &mut Decoder<'_>, at: Location) -> Result<Option<Vec<u8>>, DecryptError> {
    match d.item() {
        Ok(Item::Bytes(b)) => Ok(Some(b.to_vec())),
        Ok(Item::Null) => Ok(None),
        _ => Err(malformed(at, Problem::Shape)),
    }
}

impl CoseEncrypt {
    pub fn decode(bytes: &[u8]) -> Result<Self, DecryptError> {
        let at = Location::Structure;
        let mut d = decode(bytes, MAX_INFO_LEN, at)?;
        if !matches!(d.item(), Ok(Item::Tag(tag::COSE_ENCRYPT))) {
            return Err(malformed(at, Problem::Tag));
        }
        array(&mut d, 4..=4, at)?;
        let headers = Headers::parse(
            &mut d,
            Location::Protected,
            Location::Unprotected,
            CONTENT_LABELS,
        )?;
        let ciphertext = ciphertext(&mut d, Location::Ciphertext)?;
        let Ok(Item::Array(n)) = d.item() else {
            return Err(malformed(Location::Recipients, Problem::Shape));
        };
        if n == 0 {
            return Err(malformed(Location::Recipients, Problem::NoRecipients));
        }
        if n > MAX_RECIPIENTS {
            return Err(malformed(Location::Recipients, Problem::TooManyRecipients));
        }
        let mut recipients = Vec::with_capacity(n);
        for i in 0..n {
            let at = Location::Recipient(i);
            let len = array(&mut d, 3..=4, at)?;
            // Parsed from a copy: a recipient this device cannot read may be another
            // device's, so its problem is kept for the key search and `d` moves past it.
            let inner = d.clone();
            for _ in 0..len {
                d.skip_any().map_err(cbor_err(at))?;
            }
            recipients.push(Recipient::decode(inner, i, len));
        }
        Ok(Self {
            headers,
            ciphertext,
            recipients,
        })
    }
}

impl CoseEncrypt0 {
    pub fn decode(bytes: &[u8]) -> Result<Self, DecryptError> {
        let at = Location::Structure;
        let mut d = decode(bytes, MAX_INTEGRATED_LEN, at)?;
        match d.peek() {
            Ok(Item::Tag(tag::COSE_ENCRYPT0)) => {
                d.item().map_err(cbor_err(at))?;
            }
            Ok(Item::Tag(_)) => return Err(malformed(at, Problem::Tag)),
            _ => {}
        }
        array(&mut d, 3..=3, at)?;
        let headers = Headers::parse(
            &mut d,
            Location::Protected,
            Location::Unprotected,
            INTEGRATED_LABELS,
        )?;
        let ciphertext = ciphertext(&mut d, Location::Ciphertext)?;
        Ok(Self {
            headers,
            ciphertext,
        })
    }
}

/// Reads the `x` and `y` (a coordinate, or a sign bit: compressed) of an EC2 P-256 COSE_Key,
/// for [`crate::cose::p256_point`], which makes them a point on the curve or refuses them.
pub(crate) fn ec2_p256_coordinates(
    encoded: &[u8],
    at: Location,
) -> Result<(&[u8], Ec2Y<'_>), DecryptError> {
    let mut d = Decoder::new(encoded);
    let Ok(Item::Map(n)) = d.item() else {
        return Err(malformed(at, Problem::Shape));
    };
    let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
    let mut seen: Vec<i64> = Vec::new();
    for _ in 0..n {
        let k = d.item().map_err(cbor_err(at))?;
        let v = d.peek().map_err(cbor_err(at))?;
        d.skip_any().map_err(cbor_err(at))?;
        let Some(l) = int(k).and_then(|l| i64::try_from(l).ok()) else {
            continue;
        };
        if seen.contains(&l) {
            return Err(malformed(at, Problem::DuplicateLabel));
        }
        seen.push(l);
        let as_i64 = |v| int(v).and_then(|i| i64::try_from(i).ok());
        match l {
            key::KTY => kty = Some(as_i64(v).ok_or(malformed(at, Problem::HeaderType(l)))?),
            key::CRV => crv = Some(as_i64(v).ok_or(malformed(at, Problem::HeaderType(l)))?),
            key::X => x = Some(v),
            key::Y => y = Some(v),
            _ => {}
        }
    }
    if kty != Some(key::KTY_EC2) {
        return Err(DecryptError::Unsupported {
            at,
            label: Some(key::KTY),
        });
    }
    if crv != Some(key::CRV_P256) {
        return Err(DecryptError::Unsupported {
            at,
            label: Some(key::CRV),
        });
    }
    let x = match x {
        Some(Item::Bytes(x)) if x.len() == 32 => x,
        Some(_) => return Err(malformed(at, Problem::HeaderType(key::X))),
        None => return Err(malformed(at, Problem::MissingHeader(key::X))),
    };
    let y = match y {
        Some(Item::Bytes(y)) if y.len() == 32 => Ec2Y::Coordinate(y),
        Some(Item::Bool(odd)) => Ec2Y::Sign(odd),
        Some(_) => return Err(malformed(at, Problem::HeaderType(key::Y))),
        None => return Err(malformed(at, Problem::MissingHeader(key::Y))),
    };
    Ok((x, y))
}

/// `Enc_structure = [context, protected, external_aad]` (RFC 9052 §5.3).
pub(crate) fn enc_structure(
    context: &str,
    protected: &[u8],
    external_aad: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    let mut e = encoder();
    e.array(3)
        .text(context)
        .bytes(protected)
        .bytes(external_aad);
    Ok(e.into_bytes())
}

/// Serialises a `ciborium` value (the author side builds its structures as values).
#[cfg(feature = "author")]
pub(crate) fn encode(value: &ciborium::value::Value) -> Result<Vec<u8>, DecryptError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out)
        .map_err(|_| malformed(Location::Structure, Problem::Cbor))?;
    Ok(out)
}
