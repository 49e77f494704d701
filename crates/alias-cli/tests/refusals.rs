//! What the CLI does when Mixpanel refuses the whole project, when it is asked to stop, and
//! when a request could never be sent: it says so once, stops sending, and loses no row.

mod support;

use std::time::Duration;

use alias_server::{FaultSpec, IdentitySystem, Server};
use support::{
    Running, at_url, at_url_retrying, mixpanel_alias, output, spawnable_retrying, summary,
    wait_until,
};

fn simplified() -> Server {
    Server::builder()
        .identity(IdentitySystem::Simplified)
        .start()
        .expect("the reference server starts")
}

fn csv(dir: &tempfile::TempDir, rows: usize) -> std::path::PathBuf {
    let path = dir.path().join("aliases.csv");
    let mut text = String::from("distinct_id,alias\n");
    for i in 0..rows {
        text.push_str(&format!("device-{i},user-{i}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn create_on_import_names_simplified_id_merge() {
    let server = simplified();
    let assert = mixpanel_alias("create", &server)
        .args([
            "--endpoint",
            "import",
            "--distinct-id",
            "device-1",
            "--alias",
            "user-1",
        ])
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    assert!(stdout.contains("Simplified ID Merge"), "{stdout}");
    assert!(
        stdout.contains("--link association --association-event"),
        "{stdout}"
    );
    assert_eq!(server.stats().events_stored, 0);
}

#[test]
fn an_import_stops_at_the_first_refusal_says_so_once_and_keeps_every_row() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = csv(&dir, 10_000);
    let failures = dir.path().join("failures.csv");
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .args(["--endpoint", "import", "--concurrency", "1", "--failures"])
        .arg(&failures)
        .assert()
        .code(1);
    let (stdout, stderr) = output(&assert);
    assert_eq!(server.stats().requests, 1, "one refused request, then none");
    // The refused batch's rows are rejected, every later row comes back unsent.
    let counts = summary(&stdout);
    let count = |name: &str| -> u64 {
        counts
            .split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    assert!(count("rejected") >= 1, "{counts}");
    assert_eq!(count("rejected") + count("undelivered"), 10_000, "{counts}");
    let mentions = stderr.matches("Simplified ID Merge").count();
    assert_eq!(mentions, 1, "one message: {stderr}");
    assert!(stderr.contains("--link association"), "{stderr}");
    assert!(stderr.lines().count() < 10, "no line per row: {stderr}");
    let listed = std::fs::read_to_string(&failures).unwrap().lines().count();
    assert_eq!(listed, 1 + 10_000, "the header and every row");
}

#[test]
fn association_events_link_every_pair_on_a_simplified_project() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = csv(&dir, 10_000);
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .args(["--endpoint", "import", "--link", "association"])
        .args(["--association-event", "Identity Linked"])
        .assert()
        .success();
    let (stdout, _) = output(&assert);
    assert_eq!(
        stdout.lines().last(),
        Some("accepted=10000 rejected=0 undelivered=0 invalid=0")
    );
    assert_eq!(server.stats().events_stored, 10_000);
    for i in [0, 4_999, 9_999] {
        let identity = server.identity(&format!("device-{i}")).unwrap();
        assert_eq!(identity.canonical, format!("user-{i}"));
    }
}

#[test]
fn link_association_without_its_event_is_a_usage_error() {
    let server = simplified();
    mixpanel_alias("create", &server)
        .args(["--distinct-id", "device-1", "--alias", "user-1"])
        .args(["--link", "association"])
        .assert()
        .code(2);
}

#[test]
fn an_accepted_alias_is_said_to_be_accepted_for_ingestion() {
    let server = support::server();
    let assert = mixpanel_alias("create", &server)
        .args(["--distinct-id", "anon-1", "--alias", "user-1"])
        .assert()
        .success();
    let (stdout, _) = output(&assert);
    assert!(stdout.starts_with("accepted for ingestion: "), "{stdout}");
    assert!(stdout.contains("$failure_reason"), "{stdout}");
}

#[test]
fn a_port_no_request_could_reach_is_a_usage_error_at_once() {
    let assert = assert_cmd::Command::from_std(at_url("create", "http://127.0.0.1:99999"))
        .args(["--distinct-id", "anon-1", "--alias", "user-1"])
        .assert()
        .code(2);
    let (_, stderr) = output(&assert);
    assert!(stderr.contains("--api-host"), "{stderr}");
    assert!(stderr.contains("port"), "{stderr}");
}

#[test]
fn one_sigterm_stops_an_import_whose_retries_would_take_minutes() {
    // Every request answered 503; the first retry waits a minute.
    let server = Server::builder()
        .faults("503=1".parse::<FaultSpec>().unwrap())
        .start()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = csv(&dir, 100);
    let checkpoint = dir.path().join("import.checkpoint");
    let mut command = spawnable_retrying("import", &server, Duration::from_secs(60));
    command
        .arg(&input)
        .arg("--checkpoint")
        .arg(&checkpoint)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut import = Running::spawn(&mut command);
    wait_until("the import's first request", || {
        if server.stats().requests > 0 {
            return true;
        }
        assert!(
            import.try_wait().is_none(),
            "ended before its first request"
        );
        false
    });
    let status = import.terminate();
    assert!(status.success());
    // A watchdog, far above the prompt stop and far below the retry schedule.
    let ended = import.wait_within(Duration::from_secs(50));
    assert!(ended.is_some(), "still running after SIGTERM");
    let ended = ended.expect("it ended, as just asserted");
    assert_eq!(ended.code(), Some(1), "interrupted");
    let output = import.take().wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("resume from the checkpoint"), "{stderr}");
    assert_eq!(server.stats().requests, 1, "the retry was not sent");
    // The rows stay for the resume: the checkpoint is still at the start, none counted.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert_eq!(saved["resume"]["offset"], 0, "{saved}");
    assert_eq!(saved["undelivered"], 0, "{saved}");
    assert_eq!(saved["complete"], false, "{saved}");
}

#[test]
fn an_import_to_a_closed_port_ends_early_and_says_so_once() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let input = csv(&dir, 5_000);
    let assert = assert_cmd::Command::from_std(at_url_retrying(
        "import",
        &format!("http://127.0.0.1:{port}"),
        Duration::from_millis(1),
    ))
    .arg(&input)
    .args(["--batch-size", "100"])
    .assert()
    .code(1);
    let (stdout, stderr) = output(&assert);
    assert_eq!(
        summary(&stdout),
        "accepted=0 rejected=0 undelivered=5000 invalid=0"
    );
    assert_eq!(
        stderr.matches("the server was never reached").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("Check --api-host"), "{stderr}");
    assert!(!stderr.contains("line 2:"), "no line per row: {stderr}");
    assert!(stderr.contains("progress: "), "{stderr}");
}

#[test]
fn an_import_to_a_server_that_never_answers_shows_progress_and_ends() {
    // Accepts every connection and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in listener.incoming() {
            held.push(connection);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let input = csv(&dir, 10);
    let assert =
        assert_cmd::Command::from_std(at_url_retrying("import", &url, Duration::from_millis(1)))
            .arg(&input)
            .args(["--request-timeout-ms", "1500", "--progress-interval", "1"])
            .assert()
            .code(1);
    let (stdout, stderr) = output(&assert);
    assert_eq!(
        summary(&stdout),
        "accepted=0 rejected=0 undelivered=10 invalid=0"
    );
    // Three attempts of 1.5 s each: progress lines came while no answer did.
    let waiting = stderr
        .lines()
        .filter(|line| line.starts_with("progress: ") && line.contains(" 0 rows this run"))
        .count();
    assert!(waiting >= 1, "{stderr}");
    assert!(
        stderr.contains("the server was never reached (Timeout"),
        "{stderr}"
    );
}
