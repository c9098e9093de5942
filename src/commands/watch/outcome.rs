//! Where an order ended, and how the outcomes of the orders followed are
//! reported: a line each and a summary, or a JSON list.

use std::io::Write;

use serde::Serialize;

use crate::commands::executions::{self};

/// Where an order ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub order_id: String,
    /// `reserved`, `rejected`, `unavailable`, `dead-lettered` (every delivery
    /// the queue allows failed), `failed` (still failing at the deadline),
    /// or `pending` (no outcome at the deadline).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_quantity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds from the start of following to the outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

/// The outcome a finished reserve-stock execution's last state stands for.
pub fn outcome_of(execution: &executions::Execution) -> Option<&'static str> {
    match execution.status.as_str() {
        "RUNNING" => None,
        "SUCCEEDED" => Some(
            execution
                .states
                .last()
                .and_then(|state| crate::stack::workflows::RESERVE_STOCK.outcome_of(state))
                .unwrap_or("failed"),
        ),
        _ => Some("failed"),
    }
}

/// "18 reserved, 2 unavailable", in a fixed order.
pub(super) fn tally<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> String {
    let mut counts: Vec<(&str, usize)> = [
        "reserved",
        "unavailable",
        "rejected",
        "dead-lettered",
        "failed",
        "pending",
    ]
    .iter()
    .map(|o| (*o, 0))
    .collect();
    for outcome in outcomes {
        if let Some(count) = counts.iter_mut().find(|(o, _)| *o == outcome.outcome) {
            count.1 += 1;
        }
    }
    counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(o, n)| format!("{n} {o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How each followed order ended: a line each, or a JSON list.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Outcomes(pub Vec<Outcome>);

impl crate::output::Report for Outcomes {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for o in &self.0 {
            let detail = match (&o.reserved_quantity, &o.error) {
                (Some(q), _) => format!(" ({q} unit(s))"),
                (_, Some(e)) => format!(" ({e})"),
                _ => String::new(),
            };
            let after = o
                .seconds
                .map(|s| format!(" after {s:.1} s"))
                .unwrap_or_default();
            writeln!(out, "{}: {}{detail}{after}", o.order_id, o.outcome)?;
        }
        if self.0.len() > 1 {
            let slowest = self.0.iter().filter_map(|o| o.seconds).fold(0.0, f64::max);
            writeln!(
                out,
                "{} orders: {} (the last after {slowest:.1} s)",
                self.0.len(),
                tally(self.0.iter())
            )?;
        }
        Ok(())
    }
}
