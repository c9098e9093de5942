//! `invctl send-order`: put `new-order-received` events on the stack's bus
//! (as the sample's producers do), or have the order-generator function
//! make them (as its schedule does).
//!
//! Events go out in PutEvents batches of ten; entries the service refuses
//! are retried with backoff and, if they still fail, reported by order id:
//! the orders that were accepted are printed either way (a request that
//! fails after some batches went out marks the rest as not sent).

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use clap::{Args, ValueEnum};
use inventory_domain::{detail_type, source, NewOrder};
use serde::Serialize;

use crate::commands::watch::{self, Outcome};
use crate::config::AwsArgs;
use crate::drive::{self, CatalogEntry, DeployedStack, DriveError, Resource};
use crate::output::{OutputFormat, ReportArgs};

/// PutEvents takes at most ten entries a call.
const BATCH: usize = 10;
/// Attempts for entries the service refuses (throttling, internal errors).
const ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// Put the events on the stack's bus
    #[default]
    Events,
    /// Invoke the order-generator function (it picks product and quantity)
    Lambda,
}

#[derive(Debug, Args)]
pub struct SendOrderArgs {
    /// Product id or name (default: a random product in stock, per order)
    #[arg(long, value_name = "ID|NAME")]
    pub product: Option<String>,
    /// Units per order, at most 10000 [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=inventory_domain::MAX_ORDER_QUANTITY as i64))]
    pub quantity: Option<u32>,
    /// How many orders to send
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub count: u32,
    /// The order id (default: a new random one); only for a single order
    #[arg(long, value_name = "ID")]
    pub order_id: Option<String>,
    /// Where the orders enter the system
    #[arg(long, value_enum, default_value_t)]
    pub via: Via,
    /// Follow each order until it is reserved, rejected or unavailable
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds (at most a day)
    #[arg(long, default_value_t = 120, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=watch::MAX_WAIT_SECONDS))]
    pub timeout: u64,
    /// With --wait: print every state each order's execution enters
    #[arg(long, requires = "wait")]
    pub trace: bool,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("{0}")]
    Usage(String),
    #[error("no product {wanted:?} in the inventory; products: {known}")]
    UnknownProduct { wanted: String, known: String },
    #[error("{wanted:?} names more than one product ({ids}); use its id")]
    AmbiguousProduct { wanted: String, ids: String },
    #[error("no product is in stock to pick from; name one with --product")]
    NothingInStock,
    #[error("{} of {total} order(s) were not accepted by bus {bus}:\n{}", failed.len(), failed.iter().map(|(id, why)| format!("  {id}: {why}\n")).collect::<String>())]
    NotAccepted {
        bus: String,
        total: usize,
        failed: Vec<(String, String)>,
    },
    #[error("cannot put events on bus {bus}: {message}")]
    Put { bus: String, message: String },
    #[error("the order-generator function {function} failed: {message}")]
    Invoke { function: String, message: String },
    #[error(transparent)]
    Watch(#[from] watch::Error),
    #[error("cannot print the report")]
    Report(#[source] std::io::Error),
}

impl crate::exit::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Drive(e) => e.exit_code(),
            Error::Watch(e) => e.exit_code(),
            Error::Usage(_) => crate::exit::USAGE,
            _ => crate::exit::FAILURE,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SentOrders<'a> {
    via: &'static str,
    orders: &'a [NewOrder],
    #[serde(skip_serializing_if = "Option::is_none")]
    outcomes: Option<&'a [Outcome]>,
}

pub fn run(aws: &AwsArgs, args: &SendOrderArgs, out: &mut dyn Write) -> Result<(), Error> {
    if args.order_id.is_some() && args.count > 1 {
        return Err(Error::Usage(
            "--order-id names a single order; leave it out with --count".into(),
        ));
    }
    if args.via == Via::Lambda {
        let chosen = [
            ("--product", args.product.is_some()),
            ("--order-id", args.order_id.is_some()),
            ("--quantity", args.quantity.is_some()),
        ];
        if let Some((flag, _)) = chosen.iter().find(|(_, set)| *set) {
            return Err(Error::Usage(format!(
                "{flag} cannot be used with --via lambda: the order generator picks each order itself; use --via events"
            )));
        }
    }
    crate::aws::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let orders = match args.via {
            Via::Events => {
                let table = stack.get(Resource::InventoryTable).await?;
                let bus = stack.get(Resource::EventBus).await?;
                let dynamodb = aws_sdk_dynamodb::Client::new(&stack.config);
                let products = drive::catalog(&dynamodb, &table).await?;
                let orders = make_orders(args, &products, &mut fastrand::Rng::new())?;
                let events = aws_sdk_eventbridge::Client::new(&stack.config);
                match put_orders(&events, &bus, &orders, Duration::from_millis(200)).await {
                    Ok(()) => orders,
                    Err(Error::NotAccepted { bus, total, failed }) => {
                        // Report what did go out before the error.
                        let refused: HashSet<&str> =
                            failed.iter().map(|(id, _)| id.as_str()).collect();
                        let sent: Vec<NewOrder> = orders
                            .iter()
                            .filter(|o| !refused.contains(o.order_id.as_str()))
                            .cloned()
                            .collect();
                        report(out, args.report.output, "events", &sent, None)?;
                        return Err(Error::NotAccepted { bus, total, failed });
                    }
                    Err(other) => return Err(other),
                }
            }
            Via::Lambda => {
                let function = stack.get(Resource::OrderGeneratorFunction).await?;
                let lambda = aws_sdk_lambda::Client::new(&stack.config);
                invoke_generator(&lambda, &function, args.count).await?
            }
        };
        let via = match args.via {
            Via::Events => "events",
            Via::Lambda => "lambda",
        };
        if !args.wait {
            return report(out, args.report.output, via, &orders, None);
        }
        // As text, the orders are listed before following them; as JSON,
        // one report holds both.
        if args.report.output == OutputFormat::Text {
            report(out, args.report.output, via, &orders, None)?;
        }
        let outcomes = watch::follow(
            &mut stack,
            &orders,
            Duration::from_secs(args.timeout),
            args.trace,
        )
        .await?;
        match args.report.output {
            OutputFormat::Text => {
                crate::output::print(&outcomes, OutputFormat::Text, out).map_err(Error::Report)?
            }
            OutputFormat::Json => report(out, args.report.output, via, &orders, Some(&outcomes.0))?,
        }
        Ok(watch::all_done(&outcomes.0, args.timeout)?)
    })
}

/// The orders sent: a line each, or one JSON report (with their outcomes
/// when followed; as text, the outcomes are printed as they arrive).
fn report(
    out: &mut dyn Write,
    format: OutputFormat,
    via: &'static str,
    orders: &[NewOrder],
    outcomes: Option<&[Outcome]>,
) -> Result<(), Error> {
    let report = SentOrders {
        via,
        orders,
        outcomes,
    };
    crate::output::print(&report, format, out).map_err(Error::Report)
}

impl crate::output::Report for SentOrders<'_> {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for order in self.orders {
            writeln!(
                out,
                "sent {}: {} x {}",
                order.order_id, order.quantity, order.product_id
            )?;
        }
        Ok(())
    }
}

/// The product `wanted` names: an id, else a unique name (any case).
fn resolve<'a>(wanted: &str, products: &'a [CatalogEntry]) -> Result<&'a CatalogEntry, Error> {
    if let Some(product) = products.iter().find(|p| p.id == wanted) {
        return Ok(product);
    }
    let named: Vec<&CatalogEntry> = products
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case(wanted))
        .collect();
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::UnknownProduct {
            wanted: wanted.to_owned(),
            known: products
                .iter()
                .map(|p| format!("{} ({})", p.name, p.id))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        many => Err(Error::AmbiguousProduct {
            wanted: wanted.to_owned(),
            ids: many
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The orders to send: distinct ids, the named product or a random one in
/// stock for each.
pub fn make_orders(
    args: &SendOrderArgs,
    products: &[CatalogEntry],
    rng: &mut fastrand::Rng,
) -> Result<Vec<NewOrder>, Error> {
    let chosen = args
        .product
        .as_deref()
        .map(|wanted| resolve(wanted, products))
        .transpose()?;
    let in_stock: Vec<&CatalogEntry> = products
        .iter()
        .filter(|p| p.status == inventory_domain::inventory::IN_STOCK && p.stock > 0)
        .collect();
    if chosen.is_none() && in_stock.is_empty() {
        return Err(Error::NothingInStock);
    }
    let mut ids = HashSet::new();
    let mut orders = Vec::with_capacity(args.count as usize);
    while orders.len() < args.count as usize {
        let order_id = match &args.order_id {
            Some(id) => id.clone(),
            None => format!("ord-{:016x}{:016x}", rng.u64(..), rng.u64(..)),
        };
        if !ids.insert(order_id.clone()) {
            continue;
        }
        let product = chosen.unwrap_or_else(|| in_stock[rng.usize(..in_stock.len())]);
        orders.push(NewOrder {
            order_id,
            product_id: product.id.clone(),
            quantity: args.quantity.unwrap_or(1),
        });
    }
    Ok(orders)
}

fn entry(bus: &str, order: &NewOrder) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(source::ORDERS)
        .detail_type(detail_type::NEW_ORDER_RECEIVED)
        .detail(serde_json::to_string(order).expect("orders serialize"))
        .build()
}

/// Puts every order on `bus`, ten a call, retrying refused entries with
/// backoff from `pause`; fails naming the orders that were never accepted.
pub async fn put_orders(
    events: &aws_sdk_eventbridge::Client,
    bus: &str,
    orders: &[NewOrder],
    pause: Duration,
) -> Result<(), Error> {
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut sent = 0;
    for (index, batch) in orders.chunks(BATCH).enumerate() {
        let mut pending: Vec<&NewOrder> = batch.iter().collect();
        let mut wait = pause;
        for attempt in 1..=ATTEMPTS {
            let output = match events
                .put_events()
                .set_entries(Some(pending.iter().map(|o| entry(bus, o)).collect()))
                .send()
                .await
            {
                Ok(output) => output,
                Err(e) => {
                    let message = crate::aws::error::text(&e);
                    if sent == 0 && failed.is_empty() {
                        // Nothing went out: one plain error says it all.
                        return Err(Error::Put {
                            bus: bus.to_owned(),
                            message,
                        });
                    }
                    // Some orders went out: name every one that did not.
                    let unsent = pending
                        .iter()
                        .copied()
                        .chain(orders.chunks(BATCH).skip(index + 1).flatten());
                    failed.extend(
                        unsent.map(|o| (o.order_id.clone(), format!("not sent: {message}"))),
                    );
                    return Err(Error::NotAccepted {
                        bus: bus.to_owned(),
                        total: orders.len(),
                        failed,
                    });
                }
            };
            if output.failed_entry_count == 0 {
                sent += pending.len();
                pending.clear();
                break;
            }
            // Results come back in the order of the entries sent.
            let refused: Vec<(&NewOrder, String)> = pending
                .iter()
                .zip(output.entries())
                .filter(|(_, result)| result.error_code().is_some())
                .map(|(order, result)| {
                    let why = format!(
                        "{}: {}",
                        result.error_code().unwrap_or_default(),
                        result.error_message().unwrap_or_default()
                    );
                    (*order, why)
                })
                .collect();
            sent += pending.len() - refused.len();
            if attempt == ATTEMPTS {
                failed.extend(
                    refused
                        .into_iter()
                        .map(|(o, why)| (o.order_id.clone(), why)),
                );
                break;
            }
            pending = refused.into_iter().map(|(o, _)| o).collect();
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::NotAccepted {
            bus: bus.to_owned(),
            total: orders.len(),
            failed,
        })
    }
}

/// Invokes the order generator `count` times; each answer is the order it put.
pub async fn invoke_generator(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    count: u32,
) -> Result<Vec<NewOrder>, Error> {
    let failure = |message: String| Error::Invoke {
        function: function.to_owned(),
        message,
    };
    let mut orders = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let output = lambda
            .invoke()
            .function_name(function)
            .payload(aws_sdk_lambda::primitives::Blob::new("{}"))
            .send()
            .await
            .map_err(|e| failure(crate::aws::error::text(&e)))?;
        let payload = output
            .payload()
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .unwrap_or_default();
        if let Some(kind) = output.function_error() {
            return Err(failure(format!("{kind}: {payload}")));
        }
        let order: NewOrder = serde_json::from_str(&payload)
            .map_err(|_| failure(format!("it answered {payload:?} rather than an order")))?;
        orders.push(order);
    }
    Ok(orders)
}
