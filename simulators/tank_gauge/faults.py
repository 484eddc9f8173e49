"""Fault injection for the tank gauge: line faults on the answers, probe faults on a tank.

``LineFaults`` is pure state that shapes each outgoing answer (the server asks it); the tank
faults live on ``model.Tank``. ``TankGaugeFaults`` is the one object a scenario or a test uses:

- ``offline()``: the console reads commands and never answers;
- ``slow(delay_s)``: every answer starts ``delay_s`` real seconds late (``ESC`` can abort it);
- ``corrupt_checksum(n)``: the next ``n`` computer-format answers carry a wrong ``CCCC``;
- ``garbage(n)``: the next ``n`` answers are replaced by random bytes with no SOH or ETX;
- ``truncate(n)``: the next ``n`` answers are cut short before their ETX;
- ``probe_out(tank)``, ``stuck_level(tank)``, ``leak(tank, l_per_h)``: see ``model.Tank``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from simulators.tank_gauge.codec import DATA_END, ETX, SOH
from simulators.tank_gauge.console import Console


class LineFaults:
    """Faults on the serial/TCP line, applied answer by answer."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.offline = False
        self.slow_answer_s = 0.0
        self._corrupt_left = 0
        self._garbage_left = 0
        self._truncate_left = 0

    def clear(self) -> None:
        self.offline = False
        self.slow_answer_s = 0.0
        self._corrupt_left = self._garbage_left = self._truncate_left = 0

    def corrupt_checksum(self, answers: int = 1) -> None:
        self._corrupt_left += _count(answers)

    def garbage(self, answers: int = 1) -> None:
        self._garbage_left += _count(answers)

    def truncate(self, answers: int = 1) -> None:
        self._truncate_left += _count(answers)

    def shape(self, answer: bytes) -> bytes | None:
        """What actually goes on the line for ``answer``: None when offline, else the (maybe
        spoiled) bytes. Each answer uses up at most one fault: garbage, then truncate, then a
        corrupt checksum (only answers that have one: computer format, not ``9999FF1B``)."""
        if self.offline:
            return None
        if self._garbage_left:
            self._garbage_left -= 1
            junk = [self._rng.randrange(4, 256) for _ in range(self._rng.randrange(8, 48))]
            return bytes(junk)
        if self._truncate_left:
            self._truncate_left -= 1
            return answer[: self._rng.randrange(2, max(len(answer) - 1, 3))]
        end = answer.rfind(DATA_END)
        if self._corrupt_left and answer[:1] == bytes([SOH]) and end > 0 and answer[-1] == ETX:
            self._corrupt_left -= 1
            sent = int(answer[end + 2 : end + 6], 16)
            return answer[: end + 2] + f"{(sent + 1) & 0xFFFF:04X}".encode("ascii") + bytes([ETX])
        return answer


def _count(answers: int) -> int:
    if answers < 1:
        raise ValueError("answers must be ≥ 1")
    return answers


class TankGaugeFaults:
    """All faults of one gauge. ``sync`` brings the model up to the clock before a tank fault."""

    def __init__(self, line: LineFaults, console: Console, sync: Callable[[], None]) -> None:
        self.line = line
        self._console = console
        self._sync = sync

    def offline(self, on: bool = True) -> None:
        self.line.offline = on

    def slow(self, delay_s: float) -> None:
        if delay_s < 0:
            raise ValueError("delay_s must be ≥ 0")
        self.line.slow_answer_s = delay_s

    def corrupt_checksum(self, answers: int = 1) -> None:
        self.line.corrupt_checksum(answers)

    def garbage(self, answers: int = 1) -> None:
        self.line.garbage(answers)

    def truncate(self, answers: int = 1) -> None:
        self.line.truncate(answers)

    def probe_out(self, tank: int, on: bool = True) -> None:
        self._sync()
        self._console.tank(tank).set_probe_out(on)

    def stuck_level(self, tank: int, on: bool = True) -> None:
        self._sync()
        self._console.tank(tank).set_stuck_level(on)

    def leak(self, tank: int, l_per_h: float) -> None:
        self._sync()
        self._console.tank(tank).set_leak(l_per_h)

    def clear(self) -> None:
        """Line faults off, every probe back in and free, every leak stopped."""
        self._sync()
        self.line.clear()
        for tank in self._console.tanks.values():
            tank.set_probe_out(False)
            tank.set_stuck_level(False)
            tank.set_leak(0.0)
