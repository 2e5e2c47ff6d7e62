//! [`ImagesSource`]: where a dataset's images come from (files by id, or images in memory),
//! with optional labels and masks; [`ImagesSource::image_folder`] for class folders.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::DynamicImage;

use super::{ops, ImageError, ImagesBatch};
use crate::dataset::Dataset;
use crate::index::FilesIndex;
use crate::index::{Id, Skipped};

/// The extensions [`ImagesSource::image_folder`] looks for (compared case-insensitively): those
/// with a decoder.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

/// Where the images of a dataset come from: files (a path per id) or images in memory; plus
/// optional labels and masks per id.
///
/// # Examples
///
/// ```
/// use batchline::images::ImagesSource;
/// use image::{DynamicImage, RgbImage};
///
/// let images = vec![DynamicImage::ImageRgb8(RgbImage::new(4, 4)); 3];
/// let source = ImagesSource::from_images(images).with_labels([(0, 1), (1, 0), (2, 1)]);
/// assert_eq!(source.len(), 3);
/// assert_eq!(source.label(&2), Some(1));
/// ```
pub struct ImagesSource<I: Id = String> {
    pub(super) items: HashMap<I, Entry>,
    pub(super) labels: Option<HashMap<I, i64>>,
    pub(super) masks: Option<HashMap<I, Entry>>,
}

#[derive(Clone)]
pub(super) enum Entry {
    File(PathBuf),
    Image(Arc<DynamicImage>),
}

impl Entry {
    pub(super) fn path(&self) -> Option<&Path> {
        match self {
            Entry::File(p) => Some(p),
            Entry::Image(_) => None,
        }
    }
}

impl<I: Id> fmt::Debug for ImagesSource<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImagesSource")
            .field("images", &self.items.len())
            .field("labels", &self.labels.as_ref().map(HashMap::len))
            .field("masks", &self.masks.as_ref().map(HashMap::len))
            .finish()
    }
}

/// A dataset of class folders (`root/<class>/**/<image>`), as torchvision's `ImageFolder`
/// makes it: see [`ImagesSource::image_folder`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ImageFolder {
    /// The dataset: ids are the paths relative to the root (`cat/0001.jpg`), each with the
    /// label of its class.
    pub dataset: Dataset<ImagesBatch>,
    /// The files (the dataset's index, with the path of every id).
    pub files: FilesIndex,
    /// The class names, sorted; a class's label is its position here.
    pub classes: Vec<String>,
    /// Class name → label (0 to C − 1).
    pub class_to_idx: BTreeMap<String, i64>,
    /// What was left out: hidden entries, files with other extensions (files directly in the
    /// root among them).
    pub skipped: Skipped,
}

impl ImagesSource<String> {
    /// The images are the files of `files`, by id.
    pub fn from_files(files: &FilesIndex) -> Self {
        Self {
            items: file_entries(files),
            labels: None,
            masks: None,
        }
    }

    /// The dataset of the image files of `files` (the usual start of an image pipeline).
    pub fn files_dataset(files: FilesIndex) -> Dataset<ImagesBatch> {
        let source = Self::from_files(&files);
        Dataset::new(files, source)
    }

    /// Masks from the files of `files`, matched to the images by id (a mask is loaded as
    /// grey).
    pub fn with_mask_files(mut self, files: &FilesIndex) -> Self {
        self.masks = Some(file_entries(files));
        self
    }

    /// Masks from explicit files, one `(image id, mask path)` pair per image (a mask is loaded
    /// as grey), for masks whose file names differ from their images' (`0001.jpg` and
    /// `0001_mask.png`).
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::images::{ImagesBatchActions, ImagesSource};
    /// use batchline::{FilesIndex, RunSpec};
    ///
    /// let dir = tempfile::tempdir()?;
    /// image::RgbImage::new(4, 2).save(dir.path().join("a.jpg"))?;
    /// image::GrayImage::new(4, 2).save(dir.path().join("a_mask.png"))?;
    /// let files = FilesIndex::find(dir.path(), &["jpg"])?;
    /// let source = ImagesSource::from_files(&files)
    ///     .with_mask_paths([("a.jpg".to_string(), dir.path().join("a_mask.png"))]);
    /// let dataset = batchline::Dataset::new(files, source);
    /// let batch = dataset.p().load().next_batch(&RunSpec::new(1))?.unwrap();
    /// assert_eq!(batch.masks.unwrap()[0].width(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_mask_paths(
        mut self,
        masks: impl IntoIterator<Item = (String, std::path::PathBuf)>,
    ) -> Self {
        self.masks = Some(
            masks
                .into_iter()
                .map(|(id, path)| (id, Entry::File(path)))
                .collect(),
        );
        self
    }

    /// The dataset of an image-classification folder, `root/<class>/…/<image>`, with the
    /// mapping of torchvision's `ImageFolder`: the classes are the sub-folders of `root`
    /// sorted by name, labelled 0 to C − 1; each class holds the image files anywhere under its
    /// folder ([`IMAGE_EXTENSIONS`], any case). Hidden entries (a name starting with `.`, such
    /// as `.ipynb_checkpoints`) are neither classes nor images — torchvision would take a
    /// hidden folder for a class — and, like other files, are left out and counted.
    ///
    /// # Errors
    ///
    /// [`ImageError::Index`] naming `root` when it does not exist or is not a folder;
    /// [`ImageError::NoClasses`] when it has no class folder; [`ImageError::EmptyClass`]
    /// naming the first class folder without an image.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::images::{ImagesBatchActions, ImagesSource};
    /// use batchline::RunSpec;
    ///
    /// let root = tempfile::tempdir()?;
    /// let img = image::RgbImage::new(4, 4);
    /// for (class, name) in [("dog", "a.png"), ("cat", "a.png"), ("cat", "b.PNG")] {
    ///     std::fs::create_dir_all(root.path().join(class))?;
    ///     img.save_with_format(root.path().join(class).join(name), image::ImageFormat::Png)?;
    /// }
    /// let folder = ImagesSource::image_folder(root.path())?;
    /// assert_eq!(folder.classes, ["cat", "dog"]);
    /// assert_eq!(folder.class_to_idx["dog"], 1);
    /// assert_eq!(folder.files.index().ids(), ["cat/a.png", "cat/b.PNG", "dog/a.png"]);
    /// let batch = folder.dataset.p().load().next_batch(&RunSpec::new(3))?.unwrap();
    /// assert_eq!(batch.labels, Some(vec![0, 0, 1]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn image_folder(root: impl AsRef<Path>) -> Result<ImageFolder, ImageError> {
        Self::image_folder_with(root, IMAGE_EXTENSIONS)
    }

    /// [`image_folder`](Self::image_folder) with other file extensions (without the dot, any
    /// case).
    ///
    /// # Errors
    ///
    /// As [`image_folder`](Self::image_folder).
    pub fn image_folder_with(
        root: impl AsRef<Path>,
        extensions: &[&str],
    ) -> Result<ImageFolder, ImageError> {
        let root = root.as_ref();
        let all = FilesIndex::find(root, extensions).map_err(|err| match err {
            // No image at all: say which (if any) class folder is empty.
            crate::index::IndexError::NoMatch { .. } => no_image(root, extensions),
            other => ImageError::Index(other),
        })?;
        let mut skipped = all.skipped();
        let mut class_to_idx = BTreeMap::new();
        let mut ids = Vec::new();
        let mut labels = Vec::new();
        let classes = class_folders(root)?;
        let mut counts = vec![0_usize; classes.len()];
        for (label, class) in classes.iter().enumerate() {
            class_to_idx.insert(class.clone(), label as i64);
        }
        for id in all.index().ids() {
            // Files directly in the root belong to no class.
            match id.split_once('/') {
                Some((class, _)) => {
                    let label = class_to_idx[class];
                    counts[label as usize] += 1;
                    ids.push(id.clone());
                    labels.push((id.clone(), label));
                }
                None => skipped.other += 1,
            }
        }
        if let Some(class) = classes
            .iter()
            .zip(&counts)
            .find(|(_, &n)| n == 0)
            .map(|(c, _)| c)
        {
            return Err(ImageError::EmptyClass {
                path: root.join(class),
                extensions: extensions.join(", "),
            });
        }
        let files = all.subset(&ids)?.with_skipped(skipped);
        let source = Self::from_files(&files).with_labels(labels);
        Ok(ImageFolder {
            dataset: Dataset::new(files.clone(), source),
            files,
            classes,
            class_to_idx,
            skipped,
        })
    }
}

/// The sorted names of the non-hidden sub-folders of `root`.
fn class_folders(root: &Path) -> Result<Vec<String>, ImageError> {
    let read = |source| ImageError::Read {
        path: root.to_path_buf(),
        source,
    };
    let mut classes = Vec::new();
    for entry in std::fs::read_dir(root).map_err(read)? {
        let path = entry.map_err(read)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() && !name.starts_with('.') {
            classes.push(name);
        }
    }
    classes.sort();
    if classes.is_empty() {
        return Err(ImageError::NoClasses {
            root: root.to_path_buf(),
        });
    }
    Ok(classes)
}

/// The error of a folder without any image: no class, or its first class is empty.
fn no_image(root: &Path, extensions: &[&str]) -> ImageError {
    match class_folders(root) {
        Ok(classes) => ImageError::EmptyClass {
            path: root.join(&classes[0]),
            extensions: extensions.join(", "),
        },
        Err(err) => err,
    }
}

fn file_entries(files: &FilesIndex) -> HashMap<String, Entry> {
    files
        .index()
        .ids()
        .iter()
        .filter_map(|id| Some((id.clone(), Entry::File(files.path(id)?.to_path_buf()))))
        .collect()
}

impl ImagesSource<usize> {
    /// Images in memory; the id of each is its position in `images`.
    pub fn from_images(images: Vec<DynamicImage>) -> Self {
        Self {
            items: images
                .into_iter()
                .enumerate()
                .map(|(i, img)| (i, Entry::Image(Arc::new(ops::to_8bit(img)))))
                .collect(),
            labels: None,
            masks: None,
        }
    }

    /// Masks in memory, by position like the images.
    pub fn with_masks(mut self, masks: Vec<DynamicImage>) -> Self {
        self.masks = Some(
            masks
                .into_iter()
                .enumerate()
                .map(|(i, m)| {
                    (
                        i,
                        Entry::Image(Arc::new(DynamicImage::ImageLuma8(m.to_luma8()))),
                    )
                })
                .collect(),
        );
        self
    }
}

impl<I: Id> ImagesSource<I> {
    /// A label per id (a class number, say).
    pub fn with_labels(mut self, labels: impl IntoIterator<Item = (I, i64)>) -> Self {
        self.labels = Some(labels.into_iter().collect());
        self
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The label of `id`, when the source has labels.
    pub fn label(&self, id: &I) -> Option<i64> {
        self.labels.as_ref()?.get(id).copied()
    }

    /// The file of `id`, when its image comes from a file.
    pub fn path(&self, id: &I) -> Option<&Path> {
        self.items.get(id)?.path()
    }
}
