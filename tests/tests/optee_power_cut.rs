//! Power cuts inside OP-TEE on QEMU: QEMU is killed (SIGKILL, no shutdown) while the TA is
//! installing an update that changes a TA, its personalization data, a ~1 MB encrypted
//! secure-storage component and an REE file. After each cut the guest boots again and the
//! device is entirely on the old release or entirely on the new one: the TA OP-TEE runs, the
//! personalization data it gets, the stored REE file and the status agree. Also, inside
//! OP-TEE, the per-component rollback attack (an older manifest with another component list).

use std::path::Path;

use suit_tests::{
    author, boot, consumer_tas, consumer_uuids, create_envelope, export_device_key,
    provision_and_export_anchor_keys, sign_provisioning, write_text, Boot, GuestRun, KILLED,
};

/// The update script run in the guest: installs `/up/NAME.suit`, and once the large payload
/// is uploaded (so the TA is inside InstallFinish) waits FRACTION of the finish time measured
/// for release 1, then prints the marker the host kills QEMU on.
const CUT_SH: &str = r#"#!/bin/sh
name=$1; frac=$2
suit-agent --progress install /up/$name.suit --payload-dir /up/$name --ree-root /data/ree >/tmp/$name.out 2>&1 &
pid=$!
t0=$(cut -d' ' -f1 /proc/uptime)
while ! grep -q 'blob.bin.*100%' /tmp/$name.out; do
    if ! kill -0 $pid 2>/dev/null; then cat /tmp/$name.out; echo "CUT: install ended before its payload was sent"; exit 0; fi
    sleep 0.05
done
t1=$(cut -d' ' -f1 /proc/uptime)
if [ "$frac" = measure ]; then
    wait $pid; rc=$?
    t2=$(cut -d' ' -f1 /proc/uptime)
    awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }' >/data/finish-seconds
    cat /tmp/$name.out; echo "CUT: upload $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')s, finish $(cat /data/finish-seconds)s"
    exit $rc
fi
t=$(awk -v f="$frac" '{ print $1 * f }' /data/finish-seconds)
sleep "$t"
echo "POWER-CUT-NOW after ${t}s of InstallFinish"
wait $pid; cat /tmp/$name.out; echo "CUT: install ended before the power cut"
"#;

/// Guest commands that show which release the device is on. The agent opens the update TA
/// first, as a boot script would: its first command finishes an interrupted commit.
const CHECKS: usize = 4;
fn checks(uuid: &str) -> Vec<String> {
    vec![
        "suit-agent status".to_string(),
        format!("perso-consumer --uuid {uuid} hello --json"),
        format!("perso-consumer --uuid {uuid} info --json"),
        "suit-agent export version.txt --ree-root /tmp/ree".to_string(),
    ]
}

/// Which release (1 or 2) the check commands starting at `first` show; panics unless every
/// observation names the same one.
fn release_seen(run: &GuestRun, first: usize, perso: &[Vec<u8>; 2], version: &[Vec<u8>; 2]) -> u32 {
    let out = |i: usize| run.command(first + i).output.clone();
    assert!(
        out(0).contains("4 component(s)") && !out(0).contains("STATE ERROR"),
        "{}",
        out(0)
    );
    let hello: serde_json::Value =
        serde_json::from_str(out(1).trim()).unwrap_or_else(|e| panic!("{e}: {}", out(1)));
    let ta = hello["ta_version"]
        .as_u64()
        .unwrap_or_else(|| panic!("which TA version answers? {}", out(1))) as u32;
    let info: serde_json::Value =
        serde_json::from_str(out(2).trim()).unwrap_or_else(|e| panic!("{e}: {}", out(2)));
    let sha = info["sha256"].as_str().unwrap_or("").to_string();
    let data = (1..=2)
        .find(|r| sha == hex::encode(sha256(&perso[*r as usize - 1])))
        .unwrap_or_else(|| panic!("personalization data of neither release: {}", out(2)));
    let file = (1..=2)
        .find(|r| out(3).contains(&hex::encode(sha256(&version[*r as usize - 1]))))
        .unwrap_or_else(|| panic!("REE file of neither release: {}", out(3)));
    assert_eq!(
        (ta, data, file),
        (ta, ta, ta),
        "mixed state: TA {ta}, personalization data {data}, REE file {file}"
    );
    ta
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).to_vec()
}

fn manifest(seq: u64, uuid: &str, ta: &Path, perso: &str, version: &str, blob: &str) -> String {
    let hex_uuid = uuid.replace('-', "");
    let enc = |mode: &str| {
        format!(
            r#""encryption": {{"content-alg": "A128GCM", "recipients": [{{"key": "{}", "mode": "{mode}"}}]}}"#,
            // Anchor 1's own payload keys, as its verified key statement gave them.
            if mode == "hpke" {
                "anchor-1.hpke.pub.pem"
            } else {
                "anchor-1.ecdh.pub.pem"
            }
        )
    };
    format!(
        r#"{{"sequence-number": {seq}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}},
            "components": [
              {{"ta-uuid": "{uuid}", "file": "{}", {}}},
              {{"id": ["hex:{hex_uuid}", "perso"], "file": "{perso}", {}}},
              {{"id": ["ree", "version.txt"], "file": "{version}"}},
              {{"id": ["hex:{hex_uuid}", "blob"], "file": "{blob}", "uri": "https://updates.example.com/blob.bin", {}}}
            ]}}"#,
        ta.display(),
        enc("hpke"),
        enc("ecdh-es"),
        enc("hpke"),
    )
}

#[test]
fn a_power_cut_mid_install_leaves_the_old_or_the_new_release() {
    let (uuid, _) = consumer_uuids();
    let (ta1, ta2) = consumer_tas();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let disk = d.join("data.img");
    let on_disk = |puts: &[String], kill_on: Option<&'static str>, cmds: &[String]| {
        let refs: Vec<&str> = cmds.iter().map(String::as_str).collect();
        boot(
            Boot {
                disk: Some(&disk),
                puts: puts.iter().map(String::as_str).collect(),
                kill_on,
                // Generous: under a loaded host the 1 MB install alone took ~5 min.
                timeout_secs: Some(1500),
                net_to: None,
            },
            &refs,
        )
    };

    // Boot 1: the device key.
    export_device_key(&disk, d);

    author(d, &["keygen", "--type", "p256", "--out", "author"]);
    sign_provisioning(
        d,
        &format!(
            r#"{{"counter": 1, "device-key": "device.pub.pem", "ops": [
            {{"add-anchor": {{"id": 1, "key": "author.pub.pem", "role": "author", "components": [["hex:{}"], ["ree"]]}}}},
            {{"set-identity": {{"vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}}}}}}]}}"#,
            uuid.replace('-', "")
        ),
    );
    // Boot 2: provisioning, then anchor 1's payload keys with the TA's signed statement.
    provision_and_export_anchor_keys(&disk, d, &[1]);
    let perso = [
        b"personalization of release 1".to_vec(),
        b"personalization of release 2, another token".to_vec(),
    ];
    let version = [b"release 1\n".to_vec(), b"release 2\n".to_vec()];
    for r in 0..2 {
        std::fs::write(d.join(format!("perso{}.bin", r + 1)), &perso[r]).unwrap();
        std::fs::write(d.join(format!("version{}.txt", r + 1)), &version[r]).unwrap();
        let blob: Vec<u8> = (0..1_000_000u32)
            .map(|i| (i.wrapping_mul(2654435761).wrapping_add(r as u32) >> 13) as u8)
            .collect();
        std::fs::write(d.join(format!("blob{}.bin", r + 1)), blob).unwrap();
    }
    write_text(d, "cfg.txt", "cfg\n");
    write_text(d, "cut.sh", CUT_SH);
    let mut puts = vec![format!("{}=/up/cut.sh", d.join("cut.sh").display())];
    let ta = [&ta1, &ta2];
    for r in 1..=2u64 {
        let json = manifest(
            r,
            &uuid,
            ta[r as usize - 1],
            &format!("perso{r}.bin"),
            &format!("version{r}.txt"),
            &format!("blob{r}.bin"),
        );
        puts.extend(create_envelope(d, &format!("v{r}"), &json));
    }
    // Finding 5 inside OP-TEE: an older manifest (sequence number 1) under another component
    // list (personalization data plus a config file), after release 2 installed the data.
    let hex_uuid = uuid.replace('-', "");
    puts.extend(create_envelope(
        d,
        "old-list",
        &format!(
            r#"{{"sequence-number": 1, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}},
                "components": [{{"id": ["hex:{hex_uuid}", "perso"], "file": "perso1.bin"}},
                               {{"id": ["hex:{hex_uuid}", "cfg"], "file": "cfg.txt"}}]}}"#
        ),
    ));

    let mut seen = Vec::new();
    // Boot 3: release 1 (its finish time measured), then release 2 cut early in InstallFinish.
    // (Command 0 only keeps the numbering the checks below use.)
    let mut cmds = vec!["true".to_string(), "sh /up/cut.sh v1 measure".to_string()];
    cmds.extend(checks(&uuid));
    cmds.push("sh /up/cut.sh v2 0.3".to_string());
    let run = on_disk(&puts, Some("^POWER-CUT-NOW"), &cmds);
    eprintln!("{}", run.command(1).output);
    assert_eq!(release_seen(&run, 2, &perso, &version), 1);
    assert_eq!(
        run.status, KILLED,
        "the guest was not cut: {}",
        run.normal_log
    );

    // Boot 3: old or new; if still old, release 2 again, cut late (around the commit).
    let mut cmds = checks(&uuid);
    cmds.push("sh /up/cut.sh v2 0.85".to_string());
    let run = on_disk(&puts, Some("^POWER-CUT-NOW"), &cmds);
    let r = release_seen(&run, 0, &perso, &version);
    seen.push(r);
    if r == 1 {
        assert_eq!(
            run.status, KILLED,
            "the guest was not cut: {}",
            run.normal_log
        );
    }

    // Boot 4: old or new; then the device goes on: release 2 installs exactly once, and the
    // older manifest under another component list cannot bring back release 1's data.
    let mut cmds = checks(&uuid);
    cmds.push(
        "suit-agent install /up/v2.suit --payload-dir /up/v2 --ree-root /data/ree 2>&1 || true"
            .into(),
    );
    cmds.extend(checks(&uuid));
    cmds.push("! suit-agent install /up/v2.suit --payload-dir /up/v2 2>&1".into());
    cmds.push("! suit-agent install /up/old-list.suit 2>&1".into());
    cmds.extend(checks(&uuid));
    let run = on_disk(&puts, None, &cmds);
    run.assert_ok();
    let r = release_seen(&run, 0, &perso, &version);
    seen.push(r);
    let retried = &run.command(CHECKS).output;
    if r == 2 {
        assert!(retried.contains("Rollback"), "{retried}");
    } else {
        assert!(retried.contains("installed /up/v2.suit"), "{retried}");
    }
    assert_eq!(release_seen(&run, CHECKS + 1, &perso, &version), 2);
    let replay = &run.command(2 * CHECKS + 1).output;
    assert!(replay.contains("Rollback"), "{replay}");
    let old_list = &run.command(2 * CHECKS + 2).output;
    assert!(
        old_list.contains("Rollback of component 0"),
        "the older manifest with another list: {old_list}"
    );
    assert_eq!(release_seen(&run, 2 * CHECKS + 3, &perso, &version), 2);
    eprintln!("after the cuts the device was on releases {seen:?}");
}
