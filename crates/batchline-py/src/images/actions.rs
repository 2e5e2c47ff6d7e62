//! The native image actions: each Python `ImagesBatch` action, its arguments read and
//! checked when the pipeline is built, becomes an engine action that calls the action of the
//! Rust crate on the batch's images, without the GIL.

use batchline::images::PerImage;
use batchline::Action;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::args::Args;
use super::step::{native, Fuse, ImageStep};
use crate::batch::PyBatch;

/// An action that runs on its own.
fn own(action: Action<PyBatch>) -> ImageStep {
    ImageStep {
        action,
        fuse: Fuse::No,
    }
}

/// An action that `load_fused` can run right after decoding, as the step `f` makes it.
fn step(
    action: Action<PyBatch>,
    f: impl FnOnce(PerImage) -> PerImage + Send + 'static,
) -> ImageStep {
    ImageStep {
        action,
        fuse: Fuse::Step(Box::new(f)),
    }
}

/// The margins `(top, bottom, left, right)` of PIL's `border`: one integer for every side,
/// `(left/right, top/bottom)` or `(left, top, right, bottom)`.
fn border(a: &Args<'_, '_>) -> PyResult<(u32, u32, u32, u32)> {
    let v = a
        .opt("border")?
        .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err("pad: missing argument \"border\""))?;
    if let Ok(n) = a.u32("border") {
        return Ok((n, n, n, n));
    }
    let bad = || {
        a.value_error(
            "border must be one integer, (left/right, top/bottom) or (left, top, right, bottom) \
             of non-negative integers",
        )
    };
    let sides: Vec<i64> = v.extract().map_err(|_| bad())?;
    if sides
        .iter()
        .any(|&s| !(0..=i64::from(u32::MAX)).contains(&s))
    {
        return Err(bad());
    }
    let s: Vec<u32> = sides.iter().map(|&s| s as u32).collect();
    match s[..] {
        [x, y] => Ok((y, y, x, x)),
        [l, t, r, b] => Ok((t, b, l, r)),
        _ => Err(bad()),
    }
}

/// A native image action of the Python `ImagesBatch` (see `images.py` for the signatures),
/// which runs without the GIL. Bad arguments raise `TypeError` / `ValueError` / `KeyError`
/// naming the action. The action comes with its fused form (see `fuse`).
pub(crate) fn images_action(op: &str, kwargs: &Bound<'_, PyDict>) -> PyResult<ImageStep> {
    let a = Args::new(op, kwargs);
    let action = match op {
        "load" => {
            let options = a.load_options()?;
            let fuse = if a.flag("fuse", true)? {
                Fuse::Load(options.clone())
            } else {
                Fuse::No
            };
            let action = native(op, move |b, ctx| b.load_with(options.clone(), ctx));
            ImageStep { action, fuse }
        }
        "resize" => {
            let ((w, h), f) = (a.size("size", false)?, a.filter()?);
            step(native(op, move |b, ctx| b.resize(w, h, f, ctx)), move |s| {
                s.resize(w, h, f)
            })
        }
        "scale" => {
            let factor = a.float("factor")?;
            if factor <= 0.0 {
                return Err(a.value_error(format!("factor must be positive, not {factor}")));
            }
            let f = a.filter()?;
            step(
                native(op, move |b, ctx| b.scale(factor as f32, f, ctx)),
                move |s| s.scale(factor as f32, f),
            )
        }
        "crop" => crop(&a)?,
        "center_crop" => {
            let (w, h) = a.size("size", true)?;
            step(
                native(op, move |b, ctx| b.center_crop(w, h, ctx)),
                move |s| s.center_crop(w, h),
            )
        }
        "random_crop" => {
            let (w, h) = a.size("size", true)?;
            step(
                native(op, move |b, ctx| b.random_crop(w, h, ctx)),
                move |s| s.random_crop(w, h),
            )
        }
        "flip" | "random_flip" => {
            let (how, p) = (a.flip()?, a.prob("p")?);
            if p == 1.0 {
                step(native(op, move |b, ctx| b.flip(how, ctx)), move |s| {
                    s.flip(how)
                })
            } else {
                step(
                    native(op, move |b, ctx| b.random_flip(how, p, ctx)),
                    move |s| s.random_flip(how, p),
                )
            }
        }
        "rotate" => {
            let angle = a.float("angle")? as f32;
            own(native(op, move |b, ctx| b.rotate(angle, ctx)))
        }
        "random_rotate" => {
            let (low, high) = a.range("angle", false, false)?;
            if low == high {
                return Err(a.value_error(format!("angle ({low}, {high}) is an empty range")));
            }
            own(native(op, move |b, ctx| {
                b.random_rotate(low as f32, high as f32, ctx)
            }))
        }
        "pad" => {
            let ((t, bottom, l, r), fill) = (border(&a)?, a.u8("fill")?);
            own(native(op, move |b, ctx| b.pad(t, bottom, l, r, fill, ctx)))
        }
        "brightness" => {
            let delta = a.float("delta")? as f32;
            own(native(op, move |b, ctx| b.brightness(delta, ctx)))
        }
        "contrast" => {
            let factor = a.non_negative("factor")? as f32;
            own(native(op, move |b, ctx| b.contrast(factor, ctx)))
        }
        "additive_noise" => {
            let sigma = a.non_negative("sigma")? as f32;
            own(native(op, move |b, ctx| b.additive_noise(sigma, ctx)))
        }
        "multiplicative_noise" => {
            let sigma = a.non_negative("sigma")? as f32;
            own(native(op, move |b, ctx| b.multiplicative_noise(sigma, ctx)))
        }
        "cutout" => {
            let ((w, h), fill) = (a.size("shape", true)?, a.u8("color")?);
            own(native(op, move |b, ctx| b.cutout(w, h, fill, ctx)))
        }
        "to_greyscale" | "to_grayscale" => own(native(op, |b, ctx| b.to_greyscale(ctx))),
        "convert" => {
            let to = a.colour()?;
            step(native(op, move |b, ctx| b.convert(to, ctx)), move |s| {
                s.convert(to)
            })
        }
        "resize_shorter" => {
            let (side, f) = (a.positive("size")?, a.filter()?);
            step(
                native(op, move |b, ctx| b.resize_shorter(side, f, ctx)),
                move |s| s.resize_shorter(side, f),
            )
        }
        "random_resized_crop" => {
            let (w, h) = a.size("size", true)?;
            if w != h {
                return Err(a.value_error(format!("size must be square, not ({w}, {h})")));
            }
            let scale = a.range("scale", true, false)?;
            let ratio = a.range("ratio", true, false)?;
            let f = a.filter()?;
            step(
                native(op, move |b, ctx| {
                    b.random_resized_crop(w, scale, ratio, f, ctx)
                }),
                move |s| s.random_resized_crop(w, scale, ratio, f),
            )
        }
        "colour_jitter" | "color_jitter" => {
            let [br, co, sa, hue] =
                ["brightness", "contrast", "saturation", "hue"].map(|k| a.non_negative(k));
            let (br, co, sa, hue) = (br?, co?, sa?, hue?);
            if hue > 0.5 {
                return Err(a.value_error(format!("hue must be at most 0.5, not {hue}")));
            }
            own(native(op, move |b, ctx| {
                b.colour_jitter(br, co, sa, hue, ctx)
            }))
        }
        "random_grayscale" | "random_greyscale" => {
            let p = a.prob("p")?;
            own(native(op, move |b, ctx| b.random_grayscale(p, ctx)))
        }
        "gaussian_blur" => {
            let k = a.positive("kernel_size")?;
            if k % 2 == 0 {
                return Err(a.value_error(format!("kernel_size must be odd, not {k}")));
            }
            let sigma = a.range("sigma", true, true)?;
            own(native(op, move |b, ctx| b.gaussian_blur(k, sigma, ctx)))
        }
        "random_erasing" => {
            let p = a.prob("p")?;
            let scale = a.range("scale", true, false)?;
            let ratio = a.range("ratio", true, false)?;
            let value = a.float("value")? as f32;
            own(native(op, move |b, ctx| {
                b.random_erasing(p, scale, ratio, value, ctx)
            }))
        }
        "trivial_augment_wide" => own(native(op, |b, ctx| b.trivial_augment_wide(ctx))),
        "to_tensor" => {
            let l = a.layout()?;
            let (mean, std) = (a.floats("mean")?, a.floats("std")?);
            let (m, s) = (mean.clone(), std.clone());
            let action = native(op, move |b, ctx| {
                b.to_tensor(l, mean.clone(), std.clone(), ctx)
            });
            ImageStep {
                action,
                fuse: Fuse::Last(Box::new(move |steps| steps.to_tensor(l, m, s))),
            }
        }
        "to_tensor_u8" => {
            let l = a.layout()?;
            own(native(op, move |b, _| b.to_tensor_u8(l)))
        }
        "dump" => {
            let dir: std::path::PathBuf = a
                .opt("dst")?
                .ok_or_else(|| a.value_error("dst must be a folder"))?
                .extract()
                .map_err(|_| a.value_error("dst must be a folder (a str or a path)"))?;
            own(native(op, move |b, ctx| b.dump(dir.clone(), ctx)))
        }
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "{other:?} is not a native image action"
            )))
        }
    };
    Ok(action)
}

/// BatchFlow's `crop(origin, shape)`: `origin` is `(x, y)`, `'top_left'`, `'center'` or
/// `'random'`; `shape` is `(width, height)`.
fn crop(a: &Args<'_, '_>) -> PyResult<ImageStep> {
    let (w, h) = a.size("shape", false)?;
    let origin = a.opt("origin")?.ok_or_else(|| {
        pyo3::exceptions::PyKeyError::new_err("crop: missing argument \"origin\"")
    })?;
    if let Ok(name) = origin.extract::<String>() {
        return match name.as_str() {
            "top_left" => Ok(step(
                native("crop", move |b, ctx| b.crop(0, 0, w, h, ctx)),
                move |s| s.crop(0, 0, w, h),
            )),
            "center" | "centre" => Ok(step(
                native("crop", move |b, ctx| b.center_crop(w, h, ctx)),
                move |s| s.center_crop(w, h),
            )),
            "random" => Ok(step(
                native("crop", move |b, ctx| b.random_crop(w, h, ctx)),
                move |s| s.random_crop(w, h),
            )),
            other => Err(a.value_error(format!(
                "origin {other:?} is not (x, y), 'top_left', 'center' or 'random'"
            ))),
        };
    }
    let (x, y) = a.point("origin")?;
    Ok(step(
        native("crop", move |b, ctx| b.crop(x, y, w, h, ctx)),
        move |s| s.crop(x, y, w, h),
    ))
}
