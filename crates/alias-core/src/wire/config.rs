//! Where and how aliases are sent: host, endpoint, credentials and wire options.

use std::time::Duration;

use crate::error::{ConfigError, Field, Problem, ValidationError};
use crate::wire::credentials::Credentials;
use crate::wire::host::{ApiHost, Region};
use crate::wire::link::Link;
use crate::wire::secret::Token;

/// The ingestion endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Endpoint {
    /// `/track`: no HTTP authentication, the token travels inside each event.
    #[default]
    Track,
    /// `/import`: authenticated, strict validation, dedup-friendly.
    Import(Credentials),
}

/// How a `/track` request carries its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TrackBody {
    /// Form field `data` holding compact JSON, as the Python and Go SDKs send it.
    #[default]
    FormJson,
    /// Form field `data` holding padded standard base64 of the JSON, as Ruby and PHP send it.
    FormBase64,
    /// A JSON array as the body (`application/json`), parameters in the query.
    JsonArray,
}

/// How many events and bytes one request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Events per request; Mixpanel allows 2000.
    pub max_events: usize,
    /// Uncompressed body bytes per request. Mixpanel's docs say 10 MB, its API spec's 413
    /// example says 2 MiB; the default is the smaller, so no documented server refuses it.
    pub max_body_bytes: usize,
}

impl BatchLimits {
    /// Mixpanel's documented event count per request.
    pub const MAX_EVENTS: usize = 2000;
    /// 2 MiB, the smaller of the two documented body limits.
    pub const DEFAULT_BODY_BYTES: usize = 2 * 1024 * 1024;
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_events: Self::MAX_EVENTS,
            max_body_bytes: Self::DEFAULT_BODY_BYTES,
        }
    }
}

/// Everything needed to turn aliases into requests and answers into outcomes.
///
/// [`Config::new`] gives every setting the default that Mixpanel's documentation
/// recommends; [`Config::builder`] chooses others. Each setting is read back by a method
/// of the same name. [`Config::import`] and [`Config::builder_for_import`] make a
/// configuration for `/import` without a project token, the project being named by the
/// credentials.
///
/// ```
/// use alias_core::{Config, wire::Region, Token};
///
/// let config = Config::builder(Token::new("YOUR_PROJECT_TOKEN")?)
///     .region(Region::Eu)
///     .concurrency(8)
///     .build();
/// assert_eq!(config.api_host().to_string(), "https://api-eu.mixpanel.com");
/// assert_eq!(config.concurrency(), 8);
/// # Ok::<(), alias_core::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `None` only in a configuration for `/import` whose credentials name the project.
    pub(crate) token: Option<Token>,
    pub(crate) api_host: ApiHost,
    pub(crate) endpoint: Endpoint,
    pub(crate) verbose: bool,
    pub(crate) strict: bool,
    pub(crate) geolocate_by_ip: bool,
    pub(crate) gzip: bool,
    pub(crate) track_body: TrackBody,
    pub(crate) idempotent: bool,
    pub(crate) batch_limits: BatchLimits,
    pub(crate) retry_policy: RetryPolicy,
    pub(crate) concurrency: usize,
    pub(crate) max_rate: Option<u32>,
    pub(crate) adaptive_pacing: bool,
    pub(crate) rate_window: Duration,
    pub(crate) max_clock_ahead: Duration,
    pub(crate) linger: Duration,
    pub(crate) link: Link,
    pub(crate) ordered: bool,
}

/// Chooses the settings of a [`Config`]: each method sets what the [`Config`] method of
/// the same name reads.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ConfigBuilder(Config);

/// The window, relative to the time of sending, in which an endpoint takes an event's
/// `time` (`docs/mixpanel-facts.md` §3, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// How far back: 5 days on `/track`, unbounded (but not before 1971) on `/import`.
    pub past: Duration,
    /// How far ahead: 1 hour on both.
    pub future: Duration,
    /// The window in words, for error messages.
    pub description: &'static str,
}

impl Config {
    /// Mixpanel's rate-limit window: a rolling minute (`docs/mixpanel-facts.md` §6).
    pub const RATE_WINDOW: Duration = Duration::from_secs(60);

    /// How far ahead of Mixpanel's this machine's clock may run with every retry still
    /// deduplicated, by default: 10 minutes.
    pub const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(600);

    /// How long a partly filled batch waits for more input, by default, once the input
    /// has nothing ready and nothing else is under way: 20 ms.
    ///
    /// Long enough for input that comes in bursts (lines from a pipe, a channel another
    /// task feeds) to fill batches instead of leaving alias by alias; short beside a
    /// request's round trip to Mixpanel (tens to hundreds of milliseconds), so that a lone
    /// alias is not held back noticeably.
    pub const LINGER: Duration = Duration::from_millis(20);

    /// A configuration for the project with this token, every setting at its default: US
    /// host, `/track`, form JSON body, verbose and strict answers, idempotent delivery,
    /// documented limits and backoff, four requests in flight, adaptive pacing.
    pub fn new(token: Token) -> Self {
        Self::with_token(Some(token))
    }

    /// A builder starting from [`Config::new`]'s defaults.
    pub fn builder(token: Token) -> ConfigBuilder {
        ConfigBuilder(Self::new(token))
    }

    /// A configuration for `/import` with `credentials` and no project token, every other
    /// setting at [`Config::new`]'s default: the events carry no `token` property, since
    /// `/import` takes the project from the credentials (Mixpanel's API specification
    /// requires only `event` and `properties` there).
    ///
    /// The credentials must name the project: a service account with its project id, or
    /// the project secret. [`Credentials::ProjectToken`] authenticates with the token this
    /// configuration lacks, and is refused with a [`ConfigError::Invalid`] on
    /// [`Field::Token`].
    ///
    /// ```
    /// use alias_core::{Config, Credentials, Endpoint, Secret};
    ///
    /// let account = Credentials::service_account("sa.user", Secret::new("sa-secret")?, "4242")?;
    /// let config = Config::import(account)?;
    /// assert!(config.token().is_none());
    /// assert!(matches!(config.endpoint(), Endpoint::Import(_)));
    /// assert!(Config::import(Credentials::ProjectToken).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import(credentials: Credentials) -> Result<Self, ConfigError> {
        Self::builder_for_import(credentials).map(ConfigBuilder::build)
    }

    /// A builder starting from [`Config::import`]'s settings, refusing the same
    /// credentials.
    ///
    /// Its [`ConfigBuilder::endpoint`] can still choose other credentials that name the
    /// project; a configuration without a token whose endpoint is `/track` or
    /// `/import` with [`Credentials::ProjectToken`] sends nothing: each alias comes back
    /// invalid on [`Field::Token`].
    pub fn builder_for_import(credentials: Credentials) -> Result<ConfigBuilder, ConfigError> {
        let config = Self {
            endpoint: Endpoint::Import(credentials),
            ..Self::with_token(None)
        };
        config.event_token()?;
        Ok(ConfigBuilder(config))
    }

    fn with_token(token: Option<Token>) -> Self {
        Self {
            token,
            api_host: ApiHost::default(),
            endpoint: Endpoint::Track,
            verbose: true,
            strict: true,
            geolocate_by_ip: false,
            gzip: false,
            track_body: TrackBody::FormJson,
            idempotent: true,
            batch_limits: BatchLimits::default(),
            retry_policy: RetryPolicy::default(),
            concurrency: 4,
            max_rate: None,
            adaptive_pacing: true,
            rate_window: Self::RATE_WINDOW,
            max_clock_ahead: Self::MAX_CLOCK_AHEAD,
            linger: Self::LINGER,
            link: Link::CreateAlias,
            ordered: false,
        }
    }

    /// A builder starting from this configuration, to change some of its settings.
    pub fn into_builder(self) -> ConfigBuilder {
        ConfigBuilder(self)
    }

    /// The project token; `None` for a configuration made by [`Config::import`] or
    /// [`Config::builder_for_import`].
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// The host requests go to.
    pub fn api_host(&self) -> &ApiHost {
        &self.api_host
    }

    /// `/track`, or `/import` with its credentials.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether `/track` is asked for a JSON answer with an error message.
    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// Whether requests ask for per-record validation.
    pub fn strict(&self) -> bool {
        self.strict
    }

    /// Whether Mixpanel may geolocate from the request's IP.
    pub fn geolocate_by_ip(&self) -> bool {
        self.geolocate_by_ip
    }

    /// Whether request bodies are gzip-compressed.
    pub fn gzip(&self) -> bool {
        self.gzip
    }

    /// The `/track` body form.
    pub fn track_body(&self) -> TrackBody {
        self.track_body
    }

    /// Whether `/track` events get a `time` and a `$insert_id` at first encoding.
    pub fn idempotent(&self) -> bool {
        self.idempotent
    }

    /// The per-request event and byte limits.
    pub fn batch_limits(&self) -> BatchLimits {
        self.batch_limits
    }

    /// Retry backoff and budgets.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry_policy
    }

    /// How many requests a delivery keeps in flight at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The cap on events sent per second, if any.
    pub fn max_rate(&self) -> Option<u32> {
        self.max_rate
    }

    /// Whether the send rate adapts to the project's rate limit.
    pub fn adaptive_pacing(&self) -> bool {
        self.adaptive_pacing
    }

    /// The rolling window over which the project's rate limit is counted, as the
    /// delivery assumes it when it learns the limit from 429s.
    pub fn rate_window(&self) -> Duration {
        self.rate_window
    }

    /// How far ahead of Mixpanel's this machine's clock may run, for the times a
    /// delivery gives (see [`ConfigBuilder::max_clock_ahead`]).
    pub fn max_clock_ahead(&self) -> Duration {
        self.max_clock_ahead
    }

    /// How long a partly filled batch waits for more input (see
    /// [`ConfigBuilder::linger`]).
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// How each pair of ids is linked.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Whether aliases are sent in input order.
    pub fn ordered(&self) -> bool {
        self.ordered
    }

    /// The window in which the endpoint takes an event's `time`: the client refuses times
    /// outside it before sending.
    pub fn time_window(&self) -> TimeWindow {
        const HOUR: Duration = Duration::from_secs(3600);
        match self.endpoint {
            Endpoint::Track => TimeWindow {
                past: Duration::from_secs(5 * 24 * 3600),
                future: HOUR,
                description: "/track: within the last 5 days, at most 1 h ahead",
            },
            Endpoint::Import(_) => TimeWindow {
                past: Duration::MAX,
                future: HOUR,
                description: "/import: after 1971-01-01, at most 1 h ahead",
            },
        }
    }

    /// Whether events get a `time` and `$insert_id` before their first encoding.
    pub(crate) fn stamps_events(&self) -> bool {
        self.idempotent || matches!(self.endpoint, Endpoint::Import(_))
    }

    /// The token each event carries; `None` when the configuration has none and the
    /// endpoint takes the project from the credentials. An endpoint that needs the token
    /// the configuration lacks is an error on [`Field::Token`], for every event.
    pub(crate) fn event_token(&self) -> Result<Option<&str>, ValidationError> {
        if let Some(token) = &self.token {
            return Ok(Some(token.expose()));
        }
        let reason = match &self.endpoint {
            Endpoint::Import(
                Credentials::ServiceAccount { .. } | Credentials::ProjectSecret(_),
            ) => {
                return Ok(None);
            }
            Endpoint::Import(Credentials::ProjectToken) => {
                "Credentials::ProjectToken authenticates /import with the project token"
            }
            Endpoint::Track => "/track reads the project from the token in each event",
        };
        Err(ValidationError::new(
            Field::Token,
            Problem::Missing { reason },
        ))
    }
}

impl ConfigBuilder {
    /// The configuration.
    pub fn build(self) -> Config {
        self.0
    }

    /// Sends to a region's host. Default [`Region::Us`].
    pub fn region(self, region: Region) -> Self {
        self.api_host(ApiHost::region(region))
    }

    /// Sends to a custom host (overrides the region).
    pub fn api_host(mut self, host: ApiHost) -> Self {
        self.0.api_host = host;
        self
    }

    /// Chooses `/track` (default) or `/import`.
    ///
    /// A configuration without a token ([`Config::builder_for_import`]) sends only to
    /// `/import` with credentials that name the project: with `/track` or
    /// [`Credentials::ProjectToken`], each alias comes back invalid on [`Field::Token`].
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.0.endpoint = endpoint;
        self
    }

    /// Asks `/track` for a JSON answer with an error message (`verbose=1`). Default on:
    /// without it a failure is a bare `0`.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.0.verbose = verbose;
        self
    }

    /// Asks for per-record validation (`strict=1`). Default on, for both endpoints: the
    /// answer then says which events were refused and why, so that every alias gets its
    /// own outcome. Mixpanel's page for this very call documents `strict` on `/track`.
    ///
    /// Without it, `/track` answers a batch with one refused event `0` (or a verbose
    /// error) for the whole batch, while storing the others; a delivery then splits the
    /// batch and sends the halves again until each refusal is pinned on one event, which
    /// is safe only with [`ConfigBuilder::idempotent`] on (the default). `/import` without
    /// it drops invalid events silently.
    pub fn strict(mut self, strict: bool) -> Self {
        self.0.strict = strict;
        self
    }

    /// Lets Mixpanel geolocate from the request's IP (`ip=1`). Default off: the sender of a
    /// backend alias call is a server, not the user.
    pub fn geolocate_by_ip(mut self, ip: bool) -> Self {
        self.0.geolocate_by_ip = ip;
        self
    }

    /// Compresses request bodies with gzip. Default off.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.0.gzip = gzip;
        self
    }

    /// The `/track` body form. Ignored for `/import`, which always takes a JSON array.
    pub fn track_body(mut self, body: TrackBody) -> Self {
        self.0.track_body = body;
        self
    }

    /// Gives every `/track` event a `time` fixed at first encoding and a `$insert_id`
    /// derived from its ids, so that a retry of the same alias value is deduplicated by
    /// the server. Default on. `/import` events always carry both, since strict mode
    /// needs them.
    ///
    /// The stamps live in the alias a delivery hands back ([`ReportEntry::alias`]):
    /// sending *that* alias again deduplicates against the first send. A freshly built
    /// [`CreateAlias`] has no time yet and gets a new one, so it is a new event to
    /// Mixpanel, unless it was given one with [`CreateAlias::with_time`].
    ///
    /// [`ReportEntry::alias`]: crate::delivery::ReportEntry::alias
    /// [`CreateAlias`]: crate::CreateAlias
    /// [`CreateAlias::with_time`]: crate::CreateAlias::with_time
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.0.idempotent = idempotent;
        self
    }

    /// Per-request event and byte limits.
    pub fn batch_limits(mut self, limits: BatchLimits) -> Self {
        self.0.batch_limits = limits;
        self
    }

    /// Retry backoff and budgets.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.0.retry_policy = retry;
        self
    }

    /// How many requests a delivery keeps in flight at once (at least 1). Default 4.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.0.concurrency = concurrency.max(1);
        self
    }

    /// Sends at most `events_per_second` events a second (at least 1), from the first
    /// request on: for sharing a project's rate limit (`docs/mixpanel-facts.md` §6: about 30k events/s) with
    /// other senders. Default: no cap.
    pub fn max_rate(mut self, events_per_second: u32) -> Self {
        self.0.max_rate = Some(events_per_second.max(1));
        self
    }

    /// Adapts the send rate to the project's rate limit: after two 429s in a row the
    /// delivery sends, per [`rate_window`](Self::rate_window), what Mixpanel took over the
    /// last one; a lone 429 slows only its own batch, so that chance 429s never collapse
    /// the rate. Default on; a `Retry-After` pauses every send of the delivery either way.
    pub fn adaptive_pacing(mut self, adaptive: bool) -> Self {
        self.0.adaptive_pacing = adaptive;
        self
    }

    /// How far ahead of Mixpanel's this machine's clock may run with a retried alias still
    /// deduplicated. Default 10 minutes ([`Config::MAX_CLOCK_AHEAD`]).
    ///
    /// Mixpanel overwrites an event time from its future with its own time at arrival
    /// (`docs/mixpanel-facts.md` §8), and dedups only events of the same time: a retry of
    /// such an event would arrive at another time and be stored twice. So a delivery
    /// never sends a time it gave (to an alias that came without one) ahead of the
    /// server's clock: it reads that clock off each answer's `Date` header, moves such
    /// times back to it at their first send, and keeps them through every retry. The
    /// requests sent before the first answer (at most [`concurrency`](Self::concurrency)
    /// of them) have such times set back by this allowance. Times given by the caller are
    /// sent as given.
    pub fn max_clock_ahead(mut self, allowance: Duration) -> Self {
        self.0.max_clock_ahead = allowance;
        self
    }

    /// How long a partly filled batch waits for more input once the input has nothing
    /// ready and nothing else is under way, before it goes out as it is
    /// ([`Config::LINGER`] by default). The wait runs from the first moment the input had
    /// nothing: aliases that come meanwhile join the batch without making it longer. A
    /// bulk import, which wants full batches more than a prompt lone alias, may wait
    /// longer; zero sends whatever is there as soon as the input pauses.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.0.linger = linger;
        self
    }

    /// The rolling window over which the project's rate limit is counted: a minute at
    /// Mixpanel (`docs/mixpanel-facts.md` §6), the default. Shorter for a test server
    /// with a shorter window. At least 1 ms.
    pub fn rate_window(mut self, window: Duration) -> Self {
        self.0.rate_window = window.max(Duration::from_millis(1));
        self
    }

    /// How each pair of ids is linked: a `$create_alias` event (default) or, for projects
    /// on Simplified ID Merge, an association event ([`Link::Association`]).
    pub fn link(mut self, link: Link) -> Self {
        self.0.link = link;
        self
    }

    /// Sends aliases in input order: one request at a time, and a request waiting for a
    /// retry holds back the ones after it. Default off: with several requests in flight,
    /// and retries, a later batch can reach Mixpanel before an earlier one.
    ///
    /// Order matters when one alias builds on another: a chain (`B` aliased to `A`, then
    /// `C` to `B`) under Legacy ID management, where an alias points at what its
    /// distinct_id pointed at when it was made, and which alias of an id is refused
    /// (`errAliasAlreadyExists`) when the same alias comes twice. Original ID Merge merges
    /// whole clusters, so a chain ends the same either way. Mixpanel processes identity
    /// asynchronously (`docs/mixpanel-facts.md` §7), so order on the wire is all a client can give.
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.0.ordered = ordered;
        self
    }
}

/// Backoff and budgets for retrying requests.
///
/// The defaults follow Mixpanel's guidance: "starting with a backoff of 2s and doubling
/// backoff until 60s, with 1-5s of jitter"; a `Retry-After` from the server wins, capped.
///
/// Each field has a setter of the same name, so a policy reads as the change it makes to
/// one of the presets ([`Default`], [`RetryPolicy::single_call`], [`RetryPolicy::fast`]):
///
/// ```
/// use std::time::Duration;
/// use alias_core::wire::RetryPolicy;
///
/// let patient = RetryPolicy::default()
///     .max_attempts(3)
///     .max_elapsed(Duration::from_secs(10));
/// assert_eq!(patient.max_attempts, 3);
/// assert_eq!(patient.initial_backoff, RetryPolicy::default().initial_backoff);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff. Default 2 s.
    pub initial_backoff: Duration,
    /// The backoff stops doubling here. Default 60 s.
    pub max_backoff: Duration,
    /// Least jitter added to each backoff. Default 1 s.
    pub min_jitter: Duration,
    /// Most jitter added to each backoff. Default 5 s.
    pub max_jitter: Duration,
    /// The longest `Retry-After` obeyed; a longer one is cut to this. Default 10 min.
    pub max_retry_after: Duration,
    /// Attempts per request, the first included, before its aliases are handed back as
    /// undelivered. Attempts answered 429 do not count: at volume they are expected, and
    /// `max_elapsed` bounds them. Default 8.
    pub max_attempts: u32,
    /// Time from a request's first attempt after which it is not retried. Each request
    /// has its own, so that a long import retries its last request as patiently as its
    /// first. Default 15 min.
    pub max_elapsed: Duration,
    /// Attempts per request, the first included, while the server has never answered the
    /// delivery: once a request has failed to connect (or timed out) this many times
    /// without a single answer from the server, the host is taken as unreachable (a wrong
    /// `--api-host`, a closed port, no network) and every alias of the delivery is handed
    /// back at once ([`DeliveryError::Unreachable`](crate::DeliveryError::Unreachable)),
    /// in seconds rather than after the minutes of a full retry budget. After the first
    /// answer, [`max_attempts`](Self::max_attempts) applies alone. Default 3.
    pub max_attempts_unreached: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            min_jitter: Duration::from_secs(1),
            max_jitter: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(600),
            max_attempts: 8,
            max_elapsed: Duration::from_secs(900),
            max_attempts_unreached: 3,
        }
    }
}

impl RetryPolicy {
    /// A policy for one alias sent from a request handler: three attempts within ten
    /// seconds, so that an unreachable Mixpanel costs the handler seconds, not minutes.
    /// The waits are the documented ones, shorter: 250 ms doubling, 100-500 ms of jitter;
    /// a `Retry-After` is obeyed up to 5 s.
    pub fn single_call() -> Self {
        Self {
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
            min_jitter: Duration::from_millis(100),
            max_jitter: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(5),
            max_attempts: 3,
            max_elapsed: Duration::from_secs(10),
            max_attempts_unreached: 3,
        }
    }

    /// A policy for tests and loopback runs: the same shape, in milliseconds.
    pub fn fast() -> Self {
        Self {
            initial_backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(60),
            min_jitter: Duration::from_millis(1),
            max_jitter: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(2),
            max_attempts: 8,
            max_elapsed: Duration::from_secs(60),
            max_attempts_unreached: 3,
        }
    }

    /// Sets [`RetryPolicy::initial_backoff`].
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets [`RetryPolicy::max_backoff`].
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets [`RetryPolicy::min_jitter`].
    pub fn min_jitter(mut self, jitter: Duration) -> Self {
        self.min_jitter = jitter;
        self
    }

    /// Sets [`RetryPolicy::max_jitter`].
    pub fn max_jitter(mut self, jitter: Duration) -> Self {
        self.max_jitter = jitter;
        self
    }

    /// Sets [`RetryPolicy::max_retry_after`].
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// Sets [`RetryPolicy::max_attempts`].
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`RetryPolicy::max_elapsed`].
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Sets [`RetryPolicy::max_attempts_unreached`].
    pub fn max_attempts_unreached(mut self, attempts: u32) -> Self {
        self.max_attempts_unreached = attempts;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_is_on_for_both_endpoints_unless_turned_off() {
        let token = Token::new("t").unwrap();
        assert!(Config::new(token.clone()).strict());
        let import = Config::builder(token.clone())
            .endpoint(Endpoint::Import(Credentials::ProjectToken))
            .build();
        assert!(import.strict());
        assert!(!Config::builder(token).strict(false).build().strict());
    }

    #[test]
    fn every_setting_reads_back_under_its_own_name() {
        let config = Config::builder(Token::new("t").unwrap())
            .verbose(false)
            .geolocate_by_ip(true)
            .gzip(true)
            .track_body(TrackBody::JsonArray)
            .idempotent(false)
            .concurrency(0)
            .max_rate(0)
            .adaptive_pacing(false)
            .ordered(true)
            .build();
        assert!(!config.verbose() && config.geolocate_by_ip() && config.gzip());
        assert_eq!(config.track_body(), TrackBody::JsonArray);
        assert!(!config.idempotent() && !config.adaptive_pacing() && config.ordered());
        assert_eq!((config.concurrency(), config.max_rate()), (1, Some(1)));
        let again = config.clone().into_builder().concurrency(3).build();
        assert_eq!(again.concurrency(), 3);
        assert_eq!(again.track_body(), TrackBody::JsonArray);
    }

    #[test]
    fn each_retry_setter_changes_its_own_field_only() {
        let second = Duration::from_secs(1);
        let policy = RetryPolicy::fast()
            .initial_backoff(second)
            .max_backoff(2 * second)
            .min_jitter(3 * second)
            .max_jitter(4 * second)
            .max_retry_after(5 * second)
            .max_attempts(6)
            .max_elapsed(7 * second)
            .max_attempts_unreached(2);
        assert_eq!(
            policy,
            RetryPolicy {
                initial_backoff: second,
                max_backoff: 2 * second,
                min_jitter: 3 * second,
                max_jitter: 4 * second,
                max_retry_after: 5 * second,
                max_attempts: 6,
                max_elapsed: 7 * second,
                max_attempts_unreached: 2,
            }
        );
        assert_eq!(
            RetryPolicy::default().max_attempts(3),
            RetryPolicy {
                max_attempts: 3,
                ..RetryPolicy::default()
            }
        );
    }
}
