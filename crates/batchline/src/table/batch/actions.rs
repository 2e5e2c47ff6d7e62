//! The actions of [`TableBatch`] (pipeline steps of [`TableBatchActions`]) and the format of
//! its `dump`.

use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::Array;
use arrow_schema::DataType;

use super::columns::{column_of, fill, type_error};
use super::TableBatch;
use crate::plan::Context;
use crate::table::{TableError, TableStats};

/// The file format of the `dump` action.
///
/// # Examples
///
/// ```
/// use batchline::table::DumpFormat;
/// assert_ne!(DumpFormat::Parquet, DumpFormat::Npy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DumpFormat {
    /// One Parquet file per batch, `part-<batch>.parquet` (snappy), every column.
    Parquet,
    /// One `.npy` file per column and batch, `<column>-<batch>.npy`: numeric or boolean
    /// columns, or fixed-size lists of them, without nulls.
    Npy,
}

/// Actions of [`TableBatch`]: pipeline steps of `Pipeline<TableBatch>`.
#[batchline_macros::actions]
impl TableBatch {
    /// Reads the batch's rows (every column of the source) into its table.
    #[action]
    pub fn load(&mut self) -> Result<(), TableError> {
        self.table = Some(self.source.take(self.index.ids())?);
        Ok(())
    }

    /// Keeps only these columns, in this order.
    #[action]
    pub fn select(&mut self, columns: Vec<String>) -> Result<(), TableError> {
        let indices = columns
            .iter()
            .map(|c| self.index_of(c))
            .collect::<Result<Vec<_>, _>>()?;
        let table = self
            .table()?
            .project(&indices)
            .map_err(TableError::arrow("selecting columns"))?;
        self.table = Some(table);
        Ok(())
    }

    /// Standardises the columns of `stats` (fitted, say, on the training split):
    /// `(x - mean) / std` per element, as `f32` (a constant element, `std == 0`, becomes
    /// `x - mean`). Nulls stay null.
    #[action]
    pub fn standardize(&mut self, stats: TableStats) -> Result<(), TableError> {
        self.map_stats(&stats, |v, s, j| {
            let std = if s.std[j] > 0.0 { s.std[j] } else { 1.0 };
            (v - s.mean[j]) / std
        })
    }

    /// Rescales the columns of `stats` to `[0, 1]` over the fitted range:
    /// `(x - min) / (max - min)` per element, as `f32` (a constant element becomes 0). Values
    /// outside the fitted range fall outside `[0, 1]`. Nulls stay null.
    #[action]
    pub fn normalize(&mut self, stats: TableStats) -> Result<(), TableError> {
        self.map_stats(&stats, |v, s, j| {
            let range = s.max[j] - s.min[j];
            if range > 0.0 {
                (v - s.min[j]) / range
            } else {
                0.0
            }
        })
    }

    /// Replaces the nulls of these numeric columns by `value` (converted to each column's
    /// type; an error if it does not fit, e.g. `0.5` in an integer column).
    #[action]
    pub fn fill_null(&mut self, columns: Vec<String>, value: f64) -> Result<(), TableError> {
        let mut new = Vec::new();
        for c in &columns {
            let i = self.index_of(c)?;
            new.push((i, fill(c, self.table()?.column(i), value)?));
        }
        self.replace(new)
    }

    /// Replaces an integer column by its one-hot encoding: a fixed-size list column of
    /// `classes` `f32` values (a null becomes all zeros).
    #[action]
    pub fn one_hot(&mut self, column: String, classes: usize) -> Result<(), TableError> {
        let i = self.index_of(&column)?;
        let array = self.table()?.column(i);
        if !array.data_type().is_integer() {
            return Err(type_error(
                &column,
                format!("one_hot needs an integer column, not {}", array.data_type()),
            ));
        }
        let cast = arrow_cast::cast(array, &DataType::Int64)
            .map_err(TableError::arrow(format!("column {column:?} as i64")))?;
        let cast = cast.as_primitive::<Int64Type>();
        let mut values = vec![0.0_f32; cast.len() * classes];
        for (r, v) in cast.iter().enumerate() {
            if let Some(v) = v {
                if v < 0 || v as u64 >= classes as u64 {
                    return Err(type_error(
                        &column,
                        format!("value {v} (row {r} of the batch) is not a class of 0..{classes}"),
                    ));
                }
                values[r * classes + v as usize] = 1.0;
            }
        }
        let encoded = column_of(values, None, classes, true);
        self.replace(vec![(i, encoded)])
    }

    /// Makes one `f32` matrix of these columns (see [`matrix`](Self::matrix)), read with
    /// [`tensor`](Self::tensor).
    #[action]
    pub fn to_tensor(&mut self, columns: Vec<String>) -> Result<(), TableError> {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        self.tensor = Some(self.matrix(&names)?);
        Ok(())
    }

    /// Writes the batch's table into the folder `dir` (created if missing), in files named by
    /// the batch number: `part-000042.parquet` ([`DumpFormat::Parquet`]) or
    /// `<column>-000042.npy` ([`DumpFormat::Npy`]), so that the files read back in name order
    /// (`TableSource::parquet(dir)`, `TableSource::npy([(column, "dir/<column>-*.npy")])`)
    /// give the batches in batch order. Ordered: batches are written one at a time, in batch
    /// order.
    #[action(ordered)]
    pub fn dump(&self, dir: PathBuf, format: DumpFormat, ctx: &Context) -> Result<(), TableError> {
        std::fs::create_dir_all(&dir).map_err(TableError::io(&dir))?;
        let table = self.table()?;
        let batch = ctx.batch();
        match format {
            DumpFormat::Parquet => crate::table::parquet::write_parquet(
                &dir.join(format!("part-{batch:06}.parquet")),
                table,
            ),
            DumpFormat::Npy => {
                for (field, column) in table.schema().fields().iter().zip(table.columns()) {
                    let path = dir.join(format!("{}-{batch:06}.npy", field.name()));
                    crate::table::npy::write_npy(&path, field.name(), column.as_ref())?;
                }
                Ok(())
            }
        }
    }
}
