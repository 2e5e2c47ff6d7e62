//! Checks of action arguments shared by the image actions, the transforms and the fused steps.

use super::ImageError;
use crate::action_error::ActionError;

/// A probability in `[0, 1]`.
pub(super) fn check_p(p: f64) -> Result<(), ActionError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(ImageError::Invalid(format!("probability {p} is not in [0, 1]")).into())
    }
}

/// A range `(low, high)` of finite numbers, low to high (and positive with `positive`).
pub(super) fn check_range(
    what: &str,
    (a, b): (f64, f64),
    positive: bool,
) -> Result<(), ActionError> {
    if !(a.is_finite() && b.is_finite() && a <= b && (!positive || a > 0.0)) {
        return Err(ImageError::Invalid(format!(
            "{what}: ({a}, {b}) is not a range of finite{} numbers, low to high",
            if positive { " positive" } else { "" }
        ))
        .into());
    }
    Ok(())
}
