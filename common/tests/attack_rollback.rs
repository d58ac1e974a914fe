//! Attacks on what is installed, by a normal world that stores and replays every manifest
//! and payload it ever transported (Uptane/TUF taxonomy: rollback, replay/freeze,
//! mix-and-match, partial install). Each is refused with a typed refusal and leaves the
//! state record and every stored object exactly as they were.

use suit_common::protocol::RefusalKind;
use suit_test_support::says;
use suit_test_support::service::*;
use suit_test_support::{policy_of, says_as};

/// Runs `attack`, which must be refused, and checks nothing stored changed.
fn refused_and_unchanged(
    s: &mut suit_common::service::Service<Mem>,
    attack: impl FnOnce(&mut suit_common::service::Service<Mem>) -> Refused,
) -> Refused {
    let (state_before, objects_before) = (state(s), objects(s));
    let r = attack(s);
    assert_eq!(state(s), state_before, "the state record changed: {r:?}");
    assert_eq!(objects(s), objects_before, "stored objects changed: {r:?}");
    // And nothing is left behind after the next install starts (no orphan objects).
    begin(s, 1).unwrap();
    assert_eq!(
        objects(s),
        objects_before,
        "orphans after the next begin: {r:?}"
    );
    r
}

/// RFC 9124 THREAT.IMG.EXPIRED: an old but authentic manifest whose component list differs
/// from the newer one's (so it has its own, lower, list-keyed sequence number) tries to put
/// back old personalization data. Refused per component, whatever list carries it.
#[test]
fn an_older_manifest_with_another_component_list_cannot_reinstall_old_personalization() {
    let mut s = device();
    let old_perso = b"perso v1: token 1111".to_vec();
    let new_perso = b"perso v2: token 2222".to_vec();
    let cfg = b"cfg".to_vec();
    // Released first (seq 3) for devices that also take a config file; this one never saw it.
    let old = release(
        3,
        &[
            part(&[&TA, b"perso"], &old_perso, "#perso"),
            part(&[&TA, b"cfg"], &cfg, "#cfg"),
        ],
    );
    let new = release(5, &[part(&[&TA, b"perso"], &new_perso, "#perso")]);
    install(&mut s, &new).unwrap();
    assert_eq!(personalization(&mut s).as_deref(), Some(&new_perso[..]));

    let r = refused_and_unchanged(&mut s, |s| refusal(install(s, &old)));
    assert_eq!(r.kind, RefusalKind::Manifest);
    assert!(
        r.reason.contains("Rollback of component 0")
            && r.reason.contains("sequence number 3 is not greater than 5"),
        "{}",
        r.reason
    );
    assert_eq!(personalization(&mut s).as_deref(), Some(&new_perso[..]));
    // A newer manifest with either list still installs.
    let newer = release(
        6,
        &[
            part(&[&TA, b"perso"], &old_perso, "#perso"),
            part(&[&TA, b"cfg"], &cfg, "#cfg"),
        ],
    );
    install(&mut s, &newer).unwrap();
    assert_eq!(personalization(&mut s).as_deref(), Some(&old_perso[..]));
}

/// The same with a plain component and a detached payload; the refusal comes before any
/// payload is taken in.
#[test]
fn an_older_manifest_cannot_replace_a_component_a_newer_one_installed() {
    let mut s = device();
    let (a1, a2, b1) = (vec![1u8; 5000], vec![2u8; 5000], vec![3u8; 100]);
    let new = release(10, &[part(&[b"app", b"a"], &a2, "https://u/a")]);
    let old = release(
        9,
        &[
            part(&[b"app", b"b"], &b1, "https://u/b"),
            part(&[b"app", b"a"], &a1, "https://u/a"),
        ],
    );
    install(&mut s, &new).unwrap();
    let r = refused_and_unchanged(&mut s, |s| refusal(install(s, &old)));
    assert!(
        r.reason.contains("Rollback of component 1")
            && r.reason
                .contains("sequence number 9 is not greater than 10"),
        "{}",
        r.reason
    );
}

/// Replay (and freeze: holding the device on an old release by replaying it) of a manifest
/// the device already applied, the latest one or an earlier one.
#[test]
fn replaying_an_applied_manifest_is_refused() {
    let mut s = device();
    let (v1, v2) = (b"app v1".to_vec(), b"app v2".to_vec());
    let r1 = release(1, &[part(&[b"app"], &v1, "#app")]);
    let r2 = release(2, &[part(&[b"app"], &v2, "#app")]);
    install(&mut s, &r1).unwrap();
    install(&mut s, &r2).unwrap();
    for (name, r) in [("latest", &r2), ("earlier", &r1)] {
        let refusal = refused_and_unchanged(&mut s, |s| refusal(install(s, r)));
        assert_eq!(refusal.kind, RefusalKind::Manifest, "{name}");
        says_as(name, &refusal.reason, "Rollback");
    }
}

/// Mix-and-match: components from two releases never released together.
#[test]
fn components_from_two_releases_cannot_be_combined() {
    let mut s = device();
    let (a1, c1) = (b"a of release 1".to_vec(), b"c of release 1".to_vec());
    let (a2, b2, a3) = (
        b"a of release 2".to_vec(),
        b"b of release 2".to_vec(),
        b"a of release 3".to_vec(),
    );
    // Release 1 (a and c) never reached this device; 2 (a and b) and 3 (a) did.
    let r1 = release(
        1,
        &[
            part(&[b"app", b"a"], &a1, "https://u/a1"),
            part(&[b"app", b"c"], &c1, "https://u/c1"),
        ],
    );
    let r2 = release(
        2,
        &[
            part(&[b"app", b"a"], &a2, "https://u/a2"),
            part(&[b"app", b"b"], &b2, "https://u/b2"),
        ],
    );
    let r3 = release(3, &[part(&[b"app", b"a"], &a3, "https://u/a3")]);
    install(&mut s, &r2).unwrap();
    install(&mut s, &r3).unwrap();

    // 1. Release 1 would put a1 next to b2 (and add c1): a combination never released.
    let r = refused_and_unchanged(&mut s, |s| refusal(install(s, &r1)));
    assert!(
        r.reason.contains("Rollback of component 0")
            && r.reason.contains("sequence number 1 is not greater than 3"),
        "{}",
        r.reason
    );

    // 2. Release 4's manifest fed release 2's payload for its URI: the digest binds it.
    let a4 = b"a of release 4".to_vec();
    let r4 = release(4, &[part(&[b"app", b"a"], &a4, "https://u/a4")]);
    let r = refused_and_unchanged(&mut s, |s| {
        let prepared = prepare(s, &r4.envelope).unwrap();
        send_payload(s, &prepared.needed_uris[0], a2.len() as u64, &a2).unwrap();
        refusal(finish(s))
    });
    assert_eq!(r.kind, RefusalKind::Manifest);
    assert!(
        [
            "image digest does not match",
            "image digest mismatch",
            "payload size differs from image-size"
        ]
        .iter()
        .any(|k| r.reason.contains(k)),
        "{}",
        r.reason
    );

    // 3. Release 4's signature (authentication wrapper) spliced onto release 2's manifest.
    let spliced = splice_auth(&r4.envelope, &r2.envelope);
    let r = refused_and_unchanged(&mut s, |s| refusal(prepare(s, &spliced)));
    assert_eq!(r.kind, RefusalKind::Manifest);
    says(&r.reason, "not authenticated");
}

/// `auth_from`'s authentication wrapper with `rest_from`'s other members.
fn splice_auth(auth_from: &[u8], rest_from: &[u8]) -> Vec<u8> {
    use ciborium::Value;
    let decode = |b: &[u8]| -> (Option<u64>, Vec<(Value, Value)>) {
        match ciborium::de::from_reader(b).unwrap() {
            Value::Tag(t, inner) => match *inner {
                Value::Map(m) => (Some(t), m),
                _ => panic!("envelope"),
            },
            Value::Map(m) => (None, m),
            _ => panic!("envelope"),
        }
    };
    let auth = decode(auth_from)
        .1
        .into_iter()
        .find(|(k, _)| k == &Value::Integer(2.into()))
        .unwrap();
    let (tag, mut members) = decode(rest_from);
    for m in members.iter_mut() {
        if m.0 == auth.0 {
            *m = auth.clone();
        }
    }
    let map = Value::Map(members);
    cbor(&match tag {
        Some(t) => Value::Tag(t, Box::new(map)),
        None => map,
    })
}

/// Partial install: the REE sends less than the manifest needs.
#[test]
fn partial_installs_are_refused_and_leave_nothing_behind() {
    let mut s = device();
    let v1 = vec![0x11u8; 40_000];
    install(
        &mut s,
        &release(1, &[part(&[b"app"], &v1, "https://u/app")]),
    )
    .unwrap();
    let image = vec![0x22u8; 40_000];
    let r2 = release(2, &[part(&[b"app"], &image, "https://u/app")]);
    let uri = "https://u/app";

    // Truncated envelope: prepare before all of it arrived.
    let r = refused_and_unchanged(&mut s, |s| {
        begin(s, r2.envelope.len() as u64).unwrap();
        let half = &r2.envelope[..r2.envelope.len() / 2];
        suit_test_support::service::call::<_, suit_common::protocol::Empty>(
            s,
            suit_common::protocol::Command::InstallEnvelope,
            &suit_common::protocol::ChunkRequest {
                offset: 0,
                data: suit_common::protocol::ByteBuf::from(half.to_vec()),
            },
        )
        .unwrap();
        refusal(suit_test_support::service::call::<
            _,
            suit_common::protocol::InstallPrepareResponse,
        >(
            s,
            suit_common::protocol::Command::InstallPrepare,
            &suit_common::protocol::Empty {},
        ))
    });
    assert_eq!(r.kind, RefusalKind::Sequence);

    // Truncated payload, announced at full length: finish refuses the incomplete payload.
    let r = refused_and_unchanged(&mut s, |s| {
        prepare(s, &r2.envelope).unwrap();
        send_payload(s, uri, image.len() as u64, &image[..30_000]).unwrap();
        refusal(finish(s))
    });
    assert_eq!(r.kind, RefusalKind::Sequence);
    says(&r.reason, "payload incomplete");

    // Truncated payload, announced as complete: the image size / digest do not match.
    let r = refused_and_unchanged(&mut s, |s| {
        prepare(s, &r2.envelope).unwrap();
        send_payload(s, uri, 30_000, &image[..30_000]).unwrap();
        refusal(finish(s))
    });
    assert_eq!(r.kind, RefusalKind::Manifest);
    assert!(
        r.reason.contains("payload size differs from image-size")
            || r.reason.contains("image digest"),
        "{}",
        r.reason
    );

    // Missing payload: finish without sending it.
    let r = refused_and_unchanged(&mut s, |s| {
        prepare(s, &r2.envelope).unwrap();
        refusal(finish(s))
    });
    assert_eq!(r.kind, RefusalKind::Manifest);
    says(
        &r.reason,
        &format!("the manifest fetches {uri}, which the normal world did not deliver"),
    );

    // Control: the complete install of the same release still goes through.
    install(&mut s, &r2).unwrap();
}

// ---------------------------------------------------------------------------------------
// Per dependency: a component a dependency manifest installs is checked against that
// manifest's own sequence number (the firmware-encryption draft's two-signer example: the
// operator's dependent manifest processes the author's dependency, which writes the image).

use suit_common::suit::platform::{PlatformError, Record};
use suit_common::suit::ComponentId;
use suit_test_support::RecordingPlatform;

/// The recording device, plus per-component sequence numbers as a real store keeps them.
struct Tracking {
    inner: RecordingPlatform,
    installed_by: Vec<(ComponentId, u64)>,
    staged_by: Vec<(ComponentId, u64)>,
}

suit_test_support::recording_platform_via!(Tracking, inner, {
    fn component_sequence_number(&self, c: &ComponentId) -> Result<Option<u64>, PlatformError> {
        Ok(self
            .installed_by
            .iter()
            .find(|(x, _)| x == c)
            .map(|(_, v)| *v))
    }
    fn stage_component_sequence_number(
        &mut self,
        c: &ComponentId,
        value: u64,
    ) -> Result<(), PlatformError> {
        self.staged_by.push((c.clone(), value));
        Ok(())
    }
    fn report(&mut self, r: &Record<'_>) {
        self.inner.report(r)
    }
});

#[test]
fn a_component_installed_through_a_dependency_is_protected_by_the_dependency_number() {
    use suit_common::cose::VerificationKey;
    use suit_common::encryption::MemoryKeys;
    use suit_common::suit::error::{CommandErrorKind, Error, PolicyError};
    use suit_common::suit::policy::Role;
    use suit_common::suit::{process, Procedure};
    use suit_test_support::{anchor, cid, hex_file, p256_public_from_pem};

    let envelope = hex_file("suit-firmware-encryption/suit-manifest-es-ecdh-dependency.hex.signed");
    let key = |f: &str| -> VerificationKey {
        p256_public_from_pem(&format!("suit-firmware-encryption/{f}"))
    };
    let policy = policy_of(vec![
        anchor(1, key("signer_es256_pub.pem"), Role::Author),
        anchor(
            2,
            key("dependent_manifest_signer_es256_pub.pem"),
            Role::Operator,
        ),
    ]);
    let keys = || {
        let mut k = MemoryKeys::new();
        use base64::Engine as _;
        let d = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode("YP5t1thdV0ClNJtvkSZ-6sW6gbjLU-4knktOsQLEdrM")
            .unwrap();
        k.add_ecdh_p256(Some(b"kid-2"), &d).unwrap();
        k
    };
    let firmware = cid(&[b"decrypted-firmware"]);
    let run = |installed_by: u64| {
        let mut dev = Tracking {
            inner: RecordingPlatform::default(),
            installed_by: vec![(firmware.clone(), installed_by)],
            staged_by: vec![],
        };
        let r = process(&envelope, Procedure::Update, &policy, &keys(), &mut dev);
        (r, dev)
    };
    // Learn the dependency's own number from a first install onto a fresh component.
    let (r, dev) = run(0);
    r.unwrap();
    let dep_seq = dev.staged_by[0].1;
    assert_eq!(dev.staged_by, vec![(firmware.clone(), dep_seq)]);

    // Content installed by a newer manifest than the dependency: refused inside the
    // dependency, whatever the dependent's own number is.
    let (r, dev) = run(dep_seq + 1);
    let Err(Error::Command(c)) = r else {
        panic!("expected a refusal, got {r:?}")
    };
    let CommandErrorKind::Dependency(inner) = c.kind else {
        panic!("refused outside the dependency: {c:?}")
    };
    let Error::Command(inner) = *inner else {
        panic!("{inner:?}")
    };
    assert_eq!(
        inner.kind,
        CommandErrorKind::Policy(PolicyError::ComponentRollback {
            component: 0,
            installed: dep_seq + 1,
            offered: dep_seq,
        })
    );
    assert!(
        !dev.inner.installed.contains_key(&firmware),
        "nothing committed"
    );
    // The same dependency re-run by a newer dependent (equal number) passes the engine (a
    // root manifest would need a greater one; the store then requires identical content).
    run(dep_seq).0.unwrap();
}

/// The storage object of installed component `id`, as the state record names it.
fn committed_object(s: &suit_common::service::Service<Mem>, id: &[&[u8]]) -> (String, u64) {
    let st = state(s);
    let c = st
        .components
        .iter()
        .find(|c| c.id.iter().map(|b| b.as_slice()).eq(id.iter().copied()))
        .unwrap_or_else(|| panic!("{id:?} is not installed"));
    (c.object.clone(), c.size)
}

/// A manifest copying installed component `from` into `to` (directive-copy), checked
/// against `image`'s digest and size.
fn copy_manifest(seq: u64, from: &[&[u8]], to: &[&[u8]], image: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let segs = |c: &[&[u8]]| ciborium::Value::Array(c.iter().map(|s| bytes(s)).collect());
    let shared = suit_test_support::digest_shared(1, &sha2::Sha256::digest(image), image.len(), 15);
    let install = ciborium::Value::Array(vec![
        int(12),
        int(1),
        int(20),
        ciborium::Value::Map(vec![(int(22), int(0))]),
        int(22),
        int(2),
        int(3),
        int(15),
    ]);
    suit_test_support::suit_manifest(seq as i64, vec![segs(from), segs(to)], &shared, &install)
}

/// An installed component's object holding bytes past the size its record commits (a stale
/// tail of an older version the REE put back, or a segment an REE-FS swap left behind): a
/// manifest copying the component gets exactly the committed bytes, never the tail.
#[test]
fn bytes_past_a_committed_size_are_never_read_as_content() {
    use suit_common::service::store::SecureStore as _;
    let mut s = device();
    let a: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    install(&mut s, &release(1, &[part(&[b"app", b"a"], &a, "#a")])).unwrap();
    let (object, size) = committed_object(&s, &[b"app", b"a"]);
    assert_eq!(size, a.len() as u64);
    s.backend_mut()
        .store_mut()
        .append(&object, b"stale tail of another state")
        .unwrap();

    let m = copy_manifest(2, &[b"app", b"a"], &[b"app", b"b"], &a);
    install_with(&mut s, &envelope(&m, &[]), &[]).unwrap();
    let (copied, size) = committed_object(&s, &[b"app", b"b"]);
    assert_eq!(size, a.len() as u64);
    assert_eq!(s.backend().store().raw(&copied).unwrap(), &a[..]);
}

/// The personalization request of a TA, answered or refused.
fn personalization_answer(
    s: &mut suit_common::service::Service<Mem>,
) -> Result<suit_common::protocol::PersonalizationResponse, (suit_common::protocol::Status, Refused)>
{
    use suit_common::protocol::{Command, Empty};
    let client = s.backend().client;
    s.backend_mut().client = suit_common::service::Client::TrustedApp(TA);
    let r = call(s, Command::PersonalizationGet, &Empty {});
    s.backend_mut().client = client;
    r
}

/// Personalization data whose object is longer or shorter than its record's size (a stale
/// tail, or content of another state) is refused whole: the TA gets neither extra bytes nor
/// a part, and the installed state stays as it was.
#[test]
fn personalization_data_of_another_length_than_committed_is_refused() {
    use suit_common::service::store::SecureStore as _;
    let perso = b"perso v1: token 1111".to_vec();
    for tamper in ["longer", "shorter"] {
        let mut s = device();
        install(
            &mut s,
            &release(1, &[part(&[&TA, b"perso"], &perso, "#perso")]),
        )
        .unwrap();
        assert_eq!(personalization(&mut s).as_deref(), Some(&perso[..]));
        let (object, _) = committed_object(&s, &[&TA, b"perso"]);
        let store = s.backend_mut().store_mut();
        match tamper {
            "longer" => {
                store.append(&object, b"; token 2222").unwrap();
            }
            _ => store.put(&object, &perso[..10]).unwrap(),
        }
        let before = state(&s);
        let r = refusal(personalization_answer(&mut s));
        assert_eq!(r.kind, RefusalKind::Storage, "{tamper}: {}", r.reason);
        assert!(r.reason.contains("recorded size"), "{tamper}: {}", r.reason);
        assert_eq!(state(&s), before, "{tamper}");
    }
}

/// Tenant sequence numbers: each manifest's number is stored under an identifier (its
/// suit-manifest-component-id, else its component list), and only a signer whose scope owns
/// that identifier may record one there.
mod sequence_keys {
    use ciborium::Value;
    use suit_common::cose::Algorithm;
    use suit_common::protocol::{Command, DeviceKeyRequest, DeviceKeyResponse, RefusalKind};
    use suit_common::service::provision::Op;
    use suit_common::service::state::{AnchorRecord, RoleRecord};
    use suit_common::service::Service;
    use suit_test_support::service::*;
    use suit_test_support::{p256_private_from_pem, says, seal_one};
    use suit_test_support::{AUTHOR_PRIV, AUTHOR_PUB, OPERATOR_PRIV, OPERATOR_PUB};

    /// Tenant A (anchor 1, the author key) owns `app-a`, tenant B (anchor 2) owns `app-b`.
    fn two_tenants() -> Service<Mem> {
        let mut s = service(backend(0));
        let _: DeviceKeyResponse =
            call(&mut s, Command::DeviceKey, &DeviceKeyRequest::default()).unwrap();
        let tenant = |id, key: &str, prefix: &[u8]| {
            Op::AddAnchor(AnchorRecord {
                id,
                cose_key: cose_key(key),
                role: RoleRecord::Author,
                key_scope: 0,
                scope: scope(&[prefix]),
            })
        };
        let message = provision_message(
            &mut s,
            1,
            vec![
                tenant(1, AUTHOR_PUB, b"app-a"),
                tenant(2, OPERATOR_PUB, b"app-b"),
                identity(),
            ],
        );
        provision(&mut s, &message).unwrap();
        s
    }

    /// `m` (an encoded manifest) with suit-manifest-component-id `id` and without the
    /// entries of suit-common listed in `drop_common`.
    fn edited(m: &[u8], id: Option<&[&[u8]]>, drop_common: &[i64]) -> Vec<u8> {
        let Value::Map(mut entries) = ciborium::from_reader::<Value, _>(m).unwrap() else {
            panic!("manifest")
        };
        let key = |k: &Value| i64::try_from(k.as_integer().unwrap()).unwrap();
        for (k, v) in entries.iter_mut() {
            if key(k) == 3 && !drop_common.is_empty() {
                let Value::Bytes(b) = v else { panic!("common") };
                let Value::Map(mut c) = ciborium::from_reader::<Value, _>(&b[..]).unwrap() else {
                    panic!("common")
                };
                c.retain(|(k, _)| !drop_common.contains(&key(k)));
                b.clear();
                ciborium::into_writer(&Value::Map(c), &mut *b).unwrap();
            }
        }
        if let Some(id) = id {
            let at = entries.iter().position(|(k, _)| key(k) > 5).unwrap();
            let id = Value::Array(id.iter().map(|s| Value::Bytes(s.to_vec())).collect());
            entries.insert(at, (Value::Integer(5.into()), id));
        }
        let mut out = Vec::new();
        ciborium::into_writer(&Value::Map(entries), &mut out).unwrap();
        out
    }

    fn signed(m: &[u8], key: &str, integrated: &[(&str, &[u8])]) -> Vec<u8> {
        seal_one(
            m,
            &p256_private_from_pem(key),
            Algorithm::Esp256,
            &[],
            integrated,
        )
    }

    /// Tenant B's release `seq` of `app-b/x`, stored under its manifest id `app-b/m`.
    fn release_b(seq: u64) -> Vec<u8> {
        let image = format!("b v{seq}").into_bytes();
        let m = edited(
            &manifest(seq, &[part(&[b"app-b", b"x"], &image, "#p")]),
            Some(&[b"app-b", b"m"]),
            &[],
        );
        signed(&m, OPERATOR_PRIV, &[("#p", &image)])
    }

    #[test]
    fn a_tenant_cannot_record_a_sequence_number_under_another_tenants_manifest_id() {
        let mut s = two_tenants();
        install_with(&mut s, &release_b(1), &[]).unwrap();

        // A installs only its own component but names B's manifest id, at the largest number.
        let a = b"a's image".to_vec();
        let m = edited(
            &manifest(i64::MAX as u64, &[part(&[b"app-a", b"x"], &a, "#p")]),
            Some(&[b"app-b", b"m"]),
            &[],
        );
        let (state_before, objects_before) = (state(&s), objects(&s));
        let r = refusal(install_with(
            &mut s,
            &signed(&m, AUTHOR_PRIV, &[("#p", &a)]),
            &[],
        ));
        assert_eq!(r.kind, RefusalKind::Manifest);
        says(&r.reason, "suit-manifest-component-id");
        assert_eq!(state(&s), state_before);
        assert_eq!(objects(&s), objects_before);

        // B's next release under its own id still installs; A under its own id too.
        install_with(&mut s, &release_b(2), &[]).unwrap();
        let m = edited(
            &manifest(1, &[part(&[b"app-a", b"x"], &a, "#p")]),
            Some(&[b"app-a", b"m"]),
            &[],
        );
        install_with(&mut s, &signed(&m, AUTHOR_PRIV, &[("#p", &a)]), &[]).unwrap();
    }

    /// Without a manifest id and without components, every tenant's manifest would share
    /// one key (the empty list): refused before anything runs.
    #[test]
    fn a_manifest_without_components_or_manifest_id_is_refused() {
        let mut s = two_tenants();
        let m = edited(&manifest(7, &[]), None, &[2]);
        let (state_before, objects_before) = (state(&s), objects(&s));
        let r = refusal(install_with(&mut s, &signed(&m, AUTHOR_PRIV, &[]), &[]));
        assert_eq!(r.kind, RefusalKind::Manifest);
        says(&r.reason, "empty component list");
        assert_eq!(state(&s), state_before);
        assert_eq!(objects(&s), objects_before);
        // With a manifest id of its own it is a manifest like any other.
        let m = edited(&manifest(7, &[]), Some(&[b"app-a", b"m"]), &[2]);
        let r = install_with(&mut s, &signed(&m, AUTHOR_PRIV, &[]), &[]);
        assert!(
            !r.as_ref()
                .is_err_and(|e| e.1.reason.contains("component-id")),
            "{r:?}"
        );
    }
}

/// Mutation review s34: at the root, per-component rollback refuses an equal number too
/// (another component list, so the manifest's own number is not the guard).
#[test]
fn an_equal_number_under_another_list_does_not_touch_an_installed_component() {
    let mut s = device();
    let perso = b"perso: token 5555".to_vec();
    install(
        &mut s,
        &release(5, &[part(&[&TA, b"perso"], &perso, "#perso")]),
    )
    .unwrap();
    let wider = release(
        5,
        &[
            part(&[&TA, b"perso"], &perso, "#perso"),
            part(&[&TA, b"cfg"], b"cfg", "#cfg"),
        ],
    );
    let r = refused_and_unchanged(&mut s, |s| refusal(install(s, &wider)));
    assert!(
        r.reason.contains("sequence number 5 is not greater than 5"),
        "{}",
        r.reason
    );
}
