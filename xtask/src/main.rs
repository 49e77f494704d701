//! `cargo xtask <task>`: the project's tasks, one module each.

mod conformance;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Project tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Runs every conformance vector through every client against the reference server.
    Conformance(conformance::Args),
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Conformance(args) => conformance::run(&args),
    }
}
