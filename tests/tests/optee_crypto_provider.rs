//! The crypto-provider seam inside OP-TEE on QEMU (issue 14 item 3), in one boot: the TA's
//! RustCrypto provider and its GP TEE Internal Core API provider both give the published
//! answers of tests/vectors/crypto-provider/kat.txt (and agree where there is none), every
//! timed operation runs on both, and a malformed bench request is refused. Correctness only:
//! no speed is checked here (qemu/bench.sh prints the numbers).
//!
//! Installs on the providers the TA selected are covered by optee_install and
//! optee_foundation (they run on whatever `ta/src/crypto.rs` SELECTED says).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::collections::BTreeMap;

use suit_tests::{boot, repo_root, Boot};

const PROVIDERS: [&str; 2] = ["rustcrypto", "gp-tee"];

#[test]
fn both_providers_agree_on_known_answers_inside_the_ta() {
    let kat_path = repo_root().join("tests/vectors/crypto-provider/kat.txt");
    let kat = std::fs::read_to_string(&kat_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Timings: each op once or twice with small inputs (they must run, not be fast).
    let timed = format!(
        "{kat}time sha256 4096 2\ntime gcm 4096 2\ntime ctr 4096 2\ntime ecdsa 0 1\ntime ecdh 0 1\ntime ecdh-agree 0 1\n"
    );
    std::fs::write(dir.path().join("kat.txt"), &timed).unwrap();
    // Line 2 is not hex: refused as a whole, before any provider runs.
    std::fs::write(dir.path().join("bad.txt"), "# x\nsha256 - 0g\n").unwrap();
    let put_kat = format!("{}=/up/kat.txt", dir.path().join("kat.txt").display());
    let put_bad = format!("{}=/up/bad.txt", dir.path().join("bad.txt").display());
    let run = boot(
        Boot {
            puts: vec![put_kat.as_str(), put_bad.as_str()],
            ..Default::default()
        },
        &[
            "suit-agent crypto-bench /up/kat.txt",
            "! suit-agent crypto-bench /up/bad.txt 2>&1",
        ],
    );
    run.assert_ok();
    run.says(1, "could not decode the request");
    let reply = &run.command(0).output;

    // (line → provider → result)
    let mut got: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    for l in reply.lines().filter(|l| l.starts_with("kat ")) {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f.len(), 5, "{l}");
        got.entry(f[1].parse().unwrap())
            .or_default()
            .insert(f[3].to_string(), f[4].to_string());
    }
    let mut checks = 0;
    let mut published = 0;
    for (i, line) in kat.lines().enumerate() {
        let f: Vec<&str> = line.split(' ').collect();
        if line.starts_with('#') || line.trim().is_empty() || f[0] == "time" {
            continue;
        }
        checks += 1;
        let by = got
            .get(&(i + 1))
            .unwrap_or_else(|| panic!("no result for line {}: {reply}", i + 1));
        for p in PROVIDERS {
            let r = by
                .get(p)
                .unwrap_or_else(|| panic!("{p} missing for line {}: {reply}", i + 1));
            match f[1] {
                "-" => {
                    assert_ne!(r, "fail", "{p}, line {}: {line}", i + 1);
                    assert_eq!(r, &by["rustcrypto"], "{p}, line {}: {line}", i + 1);
                }
                want => assert_eq!(r, want, "{p}, line {}: {line}", i + 1),
            }
        }
        if f[1] != "-" {
            published += 1;
        }
    }
    assert_eq!(got.len(), checks, "{reply}");
    assert_eq!(published, 18);

    for op in ["sha256", "gcm", "ctr", "ecdsa", "ecdh", "ecdh-agree"] {
        for p in PROVIDERS {
            let prefix = format!("time {op} ");
            assert!(
                reply
                    .lines()
                    .any(|l| l.starts_with(&prefix) && l.split(' ').nth(3) == Some(p)),
                "no {op} timing for {p}: {reply}"
            );
        }
    }
}
