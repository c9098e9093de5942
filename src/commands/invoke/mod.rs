//! `invctl invoke FUNCTION [--event FILE|-] [--sample [KIND]]`: runs one of the
//! stack's functions once, as Lambda's Invoke does (RequestResponse), and
//! prints its answer and the end of its log (Invoke's `LogType: Tail`).
//! Without `--event`, the function gets its sample event: what the stack
//! would hand it, made from the deployed stack's resources
//! ([`samples`]); `--sample` prints that event instead, to edit and send.

pub mod samples;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use clap::Args;
use inventory_domain::{inventory, NewOrder};
use serde::Serialize;
use serde_json::Value;

use crate::config::AwsArgs;
use crate::drive::{self, DeployedStack, DriveError, Resource};
use crate::output::ReportArgs;
use crate::stack::functions::{self, FunctionSpec};

fn function_names() -> [&'static str; 5] {
    functions::ALL.map(|f| f.package)
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function to run
    #[arg(value_name = "FUNCTION", value_parser = clap::builder::PossibleValuesParser::new(function_names()))]
    pub function: String,
    /// The event to send: a JSON file, or - for standard input [default: the function's sample event]
    #[arg(long, value_name = "FILE")]
    pub event: Option<PathBuf>,
    /// Print the event the function gets from its source, made from the deployed stack, and invoke nothing (KIND, if given, must be that source's)
    #[arg(long, value_name = "KIND", value_enum, conflicts_with = "event")]
    pub sample: Option<Option<SampleKind>>,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Where a function's events come from, as `--sample` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleKind {
    /// The EventBridge Scheduler schedule (order-generator)
    Schedule,
    /// The orders queue's event source mapping (reserve-stock)
    Sqs,
    /// The inventory table's stream mapping (inventory-stream)
    Stream,
    /// The create-purchase-order workflow's task (purchase-order-email)
    Workflow,
    /// The Function URL (approval)
    Url,
}

impl SampleKind {
    /// The source that feeds `function`.
    pub fn of(function: &FunctionSpec) -> SampleKind {
        match function.package {
            p if p == functions::ORDER_GENERATOR.package => SampleKind::Schedule,
            p if p == functions::RESERVE_STOCK.package => SampleKind::Sqs,
            p if p == functions::INVENTORY_STREAM.package => SampleKind::Stream,
            p if p == functions::PURCHASE_ORDER_EMAIL.package => SampleKind::Workflow,
            _ => SampleKind::Url,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SampleKind::Schedule => "schedule",
            SampleKind::Sqs => "sqs",
            SampleKind::Stream => "stream",
            SampleKind::Workflow => "workflow",
            SampleKind::Url => "url",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{function} gets {} events, not {}: --sample {} (or --sample alone)", .its.name(), .asked.name(), .its.name())]
    WrongSample {
        function: String,
        asked: SampleKind,
        its: SampleKind,
    },
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("cannot read the event from {from}")]
    ReadEvent {
        from: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the event in {from} is not JSON ({message}); nothing was invoked")]
    BadEvent { from: String, message: String },
    #[error("stack {stack} has no {function} function (resource {logical_id}): was it deployed by this version of invctl?")]
    NotInStack {
        stack: String,
        function: String,
        logical_id: String,
    },
    #[error("cannot make the sample event of {function}: {message}")]
    Sample { function: String, message: String },
    #[error("cannot invoke {function}: {message}")]
    Invoke { function: String, message: String },
    #[error("{function} failed ({kind}); its answer is above")]
    FunctionFailed { function: String, kind: String },
    #[error("cannot print the answer")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            Error::ReadEvent { .. } | Error::BadEvent { .. } | Error::WrongSample { .. } => {
                crate::exit::USAGE
            }
            _ => crate::exit::FAILURE,
        }
    }
}

/// The function's answer, as Invoke returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Invoked {
    /// The function as invctl names it (its package).
    function: String,
    /// Its name in Lambda.
    function_name: String,
    status_code: i32,
    /// Lambda's X-Amz-Function-Error (Unhandled, Handled), when it failed.
    function_error: Option<String>,
    /// The answer: JSON when it is JSON, else its text.
    payload: Value,
    /// The end of its log for this invocation (at most 4 KB), when Lambda sent it.
    log: Option<String>,
    /// From the request to the answer, as invctl saw it.
    round_trip_ms: u128,
}

impl crate::output::Report for Invoked {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let outcome = match &self.function_error {
            Some(kind) => format!("failed ({kind})"),
            None => "answered".to_owned(),
        };
        writeln!(
            out,
            "{} {outcome} in {} ms ({}):",
            self.function, self.round_trip_ms, self.function_name
        )?;
        let payload = match &self.payload {
            Value::String(text) => text.clone(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        };
        writeln!(out, "{payload}")?;
        if let Some(log) = &self.log {
            writeln!(out, "\nits log (the end of this invocation's):")?;
            for line in log.lines() {
                writeln!(out, "  {line}")?;
            }
        }
        Ok(())
    }
}

fn spec_of(package: &str) -> FunctionSpec {
    functions::ALL
        .into_iter()
        .find(|f| f.package == package)
        .expect("clap accepts only the stack's functions")
}

/// The event in `path` (`-`: standard input), checked to be JSON.
fn read_event(path: &Path) -> Result<Vec<u8>, Error> {
    let from = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    read.map_err(|source| Error::ReadEvent {
        from: from.clone(),
        source,
    })?;
    serde_json::from_slice::<Value>(&bytes).map_err(|e| Error::BadEvent {
        from,
        message: e.to_string(),
    })?;
    Ok(bytes)
}

pub fn run(aws: &AwsArgs, args: &InvokeArgs, out: &mut dyn Write) -> Result<(), Error> {
    let spec = spec_of(&args.function);
    // Bad input is refused before anything is looked up or invoked.
    if let Some(Some(asked)) = args.sample {
        let its = SampleKind::of(&spec);
        if asked != its {
            return Err(Error::WrongSample {
                function: spec.package.to_owned(),
                asked,
                its,
            });
        }
    }
    let given = args.event.as_deref().map(read_event).transpose()?;
    crate::aws::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let physical = stack.list_resources().await?;
        let name = physical
            .get(spec.logical_id)
            .filter(|n| !n.is_empty())
            .cloned()
            .ok_or_else(|| Error::NotInStack {
                stack: stack.name.clone(),
                function: spec.package.to_owned(),
                logical_id: spec.logical_id.to_owned(),
            })?;
        let event = match given {
            Some(bytes) => bytes,
            None => {
                let approval = physical
                    .get(functions::APPROVAL.logical_id)
                    .cloned()
                    .unwrap_or_default();
                let sample = sample(&mut stack, &spec, &approval).await?;
                if args.sample.is_some() {
                    return crate::output::write_json(out, &sample).map_err(Error::Report);
                }
                sample.to_string().into_bytes()
            }
        };
        let lambda = aws_sdk_lambda::Client::new(&stack.config);
        let started = Instant::now();
        let answer = lambda
            .invoke()
            .function_name(&name)
            .log_type(aws_sdk_lambda::types::LogType::Tail)
            .payload(aws_sdk_lambda::primitives::Blob::new(event))
            .send()
            .await
            .map_err(|e| Error::Invoke {
                function: spec.package.to_owned(),
                message: crate::aws::error::text(&e),
            })?;
        let round_trip_ms = started.elapsed().as_millis();
        let payload = answer.payload().map(|p| p.as_ref()).unwrap_or_default();
        let invoked = Invoked {
            function: spec.package.to_owned(),
            function_name: name,
            status_code: answer.status_code(),
            function_error: answer.function_error().map(str::to_owned),
            payload: serde_json::from_slice(payload)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned())),
            log: answer
                .log_result()
                .and_then(|encoded| aws_smithy_types::base64::decode(encoded).ok())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
            round_trip_ms,
        };
        crate::output::print(&invoked, args.report.output, out).map_err(Error::Report)?;
        match invoked.function_error {
            Some(kind) => Err(Error::FunctionFailed {
                function: invoked.function,
                kind,
            }),
            None => Ok(()),
        }
    })
}

/// The sample event of `function`, from the deployed stack's resources
/// (`approval`: the approval function's name, for its URL).
async fn sample(
    stack: &mut DeployedStack,
    function: &FunctionSpec,
    approval: &str,
) -> Result<Value, Error> {
    let failure = |message: String| Error::Sample {
        function: function.package.to_owned(),
        message,
    };
    let mut rng = fastrand::Rng::new();
    let now = SystemTime::now();
    let kind = SampleKind::of(function);
    match kind {
        SampleKind::Schedule => return Ok(serde_json::json!({})),
        SampleKind::Url => {
            let url = aws_sdk_lambda::Client::new(&stack.config)
                .get_function_url_config()
                .function_name(approval)
                .send()
                .await
                .map_err(|e| failure(format!("its Function URL: {}", crate::aws::error::text(&e))))?
                .function_url;
            return Ok(samples::review_page_request(&url, &mut rng, now));
        }
        SampleKind::Sqs | SampleKind::Stream | SampleKind::Workflow => {}
    }
    let table = stack.get(Resource::InventoryTable).await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&stack.config);
    let items = drive::scan_items(&dynamodb, &table).await?;
    let product = samples::pick_product(&items)
        .ok_or_else(|| failure("the inventory table holds no product".to_owned()))?;
    let product_id = match product.get(inventory::ID) {
        Some(AttributeValue::S(id)) => id.clone(),
        _ => String::new(),
    };
    if kind == SampleKind::Sqs {
        let url = stack
            .get(Resource::Queue(crate::stack::queues::ORDERS))
            .await?;
        let arn = aws_sdk_sqs::Client::new(&stack.config)
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| {
                failure(format!(
                    "the orders queue's ARN: {}",
                    crate::aws::error::text(&e)
                ))
            })?
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let order = NewOrder {
            order_id: format!("ord-sample-{:016x}", rng.u64(..)),
            product_id,
            quantity: 1,
        };
        return Ok(samples::queued_order(&arn, &order, &mut rng, now));
    }
    if kind == SampleKind::Stream {
        let stream_arn = dynamodb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .map_err(|e| {
                failure(format!(
                    "the inventory table's stream: {}",
                    crate::aws::error::text(&e)
                ))
            })?
            .table()
            .and_then(|t| t.latest_stream_arn())
            .map(str::to_owned)
            .ok_or_else(|| failure(format!("table {table} has no stream")))?;
        return Ok(samples::stock_change(&stream_arn, product, &mut rng, now));
    }
    Ok(samples::approval_request(product))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_has_the_sample_of_its_source() {
        let kinds: Vec<&str> = functions::ALL
            .iter()
            .map(|f| SampleKind::of(f).name())
            .collect();
        assert_eq!(kinds, ["schedule", "sqs", "stream", "workflow", "url"]);
        let wrong = Error::WrongSample {
            function: "reserve-stock".into(),
            asked: SampleKind::Stream,
            its: SampleKind::Sqs,
        };
        assert_eq!(
            wrong.to_string(),
            "reserve-stock gets sqs events, not stream: --sample sqs (or --sample alone)"
        );
        use crate::exit::ExitCode;
        assert_eq!(wrong.exit_code(), crate::exit::USAGE);
    }
}
