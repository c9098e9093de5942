//! A typed CloudFormation model: templates, the resource types the stack
//! uses, IAM documents and intrinsic functions.

pub mod iam;
mod intrinsic;
pub mod resources;
mod template;
mod validate;

pub use intrinsic::Val;
pub use template::{Output, Parameter, Policy, Properties, Resource, Template};
pub use validate::{sub_variables, TemplateError};
