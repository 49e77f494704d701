//! The builder, the running server's handle, and the accept loop on its own thread.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener as StdListener};
use std::pin::pin;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use alias_core::server::Event;
use alias_core::{
    ApiHost, Config, Secret, Token, ValidationError, wire::ConfigBuilder, wire::RetryPolicy,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::credentials::ServiceAccount;
use crate::faults::{FaultDice, FaultSpec};
use crate::http::serve;
use crate::identity::{Identity, IdentitySystem};
use crate::listing::Page;
use crate::shared::{Settings, Shared};
use crate::store::{Stats, View};
use crate::unknown_tokens::UnknownTokenHook;

/// How long a shutdown waits for requests in flight before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The largest request head a connection buffers; hyper's minimum is 8 KiB.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A server that cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The address cannot be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {message}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The system's description.
        message: String,
    },
    /// The server's thread or runtime cannot be created.
    #[error("cannot start the server's runtime: {0}")]
    Runtime(String),
    /// The project token is empty or blank: no event could carry it, and no client could
    /// be configured with it.
    #[error("cannot serve a project with this token: {0}")]
    Token(ValidationError),
}

/// Configures and starts a [`Server`]. Every setting has a default, so
/// `Server::builder().start()` serves a project with the `DEFAULT_*` credentials.
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    addr: SocketAddr,
    settings: Settings,
    faults: FaultSpec,
    seed: u64,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            settings: Settings::default(),
            faults: FaultSpec::none(),
            seed: 0,
        }
    }
}

impl ServerBuilder {
    /// The address to listen on. Default `127.0.0.1:0`: loopback, any free port.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The identity system applied to `$create_alias`. Default [`IdentitySystem::Original`].
    pub fn identity(mut self, system: IdentitySystem) -> Self {
        self.settings.identity = system;
        self
    }

    /// The faults to inject into ingestion requests. Default none.
    pub fn faults(mut self, faults: FaultSpec) -> Self {
        self.faults = faults;
        self
    }

    /// The seed of the fault draws: the same seed injects the same faults into the same
    /// sequence of requests. Default 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The largest body accepted, on the wire and once decompressed; larger ones are
    /// answered 413 as soon as the excess arrives. Default 10 MB (10,000,000 bytes), the
    /// limit Mixpanel's docs give for uncompressed requests (`docs/mixpanel-facts.md` §3,
    /// §4; the 2 MiB of an example in its API specification is the other reading).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.settings.limits.max_body_bytes = bytes;
        self
    }

    /// The deepest JSON nesting accepted. Default 64.
    pub fn max_json_depth(mut self, depth: usize) -> Self {
        self.settings.limits.max_depth = depth;
        self
    }

    /// How long the `slow` fault holds an answer back. Default 1 s.
    pub fn slow_delay(mut self, delay: Duration) -> Self {
        self.settings.slow_delay = delay;
        self
    }

    /// How long a client may take to send a request head, including the wait for the next
    /// request on a kept-alive connection. Default 10 s.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.settings.header_timeout = timeout;
        self
    }

    /// How long a client may take to send a request body. Default 30 s.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.settings.body_timeout = timeout;
        self
    }

    /// How many connections are served at once; more are closed on arrival. Default 1024.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.settings.max_connections = connections.max(1);
        self
    }

    /// Sets the server's clock this many seconds ahead of the machine's (negative: behind),
    /// to test how clients fare with a server that disagrees about the time. Default 0.
    pub fn clock_skew_secs(mut self, seconds: i64) -> Self {
        self.settings.clock_skew_secs = seconds;
        self
    }

    /// Limits the project to `events_per_sec` events a second, as Mixpanel limits each
    /// project (`docs/mixpanel-facts.md` §6: about 30,000), counted over a rolling window
    /// ([`rate_limit_window`](Self::rate_limit_window), 60 s by default): a window takes
    /// `events_per_sec` times its length. Default: no limit; 0 is taken as 1.
    ///
    /// Uncompressed bytes are limited as well, to Mixpanel's 2 GB a minute unless
    /// [`rate_limit_bytes`](Self::rate_limit_bytes) says otherwise. A request is admitted
    /// when its events and bytes fit, with those admitted over the last window, under
    /// both limits; so that every valid request fits eventually, one also goes through
    /// when the window holds nothing. The count is the request's events, valid or not,
    /// and its body once decompressed, taken after authentication, decoding and the
    /// 2000-event limit.
    ///
    /// A request that does not fit is answered 429 with the strict JSON body
    /// ([`RATE_LIMITED`](alias_core::server::RATE_LIMITED)) and, as at Mixpanel, no
    /// `Retry-After` ([`retry_after`](Self::retry_after) adds it). It stores nothing,
    /// counts in [`Stats::requests_rate_limited`], and its events are not counted as
    /// received. A reset empties the window.
    pub fn rate_limit(mut self, events_per_sec: u32) -> Self {
        self.settings.rate_limit = Some(events_per_sec);
        self
    }

    /// Limits the project's uncompressed bytes to `bytes_per_sec` a second, over the
    /// rate limit's window (see [`rate_limit`](Self::rate_limit)); without
    /// `rate_limit`, only bytes are limited. Default: Mixpanel's 2 GB a minute once a
    /// limit is set; no limit otherwise.
    pub fn rate_limit_bytes(mut self, bytes_per_sec: u64) -> Self {
        self.settings.rate_limit_bytes = Some(bytes_per_sec);
        self
    }

    /// The rolling window the rate limit counts over. Default 60 s, Mixpanel's rolling
    /// minute; shorter ones make tests quick. At least 1 ms.
    pub fn rate_limit_window(mut self, window: Duration) -> Self {
        self.settings.rate_limit_window = window;
        self
    }

    /// Whether 429s carry `Retry-After` (the rate limit's: the whole seconds until the
    /// request would fit; the `429` fault's: 1). Mixpanel documents none for ingestion,
    /// so the default is `false`; some front ends do send it.
    pub fn retry_after(mut self, send: bool) -> Self {
        self.settings.retry_after = send;
        self
    }

    /// Whether 429s (the rate limit's and the `429` fault's) are a front-end proxy's HTML
    /// page, without `Retry-After`, instead of Mixpanel's JSON: clients must never assume
    /// an error is JSON (`docs/mixpanel-facts.md` §5). Default `false`.
    pub fn html_429(mut self, html: bool) -> Self {
        self.settings.html_429 = html;
        self
    }

    /// Calls `hook` with each distinct token that `/track` events carry and this server was
    /// not given (see [`token`](Self::token)). The server answers such events `1` and
    /// stores nothing, as Mixpanel does, so a mistyped token looks like success; the hook
    /// lets the embedder say so. Default none.
    ///
    /// The hook gets the token as sent, once per token (told apart by their first 64
    /// bytes) and for at most the first 1024 distinct tokens, so that made-up tokens
    /// cannot grow the server's memory. It runs on a server thread after the request is
    /// processed, outside any lock, before the answer is sent: keep it quick. The server
    /// itself never prints.
    pub fn on_unknown_token(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.settings.unknown_token_hook = Some(UnknownTokenHook::new(hook));
        self
    }

    /// The project token that `/track` events must carry to be stored, and that `/import`
    /// accepts as the Basic user. Default [`DEFAULT_TOKEN`](crate::DEFAULT_TOKEN).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.settings.project.token = token.into();
        self
    }

    /// The project secret `/import` accepts as the Basic user. Default
    /// [`DEFAULT_PROJECT_SECRET`](crate::DEFAULT_PROJECT_SECRET).
    pub fn project_secret(mut self, secret: Secret) -> Self {
        self.settings.project.secret = secret;
        self
    }

    /// The service accounts `/import` accepts, replacing the default one
    /// ([`ServiceAccount::default`]).
    pub fn service_accounts(mut self, accounts: impl IntoIterator<Item = ServiceAccount>) -> Self {
        self.settings.project.service_accounts = accounts.into_iter().collect();
        self
    }

    /// Binds the address and starts serving on a thread of its own, with its own tokio
    /// runtime, so that clients of any runtime (or none) can use it.
    pub fn start(self) -> Result<Server, StartError> {
        let token = Token::new(self.settings.project.token.as_str()).map_err(StartError::Token)?;
        let bind_error = |e: std::io::Error| StartError::Bind {
            addr: self.addr,
            message: e.to_string(),
        };
        // Binding here, before the thread starts, makes a taken port an error of `start`.
        let listener = StdListener::bind(self.addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("alias-server")
            .enable_all()
            .build()
            .map_err(|e| StartError::Runtime(e.to_string()))?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener).map_err(bind_error)?
        };
        let shared = Arc::new(Shared::new(
            self.settings,
            FaultDice::new(self.faults, self.seed),
        ));
        let (stop, stopped) = watch::channel(false);
        let loop_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("alias-server {addr}"))
            .spawn(move || runtime.block_on(accept_loop(listener, loop_shared, stopped)))
            .map_err(|e| StartError::Runtime(e.to_string()))?;
        tracing::info!(%addr, "alias-server listening");
        Ok(Server {
            url: format!("http://{addr}"),
            addr,
            token,
            shared,
            stop,
            thread: Some(thread),
        })
    }
}

/// A running server. Dropping it (or [`Server::shutdown`]) stops it and waits for its
/// thread.
///
/// Besides the HTTP inspection API, the handle reads the server's state directly.
pub struct Server {
    url: String,
    addr: SocketAddr,
    /// The project token, kept as a client sends it, for [`Server::config`].
    token: Token,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// A builder with every default.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Starts a server with every default.
    pub fn start() -> Result<Self, StartError> {
        ServerBuilder::default().start()
    }

    /// The base URL, e.g. `http://127.0.0.1:40213`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client configuration for this server's project: the server's address as the
    /// API host, its token, and [`RetryPolicy::fast`], so that a fault costs milliseconds
    /// of backoff instead of seconds. Every other setting is [`Config::new`]'s default
    /// (`/track`, strict, idempotent); [`config_builder`](Self::config_builder) changes
    /// them.
    ///
    /// ```
    /// use alias_server::{DEFAULT_TOKEN, Server};
    ///
    /// let server = Server::start()?;
    /// let config = server.config();
    /// assert_eq!(config.api_host().to_string(), server.url());
    /// assert_eq!(config.token().map(|token| token.expose()), Some(DEFAULT_TOKEN));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> Config {
        self.config_builder().build()
    }

    /// [`config`](Self::config) as a builder, to change what a test is about: `/import`
    /// with credentials this server takes, an association link for a server on
    /// [`IdentitySystem::Simplified`], a batch size, ...
    ///
    /// ```
    /// use alias_core::{Credentials, Endpoint};
    /// use alias_server::Server;
    ///
    /// let server = Server::start()?;
    /// let import = server
    ///     .config_builder()
    ///     .endpoint(Endpoint::Import(Credentials::ProjectToken))
    ///     .build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config_builder(&self) -> ConfigBuilder {
        Config::builder(self.token.clone())
            .api_host(self.api_host())
            .retry_policy(RetryPolicy::fast())
    }

    /// The server's base URL as a client on this machine reaches it.
    fn api_host(&self) -> ApiHost {
        let url = format!("http://{}", reachable(self.addr));
        // Plain http wherever it listens: the server is this machine's own, and the only
        // credentials a client sends it are the test project's. A bound address has a
        // host and a port from 1 up, so the URL always parses.
        ApiHost::insecure_http(&url)
            .unwrap_or_else(|error| unreachable!("the server's own URL {url}: {error}"))
    }

    /// The counters, as `GET /_inspect/stats` shows them.
    pub fn stats(&self) -> Stats {
        self.shared.state().store.stats
    }

    /// The stored events as Mixpanel's queries show them, as `GET /_inspect/events` lists
    /// them: one event per (event, time, distinct_id, `$insert_id`), with the latest
    /// copy's properties, in the order each first arrived (`docs/mixpanel-facts.md` §8).
    pub fn events(&self) -> Vec<Event> {
        self.page(View::Query, 0, usize::MAX)
    }

    /// Every copy of every stored event, in arrival order, as
    /// `GET /_inspect/events?view=raw` lists them.
    pub fn raw_events(&self) -> Vec<Event> {
        self.page(View::Raw, 0, usize::MAX)
    }

    /// `limit` events of the query view ([`events`](Self::events)) from position
    /// `offset`, as `GET /_inspect/events?offset=N&limit=N` lists them: for a large store,
    /// a page costs what it holds, where [`events`](Self::events) copies everything.
    pub fn events_page(&self, offset: usize, limit: usize) -> Vec<Event> {
        self.page(View::Query, offset, limit)
    }

    fn page(&self, view: View, offset: usize, limit: usize) -> Vec<Event> {
        let state = self.shared.state();
        let page = Page {
            offset,
            limit: Some(limit),
            view,
        };
        page.range(state.store.len(view))
            .filter_map(|position| state.store.get(view, position).cloned())
            .collect()
    }

    /// What the server knows about `id`, as `GET /_inspect/identity/{id}` shows it; `None`
    /// for an id no stored event mentioned.
    pub fn identity(&self, id: &str) -> Option<Identity> {
        self.shared.state().store.identity(id)
    }

    /// Clears events, identities and counters, restarts the fault sequence and empties the
    /// rate limit's window, as `POST /_inspect/reset` does.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting, lets requests in flight finish (for up to 2 s), and waits for the
    /// server's thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        // The loop may already be gone; then there is nobody to tell.
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the alias-server thread panicked");
            }
        }
    }
}

impl fmt::Debug for Server {
    /// The address only: the stored events can be many, and belong to `events()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Where a client on this machine reaches a server listening on `addr`: that address, or
/// loopback for one that listens on every interface (`0.0.0.0`, `::`), which is no
/// address to connect to.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let settings = &shared.settings;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_HEAD_BYTES);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let mut connections = JoinSet::new();
    loop {
        // Finished connections are reaped here, so the set holds live ones only.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset while queued: wait a
                    // little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, "too many connections; closing the new one");
            continue;
        };
        let shared = Arc::clone(&shared);
        let mut stopped = stopped.clone();
        let service = service_fn(move |request| serve(Arc::clone(&shared), request));
        let connection = http.serve_connection(TokioIo::new(stream), service);
        connections.spawn(async move {
            let mut connection = pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection closed");
            }
            drop(slot);
        });
    }
    // Requests in flight get a grace period; whatever remains is cut off when the set
    // drops.
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::debug!("connections still open at shutdown were closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_every_interface_is_reached_on_loopback() {
        let reached = |addr: &str| reachable(addr.parse().unwrap()).to_string();
        assert_eq!(reached("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(reached("[::]:8080"), "[::1]:8080");
        assert_eq!(reached("127.0.0.2:8080"), "127.0.0.2:8080");
        assert_eq!(reached("[::1]:8080"), "[::1]:8080");
    }
}
