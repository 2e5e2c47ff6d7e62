//! An index of files found by glob patterns or by extension under a folder.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::{DatasetIndex, IndexError, Shuffle, Split};

/// How a file's id is taken from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FileIds {
    /// The file name without its extension: `img/cat.png` → `cat`.
    #[default]
    Stem,
    /// The whole file name: `img/cat.png` → `cat.png`.
    Name,
    /// The path relative to the pattern's root (its leading components without a wildcard),
    /// with `/` between components: for the pattern `data/*/*.png`, `data/cat/0000.png` →
    /// `cat/0000.png`. Equal file names in different folders never clash.
    Relative,
}

/// What a search by extension left out: see [`FilesIndex::find`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// Hidden entries (a name starting with `.`): files, and folders with all they hold
    /// (counted once each).
    pub hidden: usize,
    /// Files whose extension is not one of those asked for (and other non-files).
    pub other: usize,
}

/// A [`DatasetIndex`] of files matched by glob patterns, with the full path of every id.
///
/// # Examples
///
/// ```
/// use batchline::{FileIds, FilesIndex};
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
    skipped: Skipped,
}

impl FilesIndex {
    /// Finds the files matched by `patterns` (in pattern order, each pattern's matches sorted by
    /// path; directories are left out) and takes their ids as `ids` says. A pattern that
    /// matches nothing is no error as long as another one matched a file.
    ///
    /// # Errors
    ///
    /// [`IndexError::BadPattern`] for a malformed pattern, [`IndexError::NoMatch`] when no
    /// pattern matches a file (naming them all), [`IndexError::IdClash`] (naming both paths)
    /// when two files give the same id, [`IndexError::Io`] when a matched path cannot be read.
    pub fn new<P: AsRef<str>>(
        patterns: impl IntoIterator<Item = P>,
        ids: FileIds,
    ) -> Result<Self, IndexError> {
        let mut files = Vec::new();
        let mut tried = Vec::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            tried.push(pattern.to_string());
            let matches = glob::glob(pattern).map_err(|source| IndexError::BadPattern {
                pattern: pattern.to_string(),
                source,
            })?;
            let root = pattern_root(pattern);
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
            found.sort();
            files.extend(found.into_iter().map(|path| {
                let id = file_id(&path, &root, ids);
                (id, path)
            }));
        }
        if files.is_empty() {
            return Err(IndexError::NoMatch {
                pattern: tried.join(", "),
            });
        }
        Self::from_files(files, Skipped::default())
    }

    /// Finds the files under `root` (in every sub-folder, following links) whose extension
    /// is one of `extensions` (without the dot, compared case-insensitively: `"jpg"` finds
    /// `a.JPG`). Hidden entries (a name starting with `.`) and files with other extensions
    /// are left out and counted ([`skipped`](Self::skipped)). The ids are the paths relative
    /// to `root` ([`FileIds::Relative`]), in the order of torchvision's `ImageFolder`: folder
    /// by folder, sorted by name, a folder's own files before its sub-folders'.
    ///
    /// # Errors
    ///
    /// [`IndexError::Io`] naming `root` when it does not exist or is no folder (or naming
    /// the folder that cannot be read), [`IndexError::NoMatch`] when no file has one of the
    /// extensions.
    ///
    /// # Examples
    ///
    /// ```
    /// use batchline::FilesIndex;
    ///
    /// let dir = tempfile::tempdir()?;
    /// for name in ["cat/1.png", "cat/2.JPG", "dog/1.png", "dog/notes.txt", ".hidden.png"] {
    ///     let path = dir.path().join(name);
    ///     std::fs::create_dir_all(path.parent().unwrap())?;
    ///     std::fs::write(path, "x")?;
    /// }
    /// let files = FilesIndex::find(dir.path(), &["png", "jpg"])?;
    /// assert_eq!(files.index().ids(), &["cat/1.png", "cat/2.JPG", "dog/1.png"]);
    /// assert_eq!((files.skipped().hidden, files.skipped().other), (1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find(root: impl AsRef<Path>, extensions: &[&str]) -> Result<Self, IndexError> {
        let root = root.as_ref();
        let meta = std::fs::metadata(root).map_err(|source| IndexError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(IndexError::Io {
                path: root.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
            });
        }
        let extensions: Vec<String> = extensions
            .iter()
            .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
            .collect();
        let mut found = Vec::new();
        let mut skipped = Skipped::default();
        walk(root, &extensions, &mut found, &mut skipped)?;
        // torchvision's order: `sorted(os.walk(root))` sorts the folders by their path as a
        // string (not component-wise), then each folder's file names.
        found.sort_by_cached_key(|p| {
            (
                p.parent().map(|d| d.to_string_lossy().into_owned()),
                p.file_name().map(|n| n.to_string_lossy().into_owned()),
            )
        });
        if found.is_empty() {
            return Err(IndexError::NoMatch {
                pattern: format!("{}/**/*.{{{}}}", root.display(), extensions.join(",")),
            });
        }
        let files = found
            .into_iter()
            .map(|path| (file_id(&path, root, FileIds::Relative), path))
            .collect();
        Self::from_files(files, skipped)
    }

    fn from_files(files: Vec<(String, PathBuf)>, skipped: Skipped) -> Result<Self, IndexError> {
        let mut order = Vec::with_capacity(files.len());
        let mut paths: HashMap<String, PathBuf> = HashMap::with_capacity(files.len());
        for (id, path) in files {
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
        Ok(Self {
            index: DatasetIndex::from_ids(order)?,
            paths: Arc::new(paths),
            skipped,
        })
    }

    /// The same files, reporting `skipped` as left out (for an index made from another).
    pub(crate) fn with_skipped(mut self, skipped: Skipped) -> Self {
        self.skipped = skipped;
        self
    }

    /// What [`find`](Self::find) left out (nothing for [`new`](Self::new)).
    pub fn skipped(&self) -> Skipped {
        self.skipped
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
            skipped: self.skipped,
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
            skipped: self.skipped,
        })
    }
}

impl From<FilesIndex> for DatasetIndex<String> {
    fn from(files: FilesIndex) -> Self {
        files.index
    }
}

fn file_id(path: &Path, root: &Path, ids: FileIds) -> String {
    let part = match ids {
        FileIds::Stem => path.file_stem(),
        FileIds::Name => path.file_name(),
        FileIds::Relative => {
            let rel = path.strip_prefix(root).unwrap_or(path);
            let parts: Vec<String> = rel
                .components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            return parts.join("/");
        }
    };
    part.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The leading components of a glob pattern that hold no wildcard (`data/*/x.png` → `data`).
fn pattern_root(pattern: &str) -> PathBuf {
    let mut root = PathBuf::new();
    for c in Path::new(pattern).components() {
        if c.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        root.push(c);
    }
    // A pattern without a wildcard names a file: its root is the folder.
    if root == Path::new(pattern) {
        root.pop();
    }
    root
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Collects the files of `dir` and its sub-folders with one of `extensions` (lower case).
fn walk(
    dir: &Path,
    extensions: &[String],
    found: &mut Vec<PathBuf>,
    skipped: &mut Skipped,
) -> Result<(), IndexError> {
    let io = |source| IndexError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        entries.push(entry.map_err(io)?.path());
    }
    entries.sort();
    let mut folders = Vec::new();
    for path in entries {
        if path.file_name().is_some_and(is_hidden) {
            skipped.hidden += 1;
        } else if path.is_dir() {
            folders.push(path);
        } else if path.is_file() && has_extension(&path, extensions) {
            found.push(path);
        } else {
            skipped.other += 1;
        }
    }
    for folder in folders {
        walk(&folder, extensions, found, skipped)?;
    }
    Ok(())
}

fn has_extension(path: &Path, extensions: &[String]) -> bool {
    path.extension()
        .is_some_and(|e| extensions.contains(&e.to_string_lossy().to_ascii_lowercase()))
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

    #[test]
    fn relative_ids_keep_equal_names_in_different_folders_apart() {
        let dir = tempfile::tempdir().unwrap();
        let cat = touch(dir.path(), "cat/0000.png");
        touch(dir.path(), "bird/0000.png");
        let files = FilesIndex::new([pat(dir.path(), "*/*.png")], FileIds::Relative).unwrap();
        assert_eq!(files.index().ids(), &["bird/0000.png", "cat/0000.png"]);
        assert_eq!(files.path("cat/0000.png").unwrap(), cat);
        // The same folder by stem clashes, naming both files.
        let err = FilesIndex::new([pat(dir.path(), "*/*.png")], FileIds::Stem).unwrap_err();
        assert!(matches!(err, IndexError::IdClash { .. }), "{err}");
        // The root stops at the first wildcard, wherever it is.
        let files = FilesIndex::new([pat(dir.path(), "c*/0000.png")], FileIds::Relative).unwrap();
        assert_eq!(files.index().ids(), &["cat/0000.png"]);
        let files = FilesIndex::new([pat(dir.path(), "cat/0000.png")], FileIds::Relative).unwrap();
        assert_eq!(files.index().ids(), &["0000.png"]);
    }

    #[test]
    fn a_pattern_without_matches_among_several_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "a.png");
        let files = FilesIndex::new(
            [pat(dir.path(), "*.jpg"), pat(dir.path(), "*.png")],
            FileIds::Stem,
        )
        .unwrap();
        assert_eq!(files.index().ids(), &["a"]);
        let err = FilesIndex::new(
            [pat(dir.path(), "*.jpg"), pat(dir.path(), "*.gif")],
            FileIds::Stem,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("*.jpg") && text.contains("*.gif"), "{text}");
    }

    #[test]
    fn find_matches_extensions_in_any_case_and_counts_what_it_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b/x.PNG",
            "b/y.jpeg",
            "a/z.Jpg",
            "a/sub/w.png",
            "a/readme.txt",
            "a/.DS_Store",
            ".git/config.png",
            "top.png",
            "noext",
        ] {
            touch(dir.path(), name);
        }
        let files = FilesIndex::find(dir.path(), &["png", ".JPG", "jpeg"]).unwrap();
        assert_eq!(
            files.index().ids(),
            &["top.png", "a/z.Jpg", "a/sub/w.png", "b/x.PNG", "b/y.jpeg"]
        );
        assert_eq!(
            files.skipped(),
            Skipped {
                hidden: 2,
                other: 2
            }
        );
        assert_eq!(files.path("b/x.PNG").unwrap(), dir.path().join("b/x.PNG"));
        // Only one extension of several matches: no error.
        assert_eq!(
            FilesIndex::find(dir.path(), &["gif", "jpeg"])
                .unwrap()
                .len(),
            1
        );
        let err = FilesIndex::find(dir.path(), &["gif"]).unwrap_err();
        assert!(matches!(err, IndexError::NoMatch { .. }), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
        let missing = dir.path().join("nope");
        let err = FilesIndex::find(&missing, &["png"]).unwrap_err();
        assert!(
            matches!(&err, IndexError::Io { path, .. } if path == &missing),
            "{err}"
        );
        let err = FilesIndex::find(dir.path().join("top.png"), &["png"]).unwrap_err();
        assert!(err.to_string().contains("top.png"), "{err}");
    }

    #[test]
    fn find_sorts_folders_as_strings_like_torchvision() {
        // sorted(os.walk(root)) puts "a b" (space, 0x20) before "a/z" ('/' is 0x2f).
        let dir = tempfile::tempdir().unwrap();
        for name in ["a/z/1.png", "a b/2.png", "a/3.png"] {
            touch(dir.path(), name);
        }
        let files = FilesIndex::find(dir.path(), &["png"]).unwrap();
        assert_eq!(files.index().ids(), &["a/3.png", "a b/2.png", "a/z/1.png"]);
    }
}
