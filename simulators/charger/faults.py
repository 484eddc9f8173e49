"""Faults a scenario or a test can inject into a running charger simulator.

- network: ``go_offline`` / ``go_online`` (the websocket dies without a close frame and the charger
  stays away; transaction messages queue up), ``send_garbage`` (a non-OCPP text frame);
- answers to CSMS calls: ``slow_answers(delay_s)`` and ``refuse_csms_calls`` (CALLERROR InternalError);
- hardware: ``connector_fault`` / ``clear_connector_fault`` (status Faulted with a 1.6 error code;
  a running transaction ends) and ``power_loss`` / ``power_restore`` (transactions end with
  PowerLoss, the link drops, the charger boots again with reason PowerUp).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, TypeVar

from ocpp.exceptions import InternalError

from simulators.charger.dialect import BootReason
from simulators.charger.events import ErrorCode
from simulators.charger.model import ChargerModel
from simulators.clock import SimClock

_T = TypeVar("_T")

#: Default garbage frame: not JSON, so not an OCPP-J message at all.
GARBAGE_FRAME = "\x02\xff garbage, not OCPP-J \x03"


class FaultTarget(Protocol):
    """The parts of the simulator the faults act on."""

    @property
    def clock(self) -> SimClock: ...

    @property
    def model(self) -> ChargerModel: ...

    def mutate(self, change: Callable[[ChargerModel], _T]) -> _T: ...

    def drop_connection(self, *, abort: bool) -> None: ...

    def require_boot(self, reason: BootReason) -> None: ...

    async def send_raw(self, frame: str) -> bool: ...


class ChargerFaults:
    """Switches for the faults above; the simulator consults them, scenarios flip them."""

    def __init__(self, target: FaultTarget) -> None:
        self._target = target
        self.offline = False
        self.answer_delay_s = 0.0
        self.refuse_calls = False
        #: set while the charger may (re)connect: not offline and mains present
        self.link_allowed = asyncio.Event()
        self.link_allowed.set()

    # ---- network ---------------------------------------------------------------------------------
    def go_offline(self) -> None:
        """Network outage: drop the websocket without a close frame; no reconnect until go_online."""
        self.offline = True
        self._update_link()
        self._target.drop_connection(abort=True)

    def go_online(self) -> None:
        self.offline = False
        self._update_link()

    async def send_garbage(self, frame: str = GARBAGE_FRAME) -> bool:
        """Send one text frame that is not OCPP-J. False when not connected."""
        return await self._target.send_raw(frame)

    # ---- answers to CSMS calls -------------------------------------------------------------------
    def slow_answers(self, delay_s: float) -> None:
        """Answer every CSMS call ``delay_s`` simulated seconds late (0 = on time)."""
        if delay_s < 0:
            raise ValueError(f"delay must be >= 0, got {delay_s}")
        self.answer_delay_s = delay_s

    def refuse_csms_calls(self, refuse: bool = True) -> None:
        """Answer every CSMS call with CALLERROR InternalError."""
        self.refuse_calls = refuse

    async def before_answer(self, action: str) -> None:
        if self.answer_delay_s > 0:
            await self._target.clock.sleep(self.answer_delay_s)
        if self.refuse_calls:
            raise InternalError(description=f"simulated charger failure while handling {action}")

    # ---- hardware --------------------------------------------------------------------------------
    def connector_fault(self, connector_id: int, error_code: ErrorCode | str, info: str | None = None) -> None:
        code = ErrorCode(error_code)
        self._target.mutate(lambda m: m.inject_fault(connector_id, code, info))

    def clear_connector_fault(self, connector_id: int) -> None:
        self._target.mutate(lambda m: m.clear_fault(connector_id))

    def power_loss(self) -> None:
        """Mains lost: transactions end (PowerLoss, queued), the link drops until power_restore."""
        self._target.mutate(lambda m: m.power_off())
        self._target.require_boot(BootReason.POWER_UP)
        self._update_link()
        self._target.drop_connection(abort=True)

    def power_restore(self) -> None:
        self._target.mutate(lambda m: m.power_on())
        self._update_link()

    def _update_link(self) -> None:
        if not self.offline and self._target.model.powered:
            self.link_allowed.set()
        else:
            self.link_allowed.clear()
