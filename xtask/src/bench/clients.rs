//! The four clients sending the workload, as their users would call them: the library
//! clients through `alias_tests`' adapter interface, the CLI as a process.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use alias_core::{Tally, driver::TransportLimits};
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

/// `mixpanel-alias import CSV` into `server` with the same batch size and concurrency as
/// the library clients: every import the bench times or samples.
pub(super) fn import_command(cli: &Path, csv: &Path, server: &ServerProcess) -> Command {
    let mut command = alias_tests::cli::import_command(cli, csv, server.url());
    command
        .args(["--token", DEFAULT_TOKEN])
        .args(["--batch-size", &BATCH.to_string()])
        .args(["--concurrency", &CONCURRENCY.to_string()]);
    command
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
    let run = rss::run(&mut import_command(cli, csv, server))?;
    let all_accepted = alias_tests::cli::summary(&run.stdout)
        .is_some_and(|tally| tally.accepted == rows as u64 && tally.total() == rows as u64);
    if !run.status.success() || !all_accepted {
        return Err(format!(
            "mixpanel-alias import of {rows} rows ended with {} and {:?}; stderr: {}",
            run.status,
            run.stdout.lines().last().unwrap_or_default(),
            run.stderr
        ));
    }
    Ok(run)
}
