//! The stack's three workflows and the CloudFormation values their
//! `${Placeholder}`s are bound to.

mod check_inventory_level;
mod common;
mod create_purchase_order;
mod reserve_stock;

use indexmap::IndexMap;

use crate::model::asl::{Workflow, WorkflowType};
use crate::model::cfn::Val;
use crate::stack::ids::{self, placeholder};

pub use create_purchase_order::APPROVAL_TIMEOUT_SECONDS;
pub use reserve_stock::MAX_RESERVATION_ATTEMPTS;

/// Logical ids of the state machines, in the order of [`all`].
pub const RESERVE_STOCK: &str = "ReserveStockStateMachine";
pub const CREATE_PURCHASE_ORDER: &str = "CreatePurchaseOrderStateMachine";
pub const CHECK_INVENTORY_LEVEL: &str = "CheckInventoryLevelStateMachine";

/// Workflow names: file stems under `asl/` and state-machine name suffixes.
pub const RESERVE_STOCK_NAME: &str = "reserve-stock";
pub const CREATE_PURCHASE_ORDER_NAME: &str = "create-purchase-order";
pub const CHECK_INVENTORY_LEVEL_NAME: &str = "check-inventory-level";

/// The logical id of a state machine's log group.
pub fn log_group_id(state_machine: &str) -> String {
    format!("{state_machine}LogGroup")
}

fn binding(name: &str) -> (String, Val) {
    let value = match name {
        placeholder::INVENTORY_TABLE => Val::r#ref(ids::INVENTORY_TABLE),
        placeholder::RESERVATION_TABLE => Val::r#ref(ids::RESERVATION_TABLE),
        placeholder::PURCHASE_ORDER_TABLE => Val::r#ref(ids::PURCHASE_ORDER_TABLE),
        placeholder::EVENT_BUS => Val::get_att(ids::EVENT_BUS, "Name"),
        placeholder::ALERT_TOPIC => Val::r#ref(ids::ALERT_TOPIC),
        placeholder::PURCHASE_ORDER_EMAIL_FUNCTION => Val::get_att(
            crate::stack::functions::PURCHASE_ORDER_EMAIL.logical_id,
            "Arn",
        ),
        other => unreachable!("no binding is defined for placeholder {other}"),
    };
    (name.to_owned(), value)
}

fn bindings(names: &[&str]) -> IndexMap<String, Val> {
    names.iter().map(|name| binding(name)).collect()
}

/// A deployed workflow: its definition plus the state machine's logical id.
#[derive(Clone, Debug)]
pub struct StackWorkflow {
    pub logical_id: &'static str,
    pub workflow: Workflow,
}

/// The three workflows, in a fixed order.
pub fn all() -> Vec<StackWorkflow> {
    vec![
        StackWorkflow {
            logical_id: RESERVE_STOCK,
            workflow: Workflow {
                name: RESERVE_STOCK_NAME,
                kind: WorkflowType::Express,
                definition: reserve_stock::definition(),
                bindings: bindings(&[
                    placeholder::INVENTORY_TABLE,
                    placeholder::RESERVATION_TABLE,
                    placeholder::EVENT_BUS,
                    placeholder::ALERT_TOPIC,
                ]),
            },
        },
        StackWorkflow {
            logical_id: CREATE_PURCHASE_ORDER,
            workflow: Workflow {
                name: CREATE_PURCHASE_ORDER_NAME,
                kind: WorkflowType::Standard,
                definition: create_purchase_order::definition(),
                bindings: bindings(&[
                    placeholder::INVENTORY_TABLE,
                    placeholder::PURCHASE_ORDER_TABLE,
                    placeholder::EVENT_BUS,
                    placeholder::ALERT_TOPIC,
                    placeholder::PURCHASE_ORDER_EMAIL_FUNCTION,
                ]),
            },
        },
        StackWorkflow {
            logical_id: CHECK_INVENTORY_LEVEL,
            workflow: Workflow {
                name: CHECK_INVENTORY_LEVEL_NAME,
                kind: WorkflowType::Express,
                definition: check_inventory_level::definition(),
                bindings: bindings(&[
                    placeholder::INVENTORY_TABLE,
                    placeholder::EVENT_BUS,
                    placeholder::ALERT_TOPIC,
                ]),
            },
        },
    ]
}
