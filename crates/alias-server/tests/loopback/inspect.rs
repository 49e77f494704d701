//! The inspection API contract.

use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_SERVICE_ACCOUNT_SECRET, DEFAULT_SERVICE_ACCOUNT_USER, Server,
};
use serde_json::json;

use crate::common::{alias_event, basic, get, inspect, post, post_json, send, track_alias};

#[test]
fn stats_has_exactly_the_documented_integer_fields() {
    let server = Server::start().unwrap();
    track_alias(&server, "a", "b");
    post_json(
        &server,
        "/track",
        &json!([alias_event("a", "b"), alias_event("null", "c")]),
    );
    let reply = get(&server, "/_inspect/stats");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        reply.body,
        r#"{"requests":2,"events_received":3,"events_stored":2,"duplicates_dropped":0,"events_rejected":1,"faults_injected":0,"requests_rate_limited":0}"#
    );
    let stats = server.stats();
    assert_eq!(
        stats.events_received,
        stats.events_stored + stats.duplicates_dropped + stats.events_rejected
    );
}

#[test]
fn events_come_back_in_arrival_order_as_sent() {
    let server = Server::start().unwrap();
    let mut first = alias_event("a1", "b1");
    first["properties"]["custom"] = json!({"nested": [1, 2]});
    post_json(&server, "/track", &json!([first, alias_event("a2", "b2")]));
    track_alias(&server, "a3", "b3");
    let (status, events) = inspect(&server, "events");
    assert_eq!(status, 200);
    let events = events.as_array().unwrap();
    let aliases: Vec<_> = events
        .iter()
        .map(|e| e["properties"]["alias"].clone())
        .collect();
    assert_eq!(aliases, [json!("b1"), json!("b2"), json!("b3")]);
    assert_eq!(events[0]["event"], "$create_alias");
    assert_eq!(events[0]["properties"]["custom"], json!({"nested": [1, 2]}));
    assert_eq!(
        serde_json::to_value(server.events()).unwrap(),
        json!(events),
        "the handle and the API agree"
    );
}

#[test]
fn events_come_in_pages() {
    let server = Server::start().unwrap();
    let events: Vec<_> = (0..10)
        .map(|i| alias_event(&format!("a{i}"), &format!("b{i}")))
        .collect();
    post_json(&server, "/track", &json!(events));
    let aliases = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["properties"]["alias"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, page) = inspect(&server, "events?offset=3&limit=4");
    assert_eq!(status, 200);
    assert_eq!(aliases(&page), ["b3", "b4", "b5", "b6"]);
    assert_eq!(
        serde_json::to_value(server.events_page(3, 4)).unwrap(),
        page,
        "the handle and the API agree"
    );
    assert_eq!(
        aliases(&inspect(&server, "events?offset=8").1),
        ["b8", "b9"]
    );
    assert_eq!(aliases(&inspect(&server, "events?limit=1").1), ["b0"]);
    assert_eq!(
        inspect(&server, "events?offset=99&limit=5"),
        (200, json!([]))
    );
    assert!(server.events_page(99, 5).is_empty());
    let reply = get(&server, "/_inspect/events?limit=-1");
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        r#"{"error":"limit must be a whole number, not \"-1\""}"#
    );
}

#[test]
fn reset_clears_everything() {
    let server = Server::start().unwrap();
    track_alias(&server, "a", "b");
    let reply = post(&server, "/_inspect/reset", "application/json", "");
    assert_eq!(reply.status, 200);
    assert_eq!(inspect(&server, "events"), (200, json!([])));
    assert_eq!(
        inspect(&server, "stats"),
        (
            200,
            json!({"requests": 0, "events_received": 0, "events_stored": 0, "duplicates_dropped": 0, "events_rejected": 0, "faults_injected": 0, "requests_rate_limited": 0})
        )
    );
    assert_eq!(inspect(&server, "identity/a").0, 404);
    // The dedup index is cleared too: the same event is stored again.
    track_alias(&server, "a", "b");
    assert_eq!(server.events().len(), 1);
}

#[test]
fn wrong_methods_and_unknown_paths() {
    let server = Server::start().unwrap();
    assert_eq!(get(&server, "/_inspect/reset").status, 405);
    assert_eq!(
        post(&server, "/_inspect/stats", "text/plain", "").status,
        405
    );
    assert_eq!(get(&server, "/_inspect/nothing").status, 404);
    assert_eq!(get(&server, "/_inspect/identity/").status, 404);
    assert_eq!(get(&server, "/_inspect/identity/%FF").status, 400);
}

#[test]
fn credentials_appear_nowhere_the_server_shows() {
    let server = Server::start().unwrap();
    let event = crate::common::strict_alias_event("a", "b", "x-1");
    let request =
        alias_core::http::Request::post(format!("/import?project_id={DEFAULT_PROJECT_ID}"))
            .header(
                "authorization",
                basic(&format!(
                    "{DEFAULT_SERVICE_ACCOUNT_USER}:{DEFAULT_SERVICE_ACCOUNT_SECRET}"
                )),
            )
            .body(json!([event]).to_string().into_bytes())
            .unwrap();
    assert_eq!(send(&server, request).status, 200);
    let shown = [
        get(&server, "/_inspect/events").body,
        get(&server, "/_inspect/stats").body,
        get(&server, "/_inspect/identity/a").body,
        format!("{server:?}"),
    ];
    for text in shown {
        assert!(!text.contains(DEFAULT_SERVICE_ACCOUNT_SECRET), "{text}");
    }
}
