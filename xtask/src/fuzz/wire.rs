//! Raw HTTP/1.1 messages into `http` values, leniently.
//!
//! Corpus entries and mutants are raw messages (`HTTP/1.1 200 OK\r\n...\r\n\r\nbody`), so
//! that a mutation can reach the status, the headers and the body alike. Whatever the
//! bytes, a message comes out: a line that does not parse is skipped, a start line that
//! does not parse falls back to a default. The fuzzed functions only ever see values an
//! HTTP client or server could hand them.

use alias_core::http::header::{HeaderName, HeaderValue};
use alias_core::http::{HeaderMap, Method, Request, Response, StatusCode, Uri};

/// The head lines (start line first) and the body of a message.
fn split(bytes: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    // The head ends at the first empty line, whichever line ending it uses.
    let crlf = find(bytes, b"\r\n\r\n").map(|at| (at, 4));
    let lf = find(bytes, b"\n\n").map(|at| (at, 2));
    let (head, body) = match crlf.into_iter().chain(lf).min() {
        Some((at, len)) => (&bytes[..at], &bytes[at + len..]),
        None => (bytes, &[][..]),
    };
    let lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect();
    (lines, body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The headers of `lines` that form a valid name and value; duplicates are kept.
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

/// `HTTP/1.1 <status> <reason>` and the rest; a status that does not parse is 200.
pub(crate) fn response(bytes: &[u8]) -> Response<&[u8]> {
    let (lines, body) = split(bytes);
    let status = lines
        .first()
        .and_then(|line| line.split(|&b| b == b' ').nth(1))
        .and_then(|code| std::str::from_utf8(code).ok()?.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers(lines.get(1..).unwrap_or_default());
    response
}

/// `<METHOD> <target> HTTP/1.1` and the rest; a method that does not parse is POST, a
/// target that does not parse is `/track`.
pub(crate) fn request(bytes: &[u8]) -> Request<&[u8]> {
    let (lines, body) = split(bytes);
    let mut start = lines
        .first()
        .copied()
        .unwrap_or_default()
        .split(|&b| b == b' ');
    let method = start
        .next()
        .and_then(|m| Method::from_bytes(m).ok())
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
}
