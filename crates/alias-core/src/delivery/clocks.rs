//! The two clocks a delivery reads: this machine's wall clock, reckoned from one reading
//! at the start, and Mixpanel's, as its answers' `Date` headers tell it.
//!
//! Mixpanel overwrites an event time ahead of its own clock at arrival
//! (`docs/mixpanel-facts.md` §8), so a time given on a machine whose clock runs fast would
//! differ between a request and its retry, and the retry would escape dedup. The times a
//! delivery gives are therefore set behind the server's clock as far as it is known.

use std::time::{Duration, Instant, SystemTime};

use http::Response;

/// What the delivery knows of the server's clock. Until the first answer it knows nothing,
/// and a host that cannot be reached ends the delivery early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerClock {
    /// No answer yet.
    Unknown,
    /// Answers came without a `Date`: nothing to go by.
    Untold,
    /// This machine's clock is this much ahead of the server's (zero when behind).
    Ahead(Duration),
}

/// A delivery's wall clock and its reading of the server's.
#[derive(Debug, Clone)]
pub(crate) struct Clocks {
    started: Instant,
    wall_at_start: SystemTime,
    /// How far ahead of the server's this machine's clock may run, before an answer says.
    max_ahead: Duration,
    server: ServerClock,
}

impl Clocks {
    /// Clocks read at `now` (monotonic) and `wall_now` (the same moment on the wall
    /// clock), assuming this machine up to `max_ahead` ahead of the server until told.
    pub(crate) fn new(now: Instant, wall_now: SystemTime, max_ahead: Duration) -> Self {
        Self {
            started: now,
            wall_at_start: wall_now,
            max_ahead,
            server: ServerClock::Unknown,
        }
    }

    /// The wall clock at the monotonic instant `now`, as the delivery reckons it from its
    /// start: one reading of the wall clock, so that every time it derives agrees.
    pub(crate) fn wall(&self, now: Instant) -> SystemTime {
        self.wall_at_start + now.saturating_duration_since(self.started)
    }

    /// `wall_now` set back by this machine's lead on the server's clock as far as it is
    /// known: the whole allowance before any answer, nothing when answers tell no `Date`.
    pub(crate) fn behind_the_server(&self, wall_now: SystemTime) -> SystemTime {
        let lead = match self.server {
            ServerClock::Unknown => self.max_ahead,
            ServerClock::Untold => Duration::ZERO,
            ServerClock::Ahead(ahead) => ahead,
        };
        wall_now.checked_sub(lead).unwrap_or(wall_now)
    }

    /// Whether no answer has come yet: a host never answered may not be there at all.
    pub(crate) fn never_answered(&self) -> bool {
        self.server == ServerClock::Unknown
    }

    /// Reads the server's clock off an answer's `Date` header, received at `now`.
    pub(crate) fn read<B>(&mut self, response: &Response<B>, now: Instant) {
        let date = response
            .headers()
            .get(http::header::DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| httpdate::parse_http_date(value).ok());
        let Some(date) = date else {
            if self.server == ServerClock::Unknown {
                self.server = ServerClock::Untold;
            }
            return;
        };
        // `Date` is the server's time rounded down to the second: reading this machine's
        // lead off it errs on the side of a lead too large, never too small.
        let ahead = self
            .wall(now)
            .duration_since(date)
            .unwrap_or(Duration::ZERO);
        self.server = ServerClock::Ahead(ahead);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_dated(date: Option<SystemTime>) -> Response<()> {
        let mut answer = Response::builder();
        if let Some(date) = date {
            answer = answer.header(http::header::DATE, httpdate::fmt_http_date(date));
        }
        answer.body(()).unwrap()
    }

    #[test]
    fn times_go_behind_the_server_by_what_is_known_of_its_clock() {
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut clocks = Clocks::new(now, wall, Duration::from_secs(600));
        assert!(clocks.never_answered());
        assert_eq!(
            clocks.behind_the_server(wall),
            wall - Duration::from_secs(600)
        );
        // The server's clock is 90 s behind this machine's.
        clocks.read(&answer_dated(Some(wall - Duration::from_secs(90))), now);
        assert!(!clocks.never_answered());
        assert_eq!(
            clocks.behind_the_server(wall),
            wall - Duration::from_secs(90)
        );
        // A server ahead of this machine leaves times as they are.
        clocks.read(&answer_dated(Some(wall + Duration::from_secs(30))), now);
        assert_eq!(clocks.behind_the_server(wall), wall);
        assert_eq!(
            clocks.wall(now + Duration::from_secs(5)),
            wall + Duration::from_secs(5)
        );
    }

    #[test]
    fn answers_without_a_date_leave_times_as_they_are() {
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut clocks = Clocks::new(now, wall, Duration::from_secs(600));
        clocks.read(&answer_dated(None), now);
        assert!(!clocks.never_answered());
        assert_eq!(clocks.behind_the_server(wall), wall);
    }
}
