//! The async client: [`AliasClient`] over reqwest, sleeping on tokio's timer.

use std::time::Instant;

use alias_core::{
    AliasClient, driver::Async, driver::DefaultHttpClient, driver::HttpClient, driver::Timer,
    driver::TransportError, driver::TransportLimits,
};
use http::{Request, Response};

use crate::Error;
use crate::transport::{assemble, classify};

/// alias-core's [`AliasClient`] over a [`reqwest::Client`], on tokio. Clones share the
/// connection pool.
///
/// Its methods are [`AliasClient`]'s (a type alias shows none of its own):
/// [`new`](AliasClient::new), [`with_http_client`](AliasClient::with_http_client),
/// [`builder`](AliasClient::builder), [`create_alias`](AliasClient::create_alias),
/// [`send`](AliasClient::send), [`send_stream`](AliasClient::send_stream),
/// [`send_stream_until`](AliasClient::send_stream_until), [`config`](AliasClient::config)
/// and [`limits`](AliasClient::limits).
///
/// Your own reqwest client (its pool, proxy and TLS settings) goes in as it is; build it to
/// follow no redirect, as the clients this crate builds do. The request timeout and the
/// answer cap of [`TransportLimits`] bound each request either way:
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

/// The builder of a [`Client`]: limits, your reqwest client, a fixed jitter seed.
pub type ClientBuilder = alias_core::driver::ClientBuilder<ReqwestClient, Async<TokioTimer>>;

/// The [`HttpClient`] of a [`Client`]: a [`reqwest::Client`], taken from yours by `into()`.
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
        let mut request = reqwest::Request::try_from(request).map_err(|e| classify(&e))?;
        // The driver's timer ends the request at this moment anyway, whatever client the
        // caller built; reqwest's own timeout, when it fires first, names itself.
        *request.timeout_mut() = Some(limits.request_timeout);
        let mut response = self.0.execute(request).await.map_err(|e| classify(&e))?;
        let status = response.status();
        limits.check_body_length(status, response.content_length())?;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| classify(&e).after_status(status))?
        {
            limits.check_body_length(status, Some((body.len() + chunk.len()) as u64))?;
            body.extend_from_slice(&chunk);
        }
        let headers = std::mem::take(response.headers_mut());
        Ok(assemble(
            response.status(),
            response.version(),
            headers,
            body,
        ))
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
    use alias_core::{Alias, Config, DistinctId, Token, delivery::AliasError};

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
