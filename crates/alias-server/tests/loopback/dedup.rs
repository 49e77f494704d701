//! `$insert_id` dedup on (event, time, distinct_id, `$insert_id`).

use std::time::{Duration, SystemTime};

use alias_core::{ApiHost, Config, CreateAlias, Token};
use alias_server::{DEFAULT_TOKEN, Server};
use serde_json::json;

use crate::common::{import, send, strict_alias_event};

#[test]
fn a_repeat_is_acknowledged_but_stored_once() {
    let server = Server::start().unwrap();
    let event = strict_alias_event("anon-id", "user", "dedup-1");
    for _ in 0..3 {
        let reply = import(&server, "strict=1", &json!([event]));
        assert_eq!(
            reply.body,
            r#"{"code":200,"num_records_imported":1,"status":"OK"}"#
        );
    }
    let mut later = event.clone();
    later["properties"]["time"] = json!(crate::common::now_secs() - 60);
    let mut other_id = event;
    other_id["properties"]["$insert_id"] = json!("dedup-2");
    import(&server, "strict=1", &json!([later, other_id]));
    let stats = server.stats();
    assert_eq!(stats.events_stored, 3);
    assert_eq!(stats.duplicates_dropped, 2);
    assert_eq!(server.events().len(), 3);
    // Raw storage keeps every copy; the query view folds them.
    assert_eq!(server.raw_events().len(), 5);
    let (status, raw) = crate::common::inspect(&server, "events?view=raw");
    assert_eq!((status, raw.as_array().map(Vec::len)), (200, Some(5)));
    let (_, view) = crate::common::inspect(&server, "events");
    assert_eq!(view.as_array().map(Vec::len), Some(3));
}

#[test]
fn the_latest_copy_wins_in_the_query_view() {
    let server = Server::start().unwrap();
    let mut event = strict_alias_event("anon-id", "user", "latest-1");
    for attempt in 0..3 {
        event["properties"]["attempt"] = json!(attempt);
        import(&server, "strict=1", &json!([event]));
    }
    let events = server.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].properties["attempt"], 2);
    let attempts: Vec<_> = server
        .raw_events()
        .iter()
        .map(|e| e.properties["attempt"].clone())
        .collect();
    assert_eq!(attempts, [json!(0), json!(1), json!(2)]);
}

#[test]
fn a_future_time_within_the_hour_is_overwritten_on_import_too() {
    let server = Server::start().unwrap();
    let now = crate::common::now_secs();
    let mut event = strict_alias_event("anon-id", "user", "future-1");
    event["properties"]["time"] = json!(now + 1800);
    let reply = import(&server, "strict=1", &json!([event]));
    assert_eq!(reply.status, 200, "{reply:?}");
    let stored = server.events()[0].time_millis().unwrap();
    // The server's time of arrival, not the half hour ahead sent.
    assert!(stored <= (now + 60) * 1000, "{stored}");
    assert!(stored >= now * 1000, "{stored}");
}

#[test]
fn a_client_resending_the_same_alias_is_deduplicated() {
    let server = Server::start().unwrap();
    let config = Config::builder(Token::new(DEFAULT_TOKEN).unwrap())
        .api_host(ApiHost::custom(server.url()).unwrap())
        .build();
    let link = CreateAlias::from_ids("anon-9", "user-9").unwrap();
    let first_encoding = SystemTime::now();
    // An idempotent client stamps the time once; a retry carries the same event.
    let link = link.with_time(first_encoding).unwrap();
    for retry in 0..3 {
        let now = first_encoding + Duration::from_secs(retry);
        let batch = config.encode(std::slice::from_ref(&link), now).unwrap();
        for batch in batch {
            send(&server, batch.request);
        }
    }
    assert_eq!(server.events().len(), 1);
    assert_eq!(server.stats().duplicates_dropped, 2);
}

#[test]
fn answers_carry_the_servers_own_clock_in_date() {
    let server = Server::builder().clock_skew_secs(-600).start().unwrap();
    let answer = crate::common::raw_exchange(
        &server,
        b"GET /track?data=W10= HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let date = answer
        .lines()
        .find_map(|line| line.strip_prefix("date: "))
        .unwrap_or_else(|| panic!("no Date in {answer}"));
    let date = httpdate::parse_http_date(date.trim()).unwrap();
    let behind = SystemTime::now().duration_since(date).unwrap();
    // Ten minutes behind this machine's clock, give or take the exchange.
    assert!(
        (Duration::from_secs(595)..=Duration::from_secs(605)).contains(&behind),
        "{behind:?}"
    );
}
