//! The per-project rate limit over HTTP: a rolling window of events and bytes, the 429 as
//! Mixpanel sends it (no `Retry-After`) and as the options change it, what it leaves
//! alone, and a window that rolls on.

use std::time::Duration;

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

/// A server of one event a second over a minute whose window is full: an empty window
/// admits any request, so the first 2000 events go through and fill it for a minute.
fn full_server(builder: ServerBuilder) -> Server {
    let server = builder.rate_limit(1).start().unwrap();
    assert_eq!(
        post_json(&server, "/track", &aliases("first", 2000)).body,
        "1"
    );
    server
}

fn assert_rate_limited(reply: &Reply) {
    assert_eq!(reply.status, 429, "{reply:?}");
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(reply.body, RATE_LIMITED);
}

#[test]
fn a_request_over_the_limit_is_answered_429_without_retry_after_and_stores_nothing() {
    let server = full_server(ServerBuilder::default());
    for path in ["/track", "/track?verbose=1", "/track?strict=1"] {
        let reply = post_json(&server, path, &aliases(path, 3));
        assert_rate_limited(&reply);
        assert_eq!(reply.retry_after, None, "Mixpanel documents no Retry-After");
    }
    assert_rate_limited(&import(&server, "strict=1", &aliases("import", 3)));
    let stats = server.stats();
    assert_eq!(stats.requests, 5);
    assert_eq!(stats.requests_rate_limited, 4);
    assert_eq!(stats.events_stored, 2000);
    // The refused requests' events are not counted: they come back with the retry.
    assert_eq!(stats.events_received, 2000);
    assert_eq!(server.events().len(), 2000);
}

#[test]
fn retry_after_on_request_says_when_the_window_has_room() {
    let server = full_server(ServerBuilder::default().retry_after(true));
    let reply = post_json(&server, "/track", &aliases("late", 1));
    assert_rate_limited(&reply);
    let secs: u64 = reply.retry_after.as_deref().unwrap().parse().unwrap();
    // The first 2000 events leave the minute's window about a minute after they came.
    assert!((50..=60).contains(&secs), "{secs}");
}

#[test]
fn html_429_is_a_proxy_page_without_retry_after() {
    let server = full_server(ServerBuilder::default().html_429(true).retry_after(true));
    let reply = post_json(&server, "/track?verbose=1", &aliases("late", 1));
    assert_eq!(reply.status, 429, "{reply:?}");
    assert_eq!(reply.content_type.as_deref(), Some("text/html"));
    assert!(
        reply.body.contains("<h1>429 Too Many Requests</h1>"),
        "{reply:?}"
    );
    assert_eq!(reply.retry_after, None);
}

#[test]
fn the_429_fault_follows_the_same_options() {
    let plain = Server::builder()
        .faults("429=1".parse().unwrap())
        .start()
        .unwrap();
    let reply = post_json(&plain, "/track", &json!([alias_event("a", "b")]));
    assert_rate_limited(&reply);
    assert_eq!(reply.retry_after, None);
    let told = Server::builder()
        .faults("429=1".parse().unwrap())
        .retry_after(true)
        .start()
        .unwrap();
    let reply = post_json(&told, "/track", &json!([alias_event("a", "b")]));
    assert_rate_limited(&reply);
    assert_eq!(reply.retry_after.as_deref(), Some("1"));
    let html = Server::builder()
        .faults("429=1".parse().unwrap())
        .html_429(true)
        .start()
        .unwrap();
    let reply = post_json(&html, "/track", &json!([alias_event("a", "b")]));
    assert_eq!(
        (reply.status, reply.content_type.as_deref()),
        (429, Some("text/html"))
    );
}

#[test]
fn uncompressed_bytes_are_limited_too() {
    let server = Server::builder()
        .rate_limit_bytes(3000)
        .rate_limit_window(Duration::from_secs(60))
        .start()
        .unwrap();
    // Each request is over 1 kB of JSON: the window takes 3000 bytes a second for a
    // minute, 180 kB, so about 100 such requests, then refuses.
    let body = aliases("bytes", 8);
    let size = body.to_string().len();
    assert!(size > 1000, "{size}");
    let mut admitted = 0;
    let refused = loop {
        let reply = post_json(&server, "/track", &body);
        if reply.status == 429 {
            break reply;
        }
        assert_eq!(reply.body, "1");
        admitted += 1;
        assert!(admitted < 1000, "never refused");
    };
    assert_rate_limited(&refused);
    assert_eq!(admitted, 180_000 / size);
}

#[test]
fn the_window_rolls_on() {
    let server = Server::builder()
        .rate_limit(100)
        .rate_limit_window(Duration::from_millis(200))
        .start()
        .unwrap();
    // 20 events a window of 200 ms.
    assert_eq!(post_json(&server, "/track", &aliases("a", 20)).body, "1");
    assert_rate_limited(&post_json(&server, "/track", &aliases("b", 1)));
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(post_json(&server, "/track", &aliases("b", 20)).body, "1");
    assert_eq!(server.stats().events_stored, 40);
}

#[test]
fn refusals_for_what_a_request_is_come_before_the_rate_limit() {
    let server = full_server(ServerBuilder::default());
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
fn a_reset_empties_the_window() {
    let server = full_server(ServerBuilder::default());
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
