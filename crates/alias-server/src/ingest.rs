//! One decoded ingestion request against the store: the rules, then the answer.

use std::time::{SystemTime, UNIX_EPOCH};

use alias_core::server::{Answer, AnswerStyle, Api, DecodedRequest};
use alias_core::{BatchLimits, FailedRecord};
use serde_json::Value;

use crate::shared::Settings;
use crate::store::Store;
use crate::validate::{Rules, check};

/// Applies `request` to `store` and says how Mixpanel would answer it.
pub(crate) fn ingest(
    settings: &Settings,
    store: &mut Store,
    request: DecodedRequest,
    now: SystemTime,
) -> Answer {
    let style = AnswerStyle::for_decoded(&request);
    let count = request.records.len() as u64;
    store.stats.events_received += count;
    if request.api == Api::Import {
        if let Err(refused) = settings
            .project
            .authenticate(request.auth.as_ref(), request.params.project_id.as_deref())
        {
            store.stats.events_rejected += count;
            return refused;
        }
    }
    if request.records.len() > BatchLimits::MAX_EVENTS {
        store.stats.events_rejected += count;
        return Answer::failure(
            style,
            format!(
                "the request has {count} events; at most {} are allowed",
                BatchLimits::MAX_EVENTS
            ),
        );
    }

    let identity = settings.identity;
    if request.api == Api::Import
        && request.records.iter().any(|record| {
            record
                .name()
                .is_some_and(|name| identity.refuses_on_import(name))
        })
    {
        store.stats.events_rejected += count;
        return Answer::identity_events_not_allowed();
    }

    let now_ms = u64::try_from(
        now.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    let strict = request.is_strict();
    let rules = Rules {
        api: request.api,
        require_ids: strict && request.api == Api::Import,
        now_ms,
    };
    let mut failed = Vec::new();
    let mut accepted = 0_u64;
    for (index, record) in request.records.into_iter().enumerate() {
        let mut event = match check(record, &rules) {
            Ok(event) => event,
            Err(failure) => {
                store.stats.events_rejected += 1;
                failed.push(FailedRecord {
                    index: Some(index),
                    insert_id: failure.insert_id,
                    field: Some(failure.field),
                    message: failure.message,
                });
                continue;
            }
        };
        accepted += 1;
        // `1` does not mean the token is valid: Mixpanel matches tokens to projects after
        // answering, and drops what belongs to no project it knows.
        if request.api == Api::Track && event.token() != Some(settings.project.token.as_str()) {
            store.stats.events_rejected += 1;
            continue;
        }
        // A /track event without a time happened when it arrived; one from the future is
        // "overwritten with the current present time" (Mixpanel's API specification).
        if request.api == Api::Track && event.time_millis().is_none_or(|time| time > now_ms) {
            event
                .properties
                .insert("time".to_owned(), Value::from(now_ms));
        }
        store.store(event, settings.identity);
    }

    match (style, failed.first()) {
        (_, None) => Answer::success(style, accepted),
        (AnswerStyle::Strict, Some(_)) if strict => Answer::ValidationFailed {
            num_records_imported: accepted,
            failed_records: failed,
        },
        // Without strict validation, /import drops invalid events silently.
        (AnswerStyle::Strict, Some(_)) => Answer::success(style, accepted),
        (_, Some(first)) => Answer::failure(style, first.message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use alias_core::server::{DecodeLimits, decode_request};
    use serde_json::json;

    use super::*;
    use crate::credentials::Project;
    use crate::identity::IdentitySystem;

    fn settings() -> Settings {
        Settings {
            identity: IdentitySystem::Original,
            project: Project::default(),
            limits: DecodeLimits::default(),
            slow_delay: Duration::ZERO,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            max_connections: 1,
            clock_skew_secs: 0,
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    /// Basic credentials of the default project's token.
    const TOKEN_AUTH: &str = "Basic dGVzdC10b2tlbjo=";

    fn run(store: &mut Store, uri: &str, auth: Option<&str>, body: Value) -> Answer {
        run_with(&settings(), store, uri, auth, body)
    }

    fn run_with(
        settings: &Settings,
        store: &mut Store,
        uri: &str,
        auth: Option<&str>,
        body: Value,
    ) -> Answer {
        let mut request = http::Request::post(uri);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let request = request.body(serde_json::to_vec(&body).unwrap()).unwrap();
        let decoded = decode_request(&request, &DecodeLimits::default()).unwrap();
        ingest(settings, store, decoded, now())
    }

    fn alias(distinct_id: &str, alias: &str, token: &str) -> Value {
        json!({"event": "$create_alias", "properties": {"distinct_id": distinct_id, "alias": alias, "token": token}})
    }

    #[test]
    fn track_answers_by_style_and_stamps_arrival_time() {
        let mut store = Store::default();
        assert_eq!(
            run(&mut store, "/track", None, alias("a", "b", "test-token")),
            Answer::Plain(true)
        );
        assert_eq!(store.events()[0].time_millis(), Some(1_750_000_000_000));
        assert_eq!(
            run(&mut store, "/track?verbose=1", None, alias("a", "b", "")),
            Answer::Verbose {
                error: Some("token, missing or empty".into())
            }
        );
        assert_eq!(
            run(&mut store, "/track", None, alias("a", "b", "")),
            Answer::Plain(false)
        );
        assert_eq!(store.stats.events_rejected, 2);
    }

    #[test]
    fn track_overwrites_a_future_time_and_import_refuses_it() {
        let mut store = Store::default();
        let in_a_day = 1_750_086_400_u64;
        let mut event = alias("a", "b", "test-token");
        event["properties"]["time"] = json!(in_a_day);
        assert_eq!(
            run(&mut store, "/track", None, event.clone()),
            Answer::Plain(true)
        );
        assert_eq!(store.events()[0].time_millis(), Some(1_750_000_000_000));
        // A time of the past is kept as sent.
        event["properties"]["time"] = json!(1_749_999_000);
        run(&mut store, "/track", None, event.clone());
        assert_eq!(store.events()[1].time_millis(), Some(1_749_999_000_000));

        event["properties"]["time"] = json!(in_a_day);
        event["properties"]["$insert_id"] = json!("future-1");
        let answer = run(
            &mut store,
            "/import?strict=1",
            Some(TOKEN_AUTH),
            json!([event]),
        );
        let Answer::ValidationFailed { failed_records, .. } = answer else {
            panic!("not refused: {answer:?}");
        };
        assert_eq!(failed_records[0].field.as_deref(), Some("properties.time"));
        assert_eq!(store.events().len(), 2);
    }

    #[test]
    fn another_projects_token_is_answered_but_not_stored() {
        let mut store = Store::default();
        assert_eq!(
            run(
                &mut store,
                "/track?verbose=1",
                None,
                alias("a", "b", "someone-else")
            ),
            Answer::Verbose { error: None }
        );
        assert!(store.events().is_empty());
        assert_eq!(store.stats.events_rejected, 1);
    }

    #[test]
    fn strict_import_partial_success_keeps_the_good_events() {
        let mut store = Store::default();
        let good = json!({"event": "$create_alias", "properties": {"distinct_id": "a", "alias": "b", "time": 1_749_999_000, "$insert_id": "ok-1"}});
        let bad = json!({"event": "$create_alias", "properties": {"distinct_id": "c", "alias": "d", "$insert_id": "bad-1"}});
        let answer = run(
            &mut store,
            "/import?strict=1",
            Some(TOKEN_AUTH),
            json!([good, bad]),
        );
        assert_eq!(
            answer,
            Answer::ValidationFailed {
                num_records_imported: 1,
                failed_records: vec![FailedRecord {
                    index: Some(1),
                    insert_id: Some("bad-1".into()),
                    field: Some("properties.time".into()),
                    message: "'time' is missing".into(),
                }],
            }
        );
        assert_eq!(store.events().len(), 1);
        let answer = run(
            &mut store,
            "/import?strict=0",
            Some(TOKEN_AUTH),
            json!([bad]),
        );
        assert_eq!(
            answer,
            Answer::Imported {
                num_records_imported: 1
            }
        );
    }

    #[test]
    fn simplified_refuses_a_whole_import_with_an_identity_event() {
        let mut settings = settings();
        settings.identity = IdentitySystem::Simplified;
        let ordinary = json!({"event": "e", "properties": {"distinct_id": "a", "time": 1_749_999_000, "$insert_id": "e-1"}});
        for identity_event in ["$create_alias", "$identify", "$merge"] {
            for query in ["/import?strict=1", "/import?strict=0"] {
                let mut store = Store::default();
                let mut event = alias("a", "b", "test-token");
                event["event"] = json!(identity_event);
                let body = json!([ordinary.clone(), event]);
                let answer = run_with(&settings, &mut store, query, Some(TOKEN_AUTH), body);
                assert_eq!(answer, Answer::identity_events_not_allowed(), "{query}");
                assert!(store.events().is_empty(), "{identity_event} {query}");
                assert_eq!(store.stats.events_received, 2);
                assert_eq!(store.stats.events_rejected, 2);
            }
        }
        // /track stores them, and an /import without them is ingested.
        let mut store = Store::default();
        let answer = run_with(
            &settings,
            &mut store,
            "/track",
            None,
            alias("a", "b", "test-token"),
        );
        assert_eq!(answer, Answer::Plain(true));
        let answer = run_with(
            &settings,
            &mut store,
            "/import",
            Some(TOKEN_AUTH),
            json!([ordinary]),
        );
        assert_eq!(
            answer,
            Answer::Imported {
                num_records_imported: 1
            }
        );
        assert_eq!(store.events().len(), 2);
    }

    #[test]
    fn whole_requests_refused() {
        let mut store = Store::default();
        let answer = run(
            &mut store,
            "/import",
            Some("Basic d3Jvbmc6"),
            json!([alias("a", "b", "t")]),
        );
        assert_eq!(answer, Answer::invalid_credentials());
        let many: Vec<Value> = (0..2001)
            .map(|i| alias("a", &format!("b{i}"), "test-token"))
            .collect();
        let answer = run(&mut store, "/track?verbose=1", None, Value::Array(many));
        assert_eq!(
            answer,
            Answer::Verbose {
                error: Some("the request has 2001 events; at most 2000 are allowed".into())
            }
        );
        assert_eq!(store.stats.events_received, 2002);
        assert_eq!(store.stats.events_rejected, 2002);
        assert!(store.events().is_empty());
    }
}
