//! CSV and Parquet sources and the `dump` action, on files made here: inferred and declared
//! schemas, errors naming the line and column, row groups read through a bounded cache,
//! projection, shards, truncated files, and dumps read back in batch order.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use batchline::table::{
    CsvOptions, DumpFormat, ParquetOptions, TableBatch, TableBatchActions, TableError, TableSource,
};
use batchline::{Batch, Dataset, DatasetIndex, RunSpec};

fn csv(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("t.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn csv_with_an_inferred_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv(
        dir.path(),
        "f1,f2,name,label\n0.5,1,a,3\n1.5,2,b,4\n-2,3,c,5\n",
    );
    let source = TableSource::csv(&path, &CsvOptions::new()).unwrap();
    let schema = source.schema();
    let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
    assert_eq!(
        types,
        [
            &DataType::Float64,
            &DataType::Int64,
            &DataType::Utf8,
            &DataType::Int64
        ]
    );
    let ds: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(3), source);
    let mut b = ds.create_batch(&[2, 0]).unwrap();
    b.load().unwrap();
    assert_eq!(
        b.matrix(&["f1", "f2"]).unwrap(),
        ndarray::array![[-2.0, 3.0], [0.5, 1.0]]
    );
    assert_eq!(b.labels("label").unwrap().to_vec(), [5, 3]);
}

#[test]
fn csv_with_a_declared_schema_delimiter_and_no_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = csv(dir.path(), "1;2.5\n3;4.5\n");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float32, false),
    ]));
    let options = CsvOptions::new()
        .header(false)
        .delimiter(b';')
        .schema(schema);
    let t = TableSource::csv(&path, &options)
        .unwrap()
        .take(&[1, 0])
        .unwrap();
    assert_eq!(
        t.column(0).as_primitive::<Int64Type>().values().to_vec(),
        [3, 1]
    );
    assert_eq!(
        t.column(1).as_primitive::<Float32Type>().values().to_vec(),
        [4.5, 2.5]
    );
}

#[test]
fn csv_errors_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Float64, false),
    ]));
    // Line 1 is the header: the bad value is on line 4, in column 1 (0-based: b).
    let path = csv(dir.path(), "a,b\n1,2\n3,4\n5,x\n");
    let err = TableSource::csv(&path, &CsvOptions::new().schema(Arc::clone(&schema))).unwrap_err();
    assert!(matches!(err, TableError::Csv { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("t.csv"), "{text}");
    assert!(
        text.contains("'x'") && text.contains("line 4") && text.contains("column 1 (\"b\")"),
        "{text}"
    );
    // A row with too many fields: line 3.
    let path = csv(dir.path(), "a,b\n1,2\n3,4,5\n");
    for options in [
        CsvOptions::new(),
        CsvOptions::new().schema(Arc::clone(&schema)),
    ] {
        let err = TableSource::csv(&path, &options).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, TableError::Csv { .. }), "{text}");
        assert!(text.contains("t.csv") && text.contains("line 3"), "{text}");
        assert!(text.contains("found 3") || text.contains("got 3"), "{text}");
    }
    let err = TableSource::csv(dir.path().join("missing.csv"), &CsvOptions::new()).unwrap_err();
    assert!(matches!(err, TableError::Io { .. }) && err.to_string().contains("missing.csv"));
}

/// A Parquet file of `n` rows (`x` = i as f32, `y` = i, `s` = "r<i>") in row groups of `group`.
fn parquet(path: &Path, start: i64, n: i64, group: usize) {
    let table = RecordBatch::try_from_iter([
        (
            "x",
            Arc::new(Float32Array::from_iter_values(
                (start..start + n).map(|i| i as f32),
            )) as ArrayRef,
        ),
        (
            "y",
            Arc::new(Int64Array::from_iter_values(start..start + n)) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter_values(
                (start..start + n).map(|i| format!("r{i}")),
            )) as ArrayRef,
        ),
    ])
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, table.schema(), Some(props)).unwrap();
    writer.write(&table).unwrap();
    writer.close().unwrap();
}

fn ys(t: &RecordBatch, column: usize) -> Vec<i64> {
    t.column(column)
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

#[test]
fn parquet_rows_by_row_group_with_a_bounded_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    parquet(&path, 0, 1000, 100); // 10 row groups
    let p = path.to_str().unwrap();
    let source = TableSource::parquet(p, &ParquetOptions::new().cache_row_groups(3)).unwrap();
    assert_eq!((source.rows(), source.row_groups()), (1000, (0, 0)));
    let rows = [999, 0, 150, 151, 420, 5];
    assert_eq!(ys(&source.take(&rows).unwrap(), 1), rows.map(|r| r as i64));
    assert_eq!(source.row_groups(), (4, 3)); // groups 0, 1, 4 and 9, each decoded once
                                             // A full shuffled epoch: every row once, the cache never above its bound.
    let ds: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(1000), source.clone());
    let mut seen = Vec::new();
    for b in ds
        .p()
        .load()
        .gen_batch(&RunSpec::new(50).shuffle(3).prefetch(2))
        .unwrap()
    {
        let b = b.unwrap();
        assert_eq!(
            b.labels("y")
                .unwrap()
                .iter()
                .map(|&v| v as usize)
                .collect::<Vec<_>>(),
            b.ids()
        );
        assert!(source.row_groups().1 <= 3);
        seen.extend_from_slice(b.ids());
    }
    seen.sort();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    let shuffled_decodes = source.row_groups().0 - 4;
    // Block-shuffled with a window the size of the cache: each row group decoded once.
    let fresh = TableSource::parquet(p, &ParquetOptions::new().cache_row_groups(3)).unwrap();
    let blocks = fresh.block_shuffled(9, 3);
    let ds: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(1000), blocks);
    let mut values = Vec::new();
    for b in ds.p().load().gen_batch(&RunSpec::new(50)).unwrap() {
        values.extend(b.unwrap().labels("y").unwrap());
    }
    assert_eq!(fresh.row_groups().0, 10);
    // With prefetch, workers that want the same row group at once share one decoding.
    let fresh = TableSource::parquet(p, &ParquetOptions::new().cache_row_groups(8)).unwrap();
    let ds: Dataset<TableBatch> =
        Dataset::new(DatasetIndex::from_count(1000), fresh.block_shuffled(9, 3));
    for b in ds
        .p()
        .load()
        .gen_batch(&RunSpec::new(50).prefetch(3))
        .unwrap()
    {
        assert_eq!(b.unwrap().len(), 50);
    }
    assert_eq!(fresh.row_groups().0, 10);
    assert!(shuffled_decodes > 50, "{shuffled_decodes}");
    assert_ne!(values[..3], [0, 1, 2]);
    values.sort();
    assert_eq!(values, (0..1000).collect::<Vec<i64>>());
}

#[test]
fn parquet_projection_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    parquet(&shards.join("part-0.parquet"), 0, 30, 7);
    parquet(&shards.join("part-1.parquet"), 30, 20, 7);
    std::fs::write(shards.join("_SUCCESS"), b"").unwrap();
    let s = shards.to_str().unwrap();
    let source = TableSource::parquet(s, &ParquetOptions::new().columns(&["y", "x"])).unwrap();
    assert_eq!(source.column_names(), ["x", "y"]); // file order
    assert_eq!(source.rows(), 50);
    assert_eq!(
        ys(&source.take(&[49, 29, 30, 0]).unwrap(), 1),
        [49, 29, 30, 0]
    );
    let glob = format!("{s}/part-*.parquet");
    assert_eq!(
        TableSource::parquet(&glob, &ParquetOptions::new())
            .unwrap()
            .rows(),
        50
    );

    let err = TableSource::parquet(s, &ParquetOptions::new().columns(&["nope"])).unwrap_err();
    assert!(matches!(err, TableError::UnknownColumn { .. }), "{err}");
    assert!(err.to_string().contains("\"nope\""));
    // A shard with another schema.
    let other =
        RecordBatch::try_from_iter([("z", Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
            .unwrap();
    let file = std::fs::File::create(shards.join("part-2.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, other.schema(), None).unwrap();
    w.write(&other).unwrap();
    w.close().unwrap();
    let err = TableSource::parquet(s, &ParquetOptions::new()).unwrap_err();
    assert!(matches!(err, TableError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("part-2.parquet"), "{err}");
}

#[test]
fn truncated_or_foreign_parquet_files_are_errors_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    parquet(&path, 0, 500, 100);
    let bytes = std::fs::read(&path).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 3, 4] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = TableSource::parquet(path.to_str().unwrap(), &ParquetOptions::new()).unwrap_err();
        assert!(matches!(err, TableError::Parquet { .. }), "{cut}: {err}");
        assert!(err.to_string().contains("t.parquet"), "{err}");
    }
    let err = TableSource::parquet("/no/such/*.parquet", &ParquetOptions::new()).unwrap_err();
    assert!(matches!(err, TableError::NoFiles { .. }), "{err}");
}

#[test]
fn dump_writes_batches_that_read_back_in_batch_order() {
    let dir = tempfile::tempdir().unwrap();
    let t = RecordBatch::try_from_iter([
        (
            "x",
            Arc::new(Float32Array::from_iter_values(
                (0..23).map(|i| i as f32 * 0.5),
            )) as ArrayRef,
        ),
        (
            "y",
            Arc::new(Int64Array::from_iter_values(0..23)) as ArrayRef,
        ),
    ])
    .unwrap();
    let ds: Dataset<TableBatch> =
        Dataset::new(DatasetIndex::from_count(23), TableSource::from_batch(t));
    let out_pq = dir.path().join("pq");
    let out_npy = dir.path().join("npy");
    let spec = RunSpec::new(5).shuffle(4).prefetch(3);
    let mut order = Vec::new();
    let p = ds
        .p()
        .load()
        .dump(out_pq.clone(), DumpFormat::Parquet)
        .dump(out_npy.clone(), DumpFormat::Npy);
    for b in p.gen_batch(&spec).unwrap() {
        order.extend(b.unwrap().ids().iter().map(|&i| i as i64));
    }
    let back = TableSource::parquet(out_pq.to_str().unwrap(), &ParquetOptions::new()).unwrap();
    let all: Vec<usize> = (0..23).collect();
    let rows = back.take(&all).unwrap();
    assert_eq!(ys(&rows, 1), order);
    assert_eq!(
        rows.column(0)
            .as_primitive::<Float32Type>()
            .values()
            .to_vec(),
        order.iter().map(|&i| i as f32 * 0.5).collect::<Vec<_>>()
    );
    let x = format!("{}/x-*.npy", out_npy.display());
    let y = format!("{}/y-*.npy", out_npy.display());
    let back = TableSource::npy([("x", x.as_str()), ("y", y.as_str())]).unwrap();
    let rows = back.take(&all).unwrap();
    assert_eq!(ys(&rows, 1), order);
    // numpy's alignment: the values of a .npy start at a multiple of 64 bytes.
    let first = std::fs::read(out_npy.join("y-000000.npy")).unwrap();
    let header_len = u16::from_le_bytes([first[8], first[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    assert_eq!(first.len(), 10 + header_len + 5 * 8);

    // A column .npy cannot hold: strings.
    let t = RecordBatch::try_from_iter([("s", Arc::new(StringArray::from(vec!["a"])) as ArrayRef)])
        .unwrap();
    let ds: Dataset<TableBatch> =
        Dataset::new(DatasetIndex::from_count(1), TableSource::from_batch(t));
    let err = ds
        .p()
        .load()
        .dump(dir.path().join("bad"), DumpFormat::Npy)
        .gen_batch(&RunSpec::new(1))
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("\"s\""), "{err}");
}
