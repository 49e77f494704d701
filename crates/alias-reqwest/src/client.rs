//! The async client: [`AliasClient`] over reqwest, sleeping on tokio's timer.

use std::time::Instant;

use alias_core::{
    AliasClient, Async, DefaultHttpClient, HttpClient, Timer, TransportError, TransportLimits,
};
use http::{Request, Response};

use crate::Error;
use crate::transport::send_async;

/// Delivers `$create_alias` calls over a [`reqwest::Client`], in a tokio runtime: alias-core's
/// [`AliasClient`], whose docs show every method (`new`, `with_http_client`, `builder`,
/// `send`, `send_stream`, `send_stream_until`, `create_alias`) at work.
///
/// Cheap to clone: clones share the HTTP client. Several batches are in flight at once, up
/// to [`Config::concurrency`](alias_core::Config::concurrency).
///
/// Over a reqwest client of your own (its pool, proxy and TLS settings), built to follow
/// no redirect as the clients this crate builds do; the request timeout and the answer cap
/// of [`TransportLimits`] still bound each request:
///
/// ```
/// use alias_reqwest::{Client, Config, Token};
///
/// let http = reqwest::Client::builder()
///     .redirect(reqwest::redirect::Policy::none())
///     .build()?;
/// let client = Client::with_http_client(Config::new(Token::new("YOUR_PROJECT_TOKEN")?), http);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Client = AliasClient<ReqwestClient, TokioTimer>;

/// Builds a [`Client`] with chosen [`TransportLimits`] and, optionally, your
/// [`reqwest::Client`].
pub type ClientBuilder = alias_core::ClientBuilder<ReqwestClient, Async<TokioTimer>>;

/// A [`reqwest::Client`] as the HTTP client of a [`Client`]. Made from yours with `into()`,
/// so `Client::with_http_client(config, reqwest_client)` takes it as it is.
#[derive(Debug, Clone)]
pub struct ReqwestClient(reqwest::Client);

impl From<reqwest::Client> for ReqwestClient {
    fn from(http: reqwest::Client) -> Self {
        Self(http)
    }
}

impl HttpClient for ReqwestClient {
    async fn send(
        &self,
        request: Request<Vec<u8>>,
        limits: &TransportLimits,
    ) -> Result<Response<Vec<u8>>, TransportError> {
        send_async(&self.0, request, limits).await
    }
}

impl DefaultHttpClient for ReqwestClient {
    type Error = Error;

    fn build(limits: &TransportLimits) -> Result<Self, Error> {
        reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(Self)
            .map_err(Error::Build)
    }
}

/// tokio's timer: the [`Timer`] of this crate's async client, and of any
/// [`AliasClient`] on tokio (one over an HTTP client of your own, a closure for example).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    async fn sleep_until(&self, deadline: Instant) {
        tokio::time::sleep_until(deadline.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use alias_core::{Alias, AliasError, Config, DistinctId, Token};

    use super::*;

    fn config() -> Config {
        Config::new(Token::new("tok").unwrap())
    }

    #[test]
    fn send_futures_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let client = Client::new(config()).unwrap();
        let send = client.send(Vec::new());
        assert_send(&send);
        let one = client.create_alias(
            DistinctId::new("anon-1").unwrap(),
            Alias::new("user-1").unwrap(),
        );
        assert_send(&one);
    }

    #[test]
    fn builder_keeps_the_limits() {
        let limits = TransportLimits::default().max_response_bytes(10);
        let client = Client::builder(config()).limits(limits).build().unwrap();
        assert_eq!(client.limits(), limits);
        assert_eq!(
            Client::with_http_client(config(), reqwest::Client::new()).limits(),
            TransportLimits::default()
        );
    }

    #[tokio::test]
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
