//! Which TPA root the TA is built with (used by build.rs; unit-tested host-natively by
//! tests/tests/ta_tpa_root.rs, which includes this file).
//!
//! The TPA root controls the whole trust anchor store, so a build never falls back to the
//! repository's test key (whose private half is public): either `SUIT_TPA_ROOT` names the
//! TPA's public key, or the loudly named opt-in `SUIT_INSECURE_TEST_TPA_ROOT=1` asks for the
//! test key (tests and the demo). The test key is refused under any other name too.

use std::path::PathBuf;

/// Environment variable naming the TPA root's public key (PEM SPKI, P-256).
pub const ROOT_VAR: &str = "SUIT_TPA_ROOT";
/// Test-only opt-in for the repository's public test key.
pub const INSECURE_VAR: &str = "SUIT_INSECURE_TEST_TPA_ROOT";

/// The build's choice: the key file and whether it is the repository's test key.
#[derive(Debug, PartialEq, Eq)]
pub struct Choice {
    pub path: PathBuf,
    pub is_test_key: bool,
}

/// Decides from the two variables' values. `is_test_key(path)` tells whether a file holds
/// the repository's test key. Errors are the message the build stops with.
pub fn choose(
    root: Option<&str>,
    insecure: Option<&str>,
    test_key: PathBuf,
    is_test_key: impl Fn(&PathBuf) -> bool,
) -> Result<Choice, String> {
    let opted_in = match insecure {
        None | Some("") | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(format!(
                "{INSECURE_VAR}={other:?}: set it to 1 (test builds only) or leave it unset"
            ))
        }
    };
    match root.filter(|r| !r.is_empty()) {
        Some(r) => {
            let path = PathBuf::from(r);
            let is_test = is_test_key(&path);
            if is_test && !opted_in {
                return Err(format!(
                    "{ROOT_VAR}={r} is the repository's public test TPA key (its private half is \
                     in the repository: anyone could provision this TA). Use your TPA's key, or \
                     set {INSECURE_VAR}=1 for a test build."
                ));
            }
            Ok(Choice {
                path,
                is_test_key: is_test,
            })
        }
        None if opted_in => Ok(Choice {
            path: test_key,
            is_test_key: true,
        }),
        None => Err(format!(
            "no TPA root: set {ROOT_VAR}=/path/to/tpa.pub.pem (your TPA's P-256 public key, \
             PEM). For a test build only, {INSECURE_VAR}=1 selects the repository's public test \
             key (anyone can then provision the TA)."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> PathBuf {
        PathBuf::from("tests/keys/tpa-test.pub.pem")
    }
    // The signature `choose` takes (build.rs passes a closure over its own PathBuf).
    #[allow(clippy::ptr_arg)]
    fn is_test(p: &PathBuf) -> bool {
        p.ends_with("tpa-test.pub.pem")
    }

    #[test]
    fn without_a_root_or_the_opt_in_the_build_fails() {
        for insecure in [None, Some(""), Some("0")] {
            let e = choose(None, insecure, test_key(), is_test).unwrap_err();
            assert!(e.contains("no TPA root") && e.contains(INSECURE_VAR), "{e}");
            let e = choose(Some(""), insecure, test_key(), is_test).unwrap_err();
            assert!(e.contains("no TPA root"), "{e}");
        }
    }

    #[test]
    fn the_test_key_needs_the_opt_in_under_any_name() {
        let e = choose(Some("x/tpa-test.pub.pem"), None, test_key(), is_test).unwrap_err();
        assert!(e.contains("public test TPA key"), "{e}");
        assert_eq!(
            choose(None, Some("1"), test_key(), is_test),
            Ok(Choice {
                path: test_key(),
                is_test_key: true
            })
        );
        assert!(choose(None, Some("yes"), test_key(), is_test).is_err());
    }

    #[test]
    fn an_explicit_root_is_used() {
        assert_eq!(
            choose(Some("/keys/tpa.pub.pem"), None, test_key(), is_test),
            Ok(Choice {
                path: PathBuf::from("/keys/tpa.pub.pem"),
                is_test_key: false
            })
        );
    }
}
