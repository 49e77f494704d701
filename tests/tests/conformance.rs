//! Every conformance vector through every client, against the reference server.

use std::path::PathBuf;
use std::sync::OnceLock;

use alias_tests::adapter::Adapter;
use alias_tests::vector::{load_groups, vectors_dir};
use alias_tests::{ClientKind, run_case};

fn cli() -> &'static PathBuf {
    static CLI: OnceLock<PathBuf> = OnceLock::new();
    CLI.get_or_init(|| alias_tests::cli::build_binary(false).expect("mixpanel-alias builds"))
}

fn run_all(client: ClientKind) {
    let groups = load_groups(&vectors_dir()).expect("the vectors load");
    let cases: usize = groups.iter().map(|g| g.cases.len()).sum();
    assert!(cases >= 30, "only {cases} cases were found");
    let cli = (client == ClientKind::Cli).then(cli);
    let mut failures = Vec::new();
    for group in &groups {
        for case in &group.cases {
            let result = run_case(case, client, cli.map(PathBuf::as_path));
            for failure in result.failures {
                failures.push(format!("{}/{}: {failure}", group.group, case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{client}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn reqwest_async() {
    run_all(ClientKind::Library(Adapter::ReqwestAsync));
}

#[test]
fn reqwest_blocking() {
    run_all(ClientKind::Library(Adapter::ReqwestBlocking));
}

#[test]
fn surf() {
    run_all(ClientKind::Library(Adapter::Surf));
}

#[test]
fn cli_binary() {
    run_all(ClientKind::Cli);
}
