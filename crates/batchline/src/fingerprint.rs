//! Fingerprints: stable hashes of ids and step names, stored in checkpoints and compared
//! when a run resumes.

use std::hash::{Hash, Hasher};

/// FNV-1a: a small hash with fixed constants (unlike std's `DefaultHasher`), for fingerprints
/// that are stored and compared later. Ids are fed through their `Hash` implementations, so a
/// fingerprint is the same on machines of the same word size and byte order with the same
/// toolchain family; std does not promise that `Hash` for strings never changes.
#[derive(Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The fingerprint of a sequence of hashable values.
pub(crate) fn fingerprint<T: Hash>(items: impl IntoIterator<Item = T>) -> u64 {
    let mut h = Fnv::default();
    for item in items {
        item.hash(&mut h);
    }
    h.finish()
}
