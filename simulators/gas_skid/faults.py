"""Fault injection for the gas skid: what a scenario or a test can break, in one place.

Equipment faults act on the model (the PLC sees them as it would on site); communication
faults act on the OPC UA endpoint. Sensor ids are listed in ``sensors.py``.
"""

from __future__ import annotations

from typing import Literal, Protocol

from simulators.gas_skid.compressor import TripCode
from simulators.gas_skid.model import GasSkidModel


class _Endpoint(Protocol):
    response_delay_s: float

    async def go_offline(self) -> None: ...

    async def go_online(self) -> None: ...


class GasSkidFaults:
    def __init__(self, model: GasSkidModel, endpoint: _Endpoint | None = None) -> None:
        self.model = model
        self.endpoint = endpoint

    # --- equipment -------------------------------------------------------------------------------

    def compressor_trip(self, code: TripCode | int = TripCode.MOTOR_OVERLOAD) -> None:
        """Trip the compressor: state fault, ``FaultCode`` = code, until Reset."""
        self.model.trip_compressor(code)

    def dispenser_fault(self, kind: Literal["cng", "lng"], number: int, code: int = 1) -> None:
        """Put a dispenser in fault (a fill in progress ends with ``StopReason`` fault) until Reset."""
        if kind == "cng":
            self.model.fault_cng_dispenser(number, code)
        else:
            self.model.fault_lng_dispenser(number, code)

    def stuck_sensor(self, sensor: str, value: float | None = None) -> None:
        """Freeze a transmitter at ``value`` (default: its last reading); the PLC believes it."""
        self.model.sensors.stick(sensor, value)

    def sensor_failure(self, sensor: str) -> None:
        """A broken transmitter: its OPC UA value carries BadSensorFailure."""
        self.model.sensors.fail(sensor)

    def repair_sensor(self, sensor: str | None = None) -> None:
        self.model.sensors.repair(sensor)

    def lng_vacuum_loss(self) -> None:
        """The LNG tank's insulation vacuum fails: heat leak up to ``vacuum_loss_heat_factor`` x, fast rise."""
        self.model.lose_lng_vacuum()

    def restore_lng_vacuum(self) -> None:
        self.model.restore_lng_vacuum()

    # --- communication ---------------------------------------------------------------------------

    async def offline(self) -> None:
        """Stop the OPC UA endpoint (clients are dropped; the skid keeps running)."""
        await self._endpoint().go_offline()

    async def online(self) -> None:
        await self._endpoint().go_online()

    def slow_responses(self, delay_s: float) -> None:
        """Hold every client read, write and call for ``delay_s`` real seconds (0 = off)."""
        if delay_s < 0:
            raise ValueError("delay must be >= 0")
        self._endpoint().response_delay_s = delay_s

    def _endpoint(self) -> _Endpoint:
        if self.endpoint is None:
            raise RuntimeError("no OPC UA endpoint attached to these faults")
        return self.endpoint
