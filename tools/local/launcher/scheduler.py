"""EventBridge Scheduler: a stack's schedules exist, and invctl's execution
plane fires them."""

from launcher.awslambda import gone_is_fine


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
            with gone_is_fine():
                scheduler_backends[account_id][region_name].delete_schedule(self.schedule.group_name, self.schedule.name)

    schedules.model = StackSchedule
