//! When to send a failed request again: Mixpanel's documented backoff, and the budgets.

use std::time::Duration;

/// Backoff and budgets for retrying requests.
///
/// The defaults follow Mixpanel's guidance: "starting with a backoff of 2s and doubling
/// backoff until 60s, with 1-5s of jitter"; a `Retry-After` from the server wins, capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff. Default 2 s.
    pub initial_backoff: Duration,
    /// The backoff stops doubling here. Default 60 s.
    pub max_backoff: Duration,
    /// Least jitter added to each backoff. Default 1 s.
    pub min_jitter: Duration,
    /// Most jitter added to each backoff. Default 5 s.
    pub max_jitter: Duration,
    /// The longest `Retry-After` obeyed; a longer one is cut to this. Default 10 min.
    pub max_retry_after: Duration,
    /// Attempts per request, the first included, before its aliases are handed back as
    /// undelivered. Attempts answered 429 do not count: at volume they are expected, and
    /// `max_elapsed` bounds them. Default 8.
    pub max_attempts: u32,
    /// Time from a request's first attempt after which it is not retried. Each request
    /// has its own, so that a long import retries its last request as patiently as its
    /// first. Default 15 min.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            min_jitter: Duration::from_secs(1),
            max_jitter: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(600),
            max_attempts: 8,
            max_elapsed: Duration::from_secs(900),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry).
    ///
    /// `jitter` is a number in `[0, 1)` drawn by the caller; it picks a point between
    /// `min_jitter` and `max_jitter`. A server's `retry_after` replaces the backoff and its
    /// jitter: the server said when, and adding to it only delays the alias.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(asked) = retry_after {
            return asked.min(self.max_retry_after);
        }
        let doublings = retry.saturating_sub(1).min(31);
        let backoff = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let spread = self.max_jitter.saturating_sub(self.min_jitter);
        backoff + self.min_jitter + spread.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// A policy for tests and loopback runs: the same shape, in milliseconds.
    pub fn fast() -> Self {
        Self {
            initial_backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(60),
            min_jitter: Duration::from_millis(1),
            max_jitter: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(2),
            max_attempts: 8,
            max_elapsed: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_backoff_doubles_to_sixty_seconds_plus_jitter() {
        let policy = RetryPolicy::default();
        let secs = |retry, jitter| policy.delay(retry, None, jitter).as_secs_f64();
        assert_eq!(secs(1, 0.0), 3.0);
        assert_eq!(secs(2, 0.0), 5.0);
        assert_eq!(secs(3, 0.5), 11.0);
        assert_eq!(secs(5, 0.0), 33.0);
        assert_eq!(secs(6, 0.0), 61.0);
        assert_eq!(secs(40, 0.75), 64.0);
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(1)), 0.9),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(86_400)), 0.0),
            Duration::from_secs(600)
        );
    }
}
