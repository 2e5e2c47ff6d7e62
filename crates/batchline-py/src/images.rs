//! Native images: `ImagesBatch` actions run in Rust without the GIL; their results reach
//! Python as NumPy arrays that own the Rust allocation (no copy).

use std::sync::Arc;

use batchline::images::{Filter, ImagesBatch, ImagesSource, Layout, Tensor};
use batchline::{Action, ActionError, Batch, BatchIndex, Context, FileIds, FilesIndex};
use numpy::{PyArray1, PyArrayMethods, ToPyArray};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::batch::PyBatch;

/// The images of a files dataset, and the id of every position.
pub(crate) struct ImagesSourceRef {
    pub(crate) source: Arc<ImagesSource<String>>,
    pub(crate) ids: Arc<Vec<String>>,
}

/// A batch's native images while Rust actions own them.
pub(crate) struct NativeImages(pub(crate) ImagesBatch<String>);

impl NativeImages {
    /// Hands the images to the Python batch object: the tensor (after `to_tensor`) as one
    /// array that owns the Rust allocation, else a list of `H x W x C` `uint8` arrays (each
    /// owns its image's bytes); labels as an `int64` array.
    pub(crate) fn export(self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut batch = self.0;
        if let Some(tensor) = batch.tensor.take() {
            let arr = match tensor {
                Tensor::F32(a) => numpy::PyArray4::from_owned_array(py, a).into_any(),
                Tensor::U8(a) => numpy::PyArray4::from_owned_array(py, a).into_any(),
                _ => return Err(PyValueError::new_err("unknown tensor type")),
            };
            obj.setattr("images", arr)?;
        } else if !batch.images.is_empty() {
            let list = PyList::empty(py);
            for img in std::mem::take(&mut batch.images) {
                let channels = usize::from(img.color().channel_count());
                let (w, h) = (img.width() as usize, img.height() as usize);
                let raw = img.into_bytes();
                let arr = PyArray1::from_vec(py, raw).reshape([h, w, channels])?;
                list.append(arr)?;
            }
            obj.setattr("images", list)?;
        }
        if let Some(labels) = batch.labels.take() {
            obj.setattr("labels", labels.to_pyarray(py))?;
        }
        Ok(())
    }
}

/// The images of a dataset (a Python `FilesIndex`): file paths by position.
#[pyclass(module = "batchline._batchline", frozen)]
pub(crate) struct ImagesData {
    source: Arc<ImagesSource<String>>,
    ids: Arc<Vec<String>>,
}

impl ImagesData {
    pub(crate) fn source(&self) -> ImagesSourceRef {
        ImagesSourceRef {
            source: Arc::clone(&self.source),
            ids: Arc::clone(&self.ids),
        }
    }
}

#[pymethods]
impl ImagesData {
    /// The images of the files `paths` (one per position of the dataset's index).
    #[new]
    fn new(paths: Vec<String>) -> PyResult<Self> {
        let patterns: Vec<String> = paths.iter().map(|p| glob::Pattern::escape(p)).collect();
        let files = FilesIndex::new(&patterns, FileIds::Name)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let ids = paths
            .iter()
            .map(|p| {
                std::path::Path::new(p)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| PyValueError::new_err(format!("{p:?} is not a file")))
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Self {
            source: Arc::new(ImagesSource::from_files(&files)),
            ids: Arc::new(ids),
        })
    }
}

impl PyBatch {
    /// The batch's native images, made from its ids on first use.
    fn images(&mut self) -> Result<&mut ImagesBatch<String>, ActionError> {
        if self.native.is_none() {
            if self.obj.is_some() {
                return Err(ActionError::msg(
                    "native image actions must come before the Python actions of a pipeline",
                ));
            }
            let src = self.source.images.as_ref().ok_or_else(|| {
                ActionError::msg("native image actions need a Dataset of a FilesIndex")
            })?;
            let positions = self.index().ids().to_vec();
            let ids = positions.iter().map(|&p| src.ids[p].clone()).collect();
            let index = BatchIndex::new(ids, positions);
            self.native = Some(NativeImages(ImagesBatch::create(index, &src.source)));
        }
        Ok(&mut self.native.as_mut().expect("just made").0)
    }
}

fn pair(kwargs: &Bound<'_, PyDict>, key: &str, op: &str) -> PyResult<(u32, u32)> {
    kwargs
        .get_item(key)?
        .ok_or_else(|| PyKeyError::new_err(format!("{op}: missing argument {key:?}")))?
        .extract::<(u32, u32)>()
        .map_err(|_| PyValueError::new_err(format!("{op}: {key} must be (width, height)")))
}

fn layout(kwargs: &Bound<'_, PyDict>, op: &str) -> PyResult<Layout> {
    let name: String = match kwargs.get_item("layout")? {
        Some(v) => v.extract()?,
        None => "nchw".into(),
    };
    match name.to_ascii_lowercase().as_str() {
        "nchw" | "channels_first" => Ok(Layout::Nchw),
        "nhwc" | "channels_last" => Ok(Layout::Nhwc),
        other => Err(PyValueError::new_err(format!(
            "{op}: layout {other:?} is not 'nchw' or 'nhwc'"
        ))),
    }
}

fn filter(kwargs: &Bound<'_, PyDict>, op: &str) -> PyResult<Filter> {
    let name: String = match kwargs.get_item("filter")? {
        Some(v) => v.extract()?,
        None => "bilinear".into(),
    };
    match name.to_ascii_lowercase().as_str() {
        "nearest" => Ok(Filter::Nearest),
        "box" => Ok(Filter::Box),
        "bilinear" => Ok(Filter::Bilinear),
        "bicubic" | "catmullrom" => Ok(Filter::CatmullRom),
        "lanczos" | "lanczos3" => Ok(Filter::Lanczos3),
        other => Err(PyValueError::new_err(format!(
            "{op}: unknown filter {other:?}"
        ))),
    }
}

fn floats(kwargs: &Bound<'_, PyDict>, key: &str) -> PyResult<Vec<f32>> {
    match kwargs.get_item(key)? {
        Some(v) if !v.is_none() => v.extract(),
        _ => Ok(Vec::new()),
    }
}

/// A native image action (`load`, `resize`, `to_tensor`, `to_tensor_u8`), which runs
/// without the GIL. Bad arguments raise `ValueError` / `KeyError` naming the action.
pub(crate) fn images_action(op: &str, kwargs: &Bound<'_, PyDict>) -> PyResult<Action<PyBatch>> {
    {
        let action: Action<PyBatch> = match op {
            "load" => Action::new("load", |b: &mut PyBatch, ctx: &mut Context| {
                b.images()?.load(ctx)
            }),
            "resize" => {
                let (w, h) = pair(kwargs, "size", op)?;
                let f = filter(kwargs, op)?;
                Action::new("resize", move |b: &mut PyBatch, ctx: &mut Context| {
                    b.images()?.resize(w, h, f, ctx)
                })
            }
            "to_tensor" => {
                let l = layout(kwargs, op)?;
                let (mean, std) = (floats(kwargs, "mean")?, floats(kwargs, "std")?);
                Action::new("to_tensor", move |b: &mut PyBatch, ctx: &mut Context| {
                    b.images()?.to_tensor(l, mean.clone(), std.clone(), ctx)
                })
            }
            "to_tensor_u8" => {
                let l = layout(kwargs, op)?;
                Action::new("to_tensor_u8", move |b: &mut PyBatch, _: &mut Context| {
                    b.images()?.to_tensor_u8(l)
                })
            }
            other => {
                return Err(PyValueError::new_err(format!(
                    "{other:?} is not a native image action"
                )))
            }
        };
        Ok(action)
    }
}
