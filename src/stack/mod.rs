//! The inventory stack: its template and three workflows, written with the
//! typed models in [`crate::model`], and the checks every synth runs.

pub mod bindings;
pub mod functions;
pub mod ids;
pub mod queues;
pub mod scoped_name;
pub mod shape;
mod template;
pub mod workflows;

use crate::model::asl::WorkflowError;
use crate::model::cfn::{Template, TemplateError};

pub use bindings::{placeholder_binding, stack_workflows, StackWorkflow};
pub use shape::{Architecture, Shape};

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{0}")]
    Workflow(#[from] WorkflowError),
    #[error("the template has dangling references:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Template(Vec<TemplateError>),
}

/// The synthesized stack: one template and the workflows it embeds.
#[derive(Debug)]
pub struct Synthesized {
    pub template: Template,
    pub workflows: Vec<StackWorkflow>,
}

/// Builds and checks the whole stack with the default shape for
/// `architecture`.
pub fn synthesize(architecture: Architecture) -> Result<Synthesized, SynthError> {
    synthesize_shaped(Shape::new(architecture))
}

/// Builds and checks the whole stack. Output depends only on `shape`.
pub fn synthesize_shaped(shape: Shape) -> Result<Synthesized, SynthError> {
    let workflows = bindings::stack_workflows();
    for flow in &workflows {
        flow.workflow.validate()?;
    }
    let template = template::build(shape);
    let errors = template.validate();
    if !errors.is_empty() {
        return Err(SynthError::Template(errors));
    }
    Ok(Synthesized {
        template,
        workflows,
    })
}
