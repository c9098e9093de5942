//! invctl: synthesizes, builds, deploys and drives the serverless
//! inventory-management stack on AWS.
//!
//! The library holds everything the binary does, so integration tests and
//! benchmarks exercise the same code: [`model`] (typed CloudFormation and
//! ASL), [`stack`] (the inventory stack written with them), and
//! [`commands`] (one module per subcommand).

pub mod model;
