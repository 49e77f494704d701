//! The properties that must hold whatever bytes come off the network, written once for the
//! cargo-fuzz targets of `fuzz/` and for the workspace's corpus proptest
//! (`tests/tests/fuzz_corpus.rs`), which runs on stable.
//!
//! Each function reads its input as a raw HTTP/1.1 message, the form of the committed seeds
//! (`fuzz/corpus/<target>/`), so that a mutation reaches the status, the headers and the
//! body alike. It hands the message to the function under test and panics when a property
//! is broken, which a fuzzer reports like a crash of the function itself.
//!
//! Behind the `fuzz` feature and hidden from the docs: a test aid, not part of the API.

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};

use crate::error::ParseError;
use crate::escape::escape_controls;
use crate::server::{
    Answer, AnswerStyle, DecodeLimits, DecodedRequest, Record, decode_request as decode,
    encode_response,
};
use crate::wire::parse::{Verdict, parse_response as parse};

/// Limits small enough that their edges (a body over the limit once decompressed, nesting
/// one level too deep) are reached by mutating the small seeds.
const TIGHT: DecodeLimits = DecodeLimits {
    max_body_bytes: 256,
    max_depth: 4,
};

/// Runs [`parse_response`](crate::wire::parse_response) on `raw` read as an answer
/// (`HTTP/1.1 <status> <reason>`, headers, a blank line, the body) and checks that:
///
/// - every verdict goes with the status it came with, and names that status;
/// - a 4xx or 5xx always gives a verdict, never an error;
/// - the snippet of an error keeps at most [`ParseError::SNIPPET_CHARS`] characters;
/// - no text taken from the answer carries a control character
///   (see [`escape_controls`]).
///
/// # Panics
///
/// When one of these does not hold.
pub fn parse_response(raw: &[u8]) {
    let response = response(raw);
    let status = response.status();
    match parse(&response) {
        Ok(verdict) => check_verdict(status, &verdict),
        Err(error) => {
            assert!(
                !(status.is_client_error() || status.is_server_error()),
                "HTTP {status} gave an error instead of a verdict: {error:?}"
            );
            assert_eq!(error.status, status, "the error names another status");
            assert!(
                error.snippet.chars().count() <= ParseError::SNIPPET_CHARS,
                "a snippet of more than {} characters: {:?}",
                ParseError::SNIPPET_CHARS,
                error.snippet
            );
            assert_escaped(&error.snippet);
        }
    }
}

/// Runs [`server::decode_request`](crate::server::decode_request) on `raw` read as a request
/// (`<METHOD> <target> HTTP/1.1`, headers, a blank line, the body), under the default limits
/// and under tight ones, and checks that:
///
/// - the accessors the reference server calls on every event do not panic;
/// - whatever the request, decoded or not, the answer the server would give it reads back,
///   through [`parse_response`](crate::wire::parse_response), as what it means: success as
///   accepted, the refusal of an undecodable request as rejected.
///
/// # Panics
///
/// When one of these does not hold.
pub fn decode_request(raw: &[u8]) {
    let request = request(raw);
    for limits in [DecodeLimits::default(), TIGHT] {
        let style = match decode(&request, &limits) {
            Ok(decoded) => {
                read_every_event(&decoded);
                AnswerStyle::for_decoded(&decoded)
            }
            Err(error) => {
                let style = AnswerStyle::for_undecodable(&request);
                let answer = Answer::failure(style, error.to_string());
                let verdict = read_back(&answer);
                assert!(
                    matches!(verdict, Verdict::Rejected { .. }),
                    "the refusal {answer:?} reads back as {verdict:?}"
                );
                style
            }
        };
        let answer = Answer::success(style, 1);
        let verdict = read_back(&answer);
        assert!(
            matches!(verdict, Verdict::Accepted { .. }),
            "the success {answer:?} reads back as {verdict:?}"
        );
    }
}

/// What each verdict says about the status it came with.
fn check_verdict(status: StatusCode, verdict: &Verdict) {
    let code = status.as_u16();
    let success = status.is_success();
    let allowed = match verdict {
        Verdict::Accepted { .. } => success,
        Verdict::PartiallyRejected { failed, .. } => !failed.is_empty() && (success || code == 400),
        Verdict::Rejected { status: named, .. } => {
            *named == status && (success || status.is_client_error())
        }
        Verdict::TooLarge { .. } => matches!(code, 413 | 414),
        Verdict::Retry { status: named, .. } => {
            *named == status && (success || matches!(code, 408 | 429 | 500..=599))
        }
    };
    assert!(allowed, "{verdict:?} does not go with HTTP {status}");
    match verdict {
        Verdict::Accepted { .. } => {}
        Verdict::PartiallyRejected { failed, .. } => {
            for record in failed {
                let texts = [Some(&record.message), record.field.as_ref()];
                for text in texts
                    .into_iter()
                    .chain([record.insert_id.as_ref()])
                    .flatten()
                {
                    assert_escaped(text);
                }
            }
        }
        Verdict::Rejected { message, .. }
        | Verdict::TooLarge { message }
        | Verdict::Retry { message, .. } => assert_escaped(message),
    }
}

/// Text from a server is printed to operators: it must not be able to act on a terminal.
fn assert_escaped(text: &str) {
    assert_eq!(
        escape_controls(text),
        text,
        "text from the answer is not escaped"
    );
}

/// Calls every accessor the reference server's rules call on an event, so that a panic in
/// one of them on some decoded value surfaces here.
fn read_every_event(decoded: &DecodedRequest) {
    for record in &decoded.records {
        let _ = record.name();
        if let Record::Event(event) = record {
            let _ = (
                event.distinct_id(),
                event.alias(),
                event.token(),
                event.insert_id(),
                event.time_millis(),
            );
        }
    }
}

/// What a client makes of `answer` as the reference server encodes it.
fn read_back(answer: &Answer) -> Verdict {
    let response = encode_response(answer);
    parse(&response).unwrap_or_else(|error| {
        panic!("the answer {answer:?} cannot be read back: {error}");
    })
}

// Raw HTTP/1.1 into `http` values, leniently: whatever the bytes, a message comes out. A
// header line that does not parse is skipped, a start line that does not parse falls back
// to a default, so the functions under test only ever see values an HTTP stack could hand
// them, and a mutation that breaks one line still exercises the rest.

/// `HTTP/1.1 <status> <reason>` and the rest; a status that does not parse is 200.
fn response(raw: &[u8]) -> Response<&[u8]> {
    let (lines, body) = split(raw);
    let status = lines
        .first()
        .and_then(|line| line.split(|&b| b == b' ').nth(1))
        .and_then(|code| StatusCode::from_bytes(code).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers(lines.get(1..).unwrap_or_default());
    response
}

/// `<METHOD> <target> HTTP/1.1` and the rest; a method that does not parse is POST, a
/// target that does not parse is `/track`.
fn request(raw: &[u8]) -> Request<&[u8]> {
    let (lines, body) = split(raw);
    let mut start = lines
        .first()
        .copied()
        .unwrap_or_default()
        .split(|&b| b == b' ');
    let method = start
        .next()
        .and_then(|method| Method::from_bytes(method).ok())
        .unwrap_or(Method::POST);
    let uri = start
        .next()
        .and_then(|target| Uri::try_from(target).ok())
        .unwrap_or_else(|| Uri::from_static("/track"));
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers(lines.get(1..).unwrap_or_default());
    request
}

/// The head lines (start line first) and the body of a message. The head ends at the first
/// empty line, whichever line ending it uses; `Content-Length` is not read, so that a
/// mutated body need not keep it right.
fn split(raw: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let crlf = find(raw, b"\r\n\r\n").map(|at| (at, 4));
    let lf = find(raw, b"\n\n").map(|at| (at, 2));
    let (head, body) = match crlf.into_iter().chain(lf).min() {
        Some((at, len)) => (&raw[..at], &raw[at + len..]),
        None => (raw, &[][..]),
    };
    let lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect();
    (lines, body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The lines that form a valid header name and value; duplicates are kept.
fn headers(lines: &[&[u8]]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii());
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_keeps_status_headers_and_body() {
        let response = response(b"HTTP/1.1 429 Too Many\r\nretry-after: 1\r\nbad header\r\n\r\n{}");
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(response.headers().len(), 1);
        assert_eq!(*response.body(), b"{}");
    }

    #[test]
    fn a_request_keeps_method_target_headers_and_body() {
        let request = request(b"GET /track?data=x HTTP/1.1\nhost: a\n\nbody\r\n\r\nmore");
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri(), "/track?data=x");
        assert_eq!(request.headers()["host"], "a");
        assert_eq!(*request.body(), b"body\r\n\r\nmore");
    }

    #[test]
    fn garbage_falls_back_to_defaults() {
        let response = response(b"\xff\xfe 99999 \x00");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.body().is_empty());
        let request = request(b"");
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/track");
    }

    #[test]
    #[should_panic(expected = "does not go with HTTP 200 OK")]
    fn a_verdict_against_its_status_is_caught() {
        check_verdict(
            StatusCode::OK,
            &Verdict::TooLarge {
                message: "too large".to_owned(),
            },
        );
    }

    #[test]
    #[should_panic(expected = "not escaped")]
    fn unescaped_text_is_caught() {
        check_verdict(
            StatusCode::BAD_REQUEST,
            &Verdict::Rejected {
                status: StatusCode::BAD_REQUEST,
                message: "\u{1b}[2J".to_owned(),
            },
        );
    }
}
