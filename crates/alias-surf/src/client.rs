//! The client: [`AliasClient`] over surf, sleeping on a runtime-neutral timer.

use std::time::Instant;

use alias_core::{
    AliasClient, driver::Async, driver::DefaultHttpClient, driver::HttpClient, driver::Timer,
    driver::TransportError, driver::TransportLimits,
};
use futures_util::AsyncReadExt;
use http::{Request, Response};

use crate::Error;
use crate::transport::{classify, head_from_surf, to_surf};

/// Delivers `$create_alias` calls over a [`surf::Client`], on whatever runtime surf's
/// backend runs on: alias-core's [`AliasClient`], whose methods are this client's (a type
/// alias shows none of its own): [`new`](AliasClient::new),
/// [`with_http_client`](AliasClient::with_http_client), [`builder`](AliasClient::builder),
/// [`create_alias`](AliasClient::create_alias), [`send`](AliasClient::send),
/// [`send_stream`](AliasClient::send_stream) and
/// [`send_stream_until`](AliasClient::send_stream_until).
///
/// surf's backends have no connect-only timeout, so [`TransportLimits::connect_timeout`] is
/// not applied: connecting counts against the request timeout. A surf client of your own
/// needs no `Redirect` middleware (following a redirect could carry credentials to another
/// host) and, with async-h1, no keep-alive: its pool would lend a connection whose exchange
/// timed out to the next request, which would then read the late answer as its own.
///
/// ```
/// use alias_surf::{Client, Config, Token};
///
/// let http: surf::Client = surf::Config::new().set_http_keep_alive(false).try_into()?;
/// let client = Client::with_http_client(Config::new(Token::new("YOUR_PROJECT_TOKEN")?), http);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Client = AliasClient<SurfClient, FuturesTimer>;

/// Chooses the [`TransportLimits`] of a [`Client`], its surf client, and its jitter seed.
pub type ClientBuilder = alias_core::driver::ClientBuilder<SurfClient, Async<FuturesTimer>>;

/// A [`surf::Client`] wrapped to carry a [`Client`]'s requests; `From` takes yours.
#[derive(Debug, Clone)]
pub struct SurfClient(surf::Client);

impl From<surf::Client> for SurfClient {
    fn from(http: surf::Client) -> Self {
        Self(http)
    }
}

impl HttpClient for SurfClient {
    async fn send(
        &self,
        request: Request<Vec<u8>>,
        limits: &TransportLimits,
    ) -> Result<Response<Vec<u8>>, TransportError> {
        let request = to_surf(request)?;
        let mut answer = self
            .0
            .send(request)
            .await
            .map_err(|e| classify(e.as_ref()))?;
        let mut response = head_from_surf(&answer)?;
        let status = response.status();
        limits.check_body_length(status, answer.len().map(|len| len as u64))?;
        let mut body = Vec::new();
        answer
            .take_body()
            .take(limits.body_read_limit())
            .read_to_end(&mut body)
            .await
            .map_err(|e| classify(&e).after_status(status))?;
        limits.check_body_length(status, Some(body.len() as u64))?;
        *response.body_mut() = body;
        Ok(response)
    }
}

impl DefaultHttpClient for SurfClient {
    type Error = Error;

    fn build(limits: &TransportLimits) -> Result<Self, Error> {
        // The backend's own timeout (async-h1: the wait for the answer's head; curl: the
        // whole exchange) is set to the request timeout, which the client enforces anyway.
        // No keep-alive: async-h1's pool takes back a connection whose exchange was given
        // up (a timeout, a capped body) and lends it to the next request, which then reads
        // the late answer of the one before as its own. No middleware: no redirects.
        surf::Client::try_from(
            surf::Config::new()
                .set_timeout(Some(limits.request_timeout))
                .set_http_keep_alive(false),
        )
        .map(Self)
        .map_err(|e| Error(e.to_string()))
    }
}

/// A timer that needs no particular runtime (futures-timer): the [`Timer`] of this crate's
/// client.
#[derive(Debug, Clone, Copy, Default)]
pub struct FuturesTimer;

impl Timer for FuturesTimer {
    async fn sleep_until(&self, deadline: Instant) {
        futures_timer::Delay::new(deadline.saturating_duration_since(Instant::now())).await;
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
        assert_send(&client.send(Vec::new()));
        assert_send(&client.create_alias(
            DistinctId::new("anon-1").unwrap(),
            Alias::new("user-1").unwrap(),
        ));
    }

    #[async_std::test]
    async fn the_timer_sleeps_until_the_deadline() {
        let deadline = Instant::now() + std::time::Duration::from_millis(20);
        FuturesTimer.sleep_until(deadline).await;
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
