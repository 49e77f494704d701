//! `mixpanel-alias import` of gzip-compressed input: CSV and NDJSON, from a file or from
//! standard input, of one member or several, damaged or cut short, and resumed after an
//! interrupt.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{
    Running, aliases_csv as csv, mixpanel_alias, output, resume_args, resume_offset, server,
    slow_server, spawnable, summary, wait_until,
};

fn gzip(text: &str) -> Vec<u8> {
    support::gzip(text.as_bytes())
}

fn ndjson(rows: std::ops::Range<usize>) -> String {
    rows.map(|i| format!("{{\"distinct_id\":\"anon-{i}\",\"alias\":\"user-{i}\"}}\n"))
        .collect()
}

fn all_accepted(rows: usize) -> String {
    format!("accepted={rows} rejected=0 undelivered=0 invalid=0")
}

/// Whether the server mapped `user-i` to `anon-i` for every `i` of `rows`, and stored
/// nothing else.
fn mapped(server: &alias_server::Server, rows: std::ops::Range<usize>) -> bool {
    server.stats().events_stored == rows.len() as u64
        && rows.into_iter().all(|i| {
            server
                .identity(&format!("user-{i}"))
                .is_some_and(|identity| identity.canonical == format!("anon-{i}"))
        })
}

#[test]
fn gzip_csv_and_ndjson_files_are_imported_by_their_bytes_whatever_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("aliases.csv.gz", gzip(&csv(0..50))),
        ("events.ndjson.gz", gzip(&ndjson(0..50))),
        // The bytes say gzip, the name does not.
        ("aliases.csv", gzip(&csv(0..50))),
        // The name says gzip, the bytes do not: read as they are.
        ("plain.csv.gz", csv(0..50).into_bytes()),
    ];
    for (name, stored) in cases {
        let server = server();
        let input = dir.path().join(name);
        std::fs::write(&input, stored).unwrap();
        let assert = mixpanel_alias("import", &server)
            .arg(&input)
            .assert()
            .code(0);
        assert_eq!(summary(&output(&assert).0), all_accepted(50), "{name}");
        assert!(mapped(&server, 0..50), "{name}");
    }
}

#[test]
fn gzip_from_standard_input_is_recognised_by_its_bytes() {
    for (format, text) in [("csv", csv(0..50)), ("ndjson", ndjson(0..50))] {
        let server = server();
        let assert = mixpanel_alias("import", &server)
            .args(["-", "--format", format])
            .write_stdin(gzip(&text))
            .assert()
            .code(0);
        assert_eq!(summary(&output(&assert).0), all_accepted(50), "{format}");
        assert!(mapped(&server, 0..50), "{format}");
    }
}

#[test]
fn every_member_of_a_multi_member_gzip_is_imported() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv.gz");
    // What `cat head.gz rest.gz` makes: one gzip file of two members.
    let rows = csv(0..100);
    let (head, rest) = rows.split_at(rows.len() / 2);
    let mut stored = gzip(head);
    stored.extend(gzip(rest));
    std::fs::write(&input, stored).unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .assert()
        .code(0);
    assert_eq!(summary(&output(&assert).0), all_accepted(100));
    assert!(mapped(&server, 0..100));
}

#[test]
fn a_damaged_or_cut_gzip_stops_the_import_where_it_breaks_and_keeps_the_rows_before() {
    let stored = gzip(&csv(0..20_000));
    let mut cut = stored.clone();
    cut.truncate(stored.len() / 2);
    let mut damaged = stored;
    let middle = damaged.len() / 2;
    damaged[middle..middle + 16].fill(0xff);
    for (name, broken) in [("cut", cut), ("damaged", damaged)] {
        let server = server();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("aliases.csv.gz");
        let failures = dir.path().join("failures.csv");
        std::fs::write(&input, broken).unwrap();
        let assert = mixpanel_alias("import", &server)
            .arg(&input)
            .arg("--failures")
            .arg(&failures)
            .args(["--progress-interval", "0"])
            .assert()
            .code(1);
        let (stdout, stderr) = output(&assert);
        assert!(
            stderr.contains("error: cannot read the input: line ")
                && stderr.contains(": cannot decompress the gzip input ("),
            "{name}: {stderr}"
        );
        assert!(stderr.contains("% done, ETA"), "{name}: {stderr}");
        let last_progress = stderr.lines().rfind(|l| l.starts_with("progress: "));
        assert!(
            last_progress.is_some_and(
                |line| line.contains(" this run; totals ") && line.contains(", stopped at ")
            ),
            "{name}: {stderr}"
        );
        // The rows before the break were sent, each once, and said so.
        let stored = server.stats().events_stored as usize;
        assert!(stored > 1000 && stored < 20_000, "{name}: {stored}");
        assert!(mapped(&server, 0..stored), "{name}");
        assert_eq!(summary(&stdout), all_accepted(stored), "{name}");
        assert_eq!(
            std::fs::read_to_string(&failures).unwrap(),
            "distinct_id,alias,time,$insert_id,line,reason\n",
            "{name}: no row listed"
        );
    }
}

/// A gzip import stopped midway resumes from its checkpoint, whose offset and digest are
/// the decompressed text's: past the end of the compressed file, which must not be taken
/// for a shorter input. Its decompressed text is then the same input to the checkpoint.
#[test]
fn an_interrupted_gzip_import_resumes_where_it_stopped() {
    const ROWS: usize = 3000;
    let server = slow_server(Duration::from_millis(50));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv.gz");
    let checkpoint = dir.path().join("import.checkpoint");
    let stored = gzip(&csv(0..ROWS));
    let stored_len = stored.len() as u64;
    std::fs::write(&input, stored).unwrap();
    let running = Running::spawn(
        spawnable("import", &server)
            .args(resume_args(&input, &checkpoint))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    // Stopped once the offset, in the decompressed text, is past the compressed file's end.
    wait_until("progress checkpointed past the compressed size", || {
        resume_offset(&checkpoint) > stored_len
    });
    let killed = running.terminate();
    assert!(killed.success());
    assert_eq!(running.take().wait().unwrap().code(), Some(1));
    let stored_before = server.stats().events_stored;
    assert!(stored_before < ROWS as u64, "stopped before the end");

    let assert = mixpanel_alias("import", &server)
        .args(resume_args(&input, &checkpoint))
        .assert()
        .code(0);
    let (stdout, stderr) = output(&assert);
    assert!(stderr.contains("resuming from line "), "{stderr}");
    assert_eq!(summary(&stdout), all_accepted(ROWS));
    assert!(mapped(&server, 0..ROWS));
    assert_eq!(server.stats().duplicates_dropped, 0, "nothing sent twice");

    let plain = dir.path().join("aliases.csv");
    std::fs::write(&plain, csv(0..ROWS)).unwrap();
    let assert = mixpanel_alias("import", &server)
        .args(resume_args(&plain, &checkpoint))
        .assert()
        .code(0);
    let (_, stderr) = output(&assert);
    assert!(
        stderr.contains("was already imported to the end"),
        "{stderr}"
    );
}
