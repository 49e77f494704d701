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
    clap_complete::generate(args.shell, &mut command, name, &mut script);
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
