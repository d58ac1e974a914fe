//! Whether OP-TEE on this device trusts its public development TA signing key.
//!
//! A TA cannot see which key OP-TEE verifies TAs with, but the agent can: if the update TA's
//! own file carries a valid signature by OP-TEE's development key (whose private half ships with
//! OP-TEE), then OP-TEE accepted a development-signed TA, and anybody can make TAs it runs.

use rsa::pkcs8::DecodePublicKey as _;
use rsa::{Pkcs1v15Sign, Pss, PublicKey};
use sha2_0_11::Sha256;

/// OP-TEE's development TA signing key (host/keys/README.md says where it comes from).
const DEV_KEY_PEM: &str = include_str!("../keys/optee-dev-ta.pub.pem");

const SHDR_MAGIC: u32 = 0x4f54_5348;
const SHDR_SIZE: usize = 20;
/// `TEE_ALG_RSASSA_PKCS1_V1_5_SHA256` and `TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256`.
const ALG_PKCS1_V15_SHA256: u32 = 0x7000_4830;
const ALG_PSS_SHA256: u32 = 0x7041_4930;

/// What the check of a TA file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevKeyCheck {
    /// The file's signature verifies with the development key.
    SignedWithDevKey,
    /// It does not (signed with another key, as a production device should be).
    OtherKey,
    /// The file is not a signed TA image this check understands.
    Unreadable(String),
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

/// Checks a signed TA image (`<uuid>.ta`, OP-TEE's `shdr` format) against the dev key.
pub fn check(image: &[u8]) -> DevKeyCheck {
    let unreadable = |what: &str| DevKeyCheck::Unreadable(what.to_string());
    if u32_at(image, 0) != Some(SHDR_MAGIC) {
        return unreadable("not a signed TA image (bad magic)");
    }
    let (Some(algo), Some(hash_len), Some(sig_len)) =
        (u32_at(image, 12), u16_at(image, 16), u16_at(image, 18))
    else {
        return unreadable("truncated TA header");
    };
    let Some(hash) = image.get(SHDR_SIZE..SHDR_SIZE + hash_len) else {
        return unreadable("truncated TA header");
    };
    let Some(sig) = image.get(SHDR_SIZE + hash_len..SHDR_SIZE + hash_len + sig_len) else {
        return unreadable("truncated TA signature");
    };
    let Ok(key) = PublicKey::from_public_key_pem(DEV_KEY_PEM) else {
        return unreadable("the compiled-in development key does not parse");
    };
    let verified = match algo {
        ALG_PKCS1_V15_SHA256 => key.verify(Pkcs1v15Sign::new::<Sha256>(), hash, sig),
        ALG_PSS_SHA256 => key.verify(Pss::<Sha256>::new(), hash, sig),
        other => return DevKeyCheck::Unreadable(format!("unknown signature algorithm {other:#x}")),
    };
    if verified.is_ok() {
        DevKeyCheck::SignedWithDevKey
    } else {
        DevKeyCheck::OtherKey
    }
}

#[cfg(test)]
// Test headers: lengths of the test's own small hashes and signatures.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn header(algo: u32, hash: &[u8], sig: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&SHDR_MAGIC.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&algo.to_le_bytes());
        v.extend_from_slice(&(hash.len() as u16).to_le_bytes());
        v.extend_from_slice(&(sig.len() as u16).to_le_bytes());
        v.extend_from_slice(hash);
        v.extend_from_slice(sig);
        v
    }

    #[test]
    fn a_signature_by_another_key_is_not_the_dev_key() {
        let image = header(ALG_PKCS1_V15_SHA256, &[7; 32], &[1; 512]);
        assert_eq!(check(&image), DevKeyCheck::OtherKey);
    }

    #[test]
    fn junk_and_truncation_are_unreadable_not_a_verdict() {
        assert!(matches!(check(b"junk"), DevKeyCheck::Unreadable(_)));
        let image = header(ALG_PKCS1_V15_SHA256, &[7; 32], &[1; 512]);
        assert!(matches!(check(&image[..100]), DevKeyCheck::Unreadable(_)));
        let odd = header(0x1234, &[7; 32], &[1; 512]);
        assert!(matches!(check(&odd), DevKeyCheck::Unreadable(_)));
    }

    #[test]
    fn the_compiled_in_key_is_optee_s_4096_bit_dev_key() {
        use rsa::traits::PublicKeyParts as _;
        let key = PublicKey::from_public_key_pem(DEV_KEY_PEM).unwrap();
        assert_eq!(key.size(), 512);
    }
}
