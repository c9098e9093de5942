//! `invctl deploy`: synth, build, upload what is new, and create or update
//! the stack through a change set that is shown before it runs.
//!
//! The flow (after rain's): look at the stack first. Missing: create it.
//! ROLLBACK_COMPLETE (a failed first create, which can only be deleted):
//! delete it, saying so, and create it anew. An operation in progress: wait
//! for it, then go on. UPDATE_ROLLBACK_FAILED: stop and say how to get out.
//! Otherwise update, unless the fingerprint recorded on the stack (template,
//! zips, parameters) says nothing changed: then nothing is uploaded and no
//! change set is made.

use std::io::{self, BufRead, IsTerminal, Write};

use aws_sdk_cloudformation::types::{Parameter, Stack, Tag};
use clap::Args;
use serde::Serialize;

use crate::build::{self, BuildError};
use crate::config::{AwsArgs, ConfigError, Settings};
use crate::deploy::assets::{self, ArtifactStore, AssetError, Outcome};
use crate::deploy::changeset::{self, Change, Prepared};
use crate::deploy::progress::Progress;
use crate::deploy::seed::{self, SeedError, Seeded};
use crate::deploy::stack::{self, Failure, StackError};
use crate::output::{OutputFormat, ReportArgs, WorkspaceArgs};
use crate::stack::{functions, ids, Architecture};

const FINGERPRINT_TAG: &str = "invctl:fingerprint";
const TEMPLATE_TAG: &str = "invctl:template-sha256";

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Address for stock alerts and approval requests (required on first deploy; remembered after)
    #[arg(long)]
    pub email: Option<String>,
    /// Execute the change set without asking (required off a terminal when resources are replaced or removed)
    #[arg(long)]
    pub yes: bool,
    /// Create and show the change set, but do not execute it
    #[arg(long)]
    pub no_execute: bool,
    /// Lambda architecture [default: arm64; with --local, this machine's]
    #[arg(long, value_enum)]
    pub arch: Option<Architecture>,
    /// Deploy the zips of the last `invctl build` instead of building
    #[arg(long)]
    pub skip_build: bool,
    /// S3 bucket for the Lambda zips and the template, in your account [default: invctl-artifacts-ACCOUNT-REGION, created on first use]
    #[arg(long, value_name = "NAME")]
    pub artifact_bucket: Option<String>,
    /// Do not load the sample catalog into the inventory table
    #[arg(long)]
    pub no_seed: bool,
    /// When the stack is UPDATE_ROLLBACK_FAILED, continue its rollback first (ContinueUpdateRollback), then deploy
    #[arg(long)]
    pub continue_rollback: bool,
    /// With --continue-rollback: a resource (logical id) that cannot roll back and is to be skipped; repeatable
    #[arg(
        long = "skip-resource",
        value_name = "LOGICAL_ID",
        requires = "continue_rollback"
    )]
    pub skip_resources: Vec<String>,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Synth(#[from] crate::stack::SynthError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("no zip of {function} for {arch}: run `invctl build --arch {arch}` first, or deploy without --skip-build")]
    NoZip {
        function: &'static str,
        arch: &'static str,
    },
    #[error("stack {0} does not exist yet: the first deploy needs --email ADDRESS (or `email` in invctl.toml)")]
    EmailRequired(String),
    #[error("'{0}' is not an email address")]
    BadEmail(String),
    #[error(transparent)]
    Assets(#[from] AssetError),
    #[error("stack {stack}: {source}")]
    Stack { stack: String, source: StackError },
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("stack {stack} is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback.\n{}Fix the cause, then run `invctl deploy --continue-rollback` (add `--skip-resource LOGICAL_ID` for each resource that cannot roll back; it is left as it is). That is `aws cloudformation continue-update-rollback --stack-name {stack}` followed by the deploy.", stack::failure_lines(failures))]
    RollbackFailed {
        stack: String,
        failures: Vec<Failure>,
    },
    #[error(
        "the rollback of stack {stack} did not complete ({status}):\n{}",
        stack::failure_lines(failures)
    )]
    RollbackNotCompleted {
        stack: String,
        status: String,
        failures: Vec<Failure>,
    },
    #[error("the changes replace or remove resources and there is no terminal to confirm them: pass --yes to apply them")]
    NeedsYes,
    #[error("not applied; the change set {0} is left for review (`invctl deploy` again makes a new one)")]
    NotConfirmed(String),
    #[error(
        "the deploy of stack {stack} failed ({status}):\n{}{hint}",
        stack::failure_lines(failures)
    )]
    Failed {
        stack: String,
        status: String,
        failures: Vec<Failure>,
        hint: String,
    },
    #[error("{}", if *started {
        "interrupted while CloudFormation applies the change set: the operation goes on and leaves the stack consistent (it completes or rolls back); run `invctl deploy` again to wait for it, or `invctl status` to look"
    } else {
        "interrupted before any change set was executed: an operation the stack already had goes on in CloudFormation; run `invctl deploy` again to resume"
    })]
    Interrupted {
        /// Whether CloudFormation had been told to change the stack.
        started: bool,
    },
    #[error("cannot read a zip or print the report")]
    Io(#[source] io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Config(e) => e.exit_code(),
            Error::EmailRequired(_) | Error::BadEmail(_) | Error::NeedsYes => crate::exit::USAGE,
            Error::Build(BuildError::Tool(_)) => crate::exit::MISSING_TOOL,
            Error::Interrupted { .. } => crate::exit::INTERRUPTED,
            _ => crate::exit::FAILURE,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    stack_name: String,
    /// `create`, `update` or `none`.
    action: &'static str,
    changes: Vec<Change>,
    executed: bool,
    uploaded: usize,
    outputs: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seeded: Option<SeededReport>,
}

impl Report {
    /// A deploy that changed nothing.
    fn unchanged(
        stack_name: &str,
        uploaded: usize,
        outputs: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        Report {
            stack_name: stack_name.to_owned(),
            action: "none",
            changes: Vec::new(),
            executed: false,
            uploaded,
            outputs,
            seeded: None,
        }
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Debug, Serialize)]
struct SeededReport {
    added: usize,
    kept: usize,
}

fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.contains(char::is_whitespace)
}

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

fn tag(stack: &Stack, key: &str) -> Option<String> {
    stack
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value().map(str::to_owned))
}

fn stack_parameter(stack: &Stack, key: &str) -> Option<String> {
    stack
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value().map(str::to_owned))
}

/// The zips to deploy: freshly built, or the last build's with --skip-build.
/// The zips to deploy: built for `arch` (for AWS), or, for the local
/// cloud, for this machine in the fast local profile.
fn zips(
    args: &DeployArgs,
    arch: Architecture,
    local: bool,
) -> Result<Vec<(functions::FunctionSpec, Vec<u8>, String)>, Error> {
    let start = args.workspace.start().map_err(Error::Io)?;
    let workspace = build::find_workspace(&start)?;
    if !args.skip_build {
        if local {
            build::build_local(&workspace)?;
        } else {
            build::build(&workspace, arch, &functions::ALL)?;
        }
    }
    functions::ALL
        .into_iter()
        .map(|function| {
            let path = if local {
                build::local_zip_path(&workspace, &function)
            } else {
                build::zip_path(&workspace, arch, &function)
            };
            let bytes = std::fs::read(&path).map_err(|_| Error::NoZip {
                function: function.package,
                arch: arch.as_str(),
            })?;
            let hash = build::sha256_hex(&bytes);
            Ok((function, bytes, hash))
        })
        .collect()
}

/// Asks a yes/no question on the terminal; anything but yes is no.
fn ask(question: &str) -> Result<bool, Error> {
    eprint!("{question}");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(Error::Io)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub fn run(aws: &AwsArgs, args: &DeployArgs, out: &mut dyn Write) -> Result<(), Error> {
    let settings = Settings::resolve(aws)?;
    let email = args.email.clone().or_else(|| settings.email.clone());
    if let Some(address) = &email {
        if !valid_email(address) {
            return Err(Error::BadEmail(address.clone()));
        }
    }
    // The local cloud runs the functions on this machine: built for it.
    let local = settings.local.is_some() && Architecture::host().is_some();
    let arch = match (args.arch, local) {
        (Some(arch), _) => arch,
        (None, true) => Architecture::host().unwrap_or_default(),
        (None, false) => Architecture::default(),
    };
    let local = local && Some(arch) == Architecture::host();
    let synthesized = crate::stack::synthesize(arch)?;
    let template = synthesized.template.to_yaml();
    let template_hash = build::sha256_hex(template.as_bytes());
    let name = settings.stack_name.clone();
    let stack_error = |source| Error::Stack {
        stack: name.clone(),
        source,
    };
    let poll = stack::poll_interval();
    let on_rollback_failed = if args.continue_rollback {
        OnRollbackFailed::Continue {
            skip: args.skip_resources.clone(),
        }
    } else if io::stdin().is_terminal() {
        OnRollbackFailed::Ask
    } else {
        OnRollbackFailed::Stop
    };
    // Set once CloudFormation has been told to change the stack, so an
    // interruption can say what it left behind.
    let started = std::cell::Cell::new(false);

    let work = async {
        let config = crate::aws::sdk_config(&settings).await;
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        let client = aws_sdk_cloudformation::Client::new(&config);

        let existing = settle(&client, &name, poll, &on_rollback_failed).await?;
        let create = existing.is_none();
        let email = match (&email, &existing) {
            (Some(address), _) => address.clone(),
            (None, Some(stack)) => {
                stack_parameter(stack, ids::param::NOTIFICATION_EMAIL).unwrap_or_default()
            }
            (None, None) => return Err(Error::EmailRequired(name.clone())),
        };

        let zips = zips(args, arch, local)?;
        let account = assets::account_id(&config).await?;
        let store = ArtifactStore {
            s3: assets::s3_client(&config),
            bucket: args
                .artifact_bucket
                .clone()
                .or_else(|| settings.artifact_bucket.clone())
                .unwrap_or_else(|| assets::bucket_name(&account, &region)),
            region: region.clone(),
            owner: account,
        };
        let fingerprint = build::sha256_hex(
            format!(
                "{template_hash}\n{email}\n{}\n{}",
                store.bucket,
                zips.iter()
                    .map(|(f, _, h)| format!("{}={h}", f.package))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
            .as_bytes(),
        );
        if let Some(stack) = &existing {
            if tag(stack, FINGERPRINT_TAG).as_deref() == Some(fingerprint.as_str()) {
                return finish(
                    out,
                    args,
                    Report::unchanged(&name, 0, outputs(stack)),
                    "no changes: the stack already runs this template and code",
                );
            }
        }

        store.ensure_bucket().await?;
        let mut uploaded = 0;
        let mut parameters = vec![
            parameter(ids::param::NOTIFICATION_EMAIL, &email),
            parameter(ids::param::ARTIFACT_BUCKET, &store.bucket),
        ];
        for (function, bytes, hash) in zips {
            let key = assets::function_key(function.package, &hash);
            if store.upload(&key, bytes).await? == Outcome::New {
                uploaded += 1;
            }
            parameters.push(parameter(&function.code_key_parameter(), &key));
        }
        let template_key = assets::template_key(&template_hash);
        if store.upload(&template_key, template.into_bytes()).await? == Outcome::New {
            uploaded += 1;
        }
        // CloudFormation fetches the template itself, from S3's own address
        // (an emulator resolves it the same way).
        let template_url = format!(
            "https://{}.s3.{region}.amazonaws.com/{template_key}",
            store.bucket
        );

        let prepared = changeset::prepare(
            &client,
            changeset::Request {
                stack_name: &name,
                // Timestamped: a change set left by --no-execute or a declined
                // prompt must not block the next deploy of the same content.
                name: format!("invctl-{}-{}", &fingerprint[..16], unix_seconds()),
                create,
                template_url,
                parameters,
                tags: vec![
                    Tag::builder()
                        .key(FINGERPRINT_TAG)
                        .value(&fingerprint)
                        .build(),
                    Tag::builder()
                        .key(TEMPLATE_TAG)
                        .value(&template_hash)
                        .build(),
                ],
            },
            poll,
        )
        .await
        .map_err(stack_error)?;
        let (change_set, changes) = match prepared {
            Prepared::NoChanges => {
                return finish(
                    out,
                    args,
                    Report::unchanged(
                        &name,
                        uploaded,
                        existing.as_ref().map(outputs).unwrap_or_default(),
                    ),
                    "no changes: CloudFormation found nothing to update",
                );
            }
            Prepared::Ready { id, changes } => (id, changes),
        };
        eprintln!(
            "{} stack {name} in {region}: {} change(s)",
            if create { "creating" } else { "updating" },
            changes.len()
        );
        for change in &changes {
            eprintln!("{}", change.line());
        }
        let action = if create { "create" } else { "update" };
        if args.no_execute {
            return finish(
                out,
                args,
                Report {
                    stack_name: name.clone(),
                    action,
                    changes,
                    executed: false,
                    uploaded,
                    outputs: Default::default(),
                    seeded: None,
                },
                &format!("change set {change_set} created and not executed"),
            );
        }
        if !args.yes {
            if io::stdin().is_terminal() {
                if !ask("Execute these changes? [y/N] ")? {
                    return Err(Error::NotConfirmed(change_set));
                }
            } else if changes.iter().any(Change::is_destructive) {
                return Err(Error::NeedsYes);
            }
        }

        client
            .execute_change_set()
            .change_set_name(&change_set)
            .stack_name(&name)
            .send()
            .await
            .map_err(|e| stack_error(stack::aws_error(e)))?;
        started.set(true);
        let progress = Progress::start(&format!("{action} of stack {name} in progress"));
        let waited = stack::wait(&client, &name, &progress, poll)
            .await
            .map_err(stack_error)?;
        progress.finish();
        let final_stack = waited
            .stack
            .ok_or_else(|| stack_error(StackError::Aws("the stack disappeared".into())))?;
        use aws_sdk_cloudformation::types::StackStatus;
        let final_status = final_stack.stack_status();
        if !matches!(
            final_status,
            Some(StackStatus::CreateComplete | StackStatus::UpdateComplete)
        ) {
            let status = final_status
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            let hint = match final_status {
                Some(StackStatus::RollbackComplete) => {
                    "The stack was rolled back; the next `invctl deploy` deletes and re-creates it."
                        .to_owned()
                }
                Some(StackStatus::UpdateRollbackComplete) => {
                    "The update was rolled back; the stack runs its previous version.".to_owned()
                }
                _ => String::new(),
            };
            return Err(Error::Failed {
                stack: name.clone(),
                status,
                failures: waited.failures,
                hint,
            });
        }

        let seeded = if args.no_seed {
            None
        } else {
            let table = physical_id(&client, &name, ids::INVENTORY_TABLE)
                .await
                .map_err(stack_error)?;
            let Seeded { added, kept } = seed::seed(
                &aws_sdk_dynamodb::Client::new(&config),
                &table,
                &seed::catalog()?,
            )
            .await?;
            Some(SeededReport { added, kept })
        };
        finish(
            out,
            args,
            Report {
                stack_name: name.clone(),
                action,
                changes,
                executed: true,
                uploaded,
                outputs: outputs(&final_stack),
                seeded,
            },
            &format!(
                "stack {name}: {}",
                final_status.map(|s| s.as_str()).unwrap_or_default()
            ),
        )
    };
    crate::runtime().block_on(async {
        tokio::select! {
            result = work => result,
            _ = tokio::signal::ctrl_c() => Err(Error::Interrupted { started: started.get() }),
        }
    })
}

/// The physical id of one of the stack's resources (from the resource list,
/// which needs no output and answers for every resource type).
async fn physical_id(
    client: &aws_sdk_cloudformation::Client,
    stack_name: &str,
    logical_id: &str,
) -> Result<String, StackError> {
    let mut pages = client
        .list_stack_resources()
        .stack_name(stack_name)
        .into_paginator()
        .items()
        .send();
    while let Some(summary) = pages.next().await {
        let summary = summary.map_err(stack::aws_error)?;
        if summary.logical_resource_id() == Some(logical_id) {
            return Ok(summary
                .physical_resource_id()
                .unwrap_or_default()
                .to_owned());
        }
    }
    Err(StackError::Aws(format!(
        "the stack has no resource {logical_id}"
    )))
}

/// What to do with a stack whose update and rollback both failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnRollbackFailed {
    /// Stop and explain the way out.
    Stop,
    /// Ask on the terminal whether to continue the rollback.
    Ask,
    /// Continue the rollback, skipping these resources (logical ids).
    Continue { skip: Vec<String> },
}

/// Brings the stack to a state a change set can start from: waits for an
/// operation in progress, deletes a stack that failed its first create, and
/// continues a failed rollback when told to (else stops and explains).
/// `None`: there is no stack (create one).
pub async fn settle(
    client: &aws_sdk_cloudformation::Client,
    name: &str,
    poll: std::time::Duration,
    on_rollback_failed: &OnRollbackFailed,
) -> Result<Option<Stack>, Error> {
    let stack_error = |source| Error::Stack {
        stack: name.to_owned(),
        source,
    };
    let mut existing = stack::describe(client, name).await.map_err(stack_error)?;
    while let Some(current) = &existing {
        let status = current
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let id = current.stack_id().unwrap_or(name).to_owned();
        match stack::state_of(current) {
            state if state.in_progress() => {
                let progress = Progress::start(&format!(
                    "stack {name} is busy ({status}), perhaps from an interrupted run; waiting for it"
                ));
                let waited = stack::wait(client, name, &progress, poll)
                    .await
                    .map_err(stack_error)?;
                progress.finish();
                existing = waited
                    .stack
                    .filter(|s| stack::state_of(s) != stack::StackState::Gone);
            }
            stack::StackState::FailedCreate => {
                let progress = Progress::start(&format!(
                    "stack {name} is {status} after a failed first create and can only be deleted: deleting it to create it anew"
                ));
                client
                    .delete_stack()
                    .stack_name(&id)
                    .send()
                    .await
                    .map_err(|e| stack_error(stack::aws_error(e)))?;
                stack::wait(client, &id, &progress, poll)
                    .await
                    .map_err(stack_error)?;
                progress.finish();
                existing = None;
            }
            stack::StackState::Gone => existing = None,
            stack::StackState::RollbackFailed => {
                let failures = stack::recent_failures(client, &id)
                    .await
                    .map_err(stack_error)?;
                let skip = match on_rollback_failed {
                    OnRollbackFailed::Continue { skip } => skip.clone(),
                    OnRollbackFailed::Ask => {
                        eprint!("{}", stack::failure_lines(&failures));
                        if !ask(&format!(
                            "stack {name} is UPDATE_ROLLBACK_FAILED. Continue its rollback now? [y/N] "
                        ))? {
                            return Err(Error::RollbackFailed {
                                stack: name.to_owned(),
                                failures,
                            });
                        }
                        Vec::new()
                    }
                    OnRollbackFailed::Stop => {
                        return Err(Error::RollbackFailed {
                            stack: name.to_owned(),
                            failures,
                        })
                    }
                };
                client
                    .continue_update_rollback()
                    .stack_name(&id)
                    .set_resources_to_skip((!skip.is_empty()).then_some(skip))
                    .send()
                    .await
                    .map_err(|e| stack_error(stack::aws_error(e)))?;
                let progress = Progress::start(&format!("continuing the rollback of stack {name}"));
                let waited = stack::wait(client, &id, &progress, poll)
                    .await
                    .map_err(stack_error)?;
                progress.finish();
                let final_status = waited.stack.as_ref().and_then(|s| s.stack_status());
                if final_status
                    != Some(&aws_sdk_cloudformation::types::StackStatus::UpdateRollbackComplete)
                {
                    let status = final_status
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default();
                    return Err(Error::RollbackNotCompleted {
                        stack: name.to_owned(),
                        status,
                        failures: waited.failures,
                    });
                }
                existing = waited.stack;
            }
            _ => break,
        }
    }
    Ok(existing)
}

fn outputs(stack: &Stack) -> serde_json::Map<String, serde_json::Value> {
    stack
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap_or_default().to_owned(),
                o.output_value().unwrap_or_default().into(),
            )
        })
        .collect()
}

fn finish(
    out: &mut dyn Write,
    args: &DeployArgs,
    report: Report,
    summary: &str,
) -> Result<(), Error> {
    match args.report.output {
        OutputFormat::Json => crate::output::write_json(out, &report).map_err(Error::Io),
        OutputFormat::Text => {
            writeln!(out, "{summary}").map_err(Error::Io)?;
            if let Some(seeded) = &report.seeded {
                writeln!(
                    out,
                    "catalog: {} product(s) added, {} already there",
                    seeded.added, seeded.kept
                )
                .map_err(Error::Io)?;
            }
            let width = report.outputs.keys().map(String::len).max().unwrap_or(0);
            for (key, value) in &report.outputs {
                writeln!(
                    out,
                    "  {key:<width$}  {}",
                    value.as_str().unwrap_or_default()
                )
                .map_err(Error::Io)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_like_the_template_does() {
        assert!(valid_email("ops@example.com"));
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "o ps@example.com",
            "ops@.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
