//! Recording an approver's decision and completing the waiting task.
//!
//! The decision is written first, conditionally (pending, undecided, and,
//! for an emailed link, the right secret), so a purchase order is decided
//! once however often the link is used. Then the workflow's task completes
//! with SendTaskSuccess for both answers, so approve and reject each run
//! their own branch. When Step Functions answers that it did not complete
//! the task (a throttle, a service error), the decision is withdrawn so the
//! approver can decide again. When no answer came (a client timeout, a
//! dropped connection), the call may have landed: the decision is kept, so
//! the only way on is to repeat it, and a later opposite decision can never
//! be recorded over what the workflow did.
//!
//! Between the write and SendTaskSuccess the function can die (a timeout, a
//! crash). The decision is then recorded and the task token still stored:
//! the same decision again completes the task (it is idempotent), so the
//! purchase order does not wait, undeliverable, until it expires.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_sfn::error::SdkError;
use inventory_domain::{approval, purchase_order as po, secret_hash, secret_matches};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    /// The value stored and sent to the workflow.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => approval::APPROVED,
            Decision::Reject => approval::REJECTED,
        }
    }
}

/// How a purchase order looks to an approver.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PurchaseOrderView {
    pub id: String,
    pub product_id: String,
    pub product_name: String,
    pub order_quantity: String,
    pub status: String,
    pub decision: Option<String>,
    /// A decision was recorded but has not reached the workflow yet (its
    /// token is still stored): making it again completes it.
    pub undelivered: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecideError {
    #[error("purchase order {0} does not exist")]
    Unknown(String),
    #[error("the link is not valid for purchase order {0}")]
    WrongSecret(String),
    #[error("purchase order {id} was already decided ({state})")]
    AlreadyDecided { id: String, state: String },
    #[error("purchase order {0} is not waiting for a decision yet; try again in a minute")]
    NotWaiting(String),
    #[error("purchase order {0} can no longer be decided: its workflow stopped waiting (expired or ended)")]
    Expired(String),
    #[error("the decision could not be recorded: {0}; nothing was decided, try again")]
    Unavailable(String),
    #[error("the decision on purchase order {id} is recorded, but whether it reached the workflow is unknown ({why}); make the same decision again to complete it")]
    Unconfirmed { id: String, why: String },
}

pub struct Decider {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub table: String,
}

/// The link's secret against the purchase order's stored hash (`None`: an
/// operator with table access, who needs none).
fn check_secret(
    id: &str,
    item: &HashMap<String, AttributeValue>,
    secret: Option<&str>,
) -> Result<(), DecideError> {
    match secret {
        Some(secret)
            if !secret_matches(secret, text(item, po::APPROVAL_SECRET_HASH).as_deref()) =>
        {
            Err(DecideError::WrongSecret(id.to_owned()))
        }
        _ => Ok(()),
    }
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        Some(AttributeValue::N(n)) => Some(n.clone()),
        _ => None,
    }
}

fn dynamo_error<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> DecideError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DecideError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())
}

impl Decider {
    async fn item(&self, id: &str) -> Result<Option<HashMap<String, AttributeValue>>, DecideError> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(po::ID, AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_error)?;
        Ok(output.item)
    }

    /// The purchase order as the review page shows it, after checking the
    /// link's secret (`None`: an operator with table access, e.g. invctl).
    pub async fn review(
        &self,
        id: &str,
        secret: Option<&str>,
    ) -> Result<PurchaseOrderView, DecideError> {
        let item = self
            .item(id)
            .await?
            .ok_or_else(|| DecideError::Unknown(id.to_owned()))?;
        check_secret(id, &item, secret)?;
        let status = text(&item, po::STATUS).unwrap_or_default();
        let decision = text(&item, po::DECISION);
        Ok(PurchaseOrderView {
            undelivered: status == po::PENDING
                && decision.is_some()
                && item.contains_key(po::TASK_TOKEN),
            id: id.to_owned(),
            product_id: text(&item, po::PRODUCT_ID).unwrap_or_default(),
            product_name: text(&item, po::PRODUCT_NAME).unwrap_or_default(),
            order_quantity: text(&item, po::ORDER_QUANTITY).unwrap_or_default(),
            status,
            decision,
        })
    }

    /// Decides a pending purchase order once and completes its workflow task;
    /// repeating a recorded decision whose task was not completed completes it.
    pub async fn decide(
        &self,
        id: &str,
        decision: Decision,
        reason: Option<&str>,
        secret: Option<&str>,
    ) -> Result<(), DecideError> {
        let mut condition = "#status = :pending AND attribute_exists(#token) \
             AND (attribute_not_exists(#decision) OR #decision = :decision)"
            .to_owned();
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key(po::ID, AttributeValue::S(id.to_owned()))
            .expression_attribute_names("#status", po::STATUS)
            .expression_attribute_names("#decision", po::DECISION)
            .expression_attribute_names("#token", po::TASK_TOKEN)
            .expression_attribute_values(":pending", AttributeValue::S(po::PENDING.into()))
            .expression_attribute_values(":decision", AttributeValue::S(decision.as_str().into()))
            .return_values(ReturnValue::AllOld);
        if let Some(secret) = secret {
            condition.push_str(" AND #hash = :hash");
            update = update
                .expression_attribute_names("#hash", po::APPROVAL_SECRET_HASH)
                .expression_attribute_values(":hash", AttributeValue::S(secret_hash(secret)));
        }
        update = match reason.filter(|r| !r.trim().is_empty()) {
            Some(reason) => update
                .update_expression("SET #decision = :decision, #reason = :reason")
                .expression_attribute_names("#reason", po::DECISION_REASON)
                .expression_attribute_values(
                    ":reason",
                    AttributeValue::S(reason.trim().to_owned()),
                ),
            None => update.update_expression("SET #decision = :decision"),
        };
        let old = match update.condition_expression(condition).send().await {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                return Err(self.why_not_decidable(id, secret).await);
            }
            Err(e) => return Err(dynamo_error(e)),
        };
        let token = text(&old, po::TASK_TOKEN).unwrap_or_default();
        // Recorded before, by a try that did not reach the workflow.
        let repeated = old.contains_key(po::DECISION);
        let mut answer = serde_json::json!({ approval::DECISION: decision.as_str() });
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .or_else(|| text(&old, po::DECISION_REASON));
        if let Some(reason) = reason {
            answer[approval::REASON] = reason.into();
        }
        let sent = self
            .sfn
            .send_task_success()
            .task_token(&token)
            .output(answer.to_string())
            .send()
            .await;
        match sent {
            Ok(_) => {
                self.forget_token(id, &token).await;
                tracing::info!(purchase_order = id, decision = decision.as_str(), "decided");
                Ok(())
            }
            // A repeat that finds no task: the earlier try did complete it
            // after all (or a concurrent repeat did).
            Err(e)
                if repeated
                    && e.as_service_error()
                        .is_some_and(|s| s.is_task_does_not_exist() || s.is_invalid_token()) =>
            {
                self.forget_token(id, &token).await;
                Err(DecideError::AlreadyDecided {
                    id: id.to_owned(),
                    state: decision.as_str().to_owned(),
                })
            }
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_task_timed_out() || s.is_task_does_not_exist() || s.is_invalid_token()
                }) =>
            {
                self.forget_token(id, &token).await;
                Err(DecideError::Expired(id.to_owned()))
            }
            // Step Functions answered: the task was not completed.
            Err(e @ (SdkError::ServiceError(_) | SdkError::ConstructionFailure(_))) => {
                let message = aws_sdk_sfn::error::DisplayErrorContext(&e).to_string();
                self.withdraw(id, decision).await;
                Err(DecideError::Unavailable(message))
            }
            // No answer: it may have landed. Keep the decision and the token.
            Err(e) => {
                let why = aws_sdk_sfn::error::DisplayErrorContext(&e).to_string();
                tracing::warn!(purchase_order = id, error = %why, "decision recorded, delivery unconfirmed");
                Err(DecideError::Unconfirmed {
                    id: id.to_owned(),
                    why,
                })
            }
        }
    }

    /// Why the conditional write refused: reads the item to say which.
    async fn why_not_decidable(&self, id: &str, secret: Option<&str>) -> DecideError {
        let item = match self.item(id).await {
            Ok(Some(item)) => item,
            Ok(None) => return DecideError::Unknown(id.to_owned()),
            Err(e) => return e,
        };
        if let Err(wrong) = check_secret(id, &item, secret) {
            return wrong;
        }
        let status = text(&item, po::STATUS).unwrap_or_default();
        if let Some(decision) = text(&item, po::DECISION) {
            return DecideError::AlreadyDecided {
                id: id.to_owned(),
                state: decision,
            };
        }
        if status != po::PENDING {
            return DecideError::AlreadyDecided {
                id: id.to_owned(),
                state: status,
            };
        }
        DecideError::NotWaiting(id.to_owned())
    }

    /// The token has served; it should not outlive its use in the table.
    /// Only that token is removed: one stored since (a new wait of the same
    /// purchase order) is not this call's to forget.
    pub async fn forget_token(&self, id: &str, token: &str) {
        let result = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key(po::ID, AttributeValue::S(id.to_owned()))
            .update_expression("REMOVE #token")
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", po::TASK_TOKEN)
            .expression_attribute_values(":token", AttributeValue::S(token.to_owned()))
            .send()
            .await;
        if let Err(e) = result.as_ref().map_err(|e| e.as_service_error()) {
            if e.is_some_and(|e| e.is_conditional_check_failed_exception()) {
                return;
            }
        }
        if let Err(e) = result {
            tracing::warn!(purchase_order = id, error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "token not removed");
        }
    }

    async fn withdraw(&self, id: &str, decision: Decision) {
        let result = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key(po::ID, AttributeValue::S(id.to_owned()))
            .update_expression("REMOVE #decision, #reason")
            .condition_expression("#decision = :decision")
            .expression_attribute_names("#decision", po::DECISION)
            .expression_attribute_names("#reason", po::DECISION_REASON)
            .expression_attribute_values(":decision", AttributeValue::S(decision.as_str().into()))
            .send()
            .await;
        if let Err(e) = result {
            tracing::error!(purchase_order = id, error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "decision not withdrawn");
        }
    }
}
