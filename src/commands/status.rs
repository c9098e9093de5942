//! `invctl status`: the stack's status, outputs and last change.

use std::io::{self, Write};

use clap::Args;
use serde::Serialize;

use crate::config::AwsArgs;
use crate::drive::{self, DriveError, Located};
use crate::output::ReportArgs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("cannot print the report")]
    Report(#[source] io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            Error::Report(_) => crate::exit::FAILURE,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusReport {
    stack_name: String,
    region: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_updated: Option<String>,
    /// In the stack's order (as a JSON object).
    outputs: indexmap::IndexMap<String, String>,
    tags: indexmap::IndexMap<String, String>,
    /// The approval function's URL (the review page behind the emailed
    /// links), read from Lambda as the email function reads it.
    #[serde(skip_serializing_if = "Option::is_none")]
    approval_url: Option<String>,
    /// The email subscriptions and whether each is confirmed.
    subscriptions: Vec<crate::deploy::subscriptions::SubscriptionState>,
    /// Whether DeleteStack is refused (`invctl deploy --protect`).
    termination_protection: bool,
}

/// The Function URL of the stack's approval function, if it has one that
/// can be read.
async fn approval_url(
    config: &aws_config::SdkConfig,
    found: &aws_sdk_cloudformation::types::Stack,
) -> Option<String> {
    let function = found
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(crate::stack::ids::output::APPROVAL_FUNCTION_NAME))?
        .output_value()?;
    aws_sdk_lambda::Client::new(config)
        .get_function_url_config()
        .function_name(function)
        .send()
        .await
        .ok()
        .map(|c| c.function_url)
}

pub fn run(aws: &AwsArgs, args: &StatusArgs, out: &mut dyn Write) -> Result<(), Error> {
    crate::aws::runtime().block_on(async {
        // Any state is worth showing, even one no command can drive.
        let Located {
            config,
            name,
            stack: found,
        } = drive::locate(aws).await?;
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        let approval_url = approval_url(&config, &found).await;
        let subscriptions =
            crate::deploy::subscriptions::states(&aws_sdk_sns::Client::new(&config), &found).await;
        let report = StatusReport {
            termination_protection: crate::deploy::protection::terminates_protected(&found),
            approval_url,
            subscriptions,
            stack_name: name,
            region,
            status: found
                .stack_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            reason: found.stack_status_reason().map(str::to_owned),
            created: found
                .creation_time()
                .map(ToString::to_string)
                .unwrap_or_default(),
            last_updated: found.last_updated_time().map(ToString::to_string),
            outputs: found
                .outputs()
                .iter()
                .map(|o| {
                    (
                        o.output_key().unwrap_or_default().to_owned(),
                        o.output_value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            tags: found
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        };
        crate::output::print(&report, args.report.output, out).map_err(Error::Report)
    })
}

impl crate::output::Report for StatusReport {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let report = self;
        writeln!(out, "stack     {} ({})", report.stack_name, report.region)?;
        writeln!(out, "status    {}", report.status)?;
        if let Some(reason) = &report.reason {
            writeln!(out, "reason    {reason}")?;
        }
        writeln!(out, "created   {}", report.created)?;
        if let Some(updated) = &report.last_updated {
            writeln!(out, "updated   {updated}")?;
        }
        if let Some(url) = &report.approval_url {
            writeln!(out, "approval  {url}")?;
        }
        if report.termination_protection {
            writeln!(
                out,
                "protected termination protection on (`invctl deploy --unprotect` lifts it)"
            )?;
        }
        if let Some(hash) = report.tags.get("invctl:template-sha256") {
            writeln!(out, "template  sha256 {hash}")?;
        }
        if !report.outputs.is_empty() {
            writeln!(out, "outputs")?;
            let width = report.outputs.keys().map(String::len).max().unwrap_or(0);
            for (key, value) in &report.outputs {
                writeln!(out, "  {key:<width$}  {value}")?;
            }
        }
        crate::deploy::subscriptions::write(&report.subscriptions, out)
    }
}
