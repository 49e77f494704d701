//! `mixpanel-alias completions SHELL`: the shell's completion script for this command
//! line, on standard output.

use std::process::ExitCode;

use clap_complete::Shell;

use crate::console;

/// Options of `completions`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Writes the completion script of `command` (the whole command line, subcommands and
/// flags) for the chosen shell. Exits 1 when standard output does not take it: the script
/// is the command's only result.
pub(crate) fn run(args: &Args, mut command: clap::Command) -> ExitCode {
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name.clone(), &mut script);
    if args.shell == Shell::Bash {
        script = mend_bash_labels(&script, &name);
    }
    match console::verbatim(&script) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            console::message(&format!(
                "error: cannot write the completion script to standard output ({error})"
            ));
            ExitCode::FAILURE
        }
    }
}

/// clap_complete's bash script names the state of a subcommand one way where it sets it
/// (`mixpanel__alias__subcmd__import`) and another where it reads it
/// (`mixpanel__subcmd__alias__subcmd__import`) when the binary's name has a hyphen, so
/// that no flag of a subcommand ever completes (clap-rs/clap#6421, open). This spells the
/// reading side as the setting side does.
fn mend_bash_labels(script: &[u8], name: &str) -> Vec<u8> {
    let set = name.replace('-', "__");
    let read = name.replace('-', "__subcmd__");
    if set == read {
        return script.to_vec();
    }
    String::from_utf8_lossy(script)
        .replace(&format!("        {read}"), &format!("        {set}"))
        .into_bytes()
}
