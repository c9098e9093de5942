//! `invctl deploy`'s flags.

use clap::Args;

use crate::output::{ReportArgs, WorkspaceArgs};
use crate::stack::Architecture;

/// What shapes the stack and its code: the flags `deploy` and `diff` share.
#[derive(Debug, Default, Args)]
pub struct StackArgs {
    /// Address for stock alerts and approval requests (required on first deploy; remembered after)
    #[arg(long)]
    pub email: Option<String>,
    /// Lambda architecture [default: arm64; with --local, this machine's]
    #[arg(long, value_enum)]
    pub arch: Option<Architecture>,
    /// Use the zips of the last `invctl build` instead of building
    #[arg(long)]
    pub skip_build: bool,
    /// S3 bucket for the Lambda zips and the template, in your account [default: invctl-artifacts-ACCOUNT-REGION, created on first use]
    #[arg(long, value_name = "NAME")]
    pub artifact_bucket: Option<String>,
    /// Deploy the functions without their reserved concurrency (for accounts whose concurrency quota is too small to reserve any; also `reserved_concurrency = false` in invctl.toml)
    #[arg(long)]
    pub no_reserved_concurrency: bool,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Execute the change set without asking (required off a terminal when resources are replaced or removed)
    #[arg(long)]
    pub yes: bool,
    /// Create and show the change set, but do not execute it
    #[arg(long)]
    pub no_execute: bool,
    /// When only function code or workflow definitions changed, update them directly in seconds (no change set; the next plain deploy reconciles the template); refused, naming each change, when anything else changed
    #[arg(long, conflicts_with_all = ["no_execute", "protect", "unprotect", "continue_rollback"])]
    pub hotswap: bool,
    /// Do not load the sample catalog into the inventory table
    #[arg(long)]
    pub no_seed: bool,
    /// When the stack is UPDATE_ROLLBACK_FAILED, continue its rollback first (ContinueUpdateRollback), then deploy
    #[arg(long)]
    pub continue_rollback: bool,
    /// With --continue-rollback: a resource (logical id) that cannot roll back and is to be skipped; repeatable
    #[arg(
        long = "skip-resource",
        value_name = "LOGICAL_ID",
        requires = "continue_rollback"
    )]
    pub skip_resources: Vec<String>,
    /// Protect the stack's data from then on: termination protection, and a stack policy that refuses replacing or deleting the tables and the KMS key
    #[arg(long, conflicts_with = "unprotect")]
    pub protect: bool,
    /// Lift that protection (termination protection off, every update allowed), then deploy
    #[arg(long)]
    pub unprotect: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}
