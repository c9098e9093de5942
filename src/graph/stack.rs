//! The stack's event flow, from the synthesized template: the resources
//! that carry events and data (bus, rules, queues, functions, workflows,
//! tables, topics, schedule, function URL) and what connects them.
//!
//! Edges come from the template's own references, so the picture follows
//! the template as it changes: a rule's targets, a queue's dead-letter
//! queue, an event source mapping (source → function, failures → its
//! destination), a schedule's target, a URL's function, a topic's
//! subscriptions, and what each function and workflow may call, read from
//! the IAM role it runs with (permissions come from the resource that
//! needs them, so the role says what a function talks to).

use indexmap::IndexMap;
use serde_json::Value;

use super::model::{EdgeKind, Graph, NodeKind};
use crate::model::cfn::Template;

/// The template's resources as JSON, by logical id, in template order.
type Resources = IndexMap<String, Value>;

pub fn graph(template: &Template) -> Graph {
    let resources: Resources = template
        .resources
        .iter()
        .map(|(id, resource)| {
            let json = serde_json::to_value(resource).expect("a resource serializes");
            (id.clone(), json)
        })
        .collect();
    let dead_letter_queues = dead_letter_queues(&resources);
    let mut graph = Graph {
        title: "inventory stack: event flow".to_owned(),
        ..Graph::default()
    };
    for (id, resource) in &resources {
        let properties = &resource["Properties"];
        let (kind, detail) = match resource["Type"].as_str().unwrap_or_default() {
            "AWS::Events::EventBus" => (NodeKind::Bus, None),
            "AWS::Events::Rule" => (NodeKind::Rule, Some(pattern(properties))),
            "AWS::SQS::Queue" if dead_letter_queues.contains(id) => {
                (NodeKind::DeadLetterQueue, None)
            }
            "AWS::SQS::Queue" => (NodeKind::Queue, None),
            "AWS::Lambda::Function" => (NodeKind::Function, None),
            "AWS::Lambda::Url" => (
                NodeKind::FunctionUrl,
                properties["AuthType"]
                    .as_str()
                    .map(|auth| format!("auth {auth}")),
            ),
            "AWS::StepFunctions::StateMachine" => (
                NodeKind::Workflow,
                properties["StateMachineType"].as_str().map(str::to_owned),
            ),
            "AWS::DynamoDB::Table" => (
                NodeKind::Table,
                properties
                    .get("StreamSpecification")
                    .map(|_| "with stream".to_owned()),
            ),
            "AWS::SNS::Topic" => (NodeKind::Topic, None),
            "AWS::SNS::Subscription" => (
                NodeKind::Email,
                properties["Protocol"].as_str().map(str::to_owned),
            ),
            "AWS::Scheduler::Schedule" => (
                NodeKind::Schedule,
                Some(format!(
                    "{} ({})",
                    properties["ScheduleExpression"]
                        .as_str()
                        .unwrap_or_default(),
                    properties["State"].as_str().unwrap_or("ENABLED")
                )),
            ),
            _ => continue,
        };
        graph.add_node(id, id, kind, detail);
    }
    let mut edges: Vec<(String, String, EdgeKind, Option<String>)> = Vec::new();
    for (id, resource) in &resources {
        let properties = &resource["Properties"];
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::Events::Rule" => {
                for bus in references(&properties["EventBusName"]) {
                    edges.push((bus, id.clone(), EdgeKind::Next, None));
                }
                for target in properties["Targets"].as_array().into_iter().flatten() {
                    for to in references(&target["Arn"]) {
                        edges.push((id.clone(), to, EdgeKind::Next, None));
                    }
                    for to in references(&target["DeadLetterConfig"]) {
                        edges.push((
                            id.clone(),
                            to,
                            EdgeKind::Failure,
                            Some("undeliverable events".to_owned()),
                        ));
                    }
                }
            }
            "AWS::SQS::Queue" => {
                let redrive = &properties["RedrivePolicy"];
                for to in references(&redrive["deadLetterTargetArn"]) {
                    let label = redrive["maxReceiveCount"]
                        .as_u64()
                        .map(|n| format!("after {n} receives"));
                    edges.push((id.clone(), to, EdgeKind::Failure, label));
                }
            }
            "AWS::Lambda::EventSourceMapping" => {
                let functions = references(&properties["FunctionName"]);
                let label = properties["BatchSize"]
                    .as_u64()
                    .map(|n| format!("batches of up to {n}"));
                for source in references(&properties["EventSourceArn"]) {
                    for function in &functions {
                        edges.push((
                            source.clone(),
                            function.clone(),
                            EdgeKind::Next,
                            label.clone(),
                        ));
                    }
                }
                for to in references(&properties["DestinationConfig"]) {
                    for function in &functions {
                        edges.push((
                            function.clone(),
                            to.clone(),
                            EdgeKind::Failure,
                            Some("failed batches".to_owned()),
                        ));
                    }
                }
            }
            "AWS::Lambda::Url" => {
                for function in references(&properties["TargetFunctionArn"]) {
                    edges.push((
                        id.clone(),
                        function,
                        EdgeKind::Next,
                        Some("HTTPS".to_owned()),
                    ));
                }
            }
            "AWS::Scheduler::Schedule" => {
                for to in references(&properties["Target"]["Arn"]) {
                    edges.push((id.clone(), to, EdgeKind::Next, None));
                }
            }
            "AWS::SNS::Subscription" => {
                for topic in references(&properties["TopicArn"]) {
                    edges.push((topic, id.clone(), EdgeKind::Next, None));
                }
            }
            _ => {}
        }
    }
    // What each function and workflow may call, from its role; a pair the
    // flow above already connects is not drawn twice.
    for (id, resource) in &resources {
        let role = match resource["Type"].as_str().unwrap_or_default() {
            "AWS::Lambda::Function" => &resource["Properties"]["Role"],
            "AWS::StepFunctions::StateMachine" => &resource["Properties"]["RoleArn"],
            _ => continue,
        };
        for role_id in references(role) {
            for (target, actions) in granted(&resources, &role_id) {
                let connected = edges
                    .iter()
                    .any(|(a, b, ..)| (*a == *id && *b == target) || (*a == target && *b == *id));
                if target != *id && !connected {
                    edges.push((
                        id.clone(),
                        target,
                        EdgeKind::Next,
                        Some(super::model::wrap(&actions)),
                    ));
                }
            }
        }
    }
    for (from, to, kind, label) in edges {
        if graph.node(&from).is_some() && graph.node(&to).is_some() {
            graph.add_edge(&from, &to, kind, label);
        }
    }
    graph
}

/// The queues some other resource sends its failures to.
fn dead_letter_queues(resources: &Resources) -> Vec<String> {
    let mut found = Vec::new();
    for resource in resources.values() {
        let properties = &resource["Properties"];
        let mut failure_refs = references(&properties["RedrivePolicy"]["deadLetterTargetArn"]);
        failure_refs.extend(references(&properties["DestinationConfig"]));
        for target in properties["Targets"].as_array().into_iter().flatten() {
            failure_refs.extend(references(&target["DeadLetterConfig"]));
        }
        found.extend(failure_refs);
    }
    found
}

/// A rule's pattern, shortly: the detail-types (else sources) it matches.
fn pattern(properties: &Value) -> String {
    let pattern = &properties["EventPattern"];
    let list = |key: &str| {
        pattern[key].as_array().map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    list("detail-type")
        .or_else(|| list("source"))
        .unwrap_or_default()
}

/// The resources a role's inline policies grant access to, each with the
/// actions granted on it (`dynamodb:GetItem, UpdateItem`), in policy order.
fn granted(resources: &Resources, role: &str) -> IndexMap<String, String> {
    let mut actions: IndexMap<String, Vec<String>> = IndexMap::new();
    let policies = &resources
        .get(role)
        .map(|r| &r["Properties"]["Policies"])
        .cloned()
        .unwrap_or(Value::Null);
    for policy in policies.as_array().into_iter().flatten() {
        for statement in policy["PolicyDocument"]["Statement"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if statement["Effect"] != "Allow" {
                continue;
            }
            let granted: Vec<String> = match &statement["Action"] {
                Value::String(one) => vec![one.clone()],
                Value::Array(many) => many
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            };
            let mut targets = references(&statement["Resource"]);
            targets.extend(named_in_arns(resources, &statement["Resource"]));
            // SendTask* take no resource (granted on "*"): they reach the
            // workflows that wait for a task token.
            if statement["Resource"] == serde_json::json!(["*"])
                && granted.iter().any(|a| a.starts_with("states:SendTask"))
            {
                targets.extend(token_waiters(resources));
            }
            for target in targets {
                let list = actions.entry(target).or_default();
                for action in &granted {
                    if !list.contains(action) {
                        list.push(action.clone());
                    }
                }
            }
        }
    }
    actions
        .into_iter()
        .map(|(target, list)| (target, compact_actions(&list)))
        .collect()
}

/// The state machines with a task that waits for a task token.
fn token_waiters(resources: &Resources) -> Vec<String> {
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::StepFunctions::StateMachine")
        .filter(|(_, r)| {
            let definition = &r["Properties"]["DefinitionString"];
            let text = definition["Fn::Sub"][0]
                .as_str()
                .or_else(|| definition["Fn::Sub"].as_str())
                .or_else(|| definition.as_str())
                .unwrap_or_default();
            text.contains(".waitForTaskToken")
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// Resources an ARN built by `Fn::Sub` names by their physical name rather
/// than by reference (`...:stateMachine:${AWS::StackName}-create-purchase-order`,
/// written so to break a circular dependency): those whose own `...Name`
/// property is the same `Fn::Sub` text the ARN ends with.
fn named_in_arns(resources: &Resources, arns: &Value) -> Vec<String> {
    let subs: Vec<&str> = match arns {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    }
    .into_iter()
    .filter_map(|arn| arn["Fn::Sub"].as_str())
    .collect();
    let mut found = Vec::new();
    for (id, resource) in resources {
        let Some(properties) = resource["Properties"].as_object() else {
            continue;
        };
        let names = properties
            .iter()
            .filter(|(key, _)| key.ends_with("Name"))
            .filter_map(|(_, value)| value["Fn::Sub"].as_str())
            .filter(|name| name.contains("${AWS::StackName}"));
        for name in names {
            if subs.iter().any(|arn| arn.ends_with(&format!(":{name}"))) && !found.contains(id) {
                found.push(id.clone());
            }
        }
    }
    found
}

/// `[dynamodb:GetItem, dynamodb:UpdateItem, sns:Publish]` →
/// `dynamodb:GetItem, UpdateItem; sns:Publish`.
fn compact_actions(actions: &[String]) -> String {
    let mut by_service: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for action in actions {
        let (service, name) = action.split_once(':').unwrap_or(("", action));
        by_service.entry(service).or_default().push(name);
    }
    by_service
        .into_iter()
        .map(|(service, names)| format!("{service}:{}", names.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The logical ids `value` refers to: `Ref`, `Fn::GetAtt` (list or
/// `Id.Attr`) and `Fn::Sub` (`${Id}`, `${Id.Attr}`), anywhere inside it.
/// Pseudo parameters (`AWS::...`) are not resources and are left out.
pub fn references(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(value, &mut found);
    found.retain(|id| !id.starts_with("AWS::"));
    let mut unique = Vec::new();
    for id in found {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    unique
}

fn collect(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("Ref") {
                found.push(id.clone());
            }
            match map.get("Fn::GetAtt") {
                Some(Value::Array(parts)) => {
                    if let Some(Value::String(id)) = parts.first() {
                        found.push(id.clone());
                    }
                }
                Some(Value::String(dotted)) => {
                    found.push(dotted.split('.').next().unwrap_or_default().to_owned());
                }
                _ => {}
            }
            // `Fn::Sub`'s own variables (its second element) are not ids.
            let (sub_text, variables) = match map.get("Fn::Sub") {
                Some(Value::String(text)) => (Some(text.as_str()), None),
                Some(Value::Array(parts)) => (
                    parts.first().and_then(Value::as_str),
                    parts.get(1).and_then(Value::as_object),
                ),
                _ => (None, None),
            };
            if let Some(text) = sub_text {
                let mut rest = text;
                while let Some(start) = rest.find("${") {
                    let after = &rest[start + 2..];
                    let Some(end) = after.find('}') else { break };
                    let name = after[..end].split('.').next().unwrap_or_default();
                    let variable = variables.is_some_and(|v| v.contains_key(name));
                    if !name.starts_with('!') && !variable {
                        found.push(name.to_owned());
                    }
                    rest = &after[end + 1..];
                }
            }
            for (key, inner) in map {
                if key != "Ref" && key != "Fn::GetAtt" {
                    collect(inner, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_found_in_every_intrinsic_form() {
        let value = json!({
            "A": {"Ref": "Queue"},
            "B": [{"Fn::GetAtt": ["Table", "Arn"]}, {"Fn::GetAtt": "Bus.Name"}],
            "C": {"Fn::Sub": "arn:${AWS::Partition}:x:${Topic}:${Function.Arn}:${!Literal}"},
            "D": {"Fn::Sub": ["${Local}-${Queue}", {"Local": {"Ref": "Workflow"}}]},
            "E": {"Ref": "AWS::StackName"}
        });
        assert_eq!(
            references(&value),
            ["Queue", "Table", "Bus", "Topic", "Function", "Workflow"]
        );
    }

    #[test]
    fn actions_are_grouped_by_service() {
        let actions: Vec<String> = ["dynamodb:GetItem", "dynamodb:UpdateItem", "sns:Publish"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(
            compact_actions(&actions),
            "dynamodb:GetItem, UpdateItem; sns:Publish"
        );
    }
}
