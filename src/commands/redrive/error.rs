//! What can stop a redrive, and the exit code each gives.

use crate::drive::DriveError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("cannot {action} queue {queue}: {message}")]
    Sqs {
        action: &'static str,
        queue: String,
        message: String,
    },
    #[error("cannot put the events of {queue} back on the bus: {message}")]
    PutEvents { queue: String, message: String },
    #[error("moving the orders back failed after {moved} of them: {reason}")]
    MoveFailed { moved: u64, reason: String },
    #[error("the orders are still being moved after {seconds} s ({moved} so far); SQS goes on, and `invctl redrive orders` again reports it")]
    MoveUnfinished { seconds: u64, moved: u64 },
    #[error("{0} message(s) could not be sent back and are still in their dead-letter queue (see above)")]
    Left(u64),
    #[error("{count} event(s) are back on the bus but could not be deleted from queue {queue}: {message}; they are recorded in {journal}, and `invctl redrive events` again deletes them without putting them on the bus twice")]
    NotDeleted {
        count: usize,
        queue: String,
        message: String,
        journal: std::path::PathBuf,
    },
    #[error("cannot keep the redrive journal {path}: {source}")]
    Journal {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}
