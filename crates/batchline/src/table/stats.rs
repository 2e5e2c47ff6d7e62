//! [`TableStats`]: per-column statistics fitted on one split, applied to others.

use super::batch::flat_f64;
use super::{TableBatch, TableError, TableSource};
use crate::dataset::Dataset;

/// The statistics of a numeric column, one value per element of its rows (one element for a
/// scalar column, `d` for a fixed-size list column of `d` values): what `standardize` and
/// `normalize` apply. Nulls are not counted.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float64Array, RecordBatch};
/// use batchline::table::{TableSource, TableStats};
///
/// let t = RecordBatch::try_from_iter([("v", Arc::new(Float64Array::from(vec![Some(1.0), None, Some(3.0)])) as _)])?;
/// let stats = TableStats::fit_rows(&TableSource::from_batch(t), &[0, 1, 2], &["v"])?;
/// let v = stats.get("v").unwrap();
/// assert_eq!((v.count[0], v.mean[0], v.std[0], v.min[0], v.max[0]), (2, 2.0, 1.0, 1.0, 3.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ColumnStats {
    /// The column.
    pub name: String,
    /// The non-null values, per element.
    pub count: Vec<u64>,
    /// The mean, per element.
    pub mean: Vec<f64>,
    /// The (population) standard deviation, per element.
    pub std: Vec<f64>,
    /// The minimum, per element.
    pub min: Vec<f64>,
    /// The maximum, per element.
    pub max: Vec<f64>,
}

/// Statistics of some numeric columns over some rows: fit them on the training split, then
/// pass them to the `standardize` / `normalize` actions of every split.
///
/// Fitting reads the rows in chunks of 65 536 (in row order, so that a Parquet source reads
/// each row group once), so it works on sources larger than memory.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{Float32Array, RecordBatch};
/// use batchline::table::{TableBatch, TableSource, TableStats};
/// use batchline::{Dataset, DatasetIndex};
///
/// let t = RecordBatch::try_from_iter([("x", Arc::new(Float32Array::from_iter_values((0..10).map(|i| i as f32))) as _)])?;
/// let source = TableSource::from_batch(t);
/// let dataset: Dataset<TableBatch> = Dataset::new(DatasetIndex::from_count(10), source);
/// let split = dataset.split(&[0.5], batchline::Shuffle::Off)?;
/// let stats = TableStats::fit(&split.train, &["x"])?; // rows 0..5 only
/// assert_eq!(stats.get("x").unwrap().mean, [2.0]);
/// assert!(TableStats::fit(&split.train, &["nope"]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TableStats {
    columns: Vec<ColumnStats>,
}

impl TableStats {
    /// Fits the statistics of `columns` over the rows of a dataset (a split, a subset).
    ///
    /// # Errors
    ///
    /// [`TableError::UnknownColumn`], [`TableError::ColumnType`] for a column that is not
    /// numeric, or a reader's error.
    pub fn fit(dataset: &Dataset<TableBatch>, columns: &[&str]) -> Result<Self, TableError> {
        Self::fit_rows(dataset.source(), dataset.index().ids(), columns)
    }

    /// Fits the statistics of `columns` over these rows of a source.
    ///
    /// # Errors
    ///
    /// As [`fit`](Self::fit).
    pub fn fit_rows(
        source: &TableSource,
        rows: &[usize],
        columns: &[&str],
    ) -> Result<Self, TableError> {
        let schema = source.schema();
        for c in columns {
            if schema.index_of(c).is_err() {
                return Err(TableError::UnknownColumn {
                    column: c.to_string(),
                    available: source.column_names(),
                });
            }
        }
        let mut sorted = rows.to_vec();
        sorted.sort_unstable();
        let mut acc: Vec<Option<Acc>> = columns.iter().map(|_| None).collect();
        for chunk in sorted.chunks(65_536) {
            let table = source.take(chunk)?;
            for (c, name) in columns.iter().enumerate() {
                let column =
                    table
                        .column_by_name(name)
                        .ok_or_else(|| TableError::UnknownColumn {
                            column: name.to_string(),
                            available: source.column_names(),
                        })?;
                let flat = flat_f64(name, column)?;
                let width = flat.width.max(1);
                let acc = acc[c].get_or_insert_with(|| Acc::new(flat.width));
                for (i, &v) in flat.values.iter().enumerate() {
                    if flat.valid(i) {
                        acc.add(i % width, v);
                    }
                }
            }
        }
        let columns = columns
            .iter()
            .zip(acc)
            .map(|(name, acc)| acc.unwrap_or_else(|| Acc::new(1)).finish(name))
            .collect();
        Ok(Self { columns })
    }

    /// The statistics of a column.
    pub fn get(&self, column: &str) -> Option<&ColumnStats> {
        self.columns.iter().find(|c| c.name == column)
    }

    /// Every column's statistics, in the order they were fitted.
    pub fn columns(&self) -> &[ColumnStats] {
        &self.columns
    }
}

/// Running sums per element (Welford's method: stable for large counts).
struct Acc {
    count: Vec<u64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Acc {
    fn new(width: usize) -> Self {
        Self {
            count: vec![0; width],
            mean: vec![0.0; width],
            m2: vec![0.0; width],
            min: vec![f64::INFINITY; width],
            max: vec![f64::NEG_INFINITY; width],
        }
    }

    fn add(&mut self, j: usize, v: f64) {
        self.count[j] += 1;
        let delta = v - self.mean[j];
        self.mean[j] += delta / self.count[j] as f64;
        self.m2[j] += delta * (v - self.mean[j]);
        self.min[j] = self.min[j].min(v);
        self.max[j] = self.max[j].max(v);
    }

    fn finish(self, name: &str) -> ColumnStats {
        let std = self
            .m2
            .iter()
            .zip(&self.count)
            .map(|(m2, &n)| if n == 0 { 0.0 } else { (m2 / n as f64).sqrt() })
            .collect();
        ColumnStats {
            name: name.to_string(),
            count: self.count,
            mean: self.mean,
            std,
            min: self.min,
            max: self.max,
        }
    }
}
