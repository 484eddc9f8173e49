"""What the OCPP 1.6 and 2.0.1 dialects share: queued messages, the charger-control seam, helpers.

A dialect turns model events into ``Outgoing`` messages (built lazily, so a 1.6 message can pick up
a transactionId that arrived after it was queued) and answers CSMS calls through a
``ChargerControl`` (implemented by the simulator). Nothing here opens a socket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar, cast

from ocpp.routing import after as _after
from ocpp.routing import on as _on

from simulators.charger.events import ChargerEvent
from simulators.charger.model import ChargerModel
from simulators.charger.settings import ChargerSettings

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


def on(action: str) -> Callable[[_F], _F]:
    """Typed ``ocpp.routing.on``: mark a method as the handler of a CSMS-initiated action."""
    return cast(Callable[[_F], _F], _on(action))


def after(action: str) -> Callable[[_F], _F]:
    """Typed ``ocpp.routing.after``: run a method once the answer to ``action`` has been sent."""
    return cast(Callable[[_F], _F], _after(action))


def iso(moment: datetime) -> str:
    """OCPP timestamp: UTC, millisecond precision, ``Z`` suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BootReason(StrEnum):
    """Why the charger (re)booted (OCPP 2.0.1 BootReasonEnumType; 1.6 has no field for it)."""

    POWER_UP = "PowerUp"
    REMOTE_RESET = "RemoteReset"


@dataclass(eq=False)
class Outgoing:
    """A charger-initiated CALL waiting in the outbox.

    ``build`` makes the ``ocpp`` call dataclass at send time (None: nothing to send any more);
    ``on_result`` gets the call_result, ``on_failure`` runs when the message is given up.
    ``transactional`` messages are retried and never dropped on a disconnect; ``status_key`` lets
    a newer status of the same connector replace an unsent one.
    """

    action: str
    build: Callable[[], Any]
    on_result: Callable[[Any], None] | None = None
    on_failure: Callable[[], None] | None = None
    transactional: bool = False
    status_key: int | None = None
    attempts: int = 0


@dataclass(frozen=True)
class BootOutcome:
    accepted: bool
    interval_s: int


class ChargerControl(Protocol):
    """What the dialects' CSMS-call handlers may do to the charger."""

    @property
    def model(self) -> ChargerModel: ...

    @property
    def settings(self) -> ChargerSettings: ...

    @property
    def online(self) -> bool:
        """Connected and boot accepted (2.0.1 flags events that happened otherwise as offline)."""
        ...

    def mutate(self, change: Callable[[ChargerModel], _T]) -> _T:
        """Step the model to now, apply ``change`` and queue the messages its events cause."""
        ...

    def request_reset(self, *, hard: bool, when_idle: bool) -> None: ...

    async def before_answer(self, action: str) -> None:
        """Fault hook run before a CSMS call is handled (delay; raise an OCPPError to refuse)."""
        ...


class Dialect(Protocol):
    """One OCPP version as seen from the charge point."""

    subprotocol: str

    def charge_point(self, connection: Any) -> Any: ...

    async def boot(self, cp: Any, reason: BootReason) -> BootOutcome: ...

    async def heartbeat(self, cp: Any) -> None: ...

    def authorize_request(self, id_tag: str) -> Any: ...

    def authorize_accepted(self, result: Any) -> bool: ...

    def messages_for(self, event: ChargerEvent) -> list[Outgoing]: ...

    def boot_statuses(self) -> list[Outgoing]:
        """StatusNotification of every connector, sent after each accepted boot."""
        ...


class AnswerHooks:
    """Mixed into the ``ocpp`` ChargePoint subclasses: applies answer faults before any handler."""

    _control: ChargerControl

    async def _handle_call(self, msg: Any) -> Any:
        await self._control.before_answer(str(msg.action))
        return await super()._handle_call(msg)  # type: ignore[misc]
