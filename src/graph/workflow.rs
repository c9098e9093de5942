//! A workflow's graph, from its typed state machine: every state with its
//! type, each transition labelled with why it is taken (a Choice rule's
//! condition, `default`, the errors a Catch catches), the retries of each
//! task, Parallel branches as groups that meet at a join, and the ends.

use crate::model::asl::{
    Condition, State, StateMachine, Test, Transition, WaitDuration, Workflow, WorkflowError,
};

use super::model::{EdgeKind, Graph, Mark, NodeKind};

pub const START: &str = "start";
pub const END: &str = "end";

/// A state's node id. State names may be anything, so they are prefixed
/// to keep clear of the start, end and join markers.
pub fn state_id(name: &str) -> String {
    format!("state:{name}")
}

fn join_id(parallel: &str) -> String {
    format!("join:{parallel}")
}

/// The state id of the Parallel state a join node closes.
pub(super) fn joined_state(join: &str) -> Option<String> {
    join.strip_prefix("join:").map(state_id)
}

/// The graph of `workflow`, refused with synth's own error when the model
/// is broken (a dangling `Next`, an unbound placeholder).
pub fn graph(workflow: &Workflow) -> Result<Graph, WorkflowError> {
    workflow.validate()?;
    let mut graph = Graph {
        title: format!("{} ({})", workflow.name, workflow.kind.as_str()),
        ..Graph::default()
    };
    graph.add_node(START, "Start", NodeKind::Start, None);
    graph.add_edge(
        START,
        &state_id(&workflow.definition.start_at),
        EdgeKind::Next,
        None,
    );
    add_machine(&mut graph, &workflow.definition, END);
    graph.add_node(END, "End", NodeKind::End, None);
    Ok(graph)
}

/// Adds the states of `machine`; a state with `End` goes to `end` (the
/// workflow's end, or the join of the Parallel state the branch is in).
fn add_machine(graph: &mut Graph, machine: &StateMachine, end: &str) {
    for (name, state) in &machine.states {
        let id = state_id(name);
        let (kind, detail) = describe(state);
        graph.add_node(&id, name, kind, detail);
        let transition = |graph: &mut Graph, from: &str, t: &Transition| match t {
            Transition::Next(next) => graph.add_edge(from, &state_id(next), EdgeKind::Next, None),
            Transition::End => graph.add_edge(from, end, EdgeKind::Next, None),
        };
        match state {
            State::Task(task) => {
                transition(graph, &id, &task.transition);
                add_catches(graph, &id, &task.catch);
            }
            State::Pass(pass) => transition(graph, &id, &pass.transition),
            State::Wait(wait) => transition(graph, &id, &wait.transition),
            State::Choice(choice) => {
                for rule in &choice.choices {
                    graph.add_edge(
                        &id,
                        &state_id(&rule.next),
                        EdgeKind::Choice,
                        Some(super::model::wrap(&condition_text(&rule.condition))),
                    );
                }
                if let Some(default) = &choice.default {
                    graph.add_edge(
                        &id,
                        &state_id(default),
                        EdgeKind::Default,
                        Some("default".to_owned()),
                    );
                }
            }
            State::Parallel(parallel) => {
                let join = join_id(name);
                for (index, branch) in parallel.branches.iter().enumerate() {
                    let first_node = graph.nodes.len();
                    graph.add_edge(
                        &id,
                        &state_id(&branch.start_at),
                        EdgeKind::Branch,
                        Some(format!("branch {}", index + 1)),
                    );
                    add_machine(graph, branch, &join);
                    let members = graph.nodes[first_node..]
                        .iter()
                        .map(|n| n.id.clone())
                        .collect();
                    graph.groups.push(super::model::Group {
                        label: format!("{name}: branch {}", index + 1),
                        members,
                    });
                }
                graph.add_node(&join, &format!("{name} done"), NodeKind::Join, None);
                transition(graph, &join, &parallel.transition);
                add_catches(graph, &id, &parallel.catch);
            }
            State::Succeed(_) => graph.add_edge(&id, end, EdgeKind::Next, None),
            // A Fail state ends the execution as failed, never at `end`.
            State::Fail(_) => {}
        }
    }
}

fn add_catches(graph: &mut Graph, from: &str, catchers: &[crate::model::asl::Catcher]) {
    for catcher in catchers {
        graph.add_edge(
            from,
            &state_id(&catcher.next),
            EdgeKind::Catch,
            Some(super::model::wrap(&format!(
                "catch {}",
                catcher.error_equals.join(", ")
            ))),
        );
    }
}

/// A state's kind and its second line.
fn describe(state: &State) -> (NodeKind, Option<String>) {
    match state {
        State::Task(task) => {
            let mut lines = vec![service_call(&task.resource)];
            lines.extend(task.retry.iter().map(retry_text));
            if let Some(seconds) = task.timeout_seconds {
                lines.push(format!("timeout {seconds}s"));
            }
            (NodeKind::Task, Some(lines.join("\n")))
        }
        State::Choice(_) => (NodeKind::Choice, None),
        State::Parallel(parallel) => {
            let mut lines = vec![format!("{} branches", parallel.branches.len())];
            lines.extend(parallel.retry.iter().map(retry_text));
            (NodeKind::Parallel, Some(lines.join("\n")))
        }
        State::Pass(_) => (NodeKind::Pass, None),
        State::Wait(wait) => (
            NodeKind::Wait,
            Some(match &wait.duration {
                WaitDuration::Seconds(s) => format!("{s}s"),
                WaitDuration::SecondsPath(p) => format!("seconds at {p}"),
            }),
        ),
        State::Succeed(_) => (NodeKind::Succeed, None),
        State::Fail(fail) => (NodeKind::Fail, Some(fail.error.clone())),
    }
}

/// `retry x5 (1s, x2): SNS.ThrottledException +3 more`: the attempts, the
/// first interval and backoff, and the errors (the first, when many).
fn retry_text(retry: &crate::model::asl::Retrier) -> String {
    let errors = match retry.error_equals.as_slice() {
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} +{} more", rest.len()),
        [] => String::new(),
    };
    super::model::wrap(&format!(
        "retry x{} ({}s, x{}): {errors}",
        retry.max_attempts, retry.interval_seconds, retry.backoff_rate
    ))
}

/// `arn:${AWS::Partition}:states:::dynamodb:updateItem` (or a resolved
/// partition) → `dynamodb:updateItem`.
fn service_call(resource: &str) -> String {
    match resource.split_once(":states:::") {
        Some((arn, call)) if arn.starts_with("arn:") => call.to_owned(),
        _ => resource.to_owned(),
    }
}

/// A Choice rule's condition as people write it: `$.stock >= $.quantity`.
pub fn condition_text(condition: &Condition) -> String {
    fn operand(c: &Condition) -> String {
        match c {
            Condition::Test { .. } | Condition::Not(_) => condition_text(c),
            _ => format!("({})", condition_text(c)),
        }
    }
    match condition {
        Condition::And(all) => all.iter().map(operand).collect::<Vec<_>>().join(" and "),
        Condition::Or(any) => any.iter().map(operand).collect::<Vec<_>>().join(" or "),
        Condition::Not(inner) => format!("not {}", operand(inner)),
        Condition::Test { variable, test } => test_text(variable, test),
    }
}

fn test_text(variable: &str, test: &Test) -> String {
    use Test::*;
    let (operator, value) = match test {
        StringEquals(v) => ("==", format!("{v:?}")),
        StringEqualsPath(p) | NumericEqualsPath(p) => ("==", p.clone()),
        NumericEquals(v) => ("==", v.to_string()),
        NumericLessThan(v) => ("<", v.to_string()),
        NumericLessThanPath(p) => ("<", p.clone()),
        NumericLessThanEquals(v) => ("<=", v.to_string()),
        NumericLessThanEqualsPath(p) => ("<=", p.clone()),
        NumericGreaterThan(v) => (">", v.to_string()),
        NumericGreaterThanPath(p) => (">", p.clone()),
        NumericGreaterThanEquals(v) => (">=", v.to_string()),
        NumericGreaterThanEqualsPath(p) => (">=", p.clone()),
        BooleanEquals(v) => ("==", v.to_string()),
        IsPresent(true) => return format!("{variable} is present"),
        IsPresent(false) => return format!("{variable} is absent"),
        IsNull(v) => return format!("{variable} is {}null", if *v { "" } else { "not " }),
        IsString(v) => return format!("{variable} is {}a string", if *v { "" } else { "not " }),
        IsNumeric(v) => return format!("{variable} is {}a number", if *v { "" } else { "not " }),
        IsBoolean(v) => return format!("{variable} is {}a boolean", if *v { "" } else { "not " }),
    };
    format!("{variable} {operator} {value}")
}

impl Graph {
    /// Marks the path an execution took: `entered`, the state names in the
    /// history's order, and the state it failed in. A step between two
    /// states is the edge from the latest state entered before it that has
    /// an edge into it (so a Catch is told from a Next, and interleaved
    /// Parallel branches do not mix); the start, the joins and the end are
    /// marked when what is around them happened.
    pub fn overlay(&mut self, entered: &[String], failed: Option<&str>) {
        use std::collections::{HashMap, HashSet};
        let entered: Vec<String> = entered.iter().map(|n| state_id(n)).collect();
        let failed = failed.map(state_id);
        let mut steps: HashSet<(&str, &str)> = HashSet::new();
        for (i, to) in entered.iter().enumerate() {
            let from = entered[..i]
                .iter()
                .rev()
                .find(|from| self.edges.iter().any(|e| e.from == **from && e.to == *to));
            if let Some(from) = from {
                steps.insert((from.as_str(), to.as_str()));
            }
        }
        let seen: HashSet<&str> = entered.iter().map(String::as_str).collect();
        let succeeded = failed.is_none() && !entered.is_empty();
        // A join is passed when its Parallel state was entered and what
        // follows the join happened.
        let goes_on = |join: &str| {
            self.edges.iter().any(|e| {
                e.from == join && (seen.contains(e.to.as_str()) || (e.to == END && succeeded))
            })
        };
        let passed: HashSet<String> = self
            .nodes
            .iter()
            .filter(|node| match node.kind {
                NodeKind::Start => !entered.is_empty(),
                NodeKind::End => succeeded,
                NodeKind::Join => {
                    joined_state(&node.id).is_some_and(|p| seen.contains(p.as_str()))
                        && goes_on(&node.id)
                }
                _ => seen.contains(node.id.as_str()),
            })
            .map(|node| node.id.clone())
            .collect();
        let kinds: HashMap<&str, NodeKind> =
            self.nodes.iter().map(|n| (n.id.as_str(), n.kind)).collect();
        let taken: Vec<bool> = self
            .edges
            .iter()
            .map(|edge| {
                // Markers, branches and joins have no history entry of
                // their own: such an edge is taken when both ends were.
                let structural = (matches!(
                    kinds.get(edge.from.as_str()),
                    Some(NodeKind::Start | NodeKind::Join | NodeKind::Parallel)
                ) && edge.kind != EdgeKind::Catch)
                    || matches!(
                        kinds.get(edge.to.as_str()),
                        Some(NodeKind::End | NodeKind::Join)
                    );
                passed.contains(&edge.from)
                    && passed.contains(&edge.to)
                    && (structural || steps.contains(&(edge.from.as_str(), edge.to.as_str())))
            })
            .collect();
        for (edge, taken) in self.edges.iter_mut().zip(taken) {
            edge.mark = if taken { Mark::Entered } else { Mark::None };
        }
        for node in &mut self.nodes {
            node.mark = if failed.as_deref() == Some(node.id.as_str()) {
                Mark::Failed
            } else if passed.contains(&node.id) {
                Mark::Entered
            } else {
                Mark::None
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_read_as_written() {
        let rule = Condition::and(vec![
            Condition::is_present("$.quantity"),
            Condition::not(Condition::string_equals("$.status", "OUT OF STOCK")),
            Condition::or(vec![
                Condition::test(
                    "$.stock",
                    Test::NumericGreaterThanEqualsPath("$.quantity".into()),
                ),
                Condition::test("$.force", Test::BooleanEquals(true)),
            ]),
        ]);
        assert_eq!(
            condition_text(&rule),
            r#"$.quantity is present and not $.status == "OUT OF STOCK" and ($.stock >= $.quantity or $.force == true)"#
        );
    }
}
