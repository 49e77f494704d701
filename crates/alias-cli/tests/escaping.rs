//! Text from outside (a server's answer, CSV header names, file names) reaches stdout,
//! stderr and the failures file's `reason` with its control characters escaped, and the
//! input only as short excerpts.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use assert_cmd::Command;
use support::{mixpanel_alias, output, server};

/// What a hostile answer carries: OSC (set the window title, ended by BEL), CSI (clear the
/// screen), a carriage return, a newline and a forged summary line, a C1 CSI and a
/// right-to-left override.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2Jboom\r\naccepted=9 rejected=0 undelivered=0 invalid=0\u{9b}1m\u{202e}";

/// The same text as it must be shown.
const SHOWN: &str = r"\u{1b}]0;pwned\u{7}\u{1b}[2Jboom\r\naccepted=9 rejected=0 undelivered=0 invalid=0\u{9b}1m\u{202e}";

/// Whether `text` holds anything a terminal would act on.
fn has_controls(text: &str) -> bool {
    text.chars()
        .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}')
}

/// Serves every request with `/track`'s verbose refusal, its error message `HOSTILE`,
/// until the test ends; returns its URL.
fn hostile_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = serde_json::json!({ "status": 0, "error": HOSTILE }).to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // A client that went away only ends its own connection.
            let _ = answer(stream, &body);
        }
    });
    url
}

/// Reads one request (headers and a `Content-Length` body) and answers `body`.
fn answer(stream: TcpStream, body: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    reader.take(length).read_to_end(&mut Vec::new())?;
    write!(
        &stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// `mixpanel-alias SUBCOMMAND` sending to `url`, with millisecond retries.
fn mixpanel_alias_at(subcommand: &str, url: &str) -> Command {
    Command::from_std(support::at_url_retrying(
        subcommand,
        url,
        Duration::from_millis(1),
    ))
}

#[test]
fn a_servers_answer_is_escaped_on_stdout() {
    let url = hostile_server();
    let assert = mixpanel_alias_at("create", &url)
        .args(["--distinct-id", "anon-1", "--alias", "user-1"])
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    assert!(!has_controls(&stdout), "{stdout:?}");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(stdout.contains(SHOWN), "{stdout:?}");
}

#[test]
fn a_servers_answer_is_escaped_on_stderr_and_in_the_failures_file() {
    let url = hostile_server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    std::fs::write(&input, "distinct_id,alias\nanon-1,user-1\n").unwrap();
    let assert = mixpanel_alias_at("import", &url)
        .arg(&input)
        .assert()
        .code(1);
    let (stdout, stderr) = output(&assert);
    assert!(!has_controls(&stderr), "{stderr:?}");
    assert!(
        stderr.contains(&format!("line 2: rejected: HTTP 200 OK: {SHOWN}")),
        "{stderr:?}"
    );
    assert_eq!(
        stdout, "accepted=0 rejected=1 undelivered=0 invalid=0\n",
        "the forged summary stays on stderr"
    );

    for failures in ["failures.csv", "failures.ndjson"] {
        let failures = dir.path().join(failures);
        let format = if failures.extension().unwrap() == "csv" {
            "csv"
        } else {
            "ndjson"
        };
        let input = dir.path().join(format!("aliases.{format}"));
        if format == "ndjson" {
            std::fs::write(
                &input,
                "{\"distinct_id\":\"anon-1\",\"alias\":\"user-1\"}\n",
            )
            .unwrap();
        }
        mixpanel_alias_at("import", &url)
            .arg(&input)
            .arg("--failures")
            .arg(&failures)
            .assert()
            .code(1);
        let reason = if format == "csv" {
            let mut rows = csv::Reader::from_path(&failures).unwrap();
            rows.records().next().unwrap().unwrap()[5].to_owned()
        } else {
            let row: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&failures).unwrap()).unwrap();
            row["reason"].as_str().unwrap().to_owned()
        };
        assert_eq!(
            reason,
            format!("rejected: HTTP 200 OK: {SHOWN}"),
            "{format}"
        );
    }
}

#[test]
fn header_names_and_file_names_are_escaped_in_usage_errors() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let headless = dir.path().join("headless.csv");
    std::fs::write(&headless, "id\u{1b}[2J,alias\u{7}\nanon-1,user-1\n").unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&headless)
        .assert()
        .code(2);
    let (_, stderr) = output(&assert);
    assert!(!has_controls(&stderr), "{stderr:?}");
    assert!(
        stderr.contains(r"(it has id\u{1b}[2J, alias\u{7})"),
        "{stderr:?}"
    );

    let missing = dir.path().join("gone\u{1b}]0;pwned\u{7}.csv");
    let assert = mixpanel_alias("import", &server)
        .arg(&missing)
        .assert()
        .code(2);
    let (_, stderr) = output(&assert);
    assert!(!has_controls(&stderr), "{stderr:?}");
    assert!(
        stderr.contains(r"gone\u{1b}]0;pwned\u{7}.csv"),
        "{stderr:?}"
    );
    assert_eq!(server.stats().requests, 0);
}

/// Each line of `stderr`, checked to be short and to hold nothing a terminal acts on.
fn assert_short_escaped_lines(stderr: &str, what: &str) {
    assert!(!has_controls(stderr), "{what}: {stderr:?}");
    for line in stderr.lines() {
        assert!(line.chars().count() < 400, "{what}: {line}");
    }
}

/// A binary file read as text (a file compressed twice, an archive), or rows holding
/// mebibytes where an id or a time should be, are quoted in messages as short escaped
/// excerpts, never echoed.
#[test]
fn an_input_misread_as_text_is_quoted_only_as_a_short_escaped_excerpt() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();

    let twice = dir.path().join("aliases.csv.gz");
    let once = support::gzip(support::aliases_csv(0..1000).as_bytes());
    std::fs::write(&twice, support::gzip(&once)).unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&twice)
        .assert()
        .code(2);
    let (_, stderr) = output(&assert);
    assert_short_escaped_lines(&stderr, "gzip compressed twice");
    assert!(
        stderr.contains(r#"the CSV header has no "distinct_id" column (it has \u{1f}"#),
        "{stderr}"
    );

    let archive = dir.path().join("aliases.ndjson");
    let mut zip = b"PK\x03\x04\x14\x00\x08\x00".to_vec();
    zip.extend((0..=255_u8).cycle().take(100_000));
    std::fs::write(&archive, zip).unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&archive)
        .assert()
        .code(1);
    let (_, stderr) = output(&assert);
    assert_short_escaped_lines(&stderr, "binary NDJSON");
    assert!(
        stderr.contains("line 1: invalid: is not JSON: "),
        "{stderr}"
    );

    let huge = dir.path().join("huge.csv");
    let padded = format!("null{}", " ".repeat(500_000));
    let time = "9".repeat(500_000);
    std::fs::write(
        &huge,
        format!("distinct_id,alias,time\n{padded},user-1,\nanon-2,user-2,{time}\n"),
    )
    .unwrap();
    let assert = mixpanel_alias("import", &server)
        .arg(&huge)
        .assert()
        .code(1);
    let (_, stderr) = output(&assert);
    assert_short_escaped_lines(&stderr, "huge fields");
    assert!(
        stderr.contains(r#"line 2: invalid: properties.distinct_id "null   "#)
            && stderr.contains(r#"line 3: invalid: time "999"#),
        "{stderr:.2000}"
    );
    assert_eq!(server.stats().requests, 0);
}
