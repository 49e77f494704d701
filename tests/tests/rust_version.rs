//! Each published crate's `rust-version` is at least that of everything it builds with: a
//! user on the declared toolchain must be able to build it with any of its features.
//! (Its own code is held to it by clippy's `incompatible_msrv` lint, which CI denies.)

use std::collections::{BTreeMap, HashSet};
use std::process::Command;

use serde_json::Value;

/// A Rust version as `rust-version` writes it: `1.85` or `1.85.0`.
fn parse_version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|part| {
        part.parse::<u64>()
            .unwrap_or_else(|_| panic!("{text:?} is not a Rust version"))
    });
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--all-features",
            "--locked",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// The packages a package builds with: normal and build dependencies, transitively.
fn build_dependencies<'a>(nodes: &'a BTreeMap<&'a str, &'a Value>, root: &'a str) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        for dep in nodes[id]["deps"].as_array().expect("deps is an array") {
            let builds_with = dep["dep_kinds"]
                .as_array()
                .expect("dep_kinds is an array")
                .iter()
                .any(|kind| kind["kind"].as_str() != Some("dev"));
            let pkg = dep["pkg"].as_str().expect("pkg is a string");
            if builds_with && seen.insert(pkg) {
                stack.push(pkg);
            }
        }
    }
    seen.into_iter().collect()
}

#[test]
fn every_published_crate_declares_a_rust_version_its_dependencies_build_on() {
    let metadata = metadata();
    let packages: BTreeMap<&str, &Value> = metadata["packages"]
        .as_array()
        .expect("packages is an array")
        .iter()
        .map(|package| (package["id"].as_str().expect("id is a string"), package))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("the resolve has nodes")
        .iter()
        .map(|node| (node["id"].as_str().expect("id is a string"), node))
        .collect();

    let mut checked = Vec::new();
    for member in metadata["workspace_members"].as_array().expect("members") {
        let member = member.as_str().expect("a member id is a string");
        let package = packages[member];
        let name = package["name"].as_str().expect("name is a string");
        let unpublished = package["publish"].as_array().is_some_and(Vec::is_empty);
        if unpublished {
            continue;
        }
        let declared = package["rust_version"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is published but declares no rust-version"));
        for dependency in build_dependencies(&nodes, member) {
            let dependency = packages[dependency];
            if let Some(needed) = dependency["rust_version"].as_str() {
                assert!(
                    parse_version(declared) >= parse_version(needed),
                    "{name} declares rust-version {declared}, but {} {} needs {needed}",
                    dependency["name"],
                    dependency["version"],
                );
            }
        }
        checked.push(name);
    }
    checked.sort_unstable();
    assert_eq!(
        checked,
        [
            "alias-cli",
            "alias-core",
            "alias-reqwest",
            "alias-server",
            "alias-surf"
        ],
        "the published crates"
    );
}
