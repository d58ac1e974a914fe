//! Power cuts inside OP-TEE on QEMU: QEMU is killed (SIGKILL, no shutdown) while the TA is
//! installing an update that changes a TA, its personalization data, a ~1 MB encrypted
//! secure-storage component and an REE file. After each cut the guest boots again and the
//! device is entirely on the old release or entirely on the new one: the TA OP-TEE runs, the
//! personalization data it gets, the stored REE file and the status agree. Also, inside
//! OP-TEE, the per-component rollback attack (an older manifest with another component list).
//!
//! Before that, a cut inside the fresh device's first command, which makes its keys and
//! records: after the reboot it has no key yet (the next command makes the set) or the whole
//! set, and its key statement verifies. After it, on the same device, cuts inside provisioning:
//! a message that removes an author and its KEK and adds another author with a KEK (both
//! objects a message writes, four records) is cut at two fractions of the writes a like
//! message made in the same boot. After each reboot the agent shows message 3's state or
//! message 4's, never a mix: anchors, counters, the status, and which author's KEK-encrypted
//! envelope installs; message 4 sent again applies iff the old state was shown and is refused
//! as a replay iff the new one was. These cuts stop tee-supplicant at the chosen write before
//! QEMU is killed (`WRITE_CUT_SH`): the host's reaction time is longer than a whole message.

use std::path::Path;

use suit_tests::{
    author, boot, consumer_tas, consumer_uuids, create_envelope, create_envelope_signed,
    export_device_key_between, keys, provision_and_export_anchor_keys, sign_provisioning,
    write_text, Boot, GuestRun, KILLED,
};

/// The update script run in the guest: installs `/up/NAME.suit`, and once the large payload
/// is uploaded (so the TA is inside InstallFinish) waits FRACTION of the finish time measured
/// for release 1, then prints the marker the host kills QEMU on.
const CUT_SH: &str = r#"#!/bin/sh
name=$1; frac=$2
export SUIT_AGENT_INSTALL_RECORD=/data/agent/install-in-flight.json
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

/// Guest commands that show which release the device is on. The agent runs `resume` first,
/// as a boot script does: its first command finishes a commit whose kept image the TA
/// installs again, and `resume` sends again the envelope of one whose image the TA kept in
/// memory only (cut while OP-TEE installed it), from the record `install` left.
const CHECKS: usize = 5;
const RESUME: &str =
    "SUIT_AGENT_INSTALL_RECORD=/data/agent/install-in-flight.json suit-agent resume 2>&1";
fn checks(uuid: &str) -> Vec<String> {
    vec![
        RESUME.to_string(),
        "suit-agent status".to_string(),
        format!("perso-consumer --uuid {uuid} hello --json"),
        format!("perso-consumer --uuid {uuid} info --json"),
        "suit-agent export version.txt --ree-root /tmp/ree".to_string(),
    ]
}

/// Whether the `resume` at `first` sent an awaited envelope again.
fn resumed(run: &GuestRun, first: usize) -> bool {
    let out = &run.command(first).output;
    assert_eq!(run.command(first).status, 0, "resume: {out}");
    let again = out.contains("installing /up/v2.suit again as recorded");
    if again {
        assert!(out.contains("installed /up/v2.suit"), "resume: {out}");
    } else {
        assert!(out.contains("nothing to resume"), "resume: {out}");
    }
    again
}

/// Which release (1 or 2) the check commands starting at `first` show (after its `resume`);
/// panics unless every observation names the same one.
fn release_seen(run: &GuestRun, first: usize, perso: &[Vec<u8>; 2], version: &[Vec<u8>; 2]) -> u32 {
    let out = |i: usize| run.command(first + 1 + i).output.clone();
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
              {{"ta-uuid": "{uuid}", "file": "{}", "uri": "https://updates.example.com/ta.bin", {}}},
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

/// `write-cut.sh NAME MODE COMMAND...`: runs COMMAND while counting tee-supplicant's write
/// system calls (the REE FS requests that write OP-TEE's secure storage; `/proc/PID/io`).
/// MODE `measure`: prints how many the command made and saves that in `/data/NAME.writes`.
/// MODE `FRACTION/COUNT`: once FRACTION of COUNT writes have landed, stops tee-supplicant
/// (the TA's next storage request then waits and nothing more lands, so the cut is at that
/// write, not wherever the TA got to in the host's reaction time) and prints the marker the
/// host kills QEMU on, with the writes that had landed and whether the command still ran.
/// The loop forks nothing, to see each write as it lands.
const WRITE_CUT_SH: &str = r#"#!/bin/sh
name=$1; mode=$2; shift 2
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
sup=$(pidof tee-supplicant) || { echo "CUT: tee-supplicant is not running"; exit 1; }
writes() { while read -r k v; do [ "$k" = syscw: ] && { w=$v; return 0; }; done </proc/$sup/io; return 1; }
writes || { echo "CUT: no /proc/$sup/io"; exit 1; }
w0=$w; at=0; n=0; first=; last=
case "$mode" in
    measure) ;;
    */?*) total=${mode#*/}; frac=${mode%/*} ;;
    *) echo "CUT: mode $mode?"; exit 1 ;;
esac
[ "$mode" = measure ] || at=$(awk -v n="$total" -v f="$frac" 'BEGIN { k = int(n * f + 0.5); print (k < 1 ? 1 : k) }')
rm -f /tmp/$name.rc
read -r t0 _ </proc/uptime
( "$@" >/tmp/$name.out 2>&1; echo $? >/tmp/$name.rc ) &
while [ ! -e /tmp/$name.rc ]; do
    writes; [ $((w - w0)) -gt $n ] || continue
    n=$((w - w0)); read -r t _ </proc/uptime; [ -n "$first" ] || first=$t; last=$t
    if [ "$at" -gt 0 ] && [ "$n" -ge "$at" ]; then
        kill -STOP "$sup"; sleep 0.2; writes
        [ -e /tmp/$name.rc ] && running=no || running=yes
        echo "POWER-CUT-NOW in $name $(since $t0 $t)s after its start; writes landed: $((w - w0)) of $total measured; still running: $running"
        sleep 60; kill -CONT "$sup"; wait; cat /tmp/$name.out; echo "CUT: QEMU was not killed"; exit 1
    fi
done
wait; writes; n=$((w - w0))
read -r t _ </proc/uptime
cat /tmp/$name.out
rc=$(cat /tmp/$name.rc)
if [ "$mode" = measure ]; then
    [ "$n" -gt 0 ] && echo "$n" >/data/$name.writes || exit 1
    echo "CUT: $name took $(since $t0 $t)s; its $n storage writes landed $(since $t0 $first)s to $(since $t0 $last)s after its start"
    exit $rc
fi
echo "CUT: $name ended before the power cut (exit $rc, storage writes: $n)"
"#;

/// The count `write-cut.sh NAME measure` printed.
fn measured_writes(output: &str) -> u32 {
    output
        .lines()
        .find_map(|l| {
            l.strip_prefix("CUT: ")?
                .split_once("; its ")?
                .1
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no measured write count: {output}"))
}

/// Provisioning message `n` (2-4) of the TPA root, after the install case's message 1: 2 adds
/// author 2 and KEK `kek-2` for it; 3 and 4 each remove the KEK and the author the message
/// before added and add author `n` with a KEK of its own. Such a rotation changes both
/// objects a provisioning message writes (the KEK object, then the state record that names
/// the KEK set in force) and four records in them.
fn provision_message(d: &Path, n: u32) {
    let add = |a: u32| {
        format!(
            r#"{{"add-anchor": {{"id": {a}, "key": "a{a}.pub.pem", "role": "author", "components": [["k{a}"]]}}}},
               {{"add-kek": {{"kek": "kek{a}.bin", "kid": "kek-{a}", "anchors": [{a}]}}}}"#
        )
    };
    let ops = if n == 2 {
        add(2)
    } else {
        let old = n - 1;
        format!(
            r#"{{"remove-kek": "kek-{old}"}}, {{"remove-anchor": {old}}}, {}"#,
            add(n)
        )
    };
    let json = format!(
        r#"{{"counter": {n}, "device-key": "identity.pub.pem", "key-statement": "key-statement.cbor", "ops": [{ops}]}}"#
    );
    write_text(d, &format!("p{n}.json"), &json);
    let tpa = keys::path("keys/tpa-test.priv.pem");
    author(
        d,
        &[
            "provision",
            &format!("p{n}.json"),
            "--tpa-key",
            tpa.to_str().expect("UTF-8 repository path"),
            "-o",
            &format!("p{n}.cbor"),
        ],
    );
}

/// Check rounds of the provisioning cuts: before the first cut, after each of the two, and
/// after message 4 was sent again.
const PROVISION_ROUNDS: u32 = 4;

/// The `--put` specs of the provisioning cuts: messages 2-4 and, per check round,
/// one envelope each of authors 3 and 4 (sequence number = round), its payload encrypted
/// only to the author's KEK: it installs iff the device holds that author and that KEK.
fn provisioning_files(d: &Path) -> Vec<String> {
    let mut puts = Vec::new();
    for a in 2..=4 {
        author(d, &["keygen", "--type", "p256", "--out", &format!("a{a}")]);
        std::fs::write(d.join(format!("kek{a}.bin")), format!("power-cut-kek-{a}!")).unwrap();
        provision_message(d, a);
        puts.push(format!(
            "{}=/up/p{a}.cbor",
            d.join(format!("p{a}.cbor")).display()
        ));
    }
    std::fs::write(d.join("k.bin"), b"behind a KEK").unwrap();
    for round in 1..=PROVISION_ROUNDS {
        for a in [3, 4] {
            puts.extend(create_envelope_signed(
                d,
                &format!("e{a}-{round}"),
                &format!(
                    r#"{{"sequence-number": {round}, "vendor-id": {{"name": "example.com"}}, "class-id": {{"name": "qemu-armv8"}},
                        "components": [{{"id": ["k{a}"], "file": "k.bin",
                          "encryption": {{"content-alg": "A128GCM", "recipients": [{{"kek": "kek{a}.bin", "kid": "kek-{a}"}}]}}}}]}}"#
                ),
                &[&format!("a{a}.priv.pem")],
            ));
        }
    }
    puts
}

/// Guest commands that show which provisioning state the device is on (through the agent
/// only): anchors and counters, the status, and round `round`'s envelopes of authors 3 and 4.
const PROVISION_CHECKS: usize = 4;
fn provision_checks(round: u32) -> Vec<String> {
    let install =
        |a: u32| format!("suit-agent install /up/e{a}-{round}.suit 2>&1; echo \"exit $?\"");
    vec![
        "suit-agent anchors --json".to_string(),
        "suit-agent status --json".to_string(),
        install(3),
        install(4),
    ]
}

/// Which message (3 or 4) the provisioning state shown by the checks starting at `first`
/// comes from, and its anchors as `anchors --json` shows them; panics unless every
/// observation names the same one.
fn provision_seen(run: &GuestRun, first: usize, round: u32) -> (u32, serde_json::Value) {
    let out = |i: usize| run.command(first + i).output.clone();
    let anchors: serde_json::Value =
        serde_json::from_str(out(0).trim()).unwrap_or_else(|e| panic!("{e}: {}", out(0)));
    let status: serde_json::Value =
        serde_json::from_str(out(1).trim()).unwrap_or_else(|e| panic!("{e}: {}", out(1)));
    let counter = anchors["provisioning-counter"]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter: {anchors}")) as u32;
    let mut ids: Vec<u64> = anchors["anchors"]
        .as_array()
        .unwrap_or_else(|| panic!("no anchors: {anchors}"))
        .iter()
        .filter_map(|a| a["id"].as_u64())
        .collect();
    ids.sort_unstable();
    let service = &status["service"];
    assert!(service["state-error"].is_null(), "{status}");
    let installs = |i: usize, a: u32| {
        let o = out(i);
        let ok = o.contains(&format!("installed /up/e{a}-{round}.suit")) && o.contains("exit 0");
        assert!(ok || !o.contains("exit 0"), "{o}");
        ok
    };
    let seen = (
        counter,
        ids,
        service["provisioning-counter"].as_u64(),
        service["anchors"].as_u64(),
        installs(2, 3),
        installs(3, 4),
    );
    let expected = |m: u32| {
        (
            m,
            vec![1, u64::from(m)],
            Some(u64::from(m)),
            Some(2),
            m == 3,
            m == 4,
        )
    };
    let state = [3, 4]
        .into_iter()
        .find(|m| seen == expected(*m))
        .unwrap_or_else(|| {
            panic!(
                "mixed provisioning state (counter, anchors, status counter, status anchors, \
                 author 3's envelope installs, author 4's installs): {seen:?}\n{}\n{}\n{}",
                out(0),
                out(2),
                out(3)
            )
        });
    (state, anchors)
}

/// The marker line of a `write-cut.sh NAME` cut, if the guest printed one: how many writes of
/// the command had landed when it was printed and whether the command still ran.
fn write_cut(run: &GuestRun, name: &str) -> Option<(String, u32, bool)> {
    let line = run
        .normal_log
        .lines()
        .find(|l| l.starts_with(&format!("POWER-CUT-NOW in {name} ")))?;
    let writes = line
        .split_once("writes landed: ")
        .and_then(|(_, r)| r.split(' ').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    Some((
        line.to_string(),
        writes,
        line.ends_with("still running: yes"),
    ))
}

/// What the provisioning cuts showed.
#[derive(Default)]
struct ProvisionCuts {
    /// Per check round: the state shown (3 or 4) and `anchors --json`.
    seen: Vec<(u32, serde_json::Value)>,
    /// Per cut: its marker line, the writes landed and whether the command still ran when it
    /// was printed, and the state the device came back on (filled in by the next boot).
    cuts: Vec<(String, u32, bool, Option<u32>)>,
}

impl ProvisionCuts {
    /// Records check round `round` (its commands from `first`) and the cut `run` ended with,
    /// if any.
    fn observe(&mut self, run: &GuestRun, first: usize, round: u32) -> u32 {
        for i in 0..first + PROVISION_CHECKS {
            assert_eq!(run.command(i).status, 0, "{}", run.command(i).output);
        }
        let (state, anchors) = provision_seen(run, first, round);
        if let Some(cut) = self.cuts.last_mut().filter(|c| c.3.is_none()) {
            cut.3 = Some(state);
        }
        self.seen.push((state, anchors));
        state
    }

    fn cut(&mut self, run: &GuestRun) -> bool {
        match write_cut(run, "p4") {
            Some((line, writes, running)) => {
                assert_eq!(run.status, KILLED, "{line}\n{}", run.normal_log);
                self.cuts.push((line, writes, running, None));
                true
            }
            None => false,
        }
    }
}

const CUT_MARKER: &str = "^POWER-CUT-NOW";

/// Commands the boot before the provisioning cuts ends with: message 2, message 3 (its
/// writes counted), check round 1, and message 4 cut once half as many writes have landed.
fn provisioning_first_boot() -> Vec<String> {
    let mut cmds = vec![
        "suit-agent provision /up/p2.cbor".to_string(),
        "sh /up/write-cut.sh p3 measure suit-agent provision /up/p3.cbor".to_string(),
    ];
    cmds.extend(provision_checks(1));
    cmds.push(
        "sh /up/write-cut.sh p4 0.5/$(cat /data/p3.writes) suit-agent provision /up/p4.cbor"
            .to_string(),
    );
    cmds
}

fn provisioning_first_checks(run: &GuestRun, first: usize, obs: &mut ProvisionCuts) {
    eprintln!("{}", run.command(first + 1).output);
    assert_eq!(obs.observe(run, first + 2, 1), 3, "message 3 applied");
    obs.cut(run);
}

/// The next boot: check round 2, then message 4 again (if the device is still on message 3's
/// state), cut at 90% of the writes message 3 made: before its last one, the state record's
/// (cut after that last write, the TA had already answered).
fn provisioning_second_boot() -> Vec<String> {
    let mut cmds = provision_checks(2);
    cmds.push(
        "sh /up/write-cut.sh p4 0.9/$(cat /data/p3.writes) suit-agent provision /up/p4.cbor"
            .to_string(),
    );
    cmds
}

fn provisioning_second_checks(run: &GuestRun, obs: &mut ProvisionCuts) {
    let state = obs.observe(run, 0, 2);
    if !obs.cut(run) {
        let sent = &run.command(PROVISION_CHECKS).output;
        let expected = if state == 3 {
            "accepted"
        } else {
            "replayed or older"
        };
        assert!(sent.contains(expected), "{sent}");
    }
}

/// The last boot: check round 3, message 4 sent again (applies iff the device showed
/// message 3's state, else refused as a replay), check round 4 (message 4's state).
fn provisioning_last_boot() -> Vec<String> {
    let mut cmds = provision_checks(3);
    cmds.push("suit-agent provision /up/p4.cbor 2>&1; echo \"exit $?\"".to_string());
    cmds.extend(provision_checks(4));
    cmds
}

fn provisioning_last_checks(run: &GuestRun, obs: &mut ProvisionCuts) {
    run.assert_ok();
    let state = obs.observe(run, 0, 3);
    let sent = &run.command(PROVISION_CHECKS).output;
    if state == 3 {
        assert!(
            sent.contains("accepted") && sent.contains("exit 0"),
            "{sent}"
        );
    } else {
        assert!(
            sent.contains("replayed or older") && !sent.contains("exit 0"),
            "{sent}"
        );
    }
    assert_eq!(obs.observe(run, PROVISION_CHECKS + 1, 4), 4);
    // Every state shown is exactly message 3's (as round 1 showed it) or message 4's (as
    // round 4 did), anchor keys and scopes included.
    let reference = |m: u32| {
        obs.seen
            .iter()
            .find(|(s, _)| *s == m)
            .map(|(_, a)| a.clone())
            .expect("both states seen")
    };
    for (state, anchors) in &obs.seen {
        assert_eq!(anchors, &reference(*state));
    }
    for (line, _, _, after) in &obs.cuts {
        eprintln!("{line} -> after the reboot: message {after:?}'s state");
    }
    assert!(
        obs.cuts
            .iter()
            .any(|(_, writes, running, _)| *writes >= 1 && *running),
        "no cut landed inside provisioning (after its first write, before it returned): {:?}",
        obs.cuts
    );
}

#[test]
fn power_cuts_inside_install_and_provisioning_leave_the_old_or_the_new_state() {
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

    // Boots 0a and 0b: a power cut inside the first command of a fresh device, which makes
    // its keys and records. 0a counts that command's writes on a device without a disk (its
    // storage goes with the boot); 0b cuts the same command on this device half-way through.
    write_text(d, "write-cut.sh", WRITE_CUT_SH);
    let cut_put = format!("{}=/up/write-cut.sh", d.join("write-cut.sh").display());
    let run = boot(
        Boot {
            puts: vec![&cut_put],
            ..Default::default()
        },
        &["sh /up/write-cut.sh keys measure suit-agent device-key"],
    );
    run.assert_ok();
    eprintln!("{}", run.command(0).output);
    let key_writes = measured_writes(&run.command(0).output);
    let cmd = format!("sh /up/write-cut.sh keys 0.5/{key_writes} suit-agent device-key");
    let run = boot(
        Boot {
            disk: Some(&disk),
            puts: vec![&cut_put],
            kill_on: Some(CUT_MARKER),
            ..Default::default()
        },
        &[&cmd],
    );
    let (line, writes, running) = write_cut(&run, "keys")
        .unwrap_or_else(|| panic!("key creation was not cut:\n{}", run.normal_log));
    assert_eq!(run.status, KILLED, "{}", run.normal_log);
    assert!(
        writes >= 1 && running,
        "the cut missed key creation: {line}"
    );
    // Boot 1: the status the cut left (no device key yet, or the whole set), the device key
    // (made now if the cut left none), the status again; the key statement verifies.
    let run = export_device_key_between(
        &disk,
        d,
        &["suit-agent status --json"],
        &["suit-agent status --json"],
    );
    let kid = |i: usize| {
        let out = &run.command(i).output;
        let s: serde_json::Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(s["service"]["state-error"].is_null(), "{out}");
        s["service"]["device-key-kid"].clone()
    };
    let (before, after) = (kid(0), kid(5));
    assert!(after.is_string(), "no device key after the export: {after}");
    assert!(
        before.is_null() || before == after,
        "the device key changed after the cut: {before} then {after}"
    );
    author(
        d,
        &[
            "verify-key-statement",
            "key-statement.cbor",
            "--identity-key",
            "identity.pub.pem",
        ],
    );
    eprintln!(
        "{line} -> after the reboot: {}",
        if before.is_null() {
            "no device key yet (made by the next command)"
        } else {
            "the whole key set"
        }
    );

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
    let mut puts = vec![
        format!("{}=/up/cut.sh", d.join("cut.sh").display()),
        cut_put,
    ];
    puts.extend(provisioning_files(d));
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
    assert!(!resumed(&run, 2), "nothing was cut yet");
    assert_eq!(release_seen(&run, 2, &perso, &version), 1);
    assert_eq!(
        run.status, KILLED,
        "the guest was not cut: {}",
        run.normal_log
    );

    // Boot 4: old or new; if still old, release 2 again, cut late (around the commit).
    let mut cmds = checks(&uuid);
    cmds.push("sh /up/cut.sh v2 0.85".to_string());
    let run = on_disk(&puts, Some("^POWER-CUT-NOW"), &cmds);
    let mut resent = usize::from(resumed(&run, 0));
    let r = release_seen(&run, 0, &perso, &version);
    assert!(resent == 0 || r == 2, "sent again, yet the old release");
    seen.push(r);
    if r == 1 {
        assert_eq!(
            run.status, KILLED,
            "the guest was not cut: {}",
            run.normal_log
        );
    }

    // Boot 5: old or new; then the device goes on: release 2 installs exactly once, and the
    // older manifest under another component list cannot bring back release 1's data. Then
    // provisioning messages 2 and 3 (3 measured), and message 4 cut.
    let mut cmds = checks(&uuid);
    cmds.push(
        "suit-agent install /up/v2.suit --payload-dir /up/v2 --ree-root /data/ree 2>&1 || true"
            .into(),
    );
    cmds.extend(checks(&uuid));
    cmds.push("! suit-agent install /up/v2.suit --payload-dir /up/v2 2>&1".into());
    cmds.push("! suit-agent install /up/old-list.suit 2>&1".into());
    cmds.extend(checks(&uuid));
    let first = cmds.len();
    cmds.extend(provisioning_first_boot());
    let run = on_disk(&puts, Some(CUT_MARKER), &cmds);
    for i in 0..first {
        assert_eq!(run.command(i).status, 0, "{}", run.command(i).output);
    }
    let again = resumed(&run, 0);
    resent += usize::from(again);
    let r = release_seen(&run, 0, &perso, &version);
    assert!(!again || r == 2, "sent again, yet the old release");
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
    eprintln!(
        "after the cuts the device was on releases {seen:?}; {resent} cut(s) left the commit \
         awaiting its envelope, which `resume` sent again"
    );

    let mut cuts = ProvisionCuts::default();
    provisioning_first_checks(&run, first, &mut cuts);
    let started = std::time::Instant::now();
    // Boot 6: message 3's state or 4's; if 3's, message 4 again, cut later in its writes.
    let run = on_disk(&puts, Some(CUT_MARKER), &provisioning_second_boot());
    provisioning_second_checks(&run, &mut cuts);
    // Boot 7: message 3's state or 4's; message 4 once more; 4's state.
    let run = on_disk(&puts, None, &provisioning_last_boot());
    provisioning_last_checks(&run, &mut cuts);
    eprintln!(
        "the boots after the first provisioning cut took {:?}",
        started.elapsed()
    );
}
