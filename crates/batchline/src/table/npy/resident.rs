//! A bound on the resident pages of the maps of one `.npy` source.
//!
//! Rows copied out of a memory map leave the file's pages mapped into the process, and the
//! process's resident memory counts them until the map is dropped: a shuffled epoch over a
//! 4 GB file ends with 4 GB resident, page cache that the kernel may reclaim but that a
//! container's memory limit or a `VmHWM` reading counts. [`Resident`] divides the maps into
//! blocks of [`BLOCK`] bytes, remembers when each was last read, and once more than the limit
//! is resident, unmaps the pages of the least recently read blocks (`MADV_DONTNEED`, which
//! keeps them in the page cache: reading them again costs a minor fault, not a disk read).
//!
//! The bound holds up to the blocks being read at the moment of an eviction (at most the rows
//! of one batch per worker): a block evicted while another thread copies from it is faulted
//! in again and counted at its next read.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use memmap2::Mmap;
use parking_lot::Mutex;

use super::map::drop_pages;

/// The unit of residency: 1 MiB, 256 pages (a multiple of the kernel's fault-around window,
/// so that the pages one fault maps belong to one block).
pub(super) const BLOCK: usize = 1 << 20;

/// The fewest blocks a limit allows.
const MIN_BLOCKS: usize = 4;

/// The resident blocks of a set of maps, and the limit on them.
#[derive(Debug)]
pub(super) struct Resident {
    maps: Vec<Arc<Mmap>>,
    /// The first block of each map.
    bases: Vec<usize>,
    /// For each block: the tick of its last read, 0 while it is not resident.
    ticks: Vec<AtomicU64>,
    clock: AtomicU64,
    resident: AtomicUsize,
    limit: usize,
    evicting: Mutex<()>,
}

impl Resident {
    /// A tracker of `maps` that keeps about `limit` bytes of them resident (at least
    /// [`MIN_BLOCKS`] blocks).
    pub(super) fn new(maps: Vec<Arc<Mmap>>, limit: usize) -> Self {
        let mut bases = Vec::with_capacity(maps.len());
        let mut blocks = 0;
        for map in &maps {
            bases.push(blocks);
            blocks += map.len().div_ceil(BLOCK);
        }
        Self {
            maps,
            bases,
            ticks: (0..blocks).map(|_| AtomicU64::new(0)).collect(),
            clock: AtomicU64::new(0),
            resident: AtomicUsize::new(0),
            limit: (limit / BLOCK).max(MIN_BLOCKS),
            evicting: Mutex::new(()),
        }
    }

    /// A new tick: the reads of one `take` share one.
    pub(super) fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records a read of `len > 0` bytes at `from` in map `map` at `tick`, and evicts the
    /// least recently read blocks if the limit is passed.
    pub(super) fn touch(&self, map: usize, from: usize, len: usize, tick: u64) {
        let base = self.bases[map];
        let mut added = false;
        for block in base + from / BLOCK..=base + (from + len - 1) / BLOCK {
            let slot = &self.ticks[block];
            let mut seen = slot.load(Ordering::Relaxed);
            while seen < tick {
                match slot.compare_exchange_weak(seen, tick, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        if seen == 0 {
                            self.resident.fetch_add(1, Ordering::Relaxed);
                            added = true;
                        }
                        break;
                    }
                    Err(now) => seen = now,
                }
            }
        }
        if added && self.resident.load(Ordering::Relaxed) > self.limit {
            self.evict();
        }
    }

    /// Unmaps the least recently read blocks down to three quarters of the limit (so that
    /// evictions, each a scan of every block, are rare). One thread evicts at a time; a thread
    /// that passes the limit meanwhile waits for it, so the count never runs ahead of the
    /// limit by more than the blocks of one read per thread.
    fn evict(&self) {
        let _one = self.evicting.lock();
        if self.resident.load(Ordering::Relaxed) <= self.limit {
            return;
        }
        let target = self.limit - self.limit / 4;
        let mut live: Vec<(u64, usize)> = self
            .ticks
            .iter()
            .enumerate()
            .filter_map(|(b, t)| Some((t.load(Ordering::Relaxed), b)).filter(|(t, _)| *t != 0))
            .collect();
        let n = live.len().saturating_sub(target);
        if n == 0 {
            return;
        }
        live.select_nth_unstable(n - 1);
        for &(tick, block) in &live[..n] {
            // Not evicted if it was read again since the scan.
            if self.ticks[block]
                .compare_exchange(tick, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                self.resident.fetch_sub(1, Ordering::Relaxed);
                let map = self.bases.partition_point(|&b| b <= block) - 1;
                let from = (block - self.bases[map]) * BLOCK;
                let len = BLOCK.min(self.maps[map].len() - from);
                drop_pages(&self.maps[map], from, len);
            }
        }
    }

    /// The number of blocks resident now, as counted.
    #[cfg(test)]
    pub(super) fn resident_blocks(&self) -> usize {
        self.resident.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Threads reading random blocks at once never let the count drift from the blocks
    /// marked resident, and the count stays within the limit plus one block per thread.
    #[test]
    fn the_count_matches_the_marks_under_concurrent_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 64 * BLOCK + 100]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let map = Arc::new(super::super::map::map(&file, &path).unwrap());
        let other = Arc::new(super::super::map::map(&file, &path).unwrap());
        let resident = Resident::new(vec![map, other], 8 * BLOCK);
        let threads = 4;
        let over = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (resident, over) = (&resident, &over);
                s.spawn(move || {
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(t as u64);
                    for _ in 0..20_000 {
                        let map = rng.random_range(0..2);
                        let from = rng.random_range(0..64 * BLOCK);
                        let len = rng.random_range(1..=2 * BLOCK).min(64 * BLOCK + 100 - from);
                        resident.touch(map, from, len, resident.tick());
                        over.fetch_max(resident.resident_blocks(), Ordering::Relaxed);
                    }
                });
            }
        });
        let marked = resident
            .ticks
            .iter()
            .filter(|t| t.load(Ordering::Relaxed) != 0)
            .count();
        assert_eq!(resident.resident_blocks(), marked);
        // Each thread may add up to 3 blocks (a read spans at most 3) before one evicts.
        let bound = resident.limit + 3 * threads;
        assert!(
            over.into_inner() <= bound,
            "more than {bound} blocks counted"
        );
        assert!(marked <= resident.limit);
    }
}
