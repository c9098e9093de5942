//! The command line, as clap types. Each subcommand's arguments live next to
//! its module in `commands/`; this file only lists them.

use clap::{Parser, Subcommand};

use crate::commands::{
    build::BuildArgs,
    completions::CompletionsArgs,
    decision::{ApproveArgs, RejectArgs},
    deploy::DeployArgs,
    destroy::DestroyArgs,
    diff::DiffArgs,
    executions::ExecutionsArgs,
    graph::GraphArgs,
    invoke::InvokeArgs,
    local::LocalArgs,
    logs::LogsArgs,
    man::ManArgs,
    redrive::RedriveArgs,
    scan::ScanArgs,
    schedule::ScheduleArgs,
    send_order::SendOrderArgs,
    status::StatusArgs,
    synth::SynthArgs,
    watch::WatchArgs,
};
use crate::config::AwsArgs;

#[derive(Debug, Parser)]
#[command(
    name = "invctl",
    version,
    about = "Synthesize, build, deploy and drive the serverless inventory-management stack on AWS",
    long_about = "invctl owns the whole life of the inventory-management stack: it writes the \
CloudFormation template and the Step Functions workflows from typed Rust models, builds the \
Rust Lambda functions, deploys, updates and destroys the stack, and drives it.",
    after_help = "Exit codes: 0 success, 1 the command failed, 2 usage error, 3 the stack is not deployed, 4 a required tool is missing, 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the CloudFormation template and the three ASL workflows
    Synth(SynthArgs),
    /// Build every Lambda function for provided.al2023 as reproducible zips
    Build(BuildArgs),
    /// Draw a workflow's states or the stack's event flow (SVG, DOT or Mermaid)
    Graph(GraphArgs),
    /// Create or update the stack through a change set, with live progress
    Deploy(DeployArgs),
    /// Show what a deploy would change (resources, replacements, IAM, workflows, code), and what drifted
    Diff(DiffArgs),
    /// Delete the stack, after confirmation, with progress
    Destroy(DestroyArgs),
    /// Show the stack's status, outputs and last change
    Status(StatusArgs),
    /// Put new-order-received events on the stack's bus (or invoke the order generator)
    SendOrder(SendOrderArgs),
    /// Read the reservations, inventory or purchase-orders table
    Scan(ScanArgs),
    /// Approve a pending purchase order (as the emailed link does)
    Approve(ApproveArgs),
    /// Reject a pending purchase order (as the emailed link does)
    Reject(RejectArgs),
    /// List recent workflow executions, or show one
    Executions(ExecutionsArgs),
    /// Turn the order generator's schedule on or off, or show it
    Schedule(ScheduleArgs),
    /// Follow orders until each is reserved, rejected or unavailable
    Watch(WatchArgs),
    /// Run one of the stack's functions once with an event (its sample event by default); show its answer and log
    Invoke(InvokeArgs),
    /// Read what the functions and workflows logged, merged in time order; follow one order or purchase order
    Logs(LogsArgs),
    /// Send dead-lettered orders and undelivered events back to be processed; list failed stream batches
    Redrive(RedriveArgs),
    /// Run the whole system on this machine, no AWS account needed: up, status, down
    Local(LocalArgs),
    /// Print the completion script for a shell (bash, zsh, fish, powershell, elvish)
    Completions(CompletionsArgs),
    /// Print invctl's manual page, or write one per command into a folder
    Man(ManArgs),
}
