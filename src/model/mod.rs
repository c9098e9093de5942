//! Typed models of the two languages invctl writes: CloudFormation templates
//! and Amazon States Language workflows. Nothing is written as text by hand;
//! the stack is built from these types and serialized.

pub mod asl;
pub mod cfn;
