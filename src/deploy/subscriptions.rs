//! The email subscriptions' states. An email subscription stays
//! `PendingConfirmation` until its recipient clicks the link AWS sends, and
//! until then SNS delivers nothing to it: no alert arrives, and purchase
//! orders wait for an approval nobody is asked for and expire. deploy and
//! status show each state and what to do while one is pending.

use std::io::{self, Write};

use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;

use crate::stack::ids::output;

/// The stack's topics with an email subscription: (what it carries, the
/// output naming the topic).
const TOPICS: [(&str, &str); 2] = [
    ("alerts", output::ALERT_TOPIC_ARN),
    ("approvals", output::APPROVAL_TOPIC_ARN),
];

/// One subscription of the stack's topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionState {
    /// `alerts` or `approvals`.
    pub topic: &'static str,
    pub protocol: String,
    pub endpoint: String,
    /// `confirmed` or `pending` (waiting for the recipient to confirm).
    pub state: &'static str,
}

impl SubscriptionState {
    pub fn is_pending(&self) -> bool {
        self.state == "pending"
    }
}

/// The subscriptions of the stack's topics, in topic order. A topic that
/// cannot be read is left out: the states are advice, not the deploy's result.
pub async fn states(sns: &aws_sdk_sns::Client, stack: &Stack) -> Vec<SubscriptionState> {
    let mut states = Vec::new();
    for (topic, output) in TOPICS {
        let Some(arn) = stack
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(output))
            .and_then(|o| o.output_value())
        else {
            continue;
        };
        let mut pages = sns
            .list_subscriptions_by_topic()
            .topic_arn(arn)
            .into_paginator()
            .items()
            .send();
        while let Some(Ok(subscription)) = pages.next().await {
            states.push(SubscriptionState {
                topic,
                protocol: subscription.protocol().unwrap_or_default().to_owned(),
                endpoint: subscription.endpoint().unwrap_or_default().to_owned(),
                // SNS names a subscription not yet confirmed this way in
                // place of its ARN.
                state: if subscription.subscription_arn() == Some("PendingConfirmation") {
                    "pending"
                } else {
                    "confirmed"
                },
            });
        }
    }
    states
}

/// The states as lines, and what to do when one is pending.
pub fn write(states: &[SubscriptionState], out: &mut dyn Write) -> io::Result<()> {
    if states.is_empty() {
        return Ok(());
    }
    writeln!(out, "subscriptions")?;
    for s in states {
        let state = if s.is_pending() {
            "PENDING CONFIRMATION"
        } else {
            "confirmed"
        };
        writeln!(
            out,
            "  {:<9}  {} {}  {state}",
            s.topic, s.protocol, s.endpoint
        )?;
    }
    let mut pending: Vec<&str> = states
        .iter()
        .filter(|s| s.is_pending())
        .map(|s| s.endpoint.as_str())
        .collect();
    pending.dedup();
    for endpoint in pending {
        writeln!(
            out,
            "  {endpoint} must click \"Confirm subscription\" in the email from AWS Notifications (look in spam too): until then SNS sends it nothing, so no alert arrives and purchase orders expire unapproved. The SNS console's \"Request confirmation\" sends a lost email again."
        )?;
    }
    Ok(())
}
