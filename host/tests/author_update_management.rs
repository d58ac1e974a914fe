//! `suit-author create` with the update-management description fields
//! (draft-ietf-suit-update-management-14): the draft's exact forms, a round trip through the
//! device engine (a version that passes and one refused with the condition named), the
//! author-side refusals, and `inspect` naming the new labels.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
#![allow(clippy::useless_vec)]

use std::path::{Path, PathBuf};

use suit_common::suit::command::{Action, Command as Cmd};
use suit_common::suit::error::{CommandErrorKind, ConditionKind, Error};
use suit_common::suit::platform::PlatformError;
use suit_common::suit::policy::{Policy, Role, TrustAnchor};
use suit_common::suit::update_management::{Comparison, UmError, WaitEvent, WallClock};
use suit_common::suit::{process, ComponentId, Envelope, Procedure};
use suit_test_support::cli::{Dir, Out as Run};
use suit_test_support::{args, policy_of, RecordingPlatform};

suit_test_support::author_in_cwd!();

use suit_test_support::{CLASS_UUID as CLASS, VENDOR_UUID as VENDOR};

fn setup() -> Dir {
    let d = Dir::new();
    let r = run(&args![
        "keygen",
        "--type",
        "p256",
        "--out",
        d.path("signer"),
        "--cose"
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(d.path("fw.bin"), b"firmware v1.5").unwrap();
    d
}

fn describe(d: &Dir, component_extra: serde_json::Value, top_extra: serde_json::Value) -> PathBuf {
    let mut component = serde_json::json!({ "id": ["um", "fw"], "file": "fw.bin" });
    for (k, v) in component_extra.as_object().unwrap() {
        component[k] = v.clone();
    }
    let mut desc = serde_json::json!({
        "sequence-number": 3,
        "vendor-id": VENDOR,
        "class-id": CLASS,
        "components": [component],
    });
    for (k, v) in top_extra.as_object().unwrap() {
        desc[k] = v.clone();
    }
    let p = d.path("desc.json");
    std::fs::write(&p, serde_json::to_vec(&desc).unwrap()).unwrap();
    p
}

fn create(d: &Dir, desc: &Path) -> (Run, PathBuf) {
    let env = d.path("out.suit");
    let r = run(&args![
        "create",
        desc,
        "-o",
        &env,
        "--sign-key",
        d.path("signer.priv.pem")
    ]);
    (r, env)
}

fn policy(d: &Dir) -> Policy {
    let key = suit_host::author::keys::load_public(&d.path("signer.pub.pem"))
        .unwrap()
        .key
        .verification_key()
        .unwrap();
    policy_of(vec![TrustAnchor::unrestricted(1, key, Role::Author)])
}

/// The examples' recording device (vendor and class) with a trusted clock, a battery, and a
/// version for the component.
struct Device {
    inner: RecordingPlatform,
    version: Vec<i64>,
}

impl Device {
    fn new(version: &[i64]) -> Self {
        Device {
            inner: RecordingPlatform::spec_device(),
            version: version.to_vec(),
        }
    }
}

suit_test_support::recording_platform_via!(Device, inner, {
    fn wall_clock(&self) -> Option<WallClock> {
        Some(WallClock {
            seconds: 1_700_000_000,
            trusted: true,
        })
    }
    fn battery_mwh(&self) -> Option<u64> {
        Some(1_000)
    }
    fn component_version(&self, _c: &ComponentId) -> Result<Option<Vec<i64>>, PlatformError> {
        Ok(Some(self.version.clone()))
    }
});

/// `inspect --json` of `env` succeeds and names each of `needles`.
fn inspect_names(env: &Path, needles: &[&str]) {
    let r = run(&args!["inspect", "--json", env]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in needles {
        assert!(r.stdout.contains(needle), "{needle} missing:\n{}", r.stdout);
    }
}

fn full_fields() -> serde_json::Value {
    serde_json::json!({
        "version": { "compare": ">=", "value": [1, 2] },
        "use-before": 1_800_000_000u64,
        "minimum-battery": 500,
        "version-required-text": ">=1.2,<2",
        "current-version-text": "1.5.0"
    })
}

#[test]
fn create_emits_the_drafts_forms_and_the_engine_runs_them() {
    let d = setup();
    let desc = describe(
        &d,
        full_fields(),
        serde_json::json!({ "set-version": [1, 5, 0] }),
    );
    let (r, env) = create(&d, &desc);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = std::fs::read(&env).unwrap();
    let policy = policy(&d);
    let auth = Envelope::decode(&bytes)
        .unwrap()
        .authenticate(&policy.anchors)
        .unwrap();
    let m = &auth.manifest;
    assert_eq!(m.set_version, Some(vec![1, 5, 0]));
    // install: set-component-index 0, override-parameters {4, 26, 28}, use-before,
    // minimum-battery, version (label order), then the fetch part.
    let install = m.install.get().unwrap();
    let Cmd::OverrideParameters(p) = &install.commands[1] else {
        panic!("{:?}", install.commands)
    };
    assert_eq!(p.use_before, Some(1_800_000_000));
    assert_eq!(p.minimum_battery, Some(500));
    let v = p.version.as_ref().unwrap();
    assert_eq!(
        (v.comparison, v.value.clone()),
        (Comparison::GreaterEqual, vec![1, 2])
    );
    let conds: Vec<ConditionKind> = install.commands[2..5]
        .iter()
        .map(|c| match c {
            Cmd::Condition(k, 15) => *k,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        conds,
        vec![
            ConditionKind::UseBefore,
            ConditionKind::MinimumBattery,
            ConditionKind::Version
        ]
    );
    // suit-text, as the manifest draft's SUIT_Text_Map: a language tag ("en" by default)
    // to its SUIT_Text_LMap: {"en": {['um','fw']: {7: ">=1.2,<2", 8: "1.5.0"}}}.
    let text: ciborium::Value = ciborium::from_reader(m.text.get().unwrap().as_slice()).unwrap();
    let languages = text.as_map().expect("SUIT_Text_Map");
    assert_eq!(languages.len(), 1, "{text:?}");
    let (language, lmap) = &languages[0];
    assert_eq!(language.as_text(), Some("en"), "{text:?}");
    let lmap = lmap.as_map().expect("SUIT_Text_LMap");
    let (id, entries) = &lmap[0];
    assert!(id.is_array(), "{text:?}");
    let entries: Vec<(i128, &str)> = entries
        .as_map()
        .expect("SUIT_Text_Component_Keys")
        .iter()
        .map(|(k, v)| (k.as_integer().unwrap().into(), v.as_text().unwrap()))
        .collect();
    assert_eq!(entries, [(7, ">=1.2,<2"), (8, "1.5.0")]);

    // Round trip: a device at 1.5 installs it ...
    let mut dev = Device::new(&[1, 5]);
    process(
        &bytes,
        Procedure::Update,
        &policy,
        &suit_common::encryption::MemoryKeys::new(),
        &mut dev,
    )
    .unwrap();
    assert!(dev.inner.committed());
    // ... a device at 1.1 refuses it, naming the condition.
    let mut dev = Device::new(&[1, 1]);
    let e = process(
        &bytes,
        Procedure::Update,
        &policy,
        &suit_common::encryption::MemoryKeys::new(),
        &mut dev,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("suit-condition-version failed"),
        "{e}"
    );
    assert!(matches!(
        e,
        Error::Command(ref c) if matches!(&c.kind, CommandErrorKind::UpdateManagement(u) if matches!(**u, UmError::VersionMismatch { .. }))
    ));
    assert!(!dev.inner.committed());

    // inspect names the labels.
    inspect_names(
        &env,
        &[
            "condition-version",
            "condition-use-before",
            "condition-minimum-battery",
            "\"version\": \">= 1.2\"",
            "\"set-version\": \"1.5.0\"",
            "current-version",
            "version-required",
            "\"en\": {",
        ],
    );
}

/// `text.language` names suit-text's language; one that is not an RFC 9290 tag38 language
/// tag is refused.
#[test]
fn suit_text_is_in_the_language_the_description_names() {
    let d = setup();
    let desc = describe(
        &d,
        serde_json::json!({ "current-version-text": "1.5.0" }),
        serde_json::json!({ "text": { "language": "de-AT", "update-description": "neu" } }),
    );
    let (r, env) = create(&d, &desc);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = std::fs::read(&env).unwrap();
    let auth = Envelope::decode(&bytes)
        .unwrap()
        .authenticate(&policy(&d).anchors)
        .unwrap();
    let text: ciborium::Value =
        ciborium::from_reader(auth.manifest.text.get().unwrap().as_slice()).unwrap();
    let languages = text.as_map().unwrap();
    assert_eq!(languages.len(), 1);
    assert_eq!(languages[0].0.as_text(), Some("de-AT"));
    // Manifest-wide entries (2: update description) before the component's.
    let lmap = languages[0].1.as_map().unwrap();
    assert_eq!(lmap[0].0.as_integer(), Some(2.into()));
    assert_eq!(lmap[0].1.as_text(), Some("neu"));
    assert!(lmap[1].0.is_array());
    for bad in ["", "en_US", "toolonglanguage", "en-", "1en"] {
        let desc = describe(
            &d,
            serde_json::json!({}),
            serde_json::json!({ "text": { "language": bad } }),
        );
        let (r, _) = create(&d, &desc);
        assert_ne!(r.code, 0, "{bad:?}");
        assert!(r.stderr.contains("language tag"), "{bad:?}: {}", r.stderr);
    }
}

#[test]
fn wait_priority_and_metadata_are_emitted() {
    let d = setup();
    let desc = describe(
        &d,
        serde_json::json!({
            "update-priority": -1,
            "wait": { "network": 1, "time-of-day-utc": 7200 },
            "metadata": { "file-type": "regular", "default-permissions": 4, "creator": "alice",
                          "user-permissions": { "bob": 6, "al": 4 } }
        }),
        serde_json::json!({}),
    );
    let (r, env) = create(&d, &desc);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = std::fs::read(&env).unwrap();
    let auth = Envelope::decode(&bytes)
        .unwrap()
        .authenticate(&policy(&d).anchors)
        .unwrap();
    let install = auth.manifest.install.get().unwrap();
    let Cmd::OverrideParameters(p) = &install.commands[1] else {
        panic!("{:?}", install.commands)
    };
    assert_eq!(p.update_priority, Some(-1));
    assert_eq!(
        p.wait_info.as_ref().unwrap().events,
        vec![WaitEvent::Network(1), WaitEvent::TimeOfDayUtc(7200)]
    );
    let meta = p.component_metadata.as_ref().unwrap();
    assert_eq!(meta.default_permissions, Some(4));
    assert_eq!(meta.user_permissions.len(), 2);
    // update-authorized, then the wait last.
    assert_eq!(
        install.commands[2..4].to_vec(),
        vec![
            Cmd::Condition(ConditionKind::UpdateAuthorized, 15),
            Cmd::Action(Action::Wait, 15)
        ]
    );
    inspect_names(
        &env,
        &[
            "directive-wait",
            "condition-update-authorized",
            "network (3)",
            "file-type (5)",
        ],
    );
}

#[test]
fn create_refuses_what_the_draft_does_not_allow() {
    let d = setup();
    for (fields, needle) in [
        (
            serde_json::json!({ "version": { "compare": "=>", "value": [1] } }),
            "compare",
        ),
        (
            serde_json::json!({ "version": { "compare": ">", "value": [-1, 2] } }),
            "pre-release",
        ),
        (
            serde_json::json!({ "version": { "compare": ">", "value": [] } }),
            "1 to 8",
        ),
        // The draft defines three pre-release classes, one indicator, after 1 to 3 integers.
        (
            serde_json::json!({ "version": { "compare": ">=", "value": [1, 2, -4] } }),
            "only -1 (RC), -2 (beta) and -3 (alpha)",
        ),
        (
            serde_json::json!({ "version": { "compare": ">=", "value": [1, 2, 3, -1, -3] } }),
            "at most one pre-release indicator",
        ),
        (
            serde_json::json!({ "version": { "compare": ">=", "value": [1, 2, 3, 4, -1] } }),
            "release of 1 to 3 integers",
        ),
        (
            serde_json::json!({ "wait": { "tomorrow": 1 } }),
            "unknown event",
        ),
        (
            serde_json::json!({ "current-version-text": "1.0\u{1b}[31m" }),
            "printable",
        ),
        (
            serde_json::json!({ "metadata": { "file-type": "fifo" } }),
            "file-type",
        ),
        (serde_json::json!({ "use-before": "soon" }), "expected u64"),
    ] {
        let desc = describe(&d, fields.clone(), serde_json::json!({}));
        let (r, _) = create(&d, &desc);
        assert_ne!(r.code, 0, "{fields}");
        assert!(r.stderr.contains(needle), "{fields}: {}", r.stderr);
    }
    // The draft's own examples, and another numbering scheme's integers (no indicator).
    for value in [
        serde_json::json!([1, 2, -1, 3]),
        serde_json::json!([1, 2, 3, -3, 4]),
        serde_json::json!([2025, 12, 6]),
        serde_json::json!([1, 2, 3, 4, 5]),
    ] {
        let fields = serde_json::json!({ "version": { "compare": ">=", "value": value } });
        let desc = describe(&d, fields.clone(), serde_json::json!({}));
        let (r, _) = create(&d, &desc);
        assert_eq!(r.code, 0, "{fields}: {}", r.stderr);
    }
}
