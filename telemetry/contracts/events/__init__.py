"""Business events: the CloudEvent envelope and one typed payload model per event type.

``envelope`` is the CloudEvents 1.0 envelope every event and command travels in; ``fields`` the
exact types payloads use (litres, kilograms, kWh as ``Decimal``, UTC times); one module per
context holds its payload models, each with its type string written once beside it
(``fuelling``, ``gas``, ``charging``, ``delivery``; the command acknowledgement lives with the
commands in ``telemetry.contracts.commands``); ``registry`` maps every type to its model.
Producers build the model and wrap it (``EventPayload.envelope``); consumers parse with the same
model (``EventPayload.from_event``). docs/events.md lists every event and its fields.
"""

from __future__ import annotations

from telemetry.contracts.events.envelope import MAX_EVENT_BYTES, CloudEvent, EventPayload

__all__ = ["MAX_EVENT_BYTES", "CloudEvent", "EventPayload"]
