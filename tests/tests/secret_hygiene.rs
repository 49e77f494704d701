//! No secret leaks: with a known service-account secret and project secret, every client
//! and CLI path runs (success, each kind of failure, `--dry-run`, trace logs), and neither
//! secret appears in anything shown: outcomes and errors (`Display` and `Debug`), clients
//! and configurations (`Debug`), trace logs, the CLI's output, or the files it writes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use alias_core::{
    AliasOutcome, ApiHost, Config, CreateAlias, Credentials, DeliveryError, Endpoint, Secret,
    Token, driver::TransportLimits, wire::RetryPolicy,
};
use alias_server::{Server, ServerBuilder, ServiceAccount};
use alias_tests::adapter::Adapter;
use alias_tests::raw_server::RawServer;
use alias_tests::trace::{self, Captured};
use tracing::Level;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const TOKEN: &str = "hygiene-token-5b1d";
const USER: &str = "hygiene-user";
const SA_SECRET: &str = "sa-secret-c0ffee-4711";
const PROJECT_SECRET: &str = "project-secret-decaf-815";
const PROJECT_ID: &str = "4242";

/// The secrets, and the Basic credentials that carry them on the wire (base64 of
/// `user:secret`, and of `secret:` for the project secret).
fn needles() -> [&'static str; 4] {
    [
        SA_SECRET,
        PROJECT_SECRET,
        // base64("hygiene-user:sa-secret-c0ffee-4711")
        "aHlnaWVuZS11c2VyOnNhLXNlY3JldC1jMGZmZWUtNDcxMQ==",
        // base64("project-secret-decaf-815:")
        "cHJvamVjdC1zZWNyZXQtZGVjYWYtODE1Og==",
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for needle in needles() {
        assert!(!text.contains(needle), "{what}: {needle:?} leaked:\n{text}");
    }
}

/// A server that takes this test's token and credentials, unless `refuses` them.
fn server(refuses: bool) -> ServerBuilder {
    let builder = Server::builder().token(TOKEN);
    if refuses {
        return builder;
    }
    builder
        .project_secret(Secret::new(PROJECT_SECRET).unwrap())
        .service_accounts([ServiceAccount::new(
            USER,
            Secret::new(SA_SECRET).unwrap(),
            PROJECT_ID,
        )])
}

fn both_credentials() -> [Credentials; 2] {
    [
        Credentials::service_account(USER, Secret::new(SA_SECRET).unwrap(), PROJECT_ID).unwrap(),
        Credentials::ProjectSecret(Secret::new(PROJECT_SECRET).unwrap()),
    ]
}

/// How an alias ended, coarsely, to check each path really ran.
fn kind(outcome: &AliasOutcome) -> String {
    match outcome {
        AliasOutcome::Accepted => "accepted".to_owned(),
        AliasOutcome::Rejected(rejection) => format!("rejected {}", rejection.status().as_u16()),
        AliasOutcome::Invalid(_) => "invalid".to_owned(),
        AliasOutcome::Undelivered(undelivered) => match &undelivered.last_error {
            DeliveryError::Transport(error) => format!("undelivered {:?}", error.kind),
            DeliveryError::Status { status, .. } => format!("undelivered {}", status.as_u16()),
            DeliveryError::UnexpectedAnswer(_) => "undelivered unexpected".to_owned(),
            DeliveryError::Abandoned => "undelivered abandoned".to_owned(),
            DeliveryError::Undetermined { status, .. } => {
                format!("undelivered undetermined {}", status.as_u16())
            }
            DeliveryError::Refused(rejection) => {
                format!("undelivered refused {}", rejection.status().as_u16())
            }
            DeliveryError::Unreachable(error) => {
                format!("undelivered unreachable {:?}", error.kind)
            }
        },
    }
}

/// Where one library path sends to, and the outcome it must end with.
struct LibraryPath {
    url: String,
    limits: TransportLimits,
    expected: &'static str,
    /// Keeps the peer alive while the path runs.
    _peer: Box<dyn std::any::Any>,
}

fn library_paths() -> Vec<LibraryPath> {
    let reference = |builder: ServerBuilder, limits, expected| {
        let server = builder.start().unwrap();
        LibraryPath {
            url: server.url().to_owned(),
            limits,
            expected,
            _peer: Box::new(server),
        }
    };
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let garbage = RawServer::answering("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    let quick = TransportLimits::default().request_timeout(Duration::from_millis(100));
    vec![
        reference(server(false), TransportLimits::default(), "accepted"),
        reference(server(true), TransportLimits::default(), "rejected 401"),
        // A server three hours behind sees every event three hours in its future.
        reference(
            server(false).clock_skew_secs(-3 * 3600),
            TransportLimits::default(),
            "rejected 400",
        ),
        reference(
            server(false).faults("503=1".parse().unwrap()),
            TransportLimits::default(),
            "undelivered 503",
        ),
        reference(
            server(false).faults("reset=1".parse().unwrap()),
            TransportLimits::default(),
            "undelivered Closed",
        ),
        reference(
            server(false)
                .faults("slow=1".parse().unwrap())
                .slow_delay(Duration::from_millis(400)),
            quick,
            "undelivered Timeout",
        ),
        LibraryPath {
            url: garbage.url(),
            limits: TransportLimits::default(),
            expected: "undelivered unexpected",
            _peer: Box::new(garbage),
        },
        LibraryPath {
            url: format!("http://127.0.0.1:{closed_port}"),
            limits: TransportLimits::default(),
            expected: "undelivered Connect",
            _peer: Box::new(()),
        },
    ]
}

fn every_library_path(adapter: Adapter) {
    let captured = Captured::default();
    let mut shown = String::new();
    let mut ended = Vec::new();
    // `log` records are bridged in, as `tracing_subscriber::fmt().init()` does, so that the
    // HTTP crates' own logs are read too. async-h1 prints every request at TRACE with its
    // headers, `Authorization` included: alias-surf's documentation says to keep that
    // target below TRACE, as the CLI does, and so does this subscriber.
    let subscriber = trace::subscriber(&captured).with(filter_fn(|metadata| {
        *metadata.level() < Level::TRACE || !metadata.target().starts_with("async_h1")
    }));
    let logging = subscriber.set_default();
    // A callsite first met by a concurrent test, under no subscriber, is cached as of no
    // interest to anyone; rebuilding the cache lets this thread's subscriber see it.
    tracing::callsite::rebuild_interest_cache();
    for path in library_paths() {
        for credentials in both_credentials() {
            let config = Config::builder(Token::new(TOKEN).unwrap())
                .api_host(ApiHost::custom(&path.url).unwrap())
                .endpoint(Endpoint::Import(credentials))
                .retry_policy(RetryPolicy {
                    max_attempts: 2,
                    ..RetryPolicy::fast()
                })
                .build();
            shown.push_str(&format!("{config:?}\n"));
            let client = adapter.client(config, path.limits);
            shown.push_str(&format!("{client:?}\n"));
            let report = client.send(vec![CreateAlias::from_ids("anon-1", "user-1").unwrap()]);
            shown.push_str(&format!("{report:?}\n"));
            for entry in report.entries {
                ended.push((path.expected, kind(&entry.outcome)));
                if let Err(error) = entry.outcome.into_result() {
                    shown.push_str(&format!("{error}\n{error:?}\n"));
                }
            }
            let single = client.create_alias("anon-2", "user-2");
            shown.push_str(&format!("{single:?}\n"));
            if let Err(error) = single {
                shown.push_str(&format!("{error}\n"));
            }
        }
    }
    drop(logging);
    for (expected, ended) in &ended {
        assert_eq!(
            expected, ended,
            "{adapter:?}: a path did not end as planned"
        );
    }
    let logs = captured.text();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "no logs were captured"
    );
    assert_no_secret(&format!("{adapter:?} outcomes, errors, Debug"), &shown);
    assert_no_secret(&format!("{adapter:?} trace logs"), &logs);
}

alias_tests::adapter_suite!(every_library_path);

// ---------------------------------------------------------------------------------------
// The CLI

fn cli() -> &'static PathBuf {
    static CLI: OnceLock<PathBuf> = OnceLock::new();
    CLI.get_or_init(|| alias_tests::cli::build_binary(false).expect("mixpanel-alias builds"))
}

/// How a CLI run authenticates `/import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Login {
    /// The service account in the environment, where the documentation advises to keep
    /// it, and `--project-id`.
    ServiceAccount,
    /// The project secret as a flag.
    ProjectSecret,
}

impl Login {
    fn apply(self, command: &mut Command) {
        match self {
            Self::ServiceAccount => command
                .env("MIXPANEL_SERVICE_ACCOUNT_USER", USER)
                .env("MIXPANEL_SERVICE_ACCOUNT_SECRET", SA_SECRET)
                .args(["--project-id", PROJECT_ID]),
            Self::ProjectSecret => command.args(["--project-secret", PROJECT_SECRET]),
        };
    }
}

/// `mixpanel-alias ARGS --endpoint import` with trace logs, the token, `login`, and nothing
/// inherited.
fn command(args: &[&str], login: Login) -> Command {
    let mut command = Command::new(cli());
    for variable in [
        "MIXPANEL_TOKEN",
        "MIXPANEL_SERVICE_ACCOUNT_USER",
        "MIXPANEL_SERVICE_ACCOUNT_SECRET",
        "MIXPANEL_PROJECT_SECRET",
    ] {
        command.env_remove(variable);
    }
    command
        .args(args)
        .args(["--endpoint", "import", "--retry-initial-ms", "1"])
        .env("RUST_LOG", "trace")
        .env("MIXPANEL_TOKEN", TOKEN);
    login.apply(&mut command);
    command
}

/// Runs `command`, checks its output and the files under `dir` hold no secret, and returns
/// its exit code and standard error.
fn run_clean(what: &str, mut command: Command, dir: &Path) -> (Option<i32>, String) {
    let output = command.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_no_secret(&format!("{what}: stdout"), &stdout);
    assert_no_secret(&format!("{what}: stderr"), &stderr);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert_no_secret(&format!("{what}: {}", path.display()), &text);
    }
    (output.status.code(), stderr)
}

/// `import` of two aliases into `url`, with a failures file and (but in a dry run, which
/// refuses one) a checkpoint in a fresh folder, and `extra` flags.
fn import(
    what: &str,
    url: &str,
    login: Login,
    extra: &[&str],
) -> (Option<i32>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "distinct_id,alias\nanon-1,user-1\nanon-2,user-2\n").unwrap();
    let (failures, checkpoint) = (dir.path().join("failures.csv"), dir.path().join("ckpt"));
    let mut command = command(
        &["import", input.to_str().unwrap(), "--api-host", url],
        login,
    );
    command
        .args(["--max-attempts", "2", "--failures"])
        .arg(&failures)
        .args(extra);
    if !extra.contains(&"--dry-run") {
        command.arg("--checkpoint").arg(&checkpoint);
    }
    let (code, stderr) = run_clean(what, command, dir.path());
    (code, stderr, dir)
}

#[test]
fn every_import_path() {
    let accepting = server(false).start().unwrap();
    for transport in ["reqwest", "surf"] {
        for login in [Login::ServiceAccount, Login::ProjectSecret] {
            let what = format!("import {transport} {login:?}");
            let (code, stderr, _dir) =
                import(&what, accepting.url(), login, &["--transport", transport]);
            assert_eq!(code, Some(0), "{what}: {stderr}");
            assert!(stderr.contains("TRACE"), "{what}: no trace logs");
        }
    }

    let refusing = server(true).start().unwrap();
    let skewed = server(false).clock_skew_secs(-3 * 3600).start().unwrap();
    let failing = server(false)
        .faults("503=1".parse().unwrap())
        .start()
        .unwrap();
    for (name, url) in [
        ("401", refusing.url()),
        ("400", skewed.url()),
        ("503", failing.url()),
        ("refused", "http://127.0.0.1:9"),
    ] {
        let what = format!("import {name}");
        let (code, stderr, dir) = import(&what, url, Login::ServiceAccount, &[]);
        assert_eq!(code, Some(1), "{what}: {stderr}");
        let failures = std::fs::read_to_string(dir.path().join("failures.csv")).unwrap();
        assert!(
            failures.contains("user-1"),
            "{what}: no failures file:\n{failures}"
        );
    }
}

#[test]
fn dry_runs_and_usage_errors() {
    let server = server(false).start().unwrap();
    for login in [Login::ServiceAccount, Login::ProjectSecret] {
        let what = format!("import --dry-run {login:?}");
        let (code, stderr, _dir) = import(&what, server.url(), login, &["--dry-run"]);
        assert_eq!(code, Some(0), "{what}: {stderr}");
    }

    let refusing = self::server(true).start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let create = |login, url: &str, extra: &[&str]| {
        let mut command = command(
            &["create", "--distinct-id", "anon-1", "--alias", "user-1"],
            login,
        );
        command.args(["--api-host", url]).args(extra);
        command
    };
    let url = server.url();
    let cases = [
        ("create", create(Login::ServiceAccount, url, &[]), 0),
        ("create secret", create(Login::ProjectSecret, url, &[]), 0),
        (
            "create --dry-run",
            create(Login::ServiceAccount, url, &["--dry-run"]),
            0,
        ),
        (
            "create --dry-run secret",
            create(Login::ProjectSecret, url, &["--dry-run"]),
            0,
        ),
        (
            "create 401",
            create(Login::ServiceAccount, refusing.url(), &[]),
            1,
        ),
        (
            "create 401 secret",
            create(Login::ProjectSecret, refusing.url(), &[]),
            1,
        ),
        (
            "both credentials",
            create(
                Login::ServiceAccount,
                url,
                &["--project-secret", PROJECT_SECRET],
            ),
            2,
        ),
        (
            "plain http elsewhere",
            create(Login::ProjectSecret, "http://10.0.0.1", &[]),
            2,
        ),
    ];
    for (what, command, expected) in cases {
        let (code, stderr) = run_clean(what, command, dir.path());
        assert_eq!(code, Some(expected), "{what}: {stderr}");
    }
    assert_eq!(
        refusing.stats().requests,
        2,
        "the refused creates were sent"
    );
    assert_eq!(
        server.stats().requests,
        2,
        "only the two plain creates sent anything"
    );
}

#[test]
fn serve_with_secrets_on_its_command_line() {
    let mut child = Command::new(cli())
        .args([
            "serve",
            "--project-secret",
            PROJECT_SECRET,
            "--project-id",
            PROJECT_ID,
        ])
        .arg("--service-account")
        .arg(format!("{USER}:{SA_SECRET}"))
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.starts_with("listening on http://"), "{first}");
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    assert_no_secret("serve stdout", &first);
    assert_no_secret("serve stderr", &String::from_utf8_lossy(&output.stderr));
}
