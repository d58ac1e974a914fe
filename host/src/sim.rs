//! The simulator: the TA's own [`Service`] running in this process, with secure storage
//! replaced by files in a directory. It exists for development and tests and protects
//! nothing: keys and state sit in ordinary files readable by anyone with access to it. It
//! still creates them owner-only (the directory 0700, files 0600, whatever the umask) and
//! never writes through a symbolic link.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use suit_common::protocol::{Command, PlatformInfo};
use suit_common::service::keys::Rng;
use suit_common::service::store::{check_name, SecureStore, StoreError};
use suit_common::service::{Backend, Client, Config, Service, TaStore};
use zeroize::Zeroizing;

use crate::files::replace_file;
use crate::ta_features::TaFeature;
use crate::tee::{AgentError, Handed, RawReply, Transport};

/// Printed whenever the simulator is used, so nobody mistakes it for a TEE.
pub const WARNING: &str = suit_common::protocol::SIMULATOR_WARNING;

/// The repository's public test TPA root, the simulator's default (as the TA's).
pub const TEST_TPA_ROOT_PEM: &str = include_str!("../../tests/keys/tpa-test.pub.pem");

/// File-backed stand-in for the TEE: one file per object, replaced by write-fsync-rename.
pub struct SimBackend {
    dir: PathBuf,
}

trait Code {
    fn code(self) -> u32;
}

impl Code for StoreError {
    fn code(self) -> u32 {
        match self {
            StoreError::Io(c) => c,
            _ => 0xffff_0000,
        }
    }
}

fn io(e: std::io::Error) -> StoreError {
    match e.raw_os_error() {
        Some(28) => StoreError::NoSpace,
        Some(code) => StoreError::Io(code as u32),
        None => StoreError::Io(0),
    }
}

impl SimBackend {
    fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        check_name(name)?;
        Ok(self.dir.join(hex::encode(name.as_bytes())))
    }
}

/// Options for a state file: 0600 (before the umask, which can only narrow it), never
/// opened through a final symbolic link.
fn state_file() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    o
}

impl SecureStore for SimBackend {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        match fs::read(self.path(name)?) {
            Ok(d) => Ok(Some(Zeroizing::new(d))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        let path = self.path(name)?;
        replace_file(&path, data, 0o600).map_err(io)
    }

    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        match fs::remove_file(self.path(name)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        let mut f = state_file()
            .create(true)
            .append(true)
            .open(self.path(name)?)
            .map_err(io)?;
        f.write_all(data).map_err(io)?;
        f.sync_data().map_err(io)?;
        Ok(f.metadata().map_err(io)?.len())
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        let mut f = File::open(self.path(name)?).map_err(io)?;
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut n = 0;
        while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
            match f.read(rest).map_err(io)? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }

    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        match fs::metadata(self.path(name)?) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }
}

impl Rng for SimBackend {
    fn fill(&mut self, out: &mut [u8]) {
        // The OS RNG failing is unrecoverable for key generation (`Rng::fill` has no error to
        // return, and filling with anything else would make predictable keys); the simulator
        // is a dev tool.
        #[allow(clippy::expect_used)]
        getrandom::fill(out).expect("the operating system's random number generator failed");
    }
}

/// The simulated TA store: signed TA images land in `<state>/ta-store/<uuid>.ta`, after the
/// same header checks the TA makes. Nothing verifies OP-TEE's signature here.
impl TaStore for SimBackend {
    fn install_ta(&mut self, image: &[u8]) -> Result<(), u32> {
        const TEE_ERROR_BAD_FORMAT: u32 = 0xffff_0005;
        let header = suit_common::service::components::parse_ta_header(image)
            .map_err(|_| TEE_ERROR_BAD_FORMAT)?;
        let dir = self.dir.join("ta-store");
        let name = format!("{}.ta", suit_common::text::uuid(&header.uuid));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .and_then(|()| replace_file(&dir.join(name), image, 0o600))
            .map_err(|e| io(e).code())
    }

    /// The host's clock, marked not trusted like the TA's REE time it stands in for.
    fn wall_clock(&self) -> Option<suit_common::suit::update_management::WallClock> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(suit_common::suit::update_management::WallClock {
            seconds: now.as_secs(),
            trusted: false,
        })
    }
}

impl Backend for SimBackend {
    fn client(&self) -> Client {
        Client::Ree
    }

    fn name(&self) -> &'static str {
        "simulator"
    }

    /// Facts only, as the TA's: `StatusResponse::assess` judges them by the backend's name.
    fn platform_info(&self) -> PlatformInfo {
        PlatformInfo {
            // Files in a directory: no protection against rollback at all.
            anti_rollback_level: Some(0),
            rollback_detection_level: Some(0),
            ..PlatformInfo::default()
        }
    }
}

/// Decodes a P-256 SubjectPublicKeyInfo PEM to its uncompressed point.
pub fn p256_point_from_pem(pem: &str) -> Result<Vec<u8>, String> {
    use p256::pkcs8::DecodePublicKey as _;
    let key = p256::PublicKey::from_public_key_pem(pem)
        .map_err(|e| format!("not a P-256 public key PEM: {e}"))?;
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    Ok(key.to_sec1_point(false).as_bytes().to_vec())
}

/// Refuses a `--state` that cannot be the simulator's state directory: a file there (or
/// where one of its parents should be) is the arguments' fault, named as what it is (exit 2,
/// [`AgentError::File`]), before anything is created or locked. A missing directory is
/// fine (made on first use).
pub fn check_state_dir(state: &Path) -> Result<(), AgentError> {
    let not_dir = |what: &str| {
        Err(AgentError::File(format!(
            "--state {}: {what}; the simulator keeps its state in a directory (give the path of \
             a directory, made if missing)",
            state.display()
        )))
    };
    match fs::metadata(state) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => not_dir("not a directory"),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
            not_dir("a component of the path is not a directory")
        }
        // Missing (made on first use), or not looked at (the creation names why).
        Err(_) => Ok(()),
    }
}

/// Creates the simulator's state directory (0700) if it is missing.
fn create_state_dir(state: &Path) -> Result<(), AgentError> {
    check_state_dir(state)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state)
        .map_err(|e| AgentError::SimState(format!("{}: {e}", state.display())))
}

/// The agent's lock in the state directory ([`state_lock_path`]).
const LOCK_FILE: &str = ".agent.lock";

/// The agent's lock for the state directory `state` (created if missing): `.agent.lock`
/// inside it, so every spelling of the directory (`st`, `st/`, `.`, a link) reaches one lock,
/// and the lock needs no write access beside the directory. The name is no component's
/// (those are hex).
pub fn state_lock_path(state: &Path) -> Result<std::path::PathBuf, AgentError> {
    create_state_dir(state)?;
    Ok(state.join(LOCK_FILE))
}

pub struct Simulator {
    service: Service<SimBackend>,
    /// What the simulated TA has beyond the default build (`--sim-ta-features`).
    ta_features: Vec<TaFeature>,
    /// Its directory held no device yet ([`Simulator::is_new_device`]).
    new_device: bool,
}

impl Simulator {
    /// Opens (creating) the state directory. `tpa_root_pem`: the TPA root this simulated TA
    /// was "built" with; `None` means the repository's public test key. `ta_features`: the
    /// algorithm features it has beyond the default TA build (the service has all of them;
    /// [`Transport::screen`] refuses what needs one not listed).
    pub fn open(
        state: &Path,
        tpa_root_pem: Option<&str>,
        ta_features: &[TaFeature],
    ) -> Result<Self, AgentError> {
        create_state_dir(state)?;
        let (pem, new_device) = remembered_tpa_root(state, tpa_root_pem)?;
        let pem = pem.as_str();
        let point = p256_point_from_pem(pem).map_err(AgentError::SimState)?;
        let test_point = p256_point_from_pem(TEST_TPA_ROOT_PEM).map_err(AgentError::SimState)?;
        let config = Config::new(&point, point == test_point)
            .map_err(|e| AgentError::SimState(format!("TPA root: {e}")))?;
        Ok(Simulator {
            service: Service::new(
                SimBackend {
                    dir: state.to_path_buf(),
                },
                config,
            ),
            ta_features: ta_features.to_vec(),
            new_device,
        })
    }

    /// Whether [`Simulator::open`] found no simulated device in its directory and began a
    /// new one (no keys, no anchors, nothing installed): the agent says so, as a mistyped
    /// `--state` otherwise looks like a device that lost everything.
    pub fn is_new_device(&self) -> bool {
        self.new_device
    }
}

impl Transport for Simulator {
    fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
        Ok(crate::tee::invoke_in_process(
            &mut self.service,
            command,
            request,
        ))
    }

    #[cfg(feature = "test-paths")]
    fn invoke_with_slot(
        &mut self,
        command: Command,
        request: &[u8],
        slot: usize,
    ) -> Result<RawReply, AgentError> {
        Ok(crate::tee::invoke_in_process_with_slot(
            &mut self.service,
            command,
            request,
            slot,
        ))
    }

    fn screen(&self, handed: Handed<'_>) -> Result<(), AgentError> {
        let needed = match handed {
            Handed::Envelope(b) => {
                // An unreadable state is the service's to report.
                let mut needed =
                    match suit_common::service::state::State::load(self.service.backend()) {
                        Ok(state) => crate::ta_features::anchors_need(
                            state.anchors.iter().map(|a| a.cose_key.as_slice()),
                        ),
                        Err(_) => Vec::new(),
                    };
                needed.extend(crate::ta_features::envelope_needs(b));
                needed
            }
            Handed::ProvisioningMessage(b) => crate::ta_features::message_needs(b),
        };
        let missing: Vec<TaFeature> = needed
            .into_iter()
            .filter(|f| !self.ta_features.contains(f))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(AgentError::NotOnDefaultTa {
            features: missing.iter().map(|f| f.name()).collect(),
            algorithms: missing.iter().map(|f| f.algorithm()).collect(),
        })
    }
}

/// File in the state directory holding the TPA root the simulated TA was first "built" with.
pub const TPA_ROOT_FILE: &str = "tpa-root.pub.pem";

/// The state's TPA root: the one recorded at creation (a TA's root is fixed at build time, so
/// the state remembers it); `given` must match it. A new state records `given` or the test key.
/// A `given` root that is no key, or another than the state's, is the arguments' fault (exit
/// 2, [`AgentError::File`]): no retry with them succeeds.
fn remembered_tpa_root(state: &Path, given: Option<&str>) -> Result<(String, bool), AgentError> {
    let file = state.join(TPA_ROOT_FILE);
    let point = |pem: &str| p256_point_from_pem(pem).map_err(AgentError::SimState);
    let given_point = given
        .map(|g| {
            p256_point_from_pem(g).map_err(|e| AgentError::File(format!("--sim-tpa-root: {e}")))
        })
        .transpose()?;
    match crate::files::read_text_file(&file) {
        Ok(stored) => {
            if let Some(g) = given_point {
                if g != point(&stored)? {
                    return Err(AgentError::File(format!(
                        "{} was created with another TPA root ({}); a TA's root cannot change: \
                         use a new --state directory, or leave out --sim-tpa-root",
                        state.display(),
                        file.display()
                    )));
                }
            }
            Ok((stored, false))
        }
        Err(crate::files::FileError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            let pem = given.unwrap_or(TEST_TPA_ROOT_PEM).to_string();
            point(&pem)?;
            // A new device: nothing there but the agent's lock (a state from before the
            // root was remembered is not new).
            let new = fs::read_dir(state).is_ok_and(|mut d| {
                d.all(|e| e.is_ok_and(|e| e.file_name() == std::ffi::OsStr::new(LOCK_FILE)))
            });
            replace_file(&file, pem.as_bytes(), 0o600)
                .map_err(|e| AgentError::SimState(format!("{}: {e}", file.display())))?;
            Ok((pem, new))
        }
        Err(e) => Err(AgentError::SimState(e.to_string())),
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn state_is_owner_only_and_never_written_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        Simulator::open(&state, None, &[]).unwrap();
        assert_eq!(mode(&state) & 0o077, 0, "{:o}", mode(&state));
        let mut b = SimBackend { dir: state.clone() };
        let victim = tmp.path().join("victim");
        fs::write(&victim, "untouched").unwrap();
        let path = b.path("suit/x").unwrap();
        let tmp = state.join(crate::files::temporary_prefix(path.file_name().unwrap()));
        std::os::unix::fs::symlink(&victim, tmp).unwrap();
        b.put("suit/x", b"secret").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(mode(&path) & 0o077, 0, "{:o}", mode(&path));
        std::os::unix::fs::symlink(&victim, b.path("suit/y").unwrap()).unwrap();
        assert!(
            b.append("suit/y", b"more").is_err(),
            "append through a link"
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        b.append("suit/z", b"new").unwrap();
        assert_eq!(mode(&b.path("suit/z").unwrap()) & 0o077, 0);
    }
}
