//! [`Update`]: how an `update_variable` step changes a variable.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::{Arg, Context};
use crate::action_error::ActionError;

/// The change to make, with the argument already evaluated (outside the variables' lock, so
/// that the argument may read variables itself).
pub(crate) type Prepared<T> = Box<dyn FnOnce(&mut T) + Send>;
type PrepareFn<T> =
    dyn Fn(&dyn Any, &mut Context<'_>) -> Result<Prepared<T>, ActionError> + Send + Sync;

/// How an [`update_variable`](crate::Pipeline::update_variable) step changes a variable of
/// type `T`: write a value, append to or extend a list, or merge with a function.
///
/// Each constructor takes an [`Arg`], so the new value can be an expression of the batch (its
/// number, its random generator, another variable, a config value) or a constant
/// (`Arg::from(value)`).
///
/// # Examples
///
/// ```
/// use batchline::{Arg, Update};
///
/// let last: Update<u64> = Update::write(Arg::batch_number());
/// let numbers: Update<Vec<u64>> = Update::append(Arg::batch_number());
/// let total: Update<f64> = Update::merge(Arg::uniform(0.0, 1.0), |sum: &mut f64, x: f64| *sum += x);
/// let flag = Update::write(Arg::from(true));
/// # let _ = (last, numbers, total, flag);
/// ```
pub struct Update<T> {
    pub(crate) mode: &'static str,
    pub(crate) prepare: Arc<PrepareFn<T>>,
}

impl<T> Clone for Update<T> {
    fn clone(&self) -> Self {
        Self {
            mode: self.mode,
            prepare: Arc::clone(&self.prepare),
        }
    }
}

impl<T> fmt::Debug for Update<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Update::{}", self.mode)
    }
}

impl<T: Send + Sync + 'static> Update<T> {
    /// Combines the argument's value `V` into the variable with `f`.
    pub fn merge<V: Clone + Send + Sync + 'static>(
        value: Arg<V>,
        f: impl Fn(&mut T, V) + Send + Sync + 'static,
    ) -> Self {
        let f = Arc::new(f);
        Self {
            mode: "merge",
            prepare: Arc::new(move |batch, ctx| {
                let v = value.eval(batch, ctx)?;
                let f = Arc::clone(&f);
                Ok(Box::new(move |var: &mut T| f(var, v)))
            }),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Update<T> {
    /// Replaces the variable's value.
    pub fn write(value: Arg<T>) -> Self {
        let mut me = Self::merge(value, |var: &mut T, v: T| *var = v);
        me.mode = "write";
        me
    }
}

impl<T: Clone + Send + Sync + 'static> Update<Vec<T>> {
    /// Pushes the value onto the list.
    pub fn append(value: Arg<T>) -> Self {
        let mut me = Self::merge(value, |var: &mut Vec<T>, v: T| var.push(v));
        me.mode = "append";
        me
    }

    /// Appends every element of the value to the list.
    pub fn extend(value: Arg<Vec<T>>) -> Self {
        let mut me = Self::merge(value, |var: &mut Vec<T>, v: Vec<T>| var.extend(v));
        me.mode = "extend";
        me
    }
}
