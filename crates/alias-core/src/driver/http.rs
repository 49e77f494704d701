//! What an adapter supplies: an HTTP client that sends one request under limits, a way
//! to build a default one, and (for async code) a timer.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use http::{Request, Response, StatusCode};

use crate::error::TransportError;

/// Bounds on each request, so that a stalled or hostile peer costs a bounded time and
/// memory. The same settings for every adapter, so that switching HTTP client does not
/// change them.
///
/// ```
/// use std::time::Duration;
/// use alias_core::driver::TransportLimits;
///
/// assert_eq!(TransportLimits::default().request_timeout, Duration::from_secs(30));
/// let limits = TransportLimits::default().request_timeout(Duration::from_secs(60));
/// assert_eq!(limits.connect_timeout, Duration::from_secs(10));
/// assert_eq!(limits.max_response_bytes, 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLimits {
    /// Longest wait for a connection (TCP and TLS) to open. Default 10 s. Applied where the
    /// HTTP client has a connect-only timeout; elsewhere connecting counts against
    /// `request_timeout`.
    pub connect_timeout: Duration,
    /// Longest time for one request, from sending it to the last byte of the answer.
    /// Default 30 s. A request that takes longer fails with
    /// [`TransportErrorKind::Timeout`](crate::driver::TransportErrorKind::Timeout) and is retried.
    /// The async client enforces it on its timer, whatever the HTTP client does.
    pub request_timeout: Duration,
    /// Largest answer body read. Default 1 MiB: Mixpanel's answers are tiny, so a larger one
    /// is not Mixpanel's, and reading it whole would only cost memory. A larger one fails
    /// with [`TransportErrorKind::BodyTooLarge`](crate::driver::TransportErrorKind::BodyTooLarge).
    pub max_response_bytes: usize,
}

impl TransportLimits {
    /// Sets [`TransportLimits::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`TransportLimits::request_timeout`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`TransportLimits::max_response_bytes`].
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// How many bytes of an answer's body an adapter reads at most: one past
    /// [`TransportLimits::max_response_bytes`], which tells a body over the cap from one
    /// exactly at it.
    pub fn body_read_limit(&self) -> u64 {
        self.max_response_bytes as u64 + 1
    }

    /// Refuses an answer with `status` whose body is over
    /// [`TransportLimits::max_response_bytes`]: an adapter calls it with the declared
    /// length before reading (`None` when there is none), and with the length read so far
    /// while reading. The error keeps the status, which still decides the outcome.
    ///
    /// ```
    /// use alias_core::http::StatusCode;
    /// use alias_core::{driver::TransportErrorKind, driver::TransportLimits};
    ///
    /// let limits = TransportLimits::default().max_response_bytes(10);
    /// assert_eq!(limits.check_body_length(StatusCode::BAD_REQUEST, Some(10)), Ok(()));
    /// assert_eq!(limits.check_body_length(StatusCode::BAD_REQUEST, None), Ok(()));
    /// let error = limits.check_body_length(StatusCode::BAD_REQUEST, Some(11)).unwrap_err();
    /// assert_eq!(error.kind, TransportErrorKind::BodyTooLarge);
    /// assert_eq!(error.status, Some(StatusCode::BAD_REQUEST));
    /// ```
    pub fn check_body_length(
        &self,
        status: StatusCode,
        length: Option<u64>,
    ) -> Result<(), TransportError> {
        let cap = self.max_response_bytes;
        match length {
            Some(length) if length > cap as u64 => Err(TransportError::body_too_large(status, cap)),
            _ => Ok(()),
        }
    }
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
        }
    }
}

/// An async HTTP client: the one thing an adapter implements for
/// [`AliasClient`](crate::AliasClient).
///
/// A closure `Fn(Request<Vec<u8>>) -> impl Future<Output = Result<Response<Vec<u8>>,
/// TransportError>>` is an HTTP client too (it then applies whatever limits it likes):
///
/// ```
/// use alias_core::{AliasClient, Config, CreateAlias, driver::Timer, Token, driver::TransportError};
/// use alias_core::http::{Request, Response};
///
/// /// A timer for the example; an adapter supplies its runtime's.
/// #[derive(Default)]
/// struct NoWait;
///
/// impl Timer for NoWait {
///     async fn sleep_until(&self, _deadline: std::time::Instant) {}
/// }
///
/// let answer = |_request: Request<Vec<u8>>| async {
///     Ok::<_, TransportError>(Response::new(br#"{"code":200,"num_records_imported":1,"status":"OK"}"#.to_vec()))
/// };
/// let config = Config::new(Token::new("YOUR_PROJECT_TOKEN")?);
/// let client = AliasClient::<_, NoWait>::builder(config).build_with(answer);
/// let link = CreateAlias::from_ids("anon-123", "user@example.com")?;
/// let report = futures::executor::block_on(client.send([link]));
/// assert!(report.all_accepted());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait HttpClient {
    /// Sends `request` under `limits` (the answer size cap, and the timeouts it can apply
    /// itself) and reads its whole answer. Every HTTP answer is `Ok`, whatever its
    /// status; a failure below HTTP is a [`TransportError`] of the kind that says whether
    /// trying again may help.
    fn send(
        &self,
        request: Request<Vec<u8>>,
        limits: &TransportLimits,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, TransportError>>;
}

impl<F, Fut> HttpClient for F
where
    F: Fn(Request<Vec<u8>>) -> Fut,
    Fut: Future<Output = Result<Response<Vec<u8>>, TransportError>>,
{
    fn send(
        &self,
        request: Request<Vec<u8>>,
        _limits: &TransportLimits,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, TransportError>> {
        self(request)
    }
}

/// A blocking HTTP client: the one thing an adapter implements for
/// [`BlockingClient`](crate::BlockingClient). Requests are sent from worker threads, never
/// from the caller's.
///
/// A closure `Fn(Request<Vec<u8>>) -> Result<Response<Vec<u8>>, TransportError>` is a
/// blocking HTTP client too.
pub trait BlockingHttpClient: Sync {
    /// Sends `request` under `limits` (its timeouts and the answer size cap) and reads its
    /// whole answer. Every HTTP answer is `Ok`, whatever its status; a failure below HTTP
    /// is a [`TransportError`].
    fn send(
        &self,
        request: Request<Vec<u8>>,
        limits: &TransportLimits,
    ) -> Result<Response<Vec<u8>>, TransportError>;
}

impl<F> BlockingHttpClient for F
where
    F: Fn(Request<Vec<u8>>) -> Result<Response<Vec<u8>>, TransportError> + Sync,
{
    fn send(
        &self,
        request: Request<Vec<u8>>,
        _limits: &TransportLimits,
    ) -> Result<Response<Vec<u8>>, TransportError> {
        self(request)
    }
}

/// An HTTP client a client can build for itself: what `Client::new(config)` uses.
pub trait DefaultHttpClient: Sized {
    /// Why it cannot be built.
    type Error;

    /// A client bounded by `limits` that follows no redirect: Mixpanel never redirects
    /// ingestion, and following one could carry `/import` credentials to another host.
    fn build(limits: &TransportLimits) -> Result<Self, Self::Error>;
}

/// The runtime's timer, for the async client: the only other thing a runtime supplies.
///
/// The clock reads default to the system's clocks; a test can replace them.
pub trait Timer {
    /// Completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;

    /// The monotonic time now.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// The wall-clock time now, to stamp event times.
    fn wall_now(&self) -> SystemTime {
        SystemTime::now()
    }
}
