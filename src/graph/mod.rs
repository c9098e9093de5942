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

pub mod model;
pub mod render;
pub mod stack;
pub mod workflow;

pub use model::{wrap, Edge, EdgeKind, Graph, Group, Mark, Node, NodeKind};

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
