//! The synchronous loop: the same [`Delivery`] as the async one, over a blocking HTTP client
//! and a fixed pool of worker threads, for code without an async runtime. Like the async
//! loop, it owns no policy: it hands the delivery what happens and does what it asks.
//!
//! The calling thread runs the delivery and waits on a channel; each worker thread (as
//! many as the requests allowed in flight, scoped to the call) sends one request at a time.
//! So a blocking HTTP client that refuses to run inside an async runtime (as
//! `reqwest::blocking` does) is safe to call from one: its requests go out on the workers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Wake, Waker};
use std::time::{Instant, SystemTime};

use futures_util::FutureExt;
use http::{Request, Response};

use crate::delivery::machine::{Delivery, Input, RequestId};
use crate::delivery::report::ReportEntry;
use crate::driver::http::{BlockingHttpClient, TransportLimits};
use crate::driver::trace;
use crate::error::TransportError;
use crate::wire::create_alias::CreateAlias;

/// A request for a worker to send.
type Job = (RequestId, Request<Vec<u8>>);

/// What the driving thread waits for.
enum Event {
    Answered(RequestId, Result<Response<Vec<u8>>, TransportError>),
    /// The stop signal fired.
    Stop,
}

/// Turns the stop signal's wake-up into an [`Event::Stop`] on the driving thread's channel.
struct StopWaker(Mutex<Sender<Event>>);

impl Wake for StopWaker {
    fn wake(self: Arc<Self>) {
        // The driver may be gone already; then nobody waits for it.
        let _ = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(Event::Stop);
    }
}

/// Runs `delivery` until every alias from `input` (and any given before) has its outcome,
/// or until `stop` completes and the requests in flight are answered, handing each
/// finished entry to `on_finished` in input order.
///
/// Requests go out over `http` from as many worker threads as the configuration allows
/// requests in flight; `limits` are `http`'s to apply. Input is pulled on the calling
/// thread, only while the delivery wants it, so memory stays bounded whatever the length
/// of `input`.
pub fn drive_blocking<H: BlockingHttpClient>(
    delivery: &mut Delivery,
    http: &H,
    limits: &TransportLimits,
    input: impl IntoIterator<Item = CreateAlias>,
    stop: impl Future<Output = ()>,
    mut on_finished: impl FnMut(ReportEntry),
) {
    let workers = delivery.config().concurrency();
    let (events, answers) = mpsc::channel();
    let (jobs, queue) = mpsc::channel();
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let events = events.clone();
            let queue = &queue;
            scope.spawn(move || work(http, limits, queue, &events));
        }
        let waker = Waker::from(Arc::new(StopWaker(Mutex::new(events))));
        let mut stop = pin!(stop.fuse());
        let mut input = input.into_iter();
        // Each request's `attempt` span, opened here on the caller's thread (whose tracing
        // subscriber sees it) and entered again for its answer.
        let mut in_flight: HashMap<RequestId, tracing::Span> = HashMap::new();
        loop {
            if stop
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
            {
                delivery.stop();
            }
            while let Some(outgoing) = delivery.poll_transmit(Instant::now()) {
                in_flight.insert(outgoing.id, trace::attempt_span(&outgoing));
                // The workers live until `jobs` is dropped, after this loop.
                let _ = jobs.send((outgoing.id, outgoing.request));
            }
            while let Some(entry) = delivery.poll_finished() {
                on_finished(entry);
            }
            if delivery.is_done() {
                break;
            }
            if delivery.wants_input() {
                // A blocking input is never idle: reading it waits for the next alias.
                let next = match input.next() {
                    Some(alias) => Input::Alias(alias, SystemTime::now()),
                    None => Input::Ended,
                };
                delivery.handle_input(next, Instant::now());
                continue;
            }
            match wait(&answers, delivery.poll_timeout()) {
                Some(Event::Answered(id, answer)) => {
                    let span = in_flight.remove(&id).unwrap_or_else(tracing::Span::none);
                    span.in_scope(|| trace::answer(&answer));
                    delivery.handle_answer(id, answer, Instant::now());
                }
                // The stop is read at the top of the loop; its event only ends the wait.
                Some(Event::Stop) | None => {}
            }
        }
        drop(jobs);
    });
}

/// The next event, or `None` once `deadline` has passed.
fn wait(answers: &Receiver<Event>, deadline: Option<Instant>) -> Option<Event> {
    match deadline {
        None => answers.recv().ok(),
        Some(at) => answers
            .recv_timeout(at.saturating_duration_since(Instant::now()))
            .ok(),
    }
}

/// A worker: sends the requests it takes from `queue` until the queue closes.
fn work<H: BlockingHttpClient>(
    http: &H,
    limits: &TransportLimits,
    queue: &Mutex<Receiver<Job>>,
    events: &Sender<Event>,
) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((id, request)) = job else {
            return;
        };
        let result = http.send(request, limits);
        if events.send(Event::Answered(id, result)).is_err() {
            return;
        }
    }
}
