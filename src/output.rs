//! How commands report: text for people, JSON for scripts.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// `--output`, declared once and flattened into every command that reports.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ReportArgs {
    /// How to report: text for people, json for scripts
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub output: OutputFormat,
}

/// `--workspace`, for the commands that need the invctl source tree.
#[derive(Debug, Clone, Default, Args)]
pub struct WorkspaceArgs {
    /// The invctl source tree [default: INVCTL_WORKSPACE, else the tree above the current folder, else the one invctl was built from]
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

impl WorkspaceArgs {
    /// The source tree to work in (see [`crate::build::locate_workspace`]).
    pub fn locate(&self) -> Result<PathBuf, crate::build::BuildError> {
        crate::build::locate_workspace(self.workspace.as_deref())
    }
}

/// A command's result, printed once: as JSON (its serialized form) for
/// scripts, or as text for people.
pub trait Report: serde::Serialize {
    fn write_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;
}

/// Prints `report` in `format`.
pub fn print<R: Report + ?Sized>(
    report: &R,
    format: OutputFormat,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => write_json(out, report),
        OutputFormat::Text => report.write_text(out),
    }
}

/// Writes `value` as pretty JSON and a final newline: the report of every
/// command under `--output json`.
pub fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut dyn std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// Writes `contents` to `path` whole or not at all (a temporary file in the
/// same folder, renamed over it), as an ordinary 0644 file.
pub fn write_atomically(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    write_with_mode(path, contents, 0o644)
}

/// As [`write_atomically`], readable and writable by the owner only (0600):
/// for state that holds secrets or says what may be done next.
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    write_with_mode(path, contents, 0o600)
}

fn write_with_mode(path: &std::path::Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => std::path::Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(folder)?;
    temp.write_all(contents)?;
    // Temporary files are private (0600); set what this file is to be.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
