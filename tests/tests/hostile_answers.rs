//! Hostile and broken answers against every library client: endless bodies (under a 200 or
//! a 400), a huge `Retry-After`, a redirect to another host, malformed JSON, a status line
//! and nothing more, an answer arriving after its request was given up.
//!
//! Each client must stay bounded in time and memory and hand the alias back with a typed
//! outcome: never a panic, a hang, or an alias taken for accepted on someone else's answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alias_core::{
    AliasOutcome, ApiHost, Config, CreateAlias, Credentials, DeliveryError, Endpoint, Report,
    Secret, Token, delivery::Undelivered, driver::TransportErrorKind, driver::TransportLimits,
    wire::RetryPolicy,
};
use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_SERVICE_ACCOUNT_SECRET, DEFAULT_SERVICE_ACCOUNT_USER, DEFAULT_TOKEN,
};
use alias_tests::adapter::Adapter;
use alias_tests::raw_server::RawServer;

/// `/track` on `server`, retrying at once, `attempts` attempts per request.
fn config(server: &RawServer, attempts: u32) -> Config {
    Config::builder(Token::new(DEFAULT_TOKEN).unwrap())
        .api_host(ApiHost::custom(&server.url()).unwrap())
        .retry_policy(RetryPolicy {
            max_attempts: attempts,
            ..RetryPolicy::fast()
        })
        .build()
}

/// Sends one alias and returns how it ended, which must be undelivered.
fn undelivered(adapter: Adapter, config: Config, limits: TransportLimits) -> Undelivered {
    let report: Report = adapter
        .client(config, limits)
        .send(vec![CreateAlias::from_ids("anon-1", "user-1").unwrap()]);
    match &report.entries[..] {
        [entry] => match &entry.outcome {
            AliasOutcome::Undelivered(undelivered) => undelivered.clone(),
            other => panic!("{adapter:?}: not undelivered: {other:?}"),
        },
        entries => panic!("{adapter:?}: one entry expected: {entries:?}"),
    }
}

fn transport_kind(adapter: Adapter, undelivered: &Undelivered) -> TransportErrorKind {
    match &undelivered.last_error {
        DeliveryError::Transport(error) => error.kind,
        other => panic!("{adapter:?}: not a transport error: {other:?}"),
    }
}

/// An answer head, then a body that never ends: chunks of 64 KiB as fast as the client
/// reads them, up to 256 MiB. Returns the server and the bytes it managed to write.
fn endless_body(head: &'static str) -> (RawServer, Arc<AtomicU64>) {
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    let server = RawServer::start(move |exchange| {
        if exchange.read_request().is_none() || exchange.write(head.as_bytes()).is_err() {
            return;
        }
        let chunk = [
            format!("{:x}\r\n", 64 * 1024).into_bytes(),
            vec![b' '; 64 * 1024],
            b"\r\n".to_vec(),
        ]
        .concat();
        while counter.load(Ordering::SeqCst) < 256 << 20 && exchange.write(&chunk).is_ok() {
            counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    });
    (server, written)
}

fn an_endless_body_is_cut_at_the_cap(adapter: Adapter) {
    let (server, written) = endless_body(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let undelivered = undelivered(adapter, config(&server, 2), TransportLimits::default());
    assert_eq!(
        transport_kind(adapter, &undelivered),
        TransportErrorKind::BodyTooLarge
    );
    assert_eq!(undelivered.attempts, 2);
    // The client stopped reading at its 1 MiB cap: what the server could write beyond it
    // is what socket buffers hold, far from the 256 MiB on offer.
    let written = written.load(Ordering::SeqCst);
    assert!(written < 64 << 20, "{adapter:?}: {written} bytes were read");
}

fn a_declared_huge_body_is_refused_unread(adapter: Adapter) {
    let (server, _) = endless_body(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n",
    );
    let undelivered = undelivered(adapter, config(&server, 1), TransportLimits::default());
    assert_eq!(
        transport_kind(adapter, &undelivered),
        TransportErrorKind::BodyTooLarge
    );
}

/// A 400 settles the request whatever its body says: one too large to read still makes the
/// alias final at the first attempt, not a transport failure to retry.
fn a_400_with_a_body_over_the_cap_is_final(adapter: Adapter) {
    let (server, _) = endless_body(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let report = adapter
        .client(config(&server, 3), TransportLimits::default())
        .send(vec![CreateAlias::from_ids("anon-1", "user-1").unwrap()]);
    let [entry] = &report.entries[..] else {
        panic!("{adapter:?}: one entry expected: {report:?}");
    };
    let AliasOutcome::Rejected(rejection) = &entry.outcome else {
        panic!("{adapter:?}: not rejected: {:?}", entry.outcome);
    };
    assert_eq!(rejection.status(), 400, "{adapter:?}");
    assert!(
        rejection.message().contains("over 1048576 bytes"),
        "{adapter:?}: the message says why the body went unread: {rejection:?}"
    );
    assert_eq!(
        report.stats.requests, 1,
        "{adapter:?}: sent once, never retried"
    );
    assert_eq!(server.log().requests.len(), 1, "{adapter:?}");
}

fn a_body_trickling_forever_meets_the_request_timeout(adapter: Adapter) {
    let server = RawServer::start(|exchange| {
        if exchange.read_request().is_none() {
            return;
        }
        let _ = exchange.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{");
        // One byte every 50 ms: each read is quick, the whole never comes.
        for _ in 0..1000 {
            std::thread::sleep(Duration::from_millis(50));
            if exchange.write(b" ").is_err() {
                return;
            }
        }
    });
    let limits = TransportLimits::default().request_timeout(Duration::from_millis(300));
    let undelivered = undelivered(adapter, config(&server, 1), limits);
    assert_eq!(
        transport_kind(adapter, &undelivered),
        TransportErrorKind::Timeout
    );
}

fn a_huge_retry_after_is_capped(adapter: Adapter) {
    // Seconds in the far future, a date in the year 9999, and a number too large to read.
    let answers = [
        "99999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "999999999999999999999999999999",
    ];
    // One request per connection, so that the connection's number says which answer.
    let server = RawServer::start(move |exchange| {
        if exchange.read_request().is_some() {
            let retry_after = answers[exchange.index() % answers.len()];
            let answer = format!(
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = exchange.write(answer.as_bytes());
        }
    });
    // A wait beyond `max_elapsed` would end the delivery at once, after one attempt; four
    // attempts or more show every wait was cut to `max_retry_after`. (429s do not use up
    // the attempt budget: the elapsed one ends the retries.)
    let config = Config::builder(Token::new(DEFAULT_TOKEN).unwrap())
        .api_host(ApiHost::custom(&server.url()).unwrap())
        .retry_policy(RetryPolicy {
            max_retry_after: Duration::from_millis(20),
            // Room for four attempts of 20 ms waits many times over, so that a slow moment
            // of the machine cannot end the retries first.
            max_elapsed: Duration::from_secs(1),
            ..RetryPolicy::fast()
        })
        .build();
    let undelivered = undelivered(adapter, config, TransportLimits::default());
    assert!(undelivered.attempts >= 4, "{undelivered:?}");
    assert!(
        matches!(&undelivered.last_error, DeliveryError::Status { status, .. } if *status == 429),
        "{undelivered:?}"
    );
    assert_eq!(server.log().requests.len(), undelivered.attempts as usize);
}

/// The transport-security promise too: a redirect is not followed, so the `/import`
/// credentials go to the configured host and nowhere else.
fn a_redirect_to_another_host_is_not_followed(adapter: Adapter) {
    let elsewhere = RawServer::answering("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let answer = format!(
            "HTTP/1.1 {status}\r\nLocation: http://localhost:{}/import?project_id={DEFAULT_PROJECT_ID}\r\nContent-Length: 0\r\n\r\n",
            elsewhere.port()
        );
        let server = RawServer::answering(answer);
        let credentials = Credentials::service_account(
            DEFAULT_SERVICE_ACCOUNT_USER,
            Secret::new(DEFAULT_SERVICE_ACCOUNT_SECRET).unwrap(),
            DEFAULT_PROJECT_ID,
        )
        .unwrap();
        let config = config(&server, 2)
            .into_builder()
            .endpoint(Endpoint::Import(credentials))
            .build();

        let undelivered = undelivered(adapter, config, TransportLimits::default());

        let DeliveryError::UnexpectedAnswer(answer) = &undelivered.last_error else {
            panic!("{adapter:?} {status}: {undelivered:?}");
        };
        assert_eq!(answer.status.as_u16().to_string(), status[..3]);
        let requests = server.log().requests;
        assert_eq!(requests.len(), 2, "{adapter:?} {status}");
        let sent = String::from_utf8_lossy(&requests[0]).to_ascii_lowercase();
        assert!(sent.contains("authorization: basic "), "{sent}");
    }
    assert_eq!(
        elsewhere.log().connections,
        0,
        "{adapter:?}: the redirect was followed"
    );
}

fn malformed_json_is_an_unexpected_answer_or_a_rejection(adapter: Adapter) {
    // A success status with broken JSON: nothing known, so sent again, then handed back.
    let body = r#"{"status":1,"error":"#;
    let server = RawServer::answering(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let undelivered = undelivered(adapter, config(&server, 2), TransportLimits::default());
    let DeliveryError::UnexpectedAnswer(answer) = &undelivered.last_error else {
        panic!("{adapter:?}: {undelivered:?}");
    };
    assert_eq!(answer.snippet, body);
    assert_eq!(undelivered.attempts, 2);

    // A 400 with broken JSON is still a refusal, with the body as its message.
    let body = r#"{"code":400,"error":"#;
    let server = RawServer::answering(format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let report = adapter
        .client(config(&server, 2), TransportLimits::default())
        .send(vec![CreateAlias::from_ids("anon-1", "user-1").unwrap()]);
    let AliasOutcome::Rejected(rejection) = &report.entries[0].outcome else {
        panic!("{adapter:?}: {report:?}");
    };
    assert_eq!(
        (rejection.status().as_u16(), rejection.message()),
        (400, body)
    );
    assert_eq!(server.log().requests.len(), 1, "a 400 is not sent again");
}

fn a_status_line_alone_is_a_closed_connection(adapter: Adapter) {
    let server = RawServer::answering("HTTP/1.1 200 OK\r\n");
    let undelivered = undelivered(adapter, config(&server, 2), TransportLimits::default());
    assert_eq!(
        transport_kind(adapter, &undelivered),
        TransportErrorKind::Closed,
        "{undelivered:?}"
    );
    assert_eq!(server.log().requests.len(), 2);
}

/// An answer that comes after its request was given up for slow must not be read as the
/// answer to the next request: that would report accepted an alias the server never
/// stored. The first connection's first request is answered `1` after 600 ms, past the
/// client's timeout; every other request is answered 503.
fn a_late_answer_is_not_taken_for_the_next_request(adapter: Adapter) {
    let server = RawServer::start(|exchange| {
        let mut first = exchange.index() == 0;
        while exchange.read_request().is_some() {
            let answer: &[u8] = if first {
                std::thread::sleep(Duration::from_millis(600));
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"
            } else {
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
            };
            first = false;
            if exchange.write(answer).is_err() {
                return;
            }
        }
    });
    let limits = TransportLimits::default().request_timeout(Duration::from_millis(200));
    let undelivered = undelivered(adapter, config(&server, 2), limits);
    assert!(
        matches!(&undelivered.last_error, DeliveryError::Status { status, .. } if *status == 503),
        "{adapter:?}: {undelivered:?}"
    );
}

alias_tests::adapter_suite!(
    an_endless_body_is_cut_at_the_cap,
    a_declared_huge_body_is_refused_unread,
    a_400_with_a_body_over_the_cap_is_final,
    a_body_trickling_forever_meets_the_request_timeout,
    a_huge_retry_after_is_capped,
    a_redirect_to_another_host_is_not_followed,
    malformed_json_is_an_unexpected_answer_or_a_rejection,
    a_status_line_alone_is_a_closed_connection,
    a_late_answer_is_not_taken_for_the_next_request,
);
