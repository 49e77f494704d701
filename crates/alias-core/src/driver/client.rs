//! The client every adapter offers, written once over the one thing adapters differ in:
//! their HTTP client.
//!
//! An adapter implements [`HttpClient`] for its HTTP client (send one request under the
//! [`TransportLimits`], build a default client, name its runtime's [`Clock`]) and exposes
//! `AliasClient<ItsHttpClient>` as its `Client`. Constructors, builder, `send`,
//! `send_stream` and `create_alias` are then the same code in every adapter, so they cannot
//! drift apart.

use std::future::Future;

use futures_util::Stream;
use http::{Request, Response};

use crate::delivery::report::{AliasError, DeliveryStats, Report, ReportEntry};
use crate::driver::async_loop::{
    Clock, Transport, TransportLimits, deliver, deliver_all, deliver_one,
};
use crate::error::TransportError;
use crate::wire::config::Config;
use crate::wire::create_alias::CreateAlias;
use crate::wire::id::{Alias, DistinctId};

/// An HTTP client that an adapter plugs into [`AliasClient`].
pub trait HttpClient: Sized {
    /// The clocks and timer of the runtime the client runs on.
    type Clock: Clock + Default;
    /// Why a client cannot be built.
    type BuildError;

    /// A client bounded by `limits` that follows no redirect: Mixpanel never redirects
    /// ingestion, and following one could carry `/import` credentials to another host.
    fn build(limits: &TransportLimits) -> Result<Self, Self::BuildError>;

    /// Sends `request` under `limits` (request timeout, answer size cap), also when the
    /// client was built by the caller. Every HTTP answer is `Ok`; a failure below HTTP is
    /// a [`TransportError`].
    fn send(
        &self,
        request: Request<Vec<u8>>,
        limits: TransportLimits,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, TransportError>>;

    /// A fresh seed for one delivery's backoff jitter: this crate draws no random number
    /// itself.
    fn jitter_seed(&self) -> u64;
}

/// Delivers `$create_alias` calls over the HTTP client `H`: what `alias_reqwest::Client`
/// and `alias_surf::Client` are.
///
/// Cheap to clone when `H` is (HTTP clients share their pool between clones). Several
/// batches are in flight at once, up to [`Config::concurrency`].
#[derive(Debug, Clone)]
pub struct AliasClient<H> {
    http: H,
    config: Config,
    limits: TransportLimits,
}

impl<H: HttpClient> AliasClient<H> {
    /// A client for `config` over a default HTTP client with the default
    /// [`TransportLimits`]. Fails only when that HTTP client cannot be built.
    pub fn new(config: Config) -> Result<Self, H::BuildError> {
        Self::builder(config).build()
    }

    /// A client for `config` over your own HTTP client. The default [`TransportLimits`]'
    /// request timeout and body cap apply to each request. Give it no redirect policy:
    /// following a redirect could carry credentials to another host.
    pub fn with_http_client(config: Config, http: impl Into<H>) -> Self {
        Self {
            http: http.into(),
            config,
            limits: TransportLimits::default(),
        }
    }

    /// A builder, to set the [`TransportLimits`] as well.
    pub fn builder(config: Config) -> AliasClientBuilder<H> {
        AliasClientBuilder {
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
        let seed = self.http.jitter_seed();
        deliver_all(
            self.config.clone(),
            &self.transport(),
            &H::Clock::default(),
            seed,
            aliases,
        )
        .await
    }

    /// Delivers every alias of `input`, handing each outcome to `on_finished` in input order
    /// as soon as it is final, and returns the traffic counters.
    ///
    /// Input is read only as fast as requests go out, so memory stays bounded whatever the
    /// length of `input`: this is the call for bulk imports. An iterator becomes a stream
    /// with `futures::stream::iter`.
    pub async fn send_stream(
        &self,
        input: impl Stream<Item = CreateAlias>,
        on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        self.send_stream_until(input, std::future::pending(), on_finished)
            .await
    }

    /// [`AliasClient::send_stream`], stopping promptly once `stop` completes: nothing more
    /// is sent, aliases not yet sent or waiting for a retry come back undelivered
    /// ([`DeliveryError::Abandoned`](crate::DeliveryError::Abandoned)) at once, and the
    /// call returns when the requests in flight are answered, within the request timeout.
    /// A [`StopSignal`](crate::StopSignal) from [`stop_signal`](crate::stop_signal) can be
    /// triggered from any thread.
    pub async fn send_stream_until(
        &self,
        input: impl Stream<Item = CreateAlias>,
        stop: impl Future<Output = ()>,
        on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        let seed = self.http.jitter_seed();
        let clock = H::Clock::default();
        deliver(
            self.config.clone(),
            &self.transport(),
            &clock,
            seed,
            input,
            stop,
            on_finished,
        )
        .await
    }

    /// Links `alias` to `distinct_id`, with retries, and says how it ended.
    pub async fn create_alias(
        &self,
        distinct_id: DistinctId,
        alias: Alias,
    ) -> Result<(), AliasError> {
        let seed = self.http.jitter_seed();
        let clock = H::Clock::default();
        deliver_one(
            self.config.clone(),
            &self.transport(),
            &clock,
            seed,
            distinct_id,
            alias,
        )
        .await
    }

    fn transport(&self) -> Bounded<'_, H> {
        Bounded {
            http: &self.http,
            limits: self.limits,
        }
    }
}

/// Builds an [`AliasClient`] with chosen [`TransportLimits`] and, optionally, your HTTP
/// client.
#[derive(Debug)]
#[must_use]
pub struct AliasClientBuilder<H> {
    config: Config,
    limits: TransportLimits,
    http: Option<H>,
}

impl<H: HttpClient> AliasClientBuilder<H> {
    /// The limits for every request. With an HTTP client of your own, its connect timeout
    /// is yours; the request timeout and the body cap still apply.
    pub fn limits(mut self, limits: TransportLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sends over `http` instead of a client built here. Give it no redirect policy.
    pub fn http_client(mut self, http: impl Into<H>) -> Self {
        self.http = Some(http.into());
        self
    }

    /// The client. Fails only when an HTTP client built here cannot start.
    pub fn build(self) -> Result<AliasClient<H>, H::BuildError> {
        let http = match self.http {
            Some(http) => http,
            None => H::build(&self.limits)?,
        };
        Ok(AliasClient {
            http,
            config: self.config,
            limits: self.limits,
        })
    }
}

/// One HTTP client under its limits, as the delivery loop's [`Transport`].
struct Bounded<'a, H> {
    http: &'a H,
    limits: TransportLimits,
}

impl<H: HttpClient> Transport for Bounded<'_, H> {
    fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, TransportError>> {
        self.http.send(request, self.limits)
    }
}
