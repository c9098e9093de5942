"""SNS: email subscriptions exist, are confirmed, and deliver to invctl's
outbox."""

import json

from launcher.awslambda import gone_is_fine, to_plane


def email_outbox(args):
    """Email subscriptions exist, are confirmed (as the recipient clicking
    the confirmation link would), and deliver to invctl's outbox
    (sns/models.py has no AWS::SNS::Subscription model, so CloudFormation
    skips a stack's subscriptions, and :245-330 delivers nothing by email)."""
    from moto.core.common_models import CloudFormationModel
    from moto.sns.models import SNSBackend, Subscription, sns_backends

    def mail(to, subject, body, topic):
        if args.plane:
            to_plane(args, "/mail", {"to": to, "subject": subject, "body": body, "topic": topic})

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
            with gone_is_fine():
                sns_backends[account_id][region_name].unsubscribe(self.subscription.arn)

    email_outbox.model = TopicSubscription
