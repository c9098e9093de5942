//! Each dead-letter queue's way back: SQS's move task for orders, the bus
//! for undelivered events (only those their rules route), a description
//! for stream failures.

use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use serde::Serialize;
use serde_json::Value;

use super::error::Error;
use super::journal::Journal;
use crate::drive::{DeployedStack, Resource};
use crate::stack::queues::{DeadLetterQueue, RoutedEvent, WayBack};

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
pub(super) fn stream_failure_line(body: &str) -> String {
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
