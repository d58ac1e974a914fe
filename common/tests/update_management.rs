//! draft-ietf-suit-update-management-14 in the engine (issue 10, item 6): for each extension a
//! case that passes and one that is refused with the named reason, the device-policy knobs,
//! and the bounds (wait budget). The draft has no CBOR examples, so the manifests are built
//! here from its CDDL (labels from its IANA section). CONFORMANCE.md points here.

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::suit::error::{
    CommandErrorKind, ConditionKind, Error, ParameterKind, PolicyError,
};
use suit_common::suit::platform::{Event, PlatformError, Record};
use suit_common::suit::update_management::{
    compare_versions, Authorization, ComponentMetadata, FileType, UmError, WaitEvent,
    WaitEventKind, WaitOutcome, WallClock,
};
use suit_common::suit::{process, ComponentId, Envelope, Policy, Procedure};

use suit_test_support::*;

fn arr(v: Vec<Value>) -> Value {
    Value::Array(v)
}
fn wrap(v: &Value) -> Value {
    Value::Bytes(cbor(v))
}
fn digest_value(data: &[u8]) -> Value {
    wrap(&arr(vec![int(-16), bytes(&Sha256::digest(data))]))
}

const C0: &[&[u8]] = &[b"um", b"0"];
const C1: &[&[u8]] = &[b"um", b"1"];

/// A manifest over components `C0` and `C1` with the given extra manifest members.
fn manifest_with(members: Vec<(i64, Value)>) -> Vec<u8> {
    let comps = arr(vec![
        arr(C0.iter().map(|s| bytes(s)).collect()),
        arr(C1.iter().map(|s| bytes(s)).collect()),
    ]);
    let common = map(vec![(2, comps)]);
    let mut m = vec![(1, int(1)), (2, int(1)), (3, wrap(&common))];
    m.extend(members);
    m.sort_by_key(|(k, _)| *k);
    cbor(&map(m))
}

/// A manifest whose install section is `install`.
fn manifest(install: Vec<Value>) -> Vec<u8> {
    manifest_with(vec![(20, wrap(&arr(install)))])
}

fn key() -> SigningKey {
    p256_private_from_pem("suit-manifest-spec/private_key.pem")
}

fn seal_with(manifest: &[u8], severed: &[(u8, &[u8])]) -> Vec<u8> {
    seal_one(manifest, &key(), Algorithm::Esp256, severed, &[])
}

fn seal(manifest: &[u8]) -> Vec<u8> {
    seal_with(manifest, &[])
}

/// The recording device of the other conformance tests, plus answers to this draft's questions.
#[derive(Default)]
struct Device {
    inner: RecordingPlatform,
    clock: Option<WallClock>,
    battery: Option<u64>,
    authorization: Option<Authorization>,
    versions: Vec<(ComponentId, Vec<i64>)>,
    /// What wait_for answers, and how many seconds it claims to spend.
    wait: Option<(WaitOutcome, u64)>,
    /// Each wait_for call: the event and the budget it was given.
    waits: Vec<(WaitEvent, u64)>,
    /// `Some`: the device applies metadata (and logs it); `None`: it cannot.
    metadata: Option<Vec<(ComponentId, ComponentMetadata)>>,
    /// Priorities update-authorized asked about.
    asked: Vec<Option<i64>>,
}

impl Device {
    fn new() -> Self {
        Device {
            inner: RecordingPlatform::spec_device(),
            ..Default::default()
        }
    }
    fn trusted_clock(mut self, seconds: u64) -> Self {
        self.clock = Some(WallClock {
            seconds,
            trusted: true,
        });
        self
    }
    fn version(mut self, c: &[&[u8]], v: &[i64]) -> Self {
        self.versions.push((cid(c), v.to_vec()));
        self
    }
    fn installed(mut self, c: &[&[u8]], data: &[u8]) -> Self {
        self.inner.installed.insert(cid(c), data.to_vec());
        self
    }
}

suit_test_support::recording_platform_via!(Device, inner, {
    fn report(&mut self, r: &Record<'_>) {
        self.inner.report(r)
    }
    fn wall_clock(&self) -> Option<WallClock> {
        self.clock
    }
    fn battery_mwh(&self) -> Option<u64> {
        self.battery
    }
    fn authorize_update(&mut self, _c: &ComponentId, priority: Option<i64>) -> Authorization {
        self.asked.push(priority);
        self.authorization.unwrap_or(Authorization::Unavailable)
    }
    fn component_version(&self, c: &ComponentId) -> Result<Option<Vec<i64>>, PlatformError> {
        Ok(self
            .versions
            .iter()
            .find(|(id, _)| id == c)
            .map(|(_, v)| v.clone()))
    }
    fn wait_for(&mut self, _c: &ComponentId, e: &WaitEvent, budget: u64) -> (WaitOutcome, u64) {
        self.waits.push((e.clone(), budget));
        match self.wait {
            Some((o, spent)) => (o, spent.min(budget)),
            None => (WaitOutcome::Unsupported, 0),
        }
    }
    fn stage_metadata(
        &mut self,
        c: &ComponentId,
        m: &ComponentMetadata,
    ) -> Result<(), PlatformError> {
        match &mut self.metadata {
            Some(log) => {
                log.push((c.clone(), m.clone()));
                Ok(())
            }
            None => Err(PlatformError::Unsupported),
        }
    }
});

fn run(envelope: &[u8], policy: &Policy, dev: &mut Device) -> Result<(), Error> {
    process(envelope, Procedure::Update, policy, &no_keys(), dev).map(|_| ())
}

fn run_install(install: Vec<Value>, policy: &Policy, dev: &mut Device) -> Result<(), Error> {
    run(&seal(&manifest(install)), policy, dev)
}

/// [`run_install`] of `install` under the examples' policy.
fn install_on(dev: &mut Device, install: Vec<Value>) -> Result<(), Error> {
    run_install(install, &spec_policy(), dev)
}

/// The command-error kind of a refusal.
fn kind(r: Result<(), Error>) -> CommandErrorKind {
    match r {
        Err(Error::Command(c)) => c.kind,
        other => panic!("expected a command error, got {other:?}"),
    }
}

fn um(r: Result<(), Error>) -> UmError {
    match kind(r) {
        CommandErrorKind::UpdateManagement(e) => *e,
        other => panic!("expected an update-management failure, got {other:?}"),
    }
}

/// set-component-index 0, override-parameters `params`, then `cmds`, then write "fw" (so a
/// passing run commits something observable).
fn on_c0(params: Vec<(i64, Value)>, cmds: Vec<Value>) -> Vec<Value> {
    let mut p = params;
    p.push((18, bytes(b"fw")));
    p.sort_by_key(|(k, _)| if *k >= 0 { *k } else { 1000 - *k });
    let mut v = vec![int(12), int(0), int(20), map(p)];
    v.extend(cmds);
    v.extend([int(18), int(15)]);
    v
}

fn committed_c0(dev: &Device) -> bool {
    dev.inner.committed() && dev.inner.installed.get(&cid(C0)).map(Vec::as_slice) == Some(b"fw")
}

fn version_param(cmp: i64, v: &[i64]) -> Value {
    wrap(&arr(vec![
        int(cmp),
        arr(v.iter().map(|i| int(*i)).collect()),
    ]))
}

// ---- suit-condition-version / suit-parameter-version --------------------------------------

#[test]
fn version_comparison_follows_the_draft() {
    use std::cmp::Ordering::*;
    // "Equal [1]" matches every version starting with 1.
    assert_eq!(compare_versions(&[1, 5, 2], &[1]), Equal);
    // 2.0-rc1 sorts below 2.0.0 and above 1.x (the draft's example).
    assert_eq!(compare_versions(&[2, 0, -1, 1], &[2, 0, 0]), Less);
    assert_eq!(compare_versions(&[2, 0, -1, 1], &[1, 99]), Greater);
    // A shorter current version reads as zeros: 2.0 == 2.0.0; beta below rc.
    assert_eq!(compare_versions(&[2, 0], &[2, 0, 0]), Equal);
    assert_eq!(compare_versions(&[1, 2, -2], &[1, 2, -1]), Less);
}

#[test]
fn version_condition_passes_and_refuses_by_comparison_type() {
    let policy = spec_policy();
    // >= [1,0] and < [1,10]: 1.9.4 passes (the draft's example).
    let install =
        |cmp1, v1: &[i64]| on_c0(vec![(28, version_param(cmp1, v1))], vec![int(28), int(15)]);
    for (cmp, v, ok) in [
        (2, &[1, 0][..], true),
        (5, &[1, 10][..], true),
        (1, &[1, 9, 3][..], true),
        (3, &[1, 9][..], true),
        (4, &[1, 9, 4][..], true),
        (1, &[1, 9, 4][..], false),
        (5, &[1, 9][..], false),
        (3, &[1, 8][..], false),
        (4, &[1, 9, 3][..], false),
        (2, &[1, 10][..], false),
    ] {
        let mut dev = Device::new().version(C0, &[1, 9, 4]);
        let r = run_install(install(cmp, v), &policy, &mut dev);
        if ok {
            r.unwrap();
            assert!(committed_c0(&dev), "{cmp} {v:?}");
        } else {
            let e = um(r);
            assert!(
                matches!(e, UmError::VersionMismatch { ref current, .. } if current == &[1, 9, 4]),
                "{cmp} {v:?}: {e:?}"
            );
            assert!(!dev.inner.committed());
        }
    }
}

#[test]
fn version_too_low_is_refused_with_the_named_condition() {
    let mut dev = Device::new().version(C0, &[1, 2]);
    let install = on_c0(
        vec![(28, version_param(2, &[2, 0]))],
        vec![int(28), int(15)],
    );
    let r = run_install(install, &spec_policy(), &mut dev);
    let words = r.as_ref().unwrap_err().to_string();
    assert!(
        words.contains("suit-condition-version failed") && words.contains("1.2 is not >= 2.0"),
        "{words}"
    );
    assert!(matches!(um(r), UmError::VersionMismatch { .. }));
    // The report names the condition: label 28, "condition-version", recorded as failed.
    assert!(dev
        .inner
        .conditions()
        .contains(&(ConditionKind::Version, false)));
    let label = suit_common::report::command_label(Event::Condition(ConditionKind::Version));
    assert_eq!(label, 28);
    assert_eq!(
        suit_common::report::command_name(label),
        "condition-version"
    );
    assert!(!dev.inner.committed());
}

#[test]
fn version_unknown_to_the_device_fails() {
    let mut dev = Device::new(); // no version for C0
    let install = on_c0(vec![(28, version_param(2, &[0]))], vec![int(28), int(15)]);
    assert_eq!(
        um(run_install(install, &spec_policy(), &mut dev)),
        UmError::VersionUnknown
    );
    // Without the parameter the condition cannot run.
    let mut dev = Device::new().version(C0, &[1]);
    let install = on_c0(vec![], vec![int(28), int(15)]);
    assert_eq!(
        kind(run_install(install, &spec_policy(), &mut dev)),
        CommandErrorKind::MissingParameter(ParameterKind::Version)
    );
}

#[test]
fn malformed_version_parameters_are_refused() {
    for bad in [
        version_param(0, &[1]),
        version_param(6, &[1]),
        wrap(&arr(vec![int(1), arr(vec![])])),
        wrap(&arr(vec![int(1)])),
        version_param(1, &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ] {
        let mut dev = Device::new().version(C0, &[1]);
        let install = on_c0(vec![(28, bad)], vec![int(28), int(15)]);
        let r = run_install(install, &spec_policy(), &mut dev);
        assert!(
            matches!(r, Err(Error::Invalid { .. }) | Err(Error::Limit(_))),
            "{r:?}"
        );
    }
}

// ---- suit-condition-use-before --------------------------------------------------------------

/// On component 0: set parameter `label` to `value`, then run the condition of the same
/// label (use-before and minimum-battery share their parameter's number).
fn condition_on(label: i64, value: u64) -> Vec<Value> {
    on_c0(
        vec![(label, Value::Integer(value.into()))],
        vec![int(label), int(15)],
    )
}

fn use_before(limit: u64) -> Vec<Value> {
    condition_on(4, limit)
}

#[test]
fn use_before_passes_before_the_limit_and_refuses_after() {
    let mut dev = Device::new().trusted_clock(1_000);
    run_install(use_before(2_000), &spec_policy(), &mut dev).unwrap();
    assert!(committed_c0(&dev));

    // A limit beyond 32 bits is compared in 64 bits.
    let mut dev = Device::new().trusted_clock(1_000);
    run_install(use_before(1 << 40), &spec_policy(), &mut dev).unwrap();

    let mut dev = Device::new().trusted_clock(1_000);
    assert_eq!(
        um(run_install(use_before(1_000), &spec_policy(), &mut dev)),
        UmError::Expired {
            now: 1_000,
            use_before: 1_000
        }
    );
    assert!(dev
        .inner
        .conditions()
        .contains(&(ConditionKind::UseBefore, false)));
    assert!(!dev.inner.committed());
}

#[test]
fn use_before_without_a_clock_is_refused_never_assumed() {
    let mut dev = Device::new();
    let r = run_install(use_before(u64::MAX), &spec_policy(), &mut dev);
    assert!(r.as_ref().unwrap_err().to_string().contains("no clock"));
    assert_eq!(um(r), UmError::TimeUnknown);
}

#[test]
fn use_before_against_an_untrusted_clock_follows_policy() {
    let untrusted = || Device {
        clock: Some(WallClock {
            seconds: 1_000,
            trusted: false,
        }),
        ..Device::new()
    };
    // Default (and the TA's) policy: REE-set time is not trusted, so the check is refused.
    let mut dev = untrusted();
    assert_eq!(
        um(run_install(use_before(2_000), &spec_policy(), &mut dev)),
        UmError::TimeUntrusted
    );
    // A device that opts in evaluates it (best effort), and still refuses an expired one.
    let mut policy = spec_policy();
    policy.update_management.accept_untrusted_time = true;
    let mut dev = untrusted();
    run_install(use_before(2_000), &policy, &mut dev).unwrap();
    let mut dev = untrusted();
    assert!(matches!(
        um(run_install(use_before(10), &policy, &mut dev)),
        UmError::Expired { .. }
    ));
}

// ---- suit-condition-minimum-battery ---------------------------------------------------------

fn battery(min: u64) -> Vec<Value> {
    condition_on(26, min)
}

#[test]
fn minimum_battery_passes_and_refuses() {
    let mut dev = Device {
        battery: Some(500),
        ..Device::new()
    };
    run_install(battery(500), &spec_policy(), &mut dev).unwrap();
    assert!(committed_c0(&dev));

    let mut dev = Device {
        battery: Some(499),
        ..Device::new()
    };
    let r = run_install(battery(500), &spec_policy(), &mut dev);
    suit_test_support::says(
        &r.as_ref().unwrap_err().to_string(),
        "suit-condition-minimum-battery failed",
    );
    assert_eq!(
        um(r),
        UmError::BatteryLow {
            have_mwh: 499,
            need_mwh: 500
        }
    );
}

#[test]
fn unknown_battery_follows_policy() {
    let mut dev = Device::new();
    assert_eq!(
        um(run_install(battery(1), &spec_policy(), &mut dev)),
        UmError::BatteryUnknown
    );
    let mut policy = spec_policy();
    policy.update_management.battery_unknown_passes = true;
    let mut dev = Device::new();
    run_install(battery(1), &policy, &mut dev).unwrap();
    assert!(committed_c0(&dev));
}

// ---- suit-parameter-update-priority / suit-condition-update-authorized ----------------------

fn authorized(priority: Option<i64>) -> Vec<Value> {
    let p = priority.map(|p| vec![(27, int(p))]).unwrap_or_default();
    on_c0(p, vec![int(27), int(15)])
}

#[test]
fn update_authorized_asks_the_platform_with_the_priority() {
    let mut dev = Device {
        authorization: Some(Authorization::Granted),
        ..Device::new()
    };
    run_install(authorized(Some(-3)), &spec_policy(), &mut dev).unwrap();
    assert_eq!(dev.asked, vec![Some(-3)]);
    assert!(committed_c0(&dev));

    let mut dev = Device {
        authorization: Some(Authorization::Denied),
        ..Device::new()
    };
    assert_eq!(
        um(run_install(authorized(Some(-3)), &spec_policy(), &mut dev)),
        UmError::NotAuthorized { priority: Some(-3) }
    );
    assert!(!dev.inner.committed());
}

#[test]
fn update_authorized_without_anyone_to_ask_follows_policy() {
    let mut dev = Device::new();
    assert_eq!(
        um(run_install(authorized(Some(-3)), &spec_policy(), &mut dev)),
        UmError::AuthorizationUnavailable { priority: Some(-3) }
    );
    // Auto-authorize priorities up to 0 (smaller = more urgent).
    let mut policy = spec_policy();
    policy.update_management.auto_authorize_priority = Some(0);
    let mut dev = Device::new();
    run_install(authorized(Some(-3)), &policy, &mut dev).unwrap();
    let mut dev = Device::new();
    assert!(matches!(
        um(run_install(authorized(Some(5)), &policy, &mut dev)),
        UmError::AuthorizationUnavailable { .. }
    ));
    // No priority at all is not authorized automatically.
    let mut dev = Device::new();
    assert!(matches!(
        um(run_install(authorized(None), &policy, &mut dev)),
        UmError::AuthorizationUnavailable { priority: None }
    ));
}

#[test]
fn policy_can_require_update_authorized() {
    let mut policy = spec_policy();
    policy.update_management.require_update_authorized = true;
    policy.update_management.auto_authorize_priority = Some(0);
    let mut dev = Device::new();
    let r = run_install(on_c0(vec![], vec![]), &policy, &mut dev);
    assert_eq!(
        r,
        Err(Error::Policy(PolicyError::UpdateManagement(
            UmError::AuthorizationRequired
        )))
    );
    // Inside a try-each option counts.
    let opt = wrap(&arr(vec![int(27), int(15)]));
    let mut dev = Device::new();
    run_install(
        on_c0(vec![(27, int(-1))], vec![int(15), arr(vec![opt])]),
        &policy,
        &mut dev,
    )
    .unwrap();
    assert!(committed_c0(&dev));
}

// ---- suit-condition-image-not-match ---------------------------------------------------------

#[test]
fn image_not_match_semantics() {
    let not_match = |d: &[u8]| on_c0(vec![(3, digest_value(d))], vec![int(25), int(15)]);
    // Installed content differs from the digest: passes.
    let mut dev = Device::new().installed(C0, b"old");
    run_install(not_match(b"new"), &spec_policy(), &mut dev).unwrap();
    assert!(committed_c0(&dev));
    // Absent component: matches no digest, passes.
    let mut dev = Device::new();
    run_install(not_match(b"new"), &spec_policy(), &mut dev).unwrap();
    // Installed content is the digest's: refused, named.
    let mut dev = Device::new().installed(C0, b"old");
    let r = run_install(not_match(b"old"), &spec_policy(), &mut dev);
    suit_test_support::says(
        &r.as_ref().unwrap_err().to_string(),
        "suit-condition-image-not-match failed",
    );
    assert_eq!(um(r), UmError::ImageMatches);
    assert!(dev
        .inner
        .conditions()
        .contains(&(ConditionKind::ImageNotMatch, false)));
    // No digest: the condition fails (the draft: "If no digest is specified, the condition fails").
    let mut dev = Device::new().installed(C0, b"old");
    assert_eq!(
        kind(install_on(&mut dev, on_c0(vec![], vec![int(25), int(15)]))),
        CommandErrorKind::MissingParameter(ParameterKind::ImageDigest)
    );
}

#[test]
fn image_not_match_in_try_each_skips_an_update_already_installed() {
    // try-each [ image-not-match, write ] [ nil ]: installs only if not already there.
    let opt = wrap(&arr(vec![int(25), int(15), int(18), int(15)]));
    let install = vec![
        int(12),
        int(0),
        int(20),
        map(vec![(3, digest_value(b"fw")), (18, bytes(b"fw"))]),
        int(15),
        arr(vec![opt, Value::Null]),
    ];
    let mut dev = Device::new().installed(C0, b"fw");
    run_install(install.clone(), &spec_policy(), &mut dev).unwrap();
    assert!(!dev
        .inner
        .log
        .iter()
        .any(|e| matches!(e, Effect::StageOpen(_))));
    let mut dev = Device::new().installed(C0, b"old");
    run_install(install, &spec_policy(), &mut dev).unwrap();
    assert!(committed_c0(&dev));
}

// ---- suit-directive-wait / suit-parameter-wait-info -----------------------------------------

fn wait(events: Vec<(i64, Value)>) -> Vec<Value> {
    on_c0(vec![(29, wrap(&map(events)))], vec![int(29), int(15)])
}

#[test]
fn wait_for_a_time_already_reached_passes_without_blocking() {
    let mut dev = Device::new().trusted_clock(5_000);
    run_install(wait(vec![(5, int(4_000))]), &spec_policy(), &mut dev).unwrap();
    assert!(dev.waits.is_empty());
    assert!(committed_c0(&dev));
    assert!(dev
        .inner
        .directives()
        .contains(&(Event::Wait, cid(C0), true)));
}

#[test]
fn wait_is_bounded_by_policy() {
    // The default policy lets nothing block: the platform is asked with a zero budget.
    let mut dev = Device {
        wait: Some((WaitOutcome::NotYet, 0)),
        ..Device::new()
    };
    let r = run_install(wait(vec![(3, int(1))]), &spec_policy(), &mut dev);
    suit_test_support::says(
        &r.as_ref().unwrap_err().to_string(),
        "suit-wait-event-network did not occur",
    );
    assert_eq!(um(r), UmError::WaitNotSatisfied(WaitEventKind::Network));
    assert_eq!(dev.waits, vec![(WaitEvent::Network(1), 0)]);
    assert!(!dev.inner.committed());

    // With a budget, the whole run shares it: what one wait spent the next cannot.
    let mut policy = spec_policy();
    policy.update_management.max_wait_seconds = 60;
    let mut dev = Device {
        wait: Some((WaitOutcome::Satisfied, 45)),
        ..Device::new()
    };
    let install = on_c0(
        vec![(29, wrap(&map(vec![(2, int(1)), (3, int(1))])))],
        vec![int(29), int(15), int(29), int(15)],
    );
    run_install(install, &policy, &mut dev).unwrap();
    let budgets: Vec<u64> = dev.waits.iter().map(|(_, b)| *b).collect();
    assert_eq!(budgets, vec![60, 15, 0, 0]);
    assert!(committed_c0(&dev));
}

#[test]
fn wait_events_the_device_cannot_observe_are_refused() {
    let mut dev = Device::new(); // default platform: no waiting at all
    assert_eq!(
        um(install_on(&mut dev, wait(vec![(6, int(3600))]))),
        UmError::WaitUnsupported(WaitEventKind::TimeOfDay)
    );
    // A future time without a clock: refused, not waited for.
    let mut dev = Device::new();
    assert_eq!(
        um(install_on(&mut dev, wait(vec![(5, int(10))]))),
        UmError::TimeUnknown
    );
    // Without wait-info the directive cannot run.
    let mut dev = Device::new();
    assert_eq!(
        kind(install_on(&mut dev, on_c0(vec![], vec![int(29), int(15)]))),
        CommandErrorKind::MissingParameter(ParameterKind::WaitInfo)
    );
}

#[test]
fn every_wait_event_kind_decodes() {
    let mut dev = Device {
        wait: Some((WaitOutcome::Satisfied, 0)),
        ..Device::new()
    }
    .trusted_clock(0);
    let other = arr(vec![
        bytes(b"dev-7"),
        arr(vec![arr(vec![int(2), arr(vec![int(3), int(1)])])]),
    ]);
    let events = vec![
        (1, int(-2)),
        (2, int(1)),
        (3, int(1)),
        (4, other),
        (5, int(10)),
        (6, int(3_600)),
        (7, int(1)),
        (8, int(7_200)),
        (9, int(6)),
    ];
    run_install(wait(events), &spec_policy(), &mut dev).unwrap();
    let kinds: Vec<WaitEventKind> = dev.waits.iter().map(|(e, _)| e.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            WaitEventKind::Authorization,
            WaitEventKind::Power,
            WaitEventKind::Network,
            WaitEventKind::OtherDeviceVersion,
            WaitEventKind::Time,
            WaitEventKind::TimeOfDay,
            WaitEventKind::DayOfWeek,
            WaitEventKind::TimeOfDayUtc,
            WaitEventKind::DayOfWeekUtc,
        ]
    );
    // An unknown wait event label is refused.
    let mut dev = Device::new();
    assert!(matches!(
        run_install(wait(vec![(10, int(1))]), &spec_policy(), &mut dev),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn wait_is_not_allowed_in_the_shared_sequence() {
    let comps = arr(vec![arr(vec![bytes(b"um"), bytes(b"0")])]);
    let shared = arr(vec![int(29), int(15)]);
    let common = map(vec![(2, comps), (4, wrap(&shared))]);
    let m = cbor(&map(vec![(1, int(1)), (2, int(1)), (3, wrap(&common))]));
    let mut dev = Device::new();
    assert!(matches!(
        run(&seal(&m), &spec_policy(), &mut dev),
        Err(Error::Invalid { at, .. }) if at == "suit-shared-sequence"
    ));
}

// ---- suit-directive-override-multiple -------------------------------------------------------

#[test]
fn override_multiple_sets_every_listed_component_and_ends_on_the_last() {
    let install = vec![
        int(34),
        map(vec![
            (0, map(vec![(18, bytes(b"zero"))])),
            (1, map(vec![(18, bytes(b"one"))])),
        ]),
        // The index is now 1: this write goes to component 1 only.
        int(18),
        int(15),
        int(12),
        int(0),
        int(18),
        int(15),
    ];
    let mut dev = Device::new();
    run_install(install, &spec_policy(), &mut dev).unwrap();
    assert_eq!(dev.inner.installed[&cid(C1)], b"one");
    assert_eq!(dev.inner.installed[&cid(C0)], b"zero");
    let writes: Vec<ComponentId> = dev
        .inner
        .directives()
        .into_iter()
        .map(|(_, c, _)| c)
        .collect();
    assert_eq!(writes, vec![cid(C1), cid(C0)]);
}

#[test]
fn override_multiple_refuses_an_index_out_of_range() {
    let install = vec![
        int(34),
        map(vec![(2, map(vec![(18, bytes(b"x"))]))]),
        int(18),
        int(15),
    ];
    let mut dev = Device::new();
    assert_eq!(
        kind(run_install(install, &spec_policy(), &mut dev)),
        CommandErrorKind::ComponentIndexOutOfRange(2)
    );
}

#[test]
fn override_multiple_identifiers_are_checked_by_policy() {
    // An anchor restricted to one vendor may not set another through override-multiple.
    let mut policy = spec_policy();
    policy.anchors[0].permissions.vendor_ids =
        vec![suit_common::suit::command::VendorId::Uuid(VENDOR_ID)];
    let install = vec![int(34), map(vec![(1, map(vec![(1, bytes(&[7u8; 16]))]))])];
    let mut dev = Device::new();
    assert_eq!(
        run_install(install, &policy, &mut dev),
        Err(Error::Policy(PolicyError::IdentifierNotPermitted))
    );
}

// ---- suit-directive-copy-params -------------------------------------------------------------

#[test]
fn copy_params_copies_only_the_listed_parameters() {
    let install = vec![
        int(12),
        int(0),
        int(20),
        map(vec![
            (18, bytes(b"shared")),
            (21, text("https://example/x")),
        ]),
        int(12),
        int(1),
        // Copy content (18) only, not the URI (21).
        int(35),
        map(vec![(0, arr(vec![int(18)]))]),
        int(18),
        int(15),
    ];
    let mut dev = Device::new();
    run_install(install.clone(), &spec_policy(), &mut dev).unwrap();
    assert_eq!(dev.inner.installed[&cid(C1)], b"shared");

    // The URI was not copied: a fetch on component 1 lacks it.
    let mut fetch = install[..8].to_vec();
    fetch.extend([int(21), int(15)]);
    let mut dev = Device::new();
    assert_eq!(
        kind(run_install(fetch, &spec_policy(), &mut dev)),
        CommandErrorKind::MissingParameter(ParameterKind::Uri)
    );
}

#[test]
fn copy_params_refuses_soft_failure_and_unknown_labels() {
    for (label, want_unsupported) in [(13, false), (99, true)] {
        let install = vec![
            int(12),
            int(1),
            int(35),
            map(vec![(0, arr(vec![int(label)]))]),
        ];
        let mut dev = Device::new();
        let r = run_install(install, &spec_policy(), &mut dev);
        if want_unsupported {
            assert!(matches!(r, Err(Error::Unsupported(_))), "{r:?}");
        } else {
            assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
        }
    }
}

// ---- suit-parameter-component-metadata ------------------------------------------------------

fn metadata() -> Value {
    wrap(&map(vec![
        (1, int(0b1_0110)),
        (2, Value::Map(vec![(text("alice"), int(0b11))])),
        (5, int(2)),
        (6, Value::Tag(1, Box::new(int(1_700_000_000)))),
        (8, Value::Tag(37, Box::new(bytes(&[9u8; 16])))),
    ]))
}

#[test]
fn component_metadata_is_applied_or_the_write_refused() {
    // A device that cannot apply metadata refuses rather than ignoring it.
    let mut dev = Device::new();
    let r = install_on(&mut dev, on_c0(vec![(30, metadata())], vec![]));
    suit_test_support::says(
        &r.as_ref().unwrap_err().to_string(),
        "suit-parameter-component-metadata",
    );
    assert_eq!(um(r), UmError::MetadataNotApplicable);
    assert!(!dev.inner.committed());

    // A device that can gets the decoded metadata before the write.
    let mut dev = Device {
        metadata: Some(Vec::new()),
        ..Device::new()
    };
    install_on(&mut dev, on_c0(vec![(30, metadata())], vec![])).unwrap();
    let log = dev.metadata.unwrap();
    assert_eq!(log.len(), 1);
    let (c, m) = &log[0];
    assert_eq!(c, &cid(C0));
    assert_eq!(m.file_type, Some(FileType::Directory));
    assert_eq!(m.default_permissions, Some(0b1_0110));
    assert_eq!(m.modification_time, Some(1_700_000_000));
    assert_eq!(m.user_permissions.len(), 1);

    // Policy may accept metadata it cannot apply.
    let mut policy = spec_policy();
    policy.update_management.ignore_component_metadata = true;
    let mut dev = Device::new();
    run_install(on_c0(vec![(30, metadata())], vec![]), &policy, &mut dev).unwrap();
    assert!(committed_c0(&dev));
}

#[test]
fn malformed_component_metadata_is_refused() {
    for bad in [
        wrap(&map(vec![(5, int(9))])),                  // unknown file type
        wrap(&map(vec![(6, int(5))])),                  // time without tag 1
        wrap(&map(vec![(9, int(5))])),                  // unknown member
        wrap(&map(vec![(8, text("evil\u{202e}txt"))])), // bidi override in text
        wrap(&map(vec![(2, Value::Map(vec![]))])),      // empty permission map
    ] {
        let mut dev = Device {
            metadata: Some(Vec::new()),
            ..Device::new()
        };
        let r = run_install(on_c0(vec![(30, bad)], vec![]), &spec_policy(), &mut dev);
        assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    }
}

/// A permission map's actor keys follow the rule of every SUIT map: strictly ascending under
/// either canonical order of RFC 8949 (§4.2.1 bytewise or §4.2.3 length-first), one order for
/// the whole map. Actors -1 and 1000 sort differently in the two; a map in neither order, or
/// naming an actor twice (the second time in a longer head), is refused.
#[test]
fn permission_maps_in_either_canonical_order_are_accepted() {
    // SUIT_Component_Metadata {2 (user permissions): <map>} around a raw permission map.
    let metadata = |perms: &[u8]| Value::Bytes([&[0xa1, 0x02][..], perms].concat());
    let install = |perms: &[u8]| {
        let mut dev = Device {
            metadata: Some(Vec::new()),
            ..Device::new()
        };
        let r = run_install(
            on_c0(vec![(30, metadata(perms))], vec![]),
            &spec_policy(),
            &mut dev,
        );
        r.map(|()| dev.metadata.unwrap()[0].1.user_permissions.clone())
    };
    use suit_common::suit::update_management::ActorId::Int;
    // {-1: 1, 1000: 2}, length-first (cbor2 canonical=True); {1000: 2, -1: 1}, bytewise.
    let length_first = [0xa2, 0x20, 0x01, 0x19, 0x03, 0xe8, 0x02];
    let bytewise = [0xa2, 0x19, 0x03, 0xe8, 0x02, 0x20, 0x01];
    assert_eq!(
        install(&length_first).unwrap(),
        [(Int(-1), 1), (Int(1000), 2)]
    );
    assert_eq!(install(&bytewise).unwrap(), [(Int(1000), 2), (Int(-1), 1)]);
    for bad in [
        &[0xa3, 0x19, 0x03, 0xe8, 0x02, 0x20, 0x01, 0x05, 0x03][..], // {1000, -1, 5}: neither
        &[0xa2, 0x05, 0x01, 0x01, 0x02],                             // {5, 1}: neither
        &[0xa2, 0x01, 0x01, 0x18, 0x01, 0x02],                       // actor 1 twice
        &[0xa2, 0x41, 0x07, 0x01, 0x59, 0x00, 0x01, 0x07, 0x02],     // actor h'07' twice
    ] {
        let r = install(bad);
        assert!(
            matches!(&r, Err(Error::Invalid { reason, .. }) if reason.text().contains("canonical order")),
            "{bad:02x?}: {r:?}"
        );
    }
}

// ---- suit-set-version, suit-coswid, suit-text version fields ----------------------------------

#[test]
fn set_version_coswid_and_text_versions_are_accepted() {
    let coswid = map(vec![
        (0, text("tag-id")),
        (1, text("example")),
        (12, int(0)),
    ]);
    // In a language's map (manifest-37 SUIT_Text_Map), keyed by a component of suit-common.
    let text_map = Value::Map(vec![(
        text("en"),
        Value::Map(vec![(
            arr(vec![bytes(b"um"), bytes(b"0")]),
            map(vec![
                (7, text(">=1.2.5,<2")),
                (8, text("1.3.0-rc.1+build.5")),
            ]),
        )]),
    )]);
    let m = manifest_with(vec![
        (6, wrap(&arr(vec![int(1), int(3), int(0), int(-1), int(1)]))),
        (14, wrap(&coswid)),
        (20, wrap(&arr(on_c0(vec![], vec![])))),
        (23, wrap(&text_map)),
    ]);
    let env = seal(&m);
    let auth = Envelope::decode(&env)
        .unwrap()
        .authenticate(&spec_policy().anchors)
        .unwrap();
    assert_eq!(auth.manifest.set_version, Some(vec![1, 3, 0, -1, 1]));
    assert!(auth.manifest.coswid.get().is_some());
    let mut dev = Device::new();
    run(&env, &spec_policy(), &mut dev).unwrap();
    assert!(committed_c0(&dev));

    // Severed CoSWID: the digest in the manifest, the tag in the envelope.
    let coswid_bytes = cbor(&coswid);
    let m = manifest_with(vec![
        (
            14,
            arr(vec![
                int(-16),
                bytes(&Sha256::digest(cbor(&Value::Bytes(coswid_bytes.clone())))),
            ]),
        ),
        (20, wrap(&arr(on_c0(vec![], vec![])))),
    ]);
    let env = seal_with(&m, &[(14, &coswid_bytes)]);
    let auth = Envelope::decode(&env)
        .unwrap()
        .authenticate(&spec_policy().anchors)
        .unwrap();
    assert_eq!(auth.manifest.coswid.get(), Some(&coswid_bytes));

    // A set-version that is not [+int] is refused.
    let m = manifest_with(vec![(6, wrap(&arr(vec![])))]);
    let env = seal(&m);
    let r = Envelope::decode(&env)
        .unwrap()
        .authenticate(&spec_policy().anchors)
        .map(|_| ());
    assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
}

#[test]
fn conditions_fail_softly_inside_try_each() {
    // A failed version check in one option falls through to the next (soft failure).
    let bad = wrap(&arr(vec![
        int(20),
        map(vec![(28, version_param(1, &[9]))]),
        int(28),
        int(15),
    ]));
    let good = wrap(&arr(vec![
        int(20),
        map(vec![(28, version_param(2, &[1]))]),
        int(28),
        int(15),
    ]));
    let install = on_c0(vec![], vec![int(15), arr(vec![bad, good])]);
    let mut dev = Device::new().version(C0, &[1, 0]);
    run_install(install, &spec_policy(), &mut dev).unwrap();
    assert_eq!(
        dev.inner
            .conditions()
            .into_iter()
            .filter(|(k, _)| *k == ConditionKind::Version)
            .collect::<Vec<_>>(),
        vec![
            (ConditionKind::Version, false),
            (ConditionKind::Version, true)
        ]
    );
    assert!(committed_c0(&dev));
}

// ---- reports ---------------------------------------------------------------------------------

#[test]
fn report_names_a_failed_version_condition() {
    use suit_common::report::{code, command_error_code, Failure, Reason};
    let mut dev = Device::new().version(C0, &[1, 2]);
    let env = seal(&manifest(on_c0(
        vec![(28, version_param(2, &[2, 0]))],
        vec![int(28), int(15)],
    )));
    let err = run(&env, &spec_policy(), &mut dev).unwrap_err();
    let f = Failure::from_error(&err, Some(&env));
    assert_eq!(f.reason, Reason::ConditionFailed);
    let Error::Command(c) = &err else { panic!() };
    assert_eq!(f.code, command_error_code(&c.kind));
    assert_eq!(f.code, code::COMMAND + 23);
    // The failing command is located and labelled: suit-condition-version (28) in install.
    assert_eq!(f.record.section, 20);
    assert_eq!(f.record.command, Some(28));
    assert!(
        f.detail
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
            .contains("suit-condition-version failed"),
        "{:?}",
        f.detail
    );
    // A wait that did not happen is an operation failure, not a failed condition.
    let mut dev = Device::new();
    let env = seal(&manifest(wait(vec![(3, int(1))])));
    let err = run(&env, &spec_policy(), &mut dev).unwrap_err();
    let f = Failure::from_error(&err, Some(&env));
    assert_eq!(f.reason, Reason::OperationFailed);
    assert_eq!(f.record.command, Some(29));
}
