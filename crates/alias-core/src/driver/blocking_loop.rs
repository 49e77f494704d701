//! The synchronous loop: the same [`Delivery`] as the async one, over a blocking HTTP client
//! and a fixed pool of worker threads, for code without an async runtime.
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
use std::time::Instant;

use http::{Request, Response};

use crate::delivery::machine::{Action, Delivery, RequestId};
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

/// Runs `delivery` until every alias from `input` (and any added before) has its outcome,
/// or until `stop` completes and the requests in flight are answered, handing each
/// finished entry to `on_finished` in input order.
///
/// Requests go out over `http` from as many worker threads as the configuration allows
/// requests in flight; `limits` are `http`'s to apply. Input is pulled on the calling
/// thread, only while no batch is waiting to be sent, so memory stays bounded whatever the
/// length of `input`; the delivery is closed once it ends.
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
        let mut stop = pin!(stop);
        let mut input = input.into_iter();
        // Each request's `attempt` span, opened here on the caller's thread (whose tracing
        // subscriber sees it) and entered again for its answer.
        let mut in_flight: HashMap<RequestId, tracing::Span> = HashMap::new();
        loop {
            for entry in delivery.take_finished() {
                on_finished(entry);
            }
            if !delivery.is_stopped()
                && stop
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready()
            {
                delivery.stop();
            }
            let deadline = match delivery.poll(Instant::now()) {
                Action::Send(outgoing) => {
                    in_flight.insert(outgoing.id, trace::attempt_span(&outgoing));
                    // The workers live until `jobs` is dropped, after this loop.
                    let _ = jobs.send((outgoing.id, outgoing.request));
                    continue;
                }
                Action::Done => break,
                Action::Wait(deadline) => deadline,
            };
            if delivery.flush_if_stalled() {
                continue;
            }
            if delivery.wants_input() {
                match input.next() {
                    Some(alias) => {
                        delivery.add_at(alias, std::time::SystemTime::now());
                    }
                    None => delivery.close(),
                }
                continue;
            }
            match wait(&answers, deadline) {
                Some(Event::Answered(id, result)) => {
                    let span = in_flight.remove(&id).unwrap_or_else(tracing::Span::none);
                    span.in_scope(|| trace::answer(&result));
                    match result {
                        Ok(response) => delivery.on_response(id, &response, Instant::now()),
                        Err(error) => delivery.on_transport_error(id, error, Instant::now()),
                    }
                }
                Some(Event::Stop) => delivery.stop(),
                None => {}
            }
        }
        for entry in delivery.take_finished() {
            on_finished(entry);
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
