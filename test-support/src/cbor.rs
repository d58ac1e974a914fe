//! CBOR values written by hand, for manifests and messages the tests build field by field
//! (the encoder under test must not be the one that builds its own inputs).

use ciborium::Value;

pub fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

pub fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

pub fn text(t: &str) -> Value {
    Value::Text(t.into())
}

/// A map with integer keys (the SUIT and COSE structures' usual shape).
pub fn map(entries: Vec<(i64, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (int(k), v)).collect())
}

/// The encoding of `v`.
pub fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}
