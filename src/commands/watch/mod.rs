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

mod board;
mod error;
mod follow;
mod outcome;

use std::io::Write;
use std::time::Duration;

use clap::Args;

use crate::config::AwsArgs;
use crate::drive::DeployedStack;
use crate::output::ReportArgs;

pub use error::Error;
use follow::follow_ids;
pub use follow::{follow, poll_interval, MAX_WAIT_SECONDS};
pub use outcome::{outcome_of, Outcome, Outcomes};

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
