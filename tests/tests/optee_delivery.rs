//! The delivery paths inside OP-TEE on QEMU (issue 6): an encrypted TA installed through
//! OP-TEE's secure TA store and callable afterwards, its personalization data released only
//! to it, an approved REE file written by the agent, downgrades and replays refused, an image
//! OP-TEE refuses leaving the TA unconfirmed and its data withheld until an update OP-TEE
//! confirms, a TA asking for its data while the agent holds the update TA waiting for it
//! (and the agent waiting for the TA), and all of it still there after a reboot. Then a TA
//! update whose install OP-TEE cannot finish (the REE file system full under its TA store,
//! the image in TA memory only): the commit awaits its envelope, every other command and
//! envelope is refused, `suit-agent resume` finishes it once there is room; another one is
//! abandoned (the old state, the TA unconfirmed) and then installed.

use std::path::Path;

use suit_tests::{
    boot, consumer_author_device, consumer_tas, consumer_uuids, contains, copy_out_of_disk,
    files_below, provision_and_envelopes, provision_and_export_anchor_keys, rsa_key, sign_ta,
    write_text, Boot,
};

/// A manifest delivering the consumer TA image `ta` (encrypted for the device) plus, if
/// given, its personalization data and an REE file.
fn manifest(seq: u64, uuid: &str, ta: &Path, with_data: bool) -> String {
    let hex_uuid = uuid.replace('-', "");
    let mut components = vec![format!(
        r#"{{"ta-uuid": "{uuid}", "file": "{}", "uri": "https://ta.example.com/consumer.ta",
            "encryption": {{"content-alg": "A128GCM", "recipients": [{{"key": "anchor-1.hpke.pub.pem", "mode": "hpke"}}]}}}}"#,
        ta.display()
    )];
    if with_data {
        components.push(format!(
            r#"{{"id": ["hex:{hex_uuid}", "perso"], "file": "perso.bin",
                "encryption": {{"content-alg": "A256GCM", "recipients": [{{"key": "anchor-1.ecdh.pub.pem", "mode": "ecdh-es"}}]}}}}"#
        ));
        components.push(
            r#"{"id": ["ree", "etc", "consumer.conf"], "file": "consumer.conf"}"#.to_string(),
        );
    }
    format!(
        r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}},
            "components": [{}]}}"#,
        components.join(",")
    )
}

#[test]
fn encrypted_ta_and_personalization_data_are_delivered_and_guarded() {
    let (uuid_a, uuid_b) = consumer_uuids();
    let (ta_v1, ta_v2) = consumer_tas();
    let (dir, disk) = consumer_author_device(&uuid_a, true);
    let d = dir.path();
    // Payload keys are per anchor: provision first, then export anchor 1's (verified).
    provision_and_export_anchor_keys(&disk, d, &[1]);
    let secret = b"personalization: device QEMU-0001, token 6f1d2c3b4a5968778695a4b3c2d1e0f0";
    std::fs::write(d.join("perso.bin"), secret).unwrap();
    write_text(d, "consumer.conf", "log-level=debug\n");
    // Version 3 of the TA signed with a key OP-TEE does not know, and signed right.
    let elf = ta_v1.with_file_name("perso-consumer.stripped.elf");
    let (ta_v3_bad, ta_v3, ta_v4, ta_v5, ta_v6) = (
        d.join("v3-unknown-key.ta"),
        d.join("v3.ta"),
        d.join("v4.ta"),
        d.join("v5.ta"),
        d.join("v6.ta"),
    );
    rsa_key(&d.join("unknown.pem"));
    sign_ta(&elf, &uuid_a, 3, Some(&d.join("unknown.pem")), &ta_v3_bad);
    sign_ta(&elf, &uuid_a, 3, None, &ta_v3);
    sign_ta(&elf, &uuid_a, 4, None, &ta_v4);
    sign_ta(&elf, &uuid_a, 5, None, &ta_v5);
    sign_ta(&elf, &uuid_a, 6, None, &ta_v6);
    // v2 with data, then v1 (a downgrade with a newer sequence number), and v2 again (replay);
    // then v3 that OP-TEE refuses, and v3 that it accepts.
    let cases = [
        ("v2", manifest(2, &uuid_a, &ta_v2, true)),
        ("v1", manifest(3, &uuid_a, &ta_v1, false)),
        ("v3bad", manifest(4, &uuid_a, &ta_v3_bad, true)),
        ("v3", manifest(5, &uuid_a, &ta_v3, true)),
        ("v4", manifest(6, &uuid_a, &ta_v4, true)),
        ("v5", manifest(7, &uuid_a, &ta_v5, false)),
        ("v6", manifest(8, &uuid_a, &ta_v6, false)),
    ];
    let mut puts = provision_and_envelopes(d, &cases);
    // The plaintexts, for the heap scan at the end.
    for (host, guest) in [
        (d.join("perso.bin"), "perso.bin"),
        (ta_v2.clone(), "v2.ta"),
        (ta_v4.clone(), "v4.ta"),
    ] {
        puts.push(format!("{}=/plain/{guest}", host.display()));
    }
    let put_refs: Vec<&str> = puts.iter().map(String::as_str).collect();
    let consumer = |uuid: &str, cmd: &str| format!("perso-consumer --uuid {uuid} {cmd}");
    let cmds = [
        "suit-agent anchors".to_string(),
        format!("! {}", consumer(&uuid_a, "hello")),
        "suit-agent install /up/v2.suit --payload-dir /up/v2 --ree-root /data/ree".to_string(),
        consumer(&uuid_a, "hello"),
        consumer(&uuid_a, "info --json"),
        format!("! {} 2>&1", consumer(&uuid_b, "info")),
        "! suit-agent perso-get 2>&1".to_string(),
        "cat /data/ree/etc/consumer.conf".to_string(),
        "! suit-agent install /up/v1.suit --payload-dir /up/v1 2>&1".to_string(),
        "! suit-agent install /up/v2.suit --payload-dir /up/v2 2>&1".to_string(),
        // 10-15: OP-TEE refuses the image (TEE_ERROR_SECURITY, an answer the REE could also
        // forge after the image landed): the update is not applied and the TA's data is
        // withheld; an update OP-TEE confirms lifts that.
        "! suit-agent install /up/v3bad.suit --payload-dir /up/v3bad 2>&1".to_string(),
        "suit-agent status".to_string(),
        format!("! {} 2>&1", consumer(&uuid_a, "info")),
        "suit-agent install /up/v3.suit --payload-dir /up/v3 --ree-root /data/ree".to_string(),
        "suit-agent status".to_string(),
        consumer(&uuid_a, "info --json"),
        // 16: the agent holds the update TA's session (it opens it, then waits for the
        // envelope on standard input until /tmp/go is written). A consumer that does not
        // wait is told the update TA is busy; one that waits gets its data once the install
        // (v4) ends, and says how long it waited.
        format!(
            "mkfifo /tmp/go && {{ {{ cat /tmp/go >/dev/null; cat /up/v4.suit; }} | suit-agent install - --payload-dir /up/v4 --ree-root /data/ree >/tmp/agent.out 2>&1 & a=$!; }} && \
             n=0; until grep -q busy /tmp/probe.out 2>/dev/null || [ $n -ge 150 ]; do n=$((n+1)); {probe} >/tmp/probe.out 2>&1; done; \
             echo \"probe: $(cat /tmp/probe.out)\"; {waiting} >/tmp/wait.out 2>&1 & w=$!; sleep 2; echo go >/tmp/go; \
             wait $w; echo \"consumer exit $?: $(cat /tmp/wait.out)\"; wait $a; echo \"agent exit $?\"; cat /tmp/agent.out",
            probe = consumer(&uuid_a, "--wait 0 info"),
            waiting = consumer(&uuid_a, "--wait 60000 info --json"),
        ),
        // 17: the same from the agent's side. Another client (here a second agent with its
        // own lock file, standing in for a TA fetching its data; it reads an empty envelope
        // once /tmp/go2 is opened and closed) holds the session: with
        // --busy-wait 0 the agent gives up at once, with --busy-wait 60 it waits and runs.
        // (The probes pause so that the holder, retrying itself if a probe held the session
        // when it started, gets in.)
        "mkfifo /tmp/go2 && { cat /tmp/go2 | suit-agent install - >/tmp/h.out 2>&1 & h=$!; } && \
         sleep 1; n=0; until grep -q 'stayed busy' /tmp/b0.out 2>/dev/null || [ $n -ge 60 ]; do n=$((n+1)); sleep 0.3; suit-agent --lock /tmp/b.lock --busy-wait 0 status >/tmp/b0.out 2>&1; done; \
         echo \"no wait: $(cat /tmp/b0.out)\"; suit-agent --lock /tmp/b.lock --busy-wait 60 status >/tmp/b.out 2>&1 & b=$!; sleep 2; : >/tmp/go2; \
         wait $b; echo \"waiting agent exit $?\"; wait $h; echo \"holder: $(cat /tmp/h.out)\"; grep -c 'provisioning count:' /tmp/b.out".to_string(),
        // 18: after every install, refusal and release above (the instance is kept alive, so
        // its heap is the one all of them used): neither the personalization data nor either
        // TA image is anywhere in the update TA's heap, freed blocks included.
        "suit-agent heap-scan /plain/perso.bin /plain/v2.ta /plain/v4.ta".to_string(),
    ];
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: put_refs.clone(),
            ..Default::default()
        },
        &refs,
    );
    run.assert_ok();
    assert!(
        run.command(3).output.to_lowercase().contains("hello"),
        "the delivered TA answers: {}",
        run.command(3).output
    );
    let info: serde_json::Value = serde_json::from_str(run.command(4).output.trim())
        .unwrap_or_else(|e| panic!("{e}: {}", run.command(4).output));
    assert_eq!(info["length"], secret.len());
    assert_eq!(
        info["sha256"].as_str().unwrap_or(""),
        hex::encode(sha2_digest(secret))
    );
    assert!(
        run.command(5)
            .output
            .contains("released only to the TA it belongs to")
            || run.command(5).output.contains("no personalization data"),
        "{}",
        run.command(5).output
    );
    run.says(6, "released only to the TA it belongs to");
    assert_eq!(run.command(7).output, "log-level=debug\n");
    run.says(8, "is not newer than the installed version 2");
    run.says(9, "Rollback");
    run.says(10, "did not confirm the install of TA")
        .says(10, "0xffff000f");
    run.says(11, &format!("UNCONFIRMED TA:      {uuid_a}"));
    run.says(12, "personalization data is withheld");
    assert!(
        !run.command(14).output.contains("UNCONFIRMED"),
        "{}",
        run.command(14).output
    );
    let info: serde_json::Value = serde_json::from_str(run.command(15).output.trim())
        .unwrap_or_else(|e| panic!("{e}: {}", run.command(15).output));
    assert_eq!(info["length"], secret.len());
    assert_eq!(info["waited_ms"], 0, "nobody held the update TA");
    let both = &run.command(16).output;
    run.says(
        16,
        "probe: perso-consumer: error: the TA could not reach the update TA: the update TA is busy",
    )
    .says(16, "agent exit 0");
    let waited = both
        .lines()
        .find_map(|l| l.strip_prefix("consumer exit 0: "))
        .unwrap_or_else(|| panic!("the waiting consumer failed: {both}"));
    let info: serde_json::Value =
        serde_json::from_str(waited).unwrap_or_else(|e| panic!("{e}: {both}"));
    assert_eq!(info["length"], secret.len(), "{both}");
    // It was held for the 2 s before the envelope came, and got the data after the install.
    assert!(info["waited_ms"].as_u64().unwrap_or(0) >= 2000, "{both}");
    run.says(
        17,
        "no wait: suit-agent: error: the TA stayed busy with another session",
    )
    .says(17, "waiting agent exit 0");
    suit_tests::assert_heap_scan_clean(&run.command(18).output, 3 * 3);

    // Neither the TA's plaintext nor the personalization data is in the REE's files.
    let ta_plain = std::fs::read(&ta_v2).unwrap();
    for (path, bytes) in files_below(copy_out_of_disk(&disk, "/").path()) {
        assert!(
            !contains(&bytes, secret),
            "{} holds the personalization data",
            path.display()
        );
        assert!(
            !contains(&bytes, &ta_plain[ta_plain.len() - 256..]),
            "{} holds the TA in clear",
            path.display()
        );
    }

    // Reboot: the TA and its data are still there. Then the REE file system under secure
    // storage fills up but for 32 KiB: room for the install's records, not for OP-TEE's
    // copy of the 69 KB TA (its image is in the update TA's memory only, session 39), so
    // OP-TEE's TA-store install fails (no space: a result that may pass) and the commit awaits
    // the same envelope. The agent sends it again twice at once, then gives up (exit 3).
    let fill = "set -- $(stat -f -c '%f %S' /data); fallocate -l $(( $1 * $2 - 32768 )) /data/filler; sync; df -k /data | tail -1";
    let install = |v: &str| {
        format!("suit-agent install /up/{v}.suit --payload-dir /up/{v} 2>&1; echo \"exit=$?\"")
    };
    let cmds = [
        consumer(&uuid_a, "info --json"),
        fill.to_string(),
        install("v5"),
        "suit-agent status 2>&1".to_string(),
        // 4-6: nothing else runs meanwhile: the agent's other commands, a consumer's data,
        // another envelope (refused at prepare, naming the awaited one).
        "! suit-agent anchors 2>&1".to_string(),
        format!("! {} 2>&1", consumer(&uuid_a, "info")),
        install("v6"),
        // 7-10: room again; `resume` sends the recorded envelope again and the update is in.
        "rm -f /data/filler; sync".to_string(),
        "suit-agent resume 2>&1".to_string(),
        "suit-agent status 2>&1".to_string(),
        consumer(&uuid_a, "hello --json"),
        // 11-16: v6 awaits the same way and is abandoned: the old state (v5), the TA marked
        // unconfirmed (OP-TEE may hold either image), its data withheld; with room, v6
        // installs and lifts the mark.
        fill.to_string(),
        install("v6"),
        "suit-agent abandon --envelope /up/v6.suit 2>&1".to_string(),
        "suit-agent status 2>&1".to_string(),
        "rm -f /data/filler; sync".to_string(),
        install("v6"),
        "suit-agent status 2>&1".to_string(),
        consumer(&uuid_a, "hello --json"),
    ];
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: put_refs,
            ..Default::default()
        },
        &refs,
    );
    run.assert_ok();
    let info: serde_json::Value = serde_json::from_str(run.command(0).output.trim()).unwrap();
    assert_eq!(info["length"], secret.len());
    let awaiting = |i: usize| {
        run.says(i, "is installed again").says(i, "exit=3");
    };
    awaiting(2);
    run.says(2, "OP-TEE could not install TA")
        .says(2, "0xffff3041");
    run.says(3, "AWAITING ENVELOPE");
    for i in 4..=6 {
        run.says(i, "an update was interrupted while OP-TEE installed its TA");
    }
    run.says(6, "exit=3");
    run.says(8, "installed /up/v5.suit (sequence number 7");
    assert!(
        !run.command(9).output.contains("AWAITING"),
        "{}",
        run.command(9).output
    );
    // The signed header's version (the consumer's own hello names the version it was built as).
    run.says(9, "TA version 5")
        .says(10, "hello from the perso-consumer TA");
    awaiting(12);
    run.says(13, "not applied");
    run.says(14, &format!("UNCONFIRMED TA:      {uuid_a}"))
        .says(14, "TA version 5");
    assert!(
        !run.command(14).output.contains("AWAITING"),
        "{}",
        run.command(14).output
    );
    run.says(16, "installed /up/v6.suit (sequence number 8")
        .says(16, "exit=0");
    assert!(
        !run.command(17).output.contains("UNCONFIRMED"),
        "{}",
        run.command(17).output
    );
    run.says(17, "TA version 6")
        .says(18, "hello from the perso-consumer TA");
    run.assert_no_secure_panic();
}

fn sha2_digest(data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).to_vec()
}
