//! `cargo xtask soak`: every client delivers many distinct aliases to a reference server
//! that faults 30% of ingestion requests, and the server is then asked what it stored.
//!
//! The promise under test: every alias ends accepted, none is lost, none is stored twice.
//! Faults: 500 (JSON), 502 and 503 (HTML pages), 429 (without `Retry-After`), a reset
//! connection, an answer lost after storing (`ack_lost`), and an answer slower than the
//! client's request timeout (`slow`). The last two make the client send events the server
//! already stored, which only their `$insert_id` keeps from being stored twice.
//!
//! Each client gets a fresh in-process server (the CLI's `import` runs as a child process
//! against it). The checks, per client ([`verify`]): each alias is mapped to its own
//! distinct_id in a cluster of two, the server stored exactly one event per alias, it
//! dropped duplicates, and the client's own report agrees with the server. The server's
//! stats are its query view, which dedups as Mixpanel's queries do: a retried copy that
//! escaped dedup (another time, say, from a server clock behind the client's) shows as an
//! alias stored twice.

mod cli;
mod verify;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use alias_core::{
    ApiHost, Config, CreateAlias, Tally, Token, driver::TransportLimits, wire::BatchLimits,
    wire::RetryPolicy,
};
use alias_server::{DEFAULT_TOKEN, FaultSpec, Server};
use alias_tests::ClientKind;
use alias_tests::adapter::Adapter;

use self::verify::{Figures, Reported};

/// 30% of ingestion requests faulted, in every way the server can fault.
const FAULTS: &str = "500=0.06,502=0.04,503=0.05,429=0.04,reset=0.04,ack_lost=0.05,slow=0.02";

/// The clients' request timeout: short, so that a `slow` answer is abandoned quickly.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

/// How long a `slow` answer is held back: well past [`REQUEST_TIMEOUT`].
const SLOW_DELAY: Duration = Duration::from_secs(1);

/// Aliases per request: small, so that even a quick run makes enough requests for every
/// kind of fault to fire.
const BATCH_SIZE: usize = 50;

/// Requests in flight at once.
const CONCURRENCY: usize = 8;

/// Attempts per request. At a 30% fault rate, twenty faults in a row happen to one request
/// in 3·10^10: an alias handed back undelivered would mean a bug, not bad luck.
const MAX_ATTEMPTS: u32 = 20;

/// Aliases per client in a `--quick` run.
const QUICK_ALIASES: usize = 5_000;

/// Options of `cargo xtask soak`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Distinct aliases per client.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    aliases: usize,
    /// 5,000 aliases per client, for CI.
    #[arg(long, conflicts_with = "aliases")]
    quick: bool,
    /// Only these clients (reqwest, reqwest-blocking, surf, cli); repeatable.
    #[arg(long = "client")]
    clients: Vec<ClientKind>,
    /// The seed of the server's fault draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How far the server's clock runs ahead of the clients' (negative: behind), in
    /// seconds: a server behind sees the clients' times from its future, which Mixpanel
    /// overwrites with its own.
    #[arg(
        long,
        default_value_t = 0,
        allow_negative_numbers = true,
        value_name = "SECONDS"
    )]
    clock_skew_secs: i64,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let aliases = if args.quick {
        QUICK_ALIASES
    } else {
        args.aliases
    };
    let clients = if args.clients.is_empty() {
        ClientKind::ALL.to_vec()
    } else {
        args.clients.clone()
    };
    println!(
        "soak: {aliases} aliases per client, faults {FAULTS} (seed {}), {BATCH_SIZE} aliases \
         per request, {CONCURRENCY} in flight, request timeout {} ms, slow answers {} ms, \
         server clock {:+} s",
        args.seed,
        REQUEST_TIMEOUT.as_millis(),
        SLOW_DELAY.as_millis(),
        args.clock_skew_secs
    );
    let cli = if clients.contains(&ClientKind::Cli) {
        eprintln!("building mixpanel-alias ...");
        match alias_tests::cli::build_binary(false) {
            Ok(path) => Some(path),
            Err(error) => {
                eprintln!("soak: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    println!("{}", Figures::HEADER);
    let mut rows = Vec::new();
    for client in clients {
        let figures = match soak(client, aliases, args, cli.as_deref()) {
            Ok(figures) => figures,
            Err(error) => {
                eprintln!("soak: {client}: {error}");
                return ExitCode::from(2);
            }
        };
        println!("{}", figures.row());
        rows.push(figures);
    }
    let problems: Vec<String> = rows.iter().flat_map(Figures::problems).collect();
    for problem in &problems {
        println!("FAIL {problem}");
    }
    if problems.is_empty() {
        println!("soak: every alias stored exactly once, by every client");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One client's soak against a fresh server; `cli` is the binary, for the CLI client.
fn soak(
    client: ClientKind,
    aliases: usize,
    args: &Args,
    cli: Option<&Path>,
) -> Result<Figures, String> {
    let faults: FaultSpec = FAULTS.parse().map_err(|e| format!("{e}"))?;
    let server = Server::builder()
        .faults(faults)
        .seed(args.seed)
        .clock_skew_secs(args.clock_skew_secs)
        .slow_delay(SLOW_DELAY)
        .start()
        .map_err(|e| e.to_string())?;
    let reported = match (client.adapter(), cli) {
        (Some(adapter), _) => deliver(adapter, &server, aliases)?,
        (None, Some(cli)) => cli::import(cli, &server, aliases)?,
        (None, None) => return Err("the mixpanel-alias binary was not built".to_owned()),
    };
    Ok(verify::check(client, &server, aliases, reported))
}

/// The `i`th alias of a run: distinct ids, none a placeholder.
pub(crate) fn ids(i: usize) -> (String, String) {
    (format!("soak-anon-{i}"), format!("soak-user-{i}"))
}

/// The retry policy of the documented shape in milliseconds, with attempts enough for any
/// run of bad luck.
fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(150),
        min_jitter: Duration::from_millis(1),
        max_jitter: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        max_attempts: MAX_ATTEMPTS,
        max_elapsed: Duration::from_secs(3600),
        max_attempts_unreached: MAX_ATTEMPTS,
    }
}

/// Delivers the aliases with a library client, streaming them in and tallying outcomes.
fn deliver(adapter: Adapter, server: &Server, aliases: usize) -> Result<Reported, String> {
    let token = Token::new(DEFAULT_TOKEN).map_err(|e| e.to_string())?;
    let host = ApiHost::custom(server.url()).map_err(|e| e.to_string())?;
    let config = Config::builder(token)
        .api_host(host)
        .retry_policy(retry_policy())
        // The faults here come at random, not from a rate limit: slowing down for them
        // would only stretch the run. Pacing has its own tests and bench.
        .adaptive_pacing(false)
        .concurrency(CONCURRENCY)
        .batch_limits(BatchLimits {
            max_events: BATCH_SIZE,
            ..BatchLimits::default()
        })
        .build();
    let client = adapter.client(
        config,
        TransportLimits::default().request_timeout(REQUEST_TIMEOUT),
    );
    let input = (0..aliases).map(|i| {
        let (distinct_id, alias) = ids(i);
        CreateAlias::from_ids(&distinct_id, &alias)
    });
    let mut invalid = Vec::new();
    let mut tally = Tally::default();
    let started = Instant::now();
    let stats = client.send_stream(
        input.filter_map(|alias| alias.map_err(|e| invalid.push(e)).ok()),
        |entry| tally.add(&entry.outcome),
    );
    if let Some(error) = invalid.first() {
        return Err(format!("the soak's own ids are invalid: {error}"));
    }
    Ok(Reported {
        tally,
        requests: Some(stats.requests),
        retries: Some(stats.retries),
        wall: started.elapsed(),
    })
}
