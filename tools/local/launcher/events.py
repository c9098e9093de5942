"""EventBridge: rule targets get what their InputPath selects, Step
Functions targets run, and each delivery goes through the target's role or
the resource's policy (denied ones to the target's dead-letter queue)."""

import copy
import json
import uuid

from launcher import iam
from launcher.activity import say
from launcher.faults import FAULTS
from launcher.guard import IAM, judge


def _select(event, path):
    """The part of `event` an InputPath names ($, $.a.b)."""
    if not path or path == "$":
        return event
    value = event
    for key in path[2:].split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def rule_targets(args):
    """Rules deliver what a target's InputPath selects, and a Step Functions
    target starts an execution (events/models.py:153-159 applies only
    InputTransformer; :201-202 raises NotImplementedError for anything but
    logs, archives, SQS and buses, which fails PutEvents with HTTP 500)."""
    from moto.events.models import Rule
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        if not self.event_pattern.matches_event(original_event):
            return
        for target in self.targets:
            fault = FAULTS.pick("deliver:rule", self.name) if FAULTS.rules else None
            # `duplicate`: EventBridge delivers at least once, so sometimes twice.
            for _ in range(2 if fault and fault["error"] == "duplicate" else 1):
                deliver_to_target(self, target, original_event, transform_input)

    def deliver_to_target(self, target, original_event, transform_input):
        arn = parse_arn(target["Arn"])
        denied = delivery_denied(self, target) if IAM["mode"] != "off" else None
        if denied:
            say("failure", f"iam: {'denied' if IAM['mode'] == 'enforce' else 'would deny (audit)'} "
                                 f"delivery of {self.name} to {target['Arn']}: {denied}")
            if IAM["mode"] == "enforce":
                # A missing permission is not retried: the event goes
                # straight to the target's dead-letter queue, if it has one.
                dead_letter(self, target, original_event, denied)
                return
        selected = _select(original_event, target.get("InputPath"))
        if arn.service == "states":
            backend = stepfunctions_parser_backends[arn.account][arn.region]
            backend.start_execution(
                target["Arn"], str(uuid.uuid4()), json.dumps(selected, default=str)
            )
            return
        if arn.service == "sqs" and target.get("InputPath") and not target.get("InputTransformer"):
            group_id = target.get("SqsParameters", {}).get("MessageGroupId")
            self._send_to_sqs_queue(arn.resource_id, selected, group_id)
            return
        single = copy.copy(self)
        single.targets = [target]
        original(single, original_event, transform_input)

    Rule.send_to_targets = send_to_targets


_TARGET_ACTIONS = {"sqs": "sqs:SendMessage", "states": "states:StartExecution",
                   "lambda": "lambda:InvokeFunction", "sns": "sns:Publish", "events": "events:PutEvents"}


def delivery_denied(rule, target):
    """Why EventBridge may not reach `target` for `rule`, or None:
    through the target's role (its trust policy must let EventBridge assume
    it for this rule, its policies allow the action), or else through the
    resource's own policy (a queue policy for events.amazonaws.com, with
    its aws:SourceArn condition)."""
    arn = target["Arn"]
    service = arn.split(":")[2]
    action = _TARGET_ACTIONS.get(service, f"{service}:*")
    account = rule.account_id
    context = {"aws:SourceArn": rule.arn, "aws:SourceAccount": account}
    events = {"service": "events.amazonaws.com"}
    role_arn = target.get("RoleArn")
    if role_arn:
        from moto.iam.models import iam_backends

        try:
            role = iam_backends[account]["aws"].get_role(role_arn.rsplit("/", 1)[-1])
        except Exception:
            return f"its role {role_arn} does not exist"
        if iam.decide([role.assume_role_policy_document], "sts:AssumeRole", role_arn, context, events) != "allow":
            return f"the trust policy of {role_arn} does not let events.amazonaws.com assume it for {rule.arn}"
        denied = judge(iam.Principal(account, role_arn, rule.name), [iam.Request(action, arn)])
        return denied and denied[1]
    policy = iam.queue_policy(arn) if service == "sqs" else None
    if policy and iam.decide([policy], action, arn, context, events) == "allow":
        return None
    return (f"no resource-based policy of {arn} allows events.amazonaws.com to perform: {action} "
            f"for {rule.arn}")


def dead_letter(rule, target, event, why):
    """The event to the target's dead-letter queue, as EventBridge sends an
    undeliverable one: the event as the body, what failed as attributes."""
    from moto.sqs.models import sqs_backends

    queue = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue:
        say("failure", f"event dropped: {rule.name} has no dead-letter queue for {target['Arn']}")
        return
    if delivery_denied(rule, {"Arn": queue}):
        say("failure", f"event dropped: {rule.name} may not send to its dead-letter queue {queue}")
        return
    _, _, _, region, account, name = queue.split(":", 5)
    attributes = {key: {"DataType": "String", "StringValue": value} for key, value in {
        "RULE_ARN": rule.arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": "NO_PERMISSIONS",
        "ERROR_MESSAGE": why}.items()}
    sqs_backends[account][region].send_message(
        queue_name=name, message_body=json.dumps(event, default=str), message_attributes=attributes)
    say("failure", f"event to {name}: {rule.name} could not reach {target['Arn']}")
