//! One decoded ingestion request against the server's state: the rules, then the answer.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alias_core::server::{Answer, AnswerStyle, Api, DecodedRequest, Event};
use alias_core::{wire::BatchLimits, wire::FailedRecord};
use serde_json::Value;

use crate::rate_limit::retry_after_secs;
use crate::shared::{Settings, State};
use crate::validate::{Rules, check};

/// What came of one request.
#[derive(Debug)]
pub(crate) struct Ingested {
    /// How Mixpanel would answer it.
    pub(crate) answer: Answer,
    /// Tokens of `/track` events for another project, seen for the first time, to be
    /// reported once the state is unlocked.
    pub(crate) unknown_tokens: Vec<String>,
}

impl From<Answer> for Ingested {
    fn from(answer: Answer) -> Self {
        Self {
            answer,
            unknown_tokens: Vec::new(),
        }
    }
}

/// When a request arrived, by the two clocks the rules read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// The server's wall clock (skewed as configured), for event times.
    pub(crate) time: SystemTime,
    /// The monotonic clock, for the rate limit.
    pub(crate) instant: Instant,
}

impl Arrival {
    /// Now, by the server's clocks.
    pub(crate) fn now(settings: &Settings) -> Self {
        Self {
            time: settings.now(),
            instant: Instant::now(),
        }
    }
}

/// A request checked by every rule that needs no state. The check runs before the state
/// is locked, so that validating up to 2000 events never holds up the other requests.
#[derive(Debug)]
pub(crate) struct Checked {
    count: u64,
    /// The body's size once decompressed.
    bytes: u64,
    /// The refusal of the whole request for its credentials or its size, if any.
    admitted: Result<(), Answer>,
    /// Simplified ID Merge refuses the whole request for an identity event in it.
    refuses_identity_events: bool,
    api: Api,
    style: AnswerStyle,
    strict: bool,
    /// The arrival time, in milliseconds since the epoch.
    now_ms: u64,
    instant: Instant,
    /// Each record checked, in order; empty when the request is refused whole.
    records: Vec<Result<Event, FailedRecord>>,
}

/// Checks `request`, arrived at `arrival`, by the rules that need no state.
pub(crate) fn check_request(
    settings: &Settings,
    request: DecodedRequest,
    arrival: Arrival,
) -> Checked {
    let now_ms = u64::try_from(
        arrival
            .time
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    let admitted = admit(settings, &request);
    let refuses_identity_events = refuses_identity_events(settings, &request);
    let strict = request.is_strict();
    let rules = Rules {
        api: request.api,
        require_ids: strict && request.api == Api::Import,
        now_ms,
    };
    let mut checked = Checked {
        count: request.records.len() as u64,
        bytes: request.body_bytes as u64,
        admitted,
        refuses_identity_events,
        api: request.api,
        style: AnswerStyle::for_decoded(&request),
        strict,
        now_ms,
        instant: arrival.instant,
        records: Vec::new(),
    };
    if checked.admitted.is_ok() && !checked.refuses_identity_events {
        checked.records = request
            .records
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                check(record, &rules).map_err(|failure| FailedRecord {
                    index: Some(index),
                    insert_id: failure.insert_id,
                    field: Some(failure.field),
                    message: failure.message,
                })
            })
            .collect();
    }
    checked
}

/// Applies a checked request to `state` and says how Mixpanel would answer it.
///
/// The order of the checks is the order of their answers: credentials (401) and the size
/// of the request (too many events) first, then the rate limit (429), then the identity
/// system (Simplified ID Merge refusing identity events on `/import`), then each event.
pub(crate) fn apply(settings: &Settings, state: &mut State, checked: Checked) -> Ingested {
    let count = checked.count;
    if let Err(refused) = checked.admitted {
        state.store.stats.events_received += count;
        state.store.stats.events_rejected += count;
        return refused.into();
    }
    if let Some(window) = &mut state.rate_limit {
        if let Err(wait) = window.take(count, checked.bytes, checked.instant) {
            // The events are not counted as received: they come back with the retry.
            state.store.stats.requests_rate_limited += 1;
            return rate_limited(settings, Some(wait)).into();
        }
    }
    let store = &mut state.store;
    store.stats.events_received += count;

    if checked.refuses_identity_events {
        store.stats.events_rejected += count;
        return Answer::identity_events_not_allowed().into();
    }

    let (style, strict, now_ms) = (checked.style, checked.strict, checked.now_ms);
    let mut failed = Vec::new();
    let mut accepted = 0_u64;
    let mut unknown_tokens = Vec::new();
    for record in checked.records {
        let mut event = match record {
            Ok(event) => event,
            Err(failure) => {
                store.stats.events_rejected += 1;
                failed.push(failure);
                continue;
            }
        };
        accepted += 1;
        // `1` does not mean the token is valid: Mixpanel matches tokens to projects after
        // answering, and drops what belongs to no project it knows.
        if checked.api == Api::Track {
            let token = event.token().unwrap_or_default();
            if token != settings.project.token {
                store.stats.events_rejected += 1;
                if state.unknown_tokens.first_sighting(token) {
                    unknown_tokens.push(token.to_owned());
                }
                continue;
            }
        }
        // A /track event without a time happened when it arrived. One from the future is
        // "overwritten with the current present time" (Mixpanel's API specification, for
        // /track); /import does the same within the hour ahead it takes (further ahead
        // was refused by the checks).
        let from_the_future = event.time_millis().is_some_and(|time| time > now_ms);
        let untimed_track = checked.api == Api::Track && event.time_millis().is_none();
        if from_the_future || untimed_track {
            event
                .properties
                .insert("time".to_owned(), Value::from(now_ms));
        }
        store.store(event, settings.identity, checked.api == Api::Import);
    }

    let answer = match (style, failed.first()) {
        (_, None) => Answer::success(style, accepted),
        (AnswerStyle::Strict, Some(_)) if strict => Answer::ValidationFailed {
            num_records_imported: accepted,
            failed_records: failed,
        },
        // Without strict validation, /import drops invalid events silently.
        (AnswerStyle::Strict, Some(_)) => Answer::success(style, accepted),
        (_, Some(first)) => Answer::failure(style, first.message.clone()),
    };
    Ingested {
        answer,
        unknown_tokens,
    }
}

/// The 429 of a request the rate limit refuses, or of the `429` fault (`wait: None`):
/// Mixpanel's JSON without `Retry-After` unless the server is set to send it (then the
/// whole seconds of `wait`, or 1), or a front-end proxy's HTML page, which has none.
pub(crate) fn rate_limited(settings: &Settings, wait: Option<Duration>) -> Answer {
    if settings.html_429 {
        return Answer::ProxyError {
            status: http::StatusCode::TOO_MANY_REQUESTS,
        };
    }
    Answer::RateLimited {
        retry_after_secs: settings
            .retry_after
            .then(|| wait.map_or(1, retry_after_secs)),
    }
}

/// Refuses a request whole for its credentials (`/import`) or its number of events.
fn admit(settings: &Settings, request: &DecodedRequest) -> Result<(), Answer> {
    if request.api == Api::Import {
        settings
            .project
            .authenticate(request.auth.as_ref(), request.params.project_id.as_deref())?;
    }
    let count = request.records.len();
    if count > BatchLimits::MAX_EVENTS {
        return Err(Answer::failure(
            AnswerStyle::for_decoded(request),
            format!(
                "the request has {count} events; at most {} are allowed",
                BatchLimits::MAX_EVENTS
            ),
        ));
    }
    Ok(())
}

/// Whether the project refuses the whole request for an identity event in it: Simplified
/// ID Merge on `/import`, whether the event is well-formed or not.
fn refuses_identity_events(settings: &Settings, request: &DecodedRequest) -> bool {
    request.api == Api::Import
        && request.records.iter().any(|record| {
            record
                .name()
                .is_some_and(|name| settings.identity.refuses_on_import(name))
        })
}

#[cfg(test)]
mod tests {
    use alias_core::server::{DecodeLimits, decode_request};
    use serde_json::json;

    use super::*;
    use crate::faults::{FaultDice, FaultSpec};
    use crate::identity::IdentitySystem;

    /// The request checked and applied, as the server does.
    fn ingest(
        settings: &Settings,
        state: &mut State,
        request: DecodedRequest,
        arrival: Arrival,
    ) -> Ingested {
        apply(settings, state, check_request(settings, request, arrival))
    }

    fn now() -> Arrival {
        Arrival {
            time: UNIX_EPOCH + Duration::from_secs(1_750_000_000),
            instant: Instant::now(),
        }
    }

    /// Basic credentials of the default project's token.
    const TOKEN_AUTH: &str = "Basic dGVzdC10b2tlbjo=";

    fn state() -> State {
        State::new(&Settings::default(), FaultDice::new(FaultSpec::none(), 0))
    }

    fn run(state: &mut State, uri: &str, auth: Option<&str>, body: Value) -> Answer {
        run_with(&Settings::default(), state, uri, auth, body)
    }

    fn run_with(
        settings: &Settings,
        state: &mut State,
        uri: &str,
        auth: Option<&str>,
        body: Value,
    ) -> Answer {
        ingest(settings, state, decoded(uri, auth, &body), now()).answer
    }

    fn decoded(uri: &str, auth: Option<&str>, body: &Value) -> DecodedRequest {
        let mut request = http::Request::post(uri);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let request = request.body(serde_json::to_vec(body).unwrap()).unwrap();
        decode_request(&request, &DecodeLimits::default()).unwrap()
    }

    fn alias(distinct_id: &str, alias: &str, token: &str) -> Value {
        json!({"event": "$create_alias", "properties": {"distinct_id": distinct_id, "alias": alias, "token": token}})
    }

    #[test]
    fn track_answers_by_style_and_stamps_arrival_time() {
        let mut state = state();
        assert_eq!(
            run(&mut state, "/track", None, alias("a", "b", "test-token")),
            Answer::Plain(true)
        );
        assert_eq!(
            state.store.events()[0].time_millis(),
            Some(1_750_000_000_000)
        );
        assert_eq!(
            run(&mut state, "/track?verbose=1", None, alias("a", "b", "")),
            Answer::Verbose {
                error: Some("token, missing or empty".into())
            }
        );
        assert_eq!(
            run(&mut state, "/track", None, alias("a", "b", "")),
            Answer::Plain(false)
        );
        assert_eq!(state.store.stats.events_rejected, 2);
    }

    #[test]
    fn a_future_time_is_overwritten_and_import_refuses_one_over_an_hour_ahead() {
        let mut state = state();
        let in_a_day = 1_750_086_400_u64;
        let mut event = alias("a", "b", "test-token");
        event["properties"]["time"] = json!(in_a_day);
        assert_eq!(
            run(&mut state, "/track", None, event.clone()),
            Answer::Plain(true)
        );
        assert_eq!(
            state.store.events()[0].time_millis(),
            Some(1_750_000_000_000)
        );
        // A time of the past is kept as sent.
        event["properties"]["time"] = json!(1_749_999_000);
        run(&mut state, "/track", None, event.clone());
        assert_eq!(
            state.store.events()[1].time_millis(),
            Some(1_749_999_000_000)
        );

        event["properties"]["time"] = json!(in_a_day);
        event["properties"]["$insert_id"] = json!("future-1");
        let answer = run(
            &mut state,
            "/import?strict=1",
            Some(TOKEN_AUTH),
            json!([event]),
        );
        let Answer::ValidationFailed { failed_records, .. } = answer else {
            panic!("not refused: {answer:?}");
        };
        assert_eq!(failed_records[0].field.as_deref(), Some("properties.time"));
        assert_eq!(state.store.events().len(), 2);

        // Within the hour ahead /import takes, the time is overwritten as on /track.
        event["properties"]["time"] = json!(1_750_000_000 + 3599);
        let answer = run(
            &mut state,
            "/import?strict=1",
            Some(TOKEN_AUTH),
            json!([event]),
        );
        assert_eq!(
            answer,
            Answer::Imported {
                num_records_imported: 1
            }
        );
        assert_eq!(
            state.store.events()[2].time_millis(),
            Some(1_750_000_000_000)
        );
    }

    #[test]
    fn another_projects_token_is_answered_but_not_stored() {
        let mut state = state();
        assert_eq!(
            run(
                &mut state,
                "/track?verbose=1",
                None,
                alias("a", "b", "someone-else")
            ),
            Answer::Verbose { error: None }
        );
        assert!(state.store.events().is_empty());
        assert_eq!(state.store.stats.events_rejected, 1);
    }

    #[test]
    fn each_unknown_token_is_reported_once() {
        let mut state = state();
        let body = json!([
            alias("a", "b", "other-1"),
            alias("c", "d", "other-1"),
            alias("e", "f", "test-token"),
            alias("g", "h", "other-2"),
        ]);
        let ingested = ingest(
            &Settings::default(),
            &mut state,
            decoded("/track", None, &body),
            now(),
        );
        assert_eq!(ingested.unknown_tokens, ["other-1", "other-2"]);
        let ingested = ingest(
            &Settings::default(),
            &mut state,
            decoded("/track", None, &body),
            now(),
        );
        assert!(ingested.unknown_tokens.is_empty());
        assert_eq!(state.store.stats.events_rejected, 6);
    }

    #[test]
    fn strict_import_partial_success_keeps_the_good_events() {
        let mut state = state();
        let good = json!({"event": "$create_alias", "properties": {"distinct_id": "a", "alias": "b", "time": 1_749_999_000, "$insert_id": "ok-1"}});
        let bad = json!({"event": "$create_alias", "properties": {"distinct_id": "c", "alias": "d", "$insert_id": "bad-1"}});
        let answer = run(
            &mut state,
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
        assert_eq!(state.store.events().len(), 1);
        let answer = run(
            &mut state,
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
        let settings = Settings {
            identity: IdentitySystem::Simplified,
            ..Settings::default()
        };
        let ordinary = json!({"event": "e", "properties": {"distinct_id": "a", "time": 1_749_999_000, "$insert_id": "e-1"}});
        for identity_event in ["$create_alias", "$identify", "$merge"] {
            for query in ["/import?strict=1", "/import?strict=0"] {
                let mut state = state();
                let mut event = alias("a", "b", "test-token");
                event["event"] = json!(identity_event);
                let body = json!([ordinary.clone(), event]);
                let answer = run_with(&settings, &mut state, query, Some(TOKEN_AUTH), body);
                assert_eq!(answer, Answer::identity_events_not_allowed(), "{query}");
                assert!(state.store.events().is_empty(), "{identity_event} {query}");
                assert_eq!(state.store.stats.events_received, 2);
                assert_eq!(state.store.stats.events_rejected, 2);
            }
        }
        // /track stores them, and an /import without them is ingested.
        let mut state = state();
        let answer = run_with(
            &settings,
            &mut state,
            "/track",
            None,
            alias("a", "b", "test-token"),
        );
        assert_eq!(answer, Answer::Plain(true));
        let answer = run_with(
            &settings,
            &mut state,
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
        assert_eq!(state.store.events().len(), 2);
    }

    #[test]
    fn the_rate_limit_comes_after_credentials_and_size_and_counts_apart() {
        let settings = Settings {
            rate_limit: Some(10),
            rate_limit_window: Duration::from_secs(1),
            retry_after: true,
            ..Settings::default()
        };
        let mut state = State::new(&settings, FaultDice::new(FaultSpec::none(), 0));
        let start = now();
        let later = |millis| Arrival {
            instant: start.instant + Duration::from_millis(millis),
            ..start
        };
        let aliases = |n: usize| {
            Value::Array(
                (0..n)
                    .map(|i| alias("a", &format!("b{i}"), "test-token"))
                    .collect(),
            )
        };
        let mut send = |uri, auth, n, arrival| {
            ingest(
                &settings,
                &mut state,
                decoded(uri, auth, &aliases(n)),
                arrival,
            )
            .answer
        };
        assert_eq!(send("/track", None, 10, start), Answer::Plain(true));
        assert_eq!(
            send("/track", None, 1, start),
            Answer::RateLimited {
                retry_after_secs: Some(1)
            }
        );
        // Refused for what they are before the rate limit is asked.
        assert_eq!(
            send("/import", Some("Basic d3Jvbmc6"), 1, start),
            Answer::invalid_credentials()
        );
        assert!(matches!(
            send("/track?verbose=1", None, 2001, start),
            Answer::Verbose { error: Some(_) }
        ));
        // Once the first ten have left the window, ten more fit, and an eleventh does not.
        assert_eq!(send("/track", None, 10, later(1000)), Answer::Plain(true));
        assert_eq!(
            send("/track", None, 1, later(1100)),
            Answer::RateLimited {
                retry_after_secs: Some(1)
            }
        );
        let stats = state.store.stats;
        assert_eq!(stats.requests_rate_limited, 2);
        assert_eq!(stats.events_received, 10 + 1 + 2001 + 10);
        assert_eq!(stats.events_stored, 20);
        assert_eq!(stats.events_rejected, 1 + 2001);
    }

    #[test]
    fn whole_requests_refused() {
        let mut state = state();
        let answer = run(
            &mut state,
            "/import",
            Some("Basic d3Jvbmc6"),
            json!([alias("a", "b", "t")]),
        );
        assert_eq!(answer, Answer::invalid_credentials());
        let many: Vec<Value> = (0..2001)
            .map(|i| alias("a", &format!("b{i}"), "test-token"))
            .collect();
        let answer = run(&mut state, "/track?verbose=1", None, Value::Array(many));
        assert_eq!(
            answer,
            Answer::Verbose {
                error: Some("the request has 2001 events; at most 2000 are allowed".into())
            }
        );
        assert_eq!(state.store.stats.events_received, 2002);
        assert_eq!(state.store.stats.events_rejected, 2002);
        assert!(state.store.events().is_empty());
    }
}
