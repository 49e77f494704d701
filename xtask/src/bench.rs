//! `cargo xtask bench`: what moving aliases costs, end to end, against the targets of
//! issue 7.
//!
//! It starts `mixpanel-alias serve` (release) on loopback and measures, resetting the
//! server before each run and checking after it that every alias was stored once:
//! - the server's ceiling: the workload pre-encoded, sent by a bare keep-alive sender;
//! - each client (reqwest async, reqwest blocking, surf, the CLI's import) sending the
//!   same workload, in aliases per second;
//! - the CLI's peak resident memory while importing a large CSV, plain and
//!   gzip-compressed;
//! - a long import against a server limited to a rate, with pacing and without;
//! - `mixpanel-alias check` of large files, time and peak memory;
//! - the official Python SDK's `alias()` in a loop, as the peer figure (when python3
//!   can install it).
//!
//! It prints one table and writes the figures to `target/bench/results.json`. The
//! per-operation costs of the core are criterion benches: `cargo bench -p alias-core`.
//! Never run by CI: the figures depend on the machine and on what else it is doing.

mod ceiling;
mod check;
mod clients;
mod machine;
mod pacing;
mod python;
mod report;
mod rss;
mod server;
mod wire;
mod workload;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use alias_tests::ClientKind;
use alias_tests::adapter::Adapter;

use self::report::{Figures, Import, Python};
use self::server::ServerProcess;
use self::workload::CsvFile;

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Aliases each client sends per run.
    #[arg(long, default_value_t = 200_000)]
    aliases: usize,
    /// Runs of each throughput measurement, interleaved; the best one counts, since
    /// whatever else the machine does can only slow a run down.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    runs: u16,
    /// Only these clients (reqwest, reqwest-blocking, surf, cli); repeatable. The ceiling
    /// is always measured.
    #[arg(long = "client")]
    clients: Vec<ClientKind>,
    /// Rows of the CSV whose import's peak memory is measured, plain and gzip-compressed.
    #[arg(long, default_value_t = 1_000_000)]
    import_rows: usize,
    /// alias() calls of the Python SDK (one request each).
    #[arg(long, default_value_t = 2_000)]
    python_aliases: usize,
    /// Leave out the Python SDK.
    #[arg(long)]
    no_python: bool,
    /// Rows of the imports under a rolling rate limit and under 429 faults.
    #[arg(long, default_value_t = 500_000)]
    paced_rows: usize,
    /// The rolling rate limit, events per second.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: u32,
    /// The rolling rate limit's window, in milliseconds (Mixpanel's is a minute; a short
    /// one keeps the run short).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    rate_window_ms: u64,
    /// Leave out the limited imports.
    #[arg(long)]
    no_pacing: bool,
    /// Pairs of the files `mixpanel-alias check` reads, timed and sampled; repeatable.
    #[arg(long = "check-rows", default_values_t = [1_000_000, 10_000_000])]
    check_rows: Vec<usize>,
    /// Leave out the checks.
    #[arg(long)]
    no_check: bool,
}

/// What sends the workload in a throughput run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// The bare sender of pre-encoded bodies.
    Ceiling,
    Client(ClientKind),
}

impl Sender {
    /// Table order.
    const ALL: [Self; 5] = [
        Self::Ceiling,
        Self::Client(ClientKind::Library(Adapter::ReqwestAsync)),
        Self::Client(ClientKind::Library(Adapter::ReqwestBlocking)),
        Self::Client(ClientKind::Library(Adapter::Surf)),
        Self::Client(ClientKind::Cli),
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Ceiling => "ceiling",
            Self::Client(client) => client.name(),
        }
    }
}

pub(crate) fn run(args: &Args) -> ExitCode {
    if cfg!(debug_assertions) {
        return rerun_in_release();
    }
    let measured = measure(args).and_then(|figures| {
        figures.print();
        let path = bench_dir().join("results.json");
        figures.write_json(&path)?;
        println!("\nwritten to {}", path.display());
        Ok(())
    });
    match measured {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs this task again from a release build of xtask, with the same arguments.
///
/// The library clients are measured inside this process, so it must be optimized; yet the
/// `cargo xtask` alias builds xtask in debug, which suits every other task (and making the
/// alias `--release` would build the whole workspace in release for them). So a debug
/// xtask hands over to `cargo run --release`, which rebuilds only when sources changed.
fn rerun_in_release() -> ExitCode {
    eprintln!("bench: measuring needs a release build; running one ...");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["run", "--release", "--package", "xtask", "--"])
        .args(std::env::args_os().skip(1))
        .current_dir(workspace_root())
        .status();
    match status {
        Ok(status) => status
            .code()
            .and_then(|code| u8::try_from(code).ok())
            .map_or(ExitCode::FAILURE, ExitCode::from),
        Err(error) => {
            eprintln!("bench: cannot run cargo: {error}");
            ExitCode::FAILURE
        }
    }
}

fn measure(args: &Args) -> Result<Figures, String> {
    let load_before = machine::load_average();
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    eprintln!("building mixpanel-alias (release) ...");
    let cli = alias_tests::cli::build_binary(true)?;
    let server = ServerProcess::start(&cli)?;
    let csv = dir.join(CsvFile::Plain.file_name(args.aliases));
    let throughput = throughput(args, &cli, &csv, &server)?;
    let imports = CsvFile::ALL
        .into_iter()
        .map(|file| import(args.import_rows, file, &cli, &dir, &server))
        .collect::<Result<_, _>>()?;
    let pacing = if args.no_pacing {
        Vec::new()
    } else {
        pacing::measure(
            &cli,
            &dir,
            args.paced_rows,
            args.rate_limit,
            Duration::from_millis(args.rate_window_ms),
        )?
    };
    let checks = if args.no_check {
        Vec::new()
    } else {
        args.check_rows
            .iter()
            .map(|&rows| check::measure(&cli, &dir, rows))
            .collect::<Result<_, _>>()?
    };
    let python = if args.no_python {
        Err("left out (--no-python)".to_owned())
    } else {
        server.reset()?;
        python::measure(&dir, &csv, args.python_aliases, &server).map(|elapsed| Python {
            aliases: args.python_aliases,
            aliases_per_second: per_second(args.python_aliases, elapsed),
        })
    };
    Ok(Figures {
        aliases: args.aliases,
        throughput,
        imports,
        pacing,
        checks,
        python,
        machine: machine::describe(),
        load: [load_before, machine::load_average()],
    })
}

/// Aliases per second of every run of every sender, the runs of all senders interleaved
/// so that a slow spell of the machine does not fall on one sender only. Writes the
/// workload to `csv` for the CLI.
fn throughput(
    args: &Args,
    cli: &Path,
    csv: &Path,
    server: &ServerProcess,
) -> Result<Vec<(Sender, Vec<f64>)>, String> {
    let ids: Vec<_> = workload::ids(args.aliases).collect();
    CsvFile::Plain.write(ids.iter().cloned(), csv)?;
    let mut throughput: Vec<(Sender, Vec<f64>)> = Sender::ALL
        .into_iter()
        .filter(|sender| match sender {
            Sender::Ceiling => true,
            Sender::Client(client) => args.clients.is_empty() || args.clients.contains(client),
        })
        .map(|sender| (sender, Vec::new()))
        .collect();
    for run in 1..=args.runs {
        for (sender, rates) in &mut throughput {
            server.reset()?;
            let elapsed = match *sender {
                Sender::Ceiling => ceiling::send(&ids, server)?,
                Sender::Client(client) => match client.adapter() {
                    Some(adapter) => clients::send_with_library(adapter, &ids, server)?,
                    None => clients::import(cli, csv, args.aliases, server)?.elapsed,
                },
            };
            server.expect_stored(args.aliases)?;
            let rate = per_second(args.aliases, elapsed);
            eprintln!(
                "run {run}/{}: {:<18} {rate:>10.0} aliases/s",
                args.runs,
                sender.name()
            );
            rates.push(rate);
        }
    }
    Ok(throughput)
}

/// The CLI importing a CSV of `rows` rows stored as `file`, with its peak memory.
fn import(
    rows: usize,
    file: CsvFile,
    cli: &Path,
    dir: &Path,
    server: &ServerProcess,
) -> Result<Import, String> {
    let path = dir.join(file.file_name(rows));
    file.write(workload::ids(rows), &path)?;
    server.reset()?;
    let run = clients::import(cli, &path, rows, server)?;
    server.expect_stored(rows)?;
    eprintln!(
        "import of {rows} rows ({}): done in {:.1?}",
        file.name(),
        run.elapsed
    );
    Ok(Import {
        file,
        rows,
        peak_rss: run.peak_rss,
        aliases_per_second: per_second(rows, run.elapsed),
    })
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_owned()
}

/// `target/bench/`, under `CARGO_TARGET_DIR` when it is set.
fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace_root().join("target"),
        |dir| workspace_root().join(dir),
    );
    target.join("bench")
}
