//! `cargo xtask conformance`: every vector through every client, as one table.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alias_tests::vector::{Case, load_groups, vectors_dir};
use alias_tests::{ClientKind, Remote, run_case, run_case_remotely};

/// Cases with more aliases than this are left out of `--quick` runs.
const QUICK_MAX_ALIASES: usize = 1000;

/// Options of `cargo xtask conformance`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Leave out the cases that send more than 1000 aliases (for CI, after the tests ran
    /// them all).
    #[arg(long)]
    quick: bool,
    /// Only cases whose `group/name` contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Only these clients (reqwest, reqwest-blocking, surf, cli); repeatable.
    #[arg(long = "client")]
    clients: Vec<ClientKind>,
    /// Run the cases that are safe against a real project at this base URL (e.g.
    /// `https://api.mixpanel.com`) instead of the reference server. This creates real
    /// aliases in that project.
    #[arg(long, requires = "token")]
    against: Option<String>,
    /// The project token for `--against`.
    #[arg(long, env = "MIXPANEL_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// One row of the table: a vector group under one identity system.
type Row = (String, String);

#[derive(Debug, Default, Clone, Copy)]
struct Cell {
    passed: usize,
    failed: usize,
    elapsed: Duration,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let groups = match load_groups(&vectors_dir()) {
        Ok(groups) => groups,
        Err(error) => {
            eprintln!("conformance: {error}");
            return ExitCode::from(2);
        }
    };
    let clients = if args.clients.is_empty() {
        ClientKind::ALL.to_vec()
    } else {
        args.clients.clone()
    };
    let cli = if clients.contains(&ClientKind::Cli) {
        eprintln!("building mixpanel-alias ...");
        match alias_tests::cli::build_binary(false) {
            Ok(path) => Some(path),
            Err(error) => {
                eprintln!("conformance: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let remote = args.against.as_ref().map(|url| {
        eprintln!("WARNING: running against {url}: this creates real aliases in that project.");
        Remote {
            url: url.clone(),
            token: args.token.clone().unwrap_or_default(),
            id_prefix: run_prefix(),
        }
    });

    let mut table: BTreeMap<Row, BTreeMap<ClientKind, Cell>> = BTreeMap::new();
    let mut failures = Vec::new();
    for group in &groups {
        for case in group
            .cases
            .iter()
            .filter(|case| selected(args, &group.group, case, remote.is_some()))
        {
            let row = (
                group.group.clone(),
                case.server
                    .identity
                    .clone()
                    .unwrap_or_else(|| "original".to_owned()),
            );
            for &client in &clients {
                let cli = cli.as_deref().filter(|_| client == ClientKind::Cli);
                let result = match &remote {
                    Some(remote) => run_case_remotely(case, client, cli, remote),
                    None => run_case(case, client, cli),
                };
                let cell = table
                    .entry(row.clone())
                    .or_default()
                    .entry(client)
                    .or_default();
                cell.elapsed += result.elapsed;
                if result.passed() {
                    cell.passed += 1;
                } else {
                    cell.failed += 1;
                    for failure in &result.failures {
                        failures.push(format!(
                            "[{client}] {}/{}: {failure}",
                            group.group, case.name
                        ));
                    }
                }
            }
        }
    }
    print_table(&table, &clients);
    for failure in &failures {
        println!("FAIL {failure}");
    }
    let passed: usize = table
        .values()
        .flat_map(|row| row.values())
        .map(|c| c.passed)
        .sum();
    let failed: usize = table
        .values()
        .flat_map(|row| row.values())
        .map(|c| c.failed)
        .sum();
    println!("conformance: {passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn selected(args: &Args, group: &str, case: &Case, remote: bool) -> bool {
    let name = format!("{group}/{}", case.name);
    args.filter
        .as_ref()
        .is_none_or(|filter| name.contains(filter.as_str()))
        && (!args.quick || case.alias_count() <= QUICK_MAX_ALIASES)
        && (!remote || case.is_safe_remotely())
}

/// A prefix unique to this run, so a real project sees new ids each time.
fn run_prefix() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("conformance-{secs}-")
}

fn print_table(table: &BTreeMap<Row, BTreeMap<ClientKind, Cell>>, clients: &[ClientKind]) {
    let width = 24;
    let mut header = format!("{:<28}", "group (identity)");
    for client in clients {
        header.push_str(&format!("{:<width$}", client.name()));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for ((group, identity), cells) in table {
        let mut line = format!("{:<28}", format!("{group} ({identity})"));
        for client in clients {
            let text = match cells.get(client) {
                Some(cell) => {
                    let verdict = if cell.failed == 0 { "pass" } else { "FAIL" };
                    format!(
                        "{verdict} {}/{} {:.1}s",
                        cell.passed,
                        cell.passed + cell.failed,
                        cell.elapsed.as_secs_f64()
                    )
                }
                None => "-".to_owned(),
            };
            line.push_str(&format!("{text:<width$}"));
        }
        println!("{line}");
    }
}
