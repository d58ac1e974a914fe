//! COSE_Key (RFC 9052 section 7, RFC 9053) as both tools write public keys: the agent's
//! `device-key --format cose` and the author tool's key files. Outside the author code (the
//! agent is built without it).

use ciborium::value::Value;
use p256::elliptic_curve::sec1::ToSec1Point;

/// COSE_Key labels and values, as the engine reads them.
pub use suit_common::cose::label::key as label;

/// A public key the tool can verify with or encrypt to.
#[derive(Clone, Debug)]
pub enum PublicKey {
    /// NIST P-256.
    P256(p256::PublicKey),
    /// Ed25519 (signature verification only).
    Ed25519(ed25519_dalek::VerifyingKey),
    /// HSS-LMS (signature verification only): the HSS public key (RFC 8554 §6.1), checked
    /// to be one the engine accepts when it was read.
    HssLms(Vec<u8>),
}

impl PublicKey {
    /// Human name of the key type.
    pub fn type_name(&self) -> &'static str {
        match self {
            PublicKey::P256(_) => "P-256",
            PublicKey::Ed25519(_) => "Ed25519",
            PublicKey::HssLms(_) => "HSS-LMS",
        }
    }

    /// The public key bytes: uncompressed SEC1 point for P-256, 32 raw bytes for Ed25519,
    /// the RFC 8554 HSS public key for HSS-LMS.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            PublicKey::P256(k) => k.to_sec1_point(false).as_bytes().to_vec(),
            PublicKey::Ed25519(k) => k.as_bytes().to_vec(),
            PublicKey::HssLms(k) => k.clone(),
        }
    }
}

/// The COSE_Key entries of a public key (`kty, [kid,] crv, x[, y]`, or `kty, [kid,] pub` for
/// HSS-LMS); keygen adds `d` for the private file.
pub fn public_cose_entries(key: &PublicKey, kid: Option<&[u8]>) -> Vec<(i64, Value)> {
    let bytes = key.to_bytes();
    let mut entries = match key {
        PublicKey::P256(_) => vec![
            (label::KTY, Value::from(label::KTY_EC2)),
            (label::CRV, Value::from(label::CRV_P256)),
            // SEC1 uncompressed (0x04, x, y): always 65 bytes.
            (
                label::X,
                Value::Bytes(bytes.get(1..33).unwrap_or_default().to_vec()),
            ),
            (
                label::Y,
                Value::Bytes(bytes.get(33..).unwrap_or_default().to_vec()),
            ),
        ],
        PublicKey::Ed25519(_) => vec![
            (label::KTY, Value::from(label::KTY_OKP)),
            (label::CRV, Value::from(label::CRV_ED25519)),
            (label::X, Value::Bytes(bytes)),
        ],
        PublicKey::HssLms(_) => vec![
            (label::KTY, Value::from(label::KTY_HSS_LMS)),
            (label::HSS_PUB, Value::Bytes(bytes)),
        ],
    };
    if let Some(kid) = kid {
        entries.insert(1, (label::KID, Value::Bytes(kid.to_vec())));
    }
    entries
}

/// Encodes a public key as a COSE_Key (EC2 P-256, OKP Ed25519 or HSS-LMS), with `kid` if given.
pub fn public_cose_key(
    key: &PublicKey,
    kid: Option<&[u8]>,
) -> Result<Vec<u8>, ciborium::ser::Error<std::io::Error>> {
    encode_map(public_cose_entries(key, kid))
}

/// [`encode_map`] of a private key's entries (its `d`): encoded into one block sized before
/// anything is written (a growing `Vec` frees its outgrown blocks unwiped), wiped when
/// dropped; the entries' bytes are wiped once encoded.
pub fn encode_secret_map(
    entries: Vec<(i64, Value)>,
) -> Result<zeroize::Zeroizing<Vec<u8>>, ciborium::ser::Error<std::io::Error>> {
    /// Counts what is written to it.
    struct Length(usize);
    impl std::io::Write for Length {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut v = Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    );
    let mut length = Length(0);
    let encoded = ciborium::ser::into_writer(&v, &mut length).and_then(|()| {
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(length.0));
        ciborium::ser::into_writer(&v, &mut *out)?;
        Ok(out)
    });
    crate::detect::wipe(&mut v);
    encoded
}

/// A CBOR map with integer labels, in the order given.
pub fn encode_map(
    entries: Vec<(i64, Value)>,
) -> Result<Vec<u8>, ciborium::ser::Error<std::io::Error>> {
    let v = Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    );
    let mut out = Vec::new();
    ciborium::ser::into_writer(&v, &mut out)?;
    Ok(out)
}
