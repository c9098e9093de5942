//! `invctl destroy`: delete the stack, after confirmation, with progress.
//!
//! A stack that does not exist is reported and is not an error: the state
//! the user asked for holds. An operation already running is waited for
//! first. Without a terminal, `--yes` is required: nothing is deleted on a
//! guess.

use std::io::{self, BufRead, IsTerminal, Write};

use clap::Args;

use crate::config::{AwsArgs, ConfigError, Settings};
use crate::deploy::progress::Progress;
use crate::deploy::stack::{self, Failure, StackError};

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Delete without asking (required when not on a terminal)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("stack {stack}: {source}")]
    Stack { stack: String, source: StackError },
    #[error("not on a terminal, so nothing can be confirmed: pass --yes to delete stack {0}")]
    NeedsYes(String),
    #[error("the name typed was not {0}; nothing was deleted")]
    NotConfirmed(String),
    #[error("stack {stack} was not deleted ({status}):\n{}", stack::failure_lines(failures).trim_end())]
    DeleteFailed {
        stack: String,
        status: String,
        failures: Vec<Failure>,
    },
    #[error("cannot print the report")]
    Report(#[source] io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Config(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}

fn confirm(stack: &str) -> Result<(), Error> {
    eprint!("Delete stack {stack} and all its data? Type its name to confirm: ");
    let _ = io::stderr().flush();
    let mut typed = String::new();
    io::stdin()
        .lock()
        .read_line(&mut typed)
        .map_err(Error::Report)?;
    if typed.trim() == stack {
        Ok(())
    } else {
        Err(Error::NotConfirmed(stack.to_owned()))
    }
}

pub fn run(aws: &AwsArgs, args: &DestroyArgs, out: &mut dyn Write) -> Result<(), Error> {
    let settings = Settings::resolve(aws)?;
    let name = settings.stack_name.clone();
    let stack_error = |source| Error::Stack {
        stack: name.clone(),
        source,
    };
    crate::runtime().block_on(async {
        let config = crate::aws::sdk_config(&settings).await;
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        let client = aws_sdk_cloudformation::Client::new(&config);
        let Some(found) = stack::describe(&client, &name).await.map_err(stack_error)? else {
            writeln!(
                out,
                "stack {name} does not exist in {region}; nothing to destroy"
            )
            .map_err(Error::Report)?;
            return Ok(());
        };
        if found.stack_status().is_some_and(stack::is_in_progress) {
            let progress = Progress::start(&format!(
                "stack {name} is busy ({}); waiting for it first",
                found.stack_status().map(|s| s.as_str()).unwrap_or_default()
            ));
            let waited = stack::wait(&client, &name, &progress, stack::poll_interval())
                .await
                .map_err(stack_error)?;
            progress.finish();
            if waited.stack.is_none() {
                writeln!(out, "stack {name} is gone").map_err(Error::Report)?;
                return Ok(());
            }
        }
        if !args.yes {
            if !io::stdin().is_terminal() {
                return Err(Error::NeedsYes(name.clone()));
            }
            confirm(&name)?;
        }
        client
            .delete_stack()
            .stack_name(found.stack_id().unwrap_or(&name))
            .send()
            .await
            .map_err(|e| stack_error(stack::aws_error(e)))?;
        let progress = Progress::start(&format!("deleting stack {name}"));
        let waited = stack::wait(
            &client,
            found.stack_id().unwrap_or(&name),
            &progress,
            stack::poll_interval(),
        )
        .await
        .map_err(stack_error)?;
        progress.finish();
        match waited.stack {
            None => {}
            Some(s) if stack::state_of(&s) == stack::StackState::Gone => {}
            Some(s) => {
                return Err(Error::DeleteFailed {
                    stack: name.clone(),
                    status: s
                        .stack_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    failures: waited.failures,
                })
            }
        }
        writeln!(out, "stack {name} deleted").map_err(Error::Report)
    })
}
