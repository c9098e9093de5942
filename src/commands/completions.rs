//! `invctl completions SHELL`: the shell's completion script for every
//! command, flag and value invctl knows (clap_complete), on stdout.

use std::io::Write;

use clap::Args;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the completion script")]
    Write(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        crate::exit::FAILURE
    }
}

/// Writes the completion script of `command` (invctl's whole command line).
pub fn run(
    args: &CompletionsArgs,
    mut command: clap::Command,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "invctl", &mut script);
    out.write_all(&script).map_err(Error::Write)
}
