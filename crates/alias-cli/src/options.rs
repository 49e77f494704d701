//! The flags `create` and `import` share, turned into an [`alias_core::Config`].
//!
//! Every problem is a [`UsageError`] naming the flag and saying what to do. Secret values
//! (token, service account secret, project secret) are never echoed: clap is told to hide
//! their environment values in `--help`, and no message here formats one.

use std::time::Duration;

use alias_core::{
    ApiHost, Config, Credentials, Endpoint, Secret, Token, ValidationError,
    driver::TransportLimits, wire::BatchLimits, wire::ConfigBuilder, wire::ConfigError,
    wire::EventName, wire::Field, wire::Link, wire::Region, wire::RetryPolicy, wire::TrackBody,
};
use clap::ValueEnum;

use crate::exit::UsageError;

/// What stands in for a token or a secret in a dry run's output.
pub(crate) const REDACTED: &str = "<redacted>";

/// The flags of every command that sends aliases.
#[derive(Debug, clap::Args)]
pub(crate) struct CommonArgs {
    /// The Mixpanel project token (Project Settings). Not needed with --endpoint import and
    /// a service account (with --project-id) or --project-secret, which name the project;
    /// the events then carry no token. Prefer the environment variable: command-line
    /// arguments are visible to other users of the machine.
    #[arg(
        long,
        env = "MIXPANEL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,

    /// The project's data residency region; events sent to another region's host are not
    /// ingested.
    #[arg(long, value_enum, default_value_t = RegionArg::Us)]
    region: RegionArg,

    /// A base URL to send to instead of the region's host (a proxy, a test server).
    /// Overrides --region. Plain http is accepted for loopback hosts only.
    #[arg(long, value_name = "URL")]
    api_host: Option<String>,

    /// `track` needs only the token; `import` authenticates (service account, project
    /// secret, or the token as user name) and validates strictly.
    #[arg(long, value_enum, default_value_t = EndpointArg::Track)]
    endpoint: EndpointArg,

    /// The numeric project id, with a service account (--endpoint import).
    #[arg(long, value_name = "ID")]
    project_id: Option<String>,

    /// The service account's user name (--endpoint import).
    #[arg(
        long,
        env = "MIXPANEL_SERVICE_ACCOUNT_USER",
        hide_env_values = true,
        value_name = "USER"
    )]
    service_account_user: Option<String>,

    /// The service account's secret (--endpoint import). Prefer the environment variable.
    #[arg(
        long,
        env = "MIXPANEL_SERVICE_ACCOUNT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    service_account_secret: Option<String>,

    /// The project's API secret (--endpoint import). Deprecated by Mixpanel; prefer a
    /// service account. Prefer the environment variable.
    #[arg(
        long,
        env = "MIXPANEL_PROJECT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    project_secret: Option<String>,

    /// Do not ask for per-record validation (strict=0). By default every request asks for
    /// it, so that each row gets its own outcome; without it, /track answers a batch
    /// holding one refused row with a single 0, and the batch is split and sent again
    /// until the refused row is found.
    #[arg(long, help_heading = "Advanced")]
    no_strict: bool,

    /// How each pair of ids is linked. create-alias: a $create_alias event, which Original
    /// ID Merge and Legacy projects read. association: an event named by
    /// --association-event carrying $device_id (the distinct_id) and $user_id (the alias),
    /// which is how projects on Simplified ID Merge (the default since 2024) link ids; they
    /// refuse or ignore $create_alias.
    #[arg(long, value_enum, default_value_t = LinkArg::CreateAlias)]
    link: LinkArg,

    /// The event name of --link association, e.g. "Identity Linked".
    #[arg(long, value_name = "NAME", required_if_eq("link", "association"))]
    association_event: Option<String>,

    /// Send at most this many events a second, from the first request on: to leave room
    /// under the project's rate limit (about 30,000 events/s) for other senders.
    #[arg(
        long,
        value_name = "EVENTS_PER_SEC",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    max_rate: Option<u32>,

    /// Send rows in input order: one request at a time, and a request waiting for a retry
    /// holds back the rows after it. Needed when rows build on each other (a chain of
    /// aliases under Legacy ID management); slower.
    #[arg(long)]
    keep_order: bool,

    /// Do not adapt the send rate to 429 answers (by default, after two 429s in a row the
    /// import sends, per window, what Mixpanel took over the last one). A Retry-After is
    /// honoured either way.
    #[arg(long, help_heading = "Advanced")]
    no_adaptive_pacing: bool,

    /// The rolling window, in milliseconds, over which the project's rate limit counts
    /// (Mixpanel's: a minute); for a test server with a shorter one.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 60_000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        help_heading = "Advanced"
    )]
    rate_window_ms: u64,

    /// The HTTP client that carries the requests.
    #[arg(long, value_enum, default_value_t = TransportArg::Reqwest)]
    transport: TransportArg,

    /// Print the requests that would be sent, secrets redacted, and send nothing.
    #[arg(long)]
    dry_run: bool,

    /// Attempts per request, the first included, before its aliases count as undelivered.
    #[arg(
        long,
        default_value_t = 8,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=1000),
        help_heading = "Advanced"
    )]
    max_attempts: u32,

    /// The first retry backoff in milliseconds. Scales the whole documented policy (2 s
    /// doubling to 60 s, 1-5 s jitter, Retry-After obeyed up to 10 min): 2 makes every wait
    /// a thousand times shorter, for loopback test servers.
    #[arg(
        long,
        default_value_t = 2000,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=600_000),
        help_heading = "Advanced"
    )]
    retry_initial_ms: u64,

    /// The longest one request may take, from sending it to the last byte of its answer,
    /// in milliseconds; a request that takes longer counts as failed and is sent again.
    #[arg(
        long,
        default_value_t = default_request_timeout_ms(),
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        help_heading = "Advanced"
    )]
    request_timeout_ms: u64,

    /// How /track requests carry their events: form field `data` with JSON (as the Python
    /// and Go SDKs send it), form field `data` with base64 (as Ruby and PHP do), or a JSON
    /// array body.
    #[arg(long, value_enum, default_value_t = BodyArg::FormJson, help_heading = "Advanced")]
    body: BodyArg,

    /// Compress request bodies with gzip.
    #[arg(long, help_heading = "Advanced")]
    gzip: bool,

    /// Ask /track for a bare 1 or 0 instead of JSON with the error message (verbose=0).
    #[arg(long, help_heading = "Advanced")]
    no_verbose: bool,

    /// Uncompressed body bytes per request. Mixpanel documents 10 MB and, elsewhere, 2 MiB;
    /// the default is the smaller.
    #[arg(
        long,
        default_value_t = BatchLimits::DEFAULT_BODY_BYTES,
        value_name = "BYTES",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1024..=10_000_000),
        help_heading = "Advanced"
    )]
    max_body_bytes: usize,
}

/// `--body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BodyArg {
    /// `data=<JSON>`, form-urlencoded.
    FormJson,
    /// `data=<base64 of JSON>`, form-urlencoded.
    FormBase64,
    /// A JSON array, application/json.
    JsonArray,
}

impl From<BodyArg> for TrackBody {
    fn from(body: BodyArg) -> Self {
        match body {
            BodyArg::FormJson => Self::FormJson,
            BodyArg::FormBase64 => Self::FormBase64,
            BodyArg::JsonArray => Self::JsonArray,
        }
    }
}

/// `--link`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LinkArg {
    /// A $create_alias event.
    CreateAlias,
    /// An association event ($device_id and $user_id), for Simplified ID Merge.
    Association,
}

/// `--region`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RegionArg {
    /// api.mixpanel.com
    Us,
    /// api-eu.mixpanel.com
    Eu,
    /// api-in.mixpanel.com
    In,
}

/// `--endpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EndpointArg {
    /// /track
    Track,
    /// /import
    Import,
}

/// `--transport`: which adapter crate carries the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TransportArg {
    /// alias-reqwest (tokio).
    Reqwest,
    /// alias-surf (async-std).
    #[cfg(feature = "surf")]
    Surf,
}

/// How an import batches its aliases and overlaps its requests; `create` sends one alias
/// and leaves both at the defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// Aliases per request.
    pub(crate) batch_size: usize,
    /// Requests in flight at once.
    pub(crate) concurrency: usize,
}

/// How long an import's partly filled batch waits for the reader: an import wants full
/// batches more than a prompt lone row, and a reader thread descheduled for a moment on a
/// busy machine should not split a batch in two.
const IMPORT_LINGER: Duration = Duration::from_millis(250);

/// The validated common flags.
#[derive(Debug)]
pub(crate) struct Settings {
    /// What to send and how. In a dry run, the token and secrets in it are placeholders, so
    /// that nothing printed from it can hold a real one.
    pub(crate) config: Config,
    /// The adapter to send with.
    pub(crate) transport: TransportArg,
    /// Print instead of sending.
    pub(crate) dry_run: bool,
    /// The bounds on each request.
    pub(crate) limits: TransportLimits,
}

/// The adapters' default request timeout, as `--request-timeout-ms` takes it.
fn default_request_timeout_ms() -> u64 {
    u64::try_from(TransportLimits::default().request_timeout.as_millis()).unwrap_or(u64::MAX)
}

impl CommonArgs {
    /// Whether rows are sent in input order (`--keep-order`).
    pub(crate) fn keep_order(&self) -> bool {
        self.keep_order
    }

    /// Whether pairs are sent as Simplified ID Merge associations (`--link association`).
    pub(crate) fn links_by_association(&self) -> bool {
        self.link == LinkArg::Association
    }

    /// Checks the flags and builds the configuration.
    pub(crate) fn settings(&self, batching: Option<Batching>) -> Result<Settings, UsageError> {
        let host = match &self.api_host {
            Some(url) => ApiHost::custom(url).map_err(api_host_error)?,
            None => ApiHost::region(self.region.into()),
        };
        let mut config = self
            .project()?
            .api_host(host)
            .retry_policy(self.retry_policy())
            .track_body(self.body.into())
            .gzip(self.gzip)
            .verbose(!self.no_verbose)
            .batch_limits(BatchLimits {
                max_events: batching.map_or(BatchLimits::default().max_events, |b| b.batch_size),
                max_body_bytes: self.max_body_bytes,
            });
        if let Some(batching) = batching {
            config = config
                .concurrency(batching.concurrency)
                .linger(IMPORT_LINGER);
        }
        if self.no_strict {
            config = config.strict(false);
        }
        if let Some(rate) = self.max_rate {
            config = config.max_rate(rate);
        }
        let config = config
            .ordered(self.keep_order)
            .adaptive_pacing(!self.no_adaptive_pacing)
            .rate_window(Duration::from_millis(self.rate_window_ms))
            .link(self.link()?)
            .build();
        Ok(Settings {
            config,
            transport: self.transport,
            dry_run: self.dry_run,
            limits: TransportLimits::default()
                .request_timeout(Duration::from_millis(self.request_timeout_ms)),
        })
    }

    fn link(&self) -> Result<Link, UsageError> {
        match (self.link, &self.association_event) {
            (LinkArg::CreateAlias, None) => Ok(Link::CreateAlias),
            (LinkArg::Association, Some(event)) => EventName::new(event.as_str())
                .map(|event| Link::Association { event })
                .map_err(|error| {
                    UsageError::new(format!(
                        "--association-event {}; name the event that will carry $device_id \
                         and $user_id, e.g. \"Identity Linked\"",
                        error.problem
                    ))
                }),
            (LinkArg::CreateAlias, Some(_)) => Err(UsageError::new(
                "--association-event names the event of --link association: add --link \
                 association, or drop --association-event to send $create_alias",
            )),
            // clap requires the event name with --link association.
            (LinkArg::Association, None) => Err(UsageError::new(
                "--link association needs --association-event NAME",
            )),
        }
    }

    /// A builder for the project of the token and the endpoint's credentials. The token
    /// may be left out only for `/import` credentials that name the project (a service
    /// account with its project id, or the project secret). In a dry run, the token and
    /// the secrets are placeholders.
    fn project(&self) -> Result<ConfigBuilder, UsageError> {
        let credentials = self.credentials()?;
        let credentials = if self.dry_run {
            credentials.map(redact)
        } else {
            credentials
        };
        // A blank token, as an environment variable set empty, is no token.
        let token = self.token.clone().and_then(|token| Token::new(token).ok());
        match (token, credentials) {
            (Some(token), credentials) => {
                let token = if self.dry_run {
                    placeholder_token()
                } else {
                    token
                };
                Ok(Config::builder(token)
                    .endpoint(credentials.map_or(Endpoint::Track, Endpoint::Import)))
            }
            // The project token credentials, or none (/track), need the token.
            (None, credentials) => credentials
                .and_then(|credentials| Config::builder_for_import(credentials).ok())
                .ok_or_else(|| {
                    UsageError::new(
                        "--token is missing: pass the project token (Mixpanel: Project \
                         Settings) with --token or, better, the MIXPANEL_TOKEN environment \
                         variable; only --endpoint import with a service account (and \
                         --project-id) or --project-secret needs none",
                    )
                }),
        }
    }

    /// The `/import` credentials, or `None` for `/track`.
    fn credentials(&self) -> Result<Option<Credentials>, UsageError> {
        let user = self.service_account_user.as_deref();
        let secret = self.service_account_secret.as_deref();
        let project_secret = self.project_secret.as_deref();
        if self.endpoint == EndpointArg::Track {
            // Also set from the environment, so ignored rather than refused: the same shell
            // may run both endpoints.
            if user.is_some() || secret.is_some() || project_secret.is_some() {
                tracing::warn!("credentials are ignored with --endpoint track: /track sends none");
            }
            if self.project_id.is_some() {
                return Err(UsageError::new(
                    "--project-id is only used with --endpoint import; add --endpoint import or \
                     drop --project-id",
                ));
            }
            return Ok(None);
        }
        let service_account = user.is_some() || secret.is_some();
        match (service_account, project_secret) {
            (true, Some(_)) => Err(UsageError::new(
                "both a service account and --project-secret are given: keep one (a service \
                 account is preferred; project secrets are deprecated)",
            )),
            (true, None) => self.service_account(user, secret).map(Some),
            (false, Some(project_secret)) => {
                let secret = Secret::new(project_secret).map_err(|_| {
                    UsageError::new(
                        "--project-secret is empty: pass the project's API secret, or drop it to \
                         authenticate with the token",
                    )
                })?;
                Ok(Some(Credentials::ProjectSecret(secret)))
            }
            (false, None) if self.project_id.is_some() => Err(UsageError::new(
                "--project-id goes with a service account: add --service-account-user and \
                 --service-account-secret, or drop --project-id",
            )),
            // Mixpanel accepts the project token as the Basic user name.
            (false, None) => Ok(Some(Credentials::ProjectToken)),
        }
    }

    fn service_account(
        &self,
        user: Option<&str>,
        secret: Option<&str>,
    ) -> Result<Credentials, UsageError> {
        let user = user.ok_or_else(|| {
            UsageError::new(
                "--service-account-user is missing: a service account needs its user name too \
                 (or MIXPANEL_SERVICE_ACCOUNT_USER)",
            )
        })?;
        let secret = secret.and_then(|s| Secret::new(s).ok()).ok_or_else(|| {
            UsageError::new(
                "--service-account-secret is missing or empty: pass the service account's \
                     secret, preferably as MIXPANEL_SERVICE_ACCOUNT_SECRET",
            )
        })?;
        let project_id = self.project_id.as_deref().ok_or_else(|| {
            UsageError::new(
                "--project-id is missing: a service account acts on one project; pass its \
                 numeric id (Mixpanel: Project Settings)",
            )
        })?;
        Credentials::service_account(user, secret, project_id).map_err(credential_error)
    }

    fn retry_policy(&self) -> RetryPolicy {
        let documented = RetryPolicy::default();
        let factor = self.retry_initial_ms as f64 / documented.initial_backoff.as_millis() as f64;
        // The range of --retry-initial-ms keeps every product far from Duration's limits.
        let scale = |wait: Duration| wait.mul_f64(factor);
        RetryPolicy {
            initial_backoff: Duration::from_millis(self.retry_initial_ms),
            max_backoff: scale(documented.max_backoff),
            min_jitter: scale(documented.min_jitter),
            max_jitter: scale(documented.max_jitter),
            max_retry_after: scale(documented.max_retry_after),
            max_attempts: self.max_attempts,
            ..documented
        }
    }
}

impl From<RegionArg> for Region {
    fn from(region: RegionArg) -> Self {
        match region {
            RegionArg::Us => Self::Us,
            RegionArg::Eu => Self::Eu,
            RegionArg::In => Self::In,
        }
    }
}

fn placeholder_token() -> Token {
    Token::new(REDACTED).unwrap_or_else(|_| unreachable!("the placeholder is not blank"))
}

/// The same kind of credentials with placeholder secrets, for a dry run.
fn redact(credentials: Credentials) -> Credentials {
    let placeholder =
        || Secret::new(REDACTED).unwrap_or_else(|_| unreachable!("the placeholder is not blank"));
    match credentials {
        Credentials::ServiceAccount {
            user, project_id, ..
        } => Credentials::ServiceAccount {
            user,
            secret: placeholder(),
            project_id,
        },
        Credentials::ProjectSecret(_) => Credentials::ProjectSecret(placeholder()),
        Credentials::ProjectToken => Credentials::ProjectToken,
    }
}

/// `--api-host`'s error, with the CLI's way out rather than the library's.
fn api_host_error(error: ConfigError) -> UsageError {
    match error {
        ConfigError::InsecureHttp { url } => UsageError::new(format!(
            "--api-host {url:?} uses plain http to a host that is not this machine: use https \
             (plain http is accepted for localhost only, since /import requests carry \
             credentials)"
        )),
        ConfigError::BadApiHost { url, reason } => UsageError::new(format!(
            "--api-host {url:?} is not usable: {reason}; pass a base URL such as \
             https://api-eu.mixpanel.com"
        )),
        ConfigError::Invalid(invalid) => credential_error(invalid),
    }
}

fn credential_error(error: ValidationError) -> UsageError {
    let flag = match error.field {
        Field::ServiceAccountUser => "--service-account-user",
        Field::ProjectId => "--project-id",
        Field::Secret => "--service-account-secret",
        _ => "a credential flag",
    };
    // The problem never holds the value of a secret: secrets are only checked for blankness.
    UsageError::new(format!(
        "{flag} {}; check the value in Mixpanel's Project Settings",
        error.problem
    ))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    fn settings(args: &[&str]) -> Result<Settings, UsageError> {
        let mut argv = vec!["--token", "tok-secret-1"];
        argv.extend_from_slice(args);
        settings_without_token(&argv)
    }

    fn settings_without_token(args: &[&str]) -> Result<Settings, UsageError> {
        let argv = std::iter::once(&"test").chain(args);
        Cli::try_parse_from(argv).unwrap().common.settings(None)
    }

    const SERVICE_ACCOUNT: [&str; 8] = [
        "--endpoint",
        "import",
        "--service-account-user",
        "sa",
        "--service-account-secret",
        "sa-secret-3",
        "--project-id",
        "42",
    ];

    #[test]
    fn an_import_lingers_longer_than_a_single_send() {
        let argv = ["test", "--token", "tok-secret-1"];
        let common = Cli::try_parse_from(argv).unwrap().common;
        let batching = Batching {
            batch_size: 2000,
            concurrency: 4,
        };
        let import = common.settings(Some(batching)).unwrap().config;
        assert_eq!(import.linger(), IMPORT_LINGER);
        assert_eq!(
            common.settings(None).unwrap().config.linger(),
            Config::LINGER
        );
    }

    #[test]
    fn api_host_overrides_the_region() {
        let config = settings(&["--region", "eu", "--api-host", "http://127.0.0.1:9"])
            .unwrap()
            .config;
        assert_eq!(config.api_host().to_string(), "http://127.0.0.1:9");
        let config = settings(&["--region", "in"]).unwrap().config;
        assert_eq!(config.api_host().to_string(), "https://api-in.mixpanel.com");
    }

    #[test]
    fn plain_http_to_another_host_names_the_flag() {
        let error = settings(&["--api-host", "http://10.1.2.3"]).unwrap_err();
        assert!(error.to_string().starts_with("--api-host"), "{error}");
        assert!(error.to_string().contains("use https"), "{error}");
    }

    #[test]
    fn a_service_account_needs_all_three_parts() {
        let error = settings(&[
            "--endpoint",
            "import",
            "--service-account-user",
            "sa",
            "--service-account-secret",
            "s3",
        ])
        .unwrap_err();
        assert!(
            error.to_string().starts_with("--project-id is missing"),
            "{error}"
        );
        let config = settings(&[
            "--endpoint",
            "import",
            "--service-account-user",
            "sa",
            "--service-account-secret",
            "s3",
            "--project-id",
            "42",
        ])
        .unwrap()
        .config;
        assert!(matches!(
            config.endpoint(),
            Endpoint::Import(Credentials::ServiceAccount { project_id, .. }) if project_id == "42"
        ));
        let error = settings(&[
            "--endpoint",
            "import",
            "--service-account-user",
            "sa",
            "--service-account-secret",
            "s3",
            "--project-id",
            "4x2",
        ])
        .unwrap_err();
        assert!(error.to_string().starts_with("--project-id "), "{error}");
    }

    #[test]
    fn service_account_and_project_secret_conflict() {
        let error = settings(&[
            "--endpoint",
            "import",
            "--service-account-secret",
            "s3",
            "--project-secret",
            "p",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("keep one"), "{error}");
    }

    #[test]
    fn import_without_credentials_uses_the_token() {
        let config = settings(&["--endpoint", "import"]).unwrap().config;
        assert_eq!(
            config.endpoint(),
            &Endpoint::Import(Credentials::ProjectToken)
        );
        assert!(config.strict());
    }

    #[test]
    fn the_token_is_optional_only_for_import_credentials_that_name_the_project() {
        let config = settings_without_token(&SERVICE_ACCOUNT).unwrap().config;
        assert_eq!(config.token(), None);
        let alias = alias_core::CreateAlias::from_ids("anon-1", "user-1").unwrap();
        let batches = config
            .encode(&[alias], std::time::SystemTime::now())
            .unwrap();
        let body = String::from_utf8(batches[0].request.body().clone()).unwrap();
        assert!(!body.contains("token"), "{body}");
        let config = settings_without_token(&["--endpoint", "import", "--project-secret", "p"])
            .unwrap()
            .config;
        assert_eq!(config.token(), None);
        for args in [&[][..], &["--endpoint", "import"], &["--token", " "]] {
            let error = settings_without_token(args).unwrap_err().to_string();
            assert!(error.starts_with("--token is missing"), "{args:?}: {error}");
        }
    }

    #[test]
    fn a_dry_run_config_holds_no_secret() {
        let config = settings(&[
            "--dry-run",
            "--endpoint",
            "import",
            "--project-secret",
            "proj-secret-2",
        ])
        .unwrap()
        .config;
        assert_eq!(config.token().map(Token::expose), Some(REDACTED));
        let Endpoint::Import(Credentials::ProjectSecret(secret)) = config.endpoint() else {
            panic!("{config:?}");
        };
        assert_eq!(secret.expose(), REDACTED);
        // Without a token, none is made up: the events printed carry none.
        let mut args = vec!["--dry-run"];
        args.extend(SERVICE_ACCOUNT);
        let config = settings_without_token(&args).unwrap().config;
        assert_eq!(config.token(), None);
        let Endpoint::Import(Credentials::ServiceAccount { secret, .. }) = config.endpoint() else {
            panic!("{config:?}");
        };
        assert_eq!(secret.expose(), REDACTED);
    }

    #[test]
    fn link_association_needs_its_event_name() {
        let error =
            Cli::try_parse_from(["test", "--token", "t", "--link", "association"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("--association-event"), "{error}");
        let config = settings(&["--link", "association", "--association-event", "Linked"])
            .unwrap()
            .config;
        let alias = alias_core::CreateAlias::from_ids("anon-1", "user-1").unwrap();
        let batches = config
            .encode(&[alias], std::time::SystemTime::now())
            .unwrap();
        let body = String::from_utf8(batches[0].request.body().clone()).unwrap();
        assert!(
            body.contains("Linked") && body.contains("%24device_id"),
            "{body}"
        );
        for (args, flag) in [
            (
                &["--link", "association", "--association-event", "$identify"][..],
                "--association-event ",
            ),
            (
                &["--association-event", "Linked"][..],
                "--association-event names",
            ),
        ] {
            let error = settings(args).unwrap_err();
            assert!(error.to_string().starts_with(flag), "{error}");
        }
    }

    #[test]
    fn request_timeout_ms_bounds_each_request() {
        let limits = settings(&["--request-timeout-ms", "250"]).unwrap().limits;
        assert_eq!(limits.request_timeout, Duration::from_millis(250));
        assert_eq!(settings(&[]).unwrap().limits, TransportLimits::default());
    }

    #[test]
    fn retry_initial_ms_scales_the_documented_policy() {
        let config = settings(&["--retry-initial-ms", "2", "--max-attempts", "3"])
            .unwrap()
            .config;
        let retry = config.retry_policy();
        assert_eq!(retry.initial_backoff, Duration::from_millis(2));
        assert_eq!(retry.max_backoff, Duration::from_millis(60));
        assert_eq!(retry.max_jitter, Duration::from_millis(5));
        assert_eq!(retry.max_attempts, 3);
        assert_eq!(
            settings(&[]).unwrap().config.retry_policy(),
            &RetryPolicy::default()
        );
    }
}
