//! The optional progress bar of a run (indicatif, behind the `progress` cargo feature).

#[cfg(feature = "progress")]
mod bar {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

    /// A progress bar on standard error: batches done (of the total when it is known),
    /// batches/s and items/s.
    pub(crate) struct Progress {
        bar: ProgressBar,
        items: AtomicU64,
        start: Instant,
    }

    impl Progress {
        /// A bar for `total` batches (`None`: an endless run); `None` when standard error is
        /// not a terminal.
        pub(crate) fn new(total: Option<u64>) -> Option<Self> {
            if !std::io::stderr().is_terminal() {
                return None;
            }
            let (bar, template) = match total {
                Some(n) => (
                    ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                    "{bar:30} {pos}/{len} batches  {per_sec}  {msg}  eta {eta}",
                ),
                None => (
                    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                    "{spinner} {pos} batches  {per_sec}  {msg}",
                ),
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            Some(Self {
                bar,
                items: AtomicU64::new(0),
                start: Instant::now(),
            })
        }

        /// One more batch of `items` items reached the consumer.
        pub(crate) fn advance(&self, items: u64) {
            let items = self.items.fetch_add(items, Ordering::Relaxed) + items;
            let secs = self.start.elapsed().as_secs_f64().max(1e-9);
            self.bar
                .set_message(format!("{:.0} items/s", items as f64 / secs));
            self.bar.inc(1);
        }

        /// The run is over.
        pub(crate) fn finish(self) {
            self.bar.abandon();
        }
    }
}

#[cfg(not(feature = "progress"))]
mod bar {
    /// Without the `progress` feature there is no bar.
    pub(crate) struct Progress;

    impl Progress {
        pub(crate) fn new(_total: Option<u64>) -> Option<Self> {
            None
        }

        pub(crate) fn advance(&self, _items: u64) {}

        pub(crate) fn finish(self) {}
    }
}

pub(crate) use bar::Progress;
