//! `mixpanel-alias serve` as a process: its first line, its options, and its exit.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

/// A running `serve` process, killed if a test fails before stopping it.
struct Serve {
    child: Child,
    authority: String,
}

impl Serve {
    fn start(args: &[&str]) -> Self {
        Self::spawn(args, Stdio::null())
    }

    /// Starts with stderr kept, for [`Serve::stop_and_read_stderr`].
    fn start_keeping_stderr(args: &[&str]) -> Self {
        Self::spawn(args, Stdio::piped())
    }

    fn spawn(args: &[&str], stderr: Stdio) -> Self {
        let mut child = Command::cargo_bin("mixpanel-alias")
            .unwrap()
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let authority = first_line
            .strip_prefix("listening on http://")
            .and_then(|rest| rest.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
            .to_owned();
        let (host, port) = authority.rsplit_once(':').unwrap();
        assert_eq!(host, "127.0.0.1");
        assert!(port.parse::<u16>().unwrap() > 0);
        Self { child, authority }
    }

    /// Sends a request with `Connection: close` and returns the status and body.
    fn request(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.authority).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.authority,
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        (status, body.to_owned())
    }

    fn track(&self, distinct_id: &str, alias: &str, token: &str) -> (u16, String) {
        let body = format!(
            r#"[{{"event":"$create_alias","properties":{{"distinct_id":"{distinct_id}","alias":"{alias}","token":"{token}"}}}}]"#
        );
        self.request("POST", "/track?verbose=1", "application/json", &body)
    }

    /// Stops with SIGTERM, expects exit code 0, and returns what was written on stderr.
    fn stop_and_read_stderr(mut self) -> String {
        let mut stderr = self.child.stderr.take().expect("started keeping stderr");
        assert_eq!(self.stop("-TERM"), Some(0));
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    }

    /// Sends `signal` and returns the exit code.
    fn stop(mut self, signal: &str) -> Option<i32> {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                return exit.code();
            }
            assert!(Instant::now() < deadline, "still running after {signal}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // Already reaped after a successful stop; otherwise the test failed midway.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serves_then_exits_0_on_sigterm() {
    let serve = Serve::start(&[]);
    assert_eq!(
        serve.track("anon-1", "user-1", "test-token"),
        (200, r#"{"status":1,"error":null}"#.to_owned())
    );
    let (status, stats) = serve.request("GET", "/_inspect/stats", "text/plain", "");
    assert_eq!(status, 200);
    assert!(stats.contains(r#""events_stored":1"#), "{stats}");
    assert_eq!(serve.stop("-TERM"), Some(0));
}

#[test]
fn exits_0_on_sigint() {
    let serve = Serve::start(&["--addr", "127.0.0.1:0"]);
    assert_eq!(serve.stop("-INT"), Some(0));
}

#[test]
fn options_reach_the_server() {
    let serve = Serve::start(&[
        "--id-merge",
        "simplified",
        "--token",
        "cli-token",
        "--max-body-bytes",
        "300",
        "--clock-skew-secs",
        "-60",
    ]);
    assert_eq!(serve.track("anon-2", "user-2", "cli-token").0, 200);
    let (_, identity) = serve.request("GET", "/_inspect/identity/user-2", "text/plain", "");
    assert_eq!(
        identity,
        r#"{"id":"user-2","canonical":"user-2","cluster":["user-2"]}"#
    );
    let (status, body) = serve.track("anon-3", &"x".repeat(300), "cli-token");
    assert_eq!(status, 413);
    assert!(body.contains("max limit of 300 bytes"), "{body}");
    assert_eq!(serve.stop("-TERM"), Some(0));

    let serve = Serve::start(&["--faults", "503=1", "--seed", "3", "--slow-ms", "10"]);
    let (status, body) = serve.track("anon-4", "user-4", "test-token");
    assert_eq!(status, 503);
    assert!(body.starts_with("<html>"), "{body}");
    assert_eq!(serve.stop("-TERM"), Some(0));
}

#[test]
fn unknown_tokens_are_answered_1_and_warned_about_once_each() {
    let serve = Serve::start_keeping_stderr(&["--token", "cli-token"]);
    let unknown = "0123456789abcdef0123456789abcdef";
    for _ in 0..3 {
        assert_eq!(
            serve.track("anon-1", "user-1", unknown),
            (200, r#"{"status":1,"error":null}"#.to_owned())
        );
    }
    serve.track("anon-2", "user-2", "fedcba9876543210fedcba9876543210");
    serve.track("anon-3", "user-3", "cli-token");
    let (_, stats) = serve.request("GET", "/_inspect/stats", "text/plain", "");
    assert!(stats.contains(r#""events_stored":1"#), "{stats}");
    let stderr = serve.stop_and_read_stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("warning: /track events carry a token"))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(warnings[0].contains("(0123…)"), "{stderr}");
    assert!(warnings[1].contains("(fedc…)"), "{stderr}");
    assert!(warnings.iter().all(|w| w.contains("--token")), "{stderr}");
    assert!(
        !stderr.contains(unknown),
        "the whole token was printed: {stderr}"
    );
}

#[test]
fn rate_limit_answers_429() {
    let serve = Serve::start(&["--rate-limit", "1"]);
    let event = |i: usize| {
        format!(
            r#"{{"event":"$create_alias","properties":{{"distinct_id":"device-{i}","alias":"user-{i}","token":"test-token"}}}}"#
        )
    };
    // An empty window takes any request. 2000 events (one request's most) fill the
    // minute's window of one a second, which no slow machine outlasts. Distinct pairs, so
    // that every event is stored and the answer is 1.
    let many = format!("[{}]", (0..2000).map(event).collect::<Vec<_>>().join(","));
    assert_eq!(
        serve.request("POST", "/track", "application/json", &many),
        (200, "1".to_owned())
    );
    let (status, body) = serve.request("POST", "/track", "application/json", &event(2000));
    assert_eq!(status, 429);
    assert_eq!(
        body,
        r#"{"code":429,"error":"Project exceeded rate limits. Please retry the request with exponential backoff.","status":"Too Many Requests"}"#
    );
    let (_, stats) = serve.request("GET", "/_inspect/stats", "text/plain", "");
    assert!(stats.contains(r#""requests_rate_limited":1"#), "{stats}");
    assert_eq!(serve.stop("-TERM"), Some(0));

    let output = Command::cargo_bin("mixpanel-alias")
        .unwrap()
        .args(["serve", "--rate-limit", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn import_accepts_the_configured_service_account() {
    let serve = Serve::start(&["--service-account", "ci-bot:s3cret", "--project-id", "77"]);
    let event =
        r#"[{"event":"e","properties":{"distinct_id":"d","time":1700000000,"$insert_id":"i-1"}}]"#;
    let mut stream = TcpStream::connect(&serve.authority).unwrap();
    // Basic base64("ci-bot:s3cret")
    write!(
        stream,
        "POST /import?project_id=77 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic Y2ktYm90OnMzY3JldA==\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{event}",
        event.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.ends_with(r#"{"code":200,"num_records_imported":1,"status":"OK"}"#),
        "{answer}"
    );
    assert_eq!(serve.stop("-TERM"), Some(0));
}

#[test]
fn bad_options_are_usage_errors() {
    let output = Command::cargo_bin("mixpanel-alias")
        .unwrap()
        .args(["serve", "--faults", "404=0.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown fault \"404\""), "{stderr}");

    let output = Command::cargo_bin("mixpanel-alias")
        .unwrap()
        .args(["serve", "--id-merge", "v4"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));

    // No event could carry a blank token, and no client could be configured with one.
    let output = Command::cargo_bin("mixpanel-alias")
        .unwrap()
        .args(["serve", "--token", " "])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--token"), "{stderr}");
    assert!(stderr.contains("must not be empty"), "{stderr}");

    // Absurd delays and skews: a usage error naming the flag, not a server that hangs for
    // ever or stamps times past the year 292 billion.
    for (flag, value) in [
        ("--slow-ms", "18446744073709551615"),
        ("--slow-ms", "600001"),
        ("--clock-skew-secs", "9223372036854775807"),
        ("--clock-skew-secs", "-2592001"),
    ] {
        let output = Command::cargo_bin("mixpanel-alias")
            .unwrap()
            .args(["serve", flag, value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{stderr}");
    }
}

#[test]
fn a_taken_address_fails_with_a_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::cargo_bin("mixpanel-alias")
        .unwrap()
        .args(["serve", "--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn help_documents_the_default_credentials() {
    let output = Command::cargo_bin("mixpanel-alias")
        .unwrap()
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for default in [
        "[default: test-token]",
        "[default: test-project-secret]",
        "[default: test-service-account:test-service-account-secret]",
        "[default: 1234]",
        "[default: 127.0.0.1:0]",
    ] {
        assert!(help.contains(default), "{default} missing from:\n{help}");
    }
}
