//! `invctl schedule on|off|status`: the order generator's EventBridge
//! Scheduler schedule (one order a minute), which is off after a deploy.
//!
//! UpdateSchedule replaces the whole schedule, so every setting read from
//! GetSchedule is sent back unchanged with only the state switched.

use std::io::Write;

use aws_sdk_scheduler::types::ScheduleState;
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::config::AwsArgs;
use crate::drive::{DeployedStack, DriveError, Resource};
use crate::output::ReportArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleAction {
    /// Start generating orders
    On,
    /// Stop generating orders
    Off,
    /// Show whether it is on
    Status,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[arg(value_enum)]
    pub action: ScheduleAction,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("schedule {name} is not there (was it deleted outside CloudFormation?); `invctl deploy` restores it")]
    Missing { name: String },
    #[error("cannot {action} schedule {name}: {message}")]
    Aws {
        action: &'static str,
        name: String,
        message: String,
    },
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    schedule: String,
    state: String,
    expression: String,
    changed: bool,
    /// Only read (`schedule status`): no "already" to say.
    #[serde(skip)]
    only_read: bool,
}

impl crate::output::Report for Report {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let on = self.state == ScheduleState::Enabled.as_str();
        writeln!(
            out,
            "schedule {} is {} ({}){}",
            self.schedule,
            if on { "on" } else { "off" },
            self.expression,
            if self.changed || self.only_read {
                ""
            } else {
                ", already"
            }
        )
    }
}

/// Reads the schedule and, for on/off, sets its state. Returns the report.
async fn apply(
    scheduler: &aws_sdk_scheduler::Client,
    name: &str,
    action: ScheduleAction,
) -> Result<Report, Error> {
    let aws = |action: &'static str| {
        move |message: String| Error::Aws {
            action,
            name: name.to_owned(),
            message,
        }
    };
    let current = match scheduler.get_schedule().name(name).send().await {
        Ok(current) => current,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Err(Error::Missing {
                name: name.to_owned(),
            })
        }
        Err(e) => return Err(aws("read")(crate::aws::error::text(&e))),
    };
    let state = current.state().cloned().unwrap_or(ScheduleState::Disabled);
    let wanted = match action {
        ScheduleAction::On => ScheduleState::Enabled,
        ScheduleAction::Off => ScheduleState::Disabled,
        ScheduleAction::Status => state.clone(),
    };
    let expression = current.schedule_expression().unwrap_or_default().to_owned();
    if wanted == state {
        return Ok(Report {
            schedule: name.to_owned(),
            state: state.as_str().to_owned(),
            expression,
            changed: false,
            only_read: action == ScheduleAction::Status,
        });
    }
    scheduler
        .update_schedule()
        .name(name)
        .set_group_name(current.group_name().map(str::to_owned))
        .set_schedule_expression(current.schedule_expression().map(str::to_owned))
        .set_schedule_expression_timezone(current.schedule_expression_timezone().map(str::to_owned))
        .set_start_date(current.start_date().cloned())
        .set_end_date(current.end_date().cloned())
        .set_description(current.description().map(str::to_owned))
        .set_flexible_time_window(current.flexible_time_window().cloned())
        .set_target(current.target().cloned())
        .set_kms_key_arn(current.kms_key_arn().map(str::to_owned))
        .set_action_after_completion(current.action_after_completion().cloned())
        .state(wanted.clone())
        .send()
        .await
        .map_err(|e| aws("update")(crate::aws::error::text(&e)))?;
    Ok(Report {
        schedule: name.to_owned(),
        state: wanted.as_str().to_owned(),
        expression,
        changed: true,
        only_read: false,
    })
}

pub fn run(aws: &AwsArgs, args: &ScheduleArgs, out: &mut dyn Write) -> Result<(), Error> {
    crate::aws::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let name = stack.get(Resource::OrderGeneratorSchedule).await?;
        let scheduler = aws_sdk_scheduler::Client::new(&stack.config);
        let report = apply(&scheduler, &name, args.action).await?;
        crate::output::print(&report, args.report.output, out).map_err(Error::Report)
    })
}
