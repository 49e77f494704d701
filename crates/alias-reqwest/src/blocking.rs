//! A blocking client, for code without an async runtime (feature `blocking`).
//!
//! It is alias-core's [`BlockingClient`] over [`reqwest::blocking::Client`]: the same
//! delivery as the async client (retries, backoff, `Retry-After`, pacing, 413 splits,
//! budgets), run by a synchronous loop on the calling thread, with each request sent from
//! a worker thread (as many as [`Config::concurrency`](alias_core::Config::concurrency)).
//!
//! # Inside a tokio runtime
//!
//! `reqwest::blocking` panics when used from a thread that runs a tokio runtime. This client
//! never uses it from the calling thread: the reqwest client is built, and every request is
//! sent, on threads that belong to no runtime. Calling it from async code therefore works,
//! but blocks that runtime thread until the delivery ends; in async code, prefer
//! [`crate::Client`], or call this one through `tokio::task::spawn_blocking`.

use std::io::Read;
use std::thread;

use alias_core::{
    BlockingClient, driver::Blocking, driver::BlockingHttpClient, driver::DefaultHttpClient,
};
use alias_core::{driver::TransportError, driver::TransportLimits};
use http::Response;

use crate::Error;
use crate::transport::{assemble, classify};

/// Delivers `$create_alias` calls over a [`reqwest::blocking::Client`]: alias-core's
/// [`BlockingClient`], whose page lists the methods (a type alias shows none of its own):
/// [`new`](BlockingClient::new), [`with_http_client`](BlockingClient::with_http_client),
/// [`builder`](BlockingClient::builder), [`create_alias`](BlockingClient::create_alias),
/// [`send`](BlockingClient::send), [`send_stream`](BlockingClient::send_stream) and
/// [`send_stream_until`](BlockingClient::send_stream_until), as [`crate::Client`] has them,
/// without `async`.
///
/// Cheap to clone: clones share the connection pool.
///
/// ```no_run
/// use alias_reqwest::blocking::Client;
/// use alias_reqwest::{Alias, Config, DistinctId, Token};
///
/// let client = Client::new(Config::new(Token::new("YOUR_PROJECT_TOKEN")?))?;
/// client.create_alias(DistinctId::new("anon-123")?, Alias::new("user@example.com")?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With chosen limits, or over your own client (built with
/// `.redirect(reqwest::redirect::Policy::none())`):
///
/// ```
/// use std::time::Duration;
/// use alias_reqwest::blocking::Client;
/// use alias_reqwest::{Config, Token, TransportLimits};
///
/// let config = Config::new(Token::new("YOUR_PROJECT_TOKEN")?);
/// let client = Client::builder(config.clone())
///     .limits(TransportLimits::default().connect_timeout(Duration::from_secs(3)))
///     .build()?;
/// let http = reqwest::blocking::Client::builder()
///     .redirect(reqwest::redirect::Policy::none())
///     .build()?;
/// let yours = Client::with_http_client(config, http);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Client = BlockingClient<ReqwestBlockingClient>;

/// Builds a blocking [`Client`] with chosen [`TransportLimits`] and, optionally, your
/// blocking reqwest client.
pub type ClientBuilder = alias_core::driver::ClientBuilder<ReqwestBlockingClient, Blocking>;

/// A [`reqwest::blocking::Client`] as the HTTP client of a blocking [`Client`]. Made from
/// yours with `into()`.
#[derive(Debug, Clone)]
pub struct ReqwestBlockingClient(reqwest::blocking::Client);

impl From<reqwest::blocking::Client> for ReqwestBlockingClient {
    fn from(http: reqwest::blocking::Client) -> Self {
        Self(http)
    }
}

impl BlockingHttpClient for ReqwestBlockingClient {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        limits: &TransportLimits,
    ) -> Result<Response<Vec<u8>>, TransportError> {
        let mut request =
            reqwest::blocking::Request::try_from(request).map_err(|e| classify(&e))?;
        // Set on each request, so that it also bounds a client the caller built.
        *request.timeout_mut() = Some(limits.request_timeout);
        let mut response = self.0.execute(request).map_err(|e| classify(&e))?;
        let status = response.status();
        limits.check_body_length(status, response.content_length())?;
        let mut body = Vec::new();
        (&mut response)
            .take(limits.body_read_limit())
            .read_to_end(&mut body)
            .map_err(|e| classify(&e).after_status(status))?;
        limits.check_body_length(status, Some(body.len() as u64))?;
        let headers = std::mem::take(response.headers_mut());
        Ok(assemble(status, response.version(), headers, body))
    }
}

impl DefaultHttpClient for ReqwestBlockingClient {
    type Error = Error;

    fn build(limits: &TransportLimits) -> Result<Self, Error> {
        let builder = reqwest::blocking::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .redirect(reqwest::redirect::Policy::none());
        // Built off the calling thread, which may be running a tokio runtime.
        thread::Builder::new()
            .name("alias-reqwest-build".to_owned())
            .spawn(move || builder.build())
            .map_err(Error::Thread)?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            .map(Self)
            .map_err(Error::Build)
    }
}

#[cfg(test)]
mod tests {
    use alias_core::{Alias, Config, DistinctId, Token, delivery::AliasError};

    use super::*;

    fn config() -> Config {
        Config::new(Token::new("tok").unwrap())
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
