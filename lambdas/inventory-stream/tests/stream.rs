//! The stream handler against moto: which records start which executions.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use inventory_domain::execution_name;
use inventory_stream::StockChecker;
use lambda_support::{SdkConfig, StartMode, WorkflowStarter};
use serde_json::{json, Value};
use testkit::{create_state_machine, executions, Moto, PASS_MACHINE};

/// A stream record of the item `id` as Lambda delivers it.
fn record(
    id: &str,
    event_id: &str,
    sequence: &str,
    event_name: &str,
    new_image: Option<Value>,
) -> Value {
    let mut change = json!({
        "Keys": {"id": {"S": id}},
        "SequenceNumber": sequence,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
        "ApproximateCreationDateTime": 1_700_000_000
    });
    if let Some(image) = new_image {
        change["NewImage"] = image;
    }
    json!({
        "eventID": event_id,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/inventory/stream/2026"
    })
}

fn image(id: &str, stock: &str) -> Value {
    json!({
        "id": {"S": id}, "name": {"S": "TV"}, "stock": {"N": stock},
        "threshold": {"N": "2"}, "status": {"S": "IN STOCK"}, "minPOAmount": {"N": "10"}
    })
}

/// A checker for a new workflow of its own, and the workflow's ARN.
async fn checker() -> (StockChecker, String) {
    let config = Moto::shared().sdk_config().await;
    let arn = create_state_machine(&config, PASS_MACHINE).await;
    let checker = StockChecker {
        workflow: WorkflowStarter {
            client: aws_sdk_sfn::Client::new(&config),
            state_machine_arn: arn.clone(),
            mode: StartMode::Async,
        },
    };
    (checker, arn)
}

/// The sequence numbers a response reports failed.
fn failed_sequences(response: DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier.unwrap())
        .collect()
}

/// The workflow `arn` ran exactly the `expected` executions (name, input).
async fn assert_started(config: &SdkConfig, arn: &str, mut expected: Vec<(String, Value)>) {
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(executions(config, arn).await, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_items_start_checks_and_malformed_ones_fail_by_sequence() {
    let config = Moto::shared().sdk_config().await;
    let (checker, arn) = checker().await;
    let mut pending = image("lamp", "1");
    pending["pendingPurchaseOrder"] = json!({"S": "po-1"});
    let mut wrong_type = image("desk", "3");
    wrong_type["stock"] = json!({"S": "three"});
    let event: Event = serde_json::from_value(json!({"Records": [
        record("tv", "e1", "100", "MODIFY", Some(image("tv", "2"))),
        record("lamp", "e2", "200", "INSERT", Some(pending)),
        record("desk", "e3", "300", "MODIFY", Some(wrong_type)),
        record("chair", "e4", "400", "REMOVE", None),
    ]}))
    .unwrap();

    let failed = failed_sequences(checker.handle(event).await);
    assert_eq!(failed, ["300"]);

    let expected = vec![
        (
            execution_name("stock", "e1"),
            json!({"id":"tv","name":"TV","stock":2,"threshold":2,"status":"IN STOCK","minPOAmount":10}),
        ),
        (
            execution_name("stock", "e2"),
            json!({"id":"lamp","name":"TV","stock":1,"threshold":2,"status":"IN STOCK","minPOAmount":10,"pendingPurchaseOrder":"po-1"}),
        ),
    ];
    assert_started(&config, &arn, expected).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_item_changed_many_times_in_a_batch_is_checked_once_at_its_newest() {
    let config = Moto::shared().sdk_config().await;
    let (checker, arn) = checker().await;
    let mut wrong_type = image("desk", "3");
    wrong_type["stock"] = json!({"S": "three"});
    let event: Event = serde_json::from_value(json!({"Records": [
        record("tv", "e1", "100", "MODIFY", Some(image("tv", "5"))),
        record("desk", "e2", "200", "MODIFY", Some(wrong_type)),
        record("tv", "e3", "300", "MODIFY", Some(image("tv", "4"))),
        record("chair", "e4", "400", "MODIFY", Some(image("chair", "9"))),
        record("chair", "e5", "500", "REMOVE", None),
        record("desk", "e6", "600", "MODIFY", Some(image("desk", "1"))),
        record("tv", "e7", "700", "MODIFY", Some(image("tv", "3"))),
    ]}))
    .unwrap();

    // A malformed record followed by a good one of its item is covered by
    // the newer one; the removed chair is not checked.
    assert!(failed_sequences(checker.handle(event).await).is_empty());
    let expected = vec![
        (
            execution_name("stock", "e6"),
            json!({"id":"desk","name":"TV","stock":1,"threshold":2,"status":"IN STOCK","minPOAmount":10}),
        ),
        (
            execution_name("stock", "e7"),
            json!({"id":"tv","name":"TV","stock":3,"threshold":2,"status":"IN STOCK","minPOAmount":10}),
        ),
    ];
    assert_started(&config, &arn, expected).await;
}

/// `record` for an item that was `old_image` before the change.
fn modified(id: &str, event_id: &str, sequence: &str, old_image: Value, new_image: Value) -> Value {
    let mut change = record(id, event_id, sequence, "MODIFY", Some(new_image));
    change["dynamodb"]["OldImage"] = old_image;
    change
}

fn with_marker(mut image: Value) -> Value {
    image["pendingPurchaseOrder"] = json!({"S": "po-1"});
    image
}

#[tokio::test(flavor = "multi_thread")]
async fn a_released_purchase_order_is_not_checked_but_a_stock_change_is() {
    let config = Moto::shared().sdk_config().await;
    let (checker, arn) = checker().await;
    let mut raised_threshold = image("desk", "3");
    raised_threshold["threshold"] = json!({"N": "5"});
    let mut wrong_type = image("chair", "4");
    wrong_type["stock"] = json!({"S": "four"});
    let event: Event = serde_json::from_value(json!({"Records": [
        // A rejected purchase order releases tv's marker and nothing else.
        modified("tv", "e1", "100", with_marker(image("tv", "2")), image("tv", "2")),
        // lamp dropped while its purchase order was open, then it was released.
        modified("lamp", "e2", "200", with_marker(image("lamp", "3")), with_marker(image("lamp", "2"))),
        modified("lamp", "e3", "300", with_marker(image("lamp", "2")), image("lamp", "2")),
        modified("desk", "e4", "400", image("desk", "3"), raised_threshold),
        // chair's change fails at its newest record: the retry must see it whole.
        modified("chair", "e5", "500", image("chair", "5"), image("chair", "4")),
        modified("chair", "e6", "600", image("chair", "4"), wrong_type),
    ]}))
    .unwrap();

    let failed = failed_sequences(checker.handle(event).await);
    assert_eq!(failed, ["500"]);
    let expected = vec![
        (
            execution_name("stock", "e3"),
            json!({"id":"lamp","name":"TV","stock":2,"threshold":2,"status":"IN STOCK","minPOAmount":10}),
        ),
        (
            execution_name("stock", "e4"),
            json!({"id":"desk","name":"TV","stock":3,"threshold":5,"status":"IN STOCK","minPOAmount":10}),
        ),
    ];
    assert_started(&config, &arn, expected).await;
}
