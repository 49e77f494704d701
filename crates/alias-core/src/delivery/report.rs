//! What became of each alias.

use http::StatusCode;

use crate::error::{ParseError, TransportError, ValidationError};
use crate::wire::create_alias::CreateAlias;
use crate::wire::parse::IDENTITY_EVENTS_NOT_ALLOWED;

/// The final result for one alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasOutcome {
    /// Mixpanel accepted the event.
    Accepted,
    /// Mixpanel refused the event for good; sending it again will not help.
    Rejected(Rejection),
    /// The alias failed validation and was never sent.
    Invalid(ValidationError),
    /// No final answer came within the retry budget; the alias may be sent again as it is.
    Undelivered(Undelivered),
}

impl AliasOutcome {
    /// Whether the alias was accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted)
    }

    /// `Ok` for an accepted alias, the reason as an [`AliasError`] otherwise: the shape a
    /// one-alias call returns.
    ///
    /// ```
    /// use alias_core::{delivery::AliasError, AliasOutcome, DeliveryError, delivery::Undelivered};
    ///
    /// assert_eq!(AliasOutcome::Accepted.into_result(), Ok(()));
    /// let lost = Undelivered { attempts: 8, last_error: DeliveryError::Abandoned };
    /// assert_eq!(
    ///     AliasOutcome::Undelivered(lost.clone()).into_result(),
    ///     Err(AliasError::Undelivered(lost))
    /// );
    /// ```
    pub fn into_result(self) -> Result<(), AliasError> {
        match self {
            Self::Accepted => Ok(()),
            Self::Rejected(rejection) => Err(AliasError::Rejected(rejection)),
            Self::Invalid(invalid) => Err(AliasError::Invalid(invalid)),
            Self::Undelivered(undelivered) => Err(AliasError::Undelivered(undelivered)),
        }
    }
}

/// Why one alias was not accepted: the error of the adapters' one-call `create_alias`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    /// The alias failed validation and was never sent.
    #[error("invalid alias: {0}")]
    Invalid(#[from] ValidationError),
    /// Mixpanel refused it for good; sending it again will not help.
    #[error("rejected by Mixpanel: {0}")]
    Rejected(Rejection),
    /// No final answer came within the retry budget; it may be sent again as it is.
    #[error("undelivered: {0}")]
    Undelivered(Undelivered),
}

/// Why Mixpanel refused an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The event (or the request carrying it) was refused for what it holds: strict
    /// validation names the field, other answers only a message.
    #[error("HTTP {status}: {}{message}", .field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Refused {
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The refused field, when strict validation named one (e.g. `properties.time`).
        field: Option<String>,
        /// Mixpanel's message.
        message: String,
    },
    /// The project uses Simplified ID Merge, whose `/import` refuses identity events
    /// (`$create_alias` included) whole; on `/track` it stores them without merging. Ids are
    /// linked there by an event carrying both `$device_id` and `$user_id`. Every later
    /// `$create_alias` of the project is refused the same way.
    #[error(
        "HTTP {status}: the project uses Simplified ID Merge, which refuses $create_alias ({IDENTITY_EVENTS_NOT_ALLOWED:?}); link the ids with an association event ($device_id and $user_id) instead"
    )]
    IdentityEventsNotAllowed {
        /// The HTTP status of the answer.
        status: StatusCode,
    },
    /// The credentials were refused (401 or 403): every later request with them will be.
    #[error("HTTP {status}: {message}")]
    Credentials {
        /// The HTTP status of the answer.
        status: StatusCode,
        /// Mixpanel's message.
        message: String,
    },
}

impl Rejection {
    /// The refusal Mixpanel's answer stands for: the Simplified ID Merge message and
    /// refused credentials are told apart from a refusal of this one event.
    pub fn classify(status: StatusCode, field: Option<String>, message: String) -> Self {
        if message == IDENTITY_EVENTS_NOT_ALLOWED {
            Self::IdentityEventsNotAllowed { status }
        } else if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            Self::Credentials { status, message }
        } else {
            Self::Refused {
                status,
                field,
                message,
            }
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Refused { status, .. }
            | Self::IdentityEventsNotAllowed { status }
            | Self::Credentials { status, .. } => *status,
        }
    }

    /// The refused field, when strict validation named one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Refused { field, .. } => field.as_deref(),
            Self::IdentityEventsNotAllowed { .. } | Self::Credentials { .. } => None,
        }
    }

    /// Mixpanel's message.
    pub fn message(&self) -> &str {
        match self {
            Self::Refused { message, .. } | Self::Credentials { message, .. } => message,
            Self::IdentityEventsNotAllowed { .. } => IDENTITY_EVENTS_NOT_ALLOWED,
        }
    }

    /// Whether every later request to the project will be refused the same way, whatever
    /// it carries: Simplified ID Merge's refusal of identity events, and refused
    /// credentials. A delivery stops sending after one (see [`DeliveryError::Refused`]).
    pub fn is_project_level(&self) -> bool {
        matches!(
            self,
            Self::IdentityEventsNotAllowed { .. } | Self::Credentials { .. }
        )
    }
}

/// Why an alias is handed back undelivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{last_error} (after {attempts} attempts)")]
pub struct Undelivered {
    /// How many times its request was sent.
    pub attempts: u32,
    /// The last failure seen.
    pub last_error: DeliveryError,
}

/// A failure that kept a request from getting a final answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The transport failed (connect, timeout, reset).
    #[error("transport: {0}")]
    Transport(TransportError),
    /// The server answered with a passing failure (429, 5xx) until the budget ran out.
    #[error("HTTP {status}: {message}")]
    Status {
        /// The last status.
        status: StatusCode,
        /// The last message.
        message: String,
    },
    /// The server answered something that is not Mixpanel's protocol.
    #[error(transparent)]
    UnexpectedAnswer(ParseError),
    /// The delivery was finished before this alias got an answer.
    #[error("abandoned before an answer arrived")]
    Abandoned,
    /// The server refused the request as a whole without saying which of its events it
    /// refused (a non-strict `0`), and the events carry no `$insert_id` (idempotent
    /// delivery is off), so sending parts of it again could store some twice. Some of its
    /// events may have been stored.
    #[error(
        "HTTP {status}: {message}; which events of the request were refused cannot be told, and without idempotent delivery they are not sent again"
    )]
    Undetermined {
        /// The status of the answer.
        status: StatusCode,
        /// Mixpanel's message.
        message: String,
    },
    /// Not sent: an earlier request of the delivery was refused for a reason that refuses
    /// every request to the project ([`Rejection::is_project_level`]), so sending it would
    /// only be refused too. Once the cause is fixed, it may be sent again as it is.
    #[error("not sent, since an earlier request was refused: {0}")]
    Refused(Rejection),
    /// Not delivered: the server never answered the delivery, and its requests failed to
    /// connect (or timed out) [`RetryPolicy::max_attempts_unreached`] times, so the host
    /// is taken as unreachable (a wrong host or port, no network). Nothing was delivered;
    /// once the host is reachable, the aliases may be sent again as they are.
    ///
    /// [`RetryPolicy::max_attempts_unreached`]: crate::wire::RetryPolicy::max_attempts_unreached
    #[error("the server was never reached ({0}); nothing was delivered")]
    Unreachable(TransportError),
}

/// One alias and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportEntry {
    /// The alias's position among all aliases added to the delivery, from 0.
    pub position: u64,
    /// The alias as sent: with the `time` and `$insert_id` it was given, so that sending it
    /// again deduplicates against the first try.
    pub alias: CreateAlias,
    /// What became of it.
    pub outcome: AliasOutcome,
}

/// Counters of a delivery's traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Requests handed out to send.
    pub requests: u64,
    /// Retries scheduled after a passing failure.
    pub retries: u64,
    /// Batches split in two: after a 413, or after a non-strict refusal (`0`) of several
    /// events, to find the refused one.
    pub splits: u64,
    /// Answers 429 (rate limited), each of which slowed the delivery down.
    pub rate_limited: u64,
}

/// The outcome of every alias of a delivery, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// One entry per alias.
    pub entries: Vec<ReportEntry>,
    /// Traffic counters.
    pub stats: DeliveryStats,
}

/// How many aliases ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Accepted by the server.
    pub accepted: u64,
    /// Refused by the server.
    pub rejected: u64,
    /// Refused by validation before sending.
    pub invalid: u64,
    /// Handed back after the retry budget ran out.
    pub undelivered: u64,
}

impl Tally {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: &AliasOutcome) {
        match outcome {
            AliasOutcome::Accepted => self.accepted += 1,
            AliasOutcome::Rejected(_) => self.rejected += 1,
            AliasOutcome::Invalid(_) => self.invalid += 1,
            AliasOutcome::Undelivered(_) => self.undelivered += 1,
        }
    }

    /// All aliases counted.
    pub fn total(&self) -> u64 {
        self.accepted + self.rejected + self.invalid + self.undelivered
    }
}

impl Report {
    /// How many aliases ended each way.
    pub fn tally(&self) -> Tally {
        let mut tally = Tally::default();
        for entry in &self.entries {
            tally.add(&entry.outcome);
        }
        tally
    }

    /// Whether every alias was accepted.
    pub fn all_accepted(&self) -> bool {
        self.entries.iter().all(|e| e.outcome.is_accepted())
    }

    /// The aliases to send again: those undelivered, with their stamps kept.
    pub fn undelivered(&self) -> impl Iterator<Item = &CreateAlias> {
        self.entries
            .iter()
            .filter(|e| matches!(e.outcome, AliasOutcome::Undelivered(_)))
            .map(|e| &e.alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn into_result_keeps_the_reason() {
        let undelivered = AliasOutcome::Undelivered(Undelivered {
            attempts: 3,
            last_error: DeliveryError::Abandoned,
        });
        let error = undelivered.into_result().unwrap_err();
        assert_eq!(
            error.to_string(),
            "undelivered: abandoned before an answer arrived (after 3 attempts)"
        );
    }
}
