//! The two drivers over plain closures as HTTP clients: what an adapter plugs in is one
//! function from a request to an answer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alias_core::http::{Request, Response};
use alias_core::{
    AliasClient, AliasOutcome, BlockingClient, Config, CreateAlias, DeliveryError, Token,
    driver::Timer, driver::TransportError, driver::TransportErrorKind, driver::stop_signal,
    wire::RetryPolicy,
};

/// A timer whose sleeps end at once: backoffs and request timeouts pass instantly.
#[derive(Debug, Default)]
struct NoWait;

impl Timer for NoWait {
    async fn sleep_until(&self, _deadline: Instant) {}
}

fn config() -> Config {
    Config::builder(Token::new("tok").unwrap())
        .retry_policy(RetryPolicy::fast())
        .build()
}

fn aliases(n: usize) -> Vec<CreateAlias> {
    (0..n)
        .map(|i| CreateAlias::from_ids(&format!("anon-{i}"), &format!("user-{i}")).unwrap())
        .collect()
}

fn answer(status: u16, body: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

const OK: &str = r#"{"code":200,"num_records_imported":2,"status":"OK"}"#;

#[test]
fn a_closure_is_an_async_http_client() {
    let calls = AtomicUsize::new(0);
    let http = |request: Request<Vec<u8>>| {
        let call = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            assert_eq!(request.uri().path(), "/track");
            Ok::<_, TransportError>(if call == 0 {
                answer(503, "<html>busy</html>")
            } else {
                answer(200, OK)
            })
        }
    };
    let client = AliasClient::<_, NoWait>::builder(config()).build_with(http);
    let report = futures::executor::block_on(client.send(aliases(2)));
    assert!(report.all_accepted(), "{report:?}");
    assert_eq!((report.stats.requests, report.stats.retries), (2, 1));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn the_async_driver_cuts_a_request_off_at_the_timeout_whatever_the_client_does() {
    let never = |_request: Request<Vec<u8>>| std::future::pending::<Result<_, TransportError>>();
    let policy = RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::fast()
    };
    let config = config().into_builder().retry_policy(policy).build();
    let client = AliasClient::<_, NoWait>::builder(config).build_with(never);
    let report = futures::executor::block_on(client.send(aliases(1)));
    let AliasOutcome::Undelivered(undelivered) = &report.entries[0].outcome else {
        panic!("{report:?}");
    };
    assert_eq!(undelivered.attempts, 2);
    assert!(
        matches!(&undelivered.last_error, DeliveryError::Transport(e) if e.kind == TransportErrorKind::Timeout),
        "{undelivered:?}"
    );
}

#[test]
fn a_closure_is_a_blocking_http_client_sent_from_worker_threads() {
    let caller = std::thread::current().id();
    let threads = Mutex::new(Vec::new());
    let http = |_request: Request<Vec<u8>>| {
        threads.lock().unwrap().push(std::thread::current().id());
        Ok(answer(200, OK))
    };
    let config = config()
        .into_builder()
        .batch_limits(alias_core::wire::BatchLimits {
            max_events: 1,
            ..Default::default()
        })
        .build();
    let client = BlockingClient::builder(config).build_with(http);
    let report = client.send(aliases(6));
    assert!(report.all_accepted(), "{report:?}");
    let threads = threads.into_inner().unwrap();
    assert_eq!(threads.len(), 6);
    assert!(
        threads.iter().all(|id| *id != caller),
        "never on the caller's thread"
    );
}

#[test]
fn the_blocking_driver_retries_as_the_async_one_does() {
    let calls = AtomicUsize::new(0);
    let http = |_request: Request<Vec<u8>>| {
        Ok(match calls.fetch_add(1, Ordering::SeqCst) {
            0 => answer(429, ""),
            1 => return Err(TransportError::new(TransportErrorKind::Closed, "reset")),
            _ => answer(200, OK),
        })
    };
    let client = BlockingClient::builder(config()).build_with(http);
    let report = client.send(aliases(2));
    assert!(report.all_accepted(), "{report:?}");
    assert_eq!(
        (
            report.stats.requests,
            report.stats.retries,
            report.stats.rate_limited
        ),
        (3, 2, 1)
    );
}

#[test]
fn a_stop_that_comes_with_the_answer_leaves_its_long_retry_unsent() {
    let (stopper, stop) = stop_signal();
    let http = |_request: Request<Vec<u8>>| {
        // The first answer asks for a minute's pause; the stop comes meanwhile.
        stopper.stop();
        Ok(Response::builder()
            .status(503)
            .header("retry-after", "60")
            .body(Vec::new())
            .unwrap())
    };
    let policy = RetryPolicy {
        max_retry_after: Duration::from_secs(60),
        ..RetryPolicy::fast()
    };
    let config = config().into_builder().retry_policy(policy).build();
    let client = BlockingClient::builder(config).build_with(http);
    let mut outcomes = Vec::new();
    client.send_stream_until(aliases(3), stop, |entry| outcomes.push(entry.outcome));
    // Abandoned, not retried after the pause: a retry would have met another 503.
    assert_eq!(outcomes.len(), 3);
    for outcome in outcomes {
        assert!(
            matches!(&outcome, AliasOutcome::Undelivered(u) if u.last_error == DeliveryError::Abandoned),
            "{outcome:?}"
        );
    }
}
