//! invctl: synthesizes, builds, deploys and drives the serverless
//! inventory-management stack on AWS.
//!
//! The library holds everything the binary does, so integration tests and
//! benchmarks exercise the same code: [`model`] (typed CloudFormation and
//! ASL), [`stack`] (the inventory stack written with them), and
//! [`commands`] (one module per subcommand).

pub mod aws;
pub mod build;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod deploy;
pub mod drive;
pub mod exit;
pub mod graph;
pub mod local;
pub mod model;
pub mod output;
pub mod reference;
pub mod stack;

use std::io::Write;

/// Any error a command can end with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Synth(#[from] commands::synth::Error),
    #[error(transparent)]
    Build(#[from] commands::build::Error),
    #[error(transparent)]
    Graph(#[from] commands::graph::Error),
    #[error(transparent)]
    Deploy(#[from] commands::deploy::Error),
    #[error(transparent)]
    Status(#[from] commands::status::Error),
    #[error(transparent)]
    Destroy(#[from] commands::destroy::Error),
    #[error(transparent)]
    SendOrder(#[from] commands::send_order::Error),
    #[error(transparent)]
    Scan(#[from] commands::scan::Error),
    #[error(transparent)]
    Decision(#[from] commands::decision::Error),
    #[error(transparent)]
    Executions(#[from] commands::executions::Error),
    #[error(transparent)]
    Schedule(#[from] commands::schedule::Error),
    #[error(transparent)]
    Watch(#[from] commands::watch::Error),
    #[error(transparent)]
    Invoke(#[from] commands::invoke::Error),
    #[error(transparent)]
    Diff(#[from] commands::diff::Error),
    #[error(transparent)]
    Logs(#[from] commands::logs::Error),
    #[error(transparent)]
    Redrive(#[from] commands::redrive::Error),
    #[error(transparent)]
    Local(#[from] commands::local::Error),
    #[error(transparent)]
    Completions(#[from] commands::completions::Error),
    #[error(transparent)]
    Man(#[from] commands::man::Error),
}

impl Error {
    /// The command's own error says it.
    pub fn exit_code(&self) -> i32 {
        use exit::ExitCode;
        match self {
            Error::Synth(e) => e.exit_code(),
            Error::Build(e) => e.exit_code(),
            Error::Graph(e) => e.exit_code(),
            Error::Deploy(e) => e.exit_code(),
            Error::Status(e) => e.exit_code(),
            Error::Destroy(e) => e.exit_code(),
            Error::SendOrder(e) => e.exit_code(),
            Error::Scan(e) => e.exit_code(),
            Error::Decision(e) => e.exit_code(),
            Error::Executions(e) => e.exit_code(),
            Error::Schedule(e) => e.exit_code(),
            Error::Watch(e) => e.exit_code(),
            Error::Invoke(e) => e.exit_code(),
            Error::Diff(e) => e.exit_code(),
            Error::Logs(e) => e.exit_code(),
            Error::Redrive(e) => e.exit_code(),
            Error::Local(e) => e.exit_code(),
            Error::Completions(e) => e.exit_code(),
            Error::Man(e) => e.exit_code(),
        }
    }

    /// True when the error is only that stdout went away (`invctl ... | head`).
    pub fn is_broken_pipe(&self) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = source {
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                return io.kind() == std::io::ErrorKind::BrokenPipe;
            }
            source = error.source();
        }
        false
    }
}

/// Runs one parsed command line, writing its report to `out`.
pub fn run(cli: cli::Cli, out: &mut dyn Write) -> Result<(), Error> {
    use cli::Command;
    aws::set_verbose(cli.aws.verbose);
    match &cli.command {
        Command::Synth(args) => commands::synth::run(args, out)?,
        Command::Build(args) => commands::build::run(args, out)?,
        Command::Graph(args) => commands::graph::run(args, out)?,
        Command::Deploy(args) => {
            commands::deploy::run(&cli.aws, args, &mut console::Terminal, out)?
        }
        Command::Status(args) => commands::status::run(&cli.aws, args, out)?,
        Command::Destroy(args) => {
            commands::destroy::run(&cli.aws, args, &mut console::Terminal, out)?
        }
        Command::SendOrder(args) => commands::send_order::run(&cli.aws, args, out)?,
        Command::Scan(args) => commands::scan::run(&cli.aws, args, out)?,
        Command::Approve(args) => commands::decision::approve(&cli.aws, args, out)?,
        Command::Reject(args) => commands::decision::reject(&cli.aws, args, out)?,
        Command::Executions(args) => commands::executions::run(&cli.aws, args, out)?,
        Command::Schedule(args) => commands::schedule::run(&cli.aws, args, out)?,
        Command::Watch(args) => commands::watch::run(&cli.aws, args, out)?,
        Command::Invoke(args) => commands::invoke::run(&cli.aws, args, out)?,
        Command::Diff(args) => commands::diff::run(&cli.aws, args, out)?,
        Command::Logs(args) => commands::logs::run(&cli.aws, args, out)?,
        Command::Redrive(args) => commands::redrive::run(&cli.aws, args, out)?,
        Command::Local(args) => commands::local::run(args, out)?,
        Command::Completions(args) => {
            commands::completions::run(args, <cli::Cli as clap::CommandFactory>::command(), out)?
        }
        Command::Man(args) => {
            commands::man::run(args, <cli::Cli as clap::CommandFactory>::command(), out)?
        }
    }
    Ok(())
}

/// The message printed for an error: the error, then each cause on its own line.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_deployed() -> drive::DriveError {
        drive::DriveError::NotDeployed {
            stack: "s".into(),
            region: "r".into(),
        }
    }

    #[test]
    fn a_cause_wrapped_deeper_keeps_its_exit_code() {
        use commands::{executions, send_order, watch};
        let deep = Error::SendOrder(send_order::Error::Watch(watch::Error::Executions(
            executions::Error::Drive(not_deployed()),
        )));
        assert_eq!(deep.exit_code(), exit::NOT_DEPLOYED);
        let shallow = Error::Watch(watch::Error::Drive(not_deployed()));
        assert_eq!(shallow.exit_code(), exit::NOT_DEPLOYED);
    }
}
