//! What moto cannot show, on SDK-level fakes: a stack left in
//! ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED, an operation in progress,
//! failed resources, and throttling.

use std::time::Duration;

use aws_sdk_cloudformation::operation::continue_update_rollback::ContinueUpdateRollbackOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::primitives::DateTime;
use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackEvent, StackStatus};
use aws_sdk_cloudformation::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use invctl::console::{Console, Scripted};
use invctl::deploy::progress::Progress;
use invctl::deploy::settle::{settle, OnRollbackFailed, SettleError as Error};
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

/// A stack whose rollback failed, then completes once `resume` continues it.
fn rollback_continued_by(resume: &Rule) -> Client {
    mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [
            &stacks(StackStatus::UpdateRollbackFailed),
            &events(failed_rollback_events()),
            resume,
            &stacks(StackStatus::UpdateRollbackInProgress),
            &events(vec![]),
            &stacks(StackStatus::UpdateRollbackComplete),
            &events(vec![]),
        ]
    )
}

/// For the paths that must not prompt: a question fails the test.
struct NeverAsked;

impl Console for NeverAsked {
    fn interactive(&self) -> bool {
        false
    }

    fn answer(&mut self, question: &str) -> std::io::Result<String> {
        panic!("asked {question:?}")
    }
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
    let settled = settle(
        &client,
        "inventory",
        POLL,
        &OnRollbackFailed::Stop,
        &mut NeverAsked,
    )
    .await
    .unwrap();
    assert!(settled.is_none(), "the stack is gone: create it");
    assert_eq!(delete.num_calls(), 1);
}

/// The events of an update whose rollback failed: the update began, a
/// resource failed to update, then failed to roll back (newest first).
fn failed_rollback_events() -> Vec<StackEvent> {
    let mut begun = event("e0", "inventory", ResourceStatus::UpdateInProgress, "");
    begun.resource_type = Some("AWS::CloudFormation::Stack".into());
    let mut older = event(
        "e-old",
        "OrdersQueue",
        ResourceStatus::UpdateFailed,
        "older trouble",
    );
    older.resource_type = Some("AWS::SQS::Queue".into());
    vec![
        event(
            "e2",
            "OrdersQueue",
            ResourceStatus::UpdateFailed,
            "Resource handler returned message: queue is being deleted",
        ),
        event(
            "e1",
            "OrdersQueue",
            ResourceStatus::UpdateFailed,
            "Access denied",
        ),
        begun,
        older,
    ]
}

#[tokio::test]
async fn update_rollback_failed_names_the_resources_and_the_way_out() {
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [
            &stacks(StackStatus::UpdateRollbackFailed),
            &events(failed_rollback_events())
        ]
    );
    let error = settle(
        &client,
        "inventory",
        POLL,
        &OnRollbackFailed::Stop,
        &mut NeverAsked,
    )
    .await
    .unwrap_err();
    let Error::RollbackFailed { failures, .. } = &error else {
        panic!("{error}");
    };
    // Only this update's failures, oldest first; the earlier operation's are not.
    let reasons: Vec<&str> = failures.iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "Access denied",
            "Resource handler returned message: queue is being deleted"
        ]
    );
    let text = error.to_string();
    assert!(text.contains("invctl deploy --continue-rollback"), "{text}");
    assert!(text.contains("--skip-resource LOGICAL_ID"), "{text}");
    assert!(text.contains("OrdersQueue (AWS::SQS::Queue)"), "{text}");
}

#[tokio::test]
async fn a_failed_rollback_is_continued_when_asked_then_the_deploy_goes_on() {
    let resume = mock!(Client::continue_update_rollback)
        .match_requests(|r| {
            r.stack_name()
                == Some("arn:aws:cloudformation:us-east-1:123456789012:stack/inventory/1")
                && r.resources_to_skip() == ["OrdersQueue"]
        })
        .then_output(|| ContinueUpdateRollbackOutput::builder().build());
    let client = rollback_continued_by(&resume);
    let settled = settle(
        &client,
        "inventory",
        POLL,
        &OnRollbackFailed::Continue {
            skip: vec!["OrdersQueue".into()],
        },
        &mut NeverAsked,
    )
    .await
    .unwrap()
    .expect("the stack is still there, ready for an update");
    assert_eq!(resume.num_calls(), 1);
    assert_eq!(
        settled.stack_status(),
        Some(&StackStatus::UpdateRollbackComplete)
    );
}

#[tokio::test]
async fn a_rollback_that_fails_again_is_reported() {
    let resume = mock!(Client::continue_update_rollback)
        .then_output(|| ContinueUpdateRollbackOutput::builder().build());
    let again = event(
        "e9",
        "OrdersQueue",
        ResourceStatus::UpdateFailed,
        "still cannot roll back",
    );
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [
            &stacks(StackStatus::UpdateRollbackFailed),
            &events(failed_rollback_events()),
            &resume,
            &stacks(StackStatus::UpdateRollbackInProgress),
            &events(vec![]),
            &stacks(StackStatus::UpdateRollbackFailed),
            &events(vec![again]),
        ]
    );
    let error = settle(
        &client,
        "inventory",
        POLL,
        &OnRollbackFailed::Continue { skip: vec![] },
        &mut NeverAsked,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, Error::RollbackNotCompleted { status, failures, .. }
            if status == "UPDATE_ROLLBACK_FAILED" && failures[0].reason == "still cannot roll back"),
        "{error}"
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
    let settled = settle(
        &client,
        "inventory",
        POLL,
        &OnRollbackFailed::Stop,
        &mut NeverAsked,
    )
    .await
    .unwrap()
    .unwrap();
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

#[tokio::test]
async fn on_a_terminal_a_failed_rollback_is_continued_only_on_yes() {
    let resume = mock!(Client::continue_update_rollback)
        .then_output(|| ContinueUpdateRollbackOutput::builder().build());
    let client = rollback_continued_by(&resume);
    let mut console = Scripted::answering(&["y"]);
    let settled = settle(
        &client,
        "inventory",
        POLL,
        &OnRollbackFailed::Ask,
        &mut console,
    )
    .await
    .unwrap();
    assert!(settled.is_some());
    assert_eq!(resume.num_calls(), 1);
    assert_eq!(
        console.asked,
        ["stack inventory is UPDATE_ROLLBACK_FAILED. Continue its rollback now? [y/N] "]
    );

    let declined = mock!(Client::continue_update_rollback)
        .then_output(|| ContinueUpdateRollbackOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::Sequential,
        [
            &stacks(StackStatus::UpdateRollbackFailed),
            &events(failed_rollback_events()),
            &declined,
        ]
    );
    let error = settle(
        &client,
        "inventory",
        POLL,
        &OnRollbackFailed::Ask,
        &mut Scripted::answering(&["n"]),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::RollbackFailed { .. }), "{error}");
    assert_eq!(declined.num_calls(), 0, "nothing is continued on no");
}
