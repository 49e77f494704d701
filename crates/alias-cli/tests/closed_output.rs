//! A closed or full standard output or error never ends a command early, never changes its
//! exit code, and never panics: the rows are still all sent.
#![cfg(target_os = "linux")]

mod support;

use std::fs::File;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use alias_server::Server;
use support::{aliases_csv, server, spawnable};

/// Enough rows for many progress lines, and several requests.
const ROWS: usize = 10_000;

/// Where a stream of the command goes.
#[derive(Debug, Clone, Copy)]
enum Sink {
    /// A pipe whose reading end is closed before the command writes: every write fails
    /// with a broken pipe.
    Closed,
    /// `/dev/full`: every write fails with "no space left on device".
    Full,
}

impl Sink {
    fn stdio(self) -> Stdio {
        match self {
            Self::Closed => Stdio::piped(),
            Self::Full => File::options()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full opens")
                .into(),
        }
    }
}

/// `mixpanel-alias SUBCOMMAND ARGS` against `server`, with debug logs, and stdout and stderr
/// sent to `sinks`, to its end.
fn run(
    server: &Server,
    subcommand: &str,
    args: &[&str],
    (stdout, stderr): (Sink, Sink),
) -> ExitStatus {
    let mut child = spawnable(subcommand, server)
        .args(args)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(stdout.stdio())
        .stderr(stderr.stdio())
        .spawn()
        .expect("the binary starts");
    // Dropping the reading ends closes the pipes.
    drop(child.stdout.take());
    drop(child.stderr.take());
    child.wait().expect("the command ends")
}

fn write_input(path: &Path) {
    std::fs::write(path, aliases_csv(0..ROWS)).unwrap();
}

const EVERY_SINK: [(Sink, Sink); 4] = [
    (Sink::Closed, Sink::Closed),
    (Sink::Full, Sink::Full),
    (Sink::Closed, Sink::Full),
    (Sink::Full, Sink::Closed),
];

#[test]
fn an_import_whose_output_is_gone_still_sends_every_row_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    write_input(&input);
    for sinks in EVERY_SINK {
        let server = server();
        // A progress line after every row: thousands of failed writes to stderr.
        let status = run(
            &server,
            "import",
            &[
                input.to_str().unwrap(),
                "--progress-interval",
                "0",
                "--batch-size",
                "500",
            ],
            sinks,
        );
        assert_eq!(status.code(), Some(0), "{sinks:?}");
        assert_eq!(server.stats().events_stored, ROWS as u64, "{sinks:?}");
    }
}

#[test]
fn an_import_with_failures_and_a_checkpoint_keeps_its_exit_code_and_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    std::fs::write(&input, "distinct_id,alias\nanon-1,user-1\nnull,user-2\n").unwrap();
    for (i, sinks) in EVERY_SINK.into_iter().enumerate() {
        let server = server();
        let failures = dir.path().join(format!("failures-{i}.csv"));
        let checkpoint = dir.path().join(format!("checkpoint-{i}"));
        let status = run(
            &server,
            "import",
            &[
                input.to_str().unwrap(),
                "--failures",
                failures.to_str().unwrap(),
                "--checkpoint",
                checkpoint.to_str().unwrap(),
            ],
            sinks,
        );
        assert_eq!(status.code(), Some(1), "{sinks:?}: one row is invalid");
        assert_eq!(server.stats().events_stored, 1, "{sinks:?}");
        let listed = std::fs::read_to_string(&failures).unwrap();
        assert!(listed.contains("null,user-2,"), "{sinks:?}: {listed}");
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
        assert_eq!(state["complete"], true, "{sinks:?}: {state}");
    }
}

#[test]
fn create_with_its_output_gone_still_creates_the_alias_and_exits_0() {
    for sinks in EVERY_SINK {
        let server = server();
        let status = run(
            &server,
            "create",
            &["--distinct-id", "anon-1", "--alias", "user-1"],
            sinks,
        );
        assert_eq!(status.code(), Some(0), "{sinks:?}");
        assert_eq!(server.identity("user-1").unwrap().canonical, "anon-1");
    }
}

#[test]
fn a_lost_result_line_is_repeated_on_stderr() {
    let server = server();
    let output = spawnable("create", &server)
        .args(["--distinct-id", "anon-1", "--alias", "user-1"])
        .stdout(Sink::Full.stdio())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("cannot write the result to standard output (")
            && stderr.contains(
                "it was: accepted for ingestion: alias \"user-1\" -> distinct_id \"anon-1\""
            ),
        "{stderr}"
    );
}

#[test]
fn a_usage_error_with_stderr_gone_still_exits_2() {
    let server = server();
    for sinks in EVERY_SINK {
        let status = run(
            &server,
            "create",
            &["--distinct-id", "null", "--alias", "user-1"],
            sinks,
        );
        assert_eq!(status.code(), Some(2), "{sinks:?}");
    }
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_dry_run_whose_output_is_gone_stops_and_says_so() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    write_input(&input);
    for stdout in [Sink::Closed, Sink::Full] {
        let mut import = spawnable("import", &server);
        import
            .arg(&input)
            .args(["--dry-run", "--batch-size", "100"])
            .stdout(stdout.stdio())
            .stderr(Stdio::piped());
        let mut child = import.spawn().unwrap();
        drop(child.stdout.take());
        let done = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(1), "{stdout:?}: {stderr}");
        assert!(
            stderr.contains("error: cannot print the requests ("),
            "{stdout:?}: {stderr}"
        );
        // Quietly: the progress line and the error, no row listed, nothing undelivered.
        assert_eq!(stderr.lines().count(), 2, "{stdout:?}: {stderr}");
        assert!(!stderr.contains("undelivered: "), "{stdout:?}: {stderr}");
        assert!(stderr.contains("undelivered=0 "), "{stdout:?}: {stderr}");
    }

    let output = spawnable("create", &server)
        .args(["--distinct-id", "anon-1", "--alias", "user-1", "--dry-run"])
        .stdout(Sink::Full.stdio())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: dry run: cannot print the request of alias \"user-1\""),
        "{stderr}"
    );
    assert_eq!(server.stats().requests, 0);
}
