//! inventory-stream: one check-inventory-level execution per item whose
//! stock level a batch changed, with the item's newest image.
//!
//! The check decides on the stock level as it is now, so an item's older
//! records in the same batch add nothing: a burst of orders for one product
//! arrives as up to a hundred records and is checked once, not a hundred
//! times (on AWS, one express execution and its events instead of a
//! hundred). The event source mapping already filters on `status = IN
//! STOCK` (as the sample did); an item whose newest record has no new image
//! (a deletion) is skipped.
//!
//! An item whose stock, threshold and status the batch left as they were is
//! skipped too: only the purchase-order bookkeeping changed. A rejected or
//! expired purchase order releases the product's marker without restocking
//! it, and checking that record would open a new purchase order at once,
//! for a product somebody has just declined to restock (and, unanswered,
//! one a day for ever). The product's next stock change is checked as usual.
//!
//! A failed item is reported by the sequence number of its oldest record in
//! the batch, so Lambda retries from there and the retry sees the same
//! change; after its retry limit the record goes to the failure queue.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use inventory_domain::{execution_name, inventory, Product};
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

/// The attributes the stock check decides on.
const LEVEL: [&str; 3] = [inventory::STOCK, inventory::THRESHOLD, inventory::STATUS];

/// What one batch did to one item: its first and its last record.
pub struct ItemChange<'a> {
    pub oldest: &'a EventRecord,
    pub newest: &'a EventRecord,
}

impl ItemChange<'_> {
    /// Whether the batch changed what the check decides on. An item with no
    /// image from before the batch (an insert) is new, so changed.
    pub fn changes_level(&self) -> bool {
        let before = &self.oldest.change.old_image;
        let after = &self.newest.change.new_image;
        before.is_empty()
            || LEVEL
                .iter()
                .any(|name| before.get(*name) != after.get(*name))
    }
}

/// Each item's change in a batch, in the order of the items' newest records
/// (Lambda delivers a shard's records in sequence order).
pub fn changes_per_item(records: &[EventRecord]) -> Vec<ItemChange<'_>> {
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
    let mut span = std::collections::HashMap::new();
    for (at, record) in records.iter().enumerate() {
        span.entry(item(record))
            .and_modify(|(_, newest)| *newest = at)
            .or_insert((at, at));
    }
    records
        .iter()
        .enumerate()
        .filter_map(|(at, record)| {
            let (oldest, newest) = span[&item(record)];
            (newest == at).then(|| ItemChange {
                oldest: &records[oldest],
                newest: record,
            })
        })
        .collect()
}

impl StockChecker {
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let changes = changes_per_item(&event.records);
        let outcomes =
            futures_util::future::join_all(changes.iter().map(|change| self.check(change))).await;
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = changes
            .iter()
            .zip(outcomes)
            .filter(|(_, outcome)| *outcome == Outcome::Failed)
            .map(|(change, _)| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = change.oldest.change.sequence_number.clone();
                failure
            })
            .collect();
        response
    }

    async fn check(&self, change: &ItemChange<'_>) -> Outcome {
        if !change.changes_level() {
            tracing::info!(
                sequence = change
                    .newest
                    .change
                    .sequence_number
                    .as_deref()
                    .unwrap_or_default(),
                "stock level unchanged: not checked"
            );
            return Outcome::Skipped;
        }
        self.process(change.newest).await
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
