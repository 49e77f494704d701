//! The delivery state machine driven by scripted answers and a fake clock.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alias_core::server::{DecodeLimits, decode_request};
use alias_core::{
    AliasOutcome, Config, CreateAlias, Credentials, DeliveryError, Endpoint, Rejection, Secret,
    Token, delivery::Delivery, delivery::Input, delivery::Outgoing, delivery::ReportEntry,
    driver::TransportError, driver::TransportErrorKind, wire::BatchLimits, wire::Field,
    wire::RetryPolicy,
};
use http::Response;

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn aliases(n: usize) -> Vec<CreateAlias> {
    (0..n)
        .map(|i| CreateAlias::from_ids(&format!("anon-{i}"), &format!("user-{i}")).unwrap())
        .collect()
}

fn config() -> Config {
    Config::new(Token::new("tok").unwrap())
}

fn answer(status: u16, body: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn with_header(status: u16, name: &str, value: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(name, value)
        .body(Vec::new())
        .unwrap()
}

const OK: &str = r#"{"status":1,"error":null}"#;

fn start(config: Config, n: usize) -> (Delivery, Instant) {
    let now = Instant::now();
    let mut delivery = Delivery::new(config, now, wall(), 42);
    for alias in aliases(n) {
        delivery.handle_input(Input::Alias(alias, wall()), now);
    }
    delivery.handle_input(Input::Ended, now);
    (delivery, now)
}

/// What the delivery asks of its driver at `now`.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "matched at once, as a driver matches what it polls"
)]
enum Step {
    Send(Outgoing),
    /// Nothing to send: wait for an answer or, if given, until then.
    Wait(Option<Instant>),
    Done,
}

/// Asks the delivery what to do at `now`, as a driver does: a request to send, else
/// whether it is over, else when to ask again.
fn step(delivery: &mut Delivery, now: Instant) -> Step {
    if let Some(outgoing) = delivery.poll_transmit(now) {
        return Step::Send(outgoing);
    }
    if delivery.is_done() {
        return Step::Done;
    }
    Step::Wait(delivery.poll_timeout())
}

fn expect_send(delivery: &mut Delivery, now: Instant) -> Outgoing {
    match step(delivery, now) {
        Step::Send(outgoing) => outgoing,
        other => panic!("expected a send, got {other:?}"),
    }
}

fn expect_wait(delivery: &mut Delivery, now: Instant) -> Option<Instant> {
    match step(delivery, now) {
        Step::Wait(until) => until,
        other => panic!("expected a wait, got {other:?}"),
    }
}

/// Every entry that is final now, in order.
fn take_finished(delivery: &mut Delivery) -> Vec<ReportEntry> {
    std::iter::from_fn(|| delivery.poll_finished()).collect()
}

#[test]
fn accepted_batch_finishes() {
    let (mut delivery, now) = start(config(), 3);
    let out = expect_send(&mut delivery, now);
    assert_eq!((out.attempt, out.aliases), (1, 3));
    assert_eq!(expect_wait(&mut delivery, now), None);
    delivery.handle_answer(out.id, Ok(answer(200, OK)), now);
    assert!(matches!(step(&mut delivery, now), Step::Done));
    let report = delivery.into_report();
    assert_eq!(report.tally().accepted, 3);
    assert_eq!(report.stats.requests, 1);
}

#[test]
fn concurrency_bounds_requests_in_flight() {
    let config = config()
        .into_builder()
        .concurrency(2)
        .batch_limits(BatchLimits {
            max_events: 1,
            ..BatchLimits::default()
        })
        .build();
    let (mut delivery, now) = start(config, 5);
    let first = expect_send(&mut delivery, now);
    let _second = expect_send(&mut delivery, now);
    assert_eq!(expect_wait(&mut delivery, now), None);
    delivery.handle_answer(first.id, Ok(answer(200, "1")), now);
    let third = expect_send(&mut delivery, now);
    assert_eq!(third.aliases, 1);
}

#[test]
fn server_errors_back_off_as_documented_then_succeed() {
    let (mut delivery, t0) = start(config(), 2);
    let out = expect_send(&mut delivery, t0);
    delivery.handle_answer(out.id, Ok(answer(503, "<html>unavailable</html>")), t0);
    let until = expect_wait(&mut delivery, t0).expect("a retry time");
    let delay = until - t0;
    // First retry: 2 s backoff plus 1-5 s of jitter.
    assert!(
        delay >= Duration::from_secs(3) && delay <= Duration::from_secs(7),
        "{delay:?}"
    );
    // Not before its time.
    assert_eq!(
        expect_wait(&mut delivery, until - Duration::from_millis(1)),
        Some(until)
    );
    let retry = expect_send(&mut delivery, until);
    assert_eq!((retry.batch, retry.attempt), (out.batch, 2));
    assert_eq!(
        retry.request.body(),
        out.request.body(),
        "a retry resends the same bytes"
    );
    delivery.handle_answer(retry.id, Ok(answer(200, OK)), until);
    assert!(matches!(step(&mut delivery, until), Step::Done));
    let report = delivery.into_report();
    assert!(report.all_accepted());
    assert_eq!(report.stats.retries, 1);
}

#[test]
fn retry_after_seconds_and_dates_win_and_are_capped() {
    for (header, expected) in [
        ("9".to_owned(), Duration::from_secs(9)),
        (
            httpdate::fmt_http_date(wall() + Duration::from_secs(30)),
            Duration::from_secs(30),
        ),
        ("999999".to_owned(), Duration::from_secs(600)),
    ] {
        let (mut delivery, t0) = start(config(), 1);
        let out = expect_send(&mut delivery, t0);
        delivery.handle_answer(out.id, Ok(with_header(429, "retry-after", &header)), t0);
        assert_eq!(
            expect_wait(&mut delivery, t0),
            Some(t0 + expected),
            "{header}"
        );
    }
}

#[test]
fn too_large_splits_in_halves_down_to_one_alias() {
    let (mut delivery, now) = start(config(), 3);
    let out = expect_send(&mut delivery, now);
    delivery.handle_answer(out.id, Ok(answer(413, "<html>413</html>")), now);
    let left = expect_send(&mut delivery, now);
    let right = expect_send(&mut delivery, now);
    assert_eq!((left.aliases, right.aliases), (1, 2));
    delivery.handle_answer(
        left.id,
        Ok(answer(
            413,
            r#"{"code":413,"error":"too big","status":"Request Entity Too Large"}"#,
        )),
        now,
    );
    delivery.handle_answer(right.id, Ok(answer(200, OK)), now);
    assert!(matches!(step(&mut delivery, now), Step::Done));
    let report = delivery.into_report();
    let AliasOutcome::Rejected(rejection) = &report.entries[0].outcome else {
        panic!("{:?}", report.entries[0].outcome);
    };
    assert_eq!(
        (rejection.status().as_u16(), rejection.message()),
        (413, "too big")
    );
    assert!(report.entries[1].outcome.is_accepted() && report.entries[2].outcome.is_accepted());
    assert_eq!(report.stats.splits, 1);
}

#[test]
fn strict_failures_map_to_their_aliases() {
    let (mut delivery, now) = start(config().into_builder().strict(true).build(), 4);
    let out = expect_send(&mut delivery, now);
    let body = r#"{"code":400,"error":"some data points in the request failed validation","failed_records":[{"index":2,"insert_id":"x","field":"properties.alias","message":"bad alias"}],"num_records_imported":3,"status":"Bad Request"}"#;
    delivery.handle_answer(out.id, Ok(answer(400, body)), now);
    let report = delivery.into_report();
    let outcomes: Vec<_> = report
        .entries
        .iter()
        .map(|e| e.outcome.is_accepted())
        .collect();
    assert_eq!(outcomes, [true, true, false, true]);
    let AliasOutcome::Rejected(rejection) = &report.entries[2].outcome else {
        unreachable!()
    };
    assert_eq!(rejection.field(), Some("properties.alias"));
    assert_eq!(report.entries[2].alias.alias().as_str(), "user-2");
}

/// What a project on Simplified ID Merge answers `/import` for identity events (`docs/mixpanel-facts.md` §7).
const SIMPLIFIED_REFUSAL: &str = r#"{"code":400,"error":"some data points in the request failed validation","failed_records":["identity events are not allowed when project is using simplified identity management"],"num_records_imported":0,"status":"Bad Request"}"#;

#[test]
fn simplified_id_merge_refuses_every_alias_of_the_batch_by_name() {
    let (mut delivery, now) = start(config().into_builder().strict(true).build(), 3);
    let out = expect_send(&mut delivery, now);
    delivery.handle_answer(out.id, Ok(answer(400, SIMPLIFIED_REFUSAL)), now);
    let report = delivery.into_report();
    assert_eq!(report.tally().rejected, 3);
    for entry in &report.entries {
        let AliasOutcome::Rejected(rejection) = &entry.outcome else {
            panic!("{:?}", entry.outcome);
        };
        assert_eq!(
            rejection,
            &Rejection::IdentityEventsNotAllowed {
                status: http::StatusCode::BAD_REQUEST
            }
        );
        assert!(rejection.is_project_level());
        assert!(
            rejection.to_string().contains("Simplified ID Merge"),
            "{rejection}"
        );
    }
}

#[test]
fn string_and_object_records_mix_in_one_answer() {
    let (mut delivery, now) = start(config().into_builder().strict(true).build(), 3);
    let out = expect_send(&mut delivery, now);
    let body = r#"{"code":400,"failed_records":[{"index":1,"field":"properties.time","message":"too old"},"the rest is refused"],"num_records_imported":0,"status":"Bad Request"}"#;
    delivery.handle_answer(out.id, Ok(answer(400, body)), now);
    let report = delivery.into_report();
    let refusals: Vec<_> = report
        .entries
        .iter()
        .map(|e| match &e.outcome {
            AliasOutcome::Rejected(r) => (r.field().map(str::to_owned), r.message().to_owned()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        refusals,
        [
            (None, "the rest is refused".to_owned()),
            (Some("properties.time".to_owned()), "too old".to_owned()),
            (None, "the rest is refused".to_owned()),
        ]
    );
}

#[test]
fn records_about_the_whole_request_beside_imported_events_are_not_guessed_at() {
    let (mut delivery, now) = start(config().into_builder().strict(true).build(), 3);
    let out = expect_send(&mut delivery, now);
    let body = r#"{"code":400,"failed_records":["something"],"num_records_imported":2,"status":"Bad Request"}"#;
    delivery.handle_answer(out.id, Ok(answer(400, body)), now);
    assert!(
        expect_wait(&mut delivery, now).is_some(),
        "retried, not settled"
    );
}

#[test]
fn failed_record_outside_the_request_is_not_trusted() {
    let (mut delivery, now) = start(config(), 2);
    let out = expect_send(&mut delivery, now);
    let body = r#"{"code":400,"failed_records":[{"index":7,"message":"?"}],"num_records_imported":1,"status":"Bad Request"}"#;
    delivery.handle_answer(out.id, Ok(answer(400, body)), now);
    assert!(
        expect_wait(&mut delivery, now).is_some(),
        "retried, not settled"
    );
}

#[test]
fn final_refusals_are_not_retried() {
    for (status, body) in [
        (400, r#"{"code":400,"error":"bad","status":"Bad Request"}"#),
        (
            401,
            r#"{"code":401,"error":"Invalid credentials","status":"Unauthorized"}"#,
        ),
        (403, "forbidden"),
        (200, r#"{"status":0,"error":"token, missing or empty"}"#),
        (200, "0"),
    ] {
        // A non-strict refusal of several events is split (below); of one, it is final.
        let aliases = if status == 200 { 1 } else { 2 };
        let (mut delivery, now) = start(config(), aliases);
        let out = expect_send(&mut delivery, now);
        delivery.handle_answer(out.id, Ok(answer(status, body)), now);
        assert!(
            matches!(step(&mut delivery, now), Step::Done),
            "{status} {body}"
        );
        let report = delivery.into_report();
        assert_eq!(report.tally().rejected, aliases as u64, "{status} {body}");
        assert_eq!(report.stats.retries, 0);
    }
}

#[test]
fn a_non_strict_zero_for_several_events_is_split_until_the_refused_one_is_found() {
    let (mut delivery, now) = start(config().into_builder().strict(false).build(), 3);
    let whole = expect_send(&mut delivery, now);
    assert_eq!(whole.aliases, 3);
    delivery.handle_answer(whole.id, Ok(answer(200, "0")), now);
    let (left, right) = (
        expect_send(&mut delivery, now),
        expect_send(&mut delivery, now),
    );
    assert_eq!((left.aliases, right.aliases), (1, 2));
    delivery.handle_answer(left.id, Ok(answer(200, "1")), now);
    delivery.handle_answer(right.id, Ok(answer(200, "0")), now);
    let (second, third) = (
        expect_send(&mut delivery, now),
        expect_send(&mut delivery, now),
    );
    delivery.handle_answer(second.id, Ok(answer(200, "0")), now);
    delivery.handle_answer(third.id, Ok(answer(200, "1")), now);
    assert!(matches!(step(&mut delivery, now), Step::Done));
    let report = delivery.into_report();
    let accepted: Vec<_> = report
        .entries
        .iter()
        .map(|e| e.outcome.is_accepted())
        .collect();
    assert_eq!(accepted, [true, false, true]);
    assert_eq!(report.stats.splits, 2);
    assert_eq!(report.stats.requests, 5);
}

#[test]
fn without_idempotent_delivery_a_non_strict_zero_is_undetermined_not_guessed() {
    let (mut delivery, now) = start(
        config()
            .into_builder()
            .strict(false)
            .idempotent(false)
            .build(),
        2,
    );
    let out = expect_send(&mut delivery, now);
    delivery.handle_answer(out.id, Ok(answer(200, "0")), now);
    assert!(matches!(step(&mut delivery, now), Step::Done));
    let report = delivery.into_report();
    for entry in &report.entries {
        assert!(
            matches!(
                &entry.outcome,
                AliasOutcome::Undelivered(u) if matches!(u.last_error, DeliveryError::Undetermined { .. })
            ),
            "{:?}",
            entry.outcome
        );
    }
    assert_eq!(report.stats.requests, 1, "nothing sent again");
}

#[test]
fn attempt_budget_hands_aliases_back_undelivered() {
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let (mut delivery, mut now) = start(config().into_builder().retry_policy(policy).build(), 2);
    for attempt in 1..=3 {
        let out = expect_send(&mut delivery, now);
        assert_eq!(out.attempt, attempt);
        let error = TransportError::new(TransportErrorKind::Closed, "connection reset");
        delivery.handle_answer(out.id, Err(error), now);
        if let Step::Wait(Some(until)) = step(&mut delivery, now) {
            now = until;
        }
    }
    assert!(matches!(step(&mut delivery, now), Step::Done));
    let report = delivery.into_report();
    assert_eq!(report.tally().undelivered, 2);
    let AliasOutcome::Undelivered(undelivered) = &report.entries[0].outcome else {
        unreachable!()
    };
    assert_eq!(undelivered.attempts, 3);
    assert!(matches!(
        undelivered.last_error,
        DeliveryError::Transport(_)
    ));
    // Handed back with the stamps they were sent with, so a resend deduplicates.
    assert!(report.entries[0].alias.insert_id().is_some());
    assert_eq!(report.undelivered().count(), 2);
}

/// Fails every request handed out until the delivery is done, with `kind`, and returns
/// how many were sent.
fn fail_every_send(delivery: &mut Delivery, mut now: Instant, kind: TransportErrorKind) -> u32 {
    let mut sent = 0;
    loop {
        match step(delivery, now) {
            Step::Send(out) => {
                sent += 1;
                delivery.handle_answer(out.id, Err(TransportError::new(kind, "refused")), now);
            }
            Step::Wait(Some(until)) => now = until,
            Step::Done => return sent,
            Step::Wait(None) => panic!("waits for nothing"),
        }
    }
}

#[test]
fn a_host_never_reached_hands_every_alias_back_after_the_unreached_budget() {
    let policy = RetryPolicy {
        max_attempts: 8,
        max_attempts_unreached: 3,
        ..RetryPolicy::default()
    };
    let config = config()
        .into_builder()
        .retry_policy(policy)
        .batch_limits(BatchLimits {
            max_events: 10,
            ..BatchLimits::default()
        })
        .build();
    let (mut delivery, now) = start(config, 100);
    let sent = fail_every_send(&mut delivery, now, TransportErrorKind::Connect);
    // Each batch is tried at most three times, and once one has been, no batch is tried
    // again: far from 8 attempts of each of the 10 batches.
    assert!(sent < 10 + 3 * 4, "{sent} requests sent");
    let report = delivery.into_report();
    assert_eq!(report.tally().undelivered, 100);
    for entry in &report.entries {
        let AliasOutcome::Undelivered(undelivered) = &entry.outcome else {
            panic!("{:?}", entry.outcome)
        };
        assert!(undelivered.attempts <= 3, "{undelivered:?}");
        assert!(
            matches!(&undelivered.last_error, DeliveryError::Unreachable(e) if e.kind == TransportErrorKind::Connect),
            "{:?}",
            undelivered.last_error
        );
    }
}

#[test]
fn after_one_answer_a_failing_connection_gets_the_whole_budget() {
    let policy = RetryPolicy {
        max_attempts: 5,
        max_attempts_unreached: 2,
        ..RetryPolicy::default()
    };
    let config = config()
        .into_builder()
        .retry_policy(policy)
        .batch_limits(BatchLimits {
            max_events: 1,
            ..BatchLimits::default()
        })
        .concurrency(1)
        .build();
    let (mut delivery, now) = start(config, 2);
    let first = expect_send(&mut delivery, now);
    delivery.handle_answer(first.id, Ok(answer(200, OK)), now);
    let sent = fail_every_send(&mut delivery, now, TransportErrorKind::Connect);
    assert_eq!(
        sent, 5,
        "the second alias gets max_attempts, not max_attempts_unreached"
    );
    let report = delivery.into_report();
    assert!(report.entries[0].outcome.is_accepted());
    let AliasOutcome::Undelivered(undelivered) = &report.entries[1].outcome else {
        panic!("{:?}", report.entries[1].outcome)
    };
    assert!(matches!(
        undelivered.last_error,
        DeliveryError::Transport(_)
    ));
}

#[test]
fn elapsed_budget_stops_retries_that_would_end_too_late() {
    let policy = RetryPolicy {
        max_elapsed: Duration::from_secs(10),
        ..RetryPolicy::default()
    };
    let (mut delivery, t0) = start(config().into_builder().retry_policy(policy).build(), 1);
    let out = expect_send(&mut delivery, t0);
    delivery.handle_answer(out.id, Ok(with_header(429, "retry-after", "11")), t0);
    assert!(matches!(step(&mut delivery, t0), Step::Done));
    assert_eq!(delivery.into_report().tally().undelivered, 1);
}

#[test]
fn unexpected_answers_are_retried_then_reported() {
    let policy = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let (mut delivery, now) = start(config().into_builder().retry_policy(policy).build(), 1);
    let out = expect_send(&mut delivery, now);
    delivery.handle_answer(out.id, Ok(answer(200, "<html>captive portal</html>")), now);
    let report = delivery.into_report();
    let AliasOutcome::Undelivered(undelivered) = &report.entries[0].outcome else {
        unreachable!()
    };
    assert!(matches!(
        undelivered.last_error,
        DeliveryError::UnexpectedAnswer(_)
    ));
}

#[test]
fn invalid_aliases_are_reported_without_being_sent() {
    let now = Instant::now();
    let mut delivery = Delivery::new(config(), now, wall(), 1);
    let stale = CreateAlias::from_ids("a", "b")
        .unwrap()
        .with_time(wall() - Duration::from_secs(6 * 24 * 3600))
        .unwrap();
    delivery.handle_input(Input::Alias(stale, wall()), now);
    delivery.handle_input(
        Input::Alias(CreateAlias::from_ids("c", "d").unwrap(), wall()),
        now,
    );
    delivery.handle_input(Input::Ended, now);
    let out = expect_send(&mut delivery, now);
    assert_eq!(out.aliases, 1);
    delivery.handle_answer(out.id, Ok(answer(200, "1")), now);
    let report = delivery.into_report();
    assert!(matches!(
        report.entries[0].outcome,
        AliasOutcome::Invalid(_)
    ));
    assert!(report.entries[1].outcome.is_accepted());
}

#[test]
fn a_configuration_without_the_token_its_endpoint_needs_sends_nothing() {
    let account =
        Credentials::service_account("sa", Secret::new("sa-secret").unwrap(), "42").unwrap();
    let track = Config::builder_for_import(account)
        .unwrap()
        .endpoint(Endpoint::Track)
        .build();
    let (mut delivery, now) = start(track, 2);
    assert!(matches!(step(&mut delivery, now), Step::Done));
    let report = delivery.into_report();
    assert_eq!(report.stats.requests, 0);
    for entry in &report.entries {
        let AliasOutcome::Invalid(error) = &entry.outcome else {
            panic!("{:?}", entry.outcome);
        };
        assert_eq!(error.field, Field::Token);
    }
}

#[test]
fn finished_entries_come_out_in_order_and_memory_is_released() {
    let config = per_batch(config(), 2);
    let (mut delivery, now) = start(config, 4);
    let first = expect_send(&mut delivery, now);
    let second = expect_send(&mut delivery, now);
    delivery.handle_answer(second.id, Ok(answer(200, "1")), now);
    assert!(
        take_finished(&mut delivery).is_empty(),
        "the first batch is still out"
    );
    delivery.handle_answer(first.id, Ok(answer(200, "1")), now);
    let positions: Vec<_> = take_finished(&mut delivery)
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(positions, [0, 1, 2, 3]);
    assert_eq!(delivery.held(), 0);
}

#[test]
fn stopping_early_returns_every_alias() {
    let (mut delivery, now) = start(config(), 3);
    let out = expect_send(&mut delivery, now);
    assert_eq!(out.attempt, 1);
    let report = delivery.into_report();
    assert_eq!(report.entries.len(), 3);
    for entry in &report.entries {
        assert_eq!(
            entry.outcome,
            AliasOutcome::Undelivered(alias_core::delivery::Undelivered {
                attempts: 1,
                last_error: DeliveryError::Abandoned
            })
        );
    }
}

#[test]
fn unknown_request_ids_are_ignored() {
    let (mut delivery, now) = start(config(), 1);
    let out = expect_send(&mut delivery, now);
    delivery.handle_answer(out.id, Ok(answer(200, "1")), now);
    delivery.handle_answer(out.id, Ok(answer(500, "")), now);
    assert!(delivery.into_report().all_accepted());
}

fn one_per_batch(config: Config) -> Config {
    per_batch(config, 1)
}

/// `config` with `concurrency` requests in flight against a rate limit counted over
/// `window`.
fn paced(config: Config, concurrency: usize, window: Duration) -> Config {
    config
        .into_builder()
        .concurrency(concurrency)
        .rate_window(window)
        .build()
}

fn per_batch(config: Config, max_events: usize) -> Config {
    config
        .into_builder()
        .batch_limits(BatchLimits {
            max_events,
            ..BatchLimits::default()
        })
        .build()
}

#[test]
fn a_project_level_refusal_stops_every_later_send() {
    for (status, body) in [
        (
            401,
            r#"{"code":401,"error":"Invalid credentials","status":"Unauthorized"}"#,
        ),
        (400, SIMPLIFIED_REFUSAL),
    ] {
        let now = Instant::now();
        let mut delivery = Delivery::new(
            one_per_batch(config())
                .into_builder()
                .concurrency(2)
                .build(),
            now,
            wall(),
            1,
        );
        for alias in aliases(5) {
            delivery.handle_input(Input::Alias(alias, wall()), now);
        }
        let first = expect_send(&mut delivery, now);
        let second = expect_send(&mut delivery, now);
        delivery.handle_answer(first.id, Ok(answer(status, body)), now);
        let refusal = delivery.refusal().expect("the refusal is kept").clone();
        assert!(refusal.is_project_level(), "{refusal:?}");
        // Nothing more goes out; the request already in flight is still answered.
        assert_eq!(expect_wait(&mut delivery, now), None);
        delivery.handle_answer(second.id, Ok(answer(status, body)), now);
        // Added later: handed back at once, never sent.
        delivery.handle_input(
            Input::Alias(
                CreateAlias::from_ids("late-anon", "late-user").unwrap(),
                wall(),
            ),
            now,
        );
        delivery.handle_input(Input::Ended, now);
        assert!(matches!(step(&mut delivery, now), Step::Done), "{status}");
        let report = delivery.into_report();
        assert_eq!(report.stats.requests, 2, "{status}");
        let tally = report.tally();
        assert_eq!((tally.rejected, tally.undelivered), (2, 4), "{status}");
        for entry in report.entries.iter().skip(2) {
            assert_eq!(
                entry.outcome,
                AliasOutcome::Undelivered(alias_core::delivery::Undelivered {
                    attempts: 0,
                    last_error: DeliveryError::Refused(refusal.clone()),
                }),
                "{status}"
            );
        }
    }
}

#[test]
fn the_retry_budget_belongs_to_each_batch_through_hours_of_429s_and_5xx() {
    // 2,000 batches, one answer every 5 simulated seconds, one request at a time: the
    // delivery runs for hours, far past the 15 minutes each batch may spend retrying.
    let config = config()
        .into_builder()
        .concurrency(1)
        .batch_limits(BatchLimits {
            max_events: 5,
            ..BatchLimits::default()
        })
        .build();
    let (mut delivery, mut now) = start(config, 10_000);
    let t0 = now;
    let mut request = 0_u64;
    loop {
        match step(&mut delivery, now) {
            Step::Send(out) => {
                request += 1;
                now += Duration::from_secs(5);
                let answer = if request % 500 < 6 {
                    // A burst of rate limiting, longer than the attempt budget.
                    with_header(429, "retry-after", "20")
                } else if request % 3 == 0 {
                    answer(503, "<html>busy</html>")
                } else {
                    answer(200, OK)
                };
                delivery.handle_answer(out.id, Ok(answer), now);
            }
            Step::Wait(Some(until)) => now = now.max(until),
            Step::Wait(None) => unreachable!("nothing in flight between polls"),
            Step::Done => break,
        }
    }
    assert!(now - t0 > Duration::from_secs(3 * 3600), "{:?}", now - t0);
    let report = delivery.into_report();
    assert_eq!(report.tally().accepted, 10_000, "{:?}", report.tally());
    assert!(report.stats.rate_limited >= 20, "{:?}", report.stats);
}

#[test]
fn max_rate_paces_sends_from_the_first_request() {
    let config = one_per_batch(config())
        .into_builder()
        .concurrency(64)
        .max_rate(2)
        .build();
    let (mut delivery, t0) = start(config, 5);
    // A burst of one second's worth, then one event every half second.
    let first = expect_send(&mut delivery, t0);
    let _second = expect_send(&mut delivery, t0);
    assert_eq!(
        expect_wait(&mut delivery, t0),
        Some(t0 + Duration::from_millis(500))
    );
    delivery.handle_answer(first.id, Ok(answer(200, OK)), t0);
    assert_eq!(
        expect_wait(&mut delivery, t0 + Duration::from_millis(499)),
        Some(t0 + Duration::from_millis(500))
    );
    expect_send(&mut delivery, t0 + Duration::from_millis(500));
}

#[test]
fn retry_after_holds_every_batch_back_not_only_the_refused_one() {
    let (mut delivery, t0) = start(
        one_per_batch(config())
            .into_builder()
            .concurrency(1)
            .build(),
        2,
    );
    let first = expect_send(&mut delivery, t0);
    delivery.handle_answer(first.id, Ok(with_header(503, "retry-after", "30")), t0);
    // The second batch is ready, yet waits for the server's time too.
    assert_eq!(
        expect_wait(&mut delivery, t0),
        Some(t0 + Duration::from_secs(30))
    );
    let next = expect_send(&mut delivery, t0 + Duration::from_secs(30));
    assert_eq!(
        next.attempt, 2,
        "the refused batch first: its budget is running"
    );
    delivery.handle_answer(next.id, Ok(answer(200, OK)), t0 + Duration::from_secs(30));
    let other = expect_send(&mut delivery, t0 + Duration::from_secs(30));
    assert_eq!(other.attempt, 1);
}

/// A project limited to `limit` events per rolling `window`, answering 429 without
/// `Retry-After` past it, as Mixpanel does; answers come `latency` after each send. Runs
/// `delivery` to the end and says when it ended and how many requests were refused.
fn run_against_rolling_window(
    delivery: &mut Delivery,
    t0: Instant,
    limit: usize,
    window: Duration,
    latency: Duration,
) -> (Instant, u64) {
    let mut admitted: Vec<Instant> = Vec::new();
    let mut in_flight: Vec<(Instant, Outgoing)> = Vec::new();
    let mut refused = 0;
    let mut now = t0;
    loop {
        match step(delivery, now) {
            Step::Send(out) => in_flight.push((now + latency, out)),
            Step::Done => return (now, refused),
            Step::Wait(until) => {
                let answer_at = in_flight.iter().map(|(at, _)| *at).min();
                now = match (until, answer_at) {
                    (Some(a), Some(b)) => a.min(b),
                    (a, b) => a.or(b).expect("a delivery waiting for nothing"),
                };
                while let Some(i) = in_flight.iter().position(|(at, _)| *at <= now) {
                    let (at, out) = in_flight.remove(i);
                    // The server counts a request when it arrives, halfway.
                    let arrived = at - latency / 2;
                    admitted.retain(|t| *t + window > arrived);
                    let reply = if admitted.len() + out.aliases <= limit || admitted.is_empty() {
                        admitted.extend(std::iter::repeat_n(arrived, out.aliases));
                        answer(200, OK)
                    } else {
                        refused += 1;
                        answer(429, "")
                    };
                    delivery.handle_answer(out.id, Ok(reply), now);
                }
            }
        }
    }
}

#[test]
fn a_rolling_window_without_retry_after_is_learnt_from_429s_and_kept_to() {
    let window = Duration::from_secs(10);
    let config = paced(one_per_batch(config()), 8, window);
    let (mut delivery, t0) = start(config, 100);
    let (ended, refused) =
        run_against_rolling_window(&mut delivery, t0, 4, window, Duration::from_millis(20));
    let report = delivery.into_report();
    assert!(report.all_accepted(), "{report:?}");
    // 25 windows of 4: the best possible time is 24 windows. The first eight sends find
    // the limit (four refused) and four probes confirm it; then it is kept to.
    let best = window * 24;
    let took = ended - t0;
    assert!(took.as_secs_f64() * 0.9 <= best.as_secs_f64(), "{took:?}");
    assert!(refused <= 8, "{refused} requests refused");
    assert_eq!(report.stats.rate_limited, refused);
}

#[test]
fn batches_refused_before_the_limit_was_learnt_go_when_the_window_has_room() {
    let window = Duration::from_secs(1);
    let config = paced(one_per_batch(config()), 4, window);
    let (mut delivery, t0) = start(config, 8);
    let first = expect_send(&mut delivery, t0);
    delivery.handle_answer(first.id, Ok(answer(200, OK)), t0);
    // The server's window is full: the next three are refused, and the third 429 in a
    // row teaches the limit. The first two were scheduled for the documented backoff.
    let refused: Vec<Outgoing> = (0..3).map(|_| expect_send(&mut delivery, t0)).collect();
    for outgoing in &refused {
        delivery.handle_answer(outgoing.id, Ok(answer(429, "")), t0);
    }
    // They go again as the window rolls on, first in input order, not seconds later
    // after the batches behind them.
    let mut now = t0;
    let mut resent = Vec::new();
    while resent.len() < 3 {
        match step(&mut delivery, now) {
            Step::Send(outgoing) => {
                resent.push(outgoing.batch);
                delivery.handle_answer(outgoing.id, Ok(answer(200, OK)), now);
            }
            Step::Wait(Some(until)) => now = until,
            other => panic!("expected a send or a wait, got {other:?}"),
        }
    }
    let refused_batches: Vec<u64> = refused.iter().map(|o| o.batch).collect();
    assert_eq!(resent, refused_batches);
    assert!(now - t0 < window * 2, "{:?}", now - t0);
}

#[test]
fn a_batch_that_failed_otherwise_keeps_its_backoff_when_the_limit_is_learnt() {
    let config = paced(one_per_batch(config()), 2, Duration::from_secs(60));
    let (mut delivery, t0) = start(config, 4);
    let answer_at = |delivery: &mut Delivery, outgoing: &Outgoing, status, now| {
        delivery.handle_answer(outgoing.id, Ok(answer(status, OK)), now);
    };
    let first = expect_send(&mut delivery, t0);
    let changed = expect_send(&mut delivery, t0);
    answer_at(&mut delivery, &first, 200, t0);
    // Refused once with 429, before any limit is known: it backs off.
    answer_at(&mut delivery, &changed, 429, t0);
    let other = expect_send(&mut delivery, t0);
    let held = expect_send(&mut delivery, t0);
    answer_at(&mut delivery, &other, 503, t0);
    // Its retry fails otherwise (a 503): now it waits out that failure's backoff.
    let mut now = t0;
    let failed_at = loop {
        match step(&mut delivery, now) {
            Step::Send(outgoing) if outgoing.batch == changed.batch => {
                answer_at(&mut delivery, &outgoing, 503, now);
                break now;
            }
            Step::Send(outgoing) => answer_at(&mut delivery, &outgoing, 429, now),
            Step::Wait(Some(until)) => now = until,
            other => panic!("expected a send or a wait, got {other:?}"),
        }
    };
    // The other requests are refused until three 429s in a row teach the limit, and the
    // batch is sent again only once its 503's backoff is over.
    answer_at(&mut delivery, &held, 429, now);
    let resent_at = loop {
        match step(&mut delivery, now) {
            Step::Send(outgoing) if outgoing.batch == changed.batch => break now,
            Step::Send(outgoing) => answer_at(&mut delivery, &outgoing, 429, now),
            Step::Wait(Some(until)) => now = until,
            other => panic!("expected a send or a wait, got {other:?}"),
        }
    };
    assert!(delivery.stats().rate_limited >= 3, "the limit was learnt");
    // The documented backoff of a second retry: 4 s and at least 1 s of jitter.
    let waited = resent_at - failed_at;
    assert!(waited >= Duration::from_secs(5), "{waited:?}");
}

#[test]
fn chance_429s_do_not_slow_a_delivery_down_for_good() {
    // 30% of the answers are 429s, by a fixed pattern; there is no limit.
    let config = one_per_batch(config())
        .into_builder()
        .concurrency(4)
        .retry_policy(alias_core::wire::RetryPolicy::fast().max_attempts(50))
        .build();
    let (mut delivery, t0) = start(config, 2000);
    let mut now = t0;
    let mut draws = 7_u64;
    let mut longest_wait = Duration::ZERO;
    loop {
        match step(&mut delivery, now) {
            Step::Send(out) => {
                // A fixed pseudo-random sequence (a linear congruential generator).
                draws = draws
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let reply = if (draws >> 33) % 10 < 3 {
                    answer(429, "")
                } else {
                    answer(200, OK)
                };
                now += Duration::from_millis(1);
                delivery.handle_answer(out.id, Ok(reply), now);
            }
            Step::Wait(Some(until)) => {
                longest_wait = longest_wait.max(until - now);
                now = until;
            }
            Step::Wait(None) => panic!("a delivery waiting for nothing"),
            Step::Done => break,
        }
    }
    let report = delivery.into_report();
    let undelivered: Vec<_> = report
        .entries
        .iter()
        .filter(|e| !e.outcome.is_accepted())
        .map(|e| format!("{:?}", e.outcome))
        .collect();
    assert!(undelivered.is_empty(), "{undelivered:?} at {:?}", now - t0);
    // 2000 aliases and their ~900 retries at a millisecond each, and a quarter second
    // for each run of three chance 429s (2.7% of answers): seconds, where a rate cut at
    // each 429 would take hours. No wait ever outlasts a probe's quarter second.
    assert!(now - t0 < Duration::from_secs(30), "{:?}", now - t0);
    assert!(
        longest_wait <= Duration::from_millis(250),
        "{longest_wait:?}"
    );
}

#[test]
fn stop_hands_back_what_is_not_in_flight_at_once_and_waits_for_the_rest() {
    let (mut delivery, t0) = start(
        one_per_batch(config())
            .into_builder()
            .concurrency(1)
            .build(),
        3,
    );
    let first = expect_send(&mut delivery, t0);
    delivery.handle_answer(first.id, Ok(answer(503, "")), t0);
    let second = expect_send(&mut delivery, t0);
    delivery.stop();
    assert!(delivery.is_stopped());
    assert_eq!(expect_wait(&mut delivery, t0), None, "the answer in flight");
    delivery.handle_answer(second.id, Ok(answer(503, "")), t0);
    assert!(matches!(step(&mut delivery, t0), Step::Done));
    let outcomes: Vec<_> = delivery
        .into_report()
        .entries
        .into_iter()
        .map(|e| e.outcome)
        .collect();
    let abandoned = |attempts| {
        AliasOutcome::Undelivered(alias_core::delivery::Undelivered {
            attempts,
            last_error: DeliveryError::Abandoned,
        })
    };
    // The retried one, the one in flight (answered 503: not retried), the unsent one.
    assert_eq!(outcomes, [abandoned(1), abandoned(1), abandoned(0)]);
}

#[test]
fn a_final_status_decides_even_when_the_body_could_not_be_read() {
    let (mut delivery, now) = start(config(), 2);
    let out = expect_send(&mut delivery, now);
    let error = TransportError::body_too_large(http::StatusCode::BAD_REQUEST, 1024);
    delivery.handle_answer(out.id, Err(error), now);
    assert!(
        matches!(step(&mut delivery, now), Step::Done),
        "not retried"
    );
    let report = delivery.into_report();
    let AliasOutcome::Rejected(rejection) = &report.entries[0].outcome else {
        panic!("{:?}", report.entries[0].outcome);
    };
    assert_eq!(rejection.status(), 400);
    assert!(
        rejection.message().contains("over 1024 bytes"),
        "{rejection}"
    );
}

#[test]
fn a_request_the_http_client_cannot_build_is_not_retried() {
    let (mut delivery, now) = start(config(), 1);
    let out = expect_send(&mut delivery, now);
    let error = TransportError::new(TransportErrorKind::InvalidRequest, "invalid port");
    delivery.handle_answer(out.id, Err(error), now);
    assert!(matches!(step(&mut delivery, now), Step::Done));
    assert_eq!(delivery.into_report().stats.retries, 0);
}

#[test]
fn ordered_delivery_sends_one_batch_at_a_time_and_retries_before_moving_on() {
    let config = one_per_batch(config())
        .into_builder()
        .concurrency(8)
        .ordered(true)
        .build();
    let (mut delivery, t0) = start(config, 3);
    let first = expect_send(&mut delivery, t0);
    assert_eq!(expect_wait(&mut delivery, t0), None, "one at a time");
    delivery.handle_answer(first.id, Ok(answer(503, "")), t0);
    // The second batch is ready, yet waits behind the first's retry.
    let retry_at = expect_wait(&mut delivery, t0).expect("the first batch's retry");
    let again = expect_send(&mut delivery, retry_at);
    assert_eq!((again.batch, again.attempt), (first.batch, 2));
    delivery.handle_answer(again.id, Ok(answer(200, OK)), retry_at);
    let second = expect_send(&mut delivery, retry_at);
    assert_ne!(second.batch, first.batch);
}

/// The `time` of each event of a request, in milliseconds.
fn sent_times(outgoing: &Outgoing) -> Vec<u64> {
    let request = decode_request(&outgoing.request, &DecodeLimits::default()).unwrap();
    request
        .records
        .iter()
        .map(|record| record.as_event().unwrap().time_millis().unwrap())
        .collect()
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn times_the_delivery_gives_are_never_ahead_of_the_servers_clock() {
    let config = one_per_batch(config())
        .into_builder()
        .concurrency(1)
        .build();
    let now = Instant::now();
    let mut delivery = Delivery::new(config, now, wall(), 1);
    delivery.handle_input(Input::Alias(aliases(1).remove(0), wall()), now);
    // The input has nothing more for now: the alias goes out after the linger.
    delivery.handle_input(Input::Idle, now);
    // Before any answer: set back by the whole allowance, ten minutes.
    let first = expect_send(&mut delivery, now + Config::LINGER);
    let backdated = millis(wall() - Config::MAX_CLOCK_AHEAD);
    assert_eq!(sent_times(&first), [backdated]);
    // The server's clock reads five minutes behind this machine's.
    let behind = httpdate::fmt_http_date(wall() - Duration::from_secs(300));
    let lost = with_header(503, "date", &behind);
    delivery.handle_answer(first.id, Ok(lost), now);
    // The retry carries the same time, whatever is learnt meanwhile.
    let retry = loop {
        match step(&mut delivery, now + Duration::from_secs(120)) {
            Step::Send(out) => break out,
            Step::Wait(_) => continue,
            Step::Done => panic!("done before the retry"),
        }
    };
    assert_eq!(retry.attempt, 2);
    assert_eq!(sent_times(&retry), [backdated]);
    let accepted = Response::builder()
        .status(200)
        .header("date", &behind)
        .body(OK.as_bytes().to_vec())
        .unwrap();
    delivery.handle_answer(retry.id, Ok(accepted), now);
    // Later aliases: moved back to the server's clock; one with its own time: as given.
    let later = wall() + Duration::from_secs(10);
    let [own, given] = <[CreateAlias; 2]>::try_from(aliases(3).split_off(1)).unwrap();
    let given_time = later + Duration::from_secs(30);
    delivery.handle_input(Input::Alias(own, later), now);
    delivery.handle_input(
        Input::Alias(given.with_time(given_time).unwrap(), later),
        now,
    );
    delivery.handle_input(Input::Ended, now);
    let at = now + Duration::from_secs(10);
    let own_sent = expect_send(&mut delivery, at);
    assert_eq!(
        sent_times(&own_sent),
        [millis(later - Duration::from_secs(300))]
    );
    delivery.handle_answer(own_sent.id, Ok(answer(200, OK)), at);
    let given_sent = expect_send(&mut delivery, at);
    assert_eq!(sent_times(&given_sent), [millis(given_time)]);
}

/// A delivery given `n` aliases at `now`, its input still open.
fn open_with(config: Config, n: usize, now: Instant) -> Delivery {
    let mut delivery = Delivery::new(config, now, wall(), 5);
    for alias in aliases(n) {
        delivery.handle_input(Input::Alias(alias, wall()), now);
    }
    delivery
}

#[test]
fn a_partial_batch_waits_for_input_while_the_input_may_have_more() {
    let t0 = Instant::now();
    let mut delivery = open_with(config(), 2, t0);
    // Without word that the input is idle, only input moves the delivery on.
    assert_eq!(expect_wait(&mut delivery, t0), None);
    assert_eq!(
        expect_wait(&mut delivery, t0 + Duration::from_secs(3600)),
        None
    );
    assert!(delivery.wants_input());
}

#[test]
fn an_idle_input_sends_the_partial_batch_once_the_linger_is_over() {
    let t0 = Instant::now();
    let mut delivery = open_with(config(), 2, t0);
    delivery.handle_input(Input::Idle, t0);
    let linger_ends = t0 + Config::LINGER;
    assert_eq!(expect_wait(&mut delivery, t0), Some(linger_ends));
    assert_eq!(
        expect_wait(&mut delivery, linger_ends - Duration::from_millis(1)),
        Some(linger_ends)
    );
    let out = expect_send(&mut delivery, linger_ends);
    assert_eq!((out.attempt, out.aliases), (1, 2));
    assert_eq!(expect_wait(&mut delivery, linger_ends), None, "the answer");
}

#[test]
fn the_end_of_the_input_sends_the_lingering_batch_at_once() {
    let t0 = Instant::now();
    let mut delivery = open_with(config(), 2, t0);
    delivery.handle_input(Input::Idle, t0);
    let ended = t0 + Duration::from_millis(1);
    delivery.handle_input(Input::Ended, ended);
    let out = expect_send(&mut delivery, ended);
    assert_eq!(out.aliases, 2);
    assert_eq!(
        expect_wait(&mut delivery, ended),
        None,
        "no timer is left for the linger"
    );
    delivery.handle_answer(out.id, Ok(answer(200, OK)), ended);
    assert!(matches!(step(&mut delivery, ended), Step::Done));
}

#[test]
fn input_that_comes_during_the_linger_joins_the_batch_without_extending_the_wait() {
    let t0 = Instant::now();
    let mut delivery = open_with(config(), 1, t0);
    delivery.handle_input(Input::Idle, t0);
    assert_eq!(expect_wait(&mut delivery, t0), Some(t0 + Config::LINGER));
    let later = t0 + Config::LINGER / 2;
    for alias in aliases(3).split_off(1) {
        delivery.handle_input(Input::Alias(alias, wall()), later);
    }
    assert_eq!(
        expect_wait(&mut delivery, later),
        Some(t0 + Config::LINGER),
        "nothing goes out before the linger is over, and the linger is not moved"
    );
    let out = expect_send(&mut delivery, t0 + Config::LINGER);
    assert_eq!(out.aliases, 3, "one request, not one per alias");
}

#[test]
fn the_linger_is_the_configured_one() {
    let t0 = Instant::now();
    let linger = Duration::from_millis(250);
    let config = config().into_builder().linger(linger).build();
    let mut delivery = open_with(config, 1, t0);
    delivery.handle_input(Input::Idle, t0);
    assert_eq!(
        expect_wait(&mut delivery, t0 + Config::LINGER),
        Some(t0 + linger)
    );
    assert_eq!(expect_send(&mut delivery, t0 + linger).aliases, 1);
}

#[test]
fn input_that_fills_the_batch_during_the_linger_sends_it_at_once() {
    let config = per_batch(config(), 2);
    let t0 = Instant::now();
    let mut delivery = open_with(config, 1, t0);
    delivery.handle_input(Input::Idle, t0);
    let soon = t0 + Duration::from_millis(1);
    for alias in aliases(3).split_off(1) {
        delivery.handle_input(Input::Alias(alias, wall()), soon);
    }
    let full = expect_send(&mut delivery, soon);
    assert_eq!(full.aliases, 2);
    // The third alias came after the idle spell: it waits for more input, lingering no more.
    assert_eq!(expect_wait(&mut delivery, t0 + Config::LINGER), None);
}

#[test]
fn the_linger_starts_only_once_nothing_else_is_under_way() {
    let config = per_batch(config(), 2);
    let t0 = Instant::now();
    let mut delivery = open_with(config, 3, t0);
    delivery.handle_input(Input::Idle, t0);
    let first = expect_send(&mut delivery, t0);
    assert_eq!(first.aliases, 2);
    // A request is out: its answer may come long after a linger, and the third alias
    // waits for it rather than going out alone.
    assert_eq!(expect_wait(&mut delivery, t0 + Config::LINGER), None);
    let answered = t0 + Duration::from_secs(1);
    delivery.handle_answer(first.id, Ok(answer(200, OK)), answered);
    assert_eq!(
        expect_wait(&mut delivery, answered),
        None,
        "the input may have more by now"
    );
    delivery.handle_input(Input::Idle, answered);
    assert_eq!(
        expect_wait(&mut delivery, answered),
        Some(answered + Config::LINGER)
    );
    let rest = expect_send(&mut delivery, answered + Config::LINGER);
    assert_eq!(rest.aliases, 1);
}

#[test]
fn a_partial_batch_goes_out_at_once_when_the_aliases_held_reach_their_bound() {
    let config = one_per_batch(config())
        .into_builder()
        .concurrency(1)
        .build();
    let t0 = Instant::now();
    let mut delivery = Delivery::new(config, t0, wall(), 3);
    let mut input = aliases(100).into_iter();
    let mut sent = 0;
    // Every request is answered 503, and the clock stands still: each batch waits on a
    // retry seconds away. The input is never said to be idle.
    loop {
        while delivery.wants_input() {
            let alias = input.next().expect("the delivery stops reading first");
            delivery.handle_input(Input::Alias(alias, wall()), t0);
        }
        let Some(out) = delivery.poll_transmit(t0) else {
            break;
        };
        sent += 1;
        delivery.handle_answer(out.id, Ok(answer(503, "")), t0);
    }
    // Four batches for the request in flight and two more, one alias each: the last one
    // was sent without waiting for input the delivery no longer reads.
    assert_eq!((sent, delivery.held()), (12, 12));
    assert!(!delivery.wants_input());
    assert!(
        delivery.poll_timeout().is_some_and(|at| at > t0),
        "the retries"
    );
}
