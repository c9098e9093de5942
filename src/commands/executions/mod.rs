//! `invctl executions`: recent workflow executions with their status, and
//! `invctl executions show ID`: one execution, the states it went through,
//! and where and why it failed.
//!
//! STANDARD workflows keep their history in Step Functions. EXPRESS
//! workflows keep none there (ListExecutions refuses them): their record is
//! the workflow's CloudWatch Logs group, which the stack sets to log every
//! event, so for them the same report is read from the log (`log`).

pub mod execution;
pub mod log;

use std::collections::BTreeMap;
use std::io::Write;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, StateMachineType};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::config::AwsArgs;
use crate::drive::{DeployedStack, Resource};
use crate::output::ReportArgs;

pub use crate::stack::workflows::WorkflowId;
pub use execution::{Error, Execution, StatusFilter};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ExecutionsArgs {
    #[command(subcommand)]
    pub show: Option<ExecutionsCommand>,
    /// Only this workflow (default: all three)
    #[arg(long, value_enum)]
    pub workflow: Option<WorkflowId>,
    /// Only executions with this status
    #[arg(long, value_enum)]
    pub status: Option<StatusFilter>,
    /// At most this many executions per workflow, newest first
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Subcommand)]
pub enum ExecutionsCommand {
    /// One execution in full: status, states entered, the failing state and error
    Show {
        /// Execution ARN or name
        id: String,
        /// Also draw the workflow with the path this execution took (format from the extension: .svg, .dot, .mmd)
        #[arg(long, value_name = "FILE")]
        graph: Option<std::path::PathBuf>,
        #[command(flatten)]
        report: ReportArgs,
    },
}

fn time(t: &aws_sdk_sfn::primitives::DateTime) -> String {
    t.fmt(aws_sdk_sfn::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default()
}

fn read_error<E, R>(workflow: WorkflowId) -> impl Fn(aws_sdk_sfn::error::SdkError<E, R>) -> Error
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    move |e| Error::Read {
        workflow: workflow.as_str(),
        message: crate::aws::error::text(&e),
    }
}

/// The newest executions of one workflow.
pub async fn list(
    sfn: &aws_sdk_sfn::Client,
    workflow: WorkflowId,
    machine_arn: &str,
    status: Option<StatusFilter>,
    limit: u32,
) -> Result<Vec<Execution>, Error> {
    let mut found = Vec::new();
    let mut pages = sfn
        .list_executions()
        .state_machine_arn(machine_arn)
        .set_status_filter(status.map(|s| ExecutionStatus::from(s.as_str())))
        .max_results(limit.min(1000) as i32)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        let item = item.map_err(read_error(workflow))?;
        found.push(Execution {
            workflow: workflow.as_str(),
            name: item.name().to_owned(),
            arn: item.execution_arn().to_owned(),
            status: item.status().as_str().to_owned(),
            started: time(item.start_date()),
            stopped: item.stop_date().map(time),
            states: Vec::new(),
            failed_state: None,
            error: None,
            cause: None,
        });
        if found.len() >= limit as usize {
            break;
        }
    }
    Ok(found)
}

/// The ARN an execution named `name` of the machine `machine_arn` has
/// (Step Functions derives it: `...:stateMachine:M` → `...:execution:M:name`).
pub fn execution_arn(machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// One execution in full, or `None` when it does not exist.
pub async fn describe(
    sfn: &aws_sdk_sfn::Client,
    workflow: WorkflowId,
    arn: &str,
) -> Result<Option<Execution>, Error> {
    let described = match sfn.describe_execution().execution_arn(arn).send().await {
        Ok(d) => d,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_does_not_exist() || s.is_invalid_arn()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(read_error(workflow)(e)),
    };
    let events: Vec<HistoryEvent> = sfn
        .get_execution_history()
        .execution_arn(arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(read_error(workflow))?;
    let mut execution = Execution {
        workflow: workflow.as_str(),
        name: described.name().unwrap_or_default().to_owned(),
        arn: arn.to_owned(),
        status: described.status().as_str().to_owned(),
        started: time(described.start_date()),
        stopped: described.stop_date().map(time),
        states: Vec::new(),
        failed_state: None,
        error: described.error().map(str::to_owned),
        cause: described.cause().map(str::to_owned),
    };
    apply_history(&mut execution, &events);
    Ok(Some(execution))
}

/// Fills in the states entered and, for a failed execution, the state it
/// failed in and the error (from the history when the description has none).
fn apply_history(execution: &mut Execution, events: &[HistoryEvent]) {
    for event in events {
        if let Some(entered) = event.state_entered_event_details() {
            execution.states.push(entered.name().to_owned());
        }
        if let Some(failed) = event.execution_failed_event_details() {
            execution.failed_state = execution.states.last().cloned();
            if execution.error.is_none() {
                execution.error = failed.error().map(str::to_owned);
                execution.cause = failed.cause().map(str::to_owned);
            }
        }
    }
}

/// Where a workflow's executions are recorded.
pub enum Record {
    /// STANDARD: Step Functions' own history, under this state machine.
    StepFunctions(String),
    /// EXPRESS: the workflow's log group.
    Log(String),
}

/// Clients and records of the stack's workflows, looked up once each.
pub struct Executions {
    sfn: aws_sdk_sfn::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    records: Vec<(WorkflowId, Record)>,
}

impl Executions {
    pub fn new(stack: &DeployedStack) -> Executions {
        Executions::with_clients(
            aws_sdk_sfn::Client::new(&stack.config),
            aws_sdk_cloudwatchlogs::Client::new(&stack.config),
        )
    }

    pub fn with_clients(
        sfn: aws_sdk_sfn::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
    ) -> Executions {
        Executions {
            sfn,
            logs,
            records: Vec::new(),
        }
    }

    async fn record(
        &mut self,
        stack: &mut DeployedStack,
        workflow: WorkflowId,
    ) -> Result<&Record, Error> {
        if let Some(index) = self.records.iter().position(|(w, _)| *w == workflow) {
            return Ok(&self.records[index].1);
        }
        let machine = stack.get(Resource::Workflow(workflow)).await?;
        let described = self
            .sfn
            .describe_state_machine()
            .state_machine_arn(&machine)
            .send()
            .await
            .map_err(read_error(workflow))?;
        let record = if described.r#type() == &StateMachineType::Express {
            Record::Log(stack.get(Resource::WorkflowLog(workflow)).await?)
        } else {
            Record::StepFunctions(machine)
        };
        self.records.push((workflow, record));
        Ok(&self.records.last().expect("just pushed").1)
    }

    /// The newest executions of `workflow`.
    pub async fn list(
        &mut self,
        stack: &mut DeployedStack,
        workflow: WorkflowId,
        status: Option<StatusFilter>,
        limit: u32,
    ) -> Result<Vec<Execution>, Error> {
        let (sfn, logs) = (self.sfn.clone(), self.logs.clone());
        match self.record(stack, workflow).await? {
            Record::StepFunctions(machine) => list(&sfn, workflow, machine, status, limit).await,
            Record::Log(group) => log::list(&logs, workflow, group, status, limit).await,
        }
    }

    /// A tail of `workflow`'s log from `since`, for following many
    /// executions at once; `None` for a STANDARD workflow (no log to read:
    /// [`Executions::find`] asks Step Functions).
    pub async fn tail(
        &mut self,
        stack: &mut DeployedStack,
        workflow: WorkflowId,
        since: std::time::SystemTime,
    ) -> Result<Option<log::Tail>, Error> {
        let logs = self.logs.clone();
        Ok(match self.record(stack, workflow).await? {
            Record::StepFunctions(_) => None,
            Record::Log(group) => Some(log::Tail::new(logs, workflow, group, since)),
        })
    }

    /// Every execution of `workflow` named `name`, oldest first: for an
    /// EXPRESS workflow each delivery of one order is a run of that name;
    /// a STANDARD workflow has at most one.
    pub async fn runs(
        &mut self,
        stack: &mut DeployedStack,
        workflow: WorkflowId,
        name: &str,
    ) -> Result<Vec<Execution>, Error> {
        let (sfn, logs) = (self.sfn.clone(), self.logs.clone());
        match self.record(stack, workflow).await? {
            Record::StepFunctions(machine) => {
                Ok(describe(&sfn, workflow, &execution_arn(machine, name))
                    .await?
                    .into_iter()
                    .collect())
            }
            Record::Log(group) => log::runs(&logs, workflow, group, name).await,
        }
    }

    /// The execution of `workflow` named `name` (its newest run), with its
    /// states.
    pub async fn find(
        &mut self,
        stack: &mut DeployedStack,
        workflow: WorkflowId,
        name: &str,
    ) -> Result<Option<Execution>, Error> {
        Ok(self.runs(stack, workflow, name).await?.pop())
    }
}

pub fn run(aws: &AwsArgs, args: &ExecutionsArgs, out: &mut dyn Write) -> Result<(), Error> {
    // A picture file whose format cannot be told is refused before any request.
    let picture = match &args.show {
        Some(ExecutionsCommand::Show {
            graph: Some(path), ..
        }) => Some((
            path.as_path(),
            crate::graph::render::Format::for_path(path)
                .ok_or_else(|| Error::UnknownFormat(path.clone()))?,
        )),
        _ => None,
    };
    crate::aws::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let mut executions = Executions::new(&stack);
        match &args.show {
            Some(ExecutionsCommand::Show { id, report, .. }) => {
                // An ARN (standard `...:execution:MACHINE:NAME`, express
                // `...:express:MACHINE:NAME:RUN`) or a bare name.
                let (machine, name) = if id.starts_with("arn:") {
                    let parts: Vec<&str> = id.split(':').collect();
                    (
                        parts.get(6).copied(),
                        parts.get(7).copied().unwrap_or_default(),
                    )
                } else {
                    (None, id.as_str())
                };
                let mut found = None;
                for workflow in WorkflowId::ALL {
                    if machine.is_some_and(|m| !m.ends_with(workflow.as_str())) {
                        continue;
                    }
                    if let Some(execution) = executions.find(&mut stack, workflow, name).await? {
                        found = Some((workflow, execution));
                        break;
                    }
                }
                let (workflow, execution) = found.ok_or_else(|| Error::Unknown(id.clone()))?;
                if let Some((path, format)) = picture {
                    draw(workflow, &execution, path, format)?;
                }
                crate::output::print(&execution, report.output, out).map_err(Error::Report)
            }
            None => {
                let chosen: Vec<WorkflowId> = match args.workflow {
                    Some(one) => vec![one],
                    None => WorkflowId::ALL.to_vec(),
                };
                let mut all = Vec::new();
                for workflow in chosen {
                    all.extend(
                        executions
                            .list(&mut stack, workflow, args.status, args.limit)
                            .await?,
                    );
                }
                crate::output::print(&ExecutionList(all), args.report.output, out)
                    .map_err(Error::Report)
            }
        }
    })
}

/// Draws `workflow` with the path `execution` took to `path`, in the
/// format its extension names.
fn draw(
    workflow: WorkflowId,
    execution: &Execution,
    path: &std::path::Path,
    format: crate::graph::render::Format,
) -> Result<(), Error> {
    let mut graph = crate::graph::workflow_graph(workflow)?;
    graph.title = format!(
        "{} - {} ({})",
        graph.title, execution.name, execution.status
    );
    graph.overlay(&execution.states, execution.failed_state.as_deref());
    let picture = crate::graph::render::render(&graph, format);
    crate::output::write_atomically(path, picture.as_bytes()).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// Executions of one or more workflows, grouped by workflow as text.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct ExecutionList(Vec<Execution>);

impl crate::output::Report for ExecutionList {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut by_workflow: BTreeMap<&str, Vec<&Execution>> = BTreeMap::new();
        for execution in &self.0 {
            by_workflow
                .entry(execution.workflow)
                .or_default()
                .push(execution);
        }
        for (workflow, executions) in by_workflow {
            writeln!(out, "{workflow}:")?;
            for e in executions {
                writeln!(out, "  {:<10} {}  {}", e.status, e.started, e.name)?;
            }
        }
        if self.0.is_empty() {
            writeln!(out, "no executions")?;
        }
        Ok(())
    }
}

impl crate::output::Report for Execution {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let e = self;
        writeln!(out, "{} ({})", e.name, e.workflow)?;
        writeln!(out, "  status:   {}", e.status)?;
        writeln!(out, "  started:  {}", e.started)?;
        if let Some(stopped) = &e.stopped {
            writeln!(out, "  stopped:  {stopped}")?;
        }
        if !e.states.is_empty() {
            writeln!(out, "  states:   {}", e.states.join(" → "))?;
        }
        if let Some(state) = &e.failed_state {
            writeln!(out, "  failed in: {state}")?;
        }
        if let Some(error) = &e.error {
            writeln!(out, "  error:    {error}")?;
        }
        if let Some(cause) = &e.cause {
            writeln!(out, "  cause:    {cause}")?;
        }
        Ok(())
    }
}
