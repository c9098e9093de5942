//! `invctl diff [--fail] [--drift]`: what a deploy would change, before
//! anything is uploaded. The synthesized template is compared with the one
//! the stack runs ([`template`]): each resource added, removed or modified
//! with its changing properties, marked where CloudFormation replaces it
//! ([`replacement`]) and loudly where that loses a table's, queue's or
//! key's data; the policy statements added and removed; the workflow
//! states that change; each function whose code changes (its zip's sha256
//! against the deployed code key) and each parameter. `--drift` adds what
//! changed outside CloudFormation ([`drift`]).

pub mod drift;
pub mod replacement;
pub mod template;

use std::collections::HashMap;
use std::io::Write;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::commands::deploy::{self, StackArgs};
use crate::config::AwsArgs;
use crate::drive::{self, DriveError, Located};
use crate::output::ReportArgs;
use crate::stack::{functions, ids};

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

/// A function whose code a deploy would change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeChange {
    pub function: String,
    /// The deployed zip's sha256 (from its code key), if it has one.
    pub deployed: Option<String>,
    pub built: String,
}

/// A stack parameter a deploy would change (other than code keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterChange {
    pub name: String,
    pub deployed: Option<String>,
    pub new: String,
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
            writeln!(
                out,
                "{} {} {}{loud}",
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

/// A template as CloudFormation keeps it (YAML or JSON), parsed.
pub fn parse_template(text: &str) -> Result<Value, String> {
    serde_json::from_str(text)
        .or_else(|_| serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string()))
}

/// The zip sha256 a code key names (`functions/PACKAGE/SHA.zip`).
fn sha_of_key(key: &str) -> Option<String> {
    key.rsplit('/')
        .next()?
        .strip_suffix(".zip")
        .map(str::to_owned)
}

/// The code and parameter changes: `built` is each function's new zip
/// sha256; `email` and `bucket` what the deploy would pass, when known.
pub fn parameter_changes(
    deployed: &HashMap<String, String>,
    built: &[(functions::FunctionSpec, String)],
    email: Option<&str>,
    bucket: Option<&str>,
) -> (Vec<CodeChange>, Vec<ParameterChange>) {
    let code = built
        .iter()
        .filter_map(|(function, sha)| {
            let key = deployed.get(&function.code_key_parameter());
            let deployed_sha = key.and_then(|k| sha_of_key(k));
            (deployed_sha.as_deref() != Some(sha.as_str())).then(|| CodeChange {
                function: function.package.to_owned(),
                deployed: deployed_sha,
                built: sha.clone(),
            })
        })
        .collect();
    let parameters = [
        (ids::param::NOTIFICATION_EMAIL, email),
        (ids::param::ARTIFACT_BUCKET, bucket),
    ]
    .into_iter()
    .filter_map(|(name, new)| {
        let new = new?;
        let old = deployed.get(name);
        (old.map(String::as_str) != Some(new)).then(|| ParameterChange {
            name: name.to_owned(),
            deployed: old.cloned(),
            new: new.to_owned(),
        })
    })
    .collect();
    (code, parameters)
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
        let template_error = |message: String| Error::Template {
            stack: name.clone(),
            message,
        };
        let body = client
            .get_template()
            .stack_name(&name)
            .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
            .send()
            .await
            .map_err(|e| template_error(crate::aws::error::text(&e)))?
            .template_body
            .unwrap_or_default();
        let deployed_template = parse_template(&body).map_err(template_error)?;
        let diff = template::compare(&deployed_template, &new_template);

        let deployed: HashMap<String, String> = stack
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value()?.to_owned(),
                ))
            })
            .collect();
        let zips = deploy::zips(&args.stack, plan.arch, plan.local)?;
        let built: Vec<(functions::FunctionSpec, String)> =
            zips.into_iter().map(|(f, _, sha)| (f, sha)).collect();
        let bucket = args
            .stack
            .artifact_bucket
            .as_deref()
            .or(plan.settings.artifact_bucket.as_deref());
        let (code, parameters) =
            parameter_changes(&deployed, &built, plan.email.as_deref(), bucket);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_changes_come_from_the_deployed_code_keys() {
        let f = functions::RESERVE_STOCK;
        let g = functions::APPROVAL;
        let deployed = HashMap::from([
            (
                f.code_key_parameter(),
                "functions/reserve-stock/aaa.zip".to_owned(),
            ),
            (
                g.code_key_parameter(),
                "functions/approval/bbb.zip".to_owned(),
            ),
            (
                ids::param::NOTIFICATION_EMAIL.to_owned(),
                "a@example.com".to_owned(),
            ),
        ]);
        let (code, parameters) = parameter_changes(
            &deployed,
            &[(f, "aaa".to_owned()), (g, "ccc".to_owned())],
            Some("b@example.com"),
            None,
        );
        assert_eq!(
            code,
            [CodeChange {
                function: "approval".into(),
                deployed: Some("bbb".into()),
                built: "ccc".into(),
            }]
        );
        assert_eq!(
            parameters,
            [ParameterChange {
                name: ids::param::NOTIFICATION_EMAIL.into(),
                deployed: Some("a@example.com".into()),
                new: "b@example.com".into(),
            }]
        );
        let (_, same) = parameter_changes(&deployed, &[], Some("a@example.com"), None);
        assert!(same.is_empty());
    }

    #[test]
    fn yaml_and_json_templates_parse_alike() {
        let yaml = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n";
        let json = r#"{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}"#;
        assert_eq!(parse_template(yaml).unwrap(), parse_template(json).unwrap());
        assert!(parse_template("Resources: [").is_err());
    }
}
