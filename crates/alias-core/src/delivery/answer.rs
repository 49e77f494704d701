//! What an answer says about each alias of its request, beyond its verdict: whether its
//! status settles the request without a body, and which alias each failed record names.

use http::StatusCode;

use crate::delivery::report::{AliasOutcome, Rejection};
use crate::wire::parse::FailedRecord;

/// Whether an answer's status settles a request without its body: a refusal (4xx) that is
/// not a passing one (408, 429). Success needs the body (it may list failed records), and a
/// 5xx is retried either way.
pub(crate) fn decides_alone(status: StatusCode) -> bool {
    status.is_client_error()
        && status != StatusCode::REQUEST_TIMEOUT
        && status != StatusCode::TOO_MANY_REQUESTS
}

/// The outcome of each of the `len` events of a request answered with `failed` records.
///
/// A record with an index names one event. Records without one (Simplified ID Merge answers
/// plain strings) are about the request: they refuse every event no indexed record names,
/// when the answer says nothing was imported. An answer that names an event outside the
/// request, or that mixes unindexed records with imported events, cannot be mapped back:
/// the error says why.
pub(crate) fn per_alias(
    status: StatusCode,
    len: usize,
    imported: Option<u64>,
    failed: Vec<FailedRecord>,
) -> Result<Vec<AliasOutcome>, String> {
    if failed.iter().any(|f| f.index.is_some_and(|i| i >= len)) {
        return Err("failed_records names an index outside the request".to_owned());
    }
    let (indexed, whole): (Vec<_>, Vec<_>) = failed.into_iter().partition(|f| f.index.is_some());
    let whole_request = (!whole.is_empty()).then(|| {
        let messages: Vec<String> = whole.into_iter().map(|f| f.message).collect();
        Rejection::classify(status, None, messages.join("; "))
    });
    if whole_request.is_some() && imported.is_some_and(|n| n > 0) {
        return Err(
            "failed_records holds records about the whole request, yet some events were imported"
                .to_owned(),
        );
    }
    let unnamed = match whole_request {
        Some(rejection) => AliasOutcome::Rejected(rejection),
        None => AliasOutcome::Accepted,
    };
    let mut outcomes = vec![unnamed; len];
    for record in indexed {
        if let Some(index) = record.index {
            outcomes[index] =
                AliasOutcome::Rejected(Rejection::classify(status, record.field, record.message));
        }
    }
    Ok(outcomes)
}
