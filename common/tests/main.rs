//! suit-common's integration tests in one binary: the crate and its dependencies are linked
//! once, not once per file. Each file here is a module, so a test is run by its path:
//! `cargo test -p suit-common --test main install_phases::` (a file) or
//! `... --test main install_phases::begin_abandons_any_phase_and_deletes_what_it_staged`.
//! (`attack_oracles` brings the binary's global allocator, which counts per thread and only
//! when a test asks it to.)
// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

/// Each item's display form: how the agent words the TA's typed answers.
fn texts<T: std::fmt::Display>(items: &[T]) -> Vec<String> {
    items.iter().map(T::to_string).collect()
}

mod attack_deleted_records;
mod attack_engine_bounds;
mod attack_hss_lms;
mod attack_keys;
mod attack_oracles;
mod attack_provisioning;
mod attack_rollback;
mod attack_storage_reads;
mod awaiting_envelope;
mod conformance_engine;
mod cose_algorithms;
mod cose_codec_coset;
mod cose_multi;
mod cose_wg_auth;
mod cose_wg_multi;
mod cose_wg_outside_profile;
mod dependency_encryption_info;
mod encoder_bytes;
mod encoder_model;
mod encryption_chacha;
mod encryption_cose_wg;
mod encryption_hpke;
mod encryption_multi_recipient;
mod encryption_roundtrip;
mod encryption_vectors;
mod engine_fallbacks;
mod engine_gaps;
mod error_display;
mod fault_codes;
mod firmware_encryption_vectors;
mod heap_budget;
mod hss_signing;
mod independent_vectors;
mod install_phases;
mod install_streaming;
mod interop_cwt;
mod manifest_spec_vectors;
mod peer_libcsuit;
mod perf_storage;
mod power_cut;
mod power_cut_commands;
mod provision_counters;
mod record_limits;
mod records_codec;
mod registry;
mod report_encryption;
mod report_roundtrip;
mod review_s16;
mod review_s17_kekbind;
mod review_s40;
mod review_s40_conformance;
mod review_s40b;
mod review_s40c;
mod review_s41_conformance;
mod review_s42;
mod review_s43;
mod rollback_key_quota;
mod service_flow;
mod service_unlink;
mod storage_ops;
mod store_segments;
mod suit_check;
mod trust_domains_vectors;
mod update_management;
mod vouched_content;

/// A test file added to common/tests without a `mod` line here would never be compiled or
/// run (common/Cargo.toml turns the one-binary-per-file default off): refuse that.
#[test]
fn every_test_file_is_compiled() {
    let this = include_str!("main.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(module) = name.strip_suffix(".rs") else {
            continue;
        };
        // Their own binaries (common/Cargo.toml), built with other features too.
        let own_binary = [
            "main",
            "crypto_provider",
            "size_algorithm_features",
            "heap_wipe",
        ]
        .contains(&module);
        if !own_binary && !this.contains(&format!("\nmod {module};\n")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "not compiled into any test binary: {missing:?}"
    );
}
