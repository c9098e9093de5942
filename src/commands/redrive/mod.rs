//! `invctl redrive [QUEUE]`: sends what the dead-letter queues hold back to
//! be processed, once its cause is fixed, and says how many went.
//!
//! Each queue's way back comes from the stack's table of dead-letter queues
//! (`stack::queues`): dead-lettered orders return to the orders queue
//! through SQS's own move task (StartMessageMoveTask); events EventBridge
//! could not deliver are put on the stack's bus again, only those the rules
//! that dead-letter into the queue route (anyone allowed to send to the
//! queue could otherwise publish any event with the operator's
//! credentials); stream failures describe batches of records, not the
//! records, so they are listed and left for a person to purge.
//!
//! An event put back whose message then cannot be deleted is written to a
//! journal (under the user's state folder, keyed by queue) before the
//! delete, so a rerun deletes it without putting it on the bus twice.

mod error;
mod journal;
mod redriver;

use std::io::Write;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::commands::watch::MAX_WAIT_SECONDS;
use crate::config::AwsArgs;
use crate::drive::DeployedStack;
use crate::output::ReportArgs;
use crate::stack::queues::DEAD_LETTER_QUEUES;

pub use error::Error;
pub use journal::state_dir;
pub use redriver::{event_entry, QueueReport, Redriver};

fn queue_names() -> Vec<&'static str> {
    DEAD_LETTER_QUEUES.iter().map(|q| q.name).collect()
}

#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The dead-letter queue to empty [default: every one]
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(queue_names()))]
    pub queue: Option<String>,
    /// Wait at most this many seconds for SQS to move the orders (at most a day); the move goes on after
    #[arg(long, default_value_t = 300, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECONDS))]
    pub timeout: u64,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// What happened to each dead-letter queue.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct RedriveReport(Vec<QueueReport>);

impl crate::output::Report for RedriveReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for report in &self.0 {
            write_queue(out, report)?;
        }
        Ok(())
    }
}

fn write_queue(out: &mut dyn Write, report: &QueueReport) -> std::io::Result<()> {
    {
        let done = match (report.waiting, report.moved) {
            (0, 0) if report.left == 0 => "empty, nothing to redrive".to_owned(),
            (_, moved) if moved > 0 => format!("{moved} sent back"),
            _ => "nothing sent back".to_owned(),
        };
        let left = if report.left > 0 {
            format!(", {} left", report.left)
        } else {
            String::new()
        };
        writeln!(out, "{}: {done}{left}", report.queue)?;
        for note in &report.notes {
            writeln!(out, "  {note}")?;
        }
    }
    Ok(())
}

pub fn run(aws: &AwsArgs, args: &RedriveArgs, out: &mut dyn Write) -> Result<(), Error> {
    crate::aws::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let redriver = Redriver {
            sqs: aws_sdk_sqs::Client::new(&stack.config),
            events: aws_sdk_eventbridge::Client::new(&stack.config),
            poll: crate::deploy::stack::poll_interval().min(Duration::from_secs(1)),
            timeout: Duration::from_secs(args.timeout),
            journal_dir: state_dir(),
        };
        let mut reports = Vec::new();
        for dead_letters in DEAD_LETTER_QUEUES
            .iter()
            .filter(|q| args.queue.as_deref().is_none_or(|name| name == q.name))
        {
            reports.push(redriver.redrive(&mut stack, dead_letters).await?);
        }
        let report = RedriveReport(reports);
        crate::output::print(&report, args.report.output, out).map_err(Error::Report)?;
        let reports = report.0;
        // Stream failures cannot go back: listing them is the whole job.
        let left: u64 = reports
            .iter()
            .filter(|r| r.redrivable)
            .map(|r| r.left)
            .sum();
        if left > 0 {
            return Err(Error::Left(left));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::redriver::stream_failure_line;
    use super::*;

    #[test]
    fn only_whole_events_go_back_on_the_bus() {
        let routed = crate::stack::queues::UNDELIVERED_EVENTS_ROUTED;
        let entry = event_entry(
            r#"{"version":"0","id":"e1","source":"com.orders","detail-type":"new-order-received","detail":{"orderId":"o1","productId":"tv","quantity":1}}"#,
            "my-bus",
            routed,
        )
        .unwrap();
        assert_eq!(entry.source(), Some("com.orders"));
        assert_eq!(entry.detail_type(), Some("new-order-received"));
        assert_eq!(entry.event_bus_name(), Some("my-bus"));
        assert_eq!(
            entry.detail(),
            Some(r#"{"orderId":"o1","productId":"tv","quantity":1}"#)
        );
        for body in [
            "not json",
            "[]",
            r#"{"source":"com.orders","detail":{}}"#,
            r#"{"source":"com.orders","detail-type":"x","detail":"text"}"#,
        ] {
            let why = event_entry(body, "b", routed).unwrap_err();
            assert_eq!(why, "is not an EventBridge event", "{body}");
        }
    }

    #[test]
    fn only_events_the_dead_lettering_rules_route_go_back() {
        let routed = crate::stack::queues::UNDELIVERED_EVENTS_ROUTED;
        let event = |source: &str, detail_type: &str| {
            format!(r#"{{"source":"{source}","detail-type":"{detail_type}","detail":{{}}}}"#)
        };
        for (source, detail_type) in [
            ("com.orders", "new-order-received"),
            ("com.inventory", "create-purchase-order"),
        ] {
            assert!(event_entry(&event(source, detail_type), "b", routed).is_ok());
        }
        for (source, detail_type) in [
            ("com.inventory", "stock-reserved"),
            ("com.orders", "create-purchase-order"),
            ("aws.partner", "new-order-received"),
        ] {
            let why = event_entry(&event(source, detail_type), "b", routed).unwrap_err();
            assert!(
                why.contains("no rule that dead-letters here routes"),
                "{why}"
            );
        }
    }

    #[test]
    fn stream_failures_are_described_from_lambdas_record() {
        let line = stream_failure_line(
            r#"{"requestContext":{"condition":"RetryAttemptsExhausted"},"DDBStreamBatchInfo":{"shardId":"shard-1","startSequenceNumber":"100","endSequenceNumber":"104","approximateArrivalOfFirstRecord":"2026-11-27T10:00:00Z","batchSize":5}}"#,
        );
        assert_eq!(
            line,
            "batch of 5 record(s) from 2026-11-27T10:00:00Z (shard shard-1, sequence 100 to 104) failed: RetryAttemptsExhausted"
        );
    }
}
