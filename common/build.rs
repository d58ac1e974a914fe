//! hbs-lms sizes its verifier's fixed arrays from these variables when it is built;
//! `cose::hss_shape` admits every RFC 8554 shape (8 levels, trees up to height 25, Winternitz
//! parameters 1 to 8) because they keep their defaults. A build that changed them would let a
//! shape-valid signature overflow those arrays (a panic on input), so it is refused.
fn main() {
    let hss_lms = std::env::var_os("CARGO_FEATURE_HSS_LMS").is_some();
    for var in [
        "HBS_LMS_MAX_ALLOWED_HSS_LEVELS",
        "HBS_LMS_TREE_HEIGHTS",
        "HBS_LMS_WINTERNITZ_PARAMETERS",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        if hss_lms && std::env::var_os(var).is_some() {
            eprintln!("{var} is set: suit-common's HSS-LMS shape check needs hbs-lms's defaults");
            std::process::exit(1);
        }
    }
}
