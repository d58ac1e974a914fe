//! Which TPA root the TA is built with (used by build.rs; unit-tested host-natively by
//! tests/tests/ta_tpa_root.rs, which includes this file).
//!
//! The TPA root controls the whole trust anchor store, so a build never falls back to the
//! repository's test key (whose private half is public): either `SUIT_TPA_ROOT` names the
//! TPA's public key, or the loudly named opt-in `SUIT_INSECURE_TEST_TPA_ROOT=1` asks for the
//! test key (tests and the demo). The test key is refused under any other name too, and so
//! is every other key of the repository's test material (tests/: vectors and test keys keep
//! their private halves beside them).

use std::path::{Path, PathBuf};

use base64::Engine as _;

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
                    "{ROOT_VAR}={r} is a key of the repository's test material (its private half \
                     is public: anyone could provision this TA). Use your TPA's key, or set \
                     {INSECURE_VAR}=1 for a test build."
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

/// Whether the P-256 key `point` (uncompressed SEC1) belongs to the test material below
/// `tests_dir`: its x coordinate occurs in some file there as bytes, as hex or base64, or
/// inside a PEM block (private keys carry their public point). Test vectors and test keys keep
/// their private halves beside them, so such a key can never be a product's TPA root.
pub fn is_test_material(tests_dir: &Path, point: &[u8]) -> bool {
    let Some(x) = point.get(1..33).filter(|_| point.len() == 65) else {
        return false;
    };
    let hex: String = x.iter().map(|b| format!("{b:02x}")).collect();
    let engines = [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut forms = vec![
        x.to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
    ];
    forms.extend(engines.iter().map(|e| e.encode(x).into_bytes()));
    let found = |hay: &[u8]| forms.iter().any(|f| hay.windows(f.len()).any(|w| w == f));
    let mut dirs = vec![tests_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if found(&bytes) || pem_blocks(&bytes).iter().any(|b| found(b)) {
                    return true;
                }
            }
        }
    }
    false
}

/// The decoded contents of the PEM blocks in `text` (none if it is not text).
fn pem_blocks(text: &[u8]) -> Vec<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(text) else {
        return Vec::new();
    };
    let mut blocks = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (&mut body, line.starts_with("-----BEGIN")) {
            (None, true) => body = Some(String::new()),
            (Some(b), _) if line.starts_with("-----END") => {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b.as_bytes()) {
                    blocks.push(der);
                }
                body = None;
            }
            (Some(b), _) => b.push_str(line),
            (None, false) => {}
        }
    }
    blocks
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
        assert!(e.contains("test material"), "{e}");
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
