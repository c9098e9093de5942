//! `invctl approve PO` and `invctl reject PO [--reason]`: decide a pending
//! purchase order without the email, the way the approval page does (the
//! same conditional write, then SendTaskSuccess with the answer), so the
//! workflow runs its approved or rejected branch.
//!
//! The task token stays where the stack keeps it, in the purchase-order
//! table; it is read there and never printed.

use std::io::Write;

use approval::decide::{DecideError, Decider, Decision};
use clap::Args;
use serde::Serialize;

use crate::config::AwsArgs;
use crate::drive::{DeployedStack, DriveError, Resource};
use crate::output::{OutputFormat, ReportArgs};

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Purchase order id (see `invctl scan purchase-orders`)
    #[arg(value_name = "PO")]
    pub purchase_order: String,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    /// Purchase order id (see `invctl scan purchase-orders`)
    #[arg(value_name = "PO")]
    pub purchase_order: String,
    /// Why it is rejected (stored with the decision)
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error(transparent)]
    Decide(#[from] DecideError),
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    purchase_order_id: &'a str,
    decision: &'static str,
    product_id: &'a str,
    product_name: &'a str,
    order_quantity: &'a str,
}

impl crate::output::Report for Report<'_> {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "purchase order {} {}: {} unit(s) of {} ({})",
            self.purchase_order_id,
            self.decision.to_lowercase(),
            self.order_quantity,
            self.product_name,
            self.product_id
        )
    }
}

pub fn approve(aws: &AwsArgs, args: &ApproveArgs, out: &mut dyn Write) -> Result<(), Error> {
    run(
        aws,
        &args.purchase_order,
        Decision::Approve,
        None,
        args.report.output,
        out,
    )
}

pub fn reject(aws: &AwsArgs, args: &RejectArgs, out: &mut dyn Write) -> Result<(), Error> {
    run(
        aws,
        &args.purchase_order,
        Decision::Reject,
        args.reason.as_deref(),
        args.report.output,
        out,
    )
}

fn run(
    aws: &AwsArgs,
    id: &str,
    decision: Decision,
    reason: Option<&str>,
    format: OutputFormat,
    out: &mut dyn Write,
) -> Result<(), Error> {
    crate::aws::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let decider = Decider {
            dynamodb: aws_sdk_dynamodb::Client::new(&stack.config),
            sfn: aws_sdk_sfn::Client::new(&stack.config),
            table: stack.get(Resource::PurchaseOrderTable).await?,
        };
        // No secret: whoever can read the table may decide, as the approver can.
        let view = decider.review(id, None).await?;
        decider.decide(id, decision, reason, None).await?;
        let report = Report {
            purchase_order_id: id,
            decision: decision.as_str(),
            product_id: &view.product_id,
            product_name: &view.product_name,
            order_quantity: &view.order_quantity,
        };
        crate::output::print(&report, format, out).map_err(Error::Report)
    })
}
