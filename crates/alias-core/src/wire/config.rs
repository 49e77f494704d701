//! Where and how aliases are sent: host, endpoint, credentials and wire options.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use http::Uri;

use crate::error::{ConfigError, Field, Problem, ValidationError};
use crate::wire::secret::{Secret, Token};

/// A Mixpanel data residency region. Events sent to another region's host are not ingested
/// for projects created with residency, so this is a correctness setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Region {
    /// `https://api.mixpanel.com`.
    #[default]
    Us,
    /// `https://api-eu.mixpanel.com`.
    Eu,
    /// `https://api-in.mixpanel.com`.
    In,
}

impl Region {
    /// The ingestion host of the region.
    pub fn host(self) -> &'static str {
        match self {
            Self::Us => "api.mixpanel.com",
            Self::Eu => "api-eu.mixpanel.com",
            Self::In => "api-in.mixpanel.com",
        }
    }
}

/// The base URL requests go to: a region's host, or a custom one (a proxy, a test server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHost {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    /// Path prefix without a trailing slash, e.g. `""` or `"/mixpanel"`.
    prefix: String,
}

impl ApiHost {
    /// The host of a region, over https.
    pub fn region(region: Region) -> Self {
        Self {
            scheme: http::uri::Scheme::HTTPS,
            authority: http::uri::Authority::from_static(region.host()),
            prefix: String::new(),
        }
    }

    /// A custom base URL such as `https://proxy.example.com/mixpanel` or
    /// `http://127.0.0.1:8080`.
    ///
    /// Plain `http` is accepted only for loopback hosts (`localhost`, `127.0.0.0/8`, `::1`),
    /// since /import requests carry credentials.
    pub fn custom(url: &str) -> Result<Self, ConfigError> {
        let host = Self::parse(url)?;
        if host.scheme == http::uri::Scheme::HTTP && !host.is_loopback() {
            return Err(ConfigError::InsecureHttp {
                url: url.to_owned(),
            });
        }
        Ok(host)
    }

    /// A custom base URL that may use plain `http` to any host. Only for networks where the
    /// traffic cannot be read by others.
    pub fn insecure_http(url: &str) -> Result<Self, ConfigError> {
        Self::parse(url)
    }

    fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |reason| ConfigError::BadApiHost {
            url: url.to_owned(),
            reason,
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a valid URL"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or(bad("the scheme (https://) is missing"))?;
        if scheme != http::uri::Scheme::HTTPS && scheme != http::uri::Scheme::HTTP {
            return Err(bad("only http and https are supported"));
        }
        let authority = uri.authority().cloned().ok_or(bad("the host is missing"))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "credentials in the URL are not supported; use Credentials",
            ));
        }
        if uri.query().is_some() {
            return Err(bad("a base URL cannot carry a query"));
        }
        // `http` accepts any text after the colon and then reports no port at all, which
        // an HTTP client would only refuse when sending, again and again.
        let after_host = authority
            .as_str()
            .rsplit_once(']')
            .map_or(authority.as_str(), |(_, rest)| rest);
        if let Some((_, port)) = after_host.rsplit_once(':') {
            if !port.parse::<u16>().is_ok_and(|port| port > 0) {
                return Err(bad("the port must be a number from 1 to 65535"));
            }
        }
        Ok(Self {
            scheme,
            authority,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// Whether the host is this machine.
    pub fn is_loopback(&self) -> bool {
        let host = self.authority.host();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The URI of `path` (which starts with `/`) under this host, with an optional query.
    pub(crate) fn uri(&self, path: &str, query: &str) -> Uri {
        let mut path_and_query = format!("{}{}", self.prefix, path);
        if !query.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .unwrap_or_else(|_| {
                unreachable!("scheme, authority and an encoded path always form a URI")
            })
    }
}

impl Default for ApiHost {
    fn default() -> Self {
        Self::region(Region::Us)
    }
}

impl fmt::Display for ApiHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

/// How `/import` requests authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A service account (HTTP Basic `user:secret`) and the project it acts on.
    ServiceAccount {
        /// The service account's user name.
        user: String,
        /// The service account's secret.
        secret: Secret,
        /// The numeric project id, sent as the `project_id` query parameter.
        project_id: String,
    },
    /// The project token as the Basic user name, with an empty password.
    ProjectToken,
    /// The project's API secret as the Basic user name. Deprecated by Mixpanel (retired
    /// 2027-03-03); prefer a service account.
    ProjectSecret(Secret),
}

impl Credentials {
    /// A service account acting on `project_id`.
    pub fn service_account(
        user: impl Into<String>,
        secret: Secret,
        project_id: impl Into<String>,
    ) -> Result<Self, ValidationError> {
        let user = user.into();
        let project_id = project_id.into();
        if user.trim().is_empty() {
            return Err(ValidationError::new(
                Field::ServiceAccountUser,
                Problem::Empty,
            ));
        }
        if project_id.trim().is_empty() {
            return Err(ValidationError::new(Field::ProjectId, Problem::Empty));
        }
        if let Some(found) = project_id.chars().find(|c| !c.is_ascii_digit()) {
            return Err(ValidationError::new(
                Field::ProjectId,
                Problem::BadCharacter {
                    found,
                    allowed: "digits",
                },
            ));
        }
        Ok(Self::ServiceAccount {
            user,
            secret,
            project_id,
        })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceAccount {
                user,
                secret,
                project_id,
            } => f
                .debug_struct("ServiceAccount")
                .field("user", user)
                .field("secret", secret)
                .field("project_id", project_id)
                .finish(),
            Self::ProjectToken => f.write_str("ProjectToken"),
            Self::ProjectSecret(secret) => f.debug_tuple("ProjectSecret").field(secret).finish(),
        }
    }
}

/// The ingestion endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Endpoint {
    /// `/track`: no HTTP authentication, the token travels inside each event.
    #[default]
    Track,
    /// `/import`: authenticated, strict validation, dedup-friendly.
    Import(Credentials),
}

/// How a pair of ids is linked on the wire (facts §7; the crate README tells which to use).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Link {
    /// A `$create_alias` event: `alias` becomes another name of `distinct_id`. What Original
    /// ID Merge and Legacy projects read. A Simplified ID Merge project refuses it on
    /// `/import` ([`Rejection::IdentityEventsNotAllowed`](crate::Rejection)) and ignores it
    /// on `/track`.
    #[default]
    CreateAlias,
    /// An event named `event` carrying `$device_id` = the distinct_id and `$user_id` = the
    /// alias (its `distinct_id` is the alias), with the same token, `time` and
    /// `$insert_id` rules: how Simplified ID Merge links ids, retroactively for the device's
    /// earlier events; the first user a device is linked to wins. Original ID Merge and
    /// Legacy store it without linking anything.
    Association {
        /// The event's name, e.g. `Identity Linked`.
        event: EventName,
    },
}

/// The name of a custom event, as [`Link::Association`] sends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventName(String);

impl EventName {
    /// Validates an event name: not blank, at most 255 bytes, and not `$`-prefixed, since
    /// those names are Mixpanel's own (`$identify`, `$merge`, `$create_alias`, ...).
    ///
    /// ```
    /// use alias_core::EventName;
    ///
    /// assert!(EventName::new("Identity Linked").is_ok());
    /// assert!(EventName::new("$identify").is_err());
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Self, ValidationError> {
        let name = name.into();
        let field = Field::EventName;
        if name.trim().is_empty() {
            return Err(ValidationError::new(field, Problem::Empty));
        }
        if name.starts_with('$') {
            return Err(ValidationError::new(field, Problem::Reserved));
        }
        if name.len() > crate::wire::id::MAX_ID_BYTES {
            return Err(ValidationError::new(
                field,
                Problem::TooLong {
                    len: name.len(),
                    max: crate::wire::id::MAX_ID_BYTES,
                },
            ));
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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
/// Built with [`Config::new`] and chained setters; every setting has the default that
/// Mixpanel's documentation recommends.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub(crate) token: Token,
    pub(crate) host: ApiHost,
    pub(crate) endpoint: Endpoint,
    pub(crate) verbose: bool,
    pub(crate) strict: bool,
    pub(crate) ip: bool,
    pub(crate) gzip: bool,
    pub(crate) track_body: TrackBody,
    pub(crate) idempotent: bool,
    pub(crate) limits: BatchLimits,
    pub(crate) retry: RetryPolicy,
    pub(crate) concurrency: usize,
    pub(crate) max_rate: Option<u32>,
    pub(crate) adaptive_pacing: bool,
    pub(crate) link: Link,
    pub(crate) ordered: bool,
}

impl Config {
    /// A configuration for the project with this token: US host, `/track`, form JSON body,
    /// verbose answers, idempotent delivery, documented limits and backoff.
    pub fn new(token: Token) -> Self {
        Self {
            token,
            host: ApiHost::default(),
            endpoint: Endpoint::Track,
            verbose: true,
            strict: true,
            ip: false,
            gzip: false,
            track_body: TrackBody::FormJson,
            idempotent: true,
            limits: BatchLimits::default(),
            retry: RetryPolicy::default(),
            concurrency: 4,
            max_rate: None,
            adaptive_pacing: true,
            link: Link::CreateAlias,
            ordered: false,
        }
    }

    /// Sends to a region's host.
    pub fn region(self, region: Region) -> Self {
        self.api_host(ApiHost::region(region))
    }

    /// Sends to a custom host (overrides the region).
    pub fn api_host(mut self, host: ApiHost) -> Self {
        self.host = host;
        self
    }

    /// Chooses `/track` or `/import`.
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Asks `/track` for a JSON answer with an error message (`verbose=1`). Default on:
    /// without it a failure is a bare `0`.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// Asks for per-record validation (`strict=1`). Default on, for both endpoints: the
    /// answer then says which events were refused and why, so that every alias gets its
    /// own outcome. Mixpanel's page for this very call documents `strict` on `/track`.
    ///
    /// Without it, `/track` answers a batch with one refused event `0` (or a verbose
    /// error) for the whole batch, while storing the others; a delivery then splits the
    /// batch and sends the halves again until each refusal is pinned on one event, which
    /// is safe only with [`Config::idempotent`] on (the default). `/import` without it
    /// drops invalid events silently.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Lets Mixpanel geolocate from the request's IP (`ip=1`). Default off: the sender of a
    /// backend alias call is a server, not the user.
    pub fn geolocate_by_ip(mut self, ip: bool) -> Self {
        self.ip = ip;
        self
    }

    /// Compresses request bodies with gzip. Default off.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// The `/track` body form. Ignored for `/import`, which always takes a JSON array.
    pub fn track_body(mut self, body: TrackBody) -> Self {
        self.track_body = body;
        self
    }

    /// Gives every `/track` event a `time` fixed at first encoding and a `$insert_id`
    /// derived from its ids, so that a retried or re-run alias is deduplicated by the
    /// server. Default on. `/import` events always carry both, since strict mode needs them.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Per-request event and byte limits.
    pub fn batch_limits(mut self, limits: BatchLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Retry backoff and budgets.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How many requests a delivery keeps in flight at once (at least 1). Default 4.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sends at most `events_per_second` events a second (at least 1), from the first
    /// request on: for sharing a project's rate limit (facts §6: about 30k events/s) with
    /// other senders. Default: no cap.
    pub fn max_rate(mut self, events_per_second: u32) -> Self {
        self.max_rate = Some(events_per_second.max(1));
        self
    }

    /// Adapts the send rate to the project's rate limit: after a 429 the delivery sends a
    /// little under the rate Mixpanel accepted, and raises it again while answers succeed
    /// (see the `pacing` section of the crate docs). Default on; a `Retry-After` pauses
    /// every send of the delivery either way.
    pub fn adaptive_pacing(mut self, adaptive: bool) -> Self {
        self.adaptive_pacing = adaptive;
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
    /// asynchronously (facts §7), so order on the wire is all a client can give.
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// How each pair of ids is linked: a `$create_alias` event (default) or, for projects
    /// on Simplified ID Merge, an association event ([`Link::Association`]).
    pub fn link(mut self, link: Link) -> Self {
        self.link = link;
        self
    }

    /// The project token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The host requests go to.
    pub fn host(&self) -> &ApiHost {
        &self.host
    }

    /// The configured endpoint.
    pub fn endpoint_kind(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The per-request limits.
    pub fn limits(&self) -> BatchLimits {
        self.limits
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// How many requests may be in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.concurrency
    }

    /// Whether requests ask for strict validation.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Whether events get a `time` and `$insert_id` before their first encoding.
    pub(crate) fn stamps_events(&self) -> bool {
        self.idempotent || matches!(self.endpoint, Endpoint::Import(_))
    }

    /// The window, relative to now, in which an event time is accepted: `/import` takes
    /// nothing more than an hour ahead; `/track` takes only the last five days.
    pub(crate) fn time_window(&self) -> (Duration, Duration, &'static str) {
        const HOUR: Duration = Duration::from_secs(3600);
        match self.endpoint {
            Endpoint::Track => (
                Duration::from_secs(5 * 24 * 3600),
                HOUR,
                "/track: within the last 5 days, at most 1 h ahead",
            ),
            Endpoint::Import(_) => (
                Duration::MAX,
                HOUR,
                "/import: after 1971-01-01, at most 1 h ahead",
            ),
        }
    }
}

/// Backoff and budgets for retrying requests.
///
/// The defaults follow Mixpanel's guidance: "starting with a backoff of 2s and doubling
/// backoff until 60s, with 1-5s of jitter"; a `Retry-After` from the server wins, capped.
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
        }
    }
}

impl RetryPolicy {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:9/x/",
            "https://example.com/p",
        ] {
            assert!(ApiHost::custom(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            ApiHost::custom("http://10.0.0.1"),
            Err(ConfigError::InsecureHttp {
                url: "http://10.0.0.1".into()
            })
        );
        assert!(ApiHost::insecure_http("http://10.0.0.1").is_ok());
    }

    #[test]
    fn bad_urls_say_why() {
        let err = ApiHost::custom("ftp://x").unwrap_err();
        assert!(err.to_string().contains("only http and https"), "{err}");
        let err = ApiHost::custom("api.mixpanel.com").unwrap_err();
        assert!(matches!(err, ConfigError::BadApiHost { .. }), "{err}");
        let err = ApiHost::custom("https://user:pw@host").unwrap_err();
        assert!(!err.to_string().contains("pw@") || err.to_string().contains("credentials"));
    }

    #[test]
    fn a_port_that_cannot_be_connected_to_is_refused_up_front() {
        for bad in [
            "http://127.0.0.1:99999",
            "http://127.0.0.1:0",
            "http://localhost:http",
            "http://[::1]:x",
            "https://example.com:",
        ] {
            let err = ApiHost::custom(bad).unwrap_err();
            assert!(err.to_string().contains("port"), "{bad}: {err}");
        }
        for good in [
            "http://127.0.0.1:65535",
            "http://[::1]:8080",
            "https://[::1]",
        ] {
            assert!(ApiHost::custom(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn prefix_is_kept_and_uri_built() {
        let host = ApiHost::custom("https://proxy.example.com/mp/").unwrap();
        assert_eq!(
            host.uri("/track", "verbose=1").to_string(),
            "https://proxy.example.com/mp/track?verbose=1"
        );
        assert_eq!(
            ApiHost::region(Region::Eu).uri("/import", "").to_string(),
            "https://api-eu.mixpanel.com/import"
        );
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let creds = Credentials::service_account(
            "sa.user",
            Secret::new("hunter2-secret").unwrap(),
            "12345",
        )
        .unwrap();
        let shown = format!("{creds:?}");
        assert!(
            shown.contains("sa.user") && !shown.contains("hunter2"),
            "{shown}"
        );
        let shown = format!(
            "{:?}",
            Credentials::ProjectSecret(Secret::new("s3cr3t").unwrap())
        );
        assert!(!shown.contains("s3cr3t"));
    }

    #[test]
    fn service_account_project_id_must_be_numeric() {
        let err = Credentials::service_account("u", Secret::new("s").unwrap(), "12a").unwrap_err();
        assert_eq!(err.field, Field::ProjectId);
    }

    #[test]
    fn strict_is_on_for_both_endpoints_unless_turned_off() {
        let token = Token::new("t").unwrap();
        assert!(Config::new(token.clone()).is_strict());
        assert!(
            Config::new(token.clone())
                .endpoint(Endpoint::Import(Credentials::ProjectToken))
                .is_strict()
        );
        assert!(!Config::new(token).strict(false).is_strict());
    }
}
