//! `invctl local up --watch`: source changes reach the running local cloud
//! the way a deploy reaches AWS, without restarting anything else.
//!
//! - A function crate changed (or what it is built from: `lambdas/domain`,
//!   `lambdas/support`, `templates/`): the affected functions are rebuilt for
//!   this machine and their new code is given to each deployed stack's
//!   function with UpdateFunctionCode. The plane sees the new code hash on
//!   its next look and restarts only those functions.
//! - The workflow or stack models changed (`src/`): invctl is rebuilt and
//!   each deployed invctl stack is updated in place through a change set
//!   (`invctl --local deploy --yes`), as a user would.
//!
//! Events are gathered for a short quiet period, so an editor's burst of
//! writes is one reload. Each reload is reported with what it did and how
//! long it took.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use super::console::Console;
use crate::build::{self, Output};
use crate::stack::functions::{FunctionSpec, ALL};

/// How long the tree must be quiet before a reload starts.
const SETTLE: Duration = Duration::from_millis(400);

/// What a set of changed paths asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reload {
    /// Packages of the functions to rebuild.
    pub functions: BTreeSet<&'static str>,
    /// The models changed: re-synthesize and update the stacks.
    pub models: bool,
}

/// What `paths` (under `workspace`) ask to reload; build output and
/// editors' files are ignored.
pub fn plan(workspace: &Path, paths: &[PathBuf]) -> Reload {
    let mut reload = Reload::default();
    for path in paths {
        let Ok(relative) = path.strip_prefix(workspace) else {
            continue;
        };
        let parts: Vec<&str> = relative.iter().filter_map(|p| p.to_str()).collect();
        let Some(name) = parts.last() else { continue };
        if name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") {
            continue;
        }
        match parts.as_slice() {
            ["lambdas", "domain" | "support", ..] | ["templates", ..] => {
                reload.functions.extend(ALL.iter().map(|f| f.package));
            }
            ["lambdas", package, rest @ ..] if rest.first() != Some(&"target") => {
                if let Some(function) = ALL.iter().find(|f| f.package == *package) {
                    reload.functions.insert(function.package);
                }
            }
            ["src", ..] => reload.models = true,
            _ => {}
        }
    }
    reload
}

/// Watches `workspace` and reloads what changes into the local cloud whose
/// state is under `cloud_folder`, until the task is dropped.
pub fn start(
    workspace: PathBuf,
    cloud_folder: PathBuf,
    config: SdkConfig,
    console: Console,
) -> notify::Result<tokio::task::JoinHandle<()>> {
    use notify::Watcher;
    let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if event.kind.is_modify() || event.kind.is_create() || event.kind.is_remove() {
                for path in event.paths {
                    let _ = sender.send(path);
                }
            }
        }
    })?;
    for folder in ["lambdas", "templates", "src"] {
        let path = workspace.join(folder);
        if path.is_dir() {
            watcher.watch(&path, notify::RecursiveMode::Recursive)?;
        }
    }
    console.line(format!(
        "watching {} (lambdas/, templates/, src/)",
        workspace.display()
    ));
    Ok(tokio::spawn(async move {
        // Owned here: watching stops when the task ends.
        let _watcher = watcher;
        while let Some(first) = changes.recv().await {
            let mut paths = vec![first];
            while let Ok(Some(path)) = tokio::time::timeout(SETTLE, changes.recv()).await {
                paths.push(path);
            }
            let reload = plan(&workspace, &paths);
            if reload.functions.is_empty() && !reload.models {
                continue;
            }
            run(&workspace, &cloud_folder, &config, &console, reload).await;
            // What the rebuild itself wrote is not a change to act on.
            while changes.try_recv().is_ok() {}
        }
    }))
}

async fn run(
    workspace: &Path,
    cloud_folder: &Path,
    config: &SdkConfig,
    console: &Console,
    reload: Reload,
) {
    let stacks = match invctl_stacks(config).await {
        Ok(stacks) => stacks,
        Err(e) => {
            console.failure(format!("watch: cannot list the deployed stacks: {e}"));
            return;
        }
    };
    if !reload.functions.is_empty() {
        let started = Instant::now();
        let functions: Vec<FunctionSpec> = ALL
            .iter()
            .filter(|f| reload.functions.contains(f.package))
            .cloned()
            .collect();
        let names: Vec<&str> = functions.iter().map(|f| f.package).collect();
        console.line(format!("watch: rebuilding {}", names.join(", ")));
        let built = {
            let (workspace, functions) = (workspace.to_owned(), functions.clone());
            tokio::task::spawn_blocking(move || {
                build::build_local_functions(&workspace, &functions, Output::Kept)
            })
            .await
        };
        match built {
            Ok(Ok(built)) => {
                let mut updated = Vec::new();
                for zip in built
                    .iter()
                    .filter(|z| z.status == build::ZipStatus::Written)
                {
                    for stack in &stacks {
                        match update_code(config, stack, zip).await {
                            Ok(Some(name)) => updated.push(name),
                            Ok(None) => {}
                            Err(e) => console.failure(format!("watch: {}: {e}", zip.function)),
                        }
                    }
                }
                let unchanged = built.len()
                    - built
                        .iter()
                        .filter(|z| z.status == build::ZipStatus::Written)
                        .count();
                console.success(format!(
                    "watch: reloaded {} function(s) in {:.1} s{}",
                    updated.len(),
                    started.elapsed().as_secs_f64(),
                    if unchanged > 0 {
                        format!(" ({unchanged} built the same)")
                    } else {
                        String::new()
                    }
                ));
            }
            Ok(Err(e)) => {
                console.failure(format!("watch: the build failed, nothing reloaded: {e}"))
            }
            Err(e) => console.failure(format!("watch: the build stopped: {e}")),
        }
    }
    if reload.models {
        update_stacks(workspace, cloud_folder, &stacks, console).await;
    }
}

/// The deployed stacks that invctl made (they name a reserve-stock
/// workflow among their outputs).
async fn invctl_stacks(config: &SdkConfig) -> Result<Vec<String>, String> {
    let cloudformation = aws_sdk_cloudformation::Client::new(config);
    let stacks = cloudformation
        .describe_stacks()
        .send()
        .await
        .map_err(|e| crate::aws::error::text(&e))?;
    Ok(stacks
        .stacks()
        .iter()
        .filter(|s| crate::deploy::stack::state_of(s) != crate::deploy::stack::StackState::Gone)
        .filter(|s| {
            s.outputs()
                .iter()
                .any(|o| o.output_key() == Some(crate::stack::workflows::RESERVE_STOCK.output.0))
        })
        .filter_map(|s| s.stack_name().map(str::to_owned))
        .collect())
}

/// Gives `stack`'s function built from `zip` its new code; the function's
/// name, or None when the stack has no such function.
async fn update_code(
    config: &SdkConfig,
    stack: &str,
    zip: &build::BuiltFunction,
) -> Result<Option<String>, String> {
    let mut resources = aws_sdk_cloudformation::Client::new(config)
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .items()
        .send();
    let mut name = None;
    while let Some(resource) = resources.next().await {
        let resource = resource.map_err(|e| crate::aws::error::text(&e))?;
        if resource.logical_resource_id() == Some(zip.logical_id) {
            name = resource.physical_resource_id().map(str::to_owned);
            break;
        }
    }
    let Some(name) = name else {
        return Ok(None);
    };
    let bytes = std::fs::read(&zip.zip).map_err(|e| e.to_string())?;
    aws_sdk_lambda::Client::new(config)
        .update_function_code()
        .function_name(&name)
        .zip_file(aws_sdk_lambda::primitives::Blob::new(bytes))
        .send()
        .await
        .map_err(|e| crate::aws::error::text(&e))?;
    Ok(Some(name))
}

/// Rebuilds invctl from the workspace and updates each stack with it, as
/// `invctl --local deploy --yes` run where the cloud was started.
async fn update_stacks(
    workspace: &Path,
    cloud_folder: &Path,
    stacks: &[String],
    console: &Console,
) {
    let started = Instant::now();
    console.line("watch: models changed; rebuilding invctl".to_owned());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = tokio::process::Command::new(cargo)
        .args([
            "build",
            "--locked",
            "--bin",
            "invctl",
            "--message-format",
            "short",
        ])
        .current_dir(workspace)
        .kill_on_drop(true)
        .output()
        .await;
    match built {
        Ok(run) if run.status.success() => {}
        Ok(run) => {
            console.failure(format!(
                "watch: invctl did not build, nothing updated:\n{}",
                String::from_utf8_lossy(&run.stderr).trim_end()
            ));
            return;
        }
        Err(e) => {
            console.failure(format!("watch: cannot run cargo: {e}"));
            return;
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let invctl = target.join("debug").join("invctl");
    for stack in stacks {
        let update = tokio::process::Command::new(&invctl)
            .args([
                "--local",
                "--stack-name",
                stack,
                "deploy",
                "--yes",
                "--workspace",
            ])
            .arg(workspace)
            .current_dir(cloud_folder)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await;
        match update {
            Ok(run) if run.status.success() => console.success(format!(
                "watch: stack {stack} updated from the models in {:.1} s",
                started.elapsed().as_secs_f64()
            )),
            Ok(run) => console.failure(format!(
                "watch: stack {stack} not updated:\n{}",
                String::from_utf8_lossy(&run.stderr).trim_end()
            )),
            Err(e) => console.failure(format!("watch: cannot run {}: {e}", invctl.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(paths: &[&str]) -> Reload {
        let workspace = Path::new("/w");
        let paths: Vec<PathBuf> = paths.iter().map(|p| workspace.join(p)).collect();
        plan(workspace, &paths)
    }

    #[test]
    fn a_function_crate_reloads_that_function_only() {
        let reload = planned(&["lambdas/approval/src/page.rs"]);
        assert_eq!(reload.functions, BTreeSet::from(["approval"]));
        assert!(!reload.models);
    }

    #[test]
    fn shared_crates_and_templates_reload_every_function() {
        for path in [
            "lambdas/domain/src/lib.rs",
            "lambdas/support/src/lib.rs",
            "templates/approval-page.html.tera",
        ] {
            assert_eq!(planned(&[path]).functions.len(), ALL.len(), "{path}");
        }
    }

    #[test]
    fn models_update_the_stack_and_noise_is_ignored() {
        assert!(planned(&["src/stack/workflows/reserve_stock.rs"]).models);
        assert_eq!(
            planned(&[
                "lambdas/approval/.page.rs.swp",
                "lambdas/approval/src/page.rs~",
                "README.md",
                "target/x"
            ]),
            Reload::default()
        );
    }
}
