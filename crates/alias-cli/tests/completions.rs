//! `mixpanel-alias completions SHELL`: a completion script that knows the whole command
//! line, written whole or reported.

use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn completions(shell: &str) -> Command {
    let mut command = Command::cargo_bin("mixpanel-alias").unwrap();
    command.args(["completions", shell]);
    command
}

#[test]
fn the_bash_script_completes_every_subcommand_and_flag() {
    let output = completions("bash").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let script = String::from_utf8(output.stdout).unwrap();
    assert!(script.starts_with("_mixpanel__alias() {"), "{script}");
    assert!(
        script.contains("complete -F _mixpanel__alias") && script.ends_with("mixpanel-alias\nfi\n"),
        "the script does not register itself for mixpanel-alias"
    );
    for subcommand in ["create", "import", "serve", "completions"] {
        assert!(
            script.contains(&format!("mixpanel__alias,{subcommand})")),
            "{subcommand} is not completed"
        );
    }
    for flag in ["--distinct-id", "--checkpoint", "--id-merge", "--token"] {
        assert!(script.contains(flag), "{flag} is not completed");
    }
    assert!(output.stderr.is_empty());
}

/// What bash offers for the words `line` (the last one being completed), with the script
/// sourced as a user's shell would.
fn bash_completes(script: &std::path::Path, line: &[&str]) -> Vec<String> {
    let words = line.join(" ");
    let current = line.len() - 1;
    let program = format!(
        "source {script:?}\n\
         COMP_WORDS=({words}); COMP_CWORD={current}; COMPREPLY=()\n\
         _mixpanel__alias mixpanel-alias {:?} {:?}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        line[current],
        line[current - 1],
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs: the completion script is for it");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn sourced_in_bash_the_script_completes_subcommands_and_their_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("mixpanel-alias.bash");
    std::fs::write(&script, completions("bash").output().unwrap().stdout).unwrap();
    assert_eq!(
        bash_completes(&script, &["mixpanel-alias", "imp"]),
        ["import"]
    );
    assert_eq!(
        bash_completes(&script, &["mixpanel-alias", "import", "--checkp"]),
        ["--checkpoint"]
    );
    assert_eq!(
        bash_completes(&script, &["mixpanel-alias", "serve", "--id-m"]),
        ["--id-merge"]
    );
    assert_eq!(
        bash_completes(&script, &["mixpanel-alias", "create", "--distinct"]),
        ["--distinct-id"]
    );
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = completions(shell).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains("mixpanel-alias"), "{shell}: {script}");
        assert!(script.contains("import"), "{shell}: {script}");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let output = completions("tcsh").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bash, elvish, fish, powershell, zsh"),
        "{stderr}"
    );
}

/// The script is the command's only result: one that cannot be written is an error, said
/// on stderr, and never a panic.
#[cfg(target_os = "linux")]
#[test]
fn a_full_output_is_reported_not_a_panic() {
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = completions("bash").stdout(full).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: cannot write the completion script to standard output"),
        "{stderr}"
    );
}
