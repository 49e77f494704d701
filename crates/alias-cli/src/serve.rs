//! `mixpanel-alias serve`: the reference ingestion server as a process.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use alias_core::{Secret, Token};
use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_PROJECT_SECRET, DEFAULT_TOKEN, FaultSpec, IdentitySystem, Server,
    ServiceAccount,
};
use clap::ValueEnum;

use crate::console;
use crate::stop_signal::StopSignal;

/// The server's default service account as `--service-account` takes it. clap needs a
/// literal; a test checks it against the server's constants.
const DEFAULT_SERVICE_ACCOUNT: &str = "test-service-account:test-service-account-secret";

/// Options of `serve`.
///
/// The server prints `listening on http://HOST:PORT` as its first line on stdout, then
/// serves until SIGINT or SIGTERM and exits 0.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,

    /// Identity system applied to $create_alias.
    #[arg(long, value_enum, default_value_t = IdMerge::Original)]
    id_merge: IdMerge,

    /// Faults to inject into /track and /import, e.g.
    /// `500=0.1,502=0.05,503=0.05,429=0.1,reset=0.05,ack_lost=0.05,slow=0.02`.
    /// Default: none.
    #[arg(long, value_name = "SPEC")]
    faults: Option<FaultSpec>,

    /// Seed of the fault draws: the same seed injects the same faults.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,

    /// Largest request body, in bytes, on the wire and once decompressed (Mixpanel's
    /// documented 10 MB by default).
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    max_body_bytes: usize,

    /// How long the `slow` fault holds an answer back, in milliseconds (at most 600000:
    /// ten minutes outlast any client's request timeout).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(..=MAX_SLOW_MS)
    )]
    slow_ms: u64,

    /// Project token that /track events must carry and /import accepts as Basic user.
    #[arg(long, default_value = DEFAULT_TOKEN)]
    token: Token,

    /// Project secret /import accepts as Basic user (deprecated by Mixpanel).
    #[arg(long, value_name = "SECRET", default_value = DEFAULT_PROJECT_SECRET, value_parser = secret)]
    project_secret: Secret,

    /// Service account /import accepts, as USER:SECRET, with --project-id.
    #[arg(long, value_name = "USER:SECRET", default_value = DEFAULT_SERVICE_ACCOUNT, value_parser = user_and_secret)]
    service_account: (String, Secret),

    /// Project the service account acts on (the `project_id` query parameter).
    #[arg(long, value_name = "ID", default_value = DEFAULT_PROJECT_ID)]
    project_id: String,

    /// Seconds the server's clock runs ahead of this machine's (negative: behind), at most
    /// 30 days either way: enough to cross /track's 5-day window.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i64).range(-MAX_CLOCK_SKEW_SECS..=MAX_CLOCK_SKEW_SECS)
    )]
    clock_skew_secs: i64,

    /// Events per second the project takes, as Mixpanel limits each project, counted
    /// over a rolling window (--rate-limit-window-ms); requests past it are answered 429,
    /// without Retry-After unless --retry-after. Uncompressed bytes are limited too (2 GB
    /// a minute unless --rate-limit-bytes). Default: no limit.
    #[arg(long, value_name = "EVENTS_PER_SEC", value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: Option<u32>,

    /// Uncompressed bytes per second the project takes, over the same window.
    #[arg(long, value_name = "BYTES_PER_SEC", value_parser = clap::value_parser!(u64).range(1..))]
    rate_limit_bytes: Option<u64>,

    /// The rate limit's rolling window, in milliseconds (Mixpanel's: a minute).
    #[arg(long, value_name = "MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    rate_limit_window_ms: u64,

    /// Send Retry-After with 429s (Mixpanel documents none for ingestion).
    #[arg(long)]
    retry_after: bool,

    /// Answer 429s (the rate limit's and the 429 fault's) with a proxy's HTML page
    /// instead of Mixpanel's JSON.
    #[arg(long)]
    html_429: bool,
}

/// The longest `--slow-ms`.
const MAX_SLOW_MS: u64 = 600_000;

/// The largest `--clock-skew-secs`, either way: 30 days.
const MAX_CLOCK_SKEW_SECS: i64 = 30 * 86_400;

/// `--id-merge` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum IdMerge {
    /// Original ID Merge: chaining, errAliasAlreadyExists, errManyIDs past 500 ids.
    Original,
    /// Legacy: an id can be aliased once.
    Legacy,
    /// Simplified ID Merge: /import refuses identity events, /track stores them unmerged;
    /// $device_id with $user_id links ids.
    Simplified,
}

impl From<IdMerge> for IdentitySystem {
    fn from(merge: IdMerge) -> Self {
        match merge {
            IdMerge::Original => Self::Original,
            IdMerge::Legacy => Self::Legacy,
            IdMerge::Simplified => Self::Simplified,
        }
    }
}

fn secret(value: &str) -> Result<Secret, String> {
    Secret::new(value).map_err(|e| e.to_string())
}

fn user_and_secret(value: &str) -> Result<(String, Secret), String> {
    let (user, password) = value
        .split_once(':')
        .ok_or("expected USER:SECRET, with a ':' between them")?;
    if user.trim().is_empty() {
        return Err("the user before ':' is empty".to_owned());
    }
    Ok((user.to_owned(), secret(password)?))
}

/// Starts the server, prints its address, and serves until SIGINT or SIGTERM.
pub(crate) fn run(args: Args) -> ExitCode {
    let (user, account_secret) = args.service_account;
    let mut builder = Server::builder();
    if let Some(events_per_sec) = args.rate_limit {
        builder = builder.rate_limit(events_per_sec);
    }
    if let Some(bytes_per_sec) = args.rate_limit_bytes {
        builder = builder.rate_limit_bytes(bytes_per_sec);
    }
    let started = builder
        .addr(args.addr)
        .identity(args.id_merge.into())
        .faults(args.faults.unwrap_or_default())
        .seed(args.seed)
        .max_body_bytes(args.max_body_bytes)
        .slow_delay(Duration::from_millis(args.slow_ms))
        .token(args.token.expose())
        .project_secret(args.project_secret)
        .service_accounts([ServiceAccount::new(user, account_secret, args.project_id)])
        .clock_skew_secs(args.clock_skew_secs)
        .rate_limit_window(Duration::from_millis(args.rate_limit_window_ms))
        .retry_after(args.retry_after)
        .html_429(args.html_429)
        .on_unknown_token(unknown_token_warner())
        .start();
    let server = match started {
        Ok(server) => server,
        Err(error) => {
            console::message(&format!("error: {error}"));
            return ExitCode::FAILURE;
        }
    };
    // Handlers go in before the first line: a tool that reads it may signal at once.
    let listening = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| {
            let signal = {
                let _entered = runtime.enter();
                StopSignal::listen()?
            };
            Ok((runtime, signal))
        });
    let (runtime, mut stop) = match listening {
        Ok(listening) => listening,
        Err(error) => {
            console::message(&format!("error: cannot listen for stop signals: {error}"));
            return ExitCode::FAILURE;
        }
    };
    // The first line is a contract: tools wait for it and read the URL from it.
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", server.url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        console::message("error: cannot write the address to stdout");
        return ExitCode::FAILURE;
    }
    drop(stdout);
    let waited = runtime.block_on(stop.next());
    server.shutdown();
    match waited {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            console::message(&format!("error: cannot wait for a stop signal: {error}"));
            ExitCode::FAILURE
        }
    }
}

/// At most this many unknown-token warnings are printed per minute, however many tokens
/// arrive: the server reports each distinct token once, and a peer could make up many.
const MAX_TOKEN_WARNINGS_PER_MINUTE: u32 = 3;

/// The hook that warns on stderr about `/track` events for a token the server was not
/// given: Mixpanel answers those `1` and drops them, so without a warning a mistyped
/// `--token` looks like success.
fn unknown_token_warner() -> impl Fn(&str) + Send + Sync + 'static {
    let pace = Mutex::new(WarningPace::default());
    move |token| {
        let admitted = pace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(Instant::now());
        if let Some(held_back) = admitted {
            // A closed stderr is no reason to fail a request.
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                unknown_token_warning(token, held_back)
            );
        }
    }
}

/// The warning line for `token`, naming it by a short prefix only, and saying how many
/// warnings the pace held back since the last one.
fn unknown_token_warning(token: &str, held_back: u64) -> String {
    let mut line = format!(
        "warning: /track events carry a token this server was not given ({}); they are answered 1 and not stored, as Mixpanel does; pass it with --token",
        recognisable_prefix(token)
    );
    if held_back > 0 {
        line.push_str(&format!(
            " ({held_back} other unknown tokens were not shown)"
        ));
    }
    line
}

/// Enough of `token` to recognise it, never all of it: four characters, or half of a
/// token of eight or fewer, with anything unprintable shown as `?` so that a token cannot
/// write control sequences to the terminal.
fn recognisable_prefix(token: &str) -> String {
    let len = token.chars().count();
    let shown = if len > 8 { 4 } else { len / 2 };
    let mut prefix: String = token
        .chars()
        .take(shown)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect();
    prefix.push('…');
    prefix
}

/// Lets at most [`MAX_TOKEN_WARNINGS_PER_MINUTE`] warnings through per minute, counting
/// from the first warning of each minute.
#[derive(Debug, Default)]
struct WarningPace {
    window_start: Option<Instant>,
    shown_in_window: u32,
    held_back: u64,
}

impl WarningPace {
    /// Whether a warning may be shown at `now`: `Some` with how many were held back since
    /// the last one shown, or `None` to hold this one back.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        let window_over = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= Duration::from_secs(60));
        if window_over {
            self.window_start = Some(now);
            self.shown_in_window = 0;
        }
        if self.shown_in_window >= MAX_TOKEN_WARNINGS_PER_MINUTE {
            self.held_back += 1;
            return None;
        }
        self.shown_in_window += 1;
        Some(std::mem::take(&mut self.held_back))
    }
}

#[cfg(test)]
mod tests {
    use alias_server::{DEFAULT_SERVICE_ACCOUNT_SECRET, DEFAULT_SERVICE_ACCOUNT_USER};

    use super::*;

    #[test]
    fn the_default_service_account_is_the_servers() {
        assert_eq!(
            DEFAULT_SERVICE_ACCOUNT,
            format!("{DEFAULT_SERVICE_ACCOUNT_USER}:{DEFAULT_SERVICE_ACCOUNT_SECRET}")
        );
    }

    #[test]
    fn service_accounts_parse_and_explain_mistakes() {
        let (user, secret) = user_and_secret("sa:se:cret").unwrap();
        assert_eq!((user.as_str(), secret.expose()), ("sa", "se:cret"));
        assert!(
            user_and_secret("no-colon")
                .unwrap_err()
                .contains("USER:SECRET")
        );
        assert!(user_and_secret(":secret").is_err());
        assert!(user_and_secret("user:").is_err());
    }

    #[test]
    fn warnings_are_paced_per_minute_and_count_what_was_held_back() {
        let mut pace = WarningPace::default();
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        assert_eq!(pace.admit(at(0)), Some(0));
        assert_eq!(pace.admit(at(1)), Some(0));
        assert_eq!(pace.admit(at(2)), Some(0));
        assert_eq!(pace.admit(at(3)), None);
        assert_eq!(pace.admit(at(59)), None);
        assert_eq!(pace.admit(at(60)), Some(2));
        assert_eq!(pace.admit(at(61)), Some(0));
    }

    #[test]
    fn warnings_name_the_token_by_a_short_prefix_and_the_flag() {
        let line = unknown_token_warning("abcdef0123456789abcdef0123456789", 0);
        assert_eq!(
            line,
            "warning: /track events carry a token this server was not given (abcd…); they are answered 1 and not stored, as Mixpanel does; pass it with --token"
        );
        assert!(
            unknown_token_warning("abcdef0123", 4)
                .ends_with(" (4 other unknown tokens were not shown)")
        );
        assert_eq!(recognisable_prefix("short"), "sh…");
        assert_eq!(recognisable_prefix("x"), "…");
        assert_eq!(recognisable_prefix("\u{1b}[31mred-token"), "?[31…");
    }

    #[test]
    fn id_merge_names_map_to_identity_systems() {
        for merge in IdMerge::value_variants() {
            let name = merge.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(name.parse::<IdentitySystem>(), Ok((*merge).into()));
        }
    }
}
