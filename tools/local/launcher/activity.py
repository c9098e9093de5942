"""Not a correction: what happens inside moto (events put, executions
started and ended), reported on stdout for invctl's console, one line each:
`invctl-activity<TAB>info|success|failure<TAB>text`."""

import sys
import threading


SAY_LOCK = threading.Lock()


def say(tone, text):
    with SAY_LOCK:
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
                say("info", f"event {event['Source']}/{event['DetailType']} put on {bus}")
            else:
                say("failure", f"event refused by {bus}: {entry.get('ErrorMessage')}")
        return entries

    EventsBackend.put_events = reported_put_events

    def machine_and_name(execution):
        return f"{execution.state_machine.name}/{execution.name}"

    start = execution_module.Execution.start

    def reported_start(self):
        say("info", f"execution {machine_and_name(self)} started")
        start(self)

    execution_module.Execution.start = reported_start

    terminated = execution_module.BaseExecutionWorkerCommunication.terminated

    def reported_terminated(self):
        terminated(self)
        execution = self.execution
        status = getattr(execution.exec_status, "value", execution.exec_status)
        if status == "SUCCEEDED":
            say("success", f"execution {machine_and_name(execution)} succeeded")
        else:
            why = ": ".join(str(part) for part in (execution.error, execution.cause) if part)[:300]
            say("failure", f"execution {machine_and_name(execution)} {status}" + (f" ({why})" if why else ""))

    execution_module.BaseExecutionWorkerCommunication.terminated = reported_terminated
