//! [`NpyOptions`]: how a `.npy` / `.npz` source maps its files.

/// Options of [`TableSource::npy_with`](crate::table::TableSource::npy_with) and
/// [`TableSource::npz_with`](crate::table::TableSource::npz_with).
///
/// # Examples
///
/// ```
/// use batchline::table::NpyOptions;
///
/// // At most about 256 MiB of the files' pages mapped into the process at a time.
/// let options = NpyOptions::new().max_resident(256 << 20);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct NpyOptions {
    pub(super) max_resident: Option<usize>,
}

impl NpyOptions {
    /// No limit: the pages of the files stay mapped once read, as with `numpy.memmap`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps at most about `bytes` of the files' pages resident in the process (at least
    /// 4 MiB, counted in blocks of 1 MiB): once more is mapped, the pages of the least
    /// recently read blocks are unmapped. They stay in the operating system's page cache, so
    /// reading them again costs a minor page fault, not a disk read.
    ///
    /// Without a limit, the process's resident memory (`VmRSS`, `VmHWM`, a container's
    /// memory accounting) counts every page read so far: a shuffled epoch over a 4 GB file
    /// ends with 4 GB resident, memory the kernel can reclaim but that monitors report. With
    /// a limit it stays near `bytes` (plus the rows being copied at an eviction).
    ///
    /// The limit pays off when reads are local: in the block-shuffled order of
    /// [`TableSource::block_shuffled`](crate::table::TableSource::block_shuffled), whose
    /// window of blocks should fit in `bytes`. Under a full shuffle of a file much larger than
    /// the limit nearly every row is a page fault, several times slower than without a limit.
    /// On systems other than Unix the limit is not applied.
    pub fn max_resident(mut self, bytes: usize) -> Self {
        self.max_resident = Some(bytes);
        self
    }
}
