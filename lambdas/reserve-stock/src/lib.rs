//! reserve-stock: one reserve-stock execution per queued order.
//!
//! Only the messages that failed are reported back (ReportBatchItemFailures),
//! so one bad order never redelivers the rest of the batch. A body that is
//! not a JSON object cannot be an order: it is reported failed every time
//! and so reaches the queue's dead-letter queue after its receive limit. An
//! object with wrong or missing fields is handed to the workflow, which
//! rejects it with a reason (an `order-rejected` event).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use inventory_domain::{execution_name, order_from_message};
use lambda_support::WorkflowStarter;
use serde_json::Value;

pub struct Reserver {
    pub workflow: WorkflowStarter,
}

/// The execution name of a message: from its orderId when it has one (so a
/// redelivered order gets the same name), else from the message id.
pub fn name_for(order: &serde_json::Map<String, Value>, message_id: &str) -> String {
    match order.get("orderId") {
        Some(Value::String(order_id)) if !order_id.is_empty() => execution_name("order", order_id),
        _ => execution_name("message", message_id),
    }
}

impl Reserver {
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let outcomes = futures_util::future::join_all(
            event.records.iter().map(|message| self.process(message)),
        )
        .await;
        let batch_item_failures = event
            .records
            .iter()
            .zip(outcomes)
            .filter(|(_, ok)| !ok)
            .map(|(message, _)| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                failure
            })
            .collect();
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = batch_item_failures;
        response
    }

    /// True when the message is done with.
    async fn process(&self, message: &SqsMessage) -> bool {
        let message_id = message.message_id.as_deref().unwrap_or_default();
        let order = match order_from_message(message.body.as_deref().unwrap_or_default()) {
            Ok(order) => order,
            Err(error) => {
                // The body is not logged: it may carry customer data.
                tracing::warn!(message_id, %error, "not an order; left for the dead-letter queue");
                return false;
            }
        };
        let name = name_for(&order, message_id);
        // The order id (not customer data) lets `invctl logs --order` find
        // this function's part in an order.
        let order_id = order
            .get("orderId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let input = Value::Object(order).to_string();
        match self.workflow.start(&name, input).await {
            Ok(()) => {
                tracing::info!(
                    order_id,
                    message_id,
                    execution = name,
                    "order handed to its workflow"
                );
                true
            }
            Err(error) => {
                tracing::warn!(order_id, message_id, %error, "reservation not done; the message will be retried");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn names_follow_the_order_id_and_fall_back_to_the_message() {
        let named = name_for(&object(json!({"orderId": "o-1"})), "m-1");
        assert_eq!(
            named,
            name_for(&object(json!({"orderId": "o-1", "x": 1})), "m-2")
        );
        assert_eq!(
            name_for(&object(json!({"orderId": 7})), "m-1"),
            execution_name("message", "m-1")
        );
        assert_eq!(
            name_for(&object(json!({"orderId": ""})), "m-1"),
            execution_name("message", "m-1")
        );
    }
}
