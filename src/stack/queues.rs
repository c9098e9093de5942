//! The stack's queues that hold what could not be processed, and the way
//! each one's messages go back: a table that the template (one alarm per
//! queue) and `invctl redrive` both read.

use super::ids;
use inventory_domain::{detail_type, source};

/// The events one rule of the stack routes: its pattern matches exactly
/// this source and detail-type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutedEvent {
    /// The rule's logical id.
    pub rule: &'static str,
    pub source: &'static str,
    pub detail_type: &'static str,
}

pub const NEW_ORDERS: RoutedEvent = RoutedEvent {
    rule: ids::NEW_ORDER_RULE,
    source: source::ORDERS,
    detail_type: detail_type::NEW_ORDER_RECEIVED,
};

pub const PURCHASE_ORDER_REQUESTS: RoutedEvent = RoutedEvent {
    rule: ids::CREATE_PURCHASE_ORDER_RULE,
    source: source::INVENTORY,
    detail_type: detail_type::CREATE_PURCHASE_ORDER,
};

/// A queue of the stack, found through its URL output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueRef {
    pub logical_id: &'static str,
    pub url_output: &'static str,
}

pub const ORDERS: QueueRef = QueueRef {
    logical_id: ids::ORDERS_QUEUE,
    url_output: ids::output::ORDERS_QUEUE_URL,
};

/// Where a dead-letter queue's messages can be sent to be processed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WayBack {
    /// SQS moves them back to the queue they came from (StartMessageMoveTask).
    SourceQueue(QueueRef),
    /// Each message is an EventBridge event that one of these rules failed
    /// to deliver: it is put on the stack's bus again if it is one of them
    /// (anything else in the queue was not put there by the stack's rules,
    /// and is not published with the operator's credentials).
    Bus(&'static [RoutedEvent]),
    /// Each message describes a batch of stream records, not the records:
    /// nothing can be replayed, only shown.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadLetterQueue {
    /// The name `invctl redrive` takes.
    pub name: &'static str,
    pub queue: QueueRef,
    /// What its messages are, for the alarm and the command's report.
    pub holds: &'static str,
    pub way_back: WayBack,
}

pub const ORDERS_DEAD_LETTERS: DeadLetterQueue = DeadLetterQueue {
    name: "orders",
    queue: QueueRef {
        logical_id: ids::ORDERS_DEAD_LETTER_QUEUE,
        url_output: ids::output::ORDERS_DEAD_LETTER_QUEUE_URL,
    },
    holds: "orders that failed reservation repeatedly",
    way_back: WayBack::SourceQueue(ORDERS),
};

pub const UNDELIVERED_EVENTS: DeadLetterQueue = DeadLetterQueue {
    name: "events",
    queue: QueueRef {
        logical_id: ids::EVENT_DELIVERY_DEAD_LETTER_QUEUE,
        url_output: ids::output::EVENT_DELIVERY_DEAD_LETTER_QUEUE_URL,
    },
    holds:
        "events EventBridge could not deliver to the orders queue or the purchase-order workflow",
    way_back: WayBack::Bus(UNDELIVERED_EVENTS_ROUTED),
};

/// The rules whose dead-letter queue is [`UNDELIVERED_EVENTS`].
pub const UNDELIVERED_EVENTS_ROUTED: &[RoutedEvent] = &[NEW_ORDERS, PURCHASE_ORDER_REQUESTS];

pub const STREAM_FAILURES: DeadLetterQueue = DeadLetterQueue {
    name: "stream-failures",
    queue: QueueRef {
        logical_id: ids::STREAM_FAILURE_QUEUE,
        url_output: ids::output::STREAM_FAILURE_QUEUE_URL,
    },
    holds: "inventory stream batches the stock-level check kept failing on",
    way_back: WayBack::None,
};

/// Every dead-letter queue, in the order `invctl redrive` works through them.
pub const DEAD_LETTER_QUEUES: [DeadLetterQueue; 3] =
    [ORDERS_DEAD_LETTERS, UNDELIVERED_EVENTS, STREAM_FAILURES];

impl DeadLetterQueue {
    /// What to do about its messages, as the alarm tells it.
    pub fn remedy(&self) -> String {
        match self.way_back {
            WayBack::SourceQueue(_) => format!(
                "fix the cause, then `invctl redrive {}` sends them back to be processed",
                self.name
            ),
            WayBack::Bus(_) => format!(
                "fix the cause, then `invctl redrive {}` puts them on the bus again",
                self.name
            ),
            WayBack::None => format!(
                "`invctl redrive {}` lists them; the products they touched are checked again on their next change",
                self.name
            ),
        }
    }
}
