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
