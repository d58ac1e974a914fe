//! Encrypted delivery into the TA inside OP-TEE on QEMU, driven exactly as users do it: the
//! device exports its key, the TPA provisions an author, the author encrypts a payload for
//! the device and signs the manifest with `suit-author`, the agent streams it into the TA.
//!
//! Then the device's storage trouble (boot 4): the REE file system under secure storage fills
//! up, and the REE fails the TA's storage requests (`FREEZE_SH`: OP-TEE's files made
//! immutable at a chosen tee-supplicant write, during a payload upload and around the
//! commit). Each failure is the TA's typed storage refusal, never its death (the TA makes
//! the storage system calls itself, ta/src/objects.rs), the state is the old one or the new
//! one, never a mix, and the update installs afterwards.

use suit_tests::{
    author, boot, contains, copy_out_of_disk, create_envelope, create_envelope_signed,
    export_device_key, files_below, provision_and_envelopes, provision_and_export_anchor_keys,
    sign_provisioning, write_text, Boot,
};

/// Bytes of the large payload: 64 MiB, the largest image the TA takes (its A128GCM ciphertext
/// is 16 bytes longer), over twenty times the TA's 3 MiB heap.
const BIG_PAYLOAD: u32 = 64 << 20;

/// `freeze.sh NAME MODE COMMAND...`: runs COMMAND while counting tee-supplicant's write system
/// calls (the REE-FS requests that write secure storage; `/proc/PID/io`). MODE `measure`:
/// saves how many the command made in `/data/NAME.writes`. MODE `FRACTION/COUNT`: once
/// FRACTION of COUNT writes have landed, makes OP-TEE's files and their directory immutable
/// (`chattr +i`), so that tee-supplicant answers every later REE-FS write with an error (the
/// REE failing the TA's storage requests), waits for the command to end, lifts that, and
/// prints the writes that had landed, whether the command ended and its exit status.
/// (Killing tee-supplicant instead fails nothing: the TA's request waits for ever, and
/// tee-supplicant cannot be started again, as the kernel keeps its context while OP-TEE
/// holds its shared memory; found in session 37.)
const FREEZE_SH: &str = r#"#!/bin/sh
name=$1; mode=$2; shift 2
sup=$(pidof tee-supplicant) || { echo "FREEZE: tee-supplicant is not running"; exit 1; }
writes() { while read -r k v; do [ "$k" = syscw: ] && { w=$v; return 0; }; done </proc/$sup/io; return 1; }
writes || { echo "FREEZE: no /proc/$sup/io"; exit 1; }
w0=$w; at=0; n=0
case "$mode" in
    measure) ;;
    */?*) at=$(awk -v n="${mode#*/}" -v f="${mode%/*}" 'BEGIN { k = int(n * f + 0.5); print (k < 1 ? 1 : k) }') ;;
    *) echo "FREEZE: mode $mode?"; exit 1 ;;
esac
rm -f /tmp/$name.rc
( "$@" >/tmp/$name.out 2>&1; echo $? >/tmp/$name.rc ) &
while [ ! -e /tmp/$name.rc ]; do
    writes; [ $((w - w0)) -gt $n ] || continue
    n=$((w - w0))
    if [ "$at" -gt 0 ] && [ "$n" -ge "$at" ]; then
        chattr +i /data/tee/* /data/tee || { echo "FREEZE: chattr failed"; exit 1; }
        i=0; while [ ! -e /tmp/$name.rc ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
        [ -e /tmp/$name.rc ] && ended=yes || ended=no
        chattr -i /data/tee/* /data/tee
        wait
        cat /tmp/$name.out
        echo "FREEZE: $name froze storage after $n of its writes (at $at); ended while frozen: $ended; exit $(cat /tmp/$name.rc)"
        exit 0
    fi
done
wait; writes; n=$((w - w0))
cat /tmp/$name.out
[ "$mode" = measure ] && echo "$n" >/data/$name.writes
echo "FREEZE: $name ended before the freeze (exit $(cat /tmp/$name.rc), storage writes: $n)"
"#;

fn manifest(seq: u64, vendor: &str, recipient: &str) -> String {
    format!(
        r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "{vendor}"}}, "class-id": {{"name": "board"}},
            "components": [{{"id": ["app"], "file": "firmware.bin", "uri": "https://updates.example.com/firmware.bin",
            "encryption": {{"content-alg": "A128GCM", "recipients": [{{"key": "{recipient}", "mode": "hpke"}}]}}}}]}}"#
    )
}

#[test]
fn encrypted_payload_installs_once_and_wrong_device_vendor_or_rollback_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let disk = d.join("data.img");
    let on_disk = |puts: Vec<String>| {
        (
            puts,
            Boot {
                disk: Some(&disk),
                ..Default::default()
            },
        )
    };

    // Boot 1: the device's public key leaves the TA.
    export_device_key(&disk, d);

    // Host side: TPA provisioning, an author, an encrypted payload and its manifests.
    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    author(d, &["keygen", "--type", "p256", "--out", "stranger"]);
    author(d, &["keygen", "--type", "p256", "--out", "operator"]);
    sign_provisioning(
        d,
        r#"{"counter": 1, "device-key": "identity.pub.pem", "ops": [
        {"add-anchor": {"id": 1, "key": "author.pub.pem", "role": "author", "components": [["app"]]}},
        {"add-anchor": {"id": 2, "key": "operator.pub.pem", "role": "operator", "components": [["app"]]}},
        {"set-rules": [{"prefix": ["app", "cfg"], "require-roles": ["author", "operator"]}]},
        {"set-identity": {"vendor-id": {"name": "example.com"}, "class-id": {"name": "board"}}}]}"#,
    );
    // Payload keys are per anchor: provision, then export anchor 1's (statement verified).
    provision_and_export_anchor_keys(&disk, d, &[1]);
    let firmware: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(d.join("firmware.bin"), &firmware).unwrap();
    let cases = [
        ("v1", manifest(1, "example.com", "anchor-1.hpke.pub.pem")),
        ("stranger", manifest(2, "example.com", "stranger.pub.pem")),
        (
            "vendor",
            manifest(3, "other.example", "anchor-1.hpke.pub.pem"),
        ),
    ];
    let mut puts = provision_and_envelopes(d, &cases);
    // Policy cases with a small plaintext payload: a component outside the author's scope,
    // and a component whose rule needs author AND operator, signed by one and by both.
    std::fs::write(d.join("small.bin"), b"configuration blob").unwrap();
    let small = |seq: u32, id: &str| {
        format!(
            r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "board"}},
                "components": [{{"id": {id}, "file": "small.bin"}}]}}"#
        )
    };
    puts.extend(create_envelope(d, "scope", &small(1, r#"["boot"]"#)));
    puts.extend(create_envelope(
        d,
        "cfg-author",
        &small(1, r#"["app", "cfg"]"#),
    ));
    puts.extend(create_envelope_signed(
        d,
        "cfg-both",
        &small(2, r#"["app", "cfg"]"#),
        &["author.priv.pem", "operator.priv.pem"],
    ));
    // Issue 14: a payload well beyond the TA's heap (TA_DATA_SIZE, 3 MiB in ta/build.rs)
    // installs, so the TA's memory does not grow with the payload.
    let big: Vec<u8> = (0..BIG_PAYLOAD)
        .map(|i| (i.wrapping_mul(2246822519) >> 11) as u8)
        .collect();
    std::fs::write(d.join("big.bin"), &big).unwrap();
    puts.extend(create_envelope(
        d,
        "big",
        r#"{"sequence-number": 4, "vendor-id": {"name": "example.com"}, "class-id": {"name": "board"},
            "components": [{"id": ["app", "big"], "file": "big.bin", "uri": "https://updates.example.com/big.bin",
            "encryption": {"content-alg": "A128GCM", "recipients": [{"key": "anchor-1.hpke.pub.pem", "mode": "hpke"}]}}]}"#,
    ));

    // The REE sees the envelope, the ciphertext and the device's public key, and still
    // cannot decrypt: the same engine on the host, without the TA's private key, refuses.
    let vendor = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"example.com");
    let class = uuid::Uuid::new_v5(&vendor, b"board");
    let host_try = std::process::Command::new(suit_tests::suit_author())
        .current_dir(d)
        .args([
            "verify",
            "v1.suit",
            "--trust-anchor",
            "author.pub.pem",
            "--process",
        ])
        .args([
            "--vendor-id",
            &vendor.to_string(),
            "--class-id",
            &class.to_string(),
        ])
        .args(["--payload-dir", "v1", "--out", "host-out"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&host_try.stderr);
    assert!(
        !host_try.status.success(),
        "the host decrypted without the device key"
    );
    assert!(
        text.contains("no recipient") || text.contains("REFUSED"),
        "{text}"
    );
    let written = std::fs::read_dir(d.join("host-out"))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(
        written, 0,
        "nothing may be written when decryption is impossible"
    );
    let ciphertext = std::fs::read(d.join("v1/firmware.bin")).unwrap();
    assert!(
        !contains(&ciphertext, &firmware[1000..1064]),
        "the detached payload is encrypted"
    );

    // Pieces of both plaintexts for the heap scan: early, middle, and in the last chunk.
    let mut needles = Vec::new();
    for (name, image) in [("firmware", &firmware), ("big", &big)] {
        for at in [1000, image.len() / 2, image.len() - 64] {
            let file = format!("{name}-{at}.bin");
            std::fs::write(d.join(&file), &image[at..at + 32]).unwrap();
            puts.push(format!("{}=/plain/{file}", d.join(&file).display()));
            needles.push(format!("/plain/{file}"));
        }
    }
    let refused = |name: &str, text: &str| {
        format!("! suit-agent install /up/{name}.suit --payload-dir /up/{name} 2>/tmp/e; cat /tmp/e; grep -q '{text}' /tmp/e")
    };
    // Boot 3 (anchors were provisioned in boot 2): install, and the refusals.
    let cmds = [
        "suit-agent anchors".to_string(),
        "suit-agent install /up/v1.suit --payload-dir /up/v1".to_string(),
        refused("v1", "Rollback"),
        refused("stranger", "HPKE open failed"),
        refused("vendor", "endor"),
        "suit-agent status".to_string(),
        refused("scope", "ermitted"),
        refused("cfg-author", "equired"),
        "suit-agent install /up/cfg-both.suit".to_string(),
        "suit-agent install /up/big.suit --payload-dir /up/big".to_string(),
        // 10: neither component's plaintext is anywhere in the update TA's heap afterwards,
        // freed blocks included (32-byte pieces, the last chunk of each among them).
        format!("suit-agent heap-scan {}", needles.join(" ")),
    ];
    let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
    let (puts, mut opts) = on_disk(puts);
    opts.puts = puts.iter().map(String::as_str).collect();
    // The 64 MiB install alone takes minutes under emulation.
    opts.timeout_secs = Some(1800);
    let run = boot(opts, &refs);
    run.assert_ok();
    let installed = &run.command(1).output;
    assert!(
        installed.contains("installed /up/v1.suit (sequence number 1"),
        "{installed}"
    );
    assert!(installed.contains("component ['app']"), "{installed}");
    run.says(5, "installed:           1 component(s)");

    suit_tests::assert_heap_scan_clean(&run.command(10).output, 6);
    let installed_big = &run.command(9).output;
    assert!(
        installed_big.contains("installed /up/big.suit (sequence number 4"),
        "{installed_big}"
    );
    assert!(
        installed_big.contains("component ['app', 'big']"),
        "{installed_big}"
    );
    // Decrypted as it arrived (issue 14, s6-stream): each byte of the 64 MiB component is
    // written to secure storage once (the plaintext), not twice (ciphertext, then plaintext),
    // and not read back. And memory does not grow with the payload: the TA heap's
    // high-water mark (OP-TEE's allocator statistics, ta/src/heap.rs) stays far below it.
    // The TA logs both per install to the secure log; the 64 MiB install is the last.
    let last = |prefix: &str| {
        run.secure_log
            .lines()
            .filter_map(|l| l.split(prefix).nth(1))
            .next_back()
            .unwrap_or_else(|| panic!("no {prefix:?} line in the secure log"))
    };
    let (storage, heap) = (
        last("[suit-ta] storage install "),
        last("[suit-ta] heap install "),
    );
    let count = |line: &str, key: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    let n = big.len() as u64;
    let written = count(storage, "bytes_written");
    assert!(
        written >= n && written < n + 256 * 1024,
        "64 MiB install: {storage}"
    );
    assert!(
        count(storage, "bytes_read") < 256 * 1024,
        "64 MiB install: {storage}"
    );
    let peak = count(heap, "max_allocated");
    assert!(peak > 0 && peak < 1024 * 1024, "64 MiB install: {heap}");

    // The REE's copy of secure storage holds the installed images only encrypted.
    for (path, bytes) in files_below(copy_out_of_disk(&disk, "/tee").path()) {
        for (name, image) in [("firmware", &firmware), ("big payload", &big)] {
            for at in [4096, image.len() / 2, image.len() - 64] {
                assert!(
                    !contains(&bytes, &image[at..at + 64]),
                    "{} holds plaintext {name}",
                    path.display()
                );
            }
        }
    }

    // Boot 4: after a reboot the sequence number still blocks the old manifest. Then the REE
    // file system under secure storage fills up (another writer took the disk): an update
    // is refused as the device's trouble (exit 3) with nothing changed, whether no object can
    // be made at all or the payload stops half-way; once there is room it installs.
    let mut puts = create_envelope(
        d,
        "v5",
        &manifest(5, "example.com", "anchor-1.hpke.pub.pem"),
    );
    for seq in [6, 7] {
        puts.extend(create_envelope(
            d,
            &format!("v{seq}"),
            &manifest(seq, "example.com", "anchor-1.hpke.pub.pem"),
        ));
    }
    write_text(d, "freeze.sh", FREEZE_SH);
    puts.push(format!("{}=/up/freeze.sh", d.join("freeze.sh").display()));
    puts.push(format!("{}=/up/v1.suit", d.join("v1.suit").display()));
    puts.push(format!(
        "{}=/up/v1/firmware.bin",
        d.join("v1/firmware.bin").display()
    ));
    let (puts, mut opts) = on_disk(puts);
    opts.puts = puts.iter().map(String::as_str).collect();
    let install_v5 = "suit-agent install /up/v5.suit --payload-dir /up/v5 2>&1; echo \"exit=$?\"";
    let status = "suit-agent status | grep -E 'installed|sequence number'";
    let run = boot(
        opts,
        &[
            &refused("v1", "Rollback"),
            status,
            // 2: the disk full, root's reserve included (fallocate all but 8 MiB, then 4 KiB
            // blocks until none is left).
            "set -- $(stat -f -c '%f %S' /data); fallocate -l $(( $1 * $2 - 8388608 )) /data/filler && \
             { dd if=/dev/zero of=/data/filler2 bs=4k 2>/dev/null; sync; stat -f -c 'free blocks %f' /data; }",
            install_v5,
            status,
            // 5: room for ~400 KiB of the 1 MB payload.
            "truncate -s $(( $(stat -c %s /data/filler) - 409600 )) /data/filler; sync; df -k /data | tail -1",
            install_v5,
            status,
            // 8: room again.
            "rm -f /data/filler /data/filler2; sync; df -k /data | tail -1",
            install_v5,
            status,
            // 11: the REE fails the TA's storage requests (FREEZE_SH). v6 counts an install's
            // writes; v7 is failed during its payload upload (30% of them), then around its
            // commit (97%: in a trial the state record was written between 95% and 98.5%); then v7
            // installs, or is a replay if the failure came after its commit.
            "sh /up/freeze.sh v6 measure suit-agent install /up/v6.suit --payload-dir /up/v6",
            status,
            "sh /up/freeze.sh v7a 0.3/$(cat /data/v6.writes) suit-agent install /up/v7.suit --payload-dir /up/v7",
            status,
            "sh /up/freeze.sh v7b 0.97/$(cat /data/v6.writes) suit-agent install /up/v7.suit --payload-dir /up/v7",
            status,
            "suit-agent install /up/v7.suit --payload-dir /up/v7 2>&1; echo \"exit=$?\"",
            status,
        ],
    );
    // An REE-FS request the REE fails with an error (tee-supplicant answers
    // TEE_ERROR_GENERIC) is a typed storage refusal: the TA makes the storage system calls
    // itself (ta/src/objects.rs). Before session 37 libutee's storage functions panicked the
    // TA on any result outside their short list (exit 3, TEE_ERROR_TARGET_DEAD, two panics
    // in the secure log). Nothing half-done is used either way (checked below).
    for i in 0..run.commands.len() {
        assert_eq!(run.command(i).status, 0, "{}", run.command(i).output);
    }
    assert_eq!(run.commands.len(), 19, "{}", run.normal_log);

    // v1, the two-signature cfg component and the large one.
    run.says(1, "3 component(s)");
    for (n, what) in [(3, "no room at all"), (6, "room for part of the payload")] {
        let out = &run.command(n).output;
        assert!(
            out.contains("exit=3"),
            "{what}: not the device's trouble: {out}"
        );
        assert!(!out.contains("installed /up/v5.suit"), "{what}: {out}");
        assert_eq!(
            run.command(n + 1).output,
            run.command(1).output,
            "{what}: the state changed"
        );
    }
    run.says(9, "installed /up/v5.suit (sequence number 5")
        .says(9, "exit=0");
    run.says(10, "3 component(s)");

    run.says(11, "installed /up/v6.suit (sequence number 6")
        .says(12, "sequence number 6");
    // During the upload: a storage refusal (exit 3), the TA alive.
    let upload = &run.command(13).output;
    assert!(
        upload.contains("ended while frozen: yes; exit 3")
            && upload.contains("refused by the TA (storage)")
            && !upload.contains("the TA died")
            && !upload.contains("0xffff3024"),
        "storage failed during the upload: {upload}"
    );
    // Around the commit: a storage refusal, or (the failure only in the cleanup after the
    // commit, which is best effort) the update installed; never the TA's death.
    let commit = &run.command(15).output;
    let applied = commit.contains("ended while frozen: yes; exit 0");
    assert!(
        (applied && commit.contains("installed /up/v7.suit (sequence number 7"))
            || (commit.contains("ended while frozen: yes; exit 3")
                && !commit.contains("the TA died")
                && !commit.contains("0xffff3024")),
        "storage failed around the commit: {commit}"
    );
    // During the upload: the old state, unchanged.
    assert_eq!(
        run.command(14).output,
        run.command(12).output,
        "the state changed after a storage failure during the upload"
    );
    // Around the commit: the old state or the new one, and the same update then installs
    // (old) or is a replay (new).
    let after = &run.command(16).output;
    let again = &run.command(17).output;
    if *after == run.command(12).output {
        assert!(
            !applied,
            "answered installed, but the old state stands: {commit}"
        );
        assert!(
            again.contains("installed /up/v7.suit (sequence number 7") && again.contains("exit=0"),
            "{again}"
        );
    } else {
        assert!(
            after.contains("sequence number 7"),
            "a mixed state: {after}"
        );
        assert!(after.contains("3 component(s)"), "{after}");
        assert!(
            again.contains("Rollback") && again.contains("exit=1"),
            "{again}"
        );
        eprintln!("the storage failure at 97% came after the commit");
    }
    run.says(18, "sequence number 7").says(18, "3 component(s)");
    run.assert_no_secure_panic();
    assert_eq!(run.status, 0, "{}", run.normal_log);
}
