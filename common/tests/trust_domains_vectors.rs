//! The trust-domains draft's examples (tests/vectors/suit-trust-domains, from
//! suit-wg/suit-multiple-trust-domains at 97bf14c): each authenticates with the manifest-spec
//! examples' key and runs on a recording device. example2 processes its integrated dependency
//! without suit-condition-dependency-integrity, which the draft makes an abort.

use suit_common::encryption::MemoryKeys;
use suit_common::suit::error::{CommandErrorKind, Error, Section};
use suit_common::suit::{process, Envelope, Outcome, Procedure};
use suit_test_support::*;

const EXAMPLES: [&str; 3] = [
    "example0_dependent",
    "example1_process",
    "example2_integrated",
];

/// Where example1 fetches its dependency (example0) from.
const DEPENDENT_URI: &str = "http://example.com/dependent.suit";

fn vector(name: &str) -> Vec<u8> {
    hex_file(&format!("suit-trust-domains/{name}.hex"))
}

fn run(name: &str, procedure: Procedure, dev: &mut RecordingPlatform) -> Result<Outcome, Error> {
    process(
        &vector(name),
        procedure,
        &spec_policy(),
        &MemoryKeys::new(),
        dev,
    )
}

#[test]
fn every_example_authenticates_with_the_manifest_spec_key() {
    let policy = spec_policy();
    for name in EXAMPLES {
        let bytes = vector(name);
        let auth = Envelope::decode(&bytes)
            .and_then(|e| e.authenticate(&policy.anchors))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(auth.signers, vec![1], "{name}");
        assert_eq!(auth.manifest.sequence_number, 0, "{name}");
    }
    // Every example in the directory is one of these (and has its diagnostic notation).
    let mut files: Vec<String> = std::fs::read_dir(vector_path("suit-trust-domains"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n != "README.md")
        .collect();
    files.sort();
    let expected: Vec<String> = EXAMPLES
        .iter()
        .flat_map(|n| [format!("{n}.diag"), format!("{n}.hex")])
        .collect();
    assert_eq!(files, expected);
}

/// example0: a manifest of its own trust domain writes "hello world" into ['00'] and invokes it.
#[test]
fn example0_installs_hello_world() {
    let mut dev = RecordingPlatform::default();
    run("example0_dependent", Procedure::Update, &mut dev).unwrap();
    assert_eq!(
        dev.installed.get(&cid(&[b"00"])),
        Some(&b"hello world".to_vec())
    );
    dev.invocable = true;
    let out = run("example0_dependent", Procedure::Invoke, &mut dev).unwrap();
    assert_eq!(out.invoked, vec![cid(&[b"00"])]);
}

/// example1 fetches example0 as its dependency, checks it with
/// suit-condition-dependency-integrity, processes it and writes its own component: both
/// components are installed.
#[test]
fn example1_installs_its_dependency_and_its_own_component() {
    let mut dev = RecordingPlatform::default();
    dev.remote
        .insert(DEPENDENT_URI.into(), vector("example0_dependent"));
    run("example1_process", Procedure::Update, &mut dev).unwrap();
    assert_eq!(
        dev.installed.get(&cid(&[b"00"])),
        Some(&b"hello world".to_vec())
    );
    assert_eq!(
        dev.installed.get(&cid(&[b"10"])),
        Some(&b" in multiple trust domains".to_vec())
    );
    // Without the dependency nothing is installed.
    let mut dev = RecordingPlatform::default();
    assert!(run("example1_process", Procedure::Update, &mut dev).is_err());
    assert!(!dev.committed());
}

/// example2 carries example0 integrated and image-matches it, but processes it without
/// suit-condition-dependency-integrity. trust-domains, suit-directive-process-dependency: "If
/// the current Component index has not been the target of a
/// suit-condition-dependency-integrity, the Manifest Processor MUST Abort."
#[test]
fn example2_is_refused_as_its_dependency_is_not_verified() {
    let mut dev = RecordingPlatform::default();
    match run("example2_integrated", Procedure::Update, &mut dev) {
        Err(Error::Command(c)) => {
            assert_eq!(c.location.section, Section::Install);
            // [set-component-index 1, process-dependency 0, ...]
            assert_eq!(c.location.path, vec![1]);
            assert_eq!(c.kind, CommandErrorKind::DependencyNotVerified);
        }
        other => panic!("expected DependencyNotVerified, got {other:?}"),
    }
    assert!(!dev.committed());
    assert!(dev.installed.is_empty());
}
