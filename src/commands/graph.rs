//! `invctl graph WORKFLOW|stack`: a picture of a workflow's states or of
//! the stack's event flow, drawn from the models before anything is
//! deployed: SVG (laid out by invctl itself), DOT or Mermaid.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};

use crate::graph::render::{self, Format};
use crate::graph::{self, Graph};
use crate::stack::workflows::WorkflowId;
use crate::stack::SynthError;

/// What to draw: the stack, or one of its workflows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Stack,
    Workflow(WorkflowId),
}

impl ValueEnum for Target {
    fn value_variants<'a>() -> &'a [Self] {
        // The workflows come from their table, so a new one is drawable
        // without touching this file.
        static ALL: OnceLock<Vec<Target>> = OnceLock::new();
        ALL.get_or_init(|| {
            std::iter::once(Target::Stack)
                .chain(WorkflowId::ALL.map(Target::Workflow))
                .collect()
        })
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            Target::Stack => Some(PossibleValue::new("stack").help("the stack's event flow")),
            Target::Workflow(id) => id
                .to_possible_value()
                .map(|v| v.help(format!("the {} workflow", id.as_str()))),
        }
    }
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// What to draw
    #[arg(value_enum)]
    pub target: Target,
    /// Picture format [default: the --out file's extension (.dot, .mmd), else svg]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Synth(#[from] SynthError),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot print the picture")]
    Report(#[source] std::io::Error),
    #[error(
        "cannot tell the picture format from {0}: name it .svg, .dot or .mmd, or pass --format"
    )]
    UnknownFormat(PathBuf),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::UnknownFormat(_) => crate::exit::USAGE,
            _ => crate::exit::FAILURE,
        }
    }
}

/// The graph of `target`, from the synthesized stack: a broken model is
/// refused with the error `invctl synth` gives.
pub fn graph_of(target: Target) -> Result<Graph, SynthError> {
    match target {
        Target::Stack => graph::stack_graph(),
        Target::Workflow(id) => graph::workflow_graph(id),
    }
}

/// Writes a picture to `path`, whole or not at all.
pub fn write_picture(path: &Path, picture: &str) -> Result<(), Error> {
    crate::output::write_atomically(path, picture.as_bytes()).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

pub fn run(args: &GraphArgs, out: &mut dyn Write) -> Result<(), Error> {
    let format = match (args.format, &args.out) {
        (Some(format), _) => format,
        (None, Some(path)) => {
            Format::for_path(path).ok_or_else(|| Error::UnknownFormat(path.clone()))?
        }
        (None, None) => Format::default(),
    };
    let picture = render::render(&graph_of(args.target)?, format);
    match &args.out {
        Some(path) => {
            write_picture(path, &picture)?;
            writeln!(out, "wrote {} ({} bytes)", path.display(), picture.len())
                .map_err(Error::Report)
        }
        None => out.write_all(picture.as_bytes()).map_err(Error::Report),
    }
}
