//! Strict, bounded decoding of the COSE structures payload encryption needs, and the
//! byte strings COSE feeds into its algorithms (Enc_structure, COSE_KDF_Context,
//! Recipient_structure).
//!
//! coset 0.4 rejects algorithm identifiers that are neither IANA-registered nor in the
//! private range, which includes A128CTR (-65534) and every provisional COSE-HPKE id, so the
//! structures are decoded here from `ciborium` values instead. Input is capped at
//! [`MAX_INFO_LEN`] bytes and nesting at [`MAX_DEPTH`], so allocation is bounded by the
//! input size; nothing here panics on untrusted input.

use alloc::string::String;
use alloc::vec::Vec;
use ciborium::value::Value;

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

/// Decodes exactly one CBOR item from `bytes`.
fn decode(bytes: &[u8], limit: usize, at: Location) -> Result<Value, DecryptError> {
    if bytes.len() > limit {
        return Err(malformed(at, Problem::Cbor));
    }
    // The strict reader first: ciborium alone would take `undefined` for `nil`, indefinite
    // lengths and duplicate map keys.
    crate::cbor::check_well_formed(bytes).map_err(|e| {
        malformed(
            at,
            if e.kind == crate::cbor::CborErrorKind::TrailingBytes {
                Problem::TrailingBytes
            } else {
                Problem::Cbor
            },
        )
    })?;
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_DEPTH)
        .map_err(|_| malformed(at, Problem::Cbor))?;
    if !reader.is_empty() {
        return Err(malformed(at, Problem::TrailingBytes));
    }
    Ok(value)
}

/// Serialises a value; writing into a `Vec` cannot fail, but the error is still mapped
/// rather than unwrapped.
pub(crate) fn encode(value: &Value) -> Result<Vec<u8>, DecryptError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out)
        .map_err(|_| malformed(Location::Structure, Problem::Cbor))?;
    Ok(out)
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(i128::from(*i)).ok(),
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
    pub ephemeral_key: Option<Value>,
    pub ek: Option<Vec<u8>>,
    pub psk_id: Option<Vec<u8>>,
    pub salt: Option<Vec<u8>>,
    /// PartyU identity, nonce, other, PartyV identity, nonce, other (labels -21..=-26).
    pub party: [Option<Vec<u8>>; 6],
    labels: Vec<Label>,
}

impl HeaderMap {
    fn parse(value: Value, at: Location) -> Result<Self, DecryptError> {
        let Value::Map(entries) = value else {
            return Err(malformed(at, Problem::Shape));
        };
        let mut map = HeaderMap::default();
        for (k, v) in entries {
            let label = match &k {
                Value::Integer(i) => Label::Int(i128::from(*i)),
                Value::Text(t) => Label::Text(t.clone()),
                _ => return Err(malformed(at, Problem::Shape)),
            };
            if map.labels.contains(&label) {
                return Err(malformed(at, Problem::DuplicateLabel));
            }
            map.labels.push(label);
            let Some(l) = int(&k) else { continue };
            let bytes = |v: Value| match v {
                Value::Bytes(b) => Ok(b),
                _ => Err(malformed(at, Problem::HeaderType(l))),
            };
            match l {
                header::ALG => match &v {
                    Value::Integer(_) => {
                        map.alg =
                            Some(int(&v).ok_or(DecryptError::Unsupported { at, label: Some(l) })?)
                    }
                    Value::Text(_) => return Err(DecryptError::Unsupported { at, label: Some(l) }),
                    _ => return Err(malformed(at, Problem::HeaderType(l))),
                },
                // Nothing this module understands may be critical, so any `crit` is refused.
                header::CRIT | header::PARTIAL_IV => {
                    return Err(DecryptError::Unsupported { at, label: Some(l) })
                }
                header::KID => map.kid = Some(bytes(v)?),
                header::IV => map.iv = Some(bytes(v)?),
                header::EPHEMERAL_KEY => match v {
                    Value::Map(_) => map.ephemeral_key = Some(v),
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
    fn parse(
        protected: Value,
        unprotected: Value,
        at_p: Location,
        at_u: Location,
    ) -> Result<Self, DecryptError> {
        let Value::Bytes(protected_bytes) = protected else {
            return Err(malformed(at_p, Problem::Shape));
        };
        let protected = if protected_bytes.is_empty() {
            HeaderMap::default()
        } else {
            HeaderMap::parse(decode(&protected_bytes, MAX_INFO_LEN, at_p)?, at_p)?
        };
        let unprotected = HeaderMap::parse(unprotected, at_u)?;
        if unprotected
            .labels
            .iter()
            .any(|l| protected.labels.contains(l))
        {
            return Err(malformed(at_u, Problem::DuplicateLabel));
        }
        Ok(Self {
            protected_bytes,
            protected,
            unprotected,
        })
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

    pub fn ephemeral_key(&self) -> Option<&Value> {
        self.protected
            .ephemeral_key
            .as_ref()
            .or(self.unprotected.ephemeral_key.as_ref())
    }

    pub fn party(&self, idx: usize) -> Option<&[u8]> {
        let p = self.protected.party.get(idx).and_then(Option::as_deref);
        p.or_else(|| self.unprotected.party.get(idx).and_then(Option::as_deref))
    }
}

/// COSE_recipient (only the single-layer form; nested recipients are refused).
pub(crate) struct Recipient {
    pub headers: Headers,
    pub ciphertext: Vec<u8>,
}

/// COSE_Encrypt (tag 96 required).
pub(crate) struct CoseEncrypt {
    pub headers: Headers,
    pub ciphertext: Option<Vec<u8>>,
    pub recipients: Vec<Recipient>,
}

/// COSE_Encrypt0 (tag 16 optional).
pub(crate) struct CoseEncrypt0 {
    pub headers: Headers,
    pub ciphertext: Option<Vec<u8>>,
}

fn array(
    value: Value,
    len: core::ops::RangeInclusive<usize>,
    at: Location,
) -> Result<Vec<Value>, DecryptError> {
    match value {
        Value::Array(items) if len.contains(&items.len()) => Ok(items),
        _ => Err(malformed(at, Problem::Shape)),
    }
}

fn ciphertext(value: Value, at: Location) -> Result<Option<Vec<u8>>, DecryptError> {
    match value {
        Value::Bytes(b) => Ok(Some(b)),
        Value::Null => Ok(None),
        _ => Err(malformed(at, Problem::Shape)),
    }
}

/// Splits a 3- or 4-element COSE array into its parts (the fourth item is returned as is).
fn layer(
    items: Vec<Value>,
    at: Location,
) -> Result<(Value, Value, Value, Option<Value>), DecryptError> {
    let mut it = items.into_iter();
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(p), Some(u), Some(c), rest) => Ok((p, u, c, rest)),
        _ => Err(malformed(at, Problem::Shape)),
    }
}

impl CoseEncrypt {
    pub fn decode(bytes: &[u8]) -> Result<Self, DecryptError> {
        let at = Location::Structure;
        let inner = match decode(bytes, MAX_INFO_LEN, at)? {
            Value::Tag(tag::COSE_ENCRYPT, inner) => *inner,
            _ => return Err(malformed(at, Problem::Tag)),
        };
        let (p, u, c, r) = layer(array(inner, 4..=4, at)?, at)?;
        let headers = Headers::parse(p, u, Location::Protected, Location::Unprotected)?;
        let ciphertext = ciphertext(c, Location::Ciphertext)?;
        let Some(Value::Array(list)) = r else {
            return Err(malformed(Location::Recipients, Problem::Shape));
        };
        if list.is_empty() {
            return Err(malformed(Location::Recipients, Problem::NoRecipients));
        }
        if list.len() > MAX_RECIPIENTS {
            return Err(malformed(Location::Recipients, Problem::TooManyRecipients));
        }
        let mut recipients = Vec::with_capacity(list.len());
        for (i, item) in list.into_iter().enumerate() {
            let at = Location::Recipient(i);
            let (p, u, c, nested) = layer(array(item, 3..=4, at)?, at)?;
            if nested.is_some() {
                return Err(DecryptError::Unsupported { at, label: None });
            }
            let headers = Headers::parse(
                p,
                u,
                Location::RecipientProtected(i),
                Location::RecipientUnprotected(i),
            )?;
            let Value::Bytes(ciphertext) = c else {
                return Err(malformed(at, Problem::Shape));
            };
            recipients.push(Recipient {
                headers,
                ciphertext,
            });
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
        let inner = match decode(bytes, MAX_INTEGRATED_LEN, at)? {
            Value::Tag(tag::COSE_ENCRYPT0, inner) => *inner,
            Value::Tag(..) => return Err(malformed(at, Problem::Tag)),
            untagged => untagged,
        };
        let (p, u, c, _) = layer(array(inner, 3..=3, at)?, at)?;
        let headers = Headers::parse(p, u, Location::Protected, Location::Unprotected)?;
        let ciphertext = ciphertext(c, Location::Ciphertext)?;
        Ok(Self {
            headers,
            ciphertext,
        })
    }
}

/// Decodes the uncompressed (or compressed, `y` = bool) SEC1 form of an EC2 P-256 COSE_Key.
pub(crate) fn ec2_p256_point(value: &Value, at: Location) -> Result<Vec<u8>, DecryptError> {
    let Value::Map(entries) = value else {
        return Err(malformed(at, Problem::Shape));
    };
    let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
    let mut seen: Vec<i64> = Vec::new();
    for (k, v) in entries {
        let Some(l) = int(k) else { continue };
        if seen.contains(&l) {
            return Err(malformed(at, Problem::DuplicateLabel));
        }
        seen.push(l);
        match l {
            key::KTY => kty = Some(int(v).ok_or(malformed(at, Problem::HeaderType(l)))?),
            key::CRV => crv = Some(int(v).ok_or(malformed(at, Problem::HeaderType(l)))?),
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
        Some(Value::Bytes(x)) if x.len() == 32 => x,
        Some(_) => return Err(malformed(at, Problem::HeaderType(key::X))),
        None => return Err(malformed(at, Problem::MissingHeader(key::X))),
    };
    let mut sec1 = Vec::with_capacity(65);
    match y {
        Some(Value::Bytes(y)) if y.len() == 32 => {
            sec1.push(0x04);
            sec1.extend_from_slice(x);
            sec1.extend_from_slice(y);
        }
        Some(Value::Bool(odd)) => {
            sec1.push(if *odd { 0x03 } else { 0x02 });
            sec1.extend_from_slice(x);
        }
        Some(_) => return Err(malformed(at, Problem::HeaderType(key::Y))),
        None => return Err(malformed(at, Problem::MissingHeader(key::Y))),
    }
    Ok(sec1)
}

/// `Enc_structure = [context, protected, external_aad]` (RFC 9052 §5.3).
pub(crate) fn enc_structure(
    context: &str,
    protected: &[u8],
    external_aad: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    encode(&Value::Array(alloc::vec![
        Value::Text(context.into()),
        Value::Bytes(protected.into()),
        Value::Bytes(external_aad.into()),
    ]))
}
