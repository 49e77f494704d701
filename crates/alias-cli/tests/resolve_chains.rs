//! `import --resolve-chains`: under Simplified ID Merge every anonymous id of a chain is
//! linked to its cluster's one user, and clusters with more than one user are handled as
//! `--on-ambiguous` says.

mod support;

use std::path::{Path, PathBuf};

use alias_server::{IdentitySystem, Server};
use support::{mixpanel_alias, output};

fn simplified() -> Server {
    Server::builder()
        .identity(IdentitySystem::Simplified)
        .start()
        .expect("the reference server starts")
}

fn write(dir: &tempfile::TempDir, rows: &[(&str, &str)]) -> PathBuf {
    let path = dir.path().join("aliases.csv");
    let mut text = String::from("distinct_id,alias\n");
    for (distinct_id, alias) in rows {
        text.push_str(&format!("{distinct_id},{alias}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn import(server: &Server, input: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    mixpanel_alias("import", server)
        .arg(input)
        .args(["--link", "association", "--association-event", "Linked"])
        .args(extra)
        .assert()
}

/// The ($device_id, $user_id) pairs the server stored, in arrival order.
fn sent(server: &Server) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = server
        .events()
        .iter()
        .map(|event| {
            (
                event.str_property("$device_id").unwrap().to_owned(),
                event.str_property("$user_id").unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(d, u)| ((*d).to_owned(), (*u).to_owned()))
        .collect()
}

fn canonical(server: &Server, device: &str) -> String {
    server
        .identity(&format!("$device:{device}"))
        .unwrap_or_else(|| panic!("the server knows {device}"))
        .canonical
}

#[test]
fn a_chain_links_every_anonymous_id_to_its_user() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, &[("a", "b"), ("b", "u")]);
    let assert = import(&server, &input, &["--resolve-chains"]).success();
    let (stdout, stderr) = output(&assert);
    assert_eq!(
        stdout.lines().last(),
        Some("accepted=2 rejected=0 undelivered=0 invalid=0")
    );
    assert_eq!(sent(&server), pairs(&[("a", "u"), ("b", "u")]));
    assert_eq!(canonical(&server, "a"), "u");
    assert_eq!(canonical(&server, "b"), "u");
    assert!(
        stderr.contains("coverage: 2 of 2 anonymous ids"),
        "{stderr}"
    );
}

#[test]
fn without_the_option_the_same_chain_leaves_a_apart() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, &[("a", "b"), ("b", "u")]);
    import(&server, &input, &[]).success();
    assert_eq!(sent(&server), pairs(&[("a", "b"), ("b", "u")]));
    assert_eq!(canonical(&server, "a"), "b");
}

#[test]
fn a_file_without_chains_is_sent_as_it_is() {
    let rows = [("d1", "u1"), ("d2", "u1"), ("d3", "u2")];
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, &rows);
    let plain = simplified();
    import(&plain, &input, &[]).success();
    let resolved = simplified();
    let assert = import(&resolved, &input, &["--resolve-chains"]).success();
    assert_eq!(sent(&resolved), pairs(&rows));
    // The same events: same properties, $insert_id and time included.
    let props = |server: &Server| -> Vec<_> {
        let mut events: Vec<_> = server.events().into_iter().map(|e| e.properties).collect();
        events.sort_by_key(|p| p["$device_id"].as_str().map(str::to_owned));
        events
    };
    assert_eq!(props(&plain).len(), 3);
    let strip_time = |mut events: Vec<serde_json::Map<String, serde_json::Value>>| {
        for event in &mut events {
            event.remove("time");
            event.remove("$insert_id");
        }
        events
    };
    assert_eq!(strip_time(props(&plain)), strip_time(props(&resolved)));
    let (_, stderr) = output(&assert);
    assert!(
        stderr.contains("coverage: 3 of 3 anonymous ids"),
        "{stderr}"
    );
}

/// a is linked to u1 and u2 through b: one cluster, two users.
const AMBIGUOUS: [(&str, &str); 4] = [("a", "u1"), ("b", "u2"), ("a", "b"), ("c", "v")];

#[test]
fn an_ambiguous_cluster_takes_its_first_user_with_first() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, &AMBIGUOUS);
    let assert = import(
        &server,
        &input,
        &["--resolve-chains", "--on-ambiguous", "first"],
    )
    .success();
    // Both rows of a are sent as (a,u1): one event, which the server stores once.
    assert_eq!(
        sent(&server),
        pairs(&[("a", "u1"), ("b", "u1"), ("c", "v")])
    );
    assert_eq!(server.raw_events().len(), 4);
    assert_eq!(canonical(&server, "b"), "u1");
    let (_, stderr) = output(&assert);
    assert!(
        stderr.contains("coverage: 3 of 3 anonymous ids"),
        "{stderr}"
    );
}

#[test]
fn an_ambiguous_cluster_is_reported_invalid_with_skip() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, &AMBIGUOUS);
    let failures = dir.path().join("failures.csv");
    let outcomes = dir.path().join("outcomes.ndjson");
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .args(["--link", "association", "--association-event", "Linked"])
        .args(["--resolve-chains", "--on-ambiguous", "skip"])
        .arg("--failures")
        .arg(&failures)
        .arg("--outcomes")
        .arg(&outcomes)
        .assert()
        .code(1);
    let (stdout, stderr) = output(&assert);
    assert_eq!(
        stdout.lines().last(),
        Some("accepted=1 rejected=0 undelivered=0 invalid=3")
    );
    assert_eq!(sent(&server), pairs(&[("c", "v")]));
    assert!(
        stderr.contains("coverage: 1 of 3 anonymous ids"),
        "{stderr}"
    );
    let listed = std::fs::read_to_string(&failures).unwrap();
    assert_eq!(listed.lines().count(), 1 + 3, "{listed}");
    assert!(listed.contains("more than one user"), "{listed}");
    let ledger = std::fs::read_to_string(&outcomes).unwrap();
    let lines: Vec<u64> = ledger
        .lines()
        .map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).unwrap();
            entry["line"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(lines, [2, 3, 4, 5], "{ledger}");
}

#[test]
fn an_ambiguous_cluster_stops_everything_with_error() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, &AMBIGUOUS);
    let assert = import(&server, &input, &["--resolve-chains"]).code(2);
    let (stdout, stderr) = output(&assert);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("first lines 2 3 4"), "{stderr}");
    assert!(stderr.contains("--on-ambiguous"), "{stderr}");
    assert_eq!(server.stats().events_stored, 0);
}

#[test]
fn a_resolved_row_goes_to_the_failures_file_as_it_was_sent() {
    let server = Server::builder()
        .identity(IdentitySystem::Simplified)
        .faults("503=1".parse().unwrap())
        .start()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, &[("a", "b"), ("b", "u")]);
    let failures = dir.path().join("failures.csv");
    mixpanel_alias("import", &server)
        .arg(&input)
        .args(["--link", "association", "--association-event", "Linked"])
        .args(["--resolve-chains", "--max-attempts", "2", "--failures"])
        .arg(&failures)
        .assert()
        .code(1);
    let listed = std::fs::read_to_string(&failures).unwrap();
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{listed}");
    // The row as sent, on its own line number.
    assert!(rows[0].starts_with("a,u,"), "{listed}");
    assert!(rows[0].contains(",2,undelivered"), "{listed}");
    assert!(rows[1].starts_with("b,u,"), "{listed}");
    assert!(rows[1].contains(",3,undelivered"), "{listed}");
}

#[test]
fn resolving_refuses_standard_input_and_create_alias() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, &[("a", "b")]);
    let assert = mixpanel_alias("import", &server)
        .arg("-")
        .args(["--link", "association", "--association-event", "Linked"])
        .arg("--resolve-chains")
        .write_stdin("distinct_id,alias\na,b\n")
        .assert()
        .code(2);
    assert!(output(&assert).1.contains("standard input"));
    let assert = mixpanel_alias("import", &server)
        .arg(&input)
        .arg("--resolve-chains")
        .assert()
        .code(2);
    assert!(output(&assert).1.contains("--link association"));
    assert_eq!(server.stats().events_stored, 0);
}

#[test]
fn a_resolved_row_gets_the_insert_id_of_its_new_pair_in_the_ledger_too() {
    let server = simplified();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.ndjson");
    std::fs::write(
        &input,
        "{\"distinct_id\":\"a\",\"alias\":\"b\",\"$insert_id\":\"given-1\"}\n\
         {\"distinct_id\":\"b\",\"alias\":\"u\",\"$insert_id\":\"given-2\"}\n",
    )
    .unwrap();
    let outcomes = dir.path().join("outcomes.ndjson");
    mixpanel_alias("import", &server)
        .arg(&input)
        .args(["--link", "association", "--association-event", "Linked"])
        .arg("--resolve-chains")
        .arg("--outcomes")
        .arg(&outcomes)
        .assert()
        .success();
    let ledger: Vec<serde_json::Value> = std::fs::read_to_string(&outcomes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(ledger.len(), 2);
    assert_eq!(
        (ledger[0]["line"].as_u64(), ledger[0]["alias"].as_str()),
        (Some(1), Some("u"))
    );
    // The first row changed pairs, so not its $insert_id; the second kept both.
    let resolved_id = ledger[0]["$insert_id"].as_str().unwrap();
    assert_ne!(resolved_id, "given-1");
    assert_eq!(ledger[1]["$insert_id"].as_str(), Some("given-2"));
    let events = server.events();
    let event_of_a = events
        .iter()
        .find(|e| e.str_property("$device_id") == Some("a"))
        .unwrap();
    assert_eq!(event_of_a.str_property("$user_id"), Some("u"));
    assert_eq!(event_of_a.str_property("$insert_id"), Some(resolved_id));
}
