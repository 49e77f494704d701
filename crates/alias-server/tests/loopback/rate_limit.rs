//! The per-project rate limit over HTTP: the 429, what it leaves alone, and a client that
//! honours `Retry-After` getting everything through.

use alias_server::{Server, ServerBuilder};
use serde_json::{Value, json};

use crate::common::{Reply, alias_event, import, post, post_json, strict_alias_event};

const RATE_LIMITED: &str = r#"{"code":429,"error":"Project exceeded rate limits. Please retry the request with exponential backoff.","status":"Too Many Requests"}"#;

/// `n` aliases named after `prefix`, for one request.
fn aliases(prefix: &str, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                strict_alias_event(
                    &format!("{prefix}-anon-{i}"),
                    &format!("{prefix}-user-{i}"),
                    &format!("{prefix}-{i}"),
                )
            })
            .collect(),
    )
}

/// A server of one event a second whose bucket is in debt for the next ~2000 s: a full
/// bucket admits any request, so the first 2000 events go through and leave a debt that
/// no test outlives.
fn server_in_debt() -> Server {
    let server = ServerBuilder::default().rate_limit(1).start().unwrap();
    assert_eq!(
        post_json(&server, "/track", &aliases("first", 2000)).body,
        "1"
    );
    server
}

fn assert_rate_limited(reply: &Reply) -> u64 {
    assert_eq!(reply.status, 429, "{reply:?}");
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(reply.body, RATE_LIMITED);
    reply
        .retry_after
        .as_deref()
        .and_then(|secs| secs.parse().ok())
        .expect("a Retry-After in whole seconds")
}

#[test]
fn a_request_over_the_limit_is_answered_429_and_stores_nothing() {
    let server = server_in_debt();
    for path in ["/track", "/track?verbose=1", "/track?strict=1"] {
        let retry_after = assert_rate_limited(&post_json(&server, path, &aliases(path, 3)));
        // 1999 events of debt and 1 event of room at one a second.
        assert!((1900..=2000).contains(&retry_after), "{retry_after}");
    }
    let retry_after = assert_rate_limited(&import(&server, "strict=1", &aliases("import", 3)));
    assert!(retry_after >= 1900, "{retry_after}");
    let stats = server.stats();
    assert_eq!(stats.requests, 5);
    assert_eq!(stats.requests_rate_limited, 4);
    assert_eq!(stats.events_stored, 2000);
    // The refused requests' events are not counted: they come back with the retry.
    assert_eq!(stats.events_received, 2000);
    assert_eq!(
        stats.events_received,
        stats.events_stored + stats.duplicates_dropped + stats.events_rejected
    );
    assert_eq!(server.events().len(), 2000);
}

#[test]
fn refusals_for_what_a_request_is_come_before_the_rate_limit() {
    let server = server_in_debt();
    let reply = crate::common::send(
        &server,
        alias_core::http::Request::post("/import")
            .header("authorization", crate::common::basic("wrong-token:"))
            .body(aliases("wrong", 1).to_string().into_bytes())
            .unwrap(),
    );
    assert_eq!(reply.status, 401, "{reply:?}");
    let reply = post_json(&server, "/track?verbose=1", &aliases("many", 2001));
    assert_eq!(
        reply.body,
        r#"{"status":0,"error":"the request has 2001 events; at most 2000 are allowed"}"#
    );
    let reply = post(&server, "/track?verbose=1", "application/json", "[{");
    assert!(reply.body.contains("not valid JSON"), "{reply:?}");
    assert_eq!(server.stats().requests_rate_limited, 0);
}

#[test]
fn a_client_that_honours_retry_after_gets_every_event_through() {
    let server = ServerBuilder::default().rate_limit(20).start().unwrap();
    let mut limited = 0;
    for request in 0..3 {
        let body = json!(
            (0..40)
                .map(|i| alias_event(
                    &format!("anon-{request}-{i}"),
                    &format!("user-{request}-{i}")
                ))
                .collect::<Vec<_>>()
        );
        loop {
            let reply = post_json(&server, "/track", &body);
            if reply.status == 200 {
                assert_eq!(reply.body, "1");
                break;
            }
            let retry_after = assert_rate_limited(&reply);
            // 40 events at 20 a second wait for a full bucket after a debt of 20: 2 s.
            assert!((1..=2).contains(&retry_after), "{retry_after}");
            limited += 1;
            std::thread::sleep(std::time::Duration::from_secs(retry_after));
        }
    }
    assert!(limited >= 2, "{limited}");
    let stats = server.stats();
    assert_eq!(stats.events_stored, 120);
    assert_eq!(stats.requests_rate_limited, limited);
}

#[test]
fn a_reset_fills_the_bucket() {
    let server = server_in_debt();
    assert_rate_limited(&post_json(
        &server,
        "/track",
        &json!([alias_event("a", "b")]),
    ));
    server.reset();
    assert_eq!(
        post_json(&server, "/track", &json!([alias_event("a", "b")])).body,
        "1"
    );
    assert_eq!(server.stats().requests_rate_limited, 0);
}
