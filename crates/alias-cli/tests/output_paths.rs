//! `--failures`, `--outcomes` and `--checkpoint` may name neither the input, under any of
//! its names, nor each other: such a run is refused (exit 2) before anything is written or sent.
#![cfg(unix)]

mod support;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::{mixpanel_alias, server, spawnable};

const INPUT: &str = "distinct_id,alias\nanon-1,user-1\n";

struct Case {
    args: Vec<PathBuf>,
    /// Standard input, when the input is `-`.
    stdin: Option<Stdin>,
    /// What the message must say.
    expected: Vec<String>,
}

/// How the input reaches standard input.
#[derive(Debug, Clone, Copy)]
enum Stdin {
    /// `< in.csv`: standard input is the file itself.
    Redirected,
    /// `cat in.csv |`.
    Piped,
}

fn flag(name: &str, path: &Path) -> [PathBuf; 2] {
    [PathBuf::from(name), path.to_owned()]
}

#[test]
fn every_name_of_the_input_and_of_the_other_output_is_refused() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, INPUT).unwrap();
    let hard = dir.path().join("hard-link.csv");
    std::fs::hard_link(&input, &hard).unwrap();
    let soft = dir.path().join("soft-link.csv");
    std::os::unix::fs::symlink(&input, &soft).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let dotted = dir.path().join("sub/../in.csv");
    let shared = dir.path().join("shared");
    let checkpoint = dir.path().join("ckpt");
    let checkpoint_temporary = dir.path().join("ckpt.tmp");
    let input_flag = |path: &Path| vec![path.to_owned()];
    let with = |mut args: Vec<PathBuf>, flags: &[[PathBuf; 2]]| {
        args.extend(flags.iter().flatten().cloned());
        args
    };
    let names_input = |flag: &str, path: &Path, input: &str| {
        vec![
            format!("{flag} {} is the input FILE {input}", path.display()),
            format!("pass another {flag} path"),
        ]
    };
    let cases = [
        Case {
            args: with(input_flag(&input), &[flag("--failures", &hard)]),
            stdin: None,
            expected: names_input("--failures", &hard, &input.display().to_string()),
        },
        Case {
            args: with(input_flag(&input), &[flag("--checkpoint", &hard)]),
            stdin: None,
            expected: names_input("--checkpoint", &hard, &input.display().to_string()),
        },
        Case {
            args: with(input_flag(&hard), &[flag("--failures", &soft)]),
            stdin: None,
            expected: names_input("--failures", &soft, &hard.display().to_string()),
        },
        Case {
            args: with(input_flag(&input), &[flag("--failures", &dotted)]),
            stdin: None,
            expected: names_input("--failures", &dotted, &input.display().to_string()),
        },
        Case {
            args: with(
                input_flag(Path::new("-")),
                &[flag("--failures", Path::new("/dev/stdin"))],
            ),
            stdin: Some(Stdin::Redirected),
            expected: vec![
                "--failures /dev/stdin is the standard input (FILE -) under another name".into(),
            ],
        },
        Case {
            args: with(
                input_flag(Path::new("-")),
                &[flag("--checkpoint", Path::new("/proc/self/fd/0"))],
            ),
            stdin: Some(Stdin::Redirected),
            expected: vec![
                "--checkpoint /proc/self/fd/0 is the standard input (FILE -) under another name"
                    .into(),
            ],
        },
        Case {
            args: with(input_flag(Path::new("-")), &[flag("--failures", &hard)]),
            stdin: Some(Stdin::Redirected),
            expected: vec![format!(
                "--failures {} is the standard input (FILE -) under another name",
                hard.display()
            )],
        },
        Case {
            args: with(
                input_flag(Path::new("-")),
                &[flag("--failures", Path::new("/dev/fd/0"))],
            ),
            stdin: Some(Stdin::Piped),
            expected: vec![
                "--failures /dev/fd/0 is the standard input (FILE -) under another name".into(),
            ],
        },
        Case {
            args: with(
                input_flag(Path::new("-")),
                &[flag("--checkpoint", Path::new("/proc/self/fd/0"))],
            ),
            stdin: Some(Stdin::Piped),
            expected: vec![
                "--checkpoint /proc/self/fd/0 is the standard input (FILE -) under another name"
                    .into(),
            ],
        },
        Case {
            args: with(
                input_flag(&input),
                &[flag("--failures", &shared), flag("--checkpoint", &shared)],
            ),
            stdin: None,
            expected: vec![format!(
                "--failures {0} and --checkpoint {0} are the same file",
                shared.display()
            )],
        },
        Case {
            args: with(input_flag(&input), &[flag("--outcomes", &hard)]),
            stdin: None,
            expected: names_input("--outcomes", &hard, &input.display().to_string()),
        },
        Case {
            args: with(
                input_flag(&input),
                &[flag("--failures", &shared), flag("--outcomes", &shared)],
            ),
            stdin: None,
            expected: vec![format!(
                "--failures {0} and --outcomes {0} are the same file",
                shared.display()
            )],
        },
        Case {
            args: with(
                input_flag(&input),
                &[
                    flag("--failures", &checkpoint_temporary),
                    flag("--checkpoint", &checkpoint),
                ],
            ),
            stdin: None,
            expected: vec![format!(
                "--failures {} and --checkpoint {} (which writes {} beside it) are the same file",
                checkpoint_temporary.display(),
                checkpoint.display(),
                std::fs::canonicalize(dir.path())
                    .unwrap()
                    .join("ckpt.tmp")
                    .display()
            )],
        },
    ];
    for case in cases {
        let mut command = spawnable("import", &server);
        command.args(&case.args);
        match case.stdin {
            Some(Stdin::Redirected) => {
                command.stdin(File::open(&input).unwrap());
            }
            Some(Stdin::Piped) => {
                command.stdin(Stdio::piped());
            }
            None => {}
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut pipe) = child.stdin.take() {
            // The command refuses before it reads: the pipe may be closed already.
            let _ = pipe.write_all(INPUT.as_bytes());
        }
        let done = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr),
        );
        assert_eq!(done.status.code(), Some(2), "{:?}: {stderr}", case.args);
        assert!(stdout.is_empty(), "{:?}: {stdout}", case.args);
        for expected in &case.expected {
            assert!(stderr.contains(expected), "{:?}: {stderr}", case.args);
        }
    }
    assert_eq!(std::fs::read_to_string(&input).unwrap(), INPUT);
    for written in [&shared, &checkpoint, &checkpoint_temporary] {
        assert!(!written.exists(), "{} was written", written.display());
    }
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn a_failures_path_that_is_not_the_input_is_accepted_with_standard_input() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, INPUT).unwrap();
    let failures = dir.path().join("failures.csv");
    mixpanel_alias("import", &server)
        .arg("-")
        .arg("--failures")
        .arg(&failures)
        .pipe_stdin(&input)
        .unwrap()
        .assert()
        .code(0);
    assert_eq!(server.stats().events_stored, 1);
}
