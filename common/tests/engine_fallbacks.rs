//! Silent fallbacks turned into errors (issue 13 item 6): a platform read that reports more
//! bytes than its buffer holds used to read as the end of the data (an empty or short payload
//! could then be committed, an image-match hashed the wrong bytes); now the engine refuses
//! with `PlatformError::BadLength`.

use ciborium::Value;

use suit_common::cose::{Algorithm, SigningKey};
use suit_common::suit::error::{CommandErrorKind, Error};
use suit_common::suit::platform::{IdentifierKind, Platform, PlatformError, Record};
use suit_common::suit::{process, ComponentId, Procedure};

use suit_test_support::*;

/// One component `a`; the shared sequence checks vendor and class; `install` as given.
fn envelope(install: Vec<Value>) -> Vec<u8> {
    let shared = Value::Array(check_vendor_class(
        vec![],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        15,
    ));
    let manifest = suit_manifest(
        1,
        vec![Value::Array(vec![bytes(b"a")])],
        &shared,
        &Value::Array(install),
    );
    let key: SigningKey = p256_private_from_pem("suit-manifest-spec/private_key.pem");
    seal_one(&manifest, &key, Algorithm::Esp256, &[], &[])
}

fn digest(data: &[u8]) -> Value {
    use sha2::Digest as _;
    bytes(&cbor(&Value::Array(vec![
        int(-16),
        bytes(&sha2::Sha256::digest(data)),
    ])))
}

/// The recording device, except that reads report one byte more than the buffer holds
/// (only when `lie` is set, so each test also shows the honest run succeeds).
struct OverReporting {
    inner: RecordingPlatform,
    lie: bool,
}

impl Platform for OverReporting {
    fn identifier_matches(&self, kind: IdentifierKind, c: &ComponentId, value: &[u8]) -> bool {
        self.inner.identifier_matches(kind, c, value)
    }
    fn fetch_open(&mut self, uri: &str, args: Option<&[u8]>) -> Result<(), PlatformError> {
        self.inner.fetch_open(uri, args)
    }
    fn fetch_read(&mut self, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let n = self.inner.fetch_read(buf)?;
        Ok(if self.lie && n > 0 { buf.len() + 1 } else { n })
    }
    fn stage_open(&mut self, c: &ComponentId) -> Result<(), PlatformError> {
        self.inner.stage_open(c)
    }
    fn stage_write(&mut self, c: &ComponentId, data: &[u8]) -> Result<(), PlatformError> {
        self.inner.stage_write(c, data)
    }
    fn stage_discard(&mut self, c: &ComponentId) {
        self.inner.stage_discard(c)
    }
    fn read(&self, c: &ComponentId, offset: u64, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let n = self.inner.read(c, offset, buf)?;
        Ok(if self.lie && n > 0 { buf.len() + 1 } else { n })
    }
    fn sequence_number(&self, key: &[u8]) -> Result<Option<u64>, PlatformError> {
        self.inner.sequence_number(key)
    }
    fn stage_sequence_number(
        &mut self,
        key: &[u8],
        value: u64,
        signers: &[u32],
    ) -> Result<(), PlatformError> {
        self.inner.stage_sequence_number(key, value, signers)
    }
    fn commit(&mut self) -> Result<(), PlatformError> {
        self.inner.commit()
    }
    fn discard(&mut self) {
        self.inner.discard()
    }
    fn report(&mut self, r: &Record<'_>) {
        self.inner.report(r)
    }
}

fn run(install: Vec<Value>, dev: &mut OverReporting) -> Result<(), Error> {
    process(
        &envelope(install),
        Procedure::Update,
        &spec_policy(),
        &no_keys(),
        dev,
    )
    .map(|_| ())
}

fn kind(e: Error) -> CommandErrorKind {
    match e {
        Error::Command(c) => c.kind,
        other => panic!("{other}"),
    }
}

#[test]
fn fetch_read_beyond_the_buffer_is_a_platform_error_not_the_end_of_the_payload() {
    const PAYLOAD: &[u8] = b"firmware image";
    // Fetch without image-digest or image-size: the old engine took the lying read as the
    // end of the payload and committed an empty component.
    let install = vec![
        int(20),
        map(vec![(21, Value::Text("https://example.com/a".into()))]),
        int(21),
        int(15),
    ];
    let device = |lie| {
        let mut inner = RecordingPlatform::spec_device();
        inner
            .remote
            .insert("https://example.com/a".into(), PAYLOAD.to_vec());
        OverReporting { inner, lie }
    };
    let mut honest = device(false);
    run(install.clone(), &mut honest).unwrap();
    assert_eq!(
        honest.inner.installed.get(&cid(&[b"a"])).map(Vec::as_slice),
        Some(PAYLOAD)
    );

    let mut lying = device(true);
    let e = run(install, &mut lying).unwrap_err();
    assert!(e.to_string().contains("more bytes than its buffer"), "{e}");
    assert_eq!(
        kind(e),
        CommandErrorKind::Platform(PlatformError::BadLength)
    );
    assert!(lying.inner.installed.is_empty(), "nothing may be committed");
}

#[test]
fn component_read_beyond_the_buffer_fails_image_match_with_a_platform_error() {
    const CONTENT: &[u8] = b"installed image";
    // image-match on the installed content: the old engine hashed nothing for the lying
    // read and reported a plain condition failure, hiding the platform bug.
    let install = vec![int(20), map(vec![(3, digest(CONTENT))]), int(3), int(15)];
    let device = |lie| {
        let mut inner = RecordingPlatform::spec_device();
        inner.installed.insert(cid(&[b"a"]), CONTENT.to_vec());
        OverReporting { inner, lie }
    };
    run(install.clone(), &mut device(false)).unwrap();
    let e = run(install, &mut device(true)).unwrap_err();
    assert_eq!(
        kind(e),
        CommandErrorKind::Platform(PlatformError::BadLength)
    );
}
