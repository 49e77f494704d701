//! What both drivers log of each request: one span per attempt, and how it ended.

use http::Response;

use crate::delivery::machine::Outgoing;
use crate::error::TransportError;

/// The span of one request, naming its batch, attempt and number of aliases.
pub(crate) fn attempt_span(outgoing: &Outgoing) -> tracing::Span {
    tracing::debug_span!(
        "attempt",
        batch = outgoing.batch,
        attempt = outgoing.attempt,
        aliases = outgoing.aliases,
    )
}

/// Logs how a request ended, in the span it is called in.
pub(crate) fn answer(result: &Result<Response<Vec<u8>>, TransportError>) {
    match result {
        Ok(response) => tracing::debug!(status = response.status().as_u16(), "answered"),
        Err(error) => tracing::debug!(%error, "transport failed"),
    }
}
