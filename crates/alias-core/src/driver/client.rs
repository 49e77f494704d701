//! The clients every adapter offers, written once over the one thing adapters differ in:
//! their HTTP client (and, for async code, their runtime's timer).
//!
//! An adapter implements [`HttpClient`] (or [`BlockingHttpClient`]) and
//! [`DefaultHttpClient`] for its HTTP client, and exposes `AliasClient<ItsClient,
//! ItsTimer>` (or `BlockingClient<ItsClient>`) as its `Client`. Constructors, builder,
//! jitter seeds, `send`, `send_stream` and `create_alias` are then the same code in every
//! adapter, so they cannot drift apart.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::Stream;

use crate::delivery::machine::Delivery;
use crate::delivery::report::{AliasError, DeliveryStats, Report, ReportEntry, Tally};
use crate::driver::async_loop::drive;
use crate::driver::blocking_loop::drive_blocking;
use crate::driver::http::{
    BlockingHttpClient, DefaultHttpClient, HttpClient, Timer, TransportLimits,
};
use crate::wire::config::Config;
use crate::wire::create_alias::CreateAlias;
use crate::wire::id::{Alias, DistinctId};

/// Delivers `$create_alias` calls (or association events) over the async HTTP client `H`,
/// waiting on the timer `T`: what `alias_reqwest::Client` and `alias_surf::Client` are.
///
/// Cheap to clone when `H` is (HTTP clients share their pool between clones). Several
/// batches are in flight at once, up to [`Config::concurrency`].
///
/// With an adapter, `Client::new(config)?` builds one over a default HTTP client. Here a
/// closure stands in for the network, and a timer that never waits for the runtime:
///
/// ```
/// use alias_core::http::{Request, Response};
/// use alias_core::{AliasClient, AliasOutcome, Config, CreateAlias, Tally, driver::Timer, Token};
///
/// #[derive(Default)]
/// struct NoWait;
/// impl Timer for NoWait {
///     async fn sleep_until(&self, _deadline: std::time::Instant) {}
/// }
///
/// let mixpanel = |_request: Request<Vec<u8>>| async {
///     Ok(Response::new(br#"{"code":200,"num_records_imported":2,"status":"OK"}"#.to_vec()))
/// };
/// let config = Config::new(Token::new("YOUR_PROJECT_TOKEN")?);
/// let client = AliasClient::<_, NoWait>::builder(config).build_with(mixpanel);
/// # futures::executor::block_on(async {
///
/// // Any number of aliases, an outcome for each, in input order.
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
///
/// // A bulk import of any length, in bounded memory.
/// let rows = [("anon-3", "user-3"), ("anon-4", "user-4")];
/// let input = futures::stream::iter(
///     rows.iter().filter_map(|(anon, user)| CreateAlias::from_ids(anon, user).ok()),
/// );
/// let mut tally = Tally::default();
/// let stats = client.send_stream(input, |entry| tally.add(&entry.outcome)).await;
/// assert_eq!((tally.accepted, stats.requests), (2, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct AliasClient<H, T> {
    core: Core<H>,
    timer: T,
}

/// Delivers `$create_alias` calls over the blocking HTTP client `H`, from worker threads:
/// what `alias_reqwest::blocking::Client` is. The same methods as [`AliasClient`], without
/// `async`.
#[derive(Debug, Clone)]
pub struct BlockingClient<H> {
    core: Core<H>,
}

/// What both kinds of client hold.
#[derive(Debug, Clone)]
struct Core<H> {
    http: H,
    config: Config,
    limits: TransportLimits,
    seeds: Seeds,
}

/// Where each delivery's jitter seed comes from.
#[derive(Debug)]
enum Seeds {
    /// A fresh random one per delivery.
    Random,
    /// The next of `base`, `base + 1`, ... (wrapping): the same jitter on every run of a
    /// program.
    Fixed(AtomicU64),
}

impl Clone for Seeds {
    fn clone(&self) -> Self {
        match self {
            Self::Random => Self::Random,
            Self::Fixed(next) => Self::Fixed(AtomicU64::new(next.load(Ordering::Relaxed))),
        }
    }
}

impl Seeds {
    fn next(&self) -> u64 {
        match self {
            // The delivery draws no random numbers itself: the seed comes from here.
            Self::Random => fastrand::u64(..),
            Self::Fixed(next) => next.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl<H> Core<H> {
    fn new(http: H, config: Config, limits: TransportLimits, seed: Option<u64>) -> Self {
        let seeds = seed.map_or(Seeds::Random, |base| Seeds::Fixed(AtomicU64::new(base)));
        Self {
            http,
            config,
            limits,
            seeds,
        }
    }

    /// A delivery of this client's configuration, started now.
    fn delivery(&self, now: std::time::Instant, wall_now: std::time::SystemTime) -> Delivery {
        Delivery::new(self.config.clone(), now, wall_now, self.seeds.next())
    }
}

/// The `info` span named `deliver` around each delivery, recording at the end how many
/// aliases ended each way (`aliases`, `accepted`, `rejected`, `invalid`, `undelivered`)
/// and the traffic (`requests`, `retries`, `splits`, `rate_limited`). No field holds a
/// token, a credential or an id.
struct DeliverySpan {
    span: tracing::Span,
    tally: Tally,
}

impl DeliverySpan {
    fn start() -> Self {
        let span = tracing::info_span!(
            "deliver",
            aliases = tracing::field::Empty,
            accepted = tracing::field::Empty,
            rejected = tracing::field::Empty,
            invalid = tracing::field::Empty,
            undelivered = tracing::field::Empty,
            requests = tracing::field::Empty,
            retries = tracing::field::Empty,
            splits = tracing::field::Empty,
            rate_limited = tracing::field::Empty,
        );
        Self {
            span,
            tally: Tally::default(),
        }
    }

    fn finish(self, stats: DeliveryStats) -> DeliveryStats {
        let tally = self.tally;
        self.span
            .record("aliases", tally.total())
            .record("accepted", tally.accepted)
            .record("rejected", tally.rejected)
            .record("invalid", tally.invalid)
            .record("undelivered", tally.undelivered)
            .record("requests", stats.requests)
            .record("retries", stats.retries)
            .record("splits", stats.splits)
            .record("rate_limited", stats.rate_limited);
        stats
    }
}

impl<H: HttpClient, T: Timer> AliasClient<H, T> {
    /// Delivers `aliases` and reports what became of each, in input order.
    ///
    /// Never fails as a whole: every alias ends accepted (for ingestion: see
    /// [`AliasOutcome::Accepted`](crate::AliasOutcome::Accepted)), rejected (with
    /// Mixpanel's field and message), invalid, or undelivered (with the last error, to
    /// send again later).
    pub async fn send(&self, aliases: impl IntoIterator<Item = CreateAlias>) -> Report {
        let mut entries = Vec::new();
        let stats = self
            .send_stream(futures_util::stream::iter(aliases), |entry| {
                entries.push(entry)
            })
            .await;
        Report { entries, stats }
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
    /// A [`StopSignal`](crate::driver::StopSignal) from [`stop_signal`](crate::driver::stop_signal) can be
    /// triggered from any thread.
    pub async fn send_stream_until(
        &self,
        input: impl Stream<Item = CreateAlias>,
        stop: impl Future<Output = ()>,
        mut on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        use tracing::Instrument;
        let core = &self.core;
        let mut delivery = core.delivery(self.timer.now(), self.timer.wall_now());
        let mut span = DeliverySpan::start();
        let tally = &mut span.tally;
        let driving = drive(
            &mut delivery,
            &core.http,
            &core.limits,
            &self.timer,
            input,
            stop,
            |entry| {
                tally.add(&entry.outcome);
                on_finished(entry);
            },
        );
        driving.instrument(span.span.clone()).await;
        span.finish(delivery.stats())
    }

    /// Links `alias` to `distinct_id`, with retries, and says how it ended. `Ok` means
    /// accepted for ingestion: Mixpanel answers before it merges, and a merge it then
    /// refuses shows as `$failure_reason` on the stored event.
    ///
    /// Retries follow the [`RetryPolicy`](crate::wire::RetryPolicy): with the default one, an
    /// unreachable host takes minutes to give up. In a request handler, bound the call with
    /// a policy of a few attempts, e.g. [`RetryPolicy::single_call`](crate::wire::RetryPolicy::single_call).
    pub async fn create_alias(
        &self,
        distinct_id: DistinctId,
        alias: Alias,
    ) -> Result<(), AliasError> {
        let link = CreateAlias::new(distinct_id, alias)?;
        self.send([link])
            .await
            .entries
            .into_iter()
            .try_for_each(|entry| entry.outcome.into_result())
    }
}

impl<H: BlockingHttpClient> BlockingClient<H> {
    /// Delivers `aliases` and reports what became of each, in input order. See
    /// [`AliasClient::send`].
    pub fn send(&self, aliases: impl IntoIterator<Item = CreateAlias>) -> Report {
        let mut entries = Vec::new();
        let stats = self.send_stream(aliases, |entry| entries.push(entry));
        Report { entries, stats }
    }

    /// Delivers every alias of `input` in bounded memory, handing each outcome to
    /// `on_finished` in input order. See [`AliasClient::send_stream`].
    pub fn send_stream(
        &self,
        input: impl IntoIterator<Item = CreateAlias>,
        on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        self.send_stream_until(input, std::future::pending(), on_finished)
    }

    /// [`BlockingClient::send_stream`], stopping promptly once `stop` completes (see
    /// [`AliasClient::send_stream_until`]); a [`StopSignal`](crate::driver::StopSignal) can be
    /// triggered from another thread.
    pub fn send_stream_until(
        &self,
        input: impl IntoIterator<Item = CreateAlias>,
        stop: impl Future<Output = ()>,
        mut on_finished: impl FnMut(ReportEntry),
    ) -> DeliveryStats {
        let core = &self.core;
        let mut delivery = core.delivery(std::time::Instant::now(), std::time::SystemTime::now());
        let mut span = DeliverySpan::start();
        let entered = span.span.clone();
        let _entered = entered.enter();
        let tally = &mut span.tally;
        drive_blocking(
            &mut delivery,
            &core.http,
            &core.limits,
            input,
            stop,
            |entry| {
                tally.add(&entry.outcome);
                on_finished(entry);
            },
        );
        span.finish(delivery.stats())
    }

    /// Links `alias` to `distinct_id`, with retries, and says how it ended. See
    /// [`AliasClient::create_alias`].
    pub fn create_alias(&self, distinct_id: DistinctId, alias: Alias) -> Result<(), AliasError> {
        let link = CreateAlias::new(distinct_id, alias)?;
        self.send([link])
            .entries
            .into_iter()
            .try_for_each(|entry| entry.outcome.into_result())
    }
}

macro_rules! shared_methods {
    ($client:ident < $($param:ident),* >, $kind:ty) => {
        impl<$($param),*> $client<$($param),*> {
            /// The configuration requests are built from.
            pub fn config(&self) -> &Config {
                &self.core.config
            }

            /// The limits every request runs under.
            pub fn limits(&self) -> TransportLimits {
                self.core.limits
            }

            /// A builder, to set the [`TransportLimits`], the HTTP client or the jitter seed.
            pub fn builder(config: Config) -> ClientBuilder<H, $kind> {
                ClientBuilder::new(config)
            }
        }
    };
}

shared_methods!(AliasClient<H, T>, Async<T>);
shared_methods!(BlockingClient<H>, Blocking);

impl<H: DefaultHttpClient, T: Default> AliasClient<H, T> {
    /// A client for `config` over a default HTTP client with the default
    /// [`TransportLimits`]. Fails only when that HTTP client cannot be built.
    pub fn new(config: Config) -> Result<Self, H::Error> {
        Self::builder(config).build()
    }
}

impl<H, T: Default> AliasClient<H, T> {
    /// A client for `config` over your own HTTP client. The default [`TransportLimits`]
    /// apply; give it no redirect policy: following a redirect could carry credentials to
    /// another host.
    pub fn with_http_client(config: Config, http: impl Into<H>) -> Self {
        Self {
            core: Core::new(http.into(), config, TransportLimits::default(), None),
            timer: T::default(),
        }
    }
}

impl<H: DefaultHttpClient> BlockingClient<H> {
    /// A client for `config` over a default HTTP client with the default
    /// [`TransportLimits`]. Fails only when that HTTP client cannot be built.
    pub fn new(config: Config) -> Result<Self, H::Error> {
        Self::builder(config).build()
    }
}

impl<H> BlockingClient<H> {
    /// A client for `config` over your own blocking HTTP client. The default
    /// [`TransportLimits`] apply; give it no redirect policy.
    pub fn with_http_client(config: Config, http: impl Into<H>) -> Self {
        Self {
            core: Core::new(http.into(), config, TransportLimits::default(), None),
        }
    }
}

/// The kind of [`ClientBuilder`] that builds an [`AliasClient`] waiting on the timer `T`.
#[derive(Debug)]
pub struct Async<T>(PhantomData<T>);

/// The kind of [`ClientBuilder`] that builds a [`BlockingClient`].
#[derive(Debug)]
pub struct Blocking;

/// Builds a client ([`AliasClient`] or [`BlockingClient`], as `K` says) with chosen
/// [`TransportLimits`], your HTTP client if you like, and a fixed jitter seed if you need
/// runs to repeat.
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder<H, K> {
    config: Config,
    limits: TransportLimits,
    http: Option<H>,
    seed: Option<u64>,
    kind: PhantomData<K>,
}

impl<H, K> ClientBuilder<H, K> {
    fn new(config: Config) -> Self {
        Self {
            config,
            limits: TransportLimits::default(),
            http: None,
            seed: None,
            kind: PhantomData,
        }
    }

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

    /// Seeds the backoff jitter of the first delivery with `seed`, and of each later one
    /// with the next number, so that runs repeat. Default: a fresh random seed each time.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    fn core(self) -> Result<Core<H>, H::Error>
    where
        H: DefaultHttpClient,
    {
        let http = match self.http {
            Some(http) => http,
            None => H::build(&self.limits)?,
        };
        Ok(Core::new(http, self.config, self.limits, self.seed))
    }
}

impl<H: DefaultHttpClient, T: Default> ClientBuilder<H, Async<T>> {
    /// The client. Fails only when an HTTP client built here cannot start.
    pub fn build(self) -> Result<AliasClient<H, T>, H::Error> {
        Ok(AliasClient {
            core: self.core()?,
            timer: T::default(),
        })
    }
}

impl<H, T: Default> ClientBuilder<H, Async<T>> {
    /// The client, over `http`: for an HTTP client that cannot build itself (a closure,
    /// an enum of clients).
    pub fn build_with(self, http: H) -> AliasClient<H, T> {
        AliasClient {
            core: Core::new(http, self.config, self.limits, self.seed),
            timer: T::default(),
        }
    }
}

impl<H: DefaultHttpClient> ClientBuilder<H, Blocking> {
    /// The client. Fails only when an HTTP client built here cannot start.
    pub fn build(self) -> Result<BlockingClient<H>, H::Error> {
        Ok(BlockingClient { core: self.core()? })
    }
}

impl<H> ClientBuilder<H, Blocking> {
    /// The client, over `http`: for an HTTP client that cannot build itself (a closure,
    /// an enum of clients).
    pub fn build_with(self, http: H) -> BlockingClient<H> {
        BlockingClient {
            core: Core::new(http, self.config, self.limits, self.seed),
        }
    }
}
