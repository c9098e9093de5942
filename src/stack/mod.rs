//! The inventory stack: its template and three workflows, written with the
//! typed models in [`crate::model`], and the checks every synth runs.

pub mod functions;
pub mod ids;
pub mod queues;
pub mod scoped_name;
mod template;
pub mod workflows;

use indexmap::IndexMap;

use crate::model::asl::{Workflow, WorkflowError};
use crate::model::cfn::{Template, TemplateError, Val};
use workflows::{Placeholder, WorkflowId, WorkflowSpec};

/// The CPU architecture the Lambda functions are built for and declared with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Architecture {
    /// Graviton; cheaper per millisecond, as in the AWS sample.
    #[default]
    Arm64,
    #[value(name = "x86_64")]
    X86_64,
}

impl Architecture {
    /// The architecture of this machine, when Lambda has it.
    pub fn host() -> Option<Architecture> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Architecture::X86_64),
            "aarch64" => Some(Architecture::Arm64),
            _ => None,
        }
    }

    /// The name Lambda uses in `Architectures`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{0}")]
    Workflow(#[from] WorkflowError),
    #[error("the template has dangling references:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Template(Vec<TemplateError>),
}

/// A deployed workflow: its definition plus the state machine's logical id.
#[derive(Clone, Debug)]
pub struct StackWorkflow {
    pub logical_id: &'static str,
    pub spec: &'static WorkflowSpec,
    pub workflow: Workflow,
}

/// The workflows, in [`WorkflowId::ALL`]'s order.
pub fn stack_workflows() -> Vec<StackWorkflow> {
    WorkflowId::ALL
        .into_iter()
        .map(|id| {
            let spec = id.spec();
            StackWorkflow {
                logical_id: spec.logical_id,
                spec,
                workflow: Workflow {
                    name: spec.name,
                    kind: spec.kind,
                    definition: id.definition(),
                    bindings: spec
                        .placeholders
                        .iter()
                        .map(|p| (p.name().to_owned(), placeholder_binding(*p)))
                        .collect::<IndexMap<String, Val>>(),
                },
            }
        })
        .collect()
}

/// What the template binds a workflow's `${Placeholder}` to.
pub fn placeholder_binding(placeholder: Placeholder) -> Val {
    match placeholder {
        Placeholder::InventoryTable => Val::r#ref(ids::INVENTORY_TABLE),
        Placeholder::ReservationTable => Val::r#ref(ids::RESERVATION_TABLE),
        Placeholder::PurchaseOrderTable => Val::r#ref(ids::PURCHASE_ORDER_TABLE),
        Placeholder::EventBus => Val::get_att(ids::EVENT_BUS, "Name"),
        Placeholder::AlertTopic => Val::r#ref(ids::ALERT_TOPIC),
        Placeholder::PurchaseOrderEmailFunction => {
            Val::get_att(functions::PURCHASE_ORDER_EMAIL.logical_id, "Arn")
        }
    }
}

/// The synthesized stack: one template and the workflows it embeds.
#[derive(Debug)]
pub struct Synthesized {
    pub template: Template,
    pub workflows: Vec<StackWorkflow>,
}

/// What a deploy may choose about the stack: everything else is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub architecture: Architecture,
    /// Whether functions keep their reserved concurrency. An account whose
    /// unreserved concurrency would drop below Lambda's minimum of 100 (a
    /// new account's quota is 10) cannot create them with it.
    pub reserve_concurrency: bool,
}

impl Shape {
    pub fn new(architecture: Architecture) -> Shape {
        Shape {
            architecture,
            reserve_concurrency: true,
        }
    }
}

/// Builds and checks the whole stack with the default shape for
/// `architecture`.
pub fn synthesize(architecture: Architecture) -> Result<Synthesized, SynthError> {
    synthesize_shaped(Shape::new(architecture))
}

/// Builds and checks the whole stack. Output depends only on `shape`.
pub fn synthesize_shaped(shape: Shape) -> Result<Synthesized, SynthError> {
    let workflows = stack_workflows();
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
