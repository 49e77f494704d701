//! Imports against a rate-limited server and against chance 429s: how close to the best
//! possible time the CLI gets, and how often it is refused on the way.
//!
//! - A rolling-window limit without `Retry-After`, as Mixpanel's (`docs/mixpanel-facts.md`
//!   §6), with a short window so that a run takes seconds. The best possible time sends a
//!   window's worth as each window opens: `(windows - 1) × window`, plus the last
//!   window's rows at the unlimited import's speed. Targets: at least 0.9 of it, at most
//!   5% of requests answered 429, nothing undelivered.
//! - 429 faults on 1%, 10% and 30% of requests and no limit. The best possible time is
//!   the unlimited import's; each refused batch backs off for Mixpanel's documented 2 s
//!   and more, which the ratio shows. Target: nothing undelivered (the rate never
//!   collapses, so every batch gets through).

use std::path::Path;
use std::time::{Duration, Instant};

use super::clients;
use super::server::ServerProcess;
use super::workload::{self, CsvFile};

/// What the server does to the import.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scenario {
    /// No limit, no fault: the best possible time of the others.
    Unlimited,
    /// A rolling window of `events_per_sec` times `window`, 429s without `Retry-After`.
    RollingLimit {
        events_per_sec: u32,
        window: Duration,
    },
    /// This share of requests answered 429, no limit.
    Faults(f64),
}

impl Scenario {
    /// How the table names it.
    pub(crate) fn describe(self) -> String {
        match self {
            Self::Unlimited => "unlimited".to_owned(),
            Self::RollingLimit {
                events_per_sec,
                window,
            } => format!(
                "rolling limit {events_per_sec}/s over {} ms, no Retry-After",
                window.as_millis()
            ),
            Self::Faults(share) => format!("{:.0}% 429 faults", share * 100.0),
        }
    }

    fn serve_options(self) -> Vec<String> {
        match self {
            Self::Unlimited => Vec::new(),
            Self::RollingLimit {
                events_per_sec,
                window,
            } => vec![
                "--rate-limit".to_owned(),
                events_per_sec.to_string(),
                "--rate-limit-window-ms".to_owned(),
                window.as_millis().to_string(),
            ],
            Self::Faults(share) => vec!["--faults".to_owned(), format!("429={share}")],
        }
    }
}

/// One import.
#[derive(Debug)]
pub(crate) struct PacedRun {
    pub(crate) scenario: Scenario,
    pub(crate) rows: usize,
    pub(crate) elapsed: Duration,
    /// The best possible time under the scenario.
    pub(crate) best: Duration,
    /// Requests the server received, and those it answered 429 (limit or fault).
    pub(crate) requests: u64,
    pub(crate) rate_limited: u64,
    /// Rows the import reported undelivered.
    pub(crate) undelivered: u64,
}

impl PacedRun {
    /// The best possible time as a share of the time taken: 1 at best.
    pub(crate) fn share_of_best(&self) -> f64 {
        self.best.as_secs_f64() / self.elapsed.as_secs_f64()
    }

    /// The share of requests answered 429.
    pub(crate) fn refused_share(&self) -> f64 {
        self.rate_limited as f64 / self.requests.max(1) as f64
    }

    /// Whether the pacing targets apply (the rolling limit), or the run is reported only.
    pub(crate) fn has_pacing_targets(&self) -> bool {
        matches!(self.scenario, Scenario::RollingLimit { .. })
    }
}

/// The best possible time of `rows` rows under a rolling window of `per_window` events
/// of `window`, for an import that takes `unlimited` without a limit.
fn best_under_window(
    rows: usize,
    per_window: usize,
    window: Duration,
    unlimited: Duration,
) -> Duration {
    let windows = rows.div_ceil(per_window.max(1)).max(1);
    let last = rows - (windows - 1) * per_window;
    let last_share = last as f64 / rows.max(1) as f64;
    window * (windows as u32 - 1) + unlimited.mul_f64(last_share)
}

/// Imports `rows` rows with the CLI at `cli` under each scenario (first without limit,
/// for the best possible times), each into a fresh `serve`, and checks that each stored
/// every delivered row once.
pub(crate) fn measure(
    cli: &Path,
    dir: &Path,
    rows: usize,
    events_per_sec: u32,
    window: Duration,
) -> Result<Vec<PacedRun>, String> {
    let csv = dir.join(CsvFile::Plain.file_name(rows));
    CsvFile::Plain.write(workload::ids(rows), &csv)?;
    let unlimited = import(cli, &csv, rows, Scenario::Unlimited, None)?;
    let scenarios = [
        Scenario::RollingLimit {
            events_per_sec,
            window,
        },
        Scenario::Faults(0.01),
        Scenario::Faults(0.1),
        Scenario::Faults(0.3),
    ];
    let mut runs = vec![unlimited];
    for scenario in scenarios {
        let best = match scenario {
            Scenario::RollingLimit {
                events_per_sec,
                window,
            } => {
                let per_window = (f64::from(events_per_sec) * window.as_secs_f64()).ceil();
                best_under_window(rows, per_window as usize, window, runs[0].elapsed)
            }
            _ => runs[0].elapsed,
        };
        runs.push(import(cli, &csv, rows, scenario, Some(best))?);
    }
    Ok(runs)
}

fn import(
    cli: &Path,
    csv: &Path,
    rows: usize,
    scenario: Scenario,
    best: Option<Duration>,
) -> Result<PacedRun, String> {
    let options = scenario.serve_options();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let server = ServerProcess::start_with(cli, &options)?;
    let mut command = clients::import_command(cli, csv, &server);
    // Told the test server's short window, as it assumes Mixpanel's minute by default
    // (which the fault runs keep).
    if let Scenario::RollingLimit { window, .. } = scenario {
        command.args(["--rate-window-ms", &window.as_millis().to_string()]);
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
    // Only the delivered rows: an undelivered one is a missed target, which the table
    // reports, not a failure of the measurement.
    server.expect_stored(rows - undelivered as usize)?;
    let run = PacedRun {
        scenario,
        rows,
        elapsed,
        best: best.unwrap_or(elapsed),
        requests: stats.requests,
        rate_limited: stats.requests_rate_limited + stats.faults_injected,
        undelivered,
    };
    eprintln!(
        "import of {rows} rows, {}: {:.1?}, {:.2} of the best possible time, {} of {} requests 429",
        scenario.describe(),
        run.elapsed,
        run.share_of_best(),
        run.rate_limited,
        run.requests
    );
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_time_sends_a_window_worth_as_each_window_opens() {
        let window = Duration::from_secs(2);
        let unlimited = Duration::from_secs(1);
        // 100,000 rows at 10,000 a window: 9 windows waited, the last 10,000 at speed.
        assert_eq!(
            best_under_window(100_000, 10_000, window, unlimited),
            Duration::from_millis(18_100)
        );
        // Everything in the first window: the unlimited time.
        assert_eq!(
            best_under_window(5_000, 10_000, window, unlimited),
            unlimited
        );
    }

    #[test]
    fn shares_are_of_the_best_time_and_of_the_requests() {
        let run = PacedRun {
            scenario: Scenario::Faults(0.1),
            rows: 100_000,
            elapsed: Duration::from_secs(20),
            best: Duration::from_secs(18),
            requests: 310,
            rate_limited: 10,
            undelivered: 0,
        };
        assert!((run.share_of_best() - 0.9).abs() < 1e-9);
        assert!((run.refused_share() - 10.0 / 310.0).abs() < 1e-9);
        assert!(!run.has_pacing_targets());
    }
}
