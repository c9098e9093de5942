//! Subcommands that are listed but not built yet. They accept any arguments
//! (so the message is the same whatever was typed), say they are not built,
//! and fail: a script must never mistake them for success.

use clap::Args;

#[derive(Debug, Args)]
pub struct PlannedArgs {
    /// Ignored: the command is not built yet.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("`invctl {command}` is not built yet; this release can `synth`, `build`, `deploy`, `status` and `destroy`")]
pub struct NotBuilt {
    pub command: &'static str,
}

pub fn run(command: &'static str) -> Result<(), NotBuilt> {
    Err(NotBuilt { command })
}
