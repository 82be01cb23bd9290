//! `plugwire completions SHELL`: a shell completion script.

use std::process::ExitCode;

pub(crate) fn run(shell: clap_complete::Shell, command: &mut clap::Command) -> ExitCode {
    clap_complete::generate(shell, command, "plugwire", &mut std::io::stdout());
    ExitCode::SUCCESS
}
