//! One async loop that runs a [`Delivery`] over any HTTP client and any runtime.
//!
//! The loop owns no I/O: the adapter supplies the [`HttpClient`] (send one request) and
//! the [`Timer`] (sleep until a deadline). Nor does it own any policy: it hands the delivery
//! what happens (input, answers, the stop, the time) and does what the delivery asks.
//! Every async client drives its deliveries with this one loop.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

use futures_util::future::FutureExt;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};

use crate::delivery::machine::{Delivery, Input};
use crate::delivery::report::ReportEntry;
use crate::driver::attempt::attempt;
use crate::driver::http::{HttpClient, Timer, TransportLimits};
use crate::wire::create_alias::CreateAlias;

/// What the loop woke up for.
enum Wake<A> {
    Answered(A),
    Input(Input),
    Stop,
    Timer,
}

/// Runs `delivery` until every alias from `input` (and any given before) has its outcome,
/// handing each finished entry to `on_finished` in input order, or until `stop` completes
/// and the requests in flight are answered.
///
/// Input is pulled only while the delivery wants it, so memory stays bounded whatever the
/// length of `input`; an input that is slow to yield never holds the loop up (answers,
/// timers and the stop are served meanwhile), and a partly filled batch waits for it at
/// most [`Config::linger`](crate::Config::linger) when nothing else is under way. Each request is sent over
/// `http` under `limits`, and cut off at `limits.request_timeout` on `timer` whatever
/// `http` does.
pub async fn drive<H: HttpClient, T: Timer>(
    delivery: &mut Delivery,
    http: &H,
    limits: &TransportLimits,
    timer: &T,
    input: impl Stream<Item = CreateAlias>,
    stop: impl Future<Output = ()>,
    mut on_finished: impl FnMut(ReportEntry),
) {
    let mut input = pin!(input);
    // Fused: once it has fired, it is not polled again.
    let mut stop = pin!(stop.fuse());
    let mut in_flight = FuturesUnordered::new();
    let mut wakeup = None;
    // The input's being idle is told once after each other wake-up, so that a pending
    // input does not spin the loop.
    let mut idle_told = false;
    loop {
        while let Some(outgoing) = delivery.poll_transmit(timer.now()) {
            in_flight.push(attempt(http, limits, timer, outgoing));
        }
        while let Some(entry) = delivery.poll_finished() {
            on_finished(entry);
        }
        if delivery.is_done() {
            break;
        }
        match delivery.poll_timeout() {
            // The same deadline keeps its timer: input arrives many times between two.
            Some(at) if wakeup.as_ref().is_some_and(|(set, _)| *set == at) => {}
            Some(at) => wakeup = Some((at, Box::pin(timer.sleep_until(at)))),
            None => wakeup = None,
        }
        let wants_input = delivery.wants_input();
        let wake = poll_fn(|cx| {
            if let Poll::Ready(Some(answered)) = in_flight.poll_next_unpin(cx) {
                return Poll::Ready(Wake::Answered(answered));
            }
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Stop);
            }
            if wants_input {
                let read = match input.as_mut().poll_next(cx) {
                    Poll::Ready(Some(alias)) => Some(Input::Alias(alias, timer.wall_now())),
                    Poll::Ready(None) => Some(Input::Ended),
                    Poll::Pending => (!idle_told).then_some(Input::Idle),
                };
                if let Some(read) = read {
                    return Poll::Ready(Wake::Input(read));
                }
            }
            if let Some((_, sleep)) = wakeup.as_mut() {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Timer);
                }
            }
            Poll::Pending
        })
        .await;
        let now = timer.now();
        idle_told = matches!(wake, Wake::Input(Input::Idle));
        match wake {
            Wake::Answered((id, answer)) => delivery.handle_answer(id, answer, now),
            Wake::Input(input) => {
                delivery.handle_input(input, now);
                if idle_told {
                    yield_now().await;
                }
            }
            Wake::Stop => delivery.stop(),
            Wake::Timer => wakeup = None,
        }
    }
}

/// Returns to the executor once. An input with nothing ready is often waiting on work of
/// the same task (the CLI handles the events its input puts on a queue once the delivery
/// returns): that work runs before the input is asked again.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::future::pending;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use std::time::{Duration, Instant, SystemTime};

    use http::{Request, Response};

    use super::*;
    use crate::delivery::report::{AliasOutcome, DeliveryError, DeliveryStats};
    use crate::error::{TransportError, TransportErrorKind};
    use crate::wire::config::{Config, RetryPolicy};
    use crate::wire::secret::Token;

    /// Answers from a script, one per request, and counts the requests.
    struct Scripted(RefCell<VecDeque<Result<Response<Vec<u8>>, TransportError>>>);

    impl HttpClient for Scripted {
        async fn send(
            &self,
            _request: Request<Vec<u8>>,
            _limits: &TransportLimits,
        ) -> Result<Response<Vec<u8>>, TransportError> {
            self.0
                .borrow_mut()
                .pop_front()
                .expect("the script has an answer for every request")
        }
    }

    /// A clock whose sleeps end at once, moving its time to the deadline.
    struct Instantaneous(Cell<Instant>);

    impl Timer for Instantaneous {
        fn now(&self) -> Instant {
            self.0.get()
        }
        fn wall_now(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
        }
        async fn sleep_until(&self, deadline: Instant) {
            self.0.set(self.0.get().max(deadline));
        }
    }

    /// Polls a future whose every step is ready until it ends.
    fn run<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }

    fn answer(status: u16, body: &str) -> Result<Response<Vec<u8>>, TransportError> {
        Ok(Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap())
    }

    #[test]
    fn drive_retries_and_reports_every_alias_in_order_with_counters() {
        let config = Config::builder(Token::new("tok").unwrap())
            .retry_policy(RetryPolicy::fast())
            .build();
        let transport = Scripted(RefCell::new(VecDeque::from([
            answer(503, "busy"),
            Err(TransportError::new(TransportErrorKind::Closed, "reset")),
            answer(200, r#"{"status":1,"error":null}"#),
        ])));
        let start = Instant::now();
        let clock = Instantaneous(Cell::new(start));
        let input =
            ["a", "b", "c"].map(|id| CreateAlias::from_ids(id, &format!("{id}-user")).unwrap());
        let mut seen = Vec::new();
        let input = futures_util::stream::iter(input);
        let mut delivery = Delivery::new(config, clock.now(), clock.wall_now(), 1);
        run(drive(
            &mut delivery,
            &transport,
            &TransportLimits::default(),
            &clock,
            input,
            pending(),
            |entry| {
                seen.push((
                    entry.position,
                    entry.alias.distinct_id().to_string(),
                    entry.outcome,
                ));
            },
        ));
        assert_eq!(
            delivery.stats(),
            DeliveryStats {
                requests: 3,
                retries: 2,
                splits: 0,
                rate_limited: 0,
            }
        );
        assert!(
            transport.0.borrow().is_empty(),
            "every scripted answer was used"
        );
        let positions: Vec<_> = seen.iter().map(|(p, id, _)| (*p, id.as_str())).collect();
        assert_eq!(positions, [(0, "a"), (1, "b"), (2, "c")]);
        assert!(
            seen.iter().all(|(_, _, outcome)| outcome.is_accepted()),
            "{seen:?}"
        );
        // Two backoffs of the fast policy were slept through: at least 2 ms + 4 ms.
        assert!(clock.now() - start >= Duration::from_millis(6));
    }

    /// A clock whose sleeps never end: only an answer, input or the stop can move on.
    struct Frozen(Instant);

    impl Timer for Frozen {
        fn now(&self) -> Instant {
            self.0
        }
        fn wall_now(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
        }
        async fn sleep_until(&self, _deadline: Instant) {
            pending::<()>().await;
        }
    }

    #[test]
    fn a_stop_cuts_a_long_backoff_short_and_hands_the_batch_back() {
        let config = Config::new(Token::new("tok").unwrap());
        let transport = Scripted(RefCell::new(VecDeque::from([answer(503, "busy")])));
        let clock = Frozen(Instant::now());
        let (stopper, stop) = crate::driver::stop::stop_signal();
        let input = futures_util::stream::iter(
            ["a", "b"].map(|id| CreateAlias::from_ids(id, &format!("{id}-user")).unwrap()),
        );
        let outcomes = RefCell::new(Vec::new());
        let mut delivery = Delivery::new(config, clock.now(), clock.wall_now(), 7);
        let limits = TransportLimits::default();
        let mut driving = pin!(drive(
            &mut delivery,
            &transport,
            &limits,
            &clock,
            input,
            stop,
            |e| { outcomes.borrow_mut().push(e.outcome) }
        ));
        let mut cx = Context::from_waker(Waker::noop());
        // The 503 schedules a retry seconds away, on a clock that never gets there.
        for _ in 0..10 {
            assert!(driving.as_mut().poll(&mut cx).is_pending());
        }
        stopper.stop();
        assert!(
            driving.as_mut().poll(&mut cx).is_ready(),
            "ended by the stop"
        );
        assert!(transport.0.borrow().is_empty(), "sent once, never retried");
        assert_eq!(
            *outcomes.borrow(),
            vec![
                AliasOutcome::Undelivered(crate::delivery::report::Undelivered {
                    attempts: 1,
                    last_error: DeliveryError::Abandoned,
                });
                2
            ]
        );
    }

    #[test]
    fn a_partial_batch_goes_out_while_the_input_is_slow_to_yield() {
        let config = Config::new(Token::new("tok").unwrap());
        let transport = Scripted(RefCell::new(VecDeque::from([answer(
            200,
            r#"{"status":1,"error":null}"#,
        )])));
        let clock = Instantaneous(Cell::new(Instant::now()));
        // One alias, then an input that has nothing more yet and never ends.
        let first = CreateAlias::from_ids("anon-1", "user-1").unwrap();
        let input = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
        let outcomes = RefCell::new(Vec::new());
        let mut delivery = Delivery::new(config, clock.now(), clock.wall_now(), 7);
        let limits = TransportLimits::default();
        let mut driving = pin!(drive(
            &mut delivery,
            &transport,
            &limits,
            &clock,
            input,
            pending(),
            |e| { outcomes.borrow_mut().push(e.outcome) }
        ));
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..10 {
            assert!(
                driving.as_mut().poll(&mut cx).is_pending(),
                "the input stays open"
            );
        }
        assert!(transport.0.borrow().is_empty(), "the lone alias was sent");
        assert_eq!(*outcomes.borrow(), [AliasOutcome::Accepted]);
    }
}
