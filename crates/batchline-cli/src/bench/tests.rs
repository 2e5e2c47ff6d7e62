//! Tests of `batchline bench`: arguments, a quick run, the report's numbers.

use clap::Parser;

use super::harness::Kind;
use super::report::{human_rate, human_ratio};
use super::suites::burn;
use super::*;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn args(line: &[&str]) -> BenchArgs {
    Cli::try_parse_from(std::iter::once("bench").chain(line.iter().copied()))
        .expect("the arguments parse")
        .args
}

#[test]
fn defaults() {
    let s = args(&[]).settings().unwrap();
    assert_eq!(s.k, [0, 1, 3]);
    assert_eq!(s.rounds, 3);
    assert!(!s.quick);
    let mut all = vec![Suite::Overhead, Suite::Latency, Suite::Cpu];
    if cfg!(feature = "image") {
        all.extend([
            Suite::Images,
            Suite::Jpeg,
            Suite::PngTrain,
            Suite::Recipe,
            Suite::JpegLarge,
            Suite::Dropping,
        ]);
    }
    all.extend([Suite::Drop, Suite::Epoch]);
    assert_eq!(s.suites, all);
    assert!(args(&["--rounds", "0"]).settings().is_err());
    let s = args(&["--k", "3,1,3", "--suite", "cpu,overhead,cpu"])
        .settings()
        .unwrap();
    assert_eq!(
        (s.k, s.suites),
        (vec![3, 1], vec![Suite::Cpu, Suite::Overhead])
    );
}

/// `--quick --suite overhead,latency --k 0,1 --rounds 2 --json`: every row is there, the
/// times are positive, the ratios agree with the times, and the JSON reads back.
#[test]
fn quick_overhead_and_latency() {
    let args = args(&[
        "--quick",
        "--suite",
        "overhead,latency",
        "--k",
        "0,1",
        "--rounds",
        "2",
        "--json",
    ]);
    let report = run_report(&args).unwrap();
    let names: Vec<(Suite, &str)> = report
        .rows
        .iter()
        .map(|r| (r.suite, r.variant.as_str()))
        .collect();
    let mut expected = Vec::new();
    for suite in [Suite::Overhead, Suite::Latency] {
        for v in [
            "plain loop",
            "batchline k=0",
            "batchline k=1",
            "pariter k=1",
            "pariter (bound) k=1",
        ] {
            expected.push((suite, v));
        }
    }
    assert_eq!(names, expected);

    for suite in [Suite::Overhead, Suite::Latency] {
        let rows: Vec<&Row> = report.rows.iter().filter(|r| r.suite == suite).collect();
        let base = rows[0];
        assert_eq!((base.kind, base.k), (Kind::Baseline, None));
        assert_eq!(base.vs_baseline, 1.0);
        let pariter = rows.iter().find(|r| r.kind == Kind::Pariter).unwrap();
        let bound = rows.iter().find(|r| r.kind == Kind::PariterBound).unwrap();
        for r in &rows {
            assert_eq!(r.rounds_s.len(), 2);
            assert!(r.rounds_s.iter().all(|&t| t > 0.0), "{r:?}");
            let min = r.rounds_s.iter().copied().fold(f64::INFINITY, f64::min);
            assert_eq!(r.best_s, min);
            assert!(r.best_s > 0.0 && r.best_s.is_finite());
            assert_eq!(r.per_s, r.count as f64 / r.best_s);
            assert_eq!(r.vs_baseline, base.best_s / r.best_s);
            match (r.kind, r.k) {
                (Kind::Batchline, Some(1)) => {
                    assert_eq!(r.vs_pariter, Some(pariter.best_s / r.best_s));
                    assert_eq!(r.vs_pariter_bound, Some(bound.best_s / r.best_s));
                }
                _ => assert_eq!((r.vs_pariter, r.vs_pariter_bound), (None, None), "{r:?}"),
            }
        }
        if suite == Suite::Overhead {
            // pariter's peak of batches created and not released, counted: k + 2 with a
            // buffer of k + 1, batchline's k + 1 with a buffer of k.
            assert!(
                pariter.notes[0].contains("at once: 3 "),
                "{:?}",
                pariter.notes
            );
            assert!(bound.notes[0].contains("at once: 2 "), "{:?}", bound.notes);
        }
        let count = if suite == Suite::Overhead { 1_000 } else { 16 };
        assert!(rows.iter().all(|r| r.count == count && r.unit == "batches"));
    }

    let json = serde_json::to_string_pretty(&report).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["rows"].as_array().unwrap().len(), 10);
    assert_eq!(value["rows"][0]["suite"], "overhead");
    assert_eq!(value["settings"]["k"], serde_json::json!([0, 1]));
    assert!(value["machine"]["threads"].as_u64().unwrap() >= 1);
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);

    for r in report
        .rows
        .iter()
        .filter(|r| r.suite == Suite::Overhead && r.kind == Kind::Batchline)
    {
        let k = r.k.unwrap();
        assert!(
            r.notes[0].starts_with(&format!("k+1 bound checked: at most {} in flight", k + 1)),
            "{r:?}"
        );
    }

    let table = render(&report);
    assert!(table.contains("| latency  | pariter k=1"), "{table}");
    // The header, the rule and the 10 rows.
    assert_eq!(table.lines().filter(|l| l.starts_with("| ")).count(), 12);
}

#[test]
fn ratios_read() {
    assert_eq!(human_ratio(1.0), "1.00×");
    assert_eq!(human_ratio(0.123), "0.12×");
    assert_eq!(human_ratio(0.0312), "0.031×");
    assert_eq!(human_ratio(0.00307), "0.0031×");
    assert_eq!(human_rate(22_065_654.4), "22 065 654");
    assert_eq!(human_rate(65.74), "65.7");
}

#[test]
fn burn_is_deterministic() {
    assert_eq!(burn(7), burn(7));
    assert_ne!(burn(7), burn(8));
}

/// `--quick --suite drop,epoch --rounds 1`: the drop's time and its count of late actions,
/// the two waits of the epoch boundary.
#[test]
fn quick_drop_and_epoch() {
    let report = run_report(&args(&[
        "--quick",
        "--suite",
        "drop,epoch",
        "--rounds",
        "1",
    ]))
    .unwrap();
    let names: Vec<(Suite, &str)> = report
        .rows
        .iter()
        .map(|r| (r.suite, r.variant.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (Suite::Drop, "one action (20 ms)"),
            (Suite::Drop, "batchline k=7 drop"),
            (Suite::Epoch, "mid-epoch batch (median wait)"),
            (Suite::Epoch, "epoch 2 begins (worst wait)"),
        ]
    );
    let drop = &report.rows[1];
    assert!(drop.best_s > 0.0 && drop.best_s < 10.0, "{drop:?}");
    assert!(drop.notes[0].starts_with("actions started after drop began: "));
    assert_eq!(drop.vs_baseline, report.rows[0].best_s / drop.best_s);
    let first = &report.rows[3];
    assert_eq!(first.vs_baseline, report.rows[2].best_s / first.best_s);
    assert!(render(&report).contains("- drop / batchline k=7 drop: actions started"));
}
