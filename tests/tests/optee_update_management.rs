//! Update management (draft-ietf-suit-update-management-14) in the TA on QEMU: the TA
//! answers suit-condition-version with the installed TA's `ta_version`, so an update that
//! asks for a version the device does not have is refused with the condition named, and one
//! whose version condition holds installs. use-before against OP-TEE's REE time is refused by
//! the TA's policy (the normal world sets that clock).

use suit_tests::{
    boot, consumer_author_device, consumer_tas, consumer_uuids, provision_and_envelopes, Boot,
};

fn manifest(seq: u64, uuid: &str, ta: &std::path::Path, extra: &str) -> String {
    format!(
        r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}},
            "components": [{{"ta-uuid": "{uuid}", "file": "{}", "uri": "https://ta.example.com/consumer.ta"{extra}}}]}}"#,
        ta.display()
    )
}

#[test]
fn version_condition_passes_or_refuses_in_the_ta() {
    let (uuid, _) = consumer_uuids();
    let (ta_v1, ta_v2) = consumer_tas();
    let (dir, disk) = consumer_author_device(&uuid, false);
    let d = dir.path();
    // v1 (ta_version 1) plain; v2 only from a version >= 2 (refused); v2 only from version 1
    // (installs); v2 with a use-before far in the future (refused: REE time is not trusted).
    let cases = [
        ("v1", manifest(1, &uuid, &ta_v1, "")),
        (
            "need2",
            manifest(
                2,
                &uuid,
                &ta_v2,
                r#", "version": {"compare": ">=", "value": [2]}"#,
            ),
        ),
        (
            "from1",
            manifest(
                3,
                &uuid,
                &ta_v2,
                r#", "version": {"compare": "=", "value": [1]}, "current-version-text": "2.0""#,
            ),
        ),
        (
            "expiry",
            manifest(4, &uuid, &ta_v2, r#", "use-before": 4102444800"#),
        ),
    ];
    let puts = provision_and_envelopes(d, &cases);
    let put_refs: Vec<&str> = puts.iter().map(String::as_str).collect();
    let cmds = [
        "suit-agent provision /up/provision.cbor",
        "suit-agent install /up/v1.suit --payload-dir /up/v1",
        "! suit-agent install /up/need2.suit --payload-dir /up/need2 2>&1",
        "suit-agent status",
        "suit-agent install /up/from1.suit --payload-dir /up/from1",
        "suit-agent status",
        "! suit-agent install /up/expiry.suit --payload-dir /up/expiry 2>&1",
    ];
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: put_refs,
            ..Default::default()
        },
        &cmds,
    );
    run.assert_ok();
    let refused = &run.command(2).output;
    assert!(
        refused.contains("suit-condition-version failed") && refused.contains("1 is not >= 2"),
        "{refused}"
    );
    assert!(
        run.command(3).output.contains("TA version 1"),
        "the refused update changed nothing: {}",
        run.command(3).output
    );
    run.says(5, "TA version 2");
    let expired = &run.command(6).output;
    assert!(expired.contains("not trusted"), "{expired}");
}
