//! `invctl watch ORDER...` (and `send-order --wait`): follow orders until
//! each is reserved, rejected, unavailable or dead-lettered (a failed
//! execution that its queue delivers again is a retry, shown as one, not
//! an outcome): a line per order with its
//! outcome and how long it took, and a summary; a progress bar on a
//! terminal while they come in; with `--trace`, every state each order's
//! reserve-stock execution enters.
//!
//! An order's execution is found by the name the reserve-stock function
//! gives it (derived from the order id), its steps from the execution's
//! history (for an EXPRESS workflow, its log, read once a poll for all the
//! orders just sent); a reservation row is proof of a reservation on its
//! own. Polls come a tenth of the time waited apart (50 ms to 1 s), so
//! following adds little to a lone order and few requests to a burst.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

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
    #[error("dead-lettered (every delivery its queue allows failed): {}; `invctl executions --workflow reserve-stock --status failed` shows why, `invctl redrive orders` sends them again", .orders.join(", "))]
    DeadLettered { orders: Vec<String> },
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
    /// `reserved`, `rejected`, `unavailable`, `dead-lettered` (every delivery
    /// the queue allows failed), `failed` (still failing at the deadline),
    /// or `pending` (no outcome at the deadline).
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

/// How long to sleep between two looks at orders followed for `elapsed`:
/// a tenth of the time waited so far, so following adds at most a tenth
/// to what an order takes; never under 50 ms (CloudWatch Logs answers
/// FilterLogEvents 25 times a second an account) nor over a second.
pub fn poll_interval(elapsed: Duration) -> Duration {
    (elapsed / 10).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// How far before an order was sent its execution's log is read from.
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Follows `orders` until each has an outcome or `timeout` passes. Steps
/// go to stderr as they happen; the outcomes are returned for the report.
pub async fn follow(
    stack: &mut DeployedStack,
    orders: &[NewOrder],
    timeout: Duration,
    trace: bool,
) -> Result<Outcomes, Error> {
    let ids: Vec<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    follow_ids(stack, &ids, timeout, trace, Some(SystemTime::now())).await
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
    let mut counts: Vec<(&str, usize)> = [
        "reserved",
        "unavailable",
        "rejected",
        "dead-lettered",
        "failed",
        "pending",
    ]
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
    sent: Option<SystemTime>,
) -> Result<Outcomes, Error> {
    let board = Board::new(order_ids.len());
    let table = stack.get(Resource::ReservationTable).await?;
    let mut executions = executions::Executions::new(stack);
    // Orders just sent: the workflow's log is read once a poll for all of
    // them (from a little before they were sent, for clock skew). Older
    // orders (`watch`): each is looked up by its name.
    let mut tail = match sent {
        Some(sent) => {
            executions
                .tail(stack, WorkflowId::ReserveStock, sent - CLOCK_SKEW)
                .await?
        }
        None => None,
    };
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
    // It stands as the outcome only if nothing answers before the deadline,
    // or as `dead-lettered` once as many deliveries failed as the queue
    // allows (the queue then moves the order to its dead-letter queue).
    let mut retried: HashMap<&str, Outcome> = HashMap::new();
    let mut most_receives: Option<Option<usize>> = None;
    loop {
        if let Some(tail) = &mut tail {
            tail.read().await?;
        }
        let mut seen = Vec::new();
        for id in order_ids {
            if done.contains_key(id.as_str()) {
                continue;
            }
            let name = execution_name("order", id);
            let runs = match &tail {
                Some(tail) => tail.runs(&name),
                None => {
                    executions
                        .runs(stack, WorkflowId::ReserveStock, &name)
                        .await?
                }
            };
            let failed_runs = runs
                .iter()
                .filter(|r| outcome_of(r) == Some("failed"))
                .count();
            let execution = runs.into_iter().last();
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
            seen.push((id, execution, failed_runs));
        }
        // The reservation rows of the orders that need one read: those
        // reserved (their quantity) and those with no execution seen (a row
        // is proof of a reservation on its own).
        let wanted: Vec<&str> = seen
            .iter()
            .filter(|(_, e, _)| e.as_ref().is_none_or(|e| outcome_of(e) == Some("reserved")))
            .map(|(id, _, _)| id.as_str())
            .collect();
        let rows = reserved_quantities(&dynamodb, &table, &wanted).await?;
        for (id, execution, failed_runs) in seen {
            let reserved = rows.get(id.as_str()).copied();
            let outcome = match (&execution, reserved) {
                (Some(e), _) => outcome_of(e).map(|o| (o, e.error.clone())),
                (None, Some(_)) => Some(("reserved", None)),
                (None, None) => None,
            };
            let Some((outcome, error)) = outcome else {
                continue;
            };
            let mut found = Outcome {
                order_id: id.clone(),
                outcome,
                reserved_quantity: reserved.filter(|_| outcome == "reserved"),
                execution: execution.map(|e| e.arn),
                error,
                seconds: Some(now.elapsed().as_secs_f64()),
            };
            if outcome != "failed" {
                done.insert(id, found);
                board.answered(&done);
                continue;
            }
            let limit = match most_receives {
                Some(limit) => limit,
                None => *most_receives.insert(orders_max_receive_count(stack).await),
            };
            if limit.is_some_and(|limit| failed_runs >= limit) {
                found.outcome = "dead-lettered";
                board.line(format!(
                    "{id}: dead-lettered after {failed_runs} failed deliveries ({}); `invctl redrive orders` sends it again",
                    found.error.as_deref().unwrap_or("no error given")
                ));
                done.insert(id, found);
                board.answered(&done);
                continue;
            }
            let seen_before = retried.get(id.as_str()).map(|o| o.execution.clone());
            if seen_before != Some(found.execution.clone()) {
                board.line(format!(
                    "{id}: execution failed ({}); its queue will deliver the order again",
                    found.error.as_deref().unwrap_or("no error given")
                ));
                retried.insert(id, found);
            }
        }
        if done.len() == order_ids.len() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(poll_interval(now.elapsed())).await;
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

/// The reserved quantity of each of `order_ids` that has a reservation row
/// (strongly consistent, a hundred keys a request, as BatchGetItem takes).
async fn reserved_quantities(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    order_ids: &[&str],
) -> Result<HashMap<String, i64>, Error> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let failed = |e: String| Error::Table {
        table: table.to_owned(),
        message: e,
    };
    let mut rows = HashMap::new();
    for chunk in order_ids.chunks(100) {
        let keys = chunk
            .iter()
            .map(|id| {
                HashMap::from([(
                    reservation::ID.to_owned(),
                    AttributeValue::S((*id).to_owned()),
                )])
            })
            .collect();
        let mut asked = HashMap::from([(
            table.to_owned(),
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| failed(e.to_string()))?,
        )]);
        while !asked.is_empty() {
            let answer = dynamodb
                .batch_get_item()
                .set_request_items(Some(asked))
                .send()
                .await
                .map_err(|e| failed(crate::aws::error::text(&e)))?;
            for item in answer
                .responses()
                .and_then(|r| r.get(table))
                .into_iter()
                .flatten()
            {
                let Some(AttributeValue::S(id)) = item.get(reservation::ID) else {
                    continue;
                };
                let quantity = match item.get(reservation::RESERVED_QUANTITY) {
                    Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
                    _ => 0,
                };
                rows.insert(id.clone(), quantity);
            }
            // Keys DynamoDB left for later (throttled or over its size limit).
            asked = answer.unprocessed_keys.unwrap_or_default();
            if !asked.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    Ok(rows)
}

/// How many receives the orders queue allows before it dead-letters a
/// message (its RedrivePolicy's maxReceiveCount); `None` when it cannot be
/// read (then an order that keeps failing is reported at the deadline).
async fn orders_max_receive_count(stack: &mut DeployedStack) -> Option<usize> {
    let url = stack
        .get(Resource::Queue(crate::stack::queues::ORDERS))
        .await
        .ok()?;
    let attributes = aws_sdk_sqs::Client::new(&stack.config)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .ok()?;
    let policy = attributes
        .attributes()?
        .get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)?;
    let policy: serde_json::Value = serde_json::from_str(policy).ok()?;
    match &policy["maxReceiveCount"] {
        serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn run(aws: &AwsArgs, args: &WatchArgs, out: &mut dyn Write) -> Result<(), Error> {
    crate::aws::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let outcomes = follow_ids(
            &mut stack,
            &args.order_ids,
            Duration::from_secs(args.timeout),
            args.trace,
            None,
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
    let (pending, failing, dead) = (with("pending"), with("failed"), with("dead-lettered"));
    if !dead.is_empty() {
        return Err(Error::DeadLettered { orders: dead });
    }
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

    #[test]
    fn a_dead_lettered_order_fails_the_wait_and_says_how_to_send_it_again() {
        let ended = [
            outcome("a", "reserved", 1.0),
            outcome("b", "dead-lettered", 9.0),
        ];
        let error = all_done(&ended, 30).unwrap_err();
        assert!(matches!(error, Error::DeadLettered { .. }), "{error}");
        assert!(error.to_string().contains(": b;"), "{error}");
        assert!(
            error.to_string().contains("invctl redrive orders"),
            "{error}"
        );
    }

    #[test]
    fn polls_come_a_tenth_of_the_wait_apart_within_bounds() {
        let at = |ms| poll_interval(Duration::from_millis(ms)).as_millis();
        assert_eq!(at(0), 50);
        assert_eq!(at(2_000), 200);
        assert_eq!(at(60_000), 1_000);
    }
}
