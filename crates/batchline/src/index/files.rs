//! An index of files found by glob patterns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DatasetIndex, IndexError, Shuffle, Split};

/// How a file's id is taken from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileIds {
    /// The file name without its extension: `img/cat.png` → `cat`.
    #[default]
    Stem,
    /// The whole file name: `img/cat.png` → `cat.png`.
    Name,
}

/// A [`DatasetIndex`] of files matched by glob patterns, with the full path of every id.
///
/// # Examples
///
/// ```
/// use batchline::index::{FileIds, FilesIndex};
///
/// let dir = tempfile::tempdir()?;
/// for name in ["b.txt", "a.txt", "c.csv"] {
///     std::fs::write(dir.path().join(name), "x")?;
/// }
/// let pattern = dir.path().join("*.txt");
/// let files = FilesIndex::new([pattern.to_str().unwrap()], FileIds::Stem)?;
/// assert_eq!(files.index().ids(), &["a", "b"]);
/// assert_eq!(files.path("a"), Some(dir.path().join("a.txt").as_path()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FilesIndex {
    index: DatasetIndex<String>,
    paths: Arc<HashMap<String, PathBuf>>,
}

impl FilesIndex {
    /// Finds the files matched by `patterns` (in pattern order, each pattern's matches sorted by
    /// path; directories are left out) and takes their ids as `ids` says.
    ///
    /// # Errors
    ///
    /// [`IndexError::BadPattern`] for a malformed pattern, [`IndexError::NoMatch`] for a pattern
    /// that matches no file, [`IndexError::IdClash`] (naming both paths) when two files give the
    /// same id, [`IndexError::Io`] when a matched path cannot be read.
    pub fn new<P: AsRef<str>>(
        patterns: impl IntoIterator<Item = P>,
        ids: FileIds,
    ) -> Result<Self, IndexError> {
        let mut order = Vec::new();
        let mut paths: HashMap<String, PathBuf> = HashMap::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            let matches = glob::glob(pattern).map_err(|source| IndexError::BadPattern {
                pattern: pattern.to_string(),
                source,
            })?;
            let mut found = Vec::new();
            for entry in matches {
                let path = entry.map_err(|e| IndexError::Io {
                    path: e.path().to_path_buf(),
                    source: e.into(),
                })?;
                if path.is_file() {
                    found.push(path);
                }
            }
            if found.is_empty() {
                return Err(IndexError::NoMatch {
                    pattern: pattern.to_string(),
                });
            }
            found.sort();
            for path in found {
                let id = file_id(&path, ids);
                if let Some(first) = paths.get(&id) {
                    return Err(IndexError::IdClash {
                        id,
                        first: first.clone(),
                        second: path,
                    });
                }
                order.push(id.clone());
                paths.insert(id, path);
            }
        }
        Ok(Self {
            index: DatasetIndex::from_ids(order)?,
            paths: Arc::new(paths),
        })
    }

    /// The index of file ids.
    pub fn index(&self) -> &DatasetIndex<String> {
        &self.index
    }

    /// The full path of the file with this id.
    pub fn path(&self, id: &str) -> Option<&Path> {
        self.paths.get(id).map(PathBuf::as_path)
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there is no file (never true for an index built by [`FilesIndex::new`]).
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Splits like [`DatasetIndex::split`]; every part keeps the paths of its files.
    ///
    /// # Errors
    ///
    /// As [`DatasetIndex::split`].
    pub fn split(
        &self,
        shares: &[f64],
        shuffle: impl Into<Shuffle>,
    ) -> Result<Split<Self>, IndexError> {
        Ok(self.index.split(shares, shuffle)?.map(|index| Self {
            index,
            paths: Arc::clone(&self.paths),
        }))
    }

    /// A subset of the files with the given ids, in the given order.
    ///
    /// # Errors
    ///
    /// As [`DatasetIndex::subset`].
    pub fn subset(&self, ids: &[String]) -> Result<Self, IndexError> {
        Ok(Self {
            index: self.index.subset(ids)?,
            paths: Arc::clone(&self.paths),
        })
    }
}

impl From<FilesIndex> for DatasetIndex<String> {
    fn from(files: FilesIndex) -> Self {
        files.index
    }
}

fn file_id(path: &Path, ids: FileIds) -> String {
    let part = match ids {
        FileIds::Stem => path.file_stem(),
        FileIds::Name => path.file_name(),
    };
    part.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, b"x").unwrap();
        path
    }

    fn pat(dir: &Path, p: &str) -> String {
        dir.join(p).to_str().unwrap().to_string()
    }

    #[test]
    fn ids_with_and_without_extension() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "b.png");
        touch(dir.path(), "a.png");
        std::fs::create_dir(dir.path().join("sub.png")).unwrap();
        let stems = FilesIndex::new([pat(dir.path(), "*.png")], FileIds::Stem).unwrap();
        assert_eq!(
            stems.index().ids(),
            &["a", "b"],
            "directories left out, sorted"
        );
        let names = FilesIndex::new([pat(dir.path(), "*.png")], FileIds::Name).unwrap();
        assert_eq!(names.index().ids(), &["a.png", "b.png"]);
        assert_eq!(names.path("b.png").unwrap(), dir.path().join("b.png"));
        assert_eq!(names.path("c.png"), None);
    }

    #[test]
    fn several_patterns_and_splits_keep_paths() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..10 {
            touch(dir.path(), &format!("x/{i}.jpg"));
            touch(dir.path(), &format!("y/y{i}.png"));
        }
        let files = FilesIndex::new(
            [pat(dir.path(), "x/*.jpg"), pat(dir.path(), "y/*.png")],
            FileIds::Stem,
        )
        .unwrap();
        assert_eq!(files.len(), 20);
        assert_eq!(files.index().ids()[0], "0");
        assert_eq!(files.index().ids()[10], "y0");
        let split = files.split(&[0.5], 1).unwrap();
        for id in split.test.index().ids() {
            assert!(split.test.path(id).unwrap().exists());
        }
        let sub = files.subset(&["y3".to_string()]).unwrap();
        assert_eq!(sub.path("y3").unwrap(), dir.path().join("y/y3.png"));
    }

    #[test]
    fn errors_name_the_culprits() {
        let dir = tempfile::tempdir().unwrap();
        let a = touch(dir.path(), "one/same.png");
        let b = touch(dir.path(), "two/same.jpg");
        let err = FilesIndex::new([pat(dir.path(), "*/same.*")], FileIds::Stem).unwrap_err();
        match &err {
            IndexError::IdClash { id, first, second } => {
                assert_eq!(id, "same");
                assert_eq!((first, second), (&a, &b));
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("same.png") && err.to_string().contains("same.jpg"));
        // Distinct with the extension kept.
        assert_eq!(
            FilesIndex::new([pat(dir.path(), "*/same.*")], FileIds::Name)
                .unwrap()
                .len(),
            2
        );

        let err = FilesIndex::new([pat(dir.path(), "*.nothing")], FileIds::Stem).unwrap_err();
        assert!(matches!(err, IndexError::NoMatch { .. }), "{err}");
        assert!(err.to_string().contains("*.nothing"));

        let err = FilesIndex::new([pat(dir.path(), "[")], FileIds::Stem).unwrap_err();
        assert!(matches!(err, IndexError::BadPattern { .. }), "{err}");
    }
}
