//! `invctl scan`: read one of the stack's tables, page by page, as an
//! aligned table or as JSON with numbers as numbers.
//!
//! Purchase orders carry a task token and the hash of the approval secret:
//! neither is ever shown.

use std::collections::HashMap;
use std::io::Write;

use aws_sdk_dynamodb::types::AttributeValue;
use clap::{Args, ValueEnum};
use inventory_domain::{inventory, purchase_order as po, reservation};
use serde_json::{Map, Value};

use crate::config::AwsArgs;
use crate::drive::{DeployedStack, DriveError, Resource};
use crate::output::OutputFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableName {
    Reservations,
    Inventory,
    PurchaseOrders,
}

impl TableName {
    fn resource(self) -> Resource {
        match self {
            TableName::Reservations => Resource::ReservationTable,
            TableName::Inventory => Resource::InventoryTable,
            TableName::PurchaseOrders => Resource::PurchaseOrderTable,
        }
    }

    /// The columns shown first, in this order; other attributes follow by name.
    fn columns(self) -> &'static [&'static str] {
        match self {
            TableName::Reservations => &[
                reservation::ID,
                reservation::PRODUCT_ID,
                reservation::RESERVED_QUANTITY,
            ],
            TableName::Inventory => &[
                inventory::ID,
                inventory::NAME,
                inventory::STOCK,
                inventory::THRESHOLD,
                inventory::STATUS,
                inventory::MIN_PO_AMOUNT,
            ],
            TableName::PurchaseOrders => &[
                po::ID,
                po::PRODUCT_ID,
                po::PRODUCT_NAME,
                po::REQUESTED_QUANTITY,
                po::ORDER_QUANTITY,
                po::STATUS,
                po::DECISION,
            ],
        }
    }
}

/// Attributes that are secrets: never printed.
const HIDDEN: [&str; 2] = [po::TASK_TOKEN, po::APPROVAL_SECRET_HASH];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Aligned columns for people
    #[default]
    #[value(alias = "text")]
    Table,
    /// One JSON array of items, numbers as numbers
    Json,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Which table
    #[arg(value_enum)]
    pub table: TableName,
    /// How to report
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub output: ScanFormat,
    /// Read at most this many items
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error("cannot read table {table}: {message}")]
    Scan { table: String, message: String },
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

pub fn run(aws: &AwsArgs, args: &ScanArgs, out: &mut dyn Write) -> Result<(), Error> {
    crate::aws::runtime().block_on(async {
        let mut stack = DeployedStack::find(aws).await?;
        let table = stack.get(args.table.resource()).await?;
        let dynamodb = aws_sdk_dynamodb::Client::new(&stack.config);
        let items = read(&dynamodb, &table, args.limit).await?;
        let columns = args.table.columns();
        let mut rows: Vec<Map<String, Value>> =
            items.iter().map(|item| to_json(item, columns)).collect();
        rows.sort_by_key(key_of);
        let format = match args.output {
            ScanFormat::Json => OutputFormat::Json,
            ScanFormat::Table => OutputFormat::Text,
        };
        let report = ScanReport {
            table,
            columns,
            rows,
        };
        crate::output::print(&report, format, out).map_err(Error::Report)
    })
}

/// A table's items: the rows as JSON, or an aligned table for people.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
struct ScanReport {
    #[serde(skip)]
    table: String,
    #[serde(skip)]
    columns: &'static [&'static str],
    rows: Vec<Map<String, Value>>,
}

impl crate::output::Report for ScanReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        write!(out, "{}", render_table(self.columns, &self.rows))?;
        writeln!(out, "{} item(s) in {}", self.rows.len(), self.table)
    }
}

fn key_of(row: &Map<String, Value>) -> String {
    row.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn read(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    limit: Option<u32>,
) -> Result<Vec<HashMap<String, AttributeValue>>, Error> {
    let mut items = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let remaining = limit.map(|l| (l as usize).saturating_sub(items.len()));
        let page = dynamodb
            .scan()
            .table_name(table)
            .set_limit(remaining.map(|r| r.min(1000) as i32))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| Error::Scan {
                table: table.to_owned(),
                message: crate::aws::error::text(&e),
            })?;
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key.filter(|k| !k.is_empty());
        let full = limit.is_some_and(|l| items.len() >= l as usize);
        if start.is_none() || full {
            return Ok(items);
        }
    }
}

/// An item as JSON: numbers as numbers, secrets left out, the table's own
/// columns first and the other attributes after them by name.
pub fn to_json(item: &HashMap<String, AttributeValue>, first: &[&str]) -> Map<String, Value> {
    let mut names: Vec<&String> = item
        .keys()
        .filter(|name| !HIDDEN.contains(&name.as_str()))
        .collect();
    names.sort_by_key(|name| {
        (
            first.iter().position(|c| c == name).unwrap_or(first.len()),
            name.as_str(),
        )
    });
    names
        .into_iter()
        .map(|name| (name.clone(), value_of(&item[name])))
        .collect()
}

fn number(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .ok()
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        })
        // Beyond f64 (DynamoDB allows 38 digits): keep every digit as text.
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

fn value_of(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Ss(list) => list.iter().cloned().map(Value::String).collect(),
        AttributeValue::Ns(list) => list.iter().map(|n| number(n)).collect(),
        AttributeValue::L(list) => list.iter().map(value_of).collect(),
        AttributeValue::M(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), value_of(v))).collect())
        }
        AttributeValue::B(_) | AttributeValue::Bs(_) => Value::String("(binary)".into()),
        _ => Value::Null,
    }
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Columns: the table's own first, then every other attribute seen, by
/// name. Numbers are right-aligned.
pub fn render_table(first: &[&str], rows: &[Map<String, Value>]) -> String {
    let mut columns: Vec<String> = first.iter().map(|c| (*c).to_owned()).collect();
    let mut others: Vec<String> = rows
        .iter()
        .flat_map(|r| r.keys())
        .filter(|k| !first.contains(&k.as_str()))
        .cloned()
        .collect();
    others.sort();
    others.dedup();
    columns.extend(others);
    let numeric: Vec<bool> = columns
        .iter()
        .map(|c| rows.iter().filter_map(|r| r.get(c)).all(|v| v.is_number()))
        .collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(r.get(c))).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: &[String]| {
        let mut text = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if numeric[i] {
                    format!("{v:>width$}", width = widths[i])
                } else {
                    format!("{v:<width$}", width = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ");
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    };
    let mut text = line(&columns);
    for row in &cells {
        text.push_str(&line(row));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_numbers_and_secrets_are_left_out() {
        let item = HashMap::from([
            ("id".to_owned(), AttributeValue::S("po-1".into())),
            ("orderQuantity".to_owned(), AttributeValue::N("25".into())),
            ("ratio".to_owned(), AttributeValue::N("0.5".into())),
            (
                "huge".to_owned(),
                AttributeValue::N("123456789012345678901234567890123456".into()),
            ),
            (
                po::TASK_TOKEN.to_owned(),
                AttributeValue::S("secret".into()),
            ),
            (
                po::APPROVAL_SECRET_HASH.to_owned(),
                AttributeValue::S("hash".into()),
            ),
        ]);
        let json = to_json(&item, &["id"]);
        assert_eq!(
            json.keys().collect::<Vec<_>>(),
            ["id", "huge", "orderQuantity", "ratio"]
        );
        assert_eq!(json["orderQuantity"], Value::from(25));
        assert_eq!(json["ratio"], Value::from(0.5));
        assert!(json["huge"].is_number());
        assert!(!json.contains_key(po::TASK_TOKEN));
        assert!(!json.contains_key(po::APPROVAL_SECRET_HASH));
    }

    #[test]
    fn tables_align_and_put_known_columns_first() {
        let rows: Vec<Map<String, Value>> = vec![
            serde_json::json!({"id": "b", "stock": 5, "name": "mouse", "extra": true}),
            serde_json::json!({"id": "a-long-id", "stock": 120, "name": "tv"}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect();
        let text = render_table(&["id", "name", "stock"], &rows);
        assert_eq!(
            text,
            "id         name   stock  extra\n\
             b          mouse      5  true\n\
             a-long-id  tv       120\n"
        );
    }
}
