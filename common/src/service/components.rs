//! What a component identifier means on this device, and what installing it takes.
//!
//! | component identifier | kind | where it goes |
//! |---|---|---|
//! | `[h'<TA UUID>']` (one 16-byte segment) | trusted application | OP-TEE's secure-storage TA store, via the `secstor_ta_mgmt` PTA; the payload must be an OP-TEE-signed bootstrap TA for that UUID, newer than the installed one |
//! | `[h'<TA UUID>', 'perso']` | personalization data | this TA's secure storage, released only to that TA over a TA-to-TA session |
//! | `['ree', seg, ...]` | normal-world file | approved here, exported to the agent, written atomically at `seg/...` under the agent's root |
//! | anything else | secure component | this TA's secure storage |
//!
//! Putting the TA's UUID first lets one anchor scope (`[h'<UUID>']`) cover a TA and its data.

use alloc::string::String;

use crate::suit::ComponentId;

/// Largest TA image accepted (held in TA memory while OP-TEE checks and stores it).
pub const MAX_TA_IMAGE: u64 = 1024 * 1024;
/// Largest personalization blob (it is returned in one response).
pub const MAX_PERSONALIZATION: u64 = 60 * 1024;
/// Longest normal-world path an `['ree', ...]` component names: its segments' bytes are at
/// most [`MAX_ID_LEN`](crate::suit::component::MAX_ID_LEN), and a `/` joins each two of them
/// (fewer than [`MAX_SEGMENTS`](crate::suit::component::MAX_SEGMENTS)). A longer path names
/// no component.
pub const MAX_REE_PATH_LEN: usize =
    crate::suit::component::MAX_ID_LEN + crate::suit::component::MAX_SEGMENTS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    TrustedApp { uuid: [u8; 16] },
    Personalization { uuid: [u8; 16] },
    Ree { path: String },
    Secure,
}

/// Why a component identifier is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KindError {
    /// An `['ree', ...]` path segment is empty, `.`/`..`, contains `/` or NUL, or is not UTF-8.
    BadReePath,
}

pub fn classify(id: &ComponentId) -> Result<Kind, KindError> {
    let segs = id.segments();
    let uuid = |s: &[u8]| <[u8; 16]>::try_from(s).ok();
    match segs {
        [one] if one.len() == 16 => Ok(Kind::TrustedApp {
            uuid: uuid(one).unwrap_or_default(),
        }),
        [first, second] if first.len() == 16 && second.as_slice() == b"perso" => {
            Ok(Kind::Personalization {
                uuid: uuid(first).unwrap_or_default(),
            })
        }
        [first, rest @ ..] if first.as_slice() == b"ree" => {
            if rest.is_empty() {
                return Err(KindError::BadReePath);
            }
            let mut path = String::new();
            for seg in rest {
                let s = core::str::from_utf8(seg).map_err(|_| KindError::BadReePath)?;
                if s.is_empty() || s == "." || s == ".." || s.contains(['/', '\0', '\\']) {
                    return Err(KindError::BadReePath);
                }
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(s);
            }
            Ok(Kind::Ree { path })
        }
        _ => Ok(Kind::Secure),
    }
}

#[cfg(feature = "explain")]
impl core::fmt::Display for KindError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KindError::BadReePath => f.write_str(
                "a normal-world path segment is empty, '.' or '..', contains '/', '\\' or NUL, \
                 or is not UTF-8",
            ),
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for KindError {}

/// What an OP-TEE signed TA header says (`shdr` + `shdr_bootstrap_ta`). OP-TEE checks the
/// signature itself when installing; the TA reads the header to bind the image to the
/// manifest's component (UUID) and to refuse downgrades before handing it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaHeader {
    pub uuid: [u8; 16],
    pub ta_version: u32,
}

/// Why a payload is not an acceptable TA image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaImageError {
    Truncated,
    BadMagic,
    /// Not a bootstrap (1) or encrypted (2) TA image.
    ImageType(u32),
    /// The header's sizes do not add up to the payload length.
    Length,
}

#[cfg(feature = "explain")]
impl core::fmt::Display for TaImageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TaImageError::Truncated => f.write_str("its header is truncated"),
            TaImageError::BadMagic => {
                f.write_str("it does not start with OP-TEE's signed header (magic \"HSTO\")")
            }
            TaImageError::ImageType(t) => {
                write!(
                    f,
                    "image type {t} is neither bootstrap (1) nor encrypted (2)"
                )
            }
            TaImageError::Length => f.write_str("the header's sizes do not match its length"),
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for TaImageError {}

const SHDR_MAGIC: u32 = 0x4f54_5348;
const SHDR_SIZE: usize = 20;

fn u32_le(b: &[u8], at: usize) -> Result<u32, TaImageError> {
    let s = b
        .get(at..at.saturating_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .ok_or(TaImageError::Truncated)?;
    Ok(u32::from_le_bytes(s))
}

fn u16_le(b: &[u8], at: usize) -> Result<u16, TaImageError> {
    let s = b
        .get(at..at.saturating_add(2))
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .ok_or(TaImageError::Truncated)?;
    Ok(u16::from_le_bytes(s))
}

/// Parses the header of a signed TA image (as `sign_encrypt.py sign-enc` writes it).
pub fn parse_ta_header(image: &[u8]) -> Result<TaHeader, TaImageError> {
    if u32_le(image, 0)? != SHDR_MAGIC {
        return Err(TaImageError::BadMagic);
    }
    let img_type = u32_le(image, 4)?;
    if img_type != 1 && img_type != 2 {
        return Err(TaImageError::ImageType(img_type));
    }
    let img_size = u32_le(image, 8)? as usize;
    let hash = u16_le(image, 16)? as usize;
    let sig = u16_le(image, 18)? as usize;
    let at = SHDR_SIZE + hash + sig;
    let uuid: [u8; 16] = image
        .get(at..at + 16)
        .and_then(|s| s.try_into().ok())
        .ok_or(TaImageError::Truncated)?;
    let ta_version = u32_le(image, at + 16)?;
    // Bootstrap images end with the ELF; encrypted ones carry an extra header we don't parse,
    // so only bootstrap images get the exact length check.
    if img_type == 1 && at + 20 + img_size != image.len() {
        return Err(TaImageError::Length);
    }
    Ok(TaHeader { uuid, ta_version })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn identifiers_map_to_kinds() {
        let u = [7u8; 16];
        assert_eq!(
            classify(&ComponentId::new(&[&u[..]])),
            Ok(Kind::TrustedApp { uuid: u })
        );
        assert_eq!(
            classify(&ComponentId::new(&[&u[..], b"perso"])),
            Ok(Kind::Personalization { uuid: u })
        );
        assert_eq!(
            classify(&ComponentId::new(&[&b"ree"[..], b"etc", b"app.conf"])),
            Ok(Kind::Ree {
                path: "etc/app.conf".into()
            })
        );
        assert_eq!(
            classify(&ComponentId::new(&[&b"app"[..]])),
            Ok(Kind::Secure)
        );
        for bad in [
            &[&b"ree"[..]][..],
            &[b"ree", b".."],
            &[b"ree", b"a/b"],
            &[b"ree", b""],
            &[b"ree", b"\xff"],
        ] {
            assert_eq!(
                classify(&ComponentId::new(bad)),
                Err(KindError::BadReePath),
                "{bad:?}"
            );
        }
    }

    fn image(img_type: u32, uuid: [u8; 16], version: u32, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&SHDR_MAGIC.to_le_bytes());
        v.extend_from_slice(&img_type.to_le_bytes());
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(&0x7041_4930u32.to_le_bytes());
        v.extend_from_slice(&32u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0xaa; 36]);
        v.extend_from_slice(&uuid);
        v.extend_from_slice(&version.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn ta_headers_parse_and_bad_ones_are_typed_errors() {
        let u = [3u8; 16];
        let good = image(1, u, 5, b"ELF...");
        assert_eq!(
            parse_ta_header(&good),
            Ok(TaHeader {
                uuid: u,
                ta_version: 5
            })
        );
        assert_eq!(
            parse_ta_header(&good[..good.len() - 1]),
            Err(TaImageError::Length)
        );
        assert_eq!(parse_ta_header(&good[..30]), Err(TaImageError::Truncated));
        assert_eq!(
            parse_ta_header(&image(3, u, 5, b"x")),
            Err(TaImageError::ImageType(3))
        );
        let mut bad = good.clone();
        bad[0] ^= 1;
        assert_eq!(parse_ta_header(&bad), Err(TaImageError::BadMagic));
        assert_eq!(parse_ta_header(&[]), Err(TaImageError::Truncated));
    }
}
