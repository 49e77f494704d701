//! How fast a delivery sends: a mirror of Mixpanel's rolling window, learnt from 429s
//! that carry no `Retry-After`, and a cap.
//!
//! Mixpanel limits ingestion per project over a rolling minute (`docs/mixpanel-facts.md`
//! §6) and answers 429 past it, without a documented `Retry-After`. Such a limit takes a
//! minute's worth at once and then nothing until the window rolls on; a client that
//! sends at a steady rate after that burst is refused for the rest of the window, and a
//! client that cuts its rate at each 429 is cut down to nothing by 429s that have another
//! cause (other senders, a front end's hiccup). So this pacer keeps its own copy of the
//! window ([`Config::rate_window`](crate::Config::rate_window)): the events of the
//! requests it sent over the last window, refused ones taken out.
//!
//! - Until a limit is learnt there is none: a project with headroom is not slowed down.
//! - [`STREAK`] 429s in a row, with nothing accepted between, set the limit to what the
//!   window holds: the events the server took over the last window. A lone 429 changes
//!   nothing (its batch backs off): a limit refuses every request past it, a passing
//!   fault does not.
//! - With a limit, a request goes when it fits in the window with those sent over the
//!   last window: a window's worth at once, then as the window rolls on, as the server
//!   takes them.
//! - The limit is a **floor**, never a collapse: it is the volume the server just took;
//!   a later streak lowers it only when the client was pushing against it, and to half
//!   of it at most. A limit not yet confirmed is
//!   probed: when it has held sends back for [`PROBE_AFTER`] (or an eighth of the
//!   window, if shorter), one request goes anyway. Accepted, the limit was a pair of
//!   chance 429s and is dropped; refused [`CONFIRMING_PROBES`] times in a row, it is
//!   confirmed. A confirmed limit grows by [`GROWTH`] of the events accepted, to find
//!   headroom again.
//! - Once a limit is held, a batch refused with 429 goes again as soon as the window has
//!   room (the delivery skips its backoff): the pacer knows when that is. So do the
//!   batches refused before the limit was learnt.
//! - A request leaves this copy of the window one window after its own answer: the server
//!   counted it on arrival, before it answered, and one it took long over stays in its
//!   window that much longer. A 429 while pushing against a confirmed limit says the
//!   server holds more than this copy all the same: nothing goes until the oldest request
//!   leaves.
//! - A `Retry-After` pauses every send until it has passed.
//!
//! [`Config::max_rate`](crate::Config::max_rate) caps the rate from the first send with a
//! token bucket; [`Config::adaptive_pacing`](crate::Config::adaptive_pacing) turns the
//! learning off.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long an unconfirmed limit holds sends back before a probe goes anyway: what a run
/// of chance 429s costs at most.
const PROBE_AFTER: Duration = Duration::from_millis(250);

/// The share of the events accepted under a confirmed limit that it grows by: 0.2%, so
/// that going past the server's limit again (three 429s) comes once in a hundred windows.
const GROWTH: f64 = 0.002;

/// How many 429s in a row, with nothing accepted between, set a limit.
const STREAK: u32 = 3;

/// How many probes in a row the server must refuse to confirm a limit: one could be
/// chance too, and a confirmed limit is kept to for a whole window.
const CONFIRMING_PROBES: u32 = 4;

/// The most a streak of 429s lowers a limit: to half of it.
const FLOOR: f64 = 0.5;

/// A streak of 429s lowers a limit only when the client was this close to it: further
/// under it, the 429s are not about this client's pace (chance, or other senders).
const PUSHING: f64 = 0.9;

/// How much the cap's bucket holds, in seconds of the cap.
const BURST: Duration = Duration::from_secs(1);

/// Floating-point dust: less than this of a missing token does not hold a send back.
const TOKEN_SLACK: f64 = 1e-6;

/// A request the window holds: when it was sent, its events, and whether the server
/// took them (else it is in flight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    at: Instant,
    events: u64,
    /// When the server's acceptance came back: it counted the request before then.
    accepted: Option<Instant>,
}

/// A limit learnt from 429s: events per window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Limit {
    events: f64,
    /// Whether a probe past it was refused: then it is the server's, not chance's.
    confirmed: bool,
}

/// Pacing state of one delivery.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    adaptive: bool,
    /// The server's window as this client assumes it.
    window: Duration,
    /// Requests sent over the last window (and a margin), oldest first; refused ones are
    /// taken out.
    sent: VecDeque<Sent>,
    /// The sum of `sent`'s events.
    held: u64,
    limit: Option<Limit>,
    /// 429s answered in a row with nothing accepted between.
    streak: u32,
    /// Since when the limit has held sends back, while unconfirmed.
    blocked_since: Option<Instant>,
    /// A probe past an unconfirmed limit is in flight.
    probing: Option<Instant>,
    /// Probes refused in a row under the current limit.
    refused_probes: u32,
    /// How long the last accepted request took from its send to its answer: the margin
    /// for requests whose acceptance has not come back.
    round_trip: Duration,
    /// The cap's token bucket.
    cap: Option<f64>,
    tokens: f64,
    refilled_at: Option<Instant>,
    paused_until: Option<Instant>,
}

impl Pacer {
    /// A pacer capped at `max_rate` events per second (if any), learning the limit of a
    /// rolling `window` from 429s when `adaptive`.
    pub(crate) fn new(max_rate: Option<u32>, adaptive: bool, window: Duration) -> Self {
        Self {
            adaptive,
            window: window.max(Duration::from_millis(1)),
            sent: VecDeque::new(),
            held: 0,
            limit: None,
            streak: 0,
            blocked_since: None,
            probing: None,
            refused_probes: 0,
            round_trip: Duration::ZERO,
            cap: max_rate.map(f64::from),
            // The first refill fills a whole burst.
            tokens: 0.0,
            refilled_at: None,
            paused_until: None,
        }
    }

    /// Whether a limit has been learnt: sends wait for the window to have room.
    pub(crate) fn has_limit(&self) -> bool {
        self.limit.is_some()
    }

    /// The limit learnt, in events per window, if any.
    #[cfg(test)]
    fn limit(&self) -> Option<f64> {
        self.limit.map(|limit| limit.events)
    }

    /// When a request of `events` events may go: `None` for now, else the instant.
    pub(crate) fn ready_at(&mut self, now: Instant, events: usize) -> Option<Instant> {
        if let Some(until) = self.paused_until.filter(|until| *until > now) {
            return Some(until);
        }
        let capped = self.cap_ready_at(now, events);
        let limited = self.limit_ready_at(now, events as u64);
        match (capped, limited) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn cap_ready_at(&mut self, now: Instant, events: usize) -> Option<Instant> {
        let rate = self.cap?;
        self.refill(now, rate, events);
        let missing = events as f64 - self.tokens;
        // In whole microseconds, at least one, so that a driver waiting for it always moves
        // on; a rounding error's worth of a token is forgiven.
        (missing > TOKEN_SLACK)
            .then(|| now + Duration::from_micros((missing / rate * 1e6).round().max(1.0) as u64))
    }

    fn limit_ready_at(&mut self, now: Instant, events: u64) -> Option<Instant> {
        self.expire(now);
        let limit = self.limit?;
        let fits = |held: u64| held == 0 || (held + events) as f64 <= limit.events;
        if fits(self.held) {
            self.blocked_since = None;
            return None;
        }
        if !limit.confirmed && self.probing.is_none() {
            let since = *self.blocked_since.get_or_insert(now);
            let probe_at = since + self.probe_after();
            if now >= probe_at {
                return None;
            }
            return Some(probe_at.min(self.room_at(now, fits)));
        }
        Some(self.room_at(now, fits))
    }

    /// How long an unconfirmed limit holds sends back before a probe.
    fn probe_after(&self) -> Duration {
        PROBE_AFTER.min(self.window / 8)
    }

    /// When enough of the window has rolled on for a request of `events` to fit; `now`
    /// once the window is empty, which fits any request.
    fn room_at(&self, now: Instant, fits: impl Fn(u64) -> bool) -> Instant {
        let mut held = self.held;
        // Requests leave in the order they were sent: one answered late holds back those
        // sent after it, which keeps this copy of the window on the full side.
        let mut leaves = now;
        for sent in &self.sent {
            held -= sent.events;
            leaves = leaves.max(self.expiry(sent));
            if fits(held) {
                return leaves;
            }
        }
        now
    }

    /// When a request leaves the server's window, as far as this client can tell: the
    /// server counted it when it arrived, so no later than its answer came back. One still
    /// in flight is given the last round trip.
    ///
    /// Its own answer, not a round trip averaged over others: a request the server took
    /// long to count stays in its window that much longer, and a send timed by a shorter
    /// round trip would be refused.
    fn expiry(&self, sent: &Sent) -> Instant {
        sent.accepted.unwrap_or(sent.at + self.round_trip) + self.window
    }

    fn expire(&mut self, now: Instant) {
        while let Some(oldest) = self.sent.front() {
            if self.expiry(oldest) > now {
                break;
            }
            self.held -= oldest.events;
            self.sent.pop_front();
        }
    }

    /// A request of `events` events went out at `now`.
    pub(crate) fn sent(&mut self, now: Instant, events: usize) {
        if let Some(rate) = self.cap {
            self.refill(now, rate, events);
            self.tokens -= events as f64;
        }
        if !self.adaptive {
            return;
        }
        self.expire(now);
        // A send past an unconfirmed limit is its probe.
        if let Some(limit) = self.limit {
            let over = (self.held + events as u64) as f64 > limit.events && self.held > 0;
            if over && !limit.confirmed {
                self.probing = Some(now);
            }
        }
        tracing::trace!(events, held = self.held, limit = ?self.limit, round_trip_ms = self.round_trip.as_millis() as u64, "sent");
        self.sent.push_back(Sent {
            at: now,
            events: events as u64,
            accepted: None,
        });
        self.held += events as u64;
    }

    /// The `events` events of a request sent at `sent_at` were accepted, answered at
    /// `now`.
    pub(crate) fn accepted(&mut self, sent_at: Instant, events: usize, now: Instant) {
        self.streak = 0;
        self.round_trip = now.saturating_duration_since(sent_at);
        if let Some(sent) = self
            .sent
            .iter_mut()
            .rev()
            .find(|s| s.accepted.is_none() && s.at == sent_at && s.events == events as u64)
        {
            sent.accepted = Some(now);
        }
        if self.probing == Some(sent_at) {
            // The probe got through: the limit was chance's.
            self.probing = None;
            self.refused_probes = 0;
            self.limit = None;
            self.blocked_since = None;
            tracing::debug!("a probe past the rate limit learnt was accepted: no limit");
            return;
        }
        if let Some(limit) = &mut self.limit {
            if limit.confirmed {
                limit.events += GROWTH * events as f64;
            }
        }
    }

    /// A request of `events` events sent at `sent_at` was answered 429. (A `Retry-After`
    /// it carried is a [`Pacer::pause`], as for any status.)
    pub(crate) fn rate_limited(&mut self, sent_at: Instant, events: usize) {
        // The server did not count a refused request.
        if let Some(i) = self
            .sent
            .iter()
            .rposition(|s| s.accepted.is_none() && s.at == sent_at && s.events == events as u64)
        {
            self.held -= self.sent[i].events;
            self.sent.remove(i);
        }
        if !self.adaptive {
            return;
        }
        self.streak += 1;
        if self.probing == Some(sent_at) {
            self.probing = None;
            // The next probe waits as long again.
            self.blocked_since = None;
            self.refused_probes += 1;
            if let Some(limit) = &mut self.limit {
                limit.confirmed = self.refused_probes >= CONFIRMING_PROBES;
                if limit.confirmed {
                    tracing::debug!(events = limit.events, "rate limit confirmed");
                }
            }
        }
        // What the server took over the window: requests still in flight are likely
        // refused too, and must not count towards the limit learnt.
        let taken: u64 = self
            .sent
            .iter()
            .filter(|s| s.accepted.is_some())
            .map(|s| s.events)
            .sum();
        let pushing = (self.held + events as u64) as f64;
        if self.streak >= STREAK && taken > 0 {
            self.learn(taken as f64, pushing);
        }
        // Refused while pushing against a confirmed limit: the server's window is fuller
        // than this copy of it (a request it counted late), so nothing more goes until the
        // oldest request held leaves it. Sent at once, the batch would be refused again.
        // (Refusals of an unconfirmed limit's probes are what confirms it.)
        if let (Some(limit), Some(oldest)) = (self.limit, self.sent.front()) {
            if limit.confirmed && pushing > PUSHING * limit.events {
                self.pause(self.expiry(oldest));
            }
        }
    }

    /// Sets or lowers the limit after a streak of 429s: `held` events taken by the server
    /// over the window, while `pushing` events were asked for.
    fn learn(&mut self, held: f64, pushing: f64) {
        self.limit = Some(match self.limit {
            None => {
                self.refused_probes = 0;
                Limit {
                    events: held,
                    confirmed: false,
                }
            }
            Some(limit) if held < limit.events && pushing > PUSHING * limit.events => Limit {
                events: held.max(limit.events * FLOOR),
                confirmed: limit.confirmed,
            },
            Some(limit) => limit,
        });
        tracing::debug!(limit = ?self.limit, held, "rate limit learnt from 429s");
    }

    /// Pauses every send until `until` (a server's `Retry-After`).
    pub(crate) fn pause(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |paused| paused.max(until)));
    }

    /// Fills the cap's bucket for the time since the last refill, up to one burst (and at
    /// least room for one request of `events`, so that any request can go eventually).
    fn refill(&mut self, now: Instant, rate: f64, events: usize) {
        let capacity = (rate * BURST.as_secs_f64()).max(events as f64);
        let elapsed = self
            .refilled_at
            .map_or(BURST, |at| now.saturating_duration_since(at));
        self.tokens = (self.tokens + rate * elapsed.as_secs_f64()).min(capacity);
        self.refilled_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    const WINDOW: Duration = Duration::from_secs(60);

    /// Sends `events` at `at` and has them accepted.
    fn accept(pacer: &mut Pacer, at: Instant, events: usize) {
        assert_eq!(pacer.ready_at(at, events), None, "ready at {at:?}");
        pacer.sent(at, events);
        pacer.accepted(at, events, at);
    }

    /// Sends `events` at `at` and has them refused with 429.
    fn refuse(pacer: &mut Pacer, at: Instant, events: usize) {
        pacer.sent(at, events);
        pacer.rate_limited(at, events);
    }

    #[test]
    fn without_a_cap_or_a_429_nothing_waits() {
        let mut pacer = Pacer::new(None, true, WINDOW);
        let now = Instant::now();
        for _ in 0..100 {
            accept(&mut pacer, now, 2000);
        }
        assert_eq!(pacer.limit(), None);
    }

    #[test]
    fn a_cap_spends_one_burst_then_paces_at_the_rate() {
        let mut pacer = Pacer::new(Some(1000), true, WINDOW);
        let t0 = Instant::now();
        // One second's worth goes at once.
        for _ in 0..2 {
            assert_eq!(pacer.ready_at(t0, 500), None);
            pacer.sent(t0, 500);
        }
        // Then 500 more events take half a second.
        assert_eq!(pacer.ready_at(t0, 500), Some(t0 + secs(0.5)));
        assert_eq!(pacer.ready_at(t0 + secs(0.5), 500), None);
    }

    #[test]
    fn two_429s_in_a_row_learn_the_window_and_sends_wait_for_it_to_roll_on() {
        let mut pacer = Pacer::new(None, true, WINDOW);
        let t0 = Instant::now();
        for i in 0..5 {
            accept(&mut pacer, t0 + secs(f64::from(i)), 2000);
        }
        // The server's window is full: three requests refused in a row.
        refuse(&mut pacer, t0 + secs(5.0), 2000);
        refuse(&mut pacer, t0 + secs(5.0), 2000);
        assert_eq!(pacer.limit(), None, "two 429s are not a limit");
        refuse(&mut pacer, t0 + secs(5.1), 2000);
        assert_eq!(pacer.limit(), Some(10_000.0));
        // The next request fits once the first 2000 have left the window.
        let rolled = t0 + WINDOW;
        // Until then, an unconfirmed limit lets a probe through a quarter second after it
        // held a send back; the server refuses four in a row, which confirms the limit.
        let mut probe = t0 + secs(5.2);
        for _ in 0..CONFIRMING_PROBES {
            assert_eq!(pacer.ready_at(probe, 2000), Some(probe + secs(0.25)));
            probe += secs(0.25);
            assert_eq!(pacer.ready_at(probe, 2000), None);
            refuse(&mut pacer, probe, 2000);
        }
        assert_eq!(pacer.limit.map(|l| l.confirmed), Some(true));
        assert_eq!(pacer.ready_at(probe, 2000), Some(rolled));
        accept(&mut pacer, rolled, 2000);
        // A whole window on, a window's worth goes at once again.
        let next = rolled + secs(4.0);
        for _ in 0..4 {
            accept(&mut pacer, next, 2000);
        }
        assert!(pacer.ready_at(next, 2000).is_some());
    }

    #[test]
    fn requests_still_in_flight_do_not_count_towards_a_limit_learnt() {
        let mut pacer = Pacer::new(None, true, WINDOW);
        let t0 = Instant::now();
        for _ in 0..5 {
            accept(&mut pacer, t0, 2000);
        }
        // Two more in flight when the streak comes: they will be refused as well.
        pacer.sent(t0, 2000);
        pacer.sent(t0 + secs(0.01), 2000);
        for _ in 0..STREAK {
            refuse(&mut pacer, t0 + secs(0.1), 2000);
        }
        assert_eq!(pacer.limit(), Some(10_000.0));
    }

    #[test]
    fn chance_429s_are_probed_away_and_never_collapse_the_rate() {
        let mut pacer = Pacer::new(None, true, WINDOW);
        let t0 = Instant::now();
        accept(&mut pacer, t0, 2000);
        // Three chance 429s in a row after 2000 events: a limit of 2000 a minute, for now.
        refuse(&mut pacer, t0 + secs(0.1), 2000);
        refuse(&mut pacer, t0 + secs(0.1), 2000);
        refuse(&mut pacer, t0 + secs(0.2), 2000);
        assert_eq!(pacer.limit(), Some(2000.0));
        // It holds sends back for a quarter second at most: then a probe goes.
        assert_eq!(pacer.ready_at(t0 + secs(0.3), 2000), Some(t0 + secs(0.55)));
        let probe = t0 + secs(0.55);
        assert_eq!(pacer.ready_at(probe, 2000), None);
        pacer.sent(probe, 2000);
        // Only one probe at a time.
        assert!(pacer.ready_at(probe, 2000).is_some());
        pacer.accepted(probe, 2000, probe);
        // Accepted: the limit was chance's, and nothing waits any more.
        assert_eq!(pacer.limit(), None);
        for i in 0..50 {
            accept(&mut pacer, probe + secs(0.01 * f64::from(i)), 2000);
        }
    }

    #[test]
    fn a_confirmed_limit_is_lowered_to_half_at_most_and_grows_back() {
        let mut pacer = Pacer::new(None, true, WINDOW);
        let t0 = Instant::now();
        for _ in 0..5 {
            accept(&mut pacer, t0, 2000);
        }
        for _ in 0..STREAK {
            refuse(&mut pacer, t0, 2000);
        }
        // The probes are refused: confirmed.
        let mut probe = t0;
        for _ in 0..CONFIRMING_PROBES {
            assert_eq!(pacer.ready_at(probe, 2000), Some(probe + secs(0.25)));
            probe += secs(0.25);
            assert_eq!(pacer.ready_at(probe, 2000), None);
            refuse(&mut pacer, probe, 2000);
        }
        assert_eq!(pacer.limit(), Some(10_000.0));
        assert_eq!(pacer.limit.map(|l| l.confirmed), Some(true));
        // After the window, 8000 go (the limit grows by 0.2% of them), then a streak of
        // 429s comes while the client pushes against its limit (other senders took the
        // rest): the limit falls to what the window holds.
        let later = t0 + secs(70.0);
        for _ in 0..4 {
            accept(&mut pacer, later, 2000);
        }
        assert_eq!(pacer.limit(), Some(10_016.0));
        for _ in 0..STREAK {
            refuse(&mut pacer, later, 2000);
        }
        assert_eq!(pacer.limit(), Some(8000.0));
        // A streak far under the limit (a whole window on) is not about this client's
        // pace: it changes nothing.
        let much_later = later + secs(70.0);
        accept(&mut pacer, much_later, 2000);
        for _ in 0..STREAK {
            refuse(&mut pacer, much_later, 2000);
        }
        assert_eq!(pacer.limit(), Some(8004.0));
        for _ in 0..2 {
            accept(&mut pacer, much_later, 2000);
        }
        for _ in 0..STREAK {
            refuse(&mut pacer, much_later, 4000);
        }
        // 6000 held, 10,000 pushed: lowered to the 6000 the window holds.
        assert_eq!(pacer.limit(), Some(6000.0));
    }

    /// A pacer holding a confirmed limit of `events` per [`WINDOW`].
    fn confirmed(events: f64) -> Pacer {
        let mut pacer = Pacer::new(None, true, WINDOW);
        pacer.limit = Some(Limit {
            events,
            confirmed: true,
        });
        pacer
    }

    #[test]
    fn a_request_answered_late_stays_in_the_window_until_its_own_answer() {
        let mut pacer = confirmed(10_000.0);
        let t0 = Instant::now();
        // The server took two seconds over the first request, then answered four more at
        // once: the last round trip is 10 ms, but the first was counted up to 2 s late.
        pacer.sent(t0, 2000);
        pacer.accepted(t0, 2000, t0 + secs(2.0));
        for _ in 0..4 {
            pacer.sent(t0 + secs(2.0), 2000);
            pacer.accepted(t0 + secs(2.0), 2000, t0 + secs(2.01));
        }
        assert_eq!(pacer.round_trip, secs(0.01));
        // Timed by the last round trip, the next send would go at 60.01 s and be refused.
        assert_eq!(pacer.ready_at(t0 + secs(2.02), 2000), Some(t0 + secs(62.0)));
        assert_eq!(pacer.ready_at(t0 + secs(62.0), 2000), None);
    }

    #[test]
    fn a_429_while_pushing_a_confirmed_limit_waits_for_the_oldest_request_to_leave() {
        let mut pacer = confirmed(10_000.0);
        let t0 = Instant::now();
        for _ in 0..4 {
            accept(&mut pacer, t0, 2000);
        }
        // By this copy of the window, 2000 more fit; the server counts otherwise.
        assert_eq!(pacer.ready_at(t0 + secs(1.0), 2000), None);
        refuse(&mut pacer, t0 + secs(1.0), 2000);
        assert_eq!(
            pacer.ready_at(t0 + secs(1.0), 2000),
            Some(t0 + WINDOW),
            "the refused batch waits for the first request to leave"
        );
        // Far under the limit, a 429 is not about the pace: nothing waits.
        let mut under = confirmed(10_000.0);
        accept(&mut under, t0, 2000);
        refuse(&mut under, t0 + secs(1.0), 2000);
        assert_eq!(under.ready_at(t0 + secs(1.0), 2000), None);
    }

    #[test]
    fn retry_after_pauses_every_send() {
        let mut pacer = Pacer::new(Some(1000), true, WINDOW);
        let t0 = Instant::now();
        pacer.sent(t0, 1000);
        pacer.rate_limited(t0, 1000);
        pacer.pause(t0 + secs(2.0));
        assert_eq!(pacer.ready_at(t0 + secs(1.0), 1), Some(t0 + secs(2.0)));
        // After the pause the bucket is full again: a whole burst goes at once.
        assert_eq!(pacer.ready_at(t0 + secs(2.0), 1000), None);
    }

    #[test]
    fn not_adaptive_keeps_the_cap_and_learns_nothing() {
        let mut pacer = Pacer::new(Some(500), false, WINDOW);
        let t0 = Instant::now();
        for _ in 0..3 {
            refuse(&mut pacer, t0, 100);
        }
        assert_eq!(pacer.limit(), None);
        assert_eq!(pacer.cap, Some(500.0));
        let mut unpaced = Pacer::new(None, false, WINDOW);
        refuse(&mut unpaced, t0, 100);
        refuse(&mut unpaced, t0, 100);
        assert_eq!(unpaced.ready_at(t0, 2000), None);
    }

    #[test]
    fn a_request_larger_than_the_burst_still_goes() {
        let mut pacer = Pacer::new(Some(100), true, WINDOW);
        let t0 = Instant::now();
        let at = pacer
            .ready_at(t0, 2000)
            .expect("a wait for the bucket to fill");
        assert!(at <= t0 + secs(20.0), "{:?}", at - t0);
        assert_eq!(pacer.ready_at(at, 2000), None);
    }
}
