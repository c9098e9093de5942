//! check-inventory-level (EXPRESS): react to one Inventory item as written.
//!
//! Input: the item's new image as plain JSON (`{id, name, stock, threshold,
//! status, minPOAmount, pendingPurchaseOrder?}`). Against the sample's flaws:
//! stock at or below zero (not only exactly zero) is marked OUT OF STOCK and
//! alerted, and no purchase order is requested while one is open for the
//! product, so a burst of stream records does not raise a burst of orders.
//!
//! Marking OUT OF STOCK also records that an alert is owed; the alert and
//! the purchase-order request clear it once both went out. If either fails,
//! the execution fails and the stream record is retried: its mark then finds
//! the item marked already, sees the debt, and sends them again, instead of
//! ending quietly with nobody told.

use serde_json::json;

use super::common::{events_and_alerts, inventory_read_update};
use crate::model::cfn::iam::Statement;

use super::common::{announce, input_checks, inventory_event, inventory_update, FieldKind};
use crate::model::asl::integrations::{dynamodb, sns, Attr};
use crate::model::asl::{Catcher, Choice, Condition, Fail, StateMachine, Succeed, Test};
use crate::stack::ids::placeholder::{self, reference};
use inventory_domain::{detail_type, inventory, purchase_reason};

/// What its role may do: read and mark the product, put events and alert.
pub fn permissions() -> Vec<Statement> {
    let mut statements = vec![inventory_read_update()];
    statements.extend(events_and_alerts());
    statements
}

pub fn definition() -> StateMachine {
    let pending = format!("$.{}", inventory::PENDING_PURCHASE_ORDER);
    let validate = input_checks(
        &[
            ("$.id", FieldKind::Text),
            ("$.name", FieldKind::Text),
            ("$.stock", FieldKind::Number),
            ("$.threshold", FieldKind::Number),
            ("$.status", FieldKind::Text),
        ],
        "InvalidProductRecord",
        "InvalidProductRecord",
    );

    let owed = format!("$.current.Item.{}", inventory::OUT_OF_STOCK_ALERT_OWED);
    let mark_out_of_stock = dynamodb::update_item(
        inventory_update("$.id", "SET #status = :outOfStock, #owed = :now")
            .condition(&format!(
                "#status = :inStock AND {} <= :zero",
                inventory::STOCK
            ))
            .name("#status", inventory::STATUS)
            .name("#owed", inventory::OUT_OF_STOCK_ALERT_OWED)
            .value(":outOfStock", Attr::s(inventory::OUT_OF_STOCK))
            .value(":inStock", Attr::s(inventory::IN_STOCK))
            .value(":zero", Attr::N(0))
            .value(":now", Attr::s_at("$$.State.EnteredTime")),
    )
    .result_path(None)
    .catch(Catcher::new(
        [dynamodb::CONDITIONAL_CHECK_FAILED],
        "$.markError",
        "ReadCurrentItem",
    ))
    .next("AlertOutOfStock");
    let clear_alert_owed = |next: &str| {
        dynamodb::update_item(
            inventory_update("$.id", "REMOVE #owed")
                .name("#owed", inventory::OUT_OF_STOCK_ALERT_OWED),
        )
        .result_path(None)
        .next(next)
    };
    let request_purchase_order = || {
        announce(vec![inventory_event(
            detail_type::CREATE_PURCHASE_ORDER,
            json!({
                "productId.$": "$.id",
                "requestedQuantity": 0,
                "reason": purchase_reason::BELOW_THRESHOLD
            }),
        )])
    };

    StateMachine::new("ValidateProductRecord")
        .comment("Check one Inventory item's stock level: mark and alert OUT OF STOCK, request a purchase order")
        .timeout_seconds(60)
        .state(
            "ValidateProductRecord",
            Choice::new(validate).default("CheckStockLevel"),
        )
        .state(
            "InvalidProductRecord",
            Fail::new(
                "CheckInventoryLevel.InvalidRecord",
                "The item needs id, name and status (strings) and stock and threshold (numbers)",
            ),
        )
        .state(
            "CheckStockLevel",
            Choice::new(vec![
                Condition::and(vec![
                    Condition::string_equals("$.status", inventory::IN_STOCK),
                    Condition::test("$.stock", Test::NumericLessThanEquals(0)),
                ])
                .then("MarkOutOfStock"),
                Condition::and(vec![
                    Condition::test("$.stock", Test::NumericLessThanEqualsPath("$.threshold".into())),
                    Condition::is_absent(&pending),
                ])
                .then("RequestPurchaseOrder"),
            ])
            .default("StockLevelHealthy"),
        )
        .state(
            "StockLevelHealthy",
            Succeed::new("Above threshold, or a purchase order is already open"),
        )
        .state("MarkOutOfStock", mark_out_of_stock)
        .state(
            "ReadCurrentItem",
            dynamodb::get_item(
                &reference(placeholder::INVENTORY_TABLE),
                crate::model::asl::integrations::item([(inventory::ID, Attr::s_at("$.id"))]),
            )
            .result_path(Some("$.current"))
            .next("CheckAlertOwed"),
        )
        .state(
            "CheckAlertOwed",
            Choice::new(vec![Condition::is_present(&owed).then("AlertOutOfStock")])
                .with_comment("Marked already: by an earlier try of this record whose alert or request failed, if the debt is still recorded")
                .default("AlreadyHandled"),
        )
        .state(
            "AlreadyHandled",
            Succeed::new("The item changed meanwhile or was marked and alerted already; its next record is checked anew"),
        )
        .state(
            "AlertOutOfStock",
            sns::publish(
                &reference(placeholder::ALERT_TOPIC),
                "Out of stock",
                "States.Format('Product {} ({}) is out of stock and was marked OUT OF STOCK.', $.name, $.id)",
            )
            .result_path(None)
            .next("CheckPurchaseOrderOpen"),
        )
        .state(
            "CheckPurchaseOrderOpen",
            // The item as read now, when it was read (a retried record is
            // old news), else the record itself.
            Choice::new(vec![
                Condition::is_present(&format!("$.current.Item.{}", inventory::PENDING_PURCHASE_ORDER))
                    .then("ClearAlertOwed"),
                Condition::is_present("$.current.Item").then("RequestRestock"),
                Condition::is_present(&pending).then("ClearAlertOwed"),
            ])
            .default("RequestRestock"),
        )
        .state("ClearAlertOwed", clear_alert_owed("PurchaseOrderAlreadyOpen"))
        .state(
            "PurchaseOrderAlreadyOpen",
            Succeed::new("A purchase order for the product is open already"),
        )
        .state("RequestRestock", request_purchase_order().next("ClearAlertOwedAfterRequest"))
        .state("ClearAlertOwedAfterRequest", clear_alert_owed("PurchaseOrderRequested"))
        .state("RequestPurchaseOrder", request_purchase_order().next("PurchaseOrderRequested"))
        .state("PurchaseOrderRequested", Succeed::new("create-purchase-order put on the bus"))
}
