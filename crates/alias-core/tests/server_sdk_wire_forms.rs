//! The official SDKs' exact wire forms (`docs/mixpanel-facts.md` §3) decode to the events they carry.
//!
//! Each body below is what the SDK puts on the wire for one alias call, built with the
//! SDK's own encoders (Python's `json.dumps(separators=(',', ':'))` and `urlencode`, Node's
//! `Buffer.toString('base64')` and `querystring`, Ruby's `Base64` and `encode_www_form`,
//! PHP's `json_encode` and `base64_encode` without urlencoding, Go's `json.Marshal` and
//! `url.Values.Encode`).
#![cfg(feature = "server")]

use alias_core::http::{Request, header};
use alias_core::server::{Api, DecodeLimits, DecodedRequest, Event, WireForm, decode_request};

fn decode(request: Request<Vec<u8>>) -> DecodedRequest {
    decode_request(&request, &DecodeLimits::default()).expect("the SDK's request decodes")
}

fn only_event(decoded: &DecodedRequest) -> &Event {
    assert_eq!(decoded.records.len(), 1, "{decoded:?}");
    decoded.records[0].as_event().expect("a well-formed event")
}

fn form_post(body: &str) -> Request<Vec<u8>> {
    Request::post("https://api.mixpanel.com/track")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

#[test]
fn python_form_with_compact_json_escaped_non_ascii_verbose_and_ip() {
    // mixpanel-python 5.4.1: `alias("Zoë 🎉 +1 & co=50%", "anon-7f3a")`; json.dumps escapes
    // non-ASCII as \uXXXX, the emoji as a surrogate pair.
    let body = "data=%7B%22event%22%3A%22%24create_alias%22%2C%22properties%22%3A%7B%22distinct_id%22%3A%22anon-7f3a%22%2C%22alias%22%3A%22Zo%5Cu00eb+%5Cud83c%5Cudf89+%2B1+%26+co%3D50%25%22%2C%22token%22%3A%22py-token%22%7D%7D&verbose=1&ip=0";
    let decoded = decode(form_post(body));
    assert_eq!(decoded.api, Api::Track);
    assert_eq!(decoded.form, WireForm::FormData { base64: false });
    assert!(decoded.params.verbose);
    assert!(!decoded.params.ip);
    assert!(decoded.auth.is_none());
    let event = only_event(&decoded);
    assert_eq!(event.event, "$create_alias");
    assert_eq!(event.distinct_id(), Some("anon-7f3a"));
    assert_eq!(event.alias(), Some("Zoë 🎉 +1 & co=50%"));
    assert_eq!(event.token(), Some("py-token"));
}

#[test]
fn node_get_with_percent_encoded_padded_base64() {
    // mixpanel-node 0.24.0: `alias("device:0", "jo+node@example.com?>~??>>")`. The base64
    // holds `+`, `/` and `=`, all percent-encoded by `querystring.stringify`.
    let query = "ip=0&verbose=0&data=eyJldmVudCI6IiRjcmVhdGVfYWxpYXMiLCJwcm9wZXJ0aWVzIjp7ImRpc3RpbmN0X2lkIjoiZGV2aWNlOjAiLCJhbGlhcyI6ImpvK25vZGVAZXhhbXBsZS5jb20%2FPn4%2FPz4%2BIiwidG9rZW4iOiJub2RlLXRva2VuIiwibXBfbGliIjoibm9kZSIsIiRsaWJfdmVyc2lvbiI6IjAuMjQuMCJ9fQ%3D%3D";
    assert!(query.contains("%2F") && query.contains("%2B") && query.ends_with("%3D%3D"));
    let request = Request::get(format!("https://api.mixpanel.com/track?{query}"))
        .body(Vec::new())
        .unwrap();
    let decoded = decode(request);
    assert_eq!(decoded.form, WireForm::QueryData { base64: true });
    assert!(!decoded.params.verbose && !decoded.params.ip);
    let event = only_event(&decoded);
    assert_eq!(event.distinct_id(), Some("device:0"));
    assert_eq!(event.alias(), Some("jo+node@example.com?>~??>>"));
    assert_eq!(event.token(), Some("node-token"));
    assert_eq!(event.str_property("mp_lib"), Some("node"));
    assert_eq!(event.str_property("$lib_version"), Some("0.24.0"));
}

#[test]
fn ruby_form_with_base64_and_verbose() {
    // mixpanel-ruby: `alias("ünïcode rüby", "ruby-anon")`; JSON.generate keeps UTF-8 as is.
    let body = "data=eyJldmVudCI6IiRjcmVhdGVfYWxpYXMiLCJwcm9wZXJ0aWVzIjp7ImRpc3RpbmN0X2lkIjoicnVieS1hbm9uIiwiYWxpYXMiOiLDvG7Dr2NvZGUgcsO8YnkiLCJ0b2tlbiI6InJ1YnktdG9rZW4ifX0%3D&verbose=1";
    let decoded = decode(form_post(body));
    assert_eq!(decoded.form, WireForm::FormData { base64: true });
    assert!(decoded.params.verbose);
    let event = only_event(&decoded);
    assert_eq!(event.distinct_id(), Some("ruby-anon"));
    assert_eq!(event.alias(), Some("ünïcode rüby"));
    assert_eq!(event.token(), Some("ruby-token"));
}

#[test]
fn php_unescaped_base64_of_a_one_element_array() {
    // mixpanel-php: `createAlias("php-anon-100", "php@example.com/~?>??>>")`. json_encode
    // escapes `/` as `\/`; the base64 goes into the body without urlencoding, so its `+`
    // reaches the form decoder raw.
    let body = "data=W3siZXZlbnQiOiIkY3JlYXRlX2FsaWFzIiwicHJvcGVydGllcyI6eyJkaXN0aW5jdF9pZCI6InBocC1hbm9uLTEwMCIsImFsaWFzIjoicGhwQGV4YW1wbGUuY29tXC9+Pz4/Pz4+IiwidG9rZW4iOiJwaHAtdG9rZW4ifX1d";
    assert!(body.contains('+') && body.contains('/'));
    let decoded = decode(form_post(body));
    assert_eq!(decoded.form, WireForm::FormData { base64: true });
    let event = only_event(&decoded);
    assert_eq!(event.distinct_id(), Some("php-anon-100"));
    assert_eq!(event.alias(), Some("php@example.com/~?>??>>"));
    assert_eq!(event.token(), Some("php-token"));
}

#[test]
fn go_form_with_raw_json_and_accept_text_plain() {
    // mixpanel-go: json.Marshal escapes `<`, `>` and `&` as \u003c, \u003e and \u0026.
    let body = "data=%7B%22event%22%3A%22%24create_alias%22%2C%22properties%22%3A%7B%22distinct_id%22%3A%22go%5Cu003canon%5Cu003e%22%2C%22alias%22%3A%22a%5Cu0026b%22%2C%22token%22%3A%22go-token%22%7D%7D";
    let mut request = form_post(body);
    request
        .headers_mut()
        .insert(header::ACCEPT, "text/plain".parse().unwrap());
    let decoded = decode(request);
    assert_eq!(decoded.form, WireForm::FormData { base64: false });
    assert!(!decoded.params.verbose);
    let event = only_event(&decoded);
    assert_eq!(event.distinct_id(), Some("go<anon>"));
    assert_eq!(event.alias(), Some("a&b"));
    assert_eq!(event.token(), Some("go-token"));
}

#[test]
fn documented_json_array_post_and_ndjson_import() {
    let event = r#"{"event":"$create_alias","properties":{"distinct_id":"d","alias":"a","token":"t","time":1700000000,"$insert_id":"i-1"}}"#;
    let request = Request::post("https://api.mixpanel.com/track?verbose=1&strict=1")
        .header(header::CONTENT_TYPE, "application/json")
        .body(format!("[{event},{event}]").into_bytes())
        .unwrap();
    let decoded = decode(request);
    assert_eq!(decoded.form, WireForm::Json);
    assert_eq!(decoded.records.len(), 2);
    assert!(decoded.is_strict() && decoded.params.verbose);

    let request = Request::post("https://api.mixpanel.com/import?project_id=42")
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::AUTHORIZATION, "Basic c2EudXNlcjpzM2NyZXQ=")
        .body(format!("{event}\n{event}\n{event}\n").into_bytes())
        .unwrap();
    let decoded = decode(request);
    assert_eq!(decoded.api, Api::Import);
    assert_eq!(decoded.form, WireForm::Ndjson);
    assert_eq!(decoded.records.len(), 3);
    assert_eq!(decoded.params.project_id.as_deref(), Some("42"));
    let auth = decoded.auth.as_ref().expect("credentials");
    assert_eq!(auth.user(), "sa.user");
    assert_eq!(auth.password().map(|s| s.expose()), Some("s3cret"));
    assert_eq!(only_event_time(&decoded), Some(1_700_000_000_000));
}

fn only_event_time(decoded: &DecodedRequest) -> Option<u64> {
    decoded.records[0].as_event()?.time_millis()
}

#[test]
fn a_proxy_prefix_is_tolerated() {
    let request = Request::post("https://example.com/mixpanel/track/")
        .body(br#"{"event":"e","properties":{}}"#.to_vec())
        .unwrap();
    assert_eq!(decode(request).api, Api::Track);
}
