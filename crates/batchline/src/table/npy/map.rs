//! The `unsafe` calls of the library: mapping a file into memory, and unmapping the pages of
//! a range of it (which stay in the page cache).

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::super::TableError;

/// Maps `file` (at `path`, for errors) into memory, read-only, whole.
///
/// Reading the map reads the file through the page cache: pages are read from disk when
/// first touched and stay cached (and counted in the process's resident memory, as pages of a
/// file that the kernel may drop at any time) while memory allows.
///
/// # The caveat
///
/// The map is only as stable as the file. If another process truncates the file while it is
/// mapped, reading the missing pages raises `SIGBUS` and the process dies; if it rewrites the
/// file, rows read afterwards show the new bytes. This is the caveat of `numpy.memmap` and of
/// every memory map: do not modify `.npy` / `.npz` files while a
/// [`TableSource`](crate::table::TableSource) reads them.
///
/// # Errors
///
/// [`TableError::Io`] when the operating system refuses the map.
#[allow(unsafe_code)]
pub(super) fn map(file: &File, path: &Path) -> Result<Mmap, TableError> {
    // SAFETY: `Mmap::map` is unsafe because the mapped file may change under the map
    // (see "The caveat" above): the map is read-only, never handed out as `&'static`, and the
    // readers copy rows out of it, so the only effects of such a change are the documented
    // SIGBUS (a truncated file) or rows with the new bytes (a rewritten file); no reference
    // into the map outlives the `Arc<Mmap>` that owns it.
    unsafe { Mmap::map(file) }.map_err(TableError::io(path))
}

/// Unmaps the pages of `len` bytes at `from` in `map` (`MADV_DONTNEED`): the process's resident
/// memory no longer counts them, the page cache keeps them, and the next read of the range
/// faults them in again with the same bytes. A failure is only logged: the pages then stay
/// resident, which is what happens without a limit.
#[allow(unsafe_code)]
pub(super) fn drop_pages(map: &Mmap, from: usize, len: usize) {
    #[cfg(unix)]
    {
        // SAFETY: memmap2 marks `MADV_DONTNEED` unsafe because on a private or anonymous map
        // it discards the contents (the next read sees zeros), which would change memory that
        // a `&[u8]` borrows. This map is a read-only shared map of a file (`Mmap::map`): the
        // advice only drops the page table entries, and a later read (even one racing with
        // this call, from a slice borrowed before it) faults in the file's same bytes from
        // the page cache. The range is in bounds: the caller passes a block of the map.
        let result =
            unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, len) };
        if let Err(err) = result {
            tracing::debug!(error = %err, "madvise(MADV_DONTNEED) failed; the pages stay resident");
        }
    }
    #[cfg(not(unix))]
    let _ = (map, from, len);
}
