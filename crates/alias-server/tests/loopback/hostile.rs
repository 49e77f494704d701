//! Hostile input at scale: drips, huge declarations, bombs, broken encodings, header floods
//! and idle crowds. After each, the server must still serve a normal client, must have
//! answered 4xx where HTTP leaves it a say, and its memory must not have grown with what
//! the peer claimed or compressed. (hardening.rs has the stalls, the deep nesting, garbage
//! on the wire and the connection limit.)

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use alias_core::http;
use alias_server::{DEFAULT_TOKEN, Server};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::common::{Reply, alias_event, basic, post, post_form, raw_exchange, send, track_alias};

/// The most the process's peak memory may grow during one hostile exchange. Generous, since
/// the other tests of this binary run alongside; still far below the 100 MB and 1 GiB the
/// peers below claim or compress, so buffering any of it would show.
const MEMORY_BOUND_KIB: u64 = 64 * 1024;

/// The process's peak resident memory, in KiB. The peak rather than the current size: a
/// buffer freed before the test looks again would not show in `VmRSS`.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

/// Runs `exchange` and asserts the peak memory grew by less than [`MEMORY_BOUND_KIB`].
fn within_memory_bound<T>(what: &str, exchange: impl FnOnce() -> T) -> T {
    let before = peak_rss_kib();
    let result = exchange();
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(
        grown < MEMORY_BOUND_KIB,
        "{what}: peak memory grew by {grown} KiB"
    );
    result
}

/// What became of a request written one byte at a time.
#[derive(Debug)]
struct Drip {
    /// Bytes of the drip written before the server closed the connection.
    sent: usize,
    /// Whether the server closed the connection before the drip ended.
    cut_off: bool,
    /// Whatever the server answered.
    answer: String,
}

/// Writes `prefix` at once, then `drip` one byte every 20 ms, watching after each byte
/// whether the server has closed the connection.
fn drip(server: &Server, prefix: &[u8], drip: &[u8]) -> Drip {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    // The read timeout paces the drip.
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    stream.write_all(prefix).unwrap();
    let mut answer = Vec::new();
    let sent = drip
        .iter()
        .position(|byte| closed_after(&mut stream, *byte, &mut answer))
        .unwrap_or(drip.len());
    Drip {
        sent,
        cut_off: sent < drip.len(),
        answer: String::from_utf8_lossy(&answer).into_owned(),
    }
}

/// Writes `byte`, then reads what the server sent meanwhile into `answer`; whether the
/// server had closed the connection.
fn closed_after(stream: &mut TcpStream, byte: u8, answer: &mut Vec<u8>) -> bool {
    if stream.write_all(&[byte]).is_err() {
        return true;
    }
    let mut buffer = [0; 1024];
    match stream.read(&mut buffer) {
        Ok(0) => true,
        Ok(read) => {
            answer.extend_from_slice(&buffer[..read]);
            false
        }
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn a_head_dripped_byte_by_byte_is_cut_off_at_the_head_deadline() {
    let server = Server::builder()
        .header_read_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    // Each byte arrives well within any per-read timeout; only a deadline on the whole
    // head stops this. 400 bytes take 8 s to drip.
    let header = format!("X-Drip: {}", "a".repeat(400));
    let dripped = drip(&server, b"POST /track HTTP/1.1\r\n", header.as_bytes());
    assert!(dripped.cut_off, "{dripped:?}");
    assert!(dripped.sent < header.len(), "{dripped:?}");
    assert!(!dripped.answer.contains(" 200 "), "{dripped:?}");
    track_alias(&server, "after-head-drip", "served");
}

#[test]
fn a_body_dripped_byte_by_byte_is_cut_off_at_the_body_deadline() {
    let server = Server::builder()
        .body_read_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let body = format!(
        r#"[{{"event":"$create_alias","properties":{{"distinct_id":"drip","alias":"{}","token":"{DEFAULT_TOKEN}"}}}}]"#,
        "a".repeat(400)
    );
    let head = format!(
        "POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let dripped = drip(&server, head.as_bytes(), body.as_bytes());
    assert!(dripped.cut_off, "{dripped:?}");
    assert!(dripped.sent < body.len(), "{dripped:?}");
    assert_eq!(dripped.answer, "", "closed without an answer");
    assert_eq!(server.stats().events_received, 0);
    track_alias(&server, "after-body-drip", "served");
}

#[test]
fn a_declared_100_mb_body_is_refused_before_it_is_read() {
    let server = Server::start().unwrap();
    let answer = within_memory_bound("100 MB declared", || {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(
                b"POST /import HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
            )
            .unwrap();
        // A start of the body, as a client that writes before it reads would send.
        let _ = stream.write_all(&[b'['; 64 * 1024]);
        let mut answer = [0; 512];
        let read = stream.read(&mut answer).unwrap();
        String::from_utf8_lossy(&answer[..read]).into_owned()
    });
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("request exceeds max limit of 10000000 bytes"),
        "{answer}"
    );
    assert_eq!(server.stats().events_received, 0);
    track_alias(&server, "after-100mb", "served");
}

/// A gzip body of 1 KiB members that each expand to 1 MiB of zeros, `members` of them: the
/// decoder reads concatenated members, so the bomb costs one compression of 1 MiB.
fn gzip_bomb(members: usize) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(&vec![0; 1 << 20]).unwrap();
    let member = encoder.finish().unwrap();
    member.repeat(members)
}

#[test]
fn a_gzip_bomb_of_a_gibibyte_expands_no_further_than_the_limit() {
    let server = Server::start().unwrap();
    let bomb = gzip_bomb(1024);
    assert!(bomb.len() < 2 << 20, "the bomb itself fits the wire limit");
    let request = http::Request::post("/import")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("authorization", basic(&format!("{DEFAULT_TOKEN}:")))
        .body(bomb)
        .unwrap();
    let reply = within_memory_bound("gzip bomb", || send(&server, request));
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(
        reply
            .body
            .contains("request exceeds max limit of 10000000 bytes"),
        "{reply:?}"
    );
    assert_eq!(server.stats().events_received, 0);
    track_alias(&server, "after-bomb", "served");
}

/// `/import` with the project token as the Basic user.
fn import(server: &Server, content_type: &str, body: &[u8]) -> Reply {
    send(
        server,
        http::Request::post("/import")
            .header("content-type", content_type)
            .header("authorization", basic(&format!("{DEFAULT_TOKEN}:")))
            .body(body.to_vec())
            .unwrap(),
    )
}

#[test]
fn invalid_utf8_anywhere_gets_a_typed_refusal() {
    let server = Server::start().unwrap();

    // In a JSON string of an /import body: a strict 400 naming the JSON.
    let reply = import(
        &server,
        "application/json",
        b"[{\"event\":\"$create_alias\",\"properties\":{\"alias\":\"\xff\xfe\"}}]",
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains("not valid JSON"), "{reply:?}");

    // In the Basic credential: 401.
    let reply = send(
        &server,
        http::Request::post("/import")
            .header("content-type", "application/json")
            .header(
                "authorization",
                http::HeaderValue::from_bytes(b"Basic \xff\xfe\xfd").unwrap(),
            )
            .body(b"[]".to_vec())
            .unwrap(),
    );
    assert_eq!(reply.status, 401, "{reply:?}");

    // Percent-encoded in /track's data: /track answers 200 whatever happens (as Mixpanel
    // does), with the reason in the verbose body.
    let reply = post_form(&server, "/track", "data=%7B%FF%FE%22&verbose=1");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.body.starts_with(r#"{"status":0,"error":"#),
        "{reply:?}"
    );

    // Raw in the request target: refused before routing.
    let answer = raw_exchange(
        &server,
        b"GET /tr\xffack?data=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(2),
    );
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");

    assert_eq!(server.stats().events_stored, 0);
    track_alias(&server, "after-utf8", "served");
}

#[test]
fn invalid_base64_gets_a_typed_refusal() {
    let server = Server::start().unwrap();
    let form = "application/x-www-form-urlencoded";

    // /import reads form bodies too, and answers strictly: 400.
    let reply = import(&server, form, b"data=!!!not*base64!!!");
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains("neither JSON nor base64"), "{reply:?}");

    // Base64 that decodes to bytes that are not JSON, nor even UTF-8.
    let not_utf8 = STANDARD.encode([0xff, 0xfe, 0x00, 0x7b]);
    let reply = post_form(&server, "/track", &format!("data={not_utf8}&verbose=1"));
    assert!(reply.body.contains("not valid JSON"), "{reply:?}");

    // Plain /track answers a bare 0.
    let reply = post(&server, "/track?data=%25%25%25", form, "");
    assert_eq!((reply.status, reply.body.as_str()), (200, "0"), "{reply:?}");

    assert_eq!(server.stats().events_stored, 0);
    track_alias(&server, "after-base64", "served");
}

#[test]
fn thousands_of_headers_are_refused() {
    let server = Server::start().unwrap();
    let mut head = String::from("POST /track HTTP/1.1\r\nHost: x\r\n");
    for i in 0..5000 {
        head.push_str(&format!("X-{i}: v\r\n"));
    }
    head.push_str("Content-Length: 0\r\n\r\n");
    let answer = within_memory_bound("5000 headers", || {
        raw_exchange(&server, head.as_bytes(), Duration::from_secs(5))
    });
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(server.stats().requests, 0);
    track_alias(&server, "after-headers", "served");
}

/// How many connections a test may hold open: 1,000, unless the file descriptor limit
/// cannot take that many on both ends (client and server share this process).
fn idle_connections_allowed() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    1000.min(soft.saturating_sub(200) / 2)
}

#[test]
fn a_thousand_idle_connections_neither_block_others_nor_stay_forever() {
    let server = Server::builder()
        .header_read_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let count = idle_connections_allowed();
    assert!(count >= 400, "the descriptor limit allows only {count}");
    let mut idle = within_memory_bound("idle connections", || {
        let idle: Vec<TcpStream> = (0..count)
            .map(|_| TcpStream::connect(server.addr()).unwrap())
            .collect();
        // Served while the crowd is connected.
        track_alias(&server, "amid-idle", "served");
        idle
    });
    // Each idle connection is closed by the server at its head deadline, not held.
    for stream in &mut idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buffer = [0; 16];
        match stream.read(&mut buffer) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("an idle connection was not closed: {other:?}"),
        }
    }
    // On a connection of its own: the shared client's kept-alive one from above meets the
    // same head deadline as the idle crowd.
    let body = json!([alias_event("after-idle", "served")]).to_string();
    let answer = raw_exchange(
        &server,
        format!(
            "POST /track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
        Duration::from_secs(5),
    );
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("\r\n\r\n1"),
        "{answer}"
    );
}

/// A store of about 4 MB: 250 events of 16 KB, in requests that fit the body limit. 40
/// whole copies of it would pass the memory bound.
fn fill_with_big_events(server: &Server) {
    let padding = "p".repeat(16 * 1024);
    for request in 0..5 {
        let events: Vec<_> = (0..50)
            .map(|i| {
                let mut event = alias_event(
                    &format!("anon-{request}-{i}"),
                    &format!("user-{request}-{i}"),
                );
                event["properties"]["padding"] = json!(padding);
                event
            })
            .collect();
        let reply = post(
            server,
            "/track",
            "application/json",
            json!(events).to_string(),
        );
        assert_eq!(reply.body, "1", "{reply:?}");
    }
    assert_eq!(server.stats().events_stored, 250);
}

/// 40 clients ask for the whole listing and never read it. Each listing is written a
/// chunk at a time as its reader takes it, so they hold little memory between them, and
/// ingestion and the other inspection endpoints are not held up meanwhile.
#[test]
fn listings_nobody_reads_hold_neither_memory_nor_the_server() {
    let server = Server::start().unwrap();
    fill_with_big_events(&server);
    let stalled = within_memory_bound("40 unread listings", || {
        let stalled: Vec<TcpStream> = (0..40)
            .map(|_| {
                let mut stream = TcpStream::connect(server.addr()).unwrap();
                stream
                    .write_all(b"GET /_inspect/events HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                stream
            })
            .collect();
        // Each listing has begun: its first bytes arrive.
        for stream in &stalled {
            let mut stream = stream;
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut head = [0; 12];
            stream.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200");
        }
        track_alias(&server, "amid-listings", "served");
        stalled
    });
    let (status, stats) = crate::common::inspect(&server, "stats");
    assert_eq!(status, 200);
    assert_eq!(stats["events_stored"], 251);
    drop(stalled);
}
