//! The workflows as state machines, each with its log group and a role
//! holding the grants its states need.

use super::parts::{service_role, workflow_log_group};
use crate::model::asl::WorkflowType;
use crate::model::cfn::iam::Statement;
use crate::model::cfn::resources::*;
use crate::model::cfn::{Template, Val};
use crate::stack::bindings::StackWorkflow;
use crate::stack::ids::arn;
use crate::stack::ids::{self};

/// What each workflow's role may do besides delivering its logs.
pub(super) fn state_machines(t: &mut Template, flows: &[StackWorkflow]) {
    for flow in flows {
        let log_group_id = flow.spec.log_group_id();
        let role_id = flow.spec.role_id();
        t.add(&log_group_id, workflow_log_group(flow.workflow.name));
        let mut statements = (flow.spec.permissions)();
        statements.extend(
            flow.spec
                .placeholders
                .iter()
                .filter(|p| p.is_function())
                .map(|p| {
                    Statement::allow(
                        ["lambda:InvokeFunction"],
                        vec![crate::stack::bindings::placeholder_binding(*p)],
                    )
                }),
        );
        // The CloudWatch Logs delivery API has no resource-level permissions:
        // AWS documents "*" as the only resource these actions accept.
        statements.push(Statement::allow(
            [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            vec![Val::lit("*")],
        ));
        t.add(
            &role_id,
            service_role(
                &format!("Runs the {} workflow", flow.workflow.name),
                "states.amazonaws.com",
                ids::state_machine_arn(flow.workflow.name),
                statements,
            ),
        );
        t.add(
            flow.logical_id,
            StateMachine {
                state_machine_name: Val::stack_scoped_name(flow.workflow.name),
                state_machine_type: flow.workflow.kind.as_str(),
                role_arn: arn(&role_id),
                definition_string: flow.workflow.definition_string(),
                logging_configuration: StateMachineLogging {
                    // EXPRESS executions keep no history: the log is all there is.
                    level: match flow.workflow.kind {
                        WorkflowType::Express => "ALL",
                        WorkflowType::Standard => "ERROR",
                    },
                    include_execution_data: false,
                    destinations: vec![LogDestination {
                        cloud_watch_logs_log_group: CloudWatchLogsLogGroup {
                            log_group_arn: arn(&log_group_id),
                        },
                    }],
                },
            },
        );
    }
}
