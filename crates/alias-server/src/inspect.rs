//! The inspection API: what the server stored, for tests and tooling.
//!
//! A stable contract: `GET /_inspect/stats`, `GET /_inspect/events`,
//! `GET /_inspect/identity/{percent-encoded id}` and `POST /_inspect/reset`.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::shared::Shared;

/// The prefix of every inspection path.
pub(crate) const PREFIX: &str = "/_inspect/";

/// Answers the inspection request for `rest`, the path after [`PREFIX`].
pub(crate) fn handle(shared: &Shared, method: &Method, rest: &str) -> Response<Full<Bytes>> {
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
        Route::Events => json(StatusCode::OK, shared.state().store.events()),
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

fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    // Stats, events (JSON values) and identities always serialize.
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The answer for any path the server does not serve.
pub(crate) fn not_found() -> Response<Full<Bytes>> {
    json(
        StatusCode::NOT_FOUND,
        &Error {
            error: "not found: the server serves /track, /import and /_inspect/".to_owned(),
        },
    )
}
