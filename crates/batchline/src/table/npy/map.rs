//! The one `unsafe` call of the library: mapping a file into memory.

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
