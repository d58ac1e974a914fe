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

/// The encoding of a SUIT_Manifest (version 1, sequence number `seq`) whose common has
/// `components` and the shared sequence `shared`, and whose install sequence is `install`.
pub fn suit_manifest(seq: i64, components: Vec<Value>, shared: &Value, install: &Value) -> Vec<u8> {
    let common = map(vec![
        (2, Value::Array(components)),
        (4, bytes(&cbor(shared))),
    ]);
    cbor(&map(vec![
        (1, int(1)),
        (2, int(seq)),
        (3, bytes(&cbor(&common))),
        (20, bytes(&cbor(install))),
    ]))
}

/// A manifest with `components`, dependencies at `deps`, an optional `shared` sequence
/// (vendor / class checks on component 0 are prepended), `install` and the manifest component
/// id `component_id`.
pub fn manifest_with(
    components: &[&[u8]],
    deps: &[i64],
    shared: Vec<Value>,
    install: Vec<Value>,
    component_id: &[u8],
) -> Vec<u8> {
    let mut sh = spec_id_checks();
    sh.extend(shared);
    let mut common = vec![(
        2,
        Value::Array(
            components
                .iter()
                .map(|c| Value::Array(vec![bytes(c)]))
                .collect(),
        ),
    )];
    if !deps.is_empty() {
        common.insert(
            0,
            (1, map(deps.iter().map(|d| (*d, map(vec![]))).collect())),
        );
    }
    common.push((4, bytes(&cbor(&Value::Array(sh)))));
    cbor(&map(vec![
        (1, int(1)),
        (2, int(1)),
        (3, bytes(&cbor(&map(common)))),
        (5, Value::Array(vec![bytes(component_id)])),
        (20, bytes(&cbor(&Value::Array(install)))),
    ]))
}

/// The dependent's commands for dependency `idx`: fetch it from `uri`, check its integrity
/// against `digest`, process it.
pub fn fetch_check_process(idx: i64, digest: &[u8], uri: &str) -> [Value; 10] {
    fetch_check_process_with(idx, vec![(3, bytes(digest)), (21, text(uri))])
}

/// [`fetch_check_process`] with `params` as the dependency's override-parameters (a tree
/// whose digest another manifest sets gives the URI alone).
pub fn fetch_check_process_with(idx: i64, params: Vec<(i64, Value)>) -> [Value; 10] {
    [
        int(12),
        int(idx),
        int(20),
        map(params),
        int(21),
        int(15),
        int(7),
        int(15),
        int(11),
        int(15),
    ]
}

/// Commands that fetch `image` from `uri` into the current component, with its digest and
/// size set, and check the digest.
pub fn fetch_checked(image: &[u8], uri: &str) -> Vec<Value> {
    vec![
        int(20),
        map(vec![
            (3, bytes(&suit_digest(image))),
            (14, int(image.len() as i64)),
            (21, text(uri)),
        ]),
        int(21),
        int(15),
        int(3),
        int(15),
    ]
}

/// A manifest numbered `seq` of `components` (the first checked for the examples' vendor and
/// class), declaring the components at `deps` dependencies, with manifest-component-id `id`
/// and `sections` (key, commands), in the order given.
pub fn tree_manifest(
    seq: i64,
    components: &[&[&[u8]]],
    deps: &[i64],
    id: &[&[u8]],
    sections: Vec<(i64, Vec<Value>)>,
) -> Vec<u8> {
    tree_manifest_checked(&spec_id_checks(), seq, components, deps, id, sections)
}

/// [`tree_manifest`] with `id_checks` as its shared sequence.
pub fn tree_manifest_checked<S: AsRef<[u8]>>(
    id_checks: &[Value],
    seq: i64,
    components: &[&[S]],
    deps: &[i64],
    id: &[&[u8]],
    sections: Vec<(i64, Vec<Value>)>,
) -> Vec<u8> {
    let mut common = vec![];
    if !deps.is_empty() {
        common.push((1, map(deps.iter().map(|d| (*d, map(vec![]))).collect())));
    }
    let ids = components
        .iter()
        .map(|c| Value::Array(c.iter().map(|s| bytes(s.as_ref())).collect()))
        .collect();
    common.push((2, Value::Array(ids)));
    common.push((4, bytes(&cbor(&Value::Array(id_checks.to_vec())))));
    let mut m = vec![
        (1, int(1)),
        (2, int(seq)),
        (3, bytes(&cbor(&map(common)))),
        (5, Value::Array(id.iter().map(|s| bytes(s)).collect())),
    ];
    for (k, s) in sections {
        m.push((k, bytes(&cbor(&Value::Array(s)))));
    }
    cbor(&map(m))
}

/// `manifest` (an encoded SUIT_Manifest) with the member `key` added as `value`, such as a
/// digest (23: suit-text) naming a severed member.
pub fn with_manifest_member(manifest: &[u8], key: i64, value: Value) -> Vec<u8> {
    let Value::Map(mut members) = ciborium::from_reader(manifest).unwrap() else {
        panic!("a manifest is a map")
    };
    members.push((int(key), value));
    cbor(&Value::Map(members))
}

/// The shared-sequence commands that set the vendor and class ids (`vendor`, `class`) and
/// `more` parameters, then check both ids with reporting policy `policy`, after the commands
/// in `before` (such as set-component-index).
pub fn check_vendor_class(
    before: Vec<Value>,
    vendor: Value,
    class: Value,
    more: Vec<(i64, Value)>,
    policy: i64,
) -> Vec<Value> {
    let mut params = vec![(1, vendor), (2, class)];
    params.extend(more);
    let mut seq = before;
    seq.extend([
        int(20),
        map(params),
        int(1),
        int(policy),
        int(2),
        int(policy),
    ]);
    seq
}

/// A manifest installing `payload` into the one component `component` by a fetch from `uri`
/// with image-match, on a device of `vendor` and the tests' class id (every command reporting
/// with policy 15).
pub fn fetch_install_manifest(
    seq: u64,
    component: &[&[u8]],
    payload: &[u8],
    uri: &str,
    vendor: &[u8],
) -> Vec<u8> {
    fetch_manifest(
        seq,
        component,
        payload,
        uri,
        (vendor, &crate::CLASS_ID),
        true,
    )
}

/// A manifest fetching `payload` from `uri` into the one component `component`, on a device
/// of `ids` (vendor, class). With `image_match` it sets the image digest and size of `payload`
/// and checks image-match after the fetch; without, the fetched bytes are taken as served.
/// Every command reports with policy 15 (fetch with 2).
pub fn fetch_manifest(
    seq: u64,
    component: &[&[u8]],
    payload: &[u8],
    uri: &str,
    ids: (&[u8], &[u8]),
    image_match: bool,
) -> Vec<u8> {
    let more = if image_match {
        vec![
            (3, bytes(&suit_digest(payload))),
            (14, int(payload.len() as i64)),
        ]
    } else {
        vec![]
    };
    let shared = Value::Array(check_vendor_class(
        vec![],
        bytes(ids.0),
        bytes(ids.1),
        more,
        15,
    ));
    let mut install = fetch_and_check(uri, 2, 15);
    if !image_match {
        install.truncate(4);
    }
    let components = vec![Value::Array(component.iter().map(|c| bytes(c)).collect())];
    suit_manifest(seq as i64, components, &shared, &Value::Array(install))
}

/// The encoded SUIT_Digest of `data` (SHA-256, COSE algorithm -16).
pub fn suit_digest(data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    cbor(&Value::Array(vec![
        int(-16),
        bytes(&sha2::Sha256::digest(data)),
    ]))
}

/// The encoded SUIT_Digest of `manifest`'s bstr: the authentication wrapper's digest, and
/// the one trust domains name a dependency by.
pub fn manifest_digest(manifest: &[u8]) -> Vec<u8> {
    suit_digest(&cbor(&bytes(manifest)))
}

/// The shared sequence of a one-image manifest: on component 0, the manifest-spec examples'
/// vendor and class ids, the image digest and size of `image`, then both ids checked, every
/// command reporting with `policy`.
pub fn image_shared(image: &[u8], policy: i64) -> Value {
    use sha2::Digest as _;
    digest_shared(0, &sha2::Sha256::digest(image), image.len(), policy)
}

/// [`image_shared`] on component `index` for an image of SHA-256 `digest` and `size` bytes.
pub fn digest_shared(index: i64, digest: &[u8], size: usize, policy: i64) -> Value {
    use crate::vectors::{CLASS_ID, VENDOR_ID};
    let digest = cbor(&Value::Array(vec![int(-16), bytes(digest)]));
    Value::Array(check_vendor_class(
        vec![int(12), int(index)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![(3, bytes(&digest)), (14, int(size as i64))],
        policy,
    ))
}

/// [`check_vendor_class`] on component 0 for the manifest-spec examples' vendor and class ids
/// (policy 15: every report bit).
pub fn spec_id_checks() -> Vec<Value> {
    use crate::vectors::{CLASS_ID, VENDOR_ID};
    check_vendor_class(
        vec![int(12), int(0)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        15,
    )
}

/// Install commands: fetch `uri` into component 1, then copy it into component 0 decrypting
/// with the COSE encryption info `info` (directive-fetch and -copy report with `policy`).
pub fn fetch_and_decrypt(uri: &str, info: &[u8], policy: i64) -> Vec<Value> {
    vec![
        int(12),
        int(1),
        int(20),
        map(vec![(21, text(uri))]),
        int(21),
        int(policy),
        int(12),
        int(0),
        int(20),
        map(vec![(19, bytes(info)), (22, int(1))]),
        int(22),
        int(policy),
    ]
}

/// A manifest (sequence `seq`) installing a payload encrypted with the SUIT_Encryption_Info
/// `info` in the firmware-encryption draft's static form: component 0 is `target` (checked for
/// the manifest-spec examples' vendor and class, with `plaintext`'s digest and size), component
/// 1 the buffer `target ++ ['encrypted']`; install fetches `uri` into the buffer, copies it into
/// the target decrypting ([`fetch_and_decrypt`]) and checks the image digest, every command
/// reporting with policy 15. With `in_run_sequence` the install commands run inside a
/// run-sequence on component 0: the same effect, but beyond the service's static analysis, so
/// it stores the payload as received and decrypts it at finish.
pub fn encrypted_manifest(
    seq: i64,
    target: &[&[u8]],
    plaintext: &[u8],
    info: &[u8],
    uri: &str,
    in_run_sequence: bool,
) -> Vec<u8> {
    let commands = [fetch_and_decrypt(uri, info, 15), vec![int(3), int(15)]].concat();
    let install = if in_run_sequence {
        Value::Array(vec![
            int(12),
            int(0),
            int(32),
            bytes(&cbor(&Value::Array(commands))),
        ])
    } else {
        Value::Array(commands)
    };
    let mut buffer: Vec<Value> = target.iter().map(|c| bytes(c)).collect();
    let component = Value::Array(buffer.clone());
    buffer.push(bytes(b"encrypted"));
    suit_manifest(
        seq,
        vec![component, Value::Array(buffer)],
        &image_shared(plaintext, 15),
        &install,
    )
}

/// Commands that set `uri`, fetch it (reporting with `fetch_policy`) and check the image
/// digest (reporting with `check_policy`).
pub fn fetch_and_check(uri: &str, fetch_policy: i64, check_policy: i64) -> Vec<Value> {
    vec![
        int(20),
        map(vec![(21, text(uri))]),
        int(21),
        int(fetch_policy),
        int(3),
        int(check_policy),
    ]
}

/// A COSE_Sign1 with ~250 000 one-byte items in its protected or unprotected header.
pub fn bomb_block(in_protected: bool) -> Vec<u8> {
    let row = Value::Array((0..250).map(|_| int(0)).collect());
    let grid = Value::Array((0..250).map(|_| row.clone()).collect());
    let mut heavy: Vec<(Value, Value)> = (0..4).map(|i| (int(-70000 - i), grid.clone())).collect();
    let mut protected = vec![(int(1), int(-9))];
    let mut unprotected = vec![(int(4), bytes(b"kid"))];
    if in_protected {
        protected.append(&mut heavy);
    } else {
        unprotected.append(&mut heavy);
    }
    cbor(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            bytes(&cbor(&Value::Map(protected))),
            Value::Map(unprotected),
            Value::Null,
            bytes(&[0u8; 64]),
        ])),
    ))
}

/// The shared sequence that sets and checks the vendor and class ids (on component 0,
/// reporting with policy 15).
pub fn identity_shared(vendor: &[u8], class: &[u8]) -> Value {
    Value::Array(check_vendor_class(
        vec![int(12), int(0)],
        bytes(vendor),
        bytes(class),
        vec![],
        15,
    ))
}

/// A manifest (sequence `seq`, shared sequence `shared`) of two components, `source` and
/// `target`, whose install sequence copies the installed `source` into `target` (an A/B
/// copy). With `digest_of`, the copy must match that content's digest, which the manifest then
/// names.
pub fn copy_manifest(
    seq: i64,
    source: &[&[u8]],
    target: &[&[u8]],
    digest_of: Option<&[u8]>,
    shared: &Value,
) -> Vec<u8> {
    let id = |c: &[&[u8]]| Value::Array(c.iter().map(|s| bytes(s)).collect());
    // Image digest (3) before source component (22): the encoder's order.
    let mut params: Vec<(Value, Value)> = digest_of
        .map(|c| (int(3), bytes(&suit_digest(c))))
        .into_iter()
        .collect();
    params.push((int(22), int(0)));
    let mut install = vec![
        int(12),
        int(1),
        int(20),
        Value::Map(params),
        int(22),
        int(15),
    ];
    if digest_of.is_some() {
        install.extend([int(3), int(15)]);
    }
    suit_manifest(
        seq,
        vec![id(source), id(target)],
        shared,
        &Value::Array(install),
    )
}

/// Install commands on component 0 that put content into it: a directive-write of `content`
/// (`"write"`), a directive-copy (`"copy"`) or directive-swap (`"swap"`) with component
/// `source` as the source, each reporting with policy 15.
pub fn content_into_component_zero(how: &str, content: &[u8], source: i64) -> Vec<Value> {
    let (param, directive) = match how {
        "write" => ((18, bytes(content)), 18),
        "copy" => ((22, int(source)), 22),
        "swap" => ((22, int(source)), 31),
        other => panic!("{other}: not write, copy or swap"),
    };
    vec![
        int(12),
        int(0),
        int(20),
        map(vec![param]),
        int(directive),
        int(15),
    ]
}

/// A manifest (sequence `seq`) of `components` whose common declares the first (index 0) a
/// dependency, checks the vendor and class ids `vendor` and `class`, and whose install
/// sequence then runs `install` (such as [`content_into_component_zero`]).
pub fn dependency_as_target(
    seq: i64,
    vendor: &[u8],
    class: &[u8],
    components: &[&[&[u8]]],
    install: Vec<Value>,
) -> Vec<u8> {
    let shared = identity_shared(vendor, class);
    let ids = components
        .iter()
        .map(|c| Value::Array(c.iter().map(|s| bytes(s)).collect()))
        .collect();
    let common = map(vec![
        (1, map(vec![(0, map(vec![]))])),
        (2, Value::Array(ids)),
        (4, bytes(&cbor(&shared))),
    ]);
    cbor(&map(vec![
        (1, int(1)),
        (2, int(seq)),
        (3, bytes(&cbor(&common))),
        (20, bytes(&cbor(&Value::Array(install)))),
    ]))
}

/// A manifest (sequence `seq`) writing `payload` into its one component `component` (no
/// manifest-component-id, so its rollback key is its component list). With `dependency`, it
/// instead processes that integrated dependency manifest (envelope member `#dep`), numbered
/// just past the list with the prefix `component` + `dep` (the firmware-encryption draft's
/// form): a dependency manifest of the same component list shares the root's rollback key.
pub fn release_of(
    seq: i64,
    vendor: &[u8],
    class: &[u8],
    component: &[&[u8]],
    payload: &[u8],
    dependency: Option<&[u8]>,
) -> Vec<u8> {
    let shared = identity_shared(vendor, class);
    let segments = || component.iter().map(|s| bytes(s));
    let mut common = vec![
        (2, Value::Array(vec![Value::Array(segments().collect())])),
        (4, bytes(&cbor(&shared))),
    ];
    let install = match dependency {
        Some(d) => {
            let prefix = Value::Array(segments().chain([bytes(b"dep")]).collect());
            common.insert(0, (1, map(vec![(1, map(vec![(1, prefix)]))])));
            fetch_check_process(1, &suit_digest(&cbor(&bytes(d))), "#dep").to_vec()
        }
        None => content_into_component_zero("write", payload, 0),
    };
    cbor(&map(vec![
        (1, int(1)),
        (2, int(seq)),
        (3, bytes(&cbor(&map(common)))),
        (20, bytes(&cbor(&Value::Array(install)))),
    ]))
}

/// `manifest` (a [`release_of`] with a dependency) fetching its dependency from `uri`, a
/// payload the REE delivers, instead of the integrated `#dep`.
pub fn fetching_dependency_from(manifest: &[u8], uri: &str) -> Vec<u8> {
    let Value::Map(mut members) = ciborium::from_reader(manifest).unwrap() else {
        panic!("a manifest is a map")
    };
    let (_, Value::Bytes(install)) = members.iter_mut().find(|(k, _)| *k == int(20)).unwrap()
    else {
        panic!("no install sequence")
    };
    let Value::Array(mut commands) = ciborium::from_reader(&install[..]).unwrap() else {
        panic!("a command sequence is an array")
    };
    let mut replaced = 0;
    for c in &mut commands {
        if let Value::Map(params) = c {
            for (_, v) in params.iter_mut().filter(|(k, _)| *k == int(21)) {
                *v = Value::Text(uri.into());
                replaced += 1;
            }
        }
    }
    assert_eq!(replaced, 1, "one dependency URI");
    *install = cbor(&Value::Array(commands));
    cbor(&Value::Map(members))
}

/// Checks that every map in the one CBOR item `bytes` (nested ones included, not inside byte
/// strings) has its keys in RFC 8949 §4.2.1 deterministic order: each key's encoding bytewise
/// greater than the previous one's. This is the definition itself, on the encoded bytes, so it
/// holds for keys of any type; `suit_cbor::SeenKeys` also admits §4.2.3 length-first order,
/// which this project's encoders do not write. `Err` names the map's offset and its keys.
pub fn deterministic_order(bytes: &[u8]) -> Result<(), String> {
    use suit_common::cbor::{Decoder, Item};
    fn walk(d: &mut Decoder<'_>, bytes: &[u8]) -> Result<(), String> {
        let at = d.position();
        match d.item().map_err(|e| format!("{e:?}"))? {
            Item::Array(n) => {
                for _ in 0..n {
                    walk(d, bytes)?;
                }
            }
            Item::Map(n) => {
                let mut keys: Vec<&[u8]> = Vec::new();
                for _ in 0..n {
                    let start = d.position();
                    walk(d, bytes)?;
                    keys.push(&bytes[start..d.position()]);
                    walk(d, bytes)?;
                }
                if keys.windows(2).any(|w| w[0] >= w[1]) {
                    let hex: Vec<String> = keys.iter().map(hex::encode).collect();
                    return Err(format!(
                        "map at byte {at}: keys {hex:?} not in deterministic order"
                    ));
                }
            }
            Item::Tag(_) => walk(d, bytes)?,
            _ => {}
        }
        Ok(())
    }
    let mut d = Decoder::new(bytes);
    walk(&mut d, bytes)?;
    d.finish().map_err(|e| format!("{e:?}"))
}
