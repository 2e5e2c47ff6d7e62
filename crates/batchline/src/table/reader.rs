//! [`Reader`]: what every kind of table file provides to a [`TableSource`](super::TableSource).

use std::fmt;
use std::ops::Range;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::TableError;

/// What a reader of rows provides.
pub(super) trait Reader: Send + Sync + fmt::Debug {
    /// The schema of the rows.
    fn schema(&self) -> SchemaRef;
    /// The number of rows.
    fn rows(&self) -> usize;
    /// The rows with these numbers (all `< rows()`, checked by the caller), in this order.
    fn take(&self, rows: &[usize]) -> Result<RecordBatch, TableError>;
    /// Runs of rows that are cheapest to read together (row groups for Parquet).
    fn blocks(&self) -> Vec<Range<usize>> {
        fixed_blocks(self.rows(), 65_536)
    }
    /// Row groups decoded so far, and row groups in the cache now (Parquet only).
    fn row_groups(&self) -> (u64, usize) {
        (0, 0)
    }
}

pub(super) fn fixed_blocks(rows: usize, size: usize) -> Vec<Range<usize>> {
    (0..rows.div_ceil(size))
        .map(|b| b * size..((b + 1) * size).min(rows))
        .collect()
}
