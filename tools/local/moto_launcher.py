"""The local cloud's data plane: moto, pinned, with the gaps this stack hits
closed, served on one loopback port.

invctl starts it from the project's venv (`invctl local up`); the tests start
it the same way. Each patch below names the place in moto it corrects (paths
relative to site-packages/moto, lines of 5.2.5) and has a test in
tests/local_patches.rs that fails without it; `--without NAME` leaves one
out, which is how those tests show the gap is real.

Usage: moto_launcher.py --port PORT [--host 127.0.0.1] [--plane URL]
                        [--without PATCH]... [--time-scale N]
  --plane URL       invctl's execution plane: Lambda invocations, Function
                    URLs and mail go there.
  --time-scale N    workflow timeouts and waits pass N times faster.
"""

import argparse
import contextlib
import copy
import json
import os
import sys
import threading
import uuid
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iam  # noqa: E402  (beside this file)

MOTO_VERSION = "5.2.5"


# ------------------------------------------------------------------ patches
# Each takes the parsed arguments and changes moto in this process.


def cfn_state_machines(args):
    """CloudFormation state machines are executable, with their type and
    logging (stepfunctions/models.py:277-292 writes them to the plain store,
    which the interpreter never reads, and drops StateMachineType and
    LoggingConfiguration)."""
    from moto.stepfunctions import models
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    def logging_configuration(properties):
        config = properties.get("LoggingConfiguration")
        if not config:
            return None
        return {
            "level": config.get("Level", "OFF"),
            "includeExecutionData": bool(config.get("IncludeExecutionData", False)),
            "destinations": [
                {
                    "cloudWatchLogsLogGroup": {
                        "logGroupArn": d.get("CloudWatchLogsLogGroup", {}).get(
                            "LogGroupArn"
                        )
                    }
                }
                for d in config.get("Destinations", [])
            ],
        }

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = stepfunctions_parser_backends[account_id][region_name]
        return backend.create_state_machine(
            name=properties.get("StateMachineName", resource_name),
            definition=properties.get("DefinitionString", ""),
            roleArn=properties.get("RoleArn", ""),
            tags=models.cfn_to_api_tags(properties.get("Tags", [])),
            loggingConfiguration=logging_configuration(properties),
            sm_type=properties.get("StateMachineType", "STANDARD"),
        )

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        backend = stepfunctions_parser_backends[account_id][region_name]
        machine = backend.update_state_machine(
            original_resource.arn,
            definition=properties.get("DefinitionString"),
            role_arn=properties.get("RoleArn"),
            logging_configuration=logging_configuration(properties),
        )
        return machine or backend.describe_state_machine(original_resource.arn)

    def delete(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = stepfunctions_parser_backends[account_id][region_name]
        name = cloudformation_json["Properties"].get("StateMachineName", resource_name)
        arn = f"arn:aws:states:{region_name}:{account_id}:stateMachine:{name}"
        backend.delete_state_machine(arn)

    models.StateMachine.create_from_cloudformation_json = classmethod(create)
    models.StateMachine.update_from_cloudformation_json = classmethod(update)
    models.StateMachine.delete_from_cloudformation_json = classmethod(delete)


def fn_sub_keeps_dollars(args):
    """Fn::Sub with a variable map replaces only `${Name}`, as CloudFormation
    does (cloudformation/parsing.py:192-197 uses Python's string.Template,
    which also turns `$$` into `$`: a workflow's `$$.Execution.Name`
    becomes `$.Execution.Name` and fails at run time)."""
    import types

    from moto.cloudformation import parsing

    class Template:
        def __init__(self, template):
            self.template = template

        def safe_substitute(self, **mapping):
            text = self.template
            for name, value in mapping.items():
                text = text.replace("${" + name + "}", value)
            return text

    parsing.string = types.SimpleNamespace(Template=Template)


def event_bus_physical_id(args):
    """AWS::Events::EventBus has its name as physical id, so Ref and stack
    outputs work (events/models.py:378 defines none; Ref then resolves to the
    Python object, cloudformation/parsing.py:133-136)."""
    from moto.events.models import EventBus

    EventBus.physical_resource_id = property(lambda self: self.name)


def outputs_after_change_set(args):
    """Executing a change set updates the stack's outputs and parameters, as
    CreateStack/UpdateStack do (cloudformation/models.py:1144-1176 applies
    only the resources; outputs are built at :451 and :595)."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name),
            None,
        )
        original(self, change_set_name, stack_name)
        if change_set is not None:
            stack = self.stacks[change_set.stack_id]
            stack._parse_template()
            stack.output_map = stack._create_output_map()
            if change_set.parameters:
                stack.parameters = change_set.parameters

    CloudFormationBackend.execute_change_set = execute_change_set


def start_sync_execution(args):
    """StartSyncExecution for EXPRESS state machines: run inline, answer
    with the outcome (stepfunctions/responses.py has no handler; the
    interpreter's SyncExecution, parser/backend/execution.py:306-350, does
    the work)."""
    import datetime

    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.backend.execution import SyncExecution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    def backend_start_sync(self, state_machine_arn, name=None, execution_input=None):
        state_machine = self.describe_state_machine(state_machine_arn)
        clone = copy.deepcopy(
            state_machine,
            {id(state_machine.executions): [], id(state_machine.backend): state_machine.backend},
        )
        name = name or str(uuid.uuid4())
        # An EXPRESS execution's ARN, as AWS gives it: express:MACHINE:NAME:RUN.
        exec_arn = f"arn:aws:states:{self.region_name}:{self.account_id}:express:{state_machine.name}:{name}:{uuid.uuid4()}"
        execution = SyncExecution(
            name=name,
            sm_type=clone.sm_type,
            role_arn=clone.roleArn,
            exec_arn=exec_arn,
            account_id=self.account_id,
            region_name=self.region_name,
            state_machine=clone,
            start_date=datetime.datetime.now(tz=datetime.timezone.utc),
            cloud_watch_logging_session=_logging_session(clone, exec_arn),
            input_data=execution_input or "{}",
            trace_header=None,
            activity_store={},
        )
        execution.start()
        return execution

    def respond(self):
        execution = self.stepfunction_backend.start_sync_execution(
            self._get_param("stateMachineArn"),
            self._get_param("name"),
            self._get_param("input", if_none="{}"),
        )
        return ActionResult(execution.to_start_sync_execution_output())

    StepFunctionsParserBackend.start_sync_execution = backend_start_sync
    StepFunctionResponse.start_sync_execution = respond


def _logging_session(state_machine, execution_arn):
    """The interpreter's logging session for a state machine's logging
    configuration, or None when it logs nothing."""
    from moto.stepfunctions.parser.asl.eval.event.logging import (
        CloudWatchLoggingConfiguration,
        CloudWatchLoggingSession,
    )

    config = getattr(state_machine, "loggingConfiguration", None)
    if not config:
        return None
    configuration = CloudWatchLoggingConfiguration.from_logging_configuration(
        state_machine_arn=state_machine.arn, logging_configuration=config
    )
    if configuration is None:
        return None
    return CloudWatchLoggingSession(execution_arn=execution_arn, configuration=configuration)


def execution_logs(args):
    """Executions write their events to the state machine's log group, as
    AWS does for EXPRESS workflows, one JSON message per history event with
    `event_timestamp` in milliseconds as text (parser/models.py:225 gives the
    interpreter no logging session, and the session's own publishing,
    asl/eval/event/logging.py:216-262, fails on moto's string timestamps
    and calls the Logs backend as if it were a boto3 client)."""
    import datetime

    from moto.logs.exceptions import ResourceAlreadyExistsException
    from moto.stepfunctions.parser.asl.eval.event.logging import CloudWatchLoggingSession
    from moto.stepfunctions.parser.backend import execution as execution_module

    def publish_history_log(self, history_log):
        at = history_log["event_timestamp"]
        if isinstance(at, str):
            at = datetime.datetime.fromisoformat(at.replace("Z", "+00:00"))
        millis = int(at.timestamp() * 1000)
        message = dict(history_log, event_timestamp=str(millis))
        group = self.configuration.log_group_name
        stream = self.configuration.log_stream_name
        try:
            self._logs_client.create_log_stream(group, stream)
        except ResourceAlreadyExistsException:
            pass
        self._logs_client.put_log_events(
            group, stream, [{"timestamp": millis, "message": json.dumps(message, default=str)}]
        )

    CloudWatchLoggingSession.publish_history_log = publish_history_log

    original_init = execution_module.Execution.__init__

    def init(self, *a, **kw):
        if kw.get("cloud_watch_logging_session") is None and kw.get("state_machine") is not None:
            kw["cloud_watch_logging_session"] = _logging_session(kw["state_machine"], kw.get("exec_arn"))
        original_init(self, *a, **kw)

    execution_module.Execution.__init__ = init


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
            _activity("failure", f"iam: {'denied' if IAM['mode'] == 'enforce' else 'would deny (audit)'} "
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
        _activity("failure", f"event dropped: {rule.name} has no dead-letter queue for {target['Arn']}")
        return
    if delivery_denied(rule, {"Arn": queue}):
        _activity("failure", f"event dropped: {rule.name} may not send to its dead-letter queue {queue}")
        return
    _, _, _, region, account, name = queue.split(":", 5)
    attributes = {key: {"DataType": "String", "StringValue": value} for key, value in {
        "RULE_ARN": rule.arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": "NO_PERMISSIONS",
        "ERROR_MESSAGE": why}.items()}
    sqs_backends[account][region].send_message(
        queue_name=name, message_body=json.dumps(event, default=str), message_attributes=attributes)
    _activity("failure", f"event to {name}: {rule.name} could not reach {target['Arn']}")


def cfn_queue_policies(args):
    """A stack's AWS::SQS::QueuePolicy sets the policy of each queue it
    names (cloudformation/parsing.py:273-279 skips the type, which moto has
    no model for), so EventBridge's deliveries are checked against it."""
    from moto.core.common_models import CloudFormationModel
    from moto.sqs.models import sqs_backends

    def queues(properties, account_id, region_name):
        backend = sqs_backends[account_id][region_name]
        for url in properties.get("Queues") or []:
            with contextlib.suppress(Exception):
                yield backend.get_queue(url.rstrip("/").rsplit("/", 1)[-1])

    class QueuePolicy(CloudFormationModel):
        __module__ = "moto.sqs.models"

        def __init__(self, resource_name, properties, account_id, region_name):
            self.id = resource_name
            self.properties = properties
            self.account_id, self.region_name = account_id, region_name

        @staticmethod
        def cloudformation_type():
            return "AWS::SQS::QueuePolicy"

        @property
        def physical_resource_id(self):
            return self.id

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr == "Id"

        def get_cfn_attribute(self, attribute_name):
            return self.id

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            properties = cloudformation_json["Properties"]
            document = json.dumps(properties.get("PolicyDocument") or {})
            for queue in queues(properties, account_id, region_name):
                queue.policy = document
            return cls(resource_name, properties, account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        def delete(self, account_id, region_name):
            for queue in queues(self.properties, account_id, region_name):
                queue.policy = None

    cfn_queue_policies.model = QueuePolicy


def queue_attributes_keep_policy(args):
    """SetQueueAttributes changes only the attributes it names, as SQS does
    (sqs/models.py:358 sets the queue's Policy to the request's, so setting
    VisibilityTimeout alone drops the policy, and EventBridge's deliveries
    to the queue are then denied)."""
    from moto.sqs.models import Queue

    original = Queue._set_attributes

    def _set_attributes(self, attributes, now=None):
        kept = getattr(self, "policy", None)
        original(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = kept

    Queue._set_attributes = _set_attributes


def lambda_invoke(args):
    """Lambda Invoke (the API, and the interpreter's lambda:invoke, which
    calls it over HTTP) is run by invctl's execution plane
    (awslambda_simple/models.py:17-28 echoes the payload instead)."""
    if not args.plane:
        return
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        function = self.get_function(function_name, qualifier)
        request = urllib.request.Request(
            f"{args.plane}/invoke/{function.function_name}",
            data=body if isinstance(body, bytes) else (body or "").encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=float(function.timeout) + 30) as reply:
            error = reply.headers.get("X-Amz-Function-Error")
            payload = reply.read()
        if error:
            response_headers["x-amz-function-error"] = error
        return payload

    LambdaSimpleBackend.invoke = invoke


def lambda_logging_config(args):
    """A function keeps its LoggingConfig (its log group), from the API and
    from CloudFormation, and GetFunction reports it (awslambda/models.py
    knows no LoggingConfig: :1183-1191 drops it, :783 never reports it), so
    the execution plane writes a function's output where Lambda would."""
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_cfn = LambdaFunction.create_from_cloudformation_json.__func__
    original_configuration = LambdaFunction.get_configuration

    def init(self, *a, **kw):
        original_init(self, *a, **kw)
        spec = kw.get("spec") or next((x for x in a if isinstance(x, dict)), {})
        self.logging_config = spec.get("LoggingConfig")

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        function = original_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        function.logging_config = cloudformation_json["Properties"].get("LoggingConfig")
        return function

    def get_configuration(self, *a, **kw):
        config = original_configuration(self, *a, **kw)
        logging = getattr(self, "logging_config", None)
        if logging:
            config["LoggingConfig"] = {
                "LogFormat": logging.get("LogFormat", "Text"),
                "LogGroup": logging.get("LogGroup", f"/aws/lambda/{self.function_name}"),
            }
        return config

    LambdaFunction.__init__ = init
    LambdaFunction.create_from_cloudformation_json = classmethod(create)
    LambdaFunction.get_configuration = get_configuration


CODE_PATH = "/_invctl/lambda-code/"


def log_group_arn(args):
    """A log group's `Fn::GetAtt Arn` ends in `:*`, as CloudFormation gives
    it (logs/models.py:444-448 gives the bare group ARN), so a policy that
    grants logs:PutLogEvents on it covers the group's streams."""
    from moto.logs.models import LogGroup

    original = LogGroup.get_cfn_attribute

    def get_cfn_attribute(self, attribute_name):
        if attribute_name == "Arn":
            return self.arn + ":*"
        return original(self, attribute_name)

    LogGroup.get_cfn_attribute = get_cfn_attribute


def role_policy_documents(args):
    """GetRolePolicy answers a role's inline policy from CloudFormation as
    JSON (iam/models.py:2239-2243 hands back the template's dict, which the
    response renders as Python's repr), so it can be read, edited and put
    back through the IAM API."""
    from moto.iam.models import IAMBackend

    original = IAMBackend.get_role_policy

    def get_role_policy(self, role_name, policy_name):
        name, document = original(self, role_name, policy_name)
        return name, document if isinstance(document, str) else json.dumps(document)

    IAMBackend.get_role_policy = get_role_policy


def events_errors_named(args):
    """An EventBridge task that meets a service error fails with the error
    Step Functions names for it (`EventBridge.InternalException`, and
    `EventBridge.AmazonEventBridgeException` for what the SDK does not
    model, such as throttling), which a Retry can match, as the SNS and
    SQS integrations already do (state_task_service_events.py:54-69 and
    execute_state.py:133-149 turn every such error into States.Runtime,
    which nothing can retry: one throttled PutEvents failed the execution)."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events import (
        StateTaskServiceEvents,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskServiceEvents._from_error

    def _from_error(self, env, ex):
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        code = ex.response["Error"]["Code"]
        name = "EventBridge." + (code if code == "InternalException" else "AmazonEventBridgeException")
        metadata = ex.response["ResponseMetadata"]
        cause = (f"{ex.response['Error'].get('Message', '')} (Service: AmazonEventBridge; "
                 f"Status Code: {metadata.get('HTTPStatusCode')}; Error Code: {code}; "
                 f"Request ID: {metadata.get('RequestId')}; Proxy: null)")
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(name),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                error=name, cause=cause, resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type())),
        )

    StateTaskServiceEvents._from_error = _from_error


def lambda_account_settings(args):
    """GetAccountSettings answers the account's concurrency (moto has no
    such operation), and a function created with ReservedConcurrentExecutions
    that would leave fewer than 100 unreserved fails as on AWS (moto checks
    only PutFunctionConcurrency, awslambda/models.py:2580-2592, and only under
    MOTO_LAMBDA_CONCURRENCY_QUOTA). The quota is the launcher's
    --concurrency-quota: AWS's default of 1000, or a new account's 10."""
    import moto.awslambda.urls as urls
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda.responses import LambdaResponse

    os.environ["MOTO_LAMBDA_CONCURRENCY_QUOTA"] = str(args.concurrency_quota)

    def reserved(backend, leaving_out=None):
        return sum(
            int(f.reserved_concurrency or 0)
            for f in backend.list_functions()
            if f.function_name != leaving_out
        )

    def get_account_settings(self):
        unreserved = args.concurrency_quota - reserved(self.backend)
        return 200, {}, json.dumps({
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": args.concurrency_quota,
                "UnreservedConcurrentExecutions": unreserved,
            },
            "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": len(self.backend.list_functions())},
        })

    LambdaResponse.get_account_settings = get_account_settings
    urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch

    create_function = LambdaBackend.create_function

    def create_function_within_quota(self, spec):
        wanted = spec.get("ReservedConcurrentExecutions")
        if wanted is not None and args.concurrency_quota - reserved(self) - int(wanted) < 100:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of [100]."
            )
        return create_function(self, spec)

    LambdaBackend.create_function = create_function_within_quota


def lambda_code_location(args):
    """GetFunction's Code.Location is a URL that serves the function's zip,
    as on AWS (awslambda/models.py:823-829 names an S3 host that does not
    exist); the zip is served by the middleware in main()."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.get_code

    def get_code(self):
        answer = original(self)
        if "Code" in answer and "S3Key" in self.code:
            answer["Code"]["Location"] = (
                f"http://{args.host}:{args.port}{CODE_PATH}"
                f"{self.account_id}/{self.region}/{self.function_name}"
            )
        return answer

    LambdaFunction.get_code = get_code


def serve_lambda_code(app):
    """A WSGI layer that answers CODE_PATH requests with a function's zip."""
    from moto.awslambda.utils import get_backend

    def layer(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CODE_PATH):
            return app(environ, start_response)
        try:
            account, region, name = path[len(CODE_PATH):].split("/", 2)
            code = get_backend(account, region).get_function(name).code_bytes
        except Exception as error:  # an unknown function, or no code
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [str(error).encode()]
        start_response(
            "200 OK",
            [("Content-Type", "application/zip"), ("Content-Length", str(len(code)))],
        )
        return [code]

    return layer


def _to_plane(args, path, document):
    """POSTs `document` to the execution plane; its JSON answer, if any."""
    request = urllib.request.Request(
        f"{args.plane}{path}",
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        body = reply.read()
    return json.loads(body) if body else None


@contextlib.contextmanager
def _gone_is_fine():
    """Deleting what is already gone succeeds, as CloudFormation's delete
    does (moto deletes a stack's resources in no particular order)."""
    from moto.core.exceptions import RESTError

    try:
        yield
    except (RESTError, KeyError) as error:
        if not isinstance(error, KeyError) and getattr(error, "code", None) != 404:
            raise


def function_urls(args):
    """A stack's AWS::Lambda::Url exists, and its URL is served by the
    execution plane (cloudformation/parsing.py:273-279 skips the type, which
    moto has no model for; awslambda/models.py:1283 invents an
    https://...on.aws address that nothing serves)."""
    from moto.awslambda import models as lambda_models
    from moto.awslambda.utils import get_backend
    from moto.core.common_models import CloudFormationModel

    if args.plane:
        original_init = lambda_models.FunctionUrlConfig.__init__

        def init(self, function, config):
            original_init(self, function, config)
            self.url = _to_plane(args, f"/function-urls/{function.function_name}", {})["url"]

        lambda_models.FunctionUrlConfig.__init__ = init

    class FunctionUrl(CloudFormationModel):
        # moto files models by the service their module names.
        __module__ = "moto.awslambda.models"

        def __init__(self, config):
            self.config = config

        @staticmethod
        def cloudformation_type():
            return "AWS::Lambda::Url"

        @property
        def physical_resource_id(self):
            return self.config.function.function_arn

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr in ("FunctionArn", "FunctionUrl")

        def get_cfn_attribute(self, attribute_name):
            if attribute_name == "FunctionUrl":
                return self.config.url
            return self.config.function.function_arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            properties = cloudformation_json["Properties"]
            config = {"AuthType": properties.get("AuthType", "AWS_IAM")}
            for key in ("Cors", "InvokeMode"):
                if key in properties:
                    config[key] = properties[key]
            backend = get_backend(account_id, region_name)
            return cls(backend.create_function_url_config(properties["TargetFunctionArn"], config))

        def delete(self, account_id, region_name):
            # Its function may be deleted first, taking the URL with it.
            with _gone_is_fine():
                get_backend(account_id, region_name).delete_function_url_config(self.config.function.function_arn)

    # The model map is built (and cached) from CloudFormationModel's
    # subclasses on first use; defining the class is what registers it.
    function_urls.model = FunctionUrl


def email_outbox(args):
    """Email subscriptions exist, are confirmed (as the recipient clicking
    the confirmation link would), and deliver to invctl's outbox
    (sns/models.py has no AWS::SNS::Subscription model, so CloudFormation
    skips a stack's subscriptions, and :245-330 delivers nothing by email)."""
    from moto.core.common_models import CloudFormationModel
    from moto.sns.models import SNSBackend, Subscription, sns_backends

    def mail(to, subject, body, topic):
        if args.plane:
            _to_plane(args, "/mail", {"to": to, "subject": subject, "body": body, "topic": topic})

    publish = Subscription.publish

    def publish_with_email(self, message, message_id, subject=None, message_attributes=None, group_id=None, deduplication_id=None, message_structure=None):
        if self.protocol not in ("email", "email-json"):
            return publish(self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure)
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        if self.protocol == "email-json":
            message = json.dumps(self.get_post_data(message, message_id, subject), indent=2)
        mail(self.endpoint, subject or "AWS Notification Message", message, self.topic.arn)

    Subscription.publish = publish_with_email

    def confirm(subscription):
        subscription.confirmed = True
        subscription.attributes["PendingConfirmation"] = "false"
        mail(
            subscription.endpoint,
            "AWS Notification - Subscription Confirmation",
            f"You have chosen to subscribe to the topic:\n{subscription.topic.arn}\n\n"
            "Confirmed on the local cloud, as clicking the confirmation link would.",
            subscription.topic.arn,
        )

    subscribe = SNSBackend.subscribe

    def subscribe_confirmed(self, topic_arn, endpoint, protocol):
        subscription = subscribe(self, topic_arn, endpoint, protocol)
        if protocol in ("email", "email-json"):
            confirm(subscription)
        return subscription

    SNSBackend.subscribe = subscribe_confirmed

    class TopicSubscription(CloudFormationModel):
        __module__ = "moto.sns.models"

        def __init__(self, subscription):
            self.subscription = subscription

        @staticmethod
        def cloudformation_type():
            return "AWS::SNS::Subscription"

        @property
        def physical_resource_id(self):
            return self.subscription.arn

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name):
            return self.subscription.arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            properties = cloudformation_json["Properties"]
            backend = sns_backends[account_id][region_name]
            return cls(backend.subscribe(properties["TopicArn"], properties["Endpoint"], properties["Protocol"]))

        def delete(self, account_id, region_name):
            with _gone_is_fine():
                sns_backends[account_id][region_name].unsubscribe(self.subscription.arn)

    email_outbox.model = TopicSubscription


def schedules(args):
    """A stack's AWS::Scheduler::Schedule exists (moto has no CloudFormation
    model for it, so cloudformation/parsing.py:273-279 skips it); invctl's
    execution plane fires it (scheduler/models.py stores schedules only)."""
    from moto.core.common_models import CloudFormationModel
    from moto.scheduler.models import scheduler_backends

    class StackSchedule(CloudFormationModel):
        __module__ = "moto.scheduler.models"

        def __init__(self, schedule):
            self.schedule = schedule

        @staticmethod
        def cloudformation_type():
            return "AWS::Scheduler::Schedule"

        @staticmethod
        def cloudformation_name_type():
            return "Name"

        @property
        def physical_resource_id(self):
            return self.schedule.name

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name):
            return self.schedule.arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            properties = cloudformation_json["Properties"]
            backend = scheduler_backends[account_id][region_name]
            return cls(
                backend.create_schedule(
                    description=properties.get("Description"),
                    end_date=properties.get("EndDate"),
                    flexible_time_window=properties.get("FlexibleTimeWindow", {"Mode": "OFF"}),
                    group_name=properties.get("GroupName"),
                    kms_key_arn=properties.get("KmsKeyArn"),
                    name=properties.get("Name", resource_name),
                    schedule_expression=properties["ScheduleExpression"],
                    schedule_expression_timezone=properties.get("ScheduleExpressionTimezone"),
                    start_date=properties.get("StartDate"),
                    state=properties.get("State"),
                    target=properties["Target"],
                    action_after_completion=properties.get("ActionAfterCompletion"),
                )
            )

        def delete(self, account_id, region_name):
            with _gone_is_fine():
                scheduler_backends[account_id][region_name].delete_schedule(self.schedule.group_name, self.schedule.name)

    schedules.model = StackSchedule


class _NoInlineTriggers(dict):
    """A mapping table that stays empty: invctl runs the event sources."""

    def __setitem__(self, key, value):
        pass


def no_inline_triggers(args):
    """moto's own SQS and stream triggers are off (sqs/models.py:577-610 and
    dynamodb/models/table.py:235-244 run them inline and, with no Lambda
    runtime, consume the messages and drop the records)."""
    from moto.dynamodb.models.table import Table
    from moto.sqs.models import Queue

    for cls in (Queue, Table):
        original = cls.__init__

        def init(self, *a, __original=original, **kw):
            __original(self, *a, **kw)
            self.lambda_event_source_mappings = _NoInlineTriggers()

        cls.__init__ = init


def dynamodb_one_at_a_time(args):
    """DynamoDB requests are applied one at a time, as DynamoDB is atomic per
    item (dynamodb/models/__init__.py:604-715: a failed transaction restores
    deep copies of whole tables, wiping concurrent writes). The lock covers
    one DynamoDB request and nothing else."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self):
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action


def cancelled_transactions_keep_streams(args):
    """A cancelled TransactWriteItems leaves each table it touched in place
    with its items as they were and no stream records of its own, as
    DynamoDB does (dynamodb/models/__init__.py:604-715 restores a deep copy
    of each whole table: its stream shard is swapped for a copy, so a shard
    iterator opened before reads a shard that never grows again, and the
    cancelled writes' stream records stay in that copy)."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        live = {}
        for item in transact_items:
            _, op = next(iter(item.items()))
            name = op.get("TableName") if isinstance(op, dict) else None
            if name in self.tables and name not in live:
                table = self.tables[name]
                shard = getattr(table, "stream_shard", None)
                live[name] = (table, len(shard.items) if shard is not None else None)
        try:
            return original(self, transact_items)
        except Exception:
            for name, (table, records) in live.items():
                restored = self.tables.get(name)
                if restored is not None and restored is not table:
                    table.items = restored.items
                self.tables[name] = table
                if records is not None and table.stream_shard is not None:
                    del table.stream_shard.items[records:]
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def transactions_copy_touched_items(args):
    """A TransactWriteItems keeps copies of the items it names, not of whole
    tables (dynamodb/models/__init__.py:608-615 deep-copies every table a
    transaction names before it starts, for each transaction: a quarter of
    moto's time in a burst by py-spy, growing with the reservations table).
    A cancelled one puts those items back as they were, so it still changes
    nothing (a speed-up only; its stream records are the concern of
    `cancelled-transactions-keep-streams`)."""
    import copy as copy_module

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    in_transaction = threading.local()

    class TablesKept:
        """moto's `copy` within its DynamoDB backend: inside a transaction
        a table's "copy" is the table itself (its items are kept below)."""

        def __getattr__(self, name):
            return getattr(copy_module, name)

        def deepcopy(self, value, memo=None):
            if getattr(in_transaction, "active", False) and isinstance(value, Table):
                return value
            return copy_module.deepcopy(value, memo)

    models.copy = TablesKept()

    def place(backend, item):
        """(table, hash, range) of the item one transaction entry names."""
        try:
            kind, op = next(iter(item.items()))
            table = backend.tables[op["TableName"]]
            attributes = op["Item"] if kind == "Put" else op["Key"]
            hash_value = DynamoType(attributes[table.hash_key_attr])
            range_value = None
            if table.range_key_attr is not None:
                range_value = DynamoType(attributes[table.range_key_attr])
            return table, hash_value, range_value
        except Exception:
            return None  # moto refuses this entry before it writes anything

    def held(table, hash_value, range_value):
        if range_value is None:
            return table.items.get(hash_value)
        return table.items.get(hash_value, {}).get(range_value)

    def put_back(table, hash_value, range_value, kept):
        if range_value is None:
            if kept is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = kept
        elif kept is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = kept

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        kept = []
        for item in transact_items[:100]:
            where = place(self, item)
            if where is not None:
                kept.append((where, copy_module.deepcopy(held(*where))))
        in_transaction.active = True
        try:
            return original(self, transact_items)
        except Exception:
            # Last first: an item named twice gets its first copy back.
            for where, item in reversed(kept):
                put_back(*where, item)
            raise
        finally:
            in_transaction.active = False

    models.DynamoDBBackend.transact_write_items = transact_write_items


def definitions_parsed_once(args):
    """Each workflow definition is parsed once, not at every execution
    (backend/execution_worker.py:60 runs the ANTLR parser and builds the
    program anew each time: a quarter of the interpreter's time in a burst,
    by py-spy). Keyed by the definition's text, so an updated workflow is
    parsed again; the program's parts keep no state of an execution (that
    lives in each execution's environment, as for Map's iterations, which
    share one program already), so one parse serves every execution (a
    speed-up only)."""
    import functools

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.utils import long_uid

    parse = functools.lru_cache(maxsize=256)(AmazonStateLanguageParser.parse)
    AmazonStateLanguageParser.parse = staticmethod(parse)
    # A part's heap key (where an execution keeps, say, a Retry's attempt
    # count) is made on first use: with one program shared, two executions
    # may ask at once, and setdefault gives both the same key.
    EvalComponent.heap_key = property(
        lambda self: self.__dict__.setdefault("_invctl_heap_key", long_uid()))


# ----------------------------------------------------------------- activity
# Not a correction: what happens inside moto (events put, executions started
# and ended), reported on stdout for invctl's console, one line each:
# `invctl-activity<TAB>info|success|failure<TAB>text`.

_activity_lock = threading.Lock()


def _activity(tone, text):
    with _activity_lock:
        sys.stdout.write(f"invctl-activity\t{tone}\t{text}\n")
        sys.stdout.flush()


def report_activity():
    from moto.events.models import EventsBackend
    from moto.stepfunctions.parser.backend import execution as execution_module

    put_events = EventsBackend.put_events

    def reported_put_events(self, events):
        entries = put_events(self, events)
        for event, entry in zip(events, entries):
            bus = (event.get("EventBusName") or "default").split("/")[-1]
            if "EventId" in entry:
                _activity("info", f"event {event['Source']}/{event['DetailType']} put on {bus}")
            else:
                _activity("failure", f"event refused by {bus}: {entry.get('ErrorMessage')}")
        return entries

    EventsBackend.put_events = reported_put_events

    def machine_and_name(execution):
        return f"{execution.state_machine.name}/{execution.name}"

    start = execution_module.Execution.start

    def reported_start(self):
        _activity("info", f"execution {machine_and_name(self)} started")
        start(self)

    execution_module.Execution.start = reported_start

    terminated = execution_module.BaseExecutionWorkerCommunication.terminated

    def reported_terminated(self):
        terminated(self)
        execution = self.execution
        status = getattr(execution.exec_status, "value", execution.exec_status)
        if status == "SUCCEEDED":
            _activity("success", f"execution {machine_and_name(execution)} succeeded")
        else:
            why = ": ".join(str(part) for part in (execution.error, execution.cause) if part)[:300]
            _activity("failure", f"execution {machine_and_name(execution)} {status}" + (f" ({why})" if why else ""))

    execution_module.BaseExecutionWorkerCommunication.terminated = reported_terminated


# --------------------------------------------------------------- time scale
# Not a correction either: `--time-scale N` makes workflow time pass N times
# faster (Task timeouts and heartbeats, Wait seconds), so a demo or a test
# sees a day-long approval deadline expire in seconds, with the same stack.


def time_scale(scale):
    from moto.stepfunctions.parser.asl.component.common.timeouts import heartbeat, timeout
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import seconds, seconds_path

    def scaled(value):
        return max(1, round(value / scale))

    def scale_pushed(cls):
        original = cls._eval_body

        def eval_body(self, env):
            original(self, env)
            env.stack.append(scaled(env.stack.pop()))

        cls._eval_body = eval_body

    scale_pushed(timeout.Timeout)
    scale_pushed(heartbeat.Heartbeat)
    for cls in (seconds.Seconds, seconds.SecondsJSONata, seconds_path.SecondsPath):
        original = cls._get_wait_seconds

        def get_wait_seconds(self, env, original=original):
            return scaled(original(self, env))

        cls._get_wait_seconds = get_wait_seconds


# ------------------------------------------------------------------- faults
# Not a correction: AWS's faults on demand, shaped after LocalStack's Chaos
# API. invctl validates the rules (`invctl local fault add`, `--faults FILE`)
# and hands them here; this layer sits in front of moto, sees every request,
# and answers a request a rule picks with the error AWS gives, in the
# service's own wire format, without moto seeing it. Deliveries the cloud
# makes itself are decided here too: the execution plane asks about each
# batch (`deliver:sqs`, `deliver:stream`), the rule-targets patch about each
# event (`deliver:rule`).

FAULTS_PATH = "/_invctl/faults"
IAM = {"mode": "enforce"}


def caller_name(principal):
    """Who signed a request, as fault rules name callers: the role
    session (a function or workflow name) and its role's name, or `invctl`
    for the account's administrator (invctl's own commands)."""
    return f"{principal.session} {principal.role_name}" if principal else "invctl"


class Faults:
    def __init__(self):
        self.rules = []
        self.lock = threading.Lock()
        self.random = __import__("random").Random()

    def add(self, rule):
        with self.lock:
            rule = dict(rule, fired=0)
            self.rules.append(rule)
            return rule

    def listing(self):
        with self.lock:
            return [dict(rule) for rule in self.rules]

    def clear(self):
        with self.lock:
            count = len(self.rules)
            self.rules = []
            return count

    def pick(self, target, caller):
        """The rule that fires for this call, if one does (the first whose
        target and caller match, drawn at its rate, while it has times left)."""
        with self.lock:
            for rule in self.rules:
                if rule["target"].lower() != target.lower():
                    continue
                wanted = rule.get("caller")
                if wanted and wanted.lower() not in caller.lower():
                    continue
                times = rule.get("times")
                if times is not None and rule["fired"] >= times:
                    continue
                if self.random.random() >= rule.get("rate", 1.0):
                    continue
                rule["fired"] += 1
                return dict(rule)
        return None


FAULTS = Faults()

REQUESTS_PATH = "/_invctl/requests"


class Requests:
    """Every AWS request the cloud served, counted by operation and caller,
    so a benchmark can say what an order costs in requests (GET
    REQUESTS_PATH; DELETE starts the count again)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        with self.lock:
            self.by_operation, self.by_caller, self.total = {}, {}, 0

    def count(self, service, operation, caller):
        name = f"{service}:{operation}"
        with self.lock:
            self.total += 1
            self.by_operation[name] = self.by_operation.get(name, 0) + 1
            self.by_caller[caller] = self.by_caller.get(caller, 0) + 1

    def listing(self):
        with self.lock:
            return {"total": self.total, "byOperation": dict(self.by_operation),
                    "byCaller": dict(self.by_caller)}


REQUESTS = Requests()


def _operation(environ, body):
    """(service prefix, operation) of a request, as its caller names it."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)
    service = scope[1].split("/")[3] if len(scope) == 2 and scope[1].count("/") >= 3 else ""
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif service == "lambda" and environ.get("PATH_INFO", "").endswith("/invocations"):
        operation = "Invoke"
    else:
        from urllib.parse import parse_qs

        operation = (parse_qs(body.decode(errors="replace")).get("Action") or [""])[0]
    prefix = {"dynamodb": "dynamodb", "states": "states", "events": "events", "sns": "sns",
              "sqs": "sqs", "lambda": "lambda", "kms": "kms", "logs": "logs"}.get(service, service)
    return prefix, operation


# Each code: (HTTP status, the error's wire code, message).
_FAULT_ERRORS = {
    "TransactionConflict": (400, "TransactionCanceledException", None),
    "TransactionConflictException": (400, "TransactionConflictException", "Transaction is ongoing for the item"),
    "ThrottlingException": (400, "ThrottlingException", "Rate exceeded"),
    "ProvisionedThroughputExceededException": (
        400, "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API."),
    "RequestLimitExceeded": (400, "RequestLimitExceeded", "Throughput exceeds the current throughput limit for your account."),
    "InternalServerError": (500, "InternalServerError", "Internal server error"),
    "Throttled": (400, "Throttled", "Rate exceeded"),
    "KMSThrottling": (400, "KMSThrottling", "The request was denied due to request throttling (Service: AWSKMS)"),
    "KMSAccessDenied": (400, "KMSAccessDenied", "The ciphertext references a key that doesn't exist or that you don't have access to"),
    "KMSDisabled": (400, "KMSDisabled", "The request was rejected because the specified key is disabled"),
    "ServiceUnavailable": (503, "ServiceUnavailable", "Service is unable to handle request"),
    "TooManyRequestsException": (429, "TooManyRequestsException", "Rate Exceeded."),
}

_JSON_NAMESPACES = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "sqs": "com.amazonaws.sqs#",
}


def _transaction_canceled(body):
    """TransactionCanceledException for a TransactWriteItems, one reason per
    item as DynamoDB gives them: the first item conflicted, the rest None."""
    try:
        items = json.loads(body or b"{}").get("TransactItems") or [{}]
    except ValueError:
        items = [{}]
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
    reasons += [{"Code": "None"} for _ in items[1:]]
    codes = ", ".join(r["Code"] for r in reasons)
    message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
    return message, reasons


def fault_response(rule, service, operation, environ, body, app, start_response):
    """The answer AWS gives for `rule` to this request."""
    error = rule["error"]
    if service == "events" and operation == "PutEvents" and error == "PartialFailure":
        return _put_events_partial_failure(environ, body, app, start_response)
    status, code, message = _FAULT_ERRORS[error]
    extra = {}
    if code == "TransactionCanceledException":
        message, extra["CancellationReasons"] = _transaction_canceled(body)
    message = rule.get("message") or message
    reason = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    request_id = str(uuid.uuid4())
    if environ.get("HTTP_X_AMZ_TARGET") or service == "lambda":
        if service == "lambda":  # REST-JSON: the code is in the header only
            document = {"Type": "User", "message": message, "Reason": "ConcurrentInvocationLimitExceeded"}
        else:
            document = {"__type": _JSON_NAMESPACES.get(service, "") + code, "message": message, **extra}
        payload = json.dumps(document).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", request_id)]
        if service == "sqs":
            headers.append(("x-amzn-query-error", f"AWS.SimpleQueueService.{code};Receiver"))
    else:
        return _query_error(start_response, f"{status} {reason}", code, message)
    headers.append(("Content-Length", str(len(payload))))
    start_response(f"{status} {reason}", headers)
    return [payload]


def _put_events_partial_failure(environ, body, app, start_response):
    """PutEvents where the last entry fails (FailedEntryCount 1, its error in
    its entry) and the others are put, as EventBridge answers under load."""
    import io

    request = json.loads(body or b"{}")
    entries = request.get("Entries") or []
    failed = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
    answered = []
    if len(entries) > 1:
        forwarded = json.dumps(dict(request, Entries=entries[:-1])).encode()
        environ = dict(environ, CONTENT_LENGTH=str(len(forwarded)))
        environ["wsgi.input"] = io.BytesIO(forwarded)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status

        reply = b"".join(app(environ, capture))
        if not captured.get("status", "").startswith("200"):
            start_response(captured["status"], [("Content-Type", "application/x-amz-json-1.1")])
            return [reply]
        answered = json.loads(reply).get("Entries", [])
    document = {
        "FailedEntryCount": 1 + sum(1 for e in answered if "ErrorCode" in e),
        "Entries": answered + [failed],
    }
    payload = json.dumps(document).encode()
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))])
    return [payload]


def serve_faults(app):
    """A WSGI layer: the faults API at FAULTS_PATH, and the rules applied to
    every other request before moto sees it."""
    import io

    def answer(start_response, document, status="200 OK"):
        payload = json.dumps(document).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def read_body(environ):
        """The request's body, left readable for moto."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    def layer(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(iam.PATH):
            return serve_iam(environ, start_response, read_body(environ), answer)
        if path == REQUESTS_PATH:
            if environ.get("REQUEST_METHOD") == "DELETE":
                REQUESTS.clear()
            return answer(start_response, REQUESTS.listing())
        principal = iam.principal_of(environ)
        checked = IAM["mode"] != "off" and principal is not None
        body = read_body(environ)
        if not path.startswith("/_invctl/") and not path.startswith("/moto-api/"):
            REQUESTS.count(*_operation(environ, body), caller_name(principal))
        if not path.startswith(FAULTS_PATH) and not FAULTS.rules and not checked:
            return app(environ, start_response)
        if path.startswith(FAULTS_PATH):
            method = environ.get("REQUEST_METHOD")
            if path == FAULTS_PATH + "/decide" and method == "POST":
                asked = json.loads(body or b"{}")
                rule = FAULTS.pick(asked.get("target", ""), asked.get("caller", ""))
                if rule:
                    _activity("failure", f"fault: {rule['target']} {rule['error']} for {asked.get('caller')}")
                return answer(start_response, {"fault": rule and rule["error"]})
            if method == "POST":
                rules = json.loads(body or b"[]")
                return answer(start_response, [FAULTS.add(rule) for rule in rules])
            if method == "DELETE":
                return answer(start_response, {"cleared": FAULTS.clear()})
            return answer(start_response, FAULTS.listing())
        service, operation = _operation(environ, body)
        if checked:
            denied = authorize(principal, service, operation, environ, body)
            if denied and IAM["mode"] == "enforce":
                return access_denied(service, environ, *denied, start_response)
        caller = caller_name(principal)
        rule = FAULTS.pick(f"{service}:{operation}", caller)
        if rule:
            _activity("failure", f"fault: {service}:{operation} answered {rule['error']} for {caller}")
            return fault_response(rule, service, operation, environ, body, app, start_response)
        return app(environ, start_response)

    return layer


def judge(principal, checks):
    """IAM's decision on `checks` for `principal`: None if all are allowed,
    else (the action denied, AWS's message). Every decision is recorded for
    `invctl local iam`, every denial printed (in audit mode as one that
    would be)."""
    failed = iam.check(principal, checks)
    for request in checks:
        if failed and request is failed[0]:
            break
        iam.RECORD.allowed(principal, request.action, request.resource)
    if not failed:
        return None
    request, message = failed
    enforced = IAM["mode"] == "enforce"
    iam.RECORD.refused(principal, request.action, request.resource, message, enforced)
    verdict = "denied" if enforced else "would deny (audit)"
    _activity("failure", f"iam: {verdict} {request.action} on {request.resource} "
                         f"for role {principal.role_name} ({principal.session})")
    return request.action, message


def authorize(principal, service, operation, environ, body):
    """IAM's decision on a request, as [`judge`] gives it."""
    scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[-1].split("/")
    region = scope[2] if len(scope) > 2 else "us-east-1"
    return judge(principal, iam.requested(service, operation, environ, body, region, principal.account))


def _query_error(start_response, status, code, message):
    """An error in the query protocol's XML (SNS, SQS's query form)."""
    request_id = str(uuid.uuid4())
    kind = "Receiver" if status.startswith("5") else "Sender"
    payload = (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    start_response(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id),
                            ("Content-Length", str(len(payload)))])
    return [payload]


def access_denied(service, environ, action, message, start_response):
    """AccessDenied as each service and protocol answers it."""
    request_id = str(uuid.uuid4())
    if service == "sns" and action.startswith("kms:"):
        # SNS answers a publisher the topic's key refuses with its KMS error.
        return _query_error(start_response, "400 Bad Request", "KMSAccessDenied",
                            f"{message} (Service: AWSKMS; Error Code: AccessDeniedException)")
    if service == "lambda":
        document = {"Type": "User", "Message": message}
        status, code = "403 Forbidden", "AccessDeniedException"
    elif environ.get("HTTP_X_AMZ_TARGET"):
        if service == "sqs":
            status, code = "403 Forbidden", "AccessDenied"
        else:
            status, code = "400 Bad Request", "AccessDeniedException"
        document = {"__type": _JSON_NAMESPACES.get(service, "") + code, "message": message}
    else:
        code = "AuthorizationError" if service == "sns" else "AccessDenied"
        return _query_error(start_response, "403 Forbidden", code, message)
    payload = json.dumps(document).encode()
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code),
               ("x-amzn-RequestId", request_id), ("Content-Length", str(len(payload)))]
    if service == "sqs":
        headers.append(("x-amzn-query-error", f"{code};Sender"))
    start_response(status, headers)
    return [payload]


def serve_iam(environ, start_response, body, answer):
    """The IAM record (GET), and a decision for the execution plane (POST
    /authorize: a role, an action, a resource)."""
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == iam.PATH + "/authorize":
        asked = json.loads(body or b"{}")
        if IAM["mode"] == "off":
            return answer(start_response, {"denied": None})
        principal = iam.Principal(asked["role"].split(":")[4], asked["role"], asked.get("session", "service"))
        denied = judge(principal, [iam.Request(asked["action"], asked["resource"])])
        enforced = IAM["mode"] == "enforce"
        return answer(start_response, {"denied": denied[1] if denied and enforced else None})
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == iam.PATH + "/function-url":
        asked = json.loads(body or b"{}")
        denied = None if IAM["mode"] == "off" else function_url_denied(asked)
        if denied:
            enforced = IAM["mode"] == "enforce"
            _activity("failure", f"iam: {'denied' if enforced else 'would deny (audit)'} Function URL request "
                                 f"to {asked.get('function')}: {denied}")
            if not enforced:
                denied = None
        return answer(start_response, {"denied": denied})
    return answer(start_response, {"mode": IAM["mode"], "roles": iam.RECORD.report()})


def function_url_denied(asked):
    """Why an unsigned request to a function's URL is refused, or None: the
    URL's auth type must be NONE, and the function's resource policy must
    allow anyone lambda:InvokeFunctionUrl (for auth type NONE) and
    lambda:InvokeFunction (when invoked through the URL), as Lambda asks."""
    from moto.awslambda.utils import get_backend

    account, region = asked.get("account", "123456789012"), asked.get("region", "us-east-1")
    try:
        function = get_backend(account, region).get_function(asked["function"])
    except Exception:
        return f"no function {asked.get('function')}"
    url = getattr(function, "url_config", None)
    auth = (getattr(url, "config", None) or {}).get("AuthType", "NONE") if url else "NONE"
    if auth != "NONE":
        return f"the URL's auth type is {auth}; an unsigned request is refused"
    policy = {"Statement": list(function.policy.statements)}
    anyone = {"aws": {"*"}}
    for action, context in (("lambda:InvokeFunctionUrl", {"lambda:FunctionUrlAuthType": "NONE"}),
                            ("lambda:InvokeFunction", {"lambda:InvokedViaFunctionUrl": "true"})):
        decision = iam.decide([policy], action, function.function_arn, context, anyone)
        if decision != "allow":
            return f"the resource-based policy of {function.function_arn} does not allow {action} to anyone"
    return None


def lambda_url_permissions(args):
    """A permission's FunctionUrlAuthType and InvokedViaFunctionUrl become
    the conditions AWS writes for them (awslambda/policy.py:84-125 keeps
    them as bare keys, which no policy evaluation reads)."""
    from moto.awslambda.policy import Policy

    original = Policy.decode_policy

    def decode_policy(self, obj):
        auth = obj.pop("FunctionUrlAuthType", None)
        via = obj.pop("InvokedViaFunctionUrl", None)
        policy = original(self, obj)
        if auth is not None or via is not None:
            statement = policy.statements[-1]
            condition = statement.setdefault("Condition", {})
            if auth is not None:
                condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth
            if via is not None:
                condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = str(via).lower()
        return policy

    Policy.decode_policy = decode_policy


# The interpreter's task clients, one per region, service and signing
# identity (botocore clients are thread-safe): moto builds a new boto3 client
# for every task call (asl/utils/boto_client.py), tens of milliseconds of
# CPU under the GIL each, the largest share of an execution's time.
TASK_CLIENTS = {"reuse": False, "clients": {}}


def task_clients_reused(args):
    """Task calls reuse one client per region, service and identity, as an
    SDK user would (a speed-up only: every call is still signed as the
    workflow's role and served, checked and counted as before)."""
    TASK_CLIENTS["reuse"] = True


def json_paths_parsed_once(args):
    """Each JSONPath of a workflow is parsed once, not at every state of
    every execution (asl/utils/json_path.py:48 and result_path.py call
    jsonpath_ng's parser each time: the largest share of the interpreter's
    time in a burst, by py-spy). Parsed paths are never changed by find or
    update, so one parse serves every execution (a speed-up only)."""
    import functools
    import importlib

    for name in ("moto.stepfunctions.parser.asl.utils.json_path",
                 "moto.stepfunctions.parser.asl.component.common.path.result_path"):
        module = importlib.import_module(name)
        module.parse = functools.lru_cache(maxsize=4096)(module.parse)


def workflow_callers(args):
    """A workflow's service integrations sign as the workflow (the access
    key names its state machine), so a fault rule can pick them by caller
    (asl/utils/boto_client.py signs every task's call with one fixed key)."""
    import importlib

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
    )

    current = threading.local()
    original_eval = state_task_service.StateTaskService._eval_execution

    sessions = {}
    lock = threading.Lock()

    def session_of(machine):
        """The state machine's role, assumed once per machine and role."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        arn = machine.get("Id", "")
        parts = arn.split(":")
        if len(parts) < 7:
            return None
        try:
            role = stepfunctions_parser_backends[parts[4]][parts[3]].describe_state_machine(arn).roleArn
        except Exception:
            return None
        with lock:
            if (arn, role) not in sessions:
                sessions[(arn, role)] = iam.assume(parts[4], parts[3], role, machine.get("Name", "workflow"))
            return sessions[(arn, role)]

    def eval_execution(self, env):
        machine = env.states.context_object.context_object_data.get("StateMachine", {})
        current.session = session_of(machine)
        return original_eval(self, env)

    state_task_service.StateTaskService._eval_execution = eval_execution

    base = "moto.stepfunctions.parser.asl.component.state.exec.state_task."
    for name in ("service.state_task_service_aws_sdk", "service.state_task_service_dynamodb",
                 "service.state_task_service_events", "service.state_task_service_sns",
                 "service.state_task_service_sqs", "service.state_task_service_sfn",
                 "lambda_eval_utils"):
        module = importlib.import_module(base + name)
        original = module.boto_client_for

        def boto_client_for(region, service, state_credentials=None, __original=original):
            session = getattr(current, "session", None)
            key = (region, service, session)
            # moto's boto_client_for ignores state_credentials (it signs
            # with fixed keys): the identity is the session set above.
            reuse = TASK_CLIENTS["reuse"]
            if reuse:
                with lock:
                    client = TASK_CLIENTS["clients"].get(key)
                if client is not None:
                    return client
            client = __original(region, service, state_credentials)
            if session:
                credentials = client._request_signer._credentials
                credentials.access_key, credentials.secret_key, credentials.token = session
            if reuse:
                with lock:
                    client = TASK_CLIENTS["clients"].setdefault(key, client)
            return client

        module.boto_client_for = boto_client_for


PATCHES = {
    "cfn-state-machines": cfn_state_machines,
    "fn-sub-keeps-dollars": fn_sub_keeps_dollars,
    "event-bus-physical-id": event_bus_physical_id,
    "outputs-after-change-set": outputs_after_change_set,
    "start-sync-execution": start_sync_execution,
    "execution-logs": execution_logs,
    "rule-targets": rule_targets,
    "lambda-invoke": lambda_invoke,
    "lambda-code-location": lambda_code_location,
    "lambda-account-settings": lambda_account_settings,
    "cfn-queue-policies": cfn_queue_policies,
    "queue-attributes-keep-policy": queue_attributes_keep_policy,
    "lambda-url-permissions": lambda_url_permissions,
    "log-group-arn": log_group_arn,
    "role-policy-documents": role_policy_documents,
    "events-errors-named": events_errors_named,
    "lambda-logging-config": lambda_logging_config,
    "no-inline-triggers": no_inline_triggers,
    "dynamodb-one-at-a-time": dynamodb_one_at_a_time,
    "cancelled-transactions-keep-streams": cancelled_transactions_keep_streams,
    "function-urls": function_urls,
    "email-outbox": email_outbox,
    "schedules": schedules,
    "task-clients-reused": task_clients_reused,
    "json-paths-parsed-once": json_paths_parsed_once,
    "definitions-parsed-once": definitions_parsed_once,
    "transactions-copy-touched-items": transactions_copy_touched_items,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--plane", default=None)
    parser.add_argument("--without", action="append", default=[], choices=sorted(PATCHES))
    parser.add_argument("--time-scale", type=int, default=1)
    # AWS's default; a new account has 10.
    parser.add_argument("--concurrency-quota", type=int, default=1000)
    parser.add_argument("--iam", default="enforce", choices=iam.MODES)
    args = parser.parse_args()
    IAM["mode"] = args.iam
    # Where the Step Functions interpreter calls moto back (it reads this).
    os.environ["MOTO_PORT"] = str(args.port)

    import moto

    if moto.__version__ != MOTO_VERSION:
        sys.exit(
            f"moto_launcher: written for moto {MOTO_VERSION}, found {moto.__version__}; "
            f"install tools/requirements.txt (scripts/setup-tools.sh)"
        )

    from moto.core.config import default_user_config

    default_user_config.update(
        {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    )
    for name, patch in PATCHES.items():
        if name not in args.without:
            patch(args)
    report_activity()
    workflow_callers(args)
    if args.time_scale > 1:
        time_scale(args.time_scale)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    app = DomainDispatcherApplication(create_backend_app)
    if "lambda-code-location" not in args.without:
        app = serve_lambda_code(app)
    app = serve_faults(app)
    print(f"moto {MOTO_VERSION} on http://{args.host}:{args.port}", flush=True)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
