//! The failures file keeps a row's own `line` and `reason` columns under other names, and
//! importing it again sends them under their own.

mod support;

use std::path::Path;

use alias_server::DEFAULT_PROJECT_SECRET;
use serde_json::{Value, json};
use support::{mixpanel_alias, server};

/// `import FILE --failures FAILURES --extra-columns --endpoint import` with `secret`.
fn import(server: &alias_server::Server, file: &Path, failures: &Path, secret: &str) {
    let code = if secret == DEFAULT_PROJECT_SECRET {
        0
    } else {
        1
    };
    mixpanel_alias("import", server)
        .arg(file)
        .arg("--failures")
        .arg(failures)
        .args([
            "--extra-columns",
            "--endpoint",
            "import",
            "--project-secret",
            secret,
        ])
        .assert()
        .code(code);
}

#[test]
fn a_csv_rows_own_line_and_reason_are_kept_and_sent_again_under_their_names() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.csv");
    let failures = dir.path().join("failures.csv");
    let again = dir.path().join("failures-again.csv");
    std::fs::write(
        &input,
        "distinct_id,line,alias,reason,input_line\nanon-1,L7,user-1,moved,x\n",
    )
    .unwrap();
    import(&server, &input, &failures, "wrong-secret");
    let listed = std::fs::read_to_string(&failures).unwrap();
    let mut rows = csv::Reader::from_reader(listed.as_bytes());
    assert_eq!(
        rows.headers().unwrap(),
        vec![
            "distinct_id",
            "input_line",
            "alias",
            "input_reason",
            "input_input_line",
            "time",
            "$insert_id",
            "line",
            "reason"
        ]
    );
    let row = rows.records().next().unwrap().unwrap();
    assert_eq!(
        (&row[1], &row[3], &row[4], &row[7]),
        ("L7", "moved", "x", "2")
    );
    assert!(row[8].starts_with("rejected: HTTP 401"), "{listed}");

    import(&server, &failures, &again, DEFAULT_PROJECT_SECRET);
    let events = server.events();
    assert_eq!(events.len(), 1);
    let properties = &events[0].properties;
    assert_eq!(
        (
            &properties["line"],
            &properties["reason"],
            &properties["input_line"]
        ),
        (&json!("L7"), &json!("moved"), &json!("x"))
    );
    assert_eq!(
        std::fs::read_to_string(&again).unwrap().lines().next(),
        listed.lines().next(),
        "the same columns again"
    );
}

#[test]
fn an_ndjson_rows_own_line_and_reason_are_kept_and_sent_again_under_their_names() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("aliases.ndjson");
    let failures = dir.path().join("failures.ndjson");
    let again = dir.path().join("failures-again.ndjson");
    std::fs::write(
        &input,
        "{\"distinct_id\":\"anon-1\",\"alias\":\"user-1\",\"line\":\"L7\",\"reason\":\"moved\"}\n",
    )
    .unwrap();
    import(&server, &input, &failures, "wrong-secret");
    let listed: Value = serde_json::from_slice(&std::fs::read(&failures).unwrap()).unwrap();
    assert_eq!(
        (
            &listed["input_line"],
            &listed["input_reason"],
            &listed["line"]
        ),
        (&json!("L7"), &json!("moved"), &json!(1))
    );
    assert!(listed["reason"].as_str().unwrap().starts_with("rejected: "));

    import(&server, &failures, &again, DEFAULT_PROJECT_SECRET);
    let events = server.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            &events[0].properties["line"],
            &events[0].properties["reason"]
        ),
        (&json!("L7"), &json!("moved"))
    );
    assert!(!events[0].properties.contains_key("input_line"));
}
