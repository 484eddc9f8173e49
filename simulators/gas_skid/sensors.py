"""Pressure and level transmitters between the physics and the PLC: where a sensor sticks or fails.

Control logic (priority panel, dispenser end-of-fill) and the OPC UA values both read through a
``SensorBoard``, so a stuck transmitter misleads the PLC the way it would on site. Sensor ids:
``cascade.low|mid|high``, ``compressor.suction``, ``compressor.discharge``,
``cng_dispenser.<n>.pressure``, ``lng_tank.pressure``, ``lng_tank.level`` (n from 1).
"""

from __future__ import annotations

CASCADE_SENSORS = ("cascade.low", "cascade.mid", "cascade.high")
FIXED_SENSORS = (*CASCADE_SENSORS, "compressor.suction", "compressor.discharge", "lng_tank.pressure",
                 "lng_tank.level")


def cng_dispenser_sensor(number: int) -> str:
    return f"cng_dispenser.{number}.pressure"


class SensorBoard:
    """Readings of the skid's transmitters: the true value unless a fault overrides it."""

    def __init__(self, known: tuple[str, ...]) -> None:
        self.known = frozenset(known)
        self.stuck: dict[str, float] = {}
        self.failed: set[str] = set()
        self._last: dict[str, float] = {}

    def read(self, sensor: str, actual: float) -> float:
        """The transmitter's output: frozen if stuck, else the true value."""
        value = self.stuck.get(sensor, actual)
        self._last[sensor] = value
        return value

    def is_stuck(self, sensor: str) -> bool:
        return sensor in self.stuck

    def stick(self, sensor: str, value: float | None = None) -> None:
        """Freeze ``sensor`` at ``value`` (default: its last reading)."""
        self._check(sensor)
        self.stuck[sensor] = value if value is not None else self._last.get(sensor, 0.0)

    def fail(self, sensor: str) -> None:
        """Mark ``sensor`` broken: its OPC UA value turns BadSensorFailure."""
        self._check(sensor)
        self.failed.add(sensor)

    def repair(self, sensor: str | None = None) -> None:
        """Clear stuck and failed states of one sensor, or of all."""
        if sensor is None:
            self.stuck.clear()
            self.failed.clear()
        else:
            self.stuck.pop(sensor, None)
            self.failed.discard(sensor)

    def _check(self, sensor: str) -> None:
        if sensor not in self.known:
            raise KeyError(f"unknown sensor {sensor!r}; known: {sorted(self.known)}")
