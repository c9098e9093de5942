//! The review page behind the Function URL.
//!
//! GET shows the purchase order and two buttons; only POST decides, because
//! mail scanners and link previews fetch GET links on their own. Both the id
//! and the one-time secret must match before anything is shown or decided;
//! an unknown purchase order and a wrong secret get the same answer, so the
//! page tells a guesser nothing, and no AWS error text reaches a visitor.

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use serde::Serialize;

use crate::decide::{DecideError, Decider, Decision, PurchaseOrderView};

const PAGE_TEMPLATE: &str = include_str!("../../../templates/approval-page.html.tera");

/// The page's own inline style is all it uses.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What both an unknown purchase order and a wrong secret are told.
const INVALID_LINK: &str =
    "This link is not valid. Use the link from the most recent email about the purchase order, as it is.";

/// What a page shows.
#[derive(Serialize)]
pub struct Page<'a> {
    pub title: &'a str,
    pub message: String,
    pub purchase_order: Option<PurchaseOrderView>,
    /// Show the approve form.
    pub offer_approve: bool,
    /// Show the reject form.
    pub offer_reject: bool,
    /// Carried in the forms' hidden fields.
    pub secret: &'a str,
}

/// A request's form fields: the query string of a GET, the body of a POST.
fn fields(pairs: &[u8]) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(pairs).into_owned().collect()
}

fn body_bytes(request: &LambdaFunctionUrlRequest) -> Result<Vec<u8>, ()> {
    let body = request.body.as_deref().unwrap_or_default();
    if request.is_base64_encoded {
        aws_smithy_types::base64::decode(body).map_err(|_| ())
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// Renders `page` with `status`.
pub fn respond(status: i64, page: Page<'_>) -> LambdaFunctionUrlResponse {
    let body = tera::Context::from_serialize(page)
        .and_then(|c| tera::Tera::one_off(PAGE_TEMPLATE, &c, true))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "page not rendered");
            "The page could not be shown.".to_owned()
        });
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    // The URL holds the secret: never send it on as a Referer.
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // Never inside another site's frame (a click-jacked Approve), nothing
    // loaded from elsewhere, forms posted only back here.
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(body);
    response
}

fn message_page(status: i64, title: &str, message: String) -> LambdaFunctionUrlResponse {
    respond(
        status,
        Page {
            title,
            message,
            purchase_order: None,
            offer_approve: false,
            offer_reject: false,
            secret: "",
        },
    )
}

fn error_page(error: &DecideError) -> LambdaFunctionUrlResponse {
    let (status, message) = match error {
        DecideError::Unknown(_) | DecideError::WrongSecret(_) => (404, INVALID_LINK.to_owned()),
        DecideError::AlreadyDecided { .. } => (409, error.to_string()),
        DecideError::NotWaiting(_) => (503, error.to_string()),
        DecideError::Unavailable(detail) => {
            // The detail is for the operator's log, not for an anonymous visitor.
            tracing::error!(error = %detail, "decision not recorded");
            (
                503,
                "The decision could not be recorded just now; nothing was decided. Try again in a minute.".to_owned(),
            )
        }
        DecideError::Expired(_) => (410, error.to_string()),
        DecideError::Unconfirmed { why, .. } => {
            tracing::warn!(error = %why, "decision recorded, delivery unconfirmed");
            (
                503,
                "Your decision is recorded, but it could not be confirmed with the purchase order just now. Open the link again in a minute and press the same button to complete it.".to_owned(),
            )
        }
    };
    message_page(status, "Purchase order", message)
}

pub async fn handle(
    decider: &Decider,
    request: LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    let method = request
        .request_context
        .http
        .method
        .clone()
        .unwrap_or_default();
    let form = match method.as_str() {
        "GET" => fields(
            request
                .raw_query_string
                .as_deref()
                .unwrap_or_default()
                .as_bytes(),
        ),
        "POST" => match body_bytes(&request) {
            Ok(bytes) => fields(&bytes),
            Err(()) => {
                return message_page(400, "Bad request", "The form could not be read.".into())
            }
        },
        _ => {
            let mut response = message_page(
                405,
                "Not allowed",
                format!("{method} is not supported here."),
            );
            response
                .headers
                .insert("allow", HeaderValue::from_static("GET, POST"));
            return response;
        }
    };
    let (Some(id), Some(secret)) = (form.get("po"), form.get("secret")) else {
        return message_page(400, "Incomplete link", "The link lacks the purchase order or its secret; use the link from the email as it is.".into());
    };
    if method == "GET" {
        return match decider.review(id, Some(secret)).await {
            Ok(view) => {
                let undecided = view.status == inventory_domain::purchase_order::PENDING
                    && view.decision.is_none();
                let recorded = view.decision.as_deref();
                let (message, offer_approve, offer_reject) = if undecided {
                    ("Approve to order the units below, or reject. Nothing is decided until you press a button.".to_owned(), true, true)
                } else if view.undelivered {
                    (
                        format!(
                            "Your decision ({}) was recorded but has not reached the purchase order yet. Press the button again to complete it.",
                            recorded.unwrap_or_default()
                        ),
                        recorded == Some(Decision::Approve.as_str()),
                        recorded == Some(Decision::Reject.as_str()),
                    )
                } else if view.status == inventory_domain::purchase_order::EXPIRED {
                    // A decision recorded in time that never reached the
                    // workflow did not count: say what happened.
                    (
                        match recorded {
                            Some(decision) => format!("This purchase order expired before the decision ({decision}) reached it: nothing was ordered, and it can no longer be decided."),
                            None => "This purchase order expired without a decision: nothing was ordered, and it can no longer be decided.".to_owned(),
                        },
                        false,
                        false,
                    )
                } else {
                    // The workflow's own outcome once it has one; the
                    // recorded decision while it is on its way.
                    let state = if view.status == inventory_domain::purchase_order::PENDING {
                        recorded.unwrap_or(&view.status)
                    } else {
                        &view.status
                    };
                    (
                        format!("This purchase order is {state} and can no longer be decided."),
                        false,
                        false,
                    )
                };
                respond(
                    200,
                    Page {
                        title: "Purchase order approval",
                        message,
                        purchase_order: Some(view),
                        offer_approve,
                        offer_reject,
                        secret,
                    },
                )
            }
            Err(error) => error_page(&error),
        };
    }
    let decision = match form.get("decision").map(String::as_str) {
        Some("approve") => Decision::Approve,
        Some("reject") => Decision::Reject,
        _ => {
            return message_page(
                400,
                "Bad request",
                "The form must say approve or reject.".into(),
            )
        }
    };
    let reason = form
        .get("reason")
        .map(|r| r.chars().take(500).collect::<String>());
    match decider
        .decide(id, decision, reason.as_deref(), Some(secret))
        .await
    {
        Ok(()) => {
            let done = match decision {
                Decision::Approve => {
                    "Approved: the stock will be received and the product is back in stock."
                }
                Decision::Reject => "Rejected: no stock will be ordered.",
            };
            message_page(
                200,
                "Decision recorded",
                format!("Purchase order {id}: {done}"),
            )
        }
        Err(error) => error_page(&error),
    }
}
