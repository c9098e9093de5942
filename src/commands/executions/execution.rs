//! What reading executions gives: one execution as invctl reports it, the
//! status filter, and the errors.

use clap::ValueEnum;
use serde::Serialize;

use crate::drive::DriveError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl StatusFilter {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Running => "RUNNING",
            StatusFilter::Succeeded => "SUCCEEDED",
            StatusFilter::Failed => "FAILED",
            StatusFilter::TimedOut => "TIMED_OUT",
            StatusFilter::Aborted => "ABORTED",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("cannot read the executions of {workflow}: {message}")]
    Read {
        workflow: &'static str,
        message: String,
    },
    #[error("no execution {0} in any of the stack's workflows")]
    Unknown(String),
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
    #[error(transparent)]
    Synth(#[from] crate::stack::SynthError),
    #[error("cannot write {path}")]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot tell the picture format from {0}: name it .svg, .dot or .mmd")]
    UnknownFormat(std::path::PathBuf),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            Error::UnknownFormat(_) => crate::exit::USAGE,
            _ => crate::exit::FAILURE,
        }
    }
}

/// One execution as invctl reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub workflow: &'static str,
    pub name: String,
    pub arn: String,
    pub status: String,
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// States entered, in order (only for `show`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}
