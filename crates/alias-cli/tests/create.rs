//! `mixpanel-alias create` against the reference server: one line, the exit codes, the
//! dry run, and secrets kept out of every output.

mod support;

use std::time::Duration;

use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_PROJECT_SECRET, DEFAULT_SERVICE_ACCOUNT_SECRET,
    DEFAULT_SERVICE_ACCOUNT_USER, DEFAULT_TOKEN,
};
use assert_cmd::Command;
use support::{TRANSPORTS, mixpanel_alias, output, server};

/// base64 of `test-service-account:`, the start of the service account's Basic value: it
/// must never be printed, since the rest of that value is the secret.
const BASIC_VALUE_START: &str = "dGVzdC1zZXJ2aWNlLWFjY291bnQ6";

/// Sends to `/import` as the server's service account, its secret from the environment as
/// users are told to pass it.
fn as_service_account(command: &mut Command) -> &mut Command {
    command
        .args(["--endpoint", "import", "--project-id", DEFAULT_PROJECT_ID])
        .env(
            "MIXPANEL_SERVICE_ACCOUNT_USER",
            DEFAULT_SERVICE_ACCOUNT_USER,
        )
        .env(
            "MIXPANEL_SERVICE_ACCOUNT_SECRET",
            DEFAULT_SERVICE_ACCOUNT_SECRET,
        )
}

#[test]
fn an_accepted_alias_prints_one_line_and_exits_0_with_either_transport() {
    for &transport in TRANSPORTS {
        let server = server();
        let assert = mixpanel_alias("create", &server)
            .args(["--distinct-id", "anon-1", "--alias", "user-1"])
            .args(["--transport", transport])
            .assert()
            .code(0);
        let (stdout, _) = output(&assert);
        assert_eq!(
            stdout,
            "accepted for ingestion: alias \"user-1\" -> distinct_id \"anon-1\" (Mixpanel \
             merges later; a merge it refuses shows as $failure_reason on the stored event)\n",
            "{transport}"
        );
        assert_eq!(server.stats().events_stored, 1, "{transport}");
        assert_eq!(server.identity("user-1").unwrap().canonical, "anon-1");
    }
}

#[test]
fn import_endpoint_with_a_service_account_is_accepted() {
    let server = server();
    as_service_account(&mut mixpanel_alias("create", &server))
        .args(["--distinct-id", "anon-1", "--alias", "user-1"])
        .assert()
        .code(0);
    assert_eq!(server.stats().events_stored, 1);
}

#[test]
fn a_rejected_alias_says_why_and_what_to_do_and_exits_1() {
    let server = server();
    let assert = mixpanel_alias("create", &server)
        .args([
            "--distinct-id",
            "anon-1",
            "--alias",
            "user-1",
            "--endpoint",
            "import",
        ])
        .args(["--project-secret", "not-the-secret"])
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    assert!(
        stdout.starts_with("rejected: alias \"user-1\" -> distinct_id \"anon-1\": HTTP 401"),
        "{stdout}"
    );
    assert!(stdout.contains("check --token"), "{stdout}");
    assert!(!stdout.contains("not-the-secret"), "{stdout}");
    assert_eq!(server.stats().events_stored, 0);
}

#[test]
fn an_unreachable_server_leaves_the_alias_undelivered_and_exits_1() {
    let server = server();
    let url = server.url().to_owned();
    // Nothing listens there any more: every attempt fails to connect.
    server.shutdown();
    let assert = create_at(&url)
        .args([
            "--distinct-id",
            "anon-1",
            "--alias",
            "user-1",
            "--max-attempts",
            "2",
        ])
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    assert!(
        stdout.starts_with("undelivered: alias \"user-1\""),
        "{stdout}"
    );
    assert!(stdout.contains("after 2 attempts"), "{stdout}");
}

#[test]
fn an_ambiguous_failure_says_how_to_send_the_same_event_again_and_that_is_deduplicated() {
    // Every answer is lost after the events are stored: the client cannot tell.
    let server = alias_server::Server::builder()
        .faults("ack_lost=1".parse().unwrap())
        .start()
        .unwrap();
    let ids = ["--distinct-id", "anon-1", "--alias", "user-1"];
    let assert = mixpanel_alias("create", &server)
        .args(ids)
        .args(["--max-attempts", "2"])
        .assert()
        .code(1);
    let (stdout, _) = output(&assert);
    assert!(stdout.starts_with("undelivered: "), "{stdout}");
    let flags = stdout
        .split("same ids and ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no re-send flags in {stdout:?}"));
    let flags: Vec<&str> = flags.split_whitespace().collect();
    assert_eq!((flags[0], flags[2]), ("--time", "--insert-id"), "{stdout}");
    // Sent again as told: the copies all reach raw storage, and the query view holds one.
    mixpanel_alias("create", &server)
        .args(ids)
        .args(["--max-attempts", "1"])
        .args(&flags)
        .assert()
        .code(1);
    assert_eq!(server.raw_events().len(), 3);
    assert_eq!(server.events().len(), 1);
    assert_eq!(server.stats().duplicates_dropped, 2);
}

#[test]
fn import_with_credentials_that_name_the_project_needs_no_token() {
    let server = server();
    as_service_account(&mut mixpanel_alias("create", &server))
        .env_remove("MIXPANEL_TOKEN")
        .args(["--distinct-id", "anon-1", "--alias", "user-1"])
        .assert()
        .code(0);
    mixpanel_alias("create", &server)
        .env_remove("MIXPANEL_TOKEN")
        .env("MIXPANEL_PROJECT_SECRET", DEFAULT_PROJECT_SECRET)
        .args([
            "--endpoint",
            "import",
            "--distinct-id",
            "anon-2",
            "--alias",
            "user-2",
        ])
        .assert()
        .code(0);
    let events = server.events();
    assert_eq!(events.len(), 2);
    assert!(
        events.iter().all(|event| event.token().is_none()),
        "{events:?}"
    );
    assert_eq!(server.identity("user-2").unwrap().canonical, "anon-2");

    // The project token credentials and /track have nothing else to go by.
    for endpoint in ["import", "track"] {
        let assert = mixpanel_alias("create", &server)
            .env_remove("MIXPANEL_TOKEN")
            .args([
                "--endpoint",
                endpoint,
                "--distinct-id",
                "anon-3",
                "--alias",
                "user-3",
            ])
            .assert()
            .code(2);
        let (stdout, stderr) = output(&assert);
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.starts_with("error: --token is missing") && stderr.contains("--project-secret"),
            "{endpoint}: {stderr}"
        );
    }
    assert_eq!(server.stats().requests, 2);
}

/// `create` pointed at a URL rather than a running server, with millisecond retries.
fn create_at(url: &str) -> assert_cmd::Command {
    Command::from_std(support::at_url_retrying(
        "create",
        url,
        Duration::from_millis(1),
    ))
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    let server = server();
    let ids = ["--distinct-id", "anon-1", "--alias", "user-1"];
    let cases: [(&[&str], &str); 6] = [
        (&["--distinct-id", "anon-1", "--alias", "null"], "--alias: "),
        (
            &["--distinct-id", " ", "--alias", "user-1"],
            "--distinct-id: ",
        ),
        (
            &["--endpoint", "import", "--service-account-user", "sa"],
            "--service-account-secret is missing",
        ),
        (
            &["--project-id", "12"],
            "--project-id is only used with --endpoint import",
        ),
        (&["--time", "soon"], "--time: \"soon\" is not a time"),
        (&["--insert-id", "no spaces"], "--insert-id: "),
    ];
    for (args, expected) in cases {
        let mut command = mixpanel_alias("create", &server);
        if !args.contains(&"--alias") {
            command.args(ids);
        }
        let assert = command.args(args).assert().code(2);
        let (stdout, stderr) = output(&assert);
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(
            stderr.starts_with(&format!("error: {expected}")),
            "{args:?}: {stderr}"
        );
    }
    let assert = create_at("http://10.1.2.3").args(ids).assert().code(2);
    let (_, stderr) = output(&assert);
    assert!(
        stderr.starts_with("error: --api-host \"http://10.1.2.3\" uses plain http"),
        "{stderr}"
    );
    let assert = mixpanel_alias("create", &server)
        .env_remove("MIXPANEL_TOKEN")
        .args(["--distinct-id", "anon-1", "--alias", "user-1"])
        .assert()
        .code(2);
    let (_, stderr) = output(&assert);
    assert!(
        stderr.contains("--token is missing") && stderr.contains("MIXPANEL_TOKEN"),
        "{stderr}"
    );
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_dry_run_prints_the_request_with_secrets_redacted_and_sends_nothing() {
    let server = server();
    let assert = as_service_account(&mut mixpanel_alias("create", &server))
        .args(["--distinct-id", "anon-1", "--alias", "user-1", "--dry-run"])
        .assert()
        .code(0);
    let (stdout, stderr) = output(&assert);
    let request_line = format!(
        "POST {}/import?strict=1&project_id={DEFAULT_PROJECT_ID}\n",
        server.url()
    );
    assert!(stdout.starts_with(&request_line), "{stdout}");
    assert!(
        stdout.contains("authorization: Basic <redacted>\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""distinct_id":"anon-1","alias":"user-1","token":"<redacted>""#),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(
            "dry run: alias \"user-1\" -> distinct_id \"anon-1\" printed above, nothing sent\n"
        ),
        "{stdout}"
    );
    for secret in [
        DEFAULT_TOKEN,
        DEFAULT_SERVICE_ACCOUNT_SECRET,
        BASIC_VALUE_START,
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} printed"
        );
    }
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_dry_run_without_a_token_prints_events_without_one() {
    let server = server();
    let assert = as_service_account(&mut mixpanel_alias("create", &server))
        .env_remove("MIXPANEL_TOKEN")
        .args(["--distinct-id", "anon-1", "--alias", "user-1", "--dry-run"])
        .assert()
        .code(0);
    let (stdout, stderr) = output(&assert);
    assert!(
        stdout.contains("authorization: Basic <redacted>\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#""distinct_id":"anon-1","alias":"user-1","time":"#),
        "{stdout}"
    );
    assert!(!stdout.contains("token"), "{stdout}");
    for secret in [DEFAULT_SERVICE_ACCOUNT_SECRET, BASIC_VALUE_START] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} printed"
        );
    }
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn no_secret_is_printed_even_with_trace_logs() {
    for &transport in TRANSPORTS {
        let server = server();
        let assert = as_service_account(&mut mixpanel_alias("create", &server))
            .args(["--distinct-id", "anon-1", "--alias", "user-1"])
            .args(["--transport", transport])
            .env("RUST_LOG", "trace")
            .assert()
            .code(0);
        let (stdout, stderr) = output(&assert);
        // The trace logs are there, so the check below reads real log output.
        assert!(
            stderr.contains("TRACE") || stderr.contains("DEBUG"),
            "{transport}: no logs"
        );
        // stderr is a pipe here, not a terminal: the logs carry no colour codes.
        assert!(!stderr.contains('\u{1b}'), "{transport}: {stderr}");
        for secret in [
            DEFAULT_TOKEN,
            DEFAULT_SERVICE_ACCOUNT_SECRET,
            BASIC_VALUE_START,
        ] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{transport}: {secret} printed"
            );
        }
    }
}

#[test]
fn help_never_shows_secrets_from_the_environment() {
    let server = server();
    for subcommand in ["create", "import"] {
        let assert = mixpanel_alias(subcommand, &server)
            .arg("--help")
            .env(
                "MIXPANEL_SERVICE_ACCOUNT_SECRET",
                DEFAULT_SERVICE_ACCOUNT_SECRET,
            )
            .env("MIXPANEL_PROJECT_SECRET", "project-secret-in-env")
            .assert()
            .code(0);
        let (stdout, _) = output(&assert);
        assert!(stdout.contains("[env: MIXPANEL_TOKEN]"), "{stdout}");
        for secret in [
            DEFAULT_TOKEN,
            DEFAULT_SERVICE_ACCOUNT_SECRET,
            "project-secret-in-env",
        ] {
            assert!(!stdout.contains(secret), "{subcommand}: {secret} shown");
        }
    }
}

#[test]
fn credentials_in_the_api_host_are_never_echoed() {
    for url in [
        "https://user:hunter2@api.mixpanel.com",
        "http://user:hunter2@127.0.0.1:1",
        "http://user:hunter2@example.com",
    ] {
        let assert = Command::from_std(support::at_url("create", url))
            .args(["--distinct-id", "anon-1", "--alias", "user-1"])
            .assert()
            .code(2);
        let (stdout, stderr) = output(&assert);
        assert!(stderr.starts_with("error: --api-host "), "{url}: {stderr}");
        assert!(
            !stdout.contains("hunter2") && !stderr.contains("hunter2"),
            "{url}: {stderr}"
        );
    }
}
