//! Pictures of the models: a workflow's states and transitions, and the
//! stack's event flow, as one small graph type that renders to DOT, Mermaid
//! or SVG.
//!
//! The graphs are built from the same typed models the template and the ASL
//! come from ([`workflow`] walks a state machine, [`stack`] walks the
//! template's resources and the references between them), so a picture
//! cannot show something the deployed system does not do. Output is
//! byte-stable: nodes and edges keep the models' order, and the SVG layout
//! (layout-rs, pure Rust) has no randomness.

pub mod render;
pub mod stack;
pub mod workflow;

use crate::stack::workflows::WorkflowId;
use crate::stack::{Architecture, SynthError};

/// The stack's event flow, from the synthesized template (refused with
/// synth's error when a model is broken).
pub fn stack_graph() -> Result<Graph, SynthError> {
    // The architecture changes no resource the picture shows.
    let synthesized = crate::stack::synthesize(Architecture::default())?;
    Ok(stack::graph(&synthesized.template))
}

/// One workflow's graph, from its synthesized model (refused with synth's
/// error when a model is broken).
pub fn workflow_graph(id: WorkflowId) -> Result<Graph, SynthError> {
    let synthesized = crate::stack::synthesize(Architecture::default())?;
    let flow = synthesized
        .workflows
        .iter()
        .find(|flow| flow.spec.id == id)
        .expect("every workflow id has a synthesized workflow");
    Ok(workflow::graph(&flow.workflow)?)
}

/// Breaks `text` into lines of about 40 characters at spaces, so long
/// conditions and action lists stay readable in a picture.
pub fn wrap(text: &str) -> String {
    const WIDTH: usize = 40;
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= WIDTH => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines.join("\n")
}

/// What a node stands for; it picks the shape and colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    // Workflow states, and the start and end markers.
    Start,
    End,
    Task,
    Choice,
    Parallel,
    /// Where a Parallel state's branches meet again.
    Join,
    Wait,
    Pass,
    Succeed,
    Fail,
    // Stack resources.
    Bus,
    Rule,
    Queue,
    DeadLetterQueue,
    Function,
    FunctionUrl,
    Workflow,
    Table,
    Topic,
    Email,
    Schedule,
}

impl NodeKind {
    /// Its name in the picture's legend and in DOT/Mermaid comments.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Start => "start",
            NodeKind::End => "end",
            NodeKind::Task => "Task",
            NodeKind::Choice => "Choice",
            NodeKind::Parallel => "Parallel",
            NodeKind::Join => "join",
            NodeKind::Wait => "Wait",
            NodeKind::Pass => "Pass",
            NodeKind::Succeed => "Succeed",
            NodeKind::Fail => "Fail",
            NodeKind::Bus => "event bus",
            NodeKind::Rule => "rule",
            NodeKind::Queue => "queue",
            NodeKind::DeadLetterQueue => "dead-letter queue",
            NodeKind::Function => "function",
            NodeKind::FunctionUrl => "function URL",
            NodeKind::Workflow => "workflow",
            NodeKind::Table => "table",
            NodeKind::Topic => "topic",
            NodeKind::Email => "email",
            NodeKind::Schedule => "schedule",
        }
    }
}

/// How an edge came to be; it picks the line style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// `Next`, `End`, the start, or a resource's ordinary flow.
    Next,
    /// A Choice rule, labelled with its condition.
    Choice,
    /// A Choice state's `Default`.
    Default,
    /// A `Catch`, labelled with the errors it catches.
    Catch,
    /// Into a Parallel branch, or out of it to the join.
    Branch,
    /// Where failures go: dead letters, failed batches.
    Failure,
}

/// What an execution did to a node or an edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mark {
    #[default]
    None,
    /// The execution went through it.
    Entered,
    /// The execution failed in this state.
    Failed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique in the graph: a state's name, a resource's logical id.
    pub id: String,
    pub label: String,
    pub kind: NodeKind,
    /// A second line: a task's service call, its retries, a table's key.
    pub detail: Option<String>,
    pub mark: Mark,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: Option<String>,
    pub kind: EdgeKind,
    pub mark: Mark,
}

/// Nodes drawn together: one branch of a Parallel state.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub label: String,
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub groups: Vec<Group>,
}

impl Graph {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The nodes in no group, in order (the groups draw their own).
    pub fn ungrouped_nodes(&self) -> impl Iterator<Item = &Node> {
        let grouped: std::collections::HashSet<&str> = self
            .groups
            .iter()
            .flat_map(|g| g.members.iter().map(String::as_str))
            .collect();
        self.nodes
            .iter()
            .filter(move |n| !grouped.contains(n.id.as_str()))
    }

    fn add_node(&mut self, id: &str, label: &str, kind: NodeKind, detail: Option<String>) {
        self.nodes.push(Node {
            id: id.to_owned(),
            label: label.to_owned(),
            kind,
            detail,
            mark: Mark::None,
        });
    }

    fn add_edge(&mut self, from: &str, to: &str, kind: EdgeKind, label: Option<String>) {
        self.edges.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            label,
            kind,
            mark: Mark::None,
        });
    }

    /// Marks the path an execution took: `entered`, the state names in the
    /// history's order, and the state it failed in. A step between two
    /// states is the edge from the latest state entered before it that has
    /// an edge into it (so a Catch is told from a Next, and interleaved
    /// Parallel branches do not mix); the start, the joins and the end are
    /// marked when what is around them happened.
    pub fn overlay(&mut self, entered: &[String], failed: Option<&str>) {
        use std::collections::{HashMap, HashSet};
        let entered: Vec<String> = entered.iter().map(|n| workflow::state_id(n)).collect();
        let failed = failed.map(workflow::state_id);
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
                e.from == join
                    && (seen.contains(e.to.as_str()) || (e.to == workflow::END && succeeded))
            })
        };
        let passed: HashSet<String> = self
            .nodes
            .iter()
            .filter(|node| match node.kind {
                NodeKind::Start => !entered.is_empty(),
                NodeKind::End => succeeded,
                NodeKind::Join => {
                    workflow::joined_state(&node.id).is_some_and(|p| seen.contains(p.as_str()))
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
    use crate::model::asl::{
        Catcher, Parallel, StateMachine, Succeed, Task, Workflow, WorkflowType,
    };
    use serde_json::json;

    fn publish() -> Task {
        Task::new("arn:aws:states:::sns:publish", json!({}))
    }

    /// Start → A (catch → C) → P [X → Y | Z] → B → C → end.
    fn graph() -> Graph {
        let definition = StateMachine::new("A")
            .state(
                "A",
                publish()
                    .next("P")
                    .catch(Catcher::new(["States.ALL"], "$.error", "C")),
            )
            .state(
                "P",
                Parallel::new(vec![
                    StateMachine::new("X")
                        .state("X", publish().next("Y"))
                        .state("Y", publish().end()),
                    StateMachine::new("Z").state("Z", publish().end()),
                ])
                .next("B"),
            )
            .state("B", publish().next("C"))
            .state("C", Succeed::default());
        workflow::graph(&Workflow {
            name: "w",
            kind: WorkflowType::Express,
            definition,
            bindings: Default::default(),
        })
        .unwrap()
    }

    fn taken(graph: &Graph) -> Vec<(&str, &str)> {
        graph
            .edges
            .iter()
            .filter(|e| e.mark == Mark::Entered)
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn long_text_wraps_at_spaces() {
        assert_eq!(wrap("short"), "short");
        let wrapped = wrap(
            "$.product.status == \"IN STOCK\" and $.product.stock >= $.quantity and $.attempts.count < 4",
        );
        assert_eq!(
            wrapped,
            "$.product.status == \"IN STOCK\" and\n$.product.stock >= $.quantity and\n$.attempts.count < 4"
        );
        assert!(wrapped.lines().all(|l| l.len() <= 40));
    }

    #[test]
    fn an_overlay_follows_interleaved_branches_to_the_end() {
        let mut run = graph();
        run.overlay(&names(&["A", "P", "X", "Z", "Y", "B", "C"]), None);
        let mut expected = vec![
            ("start", "state:A"),
            ("state:A", "state:P"),
            ("state:P", "state:X"),
            ("state:X", "state:Y"),
            ("state:Y", "join:P"),
            ("state:P", "state:Z"),
            ("state:Z", "join:P"),
            ("join:P", "state:B"),
            ("state:B", "state:C"),
            ("state:C", "end"),
        ];
        let mut got = taken(&run);
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
        assert!(run.nodes.iter().all(|n| n.mark == Mark::Entered));
    }

    #[test]
    fn an_overlay_marks_a_catch_and_a_failing_state() {
        let mut caught = graph();
        caught.overlay(&names(&["A", "C"]), None);
        let mut got = taken(&caught);
        got.sort();
        assert_eq!(
            got,
            [
                ("start", "state:A"),
                ("state:A", "state:C"),
                ("state:C", "end")
            ]
        );
        assert_eq!(caught.node("state:P").unwrap().mark, Mark::None);

        let mut failed = graph();
        failed.overlay(&names(&["A", "P", "X", "Z"]), Some("X"));
        assert_eq!(failed.node("state:X").unwrap().mark, Mark::Failed);
        assert_eq!(failed.node("state:Z").unwrap().mark, Mark::Entered);
        assert_eq!(failed.node("join:P").unwrap().mark, Mark::None);
        assert_eq!(failed.node("end").unwrap().mark, Mark::None);
        let mut got = taken(&failed);
        got.sort();
        assert_eq!(
            got,
            [
                ("start", "state:A"),
                ("state:A", "state:P"),
                ("state:P", "state:X"),
                ("state:P", "state:Z"),
            ]
        );
    }
}
