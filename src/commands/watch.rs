//! `invctl watch ORDER...` (and `send-order --wait`): follow orders until
//! each is reserved, rejected or unavailable: a line per order with its
//! outcome and how long it took, and a summary; a progress bar on a
//! terminal while they come in; with `--trace`, every state each order's
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
    /// Print every state each order's execution enters, as it enters it
    #[arg(long)]
    pub trace: bool,
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
    #[error("no outcome after {seconds} s for: {}; their last executions failed and their queue delivers them again (`invctl executions --workflow reserve-stock --status failed` shows why)", .orders.join(", "))]
    StillFailing { seconds: u64, orders: Vec<String> },
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Seconds from the start of following to the outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
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
    trace: bool,
) -> Result<Outcomes, Error> {
    let ids: Vec<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    follow_ids(stack, &ids, timeout, trace).await
}

/// Where the lines about orders on their way go: above a progress bar on
/// a terminal, plain on stderr otherwise.
struct Board {
    bar: Option<indicatif::ProgressBar>,
}

impl Board {
    fn new(orders: usize) -> Board {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(orders as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed:>4} [{bar:30}] {pos}/{len} answered {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Board { bar }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn answered(&self, done: &HashMap<&str, Outcome>) {
        if let Some(bar) = &self.bar {
            bar.set_position(done.len() as u64);
            bar.set_message(tally(done.values()));
        }
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// "18 reserved, 2 unavailable", in a fixed order.
fn tally<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> String {
    let mut counts: Vec<(&str, usize)> =
        ["reserved", "unavailable", "rejected", "failed", "pending"]
            .iter()
            .map(|o| (*o, 0))
            .collect();
    for outcome in outcomes {
        if let Some(count) = counts.iter_mut().find(|(o, _)| *o == outcome.outcome) {
            count.1 += 1;
        }
    }
    counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(o, n)| format!("{n} {o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn follow_ids(
    stack: &mut DeployedStack,
    order_ids: &[String],
    timeout: Duration,
    trace: bool,
) -> Result<Outcomes, Error> {
    let board = Board::new(order_ids.len());
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
                    if trace {
                        board.line(format!("{id}: execution {} started", execution.name));
                    }
                    0
                });
                if trace {
                    for state in execution.states.iter().skip(*printed) {
                        board.line(format!("{id}: {state}"));
                    }
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
                    seconds: Some(now.elapsed().as_secs_f64()),
                };
                if outcome == "failed" {
                    let seen = retried.get(id.as_str()).map(|o| o.execution.clone());
                    if seen != Some(found.execution.clone()) {
                        board.line(format!(
                            "{id}: execution failed ({}); its queue will deliver the order again",
                            found.error.as_deref().unwrap_or("no error given")
                        ));
                        retried.insert(id, found);
                    }
                } else {
                    done.insert(id, found);
                    board.answered(&done);
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
                    seconds: None,
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
            let after = o
                .seconds
                .map(|s| format!(" after {s:.1} s"))
                .unwrap_or_default();
            writeln!(out, "{}: {}{detail}{after}", o.order_id, o.outcome)?;
        }
        if self.0.len() > 1 {
            let slowest = self.0.iter().filter_map(|o| o.seconds).fold(0.0, f64::max);
            writeln!(
                out,
                "{} orders: {} (the last after {slowest:.1} s)",
                self.0.len(),
                tally(self.0.iter())
            )?;
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
            args.trace,
        )
        .await?;
        crate::output::print(&outcomes, args.report.output, out).map_err(Error::Report)?;
        all_done(&outcomes.0, args.timeout)
    })
}

/// Fails naming the orders that had no outcome in time: never seen, or
/// seen failing (a failed execution is a retry on its way, not an outcome).
pub fn all_done(outcomes: &[Outcome], timeout_seconds: u64) -> Result<(), Error> {
    let with = |outcome: &str| -> Vec<String> {
        outcomes
            .iter()
            .filter(|o| o.outcome == outcome)
            .map(|o| o.order_id.clone())
            .collect()
    };
    let (pending, failing) = (with("pending"), with("failed"));
    if !pending.is_empty() {
        let mut orders = pending;
        orders.extend(failing);
        return Err(Error::TimedOut {
            seconds: timeout_seconds,
            orders,
        });
    }
    if !failing.is_empty() {
        return Err(Error::StillFailing {
            seconds: timeout_seconds,
            orders: failing,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: &str, outcome: &'static str, seconds: f64) -> Outcome {
        Outcome {
            order_id: id.to_owned(),
            outcome,
            reserved_quantity: (outcome == "reserved").then_some(1),
            execution: None,
            error: (outcome == "failed").then(|| "States.Timeout".to_owned()),
            seconds: Some(seconds),
        }
    }

    #[test]
    fn a_line_per_order_with_its_time_then_a_summary() {
        let outcomes = Outcomes(vec![
            outcome("a", "reserved", 0.42),
            outcome("b", "unavailable", 1.26),
            outcome("c", "reserved", 0.9),
        ]);
        let mut text = Vec::new();
        crate::output::Report::write_text(&outcomes, &mut text).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "a: reserved (1 unit(s)) after 0.4 s\n\
             b: unavailable after 1.3 s\n\
             c: reserved (1 unit(s)) after 0.9 s\n\
             3 orders: 2 reserved, 1 unavailable (the last after 1.3 s)\n"
        );
    }

    #[test]
    fn an_order_still_failing_at_the_deadline_is_not_done() {
        let failing = [outcome("a", "reserved", 1.0), outcome("b", "failed", 2.0)];
        let error = all_done(&failing, 30).unwrap_err();
        assert!(matches!(error, Error::StillFailing { .. }), "{error}");
        assert!(error.to_string().contains("no outcome after 30 s for: b"));
        assert!(all_done(&failing[..1], 30).is_ok());
    }
}
