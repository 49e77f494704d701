//! Rows longer than 1 MiB stop an import as they are read, with their line, and memory
//! stays bounded, also through gzip; a CSV quote left open at the end is an invalid row.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{mixpanel_alias, output, server, summary};

/// One more byte than a row may have.
const TOO_LONG: usize = 1024 * 1024 + 1;

/// `command` run by `sh` with at most 1 GiB of address space, so that a regression fails
/// at once rather than filling the machine's memory.
#[cfg(target_os = "linux")]
fn in_one_gibibyte(command: &std::process::Command) -> assert_cmd::Command {
    let mut limited = std::process::Command::new("sh");
    limited
        .args(["-c", "ulimit -v 1048576 && exec \"$0\" \"$@\""])
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => limited.env(name, value),
            None => limited.env_remove(name),
        };
    }
    assert_cmd::Command::from_std(limited)
}

#[cfg(target_os = "linux")]
#[test]
fn an_endless_input_without_line_ends_is_refused_after_a_mebibyte() {
    let server = server();
    for format in ["csv", "ndjson"] {
        let mut import = support::spawnable("import", &server);
        import.args(["/dev/zero", "--format", format]);
        let assert = in_one_gibibyte(&import).assert().code(2);
        let (stdout, stderr) = output(&assert);
        assert!(stdout.is_empty(), "{format}: {stdout}");
        let expected = match format {
            "csv" => "cannot read the CSV header: its first line is longer than 1048576 bytes",
            _ => "line 1 starts a row longer than 1048576 bytes",
        };
        assert!(stderr.contains(expected), "{format}: {stderr}");
    }
    assert_eq!(server.stats().requests, 0);
}

/// A gzip file whose third row is a gibibyte of `x` once decompressed, compressed a
/// thousandfold: it stops at the row limit like any long row, its rest never decompressed.
#[cfg(target_os = "linux")]
#[test]
fn a_gzip_bomb_row_is_refused_after_a_mebibyte() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bomb.csv.gz");
    let mut stored = support::gzip(b"distinct_id,alias\nanon-1,user-1\nanon-2,user-2\nanon-3,");
    let mebibyte_of_x = support::gzip(&[b'x'; 1024 * 1024]);
    for _ in 0..1024 {
        stored.extend_from_slice(&mebibyte_of_x);
    }
    std::fs::write(&input, stored).unwrap();
    let mut import = support::spawnable("import", &server);
    import.arg(&input);
    let assert = in_one_gibibyte(&import).assert().code(2);
    let (stdout, stderr) = output(&assert);
    assert!(
        stderr.contains("error: line 4 starts a row longer than 1048576 bytes"),
        "{stderr}"
    );
    assert_eq!(
        summary(&stdout),
        "accepted=2 rejected=0 undelivered=0 invalid=0"
    );
    assert_eq!(server.stats().events_stored, 2);
}

/// Rows 1 to 5 of an input, the third longer than the limit, and the same input once that
/// row is fixed.
fn inputs(format: &str) -> (String, String) {
    let row = |i: usize, padding: &str| match format {
        "csv" => format!("anon-{i},user-{i},{padding}\n"),
        _ => {
            format!(r#"{{"distinct_id":"anon-{i}","alias":"user-{i}","note":"{padding}"}}"#) + "\n"
        }
    };
    let header = match format {
        "csv" => "distinct_id,alias,note\n",
        _ => "",
    };
    let with_third = |padding: &str| {
        let rows: String = (1..=5)
            .map(|i| row(i, if i == 3 { padding } else { "" }))
            .collect();
        format!("{header}{rows}")
    };
    (with_third(&"x".repeat(TOO_LONG)), with_third("fixed"))
}

#[test]
fn a_row_over_the_limit_stops_the_import_there_and_a_fixed_input_resumes_at_it() {
    for format in ["csv", "ndjson"] {
        let server = server();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join(format!("aliases.{format}"));
        let checkpoint = dir.path().join("import.checkpoint");
        let failures = dir.path().join(format!("failures.{format}"));
        let (long, fixed) = inputs(format);
        std::fs::write(&input, long).unwrap();
        let line = if format == "csv" { 4 } else { 3 };
        let run = |input: &Path| {
            mixpanel_alias("import", &server)
                .arg(input)
                .arg("--checkpoint")
                .arg(&checkpoint)
                .arg("--failures")
                .arg(&failures)
                .assert()
        };
        let assert = run(&input).code(2);
        let (stdout, stderr) = output(&assert);
        assert!(
            stderr.contains(&format!(
                "error: line {line} starts a row longer than 1048576 bytes"
            )),
            "{format}: {stderr}"
        );
        assert!(stderr.contains("run the same command again"), "{stderr}");
        assert_eq!(
            summary(&stdout),
            "accepted=2 rejected=0 undelivered=0 invalid=0",
            "{format}"
        );
        let stored: Vec<Value> = server
            .events()
            .iter()
            .map(|event| event.properties["alias"].clone())
            .collect();
        assert_eq!(stored, ["user-1", "user-2"], "{format}: nothing after it");

        std::fs::write(&input, fixed).unwrap();
        let assert = run(&input).code(0);
        let (stdout, stderr) = output(&assert);
        assert!(
            stderr.contains(&format!("resuming from line {line}")),
            "{format}: {stderr}"
        );
        assert_eq!(
            summary(&stdout),
            "accepted=5 rejected=0 undelivered=0 invalid=0"
        );
        let stats = server.stats();
        assert_eq!((stats.events_received, stats.events_stored), (5, 5));
    }
}

#[test]
fn a_quote_left_open_at_the_end_of_a_csv_is_an_invalid_row() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let failures = dir.path().join("failures.csv");
    std::fs::write(
        &input,
        "distinct_id,alias\nanon-1,user-1\nanon-2,\"user-2\nanon-3,user-3\n",
    )
    .unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .arg("--failures")
        .arg(&failures)
        .assert()
        .code(1);
    assert_eq!(
        summary(&output(&assert).0),
        "accepted=1 rejected=0 undelivered=0 invalid=1"
    );
    let mut listed = csv::Reader::from_path(&failures).unwrap();
    let rows: Vec<csv::StringRecord> = listed.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], "user-2\nanon-3,user-3\n", "kept whole");
    assert_eq!(&rows[0][4], "3");
    assert!(rows[0][5].contains("never closed"), "{:?}", &rows[0]);
    assert_eq!(server.stats().events_stored, 1);
    assert!(server.identity("user-3").is_none());
}

#[test]
fn a_line_that_is_not_json_is_kept_whole_in_the_failures_file() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.ndjson");
    let failures = dir.path().join("failures.ndjson");
    let garbage = "not json ".repeat(10_000);
    std::fs::write(&input, format!("{garbage}\n")).unwrap();
    mixpanel_alias("import", &server)
        .arg(&input)
        .arg("--failures")
        .arg(&failures)
        .assert()
        .code(1);
    let listed: Value = serde_json::from_slice(&std::fs::read(&failures).unwrap()).unwrap();
    assert_eq!(listed["text"], garbage.trim_end());
}
