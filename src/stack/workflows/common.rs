//! Pieces the three workflows share.

use serde_json::{json, Value as Json};

use crate::model::asl::integrations::{events, Attr, EventEntry, TransactItem, Update};
use crate::model::asl::{Condition, Pass, StateMachine, Task, Test, Wait};
use crate::model::cfn::iam::Statement;
use crate::model::cfn::Val;
use crate::stack::ids::{self, placeholder};
use inventory_domain::source;

/// The JSON type a field of a workflow's input must have.
#[derive(Clone, Copy, Debug)]
pub enum FieldKind {
    /// A string that is not empty.
    Text,
    Number,
}

/// Choice rules that send input with a missing or mistyped field to
/// `on_missing` / `on_wrong_type`. Presence is tested first, and on its own:
/// AWS raises a runtime error when a comparison names a path that is absent.
pub fn input_checks(
    fields: &[(&str, FieldKind)],
    on_missing: &str,
    on_wrong_type: &str,
) -> Vec<crate::model::asl::ChoiceRule> {
    let missing = fields
        .iter()
        .map(|(path, _)| Condition::is_absent(path))
        .collect();
    let wrong_type = fields
        .iter()
        .flat_map(|&(path, kind)| match kind {
            FieldKind::Text => vec![
                Condition::test(path, Test::IsString(false)),
                Condition::string_equals(path, ""),
            ],
            FieldKind::Number => vec![Condition::test(path, Test::IsNumeric(false))],
        })
        .collect::<Vec<_>>();
    vec![
        Condition::or(missing).then(on_missing),
        // Safe once presence is known: a comparison on a value of another
        // type is false, not an error.
        Condition::or(wrong_type).then(on_wrong_type),
    ]
}

/// A Pass state that records why the input was refused at `$.rejection`.
pub fn rejection(reason: &str, next: &str) -> Pass {
    Pass::result(json!({ "reason": reason }), "$.rejection").next(next)
}

/// One `com.inventory` event on the stack's bus.
pub fn inventory_event(detail_type: &str, detail: Json) -> EventEntry {
    EventEntry {
        event_bus_name: placeholder::reference(placeholder::EVENT_BUS),
        source: source::INVENTORY.to_owned(),
        detail_type: detail_type.to_owned(),
        detail,
    }
}

/// Puts events whose result is of no further use.
pub fn announce(entries: Vec<EventEntry>) -> Task {
    events::put_events(entries).result_path(None)
}

/// A TransactWriteItems `Update` on the Inventory table's item `product_path`.
pub fn inventory_update(product_path: &str, expression: &str) -> Update {
    Update::new(
        &placeholder::reference(placeholder::INVENTORY_TABLE),
        crate::model::asl::integrations::item([("id", Attr::s_at(product_path))]),
        expression,
    )
}

/// Shorthand for wrapping an update in a transaction item.
pub fn tx(update: Update) -> TransactItem {
    TransactItem::Update(update)
}

/// The longest wait of [`back_off`] between two attempts.
pub const MAX_BACK_OFF_SECONDS: i64 = 6;

/// The states of a bounded back-off before `retry_state` runs again, for a
/// write that lost a race with a concurrent transaction: `names` are the
/// three states (compute the delay, wait, count the attempt), entered at the
/// first; the attempt count lives at `attempts` (`{"count": n}`, 1-based).
/// The wait before attempt n + 1 is a random whole number of seconds from 1
/// up to 2^n, at most [`MAX_BACK_OFF_SECONDS`] ("full jitter", capped), so
/// executions that collided once do not collide again in step, and every
/// attempt fits in an EXPRESS workflow's minute.
pub fn back_off(
    machine: StateMachine,
    names: [&str; 3],
    attempts: &str,
    max_attempts: i64,
    retry_state: &str,
    why: &str,
) -> StateMachine {
    let [delay, wait, count] = names;
    let ends: Vec<String> = (0..max_attempts)
        .map(|attempt| {
            2_i64
                .pow(attempt as u32)
                .min(MAX_BACK_OFF_SECONDS)
                .to_string()
        })
        .collect();
    let delay_expression = format!(
        "States.MathRandom(1, States.ArrayGetItem(States.Array({}), {attempts}.count))",
        ends.join(", ")
    );
    machine
        .state(
            delay,
            Pass::parameters(
                json!({"count.$": format!("{attempts}.count"), "delaySeconds.$": delay_expression}),
                attempts,
            )
            .with_comment(why)
            .next(wait),
        )
        .state(
            wait,
            Wait::for_seconds_at(&format!("{attempts}.delaySeconds")).next(count),
        )
        .state(
            count,
            Pass::parameters(
                json!({"count.$": format!("States.MathAdd({attempts}.count, 1)")}),
                attempts,
            )
            .next(retry_state),
        )
}

pub(super) use crate::stack::ids::arn;

/// Reading a product and changing its stock or status.
pub(super) fn inventory_read_update() -> Statement {
    Statement::allow(
        ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        vec![arn(ids::INVENTORY_TABLE)],
    )
}

/// What every workflow may do: put events on the bus and alert (the alert
/// topic has a key of its own, which publishing needs too).
pub(super) fn events_and_alerts() -> Vec<Statement> {
    vec![
        Statement::allow(["events:PutEvents"], vec![arn(ids::EVENT_BUS)]),
        Statement::allow(["sns:Publish"], vec![Val::r#ref(ids::ALERT_TOPIC)]),
        Statement::allow(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            vec![arn(ids::ALERT_TOPIC_KEY)],
        ),
    ]
}
