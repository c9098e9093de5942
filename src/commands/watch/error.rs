//! What can stop a watch, and the exit code each gives.

use crate::commands::executions::{self};
use crate::drive::DriveError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error(transparent)]
    Executions(#[from] executions::Error),
    #[error("cannot read table {table}: {message}")]
    Table { table: String, message: String },
    #[error("no outcome after {seconds} s for: {}", .orders.join(", "))]
    TimedOut { seconds: u64, orders: Vec<String> },
    #[error("no outcome after {seconds} s for: {}; their last executions failed and their queue delivers them again (`invctl executions --workflow reserve-stock --status failed` shows why)", .orders.join(", "))]
    StillFailing { seconds: u64, orders: Vec<String> },
    #[error("dead-lettered (every delivery its queue allows failed): {}; `invctl executions --workflow reserve-stock --status failed` shows why, `invctl redrive orders` sends them again", .orders.join(", "))]
    DeadLettered { orders: Vec<String> },
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            Error::Executions(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}
