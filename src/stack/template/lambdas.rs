//! The functions: code from the artifact bucket, a role each with exactly
//! its grants, the approval Function URL and the order generator's schedule.

use indexmap::IndexMap;

use super::parts::{log_group, role, service_role};
use crate::model::cfn::iam::Statement;
use crate::model::cfn::resources::*;
use crate::model::cfn::{Template, Val};
use crate::stack::functions::{self, FunctionSpec};
use crate::stack::ids::arn;
use crate::stack::ids::{self, param};

fn function_environment(function: &FunctionSpec) -> IndexMap<String, Val> {
    (function.environment)()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

pub(super) fn lambda_functions(t: &mut Template, shape: crate::stack::shape::Shape) {
    for function in functions::ALL {
        let log_group_id = function.log_group_id();
        t.add(&log_group_id, log_group());
        let mut statements = vec![Statement::allow(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![arn(&log_group_id)],
        )];
        statements.extend((function.permissions)());
        t.add(
            &function.role_id(),
            role(
                &format!("Runs the {} function", function.package),
                "lambda.amazonaws.com",
                statements,
            ),
        );
        t.add(
            function.logical_id,
            Function {
                description: Some(function.description.to_owned()),
                runtime: "provided.al2023",
                handler: "bootstrap",
                architectures: vec![shape.architecture.as_str().to_owned()],
                code: FunctionCode {
                    s3_bucket: Val::r#ref(param::ARTIFACT_BUCKET),
                    s3_key: Val::r#ref(function.code_key_parameter()),
                },
                role: arn(&function.role_id()),
                memory_size: function.memory_mb,
                timeout: function.timeout_seconds,
                reserved_concurrent_executions: function
                    .reserved_concurrency
                    .filter(|_| shape.reserve_concurrency),
                environment: Some(Environment {
                    variables: function_environment(&function),
                }),
                logging_config: LoggingConfig {
                    log_format: "JSON",
                    log_group: Val::r#ref(&log_group_id),
                },
            },
        );
    }

    for function in functions::ALL {
        if let Some(event_source) = function.event_source {
            let (logical_id, mapping) = event_source();
            t.add(logical_id, mapping);
        }
    }

    t.add(
        ids::APPROVAL_FUNCTION_URL,
        FunctionUrl {
            target_function_arn: arn(functions::APPROVAL.logical_id),
            // Email links cannot carry SigV4; the function itself checks the
            // purchase order's one-time secret and acts on POST only.
            auth_type: "NONE",
        },
    );
    t.add(
        "ApprovalFunctionUrlPermission",
        Permission {
            action: "lambda:InvokeFunctionUrl",
            function_name: Val::r#ref(functions::APPROVAL.logical_id),
            principal: "*",
            function_url_auth_type: Some("NONE"),
            invoked_via_function_url: None,
            source_arn: None,
        },
    );
    t.add(
        "ApprovalFunctionInvokePermission",
        Permission {
            action: "lambda:InvokeFunction",
            function_name: Val::r#ref(functions::APPROVAL.logical_id),
            principal: "*",
            function_url_auth_type: None,
            // Public invocation only through the URL, never the Invoke API.
            invoked_via_function_url: Some(true),
            source_arn: None,
        },
    );

    t.add(
        ids::SCHEDULER_ROLE,
        service_role(
            "Lets EventBridge Scheduler run the order generator",
            "scheduler.amazonaws.com",
            // The schedule's group is the source Scheduler names.
            Val::sub(
                "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule-group/default",
            ),
            vec![Statement::allow(
                ["lambda:InvokeFunction"],
                vec![arn(functions::ORDER_GENERATOR.logical_id)],
            )],
        ),
    );
    t.add(
        ids::ORDER_GENERATOR_SCHEDULE,
        Schedule {
            name: Val::stack_scoped_name(crate::stack::scoped_name::ORDER_GENERATOR_SCHEDULE),
            description: Some(
                "Generates one order a minute; off until `invctl schedule on`".to_owned(),
            ),
            schedule_expression: "rate(1 minute)".to_owned(),
            state: "DISABLED",
            flexible_time_window: FlexibleTimeWindow { mode: "OFF" },
            target: ScheduleTarget {
                arn: arn(functions::ORDER_GENERATOR.logical_id),
                role_arn: arn(ids::SCHEDULER_ROLE),
                retry_policy: ScheduleRetryPolicy {
                    maximum_event_age_in_seconds: 60,
                    maximum_retry_attempts: 0,
                },
            },
        },
    );
}
