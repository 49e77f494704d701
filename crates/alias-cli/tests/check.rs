//! `mixpanel-alias check` on files with planted problems: exact counts and first lines in
//! both output formats, the exit codes, and `import --check` stopping before it sends.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::{mixpanel_alias, output, server, summary};

/// `mixpanel-alias check` with no environment from the caller.
fn check() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("mixpanel-alias"));
    for variable in alias_cli::ENVIRONMENT {
        command.env_remove(variable);
    }
    command.arg("check");
    command
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Problems planted under Original ID Merge, by line: 4 maps user-1 to a second id, 5 is
/// a self-alias, 6 and 7 hold placeholders, 8 has a field too many, `hub` is in a 4th pair
/// on 12 and `root` on 16 (threshold 3), and `root`'s cluster passes 500 ids on 512.
fn planted() -> String {
    let mut text = String::from(
        "distinct_id,alias\nanon-1,user-1\nanon-1,user-1\nanon-2,user-1\nsame,same\n\
         null,user-9\nanon-3,undefined\na,b,c\n",
    );
    for i in 1..=4 {
        text.push_str(&format!("hub,h-{i}\n"));
    }
    for i in 0..500 {
        text.push_str(&format!("root,r-{i}\n"));
    }
    text
}

/// The problems of a JSON report, by kind: (count, lines).
fn problems(report: &Value) -> Vec<(String, u64, Vec<u64>)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let lines = p["lines"].as_array().unwrap();
            (
                p["kind"].as_str().unwrap().to_owned(),
                p["count"].as_u64().unwrap(),
                lines.iter().map(|l| l.as_u64().unwrap()).collect(),
            )
        })
        .collect()
}

fn kind(name: &str, count: u64, lines: &[u64]) -> (String, u64, Vec<u64>) {
    (name.to_owned(), count, lines.to_vec())
}

#[test]
fn planted_problems_are_counted_exactly_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "aliases.csv", &planted());
    let assert = check()
        .arg(&file)
        .args(["--hub-threshold", "3", "--output", "json"])
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["id_merge"], "original");
    assert_eq!(
        report["summary"],
        json!({"rows": 511, "pairs": 507, "ids": 509, "clusters": 4,
               "largest_cluster": 501, "merges_predicted": 504})
    );
    assert_eq!(
        problems(&report),
        [
            kind("self_alias", 1, &[5]),
            kind("placeholder_id", 2, &[6, 7]),
            kind("invalid_row", 1, &[8]),
            kind("alias_mapped_twice", 1, &[4]),
            kind("cluster_over_cap", 1, &[512]),
            kind("hub_id", 2, &[12, 16]),
        ]
    );
    let over_cap = &report["problems"][4];
    assert_eq!(over_cap["sizes"], json!([501]));
}

#[test]
fn the_text_report_names_each_problem_and_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "aliases.csv", &planted());
    let assert = check()
        .arg(&file)
        .args(["--hub-threshold", "3"])
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].ends_with(
            "(original ID merge): 511 rows, 507 pairs, 509 ids, 4 clusters, largest 501 ids, \
             504 merges predicted"
        ),
        "{stdout}"
    );
    for expected in [
        "self_alias: 1 (first lines 5)",
        "placeholder_id: 2 (first lines 6 7)",
        "invalid_row: 1 (first lines 8)",
        "alias_mapped_twice: 1 (first lines 4)",
        "cluster_over_cap: 1 (first lines 512, sizes 501)",
        "hub_id: 2 (first lines 12 16)",
    ] {
        assert!(
            lines.iter().any(|line| line.starts_with(expected)),
            "{expected} in {stdout}"
        );
    }
    assert_eq!(lines.len(), 8, "{stdout}");
    assert!(lines[7].starts_with("problems found"), "{stdout}");
}

#[test]
fn a_clean_file_exits_0_and_ndjson_reads_as_csv_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "aliases.ndjson",
        "{\"distinct_id\":\"anon-1\",\"alias\":\"user-1\"}\n\
         {\"distinct_id\":\"anon-1\",\"alias\":\"email-1\"}\n\
         {\"distinct_id\":\"anon-2\",\"alias\":\"user-2\"}\n",
    );
    let assert = check()
        .arg(&file)
        .args(["--output", "json"])
        .assert()
        .code(0);
    let (stdout, _) = output(&assert);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        report["summary"],
        json!({"rows": 3, "pairs": 3, "ids": 5, "clusters": 2,
               "largest_cluster": 3, "merges_predicted": 3})
    );
    assert!(problems(&report).iter().all(|(_, count, _)| *count == 0));
    let assert = check().arg(&file).assert().code(0);
    assert!(output(&assert).0.ends_with("no problems found\n"));
}

#[test]
fn legacy_chains_need_keep_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "legacy.csv",
        "distinct_id,alias\nd1,u1\nu1,e1\nd2,u2\n",
    );
    let args = ["--id-merge", "legacy", "--output", "json"];
    let assert = check().arg(&file).args(args).assert().code(1);
    let report: Value = serde_json::from_str(output(&assert).0.trim()).unwrap();
    assert!(problems(&report).contains(&kind("legacy_chain", 1, &[3])));
    check()
        .arg(&file)
        .args(args)
        .arg("--keep-order")
        .assert()
        .code(0);
    // Original ID Merge merges chains in any order.
    check().arg(&file).assert().code(0);
}

#[test]
fn simplified_devices_linked_to_two_users_are_found_and_users_never_merge() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "simplified.csv",
        "distinct_id,alias\ndev-1,user-a\ndev-1,user-b\n$device:dev-2,user-a\nuser-a,user-b\n",
    );
    let assert = check()
        .arg(&file)
        .args(["--id-merge", "simplified", "--output", "json"])
        .assert()
        .code(1);
    let report: Value = serde_json::from_str(output(&assert).0.trim()).unwrap();
    assert!(problems(&report).contains(&kind("device_linked_twice", 1, &[3])));
    // dev-1 and dev-2 with the user user-a; the device user-a with user-b.
    assert_eq!(report["summary"]["ids"], 5);
    assert_eq!(report["summary"]["clusters"], 2);
    assert_eq!(report["summary"]["largest_cluster"], 3);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.csv");
    let assert = check().arg(&missing).assert().code(2);
    assert!(output(&assert).1.contains("cannot open it"));
    let file = write(dir.path(), "a.csv", "distinct_id,alias\na,b\n");
    check()
        .arg(&file)
        .args(["--id-merge", "v3"])
        .assert()
        .code(2);
    let no_header = write(dir.path(), "b.csv", "a,b\n");
    check().arg(&no_header).assert().code(2);
}

#[test]
fn import_check_sends_nothing_when_it_finds_problems() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "aliases.csv", &planted());
    let assert = mixpanel_alias("import", &server)
        .arg(&file)
        .arg("--check")
        .assert()
        .code(1);
    let (_, stderr) = output(&assert);
    assert!(stderr.contains("check: alias_mapped_twice: 1"), "{stderr}");
    assert_eq!(server.stats().requests, 0);

    let clean = write(
        dir.path(),
        "clean.csv",
        "distinct_id,alias\nanon-1,user-1\nanon-2,user-2\n",
    );
    let assert = mixpanel_alias("import", &server)
        .arg(&clean)
        .arg("--check=original")
        .assert()
        .code(0);
    let (stdout, _) = output(&assert);
    assert_eq!(
        summary(&stdout),
        "accepted=2 rejected=0 undelivered=0 invalid=0"
    );
    assert_eq!(server.identity("user-2").unwrap().canonical, "anon-2");
}
