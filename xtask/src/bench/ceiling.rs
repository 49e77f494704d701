//! The server's ceiling: the workload encoded beforehand, its bodies sent by
//! [`CONCURRENCY`] threads over keep-alive connections with nothing else to do.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use alias_core::http::Request;
use alias_core::{wire::Verdict, wire::parse_response};

use super::server::ServerProcess;
use super::workload::{CONCURRENCY, aliases, config};

/// Sends the aliases of `ids`, pre-encoded by `Config::encode` into the requests a client
/// would send, and returns the time from the first connection to the last answer.
pub(super) fn send(ids: &[(String, String)], server: &ServerProcess) -> Result<Duration, String> {
    let aliases: Vec<_> = aliases(ids).collect();
    let requests: Vec<Request<Vec<u8>>> = config(server.url())?
        .encode(&aliases, SystemTime::now())
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|batch| batch.request)
        .collect();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    thread::scope(|scope| {
        let senders: Vec<_> = (0..CONCURRENCY)
            .map(|_| scope.spawn(|| send_some(&requests, &next, server.authority())))
            .collect();
        senders.into_iter().try_for_each(|sender| {
            sender
                .join()
                .map_err(|_| "a sender thread panicked".to_owned())?
        })
    })?;
    Ok(started.elapsed())
}

/// Sends the requests not yet taken by another thread, one at a time on one connection.
fn send_some(
    requests: &[Request<Vec<u8>>],
    next: &AtomicUsize,
    authority: &str,
) -> Result<(), String> {
    let mut connection = super::wire::Connection::open(authority)
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    while let Some(request) = requests.get(next.fetch_add(1, Ordering::Relaxed)) {
        let answer = connection
            .send(request)
            .map_err(|e| format!("the raw sender failed: {e}"))?;
        match parse_response(&answer) {
            Ok(Verdict::Accepted { .. }) => {}
            other => return Err(format!("the server did not accept a batch: {other:?}")),
        }
    }
    Ok(())
}
