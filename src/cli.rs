//! The command line, as clap types. Each subcommand's arguments live next to
//! its module in `commands/`; this file only lists them.

use clap::{Parser, Subcommand};

use crate::commands::{
    build::BuildArgs, deploy::DeployArgs, destroy::DestroyArgs, planned::PlannedArgs,
    status::StatusArgs, synth::SynthArgs,
};
use crate::config::AwsArgs;

#[derive(Debug, Parser)]
#[command(
    name = "invctl",
    version,
    about = "Synthesize, build, deploy and drive the serverless inventory-management stack on AWS",
    long_about = "invctl owns the whole life of the inventory-management stack: it writes the \
CloudFormation template and the Step Functions workflows from typed Rust models, builds the \
Rust Lambda functions, deploys, updates and destroys the stack, and drives it.\n\n\
Commands marked (planned) are not built yet: they say so and exit with code 3.",
    after_help = "Exit codes: 0 success, 1 the command failed, 2 usage error, 3 command not built yet, 4 a required tool is missing."
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
    /// Create or update the stack through a change set, with live progress
    Deploy(DeployArgs),
    /// Delete the stack, after confirmation, with progress
    Destroy(DestroyArgs),
    /// Show the stack's status, outputs and last change
    Status(StatusArgs),
    /// (planned) Put new-order-received events on the stack's bus
    SendOrder(PlannedArgs),
    /// (planned) Read the reservations, inventory or purchase-orders table
    Scan(PlannedArgs),
    /// (planned) Approve a pending purchase order
    Approve(PlannedArgs),
    /// (planned) Reject a pending purchase order
    Reject(PlannedArgs),
    /// (planned) List recent workflow executions, or show one
    Executions(PlannedArgs),
    /// (planned) Turn the order generator's schedule on or off
    Schedule(PlannedArgs),
    /// (planned) Follow an order until it is reserved, rejected or unavailable
    Watch(PlannedArgs),
}

impl Command {
    /// The subcommand's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Synth(_) => "synth",
            Command::Build(_) => "build",
            Command::Deploy(_) => "deploy",
            Command::Destroy(_) => "destroy",
            Command::Status(_) => "status",
            Command::SendOrder(_) => "send-order",
            Command::Scan(_) => "scan",
            Command::Approve(_) => "approve",
            Command::Reject(_) => "reject",
            Command::Executions(_) => "executions",
            Command::Schedule(_) => "schedule",
            Command::Watch(_) => "watch",
        }
    }
}
