//! Alarms on the first message a dead-letter queue holds and on the first
//! failed execution of a workflow, sent to the alert topic.

use crate::model::cfn::resources::*;
use crate::model::cfn::{Template, Val};
use crate::stack::bindings::StackWorkflow;
use crate::stack::ids::{self};
use crate::stack::queues;

/// One alarm per dead-letter queue: anything there needs a person, so the
/// first message raises an alert (and its draining says so).
pub(super) fn dead_letter_alarms(t: &mut Template) {
    for dead_letters in queues::DEAD_LETTER_QUEUES {
        let queue = dead_letters.queue.logical_id;
        t.add(
            &format!("{queue}Alarm"),
            alarm_on_first(
                format!(
                    "Messages are waiting in {queue}, which holds {}: {}",
                    dead_letters.holds,
                    dead_letters.remedy()
                ),
                ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
                Dimension {
                    name: "QueueName",
                    value: Val::get_att(queue, "QueueName"),
                },
            ),
        );
    }
}

/// An alarm that alerts on the first data point above zero in a minute,
/// and again when it is back to zero. No data points is healthy: an idle
/// queue sends none, and neither does a function or workflow that did not run.
fn alarm_on_first(
    description: String,
    (namespace, metric_name, statistic): (&'static str, &'static str, &'static str),
    dimension: Dimension,
) -> Alarm {
    Alarm {
        alarm_description: description,
        namespace,
        metric_name,
        dimensions: vec![dimension],
        statistic,
        period: 60,
        evaluation_periods: 1,
        threshold: 0.0,
        comparison_operator: "GreaterThanThreshold",
        treat_missing_data: "notBreaching",
        alarm_actions: vec![Val::r#ref(ids::ALERT_TOPIC)],
        ok_actions: vec![Val::r#ref(ids::ALERT_TOPIC)],
    }
}

/// One alarm per function on `Errors` and per workflow on
/// `ExecutionsFailed`: a failure that no retry absorbed is never silent.
pub(super) fn failure_alarms(t: &mut Template, flows: &[StackWorkflow]) {
    for function in crate::stack::functions::ALL {
        let id = function.logical_id;
        t.add(
            &format!("{id}ErrorsAlarm"),
            alarm_on_first(
                format!("{id} failed: its log group says why"),
                ("AWS/Lambda", "Errors", "Sum"),
                Dimension {
                    name: "FunctionName",
                    value: Val::r#ref(id),
                },
            ),
        );
    }
    for flow in flows {
        let id = flow.spec.logical_id;
        t.add(
            &format!("{id}FailedAlarm"),
            alarm_on_first(
                format!(
                    "An execution of the {} workflow failed: `invctl executions --workflow {} --status failed` shows which and why",
                    flow.spec.name, flow.spec.name
                ),
                ("AWS/States", "ExecutionsFailed", "Sum"),
                Dimension {
                    name: "StateMachineArn",
                    value: Val::r#ref(id),
                },
            ),
        );
    }
}
