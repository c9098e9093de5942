//! `invctl watch ORDER...` (and `send-order --wait`): follow orders until
//! each is reserved, rejected or unavailable, printing every state its
//! reserve-stock execution enters.
//!
//! An order's execution is found by the name the reserve-stock function
//! gives it (derived from the order id), its steps from the execution's
//! history (for an EXPRESS workflow, its log); a reservation row is proof of
//! a reservation on its own.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use clap::Args;
use inventory_domain::{execution_name, reservation, NewOrder};
use serde::Serialize;

use crate::commands::executions::{self, WorkflowId};
use crate::config::AwsArgs;
use crate::drive::{DeployedStack, DriveError, Resource};
use crate::output::ReportArgs;

/// The longest `--timeout` a command waits for outcomes: a day.
pub const MAX_WAIT_SECONDS: u64 = 24 * 60 * 60;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Order ids (as `send-order` prints them)
    #[arg(required = true, value_name = "ORDER_ID")]
    pub order_ids: Vec<String>,
    /// Give up after this many seconds (at most a day)
    #[arg(long, default_value_t = 120, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECONDS))]
    pub timeout: u64,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error(transparent)]
    Executions(#[from] executions::Error),
    #[error("cannot read table {table}: {message}")]
    Table { table: String, message: String },
    #[error("no outcome after {seconds} s for: {}", .orders.join(", "))]
    TimedOut { seconds: u64, orders: Vec<String> },
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            Error::Executions(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}

/// Where an order ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub order_id: String,
    /// `reserved`, `rejected`, `unavailable`, `failed`, or `pending` (timed out).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_quantity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome a finished reserve-stock execution's last state stands for.
pub fn outcome_of(execution: &executions::Execution) -> Option<&'static str> {
    match execution.status.as_str() {
        "RUNNING" => None,
        "SUCCEEDED" => Some(
            execution
                .states
                .last()
                .and_then(|state| crate::stack::workflows::RESERVE_STOCK.outcome_of(state))
                .unwrap_or("failed"),
        ),
        _ => Some("failed"),
    }
}

pub fn poll_interval() -> Duration {
    crate::deploy::stack::poll_interval().min(Duration::from_secs(1))
}

/// Follows `orders` until each has an outcome or `timeout` passes. Steps
/// go to stderr as they happen; the outcomes are returned for the report.
pub async fn follow(
    stack: &mut DeployedStack,
    orders: &[NewOrder],
    timeout: Duration,
) -> Result<Outcomes, Error> {
    let ids: Vec<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    follow_ids(stack, &ids, timeout).await
}

async fn follow_ids(
    stack: &mut DeployedStack,
    order_ids: &[String],
    timeout: Duration,
) -> Result<Outcomes, Error> {
    let table = stack.get(Resource::ReservationTable).await?;
    let mut executions = executions::Executions::new(stack);
    let dynamodb = aws_sdk_dynamodb::Client::new(&stack.config);
    // Saturates rather than overflowing on an absurd timeout from a caller.
    let now = Instant::now();
    let deadline = now
        .checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(MAX_WAIT_SECONDS));
    let mut shown: HashMap<&str, usize> = HashMap::new();
    let mut done: HashMap<&str, Outcome> = HashMap::new();
    // A failed execution is not where the order ends: its queue delivers it
    // again (after the visibility timeout) and a later execution answers.
    // It stands as the outcome only if nothing answers before the deadline.
    let mut retried: HashMap<&str, Outcome> = HashMap::new();
    loop {
        for id in order_ids {
            if done.contains_key(id.as_str()) {
                continue;
            }
            let execution = executions
                .find(
                    stack,
                    WorkflowId::ReserveStock,
                    &execution_name("order", id),
                )
                .await?;
            if let Some(execution) = &execution {
                // States already printed for this order; absent until it starts.
                let printed = shown.entry(id).or_insert_with(|| {
                    eprintln!("{id}: execution {} started", execution.name);
                    0
                });
                for state in execution.states.iter().skip(*printed) {
                    eprintln!("{id}: {state}");
                }
                *printed = execution.states.len();
            }
            let reserved = reserved_quantity(&dynamodb, &table, id).await?;
            let outcome = match (&execution, reserved) {
                (Some(e), _) => outcome_of(e).map(|o| (o, e.error.clone())),
                // Without a visible execution, the reservation row is the proof.
                (None, Some(_)) => Some(("reserved", None)),
                (None, None) => None,
            };
            if let Some((outcome, error)) = outcome {
                let found = Outcome {
                    order_id: id.clone(),
                    outcome,
                    reserved_quantity: reserved.filter(|_| outcome == "reserved"),
                    execution: execution.map(|e| e.arn),
                    error,
                };
                if outcome == "failed" {
                    let seen = retried.get(id.as_str()).map(|o| o.execution.clone());
                    if seen != Some(found.execution.clone()) {
                        eprintln!(
                            "{id}: execution failed ({}); its queue will deliver the order again",
                            found.error.as_deref().unwrap_or("no error given")
                        );
                        retried.insert(id, found);
                    }
                } else {
                    done.insert(id, found);
                }
            }
        }
        if done.len() == order_ids.len() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(poll_interval()).await;
    }
    let outcomes: Vec<Outcome> = order_ids
        .iter()
        .map(|id| {
            done.remove(id.as_str())
                .or_else(|| retried.remove(id.as_str()))
                .unwrap_or_else(|| Outcome {
                    order_id: id.clone(),
                    outcome: "pending",
                    reserved_quantity: None,
                    execution: None,
                    error: None,
                })
        })
        .collect();
    Ok(Outcomes(outcomes))
}

/// How each followed order ended: a line each, or a JSON list.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Outcomes(pub Vec<Outcome>);

impl crate::output::Report for Outcomes {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for o in &self.0 {
            let detail = match (&o.reserved_quantity, &o.error) {
                (Some(q), _) => format!(" ({q} unit(s))"),
                (_, Some(e)) => format!(" ({e})"),
                _ => String::new(),
            };
            writeln!(out, "{}: {}{detail}", o.order_id, o.outcome)?;
        }
        Ok(())
    }
}

async fn reserved_quantity(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    order_id: &str,
) -> Result<Option<i64>, Error> {
    let item = dynamodb
        .get_item()
        .table_name(table)
        .key(reservation::ID, AttributeValue::S(order_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| Error::Table {
            table: table.to_owned(),
            message: crate::aws::error_text(&e),
        })?
        .item;
    Ok(
        item.map(|item| match item.get(reservation::RESERVED_QUANTITY) {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        }),
    )
}

pub fn run(aws: &AwsArgs, args: &WatchArgs, out: &mut dyn Write) -> Result<(), Error> {
    crate::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let outcomes = follow_ids(
            &mut stack,
            &args.order_ids,
            Duration::from_secs(args.timeout),
        )
        .await?;
        crate::output::print(&outcomes, args.report.output, out).map_err(Error::Report)?;
        all_done(&outcomes.0, args.timeout)
    })
}

/// Fails naming the orders that had no outcome in time.
pub fn all_done(outcomes: &[Outcome], timeout_seconds: u64) -> Result<(), Error> {
    let pending: Vec<String> = outcomes
        .iter()
        .filter(|o| o.outcome == "pending")
        .map(|o| o.order_id.clone())
        .collect();
    if pending.is_empty() {
        Ok(())
    } else {
        Err(Error::TimedOut {
            seconds: timeout_seconds,
            orders: pending,
        })
    }
}
