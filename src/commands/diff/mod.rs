//! `invctl diff [--fail] [--drift] [--no-change-set]`: what a deploy would
//! change, before any code is uploaded. The synthesized template is compared with the one
//! the stack runs ([`template`]): each resource added, removed or modified
//! with its changing properties, marked where CloudFormation replaces it
//! ([`replacement`]) and loudly where that loses a table's, queue's or
//! key's data; the policy statements added and removed; the workflow
//! states that change; each function whose code changes (its zip's sha256
//! against the deployed code key) and each parameter. Where anything
//! changes, CloudFormation's own verdict on replacements is read from a
//! change set made and deleted for it ([`verdict`]; `--no-change-set`
//! skips it). `--drift` adds what changed outside CloudFormation ([`drift`]).

pub mod changes;
pub mod drift;
pub mod iam;
mod json;
pub mod replacement;
pub mod template;
pub mod verdict;

use std::io::Write;

use clap::Args;
use serde::Serialize;

use crate::commands::deploy::{self, StackArgs};
use crate::config::AwsArgs;
use crate::drive::{self, DriveError, Located};
use crate::output::ReportArgs;
use changes::{parse_template, CodeChange, ParameterChange};

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Exit 1 when a deploy would change anything (or anything drifted), for CI
    #[arg(long)]
    pub fail: bool,
    /// Also detect drift: resources changed outside CloudFormation since the last deploy
    #[arg(long)]
    pub drift: bool,
    /// Do not ask CloudFormation which resources it would replace (by default the template, not the code, is uploaded to the artifact bucket and a change set is made, read and deleted): the schemas decide, and nothing in the account is touched
    #[arg(long)]
    pub no_change_set: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error(transparent)]
    Deploy(#[from] deploy::Error),
    #[error("cannot read the template stack {stack} runs: {message}")]
    Template { stack: String, message: String },
    #[error(transparent)]
    Drift(#[from] drift::DriftError),
    #[error("cannot get CloudFormation's verdict on replacements: {0}")]
    ChangeSet(String),
    #[error("the local cloud cannot detect drift (moto has no DetectStackDrift): the differences above are without it")]
    NoLocalDrift,
    #[error("stack {stack}: {count} difference(s) (--fail)")]
    Differences { stack: String, count: usize },
    #[error("cannot print the differences")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            Error::Deploy(e) => e.exit_code(),
            Error::NoLocalDrift => crate::exit::USAGE,
            _ => crate::exit::FAILURE,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    pub stack_name: String,
    #[serde(flatten)]
    pub template: template::TemplateDiff,
    pub code: Vec<CodeChange>,
    pub parameters: Vec<ParameterChange>,
    /// With `--drift`.
    pub drift: Option<drift::Drift>,
}

impl DiffReport {
    /// What differs: resources, outputs, code, parameters and drifted resources.
    pub fn count(&self) -> usize {
        self.template.resources.len()
            + self.template.outputs.len()
            + self.code.len()
            + self.parameters.len()
            + self.drift.as_ref().map_or(0, |d| d.drifted.len())
    }
}

fn mark(action: template::Action) -> &'static str {
    match action {
        template::Action::Added => "[+]",
        template::Action::Removed => "[-]",
        template::Action::Modified => "[~]",
    }
}

impl crate::output::Report for DiffReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.count() == 0 {
            let checked = if self.drift.is_some() {
                ", and nothing drifted"
            } else {
                ""
            };
            return writeln!(
                out,
                "stack {}: no differences: a deploy would change nothing{checked}",
                self.stack_name
            );
        }
        writeln!(
            out,
            "stack {}: {} difference(s)",
            self.stack_name,
            self.count()
        )?;
        if !self.template.resources.is_empty() {
            writeln!(out, "\nResources")?;
        }
        for change in &self.template.resources {
            let loud = match (change.loses_data(), change.action) {
                (true, template::Action::Removed) => "  !! REMOVED: its data is lost",
                (true, _) => "  !! REPLACED: its data is lost",
                (false, _) if change.replacement => "  (replaced)",
                _ => "",
            };
            let verdict = match change.change_set.as_deref() {
                Some("Conditional") => "  (CloudFormation: may be replaced)",
                Some("True") => "  (CloudFormation: replaced)",
                Some(_) => "  (CloudFormation: updated in place)",
                None => "",
            };
            writeln!(
                out,
                "{} {} {}{loud}{verdict}",
                mark(change.action),
                change.resource_type,
                change.logical_id
            )?;
            for property in &change.properties {
                writeln!(
                    out,
                    "    {}: {} -> {}{}",
                    property.path,
                    property.old.as_deref().unwrap_or("(none)"),
                    property.new.as_deref().unwrap_or("(none)"),
                    if property.replaces {
                        "  (replaces)"
                    } else {
                        ""
                    }
                )?;
            }
        }
        if !self.template.iam.is_empty() {
            writeln!(out, "\nIAM (policy statements)")?;
        }
        for policy in &self.template.iam {
            writeln!(out, "  {} ({})", policy.logical_id, policy.policy)?;
            for statement in &policy.added {
                writeln!(out, "    + {statement}")?;
            }
            for statement in &policy.removed {
                writeln!(out, "    - {statement}")?;
            }
        }
        if !self.template.workflows.is_empty() {
            writeln!(out, "\nWorkflows")?;
        }
        for workflow in &self.template.workflows {
            let mut parts = Vec::new();
            for (what, states) in [
                ("added", &workflow.added),
                ("removed", &workflow.removed),
                ("changed", &workflow.changed),
            ] {
                if !states.is_empty() {
                    parts.push(format!("{what} {}", states.join(", ")));
                }
            }
            if workflow.top_level_changed {
                parts.push("its comment, start or timeout changed".to_owned());
            }
            writeln!(out, "  {}: {}", workflow.logical_id, parts.join("; "))?;
        }
        if !self.code.is_empty() {
            writeln!(out, "\nCode")?;
        }
        for code in &self.code {
            let short = |sha: &str| sha.chars().take(12).collect::<String>();
            writeln!(
                out,
                "  {}: {} -> {}",
                code.function,
                code.deployed.as_deref().map_or("(none)".to_owned(), short),
                short(&code.built)
            )?;
        }
        if !self.parameters.is_empty() || !self.template.outputs.is_empty() {
            writeln!(out, "\nParameters and outputs")?;
        }
        for parameter in &self.parameters {
            writeln!(
                out,
                "  {}: {} -> {}",
                parameter.name,
                parameter.deployed.as_deref().unwrap_or("(none)"),
                parameter.new
            )?;
        }
        for output in &self.template.outputs {
            writeln!(out, "  output {output} changes")?;
        }
        if let Some(drift) = &self.drift {
            writeln!(
                out,
                "\nDrift ({} in sync, {} not checked)",
                drift.in_sync, drift.not_checked
            )?;
            for resource in &drift.drifted {
                writeln!(
                    out,
                    "  {} {} {}",
                    resource.status, resource.resource_type, resource.logical_id
                )?;
                for property in &resource.properties {
                    writeln!(
                        out,
                        "    {} ({}): expected {} -> actual {}",
                        property.path,
                        property.kind,
                        property.expected.as_deref().unwrap_or("(none)"),
                        property.actual.as_deref().unwrap_or("(none)")
                    )?;
                }
            }
        }
        Ok(())
    }
}

pub fn run(aws: &AwsArgs, args: &DiffArgs, out: &mut dyn Write) -> Result<(), Error> {
    let plan = deploy::Plan::resolve(aws, &args.stack)?;
    let new_template = parse_template(&plan.template).map_err(|message| Error::Template {
        stack: plan.name.clone(),
        message: format!("the synthesized template does not parse: {message}"),
    })?;
    let local = plan.settings.local.is_some();
    let report = crate::aws::runtime().block_on(async {
        let Located {
            config,
            name,
            stack,
        } = drive::locate(aws).await?;
        let client = aws_sdk_cloudformation::Client::new(&config);
        let zips = deploy::zips(&args.stack, plan.arch, plan.local)?;
        let bucket = plan.named_bucket(&args.stack);
        let changes::Differences {
            template: mut diff,
            code,
            parameters,
        } = changes::differences(
            &client,
            &stack,
            &new_template,
            &zips,
            plan.email.as_deref(),
            bucket,
        )
        .await
        .map_err(|message| Error::Template {
            stack: name.clone(),
            message,
        })?;
        if !args.no_change_set && !diff.resources.is_empty() {
            let region = config.region().map(ToString::to_string).unwrap_or_default();
            let store = deploy::artifact_store(&args.stack, &plan, &config, &region).await?;
            let email = plan
                .email
                .clone()
                .or_else(|| {
                    changes::stack_parameters(&stack)
                        .remove(crate::stack::ids::param::NOTIFICATION_EMAIL)
                })
                .unwrap_or_default();
            let bucket = bucket
                .map(str::to_owned)
                .unwrap_or_else(|| store.bucket.clone());
            let verdicts = verdict::verdicts(
                &client,
                &store,
                &name,
                &plan.template,
                &plan.template_hash,
                verdict::parameters(&email, &bucket),
                crate::deploy::stack::poll_interval(),
            )
            .await
            .map_err(Error::ChangeSet)?;
            template::apply_verdicts(&mut diff, &verdicts);
        }
        let drift = if args.drift && !local {
            Some(drift::detect(&client, &name, crate::deploy::stack::poll_interval()).await?)
        } else {
            None
        };
        Ok::<_, Error>(DiffReport {
            stack_name: name,
            template: diff,
            code,
            parameters,
            drift,
        })
    })?;
    crate::output::print(&report, args.report.output, out).map_err(Error::Report)?;
    if args.drift && local {
        return Err(Error::NoLocalDrift);
    }
    let count = report.count();
    if args.fail && count > 0 {
        return Err(Error::Differences {
            stack: report.stack_name,
            count,
        });
    }
    Ok(())
}
