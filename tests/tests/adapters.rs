//! One behaviour suite for every adapter.
//!
//! Each case is a function of the [`Adapter`] under test, run against an in-process
//! alias-server; `adapter_suite!` at the end runs every case once per client (reqwest
//! async, reqwest blocking, surf), so the three cannot drift apart unnoticed.

use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime};

use alias_core::{
    AliasOutcome, ApiHost, Config, CreateAlias, Credentials, DeliveryError, Endpoint, Report,
    Secret, Token, delivery::AliasError, driver::TransportErrorKind, driver::TransportLimits,
    wire::BatchLimits, wire::RetryPolicy,
};
use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_SERVICE_ACCOUNT_SECRET, DEFAULT_SERVICE_ACCOUNT_USER,
    DEFAULT_TOKEN, Server,
};
use alias_tests::adapter::Adapter;
use alias_tests::trace::{self, Captured};

// ---------------------------------------------------------------------------------------
// Helpers

/// `/track` on `server` with the server's token and the fast retry policy.
fn config(server: &Server) -> Config {
    Config::builder(Token::new(DEFAULT_TOKEN).unwrap())
        .api_host(ApiHost::custom(server.url()).unwrap())
        .retry_policy(RetryPolicy::fast())
        .build()
}

/// One alias per request, so that every request draws its own fault.
fn one_per_request(config: Config) -> Config {
    config
        .into_builder()
        .batch_limits(BatchLimits {
            max_events: 1,
            ..BatchLimits::default()
        })
        .build()
}

fn attempts(config: Config, max_attempts: u32) -> Config {
    config
        .into_builder()
        .retry_policy(RetryPolicy {
            max_attempts,
            ..RetryPolicy::fast()
        })
        .build()
}

fn aliases(tag: &str, n: usize) -> Vec<CreateAlias> {
    (0..n)
        .map(|i| {
            CreateAlias::from_ids(&format!("anon-{tag}-{i}"), &format!("user-{tag}-{i}")).unwrap()
        })
        .collect()
}

/// (distinct_id, alias) of an alias.
fn ids(alias: &CreateAlias) -> (String, String) {
    (alias.distinct_id().to_string(), alias.alias().to_string())
}

fn sorted_ids<'a>(aliases: impl IntoIterator<Item = &'a CreateAlias>) -> Vec<(String, String)> {
    let mut ids: Vec<_> = aliases.into_iter().map(ids).collect();
    ids.sort();
    ids
}

/// (distinct_id, alias) of every event the server stored, sorted.
fn stored(server: &Server) -> Vec<(String, String)> {
    let mut ids: Vec<_> = server
        .events()
        .iter()
        .map(|e| {
            (
                e.distinct_id().unwrap_or_default().to_owned(),
                e.alias().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    ids.sort();
    ids
}

/// The kind of transport error every alias of `report` was handed back with, after
/// `tries` attempts each.
fn undelivered_by_transport(report: &Report, tries: u32) -> Vec<TransportErrorKind> {
    report
        .entries
        .iter()
        .map(|entry| match &entry.outcome {
            AliasOutcome::Undelivered(undelivered) => {
                assert_eq!(undelivered.attempts, tries, "{entry:?}");
                match &undelivered.last_error {
                    DeliveryError::Transport(error) => error.kind,
                    other => panic!("not a transport error: {other:?}"),
                }
            }
            other => panic!("not undelivered: {other:?}"),
        })
        .collect()
}

/// How far ahead of the machine's clock the servers of the time cases run.
const SKEW_SECS: i64 = 60;

/// An alias half the skew inside `/track`'s five-day window by the machine's clock: the
/// client accepts it, a server whose clock runs `SKEW_SECS` ahead finds it too old. The
/// same happens to an alias near the window's edge that a retry delays.
fn stale_to_a_skewed_server(distinct_id: &str, alias: &str) -> CreateAlias {
    let window = Duration::from_secs(5 * 24 * 3600);
    let inside = Duration::from_secs(SKEW_SECS.unsigned_abs() / 2);
    CreateAlias::from_ids(distinct_id, alias)
        .unwrap()
        .with_time(SystemTime::now() - window + inside)
        .unwrap()
}

fn skewed_server() -> Server {
    Server::builder()
        .clock_skew_secs(SKEW_SECS)
        .start()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Cases

fn success(adapter: Adapter) {
    let server = Server::start().unwrap();
    let client = adapter.client(config(&server), TransportLimits::default());
    let input = aliases("ok", 5);

    let report = client.send(input.clone());

    assert!(report.all_accepted(), "{report:?}");
    let reported: Vec<_> = report
        .entries
        .iter()
        .map(|e| (e.position, ids(&e.alias)))
        .collect();
    let expected: Vec<_> = (0..).zip(input.iter().map(ids)).collect();
    assert_eq!(reported, expected, "every alias reported, in input order");
    assert_eq!(stored(&server), sorted_ids(&input));
    assert_eq!(report.stats.requests, server.stats().requests);
    for alias in &input {
        let identity = server.identity(alias.alias().as_str()).unwrap();
        assert_eq!(identity.canonical, alias.distinct_id().as_str());
    }

    client.create_alias("anon-single", "user-single").unwrap();
    assert_eq!(
        server.identity("user-single").unwrap().canonical,
        "anon-single"
    );
}

fn verbose_error(adapter: Adapter) {
    let server = skewed_server();
    // Without strict validation, as the official SDKs send it.
    let client = adapter.client(
        config(&server).into_builder().strict(false).build(),
        TransportLimits::default(),
    );

    let report = client.send(vec![stale_to_a_skewed_server("anon-old", "user-old")]);

    let [entry] = &report.entries[..] else {
        panic!("one entry expected: {report:?}");
    };
    let AliasOutcome::Rejected(rejection) = &entry.outcome else {
        panic!("not rejected: {entry:?}");
    };
    // Verbose /track answers HTTP 200 with `{"status":0,"error":"..."}`.
    assert_eq!(rejection.status(), 200);
    assert_eq!(rejection.field(), None);
    assert!(rejection.message().contains("'time'"), "{rejection:?}");
    assert!(server.events().is_empty());
    assert_eq!(server.stats().events_rejected, 1);
}

fn strict_partial_failure(adapter: Adapter) {
    let server = skewed_server();
    let client = adapter.client(
        config(&server).into_builder().strict(true).build(),
        TransportLimits::default(),
    );
    let fresh = aliases("fresh", 2);
    let input = vec![
        fresh[0].clone(),
        stale_to_a_skewed_server("anon-stale", "user-stale"),
        fresh[1].clone(),
    ];

    // Streamed, to run `send_stream` too; the three travel in one request.
    let mut entries = Vec::new();
    let stats = client.send_stream(input, |entry| entries.push(entry));
    assert_eq!(stats.requests, 1);

    let outcomes: Vec<_> = entries
        .iter()
        .map(|e| (ids(&e.alias), &e.outcome))
        .collect();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], (ids(&fresh[0]), &AliasOutcome::Accepted));
    assert_eq!(outcomes[2], (ids(&fresh[1]), &AliasOutcome::Accepted));
    let (stale, AliasOutcome::Rejected(rejection)) = &outcomes[1] else {
        panic!("the stale alias was not rejected: {outcomes:?}");
    };
    assert_eq!(stale.0, "anon-stale");
    assert_eq!(rejection.status(), 400);
    assert_eq!(rejection.field(), Some("properties.time"));
    assert_eq!(stored(&server), sorted_ids(&fresh));
}

fn unauthorized(adapter: Adapter) {
    let server = Server::start().unwrap();
    let import = |secret: &str| {
        let credentials = Credentials::service_account(
            DEFAULT_SERVICE_ACCOUNT_USER,
            Secret::new(secret).unwrap(),
            DEFAULT_PROJECT_ID,
        )
        .unwrap();
        config(&server)
            .into_builder()
            .endpoint(Endpoint::Import(credentials))
            .build()
    };
    let input = aliases("auth", 3);

    let client = adapter.client(import("not-the-secret"), TransportLimits::default());
    let report = client.send(input.clone());
    for entry in &report.entries {
        let AliasOutcome::Rejected(rejection) = &entry.outcome else {
            panic!("not rejected: {entry:?}");
        };
        assert_eq!(rejection.status(), 401);
    }
    assert_eq!(report.entries.len(), 3);
    assert_eq!(report.stats.requests, 1, "a 401 is not retried");
    match client.create_alias("anon-auth", "user-auth") {
        Err(AliasError::Rejected(rejection)) => assert_eq!(rejection.status(), 401),
        other => panic!("expected a 401 rejection: {other:?}"),
    }
    assert!(server.events().is_empty());

    // The same aliases with the right secret go through: the credentials were the cause.
    let client = adapter.client(
        import(DEFAULT_SERVICE_ACCOUNT_SECRET),
        TransportLimits::default(),
    );
    assert!(client.send(input.clone()).all_accepted());
    assert_eq!(stored(&server), sorted_ids(&input));
}

fn too_large_is_split(adapter: Adapter) {
    let input = aliases("split", 8);
    // The server takes two aliases per request, not three: measured on the real encoding.
    let probe = Config::new(Token::new(DEFAULT_TOKEN).unwrap());
    let body_len = |n: usize| {
        probe.encode(&input[..n], SystemTime::now()).unwrap()[0]
            .request
            .body()
            .len()
    };
    let limit = (body_len(2) + body_len(3)) / 2;
    assert!(body_len(2) <= limit && body_len(3) > limit);
    let server = Server::builder().max_body_bytes(limit).start().unwrap();
    let client = adapter.client(config(&server), TransportLimits::default());

    let report = client.send(input.clone());

    assert!(report.all_accepted(), "{report:?}");
    assert!(report.stats.splits >= 1, "{:?}", report.stats);
    assert_eq!(
        stored(&server),
        sorted_ids(&input),
        "each alias stored once"
    );
    assert_eq!(server.stats().duplicates_dropped, 0);
    assert_eq!(server.stats().requests, report.stats.requests);
}

fn rate_limited_honours_retry_after(adapter: Adapter) {
    // Seed 2 draws a 429 for the first request and none for the second.
    let server = Server::builder()
        .faults("429=0.5".parse().unwrap())
        .seed(2)
        .retry_after(true)
        .start()
        .unwrap();
    let client = adapter.client(
        config(&server).into_builder().concurrency(1).build(),
        TransportLimits::default(),
    );
    let started = Instant::now();

    let report = client.send(aliases("429", 2));

    let faults = server.stats().faults_injected;
    assert!(faults >= 1, "the seed must inject a 429");
    assert!(report.all_accepted(), "{report:?}");
    assert_eq!(report.stats.retries, faults);
    // The fast policy backs off for milliseconds; only `Retry-After: 1` explains a second
    // per 429.
    assert!(started.elapsed() >= Duration::from_secs(faults));
}

fn server_errors_are_retried(adapter: Adapter) {
    let server = Server::builder()
        .faults("500=0.25,503=0.25".parse().unwrap())
        .seed(7)
        .start()
        .unwrap();
    let client = adapter.client(one_per_request(config(&server)), TransportLimits::default());
    let input = aliases("5xx", 6);

    let report = client.send(input.clone());

    let stats = server.stats();
    assert!(stats.faults_injected >= 1, "the seed must inject a 5xx");
    assert!(report.all_accepted(), "{report:?}");
    assert_eq!(report.stats.retries, stats.faults_injected);
    assert_eq!(
        stats.requests,
        6 + stats.faults_injected,
        "{stats:?} {:?}",
        report.stats
    );
    assert_eq!(stored(&server), sorted_ids(&input));
}

fn reset_connections(adapter: Adapter) {
    // Always reset: each alias comes back undelivered, the last error a closed connection.
    let server = Server::builder()
        .faults("reset=1".parse().unwrap())
        .start()
        .unwrap();
    let client = adapter.client(attempts(config(&server), 2), TransportLimits::default());
    let report = client.send(aliases("reset", 2));
    assert_eq!(
        undelivered_by_transport(&report, 2),
        [TransportErrorKind::Closed; 2]
    );
    assert!(server.events().is_empty());

    // Sometimes reset: retries get every alias through.
    let server = Server::builder()
        .faults("reset=0.5".parse().unwrap())
        .seed(7)
        .start()
        .unwrap();
    let client = adapter.client(one_per_request(config(&server)), TransportLimits::default());
    let input = aliases("reset", 6);
    let report = client.send(input.clone());
    let faults = server.stats().faults_injected;
    assert!(faults >= 1, "the seed must inject a reset");
    assert!(report.all_accepted(), "{report:?}");
    assert_eq!(report.stats.retries, faults);
    assert_eq!(stored(&server), sorted_ids(&input));
}

fn ack_lost_stores_no_duplicate(adapter: Adapter) {
    let server = Server::builder()
        .faults("ack_lost=0.5".parse().unwrap())
        .seed(7)
        .start()
        .unwrap();
    let client = adapter.client(one_per_request(config(&server)), TransportLimits::default());
    let input = aliases("ack", 6);

    let report = client.send(input.clone());

    let stats = server.stats();
    assert!(stats.faults_injected >= 1, "the seed must lose an answer");
    assert!(report.all_accepted(), "{report:?}");
    // Every lost answer made the client send again, and the server dropped each repeat by
    // its `$insert_id`: each alias is stored exactly once.
    assert_eq!(stats.requests, 6 + stats.faults_injected);
    assert_eq!(stats.duplicates_dropped, stats.faults_injected);
    assert_eq!(stored(&server), sorted_ids(&input));
}

fn timeout(adapter: Adapter) {
    let slow = Duration::from_secs(1);
    let server = Server::builder()
        .faults("slow=1".parse().unwrap())
        .slow_delay(slow)
        .start()
        .unwrap();
    let limits = TransportLimits::default().request_timeout(Duration::from_millis(150));
    let client = adapter.client(attempts(config(&server), 2), limits);
    let started = Instant::now();

    let report = client.send(aliases("slow", 2));

    assert!(
        started.elapsed() < slow,
        "gave up before a slow answer could come"
    );
    assert_eq!(
        undelivered_by_transport(&report, 2),
        [TransportErrorKind::Timeout; 2]
    );
}

fn batches_travel_concurrently(adapter: Adapter) {
    let slow = Duration::from_millis(400);
    let server = Server::builder()
        .faults("slow=1".parse().unwrap())
        .slow_delay(slow)
        .start()
        .unwrap();
    let client = adapter.client(
        one_per_request(config(&server))
            .into_builder()
            .concurrency(4)
            .build(),
        TransportLimits::default(),
    );
    let input = aliases("parallel", 4);
    let started = Instant::now();

    let report = client.send(input.clone());

    assert!(report.all_accepted(), "{report:?}");
    assert_eq!(stored(&server), sorted_ids(&input));
    // One after the other, four slow answers take 1.6 s; side by side, one slow answer.
    let elapsed = started.elapsed();
    assert!(elapsed < slow * 3, "{elapsed:?}");
}

fn budget_exhausted_returns_undelivered(adapter: Adapter) {
    let server = Server::builder()
        .faults("503=1".parse().unwrap())
        .start()
        .unwrap();
    let client = adapter.client(attempts(config(&server), 3), TransportLimits::default());
    let input = aliases("budget", 2);

    let report = client.send(input.clone());

    for entry in &report.entries {
        let AliasOutcome::Undelivered(undelivered) = &entry.outcome else {
            panic!("not undelivered: {entry:?}");
        };
        assert_eq!(undelivered.attempts, 3);
        assert!(
            matches!(&undelivered.last_error, DeliveryError::Status { status, .. } if *status == 503),
            "{undelivered:?}"
        );
    }
    let returned: Vec<_> = report.undelivered().map(ids).collect();
    assert_eq!(returned, input.iter().map(ids).collect::<Vec<_>>());
    assert!(
        report.undelivered().all(|a| a.insert_id().is_some()),
        "handed back with their stamps, to deduplicate when sent again"
    );
    assert_eq!(server.stats().requests, 3);
    assert!(server.events().is_empty());
}

fn response_body_is_capped(adapter: Adapter) {
    let server = Server::start().unwrap();
    // `{"status":1,"error":null}` is longer than this.
    let limits = TransportLimits::default().max_response_bytes(4);
    let client = adapter.client(attempts(config(&server), 2), limits);

    let report = client.send(aliases("cap", 1));

    assert_eq!(
        undelivered_by_transport(&report, 2),
        [TransportErrorKind::BodyTooLarge]
    );
    // The server got both attempts and stored the alias once.
    assert_eq!(server.events().len(), 1);
    assert_eq!(server.stats().duplicates_dropped, 1);
}

fn connection_refused(adapter: Adapter) {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = Config::builder(Token::new(DEFAULT_TOKEN).unwrap())
        .api_host(ApiHost::custom(&format!("http://127.0.0.1:{port}")).unwrap())
        .retry_policy(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::fast()
        })
        .build();
    let client = adapter.client(config, TransportLimits::default());

    let report = client.send(aliases("refused", 1));

    assert_eq!(
        undelivered_by_transport(&report, 1),
        [TransportErrorKind::Connect]
    );
}

fn traces_count_and_hide_secrets(adapter: Adapter) {
    let server = Server::builder()
        .faults("503=0.5".parse().unwrap())
        .seed(7)
        .start()
        .unwrap();
    let credentials = Credentials::service_account(
        DEFAULT_SERVICE_ACCOUNT_USER,
        Secret::new(DEFAULT_SERVICE_ACCOUNT_SECRET).unwrap(),
        DEFAULT_PROJECT_ID,
    )
    .unwrap();
    let track = adapter.client(one_per_request(config(&server)), TransportLimits::default());
    let import = adapter.client(
        one_per_request(config(&server))
            .into_builder()
            .endpoint(Endpoint::Import(credentials))
            .build(),
        TransportLimits::default(),
    );
    let captured = Captured::default();

    let reports = tracing::subscriber::with_default(trace::subscriber(&captured), || {
        // A callsite first met by a concurrent test, under no subscriber, is cached as of no
        // interest to anyone; rebuilding the cache lets this thread's subscriber see it.
        tracing::callsite::rebuild_interest_cache();
        [
            track.send(aliases("trace", 3)),
            import.send(aliases("trace-import", 3)),
        ]
    });

    assert!(reports.iter().all(Report::all_accepted), "{reports:?}");
    assert!(
        server.stats().faults_injected >= 1,
        "the seed must inject a retry"
    );
    let text = captured.text();
    // One `deliver` span per send, closed with its counts, and attempt spans inside it.
    assert!(text.matches("deliver{").count() >= 2, "{text}");
    assert!(text.contains("accepted=3"), "{text}");
    assert!(text.contains("attempt{"), "{text}");
    assert!(text.contains("retry scheduled"), "{text}");
    for secret in [DEFAULT_TOKEN, DEFAULT_SERVICE_ACCOUNT_SECRET, "Basic "] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into traces:\n{text}"
        );
    }
}

alias_tests::adapter_suite!(
    success,
    verbose_error,
    strict_partial_failure,
    unauthorized,
    too_large_is_split,
    rate_limited_honours_retry_after,
    server_errors_are_retried,
    reset_connections,
    ack_lost_stores_no_duplicate,
    timeout,
    batches_travel_concurrently,
    budget_exhausted_returns_undelivered,
    response_body_is_capped,
    connection_refused,
    traces_count_and_hide_secrets,
);

// ---------------------------------------------------------------------------------------
// The blocking client inside a tokio runtime, where `reqwest::blocking` itself panics.

fn blocking_inside_a_runtime() {
    let server = Server::start().unwrap();
    let client = alias_reqwest::blocking::Client::new(config(&server)).unwrap();
    let input = aliases("in-runtime", 3);
    assert!(client.send(input.clone()).all_accepted());
    assert_eq!(stored(&server), sorted_ids(&input));
    drop(client);
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_client_inside_a_current_thread_runtime() {
    blocking_inside_a_runtime();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_client_inside_a_multi_thread_runtime() {
    blocking_inside_a_runtime();
}
