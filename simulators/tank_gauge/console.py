"""The TLS console (pure): its tanks, its local clock, and the answer to each command.

Both transports (TCP and the serial line) hand every command to one ``Console`` and write back
the bytes it returns; the server keeps it stepped to the simulation clock. Commands answered:

=========  ===========================================================================
``i101``   system status (``AA NN TT`` alarm triples, ``000000`` when all is normal)
``i201``   in-tank inventory (``I201`` display format too)
``i202``   delivery reports (``I202`` display format too)
``i203``   last finished in-tank leak test of each tank
``i205``   active tank alarms
``i206``   tank alarm history
``i501``   console time of day; ``s501YYMMDDHHmm`` sets it (within a day of UTC)
``i902``   software revision
=========  ===========================================================================

Anything else, a tank that does not exist, or a system command with ``TT`` ≠ 00 gets
``SOH 9999FF1B ETX``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from simulators.tank_gauge import display, reports
from simulators.tank_gauge.codec import (
    UNKNOWN_COMMAND,
    build_computer_frame,
    build_display_frame,
    decode_timestamp,
    encode_timestamp,
)
from simulators.tank_gauge.commands import BadCommand, Command
from simulators.tank_gauge.config import TankGaugeConfig
from simulators.tank_gauge.errors import MalformedFrameError, UnknownTankError
from simulators.tank_gauge.model import Tank
from simulators.tank_gauge.records import ALARM_CATEGORY_TANK, SystemAlarm

_Handler = Callable[[Command, list[Tank]], bytes]
_MAX_OFFSET = timedelta(hours=23, minutes=59)


class Console:
    """A TLS-350-like console holding the station's tanks."""

    def __init__(self, config: TankGaugeConfig, *, start: datetime, rng: random.Random | None = None) -> None:
        self.config = config
        rng = rng if rng is not None else random.Random(config.seed)
        self.tanks: dict[int, Tank] = {
            tank.number: Tank(tank, rng, start=start, step_s=config.model_step_s)
            for tank in sorted(config.tanks, key=lambda tank: tank.number)
        }
        self.tz = timezone(timedelta(hours=config.utc_offset_h))
        self._now = start
        self._handlers: dict[tuple[str, str], _Handler] = {
            ("i", "101"): self._system_status,
            ("i", "201"): self._inventory,
            ("I", "201"): self._inventory_display,
            ("i", "202"): self._deliveries,
            ("I", "202"): self._deliveries_display,
            ("i", "203"): self._leak_tests,
            ("i", "205"): self._tank_alarms,
            ("i", "206"): self._alarm_history,
            ("i", "501"): self._time_of_day,
            ("s", "501"): self._set_time_of_day,
            ("i", "902"): self._software_revision,
        }

    @property
    def now(self) -> datetime:
        return self._now

    def tank(self, number: int) -> Tank:
        try:
            return self.tanks[number]
        except KeyError:
            raise UnknownTankError(f"no tank {number} on this console (tanks {sorted(self.tanks)})") from None

    def advance(self, dt: float, now: datetime) -> None:
        """Step every tank ``dt`` simulated seconds, to ``now``."""
        for tank in self.tanks.values():
            tank.advance(dt, now)
        self._now = now

    def answer(self, event: Command | BadCommand) -> bytes:
        """The complete answer frame to one command (``9999FF1B`` when not understood)."""
        if isinstance(event, BadCommand):
            return UNKNOWN_COMMAND
        handler = self._handlers.get((event.function_code[0], event.code))
        if handler is None:
            return UNKNOWN_COMMAND
        if event.tank == 0:
            selected = list(self.tanks.values())
        elif event.tank in self.tanks:
            selected = [self.tanks[event.tank]]
        else:
            return UNKNOWN_COMMAND
        return handler(event, selected)

    # ---- computer format ----------------------------------------------------------------------

    def _frame(self, command: Command, data: str) -> bytes:
        return build_computer_frame(command.function_code, encode_timestamp(self._now, self.tz) + data)

    def _system_status(self, command: Command, tanks: list[Tank]) -> bytes:
        alarms = [SystemAlarm(ALARM_CATEGORY_TANK, int(alarm), tank.number)
                  for tank in tanks for alarm in sorted(tank.alarms)]
        return self._frame(command, reports.encode_system_status(alarms))

    def _inventory(self, command: Command, tanks: list[Tank]) -> bytes:
        return self._frame(command, reports.encode_inventory([tank.reading() for tank in tanks]))

    def _deliveries(self, command: Command, tanks: list[Tank]) -> bytes:
        rows = [(tank.number, tank.config.product_code, list(tank.deliveries)) for tank in tanks]
        return self._frame(command, reports.encode_deliveries(rows, self.tz))

    def _leak_tests(self, command: Command, tanks: list[Tank]) -> bytes:
        results = [tank.last_leak_test for tank in tanks if tank.last_leak_test is not None]
        return self._frame(command, reports.encode_leak_tests(results, self.tz))

    def _tank_alarms(self, command: Command, tanks: list[Tank]) -> bytes:
        rows = [(tank.number, [int(alarm) for alarm in sorted(tank.alarms)]) for tank in tanks]
        return self._frame(command, reports.encode_tank_alarms(rows))

    def _alarm_history(self, command: Command, tanks: list[Tank]) -> bytes:
        rows = [(tank.number, list(tank.alarm_history)) for tank in tanks]
        return self._frame(command, reports.encode_alarm_history(rows, self.tz))

    def _time_of_day(self, command: Command, tanks: list[Tank]) -> bytes:
        return self._frame(command, "") if command.tank == 0 else UNKNOWN_COMMAND

    def _set_time_of_day(self, command: Command, tanks: list[Tank]) -> bytes:
        if command.tank != 0:
            return UNKNOWN_COMMAND
        try:
            wanted = decode_timestamp(command.data, UTC)
        except MalformedFrameError:
            return UNKNOWN_COMMAND
        offset = wanted.replace(tzinfo=None) - self._now.astimezone(UTC).replace(tzinfo=None)
        offset = timedelta(minutes=round(offset.total_seconds() / 60.0))
        if abs(offset) > _MAX_OFFSET:
            return UNKNOWN_COMMAND
        self.tz = timezone(offset)
        return self._frame(command, "")

    def _software_revision(self, command: Command, tanks: list[Tank]) -> bytes:
        if command.tank != 0:
            return UNKNOWN_COMMAND
        created = encode_timestamp(self._now, self.tz)
        revision = f"SOFTWARE# {self.config.software_revision} CREATED - {created[:2]}.{created[2:4]}.{created[4:6]}"
        return self._frame(command, revision)

    # ---- display format -----------------------------------------------------------------------

    def _inventory_display(self, command: Command, tanks: list[Tank]) -> bytes:
        rows = [(tank.reading(), tank.config.label) for tank in tanks]
        lines = display.inventory_lines(self._now, self.tz, self.config.station_header, rows)
        return build_display_frame(command.function_code, lines)

    def _deliveries_display(self, command: Command, tanks: list[Tank]) -> bytes:
        rows = [(tank.number, tank.config.label, list(tank.deliveries)) for tank in tanks]
        lines = display.delivery_lines(self._now, self.tz, self.config.station_header, rows)
        return build_display_frame(command.function_code, lines)
