//! Golden answers: every body Mixpanel sends (`docs/mixpanel-facts.md` §5), byte for byte, with its status and
//! headers.
#![cfg(feature = "server")]

use alias_core::http::{StatusCode, header};
use alias_core::server::{Answer, encode_response};
use alias_core::wire::FailedRecord;

fn golden(answer: Answer, status: u16, content_type: &str, body: &str) {
    let response = encode_response(&answer);
    assert_eq!(response.status(), status, "{answer:?}");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        content_type,
        "{answer:?}"
    );
    assert_eq!(String::from_utf8_lossy(response.body()), body, "{answer:?}");
}

#[test]
fn plain() {
    golden(Answer::Plain(true), 200, "text/plain", "1");
    golden(Answer::Plain(false), 200, "text/plain", "0");
}

#[test]
fn verbose() {
    golden(
        Answer::Verbose { error: None },
        200,
        "application/json",
        r#"{"status":1,"error":null}"#,
    );
    golden(
        Answer::Verbose {
            error: Some("token, missing or empty".into()),
        },
        200,
        "application/json",
        r#"{"status":0,"error":"token, missing or empty"}"#,
    );
}

#[test]
fn strict_success() {
    golden(
        Answer::Imported {
            num_records_imported: 23,
        },
        200,
        "application/json",
        r#"{"code":200,"num_records_imported":23,"status":"OK"}"#,
    );
}

#[test]
fn strict_partial_failure() {
    golden(
        Answer::ValidationFailed {
            num_records_imported: 23,
            failed_records: vec![
                FailedRecord {
                    index: Some(0),
                    insert_id: Some("13c2c4b1-2b1a-4f4a-9a4e-0c0b0f0e0d0c".into()),
                    field: Some("properties.time".into()),
                    message: "'properties.time' is invalid: must be specified".into(),
                },
                FailedRecord {
                    index: Some(4),
                    insert_id: None,
                    field: Some("properties.$insert_id".into()),
                    message: "'$insert_id' is missing".into(),
                },
            ],
        },
        400,
        "application/json",
        concat!(
            r#"{"code":400,"error":"some data points in the request failed validation","#,
            r#""failed_records":[{"index":0,"insert_id":"13c2c4b1-2b1a-4f4a-9a4e-0c0b0f0e0d0c","field":"properties.time","message":"'properties.time' is invalid: must be specified"},"#,
            r#"{"index":4,"field":"properties.$insert_id","message":"'$insert_id' is missing"}],"#,
            r#""num_records_imported":23,"status":"Bad Request"}"#
        ),
    );
}

#[test]
fn simplified_id_merge_refuses_identity_events() {
    golden(
        Answer::identity_events_not_allowed(),
        400,
        "application/json",
        concat!(
            r#"{"code":400,"error":"some data points in the request failed validation","#,
            r#""failed_records":["identity events are not allowed when project is using simplified identity management"],"#,
            r#""num_records_imported":0,"status":"Bad Request"}"#
        ),
    );
}

#[test]
fn whole_request_refused() {
    golden(
        Answer::BadRequest {
            error: "too many events".into(),
        },
        400,
        "application/json",
        r#"{"code":400,"error":"too many events","status":"Bad Request"}"#,
    );
}

#[test]
fn unauthorized() {
    golden(
        Answer::invalid_credentials(),
        401,
        "application/json",
        r#"{"code":401,"error":"Invalid credentials","status":"Unauthorized"}"#,
    );
}

#[test]
fn too_large_names_the_configured_limit() {
    golden(
        Answer::TooLarge { limit: 2_097_152 },
        413,
        "application/json",
        r#"{"code":413,"error":"request exceeds max limit of 2097152 bytes","status":"Request Entity Too Large"}"#,
    );
    golden(
        Answer::TooLarge { limit: 1000 },
        413,
        "application/json",
        r#"{"code":413,"error":"request exceeds max limit of 1000 bytes","status":"Request Entity Too Large"}"#,
    );
}

#[test]
fn rate_limited_with_and_without_retry_after() {
    let bare = Answer::RateLimited {
        retry_after_secs: None,
    };
    assert!(
        !encode_response(&bare)
            .headers()
            .contains_key(header::RETRY_AFTER)
    );
    let answer = Answer::RateLimited {
        retry_after_secs: Some(1),
    };
    golden(
        answer.clone(),
        429,
        "application/json",
        r#"{"code":429,"error":"Project exceeded rate limits. Please retry the request with exponential backoff.","status":"Too Many Requests"}"#,
    );
    assert_eq!(encode_response(&answer).headers()[header::RETRY_AFTER], "1");
}

#[test]
fn server_errors() {
    golden(
        Answer::ServerError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
        },
        500,
        "application/json",
        r#"{"code":500,"error":"a temporary failure occurred","status":"Internal Server Error"}"#,
    );
    golden(
        Answer::ProxyError {
            status: StatusCode::SERVICE_UNAVAILABLE,
        },
        503,
        "text/html",
        "<html>\r\n<head><title>503 Service Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Unavailable</h1></center>\r\n</body>\r\n</html>\r\n",
    );
}
