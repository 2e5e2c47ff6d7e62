//! Class folders: `FilesIndex::find` and `ImagesSource::image_folder` give torchvision's
//! `ImageFolder` mapping (classes sorted by name, labels 0..C, files in `sorted(os.walk)`
//! order), leave hidden and non-image files out and count them, and name the path in every
//! error; labels, ids and paths are reachable inside an action.

use std::path::Path;
use std::time::Duration;

use batchline::images::{ImageError, ImagesBatch, ImagesBatchActions, ImagesSource};
use batchline::IndexError;
use batchline::{Batch, Context, RunSpec};

use crate::common::with_watchdog;

fn png(root: &Path, rel: &str, value: u8) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(3, 2, image::Rgb([value, 0, 0]))
        .save_with_format(&path, image::ImageFormat::Png)
        .unwrap();
}

fn touch(root: &Path, rel: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"not an image").unwrap();
}

/// The layout of the torchvision reference: classes out of order on disk, nested folders,
/// mixed-case extensions, hidden entries, a stray file in the root, a non-image file.
fn imagenet_like(root: &Path) {
    png(root, "zebra/b.png", 1);
    png(root, "zebra/a.PNG", 2);
    png(root, "cat/x/1.png", 3);
    png(root, "cat/2.jpeg.png", 4);
    png(root, "Dog/c.Jpg", 5);
    png(root, "ant/deep/er/0.png", 6);
    png(root, "ant/0.png", 7);
    png(root, ".ipynb_checkpoints/z.png", 8);
    png(root, "cat/.hidden.png", 9);
    png(root, "stray.png", 10);
    touch(root, "cat/labels.txt");
}

#[test]
fn image_folder_gives_torchvisions_mapping() {
    let dir = tempfile::tempdir().unwrap();
    imagenet_like(dir.path());
    let folder = ImagesSource::image_folder(dir.path()).unwrap();
    // Sorted by code point, as Python's sorted(): upper case first.
    assert_eq!(folder.classes, ["Dog", "ant", "cat", "zebra"]);
    let mapping: Vec<(&str, i64)> = folder
        .class_to_idx
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(mapping, [("Dog", 0), ("ant", 1), ("cat", 2), ("zebra", 3)]);
    assert_eq!(
        folder.files.index().ids(),
        [
            "Dog/c.Jpg",
            "ant/0.png",
            "ant/deep/er/0.png",
            "cat/2.jpeg.png",
            "cat/x/1.png",
            "zebra/a.PNG",
            "zebra/b.png",
        ]
    );
    // Two hidden entries (a folder, a file); the text file and the stray file in the root.
    assert_eq!(
        (folder.skipped.hidden, folder.skipped.other),
        (2, 2),
        "{:?}",
        folder.skipped
    );
    assert_eq!(
        folder.files.path("cat/x/1.png").unwrap(),
        dir.path().join("cat/x/1.png")
    );

    // Loading gives each image its class's label, aligned with ids and pixels.
    let batch = with_watchdog(Duration::from_secs(30), move || {
        folder
            .dataset
            .p()
            .load()
            .next_batch(&RunSpec::new(7).shuffle(3))
            .unwrap()
            .unwrap()
    });
    let expected = |id: &str| match id.split('/').next().unwrap() {
        "Dog" => 0,
        "ant" => 1,
        "cat" => 2,
        _ => 3,
    };
    let pixel = |id: &str| match id {
        "Dog/c.Jpg" => 5,
        "ant/0.png" => 7,
        "ant/deep/er/0.png" => 6,
        "cat/2.jpeg.png" => 4,
        "cat/x/1.png" => 3,
        "zebra/a.PNG" => 2,
        _ => 1,
    };
    let labels = batch.labels.clone().unwrap();
    for (i, id) in batch.ids().iter().enumerate() {
        assert_eq!(labels[i], expected(id), "{id}");
        assert_eq!(
            batch.images[i].to_rgb8().get_pixel(0, 0)[0],
            pixel(id),
            "{id}"
        );
    }
}

#[test]
fn labels_ids_and_paths_are_reachable_inside_an_action() {
    let dir = tempfile::tempdir().unwrap();
    imagenet_like(dir.path());
    let folder = ImagesSource::image_folder(dir.path()).unwrap();
    let root = dir.path().to_path_buf();
    let seen = with_watchdog(Duration::from_secs(30), move || {
        let p = folder.dataset.p().apply(
            "look",
            move |b: &mut ImagesBatch, _: &mut Context| -> batchline::ActionResult {
                // Before loading: from the source, by id.
                for (i, id) in b.ids().iter().enumerate() {
                    assert_eq!(b.path(i).unwrap(), root.join(id));
                    let class = id.split('/').next().unwrap();
                    assert_eq!(
                        b.source().label(id).unwrap(),
                        ["Dog", "ant", "cat", "zebra"]
                            .iter()
                            .position(|c| *c == class)
                            .unwrap() as i64
                    );
                }
                Ok(())
            },
        );
        p.run(&RunSpec::new(3).prefetch(1)).unwrap().items
    });
    assert_eq!(seen, 7);
}

#[test]
fn folder_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();

    // A root that does not exist.
    let missing = dir.path().join("nope");
    let err = ImagesSource::image_folder(&missing).unwrap_err();
    assert!(
        matches!(&err, ImageError::Index(IndexError::Io { path, .. }) if path == &missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("nope"), "{err}");

    // A root with files but no class folder.
    png(dir.path(), "flat/a.png", 1);
    let err = ImagesSource::image_folder(dir.path().join("flat")).unwrap_err();
    assert!(matches!(&err, ImageError::NoClasses { .. }), "{err:?}");
    assert!(err.to_string().contains("flat"), "{err}");

    // An empty root.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let err = ImagesSource::image_folder(dir.path().join("empty")).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");

    // A class folder without images (only a text file), next to a good one.
    png(dir.path(), "two/good/a.png", 1);
    touch(dir.path(), "two/bad/readme.txt");
    let err = ImagesSource::image_folder(dir.path().join("two")).unwrap_err();
    match &err {
        ImageError::EmptyClass { path, .. } => assert_eq!(path, &dir.path().join("two/bad")),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("two/bad"), "{err}");

    // Every class empty: the first is named.
    touch(dir.path(), "none/a/x.txt");
    std::fs::create_dir_all(dir.path().join("none/b")).unwrap();
    let err = ImagesSource::image_folder(dir.path().join("none")).unwrap_err();
    assert!(err.to_string().contains("none/a"), "{err}");

    // A file as the root.
    let err = ImagesSource::image_folder(dir.path().join("flat/a.png")).unwrap_err();
    assert!(err.to_string().contains("a.png"), "{err}");
}

#[test]
fn other_extensions_and_equal_names_in_several_classes() {
    let dir = tempfile::tempdir().unwrap();
    // The failure of the issue: equal names in different folders.
    png(dir.path(), "bird/0000.png", 1);
    png(dir.path(), "cat/0000.png", 2);
    std::fs::rename(
        dir.path().join("cat/0000.png"),
        dir.path().join("cat/0000.PiC"),
    )
    .unwrap();
    let folder = ImagesSource::image_folder(dir.path());
    assert!(
        matches!(&folder, Err(ImageError::EmptyClass { path, .. }) if path.ends_with("cat")),
        "{folder:?}"
    );
    let folder = ImagesSource::image_folder_with(dir.path(), &["png", "pic"]).unwrap();
    assert_eq!(
        folder.files.index().ids(),
        ["bird/0000.png", "cat/0000.PiC"]
    );
    assert_eq!(folder.skipped.other, 0);
}
