//! How fast a delivery sends: a token bucket whose rate follows Mixpanel's per-project limit.
//!
//! Mixpanel limits ingestion per project (`docs/mixpanel-facts.md` §6: about 30k events/s over a rolling
//! minute) and answers 429 past it. A client that only learns from 429s sends every batch
//! too early, gets it refused, and waits. This pacer spends events from a bucket that
//! refills at `rate` events per second and holds one second's worth, so that a batch goes
//! out when the bucket has room for it, and adapts the rate:
//!
//! - Until the first 429 there is no rate: a project with headroom is not slowed down.
//! - On a 429 (for a request sent since the last decrease), the rate becomes a little
//!   under the limit as measured: the events accepted since the previous 429, over the time
//!   since. Between two 429s the server's own bucket went from empty to empty, so that is
//!   its refill rate; for the first 429, the events accepted since the first send stand in
//!   (an overestimate while the server's burst lasted, which the next 429 corrects).
//! - While answers succeed, the rate rises by [`INCREASE_PER_EVENT`] per event accepted,
//!   about 5% per second at the rate, to find headroom again.
//! - A `Retry-After` pauses every send until it has passed, not only the refused batch.
//!   The bucket keeps filling meanwhile, as the server's does, so the pause costs no
//!   throughput.
//!
//! [`Config::max_rate`](crate::Config::max_rate) caps the rate from the first send;
//! [`Config::adaptive_pacing`](crate::Config::adaptive_pacing) turns the adaptation off.

use std::time::{Duration, Instant};

/// The fraction of the measured limit the rate drops to after a 429: low enough to let the
/// server's bucket refill, high enough to lose little throughput.
const DECREASE: f64 = 0.9;

/// Rate gained per event accepted, in events per second: 5% a second at any rate, so that
/// a rate lowered by a passing 429 recovers within seconds.
const INCREASE_PER_EVENT: f64 = 0.05;

/// How much the bucket holds, in seconds of the rate: Mixpanel's limit is a rolling window,
/// which takes such a burst after a pause.
const BURST: Duration = Duration::from_secs(1);

/// Floating-point dust: less than this of a missing token does not hold a send back.
const TOKEN_SLACK: f64 = 1e-6;

/// The shortest window a limit is measured over: below it, the count of events says
/// nothing.
const SHORTEST_WINDOW: Duration = Duration::from_millis(10);

/// Pacing state of one delivery.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    adaptive: bool,
    /// The configured cap, events per second.
    cap: Option<f64>,
    /// The adapted rate, once a 429 has set one.
    adapted: Option<f64>,
    /// Events the bucket holds, as of `refilled_at`.
    tokens: f64,
    refilled_at: Option<Instant>,
    paused_until: Option<Instant>,
    /// When the measuring window opened (the first send, then each 429 that lowered the
    /// rate), and the events accepted since.
    window: Option<(Instant, u64)>,
}

impl Pacer {
    /// A pacer capped at `max_rate` events per second (if any), adapting to 429s when
    /// `adaptive`.
    pub(crate) fn new(max_rate: Option<u32>, adaptive: bool) -> Self {
        let cap = max_rate.map(f64::from);
        Self {
            adaptive,
            cap,
            adapted: None,
            // The first refill fills a whole burst.
            tokens: 0.0,
            refilled_at: None,
            paused_until: None,
            window: None,
        }
    }

    /// The rate in force, events per second; `None` when sends are not paced.
    pub(crate) fn rate(&self) -> Option<f64> {
        match (self.cap, self.adapted) {
            (Some(cap), Some(adapted)) => Some(cap.min(adapted)),
            (cap, adapted) => cap.or(adapted),
        }
    }

    /// When a request of `events` events may go: `None` for now, else the instant.
    pub(crate) fn ready_at(&mut self, now: Instant, events: usize) -> Option<Instant> {
        if let Some(until) = self.paused_until.filter(|until| *until > now) {
            return Some(until);
        }
        let rate = self.rate()?;
        self.refill(now, rate, events);
        let missing = events as f64 - self.tokens;
        // In whole microseconds, at least one, so that a driver waiting for it always moves
        // on; a rounding error's worth of a token is forgiven.
        (missing > TOKEN_SLACK)
            .then(|| now + Duration::from_micros((missing / rate * 1e6).round().max(1.0) as u64))
    }

    /// A request of `events` events went out at `now`.
    pub(crate) fn sent(&mut self, now: Instant, events: usize) {
        self.window.get_or_insert((now, 0));
        if let Some(rate) = self.rate() {
            self.refill(now, rate, events);
            self.tokens -= events as f64;
        }
    }

    /// `events` events were accepted.
    pub(crate) fn accepted(&mut self, events: usize) {
        if let Some((_, accepted)) = &mut self.window {
            *accepted += events as u64;
        }
        if let Some(rate) = &mut self.adapted {
            *rate += INCREASE_PER_EVENT * events as f64;
        }
    }

    /// A request sent at `sent_at` was answered 429 at `now`. (A `Retry-After` it carried
    /// is a [`Pacer::pause`], as for any status.)
    pub(crate) fn rate_limited(&mut self, now: Instant, sent_at: Instant) {
        let stale = self.lowered_at().is_some_and(|lowered| sent_at < lowered);
        if !self.adaptive || stale {
            return;
        }
        let (opened, accepted) = self.window.unwrap_or((sent_at, 0));
        let window = now.saturating_duration_since(opened).max(SHORTEST_WINDOW);
        let measured = accepted as f64 / window.as_secs_f64();
        let limit = match (self.adapted, accepted) {
            // Nothing accepted since the last decrease: no measure, a step down.
            (Some(rate), 0) => rate,
            (Some(rate), _) => measured.min(rate),
            // Refused before anything was accepted (other senders use the limit up): no
            // measure yet; the batch's backoff and any Retry-After hold the sends back.
            (None, 0) => return,
            (None, _) => measured,
        };
        // At least one event a second, so that a delivery never stalls for good.
        self.adapted = Some((limit * DECREASE).max(1.0));
        self.window = Some((now, 0));
    }

    /// When the rate was last lowered: 429s for requests sent before that were sent at the
    /// old rate, and are not a reason to lower it again. Each decrease opens a new window,
    /// and nothing else does once the rate is adapted.
    fn lowered_at(&self) -> Option<Instant> {
        self.adapted.and(self.window.map(|(opened, _)| opened))
    }

    /// Pauses every send until `until` (a server's `Retry-After`).
    pub(crate) fn pause(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |paused| paused.max(until)));
    }

    /// Fills the bucket for the time since the last refill, up to one burst (and at least
    /// room for one request of `events`, so that any request can go eventually).
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

    #[test]
    fn without_a_cap_or_a_429_nothing_waits() {
        let mut pacer = Pacer::new(None, true);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(pacer.ready_at(now, 2000), None);
            pacer.sent(now, 2000);
        }
        assert_eq!(pacer.rate(), None);
    }

    #[test]
    fn a_cap_spends_one_burst_then_paces_at_the_rate() {
        let mut pacer = Pacer::new(Some(1000), true);
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
    fn a_429_lowers_the_rate_under_the_measured_limit_and_success_raises_it() {
        let mut pacer = Pacer::new(None, true);
        let t0 = Instant::now();
        pacer.sent(t0, 2000);
        // 20,000 accepted in the first half second (a full server bucket), then a 429:
        // 40,000 a second, an overestimate the next 429 corrects.
        pacer.accepted(20_000);
        pacer.rate_limited(t0 + secs(0.5), t0);
        assert_eq!(pacer.rate(), Some(40_000.0 * DECREASE));
        // 429s for requests sent before the decrease do not lower it again.
        pacer.rate_limited(t0 + secs(0.6), t0 + secs(0.4));
        assert_eq!(pacer.rate(), Some(36_000.0));
        // Accepted events raise it by 5% of the events.
        pacer.accepted(18_000);
        assert_eq!(pacer.rate(), Some(36_900.0));
        // The next 429 measures the events accepted between the two, the server's refill:
        // 40,000 in 2 s.
        pacer.accepted(22_000);
        pacer.rate_limited(t0 + secs(2.5), t0 + secs(2.4));
        assert_eq!(pacer.rate(), Some(20_000.0 * DECREASE));
        // A measure above the rate the client was held to does not raise it.
        pacer.accepted(50_000);
        pacer.rate_limited(t0 + secs(4.5), t0 + secs(4.4));
        assert_eq!(pacer.rate(), Some(20_500.0 * DECREASE));
    }

    #[test]
    fn retry_after_pauses_every_send_and_the_bucket_fills_meanwhile() {
        let mut pacer = Pacer::new(Some(1000), true);
        let t0 = Instant::now();
        pacer.sent(t0, 1000);
        pacer.rate_limited(t0, t0);
        pacer.pause(t0 + secs(2.0));
        assert_eq!(pacer.ready_at(t0 + secs(1.0), 1), Some(t0 + secs(2.0)));
        // After the pause the bucket is full again: a whole burst goes at once.
        assert_eq!(pacer.ready_at(t0 + secs(2.0), 1000), None);
    }

    #[test]
    fn a_429_before_anything_was_accepted_steps_a_known_rate_down_and_sets_none() {
        let t0 = Instant::now();
        let mut unknown = Pacer::new(None, true);
        unknown.sent(t0, 2000);
        unknown.rate_limited(t0 + secs(0.1), t0);
        assert_eq!(unknown.rate(), None);
        let mut known = Pacer::new(None, true);
        known.sent(t0, 2000);
        known.accepted(10_000);
        known.rate_limited(t0 + secs(1.0), t0);
        assert_eq!(known.rate(), Some(9_000.0));
        known.sent(t0 + secs(1.5), 2000);
        known.rate_limited(t0 + secs(2.0), t0 + secs(1.5));
        assert_eq!(known.rate(), Some(9_000.0 * DECREASE));
    }

    #[test]
    fn not_adaptive_keeps_the_cap_and_still_honours_retry_after() {
        let mut pacer = Pacer::new(Some(500), false);
        let t0 = Instant::now();
        pacer.sent(t0, 100);
        pacer.accepted(100);
        pacer.rate_limited(t0, t0);
        pacer.pause(t0 + secs(1.0));
        assert_eq!(pacer.rate(), Some(500.0));
        assert_eq!(pacer.ready_at(t0, 1), Some(t0 + secs(1.0)));
        let mut unpaced = Pacer::new(None, false);
        unpaced.rate_limited(t0, t0);
        assert_eq!(unpaced.rate(), None);
    }

    #[test]
    fn a_request_larger_than_the_burst_still_goes() {
        let mut pacer = Pacer::new(Some(100), true);
        let t0 = Instant::now();
        let at = pacer
            .ready_at(t0, 2000)
            .expect("a wait for the bucket to fill");
        assert!(at <= t0 + secs(20.0), "{:?}", at - t0);
        assert_eq!(pacer.ready_at(at, 2000), None);
    }
}
