//! One async loop that runs a [`Delivery`] over any HTTP client and any runtime.
//!
//! The loop owns no I/O: the adapter supplies the [`Transport`] (send one request) and the
//! [`Clock`] (read the time, sleep until a deadline). Both adapters drive deliveries with
//! this one loop, so retries, backoff, splitting and concurrency cannot drift apart.

use std::future::Future;
use std::time::{Instant, SystemTime};

use futures_util::future::{Either, select};
use futures_util::stream::{FuturesUnordered, StreamExt};
use http::{Request, Response};
use tracing::Instrument;

use crate::create_alias::CreateAlias;
use crate::delivery::{Action, Delivery};
use crate::error::TransportError;
use crate::report::ReportEntry;

/// Sends one request and reads its whole answer.
pub trait Transport {
    /// Sends `request`. A failure below HTTP (connect, timeout, reset, an over-long body)
    /// is a [`TransportError`]; every HTTP answer, whatever its status, is `Ok`.
    fn send(
        &self,
        request: Request<Vec<u8>>,
    ) -> impl Future<Output = Result<Response<Vec<u8>>, TransportError>>;
}

/// The runtime's clocks and timer.
pub trait Clock {
    /// The monotonic time now.
    fn now(&self) -> Instant;
    /// The wall-clock time now, to stamp event times.
    fn wall_now(&self) -> SystemTime;
    /// Completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;
}

/// Runs `delivery` until every alias from `input` (and any added before) has its outcome,
/// handing each finished entry to `on_finished` in input order.
///
/// Input is pulled only while no batch is waiting to be sent, so memory stays bounded by
/// the requests in flight and their retries, whatever the length of `input`. The
/// delivery is closed once `input` ends.
pub async fn drive<T: Transport, C: Clock>(
    delivery: &mut Delivery,
    transport: &T,
    clock: &C,
    input: impl IntoIterator<Item = CreateAlias>,
    mut on_finished: impl FnMut(ReportEntry),
) {
    let mut input = input.into_iter();
    let mut input_open = true;
    let max_held = delivery.config().max_in_flight().saturating_add(2)
        * delivery.config().limits().max_events.max(1)
        * 4;
    let mut in_flight = FuturesUnordered::new();
    loop {
        while input_open && delivery.queued_batches() == 0 && delivery.held() < max_held {
            match input.next() {
                Some(alias) => {
                    delivery.add_at(alias, clock.wall_now());
                }
                None => {
                    delivery.close();
                    input_open = false;
                }
            }
        }
        if input_open && delivery.queued_batches() == 0 && in_flight.is_empty() {
            // Held aliases wait on retries only; let the partial batch go meanwhile.
            delivery.flush();
        }
        for entry in delivery.take_finished() {
            on_finished(entry);
        }
        let deadline = match delivery.poll(clock.now()) {
            Action::Send(outgoing) => {
                let span = tracing::debug_span!(
                    "attempt",
                    batch = outgoing.batch,
                    attempt = outgoing.attempt,
                    aliases = outgoing.aliases,
                );
                let id = outgoing.id;
                let sending = transport.send(outgoing.request);
                in_flight.push(
                    async move {
                        let result = sending.await;
                        match &result {
                            Ok(response) => {
                                tracing::debug!(status = response.status().as_u16(), "answered")
                            }
                            Err(error) => tracing::debug!(%error, "transport failed"),
                        }
                        (id, result)
                    }
                    .instrument(span),
                );
                continue;
            }
            Action::Done => break,
            Action::Wait(deadline) => deadline,
        };
        let finished = match (deadline, in_flight.is_empty()) {
            (None, true) => continue,
            (None, false) => in_flight.next().await,
            (Some(at), true) => {
                clock.sleep_until(at).await;
                None
            }
            (Some(at), false) => {
                match select(in_flight.next(), std::pin::pin!(clock.sleep_until(at))).await {
                    Either::Left((finished, _)) => finished,
                    Either::Right(((), _)) => None,
                }
            }
        };
        if let Some((id, result)) = finished {
            match result {
                Ok(response) => delivery.on_response(id, &response, clock.now()),
                Err(error) => delivery.on_transport_error(id, error, clock.now()),
            }
        }
    }
    for entry in delivery.take_finished() {
        on_finished(entry);
    }
}
