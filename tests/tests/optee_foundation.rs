//! The foundation inside OP-TEE on QEMU: the environment is healthy, and the Rust agent
//! reaches the Rust TA through the real TEE driver and OP-TEE.

use suit_common::protocol::{PROTOCOL_VERSION, TA_UUID};
use suit_tests::{boot, consumer_uuids, Boot};

#[test]
fn optee_boots_and_xtest_1001_passes() {
    let run = boot(Boot::default(), &["xtest 1001"]);
    run.assert_ok();
    assert!(
        run.secure_log.contains("OP-TEE version: "),
        "no OP-TEE banner in the secure log"
    );
    assert!(
        run.secure_log.contains("4.10"),
        "unexpected OP-TEE version:\n{}",
        run.secure_log
    );
    let xtest = &run.command(0).output;
    assert!(
        xtest.contains("0 failed") && xtest.contains("1 test case"),
        "xtest 1001 did not report a clean pass:\n{xtest}"
    );
}

#[test]
fn agent_gets_status_from_the_ta() {
    let run = boot(
        Boot::default(),
        &["suit-agent status --json", "suit-agent status"],
    );
    run.assert_ok();
    let json = &run.command(0).output;
    let status: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(status["backend"], "optee");
    assert_eq!(status["protocol-version"], PROTOCOL_VERSION);
    assert_eq!(status["ta-version"], env!("CARGO_PKG_VERSION"));
    assert!(status["platform"]["tee-version"]
        .as_str()
        .unwrap_or("")
        .contains("4.10"));
    // QEMU's REE-FS storage has no RPMB: OP-TEE says 100 and the TA must warn about it.
    assert_eq!(status["platform"]["anti-rollback-level"], 100);
    let text = &run.command(1).output;
    assert!(
        text.contains("the normal world can roll back all of secure storage"),
        "{text}"
    );
    // Each production prerequisite this development build lacks is detected at run time.
    let prerequisites = status["platform"]["prerequisites"]
        .as_array()
        .unwrap_or_else(|| panic!("no prerequisites in {json}"));
    let met = |name: &str| {
        prerequisites
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {json}"))["met"]
            .clone()
    };
    for missing in [
        "secret-ta-signing-key",
        "hardware-unique-key",
        "rollback-protected-storage",
        "own-tpa-root",
    ] {
        assert_eq!(met(missing), false, "{missing}: {json}");
    }
    assert!(
        met("hardware-rng").is_null(),
        "not detectable by a TA: {json}"
    );
    assert!(
        text.contains("OP-TEE's public development key") && text.contains("all-zero stub HUK"),
        "{text}"
    );
}

#[test]
fn agent_errors_name_the_missing_piece() {
    let ta = format!("/usr/lib/optee_armtz/{TA_UUID}.ta");
    let run = boot(
        Boot::default(),
        &[
            // TA file gone: the agent says which TA is missing and where it belongs.
            &format!("mv {ta} /tmp/ && ! suit-agent status 2>/tmp/err; cat /tmp/err; mv /tmp/{TA_UUID}.ta {ta}"),
            // No TEE device node: the agent says so instead of a libteec error code.
            "mv /dev/tee0 /tmp/tee0 && ! suit-agent status 2>/tmp/err; cat /tmp/err; mv /tmp/tee0 /dev/tee0",
            "suit-agent status >/dev/null",
        ],
    );
    run.assert_ok();
    let missing_ta = &run.command(0).output;
    assert!(
        missing_ta.contains(&format!("TA {TA_UUID} is not installed")),
        "{missing_ta}"
    );
    let no_dev = &run.command(1).output;
    assert!(no_dev.contains("no TEE device at /dev/tee0"), "{no_dev}");
}

#[test]
fn secure_storage_disk_survives_a_reboot() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("data.img");
    boot(
        Boot {
            disk: Some(&disk),
            ..Default::default()
        },
        &[
            "echo marker > /data/ree/persist",
            "suit-agent status >/dev/null",
        ],
    )
    .assert_ok();
    let run = boot(
        Boot {
            disk: Some(&disk),
            ..Default::default()
        },
        &["cat /data/ree/persist", "ls /data/tee"],
    );
    run.assert_ok();
    assert_eq!(run.command(0).output.trim(), "marker");
    assert!(
        run.command(1).output.contains("dirf.db"),
        "OP-TEE's REE-FS secure storage is not on the disk"
    );
}

#[test]
fn a_ta_panic_fails_the_run_and_the_secure_log_names_it() {
    // The guest command ignores the client's failure on purpose: only the runner's scan of
    // the secure-world log can turn this run red.
    let (_, uuid_b) = consumer_uuids();
    let run = boot(
        Boot::default(),
        &[&format!("perso-consumer --uuid {uuid_b} panic; true")],
    );
    assert_eq!(
        run.status, 126,
        "a TA panic must fail the run; normal log:\n{}",
        run.normal_log
    );
    assert!(
        run.secure_log.contains("panicked"),
        "the secure log names the panic:\n{}",
        run.secure_log
    );
}
