//! `mixpanel-alias`: create Mixpanel aliases, bulk-import them, or serve a reference
//! ingestion server to test against.
//!
//! This library is the command line itself, for the `mixpanel-alias` binary, which calls
//! [`main`], and for the fuzz targets of the workspace's `fuzz/` folder (behind the hidden
//! `fuzz` feature). It is not an API: use `alias-reqwest` or `alias-surf` from Rust.
//!
//! Each subcommand lives in a module of its own with its clap `Args` and a `run` function;
//! this file only parses the command line and dispatches.
// `println!` and `eprintln!` panic when their stream is closed or full: lines go through
// `console` instead.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod check;
mod clusters;
mod completions;
mod console;
mod create;
mod dry_run;
mod exit;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
mod import;
mod logging;
mod options;
mod outcome;
mod sender;
mod serve;
mod stop_signal;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "mixpanel-alias", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Link one new id (--alias) to an existing one (--distinct-id), and say what happened.
    Create(create::Args),
    /// Import aliases in bulk from a CSV or NDJSON file, resumably.
    Import(import::Args),
    /// Check an import file offline: the merges Mixpanel will make of it, and its rows
    /// that will be refused or merge what should not (exit 0 clean, 1 problems).
    Check(check::Args),
    /// Serve a reference Mixpanel ingestion server (/track, /import, /_inspect) until
    /// SIGINT or SIGTERM.
    Serve(serve::Args),
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(completions::Args),
}

/// The environment variables `mixpanel-alias` reads: the credentials, each in place of its
/// flag, and `RUST_LOG`. A harness that runs the binary clears them, so that the caller's
/// shell cannot leak in.
pub const ENVIRONMENT: [&str; 5] = [
    "MIXPANEL_TOKEN",
    "MIXPANEL_SERVICE_ACCOUNT_USER",
    "MIXPANEL_SERVICE_ACCOUNT_SECRET",
    "MIXPANEL_PROJECT_SECRET",
    "RUST_LOG",
];

/// Runs `mixpanel-alias` on the process's arguments, and gives its exit code (the README's
/// table lists them).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, so that stdout stays the machine-readable channel.
    logging::init();
    match cli.command {
        Command::Create(args) => create::run(&args).unwrap_or_else(|error| error.report()),
        Command::Import(args) => import::run(&args).unwrap_or_else(|error| error.report()),
        Command::Check(args) => check::run(&args).unwrap_or_else(|error| error.report()),
        Command::Serve(args) => serve::run(args),
        Command::Completions(args) => completions::run(&args, Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_variable_a_flag_reads_is_listed_and_every_listed_one_is_read() {
        let command = Cli::command();
        let read: std::collections::BTreeSet<String> = command
            .get_subcommands()
            .flat_map(|subcommand| subcommand.get_arguments())
            .filter_map(|argument| argument.get_env())
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        let listed: std::collections::BTreeSet<String> = ENVIRONMENT
            .iter()
            .filter(|name| **name != "RUST_LOG")
            .map(|name| (*name).to_owned())
            .collect();
        assert_eq!(read, listed);
    }
}
