//! Mixpanel's answers, byte for byte (`docs/mixpanel-facts.md` §5).

use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use serde::Serialize;

use super::decode::is_form;
use super::request::{Api, DecodedRequest, Params};
use crate::wire::parse::{FailedRecord, IDENTITY_EVENTS_NOT_ALLOWED};

/// The error of a strict 400 whose events were partly refused.
pub const VALIDATION_FAILED: &str = "some data points in the request failed validation";

/// The error of a 401.
pub const INVALID_CREDENTIALS: &str = "Invalid credentials";

/// The error of a 429.
pub const RATE_LIMITED: &str =
    "Project exceeded rate limits. Please retry the request with exponential backoff.";

/// The verbose error for events without a token.
pub const MISSING_TOKEN: &str = "token, missing or empty";

/// Which family of bodies a request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerStyle {
    /// `1` or `0` as `text/plain`: `/track` by default.
    Plain,
    /// `{"status":1,"error":null}`: `/track` with `verbose=1`.
    Verbose,
    /// `{"code":...,"status":"..."}`: `/import` always, `/track` with `strict=1`.
    Strict,
}

impl AnswerStyle {
    /// The style an endpoint answers with, given its parameters.
    pub fn of(api: Api, params: &Params) -> Self {
        match api {
            Api::Import => Self::Strict,
            Api::Track if params.strict == Some(true) => Self::Strict,
            Api::Track if params.verbose => Self::Verbose,
            Api::Track => Self::Plain,
        }
    }

    /// The style for a decoded request.
    pub fn for_decoded(request: &DecodedRequest) -> Self {
        Self::of(request.api, &request.params)
    }

    /// A best guess at the style of a request that could not be decoded: from its path and
    /// query, and from its form body when that is plain (not compressed) urlencoded text.
    pub fn for_undecodable<B: AsRef<[u8]>>(request: &Request<B>) -> Self {
        let api = if request
            .uri()
            .path()
            .trim_end_matches('/')
            .ends_with("/import")
        {
            Api::Import
        } else {
            Api::Track
        };
        let mut params = Params::default();
        let mut read = |encoded: &[u8]| {
            for (name, value) in form_urlencoded::parse(encoded) {
                params.set(&name, &value);
            }
        };
        read(request.uri().query().unwrap_or("").as_bytes());
        let is_plain_form = is_form(request.headers())
            && !request
                .headers()
                .contains_key(http::header::CONTENT_ENCODING);
        if is_plain_form {
            read(request.body().as_ref());
        }
        Self::of(api, &params)
    }
}

/// One of Mixpanel's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `1` (accepted) or `0` (anything went wrong), `text/plain`, no newline.
    Plain(bool),
    /// `{"status":1,"error":null}`, or `{"status":0,"error":"..."}` with the message.
    Verbose {
        /// The error, or `None` for success.
        error: Option<String>,
    },
    /// 200 `{"code":200,"num_records_imported":N,"status":"OK"}`.
    Imported {
        /// How many events were ingested.
        num_records_imported: u64,
    },
    /// 400 with `failed_records`: some events were refused, the others ingested.
    ValidationFailed {
        /// How many events were ingested.
        num_records_imported: u64,
        /// The refused events.
        failed_records: Vec<FailedRecord>,
    },
    /// 400 `{"code":400,"error":"...","status":"Bad Request"}`: the whole request is refused.
    BadRequest {
        /// Why.
        error: String,
    },
    /// 401 `{"code":401,"error":"...","status":"Unauthorized"}`.
    Unauthorized {
        /// Why; [`INVALID_CREDENTIALS`] in general.
        error: String,
    },
    /// 413 `request exceeds max limit of N bytes`.
    TooLarge {
        /// The limit in force, in bytes.
        limit: usize,
    },
    /// 429 with [`RATE_LIMITED`]. Mixpanel documents no `Retry-After` for ingestion
    /// (`docs/mixpanel-facts.md` §6), so the header is sent only when a value is given.
    RateLimited {
        /// The `Retry-After` value, in seconds, if the header is sent.
        retry_after_secs: Option<u64>,
    },
    /// A 5xx from Mixpanel itself, as strict JSON with `a temporary failure occurred`.
    ServerError {
        /// The status, expected in 500..=599.
        status: StatusCode,
    },
    /// A 5xx from a front-end proxy: an HTML page, not JSON.
    ProxyError {
        /// The status, expected in 500..=599.
        status: StatusCode,
    },
}

impl Answer {
    /// Success for `imported` events, in `style`.
    pub fn success(style: AnswerStyle, imported: u64) -> Self {
        match style {
            AnswerStyle::Plain => Self::Plain(true),
            AnswerStyle::Verbose => Self::Verbose { error: None },
            AnswerStyle::Strict => Self::Imported {
                num_records_imported: imported,
            },
        }
    }

    /// The whole request refused with `error`, in `style`.
    pub fn failure(style: AnswerStyle, error: impl Into<String>) -> Self {
        match style {
            AnswerStyle::Plain => Self::Plain(false),
            AnswerStyle::Verbose => Self::Verbose {
                error: Some(error.into()),
            },
            AnswerStyle::Strict => Self::BadRequest {
                error: error.into(),
            },
        }
    }

    /// The strict 400 of a project on Simplified ID Merge that was sent identity events
    /// (`$create_alias`, `$identify`, `$merge`) on `/import`, as a live probe saw it
    /// (`docs/mixpanel-facts.md` §7): nothing of the request imported, and one failed record that is a plain
    /// string, [`IDENTITY_EVENTS_NOT_ALLOWED`].
    pub fn identity_events_not_allowed() -> Self {
        Self::ValidationFailed {
            num_records_imported: 0,
            failed_records: vec![FailedRecord::message_only(IDENTITY_EVENTS_NOT_ALLOWED)],
        }
    }

    /// 401 with [`INVALID_CREDENTIALS`].
    pub fn invalid_credentials() -> Self {
        Self::Unauthorized {
            error: INVALID_CREDENTIALS.to_owned(),
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Plain(_) | Self::Verbose { .. } | Self::Imported { .. } => StatusCode::OK,
            Self::ValidationFailed { .. } | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServerError { status } | Self::ProxyError { status } => *status,
        }
    }
}

// The wire shapes. Field order is the order on the wire, which is Mixpanel's: keys sorted.

#[derive(Serialize)]
struct VerboseBody<'a> {
    status: u8,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct ImportedBody {
    code: u16,
    num_records_imported: u64,
    status: &'static str,
}

#[derive(Serialize)]
struct ValidationBody<'a> {
    code: u16,
    error: &'static str,
    failed_records: &'a [FailedRecord],
    num_records_imported: u64,
    status: &'static str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u16,
    error: &'a str,
    status: &'static str,
}

/// Builds the HTTP response of an answer.
///
/// ```
/// use alias_core::server::{Answer, encode_response};
///
/// let response = encode_response(&Answer::Imported { num_records_imported: 2 });
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.body(), br#"{"code":200,"num_records_imported":2,"status":"OK"}"#);
/// ```
pub fn encode_response(answer: &Answer) -> Response<Vec<u8>> {
    let status = answer.status();
    let reason = status_text(status);
    let (content_type, body) = match answer {
        Answer::Plain(ok) => (TEXT, if *ok { b"1".to_vec() } else { b"0".to_vec() }),
        Answer::Verbose { error } => (
            JSON,
            json(&VerboseBody {
                status: u8::from(error.is_none()),
                error: error.as_deref(),
            }),
        ),
        Answer::Imported {
            num_records_imported,
        } => (
            JSON,
            json(&ImportedBody {
                code: 200,
                num_records_imported: *num_records_imported,
                status: "OK",
            }),
        ),
        Answer::ValidationFailed {
            num_records_imported,
            failed_records,
        } => (
            JSON,
            json(&ValidationBody {
                code: 400,
                error: VALIDATION_FAILED,
                failed_records,
                num_records_imported: *num_records_imported,
                status: reason,
            }),
        ),
        Answer::BadRequest { error } | Answer::Unauthorized { error } => {
            (JSON, error_body(status, error, reason))
        }
        Answer::TooLarge { limit } => (
            JSON,
            error_body(
                status,
                &format!("request exceeds max limit of {limit} bytes"),
                reason,
            ),
        ),
        Answer::RateLimited { .. } => (JSON, error_body(status, RATE_LIMITED, reason)),
        Answer::ServerError { .. } => (
            JSON,
            error_body(status, crate::wire::parse::TEMPORARY_FAILURE, reason),
        ),
        Answer::ProxyError { .. } => (HTML, proxy_page(status, reason).into_bytes()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Answer::RateLimited {
        retry_after_secs: Some(retry_after_secs),
    } = answer
    {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    response
}

/// The `status` text of strict bodies: the HTTP reason phrase, in the older wording
/// Mixpanel uses for 413.
fn status_text(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        other => other.canonical_reason().unwrap_or("Error"),
    }
}

const TEXT: &str = "text/plain";
const JSON: &str = "application/json";
const HTML: &str = "text/html";

fn json(value: &impl Serialize) -> Vec<u8> {
    // These shapes hold only strings, integers and `FailedRecord`s: serializing them into
    // a Vec cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn error_body(status: StatusCode, error: &str, reason: &'static str) -> Vec<u8> {
    json(&ErrorBody {
        code: status.as_u16(),
        error,
        status: reason,
    })
}

/// The page a front-end proxy serves when the service behind it fails.
fn proxy_page(status: StatusCode, reason: &str) -> String {
    let code = status.as_u16();
    format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(answer: &Answer) -> String {
        String::from_utf8(encode_response(answer).into_body()).unwrap()
    }

    #[test]
    fn styles_follow_the_endpoint_and_parameters() {
        let mut params = Params::default();
        assert_eq!(AnswerStyle::of(Api::Track, &params), AnswerStyle::Plain);
        assert_eq!(AnswerStyle::of(Api::Import, &params), AnswerStyle::Strict);
        params.verbose = true;
        assert_eq!(AnswerStyle::of(Api::Track, &params), AnswerStyle::Verbose);
        params.strict = Some(true);
        assert_eq!(AnswerStyle::of(Api::Track, &params), AnswerStyle::Strict);
    }

    #[test]
    fn style_of_an_undecodable_request() {
        let request = Request::post("/p/track?strict=0")
            .header(
                "content-type",
                "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
            )
            .body(b"data=%%%&verbose=1".to_vec())
            .unwrap();
        assert_eq!(AnswerStyle::for_undecodable(&request), AnswerStyle::Verbose);
        let request = Request::post("/import/").body(b"[".to_vec()).unwrap();
        assert_eq!(AnswerStyle::for_undecodable(&request), AnswerStyle::Strict);
        let request = Request::get("/track?data=x").body(b"").unwrap();
        assert_eq!(AnswerStyle::for_undecodable(&request), AnswerStyle::Plain);
    }

    #[test]
    fn success_and_failure_in_each_style() {
        assert_eq!(Answer::success(AnswerStyle::Plain, 3), Answer::Plain(true));
        assert_eq!(
            Answer::failure(AnswerStyle::Verbose, MISSING_TOKEN),
            Answer::Verbose {
                error: Some(MISSING_TOKEN.into())
            }
        );
        assert_eq!(
            Answer::success(AnswerStyle::Strict, 3),
            Answer::Imported {
                num_records_imported: 3
            }
        );
        assert_eq!(
            Answer::failure(AnswerStyle::Strict, "no"),
            Answer::BadRequest { error: "no".into() }
        );
    }

    #[test]
    fn error_messages_are_json_escaped() {
        assert_eq!(
            body(&Answer::Verbose {
                error: Some("say \"hi\"\n".into())
            }),
            r#"{"status":0,"error":"say \"hi\"\n"}"#
        );
    }

    #[test]
    fn proxy_pages_are_html_with_the_status() {
        let response = encode_response(&Answer::ProxyError {
            status: StatusCode::BAD_GATEWAY,
        });
        assert_eq!(response.status(), 502);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html");
        let page = String::from_utf8(response.into_body()).unwrap();
        assert!(page.starts_with("<html>") && page.contains("<h1>502 Bad Gateway</h1>"));
    }
}
