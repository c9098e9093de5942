//! One module per subcommand, each with its clap arguments and a `run`
//! (`decision` serves both `approve` and `reject`).

pub mod build;
pub mod completions;
pub mod decision;
pub mod deploy;
pub mod destroy;
pub mod diff;
pub mod executions;
pub mod fault;
pub mod graph;
pub mod iam;
pub mod invoke;
pub mod local;
pub mod logs;
pub mod man;
pub mod redrive;
pub mod scan;
pub mod schedule;
pub mod send_order;
pub mod status;
pub mod synth;
pub mod watch;
