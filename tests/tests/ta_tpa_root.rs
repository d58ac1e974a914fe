//! The TA build's TPA-root decision (ta/tpa_root.rs, run by ta/build.rs), host-natively:
//! no TPA root and no test opt-in means no TA. The unit tests live in the included file.

#[path = "../../ta/tpa_root.rs"]
#[allow(dead_code)]
mod tpa_root;

#[test]
fn the_build_script_uses_the_decision() {
    let build = std::fs::read_to_string(suit_tests::repo_root().join("ta/build.rs")).unwrap();
    assert!(
        build.contains("tpa_root::choose(") && !build.contains("unwrap_or_else(|| test_key"),
        "ta/build.rs must decide through tpa_root::choose, with no silent fallback"
    );
}
