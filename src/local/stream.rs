//! DynamoDB stream mappings, with Lambda's semantics: records in order per
//! shard from the mapping's starting position, its filter criteria applied
//! before invoking, batches up to its size, ReportBatchItemFailures (the
//! batch is retried from the first failed record), retries up to its
//! maximum, bisection of a failing batch, and the on-failure destination
//! (an SQS queue) told of a batch given up on.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_lambda::types::EventSourceMappingConfiguration;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::console::{Console, RepeatedFailure};
use super::plane::{Outcome, Plane};
use super::{batch_answer, BatchAnswer};

pub struct StreamPoller {
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    plane: Plane,
    console: Console,
    stream_arn: String,
    function: String,
    batch_size: usize,
    /// LATEST: records from when the mapping was made (seconds since the
    /// epoch); None for TRIM_HORIZON, every record.
    since: Option<i64>,
    filters: Vec<Value>,
    report_failures: bool,
    bisect: bool,
    /// None: retry until the records expire (Lambda's -1).
    max_retries: Option<u32>,
    on_failure: Option<String>,
}

impl StreamPoller {
    pub fn new(
        config: &SdkConfig,
        plane: Plane,
        console: Console,
        mapping: &EventSourceMappingConfiguration,
    ) -> Self {
        let function = mapping.function_arn().unwrap_or_default();
        StreamPoller {
            streams: aws_sdk_dynamodbstreams::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            plane,
            console,
            stream_arn: mapping.event_source_arn().unwrap_or_default().to_owned(),
            function: function
                .rsplit_once(":function:")
                .map(|(_, name)| name.split(':').next().unwrap_or(name))
                .unwrap_or(function)
                .to_owned(),
            batch_size: mapping.batch_size().unwrap_or(100).clamp(1, 1000) as usize,
            // Lambda reads LATEST from when the mapping is enabled, not from
            // when a poller gets to it: here that is later (the function
            // must be loaded first), and a record written in between (the
            // first orders after a deploy) would be missed.
            since: mapping
                .starting_position()
                .is_none_or(|p| p.as_str() != "TRIM_HORIZON")
                .then(|| {
                    mapping
                        .last_modified()
                        .map(|at| at.secs())
                        .unwrap_or_else(|| {
                            aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs()
                        })
                }),
            filters: mapping
                .filter_criteria()
                .map(|c| {
                    c.filters()
                        .iter()
                        .filter_map(|f| serde_json::from_str(f.pattern()?).ok())
                        .collect()
                })
                .unwrap_or_default(),
            report_failures: mapping
                .function_response_types()
                .iter()
                .any(|t| t.as_str() == "ReportBatchItemFailures"),
            bisect: mapping.bisect_batch_on_function_error().unwrap_or(false),
            max_retries: mapping
                .maximum_retry_attempts()
                .filter(|n| *n >= 0)
                .map(|n| n as u32),
            on_failure: mapping
                .destination_config()
                .and_then(|d| d.on_failure())
                .and_then(|f| f.destination())
                .map(str::to_owned),
        }
    }

    async fn shard_iterators(&self) -> Result<Vec<String>, String> {
        let stream = self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(|e| crate::aws::error::text(&e))?;
        let mut iterators = Vec::new();
        let description = stream
            .stream_description()
            .ok_or("DescribeStream answered no description")?;
        for shard in description.shards() {
            // From the start of the shard either way; LATEST is `since`.
            let kind = ShardIteratorType::TrimHorizon;
            let iterator = self
                .streams
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .set_shard_id(shard.shard_id().map(str::to_owned))
                .shard_iterator_type(kind)
                .send()
                .await
                .map_err(|e| crate::aws::error::text(&e))?;
            iterators.extend(iterator.shard_iterator);
        }
        Ok(iterators)
    }

    /// A failed stream request, on the console once until it changes.
    fn report(&self, failure: &RepeatedFailure, why: String) {
        failure.report(
            &self.console,
            format!(
                "{}: cannot read the stream of {} (retrying): {why}",
                self.function,
                table_of(&self.stream_arn)
            ),
        );
    }

    pub async fn run(self) {
        let failure = RepeatedFailure::default();
        let mut iterators = loop {
            match self.shard_iterators().await {
                Ok(iterators) => break iterators,
                Err(why) => self.report(&failure, why),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        failure.settled();
        loop {
            if !self.plane.loaded().contains_key(&self.function) {
                // Being replaced or removed: read nothing meanwhile.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let mut idle = true;
            for iterator in iterators.iter_mut() {
                let page = match self
                    .streams
                    .get_records()
                    .shard_iterator(iterator.clone())
                    .limit(self.batch_size as i32)
                    .send()
                    .await
                {
                    Ok(page) => {
                        failure.settled();
                        page
                    }
                    Err(e) => {
                        self.report(&failure, crate::aws::error::text(&e));
                        continue;
                    }
                };
                if let Some(next) = page.next_shard_iterator() {
                    *iterator = next.to_owned();
                }
                let records: Vec<Value> = page
                    .records()
                    .iter()
                    .filter(|r| self.wanted(r))
                    .map(|r| record_json(r, &self.stream_arn))
                    .filter(|r| {
                        self.filters.is_empty() || self.filters.iter().any(|f| matches(f, r))
                    })
                    .collect();
                if !records.is_empty() {
                    idle = false;
                    self.deliver(records).await;
                }
            }
            if idle {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }

    /// Whether a record is recent enough for the mapping's starting position
    /// (a second of slack: the times are whole seconds).
    fn wanted(&self, record: &Record) -> bool {
        let Some(since) = self.since else {
            return true;
        };
        record
            .dynamodb()
            .and_then(|d| d.approximate_creation_date_time())
            .is_none_or(|at| at.secs() >= since - 1)
    }

    /// Delivers `records` until they are processed or given up on.
    async fn deliver(&self, records: Vec<Value>) {
        let mut pending = vec![records];
        while let Some(mut batch) = pending.pop() {
            let mut retries = 0;
            loop {
                self.console.line(format!(
                    "{}: {} record(s) -> {}",
                    table_of(&self.stream_arn),
                    batch.len(),
                    self.function
                ));
                let event = json!({ "Records": batch });
                let outcome = super::faults::deliver(
                    &self.plane,
                    &self.console,
                    "stream",
                    &self.function,
                    Bytes::from(event.to_string()),
                )
                .await;
                let failed_from = match &outcome {
                    Some(Outcome::Response(payload)) if self.report_failures => {
                        let sequence_numbers: Vec<&str> = batch
                            .iter()
                            .filter_map(|r| r["dynamodb"]["SequenceNumber"].as_str())
                            .collect();
                        match batch_answer(payload, &sequence_numbers) {
                            BatchAnswer::Succeeded => None,
                            // Lambda resumes from the lowest sequence number reported.
                            BatchAnswer::Failed(failures) => batch.iter().position(|r| {
                                failures
                                    .iter()
                                    .any(|f| r["dynamodb"]["SequenceNumber"].as_str() == Some(f))
                            }),
                            BatchAnswer::Malformed(why) => {
                                self.console.failure(format!(
                                    "{}: {why}; the whole batch failed",
                                    self.function
                                ));
                                Some(0)
                            }
                        }
                    }
                    Some(Outcome::Response(_)) => None,
                    Some(Outcome::Error { .. }) | None => Some(0),
                };
                let Some(first_failed) = failed_from else {
                    self.console.success(format!(
                        "{}: {} record(s) processed",
                        self.function,
                        batch.len()
                    ));
                    break;
                };
                self.console.failure(format!(
                    "{}: failed from record {} of {}; retried",
                    self.function,
                    first_failed + 1,
                    batch.len()
                ));
                // Processed records before the first failure are not sent again.
                batch.drain(..first_failed);
                if self.max_retries.is_some_and(|max| retries >= max) {
                    self.give_up(&batch).await;
                    break;
                }
                retries += 1;
                if self.bisect && batch.len() > 1 && matches!(outcome, Some(Outcome::Error { .. }))
                {
                    let second = batch.split_off(batch.len() / 2);
                    pending.push(second);
                    pending.push(batch);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Tells the on-failure destination about a batch given up on, with the
    /// record Lambda sends (the batch's place in the stream, not its data).
    async fn give_up(&self, batch: &[Value]) {
        let sequence = |r: &Value| r["dynamodb"]["SequenceNumber"].clone();
        self.console.failure(format!(
            "{}: gave up on {} record(s) after its retries",
            self.function,
            batch.len()
        ));
        let Some(destination) = &self.on_failure else {
            return;
        };
        let record = json!({
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.max_retries.map(|n| n + 1),
            },
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": batch.first().map(sequence),
                "endSequenceNumber": batch.last().map(sequence),
                "approximateArrivalOfFirstRecord": batch.first().map(|r| r["dynamodb"]["ApproximateCreationDateTime"].clone()),
                "approximateArrivalOfLastRecord": batch.last().map(|r| r["dynamodb"]["ApproximateCreationDateTime"].clone()),
                "batchSize": batch.len(),
                "streamArn": self.stream_arn,
            }
        });
        let Some(name) = destination.rsplit(':').next() else {
            return;
        };
        if let Ok(queue) = self.sqs.get_queue_url().queue_name(name).send().await {
            let _ = self
                .sqs
                .send_message()
                .queue_url(queue.queue_url().unwrap_or_default())
                .message_body(record.to_string())
                .send()
                .await;
        }
    }
}

/// The table a stream ARN belongs to (`...:table/NAME/stream/LABEL`).
pub fn table_of(stream_arn: &str) -> &str {
    stream_arn
        .split_once(":table/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(stream_arn)
}

/// An attribute value in DynamoDB's JSON form (`{"S": "..."}`).
fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::B(b) => json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({
            "BS": v.iter().map(|b| aws_smithy_types::base64::encode(b.as_ref())).collect::<Vec<_>>()
        }),
        AttributeValue::L(items) => {
            json!({ "L": items.iter().map(attribute_json).collect::<Vec<_>>() })
        }
        AttributeValue::M(map) => json!({ "M": item_json(map) }),
        _ => Value::Null,
    }
}

fn item_json(item: &std::collections::HashMap<String, AttributeValue>) -> Map<String, Value> {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| (k.clone(), attribute_json(&item[k])))
        .collect()
}

/// A stream record as Lambda gives it to a function.
pub(crate) fn record_json(record: &Record, stream_arn: &str) -> Value {
    let mut dynamodb = Map::new();
    if let Some(data) = record.dynamodb() {
        if let Some(at) = data.approximate_creation_date_time() {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(at.secs()));
        }
        for (name, image) in [
            ("Keys", data.keys()),
            ("NewImage", data.new_image()),
            ("OldImage", data.old_image()),
        ] {
            if let Some(image) = image {
                dynamodb.insert(name.into(), Value::Object(item_json(image)));
            }
        }
        dynamodb.insert("SequenceNumber".into(), json!(data.sequence_number()));
        dynamodb.insert("SizeBytes".into(), json!(data.size_bytes()));
        dynamodb.insert(
            "StreamViewType".into(),
            json!(data.stream_view_type().map(|v| v.as_str())),
        );
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or(super::account::REGION),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

/// Whether `record` matches an event-filtering pattern: every key of the
/// pattern is in the record, and a list of values matches any of them
/// (the subset of EventBridge patterns that exact matching needs).
pub fn matches(pattern: &Value, record: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(key, wanted)| record.get(key).is_some_and(|value| matches(wanted, value))),
        Value::Array(choices) => choices.iter().any(|choice| match choice {
            Value::Object(_) => matches(choice, record),
            literal => literal == record,
        }),
        literal => literal == record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stacks_filter_passes_in_stock_items_only() {
        let pattern = json!({"dynamodb": {"NewImage": {"status": {"S": ["IN STOCK"]}}}});
        let record = |status: &str| json!({"eventName": "MODIFY", "dynamodb": {"NewImage": {"id": {"S": "tv"}, "status": {"S": status}}}});
        assert!(matches(&pattern, &record("IN STOCK")));
        assert!(!matches(&pattern, &record("OUT OF STOCK")));
        assert!(!matches(
            &pattern,
            &json!({"eventName": "REMOVE", "dynamodb": {"OldImage": {}}})
        ));
    }
}
