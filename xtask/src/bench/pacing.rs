//! A long import against a rate-limited server, paced and not: how close to the project's
//! limit the CLI gets, and how often it is refused on the way (issue 12's target: at least
//! 0.9 of the limit, at most 5% of requests answered 429, nothing undelivered).

use std::path::Path;
use std::time::{Duration, Instant};

use super::clients;
use super::server::ServerProcess;
use super::workload::{self, CsvFile};

/// One import against the limited server.
#[derive(Debug)]
pub(crate) struct PacedRun {
    /// Whether the import adapted its rate (the default) or only obeyed `Retry-After`.
    pub(crate) adaptive: bool,
    pub(crate) rows: usize,
    /// The server's limit, events per second.
    pub(crate) limit: u32,
    pub(crate) elapsed: Duration,
    /// Requests the server received, and those it refused with 429.
    pub(crate) requests: u64,
    pub(crate) rate_limited: u64,
    /// Rows the import reported undelivered.
    pub(crate) undelivered: u64,
}

impl PacedRun {
    /// The rate reached, as a share of the limit.
    pub(crate) fn share_of_limit(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64() / f64::from(self.limit)
    }

    /// The share of requests answered 429.
    pub(crate) fn refused_share(&self) -> f64 {
        self.rate_limited as f64 / self.requests.max(1) as f64
    }
}

/// Imports `rows` rows with the CLI at `cli` into a fresh `serve --rate-limit limit`, with
/// adaptive pacing and then without, and checks on the server that each stored every row
/// once.
pub(crate) fn measure(
    cli: &Path,
    dir: &Path,
    rows: usize,
    limit: u32,
) -> Result<Vec<PacedRun>, String> {
    let csv = dir.join(CsvFile::Plain.file_name(rows));
    CsvFile::Plain.write(workload::ids(rows), &csv)?;
    let server = ServerProcess::start_with(cli, &["--rate-limit", &limit.to_string()])?;
    [true, false]
        .into_iter()
        .map(|adaptive| {
            server.reset()?;
            let run = import(cli, &csv, rows, limit, adaptive, &server)?;
            // Only the delivered rows: an undelivered one is a missed target, which the
            // table reports, not a failure of the measurement.
            server.expect_stored(rows - run.undelivered as usize)?;
            eprintln!(
                "rate-limited import ({}): {:.1?}, {:.2} of the limit, {} of {} requests 429",
                if adaptive { "paced" } else { "not paced" },
                run.elapsed,
                run.share_of_limit(),
                run.rate_limited,
                run.requests
            );
            Ok(run)
        })
        .collect()
}

fn import(
    cli: &Path,
    csv: &Path,
    rows: usize,
    limit: u32,
    adaptive: bool,
    server: &ServerProcess,
) -> Result<PacedRun, String> {
    let mut command = clients::import_command(cli, csv, server);
    if !adaptive {
        command.arg("--no-adaptive-pacing");
    }
    let started = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let undelivered = alias_tests::cli::summary(&stdout)
        .map(|tally| tally.undelivered)
        .ok_or_else(|| format!("mixpanel-alias import printed no summary: {stdout:?}"))?;
    let stats = server.stats()?;
    Ok(PacedRun {
        adaptive,
        rows,
        limit,
        elapsed,
        requests: stats.requests,
        rate_limited: stats.requests_rate_limited,
        undelivered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_of_the_limit_and_of_the_requests() {
        let run = PacedRun {
            adaptive: true,
            rows: 600_000,
            limit: 20_000,
            elapsed: Duration::from_secs(32),
            requests: 310,
            rate_limited: 10,
            undelivered: 0,
        };
        assert!((run.share_of_limit() - 0.9375).abs() < 1e-9);
        assert!((run.refused_share() - 10.0 / 310.0).abs() < 1e-9);
    }
}
