//! Interop with an independent SUIT implementation: every envelope of libcsuit's test corpus
//! (tests/vectors/libcsuit, made by its own encoder, signer and MAC tool) through our decoder,
//! authentication with libcsuit's keys as trust anchors, and the update / invocation
//! procedures on the recording device. Each envelope is accepted, or refused for a reason
//! CONFORMANCE.md gives (a device policy, or a draft rule the envelope breaks), asserted by
//! its typed error.

use suit_common::cose::Algorithm;
use suit_common::cose::VerificationKey;
use suit_common::encryption::MemoryKeys;
use suit_common::suit::author::{seal_envelope, Signer};
use suit_common::suit::error::{CommandErrorKind, Error, Section};
use suit_common::suit::platform::{PlatformError, Record};
use suit_common::suit::policy::{Policy, Role};
use suit_common::suit::update_management::{
    Authorization, ComponentMetadata, FileType, UmError, WaitEvent, WaitOutcome, WallClock,
};
use suit_common::suit::{process, ComponentId, Envelope, Outcome, Procedure};
use suit_test_support::*;

/// Every envelope of the corpus: (name, signing anchor, sequence number).
const CORPUS: [(&str, u32, u64); 22] = [
    ("exp0", ESP256, 0),
    ("exp1", ESP256, 1),
    ("exp2A", ESP256, 2),
    ("exp2B", ESP256, 2),
    ("exp3", ESP256, 3),
    ("exp4", ESP256, 4),
    ("exp5", ESP256, 5),
    ("expAF", HMAC, 1),
    ("expAFS", HMAC, 1),
    ("expAW", HMAC, 1),
    ("expD", ESP256, 3),
    ("expED", ESP256, 1),
    ("expEW", ESP256, 1),
    ("expI", ESP256, 3),
    ("expS0", ESP256, 0),
    ("expS2", ESP256, 0),
    ("expS3", ESP256, 0),
    ("expU", ESP256, 3),
    ("expU0", ESP256, 0),
    ("expU1", ESP256, 0),
    ("expU2", ESP256, 0),
    ("expU3", ESP256, 0),
];

/// libcsuit's ESP256 / ES256 signer (testfiles/key) and its HMAC-256 key.
const ESP256: u32 = 1;
const HMAC: u32 = 2;

/// The vendor and class of libcsuit's TEEP examples (D, I, U).
const TEEP_VENDOR: &str = "c0ddd5f15243566087db4f5b0aa26c2f";
const TEEP_CLASS: &str = "db42f7093d8c55baa8c5265fc5820f4e";

fn envelope(name: &str) -> Vec<u8> {
    read(&format!("libcsuit/suit_manifest_{name}.suit"))
}

fn hex_key(name: &str) -> Vec<u8> {
    hex_file(&format!("libcsuit/{name}"))
}

fn policy() -> Policy {
    let hmac = VerificationKey::hmac256(&hex_key("trust_anchor_hmac256.hex")).unwrap();
    policy_of(vec![
        anchor(
            ESP256,
            p256_public_from_pem("libcsuit/trust_anchor_secp256r1_pub.pem"),
            Role::Author,
        ),
        anchor(HMAC, hmac, Role::Author),
    ])
}

/// libcsuit's device keys: the A128KW KEK `kid-1` and the ECDH-ES P-256 key `kid-2` (the
/// firmware-encryption draft's keys, which libcsuit uses too).
fn device_keys() -> MemoryKeys {
    let mut keys = MemoryKeys::new();
    keys.add_kek(Some(b"kid-1"), &hex_key("kek_a128kw_kid-1.hex"))
        .unwrap();
    keys.add_ecdh_p256(Some(b"kid-2"), &hex_key("device_esdh_p256_d.hex"))
        .unwrap();
    keys
}

/// The plaintext every encrypted example decrypts to.
fn firmware() -> Vec<u8> {
    read("libcsuit/raw_image.bin")
}

fn run<D: suit_common::suit::platform::Platform>(
    name: &str,
    procedure: Procedure,
    dev: &mut D,
) -> Result<Outcome, Error> {
    process(&envelope(name), procedure, &policy(), &device_keys(), dev)
}

fn teep_device() -> RecordingPlatform {
    let mut dev = RecordingPlatform::spec_device();
    dev.vendor = hex::decode(TEEP_VENDOR).unwrap();
    dev.class = hex::decode(TEEP_CLASS).unwrap();
    dev
}

fn installed(dev: &RecordingPlatform, c: &[&[u8]]) -> Option<Vec<u8>> {
    dev.installed.get(&cid(c)).cloned()
}

/// The command error of `r`: section, path, kind.
fn command_error(r: Result<Outcome, Error>) -> (Section, Vec<u16>, CommandErrorKind) {
    match r {
        Err(Error::Command(c)) => (c.location.section, c.location.path, c.kind),
        other => panic!("expected a command error, got {other:?}"),
    }
}

#[test]
fn every_envelope_authenticates_with_libcsuits_keys() {
    let policy = policy();
    for (name, signer, seq) in CORPUS {
        let bytes = envelope(name);
        let env = Envelope::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let claimed = env.claimed_digest();
        let auth = env
            .authenticate(&policy.anchors)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(auth.signers, vec![signer], "{name}");
        assert_eq!(auth.manifest.sequence_number, seq, "{name}");
        assert_eq!(auth.digest, claimed, "{name}");
    }
    // Nothing in the directory is left out.
    let mut files: Vec<String> = std::fs::read_dir(vector_path("libcsuit"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| {
            Some(
                n.strip_prefix("suit_manifest_")?
                    .strip_suffix(".suit")?
                    .to_owned(),
            )
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|(n, _, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
    // The MAC'd ones need libcsuit's HMAC key.
    for name in ["expAF", "expAFS", "expAW"] {
        assert!(matches!(
            auth_refusal(&envelope(name), &spec_policy()),
            Error::Auth(_)
        ));
    }
}

/// libcsuit's examples 0-5 carry the manifest-spec examples' manifests byte for byte, signed
/// with the same key but with ESP256: the engine gives them the verdicts it gives the
/// draft's own envelopes (manifest_spec_vectors.rs runs those in depth, with real digests).
#[test]
fn spec_examples_signed_by_libcsuit_get_the_drafts_verdicts() {
    for (lc, spec) in [
        ("exp0", "example0.signed.hex"),
        ("exp1", "example1.signed.hex"),
        ("exp2A", "example2.signed-severed.hex"),
        ("exp2B", "example2.signed.hex"),
        ("exp3", "example3.signed.hex"),
        ("exp4", "example4.signed.hex"),
        ("exp5", "example5.signed.hex"),
    ] {
        let ours = envelope(lc);
        let theirs = hex_file(&format!("suit-manifest-spec/{spec}"));
        assert_eq!(manifest_of(&ours), manifest_of(&theirs), "{lc}");
        assert_ne!(ours, theirs, "{lc}: not a copy");
        for procedure in [Procedure::Update, Procedure::Invoke] {
            let mut a = RecordingPlatform::spec_device();
            let mut b = RecordingPlatform::spec_device();
            let ra = process(&ours, procedure, &policy(), &no_keys(), &mut a);
            let rb = process(&theirs, procedure, &spec_policy(), &no_keys(), &mut b);
            assert_eq!(format!("{ra:?}"), format!("{rb:?}"), "{lc} {procedure:?}");
            assert_eq!(a.log, b.log, "{lc} {procedure:?}");
        }
    }
}

/// Firmware-encryption draft examples as libcsuit makes them: A128KW under COSE_Mac0 (write,
/// and fetch + decrypting copy with text or byte component ids), ECDH-ES+A128KW under ESP256
/// (write, and a dependency that writes with the encryption info its dependent set).
#[test]
fn encrypted_examples_install_the_plaintext() {
    let ciphertext = read("suit-firmware-encryption/encrypted-payload-aes-kw-aes-gcm.bin");
    for (name, target) in [
        ("expAW", &[&b"plaintext-firmware"[..]][..]),
        ("expAF", &[&b"plaintext-firmware"[..]][..]),
        ("expAFS", &[&[0u8][..]][..]),
        ("expEW", &[&b"decrypted-firmware"[..]][..]),
        ("expED", &[&b"decrypted-firmware"[..]][..]),
    ] {
        let mut dev = RecordingPlatform::default();
        dev.remote.insert(
            "coaps://example.com/encrypted-firmware".into(),
            ciphertext.clone(),
        );
        let out = run(name, Procedure::Update, &mut dev).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(installed(&dev, target), Some(firmware()), "{name}");
        assert_eq!(
            out.committed,
            vec![cid(target)],
            "{name}: ciphertext buffer dropped"
        );
    }
}

/// TEEP's examples: a TA from a URI (U) and from an integrated payload (I). D (personalization
/// data whose dependency is U) processes its dependency without ever checking it with
/// suit-condition-dependency-integrity, which trust domains forbids (see S3 below).
#[test]
fn teep_examples_install_the_ta() {
    let uuid = hex::decode("8d82573a926d4754935332dc29997f74").unwrap();
    let ta_id: [&[u8]; 4] = [b"TEEP-Device", b"SecureFS", &uuid, b"ta"];
    let ta = read("libcsuit/8d82573a-926d-4754-9353-32dc29997f74.ta");
    let ta_uri = "https://example.org/8d82573a-926d-4754-9353-32dc29997f74.ta";

    let mut dev = teep_device();
    dev.remote.insert(ta_uri.into(), ta.clone());
    run("expU", Procedure::Update, &mut dev).unwrap();
    assert_eq!(installed(&dev, &ta_id), Some(ta.clone()));

    let mut dev = teep_device();
    run("expI", Procedure::Update, &mut dev).unwrap();
    assert_eq!(installed(&dev, &ta_id), Some(ta.clone()));

    let mut dev = teep_device();
    dev.remote.insert(ta_uri.into(), ta);
    dev.remote.insert(
        "https://example.org/8d82573a-926d-4754-9353-32dc29997f74.suit".into(),
        envelope("expU"),
    );
    let (section, path, kind) = command_error(run("expD", Procedure::Update, &mut dev));
    assert_eq!(
        (section, path, kind),
        (
            Section::Install,
            vec![1],
            CommandErrorKind::DependencyNotVerified
        )
    );
    assert!(!dev.committed());
}

/// Trust domains: a manifest on its own (S0), one whose dependency is fetched and checked
/// with suit-condition-dependency-integrity (S2), and one that checks it with image-match
/// only (S3), which the draft forbids.
#[test]
fn trust_domain_examples_follow_the_dependency_rules() {
    let mut dev = RecordingPlatform::default();
    run("expS0", Procedure::Update, &mut dev).unwrap();
    assert_eq!(installed(&dev, &[b"00"]), Some(b"hello world".to_vec()));
    dev.invocable = true;
    let out = run("expS0", Procedure::Invoke, &mut dev).unwrap();
    assert_eq!(out.invoked, vec![cid(&[b"00"])]);

    let mut dev = RecordingPlatform::default();
    dev.remote.insert(
        "http://example.com/dependent.suit".into(),
        envelope("expS0"),
    );
    run("expS2", Procedure::Update, &mut dev).unwrap();
    assert_eq!(installed(&dev, &[b"00"]), Some(b"hello world".to_vec()));
    assert_eq!(
        installed(&dev, &[b"10"]),
        Some(b" in multiple trust domains".to_vec())
    );

    // trust-domains, suit-directive-process-dependency: "If the current Component index has
    // not been the target of a suit-condition-dependency-integrity, the Manifest Processor
    // MUST Abort". S3 checks its dependency with suit-condition-image-match only.
    let mut dev = RecordingPlatform::default();
    let (section, path, kind) = command_error(run("expS3", Procedure::Update, &mut dev));
    assert_eq!(section, Section::Install);
    assert_eq!(path, vec![1]);
    assert_eq!(kind, CommandErrorKind::DependencyNotVerified);
    assert!(!dev.committed());
}

/// A device that answers every update-management question, as the draft lets a platform.
#[derive(Default)]
struct CapableDevice {
    inner: RecordingPlatform,
    clock: Option<WallClock>,
    battery: Option<u64>,
    version: Option<Vec<i64>>,
    wait: bool,
    metadata: Option<Vec<(ComponentId, ComponentMetadata)>>,
    waited: Vec<WaitEvent>,
}

suit_test_support::recording_platform_via!(CapableDevice, inner, {
    fn report(&mut self, r: &Record<'_>) {
        self.inner.report(r)
    }
    fn wall_clock(&self) -> Option<WallClock> {
        self.clock
    }
    fn battery_mwh(&self) -> Option<u64> {
        self.battery
    }
    fn authorize_update(&mut self, _c: &ComponentId, _priority: Option<i64>) -> Authorization {
        Authorization::Granted
    }
    fn component_version(&self, _c: &ComponentId) -> Result<Option<Vec<i64>>, PlatformError> {
        Ok(self.version.clone())
    }
    fn wait_for(&mut self, _c: &ComponentId, e: &WaitEvent, _budget: u64) -> (WaitOutcome, u64) {
        self.waited.push(e.clone());
        if self.wait {
            (WaitOutcome::Satisfied, 0)
        } else {
            (WaitOutcome::Unsupported, 0)
        }
    }
    fn stage_metadata(
        &mut self,
        c: &ComponentId,
        m: &ComponentMetadata,
    ) -> Result<(), PlatformError> {
        match &mut self.metadata {
            Some(log) => {
                log.push((c.clone(), m.clone()));
                Ok(())
            }
            None => Err(PlatformError::Unsupported),
        }
    }
});

impl CapableDevice {
    /// Before every use-before of the corpus (2016), battery full, version 0.9, waits and
    /// metadata possible.
    fn new() -> Self {
        CapableDevice {
            inner: RecordingPlatform::spec_device(),
            clock: Some(WallClock {
                seconds: 1_400_000_000,
                trusted: true,
            }),
            battery: Some(100),
            version: Some(vec![0, 9]),
            wait: true,
            metadata: Some(Vec::new()),
            waited: Vec::new(),
        }
    }
}

fn um_error(r: Result<Outcome, Error>) -> UmError {
    match command_error(r).2 {
        CommandErrorKind::UpdateManagement(e) => *e,
        other => panic!("expected an update-management error, got {other:?}"),
    }
}

/// Update-management examples: each runs on a device that can answer its questions, and each
/// is refused on this repository's default platform (no clock, gauge, version, waiting or
/// metadata: the device policies of CONFORMANCE.md's update-management rows).
#[test]
fn update_management_examples_run_where_the_device_can_answer() {
    // U0: copy-params, then use-before / battery / version / update-authorized.
    let mut dev = CapableDevice::new();
    run("expU0", Procedure::Update, &mut dev).unwrap();
    let mut dev = RecordingPlatform::spec_device();
    assert_eq!(
        um_error(run("expU0", Procedure::Update, &mut dev)),
        UmError::TimeUnknown
    );

    // U1: override-multiple, then a wait for every listed component.
    let mut dev = CapableDevice::new();
    run("expU1", Procedure::Update, &mut dev).unwrap();
    assert_eq!(dev.waited.len(), 3, "{:?}", dev.waited);
    let mut dev = RecordingPlatform::spec_device();
    assert!(matches!(
        um_error(run("expU1", Procedure::Update, &mut dev)),
        UmError::WaitUnsupported(_)
    ));

    // U2: version, use-before, battery, wait, then fetch and image-match.
    let mut dev = CapableDevice::new();
    dev.inner
        .remote
        .insert("http://example.com/file.bin".into(), firmware());
    run("expU2", Procedure::Update, &mut dev).unwrap();
    assert_eq!(dev.inner.installed.get(&cid(&[&[0]])), Some(&firmware()));
    let mut dev = RecordingPlatform::spec_device();
    assert_eq!(
        um_error(run("expU2", Procedure::Update, &mut dev)),
        UmError::VersionUnknown
    );

    // U3: component metadata (directory, permissions, link).
    let mut dev = CapableDevice::new();
    dev.inner
        .remote
        .insert("https://cdn.example/example3.bin".into(), firmware());
    run("expU3", Procedure::Update, &mut dev).unwrap();
    let metadata = dev.metadata.unwrap();
    assert_eq!(metadata.len(), 3, "{metadata:?}");
    assert_eq!(metadata[0].1.file_type, Some(FileType::Directory));
    let mut dev = RecordingPlatform::spec_device();
    assert_eq!(
        um_error(run("expU3", Procedure::Update, &mut dev)),
        UmError::MetadataNotApplicable
    );
}

// ---- rules fixed after this corpus (each first refused a libcsuit envelope) ----------------

/// U3 sets image-size for every component, then writes an empty directory and a link target
/// into two of them: manifest-37 gives suit-directive-write no size rule (its bytes are in
/// the authenticated manifest), so a write is not held to the component's image-size. A
/// fetch still is (device policy: what a fetch or copy stages must be exactly image-size).
#[test]
fn write_is_not_bound_by_image_size_but_fetch_is() {
    use ciborium::Value;
    let common = map(vec![(
        2,
        Value::Array(vec![Value::Array(vec![bytes(b"c")])]),
    )]);
    let sealed = |params: Value, directive: i64| {
        let install = Value::Array(vec![int(20), params, int(directive), int(15)]);
        let manifest = cbor(&map(vec![
            (1, int(1)),
            (2, int(1)),
            (3, bytes(&cbor(&common))),
            (20, bytes(&cbor(&install))),
        ]));
        let key = p256_private_from_pem(AUTHOR_PRIV);
        seal_one(&manifest, &key, Algorithm::Esp256, &[], &[])
    };
    let write = sealed(map(vec![(14, int(100)), (18, bytes(b"abc"))]), 18);
    let mut dev = RecordingPlatform::default();
    spec_process(&write, Procedure::Update, &mut dev).unwrap();
    assert_eq!(installed(&dev, &[b"c"]), Some(b"abc".to_vec()));

    let fetch = sealed(map(vec![(14, int(100)), (21, text("http://e/c"))]), 21);
    let mut dev = RecordingPlatform::default();
    dev.remote.insert("http://e/c".into(), b"abc".to_vec());
    let (_, _, kind) = command_error(spec_process(&fetch, Procedure::Update, &mut dev));
    assert_eq!(kind, CommandErrorKind::ImageSizeMismatch);
}

/// D names its dependency's envelope size in image-size (389 bytes; libcsuit's U is 387).
/// Trust domains identify a dependency by its manifest digest only, since countersigning or
/// severing changes the envelope: S2's dependency S0 with a second signature (larger than
/// S2's image-size of 190) is still the dependency S2 names.
#[test]
fn a_countersigned_dependency_is_not_bound_by_image_size() {
    let s0 = envelope("expS0");
    // libcsuit signs with the manifest-spec examples' P-256 key.
    let key = p256_private_from_pem(AUTHOR_PRIV);
    let signers = [
        Signer {
            key: &key,
            alg: Algorithm::Esp256,
            kid: b"",
        },
        Signer {
            key: &key,
            alg: Algorithm::Esp256,
            kid: b"countersigner",
        },
    ];
    let countersigned = seal_envelope(&manifest_of(&s0), &signers, &[], &[]).unwrap();
    assert!(countersigned.len() > s0.len());
    let mut dev = RecordingPlatform::default();
    dev.remote
        .insert("http://example.com/dependent.suit".into(), countersigned);
    run("expS2", Procedure::Update, &mut dev).unwrap();
    assert_eq!(installed(&dev, &[b"00"]), Some(b"hello world".to_vec()));
}

/// expD never reaches its write (refused above), so its encrypted personalization data, made by
/// libcsuit's encryption tool (ECDH-ES+A128KW without a kid, A128CTR), is run here: the same
/// content and encryption-info bytes in a manifest of ours.
#[test]
fn expd_personalization_data_decrypts_with_the_device_key() {
    use ciborium::Value;
    let member = |m: &Value, key: i64| -> Value {
        let Value::Map(entries) = m else {
            panic!("not a map")
        };
        entries
            .iter()
            .find(|(k, _)| k.as_integer() == Some(key.into()))
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let decode =
        |v: Value| -> Value { ciborium::from_reader(v.as_bytes().unwrap().as_slice()).unwrap() };
    let envelope_value: Value = ciborium::from_reader(envelope("expD").as_slice()).unwrap();
    let manifest = decode(member(&envelope_value, 3));
    let Value::Array(install) = decode(member(&manifest, 20)) else {
        panic!("install")
    };
    let params = install
        .iter()
        .find(|v| matches!(v, Value::Map(e) if e.iter().any(|(k, _)| k.as_integer() == Some(19.into()))))
        .unwrap();
    let (content, info) = (member(params, 18), member(params, 19));

    let common = map(vec![(
        2,
        Value::Array(vec![Value::Array(vec![bytes(b"config.json")])]),
    )]);
    let install = Value::Array(vec![
        int(20),
        Value::Map(vec![(int(18), content), (int(19), info)]),
        int(18),
        int(15),
    ]);
    let ours = cbor(&map(vec![
        (1, int(1)),
        (2, int(1)),
        (3, bytes(&cbor(&common))),
        (20, bytes(&cbor(&install))),
    ]));
    let key = p256_private_from_pem(AUTHOR_PRIV);
    let env = seal_one(&ours, &key, Algorithm::Esp256, &[], &[]);
    let mut dev = RecordingPlatform::default();
    process(
        &env,
        Procedure::Update,
        &spec_policy(),
        &device_keys(),
        &mut dev,
    )
    .unwrap();
    assert_eq!(
        installed(&dev, &[b"config.json"]),
        Some(read("libcsuit/config.json"))
    );
}

/// libcsuit's own encryption tool's outputs (examples/encrypt: suit_manifest_encrypt_aes /
/// _esdh, the inputs of its decryption check), which no envelope of the corpus uses: A128KW
/// and ECDH-ES+A128KW recipients over A128GCM content, for raw_image.bin and config.json.
/// Each opens with libcsuit's device keys, whole and through the device's streaming
/// decryptor in chunks. The A128KW recipients name the KEK by a 32-byte kid, not `kid-1`:
/// a hint (CONFORMANCE "`kid` in recipients"), so the device's KEK is still tried.
#[test]
fn libcsuits_encryption_infos_decrypt_with_its_device_keys() {
    use suit_common::encryption::{decrypt, CoseOptions};
    let keys = device_keys();
    for (info, ciphertext, plaintext) in [
        (
            "encryption_info_aes.cose",
            "encrypted_image_aes.bin",
            "raw_image.bin",
        ),
        (
            "encryption_info_esdh.cose",
            "encrypted_image_esdh.bin",
            "raw_image.bin",
        ),
        (
            "encryption_info_config_aes.cose",
            "encrypted_config_aes.bin",
            "config.json",
        ),
        (
            "encryption_info_config_esdh.cose",
            "encrypted_config_esdh.bin",
            "config.json",
        ),
    ] {
        let info_bytes = read(&format!("libcsuit/{info}"));
        let ct = read(&format!("libcsuit/{ciphertext}"));
        let expected = read(&format!("libcsuit/{plaintext}"));
        // A128GCM: the ciphertext is the plaintext and a 16-byte tag.
        assert_eq!(ct.len(), expected.len() + 16, "{info}");
        let plain = decrypt(&info_bytes, Some(&ct), &keys, &CoseOptions::SUIT)
            .unwrap_or_else(|e| panic!("{info}: {e:?}"));
        assert_eq!(&plain[..], &expected[..], "{info}");
        for chunk in [1, 16, 4096] {
            let streamed = decrypt_in_chunks(&info_bytes, &keys, &ct, chunk)
                .unwrap_or_else(|e| panic!("{info} in {chunk}-byte chunks: {e:?}"));
            assert_eq!(streamed, expected, "{info} in {chunk}-byte chunks");
        }
        // Neither opens without its key: the other kind of device key alone is not enough.
        let mut other = MemoryKeys::new();
        if info.contains("aes") {
            other
                .add_ecdh_p256(Some(b"kid-2"), &hex_key("device_esdh_p256_d.hex"))
                .unwrap();
        } else {
            other
                .add_kek(Some(b"kid-1"), &hex_key("kek_a128kw_kid-1.hex"))
                .unwrap();
        }
        assert_eq!(
            decrypt(&info_bytes, Some(&ct), &other, &CoseOptions::SUIT).unwrap_err(),
            suit_common::encryption::DecryptError::NoRecipientForKeys,
            "{info}"
        );
    }
}
