//! The four clients sending the workload, as their users would call them: the library
//! clients through `alias_tests`' adapter interface, the CLI as a process.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use alias_core::{Tally, TransportLimits};
use alias_server::DEFAULT_TOKEN;
use alias_tests::adapter::Adapter;

use super::rss::{self, Sampled};
use super::server::ServerProcess;
use super::workload::{BATCH, CONCURRENCY, aliases, config};

/// Sends the aliases of `ids` with a library client through its bulk call, `send_stream`,
/// and returns the time from the first alias built to the last outcome. Building the
/// client is left out, as a program does it once.
pub(super) fn send_with_library(
    adapter: Adapter,
    ids: &[(String, String)],
    server: &ServerProcess,
) -> Result<Duration, String> {
    let client = adapter.client(config(server.url())?, TransportLimits::default());
    let mut tally = Tally::default();
    let started = Instant::now();
    client.send_stream(aliases(ids), |entry| tally.add(&entry.outcome));
    let elapsed = started.elapsed();
    if tally.accepted != ids.len() as u64 {
        return Err(format!(
            "{adapter:?}: {} of {} aliases accepted ({tally:?})",
            tally.accepted,
            ids.len()
        ));
    }
    Ok(elapsed)
}

/// Imports the `rows` aliases of `csv` with `mixpanel-alias import` and the same batch
/// size and concurrency as the library clients, sampling its memory; fails unless every
/// row was accepted.
pub(super) fn import(
    cli: &Path,
    csv: &Path,
    rows: usize,
    server: &ServerProcess,
) -> Result<Sampled, String> {
    let run = rss::run(
        Command::new(cli)
            .arg("import")
            .arg(csv)
            .args(["--api-host", server.url(), "--token", DEFAULT_TOKEN])
            .args(["--batch-size", &BATCH.to_string()])
            .args(["--concurrency", &CONCURRENCY.to_string()])
            .env_remove("RUST_LOG"),
    )?;
    let expected = format!("accepted={rows} rejected=0 undelivered=0 invalid=0");
    if !run.status.success() || run.stdout.lines().last() != Some(expected.as_str()) {
        return Err(format!(
            "mixpanel-alias import ended with {} and {:?}, not {expected:?}; stderr: {}",
            run.status,
            run.stdout.lines().last().unwrap_or_default(),
            run.stderr
        ));
    }
    Ok(run)
}
