//! What the template's parts share: roles trusting a service (for this
//! stack's resources only), log groups with the stack's retention, event
//! patterns.

use serde_json::json;

use crate::model::cfn::iam::{
    assume_role_policy, assume_role_policy_for, PolicyDocument, Statement,
};
use crate::model::cfn::resources::*;
use crate::model::cfn::Val;
use crate::stack::queues;

pub(super) const LOG_RETENTION_DAYS: u32 = 30;
/// Maximum a queued order is kept, in the queue and in its dead-letter queue.
pub(super) const FOURTEEN_DAYS: u32 = 14 * 24 * 60 * 60;

pub(super) fn role(description: &str, service: &str, statements: Vec<Statement>) -> Role {
    role_trusting(description, assume_role_policy(service), statements)
}

/// A role an AWS service assumes on behalf of resources of this stack
/// only: `source_arn` (ArnLike) names them.
pub(super) fn service_role(
    description: &str,
    service: &str,
    source_arn: Val,
    statements: Vec<Statement>,
) -> Role {
    role_trusting(
        description,
        assume_role_policy_for(service, source_arn),
        statements,
    )
}

pub(super) fn role_trusting(
    description: &str,
    trust: PolicyDocument,
    statements: Vec<Statement>,
) -> Role {
    Role {
        description: Some(description.to_owned()),
        assume_role_policy_document: trust,
        policies: vec![InlinePolicy {
            policy_name: "least-privilege".to_owned(),
            policy_document: PolicyDocument::new(statements),
        }],
    }
}

pub(super) fn log_group() -> LogGroup {
    LogGroup {
        log_group_name: None,
        retention_in_days: LOG_RETENTION_DAYS,
    }
}

/// A workflow's log group, under the prefix Step Functions needs no
/// resource policy for: elsewhere it adds each group to the account's one
/// CloudWatch Logs resource policy, whose 5,120 characters fill up in busy
/// accounts and then fail CreateStateMachine.
pub(super) fn workflow_log_group(workflow: &str) -> LogGroup {
    LogGroup {
        log_group_name: Some(Val::sub(format!(
            "/aws/vendedlogs/states/${{AWS::StackName}}-{workflow}"
        ))),
        ..log_group()
    }
}

/// An event pattern matching one routed event's source and detail-type.
pub(super) fn pattern(routed: &queues::RoutedEvent) -> serde_json::Value {
    json!({"source": [routed.source], "detail-type": [routed.detail_type]})
}
