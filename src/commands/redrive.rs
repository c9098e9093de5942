//! `invctl redrive [QUEUE]`: sends what the dead-letter queues hold back to
//! be processed, once its cause is fixed, and says how many went.
//!
//! Each queue's way back comes from the stack's table of dead-letter queues
//! (`stack::queues`): dead-lettered orders return to the orders queue
//! through SQS's own move task (StartMessageMoveTask); events EventBridge
//! could not deliver are put on the stack's bus again (both consumers are
//! idempotent: an order id is reserved once, a product has one purchase
//! order open); stream failures describe batches of records, not the
//! records, so they are listed and left for a person to purge.

use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::commands::watch::{self, MAX_WAIT_SECONDS};
use crate::config::AwsArgs;
use crate::drive::{DeployedStack, DriveError, Resource};
use crate::output::ReportArgs;
use crate::stack::queues::{DeadLetterQueue, WayBack, DEAD_LETTER_QUEUES};

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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("cannot {action} queue {queue}: {message}")]
    Sqs {
        action: &'static str,
        queue: String,
        message: String,
    },
    #[error("cannot put the events of {queue} back on the bus: {message}")]
    PutEvents { queue: String, message: String },
    #[error("moving the orders back failed after {moved} of them: {reason}")]
    MoveFailed { moved: u64, reason: String },
    #[error("the orders are still being moved after {seconds} s ({moved} so far); SQS goes on, and `invctl redrive orders` again reports it")]
    MoveUnfinished { seconds: u64, moved: u64 },
    #[error("{0} message(s) could not be sent back and are still in their dead-letter queue (see above)")]
    Left(u64),
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

/// What was done with one dead-letter queue.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueReport {
    pub queue: &'static str,
    pub url: String,
    /// Messages it held (approximately, as SQS counts).
    pub waiting: u64,
    /// Sent back to be processed.
    pub moved: u64,
    /// Still there: not movable, or refused on the way back.
    pub left: u64,
    /// Why anything is left, or what the messages are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Whether its messages can go back at all (stream failures cannot).
    #[serde(skip)]
    pub redrivable: bool,
}

/// The clients and pace of a redrive.
pub struct Redriver {
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub poll: Duration,
    /// How long to follow SQS's move task.
    pub timeout: Duration,
}

impl Redriver {
    fn sqs_error<'a, E, R>(
        action: &'static str,
        queue: &'a str,
    ) -> impl FnOnce(aws_sdk_sqs::error::SdkError<E, R>) -> Error + 'a
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        move |e| Error::Sqs {
            action,
            queue: queue.to_owned(),
            message: crate::aws::error_text(&e),
        }
    }

    async fn attribute(
        &self,
        url: &str,
        name: QueueAttributeName,
    ) -> Result<Option<String>, Error> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(name.clone())
            .send()
            .await
            .map_err(Self::sqs_error("read", url))?;
        Ok(attributes.attributes.and_then(|mut a| a.remove(&name)))
    }

    async fn waiting(&self, url: &str) -> Result<u64, Error> {
        Ok(self
            .attribute(url, QueueAttributeName::ApproximateNumberOfMessages)
            .await?
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    async fn arn(&self, url: &str) -> Result<String, Error> {
        self.attribute(url, QueueAttributeName::QueueArn)
            .await?
            .ok_or_else(|| Error::Sqs {
                action: "read the ARN of",
                queue: url.to_owned(),
                message: "SQS returned none".into(),
            })
    }

    /// SQS's move task from the dead-letter queue back to `source`, followed
    /// until it ends or the timeout passes.
    async fn move_back(&self, report: &mut QueueReport, source_url: &str) -> Result<(), Error> {
        let from = self.arn(&report.url).await?;
        let to = self.arn(source_url).await?;
        let task = self
            .sqs
            .start_message_move_task()
            .source_arn(&from)
            .destination_arn(&to)
            .send()
            .await
            .map_err(Self::sqs_error("start moving messages out of", &report.url))?;
        let handle = task.task_handle.unwrap_or_default();
        let started = Instant::now();
        loop {
            let tasks = self
                .sqs
                .list_message_move_tasks()
                .source_arn(&from)
                .send()
                .await
                .map_err(Self::sqs_error("follow the move out of", &report.url))?;
            let ours = tasks
                .results()
                .iter()
                .find(|t| t.task_handle().is_none_or(|h| h == handle));
            if let Some(task) = ours {
                let moved = task.approximate_number_of_messages_moved().max(0) as u64;
                match task.status().unwrap_or_default() {
                    "COMPLETED" => {
                        report.moved = moved;
                        return Ok(());
                    }
                    "FAILED" | "CANCELLED" => {
                        return Err(Error::MoveFailed {
                            moved,
                            reason: task
                                .failure_reason()
                                .unwrap_or("SQS gave no reason")
                                .to_owned(),
                        })
                    }
                    _ if started.elapsed() >= self.timeout => {
                        return Err(Error::MoveUnfinished {
                            seconds: self.timeout.as_secs(),
                            moved,
                        })
                    }
                    _ => {}
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Up to ten messages, hidden from other readers for `visibility` seconds.
    async fn receive(
        &self,
        url: &str,
        visibility: i32,
    ) -> Result<Vec<aws_sdk_sqs::types::Message>, Error> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(visibility)
            // Long polling asks every SQS server, so an empty answer means empty.
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(Self::sqs_error("receive from", url))?;
        Ok(received.messages.unwrap_or_default())
    }

    /// Each message is an event: put it on the bus again, then delete it.
    /// A message that is not an event, or that the bus refuses, stays.
    async fn put_back_on_bus(&self, report: &mut QueueReport, bus: &str) -> Result<(), Error> {
        loop {
            // Anything left becomes visible again after this, not during the run.
            let messages = self.receive(&report.url, 60).await?;
            if messages.is_empty() {
                return Ok(());
            }
            let mut entries = Vec::new();
            let mut handles = Vec::new();
            for message in &messages {
                match event_entry(message.body().unwrap_or_default(), bus) {
                    Some(entry) => {
                        entries.push(entry);
                        handles.push(message.receipt_handle().unwrap_or_default().to_owned());
                    }
                    None => {
                        report.left += 1;
                        report.notes.push(format!(
                            "message {} is not an EventBridge event; left in the queue",
                            message.message_id().unwrap_or("?")
                        ));
                    }
                }
            }
            if entries.is_empty() {
                continue;
            }
            let put = self
                .events
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| Error::PutEvents {
                    queue: report.url.clone(),
                    message: crate::aws::error_text(&e),
                })?;
            let mut delete = Vec::new();
            for (i, (result, handle)) in put.entries().iter().zip(&handles).enumerate() {
                match result.error_code() {
                    None => delete.push(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(handle)
                            .build()
                            .expect("id and handle are set"),
                    ),
                    Some(code) => {
                        report.left += 1;
                        report.notes.push(format!(
                            "the bus refused an event ({code}: {}); left in the queue",
                            result.error_message().unwrap_or_default()
                        ));
                    }
                }
            }
            if !delete.is_empty() {
                let count = delete.len() as u64;
                self.sqs
                    .delete_message_batch()
                    .queue_url(&report.url)
                    .set_entries(Some(delete))
                    .send()
                    .await
                    .map_err(Self::sqs_error(
                        "delete redriven messages from",
                        &report.url,
                    ))?;
                report.moved += count;
            }
        }
    }

    /// Reads (without removing) what the stream's failure destination holds.
    async fn describe_stream_failures(&self, report: &mut QueueReport) -> Result<(), Error> {
        let mut seen = std::collections::HashSet::new();
        while (seen.len() as u64) < report.waiting {
            let messages = self.receive(&report.url, 30).await?;
            if messages.is_empty() {
                break;
            }
            for message in messages {
                if seen.insert(message.message_id().unwrap_or_default().to_owned()) {
                    report
                        .notes
                        .push(stream_failure_line(message.body().unwrap_or_default()));
                }
            }
        }
        report.left = report.waiting.max(seen.len() as u64);
        if report.left > 0 {
            report.notes.push(format!(
                "these describe batches of stream records, which cannot be replayed; the products they touched are checked again on their next change. Purge the queue once read: aws sqs purge-queue --queue-url {}",
                report.url
            ));
        }
        Ok(())
    }

    /// Empties one dead-letter queue of `stack` its own way; says what it did.
    pub async fn redrive(
        &self,
        stack: &mut DeployedStack,
        dead_letters: &DeadLetterQueue,
    ) -> Result<QueueReport, Error> {
        let url = stack.get(Resource::Queue(dead_letters.queue)).await?;
        let mut report = QueueReport {
            queue: dead_letters.name,
            redrivable: dead_letters.way_back != WayBack::None,
            waiting: self.waiting(&url).await?,
            url,
            ..QueueReport::default()
        };
        match dead_letters.way_back {
            WayBack::SourceQueue(source) => {
                if report.waiting > 0 {
                    let source_url = stack.get(Resource::Queue(source)).await?;
                    self.move_back(&mut report, &source_url).await?;
                }
            }
            WayBack::Bus => {
                let bus = stack.get(Resource::EventBus).await?;
                self.put_back_on_bus(&mut report, &bus).await?;
            }
            WayBack::None => self.describe_stream_failures(&mut report).await?,
        }
        Ok(report)
    }
}

/// The PutEvents entry that puts `body` (an event as EventBridge
/// dead-letters it) on `bus` again, if it is one.
pub fn event_entry(body: &str, bus: &str) -> Option<PutEventsRequestEntry> {
    let event: Value = serde_json::from_str(body).ok()?;
    let source = event.get("source")?.as_str()?;
    let detail_type = event.get("detail-type")?.as_str()?;
    let detail = event.get("detail").filter(|d| d.is_object())?;
    Some(
        PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(source)
            .detail_type(detail_type)
            .detail(detail.to_string())
            .build(),
    )
}

/// One line about a failed batch, from the record Lambda sends to an
/// on-failure destination.
fn stream_failure_line(body: &str) -> String {
    let Ok(record) = serde_json::from_str::<Value>(body) else {
        return "a message that is not a Lambda failure record".to_owned();
    };
    let batch = &record["DDBStreamBatchInfo"];
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    format!(
        "batch of {} record(s) from {} (shard {}, sequence {} to {}) failed: {}",
        text(&batch["batchSize"]),
        text(&batch["approximateArrivalOfFirstRecord"]),
        text(&batch["shardId"]),
        text(&batch["startSequenceNumber"]),
        text(&batch["endSequenceNumber"]),
        text(&record["requestContext"]["condition"]),
    )
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
    crate::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let redriver = Redriver {
            sqs: aws_sdk_sqs::Client::new(&stack.config),
            events: aws_sdk_eventbridge::Client::new(&stack.config),
            poll: watch::poll_interval(),
            timeout: Duration::from_secs(args.timeout),
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
    use super::*;

    #[test]
    fn only_whole_events_go_back_on_the_bus() {
        let entry = event_entry(
            r#"{"version":"0","id":"e1","source":"com.orders","detail-type":"new-order-received","detail":{"orderId":"o1","productId":"tv","quantity":1}}"#,
            "my-bus",
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
            assert!(event_entry(body, "b").is_none(), "{body}");
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
