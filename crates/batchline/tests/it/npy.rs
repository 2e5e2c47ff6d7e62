//! `.npy` / `.npz` sources on files made here byte by byte: values of every dtype, rows across
//! shards, `.npz` members, and every bad input an error naming the file.

use std::io::Write;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int16Type, UInt32Type, UInt8Type};

use arrow_schema::DataType;
use batchline::table::{TableBatch, TableBatchActions, TableError, TableSource};
use batchline::{Batch, Dataset, DatasetIndex, RunSpec};

/// A `.npy` file (version 1.0) with this header dict and these value bytes.
fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

fn i64_bytes(values: impl IntoIterator<Item = i64>) -> Vec<u8> {
    values.into_iter().flat_map(i64::to_le_bytes).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn features_and_labels_from_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    let y = dir.path().join("y.npy");
    // x[i] = [10i, 10i+1, 10i+2]; y[i] = i * 7.
    write(
        &x,
        &npy_bytes(
            "<f4",
            "(6, 3)",
            &f32_bytes((0..6).flat_map(|i| (0..3).map(move |j| (10 * i + j) as f32))),
        ),
    );
    write(
        &y,
        &npy_bytes("<i8", "(6,)", &i64_bytes((0..6).map(|i| i * 7))),
    );
    let source = TableSource::npy([("x", s(&x)), ("y", s(&y))]).unwrap();
    assert_eq!(source.rows(), 6);
    assert!(matches!(
        source.schema().field(0).data_type(),
        DataType::FixedSizeList(_, 3)
    ));
    let ds: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(6), source);
    let mut b = ds.create_batch(&[5, 0, 2, 3]).unwrap();
    b.load().unwrap();
    assert_eq!(
        b.matrix_view("x").unwrap(),
        ndarray::array![
            [50.0_f32, 51.0, 52.0],
            [0.0, 1.0, 2.0],
            [20.0, 21.0, 22.0],
            [30.0, 31.0, 32.0]
        ]
    );
    assert_eq!(b.labels("y").unwrap().to_vec(), [35, 0, 14, 21]);

    // Through a shuffled run with prefetch: every row once per epoch, with its own label.
    let spec = RunSpec::new(4).shuffle(1).prefetch(2);
    let mut seen = Vec::new();
    for batch in ds
        .p()
        .load()
        .to_tensor(vec!["x".into()])
        .gen_batch(&spec)
        .unwrap()
    {
        let batch = batch.unwrap();
        let labels = batch.labels("y").unwrap();
        for (r, &id) in batch.ids().iter().enumerate() {
            assert_eq!(labels[r], id as i64 * 7);
            assert_eq!(batch.tensor().unwrap()[[r, 1]], (10 * id + 1) as f32);
        }
        seen.extend_from_slice(batch.ids());
    }
    seen.sort();
    assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn every_supported_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    write(&p("u1.npy"), &npy_bytes("|u1", "(3,)", &[7, 8, 255]));
    write(
        &p("i2.npy"),
        &npy_bytes(
            "<i2",
            "(3,)",
            &[-5_i16, 6, 300].map(i16::to_le_bytes).concat(),
        ),
    );
    write(
        &p("u4.npy"),
        &npy_bytes(
            "<u4",
            "(3,)",
            &[1_u32, 2, 4_000_000_000].map(u32::to_le_bytes).concat(),
        ),
    );
    write(
        &p("f8.npy"),
        &npy_bytes(
            "<f8",
            "(3,)",
            &[0.5_f64, -1.25, 3.0].map(f64::to_le_bytes).concat(),
        ),
    );
    write(&p("b1.npy"), &npy_bytes("|b1", "(3,)", &[1, 0, 1]));
    let source = TableSource::npy([
        ("u1", s(&p("u1.npy"))),
        ("i2", s(&p("i2.npy"))),
        ("u4", s(&p("u4.npy"))),
        ("f8", s(&p("f8.npy"))),
        ("b1", s(&p("b1.npy"))),
    ])
    .unwrap();
    let t = source.take(&[2, 0]).unwrap();
    assert_eq!(
        t.column(0).as_primitive::<UInt8Type>().values().to_vec(),
        [255, 7]
    );
    assert_eq!(
        t.column(1).as_primitive::<Int16Type>().values().to_vec(),
        [300, -5]
    );
    assert_eq!(
        t.column(2).as_primitive::<UInt32Type>().values().to_vec(),
        [4_000_000_000, 1]
    );
    assert_eq!(
        t.column(3).as_primitive::<Float64Type>().values().to_vec(),
        [3.0, 0.5]
    );
    let b1 = t.column(4).as_boolean();
    assert_eq!((b1.value(0), b1.value(1)), (true, true));
    assert!(!source.take(&[1]).unwrap().column(4).as_boolean().value(0));
}

#[test]
fn shards_of_a_folder_or_glob_are_one_column() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    // 4 + 3 + 5 rows, x[i] = [i, -i] across shards; a file of another extension is ignored.
    let mut start = 0;
    for (k, n) in [4, 3, 5].into_iter().enumerate() {
        let values = (start..start + n).flat_map(|i| [i as f32, -(i as f32)]);
        write(
            &shards.join(format!("x-{k:03}.npy")),
            &npy_bytes("<f4", &format!("({n}, 2)"), &f32_bytes(values)),
        );
        start += n;
    }
    write(&shards.join("README.txt"), b"not an array");
    let from_dir = TableSource::npy([("x", s(&shards))]).unwrap();
    let pattern = format!("{}/x-*.npy", s(&shards));
    let from_glob = TableSource::npy([("x", pattern.as_str())]).unwrap();
    assert_eq!((from_dir.rows(), from_glob.rows()), (12, 12));
    // A run of consecutive rows that crosses two shard boundaries, then rows out of order.
    let rows = [2, 3, 4, 5, 6, 7, 8, 11, 0];
    for source in [&from_dir, &from_glob] {
        let t = source.take(&rows).unwrap();
        let list = t.column(0).as_fixed_size_list();
        let values = list
            .values()
            .as_primitive::<arrow_array::types::Float32Type>();
        let firsts: Vec<f32> = (0..rows.len()).map(|r| values.value(2 * r)).collect();
        assert_eq!(firsts, rows.map(|r| r as f32));
        assert_eq!(values.value(2 * 7 + 1), -11.0);
    }
    assert!(matches!(
        from_dir.take(&[12]),
        Err(TableError::RowOutOfRange { row: 12, rows: 12 })
    ));
}

fn npz(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn npz_members_are_columns_and_shards_concatenate() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..2_i64 {
        npz(
            &dir.path().join(format!("part-{k}.npz")),
            &[
                (
                    "x.npy",
                    npy_bytes(
                        "<f4",
                        "(3, 2)",
                        &f32_bytes((0..6).map(|v| (k * 100 + v) as f32)),
                    ),
                ),
                (
                    "y.npy",
                    npy_bytes("<i8", "(3,)", &i64_bytes((0..3).map(|i| k * 3 + i))),
                ),
            ],
        );
    }
    let source = TableSource::npz(s(dir.path())).unwrap();
    assert_eq!(source.column_names(), ["x", "y"]);
    assert_eq!(source.rows(), 6);
    let ds: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(6), source);
    let mut b = ds.create_batch(&[4, 1]).unwrap();
    b.load().unwrap();
    assert_eq!(b.labels("y").unwrap().to_vec(), [4, 1]);
    assert_eq!(
        b.matrix(&["x"]).unwrap(),
        ndarray::array![[102.0, 103.0], [2.0, 3.0]]
    );
}

/// The error of opening `bytes` as a `.npy` column.
fn npy_error(bytes: &[u8]) -> TableError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.npy");
    write(&path, bytes);
    let err = TableSource::npy([("x", s(&path))]).unwrap_err();
    assert!(err.to_string().contains("bad.npy"), "{err}");
    err
}

#[test]
fn bad_npy_files_are_errors_naming_the_file_and_the_fault() {
    for (bytes, says) in [
        (
            npy_bytes("<c8", "(2,)", &[0; 16]),
            "unsupported dtype \"<c8\"",
        ),
        (
            npy_bytes(">f4", "(2,)", &[0; 8]),
            "unsupported dtype \">f4\"",
        ),
        (npy_bytes("<f4", "(10, 2)", &[0; 40]), "truncated"),
        (npy_bytes("<f4", "()", &[0; 4]), "0-dimensional"),
        (b"PK\x03\x04 not an array at all".to_vec(), "magic"),
        (b"\x93NUMPY".to_vec(), "too short"),
        (Vec::new(), "too short"),
        (b"\x93NUMPY\x09\x00\x10\x00{}".to_vec(), "version 9"),
        (
            b"\x93NUMPY\x01\x00\xff\x00{'descr'".to_vec(),
            "past the end",
        ),
    ] {
        let err = npy_error(&bytes);
        assert!(matches!(err, TableError::Npy { .. }), "{err}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
    let mut fortran = npy_bytes("<f4", "(2, 2)", &[0; 16]);
    let at = fortran.windows(5).position(|w| w == b"False").unwrap();
    fortran.splice(at..at + 5, *b"True ");
    assert!(npy_error(&fortran).to_string().contains("Fortran"));
    let err = TableSource::npy([("x", "/no/such/dir/x-*.npy")]).unwrap_err();
    assert!(matches!(err, TableError::NoFiles { .. }), "{err}");
}

#[test]
fn shards_and_columns_that_do_not_fit_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    write(&p("a-0.npy"), &npy_bytes("<f4", "(2, 2)", &[0; 16]));
    write(&p("a-1.npy"), &npy_bytes("<f4", "(2, 3)", &[0; 24]));
    let pattern = format!("{}/a-*.npy", s(dir.path()));
    let err = TableSource::npy([("a", pattern.as_str())]).unwrap_err();
    assert!(matches!(err, TableError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("a-1.npy"), "{err}");
    write(&p("b.npy"), &npy_bytes("<f4", "(3,)", &[0; 12]));
    write(&p("c.npy"), &npy_bytes("<f4", "(4,)", &[0; 16]));
    let err = TableSource::npy([("b", s(&p("b.npy"))), ("c", s(&p("c.npy")))]).unwrap_err();
    assert!(err.to_string().contains("4 rows"), "{err}");

    // An .npz member that is compressed cannot be read in place: its method is patched to
    // deflate (8) in the local and the central header.
    let z = p("z.npz");
    npz(&z, &[("x.npy", npy_bytes("<f4", "(1,)", &[0; 4]))]);
    let mut bytes = std::fs::read(&z).unwrap();
    for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
        let at = bytes.windows(4).position(|w| w == sig).unwrap();
        let field = if sig[2] == 3 { at + 8 } else { at + 10 };
        bytes[field] = 8;
    }
    write(&z, &bytes);
    let err = TableSource::npz(s(&z)).unwrap_err();
    assert!(err.to_string().contains("compressed"), "{err}");
    write(&p("junk.npz"), b"not a zip");
    let err = TableSource::npz(s(&p("junk.npz"))).unwrap_err();
    assert!(err.to_string().contains("junk.npz"), "{err}");
}
