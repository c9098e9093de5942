//! Talking to CloudFormation: reading a stack, waiting on it with live
//! progress, and the failure reasons worth showing.

pub mod assets;
pub mod progress;
pub mod stack;
