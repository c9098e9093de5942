//! The stack's Lambda functions: which crate under `lambdas/` each is built
//! from and how it runs.

/// One function of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionSpec {
    pub logical_id: &'static str,
    /// The package under `lambdas/` whose binary becomes `bootstrap`.
    pub package: &'static str,
    pub description: &'static str,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    /// Concurrency set aside for (and capping) the function, if any.
    pub reserved_concurrency: Option<u32>,
}

impl FunctionSpec {
    /// The template parameter that carries the S3 key of the function's zip,
    /// so new code changes a parameter, not the template.
    pub fn code_key_parameter(&self) -> String {
        format!("{}CodeKey", self.logical_id)
    }

    pub fn log_group_id(&self) -> String {
        format!("{}LogGroup", self.logical_id)
    }

    pub fn role_id(&self) -> String {
        format!("{}Role", self.logical_id)
    }
}

pub const ORDER_GENERATOR: FunctionSpec = FunctionSpec {
    logical_id: "OrderGeneratorFunction",
    package: "order-generator",
    description: "Puts a new-order-received event for a random in-stock product",
    timeout_seconds: 10,
    memory_mb: 128,
    reserved_concurrency: None,
};

pub const RESERVE_STOCK: FunctionSpec = FunctionSpec {
    logical_id: "ReserveStockFunction",
    package: "reserve-stock",
    description: "Runs the reserve-stock workflow for each queued order; reports failed items only",
    // Long enough for a batch of executions that each retry a contended reservation.
    timeout_seconds: 90,
    memory_mb: 128,
    reserved_concurrency: None,
};

pub const INVENTORY_STREAM: FunctionSpec = FunctionSpec {
    logical_id: "InventoryStreamFunction",
    package: "inventory-stream",
    description: "Runs the check-inventory-level workflow for each changed IN STOCK item",
    timeout_seconds: 90,
    memory_mb: 128,
    reserved_concurrency: None,
};

pub const PURCHASE_ORDER_EMAIL: FunctionSpec = FunctionSpec {
    logical_id: "PurchaseOrderEmailFunction",
    package: "purchase-order-email",
    description: "Emails the approval request of a purchase order",
    timeout_seconds: 15,
    memory_mb: 128,
    reserved_concurrency: None,
};

pub const APPROVAL: FunctionSpec = FunctionSpec {
    logical_id: "ApprovalFunction",
    package: "approval",
    description: "Confirms and records an approver's decision on a purchase order (Function URL)",
    timeout_seconds: 15,
    memory_mb: 128,
    // Its URL is public: a flood of requests must not take the account's
    // whole Lambda concurrency from every other function. A person
    // approving a purchase order needs one at a time; the rest wait a moment
    // (HTTP 429) and try again.
    reserved_concurrency: Some(2),
};

/// Every function, in template order.
pub const ALL: [FunctionSpec; 5] = [
    ORDER_GENERATOR,
    RESERVE_STOCK,
    INVENTORY_STREAM,
    PURCHASE_ORDER_EMAIL,
    APPROVAL,
];
