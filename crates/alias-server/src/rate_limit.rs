//! The per-project rate limit (`docs/mixpanel-facts.md` §6): events and uncompressed bytes
//! over a rolling window, with time passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Mixpanel's documented limit: about 2 GB of uncompressed JSON a minute.
pub(crate) const MIXPANEL_BYTES_PER_MINUTE: u64 = 2_000_000_000;

/// The default window: Mixpanel's "rolling minute".
pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// What a project may send per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Events per window.
    pub(crate) events: u64,
    /// Uncompressed body bytes per window.
    pub(crate) bytes: u64,
    /// The window's length.
    pub(crate) window: Duration,
}

impl Limits {
    /// `events_per_sec` (0 taken as 1; `None`: no limit of events) and `bytes_per_sec`
    /// (`None`: Mixpanel's 2 GB a minute) over `window`.
    pub(crate) fn new(
        events_per_sec: Option<u32>,
        bytes_per_sec: Option<u64>,
        window: Duration,
    ) -> Self {
        let window = window.max(Duration::from_millis(1));
        // Float-to-integer `as` saturates: no rate can overflow.
        let per_window = |per_sec: f64| ((per_sec * window.as_secs_f64()).ceil() as u64).max(1);
        let bytes_per_sec =
            bytes_per_sec.map_or(MIXPANEL_BYTES_PER_MINUTE as f64 / 60.0, |b| b as f64);
        Self {
            events: events_per_sec.map_or(u64::MAX, |e| per_window(f64::from(e.max(1)))),
            bytes: per_window(bytes_per_sec),
            window,
        }
    }
}

/// The requests admitted over the last window, and their totals.
///
/// A request is admitted when it fits, with what the window holds, under both limits. So
/// that every valid request fits eventually, however small the limits, a request is also
/// admitted when the window holds nothing. Refused requests count for nothing.
#[derive(Debug, Clone)]
pub(crate) struct RollingWindow {
    limits: Limits,
    /// When each admitted request arrived, with its events and bytes, oldest first.
    admitted: VecDeque<(Instant, u64, u64)>,
    events: u64,
    bytes: u64,
}

impl RollingWindow {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            admitted: VecDeque::new(),
            events: 0,
            bytes: 0,
        }
    }

    /// Admits a request of `events` events and `bytes` uncompressed bytes at `now`, or
    /// says how long until it would fit.
    pub(crate) fn take(&mut self, events: u64, bytes: u64, now: Instant) -> Result<(), Duration> {
        // Requests are served concurrently: one that read the clock earlier may take its
        // turn later, and must not be filed before the others.
        let now = self.admitted.back().map_or(now, |last| last.0.max(now));
        self.expire(now);
        let fits = |held_events: u64, held_bytes: u64| {
            held_events.saturating_add(events) <= self.limits.events
                && held_bytes.saturating_add(bytes) <= self.limits.bytes
        };
        if self.admitted.is_empty() || fits(self.events, self.bytes) {
            self.admitted.push_back((now, events, bytes));
            self.events += events;
            self.bytes += bytes;
            return Ok(());
        }
        // The request fits once enough of the oldest admissions have left the window.
        let (mut held_events, mut held_bytes) = (self.events, self.bytes);
        let mut leaves = now;
        for &(at, e, b) in &self.admitted {
            held_events -= e;
            held_bytes -= b;
            leaves = at + self.limits.window;
            if fits(held_events, held_bytes) {
                break;
            }
        }
        Err(leaves.saturating_duration_since(now))
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, events, bytes)) = self.admitted.front() {
            if at + self.limits.window > now {
                break;
            }
            self.admitted.pop_front();
            self.events -= events;
            self.bytes -= bytes;
        }
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

    fn window(events: u64, bytes: u64, millis: u64) -> RollingWindow {
        RollingWindow::new(Limits {
            events,
            bytes,
            window: Duration::from_millis(millis),
        })
    }

    #[test]
    fn a_window_worth_at_once_then_nothing_until_it_rolls() {
        let start = Instant::now();
        let mut limit = window(100, u64::MAX, 1000);
        limit.take(60, 0, at(start, 0)).unwrap();
        limit.take(40, 0, at(start, 400)).unwrap();
        // Full: the first 60 leave at 1000 ms, the next 40 at 1400 ms.
        assert_eq!(
            limit.take(1, 0, at(start, 500)),
            Err(Duration::from_millis(500))
        );
        assert_eq!(
            limit.take(61, 0, at(start, 500)),
            Err(Duration::from_millis(900))
        );
        limit.take(60, 0, at(start, 1000)).unwrap();
        assert!(limit.take(1, 0, at(start, 1000)).is_err());
        limit.take(40, 0, at(start, 1400)).unwrap();
    }

    #[test]
    fn bytes_limit_as_events_do() {
        let start = Instant::now();
        let mut limit = window(u64::MAX, 1000, 1000);
        limit.take(1, 800, at(start, 0)).unwrap();
        assert_eq!(
            limit.take(1, 201, at(start, 10)),
            Err(Duration::from_millis(990))
        );
        limit.take(1, 200, at(start, 10)).unwrap();
    }

    #[test]
    fn an_oversized_request_goes_into_an_empty_window() {
        let start = Instant::now();
        let mut limit = window(10, u64::MAX, 1000);
        limit.take(2000, 0, at(start, 0)).unwrap();
        assert_eq!(
            limit.take(2000, 0, at(start, 1)),
            Err(Duration::from_millis(999))
        );
        limit.take(2000, 0, at(start, 1000)).unwrap();
    }

    #[test]
    fn a_refused_request_takes_nothing() {
        let start = Instant::now();
        let mut limit = window(10, u64::MAX, 1000);
        limit.take(10, 0, at(start, 0)).unwrap();
        for _ in 0..5 {
            assert!(limit.take(5, 0, at(start, 100)).is_err());
        }
        limit.take(10, 0, at(start, 1000)).unwrap();
    }

    #[test]
    fn a_late_turn_is_filed_after_the_others() {
        let start = Instant::now();
        let mut limit = window(10, u64::MAX, 1000);
        limit.take(5, 0, at(start, 1000)).unwrap();
        limit.take(5, 0, at(start, 0)).unwrap();
        // Both leave at 2000 ms, not one at 1000 ms.
        assert_eq!(
            limit.take(5, 0, at(start, 1500)),
            Err(Duration::from_millis(500))
        );
    }

    #[test]
    fn limits_per_second_scale_with_the_window() {
        let limits = Limits::new(Some(30_000), None, DEFAULT_WINDOW);
        assert_eq!(limits.events, 1_800_000);
        assert_eq!(limits.bytes, MIXPANEL_BYTES_PER_MINUTE);
        let limits = Limits::new(Some(0), Some(10), Duration::from_millis(500));
        assert_eq!((limits.events, limits.bytes), (1, 5));
        let limits = Limits::new(None, Some(10), Duration::from_secs(1));
        assert_eq!((limits.events, limits.bytes), (u64::MAX, 10));
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
