//! An SQS event-source mapping's poller, with Lambda's semantics: batches
//! up to the mapping's size within its window, the queue's visibility
//! timeout, ReportBatchItemFailures, and moto's redrive on receive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_lambda::types::EventSourceMappingConfiguration;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use bytes::Bytes;
use serde_json::{json, Value};

use super::names::{function_name, short};
use crate::local::console::{Console, RepeatedFailure};
use crate::local::plane::{Outcome, Plane};
use crate::local::BatchAnswer;

/// Batches a mapping may have in flight at once.
const CONCURRENT_BATCHES: usize = 4;

pub(super) struct QueuePoller {
    /// Signs as the function's execution role.
    sqs: aws_sdk_sqs::Client,
    /// The Lambda service's own: it knows a mapping's queue URL, where the
    /// role needs no sqs:GetQueueUrl.
    lookup: aws_sdk_sqs::Client,
    plane: Plane,
    console: Console,
    queue_arn: String,
    function: String,
    batch_size: i32,
    window: Duration,
    report_failures: bool,
    receive_failure: RepeatedFailure,
}

impl QueuePoller {
    pub(super) fn new(
        service: &SdkConfig,
        config: &SdkConfig,
        plane: Plane,
        console: Console,
        mapping: &EventSourceMappingConfiguration,
    ) -> Self {
        QueuePoller {
            sqs: aws_sdk_sqs::Client::new(config),
            lookup: aws_sdk_sqs::Client::new(service),
            plane,
            console,
            queue_arn: mapping.event_source_arn().unwrap_or_default().to_owned(),
            function: function_name(mapping.function_arn().unwrap_or_default()).to_owned(),
            batch_size: mapping.batch_size().unwrap_or(10).clamp(1, 10),
            window: Duration::from_secs(
                mapping
                    .maximum_batching_window_in_seconds()
                    .unwrap_or(0)
                    .max(0) as u64,
            ),
            report_failures: mapping
                .function_response_types()
                .iter()
                .any(|t| t.as_str() == "ReportBatchItemFailures"),
            receive_failure: RepeatedFailure::default(),
        }
    }

    async fn queue_url(&self) -> Option<String> {
        let (account, name) = {
            let mut parts = self.queue_arn.split(':').skip(4);
            (parts.next()?, parts.next()?)
        };
        self.lookup
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .ok()?
            .queue_url
    }

    pub(super) async fn run(self) {
        let poller = Arc::new(self);
        let url = loop {
            if let Some(url) = poller.queue_url().await {
                break url;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_BATCHES));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            if !poller.plane.loaded().contains_key(&poller.function) {
                // Being replaced (new code) or removed: take nothing meanwhile.
                drop(slot);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let batch = poller.gather(&url).await;
            if batch.is_empty() {
                drop(slot);
                continue;
            }
            let worker = poller.clone();
            let url = url.clone();
            tokio::spawn(async move {
                worker.process(&url, batch).await;
                drop(slot);
            });
        }
    }

    /// Up to a batch of messages, waiting up to the batching window to fill it.
    async fn gather(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let started = Instant::now();
        let mut batch = Vec::new();
        loop {
            let wanted = self.batch_size - batch.len() as i32;
            let received = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(wanted)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await;
            match received {
                Ok(answer) => {
                    self.receive_failure.settled();
                    batch.extend(answer.messages.unwrap_or_default())
                }
                Err(e) => {
                    self.receive_failure.report(
                        &self.console,
                        format!(
                            "{}: cannot receive from {} (retrying every second): {}",
                            self.function,
                            short(&self.queue_arn),
                            crate::aws::error::text(&e)
                        ),
                    );
                    tokio::time::sleep(Duration::from_secs(1)).await
                }
            }
            if batch.len() as i32 >= self.batch_size || started.elapsed() >= self.window {
                return batch;
            }
        }
    }

    async fn process(&self, url: &str, batch: Vec<aws_sdk_sqs::types::Message>) {
        let event = sqs_event(&self.queue_arn, &batch);
        self.console.line(format!(
            "{}: {} message(s) -> {}",
            short(&self.queue_arn),
            batch.len(),
            self.function
        ));
        let outcome = crate::local::faults::deliver(
            &self.plane,
            &self.console,
            "sqs",
            &self.function,
            Bytes::from(event.to_string()),
        )
        .await;
        let failed: Vec<String> = match &outcome {
            Some(Outcome::Response(payload)) if self.report_failures => {
                let ids: Vec<&str> = batch.iter().filter_map(|m| m.message_id()).collect();
                match crate::local::batch_answer(payload, &ids) {
                    BatchAnswer::Succeeded => Vec::new(),
                    BatchAnswer::Failed(failed) => failed,
                    BatchAnswer::Malformed(why) => {
                        // As Lambda does: the whole batch failed, and comes
                        // back when its visibility timeout ends.
                        self.console.failure(format!(
                            "{}: {why}; the whole batch failed and stays in the queue",
                            self.function
                        ));
                        return;
                    }
                }
            }
            Some(Outcome::Response(_)) => Vec::new(),
            Some(Outcome::Error { body, .. }) => {
                self.console.failure(format!(
                    "{}: function error, the batch stays in the queue: {}",
                    self.function,
                    String::from_utf8_lossy(body)
                ));
                return;
            }
            None => {
                // The function went away meanwhile: hand the batch back now.
                for message in &batch {
                    if let Some(handle) = message.receipt_handle() {
                        let _ = self
                            .sqs
                            .change_message_visibility()
                            .queue_url(url)
                            .receipt_handle(handle)
                            .visibility_timeout(0)
                            .send()
                            .await;
                    }
                }
                return;
            }
        };
        let done: Vec<DeleteMessageBatchRequestEntry> = batch
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if failed.is_empty() {
            self.console
                .success(format!("{}: {} processed", self.function, done.len()));
        } else {
            self.console.failure(format!(
                "{}: {} processed, {} failed and stay in the queue: {}",
                self.function,
                done.len(),
                failed.len(),
                failed.join(", ")
            ));
        }
        if !done.is_empty() {
            let count = done.len();
            let deleted = self
                .sqs
                .delete_message_batch()
                .queue_url(url)
                .set_entries(Some(done))
                .send()
                .await;
            let not_deleted = match &deleted {
                Ok(answer) => answer.failed().first().map(|first| {
                    (
                        answer.failed().len(),
                        format!("{}: {}", first.code(), first.message().unwrap_or_default()),
                    )
                }),
                Err(e) => Some((count, crate::aws::error::text(e))),
            };
            // As on AWS the messages come back; the line says why they do.
            if let Some((count, why)) = not_deleted {
                self.console.failure(format!(
                    "{}: {count} processed message(s) not deleted, so the queue delivers them again after their visibility timeout: {why}",
                    self.function
                ));
            }
        }
    }
}

/// The event Lambda gives a function for SQS messages.
pub(crate) fn sqs_event(queue_arn: &str, messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let region = queue_arn
        .split(':')
        .nth(3)
        .unwrap_or(crate::local::account::REGION);
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body().unwrap_or_default(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}
