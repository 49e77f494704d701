//! A checkpoint cannot lie: it resumes, or reports an import done, only for the input whose
//! bytes it recorded; only a small regular file of its own format is read as one.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use alias_server::Server;
use support::{
    Running, aliases_csv as csv, mixpanel_alias, output, resume_offset, server, slow_server,
    spawnable, summary, wait_until,
};

/// `import INPUT --checkpoint CHECKPOINT` against `server`.
fn import(server: &Server, input: &Path, checkpoint: &Path) -> assert_cmd::Command {
    let mut command = mixpanel_alias("import", server);
    command.arg(input).arg("--checkpoint").arg(checkpoint);
    command
}

/// Starts `import INPUT --checkpoint CHECKPOINT` in batches of 50, one request at a time,
/// with its stdout and stderr sent to what `output` makes, and returns once its first
/// request has reached `server`: against a [`slow_server`], it is then running midway.
fn start_import(
    server: &Server,
    input: &Path,
    checkpoint: &Path,
    output: fn() -> Stdio,
) -> Running {
    let running = Running::spawn(
        spawnable("import", server)
            .arg(input)
            .arg("--checkpoint")
            .arg(checkpoint)
            .args(["--batch-size", "50", "--concurrency", "1"])
            .stdout(output())
            .stderr(output()),
    );
    wait_until("the import's first request", || server.stats().requests > 0);
    running
}

fn assert_refused_as_another_input(assert: &assert_cmd::assert::Assert, checkpoint: &Path) {
    let (stdout, stderr) = output(assert);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "error: the input is not the one --checkpoint {} was written for",
            checkpoint.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("pass another --checkpoint path or delete that one"),
        "{stderr}"
    );
}

#[test]
fn a_replaced_input_is_refused_after_a_complete_import() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("daily.csv");
    let checkpoint = dir.path().join("daily.checkpoint");
    std::fs::write(&input, csv(0..10)).unwrap();
    import(&server, &input, &checkpoint).assert().code(0);
    let recorded = std::fs::read(&checkpoint).unwrap();
    let requests = server.stats().requests;

    let replacements = [
        ("the next day's file, as long", csv(10..20)),
        ("a shorter file", csv(0..5)),
        (
            "one byte changed",
            csv(0..10).replace("user-3\n", "user-X\n"),
        ),
        ("the same rows, reordered", {
            let mut rows: Vec<String> = csv(0..10).lines().skip(1).map(str::to_owned).collect();
            rows.reverse();
            format!("distinct_id,alias\n{}\n", rows.join("\n"))
        }),
    ];
    for (what, replacement) in replacements {
        std::fs::write(&input, replacement).unwrap();
        let assert = import(&server, &input, &checkpoint).assert().code(2);
        assert_refused_as_another_input(&assert, &checkpoint);
        assert_eq!(server.stats().requests, requests, "{what}: nothing sent");
        assert_eq!(
            std::fs::read(&checkpoint).unwrap(),
            recorded,
            "{what}: the checkpoint is kept"
        );
    }
}

#[test]
fn an_unchanged_input_is_already_imported_and_appended_rows_are_imported() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(&input, csv(0..10)).unwrap();
    import(&server, &input, &checkpoint).assert().code(0);

    let assert = import(&server, &input, &checkpoint).assert().code(0);
    let (stdout, stderr) = output(&assert);
    assert!(
        stderr.contains("was already imported to the end (checkpoint"),
        "{stderr}"
    );
    assert_eq!(
        summary(&stdout),
        "accepted=10 rejected=0 undelivered=0 invalid=0"
    );
    assert_eq!(server.stats().requests, 1);

    // Rows added at the end leave the imported bytes as they were: only they are sent.
    std::fs::write(&input, csv(0..15)).unwrap();
    let assert = import(&server, &input, &checkpoint).assert().code(0);
    let (stdout, stderr) = output(&assert);
    assert!(!stderr.contains("already imported"), "{stderr}");
    assert_eq!(
        summary(&stdout),
        "accepted=15 rejected=0 undelivered=0 invalid=0"
    );
    let stats = server.stats();
    assert_eq!((stats.events_received, stats.events_stored), (15, 15));
}

#[test]
fn a_replaced_input_is_refused_after_an_interrupt() {
    let server = slow_server(Duration::from_millis(50));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(&input, csv(0..2000)).unwrap();
    let running = start_import(&server, &input, &checkpoint, Stdio::null);
    wait_until("a checkpoint to resume from", || {
        resume_offset(&checkpoint) > 0
    });
    let killed = running.terminate();
    assert!(killed.success());
    assert_eq!(running.take().wait().unwrap().code(), Some(1));
    let recorded = std::fs::read(&checkpoint).unwrap();
    let requests = server.stats().requests;

    // Another file whose first rows differ: skipping "the rows done" would skip these.
    std::fs::write(&input, csv(5000..7000)).unwrap();
    let assert = import(&server, &input, &checkpoint).assert().code(2);
    assert_refused_as_another_input(&assert, &checkpoint);
    assert_eq!(server.stats().requests, requests, "nothing sent");
    assert_eq!(std::fs::read(&checkpoint).unwrap(), recorded);
}

#[test]
fn standard_input_is_checked_against_the_bytes_it_gave_before() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("stdin.checkpoint");
    let from_stdin = |rows: String| {
        let mut command = mixpanel_alias("import", &server);
        command
            .arg("-")
            .arg("--checkpoint")
            .arg(&checkpoint)
            .write_stdin(rows);
        command
    };
    from_stdin(csv(0..10)).assert().code(0);
    let assert = from_stdin(csv(0..10)).assert().code(0);
    let (_, stderr) = output(&assert);
    assert!(
        stderr.contains("standard input was already imported to the end"),
        "{stderr}"
    );
    let assert = from_stdin(csv(100..110)).assert().code(2);
    assert_refused_as_another_input(&assert, &checkpoint);
    let assert = from_stdin(csv(0..12)).assert().code(0);
    assert_eq!(
        summary(&output(&assert).0),
        "accepted=12 rejected=0 undelivered=0 invalid=0"
    );
    assert_eq!(server.stats().events_received, 12);
}

#[test]
fn an_old_format_or_foreign_checkpoint_is_refused_with_what_to_do() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    std::fs::write(&input, csv(0..3)).unwrap();
    let old = dir.path().join("old.checkpoint");
    std::fs::write(
        &old,
        format!(
            r#"{{"version":1,"input":"{}","resume_line":3,"default_time_ms":1700000000000,"failures_len":null,"complete":false,"accepted":1,"rejected":0,"undelivered":0,"invalid":0}}"#,
            input.display()
        ),
    )
    .unwrap();
    let huge = dir.path().join("huge.checkpoint");
    std::fs::write(&huge, vec![b'{'; 1024 * 1024]).unwrap();
    let cases = [
        (
            old,
            "written in checkpoint format 1 but this version of mixpanel-alias reads format 2",
        ),
        (huge, "not a checkpoint of this program"),
    ];
    for (checkpoint, expected) in cases {
        let assert = import(&server, &input, &checkpoint).assert().code(2);
        let (stdout, stderr) = output(&assert);
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.starts_with(&format!("error: --checkpoint {}: ", checkpoint.display())),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{stderr}");
    }
    assert_eq!(server.stats().requests, 0);
}

#[cfg(unix)]
#[test]
fn a_checkpoint_that_is_not_a_regular_file_is_refused_without_reading_it() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    std::fs::write(&input, csv(0..3)).unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Opening a FIFO for reading waits for a writer: a regression hangs here, so the run
    // is waited for with a deadline (the process is killed when the test fails).
    for checkpoint in [fifo.as_path(), Path::new("/dev/zero"), dir.path()] {
        let mut running = Running::spawn(
            spawnable("import", &server)
                .arg(&input)
                .arg("--checkpoint")
                .arg(checkpoint)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let ended = running.wait_within(Duration::from_secs(30));
        assert!(ended.is_some(), "{}: still running", checkpoint.display());
        let status = ended.and_then(|ended| ended.code());
        let output = running.take().wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(status, Some(2), "{}: {stderr}", checkpoint.display());
        assert!(
            stderr.contains("not a regular file (a device, a pipe or a folder)"),
            "{}: {stderr}",
            checkpoint.display()
        );
    }
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_second_import_of_the_same_checkpoint_is_refused_at_once() {
    // 40 requests one after the other, each answered after 50 ms: the first import runs
    // for two seconds at least.
    let server = slow_server(Duration::from_millis(50));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(&input, csv(0..2000)).unwrap();
    let first = start_import(&server, &input, &checkpoint, Stdio::null);
    let assert = import(&server, &input, &checkpoint).assert().code(2);
    let (stdout, stderr) = output(&assert);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "--checkpoint {}: another import is using it",
            checkpoint.display()
        )),
        "{stderr}"
    );
    assert_eq!(first.take().wait().unwrap().code(), Some(0));
    let stats = server.stats();
    assert_eq!((stats.events_received, stats.events_stored), (2000, 2000));
}

#[test]
fn a_checkpoint_that_cannot_be_written_stops_the_import_before_it_sends() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(&input, csv(0..3)).unwrap();
    // Each state is written to PATH.tmp first: a folder there makes every write fail.
    std::fs::create_dir(dir.path().join("import.checkpoint.tmp")).unwrap();
    let assert = import(&server, &input, &checkpoint).assert().code(2);
    let (stdout, stderr) = output(&assert);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with(&format!(
            "error: --checkpoint {}: cannot write it: ",
            checkpoint.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("resume"), "{stderr}");
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_checkpoint_that_stops_being_writable_is_not_offered_for_a_resume() {
    let server = slow_server(Duration::from_millis(50));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(&input, csv(0..2000)).unwrap();
    let running = start_import(&server, &input, &checkpoint, Stdio::piped);
    // The temporary file exists for a moment during each write; the folder goes in between.
    wait_until("a moment between two checkpoint writes", || {
        std::fs::create_dir(dir.path().join("import.checkpoint.tmp")).is_ok()
    });
    let stopped = running.take().wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot write the checkpoint {}: ",
            checkpoint.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("It keeps the state it last held"),
        "{stderr}"
    );
    assert!(!stderr.contains("resume"), "{stderr}");
    let stored = server.stats().events_stored;
    assert!(stored < 2000, "the import stopped early");

    // Once the checkpoint can be written again, the same command finishes the job.
    std::fs::remove_dir(dir.path().join("import.checkpoint.tmp")).unwrap();
    import(&server, &input, &checkpoint).assert().code(0);
    assert_eq!(server.stats().events_stored, 2000);
}

/// A checkpoint of an import of `input` that started `days_ago` days ago and has not sent
/// a row yet, as this version writes them.
fn checkpoint_started(days_ago: u64, input: &Path) -> (String, u64) {
    let started = std::time::SystemTime::now() - Duration::from_secs(days_ago * 86_400);
    let started_ms = started
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let json = serde_json::json!({
        "version": 2,
        "input": input,
        "resume": {
            "offset": 0,
            "line": 1,
            // SHA-256 of no bytes at all.
            "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        },
        "default_time_ms": started_ms,
        "failures_len": null,
        "complete": false,
        "accepted": 0,
        "rejected": 0,
        "undelivered": 0,
        "invalid": 0,
    });
    (json.to_string(), started_ms)
}

#[test]
fn a_track_import_whose_stamps_are_too_old_for_track_resumes_only_with_import() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(&input, csv(0..3)).unwrap();
    let (six_days_old, started_ms) = checkpoint_started(6, &input);
    std::fs::write(&checkpoint, &six_days_old).unwrap();

    let assert = import(&server, &input, &checkpoint).assert().code(2);
    let (stdout, stderr) = output(&assert);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with(&format!(
            "error: --checkpoint {}: this import started 6 days ago",
            checkpoint.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("/track takes events of the last 5 days only"),
        "{stderr}"
    );
    assert!(stderr.contains("Resume with --endpoint import"), "{stderr}");
    assert_eq!(server.stats().requests, 0);
    assert_eq!(std::fs::read_to_string(&checkpoint).unwrap(), six_days_old);

    let assert = import(&server, &input, &checkpoint)
        .args(["--endpoint", "import"])
        .assert()
        .code(0);
    assert_eq!(
        summary(&output(&assert).0),
        "accepted=3 rejected=0 undelivered=0 invalid=0"
    );
    for event in server.events() {
        assert_eq!(event.properties["time"], started_ms, "the import's stamps");
    }
}

#[test]
fn a_track_import_within_the_window_resumes_on_track() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(&input, csv(0..3)).unwrap();
    std::fs::write(&checkpoint, checkpoint_started(4, &input).0).unwrap();
    import(&server, &input, &checkpoint).assert().code(0);
    assert_eq!(server.stats().events_stored, 3);
}

#[test]
fn undelivered_rows_without_a_failures_file_are_sent_again_on_resume() {
    let failing = Server::builder()
        .faults("503=1".parse::<alias_server::FaultSpec>().unwrap())
        .start()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let checkpoint = dir.path().join("import.checkpoint");
    std::fs::write(&input, csv(0..20)).unwrap();
    let assert = import(&failing, &input, &checkpoint)
        .args(["--max-attempts", "2", "--batch-size", "5"])
        .assert()
        .code(1);
    let (stdout, stderr) = output(&assert);
    assert_eq!(
        summary(&stdout),
        "accepted=0 rejected=0 undelivered=20 invalid=0"
    );
    assert!(
        stderr.contains("stays before line 2, the first row not delivered"),
        "{stderr}"
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert_eq!(saved["complete"], false, "{saved}");
    assert_eq!(saved["undelivered"], 0, "{saved}");
    assert_eq!(
        resume_offset(&checkpoint),
        0,
        "before the first row: {saved}"
    );

    let working = server();
    let assert = import(&working, &input, &checkpoint).assert().code(0);
    assert_eq!(
        summary(&output(&assert).0),
        "accepted=20 rejected=0 undelivered=0 invalid=0"
    );
    assert_eq!(working.events().len(), 20);
}
