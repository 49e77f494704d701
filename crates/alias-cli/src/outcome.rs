//! One alias's outcome in words: the line `create` prints and the `reason` of a failed row.

use alias_core::{AliasOutcome, Rejection};

/// The outcome in one word.
pub(crate) fn kind(outcome: &AliasOutcome) -> &'static str {
    match outcome {
        AliasOutcome::Accepted => "accepted",
        AliasOutcome::Rejected(_) => "rejected",
        AliasOutcome::Invalid(_) => "invalid",
        AliasOutcome::Undelivered(_) => "undelivered",
    }
}

/// Why an alias was not accepted; `None` when it was.
pub(crate) fn detail(outcome: &AliasOutcome) -> Option<String> {
    match outcome {
        AliasOutcome::Accepted => None,
        AliasOutcome::Rejected(rejection) => Some(rejection.to_string()),
        AliasOutcome::Invalid(invalid) => Some(invalid.to_string()),
        AliasOutcome::Undelivered(undelivered) => Some(undelivered.to_string()),
    }
}

/// What became of an alias that was not accepted, in one line (`kind: detail`); `None`
/// when it was.
pub(crate) fn reason(outcome: &AliasOutcome) -> Option<String> {
    detail(outcome).map(|detail| format!("{}: {detail}", kind(outcome)))
}

/// What the operator can do about an outcome that was not an acceptance.
pub(crate) fn advice(outcome: &AliasOutcome) -> &'static str {
    match outcome {
        AliasOutcome::Accepted => "",
        AliasOutcome::Rejected(Rejection::Credentials { .. }) => {
            "check --token and, with --endpoint import, the service account or project secret"
        }
        AliasOutcome::Rejected(Rejection::IdentityEventsNotAllowed { .. }) => {
            "run it again with --link association --association-event NAME"
        }
        AliasOutcome::Rejected(_) => "fix the value Mixpanel names, then send it again",
        AliasOutcome::Invalid(_) => "fix the value named, then send it again",
        AliasOutcome::Undelivered(_) => {
            "send it again later as it is: its $insert_id lets Mixpanel drop a copy that did arrive"
        }
    }
}

#[cfg(test)]
mod tests {
    use alias_core::http::StatusCode;
    use alias_core::{
        DeliveryError, ValidationError, delivery::Undelivered, wire::Field, wire::Problem,
    };

    use super::*;

    #[test]
    fn each_failure_says_what_happened_and_what_to_do() {
        let denied = AliasOutcome::Rejected(Rejection::Credentials {
            status: StatusCode::UNAUTHORIZED,
            message: "Invalid credentials".into(),
        });
        assert_eq!(
            reason(&denied).unwrap(),
            "rejected: HTTP 401 Unauthorized: Invalid credentials"
        );
        assert!(advice(&denied).contains("--token"));
        let invalid = AliasOutcome::Invalid(ValidationError::new(Field::Alias, Problem::Empty));
        assert_eq!(
            reason(&invalid).unwrap(),
            "invalid: properties.alias must not be empty"
        );
        let lost = AliasOutcome::Undelivered(Undelivered {
            attempts: 2,
            last_error: DeliveryError::Abandoned,
        });
        assert!(reason(&lost).unwrap().starts_with("undelivered: "));
        assert!(advice(&lost).contains("again"));
        assert_eq!(reason(&AliasOutcome::Accepted), None);
    }
}
