//! The report: the machine, the whole JSON document and the table.

use serde::{Deserialize, Serialize};

use super::{Row, Settings};

/// The machine the figures come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Machine {
    /// `model name` of /proc/cpuinfo, when there is one.
    pub(crate) cpu: String,
    /// `std::thread::available_parallelism()`.
    pub(crate) threads: usize,
    /// `std::env::consts::OS` and `ARCH`.
    pub(crate) os: String,
    pub(crate) arch: String,
    /// `PRETTY_NAME` of /etc/os-release, when there is one.
    pub(crate) distribution: Option<String>,
    /// /proc/sys/kernel/osrelease, when there is one.
    pub(crate) kernel: Option<String>,
    /// The batchline (workspace) version.
    pub(crate) batchline: String,
    /// `release` or `debug`: the figures of a debug build say little.
    pub(crate) build: String,
}

impl Machine {
    pub(crate) fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(key, _)| key.trim() == "model name")
                    .map(|(_, value)| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let distribution = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim().trim_matches('"').to_owned())
            });
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned());
        Self {
            cpu,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            distribution,
            kernel,
            batchline: env!("CARGO_PKG_VERSION").to_owned(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
        }
    }
}

/// The whole `--json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) settings: Settings,
    pub(crate) rows: Vec<Row>,
}

/// A duration in seconds, in a readable unit.
pub(crate) fn human_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// A ratio with two decimals, or two significant digits below 0.1 (0.0031×, not 0.00×).
pub(crate) fn human_ratio(r: f64) -> String {
    if r >= 0.1 || r <= 0.0 || !r.is_finite() {
        format!("{r:.2}×")
    } else {
        let decimals = (-r.log10()).floor() as usize + 2;
        format!("{r:.decimals$}×")
    }
}

/// A rate, with thousands grouped.
pub(crate) fn human_rate(per_s: f64) -> String {
    if per_s >= 100.0 {
        let digits = format!("{:.0}", per_s);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    } else {
        format!("{per_s:.1}")
    }
}

/// The header and the table (a Markdown table, readable as text too).
pub(crate) fn render(report: &Report) -> String {
    let m = &report.machine;
    let s = &report.settings;
    let mut out = format!(
        "batchline bench — batchline {} ({} build)\n",
        m.batchline, m.build
    );
    out += &format!(
        "machine: {}; {} threads (available_parallelism); {} {}",
        m.cpu, m.threads, m.os, m.arch
    );
    if let Some(d) = &m.distribution {
        out += &format!("; {d}");
    }
    if let Some(k) = &m.kernel {
        out += &format!("; kernel {k}");
    }
    out += "\n";
    let ks: Vec<String> = s.k.iter().map(ToString::to_string).collect();
    let suites: Vec<&str> = s.suites.iter().map(|x| x.name()).collect();
    out += &format!(
        "settings: k = {}; suites = {}; {}; {} sizes\n\n",
        ks.join(","),
        suites.join(","),
        s.statistic,
        if s.quick { "quick" } else { "full" }
    );

    let header = [
        "suite",
        "variant",
        "throughput",
        "time",
        "vs baseline",
        "vs pariter",
        "vs pariter (bound)",
    ];
    let cells: Vec<[String; 7]> = report
        .rows
        .iter()
        .map(|r| {
            [
                r.suite.name().to_owned(),
                r.variant.clone(),
                format!("{} {}/s", human_rate(r.per_s), r.unit),
                human_time(r.best_s),
                human_ratio(r.vs_baseline),
                r.vs_pariter.map_or_else(String::new, human_ratio),
                r.vs_pariter_bound.map_or_else(String::new, human_ratio),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // Text columns to the left, figures to the right.
    let line = |cells: &[String]| {
        let mut l = String::from("|");
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - c.chars().count());
            if i < 2 {
                l += &format!(" {c}{pad} |");
            } else {
                l += &format!(" {pad}{c} |");
            }
        }
        l + "\n"
    };
    out += &line(&header.map(String::from));
    let mut rule = String::from("|");
    for (i, w) in widths.iter().enumerate() {
        let dashes = "-".repeat(*w);
        rule += &if i < 2 {
            format!(" {dashes} |")
        } else {
            format!(" {}: |", &dashes[1..])
        };
    }
    out += &rule;
    out += "\n";
    for row in &cells {
        out += &line(row);
    }
    let notes: Vec<String> = report
        .rows
        .iter()
        .flat_map(|r| {
            r.notes
                .iter()
                .map(move |n| format!("- {} / {}: {n}\n", r.suite.name(), r.variant))
        })
        .collect();
    if !notes.is_empty() {
        out += "\n";
        out += &notes.concat();
    }
    out += &format!(
        "\ntime: {} of the same work.\n\
         vs baseline: the suite's baseline time / this time (above 1: faster than the baseline).\n\
         The baseline is a plain loop on one thread; for images, the decoder alone (parallel, on\n\
         the same files).\n\
         vs pariter: the time of pariter's ordered parallel_map at the same k (k + 1 threads, a\n\
         buffer of k + 1: k + 1 batches in its workers while the consumer waits, as batchline,\n\
         but k + 2 created and not released while the consumer holds one) / this time.\n\
         vs pariter (bound): the same with a buffer of k (batchline's bound of k + 1 created\n\
         and not released, one batch fewer in flight while the consumer waits).\n\
         pariter has no k = 0 (it always maps on other threads).\n",
        s.statistic
    );
    out
}
