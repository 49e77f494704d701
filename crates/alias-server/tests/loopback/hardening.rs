//! Hostile and heavy clients: timeouts, bounds, garbage, and many at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use alias_server::Server;
use serde_json::json;

use crate::common::{alias_event, post, post_json, raw_exchange, track_alias};

#[test]
fn a_stalled_request_head_is_cut_off() {
    let server = Server::builder()
        .header_read_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    let started = Instant::now();
    raw_exchange(
        &server,
        b"POST /track HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(5),
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    track_alias(&server, "still", "serving");
}

#[test]
fn a_stalled_body_is_cut_off_without_storing() {
    let server = Server::builder()
        .body_read_timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    let started = Instant::now();
    let answer = raw_exchange(
        &server,
        b"POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n[{\"event\"",
        Duration::from_secs(5),
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer, "", "closed without an answer");
    assert_eq!(server.stats().events_received, 0);
}

#[test]
fn deep_nesting_is_an_answer_not_a_crash() {
    let server = Server::start().unwrap();
    let deep = "[".repeat(100_000);
    let reply = post(&server, "/track?verbose=1", "application/json", deep);
    assert_eq!(
        reply.body,
        r#"{"status":0,"error":"the events nest arrays and objects deeper than 64 levels"}"#
    );
    track_alias(&server, "still", "serving");
}

#[test]
fn garbage_on_the_wire_leaves_the_server_serving() {
    let server = Server::start().unwrap();
    let inputs: [&[u8]; 5] = [
        b"\x00\x01\x02GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /track HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /track HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /import HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00",
    ];
    for input in inputs {
        raw_exchange(&server, input, Duration::from_secs(2));
    }
    let mut huge_head = b"GET /track HTTP/1.1\r\nX-Big: ".to_vec();
    huge_head.extend(std::iter::repeat_n(b'a', 200_000));
    let answer = raw_exchange(&server, &huge_head, Duration::from_secs(2));
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    track_alias(&server, "still", "serving");
}

#[test]
fn connections_over_the_limit_are_closed_at_once() {
    let server = Server::builder().max_connections(1).start().unwrap();
    let held = TcpStream::connect(server.addr()).unwrap();
    // Make sure the held connection was accepted before the next one arrives.
    std::thread::sleep(Duration::from_millis(100));
    let mut refused = TcpStream::connect(server.addr()).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buffer = [0; 16];
    assert_eq!(
        refused.read(&mut buffer).ok(),
        Some(0),
        "closed, not answered"
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .write_all(b"GET /_inspect/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never released");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn many_concurrent_keep_alive_clients() {
    const CLIENTS: usize = 32;
    const REQUESTS: usize = 20;
    let server = Server::start().unwrap();
    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let server = &server;
            scope.spawn(move || {
                for r in 0..REQUESTS {
                    let event = alias_event(&format!("anon-{c}-{r}"), &format!("user-{c}-{r}"));
                    assert_eq!(post_json(server, "/track", &json!([event])).body, "1");
                }
            });
        }
    });
    let stats = server.stats();
    assert_eq!(stats.requests, (CLIENTS * REQUESTS) as u64);
    assert_eq!(stats.events_stored, (CLIENTS * REQUESTS) as u64);
}

#[test]
fn one_connection_carries_several_requests() {
    let server = Server::start().unwrap();
    let body = json!([alias_event("k1", "k2")]).to_string();
    let request = |connection: &str| {
        format!(
            "POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
            body.len()
        )
    };
    let both = format!("{}{}", request("keep-alive"), request("close"));
    let answer = raw_exchange(&server, both.as_bytes(), Duration::from_secs(5));
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    assert_eq!(server.stats().requests, 2);
}

/// Posts a body of `len` bytes to `/track` the way async-h1 does, all of it before reading,
/// and returns the start of the answer.
fn write_whole_body_then_read(server: &Server, len: usize) -> String {
    let head = format!(
        "POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n\r\n"
    );
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream
        .write_all(&vec![b'x'; len])
        .expect("the whole body is accepted");
    let mut answer = [0u8; 512];
    let read = stream.read(&mut answer).unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

/// A client that writes its whole body before reading (as async-h1 does) must see the
/// 413, not a broken pipe: the server drains what it refuses.
#[test]
fn an_oversized_body_is_drained_so_the_writer_reads_the_413() {
    let server = Server::builder().max_body_bytes(1024).start().unwrap();
    let answer = write_whole_body_then_read(&server, 4 * 1024 * 1024);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("request exceeds max limit of 1024 bytes"),
        "{answer}"
    );
}

/// A fault answer is an answer too: a 503 comes after the body was read, not instead of it.
#[test]
fn a_faulted_request_is_drained_before_the_fault_answer() {
    let server = Server::builder()
        .faults("503=1.0".parse().unwrap())
        .start()
        .unwrap();
    let answer = write_whole_body_then_read(&server, 1024 * 1024);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
}

/// A client that asks `Expect: 100-continue` waits for leave to send its body. A body
/// declared over the limit must get the 413 at once, never that leave.
#[test]
fn a_declared_oversized_body_gets_413_without_100_continue() {
    for faults in ["", "503=1"] {
        let server = Server::builder()
            .faults(faults.parse().unwrap())
            .start()
            .unwrap();
        let answer = raw_exchange(
            &server,
            b"POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 30000000\r\nExpect: 100-continue\r\n\r\n",
            Duration::from_secs(5),
        );
        assert!(!answer.contains("100 Continue"), "{faults}: {answer}");
        let status = if faults.is_empty() { "413" } else { "503" };
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{faults}: {answer}"
        );
        assert_eq!(server.stats().events_received, 0);
    }
}

/// Within the limit, the client gets its leave and the request is served.
#[test]
fn a_body_within_the_limit_gets_100_continue() {
    let server = Server::start().unwrap();
    let body = json!([alias_event("expecting", "continue")]).to_string();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut leave = [0; 25];
    stream.read_exact(&mut leave).unwrap();
    assert_eq!(&leave, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("\r\n\r\n1"),
        "{answer}"
    );
    assert_eq!(server.events().len(), 1);
}
