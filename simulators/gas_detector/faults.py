"""Fault injection for a gas-detector line: what a scenario or a test can break.

Line faults change what goes on the wire for one unit (``UnitLineFaults``); sensor faults
change what the detector measures (delegated to ``DetectorModel``). ``GasDetectorFaults``
is the one entry point for both. The byte-level helpers at the bottom are pure.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerRTU

from simulators.gas_detector.model import DetectorModel


@dataclass
class UnitLineFaults:
    """What is wrong with one unit's answers; all off by default."""

    offline: bool = False
    reply_delay_s: float = 0.0
    corrupt_crc: bool = False
    garbage: bool = False
    exception_code: ExcCodes | None = None


class GasDetectorFaults:
    """Inject and clear faults on the detectors of one line, by unit id."""

    def __init__(self, models: Mapping[int, DetectorModel]) -> None:
        self._models = models
        self._line: dict[int, UnitLineFaults] = {unit: UnitLineFaults() for unit in models}

    def line(self, unit: int) -> UnitLineFaults:
        """The line faults of a unit (read by the responder on every request)."""
        self._check(unit)
        return self._line[unit]

    def _check(self, unit: int) -> None:
        if unit not in self._models:
            raise KeyError(f"no detector with unit id {unit} on this line")

    # ---- line faults ----------------------------------------------------------------------

    def offline(self, unit: int, on: bool = True) -> None:
        """The unit stops answering (the client times out)."""
        self.line(unit).offline = on

    def slow(self, unit: int, delay_s: float) -> None:
        """Answer ``delay_s`` real seconds late (0 restores); late answers still go out."""
        if delay_s < 0.0:
            raise ValueError("delay_s must be >= 0")
        self.line(unit).reply_delay_s = delay_s

    def corrupt_crc(self, unit: int, on: bool = True) -> None:
        """Answers carry a wrong CRC."""
        self.line(unit).corrupt_crc = on

    def garbage(self, unit: int, on: bool = True) -> None:
        """Answers are replaced by random bytes of the same length."""
        self.line(unit).garbage = on

    def exception(self, unit: int, code: ExcCodes | int | None = ExcCodes.DEVICE_FAILURE) -> None:
        """Every request is answered with this Modbus exception code (None restores)."""
        self.line(unit).exception_code = None if code is None else ExcCodes(code)

    def power_off(self, unit: int) -> None:
        """Power loss: silent until ``power_on``."""
        self.offline(unit, True)

    def power_on(self, unit: int) -> None:
        """Power restored: answers again, warm-up starts over, alarms are cleared."""
        self.offline(unit, False)
        self._models[unit].power_cycle()

    # ---- sensor faults --------------------------------------------------------------------

    def sensor_fault(self, unit: int, on: bool = True) -> None:
        self._check(unit)
        self._models[unit].set_sensor_fault(on)

    def probe_out(self, unit: int, on: bool = True) -> None:
        self._check(unit)
        self._models[unit].set_probe_out(on)

    def stuck_sensor(self, unit: int, on: bool = True) -> None:
        self._check(unit)
        self._models[unit].set_stuck(on)

    def clear(self, unit: int | None = None) -> None:
        """Clear every line and sensor fault of one unit, or of all units."""
        for each in (unit,) if unit is not None else tuple(self._models):
            self._check(each)
            self._line[each] = UnitLineFaults()
            model = self._models[each]
            model.set_sensor_fault(False)
            model.set_probe_out(False)
            model.set_stuck(False)


def with_bad_crc(frame: bytes) -> bytes:
    """The same RTU frame with its CRC inverted (so it can never check)."""
    return frame[:-2] + bytes(b ^ 0xFF for b in frame[-2:])


def garbage_like(frame: bytes, rng: random.Random) -> bytes:
    """Random bytes as long as ``frame`` whose last two bytes are not a valid CRC."""
    body = bytes(rng.randrange(256) for _ in range(max(0, len(frame) - 2)))
    crc = FramerRTU.compute_CRC(body) ^ 0x5A5A
    return body + crc.to_bytes(2, "big")
