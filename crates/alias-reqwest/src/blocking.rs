//! A blocking client, for code without an async runtime (feature `blocking`).
//!
//! It runs the same [`alias_core::deliver`] loop as the async client, so retries, backoff,
//! `Retry-After`, 413 splits, budgets and concurrency behave identically: the loop runs on
//! the calling thread under a minimal executor, each request is sent by
//! [`reqwest::blocking::Client`] on a thread of its own (at most [`Config::concurrency`] at
//! once), and backoff waits on [`futures_timer`].
//!
//! # Inside a tokio runtime
//!
//! `reqwest::blocking` panics when used from a thread that runs a tokio runtime. This client
//! never uses it from the calling thread: the reqwest client is built, and every request is
//! sent, on threads of its own that belong to no runtime. Calling it from async code
//! therefore works, but blocks that runtime thread until the delivery ends; in async code,
//! prefer [`crate::Client`], or call this one through `tokio::task::spawn_blocking`.

use std::future::Future;
use std::io::Read;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Scope, Thread};
use std::time::{Instant, SystemTime};

use alias_core::{
    Alias, AliasError, Clock, Config, CreateAlias, DeliveryStats, DistinctId, Report, ReportEntry,
    Transport, TransportError, TransportErrorKind, TransportLimits,
};
use http::Response;

use crate::Error;
use crate::transport::{assemble, check_declared_length, classify};

/// Delivers `$create_alias` calls over a [`reqwest::blocking::Client`].
///
/// Cheap to clone: clones share the connection pool.
///
/// ```no_run
/// use alias_reqwest::blocking::Client;
/// use alias_reqwest::alias_core::{Alias, Config, DistinctId, Token};
///
/// let client = Client::new(Config::new(Token::new("YOUR_PROJECT_TOKEN")?))?;
/// client.create_alias(DistinctId::new("anon-123")?, Alias::new("user@example.com")?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    config: Config,
    limits: TransportLimits,
}

impl Client {
    /// A client for `config`, over a reqwest client built with the default
    /// [`TransportLimits`] and no redirects. Safe to call inside a tokio runtime.
    ///
    /// ```
    /// use alias_reqwest::blocking::Client;
    /// use alias_reqwest::alias_core::{Config, Token};
    ///
    /// let client = Client::new(Config::new(Token::new("YOUR_PROJECT_TOKEN")?))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::builder(config).build()
    }

    /// A client for `config` over your own blocking reqwest client. The default
    /// [`TransportLimits`]' request timeout and body cap apply to each request; build
    /// `http` with `.redirect(reqwest::redirect::Policy::none())`.
    ///
    /// ```
    /// use alias_reqwest::blocking::Client;
    /// use alias_reqwest::alias_core::{Config, Token};
    ///
    /// let http = reqwest::blocking::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()?;
    /// let client = Client::with_http_client(Config::new(Token::new("YOUR_PROJECT_TOKEN")?), http);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_http_client(config: Config, http: reqwest::blocking::Client) -> Self {
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
    /// use alias_reqwest::TransportLimits;
    /// use alias_reqwest::blocking::Client;
    /// use alias_reqwest::alias_core::{Config, Token};
    ///
    /// let client = Client::builder(Config::new(Token::new("YOUR_PROJECT_TOKEN")?))
    ///     .limits(TransportLimits::default().connect_timeout(Duration::from_secs(3)))
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

    /// Delivers `aliases` and reports what became of each, in input order. See
    /// [`crate::Client::send`].
    pub fn send(&self, aliases: impl IntoIterator<Item = CreateAlias>) -> Report {
        thread::scope(|scope| {
            block_on(alias_core::deliver_all(
                self.config.clone(),
                &self.transport(scope),
                &TimerClock,
                fastrand::u64(..),
                aliases,
            ))
        })
    }

    /// Delivers every alias of `input` in bounded memory, handing each outcome to
    /// `on_finished` in input order. See [`crate::Client::send_stream`].
    ///
    /// ```no_run
    /// # use alias_reqwest::blocking::Client;
    /// # use alias_reqwest::alias_core::{CreateAlias, Tally};
    /// # fn run(client: Client, lines: Vec<(String, String)>) {
    /// let input = lines
    ///     .iter()
    ///     .filter_map(|(anon, user)| CreateAlias::from_ids(anon, user).ok());
    /// let mut tally = Tally::default();
    /// let stats = client.send_stream(input, |entry| tally.add(&entry.outcome));
    /// println!("{} accepted in {} requests", tally.accepted, stats.requests);
    /// # }
    /// ```
    pub fn send_stream(
        &self,
        input: impl IntoIterator<Item = CreateAlias>,
        on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        self.send_stream_until(input, std::future::pending(), on_finished)
    }

    /// [`Client::send_stream`], stopping promptly once `stop` completes (see
    /// [`crate::Client::send_stream_until`]); an [`alias_core::StopSignal`] can be
    /// triggered from another thread.
    pub fn send_stream_until(
        &self,
        input: impl IntoIterator<Item = CreateAlias>,
        stop: impl Future<Output = ()>,
        on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        thread::scope(|scope| {
            block_on(alias_core::deliver(
                self.config.clone(),
                &self.transport(scope),
                &TimerClock,
                fastrand::u64(..),
                futures_util::stream::iter(input),
                stop,
                on_finished,
            ))
        })
    }

    /// Links `alias` to `distinct_id`, with retries, and says how it ended. See
    /// [`crate::Client::create_alias`].
    pub fn create_alias(&self, distinct_id: DistinctId, alias: Alias) -> Result<(), AliasError> {
        thread::scope(|scope| {
            block_on(alias_core::deliver_one(
                self.config.clone(),
                &self.transport(scope),
                &TimerClock,
                fastrand::u64(..),
                distinct_id,
                alias,
            ))
        })
    }

    /// Sends each request on its own thread of `scope`.
    fn transport<'scope, 'env>(
        &'env self,
        scope: &'scope Scope<'scope, 'env>,
    ) -> Threads<'scope, 'env> {
        Threads {
            scope,
            http: &self.http,
            limits: self.limits,
        }
    }
}

/// Builds a blocking [`Client`] with chosen [`TransportLimits`] and, optionally, your
/// blocking reqwest client.
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    config: Config,
    limits: TransportLimits,
    http: Option<reqwest::blocking::Client>,
}

impl ClientBuilder {
    /// The limits for every request. With a client of your own, the connect timeout is
    /// yours; the request timeout and the body cap still apply.
    pub fn limits(mut self, limits: TransportLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sends over `http` instead of a client built here. Build it with no redirect policy.
    pub fn http_client(mut self, http: reqwest::blocking::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client. Fails when a reqwest client built here cannot start (its TLS back end,
    /// its resolver), or its thread cannot.
    pub fn build(self) -> Result<Client, Error> {
        let http = match self.http {
            Some(http) => http,
            None => {
                let builder = reqwest::blocking::Client::builder()
                    .connect_timeout(self.limits.connect_timeout)
                    .timeout(self.limits.request_timeout)
                    .redirect(reqwest::redirect::Policy::none());
                // Built off the calling thread, which may be running a tokio runtime.
                thread::Builder::new()
                    .name("alias-reqwest-build".to_owned())
                    .spawn(move || builder.build())
                    .map_err(Error::Thread)?
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    .map_err(Error::Build)?
            }
        };
        Ok(Client {
            http,
            config: self.config,
            limits: self.limits,
        })
    }
}

/// Sends each request from a scoped thread of its own, so that the calling thread is never
/// one reqwest::blocking refuses, and requests overlap up to the configured concurrency.
struct Threads<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    http: &'env reqwest::blocking::Client,
    limits: TransportLimits,
}

impl Transport for Threads<'_, '_> {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, TransportError>> {
        let (answer, answered) = futures_channel::oneshot::channel();
        let (http, limits) = (self.http, self.limits);
        let started = thread::Builder::new()
            .name("alias-reqwest-send".to_owned())
            .spawn_scoped(self.scope, move || {
                // The receiver is gone only if the delivery itself was dropped.
                let _ = answer.send(send_blocking(http, limits, request));
            });
        async move {
            started.map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Other,
                    format!("cannot start a thread: {e}"),
                )
            })?;
            answered.await.unwrap_or_else(|_| {
                Err(TransportError::new(
                    TransportErrorKind::Other,
                    "the sending thread ended without an answer",
                ))
            })
        }
    }
}

fn send_blocking(
    http: &reqwest::blocking::Client,
    limits: TransportLimits,
    request: http::Request<Vec<u8>>,
) -> Result<Response<Vec<u8>>, TransportError> {
    let mut request = reqwest::blocking::Request::try_from(request).map_err(|e| classify(&e))?;
    // Set on each request, so that it also bounds a client the caller built.
    *request.timeout_mut() = Some(limits.request_timeout);
    let mut response = http.execute(request).map_err(|e| classify(&e))?;
    let cap = limits.max_response_bytes;
    let status = response.status();
    check_declared_length(status, response.content_length(), cap)?;
    let mut body = Vec::new();
    // One byte past the cap tells an answer over it from one exactly at it.
    (&mut response)
        .take(cap as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| classify(&e).after_status(status))?;
    if body.len() > cap {
        return Err(TransportError::body_too_large(status, cap));
    }
    let headers = std::mem::take(response.headers_mut());
    Ok(assemble(
        response.status(),
        response.version(),
        headers,
        body,
    ))
}

/// The system clocks, and a timer that needs no runtime.
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

/// Runs `future` on this thread, parking between wake-ups.
///
/// Written here rather than taken from `futures::executor`, whose `block_on` panics when
/// called from inside another of its executors: this one nests anywhere.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use alias_core::Token;

    use super::*;

    fn config() -> Config {
        Config::new(Token::new("tok").unwrap())
    }

    #[test]
    fn block_on_waits_for_a_timer() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(20);
        block_on(TimerClock.sleep_until(deadline));
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn block_on_nests_inside_another_executor() {
        let inner = futures_channel::oneshot::channel::<()>();
        drop(inner.0);
        let outcome = block_on(async { block_on(inner.1) });
        assert!(outcome.is_err(), "the dropped sender cancels the receiver");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn building_and_dropping_inside_a_runtime_does_not_panic() {
        let client = Client::new(config()).unwrap();
        let report = client.send(Vec::new());
        assert!(report.entries.is_empty());
        drop(client);
    }

    #[test]
    fn an_alias_equal_to_its_distinct_id_fails_before_sending() {
        let client = Client::new(config()).unwrap();
        let error = client
            .create_alias(
                DistinctId::new("same").unwrap(),
                Alias::new("same").unwrap(),
            )
            .unwrap_err();
        assert!(matches!(error, AliasError::Invalid(_)), "{error:?}");
    }
}
