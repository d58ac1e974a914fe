//! Signed manifests that ask the engine for unbounded work or heap (parsing/bounds review,
//! session 25): component-index lists with repeats and nested loops over them (time), one
//! dependency fetched again and again (heap), one large parameter on every component under
//! nested sequences (heap), per-run lists a loop would grow (heap), a held dependency's
//! signatures verified again on every check (time).

use ciborium::Value;
use suit_common::cose::Algorithm;
use suit_common::encryption::Recipient;
use suit_common::suit::author::{seal_envelope, Signer};
use suit_common::suit::command::MAX_CUSTOM_PARAMETERS;
use suit_common::suit::error::{CommandErrorKind, Error};
use suit_common::suit::interpreter::{MAX_HELD_DEPENDENCIES, MAX_STEPS, SIGNATURE_STEPS};
use suit_common::suit::platform::CHUNK_LEN;
use suit_common::suit::words::Words;
use suit_common::suit::{ComponentId, Digest, Outcome, Procedure};
use suit_test_support::*;

use crate::attack_oracles::peak_heap;

use crate::engine_gaps::author_key as key;

fn seq(commands: Vec<Value>) -> Value {
    bytes(&cbor(&Value::Array(commands)))
}

fn list(indices: impl IntoIterator<Item = i64>) -> Value {
    Value::Array(indices.into_iter().map(int).collect())
}

/// A manifest with one-segment components `components`, dependencies at `deps` and the
/// install sequence `install`; the shared sequence checks vendor and class on component 0.
pub(crate) fn manifest(
    components: &[&[u8]],
    deps: &[i64],
    install: Vec<Value>,
    id: &[u8],
) -> Vec<u8> {
    crate::engine_gaps::manifest_with(components, deps, vec![], install, id)
}

fn sixteen() -> Vec<Vec<u8>> {
    (0..16u8).map(|i| vec![b'c', i]).collect()
}

fn run(
    components: &[Vec<u8>],
    deps: &[i64],
    install: Vec<Value>,
    integrated: &[(&str, &[u8])],
    dev: &mut RecordingPlatform,
) -> (Result<Outcome, Error>, usize, usize) {
    let ids: Vec<&[u8]> = components.iter().map(Vec::as_slice).collect();
    let env = seal_one(
        &manifest(&ids, deps, install, b"root"),
        &key(),
        Algorithm::Esp256,
        &[],
        integrated,
    );
    let (r, peak) = peak_heap(|| spec_process(&env, Procedure::Update, dev));
    (r, peak, env.len())
}

fn kind(r: Result<Outcome, Error>) -> CommandErrorKind {
    match r {
        Err(Error::Command(c)) => c.kind,
        other => panic!("{other:?}"),
    }
}

/// `[12, [0..16], 32, bstr(body)]` wrapped four deep around `inner`: `inner` runs 16^4 times.
fn loops_over_sixteen(inner: Vec<Value>) -> Vec<Value> {
    loops_over_sixteen_deep(inner, 4)
}

/// [`loops_over_sixteen`] `levels` deep: `inner` runs 16^levels times.
fn loops_over_sixteen_deep(inner: Vec<Value>, levels: usize) -> Vec<Value> {
    let mut body = inner;
    for _ in 0..levels {
        body = vec![int(12), list(0..16), int(32), seq(body)];
    }
    body
}

#[test]
fn a_component_index_list_naming_a_component_twice_is_refused() {
    let two = [b"a".to_vec(), b"b".to_vec()];
    let mut dev = RecordingPlatform::spec_device();
    let (r, ..) = run(&two, &[], vec![int(12), list([1, 0, 1])], &[], &mut dev);
    match r {
        Err(Error::Invalid { at, reason }) => {
            assert_eq!((at, reason), (Words::IndexArg, Words::IndexRepeated))
        }
        other => panic!("{other:?}"),
    }
    assert!(dev
        .log
        .iter()
        .all(|e| !matches!(e, Effect::Condition { .. } | Effect::Directive { .. })));
    // Each component once is fine; an index past the list is refused when it runs.
    let mut dev = RecordingPlatform::spec_device();
    run(&two, &[], vec![int(12), list([1, 0])], &[], &mut dev)
        .0
        .unwrap();
    let mut dev = RecordingPlatform::spec_device();
    let (r, ..) = run(&two, &[], vec![int(12), list([0, 2])], &[], &mut dev);
    assert_eq!(kind(r), CommandErrorKind::ComponentIndexOutOfRange(2));
}

#[test]
fn nested_loops_over_every_component_stop_at_the_step_budget() {
    // One command innermost, three levels: 16^3 runs of it, each iteration copying the
    // sixteen components' parameters (its snapshot), within the budget.
    let mut dev = RecordingPlatform::spec_device();
    let inner = vec![int(20), map(vec![])];
    let (r, ..) = run(
        &sixteen(),
        &[],
        loops_over_sixteen_deep(inner, 3),
        &[],
        &mut dev,
    );
    let steps = r.unwrap().steps;
    assert!((4096 * 16..MAX_STEPS).contains(&steps), "{steps}");
    // Four levels: 65,536 iterations of sixteen copies each, more than the budget allows.
    let mut dev = RecordingPlatform::spec_device();
    let inner = vec![int(20), map(vec![])];
    let (r, ..) = run(&sixteen(), &[], loops_over_sixteen(inner), &[], &mut dev);
    assert_eq!(kind(r), CommandErrorKind::Limit(Words::ExecutedSteps));
    assert!(!dev.committed() && dev.discarded());
}

#[test]
fn digest_checks_and_fetches_cost_their_bytes() {
    // Image-match over an installed component, then a fetch into another: a step per 64 KiB.
    let steps = |len: usize| {
        let stored = vec![0x5a; len];
        let fetched = vec![0xa5; len];
        let mut dev = RecordingPlatform::spec_device();
        dev.read_chunk = Some(usize::MAX);
        dev.installed
            .insert(ComponentId::new(&[b"a"]), stored.clone());
        dev.remote.insert("http://x/b".into(), fetched);
        let install = vec![
            int(12),
            int(0),
            int(20),
            map(vec![(3, bytes(&suit_digest(&stored)))]),
            int(3),
            int(15),
            int(12),
            int(1),
            int(20),
            map(vec![(21, text("http://x/b"))]),
            int(21),
            int(15),
        ];
        let (r, ..) = run(&[b"a".to_vec(), b"b".to_vec()], &[], install, &[], &mut dev);
        r.unwrap().steps
    };
    let chunks = 40;
    let (small, large) = (steps(1), steps(chunks * CHUNK_LEN));
    assert!(large - small >= 2 * chunks as u64, "{small} {large}");
}

/// A dependency envelope (one component `x`, writes it) and its SUIT_Digest.
pub(crate) fn dependency(content: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let install = vec![
        int(12),
        int(0),
        int(20),
        map(vec![(18, bytes(content))]),
        int(18),
        int(15),
    ];
    let m = manifest(&[b"x"], &[], install, b"dependency.suit");
    let env = seal_one(&m, &key(), Algorithm::Esp256, &[], &[]);
    let mut bstr = Vec::new();
    ciborium::into_writer(&Value::Bytes(m), &mut bstr).unwrap();
    (env, Digest::sha256(&bstr).encode())
}

#[test]
fn a_dependency_fetched_again_replaces_the_envelope_it_had() {
    let dep = vec![0xa0; 100_000];
    let mut install = vec![int(12), int(1), int(20), map(vec![(21, text("#dep"))])];
    for _ in 0..20 {
        install.extend([int(21), int(0)]);
    }
    let mut dev = RecordingPlatform::spec_device();
    let comps = [b"x".to_vec(), b"d".to_vec()];
    let (r, peak, env) = run(&comps, &[1], install, &[("#dep", &dep)], &mut dev);
    // Fetched 20 times, never processed (it is no envelope): the section's end says so.
    assert_eq!(kind(r), CommandErrorKind::DependencyNotProcessed);
    assert!(peak < 3 * env, "peak heap {peak} B for a {env} B envelope");
}

#[test]
fn dependency_envelopes_held_at_once_are_capped() {
    // More dependencies than may be held, each fetched once.
    let n = MAX_HELD_DEPENDENCIES + 1;
    let mut comps = vec![b"x".to_vec()];
    comps.extend((1..=n).map(|i| vec![b'd', i as u8]));
    let deps: Vec<i64> = (1..=n as i64).collect();
    let mut install = vec![
        int(12),
        list(deps.clone()),
        int(20),
        map(vec![(21, text("#dep"))]),
    ];
    install.extend([int(21), int(0)]);
    let mut dev = RecordingPlatform::spec_device();
    let (r, ..) = run(&comps, &deps, install, &[("#dep", b"\xa0")], &mut dev);
    assert_eq!(
        kind(r),
        CommandErrorKind::Limit(Words::DependencyEnvelopesHeld)
    );
    // Three of 400 KB from the network: two fit the run's dependency bytes, the third does
    // not.
    let mut dev = RecordingPlatform::spec_device();
    dev.read_chunk = Some(usize::MAX);
    dev.remote.insert("http://x/d".into(), vec![0xa0; 400_000]);
    let comps = [
        b"x".to_vec(),
        b"d1".to_vec(),
        b"d2".to_vec(),
        b"d3".to_vec(),
    ];
    let install = vec![
        int(12),
        list([1, 2, 3]),
        int(20),
        map(vec![(21, text("http://x/d"))]),
        int(21),
        int(0),
    ];
    let (r, ..) = run(&comps, &[1, 2, 3], install, &[], &mut dev);
    match r {
        Err(Error::Command(c)) => {
            assert_eq!(c.kind, CommandErrorKind::Limit(Words::DependencyBytes));
            assert_eq!(c.location.component, Some(3));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_refetch_in_a_failed_option_gives_back_the_envelope_checked_before() {
    // Fetch and check the dependency; a try-each option fetches other bytes for it and fails;
    // process-dependency then runs the envelope that was checked. An option that succeeds
    // keeps what it fetched.
    let (d1, h1) = dependency(b"one");
    let refetch = |then: Value| {
        seq(vec![
            int(20),
            map(vec![(21, text("#junk"))]),
            int(21),
            int(0),
            then,
            int(0),
        ])
    };
    let install = |option_fails: bool| {
        vec![
            int(12),
            int(1),
            int(20),
            map(vec![(3, bytes(&h1)), (21, text("#d1"))]),
            int(21),
            int(15),
            int(7),
            int(15),
            int(15),
            Value::Array(vec![
                refetch(int(if option_fails { 14 } else { 8 })),
                Value::Null,
            ]),
            int(11),
            int(15),
        ]
    };
    let comps = [b"x".to_vec(), b"d".to_vec()];
    let integrated: &[(&str, &[u8])] = &[("#d1", &d1), ("#junk", b"\xa0")];
    let mut dev = RecordingPlatform::spec_device();
    let (r, ..) = run(&comps, &[1], install(true), integrated, &mut dev);
    let committed = r.unwrap().committed;
    assert!(
        committed.contains(&ComponentId::new(&[b"x"])),
        "{committed:?}"
    );
    // Kept: the junk is what process-dependency finds, unverified (re-fetched since).
    let mut dev = RecordingPlatform::spec_device();
    let (r, ..) = run(&comps, &[1], install(false), integrated, &mut dev);
    match r {
        Err(Error::Command(c)) => assert_eq!(c.kind, CommandErrorKind::DependencyNotVerified),
        other => panic!("{other:?}"),
    }
}

/// The review's shape: one content parameter of `len` bytes on all 16 components, then four
/// nested run-sequences (or try-each options) that each keep the parameters to restore, and a
/// condition reading them innermost.
fn large_parameter_on_every_component(len: usize, try_each: bool) -> (usize, usize) {
    let content = vec![0x55; len];
    let mut body = vec![int(20), map(vec![]), int(1), int(15)];
    for _ in 0..4 {
        body = if try_each {
            vec![int(15), Value::Array(vec![seq(body), Value::Null])]
        } else {
            vec![int(32), seq(body)]
        };
    }
    let mut install = vec![
        int(12),
        Value::Bool(true),
        int(20),
        map(vec![
            (1, bytes(&suit_test_support::VENDOR_ID)),
            (18, bytes(&content)),
        ]),
    ];
    install.extend(body);
    let mut dev = RecordingPlatform::spec_device();
    let (r, peak, env) = run(&sixteen(), &[], install, &[], &mut dev);
    r.unwrap();
    (peak, env)
}

#[test]
fn a_large_parameter_is_shared_not_copied_per_component_and_level() {
    for try_each in [false, true] {
        let (peak, env) = large_parameter_on_every_component(40_000, try_each);
        assert!(
            peak < 2 * env,
            "try-each {try_each}: peak heap {peak} B for a {env} B envelope"
        );
    }
}

/// A SUIT_Parameters map of custom labels `labels`, each set to `true`.
fn custom(labels: impl IntoIterator<Item = i64>) -> Value {
    map(labels.into_iter().map(|l| (l, Value::Bool(true))).collect())
}

#[test]
fn custom_parameters_per_component_are_capped() {
    let max = MAX_CUSTOM_PARAMETERS as i64;
    let on_all = |maps: Vec<Value>| {
        let mut install = vec![int(12), Value::Bool(true)];
        for m in maps {
            install.extend([int(20), m]);
        }
        let mut dev = RecordingPlatform::spec_device();
        run(&sixteen(), &[], install, &[], &mut dev).0
    };
    // The bound on every component, from two maps that set two labels again: fine.
    on_all(vec![custom((1..=max).map(|l| -l)), custom([-1, -max])]).unwrap();
    // One distinct label more, from a second map: refused on the first component.
    match on_all(vec![custom((1..=max).map(|l| -l)), custom([-max - 1])]) {
        Err(Error::Command(c)) => {
            assert_eq!(c.kind, CommandErrorKind::Limit(Words::CustomParameters));
            assert_eq!(c.location.component, Some(0));
        }
        other => panic!("{other:?}"),
    }
    // One map carrying more: refused when the manifest is decoded.
    match on_all(vec![custom((1..=max + 1).map(|l| -l))]) {
        Err(Error::Limit(w)) => assert_eq!(w, Words::CustomParameters),
        other => panic!("{other:?}"),
    }
    // copy-params adding one label to a component that holds the bound.
    let install = vec![
        int(12),
        int(0),
        int(20),
        custom((1..=max).map(|l| -l)),
        int(12),
        int(1),
        int(20),
        custom([-max - 1]),
        int(12),
        int(0),
        int(35),
        map(vec![(1, list([-max - 1]))]),
    ];
    let mut dev = RecordingPlatform::spec_device();
    let (r, ..) = run(&sixteen(), &[], install, &[], &mut dev);
    assert_eq!(kind(r), CommandErrorKind::Limit(Words::CustomParameters));
}

#[test]
fn process_dependency_in_nested_loops_keeps_the_processed_list_per_dependency() {
    // The dependency: one component, a validate section only, so each process-dependency in
    // the root's install section succeeds at once. Innermost: index 15 (the dependency) and
    // 60 process-dependency, 16^4 times: the run's step budget ends it (the dependency is
    // decoded once, each use charged for decoding its envelope). Each used to add an entry to the
    // processed list, copied by every snapshot of the four levels (about 5 MiB; the TA's
    // heap is 3 MiB).
    let m = cbor(&map(vec![
        (1, int(1)),
        (2, int(1)),
        (
            3,
            bytes(&cbor(&map(vec![(
                2,
                Value::Array(vec![Value::Array(vec![bytes(b"x")])]),
            )]))),
        ),
        (5, Value::Array(vec![bytes(b"dep")])),
        (7, seq(vec![int(12), int(0)])),
    ]));
    let dep = seal_one(&m, &key(), Algorithm::Esp256, &[], &[]);
    let mut bstr = Vec::new();
    ciborium::into_writer(&Value::Bytes(m), &mut bstr).unwrap();
    let digest = Digest::sha256(&bstr).encode();
    let mut inner = vec![int(12), int(15)];
    for _ in 0..60 {
        inner.extend([int(11), int(0)]);
    }
    let mut install = vec![
        int(12),
        int(15),
        int(20),
        map(vec![(3, bytes(&digest)), (21, text("#d"))]),
        int(21),
        int(0),
        int(7),
        int(0),
    ];
    install.extend(loops_over_sixteen(inner));
    let mut dev = RecordingPlatform::spec_device();
    dev.log_limit = Some(0);
    let (r, peak, env) = run(&sixteen(), &[15], install, &[("#d", &dep)], &mut dev);
    assert_eq!(kind(r), CommandErrorKind::Limit(Words::ExecutedSteps));
    assert!(
        peak < 256 * 1024,
        "peak heap {peak} B for a {env} B envelope"
    );
}

#[test]
fn swaps_and_invocations_in_nested_loops_keep_per_component_lists() {
    // 16^3 runs of a swap and an invocation (16^4 iterations, each copying sixteen parameter
    // sets, exceed the budget): the components each sequence accessed (checked for
    // strict-order false) and the components invoked grew by entries per command run.
    // Every component swaps with component 0, component 0 with component 1.
    let mut install = vec![
        int(12),
        Value::Bool(true),
        int(20),
        map(vec![(22, int(0))]),
        int(12),
        int(0),
        int(20),
        map(vec![(22, int(1))]),
    ];
    let body = vec![int(31), int(15), int(23), int(15)];
    install.extend(loops_over_sixteen_deep(body, 3));
    let mut dev = RecordingPlatform::spec_device();
    dev.log_limit = Some(0);
    let (r, peak, env) = run(&sixteen(), &[], install, &[], &mut dev);
    let out = r.unwrap();
    assert!(out.steps > 2 * 4096, "{}", out.steps);
    let all: Vec<ComponentId> = sixteen().iter().map(|c| ComponentId::new(&[c])).collect();
    assert_eq!(out.invoked, all);
    assert!(
        peak < 256 * 1024,
        "peak heap {peak} B for a {env} B envelope"
    );
}

/// A dependency envelope (as [`dependency`]) signed `signatures` times by the spec key: each
/// signature is a Sign1 block the device verifies.
fn dependency_signed(signatures: usize) -> (Vec<u8>, Vec<u8>) {
    let (one, digest) = dependency(b"one");
    if signatures == 1 {
        return (one, digest);
    }
    let install = vec![
        int(12),
        int(0),
        int(20),
        map(vec![(18, bytes(b"one"))]),
        int(18),
        int(15),
    ];
    let m = manifest(&[b"x"], &[], install, b"dependency.suit");
    let k = key();
    let signers: Vec<Signer<'_>> = (0..signatures)
        .map(|_| Signer {
            key: &k,
            alg: Algorithm::Esp256,
            kid: b"",
        })
        .collect();
    (seal_envelope(&m, &signers, &[], &[]).unwrap(), digest)
}

#[test]
fn a_held_dependency_has_its_signatures_verified_once_per_fetch() {
    // Steps of a run that fetches the dependency (with `signatures` signatures) `fetches`
    // times, each followed by `checks` dependency-integrity checks, then processes it.
    let steps = |signatures: usize, fetches: usize, checks: usize| {
        let (env, digest) = dependency_signed(signatures);
        let mut install = vec![
            int(12),
            int(1),
            int(20),
            map(vec![(3, bytes(&digest)), (21, text("#d"))]),
        ];
        for _ in 0..fetches {
            install.extend([int(21), int(15)]);
            for _ in 0..checks {
                install.extend([int(7), int(15)]);
            }
        }
        install.extend([int(11), int(15)]);
        let mut dev = RecordingPlatform::spec_device();
        let comps = [b"x".to_vec(), b"d".to_vec()];
        let (r, ..) = run(&comps, &[1], install, &[("#d", &env)], &mut dev);
        r.unwrap().steps
    };
    // Each signature verified costs its steps, the first time.
    let (one, eight) = (steps(1, 1, 1), steps(8, 1, 1));
    assert!(eight - one >= 7 * SIGNATURE_STEPS, "{one} {eight}");
    // Later checks of the same bytes only decode them: 40 more checks cost a command and an
    // envelope's decoding each, not 8 verifications.
    let many = steps(8, 1, 41);
    assert!(many - eight <= 40 * 2, "{eight} {many}");
    // A re-fetch replaces the bytes: they are verified again.
    let again = steps(8, 2, 1);
    assert!(again - eight >= 8 * SIGNATURE_STEPS, "{eight} {again}");
}

/// Try-each and run-sequence snapshot what the run has set and staged, and a failed option
/// or iteration restores and compares it: each costs steps by that size, not one. (At one
/// step, 16^3 runs of seven try-each of eight options over sixteen staged components,
/// 229,376 snapshots, fit the budget: seconds of copying on the host, minutes under QEMU;
/// run-sequence loops alike, review s30.)
#[test]
fn snapshots_cost_what_they_copy() {
    let steps = |then: Vec<Value>| {
        let mut install = vec![
            int(12),
            list(0..16),
            int(20),
            map(vec![(18, bytes(b"content"))]),
            int(18),
            int(15),
            int(12),
            int(0),
        ];
        install.extend(then);
        let mut dev = RecordingPlatform::spec_device();
        run(&sixteen(), &[], install, &[], &mut dev)
            .0
            .unwrap()
            .steps
    };
    let before = steps(vec![]);
    // Sixteen parameter sets and sixteen staged components copied per option, besides the
    // option's own commands.
    let failing = seq(vec![int(8), int(15)]); // is-dependency on a component: soft
    let mut options = vec![failing; 7];
    options.push(seq(vec![]));
    let cost = steps(vec![int(15), Value::Array(options)]) - before;
    assert!(cost >= 8 * (16 + 16), "try-each: {cost}");
    // Eight run-sequence iterations, each of an empty sequence.
    let eight: Vec<Value> = (0..8).flat_map(|_| [int(32), seq(vec![])]).collect();
    let cost = steps(eight) - before;
    assert!(cost >= 8 * (16 + 16), "run-sequence: {cost}");
}

/// Each key agreement (P-256 ECDH for ECDH-ES, an open for COSE-HPKE) a decrypting
/// directive's recipients cost is charged as a signature verification is
/// ([`SIGNATURE_STEPS`]): one author's recipient list of other devices' keys (no kid, so each
/// is tried with this device's key) in a copy over every component, looped, would otherwise
/// keep the TA busy for hours within the budget (review s32: 1,620,000 ECDH in one run three
/// loop levels deep).
#[test]
fn key_agreements_for_recipients_cost_their_steps() {
    use suit_common::encryption::algorithms::{HpkeSuite, KeyWrap};
    let device = p256::SecretKey::from_slice(&[0x31; 32]).unwrap();
    // Three recipients for other devices, then this device's: four key agreements per copy.
    let others: Vec<p256::PublicKey> = (1..=3u8)
        .map(|i| p256::SecretKey::from_slice(&[i; 32]).unwrap().public_key())
        .collect();
    let own = device.public_key();
    let publics: Vec<&p256::PublicKey> = others.iter().chain([&own]).collect();
    let ecdh_es = |public_key| Recipient::EcdhEs {
        kid: None,
        public_key,
        wrap: KeyWrap::A128Kw,
    };
    let hpke = |public_key| Recipient::Hpke {
        kid: None,
        public_key,
        suite: HpkeSuite::Hpke0,
        psk: None,
    };
    for (name, recipient) in [("ECDH-ES", &ecdh_es as &dyn Fn(_) -> _), ("HPKE", &hpke)] {
        let to: Vec<Recipient> = publics.iter().map(|p| recipient(p)).collect();
        assert_agreements_charged(name, &device, &to);
    }
}

fn assert_agreements_charged(name: &str, device: &p256::SecretKey, to: &[Recipient]) {
    use suit_common::encryption::algorithms::ContentAlgorithm;
    use suit_common::encryption::{encrypt_payload, CoseOptions, MemoryKeys, Metered};
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let mut keys = MemoryKeys::new();
    match to[0] {
        Recipient::Hpke { .. } => keys.add_hpke_p256(Some(b"dev"), &device.to_bytes()),
        _ => keys.add_ecdh_p256(Some(b"dev"), &device.to_bytes()),
    }
    .unwrap();
    let encrypted = encrypt_payload(
        b"x",
        ContentAlgorithm::A128Gcm,
        to,
        &CoseOptions::SUIT,
        &mut rng,
    )
    .unwrap();
    // Component 15 holds the ciphertext (written by the manifest); copied into 0..15.
    let copies = |info: Option<&[u8]>| {
        let mut params = vec![(22, int(15))];
        if let Some(info) = info {
            params.insert(0, (19, bytes(info)));
        }
        let mut install = vec![
            int(12),
            int(15),
            int(20),
            map(vec![(18, bytes(&encrypted.ciphertext))]),
            int(18),
            int(15),
        ];
        install.extend([int(12), list(0..15), int(20), map(params), int(22), int(15)]);
        install
    };
    let ids: Vec<Vec<u8>> = sixteen();
    let ids: Vec<&[u8]> = ids.iter().map(Vec::as_slice).collect();
    let run_with = |install: Vec<Value>| {
        let env = seal_one(
            &manifest(&ids, &[], install, b"root"),
            &key(),
            Algorithm::Esp256,
            &[],
            &[],
        );
        let metered = Metered::new(&keys);
        let mut dev = RecordingPlatform::spec_device();
        let outcome =
            suit_common::suit::process(&env, Procedure::Update, &spec_policy(), &metered, &mut dev)
                .unwrap();
        (outcome.steps, metered.operations())
    };
    let (plain_steps, none) = run_with(copies(None));
    assert_eq!(none, 0, "{name}");
    let (steps, agreements) = run_with(copies(Some(&encrypted.encryption_info)));
    assert_eq!(agreements, 15 * 4, "{name}");
    assert_eq!(steps, plain_steps + SIGNATURE_STEPS * agreements, "{name}");
}

/// A manifest at the deepest level ([`MAX_DEPENDENCY_DEPTH`]) may never process a dependency
/// of its own, so it may not fetch one or check its integrity either: that would verify a
/// signature under one more level of interpreter frames than the TA's stack was measured for
/// (review s33). One level up, the same commands pass. The deepest manifest is tried with a
/// fetch alone too: each gate answers on its own (mutation review s34: the fetch gate could
/// be loosened unnoticed, the integrity check's gate answering in its place).
#[test]
fn the_deepest_manifest_may_not_fetch_or_check_a_dependency_of_its_own() {
    use suit_common::suit::interpreter::MAX_DEPENDENCY_DEPTH;
    let seal = |m: &[u8], integrated: &[(&str, &[u8])]| {
        seal_one(m, &key(), Algorithm::Esp256, &[], integrated)
    };
    let digest = |m: &[u8]| {
        let mut bstr = Vec::new();
        ciborium::into_writer(&Value::Bytes(m.to_vec()), &mut bstr).unwrap();
        Digest::sha256(&bstr).encode()
    };
    // The dependency's fetch, its integrity check if `check`, then `then`.
    let fetch_and_check = |m: &[u8], uri: &str, check: bool, then: &[Value]| {
        let mut c = vec![
            int(12),
            int(1),
            int(20),
            map(vec![(3, bytes(&digest(m))), (21, text(uri))]),
            int(21),
            int(15),
        ];
        if check {
            c.extend([int(7), int(15)]);
        }
        c.extend_from_slice(then);
        c
    };
    // A chain of `levels` manifests below the root; the last one only fetches (and checks if
    // `check`) a dependency of its own (no install section, so it need not be processed).
    let chain = |levels: u8, check: bool| {
        let Value::Map(mut members) =
            ciborium::from_reader(&manifest(&[b"leaf"], &[], vec![], b"leaf")[..]).unwrap()
        else {
            panic!("a manifest is a map")
        };
        members.retain(|(k, _)| *k != int(20));
        let leaf = cbor(&Value::Map(members));
        let (mut m, mut env, mut uri) = (leaf.clone(), seal(&leaf, &[]), "#leaf".to_string());
        let mut deepest = true;
        for level in (1..=levels).rev() {
            let install = if deepest {
                fetch_and_check(&m, &uri, check, &[])
            } else {
                fetch_and_check(&m, &uri, true, &[int(11), int(15)])
            };
            deepest = false;
            let name = format!("d{level}");
            m = manifest(&[name.as_bytes(), b"slot"], &[1], install, name.as_bytes());
            env = seal(&m, &[(&uri, &env)]);
            uri = format!("#{name}");
        }
        let install = fetch_and_check(&m, &uri, true, &[int(11), int(15)]);
        let mut dev = RecordingPlatform::spec_device();
        let comps = [b"root".to_vec(), b"slot".to_vec()];
        run(&comps, &[1], install, &[(&uri, &env)], &mut dev).0
    };
    let innermost = |r: Result<Outcome, Error>| {
        let mut k = kind(r);
        while let CommandErrorKind::Dependency(e) = k {
            k = match *e {
                Error::Command(c) => c.kind,
                other => panic!("{other:?}"),
            };
        }
        k
    };
    for check in [true, false] {
        chain(MAX_DEPENDENCY_DEPTH - 1, check).unwrap();
        assert_eq!(
            innermost(chain(MAX_DEPENDENCY_DEPTH, check)),
            CommandErrorKind::DependencyTooDeep,
            "check {check}"
        );
    }
}
