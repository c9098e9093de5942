"""SQS: SetQueueAttributes changes only the attributes it names; a queue's
attributes are computed when read, and its visible messages found against
one reading of the clock; a delete loses no message sent meanwhile."""

import json


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


def queue_attributes_on_demand(args):
    """A queue's attributes are computed when one is read, not all of them
    at every read (sqs/models.py:517-544 builds every attribute, three of
    them by scanning all the queue's messages, each time one is asked for;
    receive_message asks for MessageRetentionPeriod three times per message
    it hands out, :1282-1288, and every delivery of a rule to the queue asks
    for FifoQueue, events/models.py:247: with a thousand orders queued,
    half of moto's time in a burst by py-spy). The attributes, their order
    and their values are those moto gives (a speed-up only)."""
    from collections.abc import Mapping

    from moto.core.utils import camelcase_to_underscores
    from moto.sqs.models import Queue

    class QueueAttributes(Mapping):
        """moto's attribute dict of one queue, each value computed once,
        when first read."""

        def __init__(self, queue):
            self._queue = queue
            self._names = list(queue.BASE_ATTRIBUTES)
            if queue.fifo_queue:
                self._names += queue.FIFO_ATTRIBUTES
            if queue.kms_master_key_id:
                self._names += queue.KMS_ATTRIBUTES
            for name, value in (("Policy", queue.policy), ("RedrivePolicy", queue.redrive_policy)):
                if value and name not in self._names:
                    self._names.append(name)
            self._values = {}

        def __getitem__(self, name):
            if name not in self._values:
                if name not in self._names:
                    raise KeyError(name)
                self._values[name] = self._compute(name)
            return self._values[name]

        def _compute(self, name):
            if name == "RedrivePolicy" and self._queue.redrive_policy:
                return json.dumps(self._queue.redrive_policy)
            value = getattr(self._queue, camelcase_to_underscores(name))
            return str(value).lower() if isinstance(value, bool) else value

        def __iter__(self):
            return iter(self._names)

        def __len__(self):
            return len(self._names)

    Queue.attributes = property(QueueAttributes)


def visible_messages_at_one_time(args):
    """A queue's visible messages are found against one reading of the
    clock, not two per message (sqs/models.py:550-555 asks each message
    whether it is visible and not delayed, and each asks the time anew,
    through a datetime and an epoch built each time: with a thousand orders
    queued, every ReceiveMessage read the clock two thousand times). The
    messages found are those moto finds (a speed-up only)."""
    from moto.sqs import models

    def messages(self):
        now = models.unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and now >= m.delayed_until]

    models.Queue.messages = property(messages)


def queue_deletes_keep_sends(args):
    """A message sent while another is deleted stays in the queue, and of
    two deletes at once neither is undone, as SQS keeps every message it
    acknowledged (sqs/models.py:613-631 rebuilds the queue's message list
    and puts it back without the lock add_message appends under, :573-575:
    a message appended meanwhile was gone, and the later of two deletes put
    back what the earlier had deleted; a burst of 1,000 orders lost 5 and
    had 30 delivered again once their visibility timeout ran out)."""
    from moto.sqs.models import Queue

    original = Queue.delete_message

    def delete_message(self, receipt_handle):
        with self._messages_lock:
            original(self, receipt_handle)

    Queue.delete_message = delete_message
