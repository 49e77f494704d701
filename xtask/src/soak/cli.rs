//! The `mixpanel-alias import` binary as a soak client: the aliases go in as an NDJSON file,
//! the outcome comes back from its summary line and its own delivery counters.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use alias_server::{DEFAULT_TOKEN, Server};

use super::verify::Reported;
use super::{BATCH_SIZE, CONCURRENCY, MAX_ATTEMPTS, REQUEST_TIMEOUT, ids};

/// The import's log filter: quiet, but for the line with its delivery counters.
const LOG_FILTER: &str = "warn,mixpanel_alias::import=debug";

/// Imports `aliases` aliases into `server` with the binary at `cli`.
pub(super) fn import(cli: &Path, server: &Server, aliases: usize) -> Result<Reported, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
    let input = dir.path().join("aliases.ndjson");
    let mut lines = String::new();
    for i in 0..aliases {
        let (distinct_id, alias) = ids(i);
        // The ids are plain ASCII: no JSON escaping is needed.
        let _ = writeln!(
            lines,
            r#"{{"distinct_id":"{distinct_id}","alias":"{alias}"}}"#
        );
    }
    std::fs::write(&input, lines).map_err(|e| format!("cannot write the input: {e}"))?;

    let started = Instant::now();
    let output = alias_tests::cli::import_command(cli, &input, server.url())
        .args(["--format", "ndjson", "--token", DEFAULT_TOKEN])
        .args(["--batch-size", &BATCH_SIZE.to_string()])
        .args(["--concurrency", &CONCURRENCY.to_string()])
        .args(["--max-attempts", &MAX_ATTEMPTS.to_string()])
        // Random faults, not a rate limit: see the library clients' configuration.
        .arg("--no-adaptive-pacing")
        // The documented policy scaled to milliseconds: 5 ms doubling to 150 ms, Retry-After
        // obeyed up to 1.5 s.
        .args(["--retry-initial-ms", "5"])
        .args([
            "--request-timeout-ms",
            &REQUEST_TIMEOUT.as_millis().to_string(),
        ])
        .arg("--failures")
        .arg(dir.path().join("failures.ndjson"))
        .env("RUST_LOG", LOG_FILTER)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    let wall = started.elapsed();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tally = alias_tests::cli::summary(&stdout).ok_or_else(|| {
        format!(
            "no summary line (exit {:?}); stderr: {stderr}",
            output.status.code()
        )
    })?;
    let (requests, retries) = delivery_counters(&stderr).unzip();
    Ok(Reported {
        tally,
        requests,
        retries,
        wall,
    })
}

/// `requests` and `retries` from the import's `delivery ended stats=DeliveryStats {..}`
/// debug line.
fn delivery_counters(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .find(|line| line.contains("delivery ended"))?;
    let counter = |name: &str| -> Option<u64> {
        let rest = &line[line.find(&format!("{name}: "))? + name.len() + 2..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some((counter("requests")?, counter("retries")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_come_from_the_delivery_line() {
        let stderr = "progress: ...\n2026-01-01T00:00:00Z DEBUG mixpanel_alias::import: delivery ended stats=DeliveryStats { requests: 143, retries: 43, splits: 0 }\n";
        assert_eq!(delivery_counters(stderr), Some((143, 43)));
        assert_eq!(delivery_counters("accepted=1"), None);
    }
}
