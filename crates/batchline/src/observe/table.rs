//! The [`Profile`] as a table (`Display`).

use std::fmt;
use std::time::Duration;

use super::profile::share;
use super::Profile;

struct Ms(Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1e3;
        let text = format!("{ms:.3}");
        f.pad(&text)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} batches in {} ms; consumer waited {} ms ({:.1}%), worked {} ms ({:.1}%)",
            self.batches,
            Ms(self.elapsed),
            Ms(self.consumer_wait),
            100.0 * share(self.consumer_wait, self.elapsed),
            Ms(self.consumer_work),
            100.0 * share(self.consumer_work, self.elapsed),
        )?;
        let width = self
            .actions
            .iter()
            .map(|a| a.name.chars().count())
            .chain(self.locks.iter().map(|l| l.name.chars().count()))
            .chain([6])
            .max()
            .unwrap_or(6);
        writeln!(f, "verdict: {}", self.verdict())?;
        writeln!(
            f,
            "{:<width$}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
            "action",
            "count",
            "total ms",
            "mean ms",
            "p50 ms",
            "p95 ms",
            "max ms",
            "lock ms",
            "bottleneck"
        )?;
        for a in &self.actions {
            writeln!(
                f,
                "{:<width$}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>9.1}%",
                a.name,
                a.count,
                Ms(a.total),
                Ms(a.mean),
                Ms(a.p50),
                Ms(a.p95),
                Ms(a.max),
                Ms(a.lock_wait),
                100.0 * a.bottleneck_share,
            )?;
        }
        if !self.locks.is_empty() {
            writeln!(
                f,
                "{:<width$}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
                "lock", "taken", "waits", "wait ms", "max ms", "held ms", "held %", "bottleneck"
            )?;
            for l in &self.locks {
                writeln!(
                    f,
                    "{:<width$}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>9.1}%  {:>9.1}%",
                    l.name,
                    l.acquisitions,
                    l.waits,
                    Ms(l.total_wait),
                    Ms(l.max_wait),
                    Ms(l.held),
                    100.0 * l.held_share,
                    100.0 * l.bottleneck_share,
                )?;
            }
        }
        Ok(())
    }
}
