//! The invctl binary: parse, dispatch, and turn the outcome into an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use invctl::{cli::Cli, describe, exit, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = run(cli, &mut out);
    // A failed flush can only be a closed or broken stdout; nothing to add.
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::from(exit::SUCCESS as u8),
        // A closed pipe means the reader has what it wanted.
        Err(error) if error.is_broken_pipe() => ExitCode::from(exit::SUCCESS as u8),
        Err(error) => {
            eprintln!("{}", describe(&error));
            ExitCode::from(error.exit_code() as u8)
        }
    }
}
