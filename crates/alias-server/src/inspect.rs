//! The inspection API: what the server stored, for tests and tooling.
//!
//! A stable contract: `GET /_inspect/stats`, `GET /_inspect/events?offset=N&limit=N`,
//! `GET /_inspect/identity/{percent-encoded id}` and `POST /_inspect/reset`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::listing::{EventListing, Page};
use crate::shared::Shared;

/// The body of every answer the server writes: whole for most, written as it goes for a
/// listing of events, the one answer that can be too large to build whole.
pub(crate) type ResponseBody = BoxBody<Bytes, Infallible>;

/// The prefix of every inspection path.
pub(crate) const PREFIX: &str = "/_inspect/";

/// Answers the inspection request for `rest`, the path after [`PREFIX`], with `query`.
pub(crate) fn handle(
    shared: &Arc<Shared>,
    method: &Method,
    rest: &str,
    query: Option<&str>,
) -> Response<ResponseBody> {
    let route = Route::of(rest);
    if route != Route::Unknown && method != route.method() {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            &Error {
                error: format!("use {} here", route.method()),
            },
        );
    }
    match route {
        Route::Stats => json(StatusCode::OK, &shared.state().store.stats),
        Route::Events => match Page::from_query(query) {
            Ok(page) => with_json_type(Response::new(
                EventListing::new(Arc::clone(shared), page).boxed(),
            )),
            Err(error) => json(StatusCode::BAD_REQUEST, &Error { error }),
        },
        Route::Identity(encoded) => {
            let Ok(id) = percent_decode_str(encoded).decode_utf8() else {
                return json(
                    StatusCode::BAD_REQUEST,
                    &Error {
                        error: "the id is not UTF-8 once percent-decoded".to_owned(),
                    },
                );
            };
            match shared.state().store.identity(&id) {
                Some(identity) => json(StatusCode::OK, &identity),
                None => json(
                    StatusCode::NOT_FOUND,
                    &Error {
                        error: format!("no event has mentioned the id {id:?}"),
                    },
                ),
            }
        }
        Route::Reset => {
            shared.reset();
            json(StatusCode::OK, &Reset { reset: true })
        }
        Route::Unknown => not_found(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Stats,
    Events,
    Identity(&'a str),
    Reset,
    Unknown,
}

impl<'a> Route<'a> {
    fn of(rest: &'a str) -> Self {
        match rest {
            "stats" => Self::Stats,
            "events" => Self::Events,
            "reset" => Self::Reset,
            _ => match rest.strip_prefix("identity/") {
                Some(id) if !id.is_empty() => Self::Identity(id),
                _ => Self::Unknown,
            },
        }
    }

    fn method(self) -> Method {
        match self {
            Self::Reset => Method::POST,
            _ => Method::GET,
        }
    }
}

#[derive(Serialize)]
struct Error {
    error: String,
}

#[derive(Serialize)]
struct Reset {
    reset: bool,
}

fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<ResponseBody> {
    // Stats, errors and identities always serialize.
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = status;
    with_json_type(response)
}

fn with_json_type(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The answer for any path the server does not serve.
pub(crate) fn not_found() -> Response<ResponseBody> {
    json(
        StatusCode::NOT_FOUND,
        &Error {
            error: "not found: the server serves /track, /import and /_inspect/".to_owned(),
        },
    )
}
