//! Translation between `http` values and surf's `http-types` values, field by field, and
//! surf's errors into [`TransportError`]s.

use std::error::Error as StdError;

use alias_core::{driver::TransportError, driver::TransportErrorKind};
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode, Version};
use surf::http as types;

/// An `http` request as a surf request: method, URL, every header value, and the body.
pub(crate) fn to_surf(request: http::Request<Vec<u8>>) -> Result<surf::Request, TransportError> {
    let (parts, body) = request.into_parts();
    let untranslatable = |what: &str| {
        TransportError::new(
            TransportErrorKind::InvalidRequest,
            format!("the request's {what} cannot be expressed in http-types"),
        )
    };
    let method: types::Method = parts
        .method
        .as_str()
        .parse()
        .map_err(|_| untranslatable("method"))?;
    let url = types::Url::parse(&parts.uri.to_string()).map_err(|_| untranslatable("URI"))?;
    let mut out = types::Request::new(method, url);
    for (name, value) in &parts.headers {
        let value = value.to_str().map_err(|_| untranslatable("header value"))?;
        out.append_header(name.as_str(), value);
    }
    // The Content-Type header set above stays: http-types only fills in a missing one.
    out.set_body(types::Body::from_bytes(body));
    Ok(out.into())
}

/// The status, version and headers of a surf answer, as an `http` answer with no body yet.
pub(crate) fn head_from_surf(answer: &surf::Response) -> Result<Response<Vec<u8>>, TransportError> {
    let unreadable = |what: &str| {
        TransportError::new(
            TransportErrorKind::Other,
            format!("the answer's {what} cannot be expressed in http"),
        )
    };
    let mut response = Response::new(Vec::new());
    *response.status_mut() =
        StatusCode::from_u16(answer.status().into()).map_err(|_| unreadable("status"))?;
    let version = match answer.version() {
        Some(types::Version::Http0_9) => Some(Version::HTTP_09),
        Some(types::Version::Http1_0) => Some(Version::HTTP_10),
        Some(types::Version::Http1_1) => Some(Version::HTTP_11),
        Some(types::Version::Http2_0) => Some(Version::HTTP_2),
        Some(types::Version::Http3_0) => Some(Version::HTTP_3),
        // Unknown to the backend or to this crate: `http`'s default, HTTP/1.1, stays.
        _ => None,
    };
    if let Some(version) = version {
        *response.version_mut() = version;
    }
    for (name, values) in answer.iter() {
        let name = HeaderName::from_bytes(name.as_str().as_bytes())
            .map_err(|_| unreadable("header name"))?;
        // A value `http` cannot hold is skipped, not fatal: async-h1 adds a `Date` to an
        // answer without one as `date: <date>\r\n`, line break included, and no header but
        // `Retry-After` matters to the core.
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value.as_str()) {
                response.headers_mut().append(name.clone(), value);
            }
        }
    }
    Ok(response)
}

/// A surf error (`surf::Error::as_ref`), or an I/O error of the body reader, as a transport
/// error.
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> TransportError {
    TransportError::from_chain(kind(error), error)
}

fn kind(error: &(dyn StdError + 'static)) -> TransportErrorKind {
    let mut link = Some(error);
    while let Some(error) = link {
        if error.is::<async_std::future::TimeoutError>() {
            return TransportErrorKind::Timeout;
        }
        if let Some(kind) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| TransportErrorKind::from_io(io.kind()))
        {
            return kind;
        }
        link = error.source();
    }
    kind_from_text(&error.to_string())
}

/// surf's async-h1 backend reports some failures as text only: a closed connection as
/// "connection closed" or "empty response", and a failed pool connect as the I/O error's
/// message. The words below are those messages.
fn kind_from_text(message: &str) -> TransportErrorKind {
    let message = message.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| message.contains(w));
    if has(&["timed out"]) {
        TransportErrorKind::Timeout
    } else if has(&["connection refused", "unreachable"]) {
        TransportErrorKind::Connect
    } else if has(&[
        "connection closed",
        "empty response",
        "connection reset",
        "broken pipe",
        "unexpected eof",
        "unexpectedeof",
    ]) {
        TransportErrorKind::Closed
    } else {
        TransportErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> http::Request<Vec<u8>> {
        http::Request::post("http://127.0.0.1:8080/track?verbose=1")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .header("x-twice", "a")
            .header("x-twice", "b")
            .body(b"data=%7B%7D".to_vec())
            .unwrap()
    }

    #[async_std::test]
    async fn requests_keep_method_url_headers_and_body() {
        let request = to_surf(request()).unwrap();
        let mut request: types::Request = request.into();
        assert_eq!(request.method(), types::Method::Post);
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:8080/track?verbose=1"
        );
        assert_eq!(
            request.header("content-type").unwrap().as_str(),
            "application/x-www-form-urlencoded"
        );
        assert_eq!(
            request.header("accept").unwrap().as_str(),
            "application/json"
        );
        let twice: Vec<_> = request
            .header("x-twice")
            .unwrap()
            .iter()
            .map(|v| v.as_str().to_owned())
            .collect();
        assert_eq!(twice, ["a", "b"]);
        assert_eq!(request.body_string().await.unwrap(), "data=%7B%7D");
    }

    #[test]
    fn a_header_value_that_is_not_text_is_an_error_not_a_panic() {
        let mut bad = request();
        bad.headers_mut()
            .insert("x-binary", HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap());
        let error = to_surf(bad).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::InvalidRequest);
        assert!(error.message.contains("header value"), "{error}");
    }

    #[test]
    fn answers_keep_status_version_and_every_header() {
        let mut answer = types::Response::new(types::StatusCode::TooManyRequests);
        answer.insert_header("retry-after", "7");
        answer.append_header("x-twice", "a");
        answer.append_header("x-twice", "b");
        answer.set_version(Some(types::Version::Http1_1));
        let response = head_from_surf(&surf::Response::from(answer)).unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.version(), Version::HTTP_11);
        assert_eq!(response.headers()["retry-after"], "7");
        let twice: Vec<_> = response.headers().get_all("x-twice").iter().collect();
        assert_eq!(twice, ["a", "b"]);
    }

    #[test]
    fn a_header_value_http_cannot_hold_is_skipped() {
        // What async-h1 adds to an answer that has no `Date` of its own.
        let mut answer = types::Response::new(types::StatusCode::Ok);
        answer.insert_header("date", "date: Sat, 28 Nov 2026 13:32:26 GMT\r\n");
        answer.insert_header("retry-after", "7");
        let response = head_from_surf(&surf::Response::from(answer)).unwrap();
        assert!(response.headers().get("date").is_none());
        assert_eq!(response.headers()["retry-after"], "7");
    }

    #[test]
    fn errors_are_classified_by_type_then_by_async_h1_wording() {
        let reset = surf::Error::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset by peer",
        ));
        assert_eq!(classify(reset.as_ref()).kind, TransportErrorKind::Closed);
        for (text, expected) in [
            ("connection closed", TransportErrorKind::Closed),
            ("empty response", TransportErrorKind::Closed),
            (
                "Connection refused (os error 111)",
                TransportErrorKind::Connect,
            ),
            ("Malformed HTTP head", TransportErrorKind::Other),
        ] {
            let error = surf::Error::from_str(400, text);
            assert_eq!(classify(error.as_ref()).kind, expected, "{text}");
            assert_eq!(classify(error.as_ref()).message, text);
        }
    }
}
