//! inventory-stream: one check-inventory-level execution per item changed
//! in a batch, with the item's newest image.
//!
//! The check decides on the stock level as it is now, so an item's older
//! records in the same batch add nothing: a burst of orders for one product
//! arrives as up to a hundred records and is checked once, not a hundred
//! times (on AWS, one express execution and its events instead of a
//! hundred). The event source mapping already filters on `status = IN
//! STOCK` (as the sample did); an item whose newest record has no new image
//! (a deletion) is skipped. A record that fails is reported by its sequence
//! number, so Lambda retries from there (which covers the item's older
//! records) and, after its retry limit, sends it to the failure queue.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use inventory_domain::{execution_name, Product};
use lambda_support::WorkflowStarter;

pub struct StockChecker {
    pub workflow: WorkflowStarter,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Skipped,
    Failed,
}

/// The product in a record's new image, or why it is not one.
pub fn product_of(record: &EventRecord) -> Result<Option<Product>, serde_dynamo::Error> {
    let image = &record.change.new_image;
    if image.is_empty() {
        return Ok(None);
    }
    serde_dynamo::from_item(image.clone()).map(Some)
}

/// The newest record of each item in a batch, in the batch's order
/// (Lambda delivers a shard's records in sequence order).
pub fn newest_per_item(records: &[EventRecord]) -> Vec<&EventRecord> {
    let item = |record: &EventRecord| {
        let mut key: Vec<String> = record
            .change
            .keys
            .iter()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect();
        key.sort();
        key
    };
    let mut newest_at = std::collections::HashMap::new();
    for (at, record) in records.iter().enumerate() {
        newest_at.insert(item(record), at);
    }
    records
        .iter()
        .enumerate()
        .filter(|(at, record)| newest_at[&item(record)] == *at)
        .map(|(_, record)| record)
        .collect()
}

impl StockChecker {
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let newest = newest_per_item(&event.records);
        let outcomes = futures_util::future::join_all(newest.iter().map(|r| self.process(r))).await;
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = newest
            .iter()
            .zip(outcomes)
            .filter(|(_, outcome)| *outcome == Outcome::Failed)
            .map(|(record, _)| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                failure
            })
            .collect();
        response
    }

    pub async fn process(&self, record: &EventRecord) -> Outcome {
        let sequence = record.change.sequence_number.as_deref().unwrap_or_default();
        let product = match product_of(record) {
            Ok(Some(product)) => product,
            Ok(None) => return Outcome::Skipped,
            Err(error) => {
                tracing::error!(sequence, %error, "the item is not a product");
                return Outcome::Failed;
            }
        };
        // The event id is unique per change: a retried record keeps its name.
        let name = execution_name("stock", &record.event_id);
        let input = serde_json::to_string(&product).expect("products serialize");
        match self.workflow.start(&name, input).await {
            Ok(()) => Outcome::Started,
            Err(error) => {
                tracing::warn!(sequence, %error, "stock check not done; the record will be retried");
                Outcome::Failed
            }
        }
    }
}
