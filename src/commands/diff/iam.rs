//! The policy statements a template change adds and removes, per role
//! (its trust policy, each inline policy, its managed policies), queue or
//! topic policy, key policy and Lambda permission, as `cdk diff` shows
//! security changes. A statement is compared whole, so a reordering is no
//! change.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use super::json::{keys, resource_type, shown};

/// The statements of one policy that change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyChange {
    /// The resource that holds the policy (a role, a queue policy, the key).
    pub logical_id: String,
    /// Which of its policies: `trust`, an inline policy's name, `policy`.
    pub policy: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// The policies a resource holds, by name: their statements, each as
/// compact JSON (a statement is compared whole).
fn policies(resource: &Value) -> Vec<(String, Vec<String>)> {
    let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
    let statements = |document: Option<&Value>| -> Vec<String> {
        match document.and_then(|d| d.get("Statement")) {
            Some(Value::Array(items)) => items.iter().map(Value::to_string).collect(),
            Some(one) => vec![one.to_string()],
            None => Vec::new(),
        }
    };
    let mut found = Vec::new();
    match resource_type(resource).as_str() {
        "AWS::IAM::Role" => {
            found.push((
                "trust".to_owned(),
                statements(properties.get("AssumeRolePolicyDocument")),
            ));
            if let Some(Value::Array(inline)) = properties.get("Policies") {
                for policy in inline {
                    let name = policy.get("PolicyName").map(shown).unwrap_or_default();
                    found.push((name, statements(policy.get("PolicyDocument"))));
                }
            }
            if let Some(managed) = properties.get("ManagedPolicyArns") {
                found.push((
                    "managed policies".to_owned(),
                    match managed {
                        Value::Array(arns) => arns.iter().map(Value::to_string).collect(),
                        other => vec![other.to_string()],
                    },
                ));
            }
        }
        "AWS::SQS::QueuePolicy" | "AWS::SNS::TopicPolicy" | "AWS::IAM::Policy" => {
            found.push((
                "policy".to_owned(),
                statements(properties.get("PolicyDocument")),
            ));
        }
        "AWS::KMS::Key" => {
            found.push((
                "key policy".to_owned(),
                statements(properties.get("KeyPolicy")),
            ));
        }
        // A permission is one statement of the function's resource policy.
        "AWS::Lambda::Permission" => {
            found.push(("permission".to_owned(), vec![properties.to_string()]));
        }
        _ => {}
    }
    found
}

pub(super) fn policy_changes(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
) -> Vec<PolicyChange> {
    let mut changes = Vec::new();
    for id in keys(old, new) {
        let before = old.get(&id).map(policies).unwrap_or_default();
        let after = new.get(&id).map(policies).unwrap_or_default();
        let names: BTreeSet<&String> = before.iter().chain(&after).map(|(n, _)| n).collect();
        for name in names {
            let of = |list: &[(String, Vec<String>)]| -> BTreeSet<String> {
                list.iter()
                    .filter(|(n, _)| n == name)
                    .flat_map(|(_, s)| s.iter().cloned())
                    .collect()
            };
            let (a, b) = (of(&before), of(&after));
            let added: Vec<String> = b.difference(&a).cloned().collect();
            let removed: Vec<String> = a.difference(&b).cloned().collect();
            if !added.is_empty() || !removed.is_empty() {
                changes.push(PolicyChange {
                    logical_id: id.clone(),
                    policy: name.clone(),
                    added,
                    removed,
                });
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::diff::template::compare;
    use serde_json::json;

    fn template(resources: Value) -> Value {
        json!({ "Resources": resources })
    }

    fn role(statements: Value) -> Value {
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": {"Statement": statements}}]
            }
        })
    }

    #[test]
    fn policy_statements_added_and_removed_are_named_per_role_and_policy() {
        let read = json!({"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "*"});
        let write = json!({"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": "*"});
        let diff = compare(
            &template(json!({ "R": role(json!([read.clone()])) })),
            &template(json!({ "R": role(json!([write.clone()])) })),
        );
        assert_eq!(
            diff.iam,
            [PolicyChange {
                logical_id: "R".into(),
                policy: "least-privilege".into(),
                added: vec![write.to_string()],
                removed: vec![read.to_string()],
            }]
        );
        // The trust policy did not change: not listed.
        assert!(diff.iam.iter().all(|c| c.policy != "trust"));
        // A reordering is no IAM change.
        let both = json!([read.clone(), write.clone()]);
        let reordered = json!([write, read]);
        assert!(compare(
            &template(json!({ "R": role(both) })),
            &template(json!({ "R": role(reordered) }))
        )
        .iam
        .is_empty());
    }
}
