//! The SQS handler against moto: which messages start which executions,
//! and which are reported failed.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use inventory_domain::execution_name;
use lambda_support::{StartMode, WorkflowStarter};
use reserve_stock::Reserver;
use serde_json::json;
use testkit::{create_state_machine, executions, Moto, PASS_MACHINE};

fn event(messages: &[(&str, &str)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|(id, body)| {
            let mut message = SqsMessage::default();
            message.message_id = Some((*id).to_owned());
            message.body = Some((*body).to_owned());
            message
        })
        .collect();
    event
}

async fn reserver(config: &lambda_support::SdkConfig) -> (Reserver, String) {
    let arn = create_state_machine(config, PASS_MACHINE).await;
    let reserver = Reserver {
        workflow: WorkflowStarter {
            client: aws_sdk_sfn::Client::new(config),
            state_machine_arn: arn.clone(),
            mode: StartMode::Async,
        },
    };
    (reserver, arn)
}

fn failed_ids(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_order_starts_one_execution_and_only_bad_messages_fail() {
    let config = Moto::shared().sdk_config().await;
    let (reserver, arn) = reserver(&config).await;
    let envelope = json!({
        "version": "0", "source": "com.orders", "detail-type": "new-order-received",
        "detail": {"orderId": "o-2", "productId": "desk", "quantity": 1}
    })
    .to_string();
    let response = reserver
        .handle(event(&[
            ("m1", r#"{"orderId":"o-1","productId":"tv","quantity":2}"#),
            ("m2", &envelope),
            ("m3", "this is not json"),
            ("m4", "[1, 2, 3]"),
            ("m5", r#"{"productId":"tv","quantity":"lots"}"#),
        ]))
        .await;
    assert_eq!(failed_ids(&response), ["m3", "m4"]);

    let mut expected = vec![
        (
            execution_name("order", "o-1"),
            json!({"orderId":"o-1","productId":"tv","quantity":2}),
        ),
        (
            execution_name("order", "o-2"),
            json!({"orderId":"o-2","productId":"desk","quantity":1}),
        ),
        // Malformed orders still run: the workflow rejects them with a reason.
        (
            execution_name("message", "m5"),
            json!({"productId":"tv","quantity":"lots"}),
        ),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(executions(&config, &arn).await, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_order_is_not_started_twice() {
    let config = Moto::shared().sdk_config().await;
    let (reserver, arn) = reserver(&config).await;
    let body = r#"{"orderId":"o-9","productId":"tv","quantity":1}"#;
    for message_id in ["first-delivery", "second-delivery"] {
        let response = reserver.handle(event(&[(message_id, body)])).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(executions(&config, &arn).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_state_machine_fails_every_message() {
    let config = Moto::shared().sdk_config().await;
    let reserver = Reserver {
        workflow: WorkflowStarter {
            client: aws_sdk_sfn::Client::new(&config),
            state_machine_arn: format!(
                "arn:aws:states:us-east-1:{}:stateMachine:gone",
                testkit::ACCOUNT
            ),
            mode: StartMode::Async,
        },
    };
    let response = reserver
        .handle(event(&[
            ("a", r#"{"orderId":"x"}"#),
            ("b", r#"{"orderId":"y"}"#),
        ]))
        .await;
    assert_eq!(failed_ids(&response), ["a", "b"]);
}
