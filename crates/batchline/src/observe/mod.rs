//! Observing runs: events, observers, and what is computed from them — the seed's listing,
//! Chrome traces, the [`Profile`] with its verdict, and the [`Timeline`] picture.
//!
//! Everything here is a pure function of a run's [`Event`]s: this module knows nothing of the
//! executor or of pipelines, so a profile or a timeline can be computed from recorded events
//! anywhere (a test, another process, a saved trace).

mod events;
#[cfg(feature = "image")]
mod font;
#[cfg(feature = "image")]
mod png;
mod profile;
mod svg;
mod table;
mod timeline;
mod verdict;

pub use events::{chrome_trace, listing, Event, EventKind, EventRecorder, Observer};
pub use profile::{ActionStats, LockStats, Profile};
pub use timeline::{Bar, BarKind, Lane, Timeline};
