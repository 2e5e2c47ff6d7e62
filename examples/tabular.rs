//! 100 000 CSV rows of 32 features + a label: standardised (fit on train), batches of 256.
use batchline::table::{CsvOptions, TableBatch, TableBatchActions, TableSource, TableStats};
use batchline::{Dataset, DatasetIndex, RunSpec};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cols: Vec<String> = (0..32).map(|j| format!("f{j}")).collect();
    let mut csv = format!("{},label\n", cols.join(","));
    for i in 0..100_000_u64 {
        (0..32).for_each(|j| csv += &format!("{},", (i * 31 + j * 17) % 1000));
        csv += &format!("{}\n", i % 10);
    }
    let path = std::env::temp_dir().join("batchline-tabular.csv");
    std::fs::write(&path, csv)?;
    let source = TableSource::csv(&path, &CsvOptions::new())?;
    let index = DatasetIndex::from_count(source.rows());
    let split = Dataset::<TableBatch>::new(index, source).split(&[0.8], 42)?;
    let names: Vec<&str> = cols.iter().map(String::as_str).collect();
    let stats = TableStats::fit(&split.train, &names)?; // fitted on train, applied to both
    for (name, part) in [("train", &split.train), ("test", &split.test)] {
        let p = part.p().load().standardize(stats.clone());
        let (mut rows, mut sum, spec) = (0, 0.0, RunSpec::new(256).shuffle(7).prefetch(2));
        for batch in p.to_tensor(cols.clone()).gen_batch(&spec)? {
            let batch = batch?;
            let (x, y) = (batch.tensor()?, batch.labels("label")?); // f32 matrix, i64 labels
            (rows, sum) = (rows + y.len(), sum + x.column(0).sum() as f64);
        }
        println!("{name}: {rows} rows, mean of f0 = {:.4}", sum / rows as f64);
    }
    Ok(std::fs::remove_file(path)?)
}
