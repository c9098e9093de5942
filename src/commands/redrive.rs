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

use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::commands::watch::MAX_WAIT_SECONDS;
use crate::config::AwsArgs;
use crate::drive::{DeployedStack, DriveError, Resource};
use crate::output::ReportArgs;
use crate::stack::queues::{DeadLetterQueue, RoutedEvent, WayBack, DEAD_LETTER_QUEUES};

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
    #[error("{count} event(s) are back on the bus but could not be deleted from queue {queue}: {message}; they are recorded in {journal}, and `invctl redrive events` again deletes them without putting them on the bus twice")]
    NotDeleted {
        count: usize,
        queue: String,
        message: String,
        journal: std::path::PathBuf,
    },
    #[error("cannot keep the redrive journal {path}: {source}")]
    Journal {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
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
    /// Where the journal of events put back but not yet deleted lives.
    pub journal_dir: std::path::PathBuf,
}

/// The SQS message ids of events put back on the bus whose messages are
/// not deleted yet, for one queue: a file of one id per line.
struct Journal {
    path: std::path::PathBuf,
    ids: std::collections::BTreeSet<String>,
}

impl Journal {
    fn open(dir: &std::path::Path, queue_url: &str) -> Result<Journal, Error> {
        let key = crate::build::sha256_hex(queue_url.as_bytes());
        let path = dir.join(format!("redriven-{}.txt", &key[..16]));
        let ids = match std::fs::read_to_string(&path) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(source) => return Err(Error::Journal { path, source }),
        };
        Ok(Journal { path, ids })
    }

    fn save(&self) -> Result<(), Error> {
        let failed = |source| Error::Journal {
            path: self.path.clone(),
            source,
        };
        if self.ids.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed(e)),
                _ => Ok(()),
            };
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let text: String = self.ids.iter().map(|id| format!("{id}\n")).collect();
        crate::output::write_private(&self.path, text.as_bytes()).map_err(failed)
    }
}

/// Where invctl keeps what must outlive one run: `$XDG_STATE_HOME/invctl`,
/// else `~/.local/state/invctl`.
pub fn state_dir() -> std::path::PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/state"))
        })
        .unwrap_or_else(|| std::path::PathBuf::from(".invctl"));
    base.join("invctl")
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
            message: crate::aws::error::text(&e),
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

    /// Each message is an event one of `routed` failed to deliver: put it
    /// on the bus again, then delete it. A message that is not such an
    /// event, or that the bus refuses, stays.
    async fn put_back_on_bus(
        &self,
        report: &mut QueueReport,
        bus: &str,
        routed: &[RoutedEvent],
    ) -> Result<(), Error> {
        let mut journal = Journal::open(&self.journal_dir, &report.url)?;
        loop {
            // Anything left becomes visible again after this, not during the run.
            let messages = self.receive(&report.url, 60).await?;
            if messages.is_empty() {
                return Ok(());
            }
            let mut entries = Vec::new();
            let mut to_put = Vec::new();
            // (message id, receipt handle) of messages whose events are on the bus.
            let mut to_delete = Vec::new();
            for message in &messages {
                let id = message.message_id().unwrap_or_default().to_owned();
                let handle = message.receipt_handle().unwrap_or_default().to_owned();
                if journal.ids.contains(&id) {
                    report.notes.push(format!(
                        "message {id} was put back on the bus by an earlier run; deleted now"
                    ));
                    to_delete.push((id, handle));
                    continue;
                }
                match event_entry(message.body().unwrap_or_default(), bus, routed) {
                    Ok(entry) => {
                        entries.push(entry);
                        to_put.push((id, handle));
                    }
                    Err(why) => {
                        report.left += 1;
                        report
                            .notes
                            .push(format!("message {id} {why}; left in the queue"));
                    }
                }
            }
            if !entries.is_empty() {
                let put = self
                    .events
                    .put_events()
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| Error::PutEvents {
                        queue: report.url.clone(),
                        message: crate::aws::error::text(&e),
                    })?;
                for (result, message) in put.entries().iter().zip(to_put) {
                    match result.error_code() {
                        None => to_delete.push(message),
                        Some(code) => {
                            report.left += 1;
                            report.notes.push(format!(
                                "the bus refused an event ({code}: {}); left in the queue",
                                result.error_message().unwrap_or_default()
                            ));
                        }
                    }
                }
            }
            if to_delete.is_empty() {
                continue;
            }
            // Recorded before the delete: if it fails, a rerun must not
            // put these on the bus again.
            journal
                .ids
                .extend(to_delete.iter().map(|(id, _)| id.clone()));
            journal.save()?;
            let entries = to_delete
                .iter()
                .enumerate()
                .map(|(i, (_, handle))| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                        .expect("id and handle are set")
                })
                .collect();
            let deleted = self
                .sqs
                .delete_message_batch()
                .queue_url(&report.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| Error::NotDeleted {
                    count: to_delete.len(),
                    queue: report.url.clone(),
                    message: crate::aws::error::text(&e),
                    journal: journal.path.clone(),
                })?;
            let failed: std::collections::HashSet<&str> =
                deleted.failed().iter().map(|f| f.id()).collect();
            for (i, (id, _)) in to_delete.iter().enumerate() {
                if failed.contains(i.to_string().as_str()) {
                    report.left += 1;
                    report.notes.push(format!(
                        "message {id} is back on the bus but could not be deleted; the next run deletes it without putting it twice"
                    ));
                } else {
                    journal.ids.remove(id);
                    report.moved += 1;
                }
            }
            journal.save()?;
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
            WayBack::Bus(routed) => {
                let bus = stack.get(Resource::EventBus).await?;
                self.put_back_on_bus(&mut report, &bus, routed).await?;
            }
            WayBack::None => self.describe_stream_failures(&mut report).await?,
        }
        Ok(report)
    }
}

/// The PutEvents entry that puts `body` (an event as EventBridge
/// dead-letters it) on `bus` again, if it is one `routed` names; else why not.
pub fn event_entry(
    body: &str,
    bus: &str,
    routed: &[RoutedEvent],
) -> Result<PutEventsRequestEntry, String> {
    let not_an_event = || "is not an EventBridge event".to_owned();
    let event: Value = serde_json::from_str(body).map_err(|_| not_an_event())?;
    let field = |name| event.get(name).and_then(Value::as_str);
    let (Some(source), Some(detail_type)) = (field("source"), field("detail-type")) else {
        return Err(not_an_event());
    };
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(not_an_event)?;
    if !routed
        .iter()
        .any(|r| r.source == source && r.detail_type == detail_type)
    {
        return Err(format!(
            "holds a {source}/{detail_type} event, which no rule that dead-letters here routes (it was not put there by the stack, and is not published with your credentials)"
        ));
    }
    Ok(PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(source)
        .detail_type(detail_type)
        .detail(detail.to_string())
        .build())
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
