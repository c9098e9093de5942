//! What can stop a local-cloud command, and the exit code each gives.

use std::path::PathBuf;

use crate::local::LocalError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    NotRunning(#[from] LocalError),
    #[error(
        "a local cloud already runs for this workspace at {endpoint}; `invctl local down` stops it"
    )]
    AlreadyRunning { endpoint: String },
    #[error("{python} is missing: run scripts/setup-tools.sh (it installs moto, pinned, into the project)")]
    NoMoto { python: PathBuf },
    #[error("cannot start the local cloud: {0}")]
    Start(String),
    #[error("the local cloud did not get ready within {seconds} s; its log is {log}")]
    NotReady { seconds: u64, log: PathBuf },
    #[error("the local cloud (process {pid}) did not stop")]
    DidNotStop { pid: u32 },
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
    #[error(transparent)]
    Faults(crate::local::faults::FaultError),
    #[error(transparent)]
    Fault(Box<crate::commands::fault::Error>),
    #[error(transparent)]
    Iam(Box<crate::commands::iam::Error>),
    #[error("cannot read the outbox {path}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::NotRunning(_) => crate::exit::NOT_DEPLOYED,
            Error::NoMoto { .. } => crate::exit::MISSING_TOOL,
            Error::Faults(crate::local::faults::FaultError::Cloud(_)) => crate::exit::FAILURE,
            Error::Faults(_) => crate::exit::USAGE,
            Error::Fault(e) => e.exit_code(),
            Error::Iam(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}
