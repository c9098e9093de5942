"""SQS: SetQueueAttributes changes only the attributes it names."""

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
