//! Encrypted delivery into the TA inside OP-TEE on QEMU, driven exactly as users do it: the
//! device exports its key, the TPA provisions an author, the author encrypts a payload for
//! the device and signs the manifest with `suit-author`, the agent streams it into the TA.

use suit_tests::{
    author, boot, contains, copy_out_of_disk, create_envelope, create_envelope_signed,
    export_device_key, files_below, provision_and_envelopes, provision_and_export_anchor_keys,
    sign_provisioning, Boot,
};

/// Bytes of the large payload: 64 MiB, the largest image the TA takes (its A128GCM ciphertext
/// is 16 bytes longer), over twenty times the TA's 3 MiB heap.
const BIG_PAYLOAD: u32 = 64 << 20;

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
        ],
    );
    run.assert_ok();
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
}
