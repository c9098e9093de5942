//! Two templates compared, as `cdk diff` compares them: each resource
//! added, removed or modified with the properties that change, whether
//! CloudFormation replaces it (a change to a create-only property, from the
//! resource type's registry schema), the policy statements added and
//! removed per role or resource policy ([`super::iam`]), and the states of
//! each workflow that change.

use serde::Serialize;
use serde_json::{Map, Value};

use super::iam::{policy_changes, PolicyChange};
pub use super::json::shown;
use super::json::{keys, resource_type, section};
use super::replacement;

/// What one resource's change is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Added,
    Removed,
    Modified,
}

/// One property (or resource attribute) whose value changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyChange {
    /// `Properties.TableName`, `Properties.KeySchema[0].AttributeName`, `DeletionPolicy`, ...
    pub path: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// A create-only property: changing it replaces the resource.
    pub replaces: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    pub logical_id: String,
    pub resource_type: String,
    pub action: Action,
    /// CloudFormation makes a new one and deletes the old.
    pub replacement: bool,
    /// It holds data (a table, a queue, the KMS key): replacing or
    /// removing it loses that data.
    pub stateful: bool,
    pub properties: Vec<PropertyChange>,
    /// CloudFormation's own verdict (`True`, `False`, `Conditional`), with
    /// read from the change set `diff` makes; it then decides `replacement`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_set: Option<String>,
}

impl ResourceChange {
    /// A change that loses data: a stateful resource replaced or removed.
    pub fn loses_data(&self) -> bool {
        self.stateful && (self.replacement || self.action == Action::Removed)
    }
}

/// A workflow whose definition changes, by state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowChange {
    pub logical_id: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// Anything outside the states (comment, start, timeout) changes too.
    pub top_level_changed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateDiff {
    pub resources: Vec<ResourceChange>,
    pub iam: Vec<PolicyChange>,
    pub workflows: Vec<WorkflowChange>,
    /// Outputs added, removed or changed, by name.
    pub outputs: Vec<String>,
}

impl TemplateDiff {
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.outputs.is_empty()
    }
}

/// Every leaf that differs between `old` and `new`, under `path`. Lists of
/// the same length are compared item by item; otherwise a list is one value.
fn value_changes(
    path: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<(String, Option<Value>, Option<Value>)>,
) {
    if old == new {
        return;
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for key in keys(a, b) {
                value_changes(&join(&key), a.get(&key), b.get(&key), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                value_changes(&format!("{path}[{i}]"), Some(x), Some(y), out);
            }
        }
        _ => out.push((path.to_owned(), old.cloned(), new.cloned())),
    }
}

fn resource_changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<ResourceChange> {
    let mut changes = Vec::new();
    for id in keys(old, new) {
        let (before, after) = (old.get(&id), new.get(&id));
        let kind = resource_type(after.or(before).expect("the id is in one of them"));
        let stateful = replacement::is_stateful(&kind);
        let (action, properties, replacement) = match (before, after) {
            (None, Some(_)) => (Action::Added, Vec::new(), false),
            (Some(_), None) => (Action::Removed, Vec::new(), false),
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => {
                let type_changed = resource_type(a) != resource_type(b);
                let mut leaves = Vec::new();
                value_changes("", Some(a), Some(b), &mut leaves);
                let properties: Vec<PropertyChange> = leaves
                    .into_iter()
                    .filter(|(path, _, _)| path != "Type")
                    .map(|(path, old, new)| PropertyChange {
                        replaces: replacement::replaces(&kind, &path),
                        old: old.as_ref().map(shown),
                        new: new.as_ref().map(shown),
                        path,
                    })
                    .collect();
                let replaced = type_changed || properties.iter().any(|p| p.replaces);
                (Action::Modified, properties, replaced)
            }
            (None, None) => continue,
        };
        changes.push(ResourceChange {
            logical_id: id,
            resource_type: kind,
            action,
            replacement,
            stateful,
            properties,
            change_set: None,
        });
    }
    changes
}

/// A state machine's definition as JSON: `DefinitionString` as text, or
/// the text of its `Fn::Sub`, or `Definition` as an object.
fn definition(resource: &Value) -> Option<Value> {
    let properties = resource.get("Properties")?;
    if let Some(object) = properties.get("Definition") {
        return Some(object.clone());
    }
    let text = match properties.get("DefinitionString")? {
        Value::String(text) => text.clone(),
        Value::Object(sub) => match sub.get("Fn::Sub")? {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts.first()?.as_str()?.to_owned(),
            _ => return None,
        },
        _ => return None,
    };
    serde_json::from_str(&text).ok()
}

fn workflow_changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<WorkflowChange> {
    let mut changes = Vec::new();
    for id in keys(old, new) {
        let (Some(a), Some(b)) = (old.get(&id), new.get(&id)) else {
            continue;
        };
        if resource_type(b) != "AWS::StepFunctions::StateMachine" {
            continue;
        }
        let (Some(a), Some(b)) = (definition(a), definition(b)) else {
            continue;
        };
        if a == b {
            continue;
        }
        let states = |d: &Value| {
            d.get("States")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let (sa, sb) = (states(&a), states(&b));
        let mut change = WorkflowChange {
            logical_id: id.clone(),
            added: sb
                .keys()
                .filter(|k| !sa.contains_key(*k))
                .cloned()
                .collect(),
            removed: sa
                .keys()
                .filter(|k| !sb.contains_key(*k))
                .cloned()
                .collect(),
            changed: sa
                .iter()
                .filter(|(k, v)| sb.get(*k).is_some_and(|w| w != *v))
                .map(|(k, _)| k.clone())
                .collect(),
            top_level_changed: false,
        };
        let without_states = |d: &Value| {
            let mut d = d.clone();
            if let Some(o) = d.as_object_mut() {
                o.remove("States");
            }
            d
        };
        change.top_level_changed = without_states(&a) != without_states(&b);
        changes.push(change);
    }
    changes
}

/// Takes CloudFormation's verdicts (logical id to a change set's
/// `Replacement`) over the schemas': `Conditional` counts as a replacement,
/// since it may be one.
pub fn apply_verdicts(
    diff: &mut TemplateDiff,
    verdicts: &std::collections::HashMap<String, String>,
) {
    for change in &mut diff.resources {
        if let Some(verdict) = verdicts.get(&change.logical_id) {
            change.replacement = matches!(verdict.as_str(), "True" | "Conditional");
            change.change_set = Some(verdict.clone());
        }
    }
}

/// How `new` differs from `old` (both parsed templates).
pub fn compare(old: &Value, new: &Value) -> TemplateDiff {
    let (old_resources, new_resources) = (section(old, "Resources"), section(new, "Resources"));
    let (old_outputs, new_outputs) = (section(old, "Outputs"), section(new, "Outputs"));
    TemplateDiff {
        resources: resource_changes(&old_resources, &new_resources),
        iam: policy_changes(&old_resources, &new_resources),
        workflows: workflow_changes(&old_resources, &new_resources),
        outputs: keys(&old_outputs, &new_outputs)
            .into_iter()
            .filter(|k| old_outputs.get(k) != new_outputs.get(k))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(resources: Value) -> Value {
        json!({ "Resources": resources })
    }

    fn table(name: &str, key: &str) -> Value {
        json!({
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": name,
                "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST"
            }
        })
    }

    #[test]
    fn the_same_template_has_no_differences() {
        let t = template(json!({ "T": table("t", "id") }));
        assert!(compare(&t, &t).is_empty());
    }

    #[test]
    fn a_renamed_table_is_replaced_and_loses_its_data() {
        let diff = compare(
            &template(json!({ "T": table("t", "id") })),
            &template(json!({ "T": table("t2", "id") })),
        );
        let change = &diff.resources[0];
        assert_eq!(change.action, Action::Modified);
        assert!(change.replacement && change.stateful && change.loses_data());
        assert_eq!(
            change.properties,
            [PropertyChange {
                path: "Properties.TableName".into(),
                old: Some("t".into()),
                new: Some("t2".into()),
                replaces: true,
            }]
        );
    }

    #[test]
    fn a_changed_key_schema_replaces_the_table() {
        let diff = compare(
            &template(json!({ "T": table("t", "id") })),
            &template(json!({ "T": table("t", "sku") })),
        );
        assert!(diff.resources[0].replacement, "{diff:?}");
        assert_eq!(
            diff.resources[0].properties[0].path,
            "Properties.KeySchema[0].AttributeName"
        );
    }

    #[test]
    fn an_updatable_property_modifies_in_place() {
        let mut billed = table("t", "id");
        billed["Properties"]["BillingMode"] = json!("PROVISIONED");
        let diff = compare(
            &template(json!({ "T": table("t", "id") })),
            &template(json!({ "T": billed })),
        );
        assert!(!diff.resources[0].replacement);
        assert!(!diff.resources[0].loses_data());
    }

    #[test]
    fn added_and_removed_resources_and_a_removed_table_loses_data() {
        let diff = compare(
            &template(json!({ "T": table("t", "id"), "Q": {"Type": "AWS::SQS::Queue"} })),
            &template(
                json!({ "Q": {"Type": "AWS::SQS::Queue"}, "L": {"Type": "AWS::Logs::LogGroup"} }),
            ),
        );
        let actions: Vec<(&str, Action, bool)> = diff
            .resources
            .iter()
            .map(|c| (c.logical_id.as_str(), c.action, c.loses_data()))
            .collect();
        assert_eq!(
            actions,
            [("L", Action::Added, false), ("T", Action::Removed, true)]
        );
    }

    fn machine(states: Value) -> Value {
        let definition = json!({"StartAt": "A", "States": states}).to_string();
        json!({
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"DefinitionString": {"Fn::Sub": [definition, {}]}}
        })
    }

    #[test]
    fn a_workflow_names_the_states_that_change() {
        let diff = compare(
            &template(
                json!({ "W": machine(json!({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}, "C": {"Type": "Fail"}})) }),
            ),
            &template(
                json!({ "W": machine(json!({"A": {"Type": "Pass", "Next": "D"}, "B": {"Type": "Succeed"}, "D": {"Type": "Succeed"}})) }),
            ),
        );
        assert_eq!(
            diff.workflows,
            [WorkflowChange {
                logical_id: "W".into(),
                added: vec!["D".into()],
                removed: vec!["C".into()],
                changed: vec!["A".into()],
                top_level_changed: false,
            }]
        );
    }

    #[test]
    fn a_change_sets_verdict_overrides_the_schemas() {
        let mut diff = compare(
            &template(json!({ "T": table("t", "id"), "U": table("u", "id") })),
            &template(json!({ "T": table("t2", "id"), "U": table("u", "sku") })),
        );
        assert!(diff.resources.iter().all(|c| c.replacement));
        let verdicts = std::collections::HashMap::from([
            ("T".to_owned(), "False".to_owned()),
            ("U".to_owned(), "Conditional".to_owned()),
        ]);
        apply_verdicts(&mut diff, &verdicts);
        let seen: Vec<(bool, Option<&str>)> = diff
            .resources
            .iter()
            .map(|c| (c.replacement, c.change_set.as_deref()))
            .collect();
        assert_eq!(seen, [(false, Some("False")), (true, Some("Conditional"))]);
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(200);
        let text = shown(&json!(long));
        assert_eq!(text.chars().count(), super::super::json::SHOWN_CHARS);
        assert!(text.ends_with("..."));
        assert_eq!(shown(&json!({"Ref": "T"})), r#"{"Ref":"T"}"#);
    }
}
