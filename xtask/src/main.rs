//! `cargo xtask <task>`: the project's tasks, one module each.

mod bench;
mod conformance;
mod fuzz;
mod soak;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project tasks.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Project tasks: conformance, bench, soak, fuzz"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Measures every client's throughput against the server's ceiling, the CLI's peak
    /// memory and the official Python SDK (release builds; prints a table, writes JSON).
    Bench(bench::Args),
    /// Runs every conformance vector through every client against the reference server.
    Conformance(conformance::Args),
    /// Runs the cargo-fuzz targets of `fuzz/` (the response parser, the request decoder,
    /// the CSV and NDJSON row readers, the checkpoint loader) under libFuzzer, then prints executions, corpus size and crashes per target.
    Fuzz(fuzz::Args),
    /// Delivers many aliases with every client through a server that faults 30% of
    /// requests, then checks none was lost or stored twice.
    Soak(soak::Args),
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Bench(args) => bench::run(&args),
        Task::Conformance(args) => conformance::run(&args),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::Soak(args) => soak::run(&args),
    }
}
