//! `invctl redrive`: on moto, undelivered events go back on the bus (and
//! reach the orders queue through the rule), what is not an event stays,
//! failed stream batches are listed and kept, and empty queues are said to
//! be empty. On fakes, what moto lacks: SQS's own move task for orders.

mod util;

use std::collections::HashMap;
use std::process::Output;
use std::time::Duration;

use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
use aws_sdk_sqs::operation::list_message_move_tasks::ListMessageMoveTasksOutput;
use aws_sdk_sqs::operation::start_message_move_task::StartMessageMoveTaskOutput;
use aws_sdk_sqs::types::{ListMessageMoveTasksResultEntry, QueueAttributeName};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use invctl::commands::redrive::{Error, Redriver};
use invctl::drive::DeployedStack;
use invctl::stack::ids::output;
use invctl::stack::queues::ORDERS_DEAD_LETTERS;
use serde_json::{json, Value};
use testkit::{unique, Moto};

struct Fixture {
    moto: &'static Moto,
    config: aws_config::SdkConfig,
    stack: String,
    orders_queue: String,
    undelivered_events: String,
    stream_failures: String,
}

async fn queue(config: &aws_config::SdkConfig, prefix: &str) -> String {
    aws_sdk_sqs::Client::new(config)
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

impl Fixture {
    async fn new() -> Fixture {
        let moto = Moto::shared();
        let config = moto.sdk_config().await;
        let bus = unique("bus");
        aws_sdk_eventbridge::Client::new(&config)
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .unwrap();
        // The new-order rule and its queue, as the template has them.
        let orders_queue = testkit::capture_events(
            &config,
            &bus,
            r#"{"source":["com.orders"],"detail-type":["new-order-received"]}"#,
        )
        .await;
        let orders_dead_letters = queue(&config, "orders-dlq").await;
        let undelivered_events = queue(&config, "events-dlq").await;
        let stream_failures = queue(&config, "stream-failures").await;
        let stack = testkit::stack_with_outputs(
            &config,
            "redrive",
            &[
                (output::EVENT_BUS_NAME, &bus),
                (output::ORDERS_QUEUE_URL, &orders_queue),
                (output::ORDERS_DEAD_LETTER_QUEUE_URL, &orders_dead_letters),
                (
                    output::EVENT_DELIVERY_DEAD_LETTER_QUEUE_URL,
                    &undelivered_events,
                ),
                (output::STREAM_FAILURE_QUEUE_URL, &stream_failures),
            ],
        )
        .await;
        Fixture {
            moto,
            config,
            stack,
            orders_queue,
            undelivered_events,
            stream_failures,
        }
    }

    fn invctl(&self, args: &[&str]) -> Output {
        util::run(
            util::invctl_on(&self.moto.endpoint)
                .args(["--stack-name", &self.stack, "redrive"])
                .args(args),
        )
    }

    async fn send(&self, queue: &str, body: &str) {
        aws_sdk_sqs::Client::new(&self.config)
            .send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
}

fn new_order(id: &str) -> String {
    json!({
        "version": "0", "id": unique("event"), "source": "com.orders",
        "detail-type": "new-order-received", "account": testkit::ACCOUNT,
        "time": "2026-11-27T10:00:00Z", "region": testkit::REGION, "resources": [],
        "detail": {"orderId": id, "productId": "tv", "quantity": 1}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn undelivered_events_go_back_on_the_bus_and_the_rest_stays() {
    let f = Fixture::new().await;
    f.send(&f.undelivered_events, &new_order("ord-1")).await;
    f.send(&f.undelivered_events, &new_order("ord-2")).await;
    f.send(&f.undelivered_events, "not an event").await;
    // Anyone allowed to send to the queue could put any event there: one no
    // rule that dead-letters here routes is not published.
    let forged = json!({
        "source": "com.inventory", "detail-type": "stock-reserved",
        "detail": {"orderId": "forged", "productId": "tv", "quantity": 1}
    });
    f.send(&f.undelivered_events, &forged.to_string()).await;

    let output = f.invctl(&["events", "--output", "json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "one message could not go back: {}",
        util::text(&output)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report[0]["queue"], "events");
    assert_eq!(report[0]["waiting"], 4);
    assert_eq!(report[0]["moved"], 2);
    assert_eq!(report[0]["left"], 2);
    let notes = report[0]["notes"].to_string();
    assert!(notes.contains("is not an EventBridge event"), "{notes}");
    assert!(
        notes.contains(
            "com.inventory/stock-reserved event, which no rule that dead-letters here routes"
        ),
        "{notes}"
    );

    // Through the new-order rule into the orders queue, as first sent.
    let mut orders: Vec<String> = testkit::drain(&f.config, &f.orders_queue)
        .await
        .iter()
        .map(|body| {
            let event: Value = serde_json::from_str(body).unwrap();
            assert_eq!(event["detail-type"], "new-order-received");
            event["detail"]["orderId"].as_str().unwrap().to_owned()
        })
        .collect();
    orders.sort();
    assert_eq!(orders, ["ord-1", "ord-2"]);
    assert_eq!(
        held(&f, &f.undelivered_events).await,
        2,
        "the non-event and the forged event stay"
    );
}

/// Messages a queue holds, visible or in flight.
async fn held(f: &Fixture, queue: &str) -> u64 {
    let attributes = aws_sdk_sqs::Client::new(&f.config)
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|a| attributes[a].parse::<u64>().unwrap())
    .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_queues_are_said_to_be_empty() {
    let f = Fixture::new().await;
    let output = f.invctl(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", util::text(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for queue in ["orders", "events", "stream-failures"] {
        assert!(
            text.contains(&format!("{queue}: empty, nothing to redrive")),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_stream_batches_are_listed_and_kept() {
    let f = Fixture::new().await;
    let record = json!({
        "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-27T10:00:05Z",
        "DDBStreamBatchInfo": {"shardId": "shardId-0001", "startSequenceNumber": "100", "endSequenceNumber": "104", "approximateArrivalOfFirstRecord": "2026-11-27T10:00:00Z", "approximateArrivalOfLastRecord": "2026-11-27T10:00:01Z", "batchSize": 5, "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"}
    });
    f.send(&f.stream_failures, &record.to_string()).await;
    let output = f.invctl(&["stream-failures"]);
    assert_eq!(output.status.code(), Some(0), "{}", util::text(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with("stream-failures: nothing sent back, 1 left"),
        "{text}"
    );
    assert!(
        text.contains("batch of 5 record(s) from 2026-11-27T10:00:00Z (shard shardId-0001, sequence 100 to 104) failed: RetryAttemptsExhausted"),
        "{text}"
    );
    assert!(text.contains("aws sqs purge-queue"), "{text}");
    assert_eq!(
        held(&f, &f.stream_failures).await,
        1,
        "listing removes nothing"
    );
}

// ------------------------------------------------------------------ on fakes

const DLQ_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq";
const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders-dlq";
const ORDERS_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/orders";
const ORDERS_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders";

fn attributes(pairs: &[(QueueAttributeName, &str)]) -> GetQueueAttributesOutput {
    let map: HashMap<QueueAttributeName, String> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), (*v).to_owned()))
        .collect();
    GetQueueAttributesOutput::builder()
        .set_attributes(Some(map))
        .build()
}

fn move_task(status: &str, moved: i64, failure: Option<&str>) -> ListMessageMoveTasksOutput {
    ListMessageMoveTasksOutput::builder()
        .results(
            ListMessageMoveTasksResultEntry::builder()
                .task_handle("task-1")
                .status(status)
                .source_arn(DLQ_ARN)
                .destination_arn(ORDERS_ARN)
                .approximate_number_of_messages_moved(moved)
                .set_failure_reason(failure.map(str::to_owned))
                .build(),
        )
        .build()
}

/// A stack named `inventory` with these outputs, for redrives on fakes.
fn stack_with(outputs: &[(&str, &str)]) -> DeployedStack {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let outputs = outputs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    DeployedStack::with_outputs(config, "inventory", outputs)
}

/// A redrive of the orders dead-letter queue whose move task ends as `ends`.
async fn redrive_orders(
    ends: ListMessageMoveTasksOutput,
) -> (Result<u64, Error>, aws_smithy_mocks::Rule) {
    use aws_sdk_sqs::Client;
    let waiting = mock!(Client::get_queue_attributes)
        .match_requests(|r| {
            r.attribute_names()
                .contains(&QueueAttributeName::ApproximateNumberOfMessages)
        })
        .then_output(|| attributes(&[(QueueAttributeName::ApproximateNumberOfMessages, "3")]));
    let dlq_arn = mock!(Client::get_queue_attributes)
        .match_requests(|r| r.queue_url() == Some(DLQ_URL))
        .then_output(|| attributes(&[(QueueAttributeName::QueueArn, DLQ_ARN)]));
    let orders_arn = mock!(Client::get_queue_attributes)
        .match_requests(|r| r.queue_url() == Some(ORDERS_URL))
        .then_output(|| attributes(&[(QueueAttributeName::QueueArn, ORDERS_ARN)]));
    let start = mock!(Client::start_message_move_task)
        .match_requests(|r| {
            r.source_arn() == Some(DLQ_ARN) && r.destination_arn() == Some(ORDERS_ARN)
        })
        .then_output(|| {
            StartMessageMoveTaskOutput::builder()
                .task_handle("task-1")
                .build()
        });
    let running = mock!(Client::list_message_move_tasks)
        .match_requests(|r| r.source_arn() == Some(DLQ_ARN))
        .sequence()
        .output(|| move_task("RUNNING", 1, None))
        .output(move || ends.clone())
        .build();
    let sqs = mock_client!(
        aws_sdk_sqs,
        RuleMode::MatchAny,
        [&waiting, &dlq_arn, &orders_arn, &start, &running]
    );
    let events = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, []);
    let mut stack = stack_with(&[
        (output::ORDERS_DEAD_LETTER_QUEUE_URL, DLQ_URL),
        (output::ORDERS_QUEUE_URL, ORDERS_URL),
    ]);
    let redriver = Redriver {
        sqs,
        events,
        poll: Duration::from_millis(1),
        timeout: Duration::from_secs(5),
        journal_dir: std::env::temp_dir(),
    };
    let result = redriver
        .redrive(&mut stack, &ORDERS_DEAD_LETTERS)
        .await
        .map(|report| {
            assert_eq!(report.waiting, 3);
            report.moved
        });
    (result, start)
}

#[tokio::test]
async fn dead_lettered_orders_are_moved_back_by_sqs() {
    let (moved, start) = redrive_orders(move_task("COMPLETED", 3, None)).await;
    assert_eq!(moved.unwrap(), 3);
    assert_eq!(
        start.num_calls(),
        1,
        "one move task, from the DLQ to the orders queue"
    );
}

#[tokio::test]
async fn a_failed_move_says_why() {
    let (moved, _) = redrive_orders(move_task(
        "FAILED",
        1,
        Some("AWS.SimpleQueueService.NonExistentQueue"),
    ))
    .await;
    let error = moved.unwrap_err();
    assert!(
        matches!(error, Error::MoveFailed { moved: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("NonExistentQueue"), "{error}");
}

/// A dead-lettered new order as SQS hands it out, with a fixed message id.
fn dead_lettered(id: &str) -> aws_sdk_sqs::types::Message {
    aws_sdk_sqs::types::Message::builder()
        .message_id(id)
        .receipt_handle(format!("handle-{id}"))
        .body(new_order(id))
        .build()
}

#[tokio::test]
async fn a_rerun_after_a_failed_delete_deletes_without_putting_twice() {
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_sdk_sqs::operation::delete_message_batch::{
        DeleteMessageBatchError, DeleteMessageBatchOutput,
    };
    use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
    use aws_sdk_sqs::Client;
    use invctl::stack::queues::UNDELIVERED_EVENTS;
    const EVENTS_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/events-dlq";

    let waiting = mock!(Client::get_queue_attributes)
        .then_output(|| attributes(&[(QueueAttributeName::ApproximateNumberOfMessages, "2")]));
    // Both runs find the same two messages (the first run's delete failed,
    // so they became visible again), then an empty queue.
    let receive = mock!(Client::receive_message)
        .sequence()
        .output(|| {
            ReceiveMessageOutput::builder()
                .messages(dead_lettered("m-1"))
                .messages(dead_lettered("m-2"))
                .build()
        })
        .output(|| {
            ReceiveMessageOutput::builder()
                .messages(dead_lettered("m-1"))
                .messages(dead_lettered("m-2"))
                .build()
        })
        .output(|| ReceiveMessageOutput::builder().build())
        .build();
    let delete = mock!(Client::delete_message_batch)
        .sequence()
        .error(|| DeleteMessageBatchError::unhandled(std::io::Error::other("connection reset")))
        .output(|| {
            DeleteMessageBatchOutput::builder()
                .set_successful(Some(Vec::new()))
                .set_failed(Some(Vec::new()))
                .build()
                .unwrap()
        })
        .build();
    let put = mock!(aws_sdk_eventbridge::Client::put_events).then_output(|| {
        PutEventsOutput::builder()
            .failed_entry_count(0)
            .entries(PutEventsResultEntry::builder().event_id("e-1").build())
            .entries(PutEventsResultEntry::builder().event_id("e-2").build())
            .build()
    });
    let sqs = mock_client!(
        aws_sdk_sqs,
        RuleMode::MatchAny,
        [&waiting, &receive, &delete]
    );
    let events = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&put]);
    let mut stack = stack_with(&[
        (output::EVENT_DELIVERY_DEAD_LETTER_QUEUE_URL, EVENTS_URL),
        (output::EVENT_BUS_NAME, "bus"),
    ]);
    let journal = tempfile::tempdir().unwrap();
    let redriver = Redriver {
        sqs,
        events,
        poll: Duration::from_millis(1),
        timeout: Duration::from_secs(5),
        journal_dir: journal.path().to_owned(),
    };

    let failed = redriver
        .redrive(&mut stack, &UNDELIVERED_EVENTS)
        .await
        .unwrap_err();
    assert!(
        matches!(failed, Error::NotDeleted { count: 2, .. }),
        "{failed}"
    );
    assert!(failed
        .to_string()
        .contains("without putting them on the bus twice"));
    assert_eq!(put.num_calls(), 1);

    let rerun = redriver
        .redrive(&mut stack, &UNDELIVERED_EVENTS)
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1, "the rerun put nothing on the bus again");
    assert_eq!(delete.num_calls(), 2);
    assert_eq!((rerun.moved, rerun.left), (2, 0));
    assert!(rerun.notes.iter().all(|n| n.contains("by an earlier run")));
    assert_eq!(
        std::fs::read_dir(journal.path()).unwrap().count(),
        0,
        "a journal with nothing left to delete is removed"
    );
}
