//! Every wire form of `/track` and `/import` into a [`DecodedRequest`].

use std::borrow::Cow;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method, Request};

use super::auth::BasicAuth;
use super::body::uncompressed;
use super::error::DecodeError;
use super::json::{data_to_json, parse_records};
use super::request::{Api, DecodedRequest, Params, WireForm};
use crate::wire::config::BatchLimits;

/// Bounds on what decoding may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest body accepted, in bytes once decompressed. Default 2 MiB, the smaller of
    /// Mixpanel's two documented limits (the API specification's 413 example).
    pub max_body_bytes: usize,
    /// Deepest nesting of JSON arrays and objects. Default 64; the JSON parser's own bound
    /// of 128 still applies above that.
    pub max_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: BatchLimits::DEFAULT_BODY_BYTES,
            max_depth: 64,
        }
    }
}

/// Decodes an ingestion request in any wire form the official SDKs and Mixpanel's
/// documentation use (`docs/mixpanel-facts.md` §3-4):
///
/// - `GET /track?data=...`, `data` raw JSON or base64 of it (padded or not, standard or
///   URL-safe);
/// - `POST /track` with a form body whose `data` field is raw JSON or base64;
/// - `POST` with a JSON body (one event or an array) or NDJSON, parameters in the query;
/// - `Content-Encoding: gzip`, decompressed within [`DecodeLimits::max_body_bytes`];
/// - parameters from the query or the form body, HTTP Basic credentials, and any path
///   prefix before `/track` or `/import` (a proxy's mount point).
///
/// Each event that is not `{"event": "...", "properties": {...}}` comes back as a
/// [`Record::Malformed`](super::Record::Malformed), so that the server can refuse it alone.
///
/// ```
/// use alias_core::server::{Api, DecodeLimits, WireForm, decode_request};
///
/// let request = http::Request::post("http://127.0.0.1/track")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(b"data=%7B%22event%22%3A%22%24create_alias%22%2C%22properties%22%3A%7B%22distinct_id%22%3A%22a%22%2C%22alias%22%3A%22b%22%2C%22token%22%3A%22t%22%7D%7D&verbose=1".to_vec())?;
/// let decoded = decode_request(&request, &DecodeLimits::default())?;
/// assert_eq!(decoded.api, Api::Track);
/// assert_eq!(decoded.form, WireForm::FormData { base64: false });
/// assert!(decoded.params.verbose);
/// assert_eq!(decoded.records[0].as_event().and_then(|e| e.alias()), Some("b"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode_request<B: AsRef<[u8]>>(
    request: &Request<B>,
    limits: &DecodeLimits,
) -> Result<DecodedRequest, DecodeError> {
    let api = api_of(request.uri().path())?;
    let method = request.method();
    let allowed = match api {
        Api::Track => method == Method::GET || method == Method::POST,
        Api::Import => method == Method::POST,
    };
    if !allowed {
        return Err(DecodeError::MethodNotAllowed {
            method: method.to_string(),
            endpoint: api.path(),
        });
    }

    let mut params = Params::default();
    let query_data = read_params(request.uri().query().unwrap_or("").as_bytes(), &mut params);
    let auth = match request
        .headers()
        .get(AUTHORIZATION)
        .map(BasicAuth::from_header)
    {
        None => None,
        Some(Ok(auth)) => Some(auth),
        // `/track` does not authenticate, so a header it would not read cannot fail it.
        Some(Err(_)) if api == Api::Track => None,
        Some(Err(error)) => return Err(error),
    };

    let (json, form, gzip, body_bytes) = if method == Method::GET {
        let data = query_data.ok_or(DecodeError::MissingData)?;
        let (json, base64) = data_to_json(&data)?;
        (Cow::Owned(json), WireForm::QueryData { base64 }, false, 0)
    } else {
        let body = uncompressed(
            request.headers(),
            request.body().as_ref(),
            limits.max_body_bytes,
        )?;
        let body_bytes = body.bytes.len();
        let (json, form) = match body_kind(request.headers(), &body.bytes) {
            BodyKind::Form => {
                let form_data = read_params(&body.bytes, &mut params);
                // A form without `data` may still have it in the query.
                match form_data.or(query_data) {
                    Some(data) => {
                        let (json, base64) = data_to_json(&data)?;
                        (Cow::Owned(json), WireForm::FormData { base64 })
                    }
                    None => return Err(DecodeError::MissingData),
                }
            }
            BodyKind::Json => (body.bytes, WireForm::Json),
            BodyKind::Empty => {
                let data = query_data.ok_or(DecodeError::MissingData)?;
                let (json, base64) = data_to_json(&data)?;
                (Cow::Owned(json), WireForm::QueryData { base64 })
            }
        };
        (json, form, body.gzip, body_bytes)
    };

    let (records, many_values) = parse_records(&json, limits.max_depth)?;
    let form = if form == WireForm::Json && many_values {
        WireForm::Ndjson
    } else {
        form
    };
    Ok(DecodedRequest {
        api,
        params,
        auth,
        form,
        gzip,
        body_bytes,
        records,
    })
}

/// The endpoint `path` names ([`Api::of_path`]), or the error that says it names none.
fn api_of(path: &str) -> Result<Api, DecodeError> {
    Api::of_path(path).ok_or_else(|| DecodeError::UnknownPath {
        path: path.to_owned(),
    })
}

/// Applies every parameter of a urlencoded string to `params` and returns its `data`.
fn read_params(encoded: &[u8], params: &mut Params) -> Option<String> {
    let mut data = None;
    for (name, value) in form_urlencoded::parse(encoded) {
        if name == "data" {
            data = Some(value.into_owned());
        } else {
            params.set(&name, &value);
        }
    }
    data
}

/// Whether the `Content-Type` is a urlencoded form, whatever its case and parameters.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

enum BodyKind {
    Form,
    Json,
    Empty,
}

/// A form body by its content type; otherwise whatever the body looks like, since clients
/// label JSON as `text/plain`, NDJSON as `application/json`, or forget the header.
fn body_kind(headers: &HeaderMap, body: &[u8]) -> BodyKind {
    let start = body.trim_ascii_start();
    if is_form(headers) {
        BodyKind::Form
    } else if start.is_empty() {
        BodyKind::Empty
    } else if start.starts_with(b"{") || start.starts_with(b"[") {
        BodyKind::Json
    } else {
        BodyKind::Form
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_the_last_path_segment() {
        assert_eq!(api_of("/track"), Ok(Api::Track));
        assert_eq!(api_of("/track/"), Ok(Api::Track));
        assert_eq!(api_of("/mixpanel/import"), Ok(Api::Import));
        assert_eq!(
            api_of("/engage"),
            Err(DecodeError::UnknownPath {
                path: "/engage".into()
            })
        );
        assert!(api_of("/tracking").is_err());
    }

    #[test]
    fn methods_per_endpoint() {
        let request = Request::get("/import").body(Vec::new()).unwrap();
        assert_eq!(
            decode_request(&request, &DecodeLimits::default()),
            Err(DecodeError::MethodNotAllowed {
                method: "GET".into(),
                endpoint: "/import"
            })
        );
        let request = Request::delete("/track").body(Vec::new()).unwrap();
        assert!(matches!(
            decode_request(&request, &DecodeLimits::default()),
            Err(DecodeError::MethodNotAllowed { .. })
        ));
    }

    #[test]
    fn a_request_without_events_is_missing_data() {
        for request in [
            Request::get("/track?verbose=1").body(Vec::new()).unwrap(),
            Request::post("/track").body(Vec::new()).unwrap(),
            Request::post("/track")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b"verbose=1".to_vec())
                .unwrap(),
        ] {
            assert_eq!(
                decode_request(&request, &DecodeLimits::default()),
                Err(DecodeError::MissingData)
            );
        }
    }

    #[test]
    fn a_bad_authorization_header_fails_import_only() {
        for (path, fails) in [("/track", false), ("/import", true)] {
            let request = Request::post(path)
                .header("authorization", "Bearer xyz")
                .body(b"[]".to_vec())
                .unwrap();
            let decoded = decode_request(&request, &DecodeLimits::default());
            assert_eq!(decoded.is_err(), fails, "{path}: {decoded:?}");
        }
    }

    #[test]
    fn data_in_the_query_of_a_post() {
        let request = Request::post("/track?data=%5B%5D&verbose=1")
            .body(Vec::new())
            .unwrap();
        let decoded = decode_request(&request, &DecodeLimits::default()).unwrap();
        assert_eq!(decoded.form, WireForm::QueryData { base64: false });
        assert!(decoded.params.verbose && decoded.records.is_empty());
    }

    #[test]
    fn form_parameters_win_over_the_query() {
        let request = Request::post("/track?verbose=0&ip=1")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(b"data=%5B%5D&verbose=1".to_vec())
            .unwrap();
        let decoded = decode_request(&request, &DecodeLimits::default()).unwrap();
        assert!(decoded.params.verbose && decoded.params.ip);
    }
}
