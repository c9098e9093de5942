//! `invctl synth`: write the template and the three workflows.
//!
//! Output is byte-stable: the same invctl and the same flags give the same
//! bytes, so a file whose content is unchanged is left alone (its mtime too),
//! and `--check` can tell whether checked-in copies have drifted.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::output::ReportArgs;
use crate::stack::{self, Architecture, SynthError, Synthesized};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TemplateFormat {
    #[default]
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Folder to write into: the template at its top, workflows under asl/
    #[arg(long, value_name = "DIR", default_value = "invctl.out")]
    pub out: PathBuf,
    /// Template format
    #[arg(long, value_enum, default_value_t)]
    pub format: TemplateFormat,
    /// Lambda architecture the template declares (must match `invctl build`)
    #[arg(long, value_enum, default_value_t)]
    pub arch: Architecture,
    /// Write nothing; fail (exit 1) if any file in DIR differs from what synth would write
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Synth(#[from] SynthError),
    #[error("--out {0} exists and is not a folder")]
    OutNotAFolder(PathBuf),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} file(s) differ from the models: {}; run `invctl synth` to rewrite them", .0.len(), .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Drift(Vec<PathBuf>),
    #[error("cannot print the report")]
    Report(#[source] io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        crate::exit::FAILURE
    }
}

/// One file synth produces, relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    pub contents: String,
}

/// Every file of a synthesized stack: the template, then one ASL file per workflow.
pub fn artifacts(synthesized: &Synthesized, format: TemplateFormat) -> Vec<Artifact> {
    let template = match format {
        TemplateFormat::Yaml => Artifact {
            path: PathBuf::from("template.yaml"),
            contents: synthesized.template.to_yaml(),
        },
        TemplateFormat::Json => Artifact {
            path: PathBuf::from("template.json"),
            contents: synthesized.template.to_json(),
        },
    };
    std::iter::once(template)
        .chain(synthesized.workflows.iter().map(|flow| Artifact {
            path: Path::new("asl").join(flow.workflow.file_name()),
            contents: flow.workflow.definition_json(),
        }))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Written,
    Unchanged,
    Differs,
    Missing,
}

#[derive(Debug, Serialize)]
struct FileReport {
    path: PathBuf,
    bytes: usize,
    status: FileStatus,
}

fn read_existing(path: &Path) -> Result<Option<String>, Error> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        // A file where a folder should be: nothing to compare with; writing
        // will report the real problem.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        // Not UTF-8: treat as different content, to be replaced.
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(Some(String::new())),
        Err(source) => Err(Error::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes through a temporary file and a rename, so an interrupted synth
/// never leaves a half-written template behind.
fn write_atomically(path: &Path, contents: &str) -> Result<(), Error> {
    crate::output::write_atomically(path, contents.as_bytes()).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

pub fn run(args: &SynthArgs, out: &mut dyn Write) -> Result<(), Error> {
    if args.out.exists() && !args.out.is_dir() {
        return Err(Error::OutNotAFolder(args.out.clone()));
    }
    let synthesized = stack::synthesize(args.arch)?;
    let artifacts = artifacts(&synthesized, args.format);

    // Compare everything before writing anything.
    let mut reports = Vec::new();
    for artifact in &artifacts {
        let path = args.out.join(&artifact.path);
        let status = match read_existing(&path)? {
            Some(existing) if existing == artifact.contents => FileStatus::Unchanged,
            Some(_) if args.check => FileStatus::Differs,
            None if args.check => FileStatus::Missing,
            _ => FileStatus::Written,
        };
        reports.push(FileReport {
            path,
            bytes: artifact.contents.len(),
            status,
        });
    }

    let to_write: Vec<(&FileReport, &Artifact)> = reports
        .iter()
        .zip(&artifacts)
        .filter(|(report, _)| report.status == FileStatus::Written)
        .collect();
    // Every folder first, so a folder that cannot be made stops synth
    // before any file is replaced.
    for (report, _) in &to_write {
        let folder = report.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(folder).map_err(|source| Error::Write {
            path: folder.to_owned(),
            source,
        })?;
    }
    for (report, artifact) in &to_write {
        write_atomically(&report.path, &artifact.contents)?;
    }

    let report = SynthReport { files: reports };
    crate::output::print(&report, args.report.output, out).map_err(Error::Report)?;
    let drifted: Vec<PathBuf> = report
        .files
        .iter()
        .filter(|r| matches!(r.status, FileStatus::Differs | FileStatus::Missing))
        .map(|r| r.path.clone())
        .collect();
    if drifted.is_empty() {
        Ok(())
    } else {
        Err(Error::Drift(drifted))
    }
}

/// Each generated file and what synth did with it.
#[derive(Debug, serde::Serialize)]
struct SynthReport {
    files: Vec<FileReport>,
}

impl crate::output::Report for SynthReport {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        for r in &self.files {
            let status = match r.status {
                FileStatus::Written => "wrote",
                FileStatus::Unchanged => "unchanged",
                FileStatus::Differs => "DIFFERS",
                FileStatus::Missing => "MISSING",
            };
            writeln!(
                out,
                "{status:>9}  {}  ({} bytes)",
                r.path.display(),
                r.bytes
            )?;
        }
        Ok(())
    }
}
