//! `suit-agent resume`, `abandon` and `status` on a simulated device whose commit awaits its
//! envelope again: the journal a power cut leaves when it interrupts OP-TEE's install of a
//! TA image kept in TA memory only (a pending commit naming the envelope's SHA-256, no image
//! object), written into the simulator's state as the TA stores it. `resume` re-runs the
//! install the agent recorded, says so and removes a stale record when nothing is awaited,
//! and fails naming the ways out when the record does not hold the awaited envelope;
//! `abandon` ends the commit unapplied.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::Path;

use sha2::Digest as _;
use suit_common::protocol::ByteBuf;
use suit_common::service::install::{Journal, PendingCommit};
use suit_common::service::record;
use suit_common::service::state::{ComponentRecord, State};
use suit_host::inflight::{copy_path, InstallRecord, RECORD_NAME};
use support::device::{agent, device, envelope, fails, installed_components, ok, status};

/// A TA's uuid for the commit `abandon` gives up.
const TA: [u8; 16] = [0x5e; 16];

fn object(d: &Path, name: &str) -> std::path::PathBuf {
    d.join("state").join(hex::encode(name))
}

/// Leaves the simulated device as a power cut inside OP-TEE's install of a kept TA image
/// does: a pending commit one generation on (which installs TA [`TA`]), awaiting the
/// envelope of SHA-256 `digest`.
fn awaiting(d: &Path, digest: &[u8]) {
    let state: State =
        record::decode_stored(&std::fs::read(object(d, "suit/state")).unwrap(), 1 << 20).unwrap();
    let mut next = state.clone();
    next.generation += 1;
    next.components.push(ComponentRecord {
        id: vec![ByteBuf::from(TA.to_vec())],
        digest: ByteBuf::from(vec![7; 32]),
        size: 1,
        object: String::new(),
        sequence_number: 9,
        ta_version: Some(2),
        digest_withheld: false,
        released_by: Vec::new(),
    });
    let journal = Journal {
        objects: vec![],
        pending: Some(PendingCommit {
            state: next,
            tas: vec![],
            envelope: Some(ByteBuf::from(digest.to_vec())),
        }),
    };
    std::fs::write(object(d, "suit/journal"), record::encode(&journal).unwrap()).unwrap();
}

/// A simulated device with envelope `v1.suit` (installing `app`, its payload in `payloads/`)
/// not installed yet: the directory and the envelope's SHA-256.
fn scenario() -> (tempfile::TempDir, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    device(d);
    std::fs::write(d.join("fw.bin"), support::device::payload(5000, 1)).unwrap();
    envelope(d, "v1", 1, "fw.bin", "https://example.com/fw.bin", false);
    let digest = sha2::Sha256::digest(std::fs::read(d.join("v1.suit")).unwrap()).to_vec();
    (tmp, digest)
}

/// The install record `suit-agent install v1.suit --payload-dir payloads` writes before
/// InstallFinish, at the simulator's default place.
fn record_install(d: &Path, digest: &[u8]) {
    record_install_from(d, digest, &d.join("payloads"));
}

/// [`record_install`] with `--payload-dir payload_dir`.
fn record_install_from(d: &Path, digest: &[u8], payload_dir: &Path) {
    let r = InstallRecord {
        envelope_sha256: hex::encode(digest),
        shown: "v1.suit".into(),
        payloads: vec![],
        payload_dir: Some(payload_dir.to_path_buf()),
        ree_root: None,
        net: false,
        origins: vec![],
        allow_url_prefix: vec![],
        ca_file: None,
        max_payload_bytes: 1 << 20,
    };
    let bytes = std::fs::read(d.join("v1.suit")).unwrap();
    r.save(&d.join("state").join(RECORD_NAME), &bytes).unwrap();
}

/// `status` shows the awaited envelope, every other command is refused with the ways out,
/// `resume` without a record of it fails naming them, and with the record installs it.
#[test]
fn resume_reinstalls_the_recorded_envelope() {
    let (tmp, digest) = scenario();
    let d = tmp.path();
    let hex = hex::encode(&digest);
    awaiting(d, &digest);

    let shown = ok(agent(d, &["status"]));
    assert!(
        shown.contains(&format!(
            "AWAITING ENVELOPE:   an interrupted update awaits envelope SHA-256 {hex}"
        )) && shown.contains(&format!("`suit-agent abandon {hex}`")),
        "{shown}"
    );
    assert_eq!(status(d)["service"]["awaiting-envelope"], hex.as_str());
    let refused = fails(agent(d, &["anchors"]), 3);
    assert!(
        refused.contains(
            "(which re-installs it if this agent recorded its install), or `suit-agent install` \
             that envelope again, or give the update up with"
        ) && refused.contains(&format!("abandon {hex}")),
        "{refused}"
    );

    let unknown = fails(agent(d, &["resume"]), 3);
    assert!(
        unknown.contains(&format!("the TA awaits envelope SHA-256 {hex}"))
            && unknown.contains("holds none")
            && unknown.contains(&format!("`suit-agent abandon {hex}`")),
        "{unknown}"
    );

    record_install(d, &digest);
    let record = d.join("state").join(RECORD_NAME);
    // From another directory, as a boot script runs it.
    let elsewhere = tempfile::tempdir().unwrap();
    let state = d.join("state");
    let resumed = ok(support::device::run(
        env!("CARGO_BIN_EXE_suit-agent"),
        elsewhere.path(),
        &["--tee", "sim", "--state", state.to_str().unwrap(), "resume"],
        &[],
    ));
    assert!(
        resumed.contains(&format!(
            "the TA awaits envelope SHA-256 {hex}: installing v1.suit"
        )) && resumed.contains("installed v1.suit (sequence number 1"),
        "{resumed}"
    );
    assert_eq!(
        status(d)["service"]["awaiting-envelope"],
        serde_json::Value::Null
    );
    assert_eq!(installed_components(d), 1);
    assert!(!record.exists() && !copy_path(&record).exists());
    let nothing = ok(agent(d, &["resume"]));
    assert!(nothing.contains("nothing to resume"), "{nothing}");
}

/// Nothing awaited: `resume` says so, removes a stale record (the install it names ended
/// before the agent could remove it) and succeeds.
#[test]
fn resume_with_nothing_awaited_removes_a_stale_record() {
    let (tmp, digest) = scenario();
    let d = tmp.path();
    record_install(d, &digest);
    let record = d.join("state").join(RECORD_NAME);
    assert!(record.exists());
    let said = ok(agent(d, &["resume"]));
    assert!(
        said.contains("no interrupted update awaits its envelope: nothing to resume")
            && said.contains("removed the stale install record"),
        "{said}"
    );
    assert!(!record.exists() && !copy_path(&record).exists());
    assert_eq!(installed_components(d), 0);
}

/// `abandon` of another digest changes nothing (exit 1, naming the awaited one), a malformed
/// one is a usage error, the awaited one ends the update unapplied with its TA unconfirmed,
/// and the same abandon again says nothing awaits.
#[test]
fn abandon_ends_the_awaited_update_unapplied() {
    let (tmp, digest) = scenario();
    let d = tmp.path();
    let hex = hex::encode(&digest);
    awaiting(d, &digest);
    record_install(d, &digest);
    let other = hex::encode([0xab; 32]);
    let refused = fails(agent(d, &["abandon", &other]), 1);
    assert!(
        refused.contains("no interrupted update awaits that envelope")
            && refused.contains(&format!(
                "the TA awaits envelope SHA-256 {hex}, not {other}"
            )),
        "{refused}"
    );
    fails(agent(d, &["abandon", "12ab"]), 2);

    let done = ok(agent(d, &["abandon", "--envelope", "v1.suit"]));
    assert!(
        done.contains(&format!(
            "abandoned the interrupted update of envelope SHA-256 {hex}: the update was not \
             applied, and the device's state is the one before it; OP-TEE's TA store may hold \
             either image of the update's TA"
        )) && !done.contains("keeps its earlier state")
            && done.contains(&format!(
                "TA {} is marked unconfirmed until an update installs it",
                suit_common::text::uuid(&TA)
            )),
        "{done}"
    );
    let shown = ok(agent(d, &["status"]));
    assert!(
        !shown.contains("AWAITING ENVELOPE") && shown.contains("UNCONFIRMED TA"),
        "{shown}"
    );
    let record = d.join("state").join(RECORD_NAME);
    assert!(
        !record.exists(),
        "the record of the abandoned install stays"
    );
    let again = fails(agent(d, &["abandon", &hex]), 1);
    assert!(
        again.contains("no interrupted update awaits an envelope; nothing was changed"),
        "{again}"
    );
}

/// `install` records the install before it commits, and removes the record once the TA
/// answered; a record that cannot be written is named in a warning, not a failure.
#[test]
fn install_records_its_commit_until_the_ta_answers() {
    let (tmp, _) = scenario();
    let d = tmp.path();
    std::fs::write(d.join("not-a-dir"), b"").unwrap();
    let said = ok(agent(
        d,
        &[
            "install",
            "v1.suit",
            "--payload-dir",
            "payloads",
            "--install-record",
            "not-a-dir/record.json",
        ],
    ));
    assert!(
        said.contains("warning: the install is not recorded"),
        "{said}"
    );
    envelope(d, "v2", 2, "fw.bin", "https://example.com/fw.bin", false);
    let said = support::device::text(&support::device::agent_env(
        d,
        &["install", "v2.suit", "--payload-dir", "payloads"],
        &[("SUIT_AGENT_INSTALL_RECORD", "rec/install.json")],
    ));
    assert!(
        said.contains("installed v2.suit") && !said.contains("warning"),
        "{said}"
    );
    // Written (its directory made), then removed with its copy.
    assert!(d.join("rec").is_dir());
    assert!(!d.join("rec/install.json").exists() && !d.join("rec/install.json.envelope").exists());
}

/// The payloads were under /tmp, cleared by the reboot after the power cut: `resume` sends
/// the envelope again from its copy, the TA refuses the commit for the payload not delivered
/// and still awaits the envelope, so the record and its copy stay, and the error names
/// `resume` and `abandon` (review s39: both were deleted).
#[test]
fn resume_keeps_the_record_while_the_ta_still_awaits_after_a_refusal() {
    let (tmp, digest) = scenario();
    let d = tmp.path();
    let hex = hex::encode(&digest);
    awaiting(d, &digest);
    record_install_from(d, &digest, &d.join("gone-after-reboot"));
    let record = d.join("state").join(RECORD_NAME);
    let out = agent(d, &["resume"]);
    let said = support::device::text(&out);
    assert!(!out.status.success(), "{said}");
    assert_eq!(status(d)["service"]["awaiting-envelope"], hex.as_str());
    assert!(
        record.exists() && copy_path(&record).exists(),
        "the record is deleted while the TA still awaits its envelope:\n{said}"
    );
    assert!(
        said.contains("the TA still awaits this envelope")
            && said.contains("`suit-agent resume` sends it again")
            && said.contains(&format!("`suit-agent abandon {hex}`")),
        "{said}"
    );
    // The payloads back: resumed, and the record gone.
    std::fs::rename(d.join("payloads"), d.join("gone-after-reboot")).unwrap();
    let resumed = ok(agent(d, &["resume"]));
    assert!(resumed.contains("installed v1.suit"), "{resumed}");
    assert!(!record.exists() && !copy_path(&record).exists());
}

/// The TA cannot read its journal yet (storage not up at boot: its reconcile fails): status
/// has a state error and no awaited envelope, since the TA cannot tell. `resume` keeps the
/// record and fails (exit 3) naming the state error; once storage is back it resumes
/// (review s39: the record was removed as stale).
#[test]
fn resume_keeps_the_record_while_the_ta_cannot_read_its_state() {
    let (tmp, digest) = scenario();
    let d = tmp.path();
    awaiting(d, &digest);
    record_install(d, &digest);
    let record = d.join("state").join(RECORD_NAME);
    let journal = object(d, "suit/journal");
    let kept = std::fs::read(&journal).unwrap();
    std::fs::remove_file(&journal).unwrap();
    std::fs::create_dir(&journal).unwrap();
    let said = fails(agent(d, &["resume"]), 3);
    assert!(
        said.contains("cannot read its state")
            && said.contains("the install record")
            && said.contains("is kept"),
        "{said}"
    );
    assert!(record.exists() && copy_path(&record).exists(), "{said}");
    std::fs::remove_dir(&journal).unwrap();
    std::fs::write(&journal, kept).unwrap();
    let resumed = ok(agent(d, &["resume"]));
    assert!(resumed.contains("installed v1.suit"), "{resumed}");
    assert!(!record.exists());
}

/// A record others could have written (group-writable here) grants nothing: `resume` fails
/// (exit 3) saying why, and neither uses nor removes it (review s39).
#[test]
fn resume_refuses_a_record_not_kept_privately() {
    use std::os::unix::fs::PermissionsExt as _;
    let (tmp, digest) = scenario();
    let d = tmp.path();
    awaiting(d, &digest);
    record_install(d, &digest);
    let record = d.join("state").join(RECORD_NAME);
    std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o660)).unwrap();
    let said = fails(agent(d, &["resume"]), 3);
    assert!(
        said.contains("the install record is not kept safely")
            && said.contains("not a regular file of this user"),
        "{said}"
    );
    assert!(record.exists() && copy_path(&record).exists());
    assert_eq!(installed_components(d), 0);
    std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o600)).unwrap();
    let resumed = ok(agent(d, &["resume"]));
    assert!(resumed.contains("installed v1.suit"), "{resumed}");
}

/// The record is text from a file: `resume` shows its fields as every agent message shows
/// outside text, control characters escaped (review s39).
#[test]
fn resume_shows_the_records_text_escaped() {
    let (tmp, digest) = scenario();
    let d = tmp.path();
    let record = d.join("state").join(RECORD_NAME);
    let bytes = std::fs::read(d.join("v1.suit")).unwrap();
    let r = InstallRecord {
        envelope_sha256: hex::encode(&digest),
        shown: "v1\u{1b}[2J.suit".into(),
        payloads: vec![],
        payload_dir: Some(d.join("payloads")),
        ree_root: None,
        net: false,
        origins: vec![],
        allow_url_prefix: vec![],
        ca_file: None,
        max_payload_bytes: 1 << 20,
    };
    r.save(&record, &bytes).unwrap();
    awaiting(d, &digest);
    let said = ok(agent(d, &["resume"]));
    assert!(
        !said.contains('\u{1b}') && said.contains("installed v1\\u{1b}[2J.suit"),
        "{said}"
    );
    // The same record, stale now.
    r.save(&record, &bytes).unwrap();
    let said = ok(agent(d, &["resume"]));
    assert!(
        said.contains("removed the stale install record") && !said.contains('\u{1b}'),
        "{said}"
    );
}

/// `resume --json` and `abandon --json`: one JSON document each, the re-run install's with
/// `"resumed": true`, the abandon's naming the envelope, the record removed and the TA left
/// unconfirmed; standard output holds nothing else.
#[test]
fn resume_and_abandon_speak_json() {
    let json = |o: std::process::Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", support::device::text(&o));
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!("not one JSON document ({e}): {}", support::device::text(&o))
        })
    };
    let (tmp, digest) = scenario();
    let d = tmp.path();
    awaiting(d, &digest);
    record_install(d, &digest);
    let resumed = json(agent(d, &["resume", "--json"]));
    assert_ne!(resumed["ok"], false, "{resumed}");
    assert_eq!(resumed["resumed"], true, "{resumed}");
    assert_eq!(resumed["sequence-number"], 1, "{resumed}");
    assert_eq!(installed_components(d), 1);

    // A new device: its envelope (and SHA-256) is another.
    let (tmp, digest) = scenario();
    let d = tmp.path();
    let hex = hex::encode(&digest);
    awaiting(d, &digest);
    record_install(d, &digest);
    let record = d.join("state").join(RECORD_NAME);
    let abandoned = json(agent(d, &["abandon", &hex, "--json"]));
    assert_eq!(abandoned["ok"], true, "{abandoned}");
    assert_eq!(abandoned["abandoned"], hex.as_str(), "{abandoned}");
    assert_eq!(abandoned["install-record-removed"], true, "{abandoned}");
    assert_eq!(
        abandoned["unconfirmed-tas"],
        serde_json::json!([suit_common::text::uuid(&TA)]),
        "{abandoned}"
    );
    assert!(!record.exists());
    let nothing = json(agent(d, &["resume", "--json"]));
    assert_eq!(
        nothing,
        serde_json::json!({
            "ok": true,
            "resumed": false,
            "awaiting-envelope": null,
            "removed-stale-record": null,
        })
    );
}
