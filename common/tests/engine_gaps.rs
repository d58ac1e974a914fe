//! Engine gaps of issue 10 item 7: suit-parameter-strict-order = false (manifest-37 §6.7)
//! and the trust-domains rules for suit-directive-process-dependency; an unknown custom
//! command fails as a condition (review s10 M1).

use ciborium::Value;

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::suit::error::{CommandErrorKind, Error};
use suit_common::suit::{process, Procedure};

use suit_test_support::*;

fn seq(commands: Vec<Value>) -> Value {
    bytes(&cbor(&Value::Array(commands)))
}

pub(crate) fn author_key() -> SigningKey {
    p256_private_from_pem("suit-manifest-spec/private_key.pem")
}

const A: &[u8] = b"image-a";
const B: &[u8] = b"image-b";

/// Components `a` and `b`; shared sequence checks vendor and class on `a`; `install` as given.
fn manifest(install: Vec<Value>) -> Vec<u8> {
    let shared = Value::Array(spec_id_checks());
    let components = vec![
        Value::Array(vec![bytes(b"a")]),
        Value::Array(vec![bytes(b"b")]),
    ];
    suit_manifest(1, components, &shared, &Value::Array(install))
}

fn run(install: Vec<Value>) -> Result<Vec<suit_common::suit::ComponentId>, Error> {
    run_on(install).0
}

/// [`run`], and the device afterwards.
fn run_on(
    install: Vec<Value>,
) -> (
    Result<Vec<suit_common::suit::ComponentId>, Error>,
    RecordingPlatform,
) {
    let env = seal_one(
        &manifest(install),
        &author_key(),
        Algorithm::Esp256,
        &[],
        &[("#a", A), ("#b", B)],
    );
    let mut dev = RecordingPlatform::spec_device();
    let r = spec_process(&env, Procedure::Update, &mut dev).map(|o| o.committed);
    (r, dev)
}

fn kind(e: Error) -> CommandErrorKind {
    match e {
        Error::Command(c) => c.kind,
        other => panic!("{other:?}"),
    }
}

/// Fetch `a` and `b`, then give each the other as copy source.
fn fetch_both_then_cross_sources() -> Vec<Value> {
    vec![
        int(12),
        int(0),
        int(20),
        map(vec![(21, text("#a"))]),
        int(21),
        int(15),
        int(12),
        int(1),
        int(20),
        map(vec![(21, text("#b"))]),
        int(21),
        int(15),
        int(12),
        int(0),
        int(20),
        map(vec![(22, int(1))]),
        int(12),
        int(1),
        int(20),
        map(vec![(22, int(0))]),
    ]
}

fn strict(value: bool) -> Vec<Value> {
    vec![int(20), map(vec![(12, Value::Bool(value))])]
}

/// An unknown custom command (label below -256, argument nil).
fn unknown_custom() -> Vec<Value> {
    vec![int(-300), Value::Null]
}

fn fetch_from(uri: &str) -> Vec<Value> {
    vec![int(20), map(vec![(21, text(uri))]), int(21), int(15)]
}

fn installed_a(dev: &RecordingPlatform) -> Option<&[u8]> {
    let a = suit_common::suit::ComponentId::new(&[b"a"]);
    dev.installed.get(&a).map(Vec::as_slice)
}

/// The manifest draft: "If a Recipient encounters an unknown condition, it MUST report a
/// failure"; custom labels name conditions and directives alike and nothing else is said of
/// unknown ones, so an unknown custom command is a failed condition. In try-each the next
/// option runs (it used to abort the whole update).
#[test]
fn an_unknown_custom_command_in_try_each_moves_to_the_next_option() {
    let mut first = unknown_custom();
    first.extend(fetch_from("#a"));
    let mut cmds = vec![int(12), int(0)];
    cmds.extend([
        int(15),
        Value::Array(vec![seq(first), seq(fetch_from("#b"))]),
    ]);
    let (r, dev) = run_on(cmds);
    assert_eq!(r.unwrap().len(), 1);
    // The first option stopped at the custom command, before its fetch of #a.
    assert_eq!(installed_a(&dev), Some(B));
}

/// Outside try-each it fails like a failed condition: a run-sequence with soft-failure
/// halts without side effects and the update goes on; without soft-failure the update fails,
/// naming the command.
#[test]
fn an_unknown_custom_command_elsewhere_fails_as_a_condition() {
    let mut soft = vec![int(20), map(vec![(13, Value::Bool(true))])];
    soft.extend(unknown_custom());
    soft.extend(fetch_from("#b"));
    let mut cmds = vec![int(12), int(0), int(32), seq(soft)];
    cmds.extend(fetch_from("#a"));
    let (r, dev) = run_on(cmds);
    assert_eq!(r.unwrap().len(), 1);
    assert_eq!(installed_a(&dev), Some(A));

    let mut cmds = vec![int(12), int(0)];
    cmds.extend(unknown_custom());
    cmds.extend(fetch_from("#a"));
    let (r, dev) = run_on(cmds);
    assert_eq!(
        kind(r.unwrap_err()),
        CommandErrorKind::UnsupportedCommand(-300)
    );
    assert_eq!(installed_a(&dev), None);
}

#[test]
fn unordered_copy_reading_a_component_another_command_writes_is_aborted() {
    // index [a, b], copy: a <- b, then b <- a. In order it is well defined; with
    // strict-order false a parallel processor would race on both, so the draft says abort.
    let tail = |strict_order: bool| {
        let mut cmds = fetch_both_then_cross_sources();
        cmds.extend([int(12), Value::Array(vec![int(0), int(1)])]);
        cmds.extend(strict(strict_order));
        cmds.extend([int(22), int(15)]);
        cmds
    };
    assert_eq!(run(tail(true)).unwrap().len(), 2);
    assert_eq!(
        kind(run(tail(false)).unwrap_err()),
        CommandErrorKind::UnorderedSourceAndTarget { component: 1 }
    );
    // The same through run-sequence iterations (each runs strict, but two iterations may
    // run in parallel with each other).
    let mut cmds = fetch_both_then_cross_sources();
    cmds.extend([int(12), Value::Bool(true)]);
    cmds.extend(strict(false));
    cmds.extend([int(32), seq(vec![int(22), int(15)])]);
    assert_eq!(
        kind(run(cmds).unwrap_err()),
        CommandErrorKind::UnorderedSourceAndTarget { component: 1 }
    );
}

#[test]
fn a_barrier_between_writer_and_reader_makes_unordered_copies_legal() {
    // strict-order false, copy a <- b, set-component-index (barrier), copy b <- a.
    let mut cmds = fetch_both_then_cross_sources();
    cmds.extend(strict(false));
    cmds.extend([int(12), int(0), int(22), int(15)]);
    cmds.extend([int(12), int(1), int(22), int(15)]);
    assert_eq!(run(cmds).unwrap().len(), 2);
    // Independent fetches under strict-order false install as in order.
    let mut cmds = vec![int(12), Value::Bool(true)];
    cmds.extend(strict(false));
    cmds.extend([
        int(32),
        seq(vec![int(20), map(vec![(21, text("#a"))]), int(21), int(15)]),
    ]);
    // Both components fetch "#a" in their own iteration: targets differ, no source.
    assert_eq!(run(cmds).unwrap().len(), 2);
}

#[test]
fn unordered_run_sequence_may_set_the_index_only_as_its_first_command() {
    let fetch_a = || vec![int(20), map(vec![(21, text("#a"))]), int(21), int(15)];
    // Integer index: must begin with set-component-index...
    let mut ok = vec![int(12), int(0)];
    ok.extend(strict(false));
    let mut body = vec![int(12), int(0)];
    body.extend(fetch_a());
    ok.extend([int(32), seq(body.clone())]);
    assert_eq!(run(ok).unwrap().len(), 1);

    let mut no_lead = vec![int(12), int(0)];
    no_lead.extend(strict(false));
    no_lead.extend([int(32), seq(fetch_a())]);
    assert_eq!(
        kind(run(no_lead.clone()).unwrap_err()),
        CommandErrorKind::UnorderedRunSequenceIndex
    );
    // ...the same sequence is fine in strict order.
    let strict_run: Vec<Value> = [vec![int(12), int(0)], vec![int(32), seq(fetch_a())]].concat();
    assert_eq!(run(strict_run).unwrap().len(), 1);

    // ...and set it nowhere else.
    let mut later = vec![int(12), int(0)];
    later.extend(strict(false));
    let mut body2 = body.clone();
    body2.extend([int(12), int(1)]);
    body2.extend(fetch_a());
    later.extend([int(32), seq(body2)]);
    assert_eq!(
        kind(run(later).unwrap_err()),
        CommandErrorKind::UnorderedRunSequenceIndex
    );
    // Index true / a list: no set-component-index at all.
    let mut list = vec![int(12), Value::Array(vec![int(0), int(1)])];
    list.extend(strict(false));
    list.extend([int(32), seq(body)]);
    assert_eq!(
        kind(run(list).unwrap_err()),
        CommandErrorKind::UnorderedRunSequenceIndex
    );
}

// ---- suit-directive-process-dependency (trust domains) ----

const DEVICE: [u8; 16] = *b"device-identity!";

pub(crate) use suit_test_support::manifest_with;

fn sealed(manifest: &[u8], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    seal_one(manifest, &author_key(), Algorithm::Esp256, &[], integrated)
}

/// The dependency: component `x`, install checks the device identifier (a parameter the
/// dependent may set) and writes `x`. `fail_hard` makes its install abort (a write without
/// content) instead.
fn dependency(fail_hard: bool) -> (Vec<u8>, Vec<u8>) {
    let install = if fail_hard {
        vec![int(12), int(0), int(18), int(15)]
    } else {
        vec![
            int(12),
            int(0),
            int(24),
            int(15),
            int(20),
            map(vec![(18, bytes(b"from the dependency"))]),
            int(18),
            int(15),
        ]
    };
    let m = manifest_with(&[b"x"], &[], vec![], install, b"dependency.suit");
    let env = sealed(&m, &[]);
    let mut bstr = Vec::new();
    ciborium::into_writer(&Value::Bytes(m), &mut bstr).unwrap();
    (env, suit_common::suit::Digest::sha256(&bstr).encode())
}

/// Dependent prologue in install: select the dependency (index 1), fetch it, check it.
fn fetch_dependency(digest: &[u8]) -> Vec<Value> {
    vec![
        int(12),
        int(1),
        int(20),
        map(vec![(3, bytes(digest)), (21, text("#dep"))]),
        int(21),
        int(15),
        int(7),
        int(15),
    ]
}

fn device_id(id: &[u8; 16]) -> Vec<Value> {
    vec![
        int(12),
        int(0),
        int(20),
        map(vec![(24, bytes(id))]),
        int(12),
        int(1),
    ]
}

fn run_dependent(
    shared: Vec<Value>,
    install: Vec<Value>,
    dep: &[u8],
) -> Result<Vec<suit_common::suit::ComponentId>, Error> {
    let m = manifest_with(
        &[b"x", b"dependency.suit"],
        &[1],
        shared,
        install,
        b"dependent",
    );
    let env = sealed(&m, &[("#dep", dep)]);
    let mut dev = RecordingPlatform::spec_device();
    dev.device = Some(DEVICE.to_vec());
    spec_process(&env, Procedure::Update, &mut dev).map(|o| o.committed)
}

#[test]
fn a_failed_condition_in_a_dependency_is_a_failed_condition_in_the_dependent() {
    let (dep, digest) = dependency(false);
    // try-each: first with a wrong device identifier (the dependency's condition fails),
    // then with the right one.
    let attempt = |id: &[u8; 16]| {
        let mut o = device_id(id);
        o.extend([int(11), int(15)]);
        seq(o)
    };
    let mut install = fetch_dependency(&digest);
    install.extend([
        int(15),
        Value::Array(vec![attempt(b"another-device!!"), attempt(&DEVICE)]),
    ]);
    assert_eq!(
        run_dependent(vec![], install, &dep).unwrap(),
        vec![cid(&[b"x"])]
    );

    // An abort in the dependency aborts the dependent, try-each or not.
    let (dep, digest) = dependency(true);
    let mut install = fetch_dependency(&digest);
    install.extend([
        int(15),
        Value::Array(vec![seq(vec![int(11), int(15)]), seq(vec![])]),
    ]);
    match run_dependent(vec![], install, &dep).unwrap_err() {
        Error::Command(c) => assert!(matches!(c.kind, CommandErrorKind::Dependency(_))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn process_dependency_in_the_shared_sequence_is_refused() {
    // Already refused when the manifest is decoded (the shared sequence holds conditions
    // and parameter / control commands only), directly or nested in try-each; the engine
    // refuses it again at run time (NotAllowedInShared) in case a decoder path lets it by.
    let (dep, digest) = dependency(false);
    let mut install = fetch_dependency(&digest);
    install.extend([int(11), int(15)]);
    for shared in [
        vec![int(12), int(1), int(11), int(15)],
        vec![
            int(12),
            int(1),
            int(15),
            Value::Array(vec![seq(vec![int(11), int(15)])]),
        ],
    ] {
        match run_dependent(shared, install.clone(), &dep).unwrap_err() {
            Error::Invalid { at, .. } => assert_eq!(at, "suit-shared-sequence"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_section_that_skips_its_dependency_is_aborted() {
    let (dep, digest) = dependency(false);
    // Fetched and checked, never processed, although the dependency has an install section.
    let mut install = device_id(&DEVICE);
    install.extend(fetch_dependency(&digest));
    let refused = run_dependent(vec![], install.clone(), &dep).unwrap_err();
    // The check runs at the section's end, after every command: said so, not "command  of"
    // with an empty command path (review s42).
    let words = refused.to_string();
    assert!(
        words.contains("failed at the end of suit-install") && !words.contains("command  of"),
        "{words}"
    );
    assert_eq!(kind(refused), CommandErrorKind::DependencyNotProcessed);
    install.extend([int(11), int(15)]);
    assert_eq!(
        run_dependent(vec![], install, &dep).unwrap(),
        vec![cid(&[b"x"])]
    );
}

// ---- records locate their command: dependency walk, section offset, component index ----

use suit_common::report::{self, ReportBuilder, ReportResult};
use suit_common::suit::error::Section;
use suit_common::suit::platform::{Event, Record};

/// (manifest-id, section, offset, component index, event, success) of every engine record.
type Located = (Vec<u64>, Section, u64, Option<usize>, Event, bool);

struct Locating {
    dev: RecordingPlatform,
    seen: Vec<Located>,
    report: ReportBuilder,
}

suit_test_support::recording_platform_via!(Locating, dev, {
    fn report(&mut self, r: &Record<'_>) {
        self.seen.push((
            r.manifest_id.to_vec(),
            r.section,
            r.offset,
            r.component_index,
            r.event,
            r.success,
        ));
        self.report.record(r);
    }
});

fn locate(install: Vec<Value>, dep: &[u8]) -> (Vec<u8>, Locating, Result<(), Error>) {
    let m = manifest_with(
        &[b"x", b"dependency.suit"],
        &[1],
        vec![],
        install,
        b"dependent",
    );
    let env = sealed(&m, &[("#dep", dep)]);
    let mut p = Locating {
        dev: RecordingPlatform::spec_device(),
        seen: Vec::new(),
        report: ReportBuilder::new(),
    };
    p.dev.device = Some(DEVICE.to_vec());
    let r = process(&env, Procedure::Update, &spec_policy(), &no_keys(), &mut p).map(|_| ());
    (env, p, r)
}

/// Byte offset of the command at `path` of `section` in `env` (the independent walker).
fn offset(env: &[u8], section: Section, path: &[u16]) -> u64 {
    report::command_offset(env, section, path).unwrap().0
}

#[test]
fn records_carry_the_dependency_walk_offset_and_component_index() {
    let (dep, digest) = dependency(false);
    let mut install = device_id(&DEVICE); // commands 0-2
    install.extend(fetch_dependency(&digest)); // commands 3-6
    install.extend([int(15), Value::Array(vec![seq(vec![int(11), int(15)])])]); // command 7: try-each, option 0, command 0: process-dependency
    let (env, p, r) = locate(install, &dep);
    r.unwrap();
    let dev_cond = Event::Condition(suit_common::suit::error::ConditionKind::DeviceIdentifier);
    // The dependency's device-identifier condition: command 1 of its install, component 0
    // of the dependency, walk [1] (the dependent's component index of the dependency).
    let in_dep = p.seen.iter().find(|s| s.4 == dev_cond).unwrap();
    assert_eq!(
        in_dep,
        &(
            vec![1],
            Section::Install,
            offset(&dep, Section::Install, &[1]),
            Some(0),
            dev_cond,
            true
        )
    );
    // The dependency's write (command 3).
    let write = p.seen.iter().find(|s| s.4 == Event::Write).unwrap();
    assert_eq!(
        (write.0.clone(), write.2, write.3),
        (vec![1], offset(&dep, Section::Install, &[3]), Some(0))
    );
    // process-dependency, nested in the dependent's try-each: root walk, nested offset.
    let pd = p
        .seen
        .iter()
        .find(|s| s.4 == Event::ProcessDependency)
        .unwrap();
    assert_eq!(
        (pd.0.clone(), pd.2, pd.3),
        (vec![], offset(&env, Section::Install, &[7, 0, 0]), Some(1))
    );
    assert!(pd.2 > offset(&env, Section::Install, &[7]));
}

#[test]
fn a_failure_inside_a_dependency_is_located_in_the_dependency() {
    let (dep, digest) = dependency(true); // install: set-index 0, write without content
    let mut install = fetch_dependency(&digest);
    install.extend([int(11), int(15)]);
    let (env, p, r) = locate(install, &dep);
    let err = r.unwrap_err();
    let report = p.report.fail(&err, Some(&env));
    let ReportResult::Failure(f) = &report.result else {
        panic!()
    };
    assert_eq!(f.record.manifest_id, vec![1]);
    assert_eq!(f.record.section, 20);
    assert_eq!(f.record.offset, offset(&dep, Section::Install, &[1]));
    assert!(f.record.offset > 0);
    assert_eq!(f.record.component_index, 0);
}

#[test]
fn a_dependency_processed_in_a_failed_try_each_option_is_not_processed() {
    let (dep, digest) = dependency(false);
    // Option 1 processes the dependency, then fails (an unknown custom command is a failed
    // condition): its effects are undone, so the dependency counts as never processed.
    let mut failing = device_id(&DEVICE);
    failing.extend([int(11), int(15)]);
    failing.extend(unknown_custom());
    let mut install = fetch_dependency(&digest);
    install.extend([
        int(15),
        Value::Array(vec![seq(failing.clone()), seq(vec![])]),
    ]);
    assert_eq!(
        kind(run_dependent(vec![], install, &dep).unwrap_err()),
        CommandErrorKind::DependencyNotProcessed
    );
    // Processed again after the failed option (the device identifier set outside it):
    // installs.
    let mut install = device_id(&DEVICE);
    install.extend(fetch_dependency(&digest));
    install.extend([
        int(15),
        Value::Array(vec![seq(failing), seq(vec![])]),
        int(11),
        int(15),
    ]);
    assert_eq!(
        run_dependent(vec![], install, &dep).unwrap(),
        vec![cid(&[b"x"])]
    );
}

/// Review s16, finding R5. A dependency's fetched envelope is kept by component identifier,
/// its dependency-integrity check by component index. Two dependencies of one manifest with
/// the same identifier (nothing refuses duplicate identifiers) share one slot: the second
/// fetch replaces the bytes the first index was checked against, and process-dependency on
/// the first index runs the second dependency. Here D1 (writes `y1`) is checked and never
/// runs; D2 (writes `y2`) runs twice. Expected: each index processes the envelope its own
/// dependency-integrity vouched for (or duplicate identifiers are refused).
#[test]
fn each_dependency_index_processes_the_envelope_it_checked() {
    let dep = |component: &[u8], content: &[u8]| {
        let install = vec![
            int(12),
            int(0),
            int(20),
            map(vec![(18, bytes(content))]),
            int(18),
            int(15),
        ];
        let m = manifest_with(&[component], &[], vec![], install, b"dependency.suit");
        let env = sealed(&m, &[]);
        let mut bstr = Vec::new();
        ciborium::into_writer(&Value::Bytes(m), &mut bstr).unwrap();
        (env, suit_common::suit::Digest::sha256(&bstr).encode())
    };
    let (d1, h1) = dep(b"y1", b"one");
    let (d2, h2) = dep(b"y2", b"two");
    let fetch_check = |index: i64, digest: &[u8], uri: &str| {
        vec![
            int(12),
            int(index),
            int(20),
            map(vec![(3, bytes(digest)), (21, text(uri))]),
            int(21),
            int(15),
            int(7),
            int(15),
        ]
    };
    let mut install = fetch_check(1, &h1, "#d1");
    install.extend(fetch_check(2, &h2, "#d2"));
    install.extend([
        int(12),
        int(1),
        int(11),
        int(15),
        int(12),
        int(2),
        int(11),
        int(15),
    ]);
    let m = manifest_with(&[b"x", b"d", b"d"], &[1, 2], vec![], install, b"dependent");
    let env = sealed(&m, &[("#d1", &d1), ("#d2", &d2)]);
    let mut dev = RecordingPlatform::spec_device();
    let committed = spec_process(&env, Procedure::Update, &mut dev)
        .map(|o| o.committed)
        .unwrap();
    assert!(
        committed.contains(&cid(&[b"y1"])) && committed.contains(&cid(&[b"y2"])),
        "dependency 1 was checked against its digest but dependency 2 ran in its place: \
         committed {committed:?}"
    );
}

// ---- engine-semantics review (s26) ----

use suit_common::suit::error::ConditionKind;

/// check-content on a component the device does not hold is a failed condition (an absent
/// component holds no content, as image-match finds no match), not an abort: try-each moves
/// on to its next option ("If a condition reports failure, then the current sequence of
/// commands MUST terminate", and soft-failure lets the next one run).
#[test]
fn check_content_on_an_absent_component_is_a_failed_condition() {
    let content = vec![int(12), int(0), int(20), map(vec![(18, bytes(A))])];
    let mut cmds = content.clone();
    cmds.extend([
        int(15),
        Value::Array(vec![
            seq(vec![int(6), int(15)]),
            seq(vec![int(18), int(15)]),
        ]),
    ]);
    let (r, dev) = run_on(cmds);
    assert_eq!(r.unwrap().len(), 1);
    assert_eq!(installed_a(&dev), Some(A));
    // Outside try-each the update fails with the failed condition, not a platform error.
    let mut cmds = content;
    cmds.extend([int(6), int(15)]);
    assert_eq!(
        kind(run(cmds).unwrap_err()),
        CommandErrorKind::ConditionFailed(ConditionKind::CheckContent)
    );
}

/// Trust domains: "If a Parameter is already set, suit-directive-set-parameters will skip
/// setting the Parameter". soft-failure and strict-order count as set in a sequence once a
/// directive of that sequence set them (their defaults at its start do not): set-parameters
/// sets them until then, override-parameters and override-multiple always. So an author's
/// `set-parameters{soft-failure: false}` makes a failed condition abort (manifest-37), as
/// libcsuit reads it.
#[test]
fn set_parameters_sets_soft_failure_and_strict_order_unless_set_in_the_sequence() {
    let params =
        |directive: i64, soft: bool| vec![int(directive), map(vec![(13, Value::Bool(soft))])];
    let try_each = |directives: Vec<Value>| {
        let mut option = directives;
        option.extend([int(14), int(15)]);
        vec![
            int(12),
            int(0),
            int(15),
            Value::Array(vec![seq(option), Value::Null]),
        ]
    };
    let aborts = |directives: Vec<Value>| {
        assert_eq!(
            kind(run(try_each(directives)).unwrap_err()),
            CommandErrorKind::ConditionFailed(ConditionKind::Abort)
        );
    };
    // The first set-parameters of the option sets soft-failure false: the abort fails the
    // update, as with override-parameters.
    aborts(params(19, false));
    aborts(params(20, false));
    // A later set-parameters leaves what a directive of the sequence set.
    aborts([params(20, false), params(19, true)].concat());
    aborts([params(19, false), params(19, true)].concat());
    // override-parameters replaces it: the abort is soft, the nil option succeeds.
    assert!(
        run(try_each([params(19, false), params(20, true)].concat()))
            .unwrap()
            .is_empty()
    );
    // Each option starts from its defaults: soft-failure true, not set.
    assert!(run(try_each(vec![])).unwrap().is_empty());
    // Outside try-each and run-sequence soft-failure "MUST NOT be set": named by either
    // directive, it aborts.
    for directive in [19, 20] {
        let mut top = vec![int(12), int(0)];
        top.extend(params(directive, true));
        assert_eq!(
            kind(run(top).unwrap_err()),
            CommandErrorKind::SoftFailureOutsideTryEach,
            "directive {directive}"
        );
    }

    // strict-order false, then crossing copies: refused unless strict-order is true.
    let cross = |order: Vec<Value>| {
        let mut cmds = fetch_both_then_cross_sources();
        cmds.extend(order);
        cmds.extend([
            int(12),
            Value::Array(vec![int(0), int(1)]),
            int(22),
            int(15),
        ]);
        cmds
    };
    let order = |strict: bool| map(vec![(12, Value::Bool(strict))]);
    // Set by set-parameters (unset in the sequence), override-parameters or override-multiple
    // (set-component-index after it is a barrier, not strict-order true): refused.
    for order in [
        vec![int(19), order(false)],
        vec![int(20), order(false)],
        vec![int(34), map(vec![(0, order(false))])],
    ] {
        assert_eq!(
            kind(run(cross(order)).unwrap_err()),
            CommandErrorKind::UnorderedSourceAndTarget { component: 1 }
        );
    }
    // Once override-parameters set it true, set-parameters leaves it: the copies are legal.
    let kept = vec![int(20), order(true), int(19), order(false)];
    assert_eq!(run(cross(kept)).unwrap().len(), 2);
}

/// The dependent `validate` section (label 7) over the dependency at index 1: trust
/// domains' dependency template.
fn dependent_validating(validate: Vec<Value>) -> Vec<u8> {
    let m = manifest_with(
        &[b"x", b"dependency.suit"],
        &[1],
        vec![],
        validate,
        b"dependent",
    );
    let Value::Map(mut members) = ciborium::from_reader::<Value, _>(m.as_slice()).unwrap() else {
        panic!("manifest is a map")
    };
    for (k, _) in &mut members {
        if *k == int(20) {
            *k = int(7);
        }
    }
    cbor(&Value::Map(members))
}

/// This device keeps no dependency envelope past the update run that fetched it, so the
/// invocation procedure cannot process dependencies: trust domains' dependency template's
/// validate section (dependency-integrity, process-dependency) is refused by name
/// (`DependencyNotHeld`), as is dependency-integrity before the fetch in an update. It used
/// to be an untyped platform `NotFound`.
#[test]
fn dependency_integrity_without_a_fetched_envelope_is_refused_by_name() {
    let (_, digest) = dependency(false);
    let validate = vec![
        int(12),
        int(1),
        int(20),
        map(vec![(3, bytes(&digest))]),
        int(7),
        int(15),
        int(11),
        int(15),
    ];
    let env = sealed(&dependent_validating(validate.clone()), &[]);
    let mut dev = RecordingPlatform::spec_device();
    let r = spec_process(&env, Procedure::Invoke, &mut dev);
    assert_eq!(
        kind(r.map(|_| ()).unwrap_err()),
        CommandErrorKind::DependencyNotHeld
    );
    // The same check before any fetch in an update.
    assert_eq!(
        kind(run_dependent(vec![], validate, &[]).unwrap_err()),
        CommandErrorKind::DependencyNotHeld
    );
}

/// A failed try-each option that re-staged a component staged before the try-each cannot be
/// undone (the platform keeps one staging per component): the procedure aborts with the
/// option's failure instead of starting the next option, and nothing is committed.
#[test]
fn a_failed_option_that_restaged_an_earlier_staging_aborts() {
    let mut restage = fetch_from("#b");
    restage.extend([int(14), int(15)]);
    let mut cmds = vec![int(12), int(0)];
    cmds.extend(fetch_from("#a"));
    cmds.extend([int(15), Value::Array(vec![seq(restage), Value::Null])]);
    let (r, dev) = run_on(cmds);
    assert_eq!(
        kind(r.unwrap_err()),
        CommandErrorKind::ConditionFailed(ConditionKind::Abort)
    );
    assert_eq!(installed_a(&dev), None);
    // Staged inside the option only: undone, and the nil option succeeds.
    let mut fresh = fetch_from("#b");
    fresh.extend([int(14), int(15)]);
    let cmds = vec![
        int(12),
        int(0),
        int(15),
        Value::Array(vec![seq(fresh), Value::Null]),
    ];
    let (r, dev) = run_on(cmds);
    assert!(r.unwrap().is_empty());
    assert_eq!(installed_a(&dev), None);
}

/// Trust domains' templates check a dependency's integrity in dependency-resolution and only
/// process it in later sections: a nested dependent keeps the check for the run as the root
/// does (review r5).
mod integrity_kept_for_the_run {
    use super::*;

    /// A manifest of `components` declaring the one at index 1 (if any) a dependency.
    fn manifest(components: &[&[u8]], sections: Vec<(i64, Vec<Value>)>, id: &[u8]) -> Vec<u8> {
        let mut common = vec![];
        if components.len() > 1 {
            common.push((1, map(vec![(1, map(vec![]))])));
        }
        let ids = components
            .iter()
            .map(|c| Value::Array(vec![bytes(c)]))
            .collect();
        common.push((2, Value::Array(ids)));
        common.push((4, seq(spec_id_checks())));
        let mut m = vec![
            (1, int(1)),
            (2, int(1)),
            (3, bytes(&cbor(&map(common)))),
            (5, Value::Array(vec![bytes(id)])),
        ];
        m.extend(sections.into_iter().map(|(k, s)| (k, seq(s))));
        cbor(&map(m))
    }

    fn fetch(digest: &[u8], uri: &str) -> Vec<Value> {
        let p = map(vec![(3, bytes(digest)), (21, text(uri))]);
        vec![int(12), int(1), int(20), p, int(21), int(15)]
    }

    fn integrity() -> Vec<Value> {
        vec![int(12), int(1), int(7), int(15)]
    }

    fn process_dep() -> Vec<Value> {
        vec![int(12), int(1), int(11), int(15)]
    }

    /// The leaf: its install writes its one component.
    fn leaf() -> Vec<u8> {
        let install = vec![
            int(12),
            int(0),
            int(20),
            map(vec![(18, bytes(b"hello"))]),
            int(18),
            int(15),
        ];
        manifest(&[b"c0"], vec![(20, install)], b"leaf")
    }

    /// A dependent of `dep` (integrated as `uri`) in the template's form: fetch, integrity and
    /// process in dependency-resolution, `install` in install.
    fn dependent(name: &[u8], dep: &[u8], uri: &str, install: Vec<Value>) -> Vec<u8> {
        let resolution = [
            fetch(&manifest_digest(dep), uri),
            integrity(),
            process_dep(),
        ]
        .concat();
        manifest(&[name, b"dep"], vec![(15, resolution), (20, install)], name)
    }

    fn seal(m: &[u8], integrated: &[(&str, &[u8])]) -> Vec<u8> {
        seal_one(m, &author_key(), Algorithm::Esp256, &[], integrated)
    }

    fn run(envelope: &[u8]) -> Result<suit_common::suit::Outcome, Error> {
        spec_process(
            envelope,
            Procedure::Update,
            &mut RecordingPlatform::spec_device(),
        )
    }

    /// The innermost command error kind, through the dependencies it was forwarded from.
    fn innermost(e: &Error) -> &CommandErrorKind {
        match e {
            Error::Command(c) => match &c.kind {
                CommandErrorKind::Dependency(inner) => innermost(inner),
                k => k,
            },
            other => panic!("not a command error: {other:?}"),
        }
    }

    #[test]
    fn the_template_installs_at_depth_one_and_two() {
        let c = leaf();
        let c_env = seal(&c, &[]);
        let r = dependent(b"root", &c, "#c", process_dep());
        let out = run(&seal(&r, &[("#c", &c_env)])).unwrap();
        assert_eq!(out.committed.len(), 1);

        let b = dependent(b"mid", &c, "#c", process_dep());
        let b_env = seal(&b, &[("#c", &c_env)]);
        let r = dependent(b"root", &b, "#b", process_dep());
        let out = run(&seal(&r, &[("#b", &b_env)])).unwrap();
        assert_eq!(out.committed.len(), 1);
    }

    #[test]
    fn a_re_fetch_clears_the_check_of_its_place_and_of_the_places_under_it() {
        let c = leaf();
        let c_env = seal(&c, &[]);
        // The root re-fetches its dependency in install and processes it unchecked.
        let again = [fetch(&manifest_digest(&c), "#c"), process_dep()].concat();
        let r = dependent(b"root", &c, "#c", again);
        let e = run(&seal(&r, &[("#c", &c_env)])).unwrap_err();
        assert_eq!(innermost(&e), &CommandErrorKind::DependencyNotVerified);

        // The middle manifest is fetched anew: what it checked under it goes too.
        let b = dependent(b"mid", &c, "#c", process_dep());
        let b_env = seal(&b, &[("#c", &c_env)]);
        let check_process = [integrity(), process_dep()].concat();
        let again = [fetch(&manifest_digest(&b), "#b"), check_process].concat();
        let r = dependent(b"root", &b, "#b", again);
        let e = run(&seal(&r, &[("#b", &b_env)])).unwrap_err();
        assert_eq!(innermost(&e), &CommandErrorKind::DependencyNotVerified);
    }

    #[test]
    fn a_check_in_a_failed_try_each_option_does_not_count() {
        let c = leaf();
        let c_env = seal(&c, &[]);
        // Resolution fetches and processes; the check is in an option that then fails.
        let failing = [integrity(), vec![int(14), int(15)]].concat();
        let try_each = vec![int(15), Value::Array(vec![seq(failing), seq(vec![])])];
        let resolution = [fetch(&manifest_digest(&c), "#c"), try_each].concat();
        let r = manifest(
            &[b"root", b"dep"],
            vec![(15, resolution), (20, process_dep())],
            b"root",
        );
        let e = run(&seal(&r, &[("#c", &c_env)])).unwrap_err();
        assert_eq!(innermost(&e), &CommandErrorKind::DependencyNotVerified);
    }
}

/// Staged content that is not authenticated yet (AES-CTR plaintext no digest speaks for) is
/// neither invoked nor moved by swap; a swap moves what was staged with the content (review r5),
/// and only where the key policy lets a copy take it (review s29 L1).
mod unauthenticated_content_neither_runs_nor_moves {
    use super::*;
    use suit_common::encryption::algorithms::ContentAlgorithm;
    use suit_common::encryption::{encrypt_payload, CoseOptions, MemoryKeys, Recipient};
    use suit_common::suit::decrypt::{KeySource, PlaintextRefused, SelectedKeys};
    use suit_common::suit::error::PolicyError;
    use suit_common::suit::policy::AnchorId;
    use suit_common::suit::ComponentId;

    const KEK: [u8; 16] = *b"0123456789abcdef";

    fn ids(names: &[&[u8]]) -> Vec<Value> {
        names.iter().map(|n| Value::Array(vec![bytes(n)])).collect()
    }

    /// Fetches AES-CTR ciphertext (no digest) into `buf` (1) and decrypts it by copy into
    /// `fw` (0), then runs `then`; component 2 is `other`.
    fn run(then: Vec<Value>) -> (Result<suit_common::suit::Outcome, Error>, RecordingPlatform) {
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let to = Recipient::AesKw {
            kid: Some(b"kek"),
            kek: &KEK,
        };
        let e = encrypt_payload(
            b"plaintext",
            ContentAlgorithm::A128Ctr,
            &[to],
            &CoseOptions::SUIT,
            &mut rng,
        )
        .unwrap();
        let install = [
            vec![int(12), int(1), int(20), map(vec![(21, text("#ct"))])],
            vec![int(21), int(15)],
            vec![int(12), int(0), int(20)],
            vec![map(vec![(19, bytes(&e.encryption_info)), (22, int(1))])],
            vec![int(22), int(15)],
            then,
        ]
        .concat();
        let shared = Value::Array(spec_id_checks());
        let m = suit_manifest(
            1,
            ids(&[b"fw", b"buf", b"other"]),
            &shared,
            &Value::Array(install),
        );
        let env = seal_one(
            &m,
            &author_key(),
            Algorithm::Esp256,
            &[],
            &[("#ct", &e.ciphertext)],
        );
        let mut keys = MemoryKeys::new();
        keys.add_kek(Some(b"kek"), &KEK).unwrap();
        let mut dev = RecordingPlatform::spec_device();
        dev.invocable = true;
        let r = process(&env, Procedure::Update, &spec_policy(), &keys, &mut dev);
        (r, dev)
    }

    fn kind(r: Result<suit_common::suit::Outcome, Error>) -> CommandErrorKind {
        match r {
            Err(Error::Command(c)) => c.kind,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invoke_of_unauthenticated_plaintext_is_refused() {
        let (r, dev) = run(vec![int(12), int(0), int(23), int(15)]);
        assert_eq!(kind(r), CommandErrorKind::UnauthenticatedContent);
        assert!(!dev.log.iter().any(|e| matches!(e, Effect::Invoke(_))));
    }

    #[test]
    fn swap_of_unauthenticated_plaintext_is_refused_either_way() {
        for (index, source) in [(2, 0), (0, 2)] {
            let swap = vec![
                int(12),
                int(index),
                int(20),
                map(vec![(22, int(source))]),
                int(31),
                int(15),
            ];
            let (r, dev) = run(swap);
            assert_eq!(kind(r), CommandErrorKind::UnauthenticatedContent);
            assert!(!dev.log.iter().any(|e| matches!(e, Effect::Swap(..))));
        }
    }

    /// Install commands: "hello" written into `a` (index 0), then `b` (index 1) swapped with it.
    fn write_a_then_swap_with_b() -> Vec<Value> {
        vec![
            int(12),
            int(0),
            int(20),
            map(vec![(18, bytes(b"hello"))]),
            int(18),
            int(15),
            int(12),
            int(1),
            int(20),
            map(vec![(22, int(0))]),
            int(31),
            int(15),
        ]
    }

    #[test]
    fn a_swap_moves_the_staged_record_with_the_content() {
        // `a` written, then swapped with `b`: what commits is `b`'s.
        let install = write_a_then_swap_with_b();
        let out = spec_process(
            &seal_one(
                &manifest(install),
                &author_key(),
                Algorithm::Esp256,
                &[],
                &[],
            ),
            Procedure::Update,
            &mut RecordingPlatform::spec_device(),
        )
        .unwrap();
        assert_eq!(out.committed, vec![ComponentId::new(&[&b"b"[..]])]);
    }

    /// A device key policy that lets nothing be copied into one component (the service's
    /// says so of a normal-world file, or of confidential content its owners keep in).
    struct NoCopyInto(ComponentId);

    impl KeySource for NoCopyInto {
        fn keys_for(
            &self,
            _signers: &[AnchorId],
            _component: &ComponentId,
        ) -> Result<SelectedKeys<'_>, PlaintextRefused> {
            Err(PlaintextRefused)
        }

        fn may_copy(
            &self,
            _signers: &[AnchorId],
            component: &ComponentId,
            _source: &ComponentId,
            _content: suit_common::suit::decrypt::CopiedContent,
        ) -> Result<(), PlaintextRefused> {
            if *component == self.0 {
                return Err(PlaintextRefused);
            }
            Ok(())
        }
    }

    /// Review s29 L1: a swap moves each component's content into the other, so the key
    /// policy's copy rule holds both ways; refused before the platform swaps anything.
    #[test]
    fn a_swap_moves_content_only_where_a_copy_may_take_it_either_way() {
        // `a` written, then swapped with `b` (index `b`, source `a`).
        let install = write_a_then_swap_with_b();
        let env = seal_one(
            &manifest(install),
            &author_key(),
            Algorithm::Esp256,
            &[],
            &[],
        );
        let swap = |keys: &NoCopyInto| {
            let mut dev = RecordingPlatform::spec_device();
            let r = process(&env, Procedure::Update, &spec_policy(), keys, &mut dev);
            (r, dev)
        };
        for kept in [&b"a"[..], b"b"] {
            let (r, dev) = swap(&NoCopyInto(ComponentId::new(&[kept])));
            assert_eq!(
                kind(r),
                CommandErrorKind::Policy(PolicyError::PlaintextNotPermitted { component: 1 }),
                "nothing may be copied into {kept:?}"
            );
            assert!(!dev.log.iter().any(|e| matches!(e, Effect::Swap(..))));
            assert!(!dev.committed());
        }
        let (r, dev) = swap(&NoCopyInto(ComponentId::new(&[&b"c"[..]])));
        assert_eq!(r.unwrap().committed, vec![ComponentId::new(&[&b"b"[..]])]);
        assert!(dev.log.iter().any(|e| matches!(e, Effect::Swap(..))));
    }
}

/// The trust-domains draft's templates for operating on several components at once (index
/// `true` and a try-each that tells dependencies from other components): a dependency is
/// fetched, checked and processed in the option that matches it, every other component takes
/// the other option (review s31: neither template had a test).
#[test]
fn the_drafts_multiple_component_templates_process_the_dependency_once() {
    let (dep, digest) = dependency(false);
    // Fetch, check and process in one option; nothing for other components.
    let mut install = device_id(&DEVICE);
    install.extend([
        int(20),
        map(vec![(3, bytes(&digest)), (21, text("#dep"))]),
        int(12),
        Value::Bool(true),
        int(15),
        Value::Array(vec![
            seq(vec![
                int(8),
                int(15),
                int(21),
                int(15),
                int(7),
                int(15),
                int(11),
                int(15),
            ]),
            Value::Null,
        ]),
    ]);
    assert_eq!(
        run_dependent(vec![], install, &dep).unwrap(),
        vec![cid(&[b"x"])]
    );
    // The dependency fetched and checked first; then process it, or write the others.
    let mut install = device_id(&DEVICE);
    install.extend(fetch_dependency(&digest));
    install.extend([
        int(12),
        Value::Bool(true),
        int(15),
        Value::Array(vec![
            seq(vec![int(8), int(15), int(11), int(15)]),
            seq(vec![
                int(20),
                map(vec![(18, bytes(b"from the dependent"))]),
                int(18),
                int(15),
            ]),
        ]),
    ]);
    // Component 0 (`x`) is written by the dependent's option, then again by the dependency.
    assert_eq!(
        run_dependent(vec![], install, &dep).unwrap(),
        vec![cid(&[b"x"])]
    );
}

/// suit-text as manifest-37 defines it (a map of RFC 9290 language tags to maps of integer =>
/// text and component identifier => (integer => text), every map in canonical order, every
/// component one suit-common lists), though nothing here reads it: checked like every other
/// SUIT map (review s32).
#[test]
fn suit_text_is_held_to_its_cddl_and_canonical_order() {
    use suit_common::cbor::CborErrorKind;
    use suit_common::suit::words::Words;
    let text_of = |pairs: Vec<(Value, Value)>| Value::Map(pairs);
    let t = |s: &str| Value::Text(s.into());
    let app = || Value::Array(vec![bytes(b"app")]);
    let process_with = |text: &Value| run_with_text(&cbor(text), false);
    let lmap = || {
        text_of(vec![
            (int(1), t("an update")),
            (int(-1), t("application-specific")),
            (
                app(),
                text_of(vec![(int(1), t("vendor")), (int(6), t("1.0"))]),
            ),
        ])
    };
    // Accepted: one language, two in order (and a subtag), an empty language map.
    process_with(&text_of(vec![(t("en"), lmap())])).unwrap();
    process_with(&text_of(vec![
        (t("de"), lmap()),
        (t("en"), text_of(vec![])),
        (t("en-GB"), lmap()),
    ]))
    .unwrap();
    let invalid = |text: Value, at: Words, reason: Words| match process_with(&text) {
        Err(Error::Invalid { at: a, reason: r }) => assert_eq!((a, r), (at, reason), "{text:?}"),
        other => panic!("{text:?}: {other:?}"),
    };
    let cbor_error = |text: Value, kind: CborErrorKind| match process_with(&text) {
        Err(Error::Decode { error, .. }) => assert_eq!(error.kind, kind, "{text:?}"),
        other => panic!("{text:?}: {other:?}"),
    };
    invalid(
        text_of(vec![]),
        Words::SuitTextMap,
        Words::NeedsAtLeastOneLanguage,
    );
    for tag in [
        "e n",
        "",
        "englishlanguage",
        "1en",
        "en-",
        "en--gb",
        "en-toolongsubtag",
    ] {
        invalid(
            text_of(vec![(t(tag), lmap())]),
            Words::SuitTextMap,
            Words::LanguageTag,
        );
    }
    invalid(
        text_of(vec![(
            t("en"),
            text_of(vec![(
                Value::Array(vec![bytes(b"other")]),
                text_of(vec![(int(1), t("x"))]),
            )]),
        )]),
        Words::SuitTextLMap,
        Words::ComponentNotInCommon,
    );
    invalid(
        text_of(vec![(t("en"), text_of(vec![(t("key"), t("x"))]))]),
        Words::SuitTextLMap,
        Words::TextKey,
    );
    // Out of canonical order: languages, an LMap's component before its integer, a
    // component's fields; keys repeated.
    cbor_error(
        text_of(vec![(t("en"), lmap()), (t("de"), lmap())]),
        CborErrorKind::NonCanonicalOrder,
    );
    cbor_error(
        text_of(vec![(
            t("en"),
            text_of(vec![(app(), text_of(vec![])), (int(1), t("x"))]),
        )]),
        CborErrorKind::NonCanonicalOrder,
    );
    cbor_error(
        text_of(vec![(
            t("en"),
            text_of(vec![(
                app(),
                text_of(vec![(int(6), t("1.0")), (int(1), t("v"))]),
            )]),
        )]),
        CborErrorKind::NonCanonicalOrder,
    );
    cbor_error(
        text_of(vec![(t("en"), lmap()), (t("en"), lmap())]),
        CborErrorKind::DuplicateKey,
    );
    // Wrong types: an integer language, a byte-string text, a component's text not a map.
    for text in [
        text_of(vec![(int(1), lmap())]),
        text_of(vec![(t("en"), text_of(vec![(int(1), bytes(b"x"))]))]),
        text_of(vec![(t("en"), text_of(vec![(app(), t("x"))]))]),
    ] {
        match process_with(&text) {
            Err(Error::Decode { error, .. }) => assert!(
                matches!(error.kind, CborErrorKind::UnexpectedType { .. }),
                "{text:?}: {error:?}"
            ),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

/// `text` (raw CBOR of a SUIT_Text_Map) inline in the manifest, or severed into the envelope.
fn run_with_text(text: &[u8], severed: bool) -> Result<(), Error> {
    let plain = manifest_with(&[b"app"], &[], vec![], vec![], b"root");
    let (member, sev): (Value, Vec<(u8, &[u8])>) = if severed {
        let digest = suit_digest(&cbor(&bytes(text)));
        (
            ciborium::from_reader(digest.as_slice()).unwrap(),
            vec![(23, text)],
        )
    } else {
        (bytes(text), vec![])
    };
    let env = seal_one(
        &with_manifest_member(&plain, 23, member),
        &author_key(),
        Algorithm::Esp256,
        &sev,
        &[],
    );
    let mut dev = RecordingPlatform::spec_device();
    spec_process(&env, Procedure::Update, &mut dev).map(|_| ())
}

/// A repeated key written once in its shortest head and once in a longer one is one key
/// repeated (RFC 8949 §5.6): refused in suit-text inline, and severed and restored too (review
/// s32: only the inline form was checked).
#[test]
fn a_restored_suit_text_refuses_keys_repeated_in_a_longer_head() {
    // {"en": {1: "a", 1 (as 0x18 0x01): "b"}}
    let dup_int = [
        0xa1, 0x62, b'e', b'n', 0xa2, 0x01, 0x61, b'a', 0x18, 0x01, 0x61, b'b',
    ];
    // {"en": {}, "en" (as 0x78 0x02): {}}
    let dup_lang = [0xa2, 0x62, b'e', b'n', 0xa0, 0x78, 0x02, b'e', b'n', 0xa0];
    // Sanity: the same map with its keys in shortest form only is accepted both ways.
    let ok = [0xa1, 0x62, b'e', b'n', 0xa1, 0x01, 0x61, b'a'];
    run_with_text(&ok, false).unwrap();
    run_with_text(&ok, true).unwrap();
    for text in [&dup_int[..], &dup_lang[..]] {
        assert!(run_with_text(text, false).is_err(), "inline {text:02x?}");
        assert!(run_with_text(text, true).is_err(), "severed {text:02x?}");
    }
}
