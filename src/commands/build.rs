//! `invctl build`: build every Lambda function as a reproducible zip.

use std::io::{self, Write};

use clap::builder::PossibleValuesParser;
use clap::Args;

use crate::build::{self, BuildError, BuiltFunction, ZipStatus};
use crate::output::{ReportArgs, WorkspaceArgs};
use crate::stack::functions::{self, FunctionSpec};
use crate::stack::Architecture;

fn function_names() -> Vec<&'static str> {
    functions::ALL.iter().map(|f| f.package).collect()
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Lambda architecture (the template of `invctl synth --arch` must match)
    #[arg(long, value_enum, default_value_t)]
    pub arch: Architecture,
    /// Build only this function (repeatable); default: all of them
    #[arg(long = "function", value_name = "NAME", value_parser = PossibleValuesParser::new(function_names()))]
    pub functions: Vec<String>,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot print the report")]
    Report(#[source] io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Build(BuildError::Tool(_)) => crate::exit::MISSING_TOOL,
            _ => crate::exit::FAILURE,
        }
    }
}

impl Error {
    /// Whether the machine lacks a tool (rather than the build failing).
    pub fn is_missing_tool(&self) -> bool {
        matches!(self, Error::Build(BuildError::Tool(_)))
    }
}

/// The functions named by `names`, or all of them.
pub fn selected(names: &[String]) -> Vec<FunctionSpec> {
    functions::ALL
        .into_iter()
        .filter(|f| names.is_empty() || names.iter().any(|n| n == f.package))
        .collect()
}

pub fn run(args: &BuildArgs, out: &mut dyn Write) -> Result<(), Error> {
    let workspace = args.workspace.locate()?;
    let functions = build::build(&workspace, args.arch, &selected(&args.functions))?;
    let report = BuildReport {
        architecture: args.arch.as_str(),
        functions,
    };
    crate::output::print(&report, args.report.output, out).map_err(Error::Report)
}

/// What `invctl build` made: one line per function, or JSON.
#[derive(Debug, serde::Serialize)]
struct BuildReport {
    architecture: &'static str,
    functions: Vec<BuiltFunction>,
}

impl crate::output::Report for BuildReport {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let width = self
            .functions
            .iter()
            .map(|b| b.function.len())
            .max()
            .unwrap_or(0);
        for b in &self.functions {
            let status = match b.status {
                ZipStatus::Written => "built",
                ZipStatus::Unchanged => "unchanged",
            };
            writeln!(
                out,
                "{:<width$}  {:>9}  {:>9} bytes  sha256 {}  {}",
                b.function,
                status,
                b.bytes,
                b.sha256,
                b.zip.display()
            )?;
        }
        Ok(())
    }
}
