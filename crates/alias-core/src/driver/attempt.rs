//! One request of the async loop: sent over the adapter's client in a tracing span of its
//! own, and cut off at the request timeout on the adapter's timer, whatever the client
//! does (some have no timeout, and none shares the delivery's clock).

use std::future::Future;
use std::pin::pin;

use futures_util::future::{Either, select};
use http::Response;
use tracing::Instrument;

use crate::delivery::machine::{Outgoing, RequestId};
use crate::driver::http::{HttpClient, Timer, TransportLimits};
use crate::driver::trace;
use crate::error::{TransportError, TransportErrorKind};

/// Sends one request, in a tracing span that names its batch and attempt, and gives up on
/// it at the request timeout.
pub(crate) fn attempt<H: HttpClient, T: Timer>(
    http: &H,
    limits: &TransportLimits,
    timer: &T,
    outgoing: Outgoing,
) -> impl Future<Output = (RequestId, Result<Response<Vec<u8>>, TransportError>)> {
    let span = trace::attempt_span(&outgoing);
    let id = outgoing.id;
    let timeout = limits.request_timeout;
    let sending = http.send(outgoing.request, limits);
    let deadline = timer.sleep_until(timer.now() + timeout);
    async move {
        let result = match select(pin!(sending), pin!(deadline)).await {
            Either::Left((result, _)) => result,
            Either::Right(((), _)) => Err(TransportError::new(
                TransportErrorKind::Timeout,
                format!("no whole answer within the request timeout of {timeout:?}"),
            )),
        };
        trace::answer(&result);
        (id, result)
    }
    .instrument(span)
}
