//! `suit-author verify-receipt`: checks a device's provisioning receipt (returned by
//! `suit-agent provision --receipt-out`) with the device's enrolled identity public key, and
//! optionally against the message sent and the TPA's model of the device.
//!
//! Exit status: 0 if the receipt verifies and matches everything asked; 1 if not; 2 for
//! unusable files.

use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};
use suit_common::service::provision::{verify_receipt, Receipt};

use super::keys::{load_identity, PublicKey};
use super::provision::DeviceModel;
use super::{hex_str, AuthorError, Result};

/// What `verify-receipt` was asked to check.
#[derive(Debug, Clone)]
pub struct VerifyReceiptOptions {
    pub receipt: PathBuf,
    /// The device identity public key, as enrolled.
    pub identity_key: PathBuf,
    /// The provisioning message the receipt must be for.
    pub message: Option<PathBuf>,
    /// The TPA's model of the device (`provision --state`): counter and state digest.
    pub expect_state: Option<PathBuf>,
    pub json: bool,
}

/// Verifies and prints the receipt; `Err(Refused)` if anything does not match.
pub fn verify_receipt_file(opts: &VerifyReceiptOptions, out: &mut dyn Write) -> Result<Receipt> {
    let key = PublicKey::P256(load_identity(&opts.identity_key)?);
    let bytes = super::read_cbor_as(&opts.receipt, crate::detect::Format::ProvisioningReceipt)?;
    let receipt = verify_receipt(&bytes, &key.to_bytes())
        .map_err(|e| AuthorError::Refused(format!("{}: {e}", opts.receipt.display())))?;
    let refuse = |what: String| AuthorError::Refused(format!("{}: {what}", opts.receipt.display()));
    if let Some(m) = &opts.message {
        // Read as the agent's `provision` reads it, so the digest is over the same bytes, and
        // another of the tools' files is named as such rather than as "another message" (and
        // this option's file named, not the command that takes the one given).
        use crate::detect::Format;
        let bytes = super::read_cbor_of(m, Format::ProvisioningMessage)?;
        if let Some(what) =
            crate::detect::other_format_advising(&bytes, Format::ProvisioningMessage, |_| {
                "--message needs the file `suit-author provision -o` wrote".into()
            })
        {
            return Err(AuthorError::input(m, what));
        }
        let digest = Sha256::digest(&bytes);
        if receipt.message_digest.as_slice() != digest.as_slice() {
            return Err(refuse(format!(
                "the device applied another message than {}",
                m.display()
            )));
        }
    }
    if let Some(path) = &opts.expect_state {
        let model = DeviceModel::load(path)?;
        if model.device != receipt.device {
            return Err(refuse(format!("{} models another device", path.display())));
        }
        // The receipt's counter is its signer's: the root's or the delegates'.
        let kind = suit_common::service::provision::CounterKind::of(receipt.signer);
        let modelled = kind.stored(&model.state);
        if modelled != receipt.counter {
            return Err(refuse(format!(
                "the device is at counter {}, the model at {modelled} ({kind} counter)",
                receipt.counter
            )));
        }
        if model.digest()?.as_slice() != receipt.state_digest.as_slice() {
            return Err(refuse(
                "the device's anchors, rules, identity or KEKs differ from the model".into(),
            ));
        }
    }
    let text = if opts.json {
        serde_json::json!({
            "verified": true,
            "counter": receipt.counter,
            "signer": receipt.signer,
            "device": hex_str(&receipt.device),
            "state-digest": hex_str(&receipt.state_digest),
            "message-digest": hex_str(&receipt.message_digest),
        })
        .to_string()
    } else {
        let signer = if receipt.signer == 0 {
            "the TPA root".to_string()
        } else {
            format!("TPA anchor {}", receipt.signer)
        };
        format!(
            "receipt verified: device {} applied provisioning message {} signed by {signer} (sha-256 {})\n  state digest: {}",
            hex_str(&receipt.device),
            receipt.counter,
            hex_str(&receipt.message_digest),
            hex_str(&receipt.state_digest)
        )
    };
    let _ = writeln!(out, "{text}");
    Ok(receipt)
}
