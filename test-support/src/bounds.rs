//! Manifests at the engine's decode bounds, nested as dependencies: the worst heap an
//! authorized author can ask of the TA. Built for any device identity and signer, so the
//! same envelopes run on the host (common/tests/heap_budget.rs) and inside OP-TEE
//! (tests/tests/optee_attack_oracles.rs).

use ciborium::Value;

use crate::cbor::{bytes, cbor, fetch_check_process, int, manifest_digest, map};

/// Seals a manifest into an envelope with the given integrated payloads (key, bytes).
pub type Seal<'a> = &'a dyn Fn(&[u8], &[(&str, &[u8])]) -> Vec<u8>;

/// Who the manifests are for and who signs them.
pub struct Author<'a> {
    /// The shared sequence's identity checks (see `check_vendor_class`).
    pub id_checks: Vec<Value>,
    /// Signs for the author.
    pub seal: Seal<'a>,
}

/// `len` bytes of a fixed pattern.
pub fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// override-multiple over components 0..16, each image-size 1: ~50 bytes, 16 parameter sets.
pub fn override_multiple() -> [Value; 2] {
    [
        int(34),
        map((0..16).map(|i| (i, map(vec![(14, int(1))]))).collect()),
    ]
}

/// override-parameters image-size 1.
pub fn override_one() -> [Value; 2] {
    [int(20), map(vec![(14, int(1))])]
}

/// `[12, 0, 32, bstr, 32, bstr]` after `prefix`, whose nested sequences hold `copies` of
/// `command` between them (at most 123 - n with `prefix`'s n: 128 commands in all).
fn sequence_of(prefix: Vec<Value>, command: &[Value; 2], copies: usize) -> Vec<u8> {
    let nested = |k: usize| {
        let mut c = vec![int(12), int(0)];
        c.extend((0..k).flat_map(|_| command.clone()));
        bytes(&cbor(&Value::Array(c)))
    };
    let copies = copies.min(123usize.saturating_sub(prefix.len() / 2));
    let mut outer = prefix;
    outer.extend([
        int(12),
        int(0),
        int(32),
        nested(copies / 2),
        int(32),
        nested(copies - copies / 2),
    ]);
    cbor(&Value::Array(outer))
}

/// Manifest `["app", id]` with 16 components under `app`, a dependency at 0 if `dependency`,
/// and every sequence holding `copies` of `command`, `prefix` first in dependency-resolution.
fn at_decode_bounds(
    author: &Author<'_>,
    id: &str,
    dependency: bool,
    prefix: Vec<Value>,
    (command, copies): (&[Value; 2], usize),
) -> Vec<u8> {
    let component = |name: String| Value::Array(vec![bytes(b"app"), bytes(name.as_bytes())]);
    let mut comps = vec![component(format!("{id}s"))];
    comps.extend((0..15).map(|c| component(format!("{id}c{c}"))));
    let mut common = vec![];
    if dependency {
        common.push((1, map(vec![(0, map(vec![]))])));
    }
    common.push((2, Value::Array(comps)));
    common.push((4, bytes(&cbor(&Value::Array(author.id_checks.clone())))));
    let mut m = vec![
        (1, int(1)),
        (2, int(2)),
        (3, bytes(&cbor(&map(common)))),
        (5, component(id.to_string())),
    ];
    for key in [7i64, 8, 9, 15, 16, 18, 20, 24] {
        let first = if key == 15 { prefix.clone() } else { vec![] };
        m.push((key, bytes(&sequence_of(first, command, copies))));
    }
    cbor(&map(m))
}

/// A root and a chain of `depth` dependencies below it, integrated each into the one above,
/// every sequence of every manifest holding `copies` of `command` (123 or more: the command
/// bound); each dependency sets `content` bytes of suit-parameter-content first, and the REE
/// pads the root's envelope with `pad` bytes.
pub fn chain_at_decode_bounds(
    author: &Author<'_>,
    depth: usize,
    command: (&[Value; 2], usize),
    content: usize,
    pad: usize,
) -> Vec<u8> {
    let mut child: Option<(Vec<u8>, Vec<u8>)> = None;
    let padding = filler(pad);
    for level in (0..=depth).rev() {
        let mut prefix = vec![];
        if level > 0 && content > 0 {
            prefix.extend([
                int(12),
                int(1),
                int(20),
                map(vec![(18, bytes(&filler(content + level)))]),
            ]);
        }
        if let Some((_, digest)) = &child {
            prefix.extend(fetch_check_process(0, digest, "#k0"));
        }
        let m = at_decode_bounds(
            author,
            &format!("n{level}"),
            child.is_some(),
            prefix,
            command,
        );
        let digest = manifest_digest(&m);
        let mut integrated: Vec<(&str, &[u8])> = vec![];
        if let Some((e, _)) = &child {
            integrated.push(("#k0", e));
        }
        if level == 0 && pad > 0 {
            integrated.push(("#pad", &padding));
        }
        child = Some(((author.seal)(&m, &integrated), digest));
    }
    child.map(|(e, _)| e).unwrap_or_default()
}
