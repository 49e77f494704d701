//! The client: [`alias_core::deliver`] over surf, sleeping on a runtime-neutral timer.

use std::time::{Instant, SystemTime};

use alias_core::{
    Alias, AliasError, Clock, Config, CreateAlias, DeliveryStats, DistinctId, Report, ReportEntry,
    TransportLimits,
};

use crate::Error;
use crate::transport::Surf;

/// Delivers `$create_alias` calls over a [`surf::Client`].
///
/// Cheap to clone: clones share the connection pool. Several batches are in flight at once,
/// up to [`Config::concurrency`].
///
/// ```no_run
/// use alias_surf::Client;
/// use alias_surf::alias_core::{AliasOutcome, Config, CreateAlias, Token};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::new(Config::new(Token::new("YOUR_PROJECT_TOKEN")?))?;
/// let links = vec![
///     CreateAlias::from_ids("anon-1", "user-1@example.com")?,
///     CreateAlias::from_ids("anon-2", "user-2@example.com")?,
/// ];
/// let report = client.send(links).await;
/// for entry in &report.entries {
///     if let AliasOutcome::Rejected(why) = &entry.outcome {
///         eprintln!("{}: {why}", entry.alias.alias());
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    http: surf::Client,
    config: Config,
    limits: TransportLimits,
}

impl Client {
    /// A client for `config`, over a surf client of the enabled backend with the default
    /// [`TransportLimits`] and no middleware (so no redirects are followed).
    ///
    /// ```
    /// use alias_surf::Client;
    /// use alias_surf::alias_core::{Config, Token};
    ///
    /// let client = Client::new(Config::new(Token::new("YOUR_PROJECT_TOKEN")?))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::builder(config).build()
    }

    /// A client for `config` over your own surf client. The default [`TransportLimits`]'
    /// request timeout and body cap apply to each request. Do not add surf's `Redirect`
    /// middleware to it: following a redirect could carry credentials to another host. With
    /// async-h1, turn keep-alive off: its pool would lend a connection whose exchange timed
    /// out to the next request, which would then read the late answer as its own.
    ///
    /// ```
    /// use alias_surf::Client;
    /// use alias_surf::alias_core::{Config, Token};
    ///
    /// let http: surf::Client = surf::Config::new().set_http_keep_alive(false).try_into()?;
    /// let client = Client::with_http_client(Config::new(Token::new("YOUR_PROJECT_TOKEN")?), http);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_http_client(config: Config, http: surf::Client) -> Self {
        Self {
            http,
            config,
            limits: TransportLimits::default(),
        }
    }

    /// A builder, to set the [`TransportLimits`] as well.
    ///
    /// ```
    /// use std::time::Duration;
    /// use alias_surf::{Client, TransportLimits};
    /// use alias_surf::alias_core::{Config, Token};
    ///
    /// let client = Client::builder(Config::new(Token::new("YOUR_PROJECT_TOKEN")?))
    ///     .limits(TransportLimits::default().request_timeout(Duration::from_secs(60)))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder {
            config,
            limits: TransportLimits::default(),
            http: None,
        }
    }

    /// The configuration requests are built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The limits every request runs under.
    pub fn limits(&self) -> TransportLimits {
        self.limits
    }

    /// Delivers `aliases` and reports what became of each, in input order.
    ///
    /// Never fails as a whole: every alias ends accepted, rejected (with Mixpanel's field
    /// and message), invalid, or undelivered (with the last error, to send again later).
    pub async fn send(&self, aliases: impl IntoIterator<Item = CreateAlias>) -> Report {
        alias_core::deliver_all(
            self.config.clone(),
            &self.transport(),
            &TimerClock,
            fastrand::u64(..),
            aliases,
        )
        .await
    }

    /// Delivers every alias of `input`, handing each outcome to `on_finished` in input order
    /// as soon as it is final, and returns the traffic counters.
    ///
    /// Input is read only as fast as requests go out, so memory stays bounded whatever the
    /// length of `input`: this is the call for bulk imports.
    ///
    /// ```no_run
    /// # use alias_surf::Client;
    /// # use alias_surf::alias_core::{CreateAlias, Tally};
    /// # async fn run(client: Client, lines: Vec<(String, String)>) {
    /// let input = lines
    ///     .iter()
    ///     .filter_map(|(anon, user)| CreateAlias::from_ids(anon, user).ok());
    /// let mut tally = Tally::default();
    /// let stats = client.send_stream(input, |entry| tally.add(&entry.outcome)).await;
    /// println!("{} accepted in {} requests", tally.accepted, stats.requests);
    /// # }
    /// ```
    pub async fn send_stream(
        &self,
        input: impl IntoIterator<Item = CreateAlias>,
        on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        alias_core::deliver(
            self.config.clone(),
            &self.transport(),
            &TimerClock,
            fastrand::u64(..),
            input,
            on_finished,
        )
        .await
    }

    /// Links `alias` to `distinct_id`, with retries, and says how it ended.
    ///
    /// ```no_run
    /// # use alias_surf::Client;
    /// use alias_surf::alias_core::{Alias, AliasError, DistinctId};
    ///
    /// # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
    /// match client
    ///     .create_alias(DistinctId::new("anon-123")?, Alias::new("user@example.com")?)
    ///     .await
    /// {
    ///     Ok(()) => {}
    ///     Err(AliasError::Rejected(why)) => eprintln!("refused: {why}"),
    ///     Err(other) => return Err(other.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn create_alias(
        &self,
        distinct_id: DistinctId,
        alias: Alias,
    ) -> Result<(), AliasError> {
        alias_core::deliver_one(
            self.config.clone(),
            &self.transport(),
            &TimerClock,
            fastrand::u64(..),
            distinct_id,
            alias,
        )
        .await
    }

    fn transport(&self) -> Surf<'_> {
        Surf {
            http: &self.http,
            limits: self.limits,
        }
    }
}

/// Builds a [`Client`] with chosen [`TransportLimits`] and, optionally, your surf client.
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    config: Config,
    limits: TransportLimits,
    http: Option<surf::Client>,
}

impl ClientBuilder {
    /// The limits for every request.
    ///
    /// surf's backends have no connect-only timeout, so `connect_timeout` is not applied:
    /// connecting counts against `request_timeout`, which covers the whole exchange.
    pub fn limits(mut self, limits: TransportLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sends over `http` instead of a client built here. Give it no redirect middleware and,
    /// with async-h1, no keep-alive (see [`Client::with_http_client`]).
    pub fn http_client(mut self, http: surf::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client. Fails only when the backend's client cannot be built.
    pub fn build(self) -> Result<Client, Error> {
        let http = match self.http {
            Some(http) => http,
            // The backend's own timeout (async-h1: the wait for the answer's head; curl: the
            // whole exchange) is set to the request timeout, which this crate enforces anyway.
            // No keep-alive: async-h1's pool takes back a connection whose exchange was given
            // up (a timeout, a capped body) and lends it to the next request, which then
            // reads the late answer of the one before as its own.
            None => surf::Client::try_from(
                surf::Config::new()
                    .set_timeout(Some(self.limits.request_timeout))
                    .set_http_keep_alive(false),
            )
            .map_err(|e| Error(e.to_string()))?,
        };
        Ok(Client {
            http,
            config: self.config,
            limits: self.limits,
        })
    }
}

/// The system clocks, and a timer that needs no particular runtime.
#[derive(Debug)]
struct TimerClock;

impl Clock for TimerClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_now(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep_until(&self, deadline: Instant) {
        futures_timer::Delay::new(deadline.saturating_duration_since(Instant::now())).await;
    }
}

#[cfg(test)]
mod tests {
    use alias_core::Token;

    use super::*;

    fn config() -> Config {
        Config::new(Token::new("tok").unwrap())
    }

    #[test]
    fn send_futures_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let client = Client::new(config()).unwrap();
        assert_send(&client.send(Vec::new()));
        assert_send(&client.create_alias(
            DistinctId::new("anon-1").unwrap(),
            Alias::new("user-1").unwrap(),
        ));
    }

    #[async_std::test]
    async fn the_timer_clock_sleeps_until_the_deadline() {
        let deadline = Instant::now() + std::time::Duration::from_millis(20);
        TimerClock.sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
    }

    #[async_std::test]
    async fn an_alias_equal_to_its_distinct_id_fails_before_sending() {
        let client = Client::new(config()).unwrap();
        let error = client
            .create_alias(
                DistinctId::new("same").unwrap(),
                Alias::new("same").unwrap(),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, AliasError::Invalid(_)), "{error:?}");
    }
}
