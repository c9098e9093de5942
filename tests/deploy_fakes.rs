//! What moto cannot show, on SDK-level fakes: a stack left in
//! ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED, an operation in progress,
//! failed resources, and throttling.

use std::time::Duration;

use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::primitives::DateTime;
use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackEvent, StackStatus};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use invctl::commands::deploy::{settle, Error};
use invctl::deploy::progress::Progress;
use invctl::deploy::stack::wait;

const POLL: Duration = Duration::from_millis(1);

fn stack(status: StackStatus) -> Stack {
    Stack::builder()
        .stack_name("inventory")
        .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/inventory/1")
        .creation_time(DateTime::from_secs(0))
        .stack_status(status)
        .build()
}

fn stacks(status: StackStatus) -> Rule {
    mock!(Client::describe_stacks).then_output(move || {
        DescribeStacksOutput::builder()
            .stacks(stack(status.clone()))
            .build()
    })
}

fn event(id: &str, logical: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    StackEvent::builder()
        .stack_id("s")
        .event_id(id)
        .stack_name("inventory")
        .timestamp(DateTime::from_secs(0))
        .logical_resource_id(logical)
        .resource_type("AWS::SQS::Queue")
        .resource_status(status)
        .resource_status_reason(reason)
        .build()
}

fn events(list: Vec<StackEvent>) -> Rule {
    mock!(Client::describe_stack_events).then_output(move || {
        DescribeStackEventsOutput::builder()
            .set_stack_events(Some(list.clone()))
            .build()
    })
}

#[tokio::test]
async fn a_failed_first_create_is_deleted_to_create_anew() {
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [
            &stacks(StackStatus::RollbackComplete),
            &delete,
            &stacks(StackStatus::DeleteInProgress),
            &events(vec![]),
            &stacks(StackStatus::DeleteComplete),
            &events(vec![]),
        ]
    );
    let settled = settle(&client, "inventory", POLL).await.unwrap();
    assert!(settled.is_none(), "the stack is gone: create it");
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn update_rollback_failed_explains_the_way_out() {
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [&stacks(StackStatus::UpdateRollbackFailed)]
    );
    let error = settle(&client, "inventory", POLL).await.unwrap_err();
    assert!(matches!(error, Error::RollbackFailed(_)));
    let text = error.to_string();
    assert!(
        text.contains("aws cloudformation continue-update-rollback --stack-name inventory"),
        "{text}"
    );
}

#[tokio::test]
async fn an_operation_in_progress_is_waited_for() {
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [
            &stacks(StackStatus::UpdateInProgress),
            &stacks(StackStatus::UpdateInProgress),
            &events(vec![]),
            &stacks(StackStatus::UpdateComplete),
            &events(vec![]),
        ]
    );
    let settled = settle(&client, "inventory", POLL).await.unwrap().unwrap();
    assert_eq!(settled.stack_status(), Some(&StackStatus::UpdateComplete));
}

#[tokio::test]
async fn failed_resources_are_named_and_cancellations_left_out() {
    let before = event("e0", "Old", ResourceStatus::CreateComplete, "");
    let failed = event(
        "e1",
        "OrdersQueue",
        ResourceStatus::CreateFailed,
        "Queue name exceeds 80 characters",
    );
    let cancelled = event(
        "e2",
        "AlertTopic",
        ResourceStatus::CreateFailed,
        "Resource creation cancelled",
    );
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [
            &stacks(StackStatus::CreateInProgress),
            &events(vec![before.clone()]),
            &stacks(StackStatus::RollbackComplete),
            &events(vec![cancelled, failed, before]),
        ]
    );
    let waited = wait(&client, "inventory", &Progress::Plain, POLL)
        .await
        .unwrap();
    assert_eq!(
        waited.stack.unwrap().stack_status(),
        Some(&StackStatus::RollbackComplete)
    );
    assert_eq!(waited.failures.len(), 1, "{:?}", waited.failures);
    assert_eq!(waited.failures[0].logical_id, "OrdersQueue");
    assert_eq!(
        waited.failures[0].reason,
        "Queue name exceeds 80 characters"
    );
}

#[tokio::test]
async fn throttling_slows_the_polling_down_instead_of_failing() {
    let throttled = mock!(Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            aws_sdk_cloudformation::error::ErrorMetadata::builder()
                .code("Throttling")
                .message("Rate exceeded")
                .build(),
        )
    });
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [
            &throttled,
            &stacks(StackStatus::UpdateComplete),
            &events(vec![])
        ]
    );
    let waited = wait(&client, "inventory", &Progress::Plain, POLL)
        .await
        .unwrap();
    // The SDK's own three attempts, then invctl backs off and polls again.
    assert_eq!(throttled.num_calls(), 3);
    assert_eq!(
        waited.stack.unwrap().stack_status(),
        Some(&StackStatus::UpdateComplete)
    );
}
