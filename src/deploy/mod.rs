//! Talking to CloudFormation: reading a stack, waiting on it with live
//! progress, and the failure reasons worth showing.

pub mod assets;
pub mod changeset;
pub mod progress;
pub mod seed;
pub mod stack;
