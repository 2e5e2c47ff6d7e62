//! [`ActionError`]: why an action did not complete (a failure, a skip or a stop request), at
//! the bottom of the crate so that every layer can return it.

use std::error::Error as StdError;
use std::fmt;

/// What an action returns: `Ok(())`, or an [`ActionError`].
pub type ActionResult = Result<(), ActionError>;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why an action did not complete: a failure, or a request to skip the batch or stop the run.
///
/// Any error type converts into it with `?`, so an action can use the errors of the libraries
/// it calls directly. (Like `anyhow::Error`, it does not itself implement
/// [`std::error::Error`], which is what makes that blanket conversion possible.)
///
/// # Examples
///
/// ```
/// use batchline::ActionError;
///
/// fn parse(text: &str) -> Result<i64, ActionError> {
///     let n: i64 = text.trim().parse()?; // ParseIntError converts
///     if n < 0 {
///         return Err(ActionError::msg(format!("negative: {n}")));
///     }
///     if n == 0 {
///         return Err(ActionError::skip_batch());
///     }
///     Ok(n)
/// }
/// assert_eq!(parse(" 7").unwrap(), 7);
/// assert!(parse("x").unwrap_err().is_failure());
/// assert!(parse("0").unwrap_err().is_skip());
/// ```
pub struct ActionError {
    kind: Kind,
}

enum Kind {
    Failed {
        message: String,
        source: Option<BoxError>,
    },
    Skip,
    Stop,
}

impl ActionError {
    /// A failure with a message.
    pub fn msg(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Failed {
                message: message.into(),
                source: None,
            },
        }
    }

    /// A failure caused by `source`, with a message of its own.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            kind: Kind::Failed {
                message: message.into(),
                source: Some(source.into()),
            },
        }
    }

    /// A request to drop this batch and go on with the next one (BatchFlow's `SkipBatch`).
    ///
    /// The batch is not yielded and is counted as skipped; this is not an error, whatever
    /// `ignore_errors` says.
    pub fn skip_batch() -> Self {
        Self { kind: Kind::Skip }
    }

    /// A request to end the run (BatchFlow's `StopPipeline`).
    ///
    /// This batch is not yielded; the batches before it are, and then the iteration ends
    /// without an error.
    pub fn stop_run() -> Self {
        Self { kind: Kind::Stop }
    }

    /// Whether this is a failure (not a skip or stop request).
    pub fn is_failure(&self) -> bool {
        matches!(self.kind, Kind::Failed { .. })
    }

    /// Whether this is a request to skip the batch.
    pub fn is_skip(&self) -> bool {
        matches!(self.kind, Kind::Skip)
    }

    /// Whether this is a request to stop the run.
    pub fn is_stop(&self) -> bool {
        matches!(self.kind, Kind::Stop)
    }

    /// Splits the error for the executor.
    pub(crate) fn into_outcome(self) -> ActionOutcome {
        match self.kind {
            Kind::Failed { message, source } => ActionOutcome::Failed { message, source },
            Kind::Skip => ActionOutcome::Skip,
            Kind::Stop => ActionOutcome::Stop,
        }
    }
}

/// An [`ActionError`] taken apart.
pub(crate) enum ActionOutcome {
    Failed {
        message: String,
        source: Option<BoxError>,
    },
    Skip,
    Stop,
}

impl<E: StdError + Send + Sync + 'static> From<E> for ActionError {
    fn from(err: E) -> Self {
        Self {
            kind: Kind::Failed {
                message: err.to_string(),
                source: Some(Box::new(err)),
            },
        }
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Failed { message, .. } => f.write_str(message),
            Kind::Skip => f.write_str("skip this batch"),
            Kind::Stop => f.write_str("stop the run"),
        }
    }
}

impl fmt::Debug for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Failed { message, source } => f
                .debug_struct("ActionError::Failed")
                .field("message", message)
                .field("source", source)
                .finish(),
            Kind::Skip => f.write_str("ActionError::Skip"),
            Kind::Stop => f.write_str("ActionError::Stop"),
        }
    }
}

/// What an action function may return: `()` or `Result<(), E>` with `E: Into<ActionError>`.
pub trait IntoActionResult {
    /// Converts into an [`ActionResult`].
    fn into_action_result(self) -> ActionResult;
}

impl IntoActionResult for () {
    fn into_action_result(self) -> ActionResult {
        Ok(())
    }
}

impl<E: Into<ActionError>> IntoActionResult for Result<(), E> {
    fn into_action_result(self) -> ActionResult {
        self.map_err(Into::into)
    }
}
