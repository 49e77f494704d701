//! Runs one case through one client against a fresh reference server.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use alias_server::Server;
use alias_server::{FaultSpec, IdentitySystem};

use crate::check;
use crate::client::{self, ClientKind, Observed};
use crate::vector::{Case, ServerSpec};

/// How a case went for one client.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Every expectation that did not hold; empty when the case passed.
    pub failures: Vec<String>,
    /// Wall time of the case, server start included.
    pub elapsed: Duration,
}

impl CaseResult {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs `case` with `client`. `cli` is the `mixpanel-alias` binary, needed for
/// [`ClientKind::Cli`].
pub fn run_case(case: &Case, client: ClientKind, cli: Option<&Path>) -> CaseResult {
    let started = Instant::now();
    let failures = match attempt(case, client, cli) {
        Ok(failures) => failures,
        Err(error) => vec![error],
    };
    CaseResult {
        failures,
        elapsed: started.elapsed(),
    }
}

fn attempt(case: &Case, client: ClientKind, cli: Option<&Path>) -> Result<Vec<String>, String> {
    let now = SystemTime::now();
    let sends = case.expand(now);
    if let Some(url) = &case.expect.url {
        let seen = match client {
            ClientKind::Cli => crate::cli::dry_run_url(cli_path(cli)?, &case.client, &sends[0])?,
            _ => library_url(case, &sends[0], now)?,
        };
        return Ok(check::equal("request URL", url, &seen)
            .into_iter()
            .collect());
    }
    let server = start_server(&case.server)?;
    let mut observed: Vec<Observed> = Vec::new();
    for send in &sends {
        let outcomes = match client {
            ClientKind::Cli => {
                client::send_with_cli(cli_path(cli)?, &case.client, server.url(), send)?
            }
            library => client::send_with_library(
                library,
                client::config(&case.client, Some(server.url()))?,
                send,
            )?,
        };
        if outcomes.len() != send.len() {
            return Err(format!(
                "{} outcomes reported for {} aliases",
                outcomes.len(),
                send.len()
            ));
        }
        observed.extend(outcomes);
    }
    Ok(check::all(&case.expect, &observed, &server))
}

fn cli_path(cli: Option<&Path>) -> Result<&Path, String> {
    cli.ok_or_else(|| "no mixpanel-alias binary given for the cli client".to_owned())
}

fn library_url(
    case: &Case,
    aliases: &[crate::vector::RawAlias],
    now: SystemTime,
) -> Result<String, String> {
    let config = client::config(&case.client, None)?;
    let aliases: Vec<_> = aliases
        .iter()
        .map(client::create_alias)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let batches = config.encode(&aliases, now).map_err(|e| e.to_string())?;
    let first = batches.first().ok_or("no request was built")?;
    Ok(first.request.uri().to_string())
}

fn start_server(spec: &ServerSpec) -> Result<Server, String> {
    let mut builder = Server::builder();
    if let Some(identity) = &spec.identity {
        builder = builder.identity(
            identity
                .parse::<IdentitySystem>()
                .map_err(|e| e.to_string())?,
        );
    }
    if let Some(faults) = &spec.faults {
        builder = builder.faults(faults.parse::<FaultSpec>().map_err(|e| e.to_string())?);
    }
    if let Some(seed) = spec.seed {
        builder = builder.seed(seed);
    }
    if let Some(bytes) = spec.max_body_bytes {
        builder = builder.max_body_bytes(bytes);
    }
    if let Some(secs) = spec.clock_skew_secs {
        builder = builder.clock_skew_secs(secs);
    }
    if let Some(events_per_sec) = spec.rate_limit {
        builder = builder.rate_limit(events_per_sec);
    }
    if let Some(bytes_per_sec) = spec.rate_limit_bytes {
        builder = builder.rate_limit_bytes(bytes_per_sec);
    }
    if let Some(millis) = spec.rate_limit_window_ms {
        builder = builder.rate_limit_window(Duration::from_millis(millis));
    }
    builder
        .retry_after(spec.retry_after.unwrap_or(false))
        .html_429(spec.html_429.unwrap_or(false))
        .start()
        .map_err(|e| format!("the reference server did not start: {e}"))
}

/// A real Mixpanel project (or any other ingestion endpoint) to run the safe cases against.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The base URL, e.g. `https://api-eu.mixpanel.com`.
    pub url: String,
    /// The project token.
    pub token: String,
    /// Prefixed to every id, so that a run's aliases are new to the project.
    pub id_prefix: String,
}

impl Case {
    /// Whether the case can run against a real project: the server is as Mixpanel's (no
    /// faults, limits or skew) and only the client's outcomes are checked, since a real
    /// project has no inspection API.
    pub fn is_safe_remotely(&self) -> bool {
        let server = &self.server;
        let default_server = server.faults.is_none()
            && server.max_body_bytes.is_none()
            && server.clock_skew_secs.is_none()
            && server.rate_limit.is_none()
            && server.rate_limit_bytes.is_none()
            && server.rate_limit_window_ms.is_none()
            && server.retry_after.is_none()
            && server.html_429.is_none()
            && server.identity.is_none();
        let expect = &self.expect;
        let client_side_only = expect.stats.is_none()
            && expect.events.is_none()
            && expect.identity.is_none()
            && expect.url.is_none();
        default_server
            && client_side_only
            && self.client.endpoint.as_deref() != Some("import")
            && self.client.token.is_none()
    }
}

/// Runs a case that [`Case::is_safe_remotely`] against `remote`, checking the outcomes the
/// client reports.
pub fn run_case_remotely(
    case: &Case,
    client: ClientKind,
    cli: Option<&Path>,
    remote: &Remote,
) -> CaseResult {
    let started = Instant::now();
    let result = (|| {
        if !case.is_safe_remotely() {
            return Err(format!(
                "{} is not safe to run against a real project",
                case.name
            ));
        }
        let mut spec = case.client.clone();
        spec.token = Some(remote.token.clone());
        let mut observed = Vec::new();
        for mut send in case.expand(SystemTime::now()) {
            for alias in &mut send {
                alias.distinct_id = format!("{}{}", remote.id_prefix, alias.distinct_id);
                alias.alias = format!("{}{}", remote.id_prefix, alias.alias);
            }
            observed.extend(match client {
                ClientKind::Cli => {
                    client::send_with_cli(cli_path(cli)?, &spec, &remote.url, &send)?
                }
                library => client::send_with_library(
                    library,
                    client::config(&spec, Some(&remote.url))?,
                    &send,
                )?,
            });
        }
        Ok(check::client_side(&case.expect, &observed))
    })();
    CaseResult {
        failures: result.unwrap_or_else(|error| vec![error]),
        elapsed: started.elapsed(),
    }
}
