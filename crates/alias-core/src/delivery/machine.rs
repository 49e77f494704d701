//! The delivery state machine: owns aliases until each has a final outcome.
//!
//! Driven like quinn-proto's connections: events go in through `handle_*` calls (input,
//! answers), and what to do comes out of `poll_*` calls (a request to send, when to wake
//! up, the outcomes that are final). Time is always passed in; jitter comes from a
//! generator seeded by the caller. Every timer lives here (retries, pacing, the linger of a
//! partly filled batch), so a driver is a plain I/O loop, and every retry, split, pacing and
//! linger decision is tested with a scripted server and a fake clock.
//!
//! Budgets belong to each batch: its attempts and the time since its first send. An import
//! that runs for hours at Mixpanel's rate limit retries every batch as patiently as the
//! first (`docs/mixpanel-facts.md` §6: at volume, 429s are expected, not exceptional).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use http::{Request, Response, StatusCode};

use crate::delivery::answer::{decides_alone, per_alias};
use crate::delivery::batch::PendingBatch;
use crate::delivery::clocks::Clocks;
use crate::delivery::pacing::Pacer;
use crate::delivery::report::{
    AliasOutcome, DeliveryError, DeliveryStats, Rejection, Report, ReportEntry, Undelivered,
};
use crate::error::{TransportError, TransportErrorKind};
use crate::wire::config::Config;
use crate::wire::create_alias::CreateAlias;
use crate::wire::encode::EncodedEvent;
use crate::wire::parse::{Verdict, parse_response};

/// Names one request handed out by [`Delivery::poll_transmit`], to report its answer against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// A request to send, with what tracing needs to say about it.
#[derive(Debug)]
pub struct Outgoing {
    /// Report the answer under this id.
    pub id: RequestId,
    /// The batch the request carries; stays the same across retries of that batch.
    pub batch: u64,
    /// 1 for the first send of the batch, 2 for the first retry, and so on.
    pub attempt: u32,
    /// How many aliases the request carries.
    pub aliases: usize,
    /// The request.
    pub request: Request<Vec<u8>>,
}

/// What a driver tells a [`Delivery`] about its input, with [`Delivery::handle_input`].
#[derive(Debug)]
pub enum Input {
    /// The next alias, read when the wall clock showed the time given: an alias without a
    /// time of its own is stamped with it.
    Alias(CreateAlias, SystemTime),
    /// The input was found with nothing ready (an async stream that is pending). If a
    /// partly filled batch is all there is to send, it waits at most [`Config::linger`]
    /// from now for more, then goes out as it is. Say it each time the input is found
    /// pending after something else happened (an answer, a timer); once is enough until
    /// then. A driver whose input blocks never says it.
    Idle,
    /// The input ended: no more aliases will come, and the last batch goes out.
    Ended,
}

/// What [`Delivery::next_request`] found.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "matched at once and moved into the send; boxing would allocate per request"
)]
enum Next {
    Send(Outgoing),
    /// A batch is ready, but pacing holds it until then.
    NotBefore(Instant),
    Nothing,
}

/// One alias held by the delivery until its outcome is taken.
#[derive(Debug)]
struct Slot {
    alias: CreateAlias,
    outcome: Option<AliasOutcome>,
    /// The delivery gave the alias its time (it came without one): the time may be moved
    /// back at its first send, never after.
    own_time: bool,
}

/// Owns a set of aliases and decides, request by request, how to get each one a final
/// outcome: accepted, rejected with a reason, invalid, or handed back undelivered.
///
/// A driver runs it with a handful of calls, passing the time in each:
///
/// - in: [`handle_input`](Delivery::handle_input) while
///   [`wants_input`](Delivery::wants_input) says so (an alias, "nothing ready yet", or the
///   end), [`handle_answer`](Delivery::handle_answer) for each request's answer, and
///   [`stop`](Delivery::stop) to give up early;
/// - out: [`poll_transmit`](Delivery::poll_transmit) until it has nothing to send,
///   [`poll_finished`](Delivery::poll_finished) for the outcomes that are final (in input
///   order, so that a stream of any length runs in bounded memory),
///   [`is_done`](Delivery::is_done) to end, and [`poll_timeout`](Delivery::poll_timeout)
///   for the instant to call [`poll_transmit`](Delivery::poll_transmit) again if no answer
///   or input comes first.
///
/// Every policy (batching, retries and their backoff, pacing, splitting, the linger of a
/// partly filled batch, what to do when memory is at its bound) lives here; a driver only
/// does the I/O. Outcomes not taken with `poll_finished` come with
/// [`into_report`](Delivery::into_report).
///
/// ```
/// use std::time::{Instant, SystemTime};
/// use alias_core::delivery::{Delivery, Input};
/// use alias_core::{Config, CreateAlias, Token};
///
/// let config = Config::new(Token::new("YOUR_PROJECT_TOKEN")?);
/// let mut input = vec![CreateAlias::from_ids("anon-123", "user@example.com")?].into_iter();
/// let mut now = Instant::now();
/// let mut delivery = Delivery::new(config, now, SystemTime::now(), 7);
/// let mut accepted = 0;
/// loop {
///     while delivery.wants_input() {
///         match input.next() {
///             Some(alias) => delivery.handle_input(Input::Alias(alias, SystemTime::now()), now),
///             None => delivery.handle_input(Input::Ended, now),
///         }
///     }
///     while let Some(outgoing) = delivery.poll_transmit(now) {
///         assert_eq!(outgoing.request.uri().path(), "/track");
///         // Send `outgoing.request` with any HTTP client; this server accepts at once.
///         let answer = http::Response::builder()
///             .status(200)
///             .body(b"{\"status\":1,\"error\":null}".to_vec())?;
///         delivery.handle_answer(outgoing.id, Ok(answer), now);
///     }
///     while let Some(entry) = delivery.poll_finished() {
///         accepted += usize::from(entry.outcome.is_accepted());
///     }
///     if delivery.is_done() {
///         break;
///     }
///     // Wait for an answer, more input, or this instant, whichever comes first.
///     now = delivery.poll_timeout().map_or(now, |at| at.max(now));
/// }
/// assert_eq!(accepted, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Delivery {
    config: Config,
    clocks: Clocks,
    rng: fastrand::Rng,
    /// Slots from position `first_position` on, in order.
    slots: VecDeque<Slot>,
    first_position: u64,
    /// The batch being filled by the input.
    open: PendingBatch,
    ready: VecDeque<PendingBatch>,
    waiting: Vec<(Instant, PendingBatch)>,
    in_flight: HashMap<RequestId, PendingBatch>,
    next_request: u64,
    next_batch: u64,
    closed: bool,
    /// Set by [`Delivery::stop`]: nothing more is sent.
    stopped: bool,
    /// Since when the partly filled batch waits for more input, if it does.
    lingering_since: Option<Instant>,
    /// Until when pacing holds the next ready batch, as of the last
    /// [`poll_transmit`](Delivery::poll_transmit).
    paced_until: Option<Instant>,
    /// A refusal that every later request to the project would get too.
    refused: Option<Rejection>,
    /// The failure that made the host count as unreachable, which ends the sending.
    unreachable: Option<TransportError>,
    pacer: Pacer,
    stats: DeliveryStats,
}

impl Delivery {
    /// A delivery under `config`, started at `now` (a monotonic instant) and `wall_now` (the
    /// same moment on the wall clock, to stamp event times and read `Retry-After` dates).
    /// `jitter_seed` seeds the backoff jitter; give each delivery a different one.
    pub fn new(config: Config, now: Instant, wall_now: SystemTime, jitter_seed: u64) -> Self {
        let pacer = Pacer::new(config.max_rate, config.adaptive_pacing, config.rate_window);
        let open = PendingBatch::new(0, &config);
        Self {
            clocks: Clocks::new(now, wall_now, config.max_clock_ahead),
            config,
            rng: fastrand::Rng::with_seed(jitter_seed),
            slots: VecDeque::new(),
            first_position: 0,
            open,
            ready: VecDeque::new(),
            waiting: Vec::new(),
            in_flight: HashMap::new(),
            next_request: 0,
            next_batch: 1,
            closed: false,
            stopped: false,
            lingering_since: None,
            paced_until: None,
            refused: None,
            unreachable: None,
            pacer,
            stats: DeliveryStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Takes what the driver's input has to say at `now`: an alias (validated, stamped
    /// with its time and `$insert_id` when delivery is idempotent, and encoded at once; an
    /// invalid one gets its [`AliasOutcome::Invalid`] and is never sent), that nothing is
    /// ready yet, or that the input ended.
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::Alias(alias, wall_now) => self.add_at(alias, wall_now),
            Input::Idle => {
                if self.lingering_since.is_none() && self.only_a_partial_batch_waits() {
                    self.lingering_since = Some(now);
                }
            }
            Input::Ended => self.close(),
        }
    }

    /// Adds an alias, stamping it with `wall_now` if it has no time.
    fn add_at(&mut self, mut alias: CreateAlias, wall_now: SystemTime) {
        debug_assert!(!self.closed || self.stopped, "alias added after close");
        let position = self.first_position + self.slots.len() as u64;
        let own_time = self.config.stamps_events() && alias.time().is_none();
        if self.config.stamps_events() {
            // Behind the server's clock from the start, so that the send rarely has to move
            // the time back and encode the event again.
            alias.stamp(self.clocks.behind_the_server(wall_now));
        }
        let outcome = match EncodedEvent::prepare(&self.config, &alias, wall_now) {
            Err(invalid) => Some(AliasOutcome::Invalid(invalid)),
            Ok(_) if self.sending_ended() => Some(AliasOutcome::Undelivered(Undelivered {
                attempts: 0,
                last_error: self.unsent_error(),
            })),
            Ok(event) => {
                self.push_event(position, event);
                None
            }
        };
        self.slots.push_back(Slot {
            alias,
            outcome,
            own_time,
        });
    }

    fn push_event(&mut self, position: u64, event: EncodedEvent) {
        if !self.open.has_room_for(&self.config, &event) {
            self.flush();
        }
        self.open.push(&self.config, position, event);
    }

    /// Queues the partly filled batch for sending now, instead of waiting for it to fill.
    fn flush(&mut self) {
        if self.open.len() > 0 {
            let next = PendingBatch::new(self.next_batch, &self.config);
            let batch = std::mem::replace(&mut self.open, next);
            self.next_batch += 1;
            self.ready.push_back(batch);
        }
    }

    /// Declares that no more aliases will be added, and queues the last batch.
    fn close(&mut self) {
        self.flush();
        self.closed = true;
    }

    /// How many aliases are held: given, and not yet taken with
    /// [`Delivery::poll_finished`].
    pub fn held(&self) -> usize {
        self.slots.len()
    }

    /// Whether the batch being filled by the input is all there is to send: it holds
    /// aliases, no batch is queued and no request is in flight.
    fn only_a_partial_batch_waits(&self) -> bool {
        self.open.len() > 0 && self.ready.is_empty() && self.in_flight.is_empty()
    }

    /// Whether a driver should read more input now: the delivery is open, no batch waits to
    /// be sent, and the aliases held stay within what the requests in flight and their
    /// retries need, so that memory stays bounded whatever the input's length.
    pub fn wants_input(&self) -> bool {
        !self.closed && self.ready.is_empty() && self.slots.len() < self.max_held()
    }

    /// Queues the partly filled batch when nothing else can move (the aliases held reach
    /// their bound, and wait on retries only).
    fn flush_if_stalled(&mut self) {
        let stalled = !self.closed
            && self.only_a_partial_batch_waits()
            && self.slots.len() >= self.max_held();
        if stalled {
            self.flush();
        }
    }

    /// The most aliases held before input waits: four full batches for each request that
    /// may be in flight, and two more.
    fn max_held(&self) -> usize {
        (self.config.concurrency + 2) * self.config.batch_limits.max_events.max(1) * 4
    }

    /// Traffic counters so far.
    pub fn stats(&self) -> DeliveryStats {
        self.stats
    }

    /// The next request to send as of `now`, if one may go: a new batch, a retry that is
    /// due, or the partly filled batch once its linger is over or memory is at its bound.
    /// Call it until it gives nothing, after every `handle_*` call and whenever
    /// [`Delivery::poll_timeout`]'s instant comes.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        self.wake_due(now);
        self.flush_if_stalled();
        self.linger_over(now);
        self.paced_until = None;
        // In order: one request at a time, and none past a batch waiting for its retry.
        let (max_in_flight, held_back) = if self.config.ordered {
            (1, !self.waiting.is_empty())
        } else {
            (self.config.concurrency, false)
        };
        if self.in_flight.len() >= max_in_flight || held_back {
            return None;
        }
        match self.next_request(now) {
            Next::Send(outgoing) => {
                self.lingering_since = None;
                Some(outgoing)
            }
            Next::NotBefore(at) => {
                self.paced_until = Some(at);
                None
            }
            Next::Nothing => None,
        }
    }

    /// Queues the partly filled batch once its linger is over.
    fn linger_over(&mut self, now: Instant) {
        if self
            .lingering_since
            .is_some_and(|since| now >= since + self.config.linger)
        {
            self.lingering_since = None;
            self.flush();
        }
    }

    /// When to call [`Delivery::poll_transmit`] again if no answer or input comes first:
    /// the earliest of the next retry, the end of the pacing wait and the end of the
    /// linger, as of the last `poll_transmit`. `None`: only an answer or input moves the
    /// delivery on.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry_at = self.waiting.iter().map(|(at, _)| *at).min();
        let linger_ends = self
            .lingering_since
            .filter(|_| self.open.len() > 0)
            .map(|since| since + self.config.linger);
        [retry_at, self.paced_until, linger_ends]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether the delivery is over: the input ended (or the delivery was stopped), and
    /// no request is queued, waiting for a retry or in flight. Every alias then has its
    /// outcome, for [`Delivery::poll_finished`] or [`Delivery::into_report`].
    pub fn is_done(&self) -> bool {
        self.closed && self.ready.is_empty() && self.waiting.is_empty() && self.in_flight.is_empty()
    }

    /// Moves the batches whose retry is due to the front of the queue: their budget is
    /// running, and the outcomes behind them wait for theirs.
    fn wake_due(&mut self, now: Instant) {
        if self.waiting.iter().all(|(at, _)| *at > now) {
            return;
        }
        let (mut due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.waiting = waiting;
        // Several due at once go in input order, the first at the front.
        due.sort_by_key(|(_, batch)| std::cmp::Reverse(batch.positions.first().copied()));
        for (_, batch) in due {
            self.ready.push_front(batch);
        }
    }

    fn next_request(&mut self, now: Instant) -> Next {
        while let Some(batch) = self.ready.front() {
            if let Some(at) = self.pacer.ready_at(now, batch.events.len()) {
                return Next::NotBefore(at);
            }
            let Some(mut batch) = self.ready.pop_front() else {
                break;
            };
            if batch.attempts == 0 {
                self.no_time_ahead_of_the_server(&mut batch, now);
            }
            let Some(encoded) = batch.encode(&self.config) else {
                self.split_to_front(batch);
                continue;
            };
            batch.attempts += 1;
            batch.first_sent.get_or_insert(now);
            batch.last_sent = Some(now);
            self.pacer.sent(now, batch.events.len());
            let id = RequestId(self.next_request);
            self.next_request += 1;
            self.stats.requests += 1;
            let outgoing = Outgoing {
                id,
                batch: batch.id,
                attempt: batch.attempts,
                aliases: batch.events.len(),
                request: encoded.request,
            };
            self.in_flight.insert(id, batch);
            return Next::Send(outgoing);
        }
        Next::Nothing
    }

    /// Moves back the times this delivery gave, in a batch about to be sent for the first
    /// time, that would be ahead of the server's clock: Mixpanel overwrites such a time
    /// with its own at arrival (`docs/mixpanel-facts.md` §8), so a retried copy would
    /// arrive with another time and escape dedup. Before any answer has told the
    /// server's clock, the times are set back by [`Config::max_clock_ahead`]. From this
    /// send on, the time stays as it is, through every retry.
    fn no_time_ahead_of_the_server(&mut self, batch: &mut PendingBatch, now: Instant) {
        let wall_now = self.clocks.wall(now);
        let latest = self.clocks.behind_the_server(wall_now);
        for (event, position) in batch.events.iter_mut().zip(&batch.positions) {
            let index = usize::try_from(position - self.first_position).unwrap_or(usize::MAX);
            let Some(slot) = self.slots.get_mut(index) else {
                continue;
            };
            if !slot.own_time || slot.alias.time().is_none_or(|time| time <= latest) {
                continue;
            }
            let mut moved = slot.alias.clone();
            moved.set_time(latest);
            // Only a time outside the endpoint's window could fail, and one moved back by
            // minutes is not: if it ever did, the time first given stays.
            if let Ok(encoded) = EncodedEvent::prepare(&self.config, &moved, wall_now) {
                *event = encoded;
                slot.alias = moved;
            }
        }
    }

    fn split_to_front(&mut self, batch: PendingBatch) {
        let (left, right) = batch.split(&self.config, self.next_batch);
        self.next_batch += 2;
        self.ready.push_front(right);
        self.ready.push_front(left);
    }

    /// Takes the answer to request `id`, received at `now`: the server's response, or the
    /// failure below HTTP that kept it from coming. A request that failed may have reached
    /// the server, so it is retried; the events' `$insert_id` lets the server drop a second
    /// copy. An id that is not in flight (already answered, or never handed out) is
    /// ignored.
    pub fn handle_answer(
        &mut self,
        id: RequestId,
        answer: Result<Response<Vec<u8>>, TransportError>,
        now: Instant,
    ) {
        match answer {
            Ok(response) => self.on_response(id, &response, now),
            Err(error) => self.on_transport_error(id, error, now),
        }
    }

    /// Takes the answer to request `id`, received at `now`.
    fn on_response<B: AsRef<[u8]>>(&mut self, id: RequestId, response: &Response<B>, now: Instant) {
        let Some(batch) = self.in_flight.remove(&id) else {
            return;
        };
        self.clocks.read(response, now);
        match parse_response(response) {
            Ok(Verdict::Accepted { .. }) => {
                self.pacer
                    .accepted(batch.last_sent.unwrap_or(now), batch.events.len(), now);
                self.settle_all(&batch, &AliasOutcome::Accepted);
            }
            Ok(Verdict::PartiallyRejected { imported, failed }) => {
                match per_alias(response.status(), batch.positions.len(), imported, failed) {
                    Ok(outcomes) => {
                        // The server counted the whole request against the limit.
                        self.pacer.accepted(
                            batch.last_sent.unwrap_or(now),
                            batch.events.len(),
                            now,
                        );
                        for (position, outcome) in batch.positions.iter().zip(outcomes) {
                            if let AliasOutcome::Rejected(rejection) = &outcome {
                                self.refuse_if_project_level(rejection);
                            }
                            self.settle(*position, outcome);
                        }
                    }
                    // The answer cannot be mapped back to the events it is about: trust none
                    // of it and ask again (the `$insert_id`s make a repeat harmless).
                    Err(message) => {
                        let error = DeliveryError::Status {
                            status: response.status(),
                            message,
                        };
                        self.retry_later(batch, error, None, now);
                    }
                }
            }
            // Without strict validation, `0` (or a verbose error) with HTTP 200 says only that
            // some event of the batch was refused: the others may be stored. Halves are sent
            // again until the refusal is pinned on one event; their `$insert_id`s make the
            // repeats harmless.
            Ok(Verdict::Rejected { status, message })
                if status.is_success() && batch.events.len() > 1 =>
            {
                if self.config.stamps_events() {
                    self.stats.splits += 1;
                    self.split_to_front(batch);
                } else {
                    let undetermined = AliasOutcome::Undelivered(Undelivered {
                        attempts: batch.attempts,
                        last_error: DeliveryError::Undetermined { status, message },
                    });
                    self.settle_all(&batch, &undetermined);
                }
            }
            Ok(Verdict::Rejected { status, message }) => {
                let rejection = Rejection::classify(status, None, message);
                self.refuse_if_project_level(&rejection);
                self.settle_all(&batch, &AliasOutcome::Rejected(rejection));
            }
            Ok(Verdict::TooLarge { message }) => {
                if batch.events.len() > 1 {
                    self.stats.splits += 1;
                    self.split_to_front(batch);
                } else {
                    let rejection = Rejection::classify(response.status(), None, message);
                    self.settle_all(&batch, &AliasOutcome::Rejected(rejection));
                }
            }
            Ok(Verdict::Retry {
                status,
                retry_after,
                message,
            }) => {
                let wall_now = self.clocks.wall(now);
                let asked = retry_after.map(|r| {
                    r.delay_from(wall_now)
                        .min(self.config.retry_policy.max_retry_after)
                });
                // The server said when to come back: no request of this delivery goes before
                // then.
                if let Some(delay) = asked {
                    self.pacer.pause(now + delay);
                }
                let mut batch = batch;
                let mut asked = asked;
                if status == StatusCode::TOO_MANY_REQUESTS {
                    batch.throttled += 1;
                    batch.throttled_attempt = Some(batch.attempts);
                    self.stats.rate_limited += 1;
                    let sent_at = batch.last_sent.unwrap_or(now);
                    let had_limit = self.pacer.has_limit();
                    self.pacer.rate_limited(sent_at, batch.events.len());
                    if !had_limit && self.pacer.has_limit() {
                        self.throttled_go_when_the_window_has_room(now);
                    }
                    // Once the pacer holds the project's limit, it decides when the window
                    // has room again: a backoff on top would only hold the batch (and the
                    // outcomes behind it) back.
                    if asked.is_none() && self.pacer.has_limit() {
                        asked = Some(Duration::ZERO);
                    }
                }
                self.retry_later(batch, DeliveryError::Status { status, message }, asked, now);
            }
            Err(unexpected) => self.retry_later(
                batch,
                DeliveryError::UnexpectedAnswer(unexpected),
                None,
                now,
            ),
        }
    }

    /// Takes the failure of request `id` below HTTP at `now`.
    fn on_transport_error(&mut self, id: RequestId, error: TransportError, now: Instant) {
        if let Some(status) = error.status.filter(|s| decides_alone(*s)) {
            // The head came and its status settles the request whatever the body said (a
            // 400 stays final, a 413 is split): the failure stands in for the body.
            let head = Response::builder()
                .status(status)
                .body(error.to_string().into_bytes())
                .unwrap_or_else(|_| Response::new(Vec::new()));
            self.on_response(id, &head, now);
            return;
        }
        let Some(batch) = self.in_flight.remove(&id) else {
            return;
        };
        if error.kind == TransportErrorKind::InvalidRequest {
            let undelivered = AliasOutcome::Undelivered(Undelivered {
                attempts: batch.attempts,
                last_error: DeliveryError::Transport(error),
            });
            self.settle_all(&batch, &undelivered);
            return;
        }
        let unanswered = self.clocks.never_answered()
            && matches!(
                error.kind,
                TransportErrorKind::Connect | TransportErrorKind::Timeout
            );
        if unanswered
            && !self.sending_ended()
            && batch.attempts >= self.config.retry_policy.max_attempts_unreached
        {
            tracing::debug!(%error, attempts = batch.attempts, "the server was never reached; sending no more");
            self.unreachable = Some(error);
            self.settle_all(
                &batch,
                &AliasOutcome::Undelivered(Undelivered {
                    attempts: batch.attempts,
                    last_error: self.unsent_error(),
                }),
            );
            self.hand_back_unsent();
            return;
        }
        self.retry_later(batch, DeliveryError::Transport(error), None, now);
    }

    /// Ends the backoff of the batches whose last attempt was refused with 429 before the
    /// limit was learnt: that limit refused them, and the pacer now knows when its window
    /// has room. A batch whose last attempt failed otherwise keeps its backoff.
    fn throttled_go_when_the_window_has_room(&mut self, now: Instant) {
        for (at, batch) in &mut self.waiting {
            if batch.throttled_attempt == Some(batch.attempts) {
                *at = now;
            }
        }
    }

    fn retry_later(
        &mut self,
        batch: PendingBatch,
        error: DeliveryError,
        asked: Option<Duration>,
        now: Instant,
    ) {
        if self.sending_ended() {
            let unsent = AliasOutcome::Undelivered(Undelivered {
                attempts: batch.attempts,
                last_error: self.unsent_error(),
            });
            self.settle_all(&batch, &unsent);
            return;
        }
        let policy = &self.config.retry_policy;
        let delay = policy.delay(batch.attempts, asked, self.rng.f64());
        let at = now + delay;
        let out_of_attempts = batch.attempts - batch.throttled >= policy.max_attempts;
        let first_sent = batch.first_sent.unwrap_or(now);
        let out_of_time = at.saturating_duration_since(first_sent) > policy.max_elapsed;
        if out_of_attempts || out_of_time {
            let undelivered = AliasOutcome::Undelivered(Undelivered {
                attempts: batch.attempts,
                last_error: error,
            });
            self.settle_all(&batch, &undelivered);
            return;
        }
        self.stats.retries += 1;
        tracing::debug!(batch = batch.id, attempt = batch.attempts, delay_ms = delay.as_millis() as u64, %error, "retry scheduled");
        self.waiting.push((at, batch));
    }

    /// Stops the delivery: nothing more is sent. Aliases waiting for a send or a retry,
    /// and any added from now on, are handed back undelivered ([`DeliveryError::Abandoned`])
    /// at once; the answers to requests already in flight are still taken. Once they are
    /// in, the delivery [is done](Delivery::is_done).
    ///
    /// This is how a driver honours a stop signal promptly, whatever the retry schedule.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.closed = true;
        self.hand_back_unsent();
    }

    /// Whether [`Delivery::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The refusal that stopped this delivery from sending, if one did: a rejection that
    /// every later request to the project would get too ([`Rejection::is_project_level`]:
    /// Simplified ID Merge refusing `$create_alias`, refused credentials). After one,
    /// nothing more is sent, and every alias not yet answered is handed back undelivered
    /// with [`DeliveryError::Refused`].
    pub fn refusal(&self) -> Option<&Rejection> {
        self.refused.as_ref()
    }

    fn refuse_if_project_level(&mut self, rejection: &Rejection) {
        if rejection.is_project_level() && self.refused.is_none() {
            tracing::debug!(%rejection, "refused for the whole project; sending no more");
            self.refused = Some(rejection.clone());
            self.hand_back_unsent();
        }
    }

    /// Whether nothing more is sent: the delivery was stopped or refused, or its host is
    /// unreachable.
    fn sending_ended(&self) -> bool {
        self.stopped || self.refused.is_some() || self.unreachable.is_some()
    }

    /// Why an alias is not sent, once the sending ended.
    fn unsent_error(&self) -> DeliveryError {
        match (&self.refused, &self.unreachable) {
            (Some(rejection), _) => DeliveryError::Refused(rejection.clone()),
            (None, Some(error)) => DeliveryError::Unreachable(error.clone()),
            (None, None) => DeliveryError::Abandoned,
        }
    }

    /// Settles every batch that is not in flight as undelivered.
    fn hand_back_unsent(&mut self) {
        let next = PendingBatch::new(self.next_batch, &self.config);
        let open = std::mem::replace(&mut self.open, next);
        self.next_batch += 1;
        let unsent: Vec<PendingBatch> = std::iter::once(open)
            .chain(self.ready.drain(..))
            .chain(self.waiting.drain(..).map(|(_, batch)| batch))
            .collect();
        let error = self.unsent_error();
        for batch in unsent {
            let outcome = AliasOutcome::Undelivered(Undelivered {
                attempts: batch.attempts,
                last_error: error.clone(),
            });
            self.settle_all(&batch, &outcome);
        }
    }

    fn settle_all(&mut self, batch: &PendingBatch, outcome: &AliasOutcome) {
        for position in &batch.positions {
            self.settle(*position, outcome.clone());
        }
    }

    fn settle(&mut self, position: u64, outcome: AliasOutcome) {
        let index = usize::try_from(position - self.first_position).unwrap_or(usize::MAX);
        if let Some(slot) = self.slots.get_mut(index) {
            slot.outcome = Some(outcome);
        }
    }

    /// The next entry that is final, oldest first: none while the oldest alias held is
    /// still under way, so that entries always come out in the order they were given.
    pub fn poll_finished(&mut self) -> Option<ReportEntry> {
        let outcome = self.slots.front_mut()?.outcome.take()?;
        let slot = self.slots.pop_front()?;
        let position = self.first_position;
        self.first_position += 1;
        Some(ReportEntry {
            position,
            alias: slot.alias,
            outcome,
        })
    }

    /// Ends the delivery and reports every alias still held. Those without an outcome yet
    /// (the driver stopped early) come back as undelivered, never dropped.
    pub fn into_report(self) -> Report {
        let first = self.first_position;
        let attempts: HashMap<u64, u32> = self
            .in_flight
            .values()
            .chain(self.waiting.iter().map(|(_, b)| b))
            .chain(self.ready.iter())
            .flat_map(|b| b.positions.iter().map(move |p| (*p, b.attempts)))
            .collect();
        let entries = self
            .slots
            .into_iter()
            .enumerate()
            .map(|(i, slot)| {
                let position = first + i as u64;
                let outcome = slot.outcome.unwrap_or_else(|| {
                    AliasOutcome::Undelivered(Undelivered {
                        attempts: attempts.get(&position).copied().unwrap_or(0),
                        last_error: DeliveryError::Abandoned,
                    })
                });
                ReportEntry {
                    position,
                    alias: slot.alias,
                    outcome,
                }
            })
            .collect();
        Report {
            entries,
            stats: self.stats,
        }
    }
}
