//! Mixpanel's answers into a [`Verdict`].
//!
//! Every answer form of the ingestion endpoints is recognised by its status and shape, not
//! by what was asked for: proxies answer HTML, `/import` answers strict JSON even without
//! `strict=1`, and old deployments answer a bare `1`.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Response, StatusCode, header};
use serde::Deserialize;

use crate::error::ParseError;
use crate::escape::escape_controls;
use crate::snippet::snippet;

/// The verbose error Mixpanel gives for a passing server-side fault: worth retrying.
pub const TEMPORARY_FAILURE: &str = "a temporary failure occurred";

/// What an answer means for the events of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every event was accepted (which, on `/track`, does not prove the token is valid).
    Accepted {
        /// `num_records_imported`, when the answer says it.
        imported: Option<u64>,
    },
    /// Strict validation refused some events; the others were ingested.
    PartiallyRejected {
        /// `num_records_imported`, when the answer says it.
        imported: Option<u64>,
        /// The refused events, by position in the request.
        failed: Vec<FailedRecord>,
    },
    /// The whole request was refused for good (bad data or credentials): do not retry.
    Rejected {
        /// The HTTP status.
        status: StatusCode,
        /// Mixpanel's message, or the start of the body.
        message: String,
    },
    /// The request is too large (413, or 414 for a GET): split it.
    TooLarge {
        /// Mixpanel's message, or the start of the body.
        message: String,
    },
    /// A passing failure (429, 5xx, a temporary error): send the same request again later.
    Retry {
        /// The HTTP status.
        status: StatusCode,
        /// The server's `Retry-After`, if it gave one.
        retry_after: Option<RetryAfter>,
        /// Mixpanel's message, or the start of the body.
        message: String,
    },
}

/// The message Mixpanel puts in `failed_records` when a project on Simplified ID Merge
/// refuses identity events (`$create_alias`, `$identify`, `$merge`) on `/import` (`docs/mixpanel-facts.md` §7).
pub const IDENTITY_EVENTS_NOT_ALLOWED: &str =
    "identity events are not allowed when project is using simplified identity management";

/// One entry of a strict answer's `failed_records`.
///
/// Mixpanel's API spec shows objects naming the refused event by `index`; a project on
/// Simplified ID Merge answers plain strings instead, which name no event (`docs/mixpanel-facts.md` §7). Both
/// forms are read, also mixed in one answer: a string becomes a record with only a
/// `message`, and is written back as a string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(from = "WireRecord", into = "WireRecord")]
pub struct FailedRecord {
    /// 0-based position of the event in the request; `None` for a record given as a plain
    /// string, which is about the request rather than one event.
    pub index: Option<usize>,
    /// The event's `$insert_id`, when it had one. The wire key is `insert_id`; Mixpanel's
    /// prose says `$insert_id`; both are read.
    pub insert_id: Option<String>,
    /// The refused field, e.g. `properties.time`.
    pub field: Option<String>,
    /// Why it was refused.
    pub message: String,
}

impl FailedRecord {
    /// A record given as a plain string: a message about the whole request.
    pub fn message_only(message: impl Into<String>) -> Self {
        Self {
            index: None,
            insert_id: None,
            field: None,
            message: message.into(),
        }
    }
}

/// The two wire forms of a failed record.
#[derive(Deserialize, serde::Serialize)]
#[serde(untagged)]
enum WireRecord {
    Text(String),
    Object {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        #[serde(default, alias = "$insert_id", skip_serializing_if = "Option::is_none")]
        insert_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(default)]
        message: String,
    },
}

impl From<WireRecord> for FailedRecord {
    fn from(wire: WireRecord) -> Self {
        match wire {
            WireRecord::Text(message) => Self::message_only(message),
            WireRecord::Object {
                index,
                insert_id,
                field,
                message,
            } => Self {
                index,
                insert_id,
                field,
                message,
            },
        }
    }
}

impl From<FailedRecord> for WireRecord {
    fn from(record: FailedRecord) -> Self {
        match record {
            FailedRecord {
                index: None,
                insert_id: None,
                field: None,
                message,
            } => Self::Text(message),
            FailedRecord {
                index,
                insert_id,
                field,
                message,
            } => Self::Object {
                index,
                insert_id,
                field,
                message,
            },
        }
    }
}

/// When the server asks the client to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// After this long (`Retry-After: 120`).
    Delay(Duration),
    /// At this time (`Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`).
    At(SystemTime),
}

impl RetryAfter {
    /// Reads a `Retry-After` header, ignoring one that is neither seconds nor an HTTP date.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Self::Delay(Duration::from_secs(seconds)));
        }
        httpdate::parse_http_date(value).ok().map(Self::At)
    }

    /// The delay this asks for, seen from `now`.
    pub fn delay_from(self, now: SystemTime) -> Duration {
        match self {
            Self::Delay(delay) => delay,
            Self::At(at) => at.duration_since(now).unwrap_or_default(),
        }
    }
}

/// The verbose and strict JSON answers, read leniently: `status` is a string in the API spec
/// and an integer in the Go SDK's fixtures; `error` is `null` or `""` when there is none.
#[derive(Debug, Deserialize)]
struct JsonAnswer {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    status: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    num_records_imported: Option<u64>,
    #[serde(default)]
    failed_records: Option<Vec<FailedRecord>>,
}

impl JsonAnswer {
    fn is_strict(&self) -> bool {
        self.code.is_some() || self.num_records_imported.is_some() || self.failed_records.is_some()
    }

    fn error(&self) -> Option<&str> {
        self.error.as_deref().filter(|e| !e.is_empty())
    }

    /// `status` of a verbose answer: `1`/`0`, or their string forms.
    fn verbose_ok(&self) -> Option<bool> {
        match self.status.as_ref()? {
            serde_json::Value::Number(n) => n.as_u64().map(|n| n == 1),
            serde_json::Value::String(s) => match s.as_str() {
                "1" | "OK" | "ok" => Some(true),
                "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Reads an answer. Errors only for a success status whose body means nothing known; every
/// failure status maps to a verdict whatever its body.
///
/// ```
/// use alias_core::{wire::Verdict, wire::parse_response};
///
/// let response = http::Response::builder()
///     .status(200)
///     .body(br#"{"status":1,"error":null}"#.to_vec())?;
/// assert_eq!(parse_response(&response)?, Verdict::Accepted { imported: None });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_response<B: AsRef<[u8]>>(response: &Response<B>) -> Result<Verdict, ParseError> {
    let status = response.status();
    let body = response.body().as_ref();
    let trimmed = body.trim_ascii();
    let json = parse_json(trimmed);
    let message = |fallback: &str| {
        json.as_ref()
            .and_then(|j| j.error().map(str::to_owned))
            .unwrap_or_else(|| {
                let text = snippet(trimmed);
                if text.is_empty() {
                    fallback.to_owned()
                } else {
                    text
                }
            })
    };

    match status.as_u16() {
        200..=299 => match (trimmed, &json) {
            (b"1", _) => Ok(Verdict::Accepted { imported: None }),
            (b"0", _) => Ok(Verdict::Rejected {
                status,
                message: "Mixpanel answered 0: one or more events are invalid".to_owned(),
            }),
            (_, Some(answer)) if answer.is_strict() => Ok(strict_verdict(status, answer)),
            (_, Some(answer)) => match answer.verbose_ok() {
                Some(true) => Ok(Verdict::Accepted { imported: None }),
                Some(false) => Ok(verbose_failure(
                    status,
                    answer
                        .error()
                        .unwrap_or("status 0 without an error message"),
                )),
                None => Err(ParseError::new(status, body)),
            },
            _ => Err(ParseError::new(status, body)),
        },
        400 => match &json {
            Some(answer)
                if answer
                    .failed_records
                    .as_ref()
                    .is_some_and(|f| !f.is_empty()) =>
            {
                Ok(strict_verdict(status, answer))
            }
            _ => Ok(Verdict::Rejected {
                status,
                message: message("bad request"),
            }),
        },
        408 | 429 | 500..=599 => Ok(Verdict::Retry {
            status,
            retry_after: RetryAfter::from_headers(response.headers()),
            message: message(status.canonical_reason().unwrap_or("server error")),
        }),
        413 | 414 => Ok(Verdict::TooLarge {
            message: message("request too large"),
        }),
        code if (400..500).contains(&code) => Ok(Verdict::Rejected {
            status,
            message: message(status.canonical_reason().unwrap_or("refused")),
        }),
        _ => Err(ParseError::new(status, body)),
    }
}

/// The JSON answer in `body`, its text escaped for printing (see [`escape_controls`]).
fn parse_json(body: &[u8]) -> Option<JsonAnswer> {
    if body.first() != Some(&b'{') {
        return None;
    }
    let mut answer: JsonAnswer = serde_json::from_slice(body).ok()?;
    let escape = |text: &mut String| {
        if let Cow::Owned(escaped) = escape_controls(text) {
            *text = escaped;
        }
    };
    answer.error.as_mut().map(escape);
    for record in answer.failed_records.iter_mut().flatten() {
        escape(&mut record.message);
        record.field.as_mut().map(escape);
        record.insert_id.as_mut().map(escape);
    }
    Some(answer)
}

fn verbose_failure(status: StatusCode, error: &str) -> Verdict {
    if error == TEMPORARY_FAILURE {
        Verdict::Retry {
            status,
            retry_after: None,
            message: error.to_owned(),
        }
    } else {
        Verdict::Rejected {
            status,
            message: error.to_owned(),
        }
    }
}

fn strict_verdict(status: StatusCode, answer: &JsonAnswer) -> Verdict {
    match &answer.failed_records {
        Some(failed) if !failed.is_empty() => Verdict::PartiallyRejected {
            imported: answer.num_records_imported,
            failed: failed.clone(),
        },
        _ if status.is_success() => Verdict::Accepted {
            imported: answer.num_records_imported,
        },
        _ => Verdict::Rejected {
            status,
            message: answer.error().unwrap_or("rejected").to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<Verdict, ParseError> {
        parse_response(
            &Response::builder()
                .status(status)
                .body(body.as_bytes().to_vec())
                .unwrap(),
        )
    }

    #[test]
    fn plain_answers() {
        assert_eq!(answer(200, "1"), Ok(Verdict::Accepted { imported: None }));
        assert_eq!(answer(200, "1\n"), Ok(Verdict::Accepted { imported: None }));
        assert!(matches!(answer(200, "0"), Ok(Verdict::Rejected { .. })));
    }

    #[test]
    fn verbose_answers() {
        assert_eq!(
            answer(200, r#"{"status":1,"error":null}"#),
            Ok(Verdict::Accepted { imported: None })
        );
        assert_eq!(
            answer(200, r#"{"status":1,"error":""}"#),
            Ok(Verdict::Accepted { imported: None })
        );
        assert_eq!(
            answer(200, r#"{"status":0,"error":"token, missing or empty"}"#),
            Ok(Verdict::Rejected {
                status: StatusCode::OK,
                message: "token, missing or empty".into()
            })
        );
        assert!(matches!(
            answer(
                200,
                r#"{"status":0,"error":"a temporary failure occurred"}"#
            ),
            Ok(Verdict::Retry { .. })
        ));
    }

    #[test]
    fn strict_answers_with_either_status_type_and_insert_id_key() {
        assert_eq!(
            answer(
                200,
                r#"{"code":200,"num_records_imported":3,"status":"OK"}"#
            ),
            Ok(Verdict::Accepted { imported: Some(3) })
        );
        assert_eq!(
            answer(200, r#"{"code":200,"num_records_imported":3,"status":1}"#),
            Ok(Verdict::Accepted { imported: Some(3) })
        );
        let body = r#"{"code":400,"error":"some data points in the request failed validation","failed_records":[{"index":1,"insert_id":"a1","field":"properties.time","message":"bad"},{"index":2,"$insert_id":"b2","field":"properties.alias","message":"worse"}],"num_records_imported":1,"status":"Bad Request"}"#;
        let Ok(Verdict::PartiallyRejected { imported, failed }) = answer(400, body) else {
            panic!("not partial");
        };
        assert_eq!(imported, Some(1));
        assert_eq!(failed[0].insert_id.as_deref(), Some("a1"));
        assert_eq!(failed[1].insert_id.as_deref(), Some("b2"));
        assert_eq!(failed[1].field.as_deref(), Some("properties.alias"));
    }

    #[test]
    fn failed_records_as_strings_objects_or_both() {
        let strings = format!(
            r#"{{"code":400,"error":"x","failed_records":["{IDENTITY_EVENTS_NOT_ALLOWED}"],"num_records_imported":0,"status":"Bad Request"}}"#
        );
        assert_eq!(
            answer(400, &strings),
            Ok(Verdict::PartiallyRejected {
                imported: Some(0),
                failed: vec![FailedRecord::message_only(IDENTITY_EVENTS_NOT_ALLOWED)],
            })
        );
        let mixed = r#"{"code":400,"failed_records":["whole",{"index":3,"message":"one"}],"num_records_imported":0,"status":"Bad Request"}"#;
        let Ok(Verdict::PartiallyRejected { failed, .. }) = answer(400, mixed) else {
            panic!("not partial");
        };
        assert_eq!(failed[0], FailedRecord::message_only("whole"));
        assert_eq!(
            (failed[1].index, failed[1].message.as_str()),
            (Some(3), "one")
        );
        // Written back in the form they were read.
        assert_eq!(
            serde_json::to_string(&failed).unwrap(),
            r#"["whole",{"index":3,"message":"one"}]"#
        );
    }

    #[test]
    fn text_from_the_server_cannot_drive_a_terminal() {
        let Ok(Verdict::Rejected { message, .. }) = answer(
            200,
            "{\"status\":0,\"error\":\"bad\\u001b]0;pwned\\u0007\\r\"}",
        ) else {
            panic!("not rejected");
        };
        assert_eq!(message, "bad\\u{1b}]0;pwned\\u{7}\\r");
        let body = r#"{"code":400,"failed_records":[{"index":0,"field":"a\u001b[2J","message":"\u202etxt.exe"}],"status":"Bad Request"}"#;
        let Ok(Verdict::PartiallyRejected { failed, .. }) = answer(400, body) else {
            panic!("not partial");
        };
        assert_eq!(failed[0].field.as_deref(), Some("a\\u{1b}[2J"));
        assert_eq!(failed[0].message, "\\u{202e}txt.exe");
        let html = answer(503, "<h1>\u{1b}[31mdown</h1>");
        let Ok(Verdict::Retry { message, .. }) = html else {
            panic!("not a retry");
        };
        assert_eq!(message, "\\u{1b}[31mdown");
    }

    #[test]
    fn failure_statuses_whatever_the_body() {
        assert_eq!(
            answer(
                401,
                r#"{"code":401,"error":"Invalid credentials","status":"Unauthorized"}"#
            ),
            Ok(Verdict::Rejected {
                status: StatusCode::UNAUTHORIZED,
                message: "Invalid credentials".into()
            })
        );
        assert!(matches!(
            answer(413, "<html>too big</html>"),
            Ok(Verdict::TooLarge { .. })
        ));
        // A proxy's page is told by its title, not pasted whole into the message.
        let page = "<html>\r\n<head><title>503 Service Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(
            answer(503, page),
            Ok(Verdict::Retry {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: None,
                message: "503 Service Unavailable".into()
            })
        );
        assert!(matches!(answer(502, ""), Ok(Verdict::Retry { .. })));
        assert!(matches!(
            answer(400, "not json"),
            Ok(Verdict::Rejected { .. })
        ));
    }

    #[test]
    fn retry_after_in_seconds_or_date() {
        let response = Response::builder()
            .status(429)
            .header("retry-after", "7")
            .body(Vec::new())
            .unwrap();
        let Ok(Verdict::Retry { retry_after, .. }) = parse_response(&response) else {
            panic!("no retry");
        };
        assert_eq!(retry_after, Some(RetryAfter::Delay(Duration::from_secs(7))));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let response = Response::builder()
            .status(503)
            .header("retry-after", httpdate::fmt_http_date(at))
            .body(Vec::new())
            .unwrap();
        let Ok(Verdict::Retry { retry_after, .. }) = parse_response(&response) else {
            panic!("no retry");
        };
        assert_eq!(retry_after, Some(RetryAfter::At(at)));
        assert_eq!(
            RetryAfter::At(at).delay_from(at - Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn unknown_success_bodies_are_errors_with_a_bounded_snippet() {
        let json = format!(r#"{{"status":"{}"}}"#, "x".repeat(10_000));
        let err = answer(200, &json).unwrap_err();
        assert_eq!(err.status, StatusCode::OK);
        assert_eq!(err.snippet.len(), ParseError::SNIPPET_CHARS);
        let text = answer(200, &"x".repeat(10_000)).unwrap_err();
        assert_eq!(text.snippet.len(), ParseError::PAGE_EXCERPT_CHARS);
        assert!(answer(302, "").is_err());
        let html = answer(200, "<html>\n  <body>\n\t503  </body>\n</html>").unwrap_err();
        assert_eq!(html.snippet, "503");
        assert_eq!(
            html.to_string(),
            r#"unexpected answer (HTTP 200 OK): "503""#
        );
        assert!(answer(200, "").is_err());
        assert!(answer(200, r#"{"status":"maybe"}"#).is_err());
    }
}
