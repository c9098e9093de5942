//! create-purchase-order (STANDARD): open a purchase order, wait for a human
//! decision, and apply it.
//!
//! Against the sample's flaws: opening is a transaction that also marks the
//! product's `pendingPurchaseOrder`, so at most one purchase order per product
//! is open; the callback keeps the order (ResultPath) and has a deadline;
//! approvers answer with SendTaskSuccess for both decisions, so approve and
//! reject each reach their own branch; every way out releases the product's
//! marker and records the purchase order's final status.

use serde_json::json;

use super::{arn, events_and_alerts, inventory_read_update};
use crate::model::cfn::iam::Statement;
use crate::stack::ids;

use super::common::{announce, input_checks, inventory_event, inventory_update, tx, FieldKind};
use crate::model::asl::integrations::{
    dynamodb, errors, item, lambda, sns, Attr, Put, TransactItem, Update,
};
use crate::model::asl::{
    Catcher, Choice, Condition, Fail, Pass, StateMachine, Succeed, Task, Test,
};
use crate::stack::ids::placeholder::{self, reference};
use inventory_domain::{approval, detail_type, inventory, purchase_order, MAX_ORDER_QUANTITY};

/// How long a purchase order waits for its approver.
pub const APPROVAL_TIMEOUT_SECONDS: u32 = 24 * 60 * 60;

const PURCHASE_ORDER_ID: &str = "$$.Execution.Name";

fn purchase_order_update(expression: &str) -> Update {
    Update::new(
        &reference(placeholder::PURCHASE_ORDER_TABLE),
        item([(purchase_order::ID, Attr::s_at(PURCHASE_ORDER_ID))]),
        expression,
    )
}

/// Ends a pending purchase order with `status`: the product's marker is
/// released and the status recorded in one transaction. With
/// `receive_stock`, the ordered units are added and the product is back IN STOCK.
fn close_purchase_order(status: &str, receive_stock: bool) -> Task {
    let inventory_change = if receive_stock {
        inventory_update(
            "$.productId",
            &format!(
                "SET {stock} = {stock} + :received, #status = :inStock REMOVE {pending}",
                stock = inventory::STOCK,
                pending = inventory::PENDING_PURCHASE_ORDER
            ),
        )
        .name("#status", inventory::STATUS)
        .value(":received", Attr::n_at("$.purchaseOrder.orderQuantity"))
        .value(":inStock", Attr::s(inventory::IN_STOCK))
    } else {
        inventory_update(
            "$.productId",
            &format!("REMOVE {}", inventory::PENDING_PURCHASE_ORDER),
        )
    };
    dynamodb::transact_write_items(vec![
        tx(inventory_change
            .condition(&format!("{} = :po", inventory::PENDING_PURCHASE_ORDER))
            .value(":po", Attr::s_at(PURCHASE_ORDER_ID))),
        tx(purchase_order_update(&format!(
            "SET #status = :status, {} = :now",
            purchase_order::DECIDED_AT
        ))
        .condition("#status = :pending")
        .name("#status", purchase_order::STATUS)
        .value(":status", Attr::s(status))
        .value(":pending", Attr::s(purchase_order::PENDING))
        .value(":now", Attr::s_at("$$.State.EnteredTime"))),
    ])
    .result_path(None)
}

fn purchase_order_event(detail_type: &str) -> Task {
    announce(vec![inventory_event(
        detail_type,
        json!({
            "purchaseOrderId.$": PURCHASE_ORDER_ID,
            "productId.$": "$.productId",
            "orderQuantity.$": "$.purchaseOrder.orderQuantity"
        }),
    )])
}

/// What its role may do: mark and restock the product, record the purchase
/// order, put events and alert (invoking the email function is granted by
/// the template from its placeholder).
pub fn permissions() -> Vec<Statement> {
    let mut statements = vec![
        inventory_read_update(),
        Statement::allow(
            ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            vec![arn(ids::PURCHASE_ORDER_TABLE)],
        ),
    ];
    statements.extend(events_and_alerts());
    statements
}

pub fn definition() -> StateMachine {
    let inventory_table = reference(placeholder::INVENTORY_TABLE);

    let mut validate = input_checks(
        &[
            ("$.productId", FieldKind::Text),
            ("$.requestedQuantity", FieldKind::Number),
            ("$.reason", FieldKind::Text),
        ],
        "InvalidRequest",
        "InvalidRequest",
    );
    validate.push(
        Condition::test("$.requestedQuantity", Test::NumericLessThan(0)).then("InvalidRequest"),
    );
    // Anything can be put on the bus: no purchase order, and no email, for
    // a quantity no order could have asked for.
    validate.push(
        Condition::test(
            "$.requestedQuantity",
            Test::NumericGreaterThan(MAX_ORDER_QUANTITY.into()),
        )
        .then("RequestTooLarge"),
    );

    let open = dynamodb::transact_write_items(vec![
        tx(inventory_update(
            "$.productId",
            &format!("SET {} = :po", inventory::PENDING_PURCHASE_ORDER),
        )
        .condition(&format!(
            "attribute_exists({}) AND attribute_not_exists({})",
            inventory::ID,
            inventory::PENDING_PURCHASE_ORDER
        ))
        .value(":po", Attr::s_at(PURCHASE_ORDER_ID))),
        TransactItem::Put(Put::create_only(
            &reference(placeholder::PURCHASE_ORDER_TABLE),
            item([
                (purchase_order::ID, Attr::s_at(PURCHASE_ORDER_ID)),
                (purchase_order::PRODUCT_ID, Attr::s_at("$.productId")),
                (
                    purchase_order::REQUESTED_QUANTITY,
                    Attr::n_at("$.requestedQuantity"),
                ),
                (
                    purchase_order::ORDER_QUANTITY,
                    Attr::n_at("$.purchaseOrder.orderQuantity"),
                ),
                (purchase_order::STATUS, Attr::s(purchase_order::PENDING)),
                (purchase_order::REASON, Attr::s_at("$.reason")),
                (
                    purchase_order::CREATED_AT,
                    Attr::s_at("$$.State.EnteredTime"),
                ),
                (purchase_order::EXECUTION_ARN, Attr::s_at("$$.Execution.Id")),
            ]),
            purchase_order::ID,
        )),
    ])
    .with_comment("Open the purchase order only if the product has none open")
    .result_path(None)
    .catch(Catcher::new(
        [dynamodb::TRANSACTION_CANCELED],
        "$.openError",
        "PurchaseOrderAlreadyOpen",
    ))
    .next("RequestApproval");

    let request_approval = lambda::invoke_wait_for_task_token(
        &reference(placeholder::PURCHASE_ORDER_EMAIL_FUNCTION),
        json!({
            "purchaseOrderId.$": PURCHASE_ORDER_ID,
            "productId.$": "$.productId",
            "productName.$": "$.purchaseOrder.productName",
            "requestedQuantity.$": "$.requestedQuantity",
            "orderQuantity.$": "$.purchaseOrder.orderQuantity"
        }),
    )
    .with_comment(
        "Email the approver and wait for the decision (SendTaskSuccess with {decision, reason})",
    )
    .timeout_seconds(APPROVAL_TIMEOUT_SECONDS)
    .result_path(Some("$.approval"))
    .catch(Catcher::new(
        [errors::TIMEOUT],
        "$.error",
        "ExpirePurchaseOrder",
    ))
    .catch(Catcher::new(
        [errors::ALL],
        "$.error",
        "ReleaseFailedPurchaseOrder",
    ))
    .next("CheckDecision");

    let decision = format!("$.approval.{}", approval::DECISION);

    StateMachine::new("ValidateRequest")
        .comment("Open a purchase order for a create-purchase-order event and apply the approver's decision")
        .timeout_seconds(APPROVAL_TIMEOUT_SECONDS + 60 * 60)
        .state("ValidateRequest", Choice::new(validate).default("LookUpProduct"))
        .state(
            "InvalidRequest",
            Fail::new(
                "PurchaseOrder.InvalidRequest",
                "The create-purchase-order event needs productId (string), requestedQuantity (number >= 0) and reason (string)",
            ),
        )
        .state(
            "RequestTooLarge",
            Fail::new(
                "PurchaseOrder.QuantityTooLarge",
                &format!("requestedQuantity must be at most {MAX_ORDER_QUANTITY}: no purchase order was opened"),
            ),
        )
        .state(
            "LookUpProduct",
            dynamodb::get_item(&inventory_table, item([(inventory::ID, Attr::s_at("$.productId"))]))
                .result_path(Some("$.lookup"))
                .next("CheckProductExists"),
        )
        .state(
            "CheckProductExists",
            Choice::new(vec![Condition::is_absent("$.lookup.Item").then("UnknownProduct")])
                .default("ComputeOrderQuantity"),
        )
        .state(
            "UnknownProduct",
            Fail::new(
                "PurchaseOrder.UnknownProduct",
                "The create-purchase-order event names no product in the inventory",
            ),
        )
        .state(
            "ComputeOrderQuantity",
            Pass::parameters(
                json!({
                    "productName.$": "$.lookup.Item.name.S",
                    "orderQuantity.$": "States.MathAdd($.requestedQuantity, States.StringToJson($.lookup.Item.minPOAmount.N))"
                }),
                "$.purchaseOrder",
            )
            .with_comment("Approval adds the requested units plus the product's minPOAmount")
            .next("OpenPurchaseOrder"),
        )
        .state("OpenPurchaseOrder", open)
        .state(
            "PurchaseOrderAlreadyOpen",
            Succeed::new("The product already has an open purchase order; nothing to do"),
        )
        .state("RequestApproval", request_approval)
        .state(
            "CheckDecision",
            Choice::new(vec![
                Condition::is_absent(&decision).then("UnreadableDecision"),
                Condition::string_equals(&decision, approval::APPROVED).then("ReceiveStock"),
                Condition::string_equals(&decision, approval::REJECTED).then("CloseRejectedPurchaseOrder"),
            ])
            .default("UnreadableDecision"),
        )
        .state(
            "ReceiveStock",
            close_purchase_order(purchase_order::APPROVED, true).next("AnnouncePurchaseOrderApproved"),
        )
        .state(
            "AnnouncePurchaseOrderApproved",
            purchase_order_event(detail_type::PURCHASE_ORDER_APPROVED).next("PurchaseOrderApproved"),
        )
        .state("PurchaseOrderApproved", Succeed::new("Approved: stock received, product IN STOCK"))
        .state(
            "CloseRejectedPurchaseOrder",
            close_purchase_order(purchase_order::REJECTED, false).next("AnnouncePurchaseOrderRejected"),
        )
        .state(
            "AnnouncePurchaseOrderRejected",
            purchase_order_event(detail_type::PURCHASE_ORDER_REJECTED).next("PurchaseOrderRejected"),
        )
        .state("PurchaseOrderRejected", Succeed::new("Rejected by the approver: no stock added"))
        .state(
            "ExpirePurchaseOrder",
            close_purchase_order(purchase_order::EXPIRED, false).next("AnnouncePurchaseOrderExpired"),
        )
        .state(
            "AnnouncePurchaseOrderExpired",
            purchase_order_event(detail_type::PURCHASE_ORDER_EXPIRED).next("AlertPurchaseOrderExpired"),
        )
        .state(
            "AlertPurchaseOrderExpired",
            sns::publish(
                &reference(placeholder::ALERT_TOPIC),
                "Purchase order expired",
                "States.Format('Purchase order {} for {} units of product {} got no decision in time and was closed.', $$.Execution.Name, $.purchaseOrder.orderQuantity, $.productId)",
            )
            .result_path(None)
            .next("PurchaseOrderExpired"),
        )
        .state("PurchaseOrderExpired", Succeed::new("No decision before the deadline: closed, alerted"))
        .state(
            "UnreadableDecision",
            Pass::result(
                json!({"Error": "PurchaseOrder.UnreadableDecision", "Cause": "The approval carried no decision of APPROVED or REJECTED"}),
                "$.error",
            )
            .next("ReleaseFailedPurchaseOrder"),
        )
        .state(
            "ReleaseFailedPurchaseOrder",
            close_purchase_order(purchase_order::FAILED, false)
                .catch(Catcher::new([errors::ALL], "$.releaseError", "PurchaseOrderFailed"))
                .next("PurchaseOrderFailed"),
        )
        .state(
            "PurchaseOrderFailed",
            Fail::new(
                "PurchaseOrder.Failed",
                "The approval step failed; the purchase order was closed as FAILED and the product released",
            ),
        )
}
