//! Vectors made outside this project's code (tests/vectors/independent-implementations, with
//! its README): envelopes around the manifest-spec example 0 manifest signed by python
//! `cryptography` (ES256 / ESP256 in unusual but legal forms, and forms the drafts forbid),
//! `pyhsslms` (HSS-LMS, three parameter sets) and `cryptography` again (Ed25519 as -19 and
//! -8); and ECDH-ES+A128KW / A128GCM encryption infos in every header placement RFC 9052 /
//! 9053 allow. Each gets its exact verdict: the signer that authenticates it, the typed
//! refusal, or the plaintext.

use suit_common::cose::{CoseError, VerificationKey};
use suit_common::encryption::{decrypt, CoseOptions, MemoryKeys};
use suit_common::suit::error::{AuthError, Error};
use suit_common::suit::policy::{AnchorId, Role, TrustAnchor};
use suit_common::suit::Envelope;
use suit_test_support::*;

const ENVELOPES: &str = "independent-implementations/envelopes/";
const ECDH_ES: &str = "independent-implementations/ecdh-es/";

/// The anchors: the P-256 key of mk.py, the Ed25519 key of ed.py, the three HSS-LMS keys of
/// hss.py.
const P256: AnchorId = 1;
const ED25519: AnchorId = 2;
const HSS_L1_H5_W4: AnchorId = 3;
const HSS_L2_H5_W8: AnchorId = 4;
const HSS_L2_H10_W2: AnchorId = 5;

/// (name, anchor id) of the HSS-LMS keys.
const HSS: [(&str, AnchorId); 3] = [
    ("hss_l1_h5_w4", HSS_L1_H5_W4),
    ("hss_l2_h5_w8", HSS_L2_H5_W8),
    ("hss_l2_h10_w2", HSS_L2_H10_W2),
];

/// Every envelope of the directory: those that authenticate, with their one signer, and those
/// refused (each typed error in `forms_the_drafts_forbid_are_refused_by_name`).
const ACCEPTED: [(&str, AnchorId); 14] = [
    ("base_lows", P256),
    ("base_highs", P256),
    ("esp256", P256),
    ("kid_unprot", P256),
    ("kid_prot", P256),
    ("content_type_prot", P256),
    ("untagged_env", P256),
    ("two_sigs_second_bad", P256),
    ("digest_ext", P256),
    ("hss_l1_h5_w4", HSS_L1_H5_W4),
    ("hss_l2_h5_w8", HSS_L2_H5_W8),
    ("hss_l2_h10_w2", HSS_L2_H10_W2),
    ("ed19", ED25519),
    ("ed8", ED25519),
];
const REFUSED: [&str; 4] = [
    "der_sig",
    "untagged_sign1",
    "alg_unprot_only",
    "attached_payload",
];

fn envelope(name: &str) -> Vec<u8> {
    read(&format!("{ENVELOPES}{name}.suit"))
}

fn anchors() -> Vec<TrustAnchor> {
    let ed = VerificationKey::from_cose_key(&read(&format!("{ENVELOPES}ed.pub.cose")))
        .unwrap()
        .0;
    let mut anchors = vec![
        anchor(
            P256,
            p256_public_from_pem(&format!("{ENVELOPES}anchor.pem")),
            Role::Author,
        ),
        anchor(ED25519, ed, Role::Author),
    ];
    for (name, id) in HSS {
        let (key, _) =
            VerificationKey::from_cose_key(&read(&format!("{ENVELOPES}{name}.pub.cose"))).unwrap();
        anchors.push(anchor(id, key, Role::Author));
    }
    anchors
}

/// Authenticates `name` and returns its signers, after checking that it carries manifest-spec
/// example 0's manifest and that the digest the signatures cover is that manifest's.
fn signers(name: &str) -> Vec<AnchorId> {
    let bytes = envelope(name);
    let example0 = hex_file("suit-manifest-spec/example0.signed.hex");
    assert_eq!(manifest_of(&bytes), manifest_of(&example0), "{name}");
    let env = Envelope::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let claimed = env.claimed_digest();
    let auth = env
        .authenticate(&anchors())
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_eq!(auth.digest, claimed, "{name}");
    assert_eq!(auth.manifest.sequence_number, 0, "{name}");
    auth.signers
}

fn refusal(name: &str) -> Error {
    let bytes = envelope(name);
    Envelope::decode(&bytes)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        .authenticate(&anchors())
        .err()
        .unwrap_or_else(|| panic!("{name}: authenticated"))
}

fn cbor_value(bytes: &[u8]) -> ciborium::Value {
    ciborium::from_reader(bytes).unwrap()
}

/// The items of the authentication wrapper (0: the SUIT_Digest, then the blocks), each as the
/// bytes its bstr holds.
fn wrapper_items(name: &str) -> Vec<Vec<u8>> {
    let v = match cbor_value(&envelope(name)) {
        ciborium::Value::Tag(107, inner) => *inner,
        v => v,
    };
    let wrapper = v
        .into_map()
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == &ciborium::Value::Integer(2.into()))
        .unwrap()
        .1
        .into_bytes()
        .unwrap();
    cbor_value(&wrapper)
        .into_array()
        .unwrap()
        .into_iter()
        .map(|i| i.into_bytes().unwrap())
        .collect()
}

/// The four members of the COSE_Sign1 block `block` of `name` (tag 18 or none).
fn sign1(name: &str, block: usize) -> Vec<ciborium::Value> {
    let v = match cbor_value(&wrapper_items(name)[block + 1]) {
        ciborium::Value::Tag(18, inner) => *inner,
        v => v,
    };
    v.into_array().unwrap()
}

fn protected(name: &str) -> Vec<u8> {
    sign1(name, 0)[0].as_bytes().unwrap().clone()
}

fn signature(name: &str, block: usize) -> Vec<u8> {
    sign1(name, block)[3].as_bytes().unwrap().clone()
}

#[test]
fn every_envelope_of_the_directory_has_its_verdict_here() {
    let mut files: Vec<String> = std::fs::read_dir(vector_path(ENVELOPES))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".suit").map(str::to_owned))
        .collect();
    files.sort();
    let mut listed: Vec<String> = ACCEPTED
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(REFUSED.iter().map(|n| n.to_string()))
        .collect();
    listed.sort();
    assert_eq!(files, listed);
    for (name, signer) in ACCEPTED {
        assert_eq!(signers(name), vec![signer], "{name}");
    }
    for name in REFUSED {
        assert!(matches!(refusal(name), Error::Auth(_)), "{name}");
    }
}

/// ECDSA signatures (r, s) and (r, n - s) both verify (FIPS 186, RFC 9053 §2.1: no low-S
/// rule; SUIT never relies on a signature being unique, only on the signed digest). The
/// files are what they claim: s above n/2 in one, not in the other.
#[test]
fn low_s_and_high_s_es256_signatures_both_verify() {
    // (n - 1) / 2 of P-256, big-endian.
    let half_n =
        hex::decode("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8").unwrap();
    let low = signature("base_lows", 0);
    let high = signature("base_highs", 0);
    assert_eq!((low.len(), high.len()), (64, 64));
    assert!(low[32..] <= half_n[..], "base_lows has a high s");
    assert!(high[32..] > half_n[..], "base_highs has a low s");
    assert_eq!(protected("base_lows"), [0xa1, 0x01, 0x26]); // {1: -7}
    assert_eq!(signers("base_lows"), vec![P256]);
    assert_eq!(signers("base_highs"), vec![P256]);
}

/// ESP256 (-9, the MTI draft's name for ECDSA P-256 with SHA-256) verifies with the same P-256
/// key (CONFORMANCE "COSE_Sign1 ES256 (-7), ESP256 (-9)": yes).
#[test]
fn esp256_verifies() {
    assert_eq!(protected("esp256"), [0xa1, 0x01, 0x28]); // {1: -9}
    assert_eq!(signers("esp256"), vec![P256]);
}

/// A kid the device's anchor does not carry (`kid-x`), in the unprotected or the protected
/// bucket: a hint (RFC 9052 §3.1; CONFORMANCE "`kid` of a signature"), so the anchor that
/// verifies is still found. A content type in the protected bucket is read and not needed.
#[test]
fn kid_in_either_bucket_and_a_protected_content_type_still_verify() {
    let unprot = sign1("kid_unprot", 0);
    assert_eq!(
        unprot[1],
        ciborium::Value::Map(vec![(
            ciborium::Value::Integer(4.into()),
            ciborium::Value::Bytes(b"kid-x".to_vec())
        )])
    );
    assert_eq!(signers("kid_unprot"), vec![P256]);
    // {1: -7, 4: 'kid-x'}
    assert_eq!(protected("kid_prot"), b"\xa2\x01\x26\x04\x45kid-x");
    assert_eq!(signers("kid_prot"), vec![P256]);
    // {1: -7, 3: "application/suit-envelope+cose"}
    let ct = protected("content_type_prot");
    assert_eq!(&ct[..5], [0xa2, 0x01, 0x26, 0x03, 0x78]);
    assert!(ct.ends_with(b"application/suit-envelope+cose"));
    assert_eq!(signers("content_type_prot"), vec![P256]);
}

/// An envelope without tag 107 is SUIT_Envelope itself, which this engine accepts as the
/// tagged one (CONFORMANCE "SUIT_Envelope_Tagged / untagged envelope": yes; dependencies
/// are decoded the same way).
#[test]
fn an_untagged_envelope_authenticates() {
    assert_eq!(envelope("untagged_env")[0], 0xa2); // a map of two, no tag
    assert_eq!(envelope("base_lows")[0..2], [0xd8, 0x6b]); // 107(...)
    assert_eq!(signers("untagged_env"), vec![P256]);
}

/// Two COSE_Sign1 blocks by the same key, the second with its last two signature bytes
/// zeroed: the envelope authenticates by the first. manifest-37 §"Authentication Block"
/// lets an intermediary add or remove blocks without touching the others, and the engine
/// needs one block that verifies with an anchor (CONFORMANCE "COSE_Sign (98)": "at least one
/// signature must verify"); a failing block is not a veto. (The draft's "different algorithm
/// or signing authority" for several blocks binds their author, not the processor.)
#[test]
fn two_blocks_with_the_second_corrupt_authenticate_by_the_first() {
    let items = wrapper_items("two_sigs_second_bad");
    assert_eq!(items.len(), 3);
    let (good, bad) = (
        signature("two_sigs_second_bad", 0),
        signature("two_sigs_second_bad", 1),
    );
    assert_eq!(bad[62..], [0, 0]);
    assert_ne!(good, bad);
    assert_eq!(signers("two_sigs_second_bad"), vec![P256]);
}

/// A SUIT_Digest with an extension element after the digest bytes (`[-16, h'..', h'78']`):
/// manifest-37 §"SUIT Digest Container" lets a digest carry "additional parameters ...
/// following the digest", and CONFORMANCE reads SUIT_Digest extensions for well-formedness
/// only (CBOR section: "no duplicate map keys ... SUIT_Digest and dependency metadata
/// extensions"; a SUIT_Digest ≤ 256 bytes with extensions included). So SHA-256 over the
/// manifest decides, the extension is ignored, and the signature (over the whole digest
/// bstr, extension included) verifies.
#[test]
fn a_suit_digest_with_an_extension_authenticates() {
    let digest = cbor_value(&wrapper_items("digest_ext")[0])
        .into_array()
        .unwrap();
    assert_eq!(digest.len(), 3);
    assert_eq!(digest[2], ciborium::Value::Bytes(b"x".to_vec()));
    assert_eq!(signers("digest_ext"), vec![P256]);
}

/// Forms the drafts forbid, each refused with its typed error.
#[test]
fn forms_the_drafts_forbid_are_refused_by_name() {
    // An ECDSA signature DER-encoded (SEQUENCE of two INTEGERs, 70-72 bytes) instead of
    // RFC 9053 §2.1's fixed-length r || s: no P-256 signature in COSE's encoding, so it
    // cannot verify with the anchor that was tried (`VerificationFailed`), and the wrapper's
    // only block failing is `BadSignature` (not a malformed block: a COSE_Sign1 signature is
    // any bstr, the algorithm fixes its length).
    let der = signature("der_sig", 0);
    assert_eq!(der[0], 0x30);
    assert!((70..=72).contains(&der.len()), "{}", der.len());
    assert!(matches!(
        refusal("der_sig"),
        Error::Auth(AuthError::BadSignature { block: 0 })
    ));

    // A COSE_Sign1 without tag 18: manifest-37's SUIT_Authentication_Block is one of the
    // four *_Tagged structures, and the engine takes tags only where the CDDL has them
    // (CONFORMANCE CBOR section "tags only where the CDDL has them"; cose_wg_auth's
    // untagged sign-pass-03 gets the same error).
    assert_eq!(wrapper_items("untagged_sign1")[1][0], 0x84); // an array, no tag
    assert!(matches!(
        refusal("untagged_sign1"),
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::Malformed
        })
    ));

    // alg only in the unprotected bucket (protected h''): the algorithm is taken from the
    // protected header only (CONFORMANCE "algorithm only from the protected header"), so an
    // attacker cannot move a signature to another algorithm; cose-wg sign-pass-01 is refused
    // the same way.
    assert_eq!(protected("alg_unprot_only"), b"");
    assert!(matches!(
        refusal("alg_unprot_only"),
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::MissingAlgorithm
        })
    ));

    // The SUIT_Digest attached as the COSE_Sign1 payload: manifest-37 uses every
    // authentication block "in detached payload mode" (CONFORMANCE "payload must be
    // detached (nil)": `PayloadNotDetached`).
    assert_eq!(
        sign1("attached_payload", 0)[2],
        ciborium::Value::Bytes(wrapper_items("attached_payload")[0].clone())
    );
    assert!(matches!(
        refusal("attached_payload"),
        Error::Auth(AuthError::Cose {
            block: 0,
            error: CoseError::PayloadNotDetached
        })
    ));
}

/// pyhsslms 2.0.0 signatures (RFC 8554, COSE alg -46 protected) with three parameter sets:
/// one level of LMS_SHA256_M32_H5 / LMOTS_SHA256_N32_W4, two of H5 / W8, two of H10 / W2.
/// Each verifies with its own key only (the signer id is that key's).
#[test]
fn hss_lms_signatures_of_three_parameter_sets_verify() {
    // RFC 8554 §6.1 public key: u32 L, then the top tree's u32 LMS and LMOTS types
    // (H5 = 5, H10 = 6; W2 = 2, W4 = 3, W8 = 4).
    for ((name, id), header) in HSS.into_iter().zip([[1, 5, 3], [2, 5, 4], [2, 6, 2]]) {
        let bin = read(&format!("{ENVELOPES}{name}.pub.bin"));
        let fields: Vec<u32> = bin[..12]
            .chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(fields, header, "{name}");
        let (cose, _) =
            VerificationKey::from_cose_key(&read(&format!("{ENVELOPES}{name}.pub.cose"))).unwrap();
        assert!(
            cose.same_key(&VerificationKey::hss_lms(&bin).unwrap()),
            "{name}: .pub.cose and .pub.bin differ"
        );
        assert_eq!(protected(name), [0xa1, 0x01, 0x38, 0x2d], "{name}"); // {1: -46}
        assert_eq!(signers(name), vec![id], "{name}");
    }
}

/// Ed25519 signatures by python `cryptography`, once as Ed25519 (-19) and once as EdDSA (-8),
/// verify with the key of ed.pub.cose (the same as ed.pub.pem). This test binary is built with
/// suit-common's `ed25519` feature (its `author` feature needs it, as for
/// `cose_algorithms::ed25519_round_trip_and_tamper`); without it the key itself is refused,
/// `AlgorithmNotEnabled`, which `size_algorithm_features` covers.
#[test]
fn ed25519_as_minus_19_and_as_eddsa_minus_8_verify() {
    let der = pem_der(&format!("{ENVELOPES}ed.pub.pem"));
    let (cose, _) =
        VerificationKey::from_cose_key(&read(&format!("{ENVELOPES}ed.pub.cose"))).unwrap();
    assert!(cose.same_key(&VerificationKey::ed25519(&der[der.len() - 32..]).unwrap()));
    assert_eq!(protected("ed19"), [0xa1, 0x01, 0x32]); // {1: -19}
    assert_eq!(protected("ed8"), [0xa1, 0x01, 0x27]); // {1: -8}
    assert_eq!(signers("ed19"), vec![ED25519]);
    assert_eq!(signers("ed8"), vec![ED25519]);
}

// ---- ECDH-ES+A128KW / A128GCM encryption infos ----------------------------------------------

/// The plaintext every info of ecdh-es/ encrypts (mk.py's PT), the same as libcsuit's
/// raw_image.bin.
const PLAINTEXT: &[u8] = b"This is a real firmware image.";

/// Every info of ecdh-es/ and whether its maps (outside byte strings) are in RFC 8949 §4.2.1
/// order: python cbor2 writes a map in insertion order, so mk.py's recipient unprotected
/// bucket `{-1: ephemeral key, 4: kid}` is not (4 sorts first), as libcsuit's own ECDH-ES
/// infos are not either.
const INFOS: [(&str, bool); 9] = [
    ("base", false),
    ("eph_in_protected", true),
    ("kid_in_protected", true),
    ("salt", false),
    ("partyu_identity", false),
    ("partyv_identity", false),
    ("other_bstr", false),
    // The ephemeral COSE_Key as {-1, 1, -2, -3}, the bucket {4, -1} in order.
    ("nc_ephemeral_key", false),
    // The same form as base.
    ("nc_unprotected", false),
];

/// The firmware-encryption draft's receiver key `kid-2` (its JWK, tests/vectors), which
/// mk.py encrypts to.
fn draft_device_key() -> MemoryKeys {
    let jwk: serde_json::Value = serde_json::from_slice(&read(
        "suit-firmware-encryption-payloads/receiver_p256_ecdh_kid-2_private.jwk.json",
    ))
    .unwrap();
    let mut keys = MemoryKeys::new();
    keys.add_ecdh_p256(Some(b"kid-2"), &b64url(&jwk["d"]))
        .unwrap();
    keys
}

/// Each info decrypts its ciphertext to the plaintext, at once and through the device's
/// streaming decryptor in small chunks: ephemeral key or kid in the protected bucket, a salt
/// (-20), PartyU or PartyV identity (-21, -24) all enter the KDF as RFC 9053 §5 says (the
/// KEK python derived with them is the one this engine derives, or the CEK would not
/// unwrap). The non-canonical maps decrypt too: RFC 9052 §9 restricts the encoding of the
/// structures COSE builds to sign, MAC, encrypt or derive (definite lengths, shortest
/// forms), not the key order of header maps or COSE_Keys, and this engine holds only SUIT's
/// own maps to canonical order (CONFORMANCE CBOR section); CONFORMANCE's interop section
/// names this.
#[test]
fn every_ecdh_es_info_decrypts_to_the_firmware_image() {
    assert_eq!(read("libcsuit/raw_image.bin"), PLAINTEXT);
    let keys = draft_device_key();
    let mut files: Vec<String> = std::fs::read_dir(vector_path(ECDH_ES))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".info").map(str::to_owned))
        .collect();
    files.sort();
    let mut listed: Vec<String> = INFOS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
    for (name, canonical) in INFOS {
        let info = read(&format!("{ECDH_ES}{name}.info"));
        let ciphertext = read(&format!("{ECDH_ES}{name}.ct"));
        assert_eq!(
            deterministic_order(&info).is_ok(),
            canonical,
            "{name}: {:?}",
            deterministic_order(&info)
        );
        let plain = decrypt(&info, Some(&ciphertext), &keys, &CoseOptions::SUIT)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(&plain[..], PLAINTEXT, "{name}");
        for chunk in [1, 7, 64] {
            let streamed = decrypt_in_chunks(&info, &keys, &ciphertext, chunk)
                .unwrap_or_else(|e| panic!("{name} in {chunk}-byte chunks: {e:?}"));
            assert_eq!(streamed, PLAINTEXT, "{name} in {chunk}-byte chunks");
        }
    }
}

// ---- third-party SUIT reports (independent-implementations/reports, review s42) ----------

const REPORTS: &str = "independent-implementations/reports/";

/// The report keys of reports/mk.py: (P-256, Ed25519).
fn report_keys() -> (VerificationKey, VerificationKey) {
    let ed = VerificationKey::from_cose_key(&read(&format!("{REPORTS}ed.pub.cose")))
        .unwrap()
        .0;
    (p256_public_from_pem(&format!("{REPORTS}anchor.pem")), ed)
}

fn third_party_report(name: &str) -> Result<suit_common::report::Report, ReportError> {
    let (p256, ed) = report_keys();
    let key = if name.starts_with("ed") { ed } else { p256 };
    verify_report(&read(&format!("{REPORTS}{name}.cose")), &key)
}

use suit_common::report::{verify_report, Entry, Reason, ReportError, ReportResult};

/// The forms report-18's CDDL allows that a third party's device may send verify and read:
/// optional members absent, untagged COSE_Sign1, maps in insertion order (the draft asks no
/// deterministic encoding of reports), system-property-claims, a capability report (with the
/// draft's own `[3, 3, 1]` key), kid anywhere (a hint; the key is given), a protected content
/// type, Ed25519 (-19), a SHA-384 reference. So do forms outside it a later document or a
/// wider COSE reading may bring (each a leniency CONFORMANCE.md names, the CDDL verdicts in
/// `cddl_conformance::the_independent_cddl_vectors_have_their_cddl_verdicts`): EdDSA (-8) and
/// ES256 (-7), an unassigned reason, record extension items and extension members this reader
/// does not know, a float inside one included. Before s42 three were refused: a report signed
/// on an Ed25519 profile (-19 or -8; report-18 has the manifest's profile SHOULD be reused),
/// one naming its manifest by SHA-384 (manifest-37's OPTIONAL digests), and one with a float
/// in an extension member.
#[test]
fn third_party_reports_in_every_form_the_draft_allows_verify() {
    let accepted = [
        "minimal-no-nonce",
        "untagged-sign1",
        "es256",
        "system-claims",
        "record-extensions",
        "failure-unknown-reason",
        "capability-report",
        "insertion-order",
        "properties-varied",
        "kid-unprotected-other",
        "kid-protected",
        "extension-array-key-map",
        "empty-uri-big-section",
        "content-type-protected",
        "ed25519",
        "eddsa",
        "sha384-reference",
        "extension-float",
    ];
    // Every report of the directory has its verdict here or in the next test.
    let refused = ["hmac-alg-in-sign1", "long-nonce", "mac0"];
    let mut files: Vec<String> = std::fs::read_dir(vector_path(REPORTS))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".cose").map(str::to_owned))
        .filter(|n| !n.ends_with(".pub")) // ed.pub.cose, the Ed25519 key
        .collect();
    files.sort();
    let mut listed: Vec<String> = accepted
        .iter()
        .chain(refused.iter())
        .map(|n| n.to_string())
        .collect();
    listed.sort();
    assert_eq!(files, listed);
    for name in accepted {
        let r = third_party_report(name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        match name {
            "minimal-no-nonce" => assert_eq!(r.nonce, None),
            "system-claims" => {
                assert!(
                    matches!(r.entries.as_slice(), [Entry::Record(_), Entry::System(s)]
                    if s.component.segments() == [b"app".to_vec()])
                )
            }
            "failure-unknown-reason" => match &r.result {
                ReportResult::Failure(f) => {
                    assert_eq!((f.reason, f.code), (Reason::Unknown(13), -3))
                }
                other => panic!("{other:?}"),
            },
            "capability-report" => assert!(r.has_capability_report),
            "insertion-order" => assert_eq!(r.entries.len(), 1),
            "sha384-reference" => {
                let (alg, d) = r.other_manifest_digest.clone().unwrap();
                assert_eq!((alg, d.len(), r.manifest_digest), (-43, 48, None));
                // Re-encoded as read.
                let again = suit_common::report::Report::decode(&r.encode().unwrap()).unwrap();
                assert_eq!(again, r);
            }
            _ => assert!(r.manifest_digest.is_some(), "{name}"),
        }
    }
}

/// What stays refused, each for its stated reason (CONFORMANCE.md, Reports): a COSE_Mac0
/// report (verify-report checks signatures; a MAC key shared with a device would let its
/// holders forge the device's reports), a MAC algorithm in a COSE_Sign1, a nonce past this
/// implementation's 64-byte bound, and a report under another key.
#[test]
fn third_party_reports_refused_for_their_stated_reasons() {
    assert!(matches!(
        third_party_report("mac0"),
        Err(ReportError::Cose(CoseError::UnsupportedStructure(17)))
    ));
    assert!(matches!(
        third_party_report("hmac-alg-in-sign1"),
        Err(ReportError::Cose(CoseError::UnsupportedAlgorithm(5)))
    ));
    assert!(matches!(
        third_party_report("long-nonce"),
        Err(ReportError::TooLarge("nonce"))
    ));
    let (p256, ed) = report_keys();
    let ed_report = read(&format!("{REPORTS}ed25519.cose"));
    assert!(matches!(
        verify_report(&ed_report, &p256),
        Err(ReportError::Cose(CoseError::KeyAlgorithmMismatch))
    ));
    let p_report = read(&format!("{REPORTS}es256.cose"));
    assert!(matches!(
        verify_report(&p_report, &ed),
        Err(ReportError::Cose(CoseError::KeyAlgorithmMismatch))
    ));
}

/// A report signed on the HSS-LMS profile (-46, suit-sha256-hsslms-a256kw-a256ctr) verifies
/// with the device's HSS-LMS key, as `verify_report` says (review s42): the COSE_Sign1 is
/// built here with ciborium around the payload of a third party's report.
#[test]
fn an_hss_lms_signed_report_verifies() {
    use ciborium::Value;
    use suit_common::cose::{hss_lms_keygen, hss_lms_sign, HssLevel};
    let level = HssLevel {
        height: 5,
        winternitz: 8,
    };
    let (private, public) = hss_lms_keygen(&[level], &[3u8; 32]).unwrap();
    let signed = read(&format!("{REPORTS}minimal-no-nonce.cose"));
    let payload = suit_common::report::unverified_report_payload(&signed)
        .unwrap()
        .to_vec();
    let enc = |v: &Value| {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    };
    let protected = enc(&Value::Map(vec![(1.into(), (-46).into())]));
    let tbs = enc(&Value::Array(vec![
        "Signature1".into(),
        Value::Bytes(protected.clone()),
        Value::Bytes(vec![]),
        Value::Bytes(payload.clone()),
    ]));
    let signature = hss_lms_sign(&tbs, &private, &mut |_| Ok(())).unwrap();
    let report = enc(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(vec![]),
            Value::Bytes(payload),
            Value::Bytes(signature),
        ])),
    ));
    let key = VerificationKey::hss_lms(&public).unwrap();
    let r = verify_report(&report, &key).unwrap();
    assert!(r.manifest_digest.is_some());
    // Another algorithm's key is no candidate.
    let (p256, _) = report_keys();
    assert!(matches!(
        verify_report(&report, &p256),
        Err(ReportError::Cose(CoseError::KeyAlgorithmMismatch))
    ));
}
