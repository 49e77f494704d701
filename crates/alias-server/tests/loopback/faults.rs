//! Each fault kind, the determinism of the draws, and their scope.

use std::time::{Duration, Instant};

use alias_server::{Server, Stats};
use serde_json::json;

use crate::common::{alias_event, get, import, post_json, strict_alias_event, try_send};

/// The status of the answer, or `Err` when the connection closed without one.
fn post_alias(server: &Server, id: usize) -> Result<u16, ()> {
    let request = alias_core::http::Request::post("/track?verbose=1")
        .header("content-type", "application/json")
        .body(
            json!([alias_event(&format!("anon-{id}"), &format!("user-{id}"))])
                .to_string()
                .into_bytes(),
        )
        .unwrap();
    try_send(server, request)
        .map(|reply| reply.status)
        .map_err(|_| ())
}

#[test]
fn reset_closes_without_storing() {
    let server = Server::builder()
        .faults("reset=1".parse().unwrap())
        .start()
        .unwrap();
    assert!(post_alias(&server, 1).is_err());
    assert_eq!(
        server.stats(),
        Stats {
            requests: 1,
            faults_injected: 1,
            ..Stats::default()
        }
    );
    assert!(server.events().is_empty());
}

#[test]
fn ack_lost_stores_then_closes() {
    let server = Server::builder()
        .faults("ack_lost=1".parse().unwrap())
        .start()
        .unwrap();
    assert!(post_alias(&server, 1).is_err());
    let stats = server.stats();
    assert_eq!((stats.faults_injected, stats.events_stored), (1, 1));
    assert_eq!(server.events()[0].alias(), Some("user-1"));
}

#[test]
fn slow_delays_the_answer() {
    let delay = Duration::from_millis(300);
    let server = Server::builder()
        .faults("slow=1".parse().unwrap())
        .slow_delay(delay)
        .start()
        .unwrap();
    let started = Instant::now();
    let reply = import(
        &server,
        "strict=1",
        &json!([strict_alias_event("a", "b", "s-1")]),
    );
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(reply.status, 200);
    assert_eq!(server.stats().faults_injected, 1);
}

#[test]
fn the_same_seed_injects_the_same_faults() {
    let spec = "500=0.1,502=0.1,503=0.1,429=0.1,reset=0.1,ack_lost=0.1";
    let outcomes = |server: &Server| (0..40).map(|i| post_alias(server, i)).collect::<Vec<_>>();
    let one = Server::builder()
        .faults(spec.parse().unwrap())
        .seed(7)
        .start()
        .unwrap();
    let two = Server::builder()
        .faults(spec.parse().unwrap())
        .seed(7)
        .start()
        .unwrap();
    let other = Server::builder()
        .faults(spec.parse().unwrap())
        .seed(8)
        .start()
        .unwrap();
    let first = outcomes(&one);
    assert_eq!(first, outcomes(&two));
    assert_ne!(first, outcomes(&other));
    // Every kind in the spec shows up, and the count of faults is what the stats say.
    let faulted = first.iter().filter(|o| *o != &Ok(200)).count() as u64;
    assert_eq!(one.stats().faults_injected, faulted);
    for status in [500, 502, 503, 429] {
        assert!(
            first.contains(&Ok(status)),
            "{status} never drawn: {first:?}"
        );
    }
    // A reset restarts the sequence.
    one.reset();
    assert_eq!(first, outcomes(&one));
}

#[test]
fn faults_spare_the_inspection_api() {
    let server = Server::builder()
        .faults("503=1".parse().unwrap())
        .start()
        .unwrap();
    assert_eq!(get(&server, "/_inspect/stats").status, 200);
    assert_eq!(get(&server, "/_inspect/events").status, 200);
    assert_eq!(post_json(&server, "/track", &json!([])).status, 503);
    assert_eq!(server.stats().requests, 1);
}
