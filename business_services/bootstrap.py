"""Wires the business plane for one process: the message bus with every context's handlers, and the outbox
publisher with a real sink (MQTT) or a fake one (in memory, for tests).

    bus = build_bus()                                          # every context's handlers
    publisher = outbox_publisher(database_url, MqttSink(broker, client_id))   # forecourt/services.py
    publisher = outbox_publisher(database_url, MemorySink())   # a test: what would have gone to MQTT

A new context adds its ``handlers`` module to ``CONTEXTS`` when both roles run it, else to its role in
``forecourt/roles.py`` (docs/how-to/add-a-business-domain.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import ModuleType

from business_services.equipment import handlers as equipment
from business_services.fuelling import handlers as fuelling
from business_services.gas import handlers as gas
from business_services.messagebus import Handler, MessageBus
from business_services.outbox import OutboxPublisher, OutboxSink, Send
from business_services.stations import handlers as stations

#: the contexts on both roles' buses; each role adds its own (forecourt/roles.py)
CONTEXTS: tuple[ModuleType, ...] = (fuelling, gas, stations,
                                     equipment)


def build_bus(contexts: tuple[ModuleType, ...] = CONTEXTS) -> MessageBus:
    """A bus with each context's ``EVENT_HANDLERS`` and ``COMMAND_HANDLERS``; a command handled twice is a
    wiring mistake and fails here, at start."""
    commands: dict[type, Handler] = {}
    events: dict[str, list[Handler]] = {}
    for context in contexts:
        for command, handler in context.COMMAND_HANDLERS.items():
            if command in commands:
                raise ValueError(f"two handlers for the command {command.__name__}")
            commands[command] = handler
        for event_type, handlers in context.EVENT_HANDLERS.items():
            events.setdefault(event_type, []).extend(handlers)
    return MessageBus(commands, events)


def outbox_publisher(database_url: str, sink: OutboxSink, poll_s: float = 1.0) -> OutboxPublisher:
    return OutboxPublisher(database_url, sink, poll_s=poll_s)


class MemorySink:
    """A fake sink: keeps what would have been published, in order (``sent``); ``fail`` makes the next sends
    raise ``ConnectionError`` (a broker outage) until it is cleared."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.fail = False

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[Send]:
        async def send(topic: str, body: bytes) -> None:
            if self.fail:
                raise ConnectionError("the fake broker is down")
            self.sent.append((topic, body))

        yield send
