//! Finding the cross-compilation tools: cargo-zigbuild, zig and the Rust
//! target. Each missing piece is reported with the command that installs it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The versions the project tests with (tools/requirements.txt pins the same).
pub const ZIGBUILD_VERSION: &str = "0.24.0";
pub const ZIG_VERSION: &str = "0.17.0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ToolError {
    #[error("cargo-zigbuild is not installed; install it with `python3 -m pip install cargo-zigbuild=={ZIGBUILD_VERSION} ziglang=={ZIG_VERSION}` (scripts/setup-tools.sh puts both in .venv)")]
    MissingZigbuild,
    #[error("zig is not installed; install it with `python3 -m pip install ziglang=={ZIG_VERSION}` or put `zig` on PATH")]
    MissingZig,
    #[error("the Rust target {0} is not installed; install it with `rustup target add {0}`")]
    MissingTarget(String),
}

/// The tools a build runs with.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub zigbuild: PathBuf,
    /// PATH for the build: the project's .venv/bin first, where the PyPI
    /// tools live, so cargo-zigbuild finds zig (or `python3 -m ziglang`).
    pub path: OsString,
}

fn search_path(workspace: &Path) -> OsString {
    let venv = workspace.join(".venv/bin");
    let current = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if venv.is_dir() {
        dirs.push(venv);
    }
    dirs.extend(std::env::split_paths(&current));
    std::env::join_paths(dirs).unwrap_or(current)
}

fn zig_available(path: &OsString) -> bool {
    if which::which_in("zig", Some(path), ".").is_ok() {
        return true;
    }
    // cargo-zigbuild falls back to the ziglang wheel through python3.
    which::which_in("python3", Some(path), ".")
        .ok()
        .and_then(|python| {
            Command::new(python)
                .args(["-m", "ziglang", "version"])
                .env("PATH", path)
                .output()
                .ok()
        })
        .is_some_and(|output| output.status.success())
}

/// Whether `rustup target list --installed` output lists `triple`. Without
/// rustup (a toolchain from elsewhere) cargo itself reports a missing target.
pub fn target_installed(installed: Option<&str>, triple: &str) -> bool {
    installed.is_none_or(|list| list.lines().any(|line| line.trim() == triple))
}

/// Finds every tool or says which one is missing and how to install it.
pub fn locate(workspace: &Path, triple: &str) -> Result<Toolchain, ToolError> {
    let path = search_path(workspace);
    let zigbuild = which::which_in("cargo-zigbuild", Some(&path), ".")
        .map_err(|_| ToolError::MissingZigbuild)?;
    if !zig_available(&path) {
        return Err(ToolError::MissingZig);
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if !target_installed(installed.as_deref(), triple) {
        return Err(ToolError::MissingTarget(triple.to_owned()));
    }
    Ok(Toolchain { zigbuild, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_matched_by_whole_line() {
        let installed = "aarch64-unknown-linux-gnu\nx86_64-unknown-linux-gnu\n";
        assert!(target_installed(
            Some(installed),
            "aarch64-unknown-linux-gnu"
        ));
        assert!(!target_installed(
            Some("x86_64-unknown-linux-gnu\n"),
            "aarch64-unknown-linux-gnu"
        ));
        assert!(!target_installed(
            Some("aarch64-unknown-linux-gnux32\n"),
            "aarch64-unknown-linux-gnu"
        ));
        assert!(target_installed(None, "aarch64-unknown-linux-gnu"));
    }

    #[test]
    fn messages_say_how_to_install() {
        assert_eq!(
            ToolError::MissingTarget("aarch64-unknown-linux-gnu".into()).to_string(),
            "the Rust target aarch64-unknown-linux-gnu is not installed; install it with `rustup target add aarch64-unknown-linux-gnu`"
        );
        assert!(ToolError::MissingZigbuild
            .to_string()
            .contains("pip install cargo-zigbuild==0.24.0"));
    }

    #[test]
    fn the_pins_match_the_requirements_file() {
        let requirements = include_str!("../../tools/requirements.txt");
        assert!(requirements.contains(&format!("cargo-zigbuild=={ZIGBUILD_VERSION}")));
        assert!(requirements.contains(&format!("ziglang=={ZIG_VERSION}")));
    }
}
