//! `TableBatch` over a table in memory: every action with exact values, statistics fitted on
//! one split and applied to another, typed access, merge / split_off through `rebatch`, and
//! the errors of bad columns and types.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field};
use batchline::table::{TableBatch, TableBatchActions, TableError, TableSource, TableStats};
use batchline::{Batch, Dataset, DatasetIndex, PipelineError, RunSpec, Shuffle};
use ndarray::array;

/// 10 rows: `a` = i, `b` = 10·i as f64 with a null at row 3, `y` = i % 3, `s` = a string,
/// `v` = a fixed-size list [i, -i].
fn table() -> RecordBatch {
    let v = FixedSizeListArray::new(
        Arc::new(Field::new_list_field(DataType::Float32, false)),
        2,
        Arc::new(Float32Array::from_iter_values(
            (0..10).flat_map(|i| [i as f32, -(i as f32)]),
        )),
        None,
    );
    RecordBatch::try_from_iter([
        (
            "a",
            Arc::new(Int32Array::from_iter_values(0..10)) as ArrayRef,
        ),
        (
            "b",
            Arc::new(Float64Array::from_iter(
                (0..10).map(|i| (i != 3).then_some(10.0 * i as f64)),
            )) as ArrayRef,
        ),
        (
            "y",
            Arc::new(Int64Array::from_iter_values((0..10).map(|i| i % 3))) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter_values(
                (0..10).map(|i| format!("r{i}")),
            )) as ArrayRef,
        ),
        ("v", Arc::new(v) as ArrayRef),
    ])
    .unwrap()
}

fn dataset() -> Dataset<TableBatch> {
    Dataset::new(
        DatasetIndex::from_count(10),
        TableSource::from_batch(table()),
    )
}

fn first(p: batchline::Pipeline<TableBatch>, size: usize) -> Result<TableBatch, PipelineError> {
    p.gen_batch(&RunSpec::new(size))?.next().unwrap()
}

#[test]
fn load_gathers_the_rows_of_the_ids_in_batch_order() {
    let ds = dataset();
    let mut b = ds.create_batch(&[7, 2, 9]).unwrap();
    assert!(matches!(b.table(), Err(TableError::NotLoaded)));
    let source = Arc::clone(ds.source());
    b.set_table(source.take(&[7, 2, 9]).unwrap()).unwrap();
    let a = b
        .column("a")
        .unwrap()
        .as_primitive::<arrow_array::types::Int32Type>();
    assert_eq!(a.values().to_vec(), [7, 2, 9]);
    assert_eq!(b.labels("y").unwrap().to_vec(), [1, 2, 0]);
    assert_eq!(
        b.matrix(&["a", "v"]).unwrap(),
        array![[7.0, 7.0, -7.0], [2.0, 2.0, -2.0], [9.0, 9.0, -9.0]]
    );
    assert_eq!(
        b.matrix_view("v").unwrap(),
        array![[7.0_f32, -7.0], [2.0, -2.0], [9.0, -9.0]]
    );
    assert!(b.set_table(source.take(&[1]).unwrap()).is_err());

    // Through a pipeline, shuffled: each batch holds exactly the rows of its ids.
    let spec = RunSpec::new(4).shuffle(3).n_epochs(2).prefetch(2);
    let mut seen = Vec::new();
    for batch in ds.p().load().gen_batch(&spec).unwrap() {
        let batch = batch.unwrap();
        let a: Vec<usize> = batch
            .column("a")
            .unwrap()
            .as_primitive::<arrow_array::types::Int32Type>()
            .values()
            .iter()
            .map(|&v| v as usize)
            .collect();
        assert_eq!(a, batch.ids());
        seen.extend(a);
    }
    seen.sort();
    assert_eq!(seen, (0..10).flat_map(|i| [i, i]).collect::<Vec<_>>());
}

#[test]
fn select_keeps_the_named_columns_in_order() {
    let b = first(dataset().p().load().select(vec!["y".into(), "a".into()]), 3).unwrap();
    let names: Vec<String> = b
        .table()
        .unwrap()
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["y", "a"]);
    let err = first(dataset().p().load().select(vec!["zz".into()]), 3).unwrap_err();
    assert!(err.to_string().contains("\"zz\""), "{err}");
}

#[test]
fn statistics_fitted_on_train_apply_to_test() {
    let split = dataset().split(&[0.5], Shuffle::Off).unwrap(); // train 0..5, test 5..10
    let stats = TableStats::fit(&split.train, &["a", "b", "v"]).unwrap();
    let a = stats.get("a").unwrap();
    // 0..5: mean 2, population std sqrt(2).
    assert_eq!((a.mean[0], a.count[0]), (2.0, 5));
    assert!((a.std[0] - 2.0_f64.sqrt()).abs() < 1e-12);
    let b = stats.get("b").unwrap(); // 0, 10, 20, 40 (row 3 is null)
    assert_eq!(
        (b.count[0], b.mean[0], b.min[0], b.max[0]),
        (4, 17.5, 0.0, 40.0)
    );
    let v = stats.get("v").unwrap();
    assert_eq!(
        (v.mean.clone(), v.min.clone()),
        (vec![2.0, -2.0], vec![0.0, -4.0])
    );

    let test = first(split.test.p().load().standardize(stats.clone()), 5).unwrap();
    let sa = test.column("a").unwrap().as_primitive::<Float32Type>();
    let expect: Vec<f32> = (5..10)
        .map(|i| ((i as f64 - 2.0) / 2.0_f64.sqrt()) as f32)
        .collect();
    assert_eq!(sa.values().to_vec(), expect);
    assert_eq!(
        test.matrix_view("v").unwrap().row(0).to_vec(),
        [
            ((5.0 - 2.0) / 2.0_f64.sqrt()) as f32,
            ((-5.0 + 2.0) / 2.0_f64.sqrt()) as f32
        ]
    );

    let train = first(split.train.p().load().normalize(stats), 5).unwrap();
    let nb = train.column("b").unwrap().as_primitive::<Float32Type>();
    assert_eq!(nb.null_count(), 1);
    assert!(nb.is_null(3));
    assert_eq!(
        [nb.value(0), nb.value(1), nb.value(2), nb.value(4)],
        [0.0, 0.25, 0.5, 1.0]
    );
}

#[test]
fn fill_null_one_hot_and_to_tensor() {
    let p = dataset()
        .p()
        .load()
        .fill_null(vec!["b".into()], -1.0)
        .one_hot("y".to_string(), 3)
        .to_tensor(vec!["b".into(), "y".into()]);
    let b = first(p, 5).unwrap();
    let t = b.tensor().unwrap();
    assert_eq!(t.shape(), &[5, 4]);
    assert_eq!(t.row(3).to_vec(), [-1.0, 1.0, 0.0, 0.0]); // b was null; y = 0
    assert_eq!(t.row(2).to_vec(), [20.0, 0.0, 0.0, 1.0]);
    assert_eq!(b.column("b").unwrap().null_count(), 0);
    assert!(matches!(
        b.column("b").unwrap().data_type(),
        DataType::Float64
    ));

    // A value that does not fit the column's type, a class out of range, a string column.
    let err = first(dataset().p().load().fill_null(vec!["a".into()], 0.5), 5).unwrap_err();
    assert!(err.to_string().contains("\"a\""), "{err}");
    let err = first(dataset().p().load().one_hot("y".to_string(), 2), 5).unwrap_err();
    assert!(err.to_string().contains("value 2"), "{err}");
    let err = first(dataset().p().load().to_tensor(vec!["s".into()]), 5).unwrap_err();
    assert!(err.to_string().contains("not numeric"), "{err}");
    // Nulls cannot go into a matrix, nor labels come from floats.
    let b = first(dataset().p().load(), 5).unwrap();
    assert!(matches!(
        b.matrix(&["b"]),
        Err(TableError::ColumnType { .. })
    ));
    assert!(matches!(b.labels("b"), Err(TableError::ColumnType { .. })));
    assert!(matches!(
        b.matrix_view("a"),
        Err(TableError::ColumnType { .. })
    ));
    assert!(matches!(b.tensor(), Err(TableError::NoTensor)));
    assert!(matches!(
        b.column("nope"),
        Err(TableError::UnknownColumn { .. })
    ));
}

#[test]
fn rebatch_merges_and_splits_tables_and_tensors() {
    let ds = Dataset::<TableBatch>::new(
        DatasetIndex::from_count(10),
        TableSource::from_batch(table()),
    );
    let spec = RunSpec::new(3).shuffle(11).prefetch(1);
    let p = ds.p().load().to_tensor(vec!["a".into()]);
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    for b in p.gen_batch(&spec).unwrap().rebatch(4) {
        let b = b.unwrap();
        sizes.push(b.len());
        let a: Vec<usize> = b
            .column("a")
            .unwrap()
            .as_primitive::<arrow_array::types::Int32Type>()
            .values()
            .iter()
            .map(|&v| v as usize)
            .collect();
        assert_eq!(a, b.ids());
        let t: Vec<usize> = b
            .tensor()
            .unwrap()
            .column(0)
            .iter()
            .map(|&v| v as usize)
            .collect();
        assert_eq!(t, b.ids());
        ids.extend(a);
    }
    assert_eq!(sizes, [4, 4, 2]);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());

    // Different columns do not merge.
    let mut x = first(ds.p().load(), 2).unwrap();
    let y = first(ds.p().load().select(vec!["a".into()]), 2).unwrap();
    assert!(x.merge(y).is_err());
    assert_eq!(x.table().unwrap().num_columns(), 5);
    assert!(x.split_off(3).is_err());
    let rest = x.split_off(1).unwrap();
    assert_eq!(
        (x.len(), rest.len(), rest.table().unwrap().num_rows()),
        (1, 1, 1)
    );
    let labels = rest
        .column("y")
        .unwrap()
        .as_primitive::<Int64Type>()
        .value(0);
    assert_eq!(labels, 1);
}

#[test]
fn a_row_beyond_the_source_is_an_error() {
    let ds = Dataset::<TableBatch>::new(
        DatasetIndex::from_count(12),
        TableSource::from_batch(table()),
    );
    let err = ds
        .p()
        .load()
        .gen_batch(&RunSpec::new(12))
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("row 10 is out of range"), "{err}");
}

#[test]
fn block_shuffled_sources_are_permutations_by_window() {
    let t = RecordBatch::try_from_iter([(
        "v",
        Arc::new(Int64Array::from_iter_values(0..300_000)) as ArrayRef,
    )])
    .unwrap();
    let source = TableSource::from_batch(t);
    let shuffled = source.block_shuffled(5, 2);
    let all: Vec<usize> = (0..300_000).collect();
    let rows = shuffled.take(&all).unwrap();
    let v: Vec<i64> = rows.column(0).as_primitive::<Int64Type>().values().to_vec();
    // Within each window, rows come from at most 2 blocks of 65 536 rows.
    let mut first_window: Vec<i64> = v[..2 * 65_536].iter().map(|r| r / 65_536).collect();
    first_window.sort();
    first_window.dedup();
    assert!(first_window.len() <= 2, "{first_window:?}");
    assert_ne!(v[..4], [0, 1, 2, 3]);
    let mut sorted = v.clone();
    sorted.sort();
    assert!(sorted.iter().enumerate().all(|(i, &r)| r == i as i64));
    // Seeded: the same seed gives the same order, another seed another.
    let again = source.block_shuffled(5, 2).take(&all[..1000]).unwrap();
    assert_eq!(
        again.column(0).as_primitive::<Int64Type>().values()[..],
        v[..1000]
    );
    let other = source.block_shuffled(6, 2).take(&all[..1000]).unwrap();
    assert_ne!(
        other.column(0).as_primitive::<Int64Type>().values()[..],
        v[..1000]
    );
}
