//! alias-core must stay sans-IO: no runtime or HTTP client in its dependency tree, with or
//! without the `server` feature.

use std::process::Command;

/// Crates that do I/O or run futures; none may enter the core's normal dependencies.
const FORBIDDEN: [&str; 16] = [
    "tokio",
    "async-std",
    "async-io",
    "async-global-executor",
    "smol",
    "mio",
    "reqwest",
    "surf",
    "http-client",
    "isahc",
    "curl",
    "ureq",
    "hyper",
    "hyper-util",
    "axum",
    "socket2",
];

fn dependency_names(features: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--package",
            "alias-core",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(
        names.iter().any(|n| n == "http"),
        "the tree was read: {names:?}"
    );
    names
}

#[test]
fn core_has_no_runtime_or_http_client() {
    for features in [&[][..], &["--features", "server"][..]] {
        let names = dependency_names(features);
        let found: Vec<_> = names
            .iter()
            .filter(|n| FORBIDDEN.contains(&n.as_str()))
            .collect();
        assert!(
            found.is_empty(),
            "alias-core {features:?} depends on {found:?}"
        );
    }
}
