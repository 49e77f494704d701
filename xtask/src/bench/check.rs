//! `mixpanel-alias check` of a large file: its time and peak memory, against the targets of
//! issue 19 (1,000,000 pairs in 1 s and 120 MiB; 10,000,000 in 15 s and 1.2 GiB).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::rss;
use super::workload::{self, CsvFile};

/// One check of a file of `rows` pairs.
#[derive(Debug)]
pub(super) struct CheckRun {
    pub(super) rows: usize,
    pub(super) elapsed: Duration,
    /// `None` where `/proc` is not available.
    pub(super) peak_rss: Option<u64>,
}

/// The targets for a file of `rows` pairs: (seconds, bytes), the bigger file's for files
/// past 1,000,000 pairs.
pub(super) fn targets(rows: usize) -> (f64, u64) {
    if rows <= 1_000_000 {
        (1.0, 120 * 1024 * 1024)
    } else {
        (15.0, 1229 * 1024 * 1024)
    }
}

/// Writes `rows` pairs (every id distinct, two ids a pair: the most ids a file of that
/// many rows holds) to a CSV in `dir` and checks it with the release binary `cli`; fails
/// unless the check read every pair and found the file clean.
pub(super) fn measure(cli: &Path, dir: &Path, rows: usize) -> Result<CheckRun, String> {
    let path = dir.join(format!("check-{rows}.csv"));
    CsvFile::Plain.write(workload::ids(rows), &path)?;
    let run = rss::run(
        Command::new(cli)
            .arg("check")
            .arg(&path)
            .args(["--output", "json"]),
    )?;
    let pairs = serde_json::from_str::<Value>(run.stdout.trim())
        .ok()
        .and_then(|report| report["summary"]["pairs"].as_u64());
    if !run.status.success() || pairs != Some(rows as u64) {
        return Err(format!(
            "mixpanel-alias check of {rows} rows ended with {} and {}; stderr: {}",
            run.status,
            run.stdout.trim(),
            run.stderr
        ));
    }
    eprintln!("check of {rows} pairs: done in {:.1?}", run.elapsed);
    Ok(CheckRun {
        rows,
        elapsed: run.elapsed,
        peak_rss: run.peak_rss,
    })
}
