//! An import killed with SIGKILL at any moment, then run again with the same command until
//! it completes, stores every pair exactly once, lists every invalid row once and records
//! every row's outcome once: the
//! checkpoint holding the run's stamps is on disk before the first request, and each later
//! state is synced before it replaces the last.
#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use alias_server::Server;
use support::{Running, mixpanel_alias, output, slow_server, spawnable};

/// Rows of the input; every 25th is invalid.
const ROWS: u64 = 2000;
const INVALID: u64 = ROWS / 25;
const VALID: u64 = ROWS - INVALID;
/// Rows per request.
const BATCH: u64 = 50;
/// The kill points drawn from this seed are the same on every run of the test.
const SEED: u64 = 0x5eed_c4a5;

fn is_invalid(i: u64) -> bool {
    i % 25 == 7
}

/// When to kill a run.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// As soon as it is started: before its first checkpoint, or while writing it.
    AtOnce,
    /// As soon as the server has a request of this run, before the answer (held back).
    FirstRequest,
    /// Once this many aliases are stored, and then a few milliseconds more.
    Stored(u64, Duration),
}

fn kill_points() -> Vec<KillPoint> {
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut stored: Vec<u64> = (0..8).map(|_| rng.u64(1..VALID - BATCH)).collect();
    stored.sort_unstable();
    let mut points = vec![KillPoint::AtOnce, KillPoint::FirstRequest];
    points.extend(
        stored
            .into_iter()
            .map(|n| KillPoint::Stored(n, Duration::from_millis(rng.u64(0..20)))),
    );
    // The last batch stored and its answer held back: the run never learns it landed.
    points.push(KillPoint::Stored(VALID, Duration::ZERO));
    points
}

fn write_input(path: &Path) {
    let mut csv = String::from("distinct_id,alias\n");
    for i in 0..ROWS {
        let distinct_id = if is_invalid(i) {
            "null".to_owned()
        } else {
            format!("anon-{i}")
        };
        csv.push_str(&format!("{distinct_id},user-{i}\n"));
    }
    std::fs::write(path, csv).unwrap();
}

/// The import's own arguments, the same in every run.
fn args(dir: &Path) -> Vec<String> {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    vec![
        path("aliases.csv"),
        "--checkpoint".into(),
        path("import.checkpoint"),
        "--failures".into(),
        path("failures.csv"),
        "--outcomes".into(),
        path("outcomes.ndjson"),
        "--batch-size".into(),
        BATCH.to_string(),
        "--concurrency".into(),
        "2".into(),
    ]
}

/// Runs the import until `point`, then kills it with SIGKILL (unless it ended first).
fn run_until(server: &Server, dir: &Path, point: KillPoint) {
    let requests_before = server.stats().requests;
    let mut running = Running::spawn(
        spawnable("import", server)
            .args(args(dir))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    loop {
        if running.try_wait().is_some() {
            return;
        }
        let due = match point {
            KillPoint::AtOnce => true,
            KillPoint::FirstRequest => server.stats().requests > requests_before,
            KillPoint::Stored(stored, _) => server.stats().events_stored >= stored,
        };
        if due {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if let KillPoint::Stored(_, after) = point {
        std::thread::sleep(after);
    }
    let mut child = running.take();
    // SIGKILL: no handler runs, nothing is flushed.
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_import_killed_at_any_moment_and_run_again_stores_every_pair_once() {
    let server = slow_server(Duration::from_millis(40));
    let dir = tempfile::tempdir().unwrap();
    write_input(&dir.path().join("aliases.csv"));
    for point in kill_points() {
        run_until(&server, dir.path(), point);
    }
    let assert = mixpanel_alias("import", &server)
        .args(args(dir.path()))
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    assert_eq!(
        stdout.lines().last().unwrap_or_default(),
        format!("accepted={VALID} rejected=0 undelivered=0 invalid={INVALID}")
    );

    let mut stored: BTreeMap<String, u64> = BTreeMap::new();
    for event in server.events() {
        let alias = event.properties["alias"].as_str().unwrap().to_owned();
        *stored.entry(alias).or_default() += 1;
    }
    let expected: BTreeMap<String, u64> = (0..ROWS)
        .filter(|&i| !is_invalid(i))
        .map(|i| (format!("user-{i}"), 1))
        .collect();
    assert_eq!(stored, expected, "every valid pair stored exactly once");
    let stats = server.stats();
    assert_eq!(stats.events_stored, VALID);
    assert_eq!(stats.events_rejected, 0);
    assert_eq!(
        stats.events_received,
        stats.events_stored + stats.duplicates_dropped,
        "every copy sent again was dropped as a duplicate"
    );

    // distinct_id, alias, time, $insert_id, line, reason
    let mut failures = csv::Reader::from_path(dir.path().join("failures.csv")).unwrap();
    let listed: Vec<u64> = failures
        .records()
        .map(|row| row.unwrap()[4].parse().unwrap())
        .collect();
    let invalid_lines: Vec<u64> = (0..ROWS)
        .filter(|&i| is_invalid(i))
        .map(|i| i + 2)
        .collect();
    assert_eq!(
        listed, invalid_lines,
        "every invalid row listed once, in order"
    );

    // Every row's outcome once, in order, with the stamps of the event stored.
    let stored_ids: BTreeMap<String, String> = server
        .events()
        .iter()
        .map(|event| {
            let alias = event.properties["alias"].as_str().unwrap().to_owned();
            (
                alias,
                event.properties["$insert_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let ledger = std::fs::read_to_string(dir.path().join("outcomes.ndjson")).unwrap();
    let entries: Vec<serde_json::Value> = ledger
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let lines: Vec<u64> = entries
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        lines,
        (2..ROWS + 2).collect::<Vec<u64>>(),
        "each row once, in order"
    );
    for (i, entry) in (0..ROWS).zip(&entries) {
        if is_invalid(i) {
            assert_eq!(entry["outcome"], "invalid", "{entry}");
        } else {
            assert_eq!(entry["outcome"], "accepted", "{entry}");
            assert_eq!(
                entry["$insert_id"].as_str(),
                stored_ids.get(&format!("user-{i}")).map(String::as_str),
                "{entry}"
            );
        }
    }
}
