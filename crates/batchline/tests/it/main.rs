//! The integration tests, in one binary: one link, and one copy of the library's generic code
//! for all of them (separate binaries made the test build twice as long).

// Test modules declare `pub` items for the code `#[batchline::actions]` generates.
#![allow(unreachable_pub)]

mod common;

mod auto;
mod cancel;
mod compose;
mod defects;
mod edges;
mod epochs;
mod errors;
mod failures;
mod images;
mod images_folder;
mod images_fused;
mod images_load;
mod images_transforms;
mod index_props;
mod locks;
mod macros;
#[cfg(feature = "table")]
mod npy;
#[cfg(feature = "table")]
mod npy_resident;
mod parallel;
mod prefetch;
mod profile;
mod rebatch;
mod resume;
// enabled when Action::commit lands (defect 6: resume is exact for commit steps)
mod resume_commit;
mod shard;
mod stress;
mod stress_random;
#[cfg(feature = "table")]
mod table;
#[cfg(feature = "table")]
mod table_files;
mod tamper;
mod timeline;
