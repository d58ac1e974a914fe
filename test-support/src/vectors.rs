//! Vectors copied into tests/vectors (never /work/shared), the identifiers the drafts' examples
//! use, and small CBOR helpers for taking envelopes apart.

pub const VENDOR_ID: [u8; 16] = [
    0xfa, 0x6b, 0x4a, 0x53, 0xd5, 0xad, 0x5f, 0xdf, 0xbe, 0x9d, 0xe6, 0x63, 0xe4, 0xd4, 0x1f, 0xfe,
];
pub const CLASS_ID: [u8; 16] = [
    0x14, 0x92, 0xaf, 0x14, 0x25, 0x69, 0x5e, 0x48, 0xbf, 0x42, 0x9b, 0x2d, 0x51, 0xf2, 0xab, 0x45,
];
/// [`VENDOR_ID`] and [`CLASS_ID`] as the command-line tools take them.
pub const VENDOR_UUID: &str = "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe";
pub const CLASS_UUID: &str = "1492af14-2569-5e48-bf42-9b2d51f2ab45";
/// The manifest-spec examples' signed forms (tests/vectors/suit-manifest-spec), severed
/// example 2 included.
pub const SPEC_SIGNED: [&str; 7] = [
    "example0.signed.hex",
    "example1.signed.hex",
    "example2.signed.hex",
    "example2.signed-severed.hex",
    "example3.signed.hex",
    "example4.signed.hex",
    "example5.signed.hex",
];
/// The manifest-spec examples' unsigned forms (tests/vectors/suit-manifest-spec).
pub const SPEC_UNSIGNED: [&str; 6] = [
    "example0.unsigned.hex",
    "example1.unsigned.hex",
    "example2.unsigned-severed.hex",
    "example3.unsigned.hex",
    "example4.unsigned.hex",
    "example5.unsigned.hex",
];
/// The dummy image digest used by every manifest-spec example.
pub const DUMMY_DIGEST: [u8; 32] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
];

/// The manifest-spec example 0 with one byte of its signature changed (the signature is the
/// 64 bytes before the manifest member, `0x03 0x58 0x71 ...`).
pub fn spec_example0_forged() -> Vec<u8> {
    let mut bytes = hex_file("suit-manifest-spec/example0.signed.hex");
    let pos = bytes
        .windows(3)
        .position(|w| w == [0x03, 0x58, 0x71])
        .expect("example 0's manifest member");
    bytes[pos - 10] ^= 0x01;
    bytes
}

/// Path of a vector file (copied into the repository; never /work/shared).
pub fn vector_path(rel: &str) -> String {
    format!("{}/../tests/vectors/{}", env!("CARGO_MANIFEST_DIR"), rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(vector_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Decodes a hex vector file (whitespace and line breaks ignored).
pub fn hex_file(rel: &str) -> Vec<u8> {
    let text = String::from_utf8(read(rel)).unwrap();
    let clean: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    hex::decode(clean).unwrap()
}

/// Decrypts `ciphertext` as a device does, in `chunk`-byte pieces (at least 1) through the
/// streaming `PayloadDecryptor` of SUIT_Encryption_Info `info`.
pub fn decrypt_in_chunks(
    info: &[u8],
    keys: &suit_common::encryption::MemoryKeys,
    ciphertext: &[u8],
    chunk: usize,
) -> Result<Vec<u8>, suit_common::encryption::DecryptError> {
    let mut d = suit_common::encryption::PayloadDecryptor::new(info, keys)?;
    let mut out = Vec::with_capacity(ciphertext.len());
    for c in ciphertext.chunks(chunk.max(1)) {
        out.extend_from_slice(&d.update(c)?);
    }
    out.extend_from_slice(&d.finish()?);
    Ok(out)
}

/// No device keys (for manifests without encryption).
pub fn no_keys() -> suit_common::encryption::MemoryKeys {
    suit_common::encryption::MemoryKeys::new()
}

/// Extracts the encoded manifest (content of key 3) from an envelope, via ciborium.
pub fn manifest_of(envelope: &[u8]) -> Vec<u8> {
    let v: ciborium::Value = ciborium::from_reader(envelope).unwrap();
    let v = match v {
        ciborium::Value::Tag(107, inner) => *inner,
        v => v,
    };
    let map = v.into_map().unwrap();
    map.into_iter()
        .find(|(k, _)| k == &ciborium::Value::Integer(3.into()))
        .unwrap()
        .1
        .into_bytes()
        .unwrap()
}

/// Replaces every occurrence of `from` by `to` (same length) in `data`.
pub fn replace_all(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = data.to_vec();
    let mut i = 0;
    let mut hits = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
            hits += 1;
        } else {
            i += 1;
        }
    }
    assert!(hits > 0, "pattern not found");
    out
}

/// A component identifier from its segments.
pub fn cid(segments: &[&[u8]]) -> suit_common::suit::ComponentId {
    suit_common::suit::ComponentId::new(segments)
}

/// A cose-wg/Examples vector (tests/vectors/cose-wg-examples/NAME.json) as JSON.
pub fn cose_wg(name: &str) -> serde_json::Value {
    serde_json::from_slice(&read(&format!("cose-wg-examples/{name}.json"))).unwrap()
}

/// A base64url (unpadded) JSON string's bytes, as the cose-wg vectors write keys.
pub fn b64url(s: &serde_json::Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.as_str().unwrap())
        .unwrap()
}
