//! What a deploy reports: the action, the changes, the stack's outputs,
//! the catalog seeded and the email subscriptions.

use std::io::{self, Write};

use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;

use crate::deploy::changeset::Change;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Report {
    pub(super) stack_name: String,
    /// `create`, `update` or `none`.
    pub(super) action: &'static str,
    pub(super) changes: Vec<Change>,
    pub(super) executed: bool,
    pub(super) uploaded: usize,
    pub(super) outputs: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) seeded: Option<SeededReport>,
    /// The email subscriptions and whether each is confirmed.
    pub(super) subscriptions: Vec<crate::deploy::subscriptions::SubscriptionState>,
    /// `on` or `off` when this deploy turned the stack's protection on or off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) protection: Option<&'static str>,
    /// The first line of the text report.
    #[serde(skip)]
    pub(super) summary: String,
}

impl Report {
    /// A deploy that changed nothing.
    pub(super) fn unchanged(
        stack_name: &str,
        uploaded: usize,
        outputs: serde_json::Map<String, serde_json::Value>,
        summary: &str,
    ) -> Self {
        Report {
            stack_name: stack_name.to_owned(),
            action: "none",
            changes: Vec::new(),
            executed: false,
            uploaded,
            outputs,
            seeded: None,
            subscriptions: Vec::new(),
            protection: None,
            summary: summary.to_owned(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct SeededReport {
    pub(super) added: usize,
    pub(super) kept: usize,
}

pub(super) fn outputs(stack: &Stack) -> serde_json::Map<String, serde_json::Value> {
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

impl crate::output::Report for Report {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.summary)?;
        match self.protection {
            Some("on") => writeln!(
                out,
                "protection on: termination protection, and the tables and the KMS key cannot be replaced or deleted (`invctl deploy --unprotect` lifts it)"
            )?,
            Some(_) => writeln!(out, "protection off")?,
            None => {}
        }
        if let Some(seeded) = &self.seeded {
            writeln!(
                out,
                "catalog: {} product(s) added, {} already there",
                seeded.added, seeded.kept
            )?;
        }
        let width = self.outputs.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in &self.outputs {
            writeln!(
                out,
                "  {key:<width$}  {}",
                value.as_str().unwrap_or_default()
            )?;
        }
        crate::deploy::subscriptions::write(&self.subscriptions, out)
    }
}
