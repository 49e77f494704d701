//! The `mixpanel-alias` binary as a client: aliases go in as an NDJSON file, outcomes come
//! back from the failures file and the summary line.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use alias_core::Tally;
use alias_server::{
    DEFAULT_PROJECT_ID, DEFAULT_PROJECT_SECRET, DEFAULT_SERVICE_ACCOUNT_SECRET,
    DEFAULT_SERVICE_ACCOUNT_USER, DEFAULT_TOKEN,
};
use serde_json::{Map, Value};

use crate::client::{Observed, OutcomeKind, millis};
use crate::vector::{ClientSpec, RawAlias};

/// The flags that give the binary the configuration a case asks for.
fn config_args(spec: &ClientSpec) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    if spec.no_token != Some(true) {
        args.push("--token".to_owned());
        args.push(
            spec.token
                .clone()
                .unwrap_or_else(|| DEFAULT_TOKEN.to_owned()),
        );
    }
    let mut flag = |name: &str, value: &str| {
        args.push(name.to_owned());
        args.push(value.to_owned());
    };
    if let Some(endpoint) = &spec.endpoint {
        flag("--endpoint", endpoint);
    }
    match spec.credentials.as_deref() {
        None => {}
        Some("service_account") => {
            flag("--service-account-user", DEFAULT_SERVICE_ACCOUNT_USER);
            flag("--service-account-secret", DEFAULT_SERVICE_ACCOUNT_SECRET);
            flag("--project-id", DEFAULT_PROJECT_ID);
        }
        // Without other credentials, /import authenticates with the token.
        Some("project_token") => {}
        Some("project_secret") => flag("--project-secret", DEFAULT_PROJECT_SECRET),
        Some("wrong") => flag("--project-secret", "not-the-project-secret"),
        Some(other) => return Err(format!("unknown credentials {other:?}")),
    }
    if let Some(body) = &spec.body {
        flag("--body", &body.replace('_', "-"));
    }
    if let Some(events) = spec.max_events {
        flag("--batch-size", &events.to_string());
    }
    if let Some(bytes) = spec.max_body_bytes {
        flag("--max-body-bytes", &bytes.to_string());
    }
    flag(
        "--max-attempts",
        &spec.max_attempts.unwrap_or(8).to_string(),
    );
    flag("--retry-initial-ms", "1");
    if spec.verbose == Some(false) {
        args.push("--no-verbose".to_owned());
    }
    if spec.strict == Some(false) {
        args.push("--no-strict".to_owned());
    }
    if spec.gzip == Some(true) {
        args.push("--gzip".to_owned());
    }
    if let Some(concurrency) = spec.concurrency {
        args.push("--concurrency".to_owned());
        args.push(concurrency.to_string());
    }
    if spec.ordered == Some(true) {
        args.push("--keep-order".to_owned());
    }
    if let Some(link) = &spec.link {
        args.push("--link".to_owned());
        args.push(link.replace('_', "-"));
    }
    if let Some(event) = &spec.association_event {
        args.push("--association-event".to_owned());
        args.push(event.clone());
    }
    Ok(args)
}

fn ndjson_line(raw: &RawAlias) -> String {
    let mut object = Map::new();
    object.insert(
        "distinct_id".to_owned(),
        Value::from(raw.distinct_id.clone()),
    );
    object.insert("alias".to_owned(), Value::from(raw.alias.clone()));
    if let Some(time) = millis(raw) {
        object.insert("time".to_owned(), Value::from(time));
    }
    for (name, value) in &raw.properties {
        object.insert(name.clone(), value.clone());
    }
    Value::Object(object).to_string()
}

/// Runs `mixpanel-alias import` on `aliases` against `server_url`.
pub fn send(
    cli: &Path,
    spec: &ClientSpec,
    server_url: &str,
    aliases: &[RawAlias],
) -> Result<Vec<Observed>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
    let input = dir.path().join("aliases.ndjson");
    let failures = dir.path().join("failures.ndjson");
    let lines: Vec<String> = aliases.iter().map(ndjson_line).collect();
    std::fs::write(&input, lines.join("\n") + "\n")
        .map_err(|e| format!("cannot write the input: {e}"))?;
    let output = import_command(cli, &input, server_url)
        .args(["--format", "ndjson", "--extra-columns"])
        .arg("--failures")
        .arg(&failures)
        .args(config_args(spec)?)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let counts = summary(&stdout).ok_or_else(|| {
        format!(
            "no summary line (exit {:?}); stdout: {stdout}; stderr: {stderr}",
            output.status.code()
        )
    })?;
    let expected_exit = if counts.accepted == counts.total() {
        0
    } else {
        1
    };
    if output.status.code() != Some(expected_exit) {
        return Err(format!(
            "exit code {:?} with {counts:?}; stderr: {stderr}",
            output.status.code()
        ));
    }
    let failed = read_failures(&failures)?;
    let observed: Vec<Observed> = (1..=aliases.len())
        .map(|line| {
            failed.get(&(line as u64)).cloned().unwrap_or(Observed {
                kind: OutcomeKind::Accepted,
                field: None,
                detail: String::new(),
            })
        })
        .collect();
    for (kind, count) in [
        (OutcomeKind::Accepted, counts.accepted),
        (OutcomeKind::Rejected, counts.rejected),
        (OutcomeKind::Invalid, counts.invalid),
        (OutcomeKind::Undelivered, counts.undelivered),
    ] {
        let in_file = observed.iter().filter(|o| o.kind == kind).count() as u64;
        if count != in_file {
            return Err(format!(
                "the summary says {}={count} but the failures file implies {in_file}",
                kind.name(),
            ));
        }
    }
    Ok(observed)
}

/// `cli import INPUT --api-host URL`, with no `MIXPANEL_*` or `RUST_LOG` from the caller's
/// environment: every run of the binary as a client (conformance, soak, bench) starts
/// here, and adds its flags.
pub fn import_command(cli: &Path, input: &Path, server_url: &str) -> Command {
    let mut command = Command::new(cli);
    for variable in alias_cli::ENVIRONMENT {
        command.env_remove(variable);
    }
    command
        .arg("import")
        .arg(input)
        .args(["--api-host", server_url]);
    command
}

/// The counts of an import's summary line, the last line of its standard output:
/// `accepted=N rejected=N undelivered=N invalid=N`, exactly.
pub fn summary(stdout: &str) -> Option<Tally> {
    let mut words = stdout.lines().last()?.split(' ');
    let mut count = |name: &str| -> Option<u64> {
        words
            .next()?
            .strip_prefix(name)?
            .strip_prefix('=')?
            .parse()
            .ok()
    };
    let tally = Tally {
        accepted: count("accepted")?,
        rejected: count("rejected")?,
        undelivered: count("undelivered")?,
        invalid: count("invalid")?,
    };
    words.next().is_none().then_some(tally)
}

/// The failures file's rows by input line: each carries `line` and a `reason` that starts
/// with the outcome (`rejected: ...`).
fn read_failures(path: &Path) -> Result<HashMap<u64, Observed>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("cannot read the failures file: {e}")),
    };
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let row: Value = serde_json::from_str(line)
                .map_err(|e| format!("bad failures row {line:?}: {e}"))?;
            let number = row["line"]
                .as_u64()
                .ok_or_else(|| format!("failures row without line: {line}"))?;
            let reason = row["reason"].as_str().unwrap_or_default().to_owned();
            let kind = match reason.split(':').next() {
                Some("rejected") => OutcomeKind::Rejected,
                Some("invalid") => OutcomeKind::Invalid,
                Some("undelivered") => OutcomeKind::Undelivered,
                _ => return Err(format!("failures row with an unknown outcome: {line}")),
            };
            Ok((
                number,
                Observed {
                    kind,
                    field: None,
                    detail: reason,
                },
            ))
        })
        .collect()
}

/// The URL `mixpanel-alias create --dry-run` would send the first alias to.
pub fn dry_run_url(cli: &Path, spec: &ClientSpec, aliases: &[RawAlias]) -> Result<String, String> {
    let first = aliases
        .first()
        .ok_or("a request-only case needs an alias")?;
    let mut args = config_args(spec)?;
    if let Some(region) = &spec.region {
        args.extend(["--region".to_owned(), region.clone()]);
    }
    let output = Command::new(cli)
        .args([
            "create",
            "--dry-run",
            "--distinct-id",
            &first.distinct_id,
            "--alias",
            &first.alias,
        ])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .split_whitespace()
        .find(|word| word.starts_with("https://") || word.starts_with("http://"))
        .map(str::to_owned)
        .ok_or_else(|| format!("no URL in the dry run's output: {stdout}"))
}

/// Builds the `mixpanel-alias` binary (a no-op when it is up to date) and returns its path.
///
/// Cargo builds a test crate's dependencies, not other packages' binaries, so the suite
/// asks cargo for it, as `cargo xtask conformance` does.
pub fn build_binary(release: bool) -> Result<std::path::PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--package",
        "alias-cli",
        "--bin",
        "mixpanel-alias",
        // Every transport, as the workspace's own build has it (this crate turns `surf` on),
        // so that this build and `cargo test --workspace` share one binary.
        "--features",
        "surf",
        "--message-format",
        "json-render-diagnostics",
    ]);
    if release {
        command.arg("--release");
    }
    let output = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building mixpanel-alias failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["target"]["name"] == "mixpanel-alias")
        .find_map(|message| message["executable"].as_str().map(std::path::PathBuf::from))
        .ok_or_else(|| "cargo did not name the mixpanel-alias executable".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_last_line_exactly() {
        let tally =
            summary("progress: 50%\naccepted=598000 rejected=1 undelivered=2000 invalid=3\n");
        assert_eq!(
            tally,
            Some(Tally {
                accepted: 598_000,
                rejected: 1,
                undelivered: 2000,
                invalid: 3,
            })
        );
        assert_eq!(summary("accepted=1 rejected=0 undelivered=0"), None);
        assert_eq!(
            summary("accepted=1 rejected=0 undelivered=0 invalid=0 more"),
            None
        );
        assert_eq!(
            summary("invalid=0 accepted=1 rejected=0 undelivered=0"),
            None
        );
        assert_eq!(summary(""), None);
    }
}
