//! Manifests at the engine's decode bounds, nested as dependencies: the worst heap an
//! authorized author can ask of the TA. Built for any device identity and signer, so the
//! same envelopes run on the host (common/tests/heap_budget.rs) and inside OP-TEE
//! (tests/tests/optee_attack_oracles.rs).

use ciborium::Value;

use crate::cbor::{
    bytes, cbor, fetch_check_process, int, manifest_digest, map, text, tree_manifest_checked,
};

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
    let padding = filler(pad);
    let mut envelope: Option<Vec<u8>> = None;
    let manifests = chain_manifests(author, depth, command, content, &|_| "#k0".into());
    for (level, m) in manifests.iter().enumerate().rev() {
        let mut integrated: Vec<(&str, &[u8])> = vec![];
        if let Some(e) = &envelope {
            integrated.push(("#k0", e));
        }
        if level == 0 && pad > 0 {
            integrated.push(("#pad", &padding));
        }
        let sealed = (author.seal)(m, &integrated);
        envelope = Some(sealed);
    }
    envelope.unwrap_or_default()
}

/// [`chain_at_decode_bounds`]'s chain with each dependency fetched by URI (level N from
/// `https://x/dN`) instead, as the REE delivers it: the root's envelope and each
/// dependency's URI and envelope, the shallowest first. The REE pads the root's envelope to
/// about `root_len` bytes and each dependency's to about `dependency_len`.
pub fn delivered_chain_at_decode_bounds(
    author: &Author<'_>,
    depth: usize,
    command: (&[Value; 2], usize),
    content: usize,
    (root_len, dependency_len): (usize, usize),
) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let uri = |level: usize| format!("https://x/d{level}");
    let manifests = chain_manifests(author, depth, command, content, &uri);
    let padded = |m: &[u8], len: usize| {
        let base = (author.seal)(m, &[]);
        // The padding's key and header take fewer than 64 bytes.
        match len.checked_sub(base.len() + 64) {
            Some(pad) if pad > 0 => (author.seal)(m, &[("#pad", &filler(pad))]),
            _ => base,
        }
    };
    let mut envelopes = manifests.iter().enumerate().map(|(level, m)| match level {
        0 => padded(m, root_len),
        _ => padded(m, dependency_len),
    });
    let root = envelopes.next().unwrap_or_default();
    (
        root,
        envelopes
            .enumerate()
            .map(|(i, e)| (uri(i + 1), e))
            .collect(),
    )
}

/// The manifests of a root and a chain of `depth` dependencies below it, the root first: at
/// the decode bounds (see [`chain_at_decode_bounds`]), each dependent fetching, checking and
/// processing the next from `uri(level)`.
fn chain_manifests(
    author: &Author<'_>,
    depth: usize,
    command: (&[Value; 2], usize),
    content: usize,
    uri: &dyn Fn(usize) -> String,
) -> Vec<Vec<u8>> {
    let mut manifests: Vec<Vec<u8>> = vec![];
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
        let child = manifests.last();
        if let Some(child) = child {
            prefix.extend(fetch_check_process(
                0,
                &manifest_digest(child),
                &uri(level + 1),
            ));
        }
        let m = at_decode_bounds(
            author,
            &format!("n{level}"),
            child.is_some(),
            prefix,
            command,
        );
        manifests.push(m);
    }
    manifests.reverse();
    manifests
}

/// Manifest `["app", id]` over `comps`, dependencies at `deps`, the author's identity checks
/// in the shared sequence, and `sections` (key, commands) in key order.
fn app_manifest(
    author: &Author<'_>,
    id: &str,
    comps: &[Vec<Vec<u8>>],
    deps: &[i64],
    sections: Vec<(i64, Vec<Value>)>,
) -> Vec<u8> {
    let comps: Vec<&[Vec<u8>]> = comps.iter().map(Vec::as_slice).collect();
    let id: &[&[u8]] = &[b"app", id.as_bytes()];
    tree_manifest_checked(&author.id_checks, 2, &comps, deps, id, sections)
}

/// `["app", name]`.
fn app_id(name: &str) -> Vec<Vec<u8>> {
    vec![b"app".to_vec(), name.as_bytes().to_vec()]
}

/// A 453-byte identifier in 16 segments: `app`, then 15 of 30 bytes.
fn long_id(name: &str) -> Vec<Vec<u8>> {
    let mut id = vec![b"app".to_vec()];
    id.extend((0..15).map(|s| {
        let mut seg = format!("{name}-{s:02}-").into_bytes();
        seg.resize(30, b'x');
        seg
    }));
    id
}

/// Try-each nested `depth` deep, on component 0, each option running `each` before the next
/// level and `inner` at the deepest.
fn nested_options(depth: usize, each: &[Value], inner: Vec<Value>) -> Vec<Value> {
    (0..depth).fold(inner, |seq, _| {
        let option = [each.to_vec(), seq].concat();
        vec![
            int(12),
            int(0),
            int(15),
            Value::Array(vec![bytes(&cbor(&Value::Array(option)))]),
        ]
    })
}

/// Sealed dependencies `(envelope, manifest digest)`, fetched, checked and processed by the
/// returned commands into the dependent's components 0.., the envelopes integrated under
/// `#kN`.
fn fetch_all(deps: &[(Vec<u8>, Vec<u8>)]) -> Vec<Value> {
    deps.iter()
        .enumerate()
        .flat_map(|(i, (_, digest))| fetch_check_process(i as i64, digest, &format!("#k{i}")))
        .collect()
}

/// `deps` as integrated payloads under `#kN`.
fn integrated(deps: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, &[u8])> {
    deps.iter()
        .enumerate()
        .map(|(i, (e, _))| (format!("#k{i}"), e.as_slice()))
        .collect()
}

/// Seals `m` with `deps` integrated: the envelope and `m`'s digest.
fn seal_with(author: &Author<'_>, m: &[u8], deps: &[(Vec<u8>, Vec<u8>)]) -> (Vec<u8>, Vec<u8>) {
    let named = integrated(deps);
    let refs: Vec<(&str, &[u8])> = named.iter().map(|(k, e)| (k.as_str(), *e)).collect();
    ((author.seal)(m, &refs), manifest_digest(m))
}

/// A root that fetches, checks and processes eight dependencies of 16 components, each
/// overriding `parameters` on all of them, then processes them again inside try-each nested
/// `depth` deep: each live snapshot holds its own copy of every parameter set changed under
/// it (review s33: 1.4 MiB from a 7 KiB envelope).
pub fn parameter_copies(author: &Author<'_>, parameters: &Value, depth: usize) -> Vec<u8> {
    let deps: Vec<_> = (0..8)
        .map(|k| {
            let comps: Vec<_> = (0..16).map(|c| app_id(&format!("d{k}c{c}"))).collect();
            let install = vec![int(12), Value::Bool(true), int(20), parameters.clone()];
            let m = app_manifest(author, &format!("d{k}"), &comps, &[], vec![(20, install)]);
            seal_with(author, &m, &[])
        })
        .collect();
    let slots: Vec<_> = (0..8).map(|k| app_id(&format!("s{k}"))).collect();
    let mut install = fetch_all(&deps);
    // Every dependency processed at each level (the next try-each is on component 0 again:
    // under `true` it would run once per dependency).
    let each = [int(12), Value::Bool(true), int(11), int(15)];
    install.extend(nested_options(depth, &each, vec![]));
    let deps_at: Vec<i64> = (0..8).collect();
    let m = app_manifest(author, "copies", &slots, &deps_at, vec![(20, install)]);
    seal_with(author, &m, &deps).0
}

/// 144 components with 453-byte identifiers and parameters (the root's 16, five dependencies'
/// 16 each and a chain of three more dependencies' 16 each); each chain manifest nests
/// try-each four deep in its install around processing the next (fetched and checked in
/// dependency-resolution), under the root's own four: 16 live snapshots of every component's
/// entry (review s34: an identifier was copied whole into each, 1681 KiB from 99 of them).
/// The root's install ends with `tail`.
pub fn long_identifier_snapshots(author: &Author<'_>, tail: Vec<Value>) -> Vec<u8> {
    let size = || map(vec![(14, int(1))]);
    let wide: Vec<_> = (1..6)
        .map(|k| {
            let comps: Vec<_> = (0..16).map(|c| long_id(&format!("w{k}c{c}"))).collect();
            let install = vec![int(12), Value::Bool(true), int(20), size()];
            let m = app_manifest(author, &format!("w{k}"), &comps, &[], vec![(20, install)]);
            seal_with(author, &m, &[])
        })
        .collect();
    // Components 1..16 of a manifest whose component 0 is its dependency slot.
    let own = || Value::Array((1..16).map(int).collect());
    let mut chain: Vec<(Vec<u8>, Vec<u8>)> = vec![];
    for level in (1..=3).rev() {
        let comps: Vec<_> = (0..16).map(|c| long_id(&format!("c{level}n{c}"))).collect();
        let mut resolution = vec![int(12), own(), int(20), size()];
        let (deps, install) = if chain.is_empty() {
            (
                vec![],
                nested_options(4, &[], vec![int(12), own(), int(20), size()]),
            )
        } else {
            resolution.extend(fetch_all(&chain));
            (
                vec![0],
                nested_options(4, &[], vec![int(12), int(0), int(11), int(15)]),
            )
        };
        let sections = vec![(15, resolution), (20, install)];
        let m = app_manifest(author, &format!("c{level}"), &comps, &deps, sections);
        chain = vec![seal_with(author, &m, &chain)];
    }
    let mut deps = chain;
    deps.extend(wide);
    let comps: Vec<_> = (0..16).map(|c| long_id(&format!("r{c}"))).collect();
    let theirs = Value::Array((6..16).map(int).collect());
    let mut install = vec![int(12), theirs, int(20), size()];
    // Every dependency processed (the wide ones set their parameters), then the chain again
    // under the root's own nesting.
    install.extend([int(12), Value::Bool(true), int(11), int(15)]);
    install.extend(nested_options(
        4,
        &[],
        vec![int(12), int(0), int(11), int(15)],
    ));
    install.extend(tail);
    let deps_at: Vec<i64> = (0..6).collect();
    let sections = vec![(15, fetch_all(&deps)), (20, install)];
    let m = app_manifest(author, "long-ids", &comps, &deps_at, sections);
    seal_with(author, &m, &deps).0
}

/// One parameter set of 254 bytes that decodes to ~4 KiB: every shared value, a version,
/// a wait-info with all nine events, component-metadata with 16 actors in each permission
/// map, 16 custom labels.
pub fn fat_parameters() -> Value {
    let list = |a: Vec<Value>| Value::Array(a);
    let version = || list(vec![int(1), list((0..8).map(|_| int(0)).collect())]);
    let wait = map(vec![
        (1, int(0)),
        (2, int(0)),
        (3, int(0)),
        (
            4,
            list(vec![
                bytes(b"\0"),
                list((0..4).map(|_| version()).collect()),
            ]),
        ),
        (5, int(0)),
        (6, int(0)),
        (7, int(0)),
        (8, int(0)),
        (9, int(0)),
    ]);
    let permissions = || map((0..16).map(|a| (a, int(0))).collect());
    let metadata = map(vec![
        (1, int(0)),
        (2, permissions()),
        (3, permissions()),
        (4, permissions()),
        (5, int(1)),
        (6, Value::Tag(1, Box::new(int(0)))),
        (7, Value::Tag(1, Box::new(int(0)))),
        (8, bytes(b"\0")),
    ]);
    let mut entries = vec![
        (1, Value::Tag(112, Box::new(bytes(b"")))),
        (18, bytes(b"")),
        (19, bytes(&[0])),
        (21, text("")),
        (23, bytes(b"")),
        (25, bytes(b"")),
        (28, bytes(&cbor(&version()))),
        (29, bytes(&cbor(&wait))),
        (30, bytes(&cbor(&metadata))),
    ];
    entries.extend((1..=16).map(|k| (-k, int(0))));
    map(entries)
}

/// Parameters that are copied whole when changed: 16 custom labels, a version of 8 integers,
/// a wait-info whose other-device-version event holds 4 versions of 8 integers.
pub fn copied_parameters() -> Value {
    let list = |a: Vec<Value>| Value::Array(a);
    let version = || list(vec![int(1), list((0..8).map(|_| int(0)).collect())]);
    let wait = map(vec![(
        4,
        list(vec![
            bytes(b"\0"),
            list((0..4).map(|_| version()).collect()),
        ]),
    )]);
    let mut entries = vec![(28, bytes(&cbor(&version()))), (29, bytes(&cbor(&wait)))];
    entries.extend((1..=16).map(|k| (-k, int(0))));
    map(entries)
}

/// [`fat_parameters`] without its URI (prepare would list it for the REE to fetch).
fn fat_without_uri() -> Value {
    let Value::Map(f) = fat_parameters() else {
        unreachable!("a map")
    };
    Value::Map(f.into_iter().filter(|(k, _)| *k != int(21)).collect())
}

/// `["app", k, c, 0 x 13]`: 16 segments, 15 of one byte (~56 bytes of heap each for 2
/// encoded).
fn short_segment_id(k: usize, c: usize) -> Value {
    let mut segs = vec![bytes(b"app"), bytes(&[k as u8]), bytes(&[c as u8])];
    segs.extend((0..13).map(|_| bytes(&[0])));
    Value::Array(segs)
}

/// Dependency `k` (the REE delivers it): 16 components with short-segment identifiers, 15 of
/// them declared dependencies with such a prefix (never fetched), its manifest id likewise;
/// its install sets 16 custom labels, a version and a wait-info on every component and
/// `content` bytes of content, then nests four empty try-each.
fn heavy_dependency(author: &Author<'_>, k: usize, content: usize) -> (Vec<u8>, Vec<u8>) {
    let mut install = vec![int(12), Value::Bool(true), int(20), copied_parameters()];
    install.extend([int(20), map(vec![(18, bytes(&filler(content)))])]);
    install.extend(nested_options(4, &[], vec![]));
    let deps = (1..16)
        .map(|d| (d, map(vec![(1, short_segment_id(k, 100 + d as usize))])))
        .collect();
    let common = map(vec![
        (1, map(deps)),
        (
            2,
            Value::Array((0..16).map(|c| short_segment_id(k, c)).collect()),
        ),
        (4, bytes(&cbor(&Value::Array(author.id_checks.clone())))),
    ]);
    let m = cbor(&map(vec![
        (1, int(1)),
        (2, int(2)),
        (3, bytes(&cbor(&common))),
        (5, short_segment_id(k, 200)),
        (20, bytes(&cbor(&Value::Array(install)))),
    ]));
    seal_with(author, &m, &[])
}

/// What [`every_bound`] installs.
pub struct EveryBound {
    /// Installed first, each on its own: 16 components with 453-byte identifiers each.
    pub before: Vec<Vec<u8>>,
    /// The 512 KiB root envelope.
    pub root: Vec<u8>,
    /// The dependencies the REE delivers: (URI, envelope).
    pub payloads: Vec<(String, Vec<u8>)>,
}

/// Every heap bound at once (re-review s34): `before` installs (16 components with 453-byte
/// identifiers each), then a root envelope of 512 KiB (495 KiB of its own content, the REE's
/// padding) whose sequences hold ~24-32 KiB of decoded structures each, fetching 8 heavy
/// dependencies with `content` bytes each (up to 1 MiB of dependency bytes) and processing
/// them again under `depth` nested try-each that change every component at each level, then
/// aborting.
pub fn every_bound(author: &Author<'_>, content: usize, depth: usize, before: usize) -> EveryBound {
    let before = (0..before)
        .map(|i| {
            let comps: Vec<_> = (0..16).map(|c| long_id(&format!("p{i}c{c}"))).collect();
            let write = vec![
                int(12),
                Value::Bool(true),
                int(20),
                map(vec![(18, bytes(b"x"))]),
                int(18),
                int(15),
            ];
            let m = app_manifest(author, &format!("pre{i}"), &comps, &[], vec![(20, write)]);
            seal_with(author, &m, &[]).0
        })
        .collect();
    let deps: Vec<_> = (0..8)
        .map(|k| heavy_dependency(author, k, content))
        .collect();
    let comps: Vec<_> = (0..8)
        .map(|k| app_id(&format!("s{k}")))
        .chain((0..8).map(|k| app_id(&format!("r{k}"))))
        .collect();
    let Value::Map(mut own) = copied_parameters() else {
        unreachable!("a map")
    };
    own.insert(0, (int(18), bytes(&filler(495 * 1024))));
    let mut install = vec![
        int(12),
        Value::Array((8..16).map(int).collect()),
        int(20),
        Value::Map(own),
    ];
    for _ in 0..4 {
        install.extend([int(12), int(8), int(20), fat_without_uri()]);
    }
    let uris: Vec<String> = (0..8).map(|k| format!("https://x/d{k}")).collect();
    for (k, ((_, digest), uri)) in deps.iter().zip(&uris).enumerate() {
        install.extend(fetch_check_process(k as i64, digest, uri));
    }
    let each = [
        int(12),
        Value::Bool(true),
        int(11),
        int(15),
        int(12),
        Value::Bool(true),
        int(20),
        map(vec![(14, int(1))]),
    ];
    install.extend(nested_options(depth, &each, vec![]));
    install.extend([int(14), int(15)]);
    let mut sections: Vec<(i64, Vec<Value>)> = [7i64, 8, 9, 15, 16, 18, 24]
        .into_iter()
        .map(|key| {
            let mut seq = vec![int(12), int(8)];
            (0..6).for_each(|_| seq.extend([int(20), fat_without_uri()]));
            (key, seq)
        })
        .collect();
    sections.push((20, install));
    sections.sort_by_key(|(k, _)| *k);
    let m = app_manifest(
        author,
        "root",
        &comps,
        &(0..8).collect::<Vec<i64>>(),
        sections,
    );
    let pad = (512 * 1024usize).saturating_sub((author.seal)(&m, &[]).len() + 64);
    let root = (author.seal)(&m, &[("#pad", &filler(pad))]);
    EveryBound {
        before,
        root,
        payloads: uris
            .into_iter()
            .zip(deps.into_iter().map(|(e, _)| e))
            .collect(),
    }
}
