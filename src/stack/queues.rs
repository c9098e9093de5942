//! The stack's queues that hold what could not be processed, and the way
//! each one's messages go back: a table that the template (one alarm per
//! queue) and `invctl redrive` both read.

use super::ids;

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
    /// Each message is an EventBridge event: it is put on the stack's bus again.
    Bus,
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
    way_back: WayBack::Bus,
};

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
            WayBack::Bus => format!(
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
