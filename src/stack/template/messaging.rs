//! The bus, the queues and topics, and the rules that route events between
//! them, with the queue policies that let the rules deliver.

use super::parts::{pattern, service_role, FOURTEEN_DAYS};
use crate::model::cfn::iam::{PolicyDocument, Principal, Statement};
use crate::model::cfn::resources::*;
use crate::model::cfn::{Template, Val};
use crate::stack::functions::{self};
use crate::stack::ids::arn;
use crate::stack::ids::{self, param};
use crate::stack::queues;
use crate::stack::workflows;

pub(super) fn messaging(t: &mut Template) {
    t.add(
        ids::EVENT_BUS,
        EventBus {
            name: Val::stack_scoped_name(crate::stack::scoped_name::EVENT_BUS),
            description: Some("Orders and inventory events of this stack".to_owned()),
        },
    );
    let encrypted_queue = |retention: u32, redrive: Option<RedrivePolicy>, visibility| Queue {
        message_retention_period: Some(retention),
        visibility_timeout: visibility,
        redrive_policy: redrive,
        sqs_managed_sse_enabled: true,
    };
    t.add(
        ids::ORDERS_DEAD_LETTER_QUEUE,
        encrypted_queue(FOURTEEN_DAYS, None, None),
    );
    t.add(
        ids::ORDERS_QUEUE,
        encrypted_queue(
            FOURTEEN_DAYS,
            Some(RedrivePolicy {
                dead_letter_target_arn: arn(ids::ORDERS_DEAD_LETTER_QUEUE),
                max_receive_count: 5,
            }),
            // AWS's advice for Lambda consumers: six times the function timeout.
            Some(6 * functions::RESERVE_STOCK.timeout_seconds),
        ),
    );
    t.add(
        ids::EVENT_DELIVERY_DEAD_LETTER_QUEUE,
        encrypted_queue(FOURTEEN_DAYS, None, None),
    );
    t.add(
        ids::STREAM_FAILURE_QUEUE,
        encrypted_queue(FOURTEEN_DAYS, None, None),
    );
    // CloudWatch alarms cannot publish to a topic under the AWS managed
    // key (its policy is not ours to change), so the alert topic, which the
    // dead-letter alarms notify, has a key of its own.
    t.add(
        ids::ALERT_TOPIC_KEY,
        Key {
            description: "Encrypts the alert topic; lets CloudWatch alarms publish to it"
                .to_owned(),
            enable_key_rotation: true,
            key_policy: PolicyDocument::new(vec![
                // The account administers the key, and IAM policies grant its use.
                Statement::allow(["kms:*"], vec![Val::lit("*")])
                    .sid("AccountAdministers")
                    .principal(Principal::Aws(Val::sub(
                        "arn:${AWS::Partition}:iam::${AWS::AccountId}:root",
                    ))),
                Statement::allow(["kms:Decrypt", "kms:GenerateDataKey"], vec![Val::lit("*")])
                    .sid("CloudWatchAlarmsPublish")
                    .principal(Principal::Service(vec![
                        "cloudwatch.amazonaws.com".to_owned()
                    ]))
                    .condition(
                        "StringEquals",
                        "aws:SourceAccount",
                        Val::sub("${AWS::AccountId}"),
                    ),
            ]),
        },
    );
    for (topic, subscription, display_name, key) in [
        (
            ids::ALERT_TOPIC,
            ids::ALERT_SUBSCRIPTION,
            "Inventory alerts",
            Val::r#ref(ids::ALERT_TOPIC_KEY),
        ),
        (
            ids::APPROVAL_TOPIC,
            ids::APPROVAL_SUBSCRIPTION,
            "Purchase order approvals",
            Val::lit("alias/aws/sns"),
        ),
    ] {
        t.add(
            topic,
            Topic {
                display_name: Some(display_name.to_owned()),
                kms_master_key_id: key,
            },
        );
        t.add(
            subscription,
            Subscription {
                topic_arn: Val::r#ref(topic),
                protocol: "email",
                endpoint: Val::r#ref(param::NOTIFICATION_EMAIL),
            },
        );
    }
}

pub(super) fn routing(t: &mut Template) {
    let delivery_retry = || TargetRetryPolicy {
        maximum_event_age_in_seconds: 3600,
        maximum_retry_attempts: 10,
    };
    let dead_letters = || {
        Some(DeadLetterConfig {
            arn: arn(ids::EVENT_DELIVERY_DEAD_LETTER_QUEUE),
        })
    };
    t.add(
        queues::NEW_ORDERS.rule,
        Rule {
            description: Some("Queues every new order for reservation".to_owned()),
            event_bus_name: Val::get_att(ids::EVENT_BUS, "Name"),
            event_pattern: pattern(&queues::NEW_ORDERS),
            state: "ENABLED",
            targets: vec![RuleTarget {
                id: "orders-queue".to_owned(),
                arn: arn(ids::ORDERS_QUEUE),
                role_arn: None,
                input_path: Some("$.detail".to_owned()),
                dead_letter_config: dead_letters(),
                retry_policy: Some(delivery_retry()),
            }],
        },
    );
    t.add(
        ids::EVENTS_TO_WORKFLOW_ROLE,
        service_role(
            "Lets the create-purchase-order rule start its workflow",
            "events.amazonaws.com",
            // The rules of this stack's bus (naming the rule itself would
            // be a cycle: it names the role).
            Val::sub(format!(
                "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/${{AWS::StackName}}-{}/*",
                crate::stack::scoped_name::EVENT_BUS
            )),
            vec![Statement::allow(
                ["states:StartExecution"],
                vec![Val::r#ref(workflows::CREATE_PURCHASE_ORDER.logical_id)],
            )],
        ),
    );
    t.add(
        queues::PURCHASE_ORDER_REQUESTS.rule,
        Rule {
            description: Some("Starts a purchase order workflow per request".to_owned()),
            event_bus_name: Val::get_att(ids::EVENT_BUS, "Name"),
            event_pattern: pattern(&queues::PURCHASE_ORDER_REQUESTS),
            state: "ENABLED",
            targets: vec![RuleTarget {
                id: "create-purchase-order".to_owned(),
                arn: Val::r#ref(workflows::CREATE_PURCHASE_ORDER.logical_id),
                role_arn: Some(arn(ids::EVENTS_TO_WORKFLOW_ROLE)),
                input_path: Some("$.detail".to_owned()),
                dead_letter_config: dead_letters(),
                retry_policy: Some(delivery_retry()),
            }],
        },
    );

    let events_may_send = |queue: &str, rule: &str, sid: &str| {
        Statement::allow(["sqs:SendMessage"], vec![arn(queue)])
            .sid(sid)
            .principal(Principal::Service(vec!["events.amazonaws.com".to_owned()]))
            .condition("ArnEquals", "aws:SourceArn", arn(rule))
    };
    // One policy per queue, each with its own statements only. The
    // dead-letter queue's keeps the logical id the single policy had, and
    // the orders queue's comes after it: on an update from that single
    // policy, it is narrowed first and the new one set second, so no step
    // clears the policy another has just set.
    t.add(
        ids::QUEUE_POLICY,
        QueuePolicy {
            queues: vec![Val::r#ref(ids::EVENT_DELIVERY_DEAD_LETTER_QUEUE)],
            policy_document: PolicyDocument::new(vec![
                events_may_send(
                    ids::EVENT_DELIVERY_DEAD_LETTER_QUEUE,
                    ids::NEW_ORDER_RULE,
                    "UndeliveredNewOrders",
                ),
                events_may_send(
                    ids::EVENT_DELIVERY_DEAD_LETTER_QUEUE,
                    ids::CREATE_PURCHASE_ORDER_RULE,
                    "UndeliveredPurchaseOrderRequests",
                ),
            ]),
        },
    );
    t.add(
        ids::ORDERS_QUEUE_POLICY,
        QueuePolicy {
            queues: vec![Val::r#ref(ids::ORDERS_QUEUE)],
            policy_document: PolicyDocument::new(vec![events_may_send(
                ids::ORDERS_QUEUE,
                ids::NEW_ORDER_RULE,
                "NewOrders",
            )]),
        },
    )
    .depends_on(ids::QUEUE_POLICY);
}
