//! A typed Amazon States Language model.
//!
//! [`StateMachine`] and the state types serialize to ASL JSON; [`Workflow`]
//! adds what CloudFormation needs around a definition (its type and the
//! `${Placeholder}` bindings resolved by `Fn::Sub`) and refuses, with the
//! state's name, any definition AWS would reject or that could not finish.

mod choice;
pub mod integrations;
mod states;
mod validate;

use indexmap::IndexMap;

pub use choice::{ChoiceRule, Condition, Test};
pub use states::{
    Catcher, Choice, Fail, Parallel, Pass, Path, Retrier, State, StateMachine, Succeed, Task,
    Transition, Wait, WaitDuration,
};
pub use validate::{check_placeholders, check_structure, AslError};

use crate::model::cfn::Val;

/// STANDARD runs for up to a year and can wait for callbacks; EXPRESS is for
/// short, high-volume work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkflowType {
    Standard,
    Express,
}

impl WorkflowType {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowType::Standard => "STANDARD",
            WorkflowType::Express => "EXPRESS",
        }
    }
}

/// A state machine as deployed: a name, a type, a definition and the values
/// its `${Placeholder}`s take.
#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    /// File stem and human name, e.g. `reserve-stock`.
    pub name: &'static str,
    pub kind: WorkflowType,
    pub definition: StateMachine,
    pub bindings: IndexMap<String, Val>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workflow '{workflow}' is invalid:\n  {}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
pub struct WorkflowError {
    pub workflow: String,
    pub errors: Vec<AslError>,
}

impl Workflow {
    /// Every structural and placeholder error of the workflow, or `Ok`.
    pub fn validate(&self) -> Result<(), WorkflowError> {
        let mut errors = check_structure(&self.definition);
        errors.extend(check_placeholders(&self.definition, &self.bindings));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(WorkflowError {
                workflow: self.name.to_owned(),
                errors,
            })
        }
    }

    /// The ASL text, with `${Placeholder}`s unresolved (as checked in under `asl/`).
    pub fn definition_json(&self) -> String {
        self.definition.to_json()
    }

    /// The `DefinitionString` of the CloudFormation resource.
    pub fn definition_string(&self) -> Val {
        Val::sub_with(self.definition_json(), self.bindings.clone())
    }

    /// The file name under `asl/`.
    pub fn file_name(&self) -> String {
        format!("{}.asl.json", self.name)
    }
}
