//! Building the stack's Lambda functions for `provided.al2023`.
//!
//! One `cargo zigbuild` run builds every function crate under `lambdas/`
//! for the chosen architecture, linked against glibc 2.34 (what Amazon Linux
//! 2023 ships) with the size-oriented `lambda` profile. Each binary is checked
//! (architecture, glibc) and zipped reproducibly as `bootstrap`. Cargo skips
//! what has not changed, and a zip whose bytes would not change is not
//! rewritten, so a second build with no change does no work.

mod elf;
pub mod toolchain;
mod zip;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

pub use self::elf::{check_bootstrap, newest_glibc, ElfError, MAX_GLIBC};
pub use self::toolchain::ToolError;
pub use self::zip::{bootstrap_zip, sha256_hex};
use crate::stack::functions::FunctionSpec;
use crate::stack::Architecture;

/// The Cargo profile of Lambda binaries (see the workspace manifest).
pub const PROFILE: &str = "lambda";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no invctl source tree here: this command needs the clone invctl was built from (Cargo.toml and lambdas/); run it there, pass --workspace DIR or set INVCTL_WORKSPACE")]
    NoWorkspace,
    #[error("{dir} (from {from}) is not an invctl source tree: it has no Cargo.toml and lambdas/")]
    NotAWorkspace { dir: PathBuf, from: &'static str },
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error("cannot run cargo-zigbuild")]
    Spawn(#[source] io::Error),
    #[error("cannot read the current folder")]
    CurrentDir(#[source] io::Error),
    #[error("cargo-zigbuild failed ({0}); its messages are above")]
    Compile(String),
    #[error("cannot read the built binary {path}")]
    ReadBinary {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{function}: {source}")]
    Bootstrap {
        function: &'static str,
        #[source]
        source: ElfError,
    },
    #[error("cannot write {path}")]
    WriteZip {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The Rust target triple for an architecture.
pub fn triple(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
    }
}

/// The folder with the workspace manifest and `lambdas/`, from `start` upwards.
pub fn find_workspace(start: &Path) -> Result<PathBuf, BuildError> {
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file() && dir.join("lambdas").is_dir())
        .map(Path::to_owned)
        .ok_or(BuildError::NoWorkspace)
}

/// The environment variable that names the source tree for commands run
/// from elsewhere.
pub const WORKSPACE_ENV: &str = "INVCTL_WORKSPACE";

/// The source tree a command works in: `--workspace`, else
/// `INVCTL_WORKSPACE`, else the one above the current folder, else the one
/// this invctl was built from while it still exists (so a binary installed
/// with `cargo install --path .` works from any folder).
pub fn locate_workspace(explicit: Option<&Path>) -> Result<PathBuf, BuildError> {
    let from_env = std::env::var_os(WORKSPACE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let here = std::env::current_dir().map_err(BuildError::CurrentDir)?;
    resolve_workspace(
        explicit,
        from_env.as_deref(),
        &here,
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
}

fn resolve_workspace(
    explicit: Option<&Path>,
    from_env: Option<&Path>,
    here: &Path,
    built_in: &Path,
) -> Result<PathBuf, BuildError> {
    for (dir, from) in [(explicit, "--workspace"), (from_env, WORKSPACE_ENV)] {
        if let Some(dir) = dir {
            return find_workspace(dir).map_err(|_| BuildError::NotAWorkspace {
                dir: dir.to_owned(),
                from,
            });
        }
    }
    find_workspace(here).or_else(|_| {
        // Only the tree itself: a folder above it is not ours.
        let is_tree = built_in.join("Cargo.toml").is_file() && built_in.join("lambdas").is_dir();
        if is_tree {
            Ok(built_in.to_owned())
        } else {
            Err(BuildError::NoWorkspace)
        }
    })
}

fn target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
}

/// Where the zip of `function` for `architecture` is written.
pub fn zip_path(workspace: &Path, architecture: Architecture, function: &FunctionSpec) -> PathBuf {
    target_dir(workspace)
        .join("invctl")
        .join(architecture.as_str())
        .join(format!("{}.zip", function.package))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ZipStatus {
    Written,
    Unchanged,
}

/// One function's zip.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltFunction {
    pub function: &'static str,
    pub logical_id: &'static str,
    pub zip: PathBuf,
    pub bytes: usize,
    pub sha256: String,
    pub status: ZipStatus,
}

/// The profile of builds for the local cloud: Cargo's own `dev` (its
/// output folder `debug`), the one invctl is built in, so the two share one
/// build of the AWS SDK; no LTO, no size optimisation, incremental.
pub const LOCAL_PROFILE: &str = "dev";

/// The folder Cargo writes [`LOCAL_PROFILE`]'s binaries to.
const LOCAL_PROFILE_DIR: &str = "debug";

/// Where the zips of a local build go (kept apart from the deployable ones).
pub fn local_zip_path(workspace: &Path, function: &FunctionSpec) -> PathBuf {
    target_dir(workspace)
        .join("invctl")
        .join("local")
        .join(format!("{}.zip", function.package))
}

/// Builds every function for this machine, to run in the local cloud: a
/// plain Cargo build (no cross-compiler needed) in [`LOCAL_PROFILE`]. Its
/// zips are not for AWS (the build targets this machine's glibc).
///
/// The build names the whole workspace and picks the functions' binaries:
/// Cargo then unifies features as `cargo build --workspace --bins` does
/// (what the demo builds invctl with), so the dependencies already built
/// for invctl are reused rather than built again with other features.
pub fn build_local(workspace: &Path) -> Result<Vec<BuiltFunction>, BuildError> {
    build_local_functions(workspace, &crate::stack::functions::ALL, Output::Shown)
}

/// Where Cargo's own output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// To stderr, as it happens.
    Shown,
    /// Kept; its end is part of a compile error.
    Kept,
}

/// [`build_local`] for `functions` only.
pub fn build_local_functions(
    workspace: &Path,
    functions: &[FunctionSpec],
    output: Output,
) -> Result<Vec<BuiltFunction>, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--profile",
            LOCAL_PROFILE,
            "--locked",
            "--workspace",
        ])
        .current_dir(workspace);
    for function in functions {
        command.args(["--bin", function.package]);
    }
    match output {
        Output::Shown => {
            command
                .stdout(Stdio::from(io::stderr()))
                .stderr(Stdio::inherit());
            let status = command.status().map_err(BuildError::Spawn)?;
            if !status.success() {
                return Err(BuildError::Compile(status.to_string()));
            }
        }
        Output::Kept => {
            let run = command.output().map_err(BuildError::Spawn)?;
            if !run.status.success() {
                let text = String::from_utf8_lossy(&run.stderr);
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(BuildError::Compile(format!(
                    "{}\n{}",
                    run.status,
                    tail.join("\n")
                )));
            }
        }
    }
    let binaries = target_dir(workspace).join(LOCAL_PROFILE_DIR);
    functions
        .iter()
        .map(|function| {
            let binary = read_binary(&binaries, function)?;
            write_zip(function, &binary, local_zip_path(workspace, function))
        })
        .collect()
}

/// Builds `functions` for `architecture` in `workspace`.
pub fn build(
    workspace: &Path,
    architecture: Architecture,
    functions: &[FunctionSpec],
) -> Result<Vec<BuiltFunction>, BuildError> {
    let triple = triple(architecture);
    let tools = toolchain::locate(workspace, triple)?;
    let mut command = Command::new(&tools.zigbuild);
    command
        .arg("zigbuild")
        .args(["--profile", PROFILE, "--locked", "--target"])
        .arg(format!("{triple}.{}.{}", MAX_GLIBC.0, MAX_GLIBC.1))
        .current_dir(workspace)
        .env("PATH", &tools.path)
        // Cargo's own progress goes to the terminal; stdout stays ours.
        .stdout(Stdio::from(io::stderr()))
        .stderr(Stdio::inherit());
    // Always every function: Cargo unifies dependency features across the
    // packages of one build, so building one alone would give a different
    // binary (and zip hash) than building it with the others. Unchanged
    // crates cost Cargo nothing; only the requested zips are written.
    for function in crate::stack::functions::ALL {
        command.args(["-p", function.package]);
    }
    let status = command.status().map_err(BuildError::Spawn)?;
    if !status.success() {
        return Err(BuildError::Compile(status.to_string()));
    }

    let binaries = target_dir(workspace).join(triple).join(PROFILE);
    functions
        .iter()
        .map(|function| package(workspace, architecture, function, &binaries))
        .collect()
}

fn package(
    workspace: &Path,
    architecture: Architecture,
    function: &FunctionSpec,
    binaries: &Path,
) -> Result<BuiltFunction, BuildError> {
    let binary = read_binary(binaries, function)?;
    check_bootstrap(&binary, architecture).map_err(|source| BuildError::Bootstrap {
        function: function.package,
        source,
    })?;
    write_zip(
        function,
        &binary,
        zip_path(workspace, architecture, function),
    )
}

fn read_binary(binaries: &Path, function: &FunctionSpec) -> Result<Vec<u8>, BuildError> {
    let path = binaries.join(function.package);
    fs::read(&path).map_err(|source| BuildError::ReadBinary { path, source })
}

/// Zips `binary` as the function's `bootstrap` at `path`, rewriting the
/// file only when its bytes change.
fn write_zip(
    function: &FunctionSpec,
    binary: &[u8],
    path: PathBuf,
) -> Result<BuiltFunction, BuildError> {
    let zipped = bootstrap_zip(binary);
    let status = if fs::read(&path).is_ok_and(|existing| existing == zipped) {
        ZipStatus::Unchanged
    } else {
        write_atomically(&path, &zipped)?;
        ZipStatus::Written
    };
    Ok(BuiltFunction {
        function: function.package,
        logical_id: function.logical_id,
        bytes: zipped.len(),
        sha256: sha256_hex(&zipped),
        zip: path,
        status,
    })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let error = |source| BuildError::WriteZip {
        path: path.to_owned(),
        source,
    };
    let folder = path.parent().expect("zip paths have a folder");
    fs::create_dir_all(folder).map_err(error)?;
    let mut temp = tempfile::NamedTempFile::new_in(folder).map_err(error)?;
    io::Write::write_all(&mut temp, bytes).map_err(error)?;
    temp.persist(path).map_err(|e| error(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::functions;

    #[test]
    fn the_workspace_comes_from_the_flag_the_variable_the_folder_then_the_build() {
        let tree = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let elsewhere = tempfile::tempdir().unwrap();
        let other = elsewhere.path();
        let inside = tree.join("lambdas/approval");
        // The flag wins, then the variable; each must name a tree.
        assert_eq!(
            resolve_workspace(Some(&inside), Some(other), other, other).unwrap(),
            tree
        );
        assert!(matches!(
            resolve_workspace(Some(other), Some(&tree), &tree, &tree),
            Err(BuildError::NotAWorkspace {
                from: "--workspace",
                ..
            })
        ));
        assert_eq!(
            resolve_workspace(None, Some(&tree), other, other).unwrap(),
            tree
        );
        assert!(matches!(
            resolve_workspace(None, Some(other), &tree, &tree),
            Err(BuildError::NotAWorkspace {
                from: WORKSPACE_ENV,
                ..
            })
        ));
        // Then the current folder's tree, then the one invctl was built in.
        assert_eq!(resolve_workspace(None, None, &inside, other).unwrap(), tree);
        assert_eq!(resolve_workspace(None, None, other, &tree).unwrap(), tree);
        assert!(matches!(
            resolve_workspace(None, None, other, &other.join("gone")),
            Err(BuildError::NoWorkspace)
        ));
    }

    #[test]
    fn the_workspace_is_found_from_inside_it() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            find_workspace(&root.join("lambdas/approval/src")).unwrap(),
            root
        );
        assert!(matches!(
            find_workspace(Path::new("/")),
            Err(BuildError::NoWorkspace)
        ));
    }

    #[test]
    fn every_function_has_a_crate_in_the_workspace() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for function in functions::ALL {
            let manifest = fs::read_to_string(
                root.join("lambdas")
                    .join(function.package)
                    .join("Cargo.toml"),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", function.package));
            assert!(manifest.contains(&format!("name = \"{}\"", function.package)));
        }
    }

    #[test]
    fn zips_are_kept_per_architecture() {
        let root = Path::new("/w");
        let arm = zip_path(root, Architecture::Arm64, &functions::APPROVAL);
        let x86 = zip_path(root, Architecture::X86_64, &functions::APPROVAL);
        assert_ne!(arm, x86);
        assert!(
            arm.ends_with("invctl/arm64/approval.zip"),
            "{}",
            arm.display()
        );
    }
}
