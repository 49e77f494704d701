//! `mixpanel-alias import` against the reference server: CSV and NDJSON with bad rows, the
//! failures file and its re-import, resuming after a kill, the exit codes, the dry run.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alias_server::{DEFAULT_PROJECT_SECRET, DEFAULT_TOKEN, FaultSpec, Server};
use serde_json::Value;
use support::{
    Running, TRANSPORTS, aliases_csv, mixpanel_alias, output, resume_args, server, spawnable,
    summary as last_line, wait_until,
};

/// A CSV with valid rows (lines 2, 4, 8) among invalid ones of every kind.
const MIXED_CSV: &str = "\
distinct_id,alias,plan
anon-1,user-1,pro
anon-2,,free
anon-3,user-3,free
null,user-4,free
anon-5,user-5
anon-6,anon-6,free
anon-7,user-7,team
";

#[test]
fn csv_with_bad_rows_sends_the_good_ones_and_lists_the_bad_ones() {
    for &transport in TRANSPORTS {
        let server = server();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("aliases.csv");
        let failures = dir.path().join("failures.csv");
        std::fs::write(&input, MIXED_CSV).unwrap();
        let assert = mixpanel_alias("import", &server)
            .arg(&input)
            .arg("--failures")
            .arg(&failures)
            .args(["--transport", transport])
            .assert()
            .code(1);
        let (stdout, stderr) = output(&assert);
        assert_eq!(
            last_line(&stdout),
            "accepted=3 rejected=0 undelivered=0 invalid=4",
            "{transport}"
        );
        assert!(stderr.contains("4 rows were not accepted"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&failures).unwrap(),
            "\
distinct_id,alias,plan,time,$insert_id,line,reason
anon-2,,free,,,3,invalid: properties.alias must not be empty
null,user-4,free,,,5,\"invalid: properties.distinct_id \"\"null\"\" is a placeholder Mixpanel refuses as an id (compared case-insensitively, ignoring surrounding white space)\"
anon-5,user-5,,,,6,invalid: has 2 fields; the header has 3
anon-6,anon-6,free,,,7,\"invalid: properties.alias equals properties.distinct_id \"\"anon-6\"\"; an alias must be a different id\"
",
            "{transport}"
        );
        assert_eq!(server.stats().events_stored, 3);
        for (distinct_id, alias) in [
            ("anon-1", "user-1"),
            ("anon-3", "user-3"),
            ("anon-7", "user-7"),
        ] {
            assert_eq!(server.identity(alias).unwrap().canonical, distinct_id);
        }
        // Without --extra-columns, `plan` is not sent.
        assert!(
            server
                .events()
                .iter()
                .all(|e| !e.properties.contains_key("plan"))
        );
    }
}

#[test]
fn ndjson_from_stdin_with_bad_lines_and_extra_fields() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let failures = dir.path().join("failures.ndjson");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let input = format!(
        r#"{{"distinct_id":"anon-1","alias":"user-1","plan":"pro"}}
not json

{{"distinct_id":"anon-2"}}
[1,2]
{{"distinct_id":"anon-3","alias":"user-3","time":1}}
{{"distinct_id":"anon-4","alias":"user-4","$insert_id":"bad id!"}}
{{"distinct_id":"anon-5","alias":"user-5","time":{now},"$insert_id":"fixed-id-5"}}
"#
    );
    let assert = mixpanel_alias("import", &server)
        .args(["-", "--format", "ndjson", "--extra-columns", "--failures"])
        .arg(&failures)
        .write_stdin(input)
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    assert_eq!(
        last_line(&stdout),
        "accepted=2 rejected=0 undelivered=0 invalid=5"
    );

    let listed: Vec<Value> = std::fs::read_to_string(&failures)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let lines: Vec<u64> = listed.iter().map(|f| f["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4, 5, 6, 7]);
    assert_eq!(listed[0]["text"], "not json");
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid: is not JSON")
    );
    assert_eq!(listed[1]["reason"], "invalid: alias is missing");
    assert_eq!(listed[1]["distinct_id"], "anon-2");
    assert_eq!(listed[2]["reason"], "invalid: is not a JSON object");
    assert!(
        listed[3]["reason"]
            .as_str()
            .unwrap()
            .contains("properties.time")
    );
    assert!(
        listed[4]["reason"]
            .as_str()
            .unwrap()
            .contains("properties.$insert_id")
    );

    let events = server.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].properties["plan"], "pro");
    assert_eq!(events[1].properties["$insert_id"], "fixed-id-5");
    assert_eq!(events[1].properties["time"], now * 1000);
}

#[test]
fn rejected_rows_go_to_the_failures_file_and_importing_it_finishes_the_job() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let failures = dir.path().join("failures.csv");
    let retry = dir.path().join("retry-failures.csv");
    std::fs::write(&input, "distinct_id,alias\nanon-1,user-1\nanon-2,user-2\n").unwrap();
    let import = |file: &Path, failures: &Path, secret: &str| {
        mixpanel_alias("import", &server)
            .arg(file)
            .arg("--failures")
            .arg(failures)
            .args(["--endpoint", "import", "--project-secret", secret])
            .assert()
    };
    let assert = import(&input, &failures, "wrong-secret").code(1);
    assert_eq!(
        last_line(&output(&assert).0),
        "accepted=0 rejected=2 undelivered=0 invalid=0"
    );
    let listed = std::fs::read_to_string(&failures).unwrap();
    let mut rows = csv::Reader::from_reader(listed.as_bytes());
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{listed}");
    for row in &rows {
        // distinct_id, alias, time, $insert_id, line, reason
        assert!(
            row[2].parse::<u64>().unwrap() > 1_700_000_000_000,
            "{listed}"
        );
        assert_eq!(row[3].len(), 32, "{listed}");
        assert!(row[5].starts_with("rejected: HTTP 401"), "{listed}");
    }

    let assert = import(&failures, &retry, DEFAULT_PROJECT_SECRET).code(0);
    assert_eq!(
        last_line(&output(&assert).0),
        "accepted=2 rejected=0 undelivered=0 invalid=0"
    );
    // Sent with the time and $insert_id of the first attempt, so a copy would be dropped.
    let events = server.events();
    for (event, row) in events.iter().zip(&rows) {
        assert_eq!(event.properties["time"].to_string(), row[2]);
        assert_eq!(event.properties["$insert_id"], row[3]);
    }
    assert_eq!(
        std::fs::read_to_string(&retry).unwrap(),
        "distinct_id,alias,time,$insert_id,line,reason\n"
    );
}

#[test]
fn rows_still_failing_after_retries_are_undelivered() {
    let server = Server::builder()
        .faults("503=1".parse::<FaultSpec>().unwrap())
        .start()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.ndjson");
    let failures = dir.path().join("failures.ndjson");
    std::fs::write(
        &input,
        "{\"distinct_id\":\"anon-1\",\"alias\":\"user-1\"}\n",
    )
    .unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .arg("--failures")
        .arg(&failures)
        .args(["--max-attempts", "2"])
        .assert()
        .code(1);
    assert_eq!(
        last_line(&output(&assert).0),
        "accepted=0 rejected=0 undelivered=1 invalid=0"
    );
    let listed: Value = serde_json::from_str(&std::fs::read_to_string(&failures).unwrap()).unwrap();
    assert!(
        listed["reason"]
            .as_str()
            .unwrap()
            .starts_with("undelivered: HTTP 503"),
        "{listed}"
    );
    assert!(
        listed["$insert_id"].is_string() && listed["time"].is_u64(),
        "{listed}"
    );
    assert_eq!(server.stats().requests, 2);
}

#[test]
fn a_complete_import_exits_0_and_its_checkpoint_stops_a_second_run() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(
        &input,
        "alias,distinct_id,source\nuser-1,anon-1,crm\nuser-2,anon-2,crm\n",
    )
    .unwrap();
    for _ in 0..2 {
        let assert = mixpanel_alias("import", &server)
            .arg(&input)
            .arg("--checkpoint")
            .arg(&checkpoint)
            .assert()
            .code(0);
        assert_eq!(
            last_line(&output(&assert).0),
            "accepted=2 rejected=0 undelivered=0 invalid=0"
        );
    }
    assert_eq!(server.stats().requests, 1, "the second run sends nothing");
    assert_eq!(server.stats().events_stored, 2);
}

/// The last progress line on stderr.
fn last_progress(stderr: &str) -> &str {
    stderr
        .lines()
        .rfind(|line| line.starts_with("progress: "))
        .unwrap_or_default()
}

#[test]
fn the_last_progress_line_of_a_finished_import_says_100_percent() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    // The blank lines after the last row are part of no row: the rows end at 91%.
    std::fs::write(&input, aliases_csv(0..20) + &"\n".repeat(30)).unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .assert()
        .code(0);
    let (_, stderr) = output(&assert);
    assert!(
        last_progress(&stderr).ends_with(
            ", 20 rows this run; totals accepted=20 rejected=0 undelivered=0 invalid=0, 100% done"
        ),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2_and_name_what_to_fix() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    let headless = dir.path().join("headless.csv");
    let reserved = dir.path().join("reserved.csv");
    std::fs::write(&good, "distinct_id,alias\nanon-1,user-1\n").unwrap();
    std::fs::write(&headless, "anon-1,user-1\n").unwrap();
    std::fs::write(&reserved, "distinct_id,alias,token\nanon-1,user-1,t\n").unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let cases: [(Vec<String>, &str); 6] = [
        (vec![path(&dir.path().join("missing.csv"))], "FILE "),
        (
            vec![path(&headless)],
            "the CSV header has no \"distinct_id\" column",
        ),
        (
            vec![path(&reserved), "--extra-columns".into()],
            "--extra-columns: column \"token\"",
        ),
        (
            vec![
                path(&good),
                "--dry-run".into(),
                "--checkpoint".into(),
                path(&dir.path().join("c")),
            ],
            "--checkpoint cannot be used with --dry-run",
        ),
        (
            vec![path(&good), "--batch-size".into(), "2001".into()],
            "invalid value '2001' for '--batch-size",
        ),
        (
            vec![path(&good), "--failures".into(), path(&good)],
            "is the input FILE",
        ),
    ];
    for (args, expected) in cases {
        let assert = mixpanel_alias("import", &server)
            .args(&args)
            .assert()
            .code(2);
        let (stdout, stderr) = output(&assert);
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_dry_run_prints_each_request_and_sends_nothing() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    std::fs::write(&input, MIXED_CSV).unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .args(["--dry-run", "--batch-size", "2", "--endpoint", "import"])
        .env("MIXPANEL_PROJECT_SECRET", DEFAULT_PROJECT_SECRET)
        .assert()
        .code(1);
    let (stdout, stderr) = output(&assert);
    assert_eq!(
        stdout.matches("POST ").count(),
        2,
        "3 valid rows in batches of 2: {stdout}"
    );
    assert_eq!(
        stdout.matches("authorization: Basic <redacted>\n").count(),
        2
    );
    assert_eq!(stdout.matches(r#""token":"<redacted>""#).count(), 3);
    assert_eq!(
        last_line(&stdout),
        "accepted=0 rejected=0 undelivered=0 invalid=4"
    );
    assert!(
        stderr.contains("dry run: 3 aliases in 2 requests would be sent"),
        "{stderr}"
    );
    for secret in [DEFAULT_TOKEN, DEFAULT_PROJECT_SECRET] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} printed"
        );
    }
    assert_eq!(server.stats().requests, 0);
}

/// Rows for the resume tests, and enough of them that the import is still running when it
/// is stopped.
const RESUME_ROWS: usize = 3000;

/// A server that holds every answer back for 50 ms: with batches of 50, two in flight, the
/// import takes about 1.5 s.
fn slow_server() -> Server {
    support::slow_server(Duration::from_millis(50))
}

fn write_resume_input(path: &Path) {
    std::fs::write(path, aliases_csv(0..RESUME_ROWS)).unwrap();
}

/// Starts the import with a checkpoint, and returns once the checkpoint shows progress.
fn start_import(server: &Server, input: &Path, checkpoint: &Path) -> Running {
    let running = Running::spawn(
        spawnable("import", server)
            .args(resume_args(input, checkpoint))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    wait_until("progress checkpointed past line 100", || {
        std::fs::read(checkpoint)
            .ok()
            .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
            .and_then(|state| state["resume"]["line"].as_u64())
            .is_some_and(|line| line > 100)
    });
    running
}

/// Runs the import to its end and checks that every row is mapped once on the server.
fn resume_to_the_end(server: &Server, input: &Path, checkpoint: &Path) {
    let assert = mixpanel_alias("import", server)
        .args(resume_args(input, checkpoint))
        .assert()
        .code(0);
    let (stdout, stderr) = output(&assert);
    assert!(stderr.contains("resuming from line "), "{stderr}");
    assert_eq!(
        last_line(&stdout),
        format!("accepted={RESUME_ROWS} rejected=0 undelivered=0 invalid=0")
    );
    assert_eq!(server.stats().events_stored, RESUME_ROWS as u64);
    for i in 0..RESUME_ROWS {
        let identity = server.identity(&format!("user-{i}")).unwrap();
        assert_eq!(identity.canonical, format!("anon-{i}"));
    }
}

#[test]
fn sigterm_finishes_the_batches_in_flight_and_the_resume_sends_nothing_twice() {
    let server = slow_server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    write_resume_input(&input);
    let running = start_import(&server, &input, &checkpoint);
    let killed = running.terminate();
    assert!(killed.success());
    let stopped = running.take().wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(1));
    let stdout = String::from_utf8(stopped.stdout).unwrap();
    let stderr = String::from_utf8(stopped.stderr).unwrap();
    let interrupted = stderr
        .lines()
        .find(|line| line.starts_with("interrupted: "))
        .unwrap_or_default();
    assert!(
        interrupted.contains(" not sent, and the input from line ")
            && interrupted.ends_with(&format!(
                "; run the same command again to resume from the checkpoint {}",
                checkpoint.display()
            )),
        "{stderr}"
    );
    let percent = last_progress(&stderr)
        .rsplit_once(", interrupted at ")
        .and_then(|(_, percent)| percent.strip_suffix('%')?.parse::<u8>().ok());
    assert!(percent.is_some_and(|percent| percent < 100), "{stderr}");
    assert!(last_line(&stdout).starts_with("accepted="), "{stdout}");
    let state: Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert_eq!(state["complete"], false);
    // Every row pulled before the signal got its outcome, and the checkpoint says so.
    assert_eq!(
        state["accepted"].as_u64().unwrap(),
        server.stats().events_stored,
        "{state}"
    );

    resume_to_the_end(&server, &input, &checkpoint);
    assert_eq!(
        server.stats().duplicates_dropped,
        0,
        "nothing acknowledged was sent again"
    );
}

#[test]
fn a_killed_import_resumes_and_maps_every_alias_exactly_once() {
    let server = slow_server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    write_resume_input(&input);
    let mut child = start_import(&server, &input, &checkpoint).take();
    child.kill().unwrap();
    child.wait().unwrap();
    let stored_before = server.stats().events_stored;
    assert!(stored_before < RESUME_ROWS as u64, "killed before the end");

    resume_to_the_end(&server, &input, &checkpoint);
    // What was sent again after the kill carried the same time and $insert_id, so the
    // server dropped it: stored exactly once per row (checked above), copies dropped.
    let stats = server.stats();
    assert_eq!(
        stats.events_received,
        stats.events_stored + stats.duplicates_dropped
    );
}
