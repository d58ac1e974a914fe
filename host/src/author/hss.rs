//! HSS-LMS (COSE -46, RFC 8554 / RFC 8778) signing keys: `keygen --type hss-lms` and the
//! stateful private-key file `create` / `sign --sign-key` advance.
//!
//! HSS-LMS signs each message with a one-time key (a leaf of a Merkle tree); signing twice
//! from one state reuses a leaf and lets whoever sees both signatures forge. So the private
//! key file is the state, and the tool treats it as such:
//!
//! - it is opened for writing and locked (`flock`, exclusive) before it is read, and stays
//!   locked until the command ends, so two `suit-author` runs on one key file sign one after
//!   the other, each from the state the previous one left (a run that waited for the lock
//!   re-opens the file if it was replaced meanwhile);
//! - each signature's advanced state is written durably (temporary file in the same
//!   directory, fsync, rename over the key file, directory fsync: `files::replace_in_dir`)
//!   before the signature is handed back to be put into an envelope; if that fails there is
//!   no signature, and the command fails naming the key file ([`AuthorError::KeyState`]);
//! - a key file that cannot be written (no write permission, read-only file system), or that
//!   has other hard links (they would keep the old state), is refused before anything is
//!   signed; a symbolic link is followed to the file, which is replaced in its own directory;
//! - a key whose one-time keys are all used is [`AuthorError::KeyExhausted`].
//!
//! What the tool cannot see is a copy: a key file restored from a backup, or copied to
//! another machine, signs again from an old state. Keep one copy (SECURITY.md).
//!
//! File format (`PREFIX.priv.pem`, mode 0600):
//!
//! ```text
//! -----BEGIN SUIT HSS-LMS PRIVATE KEY-----
//! Comment: ... (lines with a colon are informational; the tool ignores them)
//! Parameters: LMS_SHA256_M32_H10/LMOTS_SHA256_N32_W4, LMS_SHA256_M32_H10/LMOTS_SHA256_N32_W4
//! Signatures-Used: 0 of 1048576
//!
//! <base64 of a CBOR map: {"version": 1, ? "kid": bstr, "public-key": bstr, "private-key": bstr}>
//! -----END SUIT HSS-LMS PRIVATE KEY-----
//! ```
//!
//! `public-key` is the HSS public key (RFC 8554 §6.1, 60 bytes); `private-key` is the
//! private key in the form of the hash-sigs reference implementation, which hbs-lms uses
//! (48 bytes: the number of signatures made as a big-endian u64, one parameter byte per level
//! `lms_type << 4 | lmots_type` padded with `0xff` to 8, the 32-byte seed), empty once the key
//! is exhausted (its seed is gone). The public key goes into `PREFIX.pub.cose`, a COSE_Key
//! (RFC 8778: kty 5 HSS-LMS, -1 `pub`), which `provision` (`add-anchor` `key`) and
//! `verify --trust-anchor` take; both also take the private key file (its public half).

use std::cell::RefCell;
use std::fs::File;
use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{flock, FlockOperation, Mode, OFlags, CWD};
use zeroize::Zeroizing;

use suit_common::cbor::{Decoder, Encoder};
use suit_common::cose::{
    hss_lms_key_state, hss_lms_keygen, hss_lms_sign, hss_lms_verify, CoseError, HssKeyState,
    HssLevel, HssSignError, SigningKey, StatefulHssLms, VerificationKey, HSS_MAX_LEVELS,
    HSS_MAX_TOTAL_HEIGHT, HSS_PRIVATE_KEY_LEN,
};

use super::keys::{public_cose_key, GeneratedKey, PublicKey};
use super::{AuthorError, Result};

/// The PEM label of the private key file.
pub const PEM_LABEL: &str = "SUIT HSS-LMS PRIVATE KEY";
/// The body's format version.
const VERSION: u64 = 1;
/// Longest key file read (a real one is about 400 bytes).
const MAX_KEY_FILE: u64 = 16 * 1024;

/// Default levels of `keygen --type hss-lms`: two levels of LMS_SHA256_M32_H10 with
/// LMOTS_SHA256_N32_W4, 2^20 (1,048,576) signatures of 5,076 bytes. Keygen computes one
/// tree of 1,024 leaves and each signature two (about 0.1 s and 0.3 s, release build).
pub const DEFAULT_LEVELS: usize = 2;
/// Default LMS tree height of every level.
pub const DEFAULT_HEIGHT: u8 = 10;
/// Default LM-OTS Winternitz parameter of every level.
pub const DEFAULT_WINTERNITZ: u8 = 4;
/// Tree heights `keygen` offers. Every signature recomputes each level's tree (hbs-lms without
/// its auxiliary cache), so H20 (~2 minutes per tree) and H25 (~1 hour) are not offered: more
/// levels give as many signatures at a fraction of the time.
pub const HEIGHTS: [u8; 3] = [5, 10, 15];
/// Winternitz parameters `keygen` offers (RFC 8554 Table 1).
pub const WINTERNITZ: [u8; 4] = [1, 2, 4, 8];

/// An HSS-LMS private key file, as read or to be written.
pub struct HssKeyFile {
    /// The HSS public key (RFC 8554 §6.1).
    pub public: Vec<u8>,
    /// COSE key id (empty if none).
    pub kid: Vec<u8>,
    /// The private key (hbs-lms's form); `None` once exhausted.
    pub private: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for HssKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HssKeyFile(<secret>)")
    }
}

/// The RFC 8554 names of a level's parameter sets.
pub fn level_name(l: HssLevel) -> String {
    format!(
        "LMS_SHA256_M32_H{}/LMOTS_SHA256_N32_W{}",
        l.height, l.winternitz
    )
}

impl HssKeyFile {
    /// The file's text: PEM with informational headers, the body base64 in 64-column lines.
    pub fn encode(&self) -> Zeroizing<String> {
        use base64::Engine as _;
        let mut e = Encoder::with_capacity(160 + self.kid.len());
        e.map(3 + usize::from(!self.kid.is_empty()));
        e.text("version").uint(VERSION);
        if !self.kid.is_empty() {
            e.text("kid").bytes(&self.kid);
        }
        e.text("public-key").bytes(&self.public);
        e.text("private-key")
            .bytes(self.private.as_deref().map_or(&[][..], |p| p.as_slice()));
        let body = Zeroizing::new(e.into_bytes());
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*body));
        let mut out = Zeroizing::new(String::with_capacity(b64.len() + 600));
        out.push_str(&format!("-----BEGIN {PEM_LABEL}-----\n"));
        out.push_str(
            "Comment: STATEFUL signing key: suit-author rewrites this file with every signature.\n\
             Comment: Never use two copies or restore an older one: a state used twice breaks HSS-LMS.\n",
        );
        match self.private.as_deref().map(|p| hss_lms_key_state(p)) {
            Some(Ok(st)) => {
                let names: Vec<String> = st.levels.iter().map(|l| level_name(*l)).collect();
                out.push_str(&format!("Parameters: {}\n", names.join(", ")));
                out.push_str(&format!(
                    "Signatures-Used: {} of {}\n",
                    st.used, st.lifetime
                ));
            }
            _ => out.push_str("Signatures-Used: all (exhausted)\n"),
        }
        out.push('\n');
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(&format!("-----END {PEM_LABEL}-----\n"));
        out
    }

    /// Reads the file's text (`path` names it in errors). The public key must be an HSS key the
    /// device accepts, the private key (unless exhausted) a well-formed one of the same
    /// parameter set at its top level.
    pub fn decode(path: &Path, text: &str) -> Result<Self> {
        use base64::Engine as _;
        let bad = |what: &str| AuthorError::key(path, format!("HSS-LMS private key file: {what}"));
        let begin = format!("-----BEGIN {PEM_LABEL}-----");
        let end = format!("-----END {PEM_LABEL}-----");
        let start = text
            .find(&begin)
            .ok_or_else(|| bad(&format!("no {begin} line")))?
            + begin.len();
        let stop = text[start..]
            .find(&end)
            .ok_or_else(|| bad(&format!("no {end} line")))?
            + start;
        let b64: Zeroizing<String> = Zeroizing::new(
            text[start..stop]
                .lines()
                .filter(|l| !l.contains(':'))
                .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
                .collect(),
        );
        let body = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| bad("the body is not base64"))?,
        );
        let malformed = || bad("the body is not the CBOR map this tool writes");
        let mut d = Decoder::new(&body);
        let n = d.map().map_err(|_| malformed())?;
        let (mut version, mut kid, mut public, mut private) = (None, None, None, None);
        for _ in 0..n {
            let key = d.text().map_err(|_| malformed())?;
            let slot_taken = match key {
                "version" => version
                    .replace(d.uint().map_err(|_| malformed())?)
                    .map(|_| ()),
                "kid" => kid.replace(d.bytes().map_err(|_| malformed())?).map(|_| ()),
                "public-key" => public
                    .replace(d.bytes().map_err(|_| malformed())?)
                    .map(|_| ()),
                "private-key" => private
                    .replace(d.bytes().map_err(|_| malformed())?)
                    .map(|_| ()),
                other => return Err(bad(&format!("unknown field \"{other}\""))),
            };
            if slot_taken.is_some() {
                return Err(bad(&format!("field \"{key}\" twice")));
            }
        }
        d.finish().map_err(|_| malformed())?;
        if version != Some(VERSION) {
            return Err(bad(&format!(
                "version {} (this tool reads version {VERSION})",
                version.map_or("missing".into(), |v| v.to_string())
            )));
        }
        let public = public.ok_or_else(|| bad("no \"public-key\""))?.to_vec();
        let private = private.ok_or_else(|| bad("no \"private-key\""))?;
        VerificationKey::hss_lms(&public).map_err(|e| bad(&format!("public key refused: {e}")))?;
        let private = if private.is_empty() {
            None
        } else {
            match hss_lms_key_state(private) {
                Ok(st) => check_halves(&st, &public).map_err(|w| bad(&w))?,
                Err(HssSignError::Exhausted) => {}
                Err(_) => return Err(bad("the private key is malformed")),
            }
            Some(Zeroizing::new(private.to_vec()))
        };
        Ok(Self {
            public,
            kid: kid.map(<[u8]>::to_vec).unwrap_or_default(),
            private,
        })
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::HssLms(self.public.clone())
    }
}

/// Whether `text` is an HSS-LMS private key file (by its PEM label).
pub fn is_private_key_file(text: &[u8]) -> bool {
    let label = format!("-----BEGIN {PEM_LABEL}-----");
    text.windows(label.len()).any(|w| w == label.as_bytes())
}

/// The private key's levels agree with the public key: as many levels, the same typecodes at
/// the top (the public key names the top tree's).
fn check_halves(st: &HssKeyState, public: &[u8]) -> std::result::Result<(), String> {
    let field = |i: usize| {
        public
            .get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
    };
    let top = st.levels.first().copied();
    let matches = field(0) == u32::try_from(st.levels.len()).ok()
        && top.and_then(HssLevel::lms_type) == field(4)
        && top.and_then(HssLevel::lmots_type) == field(8);
    if matches {
        Ok(())
    } else {
        Err("the private key does not belong to the public key in the same file".into())
    }
}

/// The levels `keygen` makes from its options: `heights` and `winternitz` hold one value for
/// every level or one per level (top first).
pub fn levels_from_options(
    levels: usize,
    heights: &[u8],
    winternitz: &[u8],
) -> Result<Vec<HssLevel>> {
    let usage = |w: String| AuthorError::Usage(w);
    if !(1..=HSS_MAX_LEVELS).contains(&levels) {
        return Err(usage(format!(
            "--levels {levels}: HSS has 1 to {HSS_MAX_LEVELS} levels (RFC 8554 §6)"
        )));
    }
    let per_level = |what: &str, v: &[u8], default: u8| -> Result<Vec<u8>> {
        match v.len() {
            0 => Ok(vec![default; levels]),
            1 => Ok(v.repeat(levels)),
            n if n == levels => Ok(v.to_vec()),
            n => Err(usage(format!(
                "{what}: {n} values for {levels} levels (give one for every level, or one per level)"
            ))),
        }
    };
    let heights = per_level("--height", heights, DEFAULT_HEIGHT)?;
    let ws = per_level("--winternitz", winternitz, DEFAULT_WINTERNITZ)?;
    let mut out = Vec::new();
    for (height, winternitz) in heights.into_iter().zip(ws) {
        if matches!(height, 20 | 25) {
            return Err(usage(format!(
                "--height {height} is not offered: suit-author recomputes every tree for each \
                 signature (an H20 tree takes minutes, H25 about an hour); use more levels \
                 instead (e.g. --levels 3 --height 10: 2^30 signatures)"
            )));
        }
        if !HEIGHTS.contains(&height) {
            return Err(usage(format!(
                "--height {height}: LMS_SHA256_M32 trees have height 5, 10 or 15 here"
            )));
        }
        if !WINTERNITZ.contains(&winternitz) {
            return Err(usage(format!(
                "--winternitz {winternitz}: LMOTS_SHA256_N32 has W 1, 2, 4 or 8"
            )));
        }
        out.push(HssLevel { height, winternitz });
    }
    let total: u32 = out.iter().map(|l| u32::from(l.height)).sum();
    if total > HSS_MAX_TOTAL_HEIGHT {
        return Err(usage(format!(
            "the levels' heights add up to {total}; at most {HSS_MAX_TOTAL_HEIGHT} (2^{HSS_MAX_TOTAL_HEIGHT} signatures)"
        )));
    }
    Ok(out)
}

/// The files `keygen --type hss-lms` writes for `prefix`.
pub fn keygen_files(prefix: &Path) -> [PathBuf; 2] {
    let name = |suffix: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [name(".priv.pem"), name(".pub.cose")]
}

/// Generates an HSS-LMS key pair: `PREFIX.priv.pem` (the stateful private key file, 0600,
/// written durably) and `PREFIX.pub.cose` (COSE_Key kty 5 with `kid` if given). Without
/// `force`, refuses (usage error, nothing written) if either exists.
pub fn keygen(
    prefix: &Path,
    levels: &[HssLevel],
    kid: Option<&[u8]>,
    force: bool,
) -> Result<(GeneratedKey, HssKeyState)> {
    let [priv_path, pub_path] = keygen_files(prefix);
    super::keys::refuse_existing_keys(&[priv_path.clone(), pub_path.clone()], force)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    rand_core::Rng::fill_bytes(&mut super::os_rng(), seed.as_mut());
    let (private, public) = hss_lms_keygen(levels, &seed)
        .map_err(|e| AuthorError::Create(format!("HSS-LMS key generation failed: {e}")))?;
    let state = hss_lms_key_state(&private)
        .map_err(|e| AuthorError::Create(format!("HSS-LMS key generation: {e}")))?;
    let file = HssKeyFile {
        public,
        kid: kid.map(<[u8]>::to_vec).unwrap_or_default(),
        private: Some(private),
    };
    // Both written before either is renamed, the private key file renamed last (see
    // `keys::keygen`).
    let public = public_cose_key(&file.public_key(), kid)?;
    let private = file.encode();
    super::keys::write_key_files(
        &[
            super::output(&pub_path, &public),
            super::secret_output(&priv_path, private.as_bytes()),
        ],
        force,
    )?;
    Ok((
        GeneratedKey {
            files: vec![priv_path, pub_path],
        },
        state,
    ))
}

/// An open, locked HSS-LMS key file and what its last signature left.
pub struct HssSigner {
    /// The key file as given (for messages).
    shown: PathBuf,
    /// Its directory (the temporary file and the rename happen there).
    dir: OwnedFd,
    /// Its name in `dir`.
    name: std::ffi::OsString,
    /// The open file: holds the lock until dropped.
    _locked: File,
    /// The key as on disk.
    key: HssKeyFile,
    /// Why the last signature failed, for the command's error.
    failure: Option<AuthorError>,
    /// Signatures made in this run, and the leaf index of the last (state before it).
    signed: u64,
}

/// A signer's shared state (the [`SigningKey`] closure holds the other reference).
pub type HssHandle = Rc<RefCell<HssSigner>>;

/// A key file's (device, inode).
pub type FileId = (u64, u64);

/// What [`open_signer`] opened.
pub struct OpenedSigner {
    /// The engine's signing key (it signs through the handle).
    pub key: SigningKey,
    /// The key file's key id (empty if none).
    pub kid: Vec<u8>,
    /// The locked key file and its signing's outcome.
    pub handle: HssHandle,
    /// Which file it is (to refuse it a second time).
    pub file: FileId,
}

impl HssSigner {
    /// Why signing failed, if this key's signing did.
    pub fn take_failure(&mut self) -> Option<AuthorError> {
        self.failure.take()
    }

    /// Signatures made with the key in this run.
    pub fn signed(&self) -> u64 {
        self.signed
    }

    /// The key file as given.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// The key's state as on disk now (`None` once exhausted).
    pub fn state(&self) -> Option<HssKeyState> {
        self.key
            .private
            .as_deref()
            .and_then(|p| hss_lms_key_state(p).ok())
    }
}

/// Opens the HSS-LMS key file at `path` for signing: resolved (symbolic links followed),
/// opened for writing, locked exclusively and read, the lock held by the returned handle.
/// `held` are the (device, inode) of the key files this process holds already: the same file
/// twice is refused (its second lock would wait for the first for ever).
pub fn open_signer(path: &Path, held: &[FileId]) -> Result<OpenedSigner> {
    let state_err = |what: String| AuthorError::KeyState {
        path: path.to_path_buf(),
        what,
    };
    let real = std::fs::canonicalize(path).map_err(|e| AuthorError::io(path, e))?;
    let parent = real.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = real
        .file_name()
        .ok_or_else(|| AuthorError::key(path, "not a file"))?
        .to_os_string();
    let dir = crate::files::open_dir(CWD, &parent, true).map_err(|e| {
        state_err(format!(
            "its directory {} cannot be opened ({e})",
            parent.display()
        ))
    })?;
    // Open, lock, then check that the name still leads to the locked file: a run that waited
    // for the lock finds the file the previous one renamed into place, and opens that.
    let mut attempts = 0;
    let (file, id) = loop {
        attempts += 1;
        let fd = rustix::fs::openat(
            &dir,
            name.as_os_str(),
            OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(|e| {
            state_err(format!(
                "cannot be opened for writing ({e}): an HSS-LMS key file is rewritten with \
                 every signature, so a key whose state cannot be advanced signs nothing"
            ))
        })?;
        let st = rustix::fs::fstat(&fd).map_err(|e| AuthorError::io(path, e.into()))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(AuthorError::key(path, "not a regular file"));
        }
        let id = (st.st_dev, st.st_ino);
        if held.contains(&id) {
            return Err(AuthorError::Usage(format!(
                "{}: the same HSS-LMS key file is given twice; one key signs once per envelope",
                path.display()
            )));
        }
        if st.st_nlink != 1 {
            return Err(state_err(format!(
                "has {} hard links: the other names would keep the old state when this one \
                 is replaced; keep one",
                st.st_nlink
            )));
        }
        flock(&fd, FlockOperation::LockExclusive)
            .map_err(|e| state_err(format!("cannot be locked ({e})")))?;
        let now = rustix::fs::statat(
            &dir,
            name.as_os_str(),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .ok()
        .map(|s| (s.st_dev, s.st_ino));
        if now == Some(id) {
            break (File::from(fd), id);
        }
        if attempts >= 100 {
            return Err(state_err(
                "keeps being replaced while this run waits for its lock".into(),
            ));
        }
    };
    let st = rustix::fs::fstat(&file).map_err(|e| AuthorError::io(path, e.into()))?;
    if st.st_mode & 0o222 == 0 {
        return Err(state_err(
            "is read-only: an HSS-LMS key file is rewritten with every signature, so a key \
             whose state cannot be advanced signs nothing (make it writable by its owner)"
                .into(),
        ));
    }
    let mut text = Zeroizing::new(Vec::new());
    (&file)
        .take(MAX_KEY_FILE + 1)
        .read_to_end(&mut text)
        .map_err(|e| AuthorError::io(path, e))?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(AuthorError::key(path, "too large for an HSS-LMS key file"));
    }
    let text = std::str::from_utf8(&text)
        .map_err(|_| AuthorError::key(path, "HSS-LMS private key file: not text"))?;
    let key = HssKeyFile::decode(path, text)?;
    match key.private.as_deref().map(|p| hss_lms_key_state(p)) {
        None | Some(Err(HssSignError::Exhausted)) => {
            return Err(AuthorError::KeyExhausted {
                path: path.to_path_buf(),
            })
        }
        Some(Err(_)) => return Err(AuthorError::key(path, "malformed HSS-LMS private key")),
        Some(Ok(_)) => {}
    }
    let public = key.public.clone();
    let kid = key.kid.clone();
    let handle = Rc::new(RefCell::new(HssSigner {
        shown: path.to_path_buf(),
        dir,
        name,
        _locked: file,
        key,
        failure: None,
        signed: 0,
    }));
    let inner = Rc::clone(&handle);
    let signer = SigningKey::hss_lms(StatefulHssLms {
        public,
        sign: Box::new(move |message| sign_with(&inner, message)),
    });
    Ok(OpenedSigner {
        key: signer,
        kid,
        handle,
        file: id,
    })
}

/// One signature: the state advanced and stored (see the module documentation), then the
/// signature. Failures are kept in the handle for the command's error message.
fn sign_with(handle: &HssHandle, message: &[u8]) -> std::result::Result<Vec<u8>, CoseError> {
    let mut s = handle.borrow_mut();
    let path = s.shown.clone();
    let Some(private) = s.key.private.clone() else {
        s.failure = Some(AuthorError::KeyExhausted { path });
        return Err(CoseError::SigningFailed);
    };
    let before = match hss_lms_key_state(&private) {
        Ok(st) => st,
        Err(HssSignError::Exhausted) => {
            s.failure = Some(AuthorError::KeyExhausted { path });
            return Err(CoseError::SigningFailed);
        }
        Err(e) => {
            s.failure = Some(AuthorError::key(&path, e.to_string()));
            return Err(CoseError::SigningFailed);
        }
    };
    let mut stored: Option<HssKeyFile> = None;
    let mut failure: Option<AuthorError> = None;
    let result = {
        let signer = &*s;
        let mut persist = |new: &[u8]| -> std::result::Result<(), ()> {
            match persist_state(signer, &before, new) {
                Ok(next) => {
                    stored = Some(next);
                    Ok(())
                }
                Err(e) => {
                    failure = Some(e);
                    Err(())
                }
            }
        };
        hss_lms_sign(message, &private, &mut persist)
    };
    match result {
        Ok(sig) => {
            if let Some(next) = stored {
                s.key = next;
            }
            s.signed += 1;
            if hss_lms_verify(message, &sig, &s.key.public).is_err() {
                s.failure = Some(AuthorError::key(
                    &path,
                    "the HSS-LMS signature does not verify under the file's public key: its \
                     private and public halves do not belong together (the state was advanced; \
                     nothing was signed)",
                ));
                return Err(CoseError::SigningFailed);
            }
            Ok(sig)
        }
        Err(e) => {
            s.failure = Some(match (e, failure) {
                (_, Some(f)) => f,
                (HssSignError::Exhausted, None) => AuthorError::KeyExhausted { path },
                (e, None) => {
                    AuthorError::Create(format!("{}: HSS-LMS signing failed: {e}", path.display()))
                }
            });
            Err(CoseError::SigningFailed)
        }
    }
}

/// Writes the key file with the private key `new` (hbs-lms's, one signature after `before`;
/// wiped if that was the last) durably over the old one, and returns it as now on disk.
fn persist_state(
    s: &HssSigner,
    before: &HssKeyState,
    new: &[u8],
) -> std::result::Result<HssKeyFile, AuthorError> {
    let state_err = |what: String| AuthorError::KeyState {
        path: s.shown.clone(),
        what,
    };
    // hbs-lms hands over exactly one signature more, or a wiped key after the last.
    let private = match hss_lms_key_state(new) {
        Ok(after) if after.used == before.used + 1 && after.levels == before.levels => {
            Some(Zeroizing::new(new.to_vec()))
        }
        Err(HssSignError::Exhausted) if before.used + 1 == before.lifetime => None,
        _ => {
            return Err(state_err(
                "the signer did not advance the state by one signature".into(),
            ))
        }
    };
    if new.len() != HSS_PRIVATE_KEY_LEN {
        return Err(state_err("the advanced state has the wrong length".into()));
    }
    let next = HssKeyFile {
        public: s.key.public.clone(),
        kid: s.key.kid.clone(),
        private,
    };
    crate::files::replace_in_dir(&s.dir, &s.name, next.encode().as_bytes(), 0o600)
        .map_err(|e| state_err(format!("the advanced state could not be written ({e})")))?;
    Ok(next)
}
