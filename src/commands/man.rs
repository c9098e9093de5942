//! `invctl man [--out DIR]`: manual pages generated from the command line
//! itself (clap_mangen), so they say what `--help` says: `invctl(1)` on
//! stdout, or with `--out` a page per command (`invctl-deploy.1`,
//! `invctl-local-up.1`, ...) in DIR, the way `man` finds them under a
//! `man1` folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use crate::output::ReportArgs;

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write a page per command into this folder (created if missing) instead of invctl(1) to stdout
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the manual pages into {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        crate::exit::FAILURE
    }
}

/// The pages written, by file.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Written {
    folder: PathBuf,
    pages: Vec<String>,
}

impl crate::output::Report for Written {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{} manual page(s) in {}",
            self.pages.len(),
            self.folder.display()
        )?;
        for page in &self.pages {
            writeln!(out, "  {page}")?;
        }
        Ok(())
    }
}

/// Writes the pages of `command` (invctl's whole command line).
pub fn run(args: &ManArgs, command: clap::Command, out: &mut dyn Write) -> Result<(), Error> {
    let Some(folder) = &args.out else {
        let mut page = Vec::new();
        let written = clap_mangen::Man::new(command)
            .render(&mut page)
            .and_then(|()| out.write_all(&page));
        return written.map_err(|source| Error::Write {
            path: PathBuf::from("-"),
            source,
        });
    };
    let failed = |source| Error::Write {
        path: folder.clone(),
        source,
    };
    std::fs::create_dir_all(folder).map_err(failed)?;
    // Not built beforehand: generate_to leaves out the help subcommand only
    // when it builds the command itself.
    clap_mangen::generate_to(command, folder).map_err(failed)?;
    let report = Written {
        folder: folder.clone(),
        pages: pages_in(folder).map_err(failed)?,
    };
    crate::output::print(&report, args.report.output, out).map_err(Error::Report)
}

/// The `invctl*.1` files of `folder`, sorted.
fn pages_in(folder: &Path) -> std::io::Result<Vec<String>> {
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("invctl") && name.ends_with(".1") {
            pages.push(name);
        }
    }
    pages.sort();
    Ok(pages)
}
