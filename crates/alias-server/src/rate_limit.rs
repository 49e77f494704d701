//! The per-project rate limit (`docs/mixpanel-facts.md` §6): a token bucket of events, with time passed in.

use std::time::{Duration, Instant};

/// The bucket counts in billionths of an event, so that a refill of `rate` events a second
/// is `rate` per nanosecond, exactly, in integers.
const NANO_EVENTS_PER_EVENT: i128 = 1_000_000_000;

/// A bucket of events, refilled at `rate` events a second, holding one second's worth.
///
/// One request carries up to 2000 events, which can be more than a second's worth. So that
/// every valid request fits eventually, a request is admitted whenever the bucket is full,
/// whatever its size; the bucket then runs into debt, and later requests wait until it is
/// paid back. Bursts stay one second's worth, and over time no more than `rate` events a
/// second get through.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    /// Events per second, at least 1.
    rate: i128,
    /// What the bucket holds, in billionths of an event; negative while in debt.
    level: i128,
    /// When `level` was last brought up to date; `None` until the first request, when
    /// the bucket is full.
    updated: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket for `events_per_sec` events a second (0 is taken as 1).
    pub(crate) fn new(events_per_sec: u32) -> Self {
        let rate = i128::from(events_per_sec.max(1));
        Self {
            rate,
            level: rate * NANO_EVENTS_PER_EVENT,
            updated: None,
        }
    }

    /// Takes `events` out of the bucket at `now`, or says how long until they would fit;
    /// a refused request takes nothing.
    pub(crate) fn take(&mut self, events: u64, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        let wanted = i128::from(events) * NANO_EVENTS_PER_EVENT;
        // A request bigger than the bucket fits when the bucket is full.
        let needed = wanted.min(self.capacity());
        if self.level >= needed {
            self.level -= wanted;
            return Ok(());
        }
        let missing = needed - self.level;
        // Billionths of an event at `rate` events a second: `rate` a nanosecond.
        let nanos = (missing + self.rate - 1) / self.rate;
        Err(Duration::from_nanos(
            u64::try_from(nanos).unwrap_or(u64::MAX),
        ))
    }

    fn capacity(&self) -> i128 {
        self.rate * NANO_EVENTS_PER_EVENT
    }

    fn refill(&mut self, now: Instant) {
        if let Some(updated) = self.updated {
            let elapsed = i128::try_from(now.saturating_duration_since(updated).as_nanos())
                .unwrap_or(i128::MAX);
            let refill = elapsed.saturating_mul(self.rate);
            self.level = self.level.saturating_add(refill).min(self.capacity());
        }
        // Requests are served concurrently: one that read the clock earlier may take its
        // turn later, and must not move the bucket's time back.
        self.updated = Some(self.updated.map_or(now, |updated| updated.max(now)));
    }
}

/// `wait` as a `Retry-After` value: whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0));
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn a_second_worth_at_once_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100);
        bucket.take(60, at(start, 0)).unwrap();
        bucket.take(40, at(start, 0)).unwrap();
        assert_eq!(bucket.take(1, at(start, 0)), Err(Duration::from_millis(10)));
        // Half a second refills 50 events.
        assert_eq!(
            bucket.take(51, at(start, 500)),
            Err(Duration::from_millis(10))
        );
        bucket.take(50, at(start, 500)).unwrap();
        // Never more than one second's worth, however long the wait.
        assert_eq!(
            bucket.take(101, at(start, 100_000)),
            Ok(()),
            "a full bucket takes any request"
        );
    }

    #[test]
    fn a_request_bigger_than_the_bucket_fits_when_full_and_leaves_a_debt() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10);
        bucket.take(1, at(start, 0)).unwrap();
        // 2000 events need the full bucket: 1 event short, 100 ms.
        assert_eq!(
            bucket.take(2000, at(start, 0)),
            Err(Duration::from_millis(100))
        );
        bucket.take(2000, at(start, 100)).unwrap();
        // 1990 events of debt, paid back at 10 a second, then one second to fill.
        assert_eq!(
            bucket.take(2000, at(start, 100)),
            Err(Duration::from_secs(200))
        );
        assert_eq!(
            bucket.take(1, at(start, 100)),
            Err(Duration::from_millis(199_100))
        );
        bucket.take(2000, at(start, 200_100)).unwrap();
    }

    #[test]
    fn a_refused_request_takes_nothing() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10);
        bucket.take(10, at(start, 0)).unwrap();
        for _ in 0..5 {
            assert!(bucket.take(5, at(start, 100)).is_err());
        }
        bucket.take(5, at(start, 500)).unwrap();
    }

    #[test]
    fn a_late_turn_does_not_move_the_clock_back() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10);
        bucket.take(10, at(start, 1000)).unwrap();
        assert!(bucket.take(1, at(start, 0)).is_err());
        bucket.take(1, at(start, 1100)).unwrap();
    }

    #[test]
    fn empty_requests_and_a_zero_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(0);
        bucket.take(1, at(start, 0)).unwrap();
        bucket.take(0, at(start, 0)).unwrap();
        assert_eq!(bucket.take(1, at(start, 0)), Err(Duration::from_secs(1)));
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_secs(Duration::MAX), u64::MAX);
    }
}
