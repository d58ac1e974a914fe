//! A deterministic random generator for test material that must come out the same on every
//! run (the fuzz crate's generated seeds, fuzz/src/seeds.rs).

use sha2::{Digest as _, Sha256};

/// SHA-256(`label` || counter) blocks, a fresh block for every 32 bytes asked for: a fixed,
/// reproducible stream behind `rand_core`'s `CryptoRng`, for the author side's ephemeral keys,
/// CEKs and IVs. Anyone can predict it: test material only, never a device's or an author's
/// real key.
pub struct FixedRng {
    label: Vec<u8>,
    counter: u64,
}

impl FixedRng {
    /// The stream named `label` (different labels, unrelated streams).
    pub fn new(label: &[u8]) -> Self {
        FixedRng {
            label: label.to_vec(),
            counter: 0,
        }
    }
}

impl rand_core::TryRng for FixedRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(32) {
            self.counter += 1;
            let block = Sha256::new()
                .chain_update(&self.label)
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for FixedRng {}

#[cfg(test)]
mod tests {
    use super::FixedRng;
    use rand_core::Rng as _;

    #[test]
    fn a_label_gives_the_same_stream_and_another_label_another() {
        let draw = |label: &[u8]| {
            let mut r = FixedRng::new(label);
            let mut b = [0u8; 40];
            r.fill_bytes(&mut b);
            (b, r.next_u64())
        };
        assert_eq!(draw(b"a"), draw(b"a"));
        assert_ne!(draw(b"a"), draw(b"b"));
    }
}
