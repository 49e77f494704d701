//! The HTTP service: routing, bounded body reading, faults, and the answer.

use std::sync::Arc;
use std::time::Duration;

use alias_core::server::{Answer, AnswerStyle, Api, DecodeError, decode_request, encode_response};
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, EXPECT, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body as _, Incoming};

use crate::faults::Fault;
use crate::ingest::{Arrival, apply, check_request, rate_limited};
use crate::inspect::{self, ResponseBody};
use crate::shared::{Settings, Shared};

/// Why a connection is closed without an answer. Returning it from the service makes
/// hyper drop the connection, which is exactly what the `reset` and `ack_lost` faults and
/// a stalled upload call for.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Close {
    /// The `reset` fault.
    #[error("fault injected: reset")]
    Reset,
    /// The `ack_lost` fault, after storing.
    #[error("fault injected: ack_lost")]
    AckLost,
    /// The body did not arrive in time.
    #[error("the body was not received within {0:?}")]
    BodyTimeout(Duration),
    /// The connection failed while the body was read.
    #[error("reading the body failed: {0}")]
    BodyRead(String),
}

/// Serves one request.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Close> {
    let path = request.uri().path();
    if let Some(rest) = path.strip_prefix(inspect::PREFIX) {
        let query = request.uri().query();
        return Ok(inspect::handle(&shared, request.method(), rest, query));
    }
    // The decoder reads the endpoint from the path the same way.
    if Api::of_path(path).is_some() {
        let mut response = ingestion(&shared, request).await?;
        // The server's own clock, skewed as configured, as Mixpanel's answers carry
        // Mixpanel's: clients read it to keep their event times out of its future.
        let date = httpdate::fmt_http_date(shared.settings.now());
        if let Ok(date) = HeaderValue::from_str(&date) {
            response.headers_mut().insert(DATE, date);
        }
        return Ok(response);
    }
    Ok(inspect::not_found())
}

async fn ingestion(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Close> {
    let settings = &shared.settings;
    let fault = {
        let mut state = shared.state();
        state.store.stats.requests += 1;
        let fault = state.dice.roll();
        if fault.is_some() {
            state.store.stats.faults_injected += 1;
        }
        fault
    };
    let limit = settings.limits.max_body_bytes;
    let (parts, body) = request.into_parts();
    let early_answer = match fault {
        Some(Fault::Reset) => return Err(Close::Reset),
        Some(Fault::RateLimited) => Some(rate_limited(settings, None)),
        // Gateways fail with an HTML page; Mixpanel's own servers with JSON.
        Some(Fault::Status(status)) if matches!(status.as_u16(), 502 | 503) => {
            Some(Answer::ProxyError { status })
        }
        Some(Fault::Status(status)) => Some(Answer::ServerError { status }),
        Some(Fault::AckLost | Fault::Slow) | None => declared_length(&parts.headers)
            .is_some_and(|len| len > limit)
            .then_some(Answer::TooLarge { limit }),
    };
    if let Some(answer) = early_answer {
        if expects_continue(&parts.headers) {
            // The client waits for leave to send its body, and polling the body would give
            // that leave (hyper answers `100 Continue` on the first read). Answer at once
            // and close instead: the body never comes.
            let mut response = respond(&answer);
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return Ok(response);
        }
        // Many clients write the whole body before they read the answer; closing on an
        // unread body would show them a broken pipe instead of the answer. Read what is
        // left and throw it away, within bounds; past them the connection closes.
        discard(body, settings).await?;
        return Ok(respond(&answer));
    }
    // `Limited` fails as soon as more than `limit` bytes have arrived, so an oversized
    // body is never buffered whole.
    let read = tokio::time::timeout(settings.body_timeout, Limited::new(body, limit).collect());
    let bytes = match read.await {
        Err(_) => return Err(Close::BodyTimeout(settings.body_timeout)),
        Ok(Err(error)) if error.is::<LengthLimitError>() => {
            return Ok(respond(&Answer::TooLarge { limit }));
        }
        Ok(Err(error)) => return Err(Close::BodyRead(error.to_string())),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let request = Request::from_parts(parts, bytes);

    let response = match decode_request(&request, &settings.limits) {
        Ok(decoded) => {
            let checked = check_request(settings, decoded, Arrival::now(settings));
            let ingested = apply(settings, &mut shared.state(), checked);
            // After the state is unlocked: the hook is the embedder's code.
            if let Some(hook) = &settings.unknown_token_hook {
                for token in &ingested.unknown_tokens {
                    hook.call(token);
                }
            }
            respond(&ingested.answer)
        }
        Err(error) => undecodable(&request, error),
    };
    match fault {
        Some(Fault::AckLost) => return Err(Close::AckLost),
        Some(Fault::Slow) => tokio::time::sleep(settings.slow_delay).await,
        _ => {}
    }
    Ok(response)
}

/// The most an early answer reads of a body it does not need before closing instead.
const MAX_DISCARD_BYTES: u64 = 16 * 1024 * 1024;

/// Reads and drops `body`, or fails when it is longer than [`MAX_DISCARD_BYTES`] or slower
/// than the body timeout, so that the connection is closed. A body declared longer than
/// that is left unread: the answer goes out at once and the connection closes after it.
async fn discard(mut body: Incoming, settings: &Settings) -> Result<(), Close> {
    if body.size_hint().lower() > MAX_DISCARD_BYTES {
        return Ok(());
    }
    let drain = async {
        let mut seen = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Close::BodyRead(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                seen += data.len() as u64;
                if seen > MAX_DISCARD_BYTES {
                    return Err(Close::BodyRead(
                        "an unread body is too long to drain".to_owned(),
                    ));
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(settings.body_timeout, drain)
        .await
        .map_err(|_| Close::BodyTimeout(settings.body_timeout))?
}

/// Whether the client waits for `100 Continue` before it sends the body.
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(EXPECT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("100-continue"))
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The answer to a request that does not decode, in the style it asked for when that can
/// be told.
fn undecodable(request: &Request<Bytes>, error: DecodeError) -> Response<ResponseBody> {
    let answer = match error {
        DecodeError::TooLarge { limit } => Answer::TooLarge { limit },
        DecodeError::BadAuthorization { .. } => Answer::invalid_credentials(),
        DecodeError::MethodNotAllowed { .. } | DecodeError::UnknownPath { .. } => {
            let status = if matches!(error, DecodeError::UnknownPath { .. }) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::METHOD_NOT_ALLOWED
            };
            let mut response = Response::new(Full::new(Bytes::from(error.to_string())).boxed());
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return response;
        }
        other => Answer::failure(AnswerStyle::for_undecodable(request), other.to_string()),
    };
    respond(&answer)
}

fn respond(answer: &Answer) -> Response<ResponseBody> {
    encode_response(answer).map(|body| Full::new(Bytes::from(body)).boxed())
}
