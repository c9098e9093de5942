//! Logical ids, output names and placeholder names of the inventory stack.
//! Commands find the deployed resources through the outputs named here.

pub const EVENT_BUS: &str = "EventBus";
pub const ORDERS_QUEUE: &str = "OrdersQueue";
pub const ORDERS_DEAD_LETTER_QUEUE: &str = "OrdersDeadLetterQueue";
pub const EVENT_DELIVERY_DEAD_LETTER_QUEUE: &str = "EventDeliveryDeadLetterQueue";
pub const STREAM_FAILURE_QUEUE: &str = "InventoryStreamFailureQueue";
/// The event-delivery dead-letter queue's policy (once both queues' policy).
pub const QUEUE_POLICY: &str = "EventDeliveryQueuePolicy";
pub const ORDERS_QUEUE_POLICY: &str = "OrdersQueuePolicy";
pub const NEW_ORDER_RULE: &str = "NewOrderRule";
pub const CREATE_PURCHASE_ORDER_RULE: &str = "CreatePurchaseOrderRule";
pub const EVENTS_TO_WORKFLOW_ROLE: &str = "EventsToWorkflowRole";
pub const ALERT_TOPIC: &str = "AlertTopic";
pub const ALERT_TOPIC_KEY: &str = "AlertTopicKey";
pub const ALERT_SUBSCRIPTION: &str = "AlertEmailSubscription";
pub const APPROVAL_TOPIC: &str = "ApprovalTopic";
pub const APPROVAL_SUBSCRIPTION: &str = "ApprovalEmailSubscription";
pub const INVENTORY_TABLE: &str = "InventoryTable";
pub const RESERVATION_TABLE: &str = "ReservationTable";
pub const PURCHASE_ORDER_TABLE: &str = "PurchaseOrderTable";
pub const ORDER_GENERATOR_SCHEDULE: &str = "OrderGeneratorSchedule";
pub const SCHEDULER_ROLE: &str = "OrderGeneratorSchedulerRole";
pub const APPROVAL_FUNCTION_URL: &str = "ApprovalFunctionUrl";

/// Template parameters.
pub mod param {
    pub const NOTIFICATION_EMAIL: &str = "NotificationEmail";
    pub const ARTIFACT_BUCKET: &str = "ArtifactBucket";
}

/// `${Placeholder}` names used in the workflow definitions.
pub mod placeholder {
    pub const INVENTORY_TABLE: &str = "InventoryTableName";
    pub const RESERVATION_TABLE: &str = "ReservationTableName";
    pub const PURCHASE_ORDER_TABLE: &str = "PurchaseOrderTableName";
    pub const EVENT_BUS: &str = "EventBusName";
    pub const ALERT_TOPIC: &str = "AlertTopicArn";
    pub const PURCHASE_ORDER_EMAIL_FUNCTION: &str = "PurchaseOrderEmailFunctionArn";

    /// `${Name}`, as written inside a definition.
    pub fn reference(name: &str) -> String {
        format!("${{{name}}}")
    }
}

/// Stack outputs.
pub mod output {
    pub const EVENT_BUS_NAME: &str = "EventBusName";
    pub const EVENT_BUS_ARN: &str = "EventBusArn";
    pub const ORDERS_QUEUE_URL: &str = "OrdersQueueUrl";
    pub const ORDERS_DEAD_LETTER_QUEUE_URL: &str = "OrdersDeadLetterQueueUrl";
    pub const EVENT_DELIVERY_DEAD_LETTER_QUEUE_URL: &str = "EventDeliveryDeadLetterQueueUrl";
    pub const STREAM_FAILURE_QUEUE_URL: &str = "InventoryStreamFailureQueueUrl";
    pub const INVENTORY_TABLE_NAME: &str = "InventoryTableName";
    pub const RESERVATION_TABLE_NAME: &str = "ReservationTableName";
    pub const PURCHASE_ORDER_TABLE_NAME: &str = "PurchaseOrderTableName";
    pub const ALERT_TOPIC_ARN: &str = "AlertTopicArn";
    pub const APPROVAL_TOPIC_ARN: &str = "ApprovalTopicArn";
    pub const ORDER_GENERATOR_FUNCTION_NAME: &str = "OrderGeneratorFunctionName";
    pub const APPROVAL_FUNCTION_NAME: &str = "ApprovalFunctionName";
    pub const ORDER_GENERATOR_SCHEDULE_NAME: &str = "OrderGeneratorScheduleName";
}

/// A resource's ARN, for permissions.
pub fn arn(id: &str) -> crate::model::cfn::Val {
    crate::model::cfn::Val::get_att(id, "Arn")
}

/// The ARN a state machine will have, built from its name rather than a
/// reference, so roles can name it without a dependency cycle.
pub fn state_machine_arn(name_suffix: &str) -> crate::model::cfn::Val {
    crate::model::cfn::Val::sub(format!(
        "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:${{AWS::StackName}}-{name_suffix}"
    ))
}
