//! The inventory stack: its template and three workflows, written with the
//! typed models in [`crate::model`], and the checks every synth runs.

pub mod functions;
pub mod ids;
pub mod queues;
pub mod scoped_name;
mod template;
pub mod workflows;

use crate::model::asl::WorkflowError;
use crate::model::cfn::{Template, TemplateError};

pub use workflows::StackWorkflow;

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

/// The synthesized stack: one template and the workflows it embeds.
#[derive(Debug)]
pub struct Synthesized {
    pub template: Template,
    pub workflows: Vec<StackWorkflow>,
}

/// Builds and checks the whole stack. Output depends only on `architecture`.
pub fn synthesize(architecture: Architecture) -> Result<Synthesized, SynthError> {
    let workflows = workflows::all();
    for flow in &workflows {
        flow.workflow.validate()?;
    }
    let template = template::build(architecture);
    let errors = template.validate();
    if !errors.is_empty() {
        return Err(SynthError::Template(errors));
    }
    Ok(Synthesized {
        template,
        workflows,
    })
}
