//! Physical names the template derives from the stack name, as
//! `{stack}-{suffix}`, each with the longest name its service accepts.
//! The longest stack name invctl takes is what every one of them allows.

use crate::stack::workflows::WorkflowId;

pub const EVENT_BUS: &str = "inventory";
pub const ORDER_GENERATOR_SCHEDULE: &str = "order-generator";

/// Step Functions' limit on a state machine's name.
const STATE_MACHINE_LIMIT: usize = 80;

/// (suffix, the service's limit on the whole name), the workflows' from
/// their table.
pub fn limits() -> Vec<(&'static str, usize)> {
    let mut limits = vec![
        (EVENT_BUS, 256),               // EventBridge event bus
        (ORDER_GENERATOR_SCHEDULE, 64), // EventBridge Scheduler schedule
    ];
    limits.extend(
        WorkflowId::ALL
            .iter()
            .map(|workflow| (workflow.spec().name, STATE_MACHINE_LIMIT)),
    );
    limits
}

/// CloudFormation's own limit on a stack name.
const CLOUDFORMATION_LIMIT: usize = 128;

/// The longest stack name whose derived names all fit.
pub const MAX_STACK_NAME_LEN: usize = {
    let fixed = [(EVENT_BUS, 256), (ORDER_GENERATOR_SCHEDULE, 64)];
    let mut max = CLOUDFORMATION_LIMIT;
    let mut i = 0;
    while i < fixed.len() {
        let (suffix, limit) = fixed[i];
        // `{stack}-{suffix}`: the hyphen counts too.
        let room = limit - suffix.len() - 1;
        if room < max {
            max = room;
        }
        i += 1;
    }
    let mut i = 0;
    while i < WorkflowId::ALL.len() {
        let room = STATE_MACHINE_LIMIT - WorkflowId::ALL[i].spec().name.len() - 1;
        if room < max {
            max = room;
        }
        i += 1;
    }
    max
};
