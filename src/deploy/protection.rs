//! Protection of the stack's data: termination protection (no DeleteStack)
//! and a stack policy that refuses replacing or deleting the tables and the
//! KMS key, turned on by `deploy --protect` and lifted by `--unprotect`.
//!
//! CloudFormation enforces the policy only when the change set runs (the
//! update then fails and rolls back); a deploy checks its changes against
//! the stack's policy first and stops before anything changes.

use aws_sdk_cloudformation::types::Stack;
use aws_sdk_cloudformation::Client;
use serde_json::{json, Value};

use crate::deploy::changeset::Change;
use crate::deploy::stack::{aws_error, StackError};
use crate::stack::ids;

/// What protection keeps: what cannot be made again once lost.
pub const PROTECTED: [&str; 4] = [
    ids::INVENTORY_TABLE,
    ids::RESERVATION_TABLE,
    ids::PURCHASE_ORDER_TABLE,
    ids::ALERT_TOPIC_KEY,
];

/// The stack policy of a protected stack: every update allowed, except
/// replacing or deleting a [`PROTECTED`] resource.
pub fn protecting_policy() -> String {
    json!({
        "Statement": [
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["Update:Replace", "Update:Delete"],
                "Principal": "*",
                "Resource": PROTECTED.iter().map(|id| format!("LogicalResourceId/{id}")).collect::<Vec<_>>(),
            }
        ]
    })
    .to_string()
}

/// The policy of an unprotected stack (a stack policy cannot be removed,
/// only replaced).
pub fn open_policy() -> String {
    json!({"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]})
        .to_string()
}

/// Whether DeleteStack is refused for `stack`.
pub fn terminates_protected(stack: &Stack) -> bool {
    stack.enable_termination_protection() == Some(true)
}

/// Turns termination protection on and sets the [`protecting_policy`].
pub async fn protect(client: &Client, stack: &str) -> Result<(), StackError> {
    client
        .update_termination_protection()
        .stack_name(stack)
        .enable_termination_protection(true)
        .send()
        .await
        .map_err(aws_error)?;
    client
        .set_stack_policy()
        .stack_name(stack)
        .stack_policy_body(protecting_policy())
        .send()
        .await
        .map_err(aws_error)?;
    Ok(())
}

/// Turns termination protection off and sets the [`open_policy`].
pub async fn unprotect(client: &Client, stack: &str) -> Result<(), StackError> {
    client
        .set_stack_policy()
        .stack_name(stack)
        .stack_policy_body(open_policy())
        .send()
        .await
        .map_err(aws_error)?;
    client
        .update_termination_protection()
        .stack_name(stack)
        .enable_termination_protection(false)
        .send()
        .await
        .map_err(aws_error)?;
    Ok(())
}

/// The stack's policy document (empty when it has none).
pub async fn stack_policy(client: &Client, stack: &str) -> Result<String, StackError> {
    let answer = client
        .get_stack_policy()
        .stack_name(stack)
        .send()
        .await
        .map_err(aws_error)?;
    Ok(answer.stack_policy_body().unwrap_or_default().to_owned())
}

/// The changes `policy` (a stack policy document) refuses, each with the
/// action it denies: a replacement (`Update:Replace`) or a removal
/// (`Update:Delete`) of a resource a Deny statement names.
pub fn refused<'a>(changes: &'a [Change], policy: &str) -> Vec<(&'a Change, &'static str)> {
    let Ok(policy) = serde_json::from_str::<Value>(policy) else {
        return Vec::new();
    };
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => Vec::new(),
    };
    let listed = |value: &Value| -> Vec<String> {
        match value {
            Value::String(one) => vec![one.clone()],
            Value::Array(many) => many
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let denies = |action: &str, logical_id: &str| {
        statements.iter().any(|statement| {
            statement["Effect"] == "Deny"
                && listed(&statement["Action"])
                    .iter()
                    .any(|a| a == action || a == "Update:*")
                && listed(&statement["Resource"])
                    .iter()
                    .any(|r| r == "*" || r == &format!("LogicalResourceId/{logical_id}"))
        })
    };
    changes
        .iter()
        .filter_map(|change| {
            let action = if change.action == "Remove" {
                "Update:Delete"
            } else if matches!(change.replacement.as_deref(), Some("True" | "Conditional")) {
                "Update:Replace"
            } else {
                return None;
            };
            denies(action, &change.logical_id).then_some((change, action))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, logical_id: &str, replacement: Option<&str>) -> Change {
        Change {
            action: action.into(),
            logical_id: logical_id.into(),
            resource_type: "AWS::DynamoDB::Table".into(),
            replacement: replacement.map(str::to_owned),
        }
    }

    #[test]
    fn the_protecting_policy_refuses_replacing_or_removing_data_only() {
        let changes = [
            change("Modify", ids::INVENTORY_TABLE, Some("True")),
            change("Remove", ids::RESERVATION_TABLE, None),
            change("Modify", ids::PURCHASE_ORDER_TABLE, Some("False")),
            change("Modify", ids::ALERT_TOPIC_KEY, Some("Conditional")),
            change("Remove", "OrdersQueue", None),
            change("Add", "NewThing", None),
        ];
        let refused: Vec<(&str, &str)> = refused(&changes, &protecting_policy())
            .into_iter()
            .map(|(c, action)| (c.logical_id.as_str(), action))
            .collect();
        assert_eq!(
            refused,
            [
                (ids::INVENTORY_TABLE, "Update:Replace"),
                (ids::RESERVATION_TABLE, "Update:Delete"),
                (ids::ALERT_TOPIC_KEY, "Update:Replace"),
            ]
        );
        assert!(super::refused(&changes, &open_policy()).is_empty());
        assert!(super::refused(&changes, "").is_empty(), "no policy");
    }
}
