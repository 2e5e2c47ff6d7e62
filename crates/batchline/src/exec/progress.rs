//! The optional progress bar of a run (indicatif, behind the `progress` cargo feature).
//!
//! The bar draws on standard error when it is a terminal. For tests, [`ProgressCapture`]
//! makes the bars of the runs started on the current thread draw into a buffer instead
//! (whether standard error is a terminal or not), so that what they draw can be checked.

use std::sync::{Arc, Mutex};

/// Captures what the progress bars of runs started on this thread draw, while it lives.
/// For tests; not part of the API.
///
/// # Examples
///
/// ```
/// use batchline::IdsBatch;
/// use batchline::{Dataset, DatasetIndex, ProgressCapture, RunSpec};
///
/// let capture = ProgressCapture::start();
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(4), ());
/// ds.p().run(&RunSpec::new(2).progress(true))?;
/// # #[cfg(feature = "progress")]
/// assert!(capture.text().contains("2/2 batches"));
/// # Ok::<(), batchline::PipelineError>(())
/// ```
#[doc(hidden)]
#[derive(Debug)]
pub struct ProgressCapture {
    drawn: Arc<Mutex<String>>,
    previous: Option<Arc<Mutex<String>>>,
}

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Arc<Mutex<String>>>> =
        const { std::cell::RefCell::new(None) };
}

impl ProgressCapture {
    /// Starts capturing (until the capture is dropped).
    pub fn start() -> Self {
        let drawn = Arc::new(Mutex::new(String::new()));
        let previous = CAPTURE.with(|c| c.borrow_mut().replace(Arc::clone(&drawn)));
        Self { drawn, previous }
    }

    /// Everything drawn so far: each line the bar drew, followed by a newline.
    pub fn text(&self) -> String {
        self.drawn.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for ProgressCapture {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CAPTURE.with(|c| *c.borrow_mut() = previous);
    }
}

/// The buffer of the current thread's capture, if one is active.
fn capture() -> Option<Arc<Mutex<String>>> {
    CAPTURE.with(|c| c.borrow().clone())
}

#[cfg(feature = "progress")]
mod bar {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

    /// A progress bar on standard error: batches done (of the total when it is known),
    /// batches/s and items/s.
    pub(crate) struct Progress {
        bar: ProgressBar,
        items: AtomicU64,
        start: Instant,
    }

    /// A terminal that appends what is drawn to a buffer (see `ProgressCapture`).
    #[derive(Debug)]
    struct Recorder(Arc<Mutex<String>>);

    impl Recorder {
        fn push(&self, s: &str, newline: bool) {
            if let Ok(mut text) = self.0.lock() {
                text.push_str(s);
                if newline {
                    text.push('\n');
                }
            }
        }
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.push(s, true);
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            // indicatif writes a bar's last line without a newline: end it here so that
            // every drawn state is one line of the capture.
            self.push(s, true);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Progress {
        /// A bar for `total` batches (`None`: an endless run); `None` when standard error is
        /// not a terminal (and no capture is active).
        pub(crate) fn new(total: Option<u64>) -> Option<Self> {
            let target = match super::capture() {
                // No rate limit: every state is drawn.
                Some(buf) => ProgressDrawTarget::term_like(Box::new(Recorder(buf))),
                None if std::io::stderr().is_terminal() => ProgressDrawTarget::stderr(),
                None => return None,
            };
            let (bar, template) = match total {
                Some(n) => (
                    ProgressBar::with_draw_target(Some(n), target),
                    "{bar:30} {pos}/{len} batches  {per_sec}  {msg}  eta {eta}",
                ),
                None => (
                    ProgressBar::with_draw_target(None, target),
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
            let _ = super::capture();
            None
        }

        pub(crate) fn advance(&self, _items: u64) {}

        pub(crate) fn finish(self) {}
    }
}

pub(crate) use bar::Progress;
