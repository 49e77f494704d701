//! `cargo xtask fuzz`: every cargo-fuzz target of `fuzz/` (or those named), one after
//! another, each for its share of the time, from its corpus `fuzz/corpus/<target>/`. The
//! fuzzing is cargo-fuzz's and libFuzzer's; this task only runs them and sums up the
//! statistics libFuzzer prints at the end.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// How the targets are built, for the runs and for the command that reproduces a crash.
///
/// No sanitizer: the project's crates forbid `unsafe`, so AddressSanitizer could only catch
/// a memory error in a dependency, and it cuts executions per second about sixfold here.
/// Debug assertions on: an arithmetic overflow is a crash worth finding.
const BUILD: [&str; 2] = ["--sanitizer=none", "--debug-assertions"];

/// Options of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How long to fuzz, in seconds, shared between the targets; building comes on top.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Only this target; repeatable. Default: every target `cargo fuzz list` names.
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// Build with the default toolchain instead of nightly.
    #[arg(long)]
    stable: bool,
}

/// What libFuzzer reported about one target's run.
#[derive(Debug, Default)]
struct Run {
    executions: Option<u64>,
    per_second: Option<u64>,
    corpus: Option<u64>,
    /// The input that crashed the target, relative to the workspace root: libFuzzer stops
    /// at the first.
    crash: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let runs = match fuzz(args) {
        Ok(runs) => runs,
        Err(error) => {
            eprintln!("fuzz: {error}");
            return ExitCode::from(2);
        }
    };
    println!(
        "{:<20} {:>12} {:>10} {:>8} {:>8}",
        "target", "executions", "exec/s", "corpus", "crashes"
    );
    let show = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    for (target, run) in &runs {
        println!(
            "{target:<20} {:>12} {:>10} {:>8} {:>8}",
            show(run.executions),
            show(run.per_second),
            show(run.corpus),
            u8::from(run.crash.is_some()),
        );
    }
    let toolchain = if args.stable { "" } else { "+nightly " };
    let mut status = ExitCode::SUCCESS;
    for (target, run) in &runs {
        if let Some(input) = &run.crash {
            println!(
                "fuzz: {target} crashed on {}\n  reproduce: cargo {toolchain}fuzz run {} {target} {}",
                input.display(),
                BUILD.join(" "),
                input.display(),
            );
            status = ExitCode::FAILURE;
        }
    }
    status
}

/// Runs the targets, stopping at the first that cannot run at all.
fn fuzz(args: &Args) -> Result<Vec<(String, Run)>, String> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .map_err(|e| format!("cannot find the workspace root: {e}"))?;
    let cargo = || {
        let mut cargo = Command::new("cargo");
        cargo.current_dir(&root);
        if !args.stable {
            cargo.arg("+nightly");
        }
        cargo
    };
    if !args.stable && !succeeds(cargo().arg("--version")) {
        return Err(
            "no nightly toolchain: install one with `rustup toolchain install nightly`, \
             or fuzz with the default toolchain: `cargo xtask fuzz --stable`"
                .to_owned(),
        );
    }
    let list = cargo()
        .args(["fuzz", "list"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !list.status.success() {
        return Err(format!(
            "`cargo fuzz list` failed; if cargo-fuzz is missing: `cargo install cargo-fuzz`\n{}",
            String::from_utf8_lossy(&list.stderr).trim_end()
        ));
    }
    let known: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let targets = if args.targets.is_empty() {
        known.clone()
    } else {
        args.targets.clone()
    };
    if let Some(unknown) = targets.iter().find(|t| !known.contains(t)) {
        return Err(format!(
            "no target {unknown:?}; the targets are {}",
            known.join(", ")
        ));
    }
    let share = (args.seconds / targets.len().max(1) as u64).max(1);
    let mut runs = Vec::new();
    for target in targets {
        let corpus = format!("fuzz/corpus/{target}");
        // libFuzzer writes what it finds to the corpus folder, so it must exist.
        std::fs::create_dir_all(root.join(&corpus))
            .map_err(|e| format!("cannot create {corpus}: {e}"))?;
        let mut command = cargo();
        command
            .args(["fuzz", "run"])
            .args(BUILD)
            .args([&target, &corpus, "--"])
            .arg(format!("-max_total_time={share}"))
            .arg("-print_final_stats=1");
        let dict = format!("fuzz/dict/{target}.dict");
        if root.join(&dict).is_file() {
            command.arg(format!("-dict={dict}"));
        }
        let mut run = watch(&mut command).map_err(|e| format!("{target}: {e}"))?;
        run.crash = run.crash.map(|input| {
            input
                .strip_prefix(&root)
                .map_or(input.clone(), Path::to_owned)
        });
        runs.push((target, run));
    }
    Ok(runs)
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs `command`, passing its output through, and reads libFuzzer's statistics from it.
fn watch(command: &mut Command) -> Result<Run, String> {
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut run = Run::default();
    let stderr = child.stderr.take().expect("stderr is piped");
    for line in BufReader::new(stderr).lines() {
        let line = line.map_err(|e| format!("cannot read cargo fuzz's output: {e}"))?;
        eprintln!("{line}");
        let number = |prefix| line.strip_prefix(prefix)?.trim().parse().ok();
        if let Some(n) = number("stat::number_of_executed_units:") {
            run.executions = Some(n);
        } else if let Some(n) = number("stat::average_exec_per_sec:") {
            run.per_second = Some(n);
        } else if let Some((_, after)) = line.split_once(" corp: ") {
            // A status line: `#1234 NEW cov: 90 ft: 120 corp: 45/3012b ...`.
            run.corpus = after.split('/').next().and_then(|n| n.parse().ok());
        } else if let Some((_, input)) = line.split_once("Test unit written to ") {
            run.crash = Some(PathBuf::from(input.trim()));
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for cargo: {e}"))?;
    if status.success() || run.crash.is_some() {
        Ok(run)
    } else {
        Err(format!("cargo fuzz run failed ({status})"))
    }
}
