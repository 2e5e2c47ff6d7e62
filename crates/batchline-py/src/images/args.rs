//! The arguments of native image actions: the keyword dict built by `images.py`, read with
//! errors that name the action (`resize: size must be (width, height)`).
//!
//! A value of the wrong type raises `TypeError`, a value out of range or a sequence of the
//! wrong shape `ValueError`, an argument that is missing from the dict `KeyError`.

use batchline::images::{Colour, Filter, Flip, Layout, LoadOptions};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt};

/// The keyword arguments of one native action, named `op` in every error.
pub(crate) struct Args<'a, 'py> {
    kwargs: &'a Bound<'py, PyDict>,
    op: &'a str,
}

impl<'a, 'py> Args<'a, 'py> {
    /// The arguments `kwargs` of the action `op`.
    pub(crate) fn new(op: &'a str, kwargs: &'a Bound<'py, PyDict>) -> Self {
        Self { kwargs, op }
    }

    /// A `ValueError` naming the action.
    pub(crate) fn value_error(&self, msg: impl std::fmt::Display) -> PyErr {
        PyValueError::new_err(format!("{}: {msg}", self.op))
    }

    fn type_error(&self, msg: impl std::fmt::Display) -> PyErr {
        PyTypeError::new_err(format!("{}: {msg}", self.op))
    }

    /// The value of `key`, `None` when it is missing or `None`.
    pub(crate) fn opt(&self, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.kwargs.get_item(key)?.filter(|v| !v.is_none()))
    }

    /// The value of `key` (`KeyError` when it is missing or `None`).
    fn req(&self, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.opt(key)?
            .ok_or_else(|| PyKeyError::new_err(format!("{}: missing argument {key:?}", self.op)))
    }

    fn int_of(&self, v: &Bound<'py, PyAny>, key: &str) -> PyResult<i64> {
        // Integers and NumPy integers (anything with `__index__`), not bools.
        let int = v.is_instance_of::<PyInt>() || v.hasattr("__index__")?;
        if v.is_instance_of::<PyBool>() || !int {
            return Err(self.type_error(format!("{key} must be an integer, not {}", type_name(v))));
        }
        v.extract::<i64>()
            .map_err(|_| self.value_error(format!("{key} is out of range")))
    }

    fn float_of(&self, v: &Bound<'py, PyAny>, key: &str) -> PyResult<f64> {
        // Numbers and NumPy scalars (anything with `__float__`), not bools or strings.
        let number = v.is_instance_of::<PyInt>()
            || v.is_instance_of::<PyFloat>()
            || (v.hasattr("__float__")? && !v.is_instance_of::<pyo3::types::PyString>());
        if v.is_instance_of::<PyBool>() || !number {
            return Err(self.type_error(format!("{key} must be a number, not {}", type_name(v))));
        }
        let x: f64 = v.extract()?;
        if !x.is_finite() {
            return Err(self.value_error(format!("{key} must be finite, not {x}")));
        }
        Ok(x)
    }

    /// An integer `key` in `lo..=hi`.
    pub(crate) fn int_in(&self, key: &str, lo: i64, hi: i64) -> PyResult<i64> {
        let v = self.int_of(&self.req(key)?, key)?;
        if !(lo..=hi).contains(&v) {
            return Err(self.value_error(format!("{key} must be in [{lo}, {hi}], not {v}")));
        }
        Ok(v)
    }

    /// A non-negative integer `key` (an image size, a margin).
    pub(crate) fn u32(&self, key: &str) -> PyResult<u32> {
        Ok(self.int_in(key, 0, i64::from(u32::MAX))? as u32)
    }

    /// A positive integer `key`.
    pub(crate) fn positive(&self, key: &str) -> PyResult<u32> {
        Ok(self.int_in(key, 1, i64::from(u32::MAX))? as u32)
    }

    /// A sample value `key` (0 to 255).
    pub(crate) fn u8(&self, key: &str) -> PyResult<u8> {
        Ok(self.int_in(key, 0, 255)? as u8)
    }

    /// A finite number `key`.
    pub(crate) fn float(&self, key: &str) -> PyResult<f64> {
        self.float_of(&self.req(key)?, key)
    }

    /// A finite number `key`, at least 0.
    pub(crate) fn non_negative(&self, key: &str) -> PyResult<f64> {
        let x = self.float(key)?;
        if x < 0.0 {
            return Err(self.value_error(format!("{key} must be at least 0, not {x}")));
        }
        Ok(x)
    }

    /// A probability `key` (in [0, 1]).
    pub(crate) fn prob(&self, key: &str) -> PyResult<f64> {
        let p = self.float(key)?;
        if !(0.0..=1.0).contains(&p) {
            return Err(self.value_error(format!("{key} must be in [0, 1], not {p}")));
        }
        Ok(p)
    }

    /// Two items of a sequence `key`, or `None` when it is not a sequence of two.
    fn two(&self, key: &str) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let v = self.req(key)?;
        if v.is_instance_of::<pyo3::types::PyString>() {
            return Ok(None);
        }
        let Ok(items) = v.try_iter() else {
            return Ok(None);
        };
        let items = items.collect::<PyResult<Vec<_>>>()?;
        Ok(match <[_; 2]>::try_from(items) {
            Ok([a, b]) => Some((a, b)),
            Err(_) => None,
        })
    }

    /// A size `key` given as `(width, height)` (or one integer for a square, when `square`).
    pub(crate) fn size(&self, key: &str, square: bool) -> PyResult<(u32, u32)> {
        let v = self.req(key)?;
        if square && v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
            let s = self.positive(key)?;
            return Ok((s, s));
        }
        let bad = || {
            let also = if square { " or one integer" } else { "" };
            self.value_error(format!(
                "{key} must be (width, height){also} of positive integers"
            ))
        };
        let (a, b) = self.two(key)?.ok_or_else(bad)?;
        let side = |x: &Bound<'py, PyAny>| match self.int_of(x, key) {
            Ok(n) if (1..=i64::from(u32::MAX)).contains(&n) => Ok(n as u32),
            _ => Err(bad()),
        };
        Ok((side(&a)?, side(&b)?))
    }

    /// A point `key` given as `(x, y)`, non-negative integers.
    pub(crate) fn point(&self, key: &str) -> PyResult<(u32, u32)> {
        let bad = || self.value_error(format!("{key} must be (x, y) of non-negative integers"));
        let (a, b) = self.two(key)?.ok_or_else(bad)?;
        let coord = |x: &Bound<'py, PyAny>| match self.int_of(x, key) {
            Ok(n) if (0..=i64::from(u32::MAX)).contains(&n) => Ok(n as u32),
            _ => Err(bad()),
        };
        Ok((coord(&a)?, coord(&b)?))
    }

    /// A range `key` given as `(low, high)` of finite numbers, `low <= high` (`low > 0` when
    /// `positive`); one number `x` is `(x, x)` when `single`.
    pub(crate) fn range(&self, key: &str, positive: bool, single: bool) -> PyResult<(f64, f64)> {
        let v = self.req(key)?;
        let what = if positive { "positive " } else { "" };
        let (a, b) = if single && (v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>()) {
            let x = self.float_of(&v, key)?;
            (x, x)
        } else {
            let bad = || self.value_error(format!("{key} must be (low, high) of {what}numbers"));
            let (a, b) = self.two(key)?.ok_or_else(bad)?;
            (
                self.float_of(&a, key).map_err(|_| bad())?,
                self.float_of(&b, key).map_err(|_| bad())?,
            )
        };
        if a > b || (positive && a <= 0.0) {
            return Err(self.value_error(format!(
                "{key} ({a}, {b}) must be a range of {what}numbers, low to high"
            )));
        }
        Ok((a, b))
    }

    /// A string option `key`, lower-cased (`default` when missing).
    fn name(&self, key: &str, default: &str) -> PyResult<String> {
        match self.opt(key)? {
            None => Ok(default.to_string()),
            Some(v) => v.extract::<String>().map_err(|_| {
                self.type_error(format!("{key} must be a string, not {}", type_name(&v)))
            }),
        }
    }

    /// The resampling `filter` (default bilinear).
    pub(crate) fn filter(&self) -> PyResult<Filter> {
        match self
            .name("filter", "bilinear")?
            .to_ascii_lowercase()
            .as_str()
        {
            "nearest" => Ok(Filter::Nearest),
            "box" => Ok(Filter::Box),
            "bilinear" => Ok(Filter::Bilinear),
            "bicubic" | "catmullrom" => Ok(Filter::CatmullRom),
            "lanczos" | "lanczos3" => Ok(Filter::Lanczos3),
            other => Err(self.value_error(format!(
                "unknown filter {other:?} (nearest, box, bilinear, bicubic, lanczos)"
            ))),
        }
    }

    /// The tensor `layout` (default NCHW).
    pub(crate) fn layout(&self) -> PyResult<Layout> {
        match self.name("layout", "nchw")?.to_ascii_lowercase().as_str() {
            "nchw" | "channels_first" => Ok(Layout::Nchw),
            "nhwc" | "channels_last" => Ok(Layout::Nhwc),
            other => Err(self.value_error(format!("layout {other:?} is not 'nchw' or 'nhwc'"))),
        }
    }

    /// BatchFlow's flip `mode`: `'lr'` (left-right) or `'ud'` (up-down).
    pub(crate) fn flip(&self) -> PyResult<Flip> {
        match self.name("mode", "lr")?.to_ascii_lowercase().as_str() {
            "lr" | "horizontal" => Ok(Flip::Horizontal),
            "ud" | "vertical" => Ok(Flip::Vertical),
            other => Err(self.value_error(format!("mode {other:?} is not 'lr' or 'ud'"))),
        }
    }

    /// The colour `mode` of `convert`: `'rgb'`, `'rgba'` or grey (`'grey'`, `'gray'`, `'L'`).
    pub(crate) fn colour(&self) -> PyResult<Colour> {
        match self.name("mode", "")?.to_ascii_lowercase().as_str() {
            "rgb" => Ok(Colour::Rgb),
            "rgba" => Ok(Colour::Rgba),
            "grey" | "gray" | "l" => Ok(Colour::Grey),
            other => Err(self.value_error(format!(
                "mode {other:?} is not 'rgb', 'rgba' or 'grey' ('gray', 'L')"
            ))),
        }
    }

    /// A list of numbers `key` (empty when missing or `None`).
    pub(crate) fn floats(&self, key: &str) -> PyResult<Vec<f32>> {
        match self.opt(key)? {
            None => Ok(Vec::new()),
            Some(v) => v
                .extract()
                .map_err(|_| self.type_error(format!("{key} must be a sequence of numbers"))),
        }
    }

    /// The bool `key` (`default` when missing or `None`).
    pub(crate) fn flag(&self, key: &str, default: bool) -> PyResult<bool> {
        match self.opt(key)? {
            Some(v) => v.extract::<bool>().map_err(|_| {
                self.type_error(format!("{key} must be a bool, not {}", type_name(&v)))
            }),
            None => Ok(default),
        }
    }

    /// The options of `load`: `on_error` (`'raise'` or `'drop'`), `lenient`, `max_pixels`,
    /// `dct_scaling`.
    pub(crate) fn load_options(&self) -> PyResult<LoadOptions> {
        let mut options = LoadOptions::new();
        match self.name("on_error", "raise")?.as_str() {
            "raise" => {}
            "drop" => options = options.drop_bad_items(),
            other => {
                return Err(self.value_error(format!("on_error {other:?} is not 'raise' or 'drop'")))
            }
        }
        // DCT-scaled JPEG decoding (in a fused load only) changes the pixels a little: off
        // unless asked for.
        options = options.dct_scaling(self.flag("dct_scaling", false)?);
        if self.flag("lenient", false)? {
            options = options.lenient();
        }
        if self.opt("max_pixels")?.is_some() {
            let n = self.int_in("max_pixels", 1, i64::MAX)?;
            options = options.max_pixels(n as u64);
        }
        Ok(options)
    }
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}
