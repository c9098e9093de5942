//! `invctl destroy`: delete the stack, after confirmation, with progress.
//!
//! A stack that does not exist is reported and is not an error: the state
//! the user asked for holds. An operation already running is waited for
//! first. Without a terminal, `--yes` is required: nothing is deleted on a
//! guess.

use std::io::{self, Write};

use clap::Args;

use crate::config::{AwsArgs, ConfigError, Settings};
use crate::console::Console;
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
    #[error(transparent)]
    Setup(#[from] crate::aws::SetupError),
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
            Error::Setup(_) => crate::exit::USAGE,
            Error::NeedsYes(_) => crate::exit::USAGE,
            _ => crate::exit::FAILURE,
        }
    }
}

/// Whether the stack may be deleted: `--yes`, or its name typed on the
/// terminal. Off a terminal nothing is deleted on a guess.
fn confirm(console: &mut dyn Console, yes: bool, stack: &str) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    if !console.interactive() {
        return Err(Error::NeedsYes(stack.to_owned()));
    }
    let typed = console
        .answer(&format!(
            "Delete stack {stack} and all its data? Type its name to confirm: "
        ))
        .map_err(Error::Report)?;
    if typed == stack {
        Ok(())
    } else {
        Err(Error::NotConfirmed(stack.to_owned()))
    }
}

pub fn run(
    aws: &AwsArgs,
    args: &DestroyArgs,
    console: &mut dyn Console,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let settings = Settings::resolve(aws)?;
    let name = settings.stack_name.clone();
    let stack_error = |source| Error::Stack {
        stack: name.clone(),
        source,
    };
    crate::runtime().block_on(async {
        let config = crate::aws::sdk_config(&settings).await?;
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
        confirm(console, args.yes, &name)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::Scripted;
    use crate::exit::ExitCode;

    #[test]
    fn off_a_terminal_only_yes_deletes_and_the_refusal_is_a_usage_error() {
        let refused = confirm(&mut Scripted::unattended(), false, "inv").unwrap_err();
        assert!(matches!(refused, Error::NeedsYes(_)), "{refused}");
        assert_eq!(refused.exit_code(), crate::exit::USAGE);
        let mut console = Scripted::unattended();
        confirm(&mut console, true, "inv").unwrap();
        assert!(console.asked.is_empty(), "--yes asks nothing");
    }

    #[test]
    fn on_a_terminal_the_stack_name_must_be_typed() {
        let mut console = Scripted::answering(&["inv"]);
        confirm(&mut console, false, "inv").unwrap();
        assert_eq!(
            console.asked,
            ["Delete stack inv and all its data? Type its name to confirm: "]
        );
        for typed in ["y", "yes", "inv2", ""] {
            let error = confirm(&mut Scripted::answering(&[typed]), false, "inv").unwrap_err();
            assert!(matches!(error, Error::NotConfirmed(_)), "{typed}: {error}");
        }
    }
}
