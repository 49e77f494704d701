//! The functions under test, each with the checks that must hold whatever the input, and a
//! short description of what it did with the input: its behaviour.
//!
//! Without coverage instrumentation (cargo-fuzz needs a nightly toolchain), behaviours are
//! the feedback: a mutant that makes the function do something not seen before (another
//! verdict, another error, another wire form) joins the corpus, so later mutants start
//! from it.

use alias_core::server::{
    Answer, AnswerStyle, DecodeLimits, DecodedRequest, Record, decode_request, encode_response,
};
use alias_core::{ParseError, Verdict, parse_response};

use super::wire;

/// A fuzz target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Target {
    /// `alias_core::parse_response`: what clients make of a server's answer.
    ParseResponse,
    /// `alias_core::server::decode_request`: what the server makes of a client's request.
    DecodeRequest,
}

/// Tight limits, tried on some executions so that the limits' edges are reached too.
const TIGHT: DecodeLimits = DecodeLimits {
    max_body_bytes: 256,
    max_depth: 4,
};

impl Target {
    /// Every target.
    pub(crate) const ALL: [Self; 2] = [Self::ParseResponse, Self::DecodeRequest];

    /// The name of the target and of its corpus folder.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::ParseResponse => "parse_response",
            Self::DecodeRequest => "decode_request",
        }
    }

    /// The longest input tried: answers are small, requests can carry a few events.
    pub(crate) fn max_len(self) -> usize {
        match self {
            Self::ParseResponse => 4 * 1024,
            Self::DecodeRequest => 16 * 1024,
        }
    }

    /// Tokens of the target's formats, for the mutator to insert.
    pub(crate) fn dictionary(self) -> &'static [&'static [u8]] {
        match self {
            Self::ParseResponse => &[
                b"HTTP/1.1 ",
                b"\r\nretry-after: ",
                b"\r\ncontent-type: application/json",
                b"{\"status\":",
                b"\"error\":",
                b"\"code\":",
                b"\"num_records_imported\":",
                b"\"failed_records\":[",
                b"{\"index\":",
                b"\"insert_id\":",
                b"\"$insert_id\":",
                b"\"field\":",
                b"\"message\":",
                b"null",
                b"true",
                b"\"OK\"",
                b"\"a temporary failure occurred\"",
                b"\\u0000",
                b"\\ud800",
                b" GMT",
            ],
            Self::DecodeRequest => &[
                b"GET /track?data=",
                b"POST /import?strict=1&project_id=1 HTTP/1.1\r\n",
                b"data=",
                b"&verbose=1",
                b"&strict=1",
                b"\r\ncontent-encoding: gzip",
                b"\r\nauthorization: Basic ",
                b"\r\ncontent-type: application/x-www-form-urlencoded",
                b"\r\ncontent-type: application/json",
                b"%7B",
                b"%5B",
                b"%22",
                b"%",
                b"{\"event\":\"$create_alias\",\"properties\":{",
                b"\"distinct_id\":",
                b"\"time\":",
                b"\"$insert_id\":",
                b"\\u0000",
                b"\\ud800",
                b"\x1f\x8b\x08\x00",
                b"\n",
            ],
        }
    }

    /// Runs the function under test on `input`, checks what must hold, and describes what
    /// it did. A broken check panics, like a crash of the function itself.
    pub(crate) fn run(self, input: &[u8], tight_limits: bool) -> String {
        match self {
            Self::ParseResponse => parse(input),
            Self::DecodeRequest => {
                let limits = if tight_limits {
                    TIGHT
                } else {
                    DecodeLimits::default()
                };
                decode(input, &limits)
            }
        }
    }
}

fn parse(input: &[u8]) -> String {
    let response = wire::response(input);
    let status = response.status().as_u16();
    let class = status_class(status);
    match parse_response(&response) {
        Ok(verdict) => {
            check_verdict(status, &verdict);
            format!("{class}:{}", describe(&verdict))
        }
        Err(error) => {
            assert!(
                error.snippet.chars().count() <= ParseError::SNIPPET_CHARS,
                "an unexpected answer keeps at most {} characters",
                ParseError::SNIPPET_CHARS
            );
            format!("{class}:unexpected")
        }
    }
}

/// The statuses the parser tells apart, and the classes of the others: a behaviour per
/// status code would fill the corpus with copies that differ by a digit.
fn status_class(status: u16) -> String {
    match status {
        200 | 400 | 408 | 413 | 414 | 429 => status.to_string(),
        other => format!("{}xx", other / 100),
    }
}

/// What each verdict says about the status it came with.
fn check_verdict(status: u16, verdict: &Verdict) {
    let allowed = match verdict {
        Verdict::Accepted { .. } => (200..300).contains(&status),
        Verdict::PartiallyRejected { failed, .. } => {
            !failed.is_empty() && (status == 400 || (200..300).contains(&status))
        }
        Verdict::Rejected { .. } => (200..300).contains(&status) || (400..500).contains(&status),
        Verdict::TooLarge { .. } => matches!(status, 413 | 414),
        Verdict::Retry { .. } => {
            (200..300).contains(&status) || matches!(status, 408 | 429 | 500..=599)
        }
    };
    assert!(allowed, "{verdict:?} does not go with HTTP {status}");
}

fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Accepted { imported } => format!("accepted:{}", imported.is_some()),
        Verdict::PartiallyRejected { imported, failed } => format!(
            "partial:{}:{}:{}",
            imported.is_some(),
            failed.len().min(3),
            failed.iter().any(|f| f.insert_id.is_some())
        ),
        Verdict::Rejected { .. } => "rejected".to_owned(),
        Verdict::TooLarge { .. } => "too-large".to_owned(),
        Verdict::Retry { retry_after, .. } => format!("retry:{retry_after:?}")
            .split('(')
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// Decodes as the reference server does, then answers as it does: whatever the request,
/// the answer it gets must be one a client can read.
fn decode(input: &[u8], limits: &DecodeLimits) -> String {
    let request = wire::request(input);
    let (style, description) = match decode_request(&request, limits) {
        Ok(decoded) => (
            AnswerStyle::for_decoded(&decoded),
            describe_decoded(&decoded),
        ),
        Err(error) => {
            let style = AnswerStyle::for_undecodable(&request);
            let answer = Answer::failure(style, error.to_string());
            assert_readable(&answer);
            let debug = format!("{error:?}");
            let variant = debug.split([' ', '{', '(']).next().unwrap_or_default();
            (style, format!("error:{variant}"))
        }
    };
    assert_readable(&Answer::success(style, 1));
    format!("{style:?}:{description}")
}

fn describe_decoded(decoded: &DecodedRequest) -> String {
    let mut malformed = 0;
    for record in &decoded.records {
        match record {
            // The accessors the server's rules call on every event.
            Record::Event(event) => {
                let _ = (
                    event.distinct_id(),
                    event.alias(),
                    event.token(),
                    event.insert_id(),
                    event.time_millis(),
                );
            }
            Record::Malformed { field, .. } => {
                assert!(matches!(*field, "event" | "properties"), "field {field:?}");
                malformed += 1;
            }
        }
    }
    format!(
        "{:?}:{:?}:gzip={}:auth={}:strict={}:records={}:malformed={}",
        decoded.api,
        decoded.form,
        decoded.gzip,
        decoded.auth.is_some(),
        decoded.is_strict(),
        decoded.records.len().min(3),
        malformed.min(2)
    )
}

fn assert_readable(answer: &Answer) {
    let response = encode_response(answer);
    assert!(
        parse_response(&response).is_ok(),
        "the answer {answer:?} cannot be read back: {:?}",
        String::from_utf8_lossy(response.body())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviours_tell_answers_apart() {
        let run = |input: &[u8]| Target::ParseResponse.run(input, false);
        assert_eq!(run(b"HTTP/1.1 200 OK\r\n\r\n1"), "200:accepted:false");
        assert_eq!(
            run(b"HTTP/1.1 429 x\r\nretry-after: 1\r\n\r\n"),
            "429:retry:Some"
        );
        assert_eq!(run(b"HTTP/1.1 302 Found\r\n\r\n"), "3xx:unexpected");
        assert_eq!(run(b"HTTP/1.1 503 x\r\n\r\n<html>"), "5xx:retry:None");
    }

    #[test]
    fn behaviours_tell_requests_apart() {
        let run = |input: &[u8]| Target::DecodeRequest.run(input, false);
        assert_eq!(
            run(b"GET /track?data=%5B%5D&verbose=1 HTTP/1.1\r\n\r\n"),
            "Verbose:Track:QueryData { base64: false }:gzip=false:auth=false:strict=false:records=0:malformed=0"
        );
        assert_eq!(
            run(b"DELETE /track HTTP/1.1\r\n\r\n"),
            "Plain:error:MethodNotAllowed"
        );
        assert_eq!(
            Target::DecodeRequest.run(b"POST /track HTTP/1.1\r\n\r\n[[[[[1]]]]]", true),
            "Plain:error:TooDeep"
        );
    }
}
