//! Tokens the server was not given: answered as Mixpanel does, and reported once each.

use std::sync::{Arc, Mutex};

use alias_server::Server;
use serde_json::json;

use crate::common::{alias_event, post_json};

#[test]
fn each_unknown_token_reaches_the_hook_once_before_the_answer() {
    let reported = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reported);
    let server = Server::builder()
        .on_unknown_token(move |token| seen.lock().unwrap().push(token.to_owned()))
        .start()
        .unwrap();
    let with_token = |token: &str| {
        let mut event = alias_event("a", "b");
        event["properties"]["token"] = json!(token);
        event
    };
    for _ in 0..3 {
        let reply = post_json(
            &server,
            "/track",
            &json!([with_token("typo-token"), alias_event("c", "d")]),
        );
        assert_eq!(reply.body, "1");
    }
    assert_eq!(*reported.lock().unwrap(), ["typo-token"]);
    post_json(&server, "/track?verbose=1", &json!([with_token("another")]));
    assert_eq!(*reported.lock().unwrap(), ["typo-token", "another"]);
    // Answered, not stored: only the events with the server's token are.
    assert_eq!(server.events().len(), 3);
    assert_eq!(server.stats().events_rejected, 4);
}
