//! Typed errors. They carry identifiers, indices and lengths only — never key material,
//! plaintext or anything derived from them — so they are safe to log and to send to the
//! normal world.

#[cfg(feature = "explain")]
use core::fmt;

/// Which part of a COSE structure a problem was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The outer COSE_Encrypt / COSE_Encrypt0 item (tag, array shape, trailing bytes).
    Structure,
    /// The layer-0 protected header bucket.
    Protected,
    /// The layer-0 unprotected header bucket.
    Unprotected,
    /// The layer-0 ciphertext field.
    Ciphertext,
    /// The recipients array.
    Recipients,
    /// Recipient number `n` (0-based), its array shape or ciphertext.
    Recipient(usize),
    /// Recipient `n`'s protected header bucket.
    RecipientProtected(usize),
    /// Recipient `n`'s unprotected header bucket.
    RecipientUnprotected(usize),
    /// Recipient `n`'s ECDH-ES ephemeral COSE_Key.
    EphemeralKey(usize),
}

/// What is wrong at a [`Location`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Not well-formed CBOR, nested too deeply, or over the size limit.
    Cbor,
    /// Bytes follow the top-level item.
    TrailingBytes,
    /// Missing or unexpected CBOR tag.
    Tag,
    /// An item has the wrong CBOR type or array length.
    Shape,
    /// A header label occurs twice (within or across buckets).
    DuplicateLabel,
    /// A known header parameter has a value of the wrong type.
    HeaderType(i64),
    /// A required header parameter is absent.
    MissingHeader(i64),
    /// A header parameter is in the unprotected bucket but must be protected, or vice versa.
    WrongBucket(i64),
    /// A header parameter that must not be present is present (e.g. CTR with a protected header).
    UnexpectedHeader(i64),
    /// The IV has a length the algorithm does not allow.
    IvLength(usize),
    /// More recipients than [`super::MAX_RECIPIENTS`].
    TooManyRecipients,
    /// COSE_Encrypt without recipients.
    NoRecipients,
    /// The ciphertext is present where it must be detached, or absent where it is needed.
    CiphertextPlacement,
    /// The protected bucket must be a zero-length byte string here.
    ProtectedNotEmpty,
}

/// Why a payload could not be decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecryptError {
    /// The SUIT_Encryption_Info / COSE structure is malformed.
    Malformed {
        /// Where.
        at: Location,
        /// What.
        problem: Problem,
    },
    /// The layer-0 (content) algorithm is not supported.
    UnsupportedContentAlgorithm(i64),
    /// No recipient uses a supported algorithm; the identifier of the first one.
    UnsupportedRecipientAlgorithm(i64),
    /// A feature of the structure is valid COSE but not supported (`crit`, nested
    /// recipients, text algorithm labels, non-P-256 ephemeral keys).
    Unsupported {
        /// Where.
        at: Location,
        /// The header label involved, if any.
        label: Option<i64>,
    },
    /// Recipients use supported algorithms but none names (or, without kid, matches the
    /// type of) any key this device holds.
    NoRecipientForKeys,
    /// AES-KW integrity check failed for every candidate KEK: wrong key or tampered
    /// recipient.
    KeyUnwrapFailed,
    /// HPKE decapsulation or AEAD open failed for every candidate key: wrong key, wrong PSK
    /// or tampered recipient.
    HpkeOpenFailed,
    /// The ECDH-ES ephemeral public key or HPKE `ek` is not a valid P-256 point.
    InvalidPublicKey {
        /// The recipient carrying it.
        recipient: usize,
    },
    /// The unwrapped content key does not have the length the content algorithm needs.
    ContentKeyLength {
        /// Bytes the algorithm needs.
        expected: usize,
        /// Bytes recovered.
        found: usize,
    },
    /// A HPKE recipient uses `psk_id` but the device has no PSK with that identifier.
    UnknownPsk,
    /// AES-GCM or Poly1305 authentication tag mismatch: ciphertext, tag, IV or protected
    /// header altered, or the wrong content key. Nothing decrypted so far may be used.
    TagMismatch,
    /// The ciphertext stream ended before a complete authentication tag.
    Truncated,
    /// The payload exceeds what the content algorithm can protect with one key and IV.
    PayloadTooLong,
    /// The decryptor already failed; it cannot be used further.
    Poisoned,
    /// The device key store failed for a reason other than a wrong key.
    DeviceKey(KeyError),
}

/// Failure reported by a [`super::DeviceKeys`] implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// No key behind this reference.
    UnknownKey,
    /// The key exists but has another type or length than the operation needs.
    WrongKeyType,
    /// The peer public key / encapsulated key is not valid for the KEM.
    InvalidPeerKey,
    /// The PSK for the requested `psk_id` is not available.
    UnknownPsk,
    /// The cryptographic operation ran and failed (HPKE open: wrong key or tampered input).
    OperationFailed,
    /// Key material supplied to a key store is unusable (e.g. a scalar out of range).
    InvalidKeyMaterial,
    /// The key store itself failed (storage, TEE internal error).
    Backend,
}

#[cfg(feature = "explain")]
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Structure => f.write_str("COSE structure"),
            Self::Protected => f.write_str("protected header"),
            Self::Unprotected => f.write_str("unprotected header"),
            Self::Ciphertext => f.write_str("ciphertext field"),
            Self::Recipients => f.write_str("recipients array"),
            Self::Recipient(n) => write!(f, "recipient {n}"),
            Self::RecipientProtected(n) => write!(f, "recipient {n} protected header"),
            Self::RecipientUnprotected(n) => write!(f, "recipient {n} unprotected header"),
            Self::EphemeralKey(n) => write!(f, "recipient {n} ephemeral key"),
        }
    }
}

#[cfg(feature = "explain")]
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cbor => f.write_str("invalid or oversized CBOR"),
            Self::TrailingBytes => f.write_str("trailing bytes"),
            Self::Tag => f.write_str("wrong or missing CBOR tag"),
            Self::Shape => f.write_str("wrong CBOR type or length"),
            Self::DuplicateLabel => f.write_str("duplicate header label"),
            Self::HeaderType(l) => write!(f, "header {l} has the wrong type"),
            Self::MissingHeader(l) => write!(f, "header {l} missing"),
            Self::WrongBucket(l) => write!(f, "header {l} in the wrong bucket"),
            Self::UnexpectedHeader(l) => write!(f, "header {l} not allowed here"),
            Self::IvLength(n) => write!(f, "IV of {n} bytes not allowed"),
            Self::TooManyRecipients => f.write_str("too many recipients"),
            Self::NoRecipients => f.write_str("no recipients"),
            Self::CiphertextPlacement => f.write_str("ciphertext attached/detached mismatch"),
            Self::ProtectedNotEmpty => f.write_str("protected header must be empty"),
        }
    }
}

#[cfg(feature = "explain")]
impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { at, problem } => {
                write!(f, "malformed encryption info: {at}: {problem}")
            }
            Self::UnsupportedContentAlgorithm(id) => {
                write!(f, "unsupported content algorithm {id}")
            }
            Self::UnsupportedRecipientAlgorithm(id) => {
                write!(f, "unsupported key distribution algorithm {id}")
            }
            Self::Unsupported { at, label: Some(l) } => write!(f, "unsupported header {l} in {at}"),
            Self::Unsupported { at, label: None } => write!(f, "unsupported feature in {at}"),
            Self::NoRecipientForKeys => f.write_str("no recipient for this device's keys"),
            Self::KeyUnwrapFailed => f.write_str("AES key unwrap integrity check failed"),
            Self::HpkeOpenFailed => f.write_str("HPKE open failed"),
            Self::InvalidPublicKey { recipient } => {
                write!(f, "recipient {recipient} carries an invalid public key")
            }
            Self::ContentKeyLength { expected, found } => {
                write!(
                    f,
                    "content key has {found} bytes, algorithm needs {expected}"
                )
            }
            Self::UnknownPsk => f.write_str("no PSK for the recipient's psk_id"),
            Self::TagMismatch => f.write_str("authentication tag mismatch"),
            Self::Truncated => f.write_str("ciphertext truncated before the tag"),
            Self::PayloadTooLong => f.write_str("payload too long for the content algorithm"),
            Self::Poisoned => f.write_str("decryptor used after a failure"),
            Self::DeviceKey(e) => write!(f, "device key store: {e}"),
        }
    }
}

#[cfg(feature = "explain")]
impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownKey => "unknown key",
            Self::WrongKeyType => "wrong key type",
            Self::InvalidPeerKey => "invalid peer public key",
            Self::UnknownPsk => "unknown PSK",
            Self::OperationFailed => "operation failed",
            Self::InvalidKeyMaterial => "invalid key material",
            Self::Backend => "key store failure",
        })
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for DecryptError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::DeviceKey(e) => Some(e),
            _ => None,
        }
    }
}
#[cfg(feature = "explain")]
impl core::error::Error for KeyError {}

/// Why a payload could not be encrypted (author side).
#[cfg(feature = "author")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncryptError {
    /// No recipients were given.
    NoRecipients,
    /// A KEK has a length other than 16 or 32 bytes, or a key does not fit its recipient.
    InvalidKey,
    /// HPKE seal failed (e.g. invalid public key, PSK without id).
    Hpke,
    /// The payload exceeds what the content algorithm can protect.
    PayloadTooLong,
    /// Integrated mode can't encode into COSE (should not happen).
    Encoding,
}

#[cfg(feature = "author")]
impl fmt::Display for EncryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRecipients => "no recipients",
            Self::InvalidKey => "invalid recipient key",
            Self::Hpke => "HPKE seal failed",
            Self::PayloadTooLong => "payload too long for the content algorithm",
            Self::Encoding => "CBOR encoding failed",
        })
    }
}

#[cfg(feature = "author")]
impl core::error::Error for EncryptError {}
