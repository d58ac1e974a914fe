//! Who chose a dependency's encryption info (trust domains): parameters are shared across
//! manifests, and a dependent's set-parameters fills what a dependency left unset, but a
//! dependent signed by another party may not choose what a dependency's decrypting copy
//! decrypts with that dependency's keys. Foreign encryption info is used only for plaintext
//! the dependency names by its own image digest (the trust-domains draft's
//! override-encryption-info template); otherwise the copy is refused with
//! `CommandErrorKind::ForeignEncryptionInfo` and nothing is committed.

use ciborium::Value;
use rand_core::UnwrapErr;

use suit_common::encryption::algorithms::ContentAlgorithm;
use suit_common::encryption::{encrypt_payload, CoseOptions, MemoryKeys, Recipient};
use suit_common::report::{code, Failure, Reason};
use suit_common::suit::error::{CommandErrorKind, Error};
use suit_common::suit::policy::{Policy, Role};
use suit_common::suit::{process, ComponentId, Digest, Procedure};

use suit_test_support::*;

const KEK: [u8; 16] = *b"device-kek-0001!";
/// The dependency's (author's) firmware and the dependent's (another party's) substitute.
const FIRMWARE: &[u8] = b"the dependency's own firmware image";
const SUBSTITUTE: &[u8] = b"what the dependent would have installed";
/// Where the dependent's ciphertext is served.
const ELSEWHERE: &str = "https://dependent.example/fw";
/// Component indices, the same in both manifests.
const FW: i64 = 0;
const BUF: i64 = 1;
const SPARE: i64 = 2;

/// `pt` encrypted (A128GCM) to the device's KEK: the encryption info and the ciphertext.
fn encrypted(pt: &[u8]) -> (Vec<u8>, Vec<u8>) {
    encrypted_with(ContentAlgorithm::A128Gcm, pt)
}

fn encrypted_with(alg: ContentAlgorithm, pt: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let recipients = [Recipient::AesKw {
        kid: Some(b"kid-1"),
        kek: &KEK,
    }];
    let e = encrypt_payload(
        pt,
        alg,
        &recipients,
        &CoseOptions::SUIT,
        &mut UnwrapErr(getrandom::SysRng),
    )
    .unwrap();
    (e.encryption_info, e.ciphertext)
}

fn seq(commands: Vec<Value>) -> Value {
    bytes(&cbor(&Value::Array(commands)))
}

/// A manifest (sequence number 1) with `components`, dependencies at `deps` and `install`.
fn manifest(components: &[&[u8]], deps: &[i64], install: Vec<Value>, id: &[u8]) -> Vec<u8> {
    let ids = components
        .iter()
        .map(|c| Value::Array(vec![bytes(c)]))
        .collect();
    let mut common = vec![(2, Value::Array(ids))];
    if !deps.is_empty() {
        common.insert(
            0,
            (1, map(deps.iter().map(|d| (*d, map(vec![]))).collect())),
        );
    }
    cbor(&map(vec![
        (1, int(1)),
        (2, int(1)),
        (3, bytes(&cbor(&map(common)))),
        (5, Value::Array(vec![bytes(id)])),
        (20, seq(install)),
    ]))
}

/// The dependency, signed by the author: components `fw`, `buf` and `spare` (touched by
/// parameter commands only). Its install fetches `#ct` (its own integrated ciphertext,
/// unless a dependent set another URI first) into `buf`, sets `fw_params` on `fw` with
/// `fw_directive` (19 set-parameters or 20 override-parameters), runs `before_copy`, and
/// copies `buf` into `fw` (decrypting with `fw`'s encryption info). Its envelope and the
/// digest a dependent checks it by.
fn dependency(
    ciphertext: &[u8],
    fw_directive: i64,
    fw_params: Vec<(i64, Value)>,
    before_copy: Vec<Value>,
) -> (Vec<u8>, Vec<u8>) {
    let buf = (19, vec![(21, text("#ct"))]);
    dependency_fetching(buf, ciphertext, fw_directive, fw_params, before_copy)
}

/// [`dependency`] setting `buf`'s parameters with the directive and values of `buf`.
fn dependency_fetching(
    buf: (i64, Vec<(i64, Value)>),
    ciphertext: &[u8],
    fw_directive: i64,
    fw_params: Vec<(i64, Value)>,
    before_copy: Vec<Value>,
) -> (Vec<u8>, Vec<u8>) {
    let mut install = vec![
        int(12),
        int(BUF),
        int(buf.0),
        map(buf.1),
        int(21),
        int(15),
        int(12),
        int(FW),
        int(20),
        map(vec![(22, int(BUF))]),
        int(fw_directive),
        map(fw_params),
    ];
    install.extend(before_copy);
    install.extend([int(22), int(15)]);
    let m = manifest(&[b"fw", b"buf", b"spare"], &[], install, b"dependency.suit");
    let env = seal_esp256(&m, &[AUTHOR_PRIV], &[("#ct", ciphertext)]);
    (env, Digest::sha256(&cbor(&bytes(&m))).encode())
}

/// The dependent, signed by `signers`: components `fw`, `buf` and `spare` as the dependency
/// has them and the dependency (3). It set-parameters each of `sets` (a component index and
/// the parameters), then fetches, checks and processes the dependency.
fn dependent(
    signers: &[&str],
    dep: &(Vec<u8>, Vec<u8>),
    sets: Vec<(i64, Vec<(i64, Value)>)>,
) -> Vec<u8> {
    let mut install = Vec::new();
    for (index, params) in sets {
        install.extend([int(12), int(index), int(19), map(params)]);
    }
    install.extend(fetch_check_process(3, &dep.1, "#dep"));
    let m = manifest(
        &[b"fw", b"buf", b"spare", b"dependency.suit"],
        &[3],
        install,
        b"dependent",
    );
    seal_esp256(&m, signers, &[("#dep", &dep.0)])
}

fn policy() -> Policy {
    policy_of(vec![
        anchor(1, p256_public_from_pem(AUTHOR_PUB), Role::Author),
        anchor(2, p256_public_from_pem(OPERATOR_PUB), Role::Operator),
    ])
}

/// Runs the update of `envelope`; the device serves `elsewhere` at [`ELSEWHERE`].
fn update(
    envelope: &[u8],
    elsewhere: &[u8],
) -> (Result<Vec<ComponentId>, Error>, RecordingPlatform) {
    let mut keys = MemoryKeys::new();
    keys.add_kek(Some(b"kid-1"), &KEK).unwrap();
    let mut dev = RecordingPlatform::default();
    dev.remote.insert(ELSEWHERE.into(), elsewhere.to_vec());
    let r = process(envelope, Procedure::Update, &policy(), &keys, &mut dev).map(|o| o.committed);
    (r, dev)
}

fn fw() -> ComponentId {
    cid(&[b"fw"])
}

/// The refusal inside the dependency (depth 1), at its copy into `fw`.
fn refused_in_dependency(r: Result<Vec<ComponentId>, Error>) -> CommandErrorKind {
    let Err(Error::Command(outer)) = r else {
        panic!("{r:?}")
    };
    let CommandErrorKind::Dependency(inner) = outer.kind else {
        panic!("{outer:?}")
    };
    let Error::Command(c) = *inner else {
        panic!("{inner:?}")
    };
    assert_eq!(
        (c.location.manifest_depth, c.location.component),
        (1, Some(0))
    );
    c.kind
}

fn refused_and_nothing_committed(r: Result<Vec<ComponentId>, Error>, dev: &RecordingPlatform) {
    assert_eq!(
        refused_in_dependency(r),
        CommandErrorKind::ForeignEncryptionInfo
    );
    assert!(
        !dev.committed() && dev.installed.is_empty(),
        "{:?}",
        dev.log
    );
}

/// The dependent's set-parameters of the ciphertext's URI on `buf`.
fn served_elsewhere() -> (i64, Vec<(i64, Value)>) {
    (BUF, vec![(21, text(ELSEWHERE))])
}

/// The finding: a dependent signed by another party sets (first, so it wins) the encryption
/// info of the dependency's target and the URI of its ciphertext buffer; the dependency
/// authenticates its plaintext by the AEAD tag alone. Without the rule its decrypting copy
/// would install the dependent's content under the author's authority.
#[test]
fn a_dependents_encryption_info_is_refused_for_a_dependencys_aead_only_copy() {
    let (own_info, own_ct) = encrypted(FIRMWARE);
    let (their_info, their_ct) = encrypted(SUBSTITUTE);
    // The dependency sets its own info with set-parameters: the dependent's, set first, wins.
    let dep = dependency(&own_ct, 19, vec![(19, bytes(&own_info))], vec![]);
    let sets = vec![(FW, vec![(19, bytes(&their_info))]), served_elsewhere()];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &their_ct);
    let err = r.clone().unwrap_err();
    refused_and_nothing_committed(r, &dev);
    // Refused before the dependency's keys decrypted anything into `fw`.
    assert!(!dev.discarded_staged.contains_key(&fw()));
    // Reported as the dependency's refusal to have the component decrypted so.
    let f = Failure::from_error(&err, None);
    assert_eq!(f.reason, Reason::ComponentUnauthorised);
    assert_eq!(f.code, code::COMMAND + 45);
    assert_eq!(f.record.manifest_id, vec![3]);
}

/// The same pair where the encryption info is the dependency's own installs: the dependent
/// sets none, or one the dependency overrides (the dependent still chose the ciphertext's
/// URI: a parameter that decides nothing about what is decrypted). A dependent co-signed by
/// the author (every signer of the dependency signed it) speaks for the author.
#[test]
fn a_dependency_that_sets_its_own_encryption_info_still_installs() {
    let (own_info, own_ct) = encrypted(FIRMWARE);
    let (their_info, their_ct) = encrypted(SUBSTITUTE);
    let cases = [
        (19, vec![]),
        (20, vec![(FW, vec![(19, bytes(&their_info))])]),
        (
            20,
            vec![(FW, vec![(19, bytes(&their_info))]), served_elsewhere()],
        ),
    ];
    for (directive, sets) in cases {
        let elsewhere = sets.len() == 2;
        let dep = dependency(&own_ct, directive, vec![(19, bytes(&own_info))], vec![]);
        // Served elsewhere: the same ciphertext the dependency carries.
        let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &own_ct);
        assert_eq!(r.unwrap(), vec![fw()], "{directive} {elsewhere}");
        assert_eq!(dev.installed.get(&fw()).map(Vec::as_slice), Some(FIRMWARE));
    }
    let dep = dependency(&own_ct, 19, vec![], vec![]);
    let sets = vec![(FW, vec![(19, bytes(&their_info))]), served_elsewhere()];
    let (r, dev) = update(
        &dependent(&[OPERATOR_PRIV, AUTHOR_PRIV], &dep, sets),
        &their_ct,
    );
    assert_eq!(r.unwrap(), vec![fw()]);
    assert_eq!(
        dev.installed.get(&fw()).map(Vec::as_slice),
        Some(SUBSTITUTE)
    );
}

/// The trust-domains draft's override-encryption-info template (and the firmware-encryption
/// draft's dependency example): the dependent supplies the encryption info, the dependency
/// names the plaintext by its own image digest. That installs; a plaintext other than the one
/// named is refused at the copy, before any later condition could be absorbed.
#[test]
fn foreign_encryption_info_is_used_only_for_plaintext_the_dependency_names_by_digest() {
    let (info, ct) = encrypted(FIRMWARE);
    let dep = dependency(&[], 20, vec![(3, bytes(&suit_digest(FIRMWARE)))], vec![]);
    let sets = vec![(FW, vec![(19, bytes(&info))]), served_elsewhere()];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &ct);
    assert_eq!(r.unwrap(), vec![fw()]);
    assert_eq!(dev.installed.get(&fw()).map(Vec::as_slice), Some(FIRMWARE));

    let (their_info, their_ct) = encrypted(SUBSTITUTE);
    let sets = vec![(FW, vec![(19, bytes(&their_info))]), served_elsewhere()];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &their_ct);
    refused_and_nothing_committed(r, &dev);
}

/// A digest vouches only if the dependency set it: one the dependent set first (the
/// dependency's set-parameters then leaves it) does not, whatever it names.
#[test]
fn an_image_digest_the_dependent_chose_does_not_vouch_for_its_encryption_info() {
    let (their_info, their_ct) = encrypted(SUBSTITUTE);
    let dep = dependency(&[], 19, vec![(3, bytes(&suit_digest(FIRMWARE)))], vec![]);
    let theirs = vec![
        (3, bytes(&suit_digest(SUBSTITUTE))),
        (19, bytes(&their_info)),
    ];
    let sets = vec![(FW, theirs), served_elsewhere()];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &their_ct);
    refused_and_nothing_committed(r, &dev);
}

/// Who set a value travels with it: copied by copy-params from a component the dependent
/// set, or restored with it when a try-each option that overrode it fails.
#[test]
fn who_set_the_encryption_info_is_copied_and_restored_with_it() {
    let (own_info, own_ct) = encrypted(FIRMWARE);
    let (their_info, their_ct) = encrypted(SUBSTITUTE);
    // copy-params (35) of the encryption info from `spare`, which the dependent set.
    let copy_params = vec![int(35), map(vec![(SPARE, Value::Array(vec![int(19)]))])];
    let dep = dependency(&own_ct, 19, vec![], copy_params);
    let sets = vec![(SPARE, vec![(19, bytes(&their_info))]), served_elsewhere()];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &their_ct);
    refused_and_nothing_committed(r, &dev);

    // A try-each option overrides the info with the dependency's own, then fails (abort
    // condition): the dependent's value comes back, and with it who set it.
    let failing = seq(vec![
        int(20),
        map(vec![(19, bytes(&own_info))]),
        int(14),
        int(15),
    ]);
    let try_each = vec![int(15), Value::Array(vec![failing, Value::Null])];
    let dep = dependency(&own_ct, 19, vec![], try_each);
    let sets = vec![(FW, vec![(19, bytes(&their_info))]), served_elsewhere()];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &their_ct);
    refused_and_nothing_committed(r, &dev);

    // The same option succeeding keeps the dependency's own info: installs.
    let passing = seq(vec![int(20), map(vec![(19, bytes(&own_info))])]);
    let try_each = vec![int(15), Value::Array(vec![passing, Value::Null])];
    let dep = dependency(&own_ct, 19, vec![], try_each);
    let sets = vec![(FW, vec![(19, bytes(&their_info))])];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &[]);
    assert_eq!(r.unwrap(), vec![fw()]);
    assert_eq!(dev.installed.get(&fw()).map(Vec::as_slice), Some(FIRMWARE));
}

/// AES-CTR authenticates nothing, and is malleable: `ct` turned, without the key, into the
/// ciphertext of `to` (as long as `from`, the plaintext of `ct`).
fn forged(ct: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!((ct.len(), from.len()), (to.len(), to.len()));
    ct.iter()
        .zip(from.iter().zip(to))
        .map(|(c, (f, t))| c ^ f ^ t)
        .collect()
}

/// The dependency's firmware as a dependent who knows it would rewrite it (same length).
fn rewritten() -> Vec<u8> {
    FIRMWARE.to_ascii_uppercase()
}

/// Refused at commit as content no digest of the decrypting manifest's signers vouches for.
fn unverified_and_nothing_committed(r: Result<Vec<ComponentId>, Error>, dev: &RecordingPlatform) {
    assert_eq!(r, Err(Error::UnverifiedPlaintext(fw())));
    assert!(
        !dev.committed() && dev.installed.is_empty(),
        "{:?}",
        dev.log
    );
}

/// A digest authenticates AES-CTR plaintext only if the decrypting manifest's signers set it.
/// Here the dependency authenticates its ciphertext buffer by a digest it sets with
/// set-parameters; a dependent signed by another party sets `buf`'s digest and URI first, so
/// the buffer holds the dependent's forgery and matches the dependent's digest. Decrypted
/// with the dependency's keys, it would install firmware the dependent rewrote.
#[test]
fn a_ciphertext_digest_the_dependent_set_does_not_authenticate_a_dependencys_ctr_copy() {
    let (own_info, own_ct) = encrypted_with(ContentAlgorithm::A128Ctr, FIRMWARE);
    let forgery = forged(&own_ct, FIRMWARE, &rewritten());
    let buf = (
        19,
        vec![(3, bytes(&suit_digest(&own_ct))), (21, text("#ct"))],
    );
    let dep = dependency_fetching(buf, &own_ct, 20, vec![(19, bytes(&own_info))], vec![]);
    let sets = vec![(
        BUF,
        vec![(3, bytes(&suit_digest(&forgery))), (21, text(ELSEWHERE))],
    )];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &forgery);
    unverified_and_nothing_committed(r, &dev);
}

/// The same with the plaintext digest: the dependent sets `fw`'s digest to that of its
/// rewrite first, the dependency's set-parameters of its own digest leaves it.
#[test]
fn a_plaintext_digest_the_dependent_set_does_not_authenticate_a_dependencys_ctr_copy() {
    let (own_info, own_ct) = encrypted_with(ContentAlgorithm::A128Ctr, FIRMWARE);
    let forgery = forged(&own_ct, FIRMWARE, &rewritten());
    let own = vec![(3, bytes(&suit_digest(FIRMWARE))), (19, bytes(&own_info))];
    let dep = dependency(&own_ct, 19, own, vec![]);
    let sets = vec![
        (FW, vec![(3, bytes(&suit_digest(&rewritten())))]),
        served_elsewhere(),
    ];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &forgery);
    unverified_and_nothing_committed(r, &dev);
}

/// The dependency's own digests (override-parameters over the dependent's) still authenticate
/// its AES-CTR copy, of the ciphertext or of the plaintext; so does a digest set by a
/// dependent the dependency's signers co-signed.
#[test]
fn a_dependencys_own_digests_still_authenticate_its_ctr_copy() {
    let (own_info, own_ct) = encrypted_with(ContentAlgorithm::A128Ctr, FIRMWARE);
    let forgery = forged(&own_ct, FIRMWARE, &rewritten());
    let theirs = |d: &[u8]| vec![(3, bytes(&suit_digest(d))), (21, text(ELSEWHERE))];
    let info = || vec![(19, bytes(&own_info))];
    // Ciphertext digest.
    let buf = (
        20,
        vec![(3, bytes(&suit_digest(&own_ct))), (21, text("#ct"))],
    );
    let dep = dependency_fetching(buf, &own_ct, 20, info(), vec![]);
    for sets in [vec![], vec![(BUF, theirs(&forgery))]] {
        let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &forgery);
        assert_eq!(r.unwrap(), vec![fw()]);
        assert_eq!(dev.installed.get(&fw()).map(Vec::as_slice), Some(FIRMWARE));
    }
    // Plaintext digest.
    let mut own = info();
    own.insert(0, (3, bytes(&suit_digest(FIRMWARE))));
    let dep = dependency(&own_ct, 20, own, vec![]);
    let sets = vec![(FW, vec![(3, bytes(&suit_digest(&rewritten())))])];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &dep, sets), &[]);
    assert_eq!(r.unwrap(), vec![fw()]);
    assert_eq!(dev.installed.get(&fw()).map(Vec::as_slice), Some(FIRMWARE));
    // A ciphertext digest a co-signed dependent set first speaks for the dependency.
    let buf = (
        19,
        vec![(3, bytes(&suit_digest(&own_ct))), (21, text("#ct"))],
    );
    let dep = dependency_fetching(buf, &own_ct, 20, info(), vec![]);
    let signers = [OPERATOR_PRIV, AUTHOR_PRIV];
    let sets = vec![(BUF, theirs(&forgery))];
    let (r, dev) = update(&dependent(&signers, &dep, sets), &forgery);
    assert_eq!(r.unwrap(), vec![fw()]);
    assert_eq!(
        dev.installed.get(&fw()).map(Vec::as_slice),
        Some(rewritten().as_slice())
    );
}

/// The ciphertext a decrypting write reads (`suit-parameter-content`) is authentic only if the
/// decrypting manifest's signers set it: a dependent that set `fw`'s content first (the
/// dependency's set-parameters then leaves it) would have the dependency's keys decrypt its
/// forgery. Set with override-parameters, the dependency's own installs.
#[test]
fn content_the_dependent_set_does_not_authenticate_a_dependencys_ctr_write() {
    let (own_info, own_ct) = encrypted_with(ContentAlgorithm::A128Ctr, FIRMWARE);
    let forgery = forged(&own_ct, FIRMWARE, &rewritten());
    let writes = |directive: i64| {
        let own = vec![(18, bytes(&own_ct)), (19, bytes(&own_info))];
        let install = vec![int(12), int(FW), int(directive), map(own), int(18), int(15)];
        let m = manifest(&[b"fw", b"buf", b"spare"], &[], install, b"dependency.suit");
        let env = seal_esp256(&m, &[AUTHOR_PRIV], &[]);
        (env, Digest::sha256(&cbor(&bytes(&m))).encode())
    };
    let sets = || vec![(FW, vec![(18, bytes(&forgery))])];
    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &writes(19), sets()), &[]);
    unverified_and_nothing_committed(r, &dev);

    let (r, dev) = update(&dependent(&[OPERATOR_PRIV], &writes(20), sets()), &[]);
    assert_eq!(r.unwrap(), vec![fw()]);
    assert_eq!(dev.installed.get(&fw()).map(Vec::as_slice), Some(FIRMWARE));
}
