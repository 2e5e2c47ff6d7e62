//! Native images: `ImagesBatch` actions run in Rust without the GIL; their results reach
//! Python as NumPy arrays that own the Rust allocation (no copy).

use std::sync::Arc;

use batchline::images::{ImagesBatch, ImagesSource, Tensor};
use batchline::{ActionError, Batch, BatchIndex, FileIds, FilesIndex};
use numpy::{PyArray1, PyArrayMethods, ToPyArray};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::batch::{Native, PyBatch};

mod actions;
mod args;
mod fuse;
mod step;

pub(crate) use actions::images_action;
pub(crate) use fuse::Pending;

/// The images of a files dataset, and the id of every position.
pub(crate) struct ImagesSourceRef {
    pub(crate) source: Arc<ImagesSource<String>>,
    pub(crate) ids: Arc<Vec<String>>,
}

/// A batch's native images while Rust actions own them.
pub(crate) struct NativeImages(pub(crate) ImagesBatch<String>);

impl Native for NativeImages {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    /// Hands the images to the Python batch object: the tensor (after `to_tensor`) as one
    /// array that owns the Rust allocation, else a list of `H x W x C` `uint8` arrays (each
    /// owns its image's bytes); labels as an `int64` array, masks as `H x W` `uint8` arrays.
    fn export(self: Box<Self>, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
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
        if let Some(masks) = batch.masks.take() {
            let list = PyList::empty(py);
            for mask in masks {
                let (w, h) = (mask.width() as usize, mask.height() as usize);
                let grey = mask.into_luma8().into_raw();
                list.append(PyArray1::from_vec(py, grey).reshape([h, w])?)?;
            }
            obj.setattr("masks", list)?;
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
    /// The images of the files `paths` (one per position of the dataset's index), with the
    /// mask file of each (`masks[i]` for `paths[i]`) when given.
    #[new]
    #[pyo3(signature = (paths, masks=None))]
    fn new(paths: Vec<String>, masks: Option<Vec<String>>) -> PyResult<Self> {
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
        let mut source = ImagesSource::from_files(&files);
        if let Some(masks) = masks {
            if masks.len() != ids.len() {
                return Err(PyValueError::new_err(format!(
                    "{} masks for {} images",
                    masks.len(),
                    ids.len()
                )));
            }
            let pairs = ids.iter().cloned().zip(masks.into_iter().map(Into::into));
            source = source.with_mask_paths(pairs);
        }
        Ok(Self {
            source: Arc::new(source),
            ids: Arc::new(ids),
        })
    }

    /// The class folders of `root` (`root/<class>/…/<image>`, torchvision's `ImageFolder`),
    /// with the label of each image: `(data, ids, paths, classes, class_to_idx)`, the ids
    /// being the paths relative to `root` (`cat/0001.jpg`).
    #[staticmethod]
    fn image_folder(root: std::path::PathBuf) -> PyResult<ImageFolderParts> {
        let folder = ImagesSource::image_folder(&root)
            .map_err(|e| PyValueError::new_err(format!("image_folder: {e}")))?;
        let ids = folder.files.index().ids().to_vec();
        let paths = ids
            .iter()
            .map(|id| {
                let path = folder.files.path(id).expect("an id of the index");
                path.to_string_lossy().into_owned()
            })
            .collect();
        let data = Self {
            source: Arc::clone(folder.dataset.source()),
            ids: Arc::new(ids.clone()),
        };
        Ok((data, ids, paths, folder.classes, folder.class_to_idx))
    }

    /// The same images (and labels) for a dataset of the ids `ids`, one per position
    /// (`KeyError` for an id without an image).
    fn select(&self, ids: Vec<String>) -> PyResult<Self> {
        if let Some(id) = ids.iter().find(|id| self.source.path(id).is_none()) {
            return Err(PyKeyError::new_err(format!("no image for the id {id:?}")));
        }
        Ok(Self {
            source: Arc::clone(&self.source),
            ids: Arc::new(ids),
        })
    }
}

/// What `ImagesData.image_folder` returns.
type ImageFolderParts = (
    ImagesData,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    std::collections::BTreeMap<String, i64>,
);

impl PyBatch {
    /// The batch's native images, made from its ids on first use.
    fn images(&mut self) -> Result<&mut ImagesBatch<String>, ActionError> {
        let native = self.native_mut(
            "image",
            "a Dataset of a FilesIndex",
            |src: &ImagesSourceRef, index: &BatchIndex<usize>| {
                let positions = index.ids().to_vec();
                let ids = positions.iter().map(|&p| src.ids[p].clone()).collect();
                NativeImages(ImagesBatch::create(
                    BatchIndex::new(ids, positions),
                    &src.source,
                ))
            },
        )?;
        Ok(&mut native.0)
    }

    /// After a native action: the batch's positions are those of the images it kept (a
    /// `load(on_error='drop')` drops the items that did not load), so that the Python batch
    /// object gets the ids of its images and labels.
    pub(crate) fn sync_positions(&mut self) {
        let native = self
            .native
            .as_mut()
            .and_then(|n| n.as_any_mut().downcast_mut());
        let kept = match native {
            Some(NativeImages(native)) => native.index().positions().to_vec(),
            None => return,
        };
        if kept.len() != self.index().len() {
            self.set_positions(kept);
        }
    }
}
