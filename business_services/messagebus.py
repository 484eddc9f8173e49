"""The message bus: hands each command to its one handler and each event to every handler of its type.

    bus = MessageBus(commands={SettleGap: settle_gap}, events={FuellingCompleted.TYPE: [record_fuelling]})
    async with UnitOfWork(conn, actor) as uow:
        result = await bus.handle(SettleGap(...), uow)

A handler is ``async def handler(message, uow) -> result``. A command is a frozen dataclass named as an
order (``SettleGap``) and is keyed by its class; an event is a ``CloudEvent`` (the wire contract of
``telemetry/contracts/events``) and is keyed by its ``type`` string, so the legacy and the current spelling
of one event can share a handler.

Events that a handler raises for other handlers of this process (``uow.raise_event(event)``) are handled
after it, one by one in the order raised, **in the same unit of work**: the command, its follow-ups and
every event they emit to the outbox commit together or not at all, so there is no half-done state to
repair. (Work that must survive on its own, or run later, goes to the outbox or to a ``procrastinate``
job instead.) A command without a handler is a programming error (``LookupError``); an event nobody
handles is fine and returns no result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from telemetry.contracts.events import CloudEvent

Handler = Callable[[Any, Any], Awaitable[Any]]


class RaisesEvents(Protocol):
    """What the bus needs of a unit of work: the events its handlers raised for local handlers."""

    def take_raised(self) -> list[CloudEvent]: ...


class MessageBus:
    def __init__(self, commands: Mapping[type, Handler] | None = None,
                 events: Mapping[str, Sequence[Handler]] | None = None) -> None:
        self.commands: dict[type, Handler] = dict(commands or {})
        self.events: dict[str, list[Handler]] = {kind: list(handlers) for kind, handlers in (events or {}).items()}

    def handles(self, message: object) -> bool:
        """Whether any handler here takes ``message`` (the consumer ignores event types nobody handles)."""
        if isinstance(message, CloudEvent):
            return bool(self.events.get(message.type))
        return type(message) in self.commands

    async def handle(self, message: object, uow: RaisesEvents) -> Any:
        """Handle ``message`` and then the events its handlers raised; returns the first handler's result
        (a command's answer, or the last result of an event's handlers)."""
        result = await self._dispatch(message, uow)
        await self.handle_raised(uow)
        return result

    async def handle_raised(self, uow: RaisesEvents) -> None:
        """Handle the events raised so far in ``uow`` and those their handlers raise (a route that calls a
        handler directly, not through ``handle``, calls this before its unit of work ends)."""
        queue = uow.take_raised()
        while queue:
            await self._dispatch(queue.pop(0), uow)
            queue.extend(uow.take_raised())

    async def _dispatch(self, message: object, uow: RaisesEvents) -> Any:
        if isinstance(message, CloudEvent):
            result = None
            for handler in self.events.get(message.type, ()):
                result = await handler(message, uow)
            return result
        command_handler = self.commands.get(type(message))
        if command_handler is None:
            raise LookupError(f"no handler for the command {type(message).__name__}")
        return await command_handler(message, uow)
