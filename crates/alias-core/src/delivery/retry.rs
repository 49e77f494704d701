//! When to send a failed request again: Mixpanel's documented backoff.
//!
//! The [`RetryPolicy`] is a setting of the [`Config`](crate::Config), so it is defined
//! with it; what a delivery does with it is decided here.

use std::time::Duration;

use crate::wire::config::RetryPolicy;

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
