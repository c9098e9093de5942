//! The stack's three workflows and the CloudFormation values their
//! `${Placeholder}`s are bound to.

mod check_inventory_level;
mod common;
mod create_purchase_order;
mod reserve_stock;

use crate::model::asl::{StateMachine, WorkflowType};
use crate::model::cfn::iam::Statement;
use crate::stack::ids::placeholder;

pub use common::MAX_BACK_OFF_SECONDS;
pub use create_purchase_order::APPROVAL_TIMEOUT_SECONDS;
pub use reserve_stock::MAX_RESERVATION_ATTEMPTS;

/// The stack's workflows: a closed set, so a table entry missing for one is
/// a compile error, not a panic at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum WorkflowId {
    ReserveStock,
    CreatePurchaseOrder,
    CheckInventoryLevel,
}

/// Everything about one workflow that the template, the driving commands,
/// the local cloud and the tests need; nothing names a workflow elsewhere.
#[derive(Debug)]
pub struct WorkflowSpec {
    pub id: WorkflowId,
    /// The state machine's logical id.
    pub logical_id: &'static str,
    /// The file stem under `asl/` and the state machine's name suffix.
    pub name: &'static str,
    pub kind: WorkflowType,
    /// The `${Placeholder}`s its definition uses, bound by the template.
    pub placeholders: &'static [Placeholder],
    /// What its role may do besides writing its logs.
    pub permissions: fn() -> Vec<Statement>,
    /// The output naming the state machine (its ARN), and its description.
    pub output: (&'static str, &'static str),
    /// The output naming its log group, and its description.
    pub log_output: (&'static str, &'static str),
    /// Its last states and the outcome each stands for (for `watch`).
    pub outcomes: &'static [(&'static str, &'static str)],
}

impl WorkflowId {
    pub const ALL: [WorkflowId; 3] = [
        WorkflowId::ReserveStock,
        WorkflowId::CreatePurchaseOrder,
        WorkflowId::CheckInventoryLevel,
    ];

    pub const fn spec(self) -> &'static WorkflowSpec {
        match self {
            WorkflowId::ReserveStock => &RESERVE_STOCK,
            WorkflowId::CreatePurchaseOrder => &CREATE_PURCHASE_ORDER,
            WorkflowId::CheckInventoryLevel => &CHECK_INVENTORY_LEVEL,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    pub fn definition(self) -> StateMachine {
        match self {
            WorkflowId::ReserveStock => reserve_stock::definition(),
            WorkflowId::CreatePurchaseOrder => create_purchase_order::definition(),
            WorkflowId::CheckInventoryLevel => check_inventory_level::definition(),
        }
    }
}

pub const RESERVE_STOCK: WorkflowSpec = WorkflowSpec {
    id: WorkflowId::ReserveStock,
    logical_id: "ReserveStockStateMachine",
    name: "reserve-stock",
    kind: WorkflowType::Express,
    placeholders: &[
        Placeholder::InventoryTable,
        Placeholder::ReservationTable,
        Placeholder::EventBus,
        Placeholder::AlertTopic,
    ],
    permissions: reserve_stock::permissions,
    output: (
        "ReserveStockStateMachineArn",
        "reserve-stock workflow (EXPRESS)",
    ),
    log_output: (
        "ReserveStockLogGroupName",
        "Log of the reserve-stock workflow (its only execution record)",
    ),
    outcomes: &[
        ("OrderReserved", "reserved"),
        ("OrderRejected", "rejected"),
        ("OrderUnavailable", "unavailable"),
    ],
};

pub const CREATE_PURCHASE_ORDER: WorkflowSpec = WorkflowSpec {
    id: WorkflowId::CreatePurchaseOrder,
    logical_id: "CreatePurchaseOrderStateMachine",
    name: "create-purchase-order",
    kind: WorkflowType::Standard,
    placeholders: &[
        Placeholder::InventoryTable,
        Placeholder::PurchaseOrderTable,
        Placeholder::EventBus,
        Placeholder::AlertTopic,
        Placeholder::PurchaseOrderEmailFunction,
    ],
    permissions: create_purchase_order::permissions,
    output: (
        "CreatePurchaseOrderStateMachineArn",
        "create-purchase-order workflow (STANDARD)",
    ),
    log_output: (
        "CreatePurchaseOrderLogGroupName",
        "Log of the create-purchase-order workflow",
    ),
    outcomes: &[],
};

pub const CHECK_INVENTORY_LEVEL: WorkflowSpec = WorkflowSpec {
    id: WorkflowId::CheckInventoryLevel,
    logical_id: "CheckInventoryLevelStateMachine",
    name: "check-inventory-level",
    kind: WorkflowType::Express,
    placeholders: &[
        Placeholder::InventoryTable,
        Placeholder::EventBus,
        Placeholder::AlertTopic,
    ],
    permissions: check_inventory_level::permissions,
    output: (
        "CheckInventoryLevelStateMachineArn",
        "check-inventory-level workflow (EXPRESS)",
    ),
    log_output: (
        "CheckInventoryLevelLogGroupName",
        "Log of the check-inventory-level workflow (its only execution record)",
    ),
    outcomes: &[],
};

impl WorkflowSpec {
    /// The logical id of its log group.
    pub fn log_group_id(&self) -> String {
        format!("{}LogGroup", self.logical_id)
    }

    pub fn role_id(&self) -> String {
        format!("{}Role", self.logical_id)
    }

    /// The outcome its last state `state` stands for, if it names one.
    pub fn outcome_of(&self, state: &str) -> Option<&'static str> {
        self.outcomes
            .iter()
            .find(|(name, _)| *name == state)
            .map(|(_, outcome)| *outcome)
    }
}

/// A `${Placeholder}` of a definition and the stack value the template
/// binds it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    InventoryTable,
    ReservationTable,
    PurchaseOrderTable,
    EventBus,
    AlertTopic,
    PurchaseOrderEmailFunction,
}

impl Placeholder {
    pub const ALL: [Placeholder; 6] = [
        Placeholder::InventoryTable,
        Placeholder::ReservationTable,
        Placeholder::PurchaseOrderTable,
        Placeholder::EventBus,
        Placeholder::AlertTopic,
        Placeholder::PurchaseOrderEmailFunction,
    ];

    /// Its name, as `${Name}` in a definition.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::InventoryTable => placeholder::INVENTORY_TABLE,
            Placeholder::ReservationTable => placeholder::RESERVATION_TABLE,
            Placeholder::PurchaseOrderTable => placeholder::PURCHASE_ORDER_TABLE,
            Placeholder::EventBus => placeholder::EVENT_BUS,
            Placeholder::AlertTopic => placeholder::ALERT_TOPIC,
            Placeholder::PurchaseOrderEmailFunction => placeholder::PURCHASE_ORDER_EMAIL_FUNCTION,
        }
    }

    /// Whether it names a function the workflow invokes (its role is then
    /// granted lambda:InvokeFunction on it).
    pub fn is_function(self) -> bool {
        matches!(self, Placeholder::PurchaseOrderEmailFunction)
    }
}
