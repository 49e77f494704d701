//! The four clients under test, behind one call: send these aliases, report each outcome.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::UNIX_EPOCH;

use alias_core::{
    AliasOutcome, ApiHost, Config, CreateAlias, Credentials, Endpoint, Report, Secret, Token,
    ValidationError, driver::TransportLimits, wire::BatchLimits, wire::EventName, wire::Link,
    wire::Region, wire::RetryPolicy, wire::TrackBody,
};
use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_PROJECT_SECRET, DEFAULT_SERVICE_ACCOUNT_SECRET,
    DEFAULT_SERVICE_ACCOUNT_USER, DEFAULT_TOKEN,
};

use crate::adapter::Adapter;
use crate::vector::{ClientSpec, RawAlias};

/// A client under test: a library client, or the `mixpanel-alias import` binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientKind {
    /// A library client.
    Library(Adapter),
    /// The `mixpanel-alias import` binary.
    Cli,
}

impl ClientKind {
    /// Every client, in table order: the library clients, then the binary.
    pub const ALL: [Self; 4] = [
        Self::Library(Adapter::ALL[0]),
        Self::Library(Adapter::ALL[1]),
        Self::Library(Adapter::ALL[2]),
        Self::Cli,
    ];

    /// The library adapter of this client; `None` for the CLI.
    pub fn adapter(self) -> Option<Adapter> {
        match self {
            Self::Library(adapter) => Some(adapter),
            Self::Cli => None,
        }
    }

    /// The client's name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Library(adapter) => adapter.name(),
            Self::Cli => "cli",
        }
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ClientKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                format!("unknown client {name:?}: expected reqwest, reqwest-blocking, surf or cli")
            })
    }
}

/// How one alias ended, as a client reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    /// Accepted by the server.
    Accepted,
    /// Refused by the server.
    Rejected,
    /// Refused by validation before sending.
    Invalid,
    /// Handed back after the retry budget.
    Undelivered,
}

impl OutcomeKind {
    /// The name used in vector files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Invalid => "invalid",
            Self::Undelivered => "undelivered",
        }
    }
}

/// One alias's outcome: its kind, and the refused field or the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// How it ended.
    pub kind: OutcomeKind,
    /// The field named by a rejection or a validation error.
    pub field: Option<String>,
    /// The reason, for failure messages.
    pub detail: String,
}

impl Observed {
    fn of(outcome: &AliasOutcome) -> Self {
        match outcome {
            AliasOutcome::Accepted => Self {
                kind: OutcomeKind::Accepted,
                field: None,
                detail: String::new(),
            },
            AliasOutcome::Rejected(rejection) => Self {
                kind: OutcomeKind::Rejected,
                field: rejection.field().map(str::to_owned),
                detail: rejection.message().to_owned(),
            },
            AliasOutcome::Invalid(error) => Self::invalid(error),
            AliasOutcome::Undelivered(undelivered) => Self {
                kind: OutcomeKind::Undelivered,
                field: None,
                detail: undelivered.last_error.to_string(),
            },
        }
    }

    fn invalid(error: &ValidationError) -> Self {
        Self {
            kind: OutcomeKind::Invalid,
            field: Some(error.field.to_string()),
            detail: error.to_string(),
        }
    }
}

/// The client configuration a case asks for, pointed at `server_url` (or at the region's
/// host for a request-only case, when `server_url` is `None`).
pub fn config(spec: &ClientSpec, server_url: Option<&str>) -> Result<Config, String> {
    let mut config = if spec.no_token == Some(true) {
        Config::builder_for_import(credentials(spec.credentials.as_deref())?)
            .map_err(|e| e.to_string())?
    } else {
        Config::builder(
            Token::new(spec.token.as_deref().unwrap_or(DEFAULT_TOKEN))
                .map_err(|e| e.to_string())?,
        )
    };
    config = match server_url {
        Some(url) => config.api_host(ApiHost::custom(url).map_err(|e| e.to_string())?),
        None => config.region(region(spec.region.as_deref())?),
    };
    if spec.endpoint.as_deref() == Some("import") {
        config = config.endpoint(Endpoint::Import(credentials(spec.credentials.as_deref())?));
    } else if let Some(other) = spec.endpoint.as_deref().filter(|e| *e != "track") {
        return Err(format!("unknown endpoint {other:?}"));
    }
    config = config.track_body(track_body(spec.body.as_deref())?);
    if let Some(verbose) = spec.verbose {
        config = config.verbose(verbose);
    }
    if let Some(strict) = spec.strict {
        config = config.strict(strict);
    }
    if let Some(gzip) = spec.gzip {
        config = config.gzip(gzip);
    }
    let defaults = BatchLimits::default();
    config = config.batch_limits(BatchLimits {
        max_events: spec.max_events.unwrap_or(defaults.max_events),
        max_body_bytes: spec.max_body_bytes.unwrap_or(defaults.max_body_bytes),
    });
    config = match (spec.link.as_deref(), spec.association_event.as_deref()) {
        (None | Some("create_alias"), None) => config,
        (Some("association"), Some(event)) => config.link(Link::Association {
            event: EventName::new(event).map_err(|e| e.to_string())?,
        }),
        (link, event) => return Err(format!("unknown link {link:?} with event {event:?}")),
    };
    if let Some(concurrency) = spec.concurrency {
        config = config.concurrency(concurrency);
    }
    if let Some(ordered) = spec.ordered {
        config = config.ordered(ordered);
    }
    let mut retry = RetryPolicy::fast();
    if let Some(attempts) = spec.max_attempts {
        retry.max_attempts = attempts;
    }
    Ok(config.retry_policy(retry).build())
}

fn region(name: Option<&str>) -> Result<Region, String> {
    match name.unwrap_or("us") {
        "us" => Ok(Region::Us),
        "eu" => Ok(Region::Eu),
        "in" => Ok(Region::In),
        other => Err(format!("unknown region {other:?}")),
    }
}

fn track_body(name: Option<&str>) -> Result<TrackBody, String> {
    match name.unwrap_or("form_json") {
        "form_json" => Ok(TrackBody::FormJson),
        "form_base64" => Ok(TrackBody::FormBase64),
        "json_array" => Ok(TrackBody::JsonArray),
        other => Err(format!("unknown body {other:?}")),
    }
}

fn credentials(name: Option<&str>) -> Result<Credentials, String> {
    let secret = |s: &str| Secret::new(s).map_err(|e| e.to_string());
    match name.unwrap_or("project_token") {
        "service_account" => Credentials::service_account(
            DEFAULT_SERVICE_ACCOUNT_USER,
            secret(DEFAULT_SERVICE_ACCOUNT_SECRET)?,
            DEFAULT_PROJECT_ID,
        )
        .map_err(|e| e.to_string()),
        "project_token" => Ok(Credentials::ProjectToken),
        "project_secret" => Ok(Credentials::ProjectSecret(secret(DEFAULT_PROJECT_SECRET)?)),
        "wrong" => Ok(Credentials::ProjectSecret(secret(
            "not-the-project-secret",
        )?)),
        other => Err(format!("unknown credentials {other:?}")),
    }
}

/// Builds the library's alias from a case's, or the validation error a client reports.
pub fn create_alias(raw: &RawAlias) -> Result<CreateAlias, ValidationError> {
    let mut alias = CreateAlias::from_ids(&raw.distinct_id, &raw.alias)?;
    for (name, value) in &raw.properties {
        alias = alias.with_property(name, value)?;
    }
    if let Some(time) = raw.time {
        alias = alias.with_time(time)?;
    }
    Ok(alias)
}

/// Sends `aliases` with the library client `kind` and reports each outcome in order.
pub fn send_with_library(
    kind: ClientKind,
    config: Config,
    aliases: &[RawAlias],
) -> Result<Vec<Observed>, String> {
    let mut observed: Vec<Option<Observed>> = Vec::with_capacity(aliases.len());
    let mut valid = Vec::new();
    for raw in aliases {
        match create_alias(raw) {
            Ok(alias) => {
                valid.push(alias);
                observed.push(None);
            }
            Err(error) => observed.push(Some(Observed::invalid(&error))),
        }
    }
    let adapter = kind
        .adapter()
        .ok_or_else(|| format!("{kind} is not a library client"))?;
    let report = adapter
        .client(config, TransportLimits::default())
        .send(valid);
    fill(observed, &report)
}

fn fill(mut observed: Vec<Option<Observed>>, report: &Report) -> Result<Vec<Observed>, String> {
    let mut entries = report.entries.iter();
    for slot in observed.iter_mut().filter(|slot| slot.is_none()) {
        let entry = entries
            .next()
            .ok_or("the report has fewer entries than aliases sent")?;
        *slot = Some(Observed::of(&entry.outcome));
    }
    if entries.next().is_some() {
        return Err("the report has more entries than aliases sent".to_owned());
    }
    Ok(observed.into_iter().flatten().collect())
}

/// The time of an alias as milliseconds since the epoch, as files carry it.
pub fn millis(raw: &RawAlias) -> Option<u64> {
    raw.time
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Sends `aliases` with the `mixpanel-alias import` binary at `cli`.
pub fn send_with_cli(
    cli: &Path,
    spec: &ClientSpec,
    server_url: &str,
    aliases: &[RawAlias],
) -> Result<Vec<Observed>, String> {
    crate::cli::send(cli, spec, server_url, aliases)
}
